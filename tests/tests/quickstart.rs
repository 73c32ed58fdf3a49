//! The README's first command: `frostzone quickstart` on its embedded default (the example
//! zone, a 3-of-5 cluster on loopback) signs, and what it writes passes the other projects'
//! validators.

use std::net::TcpListener;
use std::process::Command;

use frostzone_tests::port::free_port;
use frostzone_tests::programs::{describe, require, run};
use frostzone_tests::validators::assert_validators_accept;
use frostzone_tests::{frostzone_bin, workspace_root};

/// A port with the next `n - 1` free too (the coordinator, then one per signer).
fn free_ports_in_a_row(n: u16) -> u16 {
    for _ in 0..100 {
        let base = free_port();
        if base.checked_add(n).is_some() && (1..n).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no {n} free ports in a row on 127.0.0.1");
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
