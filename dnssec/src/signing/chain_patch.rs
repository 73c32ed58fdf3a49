//! The denial chain of a patched zone, put right where the patch reaches
//! it: steps 3 and 4 of [`super::incremental`]. Both chains are patched
//! the same way: the denial record of every name the patch reaches is
//! made again from the name's next data (put, changed or removed), then
//! every record that joins the chain and the record before each one that
//! joins or leaves it get their next owner again, so the chain stays
//! closed.
//!
//! * NSEC (RFC 4034 §4, RFC 4035 §2.3): a record at every name with
//!   authoritative data or a delegation, none below a cut, none at empty
//!   non-terminals; the next owner is the following such name, the last
//!   pointing back at the apex.
//! * NSEC3 (RFC 5155 §7.1): a record at the hash of every such name and
//!   of every empty non-terminal above one (opt-out leaves insecure
//!   delegations out), so the ancestors of the names reached are in
//!   scope too.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use domain::base::iana::{Nsec3HashAlgorithm, Rtype};
use domain::rdata::nsec3::OwnerHash;
use domain::rdata::{Nsec, Nsec3, ZoneRecordData};

use crate::denial::nsec::nsec_rrset;
use crate::denial::nsec3::{owner_hash, FLAG_OPT_OUT};
use crate::denial::{type_bitmap, DenialError, Nsec3Config};
use crate::name::{ancestors_below, CanonicalName};
use crate::zone::{NameRole, Node, Rdata, Rrset, Zone};
use crate::zone_patch::{ZonePatch, ZoneView};

use super::plan::SigningError;

/// The NSEC records of the names in `patch`, and the links to and from
/// every name that joins or leaves the chain.
pub(super) fn patch_nsec_chain(zone: &Zone, patch: &mut ZonePatch) {
    let ttl = zone.denial_ttl();
    let names: Vec<CanonicalName> = patch.iter().map(|(name, _)| name.clone()).collect();
    let mut moved: Vec<CanonicalName> = Vec::new();
    for name in &names {
        let (wanted, existing) = {
            let view = ZoneView::new(zone, patch);
            let node = view.node(name);
            let role = view.role(name);
            let has_data = node.is_some_and(|n| n.types().any(|t| t != Rtype::NSEC));
            let wanted = (has_data && role != NameRole::Occluded).then(|| type_bitmap(node, role, Some(Rtype::NSEC)));
            (wanted, nsec_at(&view, name))
        };
        match (wanted, existing) {
            (Some(bitmap), Some(old)) if old.types() == &bitmap => {}
            (Some(bitmap), old) => {
                // A new member points at itself until it is linked below.
                let next = old.as_ref().map_or_else(|| name.0.clone(), |o| o.next_name().clone());
                let rrset = nsec_rrset(&name.0, &next, bitmap, ttl);
                patch.node_mut(zone, name).rrsets.insert(Rtype::NSEC.to_int(), rrset);
                if old.is_none() {
                    moved.push(name.clone());
                }
            }
            (None, Some(_)) => {
                let node = patch.node_mut(zone, name);
                node.rrsets.remove(&Rtype::NSEC.to_int());
                if node.rrsets.is_empty() {
                    node.signatures.clear();
                }
                moved.push(name.clone());
            }
            (None, None) => {}
        }
    }
    for owner in relink_set(zone, patch, &moved, Rtype::NSEC) {
        let next = {
            let view = ZoneView::new(zone, patch);
            following_with(&view, &owner, Rtype::NSEC)
        };
        let Some(next) = next else { continue };
        let node = patch.node_mut(zone, &owner);
        let Some(set) = node.rrsets.get_mut(&Rtype::NSEC.to_int()) else { continue };
        let Some(ZoneRecordData::Nsec(old)) = set.rdata.first().map(|r| r.data()) else { continue };
        if old.next_name() == &next.0 {
            continue;
        }
        let data = Nsec::new(next.0, old.types().clone());
        *set = Rrset::new(owner.0.clone(), Rtype::NSEC, set.ttl, vec![Rdata::new(ZoneRecordData::Nsec(data))]);
    }
}

