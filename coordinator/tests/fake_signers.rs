//! The signing pipeline against fake signers served in this process over
//! plaintext gRPC on 127.0.0.1: retry with another subset when a signer is
//! down, culprit exclusion when one sends bad shares, and the quorum error
//! when too few are left.
//!
//! The fake signers are a plain implementation of the generated `Signer`
//! trait on `frostzone_threshold`'s batch functions; they rebuild the
//! signed data from the items as a real signer does.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use frostzone_coordinator::config::SignerConfig;
use frostzone_coordinator::registry::{KeyGroupRecord, Registry, RECORD_VERSION};
use frostzone_coordinator::session::SessionState;
use frostzone_coordinator::signers::{SignerHandle, SignerPool};
use frostzone_coordinator::{Coordinator, CoordinatorError};
use frostzone_dnssec::keys::{KeyRole, ZoneKey};
use frostzone_dnssec::signing::signed_data;
use frostzone_dnssec::wire::{rrset_from_wire, rrsig_fields_from_wire};
use frostzone_proto::v1 as pb;
use frostzone_proto::v1::signer_server::{Signer, SignerServer};
use frostzone_threshold::frost::round1::SigningCommitments;
use frostzone_threshold::{commit_batch, frost, generate_with_dkg, sign_batch, signing_packages, BatchNonces, Quorum};
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status};

#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
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

struct FakeSigner {
    name: String,
    id: frost::Identifier,
    /// Key packages by key tag.
    keys: Mutex<HashMap<u32, frost::keys::KeyPackage>>,
    behaviour: Behaviour,
    sessions: Mutex<HashMap<Vec<u8>, Session>>,
    dkg: Mutex<HashMap<Vec<u8>, Dkg>>,
}

impl FakeSigner {
    fn me(&self) -> Option<pb::ParticipantId> {
        Some(pb::ParticipantId { id: self.id.serialize() })
    }
}

