//! `frostzone keys`: zone keys held by the signer nodes — generate by DKG,
//! import an existing key, refresh or remove a key's shares, list.
//! Generation, import, refresh and removal are key ceremonies every signer
//! approves first (by its policy or through its operator); an import is checked against this
//! operator's own copy of the roster before any share is encrypted.

use std::path::PathBuf;

use anyhow::{bail, Context};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use frostzone_proto::roster::Roster;
use frostzone_proto::statement::Statement;
use frostzone_proto::v1::{
    EncryptedShare, GenerateKeyRequest, ImportKeyBeginRequest, ImportKeyBeginResponse, ImportKeyFinishRequest,
    KeyGroupInfo, KeyRole, ListKeysRequest, RefreshSharesRequest, RemoveKeyRequest, RepairShareRequest,
};
use frostzone_proto::API_VERSION;
use frostzone_threshold::frost;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::key_life_cycle as life_cycle;
pub use super::key_role::{role_name, Role};
use crate::client::{status_error, ClientArgs, CoordinatorApi};
use crate::table::Table;
use crate::Outcome;

/// Zone keys: generate, import, remove, list; rollovers and their status.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    Generate(GenerateArgs),
    Import(ImportArgs),
    Remove(RemoveArgs),
    Refresh(RefreshArgs),
    Repair(RepairArgs),
    List(ListArgs),
    Rollover(life_cycle::RolloverArgs),
    Rekey(life_cycle::RekeyArgs),
    Status(life_cycle::StatusArgs),
    DsSeen(life_cycle::DsSeenArgs),
}

/// Generate a new zone key by distributed key generation across the
/// signers (no party ever holds the whole key). Every signer approves the
/// ceremony first: by its policy (`key_ceremonies = "auto"`) or through its
/// operator (`frostzone pending` / `approve` on its host).
#[derive(clap::Args)]
pub struct GenerateArgs {
    /// The zone, e.g. example.com.
    #[arg(long)]
    zone: String,
    /// The key's role.
    #[arg(long, value_enum)]
    role: Role,
    /// How long to wait for every signer's approval (0: the coordinator's
    /// approval_timeout_secs).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    approval_timeout: u32,
}

/// Remove every share of a key from the signers (each approves first). A
/// key still in the zone's published DNSKEY RRset is refused: roll it out
/// of the zone before.
#[derive(clap::Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    key: KeyCeremonyArgs,
}

/// A zone's key, and how long its ceremony waits for the signers'
/// approvals.
#[derive(clap::Args)]
pub struct KeyCeremonyArgs {
    /// The zone, e.g. example.com.
    #[arg(long)]
    pub zone: String,
    /// The key's tag.
    #[arg(long)]
    pub key_tag: u16,
    /// How long to wait for the signers' approvals (0: the coordinator's
    /// approval_timeout_secs).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub approval_timeout: u32,
}

/// Refresh every signer's share of a key: the key, its DNSKEY and DS stay
/// the same, every share changes, and the old shares are deleted once
/// every holder confirmed (a share stolen before no longer combines with
/// shares taken after). Every holder approves first (`share_refresh` in
/// its policy). Finishes a refresh the coordinator left half-committed.
#[derive(clap::Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    key: KeyCeremonyArgs,
}

/// Rebuild one signer's lost share of a key from t other holders (frost's
/// repairable threshold scheme): the key, its DNSKEY and every other share
/// stay. The signer must be up with its identity (its roster entry) and
/// hold no share of the key, e.g. restored from a backup older than the
/// key. A signer new to every roster (same t) that never held a share
/// joins the key this way, with every holder helping. The helpers and the
/// signer approve first (`key_ceremonies`).
#[derive(clap::Args)]
pub struct RepairArgs {
    #[command(flatten)]
    key: KeyCeremonyArgs,
    /// The signer whose share is rebuilt (its name in the coordinator's
    /// [[signers]]).
    #[arg(long)]
    signer: String,
}

