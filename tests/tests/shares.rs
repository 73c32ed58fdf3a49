//! Share refresh and share repair with real processes, each a key ceremony the signers approve.
//!
//! Refresh (frost's refresh DKG): a 2-of-3 cluster with one CSK signs a zone, and then
//!
//! * `frostzone keys refresh` succeeds and says so; every signer audits `shares-refreshed`; the
//!   key tag, the DNSKEY, the DS and the published DNSKEY RRset stay byte for byte the same, and
//!   the next version signs and validates with the DS taken before the refresh.
//! * An old share is useless: signer-1 started from a copy of its data directory taken before the
//!   refresh (the same identity, config and passphrase), with signer-2 down so that every quorum
//!   needs signer-1, cannot sign: the request fails and nothing is published.
//! * Back on its refreshed store, signer-1 signs again (with signer-2 still down, so its share is
//!   in the quorum), and so does the whole cluster, under the unchanged DNSKEY.
//! * A refresh whose commit one signer fails (fault injection: it confirmed, then the commit does
//!   not reach it) deletes no share of that signer; the zone does not sign while the package is
//!   unsettled (a clear error naming the command that finishes it); `keys refresh` again finishes
//!   the same refresh (no second one), and the zone signs.
//! * With `[zones.rollover] share_refresh_interval` set, the coordinator refreshes the key by
//!   itself (a `shares-refreshed` event on every signer that nobody asked for), and the zone
//!   still signs and validates afterwards.
//!
//! Repair (frost's repairable threshold scheme): signer-3's store is replaced by a copy taken
//! before the key was made (the same identity, no share of the key). A repair for signer-1, which
//! holds its share, is refused; the repair for signer-3 rebuilds its share from signer-1 and
//! signer-2 (each audits its part once); with signer-1 down, signer-2 and the repaired signer-3
//! sign a version that validates under the DS of before; a second repair is refused.
//!
//! Join: a 2-of-3 key, then a fourth signer enters every roster (t stays 2); `keys repair` for it
//! makes its share with the three holders helping, the key and DNSKEY unchanged; a refresh then
//! runs among all four, and signer-3 and the newcomer alone sign a version that validates.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Instant;

use frostzone_tests::approvals::{poll, DEADLINE};
use frostzone_tests::cluster::Cluster;
use frostzone_tests::coordinator_config::{self, Rollover};
use frostzone_tests::programs::{describe, find_program, run};
use serde_json::Value;

const ZONE: &str = "refresh.example.";

/// The audit event of a share refresh.
const REFRESHED: &str = "shares-refreshed";

/// Where signer-1's pre-refresh store is copied to, beside its own `signer-1/data`.
const OLD_SHARE: &str = "signer-1/old-share";

/// Where signer-3's store from before the key is copied to.
const NO_SHARE: &str = "signer-3/before-key";

/// One cluster at a time: two would share the machine's two cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// Version `n` of the zone: its serial is `n`, and a TXT record names it, so that each version
/// is a real change.
fn zone_text(n: u32) -> String {
    format!(
        "$TTL 300\n\
         refresh.example. IN SOA ns1.refresh.example. hostmaster.refresh.example. {n} 3600 600 86400 300\n\
         refresh.example. IN NS ns1.refresh.example.\n\
         ns1.refresh.example. IN A 192.0.2.1\n\
         www.refresh.example. IN A 192.0.2.80\n\
         v{n}.refresh.example. IN TXT \"version {n}\"\n"
    )
}

/// Runs `frostzone sign` of version `n` into `vN.signed`; the command, its output and the file.
fn sign(cluster: &Cluster, n: u32, extra: &[&str]) -> (Command, Output, PathBuf) {
    let zone_file = cluster.dir.path().join(format!("v{n}.zone"));
    std::fs::write(&zone_file, zone_text(n)).expect("write zone");
    let out = cluster.dir.path().join(format!("v{n}.signed"));
    let mut cmd = cluster.sign_command(ZONE, &zone_file, &out);
    cmd.args(extra);
    let output = run(&mut cmd);
    (cmd, output, out)
}

