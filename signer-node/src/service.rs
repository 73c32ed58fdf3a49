//! The gRPC face of the node: thin handlers that check the API version,
//! run the node's plain functions on blocking threads (they parse points,
//! sign, hash, write sled and fsync the audit log) with the current time
//! ([`Now::current`]), and turn refusals into status codes. Also the
//! server itself, with mutual TLS and the coordinator's pinned
//! certificate, and the task that sweeps expired sessions.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use frostzone_proto::tls::{PinnedPeers, TlsFiles};
use frostzone_proto::v1::signer_server::{Signer, SignerServer};
use frostzone_proto::v1::*;
use frostzone_proto::{check_api_version, MAX_BATCH_ITEMS, MAX_MESSAGE_BYTES};
use tonic::{Request, Response, Status, Streaming};

use crate::clock::Now;
use crate::error::NodeError;
use crate::node::Node;
use crate::proposal::{check_header, hold_compactly, items_room};

/// How often expired sessions are swept: a tenth of a typical timeout,
/// so nonces and DKG secrets outlive their deadline by seconds at most.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(10);

/// Most Propose streams received at once. An honest coordinator proposes
/// one request per zone at a time; each stream may buffer up to
/// [`crate::proposal::ProposalBound::bytes`] of this signer's config, so this bounds what
/// a misbehaving one can make a signer hold in memory.
pub const MAX_CONCURRENT_PROPOSALS: usize = 4;

/// The signer service over one node.
#[derive(Clone)]
pub struct SignerService {
    node: Arc<Node>,
    proposals: Arc<tokio::sync::Semaphore>,
}

impl SignerService {
    /// A service for `node`.
    pub fn new(node: Arc<Node>) -> Self {
        SignerService { node, proposals: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_PROPOSALS)) }
    }

    async fn run<T, F>(&self, api_version: u32, f: F) -> Result<Response<T>, Status>
    where
        T: Send + 'static,
        F: FnOnce(&Node) -> Result<T, NodeError> + Send + 'static,
    {
        run_on_node(&self.node, api_version, "refused", move |node| {
            f(node).inspect_err(|e| node.metrics().refused(e))
        })
        .await
    }
}

