//! A local cluster for `quickstart`: the coordinator's and signers' config
//! files (the formats the daemons read), and the child processes, which
//! are killed and reaped when [`Processes`] is dropped.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};
use serde::Serialize;

/// The config format version the daemons read.
const CONFIG_VERSION: u32 = 1;

/// `coordinator.toml`. Paths are relative to the file's directory.
#[derive(Serialize)]
pub struct CoordinatorConfig {
    pub version: u32,
    pub listen: String,
    pub data_dir: String,
    pub threshold: u16,
    pub tls: TlsSection,
    pub operators: Vec<OperatorEntry>,
    pub signers: Vec<SignerEntry>,
    pub metrics: MetricsSection,
}

/// `[metrics]` of either daemon: plain HTTP on loopback, for `curl` and a
/// local Prometheus.
#[derive(Serialize)]
pub struct MetricsSection {
    pub listen: String,
    pub plain_http: bool,
}

/// A daemon's metrics port is its service port plus this.
pub const METRICS_PORT_OFFSET: u16 = 100;

/// `[tls]` of either daemon.
#[derive(Serialize)]
pub struct TlsSection {
    pub ca: String,
    pub cert: String,
    pub key: String,
    /// Signers only: the coordinator certificate they pin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coordinator_cert: Option<String>,
}

/// `[[operators]]`: a client certificate the coordinator accepts.
#[derive(Serialize)]
pub struct OperatorEntry {
    pub name: String,
    pub cert: String,
}

/// `[[signers]]`: a signer the coordinator calls.
#[derive(Serialize)]
pub struct SignerEntry {
    pub name: String,
    pub participant: u16,
    pub endpoint: String,
}

/// `signer-K.toml`.
#[derive(Serialize)]
pub struct SignerNodeToml {
    pub version: u32,
    pub name: String,
    pub participant: u16,
    pub listen: String,
    pub data_dir: String,
    pub passphrase_file: String,
    /// Every participant and t (`roster.toml`, written once every signer
    /// made its identity key: [`Layout::write_roster`]).
    pub roster: String,
    /// The operator's policy file (`signer-K/policy.toml`).
    pub policy: String,
    pub tls: TlsSection,
    pub metrics: MetricsSection,
}

/// The policy file quickstart gives each signer: nobody is at the signers
/// of a demo cluster to approve its key ceremonies or its first
/// publication (a DNSKEY change), so every change is approved by policy.
pub const DEMO_POLICY: &str = "\
# Written by frostzone quickstart for a demo cluster, where no operator is at
# the signers to approve anything: key ceremonies (DKG, import, removal) and
# every change, key changes (DNSKEY, CDS, CDNSKEY) and DS changes included,
# are approved by policy.
#
# Production keeps the default [approval] (key_changes and key_ceremonies =
# \"operator\" and the default limits), so that this signer's operator
# reviews key ceremonies, key changes and large changes and approves them
# with `frostzone approve`.
version = 1

[approval]
key_changes = \"auto\"
key_ceremonies = \"auto\"
max_rrsets_changed = 100000000
max_names_added = 100000000
max_names_removed = 100000000
max_ds_changed = 100000000
";

/// The layout of a loopback cluster in one directory, as `certs init`
/// names the certificates.
pub struct Layout {
    pub dir: PathBuf,
    pub signers: u16,
    pub threshold: u16,
    pub base_port: u16,
}

