//! A proposed request evaluated: every item checked, the RRsets compared
//! with the zone's published baseline, and a decision made. Pure logic:
//! the caller ([`crate::lifecycle`]) loads the baseline and stores the
//! result. This module evaluates full proposals and holds what both kinds
//! share; [`crate::incremental`] evaluates incremental ones, and
//! [`crate::rrset`] parses the items into RRsets for both.
//!
//! Items come in two kinds. Items with RRSIG fields ask for signatures:
//! they are checked against this signer's policy and their digests are
//! what a Commit under the request may contain. Context items (no RRSIG
//! fields) are RRsets of the new version whose signatures are kept: they
//! count for the content hash and the diff, are parsed like any item
//! (well-formed RDATA, owner inside the zone), but are never checked as
//! signing items and never committable — their digests are not kept, and
//! a Commit item always has RRSIG fields, so its digest could not match
//! one anyway.
//!
//! A request is rejected when its items break this signer's policy
//! ([`crate::policy::check_item`] for every item signed by a key this
//! signer holds; zone not served; no share for the zone) or do not make
//! well-formed RRsets. Otherwise the approval policy ([`crate::approval`])
//! approves it or leaves it pending its operator.

use std::collections::BTreeMap;
use std::sync::Arc;

use frostzone_dnssec::rrset_diff::{is_key, ZoneDiff};
use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_dnssec::keys::{KeyRole, KeyTag};
use frostzone_dnssec::zone::{Rrset, Zone};
use frostzone_proto::content::{item_digest, proposal_hash};
use frostzone_proto::v1::{self, ChangeSummary, KeyInvolved, ProposeHeader, RequestState, SigningItem};
use frostzone_threshold::parallel::{collect_indexed, find_map_first_indexed};

use crate::approval::{decide, KeyChanges, PolicyDecision};
use crate::key_step::{apex_keys, judge};
use crate::error::{NodeError, StoreError};
use crate::fields::proto_role;
use crate::policy::{check_item, BatchContext};
use frostzone_dnssec::name::ZoneName;
use crate::policy_file::SignerPolicy;
use crate::request_store::{RequestContent, RrsetChunks, StoredRequest, REQUEST_FORMAT};
use crate::rrset::{describe_item, drain_in_order, parse_rrsets, stored_rrsets};
use crate::store::ShareInfo;

/// Default for the most items one request may carry
/// (`max_proposal_items` in the signer's config): a zone of some 1.7
/// million delegations with NSEC3 (2.33 items per delegation). The count is
/// checked against the header before the items are read, so this bounds
/// the memory a request may pin.
pub const DEFAULT_MAX_PROPOSE_ITEMS: u64 = 4_000_000;
/// Octets of items (as encoded) allowed per item of the bound: a
/// proposal may carry at most this many times its item bound. Items of
/// a reference zone encode to 60–150 octets.
pub const PROPOSAL_BYTES_PER_ITEM: u64 = 512;

/// How large a proposal this signer accepts, from its own config: what a
/// coordinator can make it hold in memory per Propose stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProposalBound {
    /// Most items (signed and context RRsets), and most removed RRsets
    /// of an increment.
    pub items: u64,
}

impl ProposalBound {
    /// Most octets of items, as encoded, one Propose stream may carry.
    pub fn bytes(&self) -> u64 {
        self.items.saturating_mul(PROPOSAL_BYTES_PER_ITEM)
    }
}

impl Default for ProposalBound {
    fn default() -> ProposalBound {
        ProposalBound { items: DEFAULT_MAX_PROPOSE_ITEMS }
    }
}

/// The room a proposal's item list needs when `arriving` items join the
/// `held` ones, of the `announced` count (checked: `held + arriving` is at
/// most that). It doubles as a vector grows, so the list is moved a few
/// times only, but never past the announced count, where it ends with
/// room for exactly its items; and it never runs ahead of what arrived, so
/// the header's count alone, which the coordinator writes, makes a signer
/// reserve nothing.
pub fn items_room(held: usize, arriving: usize, announced: usize) -> usize {
    let needed = held.saturating_add(arriving);
    held.saturating_mul(2).min(announced).max(needed)
}

