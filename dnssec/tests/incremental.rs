//! Incremental signing: a new version keeps the signatures of unchanged
//! RRsets, signs only what changed (and the denial records whose chain it
//! touches), and the result equals a from-scratch signing of the same
//! content except for signature times and bytes.

use std::path::Path;

#[path = "support/example_keys.rs"]
mod example_keys;

use example_keys::{apex, ksk, signatures, unsigned, zsk, NOW};
use frostzone_dnssec::denial::{Denial, Nsec3Config};
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::present::zone_text;
use frostzone_dnssec::signing::refresh::{PreviousSignatures, RefreshPolicy};
use frostzone_dnssec::signing::{SigningPlan, SigningPolicy};
use frostzone_dnssec::validate::{validate_text, validate_zone_incremental, TrustAnchor, ValidationOptions, VerifiedSignatures};
use frostzone_dnssec::zone::{InputKind, Zone};

const DAY: u32 = 86_400;

const ZONE: &str = "$TTL 3600
@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.53
www IN A 192.0.2.1
mail IN MX 10 www
a.b.c IN A 192.0.2.9
sub IN NS ns.example.net.
sub IN DS 31589 15 2 1B6E1C1B06B1C37F0D5A6E2C34A4C93E6D10D3E52B6E3F0F4E0A2D0B8C9A7E6D
";

/// Signs `text` at `now` keeping what `previous` allows; returns the
/// signed zone and the number of signatures made.
fn sign(text: &str, denial: &Denial, now: u32, previous: &PreviousSignatures) -> (Zone, usize) {
    let keys = [ksk(), zsk()];
    let policy = SigningPolicy { denial: denial.clone(), ..SigningPolicy::default() };
    let zone_keys = [keys[0].1.clone(), keys[1].1.clone()];
    let plan = SigningPlan::prepare_incremental(unsigned(text), &zone_keys, &policy, now, previous, &RefreshPolicy::default())
        .unwrap();
    let made = plan.items().len();
    let sigs = signatures(&plan, &keys);
    (plan.complete(sigs).unwrap(), made)
}

