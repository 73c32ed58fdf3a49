//! The coordinator is not trusted with content: real signer processes, mutual TLS, and a rogue
//! client holding the coordinator's certificate (`rogue::connect`) that proposes what a
//! compromised coordinator would. Each attack is refused with a reason naming what is wrong (the
//! item, the owner, the limit), and nothing is made for it afterwards: a Commit under the request
//! is refused and the signer's audit log has no `sign` entry for it.
//!
//! * denial records not derived from the content (RFC 4034 §4, RFC 5155 §7.1): an NSEC3 or NSEC
//!   record skipping an existing name, an Opt-Out record spanning the hash ring, a bitmap hiding a
//!   type, an NSEC3 record for a name that does not exist, NSEC3PARAM with extra iterations, an
//!   Opt-Out chain under a policy that refuses it, and tampered increments;
//! * validity windows (RFC 4034 §3.1.5) beyond the policy: a future inception, a 30-year expiration;
//! * DS changes at delegations beyond `[approval] max_ds_changed`;
//! * resource limits: concurrent Propose streams, an operator's reject reason;
//! * `$INCLUDE` in zone text uploaded to the coordinator (it would read the coordinator's files);
//!   the CLI expands it itself.
//!
//! One cluster per test function (2-of-2, three processes); the tests run one at a time.

use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use frostzone_dnssec::denial::{Denial, Nsec3Config};
use frostzone_dnssec::keys::ZoneKey;
use frostzone_proto::v1::{GetDecisionRequest, ProposeChunk, RequestState, SignZoneChunk, SignZoneOptions, SigningItem};
use frostzone_proto::API_VERSION;
use frostzone_tests::approvals::text;
use frostzone_tests::cluster::Cluster;
use frostzone_tests::rogue::{self, Signer};
use frostzone_tests::tamper::{
    self, assert_decision, base32hex, edit_rdata, nsec3_hash, position, rdata_of, remove_rrset, Nsec3Rdata, NsecRdata, PlannedVersion,
    NSEC, NSEC3, NSEC3PARAM,
};
use frostzone_tests::programs::{describe, run};
use frostzone_tests::example_zone;
use tonic::Code;

const ZONE: &str = "example.com.";

/// One cluster at a time (two cores).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A signer policy with the defaults (no Opt-Out, RFC 9276 NSEC3 parameters, the validity
/// bounds, `max_ds_changed = 10`) except that key changes and ceremonies are approved by
/// policy: the rogue's first publication carries the DNSKEY RRset, and `keys generate` must
/// not wait for operators. `approval` and `nsec3` are more lines of those sections.
fn policy(approval: &str, nsec3: &str) -> String {
    format!("version = 1\n[approval]\nkey_changes = \"auto\"\nkey_ceremonies = \"auto\"\n{approval}\n[nsec3]\n{nsec3}\n")
}

