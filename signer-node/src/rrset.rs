//! RRsets (RFC 2181 §5) as a proposal's items make them: parsed, one per
//! owner and type in canonical order (RFC 4034 §6.1), and in the stored
//! form that a request's content and a zone's baseline keep in sled. Plain
//! data and parsing, below both the proposal checks and the stores.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use frostzone_dnssec::rrset_diff::{key_order, same_content};
use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_dnssec::name::CanonicalName;
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::wire::{name_from_wire, rrset_from_wire};
use frostzone_dnssec::zone::Rrset;
use frostzone_proto::v1::SigningItem;
use prost::Message;
use frostzone_threshold::parallel::collect_indexed;

/// One stored RRset: its wire parts, as the items carried them
/// (canonical RDATA, RFC 4034 §6.2).
#[derive(Clone, PartialEq, Message)]
pub struct StoredRrset {
    /// Owner name, uncompressed wire format.
    #[prost(bytes = "vec", tag = "1")]
    pub owner: Vec<u8>,
    /// Type.
    #[prost(uint32, tag = "2")]
    pub rtype: u32,
    /// TTL.
    #[prost(uint32, tag = "3")]
    pub ttl: u32,
    /// Each record's canonical RDATA, in canonical order.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub rdata: Vec<Vec<u8>>,
}

/// An RRset by owner and type (an incremental request's removals).
#[derive(Clone, PartialEq, Message)]
pub struct StoredRrsetRef {
    /// Owner name, uncompressed wire format.
    #[prost(bytes = "vec", tag = "1")]
    pub owner: Vec<u8>,
    /// Type.
    #[prost(uint32, tag = "2")]
    pub rtype: u32,
}

/// "www.example.com. A", for messages about an item.
pub fn describe_item(item: &SigningItem) -> String {
    let owner = match name_from_wire(&item.owner, "owner") {
        Ok(name) => FqdnDisplay(&name).to_string(),
        Err(_) => "(malformed owner)".into(),
    };
    match u16::try_from(item.rtype) {
        Ok(t) => format!("{owner} {}", Rtype::from_int(t)),
        Err(_) => format!("{owner} type {}", item.rtype),
    }
}

/// The RRsets the items make, one per owner and type, keyed in canonical
/// order, with the index of the first item of each (an increment's puts,
/// looked up by key).
pub(crate) type ParsedRrsets = BTreeMap<(CanonicalName, u16), (usize, Rrset)>;

/// The RRsets the items make, one per owner and type in canonical order
/// of owner, then type, with the index of the first item of each: a whole
/// proposal, held as a plain list rather than a map (a zone of a million
/// delegations is some 2.3 million of them).
pub(crate) type SortedRrsets = Vec<(usize, Rrset)>;

/// Parses the items into [`SortedRrsets`]; or names the first item, in
/// item order, that does not parse, lies outside the zone `apex`, or
/// carries other content than an earlier item for the same RRset.
pub(crate) fn parse_rrsets(items: &[SigningItem], apex: &frostzone_dnssec::StoredName) -> Result<SortedRrsets, String> {
    let parsed: Vec<Result<(usize, Rrset), String>> = collect_indexed(items, |i, item| {
        let rrset = rrset_from_wire(&item.owner, item.rtype, item.ttl, &item.rdata)
            .map_err(|e| format!("item {i} ({}): {e}", describe_item(item)))?;
        // Items signed by keys this signer does not hold, and context
        // items, are not checked against its policy, but they still
        // become its baseline: keep them inside the zone (RFC 4034 §3.1.7,
        // the signer's name is the zone of the covered RRset).
        if !frostzone_dnssec::name::in_zone(&rrset.owner, apex) {
            return Err(format!("item {i} ({}) is outside the zone {}", describe_item(item), FqdnDisplay(apex)));
        }
        Ok((i, rrset))
    });
    // The items before the first that failed; moved in place, not copied.
    let mut failed = None;
    let mut rrsets: SortedRrsets = parsed
        .into_iter()
        .map_while(|r| r.map_err(|e| failed = Some(e)).ok())
        .collect();
    if !rrsets.is_sorted_by(|(_, a), (_, b)| key_order(a, b) == Ordering::Less) {
        // Stable: of one RRset's items, the first stays first.
        rrsets.sort_by(|(_, a), (_, b)| key_order(a, b));
    }
    // The same RRset signed by two keys (KSK and ZSK over DNSKEY): one
    // RRset, as long as both items carry the same content. Of the items
    // that contradict an earlier one, the first is named.
    let mut contradiction: Option<(usize, usize)> = None;
    let mut group = 0;
    for (k, (j, rrset)) in rrsets.iter().enumerate() {
        let (first, seen) = &rrsets[group];
        if key_order(seen, rrset) != Ordering::Equal {
            group = k;
        } else if !same_content(seen, rrset) && contradiction.is_none_or(|(later, _)| *j < later) {
            contradiction = Some((*j, *first));
        }
    }
    if let Some((later, first)) = contradiction {
        return Err(format!(
            "item {later} ({}) carries other records or another TTL than item {first} for the same RRset",
            describe_item(&items[later])
        ));
    }
    if let Some(reason) = failed {
        return Err(reason);
    }
    rrsets.dedup_by(|later, earlier| key_order(&later.1, &earlier.1) == Ordering::Equal);
    Ok(rrsets)
}

