//! The coordinator as a stage of the zone pipeline.
//!
//! ```text
//!  SignZone (whole zone) ──┐
//!  SubmitChanges (IXFR) ───┤                       per zone, one request at a time
//!  refresh schedule ───────┼─▶ next unsigned ─▶ plan (incremental) ─▶ propose ─▶ approved ─▶ sign
//!  hidden primary (AXFR, ──┘   version, serial   keep unchanged        full or      quorum    batches
//!    IXFR on NOTIFY)           by policy         RRsets' signatures    incremental  of each
//!                                                                      per signer   key group
//!        ┌──────────────────────────────────────────────────────────────────────────────┘
//!        ▼
//!  complete ─▶ signed change set ─▶ read back, apply to ─▶ validate ─▶ registry (one ─▶ files, on_publish,
//!              (RFC 1995 §4)        the published zone     (crypto     transaction)    AXFR/IXFR + NOTIFY,
//!                                                          for new                     answer, signers told
//!                                                          signatures)
//! ```
//!
//! * [`submit`]: a request's way in (run, then the zone's refresh
//!   schedule);
//! * [`input`]: from a whole zone, change sets or a refresh to the next
//!   unsigned version and its serial;
//! * [`run`]: one request from input to publication (proposals and the
//!   wait for approval are [`crate::approval`]'s, signing
//!   [`crate::signing`]'s);
//! * [`validate`]: the signed change set, read back and validated;
//! * [`publication`]: what a publication writes (snapshot or journal
//!   entry) and the digest signers are told (no I/O);
//! * [`outputs`]: files and the `on_publish` command;
//! * [`schedule`]: re-signing before signatures expire;
//! * [`transfers`]: the hidden primary's transfers in, the transfer
//!   server out;
//! * [`stages`]: wall time per step, for the log;
//! * [`whole_zone`]: the warning for a request that signs the zone whole
//!   again, with its cause.
//!
//! A zone's settings (`[[zones]]` in the config) are [`crate::config::zone`].
//!
//! The published version of each zone is kept in memory ([`Version`])
//! and in the registry ([`crate::registry::zone_state`]), from which it is
//! rebuilt at the first request after a start.

pub mod input;
pub mod key_steps;
pub mod outputs;
pub mod parent;
pub mod publication;
pub mod validate;
pub mod rollovers;
pub mod run;
pub mod schedule;
pub mod transfers;
pub mod stages;
pub mod submit;
pub mod whole_zone;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use frostzone_dnssec::change_set::{ChangeSet, ZoneContent};
use frostzone_dnssec::zone_patch::ZonePatch;
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::signing::refresh::RefreshPolicy;
use frostzone_dnssec::validate::VerifiedSignatures;
use frostzone_dnssec::signing::SharedZone;
use frostzone_dnssec::zone::{InputKind, Zone, ZoneBuilder};
use frostzone_dnssec::StoredName;

use crate::error::{join_error, CoordinatorError};
use crate::registry::{Registry, RegistryError, ZoneStateRecord};
use crate::xfr::{PrimarySource, TransferServer};
use crate::config::zone::{effective_refresh, ZoneConfig};

/// Change sets published at most between two snapshots of a zone's
/// texts: a restart replays at most this many journal entries. A snapshot
/// is usually written sooner, once the journal holds an eighth of the
/// texts' size ([`publication::JOURNAL_SHARE_OF_TEXTS`]).
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 65_536;

/// The time the pipeline works with: the system clock, plus an offset
/// that tests move forward to reach refresh times.
#[derive(Debug, Default)]
pub struct Clock {
    offset: AtomicI64,
}

impl Clock {
    /// Seconds since the epoch.
    pub fn now(&self) -> u64 {
        crate::unix_now().saturating_add_signed(self.offset.load(Ordering::Relaxed))
    }

    /// Moves the clock `secs` forward (tests).
    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::Relaxed);
    }
}

