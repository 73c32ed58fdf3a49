//! Key rollovers with real processes (RFC 7583): a 2-of-3 cluster with second-long TTLs and
//! delays, so that the caches a rollover waits for expire in real time. The coordinator takes
//! every step itself; each step that changes the keys is a signing request the signers approve.
//!
//! * A ZSK rollover (pre-publication) runs through every phase; every version the coordinator
//!   publishes on the way passes `frostzone verify` with the parent's DS, a real NSD secondary
//!   pulls each one (NOTIFY, IXFR) and a validating Unbound over it answers with AD throughout.
//! * A KSK rollover (double signature) waits for the parent, a real NSD serving `example.` that
//!   the coordinator asks for the zone's DS: its CDS names the new key, the parent keeps the old
//!   DS for a while (the rollover waits), the coordinator is killed with SIGKILL in the middle and
//!   resumes from the persisted phase, and once the parent serves the new DS the old key goes.
//!   Unbound over the NSD secondary validates every version with the old DS until the parent
//!   changes, then with the old and the new DS while the old KSK is published, and with the new
//!   DS at the end.
//! * Steps are not repeated: once a rollover is done the zone stays as it is.
//! * A coordinator killed (SIGKILL, by fault injection) after publishing a step and before
//!   recording it recognises the step in the published zone when it comes back, records it
//!   without publishing it again, and the rollover ends as usual.
//! * With a ZSK lifetime configured, the coordinator makes the next ZSK ahead of need (a DKG the
//!   signers approve) and rolls to it when the lifetime ends, with nobody asking.
//! * A re-key from 3-of-5 to 4-of-6: the membership changes (every roster and the coordinator's
//!   config name a sixth signer and t = 4), a new CSK is made by DKG among the six, and a CSK
//!   rollover replaces the old 3-of-5 key; every version validates on the way, the parent's DS is
//!   replaced, and in the end only the new key is published and three signers no longer sign.
//! * The signers run `key_changes = "rollover"`: the zone's first publication waits for their
//!   operators, and every rollover step after it is approved by each signer's own reading of the
//!   key change (a key it holds a share of comes in; an old key goes only once its successor was
//!   published there `min_key_publish_secs`), or the rollover would stall.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use frostzone_tests::approvals::Background;
use frostzone_tests::cluster::Cluster;
use frostzone_tests::nsd::{self, Nsd, NsdConfig};
use frostzone_tests::coordinator_config::{self, Secondary};
use frostzone_tests::port::free_port;
use frostzone_tests::programs::{describe, require, run};
use frostzone_tests::resolver::Resolver;
use serde_json::Value;

const ZONE: &str = "roll.example.";
/// TTLs of two seconds: a ZSK rollover waits Dprp + TTLkey, then Dprp + the largest TTL.
const ZONE_TEXT: &str = "$TTL 2\n\
    roll.example. IN SOA ns1.roll.example. hostmaster.roll.example. 1 60 60 600 2\n\
    roll.example. IN NS ns1.roll.example.\n\
    ns1.roll.example. IN A 192.0.2.1\n\
    www.roll.example. IN A 192.0.2.80\n";
/// Every signer's policy: key changes that are rollover steps it recognises are approved by
/// policy, others (the first publication) wait for its operator.
const ROLLOVER_POLICY: &str = "version = 1\n[approval]\nkey_changes = \"rollover\"\nmin_key_publish_secs = 2\nkey_ceremonies = \"auto\"\n";
/// Longest a rollover may take here (its waits are a few seconds).
const DEADLINE: Duration = Duration::from_secs(120);

fn status(cluster: &Cluster) -> Value {
    let text = cluster.frostzone_ok(&["keys", "status", "--zone", ZONE, "--json"]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("keys status --json: {e}\n{text}"))
}

fn rollover<'a>(s: &'a Value, role: &str) -> Option<&'a Value> {
    s["rollovers"].as_array()?.iter().find(|r| r["role"] == role)
}

fn key_state(s: &Value, tag: u64) -> String {
    let keys = s["keys"].as_array().expect("keys");
    let key = keys.iter().find(|k| k["key_tag"] == tag).unwrap_or_else(|| panic!("key {tag} in {s:#}"));
    key["state"].as_str().unwrap_or_default().to_string()
}

