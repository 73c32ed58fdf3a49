//! Interop matrix: zones signed by `frostzone simulate` must be accepted by three independent
//! validators (ldns-verify-zone, BIND's dnssec-verify, Knot's kzonecheck) and by
//! `frostzone verify`, for every denial mode and key layout. Also: key import against ldns and
//! BIND keys, `$INCLUDE`, DNSSEC records in the input, and bad zones (exit 2, file and line named).

use std::path::Path;
use std::process::Command;

use frostzone_tests::signers::{frostzone_verify, ldns_ds, ldns_keygen, SignedZoneDir, Simulate};
use frostzone_tests::programs::{describe, require, run, run_ok};
use frostzone_tests::validators::assert_validators_accept;
use frostzone_tests::{
    directive, example_zone, expected_lines, frostzone_bin, mentioned_lines, test_zone,
    workspace_root, Denial,
};

const ORIGIN: &str = "example.com.";
const VALIDATORS: &[&str] = &["ldns-verify-zone", "dnssec-verify", "kzonecheck", "ldns-read-zone"];

/// The records of a zone file other than DNSSEC data and the SOA, canonical (RFC 4034 §6.2) and
/// sorted, as ldns reads them: what signing must carry over unchanged.
fn plain_records(zone: &Path) -> Vec<String> {
    let mut cmd = Command::new("ldns-read-zone");
    cmd.args(["-c", "-s", "-n"]).arg(zone);
    let out = run_ok(&mut cmd);
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            let t = l.split_whitespace().nth(3).unwrap_or("");
            !matches!(t, "DNSKEY" | "NSEC3PARAM" | "CDS" | "CDNSKEY")
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    lines
}

/// Signs the example zone, then runs every validator over it.
fn sign_and_validate(test: &str, denial: Denial, threshold: u16, signers: u16, csk: bool) {
    if !require(test, VALIDATORS) {
        return;
    }
    let mut sim = Simulate::new(example_zone(), ORIGIN);
    sim.denial = denial;
    sim.threshold = threshold;
    sim.signers = signers;
    sim.csk = csk;
    let signed = sim.sign();
    check_ds_line(&signed);
    assert_validators_accept(&signed.zone, ORIGIN, csk, &signed.label);
    frostzone_verify(&signed);

    let lost_or_changed: Vec<String> = {
        let after = plain_records(&signed.zone);
        plain_records(&example_zone())
            .into_iter()
            .filter(|r| !after.contains(r))
            .collect()
    };
    assert!(
        lost_or_changed.is_empty(),
        "{}: records of the input missing or changed in {}:\n{}",
        signed.label,
        signed.zone.display(),
        lost_or_changed.join("\n")
    );
}

/// The DS file holds `ORIGIN. TTL IN DS tag 15 2 HEX(64)`.
fn check_ds_line(signed: &SignedZoneDir) {
    let line = signed.ds_line();
    let f: Vec<&str> = line.split_whitespace().collect();
    let ok = f.len() == 8
        && f[0].eq_ignore_ascii_case(&signed.origin)
        && f[1].parse::<u32>().is_ok()
        && f[2] == "IN"
        && f[3] == "DS"
        && f[4].parse::<u16>().is_ok()
        && f[5] == "15"
        && f[6] == "2"
        && f[7].len() == 64
        && f[7].chars().all(|c| c.is_ascii_hexdigit());
    assert!(ok, "{}: DS file does not hold `ORIGIN. TTL IN DS tag 15 2 HEX`: {line:?}", signed.label);
}

#[test]
fn nsec3_2_of_3_validates() {
    sign_and_validate("nsec3_2_of_3_validates", Denial::Nsec3, 2, 3, false);
}

#[test]
fn nsec3_opt_out_3_of_5_validates() {
    sign_and_validate("nsec3_opt_out_3_of_5_validates", Denial::Nsec3OptOut, 3, 5, false);
}

#[test]
fn nsec_2_of_3_validates() {
    sign_and_validate("nsec_2_of_3_validates", Denial::Nsec, 2, 3, false);
}

#[test]
fn csk_3_of_5_validates() {
    sign_and_validate("csk_3_of_5_validates", Denial::Nsec3, 3, 5, true);
}

