//! The three independent static zone validators (ldns, BIND, Knot) judging a signed zone file.

use std::path::Path;
use std::process::Command;

use crate::programs::run;

/// Which validator judged a zone, and what it said when it refused it.
#[derive(Debug)]
pub struct Rejection {
    /// The validator's command line.
    pub validator: String,
    /// Its output.
    pub output: String,
}

/// Runs ldns-verify-zone, dnssec-verify and kzonecheck on a signed zone; returns every refusal.
///
/// `combined_key` adds `-z` for dnssec-verify: with a single KSK signing everything (a CSK),
/// BIND otherwise complains that no ZSK signs the zone.
pub fn static_validators(signed: &Path, origin: &str, combined_key: bool) -> Vec<Rejection> {
    let origin_nodot = origin.trim_end_matches('.');
    let mut commands = vec![
        {
            let mut c = Command::new("ldns-verify-zone");
            c.arg(signed);
            c
        },
        {
            let mut c = Command::new("dnssec-verify");
            c.arg("-o").arg(origin_nodot);
            if combined_key {
                c.arg("-z");
            }
            c.arg(signed);
            c
        },
        {
            let mut c = Command::new("kzonecheck");
            c.args(["-v", "-o", origin, "-d", "on"]).arg(signed);
            c
        },
    ];
    let mut rejections = Vec::new();
    for cmd in &mut commands {
        let out = run(cmd);
        // kzonecheck can print semantic errors and still exit 0 in some versions: treat an
        // "error" line as a refusal too.
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let kzone_error = cmd.get_program() == "kzonecheck"
            && text.lines().any(|l| l.starts_with("error:") || l.contains("Error summary"));
        if !out.status.success() || kzone_error {
            rejections.push(Rejection {
                validator: format!("{cmd:?}"),
                output: format!("exit {}\n{}", out.status, text.trim_end()),
            });
        }
    }
    rejections
}

/// Panics with every validator's complaint unless all three accept the zone.
pub fn assert_validators_accept(signed: &Path, origin: &str, combined_key: bool, what: &str) {
    let rejections = static_validators(signed, origin, combined_key);
    if !rejections.is_empty() {
        let report: Vec<String> = rejections
            .iter()
            .map(|r| format!("=== {} refused it:\n{}", r.validator, r.output))
            .collect();
        panic!(
            "{what}: {} of 3 validators refused {}:\n{}",
            rejections.len(),
            signed.display(),
            report.join("\n")
        );
    }
}
