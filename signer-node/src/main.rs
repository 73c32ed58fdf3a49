//! `frostzone-signer --config signer.toml [--check-config]`: a signer node.
//! `frostzone-signer --config signer.toml identity`: its identity key, as
//! a roster entry for the other operators.
//! `frostzone-signer --config signer.toml health`: whether the running
//! signer answers on its admin socket (container health checks).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

/// Returns freed memory to the system far better than glibc's arenas
/// under rayon's and tokio's many threads (see the workspace Cargo.toml).
/// The `system-allocator` feature leaves it out, so that heaptrack,
/// which follows malloc, can profile the process (docs/performance.md).
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use frostzone_signer_node::fault::Faults;
use frostzone_proto::audit::AuditLog;
use frostzone_signer_node::{admin, service, Config, Node, NodeOptions, Store};

/// A frostzone signer node: holds key shares, signs what the coordinator
/// asks after rebuilding it.
#[derive(Parser, Debug)]
#[command(name = "frostzone-signer", version = VERSION)]
struct Args {
    /// The signer's config file (TOML).
    #[arg(long, env = "FROSTZONE_SIGNER_CONFIG")]
    config: PathBuf,
    /// Check the config file (and that the roster, the policy file, the TLS
    /// files and the passphrase can be read and fit this signer), then exit.
    #[arg(long)]
    check_config: bool,
    /// Log lines as `text` or `json` (one object a line).
    #[arg(long, env = "FROSTZONE_LOG_FORMAT", default_value = "text", value_name = "text|json")]
    log_format: frostzone_proto::log::LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Print this signer's identity public key as a roster entry (making
    /// the key, and the store, at the first run), then exit. Give the
    /// entry to every other operator over a channel you trust; each builds
    /// the same roster file from all entries.
    Identity,
    /// Check that the signer running with this config answers on its admin
    /// socket (a container's health check): prints one line and exits 0,
    /// or says why not and exits 1. Needs no passphrase.
    Health,
}

/// How long `health` waits for the signer's answer.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `health`: one admin call over the socket, as the operator's CLI makes.
fn health(config: &Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async {
        let socket = &config.admin_socket;
        let ask = async {
            let mut admin = frostzone_proto::admin_socket::connect(socket).await?;
            let request = frostzone_proto::v1::AdminListRequest { api_version: frostzone_proto::API_VERSION, all: false };
            let listed = admin.list_requests(request).await.map_err(|s| anyhow::anyhow!("{}: the signer answered {:?}: {}", socket.display(), s.code(), s.message()))?;
            anyhow::Ok(listed.into_inner().requests.len())
        };
        let pending = tokio::time::timeout(HEALTH_TIMEOUT, ask)
            .await
            .map_err(|_| anyhow::anyhow!("{}: no answer within {} s", socket.display(), HEALTH_TIMEOUT.as_secs()))??;
        println!("ok: {} answers on {} ({pending} requests pending its operator)", config.name, socket.display());
        Ok(())
    })
}

