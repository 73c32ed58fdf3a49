//! The signer operator's policy file (TOML): what this signer agrees to
//! sign, whoever asks. The `policy` module checks every item of every
//! batch against it, before any nonce is made.
//!
//! ```toml
//! version = 1
//! zones = ["example.com."]      # zones served; ["*"] (the default) serves all
//! rr_types = ["*"]              # RR types signed; list every type the zone
//!                               # needs, DNSKEY, NSEC3 and NSEC3PARAM included
//! max_signatures_per_hour = 0   # signatures made per hour; 0: no limit
//! [validity]                    # RRSIG validity window (RFC 4034 §3.1.5)
//! max_inception_backdate_secs = 86400
//! max_inception_skew_secs = 300 # inception at most this far after now
//! min_lifetime_secs = 3600      # expiration at least this far from now
//! max_lifetime_secs = 7776000   # expiration at most this far from now; the
//!                               # window (expiration minus inception) at most
//!                               # this plus the backdate
//! [nsec3]                       # NSEC3 and NSEC3PARAM parameters (RFC 5155)
//! max_iterations = 0            # RFC 9276 §3.1: iterations "MUST be 0"
//! salts = []                    # hex salts accepted besides the empty one
//! opt_out = false               # NSEC3 Opt-Out (RFC 5155 §6) accepted
//! [approval]                    # which requests are approved without the
//!                               # operator (crate::approval)
//! max_rrsets_changed = 1000     # RRsets added + removed + changed (NSEC, NSEC3,
//!                               # NSEC3PARAM not counted); more waits for the
//!                               # operator; 0: every change waits
//! max_names_added = 1000        # owner names appearing
//! max_names_removed = 100       # owner names disappearing
//! max_ds_changed = 10           # DS RRsets at delegations added, removed or
//!                               # changed (a registry's key material); 0:
//!                               # every DS change waits for the operator
//! key_changes = "operator"      # DNSKEY/CDS/CDNSKEY changes (also on a zone's
//!                               # first publication): "operator", "auto", or
//!                               # "rollover": a step this signer recognises
//!                               # itself (crate::key_step) by policy, the
//!                               # rest by the operator
//! min_key_publish_secs = 3600   # (rollover) an old key goes only once its
//!                               # successor was published here this long
//! key_ceremonies = "operator"   # DKG, import and removal of keys of zones
//!                               # this signer serves: "operator" or "auto"
//! share_refresh = "auto"        # refresh of the shares of a key it holds
//!                               # (the key stays): "auto" or "operator"
//! pending_expiry_secs = 86400   # a request pending longer than this expires
//! ```
//!
//! Every field is optional (the defaults below); unknown fields are refused
//! and every error names the file and the field. Without a policy file a
//! signer runs with [`SignerPolicy::default`].

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_dnssec::name::ZoneName;
use frostzone_proto::config_file::{parse_toml, read_text, ConfigFileError};
use serde::Deserialize;

use crate::approval::{ApprovalPolicy, KeyChanges, MAX_PENDING_EXPIRY_SECS};

/// The only policy format version this build reads.
pub const POLICY_VERSION: u32 = 1;

/// Default longest signature lifetime: 90 days. RFC 6781 §4.4.2 discusses
/// validity periods of days to weeks; 90 days leaves room for long-lived
/// KSK signatures while refusing a signature that outlives any sane
/// rollover.
pub const DEFAULT_MAX_LIFETIME_SECS: u32 = 90 * 24 * 3600;

/// Default longest inception backdate: one day. Signers backdate inception
/// for clock skew (the engine's default is one hour,
/// [`frostzone_dnssec::signing::DEFAULT_INCEPTION_OFFSET_SECS`]).
pub const DEFAULT_MAX_INCEPTION_BACKDATE_SECS: u32 = 24 * 3600;

/// Default shortest remaining lifetime: one hour. A signature that expires
/// sooner is stale before resolvers have fetched it.
pub const DEFAULT_MIN_LIFETIME_SECS: u32 = 3600;

/// Default longest time an inception may lie after now: five minutes of
/// clock skew between coordinator and signer. Signatures that start later
/// are signatures made now for use in the future, which no signing step
/// needs.
pub const DEFAULT_MAX_INCEPTION_SKEW_SECS: u32 = 300;

