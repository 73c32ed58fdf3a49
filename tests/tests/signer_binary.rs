//! The `frostzone-signer` binary: config checking, a DKG over mutual TLS,
//! kill -9 right after it, restart with the share intact, and a wrong
//! passphrase refused at start.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use frostzone_proto::tls::TlsFiles;
use frostzone_proto::v1::signer_client::SignerClient;
use frostzone_proto::v1::*;
use frostzone_proto::API_VERSION;
use frostzone_tests::cluster::workspace_binary;
use frostzone_tests::frostzone_bin;
use frostzone_tests::port::free_port;
use frostzone_tests::programs::{describe, run};
use frostzone_tests::signer_config::{write_flat, SignerConfig};
use tonic::transport::Channel;

fn signer_bin() -> PathBuf {
    workspace_binary("frostzone-signer")
}

/// `ca.pem`, and a certificate and key for the coordinator and signers 1 and 2 (`frostzone certs
/// init`, as operators make them).
fn make_certs(dir: &Path) {
    let mut cmd = Command::new(frostzone_bin());
    cmd.args(["certs", "init", "--dir"]).arg(dir).args(["--signers", "2"]);
    let out = run(&mut cmd);
    assert!(out.status.success(), "{}", describe(&cmd, &out));
}

/// Every signer's identity (`frostzone-signer --config ... identity`, which makes its store)
/// into `roster.toml` with threshold `t`, and a policy that approves key ceremonies: what the
/// signers of `configs` need to start and take part in a DKG.
fn write_roster(dir: &Path, configs: &[PathBuf], t: u16) {
    let mut entries = String::from("version = 1\n");
    entries.push_str(&format!("threshold = {t}\n"));
    for config in configs {
        let out = Command::new(signer_bin()).arg("--config").arg(config).arg("identity").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        entries.push('\n');
        entries.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    std::fs::write(dir.join("roster.toml"), entries).unwrap();
    std::fs::write(dir.join("policy.toml"), "version = 1\n[approval]\nkey_ceremonies = \"auto\"\n").unwrap();
}

/// A running signer, killed with SIGKILL when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(config: &Path) -> Running {
    Running(
        Command::new(signer_bin())
            .arg("--config")
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn client(dir: &Path, n: u16, port: u16) -> SignerClient<Channel> {
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("coordinator.pem"),
        key: dir.join("coordinator.key"),
    };
    for _ in 0..100 {
        let channel = Channel::from_shared(format!("https://127.0.0.1:{port}"))
            .unwrap()
            .tls_config(files.client_config(&format!("signer-{n}")).unwrap())
            .unwrap()
            .connect()
            .await;
        if let Ok(channel) = channel {
            return SignerClient::new(channel);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("signer-{n} did not come up on port {port}");
}

async fn keys(c: &mut SignerClient<Channel>) -> Vec<KeyShareInfo> {
    c.health(HealthRequest {
        api_version: API_VERSION,
    })
    .await
    .unwrap()
    .into_inner()
    .keys
}

/// `frostzone-signer --config CONFIG --check-config`, run to completion.
fn check_config(config: &Path) -> std::process::Output {
    Command::new(signer_bin()).arg("--config").arg(config).arg("--check-config").output().expect("run frostzone-signer")
}

fn pid(n: u16) -> ParticipantId {
    let id = frostzone_threshold::Identifier::try_from(n).unwrap();
    ParticipantId { id: id.serialize() }
}

#[test]
fn check_config_accepts_good_and_names_the_bad_field() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let config = write_flat(dir.path(), 1, free_port(), "pw");
    // Without its roster a signer does not start.
    let out = check_config(&config);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("roster.toml"), "{}", String::from_utf8_lossy(&out.stderr));
    let other = write_flat(dir.path(), 2, free_port(), "pw2");
    write_roster(dir.path(), &[config.clone(), other], 2);
    let out = check_config(&config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));

    let mut bad = SignerConfig::read(&config);
    bad.participant = 0;
    bad.write(&config);
    let out = check_config(&config);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&config.display().to_string()) && err.contains("participant"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkg_share_survives_kill_9_and_wrong_passphrase_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_certs(d);
    let ports = [free_port(), free_port()];
    let configs: Vec<PathBuf> = (1..=2)
        .map(|n| write_flat(d, n, ports[usize::from(n) - 1], "pw"))
        .collect();
    write_roster(d, &configs, 2);
    let mut running: Vec<Running> = configs.iter().map(|c| start(c)).collect();
    let mut clients = vec![client(d, 1, ports[0]).await, client(d, 2, ports[1]).await];

    // The key ceremony, approved by the signers' policy.
    let request_id = "00000000000000000000000000000abc".to_string();
    let ceremony = KeyCeremony {
        kind: CeremonyKind::Dkg.into(),
        zone: "example.".into(),
        role: KeyRole::Zsk.into(),
        threshold: 2,
        participants: vec![pid(1), pid(2)],
        ..KeyCeremony::default()
    };
    for c in clients.iter_mut() {
        let proposal = CeremonyProposal {
            api_version: API_VERSION,
            request_id: request_id.clone(),
            ceremony: Some(ceremony.clone()),
            expires_unix: 0,
            submitted_by: "test".into(),
        };
        let d = c.propose_ceremony(proposal).await.unwrap().into_inner();
        assert_eq!(d.state, RequestState::Approved as i32, "{d:?}");
    }

    // A 2-of-2 DKG, this test relaying as the coordinator does.
    let session_id = b"kill-9-dkg-session".to_vec();
    let mut round1 = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let r = c
            .dkg_round1(DkgRound1Request {
                api_version: API_VERSION,
                session_id: session_id.clone(),
                zone: "example.".into(),
                role: KeyRole::Zsk.into(),
                threshold: 2,
                participants: vec![pid(1), pid(2)],
                request_id: request_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        round1.push(DkgRound1Entry {
            from: Some(pid(i as u16 + 1)),
            package: r.package,
            encryption_key: r.encryption_key,
            signature: r.signature,
        });
    }
    let mut sealed = Vec::new();
    let mut echoes = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let others = round1
            .iter()
            .filter(|e| e.from != Some(pid(i as u16 + 1)))
            .cloned()
            .collect();
        let r = c
            .dkg_round2(DkgRound2Request {
                api_version: API_VERSION,
                session_id: session_id.clone(),
                round1: others,
            })
            .await
            .unwrap()
            .into_inner();
        sealed.extend(r.packages);
        echoes.push(SignedEcho { from: Some(pid(i as u16 + 1)), digest: r.round1_digest, signature: r.digest_signature });
    }
    let mut group_keys = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let mine = sealed
            .iter()
            .filter(|p| p.to == Some(pid(i as u16 + 1)))
            .cloned()
            .collect();
        let r = c
            .dkg_finish(DkgFinishRequest {
                api_version: API_VERSION,
                session_id: session_id.clone(),
                packages: mine,
                echoes: echoes.clone(),
                avoid_key_tags: Vec::new(),
            })
            .await
            .unwrap()
            .into_inner();
        group_keys.push(r.group_public_key);
    }
    assert_eq!(group_keys[0], group_keys[1]);

    // kill -9 both, right after the answers.
    running.clear();
    drop(clients);
    let mut running: Vec<Running> = configs.iter().map(|c| start(c)).collect();
    for n in 1..=2u16 {
        let mut c = client(d, n, ports[usize::from(n) - 1]).await;
        let held = keys(&mut c).await;
        assert_eq!(held.len(), 1, "signer-{n} lost its share");
        assert_eq!(held[0].group_public_key, group_keys[0]);
        assert_eq!(held[0].role, i32::from(KeyRole::Zsk));
    }

    // A roster that lists another identity for this signer: refused at start.
    running.remove(1);
    let roster = std::fs::read_to_string(d.join("roster.toml")).unwrap();
    let key1 = roster.lines().find(|l| l.starts_with("identity")).unwrap().to_string();
    let key2 = roster.lines().filter(|l| l.starts_with("identity")).nth(1).unwrap().to_string();
    std::fs::write(d.join("roster.toml"), roster.replace(&key1, "X").replace(&key2, &key1).replace("X", &key2)).unwrap();
    let out = Command::new(signer_bin()).arg("--config").arg(&configs[1]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("roster") && err.contains("identity key"), "{err}");
    std::fs::write(d.join("roster.toml"), roster).unwrap();

    // A wrong passphrase: a clear error at start.
    running.remove(0);
    std::fs::write(d.join("signer-1.passphrase"), "not the passphrase\n").unwrap();
    let out = Command::new(signer_bin())
        .arg("--config")
        .arg(&configs[0])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "wrong passphrase for {}",
            d.join("signer-1-data").display()
        )),
        "{err}"
    );
}
