//! The incremental denial check (`check_increment`) over seeded random
//! sequences of changes — names added and removed, TTL changes,
//! delegations with and without DS and glue appearing and going, cuts over
//! existing data, empty non-terminals appearing and vanishing, DNAME — in
//! NSEC3, NSEC3 opt-out and NSEC: every honest increment is `Checked` and
//! agrees with the whole check, and every tampered one is refused.

mod support;
#[path = "support/random_zone.rs"]
mod random_zone;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use domain::base::iana::Rtype;
use domain::rdata::ZoneRecordData;
use frostzone_dnssec::change_set::ZoneContent;
use frostzone_dnssec::denial::check::{check_increment, Increment, IncrementCheck, ZoneSource};
use frostzone_dnssec::denial::Denial;
use frostzone_dnssec::domain;
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::present::{rdata_text, zone_text};
use frostzone_dnssec::signing::refresh::RefreshPolicy;
use frostzone_dnssec::signing::SigningPolicy;
use frostzone_dnssec::signing::incremental::prepare_update;
use frostzone_dnssec::zone::{Rdata, Rrset, Zone};
use rand::rngs::StdRng;
use rand::SeedableRng;
use random_zone::{mutate, State};
use support::*;

fn describe(change: &Increment) -> Vec<String> {
    let mut out: Vec<String> = change
        .puts
        .values()
        .flat_map(|r| r.rdata.iter().map(move |d| format!("+ {} {} {} {}", r.owner, r.ttl.as_secs(), r.rtype, rdata_text(&d.data()))))
        .collect();
    out.extend(change.removed.iter().map(|(n, t)| format!("- {n} {}", Rtype::from_int(*t))));
    out
}

/// The next version made by the coordinator's incremental signing
/// (`prepare_update`) from the previous signed one.
fn patched(published: &Zone, old_text: &str, new_text: &str, denial: &Denial) -> Zone {
    let apex = name("example.");
    let content = |t: &str| ZoneContent::new(apex.clone(), load_zone_text(t, Path::new("t.zone"), &apex).unwrap());
    let (old, new) = (content(old_text), content(new_text));
    let set = ZoneContent::compare(&old, &new).unwrap();
    let touched: Vec<_> = set.removed.iter().chain(&set.added).map(|r| (r.record.owner().clone(), r.record.rtype())).collect();
    let policy = SigningPolicy { denial: denial.clone(), ..SigningPolicy::default() };
    let base = Arc::new(RwLock::new(published.clone()));
    let plan = prepare_update(base.clone(), frostzone_dnssec::signing::read_zone(&base).signature_count(), &new, &touched, &[], &keys(), &policy, NOW, &RefreshPolicy::default()).unwrap().unwrap();
    let signatures = vec![[0u8; 64]; plan.items().len()];
    plan.complete(signatures).unwrap()
}

/// The chain record a tampering starts from: one the change puts, or one
/// of the next version.
fn target(next: &Zone, change: &Increment, rtype: Rtype, step: usize) -> Rrset {
    let puts: Vec<&Rrset> = change.puts.values().filter(|r| r.rtype == rtype).collect();
    if !puts.is_empty() {
        return puts[step % puts.len()].clone();
    }
    let all = chain(next);
    all[step % all.len()].clone()
}

