//! `validate_patch` against patches made independently of any planner:
//! two versions of a zone are signed from scratch at the same time (Ed25519
//! is deterministic, so unchanged RRsets get the same signatures) and the
//! patch is every name whose records differ. Good patches must validate,
//! and so must the zone they make; tampered ones must be caught by name.

use std::collections::BTreeSet;
use std::str::FromStr;

#[path = "support/example_keys.rs"]
mod example_keys;

use bytes::Bytes;
use ed25519_dalek::Signer;
use frostzone_dnssec::denial::{Denial, Nsec3Config};
use frostzone_dnssec::domain::base::iana::{Class, Rtype};
use frostzone_dnssec::domain::base::Record;
use frostzone_dnssec::domain::dnssec::validator::base::RrsigExt;
use frostzone_dnssec::domain::rdata::nsec3::OwnerHash;
use frostzone_dnssec::domain::rdata::{Nsec3, Rrsig, ZoneRecordData};
use frostzone_dnssec::keys::{KeyRole, ZoneKey};
use frostzone_dnssec::name::CanonicalName;
use frostzone_dnssec::zone_patch::{ZonePatch, ZoneView};
use frostzone_dnssec::signing::{SigningPlan, SigningPolicy};
use frostzone_dnssec::validate::{validate_patch, validate_zone, validate_zone_incremental, Report, TrustAnchor, ValidationOptions, VerifiedSignatures};
use frostzone_dnssec::zone::{Node, Rdata, Zone};
use frostzone_dnssec::{StoredName, StoredRecord};

use example_keys::{apex, key, ksk, signatures, unsigned, zsk, KeyPair, NOW};

const DS: &str = "31589 15 2 1B6E1C1B06B1C37F0D5A6E2C34A4C93E6D10D3E52B6E3F0F4E0A2D0B8C9A7E6D";

fn base_text() -> String {
    format!(
        "$TTL 3600
@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.53
www IN A 192.0.2.1
www IN AAAA 2001:db8::1
mail IN MX 10 www
a.b.c IN A 192.0.2.9
sub IN NS ns.sub
sub IN DS {DS}
ns.sub IN A 192.0.2.77
insecure IN NS ns.example.net.
old IN TXT \"going\"
"
    )
}

fn name(s: &str) -> CanonicalName {
    CanonicalName(StoredName::from_str(s).unwrap())
}

/// The NSEC3 owner of `s` (RFC 9276 parameters, as signed here).
fn hashed(s: &str) -> CanonicalName {
    let hash = Nsec3Config::default().hash(&name(s).0).unwrap();
    CanonicalName(Nsec3Config::hashed_owner(&hash, &apex()).unwrap())
}

/// KSK, ZSK and, with `extra`, a second ZSK.
fn keys(extra: bool) -> Vec<KeyPair> {
    let mut out = vec![ksk(), zsk()];
    if extra {
        out.push(key(11, KeyRole::Zsk));
    }
    out
}

fn sign_with(text: &str, denial: &Denial, keys: &[KeyPair]) -> Zone {
    let policy = SigningPolicy { denial: denial.clone(), ..SigningPolicy::default() };
    let public: Vec<ZoneKey> = keys.iter().map(|(_, z)| z.clone()).collect();
    let plan = SigningPlan::prepare(unsigned(text), &public, &policy, NOW).unwrap();
    let sigs = signatures(&plan, keys);
    plan.complete(sigs).unwrap()
}

fn sign(text: &str, denial: &Denial) -> Zone {
    sign_with(text, denial, &keys(false))
}

/// `text` with the next serial, without the lines `remove`, plus `add`.
fn edit(text: &str, remove: &[&str], add: &str) -> String {
    let mut out: String = text.lines().filter(|l| !remove.contains(l)).map(|l| format!("{l}\n")).collect();
    out = out.replace("hostmaster 1 ", "hostmaster 2 ");
    out + add
}

