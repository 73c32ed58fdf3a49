//! `frostzone certs init`: a development CA and every certificate a
//! cluster needs (rcgen).
//!
//! For development and testing only: the CA key sits on disk next to the
//! certificates it issued. A production deployment uses the operator's own
//! PKI (see docs/operations.md); frostzone only needs PEM files.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose,
};

use crate::Outcome;

/// Certificate management.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    Init(InitArgs),
}

/// Make a development CA and certificates for a coordinator, N signers and
/// an operator. FOR DEVELOPMENT AND TESTING ONLY: the CA key is written
/// beside the certificates; production uses the operator's own PKI.
///
/// Writes ca.pem/ca.key, coordinator.pem/.key (DNS name "coordinator";
/// server and client), signer-K.pem/.key for K = 1..N (DNS name
/// "signer-K"; server), operator.pem/.key (DNS name "operator"; client),
/// prometheus.pem/.key (DNS name "prometheus"; client: it scrapes the
/// daemons' /metrics endpoints over mutual TLS).
/// Private keys get mode 0600.
#[derive(clap::Args)]
pub struct InitArgs {
    /// Directory to write into (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// How many signer certificates to make.
    #[arg(long, default_value_t = 5)]
    signers: u16,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

pub fn execute(args: Args) -> anyhow::Result<Outcome> {
    match args.command {
        Command::Init(a) => {
            let written = init(&a.dir, a.signers, a.force)?;
            eprintln!("warning: this is a development CA for testing; production uses the operator's own PKI");
            println!("wrote {} files to {}", written.len(), a.dir.display());
            Ok(Outcome::Success)
        }
    }
}

/// What a certificate is for.
#[derive(Clone, Copy)]
enum Usage {
    /// TLS server (a signer).
    Server,
    /// TLS client (an operator).
    Client,
    /// Both (the coordinator serves the CLI and calls the signers).
    ServerAndClient,
}

/// The parties of a cluster with `signers` signers, as (file stem and DNS
/// name, usage).
fn parties(signers: u16) -> Vec<(String, Usage)> {
    let mut out = vec![("coordinator".to_string(), Usage::ServerAndClient)];
    out.extend((1..=signers).map(|k| (format!("signer-{k}"), Usage::Server)));
    out.push(("operator".to_string(), Usage::Client));
    out.push(("prometheus".to_string(), Usage::Client));
    out
}

/// Writes the CA and every certificate into `dir`; returns the files.
/// Refuses to overwrite any existing file unless `force`, checking all of
/// them before writing one.
pub fn init(dir: &Path, signers: u16, force: bool) -> anyhow::Result<Vec<PathBuf>> {
    if signers == 0 {
        bail!("--signers must be at least 1");
    }
    let parties = parties(signers);
    let mut stems = vec!["ca".to_string()];
    stems.extend(parties.iter().map(|(name, _)| name.clone()));
    let files: Vec<PathBuf> = stems
        .iter()
        .flat_map(|s| [dir.join(format!("{s}.pem")), dir.join(format!("{s}.key"))])
        .collect();
    if !force {
        let existing: Vec<String> = files.iter().filter(|f| f.exists()).map(|f| f.display().to_string()).collect();
        if !existing.is_empty() {
            bail!("refusing to overwrite {} (use --force)", existing.join(", "));
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;

    let ca_key = KeyPair::generate().context("cannot generate the CA key")?;
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = distinguished_name("frostzone development CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).context("cannot make the CA certificate")?;
    write_public(&dir.join("ca.pem"), &ca_cert.pem())?;
    write_private(&dir.join("ca.key"), &ca_key.serialize_pem())?;
    let issuer = Issuer::new(ca_params, ca_key);

    for (name, usage) in &parties {
        let key = KeyPair::generate().with_context(|| format!("cannot generate the key for {name}"))?;
        let mut params = CertificateParams::new(vec![name.clone()])
            .with_context(|| format!("{name:?} is not a valid DNS name"))?;
        params.distinguished_name = distinguished_name(name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = match usage {
            Usage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Usage::ServerAndClient => {
                vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth]
            }
        };
        let cert = params
            .signed_by(&key, &issuer)
            .with_context(|| format!("cannot sign the certificate for {name}"))?;
        write_public(&dir.join(format!("{name}.pem")), &cert.pem())?;
        write_private(&dir.join(format!("{name}.key")), &key.serialize_pem())?;
    }
    Ok(files)
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn write_public(path: &Path, pem: &str) -> anyhow::Result<()> {
    std::fs::write(path, pem).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes a secret (a private key, a passphrase) readable by its owner only.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    #[cfg(unix)]
    {
        // An existing file (--force) keeps its old mode through open().
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict the permissions of {}", path.display()))?;
    }
    file.write_all(contents.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_every_file_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let files = init(dir.path(), 2, false).unwrap();
        assert_eq!(files.len(), 12);
        assert!(files.iter().all(|f| f.is_file()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("signer-2.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = init(dir.path(), 2, false).unwrap_err().to_string();
        assert!(err.contains("refusing to overwrite"), "{err}");
        init(dir.path(), 2, true).unwrap();
    }
}
