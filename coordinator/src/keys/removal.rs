//! Key removal: every signer holding a share of a key deletes it once it
//! approved the removal ceremony ([`crate::keys::ceremony`]), by its policy or
//! through its operator. A key still in the zone's published DNSKEY RRset
//! is refused here and by every signer: its shares are what signs the
//! zone until it has been rolled out. The key group leaves the registry
//! once no signer holds a share of it any more.

use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_dnssec::domain::rdata::ZoneRecordData;
use frostzone_proto::audit::AuditEntry;
use frostzone_proto::v1 as pb;

use crate::keys::ceremony::seek;
use crate::error::CoordinatorError;
use crate::keys::{role_from_record, role_to_proto, zone_name};
use crate::signers::{describe, fan_out, SignerHandle};
use crate::Coordinator;

/// RemoveKey (see the module documentation).
pub async fn remove_key(
    c: &Coordinator,
    zone: &str,
    key_tag: u32,
    operator: &str,
    timeout: std::time::Duration,
) -> Result<pb::RemoveKeyResponse, CoordinatorError> {
    let (apex, zone) = zone_name(zone)?;
    let tag = u16::try_from(key_tag).map_err(|_| CoordinatorError::InvalidArgument(format!("key tag {key_tag} is not 16 bits")))?;
    if let Some((_, _, published)) = crate::pipeline::read_published(&c.registry, &zone, &apex)? {
        let keys = published.node(&apex).and_then(|n| n.get(Rtype::DNSKEY));
        let listed = keys.is_some_and(|set| set.rdata.iter().any(|r| matches!(&r.data(), ZoneRecordData::Dnskey(k) if k.key_tag() == tag)));
        if listed {
            return Err(CoordinatorError::FailedPrecondition(format!(
                "key tag {tag} is in the published DNSKEY RRset of {zone}: publish a version without it (roll it out) before its shares are removed"
            )));
        }
    }
    let group = c.registry.key_groups(Some(&zone))?.into_iter().find(|g| g.key_tag == tag);
    // The holders the registry knows, or every signer for a key it does
    // not (shares left by a DKG whose key was never registered).
    let holders: Vec<SignerHandle> = match &group {
        Some(g) => c.signers.all().iter().filter(|s| g.signers.iter().any(|n| n == s.name())).cloned().collect(),
        None => c.signers.all().to_vec(),
    };
    let mut kept: Vec<String> = match &group {
        Some(g) => g
            .signers
            .iter()
            .filter(|n| c.signers.get(n).is_none())
            .map(|n| format!("{n}: not in this coordinator's [[signers]], cannot be asked"))
            .collect(),
        None => Vec::new(),
    };
    let ceremony = pb::KeyCeremony {
        kind: pb::CeremonyKind::Remove.into(),
        zone: zone.clone(),
        role: group.as_ref().and_then(|g| role_from_record(&g.role)).map(|r| role_to_proto(r).into()).unwrap_or_default(),
        key_tag: tag.into(),
        group_public_key: group.as_ref().and_then(|g| hex::decode(&g.group_public_key).ok()).unwrap_or_default(),
        ..pb::KeyCeremony::default()
    };
    let decided = seek(c, ceremony, &holders, false, operator, timeout).await?;
    let approvers: Vec<SignerHandle> = decided.approvers(&holders).into_iter().cloned().collect();
    let results = fan_out(&approvers, |s| {
        let id = decided.request_id.clone();
        async move { s.remove_share(&id).await }
    })
    .await;
    let mut removed = Vec::new();
    for (signer, result) in approvers.iter().zip(results) {
        match result {
            Ok(_) => removed.push(signer.name().to_string()),
            Err(e) => kept.push(format!("{}: {}", signer.name(), describe(&e.status))),
        }
    }
    for s in &holders {
        let d = decided.decisions.get(s.name()).cloned().unwrap_or_default();
        if !d.state.approves() {
            let why = if d.reason.is_empty() { d.state.to_string() } else { format!("{}: {}", d.state, d.reason) };
            kept.push(format!("{}: {why}", s.name()));
        }
    }
    let unregistered = kept.is_empty() && group.is_some() && c.registry.remove_key_group(&zone, tag).await?;
    let outcome = format!(
        "key tag {tag}: shares removed by {}; kept by {}{}",
        if removed.is_empty() { "none".to_string() } else { removed.join(", ") },
        if kept.is_empty() { "none".to_string() } else { kept.join("; ") },
        if unregistered { "; key group unregistered" } else { "" }
    );
    tracing::info!(request = %decided.request_id, "{zone}: {outcome}");
    c.audit(AuditEntry {
        event: "key-removal".into(),
        request: decided.request_id.clone(),
        zone: zone.clone(),
        operator: operator.to_string(),
        signers: removed.clone(),
        outcome,
        ..AuditEntry::default()
    }).await?;
    Ok(pb::RemoveKeyResponse { removed, kept, unregistered, request_id: decided.request_id })
}
