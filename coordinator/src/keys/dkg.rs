//! Key creation across the signers: relaying FROST DKG (RFC 9591
//! Appendix C, frost `keys::dkg`) and the import of an existing key.
//!
//! Both are key ceremonies every signer approves first
//! ([`crate::keys::ceremony`]); the group's t and participants are checked by
//! each signer against its own roster, not taken from this coordinator.
//! The coordinator only moves messages, and cannot alter them: every
//! round-1 output and round-1 digest (the echo check) is signed by its
//! sender's identity key and checked by every receiver, and round-2
//! packages are encrypted end to end between signers under those signed
//! keys, so it never sees a share. It checks that every signer ends with
//! the same group key and public key package, and that the new key's tag
//! does not collide with another key of the zone (RFC 4034 Appendix B key
//! tags are 16 bits: colliding tags in one DNSKEY set are what broke .de;
//! the signers check the same). A colliding DKG key is thrown away and DKG
//! runs again under the same approved ceremony; an imported key cannot be
//! remade, so a collision refuses it.
//!
//! DKG and import need every configured signer: DKG because every
//! participant contributes to every share, import because every signer
//! must get its share.

use std::collections::{BTreeMap, BTreeSet};

use frostzone_dnssec::keys::{KeyRole, ZoneKey};
use frostzone_proto::v1 as pb;
use frostzone_proto::API_VERSION;
use frostzone_threshold::frost;

use crate::keys::ceremony::{seek, Decided};
use crate::error::CoordinatorError;
use crate::keys::{group_key_bytes, key_group_info, role_to_proto, zone_name};
use crate::registry::{KeyGroupRecord, RECORD_VERSION};
use crate::signers::{fan_out, SignerCallError, SignerHandle};
use crate::{unix_now, Coordinator};

/// How often DKG is run again when the new key's tag collides with a key
/// the zone already has. With a handful of keys per zone a collision has
/// a probability of about 1 in 10,000, so four in a row mean a bug.
pub const MAX_DKG_ATTEMPTS: usize = 4;

/// Every result, or the first failure as "needs every signer".
pub(crate) fn all_ok<T>(operation: &'static str, results: Vec<Result<T, SignerCallError>>) -> Result<Vec<T>, CoordinatorError> {
    let mut out = Vec::with_capacity(results.len());
    let mut first = None;
    for r in results {
        match r {
            Ok(v) => out.push(v),
            Err(e) => {
                tracing::warn!(signer = %e.signer, "{operation}: {e}");
                first.get_or_insert(e);
            }
        }
    }
    match first {
        Some(source) => Err(CoordinatorError::SignerNeeded { operation, source }),
        None => Ok(out),
    }
}

/// Tags (same algorithm: every frostzone key is Ed25519) already used in
/// the zone by any key the registry holds (standby, published, retired),
/// each as published and as revoked (RFC 5011 §2.1).
fn used_tags(c: &Coordinator, zone: &str) -> Result<BTreeMap<u16, String>, CoordinatorError> {
    let mut used = BTreeMap::new();
    for group in c.registry.key_groups(Some(zone))? {
        let Some(role) = crate::keys::role_from_record(&group.role) else { continue };
        let Some(key) = hex::decode(&group.group_public_key).ok().and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok()) else { continue };
        let [tag, revoked] = ZoneKey::ed25519(role, key).tags_in_any_state();
        used.insert(tag.0, format!("{} (key tag {tag})", group.role));
        used.insert(revoked.0, format!("{} (key tag {tag}, revoked {revoked})", group.role));
    }
    Ok(used)
}

/// The zone key `key` would collide with, by either of its tags.
fn collision(c: &Coordinator, zone: &str, key: &ZoneKey) -> Result<Option<String>, CoordinatorError> {
    let used = used_tags(c, zone)?;
    Ok(key.tags_in_any_state().iter().find_map(|t| used.get(&t.0).cloned()))
}

