//! A request in progress: its session record ([`crate::session`]), kept in
//! the registry as it changes, and failed on drop unless it was finished.

use std::sync::Mutex;

use crate::batch::PhaseSink;
use crate::error::CoordinatorError;
use crate::proposal::announce_outcome;
use crate::registry::Registry;
use crate::session::{SessionRecord, SessionState};
use crate::signers::SignerPool;
use crate::unix_now;

/// The session of one request: the record, kept in the registry as it
/// changes, and failed on drop unless it was finished (the signers that
/// answered are then told it failed).
pub(crate) struct Session {
    registry: Registry,
    signers: SignerPool,
    record: Mutex<SessionRecord>,
}

impl Session {
    /// A live session for `record` (stored at the first change).
    pub(crate) fn new(registry: Registry, signers: SignerPool, record: SessionRecord) -> Session {
        Session { registry, signers, record: Mutex::new(record) }
    }

    /// Changes the record; `f` says whether it changed, and a changed
    /// record is stored. Returns that.
    pub(crate) fn update(&self, f: impl FnOnce(&mut SessionRecord) -> bool) -> bool {
        let Ok(mut record) = self.record.lock() else { return false };
        let changed = f(&mut record);
        if changed {
            if let Err(e) = self.registry.put_session_sync(&record) {
                tracing::error!(session = %record.id, "cannot record the session: {e}");
            }
        }
        changed
    }

    /// A copy of the record.
    pub(crate) fn record(&self) -> Result<SessionRecord, CoordinatorError> {
        self.record.lock().map(|r| r.clone()).map_err(|_| CoordinatorError::Internal("session lock poisoned".into()))
    }

    /// The session (request) id.
    pub(crate) fn id(&self) -> String {
        self.record.lock().map(|r| r.id.clone()).unwrap_or_default()
    }

    pub(crate) async fn finish(&self, state: SessionState) -> Result<SessionRecord, CoordinatorError> {
        let record = {
            let mut r = self.record.lock().map_err(|_| CoordinatorError::Internal("session lock poisoned".into()))?;
            r.advance(state, unix_now()).map_err(|e| CoordinatorError::Internal(e.to_string()))?;
            r.clone()
        };
        self.registry.put_session(&record).await?;
        Ok(record)
    }
}

impl PhaseSink for Session {
    fn reached(&self, state: SessionState) {
        self.update(|r| r.advance(state, unix_now()).unwrap_or(false));
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Ok(mut r) = self.record.lock() {
            if !r.state.is_final() {
                let reason = format!("interrupted while {}: the request ended before release", r.state);
                if r.advance(SessionState::Failed(reason.clone()), unix_now()).is_ok() {
                    let _ = self.registry.put_session_sync(&r);
                }
                announce_outcome(&self.signers, &r.id, &r.decisions, false, &reason);
            }
        }
    }
}

