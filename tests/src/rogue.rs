//! Acting as the coordinator towards a signer, as a compromised coordinator could: a gRPC client
//! of the Signer service presenting the coordinator's certificate (which the signers pin), with
//! hand-made signing items. What a signer accepts from it shows what the signer itself enforces.

use std::path::Path;
use std::sync::Arc;

use frostzone_coordinator::approval::proposals::{Mode, ProposalSet};
use frostzone_dnssec::denial::Denial;
use frostzone_dnssec::keys::{KeyRole as ZoneKeyRole, ZoneKey};
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::signing::{SigningPlan, SigningPolicy};
use frostzone_dnssec::zone::{InputKind, Zone};
use frostzone_proto::content::content_hash;
use frostzone_proto::tls::TlsFiles;
use frostzone_proto::v1::signer_client::SignerClient;
use frostzone_proto::v1::{
    CommitRequest, CommitResponse, Decision, HealthRequest, KeyRole, KeyShareInfo, ProposeChunk, ProposeHeader, RrsigFields,
    SigningItem,
};
use frostzone_proto::API_VERSION;
use tonic::transport::Channel;

use crate::cluster::Cluster;

/// A signer client with the coordinator's credentials.
pub type Signer = SignerClient<Channel>;

/// Connects to signer `k` of `cluster` as its coordinator (waiting up to a minute for a signer
/// that is still starting).
pub async fn connect(cluster: &Cluster, k: u16) -> Signer {
    let root = cluster.dir.path();
    let tls = TlsFiles { ca: root.join("ca.pem"), cert: root.join("coordinator.pem"), key: root.join("coordinator.key") };
    let endpoint = tonic::transport::Endpoint::from_shared(format!("https://127.0.0.1:{}", cluster.signer_ports[usize::from(k) - 1]))
        .expect("endpoint")
        .tls_config(tls.client_config(&format!("signer-{k}")).expect("tls config"))
        .expect("tls");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match endpoint.connect().await {
            Ok(channel) => return SignerClient::new(channel),
            Err(e) if std::time::Instant::now() > deadline => panic!("connect to signer-{k}: {e:?}"),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
}

/// The key share signer `client` holds for `zone` that signs DNSKEY RRsets: a KSK or a CSK.
pub async fn zone_key(client: &mut Signer, zone: &str) -> KeyShareInfo {
    let health = client.health(HealthRequest { api_version: API_VERSION }).await.expect("health").into_inner();
    health
        .keys
        .into_iter()
        .find(|k| k.zone == zone && matches!(k.role(), KeyRole::Ksk | KeyRole::Csk))
        .unwrap_or_else(|| panic!("{} holds no KSK or CSK of {zone}", health.name))
}

/// A fresh request id: 32 lowercase hex digits, as the coordinator makes them.
pub fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
    let mixed = nanos ^ (u128::from(std::process::id()) << 64) ^ (u128::from(COUNTER.fetch_add(1, Ordering::Relaxed)) << 96);
    format!("{mixed:032x}")
}

/// `name` (absolute, with the trailing dot) in uncompressed wire form.
pub fn wire_name(name: &str) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        wire.push(label.len() as u8);
        wire.extend_from_slice(label.as_bytes());
    }
    wire.push(0);
    wire
}

/// Seconds since the epoch.
pub fn now() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as u32
}

/// An RRset of `owner` in `zone` to be signed by `key`: valid for a week from an hour ago.
pub fn item(zone: &str, owner: &str, rtype: u16, rdata: Vec<Vec<u8>>, key: &KeyShareInfo) -> SigningItem {
    let now = now();
    SigningItem {
        owner: wire_name(owner).into(),
        rtype: u32::from(rtype),
        ttl: 3600,
        rdata: rdata.into_iter().map(Into::into).collect(),
        rrsig: Some(RrsigFields {
            type_covered: u32::from(rtype),
            algorithm: 15,
            labels: owner.trim_end_matches('.').split('.').filter(|l| !l.is_empty()).count() as u32,
            original_ttl: 3600,
            expiration: now + 7 * 86_400,
            inception: now - 3600,
            key_tag: key.key_tag,
            signer_name: wire_name(zone).into(),
        }),
    }
}

