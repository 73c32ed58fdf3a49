//! What each signer is proposed: a full or an incremental proposal of the
//! same request (no I/O; the wire form is built chunk by chunk).
//!
//! Every signer keeps, per zone, the signed RRsets of the version it last
//! acknowledged as published (its baseline) and compares a request with
//! it. The signatures to make are the same for every signer; what comes
//! with them differs:
//!
//! * a **full** proposal lists every RRset of the new version a signer
//!   sees ([`Zone::is_proposed`]: the signed ones, and the NS RRsets of
//!   delegations, which are not signed but tell where the zone cuts are
//!   and which names the denial chain must cover): the plan's items (with
//!   RRSIG fields) and, for the others and for RRsets whose signatures are
//!   kept, context items (no RRSIG fields, never committable);
//! * an **incremental** proposal, for a signer whose baseline is the
//!   version published now, lists only the RRsets that change or are
//!   signed again, and names the proposed RRsets that disappear
//!   (`removed`).
//!
//! Each signer's approval counts only with the content hash of what it
//! was sent ([`ProposalSet::content_hash`]: the items in order, then the
//! removed RRsets, `frostzone_proto::content::proposal_hash`); Commit
//! membership is by item digest, the same for all.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock, Weak};

use bytes::Bytes;
use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_dnssec::name::CanonicalName;
use frostzone_dnssec::zone_patch::{ZonePatch, ZoneView};
use frostzone_dnssec::signing::{read_zone, PlanZone, SharedZone, SigningPlan};
use frostzone_dnssec::wire::{name_octets, name_to_wire, rrset_rdata_wire};
use frostzone_dnssec::zone::{Rrset, Zone};
use frostzone_dnssec::StoredName;
use frostzone_proto::content::{content_hash_of_digests, item_digest, proposal_hash};
use frostzone_proto::v1 as pb;
use frostzone_threshold::parallel::collect_indexed;
use rayon::prelude::*;

use frostzone_proto::MAX_BATCH_ITEMS;
use tokio_stream::wrappers::ReceiverStream;

use crate::signing::wire::wire_item;

/// Which proposal a signer gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every signed RRset of the new version.
    Full,
    /// Only what changes since the published version.
    Incremental,
}

/// An RRset of the new version, by owner and type.
type RrsetKey = (StoredName, Rtype);

/// What an incremental proposal carries beyond the items.
#[derive(Debug)]
struct IncrementContext {
    baseline_request_id: String,
    context: Vec<RrsetKey>,
    removed: Vec<pb::RrsetRef>,
    content_hash: [u8; 32],
}

/// The proposals of one request.
#[derive(Debug)]
pub struct ProposalSet {
    plan: Weak<SigningPlan>,
    items: usize,
    item_digests: Vec<[u8; 32]>,
    /// The RRsets signed, by owner and type.
    signed: HashSet<(CanonicalName, u16)>,
    full_context: OnceLock<Vec<RrsetKey>>,
    full_hash: OnceLock<Option<[u8; 32]>>,
    increment: Option<IncrementContext>,
}

fn content_of(rrset: &Rrset) -> (u32, Vec<&Bytes>) {
    (rrset.ttl.as_secs(), rrset.rdata.iter().map(|r| &r.canonical).collect())
}

/// A context item: an RRset of the new version without RRSIG fields.
fn context_item(rrset: &Rrset) -> pb::SigningItem {
    pb::SigningItem {
        owner: name_octets(&rrset.owner),
        rtype: rrset.rtype.to_int().into(),
        ttl: rrset.ttl.as_secs(),
        rdata: rrset_rdata_wire(rrset),
        rrsig: None,
    }
}

