//! The signer node: its store, its roster, its session tables, rate
//! window and audit log; its health and the sweep of expired sessions.
//! Its API calls are `impl Node` blocks in their own modules (FROST
//! signing in `signing`, key ceremonies in `keygen`, `refresh`, `repair` and `ceremony`, the
//! request life cycle in `lifecycle`, signed decisions in `proof`), which
//! build on this one; this module calls none of them, nor the shells
//! (`service`, `admin`) that run the node's plain, synchronous functions
//! on blocking threads. Every call that decides by the time is given it
//! ([`crate::clock::Now`]) rather than reading a clock.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use frostzone_proto::audit::{AuditEntry, AuditLog};
use frostzone_proto::v1;
use frostzone_threshold::frost::round1::SigningCommitments;
use frostzone_threshold::{frost, BatchNonces, Identifier};

use crate::binding::ApprovedCache;
use crate::dkg::DkgSession;
use crate::error::NodeError;
use crate::fault::Faults;
use crate::fields::{participant_id, proto_role};
use crate::policy_file::SignerPolicy;
use crate::rate::RateWindow;
use crate::rts::RepairSession;
use crate::sessions::SessionTable;
use crate::store::{ShareInfo, Store};
use frostzone_proto::roster::Roster;

/// Most signing sessions pending at once. Each holds up to
/// [`frostzone_proto::MAX_BATCH_ITEMS`] rebuilt messages (a few MiB): 64 of them bound the
/// memory a misbehaving coordinator can pin, while leaving room for many
/// concurrent zones.
pub const MAX_PENDING_SIGNING: usize = 64;
/// Most DKG and import sessions pending at once: key generation is rare.
pub const MAX_PENDING_KEYGEN: usize = 16;

/// What a node is started with.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Its name (certificate DNS name).
    pub name: String,
    /// Its FROST identifier.
    pub participant: Identifier,
    /// Lifetime of pending sessions.
    pub session_timeout: Duration,
    /// How large a proposal it accepts.
    pub proposal_bound: crate::proposal::ProposalBound,
    /// Test-only fault injection.
    pub faults: Faults,
}

/// A signing session between Commit and Sign. Never written anywhere; the
/// nonces wipe themselves when dropped.
pub(crate) struct PendingSigning {
    pub(crate) zone: String,
    pub(crate) request_id: String,
    pub(crate) content_hash: String,
    pub(crate) nonces: BatchNonces,
    pub(crate) messages: Vec<Vec<u8>>,
    pub(crate) commitments: Vec<SigningCommitments>,
    /// The commitments as sent at Commit: at Sign this signer's own list
    /// is compared by its bytes, not parsed again.
    pub(crate) commitments_sent: Vec<Vec<u8>>,
    pub(crate) key_package: frost::keys::KeyPackage,
}

/// An import between its two steps: the one-time key and the ceremony
/// it was made for. Memory only; the key wipes itself.
pub(crate) struct PendingImport {
    pub(crate) secret: x25519_dalek::StaticSecret,
    pub(crate) request_id: String,
}

