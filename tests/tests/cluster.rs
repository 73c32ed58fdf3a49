//! End-to-end tests of a real cluster: a coordinator and five signer nodes as separate
//! processes, mutual TLS on loopback, 3-of-5 FROST keys made by DKG. Signing with signers down,
//! a quorum that cannot be met, a signer returning corrupt shares, a signer killed mid-session,
//! a restart of every node, unknown client certificates, and a replayed round-2 request.
//!
//! The tests run one at a time (each starts six processes; two cores are not enough for more).

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use frostzone_tests::cluster::Cluster;
use frostzone_tests::example_zone;
use frostzone_tests::resolver::Resolver;
use frostzone_tests::signers::SignedZoneDir;
use frostzone_tests::programs::{describe, require, run};
use frostzone_tests::validators::assert_validators_accept;

const ORIGIN: &str = "example.com.";
const VALIDATORS: &[&str] = &["ldns-verify-zone", "dnssec-verify", "kzonecheck", "nsd", "unbound", "dig"];

/// One cluster test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Signs `zone_file` with the cluster into `dir/NAME.signed`, asserting success, and checks it
/// with `frostzone verify --ds` (DS from `frostzone ds`). Returns the signed file.
fn sign_and_verify(cluster: &Cluster, zone: &str, zone_file: &Path, name: &str) -> std::path::PathBuf {
    let out = cluster.dir.path().join(format!("{name}.signed"));
    let mut cmd = cluster.sign_command(zone, zone_file, &out);
    let output = run(&mut cmd);
    assert!(output.status.success(), "{}\n{}", describe(&cmd, &output), cluster.logs());
    assert!(out.is_file(), "{cmd:?} exited 0 but wrote no {}", out.display());
    let ds = cluster.dir.path().join(format!("{name}.ds"));
    cluster.write_ds(zone, &ds);
    let mut verify = Command::new(frostzone_tests::frostzone_bin());
    verify.arg("verify").arg(&out).arg("--ds").arg(&ds);
    let v = run(&mut verify);
    assert!(v.status.success(), "{}", describe(&verify, &v));
    out
}

/// (a) DKG 3-of-5 and signing: the cluster's output passes ldns-verify-zone, dnssec-verify,
/// kzonecheck and `frostzone verify --ds`.
#[test]
fn dkg_and_signing_pass_every_validator() {
    let _serial = serial();
    if !require("dkg_and_signing_pass_every_validator", VALIDATORS) {
        return;
    }
    let cluster = Cluster::start_3_of_5();
    cluster.generate_keys(ORIGIN);
    let keys = cluster.frostzone_ok(&["keys", "list", "--zone", ORIGIN]);
    assert!(keys.contains("KSK") && keys.contains("ZSK") && keys.contains("3 of 5"), "keys list:\n{keys}");
    let signed = sign_and_verify(&cluster, ORIGIN, &example_zone(), "example");
    assert_validators_accept(&signed, ORIGIN, false, "cluster-signed example zone");

    // Served by NSD to a validating Unbound: secure answers and a secure denial.
    let dir = tempfile::tempdir().expect("tempdir");
    let served = SignedZoneDir {
        zone: dir.path().join("example.signed"),
        ds: dir.path().join("example.ds"),
        dir,
        origin: ORIGIN.to_string(),
        label: "cluster-signed example zone".to_string(),
    };
    std::fs::copy(&signed, &served.zone).expect("copy signed zone");
    cluster.write_ds(ORIGIN, &served.ds);
    let resolver = Resolver::start(&served);
    for (name, rtype, status) in
        [("example.com.", "SOA", "NOERROR"), ("www.example.com.", "A", "NOERROR"), ("nonexistent.example.com.", "A", "NXDOMAIN")]
    {
        let a = resolver.query(name, rtype);
        assert!(a.status == status && a.ad(), "{name} {rtype}: want {status} with AD:\n{}\n{}", a.text, resolver.logs());
    }
}

