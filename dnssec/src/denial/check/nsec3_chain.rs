//! The NSEC3 chain of the next version where a change reaches it (RFC 5155
//! §7.1): the records of the names whose data changes and of their
//! ancestors, and the next hashed owner of the record before each record
//! that joins or leaves the chain.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use domain::base::iana::Rtype;
use domain::base::{ToName, Ttl};
use domain::rdata::ZoneRecordData;

use super::compare::{compare, refuse_extra};
use super::links::Links;
use super::source::ChainSource;
use super::view::{data_types, has_cut, own_role, Next};
use super::DenialFindings;
use crate::denial::nsec3::{in_chain, nsec3_rrset, zone_owner_hash};
use crate::denial::{type_bitmap_of, Nsec3Config};
use crate::rrset_diff::same_content;
use crate::name::{ancestors_below, CanonicalName};
use crate::name::FqdnDisplay;
use crate::zone::NameRole;
use crate::StoredName;

/// A name of the scope in both versions.
struct Entry {
    name: CanonicalName,
    /// Its NSEC3 owner (RFC 5155 §3).
    owner: CanonicalName,
    /// Its data types in the next version.
    data: BTreeSet<u16>,
    /// Its role in the next version.
    role: NameRole,
    /// Whether the next version's chain has it.
    member: bool,
    /// Whether the baseline's chain has it (its hash is there).
    was_member: bool,
}

fn hashed(config: &Nsec3Config, name: &StoredName, apex: &StoredName) -> Option<(Vec<u8>, CanonicalName)> {
    let hash = config.hash(name).ok()?;
    let owner = Nsec3Config::hashed_owner(&hash, apex).ok()?;
    Some((hash, CanonicalName(owner)))
}

pub(super) fn check<S: ChainSource>(
    next: &mut Next<'_, S>,
    config: &Nsec3Config,
    ttl: Ttl,
    findings: &mut DenialFindings,
) -> Result<(), S::Error> {
    let apex = next.apex;
    // The names whose data changes and their ancestors: empty
    // non-terminals appear and disappear with what is below them.
    let mut scope: BTreeSet<CanonicalName> = BTreeSet::new();
    for name in next.touched() {
        scope.extend(ancestors_below(&name.0, apex).into_iter().map(CanonicalName));
        scope.insert(name.clone());
    }
    let mut entries: BTreeMap<Vec<u8>, Entry> = BTreeMap::new();
    for name in &scope {
        let Some((hash, owner)) = hashed(config, &name.0, apex) else {
            findings.add(&name.0, Rtype::NSEC3, "cannot be hashed (RFC 5155 §5)");
            continue;
        };
        let data = next.data(name)?;
        let role = next.role(name)?;
        let was_member = next.base_rrset(&owner, Rtype::NSEC3)?.is_some();
        let member = if !data.is_empty() {
            in_chain(role, config.opt_out)
        } else {
            role != NameRole::Occluded && is_empty_non_terminal(next, name, was_member, config.opt_out)?
        };
        let base_data = next.base_data(name)?;
        if !base_data.is_empty() && in_chain(next.base_role(name)?, config.opt_out) != was_member {
            let problem = if was_member {
                format!("the baseline has this NSEC3 record, but {name} was not in its chain: a hash collision or an inconsistent baseline")
            } else {
                format!("the baseline has no NSEC3 record for {name}, which was in its chain: an inconsistent baseline")
            };
            findings.add(&owner.0, Rtype::NSEC3, problem);
        }
        if let Some(other) = entries.get(&hash) {
            findings.add(&owner.0, Rtype::NSEC3, format!("{name} and {} have the same hash: choose another salt (RFC 5155 §7.1)", other.name));
            continue;
        }
        entries.insert(hash, Entry { name: name.clone(), owner, data, role, member, was_member });
    }
    let links: Links<Vec<u8>> = Links {
        joining: entries.iter().filter(|(_, e)| e.member && !e.was_member).map(|(h, _)| h.clone()).collect(),
        leaving: entries.iter().filter(|(_, e)| !e.member && e.was_member).map(|(h, _)| h.clone()).collect(),
    };
    // NSEC3 owners whose record in the next version has been judged.
    let mut judged: BTreeSet<CanonicalName> = BTreeSet::new();
    for (hash, e) in &entries {
        judged.insert(e.owner.clone());
        let have = next.rrset(&e.owner, Rtype::NSEC3)?;
        if e.member {
            let Some(following) = links.successor(hash, |h| next.next_hash(h.map(Vec::as_slice)))? else { continue };
            let bitmap = type_bitmap_of(e.data.iter().map(|t| Rtype::from_int(*t)), e.role, None);
            match nsec3_rrset(apex, hash, &following, bitmap, config, ttl) {
                Ok(want) => compare(have.as_ref(), &want, &format!("for {}", e.name), findings),
                Err(err) => findings.add(&e.owner.0, Rtype::NSEC3, err.to_string()),
            }
        } else if let Some(have) = have {
            let why = match (&e.role, e.data.is_empty()) {
                (NameRole::Occluded, _) => format!("it is for {}, which is below a zone cut", e.name),
                (_, true) => format!("it is for {}, which has no data and no name below it in the chain", e.name),
                _ => format!("it is for {}, an insecure delegation, which opt-out leaves out (RFC 5155 §6)", e.name),
            };
            refuse_extra(&have, &why, findings);
        }
    }
    // The record before each one that joins or leaves links past it.
    for hash in links.joining.iter().chain(&links.leaving) {
        let Some(before) = links.predecessor(hash, |h| next.prev_hash(h.map(Vec::as_slice)))? else { continue };
        if entries.get(&before).is_some_and(|e| e.member) {
            continue;
        }
        let Ok(owner) = Nsec3Config::hashed_owner(&before, apex).map(CanonicalName) else { continue };
        if !judged.insert(owner.clone()) {
            continue;
        }
        let Some(old) = next.base_rrset(&owner, Rtype::NSEC3)? else {
            findings.add(&owner.0, Rtype::NSEC3, "the baseline lists this hash but has no NSEC3 record for it: an inconsistent baseline");
            continue;
        };
        let Some(ZoneRecordData::Nsec3(old)) = old.rdata.first().map(|r| r.data()) else {
            findings.add(&owner.0, Rtype::NSEC3, "the baseline's NSEC3 RRset here holds no NSEC3 record: an inconsistent baseline");
            continue;
        };
        let Some(following) = links.successor(&before, |h| next.next_hash(h.map(Vec::as_slice)))? else { continue };
        let entry = entries.get(hash).map_or(String::new(), |e| {
            let how = if e.member { "joins" } else { "leaves" };
            format!("(it precedes the record for {}, which {how} the chain)", e.name)
        });
        match nsec3_rrset(apex, &before, &following, old.types().clone(), config, ttl) {
            Ok(want) => compare(next.rrset(&owner, Rtype::NSEC3)?.as_ref(), &want, &entry, findings),
            Err(err) => findings.add(&owner.0, Rtype::NSEC3, err.to_string()),
        }
    }
    account(next, &judged, findings)
}

