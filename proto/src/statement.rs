//! What a signer's long-term identity key signs, so that the coordinator,
//! which relays every message, cannot forge or alter any of them.
//!
//! Each statement is a domain-separated, length-prefixed octet string
//! signed with Ed25519 (RFC 8032) by the signer's identity key and
//! verified with `verify_strict` against the key its peers hold in their
//! own roster (the `roster` module, which builds on this one), never
//! against a key the coordinator hands out. Every field a receiver acts on is inside the statement:
//!
//! * [`Statement::Decision`]: a signer's decision on a request (request
//!   id, zone, content hash, state). Approvals are what another signer
//!   accepts as proof that t signers approved the content it is told was
//!   published.
//! * [`Statement::DkgRound1`]: a DKG participant's round-1 package and
//!   one-time encryption key, bound to the session, the zone, the role, t,
//!   every participant and the sender. Without it the coordinator could
//!   hand every participant encryption keys of its own, read every round-2
//!   package and interpolate the group secret.
//! * [`Statement::DkgEcho`]: a participant's digest of round 1 as it saw
//!   it (the echo broadcast), so that nobody can fake agreement.
//! * [`Statement::ImportKey`]: a signer's one-time key for the import of
//!   an existing key, with the zone, role, t, participants and the public
//!   key of the ceremony its operator approved; the operator's CLI checks
//!   it before it encrypts a share to it.
//! * [`Statement::RepairKey`] and [`Statement::RepairPackage`]: a share
//!   repair's one-time keys (so the relay cannot read deltas and sigmas)
//!   and each helper's public key package (so the repaired signer checks
//!   its rebuilt share against one the helpers vouch for).
//! * [`Statement::RefreshDone`]: a participant's refreshed public key
//!   package for a share refresh. A signer replaces its old share only
//!   when every participant signed the same package: otherwise some would
//!   sign with new shares and some with old ones, and the key would be
//!   lost.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use frostzone_threshold::Identifier;

use crate::v1::RequestState;

/// Octets of an identity public key.
pub const IDENTITY_KEY_LEN: usize = 32;

/// A statement a signer signs with its identity key.
#[derive(Clone, Debug)]
pub enum Statement<'a> {
    /// A decision on a request.
    Decision {
        /// The signer.
        participant: &'a Identifier,
        /// The request.
        request_id: &'a str,
        /// Its zone.
        zone: &'a str,
        /// The content hash the decision is bound to.
        content_hash: &'a [u8],
        /// The state decided.
        state: RequestState,
    },
    /// A DKG round-1 output.
    DkgRound1 {
        /// The DKG run.
        session_id: &'a [u8],
        /// The approved ceremony it belongs to.
        request_id: &'a str,
        /// The zone.
        zone: &'a str,
        /// The key's role (the proto's `KeyRole` value).
        role: i32,
        /// t.
        threshold: u16,
        /// Every participant, in identifier order.
        participants: &'a [Identifier],
        /// Who sends it.
        sender: &'a Identifier,
        /// frost `dkg::round1::Package`, serialized.
        package: &'a [u8],
        /// The sender's one-time X25519 public key.
        encryption_key: &'a [u8],
    },
    /// A participant's round-1 digest (the echo check).
    DkgEcho {
        /// The DKG run.
        session_id: &'a [u8],
        /// Who saw it.
        sender: &'a Identifier,
        /// SHA-256 over every round-1 entry as the sender saw them.
        digest: &'a [u8],
    },
    /// A signer's one-time key for a key import.
    ImportKey {
        /// The import run.
        session_id: &'a [u8],
        /// The zone.
        zone: &'a str,
        /// The key's role (the proto's `KeyRole` value).
        role: i32,
        /// t.
        threshold: u16,
        /// Every participant, in identifier order.
        participants: &'a [Identifier],
        /// The public key being imported (RFC 8032, 32 octets): the
        /// ceremony approved this key and no other.
        group_public_key: &'a [u8],
        /// The signer the share is for.
        participant: &'a Identifier,
        /// Its one-time X25519 public key.
        encryption_key: &'a [u8],
    },
    /// A share repair participant's one-time X25519 key.
    RepairKey {
        /// The run.
        session_id: &'a [u8],
        /// The approved repair ceremony.
        request_id: &'a str,
        /// The zone.
        zone: &'a str,
        /// The key's tag.
        key_tag: u16,
        /// Who sends it.
        sender: &'a Identifier,
        /// Its one-time X25519 public key.
        encryption_key: &'a [u8],
    },
    /// A share repair helper's public key package of the key.
    RepairPackage {
        /// The run.
        session_id: &'a [u8],
        /// The key's tag.
        key_tag: u16,
        /// SHA-256 of the frost `PublicKeyPackage`, serialized.
        package_digest: &'a [u8],
        /// Which helper.
        sender: &'a Identifier,
    },
    /// A participant finished a share refresh with this public key package.
    RefreshDone {
        /// The approved refresh ceremony.
        request_id: &'a str,
        /// The zone.
        zone: &'a str,
        /// The key's tag (it does not change).
        key_tag: u16,
        /// The group public key (it does not change).
        group_public_key: &'a [u8],
        /// SHA-256 of the refreshed frost `PublicKeyPackage`, serialized.
        package_digest: &'a [u8],
        /// Who confirms.
        sender: &'a Identifier,
    },
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_ids(out: &mut Vec<u8>, ids: &[Identifier]) {
    out.extend_from_slice(&(ids.len() as u64).to_be_bytes());
    for id in ids {
        put(out, &id.serialize());
    }
}

