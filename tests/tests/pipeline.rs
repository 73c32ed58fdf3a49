//! The coordinator as a stage of the zone pipeline, with real processes: a 3-of-5 cluster over
//! mutual TLS on loopback, driven by `frostzone sign --changes`, `frostzone diff` and
//! `frostzone zone get`, and a real NSD secondary behind a validating Unbound.
//!
//! * 100 random change sets in sequence, each published version checked by our validator,
//!   equal to a from-scratch signing of the same content except for its RRSIGs, its signed
//!   changes leading from the version before to it, and few signatures made; ldns-verify-zone
//!   at checkpoints; a `kill -9` and restart of the coordinator halfway that loses nothing.
//! * Change files that remove a missing record or name the wrong serial are refused, naming
//!   the file and line, and change nothing.
//! * NSD pulls version 1 by AXFR, then, NOTIFYed, version 2 by IXFR; Unbound validates a name
//!   the change added.
//!
//! The tests run one at a time (each starts six processes; two cores are not enough for more).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use frostzone_dnssec::change_set::{ChangeSet, ZoneContent};
use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_dnssec::domain::rdata::ZoneRecordData;
use frostzone_dnssec::keys::{KeyRole, ZoneKey};
use frostzone_dnssec::load::{load_zone_text, LoadedRecord};
use frostzone_dnssec::present::zone_text;
use frostzone_dnssec::signing::{SigningPlan, SigningPolicy};
use frostzone_dnssec::zone::{InputKind, Zone};
use frostzone_dnssec::StoredName;
use frostzone_tests::approvals::DEADLINE;
use frostzone_tests::cluster::Cluster;
use frostzone_tests::coordinator_config::{self, Secondary, TsigKey};
use frostzone_tests::port::free_port;
use frostzone_tests::programs::{describe, find_program, require, run};
use frostzone_tests::resolver::Resolver;

const ZONE: &str = "example.com.";

/// One pipeline test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn apex() -> StoredName {
    StoredName::from_str(ZONE).expect("zone name")
}

// ---------------------------------------------------------------- the test's model of the zone

use frostzone_tests::split_mix::SplitMix64 as Rng;

/// An RRset: TTL and RDATA in presentation format.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rrset {
    ttl: u32,
    rdata: BTreeSet<String>,
}

/// The unsigned zone as the test sees it: RRsets by (owner, type), apex SOA apart.
#[derive(Clone)]
struct Model {
    serial: u32,
    rrsets: BTreeMap<(String, &'static str), Rrset>,
    /// Values handed out so far, so that every new record is new.
    counter: u32,
}

/// What a random change did.
struct Change {
    what: String,
    /// One existing RRset changed in place (RDATA or TTL), no name or type appeared or went.
    in_place: bool,
}

impl Model {
    /// `hosts` names with A records (some with AAAA, TXT, MX) and `delegations` delegations with
    /// two NS each (every other one with a DS), plus the apex NS and its glue.
    fn new(hosts: usize, delegations: usize) -> Model {
        let mut m = Model { serial: 1, rrsets: BTreeMap::new(), counter: 0 };
        m.put(ZONE, "NS", 3600, &["ns1.example.com."]);
        m.put("ns1.example.com.", "A", 3600, &["192.0.2.53"]);
        for i in 0..hosts {
            let owner = format!("h{i}.example.com.");
            m.put(&owner, "A", 300, &[&format!("192.0.2.{}", i % 250 + 1)]);
            if i % 3 == 0 {
                m.put(&owner, "AAAA", 300, &[&format!("2001:db8::{i:x}")]);
            }
            if i % 5 == 0 {
                m.put(&owner, "TXT", 300, &[&format!("\"host {i}\"")]);
            }
            if i % 7 == 0 {
                m.put(&owner, "MX", 300, &[&format!("10 mx{i}.example.net.")]);
            }
        }
        for i in 0..delegations {
            let owner = format!("d{i}.example.com.");
            m.put(&owner, "NS", 3600, &[&format!("ns1.d{i}.example.net."), &format!("ns2.d{i}.example.net.")]);
            if i % 2 == 0 {
                m.put(&owner, "DS", 3600, &[&ds_rdata(i as u64)]);
            }
        }
        m
    }

    fn put(&mut self, owner: &str, rtype: &'static str, ttl: u32, rdata: &[&str]) {
        let set = Rrset { ttl, rdata: rdata.iter().map(|r| r.to_string()).collect() };
        self.rrsets.insert((owner.to_string(), rtype), set);
    }