/// (b) and (c): with 2 of 5 signers stopped the zone is still signed; with 3 stopped no quorum
/// of approvals can form: the request waits for them (they may come back) until its approval
/// timeout, then the sign fails, exit 2, naming the unreachable signers, and writes nothing.
#[test]
fn two_signers_down_signs_three_down_is_quorum_unavailable() {
    let _serial = serial();
    let mut cluster = Cluster::start_3_of_5();
    cluster.generate_keys(ORIGIN);
    cluster.kill_signer(4);
    cluster.kill_signer(5);
    sign_and_verify(&cluster, ORIGIN, &example_zone(), "two-down");

    cluster.kill_signer(3);
    let out = cluster.dir.path().join("three-down.signed");
    let mut cmd = cluster.sign_command(ORIGIN, &example_zone(), &out);
    // No --approval-timeout: the default waits an hour for operators, but a quorum that cannot
    // be reached fails within seconds (coordinator::approval::quorum_wait::UNREACHABLE_GRACE).
    let started = std::time::Instant::now();
    let output = run(&mut cmd);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&cmd, &output));
    assert!(started.elapsed() < std::time::Duration::from_secs(300), "waited {:?}", started.elapsed());
    // "quorum unavailable: key tag N needs 3 approvals, at most 2 reachable signers can give
    // them (approved: signer-1, signer-2; unreachable: signer-3 (unreachable: ...), ...)"
    let error = stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(error.contains("quorum unavailable"), "{}", describe(&cmd, &output));
    for k in [3, 4, 5] {
        assert!(error.contains(&format!("signer-{k} (unreachable")), "{}", describe(&cmd, &output));
    }
    assert!(!out.exists(), "{} was written although signing failed", out.display());
}

/// (d) A signer returning corrupt signature shares is named as culprit, and the zone is still
/// signed with another subset.
#[test]
fn corrupt_share_names_the_culprit_and_signing_succeeds() {
    let _serial = serial();
    // The switch exists only in test builds (the fault-injection feature, scripts/test).
    let mut version = std::process::Command::new(frostzone_tests::cluster::workspace_binary("frostzone-signer"));
    let version = run(version.arg("--version"));
    assert!(
        String::from_utf8_lossy(&version.stdout).contains("fault injection"),
        "target/debug/frostzone-signer has no fault injection: build it with \
         `cargo build --workspace --bins --features frostzone-signer-node/fault-injection` (scripts/test does)"
    );
    let mut cluster = Cluster::new(5, 3);
    let metrics_ports = cluster.enable_metrics(true);
    cluster.start_signer(1, &[("FROSTZONE_FAULT_CORRUPT_SHARES", "1")]);
    cluster.start_all();
    cluster.wait_ready(5);
    cluster.generate_keys(ORIGIN);
    // The coordinator may pick a subset without signer-1; every pick that includes it must
    // name it. A few signings make a pick with signer-1 all but certain.
    let mut status = String::new();
    let mut signings = 0;
    for attempt in 1..=4 {
        signings = attempt;
        sign_and_verify(&cluster, ORIGIN, &example_zone(), &format!("corrupt-{attempt}"));
        status = cluster.frostzone_ok(&["status"]);
        if culprit_lines(&status).iter().any(|l| l.contains("signer-1")) {
            break;
        }
    }
    let culprits = culprit_lines(&status);
    assert!(
        culprits.iter().any(|l| l.contains("signer-1")),
        "frostzone status does not name signer-1 as culprit after 4 signings:\n{status}\n{}",
        cluster.logs()
    );
    assert!(
        culprits.iter().all(|l| !["signer-2", "signer-3", "signer-4", "signer-5"].iter().any(|s| l.contains(s))),
        "an honest signer was named as culprit:\n{status}"
    );
    assert_metrics_tell_the_story(&cluster, &metrics_ports, signings);
}

