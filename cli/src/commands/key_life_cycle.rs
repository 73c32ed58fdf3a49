//! `frostzone keys rollover | rekey | status | ds-seen`: a zone's key life
//! cycle (RFC 7583 rollovers). The coordinator takes each step when it is due;
//! every step that changes the published keys is a signing request the
//! signers approve like any other.

use anyhow::Context;
use frostzone_dnssec::time::format_timestamp;
use frostzone_proto::v1::{ConfirmDsRequest, KeyStatusRequest, KeyStatusResponse, StartRolloverRequest};
use frostzone_proto::API_VERSION;
use serde_json::{json, Value};

use super::key_role::{role_name, Role};
use crate::client::{status_error, CoordinatorApi};
use crate::table::Table;

/// Start a key rollover: the zone's standby key of the role (made ahead
/// with `keys generate`) is published, becomes active once caches hold
/// it, and the old key is removed once no cache can need it (for a KSK or
/// CSK, once every parent server shows the new DS). Each step is a
/// signing request the signers approve.
#[derive(clap::Args)]
pub struct RolloverArgs {
    /// The zone, e.g. example.com.
    #[arg(long)]
    pub zone: String,
    /// The role rolled.
    #[arg(long, value_enum)]
    pub role: Role,
    /// The incoming key (default: the zone's one standby key of the role).
    #[arg(long)]
    pub key_tag: Option<u16>,
    /// How long the first step waits for the signers' approvals (0: the
    /// coordinator's approval_timeout_secs).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub approval_timeout: u32,
}

/// Re-key: a new key of the role by DKG among the signers the roster and
/// the coordinator name now (after a change of members or of t, or on a
/// suspected compromise), rolled in at once as a rollover of the role; the
/// old key is retired when the rollover ends (for a KSK or CSK once the
/// parent shows the new DS). Remove its shares afterwards with `keys
/// remove`. A share refresh cannot do this: it keeps t and the members.
#[derive(clap::Args)]
pub struct RekeyArgs {
    /// The zone, e.g. example.com.
    #[arg(long)]
    pub zone: String,
    /// The role re-keyed.
    #[arg(long, value_enum)]
    pub role: Role,
    /// How long the DKG and the first step wait for approvals (0: the
    /// coordinator's approval_timeout_secs).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub approval_timeout: u32,
}

/// Every key of a zone (standby, active, incoming, outgoing, retired) and
/// every rollover: its phase, next action, when it is due and what it
/// waits for.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// The zone, e.g. example.com.
    #[arg(long)]
    pub zone: String,
    /// As JSON.
    #[arg(long)]
    pub json: bool,
}

/// Confirm that every parent server publishes the DS of the incoming KSK
/// or CSK, where the coordinator cannot ask the parent itself.
#[derive(clap::Args)]
pub struct DsSeenArgs {
    /// The zone, e.g. example.com.
    #[arg(long)]
    pub zone: String,
    /// The incoming key whose DS the parent shows.
    #[arg(long)]
    pub key_tag: u16,
}

/// `keys rollover`.
pub async fn rollover(coordinator: &mut CoordinatorApi, a: &RolloverArgs) -> anyhow::Result<KeyStatusResponse> {
    let request = StartRolloverRequest {
        api_version: API_VERSION,
        zone: a.zone.clone(),
        role: frostzone_proto::v1::KeyRole::from(a.role).into(),
        key_tag: a.key_tag.map(u32::from).unwrap_or(0),
        approval_timeout_secs: a.approval_timeout,
    };
    Ok(coordinator.start_rollover(request).await.map_err(status_error).with_context(|| format!("rollover of {} failed", a.zone))?.into_inner())
}

/// `keys status`.
pub async fn status(coordinator: &mut CoordinatorApi, zone: &str) -> anyhow::Result<KeyStatusResponse> {
    let request = KeyStatusRequest { api_version: API_VERSION, zone: zone.to_string() };
    Ok(coordinator.key_status(request).await.map_err(status_error).with_context(|| format!("key status of {zone} failed"))?.into_inner())
}

/// `keys ds-seen`.
pub async fn ds_seen(coordinator: &mut CoordinatorApi, a: &DsSeenArgs) -> anyhow::Result<KeyStatusResponse> {
    let request = ConfirmDsRequest { api_version: API_VERSION, zone: a.zone.clone(), key_tag: a.key_tag.into() };
    Ok(coordinator.confirm_ds(request).await.map_err(status_error).with_context(|| format!("ds-seen for {} failed", a.zone))?.into_inner())
}

fn time(t: u64) -> String {
    if t == 0 {
        "-".into()
    } else {
        format_timestamp(t as u32)
    }
}

/// The status as text: a table of keys, then one paragraph per rollover.
pub fn status_text(s: &KeyStatusResponse) -> String {
    let mut keys = Table::new(&["TAG", "ROLE", "STATE", "DNSKEY", "SIGNS", "CDS", "QUORUM", "CREATED", "RETIRED"]);
    for k in &s.keys {
        let signs = match (k.signs_keys, k.signs_zone) {
            (true, true) => "keys+zone",
            (true, false) => "keys",
            (false, true) => "zone",
            (false, false) => "-",
        };
        keys.row(vec![
            k.key_tag.to_string(),
            role_name(k.role).into(),
            k.state.clone(),
            if k.published { "yes" } else { "no" }.into(),
            signs.into(),
            if k.in_cds { "yes" } else { "no" }.into(),
            format!("{} of {}", k.threshold, k.signers.len()),
            time(k.created_unix),
            time(k.retired_unix),
        ]);
    }
    let mut out = format!("zone {} at {}\n", s.zone, time(s.now_unix));
    out.push_str(&if keys.is_empty() { "no keys\n".to_string() } else { keys.render() });
    for r in &s.rollovers {
        out.push_str(&format!("\n{} (phase {} since {})\n", r.step, r.phase, time(r.phase_since_unix)));
        if r.phase != "done" {
            out.push_str(&format!("  next: {}, due {}\n  waiting for: {}\n", r.next_action, if r.due_unix == 0 { "when that happens".to_string() } else { time(r.due_unix) }, r.waiting_for));
        }
    }
    out
}

/// The status as JSON (stable field names for scripts).
pub fn status_json(s: &KeyStatusResponse) -> Value {
    json!({
        "zone": s.zone,
        "now_unix": s.now_unix,
        "keys": s.keys.iter().map(|k| json!({
            "key_tag": k.key_tag,
            "role": role_name(k.role),
            "state": k.state,
            "published": k.published,
            "signs_keys": k.signs_keys,
            "signs_zone": k.signs_zone,
            "in_cds": k.in_cds,
            "threshold": k.threshold,
            "signers": k.signers,
            "created_unix": k.created_unix,
            "retired_unix": (k.retired_unix != 0).then_some(k.retired_unix),
        })).collect::<Vec<_>>(),
        "rollovers": s.rollovers.iter().map(|r| json!({
            "role": role_name(r.role),
            "old_key_tag": r.old_key_tag,
            "new_key_tag": r.new_key_tag,
            "phase": r.phase,
            "phase_since_unix": r.phase_since_unix,
            "step": r.step,
            "next_action": r.next_action,
            "due_unix": (r.due_unix != 0).then_some(r.due_unix),
            "waiting_for": r.waiting_for,
            "ds_confirmed": r.ds_confirmed,
        })).collect::<Vec<_>>(),
    })
}
