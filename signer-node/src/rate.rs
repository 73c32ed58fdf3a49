//! The signer's rate limit: signatures made per sliding hour
//! (`max_signatures_per_hour` in the policy file). Pure logic over
//! caller-supplied instants.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The window the limit applies to.
pub const RATE_WINDOW: Duration = Duration::from_secs(3600);

/// A sliding window of signature counts.
#[derive(Debug)]
pub struct RateWindow {
    limit: u64,
    used: u64,
    events: VecDeque<(Instant, u64)>,
}

/// The batch would exceed the limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rate limit: {used} signatures in the last hour, {asked} more asked, the policy allows {limit} per hour")]
pub struct RateLimited {
    /// Signatures made in the window.
    pub used: u64,
    /// Signatures asked for.
    pub asked: u64,
    /// The limit.
    pub limit: u64,
}

impl RateWindow {
    /// A window allowing `limit` signatures per hour; 0 means no limit.
    pub fn new(limit: u64) -> Self {
        RateWindow { limit, used: 0, events: VecDeque::new() }
    }

    /// Takes `n` signatures from the window at `now`, or refuses and takes
    /// nothing.
    pub fn take(&mut self, n: u64, now: Instant) -> Result<(), RateLimited> {
        if self.limit == 0 {
            return Ok(());
        }
        while let Some(&(at, count)) = self.events.front() {
            if now.saturating_duration_since(at) < RATE_WINDOW {
                break;
            }
            self.used -= count;
            self.events.pop_front();
        }
        if self.used + n > self.limit {
            return Err(RateLimited { used: self.used, asked: n, limit: self.limit });
        }
        self.used += n;
        self.events.push_back((now, n));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_slides_with_the_hour() {
        let t0 = Instant::now();
        let mut w = RateWindow::new(10);
        w.take(6, t0).unwrap();
        w.take(4, t0 + Duration::from_secs(60)).unwrap();
        let e = w.take(1, t0 + Duration::from_secs(120)).unwrap_err();
        assert_eq!((e.used, e.asked, e.limit), (10, 1, 10));
        // The first 6 leave the window an hour later; the refused one took nothing.
        w.take(6, t0 + RATE_WINDOW).unwrap();
        assert!(w.take(1, t0 + RATE_WINDOW).is_err());
        let mut unlimited = RateWindow::new(0);
        unlimited.take(u64::MAX / 2, t0).unwrap();
        unlimited.take(u64::MAX / 2, t0).unwrap();
    }
}
