//! Resolver-level interop: NSD serves the signed example zone, a validating Unbound resolves
//! through it, and every answer must be secure (AD set) or, where the protocol says so, insecure —
//! never SERVFAIL. One body runs for each denial mode (NSEC3, NSEC3 opt-out, NSEC).
//!
//! The `ldns_control_*` tests run the same questions against ldns-signzone's output: when they pass
//! and the frostzone ones fail, the fault is frostzone's, not the harness's.

use frostzone_tests::dig::Answer;
use frostzone_tests::resolver::Resolver;
use frostzone_tests::signers::{ldns_sign, SignedZoneDir, Simulate};
use frostzone_tests::programs::require;
use frostzone_tests::{example_zone, Denial};

const ORIGIN: &str = "example.com.";
const DAEMONS: &[&str] = &["nsd", "unbound", "dig"];

/// What a question must get back.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// NOERROR, AD, and at least one answer record of this type.
    Data(&'static str),
    /// NOERROR, AD, no answer record of the asked type (NODATA, RFC 2308).
    NoData,
    /// NXDOMAIN with AD.
    NxDomain,
    /// NOERROR and no DS: the delegation is insecure.
    InsecureNoDs,
}

/// Whether the proof needs an NSEC3 that *covers* (rather than matches) a name. Under opt-out
/// such an NSEC3 may carry the Opt-Out flag, and then the answer is provably insecure, not
/// provably secure (RFC 5155 §8.4, §9.2: "the response ... is insecure"): Unbound answers
/// without AD. It must still never answer SERVFAIL.
fn needs_covering_nsec3(name: &str, rtype: &str, expect: Expect) -> bool {
    matches!(expect, Expect::NxDomain | Expect::InsecureNoDs)
        || name.contains(".wild.")
        || (rtype == "DS" && !matches!(expect, Expect::Data(_)))
}

/// The questions, each chosen for a case signers get wrong.
const QUESTIONS: &[(&str, &str, Expect, &str)] = &[
    ("example.com.", "SOA", Expect::Data("SOA"), "apex SOA"),
    ("example.com.", "DNSKEY", Expect::Data("DNSKEY"), "apex DNSKEY"),
    ("ns1.example.com.", "A", Expect::Data("A"), "existing A"),
    ("example.com.", "MX", Expect::Data("MX"), "MX with mixed-case target (RFC 4034 §6.2)"),
    ("example.com.", "TXT", Expect::Data("TXT"), "TXT with spaces and quotes"),
    ("example.com.", "HTTPS", Expect::Data("HTTPS"), "HTTPS with root target"),
    ("example.com.", "CAA", Expect::Data("CAA"), "CAA"),
    ("_sip._tcp.example.com.", "SRV", Expect::Data("SRV"), "SRV target"),
    ("_443._tcp.www.example.com.", "TLSA", Expect::Data("TLSA"), "TLSA"),
    ("host.example.com.", "SSHFP", Expect::Data("SSHFP"), "SSHFP"),
    ("svc.example.com.", "SVCB", Expect::Data("SVCB"), "SVCB"),
    ("www.example.com.", "A", Expect::Data("CNAME"), "CNAME to the apex"),
    ("mixed.case.example.com.", "AAAA", Expect::Data("AAAA"), "mixed-case owner"),
    ("abc.example.com.", "A", Expect::Data("A"), "owner written \\065bc"),
    ("\\@sign.example.com.", "A", Expect::Data("A"), "owner with escaped @"),
    ("weird\\.label.example.com.", "TXT", Expect::Data("TXT"), "owner with escaped dot"),
    ("unknown.example.com.", "TYPE65280", Expect::Data("TYPE65280"), "RFC 3597 unknown type"),
    ("nonexistent.example.com.", "A", Expect::NxDomain, "nonexistent name"),
    ("zzzz.example.com.", "AAAA", Expect::NxDomain, "nonexistent name after the last"),
    ("mail.example.com.", "TXT", Expect::NoData, "NODATA at an existing name"),
    ("example.com.", "SRV", Expect::NoData, "NODATA at the apex"),
    ("foo.wild.example.com.", "A", Expect::Data("A"), "wildcard expansion"),
    ("foo.bar.wild.example.com.", "TXT", Expect::Data("TXT"), "wildcard, two labels deep"),
    ("foo.wild.example.com.", "MX", Expect::NoData, "wildcard NODATA"),
    ("a.b.c.example.com.", "A", Expect::Data("A"), "name under empty non-terminals"),
    ("b.c.example.com.", "A", Expect::NoData, "empty non-terminal"),
    ("c.example.com.", "TXT", Expect::NoData, "empty non-terminal, one up"),
    ("x.b.c.example.com.", "A", Expect::NxDomain, "nonexistent name under an empty non-terminal"),
    ("secure.example.com.", "DS", Expect::Data("DS"), "DS at a secure delegation"),
    ("insecure.example.com.", "DS", Expect::InsecureNoDs, "no DS at an insecure delegation"),
    ("outsourced.example.com.", "DS", Expect::InsecureNoDs, "no DS, out-of-zone servers"),
];

