//! The next version seen through a baseline and a change ([`Increment`]): each question
//! is answered from the change first and the baseline second, and the
//! baseline's answers are remembered, so that a check asks the store
//! about each name once.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Bound, ControlFlow};

use domain::base::iana::Rtype;
use domain::base::ToName;

use super::source::ChainSource;
use crate::name::{ancestors_below, CanonicalName};
use crate::rrset_diff::{RrsetChange, ZoneDiff};
use crate::zone::{NameRole, Rrset, Zone};
use crate::StoredName;

/// A change from one version's proposed RRsets to the next's.
#[derive(Clone, Debug, Default)]
pub struct Increment {
    /// RRsets of the next version that are new or may differ, with their
    /// whole new content (a put may equal the old content, as when an
    /// RRset is only re-signed), keyed by owner and type.
    pub puts: BTreeMap<(CanonicalName, u16), Rrset>,
    /// RRsets of the previous version that the next one does not have.
    pub removed: BTreeSet<(CanonicalName, u16)>,
}

impl Increment {
    /// Puts `rrset`.
    pub fn put(&mut self, rrset: Rrset) {
        self.puts.insert((CanonicalName(rrset.owner.clone()), rrset.rtype.to_int()), rrset);
    }

    /// Removes the RRset `rtype` at `owner`.
    pub fn remove(&mut self, owner: &StoredName, rtype: Rtype) {
        self.removed.insert((CanonicalName(owner.clone()), rtype.to_int()));
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.removed.is_empty()
    }

    /// The change from `old` to `new` (two versions' proposed RRsets): a
    /// put for every RRset added or changed, a removal for every RRset
    /// gone. A walk of both versions: for tests and for holders of two
    /// whole versions.
    pub fn between<'a>(old: impl IntoIterator<Item = &'a Rrset>, new: impl IntoIterator<Item = &'a Rrset>) -> Increment {
        let diff = ZoneDiff::between(old.into_iter().cloned(), new.into_iter().cloned());
        let mut change = Increment::default();
        for c in diff.changes {
            match c {
                RrsetChange::Added(r) | RrsetChange::Changed { new: r, .. } => change.put(r),
                RrsetChange::Removed(r) => change.remove(&r.owner, r.rtype),
            }
        }
        change
    }

    /// Applies the change to `zone` (the whole next version, as a caller
    /// answering [`super::IncrementCheck::NeedsWhole`] materializes it).
    pub fn apply_to(&self, zone: &mut Zone) {
        for (name, rtype) in &self.removed {
            if let Some(node) = zone.node(&name.0) {
                let mut node = node.clone();
                node.rrsets.remove(rtype);
                if node.rrsets.is_empty() && node.signatures.is_empty() {
                    zone.remove_node(name);
                } else {
                    zone.set_node(name.clone(), node);
                }
            }
        }
        for ((_, rtype), rrset) in &self.puts {
            zone.node_mut(&rrset.owner).rrsets.insert(*rtype, rrset.clone());
        }
    }
}

/// Types that are data: everything but the denial records themselves,
/// which the generator strips before it builds a chain.
pub(super) fn data_types(types: &BTreeSet<u16>) -> BTreeSet<u16> {
    types.iter().copied().filter(|t| *t != Rtype::NSEC.to_int() && *t != Rtype::NSEC3.to_int()).collect()
}

/// NS or DNAME: a zone cut below the apex (RFC 4035 §2.2, RFC 6672 §2.3).
pub(super) fn has_cut(types: &BTreeSet<u16>) -> bool {
    types.contains(&Rtype::NS.to_int()) || types.contains(&Rtype::DNAME.to_int())
}

/// The role a name with these data types has when no ancestor is a cut.
pub(super) fn own_role(types: &BTreeSet<u16>) -> NameRole {
    if types.contains(&Rtype::NS.to_int()) {
        NameRole::Delegation { secure: types.contains(&Rtype::DS.to_int()) }
    } else {
        NameRole::Authoritative
    }
}

