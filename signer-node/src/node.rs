//! The signer node: its store, its roster, its session tables and audit
//! log, and FROST signing (Commit and Sign). Its other API calls are
//! `impl Node` blocks in their own modules (key ceremonies in `keygen` and
//! `ceremony`, the request life cycle in `lifecycle`, signed decisions in
//! `proof`), which build on this one; this module uses none of them, nor
//! the shells (`service`, `admin`) that run its plain, synchronous
//! functions on blocking threads. Every call that decides by the time is
//! given it ([`Now`]) rather than reading a clock.

use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use frostzone_dnssec::keys::KeyTag;
use frostzone_proto::audit::{AuditEntry, AuditLog};
use frostzone_proto::v1;
use frostzone_proto::MAX_BATCH_ITEMS;
use frostzone_threshold::frost::round1::SigningCommitments;
use frostzone_threshold::{
    commit_batch, frost, sign_batch, signing_packages, BatchNonces, Identifier,
};
use rand::rngs::OsRng;

use crate::binding::ApprovedCache;
use crate::clock::Now;
use crate::dkg::DkgSession;
use crate::error::NodeError;
use crate::fault::Faults;
use crate::fields::{participant, participant_id, proto_role, session_id};
use crate::policy::{normalize_zone, signed_messages, BatchContext};
use crate::policy_file::SignerPolicy;
use crate::rate::RateWindow;
use crate::sessions::SessionTable;
use crate::store::{ShareInfo, Store};
use frostzone_proto::roster::Roster;

/// Most signing sessions pending at once. Each holds up to
/// [`MAX_BATCH_ITEMS`] rebuilt messages (a few MiB): 64 of them bound the
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
    /// Test-only fault injection.
    pub faults: Faults,
}

