//! The Docker deployment end to end: `docker/cluster.sh` builds the static binaries and the
//! FROM-scratch images, and brings up `docker-compose.yml` — a coordinator and five signers, each
//! in its own container, on a private network with static addresses — under a unique project
//! name. The operator CLI on the host then generates a KSK and a ZSK (3-of-5 DKG) and signs
//! `examples/example.zone` through the coordinator's published port; signers are stopped, killed
//! and started again with `docker`, and the shares must survive in their volumes. Drills
//! (`frostzone_tests::docker_drills`): a signer's network cut mid-request, the coordinator killed
//! mid-request, every signer restarted in turn while diffs arrive; then an operator's approval
//! in a signer's container completes a quorum.
//!
//! The signers' roster comes from `docker/cluster.sh init`: each signer makes its identity key
//! in its own volume; a signer that the roster does not list would not start. The images must
//! carry release binaries: the signer and the coordinator without the test-only fault injection.
//!
//! Without a working Docker engine the test prints `skipped: ...` and passes, unless
//! `FROSTZONE_REQUIRE_DOCKER=1` (scripts/test sets it wherever `docker info` works). The first
//! run builds the static binaries into target/static (a few minutes on two cores).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use frostzone_proto::roster::Roster;
use frostzone_tests::docker::{require_docker, say, DockerCluster, SIGNERS};
use frostzone_tests::docker_drills;
use frostzone_tests::programs::{describe, require, run};
use frostzone_tests::{example_zone, frostzone_bin};

const ORIGIN: &str = "example.com.";
const TEST: &str = "docker_cluster_signs_survives_stop_kill_and_restart";

/// Signs the example zone into `NAME.signed` in the run directory and checks it: `frostzone
/// verify --ds` against `ds`, and ldns-verify-zone when `check_ldns`.
fn sign_and_verify(cluster: &DockerCluster, name: &str, ds: &Path, check_ldns: bool) -> PathBuf {
    let out = cluster.path(&format!("{name}.signed"));
    let zone = example_zone();
    let (cmd, output) = cluster.frostzone(&[
        "sign",
        "--zone",
        ORIGIN,
        "--file",
        zone.to_str().expect("UTF-8 path"),
        "--out",
        out.to_str().expect("UTF-8 path"),
    ]);
    assert!(output.status.success(), "{name}: {}\n{}", describe(&cmd, &output), cluster.logs());
    assert!(out.is_file(), "{name}: {cmd:?} exited 0 but wrote no {}", out.display());
    let mut verify = Command::new(frostzone_bin());
    verify.arg("verify").arg(&out).arg("--ds").arg(ds);
    let v = run(&mut verify);
    assert!(v.status.success(), "{name}: {}", describe(&verify, &v));
    if check_ldns {
        let mut ldns = Command::new("ldns-verify-zone");
        ldns.arg(&out);
        let l = run(&mut ldns);
        assert!(l.status.success(), "{name}: {}", describe(&ldns, &l));
    }
    out
}

