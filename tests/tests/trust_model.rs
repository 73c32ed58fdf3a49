//! The coordinator is one party among n. Real processes over mutual TLS, with a rogue client
//! holding the coordinator's certificate and key (which every signer pins) and, towards the
//! operator's CLI, a rogue coordinator service with that certificate: each attack on key
//! ceremonies and on signers' baselines is performed end to end and refused, and afterwards the
//! signers' stores and audit logs show no key stored, no baseline moved and no share made. The
//! honest paths through the real coordinator keep working beside them.
//!
//! (Attacks on the content a signer is asked to sign — denial records, validity, DS, limits,
//! uploads — are in `trust_content.rs`.)

use std::sync::Mutex;

use frostzone_dnssec::denial::Denial;
use frostzone_dnssec::keys::{KeyRole as ZoneKeyRole, ZoneKey};
use frostzone_proto::v1::{
    ApprovalProof, CeremonyKind, CeremonyProposal, Decision, DkgFinishRequest, DkgRound1Entry, DkgRound1Request, DkgRound2Request,
    GetDecisionRequest, HealthRequest, ImportBeginRequest, KeyCeremony, KeyRole, ParticipantId, PublishedRequest, RequestState,
    SignedEcho,
};
use frostzone_proto::API_VERSION;
use frostzone_tests::approvals::DEADLINE;
use frostzone_tests::cluster::{Cluster, OPERATOR_APPROVAL};
use frostzone_tests::rogue::{self, Signer};
use frostzone_tests::rogue_coordinator::{Lie, RogueCoordinator};
use frostzone_tests::{example_zone, programs};
use serde_json::Value;

const ZONE: &str = "example.com.";

/// One cluster at a time (two cores).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn pid(k: u16) -> ParticipantId {
    ParticipantId { id: frostzone_threshold::Identifier::try_from(k).expect("identifier").serialize() }
}

/// Every entry of a node's audit log.
fn audit(cluster: &Cluster, node: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(cluster.audit_log(node)).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).expect("audit entry")).collect()
}

