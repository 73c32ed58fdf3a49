//! Hostile input for the zone-file loader (RFC 1035 §5 master files):
//! whatever the text, `load_zone_text` and `load_zone_file` answer with
//! records or an error naming the line — never a panic, never a hang —
//! and what they accept goes through the zone model and reads back the
//! same from frostzone's own presentation.
//!
//! Zone text arrives from operators over the coordinator's API, so every
//! byte of it is attacker-controlled. A short run by default; a long run
//! with `FROSTZONE_FUZZ_CASES=20000` (see docs/fuzzing.md).

mod fuzz_support;

use std::path::Path;
use std::str::FromStr;

use frostzone_dnssec::change_set::ZoneContent;
use frostzone_dnssec::load::{load_zone_file, load_zone_text, LoadError, LoadedRecord};
use frostzone_dnssec::zone::{InputKind, Zone};
use frostzone_dnssec::StoredName;
use fuzz_support::{cases, within, zone_text};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn apex() -> StoredName {
    StoredName::from_str("example.").unwrap()
}

/// What the coordinator does with a whole zone it is sent: the records,
/// their content set, the zone model (both input kinds), and the content
/// written out and read back.
fn load_and_model(text: String) -> Result<(), String> {
    let records = match load_zone_text(&text, Path::new("upload.zone"), &apex()) {
        Ok(r) => r,
        Err(e) => return check_error(&e),
    };
    model(records)
}

/// Every error names its place (`file:line…`), and none is the scanner's
/// panic caught ([`LoadError::ScannerFailure`]: a case prescan should refuse first).
fn check_error(e: &LoadError) -> Result<(), String> {
    let msg = e.to_string();
    if matches!(e, LoadError::ScannerFailure { .. }) || !msg.contains(':') {
        return Err(format!("{msg} ({e:?})"));
    }
    Ok(())
}

fn model(records: Vec<LoadedRecord>) -> Result<(), String> {
    let _ = Zone::from_records(apex(), records.clone(), InputKind::Unsigned);
    let _ = Zone::from_records(apex(), records.clone(), InputKind::Signed);
    let content = ZoneContent::new(apex(), records);
    let text = content.to_text();
    let back = load_zone_text(&text, Path::new("written"), &StoredName::root_bytes())
        .map_err(|e| format!("frostzone's own output does not read back: {e}\n{text}"))?;
    let again = ZoneContent::new(apex(), back);
    if !again.same_records(&content) {
        return Err(format!("written and read back, the records differ:\n{text}\n---\n{}", again.to_text()));
    }
    let _ = content.without_generated().0.to_zone(InputKind::Unsigned);
    Ok(())
}

proptest! {
    #![proptest_config(Config::with_cases(cases(512)))]

    /// Structured, mutated text through the loader that the coordinator
    /// runs on what it is sent ($INCLUDE refused).
    #[test]
    fn fuzz_zone_text_loads_or_fails_cleanly(text in zone_text()) {
        let text = String::from_utf8_lossy(&text).into_owned();
        let outcome = within(move || load_and_model(text))?;
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }

    /// Raw octets, no structure at all.
    #[test]
    fn fuzz_zone_text_raw_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let outcome = within(move || load_and_model(text))?;
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }

    /// The file loader on the CLI's side, non-UTF-8 octets kept and
    /// `$INCLUDE` followed: of itself (a loop), of a file that is missing
    /// and of a second hostile file.
    #[test]
    fn fuzz_zone_file_with_includes(main in zone_text(), other in zone_text()) {
        let outcome = within(move || {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let path = dir.path().join("self.zone");
            std::fs::write(&path, &main).map_err(|e| e.to_string())?;
            std::fs::write(dir.path().join("other.zone"), &other).map_err(|e| e.to_string())?;
            match load_zone_file(&path, &apex()) {
                Ok(records) => model(records),
                Err(e) => check_error(&e),
            }
        })?;
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}

/// Inputs that once failed, kept by name (proptest's own regression file,
/// `fuzz_zone_file.proptest-regressions`, replays the generated ones).
mod regressions {
    use super::*;

    fn clean(text: &str) {
        load_and_model(text.to_string()).unwrap();
    }

    #[test]
    fn an_unknown_type_with_generic_rdata_round_trips() {
        clean("@ 300 IN SOA ns hm 1 2 3 4 5\nx 300 TYPE65534 \\# 3 abcdef\n");
    }

    /// The scanner panicked on a character string that reached the end
    /// of the text after a comment (the first case this target found).
    #[test]
    fn a_txt_entry_ending_in_a_comment_at_the_end_of_the_text() {
        clean("@ IN  TXT \"unterminated \";\"");
        clean("@ TXT (a;");
    }

    /// `a..b` was read as a name with an empty label inside, written out
    /// as `a.`: the record did not read back (in an RRSIG the signature
    /// took what followed the empty label, so no octets were left over).
    #[test]
    fn a_name_with_an_empty_label_inside() {
        for text in ["\\ IN  CNAME a..b", "x RRSIG A 15 0 300 20300101000000 0 1 a..b AAAA"] {
            clean(text);
            assert!(load_zone_text(text, Path::new("t"), &apex()).is_err(), "{text}");
        }
    }

    #[test]
    fn huge_ttls_and_lengths_load_or_fail_cleanly() {
        clean("$TTL 99999999999999999999999\n@ SOA ns hm 1 2 3 4 5\n");
        clean("x 300 TYPE65534 \\# 69999 ab\n");
    }
}
