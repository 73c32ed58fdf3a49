//! The request store: what this signer was proposed and what it decided,
//! in sled beside the key shares ([`crate::store`]).
//!
//! Layout (sled trees; nothing here is secret, so nothing is sealed):
//!
//! * `requests`: request id → [`StoredRequest`] (prost), the decision and
//!   its history. Records are kept for good; only content is pruned.
//! * `request_digests`: request id → the item digests
//!   ([`frostzone_proto::content::item_digest`]), 32 octets each, sorted:
//!   what a Commit under the request may contain.
//! * `request_rrsets`: request id ‖ 0 ‖ chunk number (4 octets,
//!   big-endian) → [`RrsetChunk`]: for a full proposal every RRset it
//!   proposes, one per owner and type, in canonical order; for an
//!   incremental one only its delta (the RRsets it puts, and the RRsets of
//!   its baseline it removes). Chunked so that no sled value grows with
//!   the zone.
//! * `request_lines`: request id → [`DiffLines`], the `+`/`-` lines an
//!   operator reviews (capped).
//! * `baseline_rrsets`: each zone's published content, materialized
//!   ([`crate::baseline`]). Publication replaces it (full request) or
//!   applies the request's delta (incremental request) in one atomic
//!   batch, and only then marks the request published: a crash in between
//!   is finished by the Published call the coordinator repeats.
//!
//! A new request's content is written before its record, so a record
//! never names content that is not there; every write is flushed before
//! the caller answers.
//!
//! Stores written before baselines were materialized kept a `baselines`
//! tree (zone → id of the request whose stored RRsets were the baseline);
//! [`RequestStore::open`] materializes those once and drops the pointers.

use std::path::{Path, PathBuf};

use frostzone_proto::v1;
use prost::Message;

use crate::baseline::{BaselineState, Baselines};
use crate::error::StoreError;
use crate::rrset::{StoredRrset, StoredRrsetRef};

/// Format of [`StoredRequest`] this build writes and reads.
pub const REQUEST_FORMAT: u32 = 1;
/// RRsets per stored chunk: about a megabyte for typical records.
pub const RRSETS_PER_CHUNK: usize = 4096;

/// An RRset an increment removes: owner (wire form) and type.
pub type RemovedRrset = (Vec<u8>, u16);

/// One request as this signer knows it.
#[derive(Clone, PartialEq, Message)]
pub struct StoredRequest {
    /// [`REQUEST_FORMAT`].
    #[prost(uint32, tag = "1")]
    pub format: u32,
    /// The request id (lowercase hex, the coordinator's session id).
    #[prost(string, tag = "2")]
    pub id: String,
    /// The zone, normalized.
    #[prost(string, tag = "3")]
    pub zone: String,
    /// SHA-256 content hash of every item in order.
    #[prost(bytes = "vec", tag = "4")]
    pub content_hash: Vec<u8>,
    /// A [`v1::RequestState`] value.
    #[prost(int32, tag = "5")]
    pub state: i32,
    /// Why it is pending, rejected, expired or failed.
    #[prost(string, tag = "6")]
    pub reason: String,
    /// "policy" or the operator who decided.
    #[prost(string, tag = "7")]
    pub decided_by: String,
    /// When it was proposed (Unix seconds).
    #[prost(uint64, tag = "8")]
    pub created_unix: u64,
    /// When it expires if still pending.
    #[prost(uint64, tag = "9")]
    pub expires_unix: u64,
    /// When it was approved (0: not approved).
    #[prost(uint64, tag = "10")]
    pub approved_unix: u64,
    /// The operator certificate that submitted it to the coordinator.
    #[prost(string, tag = "11")]
    pub submitted_by: String,
    /// What it changes against the baseline.
    #[prost(message, optional, tag = "12")]
    pub changes: Option<v1::ChangeSummary>,
    /// The keys it asks signatures of.
    #[prost(message, repeated, tag = "13")]
    pub keys: Vec<v1::KeyInvolved>,
    /// Items in the request.
    #[prost(uint64, tag = "14")]
    pub item_count: u64,
    /// Lines of the whole diff (more than stored when capped).
    #[prost(uint64, tag = "15")]
    pub total_lines: u64,
    /// Its RRsets and lines are stored.
    #[prost(bool, tag = "16")]
    pub content_stored: bool,
    /// Its item digests are stored.
    #[prost(bool, tag = "17")]
    pub digests_stored: bool,
    /// When it reached its current state (Unix seconds).
    #[prost(uint64, tag = "18")]
    pub state_unix: u64,
    /// An incremental proposal: its stored content is a delta on
    /// `baseline_request_id`'s published content.
    #[prost(bool, tag = "19")]
    pub incremental: bool,
    /// (incremental) The request whose published content it applies to.
    #[prost(string, tag = "20")]
    pub baseline_request_id: String,
    /// Set for a key ceremony (DKG, import, removal of a key): the request
    /// is the ceremony, not zone content ([`crate::ceremony`]).
    #[prost(message, optional, tag = "21")]
    pub ceremony: Option<v1::KeyCeremony>,
    /// (ceremony) DKG runs started under it, bounded so that one approval
    /// cannot pay for endless runs.
    #[prost(uint32, tag = "22")]
    pub ceremony_runs: u32,
    /// The RRSIG validity windows the request asks for, per key.
    #[prost(message, repeated, tag = "23")]
    pub validity: Vec<v1::ValidityWindow>,
    /// The key rollover step it is, as the coordinator claims.
    #[prost(string, tag = "24")]
    pub key_step: String,
}

