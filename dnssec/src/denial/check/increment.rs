//! A change to a zone checked against a baseline at the cost of the
//! change: the denial records of the names it reaches (RFC 5155 §7.1,
//! RFC 4034 §4), and the links into them from their neighbours in the
//! chain.
//!
//! The baseline is the previous version's proposed RRsets, trusted to be
//! consistent; the next version V is the baseline with `removed` taken out
//! and `puts` put. What a change can alter in a chain is then local:
//!
//! * the records of the names whose data changes: their existence, type
//!   bitmap and role (a name gaining or losing NS or DNAME is among them,
//!   and so is all data below a cut, which the proposal must remove);
//! * with NSEC3, the records of those names' ancestors, because empty
//!   non-terminals appear and disappear (RFC 5155 §7.1);
//! * the next owner (next hashed owner) of the record before each record
//!   that joins or leaves the chain.
//!
//! Every other denial record of V must equal the baseline's, so every
//! NSEC or NSEC3 put or removal the change makes must be one of those, or
//! a put of unchanged content (a re-signing). What is global is not
//! checked here ([`IncrementCheck::NeedsWhole`]): new NSEC3 parameters, a
//! new Opt-Out flag (RFC 5155 §6: the whole chain shares it), a new denial
//! TTL (RFC 9077 §3.2), a switch between NSEC and NSEC3.

use std::ops::ControlFlow;

use domain::base::iana::{Nsec3HashAlgorithm, Rtype};
use domain::base::{ToName, Ttl};
use domain::rdata::ZoneRecordData;

use super::source::ChainSource;
use super::view::{data_types, has_cut, Increment, Next};
use super::{nsec3_chain, nsec_chain, DenialFindings, DenialMode};
use crate::denial::nsec3::FLAG_OPT_OUT;
use crate::denial::Nsec3Config;
use crate::rrset_diff::same_content;
use crate::name::{in_zone, CanonicalName};
use crate::name::FqdnDisplay;
use crate::zone::{denial_ttl_of, Rrset};
use crate::StoredName;

/// What [`check_increment`] could say without findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncrementCheck {
    /// The denial records of the next version are what its content
    /// requires, in this mode.
    Checked(DenialMode),
    /// The change is global, so checking it costs a whole version:
    /// materialize the next version and run
    /// [`check_whole`](super::check_whole). The text says why.
    NeedsWhole(String),
}

/// Checks the denial records of the next version, the baseline `base` of
/// the zone `apex` with `change` applied, at the cost of the change: a
/// few look-ups into `base` per name the change reaches, never a walk of
/// the zone (except, with opt-out, across insecure delegations below an
/// empty non-terminal whose last member in the chain goes).
///
/// The outer `Result` is the store's; the inner one is the verdict: the
/// mode, [`IncrementCheck::NeedsWhole`] for a global change, or what is
/// wrong.
pub fn check_increment<S: ChainSource>(
    apex: &StoredName,
    base: &S,
    change: &Increment,
) -> Result<Result<IncrementCheck, DenialFindings>, S::Error> {
    let mut findings = DenialFindings::default();
    check_shape(apex, change, &mut findings);
    if !findings.is_empty() {
        return Ok(Err(findings));
    }
    let mut next = Next::new(base, apex, change);
    let (mode, ttl) = match global(&mut next)? {
        Global::Whole(why) => return Ok(Ok(IncrementCheck::NeedsWhole(why))),
        Global::Local(mode, ttl) => (mode, ttl),
    };
    for (name, rtype) in &change.removed {
        if !next.base_types(name)?.contains(rtype) {
            findings.add(&name.0, Rtype::from_int(*rtype), "removed, but the baseline has no such RRset");
        }
    }
    check_structure(&mut next, &mut findings)?;
    match &mode {
        DenialMode::Nsec => nsec_chain::check(&mut next, ttl, &mut findings)?,
        DenialMode::Nsec3 { iterations, salt, opt_out } => {
            let config = Nsec3Config { iterations: *iterations, salt: salt.clone(), opt_out: *opt_out };
            nsec3_chain::check(&mut next, &config, ttl, &mut findings)?
        }
    }
    Ok(findings.into_result(IncrementCheck::Checked(mode)))
}

/// Puts keyed by what they hold, owners in the zone, nothing both put and
/// removed.
fn check_shape(apex: &StoredName, change: &Increment, findings: &mut DenialFindings) {
    for ((name, rtype), rrset) in &change.puts {
        if rrset.owner.name_cmp(&name.0).is_ne() || rrset.rtype.to_int() != *rtype {
            findings.add(&name.0, Rtype::from_int(*rtype), format!(
                "put under this owner and type holds {} {}",
                FqdnDisplay(&rrset.owner),
                rrset.rtype
            ));
        }
        if change.removed.contains(&(name.clone(), *rtype)) {
            findings.add(&name.0, Rtype::from_int(*rtype), "both put and removed");
        }
    }
    for (name, rtype) in change.puts.keys().chain(&change.removed) {
        if !in_zone(&name.0, apex) {
            findings.add(&name.0, Rtype::from_int(*rtype), format!("is outside the zone {}", FqdnDisplay(apex)));
        }
    }
}

enum Global {
    /// Checkable here, in this mode with this denial TTL.
    Local(DenialMode, Ttl),
    /// Needs the whole version, because of this.
    Whole(String),
}

