//! Denial-of-existence checks: the NSEC chain (RFC 4034 §4, RFC 4035
//! §2.3) or the NSEC3 chain (RFC 5155 §§7.1, 8, RFC 9276).

use std::collections::BTreeSet;

use bytes::Bytes;
use domain::base::iana::Rtype;
use domain::base::{ToName, Ttl};
use domain::rdata::dnssec::RtypeBitmap;
use domain::rdata::{Nsec3, Nsec3param, ZoneRecordData};

use super::Report;
use crate::denial::nsec3::{chain_members, Nsec3Config, FLAG_OPT_OUT};
use crate::denial::type_bitmap;
use crate::load::SourceLocation;
use crate::name::CanonicalName;
use crate::name::FqdnDisplay;
use crate::zone::{NameRole, Node, Rrset, Zone};
use crate::StoredName;

pub(super) fn check_denial(zone: &Zone, report: &mut Report) {
    let apex = zone.apex();
    let apex_node = zone.node(apex);
    let param = apex_node.and_then(|n| n.get(Rtype::NSEC3PARAM));
    let has_nsec = zone.nodes().any(|(_, n)| n.get(Rtype::NSEC).is_some());
    match (param, has_nsec) {
        (Some(_), true) => report.error(None, format!("{} NSEC3PARAM", FqdnDisplay(apex)), "zone has both NSEC and NSEC3 records"),
        (Some(_), false) => check_nsec3(zone, report),
        (None, true) => check_nsec(zone, report),
        (None, false) => report.error(None, FqdnDisplay(apex).to_string(), "no NSEC or NSEC3 records: nothing proves non-existence"),
    }
}

fn types_of(bitmap: &RtypeBitmap<bytes::Bytes>) -> BTreeSet<u16> {
    bitmap.iter().map(|t| t.to_int()).collect()
}

fn names(types: &BTreeSet<u16>) -> String {
    let v: Vec<String> = types.iter().map(|t| Rtype::from_int(*t).to_string()).collect();
    if v.is_empty() { "(none)".into() } else { v.join(" ") }
}

fn check_nsec(zone: &Zone, report: &mut Report) {
    report.stats.denial = "NSEC";
    let roles = zone.roles();
    let expected: Vec<&(CanonicalName, NameRole)> = roles.iter().filter(|(_, r)| *r != NameRole::Occluded).collect();
    for (owner, role) in &roles {
        if *role == NameRole::Occluded {
            check_no_nsec(owner, zone.node(&owner.0), report);
        }
    }
    for (i, (owner, role)) in expected.iter().enumerate() {
        let next = &expected[(i + 1) % expected.len()].0;
        check_nsec_record(owner, zone.node(&owner.0), *role, next, zone.denial_ttl(), report);
    }
}

/// RFC 4035 §2.3: no NSEC below a zone cut.
pub(super) fn check_no_nsec(owner: &CanonicalName, node: Option<&Node>, report: &mut Report) {
    if let Some(nsec) = node.and_then(|n| n.get(Rtype::NSEC)) {
        report.error(nsec.location.clone(), format!("{owner} NSEC"), "NSEC below a zone cut (RFC 4035 §2.3: MUST NOT)");
    }
}

/// The NSEC record of a name in the chain (RFC 4034 §4.1): present and
/// alone, pointing at `next`, listing the types of `node` (whose role is
/// `role`), with the denial TTL (RFC 9077).
pub(super) fn check_nsec_record(owner: &CanonicalName, node: Option<&Node>, role: NameRole, next: &CanonicalName, ttl: Ttl, report: &mut Report) {
    let record = format!("{owner} NSEC");
    let Some(nsec) = node.and_then(|n| n.get(Rtype::NSEC)) else {
        report.error(None, record, "name has no NSEC record: the chain is broken here");
        return;
    };
    report.stats.denial_records += 1;
    let Some(ZoneRecordData::Nsec(data)) = nsec.rdata.first().map(|r| r.data()) else { return };
    if nsec.rdata.len() > 1 {
        report.error(nsec.location.clone(), &record, "more than one NSEC record at this name");
    }
    if data.next_name().name_cmp(&next.0) != std::cmp::Ordering::Equal {
        report.error(nsec.location.clone(), &record, format!("next name is {}, expected {next}", FqdnDisplay(data.next_name())));
    }
    let want = types_of(&type_bitmap(node, role, Some(Rtype::NSEC)));
    let have = types_of(data.types());
    if want != have {
        report.error(nsec.location.clone(), &record, format!("type bitmap is {}, expected {}", names(&have), names(&want)));
    }
    if nsec.ttl != ttl {
        report.warn(nsec.location.clone(), &record, format!("TTL {} is not min(SOA TTL, SOA MINIMUM) = {} (RFC 9077)", nsec.ttl.as_secs(), ttl.as_secs()));
    }
}