/// Every record of a node, RRSIGs included, locations ignored.
fn records(node: Option<&Node>) -> BTreeSet<(u16, u32, Bytes)> {
    let mut out = BTreeSet::new();
    for rrset in node.map(|n| n.rrsets.values().collect::<Vec<_>>()).unwrap_or_default() {
        out.extend(rrset.rdata.iter().map(|r| (rrset.rtype.to_int(), rrset.ttl.as_secs(), r.canonical.clone())));
    }
    for sig in node.map(|n| n.signatures.as_slice()).unwrap_or_default() {
        let rdata = Rdata::new(ZoneRecordData::Rrsig(sig.rrsig.clone()));
        out.insert((Rtype::RRSIG.to_int(), sig.ttl.as_secs(), rdata.canonical));
    }
    out
}

/// The patch from `a` to `b`: every name whose records differ.
fn diff(a: &Zone, b: &Zone) -> ZonePatch {
    let mut patch = ZonePatch::default();
    let names: BTreeSet<CanonicalName> = a.nodes().chain(b.nodes()).map(|(k, _)| k.clone()).collect();
    for n in names {
        if records(a.node(&n.0)) != records(b.node(&n.0)) {
            patch.set(n.clone(), b.node(&n.0).cloned());
        }
    }
    patch
}

fn options() -> ValidationOptions {
    ValidationOptions { now: NOW, anchor: TrustAnchor::Ds(vec![keys(false)[0].1.ds(&apex())]), expiry_warning: 0 }
}

fn check(a: &Zone, patch: &ZonePatch) -> Report {
    validate_patch(&ZoneView::new(a, patch), &options(), &VerifiedSignatures::default()).0
}

fn errors(r: &Report) -> String {
    r.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
}

/// Some error contains every one of `needles`.
fn assert_finding(r: &Report, needles: &[&str]) {
    assert!(
        r.errors.iter().any(|e| needles.iter().all(|n| e.to_string().contains(n))),
        "no error with {needles:?}; errors:\n{}",
        errors(r)
    );
}

fn denials() -> Vec<Denial> {
    vec![Denial::Nsec3(Nsec3Config::default()), Denial::Nsec3(Nsec3Config { opt_out: true, ..Nsec3Config::default() }), Denial::Nsec]
}

/// The new version of `name` in `patch`, changed by `f`.
fn change(patch: &mut ZonePatch, name: &CanonicalName, f: impl FnOnce(&mut Node)) {
    let mut node = patch.get(name).flatten().expect("name in the patch").clone();
    f(&mut node);
    patch.set(name.clone(), Some(node));
}

/// `patch` without `names`.
fn without(patch: &ZonePatch, names: &[CanonicalName]) -> ZonePatch {
    let mut out = ZonePatch::default();
    for (k, n) in patch.iter().filter(|(k, _)| !names.contains(k)) {
        out.set(k.clone(), n.cloned());
    }
    out
}

/// Signs the `rtype` RRset of `node` again with the ZSK, so that only a
/// check other than the signature's can find what was done to it.
fn resign(owner: &CanonicalName, node: &mut Node, rtype: Rtype) {
    let zsk = &keys(false)[1];
    let rrset = node.rrsets.get(&rtype.to_int()).cloned().expect("the RRset the test changes");
    for sig in node.signatures.iter_mut().filter(|s| s.rrsig.type_covered() == rtype) {
        let r = &sig.rrsig;
        let mut set: Vec<StoredRecord> = rrset.rdata.iter().map(|d| Record::new(owner.0.clone(), Class::IN, rrset.ttl, d.data())).collect();
        let mut data = Vec::new();
        r.signed_data(&mut data, &mut set).unwrap();
        let signature = Bytes::copy_from_slice(&zsk.0.sign(&data).to_bytes());
        let (exp, inc) = (r.expiration(), r.inception());
        sig.rrsig = Rrsig::new(rtype, r.algorithm(), r.labels(), r.original_ttl(), exp, inc, r.key_tag(), r.signer_name().clone(), signature).unwrap();
    }
}

