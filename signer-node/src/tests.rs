//! In-process tests of the whole signer API: three signers (service
//! structs called through the generated trait, without TLS) run a 2-of-3
//! DKG and sign a batch, with this test playing the coordinator.
//!
//! The signers share a 2-of-3 roster of fixed identity keys
//! ([`test_identity`]). Their toy zones (a few A RRsets) carry no denial
//! records, so these life-cycle tests run without the denial check;
//! `denial_tests.rs` checks it with real zones.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, VerifyingKey};
use frostzone_dnssec::signing::signed_data;
use frostzone_dnssec::wire::{rrset_from_wire, rrsig_fields_from_wire};
use frostzone_proto::v1::signer_server::Signer;
use frostzone_proto::v1::*;
use frostzone_proto::API_VERSION;
use frostzone_threshold::frost::round1::SigningCommitments;
use frostzone_threshold::frost::round2::SignatureShare;
use frostzone_threshold::{aggregate_batch, frost, Identifier, SigningBatch, ThresholdError};
use rand::rngs::OsRng;
use tonic::{Code, Request};

use crate::clock::Now;
use crate::fault::Faults;
use crate::node::{Node, NodeOptions};
use crate::service::SignerService;
use crate::store::{tests::cheap, Store};

const ZONE_WIRE: &[u8] = b"\x07example\x00";
const WWW_WIRE: &[u8] = b"\x03www\x07example\x00";

pub(crate) struct Signer1 {
    pub(crate) svc: SignerService,
    pub(crate) node: Arc<Node>,
    pub(crate) id: Identifier,
    pub(crate) _dir: Arc<tempfile::TempDir>,
}

/// Signer `n`'s identity key in these tests (fixed, so that every test
/// signer can hold the same roster).
pub(crate) fn test_identity(n: u16) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[0x40 + n as u8; 32])
}

/// The 2-of-3 roster of the test signers.
pub(crate) fn test_roster() -> frostzone_proto::roster::Roster {
    use frostzone_proto::roster::{IdentityKey, Roster};
    let members: Vec<_> = (1..=3u16).map(|k| (k, format!("signer-{k}"), IdentityKey(test_identity(k).verifying_key()))).collect();
    Roster::parse(&Roster::to_toml(2, &members), std::path::Path::new("roster.toml")).unwrap()
}

/// Signer `n`'s store in `dir`, with its test identity.
pub(crate) fn test_store(n: u16, dir: &std::path::Path) -> Store {
    Store::open_with(dir, b"pw", cheap).unwrap().with_identity(test_identity(n))
}

fn node(n: u16, dir: Arc<tempfile::TempDir>, faults: Faults) -> Signer1 {
    let store = test_store(n, dir.path());
    let id = Identifier::try_from(n).unwrap();
    let opts = NodeOptions {
        name: format!("signer-{n}"),
        participant: id,
        session_timeout: Duration::from_secs(60),
        proposal_bound: Default::default(),
        faults,
    };
    let node = Arc::new(Node::new(opts, store).with_roster(test_roster()).unwrap().without_denial_checks());
    Signer1 {
        svc: SignerService::new(node.clone()),
        node,
        id,
        _dir: dir,
    }
}

/// A signer with `policy` (policy file text) and an audit log beside its store.
pub(crate) fn node_with_policy(n: u16, policy: &str) -> Signer1 {
    node_with_policy_in(n, policy, Arc::new(tempfile::tempdir().unwrap()))
}

/// As [`node_with_policy`], over the store and audit log in `dir` (a
/// signer restarted with another policy).
pub(crate) fn node_with_policy_in(n: u16, policy: &str, dir: Arc<tempfile::TempDir>) -> Signer1 {
    use crate::policy_file::SignerPolicy;
    use frostzone_proto::audit::AuditLog;
    let store = test_store(n, &dir.path().join("data"));
    let id = Identifier::try_from(n).unwrap();
    let opts = NodeOptions {
        name: format!("signer-{n}"),
        participant: id,
        session_timeout: Duration::from_secs(60),
        proposal_bound: Default::default(),
        faults: Faults::default(),
    };
    let policy = SignerPolicy::parse(policy, std::path::Path::new("policy.toml")).unwrap();
    let audit = AuditLog::open(&dir.path().join("audit.log"), &opts.name).unwrap();
    let node = Arc::new(
        Node::new(opts, store).with_policy(policy).with_audit(audit).with_roster(test_roster()).unwrap().without_denial_checks(),
    );
    Signer1 { svc: SignerService::new(node.clone()), node, id, _dir: dir }
}

