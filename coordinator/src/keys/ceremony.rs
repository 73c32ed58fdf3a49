//! Key ceremonies (DKG of a new key, import of an existing one, removal of
//! a key's shares) proposed to the signers as requests and waited on.
//!
//! A signer takes no ceremony step before it approved the ceremony itself,
//! by its policy or through its operator, after checking it against its
//! own roster (t and every participant). So the coordinator proposes
//! first ([`seek`]): every signer concerned gets the ceremony
//! (Signer.ProposeCeremony, again every [`PROPOSE_RETRY`] while it cannot
//! be reached) and is asked for its decision every [`POLL_INTERVAL`] until
//! it is settled. DKG and import need every signer: one refusal fails the
//! ceremony at once, a signer unreachable for [`UNREACHABLE_GRACE`] too.
//! A removal takes whoever approves by the deadline.

use std::collections::BTreeMap;
use std::time::Duration;

use frostzone_proto::audit::AuditEntry;
use frostzone_proto::content::ceremony_hash;
use frostzone_proto::v1 as pb;
use frostzone_proto::API_VERSION;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::request::decision::{from_wire, DecisionState, RecordedDecision};
use crate::error::CoordinatorError;
use crate::approval::quorum_wait::UNREACHABLE_GRACE;
use crate::approval::wait::{POLL_INTERVAL, PROPOSE_RETRY};
use crate::signers::{describe, SignerHandle};
use crate::Coordinator;

/// A ceremony the signers decided on.
#[derive(Debug)]
pub struct Decided {
    /// Its request id.
    pub request_id: String,
    /// Every signer's last decision, by name.
    pub decisions: BTreeMap<String, RecordedDecision>,
}

impl Decided {
    /// The signers (of `signers`) that approved, in order.
    pub fn approvers<'a>(&self, signers: &'a [SignerHandle]) -> Vec<&'a SignerHandle> {
        signers.iter().filter(|s| self.decisions.get(s.name()).is_some_and(|d| d.state.approves())).collect()
    }
}

/// "a DKG of a new KSK for example.com.", for messages.
pub fn describe_ceremony(ceremony: &pb::KeyCeremony) -> String {
    let role = crate::keys::role_from_proto(ceremony.role).map(|r| r.to_string()).unwrap_or_else(|_| "key".into());
    match pb::CeremonyKind::try_from(ceremony.kind) {
        Ok(pb::CeremonyKind::Dkg) => format!("a DKG of a new {role} for {}", ceremony.zone),
        Ok(pb::CeremonyKind::Import) => format!("the import of a {role} for {}", ceremony.zone),
        Ok(pb::CeremonyKind::Remove) => format!("the removal of key tag {} of {}", ceremony.key_tag, ceremony.zone),
        Ok(pb::CeremonyKind::Repair) => format!("the repair of a lost share of the {role} key tag {} of {}", ceremony.key_tag, ceremony.zone),
        Ok(pb::CeremonyKind::Refresh) => format!("a share refresh of the {role} key tag {} of {}", ceremony.key_tag, ceremony.zone),
        _ => format!("a key ceremony for {}", ceremony.zone),
    }
}

/// A ceremony about the existing key `group` (refresh, repair) among
/// `participants`, in identifier order.
pub fn existing_key_ceremony(kind: pb::CeremonyKind, group: &crate::keys::KeyGroup, participants: &[SignerHandle]) -> pb::KeyCeremony {
    let mut ids: Vec<_> = participants.iter().map(|s| (s.identifier, s.participant_id())).collect();
    ids.sort_by_key(|p| p.0);
    pb::KeyCeremony {
        kind: kind.into(),
        zone: group.record.zone.clone(),
        role: crate::keys::role_to_proto(group.key.role).into(),
        threshold: group.record.threshold.into(),
        participants: ids.into_iter().map(|(_, p)| p).collect(),
        key_tag: group.record.key_tag.into(),
        group_public_key: hex::decode(&group.record.group_public_key).unwrap_or_default(),
        repaired: None,
    }
}

