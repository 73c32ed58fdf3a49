//! Shared helpers for frostzone's end-to-end tests (the tests themselves live in `tests/`).
//!
//! Everything here drives real programs: the `frostzone` binary, the three independent zone
//! validators (ldns, BIND, Knot), and NSD + Unbound for resolver-level checks. A missing program
//! is a test failure that says which Debian package to install, unless `FROSTZONE_SKIP_INTEROP=1`
//! is set, in which case the test prints a `skipped: ...` line and returns.

#![forbid(unsafe_code)]

pub mod approvals;
pub mod cluster;
pub mod coordinator_config;
pub mod daemon;
pub mod dig;
pub mod docker;
pub mod docker_drills;
pub mod module_graph;
pub mod nsd;
pub mod port;
pub mod programs;
pub mod resolver;
pub mod rogue;
pub mod rogue_coordinator;
pub mod signer_config;
pub mod signers;
pub mod split_mix;
pub mod tamper;
pub mod unbound;
pub mod validators;

use std::path::{Path, PathBuf};

/// The workspace root (the directory holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// `examples/example.zone`, the awkward example zone every signer must get right.
pub fn example_zone() -> PathBuf {
    workspace_root().join("examples").join("example.zone")
}

/// `tests/zones/NAME`.
pub fn test_zone(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("zones").join(name)
}

/// The `frostzone` binary: `<target dir>/debug/frostzone`, found from this test executable's path
/// (`<target dir>/debug/deps/xxx`), or `FROSTZONE_BIN` when set.
///
/// Panics with a build hint when the binary is missing: `cargo test` builds only this package's
/// own targets, so the CLI must be built first (`cargo build --workspace --bins`, as scripts/test does).
pub fn frostzone_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("FROSTZONE_BIN") {
        let bin = PathBuf::from(bin);
        assert!(bin.is_file(), "FROSTZONE_BIN={} is not a file", bin.display());
        return bin;
    }
    let exe = std::env::current_exe().expect("path of the running test executable");
    // target/debug/deps/interop-0123abcd -> target/debug
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in <target>/<profile>/deps");
    let bin = profile_dir.join(format!("frostzone{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "frostzone binary not found at {}: build it first with `cargo build --workspace --bins` \
         (scripts/test does), or point FROSTZONE_BIN at it",
        bin.display()
    );
    bin
}

/// How authenticated denial of existence is done, with the `frostzone simulate` flags for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// NSEC3 with RFC 9276 parameters (the default).
    Nsec3,
    /// NSEC3 with the opt-out flag (RFC 5155 §6) on insecure delegations.
    Nsec3OptOut,
    /// Plain NSEC (RFC 4034 §4).
    Nsec,
}

impl Denial {
    /// Every mode, for tests that run one body per mode.
    pub const ALL: [Denial; 3] = [Denial::Nsec3, Denial::Nsec3OptOut, Denial::Nsec];

    /// Flags for `frostzone simulate`.
    pub fn simulate_flags(self) -> &'static [&'static str] {
        match self {
            Denial::Nsec3 => &[],
            Denial::Nsec3OptOut => &["--nsec3-opt-out"],
            Denial::Nsec => &["--nsec"],
        }
    }

    /// Short name for messages and file names.
    pub fn name(self) -> &'static str {
        match self {
            Denial::Nsec3 => "nsec3",
            Denial::Nsec3OptOut => "nsec3-opt-out",
            Denial::Nsec => "nsec",
        }
    }
}

/// Numbers given in `; expect-line: N [M ...]` comments of a bad test zone.
pub fn expected_lines(zone: &Path) -> Vec<u32> {
    directive(zone, "expect-line")
        .map(|v| {
            v.split_whitespace()
                .map(|n| n.parse().expect("expect-line values are numbers"))
                .collect()
        })
        .unwrap_or_default()
}

/// The value of a `; NAME: value` comment directive in a test zone.
pub fn directive(zone: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(zone).expect("read test zone");
    let prefix = format!("; {name}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
}

/// Line numbers a diagnostic mentions, as `FILE:N` (after `file_name`) or `line N`.
pub fn mentioned_lines(stderr: &str, file_name: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let mut collect = |marker: &str| {
        let mut rest = stderr;
        while let Some(i) = rest.find(marker) {
            rest = &rest[i + marker.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse() {
                found.push(n);
            }
        }
    };
    collect(&format!("{file_name}:"));
    collect("line ");
    collect("line: ");
    found
}
