//! Denial records checked against the content they deny: what a signer
//! node runs before it signs an NSEC, NSEC3 or NSEC3PARAM RRset.
//!
//! A signer is proposed, for each version of a zone, the RRsets to sign
//! (RFC 4035 §2.2) and the NS RRset of each delegation
//! ([`Zone::proposed_rrsets`](crate::zone::Zone::proposed_rrsets)). From
//! that content it derives the denial records with the very rules
//! frostzone's own generator follows ([`add_denial`](super::add_denial):
//! RFC 4034 §4 and RFC 4035 §2.3 for NSEC, RFC 5155 §7.1 for NSEC3, the
//! RFC 9077 §3.2 TTL) and refuses any that differ. So a coordinator cannot
//! have the signers sign an NSEC3 record that denies a name which exists,
//! an opt-out record spanning the hash ring, or a bitmap that hides a
//! type.
//!
//! * [`check_whole`] checks a whole version: it regenerates the chain and
//!   compares every denial RRset both ways;
//! * [`check_increment`] checks a change against a baseline the signer
//!   keeps ([`ChainSource`]) at the cost of the change, and answers
//!   [`IncrementCheck::NeedsWhole`] when the change is global (new NSEC3
//!   parameters, Opt-Out flag or denial TTL, a switch between NSEC and
//!   NSEC3).
//!
//! Both return the [`DenialMode`] the content uses, so that the signer can
//! apply its own policy (refuse opt-out, say) on top.

use std::fmt;

use domain::base::iana::Rtype;

use crate::denial::{Denial, Nsec3Config};
use crate::name::FqdnDisplay;
use crate::StoredName;

mod compare;
mod increment;
mod links;
mod nsec3_chain;
mod nsec_chain;
mod source;
mod view;
mod whole;

pub use increment::{check_increment, IncrementCheck};
pub use view::Increment;
pub use source::{ChainSource, ZoneSource};
pub use whole::{check_whole, check_whole_in_place};

/// At most this many findings are kept: the first ones say what is wrong,
/// and a broken chain would otherwise list every record of the zone.
pub const MAX_FINDINGS: usize = 20;

/// How the checked content denies existence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DenialMode {
    /// NSEC records (RFC 4034 §4).
    Nsec,
    /// NSEC3 records (RFC 5155) with these parameters.
    Nsec3 {
        /// Extra hash iterations (RFC 5155 §3.1.3; RFC 9276 §3.1: 0).
        iterations: u16,
        /// The salt (RFC 5155 §3.1.5; RFC 9276 §3.1: none).
        salt: Vec<u8>,
        /// Whether the chain uses Opt-Out (RFC 5155 §6), as the apex's
        /// NSEC3 record says.
        opt_out: bool,
    },
}

impl DenialMode {
    /// The generator's configuration for this mode.
    pub fn denial(&self) -> Denial {
        match self {
            DenialMode::Nsec => Denial::Nsec,
            DenialMode::Nsec3 { iterations, salt, opt_out } => {
                Denial::Nsec3(Nsec3Config { iterations: *iterations, salt: salt.clone(), opt_out: *opt_out })
            }
        }
    }
}

impl fmt::Display for DenialMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenialMode::Nsec => f.write_str("NSEC"),
            DenialMode::Nsec3 { iterations, salt, opt_out } => {
                let salt = if salt.is_empty() { "-".to_string() } else { hex::encode_upper(salt) };
                let opt_out = if *opt_out { ", opt-out" } else { "" };
                write!(f, "NSEC3 ({iterations} extra iterations, salt {salt}{opt_out})")
            }
        }
    }
}

/// One denial RRset that is not what the content requires, or one reason
/// the content cannot be checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DenialFinding {
    /// The owner of the record concerned (for NSEC3, the hashed owner).
    pub owner: StoredName,
    /// Its type.
    pub rtype: Rtype,
    /// What differs, naming both sides.
    pub problem: String,
}

impl DenialFinding {
    pub(crate) fn new(owner: &StoredName, rtype: Rtype, problem: impl Into<String>) -> Self {
        DenialFinding { owner: owner.clone(), rtype, problem: problem.into() }
    }
}

impl fmt::Display for DenialFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", FqdnDisplay(&self.owner), self.rtype, self.problem)
    }
}

/// The findings of one check: the first [`MAX_FINDINGS`] and how many
/// there were in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DenialFindings {
    /// The first findings, in the order they were made.
    pub findings: Vec<DenialFinding>,
    /// How many there were, those left out included.
    pub total: usize,
}

impl DenialFindings {
    pub(crate) fn push(&mut self, finding: DenialFinding) {
        self.total += 1;
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(finding);
        }
    }

    pub(crate) fn add(&mut self, owner: &StoredName, rtype: Rtype, problem: impl Into<String>) {
        self.push(DenialFinding::new(owner, rtype, problem));
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// `Ok(value)` when nothing was found.
    pub(crate) fn into_result<T>(self, value: T) -> Result<T, DenialFindings> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for DenialFindings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.total == 1 { "" } else { "s" };
        write!(f, "{} denial finding{plural}", self.total)?;
        if self.total > self.findings.len() {
            write!(f, " (the first {} shown)", self.findings.len())?;
        }
        for finding in &self.findings {
            write!(f, "\n  {finding}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DenialFindings {}

#[cfg(test)]
mod tests;
