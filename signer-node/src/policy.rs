//! What a signer agrees to sign: every item of a Commit is rebuilt from its
//! content and checked before any nonce is made. Pure logic.
//!
//! The signer never signs an opaque hash. For each item it parses the
//! RRset ([`frostzone_dnssec::wire::rrset_from_wire`], which refuses
//! malformed or non-canonical RDATA), checks that the RRSIG fields fit it
//! (RFC 4034 §3.1), that the signature is by the key it holds for the zone
//! it names, and that the validity window is sane; then it rebuilds the
//! signed data itself (RFC 4034 §3.1.8.1, [`frostzone_dnssec::signing::signed_data`]).
//! Round 2 signs exactly these rebuilt messages.
//!
//! The operator's policy file ([`crate::policy_file`]) sets the RR types
//! signed, the validity bounds and the NSEC3 parameters accepted.

use std::sync::Arc;

use frostzone_dnssec::domain::base::iana::{Rtype, SecurityAlgorithm};
use frostzone_dnssec::domain::base::ToName;
use frostzone_dnssec::keys::{KeyRole, KeyTag};
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::signing::signed_data;
use frostzone_dnssec::wire::{check_rrsig_matches, rrset_from_wire, rrsig_fields_from_wire};
use frostzone_dnssec::StoredName;
use frostzone_proto::v1::SigningItem;
use frostzone_threshold::parallel::collect_indexed;

use crate::policy_file::{SignerPolicy, ValidityBounds};

/// Signing with Ed25519 (RFC 8080 §3): the only algorithm a FROST Ed25519
/// key group makes.
pub const ALGORITHM: SecurityAlgorithm = SecurityAlgorithm::ED25519;

/// An item of a batch that the signer refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("item {index}: {reason}")]
pub struct ItemError {
    /// Position in the batch.
    pub index: usize,
    /// Why it is refused.
    pub reason: String,
}

/// What the items of one batch are checked against.
#[derive(Debug, Clone)]
pub struct BatchContext {
    /// The zone apex: every RRSIG's signer name.
    pub zone: StoredName,
    /// The key tag of the held key.
    pub key_tag: KeyTag,
    /// Its role: a KSK signs only DNSKEY, CDS and CDNSKEY; a ZSK signs
    /// everything else; a CSK signs both (as the signing plan assigns them).
    pub role: KeyRole,
    /// Now, in seconds since the epoch (RFC 4034 §3.1.5 32-bit time).
    pub now: u32,
    /// The operator's policy.
    pub policy: Arc<SignerPolicy>,
}

/// Checks one item and returns the octets its RRSIG signs.
pub fn check_item(item: &SigningItem, ctx: &BatchContext) -> Result<Vec<u8>, String> {
    let rrset = rrset_from_wire(&item.owner, item.rtype, item.ttl, &item.rdata)
        .map_err(|e| e.to_string())?;
    let f = item.rrsig.as_ref().ok_or("no RRSIG fields")?;
    let fields = rrsig_fields_from_wire(
        f.type_covered,
        f.algorithm,
        f.labels,
        f.original_ttl,
        f.expiration,
        f.inception,
        f.key_tag,
        &f.signer_name,
    )
    .map_err(|e| e.to_string())?;
    check_rrsig_matches(&fields, &rrset)?;
    // RFC 4034 §3.1.7: "The Signer's Name field MUST contain the name of
    // the zone of the covered RRset."
    if !fields.signer_name.name_eq(&ctx.zone) {
        return Err(format!(
            "signer name {} is not the zone {}",
            FqdnDisplay(&fields.signer_name),
            FqdnDisplay(&ctx.zone)
        ));
    }
    if fields.key_tag != ctx.key_tag {
        return Err(format!(
            "key tag {} is not the held key {}",
            fields.key_tag, ctx.key_tag
        ));
    }
    if fields.algorithm != ALGORITHM {
        return Err(format!(
            "algorithm {} is not Ed25519 (15)",
            fields.algorithm.to_int()
        ));
    }
    let key_rrset = matches!(rrset.rtype, Rtype::DNSKEY | Rtype::CDS | Rtype::CDNSKEY);
    if key_rrset && !ctx.role.signs_keys() || !key_rrset && !ctx.role.signs_zone() {
        return Err(format!(
            "a {} does not sign {} RRsets",
            ctx.role, rrset.rtype
        ));
    }
    if !ctx.policy.allows_type(rrset.rtype.to_int()) {
        return Err(format!("{} RRsets are not signed under this signer's policy", rrset.rtype));
    }
    if matches!(rrset.rtype, Rtype::NSEC3 | Rtype::NSEC3PARAM) {
        for rdata in &item.rdata {
            ctx.policy.check_nsec3_rdata(rdata)?;
        }
    }
    check_validity(f.inception, f.expiration, ctx.now, &ctx.policy.validity)?;
    Ok(signed_data(&fields, &rrset))
}

