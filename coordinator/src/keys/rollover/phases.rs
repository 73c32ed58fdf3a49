//! A rollover as a state machine (no I/O, no clock of its own): from its
//! persisted phase, the time and what the parent's name servers answer,
//! [`Rollover::step`] decides the next phase, and [`Rollover::key_set`]
//! what the zone publishes in it. A step taken twice changes nothing, and
//! a coordinator that stops anywhere resumes from the persisted phase.
//!
//! The methods (RFC 7583 §3):
//!
//! * ZSK, pre-publication (§3.2.1): the new DNSKEY is published; after
//!   Ipub the new key signs the zone instead of the old one; after Iret
//!   the old DNSKEY goes.
//! * KSK, double-KSK (§3.3.2): the new DNSKEY is published and signs the
//!   DNSKEY RRset beside the old one; after Ipub the CDS and CDNSKEY ask
//!   the parent for the new DS (RFC 7344, RFC 8078); once every parent
//!   server shows exactly that DS set, and IretP later, the old key goes.
//! * CSK (double-KSK for the DNSKEY RRset, pre-publication for the data):
//!   the new DNSKEY is published; after Ipub it signs the zone, both keys
//!   sign the DNSKEY RRset and the CDS asks for the new DS; the old key
//!   goes once the parent's DS is the new one for IretP and no data
//!   signature by the old key can be cached (Iret).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::timing::RolloverTimings;
use super::views::KeySet;

/// The role of the keys rolled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RollRole {
    /// Zone signing key.
    Zsk,
    /// Key signing key (its DS is at the parent).
    Ksk,
    /// Combined signing key.
    Csk,
}

/// Where a rollover stands; every phase records when it began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case", deny_unknown_fields)]
pub enum Phase {
    /// The new DNSKEY is published (and, for a KSK, signs the DNSKEY
    /// RRset); waiting for it to be in every cache.
    Published {
        /// Since (seconds).
        since: u64,
    },
    /// The new key does its job (signs the zone; for a KSK or CSK the CDS
    /// asks the parent for its DS); waiting for the parent's DS to show
    /// it (KSK, CSK) or for the old signatures to leave caches (ZSK).
    Active {
        /// Since (seconds).
        since: u64,
    },
    /// Every parent server shows the new DS set; waiting for the old one
    /// to leave caches (KSK, CSK).
    DsSeen {
        /// When the new key became active.
        active_since: u64,
        /// When the new DS was first seen on every parent server.
        since: u64,
    },
    /// The old key is gone.
    Done {
        /// Since (seconds).
        since: u64,
    },
}

impl Phase {
    /// Its place in the order of phases.
    pub fn rank(&self) -> u8 {
        match self {
            Phase::Published { .. } => 0,
            Phase::Active { .. } => 1,
            Phase::DsSeen { .. } => 2,
            Phase::Done { .. } => 3,
        }
    }
}

/// What the parent's name servers answer for the zone's DS set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParentView {
    /// The DS set (by key tag) every configured parent server answers
    /// alike; `None` when they disagree or could not be asked.
    pub ds_on_every_server: Option<BTreeSet<u16>>,
}

/// Why a rollover is not moving now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// For caches to expire, until this moment.
    Until(u64),
    /// For the parent to publish this DS set on every server (no moment
    /// can be known; the parent is asked again on a schedule, or the
    /// operator confirms with `keys ds-seen`).
    ParentDs(BTreeSet<u16>),
    /// Nothing: the rollover is done.
    Nothing,
}

/// One rollover of one role in one zone: what is persisted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollover {
    /// The role rolled.
    pub role: RollRole,
    /// The keys of the other role that stay (the KSK in a ZSK rollover,
    /// the ZSKs in a KSK rollover; none for a CSK).
    pub others: BTreeSet<u16>,
    /// The key going.
    pub old: u16,
    /// The key coming.
    pub new: u16,
    /// Where it stands.
    pub phase: Phase,
    /// An operator confirmed with `keys ds-seen` that the parent publishes
    /// the new DS, where the parent's servers cannot be asked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ds_confirmed: bool,
}