/// The next version: `base` with `change` applied.
pub(super) struct Next<'a, S: ChainSource> {
    pub base: &'a S,
    pub apex: &'a StoredName,
    pub change: &'a Increment,
    /// Names whose data (not denial) RRsets the change puts or removes.
    touched: BTreeSet<CanonicalName>,
    types: BTreeMap<CanonicalName, BTreeSet<u16>>,
    rrsets: BTreeMap<(CanonicalName, u16), Option<Rrset>>,
    next_hashes: BTreeMap<Option<Vec<u8>>, Option<Vec<u8>>>,
    prev_hashes: BTreeMap<Option<Vec<u8>>, Option<Vec<u8>>>,
    next_names: BTreeMap<Option<CanonicalName>, Option<CanonicalName>>,
    prev_names: BTreeMap<Option<CanonicalName>, Option<CanonicalName>>,
}

impl<'a, S: ChainSource> Next<'a, S> {
    pub fn new(base: &'a S, apex: &'a StoredName, change: &'a Increment) -> Self {
        let denial = |t: u16| t == Rtype::NSEC.to_int() || t == Rtype::NSEC3.to_int();
        let touched = change
            .puts
            .keys()
            .chain(change.removed.iter())
            .filter(|(_, t)| !denial(*t))
            .map(|(n, _)| n.clone())
            .collect();
        Next {
            base,
            apex,
            change,
            touched,
            types: BTreeMap::new(),
            rrsets: BTreeMap::new(),
            next_hashes: BTreeMap::new(),
            prev_hashes: BTreeMap::new(),
            next_names: BTreeMap::new(),
            prev_names: BTreeMap::new(),
        }
    }

    /// Names whose data the change puts or removes, in canonical order.
    pub fn touched(&self) -> &BTreeSet<CanonicalName> {
        &self.touched
    }

    /// The names of [`Next::touched`] strictly below `name`.
    pub fn touched_below(&self, name: &CanonicalName) -> Vec<CanonicalName> {
        self.touched
            .range::<CanonicalName, _>((Bound::Excluded(name), Bound::Unbounded))
            .take_while(|k| k.0.ends_with(&name.0))
            .cloned()
            .collect()
    }

    /// The types at `name` in the baseline.
    pub fn base_types(&mut self, name: &CanonicalName) -> Result<BTreeSet<u16>, S::Error> {
        if let Some(t) = self.types.get(name) {
            return Ok(t.clone());
        }
        let types: BTreeSet<u16> = self.base.types(&name.0)?.into_iter().map(|t| t.to_int()).collect();
        self.types.insert(name.clone(), types.clone());
        Ok(types)
    }

    /// The RRset `rtype` at `name` in the baseline.
    pub fn base_rrset(&mut self, name: &CanonicalName, rtype: Rtype) -> Result<Option<Rrset>, S::Error> {
        let key = (name.clone(), rtype.to_int());
        if let Some(r) = self.rrsets.get(&key) {
            return Ok(r.clone());
        }
        // A name whose types are known needs no look-up for a type it lacks.
        let rrset = match self.types.get(name) {
            Some(types) if !types.contains(&rtype.to_int()) => None,
            _ => self.base.rrset(&name.0, rtype)?,
        };
        self.rrsets.insert(key, rrset.clone());
        Ok(rrset)
    }

    /// The types at `name` in the next version.
    pub fn types(&mut self, name: &CanonicalName) -> Result<BTreeSet<u16>, S::Error> {
        let mut types = self.base_types(name)?;
        let range = (name.clone(), 0)..=(name.clone(), u16::MAX);
        for (_, t) in self.change.removed.range(range.clone()) {
            types.remove(t);
        }
        types.extend(self.change.puts.range(range).map(|((_, t), _)| *t));
        Ok(types)
    }

    /// The data types at `name` in the next version (denial excluded).
    pub fn data(&mut self, name: &CanonicalName) -> Result<BTreeSet<u16>, S::Error> {
        Ok(data_types(&self.types(name)?))
    }

    /// The data types at `name` in the baseline.
    pub fn base_data(&mut self, name: &CanonicalName) -> Result<BTreeSet<u16>, S::Error> {
        Ok(data_types(&self.base_types(name)?))
    }

