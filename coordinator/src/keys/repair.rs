//! Share repair (issue 12; frost `keys::repairable`, the repairable
//! threshold scheme): a holder that lost its share of a key (a store
//! restored from a backup older than the key, a share removed by mistake)
//! gets it back from t other holders, the helpers, while the key, its
//! DNSKEY and every other share stay as they are.
//!
//! ```text
//!  ceremony approved by the helpers and the repaired signer
//!    ──► RepairBegin (all: one-time keys, signed) ──► RepairDeltas (helpers: deltas sealed per helper)
//!    ──► RepairSigma (helpers: sigma sealed for the repaired signer, package signed)
//!    ──► RepairFinish (the repaired signer: share rebuilt, checked against its verifying share, stored)
//! ```
//!
//! A configured signer that never held a share of the key (a new member
//! of every roster, at the same t) joins the same way, with every holder
//! helping: each adds the newcomer's verifying share, interpolated from
//! theirs (`frostzone_threshold::joined_public_key_package`), to its
//! public key package, and so does the registry.
//!
//! The coordinator picks the first t reachable other holders that still
//! hold their share (by their health answers), relays
//! envelopes it cannot open, and checks that every helper holds the
//! registry's public key package. It learns no share: each delta is
//! uniformly random, and deltas and sigmas are sealed between signers
//! under one-time keys their identity keys signed. The repaired signer
//! keeps the share only if it matches its verifying share in the package
//! every helper signed.

use std::collections::{BTreeMap, BTreeSet};

use frostzone_proto::audit::AuditEntry;
use frostzone_proto::v1 as pb;
use frostzone_proto::API_VERSION;

use crate::error::CoordinatorError;
use crate::keys::ceremony::{existing_key_ceremony, seek, Decided};
use crate::keys::dkg::all_ok;
use crate::keys::{key_group_info, zone_name, KeyGroup};
use crate::signers::{describe, fan_out, SignerHandle};
use crate::Coordinator;

