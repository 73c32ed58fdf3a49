//! Pulling a zone from a primary: SOA query, then IXFR (RFC 1995) or AXFR
//! (RFC 5936) over one TCP connection, optionally TSIG-signed (RFC 8945),
//! with `domain`'s stream transport and `XfrResponseInterpreter`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use domain::base::iana::{Class, Rcode, Rtype};
use domain::base::name::FlattenInto;
use domain::base::{Message, MessageBuilder, Record, Serial, ToName, Ttl};
use domain::net::client::request::{
    GetResponse, GetResponseMulti, RequestMessage, RequestMessageMulti, SendRequest, SendRequestMulti,
};
use domain::net::client::{stream, tsig};
use domain::net::xfr::protocol::{IterationError, ParsedRecord, XfrResponseInterpreter};
use domain::rdata::Soa;
use domain::tsig::Key;
use domain::zonetree::types::ZoneUpdate;
use frostzone_dnssec::change_set::{soa_serial, ChangeSet};
use frostzone_dnssec::load::{LoadedRecord, SourceLocation};
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::serial::is_newer;
use frostzone_dnssec::{StoredName, StoredRecord};
use tokio::net::TcpStream;

/// Connecting and the SOA query: a primary that does not answer in this
/// time is down, and the next NOTIFY or refresh tries again.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest wait for each next message of a transfer (not for the whole
/// transfer, which may legitimately take minutes for a large zone).
pub const TRANSFER_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a zone could not be pulled.
#[derive(Debug, thiserror::Error)]
#[error("{kind} of zone {zone} from {primary}{}: {reason}", serial.map(|s| format!(" (we have serial {s})")).unwrap_or_default())]
pub struct TransferError {
    /// The query or transfer: `SOA query`, `AXFR`, `IXFR`.
    pub kind: &'static str,
    /// The zone.
    pub zone: String,
    /// The primary.
    pub primary: SocketAddr,
    /// The serial we asked to update from.
    pub serial: Option<u32>,
    /// What went wrong.
    pub reason: String,
}

/// What a pull brought.
#[derive(Debug)]
pub enum Pulled {
    /// The primary has nothing newer than `serial`.
    UpToDate {
        /// The primary's serial.
        serial: u32,
    },
    /// The whole zone (AXFR, or IXFR answered in full).
    Full {
        /// Its serial.
        serial: u32,
        /// Every record, SOA included.
        records: Vec<LoadedRecord>,
    },
    /// Difference sequences from our serial to `serial`.
    Changes {
        /// The serial they end at.
        serial: u32,
        /// The sequences, oldest first.
        sets: Vec<ChangeSet>,
    },
}

type PlainStream = stream::Connection<RequestMessage<Vec<u8>>, RequestMessageMulti<Vec<u8>>>;
type SignedRequest = tsig::RequestMessage<RequestMessage<Vec<u8>>, Arc<Key>>;
type SignedTransfer = tsig::RequestMessage<RequestMessageMulti<Vec<u8>>, Arc<Key>>;
type SignedStream = tsig::Connection<stream::Connection<SignedRequest, SignedTransfer>, Arc<Key>>;

/// Requests over one TCP connection, signed or not. The two kinds differ
/// in type only; both hand back boxed response futures.
enum Connection {
    Plain(PlainStream),
    Signed(SignedStream),
}

impl Connection {
    fn open(tcp: TcpStream, key: Option<Arc<Key>>) -> Connection {
        let mut config = stream::Config::new();
        config.set_response_timeout(QUERY_TIMEOUT);
        config.set_streaming_response_timeout(TRANSFER_MESSAGE_TIMEOUT);
        match key {
            None => {
                let (connection, transport) = stream::Connection::with_config(tcp, config);
                tokio::spawn(transport.run());
                Connection::Plain(connection)
            }
            Some(key) => {
                let (connection, transport) = stream::Connection::with_config(tcp, config);
                tokio::spawn(transport.run());
                Connection::Signed(tsig::Connection::new(key, connection))
            }
        }
    }

    fn query(&self, request: RequestMessage<Vec<u8>>) -> Box<dyn GetResponse + Send + Sync> {
        match self {
            Connection::Plain(c) => SendRequest::send_request(c, request),
            Connection::Signed(c) => SendRequest::send_request(c, request),
        }
    }

    fn transfer(&self, request: RequestMessageMulti<Vec<u8>>) -> Box<dyn GetResponseMulti + Send + Sync> {
        match self {
            Connection::Plain(c) => SendRequestMulti::send_request(c, request),
            Connection::Signed(c) => SendRequestMulti::send_request(c, request),
        }
    }
}

