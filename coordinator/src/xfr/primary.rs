//! Incoming zones: we are the secondary of a hidden primary ("bump in the
//! wire").
//!
//! A NOTIFY from the primary (RFC 1996 §4.7: "it should enter the state it
//! would if the zone's refresh timer had expired"), or a call to
//! [`PrimarySource::refresh`], queries the primary's SOA; when its serial
//! is newer than ours (RFC 1982), the zone is pulled: IXFR from our serial,
//! AXFR when we have no version yet or the primary answers IXFR with the
//! whole zone. Each result goes to the coordinator as a [`Transfer`] on a
//! channel; if it cannot be handed over, our serial stays where it was.
//!
//! Per zone, one refresh runs at a time; NOTIFYs arriving meanwhile are
//! folded into one more refresh after it (RFC 1996 §4.4: defer action on
//! a NOTIFY "until it has completed the transaction begun by the first").
//!
//! Without a NOTIFY, the SOA is checked again when the primary's REFRESH
//! timer runs out, and after a failure when its RETRY does (RFC 1034
//! §4.3.5), within the configured bounds ([`PrimarySource::start_timers`]).
//! A primary silent for longer than its EXPIRE is logged at ERROR on every
//! failed check: the signed zone stays published (it is still signed and
//! valid), but its content may be stale.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use domain::base::iana::OptRcode;
use domain::tsig::Key;
use frostzone_dnssec::change_set::{ChangeSet, ZoneContent};
use frostzone_dnssec::name::CanonicalName;
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::StoredName;
use tokio::sync::mpsc;

use super::client::{pull, Pulled, SoaTimers, TransferError};
use crate::config::transfer::PrimaryConfig;

/// A zone version received from the primary.
#[derive(Debug)]
pub struct Transfer {
    /// The zone.
    pub zone: StoredName,
    /// The primary it came from.
    pub primary: SocketAddr,
    /// The serial it brings the zone to.
    pub serial: u32,
    /// The content.
    pub incoming: Incoming,
}

/// What a transfer brought.
#[derive(Debug)]
pub enum Incoming {
    /// The whole unsigned zone (AXFR, or IXFR answered in full).
    Full(ZoneContent),
    /// Difference sequences from the serial we had (RFC 1995 §4), oldest
    /// first, to apply with [`ZoneContent::apply`].
    Changes(Vec<ChangeSet>),
}

/// How a refresh ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// The primary has nothing newer; its serial.
    UpToDate(u32),
    /// A transfer to this serial was handed to the coordinator.
    Transferred(u32),
}

/// Why a refresh failed; our serial is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// The zone is not in `primary.zones`.
    #[error("zone {zone} is not taken from the primary {primary}")]
    UnknownZone {
        /// The zone.
        zone: String,
        /// The primary.
        primary: SocketAddr,
    },
    /// The query or transfer failed.
    #[error(transparent)]
    Transfer(#[from] TransferError),
    /// Nobody takes transfers any more (the receiver was dropped).
    #[error("zone {zone} serial {serial} from {primary}: the coordinator no longer takes transfers")]
    Closed {
        /// The zone.
        zone: String,
        /// The serial received.
        serial: u32,
        /// The primary.
        primary: SocketAddr,
    },
    /// Building the zone content failed.
    #[error("zone {zone} serial {serial} from {primary}: {reason}")]
    Internal {
        /// The zone.
        zone: String,
        /// The serial received.
        serial: u32,
        /// The primary.
        primary: SocketAddr,
        /// Why.
        reason: String,
    },
}

/// Why a NOTIFY was refused (RFC 1996 §3.10: "If a slave receives a NOTIFY
/// request from a host that is not a known master for the zone containing
/// the QNAME, it should ignore the request and produce an error message in
/// its operations log").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyRefusal {
    /// Not from the primary's IP.
    #[error("not from the primary {0}")]
    NotThePrimary(SocketAddr),
    /// Not one of the zones taken from the primary.
    #[error("not a zone taken from the primary")]
    UnknownZone,
    /// Not signed with the primary's key.
    #[error("not signed with the primary's TSIG key")]
    WrongKey,
}

