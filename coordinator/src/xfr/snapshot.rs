//! One published version of a signed zone, in the form `domain`'s XFR
//! middleware walks.
//!
//! `domain`'s in-memory zone tree is not used for this: its walk emits a
//! delegation's NS, DS and the glue kept *in the cut*, but never descends
//! below a cut, so glue inserted as ordinary records is silently left out
//! of an AXFR; and its RRsets are keyed by type alone, so RRSIGs of one
//! owner with different TTLs (an RRSIG's TTL is that of the RRset it
//! covers, RFC 4034 §3) would be merged under one TTL. A snapshot is
//! instead a flat list of RRsets keyed by owner, type *and* TTL, in
//! canonical order (RFC 4034 §6.1), which is lossless and cheap to build.

use std::any::Any;
use std::collections::BTreeMap;
use std::future::{ready, Future};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use domain::base::iana::{Class, Rcode, Rtype};
use domain::base::{Name, Record, ToName};
use domain::zonetree::error::OutOfZone;
use domain::zonetree::{
    Answer, InMemoryZoneDiff, ReadableZone, Rrset, SharedRrset, WalkOp, WritableZone, WritableZoneNode, Zone,
    ZoneStore,
};
use frostzone_dnssec::change_set::soa_serial;
use frostzone_dnssec::name::{in_zone, CanonicalName};
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::{StoredName, StoredRecord, StoredRecordData};

/// A version that cannot be served.
#[derive(Debug, thiserror::Error)]
#[error("zone {zone}: {message}")]
pub struct SnapshotError {
    /// The zone apex.
    pub zone: String,
    /// What is wrong.
    pub message: String,
}

/// Records grouped into RRsets by owner, type and TTL, in canonical order
/// (RFC 4034 §6.1 names, then type), with duplicate RDATA removed.
pub(crate) fn group_rrsets<'a>(records: impl IntoIterator<Item = &'a StoredRecord>) -> Vec<(StoredName, SharedRrset)> {
    let mut groups: BTreeMap<(CanonicalName, u16, u32), Vec<StoredRecordData>> = BTreeMap::new();
    for r in records {
        let data = groups.entry((CanonicalName(r.owner().clone()), r.rtype().to_int(), r.ttl().as_secs())).or_default();
        if !data.contains(r.data()) {
            data.push(r.data().clone());
        }
    }
    groups
        .into_iter()
        .map(|((owner, rtype, ttl), data)| {
            let mut rrset = Rrset::new(Rtype::from_int(rtype), domain::base::Ttl::from_secs(ttl));
            for d in data {
                rrset.push_data(d);
            }
            (owner.0, rrset.into_shared())
        })
        .collect()
}

/// One version of a zone as served: its SOA and every other RRset.
#[derive(Debug)]
pub struct ZoneSnapshot {
    apex: StoredName,
    serial: u32,
    soa: SharedRrset,
    /// Everything but the apex SOA, in canonical order.
    rrsets: Vec<(StoredName, SharedRrset)>,
    records: usize,
}

impl ZoneSnapshot {
    /// Builds a snapshot; the records must be inside the zone and hold
    /// exactly one SOA, at the apex (RFC 1035 §5.2).
    pub fn new(apex: StoredName, records: &[StoredRecord]) -> Result<ZoneSnapshot, SnapshotError> {
        let fail = |message: String| SnapshotError { zone: FqdnDisplay(&apex).to_string(), message };
        if let Some(outside) = records.iter().find(|r| !in_zone(r.owner(), &apex)) {
            return Err(fail(format!("{} is outside the zone", FqdnDisplay(outside.owner()))));
        }
        if let Some(class) = records.iter().map(|r| r.class()).find(|c| *c != Class::IN) {
            return Err(fail(format!("class {class} records: only IN is served")));
        }
        let soas: Vec<&StoredRecord> = records.iter().filter(|r| r.rtype() == Rtype::SOA).collect();
        let [soa] = soas[..] else {
            return Err(fail(format!("{} SOA records; a zone has exactly one, at its apex", soas.len())));
        };
        if !soa.owner().name_eq(&apex) {
            return Err(fail(format!("the SOA is at {}, not at the apex", FqdnDisplay(soa.owner()))));
        }
        let serial = soa_serial(soa).unwrap_or(0);
        let mut rrsets = group_rrsets(records);
        let position = rrsets.iter().position(|(_, r)| r.rtype() == Rtype::SOA);
        let Some(soa) = position.map(|i| rrsets.remove(i).1) else {
            return Err(fail("no SOA RRset".into()));
        };
        Ok(ZoneSnapshot { apex, serial, soa, rrsets, records: records.len() })
    }

