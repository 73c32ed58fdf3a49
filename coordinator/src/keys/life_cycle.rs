//! Key rollovers as operators ask for them: `keys rollover` (start one
//! with a standby key), `keys ds-seen` (the parent shows the new DS) and
//! `keys status` (every key's state, each rollover's next action, when it
//! is due and what it waits for). The steps themselves are taken by
//! [`crate::pipeline::rollovers`].

use std::collections::BTreeSet;
use std::sync::Arc;

use frostzone_proto::v1 as pb;

use crate::error::CoordinatorError;
use crate::keys::rollover::key_use::{key_role, roll_role};
use crate::keys::rollover::phases::{ParentView, Phase, RollRole, Rollover, Waiting};
use crate::keys::{role_from_proto, role_to_proto, zone_keys, zone_name, KeyGroup};
use crate::pipeline::input::{Input, Submission};
use crate::keys::rollover::lifetime::{lifetime_action, LifetimeAction};
use crate::pipeline::rollovers::{policy, standby_keys, timings, ROLLOVER_OPERATOR};
use crate::pipeline::key_steps::published_key_set;
use crate::pipeline::Version;
use crate::keys::rollover::views::KeySet;
use crate::registry::{KeyGroupRecord, RegistryError};
use crate::Coordinator;

async fn published_version(c: &Coordinator, zone: &str) -> Result<Option<Arc<Version>>, CoordinatorError> {
    let (apex, zone) = zone_name(zone)?;
    let lane = c.pipeline.lane(&zone);
    let mut slot = lane.version.lock().await;
    crate::pipeline::loaded(c, &mut slot, &zone, &apex).await
}

/// StartRollover: publishes the incoming key (the rollover's first step,
/// approved by the signers like any signing request) and records the
/// rollover; the schedule takes the later steps.
pub async fn start_rollover(c: &Arc<Coordinator>, r: pb::StartRolloverRequest, operator: &str) -> Result<pb::KeyStatusResponse, CoordinatorError> {
    let (_, zone) = zone_name(&r.zone)?;
    let role = roll_role(role_from_proto(r.role)?);
    let key_tag = match r.key_tag {
        0 => None,
        t => Some(u16::try_from(t).map_err(|_| CoordinatorError::InvalidArgument(format!("key_tag {t}: not a key tag")))?),
    };
    begin_rollover(c, &zone, role, key_tag, operator, r.approval_timeout_secs).await?;
    c.pipeline.wake(&zone);
    key_status(c, &zone).await
}

