//! Key groups as the coordinator uses them: from registry records to
//! DNSKEY/DS records, FROST public key packages and API messages.


pub mod ceremony;
pub mod dkg;
pub mod removal;
pub mod rollover;

use std::sync::Arc;

use frostzone_dnssec::domain::rdata::ZoneRecordData;
use frostzone_dnssec::keys::{KeyRole, ZoneKey};
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::present::rdata_text;
use frostzone_dnssec::signing::DEFAULT_DNSKEY_TTL_SECS;
use frostzone_dnssec::StoredName;
use frostzone_proto::v1 as pb;
use frostzone_threshold::frost;

use crate::error::CoordinatorError;
use crate::registry::{KeyGroupRecord, Registry};

/// A zone name from a request: parsed, and its registry spelling
/// (lowercase, absolute, `example.com.`).
pub fn zone_name(text: &str) -> Result<(StoredName, String), CoordinatorError> {
    if text.is_empty() {
        return Err(CoordinatorError::InvalidArgument("zone: missing".into()));
    }
    // DNS names compare without regard to ASCII case (RFC 4343): one
    // spelling everywhere, the one the signers sign (RFC 4034 §6.2).
    let zone = frostzone_dnssec::name::ZoneName::parse(text).map_err(|e| CoordinatorError::InvalidArgument(e.into()))?;
    Ok((zone.apex().clone(), zone.into_text()))
}

/// The role in a request.
pub fn role_from_proto(value: i32) -> Result<KeyRole, CoordinatorError> {
    match pb::KeyRole::try_from(value) {
        Ok(pb::KeyRole::Ksk) => Ok(KeyRole::Ksk),
        Ok(pb::KeyRole::Zsk) => Ok(KeyRole::Zsk),
        Ok(pb::KeyRole::Csk) => Ok(KeyRole::Csk),
        _ => Err(CoordinatorError::InvalidArgument(format!("role {value}: expected KSK, ZSK or CSK"))),
    }
}

/// The role on the wire.
pub fn role_to_proto(role: KeyRole) -> pb::KeyRole {
    match role {
        KeyRole::Ksk => pb::KeyRole::Ksk,
        KeyRole::Zsk => pb::KeyRole::Zsk,
        KeyRole::Csk => pb::KeyRole::Csk,
    }
}

/// The role as stored (`KSK`, `ZSK`, `CSK`).
pub fn role_from_record(text: &str) -> Option<KeyRole> {
    match text {
        "KSK" => Some(KeyRole::Ksk),
        "ZSK" => Some(KeyRole::Zsk),
        "CSK" => Some(KeyRole::Csk),
        _ => None,
    }
}

/// A key group read back from the registry and checked.
#[derive(Clone, Debug)]
pub struct KeyGroup {
    /// The stored record.
    pub record: KeyGroupRecord,
    /// Its DNSKEY.
    pub key: ZoneKey,
    /// What aggregation needs.
    pub public: frost::keys::PublicKeyPackage,
}

impl KeyGroup {
    /// Checks a record: the public key package parses, its group key is
    /// the stored one and gives the stored key tag.
    pub fn from_record(record: KeyGroupRecord) -> Result<KeyGroup, CoordinatorError> {
        let bad = |what: &str| {
            CoordinatorError::Internal(format!(
                "key group {} tag {} in the registry: {what}",
                record.zone, record.key_tag
            ))
        };
        let role = role_from_record(&record.role).ok_or_else(|| bad("unknown role"))?;
        let package = hex::decode(&record.public_key_package).map_err(|_| bad("public key package is not hex"))?;
        let public = frost::keys::PublicKeyPackage::deserialize(&package)
            .map_err(|e| bad(&format!("public key package does not parse: {e}")))?;
        let group_key = group_key_bytes(&public).ok_or_else(|| bad("group key does not encode"))?;
        if hex::encode(group_key) != record.group_public_key {
            return Err(bad("group key differs from the public key package"));
        }
        let key = ZoneKey::ed25519(role, group_key);
        if key.key_tag().0 != record.key_tag {
            return Err(bad("key tag differs from the DNSKEY's"));
        }
        Ok(KeyGroup { record, key, public })
    }

    /// The API view.
    pub fn info(&self, apex: &StoredName) -> pb::KeyGroupInfo {
        key_group_info(&self.record, &self.key, apex)
    }
}

/// The 32-byte group key of a public key package.
pub fn group_key_bytes(public: &frost::keys::PublicKeyPackage) -> Option<[u8; 32]> {
    public.verifying_key().serialize().ok().and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
}

/// The DNSKEY record in presentation format.
pub fn dnskey_line(apex: &StoredName, key: &ZoneKey) -> String {
    format!(
        "{}\t{}\tIN\tDNSKEY\t{}",
        FqdnDisplay(apex),
        DEFAULT_DNSKEY_TTL_SECS,
        rdata_text(&ZoneRecordData::Dnskey(key.dnskey.clone()))
    )
}

/// The DS record (SHA-256) in presentation format.
pub fn ds_line(apex: &StoredName, key: &ZoneKey) -> String {
    format!(
        "{}\t{}\tIN\tDS\t{}",
        FqdnDisplay(apex),
        DEFAULT_DNSKEY_TTL_SECS,
        rdata_text(&ZoneRecordData::Ds(key.ds(apex)))
    )
}

/// The API view of a key group.
pub fn key_group_info(record: &KeyGroupRecord, key: &ZoneKey, apex: &StoredName) -> pb::KeyGroupInfo {
    pb::KeyGroupInfo {
        zone: record.zone.clone(),
        role: role_to_proto(key.role).into(),
        key_tag: record.key_tag.into(),
        group_public_key: hex::decode(&record.group_public_key).unwrap_or_default(),
        threshold: record.threshold.into(),
        signers: record.signers.clone(),
        dnskey: dnskey_line(apex, key),
    }
}

/// The zone's key groups; they must cover the DNSKEY RRset and the data.
pub fn zone_keys(registry: &Registry, zone: &str) -> Result<Vec<Arc<KeyGroup>>, CoordinatorError> {
    let groups: Vec<Arc<KeyGroup>> = registry
        .key_groups(Some(zone))?
        .into_iter()
        .map(|r| KeyGroup::from_record(r).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let signs_keys = groups.iter().any(|g| g.key.role.signs_keys());
    let signs_zone = groups.iter().any(|g| g.key.role.signs_zone());
    match (signs_keys, signs_zone) {
        (true, true) => Ok(groups),
        (false, false) => Err(CoordinatorError::FailedPrecondition(format!("no keys for zone {zone}: run keys generate"))),
        (true, false) => Err(CoordinatorError::FailedPrecondition(format!(
            "zone {zone} has a KSK but no ZSK: run keys generate --role zsk"
        ))),
        (false, true) => Err(CoordinatorError::FailedPrecondition(format!(
            "zone {zone} has a ZSK but no KSK: run keys generate --role ksk"
        ))),
    }
}

