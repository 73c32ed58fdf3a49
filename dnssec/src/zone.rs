//! The zone model: RRsets in canonical order and the zone cut analysis.
//!
//! RFC 4035 §2.2 decides what gets signed: "every authoritative RRset in
//! the zone" — so the apex and ordinary names have all their RRsets
//! signed, a delegation point only its DS (and NSEC/NSEC3), and glue or
//! other data below a zone cut nothing at all.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use domain::base::iana::Rtype;
use domain::base::name::{FlattenInto, ParsedName};
use domain::base::rdata::{ComposeRecordData, ParseRecordData, UnknownRecordData};
use domain::base::RecordData;
use domain::dep::octseq::Parser;
use domain::base::{ToName, Ttl};
use domain::rdata::{Rrsig, Soa, ZoneRecordData};

use crate::load::{LoadedRecord, SourceLocation};
use crate::owner_rrsets::OwnerRrsets;
use crate::name::{self, CanonicalName};
use crate::{StoredName, StoredRecordData};

mod builder;
pub use builder::ZoneBuilder;


/// Record types that frostzone produces itself and therefore does not take
/// from an unsigned input zone.
pub const GENERATED_TYPES: [Rtype; 7] = [
    Rtype::RRSIG,
    Rtype::NSEC,
    Rtype::NSEC3,
    Rtype::NSEC3PARAM,
    Rtype::DNSKEY,
    Rtype::CDS,
    Rtype::CDNSKEY,
];

/// What the input is expected to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// An unsigned zone to be signed: DNSSEC records in it are dropped with
    /// a warning, because frostzone makes its own.
    Unsigned,
    /// A signed zone to be validated: everything is kept.
    Signed,
}

/// One record's data as its canonical wire form (RFC 4034 §6.2), which
/// decides its place in the RRset (RFC 4034 §6.3) and is what is signed.
///
/// The parsed fields are read from the octets when asked for
/// ([`Rdata::data`]) rather than held: a zone holds hundreds of thousands
/// of records, and a record's parsed form took four times the memory of
/// its octets. The octets as given are kept beside the canonical ones only
/// where the two differ (a name in the RDATA not in lower case), so that
/// the zone is presented as it was written.
#[derive(Clone, Debug)]
pub struct Rdata {
    /// Canonical wire-format RDATA.
    pub canonical: Bytes,
    /// The wire-format RDATA as given, where it is not `canonical`.
    given: Option<Bytes>,
    /// The record type: how the octets read.
    rtype: Rtype,
}

impl Rdata {
    /// Wraps record data, computing its canonical form.
    pub fn new(data: StoredRecordData) -> Self {
        // Composing into a Vec cannot fail.
        let mut canonical = Vec::new();
        let _ = data.compose_canonical_rdata(&mut canonical);
        let mut given = Vec::new();
        let _ = data.compose_rdata(&mut given);
        let given = (given != canonical).then(|| Bytes::from(given));
        Rdata { canonical: Bytes::from(canonical), given, rtype: data.rtype() }
    }

    /// Record data of type `rtype` whose wire form, as given, is already
    /// canonical and parses: the octets are shared, not copied.
    pub(crate) fn from_canonical(rtype: Rtype, canonical: Bytes) -> Self {
        Rdata { canonical, given: None, rtype }
    }

    /// Record data of type `rtype` from its canonical octets and, where
    /// they differ, the octets as given ([`Rdata::into_parts`]).
    pub(crate) fn from_parts(rtype: Rtype, canonical: Bytes, given: Option<Bytes>) -> Self {
        Rdata { canonical, given, rtype }
    }

    /// The canonical octets and, where they differ, the octets as given.
    pub(crate) fn into_parts(self) -> (Bytes, Option<Bytes>) {
        (self.canonical, self.given)
    }

    /// The octets as given, where they are not the canonical ones.
    pub(crate) fn given(&self) -> Option<&Bytes> {
        self.given.as_ref()
    }

    /// The record type.
    pub fn rtype(&self) -> Rtype {
        self.rtype
    }

