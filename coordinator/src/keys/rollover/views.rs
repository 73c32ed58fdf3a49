//! Whether every view a validating resolver can hold validates, over a
//! timeline of what the zone and its parent published: the property a
//! rollover must keep at every moment (RFC 6781 §4.1, RFC 7583 §2).
//!
//! A version of an RRset published from `from` until the next one at
//! `until` can be served by some server until `until` plus the
//! propagation delay, and a resolver that fetched it then keeps it for
//! its TTL. Resolvers fetch the DS, the DNSKEY RRset and the zone's data
//! at different times, so any cached DS version may meet any cached
//! DNSKEY version and any cached data version. Each such view must
//! validate:
//!
//! * the DNSKEY RRset: one of its signers is in the DS set and in the
//!   DNSKEY RRset (RFC 4035 §5.2);
//! * the data: one of its signers is in the DNSKEY RRset (RFC 4035 §5.3).

use std::collections::BTreeSet;

use super::timing::RolloverTimings;

/// What the zone publishes about its keys, by key tag.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySet {
    /// The DNSKEY RRset.
    pub dnskey: BTreeSet<u16>,
    /// The keys whose RRSIGs cover the DNSKEY RRset.
    pub signs_keys: BTreeSet<u16>,
    /// The keys whose RRSIGs cover every other RRset.
    pub signs_zone: BTreeSet<u16>,
    /// The keys the CDS and CDNSKEY RRsets ask the parent for (RFC 7344).
    pub cds: BTreeSet<u16>,
}

/// Something that changes at a moment and holds until the next change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published<T> {
    /// When it was published (seconds).
    pub at: u64,
    /// What.
    pub value: T,
}

/// A view that does not validate, and when a resolver can hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenView {
    /// The moment (seconds).
    pub at: u64,
    /// The DS set cached.
    pub ds: BTreeSet<u16>,
    /// The DNSKEY RRset cached (and its signers).
    pub keys: KeySet,
    /// The signers of the data cached.
    pub data_signers: BTreeSet<u16>,
    /// What fails: "DNSKEY" or "data".
    pub fails: &'static str,
}

/// The versions of a timeline a resolver can hold at `t`: published by
/// then, and served until the next one plus `delay`, fetched at the last
/// moment and kept for `ttl`.
fn cached<T>(timeline: &[Published<T>], t: u64, delay: u64, ttl: u64) -> impl Iterator<Item = &T> {
    timeline.iter().enumerate().filter_map(move |(i, p)| {
        let replaced = timeline.get(i + 1).map_or(u64::MAX, |next| next.at.saturating_add(delay).saturating_add(ttl));
        (p.at <= t && t < replaced).then_some(&p.value)
    })
}

/// Every moment at which the set of cached versions can change, and the
/// second before it.
fn moments<T>(timeline: &[Published<T>], delay: u64, ttls: &[u64]) -> Vec<u64> {
    let mut out = Vec::new();
    for (i, p) in timeline.iter().enumerate() {
        out.push(p.at);
        if i > 0 {
            for ttl in ttls {
                let end = p.at.saturating_add(delay).saturating_add(*ttl);
                out.extend([end.saturating_sub(1), end]);
            }
        }
    }
    out
}

/// The first view of `zone` (the zone's key sets over time) and `parent`
/// (its DS sets over time) that does not validate, if any. Both timelines
/// are in time order and start with what was published before the
/// rollover.
pub fn first_broken_view(zone: &[Published<KeySet>], parent: &[Published<BTreeSet<u16>>], timings: &RolloverTimings) -> Option<BrokenView> {
    let dprp = timings.propagation_delay;
    let mut times = moments(zone, dprp, &[timings.dnskey_ttl, timings.max_zone_ttl]);
    times.extend(moments(parent, timings.parent_delay, &[timings.ds_ttl]));
    times.sort_unstable();
    times.dedup();
    for t in times {
        for ds in cached(parent, t, timings.parent_delay, timings.ds_ttl) {
            for keys in cached(zone, t, dprp, timings.dnskey_ttl) {
                let anchored = keys.signs_keys.iter().any(|k| ds.contains(k) && keys.dnskey.contains(k));
                if !anchored {
                    let data_signers = BTreeSet::new();
                    return Some(BrokenView { at: t, ds: ds.clone(), keys: keys.clone(), data_signers, fails: "DNSKEY" });
                }
                for data in cached(zone, t, dprp, timings.max_zone_ttl) {
                    if !data.signs_zone.iter().any(|k| keys.dnskey.contains(k)) {
                        let data_signers = data.signs_zone.clone();
                        return Some(BrokenView { at: t, ds: ds.clone(), keys: keys.clone(), data_signers, fails: "data" });
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::rollover::timing::TEST_TIMINGS;

    const T: RolloverTimings = TEST_TIMINGS;

    fn set(tags: &[u16]) -> BTreeSet<u16> {
        tags.iter().copied().collect()
    }

    fn keys(dnskey: &[u16], signs_keys: &[u16], signs_zone: &[u16]) -> KeySet {
        KeySet { dnskey: set(dnskey), signs_keys: set(signs_keys), signs_zone: set(signs_zone), cds: BTreeSet::new() }
    }

    #[test]
    fn a_zsk_swapped_without_pre_publication_breaks_cached_views() {
        let parent = [Published { at: 0, value: set(&[1]) }];
        let zone = [
            Published { at: 0, value: keys(&[1, 2], &[1], &[2]) },
            Published { at: 100_000, value: keys(&[1, 3], &[1], &[3]) },
        ];
        let broken = first_broken_view(&zone, &parent, &T).expect("a broken view");
        assert_eq!((broken.at, broken.fails), (100_000, "data"));
    }

    #[test]
    fn a_zsk_pre_published_long_enough_keeps_every_view() {
        let parent = [Published { at: 0, value: set(&[1]) }];
        let ipub = T.publish_interval();
        let zone = [
            Published { at: 0, value: keys(&[1, 2], &[1], &[2]) },
            Published { at: 100_000, value: keys(&[1, 2, 3], &[1], &[2]) },
            Published { at: 100_000 + ipub, value: keys(&[1, 2, 3], &[1], &[3]) },
            Published { at: 100_000 + ipub + T.retire_interval(), value: keys(&[1, 3], &[1], &[3]) },
        ];
        assert_eq!(first_broken_view(&zone, &parent, &T), None);
        // One second too early for either step breaks a view.
        let mut early = zone.clone();
        early[2].at -= 1;
        assert!(first_broken_view(&early, &parent, &T).is_some());
        let mut early = zone;
        early[3].at -= 1;
        assert!(first_broken_view(&early, &parent, &T).is_some());
    }

    #[test]
    fn a_ds_for_a_key_not_signing_the_dnskey_rrset_breaks_it() {
        let zone = [Published { at: 0, value: keys(&[1, 2], &[1], &[2]) }];
        let parent = [Published { at: 0, value: set(&[1]) }, Published { at: 50, value: set(&[9]) }];
        let broken = first_broken_view(&zone, &parent, &T).expect("a broken view");
        assert_eq!(broken.fails, "DNSKEY");
        assert_eq!(broken.ds, set(&[9]));
    }
}
