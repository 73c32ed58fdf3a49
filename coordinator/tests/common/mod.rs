//! In-process fake signers for the coordinator's integration tests: five
//! signers served over plaintext gRPC on 127.0.0.1, holding a 3-of-5 CSK
//! of `example.`, and a coordinator that knows them.
//!
//! The fake signers are a plain implementation of the generated `Signer`
//! trait on `frostzone_threshold`'s batch functions; they rebuild the
//! signed data from the items as a real signer does, and like a real
//! signer they commit only to items of a request they approved. Each can
//! be down, hang, corrupt its shares, and approve, leave pending or reject
//! proposals.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use frostzone_coordinator::config::SignerConfig;
use frostzone_coordinator::pipeline::input::{Input, Submission};
use frostzone_coordinator::pipeline::submit::{submit, PublishedVersion};
use frostzone_coordinator::pipeline::Pipeline;
use frostzone_coordinator::registry::{KeyGroupRecord, Registry, RECORD_VERSION};
use frostzone_coordinator::signers::{SignerHandle, SignerPool};
use frostzone_coordinator::{Coordinator, CoordinatorError};
use frostzone_dnssec::keys::{KeyRole, ZoneKey};
use frostzone_dnssec::signing::signed_data;
use frostzone_dnssec::wire::{rrset_from_wire, rrsig_fields_from_wire};
use frostzone_proto::v1 as pb;
use frostzone_proto::v1::signer_server::{Signer, SignerServer};
use frostzone_threshold::frost::round1::SigningCommitments;
use frostzone_threshold::{commit_batch, frost, generate_with_dkg, sign_batch, BatchNonces, Quorum, SigningBatch};
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status};

/// How a fake decides on a proposal.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Answer {
    /// Approved by policy.
    Approve,
    /// Pending its operator until the test decides ([`FakeSigner::operator_approves`]).
    Pending,
    /// Rejected by its operator.
    Reject,
}

/// A request as a fake knows it.
pub struct Proposed {
    digests: HashSet<[u8; 32]>,
    content_hash: Vec<u8>,
    state: pb::RequestState,
    reason: String,
    decided_by: String,
    items: u64,
}

#[derive(Clone, Copy, PartialEq)]
pub enum Behaviour {
    Good,
    /// Nothing listens on its port.
    Down,
    /// Signs, then flips a bit of every share.
    Corrupt,
    /// Answers round 1 only after a minute.
    Hang,
}

type Session = (BatchNonces, Vec<Vec<u8>>, frost::keys::KeyPackage);

/// DKG state of a fake signer between rounds.
enum Dkg {
    Round1 { secret: frost::keys::dkg::round1::SecretPackage, role: i32 },
    Round2 {
        secret: frost::keys::dkg::round2::SecretPackage,
        round1: BTreeMap<frost::Identifier, frost::keys::dkg::round1::Package>,
        role: i32,
    },
}

pub struct FakeSigner {
    name: String,
    id: frost::Identifier,
    /// Key packages by key tag.
    keys: Mutex<HashMap<u32, frost::keys::KeyPackage>>,
    behaviour: Behaviour,
    sessions: Mutex<HashMap<Vec<u8>, Session>>,
    dkg: Mutex<HashMap<Vec<u8>, Dkg>>,
    answer: Answer,
    requests: Mutex<HashMap<String, Proposed>>,
    /// Request ids of every Commit received.
    pub commits: Mutex<Vec<String>>,
    /// Every Published received: request id, published, detail.
    pub published: Mutex<Vec<(String, bool, String)>>,
    /// The request whose content this fake holds as the zone's baseline.
    pub baseline: Mutex<Option<String>>,
    /// Every proposal received: request id, incremental, items with RRSIG
    /// fields, context items; refused ones included.
    pub proposals: Mutex<Vec<(String, bool, usize, usize)>>,
}

impl FakeSigner {
    fn me(&self) -> Option<pb::ParticipantId> {
        Some(pb::ParticipantId { id: self.id.serialize() })
    }

