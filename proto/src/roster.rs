//! The roster: every participant of the deployment's key groups and t, as
//! each party holds it itself. Nothing in it is ever learned from the
//! coordinator.
//!
//! ```toml
//! # roster.toml — the same content on every signer and every operator's CLI
//! version = 1
//! threshold = 3                  # t of the key groups
//!
//! [[participants]]               # one per signer, from `frostzone-signer identity`
//! participant = 1                # FROST identifier (1..=255)
//! name = "signer-1"              # the signer's certificate name
//! identity = "3b6a27bc…"         # its Ed25519 identity public key, 64 hex digits
//! ```
//!
//! A signer checks every key ceremony against it (t and the participant
//! set must be exactly these) and verifies every signed statement of
//! another signer ([`crate::statement`]) with the identity key listed
//! here. The operator's CLI does the same for a key import. Operators make
//! the file from each signer's `frostzone-signer --config … identity`
//! output, exchanged over a channel they trust, and compare
//! [`Roster::fingerprint`] (printed by every signer at start) among
//! themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ed25519_dalek::VerifyingKey;
use frostzone_threshold::Identifier;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config_file::{parse_toml, read_text, ConfigFileError};
use crate::statement::{Statement, IDENTITY_KEY_LEN};
use crate::v1::ParticipantId;

/// The only roster format version this build reads.
pub const ROSTER_VERSION: u32 = 1;
/// Highest participant number (as in the signer's config).
pub const MAX_PARTICIPANT: u16 = 255;

/// A signer's Ed25519 identity public key (RFC 8032), written as 64 hex
/// digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IdentityKey(pub VerifyingKey);

impl IdentityKey {
    /// From its 32 octets; refuses a point that is not a valid key.
    pub fn from_bytes(bytes: &[u8]) -> Result<IdentityKey, String> {
        let array: [u8; IDENTITY_KEY_LEN] =
            bytes.try_into().map_err(|_| format!("{} octets, an identity key has {IDENTITY_KEY_LEN}", bytes.len()))?;
        let key = VerifyingKey::from_bytes(&array).map_err(|_| "not an Ed25519 public key".to_string())?;
        if key.is_weak() {
            return Err("a small-order point, not a usable Ed25519 key".into());
        }
        Ok(IdentityKey(key))
    }

    /// Its 32 octets.
    pub fn to_bytes(&self) -> [u8; IDENTITY_KEY_LEN] {
        self.0.to_bytes()
    }
}

impl fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({self})")
    }
}

impl FromStr for IdentityKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s.trim()).map_err(|e| format!("not hex: {e}"))?;
        IdentityKey::from_bytes(&bytes)
    }
}

/// One participant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its number (the signer config's `participant`).
    pub participant: u16,
    /// Its FROST identifier.
    pub identifier: Identifier,
    /// Its name (certificate DNS name).
    pub name: String,
    /// Its identity key.
    pub identity: IdentityKey,
}

/// A roster file that cannot be used: every message names the file and,
/// where there is one, the field.
pub type RosterError = ConfigFileError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoster {
    version: u32,
    threshold: u16,
    participants: Vec<RawMember>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMember {
    participant: u16,
    name: String,
    identity: String,
}

/// A checked roster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roster {
    /// The file it was read from.
    pub file: PathBuf,
    /// t of every key group.
    pub threshold: u16,
    members: BTreeMap<Identifier, Member>,
}

/// Why a statement or a group description does not match the roster.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RosterMismatch {
    /// The signer is not a participant.
    #[error("participant {0} is not in the roster")]
    NotAMember(String),
    /// The signature is not that participant's.
    #[error("the signature is not {0}'s (identity key in the roster)")]
    BadSignature(String),
    /// t differs.
    #[error("threshold {given} differs from the roster's {roster}")]
    Threshold {
        /// As given.
        given: u32,
        /// The roster's.
        roster: u16,
    },
    /// The participant set differs.
    #[error("participants {given} differ from the roster's {roster}")]
    Participants {
        /// As given.
        given: String,
        /// The roster's.
        roster: String,
    },
    /// A share repair's helpers are not t or more other members.
    #[error("share repair helpers: {0}")]
    Helpers(String),
}

