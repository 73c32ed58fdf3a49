//! A zone's content as a set of records, and its changes in the form of an
//! incremental zone transfer (RFC 1995 §4).
//!
//! A change set reads, in zone-file syntax:
//!
//! ```text
//! example.com. 3600 IN SOA ns1 host 2026112900 ...   ; the version it applies to
//! old.example.com. 300 IN A 192.0.2.1                  ; records removed
//! example.com. 3600 IN SOA ns1 host 2026112901 ...   ; the new version's SOA
//! new.example.com. 300 IN A 192.0.2.2                  ; records added
//! ```
//!
//! Several sets may follow one another, each starting at the serial the
//! previous one ended with, exactly as in an IXFR response (RFC 1995 §4)
//! and in Knot's and BIND's journal dumps. Applying a set is all or
//! nothing: a set that names the wrong serial, removes a record that is
//! not there or adds one that already is changes nothing, and every
//! problem is reported with its file and line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bytes::Bytes;
use std::path::Path;
use std::sync::Arc;

use domain::base::iana::{Class, Rtype};
use domain::base::{Record, ToName, Ttl};
use domain::rdata::ZoneRecordData;

use crate::load::{LoadedRecord, SourceLocation};
use crate::name::CanonicalName;
use crate::name::FqdnDisplay;
use crate::zone::{InputKind, Rdata, Zone, ZoneProblem, GENERATED_TYPES};
use crate::{StoredName, StoredRecord};

/// What identifies a record in a set (RFC 2181 §5: TTL is an RRset
/// property, not part of a record's identity).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RecordKey {
    owner: CanonicalName,
    rtype: u16,
    rdata: Bytes,
}

impl RecordKey {
    fn of(record: &StoredRecord) -> RecordKey {
        RecordKey {
            owner: CanonicalName(record.owner().clone()),
            rtype: record.rtype().to_int(),
            rdata: Rdata::new(record.data().clone()).canonical,
        }
    }
}

/// What a record holds beyond its [`RecordKey`] (which has its owner, type
/// and canonical RDATA): its TTL, its RDATA as given where that is not the
/// canonical form (a name in it not in lower case), and its place.
///
/// The record is made again from the two when asked for
/// ([`ZoneContent::records`]): held whole, each record kept its parsed
/// RDATA and a second allocation, about 430 octets a record, the largest
/// part of the coordinator's memory after the zone model.
#[derive(Clone, Debug)]
struct RecordRest {
    ttl: Ttl,
    given: Option<Bytes>,
    location: SourceLocation,
}

impl RecordRest {
    /// `record`'s key and the rest.
    fn of(record: LoadedRecord) -> (RecordKey, RecordRest) {
        let LoadedRecord { record, location } = record;
        let ttl = record.ttl();
        let (owner, data) = record.into_owner_and_data();
        let rdata = Rdata::new(data);
        let rtype = rdata.rtype().to_int();
        let (canonical, given) = rdata.into_parts();
        (RecordKey { owner: CanonicalName(owner), rtype, rdata: canonical }, RecordRest { ttl, given, location })
    }

    /// The record `key` and `self` describe.
    fn record(&self, key: &RecordKey) -> LoadedRecord {
        let data = Rdata::from_parts(Rtype::from_int(key.rtype), key.rdata.clone(), self.given.clone()).data();
        LoadedRecord { record: Record::new(key.owner.0.clone(), Class::IN, self.ttl, data), location: self.location.clone() }
    }
}

/// A zone's records, unsigned, keyed by owner, type and canonical RDATA.
///
/// A persistent map: a clone shares every record, and a change set then
/// copies only the paths it touches, so the next version of a large zone
/// costs what its changes cost, not a copy of the zone. A record is held
/// as its key and [`RecordRest`], not as a parsed record.
#[derive(Clone, Debug)]
pub struct ZoneContent {
    apex: StoredName,
    records: imbl::OrdMap<RecordKey, RecordRest>,
}

/// One version step (RFC 1995 §4: "a difference sequence").
#[derive(Clone, Debug)]
pub struct ChangeSet {
    /// The SOA of the version the set applies to.
    pub old_soa: LoadedRecord,
    /// Records removed (never the SOA).
    pub removed: Vec<LoadedRecord>,
    /// The SOA of the version the set makes.
    pub new_soa: LoadedRecord,
    /// Records added (never the SOA).
    pub added: Vec<LoadedRecord>,
}

