//! The transfer server: we are the primary of our secondaries.
//!
//! One DNS server on UDP and TCP at `transfer.listen`, built from `domain`'s
//! layers, outermost first:
//!
//! ```text
//! MandatoryMiddlewareSvc   RFC 1035 basics: ID, QR, truncation over UDP
//! TsigMiddlewareSvc        RFC 8945: verifies signed requests (BADSIG,
//!                          BADKEY, BADTIME answered here), signs every
//!                          response of a signed request, XFR streams too
//! Gate (ours)              ACL by source IP and key; NOTIFY from the
//!                          primary; SOA; IXFR of a current serial
//! XfrMiddlewareSvc         AXFR (RFC 5936), IXFR (RFC 1995) from the
//!                          published snapshot and its journal
//! ```
//!
//! The gate sits *above* the XFR middleware because that middleware hands
//! the next service a request with its metadata reset, so below it the
//! TSIG key a request was signed with is no longer known.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use domain::net::server::buf::VecBufSource;
use domain::net::server::dgram::DgramServer;
use domain::net::server::middleware::mandatory::MandatoryMiddlewareSvc;
use domain::net::server::middleware::tsig::TsigMiddlewareSvc;
use domain::net::server::stream::StreamServer;
use domain::tsig::{Algorithm, Key, KeyName};
use frostzone_dnssec::change_set::{ChangeSet, ZoneContent};
use frostzone_dnssec::name::CanonicalName;
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::serial::is_newer;
use frostzone_dnssec::{StoredName, StoredRecord};
use tokio::net::{TcpListener, UdpSocket};

use crate::config::transfer::TransferConfig;
use super::gate::Gate;
use super::shared::{PublishedZone, Shared};
use super::journal::Journal;
use super::notify::Notifier;
use super::primary::PrimarySource;
use super::snapshot::{SnapshotError, ZoneSnapshot};

/// Zone transfers running at once; more wait (a transfer is one blocking
/// walk plus batching, and the coordinator shares its cores with signing).
const MAX_CONCURRENT_TRANSFERS: usize = 4;

/// The TSIG keys, by name and algorithm, as `domain`'s middleware wants them.
type KeyStore = Arc<HashMap<(KeyName, Algorithm), Key>>;
type Svc = Arc<MandatoryMiddlewareSvc<Vec<u8>, TsigMiddlewareSvc<Vec<u8>, Gate, KeyStore, ()>, ()>>;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[error("zone transfer server on {listen}: {source}")]
pub struct TransferStartError {
    /// The address.
    pub listen: SocketAddr,
    /// What the OS said.
    pub source: std::io::Error,
}

/// Why a version was not published; the previous one is still served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The records do not make a zone.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// RFC 1982 §3.2: a secondary only transfers a newer serial.
    #[error("zone {zone}: serial {serial} is not newer than the published serial {published}")]
    NotNewer {
        /// The zone.
        zone: String,
        /// The new serial.
        serial: u32,
        /// The serial served now.
        published: u32,
    },
    /// The change set does not lead from the published version to this one.
    #[error("zone {zone}: the change set from serial {from} to {to} does not turn the published serial {published} into serial {serial}: {reason}")]
    Changes {
        /// The zone.
        zone: String,
        /// Serial the set starts at.
        from: u32,
        /// Serial the set ends at.
        to: u32,
        /// Published serial (0 when none).
        published: u32,
        /// The new version's serial.
        serial: u32,
        /// What differs.
        reason: String,
    },
    /// The blocking task building the version died.
    #[error("zone {zone}: building the version failed: {reason}")]
    Internal {
        /// The zone.
        zone: String,
        /// Why.
        reason: String,
    },
}

/// The transfer server. Dropping it stops serving.
pub struct TransferServer {
    shared: Arc<Shared>,
    listen: SocketAddr,
    udp: Arc<DgramServer<Arc<UdpSocket>, VecBufSource, Svc>>,
    tcp: Arc<StreamServer<TcpListener, VecBufSource, Svc>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for TransferServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferServer").field("listen", &self.listen).finish_non_exhaustive()
    }
}

