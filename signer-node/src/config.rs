//! The signer's configuration file (TOML).
//!
//! ```toml
//! version = 1
//! name = "signer-1"          # its certificate's DNS SAN; returned by Health
//! participant = 1            # FROST identifier 1..=255
//! listen = "127.0.0.1:7001"
//! data_dir = "signer-1/data" # sled database directory
//! passphrase_file = "signer-1/passphrase"  # or passphrase_env = "VAR" (exactly one)
//! session_timeout_secs = 300 # optional
//! max_proposal_items = 4000000 # optional: the largest request accepted
//!                            # (items, i.e. RRsets; a zone with NSEC3 has
//!                            # about 2.33 per delegation); it bounds what
//!                            # a coordinator can make this signer hold
//! roster = "roster.toml"    # every participant of the key groups this
//!                            # signer joins and t (frostzone_proto::roster):
//!                            # this operator's own copy, never learned from
//!                            # the coordinator
//! policy = "signer-1/policy.toml"  # optional: the operator's policy
//!                            # (crate::policy_file); default policy without
//! audit_log = "signer-1/audit.log" # optional; default <data_dir>/audit.log
//! admin_socket = "/run/frostzone/signer-1.sock" # optional; the operator's
//!                            # admin socket (mode 0600); default
//!                            # <data_dir>/admin.sock
//! [tls]
//! ca = "ca.pem"
//! cert = "signer-1.pem"
//! key = "signer-1.key"
//! coordinator_cert = "coordinator.pem"  # the only client certificate accepted
//! [metrics]                  # optional: Prometheus (frostzone_proto::metrics_endpoint)
//! listen = "127.0.0.1:9471"  # mutual TLS unless plain_http = true (loopback only)
//! ```
//!
//! Relative paths are relative to the directory of the config file. Unknown
//! fields are refused, and every error names the file and the field.

use frostzone_proto::config_file::{parse_toml, read_text, ConfigFileError};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use frostzone_proto::tls::TlsFiles;
use frostzone_threshold::Identifier;
use serde::Deserialize;
use zeroize::Zeroizing;

/// Defined with the other error types, so that the policy file, read
/// with the same errors, need not reach up into the config.
pub use crate::error::ConfigError;
use crate::policy_file::{PolicyError, SignerPolicy};
use crate::proposal::{ProposalBound, DEFAULT_MAX_PROPOSE_ITEMS};

/// The only config format version this build reads.
pub const CONFIG_VERSION: u32 = 1;

/// Default lifetime of a pending signing, import or DKG session: five
/// minutes is far longer than one Commit/Sign round trip of a full batch,
/// and short enough that abandoned nonces and DKG secrets do not linger.
pub const DEFAULT_SESSION_TIMEOUT_SECS: u64 = 300;

/// Highest `max_proposal_items`: some 40 million delegations with NSEC3,
/// more than any zone's proposal this signer could hold in memory.
pub const MAX_PROPOSAL_ITEMS_SETTING: u64 = 100_000_000;

/// The admin socket's file name in the data directory when the config
/// names none: beside the data it administers, so each signer on a host
/// has its own.
pub const DEFAULT_ADMIN_SOCKET: &str = "admin.sock";

/// Highest participant number: frost accepts any non-zero u16, but a
/// deployment of more than 255 signers is not something we test or plan.
pub const MAX_PARTICIPANT: u16 = 255;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    version: u32,
    name: String,
    participant: u16,
    listen: SocketAddr,
    data_dir: PathBuf,
    passphrase_file: Option<PathBuf>,
    passphrase_env: Option<String>,
    session_timeout_secs: Option<u64>,
    max_proposal_items: Option<u64>,
    roster: PathBuf,
    policy: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    admin_socket: Option<PathBuf>,
    tls: RawTls,
    metrics: Option<frostzone_proto::metrics_endpoint::RawMetricsSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    coordinator_cert: PathBuf,
}

/// Where the store passphrase comes from. Never the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassphraseSource {
    /// A file; one trailing newline is removed.
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