/// Import an existing Ed25519 key (BIND/ldns .private file): it is split
/// here into one share per signer, each encrypted to that signer, and the
/// published DNSKEY and DS stay the same. Destroy the file afterwards.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The zone, e.g. example.com.
    #[arg(long)]
    zone: String,
    /// The key file (K<zone>+015+<tag>.private).
    #[arg(long, value_name = "FILE.private")]
    private: PathBuf,
    /// The key's role.
    #[arg(long, value_enum, default_value = "ksk")]
    role: Role,
    /// This operator's copy of the roster (every signer's identity key and
    /// t): each signer's encryption key must be signed by the identity
    /// listed here. Default: roster.toml in --tls-dir.
    #[arg(long, env = "FROSTZONE_ROSTER", value_name = "FILE")]
    roster: Option<PathBuf>,
    /// How long to wait for every signer's approval (0: the coordinator's
    /// approval_timeout_secs).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    approval_timeout: u32,
}

/// List the zone keys the coordinator knows.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Only this zone's keys.
    #[arg(long)]
    zone: Option<String>,
}

pub fn execute(args: Args, client: ClientArgs) -> anyhow::Result<Outcome> {
    crate::client::runtime()?.block_on(async move {
        let mut coordinator = client.connect().await?;
        match args.command {
            Command::Generate(a) => {
                eprintln!("asking every signer to approve a DKG of a new {} for {} (their policy, or their operators with `frostzone approve`)", role_name(KeyRole::from(a.role).into()), a.zone);
                let key = generate_waiting(&mut coordinator, &a.zone, a.role.into(), a.approval_timeout).await?;
                println!("{}", describe_key(&key));
                println!("{}", key.dnskey);
            }
            Command::Import(a) => {
                let roster = match &a.roster {
                    Some(file) => file.clone(),
                    None => client.tls_dir.as_ref().map(|d| d.join("roster.toml")).context(
                        "no roster: give --roster FILE (or FROSTZONE_ROSTER), or put roster.toml in --tls-dir",
                    )?,
                };
                let roster = Roster::load(&roster).map_err(|e| anyhow::anyhow!("{e}"))?;
                import(&mut coordinator, &a, &roster).await?
            }
            Command::Remove(a) => remove(&mut coordinator, &a).await?,
            Command::Refresh(a) => refresh(&mut coordinator, &a).await?,
            Command::Repair(a) => repair(&mut coordinator, &a).await?,
            Command::List(a) => {
                let keys = list(&mut coordinator, a.zone.as_deref().unwrap_or("")).await?;
                print!("{}", keys_table(&keys));
            }
            Command::Rollover(a) => {
                eprintln!("publishing the standby {} of {} (the signers approve this step like any signing request)", role_name(KeyRole::from(a.role).into()), a.zone);
                print!("{}", life_cycle::status_text(&life_cycle::rollover(&mut coordinator, &a).await?));
            }
            Command::Rekey(a) => print!("{}", life_cycle::status_text(&rekey(&mut coordinator, &a).await?)),
            Command::Status(a) => {
                let s = life_cycle::status(&mut coordinator, &a.zone).await?;
                if a.json {
                    println!("{}", serde_json::to_string_pretty(&life_cycle::status_json(&s))?);
                } else {
                    print!("{}", life_cycle::status_text(&s));
                }
            }
            Command::DsSeen(a) => print!("{}", life_cycle::status_text(&life_cycle::ds_seen(&mut coordinator, &a).await?)),
        }
        Ok(Outcome::Success)
    })
}

/// Runs a DKG for a new key of `zone`, with the coordinator's approval
/// timeout.
pub async fn generate(coordinator: &mut CoordinatorApi, zone: &str, role: KeyRole) -> anyhow::Result<KeyGroupInfo> {
    generate_waiting(coordinator, zone, role, 0).await
}

