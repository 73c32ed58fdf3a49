//! This participant's side of a share repair: frost `keys::repairable`,
//! the repairable threshold scheme (RTS) of Laing and Stinson. Pure logic:
//! the service moves the bytes.
//!
//! ```text
//!  helper:   start ──deltas()──► Deltas ──sigma()──► sigma sealed for the repaired signer
//!  repaired: start ─────────────────────────────────► finish() ──► rebuilt key package
//! ```
//!
//! * **Start** ([`RepairSession::start`]): a one-time X25519 key (memory
//!   only), which the caller signs with its identity key
//!   ([`frostzone_proto::statement::Statement::RepairKey`]).
//! * **Deltas** (helpers, [`RepairSession::deltas`]): every participant's
//!   signed key, checked against this signer's roster (a relay that
//!   substitutes a key of its own to read deltas or sigmas is caught
//!   here); frost `repair_share_part1` splits this helper's share, weighted
//!   by its Lagrange coefficient, into one random delta per helper, each
//!   sealed for its helper.
//! * **Sigma** (helpers, [`RepairSession::sigma`]): the deltas addressed to
//!   this helper, one from every other helper, and its own, summed
//!   (`repair_share_part2`) into a sigma sealed for the repaired signer.
//!   No helper learns another's share: each delta alone is uniformly
//!   random.
//! * **Join**: the repaired participant may be new to the group (at the
//!   same t); every holder then helps, and the package each signs carries
//!   the newcomer's verifying share interpolated from theirs
//!   ([`frostzone_threshold::joined_public_key_package`]).
//! * **Finish** (the repaired signer, [`RepairSession::finish`]): opens
//!   every helper's sigma, sums them (`repair_share_part3`), and keeps the
//!   share only if it matches the verifying share of this participant in
//!   the group's public key package, which every helper signed: a wrong
//!   sigma, a helper short or a forged package cannot give it a wrong
//!   share unnoticed.

use std::collections::{BTreeMap, BTreeSet};

use frost::keys::repairable::{self, Delta, Sigma};
use frostzone_dnssec::keys::{KeyRole, KeyTag, ZoneKey};
use frostzone_proto::roster::Roster;
use frostzone_proto::statement::Statement;
use frostzone_threshold::{display_identifier, frost, Identifier};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

use crate::dkg::{DkgError, RefreshOf, SealedPackage};
use crate::envelope;

/// Associated data of a sealed delta.
const DELTA_AAD: &[u8] = b"frostzone repair delta v1";
/// Associated data of a sealed sigma.
const SIGMA_AAD: &[u8] = b"frostzone repair sigma v1";

/// What a repair is for and who takes part.
#[derive(Clone, Debug)]
pub struct RepairParams {
    /// Names the run; binds the transport keys.
    pub session_id: Vec<u8>,
    /// The approved repair ceremony.
    pub request_id: String,
    /// Zone, normalized.
    pub zone: String,
    /// The key's role.
    pub role: KeyRole,
    /// The key's tag.
    pub key_tag: KeyTag,
    /// The group public key (RFC 8032).
    pub group_public_key: [u8; 32],
    /// t.
    pub threshold: u16,
    /// The helpers (t or more other holders).
    pub helpers: BTreeSet<Identifier>,
    /// The participant whose share is rebuilt.
    pub repaired: Identifier,
    /// This participant.
    pub me: Identifier,
}

impl RepairParams {
    /// What `sender` signs about its one-time key.
    pub fn key_statement<'a>(&'a self, sender: &'a Identifier, encryption_key: &'a [u8]) -> Statement<'a> {
        Statement::RepairKey {
            session_id: &self.session_id,
            request_id: &self.request_id,
            zone: &self.zone,
            key_tag: self.key_tag.0,
            sender,
            encryption_key,
        }
    }

    /// What helper `sender` signs about the public key package.
    pub fn package_statement<'a>(&'a self, sender: &'a Identifier, package_digest: &'a [u8]) -> Statement<'a> {
        Statement::RepairPackage { session_id: &self.session_id, key_tag: self.key_tag.0, package_digest, sender }
    }
}

