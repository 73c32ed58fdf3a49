//! The signer's side of the request life cycle, as [`Node`] methods:
//! Propose, GetDecision, Published, the operator's admin calls, the
//! binding of every Commit to an approved request, and expiry.
//!
//! ```text
//!  Propose ─▶ APPROVED (by policy) ───────────────┐
//!          ├▶ PENDING ─┬▶ APPROVED (operator) ────┼▶ SIGNED ─▶ PUBLISHED
//!          │           ├▶ REJECTED (operator)     │    (first Sign)
//!          │           └▶ EXPIRED (nobody decided)│
//!          └▶ REJECTED (policy violation)         └▶ EXPIRED (not signed
//!                                                     within 24 h)
//!  any state before PUBLISHED ─▶ FAILED (the coordinator gave up)
//! ```
//!
//! A signer makes shares only for requests it approved itself, within
//! [`APPROVAL_WINDOW_SECS`] of the approval, and only for items whose
//! digest it was proposed (the digest sets cached in [`crate::binding`]). It takes a request's content as its baseline
//! only if it approved it itself or the coordinator proves that t members
//! of its roster did ([`crate::proof`]); a publication claimed without
//! proof is refused, recorded, and routes the zone's proposals to the
//! operator until a publication it can check. Every transition is written
//! and flushed before the answer, and recorded in the audit log; every
//! decision it answers is signed with its identity key.
//!
//! Key ceremonies ([`crate::ceremony`]) are requests of the same life
//! cycle, without content to sign: they end when their step completes.

use std::sync::Arc;

use frostzone_proto::audit::AuditEntry;
use frostzone_proto::content::item_digest;
use frostzone_proto::v1::{self, RequestState, SigningItem};
use frostzone_threshold::parallel::find_map_first_indexed;

use crate::approval::describe;
use crate::binding::{ApprovedRequest, APPROVAL_WINDOW_SECS};
use crate::error::{NodeError, RequestError};
use crate::incremental::{check_baseline, evaluate_incremental, publication};
use crate::clock::Now;
use crate::metrics::Decision;
use crate::node::{lock, Node, REQUESTER};
use crate::proposal::{check_header, check_request_id, evaluate, ProposeContext};
use crate::request_store::{state_name, StoredRequest};
use crate::rrset::describe_item;

/// How long the content of a request that was not published is kept:
/// 7 days (a published request's content lives on in the zone's
/// baseline, [`crate::baseline`], and is dropped at once). A request this
/// signer rejected or let expire may still be published by the others,
/// and its RRsets then make the new baseline.
pub const CONTENT_RETENTION_SECS: u64 = 7 * 24 * 3600;
/// Shortest prefix that names a request in admin calls.
pub const MIN_ID_PREFIX: usize = 8;
/// Most requests open at once (pending, approved or signed, not yet
/// published or failed): an honest coordinator has a few per zone; a
/// misbehaving one cannot fill the signer's disk with proposals.
pub const MAX_OPEN_REQUESTS: usize = 256;
/// How many times a full proposal is evaluated when publications keep
/// replacing the baseline under it.
const PROPOSE_ATTEMPTS: u32 = 3;

fn bad_state(record: &StoredRequest, why: impl Into<String>) -> NodeError {
    RequestError::State { id: record.id.clone(), state: state_name(record.state()), why: why.into() }.into()
}

impl Node {
    pub(crate) fn propose_audit(&self, record: &StoredRequest) -> AuditEntry {
        AuditEntry {
            request: record.id.clone(),
            zone: record.zone.clone(),
            content_hash: hex::encode(&record.content_hash),
            operator: format!("{REQUESTER} for {} (as the coordinator claims)", record.submitted_by),
            ..AuditEntry::default()
        }
    }

    /// The decision already made on `header`'s request, if it was
    /// proposed before with the same content; an error if with other
    /// content. Lets a repeated Propose answer before its items are read.
    pub fn propose_again(&self, header: &v1::ProposeHeader) -> Result<Option<v1::Decision>, NodeError> {
        check_request_id(&header.request_id)?;
        self.decided_before(&header.request_id, &header.content_hash)
    }

