//! The denial records of a patched zone, checked where the patch can have
//! changed them: the NSEC3 records (RFC 5155 §7.1, §8) or NSEC records
//! (RFC 4034 §4, RFC 4035 §2.3) of the names in the scope, the records the
//! patch adds, changes or removes, and the links into them from their
//! neighbours in the chain.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use domain::base::iana::Rtype;
use domain::base::{ToName, Ttl};
use domain::rdata::ZoneRecordData;

use super::denial::{
    check_no_nsec, check_nsec3_bitmap, check_nsec3_fields, check_nsec3_next, check_nsec3param, check_nsec_record, nsec3_record, owner_hash,
};
use super::scope::Scope;
use super::Report;
use crate::denial::nsec3::{Nsec3Config, FLAG_OPT_OUT};
use crate::name::{ancestors_below, CanonicalName};
use crate::zone_patch::ZoneView;
use crate::name::FqdnDisplay;
use crate::zone::{NameRole, Node, Rrset, Zone};
use crate::StoredName;

pub(super) fn check_denial(view: &ZoneView<'_>, scope: &Scope, report: &mut Report) {
    let apex = view.apex();
    if let Some(param_set) = view.rrset(apex, Rtype::NSEC3PARAM) {
        check_nsec3(view, scope, param_set, report);
    } else if view.rrset(apex, Rtype::NSEC).is_some() || scope.names.iter().any(|n| view.rrset(&n.0, Rtype::NSEC).is_some()) {
        check_nsec(view, scope, report);
    } else {
        report.error(None, FqdnDisplay(apex).to_string(), "no NSEC or NSEC3 records: nothing proves non-existence");
    }
}

/// Names with data in canonical order around a name, wrapping around the
/// zone as denial chains do. It walks the zone's and the patch's maps
/// side by side rather than through [`ZoneView::after`], because a walk
/// between two NSEC3 owners can cross many names (opt-out chains skip
/// every insecure delegation) and each step must stay cheap.
struct Walk<'a> {
    base: &'a Zone,
    patch: BTreeMap<&'a CanonicalName, Option<&'a Node>>,
}

type Pred<'p> = &'p dyn Fn(&CanonicalName, &Node) -> bool;

impl<'a> Walk<'a> {
    fn new(view: &ZoneView<'a>) -> Self {
        Walk { base: view.base(), patch: view.patch().iter().collect() }
    }

    /// The first name in `range` with data in the next version that
    /// `pred` accepts, from the start (`rev`: from the end). The zone is
    /// searched only up to the patch's candidate, so that a patch of
    /// every name costs no more per step than a small one.
    fn find(&self, range: (Bound<&CanonicalName>, Bound<&CanonicalName>), rev: bool, pred: Pred<'_>) -> Option<CanonicalName> {
        let from_base = |(k, n): (&'a CanonicalName, &'a Node)| (pred(k, n) && !self.patch.contains_key(k)).then_some(k);
        let from_patch = |(k, n): (&&'a CanonicalName, &Option<&'a Node>)| {
            n.filter(|n| (!n.rrsets.is_empty() || !n.signatures.is_empty()) && pred(k, n)).map(|_| *k)
        };
        let mut patch = self.patch.range::<CanonicalName, _>(range);
        let in_patch = if rev { patch.rev().find_map(from_patch) } else { patch.find_map(from_patch) };
        let range = match (in_patch, rev) {
            (None, _) => range,
            (Some(p), false) => (range.0, Bound::Excluded(p)),
            (Some(p), true) => (Bound::Excluded(p), range.1),
        };
        let mut base = self.base.nodes_range(range);
        let in_base = if rev { base.rev().find_map(from_base) } else { base.find_map(from_base) };
        in_base.or(in_patch).cloned()
    }

    /// The first name after `name`, wrapping to the start, that `pred`
    /// accepts.
    fn next(&self, name: &CanonicalName, pred: Pred<'_>) -> Option<CanonicalName> {
        self.find((Bound::Excluded(name), Bound::Unbounded), false, pred)
            .or_else(|| self.find((Bound::Unbounded, Bound::Unbounded), false, pred))
    }

    /// The nearest name before `name`, wrapping to the end, that `pred`
    /// accepts.
    fn prev(&self, name: &CanonicalName, pred: Pred<'_>) -> Option<CanonicalName> {
        self.find((Bound::Unbounded, Bound::Excluded(name)), true, pred)
            .or_else(|| self.find((Bound::Unbounded, Bound::Unbounded), true, pred))
    }
}

