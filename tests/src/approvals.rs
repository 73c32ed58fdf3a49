//! Helpers for tests of the request life cycle with real processes: the `frostzone` commands an
//! operator runs (`pending`, `show`, `approve`, `reject` on a signer's admin socket; `requests`,
//! `request` against the coordinator) with their `--json` output parsed, a `frostzone sign` left
//! running in the background, polling with deadlines, and an audit-log edit that `--verify` must
//! catch.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cluster::Cluster;
use crate::frostzone_bin;
use crate::programs::{describe, run};

/// How often the helpers poll: often enough not to slow the tests, rarely enough not to load
/// two busy cores with CLI runs.
const POLL: Duration = Duration::from_millis(250);

/// Generous deadlines for debug builds on a busy two-core machine.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// Polls `f` until it returns `Some`, panicking with `what` and the cluster's logs at the deadline.
pub fn poll<T>(cluster: &Cluster, limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {} s waiting for {what}\n{}", limit.as_secs(), cluster.logs());
        std::thread::sleep(POLL);
    }
}

/// The operator name the helpers approve and reject as on signer `k`.
pub fn operator(k: u16) -> String {
    format!("op-{k}")
}

/// Runs `cmd`, asserting exit 0, and parses its stdout as one JSON value.
fn json_of(cluster: &Cluster, cmd: &mut Command) -> Value {
    let out = run(cmd);
    assert!(out.status.success(), "{}\n{}", describe(cmd, &out), cluster.logs());
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{cmd:?} printed no JSON ({e}):\n{}", describe(cmd, &out)))
}

impl Cluster {
    /// `frostzone ARGS --socket <signer K's admin socket>` (not yet run).
    pub fn admin_command(&self, k: u16, args: &[&str]) -> Command {
        let mut cmd = Command::new(frostzone_bin());
        cmd.args(args).arg("--socket").arg(self.admin_socket(k));
        cmd.env_remove("FROSTZONE_ADMIN_SOCKET");
        cmd
    }

    /// `frostzone pending --json` on signer `k`: the requests waiting for its operator.
    pub fn pending(&self, k: u16) -> Vec<Value> {
        let v = json_of(self, &mut self.admin_command(k, &["pending", "--json"]));
        v["requests"].as_array().cloned().unwrap_or_else(|| panic!("pending --json without requests: {v}"))
    }

    /// `frostzone show REQ --json` on signer `k`.
    pub fn show(&self, k: u16, request: &str) -> Value {
        json_of(self, &mut self.admin_command(k, &["show", request, "--json", "--max-lines", "0"]))
    }

    /// `frostzone approve REQ --operator op-K EXTRA...` on signer `k`, not asserting anything.
    pub fn approve_output(&self, k: u16, request: &str, extra: &[&str]) -> Output {
        let mut cmd = self.admin_command(k, &["approve", request, "--json", "--operator", &operator(k)]);
        cmd.args(extra);
        run(&mut cmd)
    }

    /// `frostzone approve REQ` on signer `k`, asserting exit 0; the signer's decision.
    pub fn approve(&self, k: u16, request: &str) -> Value {
        json_of(self, &mut self.admin_command(k, &["approve", request, "--json", "--operator", &operator(k)]))
    }

    /// `frostzone reject REQ --reason REASON` on signer `k`, asserting exit 0; the decision.
    pub fn reject(&self, k: u16, request: &str, reason: &str) -> Value {
        let args = ["reject", request, "--json", "--operator", &operator(k), "--reason", reason];
        json_of(self, &mut self.admin_command(k, &args))
    }

    /// `frostzone requests --zone ZONE --json` against the coordinator.
    pub fn requests(&self, zone: &str) -> Vec<Value> {
        let v = json_of(self, self.frostzone().args(["requests", "--zone", zone, "--json"]));
        v["requests"].as_array().cloned().unwrap_or_else(|| panic!("requests --json without requests: {v}"))
    }

    /// `frostzone request REQ --json` against the coordinator.
    pub fn request(&self, request: &str) -> Value {
        json_of(self, self.frostzone().args(["request", request, "--json"]))
    }

