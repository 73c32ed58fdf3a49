//! RRsets and RRSIG fields to and from the wire form they travel in
//! between coordinator and signers.
//!
//! A signer receives content, not a hash: owner, type, TTL, each record's
//! canonical RDATA and the RRSIG fields. [`rrset_from_wire`] parses every
//! record with `domain` (so malformed data is refused, and the signer can
//! show its operator what it is asked to sign) and checks that the RDATA
//! is in canonical form, then [`crate::signing::signed_data`] rebuilds the
//! exact octets to sign.

use bytes::Bytes;
use domain::base::iana::{Rtype, SecurityAlgorithm};
use domain::base::name::ParsedName;
use domain::base::rdata::{ComposeRecordData, ParseRecordData};
use domain::base::{Ttl, ToName};
use domain::dep::octseq::Parser;
use domain::rdata::dnssec::Timestamp;
use domain::rdata::ZoneRecordData;

use crate::keys::KeyTag;
use crate::signing::RrsigFields;
use crate::zone::{Rdata, Rrset};
use crate::StoredName;

/// Wire data that does not make a valid RRset or RRSIG.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// A name is not a valid uncompressed domain name.
    #[error("{field}: not a valid domain name")]
    Name {
        /// Which field.
        field: &'static str,
    },
    /// A record's RDATA does not parse as its type.
    #[error("record {index} of {owner} {rtype}: RDATA does not parse: {reason}")]
    Rdata {
        /// Owner.
        owner: String,
        /// Type.
        rtype: Rtype,
        /// Position in the RRset.
        index: usize,
        /// Why.
        reason: String,
    },
    /// RDATA is not in canonical form or the RRset is not sorted and free
    /// of duplicates (RFC 4034 §6.2, §6.3).
    #[error("{owner} {rtype}: RDATA is not in canonical form and order")]
    NotCanonical {
        /// Owner.
        owner: String,
        /// Type.
        rtype: Rtype,
    },
    /// A numeric field is out of range.
    #[error("{field} {value} is out of range")]
    Range {
        /// Which field.
        field: &'static str,
        /// The value.
        value: u32,
    },
}

/// Octets that wire data comes in: shared ([`Bytes`], as a signing item
/// carries them, so what is parsed from them points into the same buffer)
/// or borrowed and copied (a slice, a `Vec`).
pub trait WireOctets: AsRef<[u8]> {
    /// The octets as [`Bytes`]: the same buffer where it can be shared.
    fn to_bytes(&self) -> Bytes;
}

impl WireOctets for Bytes {
    fn to_bytes(&self) -> Bytes {
        self.clone()
    }
}

