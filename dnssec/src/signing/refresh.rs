//! The RRSIG refresh schedule: which signatures a new version keeps, and
//! when each is signed again.
//!
//! A new version of a zone keeps every signature of the previous version
//! whose RRset did not change and that is not yet due for refresh; only the
//! rest is signed again ([`crate::signing::SigningPlan::prepare_incremental`]).
//! Unchanged NSEC3 and NSEC records are identical records, so only the
//! denial records whose chain a change touches are signed.
//!
//! A signature is due for refresh [`RefreshPolicy::refresh_before`] seconds
//! before it expires, earlier by a jitter of up to [`RefreshPolicy::jitter`]
//! seconds that is derived from what it covers (owner, type, key tag). The
//! schedule therefore follows from the signatures themselves: it survives
//! restarts, and a zone signed all at once is refreshed over a spread of
//! time rather than in one burst (RFC 6781 §4.4.2 on signature validity and
//! re-signing).
//!
//! A refresh also signs again what falls due within
//! [`RefreshPolicy::pre_refresh`] after it (Knot's `rrsig-pre-refresh`):
//! the jitter spreads a zone's due times over a day, one second apart or
//! less on a large zone, and without this margin every due time would be
//! a refresh request of its own, with its own serial, quorum and NOTIFY.
//! With it, a zone signed at once is refreshed in about jitter ÷
//! pre-refresh requests (25 with the defaults), each a patch of its names.

use std::collections::HashMap;

use bytes::Bytes;
use domain::base::ToName;
use sha2::{Digest, Sha256};

use crate::keys::KeyTag;
use crate::name::CanonicalName;
use super::rrsig::RrsigFields;
use crate::zone::{Rrset, SignatureRecord, Zone};
use crate::StoredName;

/// Default refresh margin: five days before expiration (BIND's default
/// `signatures-refresh`), leaving most of the default 14-day lifetime
/// (Knot's `rrsig-lifetime`) to ride out a signer outage.
pub const DEFAULT_REFRESH_BEFORE_SECS: u32 = 5 * 86_400;
/// Default jitter: refreshes of a zone signed at once spread over a day.
pub const DEFAULT_JITTER_SECS: u32 = 86_400;
/// Default pre-refresh: a refresh takes along what falls due within the
/// next hour (Knot's `rrsig-pre-refresh` default).
pub const DEFAULT_PRE_REFRESH_SECS: u32 = 3600;

/// When signatures are refreshed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Refresh this many seconds before expiration at the latest.
    pub refresh_before: u32,
    /// Up to this many seconds earlier, per signature.
    pub jitter: u32,
    /// A refresh also re-signs signatures due within this many seconds
    /// after it, so refreshes come at most this often.
    pub pre_refresh: u32,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy { refresh_before: DEFAULT_REFRESH_BEFORE_SECS, jitter: DEFAULT_JITTER_SECS, pre_refresh: DEFAULT_PRE_REFRESH_SECS }
    }
}

impl RefreshPolicy {
    /// Whether `signature`, made over the same content as `rrset`, can be
    /// kept for it: same fields as a new one would have (`fields`), valid
    /// at `now` and not due within [`RefreshPolicy::pre_refresh`].
    pub fn keeps(&self, signature: &SignatureRecord, rrset: &Rrset, fields: &RrsigFields, now: u32) -> bool {
        let sig = &signature.rrsig;
        let same_fields = sig.type_covered() == fields.type_covered
            && sig.key_tag() == fields.key_tag.0
            && sig.algorithm() == fields.algorithm
            && sig.labels() == fields.labels
            && sig.original_ttl() == fields.original_ttl
            && sig.signer_name().name_eq(&fields.signer_name);
        let (inception, expiration) = (sig.inception().into_int(), sig.expiration().into_int());
        let due = self.due_at(&rrset.owner, rrset.rtype.to_int(), fields.key_tag, expiration);
        same_fields && not_before(now, inception) && !self.is_due(due, now)
    }

    /// Whether a signature due at `due` is signed again by a refresh at
    /// `now`: due already, or within the pre-refresh margin.
    fn is_due(&self, due: u32, now: u32) -> bool {
        not_before(now.wrapping_add(self.pre_refresh), due)
    }

    /// The names of `zone` holding a signature that [`RefreshPolicy::keeps`]
    /// would no longer keep at `now` on its timing alone (due, or with an
    /// inception still ahead): what a refresh signs again. One pass over
    /// the signatures' times; nothing is signed or copied for the others.
    pub fn due_owners(&self, zone: &Zone, now: u32) -> Vec<CanonicalName> {
        zone.nodes()
            .filter(|(owner, node)| {
                node.signatures.iter().any(|s| {
                    let sig = &s.rrsig;
                    let due = self.due_at(&owner.0, sig.type_covered().to_int(), KeyTag(sig.key_tag()), sig.expiration().into_int());
                    !not_before(now, sig.inception().into_int()) || self.is_due(due, now)
                })
            })
            .map(|(owner, _)| owner.clone())
            .collect()
    }

