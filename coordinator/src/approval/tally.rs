//! Whether a request has the approvals it needs (no I/O).
//!
//! Every key group of the zone signs with `t` of its `n` signers, and a
//! signer contributes shares only to requests it approved itself. So a
//! request may be signed once **every** key group has at least `t`
//! approvers among its own signers; the quorum of each group is then
//! chosen among those approvers only.
//!
//! [`assess`] turns the decisions so far into one of:
//!
//! * [`Assessment::Approved`]: every group has `t` approvers (all of them
//!   are listed: the signing quorum is chosen among them, so a spare
//!   approver can stand in for one that fails);
//! * [`Assessment::Waiting`]: some group is short, but enough of its
//!   signers have not decided (pending their operator, or not answered:
//!   an unreachable signer counts as not answered until the deadline);
//! * [`Assessment::Failed`]: some group can no longer reach `t`, because
//!   `n - t + 1` of its signers rejected, expired or failed the request
//!   ([`ApprovalFailure::Refused`], at once), or the deadline passed while
//!   it was still short ([`ApprovalFailure::TimedOut`]).
//!
//! An unreachable signer cannot approve. [`quorum_unreachable`] tells,
//! once signers have had [`crate::approval::quorum_wait::UNREACHABLE_GRACE`] to answer,
//! whether some group is short even counting every reachable undecided
//! signer: then the request fails with "quorum unavailable" at once rather
//! than at the approval deadline ([`ApprovalFailure::Unavailable`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::request::decision::{DecisionState, RecordedDecision};

/// One key group as approval sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSigners {
    /// Its DNSKEY's key tag.
    pub key_tag: u16,
    /// Signers needed (t).
    pub threshold: usize,
    /// The signers holding a share, in participant order.
    pub signers: Vec<String>,
}

/// The approvers of each key group, by key tag, in participant order.
pub type Approvers = BTreeMap<u16, Vec<String>>;

/// Where a request stands on approval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assessment {
    /// Every key group has its threshold of approvers.
    Approved(Approvers),
    /// Not yet: the group furthest from its threshold.
    Waiting(Waiting),
    /// It never will.
    Failed(ApprovalFailure),
}

/// A request still short of approvals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// Approvals of the group furthest from its threshold.
    pub approvals: usize,
    /// That group's threshold.
    pub needed: usize,
    /// Undecided signers of every group still short, with what is known
    /// about them (the pending reason, or why they were not reached; may
    /// be empty).
    pub pending: Vec<(String, String)>,
}

/// A signer that will not approve, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The signer.
    pub signer: String,
    /// Rejected, expired or failed.
    pub state: DecisionState,
    /// Its reason, and who decided.
    pub reason: String,
}

/// Why a request will not be approved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalFailure {
    /// `n - t + 1` signers of a key group refused: `t` approvals are out
    /// of reach.
    #[error("{}: {} of {signers} signers can no longer approve, key tag {key_tag} needs {needed}", refusals(.refused), .refused.len())]
    Refused {
        /// The key group.
        key_tag: u16,
        /// Its signers (n).
        signers: usize,
        /// Its threshold (t).
        needed: usize,
        /// Every refusal among its signers.
        refused: Vec<Refusal>,
    },
    /// Too few signers of a key group can be reached to approve it.
    #[error(
        "quorum unavailable: key tag {key_tag} needs {needed} approvals, at most {reachable} reachable signers can give them ({})",
        unreachable_list(.approvers, .unreachable)
    )]
    Unavailable {
        /// The key group.
        key_tag: u16,
        /// Its threshold (t).
        needed: usize,
        /// Approvers plus reachable undecided signers.
        reachable: usize,
        /// Its approvers.
        approvers: Vec<String>,
        /// Its signers that could not be reached, and why.
        unreachable: Vec<(String, String)>,
    },
    /// The deadline passed with a key group short of its threshold.
    #[error(
        "no quorum of approvals within {waited_secs} s: key tag {key_tag} has {} of the {needed} approvals it needs{}",
        .approvers.len(),
        undecided(.approvers, .pending)
    )]
    TimedOut {
        /// How long the coordinator waited.
        waited_secs: u64,
        /// The key group.
        key_tag: u16,
        /// Its threshold (t).
        needed: usize,
        /// Its approvers.
        approvers: Vec<String>,
        /// Its undecided signers, with what is known about them.
        pending: Vec<(String, String)>,
    },
}

