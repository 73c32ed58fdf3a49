//! The frostzone coordinator: it holds no secret, and no zone key is ever
//! in one place.
//!
//! It owns, one folder a job, dependencies pointing down this list
//! (docs/architecture.md):
//!
//! * the **API** operators call ([`api`]), over mutual TLS: thin tonic
//!   handlers;
//! * the **zone pipeline** ([`pipeline`]): every input (a whole zone,
//!   changes, a refresh, a transfer from a hidden primary) becomes the
//!   next version of its zone, planned incrementally, approved, signed,
//!   validated through its signed change set, kept in the registry and
//!   published (files, `on_publish`, AXFR/IXFR with NOTIFY); signatures
//!   are refreshed before they expire;
//! * **approval** ([`approval`]): the content each signer is proposed, the
//!   wait until every key group has t approvals (or the request is
//!   rejected or expires), and telling the signers how it ended, with the
//!   approvals as proof;
//! * **signing** ([`signing`]): batches of RRsets signed by attempts over t
//!   of the approvers (round 1, round 2, aggregation), retried with
//!   another subset when a signer fails or sends an invalid share;
//! * **key ceremonies** ([`keys`]): proposing DKG, import, share refresh,
//!   share repair and removal of keys to the signers, who each approve them
//!   against their own roster and policy; relaying the signed FROST DKG and
//!   repair messages; colliding key tags are never stored; rollovers'
//!   phases and intervals (RFC 7583);
//! * the **request** record ([`request`]): its phases and each signer's
//!   decision;
//! * the **clients** to the signers ([`signers`]): transport only;
//! * the **registry** ([`registry`], sled): key groups (zone, role, key
//!   tag, group public key, FROST public key package, threshold, the
//!   signers holding shares), requests, culprits and each zone's published
//!   state;
//! * **zone transfers** ([`xfr`]): AXFR/IXFR and NOTIFY to the public
//!   secondaries, and pulling the unsigned zone from a hidden primary;
//! * its **metrics** for Prometheus ([`metrics`]): events counted where
//!   they happen, states read at each scrape;
//! * its **configuration** ([`config`]);
//! * test-only **fault injection** ([`fault`]), compiled only into test
//!   builds.
//!
//! It does not own the key shares (the signer nodes do), the zone's DNS
//! logic (`frostzone-dnssec`) or the FROST arithmetic
//! (`frostzone-threshold`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod approval;
pub mod config;
pub mod error;
pub mod fault;
pub mod keys;
pub mod metrics;
pub mod pipeline;
pub mod registry;
pub mod request;
pub mod signers;
pub mod signing;
pub mod xfr;

use std::future::Future;

pub use error::CoordinatorError;

/// What every handler works with.
#[derive(Debug)]
pub struct Coordinator {
    /// Signers needed for a signature, and the threshold of new keys.
    pub threshold: u16,
    /// How long a request waits for approvals when it does not say
    /// (the config's `approval_timeout_secs`).
    pub approval_timeout: std::time::Duration,
    /// The registry.
    pub registry: registry::Registry,
    /// Clients to every signer.
    pub signers: signers::SignerPool,
    /// The hash-chained audit log of requests (`<data_dir>/audit.log`);
    /// `None` only in tests.
    pub audit: Option<std::sync::Arc<std::sync::Mutex<frostzone_proto::audit::AuditLog>>>,
    /// The zone pipeline: configured zones, each zone's published version
    /// and request lane, transfers and the refresh schedules.
    pub pipeline: pipeline::Pipeline,
    /// Prometheus metrics (served when the config has `[metrics]`).
    pub metrics: metrics::CoordinatorMetrics,
}

impl Coordinator {
    /// Appends to the audit log, when there is one, on the blocking pool
    /// (each entry is fsynced). A request that cannot be recorded does not
    /// go on.
    pub async fn audit(&self, entry: frostzone_proto::audit::AuditEntry) -> Result<(), CoordinatorError> {
        self.audit_all(vec![entry]).await
    }

    /// Appends `entries` in order with one `fsync` (answers that arrive
    /// together are recorded together), on the blocking pool.
    pub async fn audit_all(&self, entries: Vec<frostzone_proto::audit::AuditEntry>) -> Result<(), CoordinatorError> {
        let Some(log) = self.audit.clone() else { return Ok(()) };
        if entries.is_empty() {
            return Ok(());
        }
        tokio::task::spawn_blocking(move || {
            let mut log = log.lock().map_err(|_| CoordinatorError::Internal("audit log lock poisoned".into()))?;
            log.append_all(entries, unix_now()).map(|_| ()).map_err(|e| CoordinatorError::Internal(format!("audit log: {e}")))
        })
        .await
        .map_err(error::join_error)?
    }
}

/// Seconds since the epoch (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The Unix second at which signers let a proposal made now, waited on
/// for `timeout`, expire. Rounded up past now + `timeout`: the
/// coordinator's own deadline (an `Instant` taken before this) passes
/// first and names the timeout, where a signer's expiry a fraction of a
/// second earlier would end the wait as "quorum unavailable".
pub fn expiry_after(timeout: std::time::Duration) -> u64 {
    unix_now() + timeout.as_secs() + 1
}

