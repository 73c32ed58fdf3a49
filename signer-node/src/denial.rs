//! The denial records of a proposal checked against its content: a
//! signer signs NSEC, NSEC3 and NSEC3PARAM RRsets only when they are
//! exactly those the proposed version of the zone requires, derived here
//! with the same rules frostzone's generator uses
//! ([`frostzone_dnssec::denial::check`]). Otherwise a coordinator could
//! obtain signatures over an NSEC3 record denying a name that exists, or
//! an Opt-Out record spanning the whole hash ring, without any RRset the
//! approval policy counts.
//!
//! A full proposal carries the whole version: the check derives the chain
//! from it (`check_full`). An incremental one carries a change to the
//! baseline: the check reads the baseline around the change only
//! (`check_increment`), so its cost follows the change, except when the
//! change is global (new NSEC3 parameters, another denial TTL, Opt-Out
//! switched, NSEC and NSEC3 swapped), when the version is materialized
//! and checked whole. The policy then decides on what the chain uses:
//! NSEC3 iterations and salt ([`crate::policy_file`]) and Opt-Out, which
//! leaves insecure delegations unproven and is refused unless the policy
//! says `opt_out = true`.

use frostzone_dnssec::denial::check::{check_increment as check_change, check_whole, ChainSource, DenialFindings, DenialMode, Increment, IncrementCheck};
use frostzone_dnssec::name::CanonicalName;
use frostzone_dnssec::zone::{Rrset, Zone};
use frostzone_dnssec::StoredName;
use frostzone_proto::v1::SigningItem;

use crate::error::NodeError;
use crate::policy_file::SignerPolicy;
use crate::rrset::{describe_item, ParsedRrsets};

/// What the check found wrong, for the request's rejection: each finding
/// names the item that carries the record, where there is one.
fn describe(findings: &DenialFindings, parsed: &ParsedRrsets, items: &[SigningItem]) -> String {
    let mut parts: Vec<String> = findings
        .findings
        .iter()
        .map(|f| match parsed.get(&(CanonicalName(f.owner.clone()), f.rtype.to_int())) {
            Some((i, _)) => format!("item {i} ({}): {}", describe_item(&items[*i]), f.problem),
            None => f.to_string(),
        })
        .collect();
    if findings.total > findings.findings.len() {
        parts.push(format!("{} more", findings.total - findings.findings.len()));
    }
    format!("denial records differ from those the proposed content requires: {}", parts.join("; "))
}

/// The policy's word on the chain the content uses.
fn check_mode(mode: &DenialMode, policy: &SignerPolicy) -> Result<(), String> {
    match mode {
        DenialMode::Nsec => Ok(()),
        DenialMode::Nsec3 { iterations, salt, opt_out } => {
            if *opt_out && !policy.nsec3_opt_out {
                return Err("the NSEC3 chain uses Opt-Out (RFC 5155 §6), which this signer's policy does not accept ([nsec3] opt_out)".into());
            }
            // The NSEC3PARAM RDATA prefix: algorithm, flags, iterations, salt length, salt.
            let mut rdata = vec![1, 0];
            rdata.extend_from_slice(&iterations.to_be_bytes());
            rdata.push(u8::try_from(salt.len()).unwrap_or(u8::MAX));
            rdata.extend_from_slice(salt);
            policy.check_nsec3_rdata(&rdata)
        }
    }
}

/// A full proposal: its RRsets (`parsed`) are the whole version.
pub(crate) fn check_full(apex: &StoredName, parsed: &ParsedRrsets, items: &[SigningItem], policy: &SignerPolicy) -> Result<(), String> {
    let zone = Zone::from_rrsets(apex.clone(), parsed.values().map(|(_, rrset)| rrset.clone()));
    match check_whole(&zone) {
        Ok(mode) => check_mode(&mode, policy),
        Err(findings) => Err(describe(&findings, parsed, items)),
    }
}

/// An incremental proposal: `puts` and `removed` change the baseline
/// `base`; `whole` reads every RRset of the baseline, for a global change.
/// `Ok(Err(reason))` refuses the proposal.
pub(crate) fn check_increment<S: ChainSource>(
    apex: &StoredName,
    base: &S,
    puts: &ParsedRrsets,
    removed: impl IntoIterator<Item = (CanonicalName, u16)>,
    items: &[SigningItem],
    policy: &SignerPolicy,
    whole: impl FnOnce() -> Result<Vec<Rrset>, NodeError>,
) -> Result<Result<(), String>, NodeError>
where
    NodeError: From<S::Error>,
{
    let mut change = Increment::default();
    for (_, rrset) in puts.values() {
        change.put(rrset.clone());
    }
    for (owner, rtype) in removed {
        change.remove(owner.name(), frostzone_dnssec::domain::base::iana::Rtype::from_int(rtype));
    }
    match check_change(apex, base, &change)? {
        Ok(IncrementCheck::Checked(mode)) => Ok(check_mode(&mode, policy)),
        Ok(IncrementCheck::NeedsWhole(why)) => {
            tracing::info!("denial records checked on the whole version: {why}");
            let mut zone = Zone::from_rrsets(apex.clone(), whole()?);
            change.apply_to(&mut zone);
            Ok(match check_whole(&zone) {
                Ok(mode) => check_mode(&mode, policy),
                Err(findings) => Err(describe(&findings, puts, items)),
            })
        }
        Err(findings) => Ok(Err(describe(&findings, puts, items))),
    }
}
