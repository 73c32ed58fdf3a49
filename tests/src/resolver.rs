//! NSD serving a signed zone with a validating Unbound in front of it.
//!
//! Static validators miss defects that only show when an authoritative server answers from the
//! zone and a resolver checks the proofs it gets, so every denial mode is also tested this way.
//! Both daemons run in the foreground as children of the test, configured entirely inside a
//! temporary directory, and are killed when [`Resolver`] is dropped (also on panic).

use std::time::Duration;

use crate::dig::{dig, Answer};
use crate::nsd::{Nsd, NsdConfig, Role, TsigKey};
use crate::port::free_port;
use crate::signers::SignedZoneDir;
use crate::unbound::{Unbound, UnboundConfig};

/// How long NSD (a secondary included: it transfers the zone first) and Unbound get to answer.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// NSD authoritative for one signed zone plus Unbound validating it from a DS trust anchor.
pub struct Resolver {
    // Field order is drop order: kill Unbound, then NSD, then remove the directory.
    unbound: Unbound,
    nsd: Nsd,
    /// Configuration, zone copy, logs.
    pub dir: tempfile::TempDir,
    /// NSD's port.
    pub nsd_port: u16,
    /// Unbound's port.
    pub unbound_port: u16,
    origin: String,
}

impl Resolver {
    /// Starts NSD on `signed` and Unbound trusting its DS, and waits until both answer.
    pub fn start(signed: &SignedZoneDir) -> Resolver {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::copy(&signed.zone, dir.path().join("zone.signed")).expect("copy signed zone");
        Resolver::launch(dir, &signed.origin, &signed.ds_line(), None, "zone.signed", Role::Primary { provide_xfr: None }, Vec::new())
    }

    /// Starts NSD on `127.0.0.1:nsd_port` as a secondary of the primary at
    /// `127.0.0.1:primary_port` (`request-xfr`, and `allow-notify` from 127.0.0.1; with `tsig` =
    /// (name, base64 secret), both with that hmac-sha256 key), and Unbound trusting `ds_line`;
    /// waits until NSD has transferred the zone and answers for it, and Unbound answers.
    pub fn start_secondary(origin: &str, ds_line: &str, nsd_port: u16, primary_port: u16, tsig: Option<(&str, &str)>) -> Resolver {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys: Vec<TsigKey> =
            tsig.iter().map(|(name, secret)| TsigKey { name: name.to_string(), secret: secret.to_string() }).collect();
        let role = Role::Secondary { primary_port, key: keys.first().map(|k| k.name.clone()) };
        Resolver::launch(dir, origin, ds_line, Some(nsd_port), "secondary.zone", role, keys)
    }

    /// NSD (on `nsd_port`, or a free port) for `origin` from `zonefile` in `role`; Unbound
    /// trusting `ds_line`, stub to NSD.
    fn launch(
        dir: tempfile::TempDir,
        origin: &str,
        ds_line: &str,
        nsd_port: Option<u16>,
        zonefile: &str,
        role: Role,
        keys: Vec<TsigKey>,
    ) -> Resolver {
        let d = dir.path();
        let nsd_port = nsd_port.unwrap_or_else(free_port);
        let mut unbound_port = free_port();
        while unbound_port == nsd_port {
            unbound_port = free_port();
        }
        let origin = origin.to_string();
        let nsd_config = NsdConfig { port: nsd_port, zone: origin.clone(), zonefile: zonefile.to_string(), role, keys };
        let nsd = Nsd::start(d, &nsd_config);
        let unbound_config =
            UnboundConfig { port: unbound_port, ds: ds_line.to_string(), zone: origin.clone(), stub_port: nsd_port };
        let unbound = Unbound::start(d, &unbound_config);
        let mut resolver = Resolver { unbound, nsd, dir, nsd_port, unbound_port, origin };
        resolver.wait_ready();
        resolver
    }

    fn wait_ready(&mut self) {
        let started = std::time::Instant::now();
        self.nsd.wait_serving(READY_DEADLINE, || format!("\n--- unbound ---\n{}", self.unbound.logs()));
        let left = READY_DEADLINE.saturating_sub(started.elapsed());
        self.unbound.wait_answering(&self.origin, left, || self.nsd.logs());
    }

    /// Asks NSD directly (no recursion, DO bit set).
    pub fn query_nsd(&self, name: &str, rtype: &str) -> Answer {
        dig(self.nsd_port, name, rtype, false)
    }

    /// The SOA serial NSD serves, if it answers with one.
    pub fn nsd_serial(&self) -> Option<u32> {
        let a = self.query_nsd(&self.origin, "SOA");
        a.records("SOA").first().and_then(|r| r.2.split_whitespace().nth(2)).and_then(|s| s.parse().ok())
    }

    /// Asks Unbound (recursion desired, DO bit set).
    pub fn query(&self, name: &str, rtype: &str) -> Answer {
        dig(self.unbound_port, name, rtype, true)
    }

    /// Another validating Unbound over the same NSD, trusting `ds_line` (a resolver that has the
    /// parent's DS of another moment cached); it stops when dropped.
    pub fn view(&self, ds_line: &str) -> View {
        let port = free_port();
        let dir = self.dir.path().join(format!("view-{port}"));
        std::fs::create_dir_all(&dir).expect("create the view's directory");
        let config = UnboundConfig { port, ds: ds_line.to_string(), zone: self.origin.clone(), stub_port: self.nsd_port };
        let mut unbound = Unbound::start(&dir, &config);
        unbound.wait_answering(&self.origin, READY_DEADLINE, || self.nsd.logs());
        View { unbound, port }
    }

    /// NSD's and Unbound's logs, for failure messages.
    pub fn logs(&self) -> String {
        format!("{}\n--- unbound ---\n{}", self.nsd.logs(), self.unbound.logs())
    }
}

/// A further validating Unbound over a [`Resolver`]'s NSD ([`Resolver::view`]).
pub struct View {
    unbound: Unbound,
    port: u16,
}

impl View {
    /// Asks this Unbound (recursion desired, DO bit set).
    pub fn query(&self, name: &str, rtype: &str) -> Answer {
        dig(self.port, name, rtype, true)
    }

    /// Its log, for failure messages.
    pub fn logs(&self) -> String {
        self.unbound.logs()
    }
}
