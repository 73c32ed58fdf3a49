//! Generators of hostile master-file text (RFC 1035 §5) shared by the
//! zone-file and change-file fuzz targets, and the guard that turns a hang
//! into a test failure.
//!
//! The text is built from plausible pieces — owner names with escapes and
//! oversized labels, TTLs past 2³¹, classes, types from a list that
//! includes unknown `TYPE65534` and the generic `\# len hex` RDATA of
//! RFC 3597, directives, parentheses, quotes and comments — so most cases
//! get past the tokenizer into the record parsers; then some are mutated
//! byte by byte, so the tokenizer itself sees broken input too.
#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;

/// Cases of a short run, unless `FROSTZONE_FUZZ_CASES` or `PROPTEST_CASES`
/// asks for more (a long run).
pub fn cases(short: u32) -> u32 {
    ["FROSTZONE_FUZZ_CASES", "PROPTEST_CASES"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
        .unwrap_or(short)
}

/// How long one case may take before it counts as a hang.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Runs `f` on its own thread and returns its result, or `Err` when it
/// panics or runs past [`DEADLINE`] (the thread is then left behind; the
/// test fails and proptest keeps the input).
pub fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, TestCaseError> {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(v) => {
            let _ = handle.join();
            Ok(v)
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(TestCaseError::fail(match handle.join() {
            Err(p) => format!(
                "panicked: {}",
                p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
            ),
            Ok(()) => "worker ended without a result".into(),
        })),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(TestCaseError::fail(format!("no answer within {DEADLINE:?}: a hang"))),
    }
}

/// One label in presentation form: ordinary, escaped (`\.`, `\000`,
/// `\255`, a broken `\1`), wildcard, `@`, or at or past the 63-octet limit.
pub fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z0-9][a-z0-9-]{0,9}",
        1 => Just("*".to_string()),
        1 => Just("@".to_string()),
        1 => Just("a\\.b".to_string()),
        1 => Just("\\000".to_string()),
        1 => Just("x\\255y".to_string()),
        1 => Just("\\1".to_string()),
        1 => Just("\\".to_string()),
        1 => Just("_tcp".to_string()),
        1 => Just("xn--bcher-kva".to_string()),
        1 => (62usize..66).prop_map(|n| "l".repeat(n)),
        1 => Just("\\046".repeat(40)),
        1 => "[\\x21-\\x7e]{1,6}",
    ]
}

/// An owner or RDATA name: relative or absolute, the root, empty labels,
/// or long enough to pass 255 octets.
pub fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (prop::collection::vec(label(), 1..4), any::<bool>())
            .prop_map(|(ls, abs)| format!("{}{}", ls.join("."), if abs { "." } else { "" })),
        1 => Just(".".to_string()),
        1 => Just("a..b".to_string()),
        1 => Just("example.".to_string()),
        1 => Just("www.example.".to_string()),
        1 => (1usize..70).prop_map(|n| vec!["abcdefgh"; n].join(".")),
        1 => Just(format!("{}.", vec!["l".repeat(63); 4].join("."))),
    ]
}

/// A TTL: ordinary, at and past the RFC 2181 §8 limit and `u32`, with
/// BIND units, negative or not a number.
pub fn ttl() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u32..100_000).prop_map(|t| t.to_string()),
        1 => Just("2147483647".into()),
        1 => Just("2147483648".into()),
        1 => Just("4294967295".into()),
        1 => Just("4294967296".into()),
        1 => Just("99999999999999999999999".into()),
        1 => Just("1w2d3h4m5s".into()),
        1 => Just("9999999999w".into()),
        1 => Just("-1".into()),
        1 => Just("1x".into()),
    ]
}

/// A class mnemonic, generic `CLASSn` (valid or not), or nothing.
pub fn class() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("IN".to_string()),
        1 => Just(String::new()),
        1 => Just("CH".to_string()),
        1 => Just("HS".to_string()),
        1 => Just("CLASS1".to_string()),
        1 => Just("CLASS65535".to_string()),
        1 => Just("CLASS65536".to_string()),
    ]
}

/// Hex of `n` random octets.
pub fn hex_bytes(n: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), n).prop_map(hex::encode)
}

/// A number field: small, at `u16`/`u32` edges, huge or negative.
pub fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u32..1000).prop_map(|n| n.to_string()),
        1 => Just("65535".into()),
        1 => Just("65536".into()),
        1 => Just("4294967295".into()),
        1 => Just("4294967296".into()),
        1 => Just("-5".into()),
        1 => Just("18446744073709551616".into()),
    ]
}

