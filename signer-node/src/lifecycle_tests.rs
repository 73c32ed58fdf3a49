//! In-process tests of the request life cycle: Propose, the operator's
//! decision, Commit bound to approved content, publication as the new
//! baseline, and expiry.

use frostzone_proto::v1::signer_admin_server::SignerAdmin;
use frostzone_proto::v1::signer_server::Signer;
use frostzone_proto::v1::*;
use frostzone_proto::API_VERSION;
use tonic::{Code, Request};

use crate::admin::AdminService;
use crate::binding::APPROVAL_WINDOW_SECS;
use crate::clock::Now;
use crate::tests::*;

const APEX_WIRE: &[u8] = b"\x07example\x00";

/// `example. 3600 IN DNSKEY 257 3 15 <group key>`, signed by `key_tag`.
fn dnskey_item(key_tag: u32, group_key: &[u8; 32]) -> SigningItem {
    let mut rdata = vec![1, 1, 3, 15];
    rdata.extend_from_slice(group_key);
    let mut item = a_item(key_tag, 1);
    item.owner = APEX_WIRE.to_vec().into();
    item.rtype = 48;
    item.ttl = 3600;
    item.rdata = vec![rdata.into()];
    if let Some(f) = item.rrsig.as_mut() {
        (f.type_covered, f.labels, f.original_ttl) = (48, 1, 3600);
    }
    item
}

fn decision(s: &Signer1, id: &str) -> Decision {
    s.node.get_decision(GetDecisionRequest { api_version: API_VERSION, request_id: id.into() }, Now::current()).unwrap()
}

fn state(d: &Decision) -> RequestState {
    RequestState::try_from(d.state).unwrap()
}

fn approve_req(id: &str, hash: &[u8]) -> Request<AdminApproveRequest> {
    Request::new(AdminApproveRequest {
        api_version: API_VERSION,
        request_id: id.into(),
        content_hash: hash.to_vec(),
        operator: "alice".into(),
    })
}

fn published(s: &Signer1, id: &str, ok: bool) -> Decision {
    published_with(s, id, ok, Vec::new()).unwrap()
}

fn published_with(s: &Signer1, id: &str, ok: bool, approvals: Vec<ApprovalProof>) -> Result<Decision, crate::NodeError> {
    let req = PublishedRequest { api_version: API_VERSION, request_id: id.into(), published: ok, detail: "zone digest".into(), approvals };
    s.node.published(req, Now::current())
}

/// The approval proofs of `signers`' decisions on request `id`.
fn proofs(signers: &[&Signer1], id: &str) -> Vec<ApprovalProof> {
    signers
        .iter()
        .map(|s| decision(s, id))
        .filter(|d| !d.approval_signature.is_empty())
        .map(|d| ApprovalProof { participant: d.participant, content_hash: d.content_hash, signature: d.approval_signature })
        .collect()
}

