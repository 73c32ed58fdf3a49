//! The zone baselines: for each zone, the signed RRsets this signer last
//! saw published, materialized in sled so that an incremental proposal is
//! compared, and a publication applied, at a cost that follows the change
//! rather than the zone.
//!
//! Layout (one sled tree, `baseline_rrsets`; nothing here is secret):
//!
//! * zone key ‖ canonical owner ‖ type (2 octets, big-endian) →
//!   [`StoredRrset`]: one RRset of the baseline (TTL and canonical RDATA).
//! * zone key ‖ `0xff` → [`BaselineState`]: which request the zone's
//!   RRsets reflect, and whether a later publication left them stale.
//!
//! The zone key is the normalized zone name's length (2 octets,
//! big-endian) and text, so no zone's keys are a prefix of another's. The
//! canonical owner is the uncompressed wire form with ASCII letters
//! lowercased (RFC 4034 §6.2 "Canonical RR Form"), which makes owner
//! lookups case-insensitive (RFC 4343). Wire form ends with the root
//! label, so it is self-delimiting: the keys under zone key ‖ owner are
//! exactly that owner's RRsets, one prefix scan per name. Its first octet
//! is a label length (at most 63), never `0xff`, so the state entry sorts
//! apart from every RRset.
//!
//! Keeping state and RRsets in one tree lets every update of a zone's
//! baseline be a single [`sled::Batch`], which sled applies atomically: a
//! reader or a restart sees the old baseline or the new one, never a mix.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use frostzone_dnssec::wire::rrset_from_wire;
use frostzone_dnssec::zone::Rrset;
use frostzone_dnssec::StoredName;
use prost::Message;

use crate::request_store::StoredRrset;
use crate::store::StoreError;

/// Format of [`BaselineState`] this build writes and reads.
pub const BASELINE_FORMAT: u32 = 1;
/// The last octet of a zone's state key (see the module documentation).
const STATE_MARK: u8 = 0xff;

/// Which published request a zone's baseline reflects.
#[derive(Clone, PartialEq, Message)]
pub struct BaselineState {
    /// [`BASELINE_FORMAT`].
    #[prost(uint32, tag = "1")]
    pub format: u32,
    /// The request whose published content the RRsets are.
    #[prost(string, tag = "2")]
    pub request_id: String,
    /// Set when a request was published whose content could not be applied
    /// (an increment on another baseline, or content no longer stored):
    /// the RRsets are then older than what is live, and incremental
    /// proposals are refused until a full proposal is published.
    #[prost(string, tag = "3")]
    pub stale_since: String,
    /// Why it is stale, for messages.
    #[prost(string, tag = "4")]
    pub stale_reason: String,
    /// When it last changed (Unix seconds).
    #[prost(uint64, tag = "5")]
    pub updated_unix: u64,
}

impl BaselineState {
    /// A fresh baseline reflecting request `id`.
    pub fn of(id: &str, now: u64) -> BaselineState {
        BaselineState { format: BASELINE_FORMAT, request_id: id.to_string(), updated_unix: now, ..BaselineState::default() }
    }

    /// Whether a publication left it behind what is live.
    pub fn is_stale(&self) -> bool {
        !self.stale_since.is_empty()
    }
}

/// An RRset of a zone by owner and type, as a key of the baseline tree.
pub fn rrset_key(zone: &str, owner: &[u8], rtype: u16) -> Vec<u8> {
    let mut key = owner_prefix(zone, owner);
    key.extend_from_slice(&rtype.to_be_bytes());
    key
}

fn zone_prefix(zone: &str) -> Vec<u8> {
    // A zone name's presentation form is at most a few kilobytes even
    // with every octet escaped; saturating keeps the key well-formed.
    let len = u16::try_from(zone.len()).unwrap_or(u16::MAX);
    let mut key = len.to_be_bytes().to_vec();
    key.extend_from_slice(zone.as_bytes());
    key
}

/// The prefix of every key of `owner` (uncompressed wire form, any case).
fn owner_prefix(zone: &str, owner: &[u8]) -> Vec<u8> {
    let mut key = zone_prefix(zone);
    // Label length octets are at most 63, below b'A': lowercasing the
    // whole wire form touches only label text.
    key.extend(owner.iter().map(u8::to_ascii_lowercase));
    key
}

