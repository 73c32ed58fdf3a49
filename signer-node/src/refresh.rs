//! Share refresh, as [`Node`] methods (issue 12; frost
//! `keys::refresh::refresh_dkg_*`): the DKG's three steps
//! ([`crate::keygen`]) run under an approved refresh ceremony and end with
//! the refreshed share kept aside, next to the share in use, and this
//! signer's signed confirmation of the refreshed public key package
//! ([`Statement::RefreshDone`]). Only [`Node::commit_refresh`], with every
//! participant's confirmation of the same package, replaces the old share
//! (one sled transaction): were the old shares deleted before every holder
//! had its new one, a lost confirmation would leave too few shares of
//! either generation and the key would be gone.

use frostzone_proto::statement::Statement;
use frostzone_proto::v1;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

use crate::ceremony::{ApprovedCeremony, CeremonyKind};
use crate::clock::Now;
use crate::dkg::{DkgOutput, RefreshOf};
use crate::error::{NodeError, RequestError};
use crate::fields::participant;
use crate::node::Node;
use frostzone_proto::v1::RequestState;
use crate::store::{KeyShare, ShareInfo};

/// SHA-256 of a serialized public key package, as confirmations sign it.
pub fn package_digest(public_key_package: &[u8]) -> [u8; 32] {
    Sha256::digest(public_key_package).into()
}

impl Node {
    /// The share an approved refresh starts from: this signer's share of
    /// exactly the key the ceremony names.
    pub(crate) fn share_to_refresh(&self, approved: &ApprovedCeremony) -> Result<RefreshOf, NodeError> {
        let share = self.store.get_share(&approved.zone, approved.key_tag)?.ok_or_else(|| {
            NodeError::Policy(format!("this signer holds no share of key tag {} of {}: nothing to refresh", approved.key_tag, approved.zone))
        })?;
        if share.info.role != approved.role || share.info.group_public_key.as_slice() != approved.group_public_key.as_slice() {
            return Err(NodeError::Policy(format!(
                "key tag {} of {} held here is not the {} with the group key the ceremony names",
                approved.key_tag, approved.zone, approved.role
            )));
        }
        Ok(RefreshOf { key_package: share.key_package, public_key_package: share.public_key_package })
    }

    /// The refresh DKG finished: the refreshed share is kept aside
    /// (flushed) and this signer confirms the refreshed public key package
    /// with its identity key. The share in use does not change yet.
    pub(crate) fn refresh_finished(&self, request_id: &str, out: DkgOutput, now: Now) -> Result<v1::DkgFinishResponse, NodeError> {
        let approved = self.approved_ceremony(request_id, CeremonyKind::Refresh, now)?;
        if out.key_tag != approved.key_tag || out.group_public_key.as_slice() != approved.group_public_key.as_slice() {
            return Err(NodeError::Internal("the refreshed share belongs to another key".into()));
        }
        let public_key_package =
            out.public_key_package.serialize().map_err(|e| NodeError::Internal(format!("serialize: {e}")))?;
        let share = KeyShare {
            info: ShareInfo { zone: approved.zone.clone(), role: approved.role, key_tag: out.key_tag, group_public_key: out.group_public_key },
            key_package: out.key_package,
            public_key_package: out.public_key_package,
        };
        self.store.put_refreshed_share(&share)?;
        let me = self.options().participant;
        let digest = package_digest(&public_key_package);
        let refresh_confirmation = refresh_done(&approved, &digest, &me).sign(self.store.identity());
        tracing::info!(zone = %approved.zone, request = %request_id, "refreshed share of key tag {} kept aside until every participant confirms", approved.key_tag);
        Ok(v1::DkgFinishResponse {
            group_public_key: out.group_public_key.to_vec(),
            public_key_package,
            key_tag: out.key_tag.0.into(),
            refresh_confirmation,
        })
    }

