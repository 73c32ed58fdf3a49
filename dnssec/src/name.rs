//! Domain names in canonical order (RFC 4034 §6.1).

use std::cmp::Ordering;
use std::fmt::{self, Write as _};

use crate::StoredName;

/// Displays a name fully qualified, with its trailing dot.
pub struct FqdnDisplay<'a>(pub &'a StoredName);

impl fmt::Display for FqdnDisplay<'_> {
    /// RFC 1035 §5.1 escaping: `\X` for characters with a meaning in
    /// master files, `\DDD` for anything not printable. `domain`'s own
    /// display leaves `@`, `$`, `(`, `)`, `;` and `"` bare, which other
    /// tools then misread.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_root() {
            return f.write_str(".");
        }
        for label in self.0.iter() {
            if label.is_root() {
                break;
            }
            for &b in label.as_slice() {
                match b {
                    b'.' | b'\\' | b'@' | b'$' | b'(' | b')' | b';' | b'"' => write!(f, "\\{}", b as char)?,
                    0x21..=0x7e => f.write_char(b as char)?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_char('.')?;
        }
        Ok(())
    }
}

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
pub(crate) fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
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
        write!(f, "{}", crate::name::FqdnDisplay(&self.0))
    }
}

impl fmt::Debug for CanonicalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A name's key in an ordered store: byte order of keys is RFC 4034 §6.1
/// "Canonical DNS Name Order", so a store sorted by octets (sled, for the
/// signer's baseline) walks names as denial chains do.
///
/// The encoding: the labels from the root-most to the leaf-most, each
/// lowercased (ASCII letters only, RFC 4034 §6.2) and followed by a 0x00
/// terminator; every octet of a label is escaped so that no encoded octet
/// is 0x00 or 0xff and octet order is kept: 0x02..=0xfd stand for
/// themselves, 0x00 becomes 0x01 0x01, 0x01 becomes 0x01 0x02, 0xfe
/// becomes 0xfe 0x01 and 0xff becomes 0xfe 0x02. The root is the empty
/// key.
///
/// Why order is kept: the escapes form a prefix-free code whose order is
/// the octets' order, so two labels compare as their encodings do; where
/// one label is a prefix of the other, the shorter one's terminator 0x00
/// sorts below any octet of the longer one's code, as RFC 4034 §6.1 sorts
/// the shorter label first. Labels are compared from the root, and a name
/// that runs out of labels first is a prefix of the other's key.
///
/// What a store can rely on:
///
/// * `canonical_key(n)` is a prefix of the key of every descendant of `n`,
///   so `n`'s subtree is one key range;
/// * a descendant's key continues after that prefix with an octet of at
///   least 0x01, so `canonical_key(n) ‖ 0x00 ‖ type` keys `n`'s own RRsets
///   right after `n` and before all its descendants, and is never the key
///   of a name;
/// * no key contains 0xff, so entries of another kind can live under a
///   first octet 0xff, after every name.
pub fn canonical_key(name: &StoredName) -> Vec<u8> {
    let wire = name.as_slice();
    let mut starts = [0u8; 128];
    let count = label_starts(wire, &mut starts);
    let mut key = Vec::with_capacity(wire.len() + 8);
    for &start in starts[..count].iter().rev() {
        for &octet in label_at(wire, start) {
            match octet.to_ascii_lowercase() {
                0x00 => key.extend_from_slice(&[0x01, 0x01]),
                0x01 => key.extend_from_slice(&[0x01, 0x02]),
                0xfe => key.extend_from_slice(&[0xfe, 0x01]),
                0xff => key.extend_from_slice(&[0xfe, 0x02]),
                other => key.push(other),
            }
        }
        key.push(0x00);
    }
    key
}

/// The name a [`canonical_key`] stands for (lowercased, as the key is);
/// `None` for octets no name encodes to.
pub fn name_from_canonical_key(key: &[u8]) -> Option<StoredName> {
    let mut labels: Vec<Vec<u8>> = Vec::new();
    let mut label = Vec::new();
    let mut octets = key.iter();
    while let Some(&octet) = octets.next() {
        match octet {
            0x00 if label.is_empty() || label.len() > 63 => return None,
            0x00 => labels.push(std::mem::take(&mut label)),
            0x01 | 0xfe => {
                let low = octet == 0x01;
                match (octets.next(), low) {
                    (Some(0x01), true) => label.push(0x00),
                    (Some(0x02), true) => label.push(0x01),
                    (Some(0x01), false) => label.push(0xfe),
                    (Some(0x02), false) => label.push(0xff),
                    _ => return None,
                }
            }
            0xff | b'A'..=b'Z' => return None,
            other => label.push(other),
        }
    }
    if !label.is_empty() {
        return None;
    }
    let mut wire = Vec::with_capacity(key.len() + 1);
    for label in labels.iter().rev() {
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
    }
    wire.push(0);
    StoredName::from_octets(bytes::Bytes::from(wire)).ok()
}

/// A zone's name: its apex, and the one spelling every party uses for it
/// (lowercase, fully qualified: `example.com.`). DNS names compare without
/// regard to ASCII case (RFC 4343), and the signers sign the lowercase
/// form (RFC 4034 §6.2), so the coordinator's registry, the signers'
/// policies and the CLI all key zones by this text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZoneName {
    text: String,
    apex: StoredName,
}

/// A zone name that is not a domain name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidZoneName(String);

