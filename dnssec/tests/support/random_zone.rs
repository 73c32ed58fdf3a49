//! Seeded random zones for the incremental tests (`update.rs`, the
//! denial checks): a zone as owner → record lines, and one random change
//! at a time — names added and removed, TTL changes, delegations with and
//! without DS and glue, cuts over existing data, empty non-terminals with
//! (opt-out) delegations below them, DNAMEs occluding data.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::Rng;

/// A zone as owner → record lines, rendered with a serial.
#[derive(Clone, Default)]
pub struct State(pub BTreeMap<String, Vec<String>>);

impl State {
    /// The zone file of this state with `serial`.
    pub fn text(&self, serial: u32) -> String {
        let mut t = format!("$TTL 3600\n@ IN SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n");
        for (owner, lines) in &self.0 {
            for l in lines {
                t.push_str(&format!("{owner} {l}\n"));
            }
        }
        t
    }
}

const DS: &str = "IN DS 31589 15 2 1B6E1C1B06B1C37F0D5A6E2C34A4C93E6D10D3E52B6E3F0F4E0A2D0B8C9A7E6D";

/// One random change to `state`; what it did, for messages.
pub fn mutate(state: &mut State, rng: &mut StdRng) -> String {
    let i = rng.gen_range(0..12u64);
    let mut set = |owner: String, lines: Vec<String>| state.0.insert(owner, lines);
    match rng.gen_range(0..13u64) {
        0 | 1 => {
            set(format!("n{i}"), vec![format!("IN A 192.0.2.{}", rng.gen_range(1..250u64))]);
            format!("set n{i}")
        }
        2 => {
            state.0.remove(&format!("n{i}"));
            format!("remove n{i}")
        }
        3 => {
            set(format!("n{i}"), vec![format!("{} IN TXT \"ttl\"", 60 + rng.gen_range(0..3u64) * 60)]);
            format!("ttl n{i}")
        }
        4 => {
            // A delegation, secure or not, with glue below it.
            let owner = format!("d{}", i % 5);
            let mut lines = vec![format!("IN NS ns.{owner}")];
            if rng.gen_range(0..2u64) == 0 {
                lines.push(DS.into());
            }
            set(format!("ns.{owner}"), vec!["IN A 192.0.2.99".into()]);
            set(owner.clone(), lines);
            format!("delegate {owner}")
        }
        5 => {
            // The delegation goes; its glue stays and becomes authoritative.
            state.0.remove(&format!("d{}", i % 5));
            format!("undelegate d{}", i % 5)
        }
        6 => {
            let owner = format!("x.y{}.e{}", i % 3, i % 2);
            set(owner.clone(), vec!["IN A 192.0.2.7".into()]);
            format!("deep {owner}")
        }
        7 => {
            let owner = format!("x.y{}.e{}", i % 3, i % 2);
            state.0.remove(&owner);
            format!("remove deep {owner}")
        }
        8 => {
            // A delegation above existing data (occluding it).
            set(format!("e{}", i % 2), vec!["IN NS ns.example.net.".into()]);
            format!("cut at e{}", i % 2)
        }
        9 => {
            // Delegations below an empty non-terminal: with opt-out, an
            // insecure one alone does not make it exist.
            let owner = format!("sub{}.ent{}", i % 3, i % 2);
            let mut lines = vec!["IN NS ns.example.net.".to_string()];
            if rng.gen_range(0..3u64) == 0 {
                lines.push(DS.into());
            }
            set(owner.clone(), lines);
            format!("delegate {owner}")
        }
        10 => {
            let owner = format!("sub{}.ent{}", i % 3, i % 2);
            state.0.remove(&owner);
            format!("undelegate {owner}")
        }
        11 => {
            // RFC 6672: a DNAME occludes what is below it.
            let owner = format!("dn{}", i % 2);
            set(owner.clone(), vec!["IN DNAME target.example.net.".into(), "IN TXT \"dname\"".into()]);
            set(format!("x.{owner}"), vec!["IN A 192.0.2.8".into()]);
            format!("dname at {owner}")
        }
        _ => {
            let owner = format!("dn{}", i % 2);
            state.0.remove(&owner);
            format!("remove dname at {owner}")
        }
    }
}