impl TransferServer {
    /// Binds `config.listen` on TCP and UDP (port 0 picks one port free
    /// for both) and serves until dropped. NOTIFYs from the primary go to
    /// `primary`; without one, every NOTIFY is refused.
    pub async fn start(config: &TransferConfig, primary: Option<PrimarySource>) -> Result<TransferServer, TransferStartError> {
        let fail = |source| TransferStartError { listen: config.listen, source };
        let tcp = TcpListener::bind(config.listen).await.map_err(fail)?;
        let listen = tcp.local_addr().map_err(fail)?;
        let udp = Arc::new(UdpSocket::bind(listen).await.map_err(fail)?);
        let shared = Arc::new(Shared {
            zones: RwLock::new(HashMap::new()),
            secondaries: config.secondaries.clone(),
            journal_limit: config.journal_limit,
            notifier: Notifier::default(),
            primary,
            publishing: tokio::sync::Mutex::new(()),
        });
        let keys: KeyStore = Arc::new(
            config.tsig_keys.values().map(|k| ((k.key.name().clone(), k.key.algorithm()), (*k.key).clone())).collect(),
        );
        let gate = Gate::new(shared.clone(), MAX_CONCURRENT_TRANSFERS);
        let svc: Svc = Arc::new(MandatoryMiddlewareSvc::new(TsigMiddlewareSvc::new(gate, keys)));
        let udp = Arc::new(DgramServer::new(udp, VecBufSource, svc.clone()));
        let tcp = Arc::new(StreamServer::new(tcp, VecBufSource, svc));
        let tasks = vec![
            tokio::spawn({
                let udp = udp.clone();
                async move { udp.run().await }
            }),
            tokio::spawn({
                let tcp = tcp.clone();
                async move { tcp.run().await }
            }),
        ];
        tracing::info!("zone transfer server listening on {listen} (UDP and TCP)");
        Ok(TransferServer { shared, listen, udp, tcp, tasks })
    }

    /// The address served (with the port chosen when 0 was configured).
    pub fn local_addr(&self) -> SocketAddr {
        self.listen
    }

    /// The version served now.
    pub fn published(&self, apex: &StoredName) -> Option<Arc<PublishedZone>> {
        self.shared.zone(apex)
    }

    /// Publishes a new version of `apex` whole: `records` is the whole
    /// signed zone. Its journal starts empty: secondaries get the whole
    /// zone (RFC 1995 §4). A version that follows the one served by a
    /// change set goes through [`TransferServer::publish_changes`].
    ///
    /// Readers see the old version or the new one, never a mix: the new
    /// one is built aside and swapped in. Then every secondary is sent a
    /// NOTIFY in the background. Returns the new serial.
    pub async fn publish(&self, apex: StoredName, records: Vec<StoredRecord>) -> Result<u32, PublishError> {
        let _one_at_a_time = self.shared.publishing.lock().await;
        let previous = self.shared.zone(&apex);
        let limit = self.shared.journal_limit;
        let zone = FqdnDisplay(&apex).to_string();
        let built = tokio::task::spawn_blocking(move || build(apex, records, previous, limit))
            .await
            .map_err(|e| PublishError::Internal { zone, reason: e.to_string() })??;
        Ok(self.serve_and_notify(built))
    }

