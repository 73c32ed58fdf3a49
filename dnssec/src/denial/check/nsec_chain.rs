//! The NSEC chain of the next version where a change reaches it (RFC 4034
//! §4, RFC 4035 §2.3): the records of the names whose data changes, and
//! the next owner of the record before each name that joins or leaves the
//! chain. Empty non-terminals have no NSEC record, so ancestors are not
//! concerned.

use std::collections::{BTreeMap, BTreeSet};

use domain::base::iana::Rtype;
use domain::base::Ttl;
use domain::rdata::ZoneRecordData;

use super::compare::{compare, refuse_extra};
use super::links::Links;
use super::source::ChainSource;
use super::view::Next;
use super::DenialFindings;
use crate::denial::nsec::nsec_rrset;
use crate::denial::type_bitmap_of;
use crate::rrset_diff::same_content;
use crate::name::CanonicalName;
use crate::name::FqdnDisplay;
use crate::zone::NameRole;

/// A name whose data changes, in both versions.
struct Entry {
    data: BTreeSet<u16>,
    role: NameRole,
    member: bool,
    was_member: bool,
}

pub(super) fn check<S: ChainSource>(next: &mut Next<'_, S>, ttl: Ttl, findings: &mut DenialFindings) -> Result<(), S::Error> {
    let mut entries: BTreeMap<CanonicalName, Entry> = BTreeMap::new();
    for name in next.touched().clone() {
        let data = next.data(&name)?;
        let role = next.role(&name)?;
        // RFC 4035 §2.3: every name with authoritative data or a
        // delegation has an NSEC record, nothing below a cut does. The
        // baseline has nothing below a cut.
        let member = !data.is_empty() && role != NameRole::Occluded;
        let was_member = !next.base_data(&name)?.is_empty();
        entries.insert(name, Entry { data, role, member, was_member });
    }
    let links: Links<CanonicalName> = Links {
        joining: entries.iter().filter(|(_, e)| e.member && !e.was_member).map(|(n, _)| n.clone()).collect(),
        leaving: entries.iter().filter(|(_, e)| !e.member && e.was_member).map(|(n, _)| n.clone()).collect(),
    };
    let mut judged: BTreeSet<CanonicalName> = BTreeSet::new();
    for (name, e) in &entries {
        judged.insert(name.clone());
        let have = next.rrset(name, Rtype::NSEC)?;
        if e.member {
            let Some(following) = links.successor(name, |n| next.next_name(n))? else { continue };
            let bitmap = type_bitmap_of(e.data.iter().map(|t| Rtype::from_int(*t)), e.role, Some(Rtype::NSEC));
            compare(have.as_ref(), &nsec_rrset(&name.0, &following.0, bitmap, ttl), &format!("for {name}"), findings);
        } else if let Some(have) = have {
            let why = match next.occluding_cut(name)? {
                Some(cut) => format!("{name} is below the zone cut at {} (RFC 4035 §2.3: MUST NOT)", FqdnDisplay(&cut)),
                None => format!("{name} has no data in the next version"),
            };
            refuse_extra(&have, &why, findings);
        }
    }
    // The record before each name that joins or leaves links past it.
    for name in links.joining.iter().chain(&links.leaving) {
        let Some(before) = links.predecessor(name, |n| next.prev_name(n))? else { continue };
        if entries.get(&before).is_some_and(|e| e.member) || !judged.insert(before.clone()) {
            continue;
        }
        let Some(old) = next.base_rrset(&before, Rtype::NSEC)? else {
            findings.add(&before.0, Rtype::NSEC, "the baseline has data here but no NSEC record: an inconsistent baseline");
            continue;
        };
        let Some(ZoneRecordData::Nsec(old)) = old.rdata.first().map(|r| r.data()) else {
            findings.add(&before.0, Rtype::NSEC, "the baseline's NSEC RRset here holds no NSEC record: an inconsistent baseline");
            continue;
        };
        let Some(following) = links.successor(&before, |n| next.next_name(n))? else { continue };
        let how = if links.joining.contains(name) { "joins" } else { "leaves" };
        let what = format!("(it precedes {name}, which {how} the chain)");
        let want = nsec_rrset(&before.0, &following.0, old.types().clone(), ttl);
        compare(next.rrset(&before, Rtype::NSEC)?.as_ref(), &want, &what, findings);
    }
    // Every NSEC put or removal is one judged above, or a put of
    // unchanged content (a re-signing).
    let change = next.change;
    for ((owner, rtype), put) in &change.puts {
        if *rtype == Rtype::NSEC3.to_int() {
            findings.add(&owner.0, Rtype::NSEC3, "NSEC3 record in a zone that uses NSEC (no NSEC3PARAM at the apex): a zone has one kind of chain");
            continue;
        }
        if *rtype != Rtype::NSEC.to_int() || judged.contains(owner) {
            continue;
        }
        if next.base_rrset(owner, Rtype::NSEC)?.is_some_and(|old| same_content(&old, put)) {
            continue;
        }
        findings.add(&owner.0, Rtype::NSEC, "changes, but no name the change touches needs it: it is not the record of a name whose data changes or of the one before a name that joins or leaves the chain");
    }
    for (owner, rtype) in &change.removed {
        if *rtype == Rtype::NSEC.to_int() && !judged.contains(owner) {
            findings.add(&owner.0, Rtype::NSEC, "removed, but no name the change touches leaves the chain: the name still has data");
        }
    }
    Ok(())
}
