//! The coordinator's Prometheus metrics (docs/metrics.md lists each one).
//!
//! Events are counted where they happen (a batch signed, a culprit found,
//! a request finished), through [`CoordinatorMetrics`]; what is a state
//! rather than an event (each zone's serial and earliest RRSIG expiration,
//! key states, signer reachability) is read when Prometheus scrapes
//! ([`scrape`]). Label values are bounded: zones, key tags and signers come
//! from the configuration and the registry, steps and outcomes from fixed
//! lists in this crate; no request id or error text is ever a label.

pub mod scrape;

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::CoordinatorError;
use crate::request::RequestPhase;

/// Buckets of request durations, in seconds: from a one-RRset diff (tens
/// of milliseconds) to a request that waited an hour for its operators.
pub const REQUEST_SECONDS_BUCKETS: [f64; 16] =
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14_400.0];

/// Buckets of one pipeline step, in seconds.
pub const STEP_SECONDS_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0];

/// `zone`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ZoneLabel {
    /// The zone, as the registry spells it (`example.com.`).
    pub zone: String,
}

/// `zone`, `key_tag`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyLabels {
    /// The zone.
    pub zone: String,
    /// The key tag (RFC 4034 Appendix B).
    pub key_tag: String,
}

/// `signer`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignerLabel {
    /// The signer's configured name.
    pub signer: String,
}

/// `kind`, `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// What was asked: zone, changes, refresh or rollover_step.
    pub kind: String,
    /// published, or why not ([`failure_outcome`]).
    pub outcome: String,
}

/// `kind`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// What was asked.
    pub kind: String,
}

/// `state`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// A request phase ([`RequestPhase::name`]), never a final one.
    pub state: String,
}

/// `step`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabel {
    /// A pipeline step, as the `steps:` of the publication log line names it.
    pub step: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_SECONDS_BUCKETS)
}

fn step_histogram() -> Histogram {
    Histogram::new(STEP_SECONDS_BUCKETS)
}

/// Every metric the coordinator keeps, cheap to clone (shared counters).
#[derive(Clone, Debug)]
pub struct CoordinatorMetrics {
    registry: Arc<Registry>,
    signatures: Family<KeyLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    request_seconds: HistogramFamily<KindLabel>,
    step_seconds: HistogramFamily<StepLabel>,
    in_flight: Family<StateLabel, Gauge>,
    validation_failures: Family<ZoneLabel, Counter>,
    shares: Family<SignerLabel, Counter>,
    unavailable: Family<SignerLabel, Counter>,
    culprits: Family<SignerLabel, Counter>,
    pub(crate) state: scrape::StateGauges,
}

impl Default for CoordinatorMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("frostzone");
        let signatures = Family::<KeyLabels, Counter>::default();
        registry.register("signatures", "RRSIGs made and aggregated, by zone and key tag", signatures.clone());
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("requests", "Zone requests finished, by kind and outcome", requests.clone());
        let request_seconds: HistogramFamily<KindLabel> = Family::new_with_constructor(request_histogram);
        registry.register(
            "request_duration_seconds",
            "Wall time of zone requests from submission to publication or failure, by kind",
            request_seconds.clone(),
        );
        let step_seconds: HistogramFamily<StepLabel> = Family::new_with_constructor(step_histogram);
        registry.register(
            "request_step_duration_seconds",
            "Wall time of each pipeline step of published requests (approval includes the wait for operators)",
            step_seconds.clone(),
        );
        let in_flight = Family::<StateLabel, Gauge>::default();
        registry.register("requests_in_flight", "Zone requests running now, by phase (proposed: waiting for approvals)", in_flight.clone());
        let validation_failures = Family::<ZoneLabel, Counter>::default();
        registry.register(
            "validation_failures",
            "Signed versions that did not validate and were not published, by zone",
            validation_failures.clone(),
        );
        let shares = Family::<SignerLabel, Counter>::default();
        registry.register("signer_signature_shares", "Signature shares a signer contributed to aggregated RRSIGs", shares.clone());
        let unavailable = Family::<SignerLabel, Counter>::default();
        registry.register(
            "signer_unavailable",
            "Signing attempts retried without a signer that did not answer",
            unavailable.clone(),
        );
        let culprits = Family::<SignerLabel, Counter>::default();
        registry.register(
            "signer_culprits",
            "Times a signer was blamed and excluded (invalid or malformed share or commitment)",
            culprits.clone(),
        );
        let state = scrape::StateGauges::register(&mut registry);
        CoordinatorMetrics {
            registry: Arc::new(registry),
            signatures,
            requests,
            request_seconds,
            step_seconds,
            in_flight,
            validation_failures,
            shares,
            unavailable,
            culprits,
            state,
        }
    }
}

impl CoordinatorMetrics {
    /// The registry to encode.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A batch of `count` RRSIGs of `zone` by `key_tag` was aggregated and
    /// checked, with shares from `signers`.
    pub fn batch_signed(&self, zone: &str, key_tag: u16, count: usize, signers: &[String]) {
        let count = count as u64;
        self.signatures.get_or_create(&KeyLabels { zone: zone.into(), key_tag: key_tag.to_string() }).inc_by(count);
        for signer in signers {
            self.shares.get_or_create(&SignerLabel { signer: signer.clone() }).inc_by(count);
        }
    }

