//! `frostzone requests` and `frostzone request`: the coordinator's view of
//! signing requests — where each stands, what every signer decided, which
//! signers' shares were used and who was caught sending bad ones.

use anyhow::Context;
use frostzone_proto::v1::{GetRequestRequest, ListRequestsRequest, RequestStatus, SignerDecision};
use frostzone_proto::API_VERSION;
use serde_json::{json, Value};

use crate::client::{status_error, ClientArgs};
use crate::lifecycle::{
    age, changes_json, describe_decision, format_expiry, format_time, is_approval, now_unix, parse_request_id,
    short_id, state_name,
};
use crate::table::Table;
use crate::Outcome;

/// List signing requests, newest first: state, approvals, signatures.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Only this zone.
    #[arg(long)]
    zone: Option<String>,
    /// At most this many (the coordinator's default: 50).
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
    /// One JSON object: {"requests": [...]}.
    #[arg(long)]
    json: bool,
}

/// Show where one signing request stands and what each signer decided.
#[derive(clap::Args)]
pub struct ShowArgs {
    /// The request id (as `frostzone sign` prints it), or a unique prefix
    /// of at least 8 hex digits.
    #[arg(value_name = "REQ")]
    request: String,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn execute_list(args: ListArgs, client: ClientArgs) -> anyhow::Result<Outcome> {
    let request = ListRequestsRequest {
        api_version: API_VERSION,
        zone: args.zone.clone().unwrap_or_default(),
        limit: args.limit.unwrap_or(0),
    };
    let requests = crate::client::runtime()?.block_on(async move {
        let mut coordinator = client.connect().await?;
        coordinator.list_requests(request).await.map_err(status_error).context("cannot list the signing requests")
    })?;
    let requests = requests.into_inner().requests;
    if args.json {
        println!("{}", json!({ "requests": requests.iter().map(status_json).collect::<Vec<_>>() }));
        return Ok(Outcome::Success);
    }
    if requests.is_empty() {
        match &args.zone {
            Some(zone) => println!("no signing requests for {zone}"),
            None => println!("no signing requests"),
        }
        return Ok(Outcome::Success);
    }
    let now = now_unix();
    let mut table = Table::new(&["REQUEST", "ZONE", "STATE", "APPROVALS", "SIGNATURES", "AGE"]);
    for r in &requests {
        table.row(vec![
            short_id(&r.request_id).to_string(),
            r.zone.clone(),
            r.state.clone(),
            format!("{}/{}", approvals(r), r.threshold),
            format!("{}/{}", r.signatures, r.signatures_planned),
            age(r.started_unix, now),
        ]);
    }
    print!("{}", table.render());
    for r in requests.iter().filter(|r| !r.error.is_empty()) {
        println!("request {}: {}", short_id(&r.request_id), r.error);
    }
    Ok(Outcome::Success)
}

pub fn execute_show(args: ShowArgs, client: ClientArgs) -> anyhow::Result<Outcome> {
    let id = parse_request_id(&args.request)?;
    let request = GetRequestRequest { api_version: API_VERSION, request_id: id.clone() };
    let status = crate::client::runtime()?.block_on(async move {
        let mut coordinator = client.connect().await?;
        coordinator
            .get_request(request)
            .await
            .map_err(status_error)
            .with_context(|| format!("cannot get request {id} from the coordinator"))
    })?;
    let r = status.into_inner();
    if args.json {
        println!("{}", status_json(&r));
    } else {
        print!("{}", render(&r));
    }
    Ok(Outcome::Success)
}

/// Signers that approved (and may since have signed or published).
fn approvals(r: &RequestStatus) -> usize {
    r.decisions.iter().filter(|d| is_approval(d.state())).count()
}

/// One signer's decision as a cell: `approved by alice`,
/// `rejected by bob (not our zone)`, `pending (key RRsets changed)`,
/// `not answered`.
fn decision_text(d: &SignerDecision) -> String {
    describe_decision(d.state(), &d.reason, &d.decided_by)
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_string()
    } else {
        items.join(", ")
    }
}