/// Replaces the NSEC3 record of `node` by `f(record)`, signed again.
fn edit_nsec3(owner: &CanonicalName, node: &mut Node, f: impl FnOnce(&Nsec3<Bytes>) -> Nsec3<Bytes>) {
    let set = node.rrsets.get_mut(&Rtype::NSEC3.to_int()).unwrap();
    let ZoneRecordData::Nsec3(n) = set.rdata[0].data() else { panic!("not NSEC3") };
    set.rdata[0] = Rdata::new(ZoneRecordData::Nsec3(f(&n)));
    resign(owner, node, Rtype::NSEC3);
}

/// The changes each denial mode is tried with: (what, lines removed,
/// lines added).
fn changes() -> Vec<(&'static str, Vec<String>, String)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        ("new name", vec![], "new IN A 192.0.2.10\n".into()),
        ("name removed", s(&["old IN TXT \"going\""]), String::new()),
        ("delegation with glue", vec![], "del IN NS ns.del\nns.del IN A 192.0.2.99\n".into()),
        ("secure delegation", vec![], format!("sdel IN NS ns.example.net.\nsdel IN DS {DS}\n")),
        ("empty non-terminal appears", vec![], "x.y.ent IN A 192.0.2.5\n".into()),
        ("empty non-terminals vanish", s(&["a.b.c IN A 192.0.2.9"]), String::new()),
        ("TTL change", s(&["www IN A 192.0.2.1"]), "www 60 IN A 192.0.2.1\n".into()),
        ("delegation removed, glue exposed", vec!["sub IN NS ns.sub".into(), format!("sub IN DS {DS}")], String::new()),
        ("DS added", vec![], format!("insecure IN DS {DS}\n")),
        ("cut over data", vec![], "c IN NS ns.example.net.\n".into()),
    ]
}

#[test]
fn patches_between_versions_signed_from_scratch_validate() {
    for denial in denials() {
        let a = sign(&base_text(), &denial);
        assert!(validate_zone(&a, &options()).is_valid());
        for (what, remove, add) in changes() {
            let remove: Vec<&str> = remove.iter().map(String::as_str).collect();
            let b = sign(&edit(&base_text(), &remove, &add), &denial);
            let patch = diff(&a, &b);
            assert!(!patch.is_empty() && patch.len() < b.nodes().count(), "{what}: {} names", patch.len());
            let report = check(&a, &patch);
            assert!(report.is_valid(), "{denial:?}, {what}:\n{}", errors(&report));
            assert!(report.stats.signatures > 0 && report.stats.signatures < b.signature_count(), "{what}");
            let mut applied = a.clone();
            applied.apply_patch(patch);
            assert!(diff(&applied, &b).is_empty());
            let whole = validate_zone(&applied, &options());
            assert!(whole.is_valid(), "{denial:?}, {what}:\n{}", errors(&whole));
        }
    }
}

#[test]
fn only_the_new_signatures_are_verified() {
    let denial = Denial::default();
    let a = sign(&base_text(), &denial);
    let (_, mut known) = validate_zone_incremental(&a, &options(), &VerifiedSignatures::default());
    let b = sign(&edit(&base_text(), &[], "new IN A 192.0.2.10\n"), &denial);
    let patch = diff(&a, &b);
    let view = ZoneView::new(&a, &patch);
    let (report, verified) = validate_patch(&view, &options(), &known);
    assert!(report.is_valid(), "{}", errors(&report));
    // SOA, the new A, the new NSEC3 and its predecessor's.
    let s = &report.stats;
    assert_eq!(s.signatures - s.signatures_known, 4, "{s:?}");
    assert!(s.signatures_known > 0 && s.signatures < b.signature_count());
    assert_eq!(verified.len(), s.signatures);
    assert_eq!(s.denial, "NSEC3");
    known.extend(verified);
    let (again, _) = validate_patch(&view, &options(), &known);
    assert_eq!(again.stats.signatures_known, again.stats.signatures);
}