impl ProposalSet {
    /// The proposals of `plan` (CPU work: call on the blocking pool).
    /// `baseline` is the version published now and the request that
    /// published it, when there is one: then an incremental proposal is
    /// prepared too.
    pub fn build(plan: &Arc<SigningPlan>, baseline: Option<(&SharedZone, &str)>) -> ProposalSet {
        // An item missing from its own plan's zone cannot happen; were it
        // to, its digest is all zeros and no signer's would match.
        let item_digests: Vec<[u8; 32]> = plan.read(|zone| {
            collect_indexed(plan.items(), |_, item| wire_item(zone, item).map_or([0; 32], |w| item_digest(&w)))
        });
        let signed: HashSet<(CanonicalName, u16)> =
            plan.items().iter().map(|i| (CanonicalName(i.owner.clone()), i.rtype().to_int())).collect();
        let increment = baseline.map(|(published, request_id)| {
            let (context, removed, context_digests) = plan.read(|new| {
                let (context, removed) = match new {
                    PlanZone::Update(view) => patch_increment(&view, &signed),
                    PlanZone::Whole(zone) => whole_increment(&read_zone(published), zone, &signed),
                };
                let digests: Vec<[u8; 32]> =
                    context.iter().filter_map(|(o, t)| new.rrset(o, *t)).map(|r| item_digest(&context_item(r))).collect();
                (context, removed, digests)
            });
            let mut digests = item_digests.clone();
            digests.extend(context_digests);
            // The removals are bound by the hash too.
            let content_hash = proposal_hash(&digests, &removed, request_id);
            IncrementContext { baseline_request_id: request_id.to_string(), context, removed, content_hash }
        });
        ProposalSet {
            plan: Arc::downgrade(plan),
            items: plan.items().len(),
            item_digests,
            signed,
            full_context: OnceLock::new(),
            full_hash: OnceLock::new(),
            increment,
        }
    }

    /// The context of a full proposal: every signed RRset of the new
    /// version whose signatures are kept (a whole-zone walk, made at the
    /// first full proposal only).
    fn full_context(&self) -> &[RrsetKey] {
        self.full_context.get_or_init(|| {
            let Some(plan) = self.plan.upgrade() else { return Vec::new() };
            plan.read(|zone| {
                zone.proposed_rrsets()
                    .into_iter()
                    .filter(|r| !self.signed.contains(&(CanonicalName(r.owner.clone()), r.rtype.to_int())))
                    .map(|r| (r.owner.clone(), r.rtype))
                    .collect()
            })
        })
    }

    /// Whether signers holding the published version can get an
    /// incremental proposal.
    pub fn has_increment(&self) -> bool {
        self.increment.is_some()
    }

    /// The request the incremental proposal applies to.
    pub fn baseline_request_id(&self) -> Option<&str> {
        self.increment.as_ref().map(|i| i.baseline_request_id.as_str())
    }

    /// Signatures to make.
    pub fn items(&self) -> usize {
        self.items
    }

    /// The content hash over the items to sign alone: the request's hash
    /// in its session record and the audit log.
    pub fn signing_hash(&self) -> [u8; 32] {
        content_hash_of_digests(self.item_digests.iter())
    }

    fn context(&self, mode: Mode) -> &[RrsetKey] {
        match (mode, &self.increment) {
            (Mode::Incremental, Some(i)) => &i.context,
            _ => self.full_context(),
        }
    }

    /// Items and context items in a proposal of `mode`.
    pub fn item_count(&self, mode: Mode) -> usize {
        self.items + self.context(mode).len()
    }

    /// The content hash of the proposal of `mode` (the full one is
    /// computed at its first use: CPU work, call on the blocking pool).
    /// `None` when the plan is gone.
    pub fn content_hash(&self, mode: Mode) -> Option<[u8; 32]> {
        if let (Mode::Incremental, Some(i)) = (mode, &self.increment) {
            return Some(i.content_hash);
        }
        *self.full_hash.get_or_init(|| {
            let plan = self.plan.upgrade()?;
            let context: Vec<[u8; 32]> = plan.read(|zone| {
                self.full_context().par_iter().filter_map(|(o, t)| zone.rrset(o, *t)).map(|r| item_digest(&context_item(r))).collect()
            });
            let all: Vec<&[u8; 32]> = self.item_digests.iter().chain(&context).collect();
            Some(content_hash_of_digests(all.into_iter()))
        })
    }

    /// The header of the proposal of `mode`, given the fields every
    /// proposal of the request shares (`common`).
    pub fn header(&self, mode: Mode, common: &pb::ProposeHeader, content_hash: [u8; 32]) -> pb::ProposeHeader {
        let mut header = common.clone();
        header.content_hash = content_hash.to_vec();
        header.item_count = self.item_count(mode) as u64;
        match (mode, &self.increment) {
            (Mode::Incremental, Some(i)) => {
                header.incremental = true;
                header.baseline_request_id = i.baseline_request_id.clone();
                header.removed = i.removed.clone();
            }
            _ => {
                header.incremental = false;
                header.baseline_request_id.clear();
                header.removed.clear();
            }
        }
        header
    }

