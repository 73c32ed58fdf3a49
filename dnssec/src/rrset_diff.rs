//! RRset-level differences between two versions of a zone's content.
//!
//! Two sets of RRsets are compared by owner name (RFC 4034 §6.1 canonical
//! order, so case does not matter) and type. An RRset present on one side
//! only is added or removed; one present on both sides whose TTL or set of
//! RDATA differs (compared in canonical form, RFC 4034 §6.2) is changed.
//! RRSIGs are not compared: they are what signing produces, not content.
//!
//! Denial-of-existence RRsets (NSEC, RFC 4034 §4; NSEC3 and NSEC3PARAM,
//! RFC 5155) follow mechanically from the rest of the zone, so they are
//! counted apart and never make an owner name appear or disappear. Zone
//! key RRsets (DNSKEY, RFC 4034 §2; CDS and CDNSKEY, RFC 7344 §3) decide
//! what validates the zone, so their changes are reported by type.
//!
//! [`ZoneDiff::lines`] renders the difference as `+`/`-` lines in zone
//! file syntax ([`crate::present`]), in the shape of an incremental zone
//! transfer (RFC 1995 §4): for a changed RRset whose TTL is unchanged only
//! the records that went (`-`) and came (`+`) are listed; when the TTL
//! changed, every old record is removed and every new one added, because
//! an RRset has a single TTL (RFC 2181 §5.2).

use std::collections::{BTreeMap, BTreeSet};

use domain::base::iana::Rtype;
use domain::base::ToName;

use crate::name::CanonicalName;
use crate::name::FqdnDisplay;
use crate::present::rdata_text;
use crate::zone::{Rdata, Rrset};
use crate::StoredName;

/// Whether `rtype` is a denial-of-existence type (NSEC, NSEC3, NSEC3PARAM).
pub fn is_denial(rtype: Rtype) -> bool {
    matches!(rtype, Rtype::NSEC | Rtype::NSEC3 | Rtype::NSEC3PARAM)
}

/// Whether `rtype` publishes zone keys or their delegation hints to the
/// parent (DNSKEY, CDS, CDNSKEY).
pub fn is_key(rtype: Rtype) -> bool {
    matches!(rtype, Rtype::DNSKEY | Rtype::CDS | Rtype::CDNSKEY)
}

/// The identity of an RRset: canonical owner, then type number.
type RrsetKey = (CanonicalName, u16);

/// How one RRset differs.
#[derive(Clone, Debug)]
pub enum RrsetChange {
    /// Present only in the new content.
    Added(Rrset),
    /// Present only in the old content.
    Removed(Rrset),
    /// Present in both, with another TTL or other RDATA.
    Changed {
        /// As it was.
        old: Rrset,
        /// As it becomes.
        new: Rrset,
    },
}

impl RrsetChange {
    /// The RRset the change is about (the new one when changed).
    pub fn rrset(&self) -> &Rrset {
        match self {
            RrsetChange::Added(r) | RrsetChange::Removed(r) => r,
            RrsetChange::Changed { new, .. } => new,
        }
    }
}

/// The counts an approval policy looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffSummary {
    /// Non-denial RRsets only in the new content.
    pub rrsets_added: u64,
    /// Non-denial RRsets only in the old content.
    pub rrsets_removed: u64,
    /// Non-denial RRsets in both, differing.
    pub rrsets_changed: u64,
    /// Owner names with a non-denial RRset in the new content only.
    pub names_added: u64,
    /// Owner names with a non-denial RRset in the old content only.
    pub names_removed: u64,
    /// NSEC, NSEC3 and NSEC3PARAM RRsets added, removed or changed.
    pub denial_rrsets_changed: u64,
    /// DNSKEY, CDS and CDNSKEY types with an RRset added, removed or
    /// changed, in type order.
    pub key_types_changed: BTreeSet<u16>,
    /// DS RRsets added, removed or changed (always at delegations, RFC
    /// 4035 §2.4; also counted above): a child zone's trust anchor.
    pub ds_rrsets_changed: u64,
}

