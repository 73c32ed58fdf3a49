//! Proposing a request to the zone's signers and waiting for their
//! decisions; telling them how it ended.
//!
//! Every signer of the zone's key groups gets the request's content
//! (Signer.Propose: the header, then the items; see
//! [`crate::approval::proposals`]): incrementally when the signer's
//! baseline is the version published now, in full otherwise or when it
//! answers "baseline mismatch". It decides: approved by its policy,
//! pending its operator, or rejected. Its approval counts only with the
//! content hash of what it was sent.
//! One task per signer moves the bytes: it proposes (again every
//! [`PROPOSE_RETRY`] while the signer cannot be reached), then asks for
//! the decision every [`POLL_INTERVAL`] until it is settled. The waiting
//! loop records each decision in the request and the audit log, and
//! [`QuorumWait`] (no I/O) decides from the decisions and the time what
//! happens next: wait, send a progress line, approve, or fail.
//!
//! When the request ends, [`crate::approval::outcome`] tells every signer that
//! answered (Signer.Published) in the background: a signer that misses it
//! only keeps a stale baseline, it never fails the request.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use frostzone_proto::audit::AuditEntry;
use frostzone_proto::v1 as pb;
use frostzone_proto::API_VERSION;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::quorum_wait::{QuorumWait, Step, WaitFailure};
use crate::approval::tally::{Approvers, GroupSigners, ShortId};
use crate::request::decision::{from_wire, DecisionState, RecordedDecision};
use crate::error::CoordinatorError;
use crate::keys::KeyGroup;
use crate::approval::proposals::{proposal_chunks, Mode, ProposalSet};
use crate::request::RequestPhase;
use crate::request::live::LiveRequest;
use crate::signers::{describe, SignerHandle, SignerPool};
use crate::signing::attempt::Precommitted;
use crate::{unix_now, Coordinator};

/// How often a pending decision is asked for again: an operator's
/// approval shows within a second, and a signer answers a GetDecision
/// from memory.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How often a signer that could not be reached is proposed to again.
pub const PROPOSE_RETRY: Duration = Duration::from_secs(5);




/// Where progress lines go (SignZone sends them to the client).
pub type Progress = dyn Fn(String) + Send + Sync;

/// What is proposed.
pub(crate) struct Proposal<'a> {
    /// The zone, as the signers know it.
    pub zone: &'a str,
    /// SHA-256 content hash of the items to sign, in plan order (the
    /// request's hash in the audit log; each signer's approval is checked
    /// against the hash of its own proposal).
    pub content_hash: [u8; 32],
    /// The proposals.
    pub set: &'a Arc<ProposalSet>,
    /// Signers proposed to incrementally; every other one gets the full
    /// proposal.
    pub incremental: &'a BTreeSet<String>,
    /// The zone's key groups.
    pub groups: &'a [Arc<KeyGroup>],
    /// The operator certificate that submitted it.
    pub submitted_by: &'a str,
    /// The rollover step it is, if it is one.
    pub key_step: Option<&'a str>,
    /// How long to wait for approvals.
    pub timeout: Duration,
}

/// The key groups as approval sees them.
fn group_signers(groups: &[Arc<KeyGroup>]) -> Vec<GroupSigners> {
    groups
        .iter()
        .map(|g| GroupSigners {
            key_tag: g.record.key_tag,
            threshold: usize::from(g.record.threshold),
            signers: g.record.signers.clone(),
        })
        .collect()
}

