//! The `[transfer]` and `[primary]` sections of the coordinator's config.
//!
//! See the [module documentation](super) for the format. The raw sections
//! ([`RawTransfer`], [`RawPrimary`]) are what serde reads, with unknown
//! fields refused; [`XfrConfig::check`] turns them into checked values and
//! names the field of every problem (`transfer.secondaries[1].address`),
//! so the coordinator's config loader can report `file: field: message`.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine;
use domain::base::ToName;
use domain::tsig::{Algorithm, Key, KeyName};
use serde::Deserialize;

use frostzone_dnssec::StoredName;

/// Default number of change sets kept per zone for IXFR: a day of hourly
/// re-signing, after which a secondary that far behind gets a full zone
/// (RFC 1995 §4 allows that fallback at any time).
pub const DEFAULT_JOURNAL_LIMIT: usize = 24;

/// The port NOTIFY is sent to and transfers are pulled from when an
/// address gives none (RFC 1035 §4.2).
pub const DNS_PORT: u16 = 53;

/// A `[transfer]` or `[primary]` value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct XfrConfigError {
    /// The field, e.g. `transfer.secondaries[1].tsig_key`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> XfrConfigError {
    XfrConfigError { field: field.into(), message: message.into() }
}

/// `[transfer]` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTransfer {
    /// `listen = "127.0.0.1:5353"`: UDP and TCP.
    pub listen: String,
    /// `journal_limit = 24`: change sets kept per zone.
    pub journal_limit: Option<usize>,
    /// `[[transfer.tsig_keys]]`.
    #[serde(default)]
    pub tsig_keys: Vec<RawTsigKey>,
    /// `[[transfer.secondaries]]`.
    #[serde(default)]
    pub secondaries: Vec<RawSecondary>,
}

/// `[[transfer.tsig_keys]]` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTsigKey {
    /// The key's name, a domain name both sides agree on.
    pub name: String,
    /// Only `hmac-sha256` (RFC 8945 §6: the mandatory algorithm).
    pub algorithm: String,
    /// The secret, base64.
    pub secret: Option<String>,
    /// A file holding the secret, base64 (keeps it out of the config).
    pub secret_file: Option<PathBuf>,
}

/// `[[transfer.secondaries]]` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecondary {
    /// `"192.0.2.2"` or `"192.0.2.2:53"`: transfers are allowed from this
    /// IP; NOTIFY goes to this address.
    pub address: String,
    /// Name of a `[[transfer.tsig_keys]]` entry every request from this
    /// secondary must be signed with.
    pub tsig_key: Option<String>,
    /// The zones it is a secondary of (transferred to it, NOTIFYed to it);
    /// absent: every zone served.
    #[serde(default)]
    pub zones: Option<Vec<String>>,
}

/// `[primary]` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrimary {
    /// The hidden primary: NOTIFY is accepted from its IP, transfers are
    /// pulled from this address.
    pub address: String,
    /// Name of a `[[transfer.tsig_keys]]` entry for queries, transfers and
    /// its NOTIFYs.
    pub tsig_key: Option<String>,
    /// The zones taken from it.
    pub zones: Vec<String>,
    /// Shortest wait between two checks of the primary's SOA, whatever its
    /// REFRESH or RETRY says (seconds; default 60).
    #[serde(default)]
    pub min_refresh_secs: Option<u32>,
    /// Longest wait between two checks (seconds; default 86,400).
    #[serde(default)]
    pub max_refresh_secs: Option<u32>,
}

/// A checked TSIG key (RFC 8945).
#[derive(Clone)]
pub struct TsigKey {
    /// The key, ready for `domain`'s TSIG code.
    pub key: Arc<Key>,
}

impl std::fmt::Debug for TsigKey {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKey").field("name", &self.key.name().to_string()).field("secret", &"<redacted>").finish()
    }
}

