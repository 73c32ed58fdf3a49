//! A request: one zone version an operator (or the refresh schedule, or
//! the hidden primary) asked to publish, from plan to publication (no
//! I/O). Its id is the request id the signers approve.
//!
//! ```text
//!   Planned ──▶ Proposed ──▶ Approved ──▶ Committing ──▶ Signing ──▶ Aggregating ──▶ Validating ──▶ Published
//!      │           │            │             │             │             │               │
//!      └───────────┴────────────┴─────────────┴─────────────┴─────────────┴───────────────┴──▶ Failed(reason)
//! ```
//!
//! * **Planned**: the zone parsed, the plan made (every RRSIG to be made is
//!   known) and its content hash computed, nothing sent to a signer yet.
//! * **Proposed**: the content went to every signer of the zone's key
//!   groups (Signer.Propose); the coordinator waits for their decisions
//!   ([`RequestRecord::decisions`], judged by [`crate::approval::tally`]).
//! * **Approved**: every key group has at least its threshold of
//!   approvers; only they are asked for shares.
//! * **Committing**: FROST round 1 (RFC 9591 §5.1) requests are out.
//! * **Signing**: round 2 (§5.2) requests are out.
//! * **Aggregating**: shares are being combined and checked (§5.3, §5.4).
//! * **Validating**: every signature is in; the signed zone text is being
//!   checked by the whole-zone validator against the zone's DS.
//! * **Published**: the validated text went to the client.
//! * **Failed**: anything else (rejected, expired, quorum lost, invalid),
//!   with the reason; nothing was published.
//!
//! A zone is signed in batches, several of them in flight at once, and a
//! batch whose signers fail goes back to round 1 with another subset. The
//! session's state is the furthest phase any batch has reached: a retry
//! does not move it back (the record's counters and culprits tell that
//! story). Moving to an earlier or the same phase is therefore a no-op,
//! not an error; leaving a final state is an error. No phase of signing is
//! reachable without Approved, and Approved only from Proposed: a session
//! never signs content its signers were not asked about.
//!
//! A coordinator that stops mid-session leaves a non-final state in the
//! registry; at the next start [`RequestPhase::interrupted`] turns it into
//! `Failed`. Nothing partial is ever published: the client retries.

pub mod decision;
pub(crate) mod live;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::request::decision::{ChangeCounts, DecisionState, RecordedDecision};

/// Where a session is (see the module documentation for the diagram).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "lowercase")]
pub enum RequestPhase {
    /// Plan made, no signer asked yet.
    Planned,
    /// Proposed to the signers; waiting for their decisions.
    Proposed,
    /// Every key group has its threshold of approvers.
    Approved,
    /// Round 1 under way.
    Committing,
    /// Round 2 under way.
    Signing,
    /// Shares being aggregated.
    Aggregating,
    /// The signed zone is being validated.
    Validating,
    /// The validated version was published. Registries written before
    /// the name changed say `released`.
    #[serde(alias = "released")]
    Published,
    /// Nothing was published, for this reason.
    Failed(String),
}

/// An attempt to leave a final state, or to skip a phase that cannot be
/// skipped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("request is already {from}: cannot become {to}")]
pub struct TransitionError {
    /// The current state.
    pub from: String,
    /// The refused target.
    pub to: String,
}

const PROPOSED: u8 = 1;
const APPROVED: u8 = 2;
const AGGREGATING: u8 = 5;
const VALIDATING: u8 = 6;
const PUBLISHED: u8 = 7;

impl RequestPhase {
    /// Position along the happy path; `None` for Failed.
    fn rank(&self) -> Option<u8> {
        Some(match self {
            RequestPhase::Planned => 0,
            RequestPhase::Proposed => PROPOSED,
            RequestPhase::Approved => APPROVED,
            RequestPhase::Committing => 3,
            RequestPhase::Signing => 4,
            RequestPhase::Aggregating => AGGREGATING,
            RequestPhase::Validating => VALIDATING,
            RequestPhase::Published => PUBLISHED,
            RequestPhase::Failed(_) => return None,
        })
    }

    /// Published or Failed: nothing happens to the session any more.
    pub fn is_final(&self) -> bool {
        matches!(self, RequestPhase::Published | RequestPhase::Failed(_))
    }