/// Signs version `n`, asserting success and that it validates with the DS of `ds` (taken before
/// any refresh) and publishes the DNSKEY RRset `dnskeys`; the signed text.
fn sign_ok(cluster: &Cluster, n: u32, ds: &Path, dnskeys: &[String]) -> String {
    let (cmd, output, out) = sign(cluster, n, &[]);
    assert!(output.status.success(), "version {n}: {}\n{}", describe(&cmd, &output), cluster.logs());
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("{cmd:?} exited 0 but {}: {e}", out.display()));
    assert!(text.contains(&format!("v{n}.{ZONE}")), "version {n} is not in what was signed:\n{text}");
    verify(&out, ds);
    assert_eq!(dnskey_rrset(&text), dnskeys, "version {n} publishes another DNSKEY RRset:\n{text}");
    assert_eq!(published(cluster), text, "version {n} is not what the coordinator publishes");
    text
}

/// `frostzone verify --ds`, and ldns-verify-zone when it is installed.
fn verify(signed: &Path, ds: &Path) {
    let mut cmd = Command::new(frostzone_tests::frostzone_bin());
    cmd.arg("verify").arg(signed).arg("--ds").arg(ds);
    let out = run(&mut cmd);
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    if find_program("ldns-verify-zone").is_some() {
        let mut cmd = Command::new("ldns-verify-zone");
        cmd.arg(signed);
        let out = run(&mut cmd);
        assert!(out.status.success(), "{}", describe(&cmd, &out));
    }
}

/// The version the coordinator publishes now (`frostzone zone get`).
fn published(cluster: &Cluster) -> String {
    cluster.frostzone_ok(&["zone", "get", "--zone", ZONE])
}

/// The DNSKEY records of a signed zone text, as its lines, sorted (their RRSIGs change with
/// every version; the records must not).
fn dnskey_rrset(text: &str) -> Vec<String> {
    let mut keys: Vec<String> =
        text.lines().filter(|l| l.split_whitespace().nth(3) == Some("DNSKEY")).map(str::to_string).collect();
    keys.sort();
    keys
}

/// Every entry of the audit log at `file` (one JSON object a line).
fn audit(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", file.display()))).collect()
}

/// How many `event` entries signer `k`'s own audit log holds.
fn events(cluster: &Cluster, k: u16, event: &str) -> usize {
    audit(&cluster.audit_log(&format!("signer-{k}"))).iter().filter(|e| e["event"] == event).count()
}

/// How many `shares-refreshed` events signer `k`'s own audit log holds.
fn refreshes(cluster: &Cluster, k: u16) -> usize {
    events(cluster, k, REFRESHED)
}

/// A 2-of-3 cluster serving [`ZONE`], every process up.
fn cluster_2_of_3() -> Cluster {
    let mut cluster = Cluster::new(3, 2);
    cluster.configure_coordinator(|c| {
        c.zones.push(coordinator_config::Zone { name: ZONE.to_string(), ..coordinator_config::Zone::default() })
    });
    cluster.start_all();
    cluster.wait_ready(3);
    cluster
}

/// Makes a CSK and signs version 1 with it: the key tag, the DNSKEY line, the DS file and the
/// published DNSKEY RRset.
fn first_version(cluster: &Cluster) -> (String, String, PathBuf, Vec<String>) {
    let made = cluster.frostzone_ok(&["keys", "generate", "--zone", ZONE, "--role", "csk"]);
    let tag = made.split("key tag ").nth(1).and_then(|t| t.split(':').next()).expect("key tag in the output").to_string();
    let dnskey = made.lines().nth(1).expect("the DNSKEY line").trim().to_string();
    let ds = cluster.dir.path().join("before.ds");
    cluster.write_ds(ZONE, &ds);
    let (cmd, output, first) = sign(cluster, 1, &[]);
    assert!(output.status.success(), "{}\n{}", describe(&cmd, &output), cluster.logs());
    verify(&first, &ds);
    let dnskeys = dnskey_rrset(&std::fs::read_to_string(&first).expect("first version"));
    assert_eq!(dnskeys.len(), 1, "one CSK published: {dnskeys:?}");
    (tag, dnskey, ds, dnskeys)
}

/// Stops signer `k`, copies its store to `to` (relative to the cluster's directory) and starts
/// it again.
fn copy_store(cluster: &mut Cluster, k: u16, to: &str) {
    cluster.stop_signer(k);
    let own = cluster.dir.path().join(format!("signer-{k}")).join("data");
    copy_dir(&own, &cluster.dir.path().join(to));
    cluster.start_signer(k, &[]);
    cluster.wait_ready(3);
}

/// Copies the directory `from` to `to` (files and subdirectories; sockets are left out).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())) {
        let entry = entry.expect("directory entry");
        let kind = entry.file_type().expect("file type");
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

