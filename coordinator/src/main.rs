//! `frostzone-coordinator --config coordinator.toml [--check-config]`
//! `frostzone-coordinator --config coordinator.toml health`: whether the
//! running coordinator answers (container health checks).
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

use anyhow::Context;
use clap::Parser;
use frostzone_coordinator::config::Config;

/// The frostzone coordinator: collects t-of-n FROST signatures from the
/// signer nodes, validates and releases signed zones.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The config file (TOML, version = 1).
    #[arg(long, env = "FROSTZONE_COORDINATOR_CONFIG")]
    config: PathBuf,
    /// Check the config and every file it names, then exit.
    #[arg(long)]
    check_config: bool,
    /// Log lines as `text` or `json` (one object a line, with the request
    /// id of every line of a request).
    #[arg(long, env = "FROSTZONE_LOG_FORMAT", default_value = "text", value_name = "text|json")]
    log_format: frostzone_proto::log::LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Check that the coordinator running with this config answers gRPC
    /// over mutual TLS on its listen address (a container's health check):
    /// prints one line and exits 0, or says why not and exits 1. It calls
    /// with the coordinator's own certificate, which is not an operator's:
    /// the refusal that comes back proves TLS, HTTP/2 and the service work.
    Health {
        /// The DNS name in the coordinator's certificate.
        #[arg(long, default_value = "coordinator")]
        server_name: String,
    },
}

/// How long `health` waits for the answer.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `health`: one Status call to our own listen address.
async fn health(config: &Config, server_name: &str) -> anyhow::Result<()> {
    use frostzone_proto::v1::coordinator_client::CoordinatorClient;
    let mut at = config.listen;
    if at.ip().is_unspecified() {
        at.set_ip(if at.is_ipv4() { std::net::Ipv4Addr::LOCALHOST.into() } else { std::net::Ipv6Addr::LOCALHOST.into() });
    }
    let ask = async {
        let channel = tonic::transport::Endpoint::from_shared(format!("https://{at}"))?
            .tls_config(config.tls.client_config(server_name)?)?
            .connect()
            .await?;
        let request = frostzone_proto::v1::StatusRequest { api_version: frostzone_proto::API_VERSION };
        anyhow::Ok(CoordinatorClient::new(channel).status(request).await)
    };
    let answer = tokio::time::timeout(HEALTH_TIMEOUT, ask)
        .await
        .map_err(|_| anyhow::anyhow!("{at}: no answer within {} s", HEALTH_TIMEOUT.as_secs()))?
        .with_context(|| format!("{at}: cannot connect over mutual TLS"))?;
    match answer {
        Ok(_) => println!("ok: the coordinator answers on {at}"),
        Err(s) if s.code() == tonic::Code::PermissionDenied => {
            println!("ok: the coordinator answers on {at} (and refuses its own certificate, as it should)")
        }
        Err(s) => anyhow::bail!("{at}: the coordinator answered {:?}: {}", s.code(), s.message()),
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    #[cfg(not(feature = "system-allocator"))]
    frostzone_proto::allocator::return_freed_memory_at_once();
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes on one line, without a backtrace: these
            // are operator errors (a config field, a port in use). Causes
            // that a message already quotes are not repeated.
            let mut line = String::new();
            for cause in e.chain().map(|c| c.to_string()) {
                if !line.contains(&cause) {
                    if !line.is_empty() {
                        line.push_str(": ");
                    }
                    line.push_str(&cause);
                }
            }
            eprintln!("frostzone-coordinator: {line}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    frostzone_proto::log::init(args.log_format);
    // One crypto provider for the whole process (ring), whatever else the
    // dependency tree brings.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let config = Config::load(&args.config)?;
    if let Some(Command::Health { server_name }) = &args.command {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
        return runtime.block_on(health(&config, server_name));
    }
    if args.check_config {
        config.check_files()?;
        println!("{}: ok", args.config.display());
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("frostzone-coordinator")
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let shutdown = async {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("cannot watch SIGTERM: {e}");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tracing::info!("stopping");
        };
        frostzone_coordinator::serve(config, shutdown).await
    });
    // Blocking work still running (a plan, an aggregation) is abandoned
    // rather than waited for.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(result?)
}
