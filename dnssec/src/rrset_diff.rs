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

use std::cmp::Ordering;
use std::collections::BTreeSet;

use domain::base::iana::Rtype;
use domain::base::ToName;

use crate::name::canonical_cmp;
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

/// How one RRset differs.
#[derive(Clone, Debug)]
pub enum RrsetChange {
    /// Present only in the new content.
    Added(Rrset),
    /// Present only in the old content.
    Removed(Rrset),
    /// Present in both, with another TTL or other RDATA.
    Changed {
        /// As it was (boxed: a whole version's diff is mostly additions,
        /// each as large as the largest kind of change).
        old: Box<Rrset>,
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

/// Whether two RRsets of the same owner and type hold the same content:
/// the same TTL and the same records (canonical RDATA, RFC 4034 §6.2, in
/// the canonical order [`Rrset::new`] keeps).
pub fn same_content(a: &Rrset, b: &Rrset) -> bool {
    a.ttl == b.ttl
        && a.rdata.len() == b.rdata.len()
        && a.rdata.iter().zip(&b.rdata).all(|(x, y)| x.canonical == y.canonical)
}

/// The order of RRset identities: canonical owner (RFC 4034 §6.1), then
/// type number.
pub fn key_order(a: &Rrset, b: &Rrset) -> Ordering {
    canonical_cmp(a.owner.as_slice(), b.owner.as_slice()).then_with(|| a.rtype.to_int().cmp(&b.rtype.to_int()))
}

/// `rrsets` in [`key_order`], one per owner and type (the last of a
/// repeat). Already ordered input, as a [`crate::zone::Zone`] or a store
/// yields it, is only checked; the RRsets are moved, never copied.
fn in_key_order(rrsets: impl IntoIterator<Item = Rrset>) -> Vec<Rrset> {
    let mut rrsets: Vec<Rrset> = rrsets.into_iter().collect();
    if !rrsets.is_sorted_by(|a, b| key_order(a, b) == Ordering::Less) {
        // Stable: of a repeat, the last stays last.
        rrsets.sort_by(key_order);
        rrsets.dedup_by(|later, earlier| {
            let repeat = key_order(later, earlier) == Ordering::Equal;
            if repeat {
                std::mem::swap(later, earlier);
            }
            repeat
        });
    }
    rrsets
}

/// The RRsets found out of order by [`ZoneDiff::between_ordered`].
#[derive(Debug, thiserror::Error)]
#[error("RRsets out of canonical order: {before} came before {after}")]
pub struct OutOfOrder {
    /// The RRset read first, as `owner TYPE`.
    pub before: String,
    /// The one read after it.
    pub after: String,
}

impl OutOfOrder {
    fn after(owner: &[u8], rtype: u16, rrset: &Rrset) -> OutOfOrder {
        let before = match crate::wire::name_from_wire(owner, "owner") {
            Ok(name) => format!("{} {}", FqdnDisplay(&name), Rtype::from_int(rtype)),
            Err(_) => format!("type {rtype}"),
        };
        OutOfOrder { before, after: format!("{} {}", FqdnDisplay(&rrset.owner), rrset.rtype) }
    }
}

/// A diff built in one pass over both sides in [`key_order`]: no index of
/// either side, no copy of an RRset.
#[derive(Default)]
struct Merge {
    diff: ZoneDiff,
    /// The owner being read (uncompressed wire form), if any.
    owner: Option<Vec<u8>>,
    /// Whether it owns a non-denial RRset on the old side, on the new one.
    content: (bool, bool),
    /// Where its first change is in `diff.changes`.
    first_change: usize,
}

impl Merge {
    /// Moves on to `rrset`'s owner when it is another name, closing the
    /// one before.
    fn at(&mut self, rrset: &Rrset) {
        let owner = rrset.owner.as_slice();
        if let Some(current) = &mut self.owner {
            if canonical_cmp(current, owner) == Ordering::Equal {
                return;
            }
        }
        self.close();
        let mut current = self.owner.take().unwrap_or_default();
        current.clear();
        current.extend_from_slice(owner);
        self.owner = Some(current);
        self.content = (false, false);
        self.first_change = self.diff.changes.len();
    }

    /// A name with content on one side only appeared or went: its name is
    /// that of one of its changes (every content RRset of it changed).
    fn close(&mut self) {
        let changes = &self.diff.changes[self.first_change..];
        let name = |added: bool| {
            changes.iter().find_map(|c| match c {
                RrsetChange::Added(r) if added => Some(r.owner.clone()),
                RrsetChange::Removed(r) if !added => Some(r.owner.clone()),
                _ => None,
            })
        };
        match self.content {
            (false, true) => self.diff.names_added.extend(name(true)),
            (true, false) => self.diff.names_removed.extend(name(false)),
            _ => {}
        }
        self.content = (false, false);
    }

    fn old_only(&mut self, rrset: Rrset) {
        self.at(&rrset);
        self.content.0 |= !is_denial(rrset.rtype);
        self.diff.changes.push(RrsetChange::Removed(rrset));
    }

    fn new_only(&mut self, rrset: Rrset) {
        self.at(&rrset);
        self.content.1 |= !is_denial(rrset.rtype);
        self.diff.changes.push(RrsetChange::Added(rrset));
    }

    fn both(&mut self, old: Rrset, new: Rrset) {
        self.at(&new);
        let content = !is_denial(new.rtype);
        self.content.0 |= content;
        self.content.1 |= content;
        if !same_content(&old, &new) {
            self.diff.changes.push(RrsetChange::Changed { old: Box::new(old), new });
        }
    }

    fn finish(mut self) -> ZoneDiff {
        self.close();
        self.diff
    }
}

/// One side of [`ZoneDiff::between_ordered`]: its next RRset, checked to
/// come strictly after the one before (whose owner and type are kept).
struct Ordered<I> {
    rrsets: I,
    next: Option<Rrset>,
    last: Option<(Vec<u8>, u16)>,
}

impl<E: From<OutOfOrder>, I: Iterator<Item = Result<Rrset, E>>> Ordered<I> {
    fn new(rrsets: I) -> Self {
        Ordered { rrsets, next: None, last: None }
    }

    fn peek(&mut self) -> Result<Option<&Rrset>, E> {
        if self.next.is_none() {
            if let Some(rrset) = self.rrsets.next().transpose()? {
                if let Some((owner, rtype)) = &self.last {
                    let order = canonical_cmp(owner, rrset.owner.as_slice()).then_with(|| rtype.cmp(&rrset.rtype.to_int()));
                    if order != Ordering::Less {
                        return Err(OutOfOrder::after(owner, *rtype, &rrset).into());
                    }
                }
                self.next = Some(rrset);
            }
        }
        Ok(self.next.as_ref())
    }

    /// The RRset [`Ordered::peek`] just showed.
    fn take(&mut self) -> Rrset {
        let Some(rrset) = self.next.take() else { unreachable!("taken only after a peek showed it") };
        let mut owner = self.last.take().map(|(owner, _)| owner).unwrap_or_default();
        owner.clear();
        owner.extend_from_slice(rrset.owner.as_slice());
        self.last = Some((owner, rrset.rtype.to_int()));
        rrset
    }
}

impl ZoneDiff {
    /// Compares `old` with `new`. Each side should hold an RRset at most
    /// once per owner and type; should one repeat, the last one counts.
    /// RRsets are expected in canonical RDATA order ([`Rrset::new`]).
    pub fn between(
        old: impl IntoIterator<Item = Rrset>,
        new: impl IntoIterator<Item = Rrset>,
    ) -> ZoneDiff {
        let old = in_key_order(old).into_iter().map(Ok::<Rrset, OutOfOrder>);
        let merged = ZoneDiff::between_ordered(old, in_key_order(new));
        // Both sides were just put in order, each RRset once.
        merged.unwrap_or_else(|_| unreachable!("ordered above"))
    }

    /// Compares `old` with `new`, each yielding its RRsets in canonical
    /// order of owner, then type, each at most once (as a
    /// [`crate::zone::Zone`] or a store keyed by canonical owner holds
    /// them), in one pass: neither side is held whole, so `old` can be
    /// read from a store as the comparison goes. An RRset out of that
    /// order, or repeated, ends it with [`OutOfOrder`]; an error reading
    /// `old` ends it with that error.
    pub fn between_ordered<E: From<OutOfOrder>>(
        old: impl IntoIterator<Item = Result<Rrset, E>>,
        new: impl IntoIterator<Item = Rrset>,
    ) -> Result<ZoneDiff, E> {
        let mut old = Ordered::new(old.into_iter());
        let mut new = Ordered::new(new.into_iter().map(Ok));
        let mut merge = Merge::default();
        loop {
            let order = match (old.peek()?, new.peek()?) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(o), Some(n)) => key_order(o, n),
            };
            match order {
                Ordering::Less => merge.old_only(old.take()),
                Ordering::Greater => merge.new_only(new.take()),
                Ordering::Equal => merge.both(old.take(), new.take()),
            }
        }
        Ok(merge.finish())
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
        rdata_text(&rdata.data())
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

    /// The diff as the earlier indexed implementation made it: both sides
    /// in maps by canonical owner and type, the last of a repeat counting.
    fn indexed(old: Vec<Rrset>, new: Vec<Rrset>) -> (Vec<String>, Vec<String>, Vec<String>) {
        use crate::name::CanonicalName;
        use std::collections::BTreeMap;
        let index = |v: Vec<Rrset>| -> BTreeMap<(CanonicalName, u16), Rrset> {
            v.into_iter().map(|r| ((CanonicalName(r.owner.clone()), r.rtype.to_int()), r)).collect()
        };
        let names = |m: &BTreeMap<(CanonicalName, u16), Rrset>| -> BTreeSet<CanonicalName> {
            m.iter().filter(|((_, t), _)| !is_denial(Rtype::from_int(*t))).map(|((n, _), _)| n.clone()).collect()
        };
        let (mut old, new) = (index(old), index(new));
        let (old_names, new_names) = (names(&old), names(&new));
        let mut changes = BTreeMap::new();
        for (key, rrset) in new {
            match old.remove(&key) {
                None => drop(changes.insert(key, format!("+{}", describe(&rrset)))),
                Some(before) if same_content(&before, &rrset) => {}
                Some(before) => drop(changes.insert(key, format!("~{}>{}", describe(&before), describe(&rrset)))),
            }
        }
        for (key, rrset) in old {
            changes.insert(key, format!("-{}", describe(&rrset)));
        }
        let shown = |n: &CanonicalName| FqdnDisplay(&n.0).to_string().to_lowercase();
        (
            changes.into_values().collect(),
            new_names.difference(&old_names).map(shown).collect(),
            old_names.difference(&new_names).map(shown).collect(),
        )
    }

    fn describe(r: &Rrset) -> String {
        let data: Vec<String> = r.rdata.iter().map(|d| rdata_text(&d.data())).collect();
        format!("{} {} {} {}", FqdnDisplay(&r.owner).to_string().to_lowercase(), r.ttl.as_secs(), r.rtype, data.join(","))
    }

    fn merged(d: &ZoneDiff) -> (Vec<String>, Vec<String>, Vec<String>) {
        let changes = d
            .changes
            .iter()
            .map(|c| match c {
                RrsetChange::Added(r) => format!("+{}", describe(r)),
                RrsetChange::Removed(r) => format!("-{}", describe(r)),
                RrsetChange::Changed { old, new } => format!("~{}>{}", describe(old), describe(new)),
            })
            .collect();
        let shown = |n: &StoredName| FqdnDisplay(n).to_string().to_lowercase();
        (changes, d.names_added.iter().map(shown).collect(), d.names_removed.iter().map(shown).collect())
    }

    /// A random side: RRsets from a few names (in mixed case, some with
    /// only denial records) and types, in any order, repeats included.
    fn random_side(rng: &mut impl rand::Rng) -> Vec<Rrset> {
        let names = ["@", "a", "A", "b.a", "c", "x.c", "Z", "n3", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"];
        let head = "@ 300 IN SOA ns hm 1 2 3 4 5\n@ 300 NS ns\n";
        let mut out = Vec::new();
        for _ in 0..rng.gen_range(0..12) {
            let name = names[rng.gen_range(0..names.len())];
            let ttl = [300, 600][rng.gen_range(0..2)];
            let line = match rng.gen_range(0..5) {
                0 => format!("{name} {ttl} A 192.0.2.{}\n", rng.gen_range(1..4)),
                1 => format!("{name} {ttl} TXT \"t{}\"\n", rng.gen_range(0..2)),
                2 => format!("{name} {ttl} NSEC a.example. A RRSIG NSEC{}\n", if rng.gen_bool(0.5) { " TXT" } else { "" }),
                3 => format!("{name} {ttl} AAAA 2001:db8::{}\n", rng.gen_range(1..3)),
                _ => format!("{name} {ttl} MX 10 mx{}\n", rng.gen_range(0..2)),
            };
            // Each line its own zone, so a name may come back with another
            // TTL or records, as a repeat.
            let rrsets = rrsets(&format!("{head}{line}"));
            out.extend(rrsets.into_iter().filter(|r| r.rtype != Rtype::SOA && r.rtype != Rtype::NS));
        }
        use rand::seq::SliceRandom;
        out.shuffle(rng);
        out
    }

    #[test]
    fn one_pass_diff_matches_the_indexed_one() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(5155);
        for _ in 0..300 {
            let (old, new) = (random_side(&mut rng), random_side(&mut rng));
            let expected = indexed(old.clone(), new.clone());
            assert_eq!(merged(&ZoneDiff::between(old, new)), expected);
        }
    }

    #[test]
    fn an_ordered_diff_refuses_rrsets_out_of_order() {
        let mut base = rrsets(BASE);
        let ordered = || rrsets(BASE).into_iter().map(Ok::<_, OutOfOrder>);
        let d = ZoneDiff::between_ordered(ordered(), rrsets(BASE)).unwrap();
        assert!(d.is_empty());
        // A repeat, and a swap, on either side.
        let repeated: Vec<Rrset> = base.iter().cloned().chain(base.last().cloned()).collect();
        let err = ZoneDiff::between_ordered(ordered(), repeated).unwrap_err();
        assert_eq!(err.to_string(), "RRsets out of canonical order: www.example. A came before www.example. A");
        base.swap(0, 1);
        let err = ZoneDiff::between_ordered(base.into_iter().map(Ok::<_, OutOfOrder>), rrsets(BASE)).unwrap_err();
        assert!(err.to_string().contains("example. SOA came before example. NS"), "{err}");
    }
}