/// Starts a rollover of `role` in `zone` with the standby `key_tag` (or
/// the one standby of the role): its first step published and recorded.
async fn begin_rollover(c: &Arc<Coordinator>, zone: &str, role: RollRole, key_tag: Option<u16>, operator: &str, approval_timeout_secs: u32) -> Result<(), CoordinatorError> {
    let zone = zone.to_string();
    let version = published_version(c, &zone)
        .await?
        .ok_or_else(|| CoordinatorError::FailedPrecondition(format!("zone {zone}: nothing is published yet; sign the zone before rolling its keys")))?;
    let rollovers = c.registry.rollovers(&zone)?;
    if let Some(running) = rollovers.iter().find(|x| x.role == role && !x.is_done()) {
        return Err(RegistryError::RolloverRunning { zone: zone.clone(), role: role.to_string(), keys: format!("key tag {} to {}", running.old, running.new) }.into());
    }
    let published = published_key_set(&version.record);
    let keys = zone_keys(&c.registry, &zone, Some(&published.dnskey), &rollovers)?;
    let of_role = |g: &&Arc<KeyGroup>| g.key.role == key_role(role);
    let old: Vec<u16> = keys.groups.iter().filter(of_role).map(|g| g.record.key_tag).collect();
    let [old] = old[..] else {
        return Err(CoordinatorError::FailedPrecondition(format!(
            "zone {zone} publishes {} {role}s ({old:?}): a rollover replaces exactly one",
            old.len()
        )));
    };
    let standby = standby_keys(c, &zone, role, Some(&version))?;
    let new = match key_tag {
        None => match standby.iter().copied().collect::<Vec<_>>()[..] {
            [one] => one,
            [] => {
                return Err(CoordinatorError::FailedPrecondition(format!(
                    "zone {zone} has no standby {role}: run `frostzone keys generate --zone {zone} --role {}` first \
                     (a key made while the zone has a {role} is held back until a rollover publishes it)",
                    role.to_string().to_lowercase()
                )))
            }
            _ => return Err(CoordinatorError::FailedPrecondition(format!("zone {zone} has standby {role}s {standby:?}: name one with --key-tag"))),
        },
        Some(t) => {
            if !standby.contains(&t) {
                return Err(CoordinatorError::FailedPrecondition(format!("zone {zone}: key tag {t} is not a standby {role} (standby: {standby:?})")));
            }
            t
        }
    };
    let others: BTreeSet<u16> = match role {
        RollRole::Zsk => published.signs_keys.clone(),
        RollRole::Ksk => published.signs_zone.clone(),
        RollRole::Csk => BTreeSet::new(),
    };
    let now = c.pipeline.clock.now();
    let roll = Rollover::start(role, others, old, new, now);
    let mut after: Vec<Rollover> = rollovers.into_iter().filter(|x| x.role != role).collect();
    after.push(roll.clone());
    let options = pb::SignZoneOptions { zone: zone.clone(), approval_timeout_secs, ..Default::default() };
    let input = Input::KeyStep { rollovers: after, step: roll.describe() };
    tracing::info!(operator, "{zone}: {}", roll.describe());
    crate::pipeline::run::run(c, Submission { operator: operator.to_string(), options, input }, &|_| {}).await?;
    Ok(())
}

/// Does what the zone's key lifetimes (`[zones.rollover] zsk_lifetime`,
/// `ksk_lifetime`) ask for now: makes a missing standby, starts a rollover
/// whose key is due ([`lifetime_action`]). Returns when to look again.
/// A standby that cannot be made (the signers did not approve the DKG) is
/// tried again after an hour, not at once: each try asks their operators.
pub async fn scheduled(c: &Arc<Coordinator>, zone: &str, version: &Version) -> Result<Option<u64>, CoordinatorError> {
    let policy = policy(c, zone);
    if policy.zsk_lifetime == 0 && policy.ksk_lifetime == 0 {
        return Ok(None);
    }
    let rollovers = c.registry.rollovers(zone)?;
    let published = published_key_set(&version.record);
    let keys = zone_keys(&c.registry, zone, Some(&published.dnskey), &rollovers)?;
    let now = c.pipeline.clock.now();
    let mut next: Option<u64> = None;
    let mut sooner = |t: Option<u64>| next = match (next, t) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    for role in [RollRole::Zsk, RollRole::Ksk, RollRole::Csk] {
        let lifetime = if role == RollRole::Zsk { policy.zsk_lifetime } else { policy.ksk_lifetime };
        let running = rollovers.iter().any(|r| r.role == role && !r.is_done());
        // A key active since the end of the rollover that brought it in,
        // or (never rolled in) since it was made.
        let active: Vec<(u16, u64)> = keys
            .groups
            .iter()
            .filter(|g| g.key.role == key_role(role))
            .map(|g| {
                let tag = g.record.key_tag;
                let since = rollovers.iter().find(|r| r.new == tag && r.is_done()).map(Rollover::since).unwrap_or(g.record.created_unix);
                (tag, since)
            })
            .collect();
        let standby = standby_keys(c, zone, role, Some(version))?;
        match lifetime_action(lifetime, &active, &standby, running, now) {
            LifetimeAction::Wait(t) => sooner(t),
            LifetimeAction::MakeStandby => {
                tracing::info!("{zone}: making the next {role} ahead of need (lifetime {lifetime} s)");
                match crate::keys::dkg::generate_key(c, zone, key_role(role), ROLLOVER_OPERATOR, c.approval_timeout).await {
                    Ok(key) => {
                        tracing::info!("{zone}: standby {role} key tag {} made", key.key_tag);
                        sooner(Some(now));
                    }
                    Err(e) => {
                        tracing::warn!("{zone}: the next {role} could not be made, trying again in an hour: {e}");
                        sooner(Some(now + 3600));
                    }
                }
            }
            LifetimeAction::Start { old, new } => {
                tracing::info!("{zone}: {role} {old} reached its lifetime ({lifetime} s): rolling to {new}");
                begin_rollover(c, zone, role, Some(new), ROLLOVER_OPERATOR, 0).await?;
                sooner(Some(now));
            }
        }
    }
    Ok(next)
}

