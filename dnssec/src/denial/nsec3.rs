//! NSEC3 chains (RFC 5155 §7.1) with RFC 9276 parameters by default.

use bytes::Bytes;
use domain::base::iana::{Nsec3HashAlgorithm, Rtype};
use domain::base::{ToName, Ttl};
use domain::rdata::dnssec::RtypeBitmap;
use domain::dnssec::common::nsec3_hash;
use domain::rdata::nsec3::{Nsec3Salt, OwnerHash};
use domain::rdata::{Nsec3, Nsec3param, ZoneRecordData};

use super::{type_bitmap, DenialError};
use crate::name::CanonicalName;
use crate::zone::{NameRole, Rdata, Rrset, Zone};
use crate::StoredName;

/// The Opt-Out flag of the NSEC3 Flags field (RFC 5155 §3.1.2.1).
pub const FLAG_OPT_OUT: u8 = 0x01;

/// NSEC3 parameters. The default is RFC 9276's: no extra iterations, no
/// salt, no opt-out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Nsec3Config {
    /// Extra hash iterations. RFC 9276 §3.1: "MUST be 0".
    pub iterations: u16,
    /// Salt. RFC 9276 §3.1: "SHOULD NOT use a salt".
    pub salt: Vec<u8>,
    /// Leave insecure delegations out of the chain (RFC 5155 §6).
    pub opt_out: bool,
}

impl Nsec3Config {
    fn salt(&self) -> Nsec3Salt<Bytes> {
        // The salt length is bounded by u8 in every constructor we offer.
        Nsec3Salt::from_octets(Bytes::copy_from_slice(&self.salt))
            .unwrap_or_else(|_| Nsec3Salt::empty())
    }

    /// The NSEC3PARAM RDATA that announces these parameters. Its flags are
    /// zero: RFC 5155 §4.1.2 "Opt-Out ... MUST be zero" for NSEC3PARAM.
    pub fn nsec3param(&self) -> Nsec3param<Bytes> {
        Nsec3param::new(Nsec3HashAlgorithm::SHA1, 0, self.iterations, self.salt())
    }

    /// The RFC 5155 §5 hash of `name` under these parameters.
    pub fn hash(&self, name: &StoredName) -> Result<Vec<u8>, DenialError> {
        let h: OwnerHash<Vec<u8>> =
            nsec3_hash(name, Nsec3HashAlgorithm::SHA1, self.iterations, &self.salt()).map_err(
                |e| DenialError::Hash { name: crate::name::FqdnDisplay(name).to_string(), reason: e.to_string() },
            )?;
        Ok(h.as_slice().to_vec())
    }

    /// The owner name of the NSEC3 record for `name` in zone `apex`:
    /// base32hex of the hash, then the apex (RFC 5155 §3).
    pub fn hashed_owner(hash: &[u8], apex: &StoredName) -> Result<StoredName, DenialError> {
        let label = domain::utils::base32::encode_string_hex(hash).to_ascii_lowercase();
        let mut wire = Vec::with_capacity(1 + label.len() + apex.as_slice().len());
        wire.push(label.len() as u8);
        wire.extend_from_slice(label.as_bytes());
        wire.extend_from_slice(apex.as_slice());
        StoredName::from_octets(Bytes::from(wire)).map_err(|e| DenialError::Hash {
            name: crate::name::FqdnDisplay(apex).to_string(),
            reason: e.to_string(),
        })
    }
}

/// The hash an NSEC3 owner name stands for: its first label, base32hex
/// (RFC 5155 §3); the inverse of [`Nsec3Config::hashed_owner`].
pub fn owner_hash(owner: &StoredName) -> Option<Vec<u8>> {
    domain::utils::base32::decode_hex::<Vec<u8>>(&owner.first().to_string()).ok()
}

/// Whether a name with data and this role is in the NSEC3 chain (RFC
/// 5155 §7.1): names below a zone cut never are, and with opt-out
/// insecure delegations are left out (RFC 5155 §6).
pub fn in_chain(role: NameRole, opt_out: bool) -> bool {
    match role {
        NameRole::Occluded => false,
        NameRole::Delegation { secure: false } => !opt_out,
        _ => true,
    }
}

/// The hash `owner` stands for when it is an NSEC3 owner of the zone
/// `apex`: a base32hex SHA-1 hash (20 octets) directly below the apex
/// (RFC 5155 §3).
pub fn zone_owner_hash(owner: &StoredName, apex: &StoredName) -> Option<Vec<u8>> {
    let under_apex = owner.parent().is_some_and(|p| p.name_cmp(apex) == std::cmp::Ordering::Equal);
    owner_hash(owner).filter(|h| h.len() == 20 && under_apex)
}

