//! This participant's side of a distributed key generation (frost
//! `keys::dkg`, the Pedersen DKG with proofs of knowledge that RFC 9591
//! Appendix C points to). Pure logic: the service moves the bytes.
//!
//! ```text
//!  start ──► Round1 ──round2()──► Round2 ──finish()──► key share (stored by the caller)
//! ```
//!
//! * **Round 1** ([`DkgSession::start`]): frost `part1`, plus a one-time
//!   X25519 key (memory only) that the others encrypt their round-2
//!   packages to. The caller signs both with its identity key
//!   ([`frostzone_proto::statement::Statement::DkgRound1`], over the
//!   session, ceremony, zone, role, t, participants and sender).
//! * **Round 2** ([`DkgSession::round2`]): the others' round-1 packages and
//!   keys arrive through the coordinator, each checked against its
//!   sender's identity key in this signer's own roster: a coordinator that
//!   substitutes an encryption key (to read round-2 packages and
//!   interpolate the group secret) or a package is caught here. Then frost
//!   `part2`; each outgoing round-2 package is sealed for its recipient
//!   ([`crate::envelope::dkg_key`]), so the coordinator relays secrets it
//!   cannot read. The round-1 digest ([`round1_digest`]) is returned for
//!   the echo check; the caller signs it
//!   ([`frostzone_proto::statement::Statement::DkgEcho`]).
//! * **Finish** ([`DkgSession::finish`]): every participant's signed
//!   digest must be there, verify against the roster and equal ours —
//!   everyone saw the same round 1 (echo broadcast; without it a
//!   participant colluding with the relay could show others different
//!   commitments), and the relay cannot fake the agreement. Then the
//!   packages addressed to us are opened and frost `part3` runs.
//!
//! The same three steps refresh the shares of an existing key
//! ([`DkgSession::start_refresh`], frost `keys::refresh::refresh_dkg_*`):
//! every participant deals a sharing of zero, so each share changes while
//! the group key stays; finish then checks that the group key, t and the
//! participants are those of the share being refreshed.
//!
//! Every secret here (frost secret packages, the X25519 key, the share a
//! refresh starts from) wipes itself when dropped, which happens when the
//! session finishes, fails or expires.

use std::collections::{BTreeMap, BTreeSet};

use frost::keys::dkg::{self, round1, round2};
use frostzone_dnssec::keys::{KeyRole, KeyTag, ZoneKey};
use frostzone_proto::roster::Roster;
use frostzone_proto::statement::Statement;
use frostzone_threshold::{display_identifier, frost, Identifier};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::envelope::{self, EnvelopeError};

/// Label of the round-1 echo digest.
const DIGEST_LABEL: &[u8] = b"frostzone dkg round1 v1";

/// What a DKG is for and who takes part.
#[derive(Clone, Debug)]
pub struct DkgParams {
    /// Names the run everywhere; binds the transport keys and the digest.
    pub session_id: Vec<u8>,
    /// The approved key ceremony the run belongs to.
    pub request_id: String,
    /// Zone, normalized (lowercase, trailing dot).
    pub zone: String,
    /// The key's role.
    pub role: KeyRole,
    /// Signers needed to sign (t).
    pub threshold: u16,
    /// Every participant, this one included.
    pub participants: BTreeSet<Identifier>,
    /// This participant.
    pub me: Identifier,
}

/// Round-1 output: broadcast to every other participant.
#[derive(Debug)]
pub struct Round1Output {
    /// frost `dkg::round1::Package`, serialized.
    pub package: Vec<u8>,
    /// One-time X25519 public key.
    pub encryption_key: [u8; 32],
}

/// Another participant's round-1 output, as relayed.
#[derive(Clone, Debug)]
pub struct Round1Entry {
    /// Who sent it.
    pub from: Identifier,
    /// frost `dkg::round1::Package`, serialized.
    pub package: Vec<u8>,
    /// Its one-time X25519 public key.
    pub encryption_key: Vec<u8>,
    /// Its identity signature over both ([`DkgParams::round1_statement`]).
    pub signature: Vec<u8>,
}

