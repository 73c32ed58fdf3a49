//! FROST signing (RFC 9591 §5), as [`Node`] methods: round 1 (Commit)
//! makes nonces for a batch whose every item was rebuilt from its content
//! and checked against the policy, and which belongs to a request this
//! signer approved (checked by the request life cycle, `lifecycle`);
//! round 2 (Sign) uses them once, over the messages rebuilt at Commit.
//! Both are recorded in the audit log before anything leaves.

use std::collections::BTreeMap;

use frostzone_dnssec::keys::KeyTag;
use frostzone_proto::audit::AuditEntry;
use frostzone_proto::v1;
use frostzone_proto::MAX_BATCH_ITEMS;
use frostzone_threshold::frost::round1::SigningCommitments;
use frostzone_threshold::{commit_batch, sign_batch, Identifier, SigningBatch};
use rand::rngs::OsRng;
use rand::RngCore;
use frostzone_threshold::parallel::collect_indexed;

use crate::clock::Now;
use crate::error::NodeError;
use crate::fields::{participant, participant_id, session_id};
use crate::node::{lock, Node, PendingSigning, MAX_PENDING_SIGNING, REQUESTER};
use crate::policy::{signed_messages, BatchContext};
use frostzone_dnssec::name::ZoneName;

/// At most this many items of a request are committed with its approval
/// (`Node::precommit`): a routine diff is a handful; a whole zone goes
/// through Commit, batch by batch, so that nonces are made only for the
/// signers chosen.
pub const PRECOMMIT_MAX_ITEMS: usize = 64;

impl Node {
    /// FROST round 1 for a batch: the batch must belong to a request this
    /// signer approved and hold only items it was proposed
    /// ([`crate::lifecycle`]); every item is rebuilt and checked against
    /// the policy, then fresh nonces are kept in memory under the session
    /// id. Accepted or refused, the batch is recorded in the audit log
    /// first.
    pub fn commit(&self, req: v1::CommitRequest, now: Now) -> Result<v1::CommitResponse, NodeError> {
        let entry = AuditEntry {
            event: "commit".into(),
            request: req.request_id.clone(),
            zone: req.zone.clone(),
            content_hash: hex::encode(frostzone_proto::content::content_hash(&req.items)),
            operator: REQUESTER.into(),
            ..AuditEntry::default()
        };
        let id = req.attempt_id.clone();
        let n = req.items.len();
        let key_tag = req.key_tag;
        match self.commit_checked(req, &entry.content_hash, now) {
            Ok(response) => {
                let outcome = format!("accepted: {n} items for key tag {key_tag} (attempt {})", hex::encode(&id));
                if let Err(e) = self.audit(AuditEntry { outcome, ..entry }) {
                    // Not recorded, not signed: the nonces go.
                    let _ = lock(&self.signing).take(&id, now.instant);
                    return Err(e);
                }
                Ok(response)
            }
            Err(e) => {
                let outcome = format!("{e} (attempt {})", hex::encode(&id));
                self.audit(AuditEntry { event: "commit-refused".into(), outcome, ..entry })?;
                Err(e)
            }
        }
    }

