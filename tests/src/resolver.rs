//! NSD serving a signed zone, a validating Unbound in front of it, and `dig` to ask questions.
//!
//! Static validators miss defects that only show when an authoritative server answers from the
//! zone and a resolver checks the proofs it gets, so every denial mode is also tested this way.
//! Both daemons run in the foreground as children of the test, configured entirely inside a
//! temporary directory, and are killed when [`Resolver`] is dropped (also on panic).

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::signers::Signed;
use crate::tools::run;

/// How long NSD (a secondary included: it transfers the zone first) and Unbound get to answer.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// A port free on 127.0.0.1 for both UDP and TCP (chosen by the kernel, then released).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp 127.0.0.1:0");
        let port = udp.local_addr().expect("local addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

/// A child process killed (and reaped) on drop.
struct Daemon {
    name: &'static str,
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> Daemon {
        let out = std::fs::File::create(log).expect("create daemon log");
        let err = out.try_clone().expect("clone log handle");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Daemon { name, child }
    }

    /// Panics with the log when the daemon has already exited.
    fn assert_running(&mut self, log: &Path) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited early with {status}; its log:\n{}",
                self.name,
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
    }
}

/// NSD authoritative for one signed zone plus Unbound validating it from a DS trust anchor.
pub struct Resolver {
    // Field order is drop order: kill Unbound, then NSD, then remove the directory.
    unbound: Daemon,
    nsd: Daemon,
    /// Configuration, zone copy, logs.
    pub dir: tempfile::TempDir,
    /// NSD's port.
    pub nsd_port: u16,
    /// Unbound's port.
    pub unbound_port: u16,
    origin: String,
}

/// One `dig` answer, parsed just enough to judge it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, ...
    pub status: String,
    /// Header flags: `qr`, `rd`, `ra`, `ad`, ...
    pub flags: Vec<String>,
    /// Answer-section records as (owner, type, rdata).
    pub answer: Vec<(String, String, String)>,
    /// The whole dig output, for messages.
    pub text: String,
}

impl Answer {
    /// True when the AD (authentic data) bit is set.
    pub fn ad(&self) -> bool {
        self.flags.iter().any(|f| f == "ad")
    }

    /// Answer records of `rtype`.
    pub fn records(&self, rtype: &str) -> Vec<&(String, String, String)> {
        self.answer.iter().filter(|r| r.1.eq_ignore_ascii_case(rtype)).collect()
    }
}

