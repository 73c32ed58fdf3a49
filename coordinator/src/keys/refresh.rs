//! Share refresh (issue 12; frost `keys::refresh`, the DKG form): every
//! holder's share of a key changes while the group key, its DNSKEY and t
//! stay. A share an attacker stole before the refresh no longer combines
//! with shares taken after it.
//!
//! ```text
//!  ceremony approved by every holder ──► refresh DKG (relayed, as a new key's)
//!      ──► every holder keeps its refreshed share aside and signs the new
//!          public key package (RefreshDone)
//!      ──► registry: pending_refresh (package + every confirmation)
//!      ──► CommitRefresh to every holder (each checks every confirmation
//!          against its roster, then swaps its share and deletes the old)
//!      ──► registry: the new package, refreshed_unix
//! ```
//!
//! A refresh needs every holder: a member left out would keep a share of
//! the old generation, which combines with one stolen old share. The zone
//! signs on while the holders approve; its lane is held from the DKG to the
//! commit, so no signing runs while shares change generation. A coordinator that stops after the confirmations finishes
//! the commit the next time the zone's schedule runs or a refresh is asked
//! for ([`resume`]); signers answer a repeated commit with the same
//! decision.

use std::sync::Arc;

use frostzone_proto::audit::AuditEntry;
use frostzone_proto::v1 as pb;
use frostzone_proto::API_VERSION;

use crate::error::CoordinatorError;
use crate::keys::ceremony::{existing_key_ceremony, seek, Decided};
use crate::keys::dkg::{all_ok, check_package, relay_dkg};
use crate::keys::{key_group_info, zone_name, KeyGroup};
use crate::registry::{KeyGroupRecord, PendingRefresh};
use crate::signers::{fan_out, SignerHandle};
use crate::Coordinator;

/// Who scheduled refreshes are proposed by, in the audit log.
pub const SHARE_REFRESH_OPERATOR: &str = "share refresh schedule";

/// RefreshShares (see the module documentation).
pub async fn refresh_shares(
    c: &Coordinator,
    zone: &str,
    key_tag: u32,
    operator: &str,
    timeout: std::time::Duration,
) -> Result<pb::RefreshSharesResponse, CoordinatorError> {
    let (apex, zone) = zone_name(zone)?;
    let tag = u16::try_from(key_tag).map_err(|_| CoordinatorError::InvalidArgument(format!("key tag {key_tag} is not 16 bits")))?;
    let lane = c.pipeline.lane(&zone);
    let find = || -> Result<KeyGroupRecord, CoordinatorError> {
        c.registry
            .key_groups(Some(&zone))?
            .into_iter()
            .find(|g| g.key_tag == tag)
            .ok_or_else(|| CoordinatorError::NotFound(format!("{zone} has no key with tag {tag} in this coordinator's registry")))
    };
    let record = find()?;
    let group = KeyGroup::from_record(record.clone())?;
    let holders = holders(c, &record)?;
    if record.pending_refresh.is_some() {
        let _signing_paused = lane.version.lock().await;
        let record = find()?;
        let Some(pending) = record.pending_refresh.clone() else {
            return Err(CoordinatorError::FailedPrecondition(format!("the interrupted refresh of key tag {tag} of {zone} was finished meanwhile")));
        };
        let (record, signers) = commit(c, record, &pending, &holders, operator).await?;
        return Ok(pb::RefreshSharesResponse { request_id: pending.request_id, key: Some(key_group_info(&record, &group.key, &apex)), signers, resumed: true });
    }
    if record.retired_unix.is_some() {
        return Err(CoordinatorError::FailedPrecondition(format!(
            "key tag {tag} of {zone} is retired: remove its shares (`frostzone keys remove`) rather than refresh them"
        )));
    }
    let ceremony = existing_key_ceremony(pb::CeremonyKind::Refresh, &group, &holders);
    // The approvals may take an operator's hour: the zone signs meanwhile.
    let Decided { request_id, .. } = seek(c, ceremony.clone(), &holders, true, operator, timeout).await?;
    // Shares change generation from here to the commit: nothing signs.
    let _signing_paused = lane.version.lock().await;
    let record = find()?;
    if record.pending_refresh.is_some() || record.public_key_package != group.record.public_key_package {
        return Err(CoordinatorError::FailedPrecondition(format!(
            "key tag {tag} of {zone} was refreshed by another request meanwhile; run `frostzone keys refresh` again if need be"
        )));
    }
    let finished = relay_dkg(&holders, &ceremony, &request_id, &[]).await?;
    let pending = agree(&group, &holders, &finished, &request_id)?;
    let mut staged = record.clone();
    staged.pending_refresh = Some(pending.clone());
    c.registry.put_key_group(&staged).await?;
    let (record, signers) = commit(c, staged, &pending, &holders, operator).await?;
    Ok(pb::RefreshSharesResponse { request_id, key: Some(key_group_info(&record, &group.key, &apex)), signers, resumed: false })
}

/// The configured signers holding shares of `record`: all of them, or an
/// error naming those this coordinator cannot ask.
fn holders(c: &Coordinator, record: &KeyGroupRecord) -> Result<Vec<SignerHandle>, CoordinatorError> {
    let missing: Vec<&str> = record.signers.iter().filter(|n| c.signers.get(n).is_none()).map(String::as_str).collect();
    if !missing.is_empty() {
        return Err(CoordinatorError::FailedPrecondition(format!(
            "key tag {} of {} has holders not in this coordinator's [[signers]] ({}): a refresh needs every holder",
            record.key_tag,
            record.zone,
            missing.join(", ")
        )));
    }
    Ok(c.signers.all().iter().filter(|s| record.signers.iter().any(|n| n == s.name())).cloned().collect())
}