/// The baseline's mode and whether the change alters it, its parameters
/// or its TTL.
fn global<S: ChainSource>(next: &mut Next<'_, S>) -> Result<Global, S::Error> {
    let apex = CanonicalName(next.apex.clone());
    let Some(base_soa) = next.base_rrset(&apex, Rtype::SOA)? else {
        return Ok(Global::Whole("the baseline has no SOA record".into()));
    };
    let base_ttl = denial_ttl_of(Some(&base_soa));
    let new_ttl = denial_ttl_of(next.rrset(&apex, Rtype::SOA)?.as_ref());
    let Some(ttl) = base_ttl.filter(|t| Some(*t) == new_ttl) else {
        let secs = |t: Option<Ttl>| t.map_or("none".to_string(), |t| t.as_secs().to_string());
        return Ok(Global::Whole(format!(
            "the denial TTL changes from {} to {} (RFC 9077 §3.2: the lesser of the SOA TTL and MINIMUM), and with it every NSEC and NSEC3 record",
            secs(base_ttl),
            secs(new_ttl)
        )));
    };
    let base_param = next.base_rrset(&apex, Rtype::NSEC3PARAM)?;
    let new_param = next.rrset(&apex, Rtype::NSEC3PARAM)?;
    let param = match (base_param, new_param) {
        (None, None) => {
            if next.base_rrset(&apex, Rtype::NSEC)?.is_none() {
                return Ok(Global::Whole("the baseline has no NSEC or NSEC3PARAM record at the apex".into()));
            }
            return Ok(Global::Local(DenialMode::Nsec, ttl));
        }
        (Some(_), None) => return Ok(Global::Whole("the NSEC3PARAM is removed: a switch from NSEC3 to NSEC".into())),
        (None, Some(_)) => return Ok(Global::Whole("an NSEC3PARAM is added: a switch from NSEC to NSEC3".into())),
        (Some(old), Some(new)) if !same_content(&old, &new) => {
            return Ok(Global::Whole("the NSEC3PARAM changes, and with it every NSEC3 owner and record (RFC 5155 §4)".into()))
        }
        (Some(old), Some(_)) => old,
    };
    let Some(ZoneRecordData::Nsec3param(p)) = param.rdata.first().map(|r| r.data()) else {
        return Ok(Global::Whole("the baseline's NSEC3PARAM holds no NSEC3PARAM record".into()));
    };
    if p.hash_algorithm() != Nsec3HashAlgorithm::SHA1 {
        return Ok(Global::Whole(format!("the baseline's NSEC3PARAM has hash algorithm {}", p.hash_algorithm().to_int())));
    }
    let config = Nsec3Config { iterations: p.iterations(), salt: p.salt().as_slice().to_vec(), opt_out: false };
    let apex_owner = config
        .hash(next.apex)
        .ok()
        .and_then(|h| Nsec3Config::hashed_owner(&h, next.apex).ok())
        .map(CanonicalName);
    let Some(apex_owner) = apex_owner else {
        return Ok(Global::Whole("the apex cannot be hashed".into()));
    };
    let Some(opt_out) = opt_out_of(next.base_rrset(&apex_owner, Rtype::NSEC3)?.as_ref()) else {
        return Ok(Global::Whole("the baseline has no NSEC3 record for the apex, whose Opt-Out flag the chain shares".into()));
    };
    if opt_out_of(next.rrset(&apex_owner, Rtype::NSEC3)?.as_ref()).is_some_and(|o| o != opt_out) {
        return Ok(Global::Whole(
            "the Opt-Out flag of the chain (the apex's NSEC3 record) changes, and with it every NSEC3 record and the chain's members (RFC 5155 §6)".into(),
        ));
    }
    Ok(Global::Local(DenialMode::Nsec3 { iterations: config.iterations, salt: config.salt, opt_out }, ttl))
}

/// The Opt-Out flag of an NSEC3 RRset.
fn opt_out_of(rrset: Option<&Rrset>) -> Option<bool> {
    match rrset?.rdata.first()?.data() {
        ZoneRecordData::Nsec3(n) => Some(n.flags() & FLAG_OPT_OUT != 0),
        _ => None,
    }
}

/// RFC 4035 §2.2: no name with data in the next version lies below a zone
/// cut. A put below a cut, or a name gaining NS or DNAME while a name
/// below it keeps data, is a finding: the proposal must remove occluded
/// data, as proposed RRsets never include it.
fn check_structure<S: ChainSource>(next: &mut Next<'_, S>, findings: &mut DenialFindings) -> Result<(), S::Error> {
    let change = next.change;
    for name in &next.touched().clone() {
        let types = next.types(name)?;
        let Some(&first) = types.iter().next() else { continue };
        if let Some(cut) = next.occluding_cut(name)? {
            let rtype = change.puts.range((name.clone(), 0)..=(name.clone(), u16::MAX)).next().map_or(first, |((_, t), _)| *t);
            findings.add(&name.0, Rtype::from_int(rtype), format!(
                "is below the zone cut at {}: data there is occluded and never proposed (RFC 4035 §2.2); the proposal must remove it",
                FqdnDisplay(&cut)
            ));
        }
    }
    for name in next.touched().clone() {
        if name.0.name_cmp(next.apex).is_eq() || !has_cut(&next.data(&name)?) || has_cut(&next.base_data(&name)?) {
            continue;
        }
        // The name becomes a cut: the first baseline name below it that
        // the change leaves alone still has data there.
        let touched = next.touched();
        let mut kept: Option<(StoredName, Rtype)> = None;
        next.base_descendants(&name.0, &mut |d, types| {
            if touched.contains(&CanonicalName(d.clone())) || data_types(&types.iter().map(|t| t.to_int()).collect()).is_empty() {
                return ControlFlow::Continue(());
            }
            kept = Some((d.clone(), types.first().copied().unwrap_or(Rtype::NSEC)));
            ControlFlow::Break(())
        })?;
        if let Some((d, rtype)) = kept {
            findings.add(&d, rtype, format!(
                "is below the zone cut {name} gains: data there is occluded and never proposed (RFC 4035 §2.2); the proposal must remove it"
            ));
        }
    }
    Ok(())
}
