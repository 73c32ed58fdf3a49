//! Fault injection, **for the integration tests only**, and only in
//! builds with the `fault-injection` Cargo feature (the tests build with
//! it; release binaries never have it, so nothing in their environment can
//! turn it on).
//!
//! With the feature and `FROSTZONE_FAULT_KILL_BEFORE_STEP_RECORD=N` in its
//! environment, the coordinator sends itself SIGKILL right after the N-th
//! rollover step it publishes and before that step is recorded in the
//! registry: the crash a rollover must resume from by recognising the
//! step in the published zone.

/// The environment variable of [`kill_before_step_record`].
#[cfg(feature = "fault-injection")]
pub const KILL_BEFORE_STEP_RECORD_ENV: &str = "FROSTZONE_FAULT_KILL_BEFORE_STEP_RECORD";

/// Called between a rollover step's publication and its record.
pub fn kill_before_step_record() {
    #[cfg(feature = "fault-injection")]
    {
        use std::sync::atomic::{AtomicU32, Ordering};
        static STEPS: AtomicU32 = AtomicU32::new(0);
        let Some(n) = std::env::var(KILL_BEFORE_STEP_RECORD_ENV).ok().and_then(|v| v.parse::<u32>().ok()) else { return };
        if STEPS.fetch_add(1, Ordering::SeqCst) + 1 == n {
            tracing::error!("!!! {KILL_BEFORE_STEP_RECORD_ENV}={n}: TEST FAULT INJECTION — SIGKILL before the rollover step is recorded !!!");
            let _ = std::process::Command::new("kill").arg("-KILL").arg(std::process::id().to_string()).status();
            std::process::abort();
        }
    }
}
