//! One request of the zone pipeline, from its input to publication
//! (see the [module diagram](super)). The async code here only moves
//! bytes and waits; planning, release and outputs run on the blocking
//! pool.
//!
//! A request holds its zone's lane for its whole life: requests of a zone
//! run one at a time, in the order they arrive. An input that does not
//! apply (a change set for another serial, a record to remove that is not
//! there) fails before any live is opened: nothing is recorded, nothing
//! changes. Once planned, the request has a live: it is published whole
//! (registry first, in one transaction, then files, transfers and the
//! answer) or it fails and the signers are told.

use std::sync::Arc;
use std::time::{Duration, Instant};

use frostzone_dnssec::change_set::ChangeSet;
use frostzone_dnssec::signing::refresh::PreviousSignatures;
use frostzone_dnssec::change_set::ZoneContent;
use frostzone_dnssec::signing::{read_zone, SharedZone, SigningError, SigningPlan};
use frostzone_dnssec::signing::incremental::prepare_update;
use frostzone_dnssec::validate::{TrustAnchor, ValidationOptions};
use frostzone_dnssec::zone::InputKind;
use frostzone_dnssec::StoredName;
use frostzone_proto::audit::AuditEntry;
use frostzone_proto::v1 as pb;

use super::input::{next_version, unsigned_change_text, Current, Input};
use super::outputs::{run_on_publish, write_outputs};
use crate::approval::proposals::ProposalSet;
use super::validate::{finish, Outcome};
use crate::config::zone::Settings;
use super::publication::{journal_position, published_digest, stored_sizes, writes_snapshot};
use super::stages::Stages;
use super::{loaded, rrsig_time_to_unix, Lane, Version};
use crate::signing::attempt::PhaseSink;
use crate::error::{join_error, CoordinatorError};
use tracing::Instrument;
use crate::keys::{zone_name, KeyGroup};
use crate::approval::outcome::{announce_outcome, announce_publication};
use crate::approval::wait::{seek_approval, Progress, Proposal};
use crate::registry::{Publication, ZoneStateRecord, ZoneText, RECORD_VERSION};
use crate::request::live::LiveRequest;
use crate::request::{RequestRecord, RequestPhase};
use crate::config::MAX_APPROVAL_TIMEOUT_SECS;
use crate::keys::rollover::views::KeySet;
use crate::keys::zone_keys;
use crate::signing::{batches, sign_batches, sole_owner};
use super::input::Submission;
use crate::Coordinator;

/// How long a request waits for the signers to acknowledge the previous
/// publication before choosing between incremental and full proposals.
/// Waiting is the cheap side: a signer still applying a whole version to
/// its baseline (about 5 s for 30,000 delegations) would otherwise get a
/// full proposal and evaluate the whole zone again for a one-RRset change.
/// The bound is for a signer that hangs: the others' baselines are
/// recorded as they answer, and they get increments.
const ANNOUNCEMENT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);


/// A published version, as the request that made it answers (and the
/// SignZone stream returns).
#[derive(Debug)]
pub struct PublishedVersion {
    /// The whole signed zone, text (none for a change set published
    /// without `return_zone`: the zone is not written out whole then),
    /// shared with the registry's stored copy.
    pub signed_text: Option<Arc<ZoneText>>,
    /// What the signers are told was published: `zone sha256 HEX` or,
    /// for a change set, `changes sha256 HEX`.
    pub published: String,
    /// The validator's summary line.
    pub summary: String,
    /// The live (request id).
    pub request_id: String,
    /// The published SOA serial.
    pub serial: u32,
    /// Signatures made for this version.
    pub signatures_made: u64,
    /// Signatures kept from the version before.
    pub signatures_kept: u64,
    /// The signed change set from the version before (IXFR text), when
    /// there was one.
    pub changes: Option<String>,
}

