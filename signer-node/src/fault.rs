//! Fault injection, **for the integration tests only**.
//!
//! With `FROSTZONE_FAULT_CORRUPT_SHARES=1` in its environment at start, a
//! signer logs a loud warning and then returns, for every item it signs, a
//! share made over a different message than the one committed (the rebuilt
//! signed data with one octet appended). Such a share is well-formed but
//! invalid, so the coordinator's aggregation must name this signer as the
//! culprit (RFC 9591 §5.4 Identifiable Abort) and retry without it. The
//! nonces are still used exactly once, so the key is not at risk.
//!
//! Never set this in production: such a signer never contributes a valid
//! signature share.

/// The environment variable that turns share corruption on.
pub const CORRUPT_SHARES_ENV: &str = "FROSTZONE_FAULT_CORRUPT_SHARES";

/// Faults this process was started with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Sign a different message than the committed one.
    pub corrupt_shares: bool,
}

impl Faults {
    /// Reads the fault switches from the environment.
    pub fn from_env() -> Faults {
        Faults {
            corrupt_shares: std::env::var(CORRUPT_SHARES_ENV).is_ok_and(|v| v == "1"),
        }
    }

    /// The messages to put into the signing packages: the committed ones,
    /// or corrupted copies when share corruption is on.
    pub fn messages(&self, committed: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        if !self.corrupt_shares {
            return committed;
        }
        committed
            .into_iter()
            .map(|mut m| {
                m.push(0xff);
                m
            })
            .collect()
    }
}