/// Tamperings of an honest increment, each with what it is.
fn tampered(prev: &Zone, next: &Zone, change: &Increment, denial: &Denial, step: usize) -> Vec<(String, Increment)> {
    let nsec3 = matches!(denial, Denial::Nsec3(_));
    let rtype = if nsec3 { Rtype::NSEC3 } else { Rtype::NSEC };
    let ring = chain(next);
    let t = target(next, change, rtype, step);
    let at = ring.iter().position(|r| r.owner == t.owner).unwrap_or(0);
    let after_next = &ring[(at + 2) % ring.len()];
    let mut out: Vec<(String, Increment)> = Vec::new();
    let mut put = |what: &str, rrset: Rrset| {
        let mut c = change.clone();
        c.put(rrset);
        out.push((what.to_string(), c));
    };
    put("bitmap bit added", edited(&t, |f| f.types.push(Rtype::HINFO)));
    put("bitmap changed", edited(&t, |f| if f.types.is_empty() { f.types.push(Rtype::A) } else { f.types.remove(0); }));
    put("wrong TTL", edited(&t, |f| f.ttl += 1));
    if nsec3 {
        put("next hashed owner changed", edited(&t, |f| f.next_hash[19] ^= 1));
        put("next skips an existing name", edited(&t, |f| f.next_hash = hash_of(after_next)));
        put("Opt-Out flag flipped", edited(&t, |f| f.flags ^= 1));
        put("opt-out record spanning the ring", edited(&t, |f| {
            f.flags |= 1;
            f.next_hash = hash_of(&t);
        }));
        let opt_out = fields(&t).flags & 1 == 1;
        put("NSEC3 for a name that does not exist", nsec3_for(&name(&format!("nonexistent{step}.example.")), next.apex(), &hash_of(&t), &[Rtype::A, Rtype::RRSIG], opt_out, t.ttl.as_secs()));
        let mut param = next.node(next.apex()).unwrap().get(Rtype::NSEC3PARAM).unwrap().clone();
        let ZoneRecordData::Nsec3param(p) = param.rdata[0].data() else { panic!() };
        param.rdata = vec![Rdata::new(ZoneRecordData::Nsec3param(domain::rdata::Nsec3param::new(p.hash_algorithm(), 0, 1, p.salt().clone())))];
        put("NSEC3PARAM iterations changed", param);
        put("NSEC in an NSEC3 zone", {
            let nsec = ZoneRecordData::Nsec(domain::rdata::Nsec::new(next.apex().clone(), bitmap(&[Rtype::A])));
            Rrset::new(name("n1.example."), Rtype::NSEC, t.ttl, vec![Rdata::new(nsec)])
        });
    } else {
        put("NSEC mislinked", edited(&t, |f| f.next_name = Some(after_next.owner.clone())));
        put("NSEC for a name that does not exist", {
            let mut r = t.clone();
            r.owner = name(&format!("nonexistent{step}.example."));
            r
        });
        put("NSEC3 in an NSEC zone", nsec3_for(&name("n1.example."), next.apex(), &[0; 20], &[Rtype::A], false, t.ttl.as_secs()));
    }
    // A delegation with a put below it.
    if let Some((cut, _)) = next.nodes().find(|(k, n)| n.get(Rtype::NS).is_some() && k.0 != *next.apex()) {
        let below = name(&format!("below.{}.", cut.0));
        put("put below a delegation", Rrset::new(below, Rtype::A, t.ttl, vec![Rdata::new(ZoneRecordData::A("192.0.2.1".parse().unwrap()))]));
    }
    // A chain record of a name the change does not touch, removed.
    if let Some(r) = ring.iter().find(|r| !change.puts.contains_key(&(r.owner.clone().into(), rtype.to_int()))) {
        let mut c = change.clone();
        c.remove(&r.owner, rtype);
        out.push(("untouched record removed".into(), c));
    }
    // A re-link left out: a put that only moves the next field.
    let relinks = change.puts.values().filter(|r| {
        r.rtype == rtype
            && prev.node(&r.owner).and_then(|n| n.get(rtype)).is_some_and(|old| {
                let (o, n) = (fields(old), fields(r));
                o.types == n.types && o.flags == n.flags && (o.next_hash != n.next_hash || o.next_name != n.next_name)
            })
    });
    for r in relinks {
        let mut c = change.clone();
        c.puts.remove(&(r.owner.clone().into(), rtype.to_int()));
        out.push((format!("re-link of {} left out", r.owner), c));
    }
    // The removal of a chain record for a name that goes, dropped.
    for key in change.removed.iter().filter(|(_, t)| *t == rtype.to_int()) {
        let mut c = change.clone();
        c.removed.remove(key);
        out.push((format!("removal of {} {} dropped", key.0, rtype), c));
    }
    out.retain(|(_, c)| describe(c) != describe(change));
    out
}