/// What the signers agreed on at the end of a DKG or import.
pub(crate) struct GroupResult {
    pub(crate) group_key: [u8; 32],
    pub(crate) package: Vec<u8>,
    pub(crate) public: frost::keys::PublicKeyPackage,
}

/// Parses and checks a public key package against the group key the
/// signers reported.
pub(crate) fn check_package(package: &[u8], group_key: &[u8], who: &str) -> Result<GroupResult, CoordinatorError> {
    let public = frost::keys::PublicKeyPackage::deserialize(package)
        .map_err(|e| CoordinatorError::Disagreement(format!("{who}: public key package does not parse: {e}")))?;
    let key = group_key_bytes(&public)
        .ok_or_else(|| CoordinatorError::Disagreement(format!("{who}: group key does not encode")))?;
    if key.as_slice() != group_key {
        return Err(CoordinatorError::Disagreement(format!("{who}: group key differs from its public key package")));
    }
    Ok(GroupResult { group_key: key, package: package.to_vec(), public })
}

/// The group every key ceremony of this coordinator makes: its threshold
/// and every configured signer, in identifier order.
fn group_ceremony(c: &Coordinator, kind: pb::CeremonyKind, zone: &str, role: KeyRole) -> pb::KeyCeremony {
    let mut participants: Vec<(frostzone_threshold::Identifier, pb::ParticipantId)> =
        c.signers.all().iter().map(|s| (s.identifier, s.participant_id())).collect();
    participants.sort_by_key(|p| p.0);
    pb::KeyCeremony {
        kind: kind.into(),
        zone: zone.to_string(),
        role: role_to_proto(role).into(),
        threshold: c.threshold.into(),
        participants: participants.into_iter().map(|(_, p)| p).collect(),
        ..pb::KeyCeremony::default()
    }
}

/// GenerateKey: a DKG ceremony every configured signer approves, then DKG
/// across all of them.
pub async fn generate_key(
    c: &Coordinator,
    zone: &str,
    role: KeyRole,
    operator: &str,
    timeout: std::time::Duration,
) -> Result<pb::KeyGroupInfo, CoordinatorError> {
    let (apex, zone) = zone_name(zone)?;
    let ceremony = group_ceremony(c, pb::CeremonyKind::Dkg, &zone, role);
    let Decided { request_id, .. } = seek(c, ceremony.clone(), c.signers.all(), true, operator, timeout).await?;
    for attempt in 1..=MAX_DKG_ATTEMPTS {
        let result = match run_dkg(c, &ceremony, &request_id).await {
            Ok(result) => result,
            // The signers found the new key's tag in use in the zone and
            // stored nothing: run again under the same approval.
            Err(CoordinatorError::SignerNeeded { source, .. }) if source.status.code() == tonic::Code::AlreadyExists => {
                tracing::warn!("{zone}: {}; running DKG again (attempt {attempt} of {MAX_DKG_ATTEMPTS})", source.status.message());
                continue;
            }
            Err(e) => return Err(e),
        };
        let key = ZoneKey::ed25519(role, result.group_key);
        if let Some(other) = collision(c, &zone, &key)? {
            // The signers knew of no such key, so they stored their shares:
            // the key is never published (it is not registered).
            return Err(CoordinatorError::FailedPrecondition(format!(
                "{zone}: the new {role}'s key tag {} is the tag of the zone's {other} in this coordinator's registry, \
                 which the signers do not hold; it is not registered. Remove its shares with \
                 `frostzone keys remove --zone {zone} --key-tag {}` and generate again",
                key.key_tag(),
                key.key_tag()
            )));
        }
        let record = store(c, &zone, &key, &result, c.signers.all(), "dkg").await?;
        tracing::info!(request = %request_id, "{zone}: new {role} key tag {} by DKG, {}-of-{}", key.key_tag(), c.threshold, c.signers.all().len());
        return Ok(key_group_info(&record, &key, &apex));
    }
    Err(CoordinatorError::FailedPrecondition(format!(
        "{zone}: {MAX_DKG_ATTEMPTS} DKG runs in a row gave key tags already used in the zone"
    )))
}

