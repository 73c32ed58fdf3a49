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
//! * the denial chain (RFC 5155 §7.1): the NSEC3 records of those names
//!   and of their ancestors (empty non-terminals appear and disappear),
//!   and the NSEC3 records before each one added or removed, whose next
//!   hashed owner changes.
//!
//! Those names become a [`ZonePatch`] of the published zone; every
//! signed RRset in it keeps its signatures when its content did not change
//! and they are not due ([`RefreshPolicy::keeps`]), and is planned for
//! signing otherwise. The result is what [`SigningPlan::prepare`] makes
//! from the whole next version, except for signature times and bytes.
//!
//! What this does not patch ([`prepare_update`] returns `None`, and the
//! caller signs the whole version): NSEC chains, a denial whose
//! parameters or TTL change, and inputs that carry DNSSEC records.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use domain::base::iana::{Nsec3HashAlgorithm, Rtype};
use domain::rdata::dnssec::Timestamp;
use domain::rdata::nsec3::OwnerHash;
use domain::rdata::{Nsec3, ZoneRecordData};

use crate::change_set::ZoneContent;
use crate::denial::nsec3::{owner_hash, FLAG_OPT_OUT};
use crate::rrset_diff::same_content;
use crate::denial::{type_bitmap, Denial, DenialError, Nsec3Config};
use crate::keys::ZoneKey;
use crate::name::{ancestors_below, CanonicalName};
use crate::zone_patch::{ZonePatch, ZoneView};
use super::refresh::RefreshPolicy;
use super::plan::{check_keys, publish_keys_at, read_zone, signatures_wanted, SharedZone, SigningError, SigningItem, SigningPlan, SigningPolicy};
use super::rrsig::signed_data;
use crate::zone::{denial_ttl_of, NameRole, Node, Rdata, Rrset, Zone, GENERATED_TYPES};
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
    let Denial::Nsec3(config) = &policy.denial else { return Ok(None) };
    if touched.iter().any(|(_, t)| GENERATED_TYPES.contains(t)) {
        return Ok(None);
    }
    let patched = {
        let zone = read_zone(&base);
        plan_patch(&zone, base_signatures, next, touched, due, keys, policy, config, now, refresh)?
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
    config: &Nsec3Config,
    now: u32,
    refresh: &RefreshPolicy,
) -> Result<Option<Patched>, SigningError> {
    let apex = zone.apex().clone();
    let apex_key = CanonicalName(apex.clone());
    let published_param = zone.node(&apex).and_then(|n| n.get(Rtype::NSEC3PARAM)).and_then(|s| s.rdata.first());
    let wanted_param = Rdata::new(ZoneRecordData::Nsec3param(config.nsec3param()));
    if published_param.is_none_or(|p| p.canonical != wanted_param.canonical) || chain_opt_out(zone) != Some(config.opt_out) {
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
    // 3. The NSEC3 records of the names reached and of their ancestors.
    let mut scope: BTreeSet<CanonicalName> = BTreeSet::new();
    for (name, _) in patch.iter() {
        scope.insert(name.clone());
        scope.extend(ancestors_below(&name.0, &apex).into_iter().map(CanonicalName));
    }
    let ttl = zone.denial_ttl();
    let flags = if config.opt_out { FLAG_OPT_OUT } else { 0 };
    let mut moved: Vec<CanonicalName> = Vec::new();
    let mut seen_hashes: BTreeMap<Vec<u8>, CanonicalName> = BTreeMap::new();
    for name in &scope {
        let (hashed, wanted, existing) = {
            let view = ZoneView::new(zone, &patch);
            let hash = config.hash(&name.0)?;
            if let Some(other) = seen_hashes.insert(hash.clone(), name.clone()) {
                return Err(DenialError::HashCollision { first: other.to_string(), second: name.to_string() }.into());
            }
            let hashed = CanonicalName(Nsec3Config::hashed_owner(&hash, &apex)?);
            let wanted = member_role(&view, name, config).map(|role| type_bitmap(view.node(name), role, None));
            let existing = view.rrset(&hashed.0, Rtype::NSEC3).and_then(|s| match s.rdata.first().map(|r| &r.data) {
                Some(ZoneRecordData::Nsec3(n)) => Some(n.clone()),
                _ => None,
            });
            (hashed, wanted, existing)
        };
        match (wanted, existing) {
            (Some(bitmap), Some(old)) if old.types() == &bitmap && old.flags() == flags => {}
            (Some(bitmap), old) => {
                let next_owner = match old.as_ref() {
                    Some(o) => o.next_owner().clone(),
                    None => placeholder(&hashed)?,
                };
                let data = Nsec3::new(Nsec3HashAlgorithm::SHA1, flags, config.iterations, config.nsec3param().salt().clone(), next_owner, bitmap);
                let rrset = Rrset::new(hashed.0.clone(), Rtype::NSEC3, ttl, vec![Rdata::new(ZoneRecordData::Nsec3(data))]);
                patch.node_mut(zone, &hashed).rrsets.insert(Rtype::NSEC3.to_int(), rrset);
                if old.is_none() {
                    moved.push(hashed);
                }
            }
            (None, Some(_)) => {
                patch.node_mut(zone, &hashed).rrsets.remove(&Rtype::NSEC3.to_int());
                moved.push(hashed);
            }
            (None, None) => {}
        }
    }
    // 4. The chain closed again: added records and the records before
    // each added or removed one get their next hashed owner.
    let relink: BTreeSet<CanonicalName> = {
        let view = ZoneView::new(zone, &patch);
        let mut relink = BTreeSet::new();
        for hashed in &moved {
            if view.rrset(&hashed.0, Rtype::NSEC3).is_some() {
                relink.insert(hashed.clone());
            }
            if let Some(prev) = previous_nsec3(&view, hashed) {
                relink.insert(prev);
            }
        }
        relink
    };
    for owner in relink {
        let next_hash = {
            let view = ZoneView::new(zone, &patch);
            following_nsec3(&view, &owner).and_then(|n| owner_hash(&n.0))
        };
        let Some(next_hash) = next_hash else { continue };
        let node = patch.node_mut(zone, &owner);
        let Some(set) = node.rrsets.get_mut(&Rtype::NSEC3.to_int()) else { continue };
        let Some(ZoneRecordData::Nsec3(old)) = set.rdata.first().map(|r| r.data.clone()) else { continue };
        if old.next_owner().as_slice() == next_hash.as_slice() {
            continue;
        }
        let next_owner = OwnerHash::from_octets(Bytes::from(next_hash))
            .map_err(|e| DenialError::Hash { name: owner.to_string(), reason: e.to_string() })?;
        let data = Nsec3::new(old.hash_algorithm(), old.flags(), old.iterations(), old.salt().clone(), next_owner, old.types().clone());
        *set = Rrset::new(owner.0.clone(), Rtype::NSEC3, set.ttl, vec![Rdata::new(ZoneRecordData::Nsec3(data))]);
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
                        None => {
                            let signed_data = signed_data(&fields, rrset);
                            items.push(SigningItem { owner: rrset.owner.clone(), key_tag: key.key_tag(), rrset: rrset.clone(), rrsig: fields, signed_data });
                        }
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

/// Whether the published chain uses opt-out (`None`: no NSEC3 record).
fn chain_opt_out(zone: &Zone) -> Option<bool> {
    let apex = CanonicalName(zone.apex().clone());
    let first = std::iter::once((&apex, zone.node(zone.apex())?))
        .chain(zone.nodes_range((std::ops::Bound::Excluded(&apex), std::ops::Bound::Unbounded)))
        .find_map(|(_, n)| n.get(Rtype::NSEC3))?;
    match &first.rdata.first()?.data {
        ZoneRecordData::Nsec3(n) => Some(n.flags() & FLAG_OPT_OUT != 0),
        _ => None,
    }
}

/// The role `name` has in the NSEC3 chain of the next version, if it is
/// in it: exactly as [`crate::denial::nsec3::chain_members`] decides for
/// a whole zone (RFC 5155 §7.1; opt-out leaves insecure delegations out).
fn member_role(view: &ZoneView<'_>, name: &CanonicalName, config: &Nsec3Config) -> Option<NameRole> {
    let include = |role: NameRole| crate::denial::nsec3::in_chain(role, config.opt_out);
    let only_nsec3 = |n: &Node| n.types().all(|t| t == Rtype::NSEC3);
    match view.node(name) {
        Some(n) if only_nsec3(n) => None,
        Some(_) => Some(view.role(name)).filter(|r| include(*r)),
        None => view
            .descendants(name)
            .any(|(d, n)| !only_nsec3(n) && include(view.role(d)))
            .then_some(NameRole::Authoritative),
    }
}

/// A next hashed owner to fill in before the chain is linked (its own).
fn placeholder(hashed: &CanonicalName) -> Result<OwnerHash<Bytes>, DenialError> {
    let hash = owner_hash(&hashed.0).unwrap_or_default();
    OwnerHash::from_octets(Bytes::from(hash)).map_err(|e| DenialError::Hash { name: hashed.to_string(), reason: e.to_string() })
}

/// The NSEC3 owner before `owner` in the next version, wrapping to the last.
fn previous_nsec3(view: &ZoneView<'_>, owner: &CanonicalName) -> Option<CanonicalName> {
    let has = |n: &Node| n.get(Rtype::NSEC3).is_some();
    view.before(owner).find(|(_, n)| has(n)).or_else(|| view.iter_rev().find(|(_, n)| has(n))).map(|(k, _)| k.clone())
}

/// The NSEC3 owner after `owner` in the next version, wrapping to the first.
fn following_nsec3(view: &ZoneView<'_>, owner: &CanonicalName) -> Option<CanonicalName> {
    let has = |n: &Node| n.get(Rtype::NSEC3).is_some();
    view.after(owner).find(|(_, n)| has(n)).or_else(|| view.iter().find(|(_, n)| has(n))).map(|(k, _)| k.clone())
}
