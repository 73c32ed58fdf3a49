//! Zone keys as DNS sees them: DNSKEY (RFC 4034 §2), DS (RFC 4034 §5),
//! CDS and CDNSKEY (RFC 7344), for Ed25519 (RFC 8080).
//!
//! The secret side of a key never reaches this crate; a [`ZoneKey`] is the
//! group public key of a FROST key group plus the role it plays.

use std::fmt;

use bytes::Bytes;
use domain::base::iana::{DigestAlgorithm, SecurityAlgorithm};
use domain::base::ToName;
use domain::rdata::{Cdnskey, Cds, Dnskey, Ds};
use sha2::{Digest, Sha256};

use crate::StoredName;

/// DNSKEY flags of a zone key (RFC 4034 §2.1.1, bit 7).
pub const FLAG_ZONE_KEY: u16 = 0x0100;
/// DNSKEY flags of a secure entry point (RFC 3757, bit 15).
pub const FLAG_SEP: u16 = 0x0001;
/// DNSKEY flags of a revoked key (RFC 5011 §2.1, bit 8). Revoking a key
/// changes its tag: both tags must be free in the zone.
pub const FLAG_REVOKE: u16 = 0x0080;
/// The only protocol value RFC 4034 §2.1.2 allows.
pub const PROTOCOL: u8 = 3;

/// A key tag (RFC 4034 Appendix B): a 16-bit hint, not an identifier —
/// two keys may share one, which is exactly what validators choke on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyTag(pub u16);

impl fmt::Display for KeyTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which RRsets a key signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyRole {
    /// Key-signing key: signs the DNSKEY, CDS and CDNSKEY RRsets; the DS in
    /// the parent points at it. Flags 257.
    Ksk,
    /// Zone-signing key: signs everything else. Flags 256.
    Zsk,
    /// Combined signing key: both jobs. Flags 257.
    Csk,
}

impl KeyRole {
    /// The DNSKEY flags for this role.
    pub fn flags(self) -> u16 {
        match self {
            KeyRole::Zsk => FLAG_ZONE_KEY,
            KeyRole::Ksk | KeyRole::Csk => FLAG_ZONE_KEY | FLAG_SEP,
        }
    }

    /// Whether this key signs the DNSKEY, CDS and CDNSKEY RRsets.
    pub fn signs_keys(self) -> bool {
        matches!(self, KeyRole::Ksk | KeyRole::Csk)
    }

    /// Whether this key signs ordinary zone data.
    pub fn signs_zone(self) -> bool {
        matches!(self, KeyRole::Zsk | KeyRole::Csk)
    }
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyRole::Ksk => "KSK",
            KeyRole::Zsk => "ZSK",
            KeyRole::Csk => "CSK",
        })
    }
}

/// What a published key does in the zone's current key phase (RFC 7583
/// §3): a key of a role may be published without signing (a ZSK before
/// it becomes active, a key being retired), and the CDS/CDNSKEY RRsets
/// name the keys the parent's DS should point to (RFC 7344 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyDuties {
    /// Signs the DNSKEY, CDS and CDNSKEY RRsets.
    pub signs_keys: bool,
    /// Signs every other RRset.
    pub signs_zone: bool,
    /// Named by the CDS and CDNSKEY RRsets.
    pub in_cds: bool,
}

impl KeyDuties {
    /// Everything the role does (a key outside any rollover).
    pub fn of_role(role: KeyRole) -> KeyDuties {
        KeyDuties { signs_keys: role.signs_keys(), signs_zone: role.signs_zone(), in_cds: role != KeyRole::Zsk }
    }

    /// Published, nothing more.
    pub const PUBLISHED_ONLY: KeyDuties = KeyDuties { signs_keys: false, signs_zone: false, in_cds: false };
}

/// The public half of a zone key.
#[derive(Clone, Debug)]
pub struct ZoneKey {
    /// Its role (its DNSKEY flags).
    pub role: KeyRole,
    /// The DNSKEY RDATA.
    pub dnskey: Dnskey<Bytes>,
    /// What it does now; by default what its role does.
    pub duties: KeyDuties,
}

impl ZoneKey {
    /// An Ed25519 (algorithm 15, RFC 8080 §3) key from its 32-byte public
    /// key.
    pub fn ed25519(role: KeyRole, public_key: [u8; 32]) -> Self {
        let dnskey = Dnskey::new(
            role.flags(),
            PROTOCOL,
            SecurityAlgorithm::ED25519,
            Bytes::copy_from_slice(&public_key),
        );
        // A 32-byte key is far below the 64 KiB RDATA limit.
        match dnskey {
            Ok(dnskey) => ZoneKey { role, dnskey, duties: KeyDuties::of_role(role) },
            Err(_) => unreachable!("32-byte key always fits"),
        }
    }