/// What Prometheus scrapes after the signings of the corrupt-share test: the coordinator over
/// mutual TLS (and nothing without a client certificate), the signers over plain loopback HTTP.
fn assert_metrics_tell_the_story(cluster: &Cluster, ports: &[u16], signings: usize) {
    use frostzone_tests::cluster::{metric, metric_sum};
    if !require("corrupt_share_names_the_culprit_and_signing_succeeds (metrics over TLS)", &["curl"]) {
        return;
    }
    let refused = cluster.scrape_coordinator_tls(ports[0], false);
    assert!(refused.is_err(), "the coordinator's metrics answered a client without a certificate:\n{refused:?}");
    let text = cluster.scrape_coordinator_tls(ports[0], true).unwrap_or_else(|e| panic!("{e}"));
    let zone = "zone=\"example.com.\"";
    let published = metric_sum(&text, "frostzone_requests_total", &["kind=\"zone\"", "outcome=\"published\""]);
    assert_eq!(published, signings as f64, "published requests:\n{text}");
    assert!(metric_sum(&text, "frostzone_signatures_total", &[zone]) > 0.0, "signatures:\n{text}");
    assert!(metric(&text, "frostzone_signer_culprits_total{signer=\"signer-1\"}").unwrap_or(0.0) >= 1.0, "culprits:\n{text}");
    assert_eq!(metric_sum(&text, "frostzone_signer_culprits_total", &[]), metric(&text, "frostzone_signer_culprits_total{signer=\"signer-1\"}").unwrap_or(0.0), "an honest signer blamed:\n{text}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as f64;
    let expiry = metric(&text, "frostzone_rrsig_earliest_expiration_timestamp_seconds{zone=\"example.com.\"}").expect("earliest expiration");
    assert!(expiry > now + 86_400.0, "earliest RRSIG expiration {expiry} is not days ahead of {now}:\n{text}");
    assert!(metric(&text, "frostzone_next_refresh_timestamp_seconds{zone=\"example.com.\"}").is_some_and(|t| t > now && t < expiry), "{text}");
    assert_eq!(metric_sum(&text, "frostzone_key_state", &[zone, "state=\"active\""]), 2.0, "a KSK and a ZSK active:\n{text}");
    assert_eq!(metric_sum(&text, "frostzone_requests_in_flight", &[]), 0.0, "requests still counted as running:\n{text}");
    assert_eq!(metric_sum(&text, "frostzone_validation_failures_total", &[]), 0.0, "{text}");
    for k in 2..=5 {
        assert_eq!(metric(&text, &format!("frostzone_signer_up{{signer=\"signer-{k}\"}}")), Some(1.0), "signer-{k} up:\n{text}");
    }
    let mut shares = 0.0;
    for k in 1..=5u16 {
        let text = cluster.scrape(ports[usize::from(k)]);
        let approved = metric_sum(&text, "frostzone_signer_decisions_total", &["request=\"signing\"", "decision=\"approved\"", "by=\"policy\""]);
        assert_eq!(approved, signings as f64, "signer-{k} approved every signing by policy:\n{text}");
        assert_eq!(metric(&text, "frostzone_signer_pending_approvals"), Some(0.0), "signer-{k}:\n{text}");
        shares += metric_sum(&text, "frostzone_signer_signature_shares_total", &[zone]);
    }
    assert!(shares > 0.0, "no signer counted a signature share");
}

fn culprit_lines(status: &str) -> Vec<&str> {
    status.lines().filter(|l| l.contains("culprits:")).collect()
}

/// (e) `kill -9` of a signer while a larger zone is being signed: the session completes with
/// another subset.
#[test]
fn signer_killed_mid_session_the_sign_completes() {
    let _serial = serial();
    let zone = "ref.test.";
    let mut cluster = Cluster::start_3_of_5();
    cluster.generate_keys(zone);
    let zone_file = cluster.dir.path().join("ref.zone");
    let mut gen = Command::new(env!("CARGO_BIN_EXE_gen-reference-zone"));
    gen.args(["--delegations", "20000", "--origin", zone]);
    let generated = run(&mut gen);
    assert!(generated.status.success(), "{}", describe(&gen, &generated));
    std::fs::write(&zone_file, &generated.stdout).expect("write reference zone");

    let out = cluster.dir.path().join("ref.signed");
    let mut sign = cluster.sign_command(zone, &zone_file, &out);
    // Opt-out halves the RRSIGs (insecure delegations get no NSEC3): enough batches to kill a
    // signer in the middle of, in less time.
    sign.arg("--nsec3-opt-out");
    sign.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = sign.spawn().expect("start frostzone sign");

    // Wait for the session to show its quorum, then kill one of its signers. The coordinator
    // picks the first t signers in participant order, so signer-1 is the fallback victim.
    let victim = wait_for_session_signer(&cluster, zone, Duration::from_secs(60)).unwrap_or(1);
    let started = Instant::now();
    cluster.kill_signer(victim);
    let output = child.wait_with_output().expect("wait for frostzone sign");
    eprintln!("signer-{victim} killed; the sign finished {:.1} s later", started.elapsed().as_secs_f64());
    let status = cluster.frostzone_ok(&["status"]);
    eprintln!("{status}");
    // The session row: it was released, and signed with more than t signers (the victim, then a
    // replacement).
    let row: Vec<&str> = status
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[1] == zone)
        .unwrap_or_else(|| panic!("no request of {zone} in status:\n{status}"));
    assert_eq!(row[2], "published", "{status}");
    let took_part: Vec<&str> = row[5].split(',').collect();
    assert!(
        took_part.contains(&format!("signer-{victim}").as_str()) && took_part.len() > usize::from(cluster.threshold),
        "the request should list signer-{victim} and a replacement:\n{status}"
    );
    assert!(
        output.status.success(),
        "sign after killing signer-{victim} failed ({:.1} s later):\n{}\n{}\n{}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        cluster.logs()
    );
    let ds = cluster.dir.path().join("ref.ds");
    cluster.write_ds(zone, &ds);
    let mut verify = Command::new(frostzone_tests::frostzone_bin());
    verify.arg("verify").arg(&out).arg("--ds").arg(&ds);
    let v = run(&mut verify);
    assert!(v.status.success(), "{}", describe(&verify, &v));
}

