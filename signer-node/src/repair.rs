//! Share repair, as [`Node`] methods (issue 12; [`crate::rts`]): under an
//! approved repair ceremony, t or more helpers rebuild the lost share of
//! one holder without any of them, or the relaying coordinator, learning
//! a share; or, with every holder helping, make the share of a new member
//! of the roster (a join at the same t, under the same key). A helper's part ends with its sigma (audit event
//! `share-repair-helped`); the repaired signer's with its share stored
//! (`share-repaired`), once it matched its verifying share in the
//! public key package every helper signed.

use frostzone_dnssec::keys::ZoneKey;
use frostzone_proto::v1;
use rand::rngs::OsRng;

use crate::ceremony::{ApprovedCeremony, CeremonyKind};
use crate::clock::Now;
use crate::dkg::SealedPackage;
use crate::error::NodeError;
use crate::fields::{participant, participant_id, session_id, MIN_DKG_SESSION_ID};
use crate::node::{lock, Node};
use crate::rts::{package_digest, KeyEntry, RepairParams, RepairSession, SigmaEntry};
use crate::store::{KeyShare, ShareInfo};

fn key_entries(keys: Vec<v1::RepairKeyEntry>) -> Result<Vec<KeyEntry>, NodeError> {
    keys.into_iter()
        .map(|k| Ok(KeyEntry { from: participant(k.from.as_ref(), "keys.from")?, encryption_key: k.encryption_key, signature: k.signature }))
        .collect()
}

fn sealed(p: &v1::EncryptedPackage) -> Result<SealedPackage, NodeError> {
    Ok(SealedPackage { from: participant(p.from.as_ref(), "deltas.from")?, to: participant(p.to.as_ref(), "deltas.to")?, ciphertext: p.ciphertext.clone() })
}

fn wire(p: SealedPackage) -> v1::EncryptedPackage {
    v1::EncryptedPackage { from: Some(participant_id(&p.from)), to: Some(participant_id(&p.to)), ciphertext: p.ciphertext }
}

impl Node {
    /// Step 1, every participant: a one-time key under the approved repair
    /// `req.request_id`, signed with the identity key. A helper starts
    /// from its share of the named key; the repaired signer must hold none.
    pub fn repair_begin(&self, req: v1::RepairBeginRequest, now: Now) -> Result<v1::RepairBeginResponse, NodeError> {
        let id = session_id("session_id", &req.session_id, MIN_DKG_SESSION_ID)?.to_vec();
        let approved = self.approved_ceremony(&req.request_id, CeremonyKind::Repair, now)?;
        let params = self.repair_params(&approved, id.clone())?;
        let helper = if params.me == params.repaired {
            if self.store.get_share(&approved.zone, approved.key_tag)?.is_some() {
                return Err(NodeError::Policy(format!("this signer holds a share of key tag {} of {} already", approved.key_tag, approved.zone)));
            }
            None
        } else {
            Some(self.share_to_refresh(&approved)?)
        };
        self.count_dkg_run(&req.request_id)?;
        let (session, key) = RepairSession::start(params, helper, &mut OsRng)?;
        let me = self.options().participant;
        let signature = session.params().key_statement(&me, &key).sign(self.store.identity());
        lock(&self.repairs).insert(&id, session, now.instant).map_err(NodeError::session("repair"))?;
        Ok(v1::RepairBeginResponse { encryption_key: key.to_vec(), signature })
    }

    /// Step 2, helpers: every participant's key checked against the
    /// roster, then one sealed delta for each other helper.
    pub fn repair_deltas(&self, req: v1::RepairDeltasRequest, now: Now) -> Result<v1::RepairDeltasResponse, NodeError> {
        let id = session_id("session_id", &req.session_id, MIN_DKG_SESSION_ID)?;
        let roster = self.roster("key ceremony")?;
        let session = lock(&self.repairs).take(id, now.instant).map_err(NodeError::session("repair"))?;
        let request_id = session.params().request_id.clone();
        let entries = key_entries(req.keys)?;
        let (session, deltas) = match session.deltas(&entries, roster, &mut OsRng) {
            Ok(done) => done,
            Err(e) => return Err(self.ceremony_step_refused(&request_id, "repair deltas", e.into())),
        };
        lock(&self.repairs).restore(id, session, now.instant).map_err(NodeError::session("repair"))?;
        Ok(v1::RepairDeltasResponse { deltas: deltas.into_iter().map(wire).collect() })
    }

