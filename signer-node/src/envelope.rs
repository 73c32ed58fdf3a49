//! ChaCha20-Poly1305 (RFC 8439) envelopes: for key shares at rest, and for
//! secrets in transit through the coordinator (DKG round-2 packages, imported
//! shares) under keys agreed with one-time X25519 keys (RFC 7748).
//!
//! An envelope is `nonce (12 octets, random) || ciphertext || tag`. The
//! transport keys are
//!
//! ```text
//! DKG:    SHA-256("frostzone dkg v1"    || session_id || X25519(a, B) || sender_id || recipient_id)
//! import: SHA-256("frostzone import v1" || session_id || X25519(a, B))
//! ```
//!
//! with identifiers in frost's 32-octet serialization. The CLI uses
//! [`seal_import_share`] to encrypt a share for a signer.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use frostzone_threshold::Identifier;

/// Octets of the random nonce in front of every envelope.
pub const NONCE_LEN: usize = 12;

/// Label of the DKG round-2 transport key.
const DKG_LABEL: &[u8] = b"frostzone dkg v1";
/// Label of the share-import transport key.
const IMPORT_LABEL: &[u8] = b"frostzone import v1";

/// A 256-bit symmetric key that wipes itself.
pub type SecretKey = Zeroizing<[u8; 32]>;

/// An envelope that could not be opened, or a peer key that is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Shorter than a nonce and a tag.
    #[error("envelope too short")]
    TooShort,
    /// Authentication failed: wrong key, wrong associated data, or tampered.
    #[error("envelope does not authenticate")]
    Forged,
    /// An X25519 public key is not 32 octets.
    #[error("X25519 public key must be 32 octets, got {0}")]
    KeyLength(usize),
    /// The X25519 exchange gave the all-zero secret (a low-order point,
    /// RFC 7748 §6.1).
    #[error("X25519 public key is of low order")]
    LowOrder,
}

/// Encrypts `plaintext` under `key`, authenticating `aad` too.
pub fn seal<R: RngCore + CryptoRng>(
    key: &[u8; 32],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut R,
) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
    out.extend_from_slice(&nonce);
    // Encryption into a Vec only fails for messages beyond 256 GiB.
    match cipher.encrypt(
        Nonce::from_slice(&nonce),
        Payload {
            msg: plaintext,
            aad,
        },
    ) {
        Ok(ct) => out.extend_from_slice(&ct),
        Err(_) => unreachable!("ChaCha20-Poly1305 encryption of a short message cannot fail"),
    }
    out
}

/// Decrypts an envelope made by [`seal`] with the same key and `aad`.
pub fn open(
    key: &[u8; 32],
    aad: &[u8],
    envelope: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    if envelope.len() < NONCE_LEN + 16 {
        return Err(EnvelopeError::TooShort);
    }
    let (nonce, ct) = envelope.split_at(NONCE_LEN);
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| EnvelopeError::Forged)
}

/// A peer's X25519 public key from the wire.
pub fn public_key(bytes: &[u8]) -> Result<PublicKey, EnvelopeError> {
    let array: [u8; 32] = bytes
        .try_into()
        .map_err(|_| EnvelopeError::KeyLength(bytes.len()))?;
    Ok(PublicKey::from(array))
}

