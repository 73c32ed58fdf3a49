//! Hostile input for change files in the IXFR form of RFC 1995 §4 (what
//! SubmitChanges carries): however the sequence of SOAs, removals and
//! additions is broken, reading, applying and patching answer with a
//! result or every problem with its line — never a panic, never a hang —
//! and what applies cleanly agrees with itself: the set written out reads
//! back to the same set, and comparing the two versions gives a set that
//! makes the same new version.
//!
//! A short run by default; a long run with `FROSTZONE_FUZZ_CASES=20000`
//! (see docs/fuzzing.md).

mod fuzz_support;

use std::path::Path;
use std::str::FromStr;

use frostzone_dnssec::change_set::{ChangeSet, ZoneContent};
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::zone::{InputKind, Zone};
use frostzone_dnssec::zone_patch::{ZonePatch, ZoneView};
use frostzone_dnssec::StoredName;
use fuzz_support::{cases, line, mutate, mutation, within};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// The published version the changes are made against (serial 10): a
/// delegation with DS and glue, a wildcard, an unknown type.
const BASE: [&str; 10] = [
    "example. 3600 IN SOA ns1.example. hostmaster.example. 10 7200 3600 1209600 300",
    "example. 3600 IN NS ns1.example.",
    "ns1.example. 3600 IN A 192.0.2.53",
    "www.example. 300 IN A 192.0.2.1",
    "www.example. 300 IN A 192.0.2.2",
    "example. 300 IN MX 10 mail.example.",
    "*.wild.example. 300 IN TXT \"wild\"",
    "sub.example. 3600 IN NS ns.sub.example.",
    "sub.example. 3600 IN DS 31589 15 2 1B6E1C1B06B1C37F0D5A6E2C34A4C93E6D10D3E52B6E3F0F4E0A2D0B8C9A7E6D",
    "ns.sub.example. 3600 IN A 192.0.2.99",
];

fn apex() -> StoredName {
    StoredName::from_str("example.").unwrap()
}

fn base_content() -> ZoneContent {
    let text = BASE.join("\n");
    ZoneContent::new(apex(), load_zone_text(&text, Path::new("base"), &apex()).unwrap())
}

/// An SOA line with `serial`, at the apex or (sometimes) elsewhere.
fn soa_at(serial: u32) -> impl Strategy<Value = String> {
    (prop_oneof![8 => Just("example."), 1 => Just("www.example."), 1 => Just("@")], prop::bool::weighted(0.9)).prop_map(
        move |(owner, same_fields)| {
            let fields = if same_fields { "7200 3600 1209600 300" } else { "1 2 3 4" };
            format!("{owner} 3600 IN SOA ns1.example. hostmaster.example. {serial} {fields}")
        },
    )
}

/// An SOA line naming a serial near the base's or a random one.
fn soa_line() -> impl Strategy<Value = String> {
    prop_oneof![4 => 9u32..14, 1 => any::<u32>()].prop_flat_map(soa_at)
}

/// A record line for the removals or additions: one of the base's (so
/// removals find it and additions collide), one with its TTL changed, a
/// new one, or a generated (often broken) one.
fn record_line() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0..BASE.len()).prop_map(|i| BASE[i].to_string()),
        2 => ((1..BASE.len()), 1u32..100_000).prop_map(|(i, ttl)| {
            let mut parts: Vec<&str> = BASE[i].splitn(3, ' ').collect();
            let ttl = ttl.to_string();
            parts[1] = &ttl;
            parts.join(" ")
        }),
        4 => (0u8..=255).prop_map(|n| format!("h{n}.example. 300 IN A 192.0.2.{n}")),
        1 => line(),
    ]
}

/// Difference sequence `i` of a file: from serial 10 + i to 11 + i most of
/// the time (so sets chain and apply), an SOA with another serial or none
/// at all otherwise.
fn change_set(i: u32) -> impl Strategy<Value = Vec<String>> {
    let soa = move |serial: u32| prop_oneof![16 => soa_at(serial).prop_map(Some), 3 => soa_line().prop_map(Some), 1 => Just(None)];
    let removal = prop_oneof![4 => (1..BASE.len()).prop_map(|i| BASE[i].to_string()), 1 => record_line()];
    let addition = prop_oneof![4 => (0u8..=255).prop_map(|n| format!("n{n}.example. 300 IN TXT \"{n}\"")), 1 => record_line()];
    (soa(10 + i), prop::collection::vec(removal, 0..4), soa(11 + i), prop::collection::vec(addition, 0..4))
        .prop_map(|(old, removed, new, added)| old.into_iter().chain(removed).chain(new).chain(added).collect())
}