impl StoredRequest {
    /// Its state.
    pub fn state(&self) -> v1::RequestState {
        v1::RequestState::try_from(self.state).unwrap_or(v1::RequestState::Unspecified)
    }

    /// Sets its state at `now`.
    pub fn set_state(&mut self, state: v1::RequestState, now: u64) {
        self.state = state.into();
        self.state_unix = now;
    }

    /// The decision as the API shows it, unsigned (`crate::node::Node::signed`
    /// adds the signer's signatures).
    pub fn decision(&self) -> v1::Decision {
        v1::Decision {
            request_id: self.id.clone(),
            state: self.state,
            reason: self.reason.clone(),
            decided_by: self.decided_by.clone(),
            changes: self.changes,
            content_hash: self.content_hash.clone(),
            zone: self.zone.clone(),
            ..v1::Decision::default()
        }
    }

    /// Whether this signer approved it (by policy or operator) and has not
    /// withdrawn that since: what lets it make shares and take the
    /// content as its baseline on its own word.
    pub fn approved_here(&self) -> bool {
        self.approved_unix != 0
            && matches!(self.state(), v1::RequestState::Approved | v1::RequestState::Signed | v1::RequestState::Published)
    }
}

/// A state's name in messages.
pub fn state_name(state: v1::RequestState) -> &'static str {
    frostzone_proto::request_state_word(state).unwrap_or("in no known state")
}

/// A chunk of a request's RRsets.
#[derive(Clone, PartialEq, Message)]
pub struct RrsetChunk {
    /// The RRsets (put, for an incremental request).
    #[prost(message, repeated, tag = "1")]
    pub rrsets: Vec<StoredRrset>,
    /// (incremental) RRsets of the baseline the request removes.
    #[prost(message, repeated, tag = "2")]
    pub removed: Vec<StoredRrsetRef>,
}

/// The `+`/`-` lines kept for review.
#[derive(Clone, PartialEq, Message)]
pub struct DiffLines {
    /// The lines, in the order [`frostzone_dnssec::rrset_diff::ZoneDiff::lines`] gives.
    #[prost(string, repeated, tag = "1")]
    pub lines: Vec<String>,
}

/// What a new request stores besides its record.
#[derive(Clone, Debug, Default)]
pub struct RequestContent {
    /// Item digests, sorted and deduplicated.
    pub digests: Vec<[u8; 32]>,
    /// Its RRsets (none when the items did not parse): all of them for a
    /// full proposal, those it puts for an incremental one; as stored,
    /// [`RrsetChunks`].
    pub rrsets: RrsetChunks,
    /// (incremental) The baseline RRsets it removes.
    pub removed: Vec<StoredRrsetRef>,
    /// The review lines, capped.
    pub lines: Vec<String>,
    /// How long the denial records took to check (not stored; for the log
    /// and the benchmarks).
    pub denial_checked_in: Option<std::time::Duration>,
}

/// RRsets encoded as the chunks a request's content is stored in (at most
/// [`RRSETS_PER_CHUNK`] each): a proposal's RRsets are held this way
/// until stored, some three times smaller than as [`StoredRrset`]s.
#[derive(Clone, Debug, Default)]
pub struct RrsetChunks {
    chunks: Vec<Vec<u8>>,
}