/// A line of `frostzone keys list` about key `tag`.
fn key_row(list: &str, tag: &str) -> String {
    list.lines()
        .find(|l| l.split_whitespace().nth(2) == Some(tag))
        .unwrap_or_else(|| panic!("no key tag {tag} in keys list:\n{list}"))
        .to_string()
}

#[test]
fn refreshed_shares_keep_the_key_and_old_shares_cannot_sign() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let step = |what: &str| eprintln!("[{:5.1} s] {what}", started.elapsed().as_secs_f64());

    // 1. A 2-of-3 cluster, one CSK, the first version signed; its DNSKEY, DS and key tag kept.
    let mut cluster = cluster_2_of_3();
    step("cluster ready");
    let (tag, dnskey, ds, dnskeys) = first_version(&cluster);
    let ds_before = std::fs::read_to_string(&ds).expect("DS");
    let list_before = cluster.frostzone_ok(&["keys", "list", "--zone", ZONE]);
    step(&format!("key tag {tag} made, version 1 signed"));

    // 2. signer-1's store as it is before the refresh, copied aside after a clean stop.
    copy_store(&mut cluster, 1, OLD_SHARE);
    step("signer-1's store copied to old-share");

    // 3. The refresh: it says so, names the key and its unchanged DNSKEY; every signer audits it.
    let refreshed = cluster.frostzone_ok(&["keys", "refresh", "--zone", ZONE, "--key-tag", &tag, "--approval-timeout", "60"]);
    assert!(
        refreshed.lines().any(|l| l.contains("refreshed") && l.contains(&tag)),
        "no line says key tag {tag} was refreshed:\n{refreshed}"
    );
    assert!(refreshed.lines().any(|l| l.trim() == dnskey), "the DNSKEY after the refresh is not the one made:\n{dnskey}\n---\n{refreshed}");
    for k in 1..=3 {
        assert_eq!(refreshes(&cluster, k), 1, "signer-{k}'s audit log:\n{:#?}", audit(&cluster.audit_log(&format!("signer-{k}"))));
    }
    let ds_after = cluster.frostzone_ok(&["ds", "--zone", ZONE]);
    assert_eq!(ds_after, ds_before, "the DS changed with the refresh");
    let list_after = cluster.frostzone_ok(&["keys", "list", "--zone", ZONE]);
    let public_key = key_row(&list_before, &tag)
        .split_whitespace()
        .find(|w| w.len() == 64 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .expect("the public key in hex")
        .to_string();
    assert!(key_row(&list_after, &tag).contains(&public_key), "the group key changed:\n{list_before}\n{list_after}");
    assert_ne!(list_before, list_after, "keys list does not show the refresh");
    step(&format!("key tag {tag} refreshed:\n{refreshed}{list_after}"));

    // 4. The next version: signed with the new shares, valid under the DS of before, the same
    //    DNSKEY RRset.
    sign_ok(&cluster, 2, &ds, &dnskeys);
    step("version 2 signed with the refreshed shares");

    // 5. signer-1 on its old share, signer-2 down: every quorum needs signer-1, and its old share
    //    cannot sign. The request fails and nothing is published.
    cluster.stop_signer(2);
    cluster.stop_signer(1);
    cluster.set_signer_data_dir(1, OLD_SHARE);
    cluster.start_signer(1, &[]);
    cluster.wait_ready(2);
    let old_audit = cluster.dir.path().join(OLD_SHARE).join("audit.log");
    let old_entries = audit(&old_audit).len();
    let before = published(&cluster);
    let (cmd, output, out) = sign(&cluster, 3, &["--approval-timeout", "30"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "signed with signer-1's old share:\n{}\n{}", describe(&cmd, &output), cluster.logs());
    assert!(!out.exists(), "{} was written although signing failed", out.display());
    assert_eq!(published(&cluster), before, "a version was published although signing failed");
    assert!(stderr.contains("signer-1"), "the failure does not name signer-1:\n{}\n{}", describe(&cmd, &output), cluster.logs());
    assert!(stderr.contains("invalid signature share"), "signer-1's old share was not what failed:\n{}", describe(&cmd, &output));
    // It was the copy that was asked: its own audit log (in old-share) took the request.
    assert!(audit(&old_audit).len() > old_entries, "signer-1 on its old share was not asked:\n{}", cluster.logs());
    let status = cluster.frostzone_ok(&["status"]);
    step(&format!("the old share could not sign:\n{}\nstatus:\n{status}", stderr.trim()));

    // 6. signer-1 back on its refreshed store, signer-2 still down: it signs; then with all.
    cluster.stop_signer(1);
    cluster.set_signer_data_dir(1, "signer-1/data");
    cluster.start_signer(1, &[]);
    cluster.wait_ready(2);
    sign_ok(&cluster, 4, &ds, &dnskeys);
    cluster.start_signer(2, &[]);
    cluster.wait_ready(3);
    sign_ok(&cluster, 5, &ds, &dnskeys);
    step("versions 4 (signer-1 refreshed, signer-2 down) and 5 (all) signed");

    // 7. A commit that does not reach signer-3: signers 1 and 2 swap, signer-3 keeps its share;
    //    signing waits for the refresh to finish; a second `keys refresh` finishes it.
    let counts: Vec<usize> = (1..=3).map(|k| refreshes(&cluster, k)).collect();
    cluster.stop_signer(3);
    cluster.start_signer(3, &[("FROSTZONE_FAULT_REFUSE_REFRESH_COMMIT", "1")]);
    cluster.wait_ready(3);
    let args = ["keys", "refresh", "--zone", ZONE, "--key-tag", &tag, "--approval-timeout", "60"];
    let failed = cluster.frostzone_output(&args);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success() && stderr.contains("signer-3"), "the refresh did not fail on signer-3:\n{stderr}");
    let now: Vec<usize> = (1..=3).map(|k| refreshes(&cluster, k)).collect();
    assert_eq!(now, vec![counts[0] + 1, counts[1] + 1, counts[2]], "who committed");
    let before = published(&cluster);
    let (cmd, output, _) = sign(&cluster, 6, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("keys refresh"), "signed with an unsettled package:\n{}", describe(&cmd, &output));
    assert_eq!(published(&cluster), before, "a version was published while the refresh was half committed");
    cluster.stop_signer(3);
    cluster.start_signer(3, &[]);
    cluster.wait_ready(3);
    let finished = cluster.frostzone_ok(&args);
    assert!(finished.contains("interrupted refresh finished"), "{finished}");
    let now: Vec<usize> = (1..=3).map(|k| refreshes(&cluster, k)).collect();
    assert_eq!(now, vec![counts[0] + 1, counts[1] + 1, counts[2] + 1], "the finish is not the same refresh");
    sign_ok(&cluster, 7, &ds, &dnskeys);
    step("a half-committed refresh held signing back and was finished");

    // 8. share_refresh_interval: the coordinator, restarted with it, refreshes by itself.
    let counts: Vec<usize> = (1..=3).map(|k| refreshes(&cluster, k)).collect();
    cluster.configure_coordinator(|c| {
        let zone = c.zones.iter_mut().find(|z| z.name == ZONE).expect("the zone's config");
        zone.rollover = Some(Rollover { share_refresh_interval: Some(3), ..Rollover::default() });
    });
    cluster.kill_coordinator();
    cluster.start_coordinator();
    cluster.wait_ready(3);
    poll(&cluster, DEADLINE, "a refresh nobody asked for on every signer", || {
        (1..=3).all(|k| refreshes(&cluster, k) > counts[usize::from(k) - 1]).then_some(())
    });
    step("the coordinator refreshed the shares by itself");
    assert_eq!(cluster.frostzone_ok(&["ds", "--zone", ZONE]), ds_before, "the DS changed with the scheduled refresh");
    sign_ok(&cluster, 8, &ds, &dnskeys);
    step("version 8 signed after the scheduled refresh");
}

