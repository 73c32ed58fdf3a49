//! Signing an approved request's plan: its items cut into batches, each
//! signed by attempts over subsets of the approvers.
//!
//! Every request of the zone pipeline ([`crate::pipeline`]) plans its
//! version, and is proposed and approved ([`crate::approval`]), then comes here:
//! the batches are signed [`BATCHES_IN_FLIGHT`] at a time, each with a
//! quorum chosen by [`SubsetChooser`] among the group's approvers only; a
//! failed attempt excludes the signers to blame and retries the batch
//! with another subset of approvers. Culprits are recorded.
//!
//! * [`mod@attempt`]: one batch, one subset: FROST round 1, round 2 and
//!   aggregation, and who is to blame when it fails;
//! * [`subset`]: choosing t approvers, and what a failure changes (no I/O);
//! * [`wire`]: plan items in the form signers receive them.

pub mod attempt;
pub mod subset;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use frostzone_dnssec::signing::SigningPlan;
use tokio::task::JoinSet;

use crate::approval::tally::Approvers;
use crate::signing::attempt::{attempt, AttemptFailure, Batch, Precommitted, MAX_BATCH_ITEMS};
use crate::error::{join_error, CoordinatorError};
use crate::keys::KeyGroup;
use crate::signing::subset::{Candidate, SubsetChooser};
use crate::request::live::LiveRequest;
use crate::signers::SignerHandle;
use crate::{unix_now, Coordinator};


/// Batches signed at the same time. While one batch waits for signers,
/// another is aggregated here: two keep both cores of a small box busy,
/// three also hide the round trips; more only hold more nonces.
pub const BATCHES_IN_FLIGHT: usize = 3;

/// How long, at most, the plan may still be shared after signing: a
/// proposal cut short finishes building its current chunk (milliseconds)
/// before it lets go of the plan.
const PLAN_RELEASE_WAIT: Duration = Duration::from_secs(10);

/// Cuts each key's items of `plan` into batches of at most
/// [`MAX_BATCH_ITEMS`].
pub fn batches(plan: &Arc<SigningPlan>, groups: &[Arc<KeyGroup>], zone: &str, request_id: &str) -> Vec<Batch> {
    let mut by_key: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (i, item) in plan.items().iter().enumerate() {
        by_key.entry(item.key_tag.0).or_default().push(i);
    }
    let mut out = Vec::new();
    for group in groups {
        let Some(indexes) = by_key.get(&group.record.key_tag) else { continue };
        for chunk in indexes.chunks(MAX_BATCH_ITEMS) {
            out.push(Batch {
                key: group.clone(),
                zone: zone.to_string(),
                request_id: request_id.to_string(),
                plan: plan.clone(),
                indexes: chunk.to_vec(),
            });
        }
    }
    out
}

