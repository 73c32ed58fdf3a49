//! The key-share store: sled, every share encrypted at rest.
//!
//! Layout (sled trees):
//!
//! * `meta`: `kdf` → the Argon2id salt and parameters, in clear
//!   ([`KdfParams`]); `verifier` → a fixed string sealed under the derived
//!   key, so that a wrong passphrase is refused at open; `identity` → the
//!   signer's long-term Ed25519 identity key (its 32-octet seed), sealed
//!   like a share, made when the store is first opened.
//! * `shares`: `zone \0 key tag (2 octets, big-endian)` → `format (1 octet)
//!   || envelope`, the envelope ([`crate::envelope`]) sealing the whole
//!   record (zone, role, key tag, group key, frost `KeyPackage` and
//!   `PublicKeyPackage`) with the sled key as associated data, so that
//!   values cannot be swapped between keys.
//! * `refreshed_shares`: the same key → a share refreshed by a share
//!   refresh that not every participant has confirmed yet, sealed with
//!   `"refreshed\0" || key` as associated data. Signing uses `shares`;
//!   the commit moves the refreshed share there in one transaction, so
//!   the old share is gone exactly when the new one is in use.
//!
//! The same database holds the signing requests ([`crate::request_store`]).
//!
//! Every write that matters is flushed before it is acknowledged: a kill -9
//! right after a DKG loses nothing. Nothing outside this module and
//! [`crate::request_store`] touches sled.

use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use frostzone_dnssec::keys::{KeyRole, KeyTag};
use frostzone_threshold::frost;
use prost::Message;
use sled::Transactional;
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

use crate::envelope::{self, SecretKey};
/// Defined with the other error types, below every module that returns it.
pub use crate::error::StoreError;
use crate::request_store::RequestStore;

/// Format byte in front of every stored share.
const SHARE_FORMAT: u8 = 1;
/// What the verifier seals.
const VERIFIER_PLAINTEXT: &[u8] = b"frostzone signer store v1";
const META_KDF: &[u8] = b"kdf";
const META_VERIFIER: &[u8] = b"verifier";
const META_IDENTITY: &[u8] = b"identity";
/// Salt length: 16 octets, what RFC 9106 §3.1 recommends.
const SALT_LEN: usize = 16;

/// Argon2id parameters (RFC 9106), stored in clear beside the salt so a
/// later build with other defaults still opens an old store.
#[derive(Clone, PartialEq, Message)]
pub struct KdfParams {
    /// Format of this record.
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// Memory in KiB.
    #[prost(uint32, tag = "2")]
    pub m_cost: u32,
    /// Passes.
    #[prost(uint32, tag = "3")]
    pub t_cost: u32,
    /// Lanes.
    #[prost(uint32, tag = "4")]
    pub p_cost: u32,
    /// The salt.
    #[prost(bytes = "vec", tag = "5")]
    pub salt: Vec<u8>,
}

impl KdfParams {
    /// The argon2 crate's defaults (19 MiB, 2 passes, 1 lane: the OWASP
    /// recommendation for Argon2id) with a fresh salt.
    pub fn new_default() -> KdfParams {
        let mut salt = vec![0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        KdfParams {
            version: 1,
            m_cost: Params::DEFAULT_M_COST,
            t_cost: Params::DEFAULT_T_COST,
            p_cost: Params::DEFAULT_P_COST,
            salt,
        }
    }

    fn derive(&self, passphrase: &[u8]) -> Result<SecretKey, StoreError> {
        let params = Params::new(self.m_cost, self.t_cost, self.p_cost, Some(32))
            .map_err(|e| StoreError::Corrupt(format!("argon2 parameters: {e}")))?;
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, &self.salt, key.as_mut_slice())
            .map_err(|e| StoreError::Corrupt(format!("argon2: {e}")))?;
        Ok(key)
    }
}

/// The stored form of a share (sealed as a whole).
#[derive(Clone, PartialEq, Message)]
struct ShareRecord {
    #[prost(string, tag = "1")]
    zone: String,
    #[prost(uint32, tag = "2")]
    role: u32,
    #[prost(uint32, tag = "3")]
    key_tag: u32,
    #[prost(bytes = "vec", tag = "4")]
    group_public_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    key_package: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    public_key_package: Vec<u8>,
}

impl Drop for ShareRecord {
    fn drop(&mut self) {
        self.key_package.zeroize();
    }
}

