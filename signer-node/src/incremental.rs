//! Incremental proposals: a new version of a zone given as a change to the
//! version this signer holds as its baseline ([`crate::baseline`]), so
//! that proposing and publishing a one-record change costs a few lookups,
//! not a pass over the zone.
//!
//! An incremental proposal (`ProposeHeader.incremental`) names the request
//! whose published content it applies to (`baseline_request_id`), carries
//! items (to sign) and context items (kept signatures) only for the RRsets
//! that change or are re-signed, and lists in `removed` the RRsets of the
//! baseline that go. Its evaluation:
//!
//! 1. The baseline must be that request's content and not stale, or the
//!    proposal is refused with [`BaselineMismatch`] (FAILED_PRECONDITION)
//!    and nothing is stored: the coordinator then proposes the same
//!    request id again in full.
//! 2. Each RRset the items make is looked up in the baseline: absent, it
//!    is added; with other content, changed; identical, unchanged (a pure
//!    signature refresh changes nothing). Each removed RRset must be in the
//!    baseline, or the request is rejected naming it: the coordinator's
//!    view of the zone is not this signer's.
//! 3. For each owner name touched, one prefix scan of its baseline types
//!    tells whether its first non-denial RRset appears or its last one
//!    goes (a name added or removed, as [`frostzone_dnssec::rrset_diff`] counts
//!    them for full proposals).
//! 4. The policy checks and the approval decision are those of a full
//!    proposal (`crate::proposal::conclude`).
//!
//! The request stores only its delta. On publication ([`publication`]) the
//! delta is applied to the baseline in one atomic batch — if the baseline
//! is still the one the increment applies to. Should another request have
//! been published in between (publication out of order), the delta is not
//! applied: the baseline stays as it is, is marked stale and a warning is
//! logged. A stale baseline refuses every incremental proposal with
//! "baseline mismatch" until a full proposal is published, which replaces
//! the baseline whole: the signer never diffs against content it knows to
//! be behind what is live.

use std::collections::{BTreeMap, BTreeSet};

use frostzone_dnssec::rrset_diff::{is_denial, same_content, RrsetChange, ZoneDiff};
use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_dnssec::name::{in_zone, CanonicalName};
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::wire::name_from_wire;
use frostzone_dnssec::zone::Rrset;
use frostzone_dnssec::StoredName;
use frostzone_proto::v1::{ProposeHeader, RrsetRef, SigningItem};

use crate::baseline::{BaselineState, Baselines};
use frostzone_dnssec::denial::check::ChainSource;
use crate::error::NodeError;
use frostzone_dnssec::name::ZoneName;
use crate::proposal::{check_content, conclude, new_record, reject, ProposeContext};
use crate::request_store::{RequestContent, RequestStore, RrsetChunks, StoredRequest};
use crate::prepared::Prepared;
use crate::rrset::{by_key, parse_rrsets, stored_rrsets, ParsedRrsets, StoredRrsetRef};
use crate::error::StoreError;


/// An incremental proposal for a baseline this signer does not hold.
#[derive(Debug, thiserror::Error)]
#[error(
    "baseline mismatch: this signer's baseline for {zone} is {}, the increment applies to {applies_to}",
    describe_ids(.baseline.as_deref(), .stale.as_deref())
)]
pub struct BaselineMismatch {
    /// The zone, normalized.
    pub zone: String,
    /// The request this signer's baseline reflects (`None`: nothing
    /// published yet).
    pub baseline: Option<String>,
    /// Why that baseline is stale, if it is.
    pub stale: Option<String>,
    /// The request the increment applies to.
    pub applies_to: String,
}

/// "request X", "none", or "request X (stale: ...)", for messages.
pub fn describe_baseline(state: Option<&BaselineState>) -> String {
    let state = state.filter(|s| s.has_content());
    let stale = state.filter(|s| s.is_stale()).map(|s| s.stale_reason.as_str());
    describe_ids(state.map(|s| s.request_id.as_str()), stale)
}