    /// The RRset `rtype` at `name` in the next version.
    pub fn rrset(&mut self, name: &CanonicalName, rtype: Rtype) -> Result<Option<Rrset>, S::Error> {
        let key = (name.clone(), rtype.to_int());
        if let Some(put) = self.change.puts.get(&key) {
            return Ok(Some(put.clone()));
        }
        if self.change.removed.contains(&key) {
            return Ok(None);
        }
        self.base_rrset(name, rtype)
    }

    /// The zone cut above `name` (below the apex) that occludes it in the
    /// next version, if any.
    pub fn occluding_cut(&mut self, name: &CanonicalName) -> Result<Option<StoredName>, S::Error> {
        for ancestor in ancestors_below(&name.0, self.apex) {
            if has_cut(&self.data(&CanonicalName(ancestor.clone()))?) {
                return Ok(Some(ancestor));
            }
        }
        Ok(None)
    }

    /// The role of `name` in the next version (RFC 4035 §2.2), as
    /// [`crate::zone::Zone::roles`] decides it.
    pub fn role(&mut self, name: &CanonicalName) -> Result<NameRole, S::Error> {
        if name.0.name_cmp(self.apex).is_eq() {
            return Ok(NameRole::Apex);
        }
        if self.occluding_cut(name)?.is_some() {
            return Ok(NameRole::Occluded);
        }
        Ok(own_role(&self.data(name)?))
    }

    /// The role of `name` in the baseline, which has no occluded data.
    pub fn base_role(&mut self, name: &CanonicalName) -> Result<NameRole, S::Error> {
        if name.0.name_cmp(self.apex).is_eq() {
            return Ok(NameRole::Apex);
        }
        Ok(own_role(&self.base_data(name)?))
    }

    /// The baseline's first NSEC3 hash after `after` (remembered).
    pub fn next_hash(&mut self, after: Option<&[u8]>) -> Result<Option<Vec<u8>>, S::Error> {
        let key = after.map(<[u8]>::to_vec);
        if let Some(h) = self.next_hashes.get(&key) {
            return Ok(h.clone());
        }
        let h = self.base.next_hash(after)?;
        self.next_hashes.insert(key, h.clone());
        Ok(h)
    }

    /// The baseline's last NSEC3 hash before `before` (remembered).
    pub fn prev_hash(&mut self, before: Option<&[u8]>) -> Result<Option<Vec<u8>>, S::Error> {
        let key = before.map(<[u8]>::to_vec);
        if let Some(h) = self.prev_hashes.get(&key) {
            return Ok(h.clone());
        }
        let h = self.base.prev_hash(before)?;
        self.prev_hashes.insert(key, h.clone());
        Ok(h)
    }

    /// The baseline's first name with data after `after` (remembered).
    pub fn next_name(&mut self, after: Option<&CanonicalName>) -> Result<Option<CanonicalName>, S::Error> {
        let key = after.cloned();
        if let Some(n) = self.next_names.get(&key) {
            return Ok(n.clone());
        }
        let n = self.base.next_name(after.map(CanonicalName::name))?.map(CanonicalName);
        self.next_names.insert(key, n.clone());
        Ok(n)
    }

    /// The baseline's last name with data before `before` (remembered).
    pub fn prev_name(&mut self, before: Option<&CanonicalName>) -> Result<Option<CanonicalName>, S::Error> {
        let key = before.cloned();
        if let Some(n) = self.prev_names.get(&key) {
            return Ok(n.clone());
        }
        let n = self.base.prev_name(before.map(CanonicalName::name))?.map(CanonicalName);
        self.prev_names.insert(key, n.clone());
        Ok(n)
    }

    /// Calls `visit` with every baseline name strictly below `name` and
    /// its types, until it breaks.
    pub fn base_descendants(
        &self,
        name: &StoredName,
        visit: &mut dyn FnMut(&StoredName, &[Rtype]) -> ControlFlow<()>,
    ) -> Result<(), S::Error> {
        self.base.descendants(name, visit)
    }
}