/// One signer node.
pub struct Node {
    opts: NodeOptions,
    pub(crate) store: Store,
    pub(crate) signing: Mutex<SessionTable<PendingSigning>>,
    pub(crate) dkg: Mutex<SessionTable<DkgSession>>,
    pub(crate) imports: Mutex<SessionTable<PendingImport>>,
    pub(crate) repairs: Mutex<SessionTable<RepairSession>>,
    pub(crate) policy: Arc<SignerPolicy>,
    /// Every participant and t, from this signer's own configuration;
    /// `None` only in tests that need no ceremony or proof.
    pub(crate) roster: Option<Arc<Roster>>,
    pub(crate) rate: Mutex<RateWindow>,
    audit: Option<Mutex<AuditLog>>,
    /// Serializes request state changes (read, decide, write).
    pub(crate) decisions: Mutex<()>,
    /// The digest sets of approved requests ([`crate::lifecycle`]).
    pub(crate) approved: Mutex<ApprovedCache>,
    /// Requests open now (counted at every sweep, plus those opened
    /// since): bounds what a coordinator can make this signer keep.
    pub(crate) open_requests: std::sync::atomic::AtomicUsize,
    /// Baselines made ready ahead of publication ([`crate::staging`]).
    pub(crate) staging: crate::prepared::StagingTable,
    /// Prometheus metrics ([`crate::metrics`]).
    pub(crate) metrics: crate::metrics::SignerMetrics,
    /// Life-cycle unit tests of toy zones turn the denial check off
    /// ([`Node::without_denial_checks`]); nothing else can.
    #[cfg(test)]
    pub(crate) skip_denial_checks: bool,
    /// Tests run this between a proposal's evaluation and its decision,
    /// where a publication can move the baseline.
    #[cfg(test)]
    pub(crate) after_evaluation: Mutex<Option<EvaluationHook>>,
    /// Tests run this before staging writes each chunk, where a stop or a
    /// publication can cut it short.
    #[cfg(test)]
    pub(crate) before_staged_chunk: Mutex<Option<EvaluationHook>>,
}

/// See [`Node::after_evaluation`] and [`Node::before_staged_chunk`].
#[cfg(test)]
pub(crate) type EvaluationHook = Box<dyn FnMut(&Node) + Send>;

