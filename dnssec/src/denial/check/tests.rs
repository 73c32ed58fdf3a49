//! Unit tests of the denial check on small zones built without signing.

use std::path::Path;
use std::str::FromStr;

use domain::base::iana::Rtype;
use domain::base::Ttl;
use domain::rdata::{ZoneRecordData, A};

use super::*;
use crate::denial::{add_denial, Denial, Nsec3Config};
use crate::load::load_zone_text;
use crate::name::CanonicalName;
use crate::zone::{InputKind, Rdata, Rrset, Zone};

fn apex() -> StoredName {
    StoredName::from_str("example.").unwrap()
}

fn name(s: &str) -> StoredName {
    StoredName::from_str(s).unwrap()
}

const OPT_OUT: Denial = Denial::Nsec3(Nsec3Config { iterations: 0, salt: Vec::new(), opt_out: true });

/// The proposed RRsets of `body` with its denial chain.
fn version(body: &str, denial: &Denial) -> Zone {
    let text = format!("$TTL 3600\n@ IN SOA ns1 hm 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n{body}");
    let mut zone = Zone::from_records(apex(), load_zone_text(&text, Path::new("t"), &apex()).unwrap(), InputKind::Unsigned).unwrap();
    add_denial(&mut zone, denial).unwrap();
    Zone::from_rrsets(apex(), zone.proposed_rrsets().into_iter().cloned())
}

fn a_record(owner: &str) -> Rrset {
    Rrset::new(name(owner), Rtype::A, Ttl::from_secs(3600), vec![Rdata::new(ZoneRecordData::A(A::from_octets(192, 0, 2, 1)))])
}

fn verdict(base: &Zone, change: &Increment) -> Result<IncrementCheck, DenialFindings> {
    check_increment(base.apex(), &ZoneSource::new(base), change).unwrap_or_else(|e| match e {})
}

#[test]
fn proposed_rrsets_leave_out_glue_but_keep_delegation_ns() {
    let zone = version("d IN NS ns.d\nns.d IN A 192.0.2.1\n", &Denial::Nsec);
    assert!(zone.node(&name("ns.d.example.")).is_none());
    assert!(zone.node(&name("d.example.")).unwrap().get(Rtype::NS).is_some());
    assert_eq!(check_whole(&zone), Ok(DenialMode::Nsec));
}

#[test]
fn an_increment_must_hold_what_its_keys_say_inside_the_zone() {
    let base = version("www IN A 192.0.2.1\n", &Denial::Nsec);
    let mut change = Increment::default();
    change.puts.insert((CanonicalName(name("a.example.")), Rtype::A.to_int()), a_record("b.example."));
    change.put(a_record("www.example.net."));
    change.put(a_record("both.example."));
    change.remove(&name("both.example."), Rtype::A);
    let findings = verdict(&base, &change).unwrap_err().to_string();
    for expected in ["a.example. A: put under this owner and type holds b.example. A", "outside the zone example.", "both.example. A: both put and removed"] {
        assert!(findings.contains(expected), "{expected} in {findings}");
    }
    let mut change = Increment::default();
    change.remove(&name("nothing.example."), Rtype::TXT);
    let findings = verdict(&base, &change).unwrap_err().to_string();
    assert!(findings.contains("nothing.example. TXT: removed, but the baseline has no such RRset"), "{findings}");
}

#[test]
fn data_below_a_cut_is_refused_whole_and_incremental() {
    for denial in [Denial::Nsec, Denial::default(), OPT_OUT] {
        let base = version("e IN A 192.0.2.1\nx.e IN A 192.0.2.2\n", &denial);
        // The cut appears but the data below it stays.
        let next = version("e IN NS ns.example.net.\nx.e IN A 192.0.2.2\n", &denial);
        let mut change = Increment::between(base.proposed_rrsets(), next.proposed_rrsets());
        change.removed.remove(&(CanonicalName(name("x.e.example.")), Rtype::A.to_int()));
        let findings = verdict(&base, &change).unwrap_err().to_string();
        assert!(findings.contains("x.e.example. A: is below the zone cut e.example. gains"), "{denial:?}: {findings}");
        let mut whole = base.clone();
        change.apply_to(&mut whole);
        let findings = check_whole(&whole).unwrap_err().to_string();
        assert!(findings.contains("x.e.example. A: is below the zone cut at e.example."), "{denial:?}: {findings}");
        // A put below an existing cut.
        let mut change = Increment::between(base.proposed_rrsets(), next.proposed_rrsets());
        change.remove(&name("x.e.example."), Rtype::A);
        change.put(a_record("y.e.example."));
        let findings = verdict(&base, &change).unwrap_err().to_string();
        assert!(findings.contains("y.e.example. A: is below the zone cut at e.example."), "{denial:?}: {findings}");
    }
}