/// The signers that could not be reached, named in "quorum unavailable".
fn unreachable_list(approvers: &[String], unreachable: &[(String, String)]) -> String {
    let mut parts = Vec::new();
    if !approvers.is_empty() {
        parts.push(format!("approved: {}", approvers.join(", ")));
    }
    parts.push(format!("unreachable: {}", pending_list(unreachable)));
    parts.join("; ")
}

fn refusals(refused: &[Refusal]) -> String {
    let mut parts = Vec::new();
    for (state, lead) in
        [(DecisionState::Rejected, "rejected by"), (DecisionState::Expired, "expired at"), (DecisionState::Failed, "failed at")]
    {
        let list: Vec<String> =
            refused.iter().filter(|r| r.state == state).map(|r| with_reason(&r.signer, &r.reason)).collect();
        if !list.is_empty() {
            parts.push(format!("{lead} {}", list.join(", ")));
        }
    }
    parts.join("; ")
}

fn undecided(approvers: &[String], pending: &[(String, String)]) -> String {
    let mut parts = Vec::new();
    if !approvers.is_empty() {
        parts.push(format!("approved: {}", approvers.join(", ")));
    }
    if !pending.is_empty() {
        parts.push(format!("undecided: {}", pending_list(pending)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

fn with_reason(signer: &str, reason: &str) -> String {
    if reason.is_empty() {
        signer.to_string()
    } else {
        format!("{signer} ({reason})")
    }
}

/// `signer-4 (reason), signer-5`.
pub fn pending_list(pending: &[(String, String)]) -> String {
    pending.iter().map(|(s, r)| with_reason(s, r)).collect::<Vec<_>>().join(", ")
}

/// The reason of a refusal as shown: the signer's reason and who decided,
/// when that is an operator (a policy's own reason says enough).
fn refusal_reason(d: &RecordedDecision) -> String {
    match (d.decided_by.as_str(), d.reason.as_str()) {
        ("" | "policy", r) => r.to_string(),
        (by, "") => by.to_string(),
        (by, r) => format!("{by}: {r}"),
    }
}

/// One group's count.
struct Tally<'a> {
    group: &'a GroupSigners,
    approvers: Vec<String>,
    refused: Vec<Refusal>,
    undecided: Vec<(String, String)>,
}

fn tally<'a>(group: &'a GroupSigners, decisions: &BTreeMap<String, RecordedDecision>) -> Tally<'a> {
    let mut t = Tally { group, approvers: Vec::new(), refused: Vec::new(), undecided: Vec::new() };
    let mut seen = BTreeSet::new();
    for signer in group.signers.iter().filter(|s| seen.insert(s.as_str())) {
        let d = decisions.get(signer).cloned().unwrap_or_default();
        if d.state.approves() {
            t.approvers.push(signer.clone());
        } else if d.state.refuses() {
            t.refused.push(Refusal { signer: signer.clone(), state: d.state, reason: refusal_reason(&d) });
        } else {
            t.undecided.push((signer.clone(), d.reason));
        }
    }
    t
}

/// Judges the `decisions` so far (by signer name; a signer without one has
/// not answered) for a zone whose key groups are `groups`.
/// `timed_out_after` is `Some(seconds waited)` once the deadline passed:
/// then undecided signers no longer count.
pub fn assess(
    groups: &[GroupSigners],
    decisions: &BTreeMap<String, RecordedDecision>,
    timed_out_after: Option<u64>,
) -> Assessment {
    let tallies: Vec<Tally> = groups.iter().map(|g| tally(g, decisions)).collect();
    // Refusals first: they are final, and name who refused.
    for t in &tallies {
        if t.approvers.len() + t.undecided.len() < t.group.threshold {
            return Assessment::Failed(ApprovalFailure::Refused {
                key_tag: t.group.key_tag,
                signers: t.approvers.len() + t.undecided.len() + t.refused.len(),
                needed: t.group.threshold,
                refused: t.refused.clone(),
            });
        }
    }
    let short: Vec<&Tally> = tallies.iter().filter(|t| t.approvers.len() < t.group.threshold).collect();
    // The group furthest from its threshold (the first of equals).
    let Some(worst) = short.iter().copied().max_by_key(|t| (t.group.threshold - t.approvers.len(), std::cmp::Reverse(t.group.key_tag)))
    else {
        return Assessment::Approved(tallies.into_iter().map(|t| (t.group.key_tag, t.approvers)).collect());
    };
    if let Some(waited_secs) = timed_out_after {
        return Assessment::Failed(ApprovalFailure::TimedOut {
            waited_secs,
            key_tag: worst.group.key_tag,
            needed: worst.group.threshold,
            approvers: worst.approvers.clone(),
            pending: worst.undecided.clone(),
        });
    }
    let mut pending: Vec<(String, String)> = Vec::new();
    for t in &short {
        for p in &t.undecided {
            if !pending.iter().any(|(name, _)| name == &p.0) {
                pending.push(p.clone());
            }
        }
    }
    Assessment::Waiting(Waiting { approvals: worst.approvers.len(), needed: worst.group.threshold, pending })
}

/// Whether some key group is short of its threshold even if every
/// reachable undecided signer approved: undecided signers whose last
/// attempt failed in transport ("unreachable: …") do not count.
pub fn quorum_unreachable(groups: &[GroupSigners], decisions: &BTreeMap<String, RecordedDecision>) -> Option<ApprovalFailure> {
    for g in groups {
        let t = tally(g, decisions);
        let (unreachable, reachable): (Vec<_>, Vec<_>) =
            t.undecided.iter().cloned().partition(|(_, reason)| reason.starts_with("unreachable"));
        let possible = t.approvers.len() + reachable.len();
        if possible < g.threshold {
            return Some(ApprovalFailure::Unavailable {
                key_tag: g.key_tag,
                needed: g.threshold,
                reachable: possible,
                approvers: t.approvers,
                unreachable,
            });
        }
    }
    None
}

/// The request id as shown in progress lines: its first 8 hex digits.
pub struct ShortId<'a>(pub &'a str);

