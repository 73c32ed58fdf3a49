//! The zone baselines: for each zone, the RRsets this signer last saw
//! published (every signed RRset and the NS RRsets of delegations: what a
//! proposal carries, [`frostzone_dnssec::zone::Zone::proposed_rrsets`]),
//! materialized in sled so that an incremental proposal is compared, its
//! denial records checked ([`frostzone_dnssec::denial::check`]) and a
//! publication applied at a cost that follows the change rather than the
//! zone.
//!
//! Layout (one sled tree, `baseline_canonical`; nothing here is secret):
//!
//! * zone key ‖ [`canonical_key`]`(owner)` ‖ 0x00 ‖ type (2 octets,
//!   big-endian) → [`StoredRrset`]: one RRset of the baseline (TTL and
//!   canonical RDATA).
//! * zone key ‖ 0xff ‖ 0x00 → [`BaselineState`]: which request the zone's
//!   RRsets reflect, and whether a later publication left them stale.
//! * zone key ‖ 0xff ‖ 0x01 ‖ hash → nothing: the hashes of the zone's
//!   NSEC3 owners (RFC 5155 §3), the chain's order for the checks.
//! * zone key ‖ 0xff ‖ 0x02 → a request id: the zone's RRsets are that
//!   full request's content, staged before its publication (below).
//!
//! The zone key is the normalized zone name's length (2 octets,
//! big-endian) and text, so no zone's keys are a prefix of another's.
//! [`canonical_key`] orders names as RFC 4034 §6.1 does, lowercased (RFC
//! 4343), and a name's key is a prefix of its descendants' keys, which
//! continue with an octet of at least 0x01: so a name's RRsets (‖ 0x00)
//! come right before its descendants, a canonical neighbour is one
//! ordered lookup, and a subtree one prefix scan. No encoded name
//! contains 0xff, so the state and the hash index sort after every RRset.
//!
//! Keeping all of a zone's entries in one tree lets an update of its
//! baseline be a single [`sled::Batch`], which sled applies atomically: a
//! reader or a restart sees the old baseline or the new one, never a mix.
//! A whole replacement of more than [`REPLACE_BATCH_WRITES`] writes is
//! split into batches of [`SPLIT_BATCH_WRITES`] to bound sled's memory;
//! its first batch takes the zone's baseline away (a state naming no
//! request) and its last names the new request, so
//! the mix in between is never taken for a baseline
//! ([`Baselines::replace_batches`]).
//!
//! A zone's first publication would write every RRset while the next
//! request waits. Instead, a full request proposed while the zone has no
//! baseline and no entries is *staged*: its RRsets are written in the
//! background while it is being signed ([`crate::staging`]), under a state
//! that names no request, so nothing reads them as a baseline. The stage
//! mark is written last; the publication of that request then only
//! records the state ([`Baselines::adopt_staged_batch`]). Any other
//! replacement removes the mark with the entries it does not keep.
//!
//! Stores of an earlier layout (`baseline_rrsets`, keyed by wire-form
//! owners) are converted once at open ([`Baselines::open`]).

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use frostzone_dnssec::denial::check::ChainSource;
use frostzone_dnssec::denial::nsec3::zone_owner_hash;
use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_dnssec::name::{canonical_key, name_from_canonical_key};
use frostzone_dnssec::wire::{name_from_wire, rrset_from_wire};
use frostzone_dnssec::zone::Rrset;
use frostzone_dnssec::StoredName;
use prost::Message;

use crate::rrset::StoredRrset;
use crate::error::StoreError;

/// Format of [`BaselineState`] this build writes and reads.
pub const BASELINE_FORMAT: u32 = 1;
/// The octet after a zone key that no name's key starts with: the state
/// and the hash index live under it (see the module documentation).
const META_MARK: u8 = 0xff;
/// After [`META_MARK`]: the state.
const STATE_MARK: u8 = 0x00;
/// After [`META_MARK`]: the NSEC3 hash index.
const HASH_MARK: u8 = 0x01;
/// After [`META_MARK`]: the request whose content is staged.
const STAGED_MARK: u8 = 0x02;
/// The tree of the current layout.
const TREE: &str = "baseline_canonical";
/// When this signer first saw each DNSKEY of a zone's baseline: zone →
/// (key tag u16 BE ‖ Unix seconds u64 BE)*.
const KEYS_SEEN_TREE: &str = "baseline_keys_seen";
/// The tree of the earlier layout (wire-form owners).
const OLD_TREE: &str = "baseline_rrsets";
/// Most writes of a replacement applied as one atomic batch
/// ([`Baselines::replace_batches`]); a larger one is split.
pub const REPLACE_BATCH_WRITES: usize = 4096;
/// Most writes in each batch of a split replacement or of staging. sled
/// (0.34) keeps the node versions a batch makes until the batch ends and
/// frees them only a little at each later operation, so batches of
/// thousands of writes in a row pile them up: 233,343 baseline entries
/// written in order in batches of 4,096 took a process to 238-447 MB
/// (three runs), in batches of 256 to 137 MB (`examples/sled_batch_memory.rs`).
pub const SPLIT_BATCH_WRITES: usize = 256;

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
    /// Set when the coordinator claimed the publication of a request this
    /// signer did not approve, without proof that t signers did: the
    /// baseline stays, and every proposal for the zone waits for this
    /// signer's operator until a publication it can accept replaces the
    /// state. The request id.
    #[prost(string, tag = "6")]
    pub unproven_since: String,
    /// Why, for messages.
    #[prost(string, tag = "7")]
    pub unproven_reason: String,
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

    /// Whether RRsets of a published request are there (a state may exist
    /// only to carry the unproven mark of a zone never published here).
    pub fn has_content(&self) -> bool {
        !self.request_id.is_empty()
    }

    /// Why proposals wait for the operator, if an unproven publication was
    /// claimed.
    pub fn unproven(&self) -> Option<String> {
        (!self.unproven_since.is_empty()).then(|| {
            format!(
                "the coordinator claimed request {} was published without proof that enough signers approved it ({}); \
                 this signer's operator decides until a publication it can check",
                self.unproven_since, self.unproven_reason
            )
        })
    }
}

