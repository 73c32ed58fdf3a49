//! gRPC clients to the signer nodes.
//!
//! One lazily connected [`Channel`] per signer, over mutual TLS: our
//! certificate is the client certificate, and the signer's certificate
//! must chain to our CA and carry the signer's configured name as a DNS
//! SAN. Every call has a deadline (the config's `request_timeout_secs`; a
//! proposal's grows with its items, [`PROPOSE_TIME_PER_ITEM`]), a
//! connection attempt gives up after [`CONNECT_TIMEOUT`], and messages are
//! limited to [`MAX_MESSAGE_BYTES`] both ways.
//!
//! Transport only: what to send is decided by the callers
//! ([`crate::approval`], [`crate::signing`], [`crate::keys`]). Calls return
//! [`SignerCallError`], which names the signer: the callers turn it into
//! "unavailable for this request" ([`crate::signing::subset`]) or into an
//! error for the client.

use std::fmt;
use std::time::Duration;

use frostzone_proto::v1::signer_client::SignerClient;
use frostzone_proto::v1::{self as pb};
use frostzone_proto::{API_VERSION, MAX_MESSAGE_BYTES};
use frostzone_threshold::{frost, Identifier};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

use crate::config::{Config, SignerConfig};

/// How long opening a connection to a signer may take. Loopback and LAN
/// connections take milliseconds; a signer that does not answer within
/// this is treated as down and the next subset is tried.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Deadline of a Health call in Status: status output should come back
/// quickly even when a signer hangs.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// HTTP/2 keep-alive pings notice a signer that vanished without closing
/// its connections (a pulled cable rather than a killed process).
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// Time allowed per item of a proposal, beyond the call deadline
/// ([`SignerHandle::propose_deadline`]). A signer sharing two cores with
/// four others evaluated the 233,343 items of the 100,000-delegation
/// reference zone in about 10 s (43 µs each); this leaves it four times
/// that: 47 s more for that zone, 7.8 minutes more for a million
/// delegations.
pub const PROPOSE_TIME_PER_ITEM: Duration = Duration::from_micros(200);

/// A channel could not be set up (at start, from the config).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignerSetupError {
    /// TLS files.
    #[error("signer {signer}: {source}")]
    Tls {
        /// The signer.
        signer: String,
        /// Why.
        source: frostzone_proto::tls::TlsError,
    },
    /// The endpoint or TLS settings were refused by the transport.
    #[error("signer {signer}: {source}")]
    Transport {
        /// The signer.
        signer: String,
        /// Why.
        source: tonic::transport::Error,
    },
    /// The participant number is not a FROST identifier.
    #[error("signer {signer}: participant {participant} is not a valid FROST identifier")]
    Participant {
        /// The signer.
        signer: String,
        /// The number.
        participant: u16,
    },
}

/// A call to a signer failed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{signer}: {}", describe(.status))]
pub struct SignerCallError {
    /// The signer.
    pub signer: String,
    /// What came back (or the transport's error as a status).
    pub status: tonic::Status,
}

/// A status in a few words: its message, or its code when there is none.
pub fn describe(status: &tonic::Status) -> String {
    let code = match status.code() {
        tonic::Code::DeadlineExceeded => "deadline exceeded",
        tonic::Code::Unavailable => "unavailable",
        tonic::Code::Cancelled => "cancelled",
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => "refused our certificate",
        _ => "",
    };
    match (code, status.message()) {
        ("", m) => format!("{:?}: {m}", status.code()),
        (c, "") => c.to_string(),
        (c, m) => format!("{c}: {m}"),
    }
}

/// One signer: its config, identifier and client.
#[derive(Clone)]
pub struct SignerHandle {
    /// From the config.
    pub config: SignerConfig,
    /// Its FROST identifier.
    pub identifier: Identifier,
    client: SignerClient<Channel>,
    timeout: Duration,
}

impl fmt::Debug for SignerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerHandle").field("config", &self.config).finish_non_exhaustive()
    }
}

