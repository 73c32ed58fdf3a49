//! The in-memory session table: what a signer keeps between two requests
//! of one protocol run (signing nonces between Commit and Sign, DKG secrets
//! between its rounds, one-time import keys). Pure logic; time is passed in.
//!
//! ```text
//!            insert               take
//!   (none) ─────────► Pending ─────────► Used (tombstone) ──┐
//!                        │                                  │ expiry
//!                        └──────────── expiry ──────────────┴──► (none)
//! ```
//!
//! A session is taken once: [`SessionTable::take`] moves the value out and
//! leaves a tombstone, so a replayed second round finds nothing
//! ([`SessionError::Unknown`]) and a replayed first round finds the id in
//! use ([`SessionError::Exists`]). Multi-step runs (DKG) put the next
//! state back into their tombstone with [`SessionTable::restore`]. Values
//! are dropped, and so wiped if they wipe themselves, when they expire.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Why a session operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The id is pending or was used within the timeout.
    #[error("session id is already in use")]
    Exists,
    /// No pending session with this id (never made, used, or expired).
    #[error("unknown or already used session")]
    Unknown,
    /// Too many sessions are pending.
    #[error("too many pending sessions ({0}); retry later")]
    Full(usize),
}

enum Slot<T> {
    Pending(T),
    Used,
}

struct Entry<T> {
    slot: Slot<T>,
    expires: Instant,
}

/// Sessions keyed by their id, each living `timeout` from its last step.
pub struct SessionTable<T> {
    entries: HashMap<Vec<u8>, Entry<T>>,
    timeout: Duration,
    max_pending: usize,
}

