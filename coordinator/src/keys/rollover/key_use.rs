//! What each key of a zone does in the version about to be signed: from
//! the zone's key groups, its running rollovers and what it published
//! last. Plain logic; [`crate::keys::zone_keys`] applies it.
//!
//! * A key in a running rollover does what its phase says
//!   ([`Rollover::key_set`]).
//! * A key the zone published before, outside any rollover, does what its
//!   role does.
//! * A new key whose role no published key plays yet (a zone's first
//!   keys, a ZSK added beside a CSK) starts at once, as in a zone's first
//!   signing.
//! * A new key whose role a published key already plays is a **standby**:
//!   made ahead of need, it is not published until a rollover brings it in
//!   (RFC 7583 §3.2.1: a ZSK is pre-published by a rollover, not by its
//!   generation).
//! * A retired key (the old key of a finished rollover) is never
//!   published again.

use std::collections::BTreeSet;

use frostzone_dnssec::keys::KeyRole;

use super::phases::{Phase, RollRole, Rollover};
use super::views::KeySet;

/// A key group as this module needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneKeyEntry {
    /// Its key tag.
    pub tag: u16,
    /// Its role.
    pub role: KeyRole,
    /// The old key of a finished rollover.
    pub retired: bool,
}

/// The key sets of the next version and whether a CDS/CDNSKEY must be
/// published for a rollover, whatever the zone's `publish_cds`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUse {
    /// Who is published and who signs what.
    pub set: KeySet,
    /// A KSK or CSK rollover asks the parent for the new DS (RFC 7344 §4).
    pub cds_required: bool,
    /// Keys made ahead of need, not published.
    pub standby: BTreeSet<u16>,
}

/// The role a rollover rolls, as a key role.
pub fn key_role(role: RollRole) -> KeyRole {
    match role {
        RollRole::Zsk => KeyRole::Zsk,
        RollRole::Ksk => KeyRole::Ksk,
        RollRole::Csk => KeyRole::Csk,
    }
}

/// The rollover role of a key role.
pub fn roll_role(role: KeyRole) -> RollRole {
    match role {
        KeyRole::Zsk => RollRole::Zsk,
        KeyRole::Ksk => RollRole::Ksk,
        KeyRole::Csk => RollRole::Csk,
    }
}

