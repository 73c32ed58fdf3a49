//! The connection to a signer's admin service: gRPC over the Unix socket
//! the signer serves for its own operator (mode 0600, beside its data, by
//! default `<data_dir>/admin.sock`). Nothing else can reach it: the
//! coordinator has no way to approve on a signer's behalf.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use frostzone_proto::v1::signer_admin_client::SignerAdminClient;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::client::error_chain;

/// A local socket answers at once or not at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which signer to talk to (options of the admin commands).
#[derive(clap::Args, Clone, Debug)]
pub struct AdminArgs {
    /// The signer's admin socket: its config's `admin_socket`, by default
    /// <data_dir>/admin.sock.
    #[arg(long, env = "FROSTZONE_ADMIN_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

/// A connected admin client.
pub type Admin = SignerAdminClient<Channel>;

impl AdminArgs {
    /// The socket path, or an error saying how to give it.
    pub fn socket(&self) -> anyhow::Result<&Path> {
        self.socket.as_deref().context(
            "no admin socket: give --socket PATH (or set FROSTZONE_ADMIN_SOCKET); a signer serves it at \
             <data_dir>/admin.sock unless its config sets admin_socket",
        )
    }

    /// Connects to the signer's admin socket.
    pub async fn connect(&self) -> anyhow::Result<Admin> {
        connect(self.socket()?).await
    }
}

/// Connects to the admin service on the Unix socket `path`.
///
/// The first connection is made here, so that a missing socket, a stale
/// one or a permission problem is reported as such, naming the path; the
/// channel reuses it and reconnects only if it is lost.
pub async fn connect(path: &Path) -> anyhow::Result<Admin> {
    let first = UnixStream::connect(path).await.map_err(|e| socket_error(path, &e))?;
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
        .map_err(|e| anyhow::anyhow!("cannot talk to the signer on {}: {}", path.display(), error_chain(&e)))?;
    Ok(SignerAdminClient::new(channel)
        .max_decoding_message_size(frostzone_proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(frostzone_proto::MAX_MESSAGE_BYTES))
}

/// Why the socket could not be opened, and what the operator can do.
fn socket_error(path: &Path, e: &std::io::Error) -> anyhow::Error {
    let p = path.display();
    match e.kind() {
        ErrorKind::NotFound => anyhow::anyhow!(
            "no admin socket at {p}: is the signer running, and is this its data directory? (it serves \
             <data_dir>/admin.sock unless its config sets admin_socket)"
        ),
        ErrorKind::ConnectionRefused => anyhow::anyhow!(
            "{p} refuses connections: no signer is listening on it (a socket file left by a signer that \
             stopped); start the signer"
        ),
        ErrorKind::PermissionDenied => anyhow::anyhow!(
            "permission denied on {p}: the admin socket is only for the user the signer runs as (mode \
             0600); run this command as that user"
        ),
        _ => anyhow::anyhow!("cannot connect to the signer's admin socket {p}: {e}"),
    }
}

/// A `Status` from the signer as an error. Its message explains ("request
/// 3f2a0011 is not pending: approved by alice"); a transport failure names
/// the socket.
pub fn status_error(path: &Path, status: &tonic::Status) -> anyhow::Error {
    if let Some(source) = std::error::Error::source(status) {
        return anyhow::anyhow!(
            "the connection to the signer on {} failed: {}",
            path.display(),
            error_chain(source)
        );
    }
    if status.message().is_empty() {
        anyhow::anyhow!("the signer answered {:?}", status.code())
    } else {
        anyhow::anyhow!("{}", status.message())
    }
}

/// Whether the signer refused what was asked (a decision it will not
/// take), as opposed to failing to answer: exit 1 rather than 2.
pub fn is_refusal(status: &tonic::Status) -> bool {
    std::error::Error::source(status).is_none()
        && matches!(
            status.code(),
            tonic::Code::FailedPrecondition | tonic::Code::PermissionDenied | tonic::Code::Aborted
        )
}
