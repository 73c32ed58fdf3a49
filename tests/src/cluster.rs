//! A real frostzone cluster for end-to-end tests: `frostzone certs init` makes the certificates,
//! a coordinator and N signer nodes run as child processes on free loopback ports, each with its
//! own data directory and log in a temporary directory. Every process is killed on drop (also on
//! panic). Nodes can be killed (`kill -9`) and started again with the same data.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::coordinator_config::{self, CoordinatorConfig, Operator, Secondary, Transfer, TsigKey};
use crate::frostzone_bin;
use crate::port::free_port;
use crate::programs::{describe, run};
use crate::signer_config::{self, SignerConfig};

/// How long a cluster gets to start and see all its signers (debug builds on a busy 2-core box).
const READY_DEADLINE: Duration = Duration::from_secs(90);

/// How long [`Cluster::stop_signer`] waits for a signer to exit after SIGTERM.
pub const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// The `[approval]` section of a signer policy that approves every change by policy, key changes
/// included: what the tests that are not about approvals run with, so that nothing waits for an
/// operator (as `frostzone quickstart` does for its demo cluster).
pub const AUTO_APPROVAL: &str = "[approval]\nkey_changes = \"auto\"\nkey_ceremonies = \"auto\"\n\
                                 max_rrsets_changed = 1000000\nmax_names_added = 1000000\n\
                                 max_names_removed = 1000000\nmax_ds_changed = 1000000\n\
                                 [nsec3]\nopt_out = true\n";

/// A policy file of `body` (top-level keys and tables) plus [`AUTO_APPROVAL`].
pub fn auto_policy(body: &str) -> String {
    format!("version = 1\n{body}\n{AUTO_APPROVAL}")
}

/// A policy file with the default `[approval]` except for key ceremonies: key changes (a
/// zone's first publication included) wait for the signer's operator; DKG is approved by
/// policy so that the approval tests can make their keys.
pub const OPERATOR_APPROVAL: &str = "version = 1\n[approval]\nkey_ceremonies = \"auto\"\n";

/// A child process killed (SIGKILL) and reaped on drop.
struct Process {
    child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A coordinator and `signers` signer nodes, t-of-n.
pub struct Cluster {
    // Field order is drop order: processes first, then the directory.
    coordinator: Option<Process>,
    signer_processes: Vec<Option<Process>>,
    /// Certificates, configs, data directories, logs.
    pub dir: tempfile::TempDir,
    /// The coordinator's port on 127.0.0.1.
    pub coordinator_port: u16,
    /// Signer K's port is `signer_ports[K - 1]`.
    pub signer_ports: Vec<u16>,
    /// Signers needed for a signature.
    pub threshold: u16,
    /// The coordinator's `[transfer]` port (UDP and TCP on 127.0.0.1), once
    /// [`Cluster::enable_transfer`] gave it one.
    pub transfer_port: Option<u16>,
}

/// `name` in the directory of the `frostzone` binary (every workspace binary is built there).
pub fn workspace_binary(name: &str) -> PathBuf {
    let dir = frostzone_bin().parent().expect("binary directory").to_path_buf();
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} not found: build every binary first with `cargo build --workspace --bins` (scripts/test does)",
        bin.display()
    );
    bin
}