/// Checks the API version, runs `f` on a blocking thread (the node hashes,
/// signs and fsyncs) and turns a refusal into its status, logged as
/// `what`.
pub(crate) async fn run_on_node<T, F>(node: &Arc<Node>, api_version: u32, what: &'static str, f: F) -> Result<Response<T>, Status>
where
    T: Send + 'static,
    F: FnOnce(&Node) -> Result<T, NodeError> + Send + 'static,
{
    check_api_version(api_version)?;
    let node = node.clone();
    let result = tokio::task::spawn_blocking(move || f(&node))
        .await
        .map_err(|e| Status::from(NodeError::Internal(e.to_string())))?;
    result.map(Response::new).map_err(|e| {
        tracing::warn!(code = ?e.code(), "{what}: {e}");
        e.into()
    })
}

#[tonic::async_trait]
impl Signer for SignerService {
    async fn health(
        &self,
        request: Request<HealthRequest>,
    ) -> Result<Response<HealthResponse>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.health()).await
    }

    async fn propose_ceremony(&self, request: Request<CeremonyProposal>) -> Result<Response<Decision>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.propose_ceremony(req, Now::current())).await
    }

    async fn remove_share(&self, request: Request<RemoveShareRequest>) -> Result<Response<Decision>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.remove_share(req, Now::current())).await
    }

    async fn dkg_round1(
        &self,
        request: Request<DkgRound1Request>,
    ) -> Result<Response<DkgRound1Response>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.dkg_round1(req, Now::current())).await
    }

    async fn dkg_round2(
        &self,
        request: Request<DkgRound2Request>,
    ) -> Result<Response<DkgRound2Response>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.dkg_round2(req, Now::current())).await
    }

    async fn dkg_finish(
        &self,
        request: Request<DkgFinishRequest>,
    ) -> Result<Response<DkgFinishResponse>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.dkg_finish(req, Now::current())).await
    }

    async fn commit_refresh(&self, request: Request<CommitRefreshRequest>) -> Result<Response<Decision>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.commit_refresh(req, Now::current())).await
    }

    async fn repair_begin(&self, request: Request<RepairBeginRequest>) -> Result<Response<RepairBeginResponse>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.repair_begin(req, Now::current())).await
    }

    async fn repair_deltas(&self, request: Request<RepairDeltasRequest>) -> Result<Response<RepairDeltasResponse>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.repair_deltas(req, Now::current())).await
    }

    async fn repair_sigma(&self, request: Request<RepairSigmaRequest>) -> Result<Response<RepairSigmaResponse>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.repair_sigma(req, Now::current())).await
    }

    async fn repair_finish(&self, request: Request<RepairFinishRequest>) -> Result<Response<RepairFinishResponse>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.repair_finish(req, Now::current())).await
    }

    async fn import_begin(
        &self,
        request: Request<ImportBeginRequest>,
    ) -> Result<Response<ImportBeginResponse>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.import_begin(req, Now::current()))
            .await
    }

    async fn import_finish(
        &self,
        request: Request<ImportFinishRequest>,
    ) -> Result<Response<ImportFinishResponse>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.import_finish(req, Now::current()))
            .await
    }

    async fn commit(
        &self,
        request: Request<CommitRequest>,
    ) -> Result<Response<CommitResponse>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.commit(req, Now::current())).await
    }

    async fn sign(&self, request: Request<SignRequest>) -> Result<Response<SignResponse>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.sign(req, Now::current())).await
    }

    /// Reads the header, answers a repeated proposal at once, then
    /// collects the items (never more than the header announced, nor more
    /// than [`crate::proposal::ProposalBound::bytes`]) and hands them to [`Node::propose`].
    /// At most [`MAX_CONCURRENT_PROPOSALS`] streams are received at once.
    async fn propose(&self, request: Request<Streaming<ProposeChunk>>) -> Result<Response<Decision>, Status> {
        let _slot = self.proposals.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "{MAX_CONCURRENT_PROPOSALS} proposals are being received already; nothing kept of this one, propose it again later"
            ))
        })?;
        let mut stream = request.into_inner();
        let first = stream
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("empty Propose stream: the header comes first"))?;
        let header = first
            .header
            .ok_or_else(|| Status::invalid_argument("the first Propose chunk carries no header"))?;
        check_api_version(header.api_version)?;
        let bound = self.node.proposal_bound();
        check_header(&header, bound)?;
        let again = header.clone();
        if let Some(decision) = self.run(header.api_version, move |node| node.propose_again(&again)).await?.into_inner() {
            return Ok(Response::new(decision));
        }
        let announced = usize::try_from(header.item_count).unwrap_or(usize::MAX);
        let mut items: Vec<SigningItem> = Vec::new();
        let mut chunk = first.items;
        let mut bytes = 0usize;
        loop {
            if chunk.len() > MAX_BATCH_ITEMS {
                return Err(Status::invalid_argument(format!(
                    "a Propose chunk of {} items; at most {MAX_BATCH_ITEMS}",
                    chunk.len()
                )));
            }
            bytes = bytes.saturating_add(chunk.iter().map(prost::Message::encoded_len).sum());
            if bytes as u64 > bound.bytes() {
                return Err(Status::resource_exhausted(format!(
                    "the proposal exceeds {} octets of items ({} per item of max_proposal_items in this signer's config); nothing kept of it",
                    bound.bytes(),
                    crate::proposal::PROPOSAL_BYTES_PER_ITEM
                )));
            }
            let held = items.len() + chunk.len();
            if held > announced {
                return Err(Status::invalid_argument(format!(
                    "more items than the header's item_count {}",
                    header.item_count
                )));
            }
            if held > items.capacity() {
                items.reserve_exact(items_room(items.len(), chunk.len(), announced) - items.len());
            }
            hold_compactly(&mut chunk);
            items.append(&mut chunk);
            match stream.message().await? {
                None => break,
                Some(next) if next.header.is_some() => {
                    return Err(Status::invalid_argument("a second header in the Propose stream"))
                }
                Some(next) => chunk = next.items,
            }
        }
        let id = header.request_id.clone();
        let ahead = !header.incremental || header.item_count >= crate::prepared::PREPARE_MIN_ITEMS;
        let decision = self.run(header.api_version, move |node| node.propose(header, items, Now::current())).await?;
        if ahead {
            // Its baseline is made ready while it is signed (crate::staging).
            let node = self.node.clone();
            tokio::task::spawn_blocking(move || {
                match node.stage_baseline(&id) {
                    Ok(crate::staging::Staged::Skipped(why) | crate::staging::Staged::Stopped(why)) => {
                        tracing::info!(request = %id, "baseline not made ready ahead: {why}; the publication writes it");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(request = %id, "making the baseline ready ahead: {e}; the publication writes it"),
                }
            });
        }
        Ok(decision)
    }

    async fn get_decision(&self, request: Request<GetDecisionRequest>) -> Result<Response<Decision>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.get_decision(req, Now::current())).await
    }

    async fn published(&self, request: Request<PublishedRequest>) -> Result<Response<Decision>, Status> {
        let req = request.into_inner();
        self.run(req.api_version, |node| node.published(req, Now::current())).await
    }
}