/// An RRset of a zone by owner and type, as a key of the baseline tree.
pub fn rrset_key(zone: &str, owner: &StoredName, rtype: u16) -> Vec<u8> {
    let mut key = owner_prefix(zone, owner);
    key.extend_from_slice(&rtype.to_be_bytes());
    key
}

/// The key of an RRset given by its owner's wire form.
fn rrset_key_of_wire(zone: &str, owner: &[u8], rtype: u16) -> Result<Vec<u8>, StoreError> {
    let name = name_from_wire(owner, "owner").map_err(|e| StoreError::Corrupt(format!("an RRset of {zone}: {e}")))?;
    Ok(rrset_key(zone, &name, rtype))
}

fn zone_prefix(zone: &str) -> Vec<u8> {
    // A zone name's presentation form is at most a few kilobytes even
    // with every octet escaped; saturating keeps the key well-formed.
    let len = u16::try_from(zone.len()).unwrap_or(u16::MAX);
    let mut key = len.to_be_bytes().to_vec();
    key.extend_from_slice(zone.as_bytes());
    key
}

/// The prefix of `owner` and every name below it.
fn subtree_prefix(zone: &str, owner: &StoredName) -> Vec<u8> {
    let mut key = zone_prefix(zone);
    key.extend_from_slice(&canonical_key(owner));
    key
}

/// The prefix of every RRset key of `owner` (any case).
fn owner_prefix(zone: &str, owner: &StoredName) -> Vec<u8> {
    let mut key = subtree_prefix(zone, owner);
    key.push(0x00);
    key
}

fn meta_prefix(zone: &str, mark: u8) -> Vec<u8> {
    let mut key = zone_prefix(zone);
    key.extend_from_slice(&[META_MARK, mark]);
    key
}

fn state_key(zone: &str) -> Vec<u8> {
    meta_prefix(zone, STATE_MARK)
}

fn hash_key(zone: &str, hash: &[u8]) -> Vec<u8> {
    let mut key = meta_prefix(zone, HASH_MARK);
    key.extend_from_slice(hash);
    key
}

/// The hash of an NSEC3 owner of `zone`, if `owner` is one.
fn nsec3_hash_of(zone: &str, owner: &StoredName) -> Option<Vec<u8>> {
    let apex = frostzone_dnssec::name::ZoneName::parse(zone).ok()?.into_apex();
    zone_owner_hash(owner, &apex)
}

/// The owner and type an RRset key of `zone` names.
fn split_rrset_key(zone: &str, key: &[u8]) -> Result<(StoredName, u16), StoreError> {
    let bad = || StoreError::Corrupt(format!("baseline of {zone}: a key of {} octets does not name an RRset", key.len()));
    let body = key.get(zone_prefix(zone).len()..).ok_or_else(bad)?;
    let (owner, tail) = body.split_at(body.len().checked_sub(3).ok_or_else(bad)?);
    match tail {
        [0x00, hi, lo] => Ok((name_from_canonical_key(owner).ok_or_else(bad)?, u16::from_be_bytes([*hi, *lo]))),
        _ => Err(bad()),
    }
}

/// A key of the baseline tree and its value.
type Entry = (Vec<u8>, Vec<u8>);

/// `writes` (a key put to a value, or removed) cut in order into batches
/// of `most` writes each at most.
fn batches_of<K: Into<sled::IVec>>(writes: impl IntoIterator<Item = (K, Option<Vec<u8>>)>, most: usize) -> Vec<sled::Batch> {
    let most = most.max(1);
    let mut batches = Vec::new();
    let mut batch = sled::Batch::default();
    let mut count = 0;
    for (key, value) in writes {
        if count == most {
            batches.push(std::mem::take(&mut batch));
            count = 0;
        }
        match value {
            Some(value) => batch.insert(key, value),
            None => batch.remove(key),
        }
        count += 1;
    }
    if count > 0 {
        batches.push(batch);
    }
    batches
}

/// The writes that replace a zone's entries: a key put (`Some`) or
/// removed (`None`), the state left out ([`Baselines::replacement`]).
#[derive(Debug, Default)]
pub struct Replacement {
    writes: Vec<(sled::IVec, Option<Vec<u8>>)>,
}

impl Replacement {
    /// How many writes.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// No writes: the entries are the ones wanted already.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

/// The baseline tree of the signer's sled database.
pub struct Baselines {
    dir: PathBuf,
    tree: sled::Tree,
    /// Per zone, when this signer first saw each DNSKEY of its baseline
    /// ([`Baselines::keys_seen`]).
    keys_seen: sled::Tree,
    /// Entries read so far: lets tests, and later a metric, show that an
    /// incremental proposal reads what it changes, not the zone.
    entries_read: AtomicU64,
}

impl Baselines {
    /// Opens (or creates) the baseline tree of `db`, the database in `dir`,
    /// converting a tree of the earlier layout first.
    pub fn open(db: &sled::Db, dir: &Path) -> Result<Baselines, StoreError> {
        let err = |source| StoreError::Sled { dir: dir.to_path_buf(), source };
        let tree = db.open_tree(TREE).map_err(err)?;
        let keys_seen = db.open_tree(KEYS_SEEN_TREE).map_err(err)?;
        let baselines = Baselines { dir: dir.to_path_buf(), tree, keys_seen, entries_read: AtomicU64::new(0) };
        if db.tree_names().iter().any(|name| name.as_ref() == OLD_TREE.as_bytes()) {
            baselines.convert(&db.open_tree(OLD_TREE).map_err(err)?)?;
            db.flush().map_err(err)?;
            db.drop_tree(OLD_TREE).map_err(err)?;
            db.flush().map_err(err)?;
        }
        Ok(baselines)
    }

