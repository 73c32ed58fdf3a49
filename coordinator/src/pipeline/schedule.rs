//! Re-signing before signatures expire (RFC 6781 §4.4.2).
//!
//! One task per published zone sleeps until the earliest refresh time of
//! its published signatures ([`frostzone_dnssec::signing::refresh::PreviousSignatures::next_due`] under the
//! zone's [`RefreshPolicy`]) and then submits a refresh request: the same
//! content, a new serial, the due signatures made again. The schedule
//! follows from the published signatures alone, so it survives restarts.
//!
//! ```text
//!   sleeping ──due──▶ refreshing ──published──▶ sleeping (next due time)
//!      ▲                  │
//!      │               failed
//!      │                  ▼
//!      └──backoff── failing (ERROR logged and ZoneStatus.warning set once
//!                   expiry is closer than half the refresh margin)
//! ```
//!
//! A new publication of the zone, whatever its input, wakes the task to
//! compute the next due time again. The same task takes the zone's key
//! rollover steps when they are due ([`super::rollovers`]) and its share
//! refreshes ([`crate::keys::refresh::scheduled`]).

use std::sync::{Arc, Weak};
use std::time::Duration;

use frostzone_dnssec::time::format_timestamp;
use frostzone_dnssec::signing::refresh::RefreshPolicy;
use frostzone_proto::v1 as pb;

use super::input::Input;
use super::input::Submission;
use super::run;
use super::{rrsig_time_to_unix, BackgroundTask, Lane};
use crate::Coordinator;

/// First wait after a failed refresh; doubled after each failure.
pub const RETRY_FIRST: Duration = Duration::from_secs(60);

/// Longest wait between refresh attempts of a failing zone: an hour
/// keeps a quorum outage from flooding signers and logs, and is short
/// against the days of a refresh margin.
pub const RETRY_MAX: Duration = Duration::from_secs(3600);

/// Longest sleep without looking again (a zone with no signature due in a
/// day is looked at once a day).
pub const LONGEST_SLEEP: Duration = Duration::from_secs(86_400);

/// Who the refresh requests are submitted by, in the audit log.
pub const REFRESH_OPERATOR: &str = "refresh schedule";

/// `2 days 3 h`, `5 h 10 min`, `42 s`.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, h, _) => format!("1 day {h} h"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

/// The loud warning of a zone whose refreshes fail, or `None` while the
/// earliest signature expiration is still at least half the refresh
/// margin away.
pub fn expiry_warning(now: u64, earliest_expiration: u64, policy: &RefreshPolicy, failing_since: u64, reason: &str) -> Option<String> {
    let left = earliest_expiration.saturating_sub(now);
    if left >= u64::from(policy.refresh_before / 2) {
        return None;
    }
    let since = format_timestamp(failing_since as u32);
    if left == 0 {
        Some(format!("SIGNATURES EXPIRED: refresh failing since {since}: {reason}"))
    } else {
        Some(format!("SIGNATURES EXPIRE IN {}: refresh failing since {since}: {reason}", human_duration(left)))
    }
}

/// Starts the schedule of `zone`; it stops when the handle is dropped or
/// the coordinator is gone.
pub fn spawn(c: &Arc<Coordinator>, zone: &str) -> BackgroundTask {
    BackgroundTask(tokio::spawn(run(Arc::downgrade(c), c.pipeline.lane(zone), zone.to_string())))
}

/// Starts the schedule of every zone with a published version.
pub fn start_all(c: &Arc<Coordinator>) -> Result<(), crate::registry::RegistryError> {
    for state in c.registry.zone_states()? {
        let mut schedules = c.pipeline.schedules.lock().unwrap_or_else(|e| e.into_inner());
        if !schedules.contains_key(&state.zone) {
            schedules.insert(state.zone.clone(), spawn(c, &state.zone));
        }
    }
    Ok(())
}

async fn sleep_or_wake(lane: &Lane, wait: Duration) {
    tokio::select! {
        () = tokio::time::sleep(wait) => {}
        () = lane.wake.notified() => {}
    }
}

