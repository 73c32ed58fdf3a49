//! A signed zone and new contents for some of its names, seen as one
//! zone without copying it: what an incremental signing plans
//! ([`crate::signing::incremental`]), what its validation checks
//! ([`crate::validate::validate_patch`]) and what a publication applies.
//!
//! A [`ZonePatch`] maps names to their whole new [`Node`] (`None`: the name
//! has no data any more). A [`ZoneView`] answers every question about the
//! next version (a name's data, its role, its neighbours in canonical
//! order) from the patch first and the zone second, so the cost of a
//! question is that of the names it concerns, not of the zone.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use domain::base::iana::{Class, Rtype};
use domain::base::{Record, ToName};
use domain::rdata::ZoneRecordData;

use crate::change_set::{ChangeSet, ChangesError};
use crate::load::{LoadedRecord, SourceLocation};
use crate::name::{ancestors_below, CanonicalName};
use crate::zone::{roles_in_order, NameRole, Node, Rdata, Rrset, SignatureRecord, Zone, ZoneProblem};
use crate::{StoredName, StoredRecord};

/// New contents of some names of a zone.
#[derive(Clone, Debug, Default)]
pub struct ZonePatch {
    nodes: BTreeMap<CanonicalName, Option<Node>>,
}

fn present(node: &Node) -> bool {
    !node.rrsets.is_empty() || !node.signatures.is_empty()
}

impl ZonePatch {
    /// Sets the whole data of `name` (`None` or an empty node: no data).
    pub fn set(&mut self, name: CanonicalName, node: Option<Node>) {
        self.nodes.insert(name, node.filter(present));
    }

    /// Whether the patch says anything about `name`.
    pub fn contains(&self, name: &CanonicalName) -> bool {
        self.nodes.contains_key(name)
    }

    /// The new data of `name`: `None` when the patch does not touch it,
    /// `Some(None)` when the name loses all its data.
    pub fn get(&self, name: &CanonicalName) -> Option<Option<&Node>> {
        self.nodes.get(name).map(Option::as_ref)
    }

    /// The new data of `name`, for changing it further (a name the patch
    /// does not touch yet starts from `base`).
    pub fn node_mut(&mut self, base: &Zone, name: &CanonicalName) -> &mut Node {
        let slot = self.nodes.entry(name.clone()).or_insert_with(|| base.node(&name.0).cloned());
        slot.get_or_insert_with(Node::default)
    }

    /// Names the patch touches, in canonical order, with their new data.
    pub fn iter(&self) -> impl Iterator<Item = (&CanonicalName, Option<&Node>)> {
        self.nodes.iter().map(|(k, v)| (k, v.as_ref()))
    }

    /// Names the patch touches.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether it touches nothing.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Drops empty nodes (after changes through [`ZonePatch::node_mut`]).
    pub fn normalize(&mut self) {
        for v in self.nodes.values_mut() {
            if v.as_ref().is_some_and(|n| !present(n)) {
                *v = None;
            }
        }
    }

    /// The patch that `set` (a signed change set, RFC 1995 §4) makes to
    /// `base`: all or nothing, every record that cannot be removed or
    /// added named with its place.
    pub fn from_changes(base: &Zone, set: &ChangeSet) -> Result<ZonePatch, ChangesError> {
        let mut patch = ZonePatch::default();
        let mut problems = Vec::new();
        let apex = CanonicalName(base.apex().clone());
        let old_soa = base.node(base.apex()).and_then(|n| n.get(Rtype::SOA)).and_then(|s| s.rdata.first());
        let named_soa = Rdata::new(set.old_soa.record.data().clone());
        if old_soa.is_none_or(|s| s.canonical != named_soa.canonical) {
            problems.push(ZoneProblem {
                location: Some(set.old_soa.location.clone()),
                message: format!("these changes apply to serial {}, not to the published version", set.from_serial()),
            });
        }
        for r in &set.removed {
            let node = patch.node_mut(base, &CanonicalName(r.record.owner().clone()));
            if !remove_record(node, &r.record) {
                problems.push(ZoneProblem {
                    location: Some(r.location.clone()),
                    message: format!("cannot remove {}: not in the published version", crate::change_set::record_text(&r.record)),
                });
            }
        }
        for r in &set.added {
            let node = patch.node_mut(base, &CanonicalName(r.record.owner().clone()));
            if !add_record(node, r) {
                problems.push(ZoneProblem {
                    location: Some(r.location.clone()),
                    message: format!("cannot add {}: already there", crate::change_set::record_text(&r.record)),
                });
            }
        }
        let node = patch.node_mut(base, &apex);
        let soa = Rrset::new(base.apex().clone(), Rtype::SOA, set.new_soa.record.ttl(), vec![Rdata::new(set.new_soa.record.data().clone())]);
        node.rrsets.insert(Rtype::SOA.to_int(), soa);
        if !problems.is_empty() {
            return Err(ChangesError { problems });
        }
        patch.normalize();
        Ok(patch)
    }
}

