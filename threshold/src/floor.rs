//! The protocol floor: what RFC 9591 itself costs per signature, measured
//! in one process on one thread, for the benchmark (`frostzone bench floor`)
//! to compare a cluster's CPU against.
//!
//! Per signature, a t-signer quorum cannot do less than:
//!
//! - t nonce pairs and commitments (§5.1 Round One);
//! - every commitment parsed by every party that uses it: the Coordinator
//!   parses the t commitments to build the signing package, and each of the
//!   t signers parses the t − 1 commitments of the others in the package it
//!   signs over (its own it made and holds; it checks the bytes sent back
//!   are the same, §5.2). Parsing a commitment decompresses and checks two
//!   points;
//! - t signature shares (§5.2 Round Two);
//! - t signature shares parsed and aggregated into one signature that is
//!   verified under the group key (§5.3; frost-core's `aggregate` verifies).
//!
//! Nothing here is serialised beyond what the protocol makes parties parse,
//! and nothing runs in parallel: the figure is CPU time, comparable with the
//! CPU seconds of a cluster's processes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand_core::{CryptoRng, RngCore};

use crate::{frost, Identifier, SimulatedGroup, ThresholdError};
use frost::round1::{SigningCommitments, SigningNonces};
use frost::round2::SignatureShare;

/// CPU time per signature of each protocol step, for one quorum.
#[derive(Debug, Clone, Copy)]
pub struct ProtocolFloor {
    /// Signers per signature (t).
    pub threshold: u16,
    /// Signatures measured.
    pub signatures: usize,
    /// t nonce pairs and commitments (§5.1).
    pub commit: Duration,
    /// t² commitments parsed: t by the Coordinator, t − 1 by each signer
    /// (§5.2).
    pub parse_commitments: Duration,
    /// t signature shares (§5.2).
    pub sign: Duration,
    /// t shares parsed and the aggregate verified (§5.3).
    pub aggregate: Duration,
}

impl ProtocolFloor {
    /// The whole floor per signature.
    pub fn total(&self) -> Duration {
        self.commit + self.parse_commitments + self.sign + self.aggregate
    }
}

/// Measures the floor over `count` signatures of `message_len`-byte
/// messages with the first t signers of `group`. Every signature made is
/// checked, so a wrong measurement cannot pass for a fast one.
pub fn measure_floor<R: RngCore + CryptoRng>(
    group: &SimulatedGroup,
    count: usize,
    message_len: usize,
    rng: &mut R,
) -> Result<ProtocolFloor, ThresholdError> {
    let threshold = group.quorum().threshold();
    let signers: Vec<Identifier> = group.identifiers().into_iter().take(usize::from(threshold)).collect();
    let keys = signers
        .iter()
        .map(|id| group.key_package(id).map(|k| (*id, k)))
        .collect::<Option<Vec<_>>>()
        .ok_or(ThresholdError::InconsistentGroup("a signer of the group has no key package"))?;
    let (mut commit, mut parse, mut sign, mut aggregate) = (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let frost_error = |step: &'static str| move |source| ThresholdError::Frost { step, item: None, source };
    let mut message = vec![0u8; message_len];
    for _ in 0..count {
        rng.fill_bytes(&mut message);

        let started = Instant::now();
        let mut nonces: Vec<SigningNonces> = Vec::with_capacity(keys.len());
        let mut wire: Vec<(Identifier, Vec<u8>)> = Vec::with_capacity(keys.len());
        for (id, key) in &keys {
            let n = SigningNonces::new(key.signing_share(), rng);
            wire.push((*id, n.commitments().serialize().map_err(frost_error("commitment encoding"))?));
            nonces.push(n);
        }
        commit += started.elapsed();

        // Every party parses the commitments it uses: the Coordinator all
        // of them, each signer those of the others (its own it holds).
        let started = Instant::now();
        let mut package = None;
        for party in 0..=keys.len() {
            let parsed = wire
                .iter()
                .zip(&nonces)
                .enumerate()
                .map(|(k, ((id, bytes), own))| {
                    if k == party {
                        Ok((*id, *own.commitments()))
                    } else {
                        SigningCommitments::deserialize(bytes).map(|c| (*id, c))
                    }
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map_err(frost_error("commitment parsing"))?;
            package = Some(frost::SigningPackage::new(parsed, &message));
        }
        parse += started.elapsed();
        let package = package.ok_or(ThresholdError::InconsistentGroup("no signers"))?;

        let started = Instant::now();
        let mut shares: Vec<(Identifier, Vec<u8>)> = Vec::with_capacity(keys.len());
        for ((id, key), n) in keys.iter().zip(&nonces) {
            let share = frost::round2::sign(&package, n, key).map_err(frost_error("round2 sign"))?;
            shares.push((*id, share.serialize()));
        }
        sign += started.elapsed();

        let started = Instant::now();
        let parsed = shares
            .iter()
            .map(|(id, bytes)| SignatureShare::deserialize(bytes).map(|s| (*id, s)))
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map_err(frost_error("share parsing"))?;
        frost::aggregate(&package, &parsed, &group.public).map_err(frost_error("aggregate"))?;
        aggregate += started.elapsed();
    }
    let per = |d: Duration| d / u32::try_from(count.max(1)).unwrap_or(u32::MAX);
    Ok(ProtocolFloor {
        threshold,
        signatures: count,
        commit: per(commit),
        parse_commitments: per(parse),
        sign: per(sign),
        aggregate: per(aggregate),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate_with_dkg, Quorum};

    #[test]
    fn the_floor_names_every_step_and_signs_for_real() {
        let mut rng = rand::thread_rng();
        let group = generate_with_dkg(Quorum::new(3, 5).unwrap(), &mut rng).unwrap();
        let floor = measure_floor(&group, 4, 120, &mut rng).unwrap();
        assert_eq!((floor.threshold, floor.signatures), (3, 4));
        for step in [floor.commit, floor.parse_commitments, floor.sign, floor.aggregate] {
            assert!(step > Duration::ZERO);
        }
        assert_eq!(floor.total(), floor.commit + floor.parse_commitments + floor.sign + floor.aggregate);
    }
}
