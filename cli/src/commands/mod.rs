//! One module per subcommand.

pub mod approval;
pub mod audit;
pub mod bench;
pub mod certs;
pub mod dev_cluster;
pub mod diff;
pub mod key_life_cycle;
pub mod key_role;
pub mod keys;
pub mod quickstart;
pub mod requests;
pub mod roster;
pub mod simulate;
pub mod status;
pub mod verify;
pub mod zone;

use anyhow::Context;
use frostzone_dnssec::StoredName;
use std::str::FromStr;

/// Parses a zone name given on the command line.
pub fn parse_origin(text: &str) -> anyhow::Result<StoredName> {
    StoredName::from_str(text).with_context(|| format!("--origin {text:?} is not a valid domain name"))
}

/// Seconds since the epoch, or the `--now` override.
pub fn now_or(over: Option<u32>) -> anyhow::Result<u32> {
    match over {
        Some(n) => Ok(n),
        None => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("the system clock is before 1970")?
                .as_secs();
            // DNSSEC timestamps are serial numbers mod 2^32 (RFC 4034 §3.1.5).
            Ok(secs as u32)
        }
    }
}
