//! The words of the request life cycle, shared by the commands that talk
//! to a signer's admin socket (`pending`, `show`, `approve`, `reject`) and
//! those that ask the coordinator (`requests`, `request`): state names,
//! change summaries, request ids and times, as text and as JSON.
//!
//! ```text
//! submitted ─▶ proposed ─▶ pending (its operator decides) ─┬─▶ approved ─▶ signed ─▶ published
//!                        └▶ approved (by policy)           └─▶ rejected / expired
//! any state before published ─▶ failed (the coordinator gave up)
//! ```

use anyhow::bail;
use frostzone_proto::v1::{ChangeSummary, Decision, RequestState};
use serde_json::{json, Value};

/// Hex digits in a full request id (the coordinator's 16-byte session id).
pub const REQUEST_ID_HEX: usize = 32;

/// Fewest hex digits that name a request: a prefix this long is unique
/// among any realistic number of kept requests, and the daemons refuse
/// shorter ones.
pub const MIN_PREFIX_HEX: usize = 8;

/// Digits of a request id shown in tables: enough to paste into
/// `approve`, short enough for a terminal row.
pub const SHORT_ID_HEX: usize = 12;

/// A request id or unique prefix as given on the command line, checked and
/// lowercased.
pub fn parse_request_id(text: &str) -> anyhow::Result<String> {
    let id = text.trim().to_ascii_lowercase();
    if id.len() < MIN_PREFIX_HEX || id.len() > REQUEST_ID_HEX || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "{text:?} is not a request id: give its {REQUEST_ID_HEX} hex digits or a unique prefix of at \
             least {MIN_PREFIX_HEX} (`frostzone pending` or `frostzone requests` lists them)"
        );
    }
    Ok(id)
}

/// The first [`SHORT_ID_HEX`] digits of a request id.
pub fn short_id(id: &str) -> &str {
    id.get(..SHORT_ID_HEX).unwrap_or(id)
}

/// A state as one lowercase word; `unspecified` in a signer's decision
/// means it has not answered (yet).
pub fn state_name(state: RequestState) -> &'static str {
    frostzone_proto::request_state_word(state).unwrap_or("not answered")
}

/// Whether a signer in this state has approved the request (signing and
/// publishing come only after an approval).
pub fn is_approval(state: RequestState) -> bool {
    matches!(state, RequestState::Approved | RequestState::Signed | RequestState::Published)
}

/// A decision's state with its reason and who decided, for one line:
/// `pending (key RRsets changed)`, `approved by alice`.
pub fn describe_decision(state: RequestState, reason: &str, decided_by: &str) -> String {
    let mut text = state_name(state).to_string();
    if !decided_by.is_empty() && state != RequestState::Pending {
        text.push_str(&format!(" by {decided_by}"));
    }
    if !reason.is_empty() {
        text.push_str(&format!(" ({reason})"));
    }
    text
}

/// What a request changes, as one line for an operator.
pub fn describe_changes(c: &ChangeSummary) -> String {
    let mut parts = Vec::new();
    if c.first_publication {
        parts.push("first publication of the zone".to_string());
    }
    if c.key_rrsets_changed {
        parts.push("DNSKEY/CDS/CDNSKEY changed".to_string());
    }
    parts.push(format!(
        "RRsets {} added, {} removed, {} changed",
        c.rrsets_added, c.rrsets_removed, c.rrsets_changed
    ));
    parts.push(format!("names {} added, {} removed", c.names_added, c.names_removed));
    if c.delegations_added + c.delegations_removed > 0 {
        parts.push(format!("delegations {} added, {} removed", c.delegations_added, c.delegations_removed));
    }
    if c.ds_rrsets_changed > 0 {
        parts.push(format!("{} DS RRsets changed", c.ds_rrsets_changed));
    }
    parts.push(format!("{} NSEC/NSEC3 RRsets changed", c.denial_rrsets_changed));
    parts.push(format!("{} signatures", c.signatures));
    parts.join("; ")
}

