//! This signer's own reading of a change to a zone's key RRsets (DNSKEY,
//! CDS, CDNSKEY) as a step of a key rollover (RFC 7583 §3), for policies
//! with `key_changes = "rollover"`. Pure logic over the RRsets before and
//! after, the shares this signer holds and when it first saw each DNSKEY
//! in its baseline: the coordinator's label for the step is never read.
//!
//! A change is an expected step when:
//!
//! * it adds one DNSKEY, with the flags of its role (256 for a ZSK, 257
//!   for a KSK or CSK, RFC 4034 §2.1.1, not revoked) and algorithm 15,
//!   whose group key this signer holds a share of: only a key made by a
//!   ceremony this signer took part in comes in (pre-publication,
//!   double-KSK);
//! * or it removes one DNSKEY while a key of the same flags that this
//!   signer holds stays, published here for at least the policy's
//!   `min_key_publish_secs` (by this signer's clock): the old key goes
//!   only once its successor could be in every cache (RFC 7583 §3.2.1);
//! * and every CDS and CDNSKEY record (RFC 7344 §3) names a published SEP
//!   key this signer holds a share of, so the parent is only ever asked
//!   for a DS of such a key (a withdrawn CDS RRset is fine; the "delete
//!   DS" form of RFC 8078 §4 is not a rollover step).
//!
//! Anything else (two keys at once, a key this signer does not hold,
//! another algorithm, a removal too early) goes to the operator.

use std::collections::{BTreeMap, BTreeSet};

use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_dnssec::domain::base::ToName;
use frostzone_dnssec::domain::rdata::ZoneRecordData;
use frostzone_dnssec::keys::{ds_for, KeyRole, ZoneKey, FLAG_REVOKE};
use frostzone_dnssec::rrset_diff::RrsetChange;
use frostzone_dnssec::zone::Rrset;
use frostzone_dnssec::StoredName;

use crate::store::ShareInfo;

/// The key RRsets of the zone's apex before and after the change.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApexKeys<'a> {
    /// The DNSKEY RRset before.
    pub dnskey_before: Option<&'a Rrset>,
    /// The DNSKEY RRset after.
    pub dnskey_after: Option<&'a Rrset>,
    /// The CDS RRset after, if changed or added.
    pub cds_after: Option<&'a Rrset>,
    /// The CDNSKEY RRset after, if changed or added.
    pub cdnskey_after: Option<&'a Rrset>,
}

/// The apex key RRsets a diff changes; `unchanged_dnskey` is the DNSKEY
/// RRset when the diff leaves it as it was.
pub fn apex_keys<'a>(changes: &'a [RrsetChange], apex: &StoredName, unchanged_dnskey: Option<&'a Rrset>) -> ApexKeys<'a> {
    let mut keys = ApexKeys { dnskey_before: unchanged_dnskey, dnskey_after: unchanged_dnskey, ..ApexKeys::default() };
    for change in changes {
        let rrset = change.rrset();
        if !rrset.owner.name_eq(apex) {
            continue;
        }
        let (before, after) = match change {
            RrsetChange::Added(r) => (None, Some(r)),
            RrsetChange::Removed(r) => (Some(r), None),
            RrsetChange::Changed { old, new } => (Some(&**old), Some(new)),
        };
        match rrset.rtype {
            Rtype::DNSKEY => (keys.dnskey_before, keys.dnskey_after) = (before, after),
            Rtype::CDS => keys.cds_after = after,
            Rtype::CDNSKEY => keys.cdnskey_after = after,
            _ => {}
        }
    }
    keys
}

/// A DNSKEY as this module compares them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    tag: u16,
    flags: u16,
    algorithm: u8,
    public_key: Vec<u8>,
    /// Its SHA-256 DS digest (RFC 4509) at the apex.
    ds_digest: Vec<u8>,
}

fn keys_of(rrset: Option<&Rrset>, apex: &StoredName) -> BTreeSet<Key> {
    rrset
        .map(|r| r.rdata.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|rd| match rd.data() {
            ZoneRecordData::Dnskey(k) => Some(Key {
                tag: k.key_tag(),
                flags: k.flags(),
                algorithm: k.algorithm().to_int(),
                public_key: k.public_key().to_vec(),
                ds_digest: ds_for(apex, &k).digest().to_vec(),
            }),
            _ => None,
        })
        .collect()
}

