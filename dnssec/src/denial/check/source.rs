//! The baseline an incremental check reads: the previous version's
//! proposed RRsets, in whatever store the signer keeps them.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fmt;
use std::ops::{Bound, ControlFlow};

use domain::base::iana::Rtype;

use crate::denial::nsec3::zone_owner_hash;
use crate::name::CanonicalName;
use crate::zone::{Rrset, Zone};
use crate::StoredName;

/// Read access to a baseline: the proposed RRsets of the previous version
/// ([`Zone::proposed_rrsets`]), trusted to be consistent (its denial
/// records are those its content requires).
///
/// Every method is answerable with one or two ordered-key lookups in a
/// store keyed by [`canonical_key`](crate::name::canonical_key): the
/// RRsets of a name `n` under `canonical_key(n) ‖ 0x00 ‖ type`, and the
/// hashes of the NSEC3 owners under `0xff ‖ hash`, after every name. The
/// notes on each method say how.
///
/// "Names with data" are the owners of at least one RRset of the
/// baseline, NSEC3 owners included.
pub trait ChainSource {
    /// Why the store could not answer.
    type Error: fmt::Display;

    /// The types of the RRsets at `name`; empty when it has none. (Store:
    /// the keys under the prefix `canonical_key(name) ‖ 0x00`.)
    fn types(&self, name: &StoredName) -> Result<Vec<Rtype>, Self::Error>;

    /// The RRset `rtype` at `name`. (Store: one get.)
    fn rrset(&self, name: &StoredName, rtype: Rtype) -> Result<Option<Rrset>, Self::Error>;

    /// The first name with data after `after` in canonical order (RFC
    /// 4034 §6.1), or the first name of all when `after` is `None`;
    /// `None` past the last (no wrap-around). (Store: the first key from
    /// `canonical_key(after) ‖ 0x01`, which is past `after`'s own RRsets.)
    fn next_name(&self, after: Option<&StoredName>) -> Result<Option<StoredName>, Self::Error>;

    /// The last name with data before `before`, or the last name of all
    /// when `before` is `None`; `None` before the first. (Store: the last
    /// key below `canonical_key(before)`, or below 0xff.)
    fn prev_name(&self, before: Option<&StoredName>) -> Result<Option<StoredName>, Self::Error>;

    /// Calls `visit` with every name with data strictly below `name`, in
    /// canonical order, and its types, until `visit` breaks. (Store: one
    /// range scan of the prefix `canonical_key(name)` from
    /// `canonical_key(name) ‖ 0x01`.)
    fn descendants(
        &self,
        name: &StoredName,
        visit: &mut dyn FnMut(&StoredName, &[Rtype]) -> ControlFlow<()>,
    ) -> Result<(), Self::Error>;

    /// The first hash after `after` among the NSEC3 owners' hashes (the
    /// owners `base32hex(hash).apex` with an NSEC3 RRset, RFC 5155 §3), or
    /// the first of all when `after` is `None`; no wrap-around. (Store:
    /// the first key after `0xff ‖ after`.)
    fn next_hash(&self, after: Option<&[u8]>) -> Result<Option<Vec<u8>>, Self::Error>;

    /// The last NSEC3 owner's hash before `before`, or the last of all
    /// when `before` is `None`; no wrap-around. (Store: the last key below
    /// `0xff ‖ before`.)
    fn prev_hash(&self, before: Option<&[u8]>) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// A [`ChainSource`] over a zone in memory (for tests, and for anyone who
/// holds the previous version as a [`Zone`]).
pub struct ZoneSource<'a> {
    zone: &'a Zone,
    hashes: BTreeSet<Vec<u8>>,
}

impl<'a> ZoneSource<'a> {
    /// Indexes the NSEC3 owners of `zone` (one pass over it).
    pub fn new(zone: &'a Zone) -> Self {
        let apex = zone.apex();
        let hashes = zone
            .nodes()
            .filter(|(_, n)| n.get(Rtype::NSEC3).is_some())
            .filter_map(|(k, _)| zone_owner_hash(&k.0, apex))
            .collect();
        ZoneSource { zone, hashes }
    }
}

impl ChainSource for ZoneSource<'_> {
    type Error = Infallible;

    fn types(&self, name: &StoredName) -> Result<Vec<Rtype>, Infallible> {
        Ok(self.zone.node(name).map(|n| n.types().collect()).unwrap_or_default())
    }

    fn rrset(&self, name: &StoredName, rtype: Rtype) -> Result<Option<Rrset>, Infallible> {
        Ok(self.zone.node(name).and_then(|n| n.get(rtype)).cloned())
    }

    fn next_name(&self, after: Option<&StoredName>) -> Result<Option<StoredName>, Infallible> {
        let after = after.map(|n| CanonicalName(n.clone()));
        let range = (after.as_ref().map_or(Bound::Unbounded, Bound::Excluded), Bound::Unbounded);
        Ok(self.zone.nodes_range(range).find(|(_, n)| !n.rrsets.is_empty()).map(|(k, _)| k.0.clone()))
    }

    fn prev_name(&self, before: Option<&StoredName>) -> Result<Option<StoredName>, Infallible> {
        let before = before.map(|n| CanonicalName(n.clone()));
        let range = (Bound::Unbounded, before.as_ref().map_or(Bound::Unbounded, Bound::Excluded));
        Ok(self.zone.nodes_range(range).rev().find(|(_, n)| !n.rrsets.is_empty()).map(|(k, _)| k.0.clone()))
    }

    fn descendants(
        &self,
        name: &StoredName,
        visit: &mut dyn FnMut(&StoredName, &[Rtype]) -> ControlFlow<()>,
    ) -> Result<(), Infallible> {
        let key = CanonicalName(name.clone());
        for (k, node) in self.zone.nodes_range((Bound::Excluded(&key), Bound::Unbounded)) {
            if !k.0.ends_with(name) {
                break;
            }
            if node.rrsets.is_empty() {
                continue;
            }
            let types: Vec<Rtype> = node.types().collect();
            if visit(&k.0, &types).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn next_hash(&self, after: Option<&[u8]>) -> Result<Option<Vec<u8>>, Infallible> {
        let range = (after.map_or(Bound::Unbounded, Bound::Excluded), Bound::Unbounded);
        Ok(self.hashes.range::<[u8], _>(range).next().cloned())
    }

    fn prev_hash(&self, before: Option<&[u8]>) -> Result<Option<Vec<u8>>, Infallible> {
        let range = (Bound::Unbounded, before.map_or(Bound::Unbounded, Bound::Excluded));
        Ok(self.hashes.range::<[u8], _>(range).next_back().cloned())
    }
}
