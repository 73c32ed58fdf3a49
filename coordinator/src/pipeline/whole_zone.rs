//! A request meant as a small change that signs (nearly) the whole zone
//! again, said before anything is proposed, with the reason where it is
//! known: an operator who sends a one-line change file should not find out
//! from a two-minute wait (no I/O).

use frostzone_dnssec::change_set::ZoneContent;

/// Signatures below which a large share of the zone is not worth a word:
/// small zones are signed whole in moments.
pub const NOTICE_MIN_SIGNATURES: u64 = 1_000;

/// What made a request sign the zone whole, as far as the plan tells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WholeZoneCauses {
    /// A full signing was asked for (`--full`).
    pub asked: bool,
    /// The published key set changes (a new key, a rollover step).
    pub keys: bool,
    /// The denial changes: (from, to).
    pub denial: Option<(String, String)>,
    /// The denial TTL changes: (from, to) in seconds.
    pub denial_ttl: Option<(u32, u32)>,
}

impl WholeZoneCauses {
    /// The denial-TTL cause between two versions' contents (RFC 9077 §3.2).
    pub fn denial_ttl_between(published: &ZoneContent, next: &ZoneContent) -> Option<(u32, u32)> {
        match (published.denial_ttl(), next.denial_ttl()) {
            (Some(a), Some(b)) if a != b => Some((a.as_secs(), b.as_secs())),
            _ => None,
        }
    }

    fn reasons(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.asked {
            out.push("a full signing was asked for".to_string());
        }
        if self.keys {
            out.push("the published key set changes".to_string());
        }
        if let Some((from, to)) = &self.denial {
            out.push(format!("the denial changes from {from} to {to}"));
        }
        if let Some((from, to)) = self.denial_ttl {
            out.push(format!(
                "the SOA MINIMUM or SOA TTL changes the denial TTL from {from} s to {to} s, so every NSEC/NSEC3 record changes (RFC 9077 §3.2)"
            ));
        }
        out
    }
}

/// The warning for a request that makes `made` signatures where the
/// published version holds `published`: said when it makes at least
/// [`NOTICE_MIN_SIGNATURES`] and either a cause that touches every RRset of
/// a kind is known or it re-signs half the zone or more. `None` for the
/// first version, which is signed whole by nature.
pub fn notice(made: u64, published: Option<u64>, causes: &WholeZoneCauses) -> Option<String> {
    let published = published?;
    let reasons = causes.reasons();
    if made < NOTICE_MIN_SIGNATURES || (reasons.is_empty() && made.saturating_mul(2) < published) {
        return None;
    }
    let why = if reasons.is_empty() {
        "most of its signatures are due for refresh, or the change touches most of the zone".to_string()
    } else {
        reasons.join("; ")
    };
    Some(format!("WARNING: this request signs {made} RRsets again ({published} signatures are published): {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_large_share_of_a_large_zone_is_announced_with_its_causes() {
        let none = WholeZoneCauses::default();
        assert_eq!(notice(100_007, None, &none), None, "a first version is signed whole by nature");
        assert_eq!(notice(999, Some(1_000), &none), None, "a small zone");
        assert_eq!(notice(40_000, Some(100_000), &none), None, "less than half, no cause known");
        let ttl = WholeZoneCauses { denial_ttl: Some((3600, 300)), ..Default::default() };
        assert_eq!(notice(999, Some(2_000), &ttl), None, "a small zone, whatever the cause");
        assert!(notice(40_000, Some(100_000), &ttl).is_some(), "every denial record, though not half the zone");
        let n = notice(100_007, Some(133_343), &ttl).unwrap();
        assert!(n.starts_with("WARNING: this request signs 100007 RRsets again"), "{n}");
        assert!(n.contains("from 3600 s to 300 s") && n.contains("RFC 9077"), "{n}");
        let n = notice(60_000, Some(100_000), &none).unwrap();
        assert!(n.contains("due for refresh"), "{n}");
        let both = WholeZoneCauses { asked: true, denial: Some(("nsec3".into(), "nsec".into())), ..Default::default() };
        let n = notice(100_000, Some(100_000), &both).unwrap();
        assert!(n.contains("full signing was asked for; the denial changes from nsec3 to nsec"), "{n}");
    }
}
