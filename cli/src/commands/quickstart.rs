//! `frostzone quickstart`: a whole threshold signing cluster on loopback —
//! certificates, configs, a coordinator and N signer processes, a t-of-n
//! DKG for a KSK and a ZSK, the zone signed through the coordinator and
//! validated again here — then every process stopped, or
//! (`--keep-running`) left running to explore until `--stop`
//! ([`super::dev_cluster`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use frostzone_dnssec::domain::rdata::ZoneRecordData;
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::validate::{validate_text, TrustAnchor, ValidationOptions};
use frostzone_dnssec::StoredName;
use frostzone_proto::tls::TlsFiles;
use frostzone_proto::v1::{KeyRole, SignZoneOptions};

use crate::client::{connect, CoordinatorApi, DEFAULT_COORDINATOR_NAME};
use crate::cluster::{sibling_binary, Layout, Processes};
use crate::output::write_atomically;
use crate::Outcome;

/// The zone signed when none is given (run from the repository root).
const DEFAULT_ZONE: &str = "examples/example.zone";

/// How long the daemons get to start and see each other: generous for a
/// debug build on a busy two-core machine, short enough to fail clearly.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// Marks a cluster directory as made by quickstart, so a rerun may replace it.
const MARKER: &str = ".frostzone-quickstart";

/// Start a local threshold cluster and sign a zone with it.
///
/// Makes a development CA and certificates, configs and passphrases in
/// DIR/cluster; starts a coordinator and N signer nodes as separate
/// processes on 127.0.0.1; runs a t-of-n DKG for a KSK and a ZSK; signs the
/// zone through the coordinator (which validates before publishing it);
/// validates it again here from the DS; writes DIR/<zone>.signed and
/// DIR/<zone>.ds; and stops every process it started (also on failure and
/// Ctrl-C). Needs frostzone-coordinator and frostzone-signer next to this
/// executable.
#[derive(clap::Args)]
pub struct Args {
    /// The unsigned zone file (default: examples/example.zone).
    zonefile: Option<PathBuf>,
    /// The zone's name; by default the owner of the file's SOA record.
    #[arg(long)]
    origin: Option<String>,
    /// Output directory.
    #[arg(long, default_value = "./frostzone-quickstart")]
    out: PathBuf,
    /// Signer nodes (n).
    #[arg(long, default_value_t = 5)]
    signers: u16,
    /// Signers needed for a signature (t).
    #[arg(long, default_value_t = 3)]
    threshold: u16,
    /// The coordinator's port; signers use the next N ports.
    #[arg(long, default_value_t = 7000)]
    base_port: u16,
    /// Leave the cluster running after the first signing and print how to
    /// use it (coordinator URL, TLS directory, each signer's admin socket).
    #[arg(long, conflicts_with = "stop")]
    keep_running: bool,
    /// Stop the cluster an earlier `--keep-running` left in --out, then exit.
    #[arg(long)]
    stop: bool,
}

pub fn execute(args: Args) -> anyhow::Result<Outcome> {
    if args.stop {
        let stopped = super::dev_cluster::stop(&args.out.join("cluster"))?;
        println!("stopped {stopped} processes of the cluster in {}", args.out.join("cluster").display());
        return Ok(Outcome::Success);
    }
    if args.threshold < 2 || args.threshold > args.signers {
        bail!("--threshold must be between 2 and --signers ({})", args.signers);
    }
    if u32::from(args.base_port) + u32::from(args.signers) > u32::from(u16::MAX) {
        bail!("--base-port {} leaves no room for {} signers", args.base_port, args.signers);
    }
    let zonefile = args.zonefile.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_ZONE));
    if !zonefile.is_file() {
        bail!(
            "{} not found{}",
            zonefile.display(),
            if args.zonefile.is_none() { ": run quickstart from the repository root, or give a zone file" } else { "" }
        );
    }
    let apex = match &args.origin {
        Some(o) => super::parse_origin(o)?,
        None => super::verify::find_apex(&zonefile)?,
    };
    let coordinator_bin = sibling_binary("frostzone-coordinator")?;
    let signer_bin = sibling_binary("frostzone-signer")?;

    crate::client::runtime()?.block_on(async move {
        tokio::select! {
            result = run(&args, &zonefile, &apex, &coordinator_bin, &signer_bin) => result,
            _ = tokio::signal::ctrl_c() => {
                // Dropping `run` dropped its Processes: every child is gone.
                bail!("interrupted; every process quickstart started has been stopped")
            }
        }
    })
}