/// SHA-256 of a serialized public key package.
pub fn package_digest(package: &[u8]) -> [u8; 32] {
    Sha256::digest(package).into()
}

/// A participant's signed one-time key, as relayed.
#[derive(Clone, Debug)]
pub struct KeyEntry {
    /// Whose.
    pub from: Identifier,
    /// Its one-time X25519 public key.
    pub encryption_key: Vec<u8>,
    /// Its identity signature ([`RepairParams::key_statement`]).
    pub signature: Vec<u8>,
}

/// A helper's sealed sigma and signed package, as relayed.
#[derive(Clone, Debug)]
pub struct SigmaEntry {
    /// Which helper.
    pub from: Identifier,
    /// The sigma, sealed for the repaired signer.
    pub ciphertext: Vec<u8>,
    /// Its identity signature over the package ([`RepairParams::package_statement`]).
    pub package_signature: Vec<u8>,
}

/// A helper's part: its share of the key.
pub type HelperShare = RefreshOf;

enum State {
    Started,
    Deltas { own: Delta, keys: BTreeMap<Identifier, PublicKey> },
}

/// One participant's share repair in progress (its secrets wipe
/// themselves when dropped).
pub struct RepairSession {
    params: RepairParams,
    x25519: StaticSecret,
    helper: Option<HelperShare>,
    state: State,
}

impl std::fmt::Debug for RepairSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepairSession").field("params", &self.params).field("secrets", &"<redacted>").finish()
    }
}

fn frost_error(step: &'static str) -> impl Fn(frost::Error) -> DkgError {
    move |source| DkgError::Frost { step, source }
}

impl RepairSession {
    /// Starts this participant's side: a helper with its share (`Some`),
    /// or the repaired signer (`None`). Returns the one-time key to sign.
    pub fn start<R: RngCore + CryptoRng>(params: RepairParams, helper: Option<HelperShare>, rng: &mut R) -> Result<(RepairSession, [u8; 32]), DkgError> {
        if params.helpers.contains(&params.repaired) || params.helpers.len() < usize::from(params.threshold) {
            return Err(DkgError::Parameters(format!("{} helpers besides the repaired signer, t is {}", params.helpers.len(), params.threshold)));
        }
        match &helper {
            Some(share) => {
                if !params.helpers.contains(&params.me) {
                    return Err(DkgError::NotAParticipant(params.me));
                }
                let public = &share.public_key_package;
                let holders = public.verifying_shares();
                if *share.key_package.identifier() != params.me
                    || group_key(public)? != params.group_public_key
                    || params.helpers.iter().any(|h| !holders.contains_key(h))
                {
                    return Err(DkgError::Parameters("this signer's share is not of the group the repair names".into()));
                }
                // A join (the repaired is no holder yet) needs every holder as a helper, so
                // that every holder's package gets the new verifying share.
                if !holders.contains_key(&params.repaired) && !holders.keys().eq(params.helpers.iter()) {
                    return Err(DkgError::Parameters("a new holder joins only with every holder helping".into()));
                }
            }
            None if params.me != params.repaired => return Err(DkgError::NotAParticipant(params.me)),
            None => {}
        }
        let x25519 = StaticSecret::random_from_rng(&mut *rng);
        let key = PublicKey::from(&x25519).to_bytes();
        Ok((RepairSession { params, x25519, helper, state: State::Started }, key))
    }

    /// The parameters the session was started with.
    pub fn params(&self) -> &RepairParams {
        &self.params
    }

