//! RRSIG checks (RFC 4035 §5.3) and signature coverage (RFC 4035 §2.2,
//! RFC 6840 §5.11).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use domain::base::iana::{Class, Rtype, SecurityAlgorithm};
use domain::base::{Record, ToName};
use domain::dnssec::validator::base::RrsigExt;
use domain::rdata::Dnskey;
use rayon::prelude::*;

use super::keys::KeySet;
use super::{Report, ValidationOptions, VerifiedSignatures};
use crate::name::CanonicalName;
use crate::present::{format_timestamp, FqdnDisplay};
use crate::zone::{NameRole, Rrset, SignatureRecord, Zone};
use crate::{StoredName, StoredRecord};

/// Longest validity window that is plausibly intended: a year.
const MAX_VALIDITY_SECS: u32 = 366 * 24 * 3600;

/// A signature whose fields passed and that now needs its crypto checked.
struct Pending<'a> {
    owner: &'a StoredName,
    rrset: &'a Rrset,
    sig: &'a SignatureRecord,
    key: usize,
}

pub(super) fn check_signatures(
    zone: &Zone,
    keys: &KeySet,
    options: &ValidationOptions,
    known: &VerifiedSignatures,
    report: &mut Report,
) -> VerifiedSignatures {
    let apex = zone.apex();
    let roles: BTreeMap<CanonicalName, NameRole> = zone.roles().into_iter().collect();
    let mut pending = Vec::new();
    for (owner, node) in zone.nodes() {
        let role = roles.get(owner).copied().unwrap_or(NameRole::Occluded);
        for sig in &node.signatures {
            let rrsig = &sig.rrsig;
            let covered = rrsig.type_covered();
            let record = format!("{} RRSIG {}", owner, covered);
            let loc = || sig.location.clone();
            let Some(rrset) = node.get(covered) else {
                report.error(loc(), record, format!("covers {covered}, which does not exist at this name"));
                continue;
            };
            if !Zone::is_signed(role, covered) {
                report.error(loc(), record, format!("{covered} here is not authoritative (glue, occluded or delegation NS) and must not be signed"));
                continue;
            }
            if rrsig.signer_name().name_cmp(apex) != std::cmp::Ordering::Equal {
                report.error(loc(), record, format!("signer name {} is not the zone apex", FqdnDisplay(rrsig.signer_name())));
                continue;
            }
            let labels = owner.0.rrsig_label_count();
            if rrsig.labels() != labels {
                report.error(loc(), &record, format!("labels field is {}, the owner has {labels} (RFC 4034 §3.1.3)", rrsig.labels()));
            }
            if rrsig.original_ttl() != rrset.ttl {
                report.error(loc(), &record, format!("original TTL {} differs from the RRset's TTL {}", rrsig.original_ttl().as_secs(), rrset.ttl.as_secs()));
            }
            if sig.ttl != rrset.ttl {
                report.error(loc(), &record, format!("RRSIG TTL {} differs from the RRset's TTL {} (RFC 4034 §3)", sig.ttl.as_secs(), rrset.ttl.as_secs()));
            }
            if !check_window(sig, options, &record, report) {
                continue;
            }
            let mut candidates = keys.candidates(rrsig.key_tag(), rrsig.algorithm().to_int());
            let Some((key, _)) = candidates.next() else {
                report.error(loc(), record, format!("no DNSKEY with key tag {} algorithm {}", rrsig.key_tag(), rrsig.algorithm().to_int()));
                continue;
            };
            pending.push(Pending { owner: &owner.0, rrset, sig, key });
        }
    }
    let results: Vec<Result<([u8; 32], bool), String>> = pending
        .par_iter()
        .map(|p| verify(p.owner, p.rrset, p.sig, &keys.keys[p.key].1, known))
        .collect();
    let mut verified = VerifiedSignatures::default();
    // (owner, type) -> algorithms that signed it; DNSKEY: anchored signer?
    let mut signed_by: BTreeMap<(CanonicalName, u16), BTreeSet<u8>> = BTreeMap::new();
    let mut dnskey_anchored = false;
    for (p, result) in pending.iter().zip(results) {
        match result {
            Ok((digest, was_known)) => {
                verified.0.insert(digest);
                report.stats.signatures += 1;
                report.stats.signatures_known += usize::from(was_known);
                let exp = p.sig.rrsig.expiration().into_int();
                let earliest = report.stats.earliest_expiration.get_or_insert(exp);
                *earliest = (*earliest).min(exp);
                let covered = p.sig.rrsig.type_covered();
                if covered == Rtype::DNSKEY && keys.anchored.contains(&p.key) {
                    dnskey_anchored = true;
                }
                signed_by
                    .entry((CanonicalName(p.owner.clone()), covered.to_int()))
                    .or_default()
                    .insert(p.sig.rrsig.algorithm().to_int());
            }
            Err(e) => report.error(
                p.sig.location.clone(),
                format!("{} RRSIG {}", FqdnDisplay(p.owner), p.sig.rrsig.type_covered()),
                format!("signature by key {} does not verify: {e}", p.sig.rrsig.key_tag()),
            ),
        }
    }
    if !keys.keys.is_empty() && !dnskey_anchored {
        report.error(None, format!("{} DNSKEY", FqdnDisplay(apex)), "the DNSKEY RRset has no valid signature by a key the trust anchor vouches for");
    }
    // RFC 6840 §5.11: every authoritative RRset is signed with every
    // algorithm in the DNSKEY RRset.
    let algorithms: BTreeSet<u8> = keys.keys.iter().map(|(_, k)| k.algorithm().to_int()).collect();
    for (owner, node) in zone.nodes() {
        let role = roles.get(owner).copied().unwrap_or(NameRole::Occluded);
        for rrset in node.rrsets.values() {
            if !Zone::is_signed(role, rrset.rtype) {
                continue;
            }
            report.stats.rrsets += 1;
            let have = signed_by.get(&(owner.clone(), rrset.rtype.to_int()));
            let missing: Vec<String> = algorithms
                .iter()
                .filter(|a| !have.is_some_and(|h| h.contains(a)))
                .map(|a| a.to_string())
                .collect();
            if !missing.is_empty() {
                report.error(
                    rrset.location.clone(),
                    format!("{owner} {}", rrset.rtype),
                    format!("authoritative RRset has no valid RRSIG for algorithm {}", missing.join(", ")),
                );
            }
        }
    }
    verified
}

