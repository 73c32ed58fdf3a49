//! A zone built record by record as a master file is read (RFC 1035 §5),
//! with every input check: the records need not all be held before the
//! zone is made of them ([`crate::load::scan_zone_text`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use domain::rdata::ZoneRecordData;

use super::{push_compact, InputKind, Node, Rdata, Rrset, SignatureRecord, Zone, ZoneError, ZoneProblem, GENERATED_TYPES};
use crate::load::{scan_zone_text, LoadError, LoadedRecord, SourceLocation};
use crate::name::{self, CanonicalName, FqdnDisplay};
use crate::StoredName;

/// A zone being built from records in the order they were read.
///
/// All problems are reported together by [`ZoneBuilder::finish`], each
/// with its file and line.
#[derive(Debug)]
pub struct ZoneBuilder {
    apex: StoredName,
    kind: InputKind,
    nodes: NodesInOrder,
    problems: Vec<ZoneProblem>,
    warnings: Vec<ZoneProblem>,
    /// Where the first record was read: RFC 1035 §5.2 wants the SOA
    /// there, so a missing one is reported at it.
    first_location: Option<SourceLocation>,
}

impl ZoneBuilder {
    /// An empty zone at `apex`, to be read as `kind`.
    pub fn new(apex: StoredName, kind: InputKind) -> Self {
        ZoneBuilder { apex, kind, nodes: NodesInOrder::default(), problems: Vec::new(), warnings: Vec::new(), first_location: None }
    }

    /// A zone at `apex` read as `kind` from master file `text` (`name`
    /// in messages), record by record as [`crate::load::scan_zone_text`]
    /// reads them (which lets text given owned go early); [`ZoneBuilder::finish`]
    /// checks it.
    pub fn from_text<'a>(apex: StoredName, kind: InputKind, text: impl Into<Cow<'a, str>>, name: &Path) -> Result<Self, LoadError> {
        let mut builder = ZoneBuilder::new(apex.clone(), kind);
        scan_zone_text(text, name, &apex, |record| builder.push(record))?;
        Ok(builder)
    }

    /// A zone at `apex` read as `kind` from master file text that
    /// `reader` gives, in blocks of whole lines, never held whole: text in
    /// which every line is one whole record, as frostzone presents a zone
    /// ([`crate::load::scan_zone_lines`]).
    pub fn from_lines(apex: StoredName, kind: InputKind, reader: impl std::io::Read, name: &Path) -> Result<Self, LoadError> {
        let mut builder = ZoneBuilder::new(apex.clone(), kind);
        crate::load::scan_zone_lines(reader, name, &apex, |record| builder.push(record))?;
        Ok(builder)
    }

    /// Adds one record read from the input.
    pub fn push(&mut self, LoadedRecord { record, location }: LoadedRecord) {
        if self.first_location.is_none() {
            self.first_location = Some(location.clone());
        }
        let owner = record.owner().clone();
        let rtype = record.rtype();
        let ttl = record.ttl();
        let fqdn = FqdnDisplay(&owner);
        if !name::in_zone(&owner, &self.apex) {
            self.problems.push(ZoneProblem {
                location: Some(location),
                message: format!("{fqdn} {rtype} is outside the zone {}", FqdnDisplay(&self.apex)),
            });
            return;
        }
        if self.kind == InputKind::Unsigned && GENERATED_TYPES.contains(&rtype) {
            self.warnings.push(ZoneProblem {
                location: Some(location),
                message: format!("{fqdn} {rtype} dropped: frostzone generates DNSSEC records itself"),
            });
            return;
        }
        let node = self.nodes.node_mut(CanonicalName(owner.clone()));
        let data = record.into_data();
        if let ZoneRecordData::Rrsig(rrsig) = data {
            node.push_signature(SignatureRecord::read(ttl, rrsig, Some(location)));
            return;
        }
        match node.rrsets.get_mut(&rtype.to_int()) {
            Some(rrset) => {
                if rrset.ttl != ttl {
                    // Per RRset: the TTL seen first and where, to report mismatches.
                    self.warnings.push(ZoneProblem {
                        location: Some(location.clone()),
                        message: format!(
                            "{fqdn} {rtype} TTL {} differs from the RRset's TTL {}; using the lower (RFC 2181 §5.2)",
                            ttl.as_secs(),
                            rrset.ttl.as_secs()
                        ),
                    });
                    rrset.ttl = rrset.ttl.min(ttl);
                }
                push_compact(&mut rrset.rdata, Rdata::new(data));
            }
            None => {
                let mut rrset = Rrset::new(owner.clone(), rtype, ttl, vec![Rdata::new(data)]);
                rrset.location = Some(location);
                node.rrsets.insert(rtype.to_int(), rrset);
            }
        }
    }

    /// The zone, once its structure is checked (RFC 1035 §5.2, RFC 2181
    /// §10.1), or every problem found.
    pub fn finish(self) -> Result<Zone, ZoneError> {
        let ZoneBuilder { apex, nodes, mut problems, warnings, first_location, .. } = self;
        let mut nodes = nodes.finish();
        for node in nodes.values_mut() {
            for rrset in node.rrsets.values_mut() {
                rrset.rdata.sort_by(|a, b| a.canonical.cmp(&b.canonical));
                rrset.rdata.dedup_by(|a, b| a.canonical == b.canonical);
            }
        }
        let mut zone = Zone { apex, nodes, warnings };
        let mut more_warnings = Vec::new();
        zone.check_structure(&mut problems, &mut more_warnings);
        for p in problems.iter_mut().filter(|p| p.location.is_none() && p.message.starts_with("no SOA")) {
            p.location = first_location.clone();
            p.message.push_str(" (it should be the first record)");
        }
        zone.warnings.extend(more_warnings);
        if problems.is_empty() {
            Ok(zone)
        } else {
            Err(ZoneError { apex: FqdnDisplay(&zone.apex).to_string(), problems })
        }
    }
}