/// "1, 2, 3" for a set of identifiers.
pub fn describe_identifiers<'a>(ids: impl IntoIterator<Item = &'a Identifier>) -> String {
    ids.into_iter().map(frostzone_threshold::display_identifier).collect::<Vec<_>>().join(", ")
}

impl Roster {
    /// Reads and checks a roster file.
    pub fn load(file: &Path) -> Result<Roster, RosterError> {
        let text = read_text(file)?;
        Roster::parse(&text, file)
    }

    /// Checks roster text read from `file` (named in errors).
    pub fn parse(text: &str, file: &Path) -> Result<Roster, RosterError> {
        let raw: RawRoster = parse_toml(file, text)?;
        let field = |field: String, reason: String| ConfigFileError::field(file, field, reason);
        if raw.version != ROSTER_VERSION {
            return Err(field(
                "version".into(),
                format!("{} is not supported; this build reads version {ROSTER_VERSION}", raw.version),
            ));
        }
        let mut members = BTreeMap::new();
        let (mut names, mut keys) = (BTreeSet::new(), BTreeSet::new());
        for (i, m) in raw.participants.into_iter().enumerate() {
            let at = |what: &str| format!("participants[{i}].{what}");
            if m.participant == 0 || m.participant > MAX_PARTICIPANT {
                return Err(field(at("participant"), format!("{} is outside 1..={MAX_PARTICIPANT}", m.participant)));
            }
            let identifier = Identifier::try_from(m.participant).map_err(|e| field(at("participant"), e.to_string()))?;
            if m.name.is_empty() || m.name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(field(at("name"), "must be a non-empty name without spaces".into()));
            }
            let identity: IdentityKey = m.identity.parse().map_err(|e| field(at("identity"), e))?;
            if !names.insert(m.name.clone()) {
                return Err(field(at("name"), format!("{:?} is listed twice", m.name)));
            }
            if !keys.insert(identity.to_bytes()) {
                return Err(field(at("identity"), "this identity key is listed twice".into()));
            }
            let member = Member { participant: m.participant, identifier, name: m.name, identity };
            if members.insert(identifier, member).is_some() {
                return Err(field(at("participant"), format!("participant {} is listed twice", m.participant)));
            }
        }
        let n = members.len();
        // RFC 9591 §3: 2 <= MIN_PARTICIPANTS <= MAX_PARTICIPANTS.
        if n < 2 {
            return Err(field("participants".into(), format!("{n} listed; a key group needs at least 2")));
        }
        if raw.threshold < 2 || usize::from(raw.threshold) > n {
            return Err(field("threshold".into(), format!("{} with {n} participants: need 2 <= threshold <= participants", raw.threshold)));
        }
        Ok(Roster { file: file.to_path_buf(), threshold: raw.threshold, members })
    }

    /// Every member, in identifier order.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// Every identifier, in order.
    pub fn identifiers(&self) -> Vec<Identifier> {
        self.members.keys().copied().collect()
    }

    /// n.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Never true for a checked roster (n >= 2); for completeness.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The member with `identifier`.
    pub fn member(&self, identifier: &Identifier) -> Option<&Member> {
        self.members.get(identifier)
    }

    /// The member a wire identifier names.
    pub fn member_of(&self, id: &ParticipantId) -> Result<&Member, RosterMismatch> {
        let identifier = Identifier::deserialize(&id.id).map_err(|_| RosterMismatch::NotAMember(hex::encode(&id.id)))?;
        self.member(&identifier).ok_or_else(|| RosterMismatch::NotAMember(frostzone_threshold::display_identifier(&identifier)))
    }

    /// Checks that `statement` is signed by `identifier`'s identity key.
    pub fn verify(&self, identifier: &Identifier, statement: &Statement<'_>, signature: &[u8]) -> Result<&Member, RosterMismatch> {
        let member = self
            .member(identifier)
            .ok_or_else(|| RosterMismatch::NotAMember(frostzone_threshold::display_identifier(identifier)))?;
        if statement.verify(&member.identity.0, signature) {
            Ok(member)
        } else {
            Err(RosterMismatch::BadSignature(member.name.clone()))
        }
    }

    /// Checks a share repair: the roster's t, a repaired member, and t or
    /// more other members as helpers, each once.
    pub fn check_helpers(&self, threshold: u32, helpers: &[Identifier], repaired: &Identifier) -> Result<(), RosterMismatch> {
        if threshold != u32::from(self.threshold) {
            return Err(RosterMismatch::Threshold { given: threshold, roster: self.threshold });
        }
        self.member(repaired).ok_or_else(|| RosterMismatch::NotAMember(frostzone_threshold::display_identifier(repaired)))?;
        let given: BTreeSet<&Identifier> = helpers.iter().collect();
        if given.len() != helpers.len() {
            return Err(RosterMismatch::Helpers("a helper is named twice".into()));
        }
        if given.contains(repaired) {
            return Err(RosterMismatch::Helpers("the repaired signer cannot help itself".into()));
        }
        if let Some(stranger) = helpers.iter().find(|h| self.member(h).is_none()) {
            return Err(RosterMismatch::NotAMember(frostzone_threshold::display_identifier(stranger)));
        }
        if helpers.len() < usize::from(self.threshold) {
            return Err(RosterMismatch::Helpers(format!("{} helpers, t is {}", helpers.len(), self.threshold)));
        }
        Ok(())
    }

    /// Checks a key group's t and participants (as a ceremony names them)
    /// against the roster: both must be exactly the roster's.
    pub fn check_group(&self, threshold: u32, participants: &[Identifier]) -> Result<(), RosterMismatch> {
        if threshold != u32::from(self.threshold) {
            return Err(RosterMismatch::Threshold { given: threshold, roster: self.threshold });
        }
        let given: BTreeSet<&Identifier> = participants.iter().collect();
        if given.len() != participants.len() || given.len() != self.members.len() || !self.members.keys().all(|id| given.contains(id)) {
            return Err(RosterMismatch::Participants {
                given: describe_identifiers(participants.iter()),
                roster: describe_identifiers(self.members.keys()),
            });
        }
        Ok(())
    }

    /// SHA-256 over the roster's meaning (t, then each member's number,
    /// name and identity key, in order), hex: the same for two files that
    /// say the same thing, whatever their layout. Operators compare it.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"frostzone roster v1\0");
        h.update(self.threshold.to_be_bytes());
        h.update((self.members.len() as u64).to_be_bytes());
        for m in self.members.values() {
            h.update(m.participant.to_be_bytes());
            h.update((m.name.len() as u64).to_be_bytes());
            h.update(m.name.as_bytes());
            h.update(m.identity.to_bytes());
        }
        hex::encode(h.finalize())
    }

    /// The roster as a file, for tools that make one from identities.
    pub fn to_toml(threshold: u16, members: &[(u16, String, IdentityKey)]) -> String {
        let mut out = format!(
            "# The participants of this deployment's key groups. Every signer and every operator's\n\
             # CLI holds its own copy; compare fingerprints over a channel you trust.\n\
             version = {ROSTER_VERSION}\nthreshold = {threshold}\n"
        );
        for (participant, name, identity) in members {
            out.push_str(&format!("\n[[participants]]\nparticipant = {participant}\nname = \"{name}\"\nidentity = \"{identity}\"\n"));
        }
        out
    }
}