/// The role of the share this signer holds of `key`, if it holds one and
/// the key's flags and algorithm are those of that role's Ed25519 DNSKEY.
fn held_role(key: &Key, shares: &[ShareInfo]) -> Option<KeyRole> {
    shares
        .iter()
        .find(|s| s.group_public_key.as_slice() == key.public_key.as_slice())
        .map(|s| ZoneKey::ed25519(s.role, s.group_public_key))
        .filter(|z| z.dnskey.flags() == key.flags && z.algorithm().to_int() == key.algorithm)
        .map(|z| z.role)
}

/// Judges a key RRset change; `Ok` says what step it is, `Err` why it is
/// not one this signer expects. `seen` maps the tags of the DNSKEYs in
/// this signer's baseline to when it first saw each (Unix seconds).
pub fn judge(
    keys: &ApexKeys<'_>,
    apex: &StoredName,
    shares: &[ShareInfo],
    seen: &BTreeMap<u16, u64>,
    now: u64,
    min_publish_secs: u64,
) -> Result<String, String> {
    let (before, after) = (keys_of(keys.dnskey_before, apex), keys_of(keys.dnskey_after, apex));
    let added: Vec<&Key> = after.difference(&before).collect();
    let removed: Vec<&Key> = before.difference(&after).collect();
    let mut steps = Vec::new();
    match (added.as_slice(), removed.as_slice()) {
        ([], []) => {}
        ([key], []) => {
            if key.flags & FLAG_REVOKE != 0 {
                return Err(format!("DNSKEY {} comes in revoked", key.tag));
            }
            let role = held_role(key, shares).ok_or_else(|| {
                format!(
                    "DNSKEY {} (flags {}, algorithm {}) is not a key this signer holds a share of: a rollover brings in only keys made by a ceremony it approved",
                    key.tag, key.flags, key.algorithm
                )
            })?;
            steps.push(format!("publishes the new {role} {}", key.tag));
        }
        ([], [old]) => {
            let successor = after.iter().filter(|k| k.flags == old.flags && held_role(k, shares).is_some()).find_map(|k| {
                let since = *seen.get(&k.tag)?;
                (now >= since.saturating_add(min_publish_secs)).then_some((k.tag, now - since))
            });
            match successor {
                Some((tag, age)) => steps.push(format!("removes DNSKEY {} (its successor {tag} published here for {age} s)", old.tag)),
                None => {
                    return Err(format!(
                        "removes DNSKEY {} while no key of its flags ({}) that this signer holds has been published here for {min_publish_secs} s (min_key_publish_secs)",
                        old.tag, old.flags
                    ))
                }
            }
        }
        _ => {
            return Err(format!(
                "adds {} and removes {} DNSKEYs at once: a rollover step adds or removes one",
                added.len(),
                removed.len()
            ))
        }
    }
    let sep: Vec<&Key> = after.iter().filter(|k| k.flags & 1 != 0 && k.flags & FLAG_REVOKE == 0 && held_role(k, shares).is_some()).collect();
    let mut named = BTreeSet::new();
    for rd in keys.cds_after.map(|r| r.rdata.as_slice()).unwrap_or_default() {
        let ZoneRecordData::Cds(cds) = &rd.data() else { continue };
        // frostzone's CDS carry SHA-256 digests (RFC 4509).
        let key = sep.iter().find(|k| {
            k.tag == cds.key_tag() && cds.digest_type().to_int() == 2 && k.ds_digest.as_slice() == cds.digest().as_ref()
        });
        match key {
            Some(k) => named.insert(k.tag),
            None => return Err(format!("the CDS with key tag {} names no published SEP key this signer holds a share of", cds.key_tag())),
        };
    }
    for rd in keys.cdnskey_after.map(|r| r.rdata.as_slice()).unwrap_or_default() {
        let ZoneRecordData::Cdnskey(c) = &rd.data() else { continue };
        match sep.iter().find(|k| k.public_key.as_slice() == c.public_key().as_ref() && k.flags == c.flags()) {
            Some(k) => named.insert(k.tag),
            None => return Err(format!("a CDNSKEY (flags {}) names no published SEP key this signer holds a share of", c.flags())),
        };
    }
    if !named.is_empty() {
        steps.push(format!("CDS/CDNSKEY ask the parent for key tag(s) {named:?}"));
    }
    Ok(if steps.is_empty() { "key RRsets re-published unchanged in substance".into() } else { steps.join("; ") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use frostzone_dnssec::domain::base::Ttl;
    use frostzone_dnssec::keys::KeyTag;
    use frostzone_dnssec::zone::Rdata;

    fn apex() -> StoredName {
        frostzone_dnssec::name::ZoneName::parse("example.").unwrap().into_apex()
    }

    fn key(role: KeyRole, seed: u8) -> ZoneKey {
        ZoneKey::ed25519(role, [seed; 32])
    }

    fn share(k: &ZoneKey) -> ShareInfo {
        let group_public_key: [u8; 32] = k.dnskey.public_key().as_ref().try_into().unwrap();
        ShareInfo { zone: "example.".into(), role: k.role, key_tag: KeyTag(k.key_tag().0), group_public_key }
    }

    fn dnskeys(keys: &[&ZoneKey]) -> Rrset {
        Rrset::new(apex(), Rtype::DNSKEY, Ttl::from_secs(60), keys.iter().map(|k| Rdata::new(ZoneRecordData::Dnskey(k.dnskey.clone()))).collect())
    }

    fn cds(keys: &[&ZoneKey]) -> Rrset {
        Rrset::new(apex(), Rtype::CDS, Ttl::from_secs(60), keys.iter().map(|k| Rdata::new(ZoneRecordData::Cds(k.cds(&apex())))).collect())
    }

    #[test]
    fn a_held_key_comes_in_and_the_old_one_goes_only_after_its_successor_aged() {
        let (ksk, old, new, stranger) = (key(KeyRole::Ksk, 1), key(KeyRole::Zsk, 2), key(KeyRole::Zsk, 3), key(KeyRole::Zsk, 4));
        let shares = [share(&ksk), share(&old), share(&new)];
        let (before, with_new) = (dnskeys(&[&ksk, &old]), dnskeys(&[&ksk, &old, &new]));
        let publish = ApexKeys { dnskey_before: Some(&before), dnskey_after: Some(&with_new), ..ApexKeys::default() };
        let ok = judge(&publish, &apex(), &shares, &BTreeMap::new(), 1000, 600).unwrap();
        assert!(ok.contains(&format!("publishes the new ZSK {}", new.key_tag())), "{ok}");
        // A key the signer holds no share of is the coordinator's own.
        let foreign = dnskeys(&[&ksk, &old, &stranger]);
        let e = judge(&ApexKeys { dnskey_after: Some(&foreign), ..publish }, &apex(), &shares, &BTreeMap::new(), 1000, 600).unwrap_err();
        assert!(e.contains("not a key this signer holds"), "{e}");
        // The retirement waits for the successor's time in this signer's baseline.
        let after = dnskeys(&[&ksk, &new]);
        let retire = ApexKeys { dnskey_before: Some(&with_new), dnskey_after: Some(&after), ..ApexKeys::default() };
        let seen = BTreeMap::from([(new.key_tag().0, 1000)]);
        let e = judge(&retire, &apex(), &shares, &seen, 1300, 600).unwrap_err();
        assert!(e.contains("min_key_publish_secs"), "{e}");
        assert!(judge(&retire, &apex(), &shares, &seen, 1600, 600).unwrap().contains("removes DNSKEY"));
        // Two keys at once is no rollover step.
        let swap = ApexKeys { dnskey_before: Some(&before), dnskey_after: Some(&after), ..ApexKeys::default() };
        assert!(judge(&swap, &apex(), &shares, &seen, 5000, 600).unwrap_err().contains("at once"));
    }

    #[test]
    fn a_cds_must_name_a_published_key_this_signer_holds() {
        let (ksk, new_ksk, zsk, stranger) = (key(KeyRole::Ksk, 1), key(KeyRole::Ksk, 5), key(KeyRole::Zsk, 2), key(KeyRole::Ksk, 6));
        let shares = [share(&ksk), share(&new_ksk), share(&zsk)];
        let set = dnskeys(&[&ksk, &new_ksk, &zsk]);
        let good = cds(&[&new_ksk]);
        let keys = ApexKeys { dnskey_before: Some(&set), dnskey_after: Some(&set), cds_after: Some(&good), ..ApexKeys::default() };
        assert!(judge(&keys, &apex(), &shares, &BTreeMap::new(), 0, 0).unwrap().contains(&new_ksk.key_tag().to_string()));
        let bad = cds(&[&stranger]);
        let keys = ApexKeys { cds_after: Some(&bad), ..keys };
        assert!(judge(&keys, &apex(), &shares, &BTreeMap::new(), 0, 0).unwrap_err().contains("names no published SEP key"));
    }
}
