//! A frostzone signer node: holds this participant's FROST (RFC 9591)
//! Ed25519 key shares and takes part in key generation and threshold
//! signing when, and only when, the coordinator asks over mutual TLS.
//!
//! What this crate owns, one job per module, listed from the shells down.
//! Dependencies point one way, down this list. The one exception is
//! [`error`], which every module uses and which wraps the error types of
//! a few (dkg, policy, rate, sessions, incremental).
//!
//! Shells (async, tonic; they only move bytes, pass the time and run the
//! node on blocking threads):
//!
//! * [`admin`]: the operator's admin service on a Unix socket;
//! * [`service`]: the signer API's tonic handlers, the server with mutual
//!   TLS, and the sweeper of expired sessions and requests.
//!
//! The node's API calls, as [`Node`] methods in one file per concern,
//! each calling only those below it:
//!
//! * [`signing`]: FROST rounds 1 and 2 (Commit and Sign), each recorded
//!   in the hash-chained audit log ([`frostzone_proto::audit`]);
//! * [`keygen`]: the key ceremonies' steps, each under an approved
//!   ceremony;
//! * [`refresh`]: share refresh — the refreshed share kept aside, and
//!   committed only with every participant's confirmation;
//! * [`repair`]: share repair — t helpers rebuild a holder's lost share;
//! * [`ceremony`]: key ceremonies (DKG, import, removal) as requests the
//!   policy or the operator approves, checked against the roster;
//! * [`lifecycle`]: the request life cycle (Propose, decisions,
//!   Published, approval by the operator, expiry) and the binding of
//!   every Commit to an approved request;
//! * [`proof`]: signed decisions, and the proof of a quorum a publication
//!   needs before it moves a baseline this signer did not approve;
//! * [`node`]: the node itself: its store, roster, session tables, rate
//!   window and audit log, health and the sweep of expired sessions.
//!
//! Pure logic the node calls:
//!
//! * [`incremental`]: incremental proposals compared with the
//!   materialized baseline, and what a publication does to it;
//! * [`proposal`]: a proposed request checked, compared with the zone's
//!   published baseline ([`frostzone_dnssec::rrset_diff`]) and decided;
//! * [`denial`]: its NSEC/NSEC3 records checked against its content;
//! * [`key_step`]: a change to the key RRsets read as a rollover step
//!   (RFC 7583) by this signer itself, for `key_changes = "rollover"`;
//! * [`policy`]: what a signer agrees to sign — every item rebuilt from
//!   its content (RFC 4034 §3.1.8.1) and checked, never an opaque hash;
//! * [`dkg`]: this participant's side of frost `keys::dkg`, every relayed
//!   message checked against its sender's identity key, with the signed
//!   echo check of round 1;
//! * [`binding`]: the approval window and the approved requests' digest
//!   sets a Commit is checked against;
//! * [`rate`]: the sliding-hour signature count behind the rate limit;
//! * [`metrics`]: the Prometheus counters the node's decisions and
//!   refusals move;
//! * [`sessions`]: the in-memory table of pending sessions (nonces, DKG
//!   secrets), each taken once and wiped on expiry.
//!
//! Storage (sled):
//!
//! * [`store`]: the key shares, sealed at rest under a key derived from
//!   the operator's passphrase (Argon2id → ChaCha20-Poly1305);
//! * [`request_store`]: requests and their content;
//! * [`baseline`]: each zone's published RRsets, materialized.
//!
//! Configuration and plain values:
//!
//! * [`config`]: the signer's TOML config file (and its roster,
//!   [`frostzone_proto::roster`]: every participant and t, held here, never
//!   learned from the coordinator);
//! * [`policy_file`]: the operator's policy file (zones, RR types,
//!   validity bounds, NSEC3 parameters, rate limit);
//! * [`approval`]: the `[approval]` policy — which requests are approved
//!   by policy and which wait for the operator;
//! * [`rts`]: one participant's side of a share repair (frost's
//!   repairable threshold scheme), pure;
//! * [`rrset`]: RRsets as items make them, parsed and in stored form;
//! * [`fields`]: API message fields read into FROST and DNSSEC values;
//! * [`envelope`]: the AEAD envelopes, at rest and end to end between
//!   signers (DKG round 2) or from the importer (share import);
//! * [`clock`]: the time a call is decided at, which the shells pass in;
//! * [`error`]: why a request is refused, and the errors of the store,
//!   the config files and the request life cycle;
//! * [`fault`]: fault injection, compiled only into test builds.
//!
//! Nonces and decrypted shares never leave memory and wipe themselves.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod approval;
pub mod baseline;
pub mod binding;
pub mod ceremony;
pub mod clock;
pub mod config;
pub mod denial;
pub mod dkg;
pub mod envelope;
pub mod error;
pub mod fault;
pub mod fields;
pub mod incremental;
pub mod key_step;
pub mod keygen;
pub mod lifecycle;
pub mod metrics;
pub mod node;
pub mod policy;
pub mod policy_file;
pub mod prepared;
pub mod proof;
pub mod proposal;
pub mod rate;
pub mod refresh;
pub mod repair;
pub mod request_store;
pub mod rrset;
pub mod rts;
pub mod admin;
pub mod service;
pub mod sessions;
pub mod signing;
pub mod staging;
pub mod store;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod incremental_tests;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod refresh_tests;
#[cfg(test)]
mod tests;

pub use config::Config;
pub use error::NodeError;
pub use node::{Node, NodeOptions};
pub use store::Store;