/// Runs a DKG for a new key of `zone`, waiting up to `approval_timeout`
/// seconds (0: the coordinator's) for the signers to approve it.
pub async fn generate_waiting(coordinator: &mut CoordinatorApi, zone: &str, role: KeyRole, approval_timeout: u32) -> anyhow::Result<KeyGroupInfo> {
    let request = GenerateKeyRequest {
        api_version: API_VERSION,
        zone: zone.to_string(),
        role: role.into(),
        approval_timeout_secs: approval_timeout,
    };
    let key = coordinator
        .generate_key(request)
        .await
        .map_err(status_error)
        .with_context(|| format!("key generation for {zone} failed"))?
        .into_inner();
    Ok(key)
}

/// `keys rekey`: the new key made, then its rollover started.
async fn rekey(coordinator: &mut CoordinatorApi, a: &life_cycle::RekeyArgs) -> anyhow::Result<frostzone_proto::v1::KeyStatusResponse> {
    let role = frostzone_proto::v1::KeyRole::from(a.role);
    eprintln!("making a new {} of {} by DKG among the current signers (each approves the ceremony)", role_name(role.into()), a.zone);
    let key = generate_waiting(coordinator, &a.zone, role, a.approval_timeout).await?;
    println!("{}", describe_key(&key));
    eprintln!("rolling it in: publishing key tag {} (the signers approve this step like any signing request)", key.key_tag);
    let key_tag = u16::try_from(key.key_tag).context("the new key's tag is not 16 bits")?;
    let roll = life_cycle::RolloverArgs { zone: a.zone.clone(), role: a.role, key_tag: Some(key_tag), approval_timeout: a.approval_timeout };
    life_cycle::rollover(coordinator, &roll).await.with_context(|| format!("key tag {key_tag} was made but its rollover did not start; start it with `frostzone keys rollover --zone {} --key-tag {key_tag}`", a.zone))
}

/// The coordinator's keys, of one zone or (`""`) all.
pub async fn list(coordinator: &mut CoordinatorApi, zone: &str) -> anyhow::Result<Vec<KeyGroupInfo>> {
    let request = ListKeysRequest { api_version: API_VERSION, zone: zone.to_string() };
    Ok(coordinator.list_keys(request).await.map_err(status_error).context("listing keys failed")?.into_inner().keys)
}

/// One line about a key group.
pub fn describe_key(key: &KeyGroupInfo) -> String {
    format!(
        "{} {} key tag {}: {} of {} ({})",
        key.zone,
        role_name(key.role),
        key.key_tag,
        key.threshold,
        key.signers.len(),
        key.signers.join(", ")
    )
}

/// Key groups as a table.
pub fn keys_table(keys: &[KeyGroupInfo]) -> String {
    let mut table = Table::new(&["ZONE", "ROLE", "TAG", "QUORUM", "PUBLIC KEY", "SHARES REFRESHED", "SIGNERS"]);
    for k in keys {
        let refreshed = match u32::try_from(k.refreshed_unix) {
            Ok(0) => "never".to_string(),
            Ok(t) => frostzone_dnssec::time::format_timestamp(t),
            Err(_) => k.refreshed_unix.to_string(),
        };
        table.row(vec![
            k.zone.clone(),
            role_name(k.role).to_string(),
            k.key_tag.to_string(),
            format!("{} of {}", k.threshold, k.signers.len()),
            hex::encode(&k.group_public_key),
            refreshed,
            k.signers.join(","),
        ]);
    }
    if table.is_empty() {
        "no keys\n".to_string()
    } else {
        table.render()
    }
}

/// Domain separation for the share encryption key (see [`seal_share`]).
const IMPORT_KDF_LABEL: &[u8] = b"frostzone import v1";

/// Octets of the nonce in front of the ciphertext.
const NONCE_LEN: usize = 12;