/// Leaves each of `items` holding only the room its records take. prost
/// grows a repeated field as a `Vec` does, with room for four from the
/// first record; most RRsets hold one or two, and a proposal's items are
/// held until the request is decided (a whole zone's worth of them).
pub fn hold_compactly(items: &mut [SigningItem]) {
    for item in items {
        item.rdata.shrink_to_fit();
    }
}

/// Most `+`/`-` lines kept for review: enough to read through, small
/// enough to keep (about 2 MB). The total count is kept besides.
pub const MAX_SHOWN_LINES: usize = 20_000;
/// Shortest request id, in hex digits (the coordinator uses 32).
pub const MIN_REQUEST_ID_LEN: usize = 16;
/// Longest request id, in hex digits.
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// Who decided when no operator did.
pub const DECIDED_BY_POLICY: &str = "policy";
/// Longest reason or name a signer keeps or answers with, in characters:
/// enough for every refusal it makes (it names the first item refused),
/// small enough that nobody can grow a record or a decision without bound.
pub use frostzone_proto::MAX_REASON_CHARS;

/// `text` cut to [`MAX_REASON_CHARS`] characters (marked when cut).
pub fn bounded(text: &str) -> String {
    if text.chars().count() <= MAX_REASON_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_REASON_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Checks a request id: lowercase hex of a sane length.
pub fn check_request_id(id: &str) -> Result<(), NodeError> {
    check_id_field("request_id", id)
}

fn check_id_field(field: &'static str, id: &str) -> Result<(), NodeError> {
    if id.len() < MIN_REQUEST_ID_LEN || id.len() > MAX_REQUEST_ID_LEN {
        return Err(NodeError::field(
            field,
            format!("{} characters, need {MIN_REQUEST_ID_LEN}..={MAX_REQUEST_ID_LEN} hex digits", id.len()),
        ));
    }
    if !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(NodeError::field(field, format!("{id:?} is not lowercase hex")));
    }
    Ok(())
}

/// Checks a Propose header before any item is read, its counts against
/// this signer's own `bound` (never one the coordinator sends); returns
/// the zone, normalized.
pub fn check_header(header: &ProposeHeader, bound: ProposalBound) -> Result<String, NodeError> {
    let max = bound.items;
    check_request_id(&header.request_id)?;
    let zone = ZoneName::parse(&header.zone).map_err(|e| NodeError::field("zone", e))?.into_text();
    if header.content_hash.len() != 32 {
        return Err(NodeError::field("content_hash", format!("{} octets, need 32 (SHA-256)", header.content_hash.len())));
    }
    if header.item_count > max {
        return Err(NodeError::field(
            "item_count",
            format!("{} items, at most {max} (max_proposal_items in this signer's config)", header.item_count),
        ));
    }
    if header.incremental {
        check_id_field("baseline_request_id", &header.baseline_request_id)?;
        if header.removed.len() as u64 > max {
            return Err(NodeError::field(
                "removed",
                format!("{} RRsets, at most {max} (max_proposal_items in this signer's config)", header.removed.len()),
            ));
        }
        // A pure removal re-signs nothing at the removed names, so an
        // increment may come without items; it must change something.
        if header.item_count == 0 && header.removed.is_empty() {
            return Err(NodeError::field("item_count", "an incremental proposal with no items and no removed RRsets"));
        }
    } else {
        if header.item_count == 0 {
            return Err(NodeError::field("item_count", format!("0 items, need 1..={max}")));
        }
        if !header.baseline_request_id.is_empty() || !header.removed.is_empty() {
            return Err(NodeError::field(
                "incremental",
                "a full proposal names no baseline_request_id and no removed RRsets",
            ));
        }
    }
    Ok(zone)
}

/// What a proposal is evaluated against.
pub struct ProposeContext {
    /// The operator's policy.
    pub policy: Arc<SignerPolicy>,
    /// The shares this signer holds for the request's zone.
    pub shares: Vec<ShareInfo>,
    /// Now, Unix seconds.
    pub now: u64,
    /// Set when a publication was claimed without proof
    /// ([`crate::baseline::BaselineState::unproven`]): every proposal for
    /// the zone waits for the operator, for this reason.
    pub unproven: Option<String>,
    /// The DNSKEY RRset of the zone's baseline, and when this signer first
    /// saw each of its keys: what a `key_changes = "rollover"` policy reads
    /// a key change against ([`crate::key_step`]).
    pub baseline_keys: (Option<Rrset>, BTreeMap<u16, u64>),
    /// Whether the denial records are checked against the content
    /// ([`crate::denial`]): always, except in the life-cycle unit tests,
    /// whose toy zones of a few A RRsets have none.
    pub check_denial: bool,
}

