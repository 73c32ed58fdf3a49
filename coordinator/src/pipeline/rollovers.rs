//! Driving a zone's key rollovers: each step is a function of the
//! persisted rollovers, the clock and what the parent's servers answer
//! ([`Rollover::step`]); a step that changes what the zone publishes is a
//! request like any other ([`Input::KeyStep`], approved by every signer's
//! policy), and its new phase is recorded under the zone's lane right
//! after the version that shows it is published ([`record_step`]), so no
//! other request can publish the old key set in between.
//!
//! Idempotent and restartable: a coordinator killed before publishing
//! takes the step again; one killed after publishing and before recording
//! finds the zone already showing the step's key set and only records it,
//! the first step of a rollover included (the published key set is then
//! exactly a start's, [`record_unrecorded_start`]).
//! A step is never taken on a guess: with no answer from the parent, a
//! KSK or CSK rollover waits.

use std::collections::BTreeSet;
use std::sync::Arc;

use frostzone_dnssec::domain::base::Ttl;
use frostzone_proto::v1 as pb;

use super::input::{Input, Submission};
use super::parent::{ask_parent, parent_view};
use super::key_steps::{changed, published_key_set, record_step, record_unrecorded_start};
use super::run;
use super::Version;
use crate::config::rollover::RolloverPolicy;
use crate::error::CoordinatorError;
use crate::keys::rollover::phases::{ParentView, Phase, RollRole, Rollover, Waiting};
use crate::keys::rollover::timing::RolloverTimings;
use crate::keys::{zone_keys, KeyGroup};
use crate::Coordinator;

/// Who rollover steps are submitted by, in the audit log.
pub const ROLLOVER_OPERATOR: &str = "rollover schedule";

/// The zone's rollover policy (the defaults when it has no `[[zones]]`
/// entry).
pub fn policy(c: &Coordinator, zone: &str) -> RolloverPolicy {
    c.pipeline.config(zone).map(|z| z.rollover.clone()).unwrap_or_default()
}

/// The timings of a zone's rollovers: TTLs from the published version and
/// the policy, delays from the policy.
pub fn timings(policy: &RolloverPolicy, version: &Version) -> RolloverTimings {
    let negative = version.unsigned.soa().and_then(|soa| match soa.record.data() {
        frostzone_dnssec::domain::rdata::ZoneRecordData::Soa(s) => Some(s.minimum()),
        _ => None,
    });
    // RRSIGs have the TTL of what they cover (RFC 4034 §3); NSEC and NSEC3
    // the SOA's negative TTL (RFC 4035 §2.3, RFC 9077).
    let max_zone_ttl = version.unsigned.ttls().chain(negative).max().unwrap_or(Ttl::ZERO).as_secs();
    RolloverTimings {
        dnskey_ttl: u64::from(policy.dnskey_ttl),
        max_zone_ttl: u64::from(max_zone_ttl).max(u64::from(policy.dnskey_ttl)),
        ds_ttl: policy.ds_ttl,
        propagation_delay: policy.propagation_delay,
        parent_delay: policy.parent_delay,
        resign_delay: 0,
    }
}

/// What a look at a zone's rollovers found.
#[derive(Debug, Default)]
pub struct Look {
    /// When to look again (`None`: no rollover runs).
    pub next: Option<u64>,
    /// Why a KSK or CSK rollover cannot read the parent, if it cannot.
    pub parent_problem: Option<String>,
}

/// What the parent shows for a rollover waiting for its DS.
async fn parent_for(c: &Coordinator, zone: &str, policy: &RolloverPolicy, roll: &Rollover) -> Result<(ParentView, Option<String>), CoordinatorError> {
    if roll.ds_confirmed || roll.role == RollRole::Zsk || !matches!(roll.phase, Phase::Active { .. }) {
        return Ok((ParentView::default(), None));
    }
    let (apex, _) = crate::keys::zone_name(zone)?;
    let keys: Vec<_> = c
        .registry
        .key_groups(Some(zone))?
        .into_iter()
        .map(KeyGroup::from_record)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|g| g.key)
        .collect();
    let answers = ask_parent(&policy.parent_servers, &apex).await;
    Ok(parent_view(&answers, &keys, &apex))
}

/// Takes every rollover step of `zone` that is due, publishing what it
/// changes; returns when to look again.
pub async fn advance(c: &Arc<Coordinator>, zone: &str, version: &Version) -> Result<Look, CoordinatorError> {
    let mut rollovers = c.registry.rollovers(zone)?;
    if record_unrecorded_start(c, zone, &version.record, &rollovers).await? {
        rollovers = c.registry.rollovers(zone)?;
    }
    if rollovers.iter().all(Rollover::is_done) {
        return Ok(Look::default());
    }
    let policy = policy(c, zone);
    let timings = timings(&policy, version);
    let now = c.pipeline.clock.now();
    let mut look = Look::default();
    let mut stepped = rollovers.clone();
    for roll in stepped.iter_mut().filter(|r| !r.is_done()) {
        let (parent, problem) = parent_for(c, zone, &policy, roll).await?;
        if problem.is_some() {
            look.parent_problem = problem;
        }
        let shown = parent.ds_on_every_server.clone();
        let again = match roll.step(&timings, now, &parent) {
            Waiting::Until(t) => Some(t),
            Waiting::ParentDs(wanted) => {
                if let Some(tags) = shown {
                    tracing::info!("{zone}: {} rollover waits for the parent's DS {wanted:?}: every parent server shows {tags:?}", roll.role);
                }
                Some(now + policy.ds_check_interval)
            }
            Waiting::Nothing => None,
        };
        look.next = match (look.next, again) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    if stepped == rollovers {
        return Ok(look);
    }
    // Another step may follow at once (the next phase's wait may be over).
    look.next = Some(now);
    let published = published_key_set(&version.record);
    let next = zone_keys(&c.registry, zone, Some(&published.dnskey), &stepped)?;
    if next.key_use.set == published {
        // A step that changes nothing published (the parent's DS seen), or
        // one published before a stop and not yet recorded: record only.
        tracing::info!("{zone}: the zone already shows the next rollover step; recording it");
        record_step(c, zone, &rollovers, &stepped, now).await?;
        return Ok(look);
    }
    let step = changed(&rollovers, &stepped).map(Rollover::describe).collect::<Vec<_>>().join("; ");
    tracing::info!("{zone}: rollover step: {step}");
    let options = pb::SignZoneOptions { zone: zone.to_string(), ..Default::default() };
    let submission = Submission { operator: ROLLOVER_OPERATOR.into(), options, input: Input::KeyStep { rollovers: stepped, step } };
    run::run(c, submission, &|_| {}).await?;
    Ok(look)
}

/// The tags of `zone`'s keys made ahead of need for `role`.
pub fn standby_keys(c: &Coordinator, zone: &str, role: RollRole, version: Option<&Version>) -> Result<BTreeSet<u16>, CoordinatorError> {
    let published = version.map(|v| published_key_set(&v.record));
    let rollovers = c.registry.rollovers(zone)?;
    let keys = zone_keys(&c.registry, zone, published.as_ref().map(|k| &k.dnskey), &rollovers)?;
    let groups = c.registry.key_groups(Some(zone))?;
    let role = crate::keys::rollover::key_use::key_role(role);
    Ok(keys
        .key_use
        .standby
        .into_iter()
        .filter(|t| groups.iter().any(|g| g.key_tag == *t && crate::keys::role_from_record(&g.role) == Some(role)))
        .collect())
}