    fn decision(&self, id: &str, r: &Proposed) -> pb::Decision {
        pb::Decision {
            request_id: id.to_string(),
            state: r.state.into(),
            reason: r.reason.clone(),
            decided_by: r.decided_by.clone(),
            changes: Some(pb::ChangeSummary { signatures: r.items, first_publication: true, ..Default::default() }),
            content_hash: r.content_hash.clone(),
            participant: self.me(),
            // Fakes sign nothing: they stand for signers whose checks are
            // tested in signer-node; the coordinator only relays.
            approval_signature: if matches!(r.state, pb::RequestState::Approved | pb::RequestState::Published) {
                vec![1; 64]
            } else {
                Vec::new()
            },
            ..Default::default()
        }
    }

    /// The fake forgets its baseline (as after losing its state).
    pub fn lose_baseline(&self) {
        *self.baseline.lock().unwrap() = None;
    }

    /// The operator approves every pending request.
    pub fn operator_approves(&self) {
        for r in self.requests.lock().unwrap().values_mut() {
            if r.state == pb::RequestState::Pending {
                r.state = pb::RequestState::Approved;
                r.reason.clear();
                r.decided_by = "operator alice (uid 1000)".into();
            }
        }
    }
}

pub fn bad(e: impl std::fmt::Display) -> Status {
    Status::invalid_argument(e.to_string())
}

#[tonic::async_trait]
impl Signer for FakeSigner {
    async fn health(&self, _: Request<pb::HealthRequest>) -> Result<Response<pb::HealthResponse>, Status> {
        Ok(Response::new(pb::HealthResponse {
            api_version: 1,
            name: self.name.clone(),
            participant: self.me(),
            keys: vec![],
            identity_key: vec![0; 32],
        }))
    }

    async fn propose_ceremony(&self, request: Request<pb::CeremonyProposal>) -> Result<Response<pb::Decision>, Status> {
        let r = request.into_inner();
        let hash = frostzone_proto::content::ceremony_hash(&r.ceremony.unwrap_or_default());
        let state = match self.answer {
            Answer::Reject => pb::RequestState::Rejected,
            _ => pb::RequestState::Approved,
        };
        Ok(Response::new(pb::Decision { request_id: r.request_id, state: state.into(), content_hash: hash.to_vec(), participant: self.me(), ..Default::default() }))
    }