impl Layout {
    /// The coordinator's address.
    pub fn coordinator_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.base_port))
    }

    /// Signer `k`'s (1-based) address.
    pub fn signer_addr(&self, k: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.base_port + k))
    }

    /// Where the daemon serving on `service` serves its metrics.
    pub fn metrics_addr(service: SocketAddr) -> SocketAddr {
        SocketAddr::new(service.ip(), service.port().saturating_add(METRICS_PORT_OFFSET))
    }

    /// The coordinator's URL for clients.
    pub fn coordinator_url(&self) -> String {
        format!("https://{}", self.coordinator_addr())
    }

    /// `coordinator.toml`'s path.
    pub fn coordinator_config(&self) -> PathBuf {
        self.dir.join("coordinator.toml")
    }

    /// `signer-K.toml`'s path.
    pub fn signer_config(&self, k: u16) -> PathBuf {
        self.dir.join(format!("signer-{k}.toml"))
    }

    /// Fails, naming the port, when any port of the cluster is taken.
    pub fn check_ports_free(&self) -> anyhow::Result<()> {
        if usize::from(self.base_port) + usize::from(self.signers) + usize::from(METRICS_PORT_OFFSET) > usize::from(u16::MAX) {
            bail!("--base-port {} leaves no room for {} ports and their metrics ports (+{METRICS_PORT_OFFSET})", self.base_port, self.signers + 1);
        }
        let services: Vec<SocketAddr> = std::iter::once(self.coordinator_addr()).chain((1..=self.signers).map(|k| self.signer_addr(k))).collect();
        let addrs = services.iter().copied().chain(services.iter().map(|a| Layout::metrics_addr(*a)));
        for addr in addrs {
            TcpListener::bind(addr).with_context(|| {
                format!("port {} is in use; choose other ports with --base-port", addr.port())
            })?;
        }
        Ok(())
    }

    /// Writes the configs and a random passphrase file per signer.
    pub fn write_configs(&self) -> anyhow::Result<()> {
        let tls = |name: &str, coordinator_cert: bool| TlsSection {
            ca: "ca.pem".into(),
            cert: format!("{name}.pem"),
            key: format!("{name}.key"),
            coordinator_cert: coordinator_cert.then(|| "coordinator.pem".into()),
        };
        let metrics = |service: SocketAddr| MetricsSection { listen: Layout::metrics_addr(service).to_string(), plain_http: true };
        let coordinator = CoordinatorConfig {
            version: CONFIG_VERSION,
            listen: self.coordinator_addr().to_string(),
            data_dir: "coordinator/data".into(),
            threshold: self.threshold,
            tls: tls("coordinator", false),
            metrics: metrics(self.coordinator_addr()),
            operators: vec![OperatorEntry { name: "operator".into(), cert: "operator.pem".into() }],
            signers: (1..=self.signers)
                .map(|k| SignerEntry {
                    name: format!("signer-{k}"),
                    participant: k,
                    endpoint: format!("https://{}", self.signer_addr(k)),
                })
                .collect(),
        };
        write_toml(&self.coordinator_config(), &coordinator)?;
        for k in 1..=self.signers {
            let name = format!("signer-{k}");
            let own = self.dir.join(&name);
            std::fs::create_dir_all(own.join("data")).with_context(|| format!("cannot create {}", own.display()))?;
            let passphrase = {
                use rand::RngCore;
                let mut bytes = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                hex::encode(bytes)
            };
            crate::commands::certs::write_private(&own.join("passphrase"), &format!("{passphrase}\n"))?;
            let policy = own.join("policy.toml");
            std::fs::write(&policy, DEMO_POLICY).with_context(|| format!("cannot write {}", policy.display()))?;
            let config = SignerNodeToml {
                version: CONFIG_VERSION,
                name: name.clone(),
                participant: k,
                listen: self.signer_addr(k).to_string(),
                data_dir: format!("{name}/data"),
                passphrase_file: format!("{name}/passphrase"),
                roster: "roster.toml".into(),
                policy: format!("{name}/policy.toml"),
                tls: tls(&name, true),
                metrics: metrics(self.signer_addr(k)),
            };
            write_toml(&self.signer_config(k), &config)?;
        }
        std::fs::create_dir_all(self.dir.join("coordinator").join("data"))
            .with_context(|| format!("cannot create {}", self.dir.join("coordinator").display()))?;
        Ok(())
    }
}

impl Layout {
    /// `roster.toml`'s path (also the operator's copy: the CLI finds it in
    /// its --tls-dir, this directory).
    pub fn roster(&self) -> PathBuf {
        self.dir.join("roster.toml")
    }