async fn run(c: Weak<Coordinator>, lane: Arc<Lane>, zone: String) {
    let mut retry = RETRY_FIRST;
    loop {
        // The times of the published version (loading it at the start).
        let (due, now, published) = {
            let Some(c) = c.upgrade() else { return };
            let now = c.pipeline.clock.now();
            let (apex, _) = match crate::keys::zone_name(&zone) {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!("{zone}: refresh schedule stopped: {e}");
                    return;
                }
            };
            let version = {
                let mut slot = lane.version.lock().await;
                super::loaded(&c, &mut slot, &zone, &apex).await
            };
            match version {
                Ok(Some(v)) => {
                    let at = |t: u32| rrsig_time_to_unix(t, now);
                    let (due, earliest) = (v.next_due.map(at), v.first_expiration.map(at));
                    lane.update_health(|h| {
                        h.next_refresh = due;
                        h.earliest_expiration = earliest;
                    });
                    (due, now, Some(v))
                }
                Ok(None) => (None, now, None),
                Err(e) => {
                    tracing::error!("{zone}: refresh schedule: cannot read the published version: {e}");
                    (Some(now + RETRY_MAX.as_secs()), now, None)
                }
            }
        };
        // Rollover steps first: a step re-signs what it must anyway.
        let rollover_due = match (published, c.upgrade()) {
            (Some(v), Some(c)) => {
                let step = match super::rollovers::advance(&c, &zone, &v).await {
                    Ok(look) => {
                        if let Some(problem) = &look.parent_problem {
                            tracing::warn!("{zone}: rollover waits for the parent's DS: {problem}");
                        }
                        look.next
                    }
                    Err(e) => {
                        tracing::warn!("{zone}: rollover step failed, retrying in {}: {e}", human_duration(RETRY_FIRST.as_secs()));
                        Some(now + RETRY_FIRST.as_secs())
                    }
                };
                // Rollovers and standbys the key lifetimes ask for, once no
                // step is due (a step just taken: look again first).
                let stepped = step.is_some_and(|t| t <= now);
                let scheduled = match if stepped { Ok(None) } else { crate::keys::life_cycle::scheduled(&c, &zone, &v).await } {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!("{zone}: scheduled rollover failed, retrying in {}: {e}", human_duration(RETRY_FIRST.as_secs()));
                        Some(now + RETRY_FIRST.as_secs())
                    }
                };
                // Share refreshes (and an interrupted one's commit) once
                // no rollover step is due.
                let refresh = match if stepped { Ok(None) } else { crate::keys::refresh::scheduled(&c, &zone).await } {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!("{zone}: share refresh failed, retrying in {}: {e}", human_duration(RETRY_FIRST.as_secs()));
                        Some(now + RETRY_FIRST.as_secs())
                    }
                };
                [step, scheduled, refresh].into_iter().flatten().min()
            }
            _ => None,
        };
        if rollover_due.is_some_and(|t| t <= now) {
            continue;
        }
        let wait = match due {
            Some(t) if t > now => Duration::from_secs(t - now).min(LONGEST_SLEEP),
            Some(_) => Duration::ZERO,
            None => LONGEST_SLEEP,
        };
        let wait = match rollover_due {
            Some(t) => wait.min(Duration::from_secs(t.saturating_sub(now))),
            None => wait,
        };
        if !wait.is_zero() {
            sleep_or_wake(&lane, wait).await;
            continue;
        }
        if due.is_none_or(|t| t > now) {
            continue;
        }
        let Some(coordinator) = c.upgrade() else { return };
        let options = pb::SignZoneOptions { zone: zone.clone(), ..Default::default() };
        let submission = Submission { operator: REFRESH_OPERATOR.into(), options, input: Input::Refresh };
        let result = run::run(&coordinator, submission, &|_| {}).await;
        match result {
            Ok(signed) => {
                tracing::info!(
                    "{zone}: refreshed to serial {}: {} signatures made, {} kept",
                    signed.serial,
                    signed.signatures_made,
                    signed.signatures_kept
                );
                retry = RETRY_FIRST;
            }
            Err(e) => {
                let now = coordinator.pipeline.clock.now();
                let health = lane.health();
                let since = health.failing_since.unwrap_or(now);
                let validity = coordinator.registry.zone_state(&zone).ok().flatten().map(|s| s.settings.validity_days).unwrap_or(14);
                let policy = coordinator.pipeline.refresh_policy(&zone, validity);
                let reason = e.to_string();
                let warning = health.earliest_expiration.and_then(|t| expiry_warning(now, t, &policy, since, &reason));
                match &warning {
                    Some(w) => tracing::error!("{zone}: {w}"),
                    None => tracing::warn!("{zone}: refresh failed, retrying in {}: {reason}", human_duration(retry.as_secs())),
                }
                lane.update_health(|h| {
                    h.failing_since = Some(since);
                    h.last_error = reason;
                    h.warning = warning.unwrap_or_default();
                });
                drop(coordinator);
                sleep_or_wake(&lane, retry).await;
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_is_loud_only_when_expiry_is_near() {
        let policy = RefreshPolicy { refresh_before: 5 * 86_400, jitter: 86_400, ..RefreshPolicy::default() };
        let now = 1_780_000_000;
        assert_eq!(expiry_warning(now, now + 3 * 86_400, &policy, now - 3600, "quorum unavailable"), None);
        let w = expiry_warning(now, now + 2 * 86_400 + 3 * 3600, &policy, 1_779_990_000, "quorum unavailable: 2 of 3").unwrap();
        assert_eq!(w, "SIGNATURES EXPIRE IN 2 days 3 h: refresh failing since 20260528174000: quorum unavailable: 2 of 3");
        let w = expiry_warning(now, now - 1, &policy, now, "x").unwrap();
        assert!(w.starts_with("SIGNATURES EXPIRED: "), "{w}");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(42), "42 s");
        assert_eq!(human_duration(600), "10 min");
        assert_eq!(human_duration(5 * 3600 + 600), "5 h 10 min");
        assert_eq!(human_duration(86_400 + 7200), "1 day 2 h");
    }
}