impl PublishedVersion {
    /// The whole signed zone as text, read from its temporary file
    /// (empty when there is none).
    pub fn text(&self) -> std::io::Result<String> {
        self.signed_text.as_deref().map_or(Ok(String::new()), ZoneText::to_text)
    }
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

/// Everything planned for a request.
struct Planned {
    next: super::input::NextVersion,
    plan: Arc<SigningPlan>,
    set: Arc<ProposalSet>,
}

/// Runs `submission` through the pipeline and publishes the result (a
/// refresh schedule is started by [`super::submit`]).
pub async fn run(c: &Arc<Coordinator>, submission: Submission, progress: &Progress) -> Result<PublishedVersion, CoordinatorError> {
    let (apex, zone) = zone_name(&submission.options.zone)?;
    let lane = c.pipeline.lane(&zone);
    let mut slot = lane.version.lock().await;
    let current = loaded(c, &mut slot, &zone, &apex).await?;
    let stored = std::sync::atomic::AtomicBool::new(false);
    let request = Request { c, zone: zone.clone(), apex, lane: &lane, current, started: Instant::now(), stages: Arc::default(), stored: &stored };
    // Every line of the request carries its id (recorded once it has one).
    let span = tracing::info_span!("request", zone = %zone, id = tracing::field::Empty);
    let outcome = request.run(submission, progress).instrument(span).await;
    match outcome {
        Ok((version, signed)) => {
            *slot = Some(Some(version));
            Ok(signed)
        }
        Err(e) => {
            // A request that failed after the registry took its version
            // (recording the live, say): the next one reads it there.
            if stored.load(std::sync::atomic::Ordering::SeqCst) {
                *slot = None;
            }
            Err(e)
        }
    }
}

struct Request<'a> {
    c: &'a Arc<Coordinator>,
    zone: String,
    apex: StoredName,
    lane: &'a Lane,
    current: Option<Arc<Version>>,
    started: Instant,
    stages: Arc<Stages>,
    /// Set once the registry holds the new version.
    stored: &'a std::sync::atomic::AtomicBool,
}