async fn run(
    args: &Args,
    zonefile: &Path,
    apex: &StoredName,
    coordinator_bin: &Path,
    signer_bin: &Path,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let zone = FqdnDisplay(apex).to_string();
    let cluster_dir = args.out.join("cluster");
    prepare_dir(&cluster_dir)?;
    let layout = Layout {
        dir: cluster_dir.canonicalize().with_context(|| format!("cannot resolve {}", cluster_dir.display()))?,
        signers: args.signers,
        threshold: args.threshold,
        base_port: args.base_port,
    };
    layout.check_ports_free()?;
    super::certs::init(&layout.dir, args.signers, true)?;
    layout.write_configs()?;
    layout.write_roster(signer_bin)?;
    println!("cluster files (certificates, configs, passphrases, roster, logs) in {}", layout.dir.display());

    let mut processes = Processes::default();
    processes.spawn(
        "coordinator",
        coordinator_bin,
        &layout.coordinator_config(),
        &layout.dir,
        layout.coordinator_addr().port(),
    )?;
    for k in 1..=args.signers {
        processes.spawn(&format!("signer-{k}"), signer_bin, &layout.signer_config(k), &layout.dir, layout.signer_addr(k).port())?;
    }
    let tls = TlsFiles {
        ca: layout.dir.join("ca.pem"),
        cert: layout.dir.join("operator.pem"),
        key: layout.dir.join("operator.key"),
    };
    let url = layout.coordinator_url();
    let mut coordinator = wait_ready(&mut processes, &url, &tls, args.signers).await?;
    let ready = started.elapsed();
    for d in processes.daemons() {
        println!("  started {:<12} pid {:<7} 127.0.0.1:{:<5} log {}", d.name, d.pid(), d.port, d.log.display());
    }
    println!("all {} processes ready in {:.1} s", processes.daemons().len(), ready.as_secs_f64());

    let ksk = super::keys::generate(&mut coordinator, &zone, KeyRole::Ksk).await?;
    let zsk = super::keys::generate(&mut coordinator, &zone, KeyRole::Zsk).await?;
    let generated = started.elapsed();
    println!("DKG of a KSK and a ZSK ({:.2} s):", (generated - ready).as_secs_f64());
    println!("  {}", super::keys::describe_key(&ksk));
    println!("  {}", super::keys::describe_key(&zsk));

    let data = std::fs::read(zonefile).with_context(|| format!("cannot read {}", zonefile.display()))?;
    let options = SignZoneOptions {
        zone: zone.clone(),
        denial: "nsec3".into(),
        validity_days: 0,
        publish_cds: false,
        approval_timeout_secs: 0,
        ..SignZoneOptions::default()
    };
    let cpu_before: Vec<Option<f64>> = processes.daemons().iter().map(|d| d.cpu_seconds()).collect();
    let signed = super::zone::sign(&mut coordinator, options, data).await?;
    let signed_at = started.elapsed();
    let cpu_signing: Vec<Option<f64>> = processes
        .daemons()
        .iter()
        .zip(&cpu_before)
        .map(|(d, before)| Some(d.cpu_seconds()? - (*before)?))
        .collect();
    let ds = super::zone::get_ds(&mut coordinator, &zone).await?;
    let status = super::status::fetch(&mut coordinator).await?;

    let file_stem = if apex.is_root() { "root".to_string() } else { zone.trim_end_matches('.').to_string() };
    let signed_path = args.out.join(format!("{file_stem}.signed"));
    let ds_path = args.out.join(format!("{file_stem}.ds"));
    let text = String::from_utf8(signed.text).context("the signed zone is not UTF-8")?;
    let ds_text: String = ds.iter().map(|l| format!("{l}\n")).collect();
    let report = validate_locally(&text, &ds_text, &signed_path, apex)?;
    write_atomically(&signed_path, text.as_bytes())?;
    write_atomically(&ds_path, ds_text.as_bytes())?;

    let sign_secs = (signed_at - generated).as_secs_f64();
    println!(
        "signed {zone} through the coordinator: {} RRSIGs in {sign_secs:.2} s ({:.0} RRSIGs/s; request {})",
        report.stats.signatures,
        report.stats.signatures as f64 / sign_secs.max(1e-9),
        signed.request_id
    );
    if let Some(request) = status.requests.iter().find(|s| s.id == signed.request_id) {
        println!("  quorum: {}", request.signers.join(", "));
        if !request.culprits.is_empty() {
            println!("  culprits excluded: {}", request.culprits.join(", "));
        }
    }
    println!("  coordinator's validator: {}", signed.summary);
    println!("  validated here from the DS: {}", report.summary());
    println!("wrote {}", signed_path.display());
    println!("wrote {}", ds_path.display());
    for line in &ds {
        println!("  {line}");
    }
    let peaks: Vec<String> = processes
        .daemons()
        .iter()
        .filter_map(|d| d.peak_rss_kib().map(|k| format!("{} {} MiB", d.name, k / 1024)))
        .collect();
    if !peaks.is_empty() {
        println!("peak memory: {}", peaks.join(", "));
    }
    // One line per process, for the benchmark (bench/compare.sh) to read:
    // CPU seconds while the zone was signed, and peak memory so far.
    for (d, cpu) in processes.daemons().iter().zip(cpu_signing) {
        if let (Some(cpu), Some(peak)) = (cpu, d.peak_rss_kib()) {
            println!("process {} cpu_s={cpu:.2} peak_kib={peak}", d.name);
        }
    }
    if args.keep_running {
        let running = processes.detach();
        super::dev_cluster::keep(&layout.dir, &running, &args.out)?;
        return Ok(Outcome::Success);
    }
    let stopped = processes.stop_all();
    println!("stopped {stopped} processes; total {:.1} s", started.elapsed().as_secs_f64());
    Ok(Outcome::Success)
}