/// Who asks for signatures: the signer's API admits only the pinned
/// coordinator certificate, so that is who the audit log names.
pub(crate) const REQUESTER: &str = "coordinator (pinned certificate)";

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the table consistent (every
    // operation is a single map update), so poisoning is ignored.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The audit log's timestamp: it records when, on the wall clock, and
/// decides nothing, so it is read here rather than passed in.
fn audit_time() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Node {
    /// A node over an open store.
    pub fn new(opts: NodeOptions, store: Store) -> Node {
        let t = opts.session_timeout;
        Node {
            store,
            signing: Mutex::new(SessionTable::new(t, MAX_PENDING_SIGNING)),
            dkg: Mutex::new(SessionTable::new(t, MAX_PENDING_KEYGEN)),
            imports: Mutex::new(SessionTable::new(t, MAX_PENDING_KEYGEN)),
            repairs: Mutex::new(SessionTable::new(t, MAX_PENDING_KEYGEN)),
            policy: Arc::new(SignerPolicy::default()),
            roster: None,
            rate: Mutex::new(RateWindow::new(0)),
            audit: None,
            decisions: Mutex::new(()),
            approved: Mutex::new(ApprovedCache::new()),
            open_requests: std::sync::atomic::AtomicUsize::new(0),
            staging: crate::prepared::StagingTable::default(),
            metrics: Default::default(),
            #[cfg(test)]
            skip_denial_checks: false,
            #[cfg(test)]
            after_evaluation: Mutex::new(None),
            #[cfg(test)]
            before_staged_chunk: Mutex::new(None),
            opts,
        }
    }

    /// Its Prometheus metrics.
    pub fn metrics(&self) -> &crate::metrics::SignerMetrics {
        &self.metrics
    }

    /// The same node under the operator's `policy` (zones, types,
    /// validity, NSEC3 parameters, rate limit).
    pub fn with_policy(mut self, policy: SignerPolicy) -> Node {
        self.rate = Mutex::new(RateWindow::new(policy.max_signatures_per_hour));
        self.policy = Arc::new(policy);
        self
    }

    /// The same node with its operator's `roster`, which must list this
    /// signer under its participant number with its own identity key.
    pub fn with_roster(mut self, roster: Roster) -> Result<Node, NodeError> {
        let me = self.opts.participant;
        let mine = self.store.identity().verifying_key();
        match roster.member(&me) {
            Some(m) if m.identity.0 == mine => {}
            Some(m) => {
                return Err(NodeError::Roster(format!(
                    "{} lists identity key {} for participant {}, but this signer's store holds {}: the roster is not this deployment's, or the data directory is not this signer's",
                    roster.file.display(),
                    m.identity,
                    frostzone_threshold::display_identifier(&me),
                    hex::encode(mine.as_bytes())
                )))
            }
            None => {
                return Err(NodeError::Roster(format!(
                    "{} does not list this signer (participant {})",
                    roster.file.display(),
                    frostzone_threshold::display_identifier(&me)
                )))
            }
        }
        self.roster = Some(Arc::new(roster));
        Ok(self)
    }

    /// Whether proposals' denial records are checked (always, outside the
    /// life-cycle unit tests of toy zones).
    pub(crate) fn checks_denial(&self) -> bool {
        #[cfg(test)]
        return !self.skip_denial_checks;
        #[cfg(not(test))]
        true
    }

    /// The same node without denial checks, for unit tests of the request
    /// life cycle whose toy zones of a few A RRsets have no denial records.
    #[cfg(test)]
    pub(crate) fn without_denial_checks(mut self) -> Node {
        self.skip_denial_checks = true;
        self
    }

    /// The roster, or a refusal naming what cannot be done without one.
    pub(crate) fn roster(&self, what: &str) -> Result<&Roster, NodeError> {
        self.roster
            .as_deref()
            .ok_or_else(|| NodeError::Roster(format!("this signer has no roster: it takes part in no {what}")))
    }

    /// This signer's identity public key.
    pub fn identity_key(&self) -> frostzone_proto::roster::IdentityKey {
        frostzone_proto::roster::IdentityKey(self.store.identity().verifying_key())
    }

    /// The same node recording every Commit and Sign, accepted or
    /// refused, in `log`.
    pub fn with_audit(mut self, log: AuditLog) -> Node {
        self.audit = Some(Mutex::new(log));
        self
    }

    /// How large a proposal it accepts (its config).
    pub fn proposal_bound(&self) -> crate::proposal::ProposalBound {
        self.opts.proposal_bound
    }

    /// The policy it applies.
    pub fn policy(&self) -> &SignerPolicy {
        &self.policy
    }

    /// Appends to the audit log (when there is one). A signer that cannot
    /// record what it does refuses to do it.
    pub(crate) fn audit(&self, entry: AuditEntry) -> Result<(), NodeError> {
        self.audit_all(vec![entry])
    }

    /// Appends `entries` in order with one sync.
    pub(crate) fn audit_all(&self, entries: Vec<AuditEntry>) -> Result<(), NodeError> {
        let Some(log) = &self.audit else { return Ok(()) };
        lock(log)
            .append_all(entries, audit_time())
            .map(|_| ())
            .map_err(|e| NodeError::Internal(format!("audit log: {e}")))
    }

    /// The options it runs with.
    pub fn options(&self) -> &NodeOptions {
        &self.opts
    }

    /// Drops (and so wipes) every expired session; returns how many.
    pub fn sweep(&self, now: Instant) -> usize {
        lock(&self.signing).sweep(now) + lock(&self.dkg).sweep(now) + lock(&self.imports).sweep(now) + lock(&self.repairs).sweep(now)
    }

    /// Health: name, participant and the shares held.
    pub fn health(&self) -> Result<v1::HealthResponse, NodeError> {
        let keys = self.store.list()?.into_iter().map(key_share_info).collect();
        Ok(v1::HealthResponse {
            api_version: frostzone_proto::API_VERSION,
            name: self.opts.name.clone(),
            participant: Some(participant_id(&self.opts.participant)),
            keys,
            identity_key: self.store.identity().verifying_key().to_bytes().to_vec(),
        })
    }
}

/// The public part of a stored share, as the API shows it.
pub fn key_share_info(info: ShareInfo) -> v1::KeyShareInfo {
    v1::KeyShareInfo {
        zone: info.zone,
        role: proto_role(info.role).into(),
        key_tag: info.key_tag.0.into(),
        group_public_key: info.group_public_key.to_vec(),
    }
}
