//! The zone pipeline's state in the registry: per zone, the published
//! version (its settings, serial, request, unsigned and signed text), a
//! bounded journal of its signed change sets, and which request each
//! signer holds as its baseline.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `zone_state` | zone | [`ZoneStateRecord`] (TOML) |
//! | `zone_unsigned` | zone | the unsigned version, master file text (registries written before [`SnapshotFiles`]) |
//! | `zone_signed` | zone | the signed version as published, master file text (the same) |
//! | `zone_journal` | zone `\0` sequence (u64 BE) | a signed change set, IXFR text (RFC 1995 §4) |
//! | `zone_unsigned_journal` | zone `\0` sequence (u64 BE) | the unsigned change set of the same step |
//! | `zone_baselines` | zone `\0` signer | the request id the signer acknowledged as published |
//!
//! The texts are a snapshot, kept as files named by their SHA-256
//! ([`super::text_files`]; the record's [`SnapshotFiles`]): a whole version
//! writes them, a change set writes only its two journal entries, and
//! every so often a change set writes a snapshot again. The version
//! published is the snapshot with the journal entries from
//! [`ZoneStateRecord::snapshot_next`] on applied, so a one-record change
//! writes a few hundred bytes, not the zone.
//!
//! A publication writes its records (and the `zones` release record) in
//! one sled transaction and flushes before anything goes out, its snapshot
//! files written and synced before that: after a crash the registry holds
//! the previous version or the new one, whole.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::text_files::{named, SnapshotFiles};
use super::zone_text::ZoneText;
use super::{decode, encode, Registry, RegistryError};
use crate::keys::rollover::views::KeySet;

/// The settings a version was signed with, as stored (names as in the
/// config file: `denial = "nsec3"`, `serial_policy = "increment"`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredSettings {
    /// `nsec3`, `nsec3-opt-out` or `nsec`.
    pub denial: String,
    /// Signature lifetime in days.
    pub validity_days: u32,
    /// `keep`, `increment`, `unixtime` or `date-counter`.
    pub serial_policy: String,
    /// CDS and CDNSKEY published (RFC 7344).
    pub publish_cds: bool,
}

/// The published version of a zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneStateRecord {
    /// Record format version.
    pub version: u32,
    /// The zone, absolute and lowercase.
    pub zone: String,
    /// The published SOA serial.
    pub serial: u32,
    /// The SOA serial of the input the version was made from (the hidden
    /// primary's or the client's numbering; equal to `serial` under
    /// serial policy keep).
    pub input_serial: u32,
    /// The request (session) that published it.
    pub request_id: String,
    /// When, seconds since the epoch.
    pub published_unix: u64,
    /// RRSIGs in the version.
    pub signatures: u64,
    /// Of those, made for this version.
    pub signatures_made: u64,
    /// Of those, kept from the version before.
    pub signatures_kept: u64,
    /// The settings it was signed with.
    pub settings: StoredSettings,
    /// Key tags of its DNSKEY RRset.
    pub key_tags: Vec<u16>,
    /// Sequence number of the next journal entry.
    pub journal_next: u64,
    /// The journal entries from this one on are not in the stored texts:
    /// they are applied to them to make the version published (`None`:
    /// the texts are the version published, as before snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_next: Option<u64>,
    /// Which keys it publishes and what each signs (`None`: written
    /// before rollovers, every key in `key_tags` doing its role's job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_set: Option<KeySet>,
    /// Octets of the stored texts, unsigned and signed (`None`: written
    /// before the sizes were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_bytes: Option<u64>,
    /// Octets of the journal entries the stored texts do not hold, signed
    /// and unsigned: what a restart replays, and what decides the next
    /// snapshot (`crate::pipeline::publication::writes_snapshot`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_bytes: Option<u64>,
    /// The files holding the snapshot (`None`: written before the texts
    /// moved out of sled; they are in its `zone_unsigned` and
    /// `zone_signed` trees).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_files: Option<SnapshotFiles>,
}

