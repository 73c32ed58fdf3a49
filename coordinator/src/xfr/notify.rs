//! Outgoing NOTIFY (RFC 1996): telling each secondary a new serial is
//! published, so it transfers now rather than at its next refresh.
//!
//! NOTIFY goes over UDP, is retransmitted with a doubling timeout until the
//! secondary answers or the attempts run out (RFC 1996 §3.6), and is
//! signed when the secondary has a TSIG key. It never holds up
//! publication: each secondary is notified by a task of its own, and a
//! newer serial of the same zone supersedes (aborts) the older NOTIFYs
//! still being retried. A secondary that never answers still picks the
//! version up at its SOA refresh (RFC 1034 §4.3.5).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::base::iana::{Opcode, Rcode, Rtype};
use domain::base::MessageBuilder;
use domain::net::client::protocol::UdpConnect;
use domain::net::client::request::{GetResponse, RequestMessage, SendRequest};
use domain::net::client::{dgram, tsig};
use domain::tsig::Key;
use frostzone_dnssec::name::CanonicalName;
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::{StoredName, StoredRecord};
use tokio::task::AbortHandle;

/// Attempts per secondary and serial.
pub const NOTIFY_ATTEMPTS: u32 = 5;

/// Wait for the first answer; doubled after each silent attempt (1, 2, 4,
/// 8, 16 s: about half a minute in all, well inside a secondary's retry).
pub const NOTIFY_FIRST_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a secondary was not notified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The message could not be built (a name or record too long).
    #[error("NOTIFY for {zone} serial {serial} to {peer}: cannot build the message")]
    Build {
        /// The zone.
        zone: String,
        /// The serial announced.
        serial: u32,
        /// The secondary.
        peer: SocketAddr,
    },
    /// No answer after every attempt.
    #[error("NOTIFY for {zone} serial {serial} to {peer}: no answer after {attempts} attempts: {last}")]
    NoAnswer {
        /// The zone.
        zone: String,
        /// The serial announced.
        serial: u32,
        /// The secondary.
        peer: SocketAddr,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The secondary answered with an error: it is not configured to take
    /// NOTIFY from us (or with this key), so retrying is pointless.
    #[error("NOTIFY for {zone} serial {serial} to {peer}: answered {rcode}")]
    Rejected {
        /// The zone.
        zone: String,
        /// The serial announced.
        serial: u32,
        /// The secondary.
        peer: SocketAddr,
        /// Its answer.
        rcode: Rcode,
    },
}

/// Sends one NOTIFY for `soa` (the new version's SOA record) to `peer`,
/// retrying; returns once it is answered or given up.
pub async fn notify(peer: SocketAddr, key: Option<Arc<Key>>, soa: &StoredRecord) -> Result<(), NotifyError> {
    let zone = FqdnDisplay(soa.owner()).to_string();
    let serial = frostzone_dnssec::change_set::soa_serial(soa).unwrap_or(0);
    let request = notify_message(soa.owner(), soa).ok_or_else(|| NotifyError::Build { zone: zone.clone(), serial, peer })?;
    let mut timeout = NOTIFY_FIRST_TIMEOUT;
    let mut last = String::new();
    for attempt in 1..=NOTIFY_ATTEMPTS {
        let mut config = dgram::Config::new();
        config.set_read_timeout(timeout);
        // Retransmission is ours, with backoff; the transport's own retries
        // would resend at a fixed interval.
        config.set_max_retries(0);
        let connection = dgram::Connection::with_config(UdpConnect::new(peer), config);
        let mut pending: Box<dyn GetResponse + Send + Sync> = match &key {
            Some(key) => tsig::Connection::new(key.clone(), connection).send_request(request.clone()),
            None => connection.send_request(request.clone()),
        };
        match pending.get_response().await {
            Ok(answer) if answer.header().rcode() == Rcode::NOERROR => {
                tracing::info!("NOTIFY for {zone} serial {serial} to {peer}: acknowledged (attempt {attempt})");
                return Ok(());
            }
            Ok(answer) => return Err(NotifyError::Rejected { zone, serial, peer, rcode: answer.header().rcode() }),
            Err(e) => {
                tracing::debug!("NOTIFY for {zone} serial {serial} to {peer}: attempt {attempt}: {e}");
                last = e.to_string();
            }
        }
        timeout *= 2;
    }
    Err(NotifyError::NoAnswer { zone, serial, peer, attempts: NOTIFY_ATTEMPTS, last })
}

/// RFC 1996 §3.7: opcode NOTIFY, AA set, the question `<apex, IN, SOA>`,
/// and the new SOA in the answer section as the optional hint.
fn notify_message(apex: &StoredName, soa: &StoredRecord) -> Option<RequestMessage<Vec<u8>>> {
    let mut builder = MessageBuilder::new_vec();
    builder.header_mut().set_opcode(Opcode::NOTIFY);
    builder.header_mut().set_aa(true);
    let mut question = builder.question();
    question.push((apex, Rtype::SOA)).ok()?;
    let mut answer = question.answer();
    answer.push(soa).ok()?;
    RequestMessage::new(answer).ok()
}

/// The NOTIFYs in flight, by zone: a new serial aborts the old ones.
#[derive(Debug, Default)]
pub struct Notifier {
    in_flight: Mutex<HashMap<CanonicalName, Vec<AbortHandle>>>,
}

impl Notifier {
    /// Notifies every `(address, key)` of the version whose SOA is `soa`,
    /// in the background.
    pub fn announce(&self, soa: StoredRecord, secondaries: Vec<(SocketAddr, Option<Arc<Key>>)>) {
        let soa = Arc::new(soa);
        let handles = secondaries
            .into_iter()
            .map(|(peer, key)| {
                let soa = soa.clone();
                tokio::spawn(async move {
                    if let Err(e) = notify(peer, key, &soa).await {
                        tracing::warn!("{e}");
                    }
                })
                .abort_handle()
            })
            .collect();
        let zone = CanonicalName(soa.owner().clone());
        // A poisoned lock only means a panic elsewhere mid-insert; the map
        // of abort handles is still usable.
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = in_flight.insert(zone, handles) {
            old.iter().for_each(AbortHandle::abort);
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        let in_flight = self.in_flight.get_mut().unwrap_or_else(|e| e.into_inner());
        in_flight.values().flatten().for_each(AbortHandle::abort);
    }
}
