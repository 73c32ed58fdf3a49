//! One request of the zone pipeline, from its input to publication
//! (see the [module diagram](super)). The async code here only moves
//! bytes and waits; planning, release and outputs run on the blocking
//! pool.
//!
//! A request holds its zone's lane for its whole life: requests of a zone
//! run one at a time, in the order they arrive. An input that does not
//! apply (a change set for another serial, a record to remove that is not
//! there) fails before any session is opened: nothing is recorded, nothing
//! changes. Once planned, the request has a session: it is published whole
//! (registry first, in one transaction, then files, transfers and the
//! answer) or it fails and the signers are told.

use std::sync::Arc;
use std::time::Instant;

use frostzone_dnssec::changes::ChangeSet;
use frostzone_dnssec::refresh::PreviousSignatures;
use frostzone_dnssec::signing::{SigningError, SigningPlan};
use frostzone_dnssec::validate::{TrustAnchor, ValidationOptions};
use frostzone_dnssec::zone::InputKind;
use frostzone_dnssec::StoredName;
use frostzone_proto::audit::AuditEntry;
use frostzone_proto::v1 as pb;
use sha2::{Digest, Sha256};

use super::input::{next_version, Current, Input};
use super::outputs::{run_on_publish, write_outputs};
use super::proposals::ProposalSet;
use super::release::{release, Published, Released};
use super::settings::Settings;
use super::{loaded, rrsig_time_to_unix, Lane, Version};
use crate::batch::PhaseSink;
use crate::error::{join_error, CoordinatorError};
use crate::keys::{zone_name, KeyGroup};
use crate::proposal::{announce_outcome, announce_publication, seek_approval, Progress, Proposal};
use crate::registry::{Publication, ZoneRecord, ZoneStateRecord, RECORD_VERSION};
use crate::request::Session;
use crate::session::{SessionRecord, SessionState};
use crate::sign::{approval_timeout, batches, sign_batches, sole_owner, zone_keys, SignedZone};
use crate::Coordinator;

/// A request of the pipeline.
#[derive(Debug)]
pub struct Submission {
    /// Who asked: an operator certificate's name, "refresh schedule", or
    /// the primary.
    pub operator: String,
    /// Its options (`zone` is required).
    pub options: pb::SignZoneOptions,
    /// What it brings.
    pub input: Input,
}

/// Everything planned for a request.
struct Planned {
    next: super::input::NextVersion,
    unsigned_text: String,
    plan: Arc<SigningPlan>,
    set: Arc<ProposalSet>,
}

/// Runs `submission` through the pipeline and publishes the result.
pub async fn submit(c: &Arc<Coordinator>, submission: Submission, progress: &Progress) -> Result<SignedZone, CoordinatorError> {
    let (apex, zone) = zone_name(&submission.options.zone)?;
    let lane = c.pipeline.lane(&zone);
    let mut slot = lane.version.lock().await;
    let current = loaded(&c.registry, &mut slot, &zone, &apex).await?;
    let outcome = Request { c, zone: zone.clone(), apex, lane: &lane, current, started: Instant::now() }.run(submission, progress).await;
    match outcome {
        Ok((version, signed)) => {
            *slot = Some(Some(version));
            drop(slot);
            ensure_schedule(c, &zone);
            Ok(signed)
        }
        Err(e) => Err(e),
    }
}

/// Starts the refresh schedule of `zone` unless it runs.
fn ensure_schedule(c: &Arc<Coordinator>, zone: &str) {
    let mut schedules = c.pipeline.schedules.lock().unwrap_or_else(|e| e.into_inner());
    if !schedules.contains_key(zone) {
        schedules.insert(zone.to_string(), super::schedule::spawn(c, zone));
    }
}

struct Request<'a> {
    c: &'a Arc<Coordinator>,
    zone: String,
    apex: StoredName,
    lane: &'a Lane,
    current: Option<Arc<Version>>,
    started: Instant,
}