/// A participant's round-1 digest, signed, as relayed for the echo check.
#[derive(Clone, Debug)]
pub struct SignedEcho {
    /// Who saw round 1 so.
    pub from: Identifier,
    /// Its [`round1_digest`].
    pub digest: Vec<u8>,
    /// Its identity signature ([`frostzone_proto::statement::Statement::DkgEcho`]).
    pub signature: Vec<u8>,
}

impl DkgParams {
    /// The participants in identifier order.
    pub fn participant_list(&self) -> Vec<Identifier> {
        self.participants.iter().copied().collect()
    }

    /// What `sender` signs about its round-1 output.
    pub fn round1_statement<'a>(
        &'a self,
        participants: &'a [Identifier],
        sender: &'a Identifier,
        package: &'a [u8],
        encryption_key: &'a [u8],
    ) -> Statement<'a> {
        Statement::DkgRound1 {
            session_id: &self.session_id,
            request_id: &self.request_id,
            zone: &self.zone,
            role: role_value(self.role),
            threshold: self.threshold,
            participants,
            sender,
            package,
            encryption_key,
        }
    }
}

/// A role as the API numbers it (the value signed statements carry).
pub fn role_value(role: KeyRole) -> i32 {
    crate::fields::proto_role(role).into()
}

/// A round-2 package sealed for its recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedPackage {
    /// Sender.
    pub from: Identifier,
    /// Recipient.
    pub to: Identifier,
    /// The envelope.
    pub ciphertext: Vec<u8>,
}

/// Round-2 output.
#[derive(Debug)]
pub struct Round2Output {
    /// One sealed package per other participant.
    pub packages: Vec<SealedPackage>,
    /// [`round1_digest`] of round 1 as this participant saw it.
    pub round1_digest: [u8; 32],
}

/// The finished key share.
#[derive(Debug)]
pub struct DkgOutput {
    /// This participant's key package (secret; wipes itself).
    pub key_package: frost::keys::KeyPackage,
    /// The group's public key package.
    pub public_key_package: frost::keys::PublicKeyPackage,
    /// The group public key (RFC 8032).
    pub group_public_key: [u8; 32],
    /// DNSKEY key tag of the group key with the role's flags.
    pub key_tag: KeyTag,
}

/// Why a DKG step was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DkgError {
    /// The parameters are unusable (threshold, participants).
    #[error("{0}")]
    Parameters(String),
    /// This signer is not among the participants.
    #[error("participant {} is not among the DKG participants", display_identifier(.0))]
    NotAParticipant(Identifier),
    /// A relayed message is not signed by the participant it claims to come
    /// from (its identity key in this signer's roster), or names another
    /// session, zone, role, t or participant set than this DKG's.
    #[error("participant {}: {reason}", display_identifier(.from))]
    Unauthenticated {
        /// Whose message.
        from: Identifier,
        /// What failed.
        reason: String,
    },
    /// A relayed entry or package is malformed, missing or repeated.
    #[error("participant {}: {reason}", display_identifier(.from))]
    Entry {
        /// Whose entry.
        from: Identifier,
        /// What is wrong.
        reason: String,
    },
    /// The step does not follow the previous one.
    #[error("dkg step out of order: {0}")]
    OutOfOrder(&'static str),
    /// Participants saw different round-1 packages.
    #[error("round-1 echo check failed: {} saw a different round 1", .differing.join(", "))]
    EchoMismatch {
        /// The names (as given) whose digest differs or is missing.
        differing: Vec<String>,
    },
    /// frost refused a step (its error may name a culprit).
    #[error("frost dkg {step}: {source}")]
    Frost {
        /// part1, part2 or part3.
        step: &'static str,
        /// What frost said.
        source: frost::Error,
    },
}

impl DkgError {
    fn entry(from: Identifier, reason: impl Into<String>) -> DkgError {
        DkgError::Entry {
            from,
            reason: reason.into(),
        }
    }
}

enum State {
    Round1 {
        secret: round1::SecretPackage,
    },
    Round2 {
        secret: round2::SecretPackage,
        round1: BTreeMap<Identifier, round1::Package>,
        keys: BTreeMap<Identifier, PublicKey>,
        digest: [u8; 32],
    },
}

