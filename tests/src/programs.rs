//! Finding and running external programs (validators, signers, servers), and skipping or
//! failing a test, with an install hint, when one is missing.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The Debian package that ships `program` (what CI installs; see scripts/test).
pub fn debian_package(program: &str) -> &'static str {
    match program {
        "ldns-verify-zone" | "ldns-keygen" | "ldns-key2ds" | "ldns-signzone" | "ldns-read-zone" => {
            "ldnsutils"
        }
        "dnssec-verify" | "dnssec-keygen" | "dnssec-signzone" => "bind9-utils",
        "dig" => "bind9-dnsutils",
        "kzonecheck" | "kzonesign" => "knot-dnssecutils",
        "kdig" => "knot-dnsutils",
        "nsd" | "nsd-checkconf" => "nsd",
        "unbound" | "unbound-checkconf" => "unbound",
        "curl" => "curl",
        _ => "(unknown package)",
    }
}

/// Looks `program` up on `PATH` (plus the sbin directories, where nsd and unbound live).
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// True when all `programs` are installed. When one is missing: panics with an install hint, or,
/// with `FROSTZONE_SKIP_INTEROP=1`, prints `skipped: TEST: ...` and returns false.
pub fn require(test: &str, programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| find_program(p).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let mut packages: Vec<&str> = missing.iter().map(|p| debian_package(p)).collect();
    packages.sort_unstable();
    packages.dedup();
    let msg = format!(
        "{} not installed: install with `apt-get install {}` (scripts/test does this)",
        missing.join(", "),
        packages.join(" ")
    );
    if std::env::var("FROSTZONE_SKIP_INTEROP").as_deref() == Ok("1") {
        // Written to the real stderr, not through eprintln!, which libtest captures and only
        // shows for failing tests: a skip must be visible in a passing run.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "skipped: {test}: {msg}");
        false
    } else {
        panic!("{test}: {msg}; set FROSTZONE_SKIP_INTEROP=1 to skip interop tests");
    }
}

/// Runs `cmd` to completion, capturing its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs `cmd` and panics with its full output unless it exits 0.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(out.status.success(), "{}", describe(cmd, &out));
    out
}

/// A command and everything it printed, for failure messages.
pub fn describe(cmd: &Command, out: &Output) -> String {
    format!(
        "{cmd:?} exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