/// Changes that cannot be read or applied; every problem, with its place.
#[derive(Debug, thiserror::Error)]
#[error("{}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct ChangesError {
    /// What is wrong, each with the file and line when known.
    pub problems: Vec<ZoneProblem>,
}

impl ChangesError {
    fn one(location: Option<SourceLocation>, message: String) -> ChangesError {
        ChangesError { problems: vec![ZoneProblem { location, message }] }
    }
}

/// The SOA serial of a record that is an SOA.
pub fn soa_serial(record: &StoredRecord) -> Option<u32> {
    match record.data() {
        ZoneRecordData::Soa(soa) => Some(soa.serial().into_int()),
        _ => None,
    }
}

pub use crate::present::record_text;

impl ChangeSet {
    /// Splits records read from a change file into its difference
    /// sequences. The first record must be the SOA of the version the
    /// changes apply to.
    pub fn parse(records: Vec<LoadedRecord>) -> Result<Vec<ChangeSet>, ChangesError> {
        // One value lives at a time while reading: size does not matter.
        #[allow(clippy::large_enum_variant)]
        enum State {
            Removing { old_soa: LoadedRecord, removed: Vec<LoadedRecord> },
            Adding(ChangeSet),
        }
        let mut sets = Vec::new();
        let mut state: Option<State> = None;
        for r in records {
            let is_soa = r.record.rtype() == Rtype::SOA;
            state = Some(match (state, is_soa) {
                (None, true) => State::Removing { old_soa: r, removed: Vec::new() },
                (None, false) => {
                    return Err(ChangesError::one(
                        Some(r.location),
                        "changes start with the SOA of the version they apply to (RFC 1995 §4), \
                         then the records removed, the new SOA and the records added"
                            .into(),
                    ))
                }
                (Some(State::Removing { old_soa, removed }), true) => {
                    State::Adding(ChangeSet { old_soa, removed, new_soa: r, added: Vec::new() })
                }
                (Some(State::Removing { old_soa, mut removed }), false) => {
                    removed.push(r);
                    State::Removing { old_soa, removed }
                }
                (Some(State::Adding(set)), true) => {
                    let (from, to) = (soa_serial(&r.record), soa_serial(&set.new_soa.record));
                    if from != to {
                        return Err(ChangesError::one(
                            Some(r.location),
                            format!(
                                "this change set starts at serial {} but the one before ends at {}",
                                from.unwrap_or(0),
                                to.unwrap_or(0)
                            ),
                        ));
                    }
                    sets.push(set);
                    State::Removing { old_soa: r, removed: Vec::new() }
                }
                (Some(State::Adding(mut set)), false) => {
                    set.added.push(r);
                    State::Adding(set)
                }
            });
        }
        match state {
            None => Err(ChangesError::one(None, "no changes: the file holds no records".into())),
            Some(State::Removing { old_soa, .. }) => Err(ChangesError::one(
                Some(old_soa.location),
                "this change set has no second SOA: after the records removed, give the new \
                 version's SOA, then the records added"
                    .into(),
            )),
            Some(State::Adding(set)) => {
                sets.push(set);
                Ok(sets)
            }
        }
    }

    /// The serial the set applies to.
    pub fn from_serial(&self) -> u32 {
        soa_serial(&self.old_soa.record).unwrap_or(0)
    }

    /// The serial the set makes.
    pub fn to_serial(&self) -> u32 {
        soa_serial(&self.new_soa.record).unwrap_or(0)
    }

    /// The set in the text form [`ChangeSet::parse`] reads.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for r in std::iter::once(&self.old_soa)
            .chain(&self.removed)
            .chain(std::iter::once(&self.new_soa))
            .chain(&self.added)
        {
            let _ = writeln!(out, "{}", record_text(&r.record));
        }
        out
    }

    /// True when the set changes nothing but the SOA.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }
}

impl ZoneContent {
    /// The records of a zone (duplicates collapse, as in an RRset: the
    /// last one given stays).
    pub fn new(apex: StoredName, records: Vec<LoadedRecord>) -> ZoneContent {
        let entries = records.into_iter().map(RecordRest::of).collect();
        ZoneContent { apex, records: packed_map(sorted_entries(entries)) }
    }

    /// The apex.
    pub fn apex(&self) -> &StoredName {
        &self.apex
    }