/// The audit events of `s` after its key ceremony.
fn events_after_dkg(s: &Signer1) -> Vec<String> {
    let events: Vec<String> = audit_log(s).into_iter().map(|e| e.event).collect();
    let start = events.iter().position(|e| e == "key-stored").map_or(0, |i| i + 1);
    events[start..].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propose_within_limits_is_approved_by_policy_and_idempotent() {
    let signers = cluster(3);
    let (_, _, key_tag) = dkg(&signers, 2).await;
    let items: Vec<SigningItem> = (1..=4).map(|i| a_item(key_tag, i)).collect();
    let d = propose(&signers[0], &rid(1), &items);
    assert_eq!(state(&d), RequestState::Approved, "{d:?}");
    assert_eq!(d.decided_by, "policy");
    let c = d.changes.unwrap();
    assert!(c.first_publication && !c.key_rrsets_changed);
    assert_eq!((c.rrsets_added, c.names_added, c.signatures), (4, 4, 4));
    // Approved by policy: round 1 came with the decision, once.
    assert_eq!(d.precommitted.len(), 1);
    assert_eq!((d.precommitted[0].key_tag, d.precommitted[0].commitments.len()), (key_tag, 4));
    let d = Decision { precommitted: Vec::new(), ..d };
    assert_eq!(decision(&signers[0], &rid(1)), d);
    // The same content again: the same decision. Other content under the
    // same id: refused.
    assert_eq!(propose(&signers[0], &rid(1), &items), d);
    let other = signers[0].node.propose(header(&rid(1), &items[..3]), items[..3].to_vec(), Now::current()).unwrap_err();
    assert_eq!(tonic::Status::from(other).code(), Code::AlreadyExists);
    // A header whose content hash the items do not match: refused.
    let mut bad = header(&rid(2), &items);
    bad.content_hash[0] ^= 1;
    let e = signers[0].node.propose(bad, items.clone(), Now::current()).unwrap_err().to_string();
    assert!(e.contains("content_hash") && e.contains("the items hash to"), "{e}");
    // Items that break the policy make a rejection with the reason.
    let mut expired = a_item(key_tag, 9);
    if let Some(f) = expired.rrsig.as_mut() {
        f.expiration = f.inception + 10;
    }
    let d = propose(&signers[0], &rid(3), &[expired]);
    assert_eq!(state(&d), RequestState::Rejected);
    assert!(d.reason.starts_with("item 0 (h9.example. A): "), "{d:?}");
    // An RRset outside the zone is refused whoever signs it.
    let mut outside = a_item(key_tag ^ 1, 5);
    outside.owner = b"\x02h5\x07example\x03net\x00".to_vec().into();
    let d = propose(&signers[0], &rid(4), &[outside]);
    assert_eq!(state(&d), RequestState::Rejected);
    assert_eq!(d.reason, "item 0 (h5.example.net. A) is outside the zone example.");
    // A Commit under the approved request works; under the rejected one not.
    let mut ok = commit_under(&rid(1), b"s1", key_tag, items[..2].to_vec());
    signers[0].svc.commit(ok).await.unwrap();
    ok = commit_under(&rid(3), b"s2", key_tag, vec![a_item(key_tag, 9)]);
    let e = signers[0].svc.commit(ok).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dnskey_change_waits_for_the_operator() {
    let signers: Vec<Signer1> = (1..=3).map(|i| node_with_policy(i, "version = 1\n")).collect();
    let (group_key, public, key_tag) = dkg(&signers, 2).await;
    let items = vec![dnskey_item(key_tag, &group_key), a_item(key_tag, 1)];
    let (alice, bob) = (&signers[0], &signers[1]);
    let d = propose(alice, &rid(7), &items);
    let unsigned = |d: Decision| Decision { participant: None, signature: Vec::new(), ..d };
    assert_eq!(unsigned(propose(bob, &rid(7), &items)), unsigned(d.clone()));
    assert_eq!(state(&d), RequestState::Pending);
    assert!(d.reason.contains("DNSKEY RRset changes need the operator's approval (key_changes = \"operator\")"), "{d:?}");
    assert!(d.decided_by.is_empty());

    // No share before approval.
    let e = alice.svc.commit(commit_under(&rid(7), b"early", key_tag, items.clone())).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("pending this signer's operator"), "{e:?}");

    // The operator reviews it...
    let admin = AdminService::new(alice.node.clone(), 0);
    let list = admin.list_requests(Request::new(AdminListRequest { api_version: API_VERSION, all: false })).await.unwrap().into_inner();
    assert_eq!(list.requests.len(), 1);
    assert_eq!(list.requests[0].submitted_by, "operator-cert");
    let prefix = &rid(7)[..24];
    let show = AdminShowRequest { api_version: API_VERSION, request_id: prefix.into(), max_lines: 0 };
    let detail = admin.show_request(Request::new(show)).await.unwrap().into_inner();
    assert_eq!(detail.total_lines, 2);
    assert!(detail.lines.iter().any(|l| l.starts_with("+example.\t3600\tIN\tDNSKEY\t257 3 15 ")), "{:?}", detail.lines);
    assert_eq!(detail.keys, [KeyInvolved { key_tag, role: KeyRole::Csk.into(), signatures: 2, held: true }]);
    // ...a short prefix is refused, and so is an approval of other content.
    let short = AdminShowRequest { api_version: API_VERSION, request_id: "0000".into(), max_lines: 0 };
    assert_eq!(admin.show_request(Request::new(short)).await.unwrap_err().code(), Code::InvalidArgument);
    let e = admin.approve(approve_req(prefix, &[0; 32])).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains(&hex::encode(&d.content_hash)) && e.message().contains(&hex::encode([0; 32])), "{e:?}");
    assert_eq!(state(&decision(alice, &rid(7))), RequestState::Pending);

    // Approved by both operators, it is signed.
    for s in [alice, bob] {
        let admin = AdminService::new(s.node.clone(), 0);
        let d = admin.approve(approve_req(&rid(7), &d.content_hash)).await.unwrap().into_inner();
        assert_eq!((state(&d), d.decided_by.as_str()), (RequestState::Approved, "alice"));
    }
    let e = admin.approve(approve_req(&rid(7), &d.content_hash)).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    // sign_round commits under rid(0): give it this request's id instead.
    approved_alias(&signers[..2], &items).await;
    sign_round(&[alice, bob], b"sig", key_tag, &items, &public).await.unwrap();
    assert_eq!(state(&decision(alice, &rid(0))), RequestState::Signed);
    // Signed: too late to reject.
    let reject = AdminRejectRequest { api_version: API_VERSION, request_id: rid(0), reason: "no".into(), operator: "alice".into() };
    assert_eq!(admin.reject(Request::new(reject)).await.unwrap_err().code(), Code::FailedPrecondition);
    assert_eq!(events_after_dkg(alice), ["propose", "commit-refused", "approve", "propose", "approve", "commit", "sign"]);
}

