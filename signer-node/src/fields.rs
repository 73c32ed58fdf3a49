//! Fields of the API's messages read into FROST and DNSSEC values —
//! participant identifiers (RFC 9591 §4.1), key roles, session ids, zone
//! names — and written back. Every refusal names the field
//! ([`NodeError::Field`]), so a malformed request is answered before any
//! key material is touched.

use frostzone_dnssec::keys::KeyRole;
use frostzone_proto::v1;
use frostzone_threshold::Identifier;

use crate::error::NodeError;

/// Shortest DKG session id: the API asks for 16 random octets or more.
pub const MIN_DKG_SESSION_ID: usize = 16;
/// Longest session id of any kind.
pub const MAX_SESSION_ID: usize = 128;

/// The participant identifier in `field`, which must be present.
pub(crate) fn participant(
    p: Option<&v1::ParticipantId>,
    field: &'static str,
) -> Result<Identifier, NodeError> {
    let p = p.ok_or_else(|| NodeError::field(field, "missing"))?;
    Identifier::deserialize(&p.id)
        .map_err(|e| NodeError::field(field, format!("not a participant identifier: {e}")))
}

/// An identifier as the API carries it.
pub(crate) fn participant_id(id: &Identifier) -> v1::ParticipantId {
    v1::ParticipantId { id: id.serialize() }
}

/// The key role of an API role value: KSK, ZSK or CSK, nothing else.
pub(crate) fn role(value: i32) -> Result<KeyRole, NodeError> {
    match v1::KeyRole::try_from(value) {
        Ok(v1::KeyRole::Ksk) => Ok(KeyRole::Ksk),
        Ok(v1::KeyRole::Zsk) => Ok(KeyRole::Zsk),
        Ok(v1::KeyRole::Csk) => Ok(KeyRole::Csk),
        _ => Err(NodeError::field(
            "role",
            format!("{value} is not KSK, ZSK or CSK"),
        )),
    }
}

/// The API's role value for a role.
pub fn proto_role(role: KeyRole) -> v1::KeyRole {
    match role {
        KeyRole::Ksk => v1::KeyRole::Ksk,
        KeyRole::Zsk => v1::KeyRole::Zsk,
        KeyRole::Csk => v1::KeyRole::Csk,
    }
}

/// The id of an attempt or a DKG run, in the request field `field`: `min`
/// octets or more, at most [`MAX_SESSION_ID`].
pub(crate) fn session_id<'a>(field: &'static str, id: &'a [u8], min: usize) -> Result<&'a [u8], NodeError> {
    if id.len() < min.max(1) || id.len() > MAX_SESSION_ID {
        return Err(NodeError::field(
            field,
            format!(
                "{} octets, need {}..={MAX_SESSION_ID}",
                id.len(),
                min.max(1)
            ),
        ));
    }
    Ok(id)
}

/// A zone name as given, in its normalized text (lowercase, trailing
/// dot), the one spelling under which shares and requests are stored.
pub(crate) fn zone(zone: &str) -> Result<String, NodeError> {
    frostzone_dnssec::name::ZoneName::parse(zone).map(|z| z.into_text()).map_err(|e| NodeError::field("zone", e))
}
