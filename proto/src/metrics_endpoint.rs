//! The `/metrics` endpoint both daemons serve to Prometheus, and its
//! `[metrics]` config section.
//!
//! ```toml
//! [metrics]
//! listen = "127.0.0.1:9470"   # where Prometheus scrapes GET /metrics
//! plain_http = false          # optional; true only on a loopback address
//! ```
//!
//! By default the endpoint speaks mutual TLS with the party's own
//! certificate: the scraper presents a client certificate issued by the
//! deployment's CA (`frostzone certs client`), as every other connection
//! does. Metrics carry no secret, but zone names, signer names and request
//! counts are still the operator's business. A Prometheus agent on the same
//! host may scrape plain HTTP on a loopback address instead; any other
//! address with `plain_http` is refused when the config is read.
//!
//! The body is the OpenMetrics text format (`prometheus-client`), which
//! Prometheus reads natively.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use crate::config_file::ConfigFileError;
use crate::tls::{TlsError, TlsFiles};

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The path Prometheus scrapes.
pub const PATH: &str = "/metrics";

/// The `[metrics]` section as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetricsSection {
    /// The listen address.
    pub listen: String,
    /// Plain HTTP (loopback only).
    #[serde(default)]
    pub plain_http: bool,
}

/// Where and how the endpoint listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsListen {
    /// The address.
    pub listen: SocketAddr,
    /// Plain HTTP instead of mutual TLS (only ever on a loopback address).
    pub plain_http: bool,
}

impl MetricsListen {
    /// Reads the `[metrics]` section of `file`.
    pub fn from_raw(file: &Path, raw: &RawMetricsSection) -> Result<MetricsListen, ConfigFileError> {
        let listen: SocketAddr = raw
            .listen
            .parse()
            .map_err(|e| ConfigFileError::field(file, "metrics.listen", format!("{:?} is not an address and port: {e}", raw.listen)))?;
        if raw.plain_http && !listen.ip().is_loopback() {
            return Err(ConfigFileError::field(
                file,
                "metrics.plain_http",
                format!(
                    "plain HTTP is only served on a loopback address, not {listen}: scrape it from this host, \
                     or drop plain_http and give the scraper a client certificate of the deployment's CA"
                ),
            ));
        }
        Ok(MetricsListen { listen, plain_http: raw.plain_http })
    }
}

/// The endpoint could not be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsEndpointError {
    /// A TLS file.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The TLS files do not make a server configuration.
    #[error("metrics endpoint TLS: {0}")]
    TlsSetup(String),
    /// Binding or serving failed.
    #[error("metrics endpoint on {listen}: {source}")]
    Serve {
        /// The address.
        listen: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// A rustls server configuration that requires a client certificate of
/// the CA and offers HTTP/2 and HTTP/1.1.
pub fn server_tls(tls: &TlsFiles) -> Result<rustls::ServerConfig, MetricsEndpointError> {
    use crate::tls::read;
    let ca_pem = read(&tls.ca)?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca_pem) {
        let cert = cert.map_err(|e| MetricsEndpointError::TlsSetup(format!("{}: {e}", tls.ca.display())))?;
        roots.add(cert).map_err(|e| MetricsEndpointError::TlsSetup(format!("{}: {e}", tls.ca.display())))?;
    }
    let chain = CertificateDer::pem_slice_iter(&read(&tls.cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| MetricsEndpointError::TlsSetup(format!("{}: {e}", tls.cert.display())))?;
    let key = PrivateKeyDer::from_pem_slice(&read(&tls.key)?)
        .map_err(|e| MetricsEndpointError::TlsSetup(format!("{}: {e}", tls.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| MetricsEndpointError::TlsSetup(e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| MetricsEndpointError::TlsSetup(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| MetricsEndpointError::TlsSetup(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Serves `GET /metrics` on `at` until `shutdown` completes; `render`
/// makes the body of each scrape.
pub async fn serve<R, F>(
    at: MetricsListen,
    tls: &TlsFiles,
    render: R,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MetricsEndpointError>
where
    R: Fn() -> F + Clone + Send + Sync + 'static,
    F: Future<Output = String> + Send + 'static,
{
    let route = move || {
        let render = render.clone();
        async move { ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], render().await) }
    };
    let app = axum::Router::new().route(PATH, axum::routing::get(route));
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.shutdown();
    });
    let listen = at.listen;
    let served = if at.plain_http {
        axum_server::bind(listen).handle(handle).serve(app.into_make_service()).await
    } else {
        let config = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(server_tls(tls)?));
        axum_server::bind_rustls(listen, config).handle(handle).serve(app.into_make_service()).await
    };
    served.map_err(|source| MetricsEndpointError::Serve { listen, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(listen: &str, plain_http: bool) -> RawMetricsSection {
        RawMetricsSection { listen: listen.into(), plain_http }
    }

    #[test]
    fn plain_http_is_refused_off_loopback_and_the_error_names_the_field() {
        let file = Path::new("/etc/frostzone/signer.toml");
        assert_eq!(
            MetricsListen::from_raw(file, &section("127.0.0.1:9470", true)).unwrap(),
            MetricsListen { listen: "127.0.0.1:9470".parse().unwrap(), plain_http: true }
        );
        assert!(MetricsListen::from_raw(file, &section("[::1]:9470", true)).unwrap().plain_http);
        assert!(!MetricsListen::from_raw(file, &section("0.0.0.0:9470", false)).unwrap().plain_http);
        let e = MetricsListen::from_raw(file, &section("0.0.0.0:9470", true)).unwrap_err().to_string();
        assert!(e.contains("signer.toml") && e.contains("metrics.plain_http") && e.contains("0.0.0.0:9470"), "{e}");
        let e = MetricsListen::from_raw(file, &section("localhost", false)).unwrap_err().to_string();
        assert!(e.contains("metrics.listen") && e.contains("localhost"), "{e}");
    }
}