#[test]
fn csk_nsec_2_of_3_validates() {
    sign_and_validate("csk_nsec_2_of_3_validates", Denial::Nsec, 2, 3, true);
}

/// `frostzone verify` must refuse a zone with a changed record, and name that record.
#[test]
fn verify_rejects_tampered_record() {
    let signed = Simulate::new(example_zone(), ORIGIN).sign();
    let text = std::fs::read_to_string(&signed.zone).expect("read signed zone");
    let tampered_text = text.replacen("192.0.2.25", "192.0.2.26", 1);
    assert_ne!(text, tampered_text, "signed zone lacks mail.example.com. A 192.0.2.25");
    let tampered = signed.dir.path().join("tampered.zone");
    std::fs::write(&tampered, tampered_text).expect("write tampered zone");
    let mut cmd = Command::new(frostzone_bin());
    cmd.arg("verify").arg(&tampered).arg("--ds").arg(&signed.ds);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&cmd, &out));
    let report = String::from_utf8_lossy(&out.stdout).to_lowercase()
        + &String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        report.contains("mail.example.com"),
        "verify report does not name mail.example.com.:\n{}",
        describe(&cmd, &out)
    );
}

/// `frostzone verify` must refuse a zone whose KSK does not match the DS it is given.
#[test]
fn verify_rejects_wrong_ds() {
    let a = Simulate::new(example_zone(), ORIGIN).sign();
    let b = Simulate::new(example_zone(), ORIGIN).sign();
    assert_ne!(a.ds_line(), b.ds_line(), "two DKG runs gave the same DS");
    let mut cmd = Command::new(frostzone_bin());
    cmd.arg("verify").arg(&a.zone).arg("--ds").arg(&b.ds);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&cmd, &out));
}

/// The DS record's fields other than the TTL (owner lowercased, hex uppercased).
fn ds_identity(line: &str) -> Vec<String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    assert!(f.len() >= 8, "not a DS line: {line:?}");
    vec![
        f[0].to_lowercase(),
        f[2].to_string(),
        f[3].to_string(),
        f[4].to_string(),
        f[5].to_string(),
        f[6].to_string(),
        f[7..].concat().to_uppercase(),
    ]
}

/// The public key (base64) of the DNSKEY in a `.key` file.
fn key_file_public(key: &Path) -> String {
    let text = std::fs::read_to_string(key).expect("read .key");
    let line = text
        .lines()
        .find(|l| !l.starts_with(';') && l.contains("DNSKEY"))
        .expect(".key holds a DNSKEY");
    dnskey_public(line).expect("DNSKEY line").1
}

/// (flags, base64 public key) of a one-line DNSKEY record, ignoring a trailing `;` comment.
fn dnskey_public(line: &str) -> Option<(String, String)> {
    let line = line.split(';').next().unwrap_or("");
    let f: Vec<&str> = line.split_whitespace().collect();
    let i = f.iter().position(|&t| t == "DNSKEY")?;
    (f.len() > i + 4).then(|| (f[i + 1].to_string(), f[i + 4..].concat()))
}

fn import_case(test: &str, key_base: &Path, reference_ds: &str, csk: bool) {
    let mut private = key_base.as_os_str().to_owned();
    private.push(".private");
    let mut public = key_base.as_os_str().to_owned();
    public.push(".key");
    let mut sim = Simulate::new(example_zone(), ORIGIN);
    sim.import_key = Some(private.into());
    sim.csk = csk;
    let signed = sim.sign();
    assert_eq!(
        ds_identity(&signed.ds_line()),
        ds_identity(reference_ds),
        "{test}: DS from frostzone (left) differs from the reference tool's (right)\n  \
         frostzone: {}\n  reference: {reference_ds}",
        signed.ds_line()
    );
    let key = key_file_public(Path::new(&public));
    let zone = std::fs::read_to_string(&signed.zone).expect("read signed zone");
    assert!(
        zone.lines()
            .filter_map(dnskey_public)
            .any(|(flags, public)| flags == "257" && public == key),
        "{test}: signed zone has no DNSKEY 257 with the imported public key {key}"
    );
    assert_validators_accept(&signed.zone, ORIGIN, csk, test);
    frostzone_verify(&signed);
}

