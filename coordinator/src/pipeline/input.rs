//! From an input to the next unsigned version of a zone (no I/O).
//!
//! Every input becomes a whole unsigned [`ZoneContent`] with the SOA
//! serial its serial policy gives ([`frostzone_dnssec::serial`]):
//!
//! * a whole zone (SignZone, AXFR from the hidden primary) replaces the
//!   content;
//! * change sets in the IXFR form of RFC 1995 §4 (SubmitChanges, IXFR from
//!   the hidden primary) apply to the current content, all of them or
//!   nothing, every problem named with its file and line;
//! * a refresh keeps the content.
//!
//! A change set may name the current version by the serial published
//! (what secondaries and GetZone show) or by the serial of the input it
//! was made from (the primary's numbering): both name the same version.
//! RFC 1996 §2.2 and RFC 1995 §2: secondaries notice a version only by a
//! newer serial, so a refresh or a change that keeps the serial still
//! gets a new one (under policy keep, a refresh adds one).

use std::path::Path;

use frostzone_proto::v1 as pb;
use frostzone_dnssec::change_set::{ChangeSet, ChangesError, ZoneContent};
use frostzone_dnssec::load::{load_zone_text, LoadError};
use frostzone_dnssec::serial::{next_serial, SerialError, SerialPolicy};
use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_dnssec::StoredName;

use crate::keys::rollover::phases::Rollover;

/// What a request brings.
#[derive(Debug)]
pub enum Input {
    /// A whole unsigned zone as master file text, named `source` in
    /// messages.
    Text {
        /// The text.
        text: String,
        /// Its name in messages.
        source: String,
    },
    /// A whole unsigned zone, already read (AXFR).
    Content(ZoneContent),
    /// A change file (IXFR form) as text, named `source` in messages.
    ChangeText {
        /// The text.
        text: String,
        /// Its name in messages.
        source: String,
    },
    /// Change sets, already read (IXFR).
    Changes(Vec<ChangeSet>),
    /// The same content, signatures refreshed.
    Refresh,
    /// The same content, published with the keys of a rollover's next
    /// phase: `rollovers` (the latest of each role) as they will be once
    /// it is published; `step` says which step, for the signers' operators.
    KeyStep {
        /// The zone's rollovers after the step.
        rollovers: Vec<Rollover>,
        /// `ZSK rollover 2→3: new key active`, say.
        step: String,
    },
}

impl Input {
    /// Whether the input is a whole zone.
    pub fn is_whole_zone(&self) -> bool {
        matches!(self, Input::Text { .. } | Input::Content(_))
    }

    /// What the input is, for logs and the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            Input::Text { .. } | Input::Content(_) => "zone",
            Input::ChangeText { .. } | Input::Changes(_) => "changes",
            Input::Refresh => "refresh",
            Input::KeyStep { .. } => "rollover step",
        }
    }
}

/// The version published now, as inputs see it.
#[derive(Clone, Copy, Debug)]
pub struct Current<'a> {
    /// Its unsigned content (SOA serial = `serial`).
    pub content: &'a ZoneContent,
    /// The published serial.
    pub serial: u32,
    /// The serial of the input it was made from.
    pub input_serial: u32,
}

/// The next unsigned version.
#[derive(Debug)]
pub struct NextVersion {
    /// The content, with `serial` in its SOA.
    pub content: ZoneContent,
    /// The serial to publish.
    pub serial: u32,
    /// The serial of the input.
    pub input_serial: u32,
    /// Records dropped from a whole zone (DNSSEC records frostzone makes
    /// itself), as `file:line: message` lines.
    pub warnings: Vec<String>,
    /// For changes: the (owner, type) of every record removed or added
    /// (the SOA not included), what an incremental signing looks at.
    pub touched: Option<Vec<(StoredName, Rtype)>>,
}

