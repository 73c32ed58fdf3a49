//! The approval policy: which requests this signer approves by itself and
//! which wait for its operator. Pure logic over a request's
//! [`ChangeSummary`] (what it changes against the content this signer last
//! saw published for the zone, [`frostzone_dnssec::rrset_diff`]).
//!
//! The operator sets the bounds in the `[approval]` section of the policy
//! file (read by `policy_file`, which holds an [`ApprovalPolicy`]). A
//! request that changes nothing (a pure signature refresh) is always
//! approved: refusing it would only let the zone's signatures expire.
//! Policy violations found in the items themselves (zone not served, type
//! not allowed, validity window) reject a request before this is asked.

use frostzone_dnssec::domain::base::iana::Rtype;
use frostzone_proto::v1::ChangeSummary;

/// Default most RRsets added, removed or changed that are approved without
/// the operator: large enough for routine record edits and re-signing with
/// a changed SOA serial, small enough that a replaced zone stops for review.
pub const DEFAULT_MAX_RRSETS_CHANGED: u64 = 1000;
/// Default most owner names appearing at once without the operator.
pub const DEFAULT_MAX_NAMES_ADDED: u64 = 1000;
/// Default most owner names disappearing at once without the operator:
/// lower than for names added, because a lost name is an outage.
pub const DEFAULT_MAX_NAMES_REMOVED: u64 = 100;
/// Default most DS RRsets at delegations added, removed or changed without
/// the operator. For a registry a child's DS is key material: a wrong one
/// makes the child bogus (RFC 4035 §5.2). Ten covers the routine DS
/// updates of a diff; a batch beyond it is reviewed.
pub const DEFAULT_MAX_DS_CHANGED: u64 = 10;
/// Default time a new key must have been published here before the key it
/// replaces may go, under `key_changes = "rollover"`: an hour, the
/// default DNSKEY TTL (RFC 7583 §3.2.1, Ipub = Dprp + TTLkey).
pub const DEFAULT_MIN_KEY_PUBLISH_SECS: u64 = 3600;
/// Default time a request may wait for its operator: one day, so a request
/// made in the evening can be reviewed the next morning.
pub const DEFAULT_PENDING_EXPIRY_SECS: u64 = 24 * 3600;
/// Longest `pending_expiry_secs` accepted: 30 days. Older content is
/// stale whatever the operator decides.
pub const MAX_PENDING_EXPIRY_SECS: u64 = 30 * 24 * 3600;

/// Who decides on changes to DNSKEY, CDS or CDNSKEY RRsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyChanges {
    /// The operator, always (the default): a changed key set decides what
    /// validates the zone (RFC 4035 §5), a changed CDS/CDNSKEY what the
    /// parent publishes (RFC 7344 §4).
    Operator,
    /// The policy, like any other change.
    Auto,
    /// The policy when this signer recognises the change as a rollover
    /// step ([`crate::key_step`]), the operator otherwise. For key
    /// ceremonies it means the operator.
    Rollover,
}

impl KeyChanges {
    /// The policy file's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyChanges::Operator => "operator",
            KeyChanges::Auto => "auto",
            KeyChanges::Rollover => "rollover",
        }
    }
}

/// The `[approval]` section of the policy file, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalPolicy {
    /// Most RRsets (NSEC, NSEC3, NSEC3PARAM not counted) added, removed or
    /// changed that are approved by policy; 0: every change waits.
    pub max_rrsets_changed: u64,
    /// Most owner names appearing.
    pub max_names_added: u64,
    /// Most owner names disappearing.
    pub max_names_removed: u64,
    /// Most DS RRsets at delegations added, removed or changed; 0: every
    /// DS change waits.
    pub max_ds_changed: u64,
    /// Who decides on key RRset changes (also on a zone's first publication).
    pub key_changes: KeyChanges,
    /// Who decides on key ceremonies (DKG, import, removal) for zones this
    /// signer serves.
    pub key_ceremonies: KeyChanges,
    /// Who decides on refreshes of the shares of a key this signer holds:
    /// the key and its DNSKEY stay, only the shares change, so by default
    /// the policy ("auto"); routine refreshes run on the coordinator's
    /// schedule.
    pub share_refresh: KeyChanges,
    /// How long a request waits for the operator before it expires.
    pub pending_expiry_secs: u64,
    /// (`key_changes = "rollover"`) How long a key must have been
    /// published here before the key it replaces may go.
    pub min_key_publish_secs: u64,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy {
            max_rrsets_changed: DEFAULT_MAX_RRSETS_CHANGED,
            max_names_added: DEFAULT_MAX_NAMES_ADDED,
            max_names_removed: DEFAULT_MAX_NAMES_REMOVED,
            max_ds_changed: DEFAULT_MAX_DS_CHANGED,
            key_changes: KeyChanges::Operator,
            key_ceremonies: KeyChanges::Operator,
            share_refresh: KeyChanges::Auto,
            pending_expiry_secs: DEFAULT_PENDING_EXPIRY_SECS,
            min_key_publish_secs: DEFAULT_MIN_KEY_PUBLISH_SECS,
        }
    }
}