impl Cluster {
    /// Writes certificates and configs for `signers` signers with threshold `threshold`, without
    /// starting anything. Every signer gets a policy that approves every change
    /// ([`AUTO_APPROVAL`]); tests about approvals replace it with [`Cluster::set_policy`].
    pub fn new(signers: u16, threshold: u16) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(frostzone_bin());
        cmd.args(["certs", "init", "--dir"]).arg(dir.path()).args(["--signers", &signers.to_string()]);
        let out = run(&mut cmd);
        assert!(out.status.success(), "{}", describe(&cmd, &out));
        let mut ports = Vec::new();
        while ports.len() < usize::from(signers) + 1 {
            let p = free_port();
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
        let coordinator_port = ports[0];
        let signer_ports = ports[1..].to_vec();
        let mut coordinator = CoordinatorConfig {
            version: 1,
            listen: format!("127.0.0.1:{coordinator_port}"),
            data_dir: "coordinator/data".to_string(),
            threshold,
            tls: coordinator_config::Tls {
                ca: "ca.pem".to_string(),
                cert: "coordinator.pem".to_string(),
                key: "coordinator.key".to_string(),
            },
            operators: vec![Operator { name: "operator".to_string(), cert: "operator.pem".to_string() }],
            signers: Vec::new(),
            zones: Vec::new(),
            transfer: None,
            primary: None,
            metrics: None,
        };
        for (i, port) in signer_ports.iter().enumerate() {
            let k = i + 1;
            coordinator.signers.push(coordinator_config::Signer {
                name: format!("signer-{k}"),
                participant: k as u16,
                endpoint: format!("https://127.0.0.1:{port}"),
            });
            let own = dir.path().join(format!("signer-{k}"));
            std::fs::create_dir_all(own.join("data")).expect("create signer data dir");
            std::fs::write(own.join("passphrase"), format!("test passphrase of signer-{k}\n")).expect("write passphrase");
            let config = SignerConfig {
                version: 1,
                name: format!("signer-{k}"),
                participant: k as u16,
                listen: format!("127.0.0.1:{port}"),
                data_dir: format!("signer-{k}/data"),
                passphrase_file: format!("signer-{k}/passphrase"),
                session_timeout_secs: None,
                roster: "roster.toml".to_string(),
                policy: None,
                tls: signer_config::Tls {
                    ca: "ca.pem".to_string(),
                    cert: format!("signer-{k}.pem"),
                    key: format!("signer-{k}.key"),
                    coordinator_cert: "coordinator.pem".to_string(),
                },
                metrics: None,
            };
            config.write(&dir.path().join(format!("signer-{k}.toml")));
        }
        std::fs::create_dir_all(dir.path().join("coordinator").join("data")).expect("create coordinator data dir");
        coordinator.write(&dir.path().join("coordinator.toml"));
        std::fs::create_dir_all(dir.path().join("logs")).expect("create logs dir");
        let cluster = Cluster {
            coordinator: None,
            signer_processes: (0..signers).map(|_| None).collect(),
            dir,
            coordinator_port,
            signer_ports,
            threshold,
            transfer_port: None,
        };
        for k in 1..=signers {
            cluster.set_policy(k, &auto_policy(""));
        }
        cluster.write_roster();
        cluster
    }

    /// Every signer's identity entry (`frostzone-signer ... identity`, which makes its store
    /// and key), then `frostzone roster init` of all of them into `roster.toml`: the roster every
    /// signer and the operator's CLI (it sits in the TLS directory) read.
    fn write_roster(&self) {
        let mut entries = Vec::new();
        for k in 1..=self.signers() {
            let mut cmd = Command::new(workspace_binary("frostzone-signer"));
            cmd.arg("--config").arg(self.signer_config(k)).arg("identity").current_dir(self.dir.path());
            let out = run(&mut cmd);
            assert!(out.status.success(), "{}", describe(&cmd, &out));
            let file = self.dir.path().join(format!("signer-{k}")).join("identity.toml");
            std::fs::write(&file, &out.stdout).expect("write identity entry");
            entries.push(file);
        }
        let mut cmd = Command::new(frostzone_bin());
        cmd.args(["roster", "init", "--threshold", &self.threshold.to_string(), "--out"])
            .arg(self.dir.path().join("roster.toml"))
            .args(&entries);
        let out = run(&mut cmd);
        assert!(out.status.success(), "{}", describe(&cmd, &out));
    }