/// The NSEC3PARAM record (RFC 5155 §4, RFC 9276 §3.1); `None` when its
/// hash algorithm cannot be checked.
pub(super) fn check_nsec3param(apex: &StoredName, param_set: &Rrset, report: &mut Report) -> Option<Nsec3param<Bytes>> {
    let param_record = format!("{} NSEC3PARAM", FqdnDisplay(apex));
    let Some(ZoneRecordData::Nsec3param(param)) = param_set.rdata.first().map(|r| r.data()) else { return None };
    if param.hash_algorithm().to_int() != 1 {
        report.error(param_set.location.clone(), &param_record, format!("hash algorithm {} is not SHA-1 (1)", param.hash_algorithm().to_int()));
        return None;
    }
    if param.flags() != 0 {
        report.error(param_set.location.clone(), &param_record, format!("flags are {}, RFC 5155 §4.1.2 requires 0", param.flags()));
    }
    if param.iterations() != 0 || !param.salt().as_slice().is_empty() {
        report.warn(param_set.location.clone(), &param_record, "RFC 9276 §3.1: use 0 extra iterations and no salt");
    }
    Some(param)
}

/// The hash an NSEC3 owner name stands for (RFC 5155 §3): its first label
/// in base32hex, directly below the apex.
pub(super) fn owner_hash(owner: &CanonicalName, apex: &StoredName) -> Option<Vec<u8>> {
    crate::denial::nsec3::zone_owner_hash(&owner.0, apex)
}

/// An NSEC3 RRset's own fields (RFC 5155 §3, §8.2): its owner is a hash
/// below the apex, its parameters are the NSEC3PARAM's, its TTL is the
/// denial TTL. Returns the owner's hash and the record.
pub(super) fn check_nsec3_fields(
    owner: &CanonicalName,
    set: &Rrset,
    apex: &StoredName,
    param: &Nsec3param<Bytes>,
    ttl: Ttl,
    report: &mut Report,
) -> Option<(Vec<u8>, Nsec3<Bytes>)> {
    let record = format!("{owner} NSEC3");
    let Some(ZoneRecordData::Nsec3(n)) = set.rdata.first().map(|r| r.data()) else { return None };
    let Some(hash) = owner_hash(owner, apex) else {
        report.error(set.location.clone(), record, "owner is not a base32hex SHA-1 hash directly below the apex");
        return None;
    };
    if n.hash_algorithm() != param.hash_algorithm() || n.iterations() != param.iterations() || n.salt().as_slice() != param.salt().as_slice() {
        report.error(set.location.clone(), &record, "parameters differ from the NSEC3PARAM record");
    }
    if set.ttl != ttl {
        report.warn(set.location.clone(), &record, format!("TTL {} is not min(SOA TTL, SOA MINIMUM) = {} (RFC 9077)", set.ttl.as_secs(), ttl.as_secs()));
    }
    Some((hash, n))
}

/// RFC 5155 §7.1: the next hashed owner is the following hash in order.
pub(super) fn check_nsec3_next(owner: &CanonicalName, n: &Nsec3<Bytes>, next: &[u8], location: Option<SourceLocation>, report: &mut Report) {
    if n.next_owner().as_slice() != next {
        report.error(location, format!("{owner} NSEC3"), format!(
            "next hashed owner is {}, expected {} (chain not closed or a record is missing)",
            domain::utils::base32::encode_string_hex(n.next_owner().as_slice()).to_ascii_lowercase(),
            domain::utils::base32::encode_string_hex(next).to_ascii_lowercase()
        ));
    }
}

