//! The wait for a quorum of approvals as a state machine (no I/O, no
//! clock of its own): the async loop in [`super::wait`] feeds it the
//! signers' answers and the time, and does what each step says.
//!
//! The rules it holds:
//!
//! * every key group needs its threshold of approvals; refusals that put
//!   it out of reach fail the request at once ([`super::tally::assess`]);
//! * past [`UNREACHABLE_GRACE`], a group that cannot reach its threshold
//!   among approvers and reachable signers fails as "quorum unavailable";
//! * once every group has its quorum, signers not heard from yet get
//!   [`APPROVAL_GRACE`] to join (an approver beyond t can stand in for one
//!   that fails during signing); a request everyone answered is approved
//!   at once;
//! * at the deadline, whatever is short fails as timed out;
//! * while waiting, a progress line goes out on every change and at least
//!   every [`PROGRESS_INTERVAL`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::tally::{assess, progress_line, quorum_unreachable, ApprovalFailure, Approvers, Assessment, GroupSigners};
use crate::request::decision::RecordedDecision;

/// Longest silence on the SignZone stream while a request waits: clients
/// and proxies see the request is alive, operators see who it waits for.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(30);

/// Once the quorum is reached, signers whose first answer is still on its
/// way (a large zone takes a while to propose) get this long to join: an
/// approver beyond t can stand in for one that fails during signing.
/// Signers pending their operator are not waited for.
pub const APPROVAL_GRACE: Duration = Duration::from_secs(5);

/// How long after a proposal goes out a signer that cannot be reached
/// still counts as a possible approver. Past it, a request whose key
/// group cannot reach its threshold among approvers and reachable signers
/// fails with "quorum unavailable" instead of waiting for the approval
/// deadline (an hour by default): a cluster that is down says so in
/// seconds. Three proposal attempts fit in it.
pub const UNREACHABLE_GRACE: Duration = Duration::from_secs(15);

/// What the wait does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Keep waiting for answers until [`QuorumWait::wake_at`]; send the
    /// progress line first, if there is one.
    Wait(Option<String>),
    /// Every key group has its quorum: sign with these approvers.
    Approved(Approvers),
    /// The request will not be approved.
    Failed(WaitFailure),
}

/// Why a wait ended without approval.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WaitFailure {
    /// Refused, timed out or unavailable.
    #[error(transparent)]
    NotApproved(#[from] ApprovalFailure),
    /// [`assess`] still said "waiting" after the deadline: a bug.
    #[error("approval still waiting after its deadline")]
    StillWaitingAfterDeadline,
}

/// The state of one request's wait for approvals.
#[derive(Debug)]
pub struct QuorumWait {
    request_id: String,
    groups: Vec<GroupSigners>,
    /// Every signer proposed to.
    proposed: Vec<String>,
    /// Signers that answered at least once (or cannot be asked).
    heard: BTreeSet<String>,
    timeout: Duration,
    deadline: Instant,
    reachability_from: Instant,
    quorum_since: Option<Instant>,
    last_line: String,
    last_sent: Instant,
}

impl QuorumWait {
    /// A wait started at `now` for request `request_id` of a zone whose
    /// key groups are `groups`, proposed to `proposed`, for at most
    /// `timeout`.
    pub fn new(request_id: &str, groups: Vec<GroupSigners>, proposed: Vec<String>, timeout: Duration, now: Instant) -> Self {
        QuorumWait {
            request_id: request_id.to_string(),
            groups,
            proposed,
            heard: BTreeSet::new(),
            timeout,
            deadline: now + timeout,
            reachability_from: now + UNREACHABLE_GRACE,
            quorum_since: None,
            last_line: String::new(),
            last_sent: now,
        }
    }

    /// `signer` answered (or cannot be asked at all).
    pub fn heard(&mut self, signer: &str) {
        self.heard.insert(signer.to_string());
    }

    /// When the wait must look again even if no answer comes: the
    /// deadline, the next progress line, the end of the approval grace,
    /// the first reachability check.
    pub fn wake_at(&self, now: Instant) -> Instant {
        let mut at = self.deadline.min(self.last_sent + PROGRESS_INTERVAL);
        if let Some(since) = self.quorum_since {
            at = at.min(since + APPROVAL_GRACE);
        }
        if now < self.reachability_from {
            at = at.min(self.reachability_from);
        }
        at
    }