/// The items' policy check: every item signed by a held key must pass
/// [`check_item`]; context items are not signing items and are not
/// checked. Returns the first refusal.
fn check_items(items: &[SigningItem], zone: &str, ctx: &ProposeContext) -> Result<(), String> {
    if !ctx.policy.serves(zone) {
        return Err(format!("zone {zone} is not served under this signer's policy"));
    }
    if ctx.shares.is_empty() {
        return Err(format!("this signer holds no key share for zone {zone}"));
    }
    let apex = ZoneName::parse(zone)?.into_apex();
    let held: BTreeMap<u32, KeyRole> = ctx.shares.iter().map(|s| (u32::from(s.key_tag.0), s.role)).collect();
    let now = u32::try_from(ctx.now).unwrap_or(u32::MAX);
    let refused = find_map_first_indexed(items, |i, item| {
        let tag = item.rrsig.as_ref().map(|f| f.key_tag)?;
        let role = *held.get(&tag)?;
        let batch = BatchContext {
            zone: apex.clone(),
            key_tag: KeyTag(u16::try_from(tag).ok()?),
            role,
            now,
            policy: ctx.policy.clone(),
        };
        check_item(item, &batch).err().map(|reason| format!("item {i} ({}): {reason}", describe_item(item)))
    });
    match refused {
        Some(reason) => Err(reason),
        None => Ok(()),
    }
}

/// The keys a request asks signatures of. A key this signer does not hold
/// gets the role its items suggest: key RRsets only, KSK; others only,
/// ZSK; both, CSK.
fn keys_involved(items: &[SigningItem], shares: &[ShareInfo]) -> Vec<KeyInvolved> {
    let mut seen: BTreeMap<u32, (u64, bool, bool)> = BTreeMap::new();
    for item in items {
        let Some(f) = &item.rrsig else { continue };
        let entry = seen.entry(f.key_tag).or_default();
        entry.0 += 1;
        let key_rrset = u16::try_from(item.rtype).is_ok_and(|t| is_key(Rtype::from_int(t)));
        if key_rrset {
            entry.1 = true;
        } else {
            entry.2 = true;
        }
    }
    seen.into_iter()
        .map(|(key_tag, (signatures, keys, others))| {
            let held = shares.iter().find(|s| u32::from(s.key_tag.0) == key_tag);
            let role = match (held, keys, others) {
                (Some(share), _, _) => proto_role(share.role),
                (None, true, false) => v1::KeyRole::Ksk,
                (None, false, true) => v1::KeyRole::Zsk,
                (None, _, _) => v1::KeyRole::Csk,
            };
            KeyInvolved { key_tag, role: role.into(), signatures, held: held.is_some() }
        })
        .collect()
}

/// Checks the item count against the header and recomputes the content
/// hash over every item, context items included, and the removed RRsets
/// of an incremental proposal (a mismatch is an error,
/// not a decision). Returns the hash and the sorted, deduplicated digests
/// of the items a Commit may contain: those with RRSIG fields.
pub(crate) fn check_content(header: &ProposeHeader, items: &[SigningItem]) -> Result<([u8; 32], Vec<[u8; 32]>), NodeError> {
    if items.len() as u64 != header.item_count {
        return Err(NodeError::field(
            "item_count",
            format!("the header announces {} items, {} came", header.item_count, items.len()),
        ));
    }
    let digests: Vec<[u8; 32]> = collect_indexed(items, |_, item| item_digest(item));
    // Removals and the version an increment starts from are part of what
    // is approved (frostzone_proto::content).
    let baseline = if header.incremental { header.baseline_request_id.as_str() } else { "" };
    let hash = proposal_hash(&digests, &header.removed, baseline);
    if hash.as_slice() != header.content_hash.as_slice() {
        return Err(NodeError::field(
            "content_hash",
            format!(
                "the items hash to {}, the header says {}",
                hex::encode(hash),
                hex::encode(&header.content_hash)
            ),
        ));
    }
    let mut committable: Vec<[u8; 32]> =
        digests.into_iter().zip(items).filter(|(_, item)| item.rrsig.is_some()).map(|(d, _)| d).collect();
    committable.sort_unstable();
    committable.dedup();
    Ok((hash, committable))
}