/// The audit log of a signer made by [`node_with_policy`].
pub(crate) fn audit_log(s: &Signer1) -> Vec<frostzone_proto::audit::AuditEntry> {
    let text = std::fs::read_to_string(s._dir.path().join("audit.log")).unwrap();
    frostzone_proto::audit::verify(&text).unwrap().entries
}

pub(crate) fn cluster(n: u16) -> Vec<Signer1> {
    (1..=n)
        .map(|i| node(i, Arc::new(tempfile::tempdir().unwrap()), Faults::default()))
        .collect()
}

/// A request id for test `n`.
pub(crate) fn rid(n: u32) -> String {
    format!("{n:032x}")
}

/// The Propose header for `items` under request `id`.
pub(crate) fn header(id: &str, items: &[SigningItem]) -> ProposeHeader {
    ProposeHeader {
        api_version: API_VERSION,
        request_id: id.into(),
        zone: "example.".into(),
        content_hash: frostzone_proto::content::content_hash(items).to_vec(),
        item_count: items.len() as u64,
        expires_unix: 0,
        submitted_by: "operator-cert".into(),
        ..ProposeHeader::default()
    }
}

/// Proposes `items` under request `id` to `signer` (the node function the
/// streaming handler ends in).
pub(crate) fn propose(signer: &Signer1, id: &str, items: &[SigningItem]) -> Decision {
    signer.node.propose(header(id, items), items.to_vec(), Now::current()).unwrap()
}

/// Proposes to every signer and approves as their operators where the
/// policy left it pending: what a Commit now needs first.
pub(crate) fn approved(signers: &[Signer1], id: &str, items: &[SigningItem]) {
    for s in signers {
        let d = propose(s, id, items);
        if d.state == RequestState::Pending as i32 {
            let req = AdminApproveRequest { api_version: API_VERSION, request_id: id.into(), content_hash: d.content_hash, operator: "test".into() };
            s.node.approve(req, "test", Now::current()).unwrap();
        }
        let d = s.node.get_decision(GetDecisionRequest { api_version: API_VERSION, request_id: id.into() }, Now::current()).unwrap();
        assert_eq!(d.state, RequestState::Approved as i32, "{d:?}");
    }
}

pub(crate) fn pid(id: &Identifier) -> Option<ParticipantId> {
    Some(ParticipantId { id: id.serialize() })
}

/// Proposes the key ceremony `ceremony` as request `id` to every signer
/// and approves it as their operators where their policy left it pending.
pub(crate) async fn ceremony_approved(signers: &[Signer1], id: &str, ceremony: KeyCeremony) {
    for s in signers {
        let proposal = CeremonyProposal {
            api_version: API_VERSION,
            request_id: id.into(),
            ceremony: Some(ceremony.clone()),
            expires_unix: 0,
            submitted_by: "operator-cert".into(),
        };
        let d = s.svc.propose_ceremony(Request::new(proposal)).await.unwrap().into_inner();
        if d.state == RequestState::Pending as i32 {
            let req = AdminApproveRequest { api_version: API_VERSION, request_id: id.into(), content_hash: d.content_hash, operator: "test".into() };
            s.node.approve(req, "test", Now::current()).unwrap();
        }
        let d = s.node.get_decision(GetDecisionRequest { api_version: API_VERSION, request_id: id.into() }, Now::current()).unwrap();
        assert_eq!(d.state, RequestState::Approved as i32, "{d:?}");
    }
}

/// A DKG ceremony of a CSK for example. among `signers` with threshold `t`.
pub(crate) fn dkg_ceremony(signers: &[Signer1], t: u32) -> KeyCeremony {
    let mut ids: Vec<Identifier> = signers.iter().map(|s| s.id).collect();
    ids.sort();
    KeyCeremony {
        kind: CeremonyKind::Dkg.into(),
        zone: "example.".into(),
        role: KeyRole::Csk.into(),
        threshold: t,
        participants: ids.iter().map(|id| pid(id).unwrap()).collect(),
        ..KeyCeremony::default()
    }
}

/// The DKG ceremony request of the test DKGs.
pub(crate) fn dkg_request() -> String {
    "d1cd1cd1c0000000000000000000d1c0".to_string()
}