/// ConfirmDs: the operator's word that every parent server publishes the
/// DS of `key_tag`, the incoming key of a KSK or CSK rollover.
pub async fn confirm_ds(c: &Arc<Coordinator>, r: pb::ConfirmDsRequest, operator: &str) -> Result<pb::KeyStatusResponse, CoordinatorError> {
    let (_, zone) = zone_name(&r.zone)?;
    let lane = c.pipeline.lane(&zone);
    // Under the lane: a step being recorded does not overwrite it.
    let slot = lane.version.lock().await;
    let mut roll = c
        .registry
        .rollovers(&zone)?
        .into_iter()
        .find(|x| !x.is_done() && x.role != RollRole::Zsk && u32::from(x.new) == r.key_tag)
        .ok_or_else(|| CoordinatorError::FailedPrecondition(format!("zone {zone}: no KSK or CSK rollover brings in key tag {}", r.key_tag)))?;
    if matches!(roll.phase, Phase::Published { .. }) {
        return Err(CoordinatorError::FailedPrecondition(format!(
            "zone {zone}: key tag {} is not yet asked for at the parent (its CDS is published when the rollover reaches its active phase); \
             a DS seen before then was not asked for by this rollover",
            r.key_tag
        )));
    }
    if !roll.ds_confirmed {
        roll.ds_confirmed = true;
        c.registry.save_rollover(&zone, &roll).await?;
        tracing::info!(operator, "{zone}: the operator confirms the parent publishes the DS of key tag {}", r.key_tag);
    }
    drop(slot);
    c.pipeline.wake(&zone);
    key_status(c, &zone).await
}

/// KeyStatus: every key of the zone and every rollover.
pub async fn key_status(c: &Coordinator, zone: &str) -> Result<pb::KeyStatusResponse, CoordinatorError> {
    let (_, zone) = zone_name(zone)?;
    let version = published_version(c, &zone).await?;
    let rollovers = c.registry.rollovers(&zone)?;
    let published = version.as_ref().map(|v| published_key_set(&v.record));
    let now = c.pipeline.clock.now();
    let shown = published.clone().unwrap_or_default();
    let key_states = key_states(c, &zone, published.as_ref())?
        .into_iter()
        .filter_map(|(g, state)| {
            let role = crate::keys::role_from_record(&g.role)?;
            let tag = g.key_tag;
            Some(pb::KeyState {
                key_tag: tag.into(),
                role: role_to_proto(role).into(),
                state: state.into(),
                published: shown.dnskey.contains(&tag),
                signs_keys: shown.signs_keys.contains(&tag),
                signs_zone: shown.signs_zone.contains(&tag),
                in_cds: shown.cds.contains(&tag),
                created_unix: g.created_unix,
                retired_unix: g.retired_unix.unwrap_or_default(),
                threshold: g.threshold.into(),
                signers: g.signers.clone(),
            })
        })
        .collect();
    let policy = policy(c, &zone);
    let rollover_states = rollovers
        .iter()
        .map(|x| {
            let (next_action, due_unix, waiting_for) = match version.as_deref() {
                Some(v) => next_of(x, &timings(&policy, v), now, &policy),
                None => ("sign the zone".into(), 0, "a published version".into()),
            };
            pb::RolloverState {
                role: role_to_proto(key_role(x.role)).into(),
                old_key_tag: x.old.into(),
                new_key_tag: x.new.into(),
                phase: phase_name(&x.phase).into(),
                phase_since_unix: x.since(),
                step: x.describe(),
                next_action,
                due_unix,
                waiting_for,
                ds_confirmed: x.ds_confirmed,
            }
        })
        .collect();
    Ok(pb::KeyStatusResponse { zone, keys: key_states, rollovers: rollover_states, now_unix: now })
}

