//! The validator against tampered zones: each defect that breaks
//! resolution must be caught and must name the record.
//!
//! Zones are signed here with plain Ed25519 keys through the same batch
//! interface a threshold backend uses: the validator does not care who
//! signed.

use std::path::Path;

#[path = "support/example_keys.rs"]
mod example_keys;

use frostzone_dnssec::denial::{Denial, Nsec3Config};
use frostzone_dnssec::keys::{KeyRole, ZoneKey};
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::present::zone_text;
use frostzone_dnssec::signing::{SigningPlan, SigningPolicy};
use frostzone_dnssec::validate::{validate_text, Report, TrustAnchor, ValidationOptions};
use frostzone_dnssec::zone::{InputKind, Zone};

use example_keys::{apex, key, ksk, signatures, unsigned, zsk, NOW};

const ZONE: &str = "$TTL 3600
@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ IN NS ns1
@ IN NS ns.example.net.
ns1 IN A 192.0.2.53
www IN A 192.0.2.1
www IN AAAA 2001:db8::1
*.wild IN TXT \"wildcard\"
a.b.c IN A 192.0.2.9
sub IN NS ns.sub
sub IN DS 31589 15 2 1B6E1C1B06B1C37F0D5A6E2C34A4C93E6D10D3E52B6E3F0F4E0A2D0B8C9A7E6D
ns.sub IN A 192.0.2.77
insecure IN NS ns.example.net.
";

struct SignedExample {
    text: String,
    ksk: ZoneKey,
}

fn sign(denial: Denial, extra_keys: &[ZoneKey]) -> SignedExample {
    let (ksk, zsk) = (ksk(), zsk());
    let mut keys = vec![ksk.1.clone(), zsk.1.clone()];
    keys.extend_from_slice(extra_keys);
    let policy = SigningPolicy { denial, ..SigningPolicy::default() };
    let plan = SigningPlan::prepare(unsigned(ZONE), &keys, &policy, NOW).unwrap();
    let sigs = signatures(&plan, &[ksk.clone(), zsk]);
    let zone = plan.complete(sigs).unwrap();
    SignedExample { text: zone_text(&zone), ksk: ksk.1 }
}

fn check(signed: &SignedExample, text: &str, now: u32) -> Report {
    let options = ValidationOptions {
        now,
        anchor: TrustAnchor::Ds(vec![signed.ksk.ds(&apex())]),
        expiry_warning: 0,
    };
    let (_, report) = validate_text(text, Path::new("signed.zone"), &apex(), &options).unwrap();
    report
}

