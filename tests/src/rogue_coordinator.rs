//! A rogue coordinator towards an operator's CLI: a Coordinator service served with the real
//! coordinator's certificate and key (which the CLI checks), that runs a key import ceremony
//! with the real signers, then hands the CLI what an attacker would: one signer's encryption key
//! replaced by its own (to read that signer's share), a threshold other than the roster's, or
//! a signer left out, or keys the signers gave for the import of another key (the rogue's). It records whether the CLI ever sent the encrypted shares.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use frostzone_proto::tls::TlsFiles;
use frostzone_proto::v1 as pb;
use frostzone_proto::v1::coordinator_server::{Coordinator, CoordinatorServer};
use frostzone_proto::API_VERSION;
use tokio::sync::Mutex;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use crate::cluster::Cluster;
use crate::rogue::{self, Signer};

/// What the rogue hands the CLI at ImportKeyBegin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lie {
    /// Signer 2's encryption key replaced by the rogue's own (its signature kept).
    SwappedKey,
    /// The signers' genuine keys, but a 2-of-5 threshold.
    Threshold,
    /// Signer 5 left out.
    MissingSigner,
    /// The ceremony the signers approved names the rogue's own key, not the operator's: the
    /// signers would store shares of a key whose secret the rogue knows.
    ForeignKey,
}

/// The rogue service.
pub struct RogueCoordinator {
    signers: Mutex<Vec<Signer>>,
    lie: Lie,
    /// Set when the CLI sent ImportKeyFinish (the shares).
    pub finish_called: Arc<AtomicBool>,
}

type Chunks = Pin<Box<dyn Stream<Item = Result<pb::SignedZoneChunk, Status>> + Send + 'static>>;

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("rogue coordinator"))
}

impl RogueCoordinator {
    /// A rogue over the signers of `cluster`, telling `lie`.
    pub async fn new(cluster: &Cluster, lie: Lie) -> RogueCoordinator {
        let mut signers = Vec::new();
        for k in 1..=cluster.signers() {
            signers.push(rogue::connect(cluster, k).await);
        }
        RogueCoordinator { signers: Mutex::new(signers), lie, finish_called: Arc::new(AtomicBool::new(false)) }
    }

    /// Serves on 127.0.0.1:`port` with the coordinator's certificate until the task is dropped.
    pub fn serve(self, cluster: &Cluster, port: u16) -> tokio::task::JoinHandle<()> {
        let root = cluster.dir.path();
        let tls = TlsFiles { ca: root.join("ca.pem"), cert: root.join("coordinator.pem"), key: root.join("coordinator.key") };
        let config = tls.server_config().expect("server TLS config");
        // Bound before this returns: a client started right after it finds
        // the port listening (bound in the task, it was refused under load).
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the rogue coordinator's port");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let listener = tokio::net::TcpListener::from_std(listener).expect("a listener (serve is called inside the runtime)");
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .tls_config(config)
                .expect("TLS")
                .add_service(CoordinatorServer::new(self))
                .serve_with_incoming(incoming)
                .await
                .expect("serve");
        })
    }
}

#[tonic::async_trait]
impl Coordinator for RogueCoordinator {
    async fn status(&self, _: Request<pb::StatusRequest>) -> Result<Response<pb::StatusResponse>, Status> {
        unimplemented()
    }

    async fn generate_key(&self, _: Request<pb::GenerateKeyRequest>) -> Result<Response<pb::KeyGroupInfo>, Status> {
        unimplemented()
    }