/// Encrypts a serialized KeyPackage to a signer's one-time X25519 key, as
/// the signer node opens it (signer-node/src/envelope.rs): an ephemeral
/// X25519 key of ours, key = SHA-256("frostzone import v1" || session_id ||
/// X25519 shared secret), ChaCha20-Poly1305 without associated data, and
/// the envelope `nonce (12 random octets) || ciphertext || tag`. Both X25519
/// keys are used once, so the AEAD key is too. Returns (sender public key,
/// envelope).
pub fn seal_share(session_id: &[u8], recipient: &[u8], plaintext: &[u8]) -> anyhow::Result<([u8; 32], Vec<u8>)> {
    let recipient: [u8; 32] =
        recipient.try_into().map_err(|_| anyhow::anyhow!("a signer's encryption key is not 32 bytes"))?;
    let ephemeral = x25519_dalek::EphemeralSecret::random_from_rng(rand::rngs::OsRng);
    let sender = x25519_dalek::PublicKey::from(&ephemeral);
    let shared = ephemeral.diffie_hellman(&x25519_dalek::PublicKey::from(recipient));
    if !shared.was_contributory() {
        bail!("a signer's encryption key is a low-order point");
    }
    let mut hasher = Sha256::new();
    hasher.update(IMPORT_KDF_LABEL);
    hasher.update(session_id);
    hasher.update(shared.as_bytes());
    let key = Zeroizing::new(<[u8; 32]>::from(hasher.finalize()));
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key.as_slice()));
    let mut nonce = [0u8; NONCE_LEN];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), plaintext)
        .map_err(|_| anyhow::anyhow!("share encryption failed"))?;
    let mut envelope = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    envelope.extend_from_slice(&nonce);
    envelope.extend_from_slice(&ciphertext);
    Ok((sender.to_bytes(), envelope))
}

/// Removes every share of a key.
async fn remove(coordinator: &mut CoordinatorApi, args: &RemoveArgs) -> anyhow::Result<()> {
    let zone = &args.key.zone;
    eprintln!("asking the signers holding key tag {} of {zone} to approve its removal", args.key.key_tag);
    let request = RemoveKeyRequest {
        api_version: API_VERSION,
        zone: zone.clone(),
        key_tag: args.key.key_tag.into(),
        approval_timeout_secs: args.key.approval_timeout,
    };
    let done = coordinator
        .remove_key(request)
        .await
        .map_err(status_error)
        .with_context(|| format!("removal of key tag {} of {zone} failed", args.key.key_tag))?
        .into_inner();
    println!("request {}: shares removed by {}", done.request_id, if done.removed.is_empty() { "none".into() } else { done.removed.join(", ") });
    for kept in &done.kept {
        println!("kept: {kept}");
    }
    if done.unregistered {
        println!("key tag {} of {zone} is gone: no signer holds a share of it", args.key.key_tag);
    } else if !done.kept.is_empty() {
        anyhow::bail!("key tag {} of {zone}: {} signers still hold a share; run the removal again once they approve", args.key.key_tag, done.kept.len());
    }
    Ok(())
}

/// Refreshes every share of a key.
async fn refresh(coordinator: &mut CoordinatorApi, args: &RefreshArgs) -> anyhow::Result<()> {
    let zone = &args.key.zone;
    eprintln!(
        "asking every signer holding key tag {} of {zone} to approve a share refresh (their policy, or their operators with `frostzone approve`)",
        args.key.key_tag
    );
    let request = RefreshSharesRequest {
        api_version: API_VERSION,
        zone: zone.clone(),
        key_tag: args.key.key_tag.into(),
        approval_timeout_secs: args.key.approval_timeout,
    };
    let done = coordinator
        .refresh_shares(request)
        .await
        .map_err(status_error)
        .with_context(|| format!("share refresh of key tag {} of {zone} failed", args.key.key_tag))?
        .into_inner();
    let how = if done.resumed { "an interrupted refresh finished" } else { "refreshed" };
    println!("request {}: key tag {} of {zone}: shares {how} on {}; the key is unchanged", done.request_id, args.key.key_tag, done.signers.join(", "));
    if let Some(key) = &done.key {
        println!("{}", key.dnskey);
    }
    Ok(())
}