/// A character string: quoted with escapes, unterminated, or over the
/// 255-octet limit.
pub fn char_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9 ;()]{0,20}".prop_map(|s| format!("\"{s}\"")),
        1 => "[a-z]{1,10}",
        1 => Just("\"a\\\"b\\\\c\\255\\0\"".to_string()),
        1 => Just("\"unterminated".to_string()),
        1 => (250usize..300).prop_map(|n| format!("\"{}\"", "t".repeat(n))),
        1 => Just("\"\"".to_string()),
    ]
}

/// A type mnemonic and RDATA text that suits it, most of the time.
pub fn type_and_rdata() -> impl Strategy<Value = String> {
    let n = number;
    prop_oneof![
        3 => (0u8..=255, 0u8..=255, any::<u16>()).prop_map(|(a, b, c)| format!("A 192.{a}.{b}.{c}")),
        1 => Just("A 1.2.3".to_string()),
        2 => Just("AAAA 2001:db8::1".to_string()),
        1 => Just("AAAA ::ffff:1.2.3.4:5".to_string()),
        2 => name().prop_map(|n| format!("NS {n}")),
        2 => name().prop_map(|n| format!("CNAME {n}")),
        1 => name().prop_map(|n| format!("DNAME {n}")),
        1 => name().prop_map(|n| format!("PTR {n}")),
        2 => (n(), name()).prop_map(|(p, x)| format!("MX {p} {x}")),
        2 => prop::collection::vec(char_string(), 0..4).prop_map(|s| format!("TXT {}", s.join(" "))),
        2 => (name(), name(), n(), n(), n(), n(), n())
            .prop_map(|(m, r, a, b, c, d, e)| format!("SOA {m} {r} ( {a} {b}\n {c} {d} {e} )")),
        1 => (n(), n(), n(), name()).prop_map(|(a, b, c, t)| format!("SRV {a} {b} {c} {t}")),
        1 => (n(), n(), n(), hex_bytes(0..40)).prop_map(|(a, b, c, h)| format!("DS {a} {b} {c} {h}")),
        1 => (n(), n(), n(), hex_bytes(0..40)).prop_map(|(a, b, c, h)| format!("CDS {a} {b} {c} {h}")),
        1 => (n(), "[A-Za-z0-9+/=]{0,60}").prop_map(|(f, k)| format!("DNSKEY {f} 3 15 {k}")),
        1 => "[A-Za-z0-9+/=]{0,60}".prop_map(|k| format!("CDNSKEY 257 3 15 {k}")),
        1 => (n(), n(), name()).prop_map(|(t, l, s)| format!("RRSIG A 15 {l} 300 20300101000000 {t} 1 {s} AAAA")),
        1 => name().prop_map(|x| format!("NSEC {x} A NS SOA RRSIG NSEC TYPE65534")),
        1 => (n(), hex_bytes(0..10)).prop_map(|(i, s)| format!("NSEC3 1 1 {i} {} 2t7b4g4vsa5smi47k61mv5bv1a22bojr A RRSIG", if s.is_empty() { "-".into() } else { s })),
        1 => (n(), n()).prop_map(|(f, i)| format!("NSEC3PARAM 1 {f} {i} -")),
        1 => (n(), n(), char_string()).prop_map(|(f, t, v)| format!("CAA {f} issue {v} {t}")),
        1 => (char_string(), char_string()).prop_map(|(a, b)| format!("HINFO {a} {b}")),
        1 => hex_bytes(0..40).prop_map(|h| format!("TLSA 3 1 1 {h}")),
        1 => hex_bytes(0..40).prop_map(|h| format!("SSHFP 4 2 {h}")),
        1 => (n(), name()).prop_map(|(p, t)| format!("SVCB {p} {t} alpn=h2 port=443")),
        1 => (n(), name()).prop_map(|(p, t)| format!("HTTPS {p} {t} mandatory=alpn")),
        1 => hex_bytes(0..60).prop_map(|h| format!("ZONEMD 1 1 1 {h}")),
        // RFC 3597: unknown types and the generic RDATA form, with
        // lengths that match and lengths that do not.
        2 => hex_bytes(0..40).prop_map(|h| format!("TYPE65534 \\# {} {h}", h.len() / 2)),
        2 => (0usize..70000, hex_bytes(0..12)).prop_map(|(l, h)| format!("TYPE65534 \\# {l} {h}")),
        1 => hex_bytes(0..8).prop_map(|h| format!("A \\# {} {h}", h.len() / 2)),
        1 => hex_bytes(0..8).prop_map(|h| format!("SOA \\# {} {h}", h.len() / 2)),
        1 => Just("TYPE0 \\# 0".to_string()),
        1 => Just("TYPE65536 \\# 0".to_string()),
        1 => Just("TYPE1 \\# 4 c0000201".to_string()),
        1 => Just("FROB 1 2 3".to_string()),
        1 => Just("\\# 2 abcd".to_string()),
    ]
}

