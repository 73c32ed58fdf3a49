//! Validation of a patch: the next version of a zone, seen as a
//! [`ZoneView`], checked only where the patch can have changed it.
//!
//! The published version is assumed valid. What a patch can break is then
//! local (RFC 4035 §2.2, §5.3; RFC 5155 §7.1, §8; RFC 4034 §4):
//!
//! * the RRSIGs and the signature coverage of the names it touches;
//! * the roles of the names below a name that gains or loses a zone cut
//!   (NS or DNAME), which may become occluded or authoritative;
//! * the empty non-terminals above any of those names;
//! * the denial records of those names and the links into them from
//!   their neighbours in the chain.
//!
//! The names looked at are computed here from the patch, not taken from
//! whoever made it, so a planner that forgot a name is caught. Changes
//! whose effect is not local (a key leaving the DNSKEY RRset or an
//! algorithm joining or leaving it, new NSEC3 parameters or Opt-Out flag,
//! another denial TTL, a switch between NSEC and NSEC3) widen the scope
//! to the whole zone: the cost is then the zone's, as the patch's is.

use std::collections::BTreeSet;

use bytes::Bytes;
use domain::base::iana::Rtype;
use domain::base::ToName;
use domain::rdata::ZoneRecordData;

use super::patch_denial::{self, denial_ttl};
use super::scope::Scope;
use super::signatures::{algorithms, check_coverage, check_fields, report_unanchored, verify_all};
use super::{keys, Report, ValidationOptions, VerifiedSignatures};
use crate::keys::FLAG_ZONE_KEY;
use crate::name::{in_zone, CanonicalName};
use crate::zone_patch::ZoneView;
use crate::name::FqdnDisplay;
use crate::zone::{NameRole, Node, Rrset};

/// The usable zone keys of a DNSKEY RRset (canonical RDATA) and their
/// algorithms.
fn zone_keys(dnskey: Option<&Rrset>) -> (BTreeSet<Bytes>, BTreeSet<u8>) {
    let mut keys = BTreeSet::new();
    let mut algorithms = BTreeSet::new();
    for rdata in dnskey.map(|s| s.rdata.as_slice()).unwrap_or_default() {
        if let ZoneRecordData::Dnskey(k) = &rdata.data() {
            if k.flags() & FLAG_ZONE_KEY != 0 {
                keys.insert(rdata.canonical.clone());
                algorithms.insert(k.algorithm().to_int());
            }
        }
    }
    (keys, algorithms)
}


/// Whether the patch changes something every name depends on, so that
/// checking the names it touches is not enough.
fn global_change(view: &ZoneView<'_>) -> bool {
    let apex = CanonicalName(view.apex().clone());
    if !view.patch().contains(&apex) {
        return false;
    }
    let (old, new) = (view.base().node(&apex.0), view.node(&apex));
    fn get(n: Option<&Node>, t: Rtype) -> Option<&Rrset> {
        n.and_then(|n| n.get(t))
    }
    // A key that leaves takes the signatures it made elsewhere with it;
    // a new algorithm must sign every RRset (RFC 6840 §5.11).
    let (old_keys, old_algs) = zone_keys(get(old, Rtype::DNSKEY));
    let (new_keys, new_algs) = zone_keys(get(new, Rtype::DNSKEY));
    let rdata = |s: Option<&Rrset>| s.map(|s| s.rdata.iter().map(|r| r.canonical.clone()).collect::<Vec<_>>());
    !old_keys.is_subset(&new_keys)
        || old_algs != new_algs
        || rdata(get(old, Rtype::NSEC3PARAM)) != rdata(get(new, Rtype::NSEC3PARAM))
        || get(old, Rtype::NSEC).is_some() != get(new, Rtype::NSEC).is_some()
        || denial_ttl(old) != denial_ttl(new)
        || patch_denial::opt_out_changed(view)
}

