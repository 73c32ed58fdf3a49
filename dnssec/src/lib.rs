//! DNS and DNSSEC logic shared by the frostzone coordinator and signer nodes.
//!
//! This crate owns everything that is about DNS data and nothing that is
//! about keys' secrets or the network:
//!
//! * [`name`]: domain names in canonical order (RFC 4034 §6.1), also as
//!   octet keys for ordered stores, and their fully qualified display;
//! * [`time`]: RRSIG timestamps (RFC 4034 §3.2) and calendar arithmetic;
//! * [`load`]: reading RFC 1035 master files (following `$INCLUDE` in
//!   files, refusing it in text sent to the coordinator, which a sender
//!   flattens first) into records that remember their file and line;
//! * [`zone`]: the zone model — RRsets in canonical order, the zone cut
//!   analysis of RFC 4035 §2.2 (what is authoritative, what is glue), and
//!   the input checks an operator needs;
//! * [`zone_patch`]: a signed zone and new contents for some of its names,
//!   seen as the next version without copying the zone;
//! * [`change_set`]: a zone's content as a record set and its changes in
//!   the IXFR form of RFC 1995 §4 (apply, compare, write);
//! * [`rrset_diff`]: RRset-level differences between two versions of a
//!   zone, counted for approval policies and rendered as `+`/`-` lines;
//! * [`keys`]: DNSKEY, DS, CDS and CDNSKEY records for algorithm 15 keys
//!   (RFC 8080) and key tags (RFC 4034 Appendix B);
//! * [`keyfile`]: BIND/ldns private key files, read only to import a key;
//! * [`denial`]: NSEC (RFC 4034 §4) and NSEC3 (RFC 5155, RFC 9276) chains,
//!   and the check a signer runs on proposed denial records, whole or
//!   incremental ([`denial::check`]);
//! * [`signing`]: the signing plan — every RRSIG to be made, as RRSIG
//!   fields plus the canonical RRset (RFC 4034 §3.1.8.1), for a whole zone
//!   or incrementally from the records that changed, and the RRSIG refresh
//!   schedule;
//! * [`present`]: the zone file presentation format frostzone writes;
//! * [`validate`]: the validator that stands between signing and
//!   publication, for a whole zone or a zone patch;
//! * [`wire`]: RRsets and RRSIG fields in the form they travel between
//!   coordinator and signers;
//! * [`serial`]: the SOA serial of each new version (RFC 1982).
//!
//! All functions here are synchronous and free of I/O except [`load`],
//! which reads files.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod change_set;
pub mod denial;
pub mod keyfile;
pub mod keys;
pub mod load;
pub mod name;
pub mod owner_rrsets;
pub mod present;
pub mod rrset_diff;
pub mod serial;
pub mod signing;
pub mod time;
pub mod validate;
pub mod wire;
pub mod zone;
pub mod zone_patch;

pub use domain;

use bytes::Bytes;
use domain::base::{Name, Record};
use domain::rdata::ZoneRecordData;

/// An absolute domain name as frostzone stores it.
pub type StoredName = Name<Bytes>;

/// Record data of any type that can appear in a zone file.
pub type StoredRecordData = ZoneRecordData<Bytes, StoredName>;

/// A resource record as frostzone stores it.
pub type StoredRecord = Record<StoredName, StoredRecordData>;
