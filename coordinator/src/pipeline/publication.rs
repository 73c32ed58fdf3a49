//! What a publication writes, decided from the version before and the
//! validated result (no I/O): whether the stored texts are written again,
//! where the journal stands after it, and the digest the signers are told
//! was published.

use sha2::{Digest, Sha256};

use crate::registry::ZoneStateRecord;

/// Where the stored texts and the journal stand after a publication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalPosition {
    /// Whether the stored texts (unsigned and signed) are written again.
    pub snapshot: bool,
    /// The next journal entry's number.
    pub journal_next: u64,
    /// The first journal entry the stored texts do not hold.
    pub snapshot_next: u64,
}

/// Whether the stored texts are written again: for every whole version
/// (`!is_patch`), for the first one, and for a patch once the journal
/// since the last snapshot reaches `snapshot_every` entries. A patch
/// otherwise leaves them as they are: its change sets are journal
/// entries, applied to them when the zone is read back.
pub fn writes_snapshot(is_patch: bool, previous: Option<&ZoneStateRecord>, snapshot_every: u64) -> bool {
    !is_patch || previous.is_none_or(|r| r.journal_next.saturating_sub(r.snapshot_next()) + 1 >= snapshot_every)
}

/// The journal after a publication that writes the texts (`snapshot`) or
/// not, with a signed change set (`has_changes`) or not.
pub fn journal_position(previous: Option<&ZoneStateRecord>, has_changes: bool, snapshot: bool) -> JournalPosition {
    let journal_next = previous.map_or(0, |r| r.journal_next) + u64::from(has_changes);
    let snapshot_next = if snapshot { journal_next } else { previous.map_or(journal_next, ZoneStateRecord::snapshot_next) };
    JournalPosition { snapshot, journal_next, snapshot_next }
}

/// What the signers are told was published: `zone sha256 HEX` of the
/// whole signed text when it was written, else `changes sha256 HEX` of
/// the signed change set.
pub fn published_digest(zone_text: Option<&str>, changes_text: Option<&str>) -> String {
    match (zone_text, changes_text) {
        (Some(t), _) => format!("zone sha256 {}", hex::encode(Sha256::digest(t.as_bytes()))),
        (None, Some(c)) => format!("changes sha256 {}", hex::encode(Sha256::digest(c.as_bytes()))),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RECORD_VERSION;

    fn record(journal_next: u64, snapshot_next: Option<u64>) -> ZoneStateRecord {
        ZoneStateRecord {
            version: RECORD_VERSION,
            zone: "example.".into(),
            serial: 1,
            input_serial: 1,
            request_id: "00".into(),
            published_unix: 0,
            signatures: 0,
            signatures_made: 0,
            signatures_kept: 0,
            settings: Default::default(),
            key_tags: Vec::new(),
            journal_next,
            snapshot_next,
            key_set: None,
        }
    }

    #[test]
    fn snapshots_for_whole_versions_the_first_one_and_every_nth_patch() {
        assert!(writes_snapshot(false, Some(&record(5, Some(5))), 256));
        assert!(writes_snapshot(true, None, 256));
        assert!(!writes_snapshot(true, Some(&record(10, Some(5))), 256));
        assert!(writes_snapshot(true, Some(&record(260, Some(5))), 256));
        assert!(writes_snapshot(true, Some(&record(3, Some(1))), 3));
        assert!(!writes_snapshot(true, Some(&record(2, Some(1))), 3));
        // A record from before snapshots: the texts are the published version.
        assert!(!writes_snapshot(true, Some(&record(7, None)), 2));
    }

    #[test]
    fn the_journal_counts_change_sets_and_a_snapshot_catches_up() {
        let before = record(10, Some(4));
        assert_eq!(journal_position(Some(&before), true, false), JournalPosition { snapshot: false, journal_next: 11, snapshot_next: 4 });
        assert_eq!(journal_position(Some(&before), true, true), JournalPosition { snapshot: true, journal_next: 11, snapshot_next: 11 });
        assert_eq!(journal_position(Some(&before), false, true), JournalPosition { snapshot: true, journal_next: 10, snapshot_next: 10 });
        assert_eq!(journal_position(None, false, true), JournalPosition { snapshot: true, journal_next: 0, snapshot_next: 0 });
    }

    #[test]
    fn the_digest_names_what_was_written() {
        assert!(published_digest(Some("z"), Some("c")).starts_with("zone sha256 "));
        assert_eq!(published_digest(None, Some("c")), format!("changes sha256 {}", hex::encode(Sha256::digest(b"c"))));
        assert_eq!(published_digest(None, None), "");
    }
}
