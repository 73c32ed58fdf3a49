//! The RRSIG RDATA fields (RFC 4034 §3.1) and the octets a signature
//! covers (RFC 4034 §3.1.8.1): what the coordinator plans and what a signer
//! rebuilds from the content it is sent, so both sign the same bytes.

use bytes::Bytes;
use domain::base::iana::{Class, Rtype, SecurityAlgorithm};
use domain::base::{ToName, Ttl};
use domain::rdata::dnssec::{ProtoRrsig, Timestamp};
use domain::rdata::Rrsig;

use crate::keys::KeyTag;
use crate::zone::Rrset;
use crate::StoredName;

/// The RRSIG RDATA fields that precede the signature (RFC 4034 §3.1).
#[derive(Clone, Debug, PartialEq)]
pub struct RrsigFields {
    /// Type Covered (§3.1.1).
    pub type_covered: Rtype,
    /// Algorithm (§3.1.2).
    pub algorithm: SecurityAlgorithm,
    /// Labels (§3.1.3): the owner's label count without root and a leading
    /// wildcard.
    pub labels: u8,
    /// Original TTL (§3.1.4).
    pub original_ttl: Ttl,
    /// Signature Expiration (§3.1.5).
    pub expiration: Timestamp,
    /// Signature Inception (§3.1.5).
    pub inception: Timestamp,
    /// Key Tag (§3.1.6).
    pub key_tag: KeyTag,
    /// Signer's Name (§3.1.7): the zone apex.
    pub signer_name: StoredName,
}

impl RrsigFields {
    fn proto(&self) -> ProtoRrsig<StoredName> {
        ProtoRrsig::new(
            self.type_covered,
            self.algorithm,
            self.labels,
            self.original_ttl,
            self.expiration,
            self.inception,
            self.key_tag.0,
            self.signer_name.clone(),
        )
    }

    /// The finished RRSIG RDATA.
    pub fn into_rrsig(&self, signature: &[u8]) -> Option<Rrsig<Bytes, StoredName>> {
        self.proto().into_rrsig(Bytes::copy_from_slice(signature)).ok()
    }
}

/// The octets an RRSIG over `rrset` signs (RFC 4034 §3.1.8.1):
///
/// ```text
/// signature = sign(RRSIG_RDATA | RR(1) | RR(2)... )
/// RR(i) = owner | type | class | TTL | RDATA length | RDATA
/// ```
///
/// with every RR in canonical form (RFC 4034 §6.2: lowercase owner, the
/// RRSIG's Original TTL) and in canonical order (RFC 4034 §6.3). Signer
/// nodes call this too, to rebuild what they are asked to sign.
pub fn signed_data(rrsig: &RrsigFields, rrset: &Rrset) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64 + rrset.rdata.len() * 64);
    // Writing into a Vec cannot fail.
    let _ = rrsig.proto().compose_canonical(&mut buf);
    let mut owner = Vec::with_capacity(64);
    let _ = rrset.owner.compose_canonical(&mut owner);
    for rdata in &rrset.rdata {
        buf.extend_from_slice(&owner);
        buf.extend_from_slice(&rrset.rtype.to_int().to_be_bytes());
        buf.extend_from_slice(&Class::IN.to_int().to_be_bytes());
        buf.extend_from_slice(&rrsig.original_ttl.as_secs().to_be_bytes());
        buf.extend_from_slice(&(rdata.canonical.len() as u16).to_be_bytes());
        buf.extend_from_slice(&rdata.canonical);
    }
    buf
}
