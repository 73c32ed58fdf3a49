//! The signing fixture of the validator and incremental-signing tests: the zone `example.`,
//! a KSK and a ZSK made from fixed Ed25519 seeds, and the time they sign at.
//!
//! Plain Ed25519 keys go through the same batch interface a threshold backend uses (the plan's
//! items, then one signature each): what is tested does not care who signed. Ed25519 is
//! deterministic, so a zone signed twice from the same content gets the same signatures.
#![allow(dead_code)] // each test binary uses a part of it

use std::path::Path;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey};
use frostzone_dnssec::keys::{KeyRole, ZoneKey};
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::signing::SigningPlan;
use frostzone_dnssec::zone::{InputKind, Zone};
use frostzone_dnssec::StoredName;

/// The signing time, fixed so that signatures and validity windows repeat.
pub const NOW: u32 = 1_780_000_000;

/// A zone key with its secret half.
pub type KeyPair = (SigningKey, ZoneKey);

/// `example.`, the apex of every zone the tests sign.
pub fn apex() -> StoredName {
    StoredName::from_str("example.").unwrap()
}

/// The Ed25519 key made from `seed` repeated, in `role`.
pub fn key(seed: u8, role: KeyRole) -> KeyPair {
    let secret = SigningKey::from_bytes(&[seed; 32]);
    let public = ZoneKey::ed25519(role, secret.verifying_key().to_bytes());
    (secret, public)
}

/// The KSK (seed 7).
pub fn ksk() -> KeyPair {
    key(7, KeyRole::Ksk)
}

/// The ZSK (seed 9).
pub fn zsk() -> KeyPair {
    key(9, KeyRole::Zsk)
}

/// `text`, a zone file of `example.`, as an unsigned zone.
pub fn unsigned(text: &str) -> Zone {
    let records = load_zone_text(text, Path::new("t.zone"), &apex()).unwrap();
    Zone::from_records(apex(), records, InputKind::Unsigned).unwrap()
}

/// One signature per item of `plan`, each by the key of `keys` whose tag the item names.
pub fn signatures(plan: &SigningPlan, keys: &[KeyPair]) -> Vec<[u8; 64]> {
    let messages = plan.signed_data(0..plan.items().len()).expect("the plan's own items");
    plan.items()
        .iter()
        .zip(messages)
        .map(|(item, message)| {
            let (secret, _) = keys
                .iter()
                .find(|(_, public)| public.key_tag() == item.key_tag)
                .unwrap_or_else(|| panic!("no secret for key tag {}", item.key_tag.0));
            secret.sign(&message).to_bytes()
        })
        .collect()
}