/// An input that cannot become a version. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The text does not parse (file, line and column in the message).
    #[error("zone {zone}: {source}")]
    Load {
        /// The zone.
        zone: String,
        /// What the reader said.
        source: LoadError,
    },
    /// The change file does not read as change sets, or does not apply
    /// to the current version.
    #[error("zone {zone} at serial {serial}: changes refused, nothing was changed:\n{source}")]
    Changes {
        /// The zone.
        zone: String,
        /// The published serial.
        serial: u32,
        /// Every problem, with its file and line.
        source: ChangesError,
    },
    /// Changes or a refresh for a zone with no published version.
    #[error("zone {zone}: nothing is published yet to apply {what} to: sign the whole zone first")]
    NoVersion {
        /// The zone.
        zone: String,
        /// "changes" or "a refresh".
        what: &'static str,
    },
    /// A whole zone without an SOA at its apex.
    #[error("zone {zone}: {input}: the zone has no SOA record at its apex")]
    NoSoa {
        /// The zone.
        zone: String,
        /// The input's name in messages.
        input: String,
    },
    /// The serial policy cannot give a newer serial.
    #[error("zone {zone}: {source}")]
    Serial {
        /// The zone.
        zone: String,
        /// Why.
        source: SerialError,
    },
}

/// The next version of `zone` (apex `apex`) from `input`, given the
/// version published now (`None` before the first publication).
pub fn next_version(
    apex: &StoredName,
    zone: &str,
    current: Option<Current<'_>>,
    input: Input,
    policy: SerialPolicy,
    now: u64,
) -> Result<NextVersion, InputError> {
    let load = |text: &str, source: &str| {
        load_zone_text(text, Path::new(source), apex).map_err(|source| InputError::Load { zone: zone.to_string(), source })
    };
    let touched = match &input {
        Input::Changes(sets) => Some(touched_by(sets)),
        _ => None,
    };
    let (mut content, input_serial, policy, warnings, touched) = match input {
        Input::Text { text, source } => {
            let content = ZoneContent::new(apex.clone(), load(&text, &source)?);
            let (c, s, p, w) = whole(content, zone, &source, policy)?;
            (c, s, p, w, None)
        }
        Input::Content(content) => {
            let (c, s, p, w) = whole(content, zone, "transfer", policy)?;
            (c, s, p, w, None)
        }
        Input::ChangeText { text, source } => {
            let current = current.ok_or_else(|| InputError::NoVersion { zone: zone.to_string(), what: "changes" })?;
            let sets = ChangeSet::parse(load(&text, &source)?)
                .map_err(|source| InputError::Changes { zone: zone.to_string(), serial: current.serial, source })?;
            let (content, input_serial) = apply(current, &sets, zone)?;
            (content, input_serial, policy, Vec::new(), Some(touched_by(&sets)))
        }
        Input::Changes(sets) => {
            let current = current.ok_or_else(|| InputError::NoVersion { zone: zone.to_string(), what: "changes" })?;
            let (content, input_serial) = apply(current, &sets, zone)?;
            (content, input_serial, policy, Vec::new(), touched)
        }
        Input::Refresh | Input::KeyStep { .. } => {
            let current = current.ok_or_else(|| InputError::NoVersion { zone: zone.to_string(), what: "a refresh" })?;
            // The input's serial cannot move: under keep, count up.
            let policy = if policy == SerialPolicy::Keep { SerialPolicy::Increment } else { policy };
            // A refresh touches no record (only the SOA serial moves): it
            // is signed as a patch of the names with due signatures.
            let touched = matches!(input, Input::Refresh).then(Vec::new);
            (current.content.clone(), current.input_serial, policy, Vec::new(), touched)
        }
    };
    let published = current.map(|c| c.serial);
    let serial = next_serial(policy, published, input_serial, now).map_err(|source| InputError::Serial { zone: zone.to_string(), source })?;
    content.set_serial(serial).map_err(|source| InputError::Changes { zone: zone.to_string(), serial: published.unwrap_or(0), source })?;
    Ok(NextVersion { content, serial, input_serial, warnings, touched })
}

