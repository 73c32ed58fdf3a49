//! In-process tests of incremental proposals: the diff against the
//! materialized baseline, baseline mismatches, publication applying
//! exactly the delta (or leaving the baseline stale when out of order),
//! context items, and the cost on a large zone.

use std::time::Instant;

use frostzone_proto::v1::signer_server::Signer;
use frostzone_proto::v1::*;
use frostzone_proto::API_VERSION;
use tonic::{Code, Status};

use crate::clock::Now;
use crate::tests::*;
use crate::NodeError;

const ZONE: &str = "example.";

fn owner(label: &str) -> Vec<u8> {
    let mut wire = vec![label.len() as u8];
    wire.extend_from_slice(label.as_bytes());
    wire.extend_from_slice(b"\x07example\x00");
    wire
}

/// `<label>.example. 300 IN A <addr>`, signed by `key_tag`, or a context
/// item (no RRSIG fields) without one.
fn a_rrset(label: &str, addr: [u8; 4], key_tag: Option<u32>) -> SigningItem {
    let mut item = a_item(key_tag.unwrap_or(0), 1);
    item.owner = owner(label).into();
    item.rdata = vec![addr.to_vec().into()];
    if key_tag.is_none() {
        item.rrsig = None;
    }
    item
}

/// `<label>.example. 300 IN TXT "<text>"`, signed by `key_tag`.
fn txt_rrset(label: &str, text: &str, key_tag: u32) -> SigningItem {
    let mut item = a_rrset(label, [0; 4], Some(key_tag));
    item.rtype = 16;
    item.rdata = vec![[&[text.len() as u8], text.as_bytes()].concat().into()];
    if let Some(f) = item.rrsig.as_mut() {
        f.type_covered = 16;
    }
    item
}

fn gone(label: &str, rtype: u32) -> RrsetRef {
    RrsetRef { owner: owner(label), rtype }
}

fn increment(id: &str, base: &str, items: &[SigningItem], removed: Vec<RrsetRef>) -> ProposeHeader {
    let digests: Vec<[u8; 32]> = items.iter().map(frostzone_proto::content::item_digest).collect();
    let content_hash = frostzone_proto::content::proposal_hash(&digests, &removed, base).to_vec();
    ProposeHeader { incremental: true, baseline_request_id: base.into(), removed, content_hash, ..header(id, items) }
}

fn propose_increment(s: &Signer1, id: &str, base: &str, items: &[SigningItem], removed: Vec<RrsetRef>) -> Result<Decision, NodeError> {
    s.node.propose(increment(id, base, items, removed), items.to_vec(), Now::current())
}

fn state(d: &Decision) -> RequestState {
    RequestState::try_from(d.state).unwrap()
}

/// (added, removed, changed, names added, names removed, signatures).
fn counts(d: &Decision) -> (u64, u64, u64, u64, u64, u64) {
    let c = d.changes.unwrap();
    (c.rrsets_added, c.rrsets_removed, c.rrsets_changed, c.names_added, c.names_removed, c.signatures)
}

fn lines(s: &Signer1, id: &str) -> Vec<String> {
    s.node.show_request(AdminShowRequest { api_version: API_VERSION, request_id: id.into(), max_lines: 0 }, Now::current()).unwrap().lines
}

/// Publishes `id` at `s`, its operator approving it first where its policy
/// left it pending (a signer takes as its baseline only what it approved
/// or t signers proved they approved: see `lifecycle_tests`).
fn publish(s: &Signer1, id: &str) -> Decision {
    let d = s.node.get_decision(GetDecisionRequest { api_version: API_VERSION, request_id: id.into() }, Now::current()).unwrap();
    if state(&d) == RequestState::Pending {
        let approve = AdminApproveRequest { api_version: API_VERSION, request_id: id.into(), content_hash: d.content_hash, operator: "op".into() };
        s.node.approve(approve, "op", Now::current()).unwrap();
    }
    let req = PublishedRequest { api_version: API_VERSION, request_id: id.into(), published: true, detail: "zone digest".into(), approvals: Vec::new() };
    s.node.published(req, Now::current()).unwrap()
}

