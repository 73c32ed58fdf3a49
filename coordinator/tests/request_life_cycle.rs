//! The request life cycle against the in-process fake signers: proposal,
//! approval by policy or later by an operator, rejection and expiry,
//! signing with a quorum of approvers only, the outcome told to the
//! signers, progress on the SignZone stream, and ListRequests/GetRequest.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use frostzone_coordinator::request::decision::DecisionState;
use frostzone_coordinator::request::{RequestRecord, RequestPhase};
use frostzone_coordinator::CoordinatorError;
use frostzone_proto::v1 as pb;
use frostzone_proto::v1::coordinator_client::CoordinatorClient;
use frostzone_proto::v1::coordinator_server::CoordinatorServer;
use sha2::Digest;
use tonic::transport::Server;

async fn answering(answers: [Answer; 5]) -> Cluster {
    cluster_answering([Behaviour::Good; 5], answers, true, Duration::from_secs(20)).await
}

/// Signs, collecting the progress lines.
async fn sign_collecting(
    c: &Cluster,
    options: pb::SignZoneOptions,
) -> (Result<frostzone_coordinator::pipeline::submit::PublishedVersion, CoordinatorError>, Vec<String>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let progress = move |line: String| sink.lock().unwrap().push(line);
    let result = sign_with_progress(c, options, zone_text(5), &progress).await;
    let lines = lines.lock().unwrap().clone();
    (result, lines)
}

fn latest(c: &Cluster) -> RequestRecord {
    c.coordinator.registry.recent_requests(1).unwrap().remove(0)
}

fn key_tag(c: &Cluster) -> u16 {
    c.coordinator.registry.key_groups(Some(ZONE)).unwrap()[0].key_tag
}

const PENDING_REASON: &str = "DNSKEY RRset changes need the operator's approval";

/// signer-1 rejects and signer-3 stays pending: the quorum is chosen among
/// the approvers 2, 4 and 5 only, Commit reaches no one else, and every
/// signer that answered hears that the result was published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quorum_is_chosen_among_approvers_and_signers_hear_the_release() {
    use Answer::*;
    let c = answering([Reject, Approve, Pending, Approve, Approve]).await;
    let (signed, lines) = sign_collecting(&c, options("nsec")).await;
    let signed = signed.unwrap();
    assert!(signed.summary.contains(": valid:"), "{}", signed.summary);
    let s = latest(&c);
    assert_eq!(s.state, RequestPhase::Published);
    assert_eq!(s.signers, ["signer-2", "signer-4", "signer-5"]);
    assert_eq!(c.committed(), [2, 4, 5]);
    assert_eq!((s.threshold, s.submitted_by.as_str(), s.content_hash.len()), (3, "operator", 64));
    assert!(s.expires_unix >= s.started_unix + 60, "{s:?}");
    let d = &s.decisions;
    assert_eq!(d.len(), 5);
    assert_eq!((d["signer-1"].state, d["signer-1"].reason.as_str()), (DecisionState::Rejected, "wrong serial"));
    assert_eq!(d["signer-1"].decided_by, "operator alice (uid 1000)");
    assert_eq!((d["signer-2"].state, d["signer-2"].decided_by.as_str()), (DecisionState::Approved, "policy"));
    assert_eq!(d["signer-2"].changes.signatures, s.planned);
    assert_eq!((d["signer-3"].state, d["signer-3"].reason.as_str()), (DecisionState::Pending, PENDING_REASON));
    assert!(lines.first().unwrap().contains("proposed to signer-1, signer-2, signer-3, signer-4, signer-5"), "{lines:?}");
    assert!(lines.last().unwrap().ends_with("approved by signer-2, signer-4, signer-5; signing"), "{lines:?}");

    let digest = format!("zone sha256 {}", hex::encode(sha2::Sha256::digest(signed.text().unwrap().as_bytes())));
    assert_eq!(signed.published, digest);
    for (published, detail) in c.told(&[1, 2, 3, 4, 5], &signed.request_id).await {
        assert!(published);
        assert_eq!(detail, digest);
    }
}