    /// The state after moving towards `to`.
    ///
    /// Forward moves along the diagram are taken. Proposed follows only
    /// Planned and Approved only Proposed; the signing phases (Committing,
    /// Signing, Aggregating) need Approved or a later phase, and may skip
    /// each other (batches run in parallel); Validating needs every batch
    /// aggregated, so it is reachable only from Aggregating, and Published
    /// only from Validating. Backward moves keep the current state. Any
    /// non-final state may fail. Final states refuse every move.
    pub fn advance(&self, to: RequestPhase) -> Result<RequestPhase, TransitionError> {
        let refuse = || TransitionError { from: self.to_string(), to: to.to_string() };
        if self.is_final() {
            return Err(refuse());
        }
        let (Some(from), Some(target)) = (self.rank(), to.rank()) else {
            // Failed: always allowed from a non-final state.
            return Ok(to);
        };
        let allowed = match target {
            _ if target <= from => return Ok(self.clone()),
            PROPOSED => from == PROPOSED - 1,
            APPROVED => from == PROPOSED,
            VALIDATING => from == AGGREGATING,
            PUBLISHED => from == VALIDATING,
            _ => from >= APPROVED,
        };
        if allowed {
            Ok(to)
        } else {
            Err(refuse())
        }
    }

    /// What a state left behind by a stopped coordinator becomes at the
    /// next start; `None` for final states, which stay as they are.
    pub fn interrupted(&self) -> Option<RequestPhase> {
        (!self.is_final()).then(|| {
            RequestPhase::Failed(format!("interrupted while {self}: the coordinator stopped; nothing was published"))
        })
    }

    /// The name shown in status output.
    pub fn name(&self) -> &'static str {
        match self {
            RequestPhase::Planned => "planned",
            RequestPhase::Proposed => "proposed",
            RequestPhase::Approved => "approved",
            RequestPhase::Committing => "committing",
            RequestPhase::Signing => "signing",
            RequestPhase::Aggregating => "aggregating",
            RequestPhase::Validating => "validating",
            RequestPhase::Published => "published",
            RequestPhase::Failed(_) => "failed",
        }
    }
}

impl fmt::Display for RequestPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the registry keeps about a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRecord {
    /// Record format version.
    pub version: u32,
    /// Random id, hex: the request id.
    pub id: String,
    /// The zone, as an absolute name.
    pub zone: String,
    /// Where the session is.
    pub state: RequestPhase,
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
    /// SHA-256 content hash of the plan's items, hex
    /// (`frostzone_proto::content`): what the signers approve.
    #[serde(default)]
    pub content_hash: String,
    /// The operator certificate that submitted the request.
    #[serde(default)]
    pub submitted_by: String,
    /// When the coordinator stops waiting for approvals (seconds since the
    /// epoch); 0 before the proposal.
    #[serde(default)]
    pub expires_unix: u64,
    /// Approvals needed: the largest threshold among the zone's key groups.
    #[serde(default)]
    pub threshold: u32,
    /// Every proposed signer's decision, by signer name.
    #[serde(default)]
    pub decisions: BTreeMap<String, RecordedDecision>,
}

/// The current session record format. Version 2 added the request fields
/// (`content_hash` to `decisions`); version 1 records read with them empty.
pub const SESSION_RECORD_VERSION: u32 = 2;

impl RequestRecord {
    /// A new session in state Planned.
    pub fn new(id: String, zone: String, planned: u64, now: u64) -> Self {
        RequestRecord {
            version: SESSION_RECORD_VERSION,
            id,
            zone,
            state: RequestPhase::Planned,
            started_unix: now,
            updated_unix: now,
            signers: Vec::new(),
            culprits: Vec::new(),
            planned,
            signatures: 0,
            retries: 0,
            content_hash: String::new(),
            submitted_by: String::new(),
            expires_unix: 0,
            threshold: 0,
            decisions: BTreeMap::new(),
        }
    }

    /// Moves the state (see [`RequestPhase::advance`]); returns whether it
    /// changed.
    pub fn advance(&mut self, to: RequestPhase, now: u64) -> Result<bool, TransitionError> {
        let next = self.state.advance(to)?;
        let changed = next != self.state;
        self.state = next;
        self.updated_unix = now;
        Ok(changed)
    }

    /// Records `signer`'s decision; returns whether anything changed.
    pub fn record_decision(&mut self, signer: &str, decision: RecordedDecision, now: u64) -> bool {
        if self.decisions.get(signer) == Some(&decision) {
            return false;
        }
        self.decisions.insert(signer.to_string(), decision);
        self.updated_unix = now;
        true
    }

    /// The failure reason, if failed.
    pub fn error(&self) -> Option<&str> {
        match &self.state {
            RequestPhase::Failed(r) => Some(r),
            _ => None,
        }
    }
}

/// A random id for a request, a key ceremony's DKG run or a signing
/// attempt (16 bytes, as the signers' API asks).
pub fn random_id() -> Vec<u8> {
    use rand::RngCore;
    let mut id = vec![0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut id);
    id
}

#[cfg(test)]
mod tests {
    use super::RequestPhase::*;
    use super::*;

    #[test]
    fn happy_path() {
        let mut s = Planned;
        for next in [Proposed, Approved, Committing, Signing, Aggregating, Validating, Published] {
            s = s.advance(next.clone()).unwrap();
            assert_eq!(s, next);
        }
        assert!(s.is_final());
    }

