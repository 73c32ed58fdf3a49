//! Throwaway timing: 2,000 messages signed 3-of-5 with
//! `SimulatedGroup::sign_batch`, all in one process.
//!
//! `cargo run --release -p frostzone-threshold --example bench_sign`

use std::time::Instant;

use ed25519_dalek::{Signature, VerifyingKey};
use frostzone_threshold::{generate_with_dkg, Quorum};
use rand::rngs::OsRng;

const MESSAGES: usize = 2_000;
/// About the size of the RFC 4034 §6.2 signed data of a delegation's NS RRset.
const MESSAGE_LEN: usize = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let group = generate_with_dkg(Quorum::new(3, 5)?, &mut OsRng)?;
    let messages: Vec<Vec<u8>> = (0..MESSAGES)
        .map(|i| {
            let mut m = vec![0u8; MESSAGE_LEN];
            m[..8].copy_from_slice(&(i as u64).to_be_bytes());
            m
        })
        .collect();

    let start = Instant::now();
    let signatures = group.sign_batch(&[], &messages, &mut OsRng, &mut |_| {})?;
    let elapsed = start.elapsed();

    let key = VerifyingKey::from_bytes(&group.verifying_key_bytes())?;
    for (m, s) in messages.iter().zip(&signatures) {
        key.verify_strict(m, &Signature::from_bytes(s))?;
    }
    println!(
        "3-of-5 sign_batch: {} messages of {} bytes in {:.3} s = {:.0} us/signature ({} rayon threads), all verify_strict ok",
        MESSAGES,
        MESSAGE_LEN,
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / MESSAGES as f64,
        rayon::current_num_threads(),
    );
    Ok(())
}