/// RepairShare (see the module documentation).
pub async fn repair_share(
    c: &Coordinator,
    zone: &str,
    key_tag: u32,
    signer: &str,
    operator: &str,
    timeout: std::time::Duration,
) -> Result<pb::RepairShareResponse, CoordinatorError> {
    let (apex, zone) = zone_name(zone)?;
    let tag = u16::try_from(key_tag).map_err(|_| CoordinatorError::InvalidArgument(format!("key tag {key_tag} is not 16 bits")))?;
    let record = c
        .registry
        .key_groups(Some(&zone))?
        .into_iter()
        .find(|g| g.key_tag == tag)
        .ok_or_else(|| CoordinatorError::NotFound(format!("{zone} has no key with tag {tag} in this coordinator's registry")))?;
    if record.pending_refresh.is_some() {
        return Err(CoordinatorError::FailedPrecondition(format!(
            "key tag {tag} of {zone} has a share refresh to finish first (`frostzone keys refresh --zone {zone} --key-tag {tag}`)"
        )));
    }
    let group = KeyGroup::from_record(record.clone())?;
    let repaired = c
        .signers
        .get(signer)
        .cloned()
        .ok_or_else(|| CoordinatorError::InvalidArgument(format!("signer: {signer} is not in this coordinator's [[signers]]")))?;
    // A configured signer that never held a share joins; every holder helps.
    let joins = !record.signers.iter().any(|n| n == repaired.name());
    let needed = if joins { record.signers.len() } else { usize::from(record.threshold) };
    let helpers = pick_helpers(c, &record.signers, &repaired, &zone, tag, needed).await?;
    let expected = if joins {
        let from = helpers.iter().map(|s| s.identifier).collect();
        frostzone_threshold::joined_public_key_package(&group.public, &from, repaired.identifier)
            .map_err(|e| CoordinatorError::FailedPrecondition(format!("{} cannot join key tag {tag} of {zone}: {e}", repaired.name())))?
    } else {
        group.public.clone()
    };
    let ceremony = pb::KeyCeremony {
        repaired: Some(repaired.participant_id()),
        ..existing_key_ceremony(pb::CeremonyKind::Repair, &group, &helpers)
    };
    let mut everyone = helpers.clone();
    everyone.push(repaired.clone());
    let Decided { request_id, .. } = seek(c, ceremony, &everyone, true, operator, timeout).await?;
    let package = expected.serialize().map_err(|e| CoordinatorError::Internal(format!("key tag {tag}: package: {e}")))?;
    relay(&helpers, &repaired, &request_id, &package, tag).await?;
    let record = if !joins {
        record
    } else {
        // Under the lane, against the record as it is now (a refresh may
        // have run meanwhile: then the newcomer's share is of the old
        // generation, and it must be repaired again).
        let lane = c.pipeline.lane(&zone);
        let _signing_paused = lane.version.lock().await;
        let mut record = c.registry.key_groups(Some(&zone))?.into_iter().find(|g| g.key_tag == tag).ok_or_else(|| {
            CoordinatorError::NotFound(format!("key tag {tag} of {zone} left the registry during the join"))
        })?;
        if record.public_key_package != group.record.public_key_package {
            return Err(CoordinatorError::FailedPrecondition(format!(
                "key tag {tag} of {zone} changed (refreshed?) during {}'s join: run the repair again",
                repaired.name()
            )));
        }
        let mut holders: Vec<(u16, String)> = record.participants.iter().copied().zip(record.signers.iter().cloned()).collect();
        holders.push((repaired.config.participant, repaired.name().to_string()));
        holders.sort();
        record.participants = holders.iter().map(|h| h.0).collect();
        record.signers = holders.into_iter().map(|h| h.1).collect();
        record.public_key_package = hex::encode(&package);
        KeyGroup::from_record(record.clone())?;
        c.registry.put_key_group(&record).await?;
        record
    };
    let names: Vec<String> = helpers.iter().map(|s| s.name().to_string()).collect();
    let how = if joins { "made (it joined the key)" } else { "repaired" };
    let outcome = format!("{}'s share of key tag {tag} {how} by {}; the key is unchanged", repaired.name(), names.join(", "));
    tracing::info!(request = %request_id, "{zone}: {outcome}");
    c.audit(AuditEntry {
        event: "share-repaired".into(),
        request: request_id.clone(),
        zone: zone.clone(),
        operator: operator.to_string(),
        signers: everyone.iter().map(|s| s.name().to_string()).collect(),
        outcome,
        ..AuditEntry::default()
    })
    .await?;
    Ok(pb::RepairShareResponse { request_id, helpers: names, key: Some(key_group_info(&record, &group.key, &apex)), joined: joins })
}

/// Whether a signer's health answer lists its share of `tag` in `zone`.
fn holds(health: &pb::HealthResponse, zone: &str, tag: u16) -> bool {
    health.keys.iter().any(|k| k.zone == zone && k.key_tag == u32::from(tag))
}

/// The first `t` other holders that answer a health check and still hold
/// their share, in configuration order; an error if the repaired signer
/// says it holds one already.
async fn pick_helpers(c: &Coordinator, holders: &[String], repaired: &SignerHandle, zone: &str, tag: u16, t: usize) -> Result<Vec<SignerHandle>, CoordinatorError> {
    if let Ok(h) = repaired.health().await {
        if holds(&h, zone, tag) {
            return Err(CoordinatorError::FailedPrecondition(format!(
                "{} holds a share of key tag {tag} of {zone} already: nothing to repair",
                repaired.name()
            )));
        }
    }
    let others: Vec<SignerHandle> =
        c.signers.all().iter().filter(|s| s.name() != repaired.name() && holders.iter().any(|n| n == s.name())).cloned().collect();
    let health = fan_out(&others, |s| async move { s.health().await }).await;
    let mut helpers = Vec::new();
    let mut unable = Vec::new();
    for (s, h) in others.iter().zip(health) {
        match h {
            Ok(h) if !holds(&h, zone, tag) => unable.push(format!("{}: holds no share of it", s.name())),
            Ok(_) if helpers.len() < t => helpers.push(s.clone()),
            Ok(_) => {}
            Err(e) => unable.push(format!("{}: {}", s.name(), describe(&e.status))),
        }
    }
    if helpers.len() < t {
        return Err(CoordinatorError::Unavailable(format!(
            "a repair needs {t} other holders to help, {} can ({})",
            helpers.len(),
            unable.join("; ")
        )));
    }
    Ok(helpers)
}