/// Rebuilds a signer's lost share.
async fn repair(coordinator: &mut CoordinatorApi, args: &RepairArgs) -> anyhow::Result<()> {
    let zone = &args.key.zone;
    eprintln!("asking {} and t other holders of key tag {} of {zone} to approve a share repair", args.signer, args.key.key_tag);
    let request = RepairShareRequest {
        api_version: API_VERSION,
        zone: zone.clone(),
        key_tag: args.key.key_tag.into(),
        signer: args.signer.clone(),
        approval_timeout_secs: args.key.approval_timeout,
    };
    let done = coordinator
        .repair_share(request)
        .await
        .map_err(status_error)
        .with_context(|| format!("repair of {}'s share of key tag {} of {zone} failed", args.signer, args.key.key_tag))?
        .into_inner();
    let how = if done.joined { "made (it joined the key)" } else { "repaired" };
    println!(
        "request {}: {}'s share of key tag {} of {zone} {how} by {}; the key is unchanged",
        done.request_id,
        args.signer,
        args.key.key_tag,
        done.helpers.join(", ")
    );
    if let Some(key) = &done.key {
        println!("{}", key.dnskey);
    }
    Ok(())
}

/// Checks what the coordinator handed out for an import against this
/// operator's roster: the group is exactly the roster's (t and every
/// participant), and each encryption key is signed by the identity key the
/// roster lists for its signer, over this session, zone and role. Returns
/// the keys with their identifiers, in roster order. A coordinator that
/// substitutes a key of its own (and would read that share) is caught
/// here, before anything is encrypted.
pub fn check_import_keys<'a>(
    roster: &Roster,
    begin: &'a ImportKeyBeginResponse,
    zone: &str,
    role: KeyRole,
    group_public_key: &[u8],
) -> anyhow::Result<Vec<(&'a frostzone_proto::v1::SignerEncryptionKey, frost::Identifier)>> {
    if begin.threshold != u32::from(roster.threshold) {
        bail!(
            "the coordinator asks for a {}-of-{} group, the roster {} says {}-of-{}: not importing",
            begin.threshold,
            begin.signers.len(),
            roster.file.display(),
            roster.threshold,
            roster.len()
        );
    }
    let participants = roster.identifiers();
    let mut out = Vec::with_capacity(participants.len());
    for member in roster.members() {
        let matching: Vec<_> = begin
            .signers
            .iter()
            .filter(|s| s.participant.as_ref().is_some_and(|p| frost::Identifier::deserialize(&p.id).ok() == Some(member.identifier)))
            .collect();
        let [key] = matching.as_slice() else {
            bail!(
                "the coordinator gave {} encryption keys for {} (participant {}), the roster lists it once: not importing",
                matching.len(),
                member.name,
                member.participant
            );
        };
        let statement = Statement::ImportKey {
            session_id: &begin.session_id,
            zone,
            role: role.into(),
            threshold: roster.threshold,
            participants: &participants,
            group_public_key,
            participant: &member.identifier,
            encryption_key: &key.encryption_key,
        };
        roster.verify(&member.identifier, &statement, &key.signature).map_err(|e| {
            anyhow::anyhow!(
                "the encryption key for {} is not signed by its identity key in {} ({e}): the coordinator may have \
                 substituted its own; not importing",
                member.name,
                roster.file.display()
            )
        })?;
        out.push((*key, member.identifier));
    }
    if begin.signers.len() != out.len() {
        bail!("the coordinator gave keys for {} signers, the roster lists {}: not importing", begin.signers.len(), out.len());
    }
    Ok(out)
}