/// Replaces the first line matching `pick` by `edit(line)`.
fn edit_line(text: &str, pick: impl Fn(&str) -> bool, edit: impl Fn(&str) -> Option<String>) -> (String, usize) {
    let mut out = String::new();
    let mut done = None;
    for (i, line) in text.lines().enumerate() {
        if done.is_none() && pick(line) {
            done = Some(i + 1);
            if let Some(new) = edit(line) {
                out.push_str(&new);
                out.push('\n');
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    (out, done.expect("no line matched"))
}

fn assert_error(report: &Report, needle: &str) {
    assert!(!report.is_valid(), "tampered zone validated");
    assert!(
        report.errors.iter().any(|e| e.to_string().contains(needle)),
        "no error mentions {needle:?}; errors:\n{}",
        report.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
    );
}

fn each_denial() -> Vec<Denial> {
    vec![
        Denial::Nsec3(Nsec3Config::default()),
        Denial::Nsec3(Nsec3Config { opt_out: true, ..Nsec3Config::default() }),
        Denial::Nsec,
    ]
}

#[test]
fn untouched_zone_validates_in_every_denial_mode() {
    for denial in each_denial() {
        let s = sign(denial.clone(), &[]);
        let r = check(&s, &s.text, NOW);
        assert!(r.is_valid(), "{denial:?}: {:?}", r.errors);
    }
}

#[test]
fn flipped_signature_byte_is_named() {
    let s = sign(Denial::default(), &[]);
    let (text, line) = edit_line(
        &s.text,
        |l| l.starts_with("www.example.\t") && l.contains("RRSIG\tA "),
        |l| {
            let (head, sig) = l.rsplit_once(' ').unwrap();
            let mut bytes = sig.as_bytes().to_vec();
            bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
            Some(format!("{head} {}", String::from_utf8(bytes).unwrap()))
        },
    );
    let r = check(&s, &text, NOW);
    assert_error(&r, &format!("signed.zone:{line}: www.example. RRSIG A: signature by key"));
}

#[test]
fn dropped_nsec3_record_breaks_the_chain() {
    let s = sign(Denial::default(), &[]);
    let (text, _) = edit_line(&s.text, |l| l.contains("\tNSEC3\t"), |_| None);
    let r = check(&s, &text, NOW);
    assert_error(&r, "has no NSEC3 record");
    assert_error(&r, "next hashed owner is");
}

#[test]
fn dropped_nsec_record_breaks_the_chain() {
    let s = sign(Denial::Nsec, &[]);
    let (text, _) = edit_line(&s.text, |l| l.starts_with("www.example.\t") && l.contains("\tNSEC\t"), |_| None);
    let r = check(&s, &text, NOW);
    assert_error(&r, "www.example. NSEC: name has no NSEC record");
}

#[test]
fn changed_ttl_is_named() {
    let s = sign(Denial::default(), &[]);
    let (text, line) = edit_line(
        &s.text,
        |l| l.starts_with("www.example.\t3600\tIN\tA\t"),
        |l| Some(l.replacen("\t3600\t", "\t7200\t", 1)),
    );
    let r = check(&s, &text, NOW);
    assert_error(&r, "www.example. RRSIG A: original TTL 3600 differs from the RRset's TTL 7200");
    assert!(line > 0);
}

/// The signed zone with a second DNSKEY after the KSK: `twin` makes its
/// (flags text, raw key) from the KSK's raw key. The zone must be refused
/// for the shared tag.
fn assert_twin_ksk_refused(twin: impl Fn(&mut Vec<u8>) -> &'static str) {
    let s = sign(Denial::default(), &[]);
    let (text, _) = edit_line(
        &s.text,
        |l| l.contains("\tDNSKEY\t257 "),
        |l| {
            use base64::Engine;
            let (head, key) = l.rsplit_once(' ').unwrap();
            let mut raw = base64::engine::general_purpose::STANDARD.decode(key).unwrap();
            let flags = twin(&mut raw);
            let twin = base64::engine::general_purpose::STANDARD.encode(&raw);
            Some(format!("{l}\n{} {twin}", head.replacen("\tDNSKEY\t257 ", &format!("\tDNSKEY\t{flags} "), 1)))
        },
    );
    let r = check(&s, &text, NOW);
    assert_error(&r, &format!("2 keys share key tag {}", s.ksk.key_tag()));
}

#[test]
fn second_dnskey_with_the_same_tag_is_refused() {
    // The key tag is a 16-bit sum, so swapping two 16-bit words of the key
    // keeps it.
    assert_twin_ksk_refused(|raw| {
        raw.swap(0, 2);
        raw.swap(1, 3);
        "257"
    });
}

#[test]
fn a_revoked_dnskey_with_the_same_tag_is_refused() {
    // A revoked key (RFC 5011 §2.1, flag 0x0080) is still a DNSKEY a
    // validator may pick by tag: add 0x80 to the flags word and take it
    // from one word of the key, and the 16-bit sum (the tag) stays.
    assert_twin_ksk_refused(|raw| {
        let i = (0..raw.len() / 2).map(|i| 2 * i).find(|&i| u16::from_be_bytes([raw[i], raw[i + 1]]) >= 0x80).unwrap();
        let word = u16::from_be_bytes([raw[i], raw[i + 1]]) - 0x80;
        raw[i..i + 2].copy_from_slice(&word.to_be_bytes());
        "385"
    });
}

#[test]
fn signing_refuses_colliding_key_tags() {
    let ksk = ksk().1;
    let records = load_zone_text(ZONE, Path::new("t.zone"), &apex()).unwrap();
    let zone = Zone::from_records(apex(), records, InputKind::Unsigned).unwrap();
    let err = SigningPlan::prepare(zone, &[ksk.clone(), ksk], &SigningPolicy::default(), NOW).unwrap_err();
    assert!(err.to_string().contains("collide on key tag"), "{err}");
}

#[test]
fn expired_signatures_are_named() {
    let s = sign(Denial::default(), &[]);
    let later = NOW + SigningPolicy::default().validity + 1;
    let r = check(&s, &s.text, later);
    assert_error(&r, "www.example. RRSIG A: expired at");
}

#[test]
fn signature_not_yet_valid_is_named() {
    let s = sign(Denial::default(), &[]);
    let r = check(&s, &s.text, NOW - 2 * 3600);
    assert_error(&r, "not valid before");
}

#[test]
fn signed_glue_is_refused() {
    let s = sign(Denial::default(), &[]);
    // Move the ns1 A RRSIG onto the glue below the delegation.
    let sig = s.text.lines().find(|l| l.starts_with("www.example.\t") && l.contains("RRSIG\tA ")).unwrap();
    let glue_sig = sig.replacen("www.example.", "ns.sub.example.", 1).replacen(" 15 2 ", " 15 3 ", 1);
    let text = format!("{}{glue_sig}\n", s.text);
    let r = check(&s, &text, NOW);
    assert_error(&r, "ns.sub.example. RRSIG A: A here is not authoritative");
}

#[test]
fn unsigned_rrset_is_named() {
    let s = sign(Denial::Nsec, &[]);
    let (text, _) = edit_line(&s.text, |l| l.starts_with("www.example.\t") && l.contains("RRSIG\tAAAA "), |_| None);
    let r = check(&s, &text, NOW);
    assert_error(&r, "www.example. AAAA: authoritative RRset has no valid RRSIG");
}

#[test]
fn wrong_type_bitmap_is_named() {
    let s = sign(Denial::Nsec, &[]);
    let (text, _) = edit_line(
        &s.text,
        |l| l.starts_with("www.example.\t") && l.contains("\tNSEC\t"),
        |l| Some(l.replace(" AAAA", "")),
    );
    let r = check(&s, &text, NOW);
    assert_error(&r, "www.example. NSEC: type bitmap is A RRSIG NSEC, expected A AAAA RRSIG NSEC");
}

#[test]
fn ds_that_matches_no_key_is_refused() {
    let s = sign(Denial::default(), &[]);
    let other = key(1, KeyRole::Ksk).1;
    let options = ValidationOptions { now: NOW, anchor: TrustAnchor::Ds(vec![other.ds(&apex())]), expiry_warning: 0 };
    let (_, r) = validate_text(&s.text, Path::new("signed.zone"), &apex(), &options).unwrap();
    assert_error(&r, "no DNSKEY matches the trust anchor DS");
}