impl NotifyRefusal {
    /// The answer's RCODE.
    pub fn rcode(&self) -> OptRcode {
        match self {
            NotifyRefusal::UnknownZone => OptRcode::NOTAUTH,
            NotifyRefusal::NotThePrimary(_) | NotifyRefusal::WrongKey => OptRcode::REFUSED,
        }
    }
}

#[derive(Debug)]
struct ZoneSlot {
    apex: StoredName,
    serial: Mutex<Option<u32>>,
    /// Held for the duration of a refresh.
    running: tokio::sync::Mutex<()>,
    /// A refresh is waiting to run.
    queued: AtomicBool,
    /// When the SOA is checked next, and what the last check found.
    schedule: Mutex<RefreshSchedule>,
    /// Wakes the zone's timer when the schedule moved.
    moved: tokio::sync::Notify,
}

/// A zone's refresh timer (RFC 1034 §4.3.5).
#[derive(Clone, Copy, Debug)]
struct RefreshSchedule {
    next: Instant,
    /// The primary's SOA timers, once it answered.
    timers: Option<SoaTimers>,
    /// Since when the primary has not answered (`None`: it answered the
    /// last check).
    silent_since: Option<Instant>,
}

/// REFRESH and RETRY before the primary ever answered.
const UNKNOWN_TIMERS: SoaTimers = SoaTimers { serial: 0, refresh: 3600, retry: 600, expire: 1_209_600 };

/// How long until the next SOA check after one that `answered` (or not),
/// with the primary's `timers`, within `bounds` (seconds).
fn next_check(answered: bool, timers: Option<SoaTimers>, bounds: (u32, u32)) -> Duration {
    let t = timers.unwrap_or(UNKNOWN_TIMERS);
    let wait = if answered { t.refresh } else { t.retry };
    Duration::from_secs(u64::from(wait.clamp(bounds.0, bounds.1)))
}

impl ZoneSlot {
    fn next_due(&self) -> Instant {
        self.schedule.lock().unwrap_or_else(|e| e.into_inner()).next
    }

    /// Moves the timer after a check that succeeded (`ok`: REFRESH next)
    /// or not (RETRY next), in which the primary was `reached` or not;
    /// returns how long it has been silent beyond its EXPIRE, if it has.
    fn checked(&self, ok: bool, reached: bool, bounds: (u32, u32)) -> Option<(Duration, u32)> {
        let now = Instant::now();
        let mut s = self.schedule.lock().unwrap_or_else(|e| e.into_inner());
        if reached {
            s.silent_since = None;
        } else if s.silent_since.is_none() {
            s.silent_since = Some(now);
        }
        s.next = now + next_check(ok, s.timers, bounds);
        let expire = s.timers.unwrap_or(UNKNOWN_TIMERS).expire;
        let silent = s.silent_since.map(|since| now - since);
        drop(s);
        self.moved.notify_one();
        silent.filter(|silent| silent.as_secs() > u64::from(expire)).map(|silent| (silent, expire))
    }

    fn serial(&self) -> Option<u32> {
        // A poisoned lock still holds a whole Option<u32>.
        *self.serial.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_serial(&self, serial: Option<u32>) {
        *self.serial.lock().unwrap_or_else(|e| e.into_inner()) = serial;
    }
}

#[derive(Debug)]
struct Inner {
    config: PrimaryConfig,
    output: mpsc::Sender<Transfer>,
    zones: HashMap<CanonicalName, Arc<ZoneSlot>>,
}

/// The hidden primary and the zones taken from it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PrimarySource {
    inner: Arc<Inner>,
}