fn tags_in(s: &Value, role: &str, state: &str) -> Vec<u64> {
    let keys = s["keys"].as_array().expect("keys");
    keys.iter().filter(|k| k["role"] == role && k["state"] == state).filter_map(|k| k["key_tag"].as_u64()).collect()
}

/// The versions the coordinator wrote to its output file, each checked when first seen.
struct Versions {
    output: PathBuf,
    ds: PathBuf,
    seen: Vec<String>,
}

impl Versions {
    /// Verifies the output if it changed since the last look; the DNSKEY key tags it publishes.
    fn look(&mut self, cluster: &Cluster) -> Option<BTreeSet<u16>> {
        let text = std::fs::read_to_string(&self.output).ok()?;
        if self.seen.last() == Some(&text) {
            return None;
        }
        let mut verify = Command::new(frostzone_tests::frostzone_bin());
        verify.arg("verify").arg(&self.output).arg("--ds").arg(&self.ds);
        let v = run(&mut verify);
        assert!(v.status.success(), "version {} does not validate with the parent's DS:\n{}\n{text}\n{}", self.seen.len() + 1, describe(&verify, &v), cluster.logs());
        self.seen.push(text.clone());
        Some(dnskey_tags(&text))
    }
}

/// Key tags of the DNSKEY records of a signed zone text (a published key need not sign).
fn dnskey_tags(text: &str) -> BTreeSet<u16> {
    use frostzone_dnssec::domain::rdata::ZoneRecordData;
    let apex = frostzone_dnssec::name::ZoneName::parse(ZONE).expect("zone name").into_apex();
    let records = frostzone_dnssec::load::load_zone_text(text, Path::new("output"), &apex).expect("the output reads");
    records
        .iter()
        .filter_map(|r| match r.record.data() {
            ZoneRecordData::Dnskey(k) => Some(k.key_tag()),
            _ => None,
        })
        .collect()
}