/// A secondary we serve.
#[derive(Clone, Debug)]
pub struct SecondaryConfig {
    /// Where NOTIFY goes; transfers are allowed from its IP.
    pub address: SocketAddr,
    /// The key its requests must carry, and our NOTIFYs to it are signed with.
    pub tsig_key: Option<TsigKey>,
    /// The zones it may transfer and is NOTIFYed of; `None`: every zone.
    pub zones: Option<Vec<StoredName>>,
}

impl SecondaryConfig {
    /// Whether it is a secondary of the zone at `apex`.
    pub fn serves(&self, apex: &impl ToName) -> bool {
        self.zones.as_ref().is_none_or(|zones| zones.iter().any(|z| z.name_eq(apex)))
    }
}

/// The hidden primary we take zones from.
#[derive(Clone, Debug)]
pub struct PrimaryConfig {
    /// Its address.
    pub address: SocketAddr,
    /// The key for everything exchanged with it.
    pub tsig_key: Option<TsigKey>,
    /// The zones it serves us.
    pub zones: Vec<StoredName>,
    /// The bounds of the SOA refresh and retry timers (RFC 1034 §4.3.5),
    /// seconds: (shortest, longest).
    pub refresh_bounds: (u32, u32),
}

/// Default shortest wait between SOA checks: a primary whose REFRESH says
/// 10 s is not queried that often (its NOTIFYs are the fast path).
pub const DEFAULT_MIN_REFRESH_SECS: u32 = 60;

/// Default longest wait between SOA checks: a day, even if REFRESH says a
/// week, so a missed NOTIFY costs a day at most.
pub const DEFAULT_MAX_REFRESH_SECS: u32 = 86_400;

/// The checked `[transfer]` section.
#[derive(Clone, Debug)]
pub struct TransferConfig {
    /// UDP and TCP address of the transfer server.
    pub listen: SocketAddr,
    /// Change sets kept per zone.
    pub journal_limit: usize,
    /// Every key, by name (the server accepts requests signed with any of
    /// them, then checks it is the one the peer must use).
    pub tsig_keys: BTreeMap<String, TsigKey>,
    /// Our secondaries.
    pub secondaries: Vec<SecondaryConfig>,
}

/// Both sections, checked.
#[derive(Clone, Debug)]
pub struct XfrConfig {
    /// `[transfer]`.
    pub transfer: TransferConfig,
    /// `[primary]`, when the coordinator is a bump in the wire.
    pub primary: Option<PrimaryConfig>,
}

/// The two sections as a TOML document of their own (for tests and
/// `--check-config` of a transfer-only file).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    transfer: Option<RawTransfer>,
    primary: Option<RawPrimary>,
}

impl XfrConfig {
    /// Reads `[transfer]` and `[primary]` from TOML text; `base` resolves
    /// relative `secret_file`s. `Ok(None)` when neither section is there.
    pub fn parse(text: &str, base: &Path) -> Result<Option<XfrConfig>, XfrConfigError> {
        let raw: RawDocument = toml::from_str(text).map_err(|e| problem("transfer", e.to_string().trim_end()))?;
        XfrConfig::check(raw.transfer, raw.primary, base)
    }