/// A zone's names as they come, mostly in canonical order (a zone file
/// written by a signer, a proposal's RRsets), made into the zone's map at
/// the end.
///
/// A `BTreeMap` that is given its keys in order one by one splits every
/// full leaf near its middle and never returns to the left part: its
/// leaves stay a little over half full, about 150 octets a name where a
/// full leaf needs 80. Names that come in order are kept in a list, and
/// the map is built from it whole, its leaves full; a name that comes
/// out of order goes to a map of its own, joined at the end.
#[derive(Debug, Default)]
pub(crate) struct NodesInOrder {
    /// Names in strictly increasing canonical order.
    in_order: Vec<(CanonicalName, Node)>,
    /// Names that came before the last of `in_order` and are not in it.
    others: BTreeMap<CanonicalName, Node>,
}

impl NodesInOrder {
    /// The node of `name`, added empty if it is not there.
    pub(crate) fn node_mut(&mut self, name: CanonicalName) -> &mut Node {
        let at = match self.in_order.last() {
            None => None,
            Some((last, _)) if name > *last => None,
            Some((last, _)) if name == *last => Some(self.in_order.len() - 1),
            Some(_) => match self.in_order.binary_search_by(|(k, _)| k.cmp(&name)) {
                Ok(i) => Some(i),
                Err(_) => return self.others.entry(name).or_default(),
            },
        };
        match at {
            Some(i) => &mut self.in_order[i].1,
            None => {
                // After every name in order, so in no map yet: `others`
                // only takes names below the last in order.
                self.in_order.push((name, Node::default()));
                let last = self.in_order.len() - 1;
                &mut self.in_order[last].1
            }
        }
    }

    /// The zone's map of names.
    pub(crate) fn finish(self) -> BTreeMap<CanonicalName, Node> {
        let NodesInOrder { in_order, mut others } = self;
        if others.is_empty() {
            // Sorted and unique: built leaf by leaf, each full.
            return in_order.into_iter().collect();
        }
        others.extend(in_order);
        others
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::load_zone_text;
    use crate::present::zone_text;
    use std::str::FromStr;

    /// Names in order, repeated, and out of order (new ones and ones
    /// already in order) make the map inserting each one would.
    #[test]
    fn nodes_in_order_make_the_same_map() {
        let names = ["a", "b", "b", "c", "a", "bb", "d", "bb", "c", "e", "0", "e", "0", "f"];
        let mut nodes = NodesInOrder::default();
        let mut plain: BTreeMap<CanonicalName, usize> = BTreeMap::new();
        for (i, label) in names.iter().enumerate() {
            let name = CanonicalName(StoredName::from_str(&format!("{label}.example.")).unwrap());
            let node = nodes.node_mut(name.clone());
            // Each arrival leaves an RRset of its own, to count them.
            let rrset = Rrset::new(name.0.clone(), domain::base::iana::Rtype::TXT, domain::base::Ttl::from_secs(i as u32), Vec::new());
            node.rrsets.insert(u16::try_from(i).unwrap(), rrset);
            *plain.entry(name).or_default() += 1;
        }
        let built = nodes.finish();
        assert!(built.keys().eq(plain.keys()));
        for (name, node) in &built {
            assert_eq!(node.rrsets.values().count(), plain[name], "{name}");
        }
        // All in order: the map is built from the list alone.
        let mut ordered = NodesInOrder::default();
        for label in ["a", "a", "b", "c"] {
            ordered.node_mut(CanonicalName(StoredName::from_str(&format!("{label}.example.")).unwrap()));
        }
        assert!(ordered.others.is_empty());
        assert_eq!(ordered.finish().len(), 3);
    }

    /// Read record by record, a zone is the one its list of records
    /// makes, with the same problems found at the same lines.
    #[test]
    fn a_zone_read_from_text_is_the_one_its_records_make() {
        let apex = StoredName::from_str("example.").unwrap();
        let text = "@ 300 IN SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nwww 300 TXT \"a\"\nwww 60 TXT \"b\"\n";
        let path = Path::new("example.zone");
        let streamed = ZoneBuilder::from_text(apex.clone(), InputKind::Unsigned, text, path).unwrap().finish().unwrap();
        let listed = Zone::from_records(apex.clone(), load_zone_text(text, path, &apex).unwrap(), InputKind::Unsigned).unwrap();
        assert_eq!(zone_text(&streamed), zone_text(&listed));
        assert_eq!(streamed.warnings.len(), 1, "the TTL mismatch");

        let outside = "www 300 TXT \"a\"\nother.test. 300 TXT \"b\"\n";
        let err = ZoneBuilder::from_text(apex.clone(), InputKind::Unsigned, outside, path).unwrap().finish().unwrap_err().to_string();
        assert!(err.contains("example.zone:1") && err.contains("no SOA"), "{err}");
        assert!(err.contains("example.zone:2") && err.contains("outside the zone"), "{err}");

        let bad = "@ 300 IN SOA ns hm 1 2 3 4 5\nwww 300 A not-an-address\n";
        let err = ZoneBuilder::from_text(apex, InputKind::Unsigned, bad, path).unwrap_err().to_string();
        assert!(err.contains("example.zone:2"), "{err}");
    }
}
