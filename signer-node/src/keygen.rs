//! The steps of key ceremonies, as [`Node`] methods: DKG rounds
//! ([`crate::dkg`]), the import of an existing key, and the removal of a
//! share. Each runs only under a key ceremony this signer approved
//! ([`crate::ceremony`]), for exactly the zone, role, t and participants
//! approved, which are those of its own roster; every message from another
//! signer is checked against that signer's identity key in the roster.
//! A key stored or removed ends the ceremony and is written to the audit
//! log with its origin. A share refresh runs the same DKG steps and ends
//! in [`crate::refresh`].


use frostzone_dnssec::keys::ZoneKey;
use frostzone_proto::statement::Statement;
use frostzone_proto::v1;
use frostzone_threshold::{display_identifier, frost, Identifier};
use rand::rngs::OsRng;

use crate::ceremony::{ApprovedCeremony, CeremonyKind};
use crate::clock::Now;
use crate::dkg::{role_value, DkgParams, DkgSession, Round1Entry, SealedPackage, SignedEcho};
use crate::error::NodeError;
use crate::fields::{participant, participant_id, session_id, MIN_DKG_SESSION_ID};
use crate::node::{lock, Node, PendingImport};
use crate::store::{KeyShare, ShareInfo};

/// Most DKG runs one approved ceremony may start: a run fails when a
/// signer is unreachable or the new key's tag collides, so a few are
/// needed; an approval is not a licence for endless key generation.
pub const MAX_DKG_RUNS: u32 = 4;

impl Node {
    /// DKG round 1 (see [`crate::dkg`]) under the approved DKG or share
    /// refresh ceremony `req.request_id`: the request's zone, role, t and
    /// participants must be the ceremony's; a refresh starts from this
    /// signer's share of the key the ceremony names. The output is signed
    /// with the identity key.
    pub fn dkg_round1(&self, req: v1::DkgRound1Request, now: Now) -> Result<v1::DkgRound1Response, NodeError> {
        let id = session_id("session_id", &req.session_id, MIN_DKG_SESSION_ID)?.to_vec();
        let kind = match self.store.requests().get(&req.request_id)?.and_then(|r| r.ceremony).and_then(|c| CeremonyKind::from_proto(c.kind)) {
            Some(CeremonyKind::Refresh) => CeremonyKind::Refresh,
            _ => CeremonyKind::Dkg,
        };
        let approved = self.approved_ceremony(&req.request_id, kind, now)?;
        let params = DkgParams {
            session_id: id.clone(),
            request_id: req.request_id.clone(),
            zone: approved.zone.clone(),
            role: approved.role,
            threshold: approved.threshold,
            participants: approved.participants.iter().copied().collect(),
            me: self.options().participant,
        };
        approved.check_same(&req.zone, req.role, req.threshold, &req.participants)?;
        self.count_dkg_run(&req.request_id)?;
        let (session, out) = match kind {
            CeremonyKind::Refresh => DkgSession::start_refresh(params, self.share_to_refresh(&approved)?, &mut OsRng)?,
            _ => DkgSession::start(params, &mut OsRng)?,
        };
        let list = session.params().participant_list();
        let me = self.options().participant;
        let signature = session.params().round1_statement(&list, &me, &out.package, &out.encryption_key).sign(self.store.identity());
        lock(&self.dkg).insert(&id, session, now.instant).map_err(NodeError::session("DKG"))?;
        Ok(v1::DkgRound1Response { package: out.package, encryption_key: out.encryption_key.to_vec(), signature })
    }

    /// DKG round 2: every other participant's round-1 entry, each checked
    /// against its identity key. A failed step aborts the DKG: the session
    /// is gone.
    pub fn dkg_round2(&self, req: v1::DkgRound2Request, now: Now) -> Result<v1::DkgRound2Response, NodeError> {
        let id = session_id("session_id", &req.session_id, MIN_DKG_SESSION_ID)?;
        let roster = self.roster("key ceremony")?;
        let session = lock(&self.dkg).take(id, now.instant).map_err(NodeError::session("DKG"))?;
        let request_id = session.params().request_id.clone();
        let entries = req
            .round1
            .into_iter()
            .map(|e| {
                Ok(Round1Entry {
                    from: participant(e.from.as_ref(), "round1.from")?,
                    package: e.package,
                    encryption_key: e.encryption_key,
                    signature: e.signature,
                })
            })
            .collect::<Result<Vec<_>, NodeError>>()?;
        let (session, out) = match session.round2(entries, roster, &mut OsRng) {
            Ok(done) => done,
            Err(e) => return Err(self.ceremony_step_refused(&request_id, "dkg round 2", e.into())),
        };
        let me = self.options().participant;
        let digest_signature =
            Statement::DkgEcho { session_id: id, sender: &me, digest: &out.round1_digest }.sign(self.store.identity());
        lock(&self.dkg).restore(id, session, now.instant).map_err(NodeError::session("DKG"))?;
        Ok(v1::DkgRound2Response {
            packages: out
                .packages
                .into_iter()
                .map(|p| v1::EncryptedPackage {
                    from: Some(participant_id(&p.from)),
                    to: Some(participant_id(&p.to)),
                    ciphertext: p.ciphertext,
                })
                .collect(),
            round1_digest: out.round1_digest.to_vec(),
            digest_signature,
        })
    }