/// Default NSEC3 iterations: RFC 9276 §3.1, "MUST be 0".
pub const DEFAULT_MAX_NSEC3_ITERATIONS: u16 = 0;

/// A policy file that cannot be used: the same errors as the config file
/// it sits beside (read, parse, or a field naming file and field).
pub use crate::error::ConfigError as PolicyError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: u32,
    zones: Option<Vec<String>>,
    rr_types: Option<Vec<String>>,
    max_signatures_per_hour: Option<u64>,
    validity: Option<RawValidity>,
    nsec3: Option<RawNsec3>,
    approval: Option<RawApproval>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApproval {
    max_rrsets_changed: Option<u64>,
    max_names_added: Option<u64>,
    max_names_removed: Option<u64>,
    max_ds_changed: Option<u64>,
    key_changes: Option<String>,
    key_ceremonies: Option<String>,
    share_refresh: Option<String>,
    pending_expiry_secs: Option<u64>,
    min_key_publish_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawValidity {
    max_inception_backdate_secs: Option<u32>,
    max_inception_skew_secs: Option<u32>,
    min_lifetime_secs: Option<u32>,
    max_lifetime_secs: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNsec3 {
    max_iterations: Option<u16>,
    salts: Option<Vec<String>>,
    opt_out: Option<bool>,
}

/// Bounds on an RRSIG's validity window (RFC 4034 §3.1.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidityBounds {
    /// How far before now inception may lie.
    pub max_inception_backdate_secs: u32,
    /// How far after now inception may lie (clock skew).
    pub max_inception_skew_secs: u32,
    /// Shortest time from now to expiration.
    pub min_lifetime_secs: u32,
    /// Longest lifetime: expiration at most this far from now; the window
    /// (expiration − inception) may exceed it by the backdate.
    pub max_lifetime_secs: u32,
}

impl Default for ValidityBounds {
    fn default() -> Self {
        ValidityBounds {
            max_inception_backdate_secs: DEFAULT_MAX_INCEPTION_BACKDATE_SECS,
            max_inception_skew_secs: DEFAULT_MAX_INCEPTION_SKEW_SECS,
            min_lifetime_secs: DEFAULT_MIN_LIFETIME_SECS,
            max_lifetime_secs: DEFAULT_MAX_LIFETIME_SECS,
        }
    }
}

/// A checked policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerPolicy {
    /// Zones served (normalized: lowercase, trailing dot); `None`: all.
    pub zones: Option<BTreeSet<String>>,
    /// RR types signed; `None`: all.
    pub rr_types: Option<BTreeSet<u16>>,
    /// Signatures made per sliding hour; 0: no limit.
    pub max_signatures_per_hour: u64,
    /// The validity window.
    pub validity: ValidityBounds,
    /// Highest NSEC3 iteration count.
    pub max_nsec3_iterations: u16,
    /// NSEC3 salts accepted besides the empty one.
    pub nsec3_salts: BTreeSet<Vec<u8>>,
    /// Whether NSEC3 Opt-Out chains (RFC 5155 §6) are signed: they leave
    /// insecure delegations unproven, which a policy must choose.
    pub nsec3_opt_out: bool,
    /// Which requests are approved without the operator.
    pub approval: ApprovalPolicy,
}

impl Default for SignerPolicy {
    /// Every zone and type, the default bounds, RFC 9276 NSEC3 parameters,
    /// no rate limit.
    fn default() -> Self {
        SignerPolicy {
            zones: None,
            rr_types: None,
            max_signatures_per_hour: 0,
            validity: ValidityBounds::default(),
            max_nsec3_iterations: DEFAULT_MAX_NSEC3_ITERATIONS,
            nsec3_salts: BTreeSet::new(),
            nsec3_opt_out: false,
            approval: ApprovalPolicy::default(),
        }
    }
}

impl SignerPolicy {
    /// Reads and checks a policy file.
    pub fn load(file: &Path) -> Result<SignerPolicy, PolicyError> {
        let text = read_text(file)?;
        SignerPolicy::parse(&text, file)
    }

