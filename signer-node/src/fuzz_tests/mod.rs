//! Hostile input for every request a signer decodes and handles: each
//! [`Node`] method the gRPC service calls gets arbitrary-but-structured
//! messages (prost structs whose fields are random octets, strings, small
//! and edge integers, random item counts, mutations of valid signing
//! items) and whatever raw octets `prost::Message::decode` accepts as the
//! request type. The property: every call returns `Ok` or `Err` — no
//! panic, no hang — and the node stays usable: it answers Health, keeps
//! its approved request, and still signs with the others afterwards.
//!
//! One cluster (2-of-3 DKG, a signing request and a DKG ceremony approved)
//! is made once and shared, so hostile input reaches the deep paths: a
//! Commit bound to an approved request, a Sign in a live session, a DKG
//! round 2 after a real round 1. A short run by default; a long run with
//! `FROSTZONE_FUZZ_CASES=2000` (see docs/fuzzing.md).

use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use frostzone_proto::v1::*;
use frostzone_proto::API_VERSION;
use frostzone_threshold::frost;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

use crate::clock::Now;
use crate::node::Node;
use crate::tests::*;

mod fields;
use fields::*;

/// The shared cluster and what is approved on it.
struct Fixture {
    signers: Vec<Signer1>,
    key_tag: u32,
    public: frost::keys::PublicKeyPackage,
    /// Approved on signers 1 and 2: signing `items` (and so is `rid(0)`).
    sign_request: String,
    items: Vec<SigningItem>,
    /// Approved on every signer: a DKG of `ceremony`.
    dkg_request: String,
    ceremony: KeyCeremony,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let signers = cluster(3);
        let (_, public, key_tag) = rt.block_on(dkg(&signers, 2));
        let sign_request = rid(0xf022);
        let items: Vec<SigningItem> = (1..=3).map(|n| a_item(key_tag, n)).collect();
        approved(&signers[..2], &sign_request, &items);
        // The same content under the request id the shared signing helper
        // (tests::sign_round) uses, for the final round: signing it moves
        // that request on, not the one every case checks.
        approved(&signers[..2], &rid(0), &items);
        let dkg_request = "f022d1c0000000000000000000000001".to_string();
        let ceremony = KeyCeremony { role: KeyRole::Zsk.into(), ..dkg_ceremony(&signers, 2) };
        rt.block_on(ceremony_approved(&signers, &dkg_request, ceremony.clone()));
        Fixture { signers, key_tag, public, sign_request, items, dkg_request, ceremony }
    })
}

/// Held while sessions are swept (a sweep that drops every session makes
/// room for the next valid Commit or round 1, which the pending-session
/// limits would otherwise refuse in a long run) and by the final signing
/// round, so the sweep cannot drop that round's sessions.
static SESSIONS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Drops every pending session of the attacked node.
fn sweep_all() {
    let _held = SESSIONS.lock().unwrap_or_else(|p| p.into_inner());
    for s in &fixture().signers {
        s.node.sweep(Instant::now() + Duration::from_secs(3600));
    }
}

/// The node under attack.
fn node() -> Arc<Node> {
    fixture().signers[0].node.clone()
}

/// Cases of a short run, unless `FROSTZONE_FUZZ_CASES` or `PROPTEST_CASES`
/// asks for more.
fn cases(short: u32) -> u32 {
    ["FROSTZONE_FUZZ_CASES", "PROPTEST_CASES"].iter().find_map(|v| std::env::var(v).ok()?.parse().ok()).unwrap_or(short)
}

/// How long one call may take before it counts as a hang.
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs one hostile call on its own thread: a panic or a call past
/// [`DEADLINE`] fails the case; then the node must still answer Health and
/// still hold the approved signing request.
fn survives<T: Send + 'static>(call: impl FnOnce(&Node) -> Result<T, crate::NodeError> + Send + 'static) -> Result<Option<T>, TestCaseError> {
    let node = node();
    let (tx, rx) = mpsc::channel();
    let worker = node.clone();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(call(&worker).ok());
    });
    let answer = match rx.recv_timeout(DEADLINE) {
        Ok(answer) => {
            let _ = handle.join();
            answer
        }
        Err(mpsc::RecvTimeoutError::Timeout) => return Err(TestCaseError::fail(format!("no answer within {DEADLINE:?}: a hang"))),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let why = handle.join().err().and_then(|p| p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())));
            return Err(TestCaseError::fail(format!("the handler panicked: {}", why.unwrap_or_default())));
        }
    };
    prop_assert!(node.health().is_ok(), "Health fails after the call");
    let req = GetDecisionRequest { api_version: API_VERSION, request_id: fixture().sign_request.clone() };
    let state = node.get_decision(req, Now::current()).map(|d| d.state);
    prop_assert_eq!(state.ok(), Some(RequestState::Approved as i32), "the approved request moved");
    Ok(answer)
}