/// RFC 4035 §5.3.1: the validity window must contain `now`.
fn check_window(sig: &SignatureRecord, options: &ValidationOptions, record: &str, report: &mut Report) -> bool {
    let inception = sig.rrsig.inception().into_int();
    let expiration = sig.rrsig.expiration().into_int();
    let loc = sig.location.clone();
    if expiration.wrapping_sub(inception) as i32 <= 0 {
        report.error(loc, record, format!("expiration {} is not after inception {}", format_timestamp(expiration), format_timestamp(inception)));
        return false;
    }
    if expiration.wrapping_sub(inception) > MAX_VALIDITY_SECS {
        report.warn(loc.clone(), record, format!("validity window of {} days is unusually long", expiration.wrapping_sub(inception) / 86_400));
    }
    if (options.now.wrapping_sub(inception) as i32) < 0 {
        report.error(loc, record, format!("not valid before {}", format_timestamp(inception)));
        return false;
    }
    if (expiration.wrapping_sub(options.now) as i32) < 0 {
        report.error(loc, record, format!("expired at {}", format_timestamp(expiration)));
        return false;
    }
    if expiration.wrapping_sub(options.now) < options.expiry_warning {
        report.warn(loc, record, format!("expires soon, at {}", format_timestamp(expiration)));
    }
    true
}

/// Rebuilds the signed data with `domain`'s validator (not our signing
/// code) and checks the signature, unless exactly this key, data and
/// signature were verified before (`known`). Returns what identifies the
/// verified triple.
fn verify(
    owner: &StoredName,
    rrset: &Rrset,
    sig: &SignatureRecord,
    key: &Dnskey<Bytes>,
    known: &VerifiedSignatures,
) -> Result<([u8; 32], bool), String> {
    let mut records: Vec<StoredRecord> = rrset
        .rdata
        .iter()
        .map(|r| Record::new(owner.clone(), Class::IN, rrset.ttl, r.data.clone()))
        .collect();
    let mut data = Vec::with_capacity(512);
    sig.rrsig.signed_data(&mut data, &mut records).map_err(|_| "cannot compose signed data".to_string())?;
    let digest = VerifiedSignatures::digest(key, &data, sig.rrsig.signature().as_ref());
    if known.0.contains(&digest) {
        return Ok((digest, true));
    }
    verify_data(&data, sig, key).map(|()| (digest, false))
}

fn verify_data(data: &[u8], sig: &SignatureRecord, key: &Dnskey<Bytes>) -> Result<(), String> {
    if key.algorithm() == SecurityAlgorithm::ED25519 {
        // RFC 8080 §4 / RFC 8032 §5.1.7, strictly: no small-order points,
        // canonical S.
        let pk: [u8; 32] = key.public_key().as_ref().try_into().map_err(|_| "Ed25519 key is not 32 bytes".to_string())?;
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).map_err(|e| format!("bad Ed25519 key: {e}"))?;
        let s: [u8; 64] = sig.rrsig.signature().as_ref().try_into().map_err(|_| "Ed25519 signature is not 64 bytes".to_string())?;
        vk.verify_strict(data, &ed25519_dalek::Signature::from_bytes(&s)).map_err(|_| "Ed25519 verification failed".to_string())
    } else {
        sig.rrsig.verify_signed_data(key, &data).map_err(|e| e.to_string())
    }
}