#[test]
fn a_lost_share_is_repaired_by_t_other_holders() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let step = |what: &str| eprintln!("[{:5.1} s] {what}", started.elapsed().as_secs_f64());

    // 1. signer-3's store before any key; then a CSK and version 1.
    let mut cluster = cluster_2_of_3();
    copy_store(&mut cluster, 3, NO_SHARE);
    let (tag, dnskey, ds, dnskeys) = first_version(&cluster);
    let list_before = cluster.frostzone_ok(&["keys", "list", "--zone", ZONE]);
    step(&format!("key tag {tag} made, version 1 signed"));

    // 2. signer-3 loses its share: back on the store from before the key.
    cluster.stop_signer(3);
    cluster.set_signer_data_dir(3, NO_SHARE);
    cluster.start_signer(3, &[]);
    cluster.wait_ready(3);

    // 3. A repair for a signer that holds its share is refused by it.
    let repair = |cluster: &Cluster, signer: &str| {
        cluster.frostzone_output(&["keys", "repair", "--zone", ZONE, "--key-tag", &tag, "--signer", signer, "--approval-timeout", "60"])
    };
    let refused = repair(&cluster, "signer-1");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("already"), "a repair of a held share was not refused:\n{stderr}");
    step("a repair of signer-1, which holds its share, was refused");

    // 4. The repair of signer-3: helpers signer-1 and signer-2; each audits its part once.
    let output = repair(&cluster, "signer-3");
    assert!(output.status.success(), "{}\n{}", String::from_utf8_lossy(&output.stderr), cluster.logs());
    let repaired = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(repaired.contains("repaired by signer-1, signer-2"), "{repaired}");
    assert!(repaired.lines().any(|l| l.trim() == dnskey), "the DNSKEY after the repair is not the one made:\n{repaired}");
    // signer-3 runs on the copy, whose audit log is the copy's.
    let copy_audit = cluster.dir.path().join(NO_SHARE).join("audit.log");
    let repaired_audit = || audit(&copy_audit).iter().filter(|e| e["event"] == "share-repaired").count();
    assert_eq!(repaired_audit(), 1);
    assert_eq!(events(&cluster, 1, "share-repair-helped"), 1);
    assert_eq!(events(&cluster, 2, "share-repair-helped"), 1);
    assert_eq!(cluster.frostzone_ok(&["keys", "list", "--zone", ZONE]), list_before, "the key changed with the repair");
    step(&format!("signer-3's share repaired:\n{repaired}"));

    // 5. signer-1 down: signer-2 and the repaired signer-3 sign under the unchanged DNSKEY.
    cluster.stop_signer(1);
    cluster.wait_ready(2);
    sign_ok(&cluster, 2, &ds, &dnskeys);
    step("version 2 signed by signer-2 and the repaired signer-3");

    // 6. Nothing left to repair.
    cluster.start_signer(1, &[]);
    cluster.wait_ready(3);
    let again = repair(&cluster, "signer-3");
    assert!(!again.status.success(), "a second repair of signer-3 went through");
    assert_eq!(repaired_audit(), 1);
}

