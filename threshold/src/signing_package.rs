//! The Coordinator's step between the rounds (RFC 9591 §5.2) for a whole
//! batch: every message with every chosen signer's commitment for it.
//!
//! A [`frost::SigningPackage`] keeps its commitments in a B-tree whose
//! node has room for eleven signers of 352 octets each: about 4 KB per
//! message, 16 MB for a batch of 4,096 held whole through round 2. A
//! [`SigningBatch`] holds the commitments as lists (two points per signer
//! and message) and builds an item's package only while that item is
//! signed or aggregated.

use std::collections::BTreeMap;

use crate::error::display_identifier;
use crate::{frost, Identifier, ThresholdError};
use frost::round1::SigningCommitments;

/// FROST's minimum number of signers (RFC 9591 §3: `MIN_PARTICIPANTS >= 2`).
const MIN_SIGNERS: u16 = 2;

/// The messages of a batch and every chosen signer's commitment list:
/// item `i` is message `i` with each signer's `i`-th commitment.
#[derive(Debug)]
pub struct SigningBatch<'a> {
    messages: &'a [Vec<u8>],
    commitments: &'a BTreeMap<Identifier, Vec<SigningCommitments>>,
}

impl<'a> SigningBatch<'a> {
    /// Checks the lists against the messages.
    ///
    /// Errors if a list's length differs from `messages.len()`
    /// ([`ThresholdError::BatchMismatch`]) or if fewer than two signers are
    /// given ([`ThresholdError::NotEnoughSigners`]). The group's own
    /// threshold is not known here: [`crate::sign_batch`] and
    /// [`crate::aggregate_batch`] refuse packages with fewer commitments
    /// than the threshold.
    pub fn new(
        messages: &'a [Vec<u8>],
        commitments: &'a BTreeMap<Identifier, Vec<SigningCommitments>>,
    ) -> Result<SigningBatch<'a>, ThresholdError> {
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
        Ok(SigningBatch { messages, commitments })
    }

    /// Items in the batch.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether the batch has no items.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The chosen signers, in identifier order: the same for every item.
    pub fn signers(&self) -> impl Iterator<Item = &Identifier> {
        self.commitments.keys()
    }

    /// `signer`'s commitment for item `item`, if it is chosen.
    pub fn commitment(&self, item: usize, signer: &Identifier) -> Option<&SigningCommitments> {
        self.commitments.get(signer)?.get(item)
    }

    /// Item `item`'s signing package, made for the caller to use and drop.
    ///
    /// # Panics
    ///
    /// If `item` is not below [`SigningBatch::len`].
    pub fn package(&self, item: usize) -> frost::SigningPackage {
        let commitments = self.commitments.iter().map(|(id, list)| (*id, list[item])).collect();
        frost::SigningPackage::new(commitments, &self.messages[item])
    }
}