impl DiffSummary {
    /// Non-denial RRsets added, removed or changed.
    pub fn rrsets_total(&self) -> u64 {
        self.rrsets_added + self.rrsets_removed + self.rrsets_changed
    }

    /// Whether nothing at all differs.
    pub fn is_empty(&self) -> bool {
        self.rrsets_total() == 0 && self.denial_rrsets_changed == 0
    }
}

/// The difference between two versions of a zone's RRsets.
#[derive(Clone, Debug, Default)]
pub struct ZoneDiff {
    /// Every RRset that differs, in canonical order of owner, then type.
    pub changes: Vec<RrsetChange>,
    /// Names owning a non-denial RRset only in the new content, canonical order.
    pub names_added: Vec<StoredName>,
    /// Names owning a non-denial RRset only in the old content, canonical order.
    pub names_removed: Vec<StoredName>,
}

fn index(rrsets: impl IntoIterator<Item = Rrset>) -> BTreeMap<RrsetKey, Rrset> {
    rrsets
        .into_iter()
        .map(|r| ((CanonicalName(r.owner.clone()), r.rtype.to_int()), r))
        .collect()
}

/// Whether two RRsets of the same owner and type hold the same content:
/// the same TTL and the same records (canonical RDATA, RFC 4034 §6.2, in
/// the canonical order [`Rrset::new`] keeps).
pub fn same_content(a: &Rrset, b: &Rrset) -> bool {
    a.ttl == b.ttl
        && a.rdata.len() == b.rdata.len()
        && a.rdata.iter().zip(&b.rdata).all(|(x, y)| x.canonical == y.canonical)
}

/// Names owning at least one non-denial RRset.
fn content_names(rrsets: &BTreeMap<RrsetKey, Rrset>) -> BTreeSet<CanonicalName> {
    rrsets
        .iter()
        .filter(|((_, t), _)| !is_denial(Rtype::from_int(*t)))
        .map(|((n, _), _)| n.clone())
        .collect()
}

impl ZoneDiff {
    /// Compares `old` with `new`. Each side should hold an RRset at most
    /// once per owner and type; should one repeat, the last one counts.
    /// RRsets are expected in canonical RDATA order ([`Rrset::new`]).
    pub fn between(
        old: impl IntoIterator<Item = Rrset>,
        new: impl IntoIterator<Item = Rrset>,
    ) -> ZoneDiff {
        let mut old = index(old);
        let new = index(new);
        let old_names = content_names(&old);
        let new_names = content_names(&new);
        let mut changes: BTreeMap<RrsetKey, RrsetChange> = BTreeMap::new();
        for (key, rrset) in new {
            match old.remove(&key) {
                None => {
                    changes.insert(key, RrsetChange::Added(rrset));
                }
                Some(before) if same_content(&before, &rrset) => {}
                Some(before) => {
                    changes.insert(key, RrsetChange::Changed { old: before, new: rrset });
                }
            }
        }
        for (key, rrset) in old {
            changes.insert(key, RrsetChange::Removed(rrset));
        }
        ZoneDiff {
            changes: changes.into_values().collect(),
            names_added: new_names.difference(&old_names).map(|n| n.0.clone()).collect(),
            names_removed: old_names.difference(&new_names).map(|n| n.0.clone()).collect(),
        }
    }

    /// Whether the two sides hold the same RRsets.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The counts of what differs.
    pub fn summary(&self) -> DiffSummary {
        let mut s = DiffSummary {
            names_added: self.names_added.len() as u64,
            names_removed: self.names_removed.len() as u64,
            ..DiffSummary::default()
        };
        for change in &self.changes {
            let rtype = change.rrset().rtype;
            if is_key(rtype) {
                s.key_types_changed.insert(rtype.to_int());
            }
            if is_denial(rtype) {
                s.denial_rrsets_changed += 1;
                continue;
            }
            if rtype == Rtype::DS {
                s.ds_rrsets_changed += 1;
            }
            match change {
                RrsetChange::Added(_) => s.rrsets_added += 1,
                RrsetChange::Removed(_) => s.rrsets_removed += 1,
                RrsetChange::Changed { .. } => s.rrsets_changed += 1,
            }
        }
        s
    }

