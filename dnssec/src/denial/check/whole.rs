//! A whole version's denial records against the chain its content
//! requires: the chain is regenerated with [`add_denial`] and every denial
//! RRset is compared both ways.

use std::collections::BTreeMap;

use domain::base::iana::{Nsec3HashAlgorithm, Rtype};
use domain::rdata::ZoneRecordData;

use super::compare::{compare, refuse_extra};
use super::{DenialFindings, DenialMode};
use crate::denial::nsec3::{chain_members, in_chain, nsec3param_rrset, zone_owner_hash, Nsec3Chain, FLAG_OPT_OUT};
use crate::denial::{add_denial, Denial};
use crate::name::{ancestors_below, CanonicalName};
use crate::rrset_diff::key_order;
use crate::name::FqdnDisplay;
use crate::zone::{NameRole, Node, Rrset, Zone};
use crate::StoredName;

/// The types denial consists of.
pub(super) const DENIAL_TYPES: [Rtype; 3] = [Rtype::NSEC, Rtype::NSEC3, Rtype::NSEC3PARAM];

/// Checks the denial records of a whole version. `zone` holds the
/// version's proposed RRsets ([`Zone::from_rrsets`] of
/// [`Zone::proposed_rrsets`]): the signed RRsets and the delegations' NS,
/// no glue or other occluded data.
///
/// The mode is read from the apex: an NSEC3PARAM means NSEC3 with its
/// iterations and salt (RFC 5155 §4), Opt-Out as the apex's own NSEC3
/// record has it (RFC 5155 §6); an NSEC means NSEC (RFC 4035 §2.3). The
/// chain the content requires is then generated exactly as frostzone
/// signs ([`add_denial`]) and every NSEC, NSEC3 and NSEC3PARAM RRset must
/// be the generated one (TTL and canonical RDATA), and none may be left
/// over.
pub fn check_whole(zone: &Zone) -> Result<DenialMode, DenialFindings> {
    let (mut findings, mode) = read_mode(zone);
    let Some(mode) = mode else { return Err(findings) };
    let apex = zone.apex();
    let denial = mode.denial();
    let mut derived = zone.clone();
    if let Err(e) = add_denial(&mut derived, &denial) {
        findings.add(apex, Rtype::NSEC3, format!("the chain cannot be derived from the content: {e}"));
        return Err(findings);
    }
    if findings.is_empty() && matches_exactly(zone, &derived) {
        return Ok(mode);
    }
    // Something differs: what each derived NSEC3 owner stands for, for
    // the messages (hashing every member again, so only now).
    let members: BTreeMap<CanonicalName, CanonicalName> = match &denial {
        Denial::Nsec => BTreeMap::new(),
        Denial::Nsec3(config) => chain_members(&derived, config)
            .into_iter()
            .filter_map(|(name, _)| {
                let owner = crate::denial::Nsec3Config::hashed_owner(&config.hash(&name.0).ok()?, apex).ok()?;
                Some((CanonicalName(owner), name))
            })
            .collect(),
    };
    for (owner, node) in derived.nodes() {
        for rtype in DENIAL_TYPES {
            let Some(want) = node.get(rtype) else { continue };
            let what = match rtype {
                Rtype::NSEC3 => members.get(owner).map(|n| format!("for {n}")).unwrap_or_default(),
                Rtype::NSEC => format!("for {owner}"),
                _ => "at the apex".into(),
            };
            compare(zone.node(&owner.0).and_then(|n| n.get(rtype)), want, &what, &mut findings);
        }
    }
    let mut extra_reasons: Option<BTreeMap<CanonicalName, String>> = None;
    let mut roles: Option<BTreeMap<CanonicalName, NameRole>> = None;
    for (owner, node) in zone.nodes() {
        for rtype in DENIAL_TYPES {
            let Some(have) = node.get(rtype) else { continue };
            if derived.node(&owner.0).and_then(|n| n.get(rtype)).is_some() {
                continue;
            }
            let why = match (rtype, &denial) {
                (Rtype::NSEC3PARAM, _) => "NSEC3PARAM belongs at the apex only (RFC 5155 §4)".to_string(),
                (Rtype::NSEC, Denial::Nsec3(_)) => "the zone uses NSEC3 (NSEC3PARAM at the apex), and a zone has one kind of chain".to_string(),
                (Rtype::NSEC3, Denial::Nsec) => "the zone uses NSEC (no NSEC3PARAM at the apex), and a zone has one kind of chain".to_string(),
                (Rtype::NSEC, _) => match roles.get_or_insert_with(|| zone.roles().into_iter().collect()).get(owner) {
                    Some(NameRole::Occluded) => format!("{owner} is below a zone cut (RFC 4035 §2.3: MUST NOT)"),
                    _ => format!("{owner} has no other data"),
                },
                (_, Denial::Nsec3(config)) => {
                    let reasons = extra_reasons.get_or_insert_with(|| non_member_reasons(zone, config));
                    reasons.get(owner).cloned().unwrap_or_else(|| "its hash matches no name of the content".into())
                }
                // Only the three denial types are looked at.
                (_, Denial::Nsec) => String::new(),
            };
            refuse_extra(have, &why, &mut findings);
        }
    }
    findings.into_result(mode)
}

