//! A zone's `[zones.rollover]` section: the key rollover policy (RFC 7583
//! §3 timings the zone's TTLs do not give, the parent's name servers, and
//! the key lifetimes after which rollovers start by themselves).
//!
//! ```toml
//! [[zones]]
//! name = "example.com."
//! [zones.rollover]
//! dnskey_ttl = 3600              # TTL of DNSKEY, CDS and CDNSKEY (TTLkey)
//! propagation_delay = 300        # Dprp: a version reaching every secondary
//! parent_delay = 3600            # DprpP: a DS change reaching every parent server
//! ds_ttl = 86400                 # TTLds, when the parent's answer does not say
//! parent_servers = ["192.0.2.53:53"]   # asked for the zone's DS; all must agree
//! ds_check_interval = 3600       # how often the parent is asked again
//! zsk_lifetime = 7776000         # a ZSK active this long is rolled (0: by hand)
//! ksk_lifetime = 0               # likewise KSKs and CSKs
//! ```
//!
//! With a lifetime, the coordinator also makes each role's next key ahead
//! of need (a standby, by a DKG the signers approve).
//!
//! Times are seconds. Every field is optional (the defaults below).

use std::net::SocketAddr;

use serde::Deserialize;

use frostzone_dnssec::signing::DEFAULT_DNSKEY_TTL_SECS;

/// Default Dprp: five minutes for NOTIFY, transfer and a retry.
pub const DEFAULT_PROPAGATION_DELAY: u64 = 300;
/// Default DprpP: an hour, as Knot's `parent-delay` advice for TLDs.
pub const DEFAULT_PARENT_DELAY: u64 = 3600;
/// Default TTLds: a day, what most TLDs publish DS records with.
pub const DEFAULT_DS_TTL: u64 = 86_400;
/// Default interval between questions to the parent: an hour.
pub const DEFAULT_DS_CHECK_INTERVAL: u64 = 3600;

/// `[zones.rollover]` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollover {
    dnskey_ttl: Option<u32>,
    propagation_delay: Option<u64>,
    parent_delay: Option<u64>,
    ds_ttl: Option<u64>,
    #[serde(default)]
    parent_servers: Vec<String>,
    ds_check_interval: Option<u64>,
    zsk_lifetime: Option<u64>,
    ksk_lifetime: Option<u64>,
    share_refresh_interval: Option<u64>,
}

/// A zone's rollover policy, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloverPolicy {
    /// TTL of the DNSKEY, CDS and CDNSKEY RRsets.
    pub dnskey_ttl: u32,
    /// Dprp.
    pub propagation_delay: u64,
    /// DprpP.
    pub parent_delay: u64,
    /// TTLds when the parent's answers do not give it.
    pub ds_ttl: u64,
    /// The parent's name servers, asked for the zone's DS RRset.
    pub parent_servers: Vec<SocketAddr>,
    /// Seconds between questions to the parent.
    pub ds_check_interval: u64,
    /// Seconds a ZSK is active before it is rolled; 0: by hand only.
    pub zsk_lifetime: u64,
    /// Likewise for KSKs and CSKs.
    pub ksk_lifetime: u64,
    /// Seconds between share refreshes of each key of the zone (every
    /// signer's share changes, the key stays); 0: by hand only.
    pub share_refresh_interval: u64,
}

impl Default for RolloverPolicy {
    fn default() -> Self {
        RolloverPolicy {
            dnskey_ttl: DEFAULT_DNSKEY_TTL_SECS,
            propagation_delay: DEFAULT_PROPAGATION_DELAY,
            parent_delay: DEFAULT_PARENT_DELAY,
            ds_ttl: DEFAULT_DS_TTL,
            parent_servers: Vec::new(),
            ds_check_interval: DEFAULT_DS_CHECK_INTERVAL,
            zsk_lifetime: 0,
            ksk_lifetime: 0,
            share_refresh_interval: 0,
        }
    }
}

impl RawRollover {
    /// Checks the section; an error names the field (relative to the
    /// section, `parent_servers[1]`) and says what is wrong.
    pub fn check(self) -> Result<RolloverPolicy, (String, String)> {
        let d = RolloverPolicy::default();
        let parent_servers = self
            .parent_servers
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.parse::<SocketAddr>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(|ip| SocketAddr::new(ip, crate::config::transfer::DNS_PORT)))
                    .map_err(|_| (format!("parent_servers[{i}]"), format!("{s:?} is not an address (192.0.2.53 or 192.0.2.53:53)")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ds_check_interval = self.ds_check_interval.unwrap_or(d.ds_check_interval);
        if ds_check_interval == 0 {
            return Err(("ds_check_interval".into(), "must be at least 1 second".into()));
        }
        let dnskey_ttl = self.dnskey_ttl.unwrap_or(d.dnskey_ttl);
        if dnskey_ttl == 0 {
            return Err(("dnskey_ttl".into(), "must be at least 1 second: resolvers would fetch the keys for every answer".into()));
        }
        Ok(RolloverPolicy {
            dnskey_ttl,
            propagation_delay: self.propagation_delay.unwrap_or(d.propagation_delay),
            parent_delay: self.parent_delay.unwrap_or(d.parent_delay),
            ds_ttl: self.ds_ttl.unwrap_or(d.ds_ttl),
            parent_servers,
            ds_check_interval,
            zsk_lifetime: self.zsk_lifetime.unwrap_or(0),
            ksk_lifetime: self.ksk_lifetime.unwrap_or(0),
            share_refresh_interval: self.share_refresh_interval.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors_name_the_field() {
        let raw: RawRollover = toml::from_str("").unwrap();
        assert_eq!(raw.check().unwrap(), RolloverPolicy::default());
        let raw: RawRollover = toml::from_str("parent_servers = [\"192.0.2.1\", \"[2001:db8::1]:5353\"]").unwrap();
        let p = raw.check().unwrap();
        assert_eq!(p.parent_servers[0], "192.0.2.1:53".parse().unwrap());
        assert_eq!(p.parent_servers[1].port(), 5353);
        let raw: RawRollover = toml::from_str("parent_servers = [\"192.0.2.1\", \"ns.example.\"]").unwrap();
        let (field, message) = raw.check().unwrap_err();
        assert_eq!(field, "parent_servers[1]");
        assert!(message.contains("ns.example."), "{message}");
        assert!(toml::from_str::<RawRollover>("parent_delays = 1").is_err());
    }
}
