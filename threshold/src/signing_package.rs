//! The Coordinator's step between the rounds (RFC 9591 §5.2): one signing
//! package per message, holding the message and every chosen signer's
//! commitment for it.

use std::collections::BTreeMap;

use crate::parallel::collect_indexed;

use crate::error::display_identifier;
use crate::{frost, Identifier, ThresholdError};
use frost::round1::SigningCommitments;

/// FROST's minimum number of signers (RFC 9591 §3: `MIN_PARTICIPANTS >= 2`).
const MIN_SIGNERS: u16 = 2;

/// Builds one [`frost::SigningPackage`] per message from every chosen
/// signer's commitment list: item `i` uses each signer's `i`-th commitment.
///
/// Errors if a list's length differs from `messages.len()`
/// ([`ThresholdError::BatchMismatch`]) or if fewer than two signers are given
/// ([`ThresholdError::NotEnoughSigners`]). The group's own threshold is not
/// known here: [`crate::sign_batch`] and [`crate::aggregate_batch`] refuse
/// packages with fewer commitments than the threshold.
pub fn signing_packages(
    messages: &[Vec<u8>],
    commitments: &BTreeMap<Identifier, Vec<SigningCommitments>>,
) -> Result<Vec<frost::SigningPackage>, ThresholdError> {
    if commitments.len() < usize::from(MIN_SIGNERS) {
        return Err(ThresholdError::NotEnoughSigners {
            threshold: MIN_SIGNERS,
            found: commitments.len(),
        });
    }
    for (id, list) in commitments {
        if list.len() != messages.len() {
            return Err(ThresholdError::BatchMismatch {
                what: format!("commitments of signer {}", display_identifier(id)),
                expected: messages.len(),
                found: list.len(),
            });
        }
    }
    Ok(collect_indexed(messages, |i, message| {
        let item: BTreeMap<Identifier, SigningCommitments> = commitments
            .iter()
            .map(|(id, list)| (*id, list[i]))
            .collect();
        frost::SigningPackage::new(item, message)
    }))
}