    /// The record data, parsed from its wire form as given (names keep
    /// their case). Parsed fields share the octets; names are copied.
    pub fn data(&self) -> StoredRecordData {
        let wire = self.given.as_ref().unwrap_or(&self.canonical).clone();
        let mut parser = Parser::from_ref(&wire);
        if let Ok(Some(parsed)) = ZoneRecordData::<Bytes, ParsedName<Bytes>>::parse_rdata(self.rtype, &mut parser) {
            if parser.remaining() == 0 {
                return parsed.flatten_into();
            }
        }
        // Not reached: every Rdata is made from data that was composed or
        // parsed, and parses again. The octets as generic data (RFC 3597).
        generic_rdata(self.rtype, wire)
    }
}

/// `wire` as generic record data of type `rtype` (RFC 3597 §5), cut to the
/// 65,535 octets RDATA can hold.
fn generic_rdata(rtype: Rtype, wire: Bytes) -> StoredRecordData {
    let wire = wire.slice(..wire.len().min(usize::from(u16::MAX)));
    match UnknownRecordData::from_octets(rtype, wire) {
        Ok(data) => ZoneRecordData::Unknown(data),
        Err(_) => unreachable!("at most 65,535 octets are RDATA"),
    }
}

/// An RRset (RFC 2181 §5): records of one owner, class and type, held in
/// canonical order without duplicates.
#[derive(Clone, Debug)]
pub struct Rrset {
    /// The owner name.
    pub owner: StoredName,
    /// The type.
    pub rtype: Rtype,
    /// The TTL shared by every record of the set.
    pub ttl: Ttl,
    /// The records, sorted by canonical RDATA and deduplicated.
    pub rdata: Vec<Rdata>,
    /// Where the first record of the set was read.
    pub location: Option<SourceLocation>,
}

impl Rrset {
    /// An RRset from records already in any order.
    pub fn new(owner: StoredName, rtype: Rtype, ttl: Ttl, mut rdata: Vec<Rdata>) -> Self {
        rdata.sort_by(|a, b| a.canonical.cmp(&b.canonical));
        rdata.dedup_by(|a, b| a.canonical == b.canonical);
        Rrset { owner, rtype, ttl, rdata, location: None }
    }
}

/// An RRSIG record as found in a signed zone.
#[derive(Clone, Debug)]
pub struct SignatureRecord {
    /// The RRSIG's own TTL.
    pub ttl: Ttl,
    /// Its data.
    pub rrsig: Rrsig<Bytes, StoredName>,
    /// Where it was read.
    pub location: Option<SourceLocation>,
}

impl SignatureRecord {
    /// A signature read from text or from a message, its octets copied out.
    ///
    /// The scanner hands out a signature as a slice of its buffer, which
    /// holds the whole text read: one signature kept in a zone would keep
    /// all of that text alive with it (51 MB at 100,000 delegations, for
    /// as long as the coordinator publishes the version). The 64 octets of
    /// an Ed25519 signature are copied instead.
    pub fn read(ttl: Ttl, rrsig: Rrsig<Bytes, StoredName>, location: Option<SourceLocation>) -> SignatureRecord {
        let signature = Bytes::copy_from_slice(rrsig.signature());
        let copied = Rrsig::new(
            rrsig.type_covered(),
            rrsig.algorithm(),
            rrsig.labels(),
            rrsig.original_ttl(),
            rrsig.expiration(),
            rrsig.inception(),
            rrsig.key_tag(),
            rrsig.signer_name().clone(),
            signature,
        );
        // The same fields as an RRSIG already made: its length is fine.
        SignatureRecord { ttl, rrsig: copied.unwrap_or(rrsig), location }
    }
}

/// Everything at one owner name.
#[derive(Clone, Debug, Default)]
pub struct Node {
    /// RRsets by type, RRSIG excluded.
    pub rrsets: OwnerRrsets<Rrset>,
    /// RRSIG records at this name.
    pub signatures: Vec<SignatureRecord>,
}

/// Lists at most this long grow one slot at a time ([`push_compact`]).
const COMPACT_UP_TO: usize = 8;

/// Appends `value` to `list`, growing a short list by one slot rather than
/// `Vec`'s four: most names hold one or two signatures and most RRsets one
/// or two records, and a zone holds hundreds of thousands of each. A long
/// list grows as a `Vec` does, so building one stays linear.
pub(crate) fn push_compact<T>(list: &mut Vec<T>, value: T) {
    if list.len() == list.capacity() && list.len() < COMPACT_UP_TO {
        list.reserve_exact(1);
    }
    list.push(value);
}

impl Node {
    /// Adds a signature at this name, holding no more room than it needs
    /// while the node holds few.
    pub fn push_signature(&mut self, signature: SignatureRecord) {
        push_compact(&mut self.signatures, signature);
    }