    /// The apex SOA record, if there is one.
    pub fn soa(&self) -> Option<LoadedRecord> {
        self.soa_entry().map(|(k, r)| r.record(k))
    }

    /// The apex SOA's entry. A lookup, not a scan: records are keyed by
    /// owner, then type.
    fn soa_entry(&self) -> Option<(&RecordKey, &RecordRest)> {
        let apex = CanonicalName(self.apex.clone());
        let from = RecordKey { owner: apex.clone(), rtype: Rtype::SOA.to_int(), rdata: Bytes::new() };
        self.records.range(from..).next().filter(|(k, _)| k.rtype == Rtype::SOA.to_int() && k.owner == apex)
    }

    /// The SOA serial, if there is an SOA.
    pub fn serial(&self) -> Option<u32> {
        self.soa().and_then(|r| soa_serial(&r.record))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// No records at all.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records, in canonical order, for [`crate::zone::Zone::from_records`]
    /// (each made as it is reached).
    pub fn records(&self) -> impl Iterator<Item = LoadedRecord> + '_ {
        self.records.iter().map(|(k, r)| r.record(k))
    }

    /// Applies `set`: all of it, or nothing when any problem is found.
    pub fn apply(&mut self, set: &ChangeSet) -> Result<(), ChangesError> {
        let mut problems = Vec::new();
        let here = |r: &LoadedRecord| Some(r.location.clone());
        match self.serial() {
            Some(serial) if serial == set.from_serial() => {}
            Some(serial) => problems.push(ZoneProblem {
                location: here(&set.old_soa),
                message: format!(
                    "these changes apply to serial {}, the zone is at serial {serial}",
                    set.from_serial()
                ),
            }),
            None => problems.push(ZoneProblem {
                location: here(&set.old_soa),
                message: "the zone has no SOA to apply changes to".into(),
            }),
        }
        if !set.new_soa.record.owner().name_eq(&self.apex) || !set.old_soa.record.owner().name_eq(&self.apex) {
            problems.push(ZoneProblem {
                location: here(&set.new_soa),
                message: format!("the SOA of a change set must be at the apex {}", FqdnDisplay(&self.apex)),
            });
        }
        let mut removed = BTreeMap::new();
        for r in &set.removed {
            let key = RecordKey::of(&r.record);
            if r.record.rtype() == Rtype::SOA {
                problems.push(ZoneProblem { location: here(r), message: "an SOA inside the records removed".into() });
            } else if !self.records.contains_key(&key) {
                problems.push(ZoneProblem {
                    location: here(r),
                    message: format!("cannot remove {}: no such record in the zone", record_text(&r.record)),
                });
            } else if removed.insert(key, ()).is_some() {
                problems.push(ZoneProblem {
                    location: here(r),
                    message: format!("{} is removed twice", record_text(&r.record)),
                });
            }
        }
        let mut added = BTreeMap::new();
        for r in &set.added {
            let (key, rest) = RecordRest::of(r.clone());
            let present = self.records.contains_key(&key) && !removed.contains_key(&key);
            if present || added.contains_key(&key) {
                problems.push(ZoneProblem {
                    location: here(r),
                    message: format!("cannot add {}: the record is already in the zone", record_text(&r.record)),
                });
            } else if r.record.rtype() == Rtype::SOA {
                problems.push(ZoneProblem { location: here(r), message: "an SOA inside the records added".into() });
            } else {
                added.insert(key, rest);
            }
        }
        if !problems.is_empty() {
            return Err(ChangesError { problems });
        }
        for key in removed.keys() {
            self.records.remove(key);
        }
        if let Some(old) = self.soa_entry().map(|(k, _)| k.clone()) {
            self.records.remove(&old);
        }
        let (key, rest) = RecordRest::of(set.new_soa.clone());
        self.records.insert(key, rest);
        self.records.extend(added);
        Ok(())
    }

