//! A request's way in: run through the pipeline ([`super::run`]), then
//! the zone's refresh schedule ([`super::schedule`]) started if it does
//! not run yet, so every published zone is re-signed before it expires.

use std::sync::Arc;

use super::input::Submission;
use super::{run, schedule};
use crate::approval::wait::Progress;
use crate::error::CoordinatorError;
use crate::keys::zone_name;
use crate::Coordinator;

pub use super::run::PublishedVersion;

/// Runs `submission` through the pipeline, publishes the result and makes
/// sure the zone's refresh schedule runs.
pub async fn submit(c: &Arc<Coordinator>, submission: Submission, progress: &Progress) -> Result<PublishedVersion, CoordinatorError> {
    let (_, zone) = zone_name(&submission.options.zone)?;
    let published = run::run(c, submission, progress).await?;
    ensure_schedule(c, &zone);
    Ok(published)
}

/// Starts the refresh schedule of `zone` unless it runs.
fn ensure_schedule(c: &Arc<Coordinator>, zone: &str) {
    let mut schedules = c.pipeline.schedules.lock().unwrap_or_else(|e| e.into_inner());
    if !schedules.contains_key(zone) {
        schedules.insert(zone.to_string(), schedule::spawn(c, zone));
    }
}