    /// DKG finish: the signed echo check, part3, the key tag checked
    /// against every key of the zone this signer knows, and the share
    /// stored (flushed) before the answer goes out; the ceremony ends.
    pub fn dkg_finish(&self, req: v1::DkgFinishRequest, now: Now) -> Result<v1::DkgFinishResponse, NodeError> {
        let id = session_id("session_id", &req.session_id, MIN_DKG_SESSION_ID)?;
        let roster = self.roster("key ceremony")?;
        let session = lock(&self.dkg).take(id, now.instant).map_err(NodeError::session("DKG"))?;
        let request_id = session.params().request_id.clone();
        let packages = req
            .packages
            .into_iter()
            .map(|p| {
                Ok(SealedPackage {
                    from: participant(p.from.as_ref(), "packages.from")?,
                    to: participant(p.to.as_ref(), "packages.to")?,
                    ciphertext: p.ciphertext,
                })
            })
            .collect::<Result<Vec<_>, NodeError>>()?;
        let echoes = req
            .echoes
            .into_iter()
            .map(|e| Ok(SignedEcho { from: participant(e.from.as_ref(), "echoes.from")?, digest: e.digest, signature: e.signature }))
            .collect::<Result<Vec<_>, NodeError>>()?;
        let (zone, role) = (session.params().zone.clone(), session.params().role);
        let avoid = req.avoid_key_tags.clone();
        let refresh = session.is_refresh();
        let out = match session.finish(packages, &echoes, roster) {
            Ok(out) => out,
            Err(e) => return Err(self.ceremony_step_refused(&request_id, "dkg finish", e.into())),
        };
        if refresh {
            return self.refresh_finished(&request_id, out, now).map_err(|e| self.ceremony_step_refused(&request_id, "refresh finish", e));
        }
        if let Err(e) = self.check_new_key_tag_avoiding(&zone, &ZoneKey::ed25519(role, out.group_public_key), &avoid) {
            return Err(self.ceremony_step_refused(&request_id, "dkg finish", e));
        }
        let public_key_package =
            out.public_key_package.serialize().map_err(|e| NodeError::Internal(format!("serialize: {e}")))?;
        let share = KeyShare {
            info: ShareInfo { zone, role, key_tag: out.key_tag, group_public_key: out.group_public_key },
            key_package: out.key_package,
            public_key_package: out.public_key_package,
        };
        self.store.put_share(&share)?;
        let what = format!("{} key tag {} (group key {}) by DKG", role, out.key_tag, hex::encode(out.group_public_key));
        tracing::info!(zone = %share.info.zone, request = %request_id, "key share stored: {what}");
        self.complete_ceremony(&request_id, "key-stored", format!("key share stored: {what}"), now)?;
        Ok(v1::DkgFinishResponse {
            group_public_key: out.group_public_key.to_vec(),
            public_key_package,
            key_tag: out.key_tag.0.into(),
            refresh_confirmation: Vec::new(),
        })
    }

    /// Import, step 1: a one-time X25519 key for this session under the
    /// approved import ceremony `req.request_id`, signed with the identity
    /// key together with the ceremony's zone, role, t and participants, so
    /// that the operator's CLI can check it against its own roster.
    pub fn import_begin(&self, req: v1::ImportBeginRequest, now: Now) -> Result<v1::ImportBeginResponse, NodeError> {
        let id = session_id("session_id", &req.session_id, MIN_DKG_SESSION_ID)?;
        let approved = self.approved_ceremony(&req.request_id, CeremonyKind::Import, now)?;
        let secret = x25519_dalek::StaticSecret::random_from_rng(OsRng);
        let public = x25519_dalek::PublicKey::from(&secret);
        let me = self.options().participant;
        let statement = Statement::ImportKey {
            session_id: id,
            zone: &approved.zone,
            role: role_value(approved.role),
            threshold: approved.threshold,
            participants: &approved.participants,
            group_public_key: &approved.group_public_key,
            participant: &me,
            encryption_key: public.as_bytes(),
        };
        let signature = statement.sign(self.store.identity());
        let pending = PendingImport { secret, request_id: req.request_id.clone() };
        lock(&self.imports).insert(id, pending, now.instant).map_err(NodeError::session("import"))?;
        Ok(v1::ImportBeginResponse {
            encryption_key: public.as_bytes().to_vec(),
            signature,
            participant: Some(participant_id(&me)),
        })
    }

