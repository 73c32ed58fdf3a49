//! Domain names in canonical order (RFC 4034 §6.1).

use std::cmp::Ordering;
use std::fmt;


use crate::StoredName;

/// A domain name ordered as RFC 4034 §6.1 "Canonical DNS Name Order"
/// requires: label by label from the right, each label compared as a
/// lowercase octet string.
///
/// Equality is case-insensitive, as DNS name equality is.
#[derive(Clone)]
pub struct CanonicalName(pub StoredName);

impl CanonicalName {
    /// The name this orders.
    pub fn name(&self) -> &StoredName {
        &self.0
    }
}

impl From<StoredName> for CanonicalName {
    fn from(name: StoredName) -> Self {
        CanonicalName(name)
    }
}

impl Ord for CanonicalName {
    fn cmp(&self, other: &Self) -> Ordering {
        canonical_cmp(self.0.as_slice(), other.0.as_slice())
    }
}

/// Where each label of an uncompressed wire-format name starts (root
/// label excluded): at most 127 labels fit in 255 octets (RFC 1035 §2.3.4).
fn label_starts(wire: &[u8], starts: &mut [u8; 128]) -> usize {
    let (mut at, mut n) = (0usize, 0usize);
    while let Some(&len) = wire.get(at) {
        if len == 0 || n == starts.len() {
            break;
        }
        starts[n] = at as u8;
        n += 1;
        at += 1 + usize::from(len);
    }
    n
}

/// The label starting at `start` (a position [`label_starts`] found).
fn label_at(wire: &[u8], start: u8) -> &[u8] {
    let at = usize::from(start) + 1;
    let len = usize::from(wire.get(at - 1).copied().unwrap_or(0));
    wire.get(at..at + len).unwrap_or_default()
}

/// RFC 4034 §6.1 on wire-format names: labels compared from the right,
/// each as a lowercased octet string (a shorter label that is a prefix
/// sorts first), and a name that runs out of labels first sorts first.
/// Zone-sized maps compare names millions of times: this walks the octets
/// once instead of re-scanning the name for every label from the right.
fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut sa, mut sb) = ([0u8; 128], [0u8; 128]);
    let (na, nb) = (label_starts(a, &mut sa), label_starts(b, &mut sb));
    for (&ia, &ib) in sa[..na].iter().rev().zip(sb[..nb].iter().rev()) {
        let (la, lb) = (label_at(a, ia), label_at(b, ib));
        let ordering = la
            .iter()
            .map(u8::to_ascii_lowercase)
            .cmp(lb.iter().map(u8::to_ascii_lowercase));
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    na.cmp(&nb)
}

impl PartialOrd for CanonicalName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for CanonicalName {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for CanonicalName {}

impl std::hash::Hash for CanonicalName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Names equal case-insensitively must hash alike.
        for label in self.0.iter() {
            state.write_usize(label.len());
            for b in label.as_slice() {
                state.write_u8(b.to_ascii_lowercase());
            }
        }
    }
}

impl fmt::Display for CanonicalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::present::FqdnDisplay(&self.0))
    }
}

impl fmt::Debug for CanonicalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Whether `name` is `apex` or below it.
pub fn in_zone(name: &StoredName, apex: &StoredName) -> bool {
    name.ends_with(apex)
}

/// The names strictly between `name` and `apex`, nearest to the apex first.
///
/// These are the candidates for empty non-terminals (RFC 5155 §7.1).
pub fn ancestors_below(name: &StoredName, apex: &StoredName) -> Vec<StoredName> {
    let apex_labels = apex.label_count();
    let mut out: Vec<StoredName> = name
        .iter_suffixes()
        .skip(1)
        .filter(|s| s.label_count() > apex_labels)
        .collect();
    out.reverse();
    out
}

/// Whether the leftmost label of `name` is the wildcard label `*`
/// (RFC 4592 §2.1.1).
pub fn is_wildcard(name: &StoredName) -> bool {
    name.first().is_wildcard()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    /// The RFC 4034 §6.1 order written out the slow, obvious way: reverse
    /// the labels, lowercase them, compare the label sequences.
    fn model_cmp(a: &StoredName, b: &StoredName) -> Ordering {
        let labels = |n: &StoredName| -> Vec<Vec<u8>> {
            let mut v: Vec<Vec<u8>> = n
                .iter()
                .map(|l| l.as_slice().to_ascii_lowercase())
                .collect();
            v.reverse();
            v
        };
        labels(a).cmp(&labels(b))
    }

    fn arb_label() -> impl Strategy<Value = Vec<u8>> {
        // Mixed case letters, digits, and bytes that need escaping.
        prop::collection::vec(
            prop_oneof![
                Just(b'a'),
                Just(b'Z'),
                Just(b'z'),
                Just(b'A'),
                Just(b'0'),
                Just(b'-'),
                Just(b'*'),
                Just(0u8),
                Just(b'.'),
                Just(0xffu8),
                any::<u8>()
            ],
            1..6,
        )
    }

    fn arb_name() -> impl Strategy<Value = StoredName> {
        prop::collection::vec(arb_label(), 0..5).prop_map(|labels| {
            let mut wire = Vec::new();
            for l in &labels {
                wire.push(l.len() as u8);
                wire.extend_from_slice(l);
            }
            wire.push(0);
            StoredName::from_octets(bytes::Bytes::from(wire)).unwrap()
        })
    }

    proptest! {
        #[test]
        fn canonical_order_matches_rfc4034_model(a in arb_name(), b in arb_name()) {
            let ours = CanonicalName(a.clone()).cmp(&CanonicalName(b.clone()));
            prop_assert_eq!(ours, model_cmp(&a, &b));
        }

        #[test]
        fn canonical_order_is_antisymmetric_and_case_blind(a in arb_name(), b in arb_name()) {
            let ab = CanonicalName(a.clone()).cmp(&CanonicalName(b.clone()));
            let ba = CanonicalName(b.clone()).cmp(&CanonicalName(a.clone()));
            prop_assert_eq!(ab, ba.reverse());
            let upper: Vec<u8> = a.as_slice().to_ascii_uppercase();
            let a_upper = StoredName::from_octets(bytes::Bytes::from(upper)).unwrap();
            prop_assert_eq!(CanonicalName(a_upper).cmp(&CanonicalName(a)), Ordering::Equal);
        }
    }

    #[test]
    fn rfc4034_section_6_1_example_order() {
        // The example list of RFC 4034 §6.1, in its stated order.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let parsed: Vec<CanonicalName> = names
            .iter()
            .map(|n| CanonicalName(StoredName::from_str(n).unwrap()))
            .collect();
        for w in parsed.windows(2) {
            assert!(w[0] < w[1], "{} should sort before {}", w[0], w[1]);
        }
    }

    #[test]
    fn ancestors_between_name_and_apex() {
        let apex = StoredName::from_str("example.").unwrap();
        let n = StoredName::from_str("a.b.c.example.").unwrap();
        let got: Vec<String> = ancestors_below(&n, &apex)
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(got, vec!["c.example", "b.c.example"]);
    }
}