/// The base zone, the one with a new name `new`, and the patch between.
fn new_name(denial: &Denial) -> (Zone, ZonePatch) {
    let a = sign(&base_text(), denial);
    let b = sign(&edit(&base_text(), &[], "new IN A 192.0.2.10\n"), denial);
    let patch = diff(&a, &b);
    assert!(check(&a, &patch).is_valid());
    (a, patch)
}

/// The NSEC3 records of `patch` that were in `a`: whose next field changed.
fn relinked(a: &Zone, patch: &ZonePatch) -> Vec<CanonicalName> {
    let has = |n: Option<&Node>| n.is_some_and(|n| n.get(Rtype::NSEC3).is_some());
    patch.iter().filter(|(k, n)| has(*n) && has(a.node(&k.0))).map(|(k, _)| k.clone()).collect()
}

/// `r` with another signature.
fn with_signature(r: &Rrsig<Bytes, StoredName>, signature: Bytes) -> Rrsig<Bytes, StoredName> {
    let (exp, inc) = (r.expiration(), r.inception());
    Rrsig::new(r.type_covered(), r.algorithm(), r.labels(), r.original_ttl(), exp, inc, r.key_tag(), r.signer_name().clone(), signature).unwrap()
}

type Tamper = Box<dyn Fn(&Zone, &mut ZonePatch)>;