/// A change file: one to three sets, sometimes mutated.
fn change_text() -> impl Strategy<Value = Vec<u8>> {
    (
        (1u32..4).prop_flat_map(|n| (0..n).map(change_set).collect::<Vec<_>>()),
        prop_oneof![6 => Just(Vec::new()), 1 => prop::collection::vec(mutation(), 1..4)],
    )
        .prop_map(|(sets, edits)| {
            let text = sets.into_iter().flatten().collect::<Vec<_>>().join("\n") + "\n";
            mutate(text.into_bytes(), &edits)
        })
}

/// What the coordinator does with a change file (read, split into sets,
/// apply all or nothing), and what the signed path does (a patch of the
/// published zone), with the round trips that must hold.
fn read_and_apply(text: String) -> Result<(), String> {
    let Ok(records) = load_zone_text(&text, Path::new("changes"), &apex()) else { return Ok(()) };
    let Ok(sets) = ChangeSet::parse(records) else { return Ok(()) };
    let base = base_content();
    let base_zone = base.to_zone(InputKind::Unsigned).map_err(|e| e.to_string())?;
    let mut content = base.clone();
    for set in &sets {
        let written = set.to_text();
        let back = load_zone_text(&written, Path::new("written"), &StoredName::root_bytes())
            .map_err(|e| format!("a change set written out does not read back: {e}\n{written}"))?;
        let back = ChangeSet::parse(back).map_err(|e| format!("a change set written out does not parse: {e}\n{written}"))?;
        if back.len() != 1 || back[0].removed.len() != set.removed.len() || back[0].added.len() != set.added.len() {
            return Err(format!("a change set written out reads back differently:\n{written}"));
        }
        if let Ok(patch) = ZonePatch::from_changes(&base_zone, set) {
            let view = ZoneView::new(&base_zone, &patch);
            let _ = view.signed_rrsets().len() + view.proposed_rrsets().len();
            let _ = view.changes(Path::new("patch"));
            let mut patched = base_zone.clone();
            patched.apply_patch(patch);
        }
        let before = content.clone();
        if content.apply(set).is_err() {
            if !content.same_records(&before) {
                return Err(format!("a refused change set changed the content:\n{written}"));
            }
            continue;
        }
        let diff = ZoneContent::compare(&before, &content).map_err(|e| e.to_string())?;
        let mut again = before.clone();
        again.apply(&diff).map_err(|e| format!("the compared set does not apply: {e}\n{}", diff.to_text()))?;
        if !again.same_records(&content) {
            return Err(format!("the compared set makes another version:\n{}", diff.to_text()));
        }
        let _ = content.to_zone(InputKind::Unsigned);
        let _ = Zone::from_records(apex(), content.records().collect(), InputKind::Signed);
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config::with_cases(cases(512)))]

    #[test]
    fn fuzz_change_file_reads_and_applies_or_fails_cleanly(text in change_text()) {
        let text = String::from_utf8_lossy(&text).into_owned();
        let outcome = within(move || read_and_apply(text))?;
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }

    /// Records in any order: SOAs anywhere, none, or only SOAs.
    #[test]
    fn fuzz_change_file_any_record_order(lines in prop::collection::vec(prop_oneof![soa_line(), record_line()], 0..12)) {
        let text = lines.join("\n");
        let outcome = within(move || read_and_apply(text))?;
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}

/// Named cases (proptest's own regression file,
/// `fuzz_change_file.proptest-regressions`, replays the generated ones).
mod regressions {
    use super::*;

    #[test]
    fn a_set_that_removes_and_adds_the_same_record_applies() {
        let text = format!("{}\n{}\n{}\n{}\n", BASE[0], BASE[3], BASE[0].replace(" 10 ", " 11 "), BASE[3]);
        read_and_apply(text).unwrap();
    }
}