    /// Copies every zone of an earlier-layout tree (zone key ‖ wire-form
    /// owner ‖ type, and zone key ‖ 0xff for the state) into this one, in
    /// one batch.
    fn convert(&self, old: &sled::Tree) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for entry in old.iter() {
            let (key, value) = entry.map_err(self.err())?;
            let len = usize::from(u16::from_be_bytes([key.first().copied().unwrap_or(0), key.get(1).copied().unwrap_or(0)]));
            let zone = key.get(2..2 + len).map(|z| String::from_utf8_lossy(z).into_owned()).unwrap_or_default();
            if key.get(2 + len..) == Some(&[META_MARK][..]) {
                batch.insert(state_key(&zone), value.to_vec());
                continue;
            }
            let rrset = Baselines::decode_rrset(&zone, &value)?;
            let rtype = u16::try_from(rrset.rtype).map_err(|_| StoreError::Corrupt(format!("an RRset of {zone} with type {}", rrset.rtype)))?;
            let owner = name_from_wire(&rrset.owner, "owner").map_err(|e| StoreError::Corrupt(format!("an RRset of {zone}: {e}")))?;
            if rtype == Rtype::NSEC3.to_int() {
                if let Some(hash) = nsec3_hash_of(&zone, &owner) {
                    batch.insert(hash_key(&zone, &hash), Vec::new());
                }
            }
            batch.insert(rrset_key(&zone, &owner, rtype), value.to_vec());
        }
        self.apply(batch)?;
        tracing::info!("zone baselines converted to canonical-order keys");
        Ok(())
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
        let Some(value) = self.tree.get(rrset_key(zone, owner, rtype)).map_err(self.err())? else {
            return Ok(None);
        };
        self.count(1);
        Ok(Some(Baselines::parse(zone, &Baselines::decode_rrset(zone, &value)?)?))
    }