/// What the policy makes of a request whose items all passed the checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyDecision {
    /// Approved by policy.
    Approved,
    /// Waits for the operator, for the reason given.
    Pending(String),
}

/// Decides on a request from what it changes. `key_types` are the key
/// RRset types (DNSKEY, CDS, CDNSKEY) it adds, removes or changes;
/// `key_step` this signer's reading of that change as a rollover step
/// (for `key_changes = "rollover"`; `None` when not judged).
pub fn decide(policy: &ApprovalPolicy, changes: &ChangeSummary, key_types: &[u16], key_step: Option<&Result<String, String>>) -> PolicyDecision {
    let total = changes.rrsets_added + changes.rrsets_removed + changes.rrsets_changed;
    if total == 0 && changes.denial_rrsets_changed == 0 && !changes.key_rrsets_changed {
        return PolicyDecision::Approved;
    }
    let mut reasons = Vec::new();
    if changes.first_publication {
        reasons.push("first publication of the zone seen by this signer".to_string());
    }
    if changes.key_rrsets_changed {
        let types: Vec<String> = key_types.iter().map(|t| Rtype::from_int(*t).to_string()).collect();
        let what = if types.is_empty() { "key".to_string() } else { types.join(", ") };
        match (policy.key_changes, key_step) {
            (KeyChanges::Auto, _) => {}
            (KeyChanges::Rollover, Some(Ok(_))) if !changes.first_publication => {}
            (KeyChanges::Rollover, Some(Err(why))) => {
                reasons.push(format!("{what} RRset changes are not a rollover step this signer expects: {why} (key_changes = \"rollover\")"))
            }
            (KeyChanges::Rollover, _) => reasons.push(format!("{what} RRset changes need the operator's approval (key_changes = \"rollover\" approves rollover steps, not a first publication)")),
            (KeyChanges::Operator, _) => reasons.push(format!("{what} RRset changes need the operator's approval (key_changes = \"operator\")")),
        }
    }
    if total > policy.max_rrsets_changed {
        reasons.push(if policy.max_rrsets_changed == 0 {
            format!("{total} RRsets changed, every change needs the operator's approval (max_rrsets_changed = 0)")
        } else {
            format!("{total} RRsets changed, the policy approves at most {}", policy.max_rrsets_changed)
        });
    }
    if changes.names_added > policy.max_names_added {
        reasons.push(format!(
            "{} names added, the policy approves at most {}",
            changes.names_added, policy.max_names_added
        ));
    }
    if changes.names_removed > policy.max_names_removed {
        reasons.push(format!(
            "{} names removed, the policy approves at most {}",
            changes.names_removed, policy.max_names_removed
        ));
    }
    if changes.ds_rrsets_changed > policy.max_ds_changed {
        reasons.push(if policy.max_ds_changed == 0 {
            format!("{} DS RRsets changed, every DS change needs the operator's approval (max_ds_changed = 0)", changes.ds_rrsets_changed)
        } else {
            format!("{} DS RRsets changed, the policy approves at most {}", changes.ds_rrsets_changed, policy.max_ds_changed)
        });
    }
    // The first publication alone is no reason to wait: it waits when its
    // size or its keys are.
    if reasons.len() == usize::from(changes.first_publication) {
        PolicyDecision::Approved
    } else {
        PolicyDecision::Pending(reasons.join("; "))
    }
}

