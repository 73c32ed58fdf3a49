//! `frostzone bench floor`: the protocol floor a benchmark compares a
//! cluster's CPU against (`frostzone_threshold::measure_floor`).

use anyhow::{bail, Context};
use frostzone_threshold::{generate_with_dkg, measure_floor, Quorum};

use crate::Outcome;

/// Rounds the floor is measured in; the fastest counts.
const ROUNDS: usize = 5;

/// Measurements for the benchmark (bench/compare.sh).
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Measure the protocol floor: RFC 9591's own CPU work per signature for
    /// a t-of-n group, in one process on one thread (commitments, every
    /// party's parsing of them, signature shares, aggregation and its
    /// check). Prints one `floor ...` line a script can read.
    Floor(FloorArgs),
}

#[derive(clap::Args)]
struct FloorArgs {
    /// Signers per signature (t).
    #[arg(long, default_value_t = 3)]
    threshold: u16,
    /// Participants holding a share (n).
    #[arg(long, default_value_t = 5)]
    signers: u16,
    /// Signatures to measure.
    #[arg(long, default_value_t = 3000)]
    signatures: usize,
    /// Length of each signed message: an RRSIG's signed data is typically
    /// 100–300 bytes (RFC 4034 §3.1.8.1).
    #[arg(long, default_value_t = 160)]
    message_len: usize,
}

pub fn execute(args: Args) -> anyhow::Result<Outcome> {
    match args.what {
        What::Floor(a) => floor(a),
    }
}

fn floor(args: FloorArgs) -> anyhow::Result<Outcome> {
    if args.signatures == 0 {
        bail!("--signatures must be at least 1");
    }
    let quorum = Quorum::new(args.threshold, args.signers).context("--threshold/--signers")?;
    let mut rng = rand::rngs::OsRng;
    let group = generate_with_dkg(quorum, &mut rng).context("DKG for the measurement")?;
    // A short warm-up, so caches and the allocator do not count; then the
    // fastest of five rounds, as a floor is a lower bound and a busy
    // machine only ever adds to it.
    measure_floor(&group, 50.min(args.signatures), args.message_len, &mut rng)?;
    let per_round = args.signatures.div_ceil(ROUNDS).max(1);
    let mut f = measure_floor(&group, per_round, args.message_len, &mut rng)?;
    for _ in 1..ROUNDS {
        let round = measure_floor(&group, per_round, args.message_len, &mut rng)?;
        if round.total() < f.total() {
            f = round;
        }
    }
    let us = |d: std::time::Duration| d.as_secs_f64() * 1e6;
    println!(
        "floor {}-of-{}: {:.1} us per signature, the fastest of {ROUNDS} rounds of {} signatures (commit {:.1}, parse commitments {:.1}, sign {:.1}, aggregate {:.1})",
        args.threshold,
        args.signers,
        us(f.total()),
        f.signatures,
        us(f.commit),
        us(f.parse_commitments),
        us(f.sign),
        us(f.aggregate)
    );
    Ok(Outcome::Success)
}