impl Request<'_> {
    async fn run(self, s: Submission, progress: &Progress) -> Result<(Arc<Version>, PublishedVersion), CoordinatorError> {
        let c = self.c;
        let zone = self.zone.clone();
        let config = c.pipeline.config(&zone).cloned();
        let inherit = !matches!(s.input, Input::Text { .. });
        let stored = self.current.as_ref().map(|v| &v.record.settings);
        let settings = Settings::resolve(&s.options, config.as_ref(), stored, inherit)?;
        let mut policy = settings.signing_policy()?;
        let timeout = approval_timeout(&s.options, c.approval_timeout)?;
        let published_keys = self.current.as_ref().map(|v| super::key_steps::published_key_set(&v.record));
        let stored_rollovers = c.registry.rollovers(&zone)?;
        let (rollovers, step) = match &s.input {
            Input::KeyStep { rollovers, step } => {
                super::key_steps::check_step(&zone, &stored_rollovers, rollovers)?;
                (rollovers.clone(), Some(step.clone()))
            }
            _ => (stored_rollovers.clone(), None),
        };
        let keys = zone_keys(&c.registry, &zone, published_keys.as_ref().map(|k| &k.dnskey), &rollovers)?;
        // Half the holders may sign with refreshed shares already: the
        // package to check their shares against is not settled.
        if let Some(g) = keys.groups.iter().find(|g| g.record.pending_refresh.is_some()) {
            return Err(CoordinatorError::FailedPrecondition(format!(
                "{zone}: the share refresh of key tag {} is not committed on every signer; finish it with \
                 `frostzone keys refresh --zone {zone} --key-tag {}` (the zone's schedule retries it too)",
                g.record.key_tag, g.record.key_tag
            )));
        }
        // A KSK or CSK rollover asks the parent for the new DS (RFC 7344).
        policy.publish_cds |= keys.key_use.cds_required;
        if let Some(z) = &config {
            policy.dnskey_ttl = frostzone_dnssec::domain::base::Ttl::from_secs(z.rollover.dnskey_ttl);
        }
        let groups = keys.groups;
        let key_set = keys.key_use.set;
        let key_tags: Vec<u16> = groups.iter().map(|g| g.record.key_tag).collect();
        let now_unix = c.pipeline.clock.now();
        let now = now_unix as u32;
        let refresh = c.pipeline.refresh_policy(&zone, settings.validity_days);
        // A new key or another denial changes (nearly) every signature:
        // sign from scratch, as when asked to.
        let mut causes = super::whole_zone::WholeZoneCauses {
            asked: s.options.full,
            keys: published_keys.as_ref().is_some_and(|k| *k != key_set),
            denial: self.current.as_ref().filter(|v| v.record.settings.denial != settings.denial).map(|v| (v.record.settings.denial.clone(), settings.denial.clone())),
            denial_ttl: None,
        };
        let full = causes.asked || causes.keys || causes.denial.is_some();
        let kind = s.input.kind();
        let planned = {
            let (apex, zone, current, groups, serial_policy) =
                (self.apex.clone(), zone.clone(), self.current.clone(), groups.clone(), settings.serial_policy);
            let input = s.input;
            let stages = self.stages.clone();
            tokio::task::spawn_blocking(move || plan(&apex, &zone, current.as_deref(), input, serial_policy, &groups, &policy, now_unix, full, &refresh, &stages))
                .await
                .map_err(join_error)??
        };
        let serial = planned.next.serial;
        causes.denial_ttl = self.current.as_ref().and_then(|v| super::whole_zone::WholeZoneCauses::denial_ttl_between(&v.unsigned, &planned.next.content));
        let whole_zone = super::whole_zone::notice(planned.plan.items().len() as u64, self.current.as_ref().map(|v| v.record.signatures), &causes);
        let request_id = hex::encode(crate::request::random_id());
        tracing::Span::current().record("id", request_id.as_str());
        let made = planned.plan.items().len();
        let kept = planned.plan.reused();
        let mut record = RequestRecord::new(request_id.clone(), zone.clone(), made as u64, crate::unix_now());
        record.content_hash = hex::encode(planned.set.signing_hash());
        record.submitted_by = s.operator.clone();
        let live = Arc::new(LiveRequest::new(c.registry.clone(), c.signers.clone(), c.metrics.clone(), record));
        live.update(|_| true);
        let signing_hash = hex::encode(planned.set.signing_hash());
        let entry = |event: &str, signers: Vec<String>, culprits: Vec<String>, outcome: String| {
            AuditEntry {
                event: event.into(),
                request: request_id.clone(),
                zone: zone.clone(),
                content_hash: signing_hash.clone(),
                operator: s.operator.clone(),
                signers,
                culprits,
                outcome,
                ..AuditEntry::default()
            }
        };
        let mut head = match &step {
            Some(step) => format!("{kind} ({step}) to serial {serial}: {made} signatures to make, {kept} kept"),
            None => format!("{kind} to serial {serial}: {made} signatures to make, {kept} kept"),
        };
        if let Some(warning) = &whole_zone {
            // Before anything is proposed: the sign command prints it as
            // its first progress line, and the audit log keeps it.
            tracing::warn!(request = %request_id, "{zone}: {warning}");
            progress(format!("request {}: {warning}", crate::approval::tally::ShortId(&request_id)));
            head.push_str(&format!("; {warning}"));
        }
        let result = match c.audit(entry("request", Vec::new(), Vec::new(), head.clone())).await {
            Ok(()) => {
                tracing::info!(request = %request_id, "{zone}: {head}");
                let return_zone = s.options.return_zone;
                self.sign_and_publish(&live, &s.operator, planned, &groups, timeout, settings, (key_tags, key_set, step.as_deref()), now, return_zone, progress).await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok((version, signed)) => {
                if step.is_some() {
                    crate::fault::kill_before_step_record();
                    // Recorded before the lane is free: no other request
                    // may publish the key set before this step.
                    if let Err(e) = super::key_steps::record_step(c, &zone, &stored_rollovers, &rollovers, c.pipeline.clock.now()).await {
                        tracing::error!(request = %request_id, "{zone}: rollover step published but not recorded (it is recorded at the next look): {e}");
                    }
                }
                c.metrics.request_finished(&zone, kind, self.started.elapsed().as_secs_f64(), Ok(()));
                c.metrics.steps(&self.stages.steps());
                let r = live.record()?;
                let announcement = announce_publication(&c.signers, &c.registry, &zone, &request_id, &r.decisions, &signed.published);
                if let Ok(mut a) = self.lane.announcement.lock() {
                    *a = announcement;
                }
                tracing::info!(
                    request = %request_id,
                    elapsed_ms = self.started.elapsed().as_secs_f64() * 1e3,
                    "{zone}: published serial {serial} ({kind}) in {:.2} s: {made} signatures made, {kept} kept, signers {}{}; steps: {}",
                    self.started.elapsed().as_secs_f64(),
                    r.signers.join(", "),
                    if r.culprits.is_empty() { String::new() } else { format!(", culprits {}", r.culprits.join(", ")) },
                    self.stages.summary()
                );
                Ok((version, signed))
            }
            Err(e) => {
                c.metrics.request_finished(&zone, kind, self.started.elapsed().as_secs_f64(), Err(&e));
                let (signers, culprits) = live.record().map(|r| (r.signers, r.culprits)).unwrap_or_default();
                if let Err(a) = c.audit(entry("failed", signers, culprits, e.to_string())).await {
                    tracing::error!(request = %request_id, "cannot record the failure: {a}");
                }
                let record = live.finish(RequestPhase::Failed(e.to_string())).await?;
                announce_outcome(&c.signers, &request_id, &record.decisions, false, &e.to_string());
                tracing::warn!(request = %request_id, "{zone}: {kind} failed after {:.1} s, nothing published: {e}", self.started.elapsed().as_secs_f64());
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn sign_and_publish(
        &self,
        live: &Arc<LiveRequest>,
        operator: &str,
        planned: Planned,
        groups: &[Arc<KeyGroup>],
        timeout: std::time::Duration,
        settings: Settings,
        (key_tags, key_set, step): (Vec<u16>, KeySet, Option<&str>),
        now: u32,
        return_zone: bool,
        progress: &Progress,
    ) -> Result<(Arc<Version>, PublishedVersion), CoordinatorError> {
        let c = self.c;
        let zone = &self.zone;
        let Planned { next, plan, set } = planned;
        let request_id = live.id();
        // Signers whose baseline is the version published now get the
        // increment; every other one the full proposal.
        self.lane.announced(ANNOUNCEMENT_WAIT).await;
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
            key_step: step,
            timeout,
        };
        self.stages.mark("baselines");
        let (approvers, precommitted) = seek_approval(c, live, proposal, progress).await?;
        self.stages.mark("approval");
        let made = plan.items().len();
        let kept = plan.reused() as u64;
        let signatures = sign_batches(c, live, made, batches(&plan, groups, zone, &request_id), groups, &approvers, precommitted).await?;
        self.stages.mark("signing");
        drop(set);
        let plan = sole_owner(plan).await?;
        live.reached(RequestPhase::Validating);
        let anchor: Vec<_> = groups.iter().filter(|g| g.key.role.signs_keys()).map(|g| g.key.ds(&self.apex)).collect();
        let options = ValidationOptions { now, anchor: TrustAnchor::Ds(anchor), expiry_warning: 0 };
        let (zone_name, current, stages) = (zone.clone(), self.current.clone(), self.stages.clone());
        let refresh = c.pipeline.refresh_policy(zone, settings.validity_days);
        // A patch leaves the stored texts as they are (two journal entries
        // instead); every so often, and for every whole version, the texts
        // are written again.
        let previous_record = self.current.as_ref().map(|v| &v.record);
        let snapshot = writes_snapshot(plan.is_update(), previous_record, c.pipeline.snapshot_every());
        let output = c.pipeline.config(zone).is_some_and(|z| z.output.is_some());
        let want_text = snapshot || return_zone || output;
        let text_dir = c.registry.text_dir().to_path_buf();
        let outcome = tokio::task::spawn_blocking(move || {
            let signed = plan.complete_signed(signatures).map_err(|e| CoordinatorError::Internal(format!("{zone_name}: {e}")))?;
            stages.mark("complete");
            finish(&zone_name, signed, current.as_deref(), &options, &refresh, want_text, &text_dir, &stages)
        })
        .await
        .map_err(join_error)??;
        let Outcome { zone: shared, undo, text, changes, report, known, next_due, first_expiration, signatures } = outcome;
        let (changes, changes_text) = match changes {
            Some((set, text)) => (Some(set), Some(text)),
            None => (None, None),
        };
        let published = published_digest(text.as_ref().map(ZoneText::sha256), changes_text.as_deref());
        // From here on the signed text (in its temporary file) is shared
        // by the snapshot file, the output file and the answer.
        let text = text.map(Arc::new);
        let position = journal_position(previous_record, changes_text.is_some(), snapshot || undo.is_none());
        let snapshot = position.snapshot;
        let unsigned_changes = match (snapshot, self.current.as_ref(), next.touched.as_ref()) {
            (false, Some(v), Some(touched)) => unsigned_change_text(&v.unsigned, &next.content, touched).map(Some).map_err(CoordinatorError::from),
            _ => Ok(None),
        };
        // A snapshot's texts are in their files before the record naming
        // them is written; the unsigned text is written as it is made,
        // never held at the publication. A change set keeps the files
        // named before.
        let written = match (snapshot, &text) {
            _ if unsigned_changes.is_err() => Ok((None, None)),
            (true, Some(signed)) => {
                let (registry, signed, content) = (c.registry.clone(), signed.clone(), next.content.clone());
                tokio::task::spawn_blocking(move || {
                    let (files, len) = registry.write_snapshot(|out| content.write_text(out), &signed)?;
                    Ok::<_, crate::registry::RegistryError>((Some(files), Some(len)))
                })
                .await
                .map_err(join_error)
                .and_then(|written| written.map_err(CoordinatorError::from))
            }
            (true, None) => Err(CoordinatorError::Internal(format!("{zone}: a snapshot without the signed text"))),
            (false, _) => Ok((previous_record.and_then(|r| r.snapshot_files.clone()), None)),
        };
        let (unsigned_changes, snapshot_files, texts_len) = match unsigned_changes.and_then(|u| written.map(|(f, l)| (u, f, l))) {
            Ok(written) => written,
            Err(e) => {
                // The published model goes back to the version the registry holds.
                if let Some(undo) = undo {
                    shared.write().unwrap_or_else(|e| e.into_inner()).apply_patch(undo);
                }
                return Err(e);
            }
        };
        let entry_len = changes_text.as_ref().map_or(0, String::len) + unsigned_changes.as_ref().map_or(0, String::len);
        let (snapshot_bytes, journal_bytes) = stored_sizes(previous_record, texts_len, entry_len as u64);
        let state = ZoneStateRecord {
            version: RECORD_VERSION,
            zone: zone.clone(),
            serial: next.serial,
            input_serial: next.input_serial,
            request_id: request_id.clone(),
            published_unix: c.pipeline.clock.now(),
            signatures,
            signatures_made: made as u64,
            signatures_kept: kept,
            settings: settings.stored(),
            key_tags,
            journal_next: position.journal_next,
            snapshot_next: Some(position.snapshot_next),
            key_set: Some(key_set),
            snapshot_bytes,
            journal_bytes,
            snapshot_files,
        };
        let summary = report.summary();
        // Nothing goes out before the registry holds the version whole.
        let stored = c
            .registry
            .publish_zone(&Publication {
                state: &state,
                snapshot,
                changes: changes_text.as_deref(),
                unsigned_changes: unsigned_changes.as_deref(),
                journal_limit: c.pipeline.journal_limit(),
            })
            .await;
        if let Err(e) = stored {
            if let Some(undo) = undo {
                shared.write().unwrap_or_else(|e| e.into_inner()).apply_patch(undo);
            }
            return Err(e.into());
        }
        self.stored.store(true, std::sync::atomic::Ordering::SeqCst);
        self.stages.mark("registry");
        let r = live.finish(RequestPhase::Published).await?;
        c.audit(AuditEntry {
            event: "published".into(),
            request: request_id.clone(),
            zone: zone.clone(),
            content_hash: r.content_hash.clone(),
            operator: operator.to_string(),
            signers: r.signers.clone(),
            culprits: r.culprits.clone(),
            outcome: format!("validated, serial {}, {made} signatures made, {kept} kept, {published}", next.serial),
            ..AuditEntry::default()
        }).await?;
        let health_now = c.pipeline.clock.now();
        let at = |t: u32| rrsig_time_to_unix(t, health_now);
        self.lane.update_health(|h| {
            *h = super::ZoneHealth { next_refresh: next_due.map(at), earliest_expiration: first_expiration.map(at), ..Default::default() };
        });
        self.lane.wake.notify_one();
        self.stages.mark("live, audit");
        self.outputs(next.serial, &text, changes_text.as_deref(), changes, &shared).await;
        self.stages.mark("outputs");
        let version = Arc::new(Version { record: state, unsigned: next.content, zone: shared, known, next_due, first_expiration });
        let signed = PublishedVersion {
            signed_text: text,
            published,
            summary,
            request_id,
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
        text: &Option<Arc<ZoneText>>,
        changes_text: Option<&str>,
        changes: Option<ChangeSet>,
        zone: &SharedZone,
    ) {
        let c = self.c;
        if let Some(config) = c.pipeline.config(&self.zone).cloned() {
            let from = self.current.as_ref().map(|v| v.record.serial);
            let (text, changes) = (text.clone(), changes_text.map(str::to_string));
            let written = tokio::task::spawn_blocking(move || {
                let file = write_outputs(&config, serial, text.as_deref(), from.zip(changes.as_deref()));
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
            // A change set is applied to the version served; the whole zone
            // is served only for a whole version or when that fails.
            if let Some(set) = changes {
                match server.publish_changes(self.apex.clone(), set).await {
                    Ok(_) => return,
                    Err(e) => tracing::error!("{}: serving serial {serial} by its change set failed ({e}); serving it whole", self.zone),
                }
            }
            let (shared, name) = (zone.clone(), self.zone.clone());
            let records = match tokio::task::spawn_blocking(move || {
                crate::xfr::content_records(&ZoneContent::from_zone(&read_zone(&shared), std::path::Path::new(&name)))
            })
            .await
            {
                Ok(records) => records,
                Err(e) => {
                    tracing::error!("{}: serial {serial} is not served to the secondaries: {}", self.zone, join_error(e));
                    return;
                }
            };
            if let Err(e) = server.publish(self.apex.clone(), records).await {
                tracing::error!("{}: serial {serial} is not served to the secondaries: {e}", self.zone);
            }
        }
    }
}

/// The next version and its plan and proposals (CPU work: runs on the
/// blocking pool). A change set to a published version with the same keys
/// and denial, when no signature is due, patches the published zone
/// ([`frostzone_dnssec::signing::incremental`]); everything else signs the whole version.
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
    refresh: &frostzone_dnssec::signing::refresh::RefreshPolicy,
    stages: &Stages,
) -> Result<Planned, CoordinatorError> {
    let at = current.map(|v| Current { content: &v.unsigned, serial: v.record.serial, input_serial: v.record.input_serial });
    let next = next_version(apex, zone, at, input, serial_policy, now)?;
    stages.mark("next version");
    for w in &next.warnings {
        tracing::warn!("{zone}: {w}");
    }
    let keys: Vec<_> = groups.iter().map(|g| g.key.clone()).collect();
    let refused = |e: SigningError| match e {
        SigningError::DuplicateKeyTag { .. } | SigningError::MissingRole(_) => CoordinatorError::FailedPrecondition(format!("{zone}: {e}")),
        other => CoordinatorError::InvalidArgument(format!("{zone}: {other}")),
    };
    // A change set is a patch of the names it touches, a refresh of none
    // (next_version); both patch the names with due signatures too.
    let patched = match (current, next.touched.as_deref()) {
        (Some(v), Some(touched)) if !full => {
            let due = if v.refresh_due(now as u32) {
                let published = read_zone(&v.zone);
                let due = refresh.due_owners(&published, now as u32);
                // Past half the zone, signing it whole costs no more.
                (due.len() <= published.node_count() / 2).then_some(due)
            } else {
                Some(Vec::new())
            };
            stages.mark("due signatures");
            match due {
                Some(due) => prepare_update(v.zone.clone(), v.record.signatures as usize, &next.content, touched, &due, &keys, policy, now as u32, refresh)
                    .map_err(refused)?,
                None => None,
            }
        }
        _ => None,
    };
    let plan = match patched {
        Some(plan) => plan,
        None => {
            let unsigned = next.content.to_zone(InputKind::Unsigned).map_err(|e| CoordinatorError::InvalidArgument(e.to_string()))?;
            for w in &unsigned.warnings {
                tracing::warn!("{zone}: {w}");
            }
            stages.mark("zone model");
            let previous = match current {
                Some(v) if !full => PreviousSignatures::from_zone(&read_zone(&v.zone)),
                _ => PreviousSignatures::default(),
            };
            SigningPlan::prepare_incremental(unsigned, &keys, policy, now as u32, &previous, refresh).map_err(refused)?
        }
    };
    stages.mark("plan");
    let plan = Arc::new(plan);
    let set = Arc::new(ProposalSet::build(&plan, current.map(|v| (&v.zone, v.record.request_id.as_str()))));
    stages.mark("proposals");
    Ok(Planned { next, plan, set })
}