impl PrimarySource {
    /// Zones of `config`, none of which we have a version of yet; received
    /// versions go to `output`.
    pub fn new(config: PrimaryConfig, output: mpsc::Sender<Transfer>) -> PrimarySource {
        let zones = config
            .zones
            .iter()
            .map(|apex| {
                let slot = ZoneSlot {
                    apex: apex.clone(),
                    serial: Mutex::new(None),
                    running: tokio::sync::Mutex::new(()),
                    queued: AtomicBool::new(false),
                    schedule: Mutex::new(RefreshSchedule {
                        next: Instant::now() + Duration::from_secs(u64::from(config.refresh_bounds.1)),
                        timers: None,
                        silent_since: None,
                    }),
                    moved: tokio::sync::Notify::new(),
                };
                (CanonicalName(apex.clone()), Arc::new(slot))
            })
            .collect();
        PrimarySource { inner: Arc::new(Inner { config, output, zones }) }
    }

    /// The primary's address.
    pub fn address(&self) -> SocketAddr {
        self.inner.config.address
    }

    /// The serial of the primary's version we have (`None`: none, the next
    /// transfer is AXFR).
    pub fn serial(&self, apex: &StoredName) -> Option<u32> {
        self.slot(apex).and_then(|s| s.serial())
    }

    /// Tells which version of the primary's zone the coordinator has: at
    /// start-up from its stored state, or `None` after it could not apply
    /// a transfer, so that the next one is a whole zone. False for a zone
    /// not taken from the primary.
    pub fn set_serial(&self, apex: &StoredName, serial: Option<u32>) -> bool {
        self.slot(apex).map(|s| s.set_serial(serial)).is_some()
    }

    fn slot(&self, apex: &StoredName) -> Option<&Arc<ZoneSlot>> {
        self.inner.zones.get(&CanonicalName(apex.clone()))
    }

    /// Checks a NOTIFY (RFC 1996 §3.10) and, when it is the primary's,
    /// starts a refresh in the background (RFC 1996 §4.7).
    pub fn accept_notify(&self, apex: &StoredName, peer: SocketAddr, key: Option<&Key>) -> Result<(), NotifyRefusal> {
        let config = &self.inner.config;
        if peer.ip() != config.address.ip() {
            return Err(NotifyRefusal::NotThePrimary(config.address));
        }
        if let Some(wanted) = &config.tsig_key {
            if key.is_none_or(|k| k.name() != wanted.key.name()) {
                return Err(NotifyRefusal::WrongKey);
            }
        }
        if self.slot(apex).is_none() {
            return Err(NotifyRefusal::UnknownZone);
        }
        tracing::info!("NOTIFY for {} from the primary {peer}", FqdnDisplay(apex));
        self.refresh_in_background(apex);
        Ok(())
    }

    /// Queues a refresh of `apex` unless one is already waiting; failures
    /// are logged.
    pub fn refresh_in_background(&self, apex: &StoredName) {
        let Some(slot) = self.slot(apex) else { return };
        if slot.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let source = self.clone();
        let apex = apex.clone();
        tokio::spawn(async move {
            if let Err(e) = source.refresh(&apex).await {
                tracing::warn!("{e}");
            }
        });
    }

    /// Starts every zone's refresh timer: the SOA is checked again when the
    /// last check's REFRESH (after an answer) or RETRY (after none) runs out,
    /// within the configured bounds. The timers stop with the last clone of
    /// this source.
    pub fn start_timers(&self) {
        for slot in self.inner.zones.values() {
            let (weak, slot) = (Arc::downgrade(&self.inner), slot.clone());
            tokio::spawn(run_timer(weak, slot));
        }
    }

    /// Queries the primary's SOA and, when it is newer, pulls the zone and
    /// hands it to the coordinator; then sets the zone's next check
    /// (REFRESH after an answer, RETRY after none).
    pub async fn refresh(&self, apex: &StoredName) -> Result<Refreshed, RefreshError> {
        let result = self.refresh_once(apex).await;
        let Some(slot) = self.slot(apex) else { return result };
        // A failed SOA query means the primary was not reached; a failed
        // transfer or hand-over after it means it was.
        let reached = !matches!(&result, Err(RefreshError::Transfer(e)) if e.kind == "SOA query");
        if let Some((silent, expire)) = slot.checked(result.is_ok(), reached, self.inner.config.refresh_bounds) {
            tracing::error!(
                "zone {}: the primary {} has not answered for {} s, longer than its SOA EXPIRE ({expire} s): \
                 the signed zone is still published, but its content may be stale",
                FqdnDisplay(apex),
                self.inner.config.address,
                silent.as_secs()
            );
        }
        result
    }