/// The published version of a zone, in memory.
#[derive(Debug)]
pub struct Version {
    /// As recorded.
    pub record: ZoneStateRecord,
    /// The unsigned content, with the published serial.
    pub unsigned: ZoneContent,
    /// The signed zone as published. The next version's plan reads it;
    /// a patch is applied to it in place when the next version is
    /// published (requests of a zone run one at a time, in its lane).
    pub zone: SharedZone,
    /// Signatures verified, for incremental validation.
    pub known: VerifiedSignatures,
    /// When the first signature is due for refresh (RRSIG time).
    pub next_due: Option<u32>,
    /// The earliest expiration of a signature (RRSIG time).
    pub first_expiration: Option<u32>,
}

impl Version {
    /// Reads the published version of `zone` from the registry (CPU and
    /// disk: call on the blocking pool). Its signatures are verified
    /// again by the next release.
    pub fn load(registry: &Registry, zone: &str, apex: &StoredName, refresh: &RefreshPolicy, now: u32) -> Result<Option<Version>, CoordinatorError> {
        let Some((record, unsigned, zone_model)) = read_published(registry, zone, apex)? else { return Ok(None) };
        let times = refresh.signature_times(&zone_model, now);
        Ok(Some(Version {
            record,
            unsigned,
            zone: Arc::new(RwLock::new(zone_model)),
            known: VerifiedSignatures::default(),
            next_due: times.next_due,
            first_expiration: times.first_expiration,
        }))
    }

    /// Whether a signature is due for refresh at `now` (RRSIG time).
    pub fn refresh_due(&self, now: u32) -> bool {
        self.next_due.is_some_and(|due| (now.wrapping_sub(due) as i32) >= 0)
    }
}

/// The version of `zone` the registry holds: its stored texts with the
/// journal entries they do not hold applied, in order (CPU and disk: call
/// on the blocking pool). Returns the state, the unsigned content and the
/// signed zone.
pub fn read_published(registry: &Registry, zone: &str, apex: &StoredName) -> Result<Option<(ZoneStateRecord, ZoneContent, Zone)>, CoordinatorError> {
    let Some(record) = registry.zone_state(zone)? else { return Ok(None) };
    let (unsigned_text, signed_text) = registry.snapshot_texts(&record)?;
    let corrupt = |tree: &'static str, message: String| RegistryError::Corrupt { tree, key: zone.to_string(), message };
    let unsigned = load_zone_text(&unsigned_text, Path::new(&format!("{zone} (unsigned, registry)")), apex)
        .map_err(|e| corrupt("zone_unsigned", e.to_string()))?;
    let mut unsigned = ZoneContent::new(apex.clone(), unsigned);
    let mut zone_model = ZoneBuilder::from_text(apex.clone(), InputKind::Signed, signed_text, Path::new(&format!("{zone} (published, registry)")))
        .map_err(|e| corrupt("zone_signed", e.to_string()))?
        .finish()
        .map_err(|e| corrupt("zone_signed", e.to_string()))?;
    for (i, (unsigned_changes, signed_changes)) in registry.zone_pending_changes(&record)?.into_iter().enumerate() {
        let source = format!("{zone} (journal entry {}, registry)", record.snapshot_next() + i as u64);
        let read = |text: &str, tree: &'static str| {
            load_zone_text(text, Path::new(&source), apex)
                .map_err(|e| corrupt(tree, e.to_string()))
                .and_then(|records| ChangeSet::parse(records).map_err(|e| corrupt(tree, e.to_string())))
        };
        for set in read(&unsigned_changes, "zone_unsigned_journal")? {
            unsigned.apply(&set).map_err(|e| corrupt("zone_unsigned_journal", e.to_string()))?;
        }
        for set in read(&signed_changes, "zone_journal")? {
            let patch = ZonePatch::from_changes(&zone_model, &set).map_err(|e| corrupt("zone_journal", e.to_string()))?;
            zone_model.apply_patch(patch);
        }
    }
    Ok(Some((record, unsigned, zone_model)))
}

