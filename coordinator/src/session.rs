//! A signing session: one SignZone request, from plan to release (no I/O).
//!
//! ```text
//!   Planned ──▶ Committing ──▶ Signing ──▶ Aggregating ──▶ Validating ──▶ Released
//!      │            │             │             │               │
//!      └────────────┴─────────────┴─────────────┴───────────────┴──▶ Failed(reason)
//! ```
//!
//! * **Planned**: the zone parsed, the plan made (every RRSIG to be made is
//!   known), nothing sent to a signer yet.
//! * **Committing**: FROST round 1 (RFC 9591 §5.1) requests are out.
//! * **Signing**: round 2 (§5.2) requests are out.
//! * **Aggregating**: shares are being combined and checked (§5.3, §5.4).
//! * **Validating**: every signature is in; the signed zone text is being
//!   checked by the whole-zone validator against the zone's DS.
//! * **Released**: the validated text went to the client.
//! * **Failed**: anything else, with the reason; nothing was released.
//!
//! A zone is signed in batches, several of them in flight at once, and a
//! batch whose signers fail goes back to round 1 with another subset. The
//! session's state is the furthest phase any batch has reached: a retry
//! does not move it back (the record's counters and culprits tell that
//! story). Moving to an earlier or the same phase is therefore a no-op,
//! not an error; leaving a final state is an error.
//!
//! A coordinator that stops mid-session leaves a non-final state in the
//! registry; at the next start [`SessionState::interrupted`] turns it into
//! `Failed`. Nothing partial is ever released: the client retries.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a session is (see the module documentation for the diagram).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "lowercase")]
pub enum SessionState {
    /// Plan made, no signer asked yet.
    Planned,
    /// Round 1 under way.
    Committing,
    /// Round 2 under way.
    Signing,
    /// Shares being aggregated.
    Aggregating,
    /// The signed zone is being validated.
    Validating,
    /// The validated zone was released.
    Released,
    /// Nothing was released, for this reason.
    Failed(String),
}

/// An attempt to leave a final state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("session is already {from}: cannot become {to}")]
pub struct TransitionError {
    /// The final state.
    pub from: String,
    /// The refused target.
    pub to: String,
}

impl SessionState {
    /// Position along the happy path; `None` for Failed.
    fn rank(&self) -> Option<u8> {
        Some(match self {
            SessionState::Planned => 0,
            SessionState::Committing => 1,
            SessionState::Signing => 2,
            SessionState::Aggregating => 3,
            SessionState::Validating => 4,
            SessionState::Released => 5,
            SessionState::Failed(_) => return None,
        })
    }

    /// Released or Failed: nothing happens to the session any more.
    pub fn is_final(&self) -> bool {
        matches!(self, SessionState::Released | SessionState::Failed(_))
    }

    /// The state after moving towards `to`.
    ///
    /// Forward moves along the diagram are taken (phases may be skipped
    /// only up to Aggregating: Validating needs every batch aggregated, so
    /// it is reachable only from Aggregating, and Released only from
    /// Validating). Backward moves keep the current state. Any non-final
    /// state may fail. Final states refuse every move.
    pub fn advance(&self, to: SessionState) -> Result<SessionState, TransitionError> {
        let refuse = || TransitionError { from: self.to_string(), to: to.to_string() };
        if self.is_final() {
            return Err(refuse());
        }
        let (Some(from), Some(target)) = (self.rank(), to.rank()) else {
            // Failed: always allowed from a non-final state.
            return Ok(to);
        };
        match target {
            _ if target <= from => Ok(self.clone()),
            4 if from != 3 => Err(refuse()),
            5 if from != 4 => Err(refuse()),
            _ => Ok(to),
        }
    }

    /// What a state left behind by a stopped coordinator becomes at the
    /// next start; `None` for final states, which stay as they are.
    pub fn interrupted(&self) -> Option<SessionState> {
        (!self.is_final()).then(|| {
            SessionState::Failed(format!("interrupted while {self}: the coordinator stopped; nothing was released"))
        })
    }

