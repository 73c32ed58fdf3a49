//! Strategies for the fields of the signer's request messages: what a
//! hostile coordinator can put in each (random and edge-valued octets,
//! strings, integers, enum values no enum has, item counts), valid values
//! with one part changed, and byte-level tampering with encoded messages.

use frostzone_proto::v1::*;
use frostzone_proto::API_VERSION;
use proptest::prelude::*;

use super::fixture;

/// Which element of a list to tamper with, and the byte-level edits: each
/// replaces (`true`) or removes the octet at a relative position.
pub(super) type Edits = (usize, Vec<(f64, u8, bool)>);

pub(super) fn byte_edits() -> BoxedStrategy<Edits> {
    (any::<usize>(), prop::collection::vec((0.0f64..1.0, any::<u8>(), any::<bool>()), 0..4)).boxed()
}

/// Element `pick` (modulo the length) of `list` tampered with by `edits`,
/// or dropped when it no longer decodes.
pub(super) fn tamper_one<M: prost::Message + Default>(list: &mut Vec<M>, (pick, edits): &Edits) {
    if list.is_empty() {
        return;
    }
    let i = pick % list.len();
    match tampered(&list[i], edits) {
        Some(m) => list[i] = m,
        None => drop(list.remove(i)),
    }
}

/// `message` encoded, edited (each edit replaces or removes the octet at
/// a relative position) and decoded again, or `None` if prost refuses it.
pub(super) fn tampered<M: prost::Message + Default>(message: &M, edits: &[(f64, u8, bool)]) -> Option<M> {
    let mut wire = message.encode_to_vec();
    for &(at, octet, replace) in edits {
        let i = ((at * wire.len() as f64) as usize).min(wire.len().saturating_sub(1));
        match (wire.is_empty(), replace) {
            (true, _) => {}
            (false, true) => wire[i] = octet,
            (false, false) => drop(wire.remove(i)),
        }
    }
    M::decode(wire.as_slice()).ok()
}

pub(super) fn octets() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        2 => Just(Vec::new()),
        4 => prop::collection::vec(any::<u8>(), 0..80),
        2 => prop::collection::vec(any::<u8>(), 32..=32),
        1 => prop::collection::vec(any::<u8>(), 64..=64),
        1 => prop::collection::vec(any::<u8>(), 1000..3000),
    ].boxed()
}

pub(super) fn text() -> BoxedStrategy<String> {
    let f = fixture();
    prop_oneof![
        2 => Just(String::new()),
        2 => Just("example.".to_string()),
        1 => Just("Example".to_string()),
        1 => Just("a..b.".to_string()),
        1 => Just("exa\u{0}mple.".to_string()),
        2 => Just(f.sign_request.clone()),
        2 => Just(f.dkg_request.clone()),
        2 => "[0-9a-f]{32}",
        2 => "\\PC{0,40}",
        1 => (200usize..6000).prop_map(|n| "x".repeat(n)),
    ].boxed()
}

pub(super) fn int32() -> BoxedStrategy<u32> {
    prop_oneof![Just(0), Just(API_VERSION), 0u32..10, Just(fixture().key_tag), Just(u16::MAX as u32 + 1), Just(u32::MAX), any::<u32>()].boxed()
}

pub(super) fn int64() -> BoxedStrategy<u64> {
    prop_oneof![Just(0), 0u64..10, Just(u32::MAX as u64 + 1), Just(u64::MAX), any::<u64>()].boxed()
}

/// A prost enum field: known values and values no enum has.
pub(super) fn enum_value() -> BoxedStrategy<i32> {
    prop_oneof![4 => 0i32..6, 1 => any::<i32>()].boxed()
}

pub(super) fn participant() -> BoxedStrategy<Option<ParticipantId>> {
    let id = |n: u16| ParticipantId { id: frostzone_threshold::Identifier::try_from(n).unwrap().serialize() };
    prop_oneof![
        1 => Just(None),
        4 => (1u16..=4).prop_map(move |n| Some(id(n))),
        1 => Just(Some(ParticipantId { id: vec![0; 32] })),
        2 => octets().prop_map(|id| Some(ParticipantId { id })),
    ].boxed()
}

pub(super) fn participants() -> BoxedStrategy<Vec<ParticipantId>> {
    prop::collection::vec(participant().prop_map(Option::unwrap_or_default), 0..6).boxed()
}

pub(super) fn rrsig() -> BoxedStrategy<RrsigFields> {
    (int32(), int32(), int32(), int32(), int32(), int32(), int32(), octets()).prop_map(
        |(type_covered, algorithm, labels, original_ttl, expiration, inception, key_tag, signer_name)| RrsigFields {
            type_covered, algorithm, labels, original_ttl, expiration, inception, key_tag, signer_name: signer_name.into(),
        },
    ).boxed()
}

/// A signing item: one of the approved ones with a field changed, or one
/// made of random fields.
pub(super) fn item() -> BoxedStrategy<SigningItem> {
    let approved = fixture().items.clone();
    let near = (0..approved.len(), 0u8..6, octets(), int32(), prop::option::of(rrsig())).prop_map(move |(i, field, bytes, n, sig)| {
        let mut item = approved[i].clone();
        match field {
            0 => item.owner = bytes.into(),
            1 => item.rtype = n,
            2 => item.ttl = n,
            3 => item.rdata.push(bytes.into()),
            4 => item.rrsig = sig,
            _ => {}
        }
        item
    });
    let random = (octets(), int32(), int32(), prop::collection::vec(octets(), 0..4), prop::option::of(rrsig()))
        .prop_map(|(owner, rtype, ttl, rdata, rrsig)| SigningItem {
            owner: owner.into(),
            rtype,
            ttl,
            rdata: rdata.into_iter().map(Into::into).collect(),
            rrsig,
        });
    prop_oneof![3 => near, 1 => random].boxed()
}

pub(super) fn items() -> BoxedStrategy<Vec<SigningItem>> {
    prop_oneof![4 => prop::collection::vec(item(), 0..5), 1 => prop::collection::vec(item(), 20..200)].boxed()
}

pub(super) fn sealed() -> BoxedStrategy<Vec<EncryptedPackage>> {
    prop::collection::vec((participant(), participant(), octets()).prop_map(|(from, to, ciphertext)| EncryptedPackage { from, to, ciphertext }), 0..5).boxed()
}

pub(super) fn ceremony() -> BoxedStrategy<KeyCeremony> {
    let valid = fixture().ceremony.clone();
    let random = (enum_value(), text(), enum_value(), int32(), participants(), int32(), octets(), participant()).prop_map(
        |(kind, zone, role, threshold, participants, key_tag, group_public_key, repaired)| KeyCeremony {
            kind, zone, role, threshold, participants, key_tag, group_public_key, repaired,
        },
    );
    prop_oneof![1 => Just(valid), 3 => random].boxed()
}

pub(super) fn propose_header() -> BoxedStrategy<ProposeHeader> {
    let rrset_ref = (octets(), int32()).prop_map(|(owner, rtype)| RrsetRef { owner, rtype });
    (text(), text(), octets(), int64(), int64(), text(), any::<bool>(), text(), prop::collection::vec(rrset_ref, 0..4), text()).prop_map(
        |(request_id, zone, content_hash, item_count, expires_unix, submitted_by, incremental, baseline_request_id, removed, key_step)| ProposeHeader {
            api_version: API_VERSION, request_id, zone, content_hash, item_count, expires_unix, submitted_by, incremental, baseline_request_id, removed, key_step,
        },
    ).boxed()
}