/// Creates the cluster directory, replacing one an earlier quickstart made
/// (never a directory it did not make).
fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if super::dev_cluster::is_running(dir) {
        bail!("a cluster left running by `quickstart --keep-running` is in {}: stop it first with `frostzone quickstart --stop --out {}`", dir.display(), dir.parent().unwrap_or(dir).display());
    }
    if dir.exists() {
        if !dir.join(MARKER).is_file() {
            bail!("{} exists and was not made by quickstart; choose another --out", dir.display());
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove the old {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "made by frostzone quickstart; rerunning it replaces this directory\n")
        .with_context(|| format!("cannot write {}", dir.join(MARKER).display()))
}

/// Polls the coordinator until it answers and sees every signer.
async fn wait_ready(processes: &mut Processes, url: &str, tls: &TlsFiles, signers: u16) -> anyhow::Result<CoordinatorApi> {
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        processes.check_running()?;
        let last = match connect(url, tls, DEFAULT_COORDINATOR_NAME).await {
            Ok(mut coordinator) => match super::status::fetch(&mut coordinator).await {
                Ok(status) => {
                    let reachable = status.signers.iter().filter(|s| s.reachable).count();
                    if reachable == usize::from(signers) {
                        return Ok(coordinator);
                    }
                    format!("{reachable} of {signers} signers reachable")
                }
                Err(e) => format!("{e:#}"),
            },
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() > deadline {
            bail!("the cluster was not ready after {} s: {last}", READY_DEADLINE.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Validates the received text from the DS records, as a resolver would.
fn validate_locally(
    text: &str,
    ds_text: &str,
    path: &Path,
    apex: &StoredName,
) -> anyhow::Result<frostzone_dnssec::validate::Report> {
    let ds: Vec<_> = load_zone_text(ds_text, Path::new("DS from the coordinator"), apex)?
        .into_iter()
        .filter_map(|r| match r.record.into_data() {
            ZoneRecordData::Ds(ds) => Some(ds),
            _ => None,
        })
        .collect();
    if ds.is_empty() {
        bail!("the coordinator returned no DS record");
    }
    let options = ValidationOptions { now: super::now_or(None)?, anchor: TrustAnchor::Ds(ds), expiry_warning: 0 };
    let (_, report) = validate_text(text, path, apex, &options).context("the signed zone does not read back")?;
    if !report.is_valid() {
        for e in &report.errors {
            eprintln!("{e}");
        }
        bail!("{}; nothing was written", report.summary());
    }
    Ok(report)
}