macro_rules! call {
    ($self:ident, $method:ident, $msg:expr) => {{
        call!($self, $method, $msg, $self.timeout)
    }};
    ($self:ident, $method:ident, $msg:expr, $timeout:expr) => {{
        let timeout: Duration = $timeout;
        let mut request = tonic::Request::new($msg);
        // The deadline travels (grpc-timeout) and is enforced here too, so
        // a signer that stopped answering altogether cannot hold a batch.
        request.set_timeout(timeout);
        let mut client = $self.client.clone();
        let call = client.$method(request);
        let result = match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(tonic::Status::deadline_exceeded(format!("no answer within {} s", timeout.as_secs_f64()))),
        };
        result
            .map(tonic::Response::into_inner)
            .map_err(|status| SignerCallError { signer: $self.config.name.clone(), status })
    }};
}

impl SignerHandle {
    /// A handle over an existing channel (tests use plaintext channels).
    pub fn new(config: SignerConfig, channel: Channel, timeout: Duration) -> Result<Self, SignerSetupError> {
        let identifier = Identifier::try_from(config.participant).map_err(|_| SignerSetupError::Participant {
            signer: config.name.clone(),
            participant: config.participant,
        })?;
        let client = SignerClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(SignerHandle { config, identifier, client, timeout })
    }

    /// The name in logs and errors.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The identifier as it travels.
    pub fn participant_id(&self) -> pb::ParticipantId {
        pb::ParticipantId { id: self.identifier.serialize() }
    }

    /// Health, with the shorter [`HEALTH_TIMEOUT`].
    pub async fn health(&self) -> Result<pb::HealthResponse, SignerCallError> {
        let this = SignerHandle { timeout: self.timeout.min(HEALTH_TIMEOUT), ..self.clone() };
        call!(this, health, pb::HealthRequest { api_version: API_VERSION })
    }

    /// DKG round 1.
    pub async fn dkg_round1(&self, r: pb::DkgRound1Request) -> Result<pb::DkgRound1Response, SignerCallError> {
        call!(self, dkg_round1, r)
    }

    /// DKG round 2.
    pub async fn dkg_round2(&self, r: pb::DkgRound2Request) -> Result<pb::DkgRound2Response, SignerCallError> {
        call!(self, dkg_round2, r)
    }

    /// DKG finish.
    pub async fn dkg_finish(&self, r: pb::DkgFinishRequest) -> Result<pb::DkgFinishResponse, SignerCallError> {
        call!(self, dkg_finish, r)
    }

    /// Import, step 1.
    pub async fn import_begin(&self, r: pb::ImportBeginRequest) -> Result<pb::ImportBeginResponse, SignerCallError> {
        call!(self, import_begin, r)
    }

    /// Import, step 2.
    pub async fn import_finish(&self, r: pb::ImportFinishRequest) -> Result<pb::ImportFinishResponse, SignerCallError> {
        call!(self, import_finish, r)
    }

    /// FROST round 1 for a batch.
    pub async fn commit(&self, r: pb::CommitRequest) -> Result<pb::CommitResponse, SignerCallError> {
        call!(self, commit, r)
    }

    /// FROST round 2 for a batch.
    pub async fn sign(&self, r: pb::SignRequest) -> Result<pb::SignResponse, SignerCallError> {
        call!(self, sign, r)
    }

    /// Proposes a request: `chunks` is the Propose stream (the header
    /// chunk, then the `item_count` items, [`crate::approval::proposals`]).
    /// The answer is the signer's first decision, within
    /// [`SignerHandle::propose_deadline`].
    pub async fn propose(&self, chunks: ReceiverStream<pb::ProposeChunk>, item_count: u64) -> Result<pb::Decision, SignerCallError> {
        call!(self, propose, chunks, self.propose_deadline(item_count))
    }