/// A started 2-of-2 cluster whose signers run `policies` (signer K the K-th), with a KSK and a
/// ZSK for [`ZONE`].
fn cluster_with(policies: [&str; 2]) -> Cluster {
    let mut cluster = Cluster::new(2, 2);
    for (k, p) in (1..).zip(policies) {
        cluster.set_policy(k, p);
    }
    cluster.start_all();
    cluster.wait_ready(2);
    cluster.generate_keys(ZONE);
    cluster
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn example_text() -> String {
    std::fs::read_to_string(example_zone()).expect("read example zone")
}

/// The DNSKEYs of every key signer `client` holds for [`ZONE`] (both signers hold the same).
async fn zone_dnskeys(client: &mut Signer) -> Vec<ZoneKey> {
    rogue::zone_keys(client, ZONE).await.iter().map(rogue::dnskey_of).collect()
}

/// Proposes `items` (a full proposal) to signer `k` as a new request, which must be rejected
/// with a reason holding every one of `wants`; then checks nothing was made for it. Returns the
/// request id and the reason.
async fn refused(cluster: &Cluster, client: &mut Signer, k: u16, what: &str, items: &[SigningItem], wants: &[&str]) -> (String, String) {
    let id = rogue::request_id();
    let decision = rogue::propose(client, &id, ZONE, items).await.unwrap_or_else(|e| panic!("{what}: propose: {e:?}"));
    let reason = assert_decision(&format!("signer-{k}: {what}"), &decision, RequestState::Rejected, wants);
    let refusal = tamper::assert_nothing_made(cluster, client, k, ZONE, &id, items).await;
    assert_refused_as_rejected(what, &id, &refusal);
    println!("  Commit under it: {:?}: {}", refusal.code(), refusal.message());
    (id, reason)
}

/// A Commit under a rejected request: refused, because of the request (or, for items the
/// policy refuses, because of the item, checked first).
fn assert_refused_as_rejected(what: &str, id: &str, refusal: &tonic::Status) {
    let binding = refusal.code() == Code::PermissionDenied && refusal.message().contains(&format!("request {id} is rejected"));
    let item = refusal.code() == Code::InvalidArgument && refusal.message().starts_with("item ");
    assert!(binding || item, "{what}: the Commit was refused for another reason: {refusal:?}");
}

/// The owner of an item as text (simple labels only), with the trailing dot.
fn owner_text(item: &SigningItem) -> String {
    let mut labels = Vec::new();
    let mut wire = item.owner.as_ref();
    while let [len, rest @ ..] = wire {
        if *len == 0 {
            break;
        }
        let (label, tail) = rest.split_at(usize::from(*len));
        labels.push(String::from_utf8_lossy(label).into_owned());
        wire = tail;
    }
    format!("{}.", labels.join("."))
}

/// The NSEC3 item whose next hashed owner is `hash`.
fn nsec3_before<'a>(items: &'a [SigningItem], hash: &[u8]) -> &'a SigningItem {
    items
        .iter()
        .find(|i| i.rtype == NSEC3 && Nsec3Rdata::parse(&i.rdata[0]).next == hash)
        .unwrap_or_else(|| panic!("no NSEC3 item points at {}", base32hex(hash)))
}

