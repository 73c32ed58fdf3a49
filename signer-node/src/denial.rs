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

use frostzone_dnssec::denial::check::{check_increment as check_change, check_whole_in_place, ChainSource, DenialFindings, DenialMode, Increment, IncrementCheck};
use frostzone_dnssec::name::CanonicalName;
use frostzone_dnssec::zone::{Rrset, Zone};
use frostzone_dnssec::StoredName;
use frostzone_proto::v1::SigningItem;

use crate::error::NodeError;
use crate::policy_file::SignerPolicy;
use crate::rrset::{describe_item, ParsedRrsets};

/// What the check found wrong, for the request's rejection: each finding
/// names the first item that carries the record, where there is one
/// (looked for only now, on the way to a refusal).
fn describe(findings: &DenialFindings, items: &[SigningItem]) -> String {
    let mut parts: Vec<String> = findings
        .findings
        .iter()
        .map(|f| match first_item_of(items, &f.owner, f.rtype.to_int()) {
            Some(i) => format!("item {i} ({}): {}", describe_item(&items[i]), f.problem),
            None => f.to_string(),
        })
        .collect();
    if findings.total > findings.findings.len() {
        parts.push(format!("{} more", findings.total - findings.findings.len()));
    }
    format!("denial records differ from those the proposed content requires: {}", parts.join("; "))
}

/// The first item of the RRset `owner`/`rtype`. Names compare as DNS names
/// do, ignoring ASCII case (RFC 4343); in uncompressed wire form a length
/// octet (at most 63) is never a letter, so the octets compare directly.
fn first_item_of(items: &[SigningItem], owner: &StoredName, rtype: u16) -> Option<usize> {
    items.iter().position(|item| item.rtype == u32::from(rtype) && item.owner.eq_ignore_ascii_case(owner.as_slice()))
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

/// A full proposal: `zone` holds its RRsets, the whole version. It is
/// checked in place ([`check_whole_in_place`]) and left as it was: a
/// zone-sized proposal is not copied to derive its chain.
pub(crate) fn check_full(zone: &mut Zone, items: &[SigningItem], policy: &SignerPolicy) -> Result<(), String> {
    match check_whole_in_place(zone) {
        Ok(mode) => check_mode(&mode, policy),
        Err(findings) => Err(describe(&findings, items)),
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
            Ok(match check_whole_in_place(&mut zone) {
                Ok(mode) => check_mode(&mode, policy),
                Err(findings) => Err(describe(&findings, items)),
            })
        }
        Err(findings) => Ok(Err(describe(&findings, items))),
    }
}