/// [`check_whole`] without a second copy of the zone, for whole versions
/// too large to copy (a signer's full proposal). The proposed denial
/// RRsets are taken out, the required chain is derived in their place and
/// compared with them, and they are put back: `zone` is left holding
/// exactly what it held. Only when something differs is the zone copied,
/// by [`check_whole`], to say what.
pub fn check_whole_in_place(zone: &mut Zone) -> Result<DenialMode, DenialFindings> {
    let (findings, mode) = read_mode(zone);
    if let (true, Some(mode)) = (findings.is_empty(), mode) {
        if derives_the_proposed_chain(zone, &mode.denial()) {
            return Ok(mode);
        }
    }
    check_whole(zone)
}

/// The checks made before the chain is derived, and the mode the apex
/// announces (none when it announces none, or two).
fn read_mode(zone: &Zone) -> (DenialFindings, Option<DenialMode>) {
    let mut findings = DenialFindings::default();
    check_structure(zone, &mut findings);
    if zone.soa().is_none() {
        findings.add(zone.apex(), Rtype::SOA, "no SOA record at the apex: the denial TTL (RFC 9077 §3.2) is undefined");
    }
    let mode = mode_of(zone, &mut findings);
    if let Some(DenialMode::Nsec3 { iterations, salt, .. }) = &mode {
        check_parameters(zone, *iterations, salt, &mut findings);
    }
    (findings, mode)
}

/// Whether the chain derived from `zone`'s content is exactly its denial
/// RRsets, none missing or left over ([`matches_exactly`], worked in
/// place). The proposed denial RRsets are taken out, so that the chain is
/// derived from the content alone as [`add_denial`] derives it, and each
/// derived RRset is made and compared in turn, never added: the zone
/// holds one chain, not two. `zone` is restored before this returns.
fn derives_the_proposed_chain(zone: &mut Zone, denial: &Denial) -> bool {
    let mut proposed: Vec<Rrset> = DENIAL_TYPES.iter().flat_map(|t| zone.take_type(*t)).collect();
    proposed.sort_by(key_order);
    let same = proposed_is_derived(zone, denial, &proposed);
    zone.remove_type(Rtype::NSEC3PARAM);
    for rrset in proposed {
        let owner = rrset.owner.clone();
        zone.node_mut(&owner).rrsets.insert(rrset.rtype.to_int(), rrset);
    }
    same
}