/// Denial records that are not what the proposed content requires are refused, naming the item
/// (and the owner it stands for); a whole Opt-Out chain is refused under a policy without
/// `[nsec3] opt_out` and accepted under one with it; an increment on a published baseline is
/// refused when its new NSEC3 record, or its predecessor, is not what the change requires, and
/// approved untampered.
#[test]
fn denial_records_that_differ_from_the_content_are_refused() {
    let _serial = serial();
    let started = Instant::now();
    let mut cluster = cluster_with([&policy("", ""), &policy("", "opt_out = true")]);
    runtime().block_on(async {
        let mut s1 = rogue::connect(&cluster, 1).await;
        let mut s2 = rogue::connect(&cluster, 2).await;
        let keys = zone_dnskeys(&mut s1).await;
        let text = example_text();
        let v1 = PlannedVersion::new(ZONE, &text, &keys, Denial::default());
        let full = v1.full();

        // An NSEC3 record whose next hashed owner skips mail.example.com.'s hash, mail's own
        // record gone: the chain would deny a name that exists.
        let mail = "mail.example.com.";
        let mail_owner = v1.nsec3_owner(mail);
        let mail_next = Nsec3Rdata::parse(&rdata_of(&full, &mail_owner, NSEC3)).next;
        let before_mail = owner_text(nsec3_before(&full, &nsec3_hash(mail)));
        let mut items = full.clone();
        remove_rrset(&mut items, &mail_owner, NSEC3);
        let at = edit_rdata(&mut items, &before_mail, NSEC3, |r| Nsec3Rdata { next: mail_next.clone(), ..Nsec3Rdata::parse(r) }.to_wire());
        let named = format!("item {at} ({before_mail} NSEC3)");
        let wants = [named.as_str(), "next hashed owner", &base32hex(&mail_next), "missing", "for mail.example.com."];
        refused(&cluster, &mut s1, 1, "NSEC3 skipping mail", &items, &wants).await;

        // One record with Opt-Out set whose next hashed owner is its own hash: it spans the whole
        // ring. Refused by the chain check, whatever the policy says of Opt-Out.
        let www = "www.example.com.";
        let www_owner = v1.nsec3_owner(www);
        let mut items = full.clone();
        let at = edit_rdata(&mut items, &www_owner, NSEC3, |r| {
            let n = Nsec3Rdata::parse(r);
            Nsec3Rdata { flags: n.flags | 1, next: nsec3_hash(www), ..n }.to_wire()
        });
        let named = format!("item {at} ({www_owner} NSEC3)");
        for (k, client) in [(1, &mut s1), (2, &mut s2)] {
            refused(&cluster, client, k, "Opt-Out record spanning the ring", &items, &[&named, "Opt-Out flag is set", "next hashed owner"]).await;
        }

        // A whole chain made with Opt-Out: refused by signer-1's policy, approved by signer-2's.
        let opt_out = PlannedVersion::new(ZONE, &text, &keys, Denial::Nsec3(Nsec3Config { opt_out: true, ..Nsec3Config::default() }));
        let items = opt_out.full();
        refused(&cluster, &mut s1, 1, "Opt-Out chain", &items, &["uses Opt-Out", "[nsec3] opt_out"]).await;
        let decision = rogue::propose(&mut s2, &rogue::request_id(), ZONE, &items).await.expect("propose");
        assert_decision("signer-2 (opt_out = true): Opt-Out chain", &decision, RequestState::Approved, &[]);

        // A type bitmap without AAAA at mail.example.com.: NODATA for an RRset that exists.
        let mut items = full.clone();
        let at = edit_rdata(&mut items, &mail_owner, NSEC3, |r| {
            let mut n = Nsec3Rdata::parse(r);
            assert!(n.types.remove(&28), "mail has AAAA");
            n.to_wire()
        });
        let named = format!("item {at} ({mail_owner} NSEC3)");
        refused(&cluster, &mut s1, 1, "bitmap missing AAAA", &items, &[&named, "type bitmap", "AAAA", "mail.example.com"]).await;

        // An NSEC3 record for a name that does not exist.
        let ghost_owner = v1.nsec3_owner("ghost.example.com.");
        let mut items = full.clone();
        let mut ghost = items[position(&items, &www_owner, NSEC3)].clone();
        ghost.owner = rogue::wire_name(&ghost_owner).into();
        items.push(ghost);
        let named = format!("item {} ({ghost_owner} NSEC3)", items.len() - 1);
        refused(&cluster, &mut s1, 1, "NSEC3 for a name that does not exist", &items, &[&named, "not part of the chain"]).await;

        // NSEC3PARAM with 10 extra iterations (RFC 9276 §3.1: MUST be 0).
        let mut items = full.clone();
        let at = edit_rdata(&mut items, ZONE, NSEC3PARAM, |r| {
            let mut r = r.to_vec();
            r[2..4].copy_from_slice(&10u16.to_be_bytes());
            r
        });
        let named = format!("item {at} ({ZONE} NSEC3PARAM)");
        refused(&cluster, &mut s1, 1, "NSEC3PARAM with 10 iterations", &items, &[&named, "iterations 10"]).await;

        // NSEC: a record whose next name skips mail.example.com., mail's own record gone.
        let nsec = PlannedVersion::new(ZONE, &text, &keys, Denial::Nsec);
        let full_nsec = nsec.full();
        let mail_wire = rogue::wire_name(mail);
        let mail_nsec_next = NsecRdata::parse(&rdata_of(&full_nsec, mail, NSEC)).next;
        let before = full_nsec
            .iter()
            .find(|i| i.rtype == NSEC && NsecRdata::parse(&i.rdata[0]).next.eq_ignore_ascii_case(&mail_wire))
            .map(owner_text)
            .expect("an NSEC record points at mail");
        let mut items = full_nsec.clone();
        remove_rrset(&mut items, mail, NSEC);
        let at = edit_rdata(&mut items, &before, NSEC, |r| NsecRdata { next: mail_nsec_next.clone(), ..NsecRdata::parse(r) }.to_wire());
        let named = format!("item {at} ({before} NSEC)");
        refused(&cluster, &mut s1, 1, "NSEC skipping mail", &items, &[&named, "next owner is", "mail.example.com"]).await;
        // The same chain untampered is approved.
        let decision = rogue::propose(&mut s1, &rogue::request_id(), ZONE, &full_nsec).await.expect("propose");
        assert_decision("signer-1: NSEC chain untampered", &decision, RequestState::Approved, &[]);

        // The NSEC3 version untampered: approved by policy, then published by the rogue (the
        // signer approved it itself), so it is signer-1's baseline.
        let v1_id = rogue::request_id();
        let decision = rogue::propose(&mut s1, &v1_id, ZONE, &full).await.expect("propose");
        assert_decision("signer-1: v1 untampered", &decision, RequestState::Approved, &[]);
        tamper::publish(&mut s1, &v1_id).await;

        // v2 adds one name. Its increment: the SOA, the new A RRset, the new name's NSEC3 and its
        // predecessor's, re-linked.
        let v2_text = format!("{}\nadded IN A 192.0.2.123\n", text.replace("2024060101", "2024060102"));
        let v2 = PlannedVersion::new(ZONE, &v2_text, &keys, Denial::default());
        let change = v2.increment_from(&v1);
        let added = "added.example.com.";
        let added_owner = v2.nsec3_owner(added);
        let succ = Nsec3Rdata::parse(&rdata_of(&change.items, &added_owner, NSEC3)).next;
        let pred_owner = owner_text(nsec3_before(&change.items, &nsec3_hash(added)));
        let described: Vec<String> = change.items.iter().map(|i| format!("{} type {}", owner_text(i), i.rtype)).collect();
        println!("the increment v1 -> v2: {described:?}, {} removed", change.removed.len());

        // (a) The new record's next hashed owner skips its successor.
        let succ_owner = format!("{}.{ZONE}", base32hex(&succ));
        let after_succ = Nsec3Rdata::parse(&rdata_of(&v2.full(), &succ_owner, NSEC3)).next;
        let mut skip = change.clone();
        let at = edit_rdata(&mut skip.items, &added_owner, NSEC3, |r| Nsec3Rdata { next: after_succ.clone(), ..Nsec3Rdata::parse(r) }.to_wire());
        let named = format!("item {at} ({added_owner} NSEC3)");
        let id = rogue::request_id();
        let decision = tamper::propose_increment(&mut s1, &id, ZONE, &v1_id, &skip).await.expect("propose increment");
        assert_decision("signer-1: increment, new NSEC3 skipping its successor", &decision, RequestState::Rejected, &[&named, "next hashed owner"]);
        let refusal = tamper::assert_nothing_made(&cluster, &mut s1, 1, ZONE, &id, &skip.items).await;
        assert_refused_as_rejected("increment (a)", &id, &refusal);
        println!("  Commit under it: {:?}: {}", refusal.code(), refusal.message());

        // (b) The predecessor not re-linked: it still points past the new name.
        let mut stale = change.clone();
        remove_rrset(&mut stale.items, &pred_owner, NSEC3);
        let id = rogue::request_id();
        let decision = tamper::propose_increment(&mut s1, &id, ZONE, &v1_id, &stale).await.expect("propose increment");
        assert_decision(
            "signer-1: increment, predecessor not re-linked",
            &decision,
            RequestState::Rejected,
            &[&format!("{pred_owner} NSEC3"), "next hashed owner", &base32hex(&nsec3_hash(added))],
        );
        let refusal = tamper::assert_nothing_made(&cluster, &mut s1, 1, ZONE, &id, &stale.items).await;
        assert_refused_as_rejected("increment (b)", &id, &refusal);
        println!("  Commit under it: {:?}: {}", refusal.code(), refusal.message());

        // The increment untampered is approved by policy.
        let decision = tamper::propose_increment(&mut s1, &rogue::request_id(), ZONE, &v1_id, &change).await.expect("propose increment");
        assert_decision("signer-1: increment untampered", &decision, RequestState::Approved, &[]);
    });
    cluster.assert_running();
    println!("denial checks: {:.0} s", started.elapsed().as_secs_f64());
}