#[test]
fn with_opt_out_an_empty_non_terminal_follows_its_secure_delegations() {
    let ds = "IN DS 31589 15 2 1B6E1C1B06B1C37F0D5A6E2C34A4C93E6D10D3E52B6E3F0F4E0A2D0B8C9A7E6D";
    let insecure = "a.ent IN NS ns.example.net.\nb.ent IN NS ns.example.net.\n";
    let secure = format!("{insecure}s.ent IN NS ns.example.net.\ns.ent {ds}\n");
    let config = Nsec3Config { opt_out: true, ..Nsec3Config::default() };
    let ent_owner = CanonicalName(Nsec3Config::hashed_owner(&config.hash(&name("ent.example.")).unwrap(), &apex()).unwrap());
    for (from, to, ent_after) in [(insecure.to_string(), secure.clone(), true), (secure.clone(), insecure.to_string(), false)] {
        let base = version(&from, &OPT_OUT);
        let next = version(&to, &OPT_OUT);
        assert_eq!(next.node(&ent_owner.0).is_some(), ent_after);
        let change = Increment::between(base.proposed_rrsets(), next.proposed_rrsets());
        assert!(change.puts.contains_key(&(ent_owner.clone(), Rtype::NSEC3.to_int())) == ent_after);
        assert_eq!(verdict(&base, &change), Ok(IncrementCheck::Checked(DenialMode::Nsec3 { iterations: 0, salt: vec![], opt_out: true })));
        // Without the empty non-terminal's record (or with it kept).
        let mut bad = change.clone();
        if ent_after {
            bad.puts.remove(&(ent_owner.clone(), Rtype::NSEC3.to_int()));
        } else {
            bad.removed.remove(&(ent_owner.clone(), Rtype::NSEC3.to_int()));
        }
        let findings = verdict(&base, &bad).unwrap_err().to_string();
        let expected = if ent_after { "missing: the chain derived from the content has one for ent.example." } else { "it is for ent.example., which has no data" };
        assert!(findings.contains(expected), "{findings}");
    }
}

#[test]
fn findings_are_capped_but_counted() {
    let zone = version(&(0..40).map(|i| format!("n{i} IN A 192.0.2.1\n")).collect::<String>(), &Denial::default());
    let mut broken = zone.clone();
    broken.remove_type(Rtype::NSEC3);
    let findings = check_whole(&broken).unwrap_err();
    assert_eq!(findings.findings.len(), MAX_FINDINGS);
    assert_eq!(findings.total, 42, "40 names, the apex and ns1");
    assert!(findings.to_string().starts_with("42 denial findings (the first 20 shown)\n  "), "{findings}");
}

#[test]
fn the_mode_is_read_from_the_apex() {
    let nsec3 = version("", &Denial::Nsec3(Nsec3Config { iterations: 1, salt: vec![0xab], opt_out: false }));
    let mode = check_whole(&nsec3).unwrap();
    assert_eq!(mode.to_string(), "NSEC3 (1 extra iterations, salt AB)");
    assert_eq!(mode.denial(), Denial::Nsec3(Nsec3Config { iterations: 1, salt: vec![0xab], opt_out: false }));
    let mut none = nsec3.clone();
    for t in [Rtype::NSEC3, Rtype::NSEC3PARAM] {
        none.remove_type(t);
    }
    let findings = check_whole(&none).unwrap_err();
    assert_eq!(findings.findings[0].to_string(), "example. NSEC: no NSEC or NSEC3PARAM record at the apex: no denial records at all (RFC 4035 §2.3, RFC 5155 §7.1)");
    let base = version("", &Denial::Nsec);
    assert!(matches!(verdict(&none, &Increment::default()), Ok(IncrementCheck::NeedsWhole(_))));
    assert_eq!(verdict(&base, &Increment::default()), Ok(IncrementCheck::Checked(DenialMode::Nsec)));
}
