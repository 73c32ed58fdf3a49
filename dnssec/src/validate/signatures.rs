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
use crate::name::FqdnDisplay;
use crate::time::format_timestamp;
use crate::zone::{NameRole, Node, Rrset, SignatureRecord, Zone};
use crate::{StoredName, StoredRecord};

/// Longest validity window that is plausibly intended: a year.
const MAX_VALIDITY_SECS: u32 = 366 * 24 * 3600;

/// A signature whose fields passed and that now needs its crypto checked.
pub(super) struct Pending<'a> {
    owner: &'a StoredName,
    rrset: &'a Rrset,
    sig: &'a SignatureRecord,
    key: usize,
}

/// What the verifications of a batch of [`Pending`] signatures found.
pub(super) struct Verified<'p, 'a> {
    /// The verified triples, known ones included.
    pub digests: VerifiedSignatures,
    /// The signatures verified, as indexes into `pending` in order of
    /// owner, type covered and algorithm: (owner, type) -> algorithms
    /// with a valid signature over it. A map with a set of algorithms
    /// per RRset took 24 MB for 133,343 signatures, this takes 1 MB.
    signed_by: Vec<usize>,
    pending: &'p [Pending<'a>],
    /// Whether the DNSKEY RRset has a valid signature by an anchored key.
    pub dnskey_anchored: bool,
}

impl Verified<'_, '_> {
    /// Whether a signature by `algorithm` over the RRset `owner`/`rtype`
    /// verified.
    fn signed_with(&self, owner: &StoredName, rtype: u16, algorithm: u8) -> bool {
        self.signed_by.binary_search_by(|&i| compare(self.pending[i].key(), (owner, rtype, algorithm))).is_ok()
    }
}

impl Pending<'_> {
    /// Its owner, type covered and algorithm.
    fn key(&self) -> (&StoredName, u16, u8) {
        (self.owner, self.sig.rrsig.type_covered().to_int(), self.sig.rrsig.algorithm().to_int())
    }
}

/// Canonical order of owner (RFC 4034 §6.1), then type, then algorithm.
fn compare(a: (&StoredName, u16, u8), b: (&StoredName, u16, u8)) -> std::cmp::Ordering {
    a.0.name_cmp(b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
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
    let role_of = |owner: &CanonicalName| roles.get(owner).copied().unwrap_or(NameRole::Occluded);
    // At most one per signature, made once: grown by doubling it held up
    // to twice that.
    let mut pending = Vec::with_capacity(zone.signature_count());
    for (owner, node) in zone.nodes() {
        check_fields(apex, owner, node, role_of(owner), keys, options, report, &mut pending);
    }
    let verified = verify_all(&pending, keys, known, report);
    if !keys.keys.is_empty() && !verified.dnskey_anchored {
        report_unanchored(apex, report);
    }
    let algorithms = algorithms(keys);
    for (owner, node) in zone.nodes() {
        check_coverage(owner, node, role_of(owner), &algorithms, &verified, report);
    }
    verified.digests
}

/// The finding for a DNSKEY RRset that no anchored key signs (RFC 4035
/// §5.2: the chain of trust starts there).
pub(super) fn report_unanchored(apex: &StoredName, report: &mut Report) {
    report.error(None, format!("{} DNSKEY", FqdnDisplay(apex)), "the DNSKEY RRset has no valid signature by a key the trust anchor vouches for");
}

/// The algorithms of the DNSKEY RRset.
pub(super) fn algorithms(keys: &KeySet) -> BTreeSet<u8> {
    keys.keys.iter().map(|(_, k)| k.algorithm().to_int()).collect()
}

/// RFC 4035 §5.3.1 field checks of every RRSIG at `owner` (whose role is
/// `role`): the covered RRset exists and is authoritative (RFC 4035
/// §2.2), the signer is the apex, labels and TTLs match (RFC 4034 §3),
/// the window contains `now` and a key could have made it. Signatures
/// that pass go to `pending` for the public-key arithmetic.
#[allow(clippy::too_many_arguments)]
pub(super) fn check_fields<'a>(
    apex: &StoredName,
    owner: &'a CanonicalName,
    node: &'a Node,
    role: NameRole,
    keys: &KeySet,
    options: &ValidationOptions,
    report: &mut Report,
    pending: &mut Vec<Pending<'a>>,
) {
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

/// Signatures fewer than this are verified on the calling thread: waking
/// rayon's pool for the few signatures of a diff costs more CPU than it
/// saves.
const PARALLEL_MIN_SIGNATURES: usize = 32;

/// Verifies `pending` (RFC 4035 §5.3.3), in parallel when there are many,
/// skipping the arithmetic for triples in `known`, and reports the
/// failures.
pub(super) fn verify_all<'p, 'a>(pending: &'p [Pending<'a>], keys: &KeySet, known: &VerifiedSignatures, report: &mut Report) -> Verified<'p, 'a> {
    // Each Ed25519 key is decompressed once, not once per signature.
    let ed25519: Vec<Option<Result<ed25519_dalek::VerifyingKey, String>>> =
        keys.keys.iter().map(|(_, key)| (key.algorithm() == SecurityAlgorithm::ED25519).then(|| ed25519_key(key))).collect();
    let check = |p: &Pending<'_>| {
        let key = &keys.keys[p.key].1;
        verify(p.owner, p.rrset, p.sig, key, ed25519.get(p.key).and_then(Option::as_ref), known)
    };
    let results: Vec<Result<([u8; 32], bool), String>> = if pending.len() < PARALLEL_MIN_SIGNATURES {
        pending.iter().map(check).collect()
    } else {
        pending.par_iter().map(check).collect()
    };
    let mut out = Verified { digests: VerifiedSignatures::default(), signed_by: Vec::new(), pending, dnskey_anchored: false };
    let mut signed_by = Vec::with_capacity(pending.len());
    for (i, (p, result)) in pending.iter().zip(results).enumerate() {
        match result {
            Ok((digest, was_known)) => {
                out.digests.0.insert(digest);
                report.stats.signatures += 1;
                report.stats.signatures_known += usize::from(was_known);
                let exp = p.sig.rrsig.expiration().into_int();
                let earliest = report.stats.earliest_expiration.get_or_insert(exp);
                *earliest = (*earliest).min(exp);
                let covered = p.sig.rrsig.type_covered();
                if covered == Rtype::DNSKEY && keys.anchored.contains(&p.key) {
                    out.dnskey_anchored = true;
                }
                signed_by.push(i);
            }
            Err(e) => report.error(
                p.sig.location.clone(),
                format!("{} RRSIG {}", FqdnDisplay(p.owner), p.sig.rrsig.type_covered()),
                format!("signature by key {} does not verify: {e}", p.sig.rrsig.key_tag()),
            ),
        }
    }
    // In zone order already, but for the types and algorithms at a name:
    // a stable sort runs over what is in order.
    signed_by.sort_by(|&i, &j| compare(pending[i].key(), pending[j].key()));
    out.signed_by = signed_by;
    out
}