    /// Checks the raw sections. `[primary]` needs `[transfer]`, because the
    /// primary's NOTIFY (RFC 1996 §3.7) arrives at `transfer.listen`.
    pub fn check(
        transfer: Option<RawTransfer>,
        primary: Option<RawPrimary>,
        base: &Path,
    ) -> Result<Option<XfrConfig>, XfrConfigError> {
        let Some(transfer) = transfer else {
            return match primary {
                Some(_) => Err(problem(
                    "primary",
                    "needs a [transfer] section: the primary's NOTIFY arrives at transfer.listen",
                )),
                None => Ok(None),
            };
        };
        let listen = SocketAddr::from_str(&transfer.listen)
            .map_err(|e| problem("transfer.listen", format!("{:?} is not an address and port: {e}", transfer.listen)))?;
        let journal_limit = transfer.journal_limit.unwrap_or(DEFAULT_JOURNAL_LIMIT);
        let mut tsig_keys = BTreeMap::new();
        for (i, raw) in transfer.tsig_keys.iter().enumerate() {
            let field = format!("transfer.tsig_keys[{i}]");
            let key = tsig_key(raw, base, &field)?;
            if tsig_keys.insert(raw.name.trim_end_matches('.').to_ascii_lowercase(), key).is_some() {
                return Err(problem(format!("{field}.name"), format!("{:?} is defined twice", raw.name)));
            }
        }
        let find_key = |name: &Option<String>, field: String| -> Result<Option<TsigKey>, XfrConfigError> {
            match name {
                None => Ok(None),
                Some(n) => tsig_keys
                    .get(&n.trim_end_matches('.').to_ascii_lowercase())
                    .cloned()
                    .map(Some)
                    .ok_or_else(|| problem(field, format!("no [[transfer.tsig_keys]] entry is named {n:?}"))),
            }
        };
        let mut secondaries = Vec::new();
        for (i, s) in transfer.secondaries.iter().enumerate() {
            let address = peer_address(&s.address).map_err(|m| problem(format!("transfer.secondaries[{i}].address"), m))?;
            if secondaries.iter().any(|o: &SecondaryConfig| o.address == address) {
                return Err(problem(format!("transfer.secondaries[{i}].address"), format!("{address} is listed twice")));
            }
            let tsig_key = find_key(&s.tsig_key, format!("transfer.secondaries[{i}].tsig_key"))?;
            let zones = match &s.zones {
                None => None,
                Some(z) if z.is_empty() => {
                    return Err(problem(format!("transfer.secondaries[{i}].zones"), "empty: leave it out to serve every zone"));
                }
                Some(z) => Some(zone_list(&format!("transfer.secondaries[{i}].zones"), z)?),
            };
            secondaries.push(SecondaryConfig { address, tsig_key, zones });
        }
        // Requests are told apart by source IP: two entries for one IP
        // with different keys would make the ACL ambiguous.
        for (i, s) in secondaries.iter().enumerate() {
            let clash = secondaries[..i]
                .iter()
                .any(|o| o.address.ip() == s.address.ip() && key_name(&o.tsig_key) != key_name(&s.tsig_key));
            if clash {
                return Err(problem(
                    format!("transfer.secondaries[{i}].tsig_key"),
                    format!("another secondary at {} uses a different key", s.address.ip()),
                ));
            }
        }
        let primary = match primary {
            None => None,
            Some(p) => {
                let address = peer_address(&p.address).map_err(|m| problem("primary.address", m))?;
                let tsig_key = find_key(&p.tsig_key, "primary.tsig_key".into())?;
                if p.zones.is_empty() {
                    return Err(problem("primary.zones", "no zones: list the zones taken from the primary"));
                }
                let zones = zone_list("primary.zones", &p.zones)?;
                let min = p.min_refresh_secs.unwrap_or(DEFAULT_MIN_REFRESH_SECS);
                let max = p.max_refresh_secs.unwrap_or(DEFAULT_MAX_REFRESH_SECS.max(min));
                if min == 0 {
                    return Err(problem("primary.min_refresh_secs", "must be at least 1"));
                }
                if max < min {
                    return Err(problem("primary.max_refresh_secs", format!("{max} is less than min_refresh_secs {min}")));
                }
                Some(PrimaryConfig { address, tsig_key, zones, refresh_bounds: (min, max) })
            }
        };
        Ok(Some(XfrConfig { transfer: TransferConfig { listen, journal_limit, tsig_keys, secondaries }, primary }))
    }
}

/// Zone names as written (`example.com` or `example.com.`), each once.
fn zone_list(field: &str, names: &[String]) -> Result<Vec<StoredName>, XfrConfigError> {
    let mut zones: Vec<StoredName> = Vec::new();
    for (i, z) in names.iter().enumerate() {
        let fqdn = if z.ends_with('.') { z.clone() } else { format!("{z}.") };
        let name = StoredName::from_str(&fqdn).map_err(|e| problem(format!("{field}[{i}]"), format!("{z:?} is not a domain name: {e}")))?;
        if zones.iter().any(|o| o.name_eq(&name)) {
            return Err(problem(format!("{field}[{i}]"), format!("{z:?} is listed twice")));
        }
        zones.push(name);
    }
    Ok(zones)
}

