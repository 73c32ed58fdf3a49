//! What the coordinator's metrics read when Prometheus scrapes: each
//! zone's published state and refresh health, each key's state, and the
//! signers' reachability as the last probe found it; and the endpoint.
//!
//! Nothing here waits for a zone's lane: a scrape reads the registry's
//! records and the lanes' health, never a version a request holds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{SignerLabel, ZoneLabel};
use crate::pipeline::key_steps::published_key_set;
use crate::Coordinator;

/// How often every signer's Health is asked for `frostzone_signer_up`.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(15);

/// `zone`, `key_tag`, `role`, `state`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct KeyStateLabels {
    /// The zone.
    pub zone: String,
    /// The key tag.
    pub key_tag: String,
    /// ksk, zsk or csk.
    pub role: String,
    /// retired, incoming, outgoing, standby, active, published or unpublished.
    pub state: String,
}

/// Gauges set from state at each scrape (and the probe's `signer_up`).
#[derive(Clone, Debug)]
pub struct StateGauges {
    serial: Family<ZoneLabel, Gauge>,
    published_at: Family<ZoneLabel, Gauge>,
    rrsigs: Family<ZoneLabel, Gauge>,
    earliest_expiration: Family<ZoneLabel, Gauge>,
    next_refresh: Family<ZoneLabel, Gauge>,
    refresh_failing: Family<ZoneLabel, Gauge>,
    stale_baselines: Family<ZoneLabel, Gauge>,
    key_state: Family<KeyStateLabels, Gauge>,
    signer_up: Family<SignerLabel, Gauge>,
    /// One scrape at a time: each clears and refills the families.
    refreshing: Arc<Mutex<()>>,
}

impl StateGauges {
    pub(super) fn register(registry: &mut Registry) -> StateGauges {
        let g = StateGauges {
            serial: Family::default(),
            published_at: Family::default(),
            rrsigs: Family::default(),
            earliest_expiration: Family::default(),
            next_refresh: Family::default(),
            refresh_failing: Family::default(),
            stale_baselines: Family::default(),
            key_state: Family::default(),
            signer_up: Family::default(),
            refreshing: Arc::default(),
        };
        registry.register("zone_serial", "SOA serial of the zone's published version", g.serial.clone());
        registry.register("zone_published_timestamp_seconds", "When the zone's published version was published", g.published_at.clone());
        registry.register("zone_rrsigs", "RRSIGs in the zone's published version", g.rrsigs.clone());
        registry.register(
            "rrsig_earliest_expiration_timestamp_seconds",
            "The earliest RRSIG expiration of the zone's published version",
            g.earliest_expiration.clone(),
        );
        registry.register("next_refresh_timestamp_seconds", "When the zone's next signature refresh is due", g.next_refresh.clone());
        registry.register("zone_refresh_failing", "1 while the zone's signature refreshes fail", g.refresh_failing.clone());
        registry.register(
            "stale_baselines",
            "Signers holding the zone's keys whose baseline is not the published version (their next proposal is the whole zone)",
            g.stale_baselines.clone(),
        );
        registry.register("key_state", "1 for each key group's current state (RFC 7583 roles in a rollover)", g.key_state.clone());
        registry.register("signer_up", "1 if the signer answered the last Health probe as itself", g.signer_up.clone());
        g
    }

    /// Sets every scrape-time gauge from `c`'s registry and lanes.
    fn refresh(&self, c: &Coordinator) {
        for family in [&self.serial, &self.published_at, &self.rrsigs, &self.earliest_expiration, &self.next_refresh, &self.refresh_failing, &self.stale_baselines] {
            family.clear();
        }
        self.key_state.clear();
        let states = match c.registry.zone_states() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("metrics: cannot read the zone states: {e}");
                Vec::new()
            }
        };
        for s in &states {
            let zone = ZoneLabel { zone: s.zone.clone() };
            self.serial.get_or_create(&zone).set(i64::from(s.serial));
            self.published_at.get_or_create(&zone).set(clamp(s.published_unix));
            self.rrsigs.get_or_create(&zone).set(clamp(s.signatures));
            let health = c.pipeline.lane(&s.zone).health();
            if let Some(t) = health.earliest_expiration {
                self.earliest_expiration.get_or_create(&zone).set(clamp(t));
            }
            if let Some(t) = health.next_refresh {
                self.next_refresh.get_or_create(&zone).set(clamp(t));
            }
            self.refresh_failing.get_or_create(&zone).set(i64::from(health.failing_since.is_some()));
            match c.registry.stale_baselines(&s.zone, &s.request_id) {
                Ok(stale) => {
                    self.stale_baselines.get_or_create(&zone).set(i64::try_from(stale.len()).unwrap_or(i64::MAX));
                }
                Err(e) => tracing::warn!(zone = %s.zone, "metrics: cannot read the signers' baselines: {e}"),
            }
            let published = published_key_set(s);
            match crate::keys::life_cycle::key_states(c, &s.zone, Some(&published)) {
                Ok(keys) => {
                    for (g, state) in keys {
                        let labels = KeyStateLabels { zone: s.zone.clone(), key_tag: g.key_tag.to_string(), role: g.role.clone(), state: state.into() };
                        self.key_state.get_or_create(&labels).set(1);
                    }
                }
                Err(e) => tracing::warn!(zone = %s.zone, "metrics: cannot read the key states: {e}"),
            }
        }
    }

    fn set_signer_up(&self, signer: &str, up: bool) {
        self.signer_up.get_or_create(&SignerLabel { signer: signer.into() }).set(i64::from(up));
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The body of one scrape, after a [`probe`] of the signers.
pub async fn scrape(c: Arc<Coordinator>) -> String {
    probe(&c).await;
    tokio::task::spawn_blocking(move || render(&c)).await.unwrap_or_default()
}

/// The body of one scrape: the state gauges set, everything encoded.
pub fn render(c: &Coordinator) -> String {
    let _one_at_a_time = c.metrics.state.refreshing.lock().unwrap_or_else(|e| e.into_inner());
    c.metrics.state.refresh(c);
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, c.metrics.registry()) {
        tracing::warn!("metrics: cannot encode: {e}");
    }
    out
}

/// Probes every signer ([`crate::signers::probe`]), sets
/// `frostzone_signer_up`, and returns each signer's name, whether it is up
/// and why not.
pub async fn probe(c: &Coordinator) -> Vec<(String, bool, String)> {
    crate::signers::probe(c.signers.all())
        .await
        .into_iter()
        .map(|(signer, reachable)| {
            c.metrics.state.set_signer_up(&signer, reachable.is_ok());
            (signer, reachable.is_ok(), reachable.err().unwrap_or_default())
        })
        .collect()
}

/// Probes the signers every [`PROBE_INTERVAL`] and logs each change of a
/// signer's reachability (scrapes probe too, so the gauge is never older
/// than the scrape).
pub fn spawn_probe(c: Arc<Coordinator>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut was_up: std::collections::HashMap<String, bool> = Default::default();
        let mut tick = tokio::time::interval(PROBE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for (signer, up, why) in probe(&c).await {
                let changed = was_up.insert(signer.clone(), up) != Some(up);
                match (changed, up) {
                    (true, true) => tracing::info!(%signer, "signer reachable"),
                    (true, false) => tracing::warn!(%signer, "signer unreachable: {why}"),
                    _ => {}
                }
            }
        }
    })
}