    /// The same key with other duties.
    pub fn with_duties(mut self, duties: KeyDuties) -> ZoneKey {
        self.duties = duties;
        self
    }

    /// Whether it signs the DNSKEY, CDS and CDNSKEY RRsets now.
    pub fn signs_keys(&self) -> bool {
        self.duties.signs_keys
    }

    /// Whether it signs the zone's data now.
    pub fn signs_zone(&self) -> bool {
        self.duties.signs_zone
    }

    /// The key tag (RFC 4034 Appendix B).
    pub fn key_tag(&self) -> KeyTag {
        KeyTag(self.dnskey.key_tag())
    }

    /// The tags this key has or may have in a DNSKEY RRset: as
    /// published, and revoked (RFC 5011 §2.1). A new key must share
    /// neither with any key of the zone, past, present or coming.
    pub fn tags_in_any_state(&self) -> [KeyTag; 2] {
        let k = &self.dnskey;
        let revoked = match Dnskey::new(k.flags() | FLAG_REVOKE, k.protocol(), k.algorithm(), k.public_key().clone()) {
            Ok(r) => r.key_tag(),
            Err(_) => unreachable!("same size as the DNSKEY"),
        };
        [self.key_tag(), KeyTag(revoked)]
    }

    /// The algorithm.
    pub fn algorithm(&self) -> SecurityAlgorithm {
        self.dnskey.algorithm()
    }

    /// The DS RDATA with a SHA-256 digest (RFC 4509), the digest every
    /// parent accepts.
    pub fn ds(&self, owner: &StoredName) -> Ds<Bytes> {
        ds_for(owner, &self.dnskey)
    }

    /// CDS (RFC 7344 §3.1): the DS the parent should publish.
    pub fn cds(&self, owner: &StoredName) -> Cds<Bytes> {
        let ds = self.ds(owner);
        match Cds::new(ds.key_tag(), ds.algorithm(), ds.digest_type(), ds.digest().clone()) {
            Ok(cds) => cds,
            Err(_) => unreachable!("a SHA-256 digest always fits"),
        }
    }

    /// CDNSKEY (RFC 7344 §3.2): the DNSKEY the parent should make a DS of.
    pub fn cdnskey(&self) -> Cdnskey<Bytes> {
        let k = &self.dnskey;
        match Cdnskey::new(k.flags(), k.protocol(), k.algorithm(), k.public_key().clone()) {
            Ok(c) => c,
            Err(_) => unreachable!("same size as the DNSKEY"),
        }
    }
}

/// SHA-256 digest of `owner | DNSKEY RDATA` (RFC 4034 §5.1.4) as a DS.
pub fn ds_for(owner: &StoredName, dnskey: &Dnskey<Bytes>) -> Ds<Bytes> {
    let digest = Bytes::copy_from_slice(&dnskey_digest(owner, dnskey));
    match Ds::new(dnskey.key_tag(), dnskey.algorithm(), DigestAlgorithm::SHA256, digest) {
        Ok(ds) => ds,
        Err(_) => unreachable!("a SHA-256 digest always fits"),
    }
}

/// The SHA-256 digest of RFC 4034 §5.1.4: `digest(owner | DNSKEY RDATA)`,
/// the owner in canonical (lowercase, uncompressed) form.
pub fn dnskey_digest(owner: &StoredName, dnskey: &Dnskey<Bytes>) -> [u8; 32] {
    let mut data = Vec::with_capacity(300);
    // Writing into a Vec cannot fail.
    let _ = owner.compose_canonical(&mut data);
    data.extend_from_slice(&dnskey.flags().to_be_bytes());
    data.push(dnskey.protocol());
    data.push(dnskey.algorithm().to_int());
    data.extend_from_slice(dnskey.public_key().as_ref());
    Sha256::digest(&data).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// RFC 8080 §6.1 example 1: the DS of a published Ed25519 key.
    #[test]
    fn rfc8080_example_ds() {
        use base64::Engine;
        let key = base64::engine::general_purpose::STANDARD
            .decode("l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=")
            .unwrap();
        let owner = StoredName::from_str("example.com.").unwrap();
        let zk = ZoneKey::ed25519(KeyRole::Ksk, key.try_into().unwrap());
        assert_eq!(zk.key_tag(), KeyTag(3613));
        let ds = zk.ds(&owner);
        assert_eq!(
            hex::encode(ds.digest()),
            "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b"
        );
    }
}