/// The unsigned change set from `old` to `new` whose records of `touched`
/// (owner, type) differ, as IXFR text (RFC 1995 §4): what the registry
/// journals for a version published as a patch.
pub fn unsigned_change_text(old: &ZoneContent, new: &ZoneContent, touched: &[(StoredName, Rtype)]) -> Result<String, InputError> {
    let missing = || InputError::NoSoa { zone: frostzone_dnssec::name::FqdnDisplay(old.apex()).to_string(), input: "published version".into() };
    let (old_soa, new_soa) = (old.soa().ok_or_else(missing)?, new.soa().ok_or_else(missing)?);
    let mut seen = std::collections::BTreeSet::new();
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for (owner, rtype) in touched {
        if *rtype == Rtype::SOA || !seen.insert((frostzone_dnssec::name::CanonicalName(owner.clone()), rtype.to_int())) {
            continue;
        }
        let key = |r: &frostzone_dnssec::load::LoadedRecord| (r.record.ttl(), frostzone_dnssec::zone::Rdata::new(r.record.data().clone()).canonical);
        let before: Vec<_> = old.records_at(owner, *rtype).collect();
        let after: Vec<_> = new.records_at(owner, *rtype).collect();
        let before_keys: std::collections::BTreeSet<_> = before.iter().map(key).collect();
        let after_keys: std::collections::BTreeSet<_> = after.iter().map(key).collect();
        removed.extend(before.into_iter().filter(|r| !after_keys.contains(&key(r))));
        added.extend(after.into_iter().filter(|r| !before_keys.contains(&key(r))));
    }
    Ok(ChangeSet { old_soa, removed, new_soa, added }.to_text())
}

/// The (owner, type) of every record the sets remove or add.
fn touched_by(sets: &[ChangeSet]) -> Vec<(StoredName, Rtype)> {
    sets.iter().flat_map(|s| s.removed.iter().chain(&s.added)).map(|r| (r.record.owner().clone(), r.record.rtype())).collect()
}

type Whole = (ZoneContent, u32, SerialPolicy, Vec<String>);

fn whole(content: ZoneContent, zone: &str, source: &str, policy: SerialPolicy) -> Result<Whole, InputError> {
    let (content, dropped) = content.without_generated();
    let warnings = dropped
        .iter()
        .map(|r| format!("{}: {} {} dropped: frostzone generates DNSSEC records itself", r.location, frostzone_dnssec::name::FqdnDisplay(r.record.owner()), r.record.rtype()))
        .collect();
    let input_serial = content.serial().ok_or_else(|| InputError::NoSoa { zone: zone.to_string(), input: source.to_string() })?;
    Ok((content, input_serial, policy, warnings))
}

/// Applies `sets` in order to a copy of the current content; returns it
/// and the input serial it ends at.
fn apply(current: Current<'_>, sets: &[ChangeSet], zone: &str) -> Result<(ZoneContent, u32), InputError> {
    let refused = |source| InputError::Changes { zone: zone.to_string(), serial: current.serial, source };
    let mut work = current.content.clone();
    for (i, set) in sets.iter().enumerate() {
        // The first set may name the version by its input serial.
        if i == 0 && set.from_serial() != current.serial && set.from_serial() == current.input_serial {
            work.set_serial(current.input_serial).map_err(refused)?;
        }
        work.apply(set).map_err(refused)?;
    }
    let input_serial = work.serial().unwrap_or(current.input_serial);
    Ok((work, input_serial))
}

/// A request of the pipeline: who asked, its options and its input.
#[derive(Debug)]
pub struct Submission {
    /// Who asked: an operator certificate's name, "refresh schedule", or
    /// the primary.
    pub operator: String,
    /// Its options (`zone` is required).
    pub options: pb::SignZoneOptions,
    /// What it brings.
    pub input: Input,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const ZONE: &str = "$TTL 300\n@ IN SOA ns1 host 10 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A 192.0.2.1\n";

    fn apex() -> StoredName {
        StoredName::from_str("example.").unwrap()
    }

    fn first(policy: SerialPolicy) -> NextVersion {
        next_version(&apex(), "example.", None, Input::Text { text: ZONE.into(), source: "z".into() }, policy, 0).unwrap()
    }

    fn changes(text: &str) -> Input {
        Input::ChangeText { text: text.into(), source: "d.ixfr".into() }
    }