/// Asks `server:port` one question with the DO bit set.
pub fn dig(port: u16, name: &str, rtype: &str, recurse: bool) -> Answer {
    let mut cmd = Command::new("dig");
    cmd.args(["@127.0.0.1", "-p", &port.to_string(), "+dnssec", "+tries=1", "+time=5"])
        .arg(if recurse { "+recurse" } else { "+norecurse" })
        .args([name, rtype]);
    let out = run(&mut cmd);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .lines()
        .find_map(|l| l.split("status: ").nth(1))
        .map(|s| s.split(',').next().unwrap_or("").trim().to_string())
        .unwrap_or_else(|| "NO-ANSWER".to_string());
    let flags = text
        .lines()
        .find_map(|l| l.strip_prefix(";; flags: "))
        .map(|l| l.split(';').next().unwrap_or("").split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let mut answer = Vec::new();
    let mut in_answer = false;
    for line in text.lines() {
        if line.starts_with(";; ANSWER SECTION:") {
            in_answer = true;
            continue;
        }
        if in_answer {
            if line.trim().is_empty() || line.starts_with(";;") {
                break;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() >= 4 {
                answer.push((fields[0].to_string(), fields[3].to_string(), fields[4..].join(" ")));
            }
        }
    }
    Answer { status, flags, answer, text }
}

impl Resolver {
    /// Starts NSD on `signed` and Unbound trusting its DS, and waits until both answer.
    pub fn start(signed: &Signed) -> Resolver {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::copy(&signed.zone, dir.path().join("zone.signed")).expect("copy signed zone");
        Resolver::launch(dir, &signed.origin, &signed.ds_line(), None, "    zonefile: \"zone.signed\"\n", "")
    }

    /// Starts NSD on `127.0.0.1:nsd_port` as a secondary of the primary at
    /// `127.0.0.1:primary_port` (`request-xfr`, and `allow-notify` from 127.0.0.1; with `tsig` =
    /// (name, base64 secret), both with that hmac-sha256 key), and Unbound trusting `ds_line`;
    /// waits until NSD has transferred the zone and answers for it, and Unbound answers.
    pub fn start_secondary(origin: &str, ds_line: &str, nsd_port: u16, primary_port: u16, tsig: Option<(&str, &str)>) -> Resolver {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, key_name) = match tsig {
            Some((name, secret)) => {
                (format!("key:\n    name: \"{name}\"\n    algorithm: hmac-sha256\n    secret: \"{secret}\"\n"), name.to_string())
            }
            None => (String::new(), "NOKEY".to_string()),
        };
        let zone = format!(
            "    zonefile: \"secondary.zone\"\n    request-xfr: 127.0.0.1@{primary_port} {key_name}\n    \
             allow-notify: 127.0.0.1 {key_name}\n"
        );
        Resolver::launch(dir, origin, ds_line, Some(nsd_port), &zone, &key)
    }

    /// NSD (on `nsd_port`, or a free port) with one `zone:` whose body (after its name) is
    /// `zone_body`, plus `extra` top-level clauses (keys); Unbound trusting `ds_line`, stub to NSD.
    fn launch(dir: tempfile::TempDir, origin: &str, ds_line: &str, nsd_port: Option<u16>, zone_body: &str, extra: &str) -> Resolver {
        let d = dir.path();
        let nsd_port = nsd_port.unwrap_or_else(free_port);
        let mut unbound_port = free_port();
        while unbound_port == nsd_port {
            unbound_port = free_port();
        }
        let origin = origin.to_string();

        let nsd_conf = d.join("nsd.conf");
        std::fs::write(
            &nsd_conf,
            format!(
                r#"server:
    ip-address: 127.0.0.1@{nsd_port}
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
{extra}zone:
    name: "{origin}"
{zone_body}"#,
                d = d.display()
            ),
        )
        .expect("write nsd.conf");
        let nsd_log = d.join("nsd.out");
        let mut cmd = Command::new(crate::tools::find_program("nsd").expect("nsd"));
        cmd.arg("-d").arg("-c").arg(&nsd_conf);
        let nsd = Daemon::spawn("nsd", cmd, &nsd_log);

        let unbound_conf = d.join("unbound.conf");
        std::fs::write(
            &unbound_conf,
            format!(
                r#"server:
    interface: 127.0.0.1
    port: {unbound_port}
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
    name: "{origin}"
    stub-addr: 127.0.0.1@{nsd_port}
"#,
                d = d.display(),
                ds = ds_line.replace('"', "")
            ),
        )
        .expect("write unbound.conf");
        let unbound_log = d.join("unbound.out");
        let mut cmd = Command::new(crate::tools::find_program("unbound").expect("unbound"));
        cmd.arg("-d").arg("-c").arg(&unbound_conf);
        let unbound = Daemon::spawn("unbound", cmd, &unbound_log);

        let mut resolver = Resolver { unbound, nsd, dir, nsd_port, unbound_port, origin };
        resolver.wait_ready();
        resolver
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_DEADLINE;
        let d = self.dir.path().to_path_buf();
        // NSD: authoritative SOA answer.
        loop {
            self.nsd.assert_running(&d.join("nsd.out"));
            let a = dig(self.nsd_port, &self.origin, "SOA", false);
            if a.status == "NOERROR" && a.flags.iter().any(|f| f == "aa") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "NSD did not serve {} within {} s (last answer status {}); logs:\n{}",
                self.origin,
                READY_DEADLINE.as_secs(),
                a.status,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // Unbound: any answer at all (SERVFAIL included; tests judge the answers).
        loop {
            self.unbound.assert_running(&d.join("unbound.out"));
            let a = dig(self.unbound_port, &self.origin, "SOA", true);
            if a.status != "NO-ANSWER" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Unbound did not answer within {} s; logs:\n{}",
                READY_DEADLINE.as_secs(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Asks NSD directly (no recursion, DO bit set).
    pub fn query_nsd(&self, name: &str, rtype: &str) -> Answer {
        dig(self.nsd_port, name, rtype, false)
    }

    /// The SOA serial NSD serves, if it answers with one.
    pub fn nsd_serial(&self) -> Option<u32> {
        let a = self.query_nsd(&self.origin, "SOA");
        a.records("SOA").first().and_then(|r| r.2.split_whitespace().nth(2)).and_then(|s| s.parse().ok())
    }

    /// Asks Unbound (recursion desired, DO bit set).
    pub fn query(&self, name: &str, rtype: &str) -> Answer {
        dig(self.unbound_port, name, rtype, true)
    }

    /// NSD's and Unbound's logs, for failure messages.
    pub fn logs(&self) -> String {
        let read = |p: PathBuf| std::fs::read_to_string(&p).unwrap_or_default();
        let d = self.dir.path();
        format!(
            "--- nsd ---\n{}{}\n--- unbound ---\n{}",
            read(d.join("nsd.out")),
            read(d.join("nsd.log")),
            read(d.join("unbound.out"))
        )
    }
}
