//! Key ceremonies (DKG of a new key, import of an existing one, removal of
//! a key's shares) as requests of the signer's life cycle
//! ([`crate::lifecycle`]): proposed by the coordinator, checked against
//! this signer's own roster and policy, approved by policy (`key_ceremonies
//! = "auto"`, for zones it serves) or by its operator, and only then
//! carried out ([`crate::keygen`]).
//!
//! ```text
//!  ProposeCeremony ─▶ APPROVED (policy) ─┬─▶ steps (DKG rounds / import / removal) ─▶ PUBLISHED
//!                  ├▶ PENDING ─▶ APPROVED┘          (the key stored or removed)
//!                  │          └▶ REJECTED / EXPIRED
//!                  └▶ REJECTED (group differs from the roster, zone not served,
//!                               key still published, ...)
//! ```
//!
//! The group a DKG or import makes must be exactly the roster's: its t and
//! every participant, nothing learned from the coordinator. A removal is
//! refused while the key is in the zone's published DNSKEY RRset.

use std::collections::BTreeMap;
use std::sync::Arc;

use frostzone_dnssec::keys::{KeyRole, KeyTag};
use frostzone_proto::audit::AuditEntry;
use frostzone_proto::content::ceremony_hash;
use frostzone_proto::roster::{describe_identifiers, Roster};
use frostzone_proto::v1::{self, KeyCeremony, KeyInvolved, RequestState};
use frostzone_threshold::Identifier;

use crate::approval::KeyChanges;
use crate::error::{NodeError, RequestError};
use crate::binding::APPROVAL_WINDOW_SECS;
use crate::fields::{participant, proto_role, role, zone as normalized_zone};
use crate::clock::Now;
use crate::node::{lock, Node, REQUESTER};
use crate::policy_file::SignerPolicy;
use crate::proposal::{check_request_id, DECIDED_BY_POLICY};
use crate::request_store::{RequestContent, StoredRequest, REQUEST_FORMAT};
use crate::store::ShareInfo;

/// What a ceremony does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Distributed key generation of a new key.
    Dkg,
    /// Import of an existing key.
    Import,
    /// Removal of a key's shares.
    Remove,
    /// Refresh of every share of a key (the key stays).
    Refresh,
    /// Repair of one holder's lost share by t other holders.
    Repair,
}

impl CeremonyKind {
    pub(crate) fn from_proto(value: i32) -> Option<CeremonyKind> {
        match v1::CeremonyKind::try_from(value) {
            Ok(v1::CeremonyKind::Dkg) => Some(CeremonyKind::Dkg),
            Ok(v1::CeremonyKind::Import) => Some(CeremonyKind::Import),
            Ok(v1::CeremonyKind::Remove) => Some(CeremonyKind::Remove),
            Ok(v1::CeremonyKind::Refresh) => Some(CeremonyKind::Refresh),
            Ok(v1::CeremonyKind::Repair) => Some(CeremonyKind::Repair),
            _ => None,
        }
    }

    /// How messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            CeremonyKind::Dkg => "distributed key generation (DKG)",
            CeremonyKind::Import => "key import",
            CeremonyKind::Remove => "key removal",
            CeremonyKind::Refresh => "share refresh",
            CeremonyKind::Repair => "share repair",
        }
    }
}

/// An approved ceremony, as its steps use it.
#[derive(Clone, Debug)]
pub struct ApprovedCeremony {
    /// The request.
    pub request_id: String,
    /// Its zone, normalized.
    pub zone: String,
    /// The key's role (DKG, import).
    pub role: KeyRole,
    /// t (DKG, import).
    pub threshold: u16,
    /// The participants, in identifier order (DKG, import).
    pub participants: Vec<Identifier>,
    /// The key (import, removal).
    pub key_tag: KeyTag,
    /// Its public key (import: the only key whose shares may be stored).
    pub group_public_key: Vec<u8>,
    /// Repair: whose share is rebuilt (`participants` are the helpers).
    pub repaired: Option<Identifier>,
}