impl From<InvalidZoneName> for String {
    fn from(e: InvalidZoneName) -> String {
        e.0
    }
}

impl ZoneName {
    /// Parses `text` (absolute or not, any case, surrounding blanks
    /// ignored).
    pub fn parse(text: &str) -> Result<ZoneName, InvalidZoneName> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(InvalidZoneName("empty zone name".into()));
        }
        let absolute = if trimmed.ends_with('.') { trimmed.to_string() } else { format!("{trimmed}.") };
        let invalid = |e: domain::base::name::FromStrError| InvalidZoneName(format!("zone {text:?} is not a domain name: {e}"));
        let name: StoredName = absolute.parse().map_err(invalid)?;
        let text = FqdnDisplay(&name).to_string().to_ascii_lowercase();
        let apex = text.parse().map_err(invalid)?;
        Ok(ZoneName { text, apex })
    }

    /// The apex.
    pub fn apex(&self) -> &StoredName {
        &self.apex
    }

    /// The spelling every party uses.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The apex, owned.
    pub fn into_apex(self) -> StoredName {
        self.apex
    }

    /// The spelling, owned.
    pub fn into_text(self) -> String {
        self.text
    }
}

impl fmt::Display for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
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
mod normalize_tests {
    use super::*;

    #[test]
    fn zone_names_normalize_one_way() {
        assert_eq!(ZoneName::parse("Example.COM").unwrap().as_str(), "example.com.");
        assert_eq!(ZoneName::parse(" example.com. ").unwrap().as_str(), "example.com.");
        assert_eq!(ZoneName::parse(".").unwrap().as_str(), ".");
        assert_eq!(ZoneName::parse("\\065b.example").unwrap().as_str(), "ab.example.");
        assert!(ZoneName::parse("").is_err());
        assert!(ZoneName::parse("a..b").is_err());
    }
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

    fn key_label() -> impl Strategy<Value = Vec<u8>> {
        // Few distinct octets, so that labels often share prefixes; every
        // octet the escaping treats specially, and case pairs.
        prop::collection::vec(
            prop_oneof![
                Just(0x00u8),
                Just(0x01u8),
                Just(0x02u8),
                Just(0xfdu8),
                Just(0xfeu8),
                Just(0xffu8),
                Just(b'a'),
                Just(b'A'),
                Just(b'b'),
                Just(b'-'),
                any::<u8>()
            ],
            1..4,
        )
    }

    fn name_of(labels: &[Vec<u8>]) -> StoredName {
        let mut wire = Vec::new();
        for l in labels {
            wire.push(l.len() as u8);
            wire.extend_from_slice(l);
        }
        wire.push(0);
        StoredName::from_octets(bytes::Bytes::from(wire)).unwrap()
    }

    /// Two names sharing a common suffix (so ancestors, descendants and
    /// siblings come up often), leaf-most label first.
    fn related_names() -> impl Strategy<Value = (StoredName, StoredName)> {
        let labels = || prop::collection::vec(key_label(), 0..3);
        (labels(), labels(), labels()).prop_map(|(common, a, b)| {
            let a: Vec<Vec<u8>> = a.into_iter().chain(common.iter().cloned()).collect();
            let b: Vec<Vec<u8>> = b.into_iter().chain(common).collect();
            (name_of(&a), name_of(&b))
        })
    }

    proptest! {
        #[test]
        fn canonical_key_order_is_canonical_name_order((a, b) in related_names()) {
            let (ka, kb) = (canonical_key(&a), canonical_key(&b));
            prop_assert_eq!(ka.cmp(&kb), CanonicalName(a.clone()).cmp(&CanonicalName(b.clone())));
            prop_assert!(!ka.contains(&0xff));
            // A name's own entries (key ‖ 0x00 ‖ type) sort where the name
            // does relative to every other name.
            let mut own = ka.clone();
            own.extend_from_slice(&[0x00, 0xff, 0xff]);
            if a.ends_with(&b) {
                prop_assert!(ka.starts_with(&kb));
            }
            if b.ends_with(&a) && kb != ka {
                prop_assert!(kb.starts_with(&ka) && kb[ka.len()] >= 0x01);
                prop_assert!(own < kb);
            } else if kb != ka {
                prop_assert_eq!(own.cmp(&kb), ka.cmp(&kb));
            }
        }

        #[test]
        fn canonical_key_round_trips((a, _) in related_names()) {
            let back = name_from_canonical_key(&canonical_key(&a)).unwrap();
            let lower = a.as_slice().to_ascii_lowercase();
            prop_assert_eq!(back.as_slice(), lower.as_slice());
            prop_assert!(CanonicalName(back) == CanonicalName(a));
        }
    }

    #[test]
    fn canonical_key_examples() {
        let key = |n: &str| canonical_key(&StoredName::from_str(n).unwrap());
        assert_eq!(key("."), Vec::<u8>::new());
        assert_eq!(key("Www.Example."), [b"example".as_slice(), &[0], b"www", &[0]].concat());
        assert_eq!(key("\\000\\001\\254\\255."), vec![0x01, 0x01, 0x01, 0x02, 0xfe, 0x01, 0xfe, 0x02, 0x00]);
        for bad in [&[0xffu8][..], &[0x61], &[0x00], &[0x01, 0x03, 0x00], &[b'A', 0x00], &[0xfe]] {
            assert!(name_from_canonical_key(bad).is_none(), "{bad:?}");
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
