//! Telling the signers how a request ended: published, with the proof
//! of t approvals a signer that did not approve needs before it moves its
//! baseline, or failed. Sent in the background; failures are logged.

use std::collections::BTreeMap;

use frostzone_proto::v1 as pb;

use super::tally::pending_list;
use crate::registry::{Registry, RegistryError};
use crate::request::decision::{DecisionState, RecordedDecision};
use crate::request::RequestRecord;
use crate::signers::{describe, SignerHandle, SignerPool};

/// Fails the requests a previous run left unfinished (a stop or a crash
/// mid-request, [`Registry::sweep_interrupted`]) and tells every signer
/// that answered one that it failed: the signer closes it now rather than
/// keep it open, approved, until its own expiry.
pub async fn sweep_interrupted(registry: &Registry, signers: &SignerPool, now: u64) -> Result<Vec<RequestRecord>, RegistryError> {
    let swept = registry.sweep_interrupted(now).await?;
    for s in &swept {
        let reason = s.error().unwrap_or_default();
        tracing::warn!(request = %s.id, "{}: {reason}; telling the signers that answered it", s.zone);
        announce_outcome(signers, &s.id, &s.decisions, false, reason);
    }
    Ok(swept)
}

/// Tells every signer in `decisions` that answered how request
/// `request_id` ended, in the background: `published` with the SHA-256
/// of the released text as `detail`, or failed with the reason. Failures
/// are logged, never returned.
pub fn announce_outcome(
    signers: &SignerPool,
    request_id: &str,
    decisions: &BTreeMap<String, RecordedDecision>,
    published: bool,
    detail: &str,
) {
    let _ = announce(signers, request_id, decisions, published, detail, None);
}

/// Tells the signers that request `request_id` of `zone` was published
/// (as [`announce_outcome`]) and records, for each signer that
/// acknowledges it, that the request is now its baseline: its next
/// proposal for the zone can be incremental.
pub fn announce_publication(
    signers: &SignerPool,
    registry: &Registry,
    zone: &str,
    request_id: &str,
    decisions: &BTreeMap<String, RecordedDecision>,
    detail: &str,
) -> Option<tokio::task::JoinHandle<()>> {
    announce(signers, request_id, decisions, true, detail, Some((registry.clone(), zone.to_string())))
}

fn announce(
    signers: &SignerPool,
    request_id: &str,
    decisions: &BTreeMap<String, RecordedDecision>,
    published: bool,
    detail: &str,
    baselines: Option<(Registry, String)>,
) -> Option<tokio::task::JoinHandle<()>> {
    let targets: Vec<SignerHandle> = decisions
        .iter()
        .filter(|(_, d)| d.state != DecisionState::Unanswered)
        .filter_map(|(name, _)| signers.get(name).cloned())
        .collect();
    if targets.is_empty() {
        return None;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(request = %request_id, "cannot tell the signers how the request ended: no runtime");
        return None;
    };
    let (request_id, detail) = (request_id.to_string(), detail.to_string());
    // A signer that did not approve the request itself moves its baseline
    // only with proof that t signers approved its content.
    let approvals = if published {
        crate::request::decision::approval_proofs(decisions, |name| signers.get(name).map(SignerHandle::participant_id))
    } else {
        Vec::new()
    };
    Some(runtime.spawn(async move {
        // Each signer's baseline is recorded as soon as it acknowledges, so
        // a request that stops waiting for a slow one (ANNOUNCEMENT_WAIT in
        // the pipeline) still proposes increments to every other.
        let results = crate::signers::fan_out(&targets, |s| {
            let (id, detail, approvals, baselines) = (request_id.clone(), detail.clone(), approvals.clone(), baselines.clone());
            async move {
                let result = s.published(&id, published, &detail, approvals).await;
                let acknowledged = result
                    .as_ref()
                    .is_ok_and(|d| d.state == i32::from(pb::RequestState::Published) && (d.request_id.is_empty() || d.request_id == id));
                if let (true, Some((registry, zone))) = (acknowledged, &baselines) {
                    if let Err(e) = registry.set_signer_baseline(zone, s.name(), &id) {
                        tracing::error!(signer = %s.name(), "{zone}: cannot record its baseline {id}: {e}");
                    }
                }
                result
            }
        })
        .await;
        let failed: Vec<(String, String)> = results
            .into_iter()
            .filter_map(|r| r.err())
            .map(|e| (e.signer.clone(), describe(&e.status)))
            .collect();
        if failed.is_empty() {
            tracing::debug!(request = %request_id, "signers told: published {published}");
        } else {
            tracing::warn!(
                request = %request_id,
                "could not tell {} that the request {}: they keep their previous baseline",
                pending_list(&failed),
                if published { "was published" } else { "failed" }
            );
        }
    }))
}