/// The same RRsets by key, for an increment's lookups.
pub(crate) fn by_key(rrsets: SortedRrsets) -> ParsedRrsets {
    rrsets.into_iter().map(|(i, r)| ((CanonicalName(r.owner.clone()), r.rtype.to_int()), (i, r))).collect()
}

/// The RRsets of `rrsets` in their order, moved out one by one, the
/// vector's room given back as it empties: a whole proposal's parsed
/// RRsets moving into a zone are not held twice at the end of the move.
pub(crate) fn drain_in_order<T>(mut rrsets: Vec<T>) -> impl Iterator<Item = T> {
    rrsets.reverse();
    std::iter::from_fn(move || {
        let next = rrsets.pop();
        if rrsets.capacity() > 4096 && rrsets.len() < rrsets.capacity() / 2 {
            rrsets.shrink_to_fit();
        }
        next
    })
}

/// The stored form of the parsed RRsets, as the items at `first_items`
/// carry them, made one at a time (to be encoded as they come,
/// [`crate::request_store::RrsetChunks`]).
pub(crate) fn stored_rrsets<'a>(
    items: &'a [SigningItem],
    first_items: impl Iterator<Item = usize> + 'a,
) -> impl Iterator<Item = StoredRrset> + 'a {
    first_items.map(|i| {
        let item = &items[i];
        StoredRrset { owner: item.owner.to_vec(), rtype: item.rtype, ttl: item.ttl, rdata: item.rdata.iter().map(|r| r.to_vec()).collect() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drained_in_order_whole_or_in_part() {
        let drained: Vec<u32> = drain_in_order((0..10_000).collect()).collect();
        assert_eq!(drained, (0..10_000).collect::<Vec<_>>());
        let mut rest = drain_in_order((0..10_000u32).collect());
        assert_eq!(rest.nth(7_999), Some(7_999));
        assert_eq!(rest.collect::<Vec<_>>(), (8_000..10_000).collect::<Vec<_>>());
    }

    #[test]
    fn items_are_described_by_owner_and_type() {
        let item = SigningItem { owner: b"\x03www\x07example\x00".to_vec().into(), rtype: 1, ..SigningItem::default() };
        assert_eq!(describe_item(&item), "www.example. A");
    }

    fn a(owner: &str, ttl: u32, last: u8) -> SigningItem {
        let name: frostzone_dnssec::StoredName = owner.parse().unwrap();
        SigningItem {
            owner: frostzone_dnssec::wire::name_octets(&name),
            rtype: 1,
            ttl,
            rdata: vec![vec![192, 0, 2, last].into()],
            ..SigningItem::default()
        }
    }

    fn described(rrsets: &SortedRrsets) -> Vec<(usize, String)> {
        rrsets.iter().map(|(i, r)| (*i, format!("{} {}", FqdnDisplay(&r.owner), r.ttl.as_secs()))).collect()
    }

    #[test]
    fn rrsets_come_sorted_once_each_with_their_first_item() {
        let apex: frostzone_dnssec::StoredName = "example.".parse().unwrap();
        // Out of order, in mixed case, and one RRset carried twice (as the
        // KSK's and the ZSK's items over the DNSKEY RRset are).
        let items = [a("www.example.", 300, 1), a("B.example.", 300, 2), a("a.example.", 300, 3), a("b.example.", 300, 2)];
        let rrsets = parse_rrsets(&items, &apex).unwrap();
        assert_eq!(described(&rrsets), [(2, "a.example. 300".into()), (1, "B.example. 300".into()), (0, "www.example. 300".into())]);
        assert_eq!(by_key(rrsets).len(), 3);
    }

    #[test]
    fn the_first_bad_item_in_item_order_is_named() {
        let apex: frostzone_dnssec::StoredName = "example.".parse().unwrap();
        // Item 3 contradicts item 1 and item 4 item 0; item 5 is outside.
        let mut items = vec![
            a("z.example.", 300, 1),
            a("b.example.", 300, 2),
            a("c.example.", 300, 3),
            a("b.example.", 600, 2),
            a("z.example.", 300, 9),
            a("www.example.net.", 300, 1),
        ];
        let refused = parse_rrsets(&items, &apex).unwrap_err();
        assert_eq!(refused, "item 3 (b.example. A) carries other records or another TTL than item 1 for the same RRset");
        // A failure before the first contradiction is named instead.
        items.swap(2, 5);
        assert_eq!(parse_rrsets(&items, &apex).unwrap_err(), "item 2 (www.example.net. A) is outside the zone example.");
        items[2].rdata = vec![vec![1, 2].into()];
        assert!(parse_rrsets(&items, &apex).unwrap_err().starts_with("item 2 (www.example.net. A): "));
        // Without the contradictions, the failure after them is named.
        items.swap(2, 5);
        items[3].ttl = 300;
        items[4].rdata = vec![vec![192, 0, 2, 1].into()];
        assert!(parse_rrsets(&items, &apex).unwrap_err().starts_with("item 5 (www.example.net. A): "));
    }
}