impl ApprovedCeremony {
    /// A DKG step must name exactly the approved zone, role, t and
    /// participants.
    pub fn check_same(&self, zone: &str, role_value: i32, threshold: u32, participants: &[v1::ParticipantId]) -> Result<(), NodeError> {
        self.check_zone_role(zone, role_value)?;
        let given = participants.iter().map(|p| participant(Some(p), "participants")).collect::<Result<Vec<_>, _>>()?;
        let mut sorted = given.clone();
        sorted.sort();
        if threshold != u32::from(self.threshold) || sorted != self.participants {
            return Err(RequestError::NotApproved(format!(
                "ceremony {} approved {} of {}, this step asks {threshold} of {}",
                self.request_id,
                self.threshold,
                describe_identifiers(self.participants.iter()),
                describe_identifiers(given.iter())
            ))
            .into());
        }
        Ok(())
    }

    /// A step must name the approved zone and role.
    pub fn check_zone_role(&self, zone: &str, role_value: i32) -> Result<(), NodeError> {
        let (zone, role) = (normalized_zone(zone)?, role(role_value)?);
        if zone != self.zone || role != self.role {
            return Err(RequestError::NotApproved(format!(
                "ceremony {} is for a {} of {}, this step is for a {role} of {zone}",
                self.request_id, self.role, self.zone
            ))
            .into());
        }
        Ok(())
    }
}

/// What a proposed ceremony is checked against.
pub(crate) struct CeremonyContext<'a> {
    pub policy: Arc<SignerPolicy>,
    pub roster: Option<&'a Roster>,
    /// Shares held for the zone.
    pub shares: Vec<ShareInfo>,
    /// Key tags of the zone's published DNSKEY RRset.
    pub published: BTreeMap<u16, String>,
    pub now: u64,
    /// This signer.
    pub me: Identifier,
}

/// Evaluates a proposed ceremony (pure): the record with its decision and
/// the lines an operator reviews. `Err` for a malformed proposal (nothing
/// is stored then).
pub(crate) fn evaluate_ceremony(
    proposal: &v1::CeremonyProposal,
    ceremony: &KeyCeremony,
    ctx: &CeremonyContext<'_>,
) -> Result<(StoredRequest, Vec<String>), NodeError> {
    let kind = CeremonyKind::from_proto(ceremony.kind).ok_or_else(|| NodeError::field("ceremony.kind", "not DKG, IMPORT, REMOVE, REFRESH or REPAIR"))?;
    let zone = normalized_zone(&ceremony.zone)?;
    let expiry = ctx.now.saturating_add(ctx.policy.approval.pending_expiry_secs);
    let mut record = StoredRequest {
        format: REQUEST_FORMAT,
        id: proposal.request_id.clone(),
        zone: zone.clone(),
        content_hash: ceremony_hash(ceremony).to_vec(),
        created_unix: ctx.now,
        expires_unix: if proposal.expires_unix == 0 { expiry } else { expiry.min(proposal.expires_unix) },
        submitted_by: crate::proposal::bounded(&proposal.submitted_by),
        decided_by: DECIDED_BY_POLICY.into(),
        state_unix: ctx.now,
        ceremony: Some(ceremony.clone()),
        content_stored: true,
        ..StoredRequest::default()
    };
    let mut lines = Vec::new();
    let refusal = match kind {
        CeremonyKind::Dkg | CeremonyKind::Import => check_group_ceremony(kind, ceremony, &zone, ctx, &mut lines)?,
        CeremonyKind::Remove => check_removal(ceremony, &zone, ctx, &mut record, &mut lines)?,
        CeremonyKind::Refresh => check_refresh(ceremony, &zone, ctx, &mut record, &mut lines)?,
        CeremonyKind::Repair => check_repair(ceremony, &zone, ctx, &mut record, &mut lines)?,
    };
    let refusal = refusal.or_else(|| (!ctx.policy.serves(&zone)).then(|| format!("zone {zone} is not served under this signer's policy")));
    if let Some(reason) = refusal {
        crate::proposal::reject(&mut record, reason, ctx.now);
        return Ok((record, lines));
    }
    let (decider, setting) = match kind {
        CeremonyKind::Refresh => (ctx.policy.approval.share_refresh, "share_refresh"),
        _ => (ctx.policy.approval.key_ceremonies, "key_ceremonies"),
    };
    match decider {
        KeyChanges::Auto => {
            record.set_state(RequestState::Approved, ctx.now);
            record.approved_unix = ctx.now;
        }
        // The policy file refuses "rollover" for ceremonies; read as the
        // operator's anyway.
        KeyChanges::Operator | KeyChanges::Rollover => {
            record.set_state(RequestState::Pending, ctx.now);
            record.reason = format!("{} needs this signer's operator ({setting} = \"operator\")", kind.describe());
            record.decided_by.clear();
        }
    }
    Ok((record, lines))
}

