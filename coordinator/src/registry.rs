//! The coordinator's registry in sled: key groups, requests, culprits and
//! zones, and beside it the published zones' snapshot texts as files
//! ([`text_files`]). The only module that touches sled or those files.
//!
//! Trees and keys:
//!
//! | tree | key | value |
//! |---|---|---|
//! | `key_groups` | `zone \0 key tag (5 digits)` | [`KeyGroupRecord`] |
//! | `sessions` | started (u64 BE) ‖ id | [`RequestRecord`] (the tree keeps its first name) |
//! | `culprits` | signer name | [`CulpritRecord`] |
//! | `rollovers` | `zone \0 role` | a rollover and its phase ([`rollovers`]) |
//!
//! The zone pipeline's trees (published versions, journals, signers'
//! baselines) are described in [`zone_state`].
//!
//! Values are TOML with a `version` field and unknown fields refused, so a
//! newer coordinator's records are noticed rather than misread. sled is
//! beta software with reports of damage after unclean shutdowns: what is
//! written here is small and written whole, key groups and final request
//! states are flushed before the client hears about them, and a record that
//! does not read back is an error naming tree and key, never skipped.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::request::RequestRecord;

pub mod rollovers;
pub mod text_files;
pub mod zone_state;
pub mod zone_text;
pub use text_files::SnapshotFiles;
pub use zone_state::{Publication, StoredSettings, ZoneStateRecord};
pub use zone_text::ZoneText;

/// The current version of every record kind.
pub const RECORD_VERSION: u32 = 1;

/// The registry could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// sled failed.
    #[error("registry: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record does not read back.
    #[error("registry: tree {tree}, key {key}: {message}")]
    Corrupt {
        /// The tree.
        tree: &'static str,
        /// The key, printable.
        key: String,
        /// Why it does not read.
        message: String,
    },
    /// A rollover of that role is under way in that zone.
    #[error("zone {zone} already runs a {role} rollover ({keys}): it must end first")]
    RolloverRunning {
        /// The zone.
        zone: String,
        /// The role.
        role: String,
        /// Which keys it rolls.
        keys: String,
    },
    /// A zone text file could not be written, read or removed.
    #[error("registry: zone text file {}: {source}", file.display())]
    TextFile {
        /// The file (or the directory of zone texts).
        file: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A record could not be encoded.
    #[error("registry: cannot encode a {what} record: {message}")]
    Encode {
        /// The record kind.
        what: &'static str,
        /// Why.
        message: String,
    },
}

/// A zone key whose shares live on the signers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyGroupRecord {
    /// Record format version.
    pub version: u32,
    /// The zone, absolute and lowercase (`example.com.`).
    pub zone: String,
    /// `KSK`, `ZSK` or `CSK`.
    pub role: String,
    /// RFC 4034 Appendix B key tag of its DNSKEY.
    pub key_tag: u16,
    /// Group public key (32 bytes, hex).
    pub group_public_key: String,
    /// frost `PublicKeyPackage`, serialized, hex.
    pub public_key_package: String,
    /// Signers needed (t).
    pub threshold: u16,
    /// Names of the signers holding a share, in participant order.
    pub signers: Vec<String>,
    /// Their FROST identifiers, same order.
    pub participants: Vec<u16>,
    /// `dkg` or `import`.
    pub origin: String,
    /// Seconds since the epoch.
    pub created_unix: u64,
    /// When a finished rollover took it out of the zone: it is never
    /// published again (its shares may then be removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_unix: Option<u64>,
    /// When its shares were last refreshed ([`crate::keys::refresh`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshed_unix: Option<u64>,
    /// A share refresh every holder confirmed whose commit has not reached
    /// every holder yet: finished before anything else uses the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_refresh: Option<PendingRefresh>,
}

/// A share refresh waiting for its commit ([`KeyGroupRecord::pending_refresh`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingRefresh {
    /// The refresh ceremony.
    pub request_id: String,
    /// The refreshed frost `PublicKeyPackage` every holder derived, hex.
    pub public_key_package: String,
    /// Each holder's signed confirmation of it: signer name and signature
    /// (hex).
    pub confirmations: Vec<(String, String)>,
}

/// What is known about a signer caught sending invalid shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CulpritRecord {
    /// Record format version.
    pub version: u32,
    /// Requests in which it was caught.
    pub count: u64,
    /// The latest such request (registries written before requests had
    /// their name call it `last_session`).
    #[serde(alias = "last_session")]
    pub last_request: String,
    /// When, seconds since the epoch.
    pub last_unix: u64,
    /// What was wrong.
    pub last_reason: String,
}

