//! Fault injection, **for the integration tests only**, and only in
//! builds with the `fault-injection` Cargo feature (the tests build with
//! it; release binaries never have it, so the switch below does not exist
//! in them and nothing in their environment can turn it on).
//!
//! With the feature and `FROSTZONE_FAULT_CORRUPT_SHARES=1` in its
//! environment at start, a signer logs a loud warning and then returns, for
//! every item it signs, a share made over a different message than the one
//! committed (the rebuilt signed data with one octet appended). Such a
//! share is well-formed but invalid, so the coordinator's aggregation must
//! name this signer as the culprit (RFC 9591 §5.4 Identifiable Abort) and
//! retry without it. The nonces are still used exactly once, so the key is
//! not at risk.

/// Faults this process was started with (none without the feature).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Sign a different message than the committed one.
    #[cfg(feature = "fault-injection")]
    pub corrupt_shares: bool,
    /// Answer every share refresh commit as unavailable (a signer that
    /// goes away between its confirmation and the commit).
    #[cfg(feature = "fault-injection")]
    pub refuse_refresh_commit: bool,
}

/// The environment variable that turns share corruption on.
#[cfg(feature = "fault-injection")]
pub const CORRUPT_SHARES_ENV: &str = "FROSTZONE_FAULT_CORRUPT_SHARES";

/// The environment variable that makes share refresh commits fail.
#[cfg(feature = "fault-injection")]
pub const REFUSE_REFRESH_COMMIT_ENV: &str = "FROSTZONE_FAULT_REFUSE_REFRESH_COMMIT";

impl Faults {
    /// Reads the fault switches from the environment (none exist without
    /// the feature).
    pub fn from_env() -> Faults {
        #[cfg(feature = "fault-injection")]
        {
            let corrupt_shares = std::env::var(CORRUPT_SHARES_ENV).is_ok_and(|v| v == "1");
            if corrupt_shares {
                tracing::warn!(
                    "!!! {CORRUPT_SHARES_ENV}=1: TEST FAULT INJECTION — this signer returns CORRUPT signature shares !!!"
                );
            }
            let refuse_refresh_commit = std::env::var(REFUSE_REFRESH_COMMIT_ENV).is_ok_and(|v| v == "1");
            if refuse_refresh_commit {
                tracing::warn!("!!! {REFUSE_REFRESH_COMMIT_ENV}=1: TEST FAULT INJECTION — this signer fails every share refresh commit !!!");
            }
            Faults { corrupt_shares, refuse_refresh_commit }
        }
        #[cfg(not(feature = "fault-injection"))]
        Faults {}
    }

    /// A test build's faults that corrupt every share.
    #[cfg(feature = "fault-injection")]
    pub fn corrupting() -> Faults {
        Faults { corrupt_shares: true, refuse_refresh_commit: false }
    }

    /// Whether share refresh commits fail.
    pub fn refuses_refresh_commit(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        return self.refuse_refresh_commit;
        #[cfg(not(feature = "fault-injection"))]
        false
    }

    /// Whether shares are corrupted.
    pub fn corrupts_shares(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        return self.corrupt_shares;
        #[cfg(not(feature = "fault-injection"))]
        false
    }

    /// The messages to put into the signing packages: the committed ones,
    /// or corrupted copies when share corruption is on.
    pub fn messages(&self, committed: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        if !self.corrupts_shares() {
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
