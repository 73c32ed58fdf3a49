//! What the denial check tests share: zones signed by the signing plan,
//! their proposed RRsets, record surgery for tampering, and a verdict
//! helper that follows `NeedsWhole` to the whole check.
#![allow(dead_code)]

use std::cell::Cell;
use std::ops::ControlFlow;
use std::path::Path;
use std::str::FromStr;

use bytes::Bytes;
use domain::base::iana::{Nsec3HashAlgorithm, Rtype};
use domain::base::Ttl;
use domain::rdata::dnssec::RtypeBitmapBuilder;
use domain::rdata::nsec3::OwnerHash;
use domain::rdata::{Nsec, Nsec3, ZoneRecordData};
use frostzone_dnssec::denial::check::{check_increment, check_whole as check_whole_copied, check_whole_in_place, ChainSource, DenialFindings, DenialMode, Increment, IncrementCheck, ZoneSource};
use frostzone_dnssec::denial::nsec3::owner_hash;
use frostzone_dnssec::denial::{Denial, Nsec3Config};
use frostzone_dnssec::domain;
use frostzone_dnssec::keys::{KeyRole, ZoneKey};
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::signing::{SigningPlan, SigningPolicy};
use frostzone_dnssec::zone::{InputKind, Rdata, Rrset, Zone};
use frostzone_dnssec::StoredName;

pub mod example_keys;

pub use example_keys::NOW;

/// The whole check, made both ways: on a copy of the zone
/// ([`check_whole_copied`]) and in place, which must give the same verdict
/// and leave the zone exactly as it was, in every case the tests make
/// (good chains and tampered ones alike).
pub fn check_whole(zone: &Zone) -> Result<DenialMode, DenialFindings> {
    let copied = check_whole_copied(zone);
    let mut in_place = zone.clone();
    assert_eq!(check_whole_in_place(&mut in_place), copied, "the in-place check disagrees");
    assert_eq!(
        frostzone_dnssec::present::zone_text(&in_place),
        frostzone_dnssec::present::zone_text(zone),
        "the in-place check changed the zone"
    );
    assert_eq!(in_place.node_count(), zone.node_count(), "the in-place check changed the zone's names");
    copied
}

pub fn name(s: &str) -> StoredName {
    StoredName::from_str(s).unwrap()
}

/// The three denial modes every test body runs for.
pub fn modes() -> [Denial; 3] {
    [
        Denial::Nsec,
        Denial::Nsec3(Nsec3Config::default()),
        Denial::Nsec3(Nsec3Config { opt_out: true, ..Nsec3Config::default() }),
    ]
}

pub fn mode_of(denial: &Denial) -> DenialMode {
    match denial {
        Denial::Nsec => DenialMode::Nsec,
        Denial::Nsec3(c) => DenialMode::Nsec3 { iterations: c.iterations, salt: c.salt.clone(), opt_out: c.opt_out },
    }
}

pub fn keys() -> Vec<ZoneKey> {
    vec![ZoneKey::ed25519(KeyRole::Ksk, [7; 32]), ZoneKey::ed25519(KeyRole::Zsk, [9; 32])]
}

/// `zone` (unsigned) signed by the signing plan; the signatures are
/// placeholders, as proposed RRsets carry none.
pub fn sign(zone: Zone, denial: &Denial) -> Zone {
    let policy = SigningPolicy { denial: denial.clone(), ..SigningPolicy::default() };
    let plan = SigningPlan::prepare(zone, &keys(), &policy, NOW).unwrap();
    let signatures = vec![[0u8; 64]; plan.items().len()];
    plan.complete(signatures).unwrap()
}

pub fn unsigned(text: &str, apex: &StoredName) -> Zone {
    let records = load_zone_text(text, Path::new("t.zone"), apex).unwrap();
    Zone::from_records(apex.clone(), records, InputKind::Unsigned).unwrap()
}

/// What a signer is proposed for a signed zone.
pub fn proposed(signed: &Zone) -> Zone {
    Zone::from_rrsets(signed.apex().clone(), signed.proposed_rrsets().into_iter().cloned())
}

/// Whether the checks refuse the next version `base` + `change`: the
/// incremental check finds something, or sends to the whole check, which
/// does. The findings, for messages.
pub fn refusal(base: &Zone, change: &Increment) -> Option<String> {
    match check_increment(base.apex(), &ZoneSource::new(base), change).unwrap() {
        Err(findings) => Some(findings.to_string()),
        Ok(IncrementCheck::Checked(_)) => None,
        Ok(IncrementCheck::NeedsWhole(why)) => {
            let mut next = base.clone();
            change.apply_to(&mut next);
            check_whole(&next).err().map(|f| format!("(whole: {why}) {f}"))
        }
    }
}

pub fn bitmap(types: &[Rtype]) -> domain::rdata::dnssec::RtypeBitmap<Bytes> {
    let mut b = RtypeBitmapBuilder::<bytes::BytesMut>::new();
    for t in types {
        b.add(*t).unwrap();
    }
    b.finalize()
}

/// The editable fields of an NSEC or NSEC3 record.
#[derive(Clone, Debug)]
pub struct Fields {
    pub ttl: u32,
    pub flags: u8,
    pub iterations: u16,
    /// NSEC3: the next hashed owner; NSEC: unused.
    pub next_hash: Vec<u8>,
    /// NSEC: the next owner name.
    pub next_name: Option<StoredName>,
    pub types: Vec<Rtype>,
}

