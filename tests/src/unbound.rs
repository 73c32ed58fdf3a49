//! Unbound, a validating resolver, trusting one zone's DS and sent to NSD for it (a stub zone).
//!
//! Static validators miss defects that only show when a resolver checks the proofs an
//! authoritative server hands out, so resolver-level tests put Unbound in front of [`crate::nsd`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::daemon::KilledOnDrop;
use crate::dig::dig;
use crate::programs::find_program;

/// Unbound on `127.0.0.1:port`, validating from the trust anchor `ds`.
#[derive(Debug, Clone)]
pub struct UnboundConfig {
    /// Port on 127.0.0.1.
    pub port: u16,
    /// The zone's DS record (presentation format), its trust anchor.
    pub ds: String,
    /// The zone Unbound asks NSD about.
    pub zone: String,
    /// NSD's port on 127.0.0.1.
    pub stub_port: u16,
}

impl UnboundConfig {
    /// `unbound.conf` with every file Unbound keeps in `dir`.
    pub fn text(&self, dir: &Path) -> String {
        format!(
            r#"server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    num-threads: 1
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    module-config: "validator iterator"
    val-log-level: 2
    do-not-query-localhost: no
    aggressive-nsec: no
    trust-anchor: "{ds}"
remote-control:
    control-enable: no
stub-zone:
    name: "{zone}"
    stub-addr: 127.0.0.1@{stub_port}
"#,
            port = self.port,
            d = dir.display(),
            // The anchor is quoted in the config: quotes inside it (none in a DS) would end it.
            ds = self.ds.replace('"', ""),
            zone = self.zone,
            stub_port = self.stub_port
        )
    }
}

/// A running Unbound, killed on drop.
pub struct Unbound {
    daemon: KilledOnDrop,
    dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Unbound {
    /// Writes `dir/unbound.conf` from `config` and starts Unbound on it (output in
    /// `dir/unbound.out`). Does not wait.
    pub fn start(dir: &Path, config: &UnboundConfig) -> Unbound {
        let conf = dir.join("unbound.conf");
        std::fs::write(&conf, config.text(dir)).expect("write unbound.conf");
        let mut cmd = Command::new(find_program("unbound").expect("unbound is installed"));
        cmd.arg("-d").arg("-c").arg(&conf);
        let daemon = KilledOnDrop::spawn("unbound", cmd, &dir.join("unbound.out"));
        Unbound { daemon, dir: dir.to_path_buf(), port: config.port }
    }

    /// Waits until Unbound gives any answer for `name` SOA (SERVFAIL included: tests judge the
    /// answers); panics with `context` after `limit`, or at once when Unbound has exited.
    pub fn wait_answering(&mut self, name: &str, limit: Duration, context: impl Fn() -> String) {
        let deadline = Instant::now() + limit;
        loop {
            self.daemon.assert_running();
            if dig(self.port, name, "SOA", true).status != "NO-ANSWER" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Unbound did not answer within {} s; logs:\n{}\n--- unbound ---\n{}",
                limit.as_secs(),
                context(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Unbound's output, for failure messages.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.join("unbound.out")).unwrap_or_default()
    }
}