/// DKG and import: the role, t and participants, checked against the
/// roster. Returns a refusal reason, if any.
fn check_group_ceremony(
    kind: CeremonyKind,
    ceremony: &KeyCeremony,
    zone: &str,
    ctx: &CeremonyContext<'_>,
    lines: &mut Vec<String>,
) -> Result<Option<String>, NodeError> {
    let key_role = role(ceremony.role)?;
    match kind {
        CeremonyKind::Import => {
            let key: [u8; 32] = ceremony
                .group_public_key
                .as_slice()
                .try_into()
                .map_err(|_| NodeError::field("ceremony.group_public_key", "an import names the 32-octet public key it imports"))?;
            let tag = frostzone_dnssec::keys::ZoneKey::ed25519(key_role, key).key_tag();
            if ceremony.key_tag != u32::from(tag.0) {
                return Err(NodeError::field("ceremony.key_tag", format!("{} is not the tag of the named key ({tag})", ceremony.key_tag)));
            }
        }
        _ if ceremony.key_tag != 0 || !ceremony.group_public_key.is_empty() => {
            return Err(NodeError::field("ceremony.key_tag", "a new key has no key tag or group key yet"));
        }
        _ => {}
    }
    let ids = ceremony.participants.iter().map(|p| participant(Some(p), "ceremony.participants")).collect::<Result<Vec<_>, _>>()?;
    let what = match kind {
        CeremonyKind::Import => format!("import of an existing {key_role} for {zone}, split by an operator's CLI into one share per signer"),
        _ => format!("distributed key generation (DKG) of a new {key_role} for {zone}"),
    };
    lines.push(format!("key ceremony: {what}"));
    if kind == CeremonyKind::Import {
        lines.push(format!(
            "the key: tag {}, public key {} (compare with what the importing operator announced)",
            ceremony.key_tag,
            hex::encode(&ceremony.group_public_key)
        ));
    }
    check_roster(ceremony, &ids, ctx, lines)
}

/// The ceremony's t and participants must be this signer's roster's.
fn check_roster(ceremony: &KeyCeremony, ids: &[Identifier], ctx: &CeremonyContext<'_>, lines: &mut Vec<String>) -> Result<Option<String>, NodeError> {
    lines.push(format!("group: {} of {}: participants {}", ceremony.threshold, ids.len(), describe_identifiers(ids.iter())));
    let Some(roster) = ctx.roster else { return Ok(Some("this signer has no roster: it takes part in no key ceremony".into())) };
    for id in ids {
        if let Some(m) = roster.member(id) {
            lines.push(format!("  participant {} {} identity {}", m.participant, m.name, m.identity));
        }
    }
    match roster.check_group(ceremony.threshold, ids) {
        Ok(()) => {
            lines.push(format!("t and every participant are those of this signer's roster (fingerprint {})", roster.fingerprint()));
            Ok(None)
        }
        Err(e) => Ok(Some(format!("the ceremony's group differs from this signer's roster ({}): {e}", roster.file.display()))),
    }
}