pub fn fields(rrset: &Rrset) -> Fields {
    match rrset.rdata[0].data() {
        ZoneRecordData::Nsec3(n) => Fields {
            ttl: rrset.ttl.as_secs(),
            flags: n.flags(),
            iterations: n.iterations(),
            next_hash: n.next_owner().as_slice().to_vec(),
            next_name: None,
            types: n.types().iter().collect(),
        },
        ZoneRecordData::Nsec(n) => Fields {
            ttl: rrset.ttl.as_secs(),
            flags: 0,
            iterations: 0,
            next_hash: Vec::new(),
            next_name: Some(n.next_name().clone()),
            types: n.types().iter().collect(),
        },
        other => panic!("not a denial record: {other:?}"),
    }
}

/// `rrset` (NSEC or NSEC3) with its fields edited by `edit`.
pub fn edited(rrset: &Rrset, edit: impl FnOnce(&mut Fields)) -> Rrset {
    let mut f = fields(rrset);
    edit(&mut f);
    let data = match rrset.rdata[0].data() {
        ZoneRecordData::Nsec3(n) => ZoneRecordData::Nsec3(Nsec3::new(
            Nsec3HashAlgorithm::SHA1,
            f.flags,
            f.iterations,
            n.salt().clone(),
            OwnerHash::from_octets(Bytes::from(f.next_hash)).unwrap(),
            bitmap(&f.types),
        )),
        ZoneRecordData::Nsec(_) => ZoneRecordData::Nsec(Nsec::new(f.next_name.unwrap(), bitmap(&f.types))),
        other => panic!("not a denial record: {other:?}"),
    };
    Rrset::new(rrset.owner.clone(), rrset.rtype, Ttl::from_secs(f.ttl), vec![Rdata::new(data)])
}

/// The denial RRsets of `zone` of the mode's record type, in canonical
/// order (for NSEC3, the order of the hash ring).
pub fn chain(zone: &Zone) -> Vec<Rrset> {
    let rtype = if zone.node(zone.apex()).and_then(|n| n.get(Rtype::NSEC3PARAM)).is_some() { Rtype::NSEC3 } else { Rtype::NSEC };
    zone.nodes().filter_map(|(_, n)| n.get(rtype).cloned()).collect()
}

/// The hash an NSEC3 record's owner stands for.
pub fn hash_of(rrset: &Rrset) -> Vec<u8> {
    owner_hash(&rrset.owner).unwrap()
}

/// The NSEC3 record an apex-less caller would make for `name` under the
/// default parameters, with `next` as next hashed owner.
pub fn nsec3_for(name: &StoredName, apex: &StoredName, next: &[u8], types: &[Rtype], opt_out: bool, ttl: u32) -> Rrset {
    let config = Nsec3Config { opt_out, ..Nsec3Config::default() };
    let hash = config.hash(name).unwrap();
    let owner = Nsec3Config::hashed_owner(&hash, apex).unwrap();
    let data = Nsec3::new(
        Nsec3HashAlgorithm::SHA1,
        u8::from(opt_out),
        0,
        config.nsec3param().salt().clone(),
        OwnerHash::from_octets(Bytes::copy_from_slice(next)).unwrap(),
        bitmap(types),
    );
    Rrset::new(owner, Rtype::NSEC3, Ttl::from_secs(ttl), vec![Rdata::new(ZoneRecordData::Nsec3(data))])
}

/// A [`ChainSource`] that counts what it is asked: one per call, and one
/// per name a `descendants` walk visits.
pub struct Counting<S> {
    pub inner: S,
    pub lookups: Cell<usize>,
}

impl<S: ChainSource> Counting<S> {
    pub fn new(inner: S) -> Self {
        Counting { inner, lookups: Cell::new(0) }
    }

    fn count(&self) {
        self.lookups.set(self.lookups.get() + 1);
    }
}

impl<S: ChainSource> ChainSource for Counting<S> {
    type Error = S::Error;

    fn types(&self, name: &StoredName) -> Result<Vec<Rtype>, S::Error> {
        self.count();
        self.inner.types(name)
    }

    fn rrset(&self, name: &StoredName, rtype: Rtype) -> Result<Option<Rrset>, S::Error> {
        self.count();
        self.inner.rrset(name, rtype)
    }

    fn next_name(&self, after: Option<&StoredName>) -> Result<Option<StoredName>, S::Error> {
        self.count();
        self.inner.next_name(after)
    }

    fn prev_name(&self, before: Option<&StoredName>) -> Result<Option<StoredName>, S::Error> {
        self.count();
        self.inner.prev_name(before)
    }

    fn descendants(&self, name: &StoredName, visit: &mut dyn FnMut(&StoredName, &[Rtype]) -> ControlFlow<()>) -> Result<(), S::Error> {
        self.count();
        self.inner.descendants(name, &mut |n, t| {
            self.count();
            visit(n, t)
        })
    }

    fn next_hash(&self, after: Option<&[u8]>) -> Result<Option<Vec<u8>>, S::Error> {
        self.count();
        self.inner.next_hash(after)
    }

    fn prev_hash(&self, before: Option<&[u8]>) -> Result<Option<Vec<u8>>, S::Error> {
        self.count();
        self.inner.prev_hash(before)
    }
}