/// [`approved`] under [`rid`]`(0)` where every signer leaves key changes to
/// its operator.
async fn approved_alias(signers: &[Signer1], items: &[SigningItem]) {
    approved(signers, &rid(0), items);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_outside_the_approved_content_are_refused() {
    let signers: Vec<Signer1> = (1..=3).map(|i| node_with_policy(i, "version = 1\n")).collect();
    let (group_key, _, key_tag) = dkg(&signers, 2).await;
    let s = &signers[0];
    let items = vec![a_item(key_tag, 1), a_item(key_tag, 2)];
    approved(&signers[..1], &rid(1), &items);
    // An item that was not proposed.
    let e = s.svc.commit(commit_under(&rid(1), b"x1", key_tag, vec![items[0].clone(), a_item(key_tag, 3)])).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert_eq!(e.message(), format!("item 1 (h3.example. A) was not proposed under request {}", rid(1)));
    // A request never proposed.
    let e = s.svc.commit(commit_under(&rid(2), b"x2", key_tag, items.clone())).await.unwrap_err();
    assert!(e.code() == Code::PermissionDenied && e.message().contains("never proposed"), "{e:?}");
    // A pending request the operator rejects.
    let pending = vec![dnskey_item(key_tag, &group_key)];
    let d = propose(s, &rid(3), &pending);
    assert_eq!(state(&d), RequestState::Pending);
    let admin = AdminService::new(s.node.clone(), 0);
    let no_reason = AdminRejectRequest { api_version: API_VERSION, request_id: rid(3), reason: " ".into(), operator: "bob".into() };
    assert_eq!(admin.reject(Request::new(no_reason)).await.unwrap_err().code(), Code::InvalidArgument);
    let reject = AdminRejectRequest { api_version: API_VERSION, request_id: rid(3), reason: "unplanned key roll".into(), operator: "bob".into() };
    let d = admin.reject(Request::new(reject)).await.unwrap().into_inner();
    assert_eq!((state(&d), d.decided_by.as_str(), d.reason.as_str()), (RequestState::Rejected, "bob", "unplanned key roll"));
    let e = s.svc.commit(commit_under(&rid(3), b"x3", key_tag, pending)).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("is rejected (unplanned key roll)"), "{e:?}");
    // An approved request rejected between Commit and Sign makes no share.
    s.svc.commit(commit_under(&rid(1), b"x4", key_tag, items.clone())).await.unwrap();
    let reject = AdminRejectRequest { api_version: API_VERSION, request_id: rid(1), reason: "changed my mind".into(), operator: "bob".into() };
    admin.reject(Request::new(reject)).await.unwrap();
    let sign = SignRequest { api_version: API_VERSION, attempt_id: b"x4".to_vec(), commitments: vec![] };
    let e = s.svc.sign(Request::new(sign)).await.unwrap_err();
    assert!(e.code() == Code::PermissionDenied && e.message().contains("no longer approved"), "{e:?}");
    // Another zone's request does not cover this zone.
    let mut other = commit_under(&rid(1), b"x5", key_tag, items);
    other.get_mut().zone = "example.net.".into();
    assert_eq!(s.svc.commit(other).await.unwrap_err().code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_content_becomes_the_baseline_only_on_proof() {
    // Every change waits for the operator; a pure refresh does not.
    let signers: Vec<Signer1> = (1..=3).map(|i| node_with_policy(i, "version = 1\n[approval]\nmax_rrsets_changed = 0\n")).collect();
    let (_, _, key_tag) = dkg(&signers, 2).await;
    let s = &signers[0];
    let items: Vec<SigningItem> = (1..=3).map(|i| a_item(key_tag, i)).collect();
    let d = propose(s, &rid(1), &items);
    assert_eq!(state(&d), RequestState::Pending);
    assert!(d.reason.contains("max_rrsets_changed = 0"), "{d:?}");
    // Claimed published without proof: refused, the baseline stays, and
    // every proposal for the zone now waits for the operator.
    let e = published_with(s, &rid(1), true, Vec::new()).unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e}");
    assert!(e.to_string().contains("proves 0 of the 2 approvals"), "{e}");
    assert_eq!(state(&decision(s, &rid(1))), RequestState::Pending);
    assert!(s.node.store.requests().baselines().rrsets("example.").unwrap().is_none());
    let d = propose(s, &rid(2), &items);
    assert_eq!(state(&d), RequestState::Pending, "{d:?}");
    assert!(d.reason.contains("without proof"), "{d:?}");
    // One approval, or approvals of other content, do not prove a quorum.
    for other in [&signers[1], &signers[2]] {
        let d = propose(other, &rid(1), &items);
        other.node.approve(approve_req(&rid(1), &d.content_hash).into_inner(), "alice", Now::current()).unwrap();
    }
    let mut tampered = proofs(&[&signers[1], &signers[2]], &rid(1));
    tampered[1].signature[5] ^= 1;
    assert!(published_with(s, &rid(1), true, tampered).is_err());
    let doubled = vec![proofs(&[&signers[1]], &rid(1))[0].clone(); 2];
    assert!(published_with(s, &rid(1), true, doubled).is_err());
    // Two signed approvals of this content (t = 2): accepted.
    let d = published_with(s, &rid(1), true, proofs(&[&signers[1], &signers[2]], &rid(1))).unwrap();
    assert_eq!(state(&d), RequestState::Published);
    assert_eq!(published(s, &rid(1), true), d);
    assert_eq!(published_with(s, &rid(1), false, Vec::new()).unwrap_err().code(), Code::FailedPrecondition);
    // The same content again changes nothing: approved by policy, the
    // unproven mark gone with the proven publication.
    let d = propose(s, &rid(3), &items);
    assert_eq!(state(&d), RequestState::Approved, "{d:?}");
    let c = d.changes.unwrap();
    assert!(!c.first_publication);
    assert_eq!((c.rrsets_added, c.rrsets_removed, c.rrsets_changed, c.names_added, c.names_removed), (0, 0, 0, 0, 0));
    // Its own approval is enough for a request it approved.
    assert_eq!(state(&published(s, &rid(3), true)), RequestState::Published);
    // One record changed: pending, with the change shown.
    let mut changed = items.clone();
    changed[1].rdata = vec![vec![192, 0, 2, 99].into()];
    let d = propose(s, &rid(4), &changed);
    assert_eq!(state(&d), RequestState::Pending);
    assert_eq!(d.changes.unwrap().rrsets_changed, 1);
    let detail = s.node.show_request(AdminShowRequest { api_version: API_VERSION, request_id: rid(4), max_lines: 1 }, Now::current()).unwrap();
    assert_eq!(detail.total_lines, 2);
    assert_eq!(detail.lines, ["-h2.example.\t300\tIN\tA\t192.0.2.2"]);
    // Failed: final, and the baseline stays.
    assert_eq!(state(&published(s, &rid(4), false)), RequestState::Failed);
    assert_eq!(propose(s, &rid(5), &items).changes.unwrap().rrsets_changed, 0);
    assert_eq!(
        events_after_dkg(s),
        [
            "propose",
            "publication-refused",
            "propose",
            "publication-refused",
            "publication-refused",
            "published",
            "propose",
            "commit",
            "published",
            "propose",
            "failed",
            "propose",
            "commit"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_requests_expire() {
    let signers: Vec<Signer1> = (1..=3).map(|i| node_with_policy(i, "version = 1\n[approval]\npending_expiry_secs = 60\n")).collect();
    let (group_key, _, key_tag) = dkg(&signers, 2).await;
    let s = &signers[0];
    let items = vec![dnskey_item(key_tag, &group_key)];
    let d = propose(s, &rid(1), &items);
    assert_eq!(state(&d), RequestState::Pending);
    // The coordinator's deadline counts when it is sooner.
    let mut soon = header(&rid(2), &items);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    soon.expires_unix = now + 10;
    s.node.propose(soon, items.clone(), Now::current()).unwrap();
    assert_eq!(s.node.expire_due(now + 11).unwrap(), 1);
    assert_eq!(state(&decision(s, &rid(2))), RequestState::Expired);
    assert_eq!(state(&decision(s, &rid(1))), RequestState::Pending);
    assert_eq!(s.node.expire_due(now + 61).unwrap(), 1);
    let d = decision(s, &rid(1));
    assert_eq!((state(&d), d.reason.as_str()), (RequestState::Expired, "nobody decided in time"));
    // Too late to approve; the list of pending requests is empty.
    let admin = AdminService::new(s.node.clone(), 0);
    assert_eq!(admin.approve(approve_req(&rid(1), &d.content_hash)).await.unwrap_err().code(), Code::FailedPrecondition);
    assert!(s.node.list_requests(false, Now::current()).unwrap().requests.is_empty());
    let zone_requests = s.node.list_requests(true, Now::current()).unwrap().requests.into_iter().filter(|r| r.ceremony.is_none()).count();
    assert_eq!(zone_requests, 2);
    let expired = audit_log(s).into_iter().filter(|e| e.event == "expired").count();
    assert_eq!(expired, 2);
}

/// The node decides at the time its caller gives it: an approval lets
/// Commits in for [`APPROVAL_WINDOW_SECS`] and then expires, checked here
/// a day ahead without waiting one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_lapse_at_the_time_given() {
    let signers = cluster(3);
    let (_, _, key_tag) = dkg(&signers, 2).await;
    let s = &signers[0];
    // Incepted a little after now, so that the validity check still
    // passes a day later (86400 s of backdate at most) and the Commit is
    // refused for the window alone.
    let mut item = a_item(key_tag, 1);
    if let Some(f) = item.rrsig.as_mut() {
        f.inception = Now::current().serial() + 200;
    }
    let items = vec![item];
    approved(&signers[..1], &rid(1), &items);
    let window = std::time::Duration::from_secs(APPROVAL_WINDOW_SECS);
    let almost = Now::current().later(window - std::time::Duration::from_secs(60));
    s.node.commit(commit_under(&rid(1), b"w1", key_tag, items.clone()).into_inner(), almost).unwrap();
    let past = Now::current().later(window + std::time::Duration::from_secs(1));
    let e = s.node.commit(commit_under(&rid(1), b"w2", key_tag, items.clone()).into_inner(), past).unwrap_err();
    assert!(e.to_string().contains("approved more than 24 h ago"), "{e}");
    let get = GetDecisionRequest { api_version: API_VERSION, request_id: rid(1) };
    let d = s.node.get_decision(get, past).unwrap();
    assert_eq!((state(&d), d.reason.as_str()), (RequestState::Expired, "approved but not signed within 24 h"));
}

#[test]
fn the_admin_socket_is_private_and_replaces_a_stale_one() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.sock");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (first, _) = crate::admin::bind(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        drop(first);
        // The file stays behind, as after a crash: the next start replaces it.
        assert!(path.exists());
        let (_second, uid) = crate::admin::bind(&path).unwrap();
        assert_eq!(uid, std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(dir.path()).unwrap()));
    });
    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, "keep me").unwrap();
    let e = rt.block_on(async { crate::admin::bind(&file).map(|_| ()) }).unwrap_err();
    assert!(e.to_string().contains("not a socket"), "{e}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

/// Round 1 with the approval: a quorum signs with the sessions it sent in
/// its decisions, each once; the nonces of a signer left out go when the
/// request ends; a request too large or only pending gets none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commitments_sent_with_the_approval_sign_once_and_go_with_the_request() {
    let signers: Vec<Signer1> = (1..=3).map(|i| node_with_policy(i, "version = 1\n")).collect();
    let (_, public, key_tag) = dkg(&signers, 2).await;
    let items: Vec<SigningItem> = (1..=3).map(|i| a_item(key_tag, i)).collect();
    let decisions: Vec<Decision> = signers.iter().map(|s| propose(s, &rid(1), &items)).collect();
    let ahead: Vec<&Precommitment> = decisions.iter().map(|d| &d.precommitted[0]).collect();
    assert!(ahead.iter().all(|p| p.key_tag == key_tag && p.commitments.len() == 3));
    assert!(ahead.iter().all(|p| p.items_hash == frostzone_proto::content::content_hash(&items)));
    // Signers 1 and 2 sign, each naming its own session.
    let chosen = [&signers[0], &signers[1]];
    let mut parsed = std::collections::BTreeMap::new();
    let mut commitments = Vec::new();
    for (s, p) in chosen.iter().zip(&ahead) {
        let list: Vec<_> = p.commitments.iter().map(|c| frostzone_threshold::frost::round1::SigningCommitments::deserialize(c).unwrap()).collect();
        parsed.insert(s.id, list);
        commitments.push(ParticipantCommitments { participant: pid(&s.id), commitments: p.commitments.clone() });
    }
    let mut shares = vec![std::collections::BTreeMap::new(); items.len()];
    for (s, p) in chosen.iter().zip(&ahead) {
        let sign = SignRequest { api_version: API_VERSION, attempt_id: p.attempt_id.clone(), commitments: commitments.clone() };
        let r = s.svc.sign(Request::new(sign.clone())).await.unwrap().into_inner();
        for (i, share) in r.shares.iter().enumerate() {
            shares[i].insert(s.id, frostzone_threshold::frost::round2::SignatureShare::deserialize(share).unwrap());
        }
        assert_eq!(s.svc.sign(Request::new(sign)).await.unwrap_err().code(), Code::NotFound);
    }
    let messages: Vec<Vec<u8>> = items.iter().map(message).collect();
    let packages = frostzone_threshold::SigningBatch::new(&messages, &parsed).unwrap();
    assert_eq!(frostzone_threshold::aggregate_batch(&packages, &shares, &public).unwrap().len(), 3);
    // Signer 3 was left out: its nonces go with the request's end.
    let left_out = &signers[2];
    assert_eq!(crate::node::lock(&left_out.node.signing).pending(), 1);
    published(left_out, &rid(1), true);
    assert_eq!(crate::node::lock(&left_out.node.signing).pending(), 0);
    let sign = SignRequest { api_version: API_VERSION, attempt_id: ahead[2].attempt_id.clone(), commitments };
    assert_eq!(left_out.svc.sign(Request::new(sign)).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(events_after_dkg(left_out), ["propose", "commit", "published"]);

    // More items than PRECOMMIT_MAX_ITEMS: left to Commit.
    let many: Vec<SigningItem> = (1..=crate::signing::PRECOMMIT_MAX_ITEMS as u8 + 1).map(|i| a_item(key_tag, i)).collect();
    let d = propose(&signers[0], &rid(2), &many);
    assert_eq!(state(&d), RequestState::Approved);
    assert!(d.precommitted.is_empty());
}