/// What [`crate::zone::Zone::from_records`] checks when a zone is read
/// (RFC 1035 §5.2, RFC 2181 §10.1, RFC 4035 §2.4), at the names of the
/// patch: a patch is never read from a zone file.
fn check_structure(view: &ZoneView<'_>, report: &mut Report) {
    let apex = view.apex();
    for (name, node) in view.patch().iter() {
        let types = |n: &Node| n.types().map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
        if !in_zone(&name.0, apex) {
            report.error(None, name.to_string(), format!("is outside the zone {}", FqdnDisplay(apex)));
        } else if name.0.name_cmp(apex).is_eq() {
            let soa = node.and_then(|n| n.get(Rtype::SOA));
            if soa.is_none_or(|s| s.rdata.len() != 1) {
                report.error(None, format!("{name} SOA"), "the apex must have exactly one SOA record");
            }
            if node.and_then(|n| n.get(Rtype::NS)).is_none() {
                report.error(None, format!("{name} NS"), "the apex must have NS records");
            }
        } else if let Some(n) = node {
            if let Some(soa) = n.get(Rtype::SOA) {
                report.error(soa.location.clone(), format!("{name} SOA"), "SOA is only allowed at the apex");
            }
            if let Some(ds) = n.get(Rtype::DS).filter(|_| n.get(Rtype::NS).is_none()) {
                report.error(ds.location.clone(), format!("{name} DS"), "DS record but no NS records: DS belongs only at a delegation");
            }
            let beside = n.types().any(|t| ![Rtype::CNAME, Rtype::NSEC, Rtype::RRSIG].contains(&t));
            if let Some(cname) = n.get(Rtype::CNAME).filter(|c| beside || c.rdata.len() > 1) {
                report.error(cname.location.clone(), format!("{name} CNAME"), format!("a CNAME must stand alone (RFC 2181 §10.1); the name has {}", types(n)));
            }
        }
    }
}

/// Validates the next version of a zone, `view`, assuming the published
/// version (`view.base()`) was valid, by looking only at what the patch
/// can affect (see the module documentation): the DNSKEY RRset and trust
/// anchor, every RRSIG and the signature coverage at the affected names
/// (RFC 4035 §5.3, RFC 6840 §5.11; the arithmetic skipped for triples in
/// `known`), and the NSEC (RFC 4034 §4) or NSEC3 (RFC 5155 §7.1, §8)
/// records of those names and of their neighbours in the chain. Its cost
/// is that of the patch, not of the zone.
///
/// Returns the report and the signatures verified at the names looked at
/// (known ones included), for the caller to add to its cache with
/// [`VerifiedSignatures::extend`].
pub fn validate_patch(view: &ZoneView<'_>, options: &ValidationOptions, known: &VerifiedSignatures) -> (Report, VerifiedSignatures) {
    let apex = view.apex();
    let apex_name = CanonicalName(apex.clone());
    let mut report = Report { zone: FqdnDisplay(apex).to_string(), ..Report::default() };
    let dnskey = view.rrset(apex, Rtype::DNSKEY);
    let keys = keys::check_keys(apex, dnskey, options, &mut report);
    let scope = if global_change(view) { Scope::whole(view) } else { Scope::of(view) };
    check_structure(view, &mut report);
    let nodes: Vec<(&CanonicalName, &Node, NameRole)> =
        scope.names.iter().filter_map(|name| Some((name, view.node(name)?, view.role(name)))).collect();
    let mut pending = Vec::new();
    for (name, node, role) in &nodes {
        check_fields(apex, name, node, *role, &keys, options, &mut report, &mut pending);
    }
    let verified = verify_all(&pending, &keys, known, &mut report);
    if scope.names.contains(&apex_name) && !keys.keys.is_empty() && !verified.dnskey_anchored {
        report_unanchored(apex, &mut report);
    }
    let algorithms = algorithms(&keys);
    for (name, node, role) in &nodes {
        check_coverage(name, node, *role, &algorithms, &verified, &mut report);
    }
    patch_denial::check_denial(view, &scope, &mut report);
    report.stats.names_checked = Some(scope.names.len());
    (report, verified.digests)
}
