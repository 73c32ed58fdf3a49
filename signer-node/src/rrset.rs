//! RRsets (RFC 2181 §5) as a proposal's items make them: parsed, one per
//! owner and type in canonical order (RFC 4034 §6.1), and in the stored
//! form that a request's content and a zone's baseline keep in sled. Plain
//! data and parsing, below both the proposal checks and the stores.

use std::collections::BTreeMap;

use frostzone_dnssec::rrset_diff::same_content;
use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_dnssec::name::CanonicalName;
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::wire::{name_from_wire, rrset_from_wire};
use frostzone_dnssec::zone::Rrset;
use frostzone_proto::v1::SigningItem;
use prost::Message;
use frostzone_threshold::parallel::collect_indexed;

/// One stored RRset: its wire parts, as the items carried them
/// (canonical RDATA, RFC 4034 §6.2).
#[derive(Clone, PartialEq, Message)]
pub struct StoredRrset {
    /// Owner name, uncompressed wire format.
    #[prost(bytes = "vec", tag = "1")]
    pub owner: Vec<u8>,
    /// Type.
    #[prost(uint32, tag = "2")]
    pub rtype: u32,
    /// TTL.
    #[prost(uint32, tag = "3")]
    pub ttl: u32,
    /// Each record's canonical RDATA, in canonical order.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub rdata: Vec<Vec<u8>>,
}

/// An RRset by owner and type (an incremental request's removals).
#[derive(Clone, PartialEq, Message)]
pub struct StoredRrsetRef {
    /// Owner name, uncompressed wire format.
    #[prost(bytes = "vec", tag = "1")]
    pub owner: Vec<u8>,
    /// Type.
    #[prost(uint32, tag = "2")]
    pub rtype: u32,
}

/// "www.example.com. A", for messages about an item.
pub fn describe_item(item: &SigningItem) -> String {
    let owner = match name_from_wire(&item.owner, "owner") {
        Ok(name) => FqdnDisplay(&name).to_string(),
        Err(_) => "(malformed owner)".into(),
    };
    match u16::try_from(item.rtype) {
        Ok(t) => format!("{owner} {}", Rtype::from_int(t)),
        Err(_) => format!("{owner} type {}", item.rtype),
    }
}

/// The RRsets the items make, one per owner and type in canonical order,
/// with the index of the first item of each; or the first item that does
/// not parse or contradicts an earlier one.
pub(crate) type ParsedRrsets = BTreeMap<(CanonicalName, u16), (usize, Rrset)>;

pub(crate) fn parse_rrsets(items: &[SigningItem], apex: &frostzone_dnssec::StoredName) -> Result<ParsedRrsets, String> {
    let parsed: Vec<Result<Rrset, String>> = collect_indexed(items, |i, item| {
        rrset_from_wire(&item.owner, item.rtype, item.ttl, &item.rdata)
            .map_err(|e| format!("item {i} ({}): {e}", describe_item(item)))
    });
    let mut out = ParsedRrsets::new();
    for (i, rrset) in parsed.into_iter().enumerate() {
        let rrset = rrset?;
        // Items signed by keys this signer does not hold, and context
        // items, are not checked against its policy, but they still
        // become its baseline: keep them inside the zone (RFC 4034 §3.1.7,
        // the signer's name is the zone of the covered RRset).
        if !frostzone_dnssec::name::in_zone(&rrset.owner, apex) {
            return Err(format!("item {i} ({}) is outside the zone {}", describe_item(&items[i]), FqdnDisplay(apex)));
        }
        let key = (CanonicalName(rrset.owner.clone()), rrset.rtype.to_int());
        match out.get(&key) {
            // The same RRset signed by two keys (KSK and ZSK over DNSKEY):
            // one RRset, as long as both items carry the same content.
            Some((first, seen)) => {
                if !same_content(seen, &rrset) {
                    return Err(format!(
                        "item {i} ({}) carries other records or another TTL than item {first} for the same RRset",
                        describe_item(&items[i])
                    ));
                }
            }
            None => {
                out.insert(key, (i, rrset));
            }
        }
    }
    Ok(out)
}

/// The stored form of the parsed RRsets, as their first items carry them.
pub(crate) fn stored_rrsets(items: &[SigningItem], parsed: &ParsedRrsets) -> Vec<StoredRrset> {
    parsed
        .values()
        .map(|(i, _)| {
            let item = &items[*i];
            StoredRrset { owner: item.owner.clone(), rtype: item.rtype, ttl: item.ttl, rdata: item.rdata.clone() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_described_by_owner_and_type() {
        let item = SigningItem { owner: b"\x03www\x07example\x00".to_vec(), rtype: 1, ..SigningItem::default() };
        assert_eq!(describe_item(&item), "www.example. A");
    }
}
