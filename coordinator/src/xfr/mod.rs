//! Zone transfers: the coordinator as a stage of the zone pipeline.
//!
//! ```text
//! hidden primary --NOTIFY--> TransferServer --> PrimarySource --SOA, IXFR/AXFR--> hidden primary
//!                                                    |
//!                                                    v Transfer (Full | Changes), channel
//!                                              coordinator signs
//!                                                    |
//!                                                    v TransferServer::publish(records, change set)
//! secondaries <--NOTIFY-- TransferServer <--SOA, IXFR/AXFR-- secondaries
//! ```
//!
//! * Outgoing, we are the primary of our secondaries ([`TransferServer`]):
//!   SOA queries, AXFR (RFC 5936) and IXFR (RFC 1995) over TCP (IXFR over
//!   UDP when it fits, RFC 1995 §2), from the published snapshot of each
//!   signed zone and its [`Journal`] of signed change sets. Only the
//!   configured secondaries' IPs are served, and a secondary with a TSIG
//!   key (RFC 8945) must sign every request with it; anything else is
//!   REFUSED, a zone not served here NOTAUTH. [`TransferServer::publish`]
//!   swaps in a new version atomically and NOTIFYs (RFC 1996) every
//!   secondary in the background ([`notify`]).
//! * Incoming, we are the secondary of a hidden primary
//!   ([`PrimarySource`]): its NOTIFY, received by the same server and
//!   answered NOERROR with AA (RFC 1996 §4.7), or a call to
//!   [`PrimarySource::refresh`], pulls the zone and delivers an
//!   [`Incoming::Full`] zone or [`Incoming::Changes`] on a channel.
//!
//! Persisting is the caller's: a published version is its records
//! ([`PublishedZone::records`]) and its journal's change sets
//! ([`Journal::change_sets`], text via `ChangeSet::to_text`), and
//! [`TransferServer::restore`] serves them again after a restart; the
//! primary's serial we hold is given back with [`PrimarySource::set_serial`].
//!
//! # Configuration
//!
//! Two sections of the coordinator's config file, read by
//! [`crate::config::transfer::XfrConfig::check`] (unknown fields are refused; every error names its
//! field, e.g. `transfer.secondaries[1].tsig_key`):
//!
//! ```toml
//! [transfer]
//! listen = "127.0.0.1:5353"        # UDP and TCP
//! journal_limit = 24               # optional: change sets kept per zone
//!
//! [[transfer.tsig_keys]]
//! name = "xfr-key"
//! algorithm = "hmac-sha256"        # the only one accepted (RFC 8945 §6)
//! secret = "base64..."             # or secret_file = "xfr.key" (base64 inside)
//!
//! [[transfer.secondaries]]
//! address = "192.0.2.10"           # or "192.0.2.10:5300"; NOTIFY goes here (port 53 by default)
//! tsig_key = "xfr-key"             # optional: its requests must be signed with it
//!
//! [primary]                        # optional: bump-in-the-wire operation
//! address = "192.0.2.1:53"         # NOTIFY accepted from this IP; transfers pulled from here
//! tsig_key = "xfr-key"             # optional: queries, transfers and its NOTIFYs signed
//! zones = ["example.com."]
//! ```
//!
//! `[primary]` needs `[transfer]`: the primary's NOTIFY arrives at
//! `transfer.listen`.

pub mod client;
mod gate;
pub mod journal;
pub mod notify;
pub mod primary;
pub mod server;
mod shared;
pub mod snapshot;

pub use client::{Pulled, TransferError};
pub use journal::Journal;
pub use primary::{Incoming, NotifyRefusal, PrimarySource, RefreshError, Refreshed, Transfer};
pub use server::{content_records, PublishError, TransferStartError, TransferServer};
pub use shared::PublishedZone;
pub use snapshot::{SnapshotError, ZoneSnapshot};
