//! Why the node refused a request, and the gRPC status each reason maps to.

use frostzone_dnssec::keys::KeyTag;
use frostzone_threshold::ThresholdError;
use tonic::{Code, Status};

use crate::dkg::DkgError;
use crate::policy::ItemError;
use crate::sessions::SessionError;
use crate::store::StoreError;

/// A refused or failed request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A request field is malformed or out of range.
    #[error("{field}: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An item of a signing batch is refused.
    #[error(transparent)]
    Item(#[from] ItemError),
    /// The zone or key is not held here.
    #[error("this signer holds no key {key_tag} for zone {zone}")]
    UnknownKey {
        /// The zone as normalized.
        zone: String,
        /// The key tag.
        key_tag: KeyTag,
    },
    /// A session-table refusal, for a kind of session ("signing", "DKG",
    /// "import").
    #[error("{}", session_message(.kind, .error))]
    Session {
        /// Which table.
        kind: &'static str,
        /// What it said.
        error: SessionError,
    },
    /// A DKG step was refused.
    #[error(transparent)]
    Dkg(#[from] DkgError),
    /// An imported share is unusable.
    #[error("import: {0}")]
    Import(String),
    /// Round-2 commitments do not fit the committed batch.
    #[error("{0}")]
    Commitments(String),
    /// frost or the batch logic refused to sign.
    #[error(transparent)]
    Threshold(#[from] ThresholdError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The operator's policy refuses the request.
    #[error("{0}")]
    Policy(String),
    /// A new key's tag collides with a key of the zone this signer knows:
    /// nothing stored, the DKG can run again.
    #[error("{0}")]
    KeyTagCollision(String),
    /// The roster is missing, or does not fit this signer or the request.
    #[error("roster: {0}")]
    Roster(String),
    /// The policy's rate limit is reached.
    #[error(transparent)]
    RateLimited(#[from] crate::rate::RateLimited),
    /// A request of the life cycle is unknown, or not in a state that
    /// allows what was asked.
    #[error(transparent)]
    Request(#[from] crate::lifecycle::RequestError),
    /// An incremental proposal for a baseline this signer does not hold:
    /// the coordinator proposes the request again in full.
    #[error(transparent)]
    BaselineMismatch(#[from] crate::incremental::BaselineMismatch),
    /// A blocking task died.
    #[error("internal: {0}")]
    Internal(String),
}

fn session_message(kind: &str, error: &SessionError) -> String {
    match error {
        SessionError::Unknown => format!("unknown or already used {kind} session"),
        SessionError::Exists => format!("{kind} session id is already in use"),
        SessionError::Full(n) => format!("too many pending {kind} sessions ({n}); retry later"),
    }
}

impl NodeError {
    /// A malformed field.
    pub fn field(field: &'static str, reason: impl Into<String>) -> NodeError {
        NodeError::Field {
            field,
            reason: reason.into(),
        }
    }

    /// A session-table refusal in `kind`.
    pub fn session(kind: &'static str) -> impl FnOnce(SessionError) -> NodeError {
        move |error| NodeError::Session { kind, error }
    }

    /// The gRPC status code for this error.
    pub fn code(&self) -> Code {
        match self {
            NodeError::Field { .. }
            | NodeError::Item(_)
            | NodeError::Import(_)
            | NodeError::Commitments(_) => Code::InvalidArgument,
            NodeError::UnknownKey { .. } => Code::NotFound,
            NodeError::Policy(_) => Code::PermissionDenied,
            NodeError::Roster(_) => Code::FailedPrecondition,
            NodeError::KeyTagCollision(_) => Code::AlreadyExists,
            NodeError::RateLimited(_) => Code::ResourceExhausted,
            NodeError::Session { error, .. } => match error {
                SessionError::Unknown => Code::NotFound,
                SessionError::Exists => Code::AlreadyExists,
                SessionError::Full(_) => Code::ResourceExhausted,
            },
            NodeError::Dkg(e) => match e {
                DkgError::OutOfOrder(_) | DkgError::EchoMismatch { .. } => Code::FailedPrecondition,
                DkgError::Unauthenticated { .. } => Code::PermissionDenied,
                _ => Code::InvalidArgument,
            },
            NodeError::Threshold(_) => Code::InvalidArgument,
            NodeError::Store(StoreError::Exists { .. } | StoreError::RequestExists(_)) => Code::AlreadyExists,
            NodeError::Request(e) => e.code(),
            NodeError::BaselineMismatch(_) => Code::FailedPrecondition,
            NodeError::Store(_) | NodeError::Internal(_) => Code::Internal,
        }
    }
}

impl From<std::convert::Infallible> for NodeError {
    fn from(never: std::convert::Infallible) -> NodeError {
        match never {}
    }
}

impl From<NodeError> for Status {
    fn from(e: NodeError) -> Status {
        Status::new(e.code(), e.to_string())
    }
}