/// Which names get an NSEC3 record (RFC 5155 §7.1): every authoritative
/// name and delegation, and every empty non-terminal — except, with
/// opt-out, insecure delegations and the empty non-terminals that exist
/// only because of them.
pub fn chain_members(zone: &Zone, config: &Nsec3Config) -> Vec<(CanonicalName, NameRole)> {
    let roles = zone.roles();
    let include = |role: NameRole| in_chain(role, config.opt_out);
    let mut members: Vec<(CanonicalName, NameRole)> = roles
        .iter()
        .filter(|(owner, role)| {
            // NSEC3 records' own owners are not part of the chain.
            let only_nsec3 = zone
                .node(&owner.0)
                .map(|n| n.types().all(|t| t == Rtype::NSEC3))
                .unwrap_or(false);
            include(*role) && !only_nsec3
        })
        .cloned()
        .collect();
    for ent in zone.empty_non_terminals(&roles, include) {
        members.push((ent, NameRole::Authoritative));
    }
    members
}

/// Adds the NSEC3 chain and the apex NSEC3PARAM to `zone`.
pub fn add_nsec3_chain(zone: &mut Zone, config: &Nsec3Config) -> Result<(), DenialError> {
    let ttl = zone.denial_ttl();
    let apex = zone.apex().clone();
    // The apex NSEC3PARAM must be in place before the apex bitmap is made.
    zone.node_mut(&apex).rrsets.insert(Rtype::NSEC3PARAM.to_int(), nsec3param_rrset(&apex, config, ttl));
    let chain = Nsec3Chain::derive(zone, config)?;
    let records = chain.records(zone).collect::<Result<Vec<_>, _>>()?;
    for rrset in records {
        let owner = rrset.owner.clone();
        zone.node_mut(&owner).rrsets.insert(Rtype::NSEC3.to_int(), rrset);
    }
    Ok(())
}

/// The NSEC3 chain a zone's content requires (RFC 5155 §7.1), hashed and
/// in hash order, before any record of it is made: [`Nsec3Chain::records`]
/// makes them one at a time, so that a check can compare a proposed chain
/// with it without holding a second chain.
#[derive(Debug)]
pub struct Nsec3Chain {
    /// Every member's hash, name and role, in hash order.
    members: Vec<(Vec<u8>, CanonicalName, NameRole)>,
    config: Nsec3Config,
}

impl Nsec3Chain {
    /// Hashes the [`chain_members`] of `zone` and orders them. Two names
    /// with one hash are an error (RFC 5155 §7.1 asks for a new salt).
    pub fn derive(zone: &Zone, config: &Nsec3Config) -> Result<Self, DenialError> {
        let mut members = chain_members(zone, config)
            .into_iter()
            .map(|(name, role)| Ok((config.hash(&name.0)?, name, role)))
            .collect::<Result<Vec<_>, DenialError>>()?;
        // Stable: of two names with one hash, the first named is the
        // first of the members.
        members.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = members.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(DenialError::HashCollision { first: pair[0].1.to_string(), second: pair[1].1.to_string() });
        }
        Ok(Nsec3Chain { members, config: config.clone() })
    }

    /// The chain's NSEC3 RRsets in hash order, each made as it is asked
    /// for: its bitmap from `zone` (the zone the chain was derived from,
    /// with the apex NSEC3PARAM in place), its TTL the denial TTL.
    pub fn records<'a>(&'a self, zone: &'a Zone) -> impl Iterator<Item = Result<Rrset, DenialError>> + 'a {
        let ttl = zone.denial_ttl();
        let apex = zone.apex();
        self.members.iter().enumerate().map(move |(i, (hash, owner, role))| {
            let next = &self.members[(i + 1) % self.members.len()].0;
            let bitmap = type_bitmap(zone.node(&owner.0), *role, None);
            nsec3_rrset(apex, hash, next, bitmap, &self.config, ttl)
        })
    }
}

/// The NSEC3PARAM RRset at `apex` announcing `config` (RFC 5155 §4).
pub(crate) fn nsec3param_rrset(apex: &StoredName, config: &Nsec3Config, ttl: Ttl) -> Rrset {
    Rrset::new(apex.clone(), Rtype::NSEC3PARAM, ttl, vec![Rdata::new(ZoneRecordData::Nsec3param(config.nsec3param()))])
}

/// The NSEC3 RRset for the name whose hash is `hash` (RFC 5155 §3): at
/// its hashed owner, `next` the following hash of the chain, `bitmap` the
/// name's types, the Opt-Out flag as `config` says for the whole chain.
pub(crate) fn nsec3_rrset(
    apex: &StoredName,
    hash: &[u8],
    next: &[u8],
    bitmap: RtypeBitmap<Bytes>,
    config: &Nsec3Config,
    ttl: Ttl,
) -> Result<Rrset, DenialError> {
    let hashed = Nsec3Config::hashed_owner(hash, apex)?;
    let next_owner = OwnerHash::from_octets(Bytes::copy_from_slice(next))
        .map_err(|e| DenialError::Hash { name: crate::name::FqdnDisplay(&hashed).to_string(), reason: e.to_string() })?;
    let flags = if config.opt_out { FLAG_OPT_OUT } else { 0 };
    let data = Nsec3::new(Nsec3HashAlgorithm::SHA1, flags, config.iterations, config.salt(), next_owner, bitmap);
    Ok(Rrset::new(hashed, Rtype::NSEC3, ttl, vec![Rdata::new(ZoneRecordData::Nsec3(data))]))
}