impl Statement<'_> {
    /// The octets signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        match self {
            Statement::Decision { participant, request_id, zone, content_hash, state } => {
                out.extend_from_slice(b"frostzone decision v1\0");
                put(&mut out, &participant.serialize());
                put(&mut out, request_id.as_bytes());
                put(&mut out, zone.as_bytes());
                put(&mut out, content_hash);
                out.extend_from_slice(&i32::from(*state).to_be_bytes());
            }
            Statement::DkgRound1 { session_id, request_id, zone, role, threshold, participants, sender, package, encryption_key } => {
                out.extend_from_slice(b"frostzone dkg round1 v1\0");
                put(&mut out, session_id);
                put(&mut out, request_id.as_bytes());
                put(&mut out, zone.as_bytes());
                out.extend_from_slice(&role.to_be_bytes());
                out.extend_from_slice(&threshold.to_be_bytes());
                put_ids(&mut out, participants);
                put(&mut out, &sender.serialize());
                put(&mut out, package);
                put(&mut out, encryption_key);
            }
            Statement::DkgEcho { session_id, sender, digest } => {
                out.extend_from_slice(b"frostzone dkg echo v1\0");
                put(&mut out, session_id);
                put(&mut out, &sender.serialize());
                put(&mut out, digest);
            }
            Statement::ImportKey { session_id, zone, role, threshold, participants, group_public_key, participant, encryption_key } => {
                out.extend_from_slice(b"frostzone import key v1\0");
                put(&mut out, session_id);
                put(&mut out, zone.as_bytes());
                out.extend_from_slice(&role.to_be_bytes());
                out.extend_from_slice(&threshold.to_be_bytes());
                put_ids(&mut out, participants);
                put(&mut out, group_public_key);
                put(&mut out, &participant.serialize());
                put(&mut out, encryption_key);
            }
            Statement::RepairKey { session_id, request_id, zone, key_tag, sender, encryption_key } => {
                out.extend_from_slice(b"frostzone repair key v1\0");
                put(&mut out, session_id);
                put(&mut out, request_id.as_bytes());
                put(&mut out, zone.as_bytes());
                out.extend_from_slice(&key_tag.to_be_bytes());
                put(&mut out, &sender.serialize());
                put(&mut out, encryption_key);
            }
            Statement::RepairPackage { session_id, key_tag, package_digest, sender } => {
                out.extend_from_slice(b"frostzone repair package v1\0");
                put(&mut out, session_id);
                out.extend_from_slice(&key_tag.to_be_bytes());
                put(&mut out, package_digest);
                put(&mut out, &sender.serialize());
            }
            Statement::RefreshDone { request_id, zone, key_tag, group_public_key, package_digest, sender } => {
                out.extend_from_slice(b"frostzone refresh done v1\0");
                put(&mut out, request_id.as_bytes());
                put(&mut out, zone.as_bytes());
                out.extend_from_slice(&key_tag.to_be_bytes());
                put(&mut out, group_public_key);
                put(&mut out, package_digest);
                put(&mut out, &sender.serialize());
            }
        }
        out
    }

    /// Signs the statement with `key` (RFC 8032 Ed25519).
    pub fn sign(&self, key: &SigningKey) -> Vec<u8> {
        key.sign(&self.to_bytes()).to_bytes().to_vec()
    }

    /// Whether `signature` is `key`'s over this statement
    /// (`verify_strict`: no malleable or small-order forms).
    pub fn verify(&self, key: &VerifyingKey, signature: &[u8]) -> bool {
        let Ok(signature) = Signature::from_slice(signature) else { return false };
        key.verify_strict(&self.to_bytes(), &signature).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u16) -> Identifier {
        Identifier::try_from(n).unwrap()
    }

    #[test]
    fn a_signature_covers_every_field() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let (me, hash) = (id(1), [5u8; 32]);
        let decision = |state, request_id: &'static str, zone: &'static str| Statement::Decision {
            participant: &me,
            request_id,
            zone,
            content_hash: &hash,
            state,
        };
        let s = decision(RequestState::Approved, "00aa", "example.");
        let sig = s.sign(&key);
        assert!(s.verify(&key.verifying_key(), &sig));
        assert!(!s.verify(&other.verifying_key(), &sig));
        assert!(!decision(RequestState::Rejected, "00aa", "example.").verify(&key.verifying_key(), &sig));
        assert!(!decision(RequestState::Approved, "00ab", "example.").verify(&key.verifying_key(), &sig));
        assert!(!decision(RequestState::Approved, "00aa", "example.net.").verify(&key.verifying_key(), &sig));
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert!(!s.verify(&key.verifying_key(), &bad));
        assert!(!s.verify(&key.verifying_key(), &sig[..63]));

        let ids = [id(1), id(2), id(3)];
        let round1 = |threshold, participants: &'static [Identifier], key: &'static [u8]| Statement::DkgRound1 {
            session_id: b"s",
            request_id: "00aa",
            zone: "example.",
            role: 1,
            threshold,
            participants,
            sender: &ids[0],
            package: b"package",
            encryption_key: key,
        };
        static THREE: std::sync::LazyLock<[Identifier; 3]> = std::sync::LazyLock::new(|| [id(1), id(2), id(3)]);
        static TWO: std::sync::LazyLock<[Identifier; 2]> = std::sync::LazyLock::new(|| [id(1), id(2)]);
        let s = round1(2, &*THREE, b"k1");
        let sig = s.sign(&key);
        assert!(s.verify(&key.verifying_key(), &sig));
        assert!(!round1(3, &*THREE, b"k1").verify(&key.verifying_key(), &sig));
        assert!(!round1(2, &*TWO, b"k1").verify(&key.verifying_key(), &sig));
        assert!(!round1(2, &*THREE, b"k2").verify(&key.verifying_key(), &sig));
        // Statements of different kinds never share octets.
        let echo = Statement::DkgEcho { session_id: b"s", sender: &ids[0], digest: b"d" };
        assert_ne!(echo.to_bytes()[..20], s.to_bytes()[..20]);
    }

    #[test]
    fn a_refresh_confirmation_covers_the_package_and_the_key() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let me = id(2);
        let done = |key_tag, package_digest: &'static [u8]| Statement::RefreshDone {
            request_id: "00aa",
            zone: "example.",
            key_tag,
            group_public_key: b"group",
            package_digest,
            sender: &me,
        };
        let sig = done(257, b"d1").sign(&key);
        assert!(done(257, b"d1").verify(&key.verifying_key(), &sig));
        assert!(!done(258, b"d1").verify(&key.verifying_key(), &sig));
        assert!(!done(257, b"d2").verify(&key.verifying_key(), &sig));
    }
}