    /// FROST round 1 done ahead, for a request this signer has just
    /// approved by its policy ([`crate::lifecycle`]'s Propose): one batch
    /// per key of the zone it holds a share of, over that key's items in
    /// proposal order (the coordinator cuts its batches the same way), each
    /// through every check of Commit. Saves a routine diff the Commit round
    /// trip. Returns each batch's commitments with the audit entry to
    /// append with the decision; a batch that cannot be committed (no
    /// share, rate limit, sessions short) is left to Commit.
    pub(crate) fn precommit(&self, request_id: &str, zone: &str, items: &[v1::SigningItem], now: Now) -> Vec<(v1::Precommitment, AuditEntry)> {
        let mut by_key: BTreeMap<u32, Vec<v1::SigningItem>> = BTreeMap::new();
        for item in items {
            if let Some(rrsig) = &item.rrsig {
                by_key.entry(rrsig.key_tag).or_default().push(item.clone());
            }
        }
        let signed: usize = by_key.values().map(Vec::len).sum();
        // Half the session table stays for Commit: precommitted nonces
        // that go unused live until the request ends.
        let room = MAX_PENDING_SIGNING / 2 >= lock(&self.signing).pending() + by_key.len();
        if signed == 0 || signed > PRECOMMIT_MAX_ITEMS || !room {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (key_tag, items) in by_key {
            let mut attempt_id = vec![0u8; 16];
            OsRng.fill_bytes(&mut attempt_id);
            let items_hash = frostzone_proto::content::content_hash(&items);
            let content_hash = hex::encode(items_hash);
            let n = items.len();
            let req = v1::CommitRequest {
                api_version: frostzone_proto::API_VERSION,
                attempt_id: attempt_id.clone(),
                zone: zone.to_string(),
                key_tag,
                items,
                request_id: request_id.to_string(),
            };
            match self.commit_checked(req, &content_hash, now) {
                Ok(response) => {
                    let entry = AuditEntry {
                        event: "commit".into(),
                        request: request_id.to_string(),
                        zone: zone.to_string(),
                        content_hash,
                        operator: REQUESTER.into(),
                        outcome: format!(
                            "accepted with the approval: {n} items for key tag {key_tag} (attempt {})",
                            hex::encode(&attempt_id)
                        ),
                        ..AuditEntry::default()
                    };
                    let ahead = v1::Precommitment {
                        key_tag,
                        attempt_id,
                        items_hash: items_hash.to_vec(),
                        commitments: response.commitments,
                    };
                    out.push((ahead, entry));
                }
                Err(e) => tracing::debug!(request = %request_id, %zone, key_tag, "no commitments ahead, left to Commit: {e}"),
            }
        }
        out
    }

    /// Drops the nonces committed for `request_id` and not used: the
    /// request ended, no Sign may follow.
    pub(crate) fn drop_unused_nonces(&self, request_id: &str) -> usize {
        lock(&self.signing).drop_pending(|p| p.request_id == request_id)
    }

    fn commit_checked(&self, req: v1::CommitRequest, content_hash: &str, now: Now) -> Result<v1::CommitResponse, NodeError> {
        let id = session_id("attempt_id", &req.attempt_id, 1)?;
        if req.items.is_empty() || req.items.len() > MAX_BATCH_ITEMS {
            return Err(NodeError::field(
                "items",
                format!("{} items, need 1..={MAX_BATCH_ITEMS}", req.items.len()),
            ));
        }
        let zone = ZoneName::parse(&req.zone).map_err(|e| NodeError::field("zone", e))?;
        let (zone_text, zone_name) = (zone.as_str().to_string(), zone.apex().clone());
        if !self.policy.serves(&zone_text) {
            return Err(NodeError::Policy(format!(
                "zone {zone_text} is not served under this signer's policy"
            )));
        }
        let key_tag = KeyTag(
            u16::try_from(req.key_tag).map_err(|_| NodeError::field("key_tag", "out of range"))?,
        );
        let (info, key_package) = self
            .store
            .get_signing_share(&zone_text, key_tag)?
            .ok_or(NodeError::UnknownKey {
                zone: zone_text.clone(),
                key_tag,
            })?;
        let ctx = BatchContext {
            zone: zone_name,
            key_tag,
            role: info.role,
            now: now.serial(),
            policy: self.policy.clone(),
        };
        let messages = signed_messages(&req.items, &ctx)?;
        // After the item checks, so that a malformed item is named as
        // such; before any nonce or rate-limit budget is spent.
        self.check_commit_binding(&req.request_id, &zone_text, &req.items, now)?;
        lock(&self.rate)
            .take(messages.len() as u64, now.instant)
            .map_err(NodeError::RateLimited)?;
        let (nonces, commitments) = commit_batch(&key_package, messages.len(), &mut OsRng);
        let serialized = commitments
            .iter()
            .map(|c| {
                c.serialize()
                    .map_err(|e| NodeError::Internal(format!("serialize: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pending = PendingSigning {
            zone: zone_text,
            request_id: req.request_id.clone(),
            content_hash: content_hash.to_string(),
            nonces,
            messages,
            commitments,
            commitments_sent: serialized.clone(),
            key_package,
        };
        lock(&self.signing)
            .insert(id, pending, now.instant)
            .map_err(NodeError::session("signing"))?;
        Ok(v1::CommitResponse {
            participant: Some(participant_id(&self.options().participant)),
            commitments: serialized,
        })
    }

    /// FROST round 2: the session is removed first, so it signs at most
    /// once; the messages signed are the ones rebuilt at Commit. The
    /// shares go out only once the audit log has recorded them.
    pub fn sign(&self, req: v1::SignRequest, now: Now) -> Result<v1::SignResponse, NodeError> {
        let id = session_id("attempt_id", &req.attempt_id, 1)?;
        let pending = lock(&self.signing)
            .take(id, now.instant)
            .map_err(NodeError::session("signing"))?;
        let entry = AuditEntry {
            event: "sign".into(),
            request: pending.request_id.clone(),
            zone: pending.zone.clone(),
            content_hash: pending.content_hash.clone(),
            operator: REQUESTER.into(),
            signers: req
                .commitments
                .iter()
                .filter_map(|c| c.participant.as_ref())
                .map(|p| match Identifier::deserialize(&p.id) {
                    Ok(id) => format!("participant {}", frostzone_threshold::display_identifier(&id)),
                    Err(_) => format!("participant {}", hex::encode(&p.id)),
                })
                .collect(),
            ..AuditEntry::default()
        };
        let request_id = pending.request_id.clone();
        let session = hex::encode(id);
        let signed = if self.still_approved(&request_id) {
            self.sign_pending(req, pending)
        } else {
            Err(crate::error::RequestError::NotApproved(format!(
                "request {request_id} is no longer approved (rejected, expired or finished since Commit)"
            ))
            .into())
        };
        match signed {
            Ok(response) => {
                let outcome = format!("signature shares for {} items (attempt {session})", response.shares.len());
                self.metrics.shares_made(&entry.zone, response.shares.len());
                self.audit(AuditEntry { outcome, ..entry })?;
                self.mark_signed(&request_id, now)?;
                Ok(response)
            }
            Err(e) => {
                self.audit(AuditEntry { event: "sign-refused".into(), outcome: e.to_string(), ..entry })?;
                Err(e)
            }
        }
    }

    fn sign_pending(&self, req: v1::SignRequest, pending: PendingSigning) -> Result<v1::SignResponse, NodeError> {
        let PendingSigning {
            zone: _,
            request_id: _,
            content_hash: _,
            nonces,
            messages,
            commitments: mine,
            commitments_sent,
            key_package,
        } = pending;
        let me = self.options().participant;
        let mut all: BTreeMap<Identifier, Vec<SigningCommitments>> = BTreeMap::new();
        for pc in &req.commitments {
            let who = participant(pc.participant.as_ref(), "commitments.participant")?;
            if pc.commitments.len() != messages.len() {
                return Err(NodeError::Commitments(format!(
                    "signer {}: {} commitments for a batch of {}",
                    frostzone_threshold::display_identifier(&who),
                    pc.commitments.len(),
                    messages.len()
                )));
            }
            // RFC 9591 §5.2: each participant checks that its own commitment
            // is in the list, unchanged. Its own list it made: compared by
            // its bytes, it needs no parsing (the others' are checked below).
            if who == me {
                if pc.commitments != commitments_sent {
                    return Err(NodeError::Commitments(
                        "this signer's commitments differ from those it made".into(),
                    ));
                }
                if all.insert(who, mine.clone()).is_some() {
                    return Err(NodeError::Commitments(format!(
                        "signer {} listed twice",
                        frostzone_threshold::display_identifier(&who)
                    )));
                }
                continue;
            }
            // Point decompression dominates round 2 (about 60 µs per
            // commitment): a large batch is parsed on every core.
            let parsed: Result<Vec<SigningCommitments>, NodeError> = collect_indexed(&pc.commitments, |i, c| {
                SigningCommitments::deserialize(c).map_err(|e| {
                    NodeError::Commitments(format!(
                        "signer {} item {i}: {e}",
                        frostzone_threshold::display_identifier(&who)
                    ))
                })
            });
            let parsed = parsed?;
            if all.insert(who, parsed).is_some() {
                return Err(NodeError::Commitments(format!(
                    "signer {} listed twice",
                    frostzone_threshold::display_identifier(&who)
                )));
            }
        }
        if !all.contains_key(&me) {
            return Err(NodeError::Commitments("this signer's commitments are missing".into()));
        }
        let needed = usize::from(*key_package.min_signers());
        if all.len() < needed {
            return Err(NodeError::Commitments(format!(
                "{} signers chosen, the threshold is {needed}",
                all.len()
            )));
        }
        let messages = self.options().faults.messages(messages);
        let packages = SigningBatch::new(&messages, &all)?;
        let shares = sign_batch(nonces, &key_package, &packages)?;
        if self.options().faults.corrupts_shares() {
            tracing::warn!(
                "FAULT INJECTION: returning {} corrupt signature shares",
                shares.len()
            );
        }
        Ok(v1::SignResponse {
            participant: Some(participant_id(&me)),
            shares: shares.iter().map(|s| s.serialize()).collect(),
        })
    }
}
