//! One batch, one subset of signers: FROST round 1, round 2 and
//! aggregation over the network (RFC 9591 §5.1–§5.4).
//!
//! [`attempt`] either returns one signature per item or says who is to
//! blame: [`AttemptFailure::Unavailable`] for signers that timed out,
//! could not be reached or answered with an error status, and
//! [`AttemptFailure::Culprits`] for signers whose answers are provably bad
//! (invalid signature shares named by frost's Identifiable Abort, or
//! commitments and shares that do not parse or do not fit the batch). The
//! caller ([`crate::signing`]) excludes them and retries with another subset.
//!
//! Parsing commitments and shares, building signing packages and
//! aggregating are CPU work of a few hundred microseconds per item: they
//! run on the blocking pool (and fan out over rayon inside
//! `frostzone-threshold`), never on a tokio worker.

use std::collections::BTreeMap;
use std::sync::Arc;

use frostzone_dnssec::signing::SigningPlan;
use frostzone_proto::v1 as pb;
use frostzone_threshold::parallel::collect_indexed;
use frostzone_proto::API_VERSION;
use frostzone_threshold::frost::round1::SigningCommitments;
use frostzone_threshold::frost::round2::SignatureShare;
use frostzone_threshold::{aggregate_batch, frost, Identifier, SigningBatch, ThresholdError};

use crate::error::{join_error, CoordinatorError};
use crate::keys::KeyGroup;
use crate::request::RequestPhase;
use crate::signers::{describe, fan_out, SignerHandle};
use super::wire::wire_item;

/// At most this many items travel in one Commit/Sign exchange.
pub use frostzone_proto::MAX_BATCH_ITEMS;

/// Items signed by one key, at most [`MAX_BATCH_ITEMS`] of them. The
/// items stay in the plan; their wire form is built for each attempt and
/// dropped after it, so a large zone is not held twice.
#[derive(Debug)]
pub struct Batch {
    /// The key group that signs them.
    pub key: Arc<KeyGroup>,
    /// The zone, as the signers know it.
    pub zone: String,
    /// The approved request (session id) the items belong to: signers
    /// check every item was proposed under it.
    pub request_id: String,
    /// The plan the items are in.
    pub plan: Arc<SigningPlan>,
    /// Position of each item in the plan.
    pub indexes: Vec<usize>,
}

impl Batch {
    /// The items as they travel (content, never a hash) and what each
    /// item's signature covers (RFC 4034 §3.1.8.1).
    /// Both are built from the RRsets in the plan's zone, read once.
    fn wire(&self) -> Result<(Vec<pb::SigningItem>, Vec<Vec<u8>>), AttemptFailure> {
        let items = self.plan.read(|zone| {
            self.indexes
                .iter()
                .map(|&i| {
                    let item = self.plan.items().get(i)?;
                    Some((wire_item(zone, item)?, zone.signed_data(item)?))
                })
                .collect::<Option<Vec<_>>>()
        });
        let items = items.ok_or_else(|| {
            AttemptFailure::Fatal(CoordinatorError::Internal("a batch names an item whose RRset is not in its signing plan".into()))
        })?;
        Ok(items.into_iter().unzip())
    }
}

/// Why an attempt gave no signatures.
#[derive(Debug)]
pub enum AttemptFailure {
    /// These signers did not answer usefully: `(name, reason)`.
    Unavailable(Vec<(String, String)>),
    /// These signers answered with provably bad data: `(name, reason)`.
    Culprits(Vec<(String, String)>),
    /// Not the signers' fault; retrying will not help.
    Fatal(CoordinatorError),
}

/// Reports phases to the session (the furthest one counts).
pub trait PhaseSink: Send + Sync {
    /// A batch reached `state`.
    fn reached(&self, state: RequestPhase);
}

/// Round-1 commitments signers sent with their approval (their answer to
/// Propose), by signer name.
pub type Precommitted = BTreeMap<String, Vec<pb::Precommitment>>;