fn describe_ids(baseline: Option<&str>, stale: Option<&str>) -> String {
    match (baseline, stale) {
        (None, _) => "none".into(),
        (Some(id), Some(why)) => format!("request {id} (stale: {why})"),
        (Some(id), None) => format!("request {id}"),
    }
}

/// Whether an increment on `applies_to` may be evaluated against `state`:
/// only when the baseline is exactly that request's content.
pub fn check_baseline(zone: &str, state: Option<&BaselineState>, applies_to: &str) -> Result<(), BaselineMismatch> {
    match state {
        Some(s) if s.request_id == applies_to && !s.is_stale() => Ok(()),
        _ => Err(BaselineMismatch {
            zone: zone.to_string(),
            baseline: state.filter(|s| s.has_content()).map(|s| s.request_id.clone()),
            stale: state.filter(|s| s.is_stale()).map(|s| s.stale_reason.clone()),
            applies_to: applies_to.to_string(),
        }),
    }
}

/// "www.example. A", for messages.
fn describe_rrset(owner: &StoredName, rtype: u16) -> String {
    format!("{} {}", FqdnDisplay(owner), Rtype::from_int(rtype))
}

/// The removed RRsets by owner and type, with their index in `removed`.
type Removals = BTreeMap<(CanonicalName, u16), usize>;

/// Parses the header's removed RRsets: well-formed, inside the zone,
/// listed once, and not among the RRsets the items put.
fn parse_removals(removed: &[RrsetRef], apex: &StoredName, puts: &ParsedRrsets) -> Result<Removals, String> {
    let mut out = Removals::new();
    for (i, r) in removed.iter().enumerate() {
        let owner = name_from_wire(&r.owner, "owner").map_err(|e| format!("removed RRset {i}: {e}"))?;
        let rtype =
            u16::try_from(r.rtype).map_err(|_| format!("removed RRset {i}: type {} is out of range", r.rtype))?;
        let what = describe_rrset(&owner, rtype);
        if !in_zone(&owner, apex) {
            return Err(format!("removed RRset {i} ({what}) is outside the zone {}", FqdnDisplay(apex)));
        }
        let key = (CanonicalName(owner), rtype);
        if puts.contains_key(&key) {
            return Err(format!("removed RRset {i} ({what}) is also among the items"));
        }
        if out.insert(key, i).is_some() {
            return Err(format!("removed RRset {i} ({what}) is listed twice"));
        }
    }
    Ok(out)
}

/// Why an increment cannot be compared with the baseline.
enum DiffError {
    /// The increment does not fit the baseline: the request is rejected.
    Refused(String),
    /// The store failed.
    Store(NodeError),
}

/// Whether a set of types holds a non-denial one: what makes a name exist
/// for the change summary.
fn has_content(types: &BTreeSet<u16>) -> bool {
    types.iter().any(|t| !is_denial(Rtype::from_int(*t)))
}

