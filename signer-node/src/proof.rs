//! Signed decisions and proofs of a quorum.
//!
//! Every decision this signer gives is signed with its identity key
//! ([`frostzone_proto::statement::Statement::Decision`]: participant,
//! request id, zone, content hash, state), and once it approved a request
//! the decision also carries its signature over the same statement with
//! state APPROVED. The coordinator relays those approvals to the other
//! signers when it announces a publication: a signer that did not approve
//! the request itself moves its baseline only when t distinct members of
//! its own roster approved exactly the content it holds for that request
//! ([`proven_approvals`]). So the coordinator alone can never make a signer
//! take content as published that no quorum approved — the baseline the
//! next request is compared with, and the reason a re-proposal of the same
//! content would look like "no change".

use std::collections::BTreeSet;

use frostzone_proto::roster::Roster;
use frostzone_proto::statement::Statement;
use frostzone_proto::v1::{self, RequestState};

use crate::fields::participant_id;
use crate::node::Node;
use crate::request_store::StoredRequest;

impl Node {
    /// `record`'s decision as the API gives it, signed.
    pub(crate) fn signed(&self, record: &StoredRequest) -> v1::Decision {
        let me = self.options().participant;
        let key = self.store.identity();
        let statement = |state| Statement::Decision {
            participant: &me,
            request_id: &record.id,
            zone: &record.zone,
            content_hash: &record.content_hash,
            state,
        };
        let mut decision = record.decision();
        decision.participant = Some(participant_id(&me));
        decision.signature = statement(record.state()).sign(key);
        if record.approved_here() {
            decision.approval_signature = statement(RequestState::Approved).sign(key);
        }
        decision
    }
}

/// How many distinct members of `roster` the `proofs` show approving
/// `record`'s content (its request id, zone and content hash), and why
/// the others do not count.
pub fn proven_approvals(roster: &Roster, record: &StoredRequest, proofs: &[v1::ApprovalProof]) -> (usize, Vec<String>) {
    let mut approvers = BTreeSet::new();
    let mut problems = Vec::new();
    for proof in proofs {
        if proof.content_hash != record.content_hash {
            // Another signer may have been proposed another form of the
            // request (incremental or full): not evidence about this one.
            continue;
        }
        let Some(id) = proof.participant.as_ref() else {
            problems.push("an approval names no participant".to_string());
            continue;
        };
        let member = match roster.member_of(id) {
            Ok(m) => m,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let statement = Statement::Decision {
            participant: &member.identifier,
            request_id: &record.id,
            zone: &record.zone,
            content_hash: &record.content_hash,
            state: RequestState::Approved,
        };
        match roster.verify(&member.identifier, &statement, &proof.signature) {
            Ok(_) => {
                approvers.insert(member.identifier);
            }
            Err(e) => problems.push(format!("approval of {}: {e}", member.name)),
        }
    }
    (approvers.len(), problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use frostzone_proto::roster::IdentityKey;
    use frostzone_threshold::Identifier;

    fn key(k: u16) -> SigningKey {
        SigningKey::from_bytes(&[k as u8 + 40; 32])
    }

    fn roster() -> Roster {
        let members: Vec<_> = (1..=5u16).map(|k| (k, format!("signer-{k}"), IdentityKey(key(k).verifying_key()))).collect();
        Roster::parse(&Roster::to_toml(3, &members), std::path::Path::new("roster.toml")).unwrap()
    }

    fn record() -> StoredRequest {
        StoredRequest { id: "00112233445566778899aabbccddeeff".into(), zone: "example.".into(), content_hash: vec![7; 32], ..StoredRequest::default() }
    }

    fn approval(k: u16, signer: u16, record: &StoredRequest, state: RequestState) -> v1::ApprovalProof {
        let id = Identifier::try_from(k).unwrap();
        let statement = Statement::Decision {
            participant: &id,
            request_id: &record.id,
            zone: &record.zone,
            content_hash: &record.content_hash,
            state,
        };
        v1::ApprovalProof {
            participant: Some(participant_id(&id)),
            content_hash: record.content_hash.clone(),
            signature: statement.sign(&key(signer)),
        }
    }

    #[test]
    fn only_distinct_valid_approvals_of_this_content_count() {
        let (r, rec) = (roster(), record());
        let good: Vec<_> = (1..=3).map(|k| approval(k, k, &rec, RequestState::Approved)).collect();
        assert_eq!(proven_approvals(&r, &rec, &good).0, 3);
        // The same approval three times is one approver.
        let same = vec![good[0].clone(), good[0].clone(), good[0].clone()];
        assert_eq!(proven_approvals(&r, &rec, &same).0, 1);
        // Signed by another key, or over another state: not counted.
        let forged = approval(4, 1, &rec, RequestState::Approved);
        let pending = approval(5, 5, &rec, RequestState::Pending);
        let (n, problems) = proven_approvals(&r, &rec, &[forged, pending]);
        assert_eq!(n, 0);
        assert_eq!(problems.len(), 2, "{problems:?}");
        // An approval of other content does not prove this one.
        let other = StoredRequest { content_hash: vec![8; 32], ..record() };
        let elsewhere: Vec<_> = (1..=3).map(|k| approval(k, k, &other, RequestState::Approved)).collect();
        assert_eq!(proven_approvals(&r, &rec, &elsewhere).0, 0);
        // Nor of another request with the same content.
        let renamed = StoredRequest { id: "ffeeddccbbaa99887766554433221100".into(), ..record() };
        let moved: Vec<_> = (1..=3).map(|k| approval(k, k, &renamed, RequestState::Approved)).collect();
        assert_eq!(proven_approvals(&r, &rec, &moved).0, 0);
        // A stranger is not a member.
        let stranger = approval(9, 9, &rec, RequestState::Approved);
        assert_eq!(proven_approvals(&r, &rec, &[stranger]).0, 0);
    }
}