/// One signer's serialized commitments, one per item.
type CommitmentList = Vec<Vec<u8>>;

/// The commitments every chosen signer sent with its approval for
/// exactly these items (same key, same items hash, one per item), in the
/// order of `chosen`; `None` when one of them has none.
fn committed_ahead<'a>(
    precommitted: &'a Precommitted,
    chosen: &[SignerHandle],
    key_tag: u16,
    items_hash: &[u8; 32],
    n: usize,
) -> Option<Vec<&'a pb::Precommitment>> {
    chosen
        .iter()
        .map(|s| {
            precommitted.get(s.name())?.iter().find(|p| {
                p.key_tag == u32::from(key_tag) && p.items_hash == items_hash && p.commitments.len() == n
            })
        })
        .collect()
}

/// Signs `batch` with exactly the signers in `chosen`. When every one of
/// them committed to exactly these items with its approval
/// (`precommitted`), round 1 is not run again: Sign names each signer's own
/// session.
pub async fn attempt(
    batch: &Arc<Batch>,
    chosen: &[SignerHandle],
    attempt_id: Vec<u8>,
    precommitted: Option<&Precommitted>,
    phases: &dyn PhaseSink,
) -> Result<Vec<[u8; 64]>, AttemptFailure> {
    let started = std::time::Instant::now();
    let wire = batch.clone();
    // Hashed only when there are commitments to match (a diff's first
    // attempt), not for every batch of a whole zone.
    let hash_items = precommitted.is_some_and(|p| !p.is_empty());
    let (items, messages, items_hash) = tokio::task::spawn_blocking(move || {
        let (items, messages) = wire.wire()?;
        let hash = hash_items.then(|| frostzone_proto::content::content_hash(&items));
        Ok((items, messages, hash))
    })
    .await
    .map_err(|e| AttemptFailure::Fatal(join_error(e)))??;
    let n = items.len();
    let members: Vec<(String, Identifier)> = chosen.iter().map(|s| (s.name().to_string(), s.identifier)).collect();

    // Round 1: commitments from every chosen signer, unless they came
    // with the approvals.
    phases.reached(RequestPhase::Committing);
    let ahead = precommitted
        .zip(items_hash.as_ref())
        .and_then(|(p, hash)| committed_ahead(p, chosen, batch.key.record.key_tag, hash, n));
    let first_round = if ahead.is_some() { "with the approvals" } else { "Commit" };
    // Each signer's session for Sign, and its serialized commitments.
    let (sessions, lists): (BTreeMap<String, Vec<u8>>, Vec<CommitmentList>) = match ahead {
        Some(ahead) => {
            drop(items);
            let sessions = chosen.iter().zip(&ahead).map(|(s, p)| (s.name().to_string(), p.attempt_id.clone())).collect();
            (sessions, ahead.into_iter().map(|p| p.commitments.clone()).collect())
        }
        None => {
            let request = pb::CommitRequest {
                api_version: API_VERSION,
                attempt_id: attempt_id.clone(),
                zone: batch.zone.clone(),
                key_tag: batch.key.record.key_tag.into(),
                items,
                request_id: batch.request_id.clone(),
            };
            let responses = answers(
                fan_out(chosen, |s| {
                    let r = request.clone();
                    async move { s.commit(r).await }
                })
                .await,
            )?;
            drop(request);
            let answered = responses.iter().map(|r| (r.participant.as_ref(), r.commitments.len()));
            let culprits = misanswered(&members, answered, 1, "commitments", n);
            if !culprits.is_empty() {
                return Err(AttemptFailure::Culprits(culprits));
            }
            let sessions = members.iter().map(|(name, _)| (name.clone(), attempt_id.clone())).collect();
            (sessions, responses.into_iter().map(|r| r.commitments).collect())
        }
    };
    let raw: Vec<(String, Identifier, Vec<Vec<u8>>)> = chosen
        .iter()
        .zip(lists)
        .map(|(s, list)| (s.name().to_string(), s.identifier, list))
        .collect();
    let (messages, parsed, raw) = tokio::task::spawn_blocking(move || -> Result<_, AttemptFailure> {
        // Every commitment is two points to decompress and check: a large
        // batch is parsed on every core.
        let lists: Vec<Result<Vec<SigningCommitments>, _>> =
            raw.iter().map(|(_, _, list)| collect_indexed(list, |_, c| SigningCommitments::deserialize(c))).collect();
        let mut parsed = BTreeMap::new();
        let mut culprits = Vec::new();
        for ((name, id, _), list) in raw.iter().zip(lists) {
            match list {
                Ok(v) => {
                    parsed.insert(*id, v);
                }
                Err(e) => culprits.push((name.clone(), format!("sent a malformed commitment: {e}"))),
            }
        }
        if !culprits.is_empty() {
            return Err(AttemptFailure::Culprits(culprits));
        }
        // Checked before round 2; each item's package is built only as it
        // is aggregated, not held through the round.
        SigningBatch::new(&messages, &parsed).map_err(fatal)?;
        Ok((messages, parsed, raw))
    })
    .await
    .map_err(|e| AttemptFailure::Fatal(join_error(e)))??;

    // Round 2: shares from every chosen signer, over the same commitments.
    phases.reached(RequestPhase::Signing);
    let committed = started.elapsed();
    let request = pb::SignRequest {
        api_version: API_VERSION,
        attempt_id: Vec::new(),
        commitments: raw
            .into_iter()
            .map(|(_, id, commitments)| pb::ParticipantCommitments {
                participant: Some(pb::ParticipantId { id: id.serialize() }),
                commitments,
            })
            .collect(),
    };
    let responses = answers(
        fan_out(chosen, |s| {
            let attempt_id = sessions.get(s.name()).cloned().unwrap_or_default();
            let r = pb::SignRequest { attempt_id, ..request.clone() };
            async move { s.sign(r).await }
        })
        .await,
    )?;
    drop(request);
    let answered = responses.iter().map(|r| (r.participant.as_ref(), r.shares.len()));
    let culprits = misanswered(&members, answered, 2, "signature shares", n);
    if !culprits.is_empty() {
        return Err(AttemptFailure::Culprits(culprits));
    }

    // Aggregation, with Identifiable Abort naming bad shares.
    phases.reached(RequestPhase::Aggregating);
    let signed = started.elapsed();
    let names: BTreeMap<Identifier, String> = chosen.iter().map(|s| (s.identifier, s.name().to_string())).collect();
    let shares: Vec<(Identifier, Vec<Vec<u8>>)> =
        chosen.iter().zip(responses).map(|(s, r)| (s.identifier, r.shares)).collect();
    let key = batch.key.clone();
    let result = tokio::task::spawn_blocking(move || {
        let packages = SigningBatch::new(&messages, &parsed).map_err(fatal)?;
        aggregate(&packages, shares, &key.public, &names)
    })
    .await
    .map_err(|e| AttemptFailure::Fatal(join_error(e)))?;
    tracing::debug!(
        "{}: batch of {n} for key tag {}: round 1 ({first_round}) {:.1} ms, round 2 {:.1} ms, aggregation {:.1} ms",
        batch.zone,
        batch.key.record.key_tag,
        committed.as_secs_f64() * 1e3,
        (signed - committed).as_secs_f64() * 1e3,
        (started.elapsed() - signed).as_secs_f64() * 1e3
    );
    result
}

