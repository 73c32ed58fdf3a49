//! The Docker deployment (`docker-compose.yml`, `docker/cluster.sh`) under test: a compose
//! project with a unique name, network and port, brought up by the same script an operator uses,
//! and torn down with its volumes (`compose down -v`) and images when dropped, also on panic.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::port::free_port;
use crate::programs::{describe, run};
use crate::{frostzone_bin, workspace_root};

/// Signers in the compose file (3-of-5).
pub const SIGNERS: u16 = 5;

/// Writes a line to the real stderr: libtest captures `eprintln!`, and a skip or a timing summary
/// must be visible in a passing run.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Whether the Docker test may run: true when `docker info` succeeds and a compose command
/// exists; otherwise prints `skipped: TEST: docker not available (...)` and returns false — or
/// panics when `FROSTZONE_REQUIRE_DOCKER=1` (scripts/test sets it where Docker works).
pub fn require_docker(test: &str) -> bool {
    let problem = match Command::new("docker").arg("info").output() {
        Err(e) => Some(format!("docker info failed: cannot run docker: {e}")),
        Ok(out) if !out.status.success() => {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim();
            Some(format!("docker info failed: {}: {first}", out.status))
        }
        Ok(_) => match compose_program() {
            None => Some("neither `docker compose` nor `docker-compose` works".to_string()),
            Some(_) => None,
        },
    };
    let Some(problem) = problem else { return true };
    if std::env::var("FROSTZONE_REQUIRE_DOCKER").as_deref() == Ok("1") {
        panic!("{test}: docker not available ({problem}) but FROSTZONE_REQUIRE_DOCKER=1");
    }
    say(&format!("skipped: {test}: docker not available ({problem})"));
    false
}

/// `docker compose` (the plugin) when it works, else `docker-compose`.
pub fn compose_program() -> Option<Vec<String>> {
    let works =
        |cmd: &[&str]| Command::new(cmd[0]).args(&cmd[1..]).arg("version").output().is_ok_and(|o| o.status.success());
    if works(&["docker", "compose"]) {
        Some(vec!["docker".into(), "compose".into()])
    } else if works(&["docker-compose"]) {
        Some(vec!["docker-compose".into()])
    } else {
        None
    }
}

