//! What the transfer server, its gate and the XFR data provider share:
//! the version of each zone served now, the secondaries and the primary.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use domain::base::ToName;
use domain::tsig::Key;
use domain::zonetree::Zone;
use frostzone_dnssec::name::CanonicalName;
use frostzone_dnssec::StoredRecord;

use super::journal::Journal;
use super::notify::Notifier;
use super::primary::PrimarySource;
use super::snapshot::ZoneSnapshot;
use crate::config::transfer::SecondaryConfig;

/// A version as served: snapshot for AXFR and SOA, journal for IXFR.
#[derive(Debug)]
pub struct PublishedZone {
    pub(super) snapshot: Arc<ZoneSnapshot>,
    pub(super) zone: Zone,
    pub(super) journal: Journal,
}

impl PublishedZone {
    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        self.snapshot.serial()
    }

    /// Every record of the version (persist these and [`Self::journal`]
    /// to rebuild it with [`super::TransferServer::restore`]).
    pub fn records(&self) -> Vec<StoredRecord> {
        self.snapshot.records()
    }

    /// The change sets IXFR is served from.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }
}

/// What the gate and the XFR data provider share.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) zones: RwLock<HashMap<CanonicalName, Arc<PublishedZone>>>,
    pub(super) secondaries: Vec<SecondaryConfig>,
    pub(super) journal_limit: usize,
    pub(super) notifier: Notifier,
    pub(super) primary: Option<PrimarySource>,
    /// One publication at a time, so each journal chains onto the version
    /// published just before.
    pub(super) publishing: tokio::sync::Mutex<()>,
}

impl Shared {
    /// The secondaries of the zone at `apex`, with the key NOTIFYs to them
    /// are signed with.
    pub(super) fn notify_targets(&self, apex: &impl ToName) -> Vec<(std::net::SocketAddr, Option<Arc<Key>>)> {
        self.secondaries.iter().filter(|s| s.serves(apex)).map(|s| (s.address, s.tsig_key.as_ref().map(|k| k.key.clone()))).collect()
    }

    pub(super) fn zone(&self, apex: &impl ToName) -> Option<Arc<PublishedZone>> {
        let name = CanonicalName(apex.to_name());
        // Poisoning cannot leave the map half-changed: it is only ever
        // changed by one `insert`.
        self.zones.read().unwrap_or_else(|e| e.into_inner()).get(&name).cloned()
    }

    /// RFC 5936 §4.1 wants transfers limited to authorised peers: the
    /// request must come from a secondary's IP, for a zone it is a
    /// secondary of, and, when it has a key, be signed with that key (TSIG
    /// was already verified by the middleware).
    pub(super) fn admit(&self, ip: IpAddr, key: Option<&Key>, zone: &impl ToName) -> Result<(), &'static str> {
        let mut entries = self.secondaries.iter().filter(|s| s.address.ip() == ip).peekable();
        if entries.peek().is_none() {
            return Err("not a configured secondary");
        }
        let mut entries = entries.filter(|s| s.serves(zone)).peekable();
        if entries.peek().is_none() {
            return Err("not a secondary of this zone (transfer.secondaries[].zones)");
        }
        let signed_right = |s: &SecondaryConfig| match &s.tsig_key {
            None => true,
            Some(k) => key.is_some_and(|used| used.name() == k.key.name()),
        };
        if entries.any(signed_right) {
            Ok(())
        } else {
            Err("not signed with the secondary's TSIG key")
        }
    }
}
