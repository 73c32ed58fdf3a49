//! The connection to a signer's admin service: gRPC over the Unix socket
//! the signer serves for its own operator (mode 0600, beside its data, by
//! default `<data_dir>/admin.sock`). The operator's CLI uses it, and so
//! does the signer's own `health` command. Nothing else can reach it: the
//! coordinator has no way to approve on a signer's behalf.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::v1::signer_admin_client::SignerAdminClient;

/// A local socket answers at once or not at all.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connected admin client.
pub type Admin = SignerAdminClient<Channel>;

/// The admin socket could not be reached, and what the operator can do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminSocketError {
    /// No socket file.
    #[error(
        "no admin socket at {}: is the signer running, and is this its data directory? (it serves \
         <data_dir>/admin.sock unless its config sets admin_socket)",
        .0.display()
    )]
    Missing(PathBuf),
    /// A socket file nobody listens on.
    #[error(
        "{} refuses connections: no signer is listening on it (a socket file left by a signer that \
         stopped); start the signer",
        .0.display()
    )]
    Refused(PathBuf),
    /// Not the signer's user.
    #[error(
        "permission denied on {}: the admin socket is only for the user the signer runs as (mode \
         0600); run this command as that user",
        .0.display()
    )]
    PermissionDenied(PathBuf),
    /// Anything else the OS said.
    #[error("cannot connect to the signer's admin socket {}: {source}", path.display())]
    Io {
        /// The socket.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The gRPC channel could not be set up.
    #[error("cannot talk to the signer on {}: {message}", path.display())]
    Channel {
        /// The socket.
        path: PathBuf,
        /// The transport's error and its causes.
        message: String,
    },
}

/// Connects to the admin service on the Unix socket `path`.
///
/// The first connection is made here, so that a missing socket, a stale
/// one or a permission problem is reported as such, naming the path; the
/// channel reuses it and reconnects only if it is lost.
pub async fn connect(path: &Path) -> Result<Admin, AdminSocketError> {
    let first = UnixStream::connect(path).await.map_err(|e| socket_error(path, e))?;
    let first = Arc::new(Mutex::new(Some(first)));
    let socket = path.to_path_buf();
    let connector = tower::service_fn(move |_: Uri| {
        let first = Arc::clone(&first);
        let socket = socket.clone();
        async move {
            let ready = first.lock().ok().and_then(|mut f| f.take());
            let stream = match ready {
                Some(stream) => stream,
                None => UnixStream::connect(&socket).await?,
            };
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    });
    // The URI only fills in the HTTP/2 :authority; the connector ignores it.
    let channel = Endpoint::from_static("http://signer-admin.local")
        .connect_timeout(CONNECT_TIMEOUT)
        .connect_with_connector(connector)
        .await
        .map_err(|e| AdminSocketError::Channel { path: path.to_path_buf(), message: crate::error_chain(&e) })?;
    Ok(SignerAdminClient::new(channel)
        .max_decoding_message_size(crate::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(crate::MAX_MESSAGE_BYTES))
}

fn socket_error(path: &Path, e: std::io::Error) -> AdminSocketError {
    let path = path.to_path_buf();
    match e.kind() {
        ErrorKind::NotFound => AdminSocketError::Missing(path),
        ErrorKind::ConnectionRefused => AdminSocketError::Refused(path),
        ErrorKind::PermissionDenied => AdminSocketError::PermissionDenied(path),
        _ => AdminSocketError::Io { path, source: e },
    }
}
