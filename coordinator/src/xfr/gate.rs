//! The gate: the service under the TSIG middleware that decides what each
//! request gets (see [`super::server`] for the whole stack).
//!
//! It admits only the configured secondaries (by source IP, and by TSIG key
//! where one is configured), takes the primary's NOTIFY, answers SOA and an
//! IXFR from the current serial itself, and hands AXFR and IXFR to
//! `domain`'s XFR middleware with a data provider over the published
//! snapshot and journal.

use std::future::{ready, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use domain::base::iana::{Opcode, OptRcode, Rcode, Rtype};
use domain::base::{Message, ParsedName, Serial, ToName};
use domain::dep::octseq::Octets;
use domain::net::server::message::Request;
use domain::net::server::middleware::xfr::{XfrData, XfrDataProvider, XfrDataProviderError, XfrMiddlewareSvc};
use domain::net::server::service::{CallResult, Service, ServiceResult};
use domain::net::server::util::{mk_builder_for_target, mk_error_response, service_fn, ServiceFn};
use domain::rdata::Soa;
use domain::tsig::Key;
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::serial::is_newer;
use frostzone_dnssec::StoredName;
use futures_util::stream::{self, Stream};

use super::journal::JournalDiff;
use super::shared::Shared;

type RefuseFn = fn(Request<Vec<u8>, Option<Key>>, ()) -> ServiceResult<Vec<u8>>;
type Refuse = ServiceFn<Vec<u8>, RefuseFn, ()>;
type XfrSvc = XfrMiddlewareSvc<Vec<u8>, Refuse, Option<Key>, Provider>;
type GateStream = Pin<Box<dyn Stream<Item = ServiceResult<Vec<u8>>> + Send>>;

fn refuse(request: Request<Vec<u8>, Option<Key>>, (): ()) -> ServiceResult<Vec<u8>> {
    Ok(CallResult::new(mk_error_response(request.message(), OptRcode::REFUSED)))
}

fn answer(result: ServiceResult<Vec<u8>>) -> GateStream {
    Box::pin(stream::once(ready(result)))
}

fn error(msg: &Message<Vec<u8>>, rcode: OptRcode) -> GateStream {
    answer(Ok(CallResult::new(mk_error_response(msg, rcode))))
}

/// ACL, NOTIFY, SOA and up-to-date IXFR; AXFR and IXFR go on to `xfr`.
#[derive(Clone)]
pub(super) struct Gate {
    shared: Arc<Shared>,
    xfr: XfrSvc,
}

impl Gate {
    /// At most `transfers` zone transfers run at once; more wait.
    pub(super) fn new(shared: Arc<Shared>, transfers: usize) -> Gate {
        // The XFR middleware only ever sees AXFR and IXFR: its next
        // service is never called, and refuses should that change.
        let refuse: Refuse = service_fn(refuse as RefuseFn, ());
        let xfr = XfrMiddlewareSvc::new(refuse, Provider(shared.clone()), transfers);
        Gate { shared, xfr }
    }
}

impl Service<Vec<u8>, Option<Key>> for Gate {
    type Target = Vec<u8>;
    type Stream = GateStream;
    type Future = Pin<Box<dyn Future<Output = GateStream> + Send>>;

    fn call(&self, request: Request<Vec<u8>, Option<Key>>) -> Self::Future {
        let gate = self.clone();
        Box::pin(async move { gate.handle(request).await })
    }
}

impl Gate {
    async fn handle(self, request: Request<Vec<u8>, Option<Key>>) -> GateStream {
        let msg = request.message().clone();
        let peer = request.client_addr();
        let key = request.metadata().clone();
        let Ok(question) = msg.sole_question() else { return error(&msg, OptRcode::FORMERR) };
        let (qname, qtype) = (question.qname().to_name::<bytes::Bytes>(), question.qtype());
        let opcode = msg.header().opcode();
        if opcode == Opcode::NOTIFY {
            return self.notify(&msg, peer, key.as_ref(), &qname, qtype);
        }
        if opcode != Opcode::QUERY {
            return error(&msg, OptRcode::NOTIMP);
        }
        if let Err(why) = self.shared.admit(peer.ip(), key.as_ref(), &qname) {
            tracing::warn!("{qtype} {} from {peer} refused: {why}", FqdnDisplay(&qname));
            return error(&msg, OptRcode::REFUSED);
        }
        // RFC 5936 §2.2.1: "If a server is not authoritative for the
        // queried zone, the server SHOULD set the value to NotAuth(9)".
        let Some(zone) = self.shared.zone(&qname) else {
            tracing::info!("{qtype} {} from {peer}: not a zone served here", FqdnDisplay(&qname));
            return error(&msg, OptRcode::NOTAUTH);
        };
        match qtype {
            Rtype::SOA => answer(Ok(CallResult::new(zone.snapshot.soa_answer().to_message(&msg, mk_builder_for_target())))),
            Rtype::IXFR if ixfr_serial(&msg).is_some_and(|s| !is_newer(zone.serial(), s)) => {
                // RFC 1995 §2: "If an IXFR query with the same or newer
                // version number than that of the server is received, it
                // is replied to with a single SOA record of the server's
                // current version". The middleware would send the whole
                // zone when it has no change set to send.
                answer(Ok(CallResult::new(zone.snapshot.soa_answer().to_message(&msg, mk_builder_for_target()))))
            }
            Rtype::AXFR | Rtype::IXFR => {
                tracing::info!("{qtype} {} serial {} to {peer}", FqdnDisplay(&qname), zone.serial());
                Box::pin(self.xfr.call(request).await)
            }
            _ => error(&msg, OptRcode::REFUSED),
        }
    }

    /// RFC 1996 §3.10: a NOTIFY from anyone but our primary is refused and
    /// logged; RFC 1996 §4.7: the answer is the request with QR (and AA)
    /// set, NOERROR.
    fn notify(&self, msg: &Message<Vec<u8>>, peer: SocketAddr, key: Option<&Key>, qname: &StoredName, qtype: Rtype) -> GateStream {
        let Some(primary) = &self.shared.primary else {
            tracing::warn!("NOTIFY for {} from {peer} refused: no primary is configured", FqdnDisplay(qname));
            return error(msg, OptRcode::REFUSED);
        };
        if qtype != Rtype::SOA {
            return error(msg, OptRcode::NOTIMP);
        }
        if let Err(refusal) = primary.accept_notify(qname, peer, key) {
            tracing::warn!("NOTIFY for {} from {peer} refused: {refusal}", FqdnDisplay(qname));
            return error(msg, refusal.rcode());
        }
        match mk_builder_for_target().start_answer(msg, Rcode::NOERROR) {
            Ok(mut response) => {
                response.header_mut().set_aa(true);
                answer(Ok(CallResult::new(response.additional())))
            }
            Err(_) => error(msg, OptRcode::SERVFAIL),
        }
    }
}

/// The serial of the SOA in an IXFR request's authority section (RFC 1995 §3).
fn ixfr_serial(msg: &Message<Vec<u8>>) -> Option<u32> {
    let mut soas = msg.authority().ok()?.limit_to::<Soa<ParsedName<_>>>();
    soas.next()?.ok().map(|r| r.data().serial().into_int())
}

/// Hands the XFR middleware the published snapshot and, for IXFR, the
/// journal's sets from the requested serial (none: the middleware falls
/// back to the whole zone, as RFC 1995 §4 allows).
#[derive(Clone, Debug)]
struct Provider(Arc<Shared>);

impl XfrDataProvider<Option<Key>> for Provider {
    type Diff = Arc<JournalDiff>;

    fn request<Octs>(
        &self,
        req: &Request<Octs, Option<Key>>,
        diff_from: Option<Serial>,
    ) -> Pin<Box<dyn Future<Output = Result<XfrData<Self::Diff>, XfrDataProviderError>> + Sync + Send + '_>>
    where
        Octs: Octets + Send + Sync,
    {
        let result = req.message().sole_question().map_err(XfrDataProviderError::ParseError).and_then(|q| {
            let zone = self.0.zone(&q.qname()).ok_or(XfrDataProviderError::UnknownZone)?;
            let diffs = diff_from.and_then(|s| zone.journal.diffs_from(s.into_int())).unwrap_or_default();
            Ok(XfrData::new(zone.zone.clone(), diffs, false))
        });
        Box::pin(ready(result))
    }
}
