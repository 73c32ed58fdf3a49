//! `dig` (BIND's) asking one question, its answer parsed just enough to judge it.

use std::process::Command;

use crate::programs::run;

/// One `dig` answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, ...
    pub status: String,
    /// Header flags: `qr`, `rd`, `ra`, `ad`, ...
    pub flags: Vec<String>,
    /// Answer-section records as (owner, type, rdata).
    pub answer: Vec<(String, String, String)>,
    /// The whole dig output, for messages.
    pub text: String,
}

impl Answer {
    /// True when the AD (authentic data) bit is set.
    pub fn ad(&self) -> bool {
        self.flags.iter().any(|f| f == "ad")
    }

    /// True when the AA (authoritative answer) bit is set.
    pub fn aa(&self) -> bool {
        self.flags.iter().any(|f| f == "aa")
    }

    /// Answer records of `rtype`.
    pub fn records(&self, rtype: &str) -> Vec<&(String, String, String)> {
        self.answer.iter().filter(|r| r.1.eq_ignore_ascii_case(rtype)).collect()
    }
}

/// Asks `127.0.0.1:port` one question with the DO bit set.
pub fn dig(port: u16, name: &str, rtype: &str, recurse: bool) -> Answer {
    let mut cmd = Command::new("dig");
    cmd.args(["@127.0.0.1", "-p", &port.to_string(), "+dnssec", "+tries=1", "+time=5"])
        .arg(if recurse { "+recurse" } else { "+norecurse" })
        .args([name, rtype]);
    let out = run(&mut cmd);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .lines()
        .find_map(|l| l.split("status: ").nth(1))
        .map(|s| s.split(',').next().unwrap_or("").trim().to_string())
        .unwrap_or_else(|| "NO-ANSWER".to_string());
    let flags = text
        .lines()
        .find_map(|l| l.strip_prefix(";; flags: "))
        .map(|l| l.split(';').next().unwrap_or("").split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let mut answer = Vec::new();
    let mut in_answer = false;
    for line in text.lines() {
        if line.starts_with(";; ANSWER SECTION:") {
            in_answer = true;
            continue;
        }
        if in_answer {
            if line.trim().is_empty() || line.starts_with(";;") {
                break;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() >= 4 {
                answer.push((fields[0].to_string(), fields[3].to_string(), fields[4..].join(" ")));
            }
        }
    }
    Answer { status, flags, answer, text }
}