/// The registry (cheap to clone: sled handles are shared).
#[derive(Clone, Debug)]
pub struct Registry {
    db: sled::Db,
    key_groups: sled::Tree,
    requests: sled::Tree,
    culprits: sled::Tree,
    zone_state: sled::Tree,
    zone_unsigned: sled::Tree,
    zone_signed: sled::Tree,
    zone_journal: sled::Tree,
    zone_unsigned_journal: sled::Tree,
    zone_baselines: sled::Tree,
    rollovers: sled::Tree,
    texts: text_files::TextFiles,
}

fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, RegistryError> {
    toml::to_string(value)
        .map(String::into_bytes)
        .map_err(|e| RegistryError::Encode { what, message: e.to_string() })
}

fn decode<T: DeserializeOwned>(tree: &'static str, key: &[u8], value: &[u8]) -> Result<T, RegistryError> {
    let corrupt = |message: String| RegistryError::Corrupt { tree, key: String::from_utf8_lossy(key).into_owned(), message };
    let text = std::str::from_utf8(value).map_err(|e| corrupt(e.to_string()))?;
    toml::from_str(text).map_err(|e| corrupt(e.to_string().trim_end().to_string()))
}

/// sled's page cache (its default is 1 GiB): the registry's large values
/// (a zone's text) are read whole and rarely, so the cache buys little and
/// would hold a copy of every zone.
const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

fn request_key(record: &RequestRecord) -> Vec<u8> {
    let mut key = record.started_unix.to_be_bytes().to_vec();
    key.extend_from_slice(record.id.as_bytes());
    key
}

impl Registry {
    /// Opens (or creates) the registry in `dir`, and removes the zone
    /// text files no zone state names (a crash between writing a version's
    /// texts and committing it, or before the texts it replaced went).
    pub fn open(dir: &Path) -> Result<Registry, RegistryError> {
        let db = sled::Config::new().path(dir).cache_capacity(SLED_CACHE_BYTES).open()?;
        let registry = Registry {
            key_groups: db.open_tree("key_groups")?,
            // Named before requests were called requests; kept for existing registries.
            requests: db.open_tree("sessions")?,
            culprits: db.open_tree("culprits")?,
            zone_state: db.open_tree("zone_state")?,
            zone_unsigned: db.open_tree("zone_unsigned")?,
            zone_signed: db.open_tree("zone_signed")?,
            zone_journal: db.open_tree("zone_journal")?,
            zone_unsigned_journal: db.open_tree("zone_unsigned_journal")?,
            zone_baselines: db.open_tree("zone_baselines")?,
            rollovers: db.open_tree("rollovers")?,
            texts: text_files::TextFiles::open(dir)?,
            db,
        };
        let states = registry.zone_states()?;
        let removed = registry.texts.remove_unnamed(&text_files::named(states.iter().filter_map(|s| s.snapshot_files.as_ref())))?;
        if removed > 0 {
            tracing::info!("registry: removed {removed} zone text file(s) no published version names (left by an interrupted publication)");
        }
        Ok(registry)
    }

    /// Where a new version's text is kept while it is published
    /// ([`ZoneText::write_in`]): the directory of zone texts, on the disk
    /// its snapshot file is copied to.
    pub fn text_dir(&self) -> &Path {
        self.texts.dir()
    }

    /// Writes everything to disk.
    pub async fn flush(&self) -> Result<(), RegistryError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// Stores a key group and flushes it.
    pub async fn put_key_group(&self, record: &KeyGroupRecord) -> Result<(), RegistryError> {
        let key = format!("{}\0{:05}", record.zone, record.key_tag);
        self.key_groups.insert(key.as_bytes(), encode("key group", record)?)?;
        self.flush().await
    }

    /// Removes the key group of `zone` with `key_tag` and flushes;
    /// whether there was one.
    pub async fn remove_key_group(&self, zone: &str, key_tag: u16) -> Result<bool, RegistryError> {
        let key = format!("{zone}\0{key_tag:05}");
        let removed = self.key_groups.remove(key.as_bytes())?.is_some();
        self.flush().await?;
        Ok(removed)
    }

    /// Marks the key group of `zone` with `key_tag` retired at `now` (once;
    /// a second call changes nothing) and flushes.
    pub async fn retire_key_group(&self, zone: &str, key_tag: u16, now: u64) -> Result<(), RegistryError> {
        if let Some(mut record) = self.key_groups(Some(zone))?.into_iter().find(|g| g.key_tag == key_tag) {
            if record.retired_unix.is_none() {
                record.retired_unix = Some(now);
                self.put_key_group(&record).await?;
            }
        }
        Ok(())
    }

    /// The key groups of `zone` (every zone when `None`), by zone then key
    /// tag.
    pub fn key_groups(&self, zone: Option<&str>) -> Result<Vec<KeyGroupRecord>, RegistryError> {
        let prefix = zone.map(|z| format!("{z}\0")).unwrap_or_default();
        self.key_groups
            .scan_prefix(prefix.as_bytes())
            .map(|kv| {
                let (k, v) = kv?;
                decode("key_groups", &k, &v)
            })
            .collect()
    }

