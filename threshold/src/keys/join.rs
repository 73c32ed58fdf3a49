//! A new participant in an existing key group, at the same t and under
//! the same group key (issue 12: a signer joins without a new DNSKEY).
//!
//! Its share comes from a share repair (frost `keys::repairable` computes
//! the share at any identifier). This module gives the public side: its
//! verifying share, interpolated in the exponent from the verifying shares
//! of t or more holders with frost's own Lagrange coefficients,
//!
//! ```text
//! Y_new = Σ_{i ∈ S} λ_i(new) · Y_i        (S: t or more holders)
//! ```
//!
//! which is `f(new) · G` for the group's secret polynomial `f`, and the
//! public key package with it. The new participant keeps its rebuilt share
//! only if the share's own verifying share equals `Y_new`.

use std::collections::{BTreeMap, BTreeSet};

use frost_core::Group;

use crate::{frost, Identifier, ThresholdError};

/// `public` with the verifying share of `joiner` added, interpolated from
/// the verifying shares of `from` (t or more holders).
pub fn joined_public_key_package(
    public: &frost::keys::PublicKeyPackage,
    from: &BTreeSet<Identifier>,
    joiner: Identifier,
) -> Result<frost::keys::PublicKeyPackage, ThresholdError> {
    let t = public.min_signers().ok_or(ThresholdError::InconsistentGroup("the public key package has no threshold"))?;
    if from.len() < usize::from(t) {
        return Err(ThresholdError::NotEnoughSigners { threshold: t, found: from.len() });
    }
    if public.verifying_shares().contains_key(&joiner) {
        return Err(ThresholdError::InconsistentGroup("the joiner holds a share of the group already"));
    }
    let mut element = frost::Ed25519Group::identity();
    for id in from {
        let share = public
            .verifying_shares()
            .get(id)
            .ok_or(ThresholdError::UnknownSigner { signer: *id })?;
        let lambda = frost_core::compute_lagrange_coefficient(from, Some(joiner), *id).map_err(ThresholdError::frost("join interpolation"))?;
        element += share.to_element() * lambda;
    }
    let mut shares: BTreeMap<Identifier, frost::keys::VerifyingShare> = public.verifying_shares().clone();
    shares.insert(joiner, frost::keys::VerifyingShare::new(element));
    not_identity(&shares, joiner)?;
    Ok(frost::keys::PublicKeyPackage::new(shares, *public.verifying_key(), Some(t)))
}

/// The interpolated verifying share is never the identity (a zero share).
fn not_identity(shares: &BTreeMap<Identifier, frost::keys::VerifyingShare>, joiner: Identifier) -> Result<(), ThresholdError> {
    match shares.get(&joiner) {
        Some(s) if s.to_element() != frost::Ed25519Group::identity() => Ok(()),
        _ => Err(ThresholdError::InconsistentGroup("the interpolated verifying share is the identity")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    /// The share frost's dealer would have given participant 5 of a 3-of-5
    /// group has exactly the verifying share interpolated from a 3-of-4
    /// group's holders 1, 2, 4.
    #[test]
    fn the_interpolated_share_is_the_polynomials() {
        let (shares, public5) = frost::keys::generate_with_dealer(5, 3, frost::keys::IdentifierList::Default, OsRng).unwrap();
        let five = Identifier::try_from(5u16).unwrap();
        let mut four = public5.verifying_shares().clone();
        four.remove(&five);
        let public4 = frost::keys::PublicKeyPackage::new(four, *public5.verifying_key(), Some(3));
        let from: BTreeSet<Identifier> = [1u16, 2, 4].iter().map(|i| Identifier::try_from(*i).unwrap()).collect();
        let joined = joined_public_key_package(&public4, &from, five).unwrap();
        assert_eq!(joined, public5);
        let expected = frost::keys::VerifyingShare::from(*shares[&five].signing_share());
        assert_eq!(joined.verifying_shares()[&five], expected);
        // Too few holders, or a holder that is not one.
        let two: BTreeSet<Identifier> = from.iter().take(2).copied().collect();
        assert!(joined_public_key_package(&public4, &two, five).is_err());
        assert!(joined_public_key_package(&public5, &from, five).is_err());
    }
}