/// A key made by `ldns-keygen -a ED25519 -k` is split and used as KSK (and as CSK): the DS must
/// be the one ldns computes (`ldns-key2ds -n -2`).
#[test]
fn import_ldns_key() {
    if !require("import_ldns_key", &["ldns-keygen", "ldns-key2ds", "ldns-verify-zone", "dnssec-verify", "kzonecheck"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let base = ldns_keygen(dir.path(), ORIGIN, true);
    let mut key = base.as_os_str().to_owned();
    key.push(".key");
    let reference = ldns_ds(Path::new(&key));
    import_case("import_ldns_key (KSK)", &base, &reference, false);
    import_case("import_ldns_key (--csk)", &base, &reference, true);
}

/// A key made by BIND's `dnssec-keygen -a ED25519 -f KSK` (Private-key-format v1.3) works too.
#[test]
fn import_bind_key() {
    if !require("import_bind_key", &["dnssec-keygen", "dnssec-dsfromkey", "ldns-verify-zone", "dnssec-verify", "kzonecheck"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new("dnssec-keygen");
    cmd.current_dir(dir.path()).args(["-q", "-a", "ED25519", "-f", "KSK", "example.com"]);
    let out = run_ok(&mut cmd);
    let base = dir.path().join(String::from_utf8_lossy(&out.stdout).trim());
    let mut key = base.as_os_str().to_owned();
    key.push(".key");
    let mut cmd = Command::new("dnssec-dsfromkey");
    cmd.arg("-2").arg(&key);
    let reference = String::from_utf8_lossy(&run_ok(&mut cmd).stdout).trim().to_string();
    // dnssec-dsfromkey prints no TTL: `example.com. IN DS ...`; give it one for ds_identity.
    let reference = reference.replacen(" IN DS ", " 0 IN DS ", 1);
    import_case("import_bind_key", &base, &reference, false);
}

/// `$INCLUDE` paths are relative to the including file, not the working directory, and the
/// origin argument and restoration (RFC 1035 §5.1) are honoured.
#[test]
fn include_is_followed() {
    if !require("include_is_followed", VALIDATORS) {
        return;
    }
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let origin = "include-demo.example.";
    let zone = workspace_root().join("examples").join("include-demo.zone");
    let sim = Simulate::new(zone, origin);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("signed.zone");
    let ds = dir.path().join("ds.txt");
    let mut cmd = sim.command(&out, &ds);
    cmd.current_dir(elsewhere.path());
    let output = run(&mut cmd);
    assert!(output.status.success(), "{}", describe(&cmd, &output));
    let text = std::fs::read_to_string(&out).expect("read signed zone").to_lowercase();
    for name in [
        "www.include-demo.example.",
        "host1.lab.include-demo.example.",
        "lab.include-demo.example.",
        "after.include-demo.example.",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(name) && !l.contains("rrsig") && !l.contains("nsec")),
            "included data for {name} missing from {}",
            out.display()
        );
    }
    assert!(
        !text.contains("after.lab.include-demo.example."),
        "origin not restored after $INCLUDE with an origin argument"
    );
    assert_validators_accept(&out, origin, false, "include-demo.zone");
}

/// DNSSEC records in the input are dropped with a warning; the output still validates.
#[test]
fn dnssec_input_dropped_with_warning() {
    let zone = test_zone("dnssec-input.zone");
    let origin = "dnssecinput.test.";
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = Simulate::new(&zone, origin);
    let (out, signed, _ds) = sim.run_raw(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{}",
        describe(&sim.command(&signed, &dir.path().join("ds.txt")), &out)
    );
    assert!(
        stderr.to_lowercase().contains("warn"),
        "no warning on stderr about dropped DNSSEC input records; stderr was:\n{stderr}"
    );
    for t in ["RRSIG", "NSEC"] {
        assert!(stderr.contains(t), "warning does not mention dropped {t}; stderr was:\n{stderr}");
    }
    let text = std::fs::read_to_string(&signed).expect("read signed zone");
    assert!(!text.contains(" 12345 "), "input RRSIG (key tag 12345) kept in the output");
    assert!(
        !text.contains("l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4="),
        "input DNSKEY kept in the output"
    );
    if require("dnssec_input_dropped_with_warning", VALIDATORS) {
        assert_validators_accept(&signed, origin, false, "dnssec-input.zone");
    }
}

/// A bad zone: exit 2, stderr names the file and the line, no output written.
fn bad_zone(name: &str) {
    let zone = test_zone(name);
    let origin = directive(&zone, "origin").unwrap_or_else(|| {
        let text = std::fs::read_to_string(&zone).expect("read zone");
        text.lines()
            .find_map(|l| l.strip_prefix("$ORIGIN "))
            .expect("$ORIGIN in bad zone")
            .trim()
            .to_string()
    });
    let file = directive(&zone, "expect-file").unwrap_or_else(|| name.to_string());
    let lines = expected_lines(&zone);
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = Simulate::new(&zone, &origin);
    let (out, signed, ds) = sim.run_raw(dir.path());
    let shown = describe(&sim.command(&signed, &ds), &out);
    assert_eq!(out.status.code(), Some(2), "{name}: want exit 2\n{shown}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&file), "{name}: stderr does not name {file}\n{shown}");
    let mentioned = mentioned_lines(&stderr, &file);
    assert!(
        lines.iter().any(|l| mentioned.contains(l)),
        "{name}: stderr names lines {mentioned:?}, want one of {lines:?} \
         (as `{file}:N` or `line N`)\n{shown}"
    );
    assert!(!signed.exists(), "{name}: output zone written despite the error");
    assert!(!ds.exists(), "{name}: DS file written despite the error");
}

#[test]
fn bad_no_soa() {
    bad_zone("no-soa.zone");
}

#[test]
fn bad_no_apex_ns() {
    bad_zone("no-apex-ns.zone");
}

#[test]
fn bad_out_of_zone() {
    bad_zone("out-of-zone.zone");
}

#[test]
fn bad_cname_and_other() {
    bad_zone("cname-and-other.zone");
}

#[test]
fn bad_syntax_error() {
    bad_zone("syntax-error.zone");
}

#[test]
fn bad_error_inside_include() {
    bad_zone("bad-include.zone");
}

/// A zone file that does not exist: exit 2, the message names it.
#[test]
fn bad_missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such.zone");
    let sim = Simulate::new(&missing, ORIGIN);
    let (out, signed, ds) = sim.run_raw(dir.path());
    let shown = describe(&sim.command(&signed, &ds), &out);
    assert_eq!(out.status.code(), Some(2), "want exit 2\n{shown}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such.zone"), "{shown}");
}

/// Control: the example zone signed by ldns-signzone passes the same three validators, so a
/// frostzone failure above is frostzone's, not the example zone's or the harness's.
#[test]
fn ldns_control_validates() {
    if !require("ldns_control_validates", &["ldns-signzone", "ldns-keygen", "ldns-key2ds", "ldns-verify-zone", "dnssec-verify", "kzonecheck"]) {
        return;
    }
    for denial in Denial::ALL {
        let signed = frostzone_tests::signers::ldns_sign(&example_zone(), ORIGIN, denial);
        assert_validators_accept(&signed.zone, ORIGIN, false, &signed.label);
    }
}

/// The benchmark's reference zone is well formed and has the promised shape.
#[test]
fn reference_zone_generator() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gen-reference-zone"));
    cmd.args(["--delegations", "300", "--origin", "ref.test."]);
    let out = run_ok(&mut cmd);
    let text = String::from_utf8(out.stdout).expect("utf-8 zone");
    let count = |t: &str| text.lines().filter(|l| l.split_whitespace().nth(2) == Some(t)).count();
    assert_eq!(count("SOA"), 1);
    assert_eq!(count("NS"), 2 + 2 * 300);
    assert_eq!(count("DS"), 100);
    assert!(text.contains("\nd000299 IN NS ns2.d000299.example.net.\n"));
    let again = run_ok(Command::new(env!("CARGO_BIN_EXE_gen-reference-zone")).args(["--delegations", "300"]));
    assert_eq!(text.as_bytes(), &again.stdout[..], "generator output is not deterministic");
    if require("reference_zone_generator", &["kzonecheck"]) {
        let dir = tempfile::tempdir().expect("tempdir");
        let zone = dir.path().join("ref.zone");
        std::fs::write(&zone, &text).expect("write zone");
        run_ok(Command::new("kzonecheck").args(["-o", "ref.test."]).arg(&zone));
    }
}