/// A one-line account of what a request changes, for the audit log.
pub fn describe(changes: &ChangeSummary) -> String {
    let mut text = format!(
        "{} RRsets added, {} removed, {} changed; {} names added, {} removed; {} denial RRsets changed; {} signatures",
        changes.rrsets_added,
        changes.rrsets_removed,
        changes.rrsets_changed,
        changes.names_added,
        changes.names_removed,
        changes.denial_rrsets_changed,
        changes.signatures
    );
    if changes.ds_rrsets_changed > 0 {
        text.push_str(&format!("; {} DS RRsets changed", changes.ds_rrsets_changed));
    }
    if changes.delegations_added + changes.delegations_removed > 0 {
        text.push_str(&format!("; {} delegations added, {} removed", changes.delegations_added, changes.delegations_removed));
    }
    if changes.key_rrsets_changed {
        text.push_str("; key RRsets changed");
    }
    if changes.first_publication {
        text.push_str("; first publication");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(added: u64, changed: u64) -> ChangeSummary {
        ChangeSummary { rrsets_added: added, rrsets_changed: changed, signatures: 10, ..ChangeSummary::default() }
    }

    #[test]
    fn within_limits_and_refreshes_are_approved() {
        let p = ApprovalPolicy::default();
        assert_eq!(decide(&p, &ChangeSummary::default(), &[], None), PolicyDecision::Approved);
        assert_eq!(decide(&p, &changes(3, 997), &[], None), PolicyDecision::Approved);
        // A refresh is approved even when every change waits.
        let strict = ApprovalPolicy { max_rrsets_changed: 0, ..p.clone() };
        assert_eq!(decide(&strict, &ChangeSummary::default(), &[], None), PolicyDecision::Approved);
        let PolicyDecision::Pending(why) = decide(&strict, &changes(1, 0), &[], None) else { panic!() };
        assert!(why.contains("max_rrsets_changed = 0"), "{why}");
    }

    #[test]
    fn too_many_changes_wait_with_a_reason() {
        let p = ApprovalPolicy::default();
        let PolicyDecision::Pending(why) = decide(&p, &changes(4, 1200), &[], None) else { panic!() };
        assert_eq!(why, "1204 RRsets changed, the policy approves at most 1000");
        let c = ChangeSummary { names_removed: 101, rrsets_removed: 101, ..ChangeSummary::default() };
        let PolicyDecision::Pending(why) = decide(&p, &c, &[], None) else { panic!() };
        assert_eq!(why, "101 names removed, the policy approves at most 100");
        let c = ChangeSummary { names_added: 1001, rrsets_added: 1001, ..ChangeSummary::default() };
        let PolicyDecision::Pending(why) = decide(&p, &c, &[], None) else { panic!() };
        assert!(why.contains("1001 RRsets") && why.contains("1001 names added"), "{why}");
    }

    #[test]
    fn ds_changes_have_their_own_limit() {
        let p = ApprovalPolicy::default();
        let few = ChangeSummary { rrsets_changed: 3, ds_rrsets_changed: 3, ..ChangeSummary::default() };
        assert_eq!(decide(&p, &few, &[], None), PolicyDecision::Approved);
        let many = ChangeSummary { rrsets_changed: 11, ds_rrsets_changed: 11, ..ChangeSummary::default() };
        let PolicyDecision::Pending(why) = decide(&p, &many, &[], None) else { panic!() };
        assert_eq!(why, "11 DS RRsets changed, the policy approves at most 10");
        let strict = ApprovalPolicy { max_ds_changed: 0, ..p };
        let PolicyDecision::Pending(why) = decide(&strict, &few, &[], None) else { panic!() };
        assert!(why.contains("max_ds_changed = 0"), "{why}");
    }

    #[test]
    fn key_changes_wait_unless_auto() {
        let c = ChangeSummary { rrsets_changed: 1, key_rrsets_changed: true, ..ChangeSummary::default() };
        let p = ApprovalPolicy::default();
        let PolicyDecision::Pending(why) = decide(&p, &c, &[Rtype::DNSKEY.to_int()], None) else { panic!() };
        assert_eq!(why, "DNSKEY RRset changes need the operator's approval (key_changes = \"operator\")");
        let auto = ApprovalPolicy { key_changes: KeyChanges::Auto, ..p };
        assert_eq!(decide(&auto, &c, &[Rtype::DNSKEY.to_int()], None), PolicyDecision::Approved);
    }

    #[test]
    fn first_publication_waits_for_its_keys_or_size_only() {
        let small = ChangeSummary { rrsets_added: 5, names_added: 3, first_publication: true, ..ChangeSummary::default() };
        let auto = ApprovalPolicy { key_changes: KeyChanges::Auto, ..ApprovalPolicy::default() };
        assert_eq!(decide(&auto, &small, &[], None), PolicyDecision::Approved);
        let keyed = ChangeSummary { key_rrsets_changed: true, ..small };
        let PolicyDecision::Pending(why) = decide(&ApprovalPolicy::default(), &keyed, &[48], None) else { panic!() };
        assert!(why.starts_with("first publication") && why.contains("DNSKEY"), "{why}");
        assert!(describe(&keyed).ends_with("key RRsets changed; first publication"));
    }

    #[test]
    fn a_rollover_policy_approves_the_steps_this_signer_recognises() {
        let p = ApprovalPolicy { key_changes: KeyChanges::Rollover, ..ApprovalPolicy::default() };
        let c = ChangeSummary { rrsets_changed: 1, key_rrsets_changed: true, ..ChangeSummary::default() };
        let keys = [Rtype::DNSKEY.to_int()];
        assert_eq!(decide(&p, &c, &keys, Some(&Ok("publishes the new ZSK 7".into()))), PolicyDecision::Approved);
        let PolicyDecision::Pending(why) = decide(&p, &c, &keys, Some(&Err("two keys at once".into()))) else { panic!() };
        assert!(why.contains("not a rollover step this signer expects: two keys at once"), "{why}");
        // A first publication is no rollover step.
        let first = ChangeSummary { first_publication: true, ..c };
        assert!(matches!(decide(&p, &first, &keys, Some(&Ok("x".into()))), PolicyDecision::Pending(_)));
    }
}