impl fmt::Display for ShortId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.get(..8) {
            Some(head) if self.0.len() > 8 => write!(f, "{head}…"),
            _ => f.write_str(self.0),
        }
    }
}

/// One progress line while a request waits, e.g. `request 3f2a9c1b…: 2 of
/// 3 approvals; pending: signer-4 (DNSKEY RRset changes need the
/// operator's approval), signer-5`.
pub fn progress_line(request_id: &str, waiting: &Waiting) -> String {
    let mut line = format!("request {}: {} of {} approvals", ShortId(request_id), waiting.approvals, waiting.needed);
    if !waiting.pending.is_empty() {
        line.push_str("; pending: ");
        line.push_str(&pending_list(&waiting.pending));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(tag: u16, t: usize, n: usize) -> GroupSigners {
        GroupSigners { key_tag: tag, threshold: t, signers: (1..=n).map(|i| format!("signer-{i}")).collect() }
    }

    fn d(state: DecisionState, reason: &str, by: &str) -> RecordedDecision {
        RecordedDecision { state, reason: reason.into(), decided_by: by.into(), ..Default::default() }
    }

    fn decisions(list: &[(usize, RecordedDecision)]) -> BTreeMap<String, RecordedDecision> {
        list.iter().map(|(i, d)| (format!("signer-{i}"), d.clone())).collect()
    }

    use DecisionState::*;

    #[test]
    fn t_approvals_approve_and_every_approver_is_a_candidate() {
        let g = [group(12345, 3, 5)];
        let ds = decisions(&[
            (1, d(Approved, "", "policy")),
            (2, d(Rejected, "wrong serial", "operator alice")),
            (3, d(Approved, "", "policy")),
            (4, d(Pending, "DNSKEY RRset changes", "")),
            (5, d(Approved, "", "operator bob")),
        ]);
        let Assessment::Approved(a) = assess(&g, &ds, None) else { panic!() };
        assert_eq!(a[&12345], ["signer-1", "signer-3", "signer-5"]);
    }

    #[test]
    fn short_of_t_waits_and_lists_the_undecided() {
        let g = [group(12345, 3, 5)];
        let ds = decisions(&[
            (1, d(Approved, "", "policy")),
            (2, d(Approved, "", "policy")),
            (3, d(Rejected, "no", "policy")),
            (4, d(Pending, "DNSKEY RRset changes need the operator's approval", "")),
            (5, d(Unanswered, "unreachable: connection refused", "")),
        ]);
        let Assessment::Waiting(w) = assess(&g, &ds, None) else { panic!() };
        assert_eq!((w.approvals, w.needed), (2, 3));
        assert_eq!(
            progress_line("3f2a9c1b00112233", &w),
            "request 3f2a9c1b…: 2 of 3 approvals; pending: signer-4 (DNSKEY RRset changes need the operator's approval), \
             signer-5 (unreachable: connection refused)"
        );
        // Nobody has answered: everyone is pending, nothing failed.
        let Assessment::Waiting(w) = assess(&g, &BTreeMap::new(), None) else { panic!() };
        assert_eq!((w.approvals, w.pending.len()), (0, 5));
    }

    #[test]
    fn n_minus_t_plus_1_refusals_fail_at_once_naming_them() {
        let g = [group(12345, 3, 5)];
        let mut ds = decisions(&[
            (1, d(Approved, "", "policy")),
            (3, d(Rejected, "wrong serial", "operator alice (uid 1000)")),
            (4, d(Expired, "nobody decided within 86400 s", "")),
        ]);
        assert!(matches!(assess(&g, &ds, None), Assessment::Waiting(_)), "2 refusals of 5 leave 3 possible");
        ds.insert("signer-5".into(), d(Rejected, "key tag not allowed", "policy"));
        let Assessment::Failed(f) = assess(&g, &ds, None) else { panic!() };
        assert_eq!(
            f.to_string(),
            "rejected by signer-3 (operator alice (uid 1000): wrong serial), signer-5 (key tag not allowed); \
             expired at signer-4 (nobody decided within 86400 s): 3 of 5 signers can no longer approve, key tag 12345 needs 3"
        );
    }

    #[test]
    fn the_deadline_fails_a_short_group_and_not_an_approved_one() {
        let g = [group(12345, 3, 5)];
        let ds = decisions(&[(1, d(Approved, "", "policy")), (2, d(Approved, "", "policy")), (3, d(Pending, "DNSKEY", ""))]);
        let Assessment::Failed(f) = assess(&g, &ds, Some(3600)) else { panic!() };
        assert!(matches!(f, ApprovalFailure::TimedOut { key_tag: 12345, needed: 3, .. }));
        assert_eq!(
            f.to_string(),
            "no quorum of approvals within 3600 s: key tag 12345 has 2 of the 3 approvals it needs \
             (approved: signer-1, signer-2; undecided: signer-3 (DNSKEY), signer-4, signer-5)"
        );
        let mut ds = ds;
        ds.insert("signer-4".into(), d(Approved, "", "policy"));
        assert!(matches!(assess(&g, &ds, Some(3600)), Assessment::Approved(_)));
    }

    #[test]
    fn every_key_group_needs_its_own_threshold() {
        // A KSK held by signers 1-3 (2 of 3) and a ZSK by signers 1-5 (3 of 5).
        let ksk = GroupSigners { key_tag: 100, threshold: 2, signers: vec!["signer-1".into(), "signer-2".into(), "signer-3".into()] };
        let zsk = group(200, 3, 5);
        let g = [ksk, zsk];
        let ds = decisions(&[(1, d(Approved, "", "policy")), (4, d(Approved, "", "policy")), (5, d(Approved, "", "policy"))]);
        // The ZSK has 3, the KSK only 1 of its 2: the KSK is reported.
        let Assessment::Waiting(w) = assess(&g, &ds, None) else { panic!() };
        assert_eq!((w.approvals, w.needed), (1, 2));
        assert_eq!(w.pending.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["signer-2", "signer-3"]);
        // Two KSK holders refusing fail it although the ZSK is approved.
        let mut failing = ds.clone();
        failing.insert("signer-2".into(), d(Rejected, "no", "policy"));
        failing.insert("signer-3".into(), d(Failed, "gave up", ""));
        let Assessment::Failed(ApprovalFailure::Refused { key_tag, signers, needed, .. }) = assess(&g, &failing, None) else {
            panic!()
        };
        assert_eq!((key_tag, signers, needed), (100, 3, 2));
        let mut ok = ds;
        ok.insert("signer-3".into(), d(Approved, "", "policy"));
        let Assessment::Approved(a) = assess(&g, &ok, None) else { panic!() };
        assert_eq!(a[&100], ["signer-1", "signer-3"]);
        assert_eq!(a[&200], ["signer-1", "signer-3", "signer-4", "signer-5"]);
    }

    #[test]
    fn signed_and_published_still_count_as_approvals() {
        let g = [group(1, 2, 3)];
        let ds = decisions(&[(1, d(Signed, "", "policy")), (2, d(Published, "", "policy"))]);
        assert!(matches!(assess(&g, &ds, None), Assessment::Approved(_)));
    }

    #[test]
    fn short_ids() {
        assert_eq!(ShortId("3f2a9c1b00").to_string(), "3f2a9c1b…");
        assert_eq!(ShortId("3f2a9c1b").to_string(), "3f2a9c1b");
    }

    #[test]
    fn unreachable_signers_make_the_quorum_unavailable() {
        let g = vec![GroupSigners { key_tag: 7, threshold: 3, signers: (1..=5).map(|k| format!("signer-{k}")).collect() }];
        let approve = RecordedDecision { state: DecisionState::Approved, decided_by: "policy".into(), ..Default::default() };
        let down = |why: &str| RecordedDecision { reason: format!("unreachable: {why}"), ..Default::default() };
        let mut ds = BTreeMap::new();
        ds.insert("signer-1".to_string(), approve.clone());
        ds.insert("signer-2".to_string(), approve);
        ds.insert("signer-3".to_string(), down("connection refused"));
        ds.insert("signer-4".to_string(), down("connection refused"));
        // signer-5 pending its operator: 2 + 1 = 3 still possible.
        ds.insert("signer-5".to_string(), RecordedDecision { reason: "DNSKEY change".into(), ..Default::default() });
        assert_eq!(quorum_unreachable(&g, &ds), None);
        ds.insert("signer-5".to_string(), down("timed out"));
        let f = quorum_unreachable(&g, &ds).unwrap().to_string();
        assert!(f.starts_with("quorum unavailable: key tag 7 needs 3 approvals, at most 2 reachable"), "{f}");
        assert!(f.contains("approved: signer-1, signer-2; unreachable: signer-3 (unreachable: connection refused)"), "{f}");
    }
}