impl<T> std::fmt::Debug for SessionTable<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTable")
            .field("entries", &self.entries.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<T> SessionTable<T> {
    /// An empty table.
    pub fn new(timeout: Duration, max_pending: usize) -> Self {
        SessionTable {
            entries: HashMap::new(),
            timeout,
            max_pending,
        }
    }

    /// Sessions holding a value.
    pub fn pending(&self) -> usize {
        self.entries
            .values()
            .filter(|e| matches!(e.slot, Slot::Pending(_)))
            .count()
    }

    /// Starts a session. Refuses an id that is pending or was used and
    /// has not expired yet.
    pub fn insert(&mut self, id: &[u8], value: T, now: Instant) -> Result<(), SessionError> {
        match self.entries.get(id) {
            Some(e) if e.expires > now => return Err(SessionError::Exists),
            _ => {}
        }
        if self.pending() >= self.max_pending {
            self.sweep(now);
            if self.pending() >= self.max_pending {
                return Err(SessionError::Full(self.max_pending));
            }
        }
        self.entries.insert(
            id.to_vec(),
            Entry {
                slot: Slot::Pending(value),
                expires: now + self.timeout,
            },
        );
        Ok(())
    }

    /// Takes a pending session's value, leaving a tombstone.
    pub fn take(&mut self, id: &[u8], now: Instant) -> Result<T, SessionError> {
        let entry = self.entries.get_mut(id).ok_or(SessionError::Unknown)?;
        if entry.expires <= now {
            self.entries.remove(id);
            return Err(SessionError::Unknown);
        }
        match std::mem::replace(&mut entry.slot, Slot::Used) {
            Slot::Pending(value) => Ok(value),
            Slot::Used => Err(SessionError::Unknown),
        }
    }

    /// Puts the next state of a multi-step session back where
    /// [`SessionTable::take`] left its tombstone, renewing its lifetime.
    pub fn restore(&mut self, id: &[u8], value: T, now: Instant) -> Result<(), SessionError> {
        match self.entries.get_mut(id) {
            Some(entry) if matches!(entry.slot, Slot::Used) => {
                *entry = Entry {
                    slot: Slot::Pending(value),
                    expires: now + self.timeout,
                };
                Ok(())
            }
            _ => Err(SessionError::Unknown),
        }
    }

    /// Drops (and so wipes) every pending value that `matches`, leaving a
    /// tombstone in its place; returns how many were dropped.
    pub fn drop_pending(&mut self, mut matches: impl FnMut(&T) -> bool) -> usize {
        let mut dropped = 0;
        for entry in self.entries.values_mut() {
            if matches!(&entry.slot, Slot::Pending(value) if matches(value)) {
                entry.slot = Slot::Used;
                dropped += 1;
            }
        }
        dropped
    }

    /// Drops every expired session and tombstone; returns how many pending
    /// values were dropped.
    pub fn sweep(&mut self, now: Instant) -> usize {
        let mut dropped = 0;
        self.entries.retain(|_, e| {
            let keep = e.expires > now;
            if !keep && matches!(e.slot, Slot::Pending(_)) {
                dropped += 1;
            }
            keep
        });
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn dropped_values_leave_tombstones_and_spare_the_others() {
        let t0 = Instant::now();
        let mut table = SessionTable::new(Duration::from_secs(60), 8);
        table.insert(b"a", "request-1", t0).unwrap();
        table.insert(b"b", "request-2", t0).unwrap();
        table.insert(b"c", "request-1", t0).unwrap();
        assert_eq!(table.drop_pending(|r| *r == "request-1"), 2);
        assert_eq!(table.pending(), 1);
        assert_eq!(table.take(b"a", t0), Err(SessionError::Unknown));
        assert_eq!(table.insert(b"c", "request-3", t0), Err(SessionError::Exists));
        assert_eq!(table.take(b"b", t0), Ok("request-2"));
    }
    use std::sync::Arc;

    const T: Duration = Duration::from_secs(10);

    #[test]
    fn take_once() {
        let now = Instant::now();
        let mut table = SessionTable::new(T, 8);
        table.insert(b"a", 1, now).unwrap();
        assert_eq!(table.insert(b"a", 2, now), Err(SessionError::Exists));
        assert_eq!(table.take(b"a", now), Ok(1));
        assert_eq!(table.take(b"a", now), Err(SessionError::Unknown));
        // A used id cannot start again while its tombstone lives.
        assert_eq!(table.insert(b"a", 3, now), Err(SessionError::Exists));
        assert_eq!(table.take(b"b", now), Err(SessionError::Unknown));
        assert_eq!(table.pending(), 0);
    }

    #[test]
    fn restore_only_into_a_tombstone() {
        let now = Instant::now();
        let mut table = SessionTable::new(T, 8);
        assert_eq!(table.restore(b"a", 1, now), Err(SessionError::Unknown));
        table.insert(b"a", 1, now).unwrap();
        assert_eq!(table.restore(b"a", 2, now), Err(SessionError::Unknown));
        assert_eq!(table.take(b"a", now), Ok(1));
        table.restore(b"a", 2, now + T / 2).unwrap();
        // Restoring renews the lifetime.
        assert_eq!(table.take(b"a", now + T), Ok(2));
    }

    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn expiry_drops_values() {
        let drops = Arc::new(AtomicUsize::new(0));
        let now = Instant::now();
        let mut table = SessionTable::new(T, 8);
        table.insert(b"a", Tracked(drops.clone()), now).unwrap();
        table
            .insert(b"b", Tracked(drops.clone()), now + T / 2)
            .unwrap();
        table.insert(b"c", Tracked(drops.clone()), now).unwrap();
        drop(table.take(b"c", now).unwrap());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        // Expired but not yet swept: refused all the same.
        assert!(matches!(
            table.take(b"a", now + T),
            Err(SessionError::Unknown)
        ));
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        assert_eq!(table.sweep(now + T + T / 2), 1);
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        assert_eq!(table.pending(), 0);
        // After expiry, the ids are free again.
        table
            .insert(b"c", Tracked(drops.clone()), now + T + T / 2)
            .unwrap();
    }

    #[test]
    fn full_table_refuses_until_swept() {
        let now = Instant::now();
        let mut table = SessionTable::new(T, 2);
        table.insert(b"a", 1, now).unwrap();
        table.insert(b"b", 2, now).unwrap();
        assert_eq!(table.insert(b"c", 3, now), Err(SessionError::Full(2)));
        table.insert(b"c", 3, now + T).unwrap();
    }
}
