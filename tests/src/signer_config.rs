//! A signer's config file (`signer-K.toml`), written from a typed value.
//!
//! The signer's own types only read (its raw TOML types are private and `Deserialize` only), so
//! the tests have this mirror of the fields they use; a test that changes a config (a policy
//! added, a bad participant number) changes the field and writes the file again.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// `signer-K.toml`. Scalars come before the `[tls]` table, as TOML needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignerConfig {
    /// Format version.
    pub version: u32,
    /// Certificate name, `signer-K`.
    pub name: String,
    /// Participant number K.
    pub participant: u16,
    /// gRPC address.
    pub listen: String,
    /// Key-share store.
    pub data_dir: String,
    /// File holding the store's passphrase.
    pub passphrase_file: String,
    /// Signing sessions expire after this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout_secs: Option<u64>,
    /// The signers' roster.
    pub roster: String,
    /// The operator's policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// `[tls]`.
    pub tls: Tls,
    /// `[metrics]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<crate::coordinator_config::Metrics>,
}

/// `[tls]`: the CA, the signer's certificate, and the coordinator's, pinned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tls {
    /// CA certificate.
    pub ca: String,
    /// The signer's certificate.
    pub cert: String,
    /// Its key.
    pub key: String,
    /// The only client certificate let in.
    pub coordinator_cert: String,
}

impl SignerConfig {
    /// The TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a signer config serialises")
    }

    /// Writes `file`.
    pub fn write(&self, file: &Path) {
        std::fs::write(file, self.to_toml()).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
    }

    /// Reads `file` (one this module wrote).
    pub fn read(file: &Path) -> SignerConfig {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    }
}

/// Writes `signer-N.toml` for signer `n` on `127.0.0.1:port`, every file it names flat in `dir`
/// (certificates `ca.pem`, `signer-N.pem`, `coordinator.pem`; `roster.toml`, `policy.toml`), and
/// its passphrase in `signer-N.passphrase`: the layout of the tests that run one signer alone.
pub fn write_flat(dir: &Path, n: u16, port: u16, passphrase: &str) -> std::path::PathBuf {
    std::fs::write(dir.join(format!("signer-{n}.passphrase")), format!("{passphrase}\n")).expect("write passphrase");
    let config = SignerConfig {
        version: 1,
        name: format!("signer-{n}"),
        participant: n,
        listen: format!("127.0.0.1:{port}"),
        data_dir: format!("signer-{n}-data"),
        passphrase_file: format!("signer-{n}.passphrase"),
        session_timeout_secs: Some(60),
        roster: "roster.toml".to_string(),
        policy: Some("policy.toml".to_string()),
        tls: Tls {
            ca: "ca.pem".to_string(),
            cert: format!("signer-{n}.pem"),
            key: format!("signer-{n}.key"),
            coordinator_cert: "coordinator.pem".to_string(),
        },
        metrics: None,
    };
    let file = dir.join(format!("signer-{n}.toml"));
    config.write(&file);
    file
}
