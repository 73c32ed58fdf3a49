//! A compromised coordinator's proposals, tampered with: whole versions and increments built
//! exactly as the real coordinator builds them (the signing plan, `ProposalSet`, `wire_item`),
//! then denial records edited in wire form (RFC 4034 §4.1 NSEC, RFC 5155 §3.2 NSEC3, §4.2
//! NSEC3PARAM), and the checks that a refused request made nothing: no Commit accepted under it,
//! no `sign` entry for it in the signer's audit log.

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use frostzone_coordinator::signing::wire::wire_item;
use frostzone_coordinator::approval::proposals::{Mode, ProposalSet};
use frostzone_dnssec::denial::check::Increment;
use frostzone_dnssec::denial::{Denial, Nsec3Config};
use frostzone_dnssec::keys::ZoneKey;
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::name::CanonicalName;
use frostzone_dnssec::signing::{SigningPlan, SigningPolicy};
use frostzone_dnssec::wire::{name_octets, name_to_wire, rrset_rdata_wire};
use frostzone_dnssec::zone::{InputKind, Rrset, Zone};
use frostzone_dnssec::StoredName;
use frostzone_proto::content::{item_digest, proposal_hash};
use frostzone_proto::v1::{
    Decision, KeyShareInfo, ProposeChunk, ProposeHeader, PublishedRequest, RequestState, RrsetRef, SigningItem,
};
use frostzone_proto::API_VERSION;
use serde_json::Value;

use crate::cluster::Cluster;
use crate::rogue::{self, Signer};

/// RR type codes used here (RFC 4034 §4, RFC 5155 §3 and §4).
pub const NSEC: u32 = 47;
/// NSEC3.
pub const NSEC3: u32 = 50;
/// NSEC3PARAM.
pub const NSEC3PARAM: u32 = 51;

/// One version of a zone, planned as the coordinator plans it.
pub struct PlannedVersion {
    zone: String,
    plan: Arc<SigningPlan>,
}

/// An increment: the items (to sign, and context) of the RRsets that change, and the RRsets that
/// go, as an incremental proposal carries them.
#[derive(Clone, Debug)]
pub struct Change {
    /// Plan items of the RRsets put, then context items of those not signed.
    pub items: Vec<SigningItem>,
    /// Proposed RRsets of the old version the new one no longer has.
    pub removed: Vec<RrsetRef>,
}

fn apex_of(zone: &str) -> StoredName {
    frostzone_dnssec::name::ZoneName::parse(zone).expect("zone name").into_apex()
}

impl PlannedVersion {
    /// `text` (an unsigned zone) signed with `keys` and `denial` (valid from an hour ago for two
    /// weeks, the engine's defaults).
    pub fn new(zone: &str, text: &str, keys: &[ZoneKey], denial: Denial) -> PlannedVersion {
        let apex = apex_of(zone);
        let records = load_zone_text(text, Path::new("rogue.zone"), &apex).expect("zone text");
        let unsigned = Zone::from_records(apex, records, InputKind::Unsigned).expect("zone");
        let policy = SigningPolicy { denial, ..SigningPolicy::default() };
        let plan = SigningPlan::prepare(unsigned, keys, &policy, rogue::now()).expect("signing plan");
        PlannedVersion { zone: zone.to_string(), plan: Arc::new(plan) }
    }

    /// The full proposal: every item to sign, then the context items (delegations' NS).
    pub fn full(&self) -> Vec<SigningItem> {
        ProposalSet::build(&self.plan, None).chunk(Mode::Full, 0, usize::MAX).expect("the plan is alive")
    }

    /// Every RRset a signer is proposed of this version (RFC 4035 §2.2 signed ones, and NS at
    /// delegations).
    pub fn rrsets(&self) -> Vec<Rrset> {
        self.plan.read(|zone| zone.proposed_rrsets().into_iter().cloned().collect())
    }