/// The increment's difference from the baseline, by lookups of the RRsets
/// it touches and one prefix scan per owner name it touches.
fn increment_diff<S: ChainSource>(
    view: &S,
    zone: &str,
    baseline_id: &str,
    puts: &ParsedRrsets,
    removals: &Removals,
) -> Result<ZoneDiff, DiffError>
where
    NodeError: From<S::Error>,
{
    let store = |e: S::Error| DiffError::Store(NodeError::from(e));
    let mut changes: BTreeMap<(CanonicalName, u16), RrsetChange> = BTreeMap::new();
    // Per owner touched: the types put and the types removed.
    let mut owners: BTreeMap<CanonicalName, (BTreeSet<u16>, BTreeSet<u16>)> = BTreeMap::new();
    for (key, (_, rrset)) in puts {
        owners.entry(key.0.clone()).or_default().0.insert(key.1);
        match view.rrset(&rrset.owner, Rtype::from_int(key.1)).map_err(store)? {
            None => {
                changes.insert(key.clone(), RrsetChange::Added(rrset.clone()));
            }
            Some(old) if same_content(&old, rrset) => {}
            Some(old) => {
                changes.insert(key.clone(), RrsetChange::Changed { old: Box::new(old), new: rrset.clone() });
            }
        }
    }
    for (key, i) in removals {
        owners.entry(key.0.clone()).or_default().1.insert(key.1);
        let Some(old) = view.rrset(key.0.name(), Rtype::from_int(key.1)).map_err(store)? else {
            return Err(DiffError::Refused(format!(
                "removed RRset {i} ({}) is not in this signer's baseline for {zone} (request {baseline_id})",
                describe_rrset(key.0.name(), key.1)
            )));
        };
        changes.insert(key.clone(), RrsetChange::Removed(old));
    }
    let (mut names_added, mut names_removed) = (Vec::new(), Vec::new());
    for (owner, (put, removed)) in owners {
        let before: BTreeSet<u16> = view.types(owner.name()).map_err(store)?.into_iter().map(|t| t.to_int()).collect();
        let after: BTreeSet<u16> = before.difference(&removed).chain(&put).copied().collect();
        match (has_content(&before), has_content(&after)) {
            (false, true) => names_added.push(owner.0),
            (true, false) => names_removed.push(owner.0),
            _ => {}
        }
    }
    Ok(ZoneDiff { changes: changes.into_values().collect(), names_added, names_removed })
}

/// Evaluates an incremental proposal against `view`, the zone's baseline,
/// which the caller checked is `header.baseline_request_id`'s content
/// ([`check_baseline`]); `whole` reads every RRset of it, for a denial
/// check that must see the whole version ([`crate::denial`]). `zone` is
/// the header's, normalized.
pub fn evaluate_incremental<S: ChainSource>(
    header: &ProposeHeader,
    zone: &str,
    items: &[SigningItem],
    ctx: &ProposeContext,
    view: &S,
    whole: impl FnOnce() -> Result<Vec<Rrset>, NodeError>,
) -> Result<(StoredRequest, RequestContent), NodeError>
where
    NodeError: From<S::Error>,
{
    let (hash, digests) = check_content(header, items)?;
    let mut record = new_record(header, zone, items, hash, ctx);
    let mut content = RequestContent { digests, ..RequestContent::default() };
    let apex = ZoneName::parse(zone).map_err(|e| NodeError::field("zone", e))?.into_apex();
    let refused = |record: &mut StoredRequest, reason: String| reject(record, reason, ctx.now);
    let puts = match parse_rrsets(items, &apex) {
        Ok(puts) => by_key(puts),
        Err(reason) => {
            refused(&mut record, reason);
            return Ok((record, content));
        }
    };
    let removals = match parse_removals(&header.removed, &apex, &puts) {
        Ok(removals) => removals,
        Err(reason) => {
            refused(&mut record, reason);
            return Ok((record, content));
        }
    };
    let diff = match increment_diff(view, zone, &header.baseline_request_id, &puts, &removals) {
        Ok(diff) => diff,
        // Not stored: should the others publish it, this signer's
        // baseline cannot take its delta and goes stale (resync in full).
        Err(DiffError::Refused(reason)) => {
            refused(&mut record, reason);
            return Ok((record, content));
        }
        Err(DiffError::Store(e)) => return Err(e),
    };
    let started = std::time::Instant::now();
    let denial = if ctx.check_denial {
        crate::denial::check_increment(&apex, view, &puts, removals.keys().cloned(), items, &ctx.policy, whole)?
    } else {
        Ok(())
    };
    content.denial_checked_in = Some(started.elapsed());
    content.rrsets = RrsetChunks::encode(stored_rrsets(items, puts.values().map(|(i, _)| *i)));
    content.removed = removals
        .values()
        .map(|i| StoredRrsetRef { owner: header.removed[*i].owner.clone(), rtype: header.removed[*i].rtype })
        .collect();
    record.content_stored = true;
    conclude(&mut record, &mut content, &diff, false, items, ctx, denial);
    Ok((record, content))
}