/// One line of a master file: a record (owner or leading blank, TTL and
/// class in either order or absent), a directive, a comment, a blank line,
/// or noise.
pub fn line() -> impl Strategy<Value = String> {
    let record = (
        prop_oneof![3 => name(), 1 => Just(String::new()), 1 => Just("@".to_string())],
        prop::option::of(ttl()),
        class(),
        any::<bool>(),
        type_and_rdata(),
        prop::option::of("[ -~]{0,12}"),
    )
        .prop_map(|(owner, ttl, class, ttl_first, rr, comment)| {
            let ttl = ttl.unwrap_or_default();
            let (a, b) = if ttl_first { (ttl, class) } else { (class, ttl) };
            let comment = comment.map(|c| format!(" ;{c}")).unwrap_or_default();
            format!("{owner} {a} {b} {rr}{comment}")
        });
    prop_oneof![
        12 => record,
        1 => name().prop_map(|n| format!("$ORIGIN {n}")),
        1 => ttl().prop_map(|t| format!("$TTL {t}")),
        1 => (prop_oneof![Just("missing.zone"), Just("self.zone"), Just("other.zone"), Just("")], prop::option::of(name()))
            .prop_map(|(p, o)| format!("$INCLUDE {p} {}", o.unwrap_or_default())),
        1 => Just("$GENERATE 1-100 h$ A 192.0.2.$".to_string()),
        1 => Just("$FOO bar".to_string()),
        1 => "[ -~]{0,20}".prop_map(|c| format!("; {c}")),
        1 => Just(String::new()),
        1 => Just("(".to_string()),
        1 => Just(")".to_string()),
        1 => Just("\"".to_string()),
        1 => "[\\x00-\\x7f]{1,16}",
    ]
}

/// A byte-level edit of rendered text.
#[derive(Clone, Debug)]
pub enum Mutation {
    /// Put octet `b` at relative position `at` (0.0 to 1.0 of the length).
    Insert { at: f64, b: u8 },
    /// Remove the octet at `at`.
    Delete { at: f64 },
    /// Cut the text at `at`.
    Truncate { at: f64 },
    /// Put a non-UTF-8 sequence at `at`.
    Garbage { at: f64 },
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0f64..1.0;
    prop_oneof![
        3 => (at.clone(), prop_oneof![Just(b'('), Just(b')'), Just(b'"'), Just(b'\\'), Just(b';'), Just(b'\n'), Just(b' '), Just(0u8), any::<u8>()])
            .prop_map(|(at, b)| Mutation::Insert { at, b }),
        2 => at.clone().prop_map(|at| Mutation::Delete { at }),
        1 => at.clone().prop_map(|at| Mutation::Truncate { at }),
        1 => at.prop_map(|at| Mutation::Garbage { at }),
    ]
}

/// Applies `edits` to `text`.
pub fn mutate(mut text: Vec<u8>, edits: &[Mutation]) -> Vec<u8> {
    for m in edits {
        let pos = |at: f64, len: usize| ((at * len as f64) as usize).min(len);
        match *m {
            Mutation::Insert { at, b } => text.insert(pos(at, text.len()), b),
            Mutation::Delete { at } if !text.is_empty() => {
                let p = pos(at, text.len() - 1);
                text.remove(p);
            }
            Mutation::Delete { .. } => {}
            Mutation::Truncate { at } => text.truncate(pos(at, text.len())),
            Mutation::Garbage { at } => {
                let p = pos(at, text.len());
                text.splice(p..p, [0xc3, 0x28, 0xff, 0xfe, 0x80]);
            }
        }
    }
    text
}

/// A whole master file: lines joined (sometimes with CRLF, sometimes
/// without the last line feed), then perhaps mutated.
pub fn zone_text() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(line(), 0..24),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(mutation(), 1..6)],
    )
        .prop_map(|(lines, crlf, last_newline, edits)| {
            let mut text = lines.join(if crlf { "\r\n" } else { "\n" });
            if last_newline {
                text.push('\n');
            }
            mutate(text.into_bytes(), &edits)
        })
}
