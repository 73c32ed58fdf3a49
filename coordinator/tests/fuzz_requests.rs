//! Hostile input for what the coordinator decodes from operators: raw
//! octets as every request message of its API (prost decodes or refuses
//! them, and what it decodes encodes back to the same message), and zone
//! and change-file text, structured and mutated, through the input stage
//! a SignZone or SubmitChanges request ends in
//! ([`frostzone_coordinator::pipeline::input::next_version`]): a version
//! or an error, never a panic or a hang.
//!
//! A short run by default; a long run with `FROSTZONE_FUZZ_CASES=20000`
//! (see docs/fuzzing.md).

#[path = "../../dnssec/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::path::Path;
use std::str::FromStr;

use frostzone_coordinator::pipeline::input::{next_version, Current, Input};
use frostzone_dnssec::change_set::ZoneContent;
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::serial::SerialPolicy;
use frostzone_dnssec::StoredName;
use frostzone_proto::v1::*;
use fuzz_support::{cases, line, mutate, mutation, within, zone_text};
use prost::Message;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

/// Decodes `bytes` as `M`; what decodes must encode back to itself.
fn decodes_cleanly<M: Message + Default + PartialEq>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(message) = M::decode(bytes) {
        let again = M::decode(message.encode_to_vec().as_slice());
        prop_assert!(again.as_ref() == Ok(&message), "{} does not read back", std::any::type_name::<M>());
    }
    Ok(())
}

/// Every request message of the coordinator's API.
fn decode_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    decodes_cleanly::<StatusRequest>(bytes)?;
    decodes_cleanly::<GenerateKeyRequest>(bytes)?;
    decodes_cleanly::<ImportKeyBeginRequest>(bytes)?;
    decodes_cleanly::<ImportKeyFinishRequest>(bytes)?;
    decodes_cleanly::<RemoveKeyRequest>(bytes)?;
    decodes_cleanly::<RefreshSharesRequest>(bytes)?;
    decodes_cleanly::<RepairShareRequest>(bytes)?;
    decodes_cleanly::<ListKeysRequest>(bytes)?;
    decodes_cleanly::<GetDsRequest>(bytes)?;
    decodes_cleanly::<StartRolloverRequest>(bytes)?;
    decodes_cleanly::<KeyStatusRequest>(bytes)?;
    decodes_cleanly::<ConfirmDsRequest>(bytes)?;
    decodes_cleanly::<SignZoneChunk>(bytes)?;
    decodes_cleanly::<GetZoneRequest>(bytes)?;
    decodes_cleanly::<ListRequestsRequest>(bytes)?;
    decodes_cleanly::<GetRequestRequest>(bytes)
}

fn apex() -> StoredName {
    StoredName::from_str("example.").unwrap()
}

/// The published version changes apply to (serial 10).
fn published() -> ZoneContent {
    let text = "example. 3600 IN SOA ns1.example. hm.example. 10 7200 3600 1209600 300\n\
                example. 3600 IN NS ns1.example.\nns1.example. 3600 IN A 192.0.2.53\nwww.example. 300 IN A 192.0.2.1\n";
    ZoneContent::new(apex(), load_zone_text(text, Path::new("published"), &apex()).unwrap())
}

/// A SignZone or SubmitChanges upload as the API hands it on: text that
/// is not UTF-8 is refused there, so here it is read lossily.
fn next(data: Vec<u8>, changes: bool, policy: SerialPolicy) -> Result<(), String> {
    let text = String::from_utf8_lossy(&data).into_owned();
    let content = published();
    let current = Current { content: &content, serial: 10, input_serial: 10 };
    let source = "upload".to_string();
    let input = if changes { Input::ChangeText { text, source } } else { Input::Text { text, source } };
    match next_version(&apex(), "example.", Some(current), input, policy, 1_800_000_000) {
        Ok(v) if v.content.serial() != Some(v.serial) => Err(format!("serial {} but the SOA says {:?}", v.serial, v.content.serial())),
        Ok(_) => Ok(()),
        Err(e) if e.to_string().is_empty() => Err("an empty error".into()),
        Err(_) => Ok(()),
    }
}

/// Change text: the published SOA, some lines, a new SOA, more lines.
fn change_text() -> impl Strategy<Value = Vec<u8>> {
    let soa = |serial: u32| format!("example. 3600 IN SOA ns1.example. hm.example. {serial} 7200 3600 1209600 300");
    (prop::collection::vec(line(), 0..4), prop_oneof![Just(11u32), any::<u32>()], prop::collection::vec(line(), 0..4), prop::collection::vec(mutation(), 0..3))
        .prop_map(move |(removed, serial, added, edits)| {
            let lines: Vec<String> = std::iter::once(soa(10)).chain(removed).chain([soa(serial)]).chain(added).collect();
            mutate(lines.join("\n").into_bytes(), &edits)
        })
}

fn policy() -> impl Strategy<Value = SerialPolicy> {
    prop_oneof![Just(SerialPolicy::Keep), Just(SerialPolicy::Increment), Just(SerialPolicy::UnixTime), Just(SerialPolicy::DateCounter)]
}

proptest! {
    #![proptest_config(Config::with_cases(cases(1024)))]

    #[test]
    fn fuzz_raw_bytes_as_every_coordinator_request(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        decode_all(&bytes)?;
    }

    /// A SignZoneChunk encoded, then octets changed: decoding sees
    /// near-valid messages, not only noise.
    #[test]
    fn fuzz_mutated_sign_zone_chunk(zone in "[a-z.]{0,12}", data in prop::collection::vec(any::<u8>(), 0..64), edits in prop::collection::vec(mutation(), 1..4)) {
        let options = SignZoneOptions { zone, source_name: "up".into(), ..SignZoneOptions::default() };
        let chunk = SignZoneChunk { api_version: 1, options: Some(options), data };
        decode_all(&mutate(chunk.encode_to_vec(), &edits))?;
    }
}

proptest! {
    #![proptest_config(Config::with_cases(cases(256)))]

    #[test]
    fn fuzz_sign_zone_text_input(text in zone_text(), policy in policy()) {
        let outcome = within(move || next(text, false, policy))?;
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }

    #[test]
    fn fuzz_submit_changes_input(text in change_text(), policy in policy()) {
        let outcome = within(move || next(text, true, policy))?;
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}