    /// Delegations (NS RRsets below `apex`) that appear and that
    /// disappear.
    pub fn delegation_counts(&self, apex: &StoredName) -> (u64, u64) {
        let below = |r: &Rrset| r.rtype == Rtype::NS && !r.owner.name_eq(apex);
        let added = self.changes.iter().filter(|c| matches!(c, RrsetChange::Added(r) if below(r))).count();
        let removed = self.changes.iter().filter(|c| matches!(c, RrsetChange::Removed(r) if below(r))).count();
        (added as u64, removed as u64)
    }

    /// The difference as `+`/`-` lines in zone file syntax
    /// (`-owner TTL IN TYPE RDATA`): first every RRset other than NSEC,
    /// NSEC3 and NSEC3PARAM, then those, each part in canonical order.
    /// Denial records come last because they change with every name added
    /// or removed and would otherwise bury the change a reviewer looks for.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        let content = self.changes.iter().filter(|c| !is_denial(c.rrset().rtype));
        let denial = self.changes.iter().filter(|c| is_denial(c.rrset().rtype));
        content.chain(denial).flat_map(change_lines)
    }

    /// How many lines [`ZoneDiff::lines`] yields, without rendering them.
    pub fn line_count(&self) -> u64 {
        self.changes
            .iter()
            .map(|c| match c {
                RrsetChange::Added(r) | RrsetChange::Removed(r) => r.rdata.len() as u64,
                RrsetChange::Changed { old, new } => {
                    let (gone, came) = record_changes(old, new);
                    (gone.len() + came.len()) as u64
                }
            })
            .sum()
    }
}

/// The records of a changed RRset that go and that come (see the module
/// documentation for the TTL rule).
fn record_changes<'a>(old: &'a Rrset, new: &'a Rrset) -> (Vec<&'a Rdata>, Vec<&'a Rdata>) {
    if old.ttl != new.ttl {
        return (old.rdata.iter().collect(), new.rdata.iter().collect());
    }
    let in_old: BTreeSet<&[u8]> = old.rdata.iter().map(|r| r.canonical.as_ref()).collect();
    let in_new: BTreeSet<&[u8]> = new.rdata.iter().map(|r| r.canonical.as_ref()).collect();
    (
        old.rdata.iter().filter(|r| !in_new.contains(r.canonical.as_ref())).collect(),
        new.rdata.iter().filter(|r| !in_old.contains(r.canonical.as_ref())).collect(),
    )
}

fn line(sign: char, rrset: &Rrset, rdata: &Rdata) -> String {
    format!(
        "{sign}{}\t{}\tIN\t{}\t{}",
        FqdnDisplay(&rrset.owner),
        rrset.ttl.as_secs(),
        rrset.rtype,
        rdata_text(&rdata.data)
    )
}