/// Every signer of `groups`, configured ones in participant order first.
fn proposed_signers(pool: &SignerPool, groups: &[GroupSigners]) -> Vec<String> {
    let mut names: Vec<String> = pool
        .all()
        .iter()
        .map(|s| s.name().to_string())
        .filter(|n| groups.iter().any(|g| g.signers.contains(n)))
        .collect();
    for n in groups.iter().flat_map(|g| &g.signers) {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    names
}

/// Proposes the request of `live` to every signer of its zone's key
/// groups and waits until every group has its threshold of approvers;
/// returns them by key tag, with the commitments approvers sent with
/// their approval. Fails with [`CoordinatorError::NotApproved`] when the
/// request is rejected or the deadline passes.
pub(crate) async fn seek_approval(
    c: &Arc<Coordinator>,
    live: &LiveRequest,
    proposal: Proposal<'_>,
    progress: &Progress,
) -> Result<(Approvers, Precommitted), CoordinatorError> {
    let groups = group_signers(proposal.groups);
    let names = proposed_signers(&c.signers, &groups);
    let request_id = live.id();
    let started = Instant::now();
    let expires_unix = crate::expiry_after(proposal.timeout);
    let threshold = groups.iter().map(|g| g.threshold).max().unwrap_or(0);
    live.update(|r| {
        r.expires_unix = expires_unix;
        r.threshold = u32::try_from(threshold).unwrap_or(u32::MAX);
        for n in &names {
            r.decisions.entry(n.clone()).or_default();
        }
        let _ = r.advance(RequestPhase::Proposed, unix_now());
        true
    });
    let needs: Vec<String> =
        groups.iter().map(|g| format!("key tag {} needs {} of {}", g.key_tag, g.threshold, g.signers.len())).collect();
    c.audit(AuditEntry {
        event: "proposed".into(),
        request: request_id.clone(),
        zone: proposal.zone.to_string(),
        content_hash: hex::encode(proposal.content_hash),
        operator: proposal.submitted_by.to_string(),
        signers: names.clone(),
        outcome: format!("{}; waiting until {expires_unix}", needs.join(", ")),
        ..AuditEntry::default()
    }).await?;
    progress(format!(
        "request {}: proposed to {} ({} signatures, {}); waiting up to {} s for approvals",
        ShortId(&request_id),
        names.join(", "),
        proposal.set.items(),
        needs.join(", "),
        proposal.timeout.as_secs()
    ));

    let mut wait = QuorumWait::new(&request_id, groups, names.clone(), proposal.timeout, started.into_std());
    let (tx, mut answers) = mpsc::unbounded_channel();
    // Dropping the set (on return) stops every signer's task.
    let mut followers = JoinSet::new();
    let header = pb::ProposeHeader {
        api_version: API_VERSION,
        request_id: request_id.clone(),
        zone: proposal.zone.to_string(),
        expires_unix,
        submitted_by: proposal.submitted_by.to_string(),
        key_step: proposal.key_step.unwrap_or_default().to_string(),
        ..Default::default()
    };
    for name in &names {
        match c.signers.get(name) {
            Some(signer) => {
                let mode = if proposal.incremental.contains(name) { Mode::Incremental } else { Mode::Full };
                let follower = Follower {
                    signer: signer.clone(),
                    common: header.clone(),
                    set: proposal.set.clone(),
                    mode,
                    answers: tx.clone(),
                };
                followers.spawn(follower.run());
            }
            None => {
                wait.heard(name);
                let note = "not in the coordinator's [[signers]]: cannot be asked".to_string();
                live.update(|r| r.record_decision(name, RecordedDecision { reason: note, ..Default::default() }, unix_now()));
            }
        }
    }
    drop(tx);

    let mut precommitted = Precommitted::new();
    let mut open = true;
    loop {
        let wake_at = Instant::from_std(wait.wake_at(Instant::now().into_std()));
        let mut heard = Vec::new();
        tokio::select! {
            answer = answers.recv(), if open => match answer {
                Some(first) => {
                    heard.push(first);
                    // Answers that came in together are recorded together:
                    // one fsync of the audit log, not one each.
                    while let Ok(more) = answers.try_recv() {
                        heard.push(more);
                    }
                }
                // Every task ended: only the deadline can change anything.
                None => open = false,
            },
            () = tokio::time::sleep_until(wake_at) => {}
        }
        let mut entries = Vec::new();
        for (name, decision, ahead) in heard {
            if decision.state.approves() && !ahead.is_empty() {
                precommitted.insert(name.clone(), ahead);
            } else if !decision.state.approves() {
                precommitted.remove(&name);
            }
            entries.extend(record(live, &proposal, &name, decision)?);
            wait.heard(&name);
        }
        let decisions = live.record()?.decisions;
        match wait.step(&decisions, Instant::now().into_std()) {
            Step::Approved(approvers) => {
                let all = approved(live, &proposal, &approvers, &mut entries);
                // The quorum is on record before anything is signed.
                c.audit_all(entries).await?;
                tracing::info!(request = %live.id(), "{}: approved by {}", proposal.zone, all.join(", "));
                progress(format!("request {}: approved by {}; signing", ShortId(&live.id()), all.join(", ")));
                return Ok((approvers, precommitted));
            }
            Step::Failed(failure) => {
                c.audit_all(entries).await?;
                return Err(match failure {
                    WaitFailure::NotApproved(failure) => failure.into(),
                    e => CoordinatorError::Internal(e.to_string()),
                });
            }
            Step::Wait(line) => {
                c.audit_all(entries).await?;
                if let Some(line) = line {
                    progress(line);
                }
            }
        }
        // Reap the tasks that ended (settled signers).
        while followers.try_join_next().is_some() {}
    }
}

/// Records one answer in the live request; returns the audit entry to
/// append when the signer's state changed.
fn record(
    live: &LiveRequest,
    proposal: &Proposal<'_>,
    name: &str,
    decision: RecordedDecision,
) -> Result<Option<AuditEntry>, CoordinatorError> {
    let before = live.record()?.decisions.get(name).map(|d| d.state).unwrap_or_default();
    let state = decision.state;
    let outcome = match (state, decision.decided_by.as_str(), decision.reason.as_str()) {
        (s, "", "") => s.to_string(),
        (s, "", r) => format!("{s}: {r}"),
        (s, by, "") => format!("{s} by {by}"),
        (s, by, r) => format!("{s} by {by}: {r}"),
    };
    if !live.update(|r| r.record_decision(name, decision, unix_now())) || state == before {
        return Ok(None);
    }
    tracing::info!(signer = %name, request = %live.id(), "{}: {outcome}", proposal.zone);
    if state == DecisionState::Unanswered {
        return Ok(None);
    }
    Ok(Some(AuditEntry {
        event: "decision".into(),
        request: live.id(),
        zone: proposal.zone.to_string(),
        content_hash: hex::encode(proposal.content_hash),
        operator: proposal.submitted_by.to_string(),
        signers: vec![name.to_string()],
        outcome,
        ..AuditEntry::default()
    }))
}

/// The quorum is reached: on record, and its audit entry after the
/// decisions in `entries`. Returns every approver, each once.
fn approved(live: &LiveRequest, proposal: &Proposal<'_>, approvers: &Approvers, entries: &mut Vec<AuditEntry>) -> Vec<String> {
    live.update(|r| r.advance(RequestPhase::Approved, unix_now()).unwrap_or(false));
    let mut all: Vec<String> = Vec::new();
    for name in approvers.values().flatten() {
        if !all.contains(name) {
            all.push(name.clone());
        }
    }
    let per_group: Vec<String> =
        approvers.iter().map(|(tag, names)| format!("key tag {tag}: {}", names.join(", "))).collect();
    entries.push(AuditEntry {
        event: "approved".into(),
        request: live.id(),
        zone: proposal.zone.to_string(),
        content_hash: hex::encode(proposal.content_hash),
        operator: proposal.submitted_by.to_string(),
        signers: all.clone(),
        outcome: format!("quorum of approvals: {}", per_group.join("; ")),
        ..AuditEntry::default()
    });
    all
}

/// One signer's side of the wait: propose, then poll until settled.
struct Follower {
    signer: SignerHandle,
    /// The header fields every proposal of the request shares.
    common: pb::ProposeHeader,
    set: Arc<ProposalSet>,
    mode: Mode,
    answers: mpsc::UnboundedSender<(String, RecordedDecision, Vec<pb::Precommitment>)>,
}

/// Whether a signer refused an incremental proposal because its baseline
/// is another request (it then stored nothing).
fn is_baseline_mismatch(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::FailedPrecondition && status.message().starts_with("baseline mismatch")
}

impl Follower {
    fn send(&self, decision: RecordedDecision, ahead: Vec<pb::Precommitment>) -> bool {
        self.answers.send((self.signer.name().to_string(), decision, ahead)).is_ok()
    }

    fn unreachable(&self, status: &tonic::Status) -> bool {
        self.send(RecordedDecision { reason: format!("unreachable: {}", describe(status)), ..Default::default() }, Vec::new())
    }

    /// The header and content hash of this signer's proposal (the full
    /// proposal's hash is computed at its first use, on the blocking
    /// pool); `None` when the plan is gone.
    async fn header(&self) -> Option<(pb::ProposeHeader, [u8; 32])> {
        let (set, mode) = (self.set.clone(), self.mode);
        let hash = tokio::task::spawn_blocking(move || set.content_hash(mode)).await.ok()??;
        Some((self.set.header(self.mode, &self.common, hash), hash))
    }

    async fn run(mut self) {
        let id = self.common.request_id.clone();
        'propose: loop {
            let started = Instant::now();
            let Some((header, content_hash)) = self.header().await else { return };
            let hashed = started.elapsed();
            let items = header.item_count;
            let answer = self.signer.propose(proposal_chunks(header, self.set.clone(), self.mode), items).await;
            tracing::debug!(signer = %self.signer.name(), request = %id, "proposal: hash {:.3} s, answered after {:.3} s", hashed.as_secs_f64(), started.elapsed().as_secs_f64());
            let (mut decision, mut ahead) = match answer {
                Ok(answer) => (from_wire(&answer, &id, &content_hash), answer.precommitted),
                Err(e) if self.mode == Mode::Incremental && is_baseline_mismatch(&e.status) => {
                    tracing::info!(signer = %self.signer.name(), request = %id, "{}; proposing in full", e.status.message());
                    self.mode = Mode::Full;
                    continue;
                }
                Err(e) => {
                    if !self.unreachable(&e.status) {
                        return;
                    }
                    tokio::time::sleep(PROPOSE_RETRY).await;
                    continue;
                }
            };
            loop {
                if !self.send(decision.clone(), std::mem::take(&mut ahead)) || decision.state.is_settled() {
                    return;
                }
                tokio::time::sleep(POLL_INTERVAL).await;
                decision = match self.signer.get_decision(&id).await {
                    Ok(answer) => from_wire(&answer, &id, &content_hash),
                    // The signer lost the request (restarted without it).
                    Err(e) if e.status.code() == tonic::Code::NotFound => continue 'propose,
                    Err(e) => {
                        tracing::debug!(signer = %self.signer.name(), "GetDecision {id}: {}", describe(&e.status));
                        continue;
                    }
                };
            }
        }
    }
}

