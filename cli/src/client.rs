//! The connection to the coordinator shared by every networked command:
//! gRPC over mutual TLS with the operator's certificate.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use frostzone_proto::tls::TlsFiles;
use frostzone_proto::v1::coordinator_client::CoordinatorClient;
use frostzone_proto::MAX_MESSAGE_BYTES;
use tonic::transport::{Channel, Endpoint};

/// Where a coordinator listens when nothing else is said: the port
/// `quickstart` uses by default, on loopback.
pub const DEFAULT_COORDINATOR: &str = "https://127.0.0.1:7000";

/// The DNS name in the coordinator's certificate that `certs init` issues.
pub const DEFAULT_COORDINATOR_NAME: &str = "coordinator";

/// A connection attempt that has not completed in this time has failed:
/// the coordinator is on a LAN or loopback, not across the world.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach the coordinator (global options of networked commands).
#[derive(clap::Args, Clone, Debug)]
pub struct ClientArgs {
    /// The coordinator's URL.
    #[arg(long, global = true, env = "FROSTZONE_COORDINATOR", default_value = DEFAULT_COORDINATOR)]
    pub coordinator: String,
    /// Directory holding ca.pem, operator.pem and operator.key (the
    /// operator's client certificate).
    #[arg(long, global = true, env = "FROSTZONE_TLS_DIR", value_name = "DIR")]
    pub tls_dir: Option<PathBuf>,
    /// The DNS name the coordinator's certificate must carry.
    #[arg(long, global = true, default_value = DEFAULT_COORDINATOR_NAME, value_name = "NAME")]
    pub coordinator_name: String,
}

/// A connected coordinator client.
pub type CoordinatorApi = CoordinatorClient<Channel>;

impl ClientArgs {
    /// The operator's TLS files in `--tls-dir`.
    pub fn tls_files(&self) -> anyhow::Result<TlsFiles> {
        let dir = self.tls_dir.as_ref().context(
            "no TLS directory: give --tls-dir DIR (or set FROSTZONE_TLS_DIR) holding ca.pem, operator.pem and operator.key",
        )?;
        Ok(TlsFiles { ca: dir.join("ca.pem"), cert: dir.join("operator.pem"), key: dir.join("operator.key") })
    }

    /// Connects to the coordinator.
    pub async fn connect(&self) -> anyhow::Result<CoordinatorApi> {
        connect(&self.coordinator, &self.tls_files()?, &self.coordinator_name).await
    }
}

/// Connects to the coordinator at `url` with `tls`, checking that its
/// certificate names `server_name`.
pub async fn connect(url: &str, tls: &TlsFiles, server_name: &str) -> anyhow::Result<CoordinatorApi> {
    // The TLS error's message already holds its source: keep it one line.
    let tls_config = tls.client_config(server_name).map_err(|e| anyhow::anyhow!("{e}"))?;
    let channel = Endpoint::from_shared(url.to_string())
        .with_context(|| format!("--coordinator {url:?} is not a valid URL"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tls_config(tls_config)
        .with_context(|| format!("cannot set up TLS for {url}"))?
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the coordinator at {url}: {}", error_chain(&e)))?;
    Ok(CoordinatorClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// A `Status` from the coordinator as an error: its message is the
/// explanation ("quorum unavailable: ..."), the code only a fallback.
///
/// A status made on this side from a transport failure carries the cause
/// as its source. With TLS 1.3 the server checks a client certificate
/// after the handshake, so a refused operator certificate shows up here,
/// as a closed connection, rather than at connect time: say so.
pub fn status_error(status: tonic::Status) -> anyhow::Error {
    if let Some(source) = std::error::Error::source(&status) {
        return anyhow::anyhow!(
            "the connection to the coordinator failed ({}); if this persists, check that the \
             coordinator accepts this operator certificate",
            frostzone_proto::append_error_chain(status.message().to_string(), source)
        );
    }
    let message = status.message();
    if message.is_empty() {
        anyhow::anyhow!("the coordinator answered {:?}", status.code())
    } else {
        anyhow::anyhow!("{message}")
    }
}

pub use frostzone_proto::error_chain;

/// A single-threaded runtime for one command: the CLI waits on the
/// network, it does not compute.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