    /// Import, step 2: opens the share, checks that it is this
    /// participant's share of a group of exactly the roster's participants
    /// and t, for the ceremony's zone and role, and stores it; the
    /// ceremony ends.
    pub fn import_finish(&self, req: v1::ImportFinishRequest, now: Now) -> Result<v1::ImportFinishResponse, NodeError> {
        let id = session_id("session_id", &req.session_id, MIN_DKG_SESSION_ID)?.to_vec();
        let pending = lock(&self.imports).take(&id, now.instant).map_err(NodeError::session("import"))?;
        let request_id = pending.request_id.clone();
        match self.import_checked(&id, req, pending, now) {
            Ok(done) => Ok(done),
            Err(e) => Err(self.ceremony_step_refused(&request_id, "import", e)),
        }
    }

    fn import_checked(&self, id: &[u8], req: v1::ImportFinishRequest, pending: PendingImport, now: Now) -> Result<v1::ImportFinishResponse, NodeError> {
        let approved = self.approved_ceremony(&pending.request_id, CeremonyKind::Import, now)?;
        approved.check_zone_role(&req.zone, req.role)?;
        let sender = crate::envelope::public_key(&req.sender_key).map_err(|e| NodeError::field("sender_key", e.to_string()))?;
        let key = crate::envelope::import_key(id, &pending.secret, &sender).map_err(|e| NodeError::field("sender_key", e.to_string()))?;
        drop(pending);
        let plain =
            crate::envelope::open(&key, &[], &req.ciphertext).map_err(|e| NodeError::field("ciphertext", e.to_string()))?;
        let key_package = frost::keys::KeyPackage::deserialize(&plain)
            .map_err(|e| NodeError::Import(format!("key package does not parse: {e}")))?;
        let public_key_package = frost::keys::PublicKeyPackage::deserialize(&req.public_key_package)
            .map_err(|e| NodeError::field("public_key_package", e.to_string()))?;
        check_imported(&key_package, &public_key_package, &self.options().participant)?;
        check_group(&public_key_package, &approved)?;
        let group_public_key: [u8; 32] = key_package
            .verifying_key()
            .serialize()
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| NodeError::Import("group key is not 32 octets".into()))?;
        // Only the key the ceremony named: a coordinator that imports a key
        // of its own (whose secret it knows) is refused here.
        if group_public_key.as_slice() != approved.group_public_key.as_slice() {
            return Err(NodeError::Import(format!(
                "the share belongs to key {}, the approved ceremony imports {}",
                hex::encode(group_public_key),
                hex::encode(&approved.group_public_key)
            )));
        }
        let key = ZoneKey::ed25519(approved.role, group_public_key);
        let key_tag = key.key_tag();
        self.check_new_key_tag(&approved.zone, &key)?;
        let share = KeyShare {
            info: ShareInfo { zone: approved.zone.clone(), role: approved.role, key_tag, group_public_key },
            key_package,
            public_key_package,
        };
        self.store.put_share(&share)?;
        let what = format!("{} key tag {key_tag} (group key {}) by import", approved.role, hex::encode(group_public_key));
        tracing::info!(zone = %approved.zone, request = %approved.request_id, "key share stored: {what}");
        self.complete_ceremony(&approved.request_id, "key-stored", format!("key share stored: {what}"), now)?;
        Ok(v1::ImportFinishResponse { group_public_key: group_public_key.to_vec(), key_tag: key_tag.0.into() })
    }

    /// Deletes this signer's share of the key an approved removal
    /// ceremony names, if the key is still out of the zone's published
    /// DNSKEY RRset; the ceremony ends.
    pub fn remove_share(&self, req: v1::RemoveShareRequest, now: Now) -> Result<v1::Decision, NodeError> {
        let approved = self.approved_ceremony(&req.request_id, CeremonyKind::Remove, now)?;
        let result = (|| {
            if let Some(reason) = self.published_key_tags(&approved.zone)?.get(&approved.key_tag.0) {
                return Err(NodeError::Policy(format!(
                    "key tag {} is in the published DNSKEY RRset of {} ({reason}): take it out of the zone first",
                    approved.key_tag, approved.zone
                )));
            }
            self.store.remove_share(&approved.zone, approved.key_tag).map_err(NodeError::from)
        })();
        let removed = match result {
            Ok(removed) => removed,
            Err(e) => return Err(self.ceremony_step_refused(&approved.request_id, "share removal", e)),
        };
        let outcome = if removed {
            format!("key share removed: key tag {} of {}", approved.key_tag, approved.zone)
        } else {
            format!("no share of key tag {} of {} was held", approved.key_tag, approved.zone)
        };
        tracing::info!(zone = %approved.zone, request = %approved.request_id, "{outcome}");
        self.complete_ceremony(&approved.request_id, "key-removed", outcome, now)
    }

    /// A new key's tags (as published and revoked, RFC 5011 §2.1) must
    /// differ from those of every key of the zone this signer knows: the
    /// shares it holds and the zone's published DNSKEY RRset. RFC 4034
    /// Appendix B tags are 16 bits; colliding tags in one DNSKEY set are
    /// what broke .de. (The coordinator runs the DKG again.)
    pub(crate) fn check_new_key_tag(&self, zone: &str, key: &ZoneKey) -> Result<(), NodeError> {
        self.check_new_key_tag_avoiding(zone, key, &[])
    }

    /// As [`Node::check_new_key_tag`], also avoiding the tags the
    /// coordinator names (keys of the zone this signer may no longer know).
    pub(crate) fn check_new_key_tag_avoiding(&self, zone: &str, key: &ZoneKey, avoid: &[u32]) -> Result<(), NodeError> {
        let mut used = self.published_key_tags(zone)?;
        for tag in avoid.iter().filter_map(|t| u16::try_from(*t).ok()) {
            used.entry(tag).or_insert_with(|| format!("key tag {tag}, which the coordinator knows in the zone"));
        }
        for share in self.store.list()?.into_iter().filter(|s| s.zone == zone) {
            for tag in ZoneKey::ed25519(share.role, share.group_public_key).tags_in_any_state() {
                used.insert(tag.0, format!("the {} (key tag {}) this signer holds a share of", share.role, share.key_tag));
            }
        }
        let role = key.role;
        match key.tags_in_any_state().iter().find_map(|t| used.get(&t.0).map(|other| (t, other))) {
            Some((tag, other)) => Err(NodeError::KeyTagCollision(format!(
                "the new {role}'s key tag {tag} (as published or revoked) collides with {other} in {zone}: not stored, run the DKG again"
            ))),
            None => Ok(()),
        }
    }

    pub(crate) fn count_dkg_run(&self, request_id: &str) -> Result<(), NodeError> {
        let _decisions = lock(&self.decisions);
        let requests = self.store.requests();
        let mut record = requests.get(request_id)?.ok_or_else(|| NodeError::Internal(format!("request {request_id} vanished")))?;
        if record.ceremony_runs >= MAX_DKG_RUNS {
            return Err(NodeError::Policy(format!(
                "key ceremony {request_id} ran its DKG {MAX_DKG_RUNS} times already; propose a new ceremony"
            )));
        }
        record.ceremony_runs += 1;
        requests.update(&record)?;
        Ok(())
    }
}

