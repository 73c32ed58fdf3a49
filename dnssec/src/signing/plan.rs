//! The signing plan: every RRSIG a zone needs, as one batch.
//!
//! [`SigningPlan::prepare`] adds the DNSKEY (and optionally CDS/CDNSKEY)
//! RRsets and the denial chain to a zone, decides which RRsets are
//! authoritative (RFC 4035 §2.2), and lists one [`SigningItem`] per RRSIG
//! to make: the RRSIG RDATA without its signature. The RRset an item
//! covers stays in the plan's zone, and the exact bytes to sign (RFC 4034
//! §3.1.8.1) are built from it when a batch is signed
//! ([`SigningPlan::signed_data`]): a zone's items are not held beside it
//! as a second copy of its RRsets. A threshold backend signs the whole
//! list in as few round trips as it likes and hands the signatures back
//! to [`SigningPlan::complete`].

use std::collections::BTreeSet;

use domain::base::iana::Rtype;
use domain::base::{ToName, Ttl};
use domain::rdata::dnssec::Timestamp;
use domain::rdata::ZoneRecordData;

use std::sync::{Arc, RwLock, RwLockReadGuard};

use crate::denial::{self, Denial, DenialError};
use crate::name::CanonicalName;
use crate::zone_patch::{ZonePatch, ZoneView};
use crate::keys::{KeyTag, ZoneKey};
use super::refresh::{PreviousSignatures, RefreshPolicy};
use super::rrsig::{signed_data, RrsigFields};
use crate::zone::{Node, Rdata, Rrset, SignatureRecord, Zone};
use crate::StoredName;

/// Default backdating of RRSIG inception: one hour covers clock skew
/// between us and validators (Knot and BIND use similar margins).
pub const DEFAULT_INCEPTION_OFFSET_SECS: u32 = 3600;
/// Default signature lifetime: 14 days, Knot's `rrsig-lifetime` default,
/// long enough to survive a weekend-long signer outage.
pub const DEFAULT_VALIDITY_SECS: u32 = 14 * 24 * 3600;
/// Default DNSKEY TTL: one hour, a common choice that keeps rollovers short.
pub const DEFAULT_DNSKEY_TTL_SECS: u32 = 3600;

/// What signatures look like: timing and key publication.
#[derive(Clone, Debug)]
pub struct SigningPolicy {
    /// Seconds the inception is set before "now".
    pub inception_offset: u32,
    /// Seconds from "now" to expiration.
    pub validity: u32,
    /// TTL of the DNSKEY, CDS and CDNSKEY RRsets.
    pub dnskey_ttl: Ttl,
    /// Publish CDS and CDNSKEY for the key-signing keys (RFC 7344).
    pub publish_cds: bool,
    /// How the zone denies existence.
    pub denial: Denial,
}

impl Default for SigningPolicy {
    fn default() -> Self {
        SigningPolicy {
            inception_offset: DEFAULT_INCEPTION_OFFSET_SECS,
            validity: DEFAULT_VALIDITY_SECS,
            dnskey_ttl: Ttl::from_secs(DEFAULT_DNSKEY_TTL_SECS),
            publish_cds: false,
            denial: Denial::default(),
        }
    }
}