    /// The types `owner` has RRsets of in `zone`'s baseline: one prefix
    /// scan of that name's keys, values not read.
    pub fn owner_types(&self, zone: &str, owner: &StoredName) -> Result<Vec<u16>, StoreError> {
        let prefix = owner_prefix(zone, owner);
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

    /// Every RRset of `zone`'s baseline, held whole (an increment's
    /// denial check on the whole version), or `None` before its first
    /// publication.
    pub fn rrsets(&self, zone: &str) -> Result<Option<Vec<Rrset>>, StoreError> {
        self.rrsets_in_order(zone)?.map(Iterator::collect).transpose()
    }

    /// Every RRset of `zone`'s baseline read one at a time, in canonical
    /// order of owner, then type (the order of the keys): what a full
    /// proposal is compared with ([`frostzone_dnssec::rrset_diff::ZoneDiff::between_ordered`]),
    /// without holding the zone's baseline whole beside the proposal. `None`
    /// before its first publication.
    pub fn rrsets_in_order<'a>(
        &'a self,
        zone: &'a str,
    ) -> Result<Option<impl Iterator<Item = Result<Rrset, StoreError>> + 'a>, StoreError> {
        if !self.state(zone)?.is_some_and(|s| s.has_content()) {
            return Ok(None);
        }
        let entries = self.tree.range(zone_prefix(zone)..meta_prefix(zone, STATE_MARK));
        Ok(Some(entries.map(move |entry| {
            let (_, value) = entry.map_err(self.err())?;
            self.count(1);
            Baselines::parse(zone, &Baselines::decode_rrset(zone, &value)?)
        })))
    }

    /// The zone's baseline as the denial checks read it.
    pub fn source<'a>(&'a self, zone: &'a str) -> BaselineSource<'a> {
        BaselineSource { baselines: self, zone }
    }

    /// The DNSKEY RRset of `zone`'s baseline, if the zone has one: staged
    /// content, or what a split replacement left half-written, is not
    /// what is published.
    pub fn published_dnskeys(&self, zone: &str, apex: &StoredName) -> Result<Option<Rrset>, StoreError> {
        if !self.state(zone)?.is_some_and(|s| s.has_content()) {
            return Ok(None);
        }
        self.rrset(zone, apex, Rtype::DNSKEY.to_int())
    }

    /// Whether a full request's content can be staged for `zone`: the
    /// zone has no baseline and no entries but its state.
    pub fn stageable(&self, zone: &str) -> Result<bool, StoreError> {
        if self.state(zone)?.is_some_and(|s| s.has_content()) {
            return Ok(false);
        }
        let state_key = state_key(zone);
        for key in self.tree.scan_prefix(zone_prefix(zone)).keys().take(2) {
            if key.map_err(self.err())?.as_ref() != state_key.as_slice() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The request whose whole content is staged as `zone`'s entries.
    pub fn staged(&self, zone: &str) -> Result<Option<String>, StoreError> {
        let value = self.tree.get(meta_prefix(zone, STAGED_MARK)).map_err(self.err())?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The batches that put `rrsets` (part of a staged request's content),
    /// [`SPLIT_BATCH_WRITES`] writes each at most: staging needs no batch
    /// to be atomic (its mark goes in last).
    pub fn stage_batches(zone: &str, rrsets: &[StoredRrset]) -> Result<Vec<sled::Batch>, StoreError> {
        let mut writes = Vec::new();
        for rrset in rrsets {
            writes.extend(Baselines::entries(zone, rrset)?.into_iter().map(|(key, value)| (key, Some(value))));
        }
        Ok(batches_of(writes, SPLIT_BATCH_WRITES))
    }

    /// A batch that marks request `id`'s content as staged whole.
    pub fn staged_mark_batch(zone: &str, id: &str) -> sled::Batch {
        let mut batch = sled::Batch::default();
        batch.insert(meta_prefix(zone, STAGED_MARK), id.as_bytes());
        batch
    }

    /// The batch that makes the staged content `zone`'s baseline,
    /// reflecting `state`: the state recorded, the mark taken away.
    pub fn adopt_staged_batch(zone: &str, state: &BaselineState) -> sled::Batch {
        let mut batch = Baselines::state_batch(zone, state);
        batch.remove(meta_prefix(zone, STAGED_MARK));
        batch
    }

    /// The batches that make `rrsets` the whole baseline of `zone`,
    /// reflecting `state`, to apply in order. Only what differs from the
    /// baseline is written: every entry of the zone that is not in
    /// `rrsets` removed, every new or changed one put. A whole version
    /// whose RRsets barely change (a rollover, a full re-sign, a recovery)
    /// is a few writes rather than the zone again.
    ///
    /// Up to [`REPLACE_BATCH_WRITES`] writes are one batch, applied
    /// atomically. More are split: sled keeps every node version a batch
    /// makes until the batch ends, so one batch of a whole zone held
    /// hundreds of megabytes. The first batch then records a state without
    /// content (no request: incremental proposals are refused, full ones
    /// are judged as for a first publication) and the last one `state`, so
    /// a reader or a restart in between never takes the mix for a
    /// baseline, and the coordinator's repeated Published call finishes the
    /// replacement (what is already written is not written again).
    ///
    /// `rrsets` given owned (a `Vec`) are let go one by one as their
    /// entries are made: a whole zone's RRsets, its entries and its
    /// batches are not held all at once.
    pub fn replace_batches(&self, zone: &str, state: &BaselineState, rrsets: impl IntoIterator<Item = impl Borrow<StoredRrset>>) -> Result<Vec<sled::Batch>, StoreError> {
        Ok(Baselines::replacement_batches(zone, state, self.replacement(zone, rrsets)?))
    }

    /// The writes that make `rrsets` the whole of `zone`'s entries (its
    /// state aside): what [`Baselines::replace_batches`] applies. Valid
    /// while the zone's state is the one read before (every change of
    /// the entries writes the state too).
    pub fn replacement(&self, zone: &str, rrsets: impl IntoIterator<Item = impl Borrow<StoredRrset>>) -> Result<Replacement, StoreError> {
        let mut wanted: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for rrset in rrsets {
            for (key, value) in Baselines::entries(zone, rrset.borrow())? {
                wanted.insert(key, value);
            }
        }
        let state_key = state_key(zone);
        let mut writes: Vec<(sled::IVec, Option<Vec<u8>>)> = Vec::new();
        for entry in self.tree.scan_prefix(zone_prefix(zone)) {
            let (key, value) = entry.map_err(self.err())?;
            self.count(1);
            match wanted.remove(key.as_ref()) {
                Some(new) if new.as_slice() == value.as_ref() => {}
                Some(new) => writes.push((key, Some(new))),
                None if key.as_ref() == state_key.as_slice() => {}
                None => writes.push((key, None)),
            }
        }
        writes.extend(wanted.into_iter().map(|(key, value)| (sled::IVec::from(key), Some(value))));
        Ok(Replacement { writes })
    }

    /// The writes that apply an increment to `zone`'s entries: `removed`
    /// (owner wire form, type) taken out, and of `upserts` only the
    /// entries that differ from what is stored. An increment that signs
    /// every RRset again (a re-sign on the baseline) writes next to
    /// nothing. Valid while the zone's state is the one read before.
    pub fn delta_replacement(&self, zone: &str, upserts: &[StoredRrset], removed: &[(Vec<u8>, u16)]) -> Result<Replacement, StoreError> {
        let mut writes: Vec<(sled::IVec, Option<Vec<u8>>)> = Vec::new();
        for (owner, rtype) in removed {
            if *rtype == Rtype::NSEC3.to_int() {
                let name = name_from_wire(owner, "owner").map_err(|e| StoreError::Corrupt(format!("an RRset of {zone}: {e}")))?;
                if let Some(hash) = nsec3_hash_of(zone, &name) {
                    writes.push((hash_key(zone, &hash).into(), None));
                }
            }
            writes.push((rrset_key_of_wire(zone, owner, *rtype)?.into(), None));
        }
        for rrset in upserts {
            for (key, value) in Baselines::entries(zone, rrset)? {
                self.count(1);
                if self.tree.get(&key).map_err(self.err())?.is_none_or(|old| old.as_ref() != value.as_slice()) {
                    writes.push((key.into(), Some(value)));
                }
            }
        }
        Ok(Replacement { writes })
    }

    /// `replacement` as batches ending with `state` (see
    /// [`Baselines::replace_batches`]).
    pub fn replacement_batches(zone: &str, state: &BaselineState, replacement: Replacement) -> Vec<sled::Batch> {
        let Replacement { writes } = replacement;
        let state_key = state_key(zone);
        let total = writes.len();
        let mut batches = Vec::new();
        if total >= REPLACE_BATCH_WRITES {
            let replacing = BaselineState { format: BASELINE_FORMAT, updated_unix: state.updated_unix, ..BaselineState::default() };
            batches.push(Baselines::state_batch(zone, &replacing));
        }
        let most = if total >= REPLACE_BATCH_WRITES { SPLIT_BATCH_WRITES } else { total };
        batches.extend(batches_of(writes, most));
        match batches.last_mut() {
            Some(last) if total < REPLACE_BATCH_WRITES => last.insert(state_key, state.encode_to_vec()),
            _ => batches.push(Baselines::state_batch(zone, state)),
        }
        batches
    }

    /// Puts `rrset` (and, for an NSEC3 owner, its hash) into `batch`.
    fn put(batch: &mut sled::Batch, zone: &str, rrset: &StoredRrset) -> Result<(), StoreError> {
        for (key, value) in Baselines::entries(zone, rrset)? {
            batch.insert(key, value);
        }
        Ok(())
    }

    /// The entries (key, value) that hold `rrset`: the RRset, and for an
    /// NSEC3 owner its hash in the index.
    fn entries(zone: &str, rrset: &StoredRrset) -> Result<Vec<Entry>, StoreError> {
        let rtype =
            u16::try_from(rrset.rtype).map_err(|_| StoreError::Corrupt(format!("an RRset of {zone} with type {}", rrset.rtype)))?;
        let owner = name_from_wire(&rrset.owner, "owner").map_err(|e| StoreError::Corrupt(format!("an RRset of {zone}: {e}")))?;
        let mut entries = Vec::with_capacity(2);
        if rtype == Rtype::NSEC3.to_int() {
            if let Some(hash) = nsec3_hash_of(zone, &owner) {
                entries.push((hash_key(zone, &hash), Vec::new()));
            }
        }
        entries.push((rrset_key(zone, &owner, rtype), rrset.encode_to_vec()));
        Ok(entries)
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
            if *rtype == Rtype::NSEC3.to_int() {
                let name = name_from_wire(owner, "owner").map_err(|e| StoreError::Corrupt(format!("an RRset of {zone}: {e}")))?;
                if let Some(hash) = nsec3_hash_of(zone, &name) {
                    batch.remove(hash_key(zone, &hash));
                }
            }
            batch.remove(rrset_key_of_wire(zone, owner, *rtype)?);
        }
        for rrset in upserts {
            Baselines::put(&mut batch, zone, rrset)?;
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

    /// When this signer first saw each DNSKEY (by tag) of `zone`'s
    /// baseline, by its own clock: what a `key_changes = "rollover"` policy
    /// times a key's successor by ([`crate::key_step`]).
    pub fn keys_seen(&self, zone: &str) -> Result<BTreeMap<u16, u64>, StoreError> {
        let value = self.keys_seen.get(zone.as_bytes()).map_err(self.err())?.unwrap_or_default();
        if value.len() % 10 != 0 {
            return Err(StoreError::Corrupt(format!("first-seen times of the DNSKEYs of {zone}: {} octets", value.len())));
        }
        Ok(value
            .chunks_exact(10)
            .map(|c| (u16::from_be_bytes([c[0], c[1]]), u64::from_be_bytes([c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]])))
            .collect())
    }

    /// Records the DNSKEYs of `zone`'s baseline as just updated at `now`:
    /// a key seen before keeps its time, a new one gets `now`; with no
    /// record at all yet (a baseline older than these records), the keys
    /// there before (`old_tags`) count from the baseline's last update
    /// before this one, `previous_update`.
    pub fn note_keys_seen(&self, zone: &str, old_tags: &BTreeSet<u16>, previous_update: u64, now: u64) -> Result<(), StoreError> {
        let apex = frostzone_dnssec::name::ZoneName::parse(zone).map_err(|e| StoreError::Corrupt(format!("zone {zone}: {e}")))?.into_apex();
        let tags = self.dnskey_tags(zone, &apex)?;
        let before = self.keys_seen(zone)?;
        let fallback = if before.is_empty() { previous_update } else { now };
        let seen = keys_seen(&before, old_tags, &tags, now, fallback);
        let value: Vec<u8> = seen.iter().flat_map(|(t, s)| t.to_be_bytes().into_iter().chain(s.to_be_bytes())).collect();
        self.keys_seen.insert(zone.as_bytes(), value).map_err(self.err())?;
        Ok(())
    }

    /// The key tags of the DNSKEY RRset of `zone`'s baseline.
    pub fn dnskey_tags(&self, zone: &str, apex: &StoredName) -> Result<BTreeSet<u16>, StoreError> {
        let rrset = self.published_dnskeys(zone, apex)?;
        Ok(rrset
            .map(|r| r.rdata)
            .unwrap_or_default()
            .iter()
            .filter_map(|rd| match rd.data() {
                frostzone_dnssec::domain::rdata::ZoneRecordData::Dnskey(k) => Some(k.key_tag()),
                _ => None,
            })
            .collect())
    }

    /// Applies `batch` atomically (not flushed: the caller flushes once
    /// its own writes are done).
    pub fn apply(&self, batch: sled::Batch) -> Result<(), StoreError> {
        self.tree.apply_batch(batch).map_err(self.err())
    }

    /// Applies `batches` in order, each atomically (not flushed).
    pub fn apply_all(&self, batches: Vec<sled::Batch>) -> Result<(), StoreError> {
        batches.into_iter().try_for_each(|b| self.apply(b))
    }
}

/// The first-seen times of the DNSKEYs `tags` now in the baseline: kept
/// from `before` for a key still there, `now` for a new one; a key that
/// was there without a time (a baseline older than these records) gets
/// `fallback`, when that baseline was last updated.
pub fn keys_seen(before: &BTreeMap<u16, u64>, old_tags: &BTreeSet<u16>, tags: &BTreeSet<u16>, now: u64, fallback: u64) -> BTreeMap<u16, u64> {
    tags.iter()
        .map(|t| {
            let since = match before.get(t) {
                Some(s) => *s,
                None if old_tags.contains(t) => fallback,
                None => now,
            };
            (*t, since)
        })
        .collect()
}

/// One zone's baseline as [`ChainSource`] (the previous version an
/// incremental proposal's denial records are checked against): each
/// method one ordered lookup or one prefix scan.
pub struct BaselineSource<'a> {
    baselines: &'a Baselines,
    zone: &'a str,
}

impl BaselineSource<'_> {
    fn first_key(&self, range: impl std::ops::RangeBounds<Vec<u8>>, back: bool) -> Result<Option<sled::IVec>, StoreError> {
        let mut iter = self.baselines.tree.range(range);
        let found = if back { iter.next_back() } else { iter.next() };
        self.baselines.count(1);
        found.map(|e| e.map(|(k, _)| k).map_err(self.baselines.err())).transpose()
    }

    fn hash_of(&self, key: Option<sled::IVec>) -> Option<Vec<u8>> {
        key.map(|k| k[meta_prefix(self.zone, HASH_MARK).len()..].to_vec())
    }
}

impl ChainSource for BaselineSource<'_> {
    type Error = StoreError;

    fn types(&self, name: &StoredName) -> Result<Vec<Rtype>, StoreError> {
        Ok(self.baselines.owner_types(self.zone, name)?.into_iter().map(Rtype::from_int).collect())
    }

    fn rrset(&self, name: &StoredName, rtype: Rtype) -> Result<Option<Rrset>, StoreError> {
        self.baselines.rrset(self.zone, name, rtype.to_int())
    }

    fn next_name(&self, after: Option<&StoredName>) -> Result<Option<StoredName>, StoreError> {
        let start = match after {
            Some(name) => {
                let mut key = subtree_prefix(self.zone, name);
                key.push(0x01);
                key
            }
            None => zone_prefix(self.zone),
        };
        let end = meta_prefix(self.zone, STATE_MARK);
        self.first_key(start..end, false)?.map(|k| split_rrset_key(self.zone, &k).map(|(n, _)| n)).transpose()
    }

    fn prev_name(&self, before: Option<&StoredName>) -> Result<Option<StoredName>, StoreError> {
        let end = match before {
            Some(name) => subtree_prefix(self.zone, name),
            None => meta_prefix(self.zone, STATE_MARK),
        };
        self.first_key(zone_prefix(self.zone)..end, true)?.map(|k| split_rrset_key(self.zone, &k).map(|(n, _)| n)).transpose()
    }

    fn descendants(&self, name: &StoredName, visit: &mut dyn FnMut(&StoredName, &[Rtype]) -> ControlFlow<()>) -> Result<(), StoreError> {
        let prefix = subtree_prefix(self.zone, name);
        let mut start = prefix.clone();
        start.push(0x01);
        let mut current: Option<(StoredName, Vec<Rtype>)> = None;
        for key in self.baselines.tree.range(start..).keys() {
            let key = key.map_err(self.baselines.err())?;
            self.baselines.count(1);
            if !key.starts_with(&prefix) {
                break;
            }
            let (owner, rtype) = split_rrset_key(self.zone, &key)?;
            match &mut current {
                Some((n, types)) if *n == owner => types.push(Rtype::from_int(rtype)),
                _ => {
                    if let Some((n, types)) = current.take() {
                        if visit(&n, &types).is_break() {
                            return Ok(());
                        }
                    }
                    current = Some((owner, vec![Rtype::from_int(rtype)]));
                }
            }
        }
        if let Some((n, types)) = current {
            let _ = visit(&n, &types);
        }
        Ok(())
    }

    fn next_hash(&self, after: Option<&[u8]>) -> Result<Option<Vec<u8>>, StoreError> {
        use std::ops::Bound;
        let start = match after {
            Some(h) => Bound::Excluded(hash_key(self.zone, h)),
            None => Bound::Included(meta_prefix(self.zone, HASH_MARK)),
        };
        let end = Bound::Excluded(meta_prefix(self.zone, HASH_MARK + 1));
        Ok(self.hash_of(self.first_key((start, end), false)?))
    }

    fn prev_hash(&self, before: Option<&[u8]>) -> Result<Option<Vec<u8>>, StoreError> {
        use std::ops::Bound;
        let start = Bound::Included(meta_prefix(self.zone, HASH_MARK));
        let end = match before {
            Some(h) => Bound::Excluded(hash_key(self.zone, h)),
            None => Bound::Excluded(meta_prefix(self.zone, HASH_MARK + 1)),
        };
        Ok(self.hash_of(self.first_key((start, end), true)?))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn first_seen_times_carry_over() {
        let before = BTreeMap::from([(1, 100)]);
        let seen = keys_seen(&before, &BTreeSet::from([1, 2]), &BTreeSet::from([1, 2, 3]), 500, 300);
        assert_eq!(seen, BTreeMap::from([(1, 100), (2, 300), (3, 500)]));
    }

    use super::*;

    fn name(text: &str) -> StoredName {
        text.parse().unwrap()
    }

    /// A store of the earlier layout (wire-form owners, the state under
    /// zone key ‖ 0xff) is converted at open: same state, same RRsets,
    /// the NSEC3 hash index built.
    #[test]
    fn an_earlier_layout_is_converted_once() {
        use frostzone_dnssec::wire::name_to_wire;
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let zone = "example.";
        let hash = [7u8; 20];
        let hashed = frostzone_dnssec::denial::Nsec3Config::hashed_owner(&hash, &name("example.")).unwrap();
        let rrsets = [
            StoredRrset { owner: name_to_wire(&name("www.example.")), rtype: 1, ttl: 300, rdata: vec![vec![192, 0, 2, 1]] },
            StoredRrset { owner: name_to_wire(&hashed), rtype: 50, ttl: 300, rdata: vec![[&[1, 0, 0, 0, 0, 20][..], &[8; 20]].concat()] },
        ];
        {
            let old = db.open_tree(OLD_TREE).unwrap();
            for r in &rrsets {
                let mut key = zone_prefix(zone);
                key.extend(r.owner.iter().map(u8::to_ascii_lowercase));
                key.extend_from_slice(&(r.rtype as u16).to_be_bytes());
                old.insert(key, r.encode_to_vec()).unwrap();
            }
            let mut key = zone_prefix(zone);
            key.push(0xff);
            old.insert(key, BaselineState::of("00112233445566778899aabbccddeeff", 1).encode_to_vec()).unwrap();
        }
        let baselines = Baselines::open(&db, dir.path()).unwrap();
        assert!(!db.tree_names().iter().any(|n| n.as_ref() == OLD_TREE.as_bytes()));
        assert_eq!(baselines.state(zone).unwrap().unwrap().request_id, "00112233445566778899aabbccddeeff");
        assert!(baselines.rrset(zone, &name("WWW.example."), 1).unwrap().is_some());
        let source = baselines.source(zone);
        assert_eq!(source.next_hash(None).unwrap(), Some(hash.to_vec()));
        assert_eq!(source.next_name(None).unwrap(), Some(hashed.clone()));
        assert_eq!(source.next_name(Some(&hashed)).unwrap(), Some(name("www.example.")));
        assert_eq!(source.prev_name(None).unwrap(), Some(name("www.example.")));
        assert_eq!(baselines.rrsets(zone).unwrap().unwrap().len(), 2);
    }

    #[test]
    fn keys_separate_zones_owners_and_the_state() {
        // "example." and "example.net." share no key prefix.
        let a = rrset_key("example.", &name("www.example."), 1);
        let b = rrset_key("example.net.", &name("www.example.net."), 1);
        assert!(!b.starts_with(&zone_prefix("example.")));
        // Owner case does not matter; a name's own RRsets are not a child's.
        assert_eq!(a, rrset_key("example.", &name("WWW.Example."), 1));
        let child = rrset_key("example.", &name("a.www.example."), 1);
        assert!(!child.starts_with(&owner_prefix("example.", &name("www.example."))));
        assert!(child.starts_with(&subtree_prefix("example.", &name("www.example."))));
        // Canonical order: a name, then its descendants, then the next name.
        let after = rrset_key("example.", &name("wwx.example."), 1);
        assert!(a < child && child < after);
        // The state and the hash index sort after every RRset.
        assert!(state_key("example.") > after && hash_key("example.", &[0; 20]) > state_key("example."));
        assert_eq!(split_rrset_key("example.", &child).unwrap(), (name("a.www.example."), 1));
    }

    /// Replacing a baseline whole writes only what differs, and leaves
    /// exactly the new RRsets, NSEC3 hash index and state; another zone's
    /// entries are not touched.
    #[test]
    fn a_whole_replacement_writes_only_the_difference() {
        use frostzone_dnssec::wire::name_to_wire;
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let baselines = Baselines::open(&db, dir.path()).unwrap();
        let a = |owner: &str, last: u8| StoredRrset { owner: name_to_wire(&name(owner)), rtype: 1, ttl: 300, rdata: vec![vec![192, 0, 2, last]] };
        let nsec3 = |hash: u8| {
            let owner = frostzone_dnssec::denial::Nsec3Config::hashed_owner(&[hash; 20], &name("example.")).unwrap();
            StoredRrset { owner: name_to_wire(&owner), rtype: 50, ttl: 300, rdata: vec![[&[1, 0, 0, 0, 0, 20][..], &[hash; 20]].concat()] }
        };
        let first = [a("a.example.", 1), a("b.example.", 2), a("c.example.", 3), nsec3(1), nsec3(2)];
        baselines.apply_all(baselines.replace_batches("example.", &BaselineState::of("r1", 1), &first).unwrap()).unwrap();
        baselines.apply_all(baselines.replace_batches("example.net.", &BaselineState::of("n1", 1), &[a("x.example.net.", 9)]).unwrap()).unwrap();
        let all = |zone: &str| -> Vec<(Vec<u8>, Vec<u8>)> {
            baselines.tree.scan_prefix(zone_prefix(zone)).map(|e| e.unwrap()).map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
        };
        let other = all("example.net.");
        // b unchanged, a changed, c and one NSEC3 gone, d and another NSEC3 new.
        let second = [a("a.example.", 10), a("b.example.", 2), a("d.example.", 4), nsec3(2), nsec3(3)];
        let batch = single(baselines.replace_batches("example.", &BaselineState::of("r2", 2), &second).unwrap());
        // sled's batch shows its writes only through Debug: count them.
        let writes = |batch: &sled::Batch| {
            let text = format!("{batch:?}");
            (text.matches("Some(").count(), text.matches("None").count())
        };
        // Puts: a, d, the new NSEC3 and its hash, the state. Removals: c,
        // the old NSEC3 and its hash.
        assert_eq!(writes(&batch), (5, 3), "{batch:?}");
        baselines.apply(batch).unwrap();
        // The same as a baseline written from nothing.
        let fresh_dir = tempfile::tempdir().unwrap();
        let fresh_db = sled::open(fresh_dir.path()).unwrap();
        let fresh = Baselines::open(&fresh_db, fresh_dir.path()).unwrap();
        fresh.apply_all(fresh.replace_batches("example.", &BaselineState::of("r2", 2), &second).unwrap()).unwrap();
        let fresh_all: Vec<_> = fresh.tree.scan_prefix(zone_prefix("example.")).map(|e| e.unwrap()).map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        assert_eq!(all("example."), fresh_all);
        assert_eq!(all("example.net."), other);
        // Replacing with the same content writes the state alone.
        let again = single(baselines.replace_batches("example.", &BaselineState::of("r3", 3), &second).unwrap());
        assert_eq!(writes(&again), (1, 0), "{again:?}");
    }

    fn single(mut batches: Vec<sled::Batch>) -> sled::Batch {
        assert_eq!(batches.len(), 1, "a small replacement is one atomic batch");
        batches.remove(0)
    }

    /// A replacement of more than [`REPLACE_BATCH_WRITES`] writes is split:
    /// the first batch leaves the zone without a baseline (no request), the
    /// last one names the new request. Cut short after any batch (a crash),
    /// the zone has no baseline, and replacing again finishes the job
    /// without writing again what is already there.
    #[test]
    fn a_large_replacement_is_split_and_can_be_finished_after_a_crash() {
        use frostzone_dnssec::wire::name_to_wire;
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let baselines = Baselines::open(&db, dir.path()).unwrap();
        let rrsets: Vec<StoredRrset> = (0..REPLACE_BATCH_WRITES * 2 + 100)
            .map(|i| StoredRrset { owner: name_to_wire(&name(&format!("n{i}.example."))), rtype: 1, ttl: 300, rdata: vec![vec![192, 0, 2, (i % 250) as u8]] })
            .collect();
        baselines.apply_all(baselines.replace_batches("example.", &BaselineState::of("r0", 1), &rrsets[..10]).unwrap()).unwrap();
        let batches = baselines.replace_batches("example.", &BaselineState::of("r1", 2), &rrsets).unwrap();
        // The mark, batches of at most SPLIT_BATCH_WRITES writes, the state.
        let writes = |batch: &sled::Batch| format!("{batch:?}").matches("Some(").count();
        // (The first ten RRsets are there already.)
        assert_eq!(batches.len(), (rrsets.len() - 10).div_ceil(SPLIT_BATCH_WRITES) + 2);
        assert!(batches.iter().all(|b| writes(b) <= SPLIT_BATCH_WRITES));
        let applied = batches.len() - 2;
        for (n, batch) in batches.into_iter().take(applied).enumerate() {
            baselines.apply(batch).unwrap();
            let state = baselines.state("example.").unwrap().unwrap();
            assert!(!state.has_content(), "after batch {n}: {state:?}");
            assert!(baselines.rrsets("example.").unwrap().is_none());
        }
        // Finished by the repeated publication: only the rest is written,
        // in one atomic batch with the state.
        let rest = baselines.replace_batches("example.", &BaselineState::of("r1", 2), &rrsets).unwrap();
        let left: usize = rest.iter().map(writes).sum();
        assert!(left <= SPLIT_BATCH_WRITES, "{left} writes to finish");
        assert_eq!(rest.len(), 1);
        // Staging writes in batches as small, every RRset once.
        let staged = Baselines::stage_batches("example.", &rrsets).unwrap();
        assert!(staged.iter().all(|b| writes(b) <= SPLIT_BATCH_WRITES));
        assert_eq!(staged.iter().map(writes).sum::<usize>(), rrsets.len());
        baselines.apply_all(rest).unwrap();
        assert_eq!(baselines.state("example.").unwrap().unwrap().request_id, "r1");
        assert_eq!(baselines.rrsets("example.").unwrap().unwrap().len(), rrsets.len());
    }

    /// Staged content is no baseline until it is adopted: no RRsets, no
    /// published DNSKEYs, no staging over entries; adopting it writes the
    /// state alone, and any other replacement takes the mark away.
    #[test]
    fn staged_content_becomes_the_baseline_only_when_adopted() {
        use frostzone_dnssec::wire::name_to_wire;
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let baselines = Baselines::open(&db, dir.path()).unwrap();
        let (zone, apex) = ("example.", name("example."));
        let dnskey = StoredRrset { owner: name_to_wire(&apex), rtype: 48, ttl: 3600, rdata: vec![[&[1, 1, 3, 15][..], &[9; 32]].concat()] };
        let www = StoredRrset { owner: name_to_wire(&name("www.example.")), rtype: 1, ttl: 300, rdata: vec![vec![192, 0, 2, 1]] };
        assert!(baselines.stageable(zone).unwrap());
        baselines.apply_all(Baselines::stage_batches(zone, &[dnskey.clone(), www.clone()]).unwrap()).unwrap();
        assert!(!baselines.stageable(zone).unwrap(), "entries are there");
        assert_eq!(baselines.staged(zone).unwrap(), None, "no mark before the last chunk");
        baselines.apply(Baselines::staged_mark_batch(zone, "r1")).unwrap();
        assert_eq!(baselines.staged(zone).unwrap().as_deref(), Some("r1"));
        assert!(baselines.rrsets(zone).unwrap().is_none());
        assert!(baselines.rrset(zone, &apex, 48).unwrap().is_some());
        assert!(baselines.published_dnskeys(zone, &apex).unwrap().is_none());
        assert!(baselines.dnskey_tags(zone, &apex).unwrap().is_empty());
        baselines.apply(Baselines::adopt_staged_batch(zone, &BaselineState::of("r1", 5))).unwrap();
        assert_eq!(baselines.staged(zone).unwrap(), None);
        assert_eq!(baselines.state(zone).unwrap().unwrap().request_id, "r1");
        assert_eq!(baselines.rrsets(zone).unwrap().unwrap().len(), 2);
        assert_eq!(baselines.dnskey_tags(zone, &apex).unwrap().len(), 1);
        // Staged again over nothing, then replaced by other content: the
        // mark goes with the entries the replacement does not keep.
        let dir2 = tempfile::tempdir().unwrap();
        let db2 = sled::open(dir2.path()).unwrap();
        let other = Baselines::open(&db2, dir2.path()).unwrap();
        other.apply_all(Baselines::stage_batches(zone, &[dnskey, www.clone()]).unwrap()).unwrap();
        other.apply(Baselines::staged_mark_batch(zone, "r1")).unwrap();
        other.apply_all(other.replace_batches(zone, &BaselineState::of("r2", 6), std::slice::from_ref(&www)).unwrap()).unwrap();
        assert_eq!(other.staged(zone).unwrap(), None);
        assert_eq!(other.rrsets(zone).unwrap().unwrap().len(), 1);
    }
}