    /// Every `expected` participant's one-time key, each checked against
    /// its identity key in `roster`.
    fn checked_keys(&self, entries: &[KeyEntry], expected: &BTreeSet<Identifier>, roster: &Roster) -> Result<BTreeMap<Identifier, PublicKey>, DkgError> {
        let mut keys = BTreeMap::new();
        for e in entries {
            if !expected.contains(&e.from) {
                return Err(DkgError::Entry { from: e.from, reason: "not a participant of this repair".into() });
            }
            let key: [u8; 32] = e
                .encryption_key
                .as_slice()
                .try_into()
                .map_err(|_| DkgError::Entry { from: e.from, reason: format!("X25519 key of {} octets", e.encryption_key.len()) })?;
            roster.verify(&e.from, &self.params.key_statement(&e.from, &key), &e.signature).map_err(|err| DkgError::Unauthenticated {
                from: e.from,
                reason: format!("one-time key: {err}; refusing this repair"),
            })?;
            if keys.insert(e.from, PublicKey::from(key)).is_some() {
                return Err(DkgError::Entry { from: e.from, reason: "one-time key given twice".into() });
            }
        }
        if let Some(missing) = expected.iter().find(|id| !keys.contains_key(id)) {
            return Err(DkgError::Entry { from: *missing, reason: "no one-time key".into() });
        }
        Ok(keys)
    }

    fn transport_key(&self, their: &PublicKey, from: &Identifier, to: &Identifier) -> Result<envelope::SecretKey, DkgError> {
        envelope::dkg_key(&self.params.session_id, &self.x25519, their, from, to).map_err(|e| DkgError::Entry { from: *from, reason: e.to_string() })
    }

    /// Helper, step 2: every participant's key checked, then frost
    /// `repair_share_part1`; one sealed delta for each other helper.
    pub fn deltas<R: RngCore + CryptoRng>(mut self, entries: &[KeyEntry], roster: &Roster, rng: &mut R) -> Result<(RepairSession, Vec<SealedPackage>), DkgError> {
        let Some(share) = &self.helper else { return Err(DkgError::OutOfOrder("the repaired signer makes no deltas")) };
        if !matches!(self.state, State::Started) {
            return Err(DkgError::OutOfOrder("deltas were made already"));
        }
        let p = &self.params;
        let mut everyone = p.helpers.clone();
        everyone.insert(p.repaired);
        everyone.remove(&p.me);
        let keys = self.checked_keys(entries, &everyone, roster)?;
        let helpers: Vec<Identifier> = p.helpers.iter().copied().collect();
        let mut deltas = repairable::repair_share_part1::<frost::Ed25519Sha512, _>(&helpers, &share.key_package, rng, p.repaired).map_err(frost_error("repair part 1"))?;
        let own = deltas.remove(&p.me).ok_or(DkgError::OutOfOrder("frost made no delta for this helper"))?;
        let mut sealed = Vec::with_capacity(deltas.len());
        for (to, delta) in deltas {
            let their = keys.get(&to).ok_or(DkgError::Entry { from: to, reason: "frost addressed an unknown helper".into() })?;
            let key = self.transport_key(their, &p.me, &to)?;
            let plain = zeroize::Zeroizing::new(delta.serialize());
            sealed.push(SealedPackage { from: p.me, to, ciphertext: envelope::seal(&key, DELTA_AAD, &plain, rng) });
        }
        self.state = State::Deltas { own, keys };
        Ok((self, sealed))
    }

    /// Whether the repaired participant is new to the group (a join).
    pub fn is_join(&self) -> bool {
        self.helper.as_ref().is_some_and(|h| !h.public_key_package.verifying_shares().contains_key(&self.params.repaired))
    }