/// The chosen `members` (name, identifier) whose answer to round `round`
/// came from another participant or does not hold one `what` per item:
/// each with why. The answers are in the members' order.
fn misanswered<'a>(
    members: &[(String, Identifier)],
    answers: impl IntoIterator<Item = (Option<&'a pb::ParticipantId>, usize)>,
    round: u8,
    what: &str,
    n: usize,
) -> Vec<(String, String)> {
    let mut culprits = Vec::new();
    for ((name, id), (participant, count)) in members.iter().zip(answers) {
        let from = participant.and_then(|p| frost::Identifier::deserialize(&p.id).ok());
        if from != Some(*id) {
            culprits.push((name.clone(), format!("answered round {round} as another participant")));
        } else if count != n {
            culprits.push((name.clone(), format!("sent {count} {what} for {n} items")));
        }
    }
    culprits
}

/// Every answer, or which signers failed and how.
fn answers<T>(results: Vec<Result<T, crate::signers::SignerCallError>>) -> Result<Vec<T>, AttemptFailure> {
    let mut ok = Vec::with_capacity(results.len());
    let mut failed = Vec::new();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => failed.push((e.signer.clone(), describe(&e.status))),
        }
    }
    if failed.is_empty() {
        Ok(ok)
    } else {
        Err(AttemptFailure::Unavailable(failed))
    }
}

