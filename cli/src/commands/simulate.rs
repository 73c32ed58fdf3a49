//! `frostzone simulate`: the whole threshold signing engine in one
//! process, for trying it and for measuring the cryptography alone.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use frostzone_dnssec::denial::{Denial, Nsec3Config};
use frostzone_dnssec::domain::base::Ttl;
use frostzone_dnssec::keys::{KeyRole, KeyTag, ZoneKey};
use frostzone_dnssec::load::load_zone_file;
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::present::{rdata_text, zone_text};
use frostzone_dnssec::signing::{SigningPlan, SigningPolicy, DEFAULT_DNSKEY_TTL_SECS, DEFAULT_INCEPTION_OFFSET_SECS};
use frostzone_dnssec::validate::{validate_text, TrustAnchor, ValidationOptions};
use frostzone_dnssec::zone::{InputKind, Zone};
use frostzone_dnssec::domain::rdata::ZoneRecordData;
use frostzone_threshold::{generate_with_dkg, split_existing_key, Quorum, SimulatedGroup};
use rand::seq::SliceRandom;

use crate::output::write_atomically;
use crate::Outcome;

/// Sign a zone with a simulated t-of-n FROST group, all in this process.
///
/// Runs distributed key generation among N simulated participants (or
/// splits an existing key), threshold-signs every RRset with a random
/// quorum of T of them, validates the result and writes it. Nothing here
/// is distributed: it is for trying the engine and for measuring the cost
/// of the cryptography alone. Real deployments keep each share on its own
/// signer node.
#[derive(clap::Args)]
pub struct Args {
    /// The unsigned zone file (RFC 1035 master file; $INCLUDE is followed).
    zonefile: PathBuf,
    /// The zone's name (the initial $ORIGIN).
    #[arg(long)]
    origin: String,
    /// Signature shares needed for a signature (t).
    #[arg(long, default_value_t = 3)]
    threshold: u16,
    /// Participants holding a share (n).
    #[arg(long, default_value_t = 5)]
    signers: u16,
    /// Where to write the signed zone.
    #[arg(long)]
    out: PathBuf,
    /// Where to write the DS record(s) for the parent.
    #[arg(long)]
    ds_out: PathBuf,
    /// Use NSEC instead of NSEC3.
    #[arg(long, conflicts_with = "nsec3_opt_out")]
    nsec: bool,
    /// NSEC3 with opt-out: insecure delegations are left out of the chain.
    #[arg(long)]
    nsec3_opt_out: bool,
    /// One combined signing key (flags 257) instead of a KSK and a ZSK.
    #[arg(long)]
    csk: bool,
    /// Split this existing Ed25519 key (BIND/ldns .private file) instead of
    /// generating the KSK (or CSK): existing DS records stay valid.
    #[arg(long, value_name = "FILE.private")]
    import_key: Option<PathBuf>,
    /// Publish CDS and CDNSKEY records for the KSK (RFC 7344).
    #[arg(long)]
    cds: bool,
    /// Signature lifetime in days.
    #[arg(long, default_value_t = 14)]
    validity_days: u32,
    /// TTL of DNSKEY, CDS, CDNSKEY and DS records.
    #[arg(long, default_value_t = DEFAULT_DNSKEY_TTL_SECS)]
    dnskey_ttl: u32,
    /// Sign as if it were this time (seconds since the epoch); for tests.
    #[arg(long, hide = true)]
    now: Option<u32>,
}