async fn store(
    c: &Coordinator,
    zone: &str,
    key: &ZoneKey,
    result: &GroupResult,
    signers: &[SignerHandle],
    origin: &str,
) -> Result<KeyGroupRecord, CoordinatorError> {
    let record = KeyGroupRecord {
        version: RECORD_VERSION,
        zone: zone.to_string(),
        role: key.role.to_string(),
        key_tag: key.key_tag().0,
        group_public_key: hex::encode(result.group_key),
        public_key_package: hex::encode(&result.package),
        threshold: result.public.min_signers().unwrap_or(c.threshold),
        signers: signers.iter().map(|s| s.name().to_string()).collect(),
        participants: signers.iter().map(|s| s.config.participant).collect(),
        origin: origin.to_string(),
        created_unix: unix_now(),
        retired_unix: None,
        refreshed_unix: None,
        pending_refresh: None,
    };
    c.registry.put_key_group(&record).await?;
    Ok(record)
}

async fn run_dkg(c: &Coordinator, ceremony: &pb::KeyCeremony, request_id: &str) -> Result<GroupResult, CoordinatorError> {
    let signers = c.signers.all();
    let role = crate::keys::role_from_proto(ceremony.role)?;
    // Keys the registry knows whose shares the signers may have removed
    // (retired ones): the signers refuse a new key with their tags too, and
    // the DKG runs again.
    let avoid: Vec<u32> = used_tags(c, &ceremony.zone)?.keys().map(|t| u32::from(*t)).collect();
    let finished = relay_dkg(signers, ceremony, request_id, &avoid).await?;
    agree(signers, &finished, role)
}

/// Relays the three DKG steps among `signers` (a new key's DKG or a share
/// refresh, by the approved ceremony `request_id`) and returns every
/// signer's finish, in `signers`' order.
pub(crate) async fn relay_dkg(
    signers: &[SignerHandle],
    ceremony: &pb::KeyCeremony,
    request_id: &str,
    avoid_key_tags: &[u32],
) -> Result<Vec<pb::DkgFinishResponse>, CoordinatorError> {
    let session_id = crate::request::random_id();

    let request = pb::DkgRound1Request {
        api_version: API_VERSION,
        session_id: session_id.clone(),
        zone: ceremony.zone.clone(),
        role: ceremony.role,
        threshold: ceremony.threshold,
        participants: ceremony.participants.clone(),
        request_id: request_id.to_string(),
    };
    let round1 = all_ok(
        "DKG round 1",
        fan_out(signers, |s| {
            let r = request.clone();
            async move { s.dkg_round1(r).await }
        })
        .await,
    )?;
    let entries: Vec<pb::DkgRound1Entry> = signers
        .iter()
        .zip(&round1)
        .map(|(s, r)| pb::DkgRound1Entry {
            from: Some(s.participant_id()),
            package: r.package.clone(),
            encryption_key: r.encryption_key.clone(),
            signature: r.signature.clone(),
        })
        .collect();

    let round2 = all_ok(
        "DKG round 2",
        fan_out(signers, |s| {
            let others = entries.iter().filter(|e| !s.is(e.from.as_ref())).cloned().collect();
            let r = pb::DkgRound2Request { api_version: API_VERSION, session_id: session_id.clone(), round1: others };
            async move { s.dkg_round2(r).await }
        })
        .await,
    )?;
    // Every signer must address one package to each other signer.
    let mut inbox: BTreeMap<String, Vec<pb::EncryptedPackage>> = BTreeMap::new();
    for (sender, response) in signers.iter().zip(&round2) {
        let mut addressed = BTreeSet::new();
        for p in &response.packages {
            let to = signers.iter().find(|s| s.is(p.to.as_ref()));
            match to {
                Some(to) if sender.is(p.from.as_ref()) && to.name() != sender.name() && addressed.insert(to.name()) => {
                    inbox.entry(to.name().to_string()).or_default().push(p.clone());
                }
                _ => {
                    return Err(CoordinatorError::Disagreement(format!(
                        "DKG round 2: {} sent a package with a wrong sender or recipient",
                        sender.name()
                    )))
                }
            }
        }
        if addressed.len() + 1 != signers.len() {
            return Err(CoordinatorError::Disagreement(format!(
                "DKG round 2: {} sent {} packages for {} other signers",
                sender.name(),
                addressed.len(),
                signers.len() - 1
            )));
        }
    }
    // Echo broadcast: every signer checks that all saw the same round 1,
    // each digest signed by the signer that computed it.
    let echoes: Vec<pb::SignedEcho> = signers
        .iter()
        .zip(&round2)
        .map(|(s, r)| pb::SignedEcho {
            from: Some(s.participant_id()),
            digest: r.round1_digest.clone(),
            signature: r.digest_signature.clone(),
        })
        .collect();

    let finished = all_ok(
        "DKG finish",
        fan_out(signers, |s| {
            let r = pb::DkgFinishRequest {
                api_version: API_VERSION,
                session_id: session_id.clone(),
                packages: inbox.get(s.name()).cloned().unwrap_or_default(),
                echoes: echoes.clone(),
                avoid_key_tags: avoid_key_tags.to_vec(),
            };
            async move { s.dkg_finish(r).await }
        })
        .await,
    )?;
    Ok(finished)
}