/// Signatures below which a request is not called a whole-zone signing.
pub const WHOLE_ZONE_MIN_SIGNATURES: u64 = 1_000;

/// A warning for a request that signs far more than its content changes
/// (the signer's own counts): an operator approving a one-line change
/// should know it signs thousands of RRsets again, and why that can be.
/// `None` for a first publication and for a pure signature refresh, which
/// `show` calls a refresh already. The counts do not hold the zone's size,
/// so the warning says how many, not "the whole zone".
pub fn whole_zone_warning(c: &ChangeSummary) -> Option<String> {
    let content = c.rrsets_added + c.rrsets_removed + c.rrsets_changed;
    let changed = content + c.denial_rrsets_changed + u64::from(c.key_rrsets_changed);
    if c.first_publication || changed == 0 || c.signatures < WHOLE_ZONE_MIN_SIGNATURES || c.signatures <= 10 * (content + 1) {
        return None;
    }
    let why = if c.denial_rrsets_changed > 10 * (content + 1) {
        format!(
            "{} NSEC/NSEC3 RRsets change: every denial record changes when the SOA MINIMUM or SOA TTL \
             does (their TTL, RFC 9077 §3.2) or the NSEC3 parameters do",
            c.denial_rrsets_changed
        )
    } else if c.key_rrsets_changed {
        "the key RRsets change: a new key signs the zone".to_string()
    } else {
        "the rest are signatures refreshed with the change".to_string()
    };
    Some(format!("WARNING: {} signatures for {content} changed RRsets: {why}", c.signatures))
}

/// What a request changes, in a few characters for a table cell:
/// `+12 -0 ~1 keys`.
pub fn short_changes(c: &ChangeSummary) -> String {
    let mut text = format!("+{} -{} ~{}", c.rrsets_added, c.rrsets_removed, c.rrsets_changed);
    if c.key_rrsets_changed {
        text.push_str(" keys");
    }
    if c.first_publication {
        text.push_str(" first");
    }
    text
}

/// A change summary as JSON (the proto's field names).
pub fn changes_json(c: &ChangeSummary) -> Value {
    json!({
        "rrsets_added": c.rrsets_added,
        "rrsets_removed": c.rrsets_removed,
        "rrsets_changed": c.rrsets_changed,
        "names_added": c.names_added,
        "names_removed": c.names_removed,
        "denial_rrsets_changed": c.denial_rrsets_changed,
        "key_rrsets_changed": c.key_rrsets_changed,
        "first_publication": c.first_publication,
        "signatures": c.signatures,
        "ds_rrsets_changed": c.ds_rrsets_changed,
        "delegations_added": c.delegations_added,
        "delegations_removed": c.delegations_removed,
    })
}

/// A signer's decision as JSON; the content hash in lowercase hex.
pub fn decision_json(d: &Decision) -> Value {
    json!({
        "request_id": d.request_id,
        "state": state_name(d.state()),
        "reason": d.reason,
        "decided_by": d.decided_by,
        "changes": d.changes.as_ref().map(changes_json),
        "content_hash": hex::encode(&d.content_hash),
    })
}