/// Pulls `apex` from `primary`: IXFR from `ours` when we have a version,
/// AXFR otherwise or when the primary does not do IXFR.
pub async fn pull(primary: SocketAddr, key: Option<Arc<Key>>, apex: &StoredName, ours: Option<u32>) -> Result<(Pulled, SoaTimers), TransferError> {
    let zone = FqdnDisplay(apex).to_string();
    let fail = |kind: &'static str, reason: String| TransferError { kind, zone: zone.clone(), primary, serial: ours, reason };
    let tcp = tokio::time::timeout(QUERY_TIMEOUT, TcpStream::connect(primary))
        .await
        .map_err(|_| fail("SOA query", "connection timed out".into()))?
        .map_err(|e| fail("SOA query", format!("cannot connect: {e}")))?;
    let connection = Connection::open(tcp, key);
    let timers = primary_soa(&connection, apex).await.map_err(|r| fail("SOA query", r))?;
    let theirs = timers.serial;
    // RFC 1982 §3.2: only a newer serial is worth a transfer.
    if let Some(ours) = ours {
        if !is_newer(theirs, ours) {
            return Ok((Pulled::UpToDate { serial: theirs }, timers));
        }
    }
    let kind = if ours.is_some() { "IXFR" } else { "AXFR" };
    let pulled = match transfer(&connection, apex, ours, primary).await {
        // RFC 1995 §2 leaves IXFR optional: a primary without it answers
        // NOTIMP or FORMERR (some REFUSED), and AXFR is the way left.
        Err(TransferFailure::Rcode(rcode)) if ours.is_some() && [Rcode::NOTIMP, Rcode::FORMERR].contains(&rcode) => {
            tracing::info!("IXFR of zone {zone} from {primary}: answered {rcode}, trying AXFR");
            transfer(&connection, apex, None, primary).await.map_err(|e| fail("AXFR", e.to_string()))
        }
        result => result.map_err(|e| fail(kind, e.to_string())),
    }?;
    Ok((pulled, timers))
}

/// The primary's SOA serial and timers (RFC 1035 §3.3.13), seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoaTimers {
    /// SERIAL.
    pub serial: u32,
    /// REFRESH: how long until the SOA is checked again.
    pub refresh: u32,
    /// RETRY: how long until a failed check is tried again.
    pub retry: u32,
    /// EXPIRE: how long a secondary may go without reaching the primary
    /// before its copy is no longer authoritative.
    pub expire: u32,
}

async fn primary_soa(connection: &Connection, apex: &StoredName) -> Result<SoaTimers, String> {
    let mut builder = MessageBuilder::new_vec();
    builder.header_mut().set_random_id();
    let mut question = builder.question();
    question.push((apex, Rtype::SOA)).map_err(|e| e.to_string())?;
    let request = RequestMessage::new(question).map_err(|e| e.to_string())?;
    let response = connection.query(request).get_response().await.map_err(|e| e.to_string())?;
    if response.header().rcode() != Rcode::NOERROR {
        return Err(format!("answered {}", response.header().rcode()));
    }
    // RFC 1034 §4.3.5: the serial to compare is the authoritative one.
    if !response.header().aa() {
        return Err("the answer is not authoritative: the primary does not serve the zone".into());
    }
    let answer = response.answer().map_err(|e| e.to_string())?;
    for record in answer.limit_to::<Soa<_>>() {
        let record = record.map_err(|e| e.to_string())?;
        if record.owner().name_eq(apex) {
            let soa = record.data();
            return Ok(SoaTimers {
                serial: soa.serial().into_int(),
                refresh: soa.refresh().as_secs(),
                retry: soa.retry().as_secs(),
                expire: soa.expire().as_secs(),
            });
        }
    }
    Err("no SOA record in the answer".into())
}

/// What stopped a transfer.
#[derive(Debug, thiserror::Error)]
enum TransferFailure {
    #[error("answered {0}")]
    Rcode(Rcode),
    #[error("{0}")]
    Other(String),
}

/// One AXFR (`from` is `None`) or IXFR from `from`.
async fn transfer(connection: &Connection, apex: &StoredName, from: Option<u32>, primary: SocketAddr) -> Result<Pulled, TransferFailure> {
    let other = |e: &dyn std::fmt::Display| TransferFailure::Other(e.to_string());
    let mut builder = MessageBuilder::new_vec();
    builder.header_mut().set_random_id();
    let mut question = builder.question();
    question.push((apex, if from.is_some() { Rtype::IXFR } else { Rtype::AXFR })).map_err(|e| other(&e))?;
    let mut authority = question.authority();
    if let Some(serial) = from {
        // RFC 1995 §3: the authority section holds the client's SOA; only
        // its serial matters to the server.
        let soa = Soa::new(apex.clone(), apex.clone(), Serial(serial), Ttl::ZERO, Ttl::ZERO, Ttl::ZERO, Ttl::ZERO);
        authority.push(Record::new(apex.clone(), Class::IN, Ttl::ZERO, soa)).map_err(|e| other(&e))?;
    }
    let request = RequestMessageMulti::new(authority).map_err(|e| other(&e))?;
    let mut responses = connection.transfer(request);
    let file: Arc<Path> = Arc::from(Path::new(&format!(
        "{} {} from {primary}",
        if from.is_some() { "IXFR" } else { "AXFR" },
        FqdnDisplay(apex)
    )));
    let mut collector = Collector::new(file);
    let mut interpreter = XfrResponseInterpreter::new();
    while !interpreter.is_finished() {
        let message: Message<Bytes> = match responses.get_response().await {
            Ok(Some(m)) => m,
            Ok(None) => return Err(TransferFailure::Other("the transfer ended before its closing SOA".into())),
            Err(e) => return Err(other(&e)),
        };
        if message.header().rcode() != Rcode::NOERROR {
            return Err(TransferFailure::Rcode(message.header().rcode()));
        }
        let updates = interpreter.interpret_response(message).map_err(|e| other(&e))?;
        for update in updates {
            match update {
                Ok(update) => collector.take(update).map_err(TransferFailure::Other)?,
                // RFC 1995 §2: a lone SOA answers an IXFR from a serial the
                // primary has no newer version than.
                Err(IterationError::SingleSoaIxfrTcpRetrySignal) => {
                    return Ok(Pulled::UpToDate { serial: from.unwrap_or(0) });
                }
                Err(e) => return Err(TransferFailure::Other(format!("{e:?}"))),
            }
        }
    }
    collector.finish(apex, from).map_err(TransferFailure::Other)
}