fn key_name(key: &Option<TsigKey>) -> Option<String> {
    key.as_ref().map(|k| k.key.name().to_string())
}

/// `ip` or `ip:port` (IPv6 with a port as `[ip]:port`), port 53 by default.
fn peer_address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = SocketAddr::from_str(text) {
        return Ok(addr);
    }
    IpAddr::from_str(text)
        .map(|ip| SocketAddr::new(ip, DNS_PORT))
        .map_err(|_| format!("{text:?} is not an IP address, or an address and port"))
}

/// Builds one key; the secret comes from the config or from a file.
fn tsig_key(raw: &RawTsigKey, base: &Path, field: &str) -> Result<TsigKey, XfrConfigError> {
    let name = if raw.name.ends_with('.') { raw.name.clone() } else { format!("{}.", raw.name) };
    let name = KeyName::from_str(&name)
        .map_err(|e| problem(format!("{field}.name"), format!("{:?} is not a domain name: {e}", raw.name)))?;
    // RFC 8945 §6: HMAC-SHA256 is mandatory to implement; we take no other,
    // so no peer can be configured onto a weaker one.
    if raw.algorithm != "hmac-sha256" {
        return Err(problem(
            format!("{field}.algorithm"),
            format!("{:?} is not supported: use \"hmac-sha256\"", raw.algorithm),
        ));
    }
    let secret_text = match (&raw.secret, &raw.secret_file) {
        (Some(s), None) => s.clone(),
        (None, Some(file)) => {
            let path = if file.is_absolute() { file.clone() } else { base.join(file) };
            std::fs::read_to_string(&path)
                .map_err(|e| problem(format!("{field}.secret_file"), format!("{}: {e}", path.display())))?
        }
        _ => return Err(problem(format!("{field}.secret"), "give exactly one of secret and secret_file")),
    };
    let secret = base64::engine::general_purpose::STANDARD
        .decode(secret_text.trim())
        .map_err(|e| problem(format!("{field}.secret"), format!("not base64: {e}")))?;
    // RFC 8945 §5.3.1 relies on the secret's strength; a short one is a
    // configuration mistake, not a choice.
    if secret.len() < 16 {
        return Err(problem(format!("{field}.secret"), format!("{} bytes is too short: use at least 16", secret.len())));
    }
    let key = Key::new(Algorithm::Sha256, &secret, name, None, None)
        .map_err(|e| problem(format!("{field}.secret"), e.to_string()))?;
    Ok(TsigKey { key: Arc::new(key) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==";

    fn good() -> String {
        format!(
            r#"
[transfer]
listen = "127.0.0.1:5353"
[[transfer.tsig_keys]]
name = "xfr-key"
algorithm = "hmac-sha256"
secret = "{SECRET}"
[[transfer.secondaries]]
address = "192.0.2.2"
tsig_key = "xfr-key"
[[transfer.secondaries]]
address = "192.0.2.3:5300"
[primary]
address = "192.0.2.1:53"
tsig_key = "xfr-key"
zones = ["example.com", "example.net."]
"#
        )
    }

    #[test]
    fn good_config() {
        let c = XfrConfig::parse(&good(), Path::new("/etc/fz")).unwrap().unwrap();
        assert_eq!(c.transfer.listen, "127.0.0.1:5353".parse().unwrap());
        assert_eq!(c.transfer.journal_limit, DEFAULT_JOURNAL_LIMIT);
        assert_eq!(c.transfer.secondaries[0].address, "192.0.2.2:53".parse().unwrap());
        assert!(c.transfer.secondaries[0].tsig_key.is_some() && c.transfer.secondaries[1].tsig_key.is_none());
        assert!(c.transfer.secondaries.iter().all(|s| s.zones.is_none() && s.serves(&StoredName::from_str("any.").unwrap())));
        let p = c.primary.unwrap();
        assert_eq!(p.zones.len(), 2);
        assert_eq!(p.refresh_bounds, (DEFAULT_MIN_REFRESH_SECS, DEFAULT_MAX_REFRESH_SECS));
        let only = XfrConfig::parse(&good().replace("address = \"192.0.2.3:5300\"", "address = \"192.0.2.3:5300\"\nzones = [\"Example.COM\"]"), Path::new("/etc/fz"))
            .unwrap()
            .unwrap();
        let s = &only.transfer.secondaries[1];
        assert!(s.serves(&StoredName::from_str("example.com.").unwrap()) && !s.serves(&StoredName::from_str("example.net.").unwrap()));
        assert!(!format!("{:?}", p.tsig_key).contains(SECRET));
        assert!(XfrConfig::parse("", Path::new(".")).unwrap().is_none());
    }

    #[test]
    fn errors_name_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            ("127.0.0.1:5353", "localhost", "transfer.listen"),
            ("\"hmac-sha256\"", "\"hmac-md5\"", "transfer.tsig_keys[0].algorithm"),
            (SECRET, "!!", "transfer.tsig_keys[0].secret"),
            (SECRET, "c2hvcnQ=", "transfer.tsig_keys[0].secret"),
            ("address = \"192.0.2.2\"", "address = \"host\"", "transfer.secondaries[0].address"),
            ("address = \"192.0.2.3:5300\"", "address = \"192.0.2.2:53\"", "transfer.secondaries[1].address"),
            ("tsig_key = \"xfr-key\"\n[[", "tsig_key = \"other\"\n[[", "transfer.secondaries[0].tsig_key"),
            ("address = \"192.0.2.3:5300\"", "address = \"192.0.2.2:5300\"", "transfer.secondaries[1].tsig_key"),
            ("address = \"192.0.2.1:53\"", "address = \"x\"", "primary.address"),
            ("\"example.com\", ", "\"exa mple..com\", ", "primary.zones[0]"),
            ("zones = [\"example.com\", \"example.net.\"]", "zones = []", "primary.zones"),
            ("listen = \"127.0.0.1:5353\"", "listen = \"127.0.0.1:5353\"\nlisten_tcp = 1", "listen_tcp"),
            ("address = \"192.0.2.3:5300\"", "address = \"192.0.2.3:5300\"\nzones = []", "transfer.secondaries[1].zones"),
            ("address = \"192.0.2.3:5300\"", "address = \"192.0.2.3:5300\"\nzones = [\"a.\", \"A\"]", "transfer.secondaries[1].zones[1]"),
            ("tsig_key = \"xfr-key\"\nzones", "tsig_key = \"xfr-key\"\nmin_refresh_secs = 0\nzones", "primary.min_refresh_secs"),
            ("tsig_key = \"xfr-key\"\nzones", "tsig_key = \"xfr-key\"\nmin_refresh_secs = 600\nmax_refresh_secs = 60\nzones", "primary.max_refresh_secs"),
        ];
        for (from, to, field) in cases {
            let text = good();
            assert!(text.contains(from), "{from}");
            let err = XfrConfig::parse(&text.replacen(from, to, 1), Path::new("/etc/fz"))
                .expect_err(&format!("{from} -> {to} accepted"))
                .to_string();
            assert!(err.contains(field), "{from} -> {to}: {err} does not name {field}");
        }
        let err = XfrConfig::check(None, Some(RawPrimary { address: "192.0.2.1".into(), tsig_key: None, zones: vec![], min_refresh_secs: None, max_refresh_secs: None }), Path::new("."))
            .unwrap_err();
        assert_eq!(err.field, "primary");
    }

    #[test]
    fn secret_file_is_read_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("xfr.key"), format!("{SECRET}\n")).unwrap();
        let text = good().replace(&format!("secret = \"{SECRET}\""), "secret_file = \"xfr.key\"");
        let c = XfrConfig::parse(&text, dir.path()).unwrap().unwrap();
        assert!(c.transfer.tsig_keys.contains_key("xfr-key"));
        let err = XfrConfig::parse(&text, Path::new("/nonexistent")).unwrap_err();
        assert_eq!(err.field, "transfer.tsig_keys[0].secret_file");
    }
}