    /// The increment from `old` to this version: an item for each of its signatures over an
    /// RRset that is new or changed, a context item for each such RRset it does not sign, and
    /// the RRsets that go.
    pub fn increment_from(&self, old: &PlannedVersion) -> Change {
        let (old_rrsets, new_rrsets) = (old.rrsets(), self.rrsets());
        let change = Increment::between(&old_rrsets, &new_rrsets);
        let signed: BTreeSet<(CanonicalName, u16)> =
            self.plan.items().iter().map(|i| (CanonicalName(i.owner.clone()), i.rtype().to_int())).collect();
        let mut items: Vec<SigningItem> = self.plan.read(|zone| {
            self.plan
                .items()
                .iter()
                .filter(|i| change.puts.contains_key(&(CanonicalName(i.owner.clone()), i.rtype().to_int())))
                .map(|i| wire_item(zone, i).expect("the plan's own item"))
                .collect()
        });
        for (key, rrset) in &change.puts {
            if !signed.contains(key) {
                items.push(SigningItem {
                    owner: name_octets(&rrset.owner),
                    rtype: rrset.rtype.to_int().into(),
                    ttl: rrset.ttl.as_secs(),
                    rdata: rrset_rdata_wire(rrset),
                    rrsig: None,
                });
            }
        }
        let removed =
            change.removed.iter().map(|(owner, rtype)| RrsetRef { owner: name_to_wire(owner.name()), rtype: u32::from(*rtype) }).collect();
        Change { items, removed }
    }

    /// The zone's hashed NSEC3 owner of `name` (RFC 5155 §3.1.1, RFC 9276 parameters: no salt,
    /// no extra iterations), as text with the trailing dot.
    pub fn nsec3_owner(&self, name: &str) -> String {
        nsec3_owner(&self.zone, name)
    }
}

/// The hash of `name` under RFC 9276 parameters (no salt, no extra iterations).
pub fn nsec3_hash(name: &str) -> Vec<u8> {
    Nsec3Config::default().hash(&StoredName::from_str(name).expect("name")).expect("hash")
}

/// The hashed owner of `name` in `zone` (RFC 5155 §3.1.1), as text with the trailing dot.
pub fn nsec3_owner(zone: &str, name: &str) -> String {
    format!("{}.{}", base32hex(&nsec3_hash(name)), zone)
}

/// RFC 4648 §7 base32hex, lowercase, no padding: how NSEC3 owner labels spell hashes.
pub fn base32hex(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for b in bytes {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Whether `item` is the RRset `rtype` at `owner` (text, absolute), names compared
/// case-insensitively.
pub fn is_rrset(item: &SigningItem, owner: &str, rtype: u32) -> bool {
    item.rtype == rtype && item.owner.eq_ignore_ascii_case(&rogue::wire_name(owner))
}

/// The index of the first item of the RRset `rtype` at `owner`.
pub fn position(items: &[SigningItem], owner: &str, rtype: u32) -> usize {
    items.iter().position(|i| is_rrset(i, owner, rtype)).unwrap_or_else(|| panic!("no item for {owner} type {rtype}"))
}

/// Takes every item of the RRset `rtype` at `owner` out (a signed RRset may have one item per
/// key).
pub fn remove_rrset(items: &mut Vec<SigningItem>, owner: &str, rtype: u32) {
    let before = items.len();
    items.retain(|i| !is_rrset(i, owner, rtype));
    assert!(items.len() < before, "no item for {owner} type {rtype}");
}

/// Applies `edit` to the RDATA of every item of the RRset `rtype` at `owner` (each carries its
/// own copy); returns the index of the first.
pub fn edit_rdata(items: &mut [SigningItem], owner: &str, rtype: u32, edit: impl Fn(&[u8]) -> Vec<u8>) -> usize {
    let first = position(items, owner, rtype);
    for item in items.iter_mut().filter(|i| is_rrset(i, owner, rtype)) {
        item.rdata = item.rdata.iter().map(|r| edit(r).into()).collect();
    }
    first
}

/// The RDATA of the RRset `rtype` at `owner` (its single record).
pub fn rdata_of(items: &[SigningItem], owner: &str, rtype: u32) -> Vec<u8> {
    items[position(items, owner, rtype)].rdata[0].to_vec()
}

/// The types of an RFC 4034 §4.1.2 type bitmap.
pub fn bitmap_types(mut wire: &[u8]) -> BTreeSet<u16> {
    let mut types = BTreeSet::new();
    while let [window, len, rest @ ..] = wire {
        let (bits, tail) = rest.split_at(usize::from(*len));
        for (i, byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    types.insert(u16::from(*window) << 8 | (i as u16 * 8 + bit));
                }
            }
        }
        wire = tail;
    }
    types
}