/// One line per undecided or refusing signer.
fn list(decisions: &BTreeMap<String, RecordedDecision>, keep: impl Fn(DecisionState) -> bool) -> String {
    decisions
        .iter()
        .filter(|(_, d)| keep(d.state))
        .map(|(name, d)| match (d.reason.is_empty(), d.decided_by.is_empty()) {
            (true, _) => format!("{name} {}", d.state),
            (false, true) => format!("{name} {}: {}", d.state, d.reason),
            (false, false) => format!("{name} {} by {}: {}", d.state, d.decided_by, d.reason),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Proposes `ceremony` to `signers` and waits for their decisions (see the
/// module documentation). `all`: every signer must approve.
pub async fn seek(
    c: &Coordinator,
    ceremony: pb::KeyCeremony,
    signers: &[SignerHandle],
    all: bool,
    submitted_by: &str,
    timeout: Duration,
) -> Result<Decided, CoordinatorError> {
    let request_id = hex::encode(crate::request::random_id());
    let what = describe_ceremony(&ceremony);
    let hash = ceremony_hash(&ceremony);
    let deadline = Instant::now() + timeout;
    let expires_unix = crate::expiry_after(timeout);
    let names: Vec<String> = signers.iter().map(|s| s.name().to_string()).collect();
    c.audit(AuditEntry {
        event: "ceremony-proposed".into(),
        request: request_id.clone(),
        zone: ceremony.zone.clone(),
        content_hash: hex::encode(hash),
        operator: submitted_by.to_string(),
        signers: names.clone(),
        outcome: format!("{what}; waiting until {expires_unix}"),
        ..AuditEntry::default()
    }).await?;
    tracing::info!(request = %request_id, "proposing {what} to {}", names.join(", "));
    let proposal = pb::CeremonyProposal {
        api_version: API_VERSION,
        request_id: request_id.clone(),
        ceremony: Some(ceremony),
        expires_unix,
        submitted_by: submitted_by.to_string(),
    };
    let (tx, mut answers) = mpsc::unbounded_channel();
    let mut followers = JoinSet::new();
    for signer in signers {
        followers.spawn(follow(signer.clone(), proposal.clone(), hash, tx.clone()));
    }
    drop(tx);
    let mut decisions: BTreeMap<String, RecordedDecision> = names.iter().map(|n| (n.clone(), RecordedDecision::default())).collect();
    let grace = Instant::now() + UNREACHABLE_GRACE;
    let mut open = true;
    loop {
        let mut timed_out = false;
        tokio::select! {
            answer = answers.recv(), if open => match answer {
                Some((name, decision)) => {
                    let changed = decisions.get(&name).map(|d| d.state) != Some(decision.state);
                    if changed && decision.state != DecisionState::Unanswered {
                        tracing::info!(request = %request_id, signer = %name, "{what}: {} {}", decision.state, decision.reason);
                        c.audit(AuditEntry {
                            event: "ceremony-decision".into(),
                            request: request_id.clone(),
                            zone: proposal_zone(&proposal),
                            content_hash: hex::encode(hash),
                            operator: submitted_by.to_string(),
                            signers: vec![name.clone()],
                            outcome: format!("{} {}", decision.state, decision.reason).trim().to_string(),
                            ..AuditEntry::default()
                        }).await?;
                    }
                    decisions.insert(name, decision);
                }
                None => open = false,
            },
            () = tokio::time::sleep_until(deadline) => timed_out = true,
            () = tokio::time::sleep_until(grace), if Instant::now() < grace => {}
        }
        let refused = decisions.values().any(|d| d.state.refuses());
        let settled = decisions.values().all(|d| d.state.is_settled());
        if all && refused {
            return Err(CoordinatorError::FailedPrecondition(format!(
                "key ceremony {request_id} ({what}) was refused: {}",
                list(&decisions, DecisionState::refuses)
            )));
        }
        if settled {
            return Ok(Decided { request_id, decisions });
        }
        let unreachable = decisions.values().any(|d| d.state == DecisionState::Unanswered && d.reason.starts_with("unreachable"));
        if all && unreachable && Instant::now() >= grace {
            return Err(CoordinatorError::Unavailable(format!(
                "key ceremony {request_id} ({what}) needs every signer: {}",
                list(&decisions, |s| s == DecisionState::Unanswered)
            )));
        }
        if timed_out {
            if !all {
                return Ok(Decided { request_id, decisions });
            }
            return Err(CoordinatorError::DeadlineExceeded(format!(
                "key ceremony {request_id} ({what}) was not approved by every signer within {} s: {} \
                 (their operators approve with `frostzone approve {request_id}` on each signer's host)",
                timeout.as_secs(),
                list(&decisions, |s| !s.approves())
            )));
        }
        while followers.try_join_next().is_some() {}
    }
}

fn proposal_zone(p: &pb::CeremonyProposal) -> String {
    p.ceremony.as_ref().map(|c| c.zone.clone()).unwrap_or_default()
}

/// One signer's side of the wait: propose, then poll until settled.
async fn follow(
    signer: SignerHandle,
    proposal: pb::CeremonyProposal,
    hash: [u8; 32],
    answers: mpsc::UnboundedSender<(String, RecordedDecision)>,
) {
    let name = signer.name().to_string();
    let id = proposal.request_id.clone();
    let send = |d: RecordedDecision| answers.send((name.clone(), d)).is_ok();
    let mut decision = loop {
        match signer.propose_ceremony(proposal.clone()).await {
            Ok(answer) => break from_wire(&answer, &id, &hash),
            Err(e) => {
                if !send(RecordedDecision { reason: format!("unreachable: {}", describe(&e.status)), ..Default::default() }) {
                    return;
                }
                tokio::time::sleep(PROPOSE_RETRY).await;
            }
        }
    };
    loop {
        if !send(decision.clone()) || decision.state.is_settled() {
            return;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
        decision = match signer.get_decision(&id).await {
            Ok(answer) => from_wire(&answer, &id, &hash),
            Err(e) => {
                tracing::debug!(signer = %name, "GetDecision {id}: {}", describe(&e.status));
                continue;
            }
        };
    }
}
