//! Operator approval with real processes: a coordinator and five signer nodes (3-of-5, mutual
//! TLS), the signers running the default `[approval]` policy, so that key changes (a zone's first
//! publication included) wait for their operators. The operators use the real `frostzone`
//! commands on each signer's admin socket (`pending`, `show`, `approve`, `reject`) and ask the
//! coordinator with `requests` / `request`.
//!
//! What is shown: nothing is signed before t operators approve; n - t + 1 rejections fail a
//! request at once; too few approvals time out; an approval is bound to one content hash; a
//! signer refuses items it did not approve, even from a coordinator holding the right
//! certificate; key changes are never signed by policy; edited approve/reject audit entries are
//! caught. The tests run one at a time (six processes each on two cores).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use frostzone_proto::v1::RequestState;
use frostzone_tests::approvals::{edit_audit_entry_and_verify, operator, signers_in, text, Background, DEADLINE};
use frostzone_tests::cluster::{Cluster, OPERATOR_APPROVAL};
use frostzone_tests::programs::{describe, run};
use frostzone_tests::{example_zone, rogue};
use serde_json::Value;

const ZONE: &str = "example.com.";
const ALL: [u16; 5] = [1, 2, 3, 4, 5];

/// One cluster at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A started 3-of-5 cluster whose signers all run `policy`.
fn cluster_with(policy: &str) -> Cluster {
    let mut cluster = Cluster::new(5, 3);
    for k in ALL {
        cluster.set_policy(k, policy);
    }
    cluster.start_all();
    cluster.wait_ready(5);
    cluster
}

/// A started cluster with the default approval policy and a KSK and a ZSK for [`ZONE`].
fn approval_cluster() -> Cluster {
    let cluster = cluster_with(OPERATOR_APPROVAL);
    cluster.generate_keys(ZONE);
    cluster
}

fn out_file(cluster: &Cluster, name: &str) -> PathBuf {
    cluster.dir.path().join(format!("{name}.signed"))
}

/// `frostzone verify SIGNED --ds` with the DS from `frostzone ds`.
fn assert_validates(cluster: &Cluster, signed: &Path) {
    let ds = signed.with_extension("ds");
    cluster.write_ds(ZONE, &ds);
    let mut verify = Command::new(frostzone_tests::frostzone_bin());
    verify.arg("verify").arg(signed).arg("--ds").arg(&ds);
    let v = run(&mut verify);
    assert!(v.status.success(), "{}", describe(&verify, &v));
}

