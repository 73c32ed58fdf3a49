//! Key generation without a dealer: the Pedersen DKG with proofs of
//! knowledge that RFC 9591 Appendix C points to (frost `keys::dkg`), run among
//! simulated participants in one process.

use std::collections::BTreeMap;

use rand_core::{CryptoRng, RngCore};

use super::default_identifiers;
use crate::{frost, Identifier, Quorum, SimulatedGroup, ThresholdError};
use frost::keys::dkg;

/// Runs frost `keys::dkg::part1`/`part2`/`part3` among `quorum.signers()`
/// simulated participants (identifiers `1..=n`), without a dealer.
///
/// Each participant sees only the packages the others sent it. Every
/// participant's resulting public key package must be equal; a participant
/// that disagrees gives [`ThresholdError::DkgDisagreement`].
pub fn generate_with_dkg<R: RngCore + CryptoRng>(
    quorum: Quorum,
    rng: &mut R,
) -> Result<SimulatedGroup, ThresholdError> {
    let ids = default_identifiers(quorum)?;
    let (n, t) = (quorum.signers(), quorum.threshold());

    // Part 1: every participant commits to its polynomial and broadcasts.
    let mut round1_secrets = BTreeMap::new();
    let mut round1_packages = BTreeMap::new();
    for id in &ids {
        let (secret, package) =
            dkg::part1(*id, n, t, &mut *rng).map_err(ThresholdError::frost("dkg part1"))?;
        round1_secrets.insert(*id, secret);
        round1_packages.insert(*id, package);
    }
    let received_round1 = |me: &Identifier| -> BTreeMap<Identifier, dkg::round1::Package> {
        round1_packages
            .iter()
            .filter(|(from, _)| *from != me)
            .map(|(from, p)| (*from, p.clone()))
            .collect()
    };

    // Part 2: every participant checks the others' proofs and sends each one
    // its secret share. The packages hold secrets and zeroize on drop.
    let mut round2_secrets = BTreeMap::new();
    // to -> from -> package
    let mut inboxes: BTreeMap<Identifier, BTreeMap<Identifier, dkg::round2::Package>> =
        BTreeMap::new();
    for (id, secret) in round1_secrets {
        let (secret2, outgoing) = dkg::part2(secret, &received_round1(&id))
            .map_err(ThresholdError::frost("dkg part2"))?;
        round2_secrets.insert(id, secret2);
        for (to, package) in outgoing {
            inboxes.entry(to).or_default().insert(id, package);
        }
    }

    // Part 3: every participant verifies its shares and derives its key.
    let mut shares = BTreeMap::new();
    let mut reference: Option<(Identifier, frost::keys::PublicKeyPackage)> = None;
    for (id, secret2) in &round2_secrets {
        let inbox = inboxes.remove(id).unwrap_or_default();
        let (key_package, public) = dkg::part3(secret2, &received_round1(id), &inbox)
            .map_err(ThresholdError::frost("dkg part3"))?;
        match &reference {
            None => reference = Some((*id, public)),
            Some((ref_id, ref_public)) if *ref_public != public => {
                return Err(ThresholdError::DkgDisagreement {
                    participant: *id,
                    reference: *ref_id,
                })
            }
            Some(_) => {}
        }
        shares.insert(*id, key_package);
    }
    let (_, public) = reference.ok_or(ThresholdError::ThresholdParameters {
        threshold: t,
        signers: n,
    })?;
    SimulatedGroup::new(public, shares, quorum)
}