/// Why a plan could not be made or completed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// Two keys share a key tag and algorithm; validators cannot tell which
    /// one signed and some will fail (the May 2026 .de incident).
    #[error("keys collide on key tag {tag} algorithm {algorithm}: generate another key")]
    DuplicateKeyTag {
        /// The shared tag.
        tag: KeyTag,
        /// The shared algorithm number.
        algorithm: u8,
    },
    /// No key signs the DNSKEY RRset, or none signs the zone data.
    #[error("no {0} in the key set: need a KSK and a ZSK, or a CSK")]
    MissingRole(&'static str),
    /// The validity window is empty or inverted.
    #[error("signature validity of {0} s is too short")]
    Validity(u32),
    /// The denial chain could not be made.
    #[error(transparent)]
    Denial(#[from] DenialError),
    /// The backend returned the wrong number of signatures.
    #[error("expected {expected} signatures, got {got}")]
    SignatureCount {
        /// Items in the plan.
        expected: usize,
        /// Signatures returned.
        got: usize,
    },
}

/// One RRSIG to be made. The RRset it covers, at `owner` of type
/// `rrsig.type_covered`, is in the plan's zone ([`PlanZone::covered`]):
/// what a signer node is sent and rebuilds the signed data from.
#[derive(Clone, Debug)]
pub struct SigningItem {
    /// The owner of the covered RRset.
    pub owner: StoredName,
    /// The key that must sign it.
    pub key_tag: KeyTag,
    /// RRSIG RDATA without the signature.
    pub rrsig: RrsigFields,
}

impl SigningItem {
    /// The type of the RRset it covers.
    pub fn rtype(&self) -> Rtype {
        self.rrsig.type_covered
    }
}

/// A zone ready to be signed and the list of signatures it needs.
#[derive(Debug)]
pub struct SigningPlan {
    shape: Shape,
    items: Vec<SigningItem>,
}

/// What a plan completes.
#[derive(Debug)]
enum Shape {
    /// A whole zone, and the signatures kept from the previous version,
    /// by owner.
    Whole { zone: Zone, reused: Vec<(StoredName, SignatureRecord)> },
    /// A patch to the published zone ([`crate::signing::incremental`]); the kept
    /// signatures are in the patch already.
    Update { base: SharedZone, patch: ZonePatch, reused: usize },
}

/// The published version of a zone, shared by the coordinator's state and
/// the plans made from it; written only when a new version is published.
pub type SharedZone = Arc<RwLock<Zone>>;

/// Reads a shared zone (a panic while writing it leaves a zone that was
/// written whole or not at all: patches apply name by name, infallibly).
pub fn read_zone(zone: &SharedZone) -> RwLockReadGuard<'_, Zone> {
    zone.read().unwrap_or_else(|e| e.into_inner())
}

/// A completed plan.
#[derive(Debug)]
pub enum CompletedPlan {
    /// A whole signed zone.
    Zone(Zone),
    /// The published zone and the signed patch that makes the next version.
    Update {
        /// The published zone.
        base: SharedZone,
        /// The next version's changed names, signatures included.
        patch: ZonePatch,
    },
}

/// The zone a plan signs, for looking at its RRsets.
#[derive(Clone, Copy, Debug)]
pub enum PlanZone<'a> {
    /// A whole zone.
    Whole(&'a Zone),
    /// The published zone and a patch.
    Update(ZoneView<'a>),
}

impl<'a> PlanZone<'a> {
    /// The RRset `rtype` at `owner`.
    pub fn rrset(&self, owner: &StoredName, rtype: Rtype) -> Option<&'a Rrset> {
        match self {
            PlanZone::Whole(z) => z.node(owner)?.get(rtype),
            PlanZone::Update(v) => v.rrset(owner, rtype),
        }
    }

    /// The RRset `item` covers (`None` only for an item of another plan).
    pub fn covered(&self, item: &SigningItem) -> Option<&'a Rrset> {
        self.rrset(&item.owner, item.rtype())
    }

    /// What `item`'s signature covers: its RRSIG RDATA (without
    /// signature) | RR(1) | RR(2) | … in canonical form (RFC 4034
    /// §3.1.8.1).
    pub fn signed_data(&self, item: &SigningItem) -> Option<Vec<u8>> {
        Some(signed_data(&item.rrsig, self.covered(item)?))
    }

    /// Every RRset that carries signatures, in canonical order.
    pub fn signed_rrsets(&self) -> Vec<&'a Rrset> {
        match self {
            PlanZone::Whole(z) => z.signed_rrsets(),
            PlanZone::Update(v) => v.signed_rrsets(),
        }
    }

    /// Every RRset a signer is proposed (signed, or a delegation's NS), in
    /// canonical order.
    pub fn proposed_rrsets(&self) -> Vec<&'a Rrset> {
        match self {
            PlanZone::Whole(z) => z.proposed_rrsets(),
            PlanZone::Update(v) => v.proposed_rrsets(),
        }
    }
}

impl SigningPlan {
    /// Builds the plan for `zone` (unsigned) with `keys` at time `now`
    /// (seconds since the epoch).
    pub fn prepare(
        zone: Zone,
        keys: &[ZoneKey],
        policy: &SigningPolicy,
        now: u32,
    ) -> Result<SigningPlan, SigningError> {
        SigningPlan::prepare_incremental(zone, keys, policy, now, &PreviousSignatures::default(), &RefreshPolicy::default())
    }

