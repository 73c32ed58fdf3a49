//! The request store: what this signer was proposed and what it decided,
//! in sled beside the key shares ([`crate::store`]).
//!
//! Layout (sled trees; nothing here is secret, so nothing is sealed):
//!
//! * `requests`: request id → [`RequestRecord`] (prost), the decision and
//!   its history. Records are kept for good; only content is pruned.
//! * `request_digests`: request id → the item digests
//!   ([`frostzone_proto::content::item_digest`]), 32 octets each, sorted:
//!   what a Commit under the request may contain.
//! * `request_rrsets`: request id ‖ 0 ‖ chunk number (4 octets,
//!   big-endian) → [`RrsetChunk`], the proposed RRsets, one per owner and
//!   type, in canonical order. Chunked so that no sled value grows with
//!   the zone.
//! * `request_lines`: request id → [`DiffLines`], the `+`/`-` lines an
//!   operator reviews (capped).
//! * `baselines`: zone → the id of the request last published for it: its
//!   RRsets are the content the next request is compared with. Moving the
//!   pointer replaces the baseline in one atomic write.
//!
//! A new request's content is written before its record, so a record
//! never names content that is not there; every write is flushed before
//! the caller answers.

use std::path::{Path, PathBuf};

use frostzone_proto::v1;
use prost::Message;
use sled::Transactional;

use crate::store::StoreError;

/// Format of [`RequestRecord`] this build writes and reads.
pub const REQUEST_FORMAT: u32 = 1;
/// RRsets per stored chunk: about a megabyte for typical records.
const RRSETS_PER_CHUNK: usize = 4096;

/// One request as this signer knows it.
#[derive(Clone, PartialEq, Message)]
pub struct RequestRecord {
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
}

impl RequestRecord {
    /// Its state.
    pub fn state(&self) -> v1::RequestState {
        v1::RequestState::try_from(self.state).unwrap_or(v1::RequestState::Unspecified)
    }

    /// Sets its state at `now`.
    pub fn set_state(&mut self, state: v1::RequestState, now: u64) {
        self.state = state.into();
        self.state_unix = now;
    }

    /// The decision as the API shows it.
    pub fn decision(&self) -> v1::Decision {
        v1::Decision {
            request_id: self.id.clone(),
            state: self.state,
            reason: self.reason.clone(),
            decided_by: self.decided_by.clone(),
            changes: self.changes,
            content_hash: self.content_hash.clone(),
        }
    }
}

/// One stored RRset: its wire parts, as the items carried them
/// (canonical RDATA, RFC 4034 §6.2).
#[derive(Clone, PartialEq, Message)]
pub struct StoredRrset {
    /// Owner name, uncompressed wire format.
    #[prost(bytes = "vec", tag = "1")]
    pub owner: Vec<u8>,
    /// Type.
    #[prost(uint32, tag = "2")]
    pub rtype: u32,
    /// TTL.
    #[prost(uint32, tag = "3")]
    pub ttl: u32,
    /// Each record's canonical RDATA, in canonical order.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub rdata: Vec<Vec<u8>>,
}

/// A chunk of a request's RRsets.
#[derive(Clone, PartialEq, Message)]
pub struct RrsetChunk {
    /// The RRsets.
    #[prost(message, repeated, tag = "1")]
    pub rrsets: Vec<StoredRrset>,
}

/// The `+`/`-` lines kept for review.
#[derive(Clone, PartialEq, Message)]
pub struct DiffLines {
    /// The lines, in the order [`frostzone_dnssec::diff::ZoneDiff::lines`] gives.
    #[prost(string, repeated, tag = "1")]
    pub lines: Vec<String>,
}

/// What a new request stores besides its record.
#[derive(Clone, Debug, Default)]
pub struct RequestContent {
    /// Item digests, sorted and deduplicated.
    pub digests: Vec<[u8; 32]>,
    /// Its RRsets (none when the items did not parse).
    pub rrsets: Vec<StoredRrset>,
    /// The review lines, capped.
    pub lines: Vec<String>,
}