fn shared_secret(
    mine: &StaticSecret,
    theirs: &PublicKey,
) -> Result<Zeroizing<[u8; 32]>, EnvelopeError> {
    let shared = mine.diffie_hellman(theirs);
    if !shared.was_contributory() {
        return Err(EnvelopeError::LowOrder);
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

/// The key of the round-2 package `sender` sends `recipient` in DKG
/// `session_id`. Both ends compute the same key from their own secret and
/// the other's public key.
pub fn dkg_key(
    session_id: &[u8],
    mine: &StaticSecret,
    theirs: &PublicKey,
    sender: &Identifier,
    recipient: &Identifier,
) -> Result<SecretKey, EnvelopeError> {
    let shared = shared_secret(mine, theirs)?;
    let mut h = Sha256::new();
    h.update(DKG_LABEL);
    h.update(session_id);
    h.update(shared.as_slice());
    h.update(sender.serialize());
    h.update(recipient.serialize());
    Ok(Zeroizing::new(h.finalize().into()))
}

/// The key of the share sent to a signer in import session `session_id`.
pub fn import_key(
    session_id: &[u8],
    mine: &StaticSecret,
    theirs: &PublicKey,
) -> Result<SecretKey, EnvelopeError> {
    let shared = shared_secret(mine, theirs)?;
    let mut h = Sha256::new();
    h.update(IMPORT_LABEL);
    h.update(session_id);
    h.update(shared.as_slice());
    Ok(Zeroizing::new(h.finalize().into()))
}

/// The importer's side of a share import: encrypts a serialized frost
/// `KeyPackage` to the signer's one-time key (from `ImportBegin`) under a
/// fresh one-time key of our own. Returns `(sender_key, ciphertext)` for
/// `ImportFinishRequest`.
pub fn seal_import_share<R: RngCore + CryptoRng>(
    session_id: &[u8],
    signer_key: &[u8],
    key_package: &[u8],
    rng: &mut R,
) -> Result<([u8; 32], Vec<u8>), EnvelopeError> {
    let theirs = public_key(signer_key)?;
    let mine = StaticSecret::random_from_rng(&mut *rng);
    let key = import_key(session_id, &mine, &theirs)?;
    Ok((
        PublicKey::from(&mine).to_bytes(),
        seal(&key, &[], key_package, rng),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    #[test]
    fn seal_open_and_tamper() {
        let key = [7u8; 32];
        let env = seal(&key, b"aad", b"secret", &mut OsRng);
        assert_eq!(open(&key, b"aad", &env).unwrap().as_slice(), b"secret");
        assert_eq!(
            open(&key, b"other", &env).unwrap_err(),
            EnvelopeError::Forged
        );
        assert_eq!(
            open(&[8u8; 32], b"aad", &env).unwrap_err(),
            EnvelopeError::Forged
        );
        let mut bad = env.clone();
        bad[NONCE_LEN] ^= 1;
        assert_eq!(open(&key, b"aad", &bad).unwrap_err(), EnvelopeError::Forged);
        assert_eq!(
            open(&key, b"aad", &env[..20]).unwrap_err(),
            EnvelopeError::TooShort
        );
    }

    #[test]
    fn both_ends_agree_and_direction_matters() {
        let a = StaticSecret::random_from_rng(OsRng);
        let b = StaticSecret::random_from_rng(OsRng);
        let (ia, ib) = (
            Identifier::try_from(1u16).unwrap(),
            Identifier::try_from(2u16).unwrap(),
        );
        let k_ab = dkg_key(b"s", &a, &PublicKey::from(&b), &ia, &ib).unwrap();
        assert_eq!(
            k_ab,
            dkg_key(b"s", &b, &PublicKey::from(&a), &ia, &ib).unwrap()
        );
        assert_ne!(
            k_ab,
            dkg_key(b"s", &b, &PublicKey::from(&a), &ib, &ia).unwrap()
        );
        assert_ne!(
            k_ab,
            dkg_key(b"t", &b, &PublicKey::from(&a), &ia, &ib).unwrap()
        );
        assert_eq!(
            dkg_key(b"s", &a, &PublicKey::from([0u8; 32]), &ia, &ib).unwrap_err(),
            EnvelopeError::LowOrder
        );
    }

    #[test]
    fn import_round_trip() {
        let signer = StaticSecret::random_from_rng(OsRng);
        let (sender, ct) = seal_import_share(
            b"sess",
            PublicKey::from(&signer).as_bytes(),
            b"package",
            &mut OsRng,
        )
        .unwrap();
        let key = import_key(b"sess", &signer, &PublicKey::from(sender)).unwrap();
        assert_eq!(open(&key, &[], &ct).unwrap().as_slice(), b"package");
    }
}