/// Whether a name has NS or DNAME: a zone cut below the apex.
fn is_cut(node: Option<&Node>) -> bool {
    node.is_some_and(|n| n.get(Rtype::NS).is_some() || n.get(Rtype::DNAME).is_some())
}

/// Whether a node holds NSEC3 records only: an NSEC3 owner, not a name
/// of the chain (as [`crate::denial::nsec3::chain_members`] decides).
fn only_nsec3(node: &Node) -> bool {
    node.types().all(|t| t == Rtype::NSEC3)
}

/// Whether `name` is an NSEC3 owner in the next version, or was one and
/// is removed.
fn is_hashed(view: &ZoneView<'_>, name: &CanonicalName) -> bool {
    match view.node(name) {
        Some(n) => only_nsec3(n),
        None => view.base().node(&name.0).is_some_and(only_nsec3),
    }
}

fn nsec3_of(node: Option<&Node>) -> Option<(&Rrset, domain::rdata::Nsec3<bytes::Bytes>)> {
    let set = node?.get(Rtype::NSEC3)?;
    Some((set, nsec3_record(set)?))
}

/// The parameters of the NSEC3PARAM RRset, opt-out left clear.
fn params(set: &Rrset) -> Option<Nsec3Config> {
    match set.rdata.first()?.data() {
        ZoneRecordData::Nsec3param(p) => Some(Nsec3Config { iterations: p.iterations(), salt: p.salt().as_slice().to_vec(), opt_out: false }),
        _ => None,
    }
}

fn hashed_owner(config: &Nsec3Config, name: &StoredName, apex: &StoredName) -> Option<(Vec<u8>, CanonicalName)> {
    let hash = config.hash(name).ok()?;
    let owner = Nsec3Config::hashed_owner(&hash, apex).ok()?;
    Some((hash, CanonicalName(owner)))
}

/// The Opt-Out flag (RFC 5155 §3.1.2.1) of the NSEC3 record at `owner`.
fn opt_out(node: Option<&Node>) -> Option<bool> {
    nsec3_of(node).map(|(_, n)| n.flags() & FLAG_OPT_OUT != 0)
}

/// Whether the apex NSEC3 record, whose Opt-Out flag the chain shares,
/// changes that flag: the whole chain changes then.
pub(super) fn opt_out_changed(view: &ZoneView<'_>) -> bool {
    let apex = view.apex();
    let Some(config) = view.rrset(apex, Rtype::NSEC3PARAM).and_then(params) else { return false };
    let Some((_, owner)) = hashed_owner(&config, apex, apex) else { return false };
    matches!((opt_out(view.base().node(&owner.0)), opt_out(view.node(&owner))), (Some(a), Some(b)) if a != b)
}

/// RFC 5155 §7.1: whether a name of `role` is in the chain; with opt-out,
/// insecure delegations are left out.
fn included(role: NameRole, opt_out: bool) -> bool {
    crate::denial::nsec3::in_chain(role, opt_out)
}

/// Whether a name without data is an empty non-terminal of the chain: a
/// name below it is in it (RFC 5155 §7.1). Zone cuts below `name` occlude
/// what is under them, as [`crate::zone::Zone::roles`] decides.
fn has_included_descendant(view: &ZoneView<'_>, name: &CanonicalName, opt_out: bool) -> bool {
    let mut cut: Option<&CanonicalName> = None;
    for (k, n) in view.descendants(name) {
        if cut.is_some_and(|c| k.0.ends_with(&c.0)) {
            continue;
        }
        cut = is_cut(Some(n)).then_some(k);
        let role = match n.get(Rtype::NS) {
            Some(_) => NameRole::Delegation { secure: n.get(Rtype::DS).is_some() },
            None => NameRole::Authoritative,
        };
        if included(role, opt_out) {
            return true;
        }
    }
    false
}

/// What the chain needs for one name.
struct Want {
    name: CanonicalName,
    /// In the chain: its NSEC3 record must exist.
    member: bool,
    /// May have an NSEC3 record (a member, or an insecure delegation
    /// under opt-out: RFC 5155 §7.1 allows either).
    may: bool,
}