/// All signers must report the same group key, package and key tag.
fn agree(signers: &[SignerHandle], finished: &[pb::DkgFinishResponse], role: KeyRole) -> Result<GroupResult, CoordinatorError> {
    let (Some(first), Some(reference)) = (finished.first(), signers.first()) else {
        return Err(CoordinatorError::Internal("no signers configured".into()));
    };
    for (s, f) in signers.iter().zip(finished).skip(1) {
        if f.group_public_key != first.group_public_key || f.public_key_package != first.public_key_package {
            return Err(CoordinatorError::Disagreement(format!(
                "DKG: {} derived a different group key or public key package than {}",
                s.name(),
                reference.name()
            )));
        }
    }
    let result = check_package(&first.public_key_package, &first.group_public_key, reference.name())?;
    let tag = ZoneKey::ed25519(role, result.group_key).key_tag().0;
    if let Some((s, f)) = signers.iter().zip(finished).find(|(_, f)| f.key_tag != u32::from(tag)) {
        return Err(CoordinatorError::Disagreement(format!(
            "DKG: {} reports key tag {}, the DNSKEY's is {tag}",
            s.name(),
            f.key_tag
        )));
    }
    Ok(result)
}

/// ImportKeyBegin: an import ceremony every configured signer approves,
/// then every signer's one-time encryption key, signed with its identity
/// key (the operator's CLI checks them against its own roster).
pub async fn import_begin(
    c: &Coordinator,
    zone: &str,
    role: KeyRole,
    group_public_key: &[u8],
    operator: &str,
    timeout: std::time::Duration,
) -> Result<pb::ImportKeyBeginResponse, CoordinatorError> {
    let (_, zone) = zone_name(zone)?;
    let key: [u8; 32] = group_public_key
        .try_into()
        .map_err(|_| CoordinatorError::InvalidArgument("group_public_key: the public key to import (32 octets) is missing".into()))?;
    let tag = ZoneKey::ed25519(role, key).key_tag();
    if let Some(other) = collision(c, &zone, &ZoneKey::ed25519(role, key))? {
        return Err(CoordinatorError::FailedPrecondition(format!(
            "{zone}: the key to import has tag {tag}, already used by the zone's {other}; an imported key cannot be regenerated"
        )));
    }
    let mut ceremony = group_ceremony(c, pb::CeremonyKind::Import, &zone, role);
    ceremony.key_tag = tag.0.into();
    ceremony.group_public_key = key.to_vec();
    let Decided { request_id, .. } = seek(c, ceremony, c.signers.all(), true, operator, timeout).await?;
    let session_id = crate::request::random_id();
    let signers = c.signers.all();
    let request = pb::ImportBeginRequest { api_version: API_VERSION, session_id: session_id.clone(), request_id: request_id.clone() };
    let keys = all_ok(
        "key import",
        fan_out(signers, |s| {
            let r = request.clone();
            async move { s.import_begin(r).await }
        })
        .await,
    )?;
    tracing::info!("{zone}: import of a {role} begun with {} signers", signers.len());
    Ok(pb::ImportKeyBeginResponse {
        session_id,
        threshold: c.threshold.into(),
        signers: signers
            .iter()
            .zip(keys)
            .map(|(s, k)| pb::SignerEncryptionKey {
                signer: s.name().to_string(),
                participant: Some(s.participant_id()),
                encryption_key: k.encryption_key,
                signature: k.signature,
            })
            .collect(),
        request_id,
    })
}