/// What the streaming Propose handler does with a header and its items:
/// the header checked, a repeat answered, then the proposal decided.
fn propose_like_the_service(node: &Node, mut header: ProposeHeader, items: Vec<SigningItem>, hash_matches: bool) -> Result<(), crate::NodeError> {
    if hash_matches {
        header.content_hash = frostzone_proto::content::content_hash(&items).to_vec();
        header.item_count = items.len() as u64;
    }
    crate::proposal::check_header(&header, crate::proposal::ProposalBound::default())?;
    if node.propose_again(&header)?.is_some() || items.len() as u64 > header.item_count {
        return Ok(());
    }
    node.propose(header, items, Now::current()).map(drop)
}

proptest! {
    #![proptest_config(Config::with_cases(cases(96)))]

    #[test]
    fn fuzz_propose(header in propose_header(), items in items(), hash_matches in any::<bool>()) {
        survives(move |node| propose_like_the_service(node, header, items, hash_matches))?;
    }

    #[test]
    fn fuzz_propose_ceremony_and_remove_share(id in text(), ceremony in prop::option::of(ceremony()), expires in int64(), by in text(), remove in text()) {
        let proposal = CeremonyProposal { api_version: API_VERSION, request_id: id, ceremony, expires_unix: expires, submitted_by: by };
        survives(move |node| node.propose_ceremony(proposal, Now::current()))?;
        survives(move |node| node.remove_share(RemoveShareRequest { api_version: API_VERSION, request_id: remove }, Now::current()))?;
    }

    /// Commit against the approved request with changed items, zone, key
    /// tag or request id.
    #[test]
    fn fuzz_commit(attempt in octets(), zone in text(), key_tag in int32(), items in items(), request_id in text(), keep in 0u8..4) {
        let f = fixture();
        let (zone, key_tag, request_id) = match keep {
            0 => ("example.".to_string(), f.key_tag, f.sign_request.clone()),
            1 => ("example.".to_string(), key_tag, f.sign_request.clone()),
            _ => (zone, key_tag, request_id),
        };
        let req = CommitRequest { api_version: API_VERSION, attempt_id: attempt, zone, key_tag, items, request_id };
        survives(move |node| node.commit(req, Now::current()))?;
    }

    /// Sign in a live session (a valid Commit first) with hostile
    /// commitments: ours changed, others random, wrong counts.
    #[test]
    fn fuzz_sign(attempt in prop::collection::vec(any::<u8>(), 16..=16), ours in prop::option::of(prop::collection::vec(octets(), 0..4)),
                 others in prop::collection::vec((participant(), prop::collection::vec(octets(), 0..4)), 0..4), live in any::<bool>()) {
        let f = fixture();
        let node = node();
        let mut commitments = Vec::new();
        if live {
            sweep_all();
            let commit = commit_under(&f.sign_request, &attempt, f.key_tag, f.items.clone()).into_inner();
            let mine = node.commit(commit, Now::current()).map_err(|e| TestCaseError::fail(format!("a valid Commit is refused: {e}")))?;
            commitments.push(ParticipantCommitments { participant: mine.participant, commitments: ours.unwrap_or(mine.commitments) });
        }
        commitments.extend(others.into_iter().map(|(participant, commitments)| ParticipantCommitments { participant, commitments }));
        let req = SignRequest { api_version: API_VERSION, attempt_id: attempt, commitments };
        survives(move |node| node.sign(req, Now::current()))?;
    }

    /// DKG round 1 with random parameters; then a real DKG among the three
    /// in which this signer's round 2 and finish get the others' real
    /// messages tampered with, or hostile ones.
    #[test]
    fn fuzz_dkg(session in octets(), zone in text(), role in enum_value(), threshold in int32(), parts in participants(), request_id in text(),
                round1 in prop::option::of(prop::collection::vec((participant(), octets(), octets(), octets()), 0..4)), edits in byte_edits(),
                packages in prop::option::of(sealed()), echoes in prop::option::of(prop::collection::vec((participant(), octets(), octets()), 0..4)),
                finish_edits in byte_edits(), avoid in prop::collection::vec(int32(), 0..3)) {
        let f = fixture();
        let hostile = DkgRound1Request { api_version: API_VERSION, session_id: session.clone(), zone, role, threshold, participants: parts, request_id };
        survives(move |node| node.dkg_round1(hostile, Now::current()))?;
        let session = [b"fuzz-dkg-session".as_slice(), &session].concat();
        sweep_all();
        // A ceremony runs its DKG a few times at most: each case gets its
        // own, proposed and approved here as each signer's operator.
        let request_id = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(&session)[..16]);
        let c = &f.ceremony;
        let real = DkgRound1Request { api_version: API_VERSION, session_id: session.clone(), zone: c.zone.clone(), role: c.role, threshold: c.threshold, participants: c.participants.clone(), request_id: request_id.clone() };
        let mut entries = Vec::new();
        for s in &f.signers {
            let proposal = CeremonyProposal { api_version: API_VERSION, request_id: request_id.clone(), ceremony: Some(c.clone()), expires_unix: 0, submitted_by: "fuzz".into() };
            if let Ok(d) = s.node.propose_ceremony(proposal, Now::current()) {
                let approve = AdminApproveRequest { api_version: API_VERSION, request_id: request_id.clone(), content_hash: d.content_hash, operator: "fuzz".into() };
                let _ = s.node.approve(approve, "fuzz", Now::current());
            }
            // A session id seen before (shrinking repeats them) is refused: nothing to go on with.
            let Ok(r) = s.node.dkg_round1(real.clone(), Now::current()) else { return Ok(()) };
            entries.push(DkgRound1Entry { from: pid(&s.id), package: r.package, encryption_key: r.encryption_key, signature: r.signature });
        }
        let round2 = |s: &Signer1| DkgRound2Request { api_version: API_VERSION, session_id: session.clone(), round1: entries.iter().filter(|e| e.from != pid(&s.id)).cloned().collect() };
        let (mut sealed_to_us, mut all_echoes) = (Vec::new(), Vec::new());
        for s in &f.signers[1..] {
            let Ok(r) = s.node.dkg_round2(round2(s), Now::current()) else { return Ok(()) };
            sealed_to_us.extend(r.packages.into_iter().filter(|p| p.to == pid(&f.signers[0].id)));
            all_echoes.push(SignedEcho { from: pid(&s.id), digest: r.round1_digest, signature: r.digest_signature });
        }
        let ours = match round1 {
            Some(hostile) => DkgRound2Request { round1: hostile.into_iter().map(|(from, package, encryption_key, signature)| DkgRound1Entry { from, package, encryption_key, signature }).collect(), ..round2(&f.signers[0]) },
            None => {
                let mut real = round2(&f.signers[0]);
                tamper_one(&mut real.round1, &edits);
                real
            }
        };
        if let Some(r) = survives(move |node| node.dkg_round2(ours, Now::current()))? {
            all_echoes.push(SignedEcho { from: pid(&f.signers[0].id), digest: r.round1_digest, signature: r.digest_signature });
        }
        let echoes = match echoes {
            Some(e) => e.into_iter().map(|(from, digest, signature)| SignedEcho { from, digest, signature }).collect(),
            None => all_echoes,
        };
        let mut fin = DkgFinishRequest { api_version: API_VERSION, session_id: session, packages: packages.unwrap_or(sealed_to_us), echoes, avoid_key_tags: avoid };
        // Untampered (no edits), the DKG may succeed: a new share, which is fine.
        if finish_edits.0 % 2 == 0 {
            tamper_one(&mut fin.packages, &finish_edits);
        } else {
            tamper_one(&mut fin.echoes, &finish_edits);
        }
        survives(move |node| node.dkg_finish(fin, Now::current()))?;
    }

    #[test]
    fn fuzz_refresh_repair_import(id in text(), session in octets(), bytes in octets(), more in octets(), zone in text(), role in enum_value(),
                                  confirmations in prop::collection::vec((participant(), octets()), 0..4),
                                  keys in prop::collection::vec((participant(), octets(), octets()), 0..4), deltas in sealed(),
                                  sigmas in prop::collection::vec((participant(), octets(), octets()), 0..4)) {
        let confirmations = confirmations.into_iter().map(|(from, signature)| RefreshConfirmation { from, signature }).collect();
        let refresh = CommitRefreshRequest { api_version: API_VERSION, request_id: id.clone(), public_key_package: bytes.clone(), confirmations };
        survives(move |node| node.commit_refresh(refresh, Now::current()))?;
        let begin = RepairBeginRequest { api_version: API_VERSION, request_id: id.clone(), session_id: session.clone() };
        survives(move |node| node.repair_begin(begin, Now::current()))?;
        let keys: Vec<RepairKeyEntry> = keys.into_iter().map(|(from, encryption_key, signature)| RepairKeyEntry { from, encryption_key, signature }).collect();
        let req = RepairDeltasRequest { api_version: API_VERSION, session_id: session.clone(), keys: keys.clone() };
        survives(move |node| node.repair_deltas(req, Now::current()))?;
        let req = RepairSigmaRequest { api_version: API_VERSION, session_id: session.clone(), deltas };
        survives(move |node| node.repair_sigma(req, Now::current()))?;
        let sigmas = sigmas.into_iter().map(|(from, ciphertext, package_signature)| RepairSigmaEntry { from, ciphertext, package_signature }).collect();
        let req = RepairFinishRequest { api_version: API_VERSION, session_id: session.clone(), keys, sigmas, public_key_package: bytes.clone() };
        survives(move |node| node.repair_finish(req, Now::current()))?;
        let req = ImportBeginRequest { api_version: API_VERSION, session_id: session.clone(), request_id: id };
        survives(move |node| node.import_begin(req, Now::current()))?;
        let req = ImportFinishRequest { api_version: API_VERSION, session_id: session, zone, role, sender_key: more, ciphertext: bytes.clone(), public_key_package: bytes };
        survives(move |node| node.import_finish(req, Now::current()))?;
    }

    /// The operator's admin requests (over the signer's Unix socket).
    #[test]
    fn fuzz_admin(id in text(), max_lines in int32(), all in any::<bool>(), hash in octets(), reason in text(), operator in text()) {
        survives(move |node| node.list_requests(all, Now::current()))?;
        let show = AdminShowRequest { api_version: API_VERSION, request_id: id.clone(), max_lines };
        survives(move |node| node.show_request(show, Now::current()))?;
        // Rejecting the approved request is the operator's right, not a fault.
        prop_assume!(id != fixture().sign_request);
        let approve = AdminApproveRequest { api_version: API_VERSION, request_id: id.clone(), content_hash: hash, operator: operator.clone() };
        survives(move |node| node.approve(approve, &operator, Now::current()))?;
        let reject = AdminRejectRequest { api_version: API_VERSION, request_id: id, reason, operator: "fuzz".into() };
        survives(move |node| node.reject(reject, "fuzz", Now::current()))?;
    }

    #[test]
    fn fuzz_decision_and_published(id in text(), published in any::<bool>(), detail in text(),
                                   approvals in prop::collection::vec((participant(), octets(), octets()), 0..4)) {
        let req = GetDecisionRequest { api_version: API_VERSION, request_id: id.clone() };
        survives(move |node| node.get_decision(req, Now::current()))?;
        // Never the approved request: publishing it (true or false) is a
        // legitimate move this test would then report.
        prop_assume!(id != fixture().sign_request);
        let approvals = approvals.into_iter().map(|(participant, content_hash, signature)| ApprovalProof { participant, content_hash, signature }).collect();
        let req = PublishedRequest { api_version: API_VERSION, request_id: id, published, detail, approvals };
        survives(move |node| node.published(req, Now::current()))?;
    }
}