    /// Gives signer `k` the operator policy `text` (written to `signer-K/policy.toml` and named
    /// in its config); takes effect at its next start.
    pub fn set_policy(&self, k: u16, text: &str) {
        std::fs::write(self.dir.path().join(format!("signer-{k}")).join("policy.toml"), text).expect("write policy");
        let file = self.signer_config(k);
        let mut config = SignerConfig::read(&file);
        if config.policy.is_none() {
            config.policy = Some(format!("signer-{k}/policy.toml"));
            config.write(&file);
        }
    }

    /// Changes the coordinator's config (`[[zones]]`, `[primary]`, ...) with `change`; takes
    /// effect at its next start.
    pub fn configure_coordinator(&self, change: impl FnOnce(&mut CoordinatorConfig)) {
        let file = self.dir.path().join("coordinator.toml");
        let mut config = CoordinatorConfig::read(&file);
        change(&mut config);
        config.write(&file);
    }

    /// Gives the coordinator a `[transfer]` section on a free loopback port with `tsig_keys`
    /// and `secondaries`; returns the port. Call before the coordinator starts.
    pub fn enable_transfer(&mut self, tsig_keys: Vec<TsigKey>, secondaries: Vec<Secondary>) -> u16 {
        assert!(self.transfer_port.is_none(), "the coordinator already has a [transfer] section");
        let mut port = free_port();
        while port == self.coordinator_port || self.signer_ports.contains(&port) {
            port = free_port();
        }
        self.configure_coordinator(|c| {
            c.transfer = Some(Transfer { listen: format!("127.0.0.1:{port}"), tsig_keys, secondaries });
        });
        self.transfer_port = Some(port);
        port
    }

    /// Gives every node a `[metrics]` section on a free loopback port (plain HTTP, or mutual TLS
    /// for the coordinator when `coordinator_tls`); returns the ports, the coordinator's first.
    /// Call before the nodes start.
    pub fn enable_metrics(&self, coordinator_tls: bool) -> Vec<u16> {
        let mut taken: Vec<u16> = self.signer_ports.iter().copied().chain([self.coordinator_port]).chain(self.transfer_port).collect();
        let mut ports = Vec::new();
        while ports.len() < usize::from(self.signers()) + 1 {
            let p = free_port();
            if !taken.contains(&p) {
                taken.push(p);
                ports.push(p);
            }
        }
        let section = |port: u16, plain_http: bool| Some(crate::coordinator_config::Metrics { listen: format!("127.0.0.1:{port}"), plain_http });
        self.configure_coordinator(|c| c.metrics = section(ports[0], !coordinator_tls));
        for k in 1..=self.signers() {
            let file = self.signer_config(k);
            let mut config = SignerConfig::read(&file);
            config.metrics = section(ports[usize::from(k)], true);
            config.write(&file);
        }
        ports
    }