/// A new request's record, not yet decided.
pub(crate) fn new_record(
    header: &ProposeHeader,
    zone: &str,
    items: &[SigningItem],
    hash: [u8; 32],
    ctx: &ProposeContext,
) -> StoredRequest {
    let expiry = ctx.now.saturating_add(ctx.policy.approval.pending_expiry_secs);
    StoredRequest {
        format: REQUEST_FORMAT,
        id: header.request_id.clone(),
        zone: zone.to_string(),
        content_hash: hash.to_vec(),
        created_unix: ctx.now,
        expires_unix: if header.expires_unix == 0 { expiry } else { expiry.min(header.expires_unix) },
        submitted_by: bounded(&header.submitted_by),
        key_step: bounded(&header.key_step),
        keys: keys_involved(items, &ctx.shares),
        item_count: items.len() as u64,
        decided_by: DECIDED_BY_POLICY.into(),
        state_unix: ctx.now,
        incremental: header.incremental,
        baseline_request_id: header.baseline_request_id.clone(),
        ..StoredRequest::default()
    }
}

/// Refuses the request with `reason`.
pub(crate) fn reject(record: &mut StoredRequest, reason: String, now: u64) {
    record.set_state(RequestState::Rejected, now);
    record.reason = bounded(&reason);
}

/// Completes the evaluation once the diff is known: the change summary
/// and review lines recorded, the signing items checked against the
/// policy, then the approval policy's decision.
pub(crate) fn conclude(
    record: &mut StoredRequest,
    content: &mut RequestContent,
    diff: &ZoneDiff,
    first_publication: bool,
    items: &[SigningItem],
    ctx: &ProposeContext,
    denial: Result<(), String>,
) {
    let summary = diff.summary();
    let (delegations_added, delegations_removed) = match ZoneName::parse(&record.zone) {
        Ok(zone) => diff.delegation_counts(zone.apex()),
        Err(_) => (0, 0),
    };
    let changes = ChangeSummary {
        rrsets_added: summary.rrsets_added,
        rrsets_removed: summary.rrsets_removed,
        rrsets_changed: summary.rrsets_changed,
        names_added: summary.names_added,
        names_removed: summary.names_removed,
        denial_rrsets_changed: summary.denial_rrsets_changed,
        key_rrsets_changed: !summary.key_types_changed.is_empty(),
        first_publication,
        signatures: items.iter().filter(|item| item.rrsig.is_some()).count() as u64,
        ds_rrsets_changed: summary.ds_rrsets_changed,
        delegations_added,
        delegations_removed,
    };
    record.changes = Some(changes);
    record.validity = validity_windows(items, ctx.now);
    record.total_lines = diff.line_count();
    content.lines = diff.lines().take(MAX_SHOWN_LINES).collect();
    if let Err(reason) = check_items(items, &record.zone, ctx).and(denial) {
        reject(record, reason, ctx.now);
        return;
    }
    let key_types: Vec<u16> = summary.key_types_changed.iter().copied().collect();
    let key_step = (!key_types.is_empty() && ctx.policy.approval.key_changes == KeyChanges::Rollover).then(|| {
        let apex = ZoneName::parse(&record.zone)?.into_apex();
        let keys = apex_keys(&diff.changes, &apex, ctx.baseline_keys.0.as_ref());
        judge(&keys, &apex, &ctx.shares, &ctx.baseline_keys.1, ctx.now, ctx.policy.approval.min_key_publish_secs)
    });
    let decision = match (&ctx.unproven, decide(&ctx.policy.approval, &changes, &key_types, key_step.as_ref())) {
        (Some(why), PolicyDecision::Approved) => PolicyDecision::Pending(why.clone()),
        (Some(why), PolicyDecision::Pending(also)) => PolicyDecision::Pending(format!("{why}; {also}")),
        (None, decision) => decision,
    };
    match decision {
        PolicyDecision::Approved => {
            record.set_state(RequestState::Approved, ctx.now);
            record.approved_unix = ctx.now;
        }
        PolicyDecision::Pending(reason) => {
            record.set_state(RequestState::Pending, ctx.now);
            record.reason = bounded(&reason);
            record.decided_by.clear();
        }
    }
    record.digests_stored = record.state() != RequestState::Rejected;
}

