//! A signer's decision on a request, as the coordinator records it: the
//! proto's `Decision` checked against the request it answers (no I/O).
//!
//! A decision counts as an approval only when it names this request and
//! the content hash this coordinator computed: an approval of other
//! content is recorded as a rejection (the signer would refuse the
//! request's Commit anyway, since it checks every item's digest).

use std::fmt;

use frostzone_proto::v1 as pb;
use serde::{Deserialize, Serialize};

/// Where one signer stands on a request, as in the proto's
/// `RequestState` (see `common.proto` for the signers' life cycle).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionState {
    /// No answer yet (`REQUEST_STATE_UNSPECIFIED`): not reached, or the
    /// proposal still travelling.
    #[default]
    Unanswered,
    /// Waiting for the signer's operator.
    Pending,
    /// Approved by policy or by the operator.
    Approved,
    /// Refused, with a reason.
    Rejected,
    /// Nobody decided in time at the signer.
    Expired,
    /// The signer made shares for it.
    Signed,
    /// The signer took the released content as its baseline.
    Published,
    /// The signer recorded the request as failed.
    Failed,
}

impl DecisionState {
    /// The state as it travels.
    pub fn to_proto(self) -> pb::RequestState {
        match self {
            DecisionState::Unanswered => pb::RequestState::Unspecified,
            DecisionState::Pending => pb::RequestState::Pending,
            DecisionState::Approved => pb::RequestState::Approved,
            DecisionState::Rejected => pb::RequestState::Rejected,
            DecisionState::Expired => pb::RequestState::Expired,
            DecisionState::Signed => pb::RequestState::Signed,
            DecisionState::Published => pb::RequestState::Published,
            DecisionState::Failed => pb::RequestState::Failed,
        }
    }

    /// The state received.
    pub fn from_proto(state: pb::RequestState) -> Self {
        match state {
            pb::RequestState::Unspecified => DecisionState::Unanswered,
            pb::RequestState::Pending => DecisionState::Pending,
            pb::RequestState::Approved => DecisionState::Approved,
            pb::RequestState::Rejected => DecisionState::Rejected,
            pb::RequestState::Expired => DecisionState::Expired,
            pb::RequestState::Signed => DecisionState::Signed,
            pb::RequestState::Published => DecisionState::Published,
            pb::RequestState::Failed => DecisionState::Failed,
        }
    }

    /// The signer approved (and may since have signed or published).
    pub fn approves(self) -> bool {
        matches!(self, DecisionState::Approved | DecisionState::Signed | DecisionState::Published)
    }

    /// The signer will never approve this request.
    pub fn refuses(self) -> bool {
        matches!(self, DecisionState::Rejected | DecisionState::Expired | DecisionState::Failed)
    }

    /// Approved or refused: asking the signer again changes nothing.
    pub fn is_settled(self) -> bool {
        self.approves() || self.refuses()
    }

    /// The name in records and messages.
    pub fn name(self) -> &'static str {
        match self {
            DecisionState::Unanswered => "unanswered",
            DecisionState::Pending => "pending",
            DecisionState::Approved => "approved",
            DecisionState::Rejected => "rejected",
            DecisionState::Expired => "expired",
            DecisionState::Signed => "signed",
            DecisionState::Published => "published",
            DecisionState::Failed => "failed",
        }
    }
}

impl fmt::Display for DecisionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a request changes at one signer: the proto's `ChangeSummary`,
/// which derives serde for the registry (proto/build.rs).
pub type ChangeCounts = pb::ChangeSummary;

/// One signer's decision on a session, as recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedDecision {
    /// Where the signer stands.
    pub state: DecisionState,
    /// Why it is pending, rejected, expired or failed; for an unanswered
    /// signer, why it could not be asked (e.g. unreachable).
    #[serde(default)]
    pub reason: String,
    /// "policy", or the operator who decided.
    #[serde(default)]
    pub decided_by: String,
    /// What the request changes at that signer.
    #[serde(default)]
    pub changes: ChangeCounts,
    /// Once the signer approved: the content hash it approved and its
    /// identity signature over the approval (hex), relayed to the other
    /// signers as proof when the request is published.
    #[serde(default)]
    pub approved_hash: String,
    /// See `approved_hash`.
    #[serde(default)]
    pub approval_signature: String,
}

impl RecordedDecision {
    /// The API view for `signer`.
    pub fn to_proto(&self, signer: &str) -> pb::SignerDecision {
        pb::SignerDecision {
            signer: signer.to_string(),
            state: self.state.to_proto().into(),
            reason: self.reason.clone(),
            decided_by: self.decided_by.clone(),
            changes: Some(self.changes),
        }
    }
}

