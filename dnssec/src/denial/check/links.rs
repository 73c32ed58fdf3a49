//! The order of the next version's chain, from the baseline's and what
//! joins and leaves: enough to find a record's neighbours without reading
//! the chain.

use std::collections::BTreeSet;
use std::ops::Bound;

/// The next version's chain: the baseline's members (owner names for
/// NSEC, hashes for NSEC3) without `leaving`, with `joining`.
pub(super) struct Links<K: Ord + Clone> {
    /// Members the baseline's chain does not have.
    pub joining: BTreeSet<K>,
    /// Members of the baseline's chain that go.
    pub leaving: BTreeSet<K>,
}

/// The smaller (`max`: larger) of two optional keys.
fn pick<K: Ord>(a: Option<K>, b: Option<K>, max: bool) -> Option<K> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if (a < b) != max { a } else { b }),
        (a, None) => a,
        (None, b) => b,
    }
}

impl<K: Ord + Clone> Links<K> {
    /// The baseline's first member past `from` (`None`: from the end)
    /// that stays, `step` being the baseline's ordered look-up.
    fn staying<E>(&self, from: Option<&K>, step: &mut impl FnMut(Option<&K>) -> Result<Option<K>, E>) -> Result<Option<K>, E> {
        let mut at = from.cloned();
        loop {
            match step(at.as_ref())? {
                Some(k) if self.leaving.contains(&k) => at = Some(k),
                other => return Ok(other),
            }
        }
    }

    /// The member after `key` in the next version's chain, wrapping
    /// around; `next` is the baseline's "first member after" look-up.
    pub fn successor<E>(&self, key: &K, mut next: impl FnMut(Option<&K>) -> Result<Option<K>, E>) -> Result<Option<K>, E> {
        let joined = self.joining.range((Bound::Excluded(key), Bound::Unbounded)).next().cloned();
        if let Some(k) = pick(self.staying(Some(key), &mut next)?, joined, false) {
            return Ok(Some(k));
        }
        Ok(pick(self.staying(None, &mut next)?, self.joining.first().cloned(), false))
    }

    /// The member before `key` in the next version's chain, wrapping
    /// around; `prev` is the baseline's "last member before" look-up.
    pub fn predecessor<E>(&self, key: &K, mut prev: impl FnMut(Option<&K>) -> Result<Option<K>, E>) -> Result<Option<K>, E> {
        let joined = self.joining.range((Bound::Unbounded, Bound::Excluded(key))).next_back().cloned();
        if let Some(k) = pick(self.staying(Some(key), &mut prev)?, joined, true) {
            return Ok(Some(k));
        }
        Ok(pick(self.staying(None, &mut prev)?, self.joining.last().cloned(), true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base_next(base: &[u8]) -> impl FnMut(Option<&u8>) -> Result<Option<u8>, ()> + '_ {
        move |from| Ok(base.iter().copied().find(|k| from.is_none_or(|f| k > f)))
    }

    fn base_prev(base: &[u8]) -> impl FnMut(Option<&u8>) -> Result<Option<u8>, ()> + '_ {
        move |from| Ok(base.iter().rev().copied().find(|k| from.is_none_or(|f| k < f)))
    }

    #[test]
    fn neighbours_skip_leaving_members_merge_joining_ones_and_wrap() {
        let base = [10, 20, 30, 40];
        let links = Links { joining: BTreeSet::from([25, 45]), leaving: BTreeSet::from([30, 10]) };
        assert_eq!(links.successor(&20, base_next(&base)), Ok(Some(25)));
        assert_eq!(links.successor(&25, base_next(&base)), Ok(Some(40)));
        assert_eq!(links.successor(&45, base_next(&base)), Ok(Some(20)));
        assert_eq!(links.predecessor(&30, base_prev(&base)), Ok(Some(25)));
        assert_eq!(links.predecessor(&20, base_prev(&base)), Ok(Some(45)));
        assert_eq!(links.predecessor(&10, base_prev(&base)), Ok(Some(45)));
        let alone = Links { joining: BTreeSet::from([5]), leaving: BTreeSet::from([10, 20, 30, 40]) };
        assert_eq!(alone.successor(&5, base_next(&base)), Ok(Some(5)));
        assert_eq!(alone.predecessor(&5, base_prev(&base)), Ok(Some(5)));
    }
}