fn state_key(zone: &str) -> Vec<u8> {
    let mut key = zone_prefix(zone);
    key.push(STATE_MARK);
    key
}

/// The baseline tree of the signer's sled database.
pub struct Baselines {
    dir: PathBuf,
    tree: sled::Tree,
    /// Entries read so far: lets tests, and later a metric, show that an
    /// incremental proposal reads what it changes, not the zone.
    entries_read: AtomicU64,
}

impl Baselines {
    /// Opens (or creates) the baseline tree of `db`, the database in `dir`.
    pub fn open(db: &sled::Db, dir: &Path) -> Result<Baselines, StoreError> {
        let tree = db
            .open_tree("baseline_rrsets")
            .map_err(|source| StoreError::Sled { dir: dir.to_path_buf(), source })?;
        Ok(Baselines { dir: dir.to_path_buf(), tree, entries_read: AtomicU64::new(0) })
    }

    fn err(&self) -> impl Fn(sled::Error) -> StoreError + '_ {
        move |source| StoreError::Sled { dir: self.dir.clone(), source }
    }

    fn count(&self, n: u64) {
        self.entries_read.fetch_add(n, Ordering::Relaxed);
    }

    /// How many entries were read from the tree since it was opened.
    pub fn entries_read(&self) -> u64 {
        self.entries_read.load(Ordering::Relaxed)
    }

    /// `zone`'s baseline state, or `None` before its first publication.
    pub fn state(&self, zone: &str) -> Result<Option<BaselineState>, StoreError> {
        let Some(value) = self.tree.get(state_key(zone)).map_err(self.err())? else { return Ok(None) };
        self.count(1);
        let state = BaselineState::decode(value.as_ref())
            .map_err(|e| StoreError::Corrupt(format!("baseline state of {zone}: {e}")))?;
        if state.format != BASELINE_FORMAT {
            return Err(StoreError::Corrupt(format!("baseline state of {zone} has format {}", state.format)));
        }
        Ok(Some(state))
    }

    fn decode_rrset(zone: &str, value: &[u8]) -> Result<StoredRrset, StoreError> {
        StoredRrset::decode(value).map_err(|e| StoreError::Corrupt(format!("baseline RRset of {zone}: {e}")))
    }

    fn parse(zone: &str, stored: &StoredRrset) -> Result<Rrset, StoreError> {
        rrset_from_wire(&stored.owner, stored.rtype, stored.ttl, &stored.rdata)
            .map_err(|e| StoreError::Corrupt(format!("baseline RRset of {zone}: {e}")))
    }

    /// The baseline RRset of `owner` and `rtype` in `zone`, if any.
    pub fn rrset(&self, zone: &str, owner: &StoredName, rtype: u16) -> Result<Option<Rrset>, StoreError> {
        let Some(value) = self.tree.get(rrset_key(zone, owner.as_slice(), rtype)).map_err(self.err())? else {
            return Ok(None);
        };
        self.count(1);
        Ok(Some(Baselines::parse(zone, &Baselines::decode_rrset(zone, &value)?)?))
    }

    /// The types `owner` has RRsets of in `zone`'s baseline: one prefix
    /// scan of that name's keys, values not read.
    pub fn owner_types(&self, zone: &str, owner: &StoredName) -> Result<Vec<u16>, StoreError> {
        let prefix = owner_prefix(zone, owner.as_slice());
        let mut types = Vec::new();
        for key in self.tree.scan_prefix(&prefix).keys() {
            let key = key.map_err(self.err())?;
            self.count(1);
            match key.get(prefix.len()..) {
                Some([hi, lo]) => types.push(u16::from_be_bytes([*hi, *lo])),
                _ => return Err(StoreError::Corrupt(format!("baseline of {zone}: a key of {} octets", key.len()))),
            }
        }
        Ok(types)
    }

    /// Every RRset of `zone`'s baseline (for a full proposal, which is
    /// compared with the whole zone), or `None` before its first
    /// publication.
    pub fn rrsets(&self, zone: &str) -> Result<Option<Vec<Rrset>>, StoreError> {
        if self.state(zone)?.is_none() {
            return Ok(None);
        }
        let stored = self.stored_rrsets(zone)?;
        let parsed = stored.iter().map(|s| Baselines::parse(zone, s)).collect::<Result<Vec<_>, _>>()?;
        Ok(Some(parsed))
    }

    fn stored_rrsets(&self, zone: &str) -> Result<Vec<StoredRrset>, StoreError> {
        let state = state_key(zone);
        let mut out = Vec::new();
        for entry in self.tree.scan_prefix(zone_prefix(zone)) {
            let (key, value) = entry.map_err(self.err())?;
            self.count(1);
            if key.as_ref() != state.as_slice() {
                out.push(Baselines::decode_rrset(zone, &value)?);
            }
        }
        Ok(out)
    }

    /// A batch that makes `rrsets` the whole baseline of `zone`, reflecting
    /// `state`: every entry of the zone removed, then the new ones put.
    pub fn replace_batch(&self, zone: &str, state: &BaselineState, rrsets: &[StoredRrset]) -> Result<sled::Batch, StoreError> {
        let mut batch = sled::Batch::default();
        for key in self.tree.scan_prefix(zone_prefix(zone)).keys() {
            self.count(1);
            batch.remove(key.map_err(self.err())?);
        }
        for rrset in rrsets {
            let rtype = u16::try_from(rrset.rtype)
                .map_err(|_| StoreError::Corrupt(format!("an RRset of {zone} with type {}", rrset.rtype)))?;
            batch.insert(rrset_key(zone, &rrset.owner, rtype), rrset.encode_to_vec());
        }
        batch.insert(state_key(zone), state.encode_to_vec());
        Ok(batch)
    }

    /// A batch that applies an increment to `zone`'s baseline: `upserts`
    /// put (replacing any RRset of the same owner and type), `removed`
    /// (owner wire form, type) taken out, and `state` recorded.
    pub fn delta_batch(
        zone: &str,
        state: &BaselineState,
        upserts: &[StoredRrset],
        removed: &[(Vec<u8>, u16)],
    ) -> Result<sled::Batch, StoreError> {
        let mut batch = sled::Batch::default();
        for (owner, rtype) in removed {
            batch.remove(rrset_key(zone, owner, *rtype));
        }
        for rrset in upserts {
            let rtype = u16::try_from(rrset.rtype)
                .map_err(|_| StoreError::Corrupt(format!("an RRset of {zone} with type {}", rrset.rtype)))?;
            batch.insert(rrset_key(zone, &rrset.owner, rtype), rrset.encode_to_vec());
        }
        batch.insert(state_key(zone), state.encode_to_vec());
        Ok(batch)
    }

    /// A batch that only records `state` (the RRsets stay).
    pub fn state_batch(zone: &str, state: &BaselineState) -> sled::Batch {
        let mut batch = sled::Batch::default();
        batch.insert(state_key(zone), state.encode_to_vec());
        batch
    }

    /// Applies `batch` atomically (not flushed: the caller flushes once
    /// its own writes are done).
    pub fn apply(&self, batch: sled::Batch) -> Result<(), StoreError> {
        self.tree.apply_batch(batch).map_err(self.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_zones_owners_and_the_state() {
        // "example." and "example.net." share no key prefix.
        let a = rrset_key("example.", b"\x03www\x07example\x00", 1);
        let b = rrset_key("example.net.", b"\x03www\x07example\x03net\x00", 1);
        assert!(!b.starts_with(&zone_prefix("example.")));
        // Owner case does not matter; a name is not a prefix of its child's keys.
        assert_eq!(a, rrset_key("example.", b"\x03WWW\x07Example\x00", 1));
        let child = rrset_key("example.", b"\x01a\x03www\x07example\x00", 1);
        assert!(!child.starts_with(&owner_prefix("example.", b"\x03www\x07example\x00")));
        assert!(!state_key("example.").starts_with(&owner_prefix("example.", b"\x00")));
    }
}