/// Two approvals of the three needed, the others pending: the request
/// waits, expires, fails with nothing signed, and no Commit is ever sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_minus_1_approvals_wait_then_expire_and_nothing_is_signed() {
    use Answer::*;
    let c = answering([Approve, Approve, Pending, Pending, Pending]).await;
    let mut o = options("nsec");
    o.approval_timeout_secs = 2;
    let started = Instant::now();
    let (result, lines) = sign_collecting(&c, o).await;
    let err = result.unwrap_err();
    assert!(started.elapsed() >= Duration::from_secs(2) && started.elapsed() < Duration::from_secs(15));
    let text = err.to_string();
    assert_eq!(
        text,
        format!(
            "no quorum of approvals within 2 s: key tag {} has 2 of the 3 approvals it needs (approved: signer-1, signer-2; \
             undecided: signer-3 ({PENDING_REASON}), signer-4 ({PENDING_REASON}), signer-5 ({PENDING_REASON}))",
            key_tag(&c)
        )
    );
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::DeadlineExceeded);
    assert!(c.committed().is_empty(), "a Commit was sent for an unapproved request");
    let s = latest(&c);
    assert!(matches!(&s.state, RequestPhase::Failed(r) if r == &text), "{s:?}");
    assert_eq!(s.signatures, 0);
    let short = &s.id[..8];
    let waiting = format!(
        "request {short}…: 2 of 3 approvals; pending: signer-3 ({PENDING_REASON}), signer-4 ({PENDING_REASON}), signer-5 ({PENDING_REASON})"
    );
    assert!(lines.contains(&waiting), "{lines:?}");
    for (published, detail) in c.told(&[1, 2, 3, 4, 5], &s.id).await {
        assert!(!published);
        assert_eq!(detail, text);
    }
}

/// n - t + 1 = 3 rejections: the request fails at once, naming them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_minus_t_plus_1_rejections_fail_at_once() {
    use Answer::*;
    let c = answering([Approve, Reject, Reject, Reject, Approve]).await;
    let started = Instant::now();
    let (result, _) = sign_collecting(&c, options("nsec")).await;
    let err = result.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "waited {:?}", started.elapsed());
    let r = "operator alice (uid 1000): wrong serial";
    assert_eq!(
        err.to_string(),
        format!(
            "rejected by signer-2 ({r}), signer-3 ({r}), signer-4 ({r}): 3 of 5 signers can no longer approve, key tag {} needs 3",
            key_tag(&c)
        )
    );
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::FailedPrecondition);
    assert!(c.committed().is_empty());
    let s = latest(&c);
    assert!(matches!(&s.state, RequestPhase::Failed(r) if r.starts_with("rejected by signer-2")), "{s:?}");
}

/// Signers reached later, or an operator approving later, are picked up
/// while the request waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_approval_releases_a_waiting_request() {
    use Answer::*;
    let c = Arc::new(answering([Approve, Approve, Pending, Pending, Pending]).await);
    let operator = c.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        operator.fake(3).operator_approves();
    });
    let (result, lines) = sign_collecting(&c, options("nsec3")).await;
    let signed = result.unwrap();
    let s = latest(&c);
    assert_eq!(s.id, signed.request_id);
    assert_eq!(s.signers, ["signer-1", "signer-2", "signer-3"]);
    assert_eq!(s.decisions["signer-3"].decided_by, "operator alice (uid 1000)");
    assert_eq!(s.decisions["signer-4"].state, DecisionState::Pending);
    let waiting = lines.iter().position(|l| l.contains(": 2 of 3 approvals; pending: signer-3")).expect("a waiting line");
    let approved = lines.iter().position(|l| l.ends_with("approved by signer-1, signer-2, signer-3; signing")).expect("approved");
    assert!(waiting < approved, "{lines:?}");
}