    fn soa(serial: u32) -> String {
        format!("{ZONE} 3600 IN SOA ns1.example.com. hostmaster.example.com. {serial} 7200 3600 1209600 300")
    }

    /// Every record but the SOA, one line each.
    fn lines(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for ((owner, rtype), set) in &self.rrsets {
            for r in &set.rdata {
                out.insert(format!("{owner} {} IN {rtype} {r}", set.ttl));
            }
        }
        out
    }

    fn text(&self) -> String {
        let mut t = Model::soa(self.serial) + "\n";
        for l in self.lines() {
            t.push_str(&l);
            t.push('\n');
        }
        t
    }

    fn fresh(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }

    /// Owners of the kind `prefix` (`h` hosts and names added, `d` delegations).
    fn owners(&self, prefix: char) -> Vec<String> {
        let set: BTreeSet<&String> =
            self.rrsets.keys().map(|(o, _)| o).filter(|o| o.starts_with(prefix) || (prefix == 'h' && o.starts_with('n'))).collect();
        set.into_iter().cloned().collect()
    }

    /// RRsets of hosts (not the apex, glue or delegations).
    fn host_rrsets(&self) -> Vec<(String, &'static str)> {
        self.rrsets.keys().filter(|(o, _)| o.starts_with('h') || o.starts_with('n')).cloned().collect()
    }

    fn new_rdata(&mut self, rtype: &str) -> String {
        let n = self.fresh();
        match rtype {
            "A" => format!("198.51.{}.{}", n / 250 % 250, n % 250 + 1),
            "AAAA" => format!("2001:db8:1::{n:x}"),
            "TXT" => format!("\"change {n}\""),
            "MX" => format!("{} mx-new{n}.example.net.", n % 50),
            "DS" => ds_rdata(u64::from(n) + 10_000),
            other => panic!("no new RDATA for {other}"),
        }
    }

    /// Applies one random change (the serial not yet moved).
    fn random_change(&mut self, rng: &mut Rng) -> Change {
        let types = ["A", "AAAA", "TXT", "MX"];
        let in_place = |what: String| Change { what, in_place: true };
        let other = |what: String| Change { what, in_place: false };
        match rng.below(10) {
            // Add a record to an existing host (a new RRset, or one more in an RRset).
            0 | 1 => {
                let hosts = self.owners('h');
                let owner = hosts[rng.below(hosts.len())].clone();
                let rtype = types[rng.below(types.len())];
                let r = self.new_rdata(rtype);
                let entry = self.rrsets.entry((owner.clone(), rtype)).or_insert(Rrset { ttl: 300, rdata: BTreeSet::new() });
                entry.rdata.insert(r.clone());
                other(format!("add {owner} {rtype} {r}"))
            }
            // Remove one record (the RRset, or the name, may go with it).
            2 => {
                let sets = self.host_rrsets();
                let key = sets[rng.below(sets.len())].clone();
                let set = self.rrsets.get_mut(&key).expect("picked RRset");
                let r = set.rdata.iter().nth(rng.below(set.rdata.len())).expect("non-empty RRset").clone();
                set.rdata.remove(&r);
                if set.rdata.is_empty() {
                    self.rrsets.remove(&key);
                }
                other(format!("remove {} {} {r}", key.0, key.1))
            }
            // Change one record's RDATA in place.
            3 | 4 => {
                let sets = self.host_rrsets();
                let key = sets[rng.below(sets.len())].clone();
                let fresh = self.new_rdata(key.1);
                let set = self.rrsets.get_mut(&key).expect("picked RRset");
                let r = set.rdata.iter().next().expect("non-empty RRset").clone();
                set.rdata.remove(&r);
                set.rdata.insert(fresh.clone());
                in_place(format!("change {} {} {r} -> {fresh}", key.0, key.1))
            }
            // A whole new name.
            5 => {
                let owner = format!("n{}.example.com.", self.fresh());
                let (a, aaaa, txt) = (self.new_rdata("A"), self.new_rdata("AAAA"), self.new_rdata("TXT"));
                self.put(&owner, "A", 300, &[&a]);
                self.put(&owner, "AAAA", 300, &[&aaaa]);
                self.put(&owner, "TXT", 300, &[&txt]);
                other(format!("add name {owner}"))
            }
            // A whole name removed.
            6 => {
                let hosts = self.owners('h');
                let owner = hosts[rng.below(hosts.len())].clone();
                self.rrsets.retain(|(o, _), _| *o != owner);
                other(format!("remove name {owner}"))
            }
            // A new secure delegation, or one removed, or its DS changed.
            7 => {
                let delegations = self.owners('d');
                match rng.below(3) {
                    0 => {
                        let n = self.fresh();
                        let owner = format!("d-new{n}.example.com.");
                        self.put(&owner, "NS", 3600, &[&format!("ns1.z{n}.example.net."), &format!("ns2.z{n}.example.net.")]);
                        let ds = self.new_rdata("DS");
                        self.put(&owner, "DS", 3600, &[&ds]);
                        other(format!("add delegation {owner} with DS"))
                    }
                    1 => {
                        let owner = delegations[rng.below(delegations.len())].clone();
                        self.rrsets.retain(|(o, _), _| *o != owner);
                        other(format!("remove delegation {owner}"))
                    }
                    _ => {
                        let with_ds: Vec<String> =
                            self.rrsets.keys().filter(|(o, t)| o.starts_with('d') && *t == "DS").map(|(o, _)| o.clone()).collect();
                        let owner = with_ds[rng.below(with_ds.len())].clone();
                        let ds = self.new_rdata("DS");
                        self.put(&owner, "DS", 3600, &[&ds]);
                        in_place(format!("change DS of {owner}"))
                    }
                }
            }
            // A TTL change of one RRset.
            _ => {
                let sets = self.host_rrsets();
                let key = sets[rng.below(sets.len())].clone();
                let set = self.rrsets.get_mut(&key).expect("picked RRset");
                set.ttl = if set.ttl == 300 { 600 + 60 * (rng.below(10) as u32) } else { 300 };
                in_place(format!("TTL of {} {} to {}", key.0, key.1, set.ttl))
            }
        }
    }

