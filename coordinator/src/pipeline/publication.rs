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

/// The stored texts are written again once the journal entries they do
/// not hold reach this share of their size (1/8): a snapshot costs the
/// whole zone (presenting it, about 0.9 s of CPU at 100,000 delegations),
/// so taking one after a fixed count of change sets makes every one-RRset
/// diff pay O(zone / count). Counted in octets, each change set pays for
/// its own size, whatever the zone's; a restart replays at most an eighth
/// of the zone on top of reading it.
pub const JOURNAL_SHARE_OF_TEXTS: u64 = 8;

/// Change sets between two snapshots when the record does not say how
/// large its texts and journal are (written before the sizes were kept).
pub const UNMEASURED_SNAPSHOT_EVERY: u64 = 256;

/// Whether the stored texts are written again: for every whole version
/// (`!is_patch`), for the first one, and for a patch once the journal
/// since the last snapshot reaches 1/[`JOURNAL_SHARE_OF_TEXTS`] of the
/// texts' octets or `snapshot_every` entries. A patch otherwise leaves
/// them as they are: its change sets are journal entries, applied to them
/// when the zone is read back.
pub fn writes_snapshot(is_patch: bool, previous: Option<&ZoneStateRecord>, snapshot_every: u64) -> bool {
    let Some(r) = previous.filter(|_| is_patch) else { return true };
    let entries = r.journal_next.saturating_sub(r.snapshot_next()) + 1;
    match (r.snapshot_bytes, r.journal_bytes) {
        (Some(texts), Some(journal)) => entries >= snapshot_every || journal.saturating_mul(JOURNAL_SHARE_OF_TEXTS) >= texts,
        _ => entries >= snapshot_every.min(UNMEASURED_SNAPSHOT_EVERY),
    }
}

/// The octets of the stored texts and of the journal entries they do not
/// hold after a publication: `snapshot` is the size of the texts written
/// (none: they stay), `entry` the size of the change sets journaled (signed
/// and unsigned). Unknown (`None`) until a snapshot is written under a
/// record that keeps them.
pub fn stored_sizes(previous: Option<&ZoneStateRecord>, snapshot: Option<u64>, entry: u64) -> (Option<u64>, Option<u64>) {
    match snapshot {
        // The change set written with a snapshot is in the texts already.
        Some(texts) => (Some(texts), Some(0)),
        None => {
            let texts = previous.and_then(|r| r.snapshot_bytes);
            let journal = previous.and_then(|r| r.journal_bytes).map(|j| j.saturating_add(entry));
            (texts, journal)
        }
    }
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
/// the signed change set. `zone_sha256` is the whole text's, made as the
/// validation checked it ([`crate::registry::ZoneText::sha256`]).
pub fn published_digest(zone_sha256: Option<&[u8; 32]>, changes_text: Option<&str>) -> String {
    match (zone_sha256, changes_text) {
        (Some(digest), _) => format!("zone sha256 {}", hex::encode(digest)),
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
            snapshot_bytes: None,
            journal_bytes: None,
            snapshot_files: None,
        }
    }

    fn measured(journal_next: u64, snapshot_next: u64, texts: u64, journal: u64) -> ZoneStateRecord {
        ZoneStateRecord { snapshot_bytes: Some(texts), journal_bytes: Some(journal), ..record(journal_next, Some(snapshot_next)) }
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
        // A record from before the sizes were kept: at most every 256th.
        assert!(writes_snapshot(true, Some(&record(299, Some(44))), 65_536));
        assert!(!writes_snapshot(true, Some(&record(298, Some(44))), 65_536));
    }

    #[test]
    fn a_patch_snapshots_once_the_journal_reaches_an_eighth_of_the_texts() {
        // 10 entries of 1,000 octets beside 80,001 octets of texts: not yet.
        assert!(!writes_snapshot(true, Some(&measured(20, 10, 80_001, 10_000)), 65_536));
        assert!(writes_snapshot(true, Some(&measured(20, 10, 80_000, 10_000)), 65_536));
        // However large the zone, the entry count bounds the replay.
        assert!(writes_snapshot(true, Some(&measured(20, 10, u64::MAX, 10_000)), 11));
        assert!(!writes_snapshot(true, Some(&measured(20, 10, u64::MAX, 10_000)), 12));
        // A whole version always writes them.
        assert!(writes_snapshot(false, Some(&measured(20, 20, u64::MAX, 0)), 65_536));
    }

    #[test]
    fn the_sizes_follow_the_snapshot_and_the_journal() {
        let before = measured(20, 10, 80_000, 5_000);
        assert_eq!(stored_sizes(Some(&before), None, 700), (Some(80_000), Some(5_700)));
        assert_eq!(stored_sizes(Some(&before), Some(81_000), 700), (Some(81_000), Some(0)));
        // Unmeasured until a snapshot is written.
        assert_eq!(stored_sizes(Some(&record(20, Some(10))), None, 700), (None, None));
        assert_eq!(stored_sizes(None, Some(9), 0), (Some(9), Some(0)));
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
        let z: [u8; 32] = Sha256::digest(b"z").into();
        assert_eq!(published_digest(Some(&z), Some("c")), format!("zone sha256 {}", hex::encode(Sha256::digest(b"z"))));
        assert_eq!(&z, crate::registry::ZoneText::for_test("z").sha256(), "a text's digest is its octets'");
        assert_eq!(published_digest(None, Some("c")), format!("changes sha256 {}", hex::encode(Sha256::digest(b"c"))));
        assert_eq!(published_digest(None, None), "");
    }
}
