//! `frostzone`: the operator's command line.
//!
//! Each subcommand lives in its own module under `commands/` with an
//! `execute` function; this file only parses arguments and maps outcomes
//! to exit codes (0 success; 1 the zone does not validate, the audit log
//! does not verify, or a signer refused an approval or rejection; 2 bad
//! input or any other error, including every error the coordinator reports,
//! such as "quorum unavailable: ...").
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod admin;
mod client;
mod cluster;
mod commands;
mod lifecycle;
mod output;
mod progress;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// frostzone: threshold DNSSEC signing with FROST Ed25519 keys.
#[derive(Parser)]
#[command(name = "frostzone", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    client: client::ClientArgs,
}

#[derive(Subcommand)]
enum Command {
    Quickstart(commands::quickstart::Args),
    Certs(commands::certs::Args),
    Keys(commands::keys::Args),
    Roster(commands::roster::Args),
    Ds(commands::zone::DsArgs),
    Sign(commands::zone::SignArgs),
    Diff(commands::diff::Args),
    Zone(commands::zone::ZoneArgs),
    Status(commands::status::Args),
    Simulate(commands::simulate::Args),
    Verify(commands::verify::Args),
    Audit(commands::audit::Args),
    Bench(commands::bench::Args),
    Requests(commands::requests::ListArgs),
    Request(commands::requests::ShowArgs),
    Pending(commands::approval::PendingArgs),
    Show(commands::approval::ShowArgs),
    Approve(commands::approval::ApproveArgs),
    Reject(commands::approval::RejectArgs),
}

/// What a command tells `main` about how it ended.
pub enum Outcome {
    /// Everything worked.
    Success,
    /// The zone does not validate, or the audit log does not verify; the
    /// report has been printed.
    Invalid,
    /// A signer refused the approval or rejection asked of it; why has
    /// been printed.
    Refused,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FROSTZONE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Quickstart(args) => commands::quickstart::execute(args),
        Command::Certs(args) => commands::certs::execute(args),
        Command::Keys(args) => commands::keys::execute(args, cli.client),
        Command::Roster(args) => commands::roster::execute(args),
        Command::Ds(args) => commands::zone::execute_ds(args, cli.client),
        Command::Sign(args) => commands::zone::execute_sign(args, cli.client),
        Command::Diff(args) => commands::diff::execute(args),
        Command::Zone(args) => commands::zone::execute_zone(args, cli.client),
        Command::Status(args) => commands::status::execute(args, cli.client),
        Command::Simulate(args) => commands::simulate::execute(args),
        Command::Verify(args) => commands::verify::execute(args),
        Command::Audit(args) => commands::audit::execute(args),
        Command::Bench(args) => commands::bench::execute(args),
        Command::Requests(args) => commands::requests::execute_list(args, cli.client),
        Command::Request(args) => commands::requests::execute_show(args, cli.client),
        Command::Pending(args) => commands::approval::execute_pending(args),
        Command::Show(args) => commands::approval::execute_show(args),
        Command::Approve(args) => commands::approval::execute_approve(args),
        Command::Reject(args) => commands::approval::execute_reject(args),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Invalid | Outcome::Refused) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
