//! Rollovers in the registry: at most one under way per zone and role
//! (a zone never runs two rollovers of one role at once), its phase
//! written whole and flushed at every step, so a coordinator stopped
//! anywhere resumes from the phase the zone shows.

use serde::{Deserialize, Serialize};

use super::{decode, encode, Registry, RegistryError, RECORD_VERSION};
use crate::keys::rollover::phases::{RollRole, Rollover};

/// A rollover as stored: versioned like every registry record.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RolloverRecord {
    version: u32,
    rollover: Rollover,
}

fn encoded(roll: &Rollover) -> Result<Vec<u8>, RegistryError> {
    encode("rollover", &RolloverRecord { version: RECORD_VERSION, rollover: roll.clone() })
}

fn decoded(key: &[u8], value: &[u8]) -> Result<Rollover, RegistryError> {
    decode::<RolloverRecord>("rollovers", key, value).map(|r| r.rollover)
}

fn rollover_key(zone: &str, role: RollRole) -> Vec<u8> {
    format!("{zone}\0{role}").into_bytes()
}

impl Registry {
    /// Records `roll` as the rollover of its role in `zone`, refused while
    /// another of that role is under way. Atomic: two starts racing for
    /// one role cannot both win.
    pub async fn start_rollover(&self, zone: &str, roll: &Rollover) -> Result<(), RegistryError> {
        let key = rollover_key(zone, roll.role);
        let new = encoded(roll)?;
        loop {
            let current = self.rollovers.get(&key)?;
            if let Some(bytes) = &current {
                let running = decoded(&key, bytes)?;
                if !running.is_done() {
                    return Err(RegistryError::RolloverRunning {
                        zone: zone.to_string(),
                        role: roll.role.to_string(),
                        keys: format!("key tag {} to {}", running.old, running.new),
                    });
                }
            }
            if self.rollovers.compare_and_swap(&key, current, Some(new.clone()))?.is_ok() {
                break;
            }
        }
        self.flush().await
    }

    /// Records the phase `roll` reached, and flushes.
    pub async fn save_rollover(&self, zone: &str, roll: &Rollover) -> Result<(), RegistryError> {
        self.rollovers.insert(rollover_key(zone, roll.role), encoded(roll)?)?;
        self.flush().await
    }

    /// The rollovers of `zone`, the last of each role, finished or not.
    pub fn rollovers(&self, zone: &str) -> Result<Vec<Rollover>, RegistryError> {
        self.rollovers
            .scan_prefix(format!("{zone}\0").as_bytes())
            .map(|kv| {
                let (k, v) = kv?;
                decoded(&k, &v)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::keys::rollover::phases::{ParentView, Phase};
    use crate::keys::rollover::timing::RolloverTimings;

    const T: RolloverTimings =
        RolloverTimings { dnskey_ttl: 60, max_zone_ttl: 60, ds_ttl: 60, propagation_delay: 0, parent_delay: 0, resign_delay: 0 };

    #[tokio::test]
    async fn one_rollover_per_role_and_its_phase_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let zsk = Rollover::start(RollRole::Zsk, BTreeSet::from([1]), 2, 3, 100);
        {
            let r = Registry::open(dir.path()).unwrap();
            r.start_rollover("example.", &zsk).await.unwrap();
            let again = Rollover::start(RollRole::Zsk, BTreeSet::from([1]), 2, 4, 200);
            let refused = r.start_rollover("example.", &again).await.unwrap_err();
            assert_eq!(refused.to_string(), "zone example. already runs a ZSK rollover (key tag 2 to 3): it must end first");
            // Another role, another zone: their own rollovers.
            r.start_rollover("example.", &Rollover::start(RollRole::Ksk, BTreeSet::from([2]), 1, 5, 100)).await.unwrap();
            r.start_rollover("example.org.", &again).await.unwrap();
            let mut stepped = zsk.clone();
            stepped.step(&T, 160, &ParentView::default());
            assert_eq!(stepped.phase, Phase::Active { since: 160 });
            r.save_rollover("example.", &stepped).await.unwrap();
        }
        let r = Registry::open(dir.path()).unwrap();
        let stored = r.rollovers("example.").unwrap();
        assert_eq!(stored.len(), 2);
        let zsk_now = stored.iter().find(|s| s.role == RollRole::Zsk).unwrap();
        assert_eq!(zsk_now.phase, Phase::Active { since: 160 });
        // Once done, the role is free again.
        let mut done = zsk_now.clone();
        done.step(&T, 1000, &ParentView::default());
        assert!(done.is_done());
        r.save_rollover("example.", &done).await.unwrap();
        r.start_rollover("example.", &Rollover::start(RollRole::Zsk, BTreeSet::from([1]), 3, 6, 2000)).await.unwrap();
    }
}