/// `request REQ` as text.
fn render(r: &RequestStatus) -> String {
    let now = now_unix();
    let mut out = String::new();
    let line = |out: &mut String, label: &str, value: &str| out.push_str(&format!("{label:<12} {value}\n"));
    line(&mut out, "request", &r.request_id);
    line(&mut out, "zone", &r.zone);
    line(&mut out, "state", &r.state);
    line(&mut out, "approvals", &format!("{} of {} needed", approvals(r), r.threshold));
    line(&mut out, "content", &hex::encode(&r.content_hash));
    line(
        &mut out,
        "submitted",
        &format!(
            "by {} at {} ({})",
            if r.submitted_by.is_empty() { "-" } else { &r.submitted_by },
            format_time(r.started_unix),
            age(r.started_unix, now)
        ),
    );
    line(&mut out, "updated", &format!("{} ({})", format_time(r.updated_unix), age(r.updated_unix, now)));
    line(&mut out, "expires", &format_expiry(r.expires_unix, now));
    line(&mut out, "signatures", &format!("{} of {}", r.signatures, r.signatures_planned));
    line(&mut out, "signers used", &list_or_dash(&r.signers));
    line(&mut out, "culprits", &list_or_dash(&r.culprits));
    if !r.error.is_empty() {
        line(&mut out, "error", &r.error);
    }
    if !r.decisions.is_empty() {
        out.push('\n');
        let mut table = Table::new(&["SIGNER", "DECISION"]);
        for d in &r.decisions {
            table.row(vec![d.signer.clone(), decision_text(d)]);
        }
        out.push_str(&table.render());
    }
    out
}

/// A request as `requests --json` and `request --json` print it.
fn status_json(r: &RequestStatus) -> Value {
    json!({
        "request_id": r.request_id,
        "zone": r.zone,
        "state": r.state,
        "error": r.error,
        "content_hash": hex::encode(&r.content_hash),
        "submitted_by": r.submitted_by,
        "started_unix": r.started_unix,
        "updated_unix": r.updated_unix,
        "expires_unix": r.expires_unix,
        "signatures_planned": r.signatures_planned,
        "signatures": r.signatures,
        "threshold": r.threshold,
        "approvals": approvals(r),
        "decisions": r.decisions.iter().map(|d| json!({
            "signer": d.signer,
            "state": state_name(d.state()),
            "reason": d.reason,
            "decided_by": d.decided_by,
            "changes": d.changes.as_ref().map(changes_json),
        })).collect::<Vec<_>>(),
        "signers": r.signers,
        "culprits": r.culprits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use frostzone_proto::v1::RequestState;

    #[test]
    fn a_request_reads_with_every_signer_decision() {
        let decision = |signer: &str, state: RequestState, reason: &str, by: &str| SignerDecision {
            signer: signer.into(),
            state: state as i32,
            reason: reason.into(),
            decided_by: by.into(),
            changes: None,
        };
        let r = RequestStatus {
            request_id: "3f2a".repeat(8),
            zone: "example.com.".into(),
            state: "proposed".into(),
            threshold: 3,
            decisions: vec![
                decision("signer-1", RequestState::Approved, "", "alice"),
                decision("signer-2", RequestState::Published, "", "policy"),
                decision("signer-3", RequestState::Rejected, "not our zone", "bob"),
                decision("signer-4", RequestState::Pending, "key RRsets changed", ""),
                decision("signer-5", RequestState::Unspecified, "", ""),
            ],
            ..Default::default()
        };
        let text = render(&r);
        assert!(text.contains("approvals    2 of 3 needed"), "{text}");
        assert!(text.contains("signer-3  rejected by bob (not our zone)"), "{text}");
        assert!(text.contains("signer-4  pending (key RRsets changed)"), "{text}");
        assert!(text.contains("signer-5  not answered"), "{text}");
        let v = status_json(&r);
        assert_eq!(v["approvals"], 2);
        assert_eq!(v["decisions"][4]["state"], "not answered");
    }
}