    /// When `zone`'s next refresh is due and when its first signature
    /// expires, as [`PreviousSignatures::next_due`] and
    /// [`PreviousSignatures::first_expiration`] would say of it: one pass
    /// over the signatures' times, nothing copied.
    pub fn signature_times(&self, zone: &Zone, now: u32) -> SignatureTimes {
        let earliest = |a: Option<u32>, b: u32| match a {
            Some(a) if a.wrapping_sub(now).wrapping_add(1 << 31) <= b.wrapping_sub(now).wrapping_add(1 << 31) => Some(a),
            _ => Some(b),
        };
        let mut times = SignatureTimes::default();
        for (owner, node) in zone.nodes() {
            for signature in &node.signatures {
                let sig = &signature.rrsig;
                if node.get(sig.type_covered()).is_none() {
                    continue;
                }
                let expiration = sig.expiration().into_int();
                let due = self.due_at(&owner.0, sig.type_covered().to_int(), KeyTag(sig.key_tag()), expiration);
                times.next_due = earliest(times.next_due, due);
                times.first_expiration = earliest(times.first_expiration, expiration);
            }
        }
        times
    }

    /// The time (seconds since the epoch, RFC 4034 §3.1.5 serial
    /// arithmetic) at which the signature of `owner`/`type_covered` by
    /// `key_tag` that expires at `expiration` is due.
    pub fn due_at(&self, owner: &StoredName, type_covered: u16, key_tag: KeyTag, expiration: u32) -> u32 {
        let jitter = if self.jitter == 0 {
            0
        } else {
            let mut h = Sha256::new();
            let mut wire = Vec::with_capacity(64);
            // Writing into a Vec cannot fail.
            let _ = owner.compose_canonical(&mut wire);
            h.update(&wire);
            h.update(type_covered.to_be_bytes());
            h.update(key_tag.0.to_be_bytes());
            let d = h.finalize();
            u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % self.jitter
        };
        expiration.wrapping_sub(self.refresh_before).wrapping_sub(jitter)
    }
}

/// A signed zone's refresh times ([`RefreshPolicy::signature_times`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignatureTimes {
    /// The earliest time a signature is due for refresh.
    pub next_due: Option<u32>,
    /// The earliest expiration of any signature.
    pub first_expiration: Option<u32>,
}

/// `a` is at or after `b` in RFC 1982 serial arithmetic.
fn not_before(a: u32, b: u32) -> bool {
    a.wrapping_sub(b) < 1 << 31
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Covered {
    owner: CanonicalName,
    rtype: u16,
    key_tag: u16,
}

#[derive(Clone, Debug)]
struct Kept {
    ttl: u32,
    rdata: Vec<Bytes>,
    signature: SignatureRecord,
}

/// The signatures of the previous version of a zone, by what they cover.
#[derive(Clone, Debug, Default)]
pub struct PreviousSignatures {
    kept: HashMap<Covered, Kept>,
}

impl PreviousSignatures {
    /// Every RRSIG of a signed zone together with the RRset it covers.
    pub fn from_zone(zone: &Zone) -> PreviousSignatures {
        let mut kept = HashMap::new();
        for (owner, node) in zone.nodes() {
            for signature in &node.signatures {
                let covered = signature.rrsig.type_covered();
                let Some(rrset) = node.get(covered) else { continue };
                kept.insert(
                    Covered { owner: owner.clone(), rtype: covered.to_int(), key_tag: signature.rrsig.key_tag() },
                    Kept {
                        ttl: rrset.ttl.as_secs(),
                        rdata: rrset.rdata.iter().map(|r| r.canonical.clone()).collect(),
                        signature: signature.clone(),
                    },
                );
            }
        }
        PreviousSignatures { kept }
    }

    /// Signatures held.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// None held.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// The previous signature over exactly `rrset` with RRSIG fields equal
    /// to `fields` except for the times, valid at `now` and not yet due
    /// under `policy`.
    pub fn reusable(
        &self,
        rrset: &Rrset,
        fields: &RrsigFields,
        now: u32,
        policy: &RefreshPolicy,
    ) -> Option<&SignatureRecord> {
        let key = Covered { owner: CanonicalName(rrset.owner.clone()), rtype: rrset.rtype.to_int(), key_tag: fields.key_tag.0 };
        let kept = self.kept.get(&key)?;
        let same_content = kept.ttl == rrset.ttl.as_secs()
            && kept.rdata.len() == rrset.rdata.len()
            && kept.rdata.iter().zip(&rrset.rdata).all(|(a, b)| *a == b.canonical);
        (same_content && policy.keeps(&kept.signature, rrset, fields, now)).then_some(&kept.signature)
    }

    /// The earliest time any held signature is due (none when empty): when
    /// the next refresh must run.
    pub fn next_due(&self, policy: &RefreshPolicy, now: u32) -> Option<u32> {
        self.kept
            .iter()
            .map(|(k, kept)| policy.due_at(&k.owner.0, k.rtype, KeyTag(k.key_tag), kept.signature.rrsig.expiration().into_int()))
            .min_by_key(|due| due.wrapping_sub(now).wrapping_add(1 << 31))
    }

    /// The earliest expiration of any held signature.
    pub fn first_expiration(&self, now: u32) -> Option<u32> {
        self.kept
            .values()
            .map(|k| k.signature.rrsig.expiration().into_int())
            .min_by_key(|e| e.wrapping_sub(now).wrapping_add(1 << 31))
    }
}