    /// Replaces this signer's share by its refreshed share once every
    /// participant of the roster confirmed exactly the same refreshed
    /// public key package; the ceremony ends (audit event
    /// `shares-refreshed`). Asked again after that, it answers the same
    /// decision if the share in use is that refresh's.
    pub fn commit_refresh(&self, req: v1::CommitRefreshRequest, now: Now) -> Result<v1::Decision, NodeError> {
        crate::proposal::check_request_id(&req.request_id)?;
        if self.options().faults.refuses_refresh_commit() {
            return Err(NodeError::Internal("fault injection: share refresh commit refused".into()));
        }
        if let Some(record) = self.store.requests().get(&req.request_id)? {
            let is_refresh = record.ceremony.as_ref().and_then(|c| CeremonyKind::from_proto(c.kind)) == Some(CeremonyKind::Refresh);
            if is_refresh && record.state() == RequestState::Published {
                return self.committed_already(&record, &req);
            }
        }
        let approved = self.refresh_to_commit(&req.request_id)?;
        match self.commit_refresh_checked(&approved, &req) {
            Ok(()) => {}
            Err(e) => return Err(self.ceremony_step_refused(&req.request_id, "share refresh commit", e)),
        }
        let outcome = format!(
            "key share refreshed: {} key tag {} of {} (group key {} unchanged); the old share is deleted",
            approved.role,
            approved.key_tag,
            approved.zone,
            hex::encode(&approved.group_public_key)
        );
        tracing::info!(zone = %approved.zone, request = %approved.request_id, "{outcome}");
        self.complete_ceremony(&approved.request_id, "shares-refreshed", outcome, now)
    }

    fn commit_refresh_checked(&self, approved: &ApprovedCeremony, req: &v1::CommitRefreshRequest) -> Result<(), NodeError> {
        let pending = self.store.refreshed_share(&approved.zone, approved.key_tag)?.ok_or_else(|| {
            RequestError::NotApproved(format!(
                "no refreshed share of key tag {} of {} is kept here: run the refresh again",
                approved.key_tag, approved.zone
            ))
        })?;
        let ours = pending.public_key_package.serialize().map_err(|e| NodeError::Internal(format!("serialize: {e}")))?;
        if ours != req.public_key_package {
            return Err(NodeError::field("public_key_package", "is not the refreshed package this signer derived"));
        }
        let digest = package_digest(&ours);
        let roster = self.roster("key ceremony")?;
        let mut confirmed = BTreeSet::new();
        for c in &req.confirmations {
            let from = participant(c.from.as_ref(), "confirmations.from")?;
            if !approved.participants.contains(&from) {
                return Err(NodeError::field("confirmations.from", "not a participant of this refresh"));
            }
            if !confirmed.insert(from) {
                return Err(NodeError::field("confirmations.from", "a participant confirmed twice"));
            }
            roster
                .verify(&from, &refresh_done(approved, &digest, &from), &c.signature)
                .map_err(|e| NodeError::field("confirmations.signature", format!("{e}: not a confirmation of this refresh")))?;
        }
        if let Some(missing) = approved.participants.iter().find(|id| !confirmed.contains(id)) {
            let name = roster.member(missing).map(|m| m.name.clone()).unwrap_or_else(|| frostzone_threshold::display_identifier(missing));
            return Err(NodeError::Policy(format!("{name} has not confirmed the refresh: the old share stays in use")));
        }
        if !self.store.commit_refreshed_share(&approved.zone, approved.key_tag)? {
            return Err(NodeError::Policy(format!("no share of key tag {} of {} is held any more", approved.key_tag, approved.zone)));
        }
        Ok(())
    }

    fn committed_already(&self, record: &crate::request_store::StoredRequest, req: &v1::CommitRefreshRequest) -> Result<v1::Decision, NodeError> {
        let tag = record.ceremony.as_ref().map(|c| c.key_tag).unwrap_or_default();
        let in_use = u16::try_from(tag)
            .ok()
            .map(|t| self.store.get_share(&record.zone, frostzone_dnssec::keys::KeyTag(t)))
            .transpose()?
            .flatten()
            .map(|s| s.public_key_package.serialize())
            .transpose()
            .map_err(|e| NodeError::Internal(format!("serialize: {e}")))?;
        if in_use.as_deref() == Some(req.public_key_package.as_slice()) {
            Ok(self.signed(record))
        } else {
            Err(RequestError::NotApproved(format!("share refresh {} has ended with another package", req.request_id)).into())
        }
    }
}

fn refresh_done<'a>(approved: &'a ApprovedCeremony, digest: &'a [u8], sender: &'a frostzone_threshold::Identifier) -> Statement<'a> {
    Statement::RefreshDone {
        request_id: &approved.request_id,
        zone: &approved.zone,
        key_tag: approved.key_tag.0,
        group_public_key: &approved.group_public_key,
        package_digest: digest,
        sender,
    }
}