/// The public key package of an import must be a group of exactly the
/// approved participants and t.
fn check_group(public: &frost::keys::PublicKeyPackage, approved: &ApprovedCeremony) -> Result<(), NodeError> {
    let holders: Vec<Identifier> = public.verifying_shares().keys().copied().collect();
    if holders != approved.participants {
        return Err(NodeError::Import(format!(
            "the key package's participants {} are not the roster's {}",
            frostzone_proto::roster::describe_identifiers(holders.iter()),
            frostzone_proto::roster::describe_identifiers(approved.participants.iter())
        )));
    }
    match public.min_signers() {
        Some(t) if t == approved.threshold => Ok(()),
        other => Err(NodeError::Import(format!(
            "the key package's threshold {} is not the roster's {}",
            other.map(|t| t.to_string()).unwrap_or_else(|| "(none)".into()),
            approved.threshold
        ))),
    }
}

/// An imported key package must be this participant's, belong to the
/// public key package, and its secret must match its public share.
fn check_imported(key: &frost::keys::KeyPackage, public: &frost::keys::PublicKeyPackage, me: &Identifier) -> Result<(), NodeError> {
    if key.identifier() != me {
        return Err(NodeError::Import(format!(
            "share is for participant {}, this signer is {}",
            display_identifier(key.identifier()),
            display_identifier(me)
        )));
    }
    if key.verifying_key() != public.verifying_key() {
        return Err(NodeError::Import("share's group key differs from the public key package's".into()));
    }
    if public.verifying_shares().get(me) != Some(key.verifying_share()) {
        return Err(NodeError::Import("share's verifying share is not the public key package's for this participant".into()));
    }
    if frost::keys::VerifyingShare::from(*key.signing_share()) != *key.verifying_share() {
        return Err(NodeError::Import("share's secret does not match its verifying share".into()));
    }
    if public.min_signers().is_some_and(|t| t != *key.min_signers()) {
        return Err(NodeError::Import("share's threshold differs from the public key package's".into()));
    }
    Ok(())
}