/// Defects in the patch that adds `new.example.`: (what, denial, the
/// defect, the finding it must produce).
fn tampered() -> Vec<(&'static str, Denial, Tamper, Vec<String>)> {
    let (nsec3, nsec) = (Denial::default(), Denial::Nsec);
    let opt_out = Denial::Nsec3(Nsec3Config { opt_out: true, ..Nsec3Config::default() });
    let new = || name("new.example.");
    let owner = hashed("new.example.");
    let nsec3_record = |f: fn(&Zone, &Nsec3<Bytes>) -> Nsec3<Bytes>| -> Tamper {
        Box::new(move |a, p| change(p, &hashed("new.example."), |n| edit_nsec3(&hashed("new.example."), n, |r| f(a, r))))
    };
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        ("corrupted signature", nsec3.clone(), Box::new(move |_, p| change(p, &new(), |n| {
            let mut sig = n.signatures[0].rrsig.signature().to_vec();
            sig[5] ^= 0x40;
            n.signatures[0].rrsig = with_signature(&n.signatures[0].rrsig, Bytes::from(sig));
        })), v(&["new.example. RRSIG", "does not verify"])),
        ("changed RDATA under its old signature", nsec3.clone(), Box::new(|a, p| {
            let www = name("www.example.");
            let mut node = a.node(&www.0).unwrap().clone();
            node.rrsets.get_mut(&Rtype::A.to_int()).unwrap().rdata = vec![Rdata::new(ZoneRecordData::A("192.0.2.111".parse().unwrap()))];
            p.set(www, Some(node));
        }), v(&["www.example. RRSIG A", "does not verify"])),
        ("next hashed owner pointing at itself", nsec3.clone(), nsec3_record(|_, r| {
            let own = OwnerHash::from_octets(Bytes::from(Nsec3Config::default().hash(&name("new.example.").0).unwrap())).unwrap();
            Nsec3::new(r.hash_algorithm(), r.flags(), r.iterations(), r.salt().clone(), own, r.types().clone())
        }), vec![format!("{owner} NSEC3: next hashed owner is")]),
        ("wrong type bitmap", nsec3.clone(), nsec3_record(|a, r| {
            let www = a.node(&hashed("www.example.").0).unwrap().get(Rtype::NSEC3).unwrap();
            let ZoneRecordData::Nsec3(w) = www.rdata[0].data() else { panic!("not NSEC3") };
            Nsec3::new(r.hash_algorithm(), r.flags(), r.iterations(), r.salt().clone(), r.next_owner().clone(), w.types().clone())
        }), v(&["(for new.example.)", "type bitmap is A AAAA RRSIG, expected A RRSIG"])),
        ("opt-out flag unlike the chain", opt_out, nsec3_record(|_, r| {
            Nsec3::new(r.hash_algorithm(), 0, r.iterations(), r.salt().clone(), r.next_owner().clone(), r.types().clone())
        }), vec![format!("{owner} NSEC3: Opt-Out flag is clear but set in the rest of the chain")]),
        ("new name without its NSEC3", nsec3.clone(), Box::new(|_, p| *p = without(p, &[hashed("new.example.")])),
            v(&["new.example.: has no NSEC3 record"])),
        ("predecessor not relinked", nsec3.clone(), Box::new(|a, p| {
            let pred = relinked(a, p);
            assert_eq!(pred.len(), 1);
            *p = without(p, &pred);
        }), v(&["NSEC3: next hashed owner is", "expected"])),
        ("NSEC3 for no name that changed", nsec3, Box::new(|_, p| {
            let stray = hashed("nothere.example.");
            let mut node = p.get(&hashed("new.example.")).flatten().unwrap().clone();
            node.signatures.clear();
            node.rrsets.values_mut().for_each(|set| set.owner = stray.0.clone());
            p.set(stray, Some(node));
        }), v(&["NSEC3: is new but matches no name that changed"])),
        ("apex SOA removed", Denial::default(), Box::new(|_, p| change(p, &name("example."), |n| {
            n.rrsets.remove(&Rtype::SOA.to_int());
            n.signatures.retain(|s| s.rrsig.type_covered() != Rtype::SOA);
        })), v(&["example. SOA: the apex must have exactly one SOA record"])),
        ("NSEC predecessor not relinked", nsec.clone(), Box::new(|_, p| *p = without(p, &[name("mail.example.")])),
            v(&["mail.example. NSEC: next name is ns1.example., expected new.example."])),
        ("NSEC next name skipping a name", nsec, Box::new(move |_, p| change(p, &new(), |n| {
            let set = n.rrsets.get_mut(&Rtype::NSEC.to_int()).unwrap();
            let ZoneRecordData::Nsec(r) = set.rdata[0].data() else { panic!("not NSEC") };
            let skip = frostzone_dnssec::domain::rdata::Nsec::new(name("old.example.").0, r.types().clone());
            set.rdata[0] = Rdata::new(ZoneRecordData::Nsec(skip));
            resign(&new(), n, Rtype::NSEC);
        })), v(&["new.example. NSEC: next name is old.example., expected ns1.example."])),
    ]
}

#[test]
fn tampered_patches_are_named() {
    for (what, denial, tamper, needles) in tampered() {
        let (a, mut patch) = new_name(&denial);
        tamper(&a, &mut patch);
        let r = check(&a, &patch);
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        assert!(
            r.errors.iter().any(|e| needles.iter().all(|n| e.to_string().contains(n))),
            "{what}: no error with {needles:?}; errors:\n{}",
            errors(&r)
        );
        // Records changed on purpose were signed again: only the check
        // meant to catch each defect can.
        if !what.contains("signature") && !what.contains("RDATA") && !what.contains("no name") {
            assert!(!errors(&r).contains("does not verify"), "{what}: {}", errors(&r));
        }
    }
}

