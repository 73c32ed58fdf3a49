//! Incremental signing by patch (`frostzone_dnssec::signing::incremental`),
//! in NSEC3, NSEC3 opt-out and NSEC zones: after every
//! change of a seeded random sequence — names added and removed, TTL
//! changes, delegations with and without DS and glue appearing and going
//! away, empty non-terminals appearing and disappearing — the patched zone
//! equals a from-scratch signing of the same content except for RRSIGs,
//! and validates whole.

use std::path::Path;
use std::sync::{Arc, RwLock};

#[path = "support/example_keys.rs"]
mod example_keys;
#[path = "support/random_zone.rs"]
mod random_zone;

use rand::rngs::StdRng;
use rand::SeedableRng;
use example_keys::{apex, ksk, signatures, zsk, KeyPair, NOW};
use random_zone::{mutate, State};
use frostzone_dnssec::change_set::ZoneContent;
use frostzone_dnssec::denial::{Denial, Nsec3Config};
use frostzone_dnssec::keys::ZoneKey;
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::present::zone_text;
use frostzone_dnssec::signing::refresh::{PreviousSignatures, RefreshPolicy};
use frostzone_dnssec::signing::{SigningPlan, SigningPolicy};
use frostzone_dnssec::signing::incremental::prepare_update;
use frostzone_dnssec::validate::{validate_text, TrustAnchor, ValidationOptions};
use frostzone_dnssec::zone::{InputKind, Zone};

fn keys() -> [KeyPair; 2] {
    [ksk(), zsk()]
}

fn content(text: &str) -> ZoneContent {
    ZoneContent::new(apex(), load_zone_text(text, Path::new("t.zone"), &apex()).unwrap())
}

fn policy(denial: &Denial) -> SigningPolicy {
    SigningPolicy { denial: denial.clone(), ..SigningPolicy::default() }
}

fn scratch(text: &str, denial: &Denial, now: u32) -> Zone {
    let zone = content(text).to_zone(InputKind::Unsigned).unwrap();
    let zone_keys: Vec<ZoneKey> = keys().iter().map(|k| k.1.clone()).collect();
    let plan = SigningPlan::prepare(zone, &zone_keys, &policy(denial), now).unwrap();
    let sigs = signatures(&plan, &keys());
    plan.complete(sigs).unwrap()
}

fn without_rrsigs(zone: &Zone) -> String {
    zone_text(zone).lines().filter(|l| !l.contains("\tRRSIG\t")).collect::<Vec<_>>().join("\n")
}

fn assert_valid(zone: &Zone, now: u32, what: &str) {
    let options = ValidationOptions { now, anchor: TrustAnchor::Ds(vec![keys()[0].1.ds(&apex())]), expiry_warning: 0 };
    let (_, report) = validate_text(&zone_text(zone), Path::new("signed"), &apex(), &options).unwrap();
    assert!(report.is_valid(), "{what}:\n{}", report.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"));
}

fn run(denial: &Denial, seed: u64, steps: u32) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut state = State::default();
    for i in 0..6 {
        state.0.insert(format!("n{i}"), vec![format!("IN A 192.0.2.{}", i + 1)]);
    }
    let zone_keys: Vec<ZoneKey> = keys().iter().map(|k| k.1.clone()).collect();
    let mut text = state.text(1);
    let mut published = scratch(&text, denial, NOW);
    for step in 2..steps + 2 {
        let what = mutate(&mut state, &mut rng);
        let next_text = state.text(step);
        let (old, new) = (content(&text), content(&next_text));
        let set = ZoneContent::compare(&old, &new).unwrap();
        let touched: Vec<_> = set.removed.iter().chain(&set.added).map(|r| (r.record.owner().clone(), r.record.rtype())).collect();
        let now = NOW + step * 60;
        let base = Arc::new(RwLock::new(published));
        let plan = prepare_update(base.clone(), frostzone_dnssec::signing::read_zone(&base).signature_count(), &new, &touched, &[], &zone_keys, &policy(denial), now, &RefreshPolicy::default())
            .unwrap()
            .expect("a change in a zone that keeps its denial can be patched");
        let made = plan.items().len();
        let sigs = signatures(&plan, &keys());
        let next = plan.complete(sigs).unwrap();
        let context = format!("{denial:?} seed {seed} step {step} ({what}), {made} signatures");
        assert_eq!(without_rrsigs(&next), without_rrsigs(&scratch(&next_text, denial, now)), "{context}");
        assert_valid(&next, now, &context);
        assert!(made < 30, "{context}: a one-name change signs few RRsets");
        published = next;
        text = next_text;
    }
}