    /// The change file (IXFR form, RFC 1995 §4) from `old` to `self`, and the counts removed
    /// and added.
    fn changes_from(&self, old: &Model) -> (String, usize, usize) {
        let (before, after) = (old.lines(), self.lines());
        let removed: Vec<&String> = before.difference(&after).collect();
        let added: Vec<&String> = after.difference(&before).collect();
        let mut t = Model::soa(old.serial) + "\n";
        for r in &removed {
            t.push_str(r);
            t.push('\n');
        }
        t.push_str(&Model::soa(self.serial));
        t.push('\n');
        for a in &added {
            t.push_str(a);
            t.push('\n');
        }
        (t, removed.len(), added.len())
    }
}

/// A DS RDATA (algorithm 15, SHA-256) with a digest made from `seed`.
fn ds_rdata(seed: u64) -> String {
    let mut rng = Rng(seed);
    let digest: String = (0..4).map(|_| format!("{:016X}", rng.next_u64())).collect();
    format!("{} 15 2 {digest}", rng.next_u64() & 0xFFFF)
}

// ---------------------------------------------------------------- checks

fn records(text: &str, source: &str) -> Vec<LoadedRecord> {
    load_zone_text(text, Path::new(source), &apex()).unwrap_or_else(|e| panic!("{source} does not read: {e}"))
}

/// The published zone's lines as our presentation writes them, RRSIGs left out.
fn without_rrsigs(signed: &str) -> Vec<String> {
    let zone = Zone::from_records(apex(), records(signed, "published"), InputKind::Signed).expect("published zone");
    zone_text(&zone).lines().filter(|l| !l.contains("\tRRSIG\t")).map(str::to_string).collect()
}

/// The zone keys behind the published DNSKEY RRset.
fn published_keys(signed: &str) -> Vec<ZoneKey> {
    let keys: Vec<ZoneKey> = records(signed, "published")
        .into_iter()
        .filter_map(|r| match r.record.data() {
            ZoneRecordData::Dnskey(k) => {
                let role = if k.flags() & 1 == 1 { KeyRole::Ksk } else { KeyRole::Zsk };
                let key: [u8; 32] = k.public_key().as_ref().try_into().expect("Ed25519 public key");
                Some(ZoneKey::ed25519(role, key))
            }
            _ => None,
        })
        .collect();
    assert_eq!(keys.len(), 2, "a KSK and a ZSK published");
    keys
}

/// A from-scratch signing of `unsigned` with `keys` (NSEC3, the defaults the coordinator uses),
/// without its RRSIG lines; no signature is made, their bytes are not compared.
fn scratch(keys: &[ZoneKey], unsigned: &str) -> Vec<String> {
    let zone = Zone::from_records(apex(), records(unsigned, "model"), InputKind::Unsigned).expect("model zone");
    let plan = SigningPlan::prepare(zone, keys, &SigningPolicy::default(), 1_780_000_000).expect("signing plan");
    let n = plan.items().len();
    let signed = plan.complete(vec![[0; 64]; n]).expect("complete");
    zone_text(&signed).lines().filter(|l| !l.contains("\tRRSIG\t")).map(str::to_string).collect()
}

/// What `frostzone sign` printed last: `serial N: M signatures made, K kept; request R; T s`.
#[derive(Debug)]
struct Summary {
    serial: u32,
    made: u64,
    kept: u64,
}

fn summary(stdout: &str) -> Summary {
    let line = stdout.lines().find(|l| l.starts_with("serial ") && l.contains("signatures made")).unwrap_or_else(|| panic!("no summary line:\n{stdout}"));
    let words: Vec<&str> = line.split(|c: char| c.is_whitespace() || c == ':' || c == ',' || c == ';').filter(|w| !w.is_empty()).collect();
    // serial N M signatures made K kept request R T s: the request is not checked here
    Summary {
        serial: words[1].parse().unwrap_or_else(|_| panic!("{line}")),
        made: words[2].parse().unwrap_or_else(|_| panic!("{line}")),
        kept: words[5].parse().unwrap_or_else(|_| panic!("{line}")),
    }
}

/// The test's view of one cluster's published zone.
struct Pipeline {
    work: PathBuf,
    ds: PathBuf,
    model: Model,
    /// The published signed zone, as `--out` wrote it.
    published: String,
    keys: Vec<ZoneKey>,
}

impl Pipeline {
    /// Keys by DKG, and version 1 of `model` signed with `frostzone sign --file`.
    fn start(cluster: &Cluster, model: Model) -> Pipeline {
        cluster.generate_keys(ZONE);
        let work = cluster.dir.path().join("pipeline");
        std::fs::create_dir_all(&work).expect("work dir");
        let ds = work.join("ds");
        cluster.write_ds(ZONE, &ds);
        let file = work.join("v1.zone");
        std::fs::write(&file, model.text()).expect("write v1");
        let out = work.join("published.zone");
        let stdout = cluster.frostzone_ok(&["sign", "--zone", ZONE, "--file", path(&file), "--out", path(&out)]);
        let first = summary(&stdout);
        assert_eq!((first.serial, first.kept), (1, 0), "{stdout}");
        let published = std::fs::read_to_string(&out).expect("read published");
        let keys = published_keys(&published);
        let p = Pipeline { work, ds, model, published, keys };
        p.check_published("version 1");
        p
    }

