//! `frostzone status`: what the coordinator sees — signers, key groups,
//! recent signing sessions.

use anyhow::Context;
use frostzone_proto::v1::{StatusRequest, StatusResponse};
use frostzone_proto::API_VERSION;

use crate::client::{status_error, ClientArgs, Coordinator};
use crate::table::Table;
use crate::Outcome;

/// Show the signers (reachable or not), the key groups and the last
/// signing sessions with any culprits.
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
    Ok(Outcome::Success)
}

/// Asks the coordinator for its status.
pub async fn fetch(coordinator: &mut Coordinator) -> anyhow::Result<StatusResponse> {
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

    out.push_str(&format!("\nsessions: {}\n", status.sessions.len()));
    if !status.sessions.is_empty() {
        let mut sessions = Table::new(&["SESSION", "ZONE", "STATE", "STARTED", "RRSIGS", "SIGNERS", "CULPRITS"]);
        for s in &status.sessions {
            sessions.row(vec![
                s.id.clone(),
                s.zone.clone(),
                s.state.clone(),
                frostzone_dnssec::present::format_timestamp(s.started_unix as u32),
                s.signatures.to_string(),
                s.signers.join(","),
                if s.culprits.is_empty() { "-".to_string() } else { s.culprits.join(",") },
            ]);
        }
        out.push_str(&sessions.render());
        for s in status.sessions.iter().filter(|s| !s.culprits.is_empty() || !s.error.is_empty()) {
            if !s.culprits.is_empty() {
                out.push_str(&format!("session {}: culprits: {}\n", s.id, s.culprits.join(", ")));
            }
            if !s.error.is_empty() {
                out.push_str(&format!("session {}: error: {}\n", s.id, s.error));
            }
        }
    }
    out
}