/// Every NSEC3 put or removal is one judged above, or a put of unchanged
/// content (a re-signing).
fn account<S: ChainSource>(next: &mut Next<'_, S>, judged: &BTreeSet<CanonicalName>, findings: &mut DenialFindings) -> Result<(), S::Error> {
    let apex = next.apex;
    let change = next.change;
    for ((owner, rtype), put) in &change.puts {
        if *rtype == Rtype::NSEC.to_int() {
            findings.add(&owner.0, Rtype::NSEC, "NSEC record in a zone that uses NSEC3 (NSEC3PARAM at the apex): a zone has one kind of chain");
            continue;
        }
        if *rtype != Rtype::NSEC3.to_int() || judged.contains(owner) {
            continue;
        }
        if zone_owner_hash(&owner.0, apex).is_none() {
            findings.add(&owner.0, Rtype::NSEC3, format!(
                "owner is not a base32hex SHA-1 hash directly below the apex {} (RFC 5155 §3)",
                FqdnDisplay(apex)
            ));
            continue;
        }
        if next.base_rrset(owner, Rtype::NSEC3)?.is_some_and(|old| same_content(&old, put)) {
            continue;
        }
        findings.add(&owner.0, Rtype::NSEC3, "changes, but no name the change touches needs it: it is not the record of a name whose data changes, of an ancestor of one, or of the one before a record that joins or leaves the chain");
    }
    for (owner, rtype) in &change.removed {
        if *rtype == Rtype::NSEC3.to_int() && !judged.contains(owner) {
            findings.add(&owner.0, Rtype::NSEC3, "removed, but no name the change touches leaves the chain: the name it is for still needs it");
        }
    }
    Ok(())
}

/// Whether `name`, without data in the next version, is an empty
/// non-terminal of its chain: a name below it with data is in the chain
/// (RFC 5155 §7.1; with opt-out, insecure delegations do not count).
/// `was_member`: whether the baseline's chain had it.
///
/// Answered from the change where it can be: a name below that the change
/// puts into the chain settles it; a name the baseline had as an empty
/// non-terminal stays one unless the change takes out a member below it.
/// Otherwise the baseline's names below are read until one in the chain.
fn is_empty_non_terminal<S: ChainSource>(
    next: &mut Next<'_, S>,
    name: &CanonicalName,
    was_member: bool,
    opt_out: bool,
) -> Result<bool, S::Error> {
    let mut loses_member = false;
    let mut new_cuts: Vec<StoredName> = Vec::new();
    for below in next.touched_below(name) {
        let data = next.data(&below)?;
        if !data.is_empty() {
            if in_chain(next.role(&below)?, opt_out) {
                return Ok(true);
            }
            if has_cut(&data) {
                new_cuts.push(below.0.clone());
            }
        }
        if !next.base_data(&below)?.is_empty() && in_chain(next.base_role(&below)?, opt_out) {
            loses_member = true;
        }
    }
    if next.base_data(name)?.is_empty() && (!was_member || !loses_member) {
        return Ok(was_member);
    }
    let touched = next.touched();
    let mut cut: Option<StoredName> = None;
    let mut found = false;
    next.base_descendants(&name.0, &mut |below, types| {
        let occluded = |c: &StoredName| below.ends_with(c) && !below.name_cmp(c).is_eq();
        if touched.contains(&CanonicalName(below.clone())) || new_cuts.iter().any(occluded) || cut.as_ref().is_some_and(occluded) {
            return ControlFlow::Continue(());
        }
        let data = data_types(&types.iter().map(|t| t.to_int()).collect());
        if data.is_empty() {
            return ControlFlow::Continue(());
        }
        if has_cut(&data) {
            cut = Some(below.clone());
        }
        if in_chain(own_role(&data), opt_out) {
            found = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    Ok(found)
}