fn change_lines(change: &RrsetChange) -> Vec<String> {
    match change {
        RrsetChange::Added(r) => r.rdata.iter().map(|d| line('+', r, d)).collect(),
        RrsetChange::Removed(r) => r.rdata.iter().map(|d| line('-', r, d)).collect(),
        RrsetChange::Changed { old, new } => {
            let (gone, came) = record_changes(old, new);
            let minus = gone.into_iter().map(|d| line('-', old, d));
            minus.chain(came.into_iter().map(|d| line('+', new, d))).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::load_zone_text;
    use crate::zone::{InputKind, Zone};
    use std::str::FromStr;

    const BASE: &str = "\
@ 300 IN SOA ns hm 1 2 3 4 5
@ NS ns
@ DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=
ns A 192.0.2.1
www 300 A 192.0.2.10
www 300 A 192.0.2.11
old 300 TXT \"gone soon\"
";

    fn rrsets(text: &str) -> Vec<Rrset> {
        let apex = StoredName::from_str("example.").unwrap();
        let records = load_zone_text(text, std::path::Path::new("t"), &apex).unwrap();
        let zone = Zone::from_records(apex, records, InputKind::Signed).unwrap();
        zone.nodes().flat_map(|(_, n)| n.rrsets.values().cloned()).collect()
    }

    #[test]
    fn identical_content_has_no_difference() {
        let d = ZoneDiff::between(rrsets(BASE), rrsets(BASE));
        assert!(d.is_empty());
        assert!(d.summary().is_empty());
        assert_eq!(d.lines().count(), 0);
        // Owner case does not matter (RFC 4343).
        let upper = BASE.replace("www 300 A", "WWW 300 A");
        assert!(ZoneDiff::between(rrsets(BASE), rrsets(&upper)).is_empty());
    }

    #[test]
    fn added_removed_changed_and_names() {
        let new = BASE
            .replace("www 300 A 192.0.2.11", "www 300 A 192.0.2.12")
            .replace("old 300 TXT \"gone soon\"\n", "")
            .replace("ns A 192.0.2.1", "ns 600 A 192.0.2.1")
            + "mail 300 A 192.0.2.25\nwww 300 AAAA 2001:db8::1\n";
        let d = ZoneDiff::between(rrsets(BASE), rrsets(&new));
        let s = d.summary();
        assert_eq!((s.rrsets_added, s.rrsets_removed, s.rrsets_changed), (2, 1, 2));
        assert_eq!((s.names_added, s.names_removed), (1, 1));
        assert_eq!(s.denial_rrsets_changed, 0);
        assert!(s.key_types_changed.is_empty());
        assert_eq!(FqdnDisplay(&d.names_added[0]).to_string(), "mail.example.");
        assert_eq!(FqdnDisplay(&d.names_removed[0]).to_string(), "old.example.");
        let lines: Vec<String> = d.lines().collect();
        assert_eq!(lines.len() as u64, d.line_count());
        assert_eq!(
            lines,
            [
                "+mail.example.\t300\tIN\tA\t192.0.2.25",
                "-ns.example.\t300\tIN\tA\t192.0.2.1",
                "+ns.example.\t600\tIN\tA\t192.0.2.1",
                "-old.example.\t300\tIN\tTXT\t\"gone soon\"",
                "-www.example.\t300\tIN\tA\t192.0.2.11",
                "+www.example.\t300\tIN\tA\t192.0.2.12",
                "+www.example.\t300\tIN\tAAAA\t2001:db8::1",
            ]
        );
    }

    #[test]
    fn key_and_denial_rrsets_are_reported_apart() {
        let new = BASE.replace("l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=", "zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=")
            + "@ NSEC3PARAM 1 0 0 -\n@ CDS 1 15 2 0000000000000000000000000000000000000000000000000000000000000000\n"
            + "abc NSEC3 1 0 0 - 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A\n";
        let d = ZoneDiff::between(rrsets(BASE), rrsets(&new));
        let s = d.summary();
        assert_eq!(s.denial_rrsets_changed, 2);
        // The NSEC3 owner is not a name that appears.
        assert_eq!(s.names_added, 0);
        assert_eq!(s.rrsets_total(), 2);
        assert_eq!(s.key_types_changed, BTreeSet::from([Rtype::DNSKEY.to_int(), Rtype::CDS.to_int()]));
        let lines: Vec<String> = d.lines().collect();
        // Denial records come last.
        assert!(lines.last().unwrap().contains("NSEC3"), "{lines:?}");
        assert!(lines[..lines.len() - 2].iter().all(|l| !l.contains("NSEC3")), "{lines:?}");
    }

    #[test]
    fn everything_is_added_against_nothing() {
        let d = ZoneDiff::between(Vec::new(), rrsets(BASE));
        let s = d.summary();
        assert_eq!(s.rrsets_added, 6);
        assert_eq!(s.names_added, 4);
        assert!(d.lines().all(|l| l.starts_with('+')));
        assert_eq!(d.line_count(), 7);
        let back = ZoneDiff::between(rrsets(BASE), Vec::new()).summary();
        assert_eq!((back.rrsets_removed, back.names_removed), (6, 4));
    }
}