/// Whether the chain derived from `zone` (which holds no denial RRsets)
/// is `proposed` (sorted by [`key_order`]): every derived RRset is
/// there with the same content, and there are as many of each. For NSEC3
/// the apex NSEC3PARAM is left in `zone`, as [`add_denial`] leaves it.
fn proposed_is_derived(zone: &mut Zone, denial: &Denial, proposed: &[Rrset]) -> bool {
    let mut derived = 0usize;
    let mut is_proposed = |want: &Rrset| {
        derived += 1;
        proposed
            .binary_search_by(|have| key_order(have, want))
            .is_ok_and(|i| crate::rrset_diff::same_content(&proposed[i], want))
    };
    let all_there = match denial {
        Denial::Nsec => crate::denial::nsec::nsec_chain(zone).all(|want| is_proposed(&want)),
        Denial::Nsec3(config) => {
            let apex = zone.apex().clone();
            let param = nsec3param_rrset(&apex, config, zone.denial_ttl());
            // The apex's bitmap lists NSEC3PARAM: it is in place first.
            is_proposed(&param) && {
                zone.node_mut(&apex).rrsets.insert(Rtype::NSEC3PARAM.to_int(), param);
                Nsec3Chain::derive(zone, config)
                    .is_ok_and(|chain| chain.records(zone).all(|want| want.is_ok_and(|want| is_proposed(&want))))
            }
        }
    };
    // Every derived RRset has its own owner and type, so as many as
    // proposed means none is left over.
    all_there && derived == proposed.len()
}

/// Whether every denial RRset of `zone` is the derived one and none is
/// missing or left over: the common case, decided without building a
/// single message.
fn matches_exactly(zone: &Zone, derived: &Zone) -> bool {
    let all_there = derived.nodes().all(|(owner, node)| {
        DENIAL_TYPES.iter().all(|t| match node.get(*t) {
            None => true,
            Some(want) => zone.node(&owner.0).and_then(|n| n.get(*t)).is_some_and(|have| crate::rrset_diff::same_content(have, want)),
        })
    });
    all_there && denial_rrsets(zone) == denial_rrsets(derived)
}

/// How many NSEC, NSEC3 and NSEC3PARAM RRsets `zone` holds.
fn denial_rrsets(zone: &Zone) -> usize {
    zone.nodes().map(|(_, n)| DENIAL_TYPES.iter().filter(|t| n.get(**t).is_some()).count()).sum()
}

/// RFC 4035 §2.2: proposed content has nothing below a zone cut (glue and
/// occluded data are neither signed nor proposed).
fn check_structure(zone: &Zone, findings: &mut DenialFindings) {
    let apex = zone.apex();
    for (owner, role) in zone.roles() {
        if role != NameRole::Occluded {
            continue;
        }
        let cut = ancestors_below(&owner.0, apex).into_iter().find(|a| zone.node(a).is_some_and(is_cut));
        let rtype = zone.node(&owner.0).and_then(|n| n.types().next()).unwrap_or(Rtype::NSEC);
        let cut = cut.map(|c| FqdnDisplay(&c).to_string()).unwrap_or_default();
        findings.add(&owner.0, rtype, format!("is below the zone cut at {cut}: data there is occluded and never proposed (RFC 4035 §2.2)"));
    }
}

/// Whether a node makes a zone cut below the apex (NS, or DNAME by RFC
/// 6672 §2.3).
pub(super) fn is_cut(node: &Node) -> bool {
    node.get(Rtype::NS).is_some() || node.get(Rtype::DNAME).is_some()
}

/// The denial mode the apex announces, or why there is none.
fn mode_of(zone: &Zone, findings: &mut DenialFindings) -> Option<DenialMode> {
    let apex = zone.apex();
    let node = zone.node(apex);
    let param = node.and_then(|n| n.get(Rtype::NSEC3PARAM));
    let nsec = node.and_then(|n| n.get(Rtype::NSEC));
    match (param, nsec) {
        (Some(_), Some(_)) => {
            findings.add(apex, Rtype::NSEC3PARAM, "the apex has both NSEC and NSEC3PARAM: a zone uses NSEC or NSEC3, not both");
            None
        }
        (None, None) => {
            findings.add(apex, Rtype::NSEC, "no NSEC or NSEC3PARAM record at the apex: no denial records at all (RFC 4035 §2.3, RFC 5155 §7.1)");
            None
        }
        (None, Some(_)) => Some(DenialMode::Nsec),
        (Some(param), None) => {
            let Some(ZoneRecordData::Nsec3param(p)) = param.rdata.first().map(|r| r.data()) else { return None };
            if p.hash_algorithm() != Nsec3HashAlgorithm::SHA1 {
                findings.add(apex, Rtype::NSEC3PARAM, format!("hash algorithm is {}, only SHA-1 (1) is defined (RFC 5155 §11)", p.hash_algorithm().to_int()));
                return None;
            }
            let (iterations, salt) = (p.iterations(), p.salt().as_slice().to_vec());
            let config = crate::denial::Nsec3Config { iterations, salt: salt.clone(), opt_out: false };
            Some(DenialMode::Nsec3 { iterations, salt, opt_out: chain_opt_out(zone, &config) })
        }
    }
}