/// A task that stops when this handle is dropped.
#[derive(Debug)]
pub struct SweeperTask(tokio::task::JoinHandle<()>);

impl Drop for SweeperTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the periodic sweep of expired sessions (their secrets are wiped
/// as they are dropped) and of requests past their deadlines
/// ([`Node::expire_due`], on a blocking thread: it writes and flushes).
pub fn spawn_sweeper(node: Arc<Node>, every: Duration) -> SweeperTask {
    SweeperTask(tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let now = Now::current();
            let dropped = node.sweep(now.instant);
            if dropped > 0 {
                tracing::info!(dropped, "expired sessions dropped");
            }
            let n = node.clone();
            match tokio::task::spawn_blocking(move || n.expire_due(now.unix())).await {
                Ok(Ok(0)) => {}
                Ok(Ok(expired)) => tracing::info!(expired, "requests expired"),
                Ok(Err(e)) => tracing::error!("request expiry: {e}"),
                Err(e) => tracing::error!("request expiry task: {e}"),
            }
        }
    }))
}

/// Errors setting up the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A TLS file is unusable.
    #[error(transparent)]
    Tls(#[from] frostzone_proto::tls::TlsError),
    /// The transport failed (bind, TLS set-up).
    #[error("serving on {addr}: {source}")]
    Transport {
        /// The listen address.
        addr: SocketAddr,
        /// What tonic said.
        source: tonic::transport::Error,
    },
}

/// Serves the signer API on `addr` over mutual TLS until `shutdown`
/// completes. Only the client presenting exactly `coordinator_cert` gets
/// in; the sweeper runs as long as the server does.
pub async fn serve(
    node: Arc<Node>,
    addr: SocketAddr,
    tls: &TlsFiles,
    coordinator_cert: &std::path::Path,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let pinned = PinnedPeers::load([("coordinator", coordinator_cert)])?;
    let _sweeper = spawn_sweeper(node.clone(), SWEEP_INTERVAL);
    // `SignerServer::with_interceptor` would hide the size limits, so the
    // limited server is wrapped by hand: the same thing, limits included.
    let server = SignerServer::new(SignerService::new(node))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let service =
        tonic::service::interceptor::InterceptedService::new(server, pinned.interceptor());
    tonic::transport::Server::builder()
        .tls_config(tls.server_config()?)
        .map_err(|source| ServeError::Transport { addr, source })?
        .add_service(service)
        .serve_with_shutdown(addr, shutdown)
        .await
        .map_err(|source| ServeError::Transport { addr, source })
}