fn events(cluster: &Cluster, node: &str, request: &str) -> Vec<String> {
    audit(cluster, node)
        .into_iter()
        .filter(|e| e["request"] == request)
        .map(|e| e["event"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn held_keys(signer: &mut Signer) -> usize {
    signer.health(HealthRequest { api_version: API_VERSION }).await.expect("health").into_inner().keys.len()
}

async fn propose_ceremony(signer: &mut Signer, id: &str, ceremony: &KeyCeremony) -> Decision {
    let proposal = CeremonyProposal {
        api_version: API_VERSION,
        request_id: id.to_string(),
        ceremony: Some(ceremony.clone()),
        expires_unix: 0,
        submitted_by: "rogue".into(),
    };
    signer.propose_ceremony(proposal).await.expect("propose ceremony").into_inner()
}

fn dkg_ceremony(threshold: u32, participants: &[u16]) -> KeyCeremony {
    KeyCeremony {
        kind: CeremonyKind::Dkg.into(),
        zone: ZONE.into(),
        role: KeyRole::Zsk.into(),
        threshold,
        participants: participants.iter().map(|k| pid(*k)).collect(),
        ..KeyCeremony::default()
    }
}

/// Round 1 of a DKG run `session` under ceremony `request` on every signer.
async fn round1(clients: &mut [Signer], request: &str, session: &[u8]) -> Vec<DkgRound1Entry> {
    let mut entries = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let r = c
            .dkg_round1(DkgRound1Request {
                api_version: API_VERSION,
                session_id: session.to_vec(),
                zone: ZONE.into(),
                role: KeyRole::Zsk.into(),
                threshold: 3,
                participants: (1..=5).map(pid).collect(),
                request_id: request.to_string(),
            })
            .await
            .unwrap_or_else(|e| panic!("round 1 on signer-{}: {e:?}", i + 1))
            .into_inner();
        entries.push(DkgRound1Entry {
            from: Some(pid(i as u16 + 1)),
            package: r.package,
            encryption_key: r.encryption_key,
            signature: r.signature,
        });
    }
    entries
}

/// (1) DKG: a rogue coordinator cannot run a key generation the signers did not approve, for
/// another t or participant set than their rosters', nor learn the key by handing signers
/// encryption keys of its own, nor fake the echo check.
#[test]
fn dkg_holds_against_a_rogue_coordinator() {
    let _serial = serial();
    let mut cluster = Cluster::new(5, 3);
    cluster.start_all();
    cluster.wait_ready(5);
    let rt = runtime();
    let ceremony = rt.block_on(async {
        let mut clients = Vec::new();
        for k in 1..=5 {
            clients.push(rogue::connect(&cluster, k).await);
        }
        // No step without an approved ceremony.
        let unknown = rogue::request_id();
        let refused = clients[0]
            .dkg_round1(DkgRound1Request {
                api_version: API_VERSION,
                session_id: rogue::session_id(),
                zone: ZONE.into(),
                role: KeyRole::Zsk.into(),
                threshold: 3,
                participants: (1..=5).map(pid).collect(),
                request_id: unknown.clone(),
            })
            .await
            .expect_err("DKG round 1 without a ceremony");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");

        // A group other than the roster's is rejected by every signer, against its own roster.
        for (what, ceremony) in [("t = 2", dkg_ceremony(2, &[1, 2, 3, 4, 5])), ("three participants", dkg_ceremony(3, &[1, 2, 3]))] {
            let d = propose_ceremony(&mut clients[0], &rogue::request_id(), &ceremony).await;
            assert_eq!(d.state(), RequestState::Rejected, "{what}: {d:?}");
            assert!(d.reason.contains("roster"), "{what}: {}", d.reason);
        }

        // An approved ceremony (the test policy approves key ceremonies)...
        let ceremony = rogue::request_id();
        for c in clients.iter_mut() {
            let d = propose_ceremony(c, &ceremony, &dkg_ceremony(3, &[1, 2, 3, 4, 5])).await;
            assert_eq!(d.state(), RequestState::Approved, "{d:?}");
        }
        // ... relayed with the rogue's own encryption key for signer-2 (it could then read every
        // round-2 package sent to signer-2 and interpolate the group secret): refused by all.
        let session = rogue::session_id();
        let entries = round1(&mut clients, &ceremony, &session).await;
        for (k, c) in clients.iter_mut().enumerate() {
            let mut others: Vec<DkgRound1Entry> = entries.iter().filter(|e| e.from != Some(pid(k as u16 + 1))).cloned().collect();
            if let Some(e) = others.iter_mut().find(|e| e.from == Some(pid(if k == 1 { 3 } else { 2 }))) {
                e.encryption_key = vec![9; 32];
            }
            let refused = c
                .dkg_round2(DkgRound2Request { api_version: API_VERSION, session_id: session.clone(), round1: others })
                .await
                .expect_err("round 2 with a substituted encryption key");
            assert_eq!(refused.code(), tonic::Code::PermissionDenied, "signer-{}: {refused:?}", k + 1);
            assert!(refused.message().contains("not") && refused.message().contains("signature"), "signer-{}: {refused:?}", k + 1);
        }

        // An honest round 2, then an echo check with signer-3's digest altered: refused by all.
        let session = rogue::session_id();
        let entries = round1(&mut clients, &ceremony, &session).await;
        let mut echoes = Vec::new();
        let mut sealed = Vec::new();
        for (k, c) in clients.iter_mut().enumerate() {
            let others = entries.iter().filter(|e| e.from != Some(pid(k as u16 + 1))).cloned().collect();
            let r = c
                .dkg_round2(DkgRound2Request { api_version: API_VERSION, session_id: session.clone(), round1: others })
                .await
                .expect("honest round 2")
                .into_inner();
            sealed.extend(r.packages);
            echoes.push(SignedEcho { from: Some(pid(k as u16 + 1)), digest: r.round1_digest, signature: r.digest_signature });
        }
        echoes[2].digest[0] ^= 1;
        for (k, c) in clients.iter_mut().enumerate() {
            let mine = sealed.iter().filter(|p| p.to == Some(pid(k as u16 + 1))).cloned().collect();
            let refused = c
                .dkg_finish(DkgFinishRequest { api_version: API_VERSION, session_id: session.clone(), packages: mine, echoes: echoes.clone(), avoid_key_tags: Vec::new() })
                .await
                .expect_err("finish with a forged echo");
            assert_eq!(refused.code(), tonic::Code::PermissionDenied, "signer-{}: {refused:?}", k + 1);
        }
        // No signer holds a key.
        for c in clients.iter_mut() {
            assert_eq!(held_keys(c).await, 0);
        }
        ceremony
    });
    for k in 1..=5 {
        let node = format!("signer-{k}");
        let seen = events(&cluster, &node, &ceremony);
        assert!(seen.iter().filter(|e| *e == "ceremony-refused").count() >= 2, "{node}: {seen:?}");
        assert!(!seen.iter().any(|e| e == "key-stored"), "{node}: {seen:?}");
    }
    // The honest DKG through the real coordinator still works: every signer holds the key, and
    // its audit log says where it came from.
    cluster.generate_keys(ZONE);
    rt.block_on(async {
        for k in 1..=5 {
            let mut c = rogue::connect(&cluster, k).await;
            assert_eq!(held_keys(&mut c).await, 2, "signer-{k}");
        }
    });
    let stored: Vec<Value> = audit(&cluster, "signer-1").into_iter().filter(|e| e["event"] == "key-stored").collect();
    assert_eq!(stored.len(), 2, "{stored:?}");
    for e in &stored {
        let (outcome, operator) = (e["outcome"].as_str().unwrap_or_default(), e["operator"].as_str().unwrap_or_default());
        assert!(outcome.contains("by DKG") && outcome.contains("approved by policy"), "{e}");
        assert!(operator.contains("as the coordinator claims"), "{e}");
    }
}

/// (2) Key import: the operator's CLI checks what the coordinator hands it against its own
/// roster and encrypts nothing to a key the roster's signer did not sign, nor for another t or
/// another set of signers; and a signer stores nothing without an approved import ceremony.
#[test]
fn imports_hold_against_a_rogue_coordinator() {
    let _serial = serial();
    if !programs::require("imports_hold_against_a_rogue_coordinator", &["ldns-keygen"]) {
        return;
    }
    let mut cluster = Cluster::new(5, 3);
    for k in 1..=5 {
        cluster.start_signer(k, &[]);
    }
    let keys = tempfile::tempdir().expect("tempdir");
    let base = frostzone_tests::signers::ldns_keygen(keys.path(), ZONE, true);
    let private = format!("{}.private", base.display());
    let rt = runtime();
    rt.block_on(async {
        let mut c = rogue::connect(&cluster, 1).await;
        let refused = c
            .import_begin(ImportBeginRequest { api_version: API_VERSION, session_id: rogue::session_id(), request_id: rogue::request_id() })
            .await
            .expect_err("ImportBegin without a ceremony");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    });
    for (lie, expected) in [
        (Lie::SwappedKey, "not signed by its identity key"),
        (Lie::Threshold, "the roster"),
        (Lie::MissingSigner, "the roster lists it once"),
        (Lie::ForeignKey, "not signed by its identity key"),
    ] {
        let port = frostzone_tests::port::free_port();
        let rogue = rt.block_on(RogueCoordinator::new(&cluster, lie));
        let finished = rogue.finish_called.clone();
        let server = {
            let _guard = rt.enter();
            rogue.serve(&cluster, port)
        };
        let mut cmd = std::process::Command::new(frostzone_tests::frostzone_bin());
        cmd.args(["--coordinator", &format!("https://127.0.0.1:{port}"), "--tls-dir"])
            .arg(cluster.dir.path())
            .args(["keys", "import", "--zone", ZONE, "--private", &private]);
        let out = programs::run(&mut cmd);
        server.abort();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{lie:?}: {}", programs::describe(&cmd, &out));
        assert!(stderr.contains(expected) && stderr.contains("not importing"), "{lie:?}: {stderr}");
        assert!(!finished.load(std::sync::atomic::Ordering::SeqCst), "{lie:?}: the CLI sent the shares");
    }
    rt.block_on(async {
        for k in 1..=5 {
            let mut c = rogue::connect(&cluster, k).await;
            assert_eq!(held_keys(&mut c).await, 0, "signer-{k} stored a key");
        }
    });
    assert!(!audit(&cluster, "signer-2").iter().any(|e| e["event"] == "key-stored"));
    // The honest import through the real coordinator: stored by every signer, audited.
    cluster.start_coordinator();
    cluster.wait_ready(5);
    let out = cluster.frostzone_ok(&["keys", "import", "--zone", ZONE, "--private", &private]);
    assert!(out.contains("imported"), "{out}");
    let stored: Vec<Value> = audit(&cluster, "signer-3").into_iter().filter(|e| e["event"] == "key-stored").collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0]["outcome"].as_str().unwrap_or_default().contains("by import"), "{}", stored[0]);
}