fn check_nsec3(view: &ZoneView<'_>, scope: &Scope, param_set: &Rrset, report: &mut Report) {
    let apex = view.apex();
    let apex_name = CanonicalName(apex.clone());
    let mut quiet = Report::default();
    let param_report = if scope.names.contains(&apex_name) { &mut *report } else { &mut quiet };
    let Some(param) = check_nsec3param(apex, param_set, param_report) else { return };
    let Some(mut config) = params(param_set) else { return };
    if let Some((_, owner)) = hashed_owner(&config, apex, apex) {
        config.opt_out = opt_out(view.node(&owner)).or_else(|| opt_out(view.base().node(&owner.0))).unwrap_or(false);
    }
    report.stats.denial = if config.opt_out { "NSEC3 opt-out" } else { "NSEC3" };
    let ttl = denial_ttl(view.node(&apex_name));
    let walk = Walk::new(view);
    // An NSEC3 owner's name is a 32-octet label and the apex: testing the
    // length first spares a walk between owners a look at every node.
    let owner_len = 1 + 32 + apex.as_slice().len();
    let is_owner = |k: &CanonicalName, n: &Node| {
        k.0.as_slice().len() == owner_len && n.get(Rtype::NSEC3).is_some() && owner_hash(k, apex).is_some()
    };
    // Every name of the scope: its NSEC3 record exists with the right
    // bitmap if it is in the chain, and does not exist otherwise.
    let mut wants: BTreeMap<Vec<u8>, Want> = BTreeMap::new();
    let mut records: BTreeSet<CanonicalName> = BTreeSet::new();
    for name in scope.names.iter().filter(|n| !is_hashed(view, n)) {
        let node = view.node(name);
        if let Some(nsec) = node.and_then(|n| n.get(Rtype::NSEC)) {
            report.error(nsec.location.clone(), format!("{name} NSEC"), "zone has both NSEC and NSEC3 records (the apex has an NSEC3PARAM)");
        }
        let role = view.role(name);
        let member = match node {
            Some(_) => included(role, config.opt_out),
            None => role != NameRole::Occluded && has_included_descendant(view, name, config.opt_out),
        };
        let may = member || (node.is_some() && config.opt_out && role == (NameRole::Delegation { secure: false }));
        let Some((hash, owner)) = hashed_owner(&config, &name.0, apex) else { continue };
        match nsec3_of(view.node(&owner)) {
            None if member => report.error(None, name.to_string(), "has no NSEC3 record (expected one for this name's hash)"),
            None => {}
            Some((set, n)) if may => {
                records.insert(owner.clone());
                if member {
                    check_nsec3_bitmap(&owner, name, &n, node, role, set.location.clone(), report);
                }
            }
            Some((set, _)) => {
                let why = match (node, role) {
                    (_, NameRole::Occluded) => "which is below a zone cut and is in no chain",
                    (None, _) => "which has no data and no name below it in the chain",
                    _ => "which is not in the chain",
                };
                report.error(set.location.clone(), format!("{owner} NSEC3"), format!("is for {name}, {why}: remove it (RFC 5155 §7.1)"));
            }
        }
        wants.insert(hash, Want { name: name.clone(), member, may });
    }
    // Every NSEC3 record the patch adds, changes or removes (every one of
    // the zone when the scope is whole) stands for a name of the scope,
    // and its predecessor in the chain is linked past it.
    let mut owners: BTreeSet<CanonicalName> = view.patch().iter().map(|(k, _)| k.clone()).collect();
    if scope.whole {
        owners.extend(view.iter().filter(|(_, n)| n.get(Rtype::NSEC3).is_some()).map(|(k, _)| k.clone()));
    }
    let mut linked: BTreeSet<CanonicalName> = BTreeSet::new();
    let mut known_next: BTreeMap<CanonicalName, CanonicalName> = BTreeMap::new();
    for owner in &owners {
        let record = format!("{owner} NSEC3");
        let old = nsec3_of(view.base().node(&owner.0));
        let hash = owner_hash(owner, apex);
        let want = hash.as_ref().and_then(|h| wants.get(h));
        match (&old, nsec3_of(view.node(owner))) {
            (_, Some((set, n))) => {
                records.insert(owner.clone());
                if hash.is_some() {
                    linked.insert(owner.clone());
                }
                let changed = old.as_ref().is_none_or(|(_, o)| o.types() != n.types());
                if hash.is_some() && (changed || scope.whole) && !want.is_some_and(|w| w.may) {
                    let message = match old {
                        _ if scope.whole => "matches no name in the zone",
                        None => "is new but matches no name that changed",
                        Some(_) => "type bitmap changed but it matches no name that changed",
                    };
                    report.error(set.location.clone(), &record, message);
                }
            }
            (Some((set, _)), None) => match want {
                Some(w) if w.member => report.error(None, &record, format!("removed, but {} still needs it", w.name)),
                Some(_) => {}
                None if hash.is_some() => report.error(set.location.clone(), &record, "removed, but no name that changed has this hash: the name it is for still needs it"),
                None => {}
            },
            (None, None) => continue,
        }
        // With the whole scope, every record is linked already.
        if let Some(prev) = (!scope.whole).then(|| walk.prev(owner, &is_owner)).flatten() {
            // Its successor is this owner when it is present: no walk.
            if view.node(owner).is_some_and(|n| is_owner(owner, n)) {
                known_next.insert(prev.clone(), owner.clone());
            }
            linked.insert(prev);
        }
    }
    for owner in &records {
        let Some((set, _)) = nsec3_of(view.node(owner)) else { continue };
        let Some((_, n)) = check_nsec3_fields(owner, set, apex, &param, ttl, report) else { continue };
        if (n.flags() & FLAG_OPT_OUT != 0) != config.opt_out {
            let (have, chain) = if config.opt_out { ("clear", "set") } else { ("set", "clear") };
            report.error(set.location.clone(), format!("{owner} NSEC3"), format!(
                "Opt-Out flag is {have} but {chain} in the rest of the chain (the apex's NSEC3 record) (RFC 5155 §6)"
            ));
        }
    }
    // RFC 5155 §7.1: each next hashed owner is the following hash.
    for owner in &linked {
        let Some((set, n)) = nsec3_of(view.node(owner)) else { continue };
        let next = known_next.get(owner).cloned().or_else(|| walk.next(owner, &is_owner));
        let Some(next) = next.and_then(|k| owner_hash(&k, apex)) else { continue };
        check_nsec3_next(owner, &n, &next, set.location.clone(), report);
    }
    report.stats.denial_records = records.union(&linked).count();
}

