//! Prints the reference zone used for signer benchmarks (see stack.md and bench/compare.sh):
//! SOA, two apex NS with glue, and N delegations `dNNNNNN` with two out-of-zone NS each; every
//! third delegation also has a DS (algorithm 15, digest type 2, deterministic pseudo-random digest).
//! Names have six digits, or as many as N - 1 has beyond a million delegations, so every zone below
//! a million is the same as it always was.
//!
//! Usage: `gen-reference-zone --delegations N [--origin ref.test.]`

#![forbid(unsafe_code)]

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use frostzone_tests::split_mix::SplitMix64;

struct Args {
    delegations: u32,
    origin: String,
}

fn parse_args() -> Result<Args, String> {
    let mut delegations = None;
    let mut origin = "ref.test.".to_string();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--delegations" | "-n" => {
                let v = it.next().ok_or("--delegations needs a value")?;
                delegations = Some(v.parse().map_err(|_| format!("bad --delegations value {v:?}"))?);
            }
            "--origin" => {
                origin = it.next().ok_or("--origin needs a value")?;
                if !origin.ends_with('.') {
                    origin.push('.');
                }
            }
            "-h" | "--help" => {
                return Err(String::new());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let delegations = delegations.ok_or("--delegations N is required")?;
    Ok(Args { delegations, origin })
}

fn write_zone(out: &mut impl Write, args: &Args) -> std::io::Result<()> {
    let o = &args.origin;
    writeln!(out, "; reference zone: {} delegations, every third with a DS", args.delegations)?;
    writeln!(out, "$ORIGIN {o}")?;
    writeln!(out, "$TTL 3600")?;
    writeln!(out, "@ IN SOA ns1.{o} hostmaster.{o} 1 7200 3600 1209600 300")?;
    writeln!(out, "@ IN NS ns1.{o}")?;
    writeln!(out, "@ IN NS ns2.{o}")?;
    writeln!(out, "ns1 IN A 192.0.2.1")?;
    writeln!(out, "ns2 IN A 192.0.2.2")?;
    let mut rng = SplitMix64(0x6672_6F73_747A_6F6E); // "frostzon"
    let width = name_digits(args.delegations);
    for i in 0..args.delegations {
        let d = format!("d{i:0width$}");
        writeln!(out, "{d} IN NS ns1.{d}.example.net.")?;
        writeln!(out, "{d} IN NS ns2.{d}.example.net.")?;
        if i % 3 == 0 {
            let tag = (rng.next_u64() & 0xFFFF) as u16;
            let digest: String = (0..4).map(|_| format!("{:016X}", rng.next_u64())).collect();
            writeln!(out, "{d} IN DS {tag} 15 2 {digest}")?;
        }
    }
    Ok(())
}

/// Digits in a delegation's name: six, or as many as the last index has.
fn name_digits(delegations: u32) -> usize {
    delegations.saturating_sub(1).to_string().len().max(6)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("gen-reference-zone: {e}");
            }
            eprintln!("usage: gen-reference-zone --delegations N [--origin ref.test.]");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    match write_zone(&mut out, &args).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-reference-zone: writing the zone: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::name_digits;

    #[test]
    fn names_widen_only_beyond_a_million() {
        assert_eq!(name_digits(0), 6);
        assert_eq!(name_digits(300), 6);
        assert_eq!(name_digits(1_000_000), 6);
        assert_eq!(name_digits(1_000_001), 7);
        assert_eq!(name_digits(10_000_001), 8);
    }
}