    /// The apex.
    pub fn apex(&self) -> &StoredName {
        &self.apex
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Number of records (the AXFR size a journal is weighed against).
    pub fn record_count(&self) -> usize {
        self.records
    }

    /// The SOA RRset.
    pub fn soa(&self) -> &SharedRrset {
        &self.soa
    }

    /// The SOA record (what a NOTIFY carries as its hint).
    pub fn soa_record(&self) -> Option<StoredRecord> {
        self.soa.data().first().map(|d| Record::new(self.apex.clone(), Class::IN, self.soa.ttl(), d.clone()))
    }

    /// The next version: this one with `set` applied (RFC 1995 §4), built
    /// from this one's RRsets (shared, not copied), so its cost is the
    /// set's, not the zone's. Refused, naming the record, when the set
    /// does not start at this serial, removes a record that is not here or
    /// adds one that is.
    pub fn with_changes(&self, set: &frostzone_dnssec::change_set::ChangeSet) -> Result<ZoneSnapshot, SnapshotError> {
        let fail = |message: String| SnapshotError { zone: FqdnDisplay(&self.apex).to_string(), message };
        if set.from_serial() != self.serial {
            return Err(fail(format!("the change set starts at serial {}, the version served is {}", set.from_serial(), self.serial)));
        }
        let new_soa = &set.new_soa.record;
        if !new_soa.owner().name_eq(&self.apex) || new_soa.rtype() != Rtype::SOA {
            return Err(fail("the change set's new SOA is not the apex SOA".into()));
        }
        type Key = (CanonicalName, u16, u32);
        let key = |r: &StoredRecord| -> Key { (CanonicalName(r.owner().clone()), r.rtype().to_int(), r.ttl().as_secs()) };
        let mut touched: BTreeMap<Key, (Vec<&StoredRecordData>, Vec<&StoredRecordData>)> = BTreeMap::new();
        for r in &set.removed {
            touched.entry(key(&r.record)).or_default().0.push(r.record.data());
        }
        for r in &set.added {
            if !in_zone(r.record.owner(), &self.apex) {
                return Err(fail(format!("{} is outside the zone", FqdnDisplay(r.record.owner()))));
            }
            touched.entry(key(&r.record)).or_default().1.push(r.record.data());
        }
        let mut rrsets = self.rrsets.clone();
        for ((owner, rtype, ttl), (removed, added)) in touched {
            let at = rrsets.binary_search_by(|(o, r)| {
                CanonicalName(o.clone()).cmp(&owner).then(r.rtype().to_int().cmp(&rtype)).then(r.ttl().as_secs().cmp(&ttl))
            });
            let mut data: Vec<StoredRecordData> = at.map(|i| rrsets[i].1.data().to_vec()).unwrap_or_default();
            let what = |d: &StoredRecordData| format!("{owner} {} {ttl} {}", Rtype::from_int(rtype), frostzone_dnssec::present::rdata_text(d));
            for d in removed {
                let before = data.len();
                data.retain(|x| x != d);
                if data.len() == before {
                    return Err(fail(format!("cannot remove {}: not in the version served", what(d))));
                }
            }
            for d in added {
                if data.contains(d) {
                    return Err(fail(format!("cannot add {}: already in the version served", what(d))));
                }
                data.push(d.clone());
            }
            let rrset = (!data.is_empty()).then(|| {
                let mut rrset = Rrset::new(Rtype::from_int(rtype), domain::base::Ttl::from_secs(ttl));
                for d in data {
                    rrset.push_data(d);
                }
                (owner.0.clone(), rrset.into_shared())
            });
            match (at, rrset) {
                (Ok(i), Some(r)) => rrsets[i] = r,
                (Ok(i), None) => {
                    rrsets.remove(i);
                }
                (Err(i), Some(r)) => rrsets.insert(i, r),
                (Err(_), None) => {}
            }
        }
        let mut soa = Rrset::new(Rtype::SOA, new_soa.ttl());
        soa.push_data(new_soa.data().clone());
        Ok(ZoneSnapshot {
            apex: self.apex.clone(),
            serial: set.to_serial(),
            soa: soa.into_shared(),
            rrsets,
            records: (self.records + set.added.len()).saturating_sub(set.removed.len()),
        })
    }

    /// Every record, SOA first, for persisting the version.
    pub fn records(&self) -> Vec<StoredRecord> {
        std::iter::once((&self.apex, &self.soa))
            .chain(self.rrsets.iter().map(|(o, r)| (o, r)))
            .flat_map(|(owner, rrset)| {
                rrset.data().iter().map(move |d| Record::new(owner.clone(), Class::IN, rrset.ttl(), d.clone()))
            })
            .collect()
    }

    /// The authoritative answer to `<apex, IN, SOA>` (RFC 1034 §4.3.2).
    pub fn soa_answer(&self) -> Answer {
        let mut answer = Answer::new(Rcode::NOERROR);
        answer.add_answer(self.soa.clone());
        answer.set_authoritative(true);
        answer
    }

    /// The snapshot as a `domain` zone, for the XFR middleware.
    pub fn into_zone(self: Arc<Self>) -> Zone {
        Zone::new(SnapshotStore(self))
    }
}

/// [`ZoneStore`] over a snapshot; read-only.
#[derive(Debug)]
struct SnapshotStore(Arc<ZoneSnapshot>);

impl ZoneStore for SnapshotStore {
    fn class(&self) -> Class {
        Class::IN
    }