/// The canonical RDATA of an RRSIG record, which identifies it.
fn rrsig_rdata(sig: &SignatureRecord) -> Rdata {
    Rdata::new(ZoneRecordData::Rrsig(sig.rrsig.clone()))
}

fn remove_record(node: &mut Node, record: &StoredRecord) -> bool {
    let rdata = Rdata::new(record.data().clone());
    if record.rtype() == Rtype::RRSIG {
        let before = node.signatures.len();
        node.signatures.retain(|s| !(s.ttl == record.ttl() && rrsig_rdata(s).canonical == rdata.canonical));
        return node.signatures.len() < before;
    }
    let Some(rrset) = node.rrsets.get_mut(&record.rtype().to_int()) else { return false };
    let before = rrset.rdata.len();
    if rrset.ttl != record.ttl() {
        return false;
    }
    rrset.rdata.retain(|r| r.canonical != rdata.canonical);
    let removed = rrset.rdata.len() < before;
    if rrset.rdata.is_empty() {
        node.rrsets.remove(&record.rtype().to_int());
    }
    removed
}

fn add_record(node: &mut Node, r: &LoadedRecord) -> bool {
    let record = &r.record;
    if let ZoneRecordData::Rrsig(rrsig) = record.data() {
        let new = SignatureRecord::read(record.ttl(), rrsig.clone(), Some(r.location.clone()));
        let canonical = rrsig_rdata(&new).canonical;
        if node.signatures.iter().any(|s| rrsig_rdata(s).canonical == canonical) {
            return false;
        }
        node.push_signature(new);
        return true;
    }
    let rdata = Rdata::new(record.data().clone());
    match node.rrsets.get_mut(&record.rtype().to_int()) {
        Some(rrset) => {
            if rrset.rdata.iter().any(|x| x.canonical == rdata.canonical) {
                return false;
            }
            // RFC 2181 §5.2, as when a zone is read: the lower TTL.
            rrset.ttl = rrset.ttl.min(record.ttl());
            let pos = rrset.rdata.partition_point(|x| x.canonical < rdata.canonical);
            rrset.rdata.insert(pos, rdata);
            true
        }
        None => {
            let mut rrset = Rrset::new(record.owner().clone(), record.rtype(), record.ttl(), vec![rdata]);
            rrset.location = Some(r.location.clone());
            node.rrsets.insert(record.rtype().to_int(), rrset);
            true
        }
    }
}

/// Every record of a node, RRSIGs included, as (type, canonical RDATA,
/// TTL) keys with the record.
fn node_records(owner: &StoredName, node: Option<&Node>) -> BTreeMap<(u16, bytes::Bytes, u32), StoredRecord> {
    let mut out = BTreeMap::new();
    let Some(node) = node else { return out };
    for rrset in node.rrsets.values() {
        for rdata in &rrset.rdata {
            out.insert(
                (rrset.rtype.to_int(), rdata.canonical.clone(), rrset.ttl.as_secs()),
                Record::new(owner.clone(), Class::IN, rrset.ttl, rdata.data()),
            );
        }
    }
    for sig in &node.signatures {
        out.insert(
            (Rtype::RRSIG.to_int(), rrsig_rdata(sig).canonical, sig.ttl.as_secs()),
            Record::new(owner.clone(), Class::IN, sig.ttl, ZoneRecordData::Rrsig(sig.rrsig.clone())),
        );
    }
    out
}