    #[test]
    fn a_first_version_keeps_its_serial_and_later_ones_move_forward() {
        let v1 = first(SerialPolicy::Increment);
        assert_eq!((v1.serial, v1.input_serial), (10, 10));
        let current = Current { content: &v1.content, serial: 10, input_serial: 10 };
        let again = next_version(&apex(), "example.", Some(current), Input::Text { text: ZONE.into(), source: "z".into() }, SerialPolicy::Increment, 0)
            .unwrap();
        assert_eq!(again.serial, 11);
        assert_eq!(again.content.serial(), Some(11));
        let refresh = next_version(&apex(), "example.", Some(current), Input::Refresh, SerialPolicy::Keep, 0).unwrap();
        assert_eq!((refresh.serial, refresh.input_serial), (11, 10));
        let e = next_version(&apex(), "example.", Some(current), Input::Text { text: ZONE.into(), source: "z".into() }, SerialPolicy::Keep, 0)
            .unwrap_err();
        assert!(e.to_string().contains("not newer than the published serial 10"), "{e}");
    }

    #[test]
    fn changes_apply_by_published_or_input_serial_and_refusals_name_file_and_line() {
        let v1 = first(SerialPolicy::Increment);
        // Published as 12 from input 10 (say, under unixtime).
        let mut published = v1.content.clone();
        published.set_serial(12).unwrap();
        let current = Current { content: &published, serial: 12, input_serial: 10 };
        let by_input = "@ 300 IN SOA ns1 host 10 3600 600 86400 300\nwww 300 IN A 192.0.2.1\n@ 300 IN SOA ns1 host 11 3600 600 86400 300\nwww 300 IN A 192.0.2.2\n";
        let v = next_version(&apex(), "example.", Some(current), changes(by_input), SerialPolicy::Increment, 0).unwrap();
        assert_eq!((v.serial, v.input_serial), (13, 11));
        let by_published = by_input.replace("host 10 ", "host 12 ").replace("host 11 ", "host 13 ");
        let v = next_version(&apex(), "example.", Some(current), changes(&by_published), SerialPolicy::Keep, 0).unwrap();
        assert_eq!((v.serial, v.input_serial), (13, 13));
        let wrong = "@ 300 IN SOA ns1 host 9 3600 600 86400 300\nnone 300 IN A 192.0.2.9\n@ 300 IN SOA ns1 host 11 3600 600 86400 300\nwww 300 IN A 192.0.2.1\n";
        let e = next_version(&apex(), "example.", Some(current), changes(wrong), SerialPolicy::Increment, 0).unwrap_err().to_string();
        assert!(e.starts_with("zone example. at serial 12: changes refused, nothing was changed:\n"), "{e}");
        assert!(e.contains("d.ixfr:1: these changes apply to serial 9, the zone is at serial 12"), "{e}");
        assert!(e.contains("d.ixfr:2: cannot remove none.example."), "{e}");
        assert!(e.contains("d.ixfr:4: cannot add www.example."), "{e}");
        let e = next_version(&apex(), "example.", None, changes(by_input), SerialPolicy::Increment, 0).unwrap_err();
        assert!(e.to_string().contains("nothing is published yet"), "{e}");
    }

    #[test]
    fn dnssec_records_of_a_whole_zone_are_dropped_with_a_warning() {
        let text = format!("{ZONE}@ 300 IN NSEC3PARAM 1 0 0 -\n");
        let v = next_version(&apex(), "example.", None, Input::Text { text, source: "z".into() }, SerialPolicy::Keep, 0).unwrap();
        assert_eq!(v.warnings.len(), 1);
        assert!(v.warnings[0].starts_with("z:6: example. NSEC3PARAM dropped"), "{:?}", v.warnings);
        let e = next_version(&apex(), "example.", None, Input::Text { text: "www 300 IN A 192.0.2.1\n".into(), source: "z".into() }, SerialPolicy::Keep, 0)
            .unwrap_err();
        assert!(e.to_string().contains("no SOA"), "{e}");
    }
}
