//! The RRsets at one owner name, by type: a small sorted vector rather
//! than a `BTreeMap`. Most names hold one to three types, and a
//! `BTreeMap`'s first insert allocates a whole leaf node (eleven slots,
//! about a kilobyte with a [`crate::zone::Rrset`]) per name: at a million names that
//! is a gigabyte of empty slots in every copy of a zone.

/// RRsets (`R`: [`crate::zone::Rrset`]) keyed by type (the numeric RR
/// type, RFC 1035 §3.2.2), kept in ascending type order as a `BTreeMap`
/// iterates them. Generic only so that this module depends on nothing.
#[derive(Clone, Debug)]
pub struct OwnerRrsets<R> {
    entries: Vec<(u16, R)>,
}

impl<R> Default for OwnerRrsets<R> {
    fn default() -> Self {
        OwnerRrsets { entries: Vec::new() }
    }
}

impl<R> OwnerRrsets<R> {
    fn position(&self, rtype: u16) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&rtype, |(t, _)| *t)
    }

    /// The RRset of `rtype`, if any.
    pub fn get(&self, rtype: &u16) -> Option<&R> {
        self.position(*rtype).ok().map(|i| &self.entries[i].1)
    }

    /// The RRset of `rtype`, mutable, if any.
    pub fn get_mut(&mut self, rtype: &u16) -> Option<&mut R> {
        self.position(*rtype).ok().map(|i| &mut self.entries[i].1)
    }

    /// Whether there is an RRset of `rtype`.
    pub fn contains_key(&self, rtype: &u16) -> bool {
        self.position(*rtype).is_ok()
    }

    /// Puts `rrset` as the RRset of `rtype`, returning the one it replaces.
    pub fn insert(&mut self, rtype: u16, rrset: R) -> Option<R> {
        match self.position(rtype) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, rrset)),
            Err(i) => {
                // Grown one slot at a time: most names never hold more.
                self.entries.reserve_exact(1);
                self.entries.insert(i, (rtype, rrset));
                None
            }
        }
    }

    /// Takes out the RRset of `rtype`, if any.
    pub fn remove(&mut self, rtype: &u16) -> Option<R> {
        self.position(*rtype).ok().map(|i| self.entries.remove(i).1)
    }

    /// The RRsets, owned, in ascending type order.
    pub fn into_values(self) -> impl DoubleEndedIterator<Item = R> + ExactSizeIterator {
        self.entries.into_iter().map(|(_, r)| r)
    }

    /// How many RRsets.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// None at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The types, ascending.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &u16> + ExactSizeIterator + '_ {
        self.entries.iter().map(|(t, _)| t)
    }

    /// The RRsets, in ascending type order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &R> + ExactSizeIterator + '_ {
        self.entries.iter().map(|(_, r)| r)
    }

    /// The RRsets, mutable, in ascending type order.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut R> + ExactSizeIterator + '_ {
        self.entries.iter_mut().map(|(_, r)| r)
    }

    /// (type, RRset) pairs, ascending.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&u16, &R)> + ExactSizeIterator + '_ {
        self.entries.iter().map(|(t, r)| (t, r))
    }
}

impl<'a, R> IntoIterator for &'a OwnerRrsets<R> {
    type Item = (&'a u16, &'a R);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (u16, R)>, fn(&'a (u16, R)) -> (&'a u16, &'a R)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(t, r)| (t, r))
    }
}

#[cfg(test)]
mod tests {
    use super::OwnerRrsets;

    #[test]
    fn types_stay_in_ascending_order_as_in_a_btree_map() {
        let mut map = OwnerRrsets::default();
        let mut reference = std::collections::BTreeMap::new();
        for (t, v) in [(46u16, "rrsig"), (1, "a"), (28, "aaaa"), (1, "a again"), (6, "soa"), (2, "ns")] {
            assert_eq!(map.insert(t, v), reference.insert(t, v));
        }
        assert_eq!(map.remove(&28), reference.remove(&28));
        assert_eq!(map.remove(&99), None);
        assert!(map.iter().eq(reference.iter()));
        assert!(map.keys().eq(reference.keys()));
        assert_eq!(map.get(&1), Some(&"a again"));
        assert!(map.contains_key(&6) && !map.contains_key(&28));
        if let Some(v) = map.get_mut(&2) {
            *v = "ns changed";
        }
        assert_eq!((map.len(), map.values().last()), (4, Some(&"rrsig")));
        assert_eq!(map.get(&2), Some(&"ns changed"));
        assert!(map.into_values().eq(reference.into_values().map(|v| if v == "ns" { "ns changed" } else { v })));
    }
}
