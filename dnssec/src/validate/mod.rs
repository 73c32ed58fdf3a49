//! The whole-zone validator that stands between signing and publication.
//!
//! It reads the zone as a resolver would see it, from the text that is
//! about to be published, and checks (RFC 4035 §5, RFC 5155 §8, RFC 6840):
//!
//! * the DNSKEY RRset: no two keys share a key tag and algorithm, and it is
//!   signed by a key that the trust anchor (DS or DNSKEY) vouches for;
//! * every RRSIG: it covers an authoritative RRset, its fields (signer,
//!   labels, TTLs, validity window) are right, and its signature verifies
//!   against the DNSKEY set (Ed25519 with `verify_strict`, independent of
//!   frost's own aggregate check);
//! * every authoritative RRset is signed by every algorithm in the DNSKEY
//!   set, and nothing else is signed;
//! * the NSEC or NSEC3 chain is complete, ordered, closed, with the right
//!   type bitmaps and parameters.
//!
//! Every problem becomes a [`Finding`] that names the record.
//!
//! [`validate_patch`] runs the same checks on the next version of a zone
//! given as the published version and a patch, only where the patch can
//! have changed something, assuming the published version was valid.

mod denial;
mod keys;
mod patch;
mod patch_denial;
mod scope;
mod signatures;

pub use patch::validate_patch;

use std::fmt;

use bytes::Bytes;
use domain::rdata::{Dnskey, Ds};

use crate::load::SourceLocation;
use crate::zone::Zone;

/// What vouches for the zone's keys.
#[derive(Clone, Debug, Default)]
pub enum TrustAnchor {
    /// DS records, as the parent publishes them.
    Ds(Vec<Ds<Bytes>>),
    /// DNSKEY records configured as anchors.
    Dnskey(Vec<Dnskey<Bytes>>),
    /// None: the zone's own secure entry points are trusted, which checks
    /// self-consistency only.
    #[default]
    SelfSigned,
}

/// How to validate.
#[derive(Clone, Debug)]
pub struct ValidationOptions {
    /// The time to validate at, seconds since the epoch.
    pub now: u32,
    /// The trust anchor.
    pub anchor: TrustAnchor,
    /// Warn about signatures that expire within this many seconds.
    pub expiry_warning: u32,
}

/// One problem, naming the record it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Where the record is in the checked text, when known.
    pub location: Option<SourceLocation>,
    /// The record: owner and type, e.g. `www.example.com. A`.
    pub record: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        write!(f, "{}: {}", self.record, self.message)
    }
}

/// Counts for the one-line summary.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Authoritative RRsets checked.
    pub rrsets: usize,
    /// RRSIGs that verified.
    pub signatures: usize,
    /// Of those, how many were verified by an earlier validation of the
    /// same key, data and signature ([`validate_zone_incremental`]).
    pub signatures_known: usize,
    /// NSEC or NSEC3 records in the chain.
    pub denial_records: usize,
    /// "NSEC", "NSEC3" or "NSEC3 opt-out".
    pub denial: &'static str,
    /// Keys in the DNSKEY RRset.
    pub keys: usize,
    /// The earliest signature expiration seen.
    pub earliest_expiration: Option<u32>,
    /// For a patch ([`validate_patch`]): the names checked, those the
    /// change reaches (`None`: the whole zone was checked).
    pub names_checked: Option<usize>,
}

/// The outcome of validating a zone.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The zone.
    pub zone: String,
    /// Problems that make the zone unfit to publish.
    pub errors: Vec<Finding>,
    /// Things an operator should know about.
    pub warnings: Vec<Finding>,
    /// Counts.
    pub stats: Stats,
}