fn assert_valid(zone: &Zone, now: u32) {
    let options = ValidationOptions { now, anchor: TrustAnchor::Ds(vec![ksk().1.ds(&apex())]), expiry_warning: 0 };
    let (_, report) = validate_text(&zone_text(zone), Path::new("signed"), &apex(), &options).unwrap();
    assert!(report.is_valid(), "{}", report.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"));
}

/// The zone text without RRSIG lines: what must equal a from-scratch signing.
fn without_rrsigs(zone: &Zone) -> String {
    zone_text(zone).lines().filter(|l| !l.contains("\tRRSIG\t")).collect::<Vec<_>>().join("\n")
}

fn denials() -> Vec<Denial> {
    vec![Denial::Nsec3(Nsec3Config::default()), Denial::Nsec]
}

#[test]
fn one_new_name_signs_only_it_the_soa_and_its_chain_neighbours() {
    for denial in denials() {
        let (v1, full) = sign(ZONE, &denial, NOW, &PreviousSignatures::default());
        assert_valid(&v1, NOW);
        let v2_text = ZONE.replace("hostmaster 1 ", "hostmaster 2 ") + "new IN A 192.0.2.10\n";
        let later = NOW + 3600;
        let (v2, made) = sign(&v2_text, &denial, later, &PreviousSignatures::from_zone(&v1));
        assert_valid(&v2, later);
        let (scratch, scratch_made) = sign(&v2_text, &denial, later, &PreviousSignatures::default());
        assert_eq!(without_rrsigs(&v2), without_rrsigs(&scratch), "{denial:?}");
        // SOA, the new A, the new denial record and the predecessor whose
        // "next" field changed: four, whatever the zone's size.
        assert_eq!(made, 4, "{denial:?}: {made} signatures of {scratch_made}");
        assert!(full > 10 && scratch_made > 10);
        // Every RRset still has exactly the signatures a fresh signing has.
        let count = |z: &Zone| zone_text(z).lines().filter(|l| l.contains("\tRRSIG\t")).count();
        assert_eq!(count(&v2), count(&scratch));
    }
}

#[test]
fn unchanged_content_signs_nothing_until_signatures_are_due() {
    let denial = Denial::Nsec3(Nsec3Config::default());
    let (v1, full) = sign(ZONE, &denial, NOW, &PreviousSignatures::default());
    let previous = PreviousSignatures::from_zone(&v1);
    assert_eq!(previous.len(), full);
    let (same, made) = sign(ZONE, &denial, NOW + DAY, &previous);
    assert_eq!(made, 0);
    assert_valid(&same, NOW + DAY);
    // 14-day signatures are due from 6 to 5 days before they expire:
    // after 9 days some are, after 8.9 days none, after 9.1 days all (an
    // hour earlier with the pre-refresh margin).
    let policy = RefreshPolicy::default();
    let first_due = previous.next_due(&policy, NOW).unwrap();
    assert!((NOW + 8 * DAY..NOW + 9 * DAY + 3600).contains(&first_due), "{}", first_due - NOW);
    // A refresh takes along what falls due within the pre-refresh margin
    // after it: the first signature is re-signed from that long before.
    let (_, made) = sign(ZONE, &denial, first_due - policy.pre_refresh - 1, &previous);
    assert_eq!(made, 0);
    let (_, made) = sign(ZONE, &denial, first_due - policy.pre_refresh, &previous);
    assert!(made >= 1 && made < full, "the refresh is spread: {made} of {full}");
    let (_, made) = sign(ZONE, &denial, first_due, &previous);
    assert!(made >= 1 && made < full, "the refresh is spread: {made} of {full}");
    let (refreshed, made) = sign(ZONE, &denial, NOW + 9 * DAY + 7200, &previous);
    assert_eq!(made, full);
    assert_valid(&refreshed, NOW + 9 * DAY + 7200);
}

#[test]
fn a_ttl_change_re_signs_only_that_rrset() {
    let denial = Denial::Nsec3(Nsec3Config::default());
    let (v1, _) = sign(ZONE, &denial, NOW, &PreviousSignatures::default());
    // The same content under another TTL for one RRset: only it is signed
    // again (with the SOA unchanged, nothing else).
    let text = ZONE.replace("www IN A 192.0.2.1", "www 60 IN A 192.0.2.1");
    let (v2, made) = sign(&text, &denial, NOW + 60, &PreviousSignatures::from_zone(&v1));
    assert_eq!(made, 1);
    assert_valid(&v2, NOW + 60);
}

#[test]
fn incremental_validation_verifies_only_new_signatures_and_still_catches_edits() {
    let denial = Denial::Nsec3(Nsec3Config::default());
    let options = |now| ValidationOptions { now, anchor: TrustAnchor::Ds(vec![ksk().1.ds(&apex())]), expiry_warning: 0 };
    let (v1, full) = sign(ZONE, &denial, NOW, &PreviousSignatures::default());
    let (report, known) = validate_zone_incremental(&v1, &options(NOW), &VerifiedSignatures::default());
    assert!(report.is_valid());
    assert_eq!((report.stats.signatures, report.stats.signatures_known, known.len()), (full, 0, full));

    let v2_text = ZONE.replace("hostmaster 1 ", "hostmaster 2 ") + "new IN A 192.0.2.10\n";
    let (v2, made) = sign(&v2_text, &denial, NOW + 60, &PreviousSignatures::from_zone(&v1));
    let (report, v2_known) = validate_zone_incremental(&v2, &options(NOW + 60), &known);
    assert!(report.is_valid());
    assert_eq!(report.stats.signatures - report.stats.signatures_known, made);
    // What the coordinator rebuilds its cache from: the digests of exactly
    // the zone's signatures, none of the replaced ones, with nothing but
    // the new signatures verified.
    let mut grown = known.clone();
    grown.extend(v2_known.clone());
    assert!(grown.len() > v2.signature_count());
    let (report, pruned) = validate_zone_incremental(&v2, &options(NOW + 60), &grown);
    assert_eq!((pruned.len(), report.stats.signatures_known), (v2.signature_count(), v2.signature_count()));

    // An RRset changed without a new signature: its old signature is not
    // taken on trust, because the signed data differs.
    let tampered_text = zone_text(&v2).replace("192.0.2.1\n", "192.0.2.111\n");
    assert_ne!(tampered_text, zone_text(&v2));
    let records = load_zone_text(&tampered_text, Path::new("tampered"), &apex()).unwrap();
    let tampered = Zone::from_records(apex(), records, InputKind::Signed).unwrap();
    let (report, _) = validate_zone_incremental(&tampered, &options(NOW + 60), &known);
    assert!(
        report.errors.iter().any(|e| e.to_string().contains("www.example. RRSIG A") && e.to_string().contains("does not verify")),
        "{:?}",
        report.errors
    );
}
