//! A zone's settings: from the request, the zone's `[[zones]]` entry in
//! the config, or the version published last, in that order (no I/O).
//!
//! ```toml
//! [[zones]]
//! name = "example.com."
//! output = "signed/example.com.signed"     # optional: the signed zone, written atomically
//! changes_dir = "signed/changes"           # optional: <zone>.<from>-<to>.ixfr per publication
//! on_publish = ["/usr/local/bin/reload", "--zone"]   # optional: run after each publication
//! serial_policy = "increment"              # keep | increment | unixtime | date-counter
//! denial = "nsec3"                         # nsec3 | nsec3-opt-out | nsec
//! validity_days = 14                       # RRSIG lifetime
//! publish_cds = false                      # CDS/CDNSKEY (RFC 7344)
//! refresh_before_days = 5                  # re-sign this long before expiry
//! refresh_jitter_hours = 24                # spread refreshes over this long
//! [zones.rollover]                         # key rollovers (see `rollover`)
//! dnskey_ttl = 3600
//! ```

use std::path::PathBuf;

use frostzone_dnssec::denial::{Denial, Nsec3Config};
use frostzone_dnssec::domain::base::Ttl;
use frostzone_dnssec::signing::refresh::RefreshPolicy;
use frostzone_dnssec::serial::SerialPolicy;
use frostzone_dnssec::signing::{SigningPolicy, DEFAULT_DNSKEY_TTL_SECS, DEFAULT_INCEPTION_OFFSET_SECS};
use frostzone_dnssec::StoredName;
use frostzone_proto::v1 as pb;

use crate::config::rollover::RolloverPolicy;
use crate::error::CoordinatorError;
use crate::registry::StoredSettings;

/// Default signature lifetime when nothing says otherwise (the same 14
/// days as `frostzone simulate` and the engine's policy default).
pub const DEFAULT_VALIDITY_DAYS: u32 = frostzone_dnssec::signing::DEFAULT_VALIDITY_SECS / 86_400;

/// Longest signature lifetime accepted: a year. Longer lifetimes make a
/// stolen signature replayable for longer than any key rollover.
pub const MAX_VALIDITY_DAYS: u32 = 366;

/// The denial used when nothing says otherwise (RFC 9276 §3.1 NSEC3
/// parameters).
pub const DEFAULT_DENIAL: &str = "nsec3";

/// One `[[zones]]` entry, checked.
#[derive(Clone, Debug)]
pub struct ZoneConfig {
    /// The zone, absolute and lowercase (`example.com.`).
    pub name: String,
    /// Its apex.
    pub apex: StoredName,
    /// Where the signed zone is written.
    pub output: Option<PathBuf>,
    /// Where each signed change set is written.
    pub changes_dir: Option<PathBuf>,
    /// Command (program and leading arguments) run after each publication.
    pub on_publish: Vec<String>,
    /// SOA serial policy.
    pub serial_policy: Option<SerialPolicy>,
    /// `nsec3`, `nsec3-opt-out` or `nsec`.
    pub denial: Option<String>,
    /// Signature lifetime in days.
    pub validity_days: Option<u32>,
    /// CDS and CDNSKEY published.
    pub publish_cds: Option<bool>,
    /// When signatures are refreshed.
    pub refresh: RefreshPolicy,
    /// Key rollovers: timings, the parent, schedule.
    pub rollover: RolloverPolicy,
}

/// The denial named `name` (`""` is the default).
pub fn denial_named(name: &str) -> Result<Denial, String> {
    match name {
        "" | "nsec3" => Ok(Denial::Nsec3(Nsec3Config::default())),
        "nsec3-opt-out" => Ok(Denial::Nsec3(Nsec3Config { opt_out: true, ..Nsec3Config::default() })),
        "nsec" => Ok(Denial::Nsec),
        other => Err(format!("{other:?}: expected \"nsec3\", \"nsec3-opt-out\" or \"nsec\"")),
    }
}

/// Checks a signature lifetime in days.
pub fn check_validity_days(days: u32) -> Result<u32, String> {
    match days {
        0 => Err("must be at least 1".into()),
        d if d > MAX_VALIDITY_DAYS => Err(format!("{d}: at most {MAX_VALIDITY_DAYS}")),
        d => Ok(d),
    }
}

/// What a new version of a zone is made with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `nsec3`, `nsec3-opt-out` or `nsec`.
    pub denial: String,
    /// Signature lifetime in days.
    pub validity_days: u32,
    /// SOA serial policy.
    pub serial_policy: SerialPolicy,
    /// CDS and CDNSKEY published.
    pub publish_cds: bool,
}

