//! Choosing t signers for a batch, and what a failure changes (no I/O).
//!
//! One [`SubsetChooser`] lives for one signing request. It starts with
//! every signer that holds a share of the key group, in participant order.
//! [`SubsetChooser::choose`] takes the first `t` of them that have neither
//! failed during this request nor been caught sending an invalid share: the
//! choice is deterministic, so the same healthy cluster always signs with
//! the same subset, which keeps logs and tests readable.
//! [`SubsetChooser::choose_rotated`] starts that window further along the
//! usable signers, wrapping around: the batches of a large request are
//! spread over every approver, so on separate hosts no signer does more
//! than t/n of the work.
//!
//! After a failed attempt the caller reports what happened:
//!
//! * [`SubsetChooser::mark_unavailable`]: a timeout, a transport error or an
//!   error status. The signer is skipped for the rest of the request.
//! * [`SubsetChooser::mark_culprit`]: RFC 9591 §5.4 Identifiable Abort named
//!   the signer (or it sent commitments or shares that do not parse). It is
//!   excluded for the rest of the request and the caller records it.
//!
//! and then calls [`SubsetChooser::choose`] again: either a new subset to
//! retry the batch with, or [`QuorumUnavailable`], whose message says who
//! answered and why each other signer is out. Every failure removes at
//! least one candidate, so a request makes at most n failed attempts per
//! batch.

use std::collections::BTreeMap;
use std::fmt;

/// A signer that may take part in signing with a key group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Its configured name.
    pub name: String,
    /// Its FROST identifier.
    pub participant: u16,
}

/// Fewer than t signers are left: nothing can be signed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct QuorumUnavailable {
    /// Signers needed (t).
    pub needed: usize,
    /// Signers still usable, in participant order.
    pub answered: Vec<String>,
    /// Signers that failed, and how.
    pub unreachable: Vec<(String, String)>,
    /// Signers excluded for invalid shares, and why.
    pub culprits: Vec<(String, String)>,
}

impl fmt::Display for QuorumUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "quorum unavailable: {} of the {} needed signers answered", self.answered.len(), self.needed)?;
        if !self.answered.is_empty() {
            write!(f, ": {}", self.answered.join(", "))?;
        }
        let list = |v: &[(String, String)]| v.iter().map(|(n, r)| format!("{n} ({r})")).collect::<Vec<_>>().join(", ");
        if !self.unreachable.is_empty() {
            write!(f, "; unreachable: {}", list(&self.unreachable))?;
        }
        if !self.culprits.is_empty() {
            write!(f, "; excluded for invalid shares: {}", list(&self.culprits))?;
        }
        Ok(())
    }
}

/// The signers of one request and what has gone wrong with them.
#[derive(Clone, Debug)]
pub struct SubsetChooser {
    threshold: usize,
    candidates: Vec<Candidate>,
    unavailable: BTreeMap<String, String>,
    culprits: BTreeMap<String, String>,
}

impl SubsetChooser {
    /// A tracker for `threshold` of `candidates` (any order; kept sorted by
    /// participant).
    pub fn new(threshold: usize, mut candidates: Vec<Candidate>) -> Self {
        candidates.sort_by_key(|c| c.participant);
        candidates.dedup_by_key(|c| c.participant);
        SubsetChooser { threshold, candidates, unavailable: BTreeMap::new(), culprits: BTreeMap::new() }
    }

    fn usable(&self, c: &Candidate) -> bool {
        !self.unavailable.contains_key(&c.name) && !self.culprits.contains_key(&c.name)
    }

    /// The first `t` usable signers in participant order, or why there are
    /// not enough.
    pub fn choose(&self) -> Result<Vec<Candidate>, QuorumUnavailable> {
        self.choose_rotated(0)
    }

    /// `t` usable signers, starting at the `rotation`-th usable one (modulo
    /// their number) and wrapping around, returned in participant order;
    /// or why there are not enough.
    pub fn choose_rotated(&self, rotation: usize) -> Result<Vec<Candidate>, QuorumUnavailable> {
        let usable: Vec<&Candidate> = self.candidates.iter().filter(|c| self.usable(c)).collect();
        if usable.len() >= self.threshold {
            let start = rotation % usable.len();
            let mut chosen: Vec<Candidate> =
                usable.iter().cycle().skip(start).take(self.threshold).map(|c| (*c).clone()).collect();
            chosen.sort_by_key(|c| c.participant);
            return Ok(chosen);
        }
        let ordered = |m: &BTreeMap<String, String>| -> Vec<(String, String)> {
            self.candidates
                .iter()
                .filter_map(|c| m.get(&c.name).map(|r| (c.name.clone(), r.clone())))
                .collect()
        };
        Err(QuorumUnavailable {
            needed: self.threshold,
            answered: usable.into_iter().map(|c| c.name.clone()).collect(),
            unreachable: ordered(&self.unavailable),
            culprits: ordered(&self.culprits),
        })
    }