fn run(denial: &Denial, seed: u64, steps: usize) {
    let mode = mode_of(denial);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut state = State::default();
    for i in 0..6 {
        state.0.insert(format!("n{i}"), vec![format!("IN A 192.0.2.{}", i + 1)]);
    }
    let apex = name("example.");
    let mut text = state.text(1);
    let mut prev_signed = sign(unsigned(&text, &apex), denial);
    let mut prev = proposed(&prev_signed);
    let (mut refused, mut checked) = (0, 0);
    let mut seen: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for step in 0..steps {
        let what = mutate(&mut state, &mut rng);
        let next_text = state.text(step as u32 + 2);
        let next_signed = sign(unsigned(&next_text, &apex), denial);
        let next = proposed(&next_signed);
        let context = format!("{denial:?} seed {seed} step {step} ({what})");
        let change = Increment::between(prev.proposed_rrsets(), next.proposed_rrsets());
        let by_patch = proposed(&patched(&prev_signed, &text, &next_text, denial));
        let change_by_patch = Increment::between(prev.proposed_rrsets(), by_patch.proposed_rrsets());
        assert_eq!(describe(&change_by_patch), describe(&change), "{context}: the patch and a whole signing differ");
        let verdict = check_increment(&apex, &ZoneSource::new(&prev), &change).unwrap();
        assert_eq!(verdict, Ok(IncrementCheck::Checked(mode.clone())), "{context}:\n{}", describe(&change).join("\n"));
        let mut materialized = prev.clone();
        change.apply_to(&mut materialized);
        assert_eq!(zone_text(&materialized), zone_text(&next), "{context}: applying the increment");
        assert_eq!(check_whole(&next), Ok(mode.clone()), "{context}");
        // Re-signing puts (unchanged content) of names the change does not
        // touch are accepted.
        let mut resigned = change.clone();
        for rrset in chain(&prev).iter().chain(prev.node(&name(&format!("n{}.example.", step % 6))).into_iter().flat_map(|n| n.rrsets.values())).step_by(3) {
            if !change.puts.keys().chain(&change.removed).any(|(n, _)| n.0 == rrset.owner) {
                resigned.put(rrset.clone());
            }
        }
        let verdict = check_increment(&apex, &ZoneSource::new(&prev), &resigned).unwrap();
        assert_eq!(verdict, Ok(IncrementCheck::Checked(mode.clone())), "{context}: with re-signing puts");
        for (tampering, bad) in tampered(&prev, &next, &change, denial, step) {
            let refusal = refusal(&prev, &bad);
            let Some(refusal) = refusal else { panic!("{context}: {tampering} was accepted:\n{}", describe(&bad).join("\n")) };
            // The whole check of the same version refuses it too.
            let mut whole = prev.clone();
            bad.apply_to(&mut whole);
            assert!(check_whole(&whole).is_err(), "{context}: {tampering}: refused incrementally ({refusal}) but not whole");
            let kind = tampering.split(" of ").next().unwrap_or_default().split(" removal").next().unwrap_or_default().to_string();
            seen.entry(kind).or_insert((0, refusal)).0 += 1;
            refused += 1;
        }
        checked += 1;
        (prev, prev_signed, text) = (next, next_signed, next_text);
    }
    println!("{denial:?} seed {seed}: {checked} increments checked, {refused} tampered ones refused");
    for (kind, (count, first)) in seen {
        println!("  {count} × {kind}, first refused with: {}", first.lines().take(2).collect::<Vec<_>>().join(" / "));
    }
}

#[test]
fn increments_pass_and_tampered_increments_fail_nsec3() {
    for seed in 1..=4 {
        run(&modes()[1], seed, 40);
    }
}

#[test]
fn increments_pass_and_tampered_increments_fail_nsec3_opt_out() {
    for seed in 5..=8 {
        run(&modes()[2], seed, 40);
    }
}

#[test]
fn increments_pass_and_tampered_increments_fail_nsec() {
    for seed in 9..=12 {
        run(&modes()[0], seed, 40);
    }
}

#[test]
fn global_changes_need_the_whole_version() {
    let apex = name("example.");
    let text = |soa_min: u32, extra: &str| {
        format!("$TTL 3600\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 {soa_min}\n@ IN NS ns1\nns1 IN A 192.0.2.53\nd IN NS ns.example.net.\n{extra}")
    };
    let [nsec, nsec3, opt_out] = modes();
    let cases = [
        ("denial TTL", text(300, ""), &nsec3, text(600, ""), &nsec3),
        ("opt-out switched on", text(300, ""), &nsec3, text(300, ""), &opt_out),
        ("NSEC to NSEC3", text(300, ""), &nsec, text(300, ""), &nsec3),
        ("NSEC3 to NSEC", text(300, ""), &nsec3, text(300, ""), &nsec),
    ];
    for (what, old, old_mode, new, new_mode) in cases {
        let prev = proposed(&sign(unsigned(&old, &apex), old_mode));
        let next = proposed(&sign(unsigned(&new, &apex), new_mode));
        let change = Increment::between(prev.proposed_rrsets(), next.proposed_rrsets());
        let verdict = check_increment(&apex, &ZoneSource::new(&prev), &change).unwrap();
        assert!(matches!(verdict, Ok(IncrementCheck::NeedsWhole(_))), "{what}: {verdict:?}");
        let mut materialized = prev.clone();
        change.apply_to(&mut materialized);
        assert_eq!(check_whole(&materialized), Ok(mode_of(new_mode)), "{what}");
    }
}