/// RFC 4034 §3.1.5: times are serial numbers (RFC 1982), compared modulo
/// 2^32. Inception before expiration, at most the policy's backdate before
/// now and at most its clock skew after now; a window of at most the
/// policy's lifetime plus backdate; expiration at least the policy's
/// minimum and at most its maximum lifetime from now. So no signature
/// made today is valid beyond now plus the maximum lifetime, whatever
/// times it asks for.
pub(crate) fn check_validity(inception: u32, expiration: u32, now: u32, bounds: &ValidityBounds) -> Result<(), String> {
    let serial_positive = |d: u32| d != 0 && d <= i32::MAX as u32;
    let window = expiration.wrapping_sub(inception);
    if !serial_positive(window) {
        return Err(format!("inception {inception} is not before expiration {expiration}"));
    }
    let ahead = inception.wrapping_sub(now);
    if serial_positive(ahead) && ahead > bounds.max_inception_skew_secs {
        return Err(format!(
            "inception {inception} is {ahead} s after now ({now}), the policy allows {} s of clock skew",
            bounds.max_inception_skew_secs
        ));
    }
    let backdate = now.wrapping_sub(inception);
    if serial_positive(backdate) && backdate > bounds.max_inception_backdate_secs {
        return Err(format!(
            "inception {inception} is {backdate} s before now, the policy allows {} s",
            bounds.max_inception_backdate_secs
        ));
    }
    let max = bounds.max_lifetime_secs.saturating_add(bounds.max_inception_backdate_secs);
    if window > max {
        return Err(format!(
            "validity window of {window} s exceeds the maximum of {max} s \
             ({} s lifetime, {} s backdating)",
            bounds.max_lifetime_secs, bounds.max_inception_backdate_secs
        ));
    }
    let left = expiration.wrapping_sub(now);
    if !serial_positive(left) {
        return Err(format!("expiration {expiration} is not in the future (now {now})"));
    }
    if left < bounds.min_lifetime_secs {
        return Err(format!(
            "expiration {expiration} is {left} s away, the policy wants at least {} s",
            bounds.min_lifetime_secs
        ));
    }
    if left > bounds.max_lifetime_secs {
        return Err(format!(
            "expiration {expiration} is {left} s away, the policy allows at most {} s",
            bounds.max_lifetime_secs
        ));
    }
    Ok(())
}

/// Checks every item (a large batch on the rayon pool) and returns the signed data of
/// each, in order, or the first refused item.
pub fn signed_messages(
    items: &[SigningItem],
    ctx: &BatchContext,
) -> Result<Vec<Vec<u8>>, ItemError> {
    collect_indexed(items, |index, item| check_item(item, ctx).map_err(|reason| ItemError { index, reason }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_window() {
        let b = ValidityBounds::default();
        let max_life = b.max_lifetime_secs;
        let check = |i, e, n| check_validity(i, e, n, &b);
        let now = 1_700_000_000u32;
        assert!(check(now - 3600, now + 14 * 86400, now).is_ok());
        assert!(check(now + 10, now + 10, now).is_err());
        assert!(check(now + 20, now + 10, now).is_err());
        assert!(check(now - 3600, now - 1, now).is_err());
        let max = b.max_lifetime_secs + b.max_inception_backdate_secs;
        assert!(check(now - 86_400, now - 86_400 + max + 1, now).is_err());
        assert!(check(now - 86_400, now - 86_400 + max, now).is_ok());
        // 90 days from now with the engine's one-hour backdating.
        assert!(check(now - 3600, now + max_life, now).is_ok());
        // Serial arithmetic across the 2^32 wrap (year 2106).
        assert!(check(u32::MAX - 100, 1_000_000, u32::MAX - 50).is_ok());
        // Backdated by more than a day.
        assert!(check(now - 86_401, now + 86_400, now).unwrap_err().contains("before now"));
        // Expires in less than the minimum lifetime.
        assert!(check(now - 3600, now + 600, now).unwrap_err().contains("at least"));
        // A future inception: a little clock skew is fine, signatures for
        // later use are not, and no window reaches beyond now plus the
        // maximum lifetime (the wrap of a far-future inception included).
        assert!(check(now + 60, now + 14 * 86400, now).is_ok());
        assert!(check(now + 3600, now + 14 * 86400, now).unwrap_err().contains("clock skew"));
        assert!(check(now + 40 * 365 * 86400, now + 40 * 365 * 86400 + 3600, now).is_err());
        assert!(check(now - 3600, now + max_life + 1, now).unwrap_err().contains("at most"));
        assert!(check(now.wrapping_add(i32::MAX as u32), now.wrapping_add(i32::MAX as u32).wrapping_add(86400), now).is_err());
        // A stricter policy.
        let strict = ValidityBounds { max_inception_backdate_secs: 60, max_inception_skew_secs: 0, min_lifetime_secs: 0, max_lifetime_secs: 86_400 };
        assert!(check_validity(now - 30, now + 86_400, now, &strict).is_ok());
        assert!(check_validity(now - 30, now + 2 * 86_400, now, &strict).is_err());
    }
}