    async fn remove_share(&self, _: Request<pb::RemoveShareRequest>) -> Result<Response<pb::Decision>, Status> {
        Err(Status::unimplemented("fake"))
    }
    /// frost DKG part 1; the fake "encryption" is none at all: the
    /// coordinator only relays, which is what is tested here.
    async fn dkg_round1(&self, request: Request<pb::DkgRound1Request>) -> Result<Response<pb::DkgRound1Response>, Status> {
        let r = request.into_inner();
        let n = r.participants.len() as u16;
        let (secret, package) =
            frost::keys::dkg::part1(self.id, n, r.threshold as u16, rand::rngs::OsRng).map_err(bad)?;
        self.dkg.lock().unwrap().insert(r.session_id, Dkg::Round1 { secret, role: r.role });
        Ok(Response::new(pb::DkgRound1Response { package: package.serialize().map_err(bad)?, encryption_key: vec![0; 32], signature: vec![0; 64] }))
    }
    async fn dkg_round2(&self, request: Request<pb::DkgRound2Request>) -> Result<Response<pb::DkgRound2Response>, Status> {
        let r = request.into_inner();
        let Some(Dkg::Round1 { secret, role }) = self.dkg.lock().unwrap().remove(&r.session_id) else {
            return Err(Status::not_found("no such DKG"));
        };
        let mut round1 = BTreeMap::new();
        for e in &r.round1 {
            let from = frost::Identifier::deserialize(&e.from.as_ref().unwrap().id).map_err(bad)?;
            assert_ne!(from, self.id, "a signer's own round-1 entry was relayed back to it");
            round1.insert(from, frost::keys::dkg::round1::Package::deserialize(&e.package).map_err(bad)?);
        }
        let mut digest: Vec<u8> = Vec::new();
        let (secret2, packages) = frost::keys::dkg::part2(secret, &round1).map_err(bad)?;
        // Every participant's view: the same packages, own included.
        let mut all: BTreeMap<frost::Identifier, Vec<u8>> = round1.iter().map(|(k, v)| (*k, v.serialize().unwrap())).collect();
        all.insert(self.id, vec![]);
        for (k, v) in &all {
            digest.extend(k.serialize());
            digest.extend(v.len().to_be_bytes());
        }
        let out = packages
            .iter()
            .map(|(to, p)| pb::EncryptedPackage {
                from: self.me(),
                to: Some(pb::ParticipantId { id: to.serialize() }),
                ciphertext: p.serialize().unwrap(),
            })
            .collect();
        self.dkg.lock().unwrap().insert(r.session_id, Dkg::Round2 { secret: secret2, round1, role });
        Ok(Response::new(pb::DkgRound2Response { packages: out, round1_digest: digest, digest_signature: vec![0; 64] }))
    }
    async fn dkg_finish(&self, request: Request<pb::DkgFinishRequest>) -> Result<Response<pb::DkgFinishResponse>, Status> {
        let r = request.into_inner();
        let Some(Dkg::Round2 { secret, round1, role }) = self.dkg.lock().unwrap().remove(&r.session_id) else {
            return Err(Status::not_found("no such DKG"));
        };
        assert_eq!(r.echoes.len(), round1.len() + 1, "every participant's digest");
        let mut round2 = BTreeMap::new();
        for p in &r.packages {
            assert_eq!(p.to, self.me(), "package for someone else");
            let from = frost::Identifier::deserialize(&p.from.as_ref().unwrap().id).map_err(bad)?;
            round2.insert(from, frost::keys::dkg::round2::Package::deserialize(&p.ciphertext).map_err(bad)?);
        }
        let (key, public) = frost::keys::dkg::part3(&secret, &round1, &round2).map_err(bad)?;
        let group: [u8; 32] = public.verifying_key().serialize().unwrap().try_into().unwrap();
        let role = match pb::KeyRole::try_from(role).unwrap() {
            pb::KeyRole::Ksk => KeyRole::Ksk,
            pb::KeyRole::Zsk => KeyRole::Zsk,
            _ => KeyRole::Csk,
        };
        let tag = ZoneKey::ed25519(role, group).key_tag().0 as u32;
        self.keys.lock().unwrap().insert(tag, key);
        Ok(Response::new(pb::DkgFinishResponse {
            group_public_key: group.to_vec(),
            public_key_package: public.serialize().map_err(bad)?,
            key_tag: tag,
            refresh_confirmation: Vec::new(),
        }))
    }
    async fn commit_refresh(&self, _: Request<pb::CommitRefreshRequest>) -> Result<Response<pb::Decision>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn repair_begin(&self, _: Request<pb::RepairBeginRequest>) -> Result<Response<pb::RepairBeginResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn repair_deltas(&self, _: Request<pb::RepairDeltasRequest>) -> Result<Response<pb::RepairDeltasResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn repair_sigma(&self, _: Request<pb::RepairSigmaRequest>) -> Result<Response<pb::RepairSigmaResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn repair_finish(&self, _: Request<pb::RepairFinishRequest>) -> Result<Response<pb::RepairFinishResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn import_begin(&self, _: Request<pb::ImportBeginRequest>) -> Result<Response<pb::ImportBeginResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn import_finish(&self, _: Request<pb::ImportFinishRequest>) -> Result<Response<pb::ImportFinishResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn propose(&self, request: Request<tonic::Streaming<pb::ProposeChunk>>) -> Result<Response<pb::Decision>, Status> {
        let mut stream = request.into_inner();
        let header = stream.message().await?.and_then(|c| c.header).ok_or_else(|| bad("no header first"))?;
        let mut digests = Vec::new();
        let mut signing = Vec::new();
        while let Some(chunk) = stream.message().await? {
            if chunk.header.is_some() {
                return Err(bad("a second header"));
            }
            assert!(chunk.items.len() <= frostzone_proto::MAX_BATCH_ITEMS, "chunk of {}", chunk.items.len());
            for item in &chunk.items {
                let d = frostzone_proto::content::item_digest(item);
                digests.push(d);
                // Context items (no RRSIG fields) are never committable.
                if item.rrsig.is_some() {
                    signing.push(d);
                }
            }
        }
        self.proposals.lock().unwrap().push((header.request_id.clone(), header.incremental, signing.len(), digests.len() - signing.len()));
        if header.incremental {
            let held = self.baseline.lock().unwrap().clone();
            if held.as_deref() != Some(header.baseline_request_id.as_str()) {
                return Err(Status::failed_precondition(format!(
                    "baseline mismatch: the proposal applies to {}, this signer holds {}",
                    header.baseline_request_id,
                    held.unwrap_or_else(|| "nothing".into())
                )));
            }
        }
        if digests.len() as u64 != header.item_count {
            return Err(bad(format!("{} items, header says {}", digests.len(), header.item_count)));
        }
        let baseline = if header.incremental { header.baseline_request_id.as_str() } else { "" };
        let hash = frostzone_proto::content::proposal_hash(&digests, &header.removed, baseline);
        let (state, reason, decided_by) = if hash.as_slice() != header.content_hash {
            (pb::RequestState::Rejected, "content hash does not match the items".to_string(), "policy".to_string())
        } else {
            match self.answer {
                Answer::Approve => (pb::RequestState::Approved, String::new(), "policy".into()),
                Answer::Pending => (
                    pb::RequestState::Pending,
                    "DNSKEY RRset changes need the operator's approval".into(),
                    String::new(),
                ),
                Answer::Reject => (pb::RequestState::Rejected, "wrong serial".into(), "operator alice (uid 1000)".into()),
            }
        };
        let proposed = Proposed {
            items: signing.len() as u64,
            digests: signing.into_iter().collect(),
            content_hash: header.content_hash.clone(),
            state,
            reason,
            decided_by,
        };
        let answer = self.decision(&header.request_id, &proposed);
        self.requests.lock().unwrap().insert(header.request_id, proposed);
        Ok(Response::new(answer))
    }

