//! Producing signed zones: with `frostzone simulate`, or with ldns-signzone as a control that
//! proves a harness works independently of frostzone.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::programs::{describe, run, run_ok};
use crate::{frostzone_bin, Denial};

/// A signed zone in its own temporary directory.
pub struct SignedZoneDir {
    /// Holds the files; removed on drop.
    pub dir: tempfile::TempDir,
    /// The signed zone file.
    pub zone: PathBuf,
    /// A file holding the DS record for the KSK (`ORIGIN. TTL IN DS tag 15 2 HEX`).
    pub ds: PathBuf,
    /// The zone's origin, with the trailing dot.
    pub origin: String,
    /// What produced it, for messages.
    pub label: String,
}

impl SignedZoneDir {
    /// The DS record line (trimmed).
    pub fn ds_line(&self) -> String {
        std::fs::read_to_string(&self.ds)
            .expect("read DS file")
            .lines()
            .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with(';'))
            .expect("DS file holds a record")
            .trim()
            .to_string()
    }
}

/// Options for one `frostzone simulate` run.
#[derive(Debug, Clone)]
pub struct Simulate {
    /// Unsigned zone file.
    pub zone: PathBuf,
    /// Origin with trailing dot.
    pub origin: String,
    /// Threshold t.
    pub threshold: u16,
    /// Participants n.
    pub signers: u16,
    /// Denial mode.
    pub denial: Denial,
    /// One combined signing key (flags 257) instead of KSK + ZSK.
    pub csk: bool,
    /// Ed25519 `.private` key to split instead of running a DKG.
    pub import_key: Option<PathBuf>,
}

impl Simulate {
    /// 2-of-3, NSEC3, KSK + ZSK, over `zone`.
    pub fn new(zone: impl Into<PathBuf>, origin: &str) -> Self {
        Simulate {
            zone: zone.into(),
            origin: origin.to_string(),
            threshold: 2,
            signers: 3,
            denial: Denial::Nsec3,
            csk: false,
            import_key: None,
        }
    }

    /// The command that signs into `out` / `ds_out` (not yet run).
    pub fn command(&self, out: &Path, ds_out: &Path) -> Command {
        let mut cmd = Command::new(frostzone_bin());
        cmd.arg("simulate")
            .arg(&self.zone)
            .args(["--origin", &self.origin])
            .args(["--threshold", &self.threshold.to_string()])
            .args(["--signers", &self.signers.to_string()])
            .arg("--out")
            .arg(out)
            .arg("--ds-out")
            .arg(ds_out)
            .args(self.denial.simulate_flags());
        if self.csk {
            cmd.arg("--csk");
        }
        if let Some(key) = &self.import_key {
            cmd.arg("--import-key").arg(key);
        }
        cmd
    }

    /// Runs it and returns the raw output (for error-path tests).
    pub fn run_raw(&self, dir: &Path) -> (Output, PathBuf, PathBuf) {
        let out = dir.join("signed.zone");
        let ds = dir.join("ds.txt");
        let output = run(&mut self.command(&out, &ds));
        (output, out, ds)
    }

    /// Runs it, asserting exit 0 and that both output files exist.
    pub fn sign(&self) -> SignedZoneDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("signed.zone");
        let ds = dir.path().join("ds.txt");
        let mut cmd = self.command(&out, &ds);
        let output = run(&mut cmd);
        assert!(output.status.success(), "{}", describe(&cmd, &output));
        assert!(out.is_file(), "{cmd:?} exited 0 but wrote no {}", out.display());
        assert!(ds.is_file(), "{cmd:?} exited 0 but wrote no {}", ds.display());
        SignedZoneDir {
            dir,
            zone: out,
            ds,
            origin: self.origin.clone(),
            label: format!(
                "frostzone simulate {}-of-{} {}{}",
                self.threshold,
                self.signers,
                self.denial.name(),
                if self.csk { " --csk" } else { "" }
            ),
        }
    }
}

/// Runs `frostzone verify SIGNED --ds DS`; panics with its report unless it exits 0.
pub fn frostzone_verify(signed: &SignedZoneDir) -> Output {
    let mut cmd = Command::new(frostzone_bin());
    cmd.arg("verify").arg(&signed.zone).arg("--ds").arg(&signed.ds);
    run_ok(&mut cmd)
}

/// Makes an Ed25519 key with `ldns-keygen` in `dir`; returns its base path (`Kname.+015+tag`).
pub fn ldns_keygen(dir: &Path, origin: &str, ksk: bool) -> PathBuf {
    let mut cmd = Command::new("ldns-keygen");
    cmd.current_dir(dir).args(["-a", "ED25519"]);
    if ksk {
        cmd.arg("-k");
    }
    cmd.arg(origin);
    let out = run_ok(&mut cmd);
    let base = String::from_utf8_lossy(&out.stdout).trim().to_string();
    dir.join(base)
}

/// The DS (SHA-256) ldns computes from a `.key` file, as one normalised line.
pub fn ldns_ds(key_file: &Path) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new("ldns-key2ds");
    cmd.current_dir(dir.path()).args(["-n", "-2"]).arg(key_file);
    let out = run_ok(&mut cmd);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Signs `zone` with ldns-signzone and fresh ldns keys: the control signer for harness tests.
///
/// ldns 1.8 prints a label starting with `@` unescaped, which it and Knot then misread; the
/// output is patched to escape it, so the control zone is what ldns meant to write.
pub fn ldns_sign(zone: &Path, origin: &str, denial: Denial) -> SignedZoneDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let zsk = ldns_keygen(dir.path(), origin, false);
    let ksk = ldns_keygen(dir.path(), origin, true);
    let raw = dir.path().join("ldns.signed");
    let mut cmd = Command::new("ldns-signzone");
    match denial {
        Denial::Nsec => {}
        Denial::Nsec3 => {
            cmd.args(["-n", "-t", "0"]);
        }
        Denial::Nsec3OptOut => {
            cmd.args(["-n", "-t", "0", "-p"]);
        }
    }
    cmd.args(["-o", origin]).arg("-f").arg(&raw).arg(zone).arg(&zsk).arg(&ksk);
    run_ok(&mut cmd);
    let text = std::fs::read_to_string(&raw).expect("read ldns output");
    let patched: String = text
        .lines()
        .map(|l| {
            let l = if l.starts_with('@') { format!("\\{l}") } else { l.to_string() };
            l.replace("\t@", "\t\\@") + "\n"
        })
        .collect();
    let signed = dir.path().join("signed.zone");
    std::fs::write(&signed, patched).expect("write patched zone");
    let ds = dir.path().join("ds.txt");
    let mut key = ksk.into_os_string();
    key.push(".key");
    std::fs::write(&ds, ldns_ds(Path::new(&key)) + "\n").expect("write DS");
    SignedZoneDir {
        dir,
        zone: signed,
        ds,
        origin: origin.to_string(),
        label: format!("ldns-signzone {}", denial.name()),
    }
}