/// Raw octets as each request type: whatever prost decodes is handled.
macro_rules! raw_decode {
    ($($test:ident: $ty:ty => |$node:ident, $req:ident| $call:expr;)*) => {
        proptest! {
            #![proptest_config(Config::with_cases(cases(128)))]
            $(
                #[test]
                fn $test(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
                    if let Ok($req) = <$ty as prost::Message>::decode(bytes.as_slice()) {
                        survives(move |$node: &Node| $call)?;
                    }
                }
            )*
        }
    };
}

raw_decode! {
    fuzz_raw_propose_chunk: ProposeChunk => |node, req| match req.header {
        Some(header) => propose_like_the_service(node, header, req.items, false),
        None => Ok(()),
    };
    fuzz_raw_ceremony_proposal: CeremonyProposal => |node, req| node.propose_ceremony(req, Now::current());
    fuzz_raw_remove_share: RemoveShareRequest => |node, req| node.remove_share(req, Now::current());
    fuzz_raw_commit: CommitRequest => |node, req| node.commit(req, Now::current());
    fuzz_raw_sign: SignRequest => |node, req| node.sign(req, Now::current());
    fuzz_raw_dkg_round1: DkgRound1Request => |node, req| node.dkg_round1(req, Now::current());
    fuzz_raw_dkg_round2: DkgRound2Request => |node, req| node.dkg_round2(req, Now::current());
    fuzz_raw_dkg_finish: DkgFinishRequest => |node, req| node.dkg_finish(req, Now::current());
    fuzz_raw_commit_refresh: CommitRefreshRequest => |node, req| node.commit_refresh(req, Now::current());
    fuzz_raw_repair_begin: RepairBeginRequest => |node, req| node.repair_begin(req, Now::current());
    fuzz_raw_repair_deltas: RepairDeltasRequest => |node, req| node.repair_deltas(req, Now::current());
    fuzz_raw_repair_sigma: RepairSigmaRequest => |node, req| node.repair_sigma(req, Now::current());
    fuzz_raw_repair_finish: RepairFinishRequest => |node, req| node.repair_finish(req, Now::current());
    fuzz_raw_import_begin: ImportBeginRequest => |node, req| node.import_begin(req, Now::current());
    fuzz_raw_import_finish: ImportFinishRequest => |node, req| node.import_finish(req, Now::current());
    fuzz_raw_get_decision: GetDecisionRequest => |node, req| node.get_decision(req, Now::current());
    fuzz_raw_published: PublishedRequest => |node, req| {
        if req.request_id == fixture().sign_request { return Ok(()) }
        node.published(req, Now::current()).map(drop)
    };
    fuzz_raw_health: HealthRequest => |node, _req| node.health();
    fuzz_raw_admin_list: AdminListRequest => |node, req| node.list_requests(req.all, Now::current());
    fuzz_raw_admin_show: AdminShowRequest => |node, req| node.show_request(req, Now::current());
    fuzz_raw_admin_approve: AdminApproveRequest => |node, req| node.approve(req, "fuzz", Now::current());
    fuzz_raw_admin_reject: AdminRejectRequest => |node, req| {
        if req.request_id == fixture().sign_request { return Ok(()) }
        node.reject(req, "fuzz", Now::current()).map(drop)
    };
}

/// After hostile input of every kind, the attacked signer still signs the
/// approved request with another: a full Commit, Sign and aggregation.
#[test]
fn fuzz_then_the_attacked_signer_still_signs() {
    let f = fixture();
    let mut runner = proptest::test_runner::TestRunner::new(Config { source_file: Some(file!()), ..Config::with_cases(8) });
    runner.run(&(items(), octets()), |(items, attempt)| {
        let req = CommitRequest { api_version: API_VERSION, attempt_id: attempt, zone: "example.".into(), key_tag: f.key_tag, items, request_id: f.sign_request.clone() };
        survives(move |node| node.commit(req, Now::current())).map(drop)
    }).unwrap();
    // Sessions the hostile Commits left behind expire first.
    sweep_all();
    let _held = SESSIONS.lock().unwrap_or_else(|p| p.into_inner());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let chosen = [&f.signers[0], &f.signers[1]];
    let signatures = rt.block_on(sign_round(&chosen, b"fuzz-final-round", f.key_tag, &f.items, &f.public)).unwrap();
    assert_eq!(signatures.len(), f.items.len());
}