/// The signed approval of request `id` by signer `k`, as the coordinator relays it.
async fn approval_of(cluster: &Cluster, k: u16, id: &str) -> ApprovalProof {
    let mut c = rogue::connect(cluster, k).await;
    let d = c.get_decision(GetDecisionRequest { api_version: API_VERSION, request_id: id.into() }).await.expect("decision").into_inner();
    assert!(!d.approval_signature.is_empty(), "signer-{k} did not approve {id}: {d:?}");
    ApprovalProof { participant: d.participant, content_hash: d.content_hash, signature: d.approval_signature }
}

async fn published(signer: &mut Signer, id: &str, approvals: Vec<ApprovalProof>) -> Result<Decision, tonic::Status> {
    let req = PublishedRequest { api_version: API_VERSION, request_id: id.into(), published: true, detail: "rogue".into(), approvals };
    signer.published(req).await.map(tonic::Response::into_inner)
}

/// (3) A signer takes content as its baseline only if it approved it or t signers of its roster
/// signed their approval of exactly that content. A rogue coordinator that proposes an
/// attacker's DNSKEY, then claims its publication to the signer whose operator left it pending,
/// is refused — with no proof, with forged proof, with genuine approvals of other content — and
/// the same content proposed again still waits for the operator (it does not look like "no
/// change"). Through the real coordinator, a signer that did not approve is moved by the proof
/// the others' approvals make.
#[test]
fn baselines_move_only_on_proof() {
    let _serial = serial();
    let mut cluster = Cluster::new(5, 3);
    for k in 1..=5 {
        cluster.set_policy(k, OPERATOR_APPROVAL);
    }
    cluster.start_all();
    cluster.wait_ready(5);
    cluster.generate_keys(ZONE);
    // The first publication, approved by the operators of 1, 2 and 3; 4 and 5 stay pending and
    // take it as their baseline on the proof of those three approvals.
    let out = cluster.dir.path().join("first.signed");
    let sign = cluster.spawn_sign(ZONE, &example_zone(), &out, &[]);
    let first = cluster.wait_for_pending(&[1, 2, 3, 4, 5], ZONE, &[]);
    for k in [1, 2, 3] {
        cluster.approve(k, &first);
    }
    assert!(sign.wait(DEADLINE, &cluster).status.success());
    let proven = frostzone_tests::approvals::poll(&cluster, DEADLINE, "signer-4 to take the first publication", || {
        audit(&cluster, "signer-4").into_iter().find(|e| e["event"] == "published" && e["request"] == first.as_str())
    });
    assert!(proven["outcome"].as_str().unwrap_or_default().contains("proven by 3 signed approvals"), "{proven}");

    let rt = runtime();
    let attack = rt.block_on(async {
        let mut signer = rogue::connect(&cluster, 4).await;
        // The zone with an attacker's KSK added to the DNSKEY RRset.
        let mut keys: Vec<ZoneKey> = rogue::zone_keys(&mut signer, ZONE).await.iter().map(rogue::dnskey_of).collect();
        keys.push(ZoneKey::ed25519(ZoneKeyRole::Ksk, [0x42; 32]));
        let zone_text = std::fs::read_to_string(example_zone()).expect("read example zone");
        let proposal = rogue::full_proposal(ZONE, &zone_text, &keys, Denial::default());
        let attack = rogue::request_id();
        let d = rogue::propose(&mut signer, &attack, ZONE, &proposal).await.expect("propose");
        assert_eq!(d.state(), RequestState::Pending, "{d:?}");
        assert!(d.reason.contains("DNSKEY"), "{d:?}");

        // Claimed published without proof.
        let refused = published(&mut signer, &attack, Vec::new()).await.expect_err("published without proof");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
        assert!(refused.message().contains("proves 0 of the 3 approvals"), "{refused:?}");
        // With genuine approvals, but of other content (the first publication's).
        let mut others = Vec::new();
        for k in [1, 2, 3] {
            others.push(approval_of(&cluster, k, &first).await);
        }
        let refused = published(&mut signer, &attack, others.clone()).await.expect_err("published with approvals of other content");
        assert!(refused.message().contains("proves 0"), "{refused:?}");
        // With those approvals relabelled as approvals of this content (their signatures no
        // longer fit), and with one genuine approval counted thrice.
        let relabelled: Vec<ApprovalProof> = others.iter().map(|a| ApprovalProof { content_hash: d.content_hash.clone(), ..a.clone() }).collect();
        let refused = published(&mut signer, &attack, relabelled).await.expect_err("published with relabelled approvals");
        assert!(refused.message().contains("proves 0") && refused.message().contains("not"), "{refused:?}");
        let own = ApprovalProof { participant: d.participant.clone(), content_hash: d.content_hash.clone(), signature: d.signature.clone() };
        let refused = published(&mut signer, &attack, vec![own.clone(), own.clone(), own]).await.expect_err("published with its own pending decision");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");

        // The same content again, as a new request: it still waits for the operator (the
        // baseline did not move, and unproven claims route everything to the operator).
        let again = rogue::request_id();
        let d = rogue::propose(&mut signer, &again, ZONE, &proposal).await.expect("propose again");
        assert_eq!(d.state(), RequestState::Pending, "{d:?}");
        assert!(d.reason.contains("without proof") && d.reason.contains("DNSKEY"), "{d:?}");
        let state = signer.get_decision(GetDecisionRequest { api_version: API_VERSION, request_id: attack.clone() }).await.expect("decision");
        assert_eq!(state.into_inner().state(), RequestState::Pending);
        attack
    });
    let seen = events(&cluster, "signer-4", &attack);
    assert!(seen.iter().filter(|e| *e == "publication-refused").count() >= 4, "{seen:?}");
    assert!(!seen.iter().any(|e| e == "published" || e == "sign" || e == "commit"), "{seen:?}");

    // The real coordinator's next version: signer-4 waits for its operator (the refused claim),
    // the others approve the unchanged zone by policy, and the proof moves signer-4 again.
    let out = cluster.dir.path().join("second.signed");
    let sign = cluster.spawn_sign(ZONE, &example_zone(), &out, &[]);
    let done = sign.wait(DEADLINE, &cluster);
    assert!(done.status.success(), "{}\n{}", done.described, cluster.logs());
    let second = audit(&cluster, "signer-4")
        .into_iter()
        .rfind(|e| e["event"] == "propose")
        .expect("a proposal after the attack");
    assert!(second["outcome"].as_str().unwrap_or_default().contains("without proof"), "{second}");
    let second = second["request"].as_str().unwrap_or_default().to_string();
    let moved = frostzone_tests::approvals::poll(&cluster, DEADLINE, "signer-4 to take the second publication", || {
        audit(&cluster, "signer-4").into_iter().find(|e| e["event"] == "published" && e["request"] == second.as_str())
    });
    assert!(moved["outcome"].as_str().unwrap_or_default().contains("proven by"), "{moved}");
    // The proven publication cleared the mark: the next unchanged version is approved by policy.
    let out = cluster.dir.path().join("third.signed");
    let done = cluster.spawn_sign(ZONE, &example_zone(), &out, &[]).wait(DEADLINE, &cluster);
    assert!(done.status.success(), "{}", done.described);
    let third = audit(&cluster, "signer-4").into_iter().rfind(|e| e["event"] == "propose").expect("third proposal");
    assert!(third["outcome"].as_str().unwrap_or_default().starts_with("approved by policy"), "{third}");
}