    /// The RRset of type `rtype`, if any.
    pub fn get(&self, rtype: Rtype) -> Option<&Rrset> {
        self.rrsets.get(&rtype.to_int())
    }

    /// Types present, in numeric order, RRSIG not included.
    pub fn types(&self) -> impl Iterator<Item = Rtype> + '_ {
        self.rrsets.keys().map(|t| Rtype::from_int(*t))
    }
}

/// The part a name plays in its zone (RFC 4035 §2.2, RFC 6672 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRole {
    /// The zone apex.
    Apex,
    /// An ordinary authoritative name: all its RRsets are signed.
    Authoritative,
    /// A zone cut: only DS is authoritative. `secure` when it has a DS.
    Delegation {
        /// Whether a DS RRset is present.
        secure: bool,
    },
    /// Below a zone cut or a DNAME: glue or occluded data, never signed and
    /// never part of a denial chain.
    Occluded,
}

/// Something wrong in an input zone, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneProblem {
    /// Where, when known.
    pub location: Option<SourceLocation>,
    /// What.
    pub message: String,
}

impl fmt::Display for ZoneProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(l) => write!(f, "{l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The input does not make a zone that can be signed.
#[derive(Debug, thiserror::Error)]
#[error("zone {apex} is not valid:\n{}", problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ZoneError {
    /// The zone.
    pub apex: String,
    /// Every problem found.
    pub problems: Vec<ZoneProblem>,
}

/// A zone: its apex and every name's data, in canonical order.
#[derive(Clone, Debug)]
pub struct Zone {
    apex: StoredName,
    nodes: BTreeMap<CanonicalName, Node>,
    /// Things worth an operator's attention that did not stop loading.
    pub warnings: Vec<ZoneProblem>,
}

impl Zone {
    /// Builds a zone from loaded records, running every input check.
    ///
    /// All problems are reported together, each with its file and line.
    pub fn from_records(
        apex: StoredName,
        records: Vec<LoadedRecord>,
        kind: InputKind,
    ) -> Result<Zone, ZoneError> {
        let mut builder = ZoneBuilder::new(apex, kind);
        for record in records {
            builder.push(record);
        }
        builder.finish()
    }

    /// RFC 1035 §5.2 and RFC 2181 §10.1 structure checks.
    fn check_structure(&self, problems: &mut Vec<ZoneProblem>, warnings: &mut Vec<ZoneProblem>) {
        let apex_fqdn = crate::name::FqdnDisplay(&self.apex).to_string();
        match self.nodes.get(&CanonicalName(self.apex.clone())) {
            None => problems.push(ZoneProblem {
                location: None,
                message: format!("no SOA record at the apex {apex_fqdn}"),
            }),
            Some(apex) => {
                match apex.get(Rtype::SOA) {
                    None => problems.push(ZoneProblem {
                        location: None,
                        message: format!("no SOA record at the apex {apex_fqdn}"),
                    }),
                    Some(soa) if soa.rdata.len() > 1 => problems.push(ZoneProblem {
                        location: soa.location.clone(),
                        message: format!("{} SOA records at the apex {apex_fqdn}; exactly one is allowed", soa.rdata.len()),
                    }),
                    Some(_) => {}
                }
                if apex.get(Rtype::NS).is_none() {
                    problems.push(ZoneProblem {
                        location: apex.get(Rtype::SOA).and_then(|s| s.location.clone()),
                        message: format!("no NS records at the apex {apex_fqdn}"),
                    });
                }
            }
        }
        for (owner, node) in &self.nodes {
            let is_apex = owner.0 == self.apex;
            if let Some(soa) = node.get(Rtype::SOA) {
                if !is_apex {
                    problems.push(ZoneProblem {
                        location: soa.location.clone(),
                        message: format!("{owner} SOA is not at the apex {apex_fqdn}"),
                    });
                }
            }
            if let Some(cname) = node.get(Rtype::CNAME) {
                // RFC 2181 §10.1: a CNAME cannot stand beside other data,
                // DNSSEC records excepted (RFC 4035 §2.5).
                let others: Vec<String> = node
                    .types()
                    .filter(|t| ![Rtype::CNAME, Rtype::NSEC, Rtype::RRSIG].contains(t))
                    .map(|t| t.to_string())
                    .collect();
                if !others.is_empty() {
                    problems.push(ZoneProblem {
                        location: cname.location.clone(),
                        message: format!(
                            "{owner} has a CNAME beside other data ({}); RFC 2181 §10.1 forbids this",
                            others.join(", ")
                        ),
                    });
                } else if cname.rdata.len() > 1 {
                    problems.push(ZoneProblem {
                        location: cname.location.clone(),
                        message: format!("{owner} has {} CNAME records; only one is allowed", cname.rdata.len()),
                    });
                }
            }
            if let Some(dname) = node.get(Rtype::DNAME) {
                if dname.rdata.len() > 1 {
                    problems.push(ZoneProblem {
                        location: dname.location.clone(),
                        message: format!("{owner} has {} DNAME records; only one is allowed (RFC 6672 §2.4)", dname.rdata.len()),
                    });
                }
            }
            if !is_apex && node.get(Rtype::DS).is_some() && node.get(Rtype::NS).is_none() {
                let ds = node.get(Rtype::DS);
                problems.push(ZoneProblem {
                    location: ds.and_then(|d| d.location.clone()),
                    message: format!("{owner} has a DS record but no NS records: DS belongs only at a delegation"),
                });
            }
        }
        for (owner, role) in self.roles() {
            if role != NameRole::Occluded {
                continue;
            }
            let Some(node) = self.nodes.get(&owner) else { continue };
            let glue = node
                .types()
                .all(|t| t == Rtype::A || t == Rtype::AAAA);
            if !glue {
                // Occluded data is not an error (RFC 1034 §4.2.1), but an
                // operator wants to know it will never be served or signed.
                warnings.push(ZoneProblem {
                    location: node.rrsets.values().next().and_then(|r| r.location.clone()),
                    message: format!("{owner} is below a zone cut or DNAME: its data is occluded and not signed"),
                });
            }
        }
    }