/// Why the coordinator could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The config's files.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The registry.
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
    /// The audit log.
    #[error(transparent)]
    Audit(#[from] frostzone_proto::audit::AuditError),
    /// Signer channels.
    #[error(transparent)]
    Signers(#[from] signers::SignerSetupError),
    /// TLS files of the service.
    #[error("{0}")]
    Tls(#[from] frostzone_proto::tls::TlsError),
    /// The zone transfer server.
    #[error(transparent)]
    Transfer(#[from] xfr::TransferStartError),
    /// A published zone could not be served again.
    #[error(transparent)]
    Restore(#[from] xfr::PublishError),
    /// The gRPC server.
    #[error("serving on {listen}: {source}")]
    Serve {
        /// The address.
        listen: std::net::SocketAddr,
        /// Why.
        source: tonic::transport::Error,
    },
}

/// Opens the registry (failing sessions a previous run left unfinished),
/// connects to the signers and serves the coordinator API over mutual TLS
/// until `shutdown` completes.
pub async fn serve(config: config::Config, shutdown: impl Future<Output = ()> + Send) -> Result<(), StartError> {
    use frostzone_proto::v1::coordinator_server::CoordinatorServer;
    use frostzone_proto::MAX_MESSAGE_BYTES;

    config.check_files()?;
    let registry = registry::Registry::open(&config.data_dir)?;
    let signers = signers::SignerPool::from_config(&config)?;
    approval::outcome::sweep_interrupted(&registry, &signers, unix_now()).await?;
    let peers = frostzone_proto::tls::PinnedPeers::load(config.operators.iter().map(|o| (o.name.as_str(), o.cert.as_path())))?;
    let audit = frostzone_proto::audit::AuditLog::open(&config.data_dir.join("audit.log"), "coordinator")?;
    let journal_limit = config.xfr.as_ref().map(|x| x.transfer.journal_limit).unwrap_or(config::transfer::DEFAULT_JOURNAL_LIMIT);
    let coordinator = std::sync::Arc::new(Coordinator {
        threshold: config.threshold,
        approval_timeout: config.approval_timeout,
        registry,
        signers,
        audit: Some(std::sync::Arc::new(std::sync::Mutex::new(audit))),
        pipeline: pipeline::Pipeline::new(config.zones.clone(), journal_limit),
        metrics: metrics::CoordinatorMetrics::default(),
    });
    let _transfers = match &config.xfr {
        Some(x) => Some(pipeline::transfers::start(&coordinator, x).await?),
        None => None,
    };
    pipeline::schedule::start_all(&coordinator)?;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let _probe = pipeline::BackgroundTask(metrics::scrape::spawn_probe(coordinator.clone()));
    let _metrics = match config.metrics {
        Some(at) => Some(pipeline::BackgroundTask(serve_metrics(&coordinator, at, &config.tls, stopping.clone()))),
        None => None,
    };
    let api = CoordinatorServer::new(api::CoordinatorService::new(coordinator))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let api = tonic::service::interceptor::InterceptedService::new(api, peers.interceptor());
    tracing::info!(
        "coordinator listening on {} ({}-of-{} signers: {})",
        config.listen,
        config.threshold,
        config.signers.len(),
        config.signers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
    );
    let listen = config.listen;
    let server = tonic::transport::Server::builder()
        .tls_config(config.tls.server_config()?)
        .map_err(|source| StartError::Serve { listen, source })?
        .add_service(api)
        .serve_with_shutdown(listen, async move {
            let mut stopping = stopping;
            let _ = stopping.wait_for(|s| *s).await;
        });
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result.map_err(|source| StartError::Serve { listen, source }),
        () = shutdown => {
            let _ = stop.send(true);
        }
    }
    // New requests are refused now; running ones get a grace period. A
    // session cut off after it is marked failed (and swept at the next
    // start if even that write is lost): nothing partial is released.
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(result) => result.map_err(|source| StartError::Serve { listen, source }),
        Err(_) => {
            tracing::warn!("requests still running after {} s: stopping them", SHUTDOWN_GRACE.as_secs());
            Ok(())
        }
    }
}

/// Serves `/metrics` on `at` until `stopping` turns true. A failure
/// (the port taken, say) is logged: metrics are not worth stopping the
/// signing for.
fn serve_metrics(
    c: &std::sync::Arc<Coordinator>,
    at: frostzone_proto::metrics_endpoint::MetricsListen,
    tls: &frostzone_proto::tls::TlsFiles,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let (c, tls) = (c.clone(), tls.clone());
    tokio::spawn(async move {
        let render = move || metrics::scrape::scrape(c.clone());
        let shutdown = async move {
            let _ = stopping.wait_for(|s| *s).await;
        };
        tracing::info!("metrics on {}://{}{}", if at.plain_http { "http" } else { "https" }, at.listen, frostzone_proto::metrics_endpoint::PATH);
        if let Err(e) = frostzone_proto::metrics_endpoint::serve(at, &tls, render, shutdown).await {
            tracing::error!("{e}");
        }
    })
}

/// How long running requests may go on after a stop signal: enough for a
/// small zone's signing to finish, short enough for service managers'
/// stop timeouts (systemd's default is 90 s).
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);