/// Turns `domain`'s zone updates into records or change sets.
struct Collector {
    file: Arc<Path>,
    count: usize,
    full: Option<Vec<LoadedRecord>>,
    sets: Vec<ChangeSet>,
    removing: Option<(LoadedRecord, Vec<LoadedRecord>)>,
    final_soa: Option<LoadedRecord>,
}

impl Collector {
    fn new(file: Arc<Path>) -> Collector {
        Collector { file, count: 0, full: None, sets: Vec::new(), removing: None, final_soa: None }
    }

    /// A received record, remembering its place in the transfer for
    /// messages (`AXFR example. from 192.0.2.1:53:17`).
    fn loaded(&mut self, record: ParsedRecord) -> Result<LoadedRecord, String> {
        self.count += 1;
        let record: StoredRecord = record.try_flatten_into().map_err(|e| format!("record {}: {e}", self.count))?;
        Ok(LoadedRecord { record, location: SourceLocation { file: self.file.clone(), line: self.count } })
    }

    fn take(&mut self, update: ZoneUpdate<ParsedRecord>) -> Result<(), String> {
        let out_of_order = |what: &str| format!("{what} out of order in the transfer");
        match update {
            ZoneUpdate::DeleteAllRecords => self.full = Some(Vec::new()),
            ZoneUpdate::AddRecord(r) => {
                let r = self.loaded(r)?;
                match (&mut self.full, self.sets.last_mut()) {
                    (Some(full), _) => full.push(r),
                    (None, Some(set)) if self.removing.is_none() => set.added.push(r),
                    _ => return Err(out_of_order("an added record")),
                }
            }
            ZoneUpdate::BeginBatchDelete(soa) => {
                let soa = self.loaded(soa)?;
                self.removing = Some((soa, Vec::new()));
            }
            ZoneUpdate::DeleteRecord(r) => {
                let r = self.loaded(r)?;
                self.removing.as_mut().ok_or_else(|| out_of_order("a removed record"))?.1.push(r);
            }
            ZoneUpdate::BeginBatchAdd(soa) => {
                let new_soa = self.loaded(soa)?;
                let (old_soa, removed) = self.removing.take().ok_or_else(|| out_of_order("a new SOA"))?;
                self.sets.push(ChangeSet { old_soa, removed, new_soa, added: Vec::new() });
            }
            ZoneUpdate::Finished(soa) => self.final_soa = Some(self.loaded(soa)?),
            other => return Err(format!("unexpected {other} in the transfer")),
        }
        Ok(())
    }

    fn finish(self, apex: &StoredName, from: Option<u32>) -> Result<Pulled, String> {
        let soa = self.final_soa.ok_or("the transfer ended without its closing SOA")?;
        if !soa.record.owner().name_eq(apex) || soa.record.rtype() != Rtype::SOA {
            return Err("the closing record is not the zone's SOA".into());
        }
        let serial = soa_serial(&soa.record).unwrap_or(0);
        if let Some(mut records) = self.full {
            // The opening SOA is consumed by the interpreter; the closing
            // one is the same record (RFC 5936 §2.2).
            records.insert(0, soa);
            return Ok(Pulled::Full { serial, records });
        }
        // The sets must chain from our serial to the one announced
        // (RFC 1995 §4: "the history of changes made since the version
        // known by the IXFR client up to the server's current version").
        let mut at = from;
        for set in &self.sets {
            if Some(set.from_serial()) != at {
                return Err(format!(
                    "a change set starts at serial {} where serial {} was expected",
                    set.from_serial(),
                    at.unwrap_or(0)
                ));
            }
            at = Some(set.to_serial());
        }
        if at != Some(serial) || self.sets.is_empty() {
            return Err(format!("the change sets end at serial {}, not at the announced {serial}", at.unwrap_or(0)));
        }
        Ok(Pulled::Changes { serial, sets: self.sets })
    }
}
