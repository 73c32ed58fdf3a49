//! The coordinator service over mutual TLS: a pinned operator gets an
//! answer, a certificate from the same CA that is not pinned is refused,
//! and so is a client without a certificate.

use std::path::Path;
use std::time::Duration;

use frostzone_coordinator::config::Config;
use frostzone_proto::v1 as pb;
use frostzone_proto::v1::coordinator_client::CoordinatorClient;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

fn make_certs(dir: &Path, parties: &[&str]) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::default();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    for name in parties {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

async fn client(dir: &Path, port: u16, who: Option<&str>) -> Result<CoordinatorClient<Channel>, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(dir.join("ca.pem")).unwrap()))
        .domain_name("coordinator");
    if let Some(who) = who {
        tls = tls.identity(Identity::from_pem(
            std::fs::read(dir.join(format!("{who}.pem"))).unwrap(),
            std::fs::read(dir.join(format!("{who}.key"))).unwrap(),
        ));
    }
    let channel = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))?.tls_config(tls)?.connect().await?;
    Ok(CoordinatorClient::new(channel))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_operator_only() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path(), &["coordinator", "operator", "stranger"]);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = format!(
        r#"version = 1
listen = "127.0.0.1:{port}"
data_dir = "data"
threshold = 2
request_timeout_secs = 5
[tls]
ca = "ca.pem"
cert = "coordinator.pem"
key = "coordinator.key"
[[operators]]
name = "operator"
cert = "operator.pem"
[[signers]]
name = "signer-1"
participant = 1
endpoint = "https://127.0.0.1:{dead}"
[[signers]]
name = "signer-2"
participant = 2
endpoint = "https://127.0.0.1:{dead}"
"#
    );
    let file = dir.path().join("coordinator.toml");
    std::fs::write(&file, config).unwrap();
    let config = Config::load(&file).unwrap();
    config.check_files().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(frostzone_coordinator::serve(config, async {
        let _ = stopped.await;
    }));

    let mut operator = None;
    for _ in 0..50 {
        if let Ok(c) = client(dir.path(), port, Some("operator")).await {
            operator = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut operator = operator.expect("the coordinator did not come up");
    let status = operator.status(pb::StatusRequest { api_version: 1 }).await.unwrap().into_inner();
    assert_eq!(status.signers.len(), 2);
    assert!(status.signers.iter().all(|s| !s.reachable && !s.error.is_empty()), "{:?}", status.signers);
    let wrong = operator.status(pb::StatusRequest { api_version: 7 }).await.unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::FailedPrecondition);
    let no_keys = operator.get_ds(pb::GetDsRequest { api_version: 1, zone: "example.".into() }).await.unwrap_err();
    assert_eq!(no_keys.code(), tonic::Code::NotFound);

    // Same CA, not pinned.
    let mut stranger = client(dir.path(), port, Some("stranger")).await.unwrap();
    let refused = stranger.status(pb::StatusRequest { api_version: 1 }).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");

    // No client certificate: the handshake or the first call fails.
    match client(dir.path(), port, None).await {
        Err(_) => {}
        Ok(mut anonymous) => assert!(anonymous.status(pb::StatusRequest { api_version: 1 }).await.is_err()),
    }

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
