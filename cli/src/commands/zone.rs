//! `frostzone sign`, `frostzone zone get` and `frostzone ds`: a zone, or
//! changes to it, signed by the cluster; the version published last; the
//! DS records its parent publishes.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use frostzone_dnssec::serial::SerialPolicy;
use frostzone_proto::v1::{GetDsRequest, GetZoneRequest, SignZoneChunk, SignZoneOptions, SignedZoneChunk};
use frostzone_proto::{API_VERSION, ZONE_CHUNK_BYTES};

use crate::client::{status_error, ClientArgs, CoordinatorApi};
use crate::output::write_atomically;
use crate::Outcome;

/// Sign a zone with the cluster, whole (`--file`) or as changes to the
/// version published last (`--changes`).
///
/// The input goes to the coordinator, which proposes it to the signers,
/// waits until enough of them approve (by policy, or their operators with
/// `frostzone approve`), signs with a quorum of approvers, validates the
/// result and streams it back; nothing is written until all of it has
/// arrived. While the request waits for approvals, where it stands is
/// printed on stderr, its id first.
///
/// A change file has the IXFR form of RFC 1995 §4: the SOA of the version
/// it applies to, the records removed, the new SOA, the records added
/// (`frostzone diff` writes one). Only the changed RRsets and the denial
/// records around them are signed again. A file that names another serial,
/// removes a missing record or adds a present one is refused whole, each
/// problem named by FILE:LINE, and nothing changes.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["file", "changes"])))]
pub struct SignArgs {
    /// The zone, e.g. example.com.
    #[arg(long)]
    zone: String,
    /// The unsigned zone file (RFC 1035 master file). `$INCLUDE` is expanded
    /// here, relative to the including file: the coordinator never reads
    /// files of its own host for an upload.
    #[arg(long, value_name = "ZONEFILE")]
    file: Option<PathBuf>,
    /// A change file (IXFR form, RFC 1995 §4) against the published version.
    #[arg(long, value_name = "FILE")]
    changes: Option<PathBuf>,
    /// Where to write the whole signed zone (required with --file).
    #[arg(long, value_name = "SIGNED", required_unless_present = "changes")]
    out: Option<PathBuf>,
    /// With --changes: where to write the signed changes (IXFR form).
    #[arg(long, value_name = "PATH", requires = "changes")]
    out_changes: Option<PathBuf>,
    /// SOA serial of the new version: keep, increment, unixtime or
    /// date-counter (default: the zone's configured policy, else increment).
    #[arg(long, value_name = "POLICY", value_parser = parse_serial_policy)]
    serial_policy: Option<SerialPolicy>,
    /// Sign every RRset again instead of keeping the signatures of
    /// unchanged ones.
    #[arg(long)]
    full: bool,
    /// Use NSEC instead of NSEC3.
    #[arg(long, conflicts_with = "nsec3_opt_out")]
    nsec: bool,
    /// NSEC3 with opt-out: insecure delegations are left out of the chain.
    #[arg(long)]
    nsec3_opt_out: bool,
    /// Signature lifetime in days (default: the coordinator's).
    #[arg(long)]
    validity_days: Option<u32>,
    /// Publish CDS and CDNSKEY records for the KSK (RFC 7344).
    #[arg(long)]
    cds: bool,
    /// How long to wait for the signers' approvals before giving up
    /// (default: the coordinator's approval_timeout_secs).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u32).range(1..))]
    approval_timeout: Option<u32>,
}

fn parse_serial_policy(text: &str) -> Result<SerialPolicy, String> {
    text.parse()
}

/// Print the zone's DS records (SHA-256), one per KSK or CSK, for the parent.
#[derive(clap::Args)]
pub struct DsArgs {
    /// The zone, e.g. example.com.
    #[arg(long)]
    zone: String,
}

/// The zones the coordinator publishes.
#[derive(clap::Args)]
pub struct ZoneArgs {
    #[command(subcommand)]
    command: ZoneCommand,
}