    /// The zone's apex.
    pub fn apex(&self) -> &StoredName {
        &self.apex
    }

    /// Every RRset that carries signatures (RFC 4035 §2.2: every
    /// authoritative RRset; at a delegation only DS and the denial
    /// record), in canonical order of owner, then type.
    pub fn signed_rrsets(&self) -> Vec<&Rrset> {
        let mut out = Vec::new();
        for (owner, role) in self.roles() {
            let Some(node) = self.nodes.get(&owner) else { continue };
            out.extend(node.rrsets.values().filter(|r| Zone::is_signed(role, r.rtype)));
        }
        out
    }

    /// Every RRset a signer is proposed for this version, in canonical
    /// order of owner, then type: the signed RRsets
    /// ([`Zone::signed_rrsets`]) and the NS RRset of every delegation
    /// ([`Zone::is_proposed`]).
    pub fn proposed_rrsets(&self) -> Vec<&Rrset> {
        let mut out = Vec::new();
        for (owner, role) in self.roles() {
            let Some(node) = self.nodes.get(&owner) else { continue };
            out.extend(node.rrsets.values().filter(|r| Zone::is_proposed(role, r.rtype)));
        }
        out
    }

    /// A zone made of `rrsets` as they are, without the input checks of
    /// [`Zone::from_records`]: what a signer is proposed
    /// ([`Zone::proposed_rrsets`]), to be checked rather than trusted.
    /// Records are put in canonical order; of two RRsets with the same
    /// owner and type, the last one counts.
    pub fn from_rrsets(apex: StoredName, rrsets: impl IntoIterator<Item = Rrset>) -> Zone {
        let mut nodes = builder::NodesInOrder::default();
        for rrset in rrsets {
            let Rrset { owner, rtype, ttl, rdata, location } = rrset;
            let mut rrset = Rrset::new(owner, rtype, ttl, rdata);
            rrset.location = location;
            nodes.node_mut(CanonicalName(rrset.owner.clone())).rrsets.insert(rrset.rtype.to_int(), rrset);
        }
        Zone { apex, nodes: nodes.finish(), warnings: Vec::new() }
    }

    /// Every RRset (RRSIG excluded), owned, in canonical order of owner
    /// and then type: the inverse of [`Zone::from_rrsets`], without a copy.
    pub fn into_rrsets(self) -> impl Iterator<Item = Rrset> {
        self.nodes.into_values().flat_map(|node| node.rrsets.into_values())
    }

    /// Every name with data, in canonical order.
    pub fn nodes(&self) -> impl Iterator<Item = (&CanonicalName, &Node)> {
        self.nodes.iter()
    }

