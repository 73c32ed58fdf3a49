//! This signer's Prometheus metrics (docs/metrics.md lists each one):
//! its decisions by outcome and by whom, the calls it refused and why,
//! policy refusals, rate-limit hits, the signature shares it made, and its
//! operator's queue.
//!
//! Counters are atomics, so the node's plain functions count as they
//! decide; nothing here does I/O. Label values come from fixed lists
//! ([`Decision`], [`crate::NodeError::kind`]) or from zones this signer
//! holds shares for; never a request id or error text.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::error::NodeError;

/// A decision on a request, and who made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The policy approved it.
    ApprovedByPolicy,
    /// The policy sent it to the operator's queue.
    Pending,
    /// The policy rejected it.
    RejectedByPolicy,
    /// The operator approved it (`frostzone approve`).
    ApprovedByOperator,
    /// The operator rejected it (`frostzone reject`).
    RejectedByOperator,
    /// Nobody decided in time, or it was approved but never signed.
    Expired,
}

impl Decision {
    fn labels(self, what: &'static str) -> DecisionLabels {
        let (decision, by) = match self {
            Decision::ApprovedByPolicy => ("approved", "policy"),
            Decision::Pending => ("pending", "policy"),
            Decision::RejectedByPolicy => ("rejected", "policy"),
            Decision::ApprovedByOperator => ("approved", "operator"),
            Decision::RejectedByOperator => ("rejected", "operator"),
            Decision::Expired => ("expired", "expiry"),
        };
        DecisionLabels { request: what.into(), decision: decision.into(), by: by.into() }
    }
}

/// `request`, `decision`, `by`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    /// signing or ceremony.
    request: String,
    decision: String,
    by: String,
}

/// `reason`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

/// `zone`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ZoneLabel {
    zone: String,
}

/// Every metric a signer keeps, cheap to clone (shared counters).
#[derive(Clone, Debug)]
pub struct SignerMetrics {
    registry: Arc<Registry>,
    decisions: Family<DecisionLabels, Counter>,
    refusals: Family<ReasonLabel, Counter>,
    policy_refusals: Counter,
    rate_limit_hits: Counter,
    shares: Family<ZoneLabel, Counter>,
    pending: Gauge,
    open_requests: Gauge,
}

impl Default for SignerMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("frostzone_signer");
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "decisions",
            "Decisions on signing requests and key ceremonies, by outcome and by whom (policy, operator, expiry)",
            decisions.clone(),
        );
        let refusals = Family::<ReasonLabel, Counter>::default();
        registry.register("refusals", "Calls from the coordinator this signer refused, by reason", refusals.clone());
        let policy_refusals = Counter::default();
        registry.register(
            "policy_refusals",
            "Requests, ceremonies and items the operator's policy refused (a subset of the decisions and refusals)",
            policy_refusals.clone(),
        );
        let rate_limit_hits = Counter::default();
        registry.register("rate_limit_hits", "Signing rounds refused by the policy's hourly signature limit", rate_limit_hits.clone());
        let shares = Family::<ZoneLabel, Counter>::default();
        registry.register("signature_shares", "Signature shares this signer made (FROST round 2), by zone", shares.clone());
        let pending = Gauge::default();
        registry.register("pending_approvals", "Requests waiting for this signer's operator", pending.clone());
        let open_requests = Gauge::default();
        registry.register("open_requests", "Requests open on this signer (pending, approved or signed, not yet ended)", open_requests.clone());
        SignerMetrics { registry: Arc::new(registry), decisions, refusals, policy_refusals, rate_limit_hits, shares, pending, open_requests }
    }
}

impl SignerMetrics {
    /// A `request` ("signing" or "ceremony") was decided.
    pub fn decided(&self, request: &'static str, decision: Decision) {
        self.decisions.get_or_create(&decision.labels(request)).inc();
        match decision {
            Decision::Pending => {
                self.pending.inc();
            }
            Decision::ApprovedByOperator | Decision::RejectedByOperator => {
                self.pending.dec();
            }
            Decision::RejectedByPolicy => {
                self.policy_refusals.inc();
            }
            _ => {}
        }
    }

    /// The operator rejected a `request` it had approved before (no share
    /// made yet): a decision, but not one from the queue.
    pub fn rejected_after_approval(&self, request: &'static str) {
        self.decisions.get_or_create(&Decision::RejectedByOperator.labels(request)).inc();
    }

    /// A call was refused with `e`.
    pub fn refused(&self, e: &NodeError) {
        self.refusals.get_or_create(&ReasonLabel { reason: e.kind().into() }).inc();
        match e {
            NodeError::Policy(_) | NodeError::Item(_) => {
                self.policy_refusals.inc();
            }
            NodeError::RateLimited(_) => {
                self.rate_limit_hits.inc();
            }
            _ => {}
        }
    }

    /// `count` signature shares of `zone` went out.
    pub fn shares_made(&self, zone: &str, count: usize) {
        self.shares.get_or_create(&ZoneLabel { zone: zone.into() }).inc_by(count as u64);
    }

    /// The sweep's count of the requests open and pending, which corrects
    /// the running count of pending ones.
    pub fn swept(&self, open: usize, pending: usize) {
        self.open_requests.set(i64::try_from(open).unwrap_or(i64::MAX));
        self.pending.set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!("metrics: cannot encode: {e}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_move_the_queue_and_refusals_are_counted_by_kind() {
        let m = SignerMetrics::default();
        m.decided("signing", Decision::Pending);
        m.decided("signing", Decision::Pending);
        m.decided("signing", Decision::ApprovedByOperator);
        m.decided("ceremony", Decision::RejectedByPolicy);
        m.refused(&NodeError::Policy("type TXT is not allowed".into()));
        m.refused(&NodeError::RateLimited(crate::rate::RateLimited { used: 10, asked: 5, limit: 12 }));
        m.shares_made("example.com.", 3);
        let t = m.render();
        for line in [
            "frostzone_signer_pending_approvals 1",
            "frostzone_signer_decisions_total{request=\"signing\",decision=\"pending\",by=\"policy\"} 2",
            "frostzone_signer_decisions_total{request=\"signing\",decision=\"approved\",by=\"operator\"} 1",
            "frostzone_signer_decisions_total{request=\"ceremony\",decision=\"rejected\",by=\"policy\"} 1",
            "frostzone_signer_policy_refusals_total 2",
            "frostzone_signer_refusals_total{reason=\"policy\"} 1",
            "frostzone_signer_refusals_total{reason=\"rate_limited\"} 1",
            "frostzone_signer_rate_limit_hits_total 1",
            "frostzone_signer_signature_shares_total{zone=\"example.com.\"} 3",
        ] {
            assert!(t.contains(line), "{line} missing in\n{t}");
        }
        assert!(!t.contains("TXT"), "error text must never be a label");
        m.swept(4, 0);
        assert!(m.render().contains("frostzone_signer_pending_approvals 0"));
    }
}
