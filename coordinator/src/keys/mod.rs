//! Key groups as the coordinator uses them: from registry records to
//! DNSKEY/DS records, FROST public key packages and API messages.


pub mod ceremony;
pub mod dkg;
pub mod life_cycle;
pub mod refresh;
pub mod repair;
pub mod removal;
pub mod rollover;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use frostzone_dnssec::domain::rdata::ZoneRecordData;
use frostzone_dnssec::keys::{KeyDuties, KeyRole, ZoneKey};
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::present::rdata_text;
use frostzone_dnssec::signing::DEFAULT_DNSKEY_TTL_SECS;
use frostzone_dnssec::StoredName;
use frostzone_proto::v1 as pb;
use frostzone_threshold::frost;

use crate::error::CoordinatorError;
use crate::registry::{KeyGroupRecord, Registry};
use rollover::key_use::{key_use, KeyUse, ZoneKeyEntry};
use rollover::phases::Rollover;

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
        let public = parsed_package(&record.public_key_package).map_err(|e| bad(&e))?;
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

/// Public key packages parsed before, by their stored hex, at most
/// [`PARSED_PACKAGES_MAX`]. Every request reads its zone's key groups
/// several times (planning, rollover steps, the API), and each parse
/// decompresses and checks n + 1 points: on one-RRset diffs that was a
/// tenth of the coordinator's CPU. The hex is the whole input of the
/// parse, so a hit gives what parsing it again would.
static PARSED_PACKAGES: LazyLock<Mutex<HashMap<String, frost::keys::PublicKeyPackage>>> = LazyLock::new(Default::default);

/// Key groups whose parsed packages are kept (a full cache starts over).
const PARSED_PACKAGES_MAX: usize = 4096;

/// The public key package stored as `hex_package`, parsed once.
fn parsed_package(hex_package: &str) -> Result<frost::keys::PublicKeyPackage, String> {
    let cache = || PARSED_PACKAGES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(public) = cache().get(hex_package) {
        return Ok(public.clone());
    }
    let package = hex::decode(hex_package).map_err(|_| "public key package is not hex".to_string())?;
    let public = frost::keys::PublicKeyPackage::deserialize(&package).map_err(|e| format!("public key package does not parse: {e}"))?;
    let mut cache = cache();
    if cache.len() >= PARSED_PACKAGES_MAX {
        cache.clear();
    }
    cache.insert(hex_package.to_string(), public.clone());
    Ok(public)
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
        refreshed_unix: record.refreshed_unix.unwrap_or(0),
    }
}

/// The keys of a zone's next version: the key groups it publishes, each
/// [`ZoneKey`] carrying what it signs now, and the key use behind them.
#[derive(Clone, Debug)]
pub struct ZoneKeys {
    /// The published key groups.
    pub groups: Vec<Arc<KeyGroup>>,
    /// Who is published, who signs what, who is a standby.
    pub key_use: KeyUse,
}

/// The zone's keys for its next version, given the DNSKEY tags it
/// published last (`None` before its first version) and its rollovers
/// (the latest of each role). They must cover the DNSKEY RRset and the
/// data.
pub fn zone_keys(
    registry: &Registry,
    zone: &str,
    published: Option<&BTreeSet<u16>>,
    rollovers: &[Rollover],
) -> Result<ZoneKeys, CoordinatorError> {
    let groups: Vec<KeyGroup> = registry.key_groups(Some(zone))?.into_iter().map(KeyGroup::from_record).collect::<Result<_, _>>()?;
    let entries: Vec<ZoneKeyEntry> = groups
        .iter()
        .map(|g| ZoneKeyEntry { tag: g.record.key_tag, role: g.key.role, retired: g.record.retired_unix.is_some() })
        .collect();
    let key_use = key_use(&entries, rollovers, published);
    let set = &key_use.set;
    if let Some(missing) = set.dnskey.iter().find(|t| !groups.iter().any(|g| g.record.key_tag == **t)) {
        return Err(CoordinatorError::FailedPrecondition(format!(
            "zone {zone}: key tag {missing} of a running rollover is not in the registry; restore its key group"
        )));
    }
    let groups: Vec<Arc<KeyGroup>> = groups
        .into_iter()
        .filter(|g| set.dnskey.contains(&g.record.key_tag))
        .map(|mut g| {
            let tag = g.record.key_tag;
            let duties = KeyDuties { signs_keys: set.signs_keys.contains(&tag), signs_zone: set.signs_zone.contains(&tag), in_cds: set.cds.contains(&tag) };
            g.key = g.key.with_duties(duties);
            Arc::new(g)
        })
        .collect();
    match (set.signs_keys.is_empty(), set.signs_zone.is_empty()) {
        (false, false) => Ok(ZoneKeys { groups, key_use }),
        (true, true) => Err(CoordinatorError::FailedPrecondition(format!("no keys for zone {zone}: run keys generate"))),
        (false, true) => Err(CoordinatorError::FailedPrecondition(format!(
            "zone {zone} has a KSK but no ZSK: run keys generate --role zsk"
        ))),
        (true, false) => Err(CoordinatorError::FailedPrecondition(format!(
            "zone {zone} has a ZSK but no KSK: run keys generate --role ksk"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frostzone_threshold::{generate_with_dkg, Quorum};

    fn record(zone: &str) -> KeyGroupRecord {
        let group = generate_with_dkg(Quorum::new(2, 3).unwrap(), &mut rand::rngs::OsRng).unwrap();
        let gk = group.verifying_key_bytes();
        KeyGroupRecord {
            role: "ZSK".into(),
            key_tag: ZoneKey::ed25519(KeyRole::Zsk, gk).key_tag().0,
            group_public_key: hex::encode(gk),
            public_key_package: hex::encode(group.public.serialize().unwrap()),
            ..crate::registry::test_key_group(zone, 0)
        }
    }

    #[test]
    fn a_key_group_read_again_is_the_same_and_every_check_still_runs() {
        let good = record("example.");
        let first = KeyGroup::from_record(good.clone()).unwrap();
        let again = KeyGroup::from_record(good.clone()).unwrap();
        assert_eq!(again.public, first.public);
        assert_eq!(again.key.key_tag(), first.key.key_tag());

        // The cached package is checked against each record like a parsed
        // one: another group's key or tag is still refused.
        let other = record("example.");
        let mut mixed = good.clone();
        mixed.group_public_key = other.group_public_key.clone();
        assert!(KeyGroup::from_record(mixed).unwrap_err().to_string().contains("group key differs"));
        let mut wrong_tag = good.clone();
        wrong_tag.key_tag = wrong_tag.key_tag.wrapping_add(1);
        assert!(KeyGroup::from_record(wrong_tag).unwrap_err().to_string().contains("key tag differs"));
        // A package that does not parse is refused each time it is read:
        // failures are not kept.
        let mut broken = good;
        broken.public_key_package.replace_range(0..2, "ff");
        for _ in 0..2 {
            let error = KeyGroup::from_record(broken.clone()).unwrap_err().to_string();
            assert!(error.contains("does not parse"), "{error}");
        }
    }
}