    #[test]
    fn retries_do_not_move_back() {
        assert_eq!(Aggregating.advance(Committing).unwrap(), Aggregating);
        assert_eq!(Signing.advance(Signing).unwrap(), Signing);
        assert_eq!(Committing.advance(Approved).unwrap(), Committing);
        // Pipelined batches may show aggregation before all were committed.
        assert_eq!(Approved.advance(Signing).unwrap(), Signing);
        assert_eq!(Committing.advance(Aggregating).unwrap(), Aggregating);
    }

    #[test]
    fn nothing_is_signed_without_approval() {
        for s in [Planned, Proposed] {
            for to in [Committing, Signing, Aggregating, Validating, Published] {
                let err = s.advance(to.clone()).unwrap_err();
                assert_eq!(err.to_string(), format!("request is already {s}: cannot become {to}"));
            }
        }
        assert!(Planned.advance(Approved).is_err(), "approval needs a proposal");
        assert_eq!(Planned.advance(Proposed).unwrap(), Proposed);
        assert_eq!(Proposed.advance(Approved).unwrap(), Approved);
    }

    #[test]
    fn validation_and_release_need_their_predecessor() {
        assert!(Signing.advance(Validating).is_err());
        assert!(Approved.advance(Validating).is_err());
        assert!(Planned.advance(Published).is_err());
        assert!(Aggregating.advance(Published).is_err());
    }

    #[test]
    fn failure_from_any_live_state_and_final_states_stay() {
        for s in [Planned, Proposed, Approved, Committing, Signing, Aggregating, Validating] {
            assert_eq!(s.advance(Failed("x".into())).unwrap(), Failed("x".into()));
        }
        let err = Published.advance(Failed("late".into())).unwrap_err();
        assert_eq!(err.to_string(), "request is already published: cannot become failed");
        assert!(Failed("a".into()).advance(Committing).is_err());
        assert!(Failed("a".into()).advance(Failed("b".into())).is_err());
    }

    #[test]
    fn interrupted_requests_fail_and_final_ones_stay() {
        let f = Signing.interrupted().unwrap();
        assert!(matches!(&f, Failed(r) if r.contains("interrupted while signing")));
        let f = Proposed.interrupted().unwrap();
        assert!(matches!(&f, Failed(r) if r.contains("interrupted while proposed")));
        assert_eq!(Published.interrupted(), None);
        assert_eq!(Failed("x".into()).interrupted(), None);
    }

    #[test]
    fn record_advances_and_reports_changes() {
        let mut r = RequestRecord::new("ab".into(), "example.".into(), 10, 1);
        assert!(r.advance(Proposed, 2).unwrap());
        assert!(!r.advance(Proposed, 3).unwrap());
        assert_eq!(r.updated_unix, 3);
        r.advance(Failed("boom".into()), 4).unwrap();
        assert_eq!(r.error(), Some("boom"));
    }

    #[test]
    fn decisions_are_recorded_once_per_change() {
        let mut r = RequestRecord::new("ab".into(), "example.".into(), 10, 1);
        let pending = RecordedDecision { state: DecisionState::Pending, reason: "DNSKEY RRset changes".into(), ..Default::default() };
        assert!(r.record_decision("signer-1", pending.clone(), 2));
        assert!(!r.record_decision("signer-1", pending, 3));
        assert_eq!(r.updated_unix, 2);
        let approved = RecordedDecision { state: DecisionState::Approved, decided_by: "alice".into(), ..Default::default() };
        assert!(r.record_decision("signer-1", approved, 4));
        assert_eq!(r.decisions["signer-1"].decided_by, "alice");
    }

    #[test]
    fn records_round_trip_as_toml_and_version_1_records_still_read() {
        let mut r = RequestRecord::new("ab".into(), "example.".into(), 10, 1);
        r.content_hash = "00".repeat(32);
        r.decisions.insert(
            "signer-1".into(),
            RecordedDecision {
                state: DecisionState::Rejected,
                reason: "wrong serial".into(),
                decided_by: "operator alice".into(),
                changes: ChangeCounts { rrsets_added: 3, key_rrsets_changed: true, ..Default::default() },
                ..RecordedDecision::default()
            },
        );
        r.decisions.insert("signer-2".into(), RecordedDecision::default());
        r.advance(Failed("rejected".into()), 2).unwrap();
        let text = toml::to_string(&r).unwrap();
        assert_eq!(toml::from_str::<RequestRecord>(&text).unwrap(), r);

        let v1 = "version = 1\nid = \"aa\"\nzone = \"example.\"\nstarted_unix = 1\nupdated_unix = 2\n\
                  signers = []\nculprits = []\nplanned = 5\nsignatures = 5\nretries = 0\n\
                  [state]\nstate = \"released\"\n";
        let old: RequestRecord = toml::from_str(v1).unwrap();
        assert_eq!(old.state, Published);
        assert!(old.decisions.is_empty() && old.content_hash.is_empty());
    }
}
