//! The coordinator gRPC service: thin handlers that check the API version,
//! hand uploads to the pipeline ([`crate::pipeline::submit`]) and key
//! ceremonies to [`crate::keys`], and turn errors into status codes.
//! SignZone and SubmitChanges stream progress lines while the request
//! waits for approvals, then the published version; ListRequests and
//! GetRequest read the requests from the registry.

mod chunks;

use std::pin::Pin;
use std::sync::Arc;

use frostzone_proto::v1 as pb;
use frostzone_proto::v1::coordinator_server::Coordinator as CoordinatorApi;
use frostzone_proto::check_api_version;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use self::chunks::{AnswerText, TextChunks};
use crate::error::CoordinatorError;
use crate::keys::{ds_line, role_from_proto, zone_name, KeyGroup};
use crate::pipeline::input::Input;
use crate::pipeline::input::Submission;
use crate::pipeline::submit::submit;
use crate::request::RequestRecord;
use crate::Coordinator;

/// Largest zone or change file accepted by SignZone and SubmitChanges. The reference zone of 100,000
/// delegations is about 7 MiB; 512 MiB leaves room for the largest TLDs
/// while refusing a runaway upload before it exhausts memory.
pub const MAX_ZONE_BYTES: usize = 512 * 1024 * 1024;

/// Sessions listed by Status.
pub const STATUS_REQUESTS: usize = 20;

/// Requests listed by ListRequests when it does not say.
pub const DEFAULT_LIST_REQUESTS: usize = 50;

/// Shortest request id prefix GetRequest accepts: 8 hex digits make an
/// accidental match among a registry's requests unlikely.
pub const MIN_REQUEST_ID_PREFIX: usize = 8;

/// Progress lines waiting for a slow client; more are dropped (the next
/// one says the same, newer).
const PROGRESS_BACKLOG: usize = 16;

/// Most SignZone and SubmitChanges uploads received at once: each may
/// hold up to [`MAX_ZONE_BYTES`] in memory until it is read.
pub const MAX_CONCURRENT_UPLOADS: usize = 4;

/// The gRPC face of a [`Coordinator`].
#[derive(Clone, Debug)]
pub struct CoordinatorService {
    inner: Arc<Coordinator>,
    uploads: Arc<tokio::sync::Semaphore>,
}

impl CoordinatorService {
    /// Serves `coordinator`.
    pub fn new(coordinator: Arc<Coordinator>) -> Self {
        CoordinatorService { inner: coordinator, uploads: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_UPLOADS)) }
    }

    /// How long a key ceremony waits for approvals: as asked, or the
    /// configured approval timeout.
    fn approval_timeout(&self, secs: u32) -> std::time::Duration {
        if secs == 0 {
            self.inner.approval_timeout
        } else {
            std::time::Duration::from_secs(secs.into())
        }
    }

    /// A slot for one upload, or the refusal when
    /// [`MAX_CONCURRENT_UPLOADS`] are being received.
    fn upload_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Status> {
        self.uploads.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "{MAX_CONCURRENT_UPLOADS} uploads are being received already; nothing kept of this one, send it again later"
            ))
        })
    }
}

fn operator<T>(request: &Request<T>) -> String {
    request
        .extensions()
        .get::<frostzone_proto::tls::PeerName>()
        .map(|p| p.0.clone())
        .unwrap_or_else(|| "unauthenticated".into())
}