/// RFC 5155 §3.2.1: the NSEC3 record `n` (at `owner`) for `name` lists
/// the types of `node`, whose role is `role`.
pub(super) fn check_nsec3_bitmap(
    owner: &CanonicalName,
    name: &CanonicalName,
    n: &Nsec3<Bytes>,
    node: Option<&Node>,
    role: NameRole,
    location: Option<SourceLocation>,
    report: &mut Report,
) {
    let want = types_of(&type_bitmap(node, role, None));
    let have = types_of(n.types());
    if want != have {
        report.error(location, format!("{owner} NSEC3 (for {name})"), format!("type bitmap is {}, expected {}", names(&have), names(&want)));
    }
}

fn check_nsec3(zone: &Zone, report: &mut Report) {
    let apex = zone.apex();
    let Some(param_set) = zone.node(apex).and_then(|n| n.get(Rtype::NSEC3PARAM)) else { return };
    let Some(param) = check_nsec3param(apex, param_set, report) else { return };
    // The chain, in hash order: each record's hash, owner and RRset, held
    // by reference; its RDATA is read again where it is looked at, so the
    // chain costs a few dozen octets per record beside the zone.
    let mut chain: Vec<(Vec<u8>, &CanonicalName, &Rrset)> = Vec::new();
    let mut opt_out = false;
    for (owner, node) in zone.nodes() {
        let Some(set) = node.get(Rtype::NSEC3) else { continue };
        let Some((hash, n)) = check_nsec3_fields(owner, set, apex, &param, zone.denial_ttl(), report) else { continue };
        opt_out |= n.flags() & FLAG_OPT_OUT != 0;
        chain.push((hash, owner, set));
    }
    chain.sort_by(|a, b| a.0.cmp(&b.0));
    report.stats.denial = if opt_out { "NSEC3 opt-out" } else { "NSEC3" };
    report.stats.denial_records = chain.len();
    // Closed and ordered: each next hashed owner is the following hash.
    for (i, (_, owner, set)) in chain.iter().enumerate() {
        if let Some(n) = nsec3_record(set) {
            check_nsec3_next(owner, &n, &chain[(i + 1) % chain.len()].0, set.location.clone(), report);
        }
    }
    // Complete, with the right bitmaps: every name that needs an NSEC3 has
    // one, and nothing else does (opt-out may still cover insecure
    // delegations: RFC 5155 §7.1 allows either).
    let config = Nsec3Config { iterations: param.iterations(), salt: param.salt().as_slice().to_vec(), opt_out };
    let mut matched = vec![false; chain.len()];
    for (name, role) in chain_members(zone, &config) {
        let Ok(hash) = config.hash(&name.0) else { continue };
        let Ok(i) = chain.binary_search_by(|(h, _, _)| h.as_slice().cmp(&hash)) else {
            report.error(None, format!("{name}"), "has no NSEC3 record (expected one for this name's hash)");
            continue;
        };
        matched[i] = true;
        let (_, owner, set) = chain[i];
        if let Some(n) = nsec3_record(set) {
            check_nsec3_bitmap(owner, &name, &n, zone.node(&name.0), role, set.location.clone(), report);
        }
    }
    let mut insecure: Vec<Vec<u8>> = if opt_out {
        zone.roles()
            .into_iter()
            .filter(|(_, r)| *r == NameRole::Delegation { secure: false })
            .filter_map(|(n, _)| config.hash(&n.0).ok())
            .collect()
    } else {
        Vec::new()
    };
    insecure.sort_unstable();
    for ((hash, owner, set), matched) in chain.iter().zip(matched) {
        if !matched && insecure.binary_search(hash).is_err() {
            report.error(set.location.clone(), format!("{owner} NSEC3"), "matches no name in the zone");
        }
    }
}

/// The NSEC3 record of an NSEC3 RRset (the first: one is checked for).
pub(super) fn nsec3_record(set: &Rrset) -> Option<Nsec3<Bytes>> {
    match set.rdata.first().map(|r| r.data()) {
        Some(ZoneRecordData::Nsec3(n)) => Some(n),
        _ => None,
    }
}
