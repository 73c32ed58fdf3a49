//! Splitting an existing Ed25519 key among signers (RFC 9591 Appendix C.1,
//! trusted dealer key generation), so a zone keeps its published DNSKEY.

use std::collections::BTreeMap;

use ed25519_dalek::hazmat::ExpandedSecretKey;
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::{frost, Quorum, SimulatedGroup, ThresholdError};

/// Splits an existing Ed25519 key, given its 32-byte RFC 8032 seed (the
/// private key of RFC 8032 §5.1.5), into `quorum` shares.
///
/// RFC 8032 §5.1.5: the secret scalar `s` is the clamped lower half of
/// SHA-512(seed), and the public key is `[s]B`. FROST shares exactly that
/// scalar, so the group verifying key equals the original public key; this
/// is checked against `ed25519_dalek` and [`ThresholdError::ImportedKeyMismatch`]
/// returned otherwise.
///
/// Plain Ed25519 derives its nonce from the seed's upper half; FROST signing
/// does not need or keep it.
pub fn split_existing_key<R: RngCore + CryptoRng>(
    seed: &Zeroizing<[u8; 32]>,
    quorum: Quorum,
    rng: &mut R,
) -> Result<SimulatedGroup, ThresholdError> {
    let signing_key = {
        // Both the expanded key and the scalar bytes wipe themselves.
        let expanded = ExpandedSecretKey::from(&**seed);
        let scalar = Zeroizing::new(expanded.scalar.to_bytes());
        frost::SigningKey::deserialize(scalar.as_slice())
            .map_err(ThresholdError::frost("signing key import"))?
    };
    let (secret_shares, public) = frost::keys::split(
        &signing_key,
        quorum.signers(),
        quorum.threshold(),
        frost::keys::IdentifierList::Default,
        rng,
    )
    .map_err(ThresholdError::frost("split"))?;
    drop(signing_key);

    let expected = ed25519_dalek::SigningKey::from_bytes(seed).verifying_key();
    let actual = public
        .verifying_key()
        .serialize()
        .map_err(ThresholdError::frost("verifying key encoding"))?;
    if actual.as_slice() != expected.as_bytes() {
        return Err(ThresholdError::ImportedKeyMismatch);
    }

    let mut shares = BTreeMap::new();
    for (id, secret_share) in secret_shares {
        // try_from verifies the share against the dealer's commitment
        // (RFC 9591 Appendix C.2) and drops (wipes) the SecretShare.
        let key_package = frost::keys::KeyPackage::try_from(secret_share)
            .map_err(ThresholdError::frost("share verification"))?;
        shares.insert(id, key_package);
    }
    SimulatedGroup::new(public, shares, quorum)
}