/// The request trees of the signer's sled database.
pub struct RequestStore {
    dir: PathBuf,
    db: sled::Db,
    requests: sled::Tree,
    digests: sled::Tree,
    rrsets: sled::Tree,
    lines: sled::Tree,
    baselines: sled::Tree,
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
        Ok(RequestStore {
            dir: dir.to_path_buf(),
            db: db.clone(),
            requests: db.open_tree("requests").map_err(err)?,
            digests: db.open_tree("request_digests").map_err(err)?,
            rrsets: db.open_tree("request_rrsets").map_err(err)?,
            lines: db.open_tree("request_lines").map_err(err)?,
            baselines: db.open_tree("baselines").map_err(err)?,
        })
    }

    fn err(&self) -> impl Fn(sled::Error) -> StoreError + '_ {
        move |source| StoreError::Sled { dir: self.dir.clone(), source }
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(self.err())
    }

    fn decode_record(id: &[u8], value: &[u8]) -> Result<RequestRecord, StoreError> {
        let what = String::from_utf8_lossy(id);
        let record = RequestRecord::decode(value).map_err(|e| StoreError::Corrupt(format!("request {what}: {e}")))?;
        if record.format != REQUEST_FORMAT {
            return Err(StoreError::Corrupt(format!("request {what} has format {}", record.format)));
        }
        Ok(record)
    }

    /// The record of request `id`.
    pub fn get(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        match self.requests.get(id.as_bytes()).map_err(self.err())? {
            Some(v) => Ok(Some(RequestStore::decode_record(id.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    /// The records whose id starts with `prefix` (at most `limit`).
    pub fn with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<RequestRecord>, StoreError> {
        let mut out = Vec::new();
        for entry in self.requests.scan_prefix(prefix.as_bytes()).take(limit) {
            let (k, v) = entry.map_err(self.err())?;
            out.push(RequestStore::decode_record(&k, &v)?);
        }
        Ok(out)
    }

    /// Every record, in id order.
    pub fn list(&self) -> Result<Vec<RequestRecord>, StoreError> {
        self.with_prefix("", usize::MAX)
    }

    /// Stores a new request: content first, the record last, flushed.
    /// Refuses an id already stored ([`StoreError::RequestExists`]).
    pub fn insert(&self, record: &RequestRecord, content: &RequestContent) -> Result<(), StoreError> {
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
            for (n, chunk) in content.rrsets.chunks(RRSETS_PER_CHUNK).enumerate() {
                let mut key = prefix.clone();
                key.extend_from_slice(&(n as u32).to_be_bytes());
                batch.insert(key, RrsetChunk { rrsets: chunk.to_vec() }.encode_to_vec());
            }
            self.rrsets.apply_batch(batch).map_err(self.err())?;
            let lines = DiffLines { lines: content.lines.clone() };
            self.lines.insert(record.id.as_bytes(), lines.encode_to_vec()).map_err(self.err())?;
        }
        self.requests
            .compare_and_swap(record.id.as_bytes(), None as Option<&[u8]>, Some(record.encode_to_vec()))
            .map_err(self.err())?
            .map_err(|_| StoreError::RequestExists(record.id.clone()))?;
        self.flush()
    }

    /// Rewrites an existing record (a state change) and flushes.
    pub fn update(&self, record: &RequestRecord) -> Result<(), StoreError> {
        self.requests.insert(record.id.as_bytes(), record.encode_to_vec()).map_err(self.err())?;
        self.flush()
    }

    /// Marks `record` published and makes its RRsets the baseline of its
    /// zone, in one transaction over both trees, flushed.
    pub fn publish(&self, record: &RequestRecord) -> Result<(), StoreError> {
        let value = record.encode_to_vec();
        (&self.requests, &self.baselines)
            .transaction(|(requests, baselines)| {
                requests.insert(record.id.as_bytes(), value.clone())?;
                baselines.insert(record.zone.as_bytes(), record.id.as_bytes())?;
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Storage(source) => StoreError::Sled { dir: self.dir.clone(), source },
                sled::transaction::TransactionError::Abort(()) => StoreError::Corrupt("publish transaction aborted".into()),
            })?;
        self.flush()
    }

    /// The id of the request whose RRsets are `zone`'s baseline.
    pub fn baseline(&self, zone: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .baselines
            .get(zone.as_bytes())
            .map_err(self.err())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Whether request `id` is some zone's baseline.
    pub fn is_baseline(&self, zone: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self.baseline(zone)?.as_deref() == Some(id))
    }

    /// The sorted item digests of request `id`.
    pub fn digests(&self, id: &str) -> Result<Vec<[u8; 32]>, StoreError> {
        let value = self.digests.get(id.as_bytes()).map_err(self.err())?.unwrap_or_default();
        if value.len() % 32 != 0 {
            return Err(StoreError::Corrupt(format!("digests of request {id}: {} octets", value.len())));
        }
        Ok(value.chunks_exact(32).filter_map(|c| c.try_into().ok()).collect())
    }

    /// The RRsets of request `id`, in canonical order.
    pub fn rrsets(&self, id: &str) -> Result<Vec<StoredRrset>, StoreError> {
        let mut out = Vec::new();
        for entry in self.rrsets.scan_prefix(chunk_prefix(id)) {
            let (_, v) = entry.map_err(self.err())?;
            let chunk = RrsetChunk::decode(v.as_ref()).map_err(|e| StoreError::Corrupt(format!("RRsets of request {id}: {e}")))?;
            out.extend(chunk.rrsets);
        }
        Ok(out)
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
    pub fn prune(&self, record: &mut RequestRecord, content: bool) -> Result<(), StoreError> {
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
