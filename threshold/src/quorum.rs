//! t-of-n parameters of a FROST group.

use std::fmt;

use crate::ThresholdError;

/// Validated t-of-n parameters: any `threshold` of the `signers` can sign.
///
/// RFC 9591 §3: `MIN_PARTICIPANTS` must be at least 2 and at most
/// `MAX_PARTICIPANTS`; identifiers are non-zero scalars, here the default
/// `1..=n`, so `n` fits a `u16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quorum {
    threshold: u16,
    signers: u16,
}

impl Quorum {
    /// Checks `2 <= threshold <= signers`.
    pub fn new(threshold: u16, signers: u16) -> Result<Self, ThresholdError> {
        if threshold < 2 || threshold > signers {
            return Err(ThresholdError::ThresholdParameters { threshold, signers });
        }
        Ok(Quorum { threshold, signers })
    }

    /// Number of signers needed for a signature (t, FROST's `min_signers`).
    pub fn threshold(&self) -> u16 {
        self.threshold
    }

    /// Number of signers holding a share (n, FROST's `max_signers`).
    pub fn signers(&self) -> u16 {
        self.signers
    }
}

impl fmt::Display for Quorum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-of-{}", self.threshold, self.signers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid() {
        let q = Quorum::new(3, 5).unwrap();
        assert_eq!((q.threshold(), q.signers()), (3, 5));
        assert_eq!(q.to_string(), "3-of-5");
        assert!(Quorum::new(2, 2).is_ok());
    }

    #[test]
    fn rejects_invalid() {
        for (t, n) in [(4, 3), (1, 5), (0, 5), (0, 0), (2, 0), (2, 1)] {
            match Quorum::new(t, n) {
                Err(ThresholdError::ThresholdParameters { threshold, signers }) => {
                    assert_eq!((threshold, signers), (t, n))
                }
                other => panic!("{t}-of-{n} accepted: {other:?}"),
            }
        }
    }
}
