//! The incremental signing plan: the next version of a signed zone from the
//! unsigned records that changed, looking only at the names a change
//! reaches, never at the whole zone.
//!
//! A change to the records of some names reaches:
//!
//! * those names: their RRsets are rebuilt from the next unsigned content;
//! * the apex: the SOA changes with every version, and the DNSKEY RRset
//!   (and CDS/CDNSKEY) is put in place as a whole signing would;
//! * every name below a name that gains or loses NS or DNAME: its role
//!   changes (RFC 4035 §2.2, RFC 6672 §2.3);
//! * the denial chain ([`super::chain_patch`]): the NSEC records of those
//!   names (RFC 4034 §4), or the NSEC3 records of those names and of their
//!   ancestors (RFC 5155 §7.1: empty non-terminals appear and disappear),
//!   and the record before each one added or removed, whose next owner
//!   changes.
//!
//! Those names become a [`ZonePatch`] of the published zone; every
//! signed RRset in it keeps its signatures when its content did not change
//! and they are not due ([`RefreshPolicy::keeps`]), and is planned for
//! signing otherwise. The result is what [`SigningPlan::prepare`] makes
//! from the whole next version, except for signature times and bytes.
//!
//! What this does not patch ([`prepare_update`] returns `None`, and the
//! caller signs the whole version): a switch between NSEC and NSEC3, a
//! denial whose parameters or TTL change, and inputs that carry DNSSEC
//! records.

use std::collections::{BTreeMap, BTreeSet};

use domain::base::iana::Rtype;
use domain::rdata::dnssec::Timestamp;
use domain::rdata::ZoneRecordData;

use crate::change_set::ZoneContent;
use crate::denial::nsec3::FLAG_OPT_OUT;
use crate::rrset_diff::same_content;
use crate::denial::Denial;
use crate::keys::ZoneKey;
use crate::name::CanonicalName;
use crate::zone_patch::{ZonePatch, ZoneView};
use super::chain_patch::{patch_nsec3_chain, patch_nsec_chain};
use super::refresh::RefreshPolicy;
use super::plan::{check_keys, publish_keys_at, read_zone, signatures_wanted, SharedZone, SigningError, SigningItem, SigningPlan, SigningPolicy};
use crate::zone::{denial_ttl_of, Node, Rdata, Rrset, Zone, GENERATED_TYPES};
use crate::StoredName;

/// Plans the next version of the published zone `base` whose unsigned
/// content is `next`, the records of `touched` (owner, type) having
/// changed. `None` when the change cannot be patched (see the module
/// documentation): sign the whole version instead. `base_signatures` is
/// the number of RRSIGs in `base` (kept with the published version, so
/// that a one-RRset diff does not count the zone's). `due` names whose
/// content did not change but whose signatures are decided again
/// ([`RefreshPolicy::due_owners`]): a refresh of k due signatures is a
/// patch of their k names, not the whole zone signed again.
#[allow(clippy::too_many_arguments)]
pub fn prepare_update(
    base: SharedZone,
    base_signatures: usize,
    next: &ZoneContent,
    touched: &[(StoredName, Rtype)],
    due: &[CanonicalName],
    keys: &[ZoneKey],
    policy: &SigningPolicy,
    now: u32,
    refresh: &RefreshPolicy,
) -> Result<Option<SigningPlan>, SigningError> {
    check_keys(keys)?;
    if policy.validity <= policy.inception_offset / 2 {
        return Err(SigningError::Validity(policy.validity));
    }
    if touched.iter().any(|(_, t)| GENERATED_TYPES.contains(t)) {
        return Ok(None);
    }
    let patched = {
        let zone = read_zone(&base);
        plan_patch(&zone, base_signatures, next, touched, due, keys, policy, now, refresh)?
    };
    Ok(patched.map(|(patch, items, reused)| SigningPlan::update(base, patch, items, reused)))
}

type Patched = (ZonePatch, Vec<SigningItem>, usize);