fn fatal(e: ThresholdError) -> AttemptFailure {
    AttemptFailure::Fatal(CoordinatorError::Internal(e.to_string()))
}

fn aggregate(
    packages: &SigningBatch<'_>,
    shares: Vec<(Identifier, Vec<Vec<u8>>)>,
    public: &frost::keys::PublicKeyPackage,
    names: &BTreeMap<Identifier, String>,
) -> Result<Vec<[u8; 64]>, AttemptFailure> {
    let name = |id: &Identifier| names.get(id).cloned().unwrap_or_else(|| frostzone_threshold::display_identifier(id));
    let mut per_item: Vec<BTreeMap<Identifier, SignatureShare>> = vec![BTreeMap::new(); packages.len()];
    let mut culprits = Vec::new();
    for (id, list) in &shares {
        for (item, bytes) in per_item.iter_mut().zip(list) {
            match SignatureShare::deserialize(bytes) {
                Ok(share) => {
                    item.insert(*id, share);
                }
                Err(e) => {
                    culprits.push((name(id), format!("sent a malformed signature share: {e}")));
                    break;
                }
            }
        }
    }
    if !culprits.is_empty() {
        return Err(AttemptFailure::Culprits(culprits));
    }
    match aggregate_batch(packages, &per_item, public) {
        Ok(signatures) => Ok(signatures),
        Err(ThresholdError::InvalidShare { culprits }) => Err(AttemptFailure::Culprits(
            culprits.iter().map(|id| (name(id), "invalid signature share (RFC 9591 §5.4)".to_string())).collect(),
        )),
        Err(e) => Err(fatal(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, k: u16) -> (String, Identifier) {
        (name.to_string(), Identifier::try_from(k).unwrap())
    }

    fn wire(k: u16) -> pb::ParticipantId {
        pb::ParticipantId { id: Identifier::try_from(k).unwrap().serialize() }
    }

    #[test]
    fn answers_from_another_participant_or_of_another_length_name_their_signer() {
        let members = [member("signer-1", 1), member("signer-2", 2), member("signer-3", 3)];
        let (one, three, five) = (wire(1), wire(3), wire(5));
        let answers = [(Some(&one), 4), (Some(&five), 4), (Some(&three), 3)];
        assert_eq!(
            misanswered(&members, answers, 2, "signature shares", 4),
            [
                ("signer-2".to_string(), "answered round 2 as another participant".to_string()),
                ("signer-3".to_string(), "sent 3 signature shares for 4 items".to_string()),
            ]
        );
        let silent = [(Some(&one), 4), (None, 4), (Some(&three), 4)];
        assert_eq!(misanswered(&members, silent, 1, "commitments", 4).len(), 1);
        let two = wire(2);
        let good = [(Some(&one), 4), (Some(&two), 4), (Some(&three), 4)];
        assert!(misanswered(&members, good, 1, "commitments", 4).is_empty());
    }
}
