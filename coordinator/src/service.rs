//! The coordinator gRPC service: thin handlers that check the API version,
//! call the logic in [`crate::dkg`] and [`crate::sign`], and turn errors
//! into status codes.

use std::pin::Pin;
use std::sync::Arc;

use frostzone_proto::v1 as pb;
use frostzone_proto::v1::coordinator_server::Coordinator as CoordinatorApi;
use frostzone_proto::{check_api_version, ZONE_CHUNK_BYTES};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::error::CoordinatorError;
use crate::keys::{ds_line, role_from_proto, zone_name, KeyGroup};
use crate::signers::fan_out;
use crate::Coordinator;

/// Largest zone file accepted by SignZone. The reference zone of 100,000
/// delegations is about 7 MiB; 512 MiB leaves room for the largest TLDs
/// while refusing a runaway upload before it exhausts memory.
pub const MAX_ZONE_BYTES: usize = 512 * 1024 * 1024;

/// Sessions listed by Status.
pub const STATUS_SESSIONS: usize = 20;

/// The gRPC face of a [`Coordinator`].
#[derive(Clone, Debug)]
pub struct CoordinatorService {
    inner: Arc<Coordinator>,
}

impl CoordinatorService {
    /// Serves `coordinator`.
    pub fn new(coordinator: Arc<Coordinator>) -> Self {
        CoordinatorService { inner: coordinator }
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
        let health = fan_out(c.signers.all(), |s| async move { s.health().await }).await;
        let signers = c
            .signers
            .all()
            .iter()
            .zip(health)
            .map(|(s, h)| {
                let (reachable, error) = match h {
                    Ok(h) if h.name == s.name() && s.is(h.participant.as_ref()) => (true, String::new()),
                    Ok(h) => (false, format!("answers as {:?}, participant mismatch or wrong name", h.name)),
                    Err(e) => (false, crate::signers::describe(&e.status)),
                };
                pb::SignerStatus { name: s.name().to_string(), endpoint: s.config.endpoint.clone(), reachable, error }
            })
            .collect();
        let keys = key_infos(c.registry.key_groups(None).map_err(CoordinatorError::from)?)?;
        let sessions = c
            .registry
            .recent_sessions(STATUS_SESSIONS)
            .map_err(CoordinatorError::from)?
            .into_iter()
            .map(|s| pb::SessionSummary {
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
        Ok(Response::new(pb::StatusResponse { signers, keys, sessions }))
    }

    async fn generate_key(&self, request: Request<pb::GenerateKeyRequest>) -> Result<Response<pb::KeyGroupInfo>, Status> {
        let who = operator(&request);
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        let role = role_from_proto(r.role)?;
        tracing::info!(operator = %who, "generate {role} for {}", r.zone);
        Ok(Response::new(crate::dkg::generate_key(&self.inner, &r.zone, role).await?))
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
        Ok(Response::new(crate::dkg::import_begin(&self.inner, &r.zone, role).await?))
    }

    async fn import_key_finish(
        &self,
        request: Request<pb::ImportKeyFinishRequest>,
    ) -> Result<Response<pb::KeyGroupInfo>, Status> {
        let r = request.into_inner();
        check_api_version(r.api_version)?;
        Ok(Response::new(crate::dkg::import_finish(&self.inner, r).await?))
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
        let mut ds = Vec::new();
        for record in self.inner.registry.key_groups(Some(&zone)).map_err(CoordinatorError::from)? {
            let group = KeyGroup::from_record(record)?;
            if group.key.role.signs_keys() {
                ds.push(ds_line(&apex, &group.key));
            }
        }
        if ds.is_empty() {
            return Err(CoordinatorError::NotFound(format!("no KSK or CSK for zone {zone}: run keys generate")).into());
        }
        Ok(Response::new(pb::GetDsResponse { ds }))
    }

    type SignZoneStream = ChunkStream;

    async fn sign_zone(
        &self,
        request: Request<Streaming<pb::SignZoneChunk>>,
    ) -> Result<Response<Self::SignZoneStream>, Status> {
        let who = operator(&request);
        let mut input = request.into_inner();
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
                    "the zone is larger than {} MiB; this coordinator signs zones up to that size",
                    MAX_ZONE_BYTES / (1024 * 1024)
                ))
                .into());
            }
            data.extend_from_slice(&chunk.data);
        }
        let options = options.ok_or_else(|| Status::invalid_argument("no chunks: the zone and its options are missing"))?;
        let text = String::from_utf8(data).map_err(|e| {
            Status::invalid_argument(format!("the zone text is not UTF-8 (at byte {})", e.utf8_error().valid_up_to()))
        })?;
        tracing::info!(operator = %who, "sign {} ({} bytes, denial {:?})", options.zone, text.len(), options.denial);
        let signed = crate::sign::sign_zone(self.inner.clone(), &who, options, text).await?;
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks(signed).into_iter().map(Ok)))))
    }
}

/// The signed zone in chunks of at most [`ZONE_CHUNK_BYTES`]; the last
/// carries the summary and the session id.
fn chunks(signed: crate::sign::SignedZone) -> Vec<pb::SignedZoneChunk> {
    let bytes = signed.text.into_bytes();
    let mut out: Vec<pb::SignedZoneChunk> = bytes
        .chunks(ZONE_CHUNK_BYTES)
        .map(|c| pb::SignedZoneChunk { data: c.to_vec(), ..Default::default() })
        .collect();
    if out.is_empty() {
        out.push(pb::SignedZoneChunk::default());
    }
    if let Some(last) = out.last_mut() {
        last.summary = signed.summary;
        last.session_id = signed.session_id;
    }
    out
}
