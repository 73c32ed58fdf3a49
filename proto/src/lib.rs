//! The frostzone gRPC API: the signer service (called by the coordinator)
//! and the coordinator service (called by operators and zone pipelines),
//! generated from `proto/frostzone/v1/*.proto`, the client of a signer's
//! admin socket ([`admin_socket`]), plus the mutual-TLS set-up
//! every daemon and the CLI share ([`tls`]), the audit log format every
//! node writes and the CLI verifies ([`audit`]), the content hash of
//! signing items and key ceremonies ([`content`]), the roster of
//! participants each party holds itself ([`roster`]) and the statements
//! signers sign with their identity keys ([`statement`]), the log
//! output both daemons set up the same way ([`log`]), the Prometheus
//! endpoint both serve ([`metrics_endpoint`]) and, with the `allocator`
//! feature, their allocator's one option ([`allocator`]).
//!
//! Limits that both ends must agree on live here too.
// One FFI call, in `allocator`, sets the daemons' allocator option.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod admin_socket;
#[cfg(feature = "allocator")]
pub mod allocator;
pub mod audit;
pub mod config_file;
pub mod content;
pub mod log;
pub mod metrics_endpoint;
pub mod roster;
pub mod statement;
pub mod tls;

/// Generated protobuf types and service stubs, package `frostzone.v1`.
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    tonic::include_proto!("frostzone.v1");
}

/// An error and its sources on one line after `text` (empty: none),
/// leaving out a source whose text the line already holds (transport
/// errors repeat themselves).
pub fn append_error_chain(mut text: String, error: &dyn std::error::Error) -> String {
    let mut source = Some(error);
    while let Some(e) = source {
        let part = e.to_string();
        if text.is_empty() {
            text = part;
        } else if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}

/// An error and its sources on one line ([`append_error_chain`]).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    append_error_chain(String::new(), error)
}

/// A request state as one lowercase word (`pending`, `approved`, …), the
/// same in every tool; `None` for UNSPECIFIED, which means "not answered"
/// in a coordinator's record and "unknown" in a signer's.
pub fn request_state_word(state: v1::RequestState) -> Option<&'static str> {
    use v1::RequestState as S;
    Some(match state {
        S::Unspecified => return None,
        S::Pending => "pending",
        S::Approved => "approved",
        S::Rejected => "rejected",
        S::Expired => "expired",
        S::Signed => "signed",
        S::Published => "published",
        S::Failed => "failed",
    })
}

/// The API version every request carries. A peer refuses other versions
/// with `FAILED_PRECONDITION`.
pub const API_VERSION: u32 = 1;

/// Largest gRPC message either end accepts (encoded or decoded). Batches
/// are cut so that they stay well below it.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Most signing items in one Commit/Sign exchange. 4,096 items of a few
/// hundred bytes and their commitments stay under a few MiB.
pub const MAX_BATCH_ITEMS: usize = 4096;

/// Longest reason (or name) a peer puts in a decision, in characters: a
/// signer keeps its reasons within it, and the coordinator refuses a
/// decision that does not, so nobody grows records or logs without bound.
pub const MAX_REASON_CHARS: usize = 1024;

/// Size of the chunks zone files travel in.
pub const ZONE_CHUNK_BYTES: usize = 1024 * 1024;

/// Checks a request's `api_version`.
#[allow(clippy::result_large_err)]
pub fn check_api_version(version: u32) -> Result<(), tonic::Status> {
    if version == API_VERSION {
        Ok(())
    } else {
        Err(tonic::Status::failed_precondition(format!(
            "api_version {version} is not supported; this peer speaks {API_VERSION}"
        )))
    }
}