    /// The change set that turns `old` into `new` (RFC 1995 §4): records
    /// only in `old` are removed, records only in `new` added; a record
    /// whose TTL changed is removed and added again. Both must have an
    /// SOA.
    pub fn compare(old: &ZoneContent, new: &ZoneContent) -> Result<ChangeSet, ChangesError> {
        let old_soa = old.soa().ok_or_else(|| ChangesError::one(None, "the old version has no SOA".into()))?;
        let new_soa = new.soa().ok_or_else(|| ChangesError::one(None, "the new version has no SOA".into()))?;
        let not_soa = |k: &RecordKey| k.rtype != Rtype::SOA.to_int();
        let differs = |a: &RecordRest, b: Option<&RecordRest>| b.is_none_or(|b| b.ttl != a.ttl);
        let removed = old
            .records
            .iter()
            .filter(|(k, r)| not_soa(k) && differs(r, new.records.get(k)))
            .map(|(k, r)| r.record(k))
            .collect();
        let added = new
            .records
            .iter()
            .filter(|(k, r)| not_soa(k) && differs(r, old.records.get(k)))
            .map(|(k, r)| r.record(k))
            .collect();
        Ok(ChangeSet { old_soa, removed, new_soa, added })
    }

    /// Every record of `zone`, RRSIGs included (for a signed zone: the
    /// version as published). `source` names the records' place in
    /// messages; each gets the line it has in [`ZoneContent::to_text`].
    pub fn from_zone(zone: &Zone, source: &Path) -> ZoneContent {
        let file: Arc<Path> = Arc::from(source);
        let rest = |ttl, given| RecordRest { ttl, given, location: SourceLocation { file: file.clone(), line: 0 } };
        // Keys straight from the zone, no list of whole records between:
        // the zone's own canonical RDATA is the key's.
        let mut entries: Vec<(RecordKey, RecordRest)> = Vec::with_capacity(zone.rrset_count() * 2);
        for (owner, node) in zone.nodes() {
            for rrset in node.rrsets.values() {
                for rdata in &rrset.rdata {
                    let key = RecordKey { owner: owner.clone(), rtype: rrset.rtype.to_int(), rdata: rdata.canonical.clone() };
                    entries.push((key, rest(rrset.ttl, rdata.given().cloned())));
                }
            }
            for sig in &node.signatures {
                entries.push(RecordRest::of(LoadedRecord {
                    record: Record::new(owner.0.clone(), Class::IN, sig.ttl, ZoneRecordData::Rrsig(sig.rrsig.clone())),
                    location: SourceLocation { file: file.clone(), line: 0 },
                }));
            }
        }
        // Each numbered with its line in `to_text`.
        let mut entries = sorted_entries(entries);
        for (line, (_, rest)) in entries.iter_mut().enumerate() {
            rest.location.line = line + 1;
        }
        ZoneContent { apex: zone.apex().clone(), records: packed_map(entries) }
    }

    /// The content without the records frostzone generates when it signs
    /// (RRSIG, NSEC, NSEC3, NSEC3PARAM, DNSKEY, CDS, CDNSKEY): what an
    /// unsigned version holds. Returns the dropped records too.
    pub fn without_generated(mut self) -> (ZoneContent, Vec<LoadedRecord>) {
        let generated: Vec<RecordKey> = self
            .records
            .keys()
            .filter(|k| GENERATED_TYPES.iter().any(|t| t.to_int() == k.rtype))
            .cloned()
            .collect();
        let dropped = generated.iter().filter_map(|k| self.records.remove(k).map(|r| r.record(k))).collect();
        (self, dropped)
    }