/// The key tag a refresh or removal names, and this signer's share of it.
fn named_key<'a>(ceremony: &KeyCeremony, ctx: &'a CeremonyContext<'_>) -> Result<(u16, Option<&'a ShareInfo>), NodeError> {
    let tag = u16::try_from(ceremony.key_tag).map_err(|_| NodeError::field("ceremony.key_tag", "out of range"))?;
    Ok((tag, ctx.shares.iter().find(|s| s.key_tag.0 == tag)))
}

/// The existing key a refresh or repair names.
struct NamedKey<'a> {
    role: KeyRole,
    participants: Vec<Identifier>,
    tag: u16,
    /// This signer's share of it.
    held: Option<&'a ShareInfo>,
}

/// The key a refresh or repair names, recorded as the key involved.
fn named_group_key<'a>(ceremony: &KeyCeremony, ctx: &'a CeremonyContext<'_>, record: &mut StoredRequest) -> Result<NamedKey<'a>, NodeError> {
    let key_role = role(ceremony.role)?;
    let participants = ceremony.participants.iter().map(|p| participant(Some(p), "ceremony.participants")).collect::<Result<Vec<_>, _>>()?;
    let (tag, held) = named_key(ceremony, ctx)?;
    record.keys = vec![KeyInvolved { key_tag: tag.into(), role: proto_role(key_role).into(), signatures: 0, held: held.is_some() }];
    Ok(NamedKey { role: key_role, participants, tag, held })
}

/// Refresh: a key this signer holds a share of, named by tag and group
/// key, among exactly the roster's t and participants (the share's own
/// group is checked when the refresh runs, [`crate::keygen`]).
fn check_refresh(
    ceremony: &KeyCeremony,
    zone: &str,
    ctx: &CeremonyContext<'_>,
    record: &mut StoredRequest,
    lines: &mut Vec<String>,
) -> Result<Option<String>, NodeError> {
    let NamedKey { role: key_role, participants: ids, tag, held } = named_group_key(ceremony, ctx, record)?;
    lines.push(format!(
        "key ceremony: refresh of every share of the {key_role} key tag {tag} of {zone}; the key and its DNSKEY stay the same"
    ));
    let Some(share) = held else {
        return Ok(Some(format!("this signer holds no share of key tag {tag} of {zone}: nothing to refresh")));
    };
    if share.role != key_role || ceremony.group_public_key != share.group_public_key {
        return Ok(Some(format!(
            "key tag {tag} of {zone} held here is a {} with another group key than the ceremony names",
            share.role
        )));
    }
    lines.push(format!("this signer holds a share of it: group key {}", hex::encode(share.group_public_key)));
    check_roster(ceremony, &ids, ctx, lines)
}

/// Repair: this signer is the repaired one (and holds no share of the
/// key) or one of the helpers (and holds one); the repaired signer and t
/// or more helpers are other members of the roster.
fn check_repair(
    ceremony: &KeyCeremony,
    zone: &str,
    ctx: &CeremonyContext<'_>,
    record: &mut StoredRequest,
    lines: &mut Vec<String>,
) -> Result<Option<String>, NodeError> {
    let repaired = participant(ceremony.repaired.as_ref(), "ceremony.repaired")?;
    let NamedKey { role: key_role, participants: helpers, tag, held } = named_group_key(ceremony, ctx, record)?;
    let Some(roster) = ctx.roster else { return Ok(Some("this signer has no roster: it takes part in no key ceremony".into())) };
    let name = |id: &Identifier| roster.member(id).map(|m| m.name.clone()).unwrap_or_else(|| frostzone_threshold::display_identifier(id));
    lines.push(format!(
        "key ceremony: repair of {}'s lost share of the {key_role} key tag {tag} of {zone} by {}; the key and every other share stay",
        name(&repaired),
        helpers.iter().map(name).collect::<Vec<_>>().join(", ")
    ));
    if let Err(e) = roster.check_helpers(ceremony.threshold, &helpers, &repaired) {
        return Ok(Some(format!("{e}")));
    }
    if repaired == ctx.me {
        if held.is_some() {
            return Ok(Some(format!("this signer holds a share of key tag {tag} of {zone} already: nothing to repair")));
        }
        lines.push("this signer is the one repaired: it holds no share of the key".into());
    } else if helpers.contains(&ctx.me) {
        match held {
            Some(share) if share.role == key_role && ceremony.group_public_key == share.group_public_key => {
                lines.push(format!("this signer helps with its share: group key {}", hex::encode(share.group_public_key)));
            }
            Some(_) => return Ok(Some(format!("key tag {tag} of {zone} held here is not the key the ceremony names"))),
            None => return Ok(Some(format!("this signer holds no share of key tag {tag} of {zone}: it cannot help"))),
        }
    } else {
        return Ok(Some("this signer is neither a helper of this repair nor the one repaired".into()));
    }
    lines.push(format!("t and the helpers fit this signer's roster (fingerprint {})", roster.fingerprint()));
    Ok(None)
}