fn bad(e: impl std::fmt::Display) -> Status {
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
        }))
    }
    /// frost DKG part 1; the fake "encryption" is none at all: the
    /// coordinator only relays, which is what is tested here.
    async fn dkg_round1(&self, request: Request<pb::DkgRound1Request>) -> Result<Response<pb::DkgRound1Response>, Status> {
        let r = request.into_inner();
        let n = r.participants.len() as u16;
        let (secret, package) =
            frost::keys::dkg::part1(self.id, n, r.threshold as u16, rand::rngs::OsRng).map_err(bad)?;
        self.dkg.lock().unwrap().insert(r.session_id, Dkg::Round1 { secret, role: r.role });
        Ok(Response::new(pb::DkgRound1Response { package: package.serialize().map_err(bad)?, encryption_key: vec![0; 32] }))
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
        Ok(Response::new(pb::DkgRound2Response { packages: out, round1_digest: digest }))
    }
    async fn dkg_finish(&self, request: Request<pb::DkgFinishRequest>) -> Result<Response<pb::DkgFinishResponse>, Status> {
        let r = request.into_inner();
        let Some(Dkg::Round2 { secret, round1, role }) = self.dkg.lock().unwrap().remove(&r.session_id) else {
            return Err(Status::not_found("no such DKG"));
        };
        assert_eq!(r.round1_digests.len(), round1.len() + 1, "every participant's digest");
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
        }))
    }
    async fn import_begin(&self, _: Request<pb::ImportBeginRequest>) -> Result<Response<pb::ImportBeginResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn import_finish(&self, _: Request<pb::ImportFinishRequest>) -> Result<Response<pb::ImportFinishResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn commit(&self, request: Request<pb::CommitRequest>) -> Result<Response<pb::CommitResponse>, Status> {
        if self.behaviour == Behaviour::Hang {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        let r = request.into_inner();
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
        if sessions.insert(r.session_id, (nonces, messages, key)).is_some() {
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
            self.sessions.lock().unwrap().remove(&r.session_id).ok_or_else(|| Status::not_found("unknown session"))?;
        let mut all = BTreeMap::new();
        for pc in &r.commitments {
            let id = frost::Identifier::deserialize(&pc.participant.as_ref().ok_or_else(|| bad("no participant"))?.id).map_err(bad)?;
            let list = pc.commitments.iter().map(|c| SigningCommitments::deserialize(c).map_err(bad)).collect::<Result<Vec<_>, _>>()?;
            all.insert(id, list);
        }
        let packages = signing_packages(&messages, &all).map_err(bad)?;
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

struct Cluster {
    coordinator: Arc<Coordinator>,
    _dir: tempfile::TempDir,
}

const ZONE: &str = "example.";

/// Five signers holding a 3-of-5 CSK of `example.`, with the given
/// behaviours, and a coordinator that knows them.
async fn cluster(behaviours: [Behaviour; 5]) -> Cluster {
    cluster_with(behaviours, true, Duration::from_secs(20)).await
}

async fn cluster_with(behaviours: [Behaviour; 5], with_key: bool, timeout: Duration) -> Cluster {
    let group = generate_with_dkg(Quorum::new(3, 5).unwrap(), &mut rand::rngs::OsRng).unwrap();
    let key = ZoneKey::ed25519(KeyRole::Csk, group.verifying_key_bytes());
    let mut handles = Vec::new();
    for (i, id) in group.identifiers().into_iter().enumerate() {
        let name = format!("signer-{}", i + 1);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        if behaviours[i] == Behaviour::Down {
            drop(listener);
        } else {
            let mut keys = HashMap::new();
            if with_key {
                keys.insert(u32::from(key.key_tag().0), group.key_package(&id).unwrap().clone());
            }
            let fake = FakeSigner {
                name: name.clone(),
                id,
                keys: Mutex::new(keys),
                behaviour: behaviours[i],
                sessions: Mutex::new(HashMap::new()),
                dkg: Mutex::new(HashMap::new()),
            };
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            tokio::spawn(Server::builder().add_service(SignerServer::new(fake)).serve_with_incoming(incoming));
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
    let coordinator = Arc::new(Coordinator { threshold: 3, registry, signers: SignerPool::new(handles), audit: None });
    if !with_key {
        return Cluster { coordinator, _dir: dir };
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
        })
        .await
        .unwrap();
    Cluster { coordinator, _dir: dir }
}

/// A zone with `hosts` extra names: two signatures each (A and NSEC).
fn zone_text(hosts: usize) -> String {
    let mut text = String::from("$ORIGIN example.\n$TTL 300\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\nns A 192.0.2.53\n");
    for i in 0..hosts {
        text.push_str(&format!("h{i} A 192.0.2.{}\n", i % 250 + 1));
    }
    text
}

fn options(denial: &str) -> pb::SignZoneOptions {
    pb::SignZoneOptions { zone: ZONE.into(), denial: denial.into(), validity_days: 0, publish_cds: false }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_cluster_signs_with_the_first_three() {
    let c = cluster([Behaviour::Good; 5]).await;
    let signed = frostzone_coordinator::sign::sign_zone(c.coordinator.clone(), "operator", options("nsec3"), zone_text(20)).await.unwrap();
    assert!(signed.summary.contains(": valid:"), "{}", signed.summary);
    assert!(signed.text.contains("RRSIG"));
    let s = &c.coordinator.registry.recent_sessions(1).unwrap()[0];
    assert_eq!(s.id, signed.session_id);
    assert_eq!(s.state, SessionState::Released);
    assert_eq!(s.signers, ["signer-1", "signer-2", "signer-3"]);
    assert!(s.culprits.is_empty());
    assert_eq!(s.signatures, s.planned);
    assert_eq!(s.retries, 0);
    // The release is on record with a digest of exactly what was returned.
    use sha2::Digest;
    let released = c.coordinator.registry.zone("example.").unwrap().expect("a release record");
    assert_eq!(released.last_session, signed.session_id);
    assert_eq!(released.result_sha256, hex::encode(sha2::Sha256::digest(signed.text.as_bytes())));
    assert_eq!(released.summary, signed.summary);
}

/// signer-1 is down and signer-2 corrupts its shares, over two batches in
/// flight: every batch must end up signed by signer-3, -4 and -5, and
/// signer-2 must be recorded as the culprit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_around_a_dead_signer_and_excludes_a_culprit() {
    use Behaviour::*;
    let c = cluster([Down, Corrupt, Good, Good, Good]).await;
    // More than one batch (MAX_BATCH_ITEMS items), so batches run
    // concurrently and both meet the failures.
    let hosts = frostzone_proto::MAX_BATCH_ITEMS / 2 + 50;
    let signed = frostzone_coordinator::sign::sign_zone(c.coordinator.clone(), "operator", options("nsec"), zone_text(hosts)).await.unwrap();
    assert!(signed.summary.contains(": valid:"), "{}", signed.summary);
    let s = &c.coordinator.registry.recent_sessions(1).unwrap()[0];
    assert_eq!(s.state, SessionState::Released);
    assert!(s.planned > frostzone_proto::MAX_BATCH_ITEMS as u64, "{}", s.planned);
    assert_eq!(s.signatures, s.planned);
    assert_eq!(s.signers, ["signer-3", "signer-4", "signer-5"]);
    assert_eq!(s.culprits, ["signer-2"]);
    assert!(s.retries >= 2, "{s:?}");
    let culprit = c.coordinator.registry.culprit("signer-2").unwrap().unwrap();
    assert_eq!(culprit.last_session, s.id);
    assert!(c.coordinator.registry.culprit("signer-1").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_signers_give_the_quorum_error_and_nothing() {
    use Behaviour::*;
    let c = cluster([Down, Good, Down, Corrupt, Good]).await;
    let err = frostzone_coordinator::sign::sign_zone(c.coordinator.clone(), "operator", options("nsec3-opt-out"), zone_text(5))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, CoordinatorError::Quorum(_)), "{text}");
    assert!(
        text.starts_with("quorum unavailable: 2 of the 3 needed signers answered: signer-2, signer-5; unreachable: signer-1 ("),
        "{text}"
    );
    assert!(text.contains("signer-3 (") && text.contains("excluded for invalid shares: signer-4"), "{text}");
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let s = &c.coordinator.registry.recent_sessions(1).unwrap()[0];
    assert!(matches!(&s.state, SessionState::Failed(r) if r.starts_with("quorum unavailable")), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_missing_keys_are_refused_with_their_codes() {
    let c = cluster([Behaviour::Good; 5]).await;
    let err = frostzone_coordinator::sign::sign_zone(c.coordinator.clone(), "operator", options("nsec"), "@ SOA ns hm 1 2 3 4 5\nwww A 300.1.1.1\n".into())
        .await
        .unwrap_err();
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("example.:2"), "{}", status.message());

    let mut other = options("nsec");
    other.zone = "other.example.".into();
    let err = frostzone_coordinator::sign::sign_zone(c.coordinator.clone(), "operator", other, zone_text(1)).await.unwrap_err();
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(status.message(), "no keys for zone other.example.: run keys generate");

    let err = frostzone_coordinator::sign::sign_zone(c.coordinator.clone(), "operator", options("nsec5"), zone_text(1)).await.unwrap_err();
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::InvalidArgument);
}

/// DKG relayed between the fakes: a KSK and a ZSK for a new zone, then
/// the zone signs with them and GetDs gives the KSK's DS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkg_relay_then_sign() {
    use frostzone_proto::v1::coordinator_server::Coordinator as _;
    let c = cluster_with([Behaviour::Good; 5], false, Duration::from_secs(20)).await;
    let ksk = frostzone_coordinator::dkg::generate_key(&c.coordinator, "Example", KeyRole::Ksk).await.unwrap();
    let zsk = frostzone_coordinator::dkg::generate_key(&c.coordinator, "example.", KeyRole::Zsk).await.unwrap();
    assert_eq!(ksk.zone, "example.");
    assert_eq!(ksk.role, pb::KeyRole::Ksk as i32);
    assert_eq!(ksk.threshold, 3);
    assert_eq!(ksk.signers, (1..=5).map(|i| format!("signer-{i}")).collect::<Vec<_>>());
    assert!(ksk.dnskey.starts_with("example.\t3600\tIN\tDNSKEY\t257 3 15 "), "{}", ksk.dnskey);
    assert!(zsk.dnskey.contains("DNSKEY\t256 3 15 "), "{}", zsk.dnskey);
    assert_ne!(ksk.key_tag, zsk.key_tag);
    assert_eq!(c.coordinator.registry.key_groups(Some("example.")).unwrap().len(), 2);

    let signed = frostzone_coordinator::sign::sign_zone(c.coordinator.clone(), "operator", options("nsec3"), zone_text(10)).await.unwrap();
    assert!(signed.summary.contains(": valid:") && signed.summary.contains("2 DNSKEYs"), "{}", signed.summary);

    let service = frostzone_coordinator::service::CoordinatorService::new(c.coordinator.clone());
    let ds = service.get_ds(Request::new(pb::GetDsRequest { api_version: 1, zone: "example".into() })).await.unwrap().into_inner().ds;
    assert_eq!(ds.len(), 1);
    assert!(ds[0].starts_with(&format!("example.\t3600\tIN\tDS\t{} 15 2 ", ksk.key_tag)), "{}", ds[0]);
    let listed = service.list_keys(Request::new(pb::ListKeysRequest { api_version: 1, zone: String::new() })).await.unwrap().into_inner();
    assert_eq!(listed.keys.len(), 2);
    let status = service.status(Request::new(pb::StatusRequest { api_version: 1 })).await.unwrap().into_inner();
    assert!(status.signers.iter().all(|s| s.reachable), "{:?}", status.signers);
    assert_eq!(status.sessions[0].state, "released");
}

/// DKG needs every signer: one down fails it with UNAVAILABLE naming it,
/// and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkg_needs_every_signer() {
    use Behaviour::*;
    let c = cluster_with([Good, Good, Good, Down, Good], false, Duration::from_secs(20)).await;
    let err = frostzone_coordinator::dkg::generate_key(&c.coordinator, "example.", KeyRole::Csk).await.unwrap_err();
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(status.message().contains("signer-4"), "{}", status.message());
    assert!(c.coordinator.registry.key_groups(None).unwrap().is_empty());
}

/// A signer that hangs hits the per-call deadline and the batch moves on
/// to the next subset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_signer_times_out_and_is_replaced() {
    use Behaviour::*;
    let c = cluster_with([Good, Hang, Good, Good, Good], true, Duration::from_secs(2)).await;
    let started = std::time::Instant::now();
    let signed = frostzone_coordinator::sign::sign_zone(c.coordinator.clone(), "operator", options("nsec"), zone_text(3)).await.unwrap();
    assert!(signed.summary.contains(": valid:"), "{}", signed.summary);
    assert!(started.elapsed() < Duration::from_secs(30));
    let s = &c.coordinator.registry.recent_sessions(1).unwrap()[0];
    assert_eq!(s.signers, ["signer-1", "signer-3", "signer-4"]);
    assert!(s.culprits.is_empty());
    assert_eq!(s.retries, 1);
}

/// A request that goes away mid-session (the client hung up) leaves the
/// session failed, not hanging in a live state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_fails_its_session() {
    use Behaviour::*;
    let c = cluster_with([Hang, Hang, Hang, Hang, Hang], true, Duration::from_secs(120)).await;
    let request = frostzone_coordinator::sign::sign_zone(c.coordinator.clone(), "operator", options("nsec"), zone_text(3));
    assert!(tokio::time::timeout(Duration::from_millis(1500), request).await.is_err());
    let mut state = SessionState::Planned;
    for _ in 0..50 {
        state = c.coordinator.registry.recent_sessions(1).unwrap()[0].state.clone();
        if state.is_final() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(matches!(&state, SessionState::Failed(r) if r.contains("interrupted while committing")), "{state:?}");
}