/// The zone's DNSKEY RRset holding `key` (flags 257: a CSK), signed by it (RFC 4034 §2.1).
pub fn dnskey_item(zone: &str, key: &KeyShareInfo) -> SigningItem {
    let mut rdata = vec![0x01, 0x01, 3, 15];
    rdata.extend_from_slice(&key.group_public_key);
    item(zone, zone, 48, vec![rdata], key)
}

/// An A RRset of `owner` with one address.
pub fn a_item(zone: &str, owner: &str, address: [u8; 4], key: &KeyShareInfo) -> SigningItem {
    item(zone, owner, 1, vec![address.to_vec()], key)
}

/// Every share `client` holds for `zone`.
pub async fn zone_keys(client: &mut Signer, zone: &str) -> Vec<KeyShareInfo> {
    let health = client.health(HealthRequest { api_version: API_VERSION }).await.expect("health").into_inner();
    health.keys.into_iter().filter(|k| k.zone == zone).collect()
}

/// The DNSKEY of a held share.
pub fn dnskey_of(share: &KeyShareInfo) -> ZoneKey {
    let role = match share.role() {
        KeyRole::Ksk => ZoneKeyRole::Ksk,
        KeyRole::Zsk => ZoneKeyRole::Zsk,
        _ => ZoneKeyRole::Csk,
    };
    ZoneKey::ed25519(role, share.group_public_key.as_slice().try_into().expect("32-octet group key"))
}

/// The whole of `zone_text` (an unsigned zone) signed with `keys`, as the coordinator proposes
/// it in full: every RRSIG to make (items with RRSIG fields, valid from an hour ago for two
/// weeks), then every other RRset a signer is shown (context items: delegations' NS), its
/// denial records made by frostzone's own generator. Attacks start from this and change only
/// what they mean to change.
pub fn full_proposal(zone: &str, zone_text: &str, keys: &[ZoneKey], denial: Denial) -> Vec<SigningItem> {
    let apex = frostzone_dnssec::name::ZoneName::parse(zone).expect("zone name").into_apex();
    let records = load_zone_text(zone_text, Path::new("rogue.zone"), &apex).expect("zone text");
    let unsigned = Zone::from_records(apex, records, InputKind::Unsigned).expect("zone");
    let policy = SigningPolicy { denial, ..SigningPolicy::default() };
    let plan = Arc::new(SigningPlan::prepare(unsigned, keys, &policy, now()).expect("signing plan"));
    let set = ProposalSet::build(&plan, None);
    set.chunk(Mode::Full, 0, usize::MAX).expect("the plan is alive")
}

/// Proposes `items` as request `id` of `zone`; the signer's decision, or its refusal.
pub async fn propose(client: &mut Signer, id: &str, zone: &str, items: &[SigningItem]) -> Result<Decision, tonic::Status> {
    let header = ProposeHeader {
        api_version: API_VERSION,
        request_id: id.to_string(),
        zone: zone.to_string(),
        content_hash: content_hash(items).to_vec(),
        item_count: items.len() as u64,
        expires_unix: u64::from(now()) + 3600,
        submitted_by: "rogue-test".to_string(),
        ..ProposeHeader::default()
    };
    let chunks = vec![
        ProposeChunk { header: Some(header), items: Vec::new() },
        ProposeChunk { header: None, items: items.to_vec() },
    ];
    client.propose(tokio_stream::iter(chunks)).await.map(tonic::Response::into_inner)
}

/// A fresh 16-byte id, for an attempt or a DKG run.
pub fn session_id() -> Vec<u8> {
    let id = request_id();
    (0..16).map(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).expect("hex")).collect()
}

/// Commits (FROST round 1) `items` under request `id` in attempt `attempt_id`; the commitments,
/// or the signer's refusal.
pub async fn commit(
    client: &mut Signer,
    attempt_id: &[u8],
    id: &str,
    zone: &str,
    key: &KeyShareInfo,
    items: &[SigningItem],
) -> Result<CommitResponse, tonic::Status> {
    client
        .commit(CommitRequest {
            api_version: API_VERSION,
            attempt_id: attempt_id.to_vec(),
            zone: zone.to_string(),
            key_tag: key.key_tag,
            items: items.to_vec(),
            request_id: id.to_string(),
        })
        .await
        .map(tonic::Response::into_inner)
}
