//! SignZone: from an uploaded zone to a validated signed zone.
//!
//! 1. Load and check the zone, make the signing plan (as `frostzone
//!    simulate` does, with the same policy defaults) and its content hash,
//!    cut each key's items into batches of at most [`MAX_BATCH_ITEMS`].
//! 2. Propose the content to every signer of the zone's key groups and
//!    wait until each group has its threshold of approvals
//!    ([`crate::proposal`]); a rejected or expired request fails here,
//!    before any signer is asked for a share.
//! 3. Sign the batches, [`BATCHES_IN_FLIGHT`] at a time, each with a
//!    quorum chosen by [`QuorumTracker`] among the group's approvers only;
//!    a failed attempt excludes the signers to blame and retries the
//!    batch with another subset of approvers.
//! 4. Complete the plan, write the text, validate it with the DS of the
//!    zone's KSK/CSK as trust anchor. Only a valid zone is returned, and
//!    the signers are told (in the background) that it was published, or
//!    that the request failed.
//!
//! The request is written to the audit log ([`frostzone_proto::audit`])
//! with its content hash when planned, when proposed, at every signer's
//! decision, when approved, and when released or failed, with the
//! signers used and the culprits.
//!
//! Every step is recorded in the session (see [`crate::session`]); a
//! session whose request ends in any other way than release is marked
//! failed, also when the client goes away mid-way.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use frostzone_dnssec::denial::{Denial, Nsec3Config};
use frostzone_dnssec::domain::base::Ttl;
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::present::zone_text;
use frostzone_dnssec::signing::{
    SigningError, SigningPlan, SigningPolicy, DEFAULT_DNSKEY_TTL_SECS, DEFAULT_INCEPTION_OFFSET_SECS,
};
use frostzone_dnssec::validate::{validate_text, TrustAnchor, ValidationOptions};
use frostzone_dnssec::zone::{InputKind, Zone};
use frostzone_dnssec::StoredName;
use frostzone_proto::audit::AuditEntry;
use frostzone_proto::v1 as pb;
use rayon::prelude::*;
use tokio::task::JoinSet;

use crate::approval::Approvers;
use crate::batch::{attempt, wire_item, AttemptFailure, Batch, PhaseSink, MAX_BATCH_ITEMS};
use crate::config::MAX_APPROVAL_TIMEOUT_SECS;
use crate::error::{join_error, CoordinatorError};
use crate::keys::{zone_name, KeyGroup};
use crate::proposal::{announce_outcome, seek_approval, Progress, Proposal};
use crate::quorum::{Candidate, QuorumTracker};
use crate::registry::{Registry, ZoneRecord, RECORD_VERSION};
use crate::request::Session;
use crate::session::{SessionRecord, SessionState};
use crate::signers::SignerHandle;
use crate::{unix_now, Coordinator};

/// Batches signed at the same time. While one batch waits for signers,
/// another is aggregated here: two keep both cores of a small box busy,
/// three also hide the round trips; more only hold more nonces.
pub const BATCHES_IN_FLIGHT: usize = 3;

/// Default signature lifetime when the request says 0 (the same 14 days as
/// `frostzone simulate` and the engine's policy default).
pub const DEFAULT_VALIDITY_DAYS: u32 = frostzone_dnssec::signing::DEFAULT_VALIDITY_SECS / 86_400;

/// Longest signature lifetime accepted: a year. Longer lifetimes make a
/// stolen signature replayable for longer than any key rollover.
pub const MAX_VALIDITY_DAYS: u32 = 366;

/// How long, at most, the plan may still be shared after signing: a
/// proposal cut short finishes building its current chunk (milliseconds)
/// before it lets go of the plan.
const PLAN_RELEASE_WAIT: Duration = Duration::from_secs(10);

/// The signed zone, validated.
#[derive(Debug)]
pub struct SignedZone {
    /// Zone file text.
    pub text: String,
    /// The validator's summary line.
    pub summary: String,
    /// The session.
    pub session_id: String,
}

/// The policy a request asks for.
pub fn policy(options: &pb::SignZoneOptions) -> Result<SigningPolicy, CoordinatorError> {
    let denial = match options.denial.as_str() {
        "" | "nsec3" => Denial::Nsec3(Nsec3Config::default()),
        "nsec3-opt-out" => Denial::Nsec3(Nsec3Config { opt_out: true, ..Nsec3Config::default() }),
        "nsec" => Denial::Nsec,
        other => {
            return Err(CoordinatorError::InvalidArgument(format!(
                "options.denial {other:?}: expected \"nsec3\", \"nsec3-opt-out\" or \"nsec\""
            )))
        }
    };
    let days = match options.validity_days {
        0 => DEFAULT_VALIDITY_DAYS,
        d if d > MAX_VALIDITY_DAYS => {
            return Err(CoordinatorError::InvalidArgument(format!(
                "options.validity_days {d}: at most {MAX_VALIDITY_DAYS}"
            )))
        }
        d => d,
    };
    Ok(SigningPolicy {
        inception_offset: DEFAULT_INCEPTION_OFFSET_SECS,
        validity: days * 86_400,
        dnskey_ttl: Ttl::from_secs(DEFAULT_DNSKEY_TTL_SECS),
        publish_cds: options.publish_cds,
        denial,
    })
}

