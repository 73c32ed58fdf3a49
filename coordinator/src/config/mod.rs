//! The coordinator's configuration file (TOML, `version = 1`).
//!
//! ```toml
//! version = 1
//! listen = "127.0.0.1:7000"
//! data_dir = "coordinator/data"      # sled registry
//! threshold = 3
//! request_timeout_secs = 60          # optional: deadline of each signer call
//! approval_timeout_secs = 3600       # optional: how long a request waits for its
//!                                    # signers' approvals (SignZone may ask for less
//!                                    # or more, up to 7 days)
//! [tls]
//! ca = "ca.pem"
//! cert = "coordinator.pem"           # server cert, and client cert towards signers
//! key = "coordinator.key"
//! [[operators]]                      # client certificates accepted (pinned)
//! name = "operator"
//! cert = "operator.pem"
//! [[signers]]
//! name = "signer-1"                  # DNS name in its certificate
//! participant = 1                    # FROST identifier
//! endpoint = "https://127.0.0.1:7001"
//! [[zones]]                          # optional: zones of the pipeline (see pipeline::settings)
//! name = "example.com."
//! output = "signed/example.com.signed"
//! changes_dir = "signed/changes"
//! on_publish = ["/usr/local/bin/reload", "--zone"]
//! serial_policy = "increment"
//! denial = "nsec3"
//! [transfer]                         # optional: AXFR/IXFR to secondaries (see xfr)
//! listen = "127.0.0.1:5353"
//! [primary]                          # optional: zones pulled from a hidden primary
//! address = "192.0.2.1:53"
//! zones = ["example.com."]
//! [metrics]                          # optional: Prometheus (see frostzone_proto::metrics_endpoint)
//! listen = "127.0.0.1:9470"          # mutual TLS unless plain_http = true (loopback only)
//! ```
//!
//! Relative paths are taken relative to the file's directory. Unknown
//! fields are refused, and every error names the file and the field.

pub mod rollover;
pub mod transfer;
pub mod zone;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use frostzone_dnssec::signing::refresh::RefreshPolicy;
use frostzone_proto::config_file::ConfigFileError;
use frostzone_proto::metrics_endpoint::MetricsListen;
use frostzone_proto::tls::TlsFiles;
use serde::Deserialize;

use crate::config::zone::{check_validity_days, denial_named, ZoneConfig, DEFAULT_VALIDITY_DAYS};

/// The only config format version this coordinator reads.
pub const CONFIG_VERSION: u32 = 1;

/// Default deadline of one call to a signer: a Sign of 4,096 items costs a
/// signer a few seconds of CPU on a busy shared box; a minute leaves room
/// for that and still notices a hung signer well before a client gives up.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 60;

/// Default time a request waits for its signers' approvals: an hour is
/// long enough for an operator to look at a change that needs them, and
/// short enough that a pipeline notices a request nobody acted on.
pub const DEFAULT_APPROVAL_TIMEOUT_SECS: u64 = 3600;

/// Longest approval wait, from the config or a request: a week. Signers
/// expire pending requests on their own schedule (a day by default); a
/// coordinator waiting longer only holds a connection open for nothing.
pub const MAX_APPROVAL_TIMEOUT_SECS: u64 = 7 * 86_400;

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The TOML does not parse or does not match the format (the message
    /// from the TOML reader names the line and the field).
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// What the reader said.
        message: String,
    },
    /// A field has a value that cannot be used.
    #[error("{file}: {field}: {message}")]
    Field {
        /// The file.
        file: PathBuf,
        /// The field, e.g. `signers[2].participant`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    version: u32,
    listen: String,
    data_dir: PathBuf,
    threshold: u16,
    request_timeout_secs: Option<u64>,
    approval_timeout_secs: Option<u64>,
    tls: RawTls,
    #[serde(default)]
    operators: Vec<RawOperator>,
    #[serde(default)]
    signers: Vec<RawSigner>,
    #[serde(default)]
    zones: Vec<RawZone>,
    transfer: Option<crate::config::transfer::RawTransfer>,
    primary: Option<crate::config::transfer::RawPrimary>,
    metrics: Option<frostzone_proto::metrics_endpoint::RawMetricsSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    name: String,
    output: Option<PathBuf>,
    changes_dir: Option<PathBuf>,
    on_publish: Option<Vec<String>>,
    serial_policy: Option<String>,
    denial: Option<String>,
    validity_days: Option<u32>,
    publish_cds: Option<bool>,
    refresh_before_days: Option<u32>,
    refresh_jitter_hours: Option<u32>,
    pre_refresh_minutes: Option<u32>,
    #[serde(default)]
    rollover: rollover::RawRollover,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperator {
    name: String,
    cert: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigner {
    name: String,
    participant: u16,
    endpoint: String,
}

/// An operator whose client certificate the coordinator accepts.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    /// Name used in logs.
    pub name: String,
    /// Its certificate (PEM), pinned.
    pub cert: PathBuf,
}

/// A signer node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerConfig {
    /// The DNS name in its certificate, checked by TLS; also its name in
    /// logs, errors and key groups.
    pub name: String,
    /// Its FROST identifier (RFC 9591 §3.1: a non-zero scalar; here 1..=n).
    pub participant: u16,
    /// `https://host:port`.
    pub endpoint: String,
}

