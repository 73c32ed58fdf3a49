//! SOA serial numbers of successive zone versions.
//!
//! Secondaries fetch a zone only when its SOA serial grows in serial number
//! arithmetic (RFC 1982 §3; RFC 1035 §3.3.13, RFC 1996 §2.2), so every
//! published version must carry a serial *newer* than the one before it.
//! [`SerialPolicy`] decides the serial of the next version as Knot DNS's
//! `serial-policy` and BIND's `serial-update-method` do.

use std::fmt;
use std::str::FromStr;

use crate::time::civil_from_days;

/// How the serial of the next published version is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SerialPolicy {
    /// The input's serial, as the zone's author set it. It must be newer
    /// than the published one.
    Keep,
    /// The published serial plus one, or the input's when that is newer
    /// still (an author who bumps the serial by hand is not overridden).
    #[default]
    Increment,
    /// Seconds since the epoch, or the published serial plus one when that
    /// is not newer (several versions in one second).
    UnixTime,
    /// `YYYYMMDDnn` in UTC, or the published serial plus one when that is
    /// not newer (more than 100 versions in a day run into the next
    /// day's numbers, as in BIND).
    DateCounter,
}

impl SerialPolicy {
    /// The names accepted by [`FromStr`], for messages.
    pub const NAMES: &'static str = "keep, increment, unixtime, date-counter";
}

impl fmt::Display for SerialPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SerialPolicy::Keep => "keep",
            SerialPolicy::Increment => "increment",
            SerialPolicy::UnixTime => "unixtime",
            SerialPolicy::DateCounter => "date-counter",
        })
    }
}

impl FromStr for SerialPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "keep" => Ok(SerialPolicy::Keep),
            "increment" => Ok(SerialPolicy::Increment),
            "unixtime" | "unix-time" => Ok(SerialPolicy::UnixTime),
            "date-counter" | "dateserial" | "date" => Ok(SerialPolicy::DateCounter),
            other => Err(format!("serial policy {other:?}: expected one of {}", SerialPolicy::NAMES)),
        }
    }
}

/// The next serial cannot be chosen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SerialError {
    /// Policy `keep` with an input serial that does not move forward.
    #[error(
        "the zone's SOA serial {input} is not newer than the published serial {published} \
         (serial policy keep): secondaries would not transfer it; raise the serial or use \
         serial policy increment"
    )]
    NotNewer {
        /// The input's serial.
        input: u32,
        /// The serial published last.
        published: u32,
    },
}

/// RFC 1982 §3.2: `a` is newer than `b`. Undefined pairs (exactly 2^31
/// apart) count as not newer.
pub fn is_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

/// The serial of the next version: `input` is the SOA serial of the new
/// content, `published` the serial of the version published last (none
/// for a first publication), `now` seconds since the epoch.
pub fn next_serial(
    policy: SerialPolicy,
    published: Option<u32>,
    input: u32,
    now: u64,
) -> Result<u32, SerialError> {
    let candidate = match policy {
        SerialPolicy::Keep => input,
        SerialPolicy::Increment => match published {
            Some(p) if !is_newer(input, p.wrapping_add(1)) => p.wrapping_add(1),
            _ => input,
        },
        // RFC 1982 arithmetic wraps, as the serial does: truncation is the intent.
        SerialPolicy::UnixTime => now as u32,
        SerialPolicy::DateCounter => date_serial(now),
    };
    match published {
        None => Ok(candidate),
        Some(p) if is_newer(candidate, p) => Ok(candidate),
        Some(p) if policy == SerialPolicy::Keep => Err(SerialError::NotNewer { input, published: p }),
        Some(p) => Ok(p.wrapping_add(1)),
    }
}

/// `YYYYMMDD00` for the UTC day of `now`.
fn date_serial(now: u64) -> u32 {
    let (y, m, d) = civil_from_days((now / 86_400) as i64);
    // Serials of this form fit in 32 bits until the year 4294.
    (y as u32)
        .saturating_mul(1_000_000)
        .saturating_add(m * 10_000)
        .saturating_add(d * 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-29T14:00:00Z
    const NOW: u64 = 1_795_960_800;

    #[test]
    fn serial_arithmetic() {
        assert!(is_newer(2, 1));
        assert!(!is_newer(1, 2));
        assert!(!is_newer(5, 5));
        // RFC 1982 §3.2: wrapping past 2^32.
        assert!(is_newer(3, u32::MAX - 3));
        assert!(!is_newer(u32::MAX - 3, 3));
        // Exactly 2^31 apart is undefined: never newer.
        assert!(!is_newer(1 << 31, 0));
        assert!(!is_newer(0, 1 << 31));
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(date_serial(NOW), 2026112900);
    }

    #[test]
    fn keep() {
        assert_eq!(next_serial(SerialPolicy::Keep, None, 7, NOW), Ok(7));
        assert_eq!(next_serial(SerialPolicy::Keep, Some(6), 7, NOW), Ok(7));
        assert_eq!(
            next_serial(SerialPolicy::Keep, Some(7), 7, NOW),
            Err(SerialError::NotNewer { input: 7, published: 7 })
        );
    }

    #[test]
    fn increment() {
        assert_eq!(next_serial(SerialPolicy::Increment, None, 7, NOW), Ok(7));
        assert_eq!(next_serial(SerialPolicy::Increment, Some(7), 7, NOW), Ok(8));
        assert_eq!(next_serial(SerialPolicy::Increment, Some(7), 3, NOW), Ok(8));
        // The author's own bump wins.
        assert_eq!(next_serial(SerialPolicy::Increment, Some(7), 100, NOW), Ok(100));
        assert_eq!(next_serial(SerialPolicy::Increment, Some(u32::MAX), u32::MAX, NOW), Ok(0));
    }

    #[test]
    fn unixtime_and_date() {
        assert_eq!(next_serial(SerialPolicy::UnixTime, Some(5), 1, NOW), Ok(NOW as u32));
        let later = NOW as u32 + 10;
        assert_eq!(next_serial(SerialPolicy::UnixTime, Some(later), 1, NOW), Ok(later + 1));
        assert_eq!(next_serial(SerialPolicy::DateCounter, Some(2026112805), 1, NOW), Ok(2026112900));
        assert_eq!(next_serial(SerialPolicy::DateCounter, Some(2026112900), 1, NOW), Ok(2026112901));
    }

    #[test]
    fn names() {
        for p in [SerialPolicy::Keep, SerialPolicy::Increment, SerialPolicy::UnixTime, SerialPolicy::DateCounter] {
            assert_eq!(p.to_string().parse::<SerialPolicy>(), Ok(p));
        }
        assert!("weekly".parse::<SerialPolicy>().unwrap_err().contains("keep, increment"));
    }
}