    /// How long a signer may take to receive and evaluate a proposal of
    /// `item_count` items: the call deadline, and [`PROPOSE_TIME_PER_ITEM`]
    /// for each item. A whole zone is parsed, its denial records derived
    /// and compared with the baseline before the answer: on the reference
    /// zone of a million delegations that is minutes, not the seconds of a
    /// batch.
    pub fn propose_deadline(&self, item_count: u64) -> Duration {
        let per_item = PROPOSE_TIME_PER_ITEM.saturating_mul(u32::try_from(item_count).unwrap_or(u32::MAX));
        self.timeout.saturating_add(per_item)
    }

    /// The signer's current decision on `request_id`.
    pub async fn get_decision(&self, request_id: &str) -> Result<pb::Decision, SignerCallError> {
        call!(self, get_decision, pb::GetDecisionRequest { api_version: API_VERSION, request_id: request_id.to_string() })
    }

    /// Tells the signer how `request_id` ended: released (`detail` is the
    /// SHA-256 of the released zone text; `approvals` prove to a signer
    /// that did not approve it that t signers did) or failed (`detail` is
    /// why).
    pub async fn published(
        &self,
        request_id: &str,
        published: bool,
        detail: &str,
        approvals: Vec<pb::ApprovalProof>,
    ) -> Result<pb::Decision, SignerCallError> {
        call!(
            self,
            published,
            pb::PublishedRequest {
                api_version: API_VERSION,
                request_id: request_id.to_string(),
                published,
                detail: detail.to_string(),
                approvals,
            }
        )
    }

    /// Proposes a key ceremony; the signer's first decision.
    pub async fn propose_ceremony(&self, r: pb::CeremonyProposal) -> Result<pb::Decision, SignerCallError> {
        call!(self, propose_ceremony, r)
    }

    /// Deletes the signer's share under the approved removal `request_id`.
    pub async fn remove_share(&self, request_id: &str) -> Result<pb::Decision, SignerCallError> {
        call!(self, remove_share, pb::RemoveShareRequest { api_version: API_VERSION, request_id: request_id.to_string() })
    }

    /// Share refresh: replaces the signer's share by its refreshed one.
    pub async fn commit_refresh(&self, r: pb::CommitRefreshRequest) -> Result<pb::Decision, SignerCallError> {
        call!(self, commit_refresh, r)
    }

    /// Share repair, step 1 (every participant).
    pub async fn repair_begin(&self, r: pb::RepairBeginRequest) -> Result<pb::RepairBeginResponse, SignerCallError> {
        call!(self, repair_begin, r)
    }

    /// Share repair, step 2 (helpers).
    pub async fn repair_deltas(&self, r: pb::RepairDeltasRequest) -> Result<pb::RepairDeltasResponse, SignerCallError> {
        call!(self, repair_deltas, r)
    }

    /// Share repair, step 3 (helpers).
    pub async fn repair_sigma(&self, r: pb::RepairSigmaRequest) -> Result<pb::RepairSigmaResponse, SignerCallError> {
        call!(self, repair_sigma, r)
    }

    /// Share repair, step 4 (the repaired signer).
    pub async fn repair_finish(&self, r: pb::RepairFinishRequest) -> Result<pb::RepairFinishResponse, SignerCallError> {
        call!(self, repair_finish, r)
    }

    /// Whether `id` (as received) is this signer's identifier.
    pub fn is(&self, id: Option<&pb::ParticipantId>) -> bool {
        id.and_then(|p| frost::Identifier::deserialize(&p.id).ok()) == Some(self.identifier)
    }
}

/// Every configured signer, in participant order.
#[derive(Clone, Debug)]
pub struct SignerPool {
    signers: Vec<SignerHandle>,
}

impl SignerPool {
    /// Channels over mutual TLS to every signer in `config`. Nothing is
    /// connected yet: a signer that is down at start only shows up as
    /// unreachable when it is needed.
    pub fn from_config(config: &Config) -> Result<SignerPool, SignerSetupError> {
        let mut signers = Vec::new();
        for s in &config.signers {
            let tls = config
                .tls
                .client_config(&s.name)
                .map_err(|source| SignerSetupError::Tls { signer: s.name.clone(), source })?;
            let transport = |source| SignerSetupError::Transport { signer: s.name.clone(), source };
            let channel = Endpoint::from_shared(s.endpoint.clone())
                .map_err(transport)?
                .tls_config(tls)
                .map_err(transport)?
                .connect_timeout(CONNECT_TIMEOUT)
                // No channel-wide timeout: every call sets its own
                // deadline (`call!`), and a proposal's grows with its size.
                .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
                .keep_alive_while_idle(true)
                .tcp_nodelay(true)
                .connect_lazy();
            signers.push(SignerHandle::new(s.clone(), channel, config.request_timeout)?);
        }
        Ok(SignerPool::new(signers))
    }