/// The binaries the images carry are release builds: `--version` does not say "fault injection"
/// and no byte of them holds a fault switch's variable name (only `fault-injection` builds do).
fn assert_no_fault_injection(binary: &Path, switches: &[&str]) {
    let mut version = Command::new(binary);
    version.arg("--version");
    let out = run(&mut version);
    assert!(out.status.success(), "{}", describe(&version, &out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("fault injection"), "{} is a test build: {text}", binary.display());
    let bytes = std::fs::read(binary).unwrap_or_else(|e| panic!("cannot read {}: {e}", binary.display()));
    for switch in switches {
        let needle = switch.as_bytes();
        assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{} contains {switch}: built with fault injection", binary.display());
    }
}

/// Every party's copy of the roster `docker/cluster.sh init` wrote is the same file: t = 3 and
/// signer-1 to signer-5 as participants 1 to 5.
fn assert_roster(cluster: &DockerCluster) {
    let operator = cluster.path("operator/roster.toml");
    let roster = Roster::load(&operator).unwrap_or_else(|e| panic!("{e}"));
    let members: Vec<(u16, String)> = roster.members().map(|m| (m.participant, m.name.clone())).collect();
    let expected: Vec<(u16, String)> = (1..=SIGNERS).map(|k| (k, format!("signer-{k}"))).collect();
    assert_eq!((roster.threshold, members), (3, expected), "{}", operator.display());
    let text = std::fs::read(&operator).expect("read the operator's roster");
    for k in 1..=SIGNERS {
        let copy = cluster.path(&format!("signer-{k}/roster.toml"));
        let copied = std::fs::read(&copy).unwrap_or_else(|e| panic!("cannot read {}: {e}", copy.display()));
        assert!(copied == text, "{} differs from {}", copy.display(), operator.display());
    }
}

/// What each operator has: the containers' own health checks report healthy, and signer-1's
/// operator reaches its admin socket with the CLI in its container and, as root (the signer's
/// user in the container), from the host directory the socket is in.
fn operators_at_the_signers(cluster: &DockerCluster) {
    let deadline = Instant::now() + std::time::Duration::from_secs(90);
    for service in ["coordinator", "signer-1", "signer-5"] {
        loop {
            let health = cluster.health(service);
            if health == "healthy" {
                break;
            }
            assert!(Instant::now() < deadline, "{service} is {health}, not healthy\n{}", cluster.logs());
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    let (cmd, out) = cluster.exec("signer-1", &["/frostzone", "pending", "--all", "--socket", "/run/frostzone/admin.sock"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && listed.contains(ORIGIN) && listed.contains("published"), "{}", describe(&cmd, &out));
    let (cmd, out) = cluster.exec("signer-1", &["/frostzone-signer", "--config", "/etc/frostzone/signer.toml", "health"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("ok: signer-1 answers"), "{}", describe(&cmd, &out));
    let socket = cluster.path("signer-1/admin/admin.sock");
    assert!(socket.exists(), "no admin socket in the host directory {}", socket.display());
    let mut cmd = Command::new(frostzone_bin());
    cmd.args(["pending", "--all", "--socket"]).arg(&socket);
    let out = run(&mut cmd);
    let as_root = std::fs::metadata(&socket).map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
        && Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if as_root {
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains(ORIGIN), "{}", describe(&cmd, &out));
    } else {
        say(&format!("{TEST}: not root: the host-side admin socket check is skipped ({})", String::from_utf8_lossy(&out.stderr).trim()));
    }
}

/// Signers 3, 4 and 5 are up (t = 3). Signer-3's operator now reviews every change
/// (`max_rrsets_changed = 0`): a diff is approved by 4 and 5 by policy and waits for signer-3's
/// operator, who finds it with `pending`, reads it with `show` and approves it with the CLI in
/// the signer's container; then it is signed and published.
fn operator_completes_the_quorum(cluster: &DockerCluster) {
    let policy = cluster.path("signer-3/policy.toml");
    let text = std::fs::read_to_string(&policy).expect("read signer-3's policy");
    std::fs::write(&policy, text.replace("max_rrsets_changed = 1000000", "max_rrsets_changed = 0")).expect("write the policy");
    cluster.docker_signers("restart", &[3]);
    cluster.wait(3);
    let old = example_zone();
    let new = cluster.path("diff.zone");
    let mut zone = std::fs::read_to_string(&old).expect("read the example zone");
    zone.push_str("operator-approved.example.com. 300 IN TXT \"a diff signer-3's operator approved\"\n");
    std::fs::write(&new, zone).expect("write the new zone");
    let changes = cluster.frostzone_ok(&["diff", "--zone", ORIGIN, old.to_str().expect("UTF-8"), new.to_str().expect("UTF-8")]);
    let changes_file = cluster.path("demo.changes");
    std::fs::write(&changes_file, changes).expect("write the changes");
    let out_changes = cluster.path("demo.signed-changes");
    let mut sign = cluster.script(&["cli", "sign", "--zone", ORIGIN, "--changes", changes_file.to_str().expect("UTF-8"), "--out-changes", out_changes.to_str().expect("UTF-8")]);
    let mut child = sign.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("start frostzone sign");
    let socket = "/run/frostzone/admin.sock";
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    let id = loop {
        let (cmd, out) = cluster.exec("signer-3", &["/frostzone", "pending", "--json", "--socket", socket]);
        assert!(out.status.success(), "{}", describe(&cmd, &out));
        let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("pending --json");
        if let Some(id) = listed["requests"].as_array().and_then(|r| r.first()).and_then(|r| r["request_id"].as_str()) {
            break id.to_string();
        }
        assert!(Instant::now() < deadline, "nothing pending on signer-3\n{}", cluster.logs());
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let (cmd, out) = cluster.exec("signer-3", &["/frostzone", "show", &id, "--socket", socket]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && shown.contains("+operator-approved.example.com."), "{}", describe(&cmd, &out));
    let (cmd, out) = cluster.exec("signer-3", &["/frostzone", "approve", &id, "--socket", socket, "--operator", "carol"]);
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    let output = loop {
        if child.try_wait().expect("wait for frostzone sign").is_some() {
            break child.wait_with_output().expect("frostzone sign output");
        }
        assert!(Instant::now() < deadline, "frostzone sign still waits after the approval\n{}", cluster.logs());
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "frostzone sign --changes failed:\n{stderr}\n{}", cluster.logs());
    assert!(stderr.contains("pending") && stderr.contains("signer-3"), "the wait was not shown:\n{stderr}");
    let signed = std::fs::read_to_string(&out_changes).expect("the signed changes");
    assert!(signed.contains("operator-approved.example.com.") && signed.contains("RRSIG"), "{signed}");
    let (cmd, out) = cluster.exec("signer-3", &["/frostzone", "show", &id, "--socket", socket]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("by carol"), "{}", describe(&cmd, &out));
}

#[test]
fn docker_cluster_signs_survives_stop_kill_and_restart() {
    if !require_docker(TEST) {
        return;
    }
    // ldns-verify-zone is required like in the other interop tests (FROSTZONE_SKIP_INTEROP=1
    // skips only that check here).
    let check_ldns = require(TEST, &["ldns-verify-zone"]);
    let started = Instant::now();
    let mut timings = Vec::new();
    let mut step = |what: &str, since: &mut Instant| {
        timings.push(format!("{what} {:.1} s", since.elapsed().as_secs_f64()));
        eprintln!("{TEST}: {what} done after {:.1} s", since.elapsed().as_secs_f64());
        *since = Instant::now();
    };
    let mut t = Instant::now();

    // The guard: from here on, `compose down -v` runs however the test ends.
    let mut cluster = DockerCluster::new();
    eprintln!(
        "{TEST}: project {}, network {}.0/24, coordinator on 127.0.0.1:{}, run dir {}",
        cluster.project,
        cluster.net,
        cluster.port,
        cluster.run_dir.path().display()
    );
    cluster.build();
    assert_no_fault_injection(&cluster.image_binary("signer"), &["FROSTZONE_FAULT_CORRUPT_SHARES", "FROSTZONE_FAULT_REFUSE_REFRESH_COMMIT"]);
    assert_no_fault_injection(&cluster.image_binary("coordinator"), &["FROSTZONE_FAULT_KILL_BEFORE_STEP_RECORD"]);
    step("static build + images", &mut t);
    cluster.up();
    assert_roster(&cluster);
    step("up (roster, 5 of 5 signers reachable)", &mut t);

    // A KSK and a ZSK by DKG across the five containers; DS from the coordinator.
    for role in ["ksk", "zsk"] {
        let out = cluster.frostzone_ok(&["keys", "generate", "--zone", ORIGIN, "--role", role]);
        assert!(out.contains("3 of 5"), "keys generate --role {role}:\n{out}");
    }
    let ds = cluster.path("example.ds");
    let ds_text = cluster.frostzone_ok(&["ds", "--zone", ORIGIN]);
    std::fs::write(&ds, &ds_text).expect("write DS file");
    step("DKG of KSK and ZSK", &mut t);
    sign_and_verify(&cluster, "all-up", &ds, check_ldns);
    step("sign with 5 of 5", &mut t);
    operators_at_the_signers(&cluster);
    step("health checks, the CLI in signer-1's container and on its host directory", &mut t);
    let example = example_zone();
    docker_drills::network_cut_mid_request(&cluster, ORIGIN, &example, &ds);
    step("signer-1's network cut mid-request, signed by the others", &mut t);
    docker_drills::coordinator_restart_mid_request(&cluster, ORIGIN, &example, &ds);
    step("coordinator killed mid-request, nothing published, signed again", &mut t);
    docker_drills::rolling_restart_under_diffs(&cluster, ORIGIN, &docker_drills::large_zone(&example, 1500, "restart"));
    step("every signer restarted in turn under 8 diffs", &mut t);

    // Two signers stopped (SIGTERM): 3 of 5 are left, enough.
    cluster.docker_signers("stop", &[4, 5]);
    sign_and_verify(&cluster, "two-stopped", &ds, check_ldns);
    step("stop 2 + sign", &mut t);

    // A third one killed (SIGKILL): no quorum of approvals can form; once the unreachable signers
    // have had their grace the request fails with "quorum unavailable", exit 2, nothing written.
    cluster.docker_signers("kill", &[3]);
    let out = cluster.path("three-down.signed");
    let zone = example_zone();
    let (cmd, output) = cluster.frostzone(&[
        "sign",
        "--zone",
        ORIGIN,
        "--file",
        zone.to_str().expect("UTF-8 path"),
        "--out",
        out.to_str().expect("UTF-8 path"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&cmd, &output));
    assert!(stderr.contains("quorum unavailable"), "{}", describe(&cmd, &output));
    for k in [3, 4, 5] {
        assert!(stderr.contains(&format!("signer-{k} (unreachable")), "{}", describe(&cmd, &output));
    }
    assert!(!out.exists(), "{} was written although signing failed", out.display());
    step("kill 1 more + quorum unavailable", &mut t);

    // Started again: their shares are in their volumes. Then signers 1 and 2 are stopped, so
    // that the next signature can only come from the three restarted containers.
    cluster.docker_signers("start", &[3, 4, 5]);
    cluster.wait(5);
    cluster.docker_signers("stop", &[1, 2]);
    cluster.wait(3);
    sign_and_verify(&cluster, "restarted", &ds, check_ldns);
    let status = cluster.frostzone_ok(&["status"]);
    let last = status
        .lines()
        .find(|l| l.contains(ORIGIN) && l.contains("published"))
        .unwrap_or_else(|| panic!("no published request in status:\n{status}"));
    assert!(
        last.contains("signer-3,signer-4,signer-5"),
        "the last request should be signed by the restarted signers 3, 4, 5:\n{status}"
    );
    let ds_after = cluster.frostzone_ok(&["ds", "--zone", ORIGIN]);
    assert_eq!(ds_after, ds_text, "the DS changed across the restarts");
    step("start 3 + stop 1,2 + sign by 3,4,5", &mut t);

    operator_completes_the_quorum(&cluster);
    step("a diff that waits for signer-3's operator, approved in its container", &mut t);

    drop(cluster);
    step("compose down -v", &mut t);
    say(&format!("{TEST}: passed in {:.1} s ({})", started.elapsed().as_secs_f64(), timings.join(", ")));
}
