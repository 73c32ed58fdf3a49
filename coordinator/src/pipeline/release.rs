//! From a completed signing to a version fit to publish (no I/O).
//!
//! The signed change set is what secondaries receive by IXFR (RFC 1995
//! §4), so it is what gets checked: the difference between the version
//! published now and the new one is written as text, read back, applied
//! to the published records, and the result is validated
//! ([`validate_zone_incremental`]: every structural check on the whole
//! zone, the signature arithmetic only for signatures not verified
//! before). The text of the zone and of the changes that go out are
//! written from exactly what was validated. A first version has no
//! change set: its whole text is read back and validated.

use std::path::Path;

use frostzone_dnssec::changes::{ChangeSet, ChangesError, ZoneContent};
use frostzone_dnssec::load::{load_zone_text, LoadError};
use frostzone_dnssec::present::zone_text;
use frostzone_dnssec::validate::{validate_zone_incremental, Report, ValidationOptions, VerifiedSignatures};
use frostzone_dnssec::zone::{InputKind, Zone, ZoneError};

/// The version published now, as the release sees it.
#[derive(Clone, Copy, Debug)]
pub struct Published<'a> {
    /// Its records, RRSIGs included.
    pub content: &'a ZoneContent,
    /// Its serial.
    pub serial: u32,
    /// Signatures verified before (empty after a restart: the first
    /// release then verifies every signature once).
    pub known: &'a VerifiedSignatures,
}

/// A validated version, ready to publish.
#[derive(Debug)]
pub struct Released {
    /// The signed zone as validated.
    pub zone: Zone,
    /// Its records.
    pub content: ZoneContent,
    /// Its text (what is stored, written and returned).
    pub text: String,
    /// The change set from the version before, and its text (named
    /// `<zone>.<from>-<to>.ixfr`).
    pub changes: Option<(ChangeSet, String)>,
    /// The validator's report.
    pub report: Report,
    /// Signatures verified, for the next release.
    pub known: VerifiedSignatures,
}

/// Why a signed version is not released.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The validator found problems; the findings follow.
    #[error("zone {zone} serial {serial}: the signed zone does not validate; nothing was released:\n{findings}")]
    Invalid {
        /// The zone.
        zone: String,
        /// The serial.
        serial: u32,
        /// The first findings and the summary, one per line.
        findings: String,
    },
    /// The signed text or change set does not read back.
    #[error("zone {zone} serial {serial}: {source}")]
    Load {
        /// The zone.
        zone: String,
        /// The serial.
        serial: u32,
        /// What the reader said.
        source: LoadError,
    },
    /// The change set does not apply to the published version.
    #[error("zone {zone} serial {from} to {to}: the signed change set does not apply to the published version: {source}")]
    Changes {
        /// The zone.
        zone: String,
        /// The published serial.
        from: u32,
        /// The new serial.
        to: u32,
        /// Why.
        source: ChangesError,
    },
    /// The records do not make a zone.
    #[error("zone {zone} serial {serial}: {source}")]
    Zone {
        /// The zone.
        zone: String,
        /// The serial.
        serial: u32,
        /// Why.
        source: ZoneError,
    },
}

/// Findings shown in an error, at most.
const FINDINGS_SHOWN: usize = 20;

/// The name of the change set file from `from` to `to` for `zone`
/// (`example.com.10-11.ixfr`).
pub fn changes_file_name(zone: &str, from: u32, to: u32) -> String {
    format!("{}.{from}-{to}.ixfr", zone.trim_end_matches('.'))
}

/// Checks `signed` (the completed plan of `zone`) against the version
/// published now and returns what to publish (CPU work: call on the
/// blocking pool).
pub fn release(zone: &str, signed: Zone, published: Option<Published<'_>>, options: &ValidationOptions) -> Result<Released, ReleaseError> {
    let apex = signed.apex().clone();
    let serial = signed.soa().map(|(_, soa)| soa.serial().into_int()).unwrap_or(0);
    let zone_error = |source| ReleaseError::Zone { zone: zone.to_string(), serial, source };
    let (result, changes, known) = match published {
        None => {
            let text = zone_text(&signed);
            drop(signed);
            let source = format!("{zone} (signed)");
            let records = load_zone_text(&text, Path::new(&source), &apex)
                .map_err(|source| ReleaseError::Load { zone: zone.to_string(), serial, source })?;
            let result = Zone::from_records(apex, records, InputKind::Signed).map_err(zone_error)?;
            (result, None, VerifiedSignatures::default())
        }
        Some(p) => {
            let new = ZoneContent::from_zone(&signed, Path::new(&format!("{zone} (signed)")));
            drop(signed);
            let name = changes_file_name(zone, p.serial, serial);
            let applies = |source| ReleaseError::Changes { zone: zone.to_string(), from: p.serial, to: serial, source };
            let set = ZoneContent::compare(p.content, &new).map_err(applies)?;
            drop(new);
            let text = set.to_text();
            let records = load_zone_text(&text, Path::new(&name), &apex)
                .map_err(|source| ReleaseError::Load { zone: zone.to_string(), serial, source })?;
            let mut content = p.content.clone();
            let mut reread = ChangeSet::parse(records).map_err(applies)?;
            for s in &reread {
                content.apply(s).map_err(applies)?;
            }
            let result = content.to_zone(InputKind::Signed).map_err(zone_error)?;
            let set = match reread.len() {
                1 => reread.pop(),
                _ => None,
            };
            (result, set.map(|s| (s, text)), p.known.clone())
        }
    };
    let (report, known) = validate_zone_incremental(&result, options, &known);
    if !report.is_valid() {
        let mut lines: Vec<String> = report.errors.iter().take(FINDINGS_SHOWN).map(|f| f.to_string()).collect();
        if report.errors.len() > FINDINGS_SHOWN {
            lines.push(format!("... and {} more", report.errors.len() - FINDINGS_SHOWN));
        }
        lines.push(report.summary());
        return Err(ReleaseError::Invalid { zone: zone.to_string(), serial, findings: lines.join("\n") });
    }
    let text = zone_text(&result);
    let content = ZoneContent::from_zone(&result, Path::new(&format!("{zone} (published)")));
    Ok(Released { zone: result, content, text, changes, report, known })
}
