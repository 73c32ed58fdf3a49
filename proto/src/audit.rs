//! The audit log every node keeps: append-only JSON lines, hash-chained.
//!
//! Each line is one [`AuditEntry`]. Its `hash` is SHA-256 over the previous
//! entry's hash (the hex text; 64 zeros for the first entry) followed by the
//! entry's canonical form: the JSON of the entry with `hash` empty, fields
//! in declaration order. `seq` counts from 1 without gaps. So an edited
//! entry no longer matches its hash, and a dropped or reordered entry
//! breaks the `seq` count and the `prev_hash` link of the entry after it.
//! [`verify`] names the first entry that does not fit.
//!
//! What a chain alone cannot show: the last entries cut off, or the whole
//! file rewritten with fresh hashes. Copy the latest hash somewhere else
//! (`frostzone audit --verify` prints it) to anchor the chain.
//!
//! [`AuditLog`] appends and calls `fsync` before it returns, so an entry
//! that was acknowledged survives a crash.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The entry format this build writes and reads.
pub const AUDIT_VERSION: u32 = 1;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry. Callers fill in what happened; [`AuditLog::append`]
/// sets `version`, `seq`, `time`, `node`, `prev_hash` and `hash`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// Entry format, [`AUDIT_VERSION`].
    pub version: u32,
    /// Position in the log, from 1.
    pub seq: u64,
    /// Seconds since the epoch.
    pub time: u64,
    /// The node that wrote it (signer name or "coordinator").
    pub node: String,
    /// What happened, e.g. "commit", "sign", "refused", "request", "released", "failed".
    pub event: String,
    /// The request (signing session) it belongs to.
    pub request: String,
    /// The zone.
    pub zone: String,
    /// SHA-256 content hash of the items concerned, hex ([`crate::content`]).
    pub content_hash: String,
    /// Who asked: the operator certificate's name, or the pinned coordinator.
    pub operator: String,
    /// Signers used.
    pub signers: Vec<String>,
    /// Signers blamed for bad answers.
    pub culprits: Vec<String>,
    /// The outcome or the reason of a refusal.
    pub outcome: String,
    /// The previous entry's `hash`.
    pub prev_hash: String,
    /// SHA-256 of `prev_hash` and this entry's canonical form, hex.
    pub hash: String,
}

impl AuditEntry {
    /// The hash this entry must carry, given its `prev_hash`.
    pub fn compute_hash(&self) -> String {
        let canonical = AuditEntry { hash: String::new(), ..self.clone() };
        // Serializing a struct of strings and integers cannot fail.
        let json = serde_json::to_vec(&canonical).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(&json);
        hex::encode(h.finalize())
    }
}

/// Where and why a log fails verification.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line} (entry {seq}): {reason}")]
pub struct VerifyError {
    /// 1-based line number.
    pub line: usize,
    /// The sequence number expected at that line: the first bad entry.
    pub seq: u64,
    /// What does not fit.
    pub reason: String,
}

/// A verified log: its entries and the hash at its head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Every entry, in order.
    pub entries: Vec<AuditEntry>,
    /// The last entry's hash ([`GENESIS_HASH`] for an empty log).
    pub head: String,
}

/// Checks a whole log's text: every line parses, `seq` counts from 1,
/// every `prev_hash` is the previous `hash` and every `hash` is right.
pub fn verify(text: &str) -> Result<Verified, VerifyError> {
    let mut entries = Vec::new();
    let mut head = GENESIS_HASH.to_string();
    for (i, line) in text.lines().enumerate() {
        let seq = entries.len() as u64 + 1;
        let bad = |reason: String| VerifyError { line: i + 1, seq, reason };
        let entry: AuditEntry = serde_json::from_str(line).map_err(|e| bad(format!("not an audit entry: {e}")))?;
        if entry.version != AUDIT_VERSION {
            return Err(bad(format!("version {} is not {AUDIT_VERSION}", entry.version)));
        }
        if entry.seq != seq {
            return Err(bad(format!("seq is {}: an entry before it was dropped or moved", entry.seq)));
        }
        if entry.prev_hash != head {
            return Err(bad("prev_hash is not the previous entry's hash: an entry before it was edited, dropped or moved".into()));
        }
        if entry.compute_hash() != entry.hash {
            return Err(bad("hash does not match the entry: it was edited".into()));
        }
        head = entry.hash.clone();
        entries.push(entry);
    }
    Ok(Verified { entries, head })
}

/// The log file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Reading, writing or syncing failed.
    #[error("{}: {source}", file.display())]
    Io {
        /// The log file.
        file: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The existing log does not verify: appending would hide that.
    #[error("{}: audit log does not verify: {error}", file.display())]
    Broken {
        /// The log file.
        file: PathBuf,
        /// The first bad entry.
        error: VerifyError,
    },
}

/// An open audit log, positioned after its last verified entry.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    node: String,
    file: File,
    next_seq: u64,
    head: String,
}