impl ZoneStateRecord {
    /// The first journal entry the stored texts do not hold.
    pub fn snapshot_next(&self) -> u64 {
        self.snapshot_next.unwrap_or(self.journal_next)
    }
}

/// Everything one publication writes.
#[derive(Debug)]
pub struct Publication<'a> {
    /// The new state.
    pub state: &'a ZoneStateRecord,
    /// A snapshot is written: the state names its files, written already
    /// ([`Registry::write_snapshot`]).
    pub snapshot: bool,
    /// The signed change set from the version before (IXFR text), if any.
    pub changes: Option<&'a str>,
    /// The unsigned change set of the same step: required without a
    /// snapshot.
    pub unsigned_changes: Option<&'a str>,
    /// Change sets kept per zone (older ones are removed unless a version
    /// needs them).
    pub journal_limit: usize,
}

fn journal_key(zone: &str, seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(zone.len() + 9);
    key.extend_from_slice(zone.as_bytes());
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn prefix(zone: &str) -> Vec<u8> {
    let mut p = zone.as_bytes().to_vec();
    p.push(0);
    p
}

fn text(tree: &'static str, key: &[u8], value: &[u8]) -> Result<String, RegistryError> {
    String::from_utf8(value.to_vec()).map_err(|e| RegistryError::Corrupt {
        tree,
        key: String::from_utf8_lossy(key).into_owned(),
        message: e.to_string(),
    })
}

impl Registry {
    /// Writes a publication in one transaction and flushes it.
    pub async fn publish_zone(&self, p: &Publication<'_>) -> Result<(), RegistryError> {
        let zone = p.state.zone.as_str();
        if !p.snapshot && (p.changes.is_none() || p.unsigned_changes.is_none()) {
            return Err(RegistryError::Encode { what: "zone publication", message: "neither the whole version nor both change sets".into() });
        }
        if p.snapshot && p.state.snapshot_files.is_none() {
            return Err(RegistryError::Encode { what: "zone publication", message: "a snapshot without its files".into() });
        }
        // The zone's lane publishes one version at a time: what it replaces
        // is the record stored now.
        let replaced = self.zone_state(zone)?.and_then(|old| old.snapshot_files).filter(|_| p.snapshot);
        let state = encode("zone state", p.state)?;
        let new_seq = p.state.journal_next.saturating_sub(1);
        // Kept: the newest `journal_limit` signed entries (for IXFR), and
        // every entry the stored texts do not hold yet. Only the entries
        // below those are visited: a publication costs the same however
        // long the journal since the last snapshot is.
        let keep_from = p.state.journal_next.saturating_sub(p.journal_limit as u64).min(p.state.snapshot_next());
        let keys = |tree: &sled::Tree, below: Option<u64>| -> Result<Vec<sled::IVec>, RegistryError> {
            let range = match below {
                Some(seq) => tree.range(journal_key(zone, 0)..journal_key(zone, seq)),
                None => tree.scan_prefix(prefix(zone)),
            };
            range.map(|kv| Ok(kv?.0)).collect()
        };
        // A version without a change set empties the journal.
        let dropped = keys(&self.zone_journal, p.changes.is_some().then_some(keep_from))?;
        let dropped_unsigned = keys(&self.zone_unsigned_journal, Some(p.state.snapshot_next()))?;
        let key = journal_key(zone, new_seq);
        let committed = (&self.zone_state, &self.zone_unsigned, &self.zone_signed, &self.zone_journal, &self.zone_unsigned_journal)
            .transaction(|(states, unsigned, signed, journal, unsigned_journal)| {
                states.insert(zone.as_bytes(), state.as_slice())?;
                if p.snapshot {
                    // The texts are in their files; an older registry's
                    // copies in sled go.
                    unsigned.remove(zone.as_bytes())?;
                    signed.remove(zone.as_bytes())?;
                }
                for key in &dropped {
                    journal.remove(key)?;
                }
                for key in &dropped_unsigned {
                    unsigned_journal.remove(key)?;
                }
                if let Some(c) = p.changes {
                    journal.insert(key.as_slice(), c.as_bytes())?;
                }
                if let (Some(u), false) = (p.unsigned_changes, p.snapshot) {
                    unsigned_journal.insert(key.as_slice(), u.as_bytes())?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => RegistryError::Sled(e),
                TransactionError::Abort(()) => RegistryError::Encode { what: "zone publication", message: "aborted".into() },
            });
        if let Err(e) = committed {
            // The files written for it are named by nothing now.
            if let Some(new) = p.state.snapshot_files.clone().filter(|_| p.snapshot) {
                self.remove_unnamed_texts(new).await;
            }
            return Err(e);
        }
        self.flush().await?;
        if let Some(old) = replaced {
            // Only once the new record is on disk.
            self.remove_unnamed_texts(old).await;
        }
        Ok(())
    }

    /// Removes the files of `files` no stored zone state names. Texts of
    /// different zones never share a file (every record's owner is
    /// absolute); a file still named (a version republished unchanged)
    /// stays. A failure is logged, not returned: the publication stands
    /// either way, and the next start removes what is left.
    async fn remove_unnamed_texts(&self, files: SnapshotFiles) {
        let (registry, what) = (self.clone(), format!("{}, {}", files.unsigned, files.signed));
        let removed = tokio::task::spawn_blocking(move || {
            let states = registry.zone_states()?;
            registry.texts.remove_replaced(&files, &named(states.iter().filter_map(|s| s.snapshot_files.as_ref())))
        })
        .await;
        match removed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("registry: zone texts {what} no version names could not be removed ({e}); the next start removes them"),
            Err(e) => tracing::warn!("registry: removing the zone texts {what} no version names: {e}"),
        }
    }

    /// Writes a snapshot's texts to their files, durably (blocking I/O:
    /// call on the blocking pool), before the publication that names them.
    /// The unsigned text is written as `unsigned` makes it, never held
    /// whole. Returns the files and the texts' length together.
    pub fn write_snapshot(
        &self,
        unsigned: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
        signed: &ZoneText,
    ) -> Result<(SnapshotFiles, u64), RegistryError> {
        let (unsigned, unsigned_len) = self.texts.write_from(unsigned)?;
        let signed_digest = self.texts.write_copy(signed)?;
        Ok((SnapshotFiles { unsigned, signed: signed_digest }, unsigned_len + signed.len()))
    }

    /// The journal entries of `zone` not in its stored texts (signed and
    /// unsigned change sets, oldest first), as recorded in `state`.
    pub fn zone_pending_changes(&self, state: &ZoneStateRecord) -> Result<Vec<(String, String)>, RegistryError> {
        let zone = state.zone.as_str();
        (state.snapshot_next()..state.journal_next)
            .map(|seq| {
                let key = journal_key(zone, seq);
                let missing = |tree: &'static str| RegistryError::Corrupt {
                    tree,
                    key: format!("{zone} #{seq}"),
                    message: "a journal entry the published version needs is missing".into(),
                };
                let signed = self.zone_journal.get(&key)?.ok_or_else(|| missing("zone_journal"))?;
                let unsigned = self.zone_unsigned_journal.get(&key)?.ok_or_else(|| missing("zone_unsigned_journal"))?;
                Ok((text("zone_journal", &key, &unsigned)?, text("zone_journal", &key, &signed)?))
            })
            .collect()
    }

    /// The published state of `zone`.
    pub fn zone_state(&self, zone: &str) -> Result<Option<ZoneStateRecord>, RegistryError> {
        self.zone_state.get(zone.as_bytes())?.map(|v| decode("zone_state", zone.as_bytes(), &v)).transpose()
    }

    /// Every zone with a published state, by name.
    pub fn zone_states(&self) -> Result<Vec<ZoneStateRecord>, RegistryError> {
        self.zone_state
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode("zone_state", &k, &v)
            })
            .collect()
    }

    /// The unsigned and the signed text of `zone`'s published version.
    pub fn zone_texts(&self, zone: &str) -> Result<Option<(String, String)>, RegistryError> {
        match self.zone_state(zone)? {
            Some(state) => self.snapshot_texts(&state).map(Some),
            None => self.sled_texts(zone),
        }
    }

    /// The unsigned and the signed text of the snapshot `state` names
    /// (blocking I/O: call on the blocking pool).
    pub fn snapshot_texts(&self, state: &ZoneStateRecord) -> Result<(String, String), RegistryError> {
        match &state.snapshot_files {
            Some(files) => Ok((self.texts.read(&files.unsigned)?, self.texts.read(&files.signed)?)),
            None => self.sled_texts(&state.zone)?.ok_or_else(|| RegistryError::Corrupt {
                tree: "zone_signed",
                key: state.zone.clone(),
                message: "no published text".into(),
            }),
        }
    }

    /// The texts as registries before [`SnapshotFiles`] kept them.
    fn sled_texts(&self, zone: &str) -> Result<Option<(String, String)>, RegistryError> {
        let key = zone.as_bytes();
        match (self.zone_unsigned.get(key)?, self.zone_signed.get(key)?) {
            (Some(u), Some(s)) => Ok(Some((text("zone_unsigned", key, &u)?, text("zone_signed", key, &s)?))),
            (None, None) => Ok(None),
            _ => Err(RegistryError::Corrupt {
                tree: "zone_signed",
                key: zone.to_string(),
                message: "the unsigned and the signed version are not both there".into(),
            }),
        }
    }

    /// The signed text of `zone`'s snapshot.
    pub fn zone_signed_text(&self, zone: &str) -> Result<Option<String>, RegistryError> {
        match self.zone_state(zone)? {
            Some(ZoneStateRecord { snapshot_files: Some(files), .. }) => self.texts.read(&files.signed).map(Some),
            _ => self.zone_signed.get(zone.as_bytes())?.map(|v| text("zone_signed", zone.as_bytes(), &v)).transpose(),
        }
    }

    /// The journal of `zone`, oldest change set first (IXFR text).
    pub fn zone_journal(&self, zone: &str) -> Result<Vec<String>, RegistryError> {
        self.zone_journal_newest(zone, usize::MAX)
    }

    /// The newest `limit` change sets of `zone`'s journal, oldest first
    /// (what IXFR serves; the journal also holds every entry since the
    /// last snapshot, which may be many more).
    pub fn zone_journal_newest(&self, zone: &str, limit: usize) -> Result<Vec<String>, RegistryError> {
        let mut newest = self
            .zone_journal
            .scan_prefix(prefix(zone))
            .rev()
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                text("zone_journal", &k, &v)
            })
            .collect::<Result<Vec<_>, _>>()?;
        newest.reverse();
        Ok(newest)
    }

    /// Records that `signer` acknowledged `request_id` of `zone` as
    /// published: the request is its baseline now.
    pub fn set_signer_baseline(&self, zone: &str, signer: &str, request_id: &str) -> Result<(), RegistryError> {
        let mut key = prefix(zone);
        key.extend_from_slice(signer.as_bytes());
        self.zone_baselines.insert(key, request_id.as_bytes())?;
        Ok(())
    }

    /// Each signer's baseline request for `zone`, by signer name.
    pub fn signer_baselines(&self, zone: &str) -> Result<BTreeMap<String, String>, RegistryError> {
        let p = prefix(zone);
        self.zone_baselines
            .scan_prefix(&p)
            .map(|kv| {
                let (k, v) = kv?;
                let signer = String::from_utf8_lossy(&k[p.len()..]).into_owned();
                Ok((signer, text("zone_baselines", &k, &v)?))
            })
            .collect()
    }

    /// The signers holding a share of `zone`'s keys whose baseline is not
    /// the version of `published` (the request published last), with the
    /// request whose version they hold (`None`: no baseline at all). Their
    /// next proposal is the whole zone.
    pub fn stale_baselines(&self, zone: &str, published: &str) -> Result<Vec<(String, Option<String>)>, RegistryError> {
        let baselines = self.signer_baselines(zone)?;
        let holders: std::collections::BTreeSet<String> =
            self.key_groups(Some(zone))?.into_iter().filter(|g| g.retired_unix.is_none()).flat_map(|g| g.signers).collect();
        Ok(holders
            .into_iter()
            .filter_map(|signer| match baselines.get(&signer) {
                Some(id) if id == published => None,
                held => {
                    let held = held.cloned();
                    Some((signer, held))
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RECORD_VERSION;

    fn state(serial: u32, journal_next: u64) -> ZoneStateRecord {
        ZoneStateRecord {
            version: RECORD_VERSION,
            zone: "example.".into(),
            serial,
            input_serial: serial,
            request_id: format!("r{serial}"),
            published_unix: 1,
            signatures: 10,
            signatures_made: 4,
            signatures_kept: 6,
            settings: StoredSettings { denial: "nsec".into(), validity_days: 14, serial_policy: "increment".into(), publish_cds: false },
            key_tags: vec![1],
            journal_next,
            snapshot_next: Some(journal_next),
            key_set: None,
            snapshot_bytes: None,
            journal_bytes: None,
            snapshot_files: None,
        }
    }

    /// Publishes `s` as the pipeline does: a snapshot's texts written to
    /// their files first, a change set keeping the files named before.
    async fn publish(r: &Registry, mut s: ZoneStateRecord, texts: Option<(&str, &str)>, changes: Option<&str>, unsigned_changes: Option<&str>) -> Result<ZoneStateRecord, RegistryError> {
        s.snapshot_files = match texts {
            Some((u, t)) => Some(r.write_snapshot(|out| out.write_all(u.as_bytes()), &ZoneText::for_test(t))?.0),
            None => r.zone_state(&s.zone)?.and_then(|old| old.snapshot_files),
        };
        r.publish_zone(&Publication { state: &s, snapshot: texts.is_some(), changes, unsigned_changes, journal_limit: 2 }).await?;
        Ok(s)
    }

    fn text_files(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir.join("zone-texts")).unwrap().count()
    }

    #[tokio::test]
    async fn publications_are_whole_and_the_journal_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let fourth;
        {
            let r = Registry::open(dir.path()).unwrap();
            assert_eq!(r.zone_texts("example.").unwrap(), None);
            publish(&r, state(1, 0), Some(("u1", "s1")), None, None).await.unwrap();
            let mut last = None;
            for serial in 2..=4u32 {
                let changes = format!("c{serial}");
                let (u, t) = (format!("u{serial}"), format!("s{serial}"));
                last = Some(publish(&r, state(serial, u64::from(serial) - 1), Some((&u, &t)), Some(&changes), None).await.unwrap());
            }
            fourth = last.unwrap();
            r.set_signer_baseline("example.", "signer-1", "r4").unwrap();
            r.set_signer_baseline("example.com.", "signer-1", "x").unwrap();
        }
        // Each snapshot replaced the one before: two files, the last ones.
        assert_eq!(text_files(dir.path()), 2);
        let r = Registry::open(dir.path()).unwrap();
        assert_eq!(r.zone_state("example.").unwrap(), Some(fourth));
        assert_eq!(r.zone_texts("example.").unwrap(), Some(("u4".into(), "s4".into())));
        assert_eq!(r.zone_signed_text("example.").unwrap(), Some("s4".into()));
        assert_eq!(r.zone_journal("example.").unwrap(), ["c3", "c4"]);
        assert_eq!(r.signer_baselines("example.").unwrap().into_iter().collect::<Vec<_>>(), [("signer-1".into(), "r4".into())]);
        assert_eq!(r.zone_states().unwrap().len(), 1);
        // A full version without a change set empties the journal.
        publish(&r, state(5, 4), Some(("u5", "s5")), None, None).await.unwrap();
        assert!(r.zone_journal("example.").unwrap().is_empty());
        // Change sets without a snapshot: the texts stay, the entries the
        // version needs are kept beyond the journal limit.
        for serial in 6..=9u32 {
            let mut s = state(serial, u64::from(serial) - 1);
            s.snapshot_next = Some(4);
            let (c, u) = (format!("c{serial}"), format!("uc{serial}"));
            publish(&r, s, None, Some(&c), Some(&u)).await.unwrap();
        }
        assert_eq!(r.zone_texts("example.").unwrap(), Some(("u5".into(), "s5".into())));
        assert_eq!(text_files(dir.path()), 2);
        assert_eq!(r.zone_journal("example.").unwrap(), ["c6", "c7", "c8", "c9"]);
        assert_eq!(r.zone_journal_newest("example.", 2).unwrap(), ["c8", "c9"]);
        let pending = r.zone_pending_changes(&r.zone_state("example.").unwrap().unwrap()).unwrap();
        assert_eq!(pending, [("uc6", "c6"), ("uc7", "c7"), ("uc8", "c8"), ("uc9", "c9")].map(|(a, b)| (a.to_string(), b.to_string())));
        // A snapshot lets the journal shrink to its limit again.
        publish(&r, state(10, 9), Some(("u10", "s10")), Some("c10"), Some("uc10")).await.unwrap();
        assert_eq!(r.zone_journal("example.").unwrap(), ["c9", "c10"]);
        assert!(r.zone_pending_changes(&r.zone_state("example.").unwrap().unwrap()).unwrap().is_empty());
        // Republished unchanged: the files are still named and stay.
        publish(&r, state(10, 10), Some(("u10", "s10")), Some("c11"), Some("uc11")).await.unwrap();
        assert_eq!(r.zone_texts("example.").unwrap(), Some(("u10".into(), "s10".into())));
        // Neither a snapshot nor both change sets: refused. A snapshot
        // whose files are not named: refused.
        let s = state(11, 10);
        assert!(r.publish_zone(&Publication { state: &s, snapshot: false, changes: Some("c11"), unsigned_changes: None, journal_limit: 2 }).await.is_err());
        assert!(r.publish_zone(&Publication { state: &s, snapshot: true, changes: Some("c11"), unsigned_changes: Some("uc11"), journal_limit: 2 }).await.is_err());
    }

    #[tokio::test]
    async fn texts_in_sled_read_until_a_snapshot_moves_them_and_crash_leftovers_go() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A registry written before the texts moved to files.
            let r = Registry::open(dir.path()).unwrap();
            r.zone_state.insert("example.", encode("zone state", &state(1, 0)).unwrap()).unwrap();
            r.zone_unsigned.insert("example.", "u1").unwrap();
            r.zone_signed.insert("example.", "s1").unwrap();
            r.flush().await.unwrap();
            // A crash after a snapshot's files were written, before its record.
            r.write_snapshot(|out| out.write_all(b"u2"), &ZoneText::for_test("s2")).unwrap();
            assert_eq!(text_files(dir.path()), 2);
        }
        let r = Registry::open(dir.path()).unwrap();
        assert_eq!(text_files(dir.path()), 0, "no record names them");
        assert_eq!(r.zone_texts("example.").unwrap(), Some(("u1".into(), "s1".into())));
        // A change set keeps them where they are.
        let mut s = state(2, 1);
        s.snapshot_next = Some(0);
        publish(&r, s, None, Some("c2"), Some("uc2")).await.unwrap();
        assert_eq!(r.zone_signed_text("example.").unwrap(), Some("s1".into()));
        // A snapshot moves them to files, and sled's copies go.
        publish(&r, state(3, 2), Some(("u3", "s3")), Some("c3"), Some("uc3")).await.unwrap();
        assert_eq!(r.zone_texts("example.").unwrap(), Some(("u3".into(), "s3".into())));
        assert!(r.zone_signed.get("example.").unwrap().is_none() && r.zone_unsigned.get("example.").unwrap().is_none());
        // A file changed behind the registry's back is refused, by name.
        let files = r.zone_state("example.").unwrap().unwrap().snapshot_files.unwrap();
        std::fs::write(dir.path().join("zone-texts").join(format!("{}.zone", files.signed)), "s3 changed").unwrap();
        let e = r.zone_texts("example.").unwrap_err().to_string();
        assert!(e.contains(&files.signed) && e.contains("damaged"), "{e}");
    }
}