/// A checked signer configuration, paths resolved.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// The signer's name (its certificate's DNS name).
    pub name: String,
    /// Its participant number (1..=255).
    pub participant: u16,
    /// The address the gRPC server listens on.
    pub listen: SocketAddr,
    /// The sled database directory.
    pub data_dir: PathBuf,
    /// Where the store passphrase comes from.
    pub passphrase: PassphraseSource,
    /// Lifetime of pending sessions.
    pub session_timeout: Duration,
    /// How large a proposal it accepts.
    pub proposal_bound: ProposalBound,
    /// The roster file.
    pub roster: PathBuf,
    /// The operator's policy file, if any.
    pub policy: Option<PathBuf>,
    /// The hash-chained audit log.
    pub audit_log: PathBuf,
    /// The operator's admin socket, which the `admin` service binds.
    pub admin_socket: PathBuf,
    /// CA, certificate and key of this signer.
    pub tls: TlsFiles,
    /// The coordinator's certificate: the only client accepted.
    pub coordinator_cert: PathBuf,
    /// `[metrics]`: where Prometheus scrapes, when configured.
    pub metrics: Option<frostzone_proto::metrics_endpoint::MetricsListen>,
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let text = read_text(file)?;
        Config::parse(&text, file)
    }

    /// Checks config text read from `file` (used for messages and to
    /// resolve relative paths).
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = parse_toml(file, text)?;
        let field = |field: &'static str, reason: String| ConfigError::from(ConfigFileError::field(file, field, reason));
        if raw.version != CONFIG_VERSION {
            return Err(field(
                "version",
                format!(
                    "{} is not supported; this build reads version {CONFIG_VERSION}",
                    raw.version
                ),
            ));
        }
        if raw.name.is_empty()
            || raw
                .name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(field(
                "name",
                "must be a non-empty DNS name without spaces".into(),
            ));
        }
        if raw.participant == 0 || raw.participant > MAX_PARTICIPANT {
            return Err(field(
                "participant",
                format!("{} is outside 1..={MAX_PARTICIPANT}", raw.participant),
            ));
        }
        let base = file.parent().unwrap_or(Path::new(""));
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let passphrase = match (raw.passphrase_file, raw.passphrase_env) {
            (Some(path), None) => PassphraseSource::File(resolve(&path)),
            (None, Some(var)) if !var.is_empty() => PassphraseSource::Env(var),
            (None, Some(_)) => {
                return Err(field(
                    "passphrase_env",
                    "must name an environment variable".into(),
                ))
            }
            (Some(_), Some(_)) => {
                return Err(field(
                    "passphrase_file",
                    "give passphrase_file or passphrase_env, not both".into(),
                ))
            }
            (None, None) => {
                return Err(field(
                    "passphrase_file",
                    "missing: give passphrase_file or passphrase_env".into(),
                ))
            }
        };
        let timeout = raw
            .session_timeout_secs
            .unwrap_or(DEFAULT_SESSION_TIMEOUT_SECS);
        if timeout == 0 || timeout > 24 * 3600 {
            return Err(field(
                "session_timeout_secs",
                format!("{timeout} is outside 1..=86400"),
            ));
        }
        let max_items = raw.max_proposal_items.unwrap_or(DEFAULT_MAX_PROPOSE_ITEMS);
        if max_items == 0 || max_items > MAX_PROPOSAL_ITEMS_SETTING {
            return Err(field(
                "max_proposal_items",
                format!("{max_items} is outside 1..={MAX_PROPOSAL_ITEMS_SETTING}"),
            ));
        }
        let data_dir = resolve(&raw.data_dir);
        let metrics = raw
            .metrics
            .as_ref()
            .map(|m| frostzone_proto::metrics_endpoint::MetricsListen::from_raw(file, m))
            .transpose()?;
        if metrics.is_some_and(|m| m.listen == raw.listen) {
            return Err(field("metrics.listen", format!("{} is the signer service's own listen address", raw.listen)));
        }
        Ok(Config {
            file: file.to_path_buf(),
            name: raw.name,
            participant: raw.participant,
            listen: raw.listen,
            roster: resolve(&raw.roster),
            policy: raw.policy.as_deref().map(resolve),
            audit_log: raw
                .audit_log
                .as_deref()
                .map(resolve)
                .unwrap_or_else(|| data_dir.join("audit.log")),
            admin_socket: raw
                .admin_socket
                .as_deref()
                .map(resolve)
                .unwrap_or_else(|| data_dir.join(DEFAULT_ADMIN_SOCKET)),
            data_dir,
            passphrase,
            session_timeout: Duration::from_secs(timeout),
            proposal_bound: ProposalBound { items: max_items },
            tls: TlsFiles {
                ca: resolve(&raw.tls.ca),
                cert: resolve(&raw.tls.cert),
                key: resolve(&raw.tls.key),
            },
            coordinator_cert: resolve(&raw.tls.coordinator_cert),
            metrics,
        })
    }

    /// The FROST identifier of this participant (RFC 9591 §3.1 default
    /// identifiers are the integers 1..=n).
    pub fn identifier(&self) -> Result<Identifier, ConfigError> {
        Identifier::try_from(self.participant)
            .map_err(|e| ConfigError::from(ConfigFileError::field(&self.file, "participant", e.to_string())))
    }

    /// The roster, checked against this signer: its own entry must be
    /// there under its participant number and name. Errors name the file
    /// and the field.
    pub fn load_roster(&self) -> Result<frostzone_proto::roster::Roster, ConfigError> {
        let roster = frostzone_proto::roster::Roster::load(&self.roster).map_err(|e| ConfigError::Roster(Box::new(e)))?;
        let field = |reason: String| ConfigError::from(ConfigFileError::field(&self.file, "roster", reason));
        let me = self.identifier()?;
        match roster.member(&me) {
            None => Err(field(format!("{} lists no participant {}: add this signer's entry (frostzone-signer --config {} identity)", self.roster.display(), self.participant, self.file.display()))),
            Some(m) if m.name != self.name => Err(field(format!(
                "{} names participant {} {:?}, this signer is {:?}",
                self.roster.display(),
                self.participant,
                m.name,
                self.name
            ))),
            Some(_) => Ok(roster),
        }
    }

    /// The operator's policy: the `policy` file, or the default policy
    /// when there is none. Errors name the policy file and its field.
    pub fn load_policy(&self) -> Result<SignerPolicy, PolicyError> {
        match &self.policy {
            Some(file) => SignerPolicy::load(file),
            None => Ok(SignerPolicy::default()),
        }
    }

    /// Reads the store passphrase. One trailing newline (`\n` or `\r\n`)
    /// is removed; an empty passphrase is refused.
    pub fn read_passphrase(&self) -> Result<Zeroizing<String>, ConfigError> {
        let (name, value) = match &self.passphrase {
            PassphraseSource::File(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Passphrase {
                    source_name: name.clone(),
                    reason: e.to_string(),
                })?;
                (name, Zeroizing::new(text))
            }
            PassphraseSource::Env(var) => {
                let name = format!("environment variable {var}");
                let text = std::env::var(var).map_err(|e| ConfigError::Passphrase {
                    source_name: name.clone(),
                    reason: e.to_string(),
                })?;
                (name, Zeroizing::new(text))
            }
        };
        let trimmed = value
            .strip_suffix('\n')
            .map(|s| s.strip_suffix('\r').unwrap_or(s))
            .unwrap_or(&value);
        if trimmed.is_empty() {
            return Err(ConfigError::Passphrase {
                source_name: name,
                reason: "empty passphrase".into(),
            });
        }
        Ok(Zeroizing::new(trimmed.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
version = 1
name = "signer-1"
participant = 1
listen = "127.0.0.1:7001"
data_dir = "signer-1/data"
passphrase_file = "signer-1/passphrase"
roster = "roster.toml"
[tls]
ca = "ca.pem"
cert = "signer-1.pem"
key = "signer-1.key"
coordinator_cert = "/etc/frostzone/coordinator.pem"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/srv/fz/signer.toml"))
    }

    #[test]
    fn good_file_resolves_relative_paths() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.data_dir, Path::new("/srv/fz/signer-1/data"));
        assert_eq!(
            c.passphrase,
            PassphraseSource::File("/srv/fz/signer-1/passphrase".into())
        );
        assert_eq!(c.tls.ca, Path::new("/srv/fz/ca.pem"));
        assert_eq!(
            c.coordinator_cert,
            Path::new("/etc/frostzone/coordinator.pem")
        );
        assert_eq!(
            c.session_timeout,
            Duration::from_secs(DEFAULT_SESSION_TIMEOUT_SECS)
        );
        assert_eq!(c.identifier().unwrap(), Identifier::try_from(1u16).unwrap());
        assert_eq!(c.audit_log, Path::new("/srv/fz/signer-1/data/audit.log"));
        assert_eq!(c.policy, None);
        assert_eq!(c.roster, Path::new("/srv/fz/roster.toml"));
        assert_eq!(c.admin_socket, Path::new("/srv/fz/signer-1/data/admin.sock"));
        assert_eq!(c.proposal_bound.items, DEFAULT_MAX_PROPOSE_ITEMS);
        let c = parse(&GOOD.replacen("[tls]", "max_proposal_items = 9000000\n[tls]", 1)).unwrap();
        assert_eq!(c.proposal_bound.items, 9_000_000);
        let c = parse(&GOOD.replacen("[tls]", "policy = \"p.toml\"\naudit_log = \"/var/log/a.log\"\n[tls]", 1)).unwrap();
        assert_eq!(c.policy.as_deref(), Some(Path::new("/srv/fz/p.toml")));
        assert_eq!(c.audit_log, Path::new("/var/log/a.log"));
        let c = parse(&GOOD.replacen("[tls]", "admin_socket = \"run/admin.sock\"\n[tls]", 1)).unwrap();
        assert_eq!(c.admin_socket, Path::new("/srv/fz/run/admin.sock"));
        assert_eq!(c.metrics, None);
        let c = parse(&format!("{GOOD}[metrics]\nlisten = \"0.0.0.0:9471\"\n")).unwrap();
        assert_eq!(c.metrics.map(|m| (m.listen.port(), m.plain_http)), Some((9471, false)));
        for (section, field) in [
            ("listen = \"0.0.0.0:9471\"\nplain_http = true", "metrics.plain_http"),
            ("listen = \"127.0.0.1:7001\"", "metrics.listen"),
        ] {
            let err = parse(&format!("{GOOD}[metrics]\n{section}\n")).expect_err(section).to_string();
            assert!(err.starts_with("/srv/fz/signer.toml: ") && err.contains(field), "{section}: {err}");
        }
    }

    /// Every bad file fails naming the file and the field.
    #[test]
    fn errors_name_file_and_field() {
        let cases: &[(&str, &str, &str)] = &[
            ("participant = 1", "participant = 0", "participant"),
            ("participant = 1", "participant = 300", "participant"),
            ("version = 1", "version = 2", "version"),
            ("version = 1\n", "", "version"),
            (
                "name = \"signer-1\"",
                "name = \"signer-1\"\nnmae = \"x\"",
                "nmae",
            ),
            (
                "listen = \"127.0.0.1:7001\"",
                "listen = \"localhost\"",
                "listen",
            ),
            (
                "passphrase_file = \"signer-1/passphrase\"",
                "",
                "passphrase_file",
            ),
            (
                "passphrase_file = \"signer-1/passphrase\"",
                "passphrase_file = \"a\"\npassphrase_env = \"B\"",
                "passphrase_file",
            ),
            ("key = \"signer-1.key\"", "", "key"),
            ("roster = \"roster.toml\"\n", "", "roster"),
            ("coordinator_cert", "coordinatorcert", "coordinatorcert"),
            (
                "[tls]",
                "session_timeout_secs = 0\n[tls]",
                "session_timeout_secs",
            ),
            (
                "[tls]",
                "max_proposal_items = 0\n[tls]",
                "max_proposal_items",
            ),
            (
                "[tls]",
                "max_proposal_items = 100000001\n[tls]",
                "max_proposal_items",
            ),
        ];
        for (from, to, field) in cases {
            let text = GOOD.replacen(from, to, 1);
            assert_ne!(text, GOOD, "case {field} did not change the file");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains("/srv/fz/signer.toml"), "{err}");
            assert!(err.contains(field), "expected {field} in: {err}");
        }
    }

    #[test]
    fn passphrase_trims_one_newline_and_refuses_empty() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pp");
        let mut c = parse(GOOD).unwrap();
        c.passphrase = PassphraseSource::File(file.clone());
        std::fs::write(&file, "correct horse\r\n").unwrap();
        assert_eq!(c.read_passphrase().unwrap().as_str(), "correct horse");
        std::fs::write(&file, "  spaced  \n").unwrap();
        assert_eq!(c.read_passphrase().unwrap().as_str(), "  spaced  ");
        std::fs::write(&file, "\n").unwrap();
        assert!(c
            .read_passphrase()
            .unwrap_err()
            .to_string()
            .contains("empty passphrase"));
    }
}