impl WireOctets for [u8] {
    fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl WireOctets for Vec<u8> {
    fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

/// A name from uncompressed wire format.
pub fn name_from_wire<O: WireOctets + ?Sized>(wire: &O, field: &'static str) -> Result<StoredName, WireError> {
    StoredName::from_octets(wire.to_bytes()).map_err(|_| WireError::Name { field })
}

/// Uncompressed wire format of a name (as given, not lowercased).
pub fn name_to_wire(name: &StoredName) -> Vec<u8> {
    name.as_slice().to_vec()
}

/// The same as [`name_to_wire`], sharing the name's octets.
pub fn name_octets(name: &StoredName) -> Bytes {
    name.as_octets().clone()
}

fn u16_field(field: &'static str, value: u32) -> Result<u16, WireError> {
    u16::try_from(value).map_err(|_| WireError::Range { field, value })
}

fn u8_field(field: &'static str, value: u32) -> Result<u8, WireError> {
    u8::try_from(value).map_err(|_| WireError::Range { field, value })
}

/// Rebuilds an RRset from its wire parts, refusing anything malformed or
/// not in canonical form and order. Given as [`Bytes`], the RRset's owner
/// and records share the octets they were parsed from.
pub fn rrset_from_wire<O: WireOctets + ?Sized, R: WireOctets>(
    owner: &O,
    rtype: u32,
    ttl: u32,
    rdata: &[R],
) -> Result<Rrset, WireError> {
    let owner = name_from_wire(owner, "owner")?;
    let rtype = Rtype::from_int(u16_field("rtype", rtype)?);
    let not_canonical = |owner: &StoredName| WireError::NotCanonical { owner: crate::name::FqdnDisplay(owner).to_string(), rtype };
    let mut records = Vec::with_capacity(rdata.len());
    // Each record's canonical form, composed again to check the one sent.
    let mut composed = Vec::new();
    for (index, wire) in rdata.iter().enumerate() {
        let bytes = wire.to_bytes();
        let mut parser = Parser::from_ref(&bytes);
        let err = |reason: String| WireError::Rdata {
            owner: crate::name::FqdnDisplay(&owner).to_string(),
            rtype,
            index,
            reason,
        };
        let parsed = ZoneRecordData::<Bytes, ParsedName<Bytes>>::parse_rdata(rtype, &mut parser)
            .map_err(|e| err(e.to_string()))?
            .ok_or_else(|| err("type not allowed in a zone".into()))?;
        if parser.remaining() != 0 {
            return Err(err(format!("{} trailing octets", parser.remaining())));
        }
        composed.clear();
        // Composing into a Vec cannot fail.
        let _ = parsed.compose_canonical_rdata(&mut composed);
        if composed != wire.as_ref() {
            return Err(not_canonical(&owner));
        }
        // The canonical form is the octets parsed: the record holds them,
        // shared, and nothing else.
        records.push(Rdata::from_canonical(rtype, bytes));
    }
    // In canonical order, without repeats (RFC 4034 §6.3): what
    // `Rrset::new` would make of them, checked without a copy.
    if !records.windows(2).all(|pair| pair[0].canonical < pair[1].canonical) {
        return Err(not_canonical(&owner));
    }
    Ok(Rrset { owner, rtype, ttl: Ttl::from_secs(ttl), rdata: records, location: None })
}

/// The wire parts of an RRset: each record's canonical RDATA, in order,
/// shared with the RRset.
pub fn rrset_rdata_wire(rrset: &Rrset) -> Vec<Bytes> {
    rrset.rdata.iter().map(|r| r.canonical.clone()).collect()
}

/// RRSIG fields from their wire parts (RFC 4034 §3.1).
#[allow(clippy::too_many_arguments)]
pub fn rrsig_fields_from_wire(
    type_covered: u32,
    algorithm: u32,
    labels: u32,
    original_ttl: u32,
    expiration: u32,
    inception: u32,
    key_tag: u32,
    signer_name: &[u8],
) -> Result<RrsigFields, WireError> {
    Ok(RrsigFields {
        type_covered: Rtype::from_int(u16_field("type_covered", type_covered)?),
        algorithm: SecurityAlgorithm::from_int(u8_field("algorithm", algorithm)?),
        labels: u8_field("labels", labels)?,
        original_ttl: Ttl::from_secs(original_ttl),
        expiration: Timestamp::from(expiration),
        inception: Timestamp::from(inception),
        key_tag: KeyTag(u16_field("key_tag", key_tag)?),
        signer_name: name_from_wire(signer_name, "signer_name")?,
    })
}

/// Checks that RRSIG fields fit the RRset they cover (RFC 4034 §3.1.1,
/// §3.1.3, §3.1.4): what a signer verifies before contributing a share.
pub fn check_rrsig_matches(fields: &RrsigFields, rrset: &Rrset) -> Result<(), String> {
    if fields.type_covered != rrset.rtype {
        return Err(format!("RRSIG covers {} but the RRset is {}", fields.type_covered, rrset.rtype));
    }
    if fields.type_covered == Rtype::RRSIG {
        return Err("an RRSIG RRset is never signed (RFC 4035 §2.2)".into());
    }
    if fields.labels != rrset.owner.rrsig_label_count() {
        return Err(format!("labels {} do not match the owner (RFC 4034 §3.1.3)", fields.labels));
    }
    if fields.original_ttl != rrset.ttl {
        return Err("original TTL differs from the RRset's TTL".into());
    }
    if !rrset.owner.ends_with(&fields.signer_name) {
        return Err("the owner is not in the signer's zone".into());
    }
    if rrset.rdata.is_empty() {
        return Err("empty RRset".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::load_zone_text;
    use crate::zone::{InputKind, Zone};
    use std::str::FromStr;

    #[test]
    fn round_trip_and_refusals() {
        let apex = StoredName::from_str("example.").unwrap();
        let text = "@ 300 IN SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nns A 192.0.2.2\n@ MX 10 Mail.Example.\n";
        let zone = Zone::from_records(apex.clone(), load_zone_text(text, std::path::Path::new("t"), &apex).unwrap(), InputKind::Unsigned).unwrap();
        for (_, node) in zone.nodes() {
            for rrset in node.rrsets.values() {
                let wire = rrset_rdata_wire(rrset);
                let back = rrset_from_wire(&name_to_wire(&rrset.owner), rrset.rtype.to_int().into(), rrset.ttl.as_secs(), &wire).unwrap();
                assert_eq!(rrset_rdata_wire(&back), wire);
                // Its records and owner share the octets they were parsed
                // from: nothing is copied.
                assert!(back.rdata.iter().zip(&wire).all(|(r, w)| r.canonical.as_ptr() == w.as_ptr()));
                let shared = name_octets(&rrset.owner);
                let back = rrset_from_wire(&shared, rrset.rtype.to_int().into(), rrset.ttl.as_secs(), &wire).unwrap();
                assert_eq!(back.owner.as_slice().as_ptr(), shared.as_ptr());
                // From a copy, the octets are its own.
                let copied: Vec<Vec<u8>> = wire.iter().map(|w| w.to_vec()).collect();
                let back = rrset_from_wire(&name_to_wire(&rrset.owner), rrset.rtype.to_int().into(), rrset.ttl.as_secs(), &copied).unwrap();
                assert_eq!(rrset_rdata_wire(&back), wire);
                assert!(back.rdata.iter().zip(&wire).all(|(r, w)| r.canonical.as_ptr() != w.as_ptr()));
                if wire.len() == 2 {
                    let owner = name_to_wire(&rrset.owner);
                    let mut swapped = wire.clone();
                    swapped.swap(0, 1);
                    let refused = rrset_from_wire(&owner, rrset.rtype.to_int().into(), 300, &swapped);
                    assert!(matches!(refused, Err(WireError::NotCanonical { .. })));
                    // A record twice is not a set (RFC 2181 §5).
                    let twice = [wire[0].clone(), wire[0].clone()];
                    let refused = rrset_from_wire(&owner, rrset.rtype.to_int().into(), 300, &twice);
                    assert!(matches!(refused, Err(WireError::NotCanonical { .. })));
                }
            }
        }
        // Truncated A record.
        assert!(rrset_from_wire(&name_to_wire(&apex), 1, 300, &[vec![192u8, 0, 2]]).is_err());
        // Uppercase MX target is not canonical.
        let mut mx = vec![0, 10];
        mx.extend_from_slice(b"\x04Mail\x07Example\x00");
        assert!(matches!(rrset_from_wire(&name_to_wire(&apex), 15, 300, &[mx]), Err(WireError::NotCanonical { .. })));
    }
}
