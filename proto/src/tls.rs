//! Mutual TLS for every connection (rustls on ring, through tonic).
//!
//! Every party has a certificate from the deployment's CA. Beyond "signed
//! by our CA", each side pins who may talk to it: a signer accepts only
//! the coordinator's certificate, the coordinator only the operator
//! certificates it is configured with. Pinning compares the peer's leaf
//! certificate (DER) with the configured one, so a certificate the CA
//! issued to someone else is refused too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// A party's TLS material on disk.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The CA certificate (PEM) that issued every party's certificate.
    pub ca: PathBuf,
    /// This party's certificate (PEM).
    pub cert: PathBuf,
    /// This party's private key (PEM).
    pub key: PathBuf,
}

/// A TLS file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Reading failed.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file holds no PEM certificate.
    #[error("{file}: no PEM certificate in the file")]
    NoCertificate {
        /// The file.
        file: PathBuf,
    },
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Io { file: path.to_path_buf(), source })
}

impl TlsFiles {
    /// Server side: our identity, and client certificates required and
    /// checked against the CA.
    pub fn server_config(&self) -> Result<ServerTlsConfig, TlsError> {
        Ok(ServerTlsConfig::new()
            .identity(Identity::from_pem(read(&self.cert)?, read(&self.key)?))
            .client_ca_root(Certificate::from_pem(read(&self.ca)?))
            .client_auth_optional(false))
    }

    /// Client side: our identity, and the server's certificate checked
    /// against the CA and against `server_name` (a DNS name in its SAN).
    pub fn client_config(&self, server_name: &str) -> Result<ClientTlsConfig, TlsError> {
        Ok(ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&self.ca)?))
            .identity(Identity::from_pem(read(&self.cert)?, read(&self.key)?))
            .domain_name(server_name))
    }
}

/// The first certificate in a PEM file, as DER, for pinning.
pub fn pinned_certificate(path: &Path) -> Result<Vec<u8>, TlsError> {
    let pem = read(path)?;
    let cert = CertificateDer::pem_slice_iter(&pem)
        .next()
        .and_then(|r| r.ok())
        .ok_or_else(|| TlsError::NoCertificate { file: path.to_path_buf() })?;
    Ok(cert.as_ref().to_vec())
}

/// The peers a server accepts: the leaf certificates (DER) and a name for
/// each, used in logs and audit records.
#[derive(Clone, Debug, Default)]
pub struct PinnedPeers {
    peers: Arc<Vec<(String, Vec<u8>)>>,
}

impl PinnedPeers {
    /// Peers from `(name, certificate file)` pairs.
    pub fn load<'a>(entries: impl IntoIterator<Item = (&'a str, &'a Path)>) -> Result<Self, TlsError> {
        let mut peers = Vec::new();
        for (name, path) in entries {
            peers.push((name.to_string(), pinned_certificate(path)?));
        }
        Ok(PinnedPeers { peers: Arc::new(peers) })
    }

    /// The name of the peer that made `request`, or `PERMISSION_DENIED`
    /// for a certificate that is not pinned (or no certificate at all).
    #[allow(clippy::result_large_err)]
    pub fn authorize<T>(&self, request: &tonic::Request<T>) -> Result<String, tonic::Status> {
        let certs = request
            .peer_certs()
            .ok_or_else(|| tonic::Status::unauthenticated("no client certificate"))?;
        let leaf = certs
            .first()
            .ok_or_else(|| tonic::Status::unauthenticated("no client certificate"))?;
        self.peers
            .iter()
            .find(|(_, der)| der.as_slice() == leaf.as_ref())
            .map(|(name, _)| name.clone())
            .ok_or_else(|| tonic::Status::permission_denied("client certificate is not one this service accepts"))
    }

    /// An interceptor that refuses every request from an unpinned peer.
    pub fn interceptor(self) -> impl tonic::service::Interceptor + Clone {
        move |request: tonic::Request<()>| -> Result<tonic::Request<()>, tonic::Status> {
            let name = self.authorize(&request)?;
            let mut request = request;
            request.extensions_mut().insert(PeerName(name));
            Ok(request)
        }
    }
}

/// The pinned name of the peer, put in request extensions by
/// [`PinnedPeers::interceptor`].
#[derive(Clone, Debug)]
pub struct PeerName(pub String);
