//! `frostzone pending`, `show`, `approve` and `reject`: a signer's operator
//! reviews and decides the requests waiting on that signer, over its admin
//! socket. An approval is bound to the content hash the operator saw: the
//! signer refuses it if the request's content is not exactly that.

use anyhow::{bail, Context};
use frostzone_proto::v1::{
    AdminApproveRequest, AdminListRequest, AdminRejectRequest, AdminRequestDetail, AdminRequestInfo,
    AdminShowRequest, Decision, RequestState,
};
use frostzone_proto::API_VERSION;
use serde_json::{json, Value};

use crate::admin::{is_refusal, status_error, Admin, AdminArgs};
use crate::lifecycle::{
    age, changes_json, decision_json, describe_changes, describe_decision, format_expiry, format_time, is_approval,
    now_unix, parse_request_id, short_changes, short_id, state_name, whole_zone_warning,
};
use crate::table::Table;
use crate::Outcome;

/// Lines of a request's diff `show` prints unless told otherwise: a screen
/// or two; `--max-lines 0` prints all of them.
const DEFAULT_MAX_LINES: u32 = 200;

/// List the requests waiting for this signer's operator.
#[derive(clap::Args)]
pub struct PendingArgs {
    #[command(flatten)]
    admin: AdminArgs,
    /// Every request the signer keeps (approved, rejected, published, ...),
    /// not only the pending ones.
    #[arg(long)]
    all: bool,
    /// One JSON object: {"requests": [...]}.
    #[arg(long)]
    json: bool,
}

