//! A zone key's role on the command line and in output.

use frostzone_proto::v1::KeyRole;

/// A key's role on the command line.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Role {
    /// Key-signing key (DNSKEY flags 257): signs the DNSKEY RRset.
    Ksk,
    /// Zone-signing key (flags 256): signs everything else.
    Zsk,
    /// Combined signing key (flags 257): signs everything.
    Csk,
}

impl From<Role> for KeyRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Ksk => KeyRole::Ksk,
            Role::Zsk => KeyRole::Zsk,
            Role::Csk => KeyRole::Csk,
        }
    }
}

/// "KSK", "ZSK" or "CSK".
pub fn role_name(role: i32) -> &'static str {
    match KeyRole::try_from(role) {
        Ok(KeyRole::Ksk) => "KSK",
        Ok(KeyRole::Zsk) => "ZSK",
        Ok(KeyRole::Csk) => "CSK",
        _ => "?",
    }
}