impl Settings {
    /// The settings of a request: each of its options that is set, else
    /// the zone's config, else (`inherit`: for changes, refreshes and
    /// transfers, not for a whole zone sent by a client, which says what
    /// it wants as SignZone always did) the version published last, else
    /// the defaults.
    pub fn resolve(
        options: &pb::SignZoneOptions,
        config: Option<&ZoneConfig>,
        stored: Option<&StoredSettings>,
        inherit: bool,
    ) -> Result<Settings, CoordinatorError> {
        let bad = |field: &str, m: String| CoordinatorError::InvalidArgument(format!("options.{field} {m}"));
        let stored = stored.filter(|_| inherit);
        let denial = [Some(options.denial.as_str()).filter(|d| !d.is_empty()), config.and_then(|c| c.denial.as_deref()), stored.map(|s| s.denial.as_str())]
            .into_iter()
            .flatten()
            .next()
            .unwrap_or(DEFAULT_DENIAL)
            .to_string();
        denial_named(&denial).map_err(|m| bad("denial", m))?;
        let validity_days = match options.validity_days {
            0 => config.and_then(|c| c.validity_days).or(stored.map(|s| s.validity_days)).unwrap_or(DEFAULT_VALIDITY_DAYS),
            d => check_validity_days(d).map_err(|m| bad("validity_days", m))?,
        };
        let serial_policy = match options.serial_policy.as_str() {
            "" => match (config.and_then(|c| c.serial_policy), stored) {
                (Some(p), _) => p,
                (None, Some(s)) => s.serial_policy.parse().map_err(|m: String| bad("serial_policy (stored)", m))?,
                (None, None) => SerialPolicy::default(),
            },
            name => name.parse().map_err(|m: String| bad("serial_policy", m))?,
        };
        let publish_cds =
            options.publish_cds || config.and_then(|c| c.publish_cds).or(stored.map(|s| s.publish_cds)).unwrap_or(false);
        Ok(Settings { denial, validity_days, serial_policy, publish_cds })
    }

    /// The signing policy.
    pub fn signing_policy(&self) -> Result<SigningPolicy, CoordinatorError> {
        Ok(SigningPolicy {
            inception_offset: DEFAULT_INCEPTION_OFFSET_SECS,
            validity: self.validity_days * 86_400,
            dnskey_ttl: Ttl::from_secs(DEFAULT_DNSKEY_TTL_SECS),
            publish_cds: self.publish_cds,
            denial: denial_named(&self.denial).map_err(|m| CoordinatorError::InvalidArgument(format!("denial {m}")))?,
        })
    }

    /// As stored with a published version.
    pub fn stored(&self) -> StoredSettings {
        StoredSettings {
            denial: self.denial.clone(),
            validity_days: self.validity_days,
            serial_policy: self.serial_policy.to_string(),
            publish_cds: self.publish_cds,
        }
    }
}

/// The refresh policy for signatures of `validity_days`: the configured
/// one, shortened for short lifetimes so that a refreshed signature is
/// never due at once (the margin at most half the lifetime, the jitter at
/// most a quarter, the pre-refresh at most an eighth: a fresh signature is
/// refreshed an eighth of its lifetime later at the earliest).
pub fn effective_refresh(configured: RefreshPolicy, validity_days: u32) -> RefreshPolicy {
    let validity = validity_days.saturating_mul(86_400);
    RefreshPolicy {
        refresh_before: configured.refresh_before.min(validity / 2),
        jitter: configured.jitter.min(validity / 4),
        pre_refresh: configured.pre_refresh.min(validity / 8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ZoneConfig {
        ZoneConfig {
            name: "example.".into(),
            apex: crate::keys::zone_name("example.").unwrap().0,
            output: None,
            changes_dir: None,
            on_publish: Vec::new(),
            serial_policy: Some(SerialPolicy::UnixTime),
            denial: Some("nsec".into()),
            validity_days: None,
            publish_cds: None,
            refresh: RefreshPolicy::default(),
            rollover: RolloverPolicy::default(),
        }
    }

    #[test]
    fn options_then_config_then_the_published_version() {
        let stored = StoredSettings { denial: "nsec3-opt-out".into(), validity_days: 7, serial_policy: "keep".into(), publish_cds: true };
        let none = pb::SignZoneOptions::default();
        let s = Settings::resolve(&none, None, Some(&stored), true).unwrap();
        assert_eq!(s, Settings { denial: "nsec3-opt-out".into(), validity_days: 7, serial_policy: SerialPolicy::Keep, publish_cds: true });
        // A whole zone from a client says what it wants, as SignZone always did.
        let s = Settings::resolve(&none, None, Some(&stored), false).unwrap();
        assert_eq!(s, Settings { denial: "nsec3".into(), validity_days: 14, serial_policy: SerialPolicy::Increment, publish_cds: false });
        let s = Settings::resolve(&none, Some(&config()), Some(&stored), true).unwrap();
        assert_eq!((s.denial.as_str(), s.serial_policy, s.validity_days), ("nsec", SerialPolicy::UnixTime, 7));
        let asked = pb::SignZoneOptions { denial: "nsec3".into(), serial_policy: "date-counter".into(), validity_days: 3, ..Default::default() };
        let s = Settings::resolve(&asked, Some(&config()), Some(&stored), true).unwrap();
        assert_eq!((s.denial.as_str(), s.serial_policy, s.validity_days), ("nsec3", SerialPolicy::DateCounter, 3));
        let e = Settings::resolve(&pb::SignZoneOptions { denial: "nsec5".into(), ..Default::default() }, None, None, true).unwrap_err();
        assert!(e.to_string().starts_with("options.denial \"nsec5\""), "{e}");
        let e = Settings::resolve(&pb::SignZoneOptions { validity_days: 400, ..Default::default() }, None, None, true).unwrap_err();
        assert!(e.to_string().contains("options.validity_days 400: at most 366"), "{e}");
    }

    #[test]
    fn short_lifetimes_shorten_the_refresh_margin() {
        let r = effective_refresh(RefreshPolicy::default(), 14);
        assert_eq!(r, RefreshPolicy::default());
        let r = effective_refresh(RefreshPolicy::default(), 3);
        assert_eq!((r.refresh_before, r.jitter), (129_600, 64_800));
    }
}
