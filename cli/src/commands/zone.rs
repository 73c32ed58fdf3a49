//! `frostzone sign` and `frostzone ds`: a zone signed by the cluster, and
//! the DS records its parent publishes.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use frostzone_proto::v1::{GetDsRequest, SignZoneChunk, SignZoneOptions};
use frostzone_proto::{API_VERSION, ZONE_CHUNK_BYTES};

use crate::client::{status_error, ClientArgs, Coordinator};
use crate::output::write_atomically;
use crate::Outcome;

/// Sign a zone with the cluster: the zone file goes to the coordinator,
/// which proposes it to the signers, waits until enough of them approve
/// (by policy, or their operators with `frostzone approve`), signs with a
/// quorum of approvers, validates the result and streams it back; it is
/// written only when all of it has arrived. While the request waits for
/// approvals, where it stands is printed on stderr, its id first.
#[derive(clap::Args)]
pub struct SignArgs {
    /// The zone, e.g. example.com.
    #[arg(long)]
    zone: String,
    /// The unsigned zone file (RFC 1035 master file, without $INCLUDE).
    #[arg(long)]
    file: PathBuf,
    /// Where to write the signed zone.
    #[arg(long)]
    out: PathBuf,
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

/// Print the zone's DS records (SHA-256), one per KSK or CSK, for the parent.
#[derive(clap::Args)]
pub struct DsArgs {
    /// The zone, e.g. example.com.
    #[arg(long)]
    zone: String,
}

/// A signed zone as the coordinator returned it.
pub struct SignedZone {
    /// The signed zone file text.
    pub text: Vec<u8>,
    /// The coordinator validator's one-line summary.
    pub summary: String,
    /// The signing session.
    pub session_id: String,
}

pub fn execute_sign(args: SignArgs, client: ClientArgs) -> anyhow::Result<Outcome> {
    let data = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let denial = if args.nsec {
        "nsec"
    } else if args.nsec3_opt_out {
        "nsec3-opt-out"
    } else {
        "nsec3"
    };
    let options = SignZoneOptions {
        zone: args.zone.clone(),
        denial: denial.to_string(),
        validity_days: args.validity_days.unwrap_or(0),
        publish_cds: args.cds,
        approval_timeout_secs: args.approval_timeout.unwrap_or(0),
        source_name: args.file.display().to_string(),
        ..SignZoneOptions::default()
    };
    let started = Instant::now();
    let signed = crate::client::runtime()?.block_on(async move {
        let mut coordinator = client.connect().await?;
        sign(&mut coordinator, options, data).await
    })?;
    write_atomically(&args.out, &signed.text)?;
    println!("{}", signed.summary);
    println!(
        "wrote {} ({} bytes, session {}) in {:.2} s",
        args.out.display(),
        signed.text.len(),
        signed.session_id,
        started.elapsed().as_secs_f64()
    );
    Ok(Outcome::Success)
}

/// Sends `data` (a zone file) in chunks and collects the signed zone,
/// printing the coordinator's progress lines (the request's id, approvals
/// so far, signers still pending) on stderr as they come. An error
/// anywhere, or a stream that ends without the final summary, is an error:
/// partial output is never returned.
pub async fn sign(coordinator: &mut Coordinator, options: SignZoneOptions, data: Vec<u8>) -> anyhow::Result<SignedZone> {
    let zone = options.zone.clone();
    let mut chunks: Vec<SignZoneChunk> = data
        .chunks(ZONE_CHUNK_BYTES)
        .map(|c| SignZoneChunk { api_version: API_VERSION, options: None, data: c.to_vec() })
        .collect();
    if chunks.is_empty() {
        chunks.push(SignZoneChunk { api_version: API_VERSION, options: None, data: Vec::new() });
    }
    chunks[0].options = Some(options);
    drop(data);
    let mut stream = coordinator
        .sign_zone(tokio_stream::iter(chunks))
        .await
        .map_err(status_error)
        .with_context(|| format!("signing {zone} failed"))?
        .into_inner();
    let mut text = Vec::new();
    let mut summary = String::new();
    let mut session_id = String::new();
    let mut announced = false;
    while let Some(chunk) = stream.message().await.map_err(status_error).with_context(|| format!("signing {zone} failed"))? {
        if !chunk.progress.is_empty() {
            // The id first, so that the operators know what to approve.
            if !announced && !chunk.session_id.is_empty() && !chunk.progress.contains(&chunk.session_id) {
                eprintln!("request {} for {zone}", chunk.session_id);
            }
            announced = true;
            eprintln!("{}", chunk.progress);
        }
        text.extend_from_slice(&chunk.data);
        if !chunk.summary.is_empty() {
            summary = chunk.summary;
        }
        if !chunk.session_id.is_empty() {
            session_id = chunk.session_id;
        }
    }
    if summary.is_empty() {
        bail!("signing {zone} failed: the coordinator's answer ended without its summary; nothing was written");
    }
    Ok(SignedZone { text, summary, session_id })
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
pub async fn get_ds(coordinator: &mut Coordinator, zone: &str) -> anyhow::Result<Vec<String>> {
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