/// (4) Key removal is a ceremony too: a key out of the published DNSKEY RRset leaves every
/// signer once each approves; a published key is refused by the coordinator and, asked
/// directly by a rogue one, by every signer; no share is removed without an approved removal.
#[test]
fn key_removal_is_a_ceremony_and_spares_published_keys() {
    let _serial = serial();
    let cluster = Cluster::start_3_of_5();
    cluster.generate_keys(ZONE);
    let out = cluster.dir.path().join("first.signed");
    let mut sign = cluster.sign_command(ZONE, &example_zone(), &out);
    let o = programs::run(&mut sign);
    assert!(o.status.success(), "{}", programs::describe(&sign, &o));
    // A second ZSK, made but never published.
    let made = cluster.frostzone_ok(&["keys", "generate", "--zone", ZONE, "--role", "zsk"]);
    let spare = made.split("key tag ").nth(1).and_then(|t| t.split(':').next()).expect("key tag in the output").to_string();
    let published = cluster.frostzone_ok(&["keys", "list", "--zone", ZONE]);
    let published_zsk = published
        .lines()
        .find(|l| l.contains(" ZSK ") && !l.contains(&format!(" {spare} ")))
        .and_then(|l| l.split_whitespace().nth(2))
        .expect("the published ZSK")
        .to_string();

    // The published ZSK: refused by the coordinator, and by a signer asked directly.
    let refused = cluster.frostzone_output(&["keys", "remove", "--zone", ZONE, "--key-tag", &published_zsk]);
    assert_eq!(refused.status.code(), Some(2), "{}", String::from_utf8_lossy(&refused.stdout));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("published DNSKEY RRset"), "{}", String::from_utf8_lossy(&refused.stderr));
    let rt = runtime();
    rt.block_on(async {
        let mut signer = rogue::connect(&cluster, 1).await;
        let ceremony = KeyCeremony {
            kind: CeremonyKind::Remove.into(),
            zone: ZONE.into(),
            key_tag: published_zsk.parse().expect("key tag"),
            ..KeyCeremony::default()
        };
        let id = rogue::request_id();
        let d = propose_ceremony(&mut signer, &id, &ceremony).await;
        assert_eq!(d.state(), RequestState::Rejected, "{d:?}");
        assert!(d.reason.contains("published DNSKEY"), "{d:?}");
        let refused = signer
            .remove_share(frostzone_proto::v1::RemoveShareRequest { api_version: API_VERSION, request_id: id })
            .await
            .expect_err("a removal the signer rejected");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
        assert_eq!(held_keys(&mut signer).await, 3);
    });

    // The spare ZSK: removed by every signer, and gone from the registry.
    let removed = cluster.frostzone_ok(&["keys", "remove", "--zone", ZONE, "--key-tag", &spare]);
    assert!(removed.contains("is gone"), "{removed}");
    rt.block_on(async {
        for k in 1..=5 {
            let mut c = rogue::connect(&cluster, k).await;
            assert_eq!(held_keys(&mut c).await, 2, "signer-{k}");
        }
    });
    assert!(!cluster.frostzone_ok(&["keys", "list", "--zone", ZONE]).contains(&format!(" {spare} ")));
    let gone: Vec<Value> = audit(&cluster, "signer-5").into_iter().filter(|e| e["event"] == "key-removed").collect();
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert!(gone[0]["outcome"].as_str().unwrap_or_default().contains(&format!("key tag {spare}")), "{}", gone[0]);
    // The zone still signs with what is left.
    let out = cluster.dir.path().join("second.signed");
    let mut sign = cluster.sign_command(ZONE, &example_zone(), &out);
    let o = programs::run(&mut sign);
    assert!(o.status.success(), "{}", programs::describe(&sign, &o));
}