fn judge(denial: Denial, name: &str, rtype: &str, expect: Expect, a: &Answer) -> Option<String> {
    let has = |t: &str| !a.records(t).is_empty();
    let problem = if a.status == "SERVFAIL" {
        Some("SERVFAIL (validation failed: see Unbound's log below)".to_string())
    } else {
        match expect {
            Expect::Data(t) if a.status != "NOERROR" || !has(t) => {
                Some(format!("want NOERROR with {t} in the answer"))
            }
            Expect::NoData if a.status != "NOERROR" || has(rtype) => {
                Some("want NOERROR with an empty answer (NODATA)".to_string())
            }
            Expect::NxDomain if a.status != "NXDOMAIN" => Some("want NXDOMAIN".to_string()),
            Expect::InsecureNoDs if a.status != "NOERROR" || has(rtype) => {
                Some("want NOERROR without DS".to_string())
            }
            _ => {
                let ad_needed = !(denial == Denial::Nsec3OptOut
                    && needs_covering_nsec3(name, rtype, expect));
                (ad_needed && !a.ad()).then(|| "AD flag missing (answer not validated)".to_string())
            }
        }
    };
    problem.map(|p| {
        format!(
            "{name} {rtype}: got {} flags [{}]: {p}",
            a.status,
            a.flags.join(" ")
        )
    })
}

/// Serves `signed` and asks every question; panics with every wrong answer and the daemon logs.
fn resolve_everything(signed: &SignedZoneDir, denial: Denial) {
    let resolver = Resolver::start(signed);
    let mut failures = Vec::new();
    let mut transcripts = Vec::new();
    for &(name, rtype, expect, why) in QUESTIONS {
        let a = resolver.query(name, rtype);
        if let Some(f) = judge(denial, name, rtype, expect, &a) {
            failures.push(format!("  {f}   ({why})"));
            transcripts.push(a.text.clone());
        }
    }
    assert!(
        failures.is_empty(),
        "{} served by NSD, validated by Unbound: {} of {} answers wrong:\n{}\n\
         === dig output of the failures ===\n{}\n=== logs ===\n{}",
        signed.label,
        failures.len(),
        QUESTIONS.len(),
        failures.join("\n"),
        transcripts.join("\n"),
        resolver.logs()
    );
}

fn frostzone_case(test: &str, denial: Denial) {
    if !require(test, DAEMONS) {
        return;
    }
    let mut sim = Simulate::new(example_zone(), ORIGIN);
    sim.denial = denial;
    resolve_everything(&sim.sign(), denial);
}

fn ldns_case(test: &str, denial: Denial) {
    if !require(test, &["nsd", "unbound", "dig", "ldns-signzone", "ldns-keygen", "ldns-key2ds"]) {
        return;
    }
    resolve_everything(&ldns_sign(&example_zone(), ORIGIN, denial), denial);
}

#[test]
fn resolver_nsec3() {
    frostzone_case("resolver_nsec3", Denial::Nsec3);
}

#[test]
fn resolver_nsec3_opt_out() {
    frostzone_case("resolver_nsec3_opt_out", Denial::Nsec3OptOut);
}

#[test]
fn resolver_nsec() {
    frostzone_case("resolver_nsec", Denial::Nsec);
}

#[test]
fn resolver_csk() {
    if !require("resolver_csk", DAEMONS) {
        return;
    }
    let mut sim = Simulate::new(example_zone(), ORIGIN);
    sim.csk = true;
    resolve_everything(&sim.sign(), Denial::Nsec3);
}

#[test]
fn ldns_control_nsec3() {
    ldns_case("ldns_control_nsec3", Denial::Nsec3);
}

#[test]
fn ldns_control_nsec3_opt_out() {
    ldns_case("ldns_control_nsec3_opt_out", Denial::Nsec3OptOut);
}

#[test]
fn ldns_control_nsec() {
    ldns_case("ldns_control_nsec", Denial::Nsec);
}
