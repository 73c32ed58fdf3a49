//! FROST (RFC 9591) Ed25519 key groups and batch threshold signing: key
//! generation by DKG, splitting of an existing key, batched round 1 / round 2 /
//! aggregation. No I/O, no DNS.
//!
//! The output of a signing run is a plain RFC 8032 Ed25519 signature, which is
//! what DNSSEC algorithm 15 (RFC 8080) carries in an RRSIG.
//!
//! One batch of `n` messages runs the two FROST rounds once for all of them:
//!
//! 1. every chosen signer runs [`commit_batch`] (RFC 9591 §5.1 Round One –
//!    Commitment), keeps the [`BatchNonces`] and publishes the commitments;
//! 2. the Coordinator pairs every message with the commitments made for it, a
//!    [`SigningBatch`] (one [`frost::SigningPackage`] per message, built as used);
//! 3. every signer runs [`sign_batch`] (RFC 9591 §5.2 Round Two – Signature
//!    Share Generation), consuming its nonces;
//! 4. the Coordinator runs [`aggregate_batch`] (RFC 9591 §5.3 Signature Share
//!    Aggregation), which names the culprits of any invalid share.
//!
//! [`SimulatedGroup`] holds a whole group in one process, for simulation and
//! tests; a real deployment keeps each [`frost::keys::KeyPackage`] on its own
//! node.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub use frost_ed25519 as frost;
pub use frost_ed25519::Identifier;

mod aggregate;
mod error;
mod floor;
mod group;
mod keys;
pub mod parallel;
mod quorum;
mod round1;
mod round2;
mod signing_package;
mod simulate;

#[cfg(test)]
mod tests;

pub use aggregate::aggregate_batch;
pub use floor::{measure_floor, ProtocolFloor};
pub use error::{display_identifier, ThresholdError};
pub use group::SimulatedGroup;
pub use keys::dkg::generate_with_dkg;
pub use keys::import::split_existing_key;
pub use keys::join::joined_public_key_package;
pub use quorum::Quorum;
pub use round1::{commit_batch, BatchNonces};
pub use round2::sign_batch;
pub use signing_package::SigningBatch;
pub use simulate::DEFAULT_CHUNK;