    /// Publishes the version `set` (a validated signed change set, RFC 1995
    /// §4) makes of the version served now: its snapshot is built from the
    /// served one and the set joins the journal, at the cost of the set,
    /// not of the zone. Refused when no version is served or the set does
    /// not apply to it (the caller then publishes the whole zone).
    pub async fn publish_changes(&self, apex: StoredName, set: ChangeSet) -> Result<u32, PublishError> {
        let _one_at_a_time = self.shared.publishing.lock().await;
        let zone = FqdnDisplay(&apex).to_string();
        let Some(previous) = self.shared.zone(&apex) else {
            let (from, to) = (set.from_serial(), set.to_serial());
            return Err(PublishError::Changes { zone, from, to, published: 0, serial: to, reason: "nothing is served yet".into() });
        };
        let built = tokio::task::spawn_blocking(move || -> Result<PublishedZone, PublishError> {
            let snapshot = Arc::new(previous.snapshot.with_changes(&set)?);
            if !is_newer(snapshot.serial(), previous.serial()) {
                let zone = FqdnDisplay(&apex).to_string();
                return Err(PublishError::NotNewer { zone, serial: snapshot.serial(), published: previous.serial() });
            }
            let mut journal = previous.journal.clone();
            journal.push(set, snapshot.record_count());
            Ok(PublishedZone { zone: snapshot.clone().into_zone(), snapshot, journal })
        })
        .await
        .map_err(|e| PublishError::Internal { zone, reason: e.to_string() })??;
        Ok(self.serve_and_notify(built))
    }

    /// Swaps `built` in and NOTIFYs every secondary in the background;
    /// returns its serial.
    fn serve_and_notify(&self, built: PublishedZone) -> u32 {
        let serial = built.serial();
        let soa = built.snapshot.soa_record();
        self.swap(built);
        if let Some(soa) = soa {
            let targets = self.shared.notify_targets(soa.owner());
            self.shared.notifier.announce(soa, targets);
        }
        serial
    }

    /// Serves a version rebuilt from persisted state (records and journal),
    /// without NOTIFY: the secondaries saw it before the restart. Sets that
    /// do not chain up to the version's serial are dropped.
    pub async fn restore(&self, apex: StoredName, records: Vec<StoredRecord>, journal: Vec<ChangeSet>) -> Result<u32, PublishError> {
        let _one_at_a_time = self.shared.publishing.lock().await;
        let limit = self.shared.journal_limit;
        let zone = FqdnDisplay(&apex).to_string();
        let built = tokio::task::spawn_blocking(move || -> Result<PublishedZone, PublishError> {
            let snapshot = Arc::new(ZoneSnapshot::new(apex, &records)?);
            let mut journal = Journal::from_change_sets(limit, journal, snapshot.record_count());
            if journal.last_serial().is_some_and(|s| s != snapshot.serial()) {
                journal = Journal::new(limit);
            }
            Ok(PublishedZone { zone: snapshot.clone().into_zone(), snapshot, journal })
        })
        .await
        .map_err(|e| PublishError::Internal { zone, reason: e.to_string() })??;
        let serial = built.serial();
        self.swap(built);
        Ok(serial)
    }

    fn swap(&self, zone: PublishedZone) {
        let name = CanonicalName(zone.snapshot.apex().clone());
        self.shared.zones.write().unwrap_or_else(|e| e.into_inner()).insert(name, Arc::new(zone));
    }
}

impl Drop for TransferServer {
    fn drop(&mut self) {
        // Both only fail when already shut down.
        let _ = self.udp.shutdown();
        let _ = self.tcp.shutdown();
        self.tasks.iter().for_each(|t| t.abort());
    }
}

/// The records of a [`ZoneContent`], for [`TransferServer::publish`].
pub fn content_records(content: &ZoneContent) -> Vec<StoredRecord> {
    content.records().map(|r| r.record).collect()
}

/// Builds a whole new version (CPU work: runs on a blocking thread).
fn build(apex: StoredName, records: Vec<StoredRecord>, previous: Option<Arc<PublishedZone>>, limit: usize) -> Result<PublishedZone, PublishError> {
    let snapshot = Arc::new(ZoneSnapshot::new(apex.clone(), &records)?);
    if let Some(prev) = &previous {
        if !is_newer(snapshot.serial(), prev.serial()) {
            return Err(PublishError::NotNewer { zone: FqdnDisplay(&apex).to_string(), serial: snapshot.serial(), published: prev.serial() });
        }
    }
    Ok(PublishedZone { zone: snapshot.clone().into_zone(), snapshot, journal: Journal::new(limit) })
}