/// The share a refresh starts from (secret: frost's `KeyPackage` wipes
/// itself when dropped).
pub struct RefreshOf {
    /// This participant's current key package.
    pub key_package: frost::keys::KeyPackage,
    /// The group's current public key package.
    pub public_key_package: frost::keys::PublicKeyPackage,
}

/// One participant's DKG in progress.
pub struct DkgSession {
    params: DkgParams,
    x25519: StaticSecret,
    package: Vec<u8>,
    state: State,
    /// `Some` for a share refresh.
    refresh: Option<RefreshOf>,
}

impl std::fmt::Debug for DkgSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkgSession")
            .field("params", &self.params)
            .field("refresh", &self.refresh.is_some())
            .field("secrets", &"<redacted>")
            .finish()
    }
}

/// SHA-256 over the DKG's parameters and every round-1 entry (this
/// participant's included), in identifier order:
///
/// ```text
/// "frostzone dkg round1 v1" || len32(session_id) || session_id || len32(zone) || zone
///   || role flags (u16) || threshold (u16)
///   || for each participant: id (32) || len32(package) || package || X25519 key (32)
/// ```
pub fn round1_digest(
    params: &DkgParams,
    entries: &BTreeMap<Identifier, (Vec<u8>, [u8; 32])>,
) -> [u8; 32] {
    let mut h = Sha256::new();
    let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes();
    h.update(DIGEST_LABEL);
    h.update(len(params.session_id.len()));
    h.update(&params.session_id);
    h.update(len(params.zone.len()));
    h.update(params.zone.as_bytes());
    h.update(params.role.flags().to_be_bytes());
    h.update(params.threshold.to_be_bytes());
    for (id, (package, key)) in entries {
        h.update(id.serialize());
        h.update(len(package.len()));
        h.update(package);
        h.update(key);
    }
    h.finalize().into()
}

impl DkgSession {
    /// Round 1: checks the parameters, runs frost `part1` and makes the
    /// one-time X25519 key.
    pub fn start<R: RngCore + CryptoRng>(
        params: DkgParams,
        rng: &mut R,
    ) -> Result<(DkgSession, Round1Output), DkgError> {
        DkgSession::begin(params, None, rng)
    }

    /// Round 1 of a share refresh of `from`: the share must be this
    /// participant's, of a group of exactly the session's t and
    /// participants; then frost `refresh_dkg_part1`.
    pub fn start_refresh<R: RngCore + CryptoRng>(
        params: DkgParams,
        from: RefreshOf,
        rng: &mut R,
    ) -> Result<(DkgSession, Round1Output), DkgError> {
        if *from.key_package.identifier() != params.me {
            return Err(DkgError::Parameters("the share to refresh is another participant's".into()));
        }
        let holders: BTreeSet<Identifier> = from.public_key_package.verifying_shares().keys().copied().collect();
        if holders != params.participants {
            return Err(DkgError::Parameters(format!(
                "the share's group is held by {}, the refresh names {}",
                frostzone_proto::roster::describe_identifiers(holders.iter()),
                frostzone_proto::roster::describe_identifiers(params.participants.iter())
            )));
        }
        if *from.key_package.min_signers() != params.threshold {
            return Err(DkgError::Parameters(format!(
                "the share's threshold is {}, the refresh names {} (a refresh cannot change t: re-key instead)",
                from.key_package.min_signers(),
                params.threshold
            )));
        }
        DkgSession::begin(params, Some(from), rng)
    }