    /// Number of names with data.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Names with data in `range`, in canonical order.
    pub fn nodes_range<'a>(
        &'a self,
        range: (std::ops::Bound<&CanonicalName>, std::ops::Bound<&CanonicalName>),
    ) -> std::collections::btree_map::Range<'a, CanonicalName, Node> {
        self.nodes.range::<CanonicalName, _>(range)
    }

    /// Replaces the data at `name`.
    pub(crate) fn set_node(&mut self, name: CanonicalName, node: Node) {
        self.nodes.insert(name, node);
    }

    /// Removes the data at `name`.
    pub(crate) fn remove_node(&mut self, name: &CanonicalName) {
        self.nodes.remove(name);
    }

    /// Number of RRSIG records.
    pub fn signature_count(&self) -> usize {
        self.nodes.values().map(|n| n.signatures.len()).sum()
    }

    /// The data at `name`, if any.
    pub fn node(&self, name: &StoredName) -> Option<&Node> {
        self.nodes.get(&CanonicalName(name.clone()))
    }

    /// Mutable access to the data at `name`, created when missing.
    pub fn node_mut(&mut self, name: &StoredName) -> &mut Node {
        self.nodes.entry(CanonicalName(name.clone())).or_default()
    }

    /// Takes every RRset of `rtype` out of the zone, in canonical order
    /// of their owners; names left with nothing are dropped, as by
    /// [`Zone::remove_type`].
    pub fn take_type(&mut self, rtype: Rtype) -> Vec<Rrset> {
        let taken = self.nodes.values_mut().filter_map(|node| node.rrsets.remove(&rtype.to_int())).collect();
        self.nodes.retain(|_, n| !n.rrsets.is_empty() || !n.signatures.is_empty());
        taken
    }

    /// Removes every RRset of `rtype` and every RRSIG in the zone; used to
    /// strip generated records before re-signing.
    pub fn remove_type(&mut self, rtype: Rtype) {
        self.take_type(rtype);
    }

    /// The apex SOA data.
    pub fn soa(&self) -> Option<(Ttl, Soa<StoredName>)> {
        let rrset = self.node(&self.apex)?.get(Rtype::SOA)?;
        match rrset.rdata.first()?.data() {
            ZoneRecordData::Soa(soa) => Some((rrset.ttl, soa)),
            _ => None,
        }
    }

    /// The TTL for NSEC and NSEC3 records: the lesser of the SOA's MINIMUM
    /// field and the SOA's own TTL (RFC 9077 §3.2).
    pub fn denial_ttl(&self) -> Ttl {
        denial_ttl_of(self.node(&self.apex).and_then(|n| n.get(Rtype::SOA))).unwrap_or(Ttl::from_secs(3600))
    }

    /// Each name's role, in canonical order (RFC 4035 §2.2).
    ///
    /// Canonical order lists every name right after its ancestors, so one
    /// pass with the innermost zone cut seen so far decides occlusion.
    pub fn roles(&self) -> Vec<(CanonicalName, NameRole)> {
        roles_in_order(&self.apex, self.nodes.iter()).map(|(owner, _, role)| (owner.clone(), role)).collect()
    }

    /// Empty non-terminals (RFC 5155 §7.1): names that exist only because a
    /// name below them does. `include` decides which descendants count
    /// (the NSEC3 chain leaves out opt-out delegations).
    pub fn empty_non_terminals(
        &self,
        roles: &[(CanonicalName, NameRole)],
        include: impl Fn(NameRole) -> bool,
    ) -> Vec<CanonicalName> {
        let mut ents = std::collections::BTreeSet::new();
        for (owner, role) in roles {
            if *role == NameRole::Occluded || !include(*role) {
                continue;
            }
            for ancestor in name::ancestors_below(&owner.0, &self.apex) {
                let key = CanonicalName(ancestor);
                if !self.nodes.contains_key(&key) {
                    ents.insert(key);
                }
            }
        }
        ents.into_iter().collect()
    }

    /// Whether the RRset `rtype` at a name of `role` is authoritative and
    /// therefore signed (RFC 4035 §2.2).
    pub fn is_signed(role: NameRole, rtype: Rtype) -> bool {
        match role {
            NameRole::Apex | NameRole::Authoritative => rtype != Rtype::RRSIG,
            NameRole::Delegation { .. } => {
                rtype == Rtype::DS || rtype == Rtype::NSEC || rtype == Rtype::NSEC3
            }
            NameRole::Occluded => false,
        }
    }

    /// Whether the RRset `rtype` at a name of `role` is among what a
    /// signer is proposed: every signed RRset ([`Zone::is_signed`]), and
    /// the NS RRset of a delegation.
    ///
    /// A delegation's NS RRset is not signed (RFC 4035 §2.2: "the NS RRset
    /// that appears at a delegation point ... MUST NOT be signed"), but without
    /// it a signer could not tell that the name is a zone cut: the type
    /// bitmap of the delegation's NSEC or NSEC3 record lists NS (RFC 4034
    /// §4.1.2), opt-out leaves insecure delegations out of the NSEC3 chain
    /// (RFC 5155 §7.1), and names below a cut are in no chain at all. Glue
    /// and other occluded data are never proposed.
    pub fn is_proposed(role: NameRole, rtype: Rtype) -> bool {
        Zone::is_signed(role, rtype) || (matches!(role, NameRole::Delegation { .. }) && rtype == Rtype::NS)
    }

    /// Number of RRsets in the zone.
    pub fn rrset_count(&self) -> usize {
        self.nodes.values().map(|n| n.rrsets.len()).sum()
    }
}