    /// `name` timed out, could not be reached or refused: skip it for the
    /// rest of the request. The first reason is kept.
    pub fn mark_unavailable(&mut self, name: &str, reason: impl Into<String>) {
        if !self.culprits.contains_key(name) {
            self.unavailable.entry(name.to_string()).or_insert_with(|| reason.into());
        }
    }

    /// `name` sent an invalid share: exclude it for the rest of the
    /// request.
    pub fn mark_culprit(&mut self, name: &str, reason: impl Into<String>) {
        self.unavailable.remove(name);
        self.culprits.entry(name.to_string()).or_insert_with(|| reason.into());
    }

    /// The signers excluded as culprits so far, in participant order.
    pub fn culprits(&self) -> Vec<String> {
        self.candidates.iter().filter(|c| self.culprits.contains_key(&c.name)).map(|c| c.name.clone()).collect()
    }

    /// Whether `name` is still usable (a concurrent batch may have found it
    /// bad after this batch chose it).
    pub fn is_usable(&self, name: &str) -> bool {
        self.candidates.iter().any(|c| c.name == name && self.usable(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn five() -> SubsetChooser {
        let c = (1..=5u16).rev().map(|i| Candidate { name: format!("signer-{i}"), participant: i }).collect();
        SubsetChooser::new(3, c)
    }

    fn names(v: &[Candidate]) -> Vec<&str> {
        v.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn first_t_in_participant_order() {
        let q = five();
        assert_eq!(names(&q.choose().unwrap()), ["signer-1", "signer-2", "signer-3"]);
    }

    #[test]
    fn rotation_spreads_batches_over_every_usable_signer() {
        let mut q = five();
        assert_eq!(names(&q.choose_rotated(0).unwrap()), ["signer-1", "signer-2", "signer-3"]);
        assert_eq!(names(&q.choose_rotated(1).unwrap()), ["signer-2", "signer-3", "signer-4"]);
        assert_eq!(names(&q.choose_rotated(4).unwrap()), ["signer-1", "signer-2", "signer-5"]);
        assert_eq!(q.choose_rotated(7).unwrap(), q.choose_rotated(2).unwrap());
        // Over n batches, every signer signs t of them.
        let mut count = BTreeMap::new();
        for k in 0..5 {
            for c in q.choose_rotated(k).unwrap() {
                *count.entry(c.name).or_insert(0) += 1;
            }
        }
        assert!(count.values().all(|&c| c == 3), "{count:?}");
        // Unusable signers are skipped, never chosen.
        q.mark_unavailable("signer-2", "deadline exceeded");
        for k in 0..8 {
            assert!(!names(&q.choose_rotated(k).unwrap()).contains(&"signer-2"));
        }
        q.mark_culprit("signer-4", "invalid signature share");
        q.mark_unavailable("signer-5", "connection refused");
        assert!(q.choose_rotated(3).is_err());
    }

    #[test]
    fn failures_and_culprits_are_skipped() {
        let mut q = five();
        q.mark_unavailable("signer-2", "deadline exceeded");
        assert_eq!(names(&q.choose().unwrap()), ["signer-1", "signer-3", "signer-4"]);
        q.mark_culprit("signer-3", "invalid signature share");
        assert_eq!(names(&q.choose().unwrap()), ["signer-1", "signer-4", "signer-5"]);
        assert!(!q.is_usable("signer-3"));
        assert!(q.is_usable("signer-4"));
        assert_eq!(q.culprits(), ["signer-3"]);
    }

    #[test]
    fn clear_error_when_fewer_than_t_remain() {
        let mut q = five();
        q.mark_unavailable("signer-3", "connection refused");
        q.mark_unavailable("signer-5", "deadline exceeded");
        assert!(q.choose().is_ok());
        q.mark_culprit("signer-4", "invalid signature share");
        let err = q.choose().unwrap_err();
        assert_eq!(err.answered, ["signer-1", "signer-2"]);
        assert_eq!(
            err.to_string(),
            "quorum unavailable: 2 of the 3 needed signers answered: signer-1, signer-2; \
             unreachable: signer-3 (connection refused), signer-5 (deadline exceeded); \
             excluded for invalid shares: signer-4 (invalid signature share)"
        );
    }

    #[test]
    fn culprit_overrides_unavailable_and_first_reason_is_kept() {
        let mut q = five();
        q.mark_unavailable("signer-1", "first");
        q.mark_unavailable("signer-1", "second");
        q.mark_culprit("signer-1", "bad share");
        q.mark_unavailable("signer-1", "later timeout");
        q.mark_unavailable("signer-2", "x");
        q.mark_unavailable("signer-3", "y");
        let err = q.choose().unwrap_err();
        assert_eq!(err.unreachable, [("signer-2".into(), "x".into()), ("signer-3".into(), "y".into())]);
        assert_eq!(err.culprits, [("signer-1".into(), "bad share".into())]);
        assert_eq!(err.answered, ["signer-4", "signer-5"]);
    }
}