/// What a Published call does to the zone's baseline.
pub struct BaselineUpdate {
    /// The baseline update to apply with the record, batch by batch
    /// (none: nothing to do).
    pub batches: Vec<sled::Batch>,
    /// The outcome, for the log and the audit entry.
    pub outcome: String,
}

/// The baseline update for `record`'s publication (see the module
/// documentation): a full request replaces the baseline; an increment is
/// applied if the baseline is still the one it applies to, and otherwise
/// leaves the baseline stale, as does a request whose content is no longer
/// stored. A full request's replacement `prepared` while it was signed
/// ([`crate::staging`]) is used if the baseline is still the one it was
/// worked out on. The caller holds the decision lock, so the baseline does
/// not move meanwhile.
pub fn publication(
    requests: &RequestStore,
    record: &StoredRequest,
    detail: &str,
    now: u64,
    prepared: Option<Prepared>,
) -> Result<BaselineUpdate, StoreError> {
    let (zone, id) = (record.zone.as_str(), record.id.as_str());
    let baselines = requests.baselines();
    let state = baselines.state(zone)?;
    let applied = format!("published ({detail}); now the baseline of {zone}");
    // Worked out while the request was signed (crate::staging), on this
    // very state or not at all.
    let use_prepared = |prepared: Prepared| {
        (prepared.base == state).then(|| BaselineUpdate {
            batches: Baselines::replacement_batches(zone, &BaselineState::of(id, now), prepared.replacement),
            outcome: format!("{applied} (prepared)"),
        })
    };
    if let Some(s) = &state {
        // The batch went in before a crash cut the last call short.
        if s.request_id == id && !s.is_stale() {
            return Ok(BaselineUpdate { batches: Vec::new(), outcome: applied });
        }
        if s.stale_since == id {
            return Ok(BaselineUpdate { batches: Vec::new(), outcome: format!("published ({detail}); baseline left stale: {}", s.stale_reason) });
        }
    }
    let why_stale = if !record.content_stored {
        format!("request {id} was published after its content was pruned")
    } else if !record.incremental {
        let has_content = state.as_ref().is_some_and(|s| s.has_content());
        if !has_content && baselines.staged(zone)?.as_deref() == Some(id) {
            // Written while the request was signed (crate::staging).
            let batch = Baselines::adopt_staged_batch(zone, &BaselineState::of(id, now));
            return Ok(BaselineUpdate { batches: vec![batch], outcome: format!("{applied} (staged)") });
        }
        if let Some(update) = prepared.and_then(use_prepared) {
            return Ok(update);
        }
        let rrsets = requests.rrsets(id)?;
        let batches = baselines.replace_batches(zone, &BaselineState::of(id, now), rrsets)?;
        return Ok(BaselineUpdate { batches, outcome: applied });
    } else if check_baseline(zone, state.as_ref(), &record.baseline_request_id).is_ok() {
        if let Some(update) = prepared.and_then(use_prepared) {
            return Ok(update);
        }
        let (puts, removed) = requests.delta(id)?;
        let batch = Baselines::delta_batch(zone, &BaselineState::of(id, now), &puts, &removed)?;
        return Ok(BaselineUpdate { batches: vec![batch], outcome: applied });
    } else {
        format!(
            "request {id} was published as an increment on request {}, but the baseline was {}",
            record.baseline_request_id,
            describe_baseline(state.as_ref())
        )
    };
    tracing::warn!(
        request = %id,
        %zone,
        "baseline of {zone} left stale: {why_stale}; incremental proposals are refused until a full one is published"
    );
    let outcome = format!("published ({detail}); baseline left stale: {why_stale}");
    // Without a baseline there is nothing to mark: every increment is
    // refused anyway.
    let batch = state.filter(|s| s.has_content()).map(|s| {
        let stale = BaselineState { stale_since: id.to_string(), stale_reason: why_stale, updated_unix: now, ..s };
        Baselines::state_batch(zone, &stale)
    });
    Ok(BaselineUpdate { batches: batch.into_iter().collect(), outcome })
}