impl Report {
    /// Whether the zone may be published.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    fn error(&mut self, location: Option<SourceLocation>, record: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Finding { location, record: record.into(), message: message.into() });
    }

    fn warn(&mut self, location: Option<SourceLocation>, record: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Finding { location, record: record.into(), message: message.into() });
    }

    /// The one-line summary.
    pub fn summary(&self) -> String {
        let s = &self.stats;
        let until = s
            .earliest_expiration
            .map(|e| format!(", earliest expiration {}", crate::time::format_timestamp(e)))
            .unwrap_or_default();
        if let (true, Some(names)) = (self.is_valid(), s.names_checked) {
            format!(
                "{}: valid: the {names} names the change reaches: {} RRsets, {} RRSIGs verified ({} new), {} {} records, {} DNSKEYs{until}",
                self.zone,
                s.rrsets,
                s.signatures,
                s.signatures - s.signatures_known,
                s.denial_records,
                s.denial,
                s.keys
            )
        } else if self.is_valid() {
            format!(
                "{}: valid: {} RRsets, {} RRSIGs verified, {} {} records, {} DNSKEYs{until}",
                self.zone, s.rrsets, s.signatures, s.denial_records, s.denial, s.keys
            )
        } else {
            format!("{}: INVALID: {} errors, {} warnings", self.zone, self.errors.len(), self.warnings.len())
        }
    }
}

/// Validates a signed zone (loaded with [`crate::zone::InputKind::Signed`]).
pub fn validate_zone(zone: &Zone, options: &ValidationOptions) -> Report {
    validate_zone_incremental(zone, options, &VerifiedSignatures::default()).0
}

/// Signatures a validation verified: each is SHA-256 over the DNSKEY
/// RDATA, the signed data (RFC 4034 §3.1.8.1) and the signature, so an
/// entry vouches for exactly one key, message and signature.
///
/// A persistent set: each version's cache is the previous one's plus what
/// it verified, and a clone shares the previous one's entries rather than
/// copying one per signature of the zone. Ordered (a B-tree of wide
/// nodes), not hashed: a hash trie's nodes took 22 MB for the 133,343
/// digests of the reference zone, about five times the digests.
#[derive(Clone, Debug, Default)]
pub struct VerifiedSignatures(imbl::OrdSet<[u8; 32]>);

impl VerifiedSignatures {
    fn digest(key: &domain::rdata::Dnskey<bytes::Bytes>, data: &[u8], signature: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut rdata = Vec::with_capacity(64);
        // Writing into a Vec cannot fail.
        let _ = domain::base::rdata::ComposeRecordData::compose_rdata(key, &mut rdata);
        for part in [&rdata[..], data, signature] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }

    /// Signatures held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// None held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds the signatures `other` holds (those a [`validate_patch`]
    /// verified, to the cache of the published version's).
    pub fn extend(&mut self, other: VerifiedSignatures) {
        self.0.extend(other.0);
    }
}

/// Validates the next version of a zone whose previous version's
/// verified signatures are `known`: every check runs on the whole zone
/// (keys, fields, validity windows, coverage, the denial chain), but the
/// public-key arithmetic is skipped for a signature already verified over
/// the same key and data. Signature verification dominates validation, so
/// a one-RRset change costs a handful of verifications, not the zone's.
/// Returns the report and the signatures verified now, for the next
/// version.
pub fn validate_zone_incremental(
    zone: &Zone,
    options: &ValidationOptions,
    known: &VerifiedSignatures,
) -> (Report, VerifiedSignatures) {
    let mut report = Report { zone: crate::name::FqdnDisplay(zone.apex()).to_string(), ..Report::default() };
    let dnskey = zone.node(zone.apex()).and_then(|n| n.get(domain::base::iana::Rtype::DNSKEY));
    let keys = keys::check_keys(zone.apex(), dnskey, options, &mut report);
    let verified = signatures::check_signatures(zone, &keys, options, known, &mut report);
    denial::check_denial(zone, &mut report);
    (report, verified)
}

/// Why a signed zone text could not even be checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The text does not parse.
    #[error(transparent)]
    Load(#[from] crate::load::LoadError),
    /// The text is not a zone (no SOA, data outside, ...).
    #[error(transparent)]
    Zone(#[from] crate::zone::ZoneError),
}

/// Parses `text` (a signed zone as it will be published) and validates it.
///
/// Checking the text rather than the in-memory zone means that a defect
/// in presentation (a lost trailing dot, a mangled escape) shows up as a
/// failed signature here, before publication, not at a resolver.
pub fn validate_text(
    text: &str,
    source: &std::path::Path,
    apex: &crate::StoredName,
    options: &ValidationOptions,
) -> Result<(Zone, Report), CheckError> {
    let records = crate::load::load_zone_text(text, source, apex)?;
    let zone = Zone::from_records(apex.clone(), records, crate::zone::InputKind::Signed)?;
    let report = validate_zone(&zone, options);
    Ok((zone, report))
}