/// ImportKeyFinish: hands each signer its encrypted share and stores the
/// key group.
pub async fn import_finish(c: &Coordinator, request: pb::ImportKeyFinishRequest) -> Result<pb::KeyGroupInfo, CoordinatorError> {
    let (apex, zone) = zone_name(&request.zone)?;
    let role = crate::keys::role_from_proto(request.role)?;
    let public = frost::keys::PublicKeyPackage::deserialize(&request.public_key_package)
        .map_err(|e| CoordinatorError::InvalidArgument(format!("public_key_package does not parse: {e}")))?;
    let group_key = group_key_bytes(&public)
        .ok_or_else(|| CoordinatorError::InvalidArgument("public_key_package: group key does not encode".into()))?;
    let key = ZoneKey::ed25519(role, group_key);
    if let Some(other) = collision(c, &zone, &key)? {
        return Err(CoordinatorError::FailedPrecondition(format!(
            "{zone}: the imported key's tag {} is already used by the zone's {other}; an imported key cannot be regenerated",
            key.key_tag()
        )));
    }
    // Every share in the package must go to a configured signer, and each
    // signer gets exactly its own.
    let mut targets = Vec::new();
    for id in public.verifying_shares().keys() {
        let signer = c.signers.all().iter().find(|s| s.identifier == *id).ok_or_else(|| {
            CoordinatorError::InvalidArgument(format!(
                "public_key_package has a share for participant {}, which no configured signer is",
                frostzone_threshold::display_identifier(id)
            ))
        })?;
        let share = request.shares.iter().find(|s| s.signer == signer.name()).ok_or_else(|| {
            CoordinatorError::InvalidArgument(format!("shares: none for {}", signer.name()))
        })?;
        targets.push((signer.clone(), share.clone()));
    }
    if request.shares.len() != targets.len() {
        return Err(CoordinatorError::InvalidArgument("shares: some are for signers outside the key package".into()));
    }
    let signers: Vec<SignerHandle> = targets.iter().map(|(s, _)| s.clone()).collect();
    let results = all_ok(
        "key import",
        fan_out(&signers, |s| {
            let share = targets.iter().find(|(t, _)| t.name() == s.name()).map(|(_, sh)| sh.clone()).unwrap_or_default();
            let r = pb::ImportFinishRequest {
                api_version: API_VERSION,
                session_id: request.session_id.clone(),
                zone: zone.clone(),
                role: role_to_proto(role).into(),
                sender_key: share.sender_key,
                ciphertext: share.ciphertext,
                public_key_package: request.public_key_package.clone(),
            };
            async move { s.import_finish(r).await }
        })
        .await,
    )?;
    for (s, r) in signers.iter().zip(&results) {
        if r.group_public_key != group_key || r.key_tag != u32::from(key.key_tag().0) {
            return Err(CoordinatorError::Disagreement(format!(
                "key import: {} reports a different group key or key tag",
                s.name()
            )));
        }
    }
    let result = GroupResult { group_key, package: request.public_key_package.clone(), public };
    let record = store(c, &zone, &key, &result, &signers, "import").await?;
    tracing::info!("{zone}: imported {role} key tag {} onto {} signers", key.key_tag(), signers.len());
    Ok(key_group_info(&record, &key, &apex))
}