fn key_infos(records: Vec<crate::registry::KeyGroupRecord>) -> Result<Vec<pb::KeyGroupInfo>, CoordinatorError> {
    records
        .into_iter()
        .map(|r| {
            let (apex, _) = zone_name(&r.zone)?;
            Ok(KeyGroup::from_record(r)?.info(&apex))
        })
        .collect()
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<pb::SignedZoneChunk, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl CoordinatorApi for CoordinatorService {
    async fn status(&self, request: Request<pb::StatusRequest>) -> Result<Response<pb::StatusResponse>, Status> {
        check_api_version(request.get_ref().api_version)?;
        let c = &self.inner;
        let health = crate::signers::probe(c.signers.all()).await;
        let signers = c
            .signers
            .all()
            .iter()
            .zip(health)
            .map(|(s, (_, h))| pb::SignerStatus {
                name: s.name().to_string(),
                endpoint: s.config.endpoint.clone(),
                reachable: h.is_ok(),
                error: h.err().unwrap_or_default(),
            })
            .collect();
        let keys = key_infos(c.registry.key_groups(None).map_err(CoordinatorError::from)?)?;
        let requests = c
            .registry
            .recent_requests(STATUS_REQUESTS)
            .map_err(CoordinatorError::from)?
            .into_iter()
            .map(|s| pb::RequestSummary {
                error: s.error().unwrap_or_default().to_string(),
                id: s.id,
                zone: s.zone,
                state: s.state.name().to_string(),
                started_unix: s.started_unix,
                signatures: s.signatures,
                signers: s.signers,
                culprits: s.culprits,
            })
            .collect();
        let zones = zone_statuses(c)?;
        Ok(Response::new(pb::StatusResponse { signers, keys, requests, zones }))
    }

    async fn generate_key(&self, request: Request<pb::GenerateKeyRequest>) -> Result<Response<pb::KeyGroupInfo>, Status> {
        let who = operator(&request);
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        let role = role_from_proto(r.role)?;
        tracing::info!(operator = %who, "generate {role} for {}", r.zone);
        let timeout = self.approval_timeout(r.approval_timeout_secs);
        Ok(Response::new(crate::keys::dkg::generate_key(&self.inner, &r.zone, role, &who, timeout).await?))
    }

    async fn import_key_begin(
        &self,
        request: Request<pb::ImportKeyBeginRequest>,
    ) -> Result<Response<pb::ImportKeyBeginResponse>, Status> {
        let who = operator(&request);
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        let role = role_from_proto(r.role)?;
        tracing::info!(operator = %who, "import {role} for {}", r.zone);
        let timeout = self.approval_timeout(r.approval_timeout_secs);
        Ok(Response::new(crate::keys::dkg::import_begin(&self.inner, &r.zone, role, &r.group_public_key, &who, timeout).await?))
    }

    async fn remove_key(&self, request: Request<pb::RemoveKeyRequest>) -> Result<Response<pb::RemoveKeyResponse>, Status> {
        let who = operator(&request);
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        tracing::info!(operator = %who, "remove key tag {} of {}", r.key_tag, r.zone);
        let timeout = self.approval_timeout(r.approval_timeout_secs);
        Ok(Response::new(crate::keys::removal::remove_key(&self.inner, &r.zone, r.key_tag, &who, timeout).await?))
    }

    async fn refresh_shares(&self, request: Request<pb::RefreshSharesRequest>) -> Result<Response<pb::RefreshSharesResponse>, Status> {
        let who = operator(&request);
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        tracing::info!(operator = %who, "refresh the shares of key tag {} of {}", r.key_tag, r.zone);
        let timeout = self.approval_timeout(r.approval_timeout_secs);
        Ok(Response::new(crate::keys::refresh::refresh_shares(&self.inner, &r.zone, r.key_tag, &who, timeout).await?))
    }

    async fn repair_share(&self, request: Request<pb::RepairShareRequest>) -> Result<Response<pb::RepairShareResponse>, Status> {
        let who = operator(&request);
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        tracing::info!(operator = %who, "repair {}'s share of key tag {} of {}", r.signer, r.key_tag, r.zone);
        let timeout = self.approval_timeout(r.approval_timeout_secs);
        Ok(Response::new(crate::keys::repair::repair_share(&self.inner, &r.zone, r.key_tag, &r.signer, &who, timeout).await?))
    }

    async fn import_key_finish(
        &self,
        request: Request<pb::ImportKeyFinishRequest>,
    ) -> Result<Response<pb::KeyGroupInfo>, Status> {
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        Ok(Response::new(crate::keys::dkg::import_finish(&self.inner, r).await?))
    }

    async fn list_keys(&self, request: Request<pb::ListKeysRequest>) -> Result<Response<pb::ListKeysResponse>, Status> {
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        let zone = if r.zone.is_empty() { None } else { Some(zone_name(&r.zone)?.1) };
        let records = self.inner.registry.key_groups(zone.as_deref()).map_err(CoordinatorError::from)?;
        Ok(Response::new(pb::ListKeysResponse { keys: key_infos(records)? }))
    }

    async fn get_ds(&self, request: Request<pb::GetDsRequest>) -> Result<Response<pb::GetDsResponse>, Status> {
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        let (apex, zone) = zone_name(&r.zone)?;
        // The DS the parent should have now: the keys the zone's CDS names
        // (RFC 7344), whether or not it publishes one; not a standby key.
        let registry = &self.inner.registry;
        if registry.key_groups(Some(&zone)).map_err(CoordinatorError::from)?.is_empty() {
            return Err(CoordinatorError::NotFound(format!("no KSK or CSK for zone {zone}: run keys generate")).into());
        }
        let published = registry.zone_state(&zone).map_err(CoordinatorError::from)?.map(|s| crate::pipeline::key_steps::published_key_set(&s));
        let rollovers = registry.rollovers(&zone).map_err(CoordinatorError::from)?;
        let keys = crate::keys::zone_keys(registry, &zone, published.as_ref().map(|p| &p.dnskey), &rollovers)?;
        let ds: Vec<String> = keys.groups.iter().filter(|g| g.key.duties.in_cds).map(|g| ds_line(&apex, &g.key)).collect();
        if ds.is_empty() {
            return Err(CoordinatorError::NotFound(format!("no KSK or CSK for zone {zone}: run keys generate")).into());
        }
        Ok(Response::new(pb::GetDsResponse { ds }))
    }

    async fn start_rollover(&self, request: Request<pb::StartRolloverRequest>) -> Result<Response<pb::KeyStatusResponse>, Status> {
        let who = operator(&request);
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        Ok(Response::new(crate::keys::life_cycle::start_rollover(&self.inner, r, &who).await?))
    }

    async fn key_status(&self, request: Request<pb::KeyStatusRequest>) -> Result<Response<pb::KeyStatusResponse>, Status> {
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        Ok(Response::new(crate::keys::life_cycle::key_status(&self.inner, &r.zone).await?))
    }

    async fn confirm_ds(&self, request: Request<pb::ConfirmDsRequest>) -> Result<Response<pb::KeyStatusResponse>, Status> {
        let who = operator(&request);
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        Ok(Response::new(crate::keys::life_cycle::confirm_ds(&self.inner, r, &who).await?))
    }

    type SignZoneStream = ChunkStream;

    async fn sign_zone(
        &self,
        request: Request<Streaming<pb::SignZoneChunk>>,
    ) -> Result<Response<Self::SignZoneStream>, Status> {
        let who = operator(&request);
        let slot = self.upload_slot()?;
        let (options, text) = upload(request.into_inner(), "zone").await?;
        drop(slot);
        tracing::info!(operator = %who, "sign {} ({} bytes, denial {:?})", options.zone, text.len(), options.denial);
        let source = if options.source_name.is_empty() { options.zone.clone() } else { options.source_name.clone() };
        let submission = Submission { operator: who, options, input: Input::Text { text, source } };
        respond(self.inner.clone(), submission, Reply::Zone).await
    }

    type SubmitChangesStream = ChunkStream;

    async fn submit_changes(
        &self,
        request: Request<Streaming<pb::SignZoneChunk>>,
    ) -> Result<Response<Self::SubmitChangesStream>, Status> {
        let who = operator(&request);
        let slot = self.upload_slot()?;
        let (options, text) = upload(request.into_inner(), "change file").await?;
        drop(slot);
        tracing::info!(operator = %who, "changes to {} ({} bytes)", options.zone, text.len());
        let reply = if options.return_zone { Reply::ChangesAndZone } else { Reply::Changes };
        let source = if options.source_name.is_empty() { CHANGES_SOURCE.to_string() } else { options.source_name.clone() };
        let submission = Submission { operator: who, options, input: Input::ChangeText { text, source } };
        respond(self.inner.clone(), submission, reply).await
    }

    type GetZoneStream = ChunkStream;

    async fn get_zone(&self, request: Request<pb::GetZoneRequest>) -> Result<Response<Self::GetZoneStream>, Status> {
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        let (apex, zone) = zone_name(&r.zone)?;
        let c = self.inner.clone();
        let found = tokio::task::spawn_blocking(move || -> Result<_, CoordinatorError> {
            crate::pipeline::published_text(&c.registry, &zone, &apex)?
                .ok_or_else(|| CoordinatorError::NotFound(format!("zone {zone}: nothing published")))
        })
        .await
        .map_err(crate::error::join_error)??;
        let (state, text) = found;
        let last = pb::SignedZoneChunk {
            serial: state.serial,
            request_id: state.request_id,
            signatures_made: state.signatures_made,
            signatures_kept: state.signatures_kept,
            ..Default::default()
        };
        let chunks = TextChunks::new(vec![(AnswerText::Owned(text), "zone")], last);
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }

    async fn list_requests(
        &self,
        request: Request<pb::ListRequestsRequest>,
    ) -> Result<Response<pb::ListRequestsResponse>, Status> {
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        let zone = if r.zone.is_empty() { None } else { Some(zone_name(&r.zone)?.1) };
        let limit = match r.limit {
            0 => DEFAULT_LIST_REQUESTS,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let records = self.inner.registry.recent_requests_of(zone.as_deref(), limit).map_err(CoordinatorError::from)?;
        let requests = records.into_iter().map(|s| request_status(&self.inner, s)).collect::<Result<_, _>>()?;
        Ok(Response::new(pb::ListRequestsResponse { requests }))
    }

    async fn get_request(&self, request: Request<pb::GetRequestRequest>) -> Result<Response<pb::RequestStatus>, Status> {
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        let record = find_request(&self.inner, &r.request_id)?;
        Ok(Response::new(request_status(&self.inner, record)?))
    }
}

/// The one request whose id is `id` or starts with it.
fn find_request(c: &Coordinator, id: &str) -> Result<RequestRecord, CoordinatorError> {
    let prefix = id.to_ascii_lowercase();
    if prefix.len() < MIN_REQUEST_ID_PREFIX || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CoordinatorError::InvalidArgument(format!(
            "request id {id:?}: give the id or at least {MIN_REQUEST_ID_PREFIX} of its leading hex digits"
        )));
    }
    let mut found = c.registry.requests_with_id_prefix(&prefix)?;
    match found.len() {
        0 => Err(CoordinatorError::NotFound(format!("no request {prefix}: see list-requests"))),
        1 => Ok(found.remove(0)),
        n => Err(CoordinatorError::InvalidArgument(format!(
            "request id prefix {prefix} matches {n} requests ({}): give more digits",
            found.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The API view of a request: every signer of the zone's key groups has a
/// decision, UNSPECIFIED for those that did not answer.
fn request_status(c: &Coordinator, s: RequestRecord) -> Result<pb::RequestStatus, CoordinatorError> {
    let groups = c.registry.key_groups(Some(&s.zone))?;
    let mut decisions = s.decisions.clone();
    for name in groups.iter().flat_map(|g| &g.signers) {
        decisions.entry(name.clone()).or_default();
    }
    // Configured signers in participant order, then any others by name.
    let mut ordered: Vec<pb::SignerDecision> = Vec::with_capacity(decisions.len());
    for signer in c.signers.all() {
        if let Some(d) = decisions.remove(signer.name()) {
            ordered.push(d.to_proto(signer.name()));
        }
    }
    ordered.extend(decisions.iter().map(|(name, d)| d.to_proto(name)));
    let threshold = match s.threshold {
        0 => groups.iter().map(|g| u32::from(g.threshold)).max().unwrap_or(0),
        t => t,
    };
    Ok(pb::RequestStatus {
        error: s.error().unwrap_or_default().to_string(),
        state: s.state.name().to_string(),
        content_hash: hex::decode(&s.content_hash).unwrap_or_default(),
        request_id: s.id,
        zone: s.zone,
        submitted_by: s.submitted_by,
        started_unix: s.started_unix,
        updated_unix: s.updated_unix,
        expires_unix: s.expires_unix,
        signatures_planned: s.planned,
        signatures: s.signatures,
        threshold,
        decisions: ordered,
        signers: s.signers,
        culprits: s.culprits,
    })
}

/// Every zone with a published version, with its refresh health.
fn zone_statuses(c: &Coordinator) -> Result<Vec<pb::ZoneStatus>, CoordinatorError> {
    Ok(c.registry
        .zone_states()?
        .into_iter()
        .map(|s| {
            let health = c.pipeline.lane(&s.zone).health();
            let stale_baselines = c
                .registry
                .stale_baselines(&s.zone, &s.request_id)
                .unwrap_or_else(|e| {
                    tracing::warn!(zone = %s.zone, "status: cannot read the signers' baselines: {e}");
                    Vec::new()
                })
                .into_iter()
                .map(|(signer, request_id)| pb::StaleBaseline { signer, request_id: request_id.unwrap_or_default() })
                .collect();
            pb::ZoneStatus {
                stale_baselines,
                serial: s.serial,
                published_unix: s.published_unix,
                request_id: s.request_id,
                signatures: s.signatures,
                next_refresh_unix: health.next_refresh.unwrap_or(0),
                earliest_expiration_unix: health.earliest_expiration.unwrap_or(0),
                warning: health.warning,
                zone: s.zone,
            }
        })
        .collect())
}

/// The name change files get in messages (`changes:4: cannot add ...`)
/// when the client does not send `source_name`.
pub const CHANGES_SOURCE: &str = "changes";

/// Reads an upload: the options (first chunk), then the text.
async fn upload(mut input: Streaming<pb::SignZoneChunk>, what: &str) -> Result<(pb::SignZoneOptions, String), Status> {
    let mut options = None;
    let mut data = Vec::new();
    while let Some(chunk) = input.next().await {
        let chunk = chunk?;
        check_api_version(chunk.api_version)?;
        match (chunk.options, options.is_some()) {
            (Some(o), false) => options = Some(o),
            (Some(_), true) => return Err(Status::invalid_argument("options may only be sent in the first chunk")),
            (None, false) => return Err(Status::invalid_argument("the first chunk must carry the options")),
            (None, true) => {}
        }
        if data.len() + chunk.data.len() > MAX_ZONE_BYTES {
            return Err(CoordinatorError::TooLarge(format!(
                "the {what} is larger than {} MiB; this coordinator takes uploads up to that size",
                MAX_ZONE_BYTES / (1024 * 1024)
            ))
            .into());
        }
        data.extend_from_slice(&chunk.data);
    }
    let options = options.ok_or_else(|| Status::invalid_argument(format!("no chunks: the {what} and its options are missing")))?;
    let text = String::from_utf8(data)
        .map_err(|e| Status::invalid_argument(format!("the {what} is not UTF-8 (at byte {})", e.utf8_error().valid_up_to())))?;
    Ok((options, text))
}

/// What a request answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    /// The whole signed zone (SignZone).
    Zone,
    /// The signed changes (SubmitChanges).
    Changes,
    /// The signed changes, then the whole zone.
    ChangesAndZone,
}

/// Runs `submission` in a task of its own, streaming progress lines while
/// it waits, then the answer. A request that fails before its first
/// progress line (input that does not read or apply, no keys) fails the
/// call itself, with its code; a client that goes away fails the request.
async fn respond(c: Arc<Coordinator>, submission: Submission, reply: Reply) -> Result<Response<ChunkStream>, Status> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(PROGRESS_BACKLOG);
    tokio::spawn(async move {
        let lines = tx.clone();
        let progress = move |line: String| {
            // A client that does not read misses progress lines; it
            // never holds up the request.
            let _ = lines.try_send(Answered::Chunk(Ok(pb::SignedZoneChunk { progress: line, ..Default::default() })));
        };
        let result = tokio::select! {
            result = submit(&c, submission, &progress) => result,
            // The client went away: dropping the request fails its
            // session, and the signers are told.
            () = tx.closed() => return,
        };
        let last = match result {
            Ok(signed) => Answered::Text(answer(signed, reply)),
            Err(e) => Answered::Chunk(Err(e.into())),
        };
        let _ = tx.send(last).await;
    });
    let first = rx.recv().await.ok_or_else(|| Status::internal("the signing task ended without an answer"))?;
    let first = match first {
        Answered::Chunk(chunk) => Answered::Chunk(Ok(chunk?)),
        text => text,
    };
    let answers = tokio_stream::once(first).chain(ReceiverStream::new(rx));
    let stream = futures_util::StreamExt::flat_map(answers, Answered::into_stream);
    Ok(Response::new(Box::pin(stream)))
}

/// What a signing task hands its answer stream: progress lines and an
/// error as they come, then the answer's text, cut into chunks only as
/// the client reads them. Queued in the channel as chunks, a whole zone's
/// answer held 16 of them (16 MiB) beside the published text.
enum Answered {
    Chunk(Result<pb::SignedZoneChunk, Status>),
    Text(TextChunks),
}

impl Answered {
    fn into_stream(self) -> impl Stream<Item = Result<pb::SignedZoneChunk, Status>> {
        use futures_util::future::{ready, Either};
        match self {
            Answered::Chunk(chunk) => Either::Left(futures_util::stream::once(ready(chunk))),
            Answered::Text(chunks) => Either::Right(futures_util::stream::iter(chunks)),
        }
    }
}

/// The answer's chunks, made as they are sent; the last carries the
/// summary, the request id, the serial and the signature counts.
fn answer(signed: crate::pipeline::submit::PublishedVersion, reply: Reply) -> TextChunks {
    let mut texts = Vec::new();
    if reply != Reply::Zone {
        texts.push((AnswerText::Owned(signed.changes.unwrap_or_default()), "changes"));
    }
    if reply != Reply::Changes {
        let zone = match signed.signed_text {
            Some(text) => AnswerText::Stored(text),
            None => AnswerText::Owned(String::new()),
        };
        texts.push((zone, "zone"));
    }
    let last = pb::SignedZoneChunk {
        summary: signed.summary,
        request_id: signed.request_id,
        serial: signed.serial,
        signatures_made: signed.signatures_made,
        signatures_kept: signed.signatures_kept,
        ..Default::default()
    };
    TextChunks::new(texts, last)
}