    /// Step 3, helpers: the deltas summed into a sigma sealed for the
    /// repaired signer, and the public key package signed; this helper's
    /// part of the ceremony ends.
    pub fn repair_sigma(&self, req: v1::RepairSigmaRequest, now: Now) -> Result<v1::RepairSigmaResponse, NodeError> {
        let id = session_id("session_id", &req.session_id, MIN_DKG_SESSION_ID)?;
        let session = lock(&self.repairs).take(id, now.instant).map_err(NodeError::session("repair"))?;
        let params = session.params().clone();
        let packages = req.deltas.iter().map(sealed).collect::<Result<Vec<_>, _>>()?;
        let join = session.is_join();
        let (sigma, public) = match session.sigma(packages, &mut OsRng) {
            Ok(done) => done,
            Err(e) => return Err(self.ceremony_step_refused(&params.request_id, "repair sigma", e.into())),
        };
        if join {
            // The newcomer's verifying share is public and follows from the
            // holders': kept even if its join fails (it then signs nothing).
            self.store.replace_public_key_package(&params.zone, params.key_tag, &public)?;
        }
        let package = public.serialize().map_err(|e| NodeError::Internal(format!("serialize: {e}")))?;
        let digest = package_digest(&package);
        let package_signature = params.package_statement(&params.me, &digest).sign(self.store.identity());
        let outcome = format!(
            "helped {} participant {}'s share of key tag {} of {} (sigma sealed for it)",
            if join { "make new" } else { "repair" },
            frostzone_threshold::display_identifier(&params.repaired),
            params.key_tag,
            params.zone
        );
        tracing::info!(zone = %params.zone, request = %params.request_id, "{outcome}");
        self.complete_ceremony(&params.request_id, "share-repair-helped", outcome, now)?;
        Ok(v1::RepairSigmaResponse { sigma: Some(wire(sigma)), public_key_package: package, package_signature })
    }

    /// Step 4, the repaired signer: the sigmas of every helper opened and
    /// summed; the share is stored (flushed) only if it matches this
    /// participant's verifying share in the package every helper signed.
    pub fn repair_finish(&self, req: v1::RepairFinishRequest, now: Now) -> Result<v1::RepairFinishResponse, NodeError> {
        let id = session_id("session_id", &req.session_id, MIN_DKG_SESSION_ID)?;
        let roster = self.roster("key ceremony")?;
        let session = lock(&self.repairs).take(id, now.instant).map_err(NodeError::session("repair"))?;
        let params = session.params().clone();
        let keys = key_entries(req.keys)?;
        let sigmas = req
            .sigmas
            .into_iter()
            .map(|s| Ok(SigmaEntry { from: participant(s.from.as_ref(), "sigmas.from")?, ciphertext: s.ciphertext, package_signature: s.package_signature }))
            .collect::<Result<Vec<_>, NodeError>>()?;
        let (key_package, public_key_package) = match session.finish(&keys, &sigmas, &req.public_key_package, roster) {
            Ok(done) => done,
            Err(e) => return Err(self.ceremony_step_refused(&params.request_id, "repair finish", e.into())),
        };
        let share = KeyShare {
            info: ShareInfo { zone: params.zone.clone(), role: params.role, key_tag: params.key_tag, group_public_key: params.group_public_key },
            key_package,
            public_key_package,
        };
        self.store.put_share(&share)?;
        let what = format!("{} key tag {} (group key {}) rebuilt by share repair", params.role, params.key_tag, hex::encode(params.group_public_key));
        tracing::info!(zone = %params.zone, request = %params.request_id, "key share stored: {what}");
        self.complete_ceremony(&params.request_id, "share-repaired", format!("key share stored: {what}"), now)?;
        Ok(v1::RepairFinishResponse { group_public_key: params.group_public_key.to_vec(), key_tag: params.key_tag.0.into() })
    }

    fn repair_params(&self, approved: &ApprovedCeremony, session_id: Vec<u8>) -> Result<RepairParams, NodeError> {
        let group_public_key: [u8; 32] = approved
            .group_public_key
            .as_slice()
            .try_into()
            .map_err(|_| NodeError::field("ceremony.group_public_key", "not 32 octets"))?;
        if ZoneKey::ed25519(approved.role, group_public_key).key_tag() != approved.key_tag {
            return Err(NodeError::field("ceremony.key_tag", "is not the tag of the ceremony's group key"));
        }
        Ok(RepairParams {
            session_id,
            request_id: approved.request_id.clone(),
            zone: approved.zone.clone(),
            role: approved.role,
            key_tag: approved.key_tag,
            group_public_key,
            threshold: approved.threshold,
            helpers: approved.participants.iter().copied().collect(),
            repaired: approved.repaired.ok_or_else(|| NodeError::field("ceremony.repaired", "missing"))?,
            me: self.options().participant,
        })
    }
}