    async fn get_decision(&self, request: Request<pb::GetDecisionRequest>) -> Result<Response<pb::Decision>, Status> {
        let id = request.into_inner().request_id;
        let requests = self.requests.lock().unwrap();
        let r = requests.get(&id).ok_or_else(|| Status::not_found("no such request"))?;
        Ok(Response::new(self.decision(&id, r)))
    }

    async fn published(&self, request: Request<pb::PublishedRequest>) -> Result<Response<pb::Decision>, Status> {
        let r = request.into_inner();
        self.published.lock().unwrap().push((r.request_id.clone(), r.published, r.detail));
        let mut requests = self.requests.lock().unwrap();
        let p = requests.get_mut(&r.request_id).ok_or_else(|| Status::not_found("no such request"))?;
        p.state = if r.published { pb::RequestState::Published } else { pb::RequestState::Failed };
        if r.published {
            *self.baseline.lock().unwrap() = Some(r.request_id.clone());
        }
        Ok(Response::new(self.decision(&r.request_id, p)))
    }

    async fn commit(&self, request: Request<pb::CommitRequest>) -> Result<Response<pb::CommitResponse>, Status> {
        let r = request.into_inner();
        self.commits.lock().unwrap().push(r.request_id.clone());
        {
            let requests = self.requests.lock().unwrap();
            let p = requests.get(&r.request_id).ok_or_else(|| Status::failed_precondition("request not proposed"))?;
            if p.state != pb::RequestState::Approved {
                return Err(Status::failed_precondition(format!("request is {:?}, not approved", p.state)));
            }
            if !r.items.iter().all(|i| p.digests.contains(&frostzone_proto::content::item_digest(i))) {
                return Err(Status::failed_precondition("an item was not proposed"));
            }
        }
        if self.behaviour == Behaviour::Hang {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        let mut messages = Vec::with_capacity(r.items.len());
        for item in &r.items {
            let rrset = rrset_from_wire(&item.owner, item.rtype, item.ttl, &item.rdata).map_err(bad)?;
            let f = item.rrsig.as_ref().ok_or_else(|| bad("no rrsig fields"))?;
            let fields = rrsig_fields_from_wire(
                f.type_covered, f.algorithm, f.labels, f.original_ttl, f.expiration, f.inception, f.key_tag, &f.signer_name,
            )
            .map_err(bad)?;
            messages.push(signed_data(&fields, &rrset));
        }
        let key = self.keys.lock().unwrap().get(&r.key_tag).cloned().ok_or_else(|| Status::not_found("no such key"))?;
        let (nonces, commitments) = commit_batch(&key, messages.len(), &mut rand::rngs::OsRng);
        let commitments = commitments.iter().map(|c| c.serialize().map_err(bad)).collect::<Result<_, _>>()?;
        let mut sessions = self.sessions.lock().unwrap();
        if sessions.insert(r.attempt_id, (nonces, messages, key)).is_some() {
            return Err(Status::already_exists("repeated session"));
        }
        Ok(Response::new(pb::CommitResponse {
            participant: self.me(),
            commitments,
        }))
    }

    async fn sign(&self, request: Request<pb::SignRequest>) -> Result<Response<pb::SignResponse>, Status> {
        let r = request.into_inner();
        let (nonces, messages, key) =
            self.sessions.lock().unwrap().remove(&r.attempt_id).ok_or_else(|| Status::not_found("unknown attempt"))?;
        let mut all = BTreeMap::new();
        for pc in &r.commitments {
            let id = frost::Identifier::deserialize(&pc.participant.as_ref().ok_or_else(|| bad("no participant"))?.id).map_err(bad)?;
            let list = pc.commitments.iter().map(|c| SigningCommitments::deserialize(c).map_err(bad)).collect::<Result<Vec<_>, _>>()?;
            all.insert(id, list);
        }
        let packages = SigningBatch::new(&messages, &all).map_err(bad)?;
        let shares = sign_batch(nonces, &key, &packages).map_err(bad)?;
        let shares = shares
            .iter()
            .map(|s| {
                let mut bytes = s.serialize();
                if self.behaviour == Behaviour::Corrupt {
                    bytes[0] ^= 1;
                }
                bytes
            })
            .collect();
        Ok(Response::new(pb::SignResponse {
            participant: self.me(),
            shares,
        }))
    }
}

pub struct Cluster {
    pub coordinator: Arc<Coordinator>,
    /// The fakes, `None` for those that are down.
    pub fakes: Vec<Option<Arc<FakeSigner>>>,
    /// The coordinator's clients to them.
    pub handles: Vec<SignerHandle>,
    /// The key group (its public parts sign from scratch in tests).
    pub group: Option<frostzone_threshold::SimulatedGroup>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// The registry's directory.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Drops the coordinator and makes a new one on the same registry
    /// directory (as after a restart), with `pipeline`.
    pub async fn restart(&mut self, pipeline: Pipeline) {
        let weak = Arc::downgrade(&self.coordinator);
        let placeholder = Arc::new(Coordinator {
            threshold: 3,
            approval_timeout: Duration::from_secs(60),
            registry: Registry::open(tempfile::tempdir().unwrap().path()).unwrap(),
            signers: SignerPool::new(Vec::new()),
            audit: None,
            pipeline: Pipeline::default(),
            metrics: Default::default(),
        });
        drop(std::mem::replace(&mut self.coordinator, placeholder));
        // Background tasks (signers told of an outcome) let go of it.
        for _ in 0..400 {
            if weak.strong_count() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(weak.strong_count(), 0, "the old coordinator is still held");
        let mut registry = None;
        for _ in 0..200 {
            match Registry::open(self._dir.path()) {
                Ok(r) => {
                    registry = Some(r);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
        self.coordinator = Arc::new(Coordinator {
            threshold: 3,
            approval_timeout: Duration::from_secs(60),
            registry: registry.expect("the registry opens again"),
            signers: SignerPool::new(self.handles.clone()),
            audit: None,
            pipeline,
            metrics: Default::default(),
        });
    }

    pub fn fake(&self, i: usize) -> &FakeSigner {
        self.fakes[i - 1].as_deref().unwrap()
    }

    /// The signers (by number) that received a Commit.
    pub fn committed(&self) -> Vec<usize> {
        (1..=self.fakes.len()).filter(|&i| self.fakes[i - 1].as_ref().is_some_and(|f| !f.commits.lock().unwrap().is_empty())).collect()
    }

    /// Waits until every fake in `which` was told the outcome of `request`.
    pub async fn told(&self, which: &[usize], request: &str) -> Vec<(bool, String)> {
        for _ in 0..200 {
            let seen: Vec<(bool, String)> = which
                .iter()
                .filter_map(|&i| self.fake(i).published.lock().unwrap().iter().find(|p| p.0 == request).map(|p| (p.1, p.2.clone())))
                .collect();
            if seen.len() == which.len() {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("signers {which:?} were not told the outcome of {request}");
    }
}

pub const ZONE: &str = "example.";

/// Five signers holding a 3-of-5 CSK of `example.`, with the given
/// behaviours, and a coordinator that knows them.
pub async fn cluster(behaviours: [Behaviour; 5]) -> Cluster {
    cluster_with(behaviours, true, Duration::from_secs(20)).await
}

pub async fn cluster_with(behaviours: [Behaviour; 5], with_key: bool, timeout: Duration) -> Cluster {
    cluster_answering(behaviours, [Answer::Approve; 5], with_key, timeout).await
}

pub async fn cluster_answering(behaviours: [Behaviour; 5], answers: [Answer; 5], with_key: bool, timeout: Duration) -> Cluster {
    let group = generate_with_dkg(Quorum::new(3, 5).unwrap(), &mut rand::rngs::OsRng).unwrap();
    let key = ZoneKey::ed25519(KeyRole::Csk, group.verifying_key_bytes());
    let mut handles = Vec::new();
    let mut fakes = Vec::new();
    for (i, id) in group.identifiers().into_iter().enumerate() {
        let name = format!("signer-{}", i + 1);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        if behaviours[i] == Behaviour::Down {
            drop(listener);
            fakes.push(None);
        } else {
            let mut keys = HashMap::new();
            if with_key {
                keys.insert(u32::from(key.key_tag().0), group.key_package(&id).unwrap().clone());
            }
            let fake = Arc::new(FakeSigner {
                name: name.clone(),
                id,
                keys: Mutex::new(keys),
                behaviour: behaviours[i],
                sessions: Mutex::new(HashMap::new()),
                dkg: Mutex::new(HashMap::new()),
                answer: answers[i],
                requests: Mutex::new(HashMap::new()),
                commits: Mutex::new(Vec::new()),
                published: Mutex::new(Vec::new()),
                baseline: Mutex::new(None),
                proposals: Mutex::new(Vec::new()),
            });
            fakes.push(Some(fake.clone()));
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            tokio::spawn(Server::builder().add_service(SignerServer::from_arc(fake)).serve_with_incoming(incoming));
        }
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_timeout(Duration::from_secs(2))
            .connect_lazy();
        let config = SignerConfig { name, participant: (i + 1) as u16, endpoint: format!("http://{addr}") };
        handles.push(SignerHandle::new(config, channel, timeout).unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(dir.path()).unwrap();
    let coordinator = Arc::new(Coordinator {
        threshold: 3,
        approval_timeout: Duration::from_secs(60),
        registry,
        signers: SignerPool::new(handles.clone()),
        audit: None,
        pipeline: Pipeline::default(),
        metrics: Default::default(),
    });
    if !with_key {
        return Cluster { coordinator, fakes, handles, group: None, _dir: dir };
    }
    coordinator
        .registry
        .put_key_group(&KeyGroupRecord {
            version: RECORD_VERSION,
            zone: ZONE.into(),
            role: "CSK".into(),
            key_tag: key.key_tag().0,
            group_public_key: hex::encode(group.verifying_key_bytes()),
            public_key_package: hex::encode(group.public.serialize().unwrap()),
            threshold: 3,
            signers: (1..=5).map(|i| format!("signer-{i}")).collect(),
            participants: (1..=5).collect(),
            origin: "dkg".into(),
            created_unix: 0,
            retired_unix: None,
        refreshed_unix: None,
        pending_refresh: None,
        })
        .await
        .unwrap();
    Cluster { coordinator, fakes, handles, group: Some(group), _dir: dir }
}

/// A zone with `hosts` extra names: two signatures each (A and NSEC).
pub fn zone_text(hosts: usize) -> String {
    let mut text = String::from("$ORIGIN example.\n$TTL 300\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\nns A 192.0.2.53\n");
    for i in 0..hosts {
        text.push_str(&format!("h{i} A 192.0.2.{}\n", i % 250 + 1));
    }
    text
}

pub fn options(denial: &str) -> pb::SignZoneOptions {
    pb::SignZoneOptions { zone: ZONE.into(), denial: denial.into(), ..Default::default() }
}

/// Submits `text` (a whole zone) as `options.zone` for "operator",
/// reporting progress lines to `progress`.
pub async fn sign_with_progress(
    c: &Cluster,
    options: pb::SignZoneOptions,
    text: String,
    progress: &frostzone_coordinator::approval::wait::Progress,
) -> Result<PublishedVersion, CoordinatorError> {
    let source = options.zone.clone();
    let submission = Submission { operator: "operator".into(), options, input: Input::Text { text, source } };
    submit(&c.coordinator, submission, progress).await
}

/// Signs with progress lines ignored.
pub async fn sign(c: &Cluster, options: pb::SignZoneOptions, text: String) -> Result<PublishedVersion, CoordinatorError> {
    sign_with_progress(c, options, text, &|_| {}).await
}