/// The signed text of the version of `zone` the registry holds (blocking
/// pool): the stored text, or, when journal entries follow it, the
/// version rebuilt and written out.
pub fn published_text(registry: &Registry, zone: &str, apex: &StoredName) -> Result<Option<(ZoneStateRecord, String)>, CoordinatorError> {
    let Some(record) = registry.zone_state(zone)? else { return Ok(None) };
    if record.snapshot_next() == record.journal_next {
        return Ok(registry.zone_signed_text(zone)?.map(|text| (record, text)));
    }
    Ok(read_published(registry, zone, apex)?.map(|(record, _, zone)| (record, frostzone_dnssec::present::zone_text(&zone))))
}

/// Where a zone's signatures stand, for Status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoneHealth {
    /// When the next refresh is due, seconds since the epoch.
    pub next_refresh: Option<u64>,
    /// The earliest expiration of a published signature.
    pub earliest_expiration: Option<u64>,
    /// Since when refreshes fail.
    pub failing_since: Option<u64>,
    /// The latest failure.
    pub last_error: String,
    /// Empty, or the loud warning of [`schedule::expiry_warning`].
    pub warning: String,
}

/// One zone's request lane: the published version (loaded at the first
/// use), requests one at a time, and its health.
#[derive(Debug, Default)]
pub struct Lane {
    /// `None` until loaded; then the published version, if any. Held for
    /// the whole of a request: requests of a zone queue here.
    pub(crate) version: tokio::sync::Mutex<Option<Option<Arc<Version>>>>,
    health: Mutex<ZoneHealth>,
    /// Wakes the zone's refresh schedule (a new version was published).
    wake: tokio::sync::Notify,
    /// The signers being told of the latest publication: the next request
    /// waits for it (briefly), so that the signers that acknowledged get
    /// an incremental proposal.
    announcement: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Lane {
    /// Its health now.
    pub fn health(&self) -> ZoneHealth {
        self.health.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// Waits up to `limit` for the signers to be told of the latest
    /// publication.
    pub(crate) async fn announced(&self, limit: std::time::Duration) {
        let pending = self.announcement.lock().ok().and_then(|mut a| a.take());
        if let Some(handle) = pending {
            let _ = tokio::time::timeout(limit, handle).await;
        }
    }

    fn update_health(&self, f: impl FnOnce(&mut ZoneHealth)) {
        if let Ok(mut h) = self.health.lock() {
            f(&mut h);
        }
    }
}

/// A background task that stops when dropped.
#[derive(Debug)]
pub struct BackgroundTask(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for BackgroundTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The pipeline's state shared by every request.
#[derive(Debug)]
pub struct Pipeline {
    configs: BTreeMap<String, ZoneConfig>,
    journal_limit: usize,
    snapshot_every: u64,
    lanes: Mutex<HashMap<String, Arc<Lane>>>,
    transfer: OnceLock<Arc<TransferServer>>,
    primary: OnceLock<PrimarySource>,
    schedules: Mutex<HashMap<String, BackgroundTask>>,
    /// The time requests and the schedule work with.
    pub clock: Clock,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new(Vec::new(), crate::config::transfer::DEFAULT_JOURNAL_LIMIT)
    }
}

impl Pipeline {
    /// A pipeline for the configured `zones`, keeping `journal_limit`
    /// change sets per zone.
    pub fn new(zones: Vec<ZoneConfig>, journal_limit: usize) -> Pipeline {
        Pipeline {
            configs: zones.into_iter().map(|z| (z.name.clone(), z)).collect(),
            journal_limit: journal_limit.max(1),
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            lanes: Mutex::new(HashMap::new()),
            transfer: OnceLock::new(),
            primary: OnceLock::new(),
            schedules: Mutex::new(HashMap::new()),
            clock: Clock::default(),
        }
    }

    /// The `[[zones]]` entry of `zone`.
    pub fn config(&self, zone: &str) -> Option<&ZoneConfig> {
        self.configs.get(zone)
    }

    /// Every configured zone.
    pub fn configs(&self) -> impl Iterator<Item = &ZoneConfig> {
        self.configs.values()
    }

    /// The lane of `zone`.
    pub fn lane(&self, zone: &str) -> Arc<Lane> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        lanes.entry(zone.to_string()).or_default().clone()
    }

    /// Publishes to secondaries through `server` from now on.
    pub fn set_transfer(&self, server: Arc<TransferServer>) {
        let _ = self.transfer.set(server);
    }

    /// The transfer server, when there is one.
    pub fn transfer(&self) -> Option<&Arc<TransferServer>> {
        self.transfer.get()
    }

    /// Takes zones from a hidden primary through `primary`.
    pub fn set_primary(&self, primary: PrimarySource) {
        let _ = self.primary.set(primary);
    }

    /// The hidden primary, when there is one.
    pub fn primary(&self) -> Option<&PrimarySource> {
        self.primary.get()
    }

    /// The refresh policy of `zone` for signatures of `validity_days`.
    pub fn refresh_policy(&self, zone: &str, validity_days: u32) -> RefreshPolicy {
        let configured = self.config(zone).map(|c| c.refresh).unwrap_or_default();
        effective_refresh(configured, validity_days)
    }

    /// Makes the refresh schedule of `zone` look at its due times again
    /// (after the clock moved).
    pub fn wake(&self, zone: &str) {
        self.lane(zone).wake.notify_one();
    }

    /// Change sets kept per zone.
    pub fn journal_limit(&self) -> usize {
        self.journal_limit
    }

    /// The same pipeline, writing a snapshot of a zone's texts at least
    /// every `n` change sets (tests; [`DEFAULT_SNAPSHOT_EVERY`] otherwise).
    pub fn with_snapshot_every(mut self, n: u64) -> Pipeline {
        self.snapshot_every = n.max(1);
        self
    }

    /// Change sets published at most between two snapshots of a zone's texts.
    pub fn snapshot_every(&self) -> u64 {
        self.snapshot_every
    }
}

/// The published version of `zone`, loaded into `slot` at the first use.
pub(crate) async fn loaded(
    c: &crate::Coordinator,
    slot: &mut Option<Option<Arc<Version>>>,
    zone: &str,
    apex: &StoredName,
) -> Result<Option<Arc<Version>>, CoordinatorError> {
    if let Some(v) = slot {
        return Ok(v.clone());
    }
    let (registry, z, a) = (c.registry.clone(), zone.to_string(), apex.clone());
    let validity = registry.zone_state(zone)?.map(|r| r.settings.validity_days).unwrap_or_default();
    let refresh = c.pipeline.refresh_policy(zone, validity);
    let now = c.pipeline.clock.now() as u32;
    let version =
        tokio::task::spawn_blocking(move || Version::load(&registry, &z, &a, &refresh, now)).await.map_err(join_error)??.map(Arc::new);
    *slot = Some(version.clone());
    Ok(version)
}

/// An RRSIG time (RFC 4034 §3.1.5, serial arithmetic) as seconds since
/// the epoch, taken as the nearest such time to `now`.
pub fn rrsig_time_to_unix(t: u32, now: u64) -> u64 {
    let delta = i64::from(t.wrapping_sub(now as u32) as i32);
    now.saturating_add_signed(delta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrsig_times_near_now() {
        let now = 1_780_000_000u64;
        assert_eq!(rrsig_time_to_unix(1_780_086_400, now), now + 86_400);
        assert_eq!(rrsig_time_to_unix(1_779_913_600, now), now - 86_400);
        // Past 2106 the 32-bit field wraps; the nearest time is still found.
        let later = u64::from(u32::MAX) + 10;
        assert_eq!(rrsig_time_to_unix(20, later), later + 11);
    }
}
