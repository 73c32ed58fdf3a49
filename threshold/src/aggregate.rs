//! RFC 9591 §5.3 Signature Share Aggregation, for a whole batch, with
//! §5.4 Identifiable Abort.

use std::collections::{BTreeMap, BTreeSet};

use crate::parallel::collect_indexed;

use crate::{frost, Identifier, SigningBatch, ThresholdError};

/// Aggregates the shares of every item into a 64-byte Ed25519 signature
/// (RFC 8032 §5.1.6 `R || S`), in parallel, keeping the item order.
///
/// frost verifies each aggregate signature under the group key; when one
/// fails, it verifies every share of that item (`CheaterDetection::AllCheaters`).
/// Any invalid share in the batch gives [`ThresholdError::InvalidShare`]
/// naming every culprit found in any item, each once.
pub fn aggregate_batch(
    packages: &SigningBatch<'_>,
    shares: &[BTreeMap<Identifier, frost::round2::SignatureShare>],
    public: &frost::keys::PublicKeyPackage,
) -> Result<Vec<[u8; 64]>, ThresholdError> {
    if packages.len() != shares.len() {
        return Err(ThresholdError::BatchMismatch {
            what: "signature share sets".to_owned(),
            expected: packages.len(),
            found: shares.len(),
        });
    }
    // Name a missing or foreign signer before frost turns it into a bare
    // "unknown identifier". Every item has the same signers.
    for (item, item_shares) in shares.iter().enumerate() {
        if let Some(signer) = packages.signers().find(|id| !item_shares.contains_key(*id)) {
            return Err(ThresholdError::MissingShare {
                item,
                signer: *signer,
            });
        }
        if let Some(signer) = item_shares
            .keys()
            .find(|id| packages.commitment(item, id).is_none())
        {
            return Err(ThresholdError::UnknownSigner { signer: *signer });
        }
    }

    // Each item's package lives while its shares are aggregated.
    let results: Vec<Result<[u8; 64], ThresholdError>> =
        collect_indexed(shares, |item, item_shares| aggregate_one(item, &packages.package(item), item_shares, public));

    let mut culprits = BTreeSet::new();
    for result in &results {
        if let Err(ThresholdError::InvalidShare { culprits: found }) = result {
            culprits.extend(found.iter().copied());
        }
    }
    if !culprits.is_empty() {
        return Err(ThresholdError::InvalidShare {
            culprits: culprits.into_iter().collect(),
        });
    }
    results.into_iter().collect()
}

fn aggregate_one(
    item: usize,
    package: &frost::SigningPackage,
    shares: &BTreeMap<Identifier, frost::round2::SignatureShare>,
    public: &frost::keys::PublicKeyPackage,
) -> Result<[u8; 64], ThresholdError> {
    let frost_error = |source| ThresholdError::Frost {
        step: "aggregate",
        item: Some(item),
        source,
    };
    let signature = frost::aggregate_custom(
        package,
        shares,
        public,
        frost::CheaterDetection::AllCheaters,
    )
    .map_err(|e| match e {
        frost::Error::InvalidSignatureShare { culprits } => {
            ThresholdError::InvalidShare { culprits }
        }
        other => frost_error(other),
    })?;
    let bytes = signature.serialize().map_err(frost_error)?;
    <[u8; 64]>::try_from(bytes.as_slice())
        .map_err(|_| frost_error(frost::Error::MalformedSignature))
}