impl Request<'_> {
    async fn run(self, s: Submission, progress: &Progress) -> Result<(Arc<Version>, SignedZone), CoordinatorError> {
        let c = self.c;
        let zone = self.zone.clone();
        let config = c.pipeline.config(&zone).cloned();
        let inherit = !matches!(s.input, Input::Text { .. });
        let stored = self.current.as_ref().map(|v| &v.record.settings);
        let settings = Settings::resolve(&s.options, config.as_ref(), stored, inherit)?;
        let policy = settings.signing_policy()?;
        let timeout = approval_timeout(&s.options, c.approval_timeout)?;
        let groups = zone_keys(&c.registry, &zone)?;
        let key_tags: Vec<u16> = groups.iter().map(|g| g.record.key_tag).collect();
        let now_unix = c.pipeline.clock.now();
        let now = now_unix as u32;
        let refresh = c.pipeline.refresh_policy(&zone, settings.validity_days);
        // A new key or another denial changes (nearly) every signature:
        // sign from scratch, as when asked to.
        let full = s.options.full
            || self.current.as_ref().is_some_and(|v| v.record.key_tags != key_tags || v.record.settings.denial != settings.denial);
        let kind = s.input.kind();
        let planned = {
            let (apex, zone, current, groups, serial_policy) =
                (self.apex.clone(), zone.clone(), self.current.clone(), groups.clone(), settings.serial_policy);
            let input = s.input;
            tokio::task::spawn_blocking(move || plan(&apex, &zone, current.as_deref(), input, serial_policy, &groups, &policy, now_unix, full, &refresh))
                .await
                .map_err(join_error)??
        };
        let serial = planned.next.serial;
        let session_id = hex::encode(crate::dkg::random_session_id());
        let made = planned.plan.items().len();
        let kept = planned.plan.reused();
        let mut record = SessionRecord::new(session_id.clone(), zone.clone(), made as u64, crate::unix_now());
        record.content_hash = hex::encode(planned.set.signing_hash());
        record.submitted_by = s.operator.clone();
        let session = Arc::new(Session::new(c.registry.clone(), c.signers.clone(), record));
        session.update(|_| true);
        let signing_hash = hex::encode(planned.set.signing_hash());
        let audit = |event: &str, signers: Vec<String>, culprits: Vec<String>, outcome: String| {
            c.audit(AuditEntry {
                event: event.into(),
                request: session_id.clone(),
                zone: zone.clone(),
                content_hash: signing_hash.clone(),
                operator: s.operator.clone(),
                signers,
                culprits,
                outcome,
                ..AuditEntry::default()
            })
        };
        let head = format!("{kind} to serial {serial}: {made} signatures to make, {kept} kept");
        let result = match audit("request", Vec::new(), Vec::new(), head.clone()) {
            Ok(()) => {
                tracing::info!(session = %session_id, "{zone}: {head}");
                self.sign_and_release(&session, &s.operator, planned, &groups, timeout, settings, key_tags, now, progress).await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok((version, signed)) => {
                let r = session.record()?;
                let digest = hex::encode(Sha256::digest(signed.text.as_bytes()));
                announce_publication(&c.signers, &c.registry, &zone, &session_id, &r.decisions, &digest);
                tracing::info!(
                    session = %session_id,
                    "{zone}: published serial {serial} ({kind}) in {:.2} s: {made} signatures made, {kept} kept, signers {}{}",
                    self.started.elapsed().as_secs_f64(),
                    r.signers.join(", "),
                    if r.culprits.is_empty() { String::new() } else { format!(", culprits {}", r.culprits.join(", ")) }
                );
                Ok((version, signed))
            }
            Err(e) => {
                let (signers, culprits) = session.record().map(|r| (r.signers, r.culprits)).unwrap_or_default();
                if let Err(a) = audit("failed", signers, culprits, e.to_string()) {
                    tracing::error!(session = %session_id, "cannot record the failure: {a}");
                }
                let record = session.finish(SessionState::Failed(e.to_string())).await?;
                announce_outcome(&c.signers, &session_id, &record.decisions, false, &e.to_string());
                tracing::warn!(session = %session_id, "{zone}: {kind} failed after {:.1} s, nothing published: {e}", self.started.elapsed().as_secs_f64());
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn sign_and_release(
        &self,
        session: &Arc<Session>,
        operator: &str,
        planned: Planned,
        groups: &[Arc<KeyGroup>],
        timeout: std::time::Duration,
        settings: Settings,
        key_tags: Vec<u16>,
        now: u32,
        progress: &Progress,
    ) -> Result<(Arc<Version>, SignedZone), CoordinatorError> {
        let c = self.c;
        let zone = &self.zone;
        let Planned { next, unsigned_text, plan, set } = planned;
        let session_id = session.id();
        // Signers whose baseline is the version published now get the
        // increment; every other one the full proposal.
        let baselines = c.registry.signer_baselines(zone)?;
        let incremental = match set.baseline_request_id() {
            Some(base) => baselines.into_iter().filter(|(_, id)| id == base).map(|(signer, _)| signer).collect(),
            None => Default::default(),
        };
        let proposal = Proposal {
            zone,
            content_hash: set.signing_hash(),
            set: &set,
            incremental: &incremental,
            groups,
            submitted_by: operator,
            timeout,
        };
        let approvers = seek_approval(c, session, proposal, progress).await?;
        let made = plan.items().len();
        let kept = plan.reused() as u64;
        let signatures = sign_batches(c, session, made, batches(&plan, groups, zone, &session_id), groups, &approvers).await?;
        drop(set);
        let plan = sole_owner(plan).await?;
        session.reached(SessionState::Validating);
        let anchor: Vec<_> = groups.iter().filter(|g| g.key.role.signs_keys()).map(|g| g.key.ds(&self.apex)).collect();
        let options = ValidationOptions { now, anchor: TrustAnchor::Ds(anchor), expiry_warning: 0 };
        let (zone_name, current) = (zone.clone(), self.current.clone());
        let (released, previous) = tokio::task::spawn_blocking(move || {
            let signed = plan.complete(signatures).map_err(|e| CoordinatorError::Internal(format!("{zone_name}: {e}")))?;
            let published = current.as_deref().map(|v| Published { content: &v.signed, serial: v.record.serial, known: &v.known });
            let released = release(&zone_name, signed, published, &options)?;
            let previous = PreviousSignatures::from_zone(&released.zone);
            Ok::<_, CoordinatorError>((released, previous))
        })
        .await
        .map_err(join_error)??;
        let Released { zone: signed_zone, content, text, changes, report, known } = released;
        let (changes, changes_text) = match changes {
            Some((set, text)) => (Some(set), Some(text)),
            None => (None, None),
        };
        let signatures = content.records().filter(|r| r.record.rtype() == frostzone_dnssec::domain::base::iana::Rtype::RRSIG).count() as u64;
        let previous_record = self.current.as_ref().map(|v| &v.record);
        let state = ZoneStateRecord {
            version: RECORD_VERSION,
            zone: zone.clone(),
            serial: next.serial,
            input_serial: next.input_serial,
            request_id: session_id.clone(),
            published_unix: c.pipeline.clock.now(),
            signatures,
            signatures_made: made as u64,
            signatures_kept: kept,
            settings: settings.stored(),
            key_tags,
            journal_next: previous_record.map(|r| r.journal_next).unwrap_or(0) + u64::from(changes_text.is_some()),
        };
        let result_sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        let summary = report.summary();
        let release_record = ZoneRecord {
            version: RECORD_VERSION,
            last_session: session_id.clone(),
            released_unix: state.published_unix,
            signatures,
            result_sha256: result_sha256.clone(),
            summary: summary.clone(),
        };
        // Nothing goes out before the registry holds the version whole.
        c.registry
            .publish_zone(&Publication {
                state: &state,
                unsigned: &unsigned_text,
                signed: &text,
                changes: changes_text.as_deref(),
                journal_limit: c.pipeline.journal_limit(),
                release: &release_record,
            })
            .await?;
        let r = session.finish(SessionState::Released).await?;
        c.audit(AuditEntry {
            event: "released".into(),
            request: session_id.clone(),
            zone: zone.clone(),
            content_hash: r.content_hash.clone(),
            operator: operator.to_string(),
            signers: r.signers.clone(),
            culprits: r.culprits.clone(),
            outcome: format!("validated, serial {}, {made} signatures made, {kept} kept, result sha256 {result_sha256}", next.serial),
            ..AuditEntry::default()
        })?;
        let health_now = c.pipeline.clock.now();
        let refresh = c.pipeline.refresh_policy(zone, settings.validity_days);
        let next_due = previous.next_due(&refresh, health_now as u32).map(|t| rrsig_time_to_unix(t, health_now));
        let earliest = previous.first_expiration(health_now as u32).map(|t| rrsig_time_to_unix(t, health_now));
        self.lane.update_health(|h| {
            *h = super::ZoneHealth { next_refresh: next_due, earliest_expiration: earliest, ..Default::default() };
        });
        self.lane.wake.notify_one();
        let text = Arc::new(text);
        self.outputs(next.serial, &text, changes_text.as_deref(), changes, &content).await;
        let version = Arc::new(Version { record: state, unsigned: next.content, signed: content, zone: signed_zone, previous, known });
        let signed = SignedZone {
            text: Arc::try_unwrap(text).unwrap_or_else(|shared| (*shared).clone()),
            summary,
            session_id,
            serial: next.serial,
            signatures_made: made as u64,
            signatures_kept: kept,
            changes: changes_text,
        };
        Ok((version, signed))
    }

    /// Files, the `on_publish` command and the transfer server. Failures
    /// are logged: the version is published already.
    async fn outputs(
        &self,
        serial: u32,
        text: &Arc<String>,
        changes_text: Option<&str>,
        changes: Option<ChangeSet>,
        content: &frostzone_dnssec::changes::ZoneContent,
    ) {
        let c = self.c;
        if let Some(config) = c.pipeline.config(&self.zone).cloned() {
            let from = self.current.as_ref().map(|v| v.record.serial);
            let (text, changes) = (text.clone(), changes_text.map(str::to_string));
            let written = tokio::task::spawn_blocking(move || {
                let file = write_outputs(&config, serial, &text, from.zip(changes.as_deref()));
                (config, file)
            })
            .await;
            match written {
                Ok((config, Ok(file))) => run_on_publish(&config, serial, file.as_deref()),
                Ok((config, Err(e))) => {
                    tracing::error!("{e}");
                    run_on_publish(&config, serial, None)
                }
                Err(e) => tracing::error!("{}: writing the outputs of serial {serial}: {}", self.zone, join_error(e)),
            }
        }
        if let Some(server) = c.pipeline.transfer() {
            let records = crate::xfr::content_records(content);
            let published = server.publish(self.apex.clone(), records.clone(), changes).await;
            if let Err(e) = published {
                tracing::error!("{}: serving serial {serial} with its change set failed ({e}); serving it whole", self.zone);
                if let Err(e) = server.publish(self.apex.clone(), records, None).await {
                    tracing::error!("{}: serial {serial} is not served to the secondaries: {e}", self.zone);
                }
            }
        }
    }
}

/// The next version and its plan and proposals (CPU work: runs on the
/// blocking pool).
#[allow(clippy::too_many_arguments)]
fn plan(
    apex: &StoredName,
    zone: &str,
    current: Option<&Version>,
    input: Input,
    serial_policy: frostzone_dnssec::serial::SerialPolicy,
    groups: &[Arc<KeyGroup>],
    policy: &frostzone_dnssec::signing::SigningPolicy,
    now: u64,
    full: bool,
    refresh: &frostzone_dnssec::refresh::RefreshPolicy,
) -> Result<Planned, CoordinatorError> {
    let at = current.map(|v| Current { content: &v.unsigned, serial: v.record.serial, input_serial: v.record.input_serial });
    let next = next_version(apex, zone, at, input, serial_policy, now)?;
    for w in &next.warnings {
        tracing::warn!("{zone}: {w}");
    }
    let unsigned = next.content.to_zone(InputKind::Unsigned).map_err(|e| CoordinatorError::InvalidArgument(e.to_string()))?;
    for w in &unsigned.warnings {
        tracing::warn!("{zone}: {w}");
    }
    let none = PreviousSignatures::default();
    let previous = match current {
        Some(v) if !full => &v.previous,
        _ => &none,
    };
    let keys: Vec<_> = groups.iter().map(|g| g.key.clone()).collect();
    let plan = SigningPlan::prepare_incremental(unsigned, &keys, policy, now as u32, previous, refresh).map_err(|e| match e {
        SigningError::DuplicateKeyTag { .. } | SigningError::MissingRole(_) => CoordinatorError::FailedPrecondition(format!("{zone}: {e}")),
        other => CoordinatorError::InvalidArgument(format!("{zone}: {other}")),
    })?;
    let plan = Arc::new(plan);
    let set = Arc::new(ProposalSet::build(&plan, current.map(|v| (&v.zone, v.record.request_id.as_str()))));
    let unsigned_text = next.content.to_text();
    Ok(Planned { next, unsigned_text, plan, set })
}