    /// Where the request stands at `now`, given every signer's latest
    /// `decisions`.
    pub fn step(&mut self, decisions: &BTreeMap<String, RecordedDecision>, now: Instant) -> Step {
        let timed_out = (now >= self.deadline).then_some(self.timeout.as_secs());
        if now >= self.reachability_from {
            if let Some(failure) = quorum_unreachable(&self.groups, decisions) {
                return Step::Failed(failure.into());
            }
        }
        match assess(&self.groups, decisions, timed_out) {
            Assessment::Approved(approvers) => {
                let since = *self.quorum_since.get_or_insert(now);
                let everyone = self.proposed.iter().all(|n| self.heard.contains(n));
                if everyone || now.duration_since(since) >= APPROVAL_GRACE || timed_out.is_some() {
                    Step::Approved(approvers)
                } else {
                    Step::Wait(None)
                }
            }
            Assessment::Failed(failure) => Step::Failed(failure.into()),
            Assessment::Waiting(_) if timed_out.is_some() => Step::Failed(WaitFailure::StillWaitingAfterDeadline),
            Assessment::Waiting(waiting) => {
                let line = progress_line(&self.request_id, &waiting);
                if line != self.last_line || now >= self.last_sent + PROGRESS_INTERVAL {
                    self.last_line = line.clone();
                    self.last_sent = now;
                    Step::Wait(Some(line))
                } else {
                    Step::Wait(None)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::decision::DecisionState;

    const SIGNERS: [&str; 5] = ["s1", "s2", "s3", "s4", "s5"];

    fn wait(now: Instant) -> QuorumWait {
        let group = GroupSigners { key_tag: 7, threshold: 3, signers: SIGNERS.map(String::from).to_vec() };
        QuorumWait::new("0123456789abcdef", vec![group], SIGNERS.map(String::from).to_vec(), Duration::from_secs(600), now)
    }

    fn decisions(states: &[(&str, DecisionState, &str)]) -> BTreeMap<String, RecordedDecision> {
        states
            .iter()
            .map(|(n, state, reason)| (n.to_string(), RecordedDecision { state: *state, reason: reason.to_string(), ..Default::default() }))
            .collect()
    }

    fn approved_by(names: &[&str]) -> BTreeMap<String, RecordedDecision> {
        decisions(&names.iter().map(|n| (*n, DecisionState::Approved, "")).collect::<Vec<_>>())
    }

    #[test]
    fn quorum_waits_the_grace_for_signers_not_heard_yet() {
        let t0 = Instant::now();
        let mut w = wait(t0);
        for n in ["s1", "s2", "s3"] {
            w.heard(n);
        }
        let d = approved_by(&["s1", "s2", "s3"]);
        assert_eq!(w.step(&d, t0 + Duration::from_secs(1)), Step::Wait(None));
        assert_eq!(w.wake_at(t0 + Duration::from_secs(1)), t0 + Duration::from_secs(1) + APPROVAL_GRACE);
        assert_eq!(w.step(&d, t0 + Duration::from_secs(3)), Step::Wait(None));
        let approvers = BTreeMap::from([(7, vec!["s1".to_string(), "s2".into(), "s3".into()])]);
        assert_eq!(w.step(&d, t0 + Duration::from_secs(1) + APPROVAL_GRACE), Step::Approved(approvers));
    }

    #[test]
    fn quorum_with_every_signer_heard_is_approved_at_once() {
        let t0 = Instant::now();
        let mut w = wait(t0);
        for n in SIGNERS {
            w.heard(n);
        }
        let mut d = approved_by(&["s1", "s3", "s5"]);
        d.extend(decisions(&[("s2", DecisionState::Pending, "operator"), ("s4", DecisionState::Rejected, "no")]));
        assert!(matches!(w.step(&d, t0), Step::Approved(a) if a[&7] == ["s1", "s3", "s5"]));
    }

    #[test]
    fn refusals_that_put_the_threshold_out_of_reach_fail_at_once() {
        let t0 = Instant::now();
        let mut w = wait(t0);
        let d = decisions(&[("s1", DecisionState::Rejected, "a"), ("s2", DecisionState::Rejected, "b"), ("s3", DecisionState::Expired, "")]);
        assert!(matches!(w.step(&d, t0), Step::Failed(WaitFailure::NotApproved(ApprovalFailure::Refused { needed: 3, .. }))));
    }

    #[test]
    fn unreachable_signers_fail_the_quorum_only_after_their_grace() {
        let t0 = Instant::now();
        let mut w = wait(t0);
        let d = decisions(&[
            ("s1", DecisionState::Unanswered, "unreachable: connection refused"),
            ("s2", DecisionState::Unanswered, "unreachable: connection refused"),
            ("s3", DecisionState::Unanswered, "unreachable: connection refused"),
        ]);
        assert!(matches!(w.step(&d, t0 + Duration::from_secs(1)), Step::Wait(Some(_))));
        assert_eq!(w.wake_at(t0 + Duration::from_secs(1)), t0 + UNREACHABLE_GRACE);
        assert!(matches!(
            w.step(&d, t0 + UNREACHABLE_GRACE),
            Step::Failed(WaitFailure::NotApproved(ApprovalFailure::Unavailable { reachable: 2, .. }))
        ));
    }

    #[test]
    fn the_deadline_fails_what_is_short() {
        let t0 = Instant::now();
        let mut w = wait(t0);
        let d = approved_by(&["s1", "s2"]);
        assert!(matches!(w.step(&d, t0 + Duration::from_secs(599)), Step::Wait(_)));
        assert!(matches!(
            w.step(&d, t0 + Duration::from_secs(600)),
            Step::Failed(WaitFailure::NotApproved(ApprovalFailure::TimedOut { waited_secs: 600, .. }))
        ));
    }

    #[test]
    fn progress_lines_on_change_and_at_least_every_interval() {
        let t0 = Instant::now();
        let mut w = wait(t0);
        let one = approved_by(&["s1"]);
        let Step::Wait(Some(first)) = w.step(&one, t0) else { panic!("a first line") };
        assert!(first.contains("1 of 3"), "{first}");
        assert_eq!(w.step(&one, t0 + Duration::from_secs(10)), Step::Wait(None));
        assert_eq!(w.wake_at(t0 + Duration::from_secs(10)), t0 + UNREACHABLE_GRACE);
        assert_eq!(w.wake_at(t0 + UNREACHABLE_GRACE), t0 + PROGRESS_INTERVAL);
        assert_eq!(w.step(&one, t0 + PROGRESS_INTERVAL), Step::Wait(Some(first)));
        let Step::Wait(Some(second)) = w.step(&approved_by(&["s1", "s2"]), t0 + PROGRESS_INTERVAL + Duration::from_secs(1)) else {
            panic!("a line on change")
        };
        assert!(second.contains("2 of 3"), "{second}");
    }
}
