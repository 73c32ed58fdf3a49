//! A request in progress: its record ([`crate::request`]), kept in
//! the registry as it changes, and failed on drop unless it was finished.

use std::sync::Mutex;

use crate::signing::attempt::PhaseSink;
use crate::error::CoordinatorError;
use crate::metrics::CoordinatorMetrics;
use crate::approval::outcome::announce_outcome;
use crate::registry::Registry;
use crate::request::{RequestRecord, RequestPhase};
use crate::signers::SignerPool;
use crate::unix_now;

/// A request while it runs: the record, kept in the registry as it
/// changes, and failed on drop unless it was finished (the signers that
/// answered are then told it failed).
pub(crate) struct LiveRequest {
    registry: Registry,
    signers: SignerPool,
    metrics: CoordinatorMetrics,
    record: Mutex<RequestRecord>,
}

impl LiveRequest {
    /// A live request for `record` (stored at the first change).
    pub(crate) fn new(registry: Registry, signers: SignerPool, metrics: CoordinatorMetrics, record: RequestRecord) -> LiveRequest {
        metrics.request_moved(None, &record.state);
        LiveRequest { registry, signers, metrics, record: Mutex::new(record) }
    }

    /// Changes the record; `f` says whether it changed, and a changed
    /// record is stored. Returns that.
    pub(crate) fn update(&self, f: impl FnOnce(&mut RequestRecord) -> bool) -> bool {
        let Ok(mut record) = self.record.lock() else { return false };
        let was = record.state.clone();
        let changed = f(&mut record);
        self.metrics.request_moved(Some(&was), &record.state);
        if changed {
            if let Err(e) = self.registry.put_request_sync(&record) {
                tracing::error!(request = %record.id, "cannot record the request: {e}");
            }
        }
        changed
    }

    /// A copy of the record.
    pub(crate) fn record(&self) -> Result<RequestRecord, CoordinatorError> {
        self.record.lock().map(|r| r.clone()).map_err(|_| CoordinatorError::Internal("request lock poisoned".into()))
    }

    /// The request id.
    pub(crate) fn id(&self) -> String {
        self.record.lock().map(|r| r.id.clone()).unwrap_or_default()
    }

    pub(crate) async fn finish(&self, state: RequestPhase) -> Result<RequestRecord, CoordinatorError> {
        let record = {
            let mut r = self.record.lock().map_err(|_| CoordinatorError::Internal("request lock poisoned".into()))?;
            let was = r.state.clone();
            r.advance(state, unix_now()).map_err(|e| CoordinatorError::Internal(e.to_string()))?;
            self.metrics.request_moved(Some(&was), &r.state);
            r.clone()
        };
        self.registry.put_request(&record).await?;
        Ok(record)
    }
}

impl PhaseSink for LiveRequest {
    fn reached(&self, state: RequestPhase) {
        self.update(|r| r.advance(state, unix_now()).unwrap_or(false));
    }
}

impl Drop for LiveRequest {
    fn drop(&mut self) {
        if let Ok(mut r) = self.record.lock() {
            if !r.state.is_final() {
                let reason = format!("interrupted while {}: the request ended before publication", r.state);
                self.metrics.request_moved(Some(&r.state), &RequestPhase::Failed(String::new()));
                if r.advance(RequestPhase::Failed(reason.clone()), unix_now()).is_ok() {
                    let _ = self.registry.put_request_sync(&r);
                }
                announce_outcome(&self.signers, &r.id, &r.decisions, false, &reason);
            }
        }
    }
}