/// The decision `answer` from `signer`, checked against the request
/// `request_id` and its `content_hash`.
pub fn from_wire(answer: &pb::Decision, request_id: &str, content_hash: &[u8]) -> RecordedDecision {
    let changes = answer.changes.unwrap_or_default();
    let too_long = |text: &str| text.chars().count() > frostzone_proto::MAX_REASON_CHARS;
    if too_long(&answer.reason) || too_long(&answer.decided_by) {
        return RecordedDecision {
            reason: format!(
                "answered with a reason or decider longer than {} characters: answer ignored",
                frostzone_proto::MAX_REASON_CHARS
            ),
            ..RecordedDecision::default()
        };
    }
    let recorded = |state, reason: String| RecordedDecision {
        state,
        reason,
        decided_by: answer.decided_by.clone(),
        changes,
        ..RecordedDecision::default()
    };
    let Ok(state) = pb::RequestState::try_from(answer.state) else {
        return recorded(DecisionState::Unanswered, format!("answered with unknown request state {}", answer.state));
    };
    let state = DecisionState::from_proto(state);
    if !answer.request_id.is_empty() && answer.request_id != request_id {
        return recorded(DecisionState::Rejected, format!("answered for request {}, not this one", answer.request_id));
    }
    if state.approves() && answer.content_hash != content_hash {
        return recorded(
            DecisionState::Rejected,
            format!(
                "approved content hash {:?}, not this request's {}",
                hex::encode(&answer.content_hash),
                hex::encode(content_hash)
            ),
        );
    }
    let mut decision = recorded(state, answer.reason.clone());
    if state.approves() && !answer.approval_signature.is_empty() {
        decision.approved_hash = hex::encode(&answer.content_hash);
        decision.approval_signature = hex::encode(&answer.approval_signature);
    }
    decision
}

/// The approvals in `decisions` as proof for other signers: every signer
/// that approved, with the content hash it approved and its signature.
pub fn approval_proofs<'a>(
    decisions: impl IntoIterator<Item = (&'a String, &'a RecordedDecision)>,
    participant: impl Fn(&str) -> Option<pb::ParticipantId>,
) -> Vec<pb::ApprovalProof> {
    decisions
        .into_iter()
        .filter(|(_, d)| !d.approval_signature.is_empty())
        .filter_map(|(name, d)| {
            Some(pb::ApprovalProof {
                participant: Some(participant(name)?),
                content_hash: hex::decode(&d.approved_hash).ok()?,
                signature: hex::decode(&d.approval_signature).ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_decision_state_round_trips_through_the_proto() {
        for s in [
            DecisionState::Unanswered,
            DecisionState::Pending,
            DecisionState::Approved,
            DecisionState::Rejected,
            DecisionState::Expired,
            DecisionState::Signed,
            DecisionState::Published,
            DecisionState::Failed,
        ] {
            assert_eq!(DecisionState::from_proto(s.to_proto()), s);
            assert!(!(s.approves() && s.refuses()));
        }
    }

    #[test]
    fn an_approval_counts_only_for_this_request_and_content() {
        let hash = [7u8; 32];
        let answer = pb::Decision {
            request_id: "ab".into(),
            state: pb::RequestState::Approved.into(),
            decided_by: "policy".into(),
            changes: Some(pb::ChangeSummary { rrsets_changed: 2, signatures: 9, ..Default::default() }),
            content_hash: hash.to_vec(),
            ..Default::default()
        };
        let d = from_wire(&answer, "ab", &hash);
        assert_eq!(d.state, DecisionState::Approved);
        assert_eq!((d.changes.rrsets_changed, d.changes.signatures), (2, 9));
        assert_eq!(d.decided_by, "policy");

        let d = from_wire(&answer, "ab", &[8u8; 32]);
        assert_eq!(d.state, DecisionState::Rejected);
        assert!(d.reason.starts_with("approved content hash \"0707"), "{}", d.reason);

        let d = from_wire(&answer, "cd", &hash);
        assert_eq!(d.state, DecisionState::Rejected);
        assert_eq!(d.reason, "answered for request ab, not this one");

        // A pending decision need not carry the hash yet.
        let pending = pb::Decision { state: pb::RequestState::Pending.into(), reason: "DNSKEY".into(), ..Default::default() };
        assert_eq!(from_wire(&pending, "ab", &hash).state, DecisionState::Pending);
        let odd = pb::Decision { state: 99, ..Default::default() };
        assert_eq!(from_wire(&odd, "ab", &hash).state, DecisionState::Unanswered);
        // A signer cannot make the coordinator keep an endless reason.
        let long = pb::Decision { reason: "x".repeat(frostzone_proto::MAX_REASON_CHARS + 1), ..answer.clone() };
        let d = from_wire(&long, "ab", &hash);
        assert_eq!(d.state, DecisionState::Unanswered);
        assert!(d.reason.contains("longer than"), "{}", d.reason);
        // An approval keeps its signature, for the proof of a quorum.
        let signed = pb::Decision { approval_signature: vec![1, 2], ..answer.clone() };
        let d = from_wire(&signed, "ab", &hash);
        assert_eq!((d.approval_signature.as_str(), d.approved_hash.as_str()), ("0102", hex::encode(hash).as_str()));
    }
}