    /// The content as a master file, one record per line in canonical
    /// order (RFC 4034 §6.1), read back by
    /// [`crate::load::load_zone_text`] to the same records.
    pub fn to_text(&self) -> String {
        let mut out = Vec::with_capacity(self.records.len() * 80);
        // Writing into a Vec cannot fail; the presentation is UTF-8.
        let _ = self.write_text(&mut out);
        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// [`ZoneContent::to_text`] written to `out` line by line, never held
    /// whole.
    pub fn write_text(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        for r in self.records() {
            writeln!(out, "{}", record_text(&r.record))?;
        }
        Ok(())
    }

    /// The zone model of this content (`kind` as for
    /// [`Zone::from_records`]).
    pub fn to_zone(&self, kind: InputKind) -> Result<Zone, crate::zone::ZoneError> {
        Zone::from_records(self.apex.clone(), self.records().collect(), kind)
    }

    /// Two versions hold exactly the same records with the same TTLs.
    pub fn same_records(&self, other: &ZoneContent) -> bool {
        self.records.len() == other.records.len()
            && self.records.iter().zip(&other.records).all(|((ka, a), (kb, b))| ka == kb && a.ttl == b.ttl)
    }

    /// Sets the SOA serial (keeping every other SOA field).
    pub fn set_serial(&mut self, serial: u32) -> Result<(), ChangesError> {
        let soa = self.soa().ok_or_else(|| ChangesError::one(None, "the zone has no SOA".into()))?;
        let ZoneRecordData::Soa(data) = soa.record.data() else {
            return Err(ChangesError::one(None, "the apex SOA record is not an SOA".into()));
        };
        let data = domain::rdata::Soa::new(
            data.mname().clone(),
            data.rname().clone(),
            domain::base::Serial(serial),
            data.refresh(),
            data.retry(),
            data.expire(),
            data.minimum(),
        );
        let record: StoredRecord =
            Record::new(soa.record.owner().clone(), soa.record.class(), soa.record.ttl(), ZoneRecordData::Soa(data));
        self.records.remove(&RecordKey::of(&soa.record));
        let (key, rest) = RecordRest::of(LoadedRecord { record, location: soa.location });
        self.records.insert(key, rest);
        Ok(())
    }

    /// The records of type `rtype` at `owner`.
    pub fn records_at(&self, owner: &StoredName, rtype: Rtype) -> impl Iterator<Item = LoadedRecord> + '_ {
        let from = RecordKey { owner: CanonicalName(owner.clone()), rtype: rtype.to_int(), rdata: Bytes::new() };
        let owner = from.owner.clone();
        self.records
            .range(from..)
            .take_while(move |(k, _)| k.rtype == rtype.to_int() && k.owner == owner)
            .map(|(k, r)| r.record(k))
    }

    /// Every record's TTL, in canonical order (no record is made).
    pub fn ttls(&self) -> impl Iterator<Item = Ttl> + '_ {
        self.records.values().map(|r| r.ttl)
    }

    /// The SOA TTL, for callers that make records of their own.
    pub fn soa_ttl(&self) -> Option<Ttl> {
        self.soa_entry().map(|(_, r)| r.ttl)
    }

    /// The TTL every NSEC and NSEC3 record of this content gets: the lesser
    /// of the SOA's MINIMUM field and its own TTL (RFC 9077 §3.2). A change
    /// of either changes every denial record, so every one is signed again.
    pub fn denial_ttl(&self) -> Option<Ttl> {
        let soa = self.soa()?;
        match soa.record.data() {
            ZoneRecordData::Soa(data) => Some(soa.record.ttl().min(data.minimum())),
            _ => None,
        }
    }
}

/// `entries` in key order, a repeated key keeping its last entry (as
/// inserting them into a map one by one would).
fn sorted_entries(mut entries: Vec<(RecordKey, RecordRest)>) -> Vec<(RecordKey, RecordRest)> {
    // Stable: of equal keys the last given stays last, and is kept.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
    entries
}

