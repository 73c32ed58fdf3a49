//! RFC 9591 §5.1 Round One – Commitment, for a whole batch at once.

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::frost;
use crate::parallel::collect_indexed;
use frost::round1::{SigningCommitments, SigningNonces};

/// One signer's secret nonces for a whole batch, item `i` at index `i`.
///
/// RFC 9591 §5.1: "the private output nonce MUST be used only once". So this
/// type is neither `Clone` nor serialisable, [`crate::sign_batch`] takes it by
/// value, and every nonce is wiped when it is dropped. The vector holding the
/// nonces is allocated once at its final size, so no reallocation leaves
/// copies behind.
pub struct BatchNonces {
    nonces: Vec<SigningNonces>,
}

impl BatchNonces {
    /// Number of items the nonces were made for.
    pub fn len(&self) -> usize {
        self.nonces.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.nonces.is_empty()
    }

    /// The nonces, in item order (for round two).
    pub(crate) fn as_slice(&self) -> &[SigningNonces] {
        &self.nonces
    }
}

impl std::fmt::Debug for BatchNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchNonces")
            .field("len", &self.nonces.len())
            .field("nonces", &"<redacted>")
            .finish()
    }
}

/// Makes `count` nonce pairs and their commitments for one signer: the
/// commitments go to the Coordinator, the nonces stay with the signer until
/// [`crate::sign_batch`].
///
/// Nonces are generated in parallel. Each item gets its own ChaCha generator
/// seeded with 32 bytes drawn from `rng`, and RFC 9591 §4.1 `nonce_generate`
/// hashes those random bytes together with the signer's secret share.
pub fn commit_batch<R: RngCore + CryptoRng>(
    key: &frost::keys::KeyPackage,
    count: usize,
    rng: &mut R,
) -> (BatchNonces, Vec<SigningCommitments>) {
    let mut seeds: Zeroizing<Vec<[u8; 32]>> = Zeroizing::new(vec![[0u8; 32]; count]);
    for seed in seeds.iter_mut() {
        rng.fill_bytes(seed);
    }
    let signing_share = key.signing_share();
    // An indexed parallel iterator collects into one allocation of exactly
    // `count` elements, written in place.
    let nonces: Vec<SigningNonces> = collect_indexed(&seeds, |_, seed| {
        let mut item_rng = StdRng::from_seed(*seed);
        SigningNonces::new(signing_share, &mut item_rng)
    });
    let commitments = nonces.iter().map(|n| *n.commitments()).collect();
    (BatchNonces { nonces }, commitments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate_with_dkg, Quorum};

    #[test]
    fn commitments_match_nonces_and_differ() {
        let mut rng = rand::thread_rng();
        let group = generate_with_dkg(Quorum::new(2, 3).unwrap(), &mut rng).unwrap();
        let key = group.key_package(&group.identifiers()[0]).unwrap();
        let (nonces, commitments) = commit_batch(key, 5, &mut rng);
        assert_eq!(nonces.len(), 5);
        assert!(!nonces.is_empty());
        assert_eq!(commitments.len(), 5);
        for (n, c) in nonces.as_slice().iter().zip(&commitments) {
            assert_eq!(n.commitments(), c);
        }
        for i in 1..5 {
            assert_ne!(commitments[0], commitments[i]);
        }
        let debug = format!("{nonces:?}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }
}