    /// An attempt went on without `signer`, which did not answer.
    pub fn signer_unavailable(&self, signer: &str) {
        self.unavailable.get_or_create(&SignerLabel { signer: signer.into() }).inc();
    }

    /// `signer` was blamed for a failed attempt.
    pub fn culprit(&self, signer: &str) {
        self.culprits.get_or_create(&SignerLabel { signer: signer.into() }).inc();
    }

    /// A request moved from phase `from` (`None`: it is new) to `to`.
    pub fn request_moved(&self, from: Option<&RequestPhase>, to: &RequestPhase) {
        if from.map(RequestPhase::name) == Some(to.name()) {
            return;
        }
        if let Some(from) = from.filter(|p| !p.is_final()) {
            self.in_flight.get_or_create(&StateLabel { state: from.name().into() }).dec();
        }
        if !to.is_final() {
            self.in_flight.get_or_create(&StateLabel { state: to.name().into() }).inc();
        }
    }

    /// A request of `kind` ended after `seconds`: published (`Ok`) or not.
    pub fn request_finished(&self, zone: &str, kind: &str, seconds: f64, result: Result<(), &CoordinatorError>) {
        let kind = kind.replace(' ', "_");
        let outcome = match result {
            Ok(()) => "published",
            Err(e) => {
                if matches!(e, CoordinatorError::Invalid(_) | CoordinatorError::Validation(_)) {
                    self.validation_failures.get_or_create(&ZoneLabel { zone: zone.into() }).inc();
                }
                failure_outcome(e)
            }
        };
        self.requests.get_or_create(&RequestLabels { kind: kind.clone(), outcome: outcome.into() }).inc();
        self.request_seconds.get_or_create(&KindLabel { kind }).observe(seconds);
    }

    /// The steps of a published request, as [`crate::pipeline::stages::Stages`] timed them.
    pub fn steps(&self, steps: &[(&'static str, f64)]) {
        for (step, seconds) in steps {
            self.step_seconds.get_or_create(&StepLabel { step: step.replace([' ', ','], "_").replace("__", "_") }).observe(*seconds);
        }
    }
}

/// Why a request was not published, as one word a dashboard can group by.
pub fn failure_outcome(e: &CoordinatorError) -> &'static str {
    match e {
        CoordinatorError::NotApproved(_) => "not_approved",
        CoordinatorError::Quorum(_) | CoordinatorError::SignerNeeded { .. } | CoordinatorError::Unavailable(_) => "quorum_lost",
        CoordinatorError::DeadlineExceeded(_) => "deadline_exceeded",
        CoordinatorError::Invalid(_) | CoordinatorError::Validation(_) => "invalid",
        CoordinatorError::Disagreement(_) => "disagreement",
        CoordinatorError::InvalidArgument(_) | CoordinatorError::Input(_) | CoordinatorError::TooLarge(_) => "bad_input",
        CoordinatorError::FailedPrecondition(_) | CoordinatorError::NotFound(_) => "refused",
        _ => "internal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(m: &CoordinatorMetrics) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, m.registry()).unwrap();
        out
    }

    #[test]
    fn a_request_is_counted_in_one_phase_at_a_time_and_leaves_the_gauge_when_it_ends() {
        let m = CoordinatorMetrics::default();
        m.request_moved(None, &RequestPhase::Planned);
        m.request_moved(Some(&RequestPhase::Planned), &RequestPhase::Proposed);
        m.request_moved(Some(&RequestPhase::Proposed), &RequestPhase::Proposed);
        let t = text(&m);
        assert!(t.contains("frostzone_requests_in_flight{state=\"proposed\"} 1"), "{t}");
        assert!(t.contains("frostzone_requests_in_flight{state=\"planned\"} 0"), "{t}");
        m.request_moved(Some(&RequestPhase::Proposed), &RequestPhase::Failed("rejected".into()));
        let t = text(&m);
        assert!(t.contains("frostzone_requests_in_flight{state=\"proposed\"} 0"), "{t}");
        assert!(!t.contains("state=\"failed\""), "{t}");
    }

    #[test]
    fn outcomes_and_signatures_are_labelled_by_fixed_words() {
        let m = CoordinatorMetrics::default();
        m.request_finished("example.com.", "rollover step", 0.02, Ok(()));
        let invalid = CoordinatorError::Invalid("RRSIG does not verify".into());
        m.request_finished("example.com.", "changes", 0.5, Err(&invalid));
        m.batch_signed("example.com.", 12345, 4, &["signer-1".into(), "signer-3".into()]);
        m.steps(&[("read back, apply", 0.001)]);
        let t = text(&m);
        for line in [
            "frostzone_requests_total{kind=\"rollover_step\",outcome=\"published\"} 1",
            "frostzone_requests_total{kind=\"changes\",outcome=\"invalid\"} 1",
            "frostzone_validation_failures_total{zone=\"example.com.\"} 1",
            "frostzone_signatures_total{zone=\"example.com.\",key_tag=\"12345\"} 4",
            "frostzone_signer_signature_shares_total{signer=\"signer-3\"} 4",
            "frostzone_request_step_duration_seconds_count{step=\"read_back_apply\"} 1",
            "frostzone_request_duration_seconds_count{kind=\"changes\"} 1",
        ] {
            assert!(t.contains(line), "{line} missing in\n{t}");
        }
        assert!(!t.contains("RRSIG does not verify"), "error text must never be a label");
    }
}