/// The span of inception and expiration times the items ask of each key
/// (RFC 4034 §3.1.5 serial times, read as the Unix times nearest `now`).
pub(crate) fn validity_windows(items: &[SigningItem], now: u64) -> Vec<v1::ValidityWindow> {
    let absolute = |t: u32| -> u64 {
        // The serial time within 2^31 s of now (RFC 1982).
        let delta = t.wrapping_sub(now as u32) as i32;
        now.saturating_add_signed(i64::from(delta))
    };
    let mut windows: BTreeMap<u32, v1::ValidityWindow> = BTreeMap::new();
    for f in items.iter().filter_map(|i| i.rrsig.as_ref()) {
        let (inception, expiration) = (absolute(f.inception), absolute(f.expiration));
        let w = windows.entry(f.key_tag).or_insert(v1::ValidityWindow {
            key_tag: f.key_tag,
            earliest_inception: inception,
            latest_inception: inception,
            earliest_expiration: expiration,
            latest_expiration: expiration,
        });
        w.earliest_inception = w.earliest_inception.min(inception);
        w.latest_inception = w.latest_inception.max(inception);
        w.earliest_expiration = w.earliest_expiration.min(expiration);
        w.latest_expiration = w.latest_expiration.max(expiration);
    }
    windows.into_values().collect()
}

