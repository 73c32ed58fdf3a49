//! Signer policy and audit logs with real processes: a signer whose operator policy does not
//! serve a zone rejects its requests (and the coordinator signs with the others, or fails when
//! too few are left); every proposal, Commit, Sign and request lands in the nodes' hash-chained
//! audit logs, and editing one entry on disk is caught by `frostzone audit --verify`; a bad policy
//! file stops a signer at start, naming the file and the field.

use std::process::Command;
use std::sync::Mutex;

use frostzone_proto::audit::{verify, AuditEntry};
use frostzone_tests::cluster::{auto_policy, workspace_binary, Cluster};
use frostzone_tests::example_zone;
use frostzone_tests::programs::{describe, run};

const ORIGIN: &str = "example.com.";

/// A policy that serves another zone only (changes approved by policy: this test is not about
/// approvals).
fn other_zone_only() -> String {
    auto_policy("zones = [\"other.test.\"]")
}

/// One cluster at a time (two cores).
static SERIAL: Mutex<()> = Mutex::new(());

fn entries(cluster: &Cluster, node: &str) -> Vec<AuditEntry> {
    let path = cluster.audit_log(node);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    verify(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())).entries
}

fn audit(cluster: &Cluster, node: &str, verify: bool) -> std::process::Output {
    let mut cmd = Command::new(frostzone_tests::frostzone_bin());
    cmd.arg("audit").arg("--file").arg(cluster.audit_log(node));
    if verify {
        cmd.arg("--verify");
    }
    run(&mut cmd)
}

#[test]
fn policy_refusals_are_audited_and_an_edited_entry_is_detected() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cluster = Cluster::new(3, 2);
    cluster.start_all();
    cluster.wait_ready(3);
    cluster.generate_keys(ORIGIN);
    // Signer 1's operator then stops serving the zone (a signer takes part in no key ceremony
    // for a zone it does not serve, so the keys come first).
    cluster.kill_signer(1);
    cluster.set_policy(1, &other_zone_only());
    cluster.start_signer(1, &[]);
    cluster.wait_ready(3);

    // Signer 1 refuses the zone; 2 of 3 is still a quorum.
    let out = cluster.dir.path().join("one.signed");
    let mut cmd = cluster.sign_command(ORIGIN, &example_zone(), &out);
    let o = run(&mut cmd);
    assert!(o.status.success(), "{}\n{}", describe(&cmd, &o), cluster.logs());

    // Signer 1 rejects the proposal itself; the quorum is chosen among the approvers, so it is
    // never even asked to commit.
    let refused = entries(&cluster, "signer-1");
    assert!(
        refused.iter().any(|e| e.event == "propose" && e.outcome.starts_with("rejected") && e.outcome.contains("not served")),
        "signer-1 audit: {refused:#?}"
    );
    assert!(!refused.iter().any(|e| e.event == "commit" || e.event == "sign"), "signer-1 took part: {refused:#?}");
    let coordinator = entries(&cluster, "coordinator");
    let request = coordinator.iter().find(|e| e.event == "request").expect("request entry");
    let released = coordinator.iter().find(|e| e.event == "published").expect("published entry");
    assert_eq!(request.request, released.request);
    assert_eq!(request.content_hash.len(), 64);
    assert_eq!(request.operator, "operator");
    assert!(released.signers.len() == 2 && !released.signers.contains(&"signer-1".to_string()), "{released:?}");
    for k in [2, 3] {
        let log = entries(&cluster, &format!("signer-{k}"));
        let commits = log.iter().filter(|e| e.event == "commit").count();
        let signs = log.iter().filter(|e| e.event == "sign").count();
        assert!(signs >= 1 && commits >= signs, "signer-{k} audit: {log:#?}");
    }

    // The listing and --verify agree with the file.
    let listed = audit(&cluster, "signer-2", false);
    assert!(listed.status.success() && String::from_utf8_lossy(&listed.stdout).contains("commit"));
    let ok = audit(&cluster, "signer-2", true);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("chain intact"));

    // Editing one entry on disk (the outcome of entry 2) is detected, naming that entry.
    let path = cluster.audit_log("signer-2");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    second["outcome"] = serde_json::Value::String("nothing happened".into());
    lines[1] = second.to_string();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let bad = audit(&cluster, "signer-2", true);
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("entry 2") && stdout.contains("edited"), "{stdout}");

    // With a second signer refusing, no quorum serves the zone: the request fails, audited.
    cluster.kill_signer(3);
    cluster.set_policy(3, &other_zone_only());
    cluster.start_signer(3, &[]);
    cluster.wait_ready(3);
    let out = cluster.dir.path().join("two.signed");
    let mut cmd = cluster.sign_command(ORIGIN, &example_zone(), &out);
    let o = run(&mut cmd);
    assert!(!o.status.success(), "signed with one serving signer: {}", describe(&cmd, &o));
    assert!(!out.exists());
    let coordinator = entries(&cluster, "coordinator");
    let failed = coordinator.iter().rev().find(|e| e.event == "failed").expect("failed entry");
    assert!(failed.outcome.contains("not served"), "{failed:?}");
    let refused = entries(&cluster, "signer-3");
    assert!(
        refused.iter().any(|e| e.event == "propose" && e.outcome.starts_with("rejected") && e.outcome.contains("not served")),
        "signer-3 audit: {refused:#?}"
    );
}

#[test]
fn a_bad_policy_file_stops_the_signer_naming_the_field() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = Cluster::new(2, 2);
    cluster.set_policy(1, "version = 1\n[validity]\nmin_lifetime_secs = 10\nmax_lifetime_secs = 5\n");
    let mut cmd = Command::new(workspace_binary("frostzone-signer"));
    cmd.arg("--config").arg(cluster.signer_config(1)).arg("--check-config").current_dir(cluster.dir.path());
    let o = run(&mut cmd);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{}", describe(&cmd, &o));
    assert!(stderr.contains("policy.toml") && stderr.contains("validity.min_lifetime_secs"), "{stderr}");

    cluster.set_policy(1, &auto_policy("zones = [\"example.com.\"]\nrr_types = [\"A\", \"SOA\"]"));
    let o = run(&mut cmd);
    assert!(o.status.success(), "{}", describe(&cmd, &o));
}