/// The outcome the audit log records for the last publication at `s`.
fn last_published(s: &Signer1) -> String {
    audit_log(s).into_iter().rev().find(|e| e.event == "published").map(|e| e.outcome).unwrap_or_default()
}

/// One signer of a 2-of-3 group with `approval` as its `[approval]`
/// section; returns it (the others are dropped) and the key tag.
async fn signer(approval: &str) -> (Signer1, u32) {
    let policy = format!("version = 1\n[approval]\n{approval}\n");
    let mut signers: Vec<Signer1> = (1..=3).map(|i| node_with_policy(i, &policy)).collect();
    let (_, _, key_tag) = dkg(&signers, 2).await;
    (signers.swap_remove(0), key_tag)
}

/// The zone's baseline as `owner TYPE rdata` triples, sorted.
fn baseline(s: &Signer1) -> Vec<(Vec<u8>, u32, Vec<prost::bytes::Bytes>)> {
    let requests = s.node.store.requests();
    let mut out: Vec<_> = requests
        .baselines()
        .rrsets(ZONE)
        .unwrap()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let owner = frostzone_dnssec::wire::name_to_wire(&r.owner);
            (owner, u32::from(r.rtype.to_int()), frostzone_dnssec::wire::rrset_rdata_wire(&r))
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_increment_is_compared_with_the_baseline() {
    let (s, key_tag) = signer("").await;
    let full: Vec<SigningItem> = (1..=3).map(|i| a_item(key_tag, i)).collect();
    assert_eq!(state(&propose(&s, &rid(1), &full)), RequestState::Approved);
    publish(&s, &rid(1));
    // One RRset added at a new name, one kept (context item).
    let items = vec![a_rrset("h4", [192, 0, 2, 4], Some(key_tag)), a_rrset("h1", [192, 0, 2, 1], None)];
    let d = propose_increment(&s, &rid(2), &rid(1), &items, vec![]).unwrap();
    assert_eq!(state(&d), RequestState::Approved, "{d:?}");
    assert_eq!(counts(&d), (1, 0, 0, 1, 0, 1));
    assert!(!d.changes.unwrap().first_publication);
    assert_eq!(lines(&s, &rid(2)), ["+h4.example.\t300\tIN\tA\t192.0.2.4"]);
    // A changed RRset and a new type at an existing name: no name added.
    let items = vec![a_rrset("h2", [192, 0, 2, 99], Some(key_tag)), txt_rrset("h1", "hello", key_tag)];
    let d = propose_increment(&s, &rid(3), &rid(1), &items, vec![]).unwrap();
    assert_eq!(counts(&d), (1, 0, 1, 0, 0, 2));
    assert_eq!(
        lines(&s, &rid(3)),
        [
            "+h1.example.\t300\tIN\tTXT\t\"hello\"",
            "-h2.example.\t300\tIN\tA\t192.0.2.2",
            "+h2.example.\t300\tIN\tA\t192.0.2.99",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_refresh_changes_nothing_and_is_approved() {
    // Every change waits for the operator; a refresh does not.
    let (s, key_tag) = signer("max_rrsets_changed = 0").await;
    let full: Vec<SigningItem> = (1..=3).map(|i| a_item(key_tag, i)).collect();
    assert_eq!(state(&propose(&s, &rid(1), &full)), RequestState::Pending);
    publish(&s, &rid(1));
    let mut refreshed = full[..2].to_vec();
    for item in &mut refreshed {
        if let Some(f) = item.rrsig.as_mut() {
            f.expiration += 86400;
        }
    }
    let d = propose_increment(&s, &rid(2), &rid(1), &refreshed, vec![]).unwrap();
    assert_eq!(state(&d), RequestState::Approved, "{d:?}");
    assert_eq!(d.decided_by, "policy");
    assert_eq!(counts(&d), (0, 0, 0, 0, 0, 2));
    assert!(lines(&s, &rid(2)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removals_must_be_in_the_baseline() {
    let (s, key_tag) = signer("").await;
    let full: Vec<SigningItem> = (1..=3).map(|i| a_item(key_tag, i)).collect();
    propose(&s, &rid(1), &full);
    publish(&s, &rid(1));
    // A pure removal: no items at all.
    let d = propose_increment(&s, &rid(2), &rid(1), &[], vec![gone("h3", 1)]).unwrap();
    assert_eq!(state(&d), RequestState::Approved, "{d:?}");
    assert_eq!(counts(&d), (0, 1, 0, 0, 1, 0));
    assert_eq!(lines(&s, &rid(2)), ["-h3.example.\t300\tIN\tA\t192.0.2.3"]);
    // An RRset the baseline does not have: rejected, naming it.
    let d = propose_increment(&s, &rid(3), &rid(1), &[a_item(key_tag, 1)], vec![gone("h9", 1)]).unwrap();
    assert_eq!(state(&d), RequestState::Rejected);
    assert_eq!(
        d.reason,
        format!("removed RRset 0 (h9.example. A) is not in this signer's baseline for example. (request {})", rid(1))
    );
    // Removed and put at once, or outside the zone: rejected too.
    let d = propose_increment(&s, &rid(4), &rid(1), &[a_item(key_tag, 2)], vec![gone("h2", 1)]).unwrap();
    assert_eq!(d.reason, "removed RRset 0 (h2.example. A) is also among the items");
    let outside = RrsetRef { owner: b"\x03www\x07example\x03net\x00".to_vec(), rtype: 1 };
    let d = propose_increment(&s, &rid(5), &rid(1), &[], vec![outside]).unwrap();
    assert_eq!(d.reason, "removed RRset 0 (www.example.net. A) is outside the zone example.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baseline_mismatch_stores_nothing_and_a_full_proposal_follows() {
    let (s, key_tag) = signer("").await;
    let items = vec![a_item(key_tag, 1)];
    let e = Status::from(propose_increment(&s, &rid(2), &rid(1), &items, vec![]).unwrap_err());
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(
        e.message(),
        format!("baseline mismatch: this signer's baseline for example. is none, the increment applies to {}", rid(1))
    );
    propose(&s, &rid(1), &items);
    publish(&s, &rid(1));
    let e = Status::from(propose_increment(&s, &rid(3), &rid(9), &items, vec![]).unwrap_err());
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(
        e.message(),
        format!("baseline mismatch: this signer's baseline for example. is request {}, the increment applies to {}", rid(1), rid(9))
    );
    // Nothing was kept: the same id proposed in full is evaluated afresh.
    let get = GetDecisionRequest { api_version: API_VERSION, request_id: rid(3) };
    assert_eq!(Status::from(s.node.get_decision(get, Now::current()).unwrap_err()).code(), Code::NotFound);
    let full = vec![a_item(key_tag, 1), a_item(key_tag, 2)];
    let d = propose(&s, &rid(3), &full);
    assert_eq!(state(&d), RequestState::Approved, "{d:?}");
    assert_eq!(counts(&d), (1, 0, 0, 1, 0, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publication_applies_exactly_the_delta() {
    let (s, key_tag) = signer("").await;
    let full: Vec<SigningItem> = (1..=3).map(|i| a_item(key_tag, i)).collect();
    propose(&s, &rid(1), &full);
    publish(&s, &rid(1));
    let before = baseline(&s);
    assert_eq!(before.len(), 3);
    let items = vec![a_rrset("h2", [192, 0, 2, 99], Some(key_tag)), a_item(key_tag, 4)];
    let d = propose_increment(&s, &rid(2), &rid(1), &items, vec![gone("h3", 1)]).unwrap();
    assert_eq!(counts(&d), (1, 1, 1, 1, 1, 2));
    // Proposed, not yet published: the baseline has not moved.
    assert_eq!(baseline(&s), before);
    assert_eq!(state(&publish(&s, &rid(2))), RequestState::Published);
    let addrs: Vec<(Vec<u8>, Vec<Vec<u8>>)> =
        baseline(&s).into_iter().map(|(o, _, r)| (o, r.iter().map(|r| r.to_vec()).collect())).collect();
    let mut expected = vec![
        (owner("h1"), vec![vec![192, 0, 2, 1]]),
        (owner("h2"), vec![vec![192, 0, 2, 99]]),
        (owner("h4"), vec![vec![192, 0, 2, 4]]),
    ];
    expected.sort();
    assert_eq!(addrs, expected);
    // The next increment is compared with that: h2 back to .2 is a change,
    // h4 unchanged, h3 gone already.
    let items = vec![a_item(key_tag, 2), a_rrset("h4", [192, 0, 2, 4], None)];
    let d = propose_increment(&s, &rid(3), &rid(2), &items, vec![]).unwrap();
    assert_eq!(counts(&d), (0, 0, 1, 0, 0, 1));
    let d = propose_increment(&s, &rid(4), &rid(2), &[], vec![gone("h3", 1)]).unwrap();
    assert_eq!(state(&d), RequestState::Rejected);
    // Published twice: the delta is applied once.
    assert_eq!(state(&publish(&s, &rid(2))), RequestState::Published);
    assert_eq!(baseline(&s).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_increment_published_out_of_order_leaves_the_baseline_stale() {
    let (s, key_tag) = signer("").await;
    propose(&s, &rid(1), &[a_item(key_tag, 1)]);
    publish(&s, &rid(1));
    propose_increment(&s, &rid(2), &rid(1), &[a_item(key_tag, 2)], vec![]).unwrap();
    propose_increment(&s, &rid(3), &rid(1), &[a_item(key_tag, 3)], vec![]).unwrap();
    publish(&s, &rid(2));
    // rid(3) applies to rid(1), the baseline is rid(2) by now.
    assert_eq!(state(&publish(&s, &rid(3))), RequestState::Published);
    assert_eq!(baseline(&s).len(), 2, "rid(3)'s delta must not be applied");
    let reason = format!("request {} was published as an increment on request {}, but the baseline was request {}", rid(3), rid(1), rid(2));
    let last = audit_log(&s).pop().unwrap();
    assert_eq!(last.outcome, format!("published (zone digest); baseline left stale: {reason}; approved by this signer"));
    // Every increment is refused until a full proposal is published,
    // even one on the request the stale baseline still reflects.
    for base in [rid(3), rid(2)] {
        let e = Status::from(propose_increment(&s, &rid(4), &base, &[a_item(key_tag, 4)], vec![]).unwrap_err());
        assert_eq!(e.code(), Code::FailedPrecondition);
        assert_eq!(
            e.message(),
            format!("baseline mismatch: this signer's baseline for example. is request {} (stale: {reason}), the increment applies to {base}", rid(2))
        );
    }
    let full: Vec<SigningItem> = (1..=4).map(|i| a_item(key_tag, i)).collect();
    assert_eq!(counts(&propose(&s, &rid(4), &full)), (2, 0, 0, 2, 0, 4));
    publish(&s, &rid(4));
    assert_eq!(baseline(&s).len(), 4);
    let d = propose_increment(&s, &rid(5), &rid(4), &[], vec![gone("h4", 1)]).unwrap();
    assert_eq!(counts(&d), (0, 1, 0, 0, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_items_count_but_are_never_signed() {
    // Only A is signed here: a TXT context item is not a signing item,
    // so the policy does not refuse it.
    let policy = "version = 1\nrr_types = [\"A\", \"SOA\"]\n";
    let signers: Vec<Signer1> = (1..=3).map(|i| node_with_policy(i, policy)).collect();
    let (_, _, key_tag) = dkg(&signers, 2).await;
    let s = &signers[0];
    let mut txt = txt_rrset("h2", "kept", key_tag);
    txt.rrsig = None;
    let context = a_rrset("h3", [192, 0, 2, 3], None);
    let items = vec![a_item(key_tag, 1), txt.clone(), context.clone()];
    let d = propose(s, &rid(1), &items);
    assert_eq!(state(&d), RequestState::Approved, "{d:?}");
    assert_eq!(counts(&d), (3, 0, 0, 3, 0, 1));
    // The content hash covers them: a header without them does not match.
    let mut short = header(&rid(2), &items[..1]);
    short.item_count = 3;
    let e = s.node.propose(short, items.clone(), Now::current()).unwrap_err().to_string();
    assert!(e.starts_with("content_hash: the items hash to"), "{e}");
    // Context items are parsed all the same.
    let mut outside = context.clone();
    outside.owner = b"\x02h3\x07example\x03net\x00".to_vec().into();
    let d = propose(s, &rid(3), &[a_item(key_tag, 1), outside]);
    assert_eq!(d.reason, "item 1 (h3.example.net. A) is outside the zone example.");
    // A Commit cannot carry a context item (no RRSIG fields), nor the same
    // RRset signed: it was proposed as context, not for signing.
    let e = s.svc.commit(commit_under(&rid(1), b"c1", key_tag, vec![context])).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("no RRSIG fields"), "{e:?}");
    let signed = a_rrset("h3", [192, 0, 2, 3], Some(key_tag));
    let e = s.svc.commit(commit_under(&rid(1), b"c2", key_tag, vec![signed])).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert_eq!(e.message(), format!("item 0 (h3.example. A) was not proposed under request {}", rid(1)));
    s.svc.commit(commit_under(&rid(1), b"c3", key_tag, vec![a_item(key_tag, 1)])).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_increment_on_a_large_zone_reads_only_what_it_changes() {
    const RRSETS: u32 = 50_000;
    let (s, key_tag) = signer("max_rrsets_changed = 100000\nmax_names_added = 100000").await;
    let mut full: Vec<SigningItem> =
        (0..RRSETS).map(|n| a_rrset(&format!("n{n}"), [10, (n >> 16) as u8, (n >> 8) as u8, n as u8], None)).collect();
    full.push(a_item(key_tag, 1));
    let started = Instant::now();
    assert_eq!(state(&propose(&s, &rid(1), &full)), RequestState::Approved);
    publish(&s, &rid(1));
    println!("full proposal and publication of {} RRsets: {:?}", full.len(), started.elapsed());

    let baselines = s.node.store.requests().baselines();
    let read_before = baselines.entries_read();
    let started = Instant::now();
    let items = vec![a_rrset("new", [192, 0, 2, 200], Some(key_tag))];
    let d = propose_increment(&s, &rid(2), &rid(1), &items, vec![gone("n7", 1)]).unwrap();
    assert_eq!(counts(&d), (1, 1, 0, 1, 1, 1));
    assert_eq!(state(&publish(&s, &rid(2))), RequestState::Published);
    let read = baselines.entries_read() - read_before;
    println!("one-RRset increment on {} RRsets, proposed and published: {:?}, {read} baseline entries read", full.len(), started.elapsed());
    // The zone's state (proposal, its re-check, publication, and before
    // each DNSKEY lookup of the publication), one lookup per RRset put or
    // removed, one key per type at each name touched.
    assert!(read <= 10, "{read} baseline entries read for a one-RRset increment");
    assert_eq!(baseline(&s).len(), full.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_content_hash_binds_removals() {
    let (s, key_tag) = signer("").await;
    let full: Vec<SigningItem> = (1..=3).map(|i| a_item(key_tag, i)).collect();
    propose(&s, &rid(1), &full);
    publish(&s, &rid(1));
    let items = vec![a_rrset("h4", [192, 0, 2, 4], Some(key_tag))];
    // A hash over the items alone leaves the removal unbound: refused.
    let mut h = increment(&rid(2), &rid(1), &items, vec![gone("h1", 1)]);
    h.content_hash = frostzone_proto::content::content_hash(&items).to_vec();
    let e = s.node.propose(h, items.clone(), Now::current()).unwrap_err().to_string();
    assert!(e.starts_with("content_hash: the items hash to"), "{e}");
    // The same with the removal bound is accepted.
    let d = propose_increment(&s, &rid(2), &rid(1), &items, vec![gone("h1", 1)]).unwrap();
    assert_eq!(counts(&d).1, 1);
}

/// A zone's first full request is staged while it is signed: its
/// publication adopts the staged entries (the same baseline a signer
/// that did not stage writes), and the first increment follows at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_baseline_is_staged_and_adopted_at_publication() {
    use crate::staging::Staged;
    let (s, key_tag) = signer("").await;
    let (plain, plain_tag) = signer("").await;
    let full: Vec<SigningItem> = (1..=3).map(|i| a_item(key_tag, i)).collect();
    assert_eq!(state(&propose(&s, &rid(1), &full)), RequestState::Approved);
    assert_eq!(s.node.stage_baseline(&rid(1)).unwrap(), Staged::Whole { rrsets: 3 });
    assert_eq!(s.node.stage_baseline(&rid(1)).unwrap(), Staged::Skipped("staged already"));
    // Staged is not published: an increment on it is still refused.
    let items = vec![a_rrset("h4", [192, 0, 2, 4], Some(key_tag))];
    assert!(propose_increment(&s, &rid(2), &rid(1), &items, vec![]).is_err());
    assert!(baseline(&s).is_empty());
    publish(&s, &rid(1));
    let outcome = last_published(&s);
    assert!(outcome.contains("(staged)"), "{outcome}");
    let baselines = s.node.store.requests().baselines();
    assert_eq!(baselines.staged(ZONE).unwrap(), None);
    let unstaged: Vec<SigningItem> = (1..=3).map(|i| a_item(plain_tag, i)).collect();
    propose(&plain, &rid(1), &unstaged);
    publish(&plain, &rid(1));
    assert_eq!(baseline(&s), baseline(&plain));
    assert_eq!(baseline(&s).len(), 3);
    let d = propose_increment(&s, &rid(2), &rid(1), &items, vec![]).unwrap();
    assert_eq!(counts(&d), (1, 0, 0, 1, 0, 1));
}

/// Staging gives way: a request published before the staged one replaces
/// the staged entries, mark included (by a replacement prepared on them,
/// never by staging over them); the staged request published later gets
/// a replacement prepared on the new baseline; a closed request or a
/// small increment gets nothing made ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staging_gives_way_to_other_publications() {
    use crate::staging::Staged;
    let (s, key_tag) = signer("").await;
    let first: Vec<SigningItem> = (1..=3).map(|i| a_item(key_tag, i)).collect();
    propose(&s, &rid(1), &first);
    assert_eq!(s.node.stage_baseline(&rid(1)).unwrap(), Staged::Whole { rrsets: 3 });
    let second = vec![a_item(key_tag, 1), txt_rrset("h7", "other", key_tag)];
    propose(&s, &rid(2), &second);
    // Not staged over rid(1)'s entries: prepared on them (h2 and h3 and
    // the mark removed, h7 put).
    assert_eq!(s.node.stage_baseline(&rid(2)).unwrap(), Staged::Prepared { writes: 4 });
    assert_eq!(s.node.stage_baseline(&rid(2)).unwrap(), Staged::Skipped("prepared already"));
    publish(&s, &rid(2));
    let baselines = s.node.store.requests().baselines();
    assert_eq!(baselines.staged(ZONE).unwrap(), None);
    assert_eq!(baseline(&s).len(), 2);
    assert_eq!(s.node.stage_baseline(&rid(1)).unwrap(), Staged::Prepared { writes: 3 });
    publish(&s, &rid(1));
    assert_eq!(baseline(&s).len(), 3);
    let outcome = last_published(&s);
    assert!(outcome.contains("(prepared)"), "{outcome}");
    // A stopping signer stages nothing more.
    propose(&s, &rid(6), &second);
    s.node.stop_staging();
    assert_eq!(s.node.stage_baseline(&rid(6)).unwrap(), Staged::Skipped("the signer is stopping"));
    // A failed request is not staged; nor is an increment.
    propose(&s, &rid(3), &first);
    s.node.published(PublishedRequest { api_version: API_VERSION, request_id: rid(3), published: false, detail: "gave up".into(), approvals: Vec::new() }, Now::current()).unwrap();
    assert_eq!(s.node.stage_baseline(&rid(3)).unwrap(), Staged::Skipped("not an open request with its content"));
    propose_increment(&s, &rid(4), &rid(1), &[txt_rrset("h8", "x", key_tag)], vec![]).unwrap();
    assert_eq!(s.node.stage_baseline(&rid(4)).unwrap(), Staged::Skipped("a small increment"));
}

/// A signer asked to stop while it stages a zone's first baseline stops
/// between chunks: the entries written so far are no baseline (nothing is
/// published on them, no stage mark), and the request's publication, by
/// the signer started again, writes the whole baseline as if nothing had
/// been staged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staging_stopped_part_way_leaves_no_baseline() {
    use crate::staging::Staged;
    let approval = "max_rrsets_changed = 100000\nmax_names_added = 100000";
    let (s, key_tag) = signer(approval).await;
    // Two stored chunks of 4,096 RRsets.
    let n = 4096 + 10;
    let item = |i: usize| a_rrset(&format!("n{i}"), [10, 0, (i >> 8) as u8, i as u8], Some(key_tag));
    let full: Vec<SigningItem> = (0..n).map(item).collect();
    assert_eq!(state(&propose(&s, &rid(1), &full)), RequestState::Approved);
    let chunks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = chunks.clone();
    *s.node.before_staged_chunk.lock().unwrap() = Some(Box::new(move |node| {
        // SIGTERM arrives once the first chunk is written.
        if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            node.stop_staging();
        }
    }));
    assert_eq!(s.node.stage_baseline(&rid(1)).unwrap(), Staged::Stopped("the signer is stopping"));
    assert_eq!(chunks.load(std::sync::atomic::Ordering::SeqCst), 2);
    let baselines = s.node.store.requests().baselines();
    assert_eq!(baselines.staged(ZONE).unwrap(), None);
    assert!(baseline(&s).is_empty());
    assert!(propose_increment(&s, &rid(2), &rid(1), &[a_rrset("h4", [192, 0, 2, 4], Some(key_tag))], vec![]).is_err());

    // Started again on the same store (sled holds it until the first
    // node is gone): the publication applies whole.
    let dir = s._dir.clone();
    drop(s);
    let again = node_with_policy_in(1, &format!("version = 1\n[approval]\n{approval}\n"), dir);
    publish(&again, &rid(1));
    let outcome = last_published(&again);
    assert!(!outcome.contains("(staged)"), "{outcome}");
    let now = baseline(&again);
    assert_eq!(now.len(), n);
    let last = now.iter().find(|(o, _, _)| *o == owner(&format!("n{}", n - 1))).unwrap();
    assert_eq!(last.2, vec![vec![10, 0, ((n - 1) >> 8) as u8, (n - 1) as u8]]);
    let d = propose_increment(&again, &rid(3), &rid(1), &[a_rrset("h4", [192, 0, 2, 4], Some(key_tag))], vec![]).unwrap();
    assert_eq!(state(&d), RequestState::Approved, "{d:?}");
}

/// A full proposal evaluated while a publication moved the baseline is
/// evaluated again on the new one; a baseline that keeps moving gives up
/// after three evaluations and keeps nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_proposal_is_evaluated_again_when_the_baseline_moves() {
    let (s, key_tag) = signer("").await;
    let first: Vec<SigningItem> = (1..=3).map(|i| a_item(key_tag, i)).collect();
    propose(&s, &rid(1), &first);
    publish(&s, &rid(1));
    let mut second = first.clone();
    second.push(txt_rrset("h4", "four", key_tag));
    propose(&s, &rid(2), &second);
    // rid(2) is published while rid(3) is evaluated (the first time only).
    let mut once = true;
    *s.node.after_evaluation.lock().unwrap() = Some(Box::new(move |node| {
        if std::mem::take(&mut once) {
            let req = PublishedRequest { api_version: API_VERSION, request_id: rid(2), published: true, detail: "zone digest".into(), approvals: Vec::new() };
            node.published(req, Now::current()).unwrap();
        }
    }));
    let mut third = second.clone();
    third.push(txt_rrset("h5", "five", key_tag));
    let d = propose(&s, &rid(3), &third);
    // Judged against rid(2): one RRset added, not two.
    assert_eq!(counts(&d).0, 1, "{d:?}");
    // A baseline that moves at every evaluation.
    *s.node.after_evaluation.lock().unwrap() = Some(Box::new(|node| {
        let baselines = node.store.requests().baselines();
        let mut state = baselines.state(ZONE).unwrap().unwrap();
        state.updated_unix += 1;
        baselines.apply(crate::baseline::Baselines::state_batch(ZONE, &state)).unwrap();
    }));
    let e = s.node.propose(header(&rid(4), &first), first.clone(), Now::current()).unwrap_err();
    assert!(e.to_string().contains("changed while the proposal was evaluated, 3 times"), "{e}");
    *s.node.after_evaluation.lock().unwrap() = None;
    assert!(s.node.store.requests().get(&rid(4)).unwrap().is_none(), "nothing kept");
}

/// A later full request's replacement is worked out while it is signed
/// and applied at its publication; if another publication moved the
/// baseline meanwhile, it is not used and the request is written whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_re_sign_is_prepared_and_used_only_on_its_baseline() {
    use crate::staging::Staged;
    let (s, key_tag) = signer("").await;
    let first: Vec<SigningItem> = (1..=3).map(|i| a_item(key_tag, i)).collect();
    propose(&s, &rid(1), &first);
    s.node.stage_baseline(&rid(1)).unwrap();
    publish(&s, &rid(1));
    let mut second = first.clone();
    second.push(txt_rrset("h4", "four", key_tag));
    propose(&s, &rid(2), &second);
    assert_eq!(s.node.stage_baseline(&rid(2)).unwrap(), Staged::Prepared { writes: 1 });
    publish(&s, &rid(2));
    assert!(last_published(&s).contains("(prepared)"), "{}", last_published(&s));
    assert_eq!(baseline(&s).len(), 4);
    // Back to the first content, prepared on rid(2)'s baseline; then an
    // increment on rid(2) is published first.
    propose(&s, &rid(3), &first);
    assert_eq!(s.node.stage_baseline(&rid(3)).unwrap(), Staged::Prepared { writes: 1 });
    propose_increment(&s, &rid(4), &rid(2), &[txt_rrset("h5", "five", key_tag)], vec![]).unwrap();
    publish(&s, &rid(4));
    assert_eq!(baseline(&s).len(), 5);
    publish(&s, &rid(3));
    assert!(!last_published(&s).contains("(prepared)"), "{}", last_published(&s));
    assert_eq!(baseline(&s).len(), 3, "h4 and h5 both gone: written whole, not the stale preparation");
    // A failed request's preparation is dropped with it.
    propose(&s, &rid(5), &second);
    assert_eq!(s.node.stage_baseline(&rid(5)).unwrap(), Staged::Prepared { writes: 1 });
    let failed = PublishedRequest { api_version: API_VERSION, request_id: rid(5), published: false, detail: "gave up".into(), approvals: Vec::new() };
    s.node.published(failed, Now::current()).unwrap();
    assert!(s.node.staging.take_prepared(&rid(5)).is_none());
}

/// An increment that signs every RRset again is prepared as the few
/// writes it needs (what changed), not one put per RRset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_increment_is_prepared_as_the_writes_it_needs() {
    use crate::prepared::PREPARE_MIN_ITEMS;
    use crate::staging::Staged;
    let (s, key_tag) = signer("max_rrsets_changed = 100000\nmax_names_added = 100000").await;
    let n = PREPARE_MIN_ITEMS as usize + 10;
    let item = |i: usize, last: u8| a_rrset(&format!("n{i}"), [10, 0, (i >> 8) as u8, last], Some(key_tag));
    let full: Vec<SigningItem> = (0..n).map(|i| item(i, i as u8)).collect();
    propose(&s, &rid(1), &full);
    assert_eq!(s.node.stage_baseline(&rid(1)).unwrap(), Staged::Whole { rrsets: n });
    publish(&s, &rid(1));
    // Every RRset signed again, n5 changed, n7 removed.
    let again: Vec<SigningItem> = (0..n).filter(|&i| i != 7).map(|i| item(i, if i == 5 { 99 } else { i as u8 })).collect();
    let d = propose_increment(&s, &rid(2), &rid(1), &again, vec![gone("n7", 1)]).unwrap();
    assert_eq!(state(&d), RequestState::Approved, "{d:?}");
    assert_eq!(s.node.stage_baseline(&rid(2)).unwrap(), Staged::Prepared { writes: 2 });
    publish(&s, &rid(2));
    let outcome = last_published(&s);
    assert!(outcome.contains("(prepared)"), "{outcome}");
    let now = baseline(&s);
    assert_eq!(now.len(), n - 1);
    let n5 = now.iter().find(|(o, _, _)| *o == owner("n5")).unwrap();
    assert_eq!(n5.2, vec![vec![10, 0, 0, 99]]);
}