#[test]
fn a_new_member_joins_a_key_at_the_same_t() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let step = |what: &str| eprintln!("[{:5.1} s] {what}", started.elapsed().as_secs_f64());
    let mut cluster = Cluster::new(4, 2);
    cluster.set_membership(&[1, 2, 3], 2);
    cluster.configure_coordinator(|c| {
        c.zones.push(coordinator_config::Zone { name: ZONE.to_string(), ..coordinator_config::Zone::default() })
    });
    for k in 1..=3 {
        cluster.start_signer(k, &[]);
    }
    cluster.start_coordinator();
    cluster.wait_ready(3);
    let (tag, dnskey, ds, dnskeys) = first_version(&cluster);
    let ds_before = std::fs::read_to_string(&ds).expect("DS");
    step(&format!("key tag {tag} made among three, version 1 signed"));

    // signer-4 enters every roster and the coordinator's config; t stays 2.
    cluster.kill_coordinator();
    for k in 1..=3 {
        cluster.stop_signer(k);
    }
    cluster.set_membership(&[1, 2, 3, 4], 2);
    cluster.start_all();
    cluster.wait_ready(4);
    let joined = cluster.frostzone_ok(&["keys", "repair", "--zone", ZONE, "--key-tag", &tag, "--signer", "signer-4", "--approval-timeout", "60"]);
    assert!(joined.contains("joined the key") && joined.contains("signer-1, signer-2, signer-3"), "{joined}");
    assert!(joined.lines().any(|l| l.trim() == dnskey), "the DNSKEY changed with the join:\n{joined}");
    let list = cluster.frostzone_ok(&["keys", "list", "--zone", ZONE]);
    assert!(key_row(&list, &tag).contains("2 of 4") && key_row(&list, &tag).contains("signer-4"), "{list}");
    assert_eq!(cluster.frostzone_ok(&["ds", "--zone", ZONE]), ds_before, "the DS changed with the join");
    step(&format!("signer-4 joined:\n{joined}{list}"));

    // The four hold one group: a refresh runs among them.
    cluster.frostzone_ok(&["keys", "refresh", "--zone", ZONE, "--key-tag", &tag, "--approval-timeout", "60"]);
    assert_eq!(refreshes(&cluster, 4), 1);

    // signer-3 and the newcomer alone sign.
    cluster.stop_signer(1);
    cluster.stop_signer(2);
    cluster.wait_ready(2);
    sign_ok(&cluster, 2, &ds, &dnskeys);
    step("version 2 signed by signer-3 and signer-4");
}
