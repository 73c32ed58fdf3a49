//! NSD, the authoritative server, run for one zone as a primary or as a secondary.
//!
//! The configuration is written from [`NsdConfig`] into the test's directory (zone files, state,
//! logs all stay there): NSD runs in the foreground (`-d`) as the test's child, unprivileged, on
//! 127.0.0.1 only, and is killed when [`Nsd`] drops.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::daemon::KilledOnDrop;
use crate::dig::dig;
use crate::programs::find_program;

/// A TSIG key (hmac-sha256, RFC 8945) shared by NSD and its transfer partner.
#[derive(Debug, Clone)]
pub struct TsigKey {
    /// The key's name, e.g. `xfr-key`.
    pub name: String,
    /// The secret in base64.
    pub secret: String,
}

/// What NSD does for its zone.
#[derive(Debug, Clone)]
pub enum Role {
    /// Serves the zone file; with `provide_xfr`, gives transfers to 127.0.0.1 signed with that key.
    Primary {
        /// The TSIG key transfers must be signed with (`provide-xfr: 127.0.0.1 KEY`).
        provide_xfr: Option<String>,
    },
    /// Transfers the zone from the primary at `127.0.0.1:primary_port` and accepts its NOTIFYs
    /// (`request-xfr`, `allow-notify`), both signed with `key`, or unsigned (`NOKEY`) without.
    Secondary {
        /// The primary's port on 127.0.0.1.
        primary_port: u16,
        /// The TSIG key of both.
        key: Option<String>,
    },
}

/// NSD authoritative for one zone on `127.0.0.1:port`.
#[derive(Debug, Clone)]
pub struct NsdConfig {
    /// Port on 127.0.0.1 (UDP and TCP).
    pub port: u16,
    /// The zone's name, e.g. `example.`.
    pub zone: String,
    /// Zone file, relative to NSD's directory (a secondary writes it).
    pub zonefile: String,
    /// Primary or secondary.
    pub role: Role,
    /// `key:` clauses.
    pub keys: Vec<TsigKey>,
}

impl NsdConfig {
    /// `nsd.conf` with every file NSD keeps in `dir`.
    pub fn text(&self, dir: &Path) -> String {
        let d = dir.display();
        let mut text = format!(
            r#"server:
    ip-address: 127.0.0.1@{port}
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{d}"
    pidfile: "{d}/nsd.pid"
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    database: ""
    logfile: "{d}/nsd.log"
    verbosity: 2
remote-control:
    control-enable: no
"#,
            port = self.port
        );
        for key in &self.keys {
            let _ = write!(text, "key:\n    name: \"{}\"\n    algorithm: hmac-sha256\n    secret: \"{}\"\n", key.name, key.secret);
        }
        let _ = write!(text, "zone:\n    name: \"{}\"\n    zonefile: \"{}\"\n", self.zone, self.zonefile);
        match &self.role {
            Role::Primary { provide_xfr: None } => {}
            Role::Primary { provide_xfr: Some(key) } => {
                let _ = writeln!(text, "    provide-xfr: 127.0.0.1 {key}");
            }
            Role::Secondary { primary_port, key } => {
                let key = key.as_deref().unwrap_or("NOKEY");
                let _ = write!(text, "    request-xfr: 127.0.0.1@{primary_port} {key}\n    allow-notify: 127.0.0.1 {key}\n");
            }
        }
        text
    }
}

/// A running NSD, killed on drop.
pub struct Nsd {
    daemon: KilledOnDrop,
    dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
    zone: String,
}

impl Nsd {
    /// Writes `dir/nsd.conf` from `config` and starts NSD on it (output in `dir/nsd.out`, log in
    /// `dir/nsd.log`). Does not wait: a secondary answers only once it has the zone.
    pub fn start(dir: &Path, config: &NsdConfig) -> Nsd {
        let conf = dir.join("nsd.conf");
        std::fs::write(&conf, config.text(dir)).expect("write nsd.conf");
        let mut cmd = Command::new(find_program("nsd").expect("nsd is installed"));
        cmd.arg("-d").arg("-c").arg(&conf);
        let daemon = KilledOnDrop::spawn("nsd", cmd, &dir.join("nsd.out"));
        Nsd { daemon, dir: dir.to_path_buf(), port: config.port, zone: config.zone.clone() }
    }

    /// Waits until NSD answers authoritatively (NOERROR, AA) for its zone's SOA; panics with
    /// `context` and NSD's logs after `limit`, or at once when NSD has exited.
    pub fn wait_serving(&mut self, limit: Duration, context: impl Fn() -> String) {
        let deadline = Instant::now() + limit;
        loop {
            self.daemon.assert_running();
            let a = dig(self.port, &self.zone, "SOA", false);
            if a.status == "NOERROR" && a.aa() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "NSD did not serve {} within {} s (last answer status {}); logs:\n{}{}",
                self.zone,
                limit.as_secs(),
                a.status,
                self.logs(),
                context()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Panics with NSD's log when it has exited.
    pub fn assert_running(&mut self) {
        self.daemon.assert_running();
    }

    /// NSD's output and log, for failure messages.
    pub fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!("--- nsd.out ---\n{}--- nsd.log ---\n{}", read("nsd.out"), read("nsd.log"))
    }
}