/// RFC 6840 §5.11: every authoritative RRset at `owner` is signed with
/// every algorithm in the DNSKEY RRset (`algorithms`).
pub(super) fn check_coverage(
    owner: &CanonicalName,
    node: &Node,
    role: NameRole,
    algorithms: &BTreeSet<u8>,
    verified: &Verified<'_, '_>,
    report: &mut Report,
) {
    for rrset in node.rrsets.values() {
        if !Zone::is_signed(role, rrset.rtype) {
            continue;
        }
        report.stats.rrsets += 1;
        let missing: Vec<String> = algorithms
            .iter()
            .filter(|&&a| !verified.signed_with(&owner.0, rrset.rtype.to_int(), a))
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
    ed25519: Option<&Result<ed25519_dalek::VerifyingKey, String>>,
    known: &VerifiedSignatures,
) -> Result<([u8; 32], bool), String> {
    let mut records: Vec<StoredRecord> = rrset
        .rdata
        .iter()
        .map(|r| Record::new(owner.clone(), Class::IN, rrset.ttl, r.data()))
        .collect();
    let mut data = Vec::with_capacity(512);
    sig.rrsig.signed_data(&mut data, &mut records).map_err(|_| "cannot compose signed data".to_string())?;
    let digest = VerifiedSignatures::digest(key, &data, sig.rrsig.signature().as_ref());
    if known.0.contains(&digest) {
        return Ok((digest, true));
    }
    verify_data(&data, sig, key, ed25519).map(|()| (digest, false))
}

/// An Ed25519 DNSKEY's public key as a point (RFC 8080 §3).
fn ed25519_key(key: &Dnskey<Bytes>) -> Result<ed25519_dalek::VerifyingKey, String> {
    let pk: [u8; 32] = key.public_key().as_ref().try_into().map_err(|_| "Ed25519 key is not 32 bytes".to_string())?;
    ed25519_dalek::VerifyingKey::from_bytes(&pk).map_err(|e| format!("bad Ed25519 key: {e}"))
}

/// Checks `sig` over `data` by `key`; `ed25519` is the key as a point, for
/// an Ed25519 key.
fn verify_data(
    data: &[u8],
    sig: &SignatureRecord,
    key: &Dnskey<Bytes>,
    ed25519: Option<&Result<ed25519_dalek::VerifyingKey, String>>,
) -> Result<(), String> {
    match ed25519 {
        Some(vk) => {
            // RFC 8080 §4 / RFC 8032 §5.1.7, strictly: no small-order
            // points, canonical S.
            let vk = vk.as_ref().map_err(Clone::clone)?;
            let s: [u8; 64] = sig.rrsig.signature().as_ref().try_into().map_err(|_| "Ed25519 signature is not 64 bytes".to_string())?;
            vk.verify_strict(data, &ed25519_dalek::Signature::from_bytes(&s)).map_err(|_| "Ed25519 verification failed".to_string())
        }
        None => sig.rrsig.verify_signed_data(key, &data).map_err(|e| e.to_string()),
    }
}
