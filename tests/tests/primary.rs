//! Bump in the wire, with real processes: a real NSD is the hidden primary of an unsigned zone;
//! its NOTIFY (sent by kdig, TSIG-signed, as NSD would) makes the coordinator of a 3-of-5
//! cluster pull the zone, sign it (incrementally from the second version on), write the signed
//! zone file atomically and run its `on_publish` command, with no operator involved.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use frostzone_tests::approvals::DEADLINE;
use frostzone_tests::cluster::Cluster;
use frostzone_tests::coordinator_config::{self, Primary, Zone};
use frostzone_tests::nsd::{Nsd, NsdConfig, Role, TsigKey};
use frostzone_tests::port::free_port;
use frostzone_tests::programs::{describe, find_program, require, run};

const ZONE: &str = "hidden.example.";
const SECRET: &str = "ZnJvc3R6b25lLXRlc3QteGZyLWtleS0zMi1ieXRlcyE=";

fn zone_text(serial: u32, extra: &str) -> String {
    format!(
        "$TTL 300\n@ IN SOA ns1 hostmaster {serial} 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n\
         www IN A 192.0.2.1\nmail IN MX 10 www\n{extra}"
    )
}

/// Starts NSD on `port` serving `dir/zone` as primary, transfers allowed to 127.0.0.1 with the key.
fn start_primary(dir: &Path, port: u16) -> Nsd {
    let config = NsdConfig {
        port,
        zone: ZONE.to_string(),
        zonefile: "zone".to_string(),
        role: Role::Primary { provide_xfr: Some("xfr-key".to_string()) },
        keys: vec![TsigKey { name: "xfr-key".to_string(), secret: SECRET.to_string() }],
    };
    let mut nsd = Nsd::start(dir, &config);
    nsd.wait_serving(DEADLINE, String::new);
    nsd
}

/// Sends the primary's NOTIFY (RFC 1996) for the zone to the coordinator's transfer port.
fn notify(transfer_port: u16) -> String {
    let kdig = find_program("kdig").expect("kdig is installed");
    let mut cmd = Command::new(kdig);
    cmd.args(["@127.0.0.1", "-p", &transfer_port.to_string(), "-y", &format!("hmac-sha256:xfr-key:{SECRET}"), ZONE, "NOTIFY"]);
    let out = run(&mut cmd);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `file` exists and holds `serial` in its SOA.
fn wait_for_serial(file: &Path, serial: u32, cluster: &Cluster) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Ok(text) = std::fs::read_to_string(file) {
            if text.lines().any(|l| l.contains("\tSOA\t") && l.contains(&format!(" hostmaster.{ZONE} {serial} "))) {
                return text;
            }
        }
        assert!(Instant::now() < deadline, "{} never reached serial {serial}:\n{}", file.display(), cluster.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn verify(cluster: &Cluster, signed: &Path, ds: &Path) {
    let mut cmd = cluster.frostzone();
    cmd.arg("verify").arg(signed).arg("--ds").arg(ds);
    let out = run(&mut cmd);
    assert!(out.status.success(), "{}", describe(&cmd, &out));
}

#[test]
fn a_hidden_primarys_notify_is_pulled_signed_written_and_announced() {
    if !require("a_hidden_primarys_notify_is_pulled_signed_written_and_announced", &["nsd", "kdig", "dig"]) {
        return;
    }
    let primary_dir = tempfile::tempdir().expect("tempdir");
    let primary_port = free_port();
    std::fs::write(primary_dir.path().join("zone"), zone_text(1, "")).expect("write zone");
    let nsd = start_primary(primary_dir.path(), primary_port);

    let mut cluster = Cluster::new(5, 3);
    let out_dir = cluster.dir.path().join("published");
    std::fs::create_dir_all(&out_dir).expect("create output dir");
    let signed: PathBuf = out_dir.join("hidden.example.signed");
    let hook_log = cluster.dir.path().join("hook.log");
    let hook = cluster.dir.path().join("on-publish.sh");
    std::fs::write(&hook, "#!/bin/sh\necho \"$FROSTZONE_ZONE $FROSTZONE_SERIAL $FROSTZONE_FILE\" >> \"$1\"\n").expect("write hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod hook");
    let transfer_port = cluster.enable_transfer(vec![coordinator_config::TsigKey::hmac_sha256("xfr-key", SECRET)], Vec::new());
    cluster.configure_coordinator(|c| {
        c.primary = Some(Primary {
            address: format!("127.0.0.1:{primary_port}"),
            tsig_key: Some("xfr-key".to_string()),
            zones: vec![ZONE.to_string()],
            min_refresh_secs: None,
        });
        c.zones.push(Zone {
            name: ZONE.to_string(),
            output: Some(signed.display().to_string()),
            on_publish: Some(vec![hook.display().to_string(), hook_log.display().to_string()]),
            ..Zone::default()
        });
    });
    cluster.start_all();
    cluster.wait_ready(5);
    cluster.generate_keys(ZONE);
    let ds = cluster.dir.path().join("ds");
    std::fs::write(&ds, cluster.frostzone_ok(&["ds", "--zone", ZONE])).expect("write DS");

    // Version 1: the NOTIFY is answered (RFC 1996 §4.7), the zone pulled, signed and written.
    let t = Instant::now();
    let answer = notify(transfer_port);
    assert!(answer.contains("NOERROR"), "NOTIFY answer: {answer}");
    let v1 = wait_for_serial(&signed, 1, &cluster);
    println!("NOTIFY to signed zone written: {:.1} s", t.elapsed().as_secs_f64());
    assert!(v1.contains("\tRRSIG\t") && v1.contains("\tNSEC3\t") && v1.contains("www.hidden.example."));
    verify(&cluster, &signed, &ds);

    // Version 2 on the primary (NSD restarted on the new file), NOTIFY again: the change is
    // signed incrementally and written over the old file.
    drop(nsd);
    std::fs::write(primary_dir.path().join("zone"), zone_text(2, "new IN TXT \"from the hidden primary\"\n")).expect("write zone");
    let _nsd = start_primary(primary_dir.path(), primary_port);
    let answer = notify(transfer_port);
    assert!(answer.contains("NOERROR"), "NOTIFY answer: {answer}");
    let v2 = wait_for_serial(&signed, 2, &cluster);
    assert!(v2.contains("new.hidden.example.") && v2.contains("from the hidden primary"), "{v2}");
    verify(&cluster, &signed, &ds);
    let log = cluster.log("coordinator");
    let made: Vec<u64> = log
        .lines()
        .filter(|l| l.contains("published serial 2"))
        .filter_map(|l| l.split(" s: ").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    assert!(matches!(made.as_slice(), [n] if *n <= 6), "version 2 must be signed incrementally: {made:?}\n{log}");

    // The hook ran once per publication, after the file was in place.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let runs = std::fs::read_to_string(&hook_log).unwrap_or_default();
        if runs.lines().count() >= 2 {
            let lines: Vec<&str> = runs.lines().collect();
            assert_eq!(lines[0], format!("{ZONE} 1 {}", signed.display()));
            assert_eq!(lines[1], format!("{ZONE} 2 {}", signed.display()));
            break;
        }
        assert!(Instant::now() < deadline, "on_publish did not run twice: {runs:?}\n{}", cluster.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    // No temp files left beside the output.
    let leftovers: Vec<_> = std::fs::read_dir(&out_dir)
        .expect("read output dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n != "hidden.example.signed")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
