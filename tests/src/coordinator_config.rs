//! The coordinator's config file (`coordinator.toml`), written from a typed value.
//!
//! The coordinator's own types only read (its raw TOML types are private and `Deserialize`
//! only), so the tests have this mirror of the fields they use; each writes the file one way,
//! and a test that changes a config reads it, changes a field and writes it again.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// `coordinator.toml`. Scalars come before tables, as TOML needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CoordinatorConfig {
    /// Format version.
    pub version: u32,
    /// gRPC address.
    pub listen: String,
    /// Registry directory.
    pub data_dir: String,
    /// Signers needed for a signature.
    pub threshold: u16,
    /// `[tls]`.
    pub tls: Tls,
    /// `[[operators]]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operators: Vec<Operator>,
    /// `[[signers]]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<Signer>,
    /// `[[zones]]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<Zone>,
    /// `[transfer]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Transfer>,
    /// `[primary]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<Primary>,
    /// `[metrics]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
}

/// `[metrics]` of either daemon: where Prometheus scrapes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metrics {
    /// Address and port.
    pub listen: String,
    /// Plain HTTP (loopback only) instead of mutual TLS.
    #[serde(default)]
    pub plain_http: bool,
}

/// `[tls]`: the CA and the coordinator's own certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tls {
    /// CA certificate.
    pub ca: String,
    /// Server and client certificate.
    pub cert: String,
    /// Its key.
    pub key: String,
}

/// `[[operators]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Operator {
    /// Name in the audit log.
    pub name: String,
    /// Client certificate.
    pub cert: String,
}

/// `[[signers]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signer {
    /// Certificate name.
    pub name: String,
    /// Participant number.
    pub participant: u16,
    /// `https://host:port`.
    pub endpoint: String,
}

/// `[[zones]]`: publication of one zone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Zone {
    /// Zone name.
    pub name: String,
    /// Signed zone file written on publication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Command run after each publication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_publish: Option<Vec<String>>,
    /// `keep`, `increment`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_policy: Option<String>,
    /// `[zones.rollover]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollover: Option<Rollover>,
}

/// `[zones.rollover]`: key rollover timings and the parent (seconds).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Rollover {
    /// TTL of DNSKEY, CDS and CDNSKEY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnskey_ttl: Option<u32>,
    /// Dprp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation_delay: Option<u64>,
    /// DprpP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_delay: Option<u64>,
    /// TTLds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ds_ttl: Option<u64>,
    /// The parent's name servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_servers: Vec<String>,
    /// Seconds between questions to the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ds_check_interval: Option<u64>,
    /// Seconds a ZSK is active before it is rolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zsk_lifetime: Option<u64>,
    /// Seconds after a key group's last share refresh (or its creation) before the coordinator
    /// refreshes its shares (0 or absent: only by `frostzone keys refresh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_refresh_interval: Option<u64>,
}

/// `[transfer]`: the zone transfer server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transfer {
    /// UDP and TCP address.
    pub listen: String,
    /// `[[transfer.tsig_keys]]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tsig_keys: Vec<TsigKey>,
    /// `[[transfer.secondaries]]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondaries: Vec<Secondary>,
}

/// `[[transfer.tsig_keys]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TsigKey {
    /// Key name.
    pub name: String,
    /// `hmac-sha256`, ...
    pub algorithm: String,
    /// Base64 secret.
    pub secret: String,
}

impl TsigKey {
    /// An hmac-sha256 key, the only algorithm the tests use.
    pub fn hmac_sha256(name: &str, secret: &str) -> TsigKey {
        TsigKey { name: name.to_string(), algorithm: "hmac-sha256".to_string(), secret: secret.to_string() }
    }
}

/// `[[transfer.secondaries]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Secondary {
    /// `ip:port` NOTIFYs go to and transfers come from.
    pub address: String,
    /// Key its transfers are signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_key: Option<String>,
    /// The zones it is a secondary of; absent: every zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<Vec<String>>,
}

/// `[primary]`: the hidden primary the coordinator pulls unsigned zones from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Primary {
    /// `ip:port`.
    pub address: String,
    /// Key of the transfers and NOTIFYs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_key: Option<String>,
    /// Zones pulled from it.
    pub zones: Vec<String>,
    /// Shortest wait between SOA checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_refresh_secs: Option<u32>,
}

impl CoordinatorConfig {
    /// The TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a coordinator config serialises")
    }

    /// Writes `file`.
    pub fn write(&self, file: &Path) {
        std::fs::write(file, self.to_toml()).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
    }

    /// Reads `file` (one this module wrote).
    pub fn read(file: &Path) -> CoordinatorConfig {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    }
}

/// Just the `[transfer]` and `[primary]` sections, as the coordinator's `XfrConfig::parse`
/// reads them from a config file (for tests of the transfer server alone).
#[derive(Debug, Clone, Default, Serialize)]
pub struct XfrSections {
    /// `[transfer]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Transfer>,
    /// `[primary]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<Primary>,
}

impl XfrSections {
    /// The TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("transfer sections serialise")
    }
}