    /// Stores (or replaces) a request record; final phases are flushed.
    pub async fn put_request(&self, record: &RequestRecord) -> Result<(), RegistryError> {
        self.put_request_sync(record)?;
        if record.state.is_final() {
            self.flush().await?;
        }
        Ok(())
    }

    /// Stores a request record without waiting for the disk (for drop
    /// guards, which cannot wait).
    pub fn put_request_sync(&self, record: &RequestRecord) -> Result<(), RegistryError> {
        self.requests.insert(request_key(record), encode("request", record)?)?;
        Ok(())
    }

    /// The latest `n` requests, newest first.
    pub fn recent_requests(&self, n: usize) -> Result<Vec<RequestRecord>, RegistryError> {
        self.requests
            .iter()
            .rev()
            .take(n)
            .map(|kv| {
                let (k, v) = kv?;
                decode("requests", &k, &v)
            })
            .collect()
    }

    /// The latest `n` requests of `zone` (every zone when `None`), newest
    /// first.
    pub fn recent_requests_of(&self, zone: Option<&str>, n: usize) -> Result<Vec<RequestRecord>, RegistryError> {
        let mut out = Vec::new();
        for kv in self.requests.iter().rev() {
            if out.len() >= n {
                break;
            }
            let (k, v) = kv?;
            let record: RequestRecord = decode("requests", &k, &v)?;
            if zone.is_none_or(|z| record.zone == z) {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Every request whose id starts with `prefix` (lowercase hex), newest
    /// first.
    pub fn requests_with_id_prefix(&self, prefix: &str) -> Result<Vec<RequestRecord>, RegistryError> {
        let mut out = Vec::new();
        for kv in self.requests.iter().rev() {
            let (k, v) = kv?;
            // The key is the start time (8 bytes) followed by the id.
            if k.get(8..).is_some_and(|id| id.starts_with(prefix.as_bytes())) {
                out.push(decode("requests", &k, &v)?);
            }
        }
        Ok(out)
    }

    /// Marks every request that is not in a final state as failed
    /// (interrupted) and returns them: run once at start-up, before any new
    /// session begins.
    pub async fn sweep_interrupted(&self, now: u64) -> Result<Vec<RequestRecord>, RegistryError> {
        let mut swept = Vec::new();
        for kv in self.requests.iter() {
            let (k, v) = kv?;
            let mut record: RequestRecord = decode("requests", &k, &v)?;
            if let Some(failed) = record.state.interrupted() {
                record.state = failed;
                record.updated_unix = now;
                self.requests.insert(k, encode("request", &record)?)?;
                swept.push(record);
            }
        }
        self.flush().await?;
        Ok(swept)
    }

    /// Counts a culprit.
    pub fn record_culprit(&self, signer: &str, request: &str, reason: &str, now: u64) -> Result<CulpritRecord, RegistryError> {
        let count = match self.culprits.get(signer.as_bytes())? {
            Some(v) => decode::<CulpritRecord>("culprits", signer.as_bytes(), &v)?.count,
            None => 0,
        };
        let record = CulpritRecord {
            version: RECORD_VERSION,
            count: count + 1,
            last_request: request.to_string(),
            last_unix: now,
            last_reason: reason.to_string(),
        };
        self.culprits.insert(signer.as_bytes(), encode("culprit", &record)?)?;
        Ok(record)
    }

    /// What is recorded against `signer`.
    pub fn culprit(&self, signer: &str) -> Result<Option<CulpritRecord>, RegistryError> {
        self.culprits
            .get(signer.as_bytes())?
            .map(|v| decode("culprits", signer.as_bytes(), &v))
            .transpose()
    }
}

/// A key group record for tests: 2 of signer-1..3, with placeholder keys
/// (set `group_public_key` and `public_key_package` for a real group).
#[cfg(test)]
pub(crate) fn test_key_group(zone: &str, tag: u16) -> KeyGroupRecord {
    KeyGroupRecord {
        version: RECORD_VERSION,
        zone: zone.into(),
        role: "CSK".into(),
        key_tag: tag,
        group_public_key: "00".repeat(32),
        public_key_package: "abcd".into(),
        threshold: 2,
        signers: vec!["signer-1".into(), "signer-2".into(), "signer-3".into()],
        participants: vec![1, 2, 3],
        origin: "dkg".into(),
        created_unix: 7,
        retired_unix: None,
        refreshed_unix: None,
        pending_refresh: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::RequestPhase;

    fn key_group(zone: &str, tag: u16) -> KeyGroupRecord {
        test_key_group(zone, tag)
    }

    #[tokio::test]
    async fn key_groups_round_trip_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let r = Registry::open(dir.path()).unwrap();
            r.put_key_group(&key_group("example.", 9)).await.unwrap();
            r.put_key_group(&key_group("example.", 12345)).await.unwrap();
            r.put_key_group(&key_group("example.com.", 1)).await.unwrap();
            // "example." must not match "example.com." by prefix.
            assert_eq!(r.key_groups(Some("example.")).unwrap().len(), 2);
        }
        let r = Registry::open(dir.path()).unwrap();
        let all = r.key_groups(None).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0], key_group("example.", 9));
        assert_eq!(r.key_groups(Some("example.com.")).unwrap(), vec![key_group("example.com.", 1)]);
        assert!(r.key_groups(Some("other.")).unwrap().is_empty());
    }