    /// Makes every signer's identity key (`frostzone-signer identity`, which
    /// creates its store) and writes the roster all of them and the
    /// operator's CLI share: t and every participant. In a real deployment
    /// each operator runs that command on its own host and the operators
    /// exchange the entries (docs/operations.md).
    pub fn write_roster(&self, signer: &Path) -> anyhow::Result<()> {
        let mut members = Vec::new();
        for k in 1..=self.signers {
            let config = self.signer_config(k);
            let out = Command::new(signer)
                .arg("--config")
                .arg(&config)
                .arg("identity")
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .output()
                .with_context(|| format!("cannot run {}", signer.display()))?;
            if !out.status.success() {
                bail!("{} --config {} identity failed: {}", signer.display(), config.display(), String::from_utf8_lossy(&out.stderr).trim());
            }
            let text = String::from_utf8_lossy(&out.stdout);
            members.extend(
                frostzone_proto::roster::parse_entries(&text)
                    .map_err(|e| anyhow::anyhow!("the identity of signer-{k} does not read: {e}"))?,
            );
        }
        let path = self.roster();
        std::fs::write(&path, frostzone_proto::roster::Roster::to_toml(self.threshold, &members))
            .with_context(|| format!("cannot write {}", path.display()))?;
        // Read back: the file every signer checks itself against.
        frostzone_proto::roster::Roster::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }
}

fn write_toml(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let text = toml::to_string(value).with_context(|| format!("cannot encode {}", path.display()))?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// A daemon started by this process.
pub struct Daemon {
    pub name: String,
    pub log: PathBuf,
    pub port: u16,
    child: Child,
}

impl Daemon {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory so far, in KiB (Linux `VmHWM`), when known.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// CPU seconds used so far, user and system (Linux `/proc/PID/stat`
    /// fields 14 and 15), when known.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        // The command name (field 2) may hold spaces: count from after it.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
        // Field 3 is fields[0]. The kernel reports in USER_HZ, 100 on Linux.
        Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
    }
}

/// The daemons this process started; every one is killed and reaped on
/// drop (success, error, panic or Ctrl-C alike).
#[derive(Default)]
pub struct Processes {
    daemons: Vec<Daemon>,
}

impl Processes {
    /// Starts `program --config CONFIG` in `dir`, output to `log`.
    pub fn spawn(&mut self, name: &str, program: &Path, config: &Path, dir: &Path, port: u16) -> anyhow::Result<()> {
        let log = dir.join("logs").join(format!("{name}.log"));
        std::fs::create_dir_all(dir.join("logs")).with_context(|| format!("cannot create {}/logs", dir.display()))?;
        let out = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone().with_context(|| format!("cannot open {}", log.display()))?;
        let child = Command::new(program)
            .arg("--config")
            .arg(config)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        self.daemons.push(Daemon { name: name.to_string(), log, port, child });
        Ok(())
    }

    /// The running daemons.
    pub fn daemons(&self) -> &[Daemon] {
        &self.daemons
    }

    /// Fails, with the end of its log, when a daemon has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        for d in &mut self.daemons {
            if let Some(status) = d.child.try_wait().with_context(|| format!("cannot check on {}", d.name))? {
                let log = std::fs::read_to_string(&d.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
                bail!(
                    "{} exited with {status}; the end of {}:\n{}",
                    d.name,
                    d.log.display(),
                    tail.join("\n")
                );
            }
        }
        Ok(())
    }

    /// Lets every daemon run on after this process exits (`quickstart
    /// --keep-running`); returns them as (name, pid, port).
    pub fn detach(&mut self) -> Vec<(String, u32, u16)> {
        // Dropping a `Child` neither kills nor waits for it.
        self.daemons.drain(..).map(|d| (d.name.clone(), d.pid(), d.port)).collect()
    }

    /// Kills and reaps every daemon; returns how many there were.
    pub fn stop_all(&mut self) -> usize {
        let n = self.daemons.len();
        for mut d in self.daemons.drain(..) {
            let _ = d.child.kill();
            let _ = d.child.wait();
        }
        n
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// `name` next to the running executable (`cargo build` puts every
/// workspace binary in one directory).
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the path of this executable")?;
    let dir = exe.parent().context("this executable has no directory")?;
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        bail!(
            "{} not found next to {}: build them with cargo build --release --workspace --bins",
            path.display(),
            exe.display()
        );
    }
    Ok(path)
}