/// Removal: the key named, held or not, and never one still published.
fn check_removal(
    ceremony: &KeyCeremony,
    zone: &str,
    ctx: &CeremonyContext<'_>,
    record: &mut StoredRequest,
    lines: &mut Vec<String>,
) -> Result<Option<String>, NodeError> {
    let (tag, held) = named_key(ceremony, ctx)?;
    lines.push(format!("key ceremony: removal of every share of key tag {tag} of {zone}"));
    record.keys = vec![KeyInvolved {
        key_tag: tag.into(),
        role: held.map(|s| proto_role(s.role)).unwrap_or(v1::KeyRole::Unspecified).into(),
        signatures: 0,
        held: held.is_some(),
    }];
    match held {
        Some(share) => {
            if !ceremony.group_public_key.is_empty() && ceremony.group_public_key != share.group_public_key {
                return Ok(Some(format!("key tag {tag} of {zone} held here has another group key than the ceremony names")));
            }
            lines.push(format!("this signer holds a share of it: {} group key {}", share.role, hex::encode(share.group_public_key)));
        }
        None => lines.push("this signer holds no share of it".into()),
    }
    if let Some(what) = ctx.published.get(&tag) {
        return Ok(Some(format!("key tag {tag} is {what} of {zone}: take it out of the zone before its shares are removed")));
    }
    Ok(None)
}

impl Node {
    /// ProposeCeremony: evaluates a key ceremony (see the module
    /// documentation), stores it with its decision and records it in the
    /// audit log. A repeated proposal with the same content answers the
    /// decision made.
    pub fn propose_ceremony(&self, proposal: v1::CeremonyProposal, now: Now) -> Result<v1::Decision, NodeError> {
        check_request_id(&proposal.request_id)?;
        let ceremony = proposal.ceremony.clone().ok_or_else(|| NodeError::field("ceremony", "missing"))?;
        let zone = normalized_zone(&ceremony.zone)?;
        let hash = ceremony_hash(&ceremony);
        if let Some(decision) = self.decided_before(&proposal.request_id, &hash)? {
            return Ok(decision);
        }
        self.check_open_requests()?;
        let ctx = CeremonyContext {
            policy: self.policy.clone(),
            roster: self.roster.as_deref(),
            shares: self.store.list()?.into_iter().filter(|s| s.zone == zone).collect(),
            published: self.published_key_tags(&zone)?,
            now: now.unix(),
            me: self.options().participant,
        };
        let (record, lines) = evaluate_ceremony(&proposal, &ceremony, &ctx)?;
        {
            let _decisions = lock(&self.decisions);
            if let Some(decision) = self.decided_before(&proposal.request_id, &hash)? {
                return Ok(decision);
            }
            self.store.requests().insert(&record, RequestContent { lines: lines.clone(), ..RequestContent::default() })?;
        }
        self.note_opened(&record);
        self.metrics.decided("ceremony", crate::lifecycle::policy_decision(record.state()));
        let outcome = match record.state() {
            RequestState::Approved => "approved by policy".to_string(),
            RequestState::Pending => format!("pending its operator: {}", record.reason),
            _ => format!("rejected: {}", record.reason),
        };
        tracing::info!(request = %record.id, zone = %record.zone, "{}: {outcome}", lines[0]);
        self.audit(AuditEntry {
            event: "propose-ceremony".into(),
            outcome: format!("{}: {outcome}", lines.join("; ")),
            ..self.propose_audit(&record)
        })?;
        Ok(self.signed(&record))
    }