/// The RFC 4034 §4.1.2 type bitmap of `types`, in its one canonical encoding (no trailing zero
/// octets, no empty windows).
pub fn bitmap_wire(types: &BTreeSet<u16>) -> Vec<u8> {
    let mut out = Vec::new();
    for window in 0..=255u8 {
        let bits: Vec<u8> = types.iter().filter(|t| (*t >> 8) as u8 == window).map(|t| (*t & 0xff) as u8).collect();
        let Some(last) = bits.iter().max() else { continue };
        let mut block = vec![0u8; usize::from(last / 8) + 1];
        for b in bits {
            block[usize::from(b / 8)] |= 0x80 >> (b % 8);
        }
        out.push(window);
        out.push(block.len() as u8);
        out.extend(block);
    }
    out
}

/// An NSEC3 RDATA (RFC 5155 §3.2), taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nsec3Rdata {
    /// Hash algorithm (1: SHA-1).
    pub algorithm: u8,
    /// Flags; bit 0x01 is Opt-Out (RFC 5155 §3.1.2.1).
    pub flags: u8,
    /// Extra iterations.
    pub iterations: u16,
    /// Salt.
    pub salt: Vec<u8>,
    /// Next hashed owner name, raw hash octets.
    pub next: Vec<u8>,
    /// Types at the original owner name.
    pub types: BTreeSet<u16>,
}

impl Nsec3Rdata {
    /// Parses `wire`.
    pub fn parse(wire: &[u8]) -> Nsec3Rdata {
        let salt_len = usize::from(wire[4]);
        let salt = wire[5..5 + salt_len].to_vec();
        let hash_at = 5 + salt_len;
        let hash_len = usize::from(wire[hash_at]);
        let next = wire[hash_at + 1..hash_at + 1 + hash_len].to_vec();
        Nsec3Rdata {
            algorithm: wire[0],
            flags: wire[1],
            iterations: u16::from_be_bytes([wire[2], wire[3]]),
            salt,
            next,
            types: bitmap_types(&wire[hash_at + 1 + hash_len..]),
        }
    }

    /// The wire form.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = vec![self.algorithm, self.flags];
        out.extend_from_slice(&self.iterations.to_be_bytes());
        out.push(self.salt.len() as u8);
        out.extend_from_slice(&self.salt);
        out.push(self.next.len() as u8);
        out.extend_from_slice(&self.next);
        out.extend(bitmap_wire(&self.types));
        out
    }
}

/// An NSEC RDATA (RFC 4034 §4.1), taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsecRdata {
    /// The next owner name, uncompressed wire form.
    pub next: Vec<u8>,
    /// Types at the owner name.
    pub types: BTreeSet<u16>,
}

impl NsecRdata {
    /// Parses `wire`.
    pub fn parse(wire: &[u8]) -> NsecRdata {
        let mut at = 0;
        while wire[at] != 0 {
            at += usize::from(wire[at]) + 1;
        }
        NsecRdata { next: wire[..=at].to_vec(), types: bitmap_types(&wire[at + 1..]) }
    }

    /// The wire form.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = self.next.clone();
        out.extend(bitmap_wire(&self.types));
        out
    }
}

/// The header every rogue proposal carries, for `items` (and, for an increment, `removed` and
/// the baseline).
fn header(id: &str, zone: &str, items: &[SigningItem], increment: Option<(&str, &[RrsetRef])>) -> ProposeHeader {
    let digests: Vec<[u8; 32]> = items.iter().map(item_digest).collect();
    let (baseline, removed): (&str, &[RrsetRef]) = increment.unwrap_or(("", &[]));
    ProposeHeader {
        api_version: API_VERSION,
        request_id: id.to_string(),
        zone: zone.to_string(),
        content_hash: proposal_hash(&digests, removed, baseline).to_vec(),
        item_count: items.len() as u64,
        expires_unix: u64::from(rogue::now()) + 3600,
        submitted_by: "rogue-test".to_string(),
        incremental: increment.is_some(),
        baseline_request_id: baseline.to_string(),
        removed: removed.to_vec(),
        key_step: String::new(),
    }
}