    /// The name shown in status output.
    pub fn name(&self) -> &'static str {
        match self {
            SessionState::Planned => "planned",
            SessionState::Committing => "committing",
            SessionState::Signing => "signing",
            SessionState::Aggregating => "aggregating",
            SessionState::Validating => "validating",
            SessionState::Released => "released",
            SessionState::Failed(_) => "failed",
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the registry keeps about a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRecord {
    /// Record format version.
    pub version: u32,
    /// Random id, hex.
    pub id: String,
    /// The zone, as an absolute name.
    pub zone: String,
    /// Where the session is.
    pub state: SessionState,
    /// Seconds since the epoch at the start.
    pub started_unix: u64,
    /// Seconds since the epoch at the last change.
    pub updated_unix: u64,
    /// Signers whose shares went into released signatures.
    pub signers: Vec<String>,
    /// Signers caught sending invalid shares.
    pub culprits: Vec<String>,
    /// Signatures the plan needs.
    pub planned: u64,
    /// Signatures made so far.
    pub signatures: u64,
    /// Batches that had to be retried with another subset.
    pub retries: u64,
}

/// The current session record format.
pub const SESSION_RECORD_VERSION: u32 = 1;

impl SessionRecord {
    /// A new session in state Planned.
    pub fn new(id: String, zone: String, planned: u64, now: u64) -> Self {
        SessionRecord {
            version: SESSION_RECORD_VERSION,
            id,
            zone,
            state: SessionState::Planned,
            started_unix: now,
            updated_unix: now,
            signers: Vec::new(),
            culprits: Vec::new(),
            planned,
            signatures: 0,
            retries: 0,
        }
    }

    /// Moves the state (see [`SessionState::advance`]); returns whether it
    /// changed.
    pub fn advance(&mut self, to: SessionState, now: u64) -> Result<bool, TransitionError> {
        let next = self.state.advance(to)?;
        let changed = next != self.state;
        self.state = next;
        self.updated_unix = now;
        Ok(changed)
    }

    /// The failure reason, if failed.
    pub fn error(&self) -> Option<&str> {
        match &self.state {
            SessionState::Failed(r) => Some(r),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SessionState::*;
    use super::*;

    #[test]
    fn happy_path() {
        let mut s = Planned;
        for next in [Committing, Signing, Aggregating, Validating, Released] {
            s = s.advance(next.clone()).unwrap();
            assert_eq!(s, next);
        }
        assert!(s.is_final());
    }

    #[test]
    fn retries_do_not_move_back() {
        assert_eq!(Aggregating.advance(Committing).unwrap(), Aggregating);
        assert_eq!(Signing.advance(Signing).unwrap(), Signing);
        // Pipelined batches may show aggregation before all were committed.
        assert_eq!(Planned.advance(Signing).unwrap(), Signing);
    }

    #[test]
    fn validation_and_release_need_their_predecessor() {
        assert!(Signing.advance(Validating).is_err());
        assert!(Planned.advance(Released).is_err());
        assert!(Aggregating.advance(Released).is_err());
    }

    #[test]
    fn failure_from_any_live_state_and_final_states_stay() {
        for s in [Planned, Committing, Signing, Aggregating, Validating] {
            assert_eq!(s.advance(Failed("x".into())).unwrap(), Failed("x".into()));
        }
        let err = Released.advance(Failed("late".into())).unwrap_err();
        assert_eq!(err.to_string(), "session is already released: cannot become failed");
        assert!(Failed("a".into()).advance(Committing).is_err());
        assert!(Failed("a".into()).advance(Failed("b".into())).is_err());
    }

    #[test]
    fn interrupted_sessions_fail_and_final_ones_stay() {
        let f = Signing.interrupted().unwrap();
        assert!(matches!(&f, Failed(r) if r.contains("interrupted while signing")));
        assert_eq!(Released.interrupted(), None);
        assert_eq!(Failed("x".into()).interrupted(), None);
    }

    #[test]
    fn record_advances_and_reports_changes() {
        let mut r = SessionRecord::new("ab".into(), "example.".into(), 10, 1);
        assert!(r.advance(Committing, 2).unwrap());
        assert!(!r.advance(Committing, 3).unwrap());
        assert_eq!(r.updated_unix, 3);
        r.advance(Failed("boom".into()), 4).unwrap();
        assert_eq!(r.error(), Some("boom"));
    }
}