fn role_code(role: KeyRole) -> u32 {
    match role {
        KeyRole::Ksk => 1,
        KeyRole::Zsk => 2,
        KeyRole::Csk => 3,
    }
}

fn role_from_code(code: u32) -> Option<KeyRole> {
    match code {
        1 => Some(KeyRole::Ksk),
        2 => Some(KeyRole::Zsk),
        3 => Some(KeyRole::Csk),
        _ => None,
    }
}

/// What the store says about a share without its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareInfo {
    /// The zone (lowercase, with the trailing dot).
    pub zone: String,
    /// The key's role.
    pub role: KeyRole,
    /// The key tag of the group key's DNSKEY.
    pub key_tag: KeyTag,
    /// The group public key (RFC 8032).
    pub group_public_key: [u8; 32],
}

/// A key share with its secret. The `KeyPackage` wipes itself on drop.
#[derive(Clone, Debug)]
pub struct KeyShare {
    /// Zone, role, tag and group key.
    pub info: ShareInfo,
    /// This signer's frost key package (secret).
    pub key_package: frost::keys::KeyPackage,
    /// The group's public key package.
    pub public_key_package: frost::keys::PublicKeyPackage,
}

/// The open store with its derived key.
pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    shares: sled::Tree,
    refreshed: sled::Tree,
    requests: RequestStore,
    key: SecretKey,
    identity: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("key", &"<redacted>")
            .field("identity", &hex::encode(self.identity.verifying_key().as_bytes()))
            .finish()
    }
}