/// Every holder must have derived the same public key package, of the
/// same group key, t and holders, and confirmed it.
fn agree(group: &KeyGroup, holders: &[SignerHandle], finished: &[pb::DkgFinishResponse], request_id: &str) -> Result<PendingRefresh, CoordinatorError> {
    let (Some(first), Some(reference)) = (finished.first(), holders.first()) else {
        return Err(CoordinatorError::Internal("a key without holders".into()));
    };
    let mut confirmations = Vec::with_capacity(holders.len());
    for (s, f) in holders.iter().zip(finished) {
        if f.public_key_package != first.public_key_package {
            return Err(CoordinatorError::Disagreement(format!(
                "share refresh: {} derived another public key package than {}",
                s.name(),
                reference.name()
            )));
        }
        if f.refresh_confirmation.is_empty() {
            return Err(CoordinatorError::Disagreement(format!("share refresh: {} sent no confirmation", s.name())));
        }
        confirmations.push((s.name().to_string(), hex::encode(&f.refresh_confirmation)));
    }
    let result = check_package(&first.public_key_package, &first.group_public_key, reference.name())?;
    let unchanged = result.public.verifying_key() == group.public.verifying_key()
        && result.public.min_signers() == group.public.min_signers()
        && result.public.verifying_shares().keys().eq(group.public.verifying_shares().keys());
    if !unchanged {
        return Err(CoordinatorError::Disagreement(format!(
            "share refresh {request_id}: the refreshed package is not of key tag {} with the same t and holders",
            group.record.key_tag
        )));
    }
    Ok(PendingRefresh { request_id: request_id.to_string(), public_key_package: hex::encode(result.package), confirmations })
}

/// Sends the commit with every confirmation to every holder, then records
/// the refreshed package; the key group record as stored and the signers
/// whose shares changed.
async fn commit(
    c: &Coordinator,
    mut record: KeyGroupRecord,
    pending: &PendingRefresh,
    holders: &[SignerHandle],
    operator: &str,
) -> Result<(KeyGroupRecord, Vec<String>), CoordinatorError> {
    let package = hex::decode(&pending.public_key_package)
        .map_err(|_| CoordinatorError::Internal(format!("pending refresh of key tag {}: package is not hex", record.key_tag)))?;
    let mut confirmations = Vec::with_capacity(pending.confirmations.len());
    for (name, signature) in &pending.confirmations {
        let signer = holders.iter().find(|s| s.name() == name).ok_or_else(|| {
            CoordinatorError::FailedPrecondition(format!("pending refresh {}: {name} is no longer configured", pending.request_id))
        })?;
        let signature = hex::decode(signature)
            .map_err(|_| CoordinatorError::Internal(format!("pending refresh {}: confirmation of {name} is not hex", pending.request_id)))?;
        confirmations.push(pb::RefreshConfirmation { from: Some(signer.participant_id()), signature });
    }
    let request = pb::CommitRefreshRequest {
        api_version: API_VERSION,
        request_id: pending.request_id.clone(),
        public_key_package: package,
        confirmations,
    };
    all_ok(
        "share refresh commit",
        fan_out(holders, |s| {
            let r = request.clone();
            async move { s.commit_refresh(r).await }
        })
        .await,
    )?;
    record.public_key_package = pending.public_key_package.clone();
    record.refreshed_unix = Some(c.pipeline.clock.now());
    record.pending_refresh = None;
    KeyGroup::from_record(record.clone())?;
    c.registry.put_key_group(&record).await?;
    let signers: Vec<String> = holders.iter().map(|s| s.name().to_string()).collect();
    let outcome = format!("every share of key tag {} refreshed; the group key and DNSKEY are unchanged", record.key_tag);
    tracing::info!(request = %pending.request_id, "{}: {outcome}", record.zone);
    c.audit(AuditEntry {
        event: "shares-refreshed".into(),
        request: pending.request_id.clone(),
        zone: record.zone.clone(),
        operator: operator.to_string(),
        signers: signers.clone(),
        outcome,
        ..AuditEntry::default()
    })
    .await?;
    Ok((record, signers))
}

/// The zone's share refreshes that are due: an interrupted commit is
/// finished, and each key not retired whose shares are older than the
/// policy's `share_refresh_interval` is refreshed. Returns when the next
/// one is due.
pub async fn scheduled(c: &Arc<Coordinator>, zone: &str) -> Result<Option<u64>, CoordinatorError> {
    let interval = crate::pipeline::rollovers::policy(c, zone).share_refresh_interval;
    let mut next: Option<u64> = None;
    for record in c.registry.key_groups(Some(zone))? {
        let pending = record.pending_refresh.is_some();
        if record.retired_unix.is_some() && !pending {
            continue;
        }
        if interval == 0 && !pending {
            continue;
        }
        let due = record.refreshed_unix.unwrap_or(record.created_unix).saturating_add(interval);
        if pending || due <= c.pipeline.clock.now() {
            let done = refresh_shares(c, zone, record.key_tag.into(), SHARE_REFRESH_OPERATOR, c.approval_timeout).await?;
            tracing::info!(request = %done.request_id, "{zone}: scheduled share refresh of key tag {} done", record.key_tag);
            if interval > 0 {
                let at = c.pipeline.clock.now().saturating_add(interval);
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        } else {
            next = Some(next.map_or(due, |n| n.min(due)));
        }
    }
    Ok(next)
}