impl std::fmt::Display for RollRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RollRole::Zsk => "ZSK",
            RollRole::Ksk => "KSK",
            RollRole::Csk => "CSK",
        })
    }
}

impl Rollover {
    /// A rollover of `role` from `old` to `new` that publishes the new
    /// DNSKEY at `now`. `others` are the keys of the other role.
    pub fn start(role: RollRole, others: BTreeSet<u16>, old: u16, new: u16, now: u64) -> Rollover {
        Rollover { role, others, old, new, phase: Phase::Published { since: now }, ds_confirmed: false }
    }

    /// When the current phase began.
    pub fn since(&self) -> u64 {
        match self.phase {
            Phase::Published { since } | Phase::Active { since } | Phase::DsSeen { since, .. } | Phase::Done { since } => since,
        }
    }

    /// The same phase, begun at `at`: a phase's waits count from when the
    /// version that shows it was published, not from when it was decided.
    pub fn restamped(mut self, at: u64) -> Rollover {
        self.phase = match self.phase {
            Phase::Published { .. } => Phase::Published { since: at },
            Phase::Active { .. } => Phase::Active { since: at },
            Phase::DsSeen { active_since, .. } => Phase::DsSeen { active_since, since: at },
            Phase::Done { .. } => Phase::Done { since: at },
        };
        self
    }

    /// `ZSK rollover 2→3: new key active`: the step its current phase is,
    /// for logs, the audit log and the signers' operators.
    pub fn describe(&self) -> String {
        let what = match (self.phase, self.role) {
            (Phase::Published { .. }, RollRole::Zsk) => "new key published, the old one still signs",
            (Phase::Published { .. }, _) => "new key published and signing the key set, the parent's DS unchanged",
            (Phase::Active { .. }, RollRole::Zsk) => "new key signs the zone, the old one stays published",
            (Phase::Active { .. }, _) => "new key active, CDS/CDNSKEY ask the parent for its DS",
            (Phase::DsSeen { .. }, _) => "the parent shows the new DS, waiting for the old one to expire",
            (Phase::Done { .. }, _) => "old key removed",
        };
        format!("{} rollover {}→{}: {what}", self.role, self.old, self.new)
    }