    /// Like [`SigningPlan::prepare`], but every RRSIG of `previous` that
    /// covers an unchanged RRset with the same key and is not due under
    /// `refresh` is kept instead of planned again (see [`crate::signing::refresh`]).
    /// The completed zone is the one a from-scratch signing makes, except
    /// for the kept signatures' times and bytes.
    pub fn prepare_incremental(
        mut zone: Zone,
        keys: &[ZoneKey],
        policy: &SigningPolicy,
        now: u32,
        previous: &PreviousSignatures,
        refresh: &RefreshPolicy,
    ) -> Result<SigningPlan, SigningError> {
        check_keys(keys)?;
        if policy.validity <= policy.inception_offset / 2 {
            return Err(SigningError::Validity(policy.validity));
        }
        let apex = zone.apex().clone();
        publish_keys(&mut zone, keys, policy);
        denial::add_denial(&mut zone, &policy.denial)?;
        let inception = Timestamp::from(now.wrapping_sub(policy.inception_offset));
        let expiration = Timestamp::from(now.wrapping_add(policy.validity));
        let mut items = Vec::new();
        let mut reused = Vec::new();
        for (owner, role) in zone.roles() {
            let Some(node) = zone.node(&owner.0) else { continue };
            for rrset in node.rrsets.values() {
                if !Zone::is_signed(role, rrset.rtype) {
                    continue;
                }
                for (key, rrsig) in signatures_wanted(rrset, keys, &apex, inception, expiration) {
                    if let Some(kept) = previous.reusable(rrset, &rrsig, now, refresh) {
                        reused.push((rrset.owner.clone(), kept.clone()));
                        continue;
                    }
                    items.push(SigningItem { owner: rrset.owner.clone(), key_tag: key.key_tag(), rrsig });
                }
            }
        }
        // Held as long as the request is: without the room doubling left.
        items.shrink_to_fit();
        Ok(SigningPlan { shape: Shape::Whole { zone, reused }, items })
    }

    /// A plan for a patch of the published zone `base` (see
    /// [`crate::signing::incremental::prepare_update`]).
    pub(crate) fn update(base: SharedZone, patch: ZonePatch, items: Vec<SigningItem>, reused: usize) -> SigningPlan {
        SigningPlan { shape: Shape::Update { base, patch, reused }, items }
    }

    /// Signatures kept from the previous version (not in [`Self::items`]).
    pub fn reused(&self) -> usize {
        match &self.shape {
            Shape::Whole { reused, .. } => reused.len(),
            Shape::Update { reused, .. } => *reused,
        }
    }

    /// Whether the plan patches the published zone rather than signing a
    /// whole one.
    pub fn is_update(&self) -> bool {
        matches!(self.shape, Shape::Update { .. })
    }

    /// Every signature to be made, in a stable order.
    pub fn items(&self) -> &[SigningItem] {
        &self.items
    }

    /// What the signature of each item at `indexes` covers (RFC 4034
    /// §3.1.8.1; see [`PlanZone::signed_data`]), built from the plan's
    /// RRsets; `None` if an index is not the plan's.
    pub fn signed_data(&self, indexes: impl IntoIterator<Item = usize>) -> Option<Vec<Vec<u8>>> {
        self.read(|zone| indexes.into_iter().map(|i| zone.signed_data(self.items.get(i)?)).collect())
    }