    fn apex_name(&self) -> &StoredName {
        &self.0.apex
    }

    fn read(self: Arc<Self>) -> Box<dyn ReadableZone> {
        Box::new(SnapshotReader(self.0.clone()))
    }

    fn write(self: Arc<Self>) -> Pin<Box<dyn Future<Output = Box<dyn WritableZone + 'static>> + Send + Sync + 'static>> {
        Box::pin(ready(Box::new(ReadOnly) as Box<dyn WritableZone>))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct SnapshotReader(Arc<ZoneSnapshot>);

impl ReadableZone for SnapshotReader {
    /// The walk is plain iteration over memory: the XFR middleware runs a
    /// synchronous walk on a blocking thread, off the runtime's workers.
    fn is_async(&self) -> bool {
        false
    }

    /// Only the apex SOA is answered: it is all the XFR middleware asks
    /// (and all secondaries need); other queries are never routed here.
    fn query(&self, qname: Name<Bytes>, qtype: Rtype) -> Result<Answer, OutOfZone> {
        if !in_zone(&qname, &self.0.apex) {
            return Err(OutOfZone);
        }
        if qtype == Rtype::SOA && qname.name_eq(&self.0.apex) {
            Ok(self.0.soa_answer())
        } else {
            Ok(Answer::refused())
        }
    }

    fn walk(&self, op: WalkOp) {
        for (owner, rrset) in &self.0.rrsets {
            op(owner.to_name(), rrset, false);
        }
    }
}

/// Published versions never change; a new version is a new snapshot.
struct ReadOnly;

fn read_only() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::Unsupported, "a published zone version is read-only")
}

impl WritableZone for ReadOnly {
    fn open(
        &self,
        _create_diff: bool,
    ) -> Pin<Box<dyn Future<Output = Result<Box<dyn WritableZoneNode>, std::io::Error>> + Send + Sync>> {
        Box::pin(ready(Err(read_only())))
    }

