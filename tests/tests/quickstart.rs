//! The README's first command: `frostzone quickstart` on its embedded default (the example
//! zone, a 3-of-5 cluster on loopback) signs, and what it writes passes the other projects'
//! validators. With `--keep-running` the cluster stays up for the commands the README walks
//! through next, with the environment it prints, until `--stop`.

use std::process::Command;

use frostzone_tests::port::free_port_block;
use frostzone_tests::programs::{describe, require, run};
use frostzone_tests::validators::assert_validators_accept;
use frostzone_tests::{frostzone_bin, workspace_root};

/// How far above its service port each process serves its metrics: `METRICS_PORT_OFFSET` in
/// cli/src/cluster.rs (the CLI is a binary crate, so the constant cannot be imported).
const METRICS_PORT_OFFSET: u16 = 100;

/// A base port for a cluster of `n` processes: quickstart binds `base..base+n` for the
/// services and the same again [`METRICS_PORT_OFFSET`] higher for their metrics.
fn free_ports_in_a_row(n: u16) -> u16 {
    free_port_block(n, &[0, METRICS_PORT_OFFSET])
}

#[test]
fn quickstart_signs_the_example_zone_and_other_validators_accept_it() {
    if !require("quickstart_signs_the_example_zone_and_other_validators_accept_it", &["ldns-verify-zone", "dnssec-verify", "kzonecheck"]) {
        return;
    }
    let out = tempfile::tempdir().expect("temp dir");
    let base = free_ports_in_a_row(6);
    let mut cmd = Command::new(frostzone_bin());
    // Run as the README says: from the repository root, with the default zone.
    cmd.current_dir(workspace_root())
        .args(["quickstart", "--out"])
        .arg(out.path())
        .args(["--base-port", &base.to_string()]);
    let done = run(&mut cmd);
    assert!(done.status.success(), "{}", describe(&cmd, &done));
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(stdout.contains("validated here from the DS: example.com.: valid"), "{stdout}");
    assert!(stdout.contains("stopped 6 processes"), "{stdout}");
    let signed = out.path().join("example.com.signed");
    let ds = std::fs::read_to_string(out.path().join("example.com.ds")).expect("the DS file");
    assert!(ds.contains("IN\tDS\t") || ds.contains(" DS "), "{ds}");
    assert_validators_accept(&signed, "example.com.", false, "quickstart's signed zone");
}

#[test]
fn a_cluster_kept_running_answers_with_the_printed_environment_until_stopped() {
    let out = tempfile::tempdir().expect("temp dir");
    let base = free_ports_in_a_row(4);
    let quickstart = |extra: &[&str]| {
        let mut cmd = Command::new(frostzone_bin());
        cmd.current_dir(workspace_root())
            .args(["quickstart", "--signers", "3", "--threshold", "2", "--out"])
            .arg(out.path())
            .args(["--base-port", &base.to_string()])
            .args(extra);
        let done = run(&mut cmd);
        assert!(done.status.success(), "{}", describe(&cmd, &done));
        String::from_utf8_lossy(&done.stdout).into_owned()
    };
    let kept = quickstart(&["--keep-running"]);
    let _stop_on_failure = StopOnDrop(out.path().to_path_buf());
    let env = |name: &str| {
        kept.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("export {name}=")))
            .unwrap_or_else(|| panic!("no {name} in:\n{kept}"))
            .to_string()
    };
    let frostzone = |args: &[&str]| {
        let mut cmd = Command::new(frostzone_bin());
        cmd.env("FROSTZONE_COORDINATOR", env("FROSTZONE_COORDINATOR")).env("FROSTZONE_TLS_DIR", env("FROSTZONE_TLS_DIR")).args(args);
        run(&mut cmd)
    };
    let status = frostzone(&["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("signers: 3 of 3 reachable"), "{}\n{kept}", String::from_utf8_lossy(&status.stdout));
    let zone = frostzone(&["zone", "get", "--zone", "example.com."]);
    assert!(zone.status.success() && String::from_utf8_lossy(&zone.stdout).contains("RRSIG"), "{}", String::from_utf8_lossy(&zone.stderr));
    // A signer's admin socket as printed.
    let socket = kept.lines().find_map(|l| l.split("--socket ").nth(1)).expect("an admin socket line").trim().to_string();
    let mut pending = Command::new(frostzone_bin());
    pending.args(["pending", "--socket", &socket]);
    let p = run(&mut pending);
    assert!(p.status.success(), "{}", describe(&pending, &p));
    // A second quickstart into the same directory is refused while it runs.
    let mut again = Command::new(frostzone_bin());
    again.current_dir(workspace_root()).args(["quickstart", "--out"]).arg(out.path()).args(["--base-port", &base.to_string()]);
    let a = run(&mut again);
    assert!(!a.status.success() && String::from_utf8_lossy(&a.stderr).contains("--stop"), "{}", describe(&again, &a));
    let stopped = quickstart(&["--stop"]);
    assert!(stopped.contains("stopped 4 processes"), "{stopped}");
    assert!(!frostzone(&["status"]).status.success(), "the coordinator still answers after --stop");
}

/// Stops a cluster left running when a test fails before its own `--stop`.
struct StopOnDrop(std::path::PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = Command::new(frostzone_bin()).args(["quickstart", "--stop", "--out"]).arg(&self.0).output();
    }
}