    async fn refresh_once(&self, apex: &StoredName) -> Result<Refreshed, RefreshError> {
        let primary = self.inner.config.address;
        let zone = FqdnDisplay(apex).to_string();
        let slot = self.slot(apex).ok_or(RefreshError::UnknownZone { zone: zone.clone(), primary })?.clone();
        let _running = slot.running.lock().await;
        // From here a new NOTIFY queues one more refresh.
        slot.queued.store(false, Ordering::Release);
        let ours = slot.serial();
        let key = self.inner.config.tsig_key.as_ref().map(|k| k.key.clone());
        let (pulled, timers) = pull(primary, key, &slot.apex, ours).await?;
        slot.schedule.lock().unwrap_or_else(|e| e.into_inner()).timers = Some(timers);
        let (serial, incoming) = match pulled {
            Pulled::UpToDate { serial } => {
                tracing::debug!("zone {zone}: the primary {primary} has serial {serial}, nothing newer");
                return Ok(Refreshed::UpToDate(serial));
            }
            Pulled::Full { serial, records } => {
                let apex = slot.apex.clone();
                // Canonical RDATA of every record: CPU work, off the runtime.
                let content = tokio::task::spawn_blocking(move || ZoneContent::new(apex, records))
                    .await
                    .map_err(|e| RefreshError::Internal { zone: zone.clone(), serial, primary, reason: e.to_string() })?;
                tracing::info!("zone {zone}: received serial {serial} in full ({} records) from {primary}", content.len());
                (serial, Incoming::Full(content))
            }
            Pulled::Changes { serial, sets } => {
                tracing::info!(
                    "zone {zone}: received {} change sets from serial {} to {serial} from {primary}",
                    sets.len(),
                    ours.unwrap_or(0)
                );
                (serial, Incoming::Changes(sets))
            }
        };
        let transfer = Transfer { zone: slot.apex.clone(), primary, serial, incoming };
        // The serial moves on before the hand-over, so that a coordinator
        // that cannot apply the transfer and calls `set_serial(.., None)`
        // at once is not overwritten afterwards.
        slot.set_serial(Some(serial));
        if self.inner.output.send(transfer).await.is_err() {
            slot.set_serial(ours);
            return Err(RefreshError::Closed { zone, serial, primary });
        }
        Ok(Refreshed::Transferred(serial))
    }
}

/// One zone's refresh timer: sleeps until the next check is due (woken
/// when a NOTIFY-driven refresh moved it), then refreshes.
async fn run_timer(source: Weak<Inner>, slot: Arc<ZoneSlot>) {
    loop {
        let due = slot.next_due();
        tokio::select! {
            () = tokio::time::sleep_until(due.into()) => {}
            () = slot.moved.notified() => continue,
        }
        let Some(inner) = source.upgrade() else { return };
        if Instant::now() < slot.next_due() {
            continue;
        }
        tracing::debug!("zone {}: refresh timer ran out; checking the primary's SOA", FqdnDisplay(&slot.apex));
        if let Err(e) = (PrimarySource { inner }).refresh(&slot.apex).await {
            tracing::warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_check_follows_refresh_after_an_answer_and_retry_after_none_within_bounds() {
        let t = SoaTimers { serial: 7, refresh: 7200, retry: 900, expire: 1_209_600 };
        assert_eq!(next_check(true, Some(t), (60, 86_400)), Duration::from_secs(7200));
        assert_eq!(next_check(false, Some(t), (60, 86_400)), Duration::from_secs(900));
        assert_eq!(next_check(true, Some(t), (60, 3600)), Duration::from_secs(3600), "REFRESH above the longest wait");
        let eager = SoaTimers { refresh: 5, retry: 1, ..t };
        assert_eq!(next_check(false, Some(eager), (60, 86_400)), Duration::from_secs(60), "RETRY below the shortest wait");
        assert_eq!(next_check(false, None, (60, 86_400)), Duration::from_secs(600), "never answered");
    }
}
