//! Authenticated denial of existence: NSEC (RFC 4034 §4, RFC 4035 §2.3)
//! and NSEC3 (RFC 5155 §7.1, with the RFC 9276 parameters by default).

pub mod check;
pub mod nsec;
pub mod nsec3;

use domain::base::iana::Rtype;
use domain::rdata::dnssec::{RtypeBitmap, RtypeBitmapBuilder};

use crate::zone::{NameRole, Node, Zone};

pub use nsec3::Nsec3Config;

/// How a zone proves that names and types do not exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// NSEC records: simple, but let anyone list the zone.
    Nsec,
    /// NSEC3 records with these parameters.
    Nsec3(Nsec3Config),
}

impl Default for Denial {
    /// NSEC3 with RFC 9276 parameters: what BIND, Knot and Cascade default
    /// to for new zones.
    fn default() -> Self {
        Denial::Nsec3(Nsec3Config::default())
    }
}

/// The denial chain could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DenialError {
    /// Two names hash to the same NSEC3 owner (RFC 5155 §7.1 asks for a new
    /// salt).
    #[error("NSEC3 hash collision between {first} and {second}: choose a salt")]
    HashCollision {
        /// One name.
        first: String,
        /// The other.
        second: String,
    },
    /// A name could not be hashed.
    #[error("cannot hash {name} for NSEC3: {reason}")]
    Hash {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
}

/// Adds the zone's denial records (and NSEC3PARAM for NSEC3) to `zone`.
///
/// Any NSEC, NSEC3 or NSEC3PARAM records already present are replaced.
/// Call this after every other record (DNSKEY, CDS, CDNSKEY included) is
/// in place: type bitmaps are taken from the zone as it stands.
pub fn add_denial(zone: &mut Zone, denial: &Denial) -> Result<(), DenialError> {
    for t in [Rtype::NSEC, Rtype::NSEC3, Rtype::NSEC3PARAM] {
        zone.remove_type(t);
    }
    match denial {
        Denial::Nsec => {
            nsec::add_nsec_chain(zone);
            Ok(())
        }
        Denial::Nsec3(config) => nsec3::add_nsec3_chain(zone, config),
    }
}

/// The types the denial record for a name must list (RFC 4034 §4.1.2,
/// RFC 5155 §3.2.1): what is authoritative there, plus RRSIG where
/// anything is signed. `extra` is the denial type itself when it lives at
/// the same name (NSEC).
///
/// "Bits corresponding to the delegation NS RRset and any RRsets for which
/// the parent zone has authoritative data MUST be set; bits corresponding
/// to any non-NS RRset for which the parent is not authoritative MUST be
/// clear." (RFC 4034 §4.1.2)
pub fn type_bitmap(node: Option<&Node>, role: NameRole, extra: Option<Rtype>) -> RtypeBitmap<bytes::Bytes> {
    type_bitmap_of(node.into_iter().flat_map(Node::types), role, extra)
}

/// [`type_bitmap`] from the types present at the name (RRSIG excluded),
/// for callers that know a name's types without holding its [`Node`]
/// (the incremental check of [`check`]).
pub fn type_bitmap_of(present: impl IntoIterator<Item = Rtype>, role: NameRole, extra: Option<Rtype>) -> RtypeBitmap<bytes::Bytes> {
    let mut types: Vec<Rtype> = Vec::new();
    for t in present {
        if t == Rtype::NSEC || t == Rtype::NSEC3 {
            continue;
        }
        let listed = match role {
            NameRole::Delegation { .. } => t == Rtype::NS || t == Rtype::DS,
            NameRole::Occluded => false,
            NameRole::Apex | NameRole::Authoritative => true,
        };
        if listed {
            types.push(t);
        }
    }
    let signed_here = types.iter().any(|t| Zone::is_signed(role, *t)) || extra.is_some();
    if signed_here {
        types.push(Rtype::RRSIG);
    }
    if let Some(e) = extra {
        types.push(e);
    }
    let mut builder = RtypeBitmapBuilder::<bytes::BytesMut>::new();
    for t in types {
        // Adding to a growable buffer cannot fail.
        let _ = builder.add(t);
    }
    builder.finalize()
}
