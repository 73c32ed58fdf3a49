//! Approval: what each signer is proposed, the tally of their decisions,
//! and the wait for a quorum of approvals.
//!
//! * [`outcome`]: telling the signers how a request ended;
//! * [`proposals`]: a request's content as each signer is proposed it,
//!   whole or as an increment on the version it last saw published;
//! * [`quorum_wait`]: the wait for a quorum as a state machine (answers
//!   and the time in, what to do next out);
//! * [`tally`]: whether a request has the approvals it needs (no I/O);
//! * [`wait`]: proposing a request to the zone's signers and waiting for
//!   their decisions.

pub mod outcome;
pub mod proposals;
pub mod quorum_wait;
pub mod tally;
pub mod wait;