/// Seconds since the epoch now (0 if the clock is before 1970, which only
/// makes ages look large).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A duration in the largest two units: `42s`, `5m 3s`, `2h 10m`, `3d 4h`.
pub fn format_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, (secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// How long ago `unix` was, for table cells; `-` when unknown.
pub fn age(unix: u64, now: u64) -> String {
    if unix == 0 {
        "-".to_string()
    } else {
        format!("{} ago", format_duration(now.saturating_sub(unix)))
    }
}

/// A Unix time as `2025-01-31 12:00:00 UTC`; `-` when unknown.
pub fn format_time(unix: u64) -> String {
    if unix == 0 {
        return "-".to_string();
    }
    // DNSSEC's YYYYMMDDHHmmSS, re-punctuated; times here are recent, well
    // inside the 32-bit serial range.
    let t = frostzone_dnssec::time::format_timestamp(unix as u32);
    match (t.get(0..4), t.get(4..6), t.get(6..8), t.get(8..10), t.get(10..12), t.get(12..14)) {
        (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) => format!("{y}-{mo}-{d} {h}:{mi}:{s} UTC"),
        _ => t,
    }
}

/// When something expires, relative to now: `in 23h 59m` or `2m 3s ago`.
pub fn format_expiry(unix: u64, now: u64) -> String {
    if unix == 0 {
        "-".to_string()
    } else if unix >= now {
        format!("{} (in {})", format_time(unix), format_duration(unix - now))
    } else {
        format!("{} ({} ago)", format_time(unix), format_duration(now - unix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_change_that_signs_the_whole_zone_is_called_out() {
        let one_line = ChangeSummary { rrsets_changed: 1, denial_rrsets_changed: 100_000, signatures: 100_007, ..Default::default() };
        let w = whole_zone_warning(&one_line).unwrap();
        assert!(w.starts_with("WARNING: 100007 signatures for 1 changed RRsets") && w.contains("100000 NSEC/NSEC3 RRsets change") && w.contains("RFC 9077"), "{w}");
        let diff = ChangeSummary { rrsets_changed: 1, denial_rrsets_changed: 2, signatures: 4, ..Default::default() };
        assert_eq!(whole_zone_warning(&diff), None);
        let first = ChangeSummary { first_publication: true, ..one_line };
        assert_eq!(whole_zone_warning(&first), None);
        let big_diff = ChangeSummary { rrsets_added: 5_000, denial_rrsets_changed: 5_001, signatures: 10_003, ..Default::default() };
        assert_eq!(whole_zone_warning(&big_diff), None, "a large change, signed as large");
        let refresh = ChangeSummary { signatures: 60_000, ..Default::default() };
        assert_eq!(whole_zone_warning(&refresh), None, "a refresh is shown as one already");
        let with_refresh = ChangeSummary { rrsets_added: 1, denial_rrsets_changed: 2, signatures: 3_000, ..Default::default() };
        assert!(whole_zone_warning(&with_refresh).unwrap().contains("refreshed with the change"));
    }

    #[test]
    fn request_ids_are_hex_of_8_to_32_digits() {
        assert_eq!(parse_request_id(" 3F2A0011 ").unwrap(), "3f2a0011");
        assert_eq!(parse_request_id(&"a".repeat(32)).unwrap(), "a".repeat(32));
        for bad in ["3f2a001", "", "3f2a001g", &"a".repeat(33)] {
            let e = parse_request_id(bad).unwrap_err().to_string();
            assert!(e.contains("not a request id"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn durations_and_times_read_naturally() {
        assert_eq!(format_duration(42), "42s");
        assert_eq!(format_duration(303), "5m 3s");
        assert_eq!(format_duration(2 * 3600 + 600), "2h 10m");
        assert_eq!(format_duration(3 * 86_400 + 4 * 3600), "3d 4h");
        assert_eq!(format_time(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(format_expiry(1_700_000_060, 1_700_000_000), "2023-11-14 22:14:20 UTC (in 1m 0s)");
        assert_eq!(age(0, 5), "-");
    }

    #[test]
    fn decisions_read_as_one_line() {
        assert_eq!(describe_decision(RequestState::Pending, "key RRsets changed", "policy"), "pending (key RRsets changed)");
        assert_eq!(describe_decision(RequestState::Approved, "", "alice"), "approved by alice");
        assert_eq!(describe_decision(RequestState::Rejected, "not ours", "bob"), "rejected by bob (not ours)");
        assert!(is_approval(RequestState::Published) && !is_approval(RequestState::Pending));
        let c = ChangeSummary { rrsets_added: 3, key_rrsets_changed: true, ..Default::default() };
        assert_eq!(short_changes(&c), "+3 -0 ~0 keys");
        assert!(describe_changes(&c).starts_with("DNSKEY/CDS/CDNSKEY changed; RRsets 3 added"));
    }
}
