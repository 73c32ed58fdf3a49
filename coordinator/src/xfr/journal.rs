//! The journal of signed change sets each zone's IXFR is served from
//! (RFC 1995 §4).
//!
//! A journal is a chain: each set starts at the serial the one before it
//! ends with, and the last ends at the published version. An IXFR from
//! serial `s` is answered with every set from the one starting at `s`; a
//! serial the journal does not start a set at gets the whole zone, which
//! RFC 1995 §4 allows ("If incremental zone transfer is not available, the
//! entire zone is returned").
//!
//! The journal holds [`ChangeSet`]s, so it is persisted and rebuilt from
//! their text form ([`ChangeSet::to_text`], [`ChangeSet::parse`]).

use std::collections::VecDeque;
use std::future::{ready, Future};
use std::pin::Pin;
use std::sync::Arc;

use domain::base::iana::Rtype;
use domain::base::{Serial, ToName};
use domain::zonetree::{SharedRrset, ZoneDiff};
use frostzone_dnssec::change_set::ChangeSet;
use frostzone_dnssec::StoredName;
use futures_util::stream;

use super::snapshot::group_rrsets;

/// One journal entry in the form the XFR middleware streams: the removed
/// and added RRsets, each SOA included (the middleware takes the SOAs with
/// [`ZoneDiff::get_removed`]/[`ZoneDiff::get_added`] and skips them in the
/// streams).
///
/// `domain`'s `InMemoryZoneDiff` is not used: it keys RRsets by owner and
/// type only, so two RRSIG RRsets of one owner with different TTLs would
/// collide, and its builder cancels a removal by an addition of equal
/// RDATA, which turns a TTL change (RFC 1995 §4: remove, then add) into
/// nothing.
#[derive(Debug)]
pub struct JournalDiff {
    start: Serial,
    end: Serial,
    removed: Vec<((StoredName, Rtype), SharedRrset)>,
    added: Vec<((StoredName, Rtype), SharedRrset)>,
}

type Entry = ((StoredName, Rtype), SharedRrset);
type EntryRef<'a> = (&'a (StoredName, Rtype), &'a SharedRrset);

fn entry_ref(e: &Entry) -> EntryRef<'_> {
    (&e.0, &e.1)
}

fn keyed(rrsets: Vec<(StoredName, SharedRrset)>) -> Vec<Entry> {
    rrsets.into_iter().map(|(owner, rrset)| ((owner, rrset.rtype()), rrset)).collect()
}

impl JournalDiff {
    /// The set in streaming form.
    pub fn new(set: &ChangeSet) -> JournalDiff {
        let removed = std::iter::once(&set.old_soa).chain(&set.removed).map(|r| &r.record);
        let added = std::iter::once(&set.new_soa).chain(&set.added).map(|r| &r.record);
        JournalDiff {
            start: Serial(set.from_serial()),
            end: Serial(set.to_serial()),
            removed: keyed(group_rrsets(removed)),
            added: keyed(group_rrsets(added)),
        }
    }

    fn find<'a>(list: &'a [Entry], name: &impl ToName, rtype: Rtype) -> Option<&'a SharedRrset> {
        list.iter().find(|((owner, t), _)| *t == rtype && owner.name_eq(name)).map(|(_, r)| r)
    }
}

impl ZoneDiff for JournalDiff {
    type Item<'a> = EntryRef<'a>;
    type Stream<'a> = stream::Iter<std::iter::Map<std::slice::Iter<'a, Entry>, fn(&'a Entry) -> EntryRef<'a>>>;

    fn start_serial(&self) -> Pin<Box<dyn Future<Output = Serial> + Send + '_>> {
        Box::pin(ready(self.start))
    }

    fn end_serial(&self) -> Pin<Box<dyn Future<Output = Serial> + Send + '_>> {
        Box::pin(ready(self.end))
    }

    fn added(&self) -> Self::Stream<'_> {
        stream::iter(self.added.iter().map(entry_ref as fn(&Entry) -> EntryRef<'_>))
    }

    fn removed(&self) -> Self::Stream<'_> {
        stream::iter(self.removed.iter().map(entry_ref as fn(&Entry) -> EntryRef<'_>))
    }

    fn get_added(&self, name: impl ToName, rtype: Rtype) -> Pin<Box<dyn Future<Output = Option<&SharedRrset>> + Send + '_>> {
        Box::pin(ready(JournalDiff::find(&self.added, &name, rtype)))
    }

    fn get_removed(
        &self,
        name: impl ToName,
        rtype: Rtype,
    ) -> Pin<Box<dyn Future<Output = Option<&SharedRrset>> + Send + '_>> {
        Box::pin(ready(JournalDiff::find(&self.removed, &name, rtype)))
    }
}

#[derive(Clone, Debug)]
struct JournalEntry {
    set: Arc<ChangeSet>,
    diff: Arc<JournalDiff>,
    records: usize,
}

/// A zone's change sets, oldest first.
#[derive(Clone, Debug)]
pub struct Journal {
    limit: usize,
    entries: VecDeque<JournalEntry>,
}

