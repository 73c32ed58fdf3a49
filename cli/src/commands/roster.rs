//! `frostzone roster`: the roster every signer and operator holds — every
//! participant of the deployment's key groups (number, name, identity
//! key) and t (`frostzone_proto::roster`).
//!
//! Each operator prints its signer's entry with `frostzone-signer --config
//! signer.toml identity` and sends it to the others over a channel they
//! trust; every operator then makes the same file with `roster init` and
//! they compare the fingerprint `roster show` prints (docs/operations.md).

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use frostzone_proto::roster::{parse_entries, Roster};

use crate::Outcome;

/// The roster file.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    Init(InitArgs),
    Show(ShowArgs),
}

/// Make a roster from every signer's identity entry.
#[derive(clap::Args)]
pub struct InitArgs {
    /// t: signers needed for every signature of the deployment's keys.
    #[arg(long)]
    threshold: u16,
    /// The roster file to write (written whole, then renamed into place).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Files holding the entries `frostzone-signer ... identity` printed
    /// (`-`: standard input); every participant once.
    #[arg(required = true, value_name = "ENTRIES")]
    entries: Vec<PathBuf>,
}

/// Print a roster's t, members and fingerprint (compare the fingerprint
/// with the other operators').
#[derive(clap::Args)]
pub struct ShowArgs {
    /// The roster file.
    file: PathBuf,
}

pub fn execute(args: Args) -> anyhow::Result<Outcome> {
    match args.command {
        Command::Init(a) => {
            let mut members = Vec::new();
            for file in &a.entries {
                let text = if file.as_os_str() == "-" {
                    let mut text = String::new();
                    std::io::stdin().read_to_string(&mut text).context("cannot read the entries from standard input")?;
                    text
                } else {
                    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
                };
                members.extend(parse_entries(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?);
            }
            members.sort_by_key(|m| m.0);
            let text = Roster::to_toml(a.threshold, &members);
            // Checked before anything is written.
            let roster = Roster::parse(&text, &a.out).map_err(|e| anyhow::anyhow!("{e}"))?;
            crate::output::write_atomically(&a.out, text.as_bytes())?;
            println!("wrote {}: {}-of-{}, fingerprint {}", a.out.display(), roster.threshold, roster.len(), roster.fingerprint());
        }
        Command::Show(a) => {
            let roster = Roster::load(&a.file).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}: {}-of-{}", a.file.display(), roster.threshold, roster.len());
            for m in roster.members() {
                println!("  participant {:<3} {:<20} identity {}", m.participant, m.name, m.identity);
            }
            println!("fingerprint {}", roster.fingerprint());
        }
    }
    Ok(Outcome::Success)
}