    /// Key tags of the DNSKEY RRset in the zone's baseline (what is
    /// published), with a description.
    pub(crate) fn published_key_tags(&self, zone: &str) -> Result<BTreeMap<u16, String>, NodeError> {
        use frostzone_dnssec::domain::rdata::ZoneRecordData;
        let apex = frostzone_dnssec::name::ZoneName::parse(zone).map_err(|e| NodeError::field("zone", e))?.into_apex();
        let mut tags = BTreeMap::new();
        if let Some(dnskeys) = self.store.requests().baselines().published_dnskeys(zone, &apex)? {
            for rdata in &dnskeys.rdata {
                if let ZoneRecordData::Dnskey(k) = &rdata.data() {
                    tags.insert(k.key_tag(), format!("a published DNSKEY (flags {})", k.flags()));
                    // The tag it would have once revoked (RFC 5011 §2.1).
                    let revoked = frostzone_dnssec::domain::rdata::Dnskey::new(
                        k.flags() | frostzone_dnssec::keys::FLAG_REVOKE,
                        k.protocol(),
                        k.algorithm(),
                        k.public_key().clone(),
                    );
                    if let Ok(r) = revoked {
                        tags.entry(r.key_tag()).or_insert_with(|| format!("a published DNSKEY (key tag {}) once revoked", k.key_tag()));
                    }
                }
            }
        }
        Ok(tags)
    }

    /// The approved ceremony `request_id` of `kind`, or why its steps may
    /// not run.
    pub(crate) fn approved_ceremony(&self, request_id: &str, kind: CeremonyKind, now: Now) -> Result<ApprovedCeremony, NodeError> {
        self.ceremony_admitted(request_id, kind, |record| {
            if record.state() != RequestState::Approved {
                let why = if record.reason.is_empty() { String::new() } else { format!(" ({})", record.reason) };
                return Err(RequestError::NotApproved(format!(
                    "key ceremony {request_id} is {}{why}: no step is taken before this signer approves it",
                    crate::request_store::state_name(record.state())
                ))
                .into());
            }
            if now.unix() >= record.approved_unix.saturating_add(APPROVAL_WINDOW_SECS) {
                return Err(RequestError::NotApproved(format!("key ceremony {request_id} was approved more than a day ago; propose it again")).into());
            }
            Ok(())
        })
    }

    /// The refresh ceremony `request_id` for its commit: approved, or
    /// approved once and expired since. The day's window bounds when a
    /// refresh may run, not when one that ran in time is completed; the
    /// commit's authority is every participant's confirmation, which each
    /// signed only under its approval of this very request.
    pub(crate) fn refresh_to_commit(&self, request_id: &str) -> Result<ApprovedCeremony, NodeError> {
        self.ceremony_admitted(request_id, CeremonyKind::Refresh, |record| match record.state() {
            RequestState::Approved | RequestState::Expired => Ok(()),
            other => Err(RequestError::NotApproved(format!(
                "share refresh {request_id} is {}: nothing to commit",
                crate::request_store::state_name(other)
            ))
            .into()),
        })
    }

