//! Incremental signing by patch (`frostzone_dnssec::update`): after every
//! change of a seeded random sequence — names added and removed, TTL
//! changes, delegations with and without DS and glue appearing and going
//! away, empty non-terminals appearing and disappearing — the patched zone
//! equals a from-scratch signing of the same content except for RRSIGs,
//! and validates whole.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use ed25519_dalek::{Signer, SigningKey};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use frostzone_dnssec::changes::ZoneContent;
use frostzone_dnssec::denial::{Denial, Nsec3Config};
use frostzone_dnssec::keys::{KeyRole, ZoneKey};
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::present::zone_text;
use frostzone_dnssec::refresh::RefreshPolicy;
use frostzone_dnssec::signing::{SigningPlan, SigningPolicy};
use frostzone_dnssec::update::prepare_update;
use frostzone_dnssec::validate::{validate_text, TrustAnchor, ValidationOptions};
use frostzone_dnssec::zone::{InputKind, Zone};
use frostzone_dnssec::StoredName;

const NOW: u32 = 1_780_000_000;

fn apex() -> StoredName {
    StoredName::from_str("example.").unwrap()
}

fn keys() -> [(SigningKey, ZoneKey); 2] {
    let k = |seed: u8, role| {
        let s = SigningKey::from_bytes(&[seed; 32]);
        let z = ZoneKey::ed25519(role, s.verifying_key().to_bytes());
        (s, z)
    };
    [k(7, KeyRole::Ksk), k(9, KeyRole::Zsk)]
}

fn content(text: &str) -> ZoneContent {
    ZoneContent::new(apex(), load_zone_text(text, Path::new("t.zone"), &apex()).unwrap())
}

fn signatures(plan: &SigningPlan) -> Vec<[u8; 64]> {
    let k = keys();
    plan.items()
        .iter()
        .map(|item| {
            let key = if item.key_tag == k[0].1.key_tag() { &k[0].0 } else { &k[1].0 };
            key.sign(&item.signed_data).to_bytes()
        })
        .collect()
}

fn policy(denial: &Denial) -> SigningPolicy {
    SigningPolicy { denial: denial.clone(), ..SigningPolicy::default() }
}

fn scratch(text: &str, denial: &Denial, now: u32) -> Zone {
    let zone = content(text).to_zone(InputKind::Unsigned).unwrap();
    let zone_keys: Vec<ZoneKey> = keys().iter().map(|k| k.1.clone()).collect();
    let plan = SigningPlan::prepare(zone, &zone_keys, &policy(denial), now).unwrap();
    let sigs = signatures(&plan);
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

/// A zone as owner → record lines (type and data), rendered with a serial.
#[derive(Clone, Default)]
struct State(BTreeMap<String, Vec<String>>);

impl State {
    fn text(&self, serial: u32) -> String {
        let mut t = format!("$TTL 3600\n@ IN SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n");
        for (owner, lines) in &self.0 {
            for l in lines {
                t.push_str(&format!("{owner} {l}\n"));
            }
        }
        t
    }
}

fn mutate(state: &mut State, rng: &mut StdRng) -> String {
    let i = rng.gen_range(0..12u64);
    match rng.gen_range(0..9u64) {
        0 | 1 => {
            let owner = format!("n{i}");
            state.0.insert(owner.clone(), vec![format!("IN A 192.0.2.{}", rng.gen_range(0..250u64) + 1)]);
            format!("set {owner}")
        }
        2 => {
            let owner = format!("n{i}");
            state.0.remove(&owner);
            format!("remove {owner}")
        }
        3 => {
            let owner = format!("n{i}");
            state.0.insert(owner.clone(), vec![format!("{} IN TXT \"ttl\"", 60 + rng.gen_range(0..3u64) * 60)]);
            format!("ttl {owner}")
        }
        4 => {
            // A delegation, secure or not, with glue below it.
            let owner = format!("d{}", i % 5);
            let mut lines = vec![format!("IN NS ns.{owner}")];
            if rng.gen_range(0..2u64) == 0 {
                lines.push("IN DS 31589 15 2 1B6E1C1B06B1C37F0D5A6E2C34A4C93E6D10D3E52B6E3F0F4E0A2D0B8C9A7E6D".into());
            }
            state.0.insert(owner.clone(), lines);
            state.0.insert(format!("ns.{owner}"), vec!["IN A 192.0.2.99".into()]);
            format!("delegate {owner}")
        }
        5 => {
            // The delegation goes; its glue stays and becomes authoritative.
            let owner = format!("d{}", i % 5);
            state.0.remove(&owner);
            format!("undelegate {owner}")
        }
        6 => {
            // A deep name: its ancestors become empty non-terminals.
            let owner = format!("x.y{}.e{}", i % 3, i % 2);
            state.0.insert(owner.clone(), vec!["IN A 192.0.2.7".into()]);
            format!("deep {owner}")
        }
        7 => {
            let owner = format!("x.y{}.e{}", i % 3, i % 2);
            state.0.remove(&owner);
            format!("remove deep {owner}")
        }
        _ => {
            // A delegation appears above existing data (occluding it).
            let owner = format!("e{}", i % 2);
            state.0.insert(owner.clone(), vec!["IN NS ns.example.net.".into()]);
            format!("cut at {owner}")
        }
    }
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
        let plan = prepare_update(base, &new, &touched, &zone_keys, &policy(denial), now, &RefreshPolicy::default())
            .unwrap()
            .expect("an NSEC3 change can be patched");
        let made = plan.items().len();
        let sigs = signatures(&plan);
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
fn nsec_chains_are_not_patched() {
    let text = State::default().text(1);
    let published = scratch(&text, &Denial::Nsec, NOW);
    let zone_keys: Vec<ZoneKey> = keys().iter().map(|k| k.1.clone()).collect();
    let next = content(&State::default().text(2));
    let plan = prepare_update(Arc::new(RwLock::new(published)), &next, &[], &zone_keys, &policy(&Denial::Nsec), NOW, &RefreshPolicy::default())
        .unwrap();
    assert!(plan.is_none());
}