/// The NSEC3 records of the names in `patch` and of their ancestors, and
/// the links to and from every record added or removed.
pub(super) fn patch_nsec3_chain(zone: &Zone, patch: &mut ZonePatch, config: &Nsec3Config) -> Result<(), SigningError> {
    let apex = zone.apex().clone();
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
            let view = ZoneView::new(zone, patch);
            let hash = config.hash(&name.0)?;
            if let Some(other) = seen_hashes.insert(hash.clone(), name.clone()) {
                return Err(DenialError::HashCollision { first: other.to_string(), second: name.to_string() }.into());
            }
            let hashed = CanonicalName(Nsec3Config::hashed_owner(&hash, &apex)?);
            let wanted = member_role(&view, name, config).map(|role| type_bitmap(view.node(name), role, None));
            let existing = view.rrset(&hashed.0, Rtype::NSEC3).and_then(|s| match s.rdata.first().map(|r| r.data()) {
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
    for owner in relink_set(zone, patch, &moved, Rtype::NSEC3) {
        let next_hash = {
            let view = ZoneView::new(zone, patch);
            following_with(&view, &owner, Rtype::NSEC3).and_then(|n| owner_hash(&n.0))
        };
        let Some(next_hash) = next_hash else { continue };
        let node = patch.node_mut(zone, &owner);
        let Some(set) = node.rrsets.get_mut(&Rtype::NSEC3.to_int()) else { continue };
        let Some(ZoneRecordData::Nsec3(old)) = set.rdata.first().map(|r| r.data()) else { continue };
        if old.next_owner().as_slice() == next_hash.as_slice() {
            continue;
        }
        let next_owner = OwnerHash::from_octets(Bytes::from(next_hash))
            .map_err(|e| DenialError::Hash { name: owner.to_string(), reason: e.to_string() })?;
        let data = Nsec3::new(old.hash_algorithm(), old.flags(), old.iterations(), old.salt().clone(), next_owner, old.types().clone());
        *set = Rrset::new(owner.0.clone(), Rtype::NSEC3, set.ttl, vec![Rdata::new(ZoneRecordData::Nsec3(data))]);
    }
    Ok(())
}

/// The NSEC record at `name` in the next version.
fn nsec_at(view: &ZoneView<'_>, name: &CanonicalName) -> Option<Nsec<Bytes, crate::StoredName>> {
    match view.rrset(&name.0, Rtype::NSEC)?.rdata.first()?.data() {
        ZoneRecordData::Nsec(n) => Some(n),
        _ => None,
    }
}

/// The records whose next owner is decided again: those that joined the
/// chain (`moved` and still there) and the one before every record that
/// joined or left it.
fn relink_set(zone: &Zone, patch: &ZonePatch, moved: &[CanonicalName], rtype: Rtype) -> BTreeSet<CanonicalName> {
    let view = ZoneView::new(zone, patch);
    let mut relink = BTreeSet::new();
    for owner in moved {
        if view.rrset(&owner.0, rtype).is_some() {
            relink.insert(owner.clone());
        }
        if let Some(prev) = previous_with(&view, owner, rtype) {
            relink.insert(prev);
        }
    }
    relink
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

/// The owner of an `rtype` record before `owner` in the next version,
/// wrapping to the last.
fn previous_with(view: &ZoneView<'_>, owner: &CanonicalName, rtype: Rtype) -> Option<CanonicalName> {
    let has = |n: &Node| n.get(rtype).is_some();
    view.before(owner).find(|(_, n)| has(n)).or_else(|| view.iter_rev().find(|(_, n)| has(n))).map(|(k, _)| k.clone())
}

/// The owner of an `rtype` record after `owner` in the next version,
/// wrapping to the first.
fn following_with(view: &ZoneView<'_>, owner: &CanonicalName, rtype: Rtype) -> Option<CanonicalName> {
    let has = |n: &Node| n.get(rtype).is_some();
    view.after(owner).find(|(_, n)| has(n)).or_else(|| view.iter().find(|(_, n)| has(n))).map(|(k, _)| k.clone())
}