    /// Helper, step 3: the deltas the other helpers sealed for this one,
    /// each once, and its own, summed (frost `repair_share_part2`) into a
    /// sigma sealed for the repaired signer. Returns it and the public key
    /// package to sign (for a join, with the new participant's verifying
    /// share interpolated from the helpers': this helper stores it too);
    /// the session ends.
    pub fn sigma<R: RngCore + CryptoRng>(self, packages: Vec<SealedPackage>, rng: &mut R) -> Result<(SealedPackage, frost::keys::PublicKeyPackage), DkgError> {
        let (State::Deltas { own, keys }, Some(share)) = (&self.state, &self.helper) else {
            return Err(DkgError::OutOfOrder("sigma before deltas"));
        };
        let p = &self.params;
        let mut received: BTreeMap<Identifier, Delta> = BTreeMap::new();
        for sealed in packages {
            let from = sealed.from;
            if sealed.to != p.me || from == p.me || !p.helpers.contains(&from) {
                return Err(DkgError::Entry { from, reason: format!("delta to {} is not one this helper takes", display_identifier(&sealed.to)) });
            }
            let their = keys.get(&from).ok_or(DkgError::Entry { from, reason: "no one-time key".into() })?;
            let key = self.transport_key(their, &from, &p.me)?;
            let plain = envelope::open(&key, DELTA_AAD, &sealed.ciphertext).map_err(|e| DkgError::Entry { from, reason: format!("delta: {e}") })?;
            let delta = Delta::deserialize(&plain).map_err(|e| DkgError::Entry { from, reason: format!("delta does not parse: {e}") })?;
            if received.insert(from, delta).is_some() {
                return Err(DkgError::Entry { from, reason: "delta given twice".into() });
            }
        }
        if let Some(missing) = p.helpers.iter().find(|h| **h != p.me && !received.contains_key(h)) {
            return Err(DkgError::Entry { from: *missing, reason: "no delta".into() });
        }
        let mut deltas: Vec<Delta> = received.into_values().collect();
        deltas.push(*own);
        let sigma = repairable::repair_share_part2(&deltas);
        let their = keys.get(&p.repaired).ok_or(DkgError::Entry { from: p.repaired, reason: "no one-time key".into() })?;
        let key = self.transport_key(their, &p.me, &p.repaired)?;
        let plain = zeroize::Zeroizing::new(sigma.serialize());
        let sealed = SealedPackage { from: p.me, to: p.repaired, ciphertext: envelope::seal(&key, SIGMA_AAD, &plain, rng) };
        let package = if self.is_join() {
            frostzone_threshold::joined_public_key_package(&share.public_key_package, &p.helpers, p.repaired)
                .map_err(|e| DkgError::Parameters(format!("the joiner's verifying share: {e}")))?
        } else {
            share.public_key_package.clone()
        };
        Ok((sealed, package))
    }

    /// The repaired signer: every helper's key and sigma, the package every
    /// helper signed; the rebuilt key package, checked against this
    /// participant's verifying share in it, and the package.
    pub fn finish(
        self,
        keys: &[KeyEntry],
        sigmas: &[SigmaEntry],
        package: &[u8],
        roster: &Roster,
    ) -> Result<(frost::keys::KeyPackage, frost::keys::PublicKeyPackage), DkgError> {
        if self.helper.is_some() {
            return Err(DkgError::OutOfOrder("a helper does not finish a repair"));
        }
        let p = &self.params;
        let keys = self.checked_keys(keys, &p.helpers, roster)?;
        let digest = package_digest(package);
        let mut opened: BTreeMap<Identifier, Sigma> = BTreeMap::new();
        for s in sigmas {
            let from = s.from;
            let their = keys.get(&from).ok_or(DkgError::Entry { from, reason: "a sigma from outside the helpers".into() })?;
            roster.verify(&from, &p.package_statement(&from, &digest), &s.package_signature).map_err(|e| DkgError::Unauthenticated {
                from,
                reason: format!("public key package: {e}; refusing this repair"),
            })?;
            let key = self.transport_key(their, &from, &p.me)?;
            let plain = envelope::open(&key, SIGMA_AAD, &s.ciphertext).map_err(|e| DkgError::Entry { from, reason: format!("sigma: {e}") })?;
            let sigma = Sigma::deserialize(&plain).map_err(|e| DkgError::Entry { from, reason: format!("sigma does not parse: {e}") })?;
            if opened.insert(from, sigma).is_some() {
                return Err(DkgError::Entry { from, reason: "sigma given twice".into() });
            }
        }
        if let Some(missing) = p.helpers.iter().find(|h| !opened.contains_key(h)) {
            return Err(DkgError::Entry { from: *missing, reason: "no sigma".into() });
        }
        let public = frost::keys::PublicKeyPackage::deserialize(package).map_err(frost_error("repair part 3"))?;
        if group_key(&public)? != p.group_public_key
            || ZoneKey::ed25519(p.role, p.group_public_key).key_tag() != p.key_tag
            || public.min_signers() != Some(p.threshold)
        {
            return Err(DkgError::Parameters("the public key package is not of the key, t and tag the repair names".into()));
        }
        let sigmas: Vec<Sigma> = opened.into_values().collect();
        let key_package = repairable::repair_share_part3(&sigmas, p.me, &public).map_err(frost_error("repair part 3"))?;
        let expected = public.verifying_shares().get(&p.me);
        if expected != Some(key_package.verifying_share()) {
            return Err(DkgError::Parameters(
                "the rebuilt share does not match this signer's verifying share in the group's package: a helper sent a wrong sigma".into(),
            ));
        }
        Ok((key_package, public))
    }
}

