//! `frostzone audit`: list a node's hash-chained audit log, and with
//! `--verify` check that no entry was edited, dropped or reordered
//! (exit 1 naming the first bad entry).

use std::path::PathBuf;

use anyhow::Context;
use frostzone_proto::audit::{verify, AuditEntry};

use crate::table::Table;
use crate::Outcome;

/// List or verify an audit log (a signer's `<data_dir>/audit.log`, or the
/// coordinator's).
#[derive(clap::Args)]
pub struct Args {
    /// The audit log file.
    #[arg(long, env = "FROSTZONE_AUDIT_LOG")]
    file: PathBuf,
    /// Only check the hash chain: exit 0 printing the entry count and the
    /// head hash, or 1 naming the first bad entry.
    #[arg(long)]
    verify: bool,
}

pub fn execute(args: Args) -> anyhow::Result<Outcome> {
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let verified = match verify(&text) {
        Ok(v) => v,
        Err(e) => {
            println!("{}: does not verify: {e}", args.file.display());
            return Ok(Outcome::Invalid);
        }
    };
    if args.verify {
        println!(
            "{}: {} entries, chain intact, head {}",
            args.file.display(),
            verified.entries.len(),
            verified.head
        );
        return Ok(Outcome::Success);
    }
    let mut table = Table::new(&["SEQ", "TIME", "NODE", "EVENT", "REQUEST", "ZONE", "CONTENT", "BY", "SIGNERS", "CULPRITS", "OUTCOME"]);
    for e in &verified.entries {
        table.row(row(e));
    }
    print!("{}", table.render());
    Ok(Outcome::Success)
}

fn row(e: &AuditEntry) -> Vec<String> {
    let short = |s: &str| s.chars().take(16).collect::<String>();
    let cells = vec![
        e.seq.to_string(),
        frostzone_dnssec::time::format_timestamp(e.time as u32),
        e.node.clone(),
        e.event.clone(),
        short(&e.request),
        e.zone.clone(),
        short(&e.content_hash),
        e.operator.clone(),
        e.signers.join(","),
        e.culprits.join(","),
        e.outcome.clone(),
    ];
    cells.into_iter().map(|c| if c.is_empty() { "-".to_string() } else { c }).collect()
}