/// Signers whose operators approved, by a `request --json`: an approval decided by an `op-K`
/// (possibly since signed or published), sorted. (Once a request is released every signer's
/// state becomes published; who decided stays.)
fn approvers(request: &Value) -> Vec<String> {
    let mut all: Vec<String> = request["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .filter(|d| ["approved", "signed", "published"].contains(&text(d, "state")) && text(d, "decided_by").starts_with("op-"))
        .map(|d| text(d, "signer").to_string())
        .collect();
    all.sort();
    all
}

fn names(signers: &[u16]) -> Vec<String> {
    signers.iter().map(|k| format!("signer-{k}")).collect()
}

/// (a) A first publication (a DNSKEY change) is signed only once t operators have approved it,
/// with a quorum among them; then (g) editing signer-2's approve entry is caught.
#[test]
fn a_key_change_is_signed_only_after_t_operators_approve() {
    let _serial = serial();
    let cluster = approval_cluster();
    let out = out_file(&cluster, "approved");
    let mut sign = cluster.spawn_sign(ZONE, &example_zone(), &out, &[]);
    let id = cluster.wait_for_pending(&ALL, ZONE, &[]);

    // What the operator reviews, asked by an 8-digit prefix.
    let shown = cluster.show(1, &id[..8]);
    assert_eq!(text(&shown, "request_id"), id, "{shown}");
    assert_eq!(shown["changes"]["first_publication"], true, "{shown}");
    assert_eq!(shown["changes"]["key_rrsets_changed"], true, "{shown}");
    let lines: Vec<&str> = shown["lines"].as_array().expect("lines").iter().filter_map(Value::as_str).collect();
    assert!(lines.iter().any(|l| l.starts_with('+') && l.contains("DNSKEY")), "no +DNSKEY line: {lines:?}");
    assert_eq!(text(&shown, "content_hash").len(), 64, "{shown}");

    for k in [1, 2] {
        let decision = cluster.approve(k, &id);
        assert_eq!(text(&decision, "state"), "approved", "{decision}");
        // The operator's label, and the uid the signer saw on its socket.
        assert!(text(&decision, "decided_by").starts_with(&format!("{} (uid ", operator(k))), "{decision}");
    }
    // Once the coordinator has seen both approvals it still waits: t - 1 is not enough.
    let seen = cluster.wait_for_request(&id, "2 approvals seen", |r| approvers(r).len() == 2);
    assert_eq!(approvers(&seen), names(&[1, 2]), "{seen}");
    assert_eq!(signers_in(&seen, "pending"), names(&[3, 4, 5]), "{seen}");
    assert_eq!((seen["approvals"].as_u64(), seen["threshold"].as_u64()), (Some(2), Some(3)), "{seen}");
    assert!(sign.is_running(), "sign finished with 2 of 3 approvals");
    assert!(!out.exists(), "{} written with 2 of 3 approvals", out.display());
    // The operator at the sign command was told which request to approve.
    let progress = sign.stderr_so_far();
    assert!(progress.contains(&id[..8]), "no progress line names the request:\n{progress}");

    cluster.approve(3, &id);
    let done = sign.wait(DEADLINE, &cluster);
    assert!(done.status.success(), "{}\n{}", done.described, cluster.logs());
    assert_validates(&cluster, &out);

    let released = cluster.request(&id);
    assert_eq!(text(&released, "state"), "published", "{released}");
    assert_eq!(approvers(&released), names(&[1, 2, 3]), "{released}");
    let used: Vec<String> =
        released["signers"].as_array().expect("signers").iter().filter_map(|s| s.as_str().map(str::to_string)).collect();
    assert!(used.len() >= 3 && used.iter().all(|s| approvers(&released).contains(s)), "used {used:?}: {released}");
    let listed = cluster.requests(ZONE);
    assert!(listed.iter().any(|r| r["request_id"] == id.as_str() && r["state"] == "published"), "{listed:?}");

    // (g) The approve entry in signer-2's audit log, edited, is caught.
    edit_audit_entry_and_verify(&cluster, "signer-2", |e| {
        text(e, "event").contains("approv") && text(e, "operator").contains("op-2") && text(e, "request") == id
    });
}

/// (b) n - t + 1 = 3 rejections fail the request: the sign exits non-zero naming the rejecting
/// signers and their reasons, nothing is written; then (g) an edited reject entry is caught.
#[test]
fn three_rejections_fail_the_request_naming_signers_and_reasons() {
    let _serial = serial();
    let cluster = approval_cluster();
    let out = out_file(&cluster, "rejected");
    let mut sign = cluster.spawn_sign(ZONE, &example_zone(), &out, &[]);
    let id = cluster.wait_for_pending(&ALL, ZONE, &[]);
    let reason = |k: u16| format!("serial not bumped, says op-{k}");

    for k in [1, 2] {
        let decision = cluster.reject(k, &id, &reason(k));
        assert_eq!(text(&decision, "state"), "rejected", "{decision}");
    }
    // Two rejections leave three signers who could still approve.
    let seen = cluster.wait_for_request(&id, "2 rejections seen", |r| signers_in(r, "rejected").len() == 2);
    assert_eq!(signers_in(&seen, "rejected"), names(&[1, 2]), "{seen}");
    assert!(sign.is_running(), "the request failed after 2 rejections");

    cluster.reject(3, &id, &reason(3));
    let done = sign.wait(DEADLINE, &cluster);
    assert_eq!(done.status.code(), Some(2), "{}", done.described);
    for k in [1, 2, 3] {
        assert!(
            done.stderr.contains(&format!("signer-{k}")) && done.stderr.contains(&reason(k)),
            "signer-{k} or its reason missing:\n{}",
            done.described
        );
    }
    assert!(!out.exists(), "{} written although the request was rejected", out.display());
    let failed = cluster.request(&id);
    assert_eq!(text(&failed, "state"), "failed", "{failed}");
    assert!(text(&failed, "error").contains("reject"), "{failed}");

    // The coordinator tells every signer; a failed request cannot be approved afterwards.
    frostzone_tests::approvals::poll(&cluster, DEADLINE, "signer-4 to learn the request failed", || {
        (text(&cluster.show(4, &id), "state") == "failed").then_some(())
    });
    let late = cluster.approve_output(4, &id, &[]);
    assert_eq!(late.status.code(), Some(1), "approve of a failed request:\n{}", String::from_utf8_lossy(&late.stderr));

    edit_audit_entry_and_verify(&cluster, "signer-3", |e| {
        text(e, "event").contains("reject") && text(e, "operator").contains("op-3") && text(e, "request") == id
    });
}

/// (c) t - 1 approvals and a short approval timeout: the sign fails saying so, nothing written.
#[test]
fn too_few_approvals_time_out_and_nothing_is_written() {
    let _serial = serial();
    let cluster = approval_cluster();
    let out = out_file(&cluster, "timeout");
    let sign = cluster.spawn_sign(ZONE, &example_zone(), &out, &["--approval-timeout", "20"]);
    let id = cluster.wait_for_pending(&[1, 2], ZONE, &[]);
    cluster.approve(1, &id);
    cluster.approve(2, &id);
    let done = sign.wait(DEADLINE, &cluster);
    assert_eq!(done.status.code(), Some(2), "{}", done.described);
    // "no quorum of approvals within 20 s: key tag N has 2 of the 3 approvals it needs (...)"
    assert!(done.stderr.contains("within 20 s") && done.stderr.contains("2 of the 3 approvals"), "{}", done.described);
    assert!(!out.exists(), "{} written without enough approvals", out.display());
    let failed = cluster.request(&id);
    assert_eq!(text(&failed, "state"), "failed", "{failed}");
    assert!(text(&failed, "error").contains("within 20 s"), "{failed}");
}

/// (d) An approval is for one content hash: `approve --content-hash` of another hash is refused,
/// and a second request with different content needs its own approvals.
#[test]
fn an_approval_is_bound_to_one_content_hash() {
    let _serial = serial();
    // Every change waits for the operator, not only key changes.
    let cluster = cluster_with("version = 1\n[approval]\nmax_rrsets_changed = 0\nkey_ceremonies = \"auto\"\n");
    cluster.generate_keys(ZONE);
    let out = out_file(&cluster, "first");
    let sign = cluster.spawn_sign(ZONE, &example_zone(), &out, &[]);
    let first = cluster.wait_for_pending(&ALL, ZONE, &[]);
    let hash = text(&cluster.show(1, &first), "content_hash").to_string();
    let other = flip_last_digit(&hash);

    let refused = cluster.approve_output(1, &first, &["--content-hash", &other]);
    assert_eq!(refused.status.code(), Some(1), "approve with another hash:\n{}", String::from_utf8_lossy(&refused.stderr));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refused"), "{}", String::from_utf8_lossy(&refused.stderr));
    assert_eq!(text(&cluster.show(1, &first), "state"), "pending");
    let accepted = cluster.approve_output(1, &first, &["--content-hash", &hash]);
    assert!(accepted.status.success(), "approve with the right hash:\n{}", String::from_utf8_lossy(&accepted.stderr));
    cluster.approve(2, &first);
    cluster.approve(3, &first);
    let done = sign.wait(DEADLINE, &cluster);
    assert!(done.status.success(), "{}", done.described);

    // One more record: other content, another request, no approval carried over.
    let zone2 = cluster.dir.path().join("extra.zone");
    let mut zone_text = std::fs::read_to_string(example_zone()).expect("read example zone");
    zone_text.push_str("\nextra.example.com. 3600 IN A 192.0.2.99\n");
    std::fs::write(&zone2, zone_text).expect("write zone");
    let out2 = out_file(&cluster, "second");
    let mut sign2 = cluster.spawn_sign(ZONE, &zone2, &out2, &[]);
    let second = cluster.wait_for_pending(&ALL, ZONE, &[&first]);
    let shown = cluster.show(1, &second);
    assert_ne!(text(&shown, "content_hash"), hash, "{shown}");
    assert_eq!(shown["changes"]["rrsets_added"], 1, "{shown}");
    assert_eq!(shown["changes"]["first_publication"], false, "{shown}");
    let seen = cluster.wait_for_request(&second, "every signer pending", |r| signers_in(r, "pending").len() == 5);
    assert_eq!(seen["approvals"], 0, "{seen}");
    let stale = cluster.approve_output(2, &second, &["--content-hash", &hash]);
    assert_eq!(stale.status.code(), Some(1), "the first request's hash approved the second");
    assert!(sign2.is_running() && !out2.exists());
    for k in [1, 2, 3] {
        cluster.approve(k, &second);
    }
    let done = sign2.wait(DEADLINE, &cluster);
    assert!(done.status.success(), "{}", done.described);
    assert_validates(&cluster, &out2);
}

fn flip_last_digit(hex: &str) -> String {
    let (head, last) = hex.split_at(hex.len() - 1);
    format!("{head}{}", if last == "0" { "1" } else { "0" })
}

/// (e) A coordinator (the right certificate) that sends a signer RRsets other than those the
/// signer approved is refused, naming the item; the approved items themselves are accepted.
#[test]
fn a_signer_refuses_rrsets_other_than_those_approved() {
    let _serial = serial();
    let cluster = cluster_with(OPERATOR_APPROVAL);
    cluster.frostzone_ok(&["keys", "generate", "--zone", ZONE, "--role", "csk"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut signer = rogue::connect(&cluster, 1).await;
        let key = rogue::zone_key(&mut signer, ZONE).await;
        let zone_text = std::fs::read_to_string(example_zone()).expect("read example zone");
        let proposal = rogue::full_proposal(ZONE, &zone_text, &[rogue::dnskey_of(&key)], frostzone_dnssec::denial::Denial::default());
        let id = rogue::request_id();
        let decision = rogue::propose(&mut signer, &id, ZONE, &proposal).await.expect("propose");
        assert_eq!(decision.state(), RequestState::Pending, "a first publication: {decision:?}");
        assert_eq!(text(&cluster.approve(1, &id), "state"), "approved");

        // Commits carry the items to sign; the mail A RRset among them.
        let items: Vec<_> = proposal.iter().filter(|i| i.rrsig.is_some()).cloned().collect();
        let mail = rogue::wire_name("mail.example.com.");
        let at = items.iter().position(|i| i.owner == mail && i.rtype == 1).expect("mail A item");
        let mut changed = items.clone();
        changed[at].rdata = vec![vec![192, 0, 2, 66].into()];
        let mut extra = items.clone();
        extra.push(rogue::a_item(ZONE, "extra.example.com.", [192, 0, 2, 25], &key));
        for (what, batch, named) in [("changed RDATA", &changed, "mail.example.com"), ("an extra RRset", &extra, "extra.example.com")] {
            let refused = rogue::commit(&mut signer, &rogue::session_id(), &id, ZONE, &key, batch).await;
            let status = refused.err().unwrap_or_else(|| panic!("{what}: committed"));
            assert_eq!(status.code(), tonic::Code::PermissionDenied, "{what}: {status:?}");
            assert!(status.message().contains(named), "{what}: the refusal does not name {named}: {status:?}");
        }
        let accepted = rogue::commit(&mut signer, &rogue::session_id(), &id, ZONE, &key, &items).await;
        let accepted = accepted.unwrap_or_else(|e| panic!("the approved items were refused: {e:?}\n{}", cluster.logs()));
        assert_eq!(accepted.commitments.len(), items.len());
    });
}

/// (f) A DNSKEY change is never signed without approval: committed under a request still
/// pending, or under none, it is refused; through the real coordinator, a routine re-sign goes
/// through by policy while one whose DNSKEY set changed (an extra ZSK) waits, and fails unapproved.
#[test]
fn a_dnskey_change_is_not_signed_without_approval() {
    let _serial = serial();
    let cluster = approval_cluster();
    // The first publication, approved by three operators.
    let out = out_file(&cluster, "published");
    let sign = cluster.spawn_sign(ZONE, &example_zone(), &out, &[]);
    let first = cluster.wait_for_pending(&[1, 2, 3], ZONE, &[]);
    for k in [1, 2, 3] {
        cluster.approve(k, &first);
    }
    assert!(sign.wait(DEADLINE, &cluster).status.success());

    // The same content again: approved by policy, nobody asked.
    let again = out_file(&cluster, "again");
    let resign = cluster.spawn_sign(ZONE, &example_zone(), &again, &[]);
    let done = resign.wait(DEADLINE, &cluster);
    assert!(done.status.success(), "an unchanged zone waited or failed:\n{}\n{}", done.described, cluster.logs());
    assert_validates(&cluster, &again);

    // A ZSK rollover's first step publishes a standby ZSK, changing the DNSKEY RRset: every
    // signer waits for its operator, and shows which step the coordinator says it is.
    cluster.frostzone_ok(&["keys", "generate", "--zone", ZONE, "--role", "zsk"]);
    let mut roll = cluster.frostzone();
    roll.args(["keys", "rollover", "--zone", ZONE, "--role", "zsk", "--approval-timeout", "20"]);
    let wait = Background::spawn(roll, &cluster.dir.path().join("logs"), "rollover");
    let third = cluster.wait_for_pending(&ALL, ZONE, &[&first]);
    let shown = cluster.show(4, &third);
    assert_eq!((shown["changes"]["key_rrsets_changed"].as_bool(), shown["changes"]["first_publication"].as_bool()), (Some(true), Some(false)), "{shown}");
    assert!(shown["key_step"].as_str().is_some_and(|s| s.starts_with("ZSK rollover ") && s.contains("new key published")), "{shown}");
    let done = wait.wait(DEADLINE, &cluster);
    assert!(!done.status.success(), "published a DNSKEY change unapproved:\n{}", done.described);
    assert!(done.stderr.contains("approv"), "{}", done.described);
    let status = cluster.frostzone_ok(&["keys", "status", "--zone", ZONE, "--json"]);
    assert!(status.contains("\"standby\"") && !status.contains("\"incoming\""), "an unapproved step records no rollover:\n{status}");

    // As a rogue coordinator: a DNSKEY RRset under a request still pending, and under none.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut signer = rogue::connect(&cluster, 2).await;
        let key = rogue::zone_key(&mut signer, ZONE).await;
        // The zone signed with every key it has now: the DNSKEY RRset with the extra ZSK.
        let zone_text = std::fs::read_to_string(example_zone()).expect("read example zone");
        let keys: Vec<_> = rogue::zone_keys(&mut signer, ZONE).await.iter().map(rogue::dnskey_of).collect();
        let proposal = rogue::full_proposal(ZONE, &zone_text, &keys, frostzone_dnssec::denial::Denial::default());
        let id = rogue::request_id();
        let decision = rogue::propose(&mut signer, &id, ZONE, &proposal).await.expect("propose");
        assert_eq!(decision.state(), RequestState::Pending, "a DNSKEY change: {decision:?}");
        let items: Vec<_> = proposal.iter().filter(|i| i.rrsig.is_some() && i.rtype == 48).cloned().collect();
        for (what, request) in [("a pending request", id.as_str()), ("no request", "")] {
            let refused = rogue::commit(&mut signer, &rogue::session_id(), request, ZONE, &key, &items).await;
            let status = refused.err().unwrap_or_else(|| panic!("DNSKEY committed under {what}"));
            assert!(
                matches!(status.code(), tonic::Code::PermissionDenied | tonic::Code::FailedPrecondition | tonic::Code::InvalidArgument),
                "{what}: {status:?}"
            );
        }
    });
}