/// A signing session between Commit and Sign. Never written anywhere; the
/// nonces wipe themselves when dropped.
struct PendingSigning {
    zone: String,
    request_id: String,
    content_hash: String,
    nonces: BatchNonces,
    messages: Vec<Vec<u8>>,
    commitments: Vec<SigningCommitments>,
    key_package: frost::keys::KeyPackage,
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
    signing: Mutex<SessionTable<PendingSigning>>,
    pub(crate) dkg: Mutex<SessionTable<DkgSession>>,
    pub(crate) imports: Mutex<SessionTable<PendingImport>>,
    pub(crate) policy: Arc<SignerPolicy>,
    /// Every participant and t, from this signer's own configuration;
    /// `None` only in tests that need no ceremony or proof.
    pub(crate) roster: Option<Arc<Roster>>,
    rate: Mutex<RateWindow>,
    audit: Option<Mutex<AuditLog>>,
    /// Serializes request state changes (read, decide, write).
    pub(crate) decisions: Mutex<()>,
    /// The digest sets of approved requests ([`crate::lifecycle`]).
    pub(crate) approved: Mutex<ApprovedCache>,
    /// Requests open now (counted at every sweep, plus those opened
    /// since): bounds what a coordinator can make this signer keep.
    pub(crate) open_requests: std::sync::atomic::AtomicUsize,
    /// Life-cycle unit tests of toy zones turn the denial check off
    /// ([`Node::without_denial_checks`]); nothing else can.
    #[cfg(test)]
    pub(crate) skip_denial_checks: bool,
}

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
            policy: Arc::new(SignerPolicy::default()),
            roster: None,
            rate: Mutex::new(RateWindow::new(0)),
            audit: None,
            decisions: Mutex::new(()),
            approved: Mutex::new(ApprovedCache::new()),
            open_requests: std::sync::atomic::AtomicUsize::new(0),
            #[cfg(test)]
            skip_denial_checks: false,
            opts,
        }
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

    /// The policy it applies.
    pub fn policy(&self) -> &SignerPolicy {
        &self.policy
    }

    /// Appends to the audit log (when there is one). A signer that cannot
    /// record what it does refuses to do it.
    pub(crate) fn audit(&self, entry: AuditEntry) -> Result<(), NodeError> {
        let Some(log) = &self.audit else { return Ok(()) };
        lock(log)
            .append(entry, audit_time())
            .map(|_| ())
            .map_err(|e| NodeError::Internal(format!("audit log: {e}")))
    }

    /// The options it runs with.
    pub fn options(&self) -> &NodeOptions {
        &self.opts
    }

    /// Drops (and so wipes) every expired session; returns how many.
    pub fn sweep(&self, now: Instant) -> usize {
        lock(&self.signing).sweep(now) + lock(&self.dkg).sweep(now) + lock(&self.imports).sweep(now)
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

    /// FROST round 1 for a batch: the batch must belong to a request this
    /// signer approved and hold only items it was proposed
    /// ([`crate::lifecycle`]); every item is rebuilt and checked against
    /// the policy, then fresh nonces are kept in memory under the session
    /// id. Accepted or refused, the batch is recorded in the audit log
    /// first.
    pub fn commit(&self, req: v1::CommitRequest, now: Now) -> Result<v1::CommitResponse, NodeError> {
        let entry = AuditEntry {
            event: "commit".into(),
            request: req.request_id.clone(),
            zone: req.zone.clone(),
            content_hash: hex::encode(frostzone_proto::content::content_hash(&req.items)),
            operator: REQUESTER.into(),
            ..AuditEntry::default()
        };
        let id = req.session_id.clone();
        let n = req.items.len();
        let key_tag = req.key_tag;
        match self.commit_checked(req, &entry.content_hash, now) {
            Ok(response) => {
                let outcome = format!("accepted: {n} items for key tag {key_tag} (session {})", hex::encode(&id));
                if let Err(e) = self.audit(AuditEntry { outcome, ..entry }) {
                    // Not recorded, not signed: the nonces go.
                    let _ = lock(&self.signing).take(&id, now.instant);
                    return Err(e);
                }
                Ok(response)
            }
            Err(e) => {
                let outcome = format!("{e} (session {})", hex::encode(&id));
                self.audit(AuditEntry { event: "commit-refused".into(), outcome, ..entry })?;
                Err(e)
            }
        }
    }

    fn commit_checked(&self, req: v1::CommitRequest, content_hash: &str, now: Now) -> Result<v1::CommitResponse, NodeError> {
        let id = session_id(&req.session_id, 1)?;
        if req.items.is_empty() || req.items.len() > MAX_BATCH_ITEMS {
            return Err(NodeError::field(
                "items",
                format!("{} items, need 1..={MAX_BATCH_ITEMS}", req.items.len()),
            ));
        }
        let (zone_text, zone_name) =
            normalize_zone(&req.zone).map_err(|e| NodeError::field("zone", e))?;
        if !self.policy.serves(&zone_text) {
            return Err(NodeError::Policy(format!(
                "zone {zone_text} is not served under this signer's policy"
            )));
        }
        let key_tag = KeyTag(
            u16::try_from(req.key_tag).map_err(|_| NodeError::field("key_tag", "out of range"))?,
        );
        let share = self
            .store
            .get_share(&zone_text, key_tag)?
            .ok_or(NodeError::UnknownKey {
                zone: zone_text.clone(),
                key_tag,
            })?;
        let ctx = BatchContext {
            zone: zone_name,
            key_tag,
            role: share.info.role,
            now: now.serial(),
            policy: self.policy.clone(),
        };
        let messages = signed_messages(&req.items, &ctx)?;
        // After the item checks, so that a malformed item is named as
        // such; before any nonce or rate-limit budget is spent.
        self.check_commit_binding(&req.request_id, &zone_text, &req.items, now)?;
        lock(&self.rate)
            .take(messages.len() as u64, now.instant)
            .map_err(NodeError::RateLimited)?;
        let (nonces, commitments) = commit_batch(&share.key_package, messages.len(), &mut OsRng);
        let serialized = commitments
            .iter()
            .map(|c| {
                c.serialize()
                    .map_err(|e| NodeError::Internal(format!("serialize: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pending = PendingSigning {
            zone: zone_text,
            request_id: req.request_id.clone(),
            content_hash: content_hash.to_string(),
            nonces,
            messages,
            commitments,
            key_package: share.key_package,
        };
        lock(&self.signing)
            .insert(id, pending, now.instant)
            .map_err(NodeError::session("signing"))?;
        Ok(v1::CommitResponse {
            participant: Some(participant_id(&self.opts.participant)),
            commitments: serialized,
        })
    }

    /// FROST round 2: the session is removed first, so it signs at most
    /// once; the messages signed are the ones rebuilt at Commit. The
    /// shares go out only once the audit log has recorded them.
    pub fn sign(&self, req: v1::SignRequest, now: Now) -> Result<v1::SignResponse, NodeError> {
        let id = session_id(&req.session_id, 1)?;
        let pending = lock(&self.signing)
            .take(id, now.instant)
            .map_err(NodeError::session("signing"))?;
        let entry = AuditEntry {
            event: "sign".into(),
            request: pending.request_id.clone(),
            zone: pending.zone.clone(),
            content_hash: pending.content_hash.clone(),
            operator: REQUESTER.into(),
            signers: req
                .commitments
                .iter()
                .filter_map(|c| c.participant.as_ref())
                .map(|p| match Identifier::deserialize(&p.id) {
                    Ok(id) => format!("participant {}", frostzone_threshold::display_identifier(&id)),
                    Err(_) => format!("participant {}", hex::encode(&p.id)),
                })
                .collect(),
            ..AuditEntry::default()
        };
        let request_id = pending.request_id.clone();
        let session = hex::encode(id);
        let signed = if self.still_approved(&request_id) {
            self.sign_pending(req, pending)
        } else {
            Err(crate::error::RequestError::NotApproved(format!(
                "request {request_id} is no longer approved (rejected, expired or finished since Commit)"
            ))
            .into())
        };
        match signed {
            Ok(response) => {
                let outcome = format!("signature shares for {} items (session {session})", response.shares.len());
                self.audit(AuditEntry { outcome, ..entry })?;
                self.mark_signed(&request_id, now)?;
                Ok(response)
            }
            Err(e) => {
                self.audit(AuditEntry { event: "sign-refused".into(), outcome: e.to_string(), ..entry })?;
                Err(e)
            }
        }
    }

    fn sign_pending(&self, req: v1::SignRequest, pending: PendingSigning) -> Result<v1::SignResponse, NodeError> {
        let PendingSigning {
            zone: _,
            request_id: _,
            content_hash: _,
            nonces,
            messages,
            commitments: mine,
            key_package,
        } = pending;
        let me = self.opts.participant;
        let mut all: BTreeMap<Identifier, Vec<SigningCommitments>> = BTreeMap::new();
        for pc in &req.commitments {
            let who = participant(pc.participant.as_ref(), "commitments.participant")?;
            if pc.commitments.len() != messages.len() {
                return Err(NodeError::Commitments(format!(
                    "signer {}: {} commitments for a batch of {}",
                    frostzone_threshold::display_identifier(&who),
                    pc.commitments.len(),
                    messages.len()
                )));
            }
            // Point decompression dominates round 2 (about 70 µs per
            // commitment): parse on every core.
            let parsed = pc
                .commitments
                .par_iter()
                .enumerate()
                .map(|(i, c)| {
                    SigningCommitments::deserialize(c).map_err(|e| {
                        NodeError::Commitments(format!(
                            "signer {} item {i}: {e}",
                            frostzone_threshold::display_identifier(&who)
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if all.insert(who, parsed).is_some() {
                return Err(NodeError::Commitments(format!(
                    "signer {} listed twice",
                    frostzone_threshold::display_identifier(&who)
                )));
            }
        }
        // RFC 9591 §5.2: each participant checks that its own commitment is
        // in the list, unchanged.
        if all.get(&me) != Some(&mine) {
            return Err(NodeError::Commitments(
                "this signer's commitments are missing or differ from those it made".into(),
            ));
        }
        let needed = usize::from(*key_package.min_signers());
        if all.len() < needed {
            return Err(NodeError::Commitments(format!(
                "{} signers chosen, the threshold is {needed}",
                all.len()
            )));
        }
        let packages = signing_packages(&self.opts.faults.messages(messages), &all)?;
        let shares = sign_batch(nonces, &key_package, &packages)?;
        if self.opts.faults.corrupts_shares() {
            tracing::warn!(
                "FAULT INJECTION: returning {} corrupt signature shares",
                shares.len()
            );
        }
        Ok(v1::SignResponse {
            participant: Some(participant_id(&me)),
            shares: shares.iter().map(|s| s.serialize()).collect(),
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