    /// Whether the old key is gone.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done { .. })
    }

    /// What the zone publishes in the current phase.
    pub fn key_set(&self) -> KeySet {
        let (old, new) = (self.old, self.new);
        let both: BTreeSet<u16> = [old, new].into();
        let one = |k: u16| BTreeSet::from([k]);
        let others = self.others.clone();
        let with_others = |s: BTreeSet<u16>| s.union(&others).copied().collect::<BTreeSet<u16>>();
        let ended = matches!(self.phase, Phase::Done { .. });
        let published = matches!(self.phase, Phase::Published { .. });
        let dnskey = with_others(if ended { one(new) } else { both.clone() });
        match self.role {
            RollRole::Zsk => KeySet {
                dnskey,
                signs_keys: others.clone(),
                signs_zone: if published { one(old) } else { one(new) },
                cds: others,
            },
            RollRole::Ksk => KeySet {
                dnskey,
                signs_keys: if ended { one(new) } else { both },
                signs_zone: others,
                cds: if published { one(old) } else { one(new) },
            },
            RollRole::Csk => KeySet {
                dnskey,
                signs_keys: if published { one(old) } else if ended { one(new) } else { both },
                signs_zone: if published { one(old) } else { one(new) },
                cds: if published { one(old) } else { one(new) },
            },
        }
    }

    /// The phase after the current one at `now`, given what the parent
    /// answers, or what it waits for. Taking it changes nothing when the
    /// answer is to wait.
    pub fn next(&self, timings: &RolloverTimings, now: u64, parent: &ParentView) -> Result<Phase, Waiting> {
        let wanted_ds: BTreeSet<u16> = BTreeSet::from([self.new]);
        match (self.phase, self.role) {
            (Phase::Published { since }, _) => {
                let ready = since + timings.publish_interval();
                if now >= ready {
                    Ok(Phase::Active { since: now })
                } else {
                    Err(Waiting::Until(ready))
                }
            }
            (Phase::Active { since }, RollRole::Zsk) => {
                let gone = since + timings.retire_interval();
                if now >= gone {
                    Ok(Phase::Done { since: now })
                } else {
                    Err(Waiting::Until(gone))
                }
            }
            (Phase::Active { since }, RollRole::Ksk | RollRole::Csk) => {
                if self.ds_confirmed || parent.ds_on_every_server.as_ref() == Some(&wanted_ds) {
                    Ok(Phase::DsSeen { active_since: since, since: now })
                } else {
                    Err(Waiting::ParentDs(wanted_ds))
                }
            }
            (Phase::DsSeen { active_since, since }, role) => {
                let mut gone = since + timings.parent_interval();
                if role == RollRole::Csk {
                    gone = gone.max(active_since + timings.retire_interval());
                }
                if now >= gone {
                    Ok(Phase::Done { since: now })
                } else {
                    Err(Waiting::Until(gone))
                }
            }
            (Phase::Done { .. }, _) => Err(Waiting::Nothing),
        }
    }

    /// Takes every step due at `now`; returns what it waits for next.
    /// Idempotent: a second call at the same moment with the same answers
    /// changes nothing. `now` is when the version that shows the new phase
    /// is published: a phase's waits count from what the zone serves.
    pub fn step(&mut self, timings: &RolloverTimings, now: u64, parent: &ParentView) -> Waiting {
        loop {
            match self.next(timings, now, parent) {
                Ok(phase) => self.phase = phase,
                Err(waiting) => return waiting,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::views::{first_broken_view, Published};
    use super::*;
    use crate::keys::rollover::timing::TEST_TIMINGS;

    const T: RolloverTimings = TEST_TIMINGS;

    /// A parent that publishes what the CDS asks for `registration`
    /// seconds after it first sees it (on every server at once), and is
    /// asked every `poll` seconds.
    struct Parent {
        registration: u64,
        asked_since: Option<(BTreeSet<u16>, u64)>,
        published: Vec<Published<BTreeSet<u16>>>,
    }

    impl Parent {
        fn view(&mut self, cds: &BTreeSet<u16>, now: u64) -> ParentView {
            let current = self.published.last().map(|p| p.value.clone()).unwrap_or_default();
            if *cds != current {
                match &self.asked_since {
                    Some((asked, since)) if asked == cds => {
                        if now >= since + self.registration {
                            self.published.push(Published { at: now, value: cds.clone() });
                        }
                    }
                    _ => self.asked_since = Some((cds.clone(), now)),
                }
            }
            ParentView { ds_on_every_server: self.published.last().map(|p| p.value.clone()) }
        }
    }

    /// Runs a rollover on a simulated clock, a poll every `poll` seconds,
    /// each step taken twice; returns the zone's and the parent's
    /// timelines and when it finished.
    /// The zone's key sets over time, the parent's DS sets, the end.
    type Run = (Vec<Published<KeySet>>, Vec<Published<BTreeSet<u16>>>, u64);

    fn run(mut roll: Rollover, ksk: u16, poll: u64) -> Run {
        let before = Rollover { phase: Phase::Published { since: 0 }, ..roll.clone() };
        // What the zone published before the rollover: the old key alone.
        let mut initial = before.key_set();
        initial.dnskey.remove(&roll.new);
        initial.signs_keys.remove(&roll.new);
        let mut zone = vec![Published { at: 0, value: initial }];
        let mut parent = Parent { registration: 5400, asked_since: None, published: vec![Published { at: 0, value: BTreeSet::from([ksk]) }] };
        let start = match roll.phase {
            Phase::Published { since } => since,
            _ => unreachable!(),
        };
        let mut now = start;
        zone.push(Published { at: now, value: roll.key_set() });
        loop {
            let view = parent.view(&roll.key_set().cds, now);
            let waiting = roll.step(&T, now, &view);
            let again = roll.clone();
            assert_eq!(roll.step(&T, now, &view), waiting, "a second step at {now} waits the same");
            assert_eq!(roll, again, "a second step at {now} changes nothing");
            // The step's version goes out at the moment of the step.
            let keys = roll.key_set();
            if zone.last().map(|p| &p.value) != Some(&keys) {
                zone.push(Published { at: now, value: keys });
            }
            if waiting == Waiting::Nothing {
                return (zone, parent.published, now);
            }
            assert!(now < start + 30 * 86_400, "stuck: {waiting:?} in {:?}", roll.phase);
            now += poll;
        }
    }

    #[test]
    fn a_zsk_rollover_keeps_every_cached_view_valid() {
        let roll = Rollover::start(RollRole::Zsk, BTreeSet::from([1]), 2, 3, 100_000);
        let (zone, parent, done) = run(roll, 1, 60);
        assert_eq!(first_broken_view(&zone, &parent, &T), None, "{zone:#?}");
        assert_eq!(zone.len(), 4, "published, active, done: {zone:#?}");
        assert!(done >= 100_000 + T.publish_interval() + T.retire_interval());
        assert_eq!(zone.last().map(|p| p.value.dnskey.clone()), Some(BTreeSet::from([1, 3])));
    }

    #[test]
    fn a_ksk_rollover_waits_for_the_parent_and_keeps_every_view_valid() {
        let roll = Rollover::start(RollRole::Ksk, BTreeSet::from([2]), 1, 4, 100_000);
        let (zone, parent, done) = run(roll, 1, 600);
        assert_eq!(first_broken_view(&zone, &parent, &T), None, "{zone:#?}\n{parent:#?}");
        let ds_changed = parent.last().map(|p| p.at).unwrap_or_default();
        assert!(ds_changed > 100_000 && done >= ds_changed + T.parent_interval(), "{parent:?} {done}");
        assert_eq!(parent.last().map(|p| p.value.clone()), Some(BTreeSet::from([4])));
        let last = &zone.last().expect("a timeline").value;
        assert_eq!((last.dnskey.clone(), last.signs_keys.clone()), (BTreeSet::from([2, 4]), BTreeSet::from([4])));
    }

    #[test]
    fn a_csk_rollover_keeps_every_cached_view_valid() {
        let roll = Rollover::start(RollRole::Csk, BTreeSet::new(), 1, 5, 100_000);
        let (zone, parent, done) = run(roll, 1, 600);
        assert_eq!(first_broken_view(&zone, &parent, &T), None, "{zone:#?}\n{parent:#?}");
        assert!(done >= 100_000 + T.publish_interval() + T.retire_interval());
        let last = &zone.last().expect("a timeline").value;
        assert_eq!((last.dnskey.clone(), last.signs_zone.clone()), (BTreeSet::from([5]), BTreeSet::from([5])));
    }

    #[test]
    fn a_ksk_rollover_never_moves_on_a_ds_set_the_servers_disagree_on() {
        let mut roll = Rollover::start(RollRole::Ksk, BTreeSet::from([2]), 1, 4, 0);
        assert_eq!(roll.step(&T, T.publish_interval(), &ParentView::default()), Waiting::ParentDs(BTreeSet::from([4])));
        let both = ParentView { ds_on_every_server: Some(BTreeSet::from([1, 4])) };
        assert_eq!(roll.step(&T, 10 * 86_400, &both), Waiting::ParentDs(BTreeSet::from([4])));
        assert!(matches!(roll.phase, Phase::Active { .. }));
    }

    #[test]
    fn a_rollover_resumes_from_its_persisted_phase() {
        // A coordinator killed after publishing the new ZSK resumes days
        // later: the step it takes is the one due, once.
        let mut roll = Rollover::start(RollRole::Zsk, BTreeSet::from([1]), 2, 3, 0);
        let persisted = roll.clone();
        assert_eq!(roll.step(&T, 60, &ParentView::default()), Waiting::Until(T.publish_interval()));
        assert_eq!(roll, persisted);
        let mut resumed = persisted;
        let later = 3 * 86_400;
        assert_eq!(resumed.step(&T, later, &ParentView::default()), Waiting::Until(later + T.retire_interval()));
        assert_eq!(resumed.phase, Phase::Active { since: later });
    }
}
