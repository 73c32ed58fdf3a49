//! A whole FROST key group held in one process.

use std::collections::BTreeMap;

use crate::{frost, Identifier, Quorum, ThresholdError};

/// A whole group held in one process: for simulation and tests only (a real
/// deployment puts each [`frost::keys::KeyPackage`] on its own node).
///
/// Built by [`crate::generate_with_dkg`] or [`crate::split_existing_key`],
/// which check that every share belongs to `public`.
pub struct SimulatedGroup {
    /// The group's public data: group verifying key and every signer's
    /// verifying share.
    pub public: frost::keys::PublicKeyPackage,
    shares: BTreeMap<Identifier, frost::keys::KeyPackage>,
    quorum: Quorum,
    verifying_key: [u8; 32],
}

impl SimulatedGroup {
    /// Assembles a group and checks that every share belongs to `public`.
    pub(crate) fn new(
        public: frost::keys::PublicKeyPackage,
        shares: BTreeMap<Identifier, frost::keys::KeyPackage>,
        quorum: Quorum,
    ) -> Result<Self, ThresholdError> {
        if public.min_signers() != Some(quorum.threshold())
            || public.verifying_shares().len() != usize::from(quorum.signers())
            || shares.len() != usize::from(quorum.signers())
        {
            return Err(ThresholdError::InconsistentGroup(
                "number of shares or threshold differs from the quorum",
            ));
        }
        for (id, share) in &shares {
            if share.identifier() != id
                || share.verifying_key() != public.verifying_key()
                || *share.min_signers() != quorum.threshold()
                || public.verifying_shares().get(id) != Some(share.verifying_share())
            {
                return Err(ThresholdError::InconsistentGroup(
                    "a key package does not belong to the public key package",
                ));
            }
        }
        let encoded = public
            .verifying_key()
            .serialize()
            .map_err(ThresholdError::frost("verifying key encoding"))?;
        let verifying_key = <[u8; 32]>::try_from(encoded.as_slice())
            .map_err(|_| ThresholdError::InconsistentGroup("verifying key is not 32 bytes"))?;
        Ok(SimulatedGroup {
            public,
            shares,
            quorum,
            verifying_key,
        })
    }

    /// The group's t-of-n parameters.
    pub fn quorum(&self) -> Quorum {
        self.quorum
    }

    /// 32-byte Ed25519 public key (RFC 8032 §5.1.5 encoding) of the group:
    /// the public key field of the DNSKEY (RFC 8080 §3).
    pub fn verifying_key_bytes(&self) -> [u8; 32] {
        self.verifying_key
    }

    /// The key package of one signer.
    pub fn key_package(&self, id: &Identifier) -> Option<&frost::keys::KeyPackage> {
        self.shares.get(id)
    }

    /// All signers' identifiers, in ascending order.
    pub fn identifiers(&self) -> Vec<Identifier> {
        self.shares.keys().copied().collect()
    }
}

impl std::fmt::Debug for SimulatedGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedGroup")
            .field("quorum", &self.quorum)
            .field("public", &self.public)
            .field("shares", &"<redacted>")
            .finish()
    }
}
