//! Plan items in the wire form a signer receives: the RRset's content and
//! the RRSIG fields, from which it rebuilds what it signs.

use frostzone_dnssec::signing::{PlanZone, SigningItem};
use frostzone_dnssec::wire::{name_octets, rrset_rdata_wire};
use frostzone_proto::v1 as pb;

/// One plan item in wire form, with the RRset it covers in `zone`, the
/// plan's (`None` for an item of another plan).
pub fn wire_item(zone: PlanZone<'_>, item: &SigningItem) -> Option<pb::SigningItem> {
    let f = &item.rrsig;
    let rrset = zone.covered(item)?;
    Some(pb::SigningItem {
        owner: name_octets(&rrset.owner),
        rtype: rrset.rtype.to_int().into(),
        ttl: rrset.ttl.as_secs(),
        rdata: rrset_rdata_wire(rrset),
        rrsig: Some(pb::RrsigFields {
            type_covered: f.type_covered.to_int().into(),
            algorithm: f.algorithm.to_int().into(),
            labels: f.labels.into(),
            original_ttl: f.original_ttl.as_secs(),
            expiration: f.expiration.into_int(),
            inception: f.inception.into_int(),
            key_tag: f.key_tag.0.into(),
            signer_name: name_octets(&f.signer_name),
        }),
    })
}