#[allow(clippy::too_many_arguments)]
fn plan_patch(
    zone: &Zone,
    base_signatures: usize,
    next: &ZoneContent,
    touched: &[(StoredName, Rtype)],
    due: &[CanonicalName],
    keys: &[ZoneKey],
    policy: &SigningPolicy,
    now: u32,
    refresh: &RefreshPolicy,
) -> Result<Option<Patched>, SigningError> {
    let apex = zone.apex().clone();
    let apex_key = CanonicalName(apex.clone());
    if !same_denial(zone, &policy.denial) {
        return Ok(None);
    }
    let mut patch = ZonePatch::default();
    // 1. The changed names' RRsets, from the next unsigned content.
    let mut by_owner: BTreeMap<CanonicalName, BTreeSet<u16>> = BTreeMap::new();
    by_owner.entry(apex_key.clone()).or_default().insert(Rtype::SOA.to_int());
    for (owner, rtype) in touched {
        by_owner.entry(CanonicalName(owner.clone())).or_default().insert(rtype.to_int());
    }
    for (owner, types) in &by_owner {
        let node = patch.node_mut(zone, owner);
        for t in types {
            match rrset_of(next, &owner.0, Rtype::from_int(*t)) {
                Some(rrset) => node.rrsets.insert(*t, rrset),
                None => node.rrsets.remove(t),
            };
        }
        if node.rrsets.is_empty() {
            // The name is gone; its signatures are decided below.
            node.signatures.clear();
        }
    }
    // Names with due signatures enter the patch as they are: step 5
    // decides their signatures again, and nothing else about them changes.
    for owner in due {
        if zone.node(&owner.0).is_some() {
            patch.node_mut(zone, owner);
        }
    }
    publish_keys_at(patch.node_mut(zone, &apex_key), &apex, keys, policy);
    if denial_ttl_of(ZoneView::new(zone, &patch).rrset(&apex, Rtype::SOA)) != Some(zone.denial_ttl()) {
        return Ok(None);
    }
    // 2. Names whose role changes under a new or removed cut.
    let cut_types = |n: Option<&Node>| n.is_some_and(|n| n.get(Rtype::NS).is_some() || n.get(Rtype::DNAME).is_some());
    let mut below: Vec<CanonicalName> = Vec::new();
    {
        let view = ZoneView::new(zone, &patch);
        for owner in by_owner.keys().filter(|o| **o != apex_key) {
            if cut_types(zone.node(&owner.0)) != cut_types(view.node(owner)) {
                let parent = owner.0.clone();
                below.extend(
                    zone.nodes_range((std::ops::Bound::Excluded(owner), std::ops::Bound::Unbounded))
                        .take_while(|(k, _)| k.0.ends_with(&parent))
                        .map(|(k, _)| k.clone()),
                );
            }
        }
    }
    for name in below {
        patch.node_mut(zone, &name);
    }
    // 3 and 4. The denial chain where the patch reaches it.
    match &policy.denial {
        Denial::Nsec3(config) => patch_nsec3_chain(zone, &mut patch, config)?,
        Denial::Nsec => patch_nsec_chain(zone, &mut patch),
    }
    patch.normalize();
    // 5. Signatures: kept where the RRset and its role did not change and
    // they are not due, planned otherwise.
    let inception = Timestamp::from(now.wrapping_sub(policy.inception_offset));
    let expiration = Timestamp::from(now.wrapping_add(policy.validity));
    let mut items = Vec::new();
    let mut decided = Vec::new();
    let mut dropped = 0usize;
    {
        let view = ZoneView::new(zone, &patch);
        for (owner, node) in patch.iter() {
            let old = zone.node(&owner.0);
            dropped += old.map_or(0, |n| n.signatures.len());
            let Some(node) = node else {
                decided.push((owner.clone(), Vec::new()));
                continue;
            };
            let role = view.role(owner);
            let mut kept = Vec::new();
            for rrset in node.rrsets.values().filter(|r| Zone::is_signed(role, r.rtype)) {
                let same = old.and_then(|o| o.get(rrset.rtype)).is_some_and(|o| same_content(o, rrset));
                for (key, fields) in signatures_wanted(rrset, keys, &apex, inception, expiration) {
                    let reusable = old
                        .filter(|_| same)
                        .and_then(|o| o.signatures.iter().find(|s| refresh.keeps(s, rrset, &fields, now)));
                    match reusable {
                        Some(sig) => kept.push(sig.clone()),
                        None => items.push(SigningItem { owner: rrset.owner.clone(), key_tag: key.key_tag(), rrsig: fields }),
                    }
                }
            }
            decided.push((owner.clone(), kept));
        }
    }
    debug_assert_eq!(base_signatures, zone.signature_count(), "the signature count kept with the version");
    let mut reused = base_signatures.saturating_sub(dropped);
    for (owner, kept) in decided {
        reused += kept.len();
        if patch.get(&owner).is_some_and(|n| n.is_some()) {
            patch.node_mut(zone, &owner).signatures = kept;
        }
    }
    patch.normalize();
    Ok(Some((patch, items, reused)))
}

/// The RRset `rtype` at `owner` in an unsigned content, as
/// [`Zone::from_records`] builds it (the lowest TTL, RFC 2181 §5.2).
fn rrset_of(content: &ZoneContent, owner: &StoredName, rtype: Rtype) -> Option<Rrset> {
    let records: Vec<_> = content.records_at(owner, rtype).collect();
    let first = records.first()?;
    let ttl = records.iter().map(|r| r.record.ttl()).min().unwrap_or(first.record.ttl());
    let mut rrset = Rrset::new(owner.clone(), rtype, ttl, records.iter().map(|r| Rdata::new(r.record.data().clone())).collect());
    rrset.location = Some(first.location.clone());
    Some(rrset)
}

/// Whether the published zone's chain is the one `denial` asks for, with
/// the same parameters: otherwise every denial record changes and the
/// whole version is signed.
fn same_denial(zone: &Zone, denial: &Denial) -> bool {
    let apex = zone.node(zone.apex());
    let published_param = apex.and_then(|n| n.get(Rtype::NSEC3PARAM)).and_then(|s| s.rdata.first());
    match denial {
        Denial::Nsec3(config) => {
            let wanted_param = Rdata::new(ZoneRecordData::Nsec3param(config.nsec3param()));
            published_param.is_some_and(|p| p.canonical == wanted_param.canonical) && chain_opt_out(zone) == Some(config.opt_out)
        }
        Denial::Nsec => published_param.is_none() && apex.is_some_and(|n| n.get(Rtype::NSEC).is_some()),
    }
}

/// Whether the published chain uses opt-out (`None`: no NSEC3 record).
fn chain_opt_out(zone: &Zone) -> Option<bool> {
    let apex = CanonicalName(zone.apex().clone());
    let first = std::iter::once((&apex, zone.node(zone.apex())?))
        .chain(zone.nodes_range((std::ops::Bound::Excluded(&apex), std::ops::Bound::Unbounded)))
        .find_map(|(_, n)| n.get(Rtype::NSEC3))?;
    match first.rdata.first()?.data() {
        ZoneRecordData::Nsec3(n) => Some(n.flags() & FLAG_OPT_OUT != 0),
        _ => None,
    }
}