/// The number of a signer in the running request of `zone`, from `frostzone status`.
fn wait_for_session_signer(cluster: &Cluster, zone: &str, limit: Duration) -> Option<u16> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let out = cluster.frostzone_output(&["status"]);
        let text = String::from_utf8_lossy(&out.stdout);
        // Request rows: REQUEST ZONE STATE STARTED RRSIGS SIGNERS CULPRITS
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let live = !(f.get(2).is_some_and(|s| s.eq_ignore_ascii_case("published") || s.to_lowercase().starts_with("failed")));
            if f.len() >= 6 && f[1] == zone && live {
                if let Some(k) = f[5].split(',').find_map(|s| s.strip_prefix("signer-")?.parse().ok()) {
                    return Some(k);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// (f) `kill -9` of every node and a start with the same data directories: the same group keys,
/// and signing works.
#[test]
fn restart_of_every_node_keeps_the_keys() {
    let _serial = serial();
    let mut cluster = Cluster::start_3_of_5();
    cluster.generate_keys(ORIGIN);
    let before = cluster.frostzone_ok(&["keys", "list"]);
    cluster.kill_all();
    cluster.start_all();
    cluster.wait_ready(5);
    let after = cluster.frostzone_ok(&["keys", "list"]);
    assert_eq!(before, after, "keys differ after a restart of every node");
    sign_and_verify(&cluster, ORIGIN, &example_zone(), "after-restart");
}

/// (g) A client certificate from another CA is refused, and so are certificates from the right
/// CA that are not the pinned operator's (a signer's, the coordinator's own).
#[test]
fn unknown_client_certificates_are_refused() {
    let _serial = serial();
    let cluster = Cluster::start_3_of_5();
    let root = cluster.dir.path();

    let foreign = root.join("foreign");
    let mut init = Command::new(frostzone_tests::frostzone_bin());
    init.args(["certs", "init", "--signers", "1", "--dir"]).arg(&foreign);
    let o = run(&mut init);
    assert!(o.status.success(), "{}", describe(&init, &o));

    let cases = [
        ("operator of another CA", foreign.join("operator.pem"), foreign.join("operator.key")),
        ("signer-1 (same CA, server-only, not pinned)", root.join("signer-1.pem"), root.join("signer-1.key")),
        ("coordinator (same CA, client usage, not pinned)", root.join("coordinator.pem"), root.join("coordinator.key")),
    ];
    for (what, cert, key) in cases {
        let tls = root.join(format!("client-{}", what.split_whitespace().next().unwrap_or("x")));
        std::fs::create_dir_all(&tls).expect("create client dir");
        std::fs::copy(root.join("ca.pem"), tls.join("ca.pem")).expect("copy ca");
        std::fs::copy(&cert, tls.join("operator.pem")).expect("copy cert");
        std::fs::copy(&key, tls.join("operator.key")).expect("copy key");
        let mut cmd = Command::new(frostzone_tests::frostzone_bin());
        cmd.arg("--coordinator").arg(cluster.url()).arg("--tls-dir").arg(&tls).arg("status");
        let out = run(&mut cmd);
        assert!(!out.status.success(), "{what}: status was answered:\n{}", describe(&cmd, &out));
        eprintln!("{what}: refused: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    // The real operator still gets in.
    cluster.frostzone_ok(&["status"]);
}

/// (h) A replayed round-2 request is refused: acting as the coordinator (its certificate, which
/// the signers pin), propose a one-item request to three signers (their policy approves it),
/// commit it on all three, have signer-1 sign once, then send the same Sign again.
#[test]
fn replayed_round_two_is_refused() {
    let _serial = serial();
    let cluster = Cluster::start_3_of_5();
    cluster.frostzone_ok(&["keys", "generate", "--zone", ORIGIN, "--role", "csk"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(replay(&cluster));
}

async fn replay(cluster: &Cluster) {
    use frostzone_proto::v1::{ParticipantCommitments, RequestState, SignRequest};
    use frostzone_proto::API_VERSION;
    use frostzone_tests::rogue;

    let mut clients = Vec::new();
    for k in 1..=3u16 {
        clients.push(rogue::connect(cluster, k).await);
    }
    let key = rogue::zone_key(&mut clients[0], ORIGIN).await;
    let zone_text = std::fs::read_to_string(example_zone()).expect("read example zone");
    let proposal = rogue::full_proposal(ORIGIN, &zone_text, &[rogue::dnskey_of(&key)], frostzone_dnssec::denial::Denial::default());
    // One item to sign: the proposal's first.
    let items = vec![proposal.iter().find(|i| i.rrsig.is_some()).expect("an item to sign").clone()];
    let request = rogue::request_id();
    let session_id = rogue::session_id();
    let mut commitments = Vec::new();
    for (i, client) in clients.iter_mut().enumerate() {
        let decision = rogue::propose(client, &request, ORIGIN, &proposal)
            .await
            .unwrap_or_else(|e| panic!("propose on signer-{}: {e:?}\n{}", i + 1, cluster.logs()));
        assert_eq!(decision.state(), RequestState::Approved, "signer-{}: {decision:?}", i + 1);
        let response = rogue::commit(client, &session_id, &request, ORIGIN, &key, &items)
            .await
            .unwrap_or_else(|e| panic!("commit on signer-{}: {e:?}\n{}", i + 1, cluster.logs()));
        commitments.push(ParticipantCommitments { participant: response.participant, commitments: response.commitments });
    }
    let sign = SignRequest { api_version: API_VERSION, attempt_id: session_id, commitments };
    let first = clients[0].sign(sign.clone()).await;
    let first = first.unwrap_or_else(|e| panic!("first Sign refused: {e:?}\n{}", cluster.logs())).into_inner();
    assert_eq!(first.shares.len(), 1, "one share per committed item");
    let replayed = clients[0].sign(sign).await;
    match replayed {
        Ok(r) => panic!("the replayed Sign was answered with {} shares", r.into_inner().shares.len()),
        Err(status) => eprintln!("replayed Sign refused: {:?}: {}", status.code(), status.message()),
    }
}

/// `keys import`: an ldns Ed25519 key split by the CLI and sent to the signers encrypted keeps
/// its DS (as ldns-key2ds computes it), and the cluster signs with it.
#[test]
fn imported_key_keeps_its_ds_and_signs() {
    let _serial = serial();
    if !require("imported_key_keeps_its_ds_and_signs", &["ldns-keygen", "ldns-key2ds"]) {
        return;
    }
    let cluster = Cluster::start_3_of_5();
    let keys = tempfile::tempdir().expect("tempdir");
    let base = frostzone_tests::signers::ldns_keygen(keys.path(), ORIGIN, true);
    let with = |ext: &str| std::path::PathBuf::from(format!("{}.{ext}", base.display()));
    let private = with("private");
    let out = cluster.frostzone_ok(&["keys", "import", "--zone", ORIGIN, "--private", private.to_str().expect("utf-8 path")]);
    assert!(out.contains("imported"), "{out}");
    cluster.frostzone_ok(&["keys", "generate", "--zone", ORIGIN, "--role", "zsk"]);
    let expected = frostzone_tests::signers::ldns_ds(&with("key"));
    let ds = cluster.frostzone_ok(&["ds", "--zone", ORIGIN]);
    let norm = |l: &str| {
        let f: Vec<String> = l.split_whitespace().map(str::to_lowercase).collect();
        // owner, class, type, tag, algorithm, digest type, digest (no TTL)
        [&f[..1], &f[2..]].concat()
    };
    assert_eq!(norm(ds.trim()), norm(&expected), "DS after import differs from ldns-key2ds");
    sign_and_verify(&cluster, ORIGIN, &example_zone(), "imported");
}

/// `FROSTZONE_LOG_FORMAT=json`: every line of every daemon's log is a JSON object, and every line
/// the coordinator logs inside a signing request carries the request's id (its `request` span),
/// the line that announces the publication included.
#[test]
fn json_logs_carry_the_request_id_on_every_line_of_a_request() {
    let _serial = serial();
    let json = [("FROSTZONE_LOG_FORMAT", "json")];
    let mut cluster = Cluster::new(3, 2);
    for k in 1..=3 {
        cluster.start_signer(k, &json);
    }
    cluster.start_coordinator_with(&json);
    cluster.wait_ready(3);
    cluster.generate_keys(ORIGIN);
    sign_and_verify(&cluster, ORIGIN, &example_zone(), "json");
    for node in ["coordinator", "signer-1", "signer-2", "signer-3"] {
        for line in cluster.log(node).lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{node}: a log line is not JSON ({e}): {line}"));
        }
    }
    let lines: Vec<serde_json::Value> = cluster.log("coordinator").lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let published = lines
        .iter()
        .find(|l| l["fields"]["message"].as_str().is_some_and(|m| m.contains("published serial")))
        .unwrap_or_else(|| panic!("no publication line:\n{}", cluster.log("coordinator")));
    let id = published["span"]["id"].as_str().unwrap_or_else(|| panic!("the publication line has no request span: {published}"));
    assert_eq!(published["fields"]["request"].as_str(), Some(id), "{published}");
    let of_request: Vec<&serde_json::Value> = lines.iter().filter(|l| l["span"]["id"].as_str() == Some(id)).collect();
    assert!(of_request.len() >= 3, "only {} lines carry request {id}:\n{}", of_request.len(), cluster.log("coordinator"));
    // Lines naming the request in their own fields are inside its span too.
    for l in lines.iter().filter(|l| l["fields"]["request"].as_str() == Some(id)) {
        assert_eq!(l["span"]["id"].as_str(), Some(id), "a line of request {id} outside its span: {l}");
    }
}