/// The highest zone cut above `name` below the apex: what occludes it.
fn occluding_cut(view: &ZoneView<'_>, name: &CanonicalName) -> Option<CanonicalName> {
    ancestors_below(&name.0, view.apex()).into_iter().map(CanonicalName).find(|a| is_cut(view.node(a)))
}

/// The NSEC owner before `name`: the nearest earlier name with data, or
/// the zone cut that occludes it (everything between a cut and its last
/// descendant is occluded).
fn nsec_predecessor(view: &ZoneView<'_>, walk: &Walk<'_>, name: &CanonicalName) -> Option<CanonicalName> {
    let prev = walk.prev(name, &|_, _| true)?;
    Some(occluding_cut(view, &prev).unwrap_or(prev))
}

/// The NSEC owner after `owner` (itself in the chain): the next name with
/// data that is not below it when it is a zone cut, wrapping to the apex.
fn nsec_successor(view: &ZoneView<'_>, walk: &Walk<'_>, owner: &CanonicalName) -> CanonicalName {
    let apex = view.apex();
    let cut = !owner.0.name_cmp(apex).is_eq() && is_cut(view.node(owner));
    walk.next(owner, &|k, _| !(cut && k.0.ends_with(&owner.0))).unwrap_or_else(|| CanonicalName(apex.clone()))
}

fn check_nsec(view: &ZoneView<'_>, scope: &Scope, report: &mut Report) {
    report.stats.denial = "NSEC";
    let apex = view.apex();
    let ttl = denial_ttl(view.node(&CanonicalName(apex.clone())));
    let walk = Walk::new(view);
    // The names of the scope in the chain, and the chain names before
    // every name of the scope, whose next name may have changed.
    let mut chain: BTreeSet<CanonicalName> = BTreeSet::new();
    for name in &scope.names {
        let node = view.node(name);
        if view.role(name) == NameRole::Occluded {
            check_no_nsec(name, node, report);
        } else if node.is_some() {
            chain.insert(name.clone());
        }
        if !scope.whole {
            chain.extend(nsec_predecessor(view, &walk, name));
        }
    }
    for owner in &chain {
        let next = nsec_successor(view, &walk, owner);
        check_nsec_record(owner, view.node(owner), view.role(owner), &next, ttl, report);
    }
}

/// The TTL of denial records: min(SOA TTL, SOA MINIMUM) (RFC 9077 §3.2),
/// as [`crate::zone::Zone::denial_ttl`] computes it.
pub(super) fn denial_ttl(apex: Option<&Node>) -> Ttl {
    let soa = apex.and_then(|n| n.get(Rtype::SOA));
    match soa.and_then(|s| Some((s.ttl, s.rdata.first()?))) {
        Some((ttl, rdata)) => match rdata.data() {
            ZoneRecordData::Soa(soa) => ttl.min(soa.minimum()),
            _ => Ttl::from_secs(3600),
        },
        None => Ttl::from_secs(3600),
    }
}