/// A zone of `example.zone` plus 11 secure delegations `dsNN` whose DS digests are `digest(NN)`,
/// SOA serial `serial`.
fn ds_zone(serial: u32, digest: impl Fn(u32) -> String) -> String {
    let mut text = example_text().replace("2024060101", &serial.to_string());
    text.push('\n');
    for n in 1..=11 {
        text.push_str(&format!("ds{n:02} IN NS ns.example.net.\nds{n:02} IN DS {} 15 2 {}\n", 10_000 + n, digest(n)));
    }
    text
}

/// Every signing item of `items` with other RRSIG times.
fn with_times(items: &[SigningItem], inception: u32, expiration: u32) -> Vec<SigningItem> {
    let mut items = items.to_vec();
    for f in items.iter_mut().filter_map(|i| i.rrsig.as_mut()) {
        f.inception = inception;
        f.expiration = expiration;
    }
    items
}

/// The RRSIG validity bounds hold at Propose and again at Commit; more DS changes than the
/// policy's `max_ds_changed` wait for the operator (and are approved by a policy allowing them);
/// a fifth concurrent Propose stream is refused and nothing is kept of it; an operator's reject
/// reason over 1024 characters is refused.
#[test]
fn validity_ds_changes_and_limits_are_enforced() {
    let _serial = serial();
    let started = Instant::now();
    let mut cluster = cluster_with([&policy("", ""), &policy("max_ds_changed = 100", "")]);
    runtime().block_on(async {
        let mut s1 = rogue::connect(&cluster, 1).await;
        let mut s2 = rogue::connect(&cluster, 2).await;
        let keys = zone_dnskeys(&mut s1).await;
        let v1 = PlannedVersion::new(ZONE, &ds_zone(2024060101, |n| format!("{n:02X}").repeat(32)), &keys, Denial::default());
        let v2 = PlannedVersion::new(ZONE, &ds_zone(2024060102, |n| format!("{:02X}", n + 0x80).repeat(32)), &keys, Denial::default());
        let (v1_items, v2_items) = (v1.full(), v2.full());
        // The baseline v1, published by the rogue: its first publication adds 12 DS RRsets (the
        // 11 and secure.example.com.'s), so signer-1 waits for its operator, who approves.
        for (k, client) in [(1, &mut s1), (2, &mut s2)] {
            let id = rogue::request_id();
            let decision = rogue::propose(client, &id, ZONE, &v1_items).await.expect("propose v1");
            if k == 1 {
                assert_decision("signer-1: v1", &decision, RequestState::Pending, &["12 DS RRsets changed, the policy approves at most 10"]);
                assert_eq!(text(&cluster.approve(1, &id), "state"), "approved");
            } else {
                assert_decision("signer-2: v1", &decision, RequestState::Approved, &[]);
            }
            tamper::publish(client, &id).await;
        }

        // DS: 11 DS RRsets changed. Under the default max_ds_changed (10) signer-1 waits for its
        // operator, and makes nothing meanwhile; signer-2 (max_ds_changed = 100) approves.
        let pending_id = rogue::request_id();
        let decision = rogue::propose(&mut s1, &pending_id, ZONE, &v2_items).await.expect("propose v2");
        assert_decision("signer-1: 11 DS changed", &decision, RequestState::Pending, &["11 DS RRsets changed, the policy approves at most 10"]);
        assert_eq!(decision.changes.as_ref().map(|c| c.ds_rrsets_changed), Some(11), "{decision:?}");
        let refusal = tamper::assert_nothing_made(&cluster, &mut s1, 1, ZONE, &pending_id, &v2_items).await;
        assert_eq!(refusal.code(), Code::PermissionDenied, "{refusal:?}");
        assert!(refusal.message().contains("pending this signer's operator"), "{refusal:?}");
        let approved_id = rogue::request_id();
        let decision = rogue::propose(&mut s2, &approved_id, ZONE, &v2_items).await.expect("propose v2");
        assert_decision("signer-2 (max_ds_changed = 100): 11 DS changed", &decision, RequestState::Approved, &[]);

        // An operator's reject reason of 2,000 characters is refused, naming the limit; the
        // request stays pending. A short one is taken.
        let long = "too many DS changes at once; ".repeat(70)[..2000].to_string();
        let mut reject = cluster.admin_command(1, &["reject", &pending_id, "--operator", "op-1", "--reason", &long]);
        let out = run(&mut reject);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "a 2,000-character reason was taken: {}", describe(&reject, &out));
        assert!(stderr.contains("1024") && stderr.contains("2000"), "the refusal does not name the limit: {}", describe(&reject, &out));
        println!("reject --reason of 2000 characters: {}", stderr.trim());
        assert_eq!(text(&cluster.show(1, &pending_id), "state"), "pending");
        let decision = cluster.reject(1, &pending_id, "11 DS changes at once: not without a ticket");
        assert_eq!(text(&decision, "state"), "rejected", "{decision}");
        tamper::assert_nothing_made(&cluster, &mut s1, 1, ZONE, &pending_id, &v2_items).await;

        // Validity: an inception an hour or 20 years ahead (signatures made now for later use),
        // and an expiration 30 years ahead. Refused at Propose naming the item and the bound,
        // and again at Commit, under any request.
        let now = rogue::now();
        let shares = rogue::zone_keys(&mut s2, ZONE).await;
        let cases = [
            ("inception an hour ahead", with_times(&v2_items, now + 3600, now + 14 * 86_400), ["clock skew", "300 s"]),
            ("inception 20 years ahead", with_times(&v2_items, now + 20 * 365 * 86_400, now + 20 * 365 * 86_400 + 14 * 86_400), ["clock skew", "300 s"]),
            ("expiration 30 years ahead", with_times(&v2_items, now - 3600, now + 30 * 365 * 86_400), ["exceeds the maximum", "7776000 s lifetime"]),
        ];
        for (what, items, wants) in &cases {
            let (id, reason) = refused(&cluster, &mut s2, 2, what, items, &[wants[0], wants[1], "item 0 ("]).await;
            assert!(reason.starts_with("item 0 ("), "{what}: {reason}");
            for (under, request) in [("the rejected request", id.as_str()), ("an approved request", approved_id.as_str()), ("no request", "")] {
                let refusal = tamper::try_commit(&mut s2, &shares, ZONE, request, items).await;
                assert!(refusal.message().contains(wants[0]), "{what}, Commit under {under}: {refusal:?}");
                println!("{what}, Commit under {under}: {:?}: {}", refusal.code(), refusal.message());
            }
        }

        // Five concurrent Propose streams: four held open (fed by channels not closed), the
        // fifth refused RESOURCE_EXHAUSTED and nothing kept of it; once the four close, it goes
        // through.
        let held_client = s1.clone();
        let open_held = |id: String| {
            let (tx, rx) = tokio::sync::mpsc::channel::<ProposeChunk>(4);
            tx.try_send(tamper::full_header_chunk(&id, ZONE, &v1_items)).expect("send header");
            let mut client = held_client.clone();
            let call = tokio::spawn(async move { client.propose(tokio_stream::wrappers::ReceiverStream::new(rx)).await });
            (id, tx, call)
        };
        let mut held: Vec<_> = (0..4).map(|_| open_held(rogue::request_id())).collect();
        // An empty stream is refused at once when a slot is free (and keeps nothing): probe with
        // it until the four hold every slot. A held stream refused at once (a slot an earlier
        // stream of this test had not given back yet) is opened again.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut reopened = Vec::new();
        loop {
            for slot in held.iter_mut() {
                if slot.2.is_finished() {
                    let answer = (&mut slot.2).await.expect("join");
                    reopened.push(format!("{:?}", answer.map(|_| ()).map_err(|e| e.code())));
                    *slot = open_held(rogue::request_id());
                }
            }
            let probe = s1.propose(tokio_stream::iter(Vec::<ProposeChunk>::new())).await.expect_err("an empty stream");
            if probe.code() == Code::ResourceExhausted {
                break;
            }
            assert_eq!(probe.code(), Code::InvalidArgument, "{probe:?}");
            assert!(Instant::now() < deadline, "the four streams never held every slot (held streams that ended early: {reopened:?})");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let fifth = rogue::request_id();
        let status = rogue::propose(&mut s1, &fifth, ZONE, &v1_items).await.expect_err("a fifth concurrent proposal");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(status.message().contains("4 proposals") && status.message().contains("nothing kept"), "{status:?}");
        println!("fifth concurrent Propose: {:?}: {}", status.code(), status.message());
        let unknown = |id: &str| GetDecisionRequest { api_version: API_VERSION, request_id: id.to_string() };
        let kept = s1.get_decision(unknown(&fifth)).await;
        assert_eq!(kept.as_ref().map_err(tonic::Status::code).err(), Some(Code::NotFound), "{kept:?}");
        let held_ids: Vec<String> = held.iter().map(|(id, _, _)| id.clone()).collect();
        for (_, tx, call) in held {
            drop(tx);
            let ended = call.await.expect("join").expect_err("a stream closed after its header was decided");
            println!("a held stream, closed without its items: {:?}: {}", ended.code(), ended.message());
        }
        for id in &held_ids {
            let kept = s1.get_decision(unknown(id)).await;
            assert_eq!(kept.as_ref().map_err(tonic::Status::code).err(), Some(Code::NotFound), "{kept:?}");
        }
        let decision = rogue::propose(&mut s1, &fifth, ZONE, &v1_items).await.expect("the fifth proposal, again");
        assert_decision("signer-1: the fifth proposal, alone", &decision, RequestState::Approved, &[]);
    });
    cluster.assert_running();
    println!("validity, DS and limits: {:.0} s", started.elapsed().as_secs_f64());
}