/// Evaluates a full proposal: the content hash recomputed and compared
/// with the header's, then the decision with what the request changes
/// against `baseline`, the RRsets last published for the zone, if any, in
/// canonical order ([`crate::baseline::Baselines::rrsets_in_order`]: read
/// as the comparison goes, never held whole). `zone` is the header's,
/// normalized ([`check_header`]).
pub fn evaluate(
    header: &ProposeHeader,
    zone: &str,
    items: &[SigningItem],
    baseline: Option<impl Iterator<Item = Result<Rrset, StoreError>>>,
    ctx: &ProposeContext,
) -> Result<(StoredRequest, RequestContent), NodeError> {
    let (hash, digests) = check_content(header, items)?;
    let mut record = new_record(header, zone, items, hash, ctx);
    let mut content = RequestContent { digests, ..RequestContent::default() };
    let apex = ZoneName::parse(zone).map_err(|e| NodeError::field("zone", e))?.into_apex();
    let parsed = match parse_rrsets(items, &apex) {
        Ok(parsed) => parsed,
        Err(reason) => {
            reject(&mut record, reason, ctx.now);
            return Ok((record, content));
        }
    };
    let first_items: Vec<usize> = parsed.iter().map(|(i, _)| *i).collect();
    record.content_stored = true;
    // The parsed RRsets move into one zone, checked in place and then
    // compared with the baseline: a full proposal is held parsed once.
    let mut zone = Zone::from_rrsets(apex, drain_in_order(parsed).map(|(_, rrset)| rrset));
    let started = std::time::Instant::now();
    let denial = if ctx.check_denial { crate::denial::check_full(&mut zone, items, &ctx.policy) } else { Ok(()) };
    content.denial_checked_in = Some(started.elapsed());
    let first_publication = baseline.is_none();
    let diff = ZoneDiff::between_ordered(baseline.into_iter().flatten(), zone.into_rrsets())?;
    conclude(&mut record, &mut content, &diff, first_publication, items, ctx, denial);
    drop(diff);
    // The stored form, made once the zone and the diff (which holds every
    // RRset of a first publication) are gone: the RRsets are not held in
    // three forms at once.
    content.rrsets = RrsetChunks::encode(stored_rrsets(items, first_items.into_iter()));
    Ok((record, content))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items as decoded hold room for four records; held, they hold what
    /// they carry.
    #[test]
    fn items_are_held_without_spare_room() {
        use prost::Message;
        let item = SigningItem { owner: b"\x03www\x00".to_vec().into(), rtype: 1, ttl: 300, rdata: vec![vec![192, 0, 2, 1].into()], rrsig: None };
        let mut items = vec![SigningItem::decode(item.encode_to_vec().as_slice()).unwrap()];
        assert!(items[0].rdata.capacity() > 1, "prost's room, which this test is about");
        hold_compactly(&mut items);
        assert_eq!((items[0].rdata.len(), items[0].rdata.capacity()), (1, 1));
        assert_eq!(items[0], item);
    }

    #[test]
    fn item_room_follows_what_arrived_up_to_the_announced_count() {
        // The first chunk reserves what it brings, whatever was announced.
        assert_eq!(items_room(0, 4096, 4_000_000), 4096);
        // Doubling, then exactly the announced count at the end.
        assert_eq!(items_room(4096, 4096, 4_000_000), 8192);
        assert_eq!(items_room(3_000_000, 4096, 4_000_000), 4_000_000);
        // A chunk larger than the list so far is taken whole.
        assert_eq!(items_room(10, 4096, 4_000_000), 4106);
        assert_eq!(items_room(usize::MAX, 1, usize::MAX), usize::MAX);
    }

    #[test]
    fn request_ids_and_headers() {
        assert!(check_request_id("0123456789abcdef0123456789abcdef").is_ok());
        assert!(check_request_id("0123456789ABCDEF").is_err());
        assert!(check_request_id("0123").is_err());
        assert!(check_request_id("../../etc/passwd00").is_err());
        let header = ProposeHeader {
            api_version: 1,
            request_id: "00112233445566778899aabbccddeeff".into(),
            zone: "Example".into(),
            content_hash: vec![0; 32],
            item_count: 3,
            expires_unix: 0,
            submitted_by: "ops".into(),
            ..ProposeHeader::default()
        };
        let bound = ProposalBound::default();
        assert_eq!(check_header(&header, bound).unwrap(), "example.");
        let too_many = ProposeHeader { item_count: bound.items + 1, ..header.clone() };
        assert!(check_header(&too_many, bound).unwrap_err().to_string().contains("item_count"));
        // The operator's own bound, not the default, decides.
        let small = ProposalBound { items: 2 };
        let refused = check_header(&header, small).unwrap_err().to_string();
        assert!(refused.contains("3 items, at most 2 (max_proposal_items"), "{refused}");
        let many_removed = ProposeHeader {
            incremental: true,
            baseline_request_id: "0011223344556677".into(),
            item_count: 1,
            removed: vec![v1::RrsetRef::default(); 3],
            ..header.clone()
        };
        assert!(check_header(&many_removed, small).unwrap_err().to_string().starts_with("removed: "));
        assert_eq!(small.bytes(), 2 * PROPOSAL_BYTES_PER_ITEM);
        let short_hash = ProposeHeader { content_hash: vec![0; 31], ..header.clone() };
        assert!(check_header(&short_hash, bound).unwrap_err().to_string().contains("content_hash"));
        // A full proposal carries items and no increment fields; an
        // incremental one names a well-formed baseline and changes something.
        let empty = ProposeHeader { item_count: 0, ..header.clone() };
        assert!(check_header(&empty, bound).unwrap_err().to_string().contains("item_count"));
        let removes = ProposeHeader { removed: vec![v1::RrsetRef::default()], ..header.clone() };
        assert!(check_header(&removes, bound).unwrap_err().to_string().starts_with("incremental: "));
        let increment = ProposeHeader { incremental: true, baseline_request_id: "0011223344556677".into(), ..header.clone() };
        assert!(check_header(&increment, bound).is_ok());
        let bad_base = ProposeHeader { baseline_request_id: "XYZ".into(), ..increment.clone() };
        assert!(check_header(&bad_base, bound).unwrap_err().to_string().starts_with("baseline_request_id: "));
        let nothing = ProposeHeader { item_count: 0, ..increment.clone() };
        assert!(check_header(&nothing, bound).is_err());
        let pure_removal = ProposeHeader { removed: vec![v1::RrsetRef::default()], ..nothing };
        assert!(check_header(&pure_removal, bound).is_ok());
    }
}