/// A full DKG among `signers` with threshold `t` (its ceremony approved
/// first); returns the group key, public key package and key tag.
pub(crate) async fn dkg(signers: &[Signer1], t: u32) -> ([u8; 32], frost::keys::PublicKeyPackage, u32) {
    let ceremony = dkg_ceremony(signers, t);
    ceremony_approved(signers, &dkg_request(), ceremony.clone()).await;
    let mut result = None;
    for r in dkg_rounds(signers, &dkg_request(), b"dkg-session-0001", &ceremony).await {
        let pkp = frost::keys::PublicKeyPackage::deserialize(&r.public_key_package).unwrap();
        let gk: [u8; 32] = r.group_public_key.try_into().unwrap();
        if let Some((g, p, k)) = &result {
            assert_eq!((g, p, k), (&gk, &pkp, &r.key_tag));
        }
        result = Some((gk, pkp, r.key_tag));
    }
    result.unwrap()
}

/// The three DKG steps (a new key's or a share refresh) among `signers`
/// under the approved ceremony `request_id`, this test relaying; every
/// signer's finish.
pub(crate) async fn dkg_rounds(signers: &[Signer1], request_id: &str, session_id: &[u8], ceremony: &KeyCeremony) -> Vec<DkgFinishResponse> {
    let session_id = session_id.to_vec();
    let round1_request = |zone: &str| DkgRound1Request {
        api_version: API_VERSION,
        session_id: session_id.clone(),
        zone: zone.into(),
        role: ceremony.role,
        threshold: ceremony.threshold,
        participants: ceremony.participants.clone(),
        request_id: request_id.into(),
    };
    let mut round1 = Vec::new();
    for s in signers {
        let r = s.svc.dkg_round1(Request::new(round1_request("Example"))).await.unwrap().into_inner();
        round1.push(DkgRound1Entry { from: pid(&s.id), package: r.package, encryption_key: r.encryption_key, signature: r.signature });
    }
    // A second round 1 for the same session is refused.
    let again = signers[0].svc.dkg_round1(Request::new(round1_request("example."))).await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");

    let mut sealed = Vec::new();
    let mut echoes = Vec::new();
    for s in signers {
        let others = round1.iter().filter(|e| e.from != pid(&s.id)).cloned().collect();
        let r = s
            .svc
            .dkg_round2(Request::new(DkgRound2Request { api_version: API_VERSION, session_id: session_id.clone(), round1: others }))
            .await
            .unwrap()
            .into_inner();
        sealed.extend(r.packages);
        echoes.push(SignedEcho { from: pid(&s.id), digest: r.round1_digest, signature: r.digest_signature });
    }
    let mut finished = Vec::new();
    for s in signers {
        let mine = sealed.iter().filter(|p| p.to == pid(&s.id)).cloned().collect();
        let r = s
            .svc
            .dkg_finish(Request::new(DkgFinishRequest {
                api_version: API_VERSION,
                session_id: session_id.clone(),
                packages: mine,
                echoes: echoes.clone(),
                avoid_key_tags: Vec::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        finished.push(r);
    }
    finished
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32
}

/// The time every test item's validity is set from, fixed once so that an
/// item built twice has the same digest.
fn item_time() -> u32 {
    static BASE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *BASE.get_or_init(now)
}

/// `h<n>.example. 300 IN A 192.0.2.<n>`, signed by `key_tag`.
pub(crate) fn a_item(key_tag: u32, n: u8) -> SigningItem {
    let label = format!("h{n}");
    let mut owner = vec![label.len() as u8];
    owner.extend_from_slice(label.as_bytes());
    owner.extend_from_slice(ZONE_WIRE);
    SigningItem {
        owner: owner.into(),
        rtype: 1,
        ttl: 300,
        rdata: vec![vec![192, 0, 2, n].into()],
        rrsig: Some(RrsigFields {
            type_covered: 1,
            algorithm: 15,
            labels: 2,
            original_ttl: 300,
            expiration: item_time() + 14 * 86400,
            inception: item_time() - 3600,
            key_tag,
            signer_name: ZONE_WIRE.to_vec().into(),
        }),
    }
}

/// The RFC 4034 §3.1.8.1 octets of an item, rebuilt independently of the
/// signer's policy code path.
pub(crate) fn message(item: &SigningItem) -> Vec<u8> {
    let rrset = rrset_from_wire(&item.owner, item.rtype, item.ttl, &item.rdata).unwrap();
    let f = item.rrsig.as_ref().unwrap();
    let fields = rrsig_fields_from_wire(
        f.type_covered,
        f.algorithm,
        f.labels,
        f.original_ttl,
        f.expiration,
        f.inception,
        f.key_tag,
        &f.signer_name,
    )
    .unwrap();
    signed_data(&fields, &rrset)
}

/// A Commit under request [`rid`]`(0)` unless the test names another.
pub(crate) fn commit_req(session: &[u8], key_tag: u32, items: Vec<SigningItem>) -> Request<CommitRequest> {
    commit_under(&rid(0), session, key_tag, items)
}

pub(crate) fn commit_under(request_id: &str, session: &[u8], key_tag: u32, items: Vec<SigningItem>) -> Request<CommitRequest> {
    Request::new(CommitRequest {
        api_version: API_VERSION,
        attempt_id: session.to_vec(),
        zone: "example.".into(),
        key_tag,
        items,
        request_id: request_id.into(),
    })
}

/// Coordinator side: Commit with `chosen`, Sign, aggregate.
pub(crate) async fn sign_round(
    chosen: &[&Signer1],
    session: &[u8],
    key_tag: u32,
    items: &[SigningItem],
    public: &frost::keys::PublicKeyPackage,
) -> Result<Vec<[u8; 64]>, ThresholdError> {
    let mut commitments = Vec::new();
    let mut parsed: BTreeMap<Identifier, Vec<SigningCommitments>> = BTreeMap::new();
    for s in chosen {
        let r = s
            .svc
            .commit(commit_req(session, key_tag, items.to_vec()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.participant, pid(&s.id));
        parsed.insert(
            s.id,
            r.commitments
                .iter()
                .map(|c| SigningCommitments::deserialize(c).unwrap())
                .collect(),
        );
        commitments.push(ParticipantCommitments {
            participant: pid(&s.id),
            commitments: r.commitments,
        });
    }
    let sign = SignRequest {
        api_version: API_VERSION,
        attempt_id: session.to_vec(),
        commitments,
    };
    let mut shares: Vec<BTreeMap<Identifier, SignatureShare>> = vec![BTreeMap::new(); items.len()];
    for s in chosen {
        let r = s
            .svc
            .sign(Request::new(sign.clone()))
            .await
            .unwrap()
            .into_inner();
        for (i, share) in r.shares.iter().enumerate() {
            shares[i].insert(s.id, SignatureShare::deserialize(share).unwrap());
        }
        // A replayed round 2 is refused: the session signed once.
        let replay = s.svc.sign(Request::new(sign.clone())).await.unwrap_err();
        assert_eq!(replay.code(), Code::NotFound);
        assert!(
            replay
                .message()
                .contains("unknown or already used signing session"),
            "{replay:?}"
        );
    }
    let messages: Vec<Vec<u8>> = items.iter().map(message).collect();
    let packages = SigningBatch::new(&messages, &parsed).unwrap();
    aggregate_batch(&packages, &shares, public)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkg_then_batch_signature_verifies() {
    let signers = cluster(3);
    let (group_key, public, key_tag) = dkg(&signers, 2).await;

    let health = signers[1]
        .svc
        .health(Request::new(HealthRequest {
            api_version: API_VERSION,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.name, "signer-2");
    assert_eq!(health.participant, pid(&signers[1].id));
    assert_eq!(health.keys.len(), 1);
    assert_eq!(health.keys[0].zone, "example.");
    assert_eq!(health.keys[0].key_tag, key_tag);
    assert_eq!(health.keys[0].group_public_key, group_key.to_vec());

    let items: Vec<SigningItem> = (1..=5).map(|i| a_item(key_tag, i)).collect();
    approved(&signers, &rid(0), &items);
    let sigs = sign_round(
        &[&signers[0], &signers[2]],
        b"sign-1",
        key_tag,
        &items,
        &public,
    )
    .await
    .unwrap();
    let vk = VerifyingKey::from_bytes(&group_key).unwrap();
    for (item, sig) in items.iter().zip(&sigs) {
        vk.verify_strict(&message(item), &Signature::from_bytes(sig))
            .unwrap();
    }
    // Another pair signs too.
    let sigs = sign_round(
        &[&signers[1], &signers[2]],
        b"sign-2",
        key_tag,
        &items[..1],
        &public,
    )
    .await
    .unwrap();
    vk.verify_strict(&message(&items[0]), &Signature::from_bytes(&sigs[0]))
        .unwrap();
}

/// A new key whose tag collides with a key this signer holds — as published, or once either is
/// revoked (RFC 5011 §2.1) — is refused before it is stored, so the coordinator runs the DKG
/// again. The twins are made by moving value between 16-bit words of the key: the tag is their
/// sum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_colliding_with_a_held_one_in_any_state_is_refused() {
    use frostzone_dnssec::keys::{KeyRole as Role, ZoneKey};
    let signers = cluster(3);
    let (group_key, _, key_tag) = dkg(&signers, 2).await;
    let held = ZoneKey::ed25519(Role::Csk, group_key);
    assert_eq!(u32::from(held.key_tag().0), key_tag);
    let node = &signers[0].node;
    let mut swapped = group_key;
    swapped.swap(0, 2);
    swapped.swap(1, 3);
    let twin = ZoneKey::ed25519(Role::Csk, swapped);
    assert_ne!(swapped, group_key);
    assert_eq!(twin.key_tag(), held.key_tag());
    let e = node.check_new_key_tag("example.", &twin).unwrap_err();
    assert!(e.to_string().contains("collides"), "{e}");
    // A key whose revoked tag is the held key's tag.
    let i = (0..16).map(|i| 2 * i).find(|&i| u16::from_be_bytes([group_key[i], group_key[i + 1]]) >= 0x80).unwrap();
    let mut lower = group_key;
    let word = u16::from_be_bytes([lower[i], lower[i + 1]]) - 0x80;
    lower[i..i + 2].copy_from_slice(&word.to_be_bytes());
    let revoked_twin = ZoneKey::ed25519(Role::Csk, lower);
    assert_eq!(revoked_twin.tags_in_any_state()[1], held.key_tag());
    assert_ne!(revoked_twin.key_tag(), held.key_tag());
    assert!(node.check_new_key_tag("example.", &revoked_twin).is_err(), "a tag shared once revoked");
    // An unrelated key passes.
    let other = ZoneKey::ed25519(Role::Csk, [7; 32]);
    if !other.tags_in_any_state().iter().any(|t| held.tags_in_any_state().contains(t)) {
        node.check_new_key_tag("example.", &other).unwrap();
        // Unless the coordinator names its tag (a key whose shares are gone), either way round.
        for tag in other.tags_in_any_state() {
            assert!(node.check_new_key_tag_avoiding("example.", &other, &[u32::from(tag.0)]).is_err());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_refusals() {
    let signers = cluster(3);
    let (_, _, key_tag) = dkg(&signers, 2).await;
    approved(&signers, &rid(0), &[a_item(key_tag, 1), a_item(key_tag, 2)]);
    let s = &signers[0];
    let code = |r: Result<tonic::Response<CommitResponse>, tonic::Status>| r.unwrap_err();

    // Malformed RDATA (a 3-octet A record): refused, naming the item.
    let mut bad = a_item(key_tag, 1);
    bad.rdata = vec![vec![192, 0, 2].into()];
    let e = code(
        s.svc
            .commit(commit_req(b"c1", key_tag, vec![a_item(key_tag, 2), bad]))
            .await,
    );
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("item 1:"), "{e:?}");

    // Unknown key and zone.
    let e = code(
        s.svc
            .commit(commit_req(b"c2", key_tag ^ 1, vec![a_item(key_tag ^ 1, 1)]))
            .await,
    );
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(
        e.message(),
        format!("this signer holds no key {} for zone example.", key_tag ^ 1)
    );
    let mut other_zone = commit_req(b"c3", key_tag, vec![a_item(key_tag, 1)]);
    other_zone.get_mut().zone = "example.net.".into();
    assert_eq!(code(s.svc.commit(other_zone).await).code(), Code::NotFound);

    // Items that do not fit the key, the zone or the time policy.
    type Tweak = Box<dyn Fn(&mut SigningItem)>;
    let tweaks: Vec<(&str, Tweak)> = vec![
        (
            "key tag",
            Box::new(move |i| i.rrsig.as_mut().unwrap().key_tag = key_tag ^ 1),
        ),
        (
            "algorithm",
            Box::new(|i| i.rrsig.as_mut().unwrap().algorithm = 13),
        ),
        (
            "signer name",
            Box::new(|i| i.rrsig.as_mut().unwrap().signer_name = WWW_WIRE.to_vec().into()),
        ),
        ("labels", Box::new(|i| i.rrsig.as_mut().unwrap().labels = 3)),
        (
            "expired",
            Box::new(|i| {
                let r = i.rrsig.as_mut().unwrap();
                (r.inception, r.expiration) = (now() - 7200, now() - 60);
            }),
        ),
        (
            "too long",
            Box::new(|i| i.rrsig.as_mut().unwrap().expiration = now() + 100 * 86400),
        ),
        (
            "inverted",
            Box::new(|i| {
                let r = i.rrsig.as_mut().unwrap();
                (r.inception, r.expiration) = (r.expiration, r.inception);
            }),
        ),
    ];
    for (n, (what, tweak)) in tweaks.iter().enumerate() {
        let mut item = a_item(key_tag, 1);
        tweak(&mut item);
        let e = code(
            s.svc
                .commit(commit_req(format!("t{n}").as_bytes(), key_tag, vec![item]))
                .await,
        );
        assert_eq!(e.code(), Code::InvalidArgument, "{what}: {e:?}");
    }

    // Batch size and API version.
    let e = code(s.svc.commit(commit_req(b"c4", key_tag, vec![])).await);
    assert_eq!(e.code(), Code::InvalidArgument);
    let big = vec![a_item(key_tag, 1); frostzone_proto::MAX_BATCH_ITEMS + 1];
    assert_eq!(
        code(s.svc.commit(commit_req(b"c5", key_tag, big)).await).code(),
        Code::InvalidArgument
    );
    let mut old = commit_req(b"c6", key_tag, vec![a_item(key_tag, 1)]);
    old.get_mut().api_version = 0;
    assert_eq!(
        code(s.svc.commit(old).await).code(),
        Code::FailedPrecondition
    );

    // A repeated session id.
    s.svc
        .commit(commit_req(b"c7", key_tag, vec![a_item(key_tag, 1)]))
        .await
        .unwrap();
    assert_eq!(
        code(
            s.svc
                .commit(commit_req(b"c7", key_tag, vec![a_item(key_tag, 1)]))
                .await
        )
        .code(),
        Code::AlreadyExists
    );

    // Round 2 with this signer's commitment changed is refused, and the
    // session is gone afterwards.
    let mine = s
        .svc
        .commit(commit_req(b"c8", key_tag, vec![a_item(key_tag, 1)]))
        .await
        .unwrap()
        .into_inner();
    let theirs = signers[1]
        .svc
        .commit(commit_req(b"c8", key_tag, vec![a_item(key_tag, 1)]))
        .await
        .unwrap()
        .into_inner();
    let sign = |mine: Vec<Vec<u8>>| {
        Request::new(SignRequest {
            api_version: API_VERSION,
            attempt_id: b"c8".to_vec(),
            commitments: vec![
                ParticipantCommitments {
                    participant: pid(&s.id),
                    commitments: mine,
                },
                ParticipantCommitments {
                    participant: pid(&signers[1].id),
                    commitments: theirs.commitments.clone(),
                },
            ],
        })
    };
    let e = s
        .svc
        .sign(sign(theirs.commitments.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(
        s.svc.sign(sign(mine.commitments)).await.unwrap_err().code(),
        Code::NotFound
    );
}

#[cfg(feature = "fault-injection")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_shares_are_caught_and_shares_survive_restart() {
    let dirs: Vec<Arc<tempfile::TempDir>> = (0..3)
        .map(|_| Arc::new(tempfile::tempdir().unwrap()))
        .collect();
    let signers: Vec<Signer1> = (1..=3)
        .map(|i| node(i, dirs[usize::from(i) - 1].clone(), Faults::default()))
        .collect();
    let (group_key, public, key_tag) = dkg(&signers, 2).await;
    drop(signers);

    // Restart: signer 3 now corrupts its shares.
    let faults = |i| Faults {
        corrupt_shares: i == 3,
        ..Faults::default()
    };
    let signers: Vec<Signer1> = (1..=3)
        .map(|i| node(i, dirs[usize::from(i) - 1].clone(), faults(i)))
        .collect();
    let items = vec![a_item(key_tag, 7), a_item(key_tag, 8)];
    approved(&signers, &rid(0), &items);
    match sign_round(
        &[&signers[0], &signers[2]],
        b"bad",
        key_tag,
        &items,
        &public,
    )
    .await
    {
        Err(ThresholdError::InvalidShare { culprits }) => assert_eq!(culprits, vec![signers[2].id]),
        other => panic!("expected signer 3 named as culprit, got {other:?}"),
    }
    let sigs = sign_round(
        &[&signers[0], &signers[1]],
        b"good",
        key_tag,
        &items,
        &public,
    )
    .await
    .unwrap();
    let vk = VerifyingKey::from_bytes(&group_key).unwrap();
    vk.verify_strict(&message(&items[1]), &Signature::from_bytes(&sigs[1]))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_of_an_existing_key() {
    let signers = cluster(3);
    let seed = zeroize::Zeroizing::new([42u8; 32]);
    let quorum = frostzone_threshold::Quorum::new(2, 3).unwrap();
    let group = frostzone_threshold::split_existing_key(&seed, quorum, &mut OsRng).unwrap();
    let pkp = group.public.serialize().unwrap();
    // No step before the ceremony is approved.
    let request_id = "1b1b1b1b00000000000000000000001b".to_string();
    let begin_request = |sid: &[u8]| ImportBeginRequest { api_version: API_VERSION, session_id: sid.to_vec(), request_id: request_id.clone() };
    let e = signers[0].svc.import_begin(Request::new(begin_request(b"imp-early-000000"))).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    let expected = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let tag = frostzone_dnssec::keys::ZoneKey::ed25519(frostzone_dnssec::keys::KeyRole::Ksk, expected).key_tag();
    let ceremony = KeyCeremony {
        kind: CeremonyKind::Import.into(),
        role: KeyRole::Ksk.into(),
        group_public_key: expected.to_vec(),
        key_tag: tag.0.into(),
        ..dkg_ceremony(&signers, 2)
    };
    // An import names its key, and the tag is that key's.
    for bad in [
        KeyCeremony { group_public_key: Vec::new(), ..ceremony.clone() },
        KeyCeremony { key_tag: u32::from(tag.0 ^ 1), ..ceremony.clone() },
    ] {
        let proposal = CeremonyProposal {
            api_version: API_VERSION,
            request_id: "1b1b1b1b0000000000000000000000ff".into(),
            ceremony: Some(bad),
            expires_unix: 0,
            submitted_by: "operator-cert".into(),
        };
        let e = signers[0].svc.propose_ceremony(Request::new(proposal)).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    }
    ceremony_approved(&signers, &request_id, ceremony).await;
    let roster = test_roster();
    let begin = |s: &Signer1, sid: &[u8]| {
        let svc = s.svc.clone();
        let request = begin_request(sid);
        let (roster, me) = (roster.clone(), s.id);
        async move {
            let r = svc.import_begin(Request::new(request.clone())).await.unwrap().into_inner();
            // Signed over the session, the approved group and the key: what the CLI checks.
            let statement = frostzone_proto::statement::Statement::ImportKey {
                session_id: &request.session_id,
                zone: "example.",
                role: KeyRole::Ksk.into(),
                threshold: 2,
                participants: &roster.identifiers(),
                group_public_key: &expected,
                participant: &me,
                encryption_key: &r.encryption_key,
            };
            roster.verify(&me, &statement, &r.signature).unwrap();
            r.encryption_key
        }
    };
    let finish = |sid: &[u8], sender_key: [u8; 32], ciphertext: Vec<u8>| {
        Request::new(ImportFinishRequest {
            api_version: API_VERSION,
            session_id: sid.to_vec(),
            zone: "example.".into(),
            role: KeyRole::Ksk.into(),
            sender_key: sender_key.to_vec(),
            ciphertext,
            public_key_package: pkp.clone(),
        })
    };
    // Signer 1 is handed signer 2's share: refused.
    let key = begin(&signers[0], b"imp-wrong-000000").await;
    let wrong = group
        .key_package(&signers[1].id)
        .unwrap()
        .serialize()
        .unwrap();
    let (sk, ct) =
        crate::envelope::seal_import_share(b"imp-wrong-000000", &key, &wrong, &mut OsRng).unwrap();
    let e = signers[0]
        .svc
        .import_finish(finish(b"imp-wrong-000000", sk, ct))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message()
            .contains("share is for participant 2, this signer is 1"),
        "{e:?}"
    );

    // A share of another key (one whose secret the coordinator knows): refused.
    let other_seed = zeroize::Zeroizing::new([43u8; 32]);
    let other = frostzone_threshold::split_existing_key(&other_seed, quorum, &mut OsRng).unwrap();
    let key = begin(&signers[0], b"imp-other-000000").await;
    let share = other.key_package(&signers[0].id).unwrap().serialize().unwrap();
    let (sk, ct) = crate::envelope::seal_import_share(b"imp-other-000000", &key, &share, &mut OsRng).unwrap();
    let mut request = finish(b"imp-other-000000", sk, ct);
    request.get_mut().public_key_package = other.public.serialize().unwrap();
    let e = signers[0].svc.import_finish(request).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("the approved ceremony imports"), "{e:?}");

    for s in &signers {
        let key = begin(s, b"imp-1-00000000000").await;
        let share = group.key_package(&s.id).unwrap().serialize().unwrap();
        let (sk, ct) =
            crate::envelope::seal_import_share(b"imp-1-00000000000", &key, &share, &mut OsRng).unwrap();
        let r = s
            .svc
            .import_finish(finish(b"imp-1-00000000000", sk, ct.clone()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.group_public_key, expected.to_vec());
        // Replayed: the one-time key is gone.
        assert_eq!(
            s.svc
                .import_finish(finish(b"imp-1-00000000000", sk, ct))
                .await
                .unwrap_err()
                .code(),
            Code::NotFound
        );
        // The ceremony is over: no second import under it.
        let d = s.node.get_decision(GetDecisionRequest { api_version: API_VERSION, request_id: request_id.clone() }, Now::current()).unwrap();
        assert_eq!(d.state, RequestState::Published as i32, "{d:?}");
        assert!(d.reason.contains("key share stored"), "{d:?}");
        let again = s.svc.import_begin(Request::new(begin_request(b"imp-2-00000000000"))).await.unwrap_err();
        assert_eq!(again.code(), Code::PermissionDenied, "{again:?}");
    }
}

/// The operator's policy is applied at Commit and every decision is in
/// the node's audit log: a zone not served is refused with
/// PERMISSION_DENIED, the hourly signature limit with
/// RESOURCE_EXHAUSTED, and accepted batches are recorded too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_refusals_and_the_rate_limit_are_audited() {
    let policies = [
        "version = 1\n",
        "version = 1\nmax_signatures_per_hour = 2\n",
        "version = 1\n",
    ];
    let mut signers: Vec<Signer1> = policies
        .iter()
        .enumerate()
        .map(|(i, text)| node_with_policy(i as u16 + 1, text))
        .collect();
    let (_, _, key_tag) = dkg(&signers, 2).await;
    // Signer 1's operator then stops serving the zone (a restart with
    // another policy).
    let dir = signers[0]._dir.clone();
    signers[0] = node(1, Arc::new(tempfile::tempdir().unwrap()), Faults::default());
    signers[0] = node_with_policy_in(1, "version = 1\nzones = [\"other.\"]\n", dir);
    let items = [a_item(key_tag, 1), a_item(key_tag, 2), a_item(key_tag, 3)];
    // Signer 1 does not serve the zone: it rejects the proposal.
    let d = propose(&signers[0], &rid(0), &items);
    assert_eq!(d.state, RequestState::Rejected as i32);
    assert!(d.reason.contains("not served"), "{d:?}");
    approved(&signers[1..], &rid(0), &items);
    let log = |s: &Signer1| -> Vec<_> { audit_log(s).into_iter().filter(|e| e.event.starts_with("commit") || e.event.starts_with("sign")).collect() };

    let e = signers[0].svc.commit(commit_req(b"p1", key_tag, vec![a_item(key_tag, 1)])).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("not served"), "{e:?}");
    let entries = log(&signers[0]);
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].event.as_str(), entries[0].request.as_str()), ("commit-refused", rid(0).as_str()));
    assert!(entries[0].outcome.ends_with(&format!("(attempt {})", hex::encode(b"p1"))), "{:?}", entries[0]);
    assert_eq!(entries[0].content_hash, hex::encode(frostzone_proto::content::content_hash(&[a_item(key_tag, 1)])));

    let s = &signers[1];
    s.svc.commit(commit_req(b"p2", key_tag, vec![a_item(key_tag, 1), a_item(key_tag, 2)])).await.unwrap();
    let e = s.svc.commit(commit_req(b"p3", key_tag, vec![a_item(key_tag, 3)])).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(e.message().contains("rate limit"), "{e:?}");
    let events: Vec<String> = log(s).into_iter().map(|e| e.event).collect();
    assert_eq!(events, ["commit", "commit-refused"]);
}