    fn ceremony_admitted(
        &self,
        request_id: &str,
        kind: CeremonyKind,
        admit: impl FnOnce(&StoredRequest) -> Result<(), NodeError>,
    ) -> Result<ApprovedCeremony, NodeError> {
        check_request_id(request_id)?;
        let record = self.store.requests().get(request_id)?.ok_or_else(|| {
            RequestError::NotApproved(format!("no key ceremony {request_id} was proposed to this signer; it takes no step for it"))
        })?;
        let Some(ceremony) = record.ceremony.as_ref().filter(|c| CeremonyKind::from_proto(c.kind) == Some(kind)) else {
            return Err(RequestError::NotApproved(format!("request {request_id} is not a {} ceremony", kind.describe())).into());
        };
        admit(&record)?;
        let repaired = ceremony.repaired.as_ref().map(|p| participant(Some(p), "ceremony.repaired")).transpose()?;
        let (threshold, participants, key_role) = match kind {
            CeremonyKind::Remove => (0, Vec::new(), KeyRole::Zsk),
            CeremonyKind::Repair => {
                let roster = self.roster("key ceremony")?;
                let mut ids =
                    ceremony.participants.iter().map(|p| participant(Some(p), "ceremony.participants")).collect::<Result<Vec<_>, _>>()?;
                ids.sort();
                let repaired = repaired.ok_or_else(|| NodeError::field("ceremony.repaired", "missing"))?;
                roster.check_helpers(ceremony.threshold, &ids, &repaired).map_err(|e| NodeError::Roster(format!("ceremony {request_id}: {e}")))?;
                (roster.threshold, ids, role(ceremony.role)?)
            }
            _ => {
                let roster = self.roster("key ceremony")?;
                let mut ids =
                    ceremony.participants.iter().map(|p| participant(Some(p), "ceremony.participants")).collect::<Result<Vec<_>, _>>()?;
                ids.sort();
                // The roster may have changed since the approval.
                roster.check_group(ceremony.threshold, &ids).map_err(|e| NodeError::Roster(format!("ceremony {request_id}: {e}")))?;
                (roster.threshold, ids, role(ceremony.role)?)
            }
        };
        Ok(ApprovedCeremony {
            request_id: request_id.to_string(),
            zone: record.zone.clone(),
            role: key_role,
            threshold,
            participants,
            key_tag: KeyTag(u16::try_from(ceremony.key_tag).unwrap_or(0)),
            group_public_key: ceremony.group_public_key.clone(),
            repaired,
        })
    }

    /// Ends an approved ceremony: PUBLISHED with `outcome`, recorded in the
    /// audit log as `event` with its origin.
    pub(crate) fn complete_ceremony(&self, request_id: &str, event: &str, outcome: String, now: Now) -> Result<v1::Decision, NodeError> {
        let _decisions = lock(&self.decisions);
        let requests = self.store.requests();
        let mut record = requests.get(request_id)?.ok_or_else(|| NodeError::Internal(format!("request {request_id} vanished")))?;
        record.set_state(RequestState::Published, now.unix());
        record.reason = outcome.clone();
        requests.update(&record)?;
        self.note_closed();
        let approved_by = if record.decided_by.is_empty() { "policy".to_string() } else { record.decided_by.clone() };
        self.audit(AuditEntry {
            event: event.into(),
            outcome: format!("{outcome} (ceremony approved by {approved_by})"),
            ..self.propose_audit(&record)
        })?;
        Ok(self.signed(&record))
    }

    /// Records a refused ceremony step in the audit log and returns the
    /// refusal (or the audit log's failure).
    pub(crate) fn ceremony_step_refused(&self, request_id: &str, step: &str, e: NodeError) -> NodeError {
        let zone = self.store.requests().get(request_id).ok().flatten().map(|r| r.zone).unwrap_or_default();
        let entry = AuditEntry {
            event: "ceremony-refused".into(),
            request: request_id.to_string(),
            zone,
            operator: REQUESTER.into(),
            outcome: format!("{step}: {e}"),
            ..AuditEntry::default()
        };
        match self.audit(entry) {
            Ok(()) => e,
            Err(audit) => audit,
        }
    }
}