/// The four relayed steps; checks what is routed and that every helper
/// signs `package` (the registry's, or for a join the registry's with the
/// newcomer's verifying share).
async fn relay(helpers: &[SignerHandle], repaired: &SignerHandle, request_id: &str, package: &[u8], tag: u16) -> Result<(), CoordinatorError> {
    let session_id = crate::request::random_id();
    let mut everyone = helpers.to_vec();
    everyone.push(repaired.clone());
    let begin = pb::RepairBeginRequest { api_version: API_VERSION, request_id: request_id.to_string(), session_id: session_id.clone() };
    let keys = all_ok(
        "share repair",
        fan_out(&everyone, |s| {
            let r = begin.clone();
            async move { s.repair_begin(r).await }
        })
        .await,
    )?;
    let entries: Vec<pb::RepairKeyEntry> = everyone
        .iter()
        .zip(keys)
        .map(|(s, k)| pb::RepairKeyEntry { from: Some(s.participant_id()), encryption_key: k.encryption_key, signature: k.signature })
        .collect();
    let deltas = all_ok(
        "share repair deltas",
        fan_out(helpers, |s| {
            let keys = entries.iter().filter(|e| !s.is(e.from.as_ref())).cloned().collect();
            let r = pb::RepairDeltasRequest { api_version: API_VERSION, session_id: session_id.clone(), keys };
            async move { s.repair_deltas(r).await }
        })
        .await,
    )?;
    let mut inbox: BTreeMap<String, Vec<pb::EncryptedPackage>> = BTreeMap::new();
    for (sender, response) in helpers.iter().zip(&deltas) {
        let mut addressed = BTreeSet::new();
        for d in &response.deltas {
            match helpers.iter().find(|h| h.is(d.to.as_ref())) {
                Some(to) if sender.is(d.from.as_ref()) && to.name() != sender.name() && addressed.insert(to.name()) => {
                    inbox.entry(to.name().to_string()).or_default().push(d.clone());
                }
                _ => return Err(CoordinatorError::Disagreement(format!("share repair: {} sent a delta with a wrong sender or recipient", sender.name()))),
            }
        }
        if addressed.len() + 1 != helpers.len() {
            return Err(CoordinatorError::Disagreement(format!("share repair: {} sent {} deltas for {} other helpers", sender.name(), addressed.len(), helpers.len() - 1)));
        }
    }
    let sigmas = all_ok(
        "share repair sigma",
        fan_out(helpers, |s| {
            let r = pb::RepairSigmaRequest { api_version: API_VERSION, session_id: session_id.clone(), deltas: inbox.get(s.name()).cloned().unwrap_or_default() };
            async move { s.repair_sigma(r).await }
        })
        .await,
    )?;
    let mut entries_for_repaired = Vec::with_capacity(helpers.len());
    for (s, r) in helpers.iter().zip(sigmas) {
        if r.public_key_package != package {
            return Err(CoordinatorError::Disagreement(format!("share repair: {} signs another public key package of key tag {tag} than the registry's", s.name())));
        }
        let sigma = r.sigma.filter(|p| s.is(p.from.as_ref()) && repaired.is(p.to.as_ref())).ok_or_else(|| {
            CoordinatorError::Disagreement(format!("share repair: {} sent a sigma with a wrong sender or recipient", s.name()))
        })?;
        entries_for_repaired.push(pb::RepairSigmaEntry { from: Some(s.participant_id()), ciphertext: sigma.ciphertext, package_signature: r.package_signature });
    }
    let finish = pb::RepairFinishRequest {
        api_version: API_VERSION,
        session_id,
        keys: entries.into_iter().filter(|e| !repaired.is(e.from.as_ref())).collect(),
        sigmas: entries_for_repaired,
        public_key_package: package.to_vec(),
    };
    let done = repaired.repair_finish(finish).await.map_err(|source| CoordinatorError::SignerNeeded { operation: "share repair finish", source })?;
    if done.key_tag != u32::from(tag) {
        return Err(CoordinatorError::Disagreement(format!("share repair: {} reports key tag {}, not {tag}", repaired.name(), done.key_tag)));
    }
    Ok(())
}