/// Show one request: what it changes in the zone, as +/- lines in zone
/// file syntax, with its content hash, the keys it uses and the counts.
#[derive(clap::Args)]
pub struct ShowArgs {
    /// The request id, or a unique prefix of at least 8 hex digits.
    #[arg(value_name = "REQ")]
    request: String,
    #[command(flatten)]
    admin: AdminArgs,
    /// Most +/- lines printed; 0 prints every line.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_LINES)]
    max_lines: u32,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Approve a request on this signer: fetches it, prints what is being
/// approved and sends the approval bound to its content hash.
#[derive(clap::Args)]
pub struct ApproveArgs {
    /// The request id, or a unique prefix of at least 8 hex digits.
    #[arg(value_name = "REQ")]
    request: String,
    #[command(flatten)]
    admin: AdminArgs,
    /// Who approves, for the signer's audit log (the signer also records
    /// the socket peer's uid).
    #[arg(long, env = "USER", value_name = "NAME")]
    operator: Option<String>,
    /// The content hash you reviewed (64 hex digits, as `show` prints it),
    /// e.g. from a diff reviewed elsewhere: the signer refuses the approval
    /// unless the request's content hash is exactly this. Default: the
    /// hash fetched and printed by this command.
    #[arg(long, value_name = "HEX")]
    content_hash: Option<String>,
    /// Print the signer's decision as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Reject a request on this signer, with a reason the coordinator and the
/// submitter see. A request rejected by more signers than can be spared
/// fails at once.
#[derive(clap::Args)]
pub struct RejectArgs {
    /// The request id, or a unique prefix of at least 8 hex digits.
    #[arg(value_name = "REQ")]
    request: String,
    #[command(flatten)]
    admin: AdminArgs,
    /// Why (shown to the coordinator and recorded in the audit logs).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Who rejects, for the signer's audit log.
    #[arg(long, env = "USER", value_name = "NAME")]
    operator: Option<String>,
    /// Print the signer's decision as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn execute_pending(args: PendingArgs) -> anyhow::Result<Outcome> {
    let socket = args.admin.socket()?.to_path_buf();
    let requests = crate::client::runtime()?.block_on(async {
        let mut admin = args.admin.connect().await?;
        admin
            .list_requests(AdminListRequest { api_version: API_VERSION, all: args.all })
            .await
            .map_err(|s| status_error(&socket, &s))
            .context("cannot list the signer's requests")
    })?;
    let requests = requests.into_inner().requests;
    if args.json {
        println!("{}", json!({ "requests": requests.iter().map(info_json).collect::<Vec<_>>() }));
        return Ok(Outcome::Success);
    }
    if requests.is_empty() {
        let what = if args.all { "no request is kept" } else { "no request is waiting for approval" };
        println!("{what} on the signer at {}", socket.display());
        return Ok(Outcome::Success);
    }
    let now = now_unix();
    let mut table = Table::new(&["REQUEST", "ZONE", "STATE", "CHANGES", "SUBMITTED BY", "AGE", "EXPIRES"]);
    for r in &requests {
        let d = r.decision.clone().unwrap_or_default();
        table.row(vec![
            short_id(&r.request_id).to_string(),
            r.zone.clone(),
            state_name(d.state()).to_string(),
            short_changes(&d.changes.unwrap_or_default()),
            r.submitted_by.clone(),
            age(r.created_unix, now),
            expires_in(r.expires_unix, now),
        ]);
    }
    print!("{}", table.render());
    if requests.iter().any(|r| r.decision.as_ref().is_some_and(|d| d.state() == RequestState::Pending)) {
        println!("\nreview one with `frostzone show REQ`, then `frostzone approve REQ` or `frostzone reject REQ --reason TEXT`");
    }
    Ok(Outcome::Success)
}

pub fn execute_show(args: ShowArgs) -> anyhow::Result<Outcome> {
    let id = parse_request_id(&args.request)?;
    let detail = crate::client::runtime()?.block_on(async {
        let mut admin = args.admin.connect().await?;
        fetch(&mut admin, &args.admin, &id, args.max_lines).await
    })?;
    let info = detail.info.clone().unwrap_or_default();
    if args.json {
        let mut value = info_json(&info);
        value["lines"] = json!(detail.lines);
        value["total_lines"] = json!(detail.total_lines);
        value["keys"] = detail
            .keys
            .iter()
            .map(|k| {
                json!({
                    "key_tag": k.key_tag,
                    "role": super::keys::role_name(k.role),
                    "signatures": k.signatures,
                    "held": k.held,
                })
            })
            .collect();
        value["validity"] = detail
            .validity
            .iter()
            .map(|w| {
                json!({
                    "key_tag": w.key_tag,
                    "earliest_inception": w.earliest_inception,
                    "latest_inception": w.latest_inception,
                    "earliest_expiration": w.earliest_expiration,
                    "latest_expiration": w.latest_expiration,
                })
            })
            .collect();
        println!("{value}");
        return Ok(Outcome::Success);
    }
    print!("{}", header(&info));
    if !detail.keys.is_empty() {
        let keys: Vec<String> = detail
            .keys
            .iter()
            .map(|k| {
                format!(
                    "{} {} ({} signatures{})",
                    super::keys::role_name(k.role),
                    k.key_tag,
                    k.signatures,
                    if k.held { ", share held here" } else { ", no share here" }
                )
            })
            .collect();
        println!("keys       {}", keys.join("; "));
    }
    for w in &detail.validity {
        // RFC 4034 §3.1.5: what resolvers will accept these signatures for.
        let span = |a: u64, b: u64| if a == b { format_time(a) } else { format!("{} .. {}", format_time(a), format_time(b)) };
        println!(
            "validity   key tag {}: inception {}, expiration {} ({} from now at the latest)",
            w.key_tag,
            span(w.earliest_inception, w.latest_inception),
            span(w.earliest_expiration, w.latest_expiration),
            crate::lifecycle::format_duration(w.latest_expiration.saturating_sub(now_unix()))
        );
    }
    println!();
    for line in &detail.lines {
        println!("{line}");
    }
    let shown = detail.lines.len() as u64;
    if detail.total_lines > shown {
        println!(
            "... {} more lines ({} in all; --max-lines 0 prints every line)",
            detail.total_lines - shown,
            detail.total_lines
        );
    } else if detail.total_lines == 0 {
        println!("(no RRset changes: a signature refresh)");
    }
    Ok(Outcome::Success)
}

pub fn execute_approve(args: ApproveArgs) -> anyhow::Result<Outcome> {
    let id = parse_request_id(&args.request)?;
    let operator = operator_name(args.operator.as_deref())?;
    let reviewed = args.content_hash.as_deref().map(parse_content_hash).transpose()?;
    let socket = args.admin.socket()?.to_path_buf();
    crate::client::runtime()?.block_on(async {
        let mut admin = args.admin.connect().await?;
        // One +/- line is enough: what is printed here is the summary.
        let detail = fetch(&mut admin, &args.admin, &id, 1).await?;
        let info = detail.info.unwrap_or_default();
        let fetched = info.decision.as_ref().map(|d| d.content_hash.clone()).unwrap_or_default();
        eprint!("approving\n{}", header(&info));
        let content_hash = match reviewed {
            Some(hash) if hash != fetched => {
                eprintln!(
                    "the content hash given ({}) is not this request's ({}): the signer will refuse",
                    hex::encode(&hash),
                    hex::encode(&fetched)
                );
                hash
            }
            Some(hash) => hash,
            None => fetched,
        };
        let answer = admin
            .approve(AdminApproveRequest {
                api_version: API_VERSION,
                request_id: info.request_id.clone(),
                content_hash,
                operator: operator.clone(),
            })
            .await;
        decided(answer, &socket, &info, args.json, is_approval, "approve")
    })
}

pub fn execute_reject(args: RejectArgs) -> anyhow::Result<Outcome> {
    let id = parse_request_id(&args.request)?;
    let operator = operator_name(args.operator.as_deref())?;
    if args.reason.trim().is_empty() {
        bail!("--reason must say why the request is rejected");
    }
    let socket = args.admin.socket()?.to_path_buf();
    crate::client::runtime()?.block_on(async {
        let mut admin = args.admin.connect().await?;
        let detail = fetch(&mut admin, &args.admin, &id, 1).await?;
        let info = detail.info.unwrap_or_default();
        eprint!("rejecting\n{}", header(&info));
        let answer = admin
            .reject(AdminRejectRequest {
                api_version: API_VERSION,
                request_id: info.request_id.clone(),
                reason: args.reason.clone(),
                operator,
            })
            .await;
        decided(answer, &socket, &info, args.json, |s| s == RequestState::Rejected, "reject")
    })
}

/// The request `id` with at most `max_lines` of its diff.
async fn fetch(admin: &mut Admin, args: &AdminArgs, id: &str, max_lines: u32) -> anyhow::Result<AdminRequestDetail> {
    let socket = args.socket()?;
    let detail = admin
        .show_request(AdminShowRequest { api_version: API_VERSION, request_id: id.to_string(), max_lines })
        .await
        .map_err(|s| status_error(socket, &s))
        .with_context(|| format!("cannot fetch request {id} from the signer at {}", socket.display()))?
        .into_inner();
    if detail.info.as_ref().is_none_or(|i| i.request_id.is_empty()) {
        bail!("the signer at {} answered without the request's details", socket.display());
    }
    Ok(detail)
}

/// Reports the signer's answer to `approve` or `reject`: success when the
/// decision is one `wanted` accepts, a refusal (exit 1) when the signer
/// refused or decided otherwise.
fn decided(
    answer: Result<tonic::Response<Decision>, tonic::Status>,
    socket: &std::path::Path,
    info: &AdminRequestInfo,
    json: bool,
    wanted: impl Fn(RequestState) -> bool,
    verb: &str,
) -> anyhow::Result<Outcome> {
    let decision = match answer {
        Ok(d) => d.into_inner(),
        Err(status) if is_refusal(&status) => {
            eprintln!("refused: the signer did not {verb} request {}: {}", info.request_id, status.message());
            return Ok(Outcome::Refused);
        }
        Err(status) => {
            return Err(status_error(socket, &status))
                .with_context(|| format!("cannot {verb} request {}", info.request_id))
        }
    };
    let state = decision.state();
    if !wanted(state) {
        eprintln!(
            "refused: request {} is {} on this signer",
            info.request_id,
            describe_decision(state, &decision.reason, &decision.decided_by)
        );
        return Ok(Outcome::Refused);
    }
    if json {
        println!("{}", decision_json(&decision));
    } else {
        println!(
            "request {} of {}: {} (content {})",
            info.request_id,
            info.zone,
            describe_decision(state, &decision.reason, &decision.decided_by),
            hex::encode(&decision.content_hash)
        );
    }
    Ok(Outcome::Success)
}

/// The operator's name: `--operator`, else `$USER`.
fn operator_name(given: Option<&str>) -> anyhow::Result<String> {
    match given.map(str::trim) {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => bail!("who is deciding? give --operator NAME (it defaults to $USER, which is not set)"),
    }
}

/// A SHA-256 content hash in hex.
fn parse_content_hash(text: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = hex::decode(text.trim())
        .ok()
        .filter(|b| b.len() == 32)
        .with_context(|| format!("--content-hash {text:?} is not a SHA-256 hash (64 hex digits)"))?;
    Ok(bytes)
}

/// The lines `show`, `approve` and `reject` start with.
fn header(info: &AdminRequestInfo) -> String {
    let now = now_unix();
    let d = info.decision.clone().unwrap_or_default();
    let changes = d.changes.unwrap_or_default();
    format!(
        "request    {}\nzone       {}\nstate      {}\ncontent    {}\nsubmitted  by {} (as the coordinator claims; the signer cannot check it) at {} ({})\nexpires    {}\n{}\n",
        info.request_id,
        info.zone,
        describe_decision(d.state(), &d.reason, &d.decided_by),
        hex::encode(&d.content_hash),
        if info.submitted_by.is_empty() { "-" } else { &info.submitted_by },
        format_time(info.created_unix),
        age(info.created_unix, now),
        format_expiry(info.expires_unix, now),
        match &info.ceremony {
            Some(c) => format!("ceremony   {}", describe_ceremony(c)),
            None => format!("changes    {}", describe_changes(&changes)),
        },
    ) + &match info.ceremony.as_ref().map_or_else(|| whole_zone_warning(&changes), |_| None) {
        Some(w) => format!("{w}\n"),
        None => String::new(),
    } + &if info.key_step.is_empty() {
        String::new()
    } else {
        format!("key step   {} (as the coordinator claims; the key changes above are what this signer found)\n", info.key_step)
    }
}

/// A key ceremony in one line.
fn describe_ceremony(c: &frostzone_proto::v1::KeyCeremony) -> String {
    use frostzone_proto::v1::CeremonyKind;
    let role = super::keys::role_name(c.role);
    match CeremonyKind::try_from(c.kind) {
        Ok(CeremonyKind::Dkg) => format!("DKG of a new {role} for {}, {} of {} signers", c.zone, c.threshold, c.participants.len()),
        Ok(CeremonyKind::Import) => format!("import of an existing {role} for {}, {} of {} signers", c.zone, c.threshold, c.participants.len()),
        Ok(CeremonyKind::Remove) => format!("removal of every share of key tag {} of {}", c.key_tag, c.zone),
        Ok(CeremonyKind::Repair) => format!("repair of a lost share of key tag {} of {} by other holders (the key stays)", c.key_tag, c.zone),
        Ok(CeremonyKind::Refresh) => format!("refresh of every share of key tag {} of {} (the key stays)", c.key_tag, c.zone),
        _ => "unknown key ceremony".to_string(),
    }
}

/// How long until `unix`, for a table cell.
fn expires_in(unix: u64, now: u64) -> String {
    match unix {
        0 => "-".to_string(),
        u if u < now => "expired".to_string(),
        u => format!("in {}", crate::lifecycle::format_duration(u - now)),
    }
}

/// A request as `pending --json` and `show --json` print it.
fn info_json(info: &AdminRequestInfo) -> Value {
    let d = info.decision.clone().unwrap_or_default();
    json!({
        "request_id": info.request_id,
        "zone": info.zone,
        "state": state_name(d.state()),
        "reason": d.reason,
        "decided_by": d.decided_by,
        "content_hash": hex::encode(&d.content_hash),
        "changes": changes_json(&d.changes.unwrap_or_default()),
        "whole_zone_warning": info.ceremony.is_none().then(|| whole_zone_warning(&d.changes.unwrap_or_default())).flatten(),
        "submitted_by": info.submitted_by,
        "submitted_by_claimed": true,
        "key_step": (!info.key_step.is_empty()).then_some(&info.key_step),
        "ceremony": info.ceremony.as_ref().map(describe_ceremony),
        "created_unix": info.created_unix,
        "expires_unix": info.expires_unix,
    })
}