/// Waits until the rollover of `role` reaches `phase`, verifying every version on the way and
/// asking `check` about each (with the DNSKEY tags it publishes).
fn wait_phase(cluster: &Cluster, versions: &mut Versions, role: &str, phase: &str, mut check: impl FnMut(&BTreeSet<u16>)) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(tags) = versions.look(cluster) {
            check(&tags);
        }
        let s = status(cluster);
        if rollover(&s, role).is_some_and(|r| r["phase"] == phase) {
            if let Some(tags) = versions.look(cluster) {
                check(&tags);
            }
            return s;
        }
        assert!(Instant::now() < deadline, "the {role} rollover did not reach {phase}:\n{s:#}\n{}", cluster.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn write_ds(cluster: &Cluster, path: &Path) {
    cluster.write_ds(ZONE, path);
}

/// The parent zone `example.`, delegating to the zone with the DS records in `ds` (as
/// `frostzone ds` writes them), served by NSD on `port` (started again on each call).
fn parent(dir: &Path, port: u16, ds: &str) -> Nsd {
    std::fs::create_dir_all(dir).expect("parent dir");
    let zone = format!(
        "$TTL 1\nexample. IN SOA ns.example. hostmaster.example. 1 60 60 600 1\nexample. IN NS ns.example.\n\
         ns.example. IN A 127.0.0.1\nroll.example. IN NS ns1.roll.example.\nns1.roll.example. IN A 192.0.2.1\n{ds}\n"
    );
    std::fs::write(dir.join("parent.zone"), zone).expect("write parent zone");
    let config = NsdConfig { port, zone: "example.".into(), zonefile: "parent.zone".into(), role: nsd::Role::Primary { provide_xfr: None }, keys: Vec::new() };
    let mut server = Nsd::start(dir, &config);
    server.wait_serving(Duration::from_secs(20), || "the parent's NSD".to_string());
    server
}

/// Configures the coordinator to serve [`ZONE`] under `policy`, writing it to the returned file.
fn serve_zone(cluster: &Cluster, policy: coordinator_config::Rollover) -> PathBuf {
    let output = cluster.dir.path().join("roll.signed");
    cluster.configure_coordinator(|c| {
        c.zones.push(coordinator_config::Zone {
            name: ZONE.to_string(),
            output: Some(output.display().to_string()),
            rollover: Some(policy),
            ..coordinator_config::Zone::default()
        })
    });
    output
}

/// A 2-of-3 cluster whose coordinator writes the zone to the returned file and rolls its keys
/// under `policy`; keys of `roles` made, and the zone's first version signed.
fn signing_cluster(policy: coordinator_config::Rollover, roles: &[&str]) -> (Cluster, PathBuf) {
    let mut cluster = Cluster::new(3, 2);
    let output = serve_zone(&cluster, policy);
    cluster.start_all();
    cluster.wait_ready(3);
    for role in roles {
        cluster.frostzone_ok(&["keys", "generate", "--zone", ZONE, "--role", role]);
    }
    let zone_file = cluster.dir.path().join("roll.zone");
    std::fs::write(&zone_file, ZONE_TEXT).expect("write zone");
    let first = cluster.dir.path().join("first.signed");
    let out = run(&mut cluster.sign_command(ZONE, &zone_file, &first));
    assert!(out.status.success(), "{}", cluster.logs());
    (cluster, output)
}

/// Every wait of a CSK rollover one second (no parent servers: the operator's ds-seen).
fn one_second_csk_policy() -> coordinator_config::Rollover {
    coordinator_config::Rollover {
        dnskey_ttl: Some(1),
        propagation_delay: Some(1),
        parent_delay: Some(1),
        ds_ttl: Some(1),
        ds_check_interval: Some(1),
        ..Default::default()
    }
}

/// One cluster at a time: two would share the machine's two cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn zsk_and_ksk_rollovers_run_through_every_phase_and_every_version_validates() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !require("zsk_and_ksk_rollovers_run_through_every_phase_and_every_version_validates", &["nsd", "unbound", "dig"]) {
        return;
    }
    let mut cluster = Cluster::new(3, 2);
    let nsd_port = free_port();
    cluster.enable_transfer(Vec::new(), vec![Secondary { address: format!("127.0.0.1:{nsd_port}"), tsig_key: None, zones: None }]);
    let output = cluster.dir.path().join("roll.signed");
    let parent_port = free_port();
    cluster.configure_coordinator(|c| {
        c.zones.push(coordinator_config::Zone {
            name: ZONE.to_string(),
            output: Some(output.display().to_string()),
            serial_policy: Some("increment".to_string()),
            rollover: Some(coordinator_config::Rollover {
                dnskey_ttl: Some(1),
                propagation_delay: Some(1),
                parent_delay: Some(1),
                ds_ttl: Some(1),
                ds_check_interval: Some(1),
                parent_servers: vec![format!("127.0.0.1:{parent_port}")],
                ..Default::default()
            }),
            ..coordinator_config::Zone::default()
        })
    });
    for k in 1..=3 {
        cluster.set_policy(k, ROLLOVER_POLICY);
    }
    cluster.start_all();
    cluster.wait_ready(3);
    cluster.generate_keys(ZONE);
    let zone_file = cluster.dir.path().join("roll.zone");
    std::fs::write(&zone_file, ZONE_TEXT).expect("write zone");
    let first = cluster.dir.path().join("first.signed");
    // The first publication is no rollover step: each signer's operator approves it.
    let sign = Background::spawn(cluster.sign_command(ZONE, &zone_file, &first), &cluster.dir.path().join("logs"), "first-sign");
    let request = cluster.wait_for_pending(&[1, 2, 3], ZONE, &[]);
    for k in 1..=3 {
        cluster.approve(k, &request);
    }
    let done = sign.wait(DEADLINE, &cluster);
    assert!(done.status.success(), "{}\n{}", done.described, cluster.logs());
    let ds = cluster.dir.path().join("parent.ds");
    write_ds(&cluster, &ds);
    let mut versions = Versions { output: output.clone(), ds: ds.clone(), seen: Vec::new() };
    versions.look(&cluster).expect("the first version in the output file");
    let parent_dir = cluster.dir.path().join("parent");
    let mut parent_nsd = parent(&parent_dir, parent_port, std::fs::read_to_string(&ds).expect("DS").trim());
    let resolver = Resolver::start_secondary(ZONE, std::fs::read_to_string(&ds).expect("DS").trim(), nsd_port, cluster.transfer_port.expect("port"), None);

    // A second ZSK made while the zone has one is a standby: generated, not published.
    let s = status(&cluster);
    let (old_zsk, ksk) = (tags_in(&s, "ZSK", "active"), tags_in(&s, "KSK", "active"));
    assert_eq!((old_zsk.len(), ksk.len()), (1, 1), "{s:#}");
    let refused = cluster.frostzone_output(&["keys", "rollover", "--zone", ZONE, "--role", "zsk"]);
    let refused_text = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && refused_text.contains("no standby ZSK"), "{refused_text}");
    cluster.frostzone_ok(&["keys", "generate", "--zone", ZONE, "--role", "zsk"]);
    let s = status(&cluster);
    let standby = tags_in(&s, "ZSK", "standby");
    assert_eq!(standby.len(), 1, "the new ZSK waits as a standby:\n{s:#}");
    let (old_zsk, new_zsk) = (old_zsk[0], standby[0]);
    assert!(!versions.look(&cluster).is_some_and(|t| t.contains(&(new_zsk as u16))), "a standby is not published");

    // The ZSK rollover: published, active, done; every version validates, through Unbound too.
    cluster.frostzone_ok(&["keys", "rollover", "--zone", ZONE, "--role", "zsk"]);
    let again = cluster.frostzone_output(&["keys", "rollover", "--zone", ZONE, "--role", "zsk"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already runs a ZSK rollover"), "{}", String::from_utf8_lossy(&again.stderr));
    let both: BTreeSet<u16> = [ksk[0] as u16, old_zsk as u16, new_zsk as u16].into();
    let mut through_unbound = 0;
    let mut check = |tags: &BTreeSet<u16>| {
        assert!(tags.contains(&(ksk[0] as u16)), "the KSK stays published: {tags:?}");
        let a = resolver.query("www.roll.example.", "A");
        if a.status == "NOERROR" && a.ad() {
            through_unbound += 1;
        } else {
            panic!("Unbound over NSD during the ZSK rollover:\n{}\n{}", a.text, resolver.logs());
        }
    };
    let s = wait_phase(&cluster, &mut versions, "ZSK", "active", &mut check);
    assert_eq!(key_state(&s, new_zsk), "incoming");
    assert_eq!(key_state(&s, old_zsk), "outgoing");
    assert_eq!(versions.look(&cluster).unwrap_or_else(|| dnskey_tags(versions.seen.last().expect("a version"))), both);
    let s = wait_phase(&cluster, &mut versions, "ZSK", "done", &mut check);
    assert_eq!(key_state(&s, old_zsk), "retired", "{s:#}");
    assert_eq!(key_state(&s, new_zsk), "active", "{s:#}");
    assert_eq!(dnskey_tags(versions.seen.last().expect("a version")), [ksk[0] as u16, new_zsk as u16].into());
    assert!(through_unbound >= 2, "Unbound answered at {through_unbound} versions");
    // Idempotent: nothing more is published once it is done.
    let count = versions.seen.len();
    std::thread::sleep(Duration::from_secs(4));
    assert!(versions.look(&cluster).is_none(), "a finished rollover published again ({count} versions before)\n{}", cluster.logs());

    // The KSK rollover: the new KSK signs the key set beside the old one; once active its CDS
    // asks the parent for its DS; the coordinator is killed mid-way and resumes.
    cluster.frostzone_ok(&["keys", "generate", "--zone", ZONE, "--role", "ksk"]);
    let new_ksk = tags_in(&status(&cluster), "KSK", "standby")[0];
    cluster.frostzone_ok(&["keys", "rollover", "--zone", ZONE, "--role", "ksk"]);
    let early = cluster.frostzone_output(&["keys", "ds-seen", "--zone", ZONE, "--key-tag", &new_ksk.to_string()]);
    assert!(!early.status.success(), "a DS cannot be seen before the CDS asks for it");
    // A resolver holding the old DS validates every version up to the parent's change.
    let validated = std::cell::Cell::new(0);
    let validates = |view: &str, a: frostzone_tests::dig::Answer, logs: &dyn Fn() -> String| {
        assert!(a.status == "NOERROR" && a.ad(), "Unbound with the {view} DS during the KSK rollover:\n{}\n{}", a.text, logs());
        validated.set(validated.get() + 1);
    };
    let s = wait_phase(&cluster, &mut versions, "KSK", "active", |_| validates("old", resolver.query("www.roll.example.", "A"), &|| resolver.logs()));
    assert!(rollover(&s, "KSK").expect("KSK rollover")["waiting_for"].as_str().unwrap_or_default().contains("parent"), "{s:#}");
    let text = versions.seen.last().expect("a version").clone();
    let cds: Vec<&str> = text.lines().filter(|l| l.split_whitespace().nth(3) == Some("CDS")).collect();
    assert!(cds.len() == 1 && cds[0].split_whitespace().nth(4) == Some(new_ksk.to_string().as_str()), "the CDS names the new KSK only:\n{text}");
    // The parent still serves the old DS: the rollover waits, through a SIGKILL and a restart.
    std::thread::sleep(Duration::from_secs(3));
    let s = status(&cluster);
    assert_eq!(rollover(&s, "KSK").expect("KSK rollover")["phase"], "active", "the old DS at the parent keeps it waiting:\n{s:#}");
    cluster.kill_coordinator();
    cluster.start_coordinator();
    cluster.wait_ready(3);
    let s = status(&cluster);
    assert_eq!(rollover(&s, "KSK").expect("KSK rollover")["phase"], "active", "resumed from the persisted phase:\n{s:#}");
    // The parent acts on the CDS: `frostzone ds` now gives the new DS, and NSD serves it.
    write_ds(&cluster, &versions.ds);
    let ds_now = std::fs::read_to_string(&versions.ds).expect("DS");
    assert!(ds_now.contains(&format!("DS\t{new_ksk} ")) && !ds_now.contains(&format!("DS\t{} ", ksk[0])), "frostzone ds gives the new DS:\n{ds_now}");
    drop(parent_nsd);
    parent_nsd = parent(&parent_dir, parent_port, ds_now.trim());
    // Until the old KSK goes, resolvers with either DS validate; then those with the new one.
    let new_view = resolver.view(ds_now.trim());
    let s = wait_phase(&cluster, &mut versions, "KSK", "done", |tags| {
        validates("new", new_view.query("www.roll.example.", "A"), &|| new_view.logs());
        if tags.contains(&(ksk[0] as u16)) {
            validates("old", resolver.query("www.roll.example.", "A"), &|| resolver.logs());
        }
    });
    validates("new", new_view.query("www.roll.example.", "A"), &|| new_view.logs());
    assert!(validated.get() >= 4, "Unbound validated only {} answers during the KSK rollover", validated.get());
    assert_eq!(key_state(&s, ksk[0]), "retired", "{s:#}");
    assert_eq!(dnskey_tags(versions.seen.last().expect("a version")), [new_ksk as u16, new_zsk as u16].into());
    parent_nsd.assert_running();
    let log = cluster.log("coordinator");
    assert!(log.contains("waits for the parent's DS") && log.contains("the parent shows the new DS"), "the parent's servers were asked:\n{log}");
}

#[test]
fn a_coordinator_killed_between_publishing_and_recording_a_step_resumes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let policy = coordinator_config::Rollover { dnskey_ttl: Some(1), propagation_delay: Some(1), ..Default::default() };
    let (mut cluster, output) = signing_cluster(policy, &["ksk", "zsk"]);
    let ds = cluster.dir.path().join("parent.ds");
    write_ds(&cluster, &ds);
    let mut versions = Versions { output, ds, seen: Vec::new() };
    versions.look(&cluster);
    cluster.frostzone_ok(&["keys", "generate", "--zone", ZONE, "--role", "zsk"]);
    let s = status(&cluster);
    let (ksk, old, new) = (tags_in(&s, "KSK", "active")[0], tags_in(&s, "ZSK", "active")[0], tags_in(&s, "ZSK", "standby")[0]);
    let kill_at_first_step = [("FROSTZONE_FAULT_KILL_BEFORE_STEP_RECORD", "1")];

    // The rollover's start is published, then the coordinator dies before recording it.
    cluster.kill_coordinator();
    cluster.start_coordinator_with(&kill_at_first_step);
    cluster.wait_ready(3);
    let started = cluster.frostzone_output(&["keys", "rollover", "--zone", ZONE, "--role", "zsk"]);
    assert!(!started.status.success(), "the rollover's start returned although its coordinator was killed");
    assert!(!cluster.wait_coordinator_exit(DEADLINE).success());
    let published = versions.look(&cluster).expect("the start was published before the kill");
    assert_eq!(published, [ksk as u16, old as u16, new as u16].into());

    // Back (killed again, now inside the next step): the start is recognised and recorded, the
    // next step (the new ZSK signs) published, and the coordinator dies before recording it.
    cluster.start_coordinator_with(&kill_at_first_step);
    assert!(!cluster.wait_coordinator_exit(DEADLINE).success());
    versions.look(&cluster);
    let seen = versions.seen.len();

    // Back for good: the step is recognised and recorded, not published again; the rollover ends.
    cluster.start_coordinator();
    cluster.wait_ready(3);
    let s = wait_phase(&cluster, &mut versions, "ZSK", "done", |_| {});
    assert_eq!((key_state(&s, old), key_state(&s, new)), ("retired".to_string(), "active".to_string()), "{s:#}");
    let log = cluster.log("coordinator");
    assert!(log.contains("that was never recorded") && log.contains("already shows the next rollover step; recording it"), "{}", cluster.logs());
    assert_eq!(versions.seen.len(), seen + 1, "versions after the last restart (only the old ZSK's removal)");
}

