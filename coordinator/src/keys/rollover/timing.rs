//! The intervals a rollover waits (RFC 7583 §3), from the zone's TTLs and
//! the operator's policy. Times are seconds.

/// What the intervals are made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RolloverTimings {
    /// TTLkey: the TTL of the zone's DNSKEY RRset.
    pub dnskey_ttl: u64,
    /// TTLsig: the longest TTL of any signed RRset in the zone (an RRSIG
    /// has the TTL of the RRset it covers, RFC 4034 §3).
    pub max_zone_ttl: u64,
    /// TTLds: the TTL of the zone's DS RRset at the parent.
    pub ds_ttl: u64,
    /// Dprp: how long a new version takes to reach every secondary
    /// (policy; transfers, NOTIFY retries, a secondary's refresh).
    pub propagation_delay: u64,
    /// DprpP: how long after a DS change is seen on every parent server
    /// it may still be served by one (policy, Knot's `parent-delay`).
    pub parent_delay: u64,
    /// Dsgn: from a zone signing key's retirement until no published
    /// signature is by it. frostzone re-signs every RRset when the signing
    /// keys change, so 0 unless the policy adds a margin.
    pub resign_delay: u64,
}

impl RolloverTimings {
    /// Ipub (RFC 7583 §3.2.1): from a DNSKEY's publication until every
    /// cached DNSKEY RRset holds it.
    pub fn publish_interval(&self) -> u64 {
        self.propagation_delay + self.dnskey_ttl
    }

    /// Iret (RFC 7583 §3.2.1): from a zone signing key's retirement until
    /// no cached signature is by it, so its DNSKEY can go.
    pub fn retire_interval(&self) -> u64 {
        self.resign_delay + self.propagation_delay + self.max_zone_ttl
    }

    /// IpubP / IretP (RFC 7583 §3.3.1): from a DS change seen on every
    /// parent server until no resolver holds the DS set before it.
    pub fn parent_interval(&self) -> u64 {
        self.parent_delay + self.ds_ttl
    }
}

/// The timings the rollover tests share: an hour's DNSKEY TTL, a day's
/// longest TTL, two hours' DS TTL, five minutes to the secondaries, an
/// hour's parent delay.
#[cfg(test)]
pub(crate) const TEST_TIMINGS: RolloverTimings = RolloverTimings {
    dnskey_ttl: 3600,
    max_zone_ttl: 86_400,
    ds_ttl: 7200,
    propagation_delay: 300,
    parent_delay: 3600,
    resign_delay: 0,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_add_up_as_rfc_7583_says() {
        let t = TEST_TIMINGS;
        assert_eq!(t.publish_interval(), 3900);
        assert_eq!(t.retire_interval(), 86_700);
        assert_eq!(t.parent_interval(), 10_800);
    }
}
