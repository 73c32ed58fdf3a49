//! From a completed signing to a version fit to publish (no I/O but the
//! new version's text, written to an unnamed temporary file as it is
//! presented: [`ZoneText`]).
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
use std::sync::Arc;

use frostzone_dnssec::keys::KeyTag;
use frostzone_dnssec::signing::{read_zone, CompletedPlan, SharedZone};

use super::stages::Stages;
use super::Version;
use crate::error::CoordinatorError;
use crate::registry::zone_text::write_hashed;
use crate::registry::ZoneText;

use frostzone_dnssec::change_set::{ChangeSet, ChangesError, ZoneContent};
use frostzone_dnssec::load::{load_zone_text, LoadError};
use frostzone_dnssec::present::write_zone_text;
use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_dnssec::zone_patch::{ZonePatch, ZoneView};
use frostzone_dnssec::validate::{validate_patch, validate_zone_incremental, Report, ValidationOptions, VerifiedSignatures};
use frostzone_dnssec::zone::{InputKind, Zone, ZoneBuilder, ZoneError};

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
pub struct ValidatedVersion {
    /// The signed zone as validated. (Its record map, which the next
    /// whole version is compared with, is made from it then: held beside
    /// it, it was the largest part of the coordinator's peak.)
    pub zone: Zone,
    /// Its text (what is stored, written and returned), with its SHA-256.
    pub text: ZoneText,
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
pub enum ValidationError {
    /// The validator found problems; the findings follow.
    #[error("zone {zone} serial {serial}: the signed zone does not validate; nothing was published:\n{findings}")]
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
    /// The signed text could not be written to its temporary file.
    #[error("zone {zone} serial {serial}: cannot write the signed text to a temporary file in {}: {source}; nothing was published", dir.display())]
    Text {
        /// The zone.
        zone: String,
        /// The serial.
        serial: u32,
        /// Where the file was made.
        dir: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The validated zone, presented again, is not the text it was read
    /// back from: presentation is not deterministic here, a fault in this
    /// program. Nothing is published, since the text that would be is not
    /// the one validated.
    #[error("zone {zone} serial {serial}: the validated zone, presented again, differs from the text it was read back from; nothing was published (a fault in frostzone: please report it)")]
    TextChanged {
        /// The zone.
        zone: String,
        /// The serial.
        serial: u32,
    },
}

/// A validated patch of the published zone, ready to publish.
#[derive(Debug)]
pub struct ValidatedPatch {
    /// The patch as read back from the change set's text.
    pub patch: ZonePatch,
    /// The change set and its text (named `<zone>.<from>-<to>.ixfr`).
    pub changes: (ChangeSet, String),
    /// The validator's report (of the names the patch reaches).
    pub report: Report,
    /// Signatures verified now.
    pub verified: VerifiedSignatures,
}

/// Findings shown in an error, at most.
const FINDINGS_SHOWN: usize = 20;

/// The name of the change set file from `from` to `to` for `zone`
/// (`example.com.10-11.ixfr`).
pub fn changes_file_name(zone: &str, from: u32, to: u32) -> String {
    format!("{}.{from}-{to}.ixfr", zone.trim_end_matches('.'))
}

/// Checks a signed patch of the published zone `base` (serial
/// `published_serial`): its change set is written as text, read back, made
/// into a patch of `base` again and validated there
/// ([`validate_patch`]: the names the patch reaches, their chain
/// neighbours, the keys; the signature arithmetic only for signatures not
/// verified before). What is published is the patch read back (CPU work:
/// call on the blocking pool).
pub fn validate_change_set(
    zone: &str,
    base: &Zone,
    signed: &ZonePatch,
    published_serial: u32,
    known: &VerifiedSignatures,
    options: &ValidationOptions,
    stages: &super::stages::Stages,
) -> Result<ValidatedPatch, ValidationError> {
    let apex = base.apex().clone();
    let view = ZoneView::new(base, signed);
    let serial = view.rrset(&apex, Rtype::SOA).and_then(|s| s.rdata.first()).and_then(|r| match r.data() {
        frostzone_dnssec::domain::rdata::ZoneRecordData::Soa(soa) => Some(soa.serial().into_int()),
        _ => None,
    });
    let serial = serial.unwrap_or(published_serial);
    let name = changes_file_name(zone, published_serial, serial);
    let applies = |source| ValidationError::Changes { zone: zone.to_string(), from: published_serial, to: serial, source };
    let set = view.changes(Path::new(&name)).ok_or_else(|| {
        applies(ChangesError { problems: vec![frostzone_dnssec::zone::ZoneProblem { location: None, message: "a version has no SOA".into() }] })
    })?;
    let text = set.to_text();
    let records = load_zone_text(&text, Path::new(&name), &apex).map_err(|source| ValidationError::Load { zone: zone.to_string(), serial, source })?;
    let mut reread = ChangeSet::parse(records).map_err(applies)?;
    let (Some(set), true) = (reread.pop(), reread.is_empty()) else {
        return Err(applies(ChangesError {
            problems: vec![frostzone_dnssec::zone::ZoneProblem { location: None, message: "the change set does not read back as one set".into() }],
        }));
    };
    let patch = ZonePatch::from_changes(base, &set).map_err(applies)?;
    stages.mark("changes, read back");
    let (report, verified) = validate_patch(&ZoneView::new(base, &patch), options, known);
    stages.mark("validate");
    if !report.is_valid() {
        return Err(invalid(zone, serial, &report));
    }
    Ok(ValidatedPatch { patch, changes: (set, text), report, verified })
}

fn invalid(zone: &str, serial: u32, report: &Report) -> ValidationError {
    let mut lines: Vec<String> = report.errors.iter().take(FINDINGS_SHOWN).map(|f| f.to_string()).collect();
    if report.errors.len() > FINDINGS_SHOWN {
        lines.push(format!("... and {} more", report.errors.len() - FINDINGS_SHOWN));
    }
    lines.push(report.summary());
    ValidationError::Invalid { zone: zone.to_string(), serial, findings: lines.join("\n") }
}

/// The text of `zone` (serial `serial`), presented into an unnamed
/// temporary file in `text_dir` as it is written.
fn present(name: &str, serial: u32, zone: &Zone, text_dir: &Path) -> Result<ZoneText, ValidationError> {
    ZoneText::write_in(text_dir, |out| write_zone_text(zone, out))
        .map_err(|source| ValidationError::Text { zone: name.to_string(), serial, dir: text_dir.to_path_buf(), source })
}

/// Checks `signed` (the completed plan of `zone`) against the version
/// published now and returns what to publish, its text in a temporary
/// file in `text_dir` (CPU work: call on the blocking pool).
pub fn validate_whole(
    zone: &str,
    signed: Zone,
    published: Option<Published<'_>>,
    options: &ValidationOptions,
    text_dir: &Path,
    stages: &super::stages::Stages,
) -> Result<ValidatedVersion, ValidationError> {
    let apex = signed.apex().clone();
    let serial = signed.soa().map(|(_, soa)| soa.serial().into_int()).unwrap_or(0);
    let zone_error = |source| ValidationError::Zone { zone: zone.to_string(), serial, source };
    // A new zone is validated as the text it is published as: that text,
    // read back, is the zone model checked. The text goes to its file as
    // it is presented and is read back from there a block of lines at a
    // time, never held whole (it is the size of the zone); the validated
    // model is presented again at the end and must give the same octets.
    let (result, changes, known, read_back) = match published {
        None => {
            let text = present(zone, serial, &signed, text_dir)?;
            drop(signed);
            let source = format!("{zone} (signed)");
            let result = ZoneBuilder::from_lines(apex, InputKind::Signed, text.reader(), Path::new(&source))
                .map_err(|source| ValidationError::Load { zone: zone.to_string(), serial, source })?
                .finish()
                .map_err(zone_error)?;
            (result, None, VerifiedSignatures::default(), Some(text))
        }
        Some(p) => {
            let new = ZoneContent::from_zone(&signed, Path::new(&format!("{zone} (signed)")));
            drop(signed);
            let name = changes_file_name(zone, p.serial, serial);
            let applies = |source| ValidationError::Changes { zone: zone.to_string(), from: p.serial, to: serial, source };
            stages.mark("signed content");
            let set = ZoneContent::compare(p.content, &new).map_err(applies)?;
            drop(new);
            stages.mark("compare");
            let text = set.to_text();
            // What is validated and kept is the set read back from the
            // text: the set compared goes now (for a whole re-sign it is
            // the size of the zone, every signature replaced).
            drop(set);
            let records = load_zone_text(&text, Path::new(&name), &apex)
                .map_err(|source| ValidationError::Load { zone: zone.to_string(), serial, source })?;
            let mut content = p.content.clone();
            let mut reread = ChangeSet::parse(records).map_err(applies)?;
            for s in &reread {
                content.apply(s).map_err(applies)?;
            }
            stages.mark("read back, apply");
            let result = content.to_zone(InputKind::Signed).map_err(zone_error)?;
            stages.mark("signed zone model");
            let set = match reread.len() {
                1 => reread.pop(),
                _ => None,
            };
            (result, set.map(|s| (s, text)), p.known.clone(), None)
        }
    };
    let (report, known) = validate_zone_incremental(&result, options, &known);
    stages.mark("validate");
    if !report.is_valid() {
        return Err(invalid(zone, serial, &report));
    }
    // Hashed once as it is written, for the file name and the digest
    // signers are told; held on disk, not beside the zone model.
    let text = match read_back {
        Some(text) => {
            let (_, presented, _) = write_hashed(std::io::sink(), |out| write_zone_text(&result, out))
                .map_err(|source| ValidationError::Text { zone: zone.to_string(), serial, dir: text_dir.to_path_buf(), source })?;
            if presented != *text.sha256() {
                return Err(ValidationError::TextChanged { zone: zone.to_string(), serial });
            }
            text
        }
        None => present(zone, serial, &result, text_dir)?,
    };
    stages.mark("signed text");
    Ok(ValidatedVersion { zone: result, text, changes, report, known })
}

/// A validated version and what publishing it needs.
pub(crate) struct Outcome {
    /// The published zone, with the patch applied (or the new zone).
    pub(crate) zone: SharedZone,
    /// What undoes the patch, if the registry cannot take the version.
    pub(crate) undo: Option<ZonePatch>,
    /// The whole signed text, when asked for or when the version is whole.
    pub(crate) text: Option<ZoneText>,
    pub(crate) changes: Option<(ChangeSet, String)>,
    pub(crate) report: frostzone_dnssec::validate::Report,
    pub(crate) known: VerifiedSignatures,
    pub(crate) next_due: Option<u32>,
    pub(crate) first_expiration: Option<u32>,
    pub(crate) signatures: u64,
}

/// The verified-signature cache after a patch: it also holds the digests
/// of signatures the zone no longer has (replaced by a refresh or a
/// change). Past twice the zone's signatures, it is rebuilt from the zone:
/// the signatures it knows are hashed, not verified again, so that costs
/// one pass over the zone once per doubling, O(1) per signature made. A
/// zone that does not validate whole keeps the old cache (it only makes
/// later validations skip signatures it vouches for, never pass others).
fn prune_known(zone: &SharedZone, known: VerifiedSignatures, signatures: u64, options: &ValidationOptions, stages: &Stages) -> VerifiedSignatures {
    if (known.len() as u64) <= 2 * signatures.max(1) {
        return known;
    }
    let (report, current) = validate_zone_incremental(&read_zone(zone), options, &known);
    stages.mark("verified-signature cache rebuilt");
    if report.is_valid() {
        current
    } else {
        known
    }
}

/// Validates a completed plan against the version published now and
/// makes it the published zone in memory (CPU work: blocking pool). The
/// signed text goes to a temporary file in `text_dir`: always for a whole
/// version (it is what is validated), for a patch if `want_text`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish(
    zone: &str,
    signed: CompletedPlan,
    current: Option<&Version>,
    options: &ValidationOptions,
    refresh: &frostzone_dnssec::signing::refresh::RefreshPolicy,
    want_text: bool,
    text_dir: &Path,
    stages: &Stages,
) -> Result<Outcome, CoordinatorError> {
    match (signed, current) {
        (CompletedPlan::Update { base, patch }, Some(v)) => {
            let released = {
                let zone_now = read_zone(&base);
                validate_change_set(zone, &zone_now, &patch, v.record.serial, &v.known, options, stages)?
            };
            let ValidatedPatch { patch, changes, report, verified } = released;
            let mut known = v.known.clone();
            known.extend(verified);
            // New signatures are due later than any kept one; removed ones
            // can only make the recorded time early (a refresh comes sooner).
            let mut next_due = v.next_due;
            let mut first_expiration = v.first_expiration;
            let now = options.now;
            let earlier = |a: Option<u32>, b: u32| Some(a.map_or(b, |a| if (b.wrapping_sub(now) as i32) < (a.wrapping_sub(now) as i32) { b } else { a }));
            for (owner, node) in patch.iter() {
                for sig in node.map(|n| n.signatures.as_slice()).unwrap_or_default() {
                    let exp = sig.rrsig.expiration().into_int();
                    first_expiration = earlier(first_expiration, exp);
                    next_due = earlier(next_due, refresh.due_at(&owner.0, sig.rrsig.type_covered().to_int(), KeyTag(sig.rrsig.key_tag()), exp));
                }
            }
            let (text, signatures, undo) = {
                let mut z = base.write().unwrap_or_else(|e| e.into_inner());
                let mut undo = ZonePatch::default();
                // The version's count follows from the nodes the patch
                // replaces: counting the zone again would cost O(zone).
                let (mut removed, mut added) = (0u64, 0u64);
                for (name, node) in patch.iter() {
                    let old = z.node(&name.0).cloned();
                    removed += old.as_ref().map_or(0, |n| n.signatures.len() as u64);
                    added += node.map_or(0, |n| n.signatures.len() as u64);
                    undo.set(name.clone(), old);
                }
                z.apply_patch(patch);
                let signatures = (v.record.signatures + added).saturating_sub(removed);
                debug_assert_eq!(signatures, z.signature_count() as u64, "the signature count kept with the version");
                let serial = z.soa().map_or(v.record.serial, |(_, soa)| soa.serial().into_int());
                let text = match want_text.then(|| present(zone, serial, &z, text_dir)).transpose() {
                    Ok(text) => text,
                    Err(e) => {
                        // The published model goes back to the version the registry holds.
                        z.apply_patch(undo);
                        return Err(e.into());
                    }
                };
                (text, signatures, undo)
            };
            stages.mark(if want_text { "apply, signed text" } else { "apply" });
            // A patch that refreshed due signatures replaced the ones the
            // recorded times came from: those times are found again over
            // the zone (once per refresh; a diff between refreshes keeps
            // the running minimum above).
            if v.refresh_due(now) {
                let times = refresh.signature_times(&read_zone(&base), now);
                (next_due, first_expiration) = (times.next_due, times.first_expiration);
                stages.mark("refresh times");
            }
            let known = prune_known(&base, known, signatures, options, stages);
            Ok(Outcome { zone: base, undo: Some(undo), text, changes: Some(changes), report, known, next_due, first_expiration, signatures })
        }
        (signed, current) => {
            let signed = match signed {
                CompletedPlan::Zone(z) => z,
                CompletedPlan::Update { base, patch } => {
                    let mut z = read_zone(&base).clone();
                    z.apply_patch(patch);
                    z
                }
            };
            let content = current.map(|v| ZoneContent::from_zone(&read_zone(&v.zone), std::path::Path::new(zone)));
            let published = current.zip(content.as_ref()).map(|(v, content)| Published { content, serial: v.record.serial, known: &v.known });
            let released = validate_whole(zone, signed, published, options, text_dir, stages)?;
            let ValidatedVersion { zone: new, text, changes, report, known } = released;
            let times = refresh.signature_times(&new, options.now);
            stages.mark("refresh times");
            Ok(Outcome {
                signatures: new.signature_count() as u64,
                next_due: times.next_due,
                first_expiration: times.first_expiration,
                zone: Arc::new(std::sync::RwLock::new(new)),
                undo: None,
                text: Some(text),
                changes,
                report,
                known,
            })
        }
    }
}