    /// The decision on request `id` if it was proposed with `content_hash`
    /// before; an error if with other content.
    pub(crate) fn decided_before(&self, id: &str, content_hash: &[u8]) -> Result<Option<v1::Decision>, NodeError> {
        let Some(record) = self.store.requests().get(id)? else { return Ok(None) };
        if record.content_hash != content_hash {
            return Err(RequestError::Conflict {
                id: record.id,
                stored: hex::encode(&record.content_hash),
                given: hex::encode(content_hash),
            }
            .into());
        }
        Ok(Some(self.signed(&record)))
    }

    /// Refuses a new request while [`MAX_OPEN_REQUESTS`] are open (the
    /// count is taken at every sweep, plus those opened since).
    pub(crate) fn check_open_requests(&self) -> Result<(), NodeError> {
        let open = self.open_requests.load(std::sync::atomic::Ordering::Relaxed);
        if open >= MAX_OPEN_REQUESTS {
            return Err(RequestError::TooManyOpen(open).into());
        }
        Ok(())
    }

    /// Counts a new request that is open.
    pub(crate) fn note_opened(&self, record: &StoredRequest) {
        if is_open(record.state()) {
            self.open_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Counts a request that closed (the sweep corrects any drift).
    pub(crate) fn note_closed(&self) {
        let _ = self.open_requests.fetch_update(std::sync::atomic::Ordering::Relaxed, std::sync::atomic::Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
    }

    /// Refuses an increment on another baseline than this signer's
    /// ([`crate::incremental::check_baseline`]); nothing is stored.
    fn check_increment(&self, zone: &str, header: &v1::ProposeHeader) -> Result<(), NodeError> {
        let state = self.store.requests().baselines().state(zone)?;
        check_baseline(zone, state.as_ref(), &header.baseline_request_id).map_err(|mismatch| {
            tracing::info!(request = %header.request_id, %zone, "propose refused: {mismatch}");
            NodeError::from(mismatch)
        })
    }

    /// Propose: evaluates the request's content (see
    /// [`crate::proposal::evaluate`] and
    /// [`crate::incremental::evaluate_incremental`]), stores it with the
    /// decision and records the decision in the audit log.
    pub fn propose(&self, header: v1::ProposeHeader, items: Vec<SigningItem>, now: Now) -> Result<v1::Decision, NodeError> {
        let zone = check_header(&header, self.proposal_bound())?;
        if let Some(decision) = self.propose_again(&header)? {
            return Ok(decision);
        }
        self.check_open_requests()?;
        let shares: Vec<_> = self.store.list()?.into_iter().filter(|s| s.zone == zone).collect();
        let baselines = self.store.requests().baselines();
        let started = std::time::Instant::now();
        // The proposal is judged against the baseline as it was read. A
        // publication can replace the baseline meanwhile (in several
        // batches, `Baselines::replace_batches`): an increment is then
        // refused (the coordinator proposes in full), a full proposal is
        // evaluated again on the new baseline.
        let mut attempt = 0;
        let (record, denial_checked_in) = loop {
            attempt += 1;
            let read = baselines.state(&zone)?;
            let mut ctx = ProposeContext {
                policy: self.policy.clone(),
                shares: shares.clone(),
                now: now.unix(),
                unproven: read.as_ref().and_then(|s| s.unproven()),
                baseline_keys: (None, Default::default()),
                check_denial: self.checks_denial(),
            };
            if self.policy.approval.key_changes == crate::approval::KeyChanges::Rollover {
                let apex = frostzone_dnssec::name::ZoneName::parse(&zone).map_err(|e| NodeError::field("zone", e))?.into_apex();
                ctx.baseline_keys = (baselines.published_dnskeys(&zone, &apex)?, baselines.keys_seen(&zone)?);
            }
            let (record, content) = if header.incremental {
                self.check_increment(&zone, &header)?;
                let whole = || Ok(baselines.rrsets(&zone)?.unwrap_or_default());
                evaluate_incremental(&header, &zone, &items, &ctx, &baselines.source(&zone), whole)?
            } else {
                evaluate(&header, &zone, &items, baselines.rrsets_in_order(&zone)?, &ctx)?
            };
            #[cfg(test)]
            if let Some(hook) = lock(&self.after_evaluation).as_mut() {
                hook(self);
            }
            let _decisions = lock(&self.decisions);
            if let Some(decision) = self.propose_again(&header)? {
                return Ok(decision);
            }
            if header.incremental {
                self.check_increment(&zone, &header)?;
            } else if baselines.state(&zone)? != read {
                if attempt < PROPOSE_ATTEMPTS {
                    tracing::info!(request = %header.request_id, %zone, "the baseline changed while the proposal was evaluated; evaluating it again");
                    continue;
                }
                return Err(NodeError::Internal(format!(
                    "the baseline of {zone} changed while the proposal was evaluated, {PROPOSE_ATTEMPTS} times; nothing kept, propose it again"
                )));
            }
            let denial_checked_in = content.denial_checked_in;
            self.store.requests().insert(&record, content)?;
            break (record, denial_checked_in);
        };
        self.note_opened(&record);
        self.metrics.decided("signing", policy_decision(record.state()));
        let changes = record.changes.map(|c| describe(&c)).unwrap_or_default();
        let outcome = match record.state() {
            RequestState::Approved => format!("approved by policy: {changes}"),
            RequestState::Pending => format!("pending its operator: {}; {changes}", record.reason),
            _ => format!("rejected: {}", record.reason),
        };
        tracing::info!(
            request = %record.id,
            zone = %record.zone,
            incremental = header.incremental,
            items = items.len(),
            evaluated_ms = started.elapsed().as_secs_f64() * 1000.0,
            denial_check_ms = denial_checked_in.unwrap_or_default().as_secs_f64() * 1000.0,
            "propose: {outcome}"
        );
        // Approved by policy: round 1 of a small request goes with the
        // decision, recorded in the same audit append.
        let ahead = if record.state() == RequestState::Approved {
            self.precommit(&record.id, &zone, &items, now)
        } else {
            Vec::new()
        };
        let mut entries = vec![AuditEntry { event: "propose".into(), outcome, ..self.propose_audit(&record) }];
        let (precommitted, commit_entries): (Vec<_>, Vec<_>) = ahead.into_iter().unzip();
        entries.extend(commit_entries);
        if let Err(e) = self.audit_all(entries) {
            // Not recorded, not released: the nonces go.
            self.drop_unused_nonces(&record.id);
            return Err(e);
        }
        Ok(v1::Decision { precommitted, ..self.signed(&record) })
    }

    /// The current decision on a request.
    pub fn get_decision(&self, req: v1::GetDecisionRequest, now: Now) -> Result<v1::Decision, NodeError> {
        check_request_id(&req.request_id)?;
        self.expire_due(now.unix())?;
        let record = self.store.requests().get(&req.request_id)?.ok_or(RequestError::Unknown(req.request_id))?;
        Ok(self.signed(&record))
    }

    /// The coordinator's outcome. Published: if this signer approved the
    /// request itself, or `req.approvals` prove that t members of its
    /// roster approved the content it holds for it ([`crate::proof`]), the
    /// request's RRsets become the zone's baseline, replacing it (full
    /// request) or applied to it (increment on the current baseline);
    /// otherwise the baseline is left stale
    /// ([`crate::incremental::publication`]). Without such proof the call
    /// is refused, recorded in the audit log, the baseline stays and the
    /// zone's proposals wait for the operator until a publication this
    /// signer can accept. Not published: FAILED.
    pub fn published(&self, req: v1::PublishedRequest, now: Now) -> Result<v1::Decision, NodeError> {
        check_request_id(&req.request_id)?;
        let started = std::time::Instant::now();
        let now = now.unix();
        let requests = self.store.requests();
        if let Some(record) = requests.get(&req.request_id)? {
            // Its own staging holds the decision lock chunk by chunk.
            self.wait_for_staging(&record.zone, &record.id);
        }
        let _decisions = lock(&self.decisions);
        let mut record = requests.get(&req.request_id)?.ok_or(RequestError::Unknown(req.request_id.clone()))?;
        let target = if req.published { RequestState::Published } else { RequestState::Failed };
        if record.state() == target {
            return Ok(self.signed(&record));
        }
        if record.state() == RequestState::Published {
            return Err(bad_state(&record, "it cannot fail after publication"));
        }
        if record.state() == RequestState::Failed {
            return Err(bad_state(&record, "it cannot be published after it failed"));
        }
        if req.published && record.ceremony.is_some() {
            return Err(bad_state(&record, "a key ceremony ends at the signer when its step completes; there is nothing to publish"));
        }
        let proof = if req.published && !record.approved_here() {
            match self.publication_proof(&record, &req.approvals) {
                Ok(proof) => proof,
                Err(why) => return Err(self.refuse_publication(&record, why, now)),
            }
        } else {
            "approved by this signer".to_string()
        };
        lock(&self.approved).remove(&record.id);
        // Nonces committed with the approval and not used by a quorum.
        self.drop_unused_nonces(&record.id);
        record.set_state(target, now);
        let outcome = if req.published {
            record.reason.clear();
            let prepared = self.staging.take_prepared(&record.id);
            let publication = publication(requests, &record, &req.detail, now, prepared)?;
            requests.publish(&record, publication.batches, now)?;
            // The baseline holds what later requests are compared with; no
            // Commit may follow publication.
            requests.prune(&mut record, true)?;
            format!("{}; {proof}", publication.outcome)
        } else {
            self.forget_prepared(&record.id);
            record.reason = if req.detail.is_empty() { "the coordinator gave up".into() } else { req.detail.clone() };
            requests.prune(&mut record, true)?;
            format!("failed: {}", record.reason)
        };
        self.note_closed();
        let event = if req.published { "published" } else { "failed" };
        tracing::info!(request = %record.id, zone = %record.zone, applied_ms = started.elapsed().as_secs_f64() * 1e3, "{event}: {outcome}");
        self.audit(AuditEntry { event: event.into(), outcome, operator: REQUESTER.into(), ..self.propose_audit(&record) })?;
        Ok(self.signed(&record))
    }

    /// Checks the approvals relayed with a publication of `record`, which
    /// this signer did not approve itself: t distinct roster members must
    /// have approved its content. Returns what proved it, or why not.
    fn publication_proof(&self, record: &StoredRequest, approvals: &[v1::ApprovalProof]) -> Result<String, String> {
        let Some(roster) = self.roster.as_deref() else {
            return Err("this signer has no roster to check approvals against".into());
        };
        let (proven, problems) = crate::proof::proven_approvals(roster, record, approvals);
        if proven >= usize::from(roster.threshold) {
            return Ok(format!("proven by {proven} signed approvals of its content, t = {}", roster.threshold));
        }
        let mut why = format!(
            "this signer did not approve request {} ({}) and the publication proves {proven} of the {} approvals of its content it needs",
            record.id,
            state_name(record.state()),
            roster.threshold
        );
        if !problems.is_empty() {
            why.push_str(&format!(" ({})", problems.join("; ")));
        }
        Err(crate::proposal::bounded(&why))
    }

    /// A publication this signer cannot accept: recorded in the audit log,
    /// the zone's baseline kept and marked so that its proposals wait for
    /// the operator. The caller holds the decision lock.
    fn refuse_publication(&self, record: &StoredRequest, why: String, now: u64) -> NodeError {
        tracing::warn!(request = %record.id, zone = %record.zone, "publication refused: {why}");
        let baselines = self.store.requests().baselines();
        let marked = baselines.state(&record.zone).and_then(|state| {
            let mut state = state.unwrap_or_else(|| crate::baseline::BaselineState::of("", now));
            state.unproven_since = record.id.clone();
            state.unproven_reason = why.clone();
            baselines.apply(crate::baseline::Baselines::state_batch(&record.zone, &state))?;
            self.store.requests().flush()
        });
        let entry = AuditEntry {
            event: "publication-refused".into(),
            operator: REQUESTER.into(),
            outcome: format!("{why}; baseline kept, proposals for {} wait for the operator", record.zone),
            ..self.propose_audit(record)
        };
        if let Err(e) = marked {
            return e.into();
        }
        match self.audit(entry) {
            Ok(()) => RequestError::Unproven(format!("publication of request {} refused: {why}", record.id)).into(),
            Err(e) => e,
        }
    }

    /// Checks that a Commit under `request_id` for `zone` may be made:
    /// the request is one this signer approved (or signed, in earlier
    /// batches), within [`APPROVAL_WINDOW_SECS`], for the same zone, and
    /// every item is one it was proposed.
    pub(crate) fn check_commit_binding(&self, request_id: &str, zone: &str, items: &[SigningItem], now: Now) -> Result<(), NodeError> {
        check_request_id(request_id)?;
        let approved = self.approved_request(request_id)?;
        let refuse = |why: String| NodeError::from(RequestError::NotApproved(why));
        if approved.zone != zone {
            return Err(refuse(format!("request {request_id} is for zone {}, not {zone}", approved.zone)));
        }
        if now.unix() >= approved.approved_unix.saturating_add(APPROVAL_WINDOW_SECS) {
            return Err(refuse(format!(
                "request {request_id} was approved more than {} h ago; propose it again",
                APPROVAL_WINDOW_SECS / 3600
            )));
        }
        let stray = find_map_first_indexed(items, |i, item| (!approved.digests.contains(&item_digest(item))).then_some((i, item)));
        match stray {
            Some((i, item)) => {
                Err(refuse(format!("item {i} ({}) was not proposed under request {request_id}", describe_item(item))))
            }
            None => Ok(()),
        }
    }

    /// Whether `request_id` still lets shares out (checked again at Sign:
    /// an operator may reject between Commit and Sign).
    pub(crate) fn still_approved(&self, request_id: &str) -> bool {
        lock(&self.approved).contains_key(request_id)
    }

    fn approved_request(&self, id: &str) -> Result<Arc<ApprovedRequest>, NodeError> {
        if let Some(found) = lock(&self.approved).get(id) {
            return Ok(found.clone());
        }
        let _decisions = lock(&self.decisions);
        let record = self.store.requests().get(id)?.ok_or_else(|| {
            RequestError::NotApproved(format!("request {id} was never proposed to this signer; it makes no shares for it"))
        })?;
        if record.ceremony.is_some() {
            return Err(RequestError::NotApproved(format!("request {id} is a key ceremony, not zone content: no share is made for it")).into());
        }
        match record.state() {
            RequestState::Approved | RequestState::Signed => {}
            RequestState::Pending => {
                return Err(RequestError::NotApproved(format!(
                    "request {id} is pending this signer's operator ({}); no share is made before approval",
                    record.reason
                ))
                .into())
            }
            other => {
                let why = if record.reason.is_empty() { String::new() } else { format!(" ({})", record.reason) };
                return Err(RequestError::NotApproved(format!("request {id} is {}{why}; no share is made for it", state_name(other))).into());
            }
        }
        let approved = Arc::new(ApprovedRequest {
            zone: record.zone.clone(),
            approved_unix: record.approved_unix,
            digests: self.store.requests().digests(id)?.into_iter().collect(),
        });
        lock(&self.approved).insert(id.to_string(), approved.clone());
        Ok(approved)
    }

    /// After a Sign under `request_id`: APPROVED becomes SIGNED.
    pub(crate) fn mark_signed(&self, request_id: &str, now: Now) -> Result<(), NodeError> {
        let _decisions = lock(&self.decisions);
        let requests = self.store.requests();
        if let Some(mut record) = requests.get(request_id)? {
            if record.state() == RequestState::Approved {
                record.set_state(RequestState::Signed, now.unix());
                requests.update(&record)?;
            }
        }
        Ok(())
    }

    /// Expires what is due and prunes content no longer needed (see the
    /// module documentation); returns how many requests expired. Run by
    /// the sweeper, and before answering about decisions.
    pub fn expire_due(&self, now: u64) -> Result<usize, NodeError> {
        let _decisions = lock(&self.decisions);
        let requests = self.store.requests();
        let mut expired = 0;
        let mut open = 0;
        let mut pending = 0;
        for mut record in requests.list()? {
            let state = record.state();
            let due = match state {
                RequestState::Pending if now >= record.expires_unix => Some("nobody decided in time".to_string()),
                RequestState::Approved if now >= record.approved_unix.saturating_add(APPROVAL_WINDOW_SECS) => {
                    Some(format!("approved but not signed within {} h", APPROVAL_WINDOW_SECS / 3600))
                }
                _ => None,
            };
            if let Some(reason) = due {
                lock(&self.approved).remove(&record.id);
                self.forget_prepared(&record.id);
                record.set_state(RequestState::Expired, now);
                record.reason = reason;
                requests.prune(&mut record, false)?;
                expired += 1;
                self.metrics.decided(request_kind(&record), Decision::Expired);
                let outcome = format!("expired: {}", record.reason);
                tracing::info!(request = %record.id, zone = %record.zone, "{outcome}");
                self.audit(AuditEntry { event: "expired".into(), outcome, operator: "policy".into(), ..self.propose_audit(&record) })?;
                continue;
            }
            let state = record.state();
            let still_open = is_open(state);
            if !still_open {
                self.forget_prepared(&record.id);
            }
            let old = now >= record.created_unix.saturating_add(CONTENT_RETENTION_SECS);
            // A request signed but never published nor failed stops
            // counting once its content is too old to matter.
            open += usize::from(still_open && !old);
            pending += usize::from(state == RequestState::Pending);
            let prune_digests = record.digests_stored && (!still_open || old);
            let prune_content = record.content_stored
                && match state {
                    // The baseline tree holds what publication made of it.
                    RequestState::Failed | RequestState::Published => true,
                    RequestState::Pending => false,
                    _ => old,
                };
            if prune_digests || prune_content {
                lock(&self.approved).remove(&record.id);
                requests.prune(&mut record, prune_content)?;
            }
        }
        self.open_requests.store(open, std::sync::atomic::Ordering::Relaxed);
        self.metrics.swept(open, pending);
        Ok(expired)
    }

    /// Resolves an admin's request id or unique prefix of at least
    /// [`MIN_ID_PREFIX`] hex digits.
    fn resolve(&self, id: &str) -> Result<StoredRequest, NodeError> {
        let id = id.trim();
        if id.len() < MIN_ID_PREFIX || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NodeError::field(
                "request_id",
                format!("give the request id or at least {MIN_ID_PREFIX} of its leading hex digits"),
            ));
        }
        let id = id.to_ascii_lowercase();
        let requests = self.store.requests();
        if let Some(record) = requests.get(&id)? {
            return Ok(record);
        }
        let mut found = requests.with_prefix(&id, 2)?;
        match found.len() {
            0 => Err(RequestError::Unknown(id).into()),
            1 => Ok(found.remove(0)),
            _ => Err(RequestError::Ambiguous(id).into()),
        }
    }

    /// Admin: the requests kept, pending ones only unless `all`, oldest first.
    pub fn list_requests(&self, all: bool, now: Now) -> Result<v1::AdminListResponse, NodeError> {
        self.expire_due(now.unix())?;
        let mut records: Vec<StoredRequest> = self
            .store
            .requests()
            .list()?
            .into_iter()
            .filter(|r| all || r.state() == RequestState::Pending)
            .collect();
        records.sort_by(|a, b| (a.created_unix, &a.id).cmp(&(b.created_unix, &b.id)));
        Ok(v1::AdminListResponse { requests: records.iter().map(info).collect() })
    }

    /// Admin: one request with its `+`/`-` lines (at most `max_lines`; 0:
    /// all kept) and the keys it asks signatures of.
    pub fn show_request(&self, req: v1::AdminShowRequest, now: Now) -> Result<v1::AdminRequestDetail, NodeError> {
        self.expire_due(now.unix())?;
        let record = self.resolve(&req.request_id)?;
        let mut lines = self.store.requests().lines(&record.id)?;
        if req.max_lines > 0 {
            lines.truncate(req.max_lines as usize);
        }
        Ok(v1::AdminRequestDetail {
            info: Some(info(&record)),
            lines,
            total_lines: record.total_lines,
            keys: record.keys.clone(),
            validity: record.validity.clone(),
        })
    }

    /// Admin: approves a pending request, bound to the content hash the
    /// operator reviewed.
    pub fn approve(&self, req: v1::AdminApproveRequest, operator: &str, now: Now) -> Result<v1::Decision, NodeError> {
        let now = now.unix();
        self.expire_due(now)?;
        let _decisions = lock(&self.decisions);
        let mut record = self.resolve(&req.request_id)?;
        if record.state() != RequestState::Pending {
            return Err(bad_state(&record, "only a pending request can be approved"));
        }
        if record.content_hash != req.content_hash {
            return Err(RequestError::HashMismatch {
                id: record.id,
                actual: hex::encode(&record.content_hash),
                given: hex::encode(&req.content_hash),
            }
            .into());
        }
        record.set_state(RequestState::Approved, now);
        record.approved_unix = now;
        record.decided_by = operator.to_string();
        record.reason.clear();
        self.store.requests().update(&record)?;
        tracing::info!(request = %record.id, zone = %record.zone, %operator, "approved by the operator");
        self.metrics.decided(request_kind(&record), Decision::ApprovedByOperator);
        let entry = AuditEntry { event: "approve".into(), operator: operator.into(), outcome: "approved".into(), ..self.propose_audit(&record) };
        self.audit(entry)?;
        Ok(self.signed(&record))
    }

    /// Admin: rejects a pending request, or an approved one no share was
    /// made for yet.
    pub fn reject(&self, req: v1::AdminRejectRequest, operator: &str, now: Now) -> Result<v1::Decision, NodeError> {
        let reason = req.reason.trim();
        if reason.is_empty() {
            return Err(NodeError::field("reason", "say why the request is rejected"));
        }
        if reason.chars().count() > crate::proposal::MAX_REASON_CHARS {
            return Err(NodeError::field(
                "reason",
                format!("{} characters, at most {}: say why briefly", reason.chars().count(), crate::proposal::MAX_REASON_CHARS),
            ));
        }
        let now = now.unix();
        self.expire_due(now)?;
        let _decisions = lock(&self.decisions);
        let mut record = self.resolve(&req.request_id)?;
        let was_pending = record.state() == RequestState::Pending;
        match record.state() {
            RequestState::Pending | RequestState::Approved => {}
            RequestState::Signed => return Err(bad_state(&record, "shares were made for it already")),
            _ => return Err(bad_state(&record, "only a pending or approved request can be rejected")),
        }
        lock(&self.approved).remove(&record.id);
        record.set_state(RequestState::Rejected, now);
        record.decided_by = operator.to_string();
        record.reason = reason.to_string();
        self.store.requests().prune(&mut record, false)?;
        tracing::info!(request = %record.id, zone = %record.zone, %operator, "rejected by the operator: {reason}");
        if was_pending {
            self.metrics.decided(request_kind(&record), Decision::RejectedByOperator);
        } else {
            self.metrics.rejected_after_approval(request_kind(&record));
        }
        let outcome = format!("rejected: {reason}");
        self.audit(AuditEntry { event: "reject".into(), operator: operator.into(), outcome, ..self.propose_audit(&record) })?;
        Ok(self.signed(&record))
    }
}

/// The policy's decision on a request it just evaluated.
pub(crate) fn policy_decision(state: RequestState) -> Decision {
    match state {
        RequestState::Approved => Decision::ApprovedByPolicy,
        RequestState::Pending => Decision::Pending,
        _ => Decision::RejectedByPolicy,
    }
}

/// "ceremony" for a key ceremony's record, "signing" for a zone request.
fn request_kind(record: &StoredRequest) -> &'static str {
    if record.ceremony.is_some() {
        "ceremony"
    } else {
        "signing"
    }
}

/// A record as the admin API lists it. `expires_unix` is the deadline that
/// applies now: the operator's while pending, the approval window's once
/// approved.
fn info(record: &StoredRequest) -> v1::AdminRequestInfo {
    let expires_unix = match record.state() {
        RequestState::Approved | RequestState::Signed => record.approved_unix.saturating_add(APPROVAL_WINDOW_SECS),
        _ => record.expires_unix,
    };
    v1::AdminRequestInfo {
        request_id: record.id.clone(),
        zone: record.zone.clone(),
        decision: Some(record.decision()),
        created_unix: record.created_unix,
        expires_unix,
        submitted_by: record.submitted_by.clone(),
        ceremony: record.ceremony.clone(),
        key_step: record.key_step.clone(),
    }
}

/// Whether a request in `state` is open: it may still lead to shares or a
/// publication.
pub(crate) fn is_open(state: RequestState) -> bool {
    matches!(state, RequestState::Pending | RequestState::Approved | RequestState::Signed)
}