    fn begin<R: RngCore + CryptoRng>(
        params: DkgParams,
        refresh: Option<RefreshOf>,
        rng: &mut R,
    ) -> Result<(DkgSession, Round1Output), DkgError> {
        if !params.participants.contains(&params.me) {
            return Err(DkgError::NotAParticipant(params.me));
        }
        let n = u16::try_from(params.participants.len()).map_err(|_| {
            DkgError::Parameters(format!(
                "{} participants is too many",
                params.participants.len()
            ))
        })?;
        // RFC 9591 §3: MIN_PARTICIPANTS >= 2 and MAX_PARTICIPANTS >= MIN_PARTICIPANTS.
        if params.threshold < 2 || params.threshold > n {
            return Err(DkgError::Parameters(format!(
                "threshold {} of {n} participants: need 2 <= threshold <= participants",
                params.threshold
            )));
        }
        let (secret, package) = match refresh {
            None => dkg::part1(params.me, n, params.threshold, &mut *rng),
            Some(_) => frost::keys::refresh::refresh_dkg_part1(params.me, n, params.threshold, &mut *rng),
        }
        .map_err(|source| DkgError::Frost { step: "part1", source })?;
        let package = package.serialize().map_err(|source| DkgError::Frost {
            step: "part1",
            source,
        })?;
        let x25519 = StaticSecret::random_from_rng(&mut *rng);
        let encryption_key = PublicKey::from(&x25519).to_bytes();
        let output = Round1Output {
            package: package.clone(),
            encryption_key,
        };
        Ok((
            DkgSession {
                params,
                x25519,
                package,
                state: State::Round1 { secret },
                refresh,
            },
            output,
        ))
    }

    /// The parameters the session was started with.
    pub fn params(&self) -> &DkgParams {
        &self.params
    }

    /// Whether this run refreshes the shares of an existing key.
    pub fn is_refresh(&self) -> bool {
        self.refresh.is_some()
    }

    /// Round 2: takes every other participant's round-1 entry (our own may
    /// be included if it is exactly ours), checks each one's signature
    /// against `roster`, runs frost `part2` and seals each outgoing package
    /// for its recipient.
    pub fn round2<R: RngCore + CryptoRng>(
        self,
        entries: Vec<Round1Entry>,
        roster: &Roster,
        rng: &mut R,
    ) -> Result<(DkgSession, Round2Output), DkgError> {
        let DkgSession {
            params,
            x25519,
            package,
            state,
            refresh,
        } = self;
        let State::Round1 { secret } = state else {
            return Err(DkgError::OutOfOrder("round 2 was run already"));
        };
        let me = params.me;
        let my_key = PublicKey::from(&x25519).to_bytes();
        let participants = params.participant_list();
        let mut seen: BTreeMap<Identifier, (Vec<u8>, [u8; 32])> = BTreeMap::new();
        seen.insert(me, (package.clone(), my_key));
        let mut round1 = BTreeMap::new();
        let mut keys = BTreeMap::new();
        for entry in entries {
            let from = entry.from;
            let key: [u8; 32] = entry.encryption_key.as_slice().try_into().map_err(|_| {
                DkgError::entry(
                    from,
                    format!("X25519 key of {} octets", entry.encryption_key.len()),
                )
            })?;
            if from == me {
                if entry.package != package || key != my_key {
                    return Err(DkgError::entry(
                        from,
                        "relayed round-1 entry of this signer is not what it sent",
                    ));
                }
                continue;
            }
            if !params.participants.contains(&from) {
                return Err(DkgError::entry(from, "not a participant of this DKG"));
            }
            if seen.contains_key(&from) {
                return Err(DkgError::entry(from, "round-1 entry given twice"));
            }
            let statement = params.round1_statement(&participants, &from, &entry.package, &key);
            roster.verify(&from, &statement, &entry.signature).map_err(|e| DkgError::Unauthenticated {
                from,
                reason: format!("round-1 package and encryption key: {e}; refusing this DKG"),
            })?;
            let parsed = round1::Package::deserialize(&entry.package).map_err(|e| {
                DkgError::entry(from, format!("round-1 package does not parse: {e}"))
            })?;
            round1.insert(from, parsed);
            keys.insert(from, PublicKey::from(key));
            seen.insert(from, (entry.package, key));
        }
        if let Some(missing) = params.participants.iter().find(|id| !seen.contains_key(id)) {
            return Err(DkgError::entry(*missing, "no round-1 entry"));
        }
        let digest = round1_digest(&params, &seen);
        let (secret2, outgoing) = match refresh {
            None => dkg::part2(secret, &round1),
            Some(_) => frost::keys::refresh::refresh_dkg_part2(secret, &round1),
        }
        .map_err(|source| DkgError::Frost { step: "part2", source })?;
        let mut packages = Vec::with_capacity(outgoing.len());
        for (to, package) in outgoing {
            let their_key = keys
                .get(&to)
                .ok_or_else(|| DkgError::entry(to, "frost addressed an unknown participant"))?;
            let key = envelope::dkg_key(&params.session_id, &x25519, their_key, &me, &to)
                .map_err(|e| DkgError::entry(to, e.to_string()))?;
            let plain = Zeroizing::new(package.serialize().map_err(|source| DkgError::Frost {
                step: "part2",
                source,
            })?);
            packages.push(SealedPackage {
                from: me,
                to,
                ciphertext: envelope::seal(&key, &[], &plain, rng),
            });
        }
        let session = DkgSession {
            params,
            x25519,
            package,
            state: State::Round2 {
                secret: secret2,
                round1,
                keys,
                digest,
            },
            refresh,
        };
        Ok((
            session,
            Round2Output {
                packages,
                round1_digest: digest,
            },
        ))
    }