/// What each key does next. `rollovers` are the zone's latest of each
/// role (finished ones included: their old key is retired); `published`
/// the DNSKEY tags of the version published last (`None` before the
/// first).
pub fn key_use(keys: &[ZoneKeyEntry], rollovers: &[Rollover], published: Option<&BTreeSet<u16>>) -> KeyUse {
    let running: Vec<&Rollover> = rollovers.iter().filter(|r| !r.is_done()).collect();
    let retired: BTreeSet<u16> = keys
        .iter()
        .filter(|k| k.retired)
        .map(|k| k.tag)
        .chain(rollovers.iter().filter(|r| r.is_done()).map(|r| r.old))
        .collect();
    let rolling: BTreeSet<u16> = running.iter().flat_map(|r| [r.old, r.new]).collect();
    let live: Vec<&ZoneKeyEntry> = keys.iter().filter(|k| !retired.contains(&k.tag)).collect();
    let was_published = |tag: u16| published.is_some_and(|p| p.contains(&tag));
    // Roles a published key plays already (in a rollover or not).
    let played: BTreeSet<KeyRole> =
        live.iter().filter(|k| was_published(k.tag) || rolling.contains(&k.tag)).map(|k| k.role).collect();
    let mut out = KeyUse { set: KeySet::default(), cds_required: false, standby: BTreeSet::new() };
    for k in &live {
        if rolling.contains(&k.tag) {
            continue;
        }
        if !was_published(k.tag) && played.contains(&k.role) {
            out.standby.insert(k.tag);
            continue;
        }
        out.set.dnskey.insert(k.tag);
        if k.role.signs_keys() {
            out.set.signs_keys.insert(k.tag);
            out.set.cds.insert(k.tag);
        }
        if k.role.signs_zone() {
            out.set.signs_zone.insert(k.tag);
        }
    }
    for roll in running {
        let phase_set = roll.key_set();
        let own = [roll.old, roll.new];
        let mine = |s: &BTreeSet<u16>| s.iter().copied().filter(|t| own.contains(t)).collect::<Vec<u16>>();
        out.set.dnskey.extend(mine(&phase_set.dnskey));
        out.set.signs_keys.extend(mine(&phase_set.signs_keys));
        out.set.signs_zone.extend(mine(&phase_set.signs_zone));
        out.set.cds.extend(mine(&phase_set.cds));
        if roll.role != RollRole::Zsk && !matches!(roll.phase, Phase::Published { .. }) {
            out.cds_required = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::rollover::phases::ParentView;
    use crate::keys::rollover::timing::TEST_TIMINGS;

    fn entry(tag: u16, role: KeyRole) -> ZoneKeyEntry {
        ZoneKeyEntry { tag, role, retired: false }
    }

    fn set(tags: &[u16]) -> BTreeSet<u16> {
        tags.iter().copied().collect()
    }

    #[test]
    fn first_keys_start_at_once_and_later_ones_wait_as_standbys() {
        let keys = [entry(1, KeyRole::Ksk), entry(2, KeyRole::Zsk), entry(3, KeyRole::Zsk)];
        let first = key_use(&keys, &[], None);
        assert_eq!(first.set.dnskey, set(&[1, 2, 3]), "before the first publication every key starts");
        let later = key_use(&keys, &[], Some(&set(&[1, 2])));
        assert_eq!(later.set.dnskey, set(&[1, 2]));
        assert_eq!(later.standby, set(&[3]));
        assert_eq!((later.set.signs_keys.clone(), later.set.signs_zone.clone(), later.set.cds.clone()), (set(&[1]), set(&[2]), set(&[1])));
        assert!(!later.cds_required);
        // A ZSK beside a published CSK plays a role nobody plays yet.
        let csk = [entry(7, KeyRole::Csk), entry(8, KeyRole::Zsk)];
        assert_eq!(key_use(&csk, &[], Some(&set(&[7]))).set.dnskey, set(&[7, 8]));
    }

    #[test]
    fn a_rollover_decides_for_its_keys_and_its_old_key_never_returns() {
        let keys = [entry(1, KeyRole::Ksk), entry(2, KeyRole::Zsk), entry(3, KeyRole::Zsk)];
        let mut roll = Rollover::start(RollRole::Zsk, set(&[1]), 2, 3, 0);
        let published = key_use(&keys, std::slice::from_ref(&roll), Some(&set(&[1, 2])));
        assert_eq!((published.set.dnskey.clone(), published.set.signs_zone.clone()), (set(&[1, 2, 3]), set(&[2])));
        roll.step(&TEST_TIMINGS, 86_400, &ParentView::default());
        roll.step(&TEST_TIMINGS, 10 * 86_400, &ParentView::default());
        assert!(roll.is_done());
        let done = key_use(&keys, std::slice::from_ref(&roll), Some(&set(&[1, 2, 3])));
        assert_eq!((done.set.dnskey.clone(), done.set.signs_zone.clone()), (set(&[1, 3]), set(&[3])));
        // Retired in the registry, the old key stays out after the
        // rollover's record is replaced by the next one.
        let keys = [entry(1, KeyRole::Ksk), ZoneKeyEntry { retired: true, ..entry(2, KeyRole::Zsk) }, entry(3, KeyRole::Zsk)];
        let after = key_use(&keys, &[], Some(&set(&[1, 3])));
        assert_eq!(after.set.dnskey, set(&[1, 3]));
        assert!(after.standby.is_empty());
    }

    #[test]
    fn a_ksk_rollover_past_publication_asks_the_parent() {
        let keys = [entry(1, KeyRole::Ksk), entry(2, KeyRole::Zsk), entry(4, KeyRole::Ksk)];
        let mut roll = Rollover::start(RollRole::Ksk, set(&[2]), 1, 4, 0);
        assert!(!key_use(&keys, std::slice::from_ref(&roll), Some(&set(&[1, 2]))).cds_required);
        roll.step(&TEST_TIMINGS, TEST_TIMINGS.publish_interval(), &ParentView::default());
        let active = key_use(&keys, std::slice::from_ref(&roll), Some(&set(&[1, 2, 4])));
        assert!(active.cds_required);
        assert_eq!((active.set.signs_keys.clone(), active.set.cds.clone()), (set(&[1, 4]), set(&[4])));
    }
}
