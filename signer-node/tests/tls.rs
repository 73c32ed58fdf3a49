//! The signer over real mutual TLS: the coordinator's pinned certificate
//! gets in, another certificate from the same CA and plaintext do not.

mod common;

use std::sync::Arc;
use std::time::Duration;

use frostzone_proto::tls::TlsFiles;
use frostzone_proto::v1::signer_client::SignerClient;
use frostzone_proto::v1::HealthRequest;
use frostzone_proto::API_VERSION;
use frostzone_signer_node::fault::Faults;
use frostzone_signer_node::store::KdfParams;
use frostzone_signer_node::{service, Config, Node, NodeOptions, Store};
use frostzone_tests::port::free_port;
use frostzone_tests::signer_config::write_flat;
use tonic::transport::Channel;

async fn health(dir: &std::path::Path, client: &str, port: u16) -> Result<String, tonic::Status> {
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join(format!("{client}.pem")),
        key: dir.join(format!("{client}.key")),
    };
    let channel = Channel::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(files.client_config("signer-1").unwrap())
        .unwrap()
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let r = SignerClient::new(channel)
        .health(HealthRequest {
            api_version: API_VERSION,
        })
        .await?;
    Ok(r.into_inner().name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_pinned_coordinator_gets_in() {
    let dir = tempfile::tempdir().unwrap();
    common::make_certs(dir.path(), &["signer-1", "coordinator", "intruder"]);
    let port = free_port();
    let config = Config::load(&write_flat(dir.path(), 1, port, "pw")).unwrap();
    let cheap = || KdfParams {
        m_cost: 64,
        t_cost: 1,
        ..KdfParams::new_default()
    };
    let store = Store::open_with(&config.data_dir, b"pw", cheap).unwrap();
    let opts = NodeOptions {
        name: config.name.clone(),
        participant: config.identifier().unwrap(),
        session_timeout: config.session_timeout,
        proposal_bound: config.proposal_bound,
        faults: Faults::default(),
    };
    let node = Arc::new(Node::new(opts, store));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = {
        let config = config.clone();
        tokio::spawn(async move {
            service::serve(
                node,
                config.listen,
                &config.tls,
                &config.coordinator_cert,
                async {
                    let _ = stopped.await;
                },
            )
            .await
        })
    };
    let mut name = Err(tonic::Status::unavailable("not tried"));
    for _ in 0..50 {
        name = health(dir.path(), "coordinator", port).await;
        if name.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(name.unwrap(), "signer-1");

    let refused = health(dir.path(), "intruder", port).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");

    // Plaintext HTTP/2 does not get an answer.
    let plain = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plain {
        let r = SignerClient::new(channel)
            .health(HealthRequest {
                api_version: API_VERSION,
            })
            .await;
        assert!(r.is_err(), "plaintext request answered: {r:?}");
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
