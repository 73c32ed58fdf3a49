//! `frostzone-coordinator --config coordinator.toml [--check-config]`
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

/// Returns freed memory to the system far better than glibc's arenas
/// under rayon's and tokio's many threads (see the workspace Cargo.toml).
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
}

fn main() -> std::process::ExitCode {
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