    fn commit(
        &mut self,
        _bump_soa_serial: bool,
    ) -> Pin<Box<dyn Future<Output = Result<Option<InMemoryZoneDiff>, std::io::Error>> + Send + Sync>> {
        Box::pin(ready(Err(read_only())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frostzone_dnssec::load::load_zone_text;
    use std::path::Path;
    use std::str::FromStr;

    pub(crate) fn records(text: &str) -> Vec<StoredRecord> {
        let apex = StoredName::from_str("example.").unwrap();
        load_zone_text(text, Path::new("t"), &apex).unwrap().into_iter().map(|r| r.record).collect()
    }

    #[test]
    fn glue_and_rrsig_ttls_survive() {
        let recs = records(
            "@ 300 IN SOA ns hm 7 1 1 1 1\n@ 300 NS ns\nns 300 A 192.0.2.1\nsub 300 NS ns.sub\nns.sub 300 A 192.0.2.2\n\
             www 300 RRSIG A 15 2 300 20300101000000 20200101000000 1 example. AAAA\n\
             www 60 RRSIG NSEC 15 2 60 20300101000000 20200101000000 1 example. AAAA\n",
        );
        let snap = Arc::new(ZoneSnapshot::new(StoredName::from_str("example.").unwrap(), &recs).unwrap());
        assert_eq!(snap.serial(), 7);
        assert_eq!(snap.records().len(), recs.len());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s2 = seen.clone();
        snap.clone().into_zone().read().walk(Box::new(move |o, r, _| s2.lock().unwrap().push((o.to_string(), r.rtype(), r.ttl()))));
        let seen = seen.lock().unwrap();
        assert!(seen.iter().any(|(o, t, _)| o == "ns.sub.example" && *t == Rtype::A), "{seen:?}");
        assert_eq!(seen.iter().filter(|(_, t, _)| *t == Rtype::RRSIG).count(), 2);
    }

    #[test]
    fn refuses_versions_that_are_not_a_zone() {
        let apex = StoredName::from_str("example.").unwrap();
        let e = ZoneSnapshot::new(apex.clone(), &records("www 300 IN A 192.0.2.1\n")).unwrap_err().to_string();
        assert!(e.contains("zone example.: 0 SOA records"), "{e}");
        let e = ZoneSnapshot::new(StoredName::from_str("other.").unwrap(), &records("@ 300 IN SOA ns hm 7 1 1 1 1\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside the zone"), "{e}");
    }

    #[test]
    fn a_change_set_makes_the_version_a_whole_build_makes() {
        use frostzone_dnssec::change_set::ZoneContent;
        let apex = StoredName::from_str("example.").unwrap();
        let v1 = "@ 300 IN SOA ns hm 7 1 1 1 1\n@ 300 NS ns\nns 300 A 192.0.2.1\nwww 300 A 192.0.2.7\nwww 300 A 192.0.2.8\n\
                  old 300 TXT gone\nwww 300 RRSIG A 15 2 300 20300101000000 20200101000000 1 example. AAAA\n";
        let v2 = "@ 300 IN SOA ns hm 8 1 1 1 1\n@ 300 NS ns\nns 300 A 192.0.2.1\nwww 300 A 192.0.2.7\nwww 300 A 192.0.2.9\n\
                  new 60 TXT here\nns 300 AAAA 2001:db8::1\nwww 300 RRSIG A 15 2 300 20300101000000 20200101000000 1 example. BBBB\n";
        let loaded = |text: &str| ZoneContent::new(apex.clone(), load_zone_text(text, Path::new("t"), &apex).unwrap());
        let set = ZoneContent::compare(&loaded(v1), &loaded(v2)).unwrap();
        let before = ZoneSnapshot::new(apex.clone(), &records(v1)).unwrap();
        let after = before.with_changes(&set).unwrap();
        let whole = ZoneSnapshot::new(apex.clone(), &records(v2)).unwrap();
        assert_eq!(after.serial(), 8);
        assert_eq!(after.records(), whole.records());
        assert_eq!(after.record_count(), whole.record_count());
        // The version served is untouched.
        assert_eq!(before.records(), ZoneSnapshot::new(apex.clone(), &records(v1)).unwrap().records());
        // Not this version's changes, or not applicable: refused, named.
        let e = after.with_changes(&set).unwrap_err().to_string();
        assert!(e.contains("starts at serial 7, the version served is 8"), "{e}");
        let mut wrong = set.clone();
        wrong.removed.push(loaded("@ 300 IN SOA ns hm 7 1 1 1 1\nnone 300 A 192.0.2.99\n").records().last().unwrap().clone());
        let e = before.with_changes(&wrong).unwrap_err().to_string();
        assert!(e.contains("cannot remove none.example. A 300 192.0.2.99"), "{e}");
    }
}