#[test]
fn nsec3_removed_for_a_name_that_exists_is_named() {
    // The name is not in the patch.
    let (a, mut patch) = new_name(&Denial::default());
    let www = hashed("www.example.");
    patch.set(www.clone(), None);
    let r = check(&a, &patch);
    assert_finding(&r, &[&format!("{www} NSEC3"), "removed, but no name that changed has this hash"]);
    // The name is in the patch (its TTL changed).
    let denial = Denial::default();
    let b = sign(&edit(&base_text(), &["www IN A 192.0.2.1"], "www 60 IN A 192.0.2.1\n"), &denial);
    let mut patch = diff(&a, &b);
    assert!(patch.contains(&name("www.example.")) && check(&a, &patch).is_valid());
    patch.set(www.clone(), None);
    let r = check(&a, &patch);
    assert_finding(&r, &["www.example.: has no NSEC3 record"]);
    assert_finding(&r, &[&format!("{www} NSEC3"), "removed, but www.example. still needs it"]);
}

#[test]
fn new_empty_non_terminal_without_nsec3_is_named() {
    let denial = Denial::default();
    let a = sign(&base_text(), &denial);
    let b = sign(&edit(&base_text(), &[], "x.y.ent IN A 192.0.2.5\n"), &denial);
    let patch = diff(&a, &b);
    let r = check(&a, &without(&patch, &[hashed("ent.example.")]));
    assert_finding(&r, &["ent.example.: has no NSEC3 record"]);
}

#[test]
fn glue_left_signed_below_a_new_delegation_is_named() {
    // The planner forgot the name below the new cut: the validator finds
    // it by itself (RFC 4035 §2.2).
    for denial in denials() {
        let a_text = base_text() + "ns.del IN A 192.0.2.99\n";
        let a = sign(&a_text, &denial);
        let b = sign(&edit(&a_text, &[], "del IN NS ns.del\n"), &denial);
        let patch = diff(&a, &b);
        assert!(check(&a, &patch).is_valid(), "{denial:?}");
        let r = check(&a, &without(&patch, &[name("ns.del.example."), hashed("ns.del.example.")]));
        assert_finding(&r, &["ns.del.example. RRSIG A", "A here is not authoritative"]);
        match denial {
            Denial::Nsec => assert_finding(&r, &["ns.del.example. NSEC", "below a zone cut"]),
            Denial::Nsec3(_) => assert_finding(&r, &["is for ns.del.example., which is below a zone cut"]),
        }
    }
}

#[test]
fn a_key_that_leaves_is_checked_everywhere() {
    // The DNSKEY RRset loses a ZSK: every signature it made is checked,
    // not only the patch's.
    let denial = Denial::default();
    let a = sign_with(&base_text(), &denial, &keys(true));
    let b = sign(&base_text(), &denial);
    let patch = diff(&a, &b);
    let r = check(&a, &patch);
    assert!(r.is_valid(), "{}", errors(&r));
    let apex_only = without(&patch, &patch.iter().map(|(k, _)| k.clone()).filter(|k| k.0 != apex()).collect::<Vec<_>>());
    assert_eq!(apex_only.len(), 1);
    let tag = keys(true)[2].1.key_tag();
    assert_finding(&check(&a, &apex_only), &["www.example. RRSIG A", &format!("no DNSKEY with key tag {tag}")]);
}

/// A zone with `n` insecure delegations, a version with one name more,
/// and the patch between; checks that validating the patch looks at a
/// handful of names, whatever `n` (its cost is in bench/pipeline.sh).
fn one_name_in(n: usize, denial: &Denial) {
    let mut text = base_text();
    for i in 0..n {
        text.push_str(&format!("d{i} IN NS ns.example.net.\n"));
    }
    let a = sign(&text, denial);
    let b = sign(&edit(&text, &[], "new IN A 192.0.2.10\n"), denial);
    let patch = diff(&a, &b);
    let r = check(&a, &patch);
    assert!(r.is_valid(), "{denial:?}: {}", errors(&r));
    assert!(r.stats.rrsets <= 12 && r.stats.signatures <= 16, "{denial:?}: {:?}", r.stats);
    assert!(r.stats.denial_records <= 6, "{denial:?}: {:?}", r.stats);
}

#[test]
fn a_one_name_change_in_a_large_zone_looks_at_a_few_names() {
    for denial in denials() {
        one_name_in(1500, &denial);
    }
}