    /// Finish: the echo check over every participant's signed digest, then
    /// frost `part3` over the packages addressed to this participant.
    pub fn finish(
        self,
        packages: Vec<SealedPackage>,
        echoes: &[SignedEcho],
        roster: &Roster,
    ) -> Result<DkgOutput, DkgError> {
        let State::Round2 {
            secret,
            round1,
            keys,
            digest,
        } = &self.state
        else {
            return Err(DkgError::OutOfOrder("finish before round 2"));
        };
        let params = &self.params;
        let me = params.me;
        let mut echoed = BTreeSet::new();
        let mut differing = Vec::new();
        for echo in echoes {
            if !params.participants.contains(&echo.from) {
                return Err(DkgError::entry(echo.from, "round-1 digest of a non-participant"));
            }
            if !echoed.insert(echo.from) {
                return Err(DkgError::entry(echo.from, "round-1 digest given twice"));
            }
            let statement = Statement::DkgEcho { session_id: &params.session_id, sender: &echo.from, digest: &echo.digest };
            roster.verify(&echo.from, &statement, &echo.signature).map_err(|e| DkgError::Unauthenticated {
                from: echo.from,
                reason: format!("round-1 digest: {e}; refusing this DKG"),
            })?;
            if echo.digest.as_slice() != digest.as_slice() {
                differing.push(roster.member(&echo.from).map(|m| m.name.clone()).unwrap_or_else(|| display_identifier(&echo.from)));
            }
        }
        if !differing.is_empty() {
            return Err(DkgError::EchoMismatch { differing });
        }
        if let Some(missing) = params.participants.iter().find(|id| !echoed.contains(id)) {
            return Err(DkgError::entry(*missing, "no signed round-1 digest: the echo check needs every participant's"));
        }
        let mut inbox = BTreeMap::new();
        for sealed in packages {
            let from = sealed.from;
            if sealed.to != me {
                return Err(DkgError::entry(
                    from,
                    format!(
                        "package addressed to {}, not to this signer",
                        display_identifier(&sealed.to)
                    ),
                ));
            }
            let their_key = keys
                .get(&from)
                .ok_or_else(|| DkgError::entry(from, "not a participant of this DKG"))?;
            let key = envelope::dkg_key(&params.session_id, &self.x25519, their_key, &from, &me)
                .map_err(|e| DkgError::entry(from, e.to_string()))?;
            let plain =
                envelope::open(&key, &[], &sealed.ciphertext).map_err(|e: EnvelopeError| {
                    DkgError::entry(from, format!("round-2 package: {e}"))
                })?;
            let package = round2::Package::deserialize(&plain).map_err(|e| {
                DkgError::entry(from, format!("round-2 package does not parse: {e}"))
            })?;
            if inbox.insert(from, package).is_some() {
                return Err(DkgError::entry(from, "round-2 package given twice"));
            }
        }
        if let Some(missing) = round1.keys().find(|id| !inbox.contains_key(id)) {
            return Err(DkgError::entry(*missing, "no round-2 package"));
        }
        let (key_package, public_key_package) = match &self.refresh {
            None => dkg::part3(secret, round1, &inbox),
            Some(from) => frost::keys::refresh::refresh_dkg_shares(
                secret,
                round1,
                &inbox,
                from.public_key_package.clone(),
                from.key_package.clone(),
            ),
        }
        .map_err(|source| DkgError::Frost { step: "part3", source })?;
        if let Some(from) = &self.refresh {
            check_refreshed(from, &key_package, &public_key_package, params)?;
        }
        let group_public_key: [u8; 32] = public_key_package
            .verifying_key()
            .serialize()
            .map_err(|source| DkgError::Frost {
                step: "part3",
                source,
            })?
            .as_slice()
            .try_into()
            .map_err(|_| DkgError::Parameters("group key is not 32 octets".into()))?;
        let key_tag = ZoneKey::ed25519(params.role, group_public_key).key_tag();
        Ok(DkgOutput {
            key_package,
            public_key_package,
            group_public_key,
            key_tag,
        })
    }
}

