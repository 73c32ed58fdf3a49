//! The operator's admin service (`SignerAdmin`): pending requests listed,
//! shown, approved or rejected, over a Unix socket beside the signer's
//! data. The coordinator cannot reach it; only local users who can open
//! the socket can. Like the signer API, each call runs the node on a
//! blocking thread with the current time (`service::run_on_node`).
//!
//! The socket is created with mode 0600 (a stale socket file from an
//! earlier run is removed first; any other file in its place is left alone
//! and the start refused). As a second line, each call checks the peer's
//! credentials (`SO_PEERCRED`): only the socket's owner and root are
//! served. The audit log names the operator as the label the CLI sends
//! plus that uid, e.g. "alice (uid 1000)".

use std::future::Future;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use frostzone_proto::v1::signer_admin_server::{SignerAdmin, SignerAdminServer};
use frostzone_proto::v1::*;
use frostzone_proto::MAX_MESSAGE_BYTES;
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::server::UdsConnectInfo;
use tonic::{Request, Response, Status};

use crate::clock::Now;
use crate::error::NodeError;
use crate::node::Node;

/// Longest operator label kept for the audit log.
pub const MAX_OPERATOR_LABEL: usize = 64;

/// The admin socket could not be set up or served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// Creating, inspecting or securing the socket failed.
    #[error("admin socket {}: {source}", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Something other than a socket is in the way.
    #[error("admin socket {}: a file that is not a socket is in the way; remove it or set admin_socket", .0.display())]
    NotASocket(PathBuf),
    /// The server failed.
    #[error("admin socket {}: {source}", path.display())]
    Transport {
        /// The socket path.
        path: PathBuf,
        /// What tonic said.
        source: tonic::transport::Error,
    },
}

/// The admin service over one node.
#[derive(Clone)]
pub struct AdminService {
    node: Arc<Node>,
    /// The uid owning the socket (this process): besides root, the only
    /// peer served.
    owner_uid: u32,
}

impl AdminService {
    /// A service for `node`, serving peers with uid `owner_uid` or 0.
    pub fn new(node: Arc<Node>, owner_uid: u32) -> Self {
        AdminService { node, owner_uid }
    }

    /// "label (uid N)" for the audit log, or a refusal for a peer that is
    /// neither the owner nor root. A connection without credentials (an
    /// in-process test) is named by its label alone.
    fn operator<T>(&self, request: &Request<T>, label: &str) -> Result<String, Status> {
        let label: String = label.chars().filter(|c| !c.is_control()).take(MAX_OPERATOR_LABEL).collect();
        let label = if label.trim().is_empty() { "unnamed operator".to_string() } else { label.trim().to_string() };
        let uid = request.extensions().get::<UdsConnectInfo>().and_then(|i| i.peer_cred).map(|c| c.uid());
        match uid {
            Some(uid) if uid != self.owner_uid && uid != 0 => Err(Status::permission_denied(format!(
                "uid {uid} may not use this signer's admin socket (owner uid {})",
                self.owner_uid
            ))),
            Some(uid) => Ok(format!("{label} (uid {uid})")),
            None => Ok(label),
        }
    }

    async fn run<T, F>(&self, api_version: u32, f: F) -> Result<Response<T>, Status>
    where
        T: Send + 'static,
        F: FnOnce(&Node) -> Result<T, NodeError> + Send + 'static,
    {
        crate::service::run_on_node(&self.node, api_version, "admin call refused", f).await
    }
}

#[tonic::async_trait]
impl SignerAdmin for AdminService {
    async fn list_requests(&self, request: Request<AdminListRequest>) -> Result<Response<AdminListResponse>, Status> {
        self.operator(&request, "")?;
        let req = request.into_inner();
        self.run(req.api_version, move |node| node.list_requests(req.all, Now::current())).await
    }

    async fn show_request(&self, request: Request<AdminShowRequest>) -> Result<Response<AdminRequestDetail>, Status> {
        self.operator(&request, "")?;
        let req = request.into_inner();
        self.run(req.api_version, move |node| node.show_request(req, Now::current())).await
    }

    async fn approve(&self, request: Request<AdminApproveRequest>) -> Result<Response<Decision>, Status> {
        let operator = self.operator(&request, &request.get_ref().operator)?;
        let req = request.into_inner();
        self.run(req.api_version, move |node| node.approve(req, &operator, Now::current())).await
    }

    async fn reject(&self, request: Request<AdminRejectRequest>) -> Result<Response<Decision>, Status> {
        let operator = self.operator(&request, &request.get_ref().operator)?;
        let req = request.into_inner();
        self.run(req.api_version, move |node| node.reject(req, &operator, Now::current())).await
    }
}

/// Binds the admin socket at `path`: a stale socket is removed first, the
/// new one gets mode 0600 before anything is served. Returns the listener
/// and the uid owning the socket.
pub fn bind(path: &Path) -> Result<(UnixListener, u32), AdminError> {
    let io = |source| AdminError::Io { path: path.to_path_buf(), source };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path).map_err(io)?,
        Ok(_) => return Err(AdminError::NotASocket(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    let owner_uid = std::fs::metadata(path).map_err(io)?.uid();
    Ok((listener, owner_uid))
}

/// Serves the admin API on `listener` (from [`bind`], at `path`) until
/// `shutdown` completes, then removes the socket file.
pub async fn serve(
    node: Arc<Node>,
    listener: UnixListener,
    owner_uid: u32,
    path: &Path,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AdminError> {
    let server = SignerAdminServer::new(AdminService::new(node, owner_uid))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let result = tonic::transport::Server::builder()
        .add_service(server)
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), shutdown)
        .await
        .map_err(|source| AdminError::Transport { path: path.to_path_buf(), source });
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!("removing admin socket {}: {e}", path.display());
    }
    result
}