impl RrsetChunks {
    /// `rrsets`, encoded a chunk at a time.
    pub fn encode(rrsets: impl IntoIterator<Item = StoredRrset>) -> RrsetChunks {
        let mut out = RrsetChunks::default();
        let mut chunk = RrsetChunk::default();
        for rrset in rrsets {
            chunk.rrsets.push(rrset);
            if chunk.rrsets.len() == RRSETS_PER_CHUNK {
                out.push(&mut chunk);
            }
        }
        if !chunk.rrsets.is_empty() {
            out.push(&mut chunk);
        }
        out
    }

    fn push(&mut self, chunk: &mut RrsetChunk) {
        self.chunks.push(chunk.encode_to_vec());
        chunk.rrsets.clear();
    }
}

/// The request trees of the signer's sled database.
pub struct RequestStore {
    dir: PathBuf,
    db: sled::Db,
    requests: sled::Tree,
    digests: sled::Tree,
    rrsets: sled::Tree,
    lines: sled::Tree,
    baselines: Baselines,
}

fn chunk_prefix(id: &str) -> Vec<u8> {
    let mut key = id.as_bytes().to_vec();
    key.push(0);
    key
}

impl RequestStore {
    /// Opens (or creates) the request trees of `db`, the database in `dir`.
    pub fn open(db: &sled::Db, dir: &Path) -> Result<RequestStore, StoreError> {
        let err = |source| StoreError::Sled { dir: dir.to_path_buf(), source };
        let store = RequestStore {
            dir: dir.to_path_buf(),
            db: db.clone(),
            requests: db.open_tree("requests").map_err(err)?,
            digests: db.open_tree("request_digests").map_err(err)?,
            rrsets: db.open_tree("request_rrsets").map_err(err)?,
            lines: db.open_tree("request_lines").map_err(err)?,
            baselines: Baselines::open(db, dir)?,
        };
        store.materialize_pointer_baselines()?;
        Ok(store)
    }

    /// Turns the `baselines` pointers of an older store into materialized
    /// baselines, once (see the module documentation).
    fn materialize_pointer_baselines(&self) -> Result<(), StoreError> {
        const OLD_TREE: &str = "baselines";
        if !self.db.tree_names().iter().any(|name| name.as_ref() == OLD_TREE.as_bytes()) {
            return Ok(());
        }
        let pointers = self.db.open_tree(OLD_TREE).map_err(self.err())?;
        for entry in pointers.iter() {
            let (zone, id) = entry.map_err(self.err())?;
            let (zone, id) = (String::from_utf8_lossy(&zone).into_owned(), String::from_utf8_lossy(&id).into_owned());
            if self.baselines.state(&zone)?.is_some() {
                continue;
            }
            match self.get(&id)? {
                Some(record) if record.content_stored => {
                    let state = BaselineState::of(&id, record.state_unix);
                    let batches = self.baselines.replace_batches(&zone, &state, self.rrsets(&id)?)?;
                    self.baselines.apply_all(batches)?;
                    tracing::info!(%zone, request = %id, "baseline materialized from the published request's RRsets");
                }
                _ => tracing::warn!(
                    %zone,
                    request = %id,
                    "the published request's RRsets are gone: no baseline, the next request is compared with nothing"
                ),
            }
        }
        self.flush()?;
        self.db.drop_tree(OLD_TREE).map_err(self.err())?;
        self.flush()
    }

    /// The zone baselines.
    pub fn baselines(&self) -> &Baselines {
        &self.baselines
    }

