//! DNSKEY RRset checks: key tag collisions and the trust anchor.

use std::collections::BTreeMap;

use bytes::Bytes;
use domain::base::iana::DigestAlgorithm;
use domain::rdata::{Dnskey, ZoneRecordData};

use super::{Report, TrustAnchor, ValidationOptions};
use crate::keys::{dnskey_digest, FLAG_SEP, FLAG_ZONE_KEY, PROTOCOL};
use crate::name::FqdnDisplay;
use crate::zone::Rrset;
use crate::StoredName;

/// The zone's keys as the signature checks need them.
pub(super) struct KeySet {
    /// Every usable DNSKEY with its tag.
    pub keys: Vec<(u16, Dnskey<Bytes>)>,
    /// Indexes into `keys` of the keys the trust anchor vouches for.
    pub anchored: Vec<usize>,
}

impl KeySet {
    /// The keys that could have made a signature with this tag and
    /// algorithm.
    pub fn candidates(&self, tag: u16, algorithm: u8) -> impl Iterator<Item = (usize, &Dnskey<Bytes>)> {
        self.keys
            .iter()
            .enumerate()
            .filter(move |(_, (t, k))| *t == tag && k.algorithm().to_int() == algorithm)
            .map(|(i, (_, k))| (i, k))
    }
}

/// Checks the apex DNSKEY RRset `dnskey` of zone `apex` (RFC 4034 §2,
/// RFC 4035 §5.2) against the trust anchor and returns the usable keys.
pub(super) fn check_keys(
    apex: &StoredName,
    dnskey: Option<&Rrset>,
    options: &ValidationOptions,
    report: &mut Report,
) -> KeySet {
    let record = format!("{} DNSKEY", FqdnDisplay(apex));
    let mut keys = Vec::new();
    let Some(rrset) = dnskey else {
        report.error(None, record, "no DNSKEY RRset at the apex");
        return KeySet { keys, anchored: Vec::new() };
    };
    let location = rrset.location.clone();
    let mut by_tag: BTreeMap<(u16, u8), usize> = BTreeMap::new();
    for rdata in &rrset.rdata {
        let ZoneRecordData::Dnskey(key) = &rdata.data() else { continue };
        let tag = key.key_tag();
        let alg = key.algorithm().to_int();
        if key.protocol() != PROTOCOL {
            report.error(location.clone(), &record, format!("key {tag} has protocol {} (RFC 4034 §2.1.2: MUST be 3)", key.protocol()));
        }
        // Every DNSKEY counts, revoked (RFC 5011 §3) or not a zone key:
        // a validator picks candidates by tag before it reads the flags.
        *by_tag.entry((tag, alg)).or_default() += 1;
        if key.flags() & FLAG_ZONE_KEY == 0 {
            report.warn(location.clone(), &record, format!("key {tag} does not have the Zone Key flag and cannot sign"));
            continue;
        }
        keys.push((tag, key.clone()));
    }
    for ((tag, alg), count) in &by_tag {
        if *count > 1 {
            // What broke .de in May 2026: validators pick one key by tag.
            report.error(
                location.clone(),
                &record,
                format!("{count} keys share key tag {tag} algorithm {alg}: validators may try only one and fail"),
            );
        }
    }
    report.stats.keys = keys.len();
    let anchored: Vec<usize> = match &options.anchor {
        TrustAnchor::Ds(dss) => {
            let mut found = Vec::new();
            for ds in dss {
                if ds.digest_type() != DigestAlgorithm::SHA256 {
                    report.warn(None, "trust anchor DS", format!("DS {} uses digest type {}, which is not checked; use SHA-256 (2)", ds.key_tag(), ds.digest_type().to_int()));
                    continue;
                }
                for (i, (tag, key)) in keys.iter().enumerate() {
                    if *tag == ds.key_tag()
                        && key.algorithm() == ds.algorithm()
                        && dnskey_digest(apex, key).as_slice() == ds.digest().as_ref()
                    {
                        found.push(i);
                    }
                }
            }
            if found.is_empty() {
                let tags: Vec<String> = dss.iter().map(|d| d.key_tag().to_string()).collect();
                report.error(location.clone(), &record, format!("no DNSKEY matches the trust anchor DS (key tags {})", tags.join(", ")));
            }
            found
        }
        TrustAnchor::Dnskey(anchors) => {
            let found: Vec<usize> = keys
                .iter()
                .enumerate()
                .filter(|(_, (_, k))| anchors.iter().any(|a| a.algorithm() == k.algorithm() && a.public_key() == k.public_key()))
                .map(|(i, _)| i)
                .collect();
            if found.is_empty() {
                report.error(location.clone(), &record, "no DNSKEY matches the trust anchor DNSKEY");
            }
            found
        }
        TrustAnchor::SelfSigned => {
            report.warn(None, &record, "no trust anchor given (--ds or --dnskey): the zone's own SEP keys are trusted");
            keys.iter().enumerate().filter(|(_, (_, k))| k.flags() & FLAG_SEP != 0).map(|(i, _)| i).collect()
        }
    };
    KeySet { keys, anchored }
}