/// One participant's entry as `frostzone-signer identity` prints it, ready
/// to paste into a roster.
pub fn member_entry(participant: u16, name: &str, identity: &IdentityKey) -> String {
    format!("[[participants]]\nparticipant = {participant}\nname = \"{name}\"\nidentity = \"{identity}\"\n")
}

/// The entries of `text` made of [`member_entry`] blocks (what tools that
/// assemble a roster collect from each signer), unchecked beyond their
/// form: (participant, name, identity key).
pub fn parse_entries(text: &str) -> Result<Vec<(u16, String, IdentityKey)>, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entries {
        participants: Vec<RawMember>,
    }
    let entries: Entries = toml::from_str(text).map_err(|e| e.to_string())?;
    entries.participants.into_iter().map(|m| Ok((m.participant, m.name, m.identity.parse()?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn key(seed: u8) -> IdentityKey {
        IdentityKey(SigningKey::from_bytes(&[seed; 32]).verifying_key())
    }

    fn text(threshold: u16, n: u16) -> String {
        let members: Vec<(u16, String, IdentityKey)> = (1..=n).map(|k| (k, format!("signer-{k}"), key(k as u8))).collect();
        Roster::to_toml(threshold, &members)
    }

    fn parse(text: &str) -> Result<Roster, RosterError> {
        Roster::parse(text, Path::new("/etc/fz/roster.toml"))
    }

    #[test]
    fn a_written_roster_reads_back_and_checks_groups() {
        let r = parse(&text(3, 5)).unwrap();
        assert_eq!((r.threshold, r.len()), (3, 5));
        let ids = r.identifiers();
        assert!(r.check_group(3, &ids).is_ok());
        assert!(matches!(r.check_group(2, &ids), Err(RosterMismatch::Threshold { .. })));
        assert!(matches!(r.check_group(3, &ids[..4]), Err(RosterMismatch::Participants { .. })));
        let mut doubled = ids.clone();
        doubled[4] = ids[0];
        assert!(matches!(r.check_group(3, &doubled), Err(RosterMismatch::Participants { .. })));
        // Layout does not change the fingerprint; content does.
        let reordered = text(3, 5).replace("version = 1\nthreshold = 3\n", "threshold = 3\nversion = 1\n");
        assert_eq!(parse(&reordered).unwrap().fingerprint(), r.fingerprint());
        assert_ne!(parse(&text(2, 5)).unwrap().fingerprint(), r.fingerprint());
    }

    #[test]
    fn printed_entries_parse_back() {
        let text = format!("{}{}", member_entry(1, "signer-1", &key(1)), member_entry(2, "signer-2", &key(2)));
        let entries = parse_entries(&text).unwrap();
        assert_eq!(entries, vec![(1, "signer-1".to_string(), key(1)), (2, "signer-2".to_string(), key(2))]);
        assert!(parse_entries("[[participants]]\nparticipant = 1\n").is_err());
    }

    #[test]
    fn statements_verify_only_under_the_listed_key() {
        let r = parse(&text(2, 3)).unwrap();
        let me = r.identifiers()[0];
        let hash = [1u8; 32];
        let s = Statement::Decision {
            participant: &me,
            request_id: "00aa",
            zone: "example.",
            content_hash: &hash,
            state: crate::v1::RequestState::Approved,
        };
        let good = s.sign(&SigningKey::from_bytes(&[1; 32]));
        assert_eq!(r.verify(&me, &s, &good).unwrap().name, "signer-1");
        let forged = s.sign(&SigningKey::from_bytes(&[9; 32]));
        assert_eq!(r.verify(&me, &s, &forged), Err(RosterMismatch::BadSignature("signer-1".into())));
        let stranger = Identifier::try_from(7u16).unwrap();
        assert!(matches!(r.verify(&stranger, &s, &good), Err(RosterMismatch::NotAMember(_))));
    }

    /// Every bad file fails naming the file and the field.
    #[test]
    fn errors_name_file_and_field() {
        let good = text(2, 3);
        let k1 = key(1).to_string();
        let cases: Vec<(String, &str)> = vec![
            (good.replace("version = 1", "version = 2"), "version"),
            (good.replace("threshold = 2", "threshold = 4"), "threshold"),
            (good.replace("threshold = 2", "threshold = 1"), "threshold"),
            (good.replace("participant = 3", "participant = 1"), "participants[2].participant"),
            (good.replace("participant = 3", "participant = 0"), "participants[2].participant"),
            (good.replace("\"signer-3\"", "\"signer-1\""), "participants[2].name"),
            (good.replace(&key(3).to_string(), &k1), "participants[2].identity"),
            (good.replace(&k1, "abcd"), "participants[0].identity"),
            (good.replace("name = \"signer-2\"", "name = \"signer-2\"\nnmae = \"x\""), "nmae"),
            (text(2, 1), "participants"),
        ];
        for (text, field) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains("/etc/fz/roster.toml"), "{err}");
            assert!(err.contains(field), "expected {field} in: {err}");
        }
    }
}