    /// `frostzone verify` (our validator) passes, and the text equals a from-scratch signing of
    /// the model except for RRSIGs.
    fn check_published(&self, what: &str) {
        let file = self.work.join("published.zone");
        let mut verify = Command::new(frostzone_tests::frostzone_bin());
        verify.arg("verify").arg(&file).arg("--ds").arg(&self.ds);
        let v = run(&mut verify);
        assert!(v.status.success(), "{what}: {}", describe(&verify, &v));
        assert_eq!(without_rrsigs(&self.published), scratch(&self.keys, &self.model.text()), "{what}: differs from a scratch signing");
    }

    /// `frostzone zone get`: the published version, as the coordinator keeps it.
    fn get_zone(&self, cluster: &Cluster) -> String {
        let out = self.work.join("get.zone");
        let stdout = cluster.frostzone_ok(&["zone", "get", "--zone", ZONE, "--out", path(&out)]);
        assert!(stdout.contains(&format!("serial {}", self.model.serial)), "{stdout}");
        std::fs::read_to_string(&out).expect("read get.zone")
    }

    /// Submits the change from the published version to `next` with `frostzone sign --changes`
    /// (the change file the test's own, or, with `via_diff`, `frostzone diff`'s); checks
    /// everything about the result; returns the summary and the time the command took.
    fn apply(&mut self, cluster: &Cluster, mut next: Model, via_diff: bool, what: &str) -> (Summary, Duration) {
        next.serial = self.model.serial + 1;
        let step = next.serial;
        let (text, removed, added) = next.changes_from(&self.model);
        let file = self.work.join(format!("step{step}.ixfr"));
        if via_diff {
            let (old, new) = (self.work.join("old.zone"), self.work.join("new.zone"));
            std::fs::write(&old, self.model.text()).expect("write old");
            std::fs::write(&new, next.text()).expect("write new");
            let mut cmd = Command::new(frostzone_tests::frostzone_bin());
            cmd.arg("diff").arg(&old).arg(&new).args(["--zone", ZONE, "--out"]).arg(&file);
            let out = run(&mut cmd);
            assert!(out.status.success(), "{}", describe(&cmd, &out));
            let written = std::fs::read_to_string(&file).expect("read diff output");
            let sets = ChangeSet::parse(records(&written, "diff")).expect("diff output parses");
            assert_eq!((sets.len(), sets[0].removed.len(), sets[0].added.len()), (1, removed, added), "{what}: diff wrote\n{written}");
        } else {
            std::fs::write(&file, &text).expect("write change file");
        }
        let signed_changes = self.work.join(format!("step{step}.signed.ixfr"));
        let out = self.work.join("published.zone");
        let started = Instant::now();
        let stdout = cluster.frostzone_ok(&[
            "sign", "--zone", ZONE, "--changes", path(&file), "--out-changes", path(&signed_changes), "--out", path(&out),
        ]);
        let took = started.elapsed();
        let s = summary(&stdout);
        assert_eq!(s.serial, step, "{what}: {stdout}");
        assert!(s.made >= 1 && s.made < 20, "{what}: {} signatures made:\n{text}", s.made);
        // Planned and validated as a patch: only the names it reaches.
        assert!(stdout.contains("names the change reaches"), "{what}: not signed as a patch of the published zone:\n{stdout}");
        let published = std::fs::read_to_string(&out).expect("read published");
        let rrsigs = records(&published, "published").iter().filter(|r| r.record.rtype() == Rtype::RRSIG).count() as u64;
        assert_eq!(s.made + s.kept, rrsigs, "{what}: signatures made and kept are not those published");
        assert!(s.kept > s.made, "{what}: {} signatures made, only {} kept", s.made, s.kept);
        // The signed changes lead from the version before to this one.
        let changes = std::fs::read_to_string(&signed_changes).expect("read signed changes");
        let mut content = ZoneContent::new(apex(), records(&self.published, "before"));
        for set in ChangeSet::parse(records(&changes, "signed changes")).expect("signed changes parse") {
            content.apply(&set).unwrap_or_else(|e| panic!("{what}: the signed changes do not apply: {e}"));
        }
        assert!(content.same_records(&ZoneContent::new(apex(), records(&published, "after"))), "{what}: signed changes\n{changes}");
        self.model = next;
        self.published = published;
        self.check_published(what);
        (s, took)
    }

