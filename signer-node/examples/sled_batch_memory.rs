//! How much memory sled (0.34) takes to write a zone's baseline entries in
//! batches of a given size: the measurement behind
//! `baseline::SPLIT_BATCH_WRITES`. One size per process, so that each
//! peak is its own:
//!
//! ```text
//! cargo run --release -p frostzone-signer-node --example sled_batch_memory -- 4096
//! cargo run --release -p frostzone-signer-node --example sled_batch_memory -- 256
//! cargo run --release -p frostzone-signer-node --example sled_batch_memory -- 1
//! ```
//!
//! It writes 233,343 entries (the reference zone's RRsets at 100,000
//! delegations) of about the baseline's key and value sizes, in key order
//! as staging does, into a fresh store with the signer's cache setting,
//! and prints the time taken and the process's peak resident memory.

use std::time::Instant;

use anyhow::Context;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ENTRIES: usize = 233_343;
/// As the signer's store (`store::SLED_CACHE_BYTES`).
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

fn peak_resident_mb() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM in /proc/self/status")?;
    let kb: u64 = line.split_whitespace().nth(1).context("VmHWM without a value")?.parse()?;
    Ok(kb / 1024)
}

fn main() -> anyhow::Result<()> {
    let batch_writes: usize = std::env::args().nth(1).context("usage: sled_batch_memory WRITES_PER_BATCH")?.parse()?;
    anyhow::ensure!(batch_writes > 0, "WRITES_PER_BATCH must be at least 1");
    let dir = tempfile::tempdir()?;
    let db = sled::Config::new().path(dir.path()).cache_capacity(CACHE_BYTES).open()?;
    let tree = db.open_tree("baseline")?;
    let started = Instant::now();
    let mut next = 0;
    while next < ENTRIES {
        let end = (next + batch_writes).min(ENTRIES);
        let mut batch = sled::Batch::default();
        for n in next..end {
            // A zone prefix, a delegation's canonical key, the type.
            let key = format!("\0\x09ref.test.\x04test\x03ref\0d{n:08}\0\0\x02");
            batch.insert(key.as_bytes(), vec![(n % 251) as u8; 110]);
        }
        tree.apply_batch(batch)?;
        next = end;
    }
    db.flush()?;
    println!(
        "{ENTRIES} entries in batches of {batch_writes}: {:.1} s, peak resident {} MB",
        started.elapsed().as_secs_f64(),
        peak_resident_mb()?
    );
    Ok(())
}
