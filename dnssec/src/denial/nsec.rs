//! NSEC chains (RFC 4034 §4, RFC 4035 §2.3).

use bytes::Bytes;
use domain::base::iana::Rtype;
use domain::base::Ttl;
use domain::rdata::dnssec::RtypeBitmap;
use domain::rdata::{Nsec, ZoneRecordData};

use super::type_bitmap;
use crate::name::CanonicalName;
use crate::zone::{NameRole, Rdata, Rrset, Zone};
use crate::StoredName;

/// Adds an NSEC record to every name that has authoritative data or is a
/// delegation, linking them in canonical order and back to the apex.
///
/// RFC 4035 §2.3: "A zone MUST NOT include NSEC RRs for names below a zone
/// cut"; empty non-terminals have no NSEC (they do not exist as owners).
pub fn add_nsec_chain(zone: &mut Zone) {
    let records: Vec<Rrset> = nsec_chain(zone).collect();
    for rrset in records {
        let owner = rrset.owner.clone();
        zone.node_mut(&owner).rrsets.insert(Rtype::NSEC.to_int(), rrset);
    }
}

/// The NSEC RRsets [`add_nsec_chain`] adds, in canonical order, each made
/// as it is asked for: a check compares a proposed chain with them
/// without holding a second chain. `zone` holds no NSEC RRsets (they
/// are removed or taken out first): the chain is derived from the rest.
pub fn nsec_chain(zone: &Zone) -> impl Iterator<Item = Rrset> + '_ {
    let ttl = zone.denial_ttl();
    let owners: Vec<(CanonicalName, NameRole)> = zone
        .roles()
        .into_iter()
        .filter(|(_, role)| *role != NameRole::Occluded)
        .collect();
    (0..owners.len()).map(move |i| {
        let (owner, role) = &owners[i];
        let next = &owners[(i + 1) % owners.len()].0;
        let bitmap = type_bitmap(zone.node(&owner.0), *role, Some(Rtype::NSEC));
        nsec_rrset(&owner.0, &next.0, bitmap, ttl)
    })
}

/// The NSEC RRset at `owner` (RFC 4034 §4.1): `next` is the following
/// owner in canonical order, `bitmap` the types at `owner`.
pub(crate) fn nsec_rrset(owner: &StoredName, next: &StoredName, bitmap: RtypeBitmap<Bytes>, ttl: Ttl) -> Rrset {
    let data = ZoneRecordData::Nsec(Nsec::new(next.clone(), bitmap));
    Rrset::new(owner.clone(), Rtype::NSEC, ttl, vec![Rdata::new(data)])
}