#[derive(clap::Subcommand)]
enum ZoneCommand {
    Get(GetArgs),
}

/// Fetch the version of a zone published last (signed), as secondaries
/// are served it.
#[derive(clap::Args)]
pub struct GetArgs {
    /// The zone, e.g. example.com.
    #[arg(long)]
    zone: String,
    /// Where to write it (atomically); default: standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// What the coordinator answered for a request or a GetZone.
#[derive(Default)]
pub struct SignedZone {
    /// The whole signed zone, when it was sent.
    pub text: Vec<u8>,
    /// The signed changes (IXFR form), when they were sent.
    pub changes: Vec<u8>,
    /// The coordinator validator's one-line summary.
    pub summary: String,
    /// The signing request.
    pub request_id: String,
    /// The published version's serial.
    pub serial: u32,
    /// Signatures made for it.
    pub signatures_made: u64,
    /// Signatures kept from the version before.
    pub signatures_kept: u64,
}

/// The two calls that send a zone or changes up and stream the result back.
#[derive(Clone, Copy)]
enum Upload {
    Zone,
    Changes,
}

pub fn execute_sign(args: SignArgs, client: ClientArgs) -> anyhow::Result<Outcome> {
    let (upload, input) = match (&args.file, &args.changes) {
        (Some(file), _) => (Upload::Zone, file.clone()),
        (None, Some(changes)) => (Upload::Changes, changes.clone()),
        (None, None) => bail!("give --file ZONEFILE or --changes FILE"),
    };
    let origin_text = frostzone_dnssec::name::ZoneName::parse(&args.zone).map_err(|e| anyhow::anyhow!("--zone: {e}"))?.into_text();
    let origin: frostzone_dnssec::StoredName = origin_text.parse().map_err(|e| anyhow::anyhow!("--zone: {e}"))?;
    // An $INCLUDE is followed here; the coordinator refuses one in uploads.
    let flattened =
        frostzone_dnssec::load::flatten_includes(&input, &origin).map_err(|e| anyhow::anyhow!("{e}"))?;
    let data = match &flattened {
        Some(flat) => flat.text.clone().into_bytes(),
        None => std::fs::read(&input).with_context(|| format!("cannot read {}", input.display()))?,
    };
    let source = input.display().to_string();
    let denial = match (args.nsec, args.nsec3_opt_out, upload) {
        (true, _, _) => "nsec",
        (_, true, _) => "nsec3-opt-out",
        (false, false, Upload::Zone) => "nsec3",
        // Changes keep the denial of the version they apply to.
        (false, false, Upload::Changes) => "",
    };
    let options = SignZoneOptions {
        zone: args.zone.clone(),
        denial: denial.to_string(),
        validity_days: args.validity_days.unwrap_or(0),
        publish_cds: args.cds,
        approval_timeout_secs: args.approval_timeout.unwrap_or(0),
        serial_policy: args.serial_policy.map(|p| p.to_string()).unwrap_or_default(),
        full: args.full,
        return_zone: matches!(upload, Upload::Changes) && args.out.is_some(),
        source_name: source.clone(),
    };
    let started = Instant::now();
    let signed = crate::client::runtime()?
        .block_on(async move {
            let mut coordinator = client.connect().await?;
            send(&mut coordinator, upload, options, data).await
        })
        .map_err(|e| match &flattened {
            // Lines of the expanded text, named as the files they came from.
            Some(flat) => anyhow::anyhow!("{}", remap_lines(&format!("{e:#}"), &source, flat)),
            None => e,
        })?;
    let elapsed = started.elapsed().as_secs_f64();
    if let (Upload::Changes, Some(path)) = (upload, &args.out_changes) {
        write_atomically(path, &signed.changes)?;
        println!("wrote {} ({} bytes of signed changes)", path.display(), signed.changes.len());
    }
    if let Some(path) = &args.out {
        write_atomically(path, &signed.text)?;
        println!("wrote {} ({} bytes)", path.display(), signed.text.len());
    }
    println!("{}", signed.summary);
    println!(
        "serial {}: {} signatures made, {} kept; request {}; {elapsed:.2} s",
        signed.serial, signed.signatures_made, signed.signatures_kept, signed.request_id
    );
    Ok(Outcome::Success)
}

/// `message` with every `SOURCE:LINE` (a line of the expanded text sent
/// for `source`) replaced by the file and line it came from.
fn remap_lines(message: &str, source: &str, flat: &frostzone_dnssec::load::Flattened) -> String {
    let marker = format!("{source}:");
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(&marker) {
        out.push_str(&rest[..at]);
        let after = &rest[at + marker.len()..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse::<usize>().ok().and_then(|n| flat.source_of(n)) {
            Some(location) => out.push_str(&location.to_string()),
            None => {
                out.push_str(&marker);
                out.push_str(&digits);
            }
        }
        rest = &after[digits.len()..];
    }
    out.push_str(rest);
    out
}

/// Sends `data` (a zone file) in chunks and collects the signed zone,
/// printing the coordinator's progress lines (the request's id, approvals
/// so far, signers still pending) on stderr as they come. An error
/// anywhere, or a stream that ends without the final summary, is an error:
/// partial output is never returned.
pub async fn sign(coordinator: &mut CoordinatorApi, options: SignZoneOptions, data: Vec<u8>) -> anyhow::Result<SignedZone> {
    send(coordinator, Upload::Zone, options, data).await
}

async fn send(coordinator: &mut CoordinatorApi, upload: Upload, options: SignZoneOptions, data: Vec<u8>) -> anyhow::Result<SignedZone> {
    let zone = options.zone.clone();
    let what = match upload {
        Upload::Zone => format!("signing {zone} failed"),
        Upload::Changes => format!("changes to {zone} failed"),
    };
    let mut chunks: Vec<SignZoneChunk> = data
        .chunks(ZONE_CHUNK_BYTES)
        .map(|c| SignZoneChunk { api_version: API_VERSION, options: None, data: c.to_vec() })
        .collect();
    if chunks.is_empty() {
        chunks.push(SignZoneChunk { api_version: API_VERSION, options: None, data: Vec::new() });
    }
    chunks[0].options = Some(options);
    drop(data);
    let chunks = tokio_stream::iter(chunks);
    let answer = match upload {
        Upload::Zone => coordinator.sign_zone(chunks).await,
        Upload::Changes => coordinator.submit_changes(chunks).await,
    };
    let mut stream = answer.map_err(status_error).context(what.clone())?.into_inner();
    let mut signed = SignedZone::default();
    let mut announced = false;
    while let Some(chunk) = stream.message().await.map_err(status_error).context(what.clone())? {
        if !chunk.progress.is_empty() {
            // The id first, so that the operators know what to approve.
            if !announced && !chunk.request_id.is_empty() && !chunk.progress.contains(&chunk.request_id) {
                eprintln!("request {} for {zone}", chunk.request_id);
            }
            announced = true;
            eprintln!("{}", chunk.progress);
        }
        collect(&mut signed, chunk);
    }
    if signed.summary.is_empty() {
        bail!("{what}: the coordinator's answer ended without its summary; nothing was written");
    }
    Ok(signed)
}

/// Adds one answer chunk to `signed`: its text by kind (a chunk without a
/// kind is zone text, as older coordinators send it), and the fields the
/// last chunk carries.
fn collect(signed: &mut SignedZone, chunk: SignedZoneChunk) {
    match chunk.kind.as_str() {
        "changes" => signed.changes.extend_from_slice(&chunk.data),
        _ => signed.text.extend_from_slice(&chunk.data),
    }
    if !chunk.summary.is_empty() {
        signed.summary = chunk.summary;
    }
    // The last chunk, the one naming the request, carries the counts.
    if !chunk.request_id.is_empty() {
        signed.request_id = chunk.request_id;
        signed.serial = chunk.serial;
        signed.signatures_made = chunk.signatures_made;
        signed.signatures_kept = chunk.signatures_kept;
    }
}

pub fn execute_zone(args: ZoneArgs, client: ClientArgs) -> anyhow::Result<Outcome> {
    match args.command {
        ZoneCommand::Get(args) => execute_get(args, client),
    }
}

fn execute_get(args: GetArgs, client: ClientArgs) -> anyhow::Result<Outcome> {
    let zone = args.zone.clone();
    let published = crate::client::runtime()?.block_on(async move {
        let mut coordinator = client.connect().await?;
        get_zone(&mut coordinator, &zone).await
    })?;
    match &args.out {
        Some(path) => {
            write_atomically(path, &published.text)?;
            println!(
                "wrote {} ({} bytes): {} serial {}, request {}",
                path.display(),
                published.text.len(),
                args.zone,
                published.serial,
                published.request_id
            );
        }
        None => write_stdout(&published.text)?,
    }
    Ok(Outcome::Success)
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|()| out.flush()).context("cannot write to standard output")
}

/// The version of `zone` published last: its signed text and serial.
pub async fn get_zone(coordinator: &mut CoordinatorApi, zone: &str) -> anyhow::Result<SignedZone> {
    let what = || format!("cannot get the published version of {zone}");
    let mut stream = coordinator
        .get_zone(GetZoneRequest { api_version: API_VERSION, zone: zone.to_string() })
        .await
        .map_err(status_error)
        .with_context(what)?
        .into_inner();
    let mut published = SignedZone::default();
    while let Some(chunk) = stream.message().await.map_err(status_error).with_context(what)? {
        collect(&mut published, chunk);
    }
    if published.request_id.is_empty() {
        bail!("{}: the coordinator's answer ended without the request that published it", what());
    }
    Ok(published)
}

pub fn execute_ds(args: DsArgs, client: ClientArgs) -> anyhow::Result<Outcome> {
    let ds = crate::client::runtime()?.block_on(async move {
        let mut coordinator = client.connect().await?;
        get_ds(&mut coordinator, &args.zone).await
    })?;
    for line in ds {
        println!("{line}");
    }
    Ok(Outcome::Success)
}

/// The zone's DS records in presentation format.
pub async fn get_ds(coordinator: &mut CoordinatorApi, zone: &str) -> anyhow::Result<Vec<String>> {
    let ds = coordinator
        .get_ds(GetDsRequest { api_version: API_VERSION, zone: zone.to_string() })
        .await
        .map_err(status_error)
        .with_context(|| format!("cannot get the DS records of {zone}"))?
        .into_inner()
        .ds;
    if ds.is_empty() {
        bail!("{zone} has no KSK or CSK yet: run `frostzone keys generate --zone {zone} --role ksk`");
    }
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &str, data: &str) -> SignedZoneChunk {
        SignedZoneChunk { kind: kind.into(), data: data.as_bytes().to_vec(), ..Default::default() }
    }

    #[test]
    fn answers_are_sorted_by_kind_and_the_last_chunk_counts() {
        let mut signed = SignedZone::default();
        collect(&mut signed, SignedZoneChunk { progress: "request ab: 1 of 3 approvals".into(), request_id: "ab".into(), ..Default::default() });
        for c in [chunk("changes", "soa 1\n"), chunk("changes", "soa 2\n"), chunk("zone", "whole\n"), chunk("", "older\n")] {
            collect(&mut signed, c);
        }
        collect(
            &mut signed,
            SignedZoneChunk {
                kind: "zone".into(),
                data: b"end\n".to_vec(),
                summary: "valid".into(),
                request_id: "abcd".into(),
                serial: 7,
                signatures_made: 4,
                signatures_kept: 90,
                ..Default::default()
            },
        );
        assert_eq!(signed.changes, b"soa 1\nsoa 2\n");
        assert_eq!(signed.text, b"whole\nolder\nend\n");
        assert_eq!((signed.serial, signed.signatures_made, signed.signatures_kept), (7, 4, 90));
        assert_eq!((signed.summary.as_str(), signed.request_id.as_str()), ("valid", "abcd"));
    }
}