fn group_key(public: &frost::keys::PublicKeyPackage) -> Result<[u8; 32], DkgError> {
    public
        .verifying_key()
        .serialize()
        .map_err(frost_error("group key"))?
        .as_slice()
        .try_into()
        .map_err(|_| DkgError::Parameters("group key is not 32 octets".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use frostzone_proto::roster::IdentityKey;
    use rand::rngs::OsRng;

    fn identity(k: u16) -> SigningKey {
        SigningKey::from_bytes(&[k as u8; 32])
    }

    fn id(k: u16) -> Identifier {
        Identifier::try_from(k).unwrap()
    }

    fn roster(n: u16, t: u16) -> Roster {
        let members: Vec<(u16, String, IdentityKey)> =
            (1..=n).map(|k| (k, format!("signer-{k}"), IdentityKey(identity(k).verifying_key()))).collect();
        Roster::parse(&Roster::to_toml(t, &members), std::path::Path::new("roster.toml")).unwrap()
    }

    /// A 3-of-5 key dealt by frost's trusted dealer (the repair does not
    /// care how the shares were made).
    fn dealt() -> (BTreeMap<Identifier, frost::keys::KeyPackage>, frost::keys::PublicKeyPackage) {
        let (shares, public) =
            frost::keys::generate_with_dealer(5, 3, frost::keys::IdentifierList::Default, OsRng).unwrap();
        let packages = shares.into_iter().map(|(i, s)| (i, frost::keys::KeyPackage::try_from(s).unwrap())).collect();
        (packages, public)
    }

    fn params(me: u16, helpers: &[u16], repaired: u16, public: &frost::keys::PublicKeyPackage) -> RepairParams {
        let group_public_key = group_key(public).unwrap();
        RepairParams {
            session_id: b"repair-session-1".to_vec(),
            request_id: "00aa".into(),
            zone: "example.".into(),
            role: KeyRole::Csk,
            key_tag: ZoneKey::ed25519(KeyRole::Csk, group_public_key).key_tag(),
            group_public_key,
            threshold: 3,
            helpers: helpers.iter().map(|h| id(*h)).collect(),
            repaired: id(repaired),
            me: id(me),
        }
    }

    /// Runs a whole repair of participant 5 by helpers 1..=3; `tamper`
    /// may change the sigmas the repaired signer is shown.
    fn repair(tamper: impl Fn(&mut Vec<SigmaEntry>)) -> (Result<frost::keys::KeyPackage, DkgError>, frost::keys::KeyPackage) {
        let (shares, public) = dealt();
        let helpers = [1u16, 2, 3];
        let roster = roster(5, 3);
        let mut sessions = Vec::new();
        let mut keys = Vec::new();
        for h in helpers {
            let share = HelperShare { key_package: shares[&id(h)].clone(), public_key_package: public.clone() };
            let (s, key) = RepairSession::start(params(h, &helpers, 5, &public), Some(share), &mut OsRng).unwrap();
            let sig = s.params().key_statement(&id(h), &key).sign(&identity(h));
            keys.push(KeyEntry { from: id(h), encryption_key: key.to_vec(), signature: sig });
            sessions.push(s);
        }
        let (repaired, key) = RepairSession::start(params(5, &helpers, 5, &public), None, &mut OsRng).unwrap();
        let sig = repaired.params().key_statement(&id(5), &key).sign(&identity(5));
        let repaired_key = KeyEntry { from: id(5), encryption_key: key.to_vec(), signature: sig };
        let mut sealed = Vec::new();
        let mut next = Vec::new();
        for s in sessions {
            let me = s.params().me;
            let mut others: Vec<KeyEntry> = keys.iter().filter(|k| k.from != me).cloned().collect();
            others.push(repaired_key.clone());
            let (s, out) = s.deltas(&others, &roster, &mut OsRng).unwrap();
            sealed.extend(out);
            next.push(s);
        }
        let mut sigmas = Vec::new();
        let mut package = Vec::new();
        for s in next {
            let me = s.params().me;
            let mine = sealed.iter().filter(|p| p.to == me).cloned().collect();
            let (sigma, p) = s.sigma(mine, &mut OsRng).unwrap();
            let p = p.serialize().unwrap();
            let statement = Statement::RepairPackage { session_id: b"repair-session-1", key_tag: repaired.params().key_tag.0, package_digest: &package_digest(&p), sender: &me };
            sigmas.push(SigmaEntry { from: me, ciphertext: sigma.ciphertext, package_signature: statement.sign(&identity(number(&me))) });
            package = p;
        }
        tamper(&mut sigmas);
        let result = repaired.finish(&keys, &sigmas, &package, &roster).map(|(k, _)| k);
        (result, shares[&id(5)].clone())
    }

    fn number(i: &Identifier) -> u16 {
        (1..=5u16).find(|k| id(*k) == *i).unwrap()
    }

    #[test]
    fn three_helpers_rebuild_the_lost_share() {
        let (rebuilt, lost) = repair(|_| {});
        let rebuilt = rebuilt.unwrap();
        assert_eq!(rebuilt.signing_share(), lost.signing_share());
        assert_eq!(rebuilt.verifying_share(), lost.verifying_share());
    }

    /// Sigmas swapped between helpers, a package signed with another
    /// helper's signature, a missing helper, a damaged sigma: refused,
    /// nothing rebuilt.
    #[test]
    fn wrong_or_missing_sigmas_are_refused() {
        let (r, _) = repair(|s| {
            let first = s[0].ciphertext.clone();
            s[0].ciphertext = s[1].ciphertext.clone();
            s[1].ciphertext = first;
        });
        assert!(matches!(r, Err(DkgError::Entry { .. })), "{r:?}");
        let (r, _) = repair(|s| {
            let first = s[0].package_signature.clone();
            s[1].package_signature = first;
        });
        assert!(matches!(r, Err(DkgError::Unauthenticated { .. })), "{r:?}");
        let (r, _) = repair(|s| {
            s.pop();
        });
        assert!(matches!(r, Err(DkgError::Entry { .. })), "{r:?}");
        let (r, _) = repair(|s| {
            s[0].ciphertext[20] ^= 1;
        });
        assert!(matches!(r, Err(DkgError::Entry { .. })), "{r:?}");
    }

    #[test]
    fn fewer_than_t_helpers_or_the_repaired_helping_are_refused() {
        let (shares, public) = dealt();
        let share = || HelperShare { key_package: shares[&id(1)].clone(), public_key_package: public.clone() };
        assert!(RepairSession::start(params(1, &[1, 2], 5, &public), Some(share()), &mut OsRng).is_err());
        assert!(RepairSession::start(params(1, &[1, 2, 5], 5, &public), Some(share()), &mut OsRng).is_err());
        assert!(RepairSession::start(params(4, &[1, 2, 3], 5, &public), None, &mut OsRng).is_err());
    }
}