#[test]
fn a_zsk_at_the_end_of_its_lifetime_is_rolled_to_a_key_made_ahead() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let policy = coordinator_config::Rollover { dnskey_ttl: Some(1), propagation_delay: Some(1), zsk_lifetime: Some(8), ..Default::default() };
    let (cluster, output) = signing_cluster(policy, &["ksk", "zsk"]);
    let ds = cluster.dir.path().join("parent.ds");
    write_ds(&cluster, &ds);
    let s = status(&cluster);
    let old_zsk = tags_in(&s, "ZSK", "active");
    assert_eq!(old_zsk.len(), 1, "{s:#}");
    let mut versions = Versions { output, ds, seen: Vec::new() };
    // Nobody runs `keys generate` or `keys rollover`: the lifetime does.
    let s = wait_phase(&cluster, &mut versions, "ZSK", "done", |_| {});
    assert_eq!(key_state(&s, old_zsk[0]), "retired", "{s:#}");
    let new_zsk = tags_in(&s, "ZSK", "active");
    assert!(new_zsk.len() == 1 && new_zsk != old_zsk, "{s:#}");
    // And again at the end of the new key's lifetime: a second rollover of the role is recorded.
    let deadline = Instant::now() + DEADLINE;
    loop {
        versions.look(&cluster);
        let s = status(&cluster);
        let second = rollover(&s, "ZSK").is_some_and(|r| r["old_key_tag"] == new_zsk[0] && r["phase"] == "done");
        if second {
            assert_eq!(key_state(&s, new_zsk[0]), "retired", "{s:#}");
            break;
        }
        assert!(Instant::now() < deadline, "no second ZSK rollover:\n{s:#}\n{}", cluster.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = cluster.log("coordinator");
    assert!(log.contains("making the next ZSK ahead of need") && log.contains("reached its lifetime"), "{log}");
}

#[test]
fn a_csk_rollover_waits_for_the_operators_ds_seen_and_ends_with_the_new_key_alone() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let policy = one_second_csk_policy();
    let (cluster, output) = signing_cluster(policy, &["csk"]);
    let ds = cluster.dir.path().join("parent.ds");
    write_ds(&cluster, &ds);
    let old = tags_in(&status(&cluster), "CSK", "active")[0];
    cluster.frostzone_ok(&["keys", "generate", "--zone", ZONE, "--role", "csk"]);
    let new = tags_in(&status(&cluster), "CSK", "standby")[0];
    let mut versions = Versions { output, ds, seen: Vec::new() };
    versions.look(&cluster);
    cluster.frostzone_ok(&["keys", "rollover", "--zone", ZONE, "--role", "csk"]);
    let s = wait_phase(&cluster, &mut versions, "CSK", "active", |_| {});
    let waiting = rollover(&s, "CSK").expect("CSK rollover")["waiting_for"].as_str().unwrap_or_default().to_string();
    assert!(waiting.contains("ds-seen") && waiting.contains("no parent_servers"), "{waiting}");
    // No parent to ask: it waits for the operator's word.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(rollover(&status(&cluster), "CSK").expect("CSK rollover")["phase"], "active");
    let text = versions.seen.last().expect("a version").clone();
    assert!(text.lines().any(|l| l.split_whitespace().nth(3) == Some("CDNSKEY")), "the CDNSKEY asks for the new key:\n{text}");
    cluster.frostzone_ok(&["keys", "ds-seen", "--zone", ZONE, "--key-tag", &new.to_string()]);
    write_ds(&cluster, &versions.ds);
    let s = wait_phase(&cluster, &mut versions, "CSK", "done", |_| {});
    assert_eq!((key_state(&s, old), key_state(&s, new)), ("retired".to_string(), "active".to_string()), "{s:#}");
    assert_eq!(dnskey_tags(versions.seen.last().expect("a version")), [new as u16].into());
}