/// The denial TTL (RFC 9077 §3.2) a zone with this apex SOA RRset has.
pub(crate) fn denial_ttl_of(soa: Option<&Rrset>) -> Option<Ttl> {
    let soa = soa?;
    match soa.rdata.first()?.data() {
        ZoneRecordData::Soa(data) => Some(soa.ttl.min(data.minimum())),
        _ => None,
    }
}

/// Each name's role as canonical order meets `nodes` (RFC 4035 §2.2,
/// RFC 6672 §2.3): canonical order lists every name right after its
/// ancestors, so one pass with the innermost zone cut seen so far decides
/// occlusion.
pub(crate) fn roles_in_order<'a>(
    apex: &'a StoredName,
    nodes: impl Iterator<Item = (&'a CanonicalName, &'a Node)> + 'a,
) -> impl Iterator<Item = (&'a CanonicalName, &'a Node, NameRole)> + 'a {
    let mut cut: Option<&'a StoredName> = None;
    nodes.map(move |(owner, node)| {
        if let Some(c) = cut {
            if owner.0.ends_with(c) && owner.0.name_cmp(c) != std::cmp::Ordering::Equal {
                return (owner, node, NameRole::Occluded);
            }
            cut = None;
        }
        let role = if owner.0 == *apex {
            NameRole::Apex
        } else if node.get(Rtype::NS).is_some() {
            cut = Some(&owner.0);
            NameRole::Delegation { secure: node.get(Rtype::DS).is_some() }
        } else {
            NameRole::Authoritative
        };
        if node.get(Rtype::DNAME).is_some() && role != NameRole::Apex {
            // RFC 6672 §2.3: names below a DNAME owner are occluded.
            cut = Some(&owner.0);
        }
        (owner, node, role)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::load_zone_text;
    use std::str::FromStr;

    /// A signature read from text holds its own octets, not a slice of the
    /// scanner's buffer (which would keep the whole text alive with the zone).
    #[test]
    fn signatures_read_from_text_hold_their_own_octets() {
        let apex = StoredName::from_str("example.").unwrap();
        let sig = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let text = format!(
            "@ 300 IN SOA ns hm 1 2 3 4 5\n@ NS ns1\n@ RRSIG SOA 15 1 300 20300101000000 20200101000000 1 example. {sig}\n@ RRSIG NS 15 1 300 20300101000000 20200101000000 1 example. {sig}\n"
        );
        let zone = ZoneBuilder::from_text(apex.clone(), InputKind::Signed, &text, std::path::Path::new("t")).unwrap().finish().unwrap();
        let node = zone.node(&apex).unwrap();
        assert_eq!(node.signatures.len(), 2);
        for s in &node.signatures {
            assert!(s.rrsig.signature().is_unique(), "a signature shares its octets with the text read");
        }
    }

    /// A zone read from records holds no spare room in its short lists
    /// (the signed reference zone is mostly names with one signature and
    /// RRsets of one or two records), and a long list is still built whole.
    #[test]
    fn short_lists_hold_what_they_need() {
        let apex = StoredName::from_str("example.").unwrap();
        let mut text = String::from("@ 300 IN SOA ns hm 1 2 3 4 5\n@ NS ns1\n@ NS ns2\n");
        text.push_str("@ RRSIG SOA 15 1 300 20300101000000 20200101000000 1 example. AAAA\n");
        for n in 0..40 {
            text.push_str(&format!("many TXT \"{n}\"\n"));
        }
        let records = load_zone_text(&text, std::path::Path::new("t"), &apex).unwrap();
        let zone = Zone::from_records(apex.clone(), records, InputKind::Signed).unwrap();
        let node = zone.node(&apex).unwrap();
        let ns = node.get(Rtype::NS).unwrap();
        assert_eq!((ns.rdata.len(), ns.rdata.capacity()), (2, 2));
        assert_eq!((node.signatures.len(), node.signatures.capacity()), (1, 1));
        let many = zone.node(&StoredName::from_str("many.example.").unwrap()).unwrap().get(Rtype::TXT).unwrap();
        assert_eq!(many.rdata.len(), 40);
        let mut list = Vec::new();
        for n in 0..1000 {
            push_compact(&mut list, n);
        }
        // Exactly up to 8, then doubling: 8, 16, ..., 1024 (exact growth
        // would leave 1000, Vec's own 1024 too, but then short lists fail above).
        assert_eq!(list.capacity(), 1024, "a long list grows by doubling");
    }

    /// Record data read back from its octets is the data it was made
    /// from, for every kind of record a zone holds; names in the RDATA
    /// keep their case, and only where the case differs from the
    /// canonical form are the octets as given kept too.
    #[test]
    fn record_data_reads_back_from_its_octets() {
        let apex = StoredName::from_str("example.").unwrap();
        let text = "@ 300 IN SOA Ns1.Example. HostMaster 1 7200 3600 1209600 300
@ NS ns1
@ NS NS2.Other.TEST.
@ MX 10 Mail.Example.
@ TXT \"v=spf1 -all\" \"two\"
@ CAA 0 issue \"ca.example.net\"
@ HINFO \"PC\" \"Linux\"
@ ZONEMD 1 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
@ DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=
@ CDS 12345 15 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
@ NSEC3PARAM 1 0 0 -
@ RRSIG SOA 15 1 300 20300101000000 20200101000000 12345 Example. AAAA
@ NSEC www.Example. A NS SOA MX TXT RRSIG NSEC DNSKEY
www A 192.0.2.1
www AAAA 2001:db8::1
alias CNAME WWW.example.
ptr PTR Host.Example.
_sip._tcp SRV 0 5 5060 SIP.example.
svc HTTPS 1 . alpn=h2
svc2 SVCB 1 Target.example. port=8443
naptr NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" .
ssh SSHFP 4 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
_443._tcp TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
sub NS Ns.Sub.example.
sub DS 12345 15 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
dn DNAME Target.Example.
1vsd83ku0r3ja7ld0qnvb1l9r5s7l9ve NSEC3 1 1 0 - 2vsd83ku0r3ja7ld0qnvb1l9r5s7l9ve A RRSIG
odd TYPE65000 \\# 3 abcdef
";
        // Two octet handles and the type: no parsed fields beside them.
        assert_eq!(std::mem::size_of::<Rdata>(), 72);
        let records = load_zone_text(text, std::path::Path::new("t"), &apex).unwrap();
        assert!(records.len() > 25, "{} records read", records.len());
        for loaded in records {
            let data = loaded.record.data().clone();
            let rdata = Rdata::new(data.clone());
            assert_eq!(rdata.rtype(), data.rtype());
            assert!(rdata.data() == data, "{} {} reads back as {:?}", loaded.record.owner(), data.rtype(), rdata.data());
            let mut given = Vec::new();
            data.compose_rdata(&mut given).unwrap();
            assert_eq!(rdata.given.is_some(), given != rdata.canonical.as_ref(), "{}", data.rtype());
        }
        // A name in the RDATA not in lower case: canonical lowercased,
        // the data read back as given.
        let ns = Rdata::new(ZoneRecordData::Ns(domain::rdata::Ns::new(StoredName::from_str("NS2.Other.TEST.").unwrap())));
        assert_eq!(ns.canonical.as_ref(), b"\x03ns2\x05other\x04test\x00");
        assert_eq!(crate::present::rdata_text(&ns.data()), "NS2.Other.TEST.");
    }
}