    #[tokio::test]
    async fn sweep_fails_unfinished_requests_only() {
        let dir = tempfile::tempdir().unwrap();
        {
            let r = Registry::open(dir.path()).unwrap();
            let mut done = RequestRecord::new("aa".into(), "example.".into(), 5, 100);
            for s in [
                RequestPhase::Proposed,
                RequestPhase::Approved,
                RequestPhase::Committing,
                RequestPhase::Signing,
                RequestPhase::Aggregating,
                RequestPhase::Validating,
                RequestPhase::Published,
            ] {
                done.advance(s, 101).unwrap();
            }
            r.put_request(&done).await.unwrap();
            let mut live = RequestRecord::new("bb".into(), "example.".into(), 5, 200);
            for s in [RequestPhase::Proposed, RequestPhase::Approved, RequestPhase::Signing] {
                live.advance(s, 201).unwrap();
            }
            live.signers = vec!["signer-1".into()];
            r.put_request(&live).await.unwrap();
            r.flush().await.unwrap();
            // Dropped here as if the process died mid-session.
        }
        let r = Registry::open(dir.path()).unwrap();
        let swept = r.sweep_interrupted(300).await.unwrap();
        assert_eq!(swept.len(), 1);
        assert_eq!(swept[0].id, "bb");
        let recent = r.recent_requests(20).unwrap();
        assert_eq!(recent.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["bb", "aa"]);
        assert!(recent[0].error().unwrap().contains("interrupted while signing"), "{:?}", recent[0]);
        assert_eq!(recent[0].updated_unix, 300);
        assert_eq!(recent[0].signers, ["signer-1"]);
        assert_eq!(recent[1].state, RequestPhase::Published);
        // A second sweep finds nothing.
        assert!(r.sweep_interrupted(400).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn requests_by_zone_and_by_id_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        for (i, (id, zone)) in [("3f2a9c1b00", "example."), ("3f2a9c1bff", "other."), ("77aa0000aa", "example.")].iter().enumerate() {
            r.put_request(&RequestRecord::new(id.to_string(), zone.to_string(), 1, 100 + i as u64)).await.unwrap();
        }
        let ids = |v: Vec<RequestRecord>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(ids(r.recent_requests_of(None, 50).unwrap()), ["77aa0000aa", "3f2a9c1bff", "3f2a9c1b00"]);
        assert_eq!(ids(r.recent_requests_of(Some("example."), 50).unwrap()), ["77aa0000aa", "3f2a9c1b00"]);
        assert_eq!(ids(r.recent_requests_of(Some("example."), 1).unwrap()), ["77aa0000aa"]);
        assert_eq!(ids(r.requests_with_id_prefix("3f2a9c1b").unwrap()), ["3f2a9c1bff", "3f2a9c1b00"]);
        assert_eq!(ids(r.requests_with_id_prefix("3f2a9c1b0").unwrap()), ["3f2a9c1b00"]);
        assert!(r.requests_with_id_prefix("00000000").unwrap().is_empty());
    }

    #[test]
    fn culprits_count_and_damaged_records_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        r.record_culprit("signer-2", "s1", "invalid signature share", 1).unwrap();
        let c = r.record_culprit("signer-2", "s2", "invalid signature share", 2).unwrap();
        assert_eq!((c.count, c.last_request.as_str()), (2, "s2"));
        // A record written before requests had their name still reads.
        let old: CulpritRecord =
            toml::from_str("version = 1\ncount = 3\nlast_session = \"s0\"\nlast_unix = 5\nlast_reason = \"r\"\n").unwrap();
        assert_eq!(old.last_request, "s0");
        assert_eq!(r.culprit("signer-2").unwrap(), Some(c));
        assert_eq!(r.culprit("signer-1").unwrap(), None);
        r.key_groups.insert(b"example.\x0000001", b"version = 9".to_vec()).unwrap();
        let err = r.key_groups(Some("example.")).unwrap_err().to_string();
        assert!(err.contains("key_groups") && err.contains("example."), "{err}");
    }
}