/// The map of `entries` (in key order, no key twice), its leaves filled.
///
/// imbl's B-tree leaf is an array of 64 entries, allocated whole, split
/// in two halves when full; inserting keys in order leaves every half
/// behind with 32 entries, so a map built that way takes twice its
/// entries' size. Inserted every other one first and then the rest, each
/// leaf is split once, at 64 entries, and then filled again by the keys
/// between its own: about 32 MB less for the unsigned content of a zone
/// of 100,000 delegations. The map is the same whatever the order.
fn packed_map(entries: Vec<(RecordKey, RecordRest)>) -> imbl::OrdMap<RecordKey, RecordRest> {
    let mut map = imbl::OrdMap::new();
    let mut rest = Vec::with_capacity(entries.len() / 2);
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i % 2 == 0 {
            map.insert(key, value);
        } else {
            rest.push((key, value));
        }
    }
    map.extend(rest);
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::load_zone_text;
    use std::str::FromStr;

    #[test]
    fn the_denial_ttl_is_the_lesser_of_soa_minimum_and_soa_ttl() {
        let content = |soa: &str| ZoneContent::new(apex(), load_zone_text(soa, Path::new("z"), &apex()).unwrap());
        assert_eq!(content("@ 300 IN SOA ns1 host 10 3600 600 86400 60\n").denial_ttl(), Some(Ttl::from_secs(60)));
        assert_eq!(content("@ 300 IN SOA ns1 host 10 3600 600 86400 3600\n").denial_ttl(), Some(Ttl::from_secs(300)));
        assert_eq!(content("@ 300 IN NS ns1\n").denial_ttl(), None);
    }

    const ZONE: &str = "\
$TTL 300
@ IN SOA ns1 host 10 3600 600 86400 300
@ IN NS ns1
ns1 IN A 192.0.2.53
www IN A 192.0.2.1
www IN A 192.0.2.2
";

    fn apex() -> StoredName {
        StoredName::from_str("example.com.").unwrap()
    }

    fn content(text: &str) -> ZoneContent {
        ZoneContent::new(apex(), load_zone_text(text, Path::new("zone"), &apex()).unwrap())
    }

    fn changes(text: &str) -> Result<Vec<ChangeSet>, ChangesError> {
        ChangeSet::parse(load_zone_text(text, Path::new("changes"), &apex()).unwrap())
    }

    fn lines(z: &ZoneContent) -> Vec<String> {
        z.records().map(|r| record_text(&r.record)).collect()
    }

    /// A record is held as its key and the rest, and made again when
    /// asked for: names in its RDATA keep their case, its TTL and line stay,
    /// and of two equal records the last given stays (as in an RRset).
    #[test]
    fn records_are_made_again_as_given() {
        let z = content(
            "$TTL 300\n@ IN SOA Ns1.Example.COM. Host 10 3600 600 86400 300\n@ IN NS Ns1\n\
             www 60 IN CNAME Target.Example.NET.\nmail IN MX 10 MX1.example.com.\nmail 120 IN MX 10 mx1.EXAMPLE.com.\n",
        );
        let text = lines(&z).join("\n");
        assert!(text.contains("Ns1.Example.COM.") && text.contains("Target.Example.NET."), "{text}");
        assert!(text.contains("www.example.com.\t60\tIN\tCNAME"), "{text}");
        // The two MX records are one (RFC 4034 §6.3 compares RDATA in
        // lower case): the last, with its TTL and case, stays.
        let mx: Vec<_> = z.records_at(&StoredName::from_str("mail.example.com.").unwrap(), Rtype::MX).collect();
        assert_eq!(mx.len(), 1);
        assert_eq!(mx[0].record.ttl(), Ttl::from_secs(120));
        assert!(record_text(&mx[0].record).contains("mx1.EXAMPLE.com."));
        assert_eq!(mx[0].location.line, 6);
        assert_eq!(z.ttls().map(|t| t.as_secs()).max(), Some(300));
        // Read back from its text, the content is the same, case included.
        let again = content(&z.to_text());
        assert!(again.same_records(&z));
        assert_eq!(lines(&again), lines(&z));
        // A zone model made from it, and the content made from that model.
        let zone = z.to_zone(InputKind::Unsigned).unwrap();
        let from_zone = ZoneContent::from_zone(&zone, Path::new("model"));
        assert_eq!(lines(&from_zone), lines(&z));
        assert_eq!(from_zone.records().map(|r| r.location.line).collect::<Vec<_>>(), (1..=z.len()).collect::<Vec<_>>());
    }

    /// Filling the leaves changes the order of insertion, not the map.
    #[test]
    fn a_packed_map_holds_every_entry_in_order() {
        for n in [0usize, 1, 2, 63, 64, 65, 1000, 4097] {
            let text: String = (0..n).map(|i| format!("h{i} 300 IN A 192.0.2.{}\n", i % 250)).collect();
            let records = load_zone_text(&text, Path::new("zone"), &apex()).unwrap();
            let entries = sorted_entries(records.into_iter().map(RecordRest::of).collect());
            let plain: imbl::OrdMap<RecordKey, RecordRest> = entries.clone().into_iter().collect();
            let packed = packed_map(entries);
            assert_eq!(packed.len(), n);
            assert!(packed.keys().eq(plain.keys()), "{n} entries");
            assert!(packed.values().map(|r| r.location.line).eq(plain.values().map(|r| r.location.line)));
        }
    }

    #[test]
    fn applies_a_difference_sequence() {
        let mut z = content(ZONE);
        let sets = changes(
            "@ 300 IN SOA ns1 host 10 3600 600 86400 300\nwww 300 IN A 192.0.2.2\n\
             @ 300 IN SOA ns1 host 11 3600 600 86400 300\nwww 300 IN A 192.0.2.3\nnew 60 IN TXT \"x\"\n",
        )
        .unwrap();
        assert_eq!(sets.len(), 1);
        assert_eq!((sets[0].from_serial(), sets[0].to_serial()), (10, 11));
        z.apply(&sets[0]).unwrap();
        assert_eq!(z.serial(), Some(11));
        let text = lines(&z).join("\n");
        assert!(text.contains("192.0.2.3") && text.contains("new.example.com.") && !text.contains("192.0.2.2"), "{text}");
        // Compare gives back the same change.
        let back = ZoneContent::compare(&content(ZONE), &z).unwrap();
        assert_eq!(back.removed.len(), 1);
        assert_eq!(back.added.len(), 2);
        let mut again = content(ZONE);
        again.apply(&back).unwrap();
        assert_eq!(lines(&again), lines(&z));
        // The text form reads back as the same set.
        let reread = changes(&back.to_text()).unwrap();
        assert_eq!(reread[0].added.len(), 2);
    }

    #[test]
    fn refuses_wrong_serial_missing_and_present_records_changing_nothing() {
        let mut z = content(ZONE);
        let before = lines(&z);
        let sets = changes(
            "@ 300 IN SOA ns1 host 9 3600 600 86400 300\nmissing 300 IN A 192.0.2.9\n\
             @ 300 IN SOA ns1 host 11 3600 600 86400 300\nwww 300 IN A 192.0.2.1\n",
        )
        .unwrap();
        let err = z.apply(&sets[0]).unwrap_err().to_string();
        assert!(err.contains("changes:1: these changes apply to serial 9, the zone is at serial 10"), "{err}");
        assert!(err.contains("changes:2: cannot remove missing.example.com."), "{err}");
        assert!(err.contains("changes:4: cannot add www.example.com."), "{err}");
        assert_eq!(lines(&z), before);
    }

    #[test]
    fn malformed_change_files_are_named() {
        let e = changes("www 300 IN A 192.0.2.1\n").unwrap_err().to_string();
        assert!(e.starts_with("changes:1: changes start with the SOA"), "{e}");
        let e = changes("@ 300 IN SOA ns1 host 10 1 1 1 1\nwww 300 IN A 192.0.2.1\n").unwrap_err().to_string();
        assert!(e.contains("changes:1: this change set has no second SOA"), "{e}");
        let e = changes(
            "@ 300 IN SOA ns1 host 10 1 1 1 1\n@ 300 IN SOA ns1 host 11 1 1 1 1\n\
             @ 300 IN SOA ns1 host 12 1 1 1 1\n@ 300 IN SOA ns1 host 13 1 1 1 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("changes:3: this change set starts at serial 12 but the one before ends at 11"), "{e}");
    }

    #[test]
    fn ttl_change_is_a_remove_and_add() {
        let old = content(ZONE);
        let new = content(&ZONE.replace("www IN A 192.0.2.1\nwww IN A 192.0.2.2", "www 60 IN A 192.0.2.1\nwww 60 IN A 192.0.2.2"));
        let set = ZoneContent::compare(&old, &new).unwrap();
        assert_eq!((set.removed.len(), set.added.len()), (2, 2));
    }

    #[test]
    fn text_reads_back_and_generated_records_are_dropped() {
        let z = content(&format!("{ZONE}@ 300 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=\n"));
        let (unsigned, dropped) = z.without_generated();
        assert_eq!((unsigned.len(), dropped.len()), (5, 1));
        let back = content(&unsigned.to_text());
        assert!(back.same_records(&unsigned));
        assert!(!back.same_records(&content(ZONE.replace("192.0.2.2", "192.0.2.3").as_str())));
        let zone = unsigned.to_zone(InputKind::Unsigned).unwrap();
        let again = ZoneContent::from_zone(&zone, Path::new("again"));
        assert!(again.same_records(&unsigned));
        assert_eq!(again.records().last().unwrap().location.to_string(), "again:5");
        // Every record carries its own line of the text, in key order.
        let text = again.to_text();
        assert_eq!(text.lines().count(), again.records().count());
        for (r, (i, line)) in again.records().zip(text.lines().enumerate()) {
            assert_eq!((r.location.line, record_text(&r.record)), (i + 1, line.to_string()));
        }
    }

    #[test]
    fn serial_is_rewritten() {
        let mut z = content(ZONE);
        z.set_serial(2026112900).unwrap();
        assert_eq!(z.serial(), Some(2026112900));
        assert_eq!(z.len(), 5);
    }
}