#[test]
fn patched_versions_equal_from_scratch_signing_nsec3() {
    for seed in 1..=6 {
        run(&Denial::Nsec3(Nsec3Config::default()), seed, 50);
    }
}

#[test]
fn patched_versions_equal_from_scratch_signing_nsec3_opt_out() {
    for seed in 7..=10 {
        run(&Denial::Nsec3(Nsec3Config { opt_out: true, ..Nsec3Config::default() }), seed, 50);
    }
}

#[test]
fn patched_versions_equal_from_scratch_signing_nsec() {
    for seed in 11..=16 {
        run(&Denial::Nsec, seed, 50);
    }
}

#[test]
fn a_switch_between_nsec_and_nsec3_is_not_patched() {
    let text = State::default().text(1);
    let zone_keys: Vec<ZoneKey> = keys().iter().map(|k| k.1.clone()).collect();
    let next = content(&State::default().text(2));
    let nsec3 = Denial::Nsec3(Nsec3Config::default());
    for (from, to) in [(&Denial::Nsec, &nsec3), (&nsec3, &Denial::Nsec)] {
        let published = scratch(&text, from, NOW);
        let plan = prepare_update(Arc::new(RwLock::new(published.clone())), published.signature_count(), &next, &[], &[], &zone_keys, &policy(to), NOW, &RefreshPolicy::default())
            .unwrap();
        assert!(plan.is_none(), "{from:?} to {to:?}: every denial record changes, the whole version is signed");
    }
}

/// A zone signed at once is refreshed in a few patches across its jitter
/// window, not one per due time: each refresh takes along what falls due
/// within the pre-refresh margin (Knot's `rrsig-pre-refresh`). Every
/// refresh is a patch of the names with due signatures, and the result
/// validates.
#[test]
fn refreshes_of_a_zone_signed_at_once_come_in_batches() {
    let mut state = State::default();
    for i in 0..300 {
        state.0.insert(format!("n{i}"), vec![format!("IN A 192.0.2.{}", i % 250 + 1)]);
    }
    let denial = Denial::Nsec3(Nsec3Config::default());
    let zone_keys: Vec<ZoneKey> = keys().iter().map(|k| k.1.clone()).collect();
    let refresh = RefreshPolicy::default();
    let mut published = scratch(&state.text(1), &denial, NOW);
    let signatures_made = published.signature_count();
    let first_due = PreviousSignatures::from_zone(&published).next_due(&refresh, NOW).unwrap();
    // Every signature of the first version is due within the jitter after
    // the first one.
    let window_end = first_due + refresh.jitter;
    let (mut now, mut serial, mut refreshed) = (first_due, 1, 0);
    while now <= window_end {
        serial += 1;
        let due = refresh.due_owners(&published, now);
        assert!(!due.is_empty(), "refresh {serial} at {now}: nothing due");
        let base = Arc::new(RwLock::new(published));
        let signatures_before = frostzone_dnssec::signing::read_zone(&base).signature_count();
        let plan = prepare_update(base, signatures_before, &content(&state.text(serial)), &[], &due, &zone_keys, &policy(&denial), now, &refresh)
            .unwrap()
            .expect("a refresh is a patch");
        refreshed += plan.items().len() - 1; // the new SOA's signature is not a refresh
        let sigs = signatures(&plan, &keys());
        published = plan.complete(sigs).unwrap();
        let previous = PreviousSignatures::from_zone(&published);
        let next = previous.next_due(&refresh, now).unwrap();
        // The one pass the coordinator makes finds the same two times.
        let times = refresh.signature_times(&published, now);
        assert_eq!((times.next_due, times.first_expiration), (Some(next), previous.first_expiration(now)));
        assert!(next > now + refresh.pre_refresh, "refresh {serial} at {now}: the next one at {next}, inside the pre-refresh margin");
        now = next;
    }
    // A day of jitter in hours, plus one: 25 (without the margin, 603:
    // one refresh, serial and quorum per due time).
    let refreshes = serial - 1;
    println!("{refreshes} refreshes of {signatures_made} signatures");
    assert!(refreshes <= refresh.jitter / refresh.pre_refresh + 1, "{refreshes} refreshes of {signatures_made} signatures");
    assert!(refreshed + 1 >= signatures_made, "{refreshed} of {signatures_made} signatures refreshed");
    assert_valid(&published, window_end, "after the refresh window");
}