#[test]
fn a_rekey_from_3_of_5_to_4_of_6_rolls_the_new_group_in() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cluster = Cluster::new(6, 4);
    cluster.set_membership(&[1, 2, 3, 4, 5], 3);
    let output = serve_zone(&cluster, one_second_csk_policy());
    for k in 1..=5 {
        cluster.start_signer(k, &[]);
    }
    cluster.start_coordinator();
    cluster.wait_ready(5);
    let made = cluster.frostzone_ok(&["keys", "generate", "--zone", ZONE, "--role", "csk"]);
    assert!(made.contains("3 of 5"), "{made}");
    let zone_file = cluster.dir.path().join("roll.zone");
    std::fs::write(&zone_file, ZONE_TEXT).expect("write zone");
    let first = cluster.dir.path().join("first.signed");
    let out = run(&mut cluster.sign_command(ZONE, &zone_file, &first));
    assert!(out.status.success(), "{}", cluster.logs());
    let ds = cluster.dir.path().join("parent.ds");
    write_ds(&cluster, &ds);
    let old = tags_in(&status(&cluster), "CSK", "active")[0];

    // The membership changes: signer-6 joins, t becomes 4 (every operator's roster, the
    // coordinator's config), and every process restarts on it.
    cluster.kill_coordinator();
    for k in 1..=5 {
        cluster.stop_signer(k);
    }
    cluster.set_membership(&[1, 2, 3, 4, 5, 6], 4);
    cluster.start_all();
    cluster.wait_ready(6);

    // `keys rekey`: the new group's key by DKG among the six, rolled in as a CSK rollover.
    let mut versions = Versions { output, ds, seen: Vec::new() };
    versions.look(&cluster);
    let made = cluster.frostzone_ok(&["keys", "rekey", "--zone", ZONE, "--role", "csk"]);
    assert!(made.contains("4 of 6") && made.contains("signer-6"), "{made}");
    let new: u64 = made
        .split("key tag ")
        .nth(1)
        .and_then(|t| t.split(':').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no key tag in the re-key's output:\n{made}"));
    assert_ne!(new, old);
    wait_phase(&cluster, &mut versions, "CSK", "active", |_| {});
    cluster.frostzone_ok(&["keys", "ds-seen", "--zone", ZONE, "--key-tag", &new.to_string()]);
    write_ds(&cluster, &versions.ds);
    let s = wait_phase(&cluster, &mut versions, "CSK", "done", |_| {});
    assert_eq!((key_state(&s, old), key_state(&s, new)), ("retired".to_string(), "active".to_string()), "{s:#}");
    assert_eq!(dnskey_tags(versions.seen.last().expect("a version")), [new as u16].into());
    let parent_ds = std::fs::read_to_string(&versions.ds).expect("DS");
    let ds_tags: Vec<String> = parent_ds.lines().filter_map(|l| l.split_whitespace().nth(4).map(str::to_string)).collect();
    assert_eq!(ds_tags, vec![new.to_string()], "the parent's DS is not the new key's alone (old key tag {old}):\n{parent_ds}");

    // The old t no longer signs: with three signers up, the zone cannot be signed.
    for k in 4..=6 {
        cluster.stop_signer(k);
    }
    cluster.wait_ready(3);
    std::fs::write(&zone_file, ZONE_TEXT.replace(" 1 60 60 600 2", " 100 60 60 600 2")).expect("write zone");
    let mut cmd = cluster.sign_command(ZONE, &zone_file, &cluster.dir.path().join("three.signed"));
    cmd.args(["--approval-timeout", "10"]);
    let out = run(&mut cmd);
    assert!(!out.status.success(), "three signers signed after the re-key to 4-of-6:\n{}", describe(&cmd, &out));
}