    /// A pool of ready handles.
    pub fn new(mut signers: Vec<SignerHandle>) -> SignerPool {
        signers.sort_by_key(|s| s.config.participant);
        SignerPool { signers }
    }

    /// Every signer.
    pub fn all(&self) -> &[SignerHandle] {
        &self.signers
    }

    /// The signer called `name`.
    pub fn get(&self, name: &str) -> Option<&SignerHandle> {
        self.signers.iter().find(|s| s.config.name == name)
    }
}

/// How long a Health probe ([`probe`]) waits for one signer.
pub const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Asks every signer for its health at once, [`PROBE_TIMEOUT`] each; for
/// each signer in `signers`' order, its name and `Ok` if it answered as
/// itself (its name and participant), or why not.
pub async fn probe(signers: &[SignerHandle]) -> Vec<(String, Result<(), String>)> {
    let answers = fan_out(signers, |s| async move {
        match tokio::time::timeout(PROBE_TIMEOUT, s.health()).await {
            Ok(answer) => answer,
            Err(_) => Err(SignerCallError {
                signer: s.name().to_string(),
                status: tonic::Status::deadline_exceeded(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
            }),
        }
    })
    .await;
    signers
        .iter()
        .zip(answers)
        .map(|(s, answer)| {
            let reachable = match answer {
                Ok(h) if h.name == s.name() && s.is(h.participant.as_ref()) => Ok(()),
                Ok(h) => Err(format!("answers as {:?}, participant mismatch or wrong name", h.name)),
                Err(e) => Err(describe(&e.status)),
            };
            (s.name().to_string(), reachable)
        })
        .collect()
}

/// Runs `call` on every signer in `signers` concurrently and returns the
/// results in the same order.
pub async fn fan_out<T, F, Fut>(signers: &[SignerHandle], call: F) -> Vec<Result<T, SignerCallError>>
where
    T: Send + 'static,
    F: Fn(SignerHandle) -> Fut,
    Fut: std::future::Future<Output = Result<T, SignerCallError>> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for (i, s) in signers.iter().enumerate() {
        let fut = call(s.clone());
        set.spawn(async move { (i, fut.await) });
    }
    let mut out: Vec<Option<Result<T, SignerCallError>>> = (0..signers.len()).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, result)) = joined {
            out[i] = Some(result);
        }
    }
    out.into_iter()
        .zip(signers)
        .map(|(r, s)| {
            r.unwrap_or_else(|| {
                Err(SignerCallError { signer: s.name().to_string(), status: tonic::Status::internal("the call's task failed") })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_proposal_deadline_grows_with_its_items() {
        let endpoint = "http://127.0.0.1:9".to_string();
        let channel = Endpoint::from_shared(endpoint.clone()).unwrap().connect_lazy();
        let config = SignerConfig { name: "signer-1".into(), participant: 1, endpoint };
        let handle = SignerHandle::new(config, channel, Duration::from_secs(60)).unwrap();
        assert_eq!(handle.propose_deadline(0), Duration::from_secs(60));
        assert_eq!(handle.propose_deadline(3), Duration::from_secs(60) + 3 * PROPOSE_TIME_PER_ITEM);
        // The reference zone of a million delegations: 2,333,343 items.
        let tld = handle.propose_deadline(2_333_343);
        assert!(tld > Duration::from_secs(500) && tld < Duration::from_secs(600), "{tld:?}");
        assert!(handle.propose_deadline(u64::MAX) > tld);
    }
}
