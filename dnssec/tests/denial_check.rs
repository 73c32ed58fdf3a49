//! The denial check a signer runs (`frostzone_dnssec::denial::check`) on
//! whole versions: zones signed by the signing plan pass in every denial
//! mode, tampered copies do not, and the incremental check of a one-name
//! change reads a few dozen entries of a zone of thousands.

mod support;

use std::path::{Path, PathBuf};

use domain::base::iana::Rtype;
use domain::rdata::ZoneRecordData;
use frostzone_dnssec::denial::check::{check_increment, Increment, IncrementCheck, ZoneSource};
use frostzone_dnssec::denial::Denial;
use frostzone_dnssec::domain;
use frostzone_dnssec::load::load_zone_file;
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::zone::{InputKind, Rdata, Rrset, Zone};
use frostzone_dnssec::StoredName;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::*;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example zones of the repository that load.
fn zone_files() -> Vec<(String, Zone)> {
    let mut paths = vec![workspace().join("examples/example.zone"), workspace().join("examples/include-demo.zone")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(workspace().join("tests/zones"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "zone"))
        .collect();
    more.sort();
    paths.extend(more);
    let mut out = Vec::new();
    for path in paths {
        let Ok(records) = load_zone_file(&path, &StoredName::root_bytes()) else { continue };
        let Some(apex) = records.iter().find(|r| r.record.rtype() == Rtype::SOA).map(|r| r.record.owner().clone()) else { continue };
        let Ok(zone) = Zone::from_records(apex, records, InputKind::Unsigned) else { continue };
        out.push((path.display().to_string(), zone));
    }
    assert!(out.len() >= 3, "example.zone, include-demo.zone and dnssec-input.zone load");
    out
}

/// A zone with every shape a chain has to get right: delegations with and
/// without DS and glue, empty non-terminals above names and above
/// insecure delegations only, a DNAME with data below it, a wildcard.
fn generated(seed: u64, names: usize) -> Zone {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut text = String::from("$TTL 3600\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n*.wild IN TXT \"w\"\n");
    for i in 0..names {
        let line = match rng.gen_range(0..8u32) {
            0 => format!("d{i} IN NS ns.d{i}\nns.d{i} IN A 192.0.2.9\n"),
            1 => format!("s{i} IN NS ns.example.net.\ns{i} IN DS 31589 15 2 1B6E1C1B06B1C37F0D5A6E2C34A4C93E6D10D3E52B6E3F0F4E0A2D0B8C9A7E6D\n"),
            2 => format!("x.y{i}.e{} IN A 192.0.2.7\n", i % 3),
            3 => format!("i{i}.ins{} IN NS ns.example.net.\n", i % 2),
            4 => format!("dn{i} IN DNAME target.example.net.\nx.dn{i} IN A 192.0.2.8\n"),
            _ => format!("n{i} IN A 192.0.2.{}\n", i % 250 + 1),
        };
        text.push_str(&line);
    }
    unsigned(&text, &name("example."))
}

#[test]
fn signed_zones_pass_in_every_mode() {
    let mut zones = zone_files();
    zones.push(("generated".into(), generated(1, 60)));
    zones.push(("generated small".into(), generated(2, 3)));
    for (what, zone) in zones {
        for denial in modes() {
            let proposed = proposed(&sign(zone.clone(), &denial));
            assert_eq!(check_whole(&proposed), Ok(mode_of(&denial)), "{what} {denial:?}");
        }
    }
}

fn replaced(zone: &Zone, rrset: Rrset) -> Zone {
    let mut z = zone.clone();
    z.node_mut(&rrset.owner).rrsets.insert(rrset.rtype.to_int(), rrset);
    z
}

fn without(zone: &Zone, owner: &StoredName, rtype: Rtype) -> Zone {
    let mut change = Increment::default();
    change.remove(owner, rtype);
    let mut z = zone.clone();
    change.apply_to(&mut z);
    z
}

type Tamper = fn(&Zone, &[Rrset], usize) -> Zone;

/// Tamperings with a chain record `chain[i]` (or the zone) and a word the
/// finding must contain.
fn tampers(denial: &Denial) -> Vec<(&'static str, &'static str, Tamper)> {
    let mut out: Vec<(&'static str, &'static str, Tamper)> = vec![
        ("bitmap bit added", "type bitmap", |z, c, i| replaced(z, edited(&c[i], |f| f.types.push(Rtype::HINFO)))),
        ("bitmap bit removed", "type bitmap", |z, c, i| {
            let r = c.iter().cycle().skip(i).find(|r| !fields(r).types.is_empty()).unwrap();
            replaced(z, edited(r, |f| { f.types.remove(0); }))
        }),
        ("record removed", "missing", |z, c, i| without(z, &c[i].owner, c[i].rtype)),
        ("wrong TTL", "TTL", |z, c, i| replaced(z, edited(&c[i], |f| f.ttl += 1))),
    ];
    match denial {
        Denial::Nsec => out.extend::<[(&'static str, &'static str, Tamper); 4]>([
            ("NSEC mislinked", "next owner", |z, c, i| {
                let skip = c[(i + 2) % c.len()].owner.clone();
                replaced(z, edited(&c[i], |f| f.next_name = Some(skip)))
            }),
            ("NSEC for a name that does not exist", "not part of the chain", |z, c, i| {
                let mut r = c[i].clone();
                r.owner = name(&format!("nonexistent.{}.", z.apex()));
                replaced(z, r)
            }),
            ("NSEC3 in an NSEC zone", "one kind of chain", |z, c, _| {
                replaced(z, nsec3_for(&name("n1.example."), z.apex(), &[0; 20], &[Rtype::A], false, c[0].ttl.as_secs()))
            }),
            ("no denial at all", "no denial records", |z, c, _| {
                let mut z = z.clone();
                for r in c {
                    z = without(&z, &r.owner, Rtype::NSEC);
                }
                z
            }),
        ]),
        Denial::Nsec3(_) => out.extend::<[(&'static str, &'static str, Tamper); 8]>([
            ("next hashed owner changed", "next hashed owner", |z, c, i| replaced(z, edited(&c[i], |f| f.next_hash = hash_of(&c[i])))),
            ("Opt-Out flag flipped on one record", "Opt-Out flag", |z, c, i| replaced(z, edited(&c[i], |f| f.flags ^= 1))),
            ("NSEC3 for a name that does not exist", "not part of the chain", |z, c, i| {
                let opt_out = fields(&c[i]).flags & 1 == 1;
                replaced(z, nsec3_for(&name("nonexistent.example."), z.apex(), &hash_of(&c[i]), &[Rtype::A, Rtype::RRSIG], opt_out, c[i].ttl.as_secs()))
            }),
            ("next skips an existing name", "next hashed owner", |z, c, i| {
                let skip = hash_of(&c[(i + 2) % c.len()]);
                replaced(z, edited(&c[i], |f| f.next_hash = skip))
            }),
            ("opt-out record spanning the ring", "next hashed owner", |z, c, i| {
                replaced(z, edited(&c[i], |f| {
                    f.flags |= 1;
                    f.next_hash = hash_of(&c[i]);
                }))
            }),
            ("NSEC3PARAM iterations changed", "iterations", |z, _, _| {
                let mut param = z.node(z.apex()).unwrap().get(Rtype::NSEC3PARAM).unwrap().clone();
                let ZoneRecordData::Nsec3param(p) = param.rdata[0].data() else { panic!() };
                let p = domain::rdata::Nsec3param::new(p.hash_algorithm(), p.flags(), 1, p.salt().clone());
                param.rdata = vec![Rdata::new(ZoneRecordData::Nsec3param(p))];
                replaced(z, param)
            }),
            ("NSEC beside NSEC3", "both NSEC and NSEC3", |z, c, _| {
                let nsec = ZoneRecordData::Nsec(domain::rdata::Nsec::new(z.apex().clone(), bitmap(&[Rtype::SOA])));
                replaced(z, Rrset::new(z.apex().clone(), Rtype::NSEC, c[0].ttl, vec![Rdata::new(nsec)]))
            }),
            ("NSEC3PARAM with Opt-Out", "flags", |z, _, _| {
                let mut param = z.node(z.apex()).unwrap().get(Rtype::NSEC3PARAM).unwrap().clone();
                let ZoneRecordData::Nsec3param(p) = param.rdata[0].data() else { panic!() };
                let p = domain::rdata::Nsec3param::new(p.hash_algorithm(), 1, p.iterations(), p.salt().clone());
                param.rdata = vec![Rdata::new(ZoneRecordData::Nsec3param(p))];
                replaced(z, param)
            }),
        ]),
    }
    out
}

#[test]
fn tampered_chains_are_refused_with_what_differs() {
    let example = zone_files().remove(0).1;
    for zone in [example, generated(3, 40)] {
        for denial in modes() {
            let proposed = proposed(&sign(zone.clone(), &denial));
            let chain = chain(&proposed);
            for (what, expect, tamper) in tampers(&denial) {
                for i in [1, chain.len() / 2, chain.len() - 1] {
                    let findings = check_whole(&tamper(&proposed, &chain, i)).expect_err(what);
                    let text = findings.to_string();
                    assert!(text.contains(expect), "{denial:?} {what} at {i}: expected \"{expect}\" in\n{text}");
                    assert!(findings.total >= findings.findings.len() && findings.findings.len() <= 20);
                }
            }
        }
    }
}

#[test]
fn findings_name_both_sides() {
    let proposed = proposed(&sign(generated(4, 10), &modes()[1]));
    let chain = chain(&proposed);
    let tampered = replaced(&proposed, edited(&chain[2], |f| f.next_hash = hash_of(&chain[2])));
    let findings = check_whole(&tampered).unwrap_err();
    let want = format!(
        "{} NSEC3: next hashed owner is {}, the chain derived from the content has {}",
        FqdnDisplay(&chain[2].owner),
        chain[2].owner.first(),
        chain[3].owner.first()
    );
    assert!(findings.findings[0].to_string().starts_with(&want), "{findings}\nwanted {want}");
}

/// The proposed RRsets of `text` signed in `denial`.
fn version(text: &str, denial: &Denial) -> Zone {
    proposed(&sign(unsigned(text, &name("example.")), denial))
}

#[test]
fn a_one_name_change_costs_a_few_dozen_lookups() {
    let mut body = String::new();
    for i in 0..3000 {
        body.push_str(&match i % 10 {
            0 => format!("d{i} IN NS ns.example.net.\n"),
            1 => format!("s{i} IN NS ns.example.net.\ns{i} IN DS 31589 15 2 1B6E1C1B06B1C37F0D5A6E2C34A4C93E6D10D3E52B6E3F0F4E0A2D0B8C9A7E6D\n"),
            2 => format!("x.y{i}.e{} IN A 192.0.2.7\n", i % 7),
            3 => format!("i{i}.ins IN NS ns.example.net.\n"),
            _ => format!("n{i} IN A 192.0.2.1\n"),
        });
    }
    body.push_str("s1.ins IN NS ns.example.net.\ns1.ins IN DS 31589 15 2 1B6E1C1B06B1C37F0D5A6E2C34A4C93E6D10D3E52B6E3F0F4E0A2D0B8C9A7E6D\n");
    let text = |serial: u32, body: &str| format!("$TTL 3600\n@ IN SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n{body}");
    let changes: [(&str, String); 5] = [
        ("add a name", format!("{body}new-name IN A 192.0.2.2\n")),
        ("remove a name", body.replace("n1504 IN A 192.0.2.1\n", "")),
        ("add a name below a new empty non-terminal", format!("{body}a.b.new IN A 192.0.2.2\n")),
        ("add an insecure delegation below an empty non-terminal", format!("{body}new.ins IN NS ns.example.net.\n")),
        ("remove the one secure delegation below an empty non-terminal", body.replace("s1.ins IN DS", "; s1.ins IN DS")),
    ];
    for denial in modes() {
        let base = version(&text(1, &body), &denial);
        for (what, changed) in &changes {
            let next = version(&text(2, changed), &denial);
            let change = Increment::between(base.proposed_rrsets(), next.proposed_rrsets());
            let source = Counting::new(ZoneSource::new(&base));
            let verdict = check_increment(base.apex(), &source, &change).unwrap();
            assert_eq!(verdict, Ok(IncrementCheck::Checked(mode_of(&denial))), "{denial:?} {what}");
            let lookups = source.lookups.get();
            println!("{denial:?}: {what}: {} RRsets change, {lookups} look-ups in {} names", change.puts.len() + change.removed.len(), base.nodes().count());
            // The walk below "ins" with opt-out crosses its insecure
            // delegations: the one case that is not proportional.
            let walks = what.starts_with("remove the one secure") && matches!(&denial, Denial::Nsec3(c) if c.opt_out);
            assert!(walks || lookups <= 40, "{denial:?} {what}: {lookups} look-ups");
        }
    }
}
