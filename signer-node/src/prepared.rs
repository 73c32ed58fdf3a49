//! The baselines made ready ahead of their publication ([`crate::staging`]
//! does the work): which zone is being staged for which request, and the
//! replacements prepared, in memory only. Nothing here reads the store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::baseline::{BaselineState, Replacement};

/// How long a publication waits for its own request's staging to end
/// before it writes the baseline itself (the staging then stops).
pub const STAGING_WAIT: Duration = Duration::from_secs(60);

/// Most writes a prepared replacement may hold (a few MB): a re-sign of
/// mostly unchanged content needs far fewer; more is left to the
/// publication.
pub const PREPARED_WRITES_MAX: usize = 16_384;

/// Increments of fewer items are not prepared: their publication writes
/// little anyway, and a diff should not pay for a second thread.
pub const PREPARE_MIN_ITEMS: u64 = 1024;

/// The writes that make a request's content its zone's baseline, and the
/// baseline state they were worked out on.
#[derive(Debug)]
pub struct Prepared {
    /// The zone's state when its entries were read.
    pub base: Option<BaselineState>,
    /// What to write.
    pub replacement: Replacement,
}

/// Zone → the request being staged for it, and a signal when one ends;
/// request → its prepared replacement.
#[derive(Default)]
pub struct StagingTable {
    zones: Mutex<BTreeMap<String, String>>,
    ended: Condvar,
    prepared: Mutex<BTreeMap<String, Prepared>>,
    /// Set when the signer is stopping: staging ends at its next chunk.
    stopping: AtomicBool,
}

/// A zone registered as being staged; dropping it, whatever way staging
/// ends, takes the zone out and wakes the publications waiting for it.
pub struct Registration<'a> {
    table: &'a StagingTable,
    /// The zone.
    pub zone: String,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        lock(&self.table.zones).remove(&self.zone);
        self.table.ended.notify_all();
    }
}

/// The tables hold plain maps, consistent after any single update, so a
/// poisoned lock is taken over.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl StagingTable {
    /// Registers `zone` as being staged for request `id`, unless another
    /// request of the zone is.
    pub fn register(&self, zone: &str, id: &str) -> Option<Registration<'_>> {
        let mut zones = lock(&self.zones);
        if zones.contains_key(zone) {
            return None;
        }
        zones.insert(zone.to_string(), id.to_string());
        Some(Registration { table: self, zone: zone.to_string() })
    }

    /// Waits, up to `timeout`, until request `id` is not being staged for
    /// `zone`; false if it still is.
    pub fn wait(&self, zone: &str, id: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut zones = lock(&self.zones);
        while zones.get(zone).is_some_and(|staged| staged == id) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            zones = match self.ended.wait_timeout(zones, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }

    /// Whether a replacement is prepared for request `id`.
    pub fn is_prepared(&self, id: &str) -> bool {
        lock(&self.prepared).contains_key(id)
    }

    /// Keeps `prepared` for request `id`'s publication.
    pub fn keep(&self, id: &str, prepared: Prepared) {
        lock(&self.prepared).insert(id.to_string(), prepared);
    }

    /// Makes every staging stop at its next chunk, so that a stopping
    /// signer does not wait for a whole zone to be written.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Whether [`StagingTable::stop`] was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Takes the replacement prepared for request `id`, if any.
    pub fn take_prepared(&self, id: &str) -> Option<Prepared> {
        lock(&self.prepared).remove(id)
    }
}