/// Every key group of `zone` with its state: retired, incoming, outgoing,
/// standby, active, published or unpublished. Read from the registry
/// alone (the published key set of its zone state record, the rollovers,
/// the key groups), so a scrape never waits for a running request.
pub fn key_states(c: &Coordinator, zone: &str, published: Option<&KeySet>) -> Result<Vec<(KeyGroupRecord, &'static str)>, CoordinatorError> {
    let rollovers = c.registry.rollovers(zone)?;
    let groups = c.registry.key_groups(Some(zone))?;
    let standby = match zone_keys(&c.registry, zone, published.map(|p| &p.dnskey), &rollovers) {
        Ok(k) => k.key_use.standby,
        Err(_) => Default::default(),
    };
    let shown = published.cloned().unwrap_or_default();
    let running: Vec<&Rollover> = rollovers.iter().filter(|x| !x.is_done()).collect();
    Ok(groups
        .into_iter()
        .map(|g| {
            let tag = g.key_tag;
            let retired = g.retired_unix.is_some() || rollovers.iter().any(|x| x.is_done() && x.old == tag);
            let state = if retired {
                "retired"
            } else if running.iter().any(|x| x.new == tag) {
                "incoming"
            } else if running.iter().any(|x| x.old == tag) {
                "outgoing"
            } else if standby.contains(&tag) {
                "standby"
            } else if shown.signs_keys.contains(&tag) || shown.signs_zone.contains(&tag) {
                "active"
            } else if shown.dnskey.contains(&tag) {
                "published"
            } else {
                "unpublished"
            };
            (g, state)
        })
        .collect())
}

fn phase_name(phase: &Phase) -> &'static str {
    match phase {
        Phase::Published { .. } => "published",
        Phase::Active { .. } => "active",
        Phase::DsSeen { .. } => "ds_seen",
        Phase::Done { .. } => "done",
    }
}

/// What a rollover does next, when, and what it waits for.
fn next_of(roll: &Rollover, t: &crate::keys::rollover::timing::RolloverTimings, now: u64, policy: &crate::config::rollover::RolloverPolicy) -> (String, u64, String) {
    let action = match (roll.phase, roll.role) {
        (Phase::Published { .. }, RollRole::Zsk) => "the new key signs the zone",
        (Phase::Published { .. }, _) => "the new key becomes active; CDS/CDNSKEY ask for its DS",
        (Phase::Active { .. }, RollRole::Zsk) | (Phase::DsSeen { .. }, _) => "the old key is removed",
        (Phase::Active { .. }, _) => "the parent's DS is checked",
        (Phase::Done { .. }, _) => "nothing",
    };
    let (due, waiting) = match roll.next(t, now, &ParentView::default()) {
        Ok(_) => (now, "nothing: due now".to_string()),
        Err(Waiting::Until(at)) => {
            let why = match roll.phase {
                Phase::Published { .. } => format!("resolvers' cached DNSKEY RRsets to expire (propagation {} s + DNSKEY TTL {} s)", t.propagation_delay, t.dnskey_ttl),
                Phase::Active { .. } => format!("signatures by the old key to leave caches (propagation {} s + largest TTL {} s)", t.propagation_delay, t.max_zone_ttl),
                _ => format!("the old DS to leave caches (parent delay {} s + DS TTL {} s)", t.parent_delay, t.ds_ttl),
            };
            (at, why)
        }
        Err(Waiting::ParentDs(tags)) => {
            let servers = if policy.parent_servers.is_empty() {
                "no parent_servers configured".to_string()
            } else {
                format!("{} parent server(s) asked every {} s", policy.parent_servers.len(), policy.ds_check_interval)
            };
            (0, format!("the parent's DS set to be exactly key tag(s) {tags:?} on every parent server ({servers}), or `frostzone keys ds-seen`"))
        }
        Err(Waiting::Nothing) => (0, "nothing".into()),
    };
    (action.into(), due, waiting)
}