/// A refresh keeps the group key and t, and the refreshed share is this
/// participant's within a group of exactly the same holders.
fn check_refreshed(
    from: &RefreshOf,
    key: &frost::keys::KeyPackage,
    public: &frost::keys::PublicKeyPackage,
    params: &DkgParams,
) -> Result<(), DkgError> {
    let unchanged = public.verifying_key() == from.public_key_package.verifying_key()
        && key.verifying_key() == from.key_package.verifying_key()
        && key.min_signers() == from.key_package.min_signers()
        && public.min_signers() == from.public_key_package.min_signers()
        && public.verifying_shares().keys().eq(params.participants.iter())
        && public.verifying_shares().get(&params.me) == Some(key.verifying_share())
        && frost::keys::VerifyingShare::from(*key.signing_share()) == *key.verifying_share();
    if unchanged {
        Ok(())
    } else {
        Err(DkgError::Parameters("the refreshed share does not belong to the same group key, t and participants".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use frostzone_proto::roster::IdentityKey;
    use rand::rngs::OsRng;

    fn ids(n: u16) -> BTreeSet<Identifier> {
        (1..=n).map(|i| Identifier::try_from(i).unwrap()).collect()
    }

    fn identity(k: u16) -> SigningKey {
        SigningKey::from_bytes(&[k as u8; 32])
    }

    fn roster(n: u16, t: u16) -> Roster {
        let members: Vec<(u16, String, IdentityKey)> =
            (1..=n).map(|k| (k, format!("signer-{k}"), IdentityKey(identity(k).verifying_key()))).collect();
        Roster::parse(&Roster::to_toml(t, &members), std::path::Path::new("roster.toml")).unwrap()
    }

    fn params(me: u16, n: u16, t: u16) -> DkgParams {
        DkgParams {
            session_id: b"0123456789abcdef".to_vec(),
            request_id: "00112233445566778899aabbccddeeff".into(),
            zone: "example.".into(),
            role: KeyRole::Csk,
            threshold: t,
            participants: ids(n),
            me: Identifier::try_from(me).unwrap(),
        }
    }

    fn number(id: &Identifier) -> u16 {
        (1..=255u16).find(|k| Identifier::try_from(*k).unwrap() == *id).unwrap()
    }

    /// Round-1 entries as honest signers sign them.
    fn signed_entry(s: &DkgSession, out: &Round1Output) -> Round1Entry {
        let list = s.params.participant_list();
        let sig = s.params.round1_statement(&list, &s.params.me, &out.package, &out.encryption_key).sign(&identity(number(&s.params.me)));
        Round1Entry { from: s.params.me, package: out.package.clone(), encryption_key: out.encryption_key.to_vec(), signature: sig }
    }

    /// Runs a whole DKG among `n` sessions; `tamper` may change what
    /// participant 1 is shown in round 2, `tamper_echo` the echoes every
    /// participant is shown at the end.
    fn run_with(
        n: u16,
        t: u16,
        tamper: impl Fn(&mut Vec<Round1Entry>),
        tamper_echo: impl Fn(&mut Vec<SignedEcho>),
    ) -> Vec<Result<DkgOutput, DkgError>> {
        run_sessions(n, t, |me| DkgSession::start(params(me, n, t), &mut OsRng).unwrap(), tamper, tamper_echo)
    }

    fn run_sessions(
        n: u16,
        t: u16,
        start: impl Fn(u16) -> (DkgSession, Round1Output),
        tamper: impl Fn(&mut Vec<Round1Entry>),
        tamper_echo: impl Fn(&mut Vec<SignedEcho>),
    ) -> Vec<Result<DkgOutput, DkgError>> {
        let roster = roster(n, t);
        let mut sessions = Vec::new();
        let mut entries = Vec::new();
        for me in 1..=n {
            let (s, out) = start(me);
            entries.push(signed_entry(&s, &out));
            sessions.push(s);
        }
        let mut echoes = Vec::new();
        let mut sealed = Vec::new();
        let mut next = Vec::new();
        for s in sessions {
            let me = s.params.me;
            let mut others: Vec<Round1Entry> = entries.iter().filter(|e| e.from != me).cloned().collect();
            if me == Identifier::try_from(1u16).unwrap() {
                tamper(&mut others);
            }
            let session_id = s.params.session_id.clone();
            match s.round2(others, &roster, &mut OsRng) {
                Ok((s, out)) => {
                    let statement = Statement::DkgEcho { session_id: &session_id, sender: &me, digest: &out.round1_digest };
                    echoes.push(SignedEcho { from: me, digest: out.round1_digest.to_vec(), signature: statement.sign(&identity(number(&me))) });
                    sealed.extend(out.packages);
                    next.push(Ok(s));
                }
                Err(e) => next.push(Err(e)),
            }
        }
        tamper_echo(&mut echoes);
        next.into_iter()
            .map(|s| {
                let s = s?;
                let me = s.params.me;
                let mine = sealed.iter().filter(|p| p.to == me).cloned().collect();
                s.finish(mine, &echoes, &roster)
            })
            .collect()
    }

    fn run(n: u16, t: u16, tamper: impl Fn(&mut Vec<Round1Entry>)) -> Vec<Result<DkgOutput, DkgError>> {
        run_with(n, t, tamper, |_| {})
    }

    #[test]
    fn three_participants_agree() {
        let outs: Vec<DkgOutput> = run(3, 2, |_| {}).into_iter().map(Result::unwrap).collect();
        for o in &outs {
            assert_eq!(o.public_key_package, outs[0].public_key_package);
            assert_eq!(o.group_public_key, outs[0].group_public_key);
            assert_eq!(o.key_tag, outs[0].key_tag);
            assert_eq!(*o.key_package.min_signers(), 2);
        }
    }

    /// A relay that substitutes an encryption key of its own (to read the
    /// round-2 packages) or a package is refused at round 2.
    #[test]
    fn substituted_round1_entries_are_refused() {
        let relay_key = PublicKey::from(&StaticSecret::random_from_rng(OsRng)).to_bytes().to_vec();
        let results = run(3, 2, |entries| entries[0].encryption_key = relay_key.clone());
        assert!(matches!(&results[0], Err(DkgError::Unauthenticated { reason, .. }) if reason.contains("signature")), "{:?}", results[0].as_ref().err());
        let (_, other) = DkgSession::start(params(3, 3, 2), &mut OsRng).unwrap();
        let results = run(3, 2, |entries| {
            let e = entries.iter_mut().find(|e| e.from == Identifier::try_from(3u16).unwrap()).unwrap();
            e.package = other.package.clone();
        });
        assert!(matches!(&results[0], Err(DkgError::Unauthenticated { .. })));
        // Signed by another member's key: still not the sender's.
        let results = run(3, 2, |entries| {
            let stolen = entries[1].signature.clone();
            entries[0].signature = stolen;
        });
        assert!(matches!(&results[0], Err(DkgError::Unauthenticated { .. })));
    }

    /// A participant that signs another round 1 for participant 1 (a
    /// split view) is caught by the echo check; forged or missing echoes
    /// are refused.
    #[test]
    fn echo_check_catches_split_views_and_forged_digests() {
        // Participant 3 (colluding) signs a second round-1 output for 1.
        let (s3, other) = DkgSession::start(params(3, 3, 2), &mut OsRng).unwrap();
        let second = signed_entry(&s3, &other);
        let results = run(3, 2, |entries| {
            let e = entries.iter_mut().find(|e| e.from == Identifier::try_from(3u16).unwrap()).unwrap();
            *e = second.clone();
        });
        for r in results {
            match r {
                Err(DkgError::EchoMismatch { differing }) => assert!(!differing.is_empty()),
                other => panic!("expected an echo mismatch, got {other:?}"),
            }
        }
        // The relay alters participant 2's digest (to fake a disagreement).
        let results = run_with(3, 2, |_| {}, |echoes| {
            echoes[1].digest[0] ^= 1;
        });
        assert!(results.iter().all(|r| matches!(r, Err(DkgError::Unauthenticated { .. }))));
        // Or leaves one out.
        let results = run_with(3, 2, |_| {}, |echoes| {
            echoes.pop();
        });
        assert!(results.iter().all(|r| matches!(r, Err(DkgError::Entry { .. }))));
    }

    #[test]
    fn refuses_bad_parameters_and_order() {
        let mut p = params(4, 3, 2);
        assert!(matches!(
            DkgSession::start(p.clone(), &mut OsRng),
            Err(DkgError::NotAParticipant(_))
        ));
        p.me = Identifier::try_from(1u16).unwrap();
        p.threshold = 4;
        assert!(matches!(
            DkgSession::start(p.clone(), &mut OsRng),
            Err(DkgError::Parameters(_))
        ));
        let (s, _) = DkgSession::start(params(1, 3, 2), &mut OsRng).unwrap();
        assert!(matches!(
            s.round2(Vec::new(), &roster(3, 2), &mut OsRng),
            Err(DkgError::Entry { .. })
        ));
        let (s, _) = DkgSession::start(params(1, 3, 2), &mut OsRng).unwrap();
        assert!(matches!(
            s.finish(Vec::new(), &[], &roster(3, 2)),
            Err(DkgError::OutOfOrder(_))
        ));
    }

    /// A refresh keeps the group key and t and changes every share; old
    /// and new shares do not mix; a refresh cannot change t.
    #[test]
    fn a_refresh_keeps_the_key_and_changes_every_share() {
        let old: Vec<DkgOutput> = run(3, 2, |_| {}).into_iter().map(Result::unwrap).collect();
        let from = |me: u16| RefreshOf {
            key_package: old[usize::from(me - 1)].key_package.clone(),
            public_key_package: old[usize::from(me - 1)].public_key_package.clone(),
        };
        let new: Vec<DkgOutput> = run_sessions(
            3,
            2,
            |me| DkgSession::start_refresh(params(me, 3, 2), from(me), &mut OsRng).unwrap(),
            |_| {},
            |_| {},
        )
        .into_iter()
        .map(Result::unwrap)
        .collect();
        for (o, n) in old.iter().zip(&new) {
            assert_eq!(n.group_public_key, o.group_public_key);
            assert_eq!(n.key_tag, o.key_tag);
            assert_eq!(n.public_key_package, new[0].public_key_package);
            assert_ne!(n.key_package.signing_share(), o.key_package.signing_share());
        }
        // Two new shares sign; one old and one new share do not.
        let sign = |a: &frost::keys::KeyPackage, b: &frost::keys::KeyPackage, public: &frost::keys::PublicKeyPackage| {
            let (n1, c1) = frost::round1::commit(a.signing_share(), &mut OsRng);
            let (n2, c2) = frost::round1::commit(b.signing_share(), &mut OsRng);
            let commitments = BTreeMap::from([(*a.identifier(), c1), (*b.identifier(), c2)]);
            let package = frost::SigningPackage::new(commitments, b"zone data");
            let shares = BTreeMap::from([
                (*a.identifier(), frost::round2::sign(&package, &n1, a).unwrap()),
                (*b.identifier(), frost::round2::sign(&package, &n2, b).unwrap()),
            ]);
            frost::aggregate(&package, &shares, public).is_ok()
        };
        assert!(sign(&new[0].key_package, &new[1].key_package, &new[0].public_key_package));
        assert!(!sign(&old[0].key_package, &new[1].key_package, &new[0].public_key_package));
        assert!(!sign(&old[0].key_package, &new[1].key_package, &old[0].public_key_package));
        // t is the share's, not the caller's.
        assert!(matches!(DkgSession::start_refresh(params(1, 3, 3), from(1), &mut OsRng), Err(DkgError::Parameters(_))));
        assert!(matches!(DkgSession::start_refresh(params(2, 3, 2), from(1), &mut OsRng), Err(DkgError::Parameters(_))));
    }
}