    /// A genuine import ceremony with the real signers (approved by their policy), then the lie.
    async fn import_key_begin(&self, request: Request<pb::ImportKeyBeginRequest>) -> Result<Response<pb::ImportKeyBeginResponse>, Status> {
        let r = request.into_inner();
        let mut signers = self.signers.lock().await;
        let participants: Vec<pb::ParticipantId> = (1..=signers.len() as u16)
            .map(|k| pb::ParticipantId { id: frostzone_threshold::Identifier::try_from(k).expect("identifier").serialize() })
            .collect();
        let group_public_key = match self.lie {
            Lie::ForeignKey => ed25519_dalek::SigningKey::from_bytes(&[99; 32]).verifying_key().to_bytes(),
            _ => r.group_public_key.as_slice().try_into().map_err(|_| Status::invalid_argument("group key"))?,
        };
        let role = match pb::KeyRole::try_from(r.role) {
            Ok(pb::KeyRole::Ksk) => frostzone_dnssec::keys::KeyRole::Ksk,
            Ok(pb::KeyRole::Zsk) => frostzone_dnssec::keys::KeyRole::Zsk,
            _ => frostzone_dnssec::keys::KeyRole::Csk,
        };
        let ceremony = pb::KeyCeremony {
            kind: pb::CeremonyKind::Import.into(),
            zone: r.zone.clone(),
            role: r.role,
            threshold: 3,
            participants,
            key_tag: frostzone_dnssec::keys::ZoneKey::ed25519(role, group_public_key).key_tag().0.into(),
            group_public_key: group_public_key.to_vec(),
            repaired: None,
        };
        let request_id = rogue::request_id();
        let session_id = rogue::session_id();
        let mut keys = Vec::new();
        for (i, signer) in signers.iter_mut().enumerate() {
            let proposal = pb::CeremonyProposal {
                api_version: API_VERSION,
                request_id: request_id.clone(),
                ceremony: Some(ceremony.clone()),
                expires_unix: 0,
                submitted_by: "rogue".into(),
            };
            signer.propose_ceremony(proposal).await?;
            let begin = pb::ImportBeginRequest { api_version: API_VERSION, session_id: session_id.clone(), request_id: request_id.clone() };
            let key = signer.import_begin(begin).await?.into_inner();
            keys.push(pb::SignerEncryptionKey {
                signer: format!("signer-{}", i + 1),
                participant: key.participant,
                encryption_key: key.encryption_key,
                signature: key.signature,
            });
        }
        let mut threshold = 3;
        match self.lie {
            // Any 32 octets the rogue holds the secret for would do; the signature stays.
            Lie::SwappedKey => keys[1].encryption_key = vec![9; 32],
            Lie::Threshold => threshold = 2,
            Lie::MissingSigner => {
                keys.pop();
            }
            Lie::ForeignKey => {}
        }
        Ok(Response::new(pb::ImportKeyBeginResponse { session_id, threshold, signers: keys, request_id }))
    }

    async fn import_key_finish(&self, _: Request<pb::ImportKeyFinishRequest>) -> Result<Response<pb::KeyGroupInfo>, Status> {
        self.finish_called.store(true, Ordering::SeqCst);
        unimplemented()
    }

    async fn remove_key(&self, _: Request<pb::RemoveKeyRequest>) -> Result<Response<pb::RemoveKeyResponse>, Status> {
        unimplemented()
    }

    async fn refresh_shares(&self, _: Request<pb::RefreshSharesRequest>) -> Result<Response<pb::RefreshSharesResponse>, Status> {
        unimplemented()
    }

    async fn repair_share(&self, _: Request<pb::RepairShareRequest>) -> Result<Response<pb::RepairShareResponse>, Status> {
        unimplemented()
    }

    async fn list_keys(&self, _: Request<pb::ListKeysRequest>) -> Result<Response<pb::ListKeysResponse>, Status> {
        unimplemented()
    }

    async fn get_ds(&self, _: Request<pb::GetDsRequest>) -> Result<Response<pb::GetDsResponse>, Status> {
        unimplemented()
    }

    async fn start_rollover(&self, _: Request<pb::StartRolloverRequest>) -> Result<Response<pb::KeyStatusResponse>, Status> {
        unimplemented()
    }

    async fn key_status(&self, _: Request<pb::KeyStatusRequest>) -> Result<Response<pb::KeyStatusResponse>, Status> {
        unimplemented()
    }

    async fn confirm_ds(&self, _: Request<pb::ConfirmDsRequest>) -> Result<Response<pb::KeyStatusResponse>, Status> {
        unimplemented()
    }

    type SignZoneStream = Chunks;

    async fn sign_zone(&self, _: Request<Streaming<pb::SignZoneChunk>>) -> Result<Response<Chunks>, Status> {
        unimplemented()
    }

    type SubmitChangesStream = Chunks;

    async fn submit_changes(&self, _: Request<Streaming<pb::SignZoneChunk>>) -> Result<Response<Chunks>, Status> {
        unimplemented()
    }

    type GetZoneStream = Chunks;

    async fn get_zone(&self, _: Request<pb::GetZoneRequest>) -> Result<Response<Chunks>, Status> {
        unimplemented()
    }

    async fn list_requests(&self, _: Request<pb::ListRequestsRequest>) -> Result<Response<pb::ListRequestsResponse>, Status> {
        unimplemented()
    }

    async fn get_request(&self, _: Request<pb::GetRequestRequest>) -> Result<Response<pb::RequestStatus>, Status> {
        unimplemented()
    }
}
