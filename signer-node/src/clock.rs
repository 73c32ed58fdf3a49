//! The time a call is decided at. The node reads no clock for its
//! decisions — RRSIG validity, request deadlines, the approval window,
//! session lifetimes, the rate limit — but is handed [`Now`] by its
//! caller: the gRPC and admin shells pass [`Now::current`], tests pass the
//! times they mean to check.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One instant on both clocks the node uses.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Wall-clock time: RRSIG validity (RFC 4034 §3.1.5) and the times
    /// request records keep, which other parties read.
    pub wall: SystemTime,
    /// Monotonic time: session lifetimes and the rate window, which must
    /// not move when the wall clock is set.
    pub instant: Instant,
}

impl Now {
    /// The current time on both clocks.
    pub fn current() -> Now {
        Now { wall: SystemTime::now(), instant: Instant::now() }
    }

    /// This instant `by` later on both clocks.
    pub fn later(self, by: Duration) -> Now {
        Now { wall: self.wall + by, instant: self.instant + by }
    }

    /// Unix seconds, for request records (64-bit, unlike RRSIG times).
    pub fn unix(&self) -> u64 {
        self.wall.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }

    /// Unix seconds as RRSIG times count them (RFC 4034 §3.1.5): 32 bits,
    /// serial arithmetic past 2106.
    pub fn serial(&self) -> u32 {
        self.unix() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_moves_both_clocks() {
        let now = Now { wall: UNIX_EPOCH + Duration::from_secs(1000), instant: Instant::now() };
        let then = now.later(Duration::from_secs(60));
        assert_eq!(then.unix(), 1060);
        assert_eq!(then.instant - now.instant, Duration::from_secs(60));
        let past_2106 = Now { wall: UNIX_EPOCH + Duration::from_secs((1 << 32) + 5), ..now };
        assert_eq!(past_2106.serial(), 5);
    }
}
