//! `frostzone verify`: validate a signed zone from a trust anchor.

use std::path::{Path, PathBuf};

use anyhow::Context;
use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_dnssec::domain::rdata::ZoneRecordData;
use frostzone_dnssec::load::load_zone_file;
use frostzone_dnssec::validate::{validate_zone, TrustAnchor, ValidationOptions};
use frostzone_dnssec::zone::{InputKind, Zone};
use frostzone_dnssec::StoredName;

use crate::Outcome;

/// Warn about signatures that expire within this many seconds: three
/// days leaves a weekend to fix a stalled signer.
const EXPIRY_WARNING_SECS: u32 = 3 * 86_400;

/// Check that a signed zone validates: exit 0 with a one-line summary, or
/// 1 with every failure, each naming its record.
#[derive(clap::Args)]
pub struct Args {
    /// The signed zone file.
    signed: PathBuf,
    /// DS record(s) of the zone, as the parent publishes them.
    #[arg(long, conflicts_with = "dnskey")]
    ds: Option<PathBuf>,
    /// DNSKEY record(s) to trust instead of a DS.
    #[arg(long)]
    dnskey: Option<PathBuf>,
    /// The zone's name; by default the owner of the file's SOA record.
    #[arg(long)]
    origin: Option<String>,
    /// Validate as if it were this time (seconds since the epoch).
    #[arg(long, hide = true)]
    now: Option<u32>,
}

pub fn execute(args: Args) -> anyhow::Result<Outcome> {
    let apex = match &args.origin {
        Some(o) => super::parse_origin(o)?,
        None => find_apex(&args.signed)?,
    };
    let records = load_zone_file(&args.signed, &apex)?;
    let zone = Zone::from_records(apex.clone(), records, InputKind::Signed)?;
    let anchor = match (&args.ds, &args.dnskey) {
        (Some(path), _) => TrustAnchor::Ds(
            anchor_records(path, &apex)?
                .into_iter()
                .filter_map(|d| match d {
                    ZoneRecordData::Ds(ds) => Some(ds),
                    _ => None,
                })
                .collect(),
        ),
        (None, Some(path)) => TrustAnchor::Dnskey(
            anchor_records(path, &apex)?
                .into_iter()
                .filter_map(|d| match d {
                    ZoneRecordData::Dnskey(k) => Some(k),
                    _ => None,
                })
                .collect(),
        ),
        (None, None) => TrustAnchor::SelfSigned,
    };
    let options = ValidationOptions { now: super::now_or(args.now)?, anchor, expiry_warning: EXPIRY_WARNING_SECS };
    let report = validate_zone(&zone, &options);
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    for e in &report.errors {
        eprintln!("{e}");
    }
    if report.is_valid() {
        println!("{}", report.summary());
        Ok(Outcome::Success)
    } else {
        eprintln!("{}", report.summary());
        Ok(Outcome::Invalid)
    }
}

/// The owner of the first SOA record, read with the root as origin (signed
/// zones are written fully qualified).
pub(crate) fn find_apex(path: &Path) -> anyhow::Result<StoredName> {
    let records = load_zone_file(path, &StoredName::root_bytes())
        .with_context(|| format!("cannot find the zone's name in {}; give --origin", path.display()))?;
    records
        .into_iter()
        .find(|r| r.record.rtype() == Rtype::SOA)
        .map(|r| r.record.owner().clone())
        .with_context(|| format!("{}: no SOA record; give --origin", path.display()))
}

/// DS or DNSKEY records from an anchor file (zone file syntax; BIND .key
/// and dsset files qualify).
fn anchor_records(path: &Path, apex: &StoredName) -> anyhow::Result<Vec<frostzone_dnssec::StoredRecordData>> {
    let records = load_zone_file(path, apex)?;
    let out: Vec<_> = records
        .into_iter()
        .filter(|r| r.record.owner() == apex)
        .map(|r| r.record.into_data())
        .filter(|d| matches!(d, ZoneRecordData::Ds(_) | ZoneRecordData::Dnskey(_)))
        .collect();
    if out.is_empty() {
        anyhow::bail!("{}: no DS or DNSKEY record for {} in the trust anchor file", path.display(), apex);
    }
    Ok(out)
}
