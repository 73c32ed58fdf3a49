//! The one error type of this crate.

use crate::{frost, Identifier};

/// Everything that can go wrong in key generation and batch signing.
///
/// Variants carry what the caller acts on: which signer cheated, which item of
/// a batch, which lengths disagree.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ThresholdError {
    /// The t-of-n parameters are not usable: FROST needs `2 <= t <= n`.
    #[error("invalid quorum {threshold}-of-{signers}: need 2 <= threshold <= signers")]
    ThresholdParameters {
        /// Requested threshold t.
        threshold: u16,
        /// Requested number of signers n.
        signers: u16,
    },

    /// Signature shares failed verification (RFC 9591 §5.4 Identifiable
    /// Abort). `culprits` names every signer whose share was invalid for any
    /// item of the batch, each once, in identifier order.
    #[error("invalid signature share from signer(s) {}", display_identifiers(.culprits))]
    InvalidShare {
        /// The signers whose shares did not verify.
        culprits: Vec<Identifier>,
    },

    /// Two lists that must have one entry per batch item have different
    /// lengths.
    #[error("batch length mismatch: {what} has {found} items, expected {expected}")]
    BatchMismatch {
        /// Which list is wrong, e.g. "commitments of signer 2" or "shares".
        what: String,
        /// Number of items in the batch.
        expected: usize,
        /// Number of entries found.
        found: usize,
    },

    /// Fewer signers were chosen than the threshold needs.
    #[error("{found} signer(s) chosen, the threshold is {threshold}")]
    NotEnoughSigners {
        /// The group's threshold (or FROST's minimum of 2 where the threshold
        /// is not known).
        threshold: u16,
        /// Number of distinct signers given.
        found: usize,
    },

    /// A signer was named twice in one signing set.
    #[error("signer {} chosen twice", display_identifier(.signer))]
    DuplicateSigner {
        /// The repeated signer.
        signer: Identifier,
    },

    /// A signer is not a member of the group.
    #[error("signer {} is not a member of the group", display_identifier(.signer))]
    UnknownSigner {
        /// The unknown signer.
        signer: Identifier,
    },

    /// A signer whose commitment is in an item's signing package sent no
    /// signature share for it.
    #[error("item {item}: no signature share from signer {}", display_identifier(.signer))]
    MissingShare {
        /// Index of the item in the batch.
        item: usize,
        /// The signer whose share is missing.
        signer: Identifier,
    },

    /// A signing package does not carry, for this signer, the commitment it
    /// made for that index in round one. Signing it would risk the key, so the
    /// whole batch is refused and nothing is signed.
    #[error("item {item}: signing package does not carry the commitment signer {} made for it", display_identifier(.signer))]
    CommitmentMismatch {
        /// Index of the item in the batch.
        item: usize,
        /// The signer whose commitment is wrong or absent.
        signer: Identifier,
    },

    /// The group verifying key after splitting an existing key differs from
    /// that key's Ed25519 public key.
    #[error("group verifying key after split differs from the ed25519 public key of the seed")]
    ImportedKeyMismatch,

    /// DKG participants derived different public key packages.
    #[error("dkg participant {} derived a public key package different from participant {}", display_identifier(.participant), display_identifier(.reference))]
    DkgDisagreement {
        /// The participant that disagrees.
        participant: Identifier,
        /// The participant whose package was taken as reference.
        reference: Identifier,
    },

    /// Key material held in one group is inconsistent (shares of different
    /// groups mixed, for example).
    #[error("inconsistent key group: {0}")]
    InconsistentGroup(&'static str),

    /// Any other failure reported by the frost crate.
    #[error("frost {step} failed{}", display_item(.item))]
    Frost {
        /// The protocol step, e.g. "dkg part2" or "round2 sign".
        step: &'static str,
        /// Index of the batch item, when the step ran for one item.
        item: Option<usize>,
        /// The error from frost.
        #[source]
        source: frost::Error,
    },
}

impl ThresholdError {
    /// A frost error in `step`, for no particular batch item.
    pub(crate) fn frost(step: &'static str) -> impl FnOnce(frost::Error) -> Self {
        move |source| ThresholdError::Frost {
            step,
            item: None,
            source,
        }
    }
}

/// Shows an identifier as its number when it is one of the default
/// identifiers 1..=65535 (RFC 9591 §3.1), and as hex of its scalar otherwise.
pub fn display_identifier(id: &Identifier) -> String {
    let bytes = id.serialize();
    // Scalars are 32 bytes little-endian; a u16 identifier fits the first two.
    if bytes.len() >= 2 && bytes[2..].iter().all(|b| *b == 0) {
        u16::from_le_bytes([bytes[0], bytes[1]]).to_string()
    } else {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn display_identifiers(ids: &[Identifier]) -> String {
    ids.iter()
        .map(display_identifier)
        .collect::<Vec<_>>()
        .join(", ")
}

fn display_item(item: &Option<usize>) -> String {
    item.map(|i| format!(" for item {i}")).unwrap_or_default()
}
