//! Failure drills against the Docker cluster ([`crate::docker::DockerCluster`]), run by
//! `tests/tests/docker.rs` while all five signers are up:
//!
//! * a signer's network cut mid-request (`docker network disconnect`): the request completes
//!   with another subset;
//! * the coordinator killed and started again mid-request: the client gets an error, nothing
//!   is published, the interrupted request is failed at the start, the next request completes;
//! * every signer restarted one by one while diffs keep arriving: every diff is published
//!   once, in serial order.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::docker::DockerCluster;
use crate::frostzone_bin;
use crate::programs::{describe, run};

/// Long enough for any step of a drill on a busy two-core machine.
const DRILL_WAIT: Duration = Duration::from_secs(180);

/// `examples/example.zone` plus `hosts` host names tagged `tag`: large enough that signing it
/// takes seconds, so that a drill can strike while it runs.
pub fn large_zone(example: &Path, hosts: usize, tag: &str) -> String {
    let mut zone = std::fs::read_to_string(example).expect("read the example zone");
    for h in 0..hosts {
        zone.push_str(&format!("{tag}{h}.example.com. 300 IN A 198.51.100.{}\n", h % 250 + 1));
    }
    zone
}

/// Starts `frostzone sign --full` of `zone_text` (written to `NAME.zone`) into `NAME.signed`.
fn start_full_signing(cluster: &DockerCluster, origin: &str, name: &str, zone_text: &str) -> (Child, PathBuf) {
    let file = cluster.path(&format!("{name}.zone"));
    std::fs::write(&file, zone_text).expect("write the zone");
    let out = cluster.path(&format!("{name}.signed"));
    let mut cmd = cluster.script(&["cli", "sign", "--zone", origin, "--full", "--file", path(&file), "--out", path(&out)]);
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start frostzone sign");
    (child, out)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Waits until the newest request is in a signing phase (round 1, round 2 or aggregation).
fn wait_signing(cluster: &DockerCluster, child: &mut Child) {
    let deadline = Instant::now() + DRILL_WAIT;
    loop {
        let (_, out) = cluster.frostzone(&["requests", "--limit", "1", "--json"]);
        let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let state = listed["requests"][0]["state"].as_str().unwrap_or_default().to_string();
        if ["committing", "signing", "aggregating"].contains(&state.as_str()) {
            return;
        }
        assert!(child.try_wait().expect("poll frostzone sign").is_none(), "the signing ended before the drill could strike");
        assert!(Instant::now() < deadline, "no request reached signing (last state {state:?})\n{}", cluster.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn finish(child: Child) -> Output {
    child.wait_with_output().expect("frostzone sign output")
}

fn verify(signed: &Path, ds: &Path) {
    let mut cmd = Command::new(frostzone_bin());
    cmd.arg("verify").arg(signed).arg("--ds").arg(ds);
    let out = run(&mut cmd);
    assert!(out.status.success(), "{}", describe(&cmd, &out));
}

/// The published serial of `origin` from `frostzone status`.
pub fn published_serial(cluster: &DockerCluster, origin: &str) -> u32 {
    let status = cluster.frostzone_ok(&["status"]);
    status
        .lines()
        .find_map(|l| {
            let mut fields = l.split_whitespace();
            (fields.next() == Some(origin)).then(|| fields.next()?.parse().ok()).flatten()
        })
        .unwrap_or_else(|| panic!("no published serial of {origin} in status:\n{status}"))
}

/// Signer-1's network is cut while a large zone is being signed; the request completes with
/// the others and validates. Signer-1 is connected again at its address.
pub fn network_cut_mid_request(cluster: &DockerCluster, origin: &str, example: &Path, ds: &Path) {
    let (mut child, out) = start_full_signing(cluster, origin, "cut", &large_zone(example, 1500, "cut"));
    wait_signing(cluster, &mut child);
    let network = format!("{}_frostzone", cluster.project);
    let container = cluster.container("signer-1").to_string();
    let mut cut = Command::new("docker");
    cut.args(["network", "disconnect", "--force", &network, &container]);
    let o = run(&mut cut);
    assert!(o.status.success(), "{}", describe(&cut, &o));
    let output = finish(child);
    let mut reconnect = Command::new("docker");
    reconnect.args(["network", "connect", "--ip", &format!("{}.11", cluster.net), &network, &container]);
    let o = run(&mut reconnect);
    assert!(o.status.success(), "{}", describe(&reconnect, &o));
    assert!(output.status.success(), "signing with signer-1 cut off failed:\n{}\n{}", String::from_utf8_lossy(&output.stderr), cluster.logs());
    verify(&out, ds);
    cluster.wait(5);
}

/// The coordinator is killed and started again while a large zone is being signed: the client fails, the
/// published serial stays, the interrupted request is failed at the restart, and signing again
/// publishes.
pub fn coordinator_restart_mid_request(cluster: &DockerCluster, origin: &str, example: &Path, ds: &Path) {
    let before = published_serial(cluster, origin);
    let zone = large_zone(example, 1500, "restart");
    let (mut child, out) = start_full_signing(cluster, origin, "restart", &zone);
    wait_signing(cluster, &mut child);
    // Killed, not stopped: a stop lets running requests finish within a grace period.
    for verb in ["kill", "start"] {
        let mut cmd = Command::new("docker");
        cmd.args([verb, cluster.container("coordinator")]);
        let o = run(&mut cmd);
        assert!(o.status.success(), "{}", describe(&cmd, &o));
    }
    let output = finish(child);
    assert!(!output.status.success(), "frostzone sign succeeded across a coordinator restart:\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(!out.exists(), "{} was written although the request was cut off", out.display());
    cluster.wait(5);
    assert_eq!(published_serial(cluster, origin), before, "something was published by the interrupted request");
    let listed = cluster.frostzone_ok(&["requests", "--limit", "1", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("requests --json");
    let newest = &listed["requests"][0];
    assert_eq!(newest["state"].as_str(), Some("failed"), "{newest}");
    assert!(newest["error"].as_str().unwrap_or_default().contains("interrupted"), "{newest}");
    let (child, out) = start_full_signing(cluster, origin, "restart-again", &zone);
    let output = finish(child);
    assert!(output.status.success(), "{}\n{}", String::from_utf8_lossy(&output.stderr), cluster.logs());
    verify(&out, ds);
    assert_eq!(published_serial(cluster, origin), before + 1);
}

/// Diffs keep arriving, one after the other, while every signer is restarted in turn: each is
/// published once and the serials follow each other. `base` is the zone text published now.
pub fn rolling_restart_under_diffs(cluster: &DockerCluster, origin: &str, base: &str) {
    let first = published_serial(cluster, origin);
    const DIFFS: usize = 8;
    let outputs = std::thread::scope(|scope| {
        let diffs = scope.spawn(|| {
            let mut previous = cluster.path("rolling-0.zone");
            std::fs::write(&previous, base).expect("write the base zone");
            let mut outputs = Vec::new();
            for i in 1..=DIFFS {
                let next = cluster.path(&format!("rolling-{i}.zone"));
                let text = std::fs::read_to_string(&previous).expect("read the previous zone");
                std::fs::write(&next, format!("{text}rolling-{i}.example.com. 300 IN TXT \"diff {i}\"\n")).expect("write the zone");
                let changes = cluster.frostzone_ok(&["diff", "--zone", origin, path(&previous), path(&next)]);
                let changes_file = cluster.path(&format!("rolling-{i}.changes"));
                std::fs::write(&changes_file, changes).expect("write the changes");
                let out = cluster.frostzone_ok(&["sign", "--zone", origin, "--changes", path(&changes_file)]);
                outputs.push(out);
                previous = next;
                std::thread::sleep(Duration::from_millis(300));
            }
            outputs
        });
        for k in 1..=5u16 {
            cluster.docker_signers("restart", &[k]);
            cluster.wait(5);
        }
        diffs.join().expect("the diffs' thread panicked")
    });
    let serials: Vec<u32> = outputs.iter().map(|o| printed_serial(o)).collect();
    let expected: Vec<u32> = (1..=DIFFS as u32).map(|i| first + i).collect();
    assert_eq!(serials, expected, "each diff published once, in serial order:\n{}", outputs.join("\n"));
    let zone = cluster.frostzone_ok(&["zone", "get", "--zone", origin]);
    for i in 1..=DIFFS {
        assert_eq!(zone.matches(&format!("\"diff {i}\"")).count(), 1, "diff {i} in the published zone");
    }
}

/// The serial `frostzone sign --changes` printed (`... serial N ...`).
fn printed_serial(output: &str) -> u32 {
    output
        .split("serial ")
        .skip(1)
        .find_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or_else(|| panic!("no serial in the sign output:\n{output}"))
}
