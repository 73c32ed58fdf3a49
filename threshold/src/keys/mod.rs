//! Key groups: fresh by distributed key generation, or by splitting an
//! existing Ed25519 key; a new participant's place in an existing group.

pub(crate) mod dkg;
pub(crate) mod import;
pub(crate) mod join;

use crate::{Identifier, Quorum, ThresholdError};

/// The default identifiers `1..=n` (RFC 9591 §3.1).
pub(crate) fn default_identifiers(quorum: Quorum) -> Result<Vec<Identifier>, ThresholdError> {
    (1..=quorum.signers())
        .map(|i| Identifier::try_from(i).map_err(ThresholdError::frost("identifier")))
        .collect()
}