/// The next version of a zone: a zone and a patch.
#[derive(Clone, Copy, Debug)]
pub struct ZoneView<'a> {
    base: &'a Zone,
    patch: &'a ZonePatch,
}

/// Names in canonical order from the zone and the patch, the patch
/// winning, names without data skipped.
struct Merged<'a, I, J>
where
    I: Iterator<Item = (&'a CanonicalName, &'a Node)>,
    J: Iterator<Item = (&'a CanonicalName, &'a Option<Node>)>,
{
    base: std::iter::Peekable<I>,
    patch: std::iter::Peekable<J>,
    descending: bool,
}

impl<'a, I, J> Iterator for Merged<'a, I, J>
where
    I: Iterator<Item = (&'a CanonicalName, &'a Node)>,
    J: Iterator<Item = (&'a CanonicalName, &'a Option<Node>)>,
{
    type Item = (&'a CanonicalName, &'a Node);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.base.peek(), self.patch.peek()) {
                (None, None) => return None,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((a, _)), Some((b, _))) => {
                    let o = a.cmp(b);
                    if self.descending { o.reverse() } else { o }
                }
            };
            let item = match order {
                Ordering::Less => self.base.next().map(|(k, n)| (k, Some(n))),
                Ordering::Greater => self.patch.next().map(|(k, n)| (k, n.as_ref())),
                Ordering::Equal => {
                    self.base.next();
                    self.patch.next().map(|(k, n)| (k, n.as_ref()))
                }
            };
            match item {
                None => return None,
                Some((k, Some(n))) if present(n) => return Some((k, n)),
                Some(_) => continue,
            }
        }
    }
}