/// The plan, once every batch and proposal has let go of it.
pub(crate) async fn sole_owner(mut plan: Arc<SigningPlan>) -> Result<SigningPlan, CoordinatorError> {
    let since = Instant::now();
    loop {
        match Arc::try_unwrap(plan) {
            Ok(plan) => return Ok(plan),
            Err(shared) if since.elapsed() < PLAN_RELEASE_WAIT => {
                plan = shared;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(_) => return Err(CoordinatorError::Internal("the signing plan is still shared".into())),
        }
    }
}

/// Signs every batch with quorums among `approvers`; returns one
/// signature per plan item, in plan order. A batch whose quorum all sent
/// commitments for exactly its items with their approval (`precommitted`)
/// skips round 1 in its first attempt.
pub(crate) async fn sign_batches(
    c: &Arc<Coordinator>,
    live: &Arc<LiveRequest>,
    items: usize,
    batches: Vec<Batch>,
    groups: &[Arc<KeyGroup>],
    approvers: &Approvers,
    precommitted: Precommitted,
) -> Result<Vec<[u8; 64]>, CoordinatorError> {
    // One chooser per key group (its approvers: a signer makes shares
    // only for requests it approved), failures shared.
    let choosers: BTreeMap<u16, SubsetChooser> = groups
        .iter()
        .map(|g| {
            let approved = approvers.get(&g.record.key_tag);
            let candidates = g
                .record
                .signers
                .iter()
                .zip(&g.record.participants)
                .filter(|(name, _)| approved.is_some_and(|a| a.contains(name)) && c.signers.get(name).is_some())
                .map(|(name, &participant)| Candidate { name: name.clone(), participant })
                .collect();
            (g.record.key_tag, SubsetChooser::new(usize::from(g.record.threshold), candidates))
        })
        .collect();
    let choosers = Arc::new(Mutex::new(choosers));
    let precommitted = Arc::new(precommitted);

    let mut signatures = vec![[0u8; 64]; items];
    // Batch k starts its quorum k signers along (SubsetChooser::choose_rotated).
    let mut pending = batches.into_iter().map(Arc::new).enumerate().collect::<Vec<_>>().into_iter();
    let mut running = JoinSet::new();
    loop {
        while running.len() < BATCHES_IN_FLIGHT {
            let Some((rotation, batch)) = pending.next() else { break };
            let (c, live, choosers, ahead) = (c.clone(), live.clone(), choosers.clone(), precommitted.clone());
            running.spawn(async move {
                let sigs = sign_batch(&c, &live, &choosers, &batch, rotation, &ahead).await?;
                Ok::<_, CoordinatorError>((batch, sigs))
            });
        }
        let Some(joined) = running.join_next().await else { break };
        // On error, dropping `running` aborts the other batches.
        let (batch, sigs) = joined.map_err(join_error)??;
        for (&i, sig) in batch.indexes.iter().zip(sigs) {
            if let Some(slot) = signatures.get_mut(i) {
                *slot = sig;
            }
        }
    }
    Ok(signatures)
}

/// Signs one batch, retrying with other subsets until it is signed or the
/// quorum is gone. `rotation` spreads a request's batches over the
/// approvers ([`SubsetChooser::choose_rotated`]). Commitments sent ahead
/// serve the first attempt only: a retry makes fresh ones.
async fn sign_batch(
    c: &Coordinator,
    live: &LiveRequest,
    choosers: &Mutex<BTreeMap<u16, SubsetChooser>>,
    batch: &Arc<Batch>,
    rotation: usize,
    precommitted: &Precommitted,
) -> Result<Vec<[u8; 64]>, CoordinatorError> {
    let tag = batch.key.record.key_tag;
    let lock = || choosers.lock().map_err(|_| CoordinatorError::Internal("subset chooser lock poisoned".into()));
    let mut ahead: Option<&Precommitted> = Some(precommitted);
    loop {
        let chosen = lock()?
            .get(&tag)
            .ok_or_else(|| CoordinatorError::Internal(format!("no subset chooser for key tag {tag}")))?
            .choose_rotated(rotation)?;
        let handles: Vec<SignerHandle> = chosen.iter().filter_map(|cand| c.signers.get(&cand.name).cloned()).collect();
        let attempt_id = crate::request::random_id();
        match attempt(batch, &handles, attempt_id, ahead.take(), live).await {
            Ok(sigs) => {
                let names: Vec<String> = handles.iter().map(|h| h.name().to_string()).collect();
                c.metrics.batch_signed(&batch.zone, tag, sigs.len(), &names);
                live.update(|r| {
                    r.signatures += sigs.len() as u64;
                    for n in names {
                        if !r.signers.contains(&n) {
                            r.signers.push(n);
                        }
                    }
                    true
                });
                return Ok(sigs);
            }
            Err(AttemptFailure::Fatal(e)) => return Err(e),
            Err(AttemptFailure::Unavailable(failed)) => {
                let mut t = lock()?;
                for (name, reason) in &failed {
                    tracing::warn!(signer = %name, "{}: key tag {tag}: {reason}; retrying the batch without it", batch.zone);
                    c.metrics.signer_unavailable(name);
                    t.values_mut().for_each(|q| q.mark_unavailable(name, reason.clone()));
                }
                live.update(|r| {
                    r.retries += 1;
                    true
                });
            }
            Err(AttemptFailure::Culprits(found)) => {
                let session_id = live.id();
                let mut t = lock()?;
                for (name, reason) in &found {
                    tracing::warn!(signer = %name, request = %session_id, "{}: key tag {tag}: culprit: {reason}; excluded", batch.zone);
                    t.values_mut().for_each(|q| q.mark_culprit(name, reason.clone()));
                    c.registry.record_culprit(name, &session_id, reason, unix_now())?;
                    c.metrics.culprit(name);
                }
                live.update(|r| {
                    r.retries += 1;
                    for (name, _) in found {
                        if !r.culprits.contains(&name) {
                            r.culprits.push(name);
                        }
                    }
                    true
                });
            }
        }
    }
}