    /// Calls `f` with the zone as it will be published (signatures not
    /// yet made are missing).
    pub fn read<R>(&self, f: impl FnOnce(PlanZone<'_>) -> R) -> R {
        match &self.shape {
            Shape::Whole { zone, .. } => f(PlanZone::Whole(zone)),
            Shape::Update { base, patch, .. } => {
                let zone = read_zone(base);
                f(PlanZone::Update(ZoneView::new(&zone, patch)))
            }
        }
    }

    /// Puts the signatures (one per item, same order) into the zone or
    /// the patch.
    ///
    /// This does not check them: the validator does that, on the written
    /// output, before anything is published.
    pub fn complete_signed(self, signatures: Vec<[u8; 64]>) -> Result<CompletedPlan, SigningError> {
        if signatures.len() != self.items.len() {
            return Err(SigningError::SignatureCount { expected: self.items.len(), got: signatures.len() });
        }
        let new = self.items.into_iter().zip(signatures).map(|(item, signature)| {
            let ttl = item.rrsig.original_ttl;
            let Some(rrsig) = item.rrsig.into_rrsig(&signature) else {
                unreachable!("a 64-byte signature always fits")
            };
            (item.owner, SignatureRecord { ttl, rrsig, location: None })
        });
        match self.shape {
            Shape::Whole { mut zone, reused } => {
                for (owner, sig) in reused.into_iter().chain(new) {
                    zone.node_mut(&owner).push_signature(sig);
                }
                Ok(CompletedPlan::Zone(zone))
            }
            Shape::Update { base, mut patch, .. } => {
                {
                    let zone = read_zone(&base);
                    for (owner, sig) in new {
                        patch.node_mut(&zone, &CanonicalName(owner)).push_signature(sig);
                    }
                }
                Ok(CompletedPlan::Update { base, patch })
            }
        }
    }

    /// Like [`SigningPlan::complete_signed`], as a whole zone (a patch is
    /// applied to a copy of the published zone).
    pub fn complete(self, signatures: Vec<[u8; 64]>) -> Result<Zone, SigningError> {
        match self.complete_signed(signatures)? {
            CompletedPlan::Zone(zone) => Ok(zone),
            CompletedPlan::Update { base, patch } => {
                let mut zone = read_zone(&base).clone();
                zone.apply_patch(patch);
                Ok(zone)
            }
        }
    }
}

/// The RRSIGs `rrset` (authoritative) needs: one per key of the right role
/// (RFC 4035 §2.2; the DNSKEY, CDS and CDNSKEY RRsets by the keys that
/// sign keys, the rest by the keys that sign the zone), without
/// signatures.
pub(crate) fn signatures_wanted<'k>(
    rrset: &Rrset,
    keys: &'k [ZoneKey],
    apex: &StoredName,
    inception: Timestamp,
    expiration: Timestamp,
) -> impl Iterator<Item = (&'k ZoneKey, RrsigFields)> {
    let key_rrset = matches!(rrset.rtype, Rtype::DNSKEY | Rtype::CDS | Rtype::CDNSKEY);
    let (rtype, labels, ttl, apex) = (rrset.rtype, rrset.owner.rrsig_label_count(), rrset.ttl, apex.clone());
    keys.iter().filter(move |k| if key_rrset { k.signs_keys() } else { k.signs_zone() }).map(move |key| {
        let fields = RrsigFields {
            type_covered: rtype,
            algorithm: key.algorithm(),
            labels,
            original_ttl: ttl,
            expiration,
            inception,
            key_tag: key.key_tag(),
            signer_name: apex.clone(),
        };
        (key, fields)
    })
}

/// Refuses key sets that would make a broken zone.
pub(crate) fn check_keys(keys: &[ZoneKey]) -> Result<(), SigningError> {
    let mut seen = BTreeSet::new();
    for key in keys {
        if !seen.insert((key.key_tag(), key.algorithm().to_int())) {
            return Err(SigningError::DuplicateKeyTag { tag: key.key_tag(), algorithm: key.algorithm().to_int() });
        }
    }
    if !keys.iter().any(|k| k.signs_keys()) {
        return Err(SigningError::MissingRole("KSK"));
    }
    if !keys.iter().any(|k| k.signs_zone()) {
        return Err(SigningError::MissingRole("ZSK"));
    }
    Ok(())
}

/// Puts the DNSKEY RRset (and CDS/CDNSKEY when asked) at the apex.
fn publish_keys(zone: &mut Zone, keys: &[ZoneKey], policy: &SigningPolicy) {
    let apex = zone.apex().clone();
    publish_keys_at(zone.node_mut(&apex), &apex, keys, policy);
}

/// Puts the DNSKEY RRset (and CDS/CDNSKEY when asked) into the apex node.
pub(crate) fn publish_keys_at(node: &mut Node, apex: &StoredName, keys: &[ZoneKey], policy: &SigningPolicy) {
    let ttl = policy.dnskey_ttl;
    let dnskeys = keys.iter().map(|k| Rdata::new(ZoneRecordData::Dnskey(k.dnskey.clone()))).collect();
    node.rrsets.insert(Rtype::DNSKEY.to_int(), Rrset::new(apex.clone(), Rtype::DNSKEY, ttl, dnskeys));
    node.rrsets.remove(&Rtype::CDS.to_int());
    node.rrsets.remove(&Rtype::CDNSKEY.to_int());
    if policy.publish_cds {
        let sep: Vec<&ZoneKey> = keys.iter().filter(|k| k.duties.in_cds).collect();
        let cds = sep.iter().map(|k| Rdata::new(ZoneRecordData::Cds(k.cds(apex)))).collect();
        let cdnskey = sep.iter().map(|k| Rdata::new(ZoneRecordData::Cdnskey(k.cdnskey()))).collect();
        node.rrsets.insert(Rtype::CDS.to_int(), Rrset::new(apex.clone(), Rtype::CDS, ttl, cds));
        node.rrsets.insert(Rtype::CDNSKEY.to_int(), Rrset::new(apex.clone(), Rtype::CDNSKEY, ttl, cdnskey));
    }
}