/// RFC 5155 §4: the NSEC3PARAM announces the parameters of the chain.
/// When the NSEC3 records use others, every record differs from the
/// derived chain; this says why first.
fn check_parameters(zone: &Zone, iterations: u16, salt: &[u8], findings: &mut DenialFindings) {
    let mut other: BTreeMap<(u16, Vec<u8>), usize> = BTreeMap::new();
    for (_, node) in zone.nodes() {
        if let Some(ZoneRecordData::Nsec3(n)) = node.get(Rtype::NSEC3).and_then(|s| s.rdata.first()).map(|r| r.data()) {
            if n.iterations() != iterations || n.salt().as_slice() != salt {
                *other.entry((n.iterations(), n.salt().as_slice().to_vec())).or_default() += 1;
            }
        }
    }
    let salt_text = |s: &[u8]| if s.is_empty() { "-".to_string() } else { hex::encode_upper(s) };
    for ((i, s), count) in other {
        findings.add(zone.apex(), Rtype::NSEC3PARAM, format!(
            "announces {iterations} iterations and salt {}, but {count} NSEC3 records use {i} iterations and salt {}: the chain derived from the content follows the NSEC3PARAM (RFC 5155 §4)",
            salt_text(salt),
            salt_text(&s)
        ));
    }
}

/// The Opt-Out flag of the apex's NSEC3 record (RFC 5155 §6: the chain
/// shares it), or of the first NSEC3 record when the apex has none.
fn chain_opt_out(zone: &Zone, config: &crate::denial::Nsec3Config) -> bool {
    let apex = zone.apex();
    let flags = |node: &Node| match node.get(Rtype::NSEC3)?.rdata.first().map(|r| r.data()) {
        Some(ZoneRecordData::Nsec3(n)) => Some(n.flags() & FLAG_OPT_OUT != 0),
        _ => None,
    };
    let apex_record = config
        .hash(apex)
        .ok()
        .and_then(|h| crate::denial::Nsec3Config::hashed_owner(&h, apex).ok())
        .and_then(|owner| zone.node(&owner))
        .and_then(flags);
    apex_record
        .or_else(|| zone.nodes().filter(|(k, _)| zone_owner_hash(&k.0, apex).is_some()).find_map(|(_, n)| flags(n)))
        .unwrap_or(false)
}

/// For every name of the content and every ancestor of one that is not in
/// the NSEC3 chain: its hashed owner and why it is not in the chain.
fn non_member_reasons(zone: &Zone, config: &crate::denial::Nsec3Config) -> BTreeMap<CanonicalName, String> {
    let apex = zone.apex();
    let mut out = BTreeMap::new();
    let mut add = |name: &StoredName, why: String| {
        if let Some(owner) = config.hash(name).ok().and_then(|h| crate::denial::Nsec3Config::hashed_owner(&h, apex).ok()) {
            out.entry(CanonicalName(owner)).or_insert(why);
        }
    };
    for (owner, role) in zone.roles() {
        let only_nsec3 = zone.node(&owner.0).is_some_and(|n| n.types().all(|t| t == Rtype::NSEC3));
        if only_nsec3 {
            continue;
        }
        match role {
            NameRole::Occluded => add(&owner.0, format!("it is for {owner}, which is below a zone cut")),
            NameRole::Delegation { secure: false } if !in_chain(role, config.opt_out) => {
                add(&owner.0, format!("it is for {owner}, an insecure delegation, which opt-out leaves out (RFC 5155 §6)"))
            }
            _ => {}
        }
        for ancestor in ancestors_below(&owner.0, apex) {
            if zone.node(&ancestor).is_none() {
                let why = format!("it is for {}, which has no data and no name below it in the chain", FqdnDisplay(&ancestor));
                add(&ancestor, why);
            }
        }
    }
    out
}
