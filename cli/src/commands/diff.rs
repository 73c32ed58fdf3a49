//! `frostzone diff`: the changes that turn one version of a zone into
//! another, in the IXFR form of RFC 1995 §4, computed here without a
//! cluster. The output is what `frostzone sign --changes` takes.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;
use frostzone_dnssec::change_set::{ChangeSet, ZoneContent};
use frostzone_dnssec::load::load_zone_file;
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::StoredName;

use crate::output::write_atomically;
use crate::Outcome;

/// Write the change set that turns OLD into NEW (IXFR form, RFC 1995 §4:
/// OLD's SOA, the records removed, NEW's SOA, the records added). A record
/// whose TTL changed is removed and added again. DNSSEC records frostzone
/// generates (RRSIG, NSEC, NSEC3, NSEC3PARAM, DNSKEY, CDS, CDNSKEY) are
/// left out, so signed versions compare as their content.
#[derive(clap::Args)]
pub struct Args {
    /// The version the changes apply to.
    old: PathBuf,
    /// The version they make.
    new: PathBuf,
    /// The zone, e.g. example.com.
    #[arg(long)]
    zone: String,
    /// Where to write the changes (atomically); default: standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn execute(args: Args) -> anyhow::Result<Outcome> {
    let absolute = if args.zone.ends_with('.') { args.zone.clone() } else { format!("{}.", args.zone) };
    let apex = StoredName::from_str(&absolute).with_context(|| format!("--zone {:?} is not a valid domain name", args.zone))?;
    let old = content(&args.old, &apex)?;
    let new = content(&args.new, &apex)?;
    let set = ZoneContent::compare(&old, &new).context("cannot compare the two versions")?;
    let text = set.to_text();
    summarize(&set, &args.old, &args.new);
    match &args.out {
        Some(path) => write_atomically(path, text.as_bytes())?,
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush()).context("cannot write to standard output")?;
        }
    }
    Ok(Outcome::Success)
}

/// The unsigned content of the zone file at `path`.
fn content(path: &Path, apex: &StoredName) -> anyhow::Result<ZoneContent> {
    // The load error names the file and line, and holds its cause: one line.
    let records = load_zone_file(path, apex).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (content, generated) = ZoneContent::new(apex.clone(), records).without_generated();
    if !generated.is_empty() {
        eprintln!("{}: {} DNSSEC records left out (frostzone makes them when it signs)", path.display(), generated.len());
    }
    if content.soa().is_none() {
        anyhow::bail!("{}: no SOA record at the apex {}", path.display(), FqdnDisplay(apex));
    }
    Ok(content)
}

/// One line on stderr: what changed, and a warning when the serial did
/// not move (the coordinator's serial policy then decides the new one).
fn summarize(set: &ChangeSet, old: &Path, new: &Path) {
    let (from, to) = (set.from_serial(), set.to_serial());
    eprintln!("serial {from} -> {to}: records removed {}, added {}", set.removed.len(), set.added.len());
    if set.is_empty() {
        eprintln!("{} and {} hold the same records", old.display(), new.display());
    }
    if !frostzone_dnssec::serial::is_newer(to, from) {
        eprintln!(
            "warning: the serial of {} ({to}) is not newer than that of {} ({from}); secondaries only \
             fetch newer serials, so the coordinator's serial policy must raise it (increment does)",
            new.display(),
            old.display()
        );
    }
}