    /// The body of `GET /metrics` over plain HTTP on `127.0.0.1:port` (HTTP/1.0, so the server
    /// closes the connection after the answer). Panics unless the status is 200.
    pub fn scrape(&self, port: u16) -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("metrics port {port}: {e}"));
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
        stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("send the request");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read the answer");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        assert!(head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"), "GET /metrics on port {port}: {head}");
        assert!(head.to_ascii_lowercase().contains("content-type: application/openmetrics-text"), "{head}");
        body.to_string()
    }

    /// The body of `GET /metrics` over mutual TLS from the coordinator on `port`, as Prometheus
    /// would scrape it: `curl` with the `prometheus` client certificate of `certs init`. With
    /// `client_cert` false, no certificate is presented; returns curl's error then.
    pub fn scrape_coordinator_tls(&self, port: u16, client_cert: bool) -> Result<String, String> {
        let dir = self.dir.path();
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--fail", "--max-time", "30", "--cacert"]).arg(dir.join("ca.pem"));
        if client_cert {
            cmd.arg("--cert").arg(dir.join("prometheus.pem")).arg("--key").arg(dir.join("prometheus.key"));
        }
        cmd.args(["--resolve", &format!("coordinator:{port}:127.0.0.1"), &format!("https://coordinator:{port}/metrics")]);
        let out = run(&mut cmd);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(describe(&cmd, &out))
        }
    }

    /// A gRPC client of the coordinator with the operator's certificate, as any client could
    /// make (mutual TLS, the coordinator's name checked).
    pub async fn coordinator_client(&self) -> frostzone_proto::v1::coordinator_client::CoordinatorClient<tonic::transport::Channel> {
        let root = self.dir.path();
        let tls = frostzone_proto::tls::TlsFiles { ca: root.join("ca.pem"), cert: root.join("operator.pem"), key: root.join("operator.key") };
        let channel = tonic::transport::Endpoint::from_shared(self.url())
            .expect("endpoint")
            .tls_config(tls.client_config("coordinator").expect("tls config"))
            .expect("tls")
            .connect()
            .await
            .expect("connect to the coordinator");
        frostzone_proto::v1::coordinator_client::CoordinatorClient::new(channel).max_decoding_message_size(frostzone_proto::MAX_MESSAGE_BYTES)
    }

    /// The audit log of `node` ("coordinator" or "signer-K").
    pub fn audit_log(&self, node: &str) -> PathBuf {
        self.dir.path().join(node).join("data").join("audit.log")
    }

    /// Signer `k`'s admin socket: the signer's default, `<data_dir>/admin.sock`.
    pub fn admin_socket(&self, k: u16) -> PathBuf {
        self.dir.path().join(format!("signer-{k}")).join("data").join("admin.sock")
    }

    /// Signer `k`'s config file.
    pub fn signer_config(&self, k: u16) -> PathBuf {
        self.dir.path().join(format!("signer-{k}.toml"))
    }

    /// A started 3-of-5 cluster, every signer reachable.
    pub fn start_3_of_5() -> Cluster {
        let mut c = Cluster::new(5, 3);
        c.start_all();
        c.wait_ready(5);
        c
    }

    /// How many signers the cluster has.
    pub fn signers(&self) -> u16 {
        self.signer_processes.len() as u16
    }

    fn spawn(&self, name: &str, program: &Path, env: &[(&str, &str)]) -> Process {
        let log_path = self.log_path(name);
        // Append: a restarted node keeps the log of its earlier life above.
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).expect("open log");
        let err = log.try_clone().expect("clone log handle");
        let mut cmd = Command::new(program);
        cmd.arg("--config")
            .arg(self.dir.path().join(format!("{name}.toml")))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        Process { child }
    }

    /// The whole log of `name` ("coordinator" or "signer-K").
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("logs").join(format!("{name}.log"))
    }

    /// Starts the coordinator (when not running) and every signer not running.
    pub fn start_all(&mut self) {
        for k in 1..=self.signers() {
            if self.signer_processes[usize::from(k) - 1].is_none() {
                self.start_signer(k, &[]);
            }
        }
        if self.coordinator.is_none() {
            self.start_coordinator();
        }
    }

    /// Starts the coordinator.
    pub fn start_coordinator(&mut self) {
        self.start_coordinator_with(&[]);
    }

    /// Starts the coordinator with extra environment variables.
    pub fn start_coordinator_with(&mut self, env: &[(&str, &str)]) {
        self.coordinator = Some(self.spawn("coordinator", &workspace_binary("frostzone-coordinator"), env));
    }

    /// Waits until the coordinator process exits by itself (a fault it was started with); its
    /// exit status. Panics after `deadline`.
    pub fn wait_coordinator_exit(&mut self, deadline: Duration) -> std::process::ExitStatus {
        let until = Instant::now() + deadline;
        loop {
            let p = self.coordinator.as_mut().expect("a coordinator process");
            if let Ok(Some(status)) = p.child.try_wait() {
                self.coordinator = None;
                return status;
            }
            assert!(Instant::now() < until, "the coordinator is still running after {} s\n{}", deadline.as_secs(), self.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts signer `k` (1-based) with extra environment variables.
    pub fn start_signer(&mut self, k: u16, env: &[(&str, &str)]) {
        let p = self.spawn(&format!("signer-{k}"), &workspace_binary("frostzone-signer"), env);
        self.signer_processes[usize::from(k) - 1] = Some(p);
    }

    /// `kill -9` of signer `k`, reaped.
    pub fn kill_signer(&mut self, k: u16) {
        self.signer_processes[usize::from(k) - 1] = None;
    }

    /// A clean stop of signer `k`: SIGTERM (its servers stop, its admin socket goes), then a wait
    /// for it to exit; `kill -9` if it has not within [`STOP_DEADLINE`]. Reaped either way.
    pub fn stop_signer(&mut self, k: u16) {
        let Some(mut p) = self.signer_processes[usize::from(k) - 1].take() else {
            return;
        };
        // No signal API without unsafe code or another dependency: kill(1) sends it.
        let mut term = Command::new("kill");
        term.arg("-TERM").arg(p.child.id().to_string());
        let out = run(&mut term);
        assert!(out.status.success(), "{}", describe(&term, &out));
        let deadline = Instant::now() + STOP_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = p.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Dropping `p` kills and reaps it.
    }

    /// Points signer `k`'s config at the data directory `data_dir` (relative to the cluster's
    /// directory, as `signer-K/data` is): its next start opens that store, audit log and admin
    /// socket. [`Cluster::audit_log`] and [`Cluster::admin_socket`] still name `signer-K/data`.
    pub fn set_signer_data_dir(&self, k: u16, data_dir: &str) {
        let file = self.signer_config(k);
        let mut config = SignerConfig::read(&file);
        config.data_dir = data_dir.to_string();
        config.write(&file);
    }

    /// `kill -9` of the coordinator, reaped.
    pub fn kill_coordinator(&mut self) {
        self.coordinator = None;
    }

    /// `kill -9` of every node, reaped.
    pub fn kill_all(&mut self) {
        self.coordinator = None;
        for p in &mut self.signer_processes {
            *p = None;
        }
    }

    /// Panics with the logs when a started node has exited.
    pub fn assert_running(&mut self) {
        let mut dead = Vec::new();
        if let Some(p) = &mut self.coordinator {
            if let Ok(Some(status)) = p.child.try_wait() {
                dead.push(format!("coordinator exited with {status}"));
            }
        }
        for (i, p) in self.signer_processes.iter_mut().enumerate() {
            if let Some(p) = p {
                if let Ok(Some(status)) = p.child.try_wait() {
                    dead.push(format!("signer-{} exited with {status}", i + 1));
                }
            }
        }
        assert!(dead.is_empty(), "{}\n{}", dead.join("; "), self.logs());
    }

    /// Makes `members` the whole membership with t = `threshold`: the roster every signer and the
    /// operator's CLI read (`roster.toml`, made again from the members' identity entries) and the
    /// coordinator's `[[signers]]` and threshold. Takes effect at the next starts; a signer outside
    /// the membership is not to be started.
    pub fn set_membership(&mut self, members: &[u16], threshold: u16) {
        self.threshold = threshold;
        let entries: Vec<PathBuf> = members.iter().map(|k| self.dir.path().join(format!("signer-{k}")).join("identity.toml")).collect();
        let mut cmd = Command::new(frostzone_bin());
        cmd.args(["roster", "init", "--threshold", &threshold.to_string(), "--out"]).arg(self.dir.path().join("roster.toml")).args(&entries);
        let out = run(&mut cmd);
        assert!(out.status.success(), "{}", describe(&cmd, &out));
        let ports = self.signer_ports.clone();
        self.configure_coordinator(|c| {
            c.threshold = threshold;
            c.signers = members
                .iter()
                .map(|&k| coordinator_config::Signer {
                    name: format!("signer-{k}"),
                    participant: k,
                    endpoint: format!("https://127.0.0.1:{}", ports[usize::from(k) - 1]),
                })
                .collect();
        });
    }

    /// Waits until the coordinator answers `status` and sees `reachable` of its configured
    /// signers.
    pub fn wait_ready(&mut self, reachable: u16) {
        let deadline = Instant::now() + READY_DEADLINE;
        let configured = CoordinatorConfig::read(&self.dir.path().join("coordinator.toml")).signers.len();
        let want = format!("signers: {reachable} of {configured} reachable");
        loop {
            self.assert_running();
            let out = self.frostzone_output(&["status"]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            if out.status.success() && stdout.contains(&want) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "cluster not ready after {} s (waiting for {want:?}); last status:\n{stdout}{}\n{}",
                    READY_DEADLINE.as_secs(),
                    String::from_utf8_lossy(&out.stderr),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// The coordinator's URL.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.coordinator_port)
    }

    /// `frostzone` with `--coordinator` and `--tls-dir` set for this cluster's operator.
    pub fn frostzone(&self) -> Command {
        let mut cmd = Command::new(frostzone_bin());
        cmd.arg("--coordinator").arg(self.url()).arg("--tls-dir").arg(self.dir.path());
        cmd.env_remove("FROSTZONE_COORDINATOR").env_remove("FROSTZONE_TLS_DIR");
        cmd
    }

    /// Runs `frostzone ARGS` against the cluster.
    pub fn frostzone_output(&self, args: &[&str]) -> Output {
        run(self.frostzone().args(args))
    }

    /// Runs `frostzone ARGS` and panics (with the node logs) unless it exits 0; returns stdout.
    pub fn frostzone_ok(&self, args: &[&str]) -> String {
        let mut cmd = self.frostzone();
        cmd.args(args);
        let out = run(&mut cmd);
        assert!(out.status.success(), "{}\n{}", describe(&cmd, &out), self.logs());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A KSK and a ZSK for `zone` by DKG.
    pub fn generate_keys(&self, zone: &str) {
        self.frostzone_ok(&["keys", "generate", "--zone", zone, "--role", "ksk"]);
        self.frostzone_ok(&["keys", "generate", "--zone", zone, "--role", "zsk"]);
    }

    /// The `frostzone sign` command for `zone_file` into `out` (not yet run).
    pub fn sign_command(&self, zone: &str, zone_file: &Path, out: &Path) -> Command {
        let mut cmd = self.frostzone();
        cmd.args(["sign", "--zone", zone]).arg("--file").arg(zone_file).arg("--out").arg(out);
        cmd
    }

    /// Writes the zone's DS records (`frostzone ds`) to `path`.
    pub fn write_ds(&self, zone: &str, path: &Path) {
        let ds = self.frostzone_ok(&["ds", "--zone", zone]);
        std::fs::write(path, ds).expect("write DS file");
    }

    /// The end of every node's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut names = vec!["coordinator".to_string()];
        names.extend((1..=self.signers()).map(|k| format!("signer-{k}")));
        let mut out = String::new();
        for name in names {
            let text = std::fs::read_to_string(self.log_path(&name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(20)..];
            out.push_str(&format!("--- {name} log (last {} lines) ---\n{}\n", tail.len(), tail.join("\n")));
        }
        out
    }
}

/// The value of the series `series` (its name and labels as the exposition writes them, e.g.
/// `frostzone_signer_up{signer="signer-2"}`) in the metrics text `text`.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.split(' ').next()?.parse().ok())
}

/// The sum of every series of `name` whose labels contain each of `labels` (`key="value"`).
pub fn metric_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix('{')?;
            let (set, value) = rest.split_once("} ")?;
            labels.iter().all(|want| set.split(',').any(|have| have == *want)).then(|| value.split(' ').next()?.parse::<f64>().ok())?
        })
        .sum()
}
