//! Rollovers on a schedule (RFC 6781 §4.1.1, §4.1.2: keys are replaced
//! at the end of a lifetime the operator chooses, Knot's `zsk-lifetime`
//! and `ksk-lifetime`): when a role's key is due, and when its successor
//! must be made. Plain logic; [`crate::keys::life_cycle`] acts on it.
//!
//! The successor is made *ahead of need*: as soon as a role has an active
//! key with a lifetime and no standby, a standby is generated (a DKG every
//! signer approves). A DKG that gives a colliding key tag is run again
//! then, long before the key is due, so a collision never delays a roll.

use std::collections::BTreeSet;

/// What a role's schedule asks for now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LifetimeAction {
    /// Nothing until this moment (seconds), if any.
    Wait(Option<u64>),
    /// Make a standby key of the role.
    MakeStandby,
    /// Start a rollover from `old` to the standby `new`.
    Start {
        /// The key whose lifetime is over.
        old: u16,
        /// The standby that replaces it.
        new: u16,
    },
}

/// The action for one role: `lifetime` (seconds, 0: no schedule), the
/// role's active keys with when each became active, its standbys, and
/// whether a rollover of the role is running.
pub fn lifetime_action(lifetime: u64, active: &[(u16, u64)], standby: &BTreeSet<u16>, running: bool, now: u64) -> LifetimeAction {
    if lifetime == 0 || running {
        return LifetimeAction::Wait(None);
    }
    // One key per role is rolled; with several the operator decides.
    let [(old, since)] = active else { return LifetimeAction::Wait(None) };
    let Some(&new) = standby.iter().next() else { return LifetimeAction::MakeStandby };
    let due = since.saturating_add(lifetime);
    if now >= due {
        LifetimeAction::Start { old: *old, new }
    } else {
        LifetimeAction::Wait(Some(due))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standby_is_made_at_once_and_the_roll_starts_when_the_lifetime_ends() {
        let none = BTreeSet::new();
        assert_eq!(lifetime_action(0, &[(1, 0)], &none, false, 10), LifetimeAction::Wait(None));
        assert_eq!(lifetime_action(100, &[(1, 0)], &none, false, 10), LifetimeAction::MakeStandby);
        let standby = BTreeSet::from([2]);
        assert_eq!(lifetime_action(100, &[(1, 0)], &standby, false, 10), LifetimeAction::Wait(Some(100)));
        assert_eq!(lifetime_action(100, &[(1, 0)], &standby, false, 100), LifetimeAction::Start { old: 1, new: 2 });
        assert_eq!(lifetime_action(100, &[(1, 0)], &standby, true, 500), LifetimeAction::Wait(None));
        assert_eq!(lifetime_action(100, &[(1, 0), (3, 0)], &standby, false, 500), LifetimeAction::Wait(None));
    }
}
