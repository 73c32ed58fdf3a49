//! `frostzone status`: what the coordinator sees — signers, key groups,
//! the zones it publishes, recent requests.

use anyhow::Context;
use frostzone_proto::v1::{StatusRequest, StatusResponse};
use frostzone_proto::API_VERSION;

use crate::client::{status_error, ClientArgs, CoordinatorApi};
use crate::table::Table;
use crate::Outcome;

/// Show the signers (reachable or not), the key groups, the zones published
/// (serial, when, next signature refresh, earliest expiration, and a
/// WARNING when signatures would expire before they can be refreshed) and
/// the last requests with any culprits.
#[derive(clap::Args)]
pub struct Args {}

pub fn execute(_args: Args, client: ClientArgs) -> anyhow::Result<Outcome> {
    let url = client.coordinator.clone();
    let status = crate::client::runtime()?.block_on(async move {
        let mut coordinator = client.connect().await?;
        fetch(&mut coordinator).await
    })?;
    println!("coordinator {url}\n");
    print!("{}", render(&status));
    // Loud on stderr too, where a cron job's mail or a terminal shows it.
    for line in warnings(&status) {
        eprintln!("{line}");
    }
    Ok(Outcome::Success)
}

/// Asks the coordinator for its status.
pub async fn fetch(coordinator: &mut CoordinatorApi) -> anyhow::Result<StatusResponse> {
    Ok(coordinator
        .status(StatusRequest { api_version: API_VERSION })
        .await
        .map_err(status_error)
        .context("status request failed")?
        .into_inner())
}

/// The status as three tables.
pub fn render(status: &StatusResponse) -> String {
    let mut out = String::new();
    let reachable = status.signers.iter().filter(|s| s.reachable).count();
    out.push_str(&format!("signers: {reachable} of {} reachable\n", status.signers.len()));
    let mut signers = Table::new(&["SIGNER", "ENDPOINT", "STATE"]);
    for s in &status.signers {
        let state = if s.reachable {
            "reachable".to_string()
        } else if s.error.is_empty() {
            "unreachable".to_string()
        } else {
            format!("unreachable: {}", s.error)
        };
        signers.row(vec![s.name.clone(), s.endpoint.clone(), state]);
    }
    out.push_str(&signers.render());

    out.push_str(&format!("\nkeys: {}\n", status.keys.len()));
    if !status.keys.is_empty() {
        out.push_str(&super::keys::keys_table(&status.keys));
    }

    out.push_str(&format!("\nzones: {}\n", status.zones.len()));
    if !status.zones.is_empty() {
        let mut zones = Table::new(&["ZONE", "SERIAL", "PUBLISHED", "NEXT REFRESH", "EARLIEST EXPIRATION", "RRSIGS", "REQUEST"]);
        for z in &status.zones {
            zones.row(vec![
                z.zone.clone(),
                z.serial.to_string(),
                time_or_dash(z.published_unix),
                time_or_dash(z.next_refresh_unix),
                time_or_dash(z.earliest_expiration_unix),
                z.signatures.to_string(),
                z.request_id.clone(),
            ]);
        }
        out.push_str(&zones.render());
        for line in warnings(status) {
            out.push_str(&line);
            out.push('\n');
        }
        for line in stale_baselines(status) {
            out.push_str(&line);
            out.push('\n');
        }
    }

    out.push_str(&format!("\nrequests: {}\n", status.requests.len()));
    if !status.requests.is_empty() {
        let mut requests = Table::new(&["REQUEST", "ZONE", "STATE", "STARTED", "RRSIGS", "SIGNERS", "CULPRITS"]);
        for s in &status.requests {
            requests.row(vec![
                s.id.clone(),
                s.zone.clone(),
                s.state.clone(),
                frostzone_dnssec::time::format_timestamp(s.started_unix as u32),
                s.signatures.to_string(),
                s.signers.join(","),
                if s.culprits.is_empty() { "-".to_string() } else { s.culprits.join(",") },
            ]);
        }
        out.push_str(&requests.render());
        for s in status.requests.iter().filter(|s| !s.culprits.is_empty() || !s.error.is_empty()) {
            if !s.culprits.is_empty() {
                out.push_str(&format!("request {}: culprits: {}\n", s.id, s.culprits.join(", ")));
            }
            if !s.error.is_empty() {
                out.push_str(&format!("request {}: error: {}\n", s.id, s.error));
            }
        }
    }
    out
}

/// A time (seconds since the epoch, RFC 4034 §3.1.5 format), or "-" for
/// none.
fn time_or_dash(unix: u64) -> String {
    match unix {
        0 => "-".to_string(),
        t => frostzone_dnssec::time::format_timestamp(t as u32),
    }
}

/// One line per zone where signers hold an older baseline than the
/// published version, or none: their next proposal is the whole zone.
pub fn stale_baselines(status: &StatusResponse) -> Vec<String> {
    status
        .zones
        .iter()
        .filter(|z| !z.stale_baselines.is_empty())
        .map(|z| {
            let who: Vec<String> = z
                .stale_baselines
                .iter()
                .map(|b| match b.request_id.as_str() {
                    "" => format!("{} (no baseline)", b.signer),
                    id => format!("{} (at request {})", b.signer, crate::lifecycle::short_id(id)),
                })
                .collect();
            format!(
                "stale baselines: zone {}: {}; their next proposal is the whole zone, checked in full",
                z.zone,
                who.join(", ")
            )
        })
        .collect()
}

/// One `WARNING: zone Z: ...` line per zone whose signatures are at risk.
pub fn warnings(status: &StatusResponse) -> Vec<String> {
    status
        .zones
        .iter()
        .filter(|z| !z.warning.is_empty())
        .map(|z| format!("WARNING: zone {}: {}", z.zone, z.warning))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use frostzone_proto::v1::ZoneStatus;

    #[test]
    fn zones_are_listed_and_warnings_are_loud() {
        let status = StatusResponse {
            zones: vec![
                ZoneStatus { zone: "example.com.".into(), serial: 42, published_unix: 1_780_000_000, ..Default::default() },
                ZoneStatus {
                    zone: "example.net.".into(),
                    serial: 7,
                    warning: "signatures expire in 2 days".into(),
                    stale_baselines: vec![
                        frostzone_proto::v1::StaleBaseline { signer: "signer-4".into(), request_id: "0123456789abcdef0123".into() },
                        frostzone_proto::v1::StaleBaseline { signer: "signer-5".into(), request_id: String::new() },
                    ],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let text = render(&status);
        assert!(text.contains("zones: 2"), "{text}");
        let row = text.lines().find(|l| l.starts_with("example.com.")).unwrap();
        assert!(row.contains(" 42 ") && row.contains("20260528"), "{row}");
        assert!(text.contains("WARNING: zone example.net.: signatures expire in 2 days"), "{text}");
        assert_eq!(warnings(&status).len(), 1);
        assert!(
            text.contains("stale baselines: zone example.net.: signer-4 (at request 0123456789ab), signer-5 (no baseline)"),
            "{text}"
        );
    }
}
