//! A zone's published key set and the rollover steps recorded against it:
//! plain functions over the registry that the pipeline's requests
//! ([`super::run`]) and the rollover schedule ([`super::rollovers`]) both
//! use.

use std::collections::BTreeSet;

use crate::error::CoordinatorError;
use crate::keys::rollover::key_use::key_role;
use crate::keys::rollover::phases::{RollRole, Rollover};
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

/// A rollover whose first step was published but never recorded (the
/// coordinator stopped between the two): the published key set is exactly
/// what starting a rollover of one role, between two of its published keys,
/// publishes. Records that start as of the version's publication and
/// returns whether it did. Anything else that differs is left alone.
pub async fn record_unrecorded_start(c: &Coordinator, zone: &str, record: &crate::registry::ZoneStateRecord, rollovers: &[Rollover]) -> Result<bool, CoordinatorError> {
    let published = published_key_set(record);
    if crate::keys::zone_keys(&c.registry, zone, Some(&published.dnskey), rollovers)?.key_use.set == published {
        return Ok(false);
    }
    let groups = c.registry.key_groups(Some(zone))?;
    for role in [RollRole::Zsk, RollRole::Ksk, RollRole::Csk] {
        if rollovers.iter().any(|r| r.role == role && !r.is_done()) {
            continue;
        }
        let of_role: Vec<u16> = groups
            .iter()
            .filter(|g| g.retired_unix.is_none() && published.dnskey.contains(&g.key_tag))
            .filter(|g| crate::keys::role_from_record(&g.role) == Some(key_role(role)))
            .map(|g| g.key_tag)
            .collect();
        let others = match role {
            RollRole::Zsk => published.signs_keys.clone(),
            RollRole::Ksk => published.signs_zone.clone(),
            RollRole::Csk => BTreeSet::new(),
        };
        for &old in &of_role {
            for &new in of_role.iter().filter(|n| **n != old) {
                let start = Rollover::start(role, others.clone(), old, new, record.published_unix);
                let mut after: Vec<Rollover> = rollovers.iter().filter(|r| r.role != role).cloned().collect();
                after.push(start);
                if crate::keys::zone_keys(&c.registry, zone, Some(&published.dnskey), &after)?.key_use.set == published {
                    tracing::warn!(
                        "{zone}: the published zone shows the start of a {role} rollover from key tag {old} to {new} that was never recorded \
                         (a stop between its publication and its record); recording it"
                    );
                    record_step(c, zone, rollovers, &after, record.published_unix).await?;
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}