/// How long opening waits for the database lock: sled releases it from a
/// background thread shortly after the previous handle in this process is
/// dropped (a quick reopen, as the `identity` command before a start does).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// sled's page cache. Its default (1 GiB) is what made each signer's peak
/// memory grow with the zone: the baseline is read in order, once per
/// proposal, so a larger cache buys little.
const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Opens sled in `dir`, waiting up to [`LOCK_WAIT`] for its lock; a lock
/// still held then is another process on the same data directory.
fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match sled::Config::new().path(dir).cache_capacity(SLED_CACHE_BYTES).open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::Locked(dir.to_path_buf()));
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(source) => return Err(StoreError::Sled { dir: dir.to_path_buf(), source }),
        }
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`. A new store gets a fresh salt
    /// and [`KdfParams::new_default`]; an existing one is opened with its
    /// own parameters, and a wrong passphrase gives
    /// [`StoreError::WrongPassphrase`].
    pub fn open(dir: &Path, passphrase: &[u8]) -> Result<Store, StoreError> {
        Store::open_with(dir, passphrase, KdfParams::new_default)
    }

    /// As [`Store::open`], with the parameters a new store gets (tests use
    /// cheap ones).
    pub fn open_with(
        dir: &Path,
        passphrase: &[u8],
        new_params: impl FnOnce() -> KdfParams,
    ) -> Result<Store, StoreError> {
        let sled_err = |source| StoreError::Sled {
            dir: dir.to_path_buf(),
            source,
        };
        let db = open_db(dir)?;
        let meta = db.open_tree("meta").map_err(sled_err)?;
        let shares = db.open_tree("shares").map_err(sled_err)?;
        let refreshed = db.open_tree("refreshed_shares").map_err(sled_err)?;
        let key = match (
            meta.get(META_KDF).map_err(sled_err)?,
            meta.get(META_VERIFIER).map_err(sled_err)?,
        ) {
            (Some(kdf), Some(verifier)) => {
                let params = KdfParams::decode(kdf.as_ref())
                    .map_err(|e| StoreError::Corrupt(format!("kdf: {e}")))?;
                let key = params.derive(passphrase)?;
                let plain = envelope::open(&key, META_VERIFIER, &verifier)
                    .map_err(|_| StoreError::WrongPassphrase(dir.to_path_buf()))?;
                if plain.as_slice() != VERIFIER_PLAINTEXT {
                    return Err(StoreError::WrongPassphrase(dir.to_path_buf()));
                }
                key
            }
            (None, None) if shares.is_empty() => {
                let params = new_params();
                let key = params.derive(passphrase)?;
                let mut batch = sled::Batch::default();
                batch.insert(META_KDF, params.encode_to_vec());
                batch.insert(
                    META_VERIFIER,
                    envelope::seal(&key, META_VERIFIER, VERIFIER_PLAINTEXT, &mut OsRng),
                );
                meta.apply_batch(batch).map_err(sled_err)?;
                db.flush().map_err(sled_err)?;
                key
            }
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "{}: key derivation record missing",
                    dir.display()
                )))
            }
        };
        let identity = Store::identity_of(dir, &db, &meta, &key)?;
        let requests = RequestStore::open(&db, dir)?;
        Ok(Store {
            dir: dir.to_path_buf(),
            db,
            shares,
            refreshed,
            requests,
            key,
            identity,
        })
    }

    /// The identity key in `meta`, made (and flushed) at the first open.
    fn identity_of(dir: &Path, db: &sled::Db, meta: &sled::Tree, key: &SecretKey) -> Result<ed25519_dalek::SigningKey, StoreError> {
        let sled_err = |source| StoreError::Sled { dir: dir.to_path_buf(), source };
        if let Some(sealed) = meta.get(META_IDENTITY).map_err(sled_err)? {
            let seed = envelope::open(key, META_IDENTITY, &sealed)
                .map_err(|e| StoreError::Corrupt(format!("identity key: {e}")))?;
            let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
                seed.as_slice().try_into().map_err(|_| StoreError::Corrupt("identity key: not 32 octets".into()))?,
            );
            return Ok(ed25519_dalek::SigningKey::from_bytes(&seed));
        }
        let identity = ed25519_dalek::SigningKey::generate(&mut OsRng);
        let sealed = envelope::seal(key, META_IDENTITY, identity.as_bytes(), &mut OsRng);
        meta.compare_and_swap(META_IDENTITY, None as Option<&[u8]>, Some(sealed))
            .map_err(sled_err)?
            .map_err(|_| StoreError::Corrupt("identity key written twice".into()))?;
        db.flush().map_err(sled_err)?;
        tracing::info!(dir = %dir.display(), "identity key made");
        Ok(identity)
    }

    /// The same store answering with `identity` (tests give their signers
    /// fixed keys, so that they can share one roster).
    #[cfg(test)]
    pub(crate) fn with_identity(mut self, identity: ed25519_dalek::SigningKey) -> Store {
        self.identity = identity;
        self
    }

    /// This signer's long-term identity key: what it signs its statements
    /// to the other signers with ([`frostzone_proto::statement`]).
    pub fn identity(&self) -> &ed25519_dalek::SigningKey {
        &self.identity
    }

    /// The signing requests kept beside the shares.
    pub fn requests(&self) -> &RequestStore {
        &self.requests
    }

    fn sled_err(&self) -> impl Fn(sled::Error) -> StoreError + '_ {
        move |source| StoreError::Sled {
            dir: self.dir.clone(),
            source,
        }
    }

    fn share_key(zone: &str, key_tag: KeyTag) -> Vec<u8> {
        let mut key = Vec::with_capacity(zone.len() + 3);
        key.extend_from_slice(zone.as_bytes());
        key.push(0);
        key.extend_from_slice(&key_tag.0.to_be_bytes());
        key
    }

    /// Stores a new share and flushes. Refuses to overwrite one.
    pub fn put_share(&self, share: &KeyShare) -> Result<(), StoreError> {
        let info = &share.info;
        let sled_key = Store::share_key(&info.zone, info.key_tag);
        let value = self.seal(&sled_key, share)?;
        self.shares
            .compare_and_swap(&sled_key, None as Option<&[u8]>, Some(value))
            .map_err(self.sled_err())?
            .map_err(|_| StoreError::Exists {
                zone: info.zone.clone(),
                key_tag: info.key_tag,
            })?;
        self.db.flush().map_err(self.sled_err())?;
        Ok(())
    }

    /// `format || envelope` of a share, sealed with `associated` as
    /// associated data.
    fn seal(&self, associated: &[u8], share: &KeyShare) -> Result<Vec<u8>, StoreError> {
        let info = &share.info;
        let corrupt = |e: frost::Error| StoreError::Corrupt(format!("serialize: {e}"));
        let record = ShareRecord {
            zone: info.zone.clone(),
            role: role_code(info.role),
            key_tag: info.key_tag.0.into(),
            group_public_key: info.group_public_key.to_vec(),
            key_package: share.key_package.serialize().map_err(corrupt)?,
            public_key_package: share.public_key_package.serialize().map_err(corrupt)?,
        };
        let plain = Zeroizing::new(record.encode_to_vec());
        let mut value = vec![SHARE_FORMAT];
        value.extend_from_slice(&envelope::seal(&self.key, associated, &plain, &mut OsRng));
        Ok(value)
    }

    fn refreshed_key(sled_key: &[u8]) -> Vec<u8> {
        [b"refreshed\0".as_slice(), sled_key].concat()
    }

    /// Keeps `share`, the result of a share refresh, beside the share in
    /// use (replacing an earlier unconfirmed refresh of the same key) and
    /// flushes. Nothing signs with it before [`Store::commit_refreshed_share`].
    pub fn put_refreshed_share(&self, share: &KeyShare) -> Result<(), StoreError> {
        let sled_key = Store::share_key(&share.info.zone, share.info.key_tag);
        let value = self.seal(&Store::refreshed_key(&sled_key), share)?;
        self.refreshed.insert(&sled_key, value).map_err(self.sled_err())?;
        self.db.flush().map_err(self.sled_err())?;
        Ok(())
    }

    /// The refreshed, not yet committed share of `zone` and `key_tag`.
    pub fn refreshed_share(&self, zone: &str, key_tag: KeyTag) -> Result<Option<KeyShare>, StoreError> {
        let sled_key = Store::share_key(zone, key_tag);
        let Some(value) = self.refreshed.get(&sled_key).map_err(self.sled_err())? else {
            return Ok(None);
        };
        let record = self.decode_with(&Store::refreshed_key(&sled_key), &sled_key, &value)?;
        Store::share_of(zone, &record).map(Some)
    }

    /// Replaces the share in use by its refreshed share, deleting the old
    /// one, in one transaction, and flushes. `false` when no refreshed
    /// share is kept (or no share is in use).
    pub fn commit_refreshed_share(&self, zone: &str, key_tag: KeyTag) -> Result<bool, StoreError> {
        let Some(share) = self.refreshed_share(zone, key_tag)? else { return Ok(false) };
        let sled_key = Store::share_key(zone, key_tag);
        let value = self.seal(&sled_key, &share)?;
        let committed = (&self.shares, &self.refreshed)
            .transaction(|(shares, refreshed)| {
                refreshed.remove(sled_key.as_slice())?;
                if shares.get(&sled_key)?.is_none() {
                    return Ok(false);
                }
                shares.insert(sled_key.as_slice(), value.as_slice())?;
                Ok(true)
            })
            .map_err(|e: sled::transaction::TransactionError<()>| match e {
                sled::transaction::TransactionError::Storage(source) => StoreError::Sled { dir: self.dir.clone(), source },
                sled::transaction::TransactionError::Abort(()) => StoreError::Corrupt("share refresh commit aborted".into()),
            })?;
        self.db.flush().map_err(self.sled_err())?;
        Ok(committed)
    }

    fn decode(&self, sled_key: &[u8], value: &[u8]) -> Result<ShareRecord, StoreError> {
        self.decode_with(sled_key, sled_key, value)
    }

    fn decode_with(&self, associated: &[u8], sled_key: &[u8], value: &[u8]) -> Result<ShareRecord, StoreError> {
        let what = String::from_utf8_lossy(sled_key.split(|b| *b == 0).next().unwrap_or_default())
            .into_owned();
        let (format, sealed) = value
            .split_first()
            .ok_or_else(|| StoreError::Corrupt(format!("empty share for {what}")))?;
        if *format != SHARE_FORMAT {
            return Err(StoreError::Corrupt(format!(
                "share for {what} has format {format}"
            )));
        }
        let plain = envelope::open(&self.key, associated, sealed)
            .map_err(|e| StoreError::Corrupt(format!("share for {what}: {e}")))?;
        ShareRecord::decode(plain.as_slice())
            .map_err(|e| StoreError::Corrupt(format!("share for {what}: {e}")))
    }

    fn info(record: &ShareRecord) -> Result<ShareInfo, StoreError> {
        let corrupt =
            |field: &str| StoreError::Corrupt(format!("share for {}: bad {field}", record.zone));
        Ok(ShareInfo {
            zone: record.zone.clone(),
            role: role_from_code(record.role).ok_or_else(|| corrupt("role"))?,
            key_tag: KeyTag(u16::try_from(record.key_tag).map_err(|_| corrupt("key tag"))?),
            group_public_key: record
                .group_public_key
                .as_slice()
                .try_into()
                .map_err(|_| corrupt("group key"))?,
        })
    }

    /// The share for `zone` (normalized) and `key_tag`, if held.
    pub fn get_share(&self, zone: &str, key_tag: KeyTag) -> Result<Option<KeyShare>, StoreError> {
        self.share_record(zone, key_tag)?.map(|record| Store::share_of(zone, &record)).transpose()
    }

    /// The sealed share record for `zone` and `key_tag`, opened.
    fn share_record(&self, zone: &str, key_tag: KeyTag) -> Result<Option<ShareRecord>, StoreError> {
        let sled_key = Store::share_key(zone, key_tag);
        let Some(value) = self.shares.get(&sled_key).map_err(self.sled_err())? else {
            return Ok(None);
        };
        self.decode(&sled_key, &value).map(Some)
    }

    /// What FROST round 1 needs of the share for `zone` and `key_tag`:
    /// its description and this signer's key package, without parsing the
    /// group's public key package (n + 1 points to decompress, on every
    /// Commit).
    pub fn get_signing_share(&self, zone: &str, key_tag: KeyTag) -> Result<Option<(ShareInfo, frost::keys::KeyPackage)>, StoreError> {
        let Some(record) = self.share_record(zone, key_tag)? else {
            return Ok(None);
        };
        let key_package = frost::keys::KeyPackage::deserialize(&record.key_package)
            .map_err(|e| StoreError::Corrupt(format!("share for {zone}: {e}")))?;
        Ok(Some((Store::info(&record)?, key_package)))
    }

    fn share_of(zone: &str, record: &ShareRecord) -> Result<KeyShare, StoreError> {
        let corrupt = |e: frost::Error| StoreError::Corrupt(format!("share for {zone}: {e}"));
        Ok(KeyShare {
            info: Store::info(record)?,
            key_package: frost::keys::KeyPackage::deserialize(&record.key_package).map_err(corrupt)?,
            public_key_package: frost::keys::PublicKeyPackage::deserialize(&record.public_key_package).map_err(corrupt)?,
        })
    }

    /// Replaces the group's public key package kept with the share of
    /// `zone` and `key_tag` (a member joined: the same group key and t,
    /// one verifying share more) and flushes. This signer's own key
    /// package does not change.
    pub fn replace_public_key_package(&self, zone: &str, key_tag: KeyTag, public: &frost::keys::PublicKeyPackage) -> Result<(), StoreError> {
        let mut share = self.get_share(zone, key_tag)?.ok_or_else(|| StoreError::Corrupt(format!("no share of key tag {key_tag} of {zone}")))?;
        let own = share.key_package.identifier();
        if public.verifying_key() != share.public_key_package.verifying_key()
            || public.min_signers() != share.public_key_package.min_signers()
            || public.verifying_shares().get(own) != Some(share.key_package.verifying_share())
        {
            return Err(StoreError::Corrupt(format!("the new public key package of key tag {key_tag} of {zone} is of another group")));
        }
        share.public_key_package = public.clone();
        let sled_key = Store::share_key(zone, key_tag);
        let value = self.seal(&sled_key, &share)?;
        self.shares.insert(sled_key, value).map_err(self.sled_err())?;
        self.db.flush().map_err(self.sled_err())?;
        Ok(())
    }

    /// Deletes the share for `zone` and `key_tag` and flushes; whether one
    /// was held.
    pub fn remove_share(&self, zone: &str, key_tag: KeyTag) -> Result<bool, StoreError> {
        let sled_key = Store::share_key(zone, key_tag);
        self.refreshed.remove(&sled_key).map_err(self.sled_err())?;
        let removed = self.shares.remove(sled_key).map_err(self.sled_err())?.is_some();
        self.db.flush().map_err(self.sled_err())?;
        Ok(removed)
    }

    /// Every share held, without secrets, in zone and key tag order.
    pub fn list(&self) -> Result<Vec<ShareInfo>, StoreError> {
        let mut out = Vec::new();
        for entry in self.shares.iter() {
            let (k, v) = entry.map_err(self.sled_err())?;
            out.push(Store::info(&self.decode(&k, &v)?)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use frostzone_dnssec::keys::ZoneKey;
    use frostzone_threshold::{generate_with_dkg, Quorum};

    /// Cheap Argon2 parameters for tests (the real ones take ~50 ms).
    pub(crate) fn cheap() -> KdfParams {
        KdfParams {
            m_cost: 64,
            t_cost: 1,
            ..KdfParams::new_default()
        }
    }

    fn some_share() -> KeyShare {
        let group = generate_with_dkg(Quorum::new(2, 3).unwrap(), &mut OsRng).unwrap();
        let id = group.identifiers()[0];
        let public = group.public.clone();
        let gk = group.verifying_key_bytes();
        KeyShare {
            info: ShareInfo {
                zone: "example.".into(),
                role: KeyRole::Csk,
                key_tag: ZoneKey::ed25519(KeyRole::Csk, gk).key_tag(),
                group_public_key: gk,
            },
            key_package: group.key_package(&id).unwrap().clone(),
            public_key_package: public,
        }
    }

    #[test]
    fn round_trip_survives_reopen_and_refuses_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let share = some_share();
        {
            let store = Store::open_with(dir.path(), b"pw", cheap).unwrap();
            assert!(store.list().unwrap().is_empty());
            store.put_share(&share).unwrap();
            assert!(matches!(
                store.put_share(&share),
                Err(StoreError::Exists { .. })
            ));
        }
        let store = Store::open_with(dir.path(), b"pw", cheap).unwrap();
        assert_eq!(store.list().unwrap(), vec![share.info.clone()]);
        let back = store
            .get_share("example.", share.info.key_tag)
            .unwrap()
            .unwrap();
        assert_eq!(back.key_package, share.key_package);
        assert_eq!(back.public_key_package, share.public_key_package);
        let (info, key_package) = store.get_signing_share("example.", share.info.key_tag).unwrap().unwrap();
        assert_eq!((info, key_package), (share.info.clone(), share.key_package.clone()));
        assert!(store.get_signing_share("example.", KeyTag(share.info.key_tag.0.wrapping_add(1))).unwrap().is_none());
        assert!(store
            .get_share("example.", KeyTag(share.info.key_tag.0.wrapping_add(1)))
            .unwrap()
            .is_none());
        assert!(store
            .get_share("other.", share.info.key_tag)
            .unwrap()
            .is_none());
    }

    #[test]
    fn the_identity_key_is_made_once_sealed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (public, seed) = {
            let store = Store::open_with(dir.path(), b"pw", cheap).unwrap();
            (store.identity().verifying_key(), store.identity().to_bytes())
        };
        let store = Store::open_with(dir.path(), b"pw", cheap).unwrap();
        assert_eq!(store.identity().verifying_key(), public);
        drop(store);
        // Sealed: the seed is nowhere in the files in clear.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let data = std::fs::read(&path).unwrap();
                assert!(!data.windows(32).any(|w| w == seed), "identity seed in clear in {}", path.display());
            }
        }
    }

    #[test]
    fn wrong_passphrase_is_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open_with(dir.path(), b"right", cheap).unwrap());
        let err = Store::open_with(dir.path(), b"wrong", cheap).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("wrong passphrase for {}", dir.path().display())
        );
        assert!(Store::open_with(dir.path(), b"right", cheap).is_ok());
    }

    /// Neither the secret share nor the serialized KeyPackage appear in
    /// clear anywhere in the sled files.
    #[test]
    fn share_is_not_in_the_files_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let share = some_share();
        let secret = share.key_package.signing_share().serialize();
        let package = share.key_package.serialize().unwrap();
        let public = share.public_key_package.serialize().unwrap();
        let control = b"frostzone control value written in clear".to_vec();
        {
            let store = Store::open_with(dir.path(), b"pw", cheap).unwrap();
            store.put_share(&share).unwrap();
            // A control: a value written without encryption must be found,
            // or the search below proves nothing.
            store
                .db
                .open_tree("control")
                .unwrap()
                .insert(b"c", control.clone())
                .unwrap();
            store.db.flush().unwrap();
        }
        let mut control_seen = false;
        let mut files = vec![dir.path().to_path_buf()];
        let mut bytes_seen = 0;
        let mut public_seen = false;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            bytes_seen += data.len();
            let contains = |needle: &[u8]| data.windows(needle.len()).any(|w| w == needle);
            assert!(
                !contains(&secret),
                "signing share in clear in {}",
                path.display()
            );
            assert!(
                !contains(&package),
                "key package in clear in {}",
                path.display()
            );
            public_seen |= contains(&public);
            control_seen |= contains(&control);
        }
        assert!(bytes_seen > 0);
        assert!(control_seen, "the search does not see clear values");
        // The whole record is sealed, so the public package is not in clear either.
        assert!(!public_seen);
    }
}