    /// `frostzone sign --changes` of `text` (written to `name`) must fail, exit 2, with stderr
    /// holding every one of `expect` (`{file}` stands for the file's path).
    fn refused(&self, cluster: &Cluster, name: &str, text: &str, expect: &[&str]) -> String {
        let file = self.work.join(name);
        std::fs::write(&file, text).expect("write change file");
        let mut cmd = cluster.frostzone();
        cmd.args(["sign", "--zone", ZONE, "--changes", path(&file), "--out", path(&self.work.join("refused.zone"))]);
        let out = run(&mut cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&cmd, &out));
        for e in expect {
            let e = e.replace("{file}", &file.display().to_string());
            assert!(stderr.contains(&e), "want {e:?} in:\n{}", describe(&cmd, &out));
        }
        assert!(!self.work.join("refused.zone").exists(), "a refused change wrote its output");
        assert_eq!(self.get_zone(cluster), self.published, "a refused change file changed the published zone");
        stderr.into_owned()
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The serial `frostzone status` shows for the zone in its zones table.
fn published_serial(status: &str) -> Option<u32> {
    let zones = status.split("\nzones: ").nth(1)?;
    zones.lines().find(|l| l.starts_with(ZONE))?.split_whitespace().nth(1)?.parse().ok()
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

// ---------------------------------------------------------------- tests

/// (a) 100 random change sets in sequence, each validated, equal to a scratch signing and
/// incremental; (c) the coordinator killed and restarted halfway loses nothing.
#[test]
fn hundred_random_diffs_validate_match_a_scratch_signing_and_survive_a_restart() {
    let _serial = serial();
    let t0 = Instant::now();
    let mut cluster = Cluster::start_3_of_5();
    let mut p = Pipeline::start(&cluster, Model::new(300, 30));
    println!("cluster, DKG and version 1 ({} RRsets): {:.1} s", p.model.rrsets.len(), t0.elapsed().as_secs_f64());
    let ldns = find_program("ldns-verify-zone");
    let mut rng = Rng(0x5EED_0005);
    let mut times = Vec::new();
    let mut made = Vec::new();
    for step in 1..=100 {
        if step == 51 {
            // (c) kill -9 and start again: the published version, its serial and the signers'
            // baselines survive; the next change applies to that serial and stays incremental.
            let before = p.get_zone(&cluster);
            cluster.kill_coordinator();
            cluster.start_coordinator();
            cluster.wait_ready(5);
            assert_eq!(p.get_zone(&cluster), before, "the published zone changed across a restart");
        }
        let mut next = p.model.clone();
        let change = next.random_change(&mut rng);
        let what = format!("step {step} ({})", change.what);
        let (s, took) = p.apply(&cluster, next, step % 4 == 0, &what);
        if change.in_place {
            // The RRset and the SOA; nothing else changes.
            assert!(s.made <= 3, "{what}: {} signatures made for one RRset changed in place", s.made);
        }
        times.push(took);
        made.push(s.made);
        if step % 25 == 0 {
            assert_eq!(p.get_zone(&cluster), p.published, "{what}: GetZone and --out differ");
            match &ldns {
                Some(ldns) => {
                    let mut cmd = Command::new(ldns);
                    cmd.arg(p.work.join("published.zone"));
                    let out = run(&mut cmd);
                    assert!(out.status.success(), "{what}: {}", describe(&cmd, &out));
                }
                None => println!("{what}: ldns-verify-zone checkpoint skipped: not installed (apt-get install ldnsutils)"),
            }
        }
    }
    let status = cluster.frostzone_ok(&["status"]);
    assert_eq!(published_serial(&status), Some(101), "{status}");
    assert!(!status.contains("WARNING"), "{status}");
    println!(
        "100 diffs: median {:.2} s per `sign --changes`, max {:.2} s; signatures per diff: median {}, max {}; total {:.1} s",
        median(times.clone()).as_secs_f64(),
        times.iter().max().map(Duration::as_secs_f64).unwrap_or_default(),
        { let mut m = made.clone(); m.sort(); m[m.len() / 2] },
        made.iter().max().copied().unwrap_or_default(),
        t0.elapsed().as_secs_f64()
    );
}

/// (b) A change file that removes a missing record, and one that names the wrong serial, are
/// refused (exit 2) naming the file and line; the published zone, its serial and the requests
/// stay as they were, and the next good change applies to that serial.
#[test]
fn refused_change_files_name_the_line_and_change_nothing() {
    let _serial = serial();
    let cluster = Cluster::start_3_of_5();
    let mut p = Pipeline::start(&cluster, Model::new(20, 4));
    let requests = cluster.requests(ZONE).len();
    let s = p.model.serial;
    let missing = format!(
        "{}\nh1.example.com. 300 IN A 192.0.2.2\nnothere.example.com. 300 IN A 192.0.2.99\n{}\nh1.example.com. 300 IN TXT \"x\"\n",
        Model::soa(s),
        Model::soa(s + 1)
    );
    let stderr = p.refused(&cluster, "missing.ixfr", &missing, &["{file}:3: cannot remove nothere.example.com.", "nothing was changed"]);
    assert!(!stderr.contains("missing.ixfr:2:"), "line 2 removes a record that is there:\n{stderr}");
    let wrong = format!(
        "{}\nh1.example.com. 300 IN A 192.0.2.2\n{}\nh1.example.com. 300 IN A 192.0.2.3\n",
        Model::soa(s + 6),
        Model::soa(s + 7)
    );
    p.refused(&cluster, "wrong-serial.ixfr", &wrong, &[&format!("{{file}}:1: these changes apply to serial {}, the zone is at serial {s}", s + 6)]);
    assert_eq!(cluster.requests(ZONE).len(), requests, "a refused change file made a request");
    let status = cluster.frostzone_ok(&["status"]);
    assert_eq!(published_serial(&status), Some(s), "{status}");
    let mut next = p.model.clone();
    next.put("h1.example.com.", "TXT", 300, &["\"x\""]);
    let (summary, _) = p.apply(&cluster, next, false, "a good change after the refusals");
    assert_eq!(summary.serial, s + 1);
}

/// (d) A real NSD secondary pulls version 1 by AXFR from the coordinator's transfer server, is
/// NOTIFYed of version 2 and pulls it by IXFR; a validating Unbound over NSD answers the name
/// the change added with AD, and a name that does not exist with a secure NXDOMAIN.
#[test]
fn nsd_secondary_pulls_axfr_then_ixfr_and_unbound_validates_the_added_name() {
    let _serial = serial();
    if !require("nsd_secondary_pulls_axfr_then_ixfr_and_unbound_validates_the_added_name", &["nsd", "unbound", "dig"]) {
        return;
    }
    const SECRET: &str = "ZnJvc3R6b25lLXRlc3QteGZyLWtleS0zMi1ieXRlcyE=";
    let mut cluster = Cluster::new(5, 3);
    let nsd_port = free_port();
    cluster.enable_transfer(
        vec![TsigKey::hmac_sha256("xfr-key", SECRET)],
        vec![Secondary { address: format!("127.0.0.1:{nsd_port}"), tsig_key: Some("xfr-key".to_string()), zones: None }],
    );
    cluster.configure_coordinator(|c| {
        c.zones.push(coordinator_config::Zone {
            name: ZONE.to_string(),
            serial_policy: Some("increment".to_string()),
            ..coordinator_config::Zone::default()
        })
    });
    cluster.start_all();
    cluster.wait_ready(5);
    let transfer_port = cluster.transfer_port.expect("transfer port");
    let mut p = Pipeline::start(&cluster, Model::new(20, 4));
    let ds = std::fs::read_to_string(&p.ds).expect("read DS");
    let ds_line = ds.lines().find(|l| l.contains(" DS ") || l.contains("\tDS\t")).expect("a DS record");

    let t = Instant::now();
    let resolver = Resolver::start_secondary(ZONE, ds_line, nsd_port, transfer_port, Some(("xfr-key", SECRET)));
    assert_eq!(resolver.nsd_serial(), Some(1), "{}", resolver.logs());
    println!("NSD pulled version 1 and serves it: {:.1} s", t.elapsed().as_secs_f64());
    let log = cluster.log("coordinator");
    assert!(log.contains(&format!("AXFR {ZONE} serial 1 to 127.0.0.1")), "no AXFR to NSD in the coordinator's log:\n{log}");
    let soa = resolver.query(ZONE, "SOA");
    assert!(soa.status == "NOERROR" && soa.ad(), "version 1 through Unbound:\n{}\n{}", soa.text, resolver.logs());

    let mut next = p.model.clone();
    next.put("added.example.com.", "A", 300, &["192.0.2.77"]);
    next.put("added.example.com.", "TXT", 300, &["\"added by the diff\""]);
    let t = Instant::now();
    p.apply(&cluster, next, false, "the change NSD pulls");
    let deadline = Instant::now() + DEADLINE;
    while resolver.nsd_serial() != Some(2) {
        assert!(Instant::now() < deadline, "NSD did not get serial 2 after NOTIFY:\n{}\n{}", resolver.logs(), cluster.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("NSD was notified and pulled version 2: {:.1} s", t.elapsed().as_secs_f64());
    let log = cluster.log("coordinator");
    assert!(log.contains(&format!("NOTIFY for {ZONE} serial 2 to 127.0.0.1:{nsd_port}: acknowledged")), "{log}");
    assert!(log.contains(&format!("IXFR {ZONE} serial 2 to 127.0.0.1")), "NSD must have used IXFR:\n{log}");

    let a = resolver.query("added.example.com.", "A");
    assert!(
        a.status == "NOERROR" && a.ad() && a.records("A").iter().any(|r| r.2 == "192.0.2.77"),
        "the added name through Unbound:\n{}\n{}",
        a.text,
        resolver.logs()
    );
    let nx = resolver.query("not-added.example.com.", "A");
    assert!(nx.status == "NXDOMAIN" && nx.ad(), "a secure denial after the change:\n{}\n{}", nx.text, resolver.logs());
}