    /// Up to `max` items of the proposal of `mode` from position `start`
    /// in wire form (items first, then context); empty at the end, `None`
    /// when the plan is gone.
    pub fn chunk(&self, mode: Mode, start: usize, max: usize) -> Option<Vec<pb::SigningItem>> {
        let plan = self.plan.upgrade()?;
        let context = self.context(mode);
        let end = (start + max).min(self.items + context.len());
        let mut out = Vec::with_capacity(end.saturating_sub(start));
        plan.read(|zone| {
            for i in start..end {
                if let Some(item) = plan.items().get(i) {
                    out.push(wire_item(zone, item)?);
                } else {
                    let (owner, rtype) = context.get(i - self.items)?;
                    out.push(context_item(zone.rrset(owner, *rtype)?));
                }
            }
            Some(out)
        })
    }
}

type IncrementParts = (Vec<RrsetKey>, Vec<pb::RrsetRef>);

/// What changes from `old` to `new`, both whole zones: RRsets that change
/// but are not signed again (context) and signed RRsets that go away.
fn whole_increment(old: &Zone, new: &Zone, signed: &HashSet<(CanonicalName, u16)>) -> IncrementParts {
    let old: HashMap<(CanonicalName, u16), &Rrset> =
        old.proposed_rrsets().into_iter().map(|r| ((CanonicalName(r.owner.clone()), r.rtype.to_int()), r)).collect();
    compare(old, new.proposed_rrsets(), signed)
}

/// As [`whole_increment`] for a patch: only the patched names can differ.
fn patch_increment(view: &ZoneView<'_>, signed: &HashSet<(CanonicalName, u16)>) -> IncrementParts {
    let unchanged = ZonePatch::default();
    let before = ZoneView::new(view.base(), &unchanged);
    let mut old = HashMap::new();
    let mut new = Vec::new();
    for (name, _) in view.patch().iter() {
        if let Some(node) = before.node(name) {
            let role = before.role(name);
            old.extend(node.rrsets.values().filter(|r| Zone::is_proposed(role, r.rtype)).map(|r| ((name.clone(), r.rtype.to_int()), r)));
        }
        if let Some(node) = view.node(name) {
            let role = view.role(name);
            new.extend(node.rrsets.values().filter(|r| Zone::is_proposed(role, r.rtype)));
        }
    }
    compare(old, new, signed)
}

fn compare(old: HashMap<(CanonicalName, u16), &Rrset>, new: Vec<&Rrset>, signed: &HashSet<(CanonicalName, u16)>) -> IncrementParts {
    let mut present = HashSet::with_capacity(new.len());
    let mut context = Vec::new();
    for r in &new {
        let key = (CanonicalName(r.owner.clone()), r.rtype.to_int());
        let changed = old.get(&key).is_none_or(|o| content_of(o) != content_of(r));
        if changed && !signed.contains(&key) {
            context.push((r.owner.clone(), r.rtype));
        }
        present.insert(key);
    }
    let mut removed: Vec<_> = old
        .iter()
        .filter(|(k, _)| !present.contains(*k))
        .map(|(k, r)| (k.clone(), pb::RrsetRef { owner: name_to_wire(&r.owner), rtype: r.rtype.to_int().into() }))
        .collect();
    removed.sort_by(|a, b| a.0.cmp(&b.0));
    (context, removed.into_iter().map(|(_, r)| r).collect())
}

/// Chunks of a proposal waiting to be sent: a producer on the blocking
/// pool stays this many chunks ahead of the connection.
const PROPOSAL_CHUNKS_AHEAD: usize = 2;

