//! The coordinator's error type and its gRPC status codes.

use crate::approval::tally::ApprovalFailure;
use crate::pipeline::input::InputError;
use crate::pipeline::validate::ValidationError;
use crate::signing::subset::QuorumUnavailable;
use crate::registry::RegistryError;
use crate::signers::SignerCallError;

/// Why a coordinator operation failed. Every variant maps to one gRPC code
/// ([`From<CoordinatorError> for tonic::Status`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoordinatorError {
    /// The request is malformed, or its zone does not load (the message
    /// names file and line): `INVALID_ARGUMENT`.
    #[error("{0}")]
    InvalidArgument(String),
    /// The request cannot be served in the current state (no keys for the
    /// zone, a key tag collision): `FAILED_PRECONDITION`.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Something named does not exist: `NOT_FOUND`.
    #[error("{0}")]
    NotFound(String),
    /// Input beyond a size limit: `RESOURCE_EXHAUSTED`.
    #[error("{0}")]
    TooLarge(String),
    /// The signers did not approve the request: too many refused
    /// (`FAILED_PRECONDITION`: the content or the signers' policy must
    /// change first) or too few decided in time (`DEADLINE_EXCEEDED`).
    /// Nothing was signed.
    #[error(transparent)]
    NotApproved(#[from] ApprovalFailure),
    /// Fewer than t signers usable: `UNAVAILABLE`.
    #[error(transparent)]
    Quorum(#[from] QuorumUnavailable),
    /// An operation that needs every signer (DKG, import) lost one:
    /// `UNAVAILABLE`.
    #[error("{operation} needs every signer: {source}")]
    SignerNeeded {
        /// What was being done.
        operation: &'static str,
        /// The failed call.
        source: SignerCallError,
    },
    /// Signers needed for an operation cannot be reached: `UNAVAILABLE`.
    #[error("{0}")]
    Unavailable(String),
    /// Signers did not decide in time: `DEADLINE_EXCEEDED`.
    #[error("{0}")]
    DeadlineExceeded(String),
    /// Signers disagree or answered nonsense (DKG results differ, a
    /// malformed package): `ABORTED`, the operation can be retried.
    #[error("{0}")]
    Disagreement(String),
    /// The signed zone does not validate; nothing was published:
    /// `INTERNAL`.
    #[error("the signed zone does not validate; nothing was published:\n{0}")]
    Invalid(String),
    /// The input does not make a new version; nothing changed. A text
    /// that does not read is `INVALID_ARGUMENT`; changes that do not
    /// apply to the current version (wrong serial, a missing or present
    /// record), changes to a zone with nothing published, or a serial
    /// that cannot move forward are `FAILED_PRECONDITION`.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The signed version does not validate; nothing was published:
    /// `INTERNAL`.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// The registry failed (`INTERNAL`), or refused a second rollover of
    /// one role (`FAILED_PRECONDITION`).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Anything else that is our fault: `INTERNAL`.
    #[error("{0}")]
    Internal(String),
}

impl From<CoordinatorError> for tonic::Status {
    fn from(e: CoordinatorError) -> tonic::Status {
        let message = e.to_string();
        match e {
            CoordinatorError::InvalidArgument(_) => tonic::Status::invalid_argument(message),
            CoordinatorError::FailedPrecondition(_) => tonic::Status::failed_precondition(message),
            CoordinatorError::NotFound(_) => tonic::Status::not_found(message),
            CoordinatorError::TooLarge(_) => tonic::Status::resource_exhausted(message),
            CoordinatorError::NotApproved(ApprovalFailure::TimedOut { .. }) => tonic::Status::deadline_exceeded(message),
            CoordinatorError::NotApproved(ApprovalFailure::Unavailable { .. }) => tonic::Status::unavailable(message),
            CoordinatorError::NotApproved(_) => tonic::Status::failed_precondition(message),
            CoordinatorError::Quorum(_) | CoordinatorError::SignerNeeded { .. } | CoordinatorError::Unavailable(_) => {
                tonic::Status::unavailable(message)
            }
            CoordinatorError::DeadlineExceeded(_) => tonic::Status::deadline_exceeded(message),
            CoordinatorError::Disagreement(_) => tonic::Status::aborted(message),
            CoordinatorError::Input(InputError::Load { .. } | InputError::NoSoa { .. }) => tonic::Status::invalid_argument(message),
            CoordinatorError::Input(_) => tonic::Status::failed_precondition(message),
            CoordinatorError::Registry(RegistryError::RolloverRunning { .. }) => tonic::Status::failed_precondition(message),
            CoordinatorError::Invalid(_)
            | CoordinatorError::Validation(_)
            | CoordinatorError::Registry(_)
            | CoordinatorError::Internal(_) => {
                tonic::Status::internal(message)
            }
        }
    }
}

/// A blocking task died (panicked or was cancelled).
pub(crate) fn join_error(e: tokio::task::JoinError) -> CoordinatorError {
    CoordinatorError::Internal(format!("a worker task failed: {e}"))
}