/// `--version`: test builds say they can inject faults ([`Faults`]).
#[cfg(feature = "fault-injection")]
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (test build: fault injection compiled in)");
#[cfg(not(feature = "fault-injection"))]
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn main() -> Result<()> {
    #[cfg(not(feature = "system-allocator"))]
    frostzone_proto::allocator::return_freed_memory_at_once();
    let args = Args::parse();
    frostzone_proto::log::init(args.log_format);
    let config = Config::load(&args.config)?;
    if let Some(Command::Health) = args.command {
        // One line for the health check's log, whatever RUST_BACKTRACE says.
        if let Err(e) = health(&config) {
            eprintln!("frostzone-signer: unhealthy: {e:#}");
            std::process::exit(1);
        }
        return Ok(());
    }
    let participant = config.identifier()?;
    let passphrase = config.read_passphrase()?;
    if let Some(Command::Identity) = args.command {
        let store = Store::open(&config.data_dir, passphrase.as_bytes())?;
        let identity = frostzone_proto::roster::IdentityKey(store.identity().verifying_key());
        print!("{}", frostzone_proto::roster::member_entry(config.participant, &config.name, &identity));
        if let Ok(roster) = frostzone_proto::roster::Roster::load(&config.roster) {
            let listed = roster.member(&participant).map(|m| m.identity == identity && m.name == config.name);
            let note = match listed {
                Some(true) => "lists this signer as above",
                Some(false) => "lists ANOTHER identity or name for this participant",
                None => "does not list this signer yet",
            };
            eprintln!("# {} (fingerprint {}) {note}", config.roster.display(), roster.fingerprint());
        }
        return Ok(());
    }
    let roster = config.load_roster()?;
    let policy = config.load_policy()?;
    // Fail now, naming the file, rather than at the first connection.
    config.tls.server_config().context("TLS set-up")?;
    frostzone_proto::tls::pinned_certificate(&config.coordinator_cert)
        .context("tls.coordinator_cert")?;
    if args.check_config {
        println!("{}: ok", config.file.display());
        return Ok(());
    }

    let faults = Faults::from_env();
    let store = Store::open(&config.data_dir, passphrase.as_bytes())?;
    drop(passphrase);
    let audit = AuditLog::open(&config.audit_log, &config.name)?;
    let fingerprint = roster.fingerprint();
    let group = format!("{}-of-{}", roster.threshold, roster.len());
    let node = Arc::new(
        Node::new(
            NodeOptions {
                name: config.name.clone(),
                participant,
                session_timeout: config.session_timeout,
                proposal_bound: config.proposal_bound,
                faults,
            },
            store,
        )
        .with_policy(policy)
        .with_audit(audit)
        .with_roster(roster)
        .with_context(|| format!("{}: roster", config.file.display()))?,
    );
    tracing::info!(roster = %config.roster.display(), %fingerprint, %group, identity = %node.identity_key(), "roster loaded");

    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let (admin_listener, owner_uid) = admin::bind(&config.admin_socket)?;
        tracing::info!(name = %config.name, participant = config.participant, listen = %config.listen,
            admin_socket = %config.admin_socket.display(), "signer listening");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        // Both servers stop on the same signal, and either one ending (a
        // failed bind, say) stops the other.
        let stop = Arc::new(tokio::sync::watch::channel(()).0);
        let stopper = stop.clone();
        let stopping = node.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tracing::info!("shutting down");
            // The runtime waits for blocking threads: a staging baseline
            // ends at its next chunk rather than with the zone.
            stopping.stop_staging();
            let _ = stopper.send(());
        });
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<()>| async move {
            let _ = rx.changed().await;
        };
        let signer = async {
            let result = service::serve(node.clone(), config.listen, &config.tls, &config.coordinator_cert, until_stopped(stop.subscribe())).await;
            let _ = stop.send(());
            result
        };
        let operator = async {
            let result = admin::serve(node.clone(), admin_listener, owner_uid, &config.admin_socket, until_stopped(stop.subscribe())).await;
            let _ = stop.send(());
            result
        };
        if let Some(at) = config.metrics {
            let (metrics, tls, stopped) = (node.metrics().clone(), config.tls.clone(), until_stopped(stop.subscribe()));
            tracing::info!("metrics on {}://{}{}", if at.plain_http { "http" } else { "https" }, at.listen, frostzone_proto::metrics_endpoint::PATH);
            tokio::spawn(async move {
                let render = move || {
                    let metrics = metrics.clone();
                    async move { metrics.render() }
                };
                // Metrics are not worth stopping the signer for: a failure is logged.
                if let Err(e) = frostzone_proto::metrics_endpoint::serve(at, &tls, render, stopped).await {
                    tracing::error!("{e}");
                }
            });
        }
        let (signer, operator) = tokio::join!(signer, operator);
        signer.with_context(|| format!("signer {}", config.name))?;
        operator.with_context(|| format!("signer {}", config.name))
    })
}