/// How long the request waits for approvals: its own
/// `approval_timeout_secs`, or the coordinator's.
pub fn approval_timeout(options: &pb::SignZoneOptions, default: Duration) -> Result<Duration, CoordinatorError> {
    match u64::from(options.approval_timeout_secs) {
        0 => Ok(default),
        s if s > MAX_APPROVAL_TIMEOUT_SECS => Err(CoordinatorError::InvalidArgument(format!(
            "options.approval_timeout_secs {s}: at most {MAX_APPROVAL_TIMEOUT_SECS} (7 days)"
        ))),
        s => Ok(Duration::from_secs(s)),
    }
}

/// The zone's key groups; they must cover the DNSKEY RRset and the data.
pub fn zone_keys(registry: &Registry, zone: &str) -> Result<Vec<Arc<KeyGroup>>, CoordinatorError> {
    let groups: Vec<Arc<KeyGroup>> = registry
        .key_groups(Some(zone))?
        .into_iter()
        .map(|r| KeyGroup::from_record(r).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let signs_keys = groups.iter().any(|g| g.key.role.signs_keys());
    let signs_zone = groups.iter().any(|g| g.key.role.signs_zone());
    match (signs_keys, signs_zone) {
        (true, true) => Ok(groups),
        (false, false) => Err(CoordinatorError::FailedPrecondition(format!("no keys for zone {zone}: run keys generate"))),
        (true, false) => Err(CoordinatorError::FailedPrecondition(format!(
            "zone {zone} has a KSK but no ZSK: run keys generate --role zsk"
        ))),
        (false, true) => Err(CoordinatorError::FailedPrecondition(format!(
            "zone {zone} has a ZSK but no KSK: run keys generate --role ksk"
        ))),
    }
}

/// Loads the uploaded text and makes the plan and the batches (CPU work:
/// call on the blocking pool).
fn plan(
    text: &str,
    apex: &StoredName,
    zone: &str,
    groups: &[Arc<KeyGroup>],
    policy: &SigningPolicy,
    now: u32,
    request_id: &str,
) -> Result<(Arc<SigningPlan>, Vec<Batch>), CoordinatorError> {
    let source = PathBuf::from(zone);
    let records = load_zone_text(text, &source, apex).map_err(|e| CoordinatorError::InvalidArgument(e.to_string()))?;
    let unsigned = Zone::from_records(apex.clone(), records, InputKind::Unsigned)
        .map_err(|e| CoordinatorError::InvalidArgument(e.to_string()))?;
    for w in &unsigned.warnings {
        tracing::warn!("{zone}: {w}");
    }
    let keys: Vec<_> = groups.iter().map(|g| g.key.clone()).collect();
    let plan = SigningPlan::prepare(unsigned, &keys, policy, now).map_err(|e| match e {
        SigningError::DuplicateKeyTag { .. } | SigningError::MissingRole(_) => CoordinatorError::FailedPrecondition(format!("{zone}: {e}")),
        other => CoordinatorError::InvalidArgument(format!("{zone}: {other}")),
    })?;
    let plan = Arc::new(plan);
    let mut by_key: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (i, item) in plan.items().iter().enumerate() {
        by_key.entry(item.key_tag.0).or_default().push(i);
    }
    let mut batches = Vec::new();
    for group in groups {
        let Some(indexes) = by_key.get(&group.record.key_tag) else { continue };
        for chunk in indexes.chunks(MAX_BATCH_ITEMS) {
            batches.push(Batch {
                key: group.clone(),
                zone: zone.to_string(),
                request_id: request_id.to_string(),
                plan: plan.clone(),
                indexes: chunk.to_vec(),
            });
        }
    }
    Ok((plan, batches))
}

/// Signs `text` as `options.zone` for `operator` (the name of the
/// operator certificate that asked), once the zone's signers approved it.
/// `progress` gets a line whenever the wait for approvals changes, and at
/// least every [`crate::proposal::PROGRESS_INTERVAL`]. The request is
/// recorded in the audit log when planned, proposed, decided, approved,
/// and when it is released or fails.
pub async fn sign_zone(
    c: Arc<Coordinator>,
    operator: &str,
    options: pb::SignZoneOptions,
    text: String,
    progress: &Progress,
) -> Result<SignedZone, CoordinatorError> {
    let started = Instant::now();
    let (apex, zone) = zone_name(&options.zone)?;
    let policy = policy(&options)?;
    let timeout = approval_timeout(&options, c.approval_timeout)?;
    let groups = zone_keys(&c.registry, &zone)?;
    let now = unix_now() as u32;
    let session_id = hex::encode(crate::dkg::random_session_id());
    let (plan, batches, content_hash) = {
        let (apex, zone, groups, id) = (apex.clone(), zone.clone(), groups.clone(), session_id.clone());
        tokio::task::spawn_blocking(move || {
            let (plan, batches) = plan(&text, &apex, &zone, &groups, &policy, now, &id)?;
            let digests: Vec<[u8; 32]> =
                plan.items().par_iter().map(|item| frostzone_proto::content::item_digest(&wire_item(item))).collect();
            let hash = frostzone_proto::content::content_hash_of_digests(digests.iter());
            Ok::<_, CoordinatorError>((plan, batches, hash))
        })
        .await
        .map_err(join_error)??
    };
    let total = plan.items().len();
    let mut record = SessionRecord::new(session_id.clone(), zone.clone(), total as u64, unix_now());
    record.content_hash = hex::encode(content_hash);
    record.submitted_by = operator.to_string();
    let session = Arc::new(Session::new(c.registry.clone(), c.signers.clone(), record));
    session.update(|_| true);
    let audit = |event: &str, signers: Vec<String>, culprits: Vec<String>, outcome: String| {
        c.audit(AuditEntry {
            event: event.into(),
            request: session_id.clone(),
            zone: zone.clone(),
            content_hash: hex::encode(content_hash),
            operator: operator.to_string(),
            signers,
            culprits,
            outcome,
            ..AuditEntry::default()
        })
    };
    let proposal = Proposal { zone: &zone, content_hash, plan: &plan, groups: &groups, submitted_by: operator, timeout };
    let result = match audit("request", Vec::new(), Vec::new(), format!("planned {total} signatures")) {
        Ok(()) => match seek_approval(&c, &session, proposal, progress).await {
            Ok(approvers) => run(&c, &session, &zone, &apex, plan, batches, &groups, &approvers, now).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let result = result.and_then(|(text, summary)| {
        let r = session.record()?;
        let digest = hex::encode(Sha256::digest(text.as_bytes()));
        audit("released", r.signers, r.culprits, format!("validated, {} signatures released, result sha256 {digest}", r.signatures))?;
        Ok((text, summary, digest))
    });
    let (text, summary, result_sha256) = match result {
        Ok(done) => done,
        Err(e) => {
            let (signers, culprits) = session.record().map(|r| (r.signers, r.culprits)).unwrap_or_default();
            if let Err(a) = audit("failed", signers, culprits, e.to_string()) {
                tracing::error!(session = %session_id, "cannot record the failure: {a}");
            }
            let record = session.finish(SessionState::Failed(e.to_string())).await?;
            announce_outcome(&c.signers, &session_id, &record.decisions, false, &e.to_string());
            tracing::warn!(session = %session_id, "{zone}: signing failed after {:.1} s, nothing released: {e}", started.elapsed().as_secs_f64());
            return Err(e);
        }
    };
    let record = session.finish(SessionState::Released).await?;
    announce_outcome(&c.signers, &session_id, &record.decisions, true, &result_sha256);
    c.registry.record_release(
        &zone,
        &ZoneRecord {
            version: RECORD_VERSION,
            last_session: session_id.clone(),
            released_unix: unix_now(),
            signatures: record.signatures,
            result_sha256,
            summary: summary.clone(),
        },
    )?;
    tracing::info!(
        session = %session_id,
        "{zone}: released {} signatures in {:.2} s, signers {}, retries {}{}",
        record.signatures,
        started.elapsed().as_secs_f64(),
        record.signers.join(", "),
        record.retries,
        if record.culprits.is_empty() { String::new() } else { format!(", culprits {}", record.culprits.join(", ")) }
    );
    Ok(SignedZone { text, summary, session_id })
}

/// The plan, once every batch and proposal has let go of it.
async fn sole_owner(mut plan: Arc<SigningPlan>) -> Result<SigningPlan, CoordinatorError> {
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

#[allow(clippy::too_many_arguments)]
async fn run(
    c: &Arc<Coordinator>,
    session: &Arc<Session>,
    zone: &str,
    apex: &StoredName,
    plan: Arc<SigningPlan>,
    batches: Vec<Batch>,
    groups: &[Arc<KeyGroup>],
    approvers: &Approvers,
    now: u32,
) -> Result<(String, String), CoordinatorError> {
    // One tracker per key group (its approvers: a signer makes shares
    // only for requests it approved), failures shared.
    let trackers: BTreeMap<u16, QuorumTracker> = groups
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
            (g.record.key_tag, QuorumTracker::new(usize::from(g.record.threshold), candidates))
        })
        .collect();
    let trackers = Arc::new(Mutex::new(trackers));

    let mut signatures = vec![[0u8; 64]; plan.items().len()];
    let mut pending = batches.into_iter().map(Arc::new).collect::<Vec<_>>().into_iter();
    let mut running = JoinSet::new();
    loop {
        while running.len() < BATCHES_IN_FLIGHT {
            let Some(batch) = pending.next() else { break };
            let (c, session, trackers) = (c.clone(), session.clone(), trackers.clone());
            running.spawn(async move {
                let sigs = sign_batch(&c, &session, &trackers, &batch).await?;
                Ok::<_, CoordinatorError>((batch, sigs))
            });
        }
        let Some(joined) = running.join_next().await else { break };
        // On error, dropping `running` aborts the other batches.
        let (batch, sigs) = joined.map_err(join_error)??;
        for (&i, sig) in batch.indexes.iter().zip(sigs) {
            signatures[i] = sig;
        }
    }

    drop(running);
    // Every batch is done and dropped: the plan has one owner again.
    let plan = sole_owner(plan).await?;
    session.reached(SessionState::Validating);
    let anchor: Vec<_> = groups.iter().filter(|g| g.key.role.signs_keys()).map(|g| g.key.ds(apex)).collect();
    let (zone, apex) = (zone.to_string(), apex.clone());
    tokio::task::spawn_blocking(move || {
        let signed = plan.complete(signatures).map_err(|e| CoordinatorError::Internal(e.to_string()))?;
        let text = zone_text(&signed);
        // The validator reads the text back into a zone of its own.
        drop(signed);
        let options = ValidationOptions { now, anchor: TrustAnchor::Ds(anchor), expiry_warning: 0 };
        let (_, report) = validate_text(&text, &PathBuf::from(format!("{zone} (signed)")), &apex, &options)
            .map_err(|e| CoordinatorError::Invalid(e.to_string()))?;
        if !report.is_valid() {
            let mut lines: Vec<String> = report.errors.iter().take(20).map(|f| f.to_string()).collect();
            if report.errors.len() > 20 {
                lines.push(format!("... and {} more", report.errors.len() - 20));
            }
            lines.push(report.summary());
            return Err(CoordinatorError::Invalid(lines.join("\n")));
        }
        Ok((text, report.summary()))
    })
    .await
    .map_err(join_error)?
}

/// Signs one batch, retrying with other subsets until it is signed or the
/// quorum is gone.
async fn sign_batch(
    c: &Coordinator,
    session: &Session,
    trackers: &Mutex<BTreeMap<u16, QuorumTracker>>,
    batch: &Arc<Batch>,
) -> Result<Vec<[u8; 64]>, CoordinatorError> {
    let tag = batch.key.record.key_tag;
    let lock = || trackers.lock().map_err(|_| CoordinatorError::Internal("quorum lock poisoned".into()));
    loop {
        let chosen = lock()?
            .get(&tag)
            .ok_or_else(|| CoordinatorError::Internal(format!("no quorum tracker for key tag {tag}")))?
            .choose()?;
        let handles: Vec<SignerHandle> = chosen.iter().filter_map(|cand| c.signers.get(&cand.name).cloned()).collect();
        let session_id = crate::dkg::random_session_id();
        match attempt(batch, &handles, session_id, session).await {
            Ok(sigs) => {
                let names: Vec<String> = handles.iter().map(|h| h.name().to_string()).collect();
                session.update(|r| {
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
                    t.values_mut().for_each(|q| q.mark_unavailable(name, reason.clone()));
                }
                session.update(|r| {
                    r.retries += 1;
                    true
                });
            }
            Err(AttemptFailure::Culprits(found)) => {
                let session_id = session.id();
                let mut t = lock()?;
                for (name, reason) in &found {
                    tracing::warn!(signer = %name, session = %session_id, "{}: key tag {tag}: culprit: {reason}; excluded", batch.zone);
                    t.values_mut().for_each(|q| q.mark_culprit(name, reason.clone()));
                    c.registry.record_culprit(name, &session_id, reason, unix_now())?;
                }
                session.update(|r| {
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
