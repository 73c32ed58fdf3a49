//! Making a request's baseline ready while the request is signed, so
//! that its publication writes little and the first diff after it does
//! not wait (the table of what is ready is [`crate::prepared`]):
//!
//! * a zone's first full request (no baseline, no entries) is *staged*:
//!   its RRsets are written as the zone's entries under a state naming no
//!   request (see the module documentation of [`crate::baseline`]), and
//!   its publication only records the state;
//! * a later full request (a re-sign, a rollover, a recovery), or an
//!   increment of at least [`PREPARE_MIN_ITEMS`] items (a re-sign on the
//!   baseline), is *prepared*: the writes that turn the baseline into its
//!   content are worked out and kept in memory with the baseline state
//!   they apply to, and its publication applies them if that state is
//!   still the zone's (every change of a baseline's entries writes its
//!   state too).
//!
//! Staging runs after Propose answered, on its own blocking thread, one
//! stored chunk of the request's content (4,096 RRsets) at a time. Each
//! chunk is written (in small batches, [`crate::baseline::SPLIT_BATCH_WRITES`])
//! under the decision lock and only while the zone still
//! has no baseline and the request is still open: a publication of any
//! request (which holds that lock throughout) either comes before a chunk,
//! and staging stops, or after the last one. The stage mark goes in last,
//! so a restart in between leaves entries without a mark, which the
//! publication's ordinary replacement corrects. Nothing the coordinator
//! sends is trusted more for it: the content staged is what this signer
//! stored and judged at Propose, and it becomes the baseline on the same
//! proof as before ([`crate::lifecycle`]).

use std::time::Instant;

use crate::baseline::{BaselineState, Baselines, REPLACE_BATCH_WRITES};
use crate::error::NodeError;
use crate::prepared::{Prepared, PREPARED_WRITES_MAX, PREPARE_MIN_ITEMS, STAGING_WAIT};
use crate::lifecycle::is_open;
use crate::node::{lock, Node};

