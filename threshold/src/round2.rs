//! RFC 9591 §5.2 Round Two – Signature Share Generation, for a whole batch.

use crate::parallel::collect_indexed;

use crate::{frost, BatchNonces, SigningBatch, ThresholdError};

/// Signs every item of a batch with this signer's nonces, one share per
/// item, in parallel; each item's signing package is built as it is signed.
///
/// The nonces are taken by value, so a batch of nonces signs at most once;
/// they are wiped when this function returns, whatever the outcome.
///
/// Before anything is signed, the whole batch is checked: the number of
/// items must equal the number of nonces, and item `i` must carry the
/// exact commitment this signer made for it (RFC 9591 §5.2: each
/// participant validates the commitment list; frost checks it again per
/// item). Any mismatch refuses the whole batch and no share is released.
pub fn sign_batch(
    nonces: BatchNonces,
    key: &frost::keys::KeyPackage,
    packages: &SigningBatch<'_>,
) -> Result<Vec<frost::round2::SignatureShare>, ThresholdError> {
    let batch = nonces;
    let nonces = batch.as_slice();
    if nonces.len() != packages.len() {
        return Err(ThresholdError::BatchMismatch {
            what: "signing packages".to_owned(),
            expected: nonces.len(),
            found: packages.len(),
        });
    }
    let me = key.identifier();
    for (item, nonce) in nonces.iter().enumerate() {
        if packages.commitment(item, me) != Some(nonce.commitments()) {
            return Err(ThresholdError::CommitmentMismatch { item, signer: *me });
        }
    }
    collect_indexed(nonces, |item, nonce| {
        frost::round2::sign(&packages.package(item), nonce, key).map_err(|source| ThresholdError::Frost {
            step: "round2 sign",
            item: Some(item),
            source,
        })
    })
}