    /// Checks policy text read from `file` (named in errors).
    pub fn parse(text: &str, file: &Path) -> Result<SignerPolicy, PolicyError> {
        let raw: RawPolicy = parse_toml(file, text)?;
        let field = |field: &'static str, reason: String| PolicyError::from(ConfigFileError::field(file, field, reason));
        if raw.version != POLICY_VERSION {
            return Err(field(
                "version",
                format!("{} is not supported; this build reads version {POLICY_VERSION}", raw.version),
            ));
        }
        let zones = match raw.zones {
            None => None,
            Some(list) if list.iter().any(|z| z == "*") => {
                if list.len() > 1 {
                    return Err(field("zones", "\"*\" serves every zone: list nothing beside it".into()));
                }
                None
            }
            Some(list) if list.is_empty() => return Err(field("zones", "empty: list zones, or \"*\" for all".into())),
            Some(list) => Some(
                list.iter()
                    .map(|z| ZoneName::parse(z).map(ZoneName::into_text).map_err(|e| field("zones", e.into())))
                    .collect::<Result<BTreeSet<_>, _>>()?,
            ),
        };
        let rr_types = match raw.rr_types {
            None => None,
            Some(list) if list.iter().any(|t| t == "*") => {
                if list.len() > 1 {
                    return Err(field("rr_types", "\"*\" allows every type: list nothing beside it".into()));
                }
                None
            }
            Some(list) if list.is_empty() => return Err(field("rr_types", "empty: list types, or \"*\" for all".into())),
            Some(list) => Some(
                list.iter()
                    .map(|t| {
                        Rtype::from_str(t.trim())
                            .map(|r| r.to_int())
                            .map_err(|_| field("rr_types", format!("{t:?} is not an RR type")))
                    })
                    .collect::<Result<BTreeSet<_>, _>>()?,
            ),
        };
        let v = raw.validity.unwrap_or_default();
        let defaults = ValidityBounds::default();
        let validity = ValidityBounds {
            max_inception_backdate_secs: v.max_inception_backdate_secs.unwrap_or(defaults.max_inception_backdate_secs),
            max_inception_skew_secs: v.max_inception_skew_secs.unwrap_or(defaults.max_inception_skew_secs),
            min_lifetime_secs: v.min_lifetime_secs.unwrap_or(defaults.min_lifetime_secs),
            max_lifetime_secs: v.max_lifetime_secs.unwrap_or(defaults.max_lifetime_secs),
        };
        // RFC 4034 §3.1.5 serial arithmetic: windows stay below 2^31 − 1.
        let half = i32::MAX as u64;
        if validity.max_lifetime_secs == 0
            || u64::from(validity.max_lifetime_secs) + u64::from(validity.max_inception_backdate_secs) > half
        {
            return Err(field(
                "validity.max_lifetime_secs",
                format!("{} must be positive and, with the backdate, below 2^31 s", validity.max_lifetime_secs),
            ));
        }
        if validity.max_inception_skew_secs > DEFAULT_MAX_INCEPTION_BACKDATE_SECS {
            return Err(field(
                "validity.max_inception_skew_secs",
                format!("{} is more than a day: clock skew, not signatures for later use", validity.max_inception_skew_secs),
            ));
        }
        if validity.min_lifetime_secs > validity.max_lifetime_secs {
            return Err(field(
                "validity.min_lifetime_secs",
                format!("{} exceeds max_lifetime_secs {}", validity.min_lifetime_secs, validity.max_lifetime_secs),
            ));
        }
        let n = raw.nsec3.unwrap_or_default();
        let nsec3_salts = n
            .salts
            .unwrap_or_default()
            .iter()
            .map(|s| match hex::decode(s) {
                Ok(salt) if salt.len() <= 255 => Ok(salt),
                Ok(_) => Err(field("nsec3.salts", format!("{s:?} is longer than 255 octets"))),
                Err(e) => Err(field("nsec3.salts", format!("{s:?} is not hex: {e}"))),
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        let a = raw.approval.unwrap_or_default();
        let defaults = ApprovalPolicy::default();
        let decider = |value: Option<&str>, default: KeyChanges, name: &'static str| match value {
            None => Ok(default),
            Some("operator") => Ok(KeyChanges::Operator),
            Some("auto") => Ok(KeyChanges::Auto),
            Some(other) => Err(field(name, format!("{other:?} is neither \"operator\" nor \"auto\""))),
        };
        let key_changes = match a.key_changes.as_deref() {
            Some("rollover") => KeyChanges::Rollover,
            Some(other) if !["operator", "auto"].contains(&other) => {
                return Err(field("approval.key_changes", format!("{other:?} is not \"operator\", \"rollover\" or \"auto\"")))
            }
            value => decider(value, defaults.key_changes, "approval.key_changes")?,
        };
        let key_ceremonies = decider(a.key_ceremonies.as_deref(), defaults.key_ceremonies, "approval.key_ceremonies")?;
        let share_refresh = decider(a.share_refresh.as_deref(), defaults.share_refresh, "approval.share_refresh")?;
        let pending_expiry_secs = a.pending_expiry_secs.unwrap_or(defaults.pending_expiry_secs);
        if pending_expiry_secs == 0 || pending_expiry_secs > MAX_PENDING_EXPIRY_SECS {
            return Err(field(
                "approval.pending_expiry_secs",
                format!("{pending_expiry_secs} is outside 1..={MAX_PENDING_EXPIRY_SECS}"),
            ));
        }
        let approval = ApprovalPolicy {
            max_rrsets_changed: a.max_rrsets_changed.unwrap_or(defaults.max_rrsets_changed),
            max_names_added: a.max_names_added.unwrap_or(defaults.max_names_added),
            max_names_removed: a.max_names_removed.unwrap_or(defaults.max_names_removed),
            max_ds_changed: a.max_ds_changed.unwrap_or(defaults.max_ds_changed),
            key_changes,
            key_ceremonies,
            share_refresh,
            pending_expiry_secs,
            min_key_publish_secs: a.min_key_publish_secs.unwrap_or(defaults.min_key_publish_secs),
        };
        Ok(SignerPolicy {
            approval,
            zones,
            rr_types,
            max_signatures_per_hour: raw.max_signatures_per_hour.unwrap_or(0),
            validity,
            max_nsec3_iterations: n.max_iterations.unwrap_or(DEFAULT_MAX_NSEC3_ITERATIONS),
            nsec3_salts,
            nsec3_opt_out: n.opt_out.unwrap_or(false),
        })
    }

    /// Whether `zone` (normalized) is served.
    pub fn serves(&self, zone: &str) -> bool {
        self.zones.as_ref().is_none_or(|z| z.contains(zone))
    }

    /// Whether RRsets of type `rtype` are signed.
    pub fn allows_type(&self, rtype: u16) -> bool {
        self.rr_types.as_ref().is_none_or(|t| t.contains(&rtype))
    }

    /// Checks the parameters at the start of NSEC3 or NSEC3PARAM RDATA
    /// (RFC 5155 §3.2, §4.2: algorithm, flags, iterations, salt length,
    /// salt).
    pub fn check_nsec3_rdata(&self, rdata: &[u8]) -> Result<(), String> {
        let (Some(hi), Some(lo), Some(&len)) = (rdata.get(2), rdata.get(3), rdata.get(4)) else {
            return Err("NSEC3 RDATA too short".into());
        };
        let iterations = u16::from_be_bytes([*hi, *lo]);
        if iterations > self.max_nsec3_iterations {
            return Err(format!(
                "NSEC3 iterations {iterations} exceed this signer's policy maximum {}",
                self.max_nsec3_iterations
            ));
        }
        let salt = rdata.get(5..5 + usize::from(len)).ok_or("NSEC3 salt runs past the RDATA")?;
        if !salt.is_empty() && !self.nsec3_salts.contains(salt) {
            return Err(format!("NSEC3 salt {} is not accepted by this signer's policy", hex::encode(salt)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
version = 1
zones = ["Example.COM", "example.org."]
rr_types = ["A", "AAAA", "SOA", "NS", "DNSKEY", "NSEC3", "NSEC3PARAM"]
max_signatures_per_hour = 100000
[validity]
max_inception_backdate_secs = 7200
max_inception_skew_secs = 60
min_lifetime_secs = 86400
max_lifetime_secs = 2592000
[nsec3]
max_iterations = 0
salts = ["aabbcc"]
opt_out = true
[approval]
max_rrsets_changed = 0
max_names_added = 10
max_names_removed = 5
max_ds_changed = 0
key_changes = "auto"
key_ceremonies = "auto"
pending_expiry_secs = 3600
"#;

    fn parse(text: &str) -> Result<SignerPolicy, PolicyError> {
        SignerPolicy::parse(text, Path::new("/srv/fz/signer-1/policy.toml"))
    }

    #[test]
    fn full_file_and_defaults() {
        let p = parse(FULL).unwrap();
        assert!(p.serves("example.com.") && p.serves("example.org.") && !p.serves("example.net."));
        assert!(p.allows_type(1) && p.allows_type(48) && !p.allows_type(16));
        assert_eq!(p.max_signatures_per_hour, 100_000);
        assert_eq!(p.validity.max_lifetime_secs, 30 * 86400);
        assert!(p.nsec3_salts.contains(&vec![0xaa, 0xbb, 0xcc]));
        assert!(p.nsec3_opt_out);
        assert_eq!(p.validity.max_inception_skew_secs, 60);
        assert_eq!(
            p.approval,
            ApprovalPolicy {
                max_rrsets_changed: 0,
                max_names_added: 10,
                max_names_removed: 5,
                max_ds_changed: 0,
                key_changes: KeyChanges::Auto,
                key_ceremonies: KeyChanges::Auto,
                share_refresh: KeyChanges::Auto,
                pending_expiry_secs: 3600,
                min_key_publish_secs: crate::approval::DEFAULT_MIN_KEY_PUBLISH_SECS,
            }
        );
        let d = parse("version = 1\n").unwrap();
        assert_eq!(d, SignerPolicy::default());
        assert!(d.serves("anything.") && d.allows_type(16));
        assert_eq!(parse("version = 1\nzones = [\"*\"]\n").unwrap().zones, None);
    }

    /// Every bad file fails naming the file and the field.
    #[test]
    fn errors_name_file_and_field() {
        let cases: &[(&str, &str)] = &[
            ("version = 2", "version"),
            ("zones = []", "zones"),
            ("zones = [\"a..b\"]", "zones"),
            ("zones = [\"*\", \"example.\"]", "zones"),
            ("rr_types = [\"BOGUS\"]", "rr_types"),
            ("max_signatures_per_hour = -1", "max_signatures_per_hour"),
            ("[validity]\nmax_lifetime_secs = 0", "validity.max_lifetime_secs"),
            ("[validity]\nmin_lifetime_secs = 99\nmax_lifetime_secs = 98", "validity.min_lifetime_secs"),
            ("[validity]\nmax_lifetme_secs = 5", "max_lifetme_secs"),
            ("[nsec3]\nsalts = [\"zz\"]", "nsec3.salts"),
            ("approve = true", "approve"),
            ("[approval]\nkey_changes = \"never\"", "approval.key_changes"),
            ("[approval]\nkey_ceremonies = \"always\"", "approval.key_ceremonies"),
            ("[approval]\nshare_refresh = \"rollover\"", "approval.share_refresh"),
            ("[nsec3]\nopt_out = \"yes\"", "opt_out"),
            ("[approval]\npending_expiry_secs = 0", "approval.pending_expiry_secs"),
            ("[approval]\nmax_rrsets = 5", "max_rrsets"),
            ("[approval]\nmax_names_added = -1", "max_names_added"),
        ];
        for (body, field) in cases {
            let text = if body.starts_with("version") { body.to_string() } else { format!("version = 1\n{body}\n") };
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains("/srv/fz/signer-1/policy.toml"), "{err}");
            assert!(err.contains(field), "expected {field} in: {err}");
        }
    }

    #[test]
    fn nsec3_parameters() {
        let p = parse(FULL).unwrap();
        // SHA-1, no flags, 0 iterations, empty salt.
        assert!(p.check_nsec3_rdata(&[1, 0, 0, 0, 0]).is_ok());
        assert!(p.check_nsec3_rdata(&[1, 0, 0, 0, 3, 0xaa, 0xbb, 0xcc, 20]).is_ok());
        assert!(p.check_nsec3_rdata(&[1, 0, 0, 10, 0]).unwrap_err().contains("iterations 10"));
        assert!(p.check_nsec3_rdata(&[1, 0, 0, 0, 1, 0x01]).unwrap_err().contains("salt 01"));
        assert!(p.check_nsec3_rdata(&[1, 0, 0]).is_err());
        assert!(p.check_nsec3_rdata(&[1, 0, 0, 0, 4, 0xaa]).is_err());
    }
}