/// A checked configuration with absolute paths.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// Address of the coordinator service.
    pub listen: SocketAddr,
    /// The sled registry's directory.
    pub data_dir: PathBuf,
    /// Signers needed for a signature (t), and the threshold of new keys.
    pub threshold: u16,
    /// Deadline of each call to a signer.
    pub request_timeout: Duration,
    /// How long a request waits for approvals when it does not say.
    pub approval_timeout: Duration,
    /// Our CA, certificate and key.
    pub tls: TlsFiles,
    /// Accepted operators.
    pub operators: Vec<OperatorConfig>,
    /// The signer nodes, in participant order.
    pub signers: Vec<SignerConfig>,
    /// The `[[zones]]` of the pipeline.
    pub zones: Vec<ZoneConfig>,
    /// `[transfer]` and `[primary]`, when configured.
    pub xfr: Option<crate::config::transfer::XfrConfig>,
    /// `[metrics]`: where Prometheus scrapes, when configured.
    pub metrics: Option<MetricsListen>,
}

impl Config {
    /// Reads and checks `file`.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(file)
            .map_err(|source| ConfigError::Io { file: file.to_path_buf(), source })?;
        Config::parse(&text, file)
    }

    /// Checks `text`, read from `file` (relative paths are resolved against
    /// its directory).
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Syntax { file: file.to_path_buf(), message: e.to_string().trim_end().to_string() })?;
        let field = |field: &str, message: String| ConfigError::Field {
            file: file.to_path_buf(),
            field: field.to_string(),
            message,
        };
        if raw.version != CONFIG_VERSION {
            return Err(field(
                "version",
                format!("version {} is not supported; this coordinator reads version {CONFIG_VERSION}", raw.version),
            ));
        }
        let listen: SocketAddr = raw
            .listen
            .parse()
            .map_err(|e| field("listen", format!("{:?} is not an address and port: {e}", raw.listen)))?;
        let base = file.parent().unwrap_or(Path::new("."));
        let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };

        if raw.signers.is_empty() {
            return Err(field("signers", "no [[signers]] configured".into()));
        }
        let mut names = BTreeSet::new();
        let mut participants = BTreeSet::new();
        for (i, s) in raw.signers.iter().enumerate() {
            if s.name.is_empty() || !names.insert(s.name.as_str()) {
                return Err(field(&format!("signers[{i}].name"), format!("{:?} is empty or used twice", s.name)));
            }
            if s.participant == 0 || !participants.insert(s.participant) {
                return Err(field(
                    &format!("signers[{i}].participant"),
                    format!("{} is zero or used twice (FROST identifiers are distinct and non-zero)", s.participant),
                ));
            }
            if !s.endpoint.starts_with("https://") {
                return Err(field(
                    &format!("signers[{i}].endpoint"),
                    format!("{:?} must be an https:// URL (signers speak mutual TLS only)", s.endpoint),
                ));
            }
            if s.endpoint.parse::<tonic::transport::Uri>().is_err() {
                return Err(field(&format!("signers[{i}].endpoint"), format!("{:?} is not a URL", s.endpoint)));
            }
        }
        let n = raw.signers.len();
        if raw.threshold < 2 || usize::from(raw.threshold) > n {
            return Err(field(
                "threshold",
                format!("{} does not fit {n} signers: FROST needs 2 <= threshold <= signers", raw.threshold),
            ));
        }
        if raw.operators.is_empty() {
            return Err(field("operators", "no [[operators]] configured: nobody could use this coordinator".into()));
        }
        for (i, o) in raw.operators.iter().enumerate() {
            if o.name.is_empty() {
                return Err(field(&format!("operators[{i}].name"), "empty".into()));
            }
        }
        let timeout = raw.request_timeout_secs.unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECS);
        if timeout == 0 {
            return Err(field("request_timeout_secs", "must be at least 1".into()));
        }
        let approval = raw.approval_timeout_secs.unwrap_or(DEFAULT_APPROVAL_TIMEOUT_SECS);
        if approval == 0 || approval > MAX_APPROVAL_TIMEOUT_SECS {
            return Err(field(
                "approval_timeout_secs",
                format!("{approval} is not between 1 and {MAX_APPROVAL_TIMEOUT_SECS} (7 days)"),
            ));
        }
        let mut signers: Vec<SignerConfig> = raw
            .signers
            .into_iter()
            .map(|s| SignerConfig { name: s.name, participant: s.participant, endpoint: s.endpoint })
            .collect();
        signers.sort_by_key(|s| s.participant);
        let xfr = crate::config::transfer::XfrConfig::check(raw.transfer, raw.primary, base).map_err(|e| field(&e.field, e.message))?;
        let metrics = raw
            .metrics
            .as_ref()
            .map(|m| MetricsListen::from_raw(file, m))
            .transpose()
            .map_err(|e| match e {
                ConfigFileError::Field { field: f, reason, .. } => field(&f, reason),
                other => field("metrics", other.to_string()),
            })?;
        if metrics.is_some_and(|m| m.listen == listen) {
            return Err(field("metrics.listen", format!("{listen} is the coordinator service's own listen address")));
        }
        let mut zones: Vec<ZoneConfig> = Vec::new();
        for (i, z) in raw.zones.into_iter().enumerate() {
            let at = |name: &str| format!("zones[{i}].{name}");
            let (apex, name) = crate::keys::zone_name(&z.name).map_err(|e| field(&at("name"), e.to_string()))?;
            if zones.iter().any(|o| o.name == name) {
                return Err(field(&at("name"), format!("{name} is listed twice")));
            }
            if let Some(d) = &z.denial {
                denial_named(d).map_err(|m| field(&at("denial"), m))?;
            }
            let serial_policy = z.serial_policy.as_deref().map(str::parse).transpose().map_err(|m: String| field(&at("serial_policy"), m))?;
            let validity_days = z.validity_days.map(check_validity_days).transpose().map_err(|m| field(&at("validity_days"), m))?;
            let defaults = RefreshPolicy::default();
            let refresh = RefreshPolicy {
                refresh_before: z.refresh_before_days.map(|d| d.saturating_mul(86_400)).unwrap_or(defaults.refresh_before),
                jitter: z.refresh_jitter_hours.map(|h| h.saturating_mul(3600)).unwrap_or(defaults.jitter),
                pre_refresh: z.pre_refresh_minutes.map(|m| m.saturating_mul(60)).unwrap_or(defaults.pre_refresh),
            };
            if refresh.refresh_before == 0 {
                return Err(field(&at("refresh_before_days"), "must be at least 1".into()));
            }
            let lifetime = validity_days.unwrap_or(DEFAULT_VALIDITY_DAYS).saturating_mul(86_400);
            if u64::from(refresh.refresh_before) + u64::from(refresh.jitter) >= u64::from(lifetime) / 2 {
                return Err(field(
                    &at("refresh_before_days"),
                    format!(
                        "{} days plus {} hours of jitter leave less than half of the {}-day signature lifetime: \
                         signatures would be refreshed almost as soon as they are made",
                        refresh.refresh_before / 86_400,
                        refresh.jitter / 3600,
                        lifetime / 86_400
                    ),
                ));
            }
            if u64::from(refresh.pre_refresh) > u64::from(lifetime) / 8 {
                return Err(field(
                    &at("pre_refresh_minutes"),
                    format!("{} minutes: at most an eighth of the {}-day signature lifetime", refresh.pre_refresh / 60, lifetime / 86_400),
                ));
            }
            let rollover = z.rollover.check().map_err(|(f, m)| field(&at(&format!("rollover.{f}")), m))?;
            let on_publish = z.on_publish.unwrap_or_default();
            if on_publish.first().is_some_and(|p| p.is_empty()) {
                return Err(field(&at("on_publish"), "the program (first element) is empty".into()));
            }
            zones.push(ZoneConfig {
                name,
                apex,
                output: z.output.as_deref().map(resolve),
                changes_dir: z.changes_dir.as_deref().map(resolve),
                on_publish,
                serial_policy,
                denial: z.denial,
                validity_days,
                publish_cds: z.publish_cds,
                refresh,
                rollover,
            });
        }
        Ok(Config {
            file: file.to_path_buf(),
            listen,
            data_dir: resolve(&raw.data_dir),
            threshold: raw.threshold,
            request_timeout: Duration::from_secs(timeout),
            approval_timeout: Duration::from_secs(approval),
            tls: TlsFiles { ca: resolve(&raw.tls.ca), cert: resolve(&raw.tls.cert), key: resolve(&raw.tls.key) },
            operators: raw
                .operators
                .into_iter()
                .map(|o| OperatorConfig { name: o.name, cert: resolve(&o.cert) })
                .collect(),
            signers,
            zones,
            xfr,
            metrics,
        })
    }

    /// Reads every file the config names (TLS material and pinned operator
    /// certificates), so that `--check-config` catches what start-up would.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        let field = |field: &str, message: String| ConfigError::Field {
            file: self.file.clone(),
            field: field.to_string(),
            message,
        };
        for (name, path) in [("tls.ca", &self.tls.ca), ("tls.cert", &self.tls.cert), ("tls.key", &self.tls.key)] {
            if let Err(e) = std::fs::metadata(path) {
                return Err(field(name, format!("{}: {e}", path.display())));
            }
        }
        self.tls.server_config().map_err(|e| field("tls", e.to_string()))?;
        for (i, o) in self.operators.iter().enumerate() {
            frostzone_proto::tls::pinned_certificate(&o.cert)
                .map_err(|e| field(&format!("operators[{i}].cert"), e.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
version = 1
listen = "127.0.0.1:7000"
data_dir = "data"
threshold = 2
[tls]
ca = "ca.pem"
cert = "coordinator.pem"
key = "/etc/fz/coordinator.key"
[[operators]]
name = "operator"
cert = "operator.pem"
[[signers]]
name = "signer-2"
participant = 2
endpoint = "https://127.0.0.1:7002"
[[signers]]
name = "signer-1"
participant = 1
endpoint = "https://127.0.0.1:7001"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/fz/coordinator.toml"))
    }

    #[test]
    fn good_config_resolves_paths_and_sorts_signers() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.data_dir, Path::new("/etc/fz/data"));
        assert_eq!(c.tls.ca, Path::new("/etc/fz/ca.pem"));
        assert_eq!(c.tls.key, Path::new("/etc/fz/coordinator.key"));
        assert_eq!(c.operators[0].cert, Path::new("/etc/fz/operator.pem"));
        assert_eq!(c.request_timeout, Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS));
        assert_eq!(c.approval_timeout, Duration::from_secs(DEFAULT_APPROVAL_TIMEOUT_SECS));
        let c = parse(&GOOD.replace("threshold = 2", "threshold = 2\napproval_timeout_secs = 600")).unwrap();
        assert_eq!(c.approval_timeout, Duration::from_secs(600));
        let names: Vec<_> = c.signers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["signer-1", "signer-2"]);
    }

    /// Each broken variant must fail naming the file and the field.
    #[test]
    fn errors_name_file_and_field() {
        let cases: &[(&str, &str, &str)] = &[
            ("version = 1", "version = 2", "version"),
            ("version = 1\n", "", "version"),
            ("threshold = 2", "threshold = 3", "threshold"),
            ("threshold = 2", "threshold = 1", "threshold"),
            ("threshold = 2", "threshold = 2\nthresold = 2", "thresold"),
            ("127.0.0.1:7000", "localhost", "listen"),
            ("participant = 1", "participant = 2", "signers[1].participant"),
            ("participant = 1", "participant = 0", "signers[1].participant"),
            ("name = \"signer-1\"", "name = \"signer-2\"", "signers[1].name"),
            ("https://127.0.0.1:7001", "http://127.0.0.1:7001", "signers[1].endpoint"),
            ("[[operators]]\nname = \"operator\"\ncert = \"operator.pem\"\n", "", "operators"),
            ("key = \"/etc/fz/coordinator.key\"", "", "key"),
            ("data_dir = \"data\"", "data_dir = \"data\"\nrequest_timeout_secs = 0", "request_timeout_secs"),
            ("data_dir = \"data\"", "data_dir = \"data\"\napproval_timeout_secs = 0", "approval_timeout_secs"),
            ("data_dir = \"data\"", "data_dir = \"data\"\napproval_timeout_secs = 604801", "approval_timeout_secs"),
            (
                "endpoint = \"https://127.0.0.1:7001\"\n",
                "endpoint = \"https://127.0.0.1:7001\"\n[primary]\naddress = \"192.0.2.1\"\nzones = [\"example.\"]\n",
                "primary",
            ),
        ];
        for (from, to, field) in cases {
            assert!(GOOD.contains(from), "{from}");
            let text = GOOD.replacen(from, to, 1);
            let err = parse(&text).expect_err(&format!("{from} -> {to} accepted")).to_string();
            assert!(err.starts_with("/etc/fz/coordinator.toml: "), "{err}");
            assert!(err.contains(field), "{from} -> {to}: {err} does not name {field}");
        }
    }

    #[test]
    fn metrics_section() {
        assert_eq!(parse(GOOD).unwrap().metrics, None);
        let c = parse(&format!("{GOOD}\n[metrics]\nlisten = \"127.0.0.1:9470\"\nplain_http = true\n")).unwrap();
        assert_eq!(c.metrics, Some(MetricsListen { listen: "127.0.0.1:9470".parse().unwrap(), plain_http: true }));
        for (section, field) in [
            ("listen = \"0.0.0.0:9470\"\nplain_http = true", "metrics.plain_http"),
            ("listen = \"127.0.0.1:7000\"", "metrics.listen"),
            ("listen = \"9470\"", "metrics.listen"),
            ("listen = \"127.0.0.1:9470\"\nplain = true", "plain"),
        ] {
            let err = parse(&format!("{GOOD}\n[metrics]\n{section}\n")).expect_err(section).to_string();
            assert!(err.starts_with("/etc/fz/coordinator.toml: ") && err.contains(field), "{section}: {err}");
        }
    }

    #[test]
    fn zones_and_transfer_sections() {
        let zones = "\n[[zones]]\nname = \"Example.COM\"\noutput = \"out/example.com.signed\"\nchanges_dir = \"/var/changes\"\n\
            on_publish = [\"/usr/local/bin/reload\", \"--zone\"]\nserial_policy = \"date-counter\"\ndenial = \"nsec\"\n\
            refresh_before_days = 4\nrefresh_jitter_hours = 12\npre_refresh_minutes = 30\n\n[transfer]\nlisten = \"127.0.0.1:5353\"\n";
        let c = parse(&format!("{GOOD}{zones}")).unwrap();
        let z = &c.zones[0];
        assert_eq!(z.name, "example.com.");
        assert_eq!(z.output.as_deref(), Some(Path::new("/etc/fz/out/example.com.signed")));
        assert_eq!(z.changes_dir.as_deref(), Some(Path::new("/var/changes")));
        assert_eq!(z.on_publish, ["/usr/local/bin/reload", "--zone"]);
        assert_eq!((z.refresh.refresh_before, z.refresh.jitter, z.refresh.pre_refresh), (4 * 86_400, 12 * 3600, 1800));
        assert_eq!(c.xfr.unwrap().transfer.listen.port(), 5353);
        for (from, to, field) in [
            ("\"date-counter\"", "\"weekly\"", "zones[0].serial_policy"),
            ("denial = \"nsec\"", "denial = \"nsec5\"", "zones[0].denial"),
            ("refresh_before_days = 4", "refresh_before_days = 7", "zones[0].refresh_before_days"),
            ("pre_refresh_minutes = 30", "pre_refresh_minutes = 3000", "zones[0].pre_refresh_minutes"),
            ("refresh_before_days = 4", "refresh_before_days = 4\ncolour = 1", "colour"),
            ("127.0.0.1:5353", "localhost", "transfer.listen"),
        ] {
            let text = format!("{GOOD}{}", zones.replacen(from, to, 1));
            let err = parse(&text).expect_err(to).to_string();
            assert!(err.starts_with("/etc/fz/coordinator.toml: ") && err.contains(field), "{to}: {err}");
        }
    }

    #[test]
    fn missing_files_are_named_by_field() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, GOOD.replace("/etc/fz/", "")).unwrap();
        let c = Config::load(&file).unwrap();
        let err = c.check_files().unwrap_err().to_string();
        assert!(err.contains("tls.ca") && err.contains("ca.pem"), "{err}");
        let err = Config::load(&dir.path().join("absent.toml")).unwrap_err().to_string();
        assert!(err.contains("absent.toml"), "{err}");
    }
}