    /// Waits until each of `signers` lists a pending request of `zone` other than those in
    /// `except`; returns its id (the same on every signer).
    pub fn wait_for_pending(&self, signers: &[u16], zone: &str, except: &[&str]) -> String {
        let mut id = None::<String>;
        for &k in signers {
            let found = poll(self, DEADLINE, &format!("a pending request of {zone} on signer-{k}"), || {
                self.pending(k)
                    .into_iter()
                    .filter(|r| r["zone"] == zone && r["state"] == "pending")
                    .filter_map(|r| r["request_id"].as_str().map(str::to_string))
                    .find(|r| !except.contains(&r.as_str()))
            });
            if let Some(first) = &id {
                assert_eq!(first, &found, "signer-{k} shows another pending request of {zone}");
            }
            id = Some(found);
        }
        id.expect("at least one signer")
    }

    /// Polls `frostzone request REQ` until `ready` accepts it; returns it.
    pub fn wait_for_request(&self, request: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        poll(self, DEADLINE, &format!("request {request}: {what}"), || Some(self.request(request)).filter(|r| ready(r)))
    }

    /// Starts `frostzone sign --zone ZONE --file FILE --out OUT EXTRA...` in the background,
    /// its output going to files in the cluster directory.
    pub fn spawn_sign(&self, zone: &str, zone_file: &Path, out: &Path, extra: &[&str]) -> Background {
        let mut cmd = self.sign_command(zone, zone_file, out);
        cmd.args(extra);
        Background::spawn(cmd, &self.dir.path().join("logs"), &format!("sign-{}", out.file_name().and_then(|n| n.to_str()).unwrap_or("out")))
    }
}

/// Signer decisions of a `request --json` in `state` ("approved", "pending", ...), by signer name.
/// Sorted.
pub fn signers_in(request: &Value, state: &str) -> Vec<String> {
    let mut signers: Vec<String> = request["decisions"]
        .as_array()
        .map(|d| d.iter().filter(|d| d["state"] == state).filter_map(|d| d["signer"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    signers.sort();
    signers
}

/// A string field of a JSON object, or "".
pub fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or("")
}

/// A command running in the background, killed and reaped on drop; its stdout and stderr go to
/// files (a pipe nobody reads could fill and stall it).
pub struct Background {
    child: Child,
    command: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// How a background command ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// What it printed.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
    /// The command line and both outputs, for failure messages.
    pub described: String,
}

impl Background {
    /// Starts `cmd` with output to `dir/NAME.stdout` and `dir/NAME.stderr`.
    pub fn spawn(mut cmd: Command, dir: &Path, name: &str) -> Background {
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("create stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("create stderr file"));
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Background { child, command: format!("{cmd:?}"), stdout, stderr }
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("check on background command").is_none()
    }

    /// What it has printed on stderr so far.
    pub fn stderr_so_far(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits up to `limit` for it to exit (killing it and panicking after that).
    pub fn wait(mut self, limit: Duration, cluster: &Cluster) -> Finished {
        let command = self.command.clone();
        let status = poll(cluster, limit, &format!("{command} to exit"), || self.child.try_wait().expect("wait"));
        let stdout = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let described = format!("{command} exited with {status}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
        Finished { status, stdout, stderr, described }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Rewrites the audit entry of `node` that `pick` selects (changing its outcome, as a forger
/// would) and returns its 1-based position; `frostzone audit --verify` must then exit 1 naming
/// that entry as edited.
pub fn edit_audit_entry_and_verify(cluster: &Cluster, node: &str, pick: impl Fn(&Value) -> bool) -> usize {
    let path = cluster.audit_log(node);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let index = lines
        .iter()
        .position(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| pick(&v)))
        .unwrap_or_else(|| panic!("no such entry in {}:\n{text}", path.display()));
    let mut entry: Value = serde_json::from_str(&lines[index]).expect("audit entry is JSON");
    entry["outcome"] = Value::String("nothing happened here".into());
    lines[index] = entry.to_string();
    std::fs::write(&path, lines.join("\n") + "\n").expect("write edited audit log");

    let mut cmd = Command::new(frostzone_bin());
    cmd.arg("audit").arg("--file").arg(&path).arg("--verify");
    let out = run(&mut cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&cmd, &out));
    let n = index + 1;
    assert!(stdout.contains(&format!("entry {n}")) && stdout.contains("edited"), "{}", describe(&cmd, &out));
    n
}
