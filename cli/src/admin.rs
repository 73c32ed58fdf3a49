//! The connection to a signer's admin service: gRPC over the Unix socket
//! the signer serves for its own operator (mode 0600, beside its data, by
//! default `<data_dir>/admin.sock`). Nothing else can reach it: the
//! coordinator has no way to approve on a signer's behalf.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::client::error_chain;

/// Which signer to talk to (options of the admin commands).
#[derive(clap::Args, Clone, Debug)]
pub struct AdminArgs {
    /// The signer's admin socket: its config's `admin_socket`, by default
    /// <data_dir>/admin.sock.
    #[arg(long, env = "FROSTZONE_ADMIN_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

/// A connected admin client.
pub use frostzone_proto::admin_socket::Admin;

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

/// Connects to the admin service on the Unix socket `path`
/// ([`frostzone_proto::admin_socket::connect`]).
pub async fn connect(path: &Path) -> anyhow::Result<Admin> {
    Ok(frostzone_proto::admin_socket::connect(path).await?)
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