/// Over the wire: SignZone sends progress lines (no data) while the
/// request waits, then the zone; the request is listed and found by a
/// prefix of its id, with every signer's decision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_zone_streams_progress_and_the_request_is_listed() {
    use Answer::*;
    let c = Arc::new(answering([Approve, Approve, Pending, Pending, Pending]).await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = frostzone_coordinator::api::CoordinatorService::new(c.coordinator.clone());
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(Server::builder().add_service(CoordinatorServer::new(service)).serve_with_incoming(incoming));
    let mut client = CoordinatorClient::connect(format!("http://{addr}")).await.unwrap();

    let chunk = pb::SignZoneChunk { api_version: 1, options: Some(options("nsec")), data: zone_text(5).into_bytes() };
    let mut stream = client.sign_zone(tokio_stream::iter(vec![chunk])).await.unwrap().into_inner();
    let mut progress = Vec::new();
    let mut text = Vec::new();
    let mut last = None;
    while let Some(m) = stream.message().await.unwrap() {
        if !m.progress.is_empty() {
            assert!(m.data.is_empty() && m.summary.is_empty());
            if m.progress.contains("2 of 3 approvals") {
                c.fake(4).operator_approves();
            }
            progress.push(m.progress);
        } else {
            text.extend(m.data);
            if !m.summary.is_empty() {
                last = Some((m.summary, m.request_id));
            }
        }
    }
    let (summary, id) = last.expect("a last chunk with the summary");
    assert!(summary.contains(": valid:"), "{summary}");
    assert!(String::from_utf8(text).unwrap().contains("RRSIG"));
    assert!(progress[0].starts_with(&format!("request {}…: proposed to ", &id[..8])), "{progress:?}");
    assert!(progress.iter().any(|l| l.ends_with("approved by signer-1, signer-2, signer-4; signing")), "{progress:?}");

    let found = client
        .get_request(pb::GetRequestRequest { api_version: 1, request_id: id[..8].to_uppercase() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((found.request_id.as_str(), found.state.as_str(), found.threshold), (id.as_str(), "published", 3));
    assert_eq!(found.signers, ["signer-1", "signer-2", "signer-4"]);
    assert_eq!(found.content_hash.len(), 32);
    let states: Vec<(String, pb::RequestState)> =
        found.decisions.iter().map(|d| (d.signer.clone(), d.state())).collect();
    use pb::RequestState as S;
    let want = [("signer-1", S::Approved), ("signer-2", S::Approved), ("signer-3", S::Pending), ("signer-4", S::Approved), ("signer-5", S::Pending)];
    assert_eq!(states, want.map(|(n, s)| (n.to_string(), s)));
    assert_eq!(found.decisions[3].decided_by, "operator alice (uid 1000)");

    // Two more requests, one of them of another zone and never proposed.
    let mut other = RequestRecord::new(format!("{}ff", &id[..30]), "other.".into(), 1, 1);
    other.advance(RequestPhase::Failed("no keys".into()), 2).unwrap();
    c.coordinator.registry.put_request(&other).await.unwrap();
    let listed = client.list_requests(pb::ListRequestsRequest { api_version: 1, zone: String::new(), limit: 0 }).await.unwrap();
    assert_eq!(listed.into_inner().requests.len(), 2);
    let listed = client.list_requests(pb::ListRequestsRequest { api_version: 1, zone: "Example".into(), limit: 0 }).await.unwrap();
    let ids: Vec<String> = listed.into_inner().requests.into_iter().map(|r| r.request_id).collect();
    assert_eq!(ids, std::slice::from_ref(&id));

    let ambiguous = client.get_request(pb::GetRequestRequest { api_version: 1, request_id: id[..8].into() }).await.unwrap_err();
    assert_eq!(ambiguous.code(), tonic::Code::InvalidArgument);
    assert!(ambiguous.message().contains("matches 2 requests"), "{}", ambiguous.message());
    let exact = client.get_request(pb::GetRequestRequest { api_version: 1, request_id: id.clone() }).await.unwrap();
    assert_eq!(exact.into_inner().request_id, id);
    let short = client.get_request(pb::GetRequestRequest { api_version: 1, request_id: id[..7].into() }).await.unwrap_err();
    assert_eq!(short.code(), tonic::Code::InvalidArgument);
    let missing = if id.starts_with("0000") { "ffffffff" } else { "00000000" };
    let missing = client.get_request(pb::GetRequestRequest { api_version: 1, request_id: missing.into() }).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
}

/// A request a stopped coordinator left approved is failed at the next
/// start, and every signer that answered it is told, so none keeps it open
/// until its own expiry; one that never answered is not called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_swept_at_start_are_announced_to_the_signers_that_answered() {
    use frostzone_coordinator::request::decision::RecordedDecision;
    let c = answering([Answer::Approve; 5]).await;
    let mut record = RequestRecord::new("5e1f".repeat(8), "example.com.".into(), 12, 1_780_000_000);
    record.state = RequestPhase::Signing;
    for (name, state) in [("signer-1", DecisionState::Approved), ("signer-2", DecisionState::Approved), ("signer-3", DecisionState::Unanswered)] {
        record.decisions.insert(name.into(), RecordedDecision { state, ..Default::default() });
    }
    c.coordinator.registry.put_request_sync(&record).unwrap();
    let swept = frostzone_coordinator::approval::outcome::sweep_interrupted(&c.coordinator.registry, &c.coordinator.signers, 1_780_000_100)
        .await
        .unwrap();
    assert_eq!(swept.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [record.id.as_str()]);
    let told = |i: usize| c.fake(i).published.lock().unwrap().iter().any(|(id, published, detail)| *id == record.id && !published && detail.contains("interrupted while signing"));
    for _ in 0..400 {
        if told(1) && told(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(told(1) && told(2), "signer-1 and signer-2 were not told the request failed");
    assert!(!told(3) && c.fake(3).published.lock().unwrap().is_empty(), "signer-3 never answered and was called");
    let stored = c.coordinator.registry.requests_with_id_prefix(&record.id).unwrap().remove(0);
    assert!(matches!(&stored.state, RequestPhase::Failed(r) if r.contains("the coordinator stopped")), "{:?}", stored.state);
}
