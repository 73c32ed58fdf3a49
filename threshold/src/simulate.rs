//! The whole batch protocol in one process, for `frostzone simulate` and tests.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::{CryptoRng, RngCore};

use crate::{
    aggregate_batch, commit_batch, frost, sign_batch, SigningBatch, Identifier, SimulatedGroup,
    ThresholdError,
};

/// Items per chunk in [`SimulatedGroup::sign_batch`]: large enough to keep
/// both rayon threads busy, small enough that nonces, packages and shares of
/// one chunk stay a few megabytes.
pub const DEFAULT_CHUNK: usize = 4096;

impl SimulatedGroup {
    /// Signs every message with the signers `signers` (all of the group's
    /// signers in `signers` take part; an empty slice means the first
    /// `threshold` identifiers), running round one, the signing packages,
    /// round two and aggregation in this process.
    ///
    /// Works through [`DEFAULT_CHUNK`] messages at a time, so memory stays
    /// bounded, and calls `progress` with the number of messages done after
    /// each chunk. Returns one 64-byte Ed25519 signature per message, in
    /// order. Nothing is serialised.
    pub fn sign_batch<R: RngCore + CryptoRng>(
        &self,
        signers: &[Identifier],
        messages: &[Vec<u8>],
        rng: &mut R,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<[u8; 64]>, ThresholdError> {
        let keys = self.signing_set(signers)?;
        let mut signatures = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(DEFAULT_CHUNK) {
            signatures.extend(self.sign_chunk(&keys, chunk, rng)?);
            progress(signatures.len());
        }
        Ok(signatures)
    }

    /// Resolves and checks the chosen signers.
    fn signing_set(
        &self,
        signers: &[Identifier],
    ) -> Result<Vec<&frost::keys::KeyPackage>, ThresholdError> {
        let threshold = self.quorum().threshold();
        let chosen: Vec<Identifier> = if signers.is_empty() {
            self.identifiers()
                .into_iter()
                .take(usize::from(threshold))
                .collect()
        } else {
            signers.to_vec()
        };
        let mut seen = BTreeSet::new();
        for id in &chosen {
            if !seen.insert(*id) {
                return Err(ThresholdError::DuplicateSigner { signer: *id });
            }
        }
        if chosen.len() < usize::from(threshold) {
            return Err(ThresholdError::NotEnoughSigners {
                threshold,
                found: chosen.len(),
            });
        }
        chosen
            .iter()
            .map(|id| {
                self.key_package(id)
                    .ok_or(ThresholdError::UnknownSigner { signer: *id })
            })
            .collect()
    }

    fn sign_chunk<R: RngCore + CryptoRng>(
        &self,
        keys: &[&frost::keys::KeyPackage],
        messages: &[Vec<u8>],
        rng: &mut R,
    ) -> Result<Vec<[u8; 64]>, ThresholdError> {
        let mut nonces = Vec::with_capacity(keys.len());
        let mut commitments = BTreeMap::new();
        for key in keys {
            let (batch, list) = commit_batch(key, messages.len(), rng);
            nonces.push(batch);
            commitments.insert(*key.identifier(), list);
        }
        let packages = SigningBatch::new(messages, &commitments)?;

        let mut shares: Vec<BTreeMap<Identifier, frost::round2::SignatureShare>> =
            vec![BTreeMap::new(); messages.len()];
        for (key, batch) in keys.iter().zip(nonces) {
            let signer_shares = sign_batch(batch, key, &packages)?;
            for (item, share) in shares.iter_mut().zip(signer_shares) {
                item.insert(*key.identifier(), share);
            }
        }
        aggregate_batch(&packages, &shares, &self.public)
    }
}
