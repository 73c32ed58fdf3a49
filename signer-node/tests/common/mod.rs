#![allow(dead_code)] // each test binary uses a part of it
//! Test certificates (a CA, the signer, the coordinator, an intruder) and
//! config files.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};

/// Writes `ca.pem`, and `NAME.pem` / `NAME.key` for each name, all issued
/// by the CA.
pub fn make_certs(dir: &Path, names: &[&str]) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    for name in names {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

/// Writes `signer-N.toml` for signer `n` listening on `port`, with the
/// passphrase in `signer-N.passphrase`.
pub fn write_config(dir: &Path, n: u16, port: u16, passphrase: &str) -> PathBuf {
    std::fs::write(
        dir.join(format!("signer-{n}.passphrase")),
        format!("{passphrase}\n"),
    )
    .unwrap();
    let file = dir.join(format!("signer-{n}.toml"));
    std::fs::write(
        &file,
        format!(
            r#"version = 1
name = "signer-{n}"
participant = {n}
listen = "127.0.0.1:{port}"
data_dir = "signer-{n}-data"
passphrase_file = "signer-{n}.passphrase"
session_timeout_secs = 60
roster = "roster.toml"
policy = "policy.toml"
[tls]
ca = "ca.pem"
cert = "signer-{n}.pem"
key = "signer-{n}.key"
coordinator_cert = "coordinator.pem"
"#
        ),
    )
    .unwrap();
    file
}

/// Every signer's identity (`frostzone-signer --config ... identity`, which makes its store)
/// into `roster.toml` with threshold `t`, and a policy that approves key ceremonies: what the
/// signers of `configs` need to start and take part in a DKG.
pub fn write_roster(bin: &str, dir: &Path, configs: &[PathBuf], t: u16) {
    let mut entries = String::from("version = 1\n");
    entries.push_str(&format!("threshold = {t}\n"));
    for config in configs {
        let out = std::process::Command::new(bin).arg("--config").arg(config).arg("identity").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        entries.push('\n');
        entries.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    std::fs::write(dir.join("roster.toml"), entries).unwrap();
    std::fs::write(dir.join("policy.toml"), "version = 1\n[approval]\nkey_ceremonies = \"auto\"\n").unwrap();
}

/// A free loopback port (racy, good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