pub fn execute(args: Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let apex = super::parse_origin(&args.origin)?;
    let quorum = Quorum::new(args.threshold, args.signers)
        .with_context(|| format!("--threshold {} --signers {}", args.threshold, args.signers))?;
    let now = super::now_or(args.now)?;

    let records = load_zone_file(&args.zonefile, &apex)?;
    let zone = Zone::from_records(apex.clone(), records, InputKind::Unsigned)?;
    for w in &zone.warnings {
        tracing::warn!("{w}");
    }
    let loaded = started.elapsed();

    let mut rng = rand::rngs::OsRng;
    let sep_role = if args.csk { KeyRole::Csk } else { KeyRole::Ksk };
    let sep_group = match &args.import_key {
        Some(path) => {
            let seed = frostzone_dnssec::keyfile::read_ed25519_private(path)?;
            let group = split_existing_key(&seed, quorum, &mut rng)
                .with_context(|| format!("cannot split the key in {}", path.display()))?;
            tracing::warn!(
                "{} was split into {} shares; in production, destroy the file once every share is in place",
                path.display(),
                quorum.signers()
            );
            group
        }
        None => generate_with_dkg(quorum, &mut rng).context("distributed key generation failed")?,
    };
    let mut groups: Vec<(ZoneKey, SimulatedGroup)> = vec![(ZoneKey::ed25519(sep_role, sep_group.verifying_key_bytes()), sep_group)];
    if !args.csk {
        // A ZSK whose tag collides with the KSK's would make an ambiguous
        // DNSKEY set: generate again (RFC 4034 Appendix B; .de 2026).
        loop {
            let group = generate_with_dkg(quorum, &mut rng).context("distributed key generation failed")?;
            let key = ZoneKey::ed25519(KeyRole::Zsk, group.verifying_key_bytes());
            if key.key_tag() != groups[0].0.key_tag() {
                groups.push((key, group));
                break;
            }
        }
    }
    let keys: Vec<ZoneKey> = groups.iter().map(|(k, _)| k.clone()).collect();

    let denial = if args.nsec {
        Denial::Nsec
    } else {
        Denial::Nsec3(Nsec3Config { opt_out: args.nsec3_opt_out, ..Nsec3Config::default() })
    };
    let policy = SigningPolicy {
        inception_offset: DEFAULT_INCEPTION_OFFSET_SECS,
        validity: args.validity_days.saturating_mul(86_400),
        dnskey_ttl: Ttl::from_secs(args.dnskey_ttl),
        publish_cds: args.cds,
        denial,
    };
    let plan = SigningPlan::prepare(zone, &keys, &policy, now)?;
    let planned = started.elapsed();

    // One batch per key: every item that key signs goes out together.
    let total = plan.items().len();
    let mut by_key: BTreeMap<KeyTag, Vec<usize>> = BTreeMap::new();
    for (i, item) in plan.items().iter().enumerate() {
        by_key.entry(item.key_tag).or_default().push(i);
    }
    let bar = crate::progress::signatures(total as u64);
    let mut signatures = vec![[0u8; 64]; total];
    for (key, group) in &groups {
        let Some(indexes) = by_key.get(&key.key_tag()) else { continue };
        let mut ids = group.identifiers();
        ids.shuffle(&mut rand::thread_rng());
        ids.truncate(usize::from(quorum.threshold()));
        ids.sort();
        bar.set_message(key.role.to_string());
        let messages = plan.signed_data(indexes.iter().copied()).context("a signing item outside its plan")?;
        let mut done_before = bar.position();
        let sigs = group
            .sign_batch(&ids, &messages, &mut rng, &mut |done| {
                bar.set_position(done_before + done as u64);
            })
            .with_context(|| format!("threshold signing with the {} (key tag {}) failed", key.role, key.key_tag()))?;
        done_before += sigs.len() as u64;
        bar.set_position(done_before);
        for (&i, sig) in indexes.iter().zip(sigs) {
            signatures[i] = sig;
        }
    }
    bar.finish_and_clear();
    let signed_at = started.elapsed();

    let signed = plan.complete(signatures)?;
    let text = zone_text(&signed);
    // The validator builds a zone of its own from the text: free this one
    // first, it would double the peak memory.
    drop(signed);
    let sep = &keys[0];
    let ds = sep.ds(&apex);
    let options = ValidationOptions {
        now,
        anchor: TrustAnchor::Ds(vec![ds.clone()]),
        expiry_warning: 0,
    };
    let (_, report) = validate_text(&text, &args.out, &apex, &options).context("the signed zone does not read back")?;
    let validated = started.elapsed();
    if !report.is_valid() {
        for f in &report.errors {
            eprintln!("{f}");
        }
        eprintln!("{}", report.summary());
        eprintln!("nothing was written: the signed zone does not validate");
        return Ok(Outcome::Invalid);
    }
    let ds_line = format!(
        "{}\t{}\tIN\tDS\t{}\n",
        FqdnDisplay(&apex),
        args.dnskey_ttl,
        rdata_text(&ZoneRecordData::Ds(ds))
    );
    write_atomically(&args.out, text.as_bytes())?;
    write_atomically(&args.ds_out, ds_line.as_bytes())?;
    if total == 0 {
        bail!("no signatures were made");
    }
    let sign_secs = (signed_at - planned).as_secs_f64();
    println!("{}", report.summary());
    println!(
        "signed {} with {} FROST {} (keys: {}): {} RRSIGs in {:.2} s of threshold signing ({:.0} RRSIGs/s); total {:.2} s (load {:.2}, plan {:.2}, validate {:.2})",
        FqdnDisplay(&apex),
        quorum,
        if args.import_key.is_some() { "(imported key)" } else { "(DKG)" },
        keys.iter().map(|k| format!("{} {}", k.role, k.key_tag())).collect::<Vec<_>>().join(", "),
        total,
        sign_secs,
        total as f64 / sign_secs.max(1e-9),
        validated.as_secs_f64(),
        loaded.as_secs_f64(),
        (planned - loaded).as_secs_f64(),
        (validated - signed_at).as_secs_f64(),
    );
    println!("wrote {} and {}", args.out.display(), args.ds_out.display());
    Ok(Outcome::Success)
}