/// The Propose stream: the header chunk, then every item of the proposal
/// of `mode` in `set` (items in plan order, then context items), in
/// chunks of at most [`MAX_BATCH_ITEMS`]. The set reads the plan through
/// a weak reference, held only while a chunk is built, so a proposal
/// never keeps the plan from its owner (who completes it after signing). A blocking task
/// builds each chunk's wire form as the connection takes the previous
/// ones, and stops when the call ends (or the plan is gone: then the
/// stream ends short and the signer refuses the proposal).
pub fn proposal_chunks(header: pb::ProposeHeader, set: Arc<ProposalSet>, mode: Mode) -> ReceiverStream<pb::ProposeChunk> {
    let (tx, rx) = tokio::sync::mpsc::channel(PROPOSAL_CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        if tx.blocking_send(pb::ProposeChunk { header: Some(header), items: Vec::new() }).is_err() {
            return;
        }
        for start in (0..).step_by(MAX_BATCH_ITEMS) {
            let Some(items) = set.chunk(mode, start, MAX_BATCH_ITEMS) else { return };
            if items.is_empty() {
                return;
            }
            if tx.blocking_send(pb::ProposeChunk { header: None, items }).is_err() {
                // The call failed or was dropped: nobody reads any more.
                return;
            }
        }
    });
    ReceiverStream::new(rx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use frostzone_dnssec::denial::Denial;
    use frostzone_dnssec::keys::{KeyRole, ZoneKey};
    use frostzone_dnssec::load::load_zone_text;
    use frostzone_dnssec::signing::refresh::{PreviousSignatures, RefreshPolicy};
    use frostzone_dnssec::signing::SigningPolicy;
    use frostzone_dnssec::zone::InputKind;
    use std::path::Path;
    use std::str::FromStr;

    const ZONE: &str = "$TTL 300\n@ IN SOA ns1 host 1 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A 192.0.2.1\nold IN A 192.0.2.7\n";
    const NOW: u32 = 1_780_000_000;

    fn apex() -> StoredName {
        StoredName::from_str("example.").unwrap()
    }

    fn plan(text: &str, previous: &PreviousSignatures) -> Arc<SigningPlan> {
        let zone = Zone::from_records(apex(), load_zone_text(text, Path::new("z"), &apex()).unwrap(), InputKind::Unsigned).unwrap();
        let key = ZoneKey::ed25519(KeyRole::Csk, [7; 32]);
        let policy = SigningPolicy { denial: Denial::Nsec, ..SigningPolicy::default() };
        Arc::new(SigningPlan::prepare_incremental(zone, &[key], &policy, NOW, previous, &RefreshPolicy::default()).unwrap())
    }

    /// A "signed" version of `plan` with zero signatures (enough for
    /// proposals, which never look at signature bytes).
    fn published(plan: Arc<SigningPlan>) -> SharedZone {
        let plan = Arc::try_unwrap(plan).unwrap();
        let n = plan.items().len();
        Arc::new(std::sync::RwLock::new(plan.complete(vec![[0; 64]; n]).unwrap()))
    }

    #[test]
    fn full_and_incremental_proposals_of_one_change() {
        let v1 = published(plan(ZONE, &PreviousSignatures::default()));
        let v2_text = ZONE.replace("host 1 ", "host 2 ").replace("old IN A 192.0.2.7\n", "new IN A 192.0.2.8\n");
        let p = plan(&v2_text, &PreviousSignatures::from_zone(&read_zone(&v1)));
        let set = ProposalSet::build(&p, Some((&v1, "r1")));
        // SOA, new A, new NSEC, and the NSEC of the predecessors whose
        // next name changed.
        let signed = p.items().len();
        assert!(signed < plan(&v2_text, &PreviousSignatures::default()).items().len());
        assert_eq!(set.item_count(Mode::Incremental), signed, "every change is signed: no context");
        assert_eq!(set.item_count(Mode::Full), p.read(|z| z.proposed_rrsets().len()));
        let common = pb::ProposeHeader { request_id: "r2".into(), ..Default::default() };
        let inc = set.header(Mode::Incremental, &common, set.content_hash(Mode::Incremental).unwrap());
        assert!(inc.incremental && inc.baseline_request_id == "r1");
        let removed: Vec<(Vec<u8>, u32)> = inc.removed.iter().map(|r| (r.owner.clone(), r.rtype)).collect();
        let old = name_to_wire(&StoredName::from_str("old.example.").unwrap());
        assert!(removed.contains(&(old.clone(), 1)) && removed.contains(&(old, 47)), "{removed:?}");
        assert_eq!(removed.len(), 2);
        let full = set.header(Mode::Full, &common, set.content_hash(Mode::Full).unwrap());
        assert!(!full.incremental && full.removed.is_empty() && full.baseline_request_id.is_empty());
        assert_ne!(inc.content_hash, full.content_hash);
        // The hashes are those of the items as streamed.
        for mode in [Mode::Full, Mode::Incremental] {
            let mut all = Vec::new();
            let mut start = 0;
            loop {
                let chunk = set.chunk(mode, start, 3).unwrap();
                if chunk.is_empty() {
                    break;
                }
                start += chunk.len();
                all.extend(chunk);
            }
            assert_eq!(all.len(), set.item_count(mode));
            let digests: Vec<[u8; 32]> = all.iter().map(item_digest).collect();
            let header = set.header(mode, &common, [0; 32]);
            assert_eq!(proposal_hash(&digests, &header.removed, &header.baseline_request_id), set.content_hash(mode).unwrap(), "{mode:?}");
            assert_eq!(all.iter().filter(|i| i.rrsig.is_some()).count(), signed);
        }
        // Without a published version there is no increment.
        let first = ProposalSet::build(&p, None);
        assert!(!first.has_increment());
        assert_eq!(first.item_count(Mode::Incremental), first.item_count(Mode::Full));
    }
}