impl Journal {
    /// An empty journal keeping at most `limit` sets.
    pub fn new(limit: usize) -> Journal {
        Journal { limit, entries: VecDeque::new() }
    }

    /// Rebuilds a journal from persisted sets (oldest first). Sets that do
    /// not chain onto the ones after them are dropped, oldest first.
    pub fn from_change_sets(limit: usize, sets: Vec<ChangeSet>, zone_records: usize) -> Journal {
        let mut journal = Journal::new(limit);
        for set in sets {
            journal.push(set, zone_records);
        }
        journal
    }

    /// Appends `set`; a set that does not start where the journal ends
    /// starts a new chain (the old one can no longer reach the newest
    /// serial). Then the oldest sets are dropped while more than `limit`
    /// are kept, or while the journal holds more records than the zone
    /// itself: RFC 1995 §5 "Information about older versions should be
    /// purged if the total length of an IXFR response would be longer than
    /// that of an AXFR response."
    pub fn push(&mut self, set: ChangeSet, zone_records: usize) {
        if self.last_serial().is_some_and(|s| s != set.from_serial()) {
            self.entries.clear();
        }
        let records = 2 + set.removed.len() + set.added.len();
        let diff = Arc::new(JournalDiff::new(&set));
        self.entries.push_back(JournalEntry { set: Arc::new(set), diff, records });
        let mut total: usize = self.entries.iter().map(|e| e.records).sum();
        while self.entries.len() > self.limit || (total > zone_records && !self.entries.is_empty()) {
            if let Some(dropped) = self.entries.pop_front() {
                total -= dropped.records;
            }
        }
    }

    /// The serial the newest set ends at.
    pub fn last_serial(&self) -> Option<u32> {
        self.entries.back().map(|e| e.set.to_serial())
    }

    /// The oldest serial an IXFR can start from.
    pub fn first_serial(&self) -> Option<u32> {
        self.entries.front().map(|e| e.set.from_serial())
    }

    /// Number of sets.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No sets at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The sets, oldest first, for persisting.
    pub fn change_sets(&self) -> impl Iterator<Item = &ChangeSet> {
        self.entries.iter().map(|e| e.set.as_ref())
    }

    /// The difference sequences from `serial` to the newest version, or
    /// `None` when no set starts at `serial`.
    pub fn diffs_from(&self, serial: u32) -> Option<Vec<Arc<JournalDiff>>> {
        let start = self.entries.iter().position(|e| e.set.from_serial() == serial)?;
        Some(self.entries.iter().skip(start).map(|e| e.diff.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frostzone_dnssec::load::load_zone_text;
    use std::path::Path;
    use std::str::FromStr;

    fn set(from: u32, to: u32, body: &str) -> ChangeSet {
        let apex = StoredName::from_str("example.").unwrap();
        let text = format!("@ 300 IN SOA ns hm {from} 1 1 1 1\n@ 300 IN SOA ns hm {to} 1 1 1 1\n{body}");
        ChangeSet::parse(load_zone_text(&text, Path::new("t"), &apex).unwrap()).unwrap().remove(0)
    }

    #[test]
    fn chains_purges_and_restarts() {
        let mut j = Journal::new(3);
        for s in 1..=5 {
            j.push(set(s, s + 1, "www 300 IN A 192.0.2.1\n"), 1000);
        }
        assert_eq!((j.first_serial(), j.last_serial(), j.len()), (Some(3), Some(6), 3));
        assert_eq!(j.diffs_from(4).map(|d| d.len()), Some(2));
        assert!(j.diffs_from(2).is_none());
        // A set from elsewhere starts a new chain.
        j.push(set(10, 11, ""), 1000);
        assert_eq!((j.first_serial(), j.len()), (Some(10), 1));
        // RFC 1995 §5: never more records than the zone.
        j.push(set(11, 12, "a 300 IN A 192.0.2.1\nb 300 IN A 192.0.2.2\n"), 5);
        assert_eq!((j.first_serial(), j.len()), (Some(11), 1));
        let rebuilt = Journal::from_change_sets(3, j.change_sets().cloned().collect(), 5);
        assert_eq!(rebuilt.last_serial(), Some(12));
    }

    #[tokio::test]
    async fn diff_keeps_both_soas_and_ttl_changes() {
        let s = set(1, 2, "www 60 IN A 192.0.2.1\n");
        let s = ChangeSet { removed: s.added.clone(), ..s };
        let mut s = s;
        s.added[0].record.set_ttl(domain::base::Ttl::from_secs(30));
        let d = JournalDiff::new(&s);
        let apex = StoredName::from_str("EXAMPLE.").unwrap();
        assert!(d.get_removed(apex.clone(), Rtype::SOA).await.is_some());
        assert!(d.get_added(apex, Rtype::SOA).await.is_some());
        assert_eq!(d.removed.len(), 2);
        assert_eq!(d.added.len(), 2);
        assert_eq!((d.start_serial().await, d.end_serial().await), (Serial(1), Serial(2)));
    }
}