impl AuditLog {
    /// Opens (or creates) the log at `path` for `node`. An existing log is
    /// verified first; one that does not verify is refused.
    pub fn open(path: &Path, node: &str) -> Result<AuditLog, AuditError> {
        let io = |source| AuditError::Io { file: path.to_path_buf(), source };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(e)),
        };
        let verified = verify(&text).map_err(|error| AuditError::Broken { file: path.to_path_buf(), error })?;
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            node: node.to_string(),
            file,
            next_seq: verified.entries.len() as u64 + 1,
            head: verified.head,
        })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entry` (chained, timed, numbered) and syncs it to disk.
    pub fn append(&mut self, entry: AuditEntry, now: u64) -> Result<AuditEntry, AuditError> {
        let mut appended = self.append_all(vec![entry], now)?;
        Ok(appended.pop().unwrap_or_default())
    }

    /// Appends `entries` in order (chained, timed, numbered) with one
    /// write and one sync: answers that arrive together cost one `fsync`,
    /// not one each. Nothing counts as appended unless the sync succeeded;
    /// a failed write or sync leaves the log's sequence and head where
    /// they were.
    pub fn append_all(&mut self, entries: Vec<AuditEntry>, now: u64) -> Result<Vec<AuditEntry>, AuditError> {
        let (mut seq, mut head) = (self.next_seq, self.head.clone());
        let mut lines = Vec::new();
        let mut appended = Vec::with_capacity(entries.len());
        for entry in entries {
            let mut entry = AuditEntry {
                version: AUDIT_VERSION,
                seq,
                time: now,
                node: self.node.clone(),
                prev_hash: head,
                hash: String::new(),
                ..entry
            };
            entry.hash = entry.compute_hash();
            // Serializing a struct of strings and integers cannot fail.
            lines.extend(serde_json::to_vec(&entry).unwrap_or_default());
            lines.push(b'\n');
            seq += 1;
            head = entry.hash.clone();
            appended.push(entry);
        }
        if appended.is_empty() {
            return Ok(appended);
        }
        let io = |source| AuditError::Io { file: self.path.clone(), source };
        self.file.write_all(&lines).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        (self.next_seq, self.head) = (seq, head);
        Ok(appended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: u64) -> AuditEntry {
        AuditEntry {
            event: "commit".into(),
            request: format!("req-{i}"),
            zone: "example.".into(),
            outcome: "accepted".into(),
            ..AuditEntry::default()
        }
    }

    fn log_of(n: u64) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut log = AuditLog::open(&path, "signer-1").unwrap();
        for i in 1..=n {
            log.append(event(i), 1_700_000_000 + i).unwrap();
        }
        (dir, path)
    }

    #[test]
    fn chain_verifies_and_survives_reopen() {
        let (_dir, path) = log_of(3);
        let mut log = AuditLog::open(&path, "signer-1").unwrap();
        let fourth = log.append(event(4), 1_700_000_100).unwrap();
        assert_eq!(fourth.seq, 4);
        let v = verify(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v.entries.len(), 4);
        assert_eq!(v.head, fourth.hash);
        assert_eq!(v.entries[0].prev_hash, GENESIS_HASH);
        assert_eq!(verify("").unwrap().head, GENESIS_HASH);
    }

    #[test]
    fn entries_appended_together_chain_like_entries_appended_one_by_one() {
        let (_dir, path) = log_of(2);
        let mut log = AuditLog::open(&path, "signer-1").unwrap();
        let batch = log.append_all(vec![event(3), event(4), event(5)], 1_700_000_200).unwrap();
        assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(batch[1].prev_hash, batch[0].hash);
        assert!(log.append_all(Vec::new(), 1_700_000_201).unwrap().is_empty());
        let sixth = log.append(event(6), 1_700_000_300).unwrap();
        assert_eq!((sixth.seq, sixth.prev_hash.as_str()), (6, batch[2].hash.as_str()));
        let v = verify(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v.entries.len(), 6);
        assert_eq!(v.head, sixth.hash);
    }

    #[test]
    fn edit_drop_and_reorder_are_detected_at_the_first_bad_entry() {
        let (_dir, path) = log_of(5);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();

        // Edited outcome of entry 3, hash left alone.
        let edited = text.replacen("\"req-3\",\"zone\":\"example.\",\"content_hash\":\"\",\"operator\":\"\",\"signers\":[],\"culprits\":[],\"outcome\":\"accepted\"",
            "\"req-3\",\"zone\":\"example.\",\"content_hash\":\"\",\"operator\":\"\",\"signers\":[],\"culprits\":[],\"outcome\":\"refused\"", 1);
        assert_ne!(edited, text);
        assert_eq!(verify(&edited).unwrap_err().seq, 3);

        // Edited and re-hashed: the next entry's link breaks.
        let mut e: AuditEntry = serde_json::from_str(lines[2]).unwrap();
        e.outcome = "refused".into();
        e.hash = e.compute_hash();
        let mut rehashed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        rehashed[2] = serde_json::to_string(&e).unwrap();
        let err = verify(&rehashed.join("\n")).unwrap_err();
        assert_eq!((err.seq, err.line), (4, 4), "{err}");

        // Dropped entry 2.
        let dropped = [lines[0], lines[2], lines[3], lines[4]].join("\n");
        assert_eq!(verify(&dropped).unwrap_err().seq, 2);

        // Entries 4 and 5 swapped.
        let swapped = [lines[0], lines[1], lines[2], lines[4], lines[3]].join("\n");
        assert_eq!(verify(&swapped).unwrap_err().seq, 4);

        // Garbage.
        assert_eq!(verify("{}\n").unwrap_err().seq, 1);
    }

    #[test]
    fn a_broken_log_is_not_appended_to() {
        let (_dir, path) = log_of(2);
        let text = std::fs::read_to_string(&path).unwrap().replacen("req-1", "req-9", 1);
        std::fs::write(&path, text).unwrap();
        let err = AuditLog::open(&path, "signer-1").unwrap_err().to_string();
        assert!(err.contains("audit.log") && err.contains("entry 1"), "{err}");
    }
}