    fn err(&self) -> impl Fn(sled::Error) -> StoreError + '_ {
        move |source| StoreError::Sled { dir: self.dir.clone(), source }
    }

    /// Flushes every tree of the database.
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(self.err())
    }

    fn decode_record(id: &[u8], value: &[u8]) -> Result<StoredRequest, StoreError> {
        let what = String::from_utf8_lossy(id);
        let record = StoredRequest::decode(value).map_err(|e| StoreError::Corrupt(format!("request {what}: {e}")))?;
        if record.format != REQUEST_FORMAT {
            return Err(StoreError::Corrupt(format!("request {what} has format {}", record.format)));
        }
        Ok(record)
    }

    /// The record of request `id`.
    pub fn get(&self, id: &str) -> Result<Option<StoredRequest>, StoreError> {
        match self.requests.get(id.as_bytes()).map_err(self.err())? {
            Some(v) => Ok(Some(RequestStore::decode_record(id.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    /// The records whose id starts with `prefix` (at most `limit`).
    pub fn with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<StoredRequest>, StoreError> {
        let mut out = Vec::new();
        for entry in self.requests.scan_prefix(prefix.as_bytes()).take(limit) {
            let (k, v) = entry.map_err(self.err())?;
            out.push(RequestStore::decode_record(&k, &v)?);
        }
        Ok(out)
    }

    /// Every record, in id order.
    pub fn list(&self) -> Result<Vec<StoredRequest>, StoreError> {
        self.with_prefix("", usize::MAX)
    }

    /// Stores a new request: content first, the record last, flushed.
    /// Refuses an id already stored ([`StoreError::RequestExists`]). The
    /// content is taken: each chunk of RRsets is let go as it is copied
    /// into the batch.
    pub fn insert(&self, record: &StoredRequest, content: RequestContent) -> Result<(), StoreError> {
        if self.requests.contains_key(record.id.as_bytes()).map_err(self.err())? {
            return Err(StoreError::RequestExists(record.id.clone()));
        }
        if record.digests_stored {
            let flat: Vec<u8> = content.digests.iter().flatten().copied().collect();
            self.digests.insert(record.id.as_bytes(), flat).map_err(self.err())?;
        }
        if record.content_stored {
            let mut batch = sled::Batch::default();
            let prefix = chunk_prefix(&record.id);
            let puts = content.rrsets.chunks.into_iter().map(sled::IVec::from);
            let removals = content
                .removed
                .chunks(RRSETS_PER_CHUNK)
                .map(|c| RrsetChunk { rrsets: Vec::new(), removed: c.to_vec() }.encode_to_vec().into());
            for (n, chunk) in puts.chain(removals).enumerate() {
                let mut key = prefix.clone();
                key.extend_from_slice(&(n as u32).to_be_bytes());
                let chunk: sled::IVec = chunk;
                batch.insert(key, chunk);
            }
            self.rrsets.apply_batch(batch).map_err(self.err())?;
            let lines = DiffLines { lines: content.lines };
            self.lines.insert(record.id.as_bytes(), lines.encode_to_vec()).map_err(self.err())?;
        }
        self.requests
            .compare_and_swap(record.id.as_bytes(), None as Option<&[u8]>, Some(record.encode_to_vec()))
            .map_err(self.err())?
            .map_err(|_| StoreError::RequestExists(record.id.clone()))?;
        self.flush()
    }

    /// Rewrites an existing record (a state change) and flushes.
    pub fn update(&self, record: &StoredRequest) -> Result<(), StoreError> {
        self.requests.insert(record.id.as_bytes(), record.encode_to_vec()).map_err(self.err())?;
        self.flush()
    }

    /// Marks `record` published after applying `baseline` (a batch of
    /// [`Baselines`]: the zone's new baseline, or only its state), then
    /// flushes. The baseline goes first: should the process die in
    /// between, the coordinator's repeated Published call finds the
    /// baseline already naming the request and only marks it.
    pub fn publish(&self, record: &StoredRequest, baseline: Vec<sled::Batch>, now: u64) -> Result<(), StoreError> {
        if !baseline.is_empty() {
            let apex = frostzone_dnssec::name::ZoneName::parse(&record.zone).map_err(|e| StoreError::Corrupt(format!("zone {}: {e}", record.zone)))?.into_apex();
            let old_tags = self.baselines.dnskey_tags(&record.zone, &apex)?;
            let previous_update = self.baselines.state(&record.zone)?.map(|s| s.updated_unix).unwrap_or_default();
            self.baselines.apply_all(baseline)?;
            self.baselines.note_keys_seen(&record.zone, &old_tags, previous_update, now)?;
        }
        self.update(record)
    }

    /// The sorted item digests of request `id`.
    pub fn digests(&self, id: &str) -> Result<Vec<[u8; 32]>, StoreError> {
        let value = self.digests.get(id.as_bytes()).map_err(self.err())?.unwrap_or_default();
        if value.len() % 32 != 0 {
            return Err(StoreError::Corrupt(format!("digests of request {id}: {} octets", value.len())));
        }
        Ok(value.chunks_exact(32).filter_map(|c| c.try_into().ok()).collect())
    }

    /// The RRsets of request `id`, in canonical order: all of them for a
    /// full request, those it puts for an incremental one.
    pub fn rrsets(&self, id: &str) -> Result<Vec<StoredRrset>, StoreError> {
        Ok(self.content(id)?.0)
    }

    /// The stored content of request `id`: the RRsets it puts and (if
    /// incremental) those it removes.
    pub fn content(&self, id: &str) -> Result<(Vec<StoredRrset>, Vec<StoredRrsetRef>), StoreError> {
        let (mut rrsets, mut removed) = (Vec::new(), Vec::new());
        for entry in self.rrsets.scan_prefix(chunk_prefix(id)) {
            let (_, v) = entry.map_err(self.err())?;
            let chunk = RrsetChunk::decode(v.as_ref()).map_err(|e| StoreError::Corrupt(format!("RRsets of request {id}: {e}")))?;
            rrsets.extend(chunk.rrsets);
            removed.extend(chunk.removed);
        }
        Ok((rrsets, removed))
    }

    /// The RRsets request `id` puts, one stored chunk at a time (at most
    /// 4,096 RRsets each, in canonical order): what staging reads, so that
    /// a whole zone is never held at once.
    pub fn rrset_chunks<'a>(&'a self, id: &'a str) -> impl Iterator<Item = Result<Vec<StoredRrset>, StoreError>> + 'a {
        self.rrsets.scan_prefix(chunk_prefix(id)).map(move |entry| {
            let (_, v) = entry.map_err(self.err())?;
            let chunk = RrsetChunk::decode(v.as_ref()).map_err(|e| StoreError::Corrupt(format!("RRsets of request {id}: {e}")))?;
            Ok(chunk.rrsets)
        })
    }

    /// The stored delta of incremental request `id`: the RRsets it puts,
    /// and the (owner wire form, type) of those it removes.
    pub fn delta(&self, id: &str) -> Result<(Vec<StoredRrset>, Vec<RemovedRrset>), StoreError> {
        let (puts, removed) = self.content(id)?;
        let removed = removed
            .into_iter()
            .map(|r| u16::try_from(r.rtype).map(|t| (r.owner, t)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| StoreError::Corrupt(format!("removed RRsets of request {id}: a type out of range")))?;
        Ok((puts, removed))
    }

    /// The review lines of request `id`.
    pub fn lines(&self, id: &str) -> Result<Vec<String>, StoreError> {
        match self.lines.get(id.as_bytes()).map_err(self.err())? {
            None => Ok(Vec::new()),
            Some(v) => DiffLines::decode(v.as_ref())
                .map(|l| l.lines)
                .map_err(|e| StoreError::Corrupt(format!("lines of request {id}: {e}"))),
        }
    }

    /// Drops the digests of `record` (no Commit can use them any more) and,
    /// with `content`, its RRsets and lines; rewrites the record. Flushed.
    pub fn prune(&self, record: &mut StoredRequest, content: bool) -> Result<(), StoreError> {
        self.digests.remove(record.id.as_bytes()).map_err(self.err())?;
        record.digests_stored = false;
        if content {
            let mut batch = sled::Batch::default();
            for key in self.rrsets.scan_prefix(chunk_prefix(&record.id)).keys() {
                batch.remove(key.map_err(self.err())?);
            }
            self.rrsets.apply_batch(batch).map_err(self.err())?;
            self.lines.remove(record.id.as_bytes()).map_err(self.err())?;
            record.content_stored = false;
        }
        self.update(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pointer_baseline_is_materialized_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let id = "00112233445566778899aabbccddeeff";
        let a = StoredRrset { owner: b"\x03www\x07example\x00".to_vec(), rtype: 1, ttl: 300, rdata: vec![vec![192, 0, 2, 1]] };
        {
            let store = RequestStore::open(&db, dir.path()).unwrap();
            let record = StoredRequest { format: REQUEST_FORMAT, id: id.into(), zone: "example.".into(), content_stored: true, ..StoredRequest::default() };
            let content = RequestContent { rrsets: RrsetChunks::encode([a.clone()]), ..RequestContent::default() };
            store.insert(&record, content).unwrap();
            // What a store of the previous layout held besides.
            db.open_tree("baselines").unwrap().insert("example.", id).unwrap();
        }
        let store = RequestStore::open(&db, dir.path()).unwrap();
        assert_eq!(store.baselines().state("example.").unwrap().unwrap().request_id, id);
        let rrsets = store.baselines().rrsets("example.").unwrap().unwrap();
        assert_eq!((rrsets.len(), rrsets[0].rtype.to_int()), (1, 1));
        assert!(!db.tree_names().iter().any(|n| n.as_ref() == b"baselines"));
    }
}