/// Sends `text` as a raw upload (SignZone, or SubmitChanges when `changes`) with the operator's
/// certificate, as any client could; the coordinator's refusal.
async fn upload_refusal(cluster: &Cluster, text: &str, source: &str, changes: bool) -> tonic::Status {
    let mut client = cluster.coordinator_client().await;
    let options = SignZoneOptions { zone: ZONE.to_string(), source_name: source.to_string(), ..SignZoneOptions::default() };
    let chunks = vec![SignZoneChunk { api_version: API_VERSION, options: Some(options), data: text.as_bytes().to_vec() }];
    let answer = if changes {
        client.submit_changes(tokio_stream::iter(chunks)).await
    } else {
        client.sign_zone(tokio_stream::iter(chunks)).await
    };
    let mut stream = match answer {
        Err(status) => return status,
        Ok(response) => response.into_inner(),
    };
    loop {
        match stream.message().await {
            Err(status) => return status,
            Ok(Some(chunk)) => assert!(chunk.data.is_empty(), "the coordinator signed the upload"),
            Ok(None) => panic!("the coordinator accepted the upload"),
        }
    }
}

/// `$INCLUDE` in zone text uploaded to the coordinator is refused, naming the line, without the
/// included file's content (it would read the coordinator's own files); `frostzone sign` expands
/// an `$INCLUDE` itself, relative to the including file, and names an included file's lines in
/// errors.
#[test]
fn include_is_expanded_by_the_cli_and_refused_in_uploads() {
    let _serial = serial();
    let started = Instant::now();
    let mut cluster = Cluster::new(2, 2);
    cluster.start_all();
    cluster.wait_ready(2);
    cluster.generate_keys(ZONE);
    let dir = cluster.dir.path().to_path_buf();
    // A file on the coordinator's host (its working directory is the cluster directory).
    let marker = format!("coordinator-secret-{}", rogue::request_id());
    let secret = dir.join("secret.txt");
    std::fs::write(&secret, format!("{marker} IN TXT \"{marker}\"\n")).expect("write secret");
    let main_text = example_text();
    let line = main_text.lines().count() + 1;
    let upload = format!("{main_text}$INCLUDE {}\n", secret.display());

    let rt = runtime();
    let status = rt.block_on(upload_refusal(&cluster, &upload, "upload.zone", false));
    println!("SignZone with $INCLUDE: {:?}: {}", status.code(), status.message());
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let message = status.message();
    assert!(message.contains(&format!("upload.zone:{line}")) && message.contains("$INCLUDE"), "{status:?}");
    assert!(message.contains("coordinator's own files"), "{status:?}");
    assert!(!message.contains(&marker), "the refusal shows the included file: {status:?}");

    // The CLI expands it, relative to the including file, wherever it runs.
    let input = dir.join("input");
    std::fs::create_dir_all(&input).expect("mkdir");
    std::fs::write(input.join("extra.inc"), "included IN A 192.0.2.199\nincluded IN TXT \"from the included file\"\n").expect("write include");
    let main = input.join("main.zone");
    std::fs::write(&main, format!("{main_text}$INCLUDE extra.inc\n")).expect("write main zone");
    let out = dir.join("included.signed");
    let mut sign = cluster.sign_command(ZONE, &main, &out);
    sign.current_dir("/");
    let o = run(&mut sign);
    assert!(o.status.success(), "{}\n{}", describe(&sign, &o), cluster.logs());
    let signed = std::fs::read_to_string(&out).expect("read signed zone");
    let included: Vec<&str> = signed.lines().filter(|l| l.starts_with("included.example.com.")).collect();
    assert!(included.iter().any(|l| l.contains("192.0.2.199")), "no included A record:\n{included:?}");
    assert!(included.iter().any(|l| l.contains("from the included file")), "no included TXT record:\n{included:?}");
    assert!(!signed.contains(&marker));
    let ds = dir.join("included.ds");
    cluster.write_ds(ZONE, &ds);
    let mut verify = Command::new(frostzone_tests::frostzone_bin());
    verify.arg("verify").arg(&out).arg("--ds").arg(&ds);
    let v = run(&mut verify);
    assert!(v.status.success(), "{}", describe(&verify, &v));

    // A change file with $INCLUDE, uploaded raw: refused the same way.
    let changes = format!(
        "{ZONE} 3600 IN SOA ns1.{ZONE} hostmaster.{ZONE} 1 7200 3600 1209600 300\n$INCLUDE {}\n",
        secret.display()
    );
    let status = rt.block_on(upload_refusal(&cluster, &changes, "changes.ixfr", true));
    println!("SubmitChanges with $INCLUDE: {:?}: {}", status.code(), status.message());
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("changes.ixfr:2") && status.message().contains("$INCLUDE"), "{status:?}");
    assert!(!status.message().contains(&marker), "{status:?}");

    // An error the coordinator finds in an included record is named by the included file's line.
    std::fs::write(input.join("bad.inc"), "; a CNAME beside mail's A and AAAA\nmail IN CNAME @\n").expect("write include");
    let bad = input.join("bad.zone");
    std::fs::write(&bad, format!("{main_text}$INCLUDE bad.inc\n")).expect("write zone");
    let mut sign = cluster.sign_command(ZONE, &bad, &dir.join("bad.signed"));
    let o = run(&mut sign);
    let stderr = String::from_utf8_lossy(&o.stderr);
    println!("sign with an error in an included file: {}", stderr.trim());
    assert_eq!(o.status.code(), Some(2), "{}", describe(&sign, &o));
    assert!(stderr.contains("bad.inc:2"), "the error does not name the included file's line: {}", describe(&sign, &o));
    cluster.assert_running();
    assert!(Path::new(&out).exists());
    println!("$INCLUDE: {:.0} s", started.elapsed().as_secs_f64());
}