async fn import(coordinator: &mut CoordinatorApi, args: &ImportArgs, roster: &Roster) -> anyhow::Result<()> {
    let zone = frostzone_dnssec::name::ZoneName::parse(&args.zone).map_err(|e| anyhow::anyhow!("--zone: {e}"))?.into_text();
    let zone = &zone;
    // The error's message already names the file and the cause: keep it one line.
    let seed = frostzone_dnssec::keyfile::read_ed25519_private(&args.private).map_err(|e| anyhow::anyhow!("{e}"))?;
    let role: KeyRole = args.role.into();
    let original = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    let key_role = match args.role {
        Role::Ksk => frostzone_dnssec::keys::KeyRole::Ksk,
        Role::Zsk => frostzone_dnssec::keys::KeyRole::Zsk,
        Role::Csk => frostzone_dnssec::keys::KeyRole::Csk,
    };
    eprintln!(
        "the key: {} key tag {}, public key {} (tell the signers' operators, who approve its import)",
        role_name(role.into()),
        frostzone_dnssec::keys::ZoneKey::ed25519(key_role, original.to_bytes()).key_tag(),
        hex::encode(original.as_bytes())
    );
    eprintln!(
        "asking every signer to approve the import of a {} for {zone} (roster {}: {}-of-{}, fingerprint {})",
        role_name(role.into()),
        roster.file.display(),
        roster.threshold,
        roster.len(),
        roster.fingerprint()
    );
    let begin = coordinator
        .import_key_begin(ImportKeyBeginRequest {
            api_version: API_VERSION,
            zone: zone.clone(),
            role: role.into(),
            approval_timeout_secs: args.approval_timeout,
            group_public_key: original.to_bytes().to_vec(),
        })
        .await
        .map_err(status_error)
        .with_context(|| format!("key import for {zone} failed"))?
        .into_inner();
    let checked = check_import_keys(roster, &begin, zone, role, original.as_bytes())?;
    let threshold = roster.threshold;
    let max_signers = u16::try_from(checked.len()).context("too many signers")?;
    let identifiers: Vec<frost::Identifier> = checked.iter().map(|(_, id)| *id).collect();

    // RFC 8032 §5.1.5: the secret scalar is the clamped lower half of
    // SHA-512(seed); FROST shares that scalar, so the group key is the
    // file's public key.
    let signing_key = {
        let expanded = ed25519_dalek::hazmat::ExpandedSecretKey::from(&*seed);
        let scalar = Zeroizing::new(expanded.scalar.to_bytes());
        frost::SigningKey::deserialize(scalar.as_slice()).context("the key's scalar is not a valid FROST signing key")?
    };
    let (mut shares, public) = frost::keys::split(
        &signing_key,
        max_signers,
        threshold,
        frost::keys::IdentifierList::Custom(&identifiers),
        &mut rand::rngs::OsRng,
    )
    .context("cannot split the key")?;
    drop(signing_key);
    let group = public.verifying_key().serialize().context("cannot encode the group key")?;
    if group.as_slice() != original.as_bytes() {
        bail!("the split key's group key differs from the public key of {}", args.private.display());
    }

    let mut encrypted = Vec::with_capacity(checked.len());
    for (s, id) in checked.iter().map(|(s, id)| (*s, id)) {
        let share = shares.remove(id).with_context(|| format!("no share made for {}", s.signer))?;
        let package = frost::keys::KeyPackage::try_from(share).context("a share does not verify")?;
        let plaintext = Zeroizing::new(package.serialize().context("cannot encode a key package")?);
        let (sender_key, ciphertext) = seal_share(&begin.session_id, &s.encryption_key, &plaintext)
            .with_context(|| format!("cannot encrypt the share for {}", s.signer))?;
        encrypted.push(EncryptedShare { signer: s.signer.clone(), sender_key: sender_key.to_vec(), ciphertext });
    }
    let request = ImportKeyFinishRequest {
        api_version: API_VERSION,
        session_id: begin.session_id.clone(),
        zone: zone.clone(),
        role: role.into(),
        public_key_package: public.serialize().context("cannot encode the public key package")?,
        shares: encrypted,
    };
    let key = coordinator
        .import_key_finish(request)
        .await
        .map_err(status_error)
        .with_context(|| format!("key import for {zone} failed"))?
        .into_inner();
    println!("imported {}", describe_key(&key));
    println!("{}", key.dnskey);
    eprintln!();
    eprintln!("WARNING: every signer now holds its share of this key. {} still holds the WHOLE key:", args.private.display());
    eprintln!("WARNING: destroy it (and every backup and copy) now, or the threshold protects nothing.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use frostzone_proto::roster::IdentityKey;
    use frostzone_proto::v1::{ParticipantId, SignerEncryptionKey};

    fn identity(k: u16) -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[k as u8 + 10; 32])
    }

    fn roster() -> Roster {
        let members: Vec<_> = (1..=3u16).map(|k| (k, format!("signer-{k}"), IdentityKey(identity(k).verifying_key()))).collect();
        Roster::parse(&Roster::to_toml(2, &members), std::path::Path::new("roster.toml")).unwrap()
    }

    /// The public key being imported.
    const IMPORTED: [u8; 32] = [7; 32];

    /// What honest signers hand out for an import of a KSK of example.
    fn begin(roster: &Roster) -> ImportKeyBeginResponse {
        let session_id = b"0123456789abcdef".to_vec();
        let ids = roster.identifiers();
        let signers = roster
            .members()
            .map(|m| {
                let key = [m.participant as u8; 32];
                let statement = Statement::ImportKey {
                    session_id: &session_id,
                    zone: "example.",
                    role: KeyRole::Ksk.into(),
                    threshold: 2,
                    participants: &ids,
                    group_public_key: &IMPORTED,
                    participant: &m.identifier,
                    encryption_key: &key,
                };
                SignerEncryptionKey {
                    signer: m.name.clone(),
                    participant: Some(ParticipantId { id: m.identifier.serialize() }),
                    encryption_key: key.to_vec(),
                    signature: statement.sign(&identity(m.participant)),
                }
            })
            .collect();
        ImportKeyBeginResponse { session_id, threshold: 2, signers, request_id: "00".into() }
    }

    #[test]
    fn import_keys_are_checked_against_the_roster() {
        let roster = roster();
        let good = begin(&roster);
        assert_eq!(check_import_keys(&roster, &good, "example.", KeyRole::Ksk, &IMPORTED).unwrap().len(), 3);
        // Another zone or role than the signers signed for.
        assert!(check_import_keys(&roster, &good, "example.net.", KeyRole::Ksk, &IMPORTED).is_err());
        assert!(check_import_keys(&roster, &good, "example.", KeyRole::Zsk, &IMPORTED).is_err());
        // Signers that approved the import of another key (one the coordinator holds).
        assert!(check_import_keys(&roster, &good, "example.", KeyRole::Ksk, &[8; 32]).is_err());
        type Tamper = Box<dyn Fn(&mut ImportKeyBeginResponse)>;
        let cases: Vec<(&str, Tamper)> = vec![
            ("not signed by its identity key", Box::new(|b| b.signers[1].encryption_key = vec![9; 32])),
            ("the roster", Box::new(|b| b.threshold = 3)),
            ("the roster lists it once", Box::new(|b| {
                b.signers.pop();
            })),
            ("the roster lists it once", Box::new(|b| {
                let twice = b.signers[0].clone();
                b.signers.push(twice);
            })),
            ("not signed by its identity key", Box::new(|b| b.session_id[0] ^= 1)),
        ];
        for (expected, tamper) in cases {
            let mut lie = begin(&roster);
            tamper(&mut lie);
            let err = check_import_keys(&roster, &lie, "example.", KeyRole::Ksk, &IMPORTED).unwrap_err().to_string();
            assert!(err.contains(expected) && err.contains("not importing"), "{expected}: {err}");
        }
    }

    /// The decrypt side as the signer runs it, to pin the construction.
    #[test]
    fn sealed_share_opens_with_the_recipients_secret() {
        let secret = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
        let public = x25519_dalek::PublicKey::from(&secret);
        let session = b"0123456789abcdef";
        let (sender, ct) = seal_share(session, public.as_bytes(), b"key package").unwrap();
        let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(sender));
        let mut h = Sha256::new();
        h.update(IMPORT_KDF_LABEL);
        h.update(session);
        h.update(shared.as_bytes());
        let key: [u8; 32] = h.finalize().into();
        let (nonce, body) = ct.split_at(NONCE_LEN);
        let pt = ChaCha20Poly1305::new(Key::from_slice(&key)).decrypt(Nonce::from_slice(nonce), body).unwrap();
        assert_eq!(pt, b"key package");
    }
}