/// What staging a request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staged {
    /// Every RRset written and the mark set.
    Whole {
        /// How many RRsets were written.
        rrsets: usize,
    },
    /// Nothing made ready: why (a small increment, a closed request, ...).
    Skipped(&'static str),
    /// A replacement of the zone's baseline prepared in memory.
    Prepared {
        /// How many writes it holds.
        writes: usize,
    },
    /// Stopped part way: the zone got a baseline, or the request closed.
    Stopped(&'static str),
}

impl Node {
    /// Makes request `id`'s baseline ready, if it is an open request with
    /// its content (an increment: a large one) and no other request of its
    /// zone is being staged: stages a full request's content as the zone's
    /// entries if the zone has no baseline and no entries, and otherwise
    /// prepares the replacement.
    pub fn stage_baseline(&self, id: &str) -> Result<Staged, NodeError> {
        let requests = self.store.requests();
        let baselines = requests.baselines();
        let started = Instant::now();
        let (registration, base) = {
            let _decisions = lock(&self.decisions);
            let Some(record) = requests.get(id)? else { return Ok(Staged::Skipped("unknown request")) };
            if record.ceremony.is_some() || !record.content_stored || !is_open(record.state()) {
                return Ok(Staged::Skipped("not an open request with its content"));
            }
            if record.incremental && record.item_count < PREPARE_MIN_ITEMS {
                return Ok(Staged::Skipped("a small increment"));
            }
            if self.staging.is_stopping() {
                return Ok(Staged::Skipped("the signer is stopping"));
            }
            if baselines.staged(&record.zone)?.as_deref() == Some(id) {
                return Ok(Staged::Skipped("staged already"));
            }
            if self.staging.is_prepared(id) {
                return Ok(Staged::Skipped("prepared already"));
            }
            let stage = !record.incremental && baselines.stageable(&record.zone)?;
            let base = if stage { None } else { Some((baselines.state(&record.zone)?, record.incremental)) };
            let Some(registration) = self.staging.register(&record.zone, id) else {
                return Ok(Staged::Skipped("another request of the zone is being staged"));
            };
            (registration, base)
        };
        let zone = registration.zone.as_str();
        if let Some((base, incremental)) = base {
            return self.prepare_replacement(zone, id, base, incremental, started);
        }
        // Checked under the decision lock before every write.
        let still = || -> Result<Option<&'static str>, NodeError> {
            if self.staging.is_stopping() {
                return Ok(Some("the signer is stopping"));
            }
            if baselines.state(zone)?.is_some_and(|s| s.has_content()) {
                return Ok(Some("the zone got a baseline meanwhile"));
            }
            Ok(match requests.get(id)? {
                Some(record) if is_open(record.state()) => None,
                _ => Some("the request closed meanwhile"),
            })
        };
        let mut rrsets = 0;
        for chunk in requests.rrset_chunks(id) {
            let chunk = chunk?;
            let batches = Baselines::stage_batches(zone, &chunk)?;
            #[cfg(test)]
            if let Some(hook) = lock(&self.before_staged_chunk).as_mut() {
                hook(self);
            }
            let _decisions = lock(&self.decisions);
            if let Some(why) = still()? {
                return Ok(Staged::Stopped(why));
            }
            baselines.apply_all(batches)?;
            rrsets += chunk.len();
        }
        let _decisions = lock(&self.decisions);
        if let Some(why) = still()? {
            return Ok(Staged::Stopped(why));
        }
        baselines.apply(Baselines::staged_mark_batch(zone, id))?;
        requests.flush()?;
        tracing::info!(request = %id, %zone, rrsets, staged_ms = started.elapsed().as_secs_f64() * 1e3, "baseline staged");
        Ok(Staged::Whole { rrsets })
    }

    /// Works out the writes that make request `id`'s content (the whole
    /// zone, or an increment on it) the baseline of `zone`, whose state
    /// was `base`, and keeps them for the publication if the state is
    /// still `base` afterwards.
    fn prepare_replacement(&self, zone: &str, id: &str, base: Option<BaselineState>, incremental: bool, started: Instant) -> Result<Staged, NodeError> {
        let requests = self.store.requests();
        let baselines = requests.baselines();
        let replacement = if incremental {
            let (puts, removed) = requests.delta(id)?;
            baselines.delta_replacement(zone, &puts, &removed)?
        } else {
            baselines.replacement(zone, requests.rrsets(id)?)?
        };
        let writes = replacement.len();
        if writes > PREPARED_WRITES_MAX {
            return Ok(Staged::Skipped("the replacement is too large to hold; the publication writes it"));
        }
        // An increment's publication is one atomic batch; so is this.
        if incremental && writes >= REPLACE_BATCH_WRITES {
            return Ok(Staged::Skipped("the increment writes too much for one batch; the publication writes it"));
        }
        let _decisions = lock(&self.decisions);
        if baselines.state(zone)? != base {
            return Ok(Staged::Stopped("the baseline moved meanwhile"));
        }
        if !requests.get(id)?.is_some_and(|r| is_open(r.state())) {
            return Ok(Staged::Stopped("the request closed meanwhile"));
        }
        self.staging.keep(id, Prepared { base, replacement });
        tracing::info!(request = %id, %zone, writes, prepared_ms = started.elapsed().as_secs_f64() * 1e3, "baseline replacement prepared");
        Ok(Staged::Prepared { writes })
    }

    /// Stops staging at the next chunk (the signer is stopping; what is
    /// not staged is written at publication, after a restart).
    pub fn stop_staging(&self) {
        self.staging.stop();
    }

    /// Forgets what was prepared for request `id` (it closed).
    pub(crate) fn forget_prepared(&self, id: &str) {
        self.staging.take_prepared(id);
    }

    /// Waits, up to [`STAGING_WAIT`], until request `id` is not being
    /// staged for `zone`. Called without the decision lock held.
    pub(crate) fn wait_for_staging(&self, zone: &str, id: &str) {
        if !self.staging.wait(zone, id, STAGING_WAIT) {
            tracing::warn!(request = %id, %zone, "staging still running after {} s; the publication writes the baseline itself", STAGING_WAIT.as_secs());
        }
    }
}
