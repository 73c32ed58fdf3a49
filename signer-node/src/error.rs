//! Why the node refused a request, and the gRPC status each reason maps to;
//! and the errors of the parts below it ([`StoreError`] of the sled store,
//! [`ConfigError`] of the config and policy files, [`RequestError`] of the
//! request life cycle), defined here so that every module can return them
//! without depending on the module that raises them most.

use std::path::PathBuf;

use frostzone_dnssec::keys::KeyTag;
use frostzone_threshold::ThresholdError;
use tonic::{Code, Status};

use crate::dkg::DkgError;
use crate::policy::ItemError;
use crate::sessions::SessionError;

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
    Request(#[from] RequestError),
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

    /// The kind of refusal as one word, for metrics (never the message,
    /// which may quote request content).
    pub fn kind(&self) -> &'static str {
        match self {
            NodeError::Field { .. } => "field",
            NodeError::Item(_) => "item",
            NodeError::UnknownKey { .. } => "unknown_key",
            NodeError::Session { .. } => "session",
            NodeError::Dkg(_) => "dkg",
            NodeError::Import(_) => "import",
            NodeError::Commitments(_) => "commitments",
            NodeError::Threshold(_) => "threshold",
            NodeError::Store(_) => "store",
            NodeError::Policy(_) => "policy",
            NodeError::KeyTagCollision(_) => "key_tag_collision",
            NodeError::Roster(_) => "roster",
            NodeError::RateLimited(_) => "rate_limited",
            NodeError::Request(_) => "request",
            NodeError::BaselineMismatch(_) => "baseline_mismatch",
            NodeError::Internal(_) => "internal",
        }
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

/// The store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// sled failed (I/O, lock held by another process, ...).
    #[error("{}: {source}", dir.display())]
    Sled {
        /// The data directory.
        dir: PathBuf,
        /// What sled said.
        source: sled::Error,
    },
    /// The passphrase does not open this store.
    #[error("wrong passphrase for {}", .0.display())]
    WrongPassphrase(PathBuf),
    /// Another process holds the database.
    #[error("{} is in use by another process (is a frostzone-signer already running on this data_dir?)", .0.display())]
    Locked(PathBuf),
    /// A share for this zone and key tag is stored already.
    #[error("a key with tag {key_tag} for zone {zone} is stored already")]
    Exists {
        /// The zone.
        zone: String,
        /// The key tag.
        key_tag: KeyTag,
    },
    /// Stored data does not decode.
    #[error("store corrupt: {0}")]
    Corrupt(String),
    /// A request with this id is stored already.
    #[error("request {0} is stored already")]
    RequestExists(String),
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file cannot be read or used (names the file and field).
    #[error(transparent)]
    File(#[from] frostzone_proto::config_file::ConfigFileError),
    /// The roster file is unusable.
    #[error(transparent)]
    Roster(Box<frostzone_proto::config_file::ConfigFileError>),
    /// The passphrase could not be read.
    #[error("passphrase from {source_name}: {reason}")]
    Passphrase {
        /// The file or environment variable.
        source_name: String,
        /// What went wrong.
        reason: String,
    },
}

/// A request unknown, or in a state that does not allow what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// No such request.
    #[error("no request {0} is known to this signer")]
    Unknown(String),
    /// A prefix names several requests.
    #[error("request id prefix {0} matches more than one request; give more digits")]
    Ambiguous(String),
    /// The id was proposed before with other content.
    #[error("request {id} was proposed with content hash {stored}; it cannot be proposed again with {given}")]
    Conflict {
        /// The request.
        id: String,
        /// The hash stored.
        stored: String,
        /// The hash given now.
        given: String,
    },
    /// The request's state does not allow it.
    #[error("request {id} is {state}: {why}")]
    State {
        /// The request.
        id: String,
        /// Its state.
        state: &'static str,
        /// What cannot be done.
        why: String,
    },
    /// The operator reviewed other content than the request's.
    #[error("request {id} has content hash {actual}, the approval names {given}: review it again")]
    HashMismatch {
        /// The request.
        id: String,
        /// Its content hash.
        actual: String,
        /// The hash in the approval.
        given: String,
    },
    /// A Commit outside an approved request.
    #[error("{0}")]
    NotApproved(String),
    /// A publication claimed without proof that a quorum approved it.
    #[error("{0}")]
    Unproven(String),
    /// Too many requests are open.
    #[error("{0} requests are open on this signer (pending, approved or signed); the coordinator must finish or fail some first")]
    TooManyOpen(usize),
}

impl RequestError {
    /// The gRPC status code.
    pub fn code(&self) -> Code {
        match self {
            RequestError::Unknown(_) => Code::NotFound,
            RequestError::Ambiguous(_) => Code::InvalidArgument,
            RequestError::Conflict { .. } => Code::AlreadyExists,
            RequestError::State { .. } | RequestError::HashMismatch { .. } => Code::FailedPrecondition,
            RequestError::NotApproved(_) | RequestError::Unproven(_) => Code::PermissionDenied,
            RequestError::TooManyOpen(_) => Code::ResourceExhausted,
        }
    }
}

/// A baseline read out of canonical order: its keys are that order, so the
/// store is damaged.
impl From<frostzone_dnssec::rrset_diff::OutOfOrder> for StoreError {
    fn from(e: frostzone_dnssec::rrset_diff::OutOfOrder) -> StoreError {
        StoreError::Corrupt(format!("baseline: {e}"))
    }
}