impl<'a> ZoneView<'a> {
    /// `base` with `patch` applied.
    pub fn new(base: &'a Zone, patch: &'a ZonePatch) -> ZoneView<'a> {
        ZoneView { base, patch }
    }

    /// The zone as published.
    pub fn base(&self) -> &'a Zone {
        self.base
    }

    /// The patch.
    pub fn patch(&self) -> &'a ZonePatch {
        self.patch
    }

    /// The apex.
    pub fn apex(&self) -> &'a StoredName {
        self.base.apex()
    }

    /// The data at `name` in the next version.
    pub fn node(&self, name: &CanonicalName) -> Option<&'a Node> {
        match self.patch.nodes.get(name) {
            Some(n) => n.as_ref().filter(|n| present(n)),
            None => self.base.node(&name.0),
        }
    }

    /// The RRset `rtype` at `name` in the next version.
    pub fn rrset(&self, name: &StoredName, rtype: Rtype) -> Option<&'a Rrset> {
        self.node(&CanonicalName(name.clone()))?.get(rtype)
    }

    /// The role of `name` in the next version (RFC 4035 §2.2): as
    /// [`Zone::roles`] decides it, from the name's ancestors.
    pub fn role(&self, name: &CanonicalName) -> NameRole {
        let apex = self.apex();
        if name.0.name_cmp(apex) == Ordering::Equal {
            return NameRole::Apex;
        }
        for ancestor in ancestors_below(&name.0, apex) {
            if let Some(n) = self.node(&CanonicalName(ancestor)) {
                if n.get(Rtype::NS).is_some() || n.get(Rtype::DNAME).is_some() {
                    return NameRole::Occluded;
                }
            }
        }
        match self.node(name) {
            Some(n) if n.get(Rtype::NS).is_some() => NameRole::Delegation { secure: n.get(Rtype::DS).is_some() },
            _ => NameRole::Authoritative,
        }
    }

    /// Every name with data, in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a CanonicalName, &'a Node)> {
        Merged { base: self.base.nodes().peekable(), patch: self.patch.nodes.iter().peekable(), descending: false }
    }

    /// Every name with data, last first.
    pub fn iter_rev(&self) -> impl Iterator<Item = (&'a CanonicalName, &'a Node)> {
        let all = (Bound::Unbounded, Bound::Unbounded);
        Merged {
            base: self.base.nodes_range(all).rev().peekable(),
            patch: self.patch.nodes.range::<CanonicalName, _>(all).rev().peekable(),
            descending: true,
        }
    }

    /// Names with data after `name`, in canonical order.
    pub fn after(&self, name: &CanonicalName) -> impl Iterator<Item = (&'a CanonicalName, &'a Node)> {
        let range = (Bound::Excluded(name), Bound::Unbounded);
        Merged { base: self.base.nodes_range(range).peekable(), patch: self.patch.nodes.range::<CanonicalName, _>(range).peekable(), descending: false }
    }

    /// Names with data before `name`, nearest first.
    pub fn before(&self, name: &CanonicalName) -> impl Iterator<Item = (&'a CanonicalName, &'a Node)> {
        let range = (Bound::Unbounded, Bound::Excluded(name));
        Merged {
            base: self.base.nodes_range(range).rev().peekable(),
            patch: self.patch.nodes.range::<CanonicalName, _>(range).rev().peekable(),
            descending: true,
        }
    }

    /// Names with data below `name` (canonical order puts them right
    /// after it).
    pub fn descendants(&self, name: &CanonicalName) -> impl Iterator<Item = (&'a CanonicalName, &'a Node)> {
        let parent = name.0.clone();
        self.after(name).take_while(move |(k, _)| k.0.ends_with(&parent))
    }

    /// Every RRset of the next version that carries signatures, in
    /// canonical order (a whole-zone walk: for full proposals only).
    pub fn signed_rrsets(&self) -> Vec<&'a Rrset> {
        roles_in_order(self.apex(), self.iter())
            .flat_map(|(_, node, role)| node.rrsets.values().filter(move |r| Zone::is_signed(role, r.rtype)))
            .collect()
    }

    /// Every RRset of the next version a signer is proposed
    /// ([`Zone::is_proposed`]: the signed ones and delegations' NS), in
    /// canonical order (a whole-zone walk: for full proposals only).
    pub fn proposed_rrsets(&self) -> Vec<&'a Rrset> {
        roles_in_order(self.apex(), self.iter())
            .flat_map(|(_, node, role)| node.rrsets.values().filter(move |r| Zone::is_proposed(role, r.rtype)))
            .collect()
    }

    /// The records that change from the zone to the next version, as a
    /// change set (RFC 1995 §4); `source` names it in messages. `None`
    /// when either version has no SOA.
    pub fn changes(&self, source: &Path) -> Option<ChangeSet> {
        let file: Arc<Path> = Arc::from(source);
        let at = |record: StoredRecord| LoadedRecord { record, location: SourceLocation { file: file.clone(), line: 0 } };
        let apex = self.apex();
        let soa_of = |node: Option<&Node>| -> Option<StoredRecord> {
            let set = node?.get(Rtype::SOA)?;
            Some(Record::new(apex.clone(), Class::IN, set.ttl, set.rdata.first()?.data()))
        };
        let old_soa = soa_of(self.base.node(apex))?;
        let new_soa = soa_of(self.node(&CanonicalName(apex.clone())))?;
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        for (name, new) in self.patch.iter() {
            let old = node_records(&name.0, self.base.node(&name.0));
            let new = node_records(&name.0, new);
            for (k, r) in &old {
                if k.0 != Rtype::SOA.to_int() && !new.contains_key(k) {
                    removed.push(at(r.clone()));
                }
            }
            for (k, r) in new {
                if k.0 != Rtype::SOA.to_int() && !old.contains_key(&k) {
                    added.push(at(r));
                }
            }
        }
        Some(ChangeSet { old_soa: at(old_soa), removed, new_soa: at(new_soa), added })
    }
}

impl Zone {
    /// Applies `patch`: afterwards the zone is the [`ZoneView`] of both.
    pub fn apply_patch(&mut self, patch: ZonePatch) {
        for (name, node) in patch.nodes {
            match node {
                Some(n) => self.set_node(name, n),
                None => self.remove_node(&name),
            }
        }
    }
}