/// The first three octets of a /24 no Docker network uses yet, from 172.29.54 up (172.29.53 is
/// `docker/cluster.sh`'s default, left to an operator's own cluster).
fn free_subnet() -> String {
    let ids = run(Command::new("docker").args(["network", "ls", "-q"]));
    let ids: Vec<String> = String::from_utf8_lossy(&ids.stdout).split_whitespace().map(String::from).collect();
    let mut used = String::new();
    if !ids.is_empty() {
        let out = run(Command::new("docker")
            .args(["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"])
            .args(&ids));
        used = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    let start = 54 + std::process::id() % 150;
    (0..196)
        .map(|i| format!("172.29.{}", 54 + (start - 54 + i) % 196))
        .find(|net| !used.contains(&format!("{net}.")))
        .expect("a free 172.29.x.0/24 for the test network")
}

/// A compose project of the repository's `docker-compose.yml`, driven by `docker/cluster.sh`.
pub struct DockerCluster {
    /// `FROSTZONE_DOCKER_RUN`: certificates, configs, passphrases, build contexts.
    pub run_dir: tempfile::TempDir,
    pub project: String,
    pub net: String,
    pub port: u16,
    pub tag: String,
    compose: Vec<String>,
    containers: HashMap<String, String>,
}

impl DockerCluster {
    /// A project with a unique name, tag, free /24 and free port; nothing is started yet, but the
    /// teardown on drop is armed already.
    pub fn new() -> DockerCluster {
        let compose = compose_program().expect("a compose command (checked by require_docker)");
        let unique = format!(
            "{}-{}",
            std::process::id(),
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos() % 1_000_000).unwrap_or(0)
        );
        let target = workspace_root().join("target");
        std::fs::create_dir_all(&target).expect("create target/");
        // Under target/ rather than /tmp: the daemon bind-mounts from here, and a daemon in a VM
        // (Docker Desktop) shares the user's directories more often than /tmp.
        let run_dir = tempfile::Builder::new().prefix("docker-test-").tempdir_in(&target).expect("tempdir");
        DockerCluster {
            run_dir,
            project: format!("frostzone-test-{unique}"),
            net: free_subnet(),
            port: free_port(),
            tag: format!("test-{unique}"),
            compose,
            containers: HashMap::new(),
        }
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("FROSTZONE_DOCKER_RUN", self.run_dir.path())
            .env("FROSTZONE_DOCKER_PROJECT", &self.project)
            .env("FROSTZONE_DOCKER_NET", &self.net)
            .env("FROSTZONE_DOCKER_PORT", self.port.to_string())
            .env("FROSTZONE_DOCKER_TAG", &self.tag)
            .env("FROSTZONE_BIN", frostzone_bin())
            .env_remove("FROSTZONE_COORDINATOR")
            .env_remove("FROSTZONE_TLS_DIR");
    }

    /// `docker/cluster.sh ARGS` for this project (not yet run).
    pub fn script(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(workspace_root().join("docker").join("cluster.sh"));
        cmd.args(args).current_dir(workspace_root());
        self.env(&mut cmd);
        cmd
    }

    /// Runs `docker/cluster.sh ARGS`; panics with its output and the containers' logs unless it
    /// exits 0. Returns stdout.
    pub fn script_ok(&self, args: &[&str]) -> String {
        let mut cmd = self.script(args);
        let out = run(&mut cmd);
        assert!(out.status.success(), "{}\n{}", describe(&cmd, &out), self.logs());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Compose with this project (not yet run).
    pub fn compose(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.compose[0]);
        cmd.args(&self.compose[1..])
            .arg("-p")
            .arg(&self.project)
            .arg("-f")
            .arg(workspace_root().join("docker-compose.yml"))
            .args(args)
            .current_dir(workspace_root());
        self.env(&mut cmd);
        cmd
    }

    /// `docker compose exec -T SERVICE ARGS...`, as run.
    pub fn exec(&self, service: &str, args: &[&str]) -> (Command, Output) {
        let mut all = vec!["exec", "-T", service];
        all.extend_from_slice(args);
        let mut cmd = self.compose(&all);
        let out = run(&mut cmd);
        (cmd, out)
    }

    /// The health of `service`'s container as its HEALTHCHECK last found it (`starting`,
    /// `healthy`, `unhealthy`).
    pub fn health(&self, service: &str) -> String {
        let mut cmd = Command::new("docker");
        cmd.args(["inspect", "--format", "{{.State.Health.Status}}", self.container(service)]);
        let out = run(&mut cmd);
        assert!(out.status.success(), "{}", describe(&cmd, &out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `docker/cluster.sh build`: the static binaries and both images.
    pub fn build(&self) {
        self.script_ok(&["build"]);
    }

    /// `docker/cluster.sh up` (waits for 5 of 5 signers), then notes every container's id.
    pub fn up(&mut self) {
        self.script_ok(&["up"]);
        for service in std::iter::once("coordinator".to_string()).chain((1..=SIGNERS).map(|k| format!("signer-{k}"))) {
            let out = run(&mut self.compose(&["ps", "-q", &service]));
            let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert!(out.status.success() && !id.is_empty(), "no container for {service} in {}", self.project);
            self.containers.insert(service, id);
        }
    }

    /// The container id of `service` (`coordinator`, `signer-K`).
    pub fn container(&self, service: &str) -> &str {
        self.containers.get(service).unwrap_or_else(|| panic!("no container {service}"))
    }

    /// `docker VERB` (stop, kill, start) of the signers `ks`, in one command.
    pub fn docker_signers(&self, verb: &str, ks: &[u16]) {
        let mut cmd = Command::new("docker");
        cmd.arg(verb);
        for k in ks {
            cmd.arg(self.container(&format!("signer-{k}")));
        }
        let out = run(&mut cmd);
        assert!(out.status.success(), "{}", describe(&cmd, &out));
    }

    /// Waits until the coordinator sees exactly `reachable` signers.
    pub fn wait(&self, reachable: u16) {
        self.script_ok(&["wait", &reachable.to_string()]);
    }

    /// `frostzone ARGS` through `docker/cluster.sh cli`, as run.
    pub fn frostzone(&self, args: &[&str]) -> (Command, Output) {
        let mut all = vec!["cli"];
        all.extend_from_slice(args);
        let mut cmd = self.script(&all);
        let out = run(&mut cmd);
        (cmd, out)
    }

    /// `frostzone ARGS`; panics unless it exits 0. Returns stdout.
    pub fn frostzone_ok(&self, args: &[&str]) -> String {
        let (cmd, out) = self.frostzone(args);
        assert!(out.status.success(), "{}\n{}", describe(&cmd, &out), self.logs());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A path in the run directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.run_dir.path().join(name)
    }

    /// The static binary `frostzone-NAME` (`coordinator`, `signer`) exactly as the image carries
    /// it: `docker/cluster.sh build` copies it into the image's build context.
    pub fn image_binary(&self, name: &str) -> PathBuf {
        self.path("image").join(name).join(format!("frostzone-{name}"))
    }

    /// The end of every container's log, for failure messages.
    pub fn logs(&self) -> String {
        let out = run(&mut self.compose(&["logs", "--no-color", "--tail", "25"]));
        format!(
            "--- container logs ({} logs --tail 25) ---\n{}{}",
            self.compose.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    fn teardown(&self) {
        let mut down = self.compose(&["down", "-v", "--remove-orphans", "-t", "5"]);
        match down.output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => say(&format!("docker cluster teardown failed: {}", describe(&down, &out))),
            Err(e) => say(&format!("docker cluster teardown: cannot run {down:?}: {e}")),
        }
        let images = [format!("frostzone-coordinator:{}", self.tag), format!("frostzone-signer:{}", self.tag)];
        let _ = Command::new("docker").arg("rmi").arg("-f").args(&images).output();
    }
}

impl Default for DockerCluster {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for DockerCluster {
    /// `compose down -v` (containers, network and the volumes with the test's key shares) and the
    /// test's images, on success and panic alike; on panic the containers' logs first.
    fn drop(&mut self) {
        if std::thread::panicking() {
            say(&self.logs());
        }
        self.teardown();
    }
}
