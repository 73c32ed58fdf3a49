//! A zone's published key set and the rollover steps recorded against it:
//! plain functions over the registry that the pipeline's requests
//! ([`super::run`]) and the rollover schedule ([`super::rollovers`]) both
//! use.

use crate::error::CoordinatorError;
use crate::keys::rollover::phases::Rollover;
use crate::keys::rollover::views::KeySet;
use crate::registry::RegistryError;
use crate::Coordinator;

/// The key set a published version shows; for versions recorded before
/// rollovers, every key in its DNSKEY RRset doing its role's job is not
/// known, so only the DNSKEY tags are (which still tells a new key set).
pub fn published_key_set(record: &crate::registry::ZoneStateRecord) -> KeySet {
    record.key_set.clone().unwrap_or_else(|| KeySet { dnskey: record.key_tags.iter().copied().collect(), ..KeySet::default() })
}

/// A rollover step decided outside the lane must still follow what is
/// recorded: no other rollover of its role started meanwhile, and none of
/// its rollovers went back.
pub fn check_step(zone: &str, stored: &[Rollover], step: &[Rollover]) -> Result<(), CoordinatorError> {
    for roll in step {
        let Some(current) = stored.iter().find(|x| x.role == roll.role) else { continue };
        let same = (current.old, current.new) == (roll.old, roll.new);
        if !same && !current.is_done() {
            return Err(RegistryError::RolloverRunning {
                zone: zone.to_string(),
                role: roll.role.to_string(),
                keys: format!("key tag {} to {}", current.old, current.new),
            }
            .into());
        }
        if same && current.phase.rank() > roll.phase.rank() {
            return Err(CoordinatorError::FailedPrecondition(format!(
                "zone {zone}: {} is recorded already; the step decided before it is dropped",
                current.describe()
            )));
        }
    }
    Ok(())
}

/// The rollovers of `after` that differ from those of `before`.
pub fn changed<'a>(before: &'a [Rollover], after: &'a [Rollover]) -> impl Iterator<Item = &'a Rollover> {
    after.iter().filter(move |a| !before.contains(a))
}

/// Records the rollovers `after` a step published at `at` (each changed
/// phase restamped to begin then), retiring the old key of every rollover
/// that finished. Called under the zone's lane.
pub async fn record_step(c: &Coordinator, zone: &str, before: &[Rollover], after: &[Rollover], at: u64) -> Result<(), CoordinatorError> {
    let stored = c.registry.rollovers(zone)?;
    for roll in changed(before, after) {
        let current = stored.iter().find(|s| s.role == roll.role);
        let same = current.is_some_and(|s| (s.old, s.new) == (roll.old, roll.new));
        let mut roll = roll.clone().restamped(at);
        if same {
            // An operator's `ds-seen` meanwhile stays.
            roll.ds_confirmed |= current.is_some_and(|s| s.ds_confirmed);
            if roll.is_done() {
                c.registry.retire_key_group(zone, roll.old, at).await?;
            }
            c.registry.save_rollover(zone, &roll).await?;
        } else {
            // A new rollover (the role's last one, if any, finished):
            // refused should another of its role have started meanwhile.
            c.registry.start_rollover(zone, &roll).await?;
        }
        tracing::info!("{zone}: {}", roll.describe());
    }
    Ok(())
}