/// The first chunk of a full proposal of `items` (the header alone), for streams fed by hand.
pub fn full_header_chunk(id: &str, zone: &str, items: &[SigningItem]) -> ProposeChunk {
    ProposeChunk { header: Some(header(id, zone, items, None)), items: Vec::new() }
}

/// Proposes `change` as request `id`, an increment on the published request `baseline`.
pub async fn propose_increment(
    client: &mut Signer,
    id: &str,
    zone: &str,
    baseline: &str,
    change: &Change,
) -> Result<Decision, tonic::Status> {
    let chunks = vec![
        ProposeChunk { header: Some(header(id, zone, &change.items, Some((baseline, &change.removed)))), items: Vec::new() },
        ProposeChunk { header: None, items: change.items.clone() },
    ];
    client.propose(tokio_stream::iter(chunks)).await.map(tonic::Response::into_inner)
}

/// Tells the signer request `id` was published (accepted without proof when the signer approved
/// it itself): its content becomes the zone's baseline there.
pub async fn publish(client: &mut Signer, id: &str) -> Decision {
    let req = PublishedRequest {
        api_version: API_VERSION,
        request_id: id.to_string(),
        published: true,
        detail: "published by the rogue test".to_string(),
        approvals: Vec::new(),
    };
    let decision = client.published(req).await.unwrap_or_else(|e| panic!("publish {id}: {e:?}")).into_inner();
    assert_eq!(decision.state(), RequestState::Published, "{decision:?}");
    decision
}

/// Asserts `decision` is `state` and its reason holds every one of `wants`; returns the reason.
pub fn assert_decision(what: &str, decision: &Decision, state: RequestState, wants: &[&str]) -> String {
    let reason = decision.reason.clone();
    assert_eq!(decision.state(), state, "{what}: {decision:?}");
    for want in wants {
        assert!(reason.contains(want), "{what}: the reason does not say {want:?}:\n{reason}");
    }
    println!("{what}: {:?}: {reason}", decision.state());
    reason
}

/// The audit entries of `node` about request `id`, as JSON.
pub fn audit_entries(cluster: &Cluster, node: &str, id: &str) -> Vec<Value> {
    let path = cluster.audit_log(node);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["request"] == id)
        .collect()
}

/// Asserts signer `k` made nothing for request `id`: a Commit of the items in `items` signed by
/// a key it holds, under `id`, is refused (the refusal is returned), and its audit log has no
/// accepted `commit` and no `sign` entry for `id`.
pub async fn assert_nothing_made(
    cluster: &Cluster,
    client: &mut Signer,
    k: u16,
    zone: &str,
    id: &str,
    items: &[SigningItem],
) -> tonic::Status {
    let shares = rogue::zone_keys(client, zone).await;
    let refusal = try_commit(client, &shares, zone, id, items).await;
    let node = format!("signer-{k}");
    let entries = audit_entries(cluster, &node, id);
    assert!(entries.iter().any(|e| e["event"] == "propose"), "{node}'s audit log has no propose entry for {id}: {entries:?}");
    for entry in entries {
        let event = entry["event"].as_str().unwrap_or("");
        assert!(event != "sign" && event != "commit", "{node} made something for {id}: {entry}");
    }
    refusal
}

/// Commits the items of `items` that one held key (of `shares`) signs under request `id`;
/// panics when the signer accepts; returns its refusal.
pub async fn try_commit(client: &mut Signer, shares: &[KeyShareInfo], zone: &str, id: &str, items: &[SigningItem]) -> tonic::Status {
    let (key, batch) = shares
        .iter()
        .map(|s| (s, items.iter().filter(|i| i.rrsig.as_ref().is_some_and(|f| f.key_tag == s.key_tag)).cloned().collect::<Vec<_>>()))
        .max_by_key(|(_, batch)| batch.len())
        .expect("a held key");
    assert!(!batch.is_empty(), "no item is signed by a key the signer holds");
    match rogue::commit(client, &rogue::session_id(), id, zone, key, &batch).await {
        Ok(r) => panic!("Commit of {} items under request {id:?} accepted: {} commitments", batch.len(), r.commitments.len()),
        Err(status) => status,
    }
}
