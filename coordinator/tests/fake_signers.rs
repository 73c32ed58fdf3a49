//! The signing pipeline against the in-process fake signers: retry with
//! another subset when a signer is down, culprit exclusion when one sends
//! bad shares, the quorum error when too few are left, DKG relay, and a
//! request cut off mid-way.

mod common;

use std::time::Duration;

use common::*;
use frostzone_coordinator::request::RequestPhase;
use frostzone_coordinator::CoordinatorError;
use frostzone_dnssec::keys::KeyRole;
use frostzone_proto::v1 as pb;
use tonic::Request;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_cluster_signs_with_the_first_three() {
    let c = cluster([Behaviour::Good; 5]).await;
    let signed = sign(&c, options("nsec3"), zone_text(20)).await.unwrap();
    assert!(signed.summary.contains(": valid:"), "{}", signed.summary);
    assert!(signed.text().unwrap().contains("RRSIG"));
    let s = &c.coordinator.registry.recent_requests(1).unwrap()[0];
    assert_eq!(s.id, signed.request_id);
    assert_eq!(s.state, RequestPhase::Published);
    assert_eq!(s.signers, ["signer-1", "signer-2", "signer-3"]);
    assert!(s.culprits.is_empty());
    assert_eq!(s.signatures, s.planned);
    assert_eq!(s.retries, 0);
    // The publication is on record, and the signers were told a digest of
    // exactly what was returned.
    use sha2::Digest;
    let state = c.coordinator.registry.zone_state("example.").unwrap().expect("a published state");
    assert_eq!(state.request_id, signed.request_id);
    assert_eq!(state.signatures_made, s.signatures);
    assert_eq!(signed.published, format!("zone sha256 {}", hex::encode(sha2::Sha256::digest(signed.text().unwrap().as_bytes()))));
}

/// signer-1 is down and signer-2 corrupts its shares, over two batches in
/// flight: every batch must end up signed by signer-3, -4 and -5, and
/// signer-2 must be recorded as the culprit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_around_a_dead_signer_and_excludes_a_culprit() {
    use Behaviour::*;
    let c = cluster([Down, Corrupt, Good, Good, Good]).await;
    // More than one batch (MAX_BATCH_ITEMS items), so batches run
    // concurrently and both meet the failures.
    let hosts = frostzone_proto::MAX_BATCH_ITEMS / 2 + 50;
    let signed = sign(&c, options("nsec"), zone_text(hosts)).await.unwrap();
    assert!(signed.summary.contains(": valid:"), "{}", signed.summary);
    let s = &c.coordinator.registry.recent_requests(1).unwrap()[0];
    assert_eq!(s.state, RequestPhase::Published);
    assert!(s.planned > frostzone_proto::MAX_BATCH_ITEMS as u64, "{}", s.planned);
    assert_eq!(s.signatures, s.planned);
    assert_eq!(s.signers, ["signer-3", "signer-4", "signer-5"]);
    assert_eq!(s.culprits, ["signer-2"]);
    // signer-1 never answered the proposal, so only the culprit costs retries.
    assert!(s.retries >= 1, "{s:?}");
    let culprit = c.coordinator.registry.culprit("signer-2").unwrap().unwrap();
    assert_eq!(culprit.last_request, s.id);
    assert!(c.coordinator.registry.culprit("signer-1").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_signers_give_the_quorum_error_and_nothing() {
    use Behaviour::*;
    let c = cluster([Down, Good, Down, Corrupt, Good]).await;
    let err = sign(&c, options("nsec3-opt-out"), zone_text(5)).await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, CoordinatorError::Quorum(_)), "{text}");
    // signer-1 and signer-3 never approved: only the approvers are candidates.
    assert!(
        text.starts_with(
            "quorum unavailable: 2 of the 3 needed signers answered: signer-2, signer-5; excluded for invalid shares: signer-4 ("
        ),
        "{text}"
    );
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let s = &c.coordinator.registry.recent_requests(1).unwrap()[0];
    assert!(matches!(&s.state, RequestPhase::Failed(r) if r.starts_with("quorum unavailable")), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_missing_keys_are_refused_with_their_codes() {
    let c = cluster([Behaviour::Good; 5]).await;
    let err = sign(&c, options("nsec"), "@ SOA ns hm 1 2 3 4 5\nwww A 300.1.1.1\n".into()).await
        .unwrap_err();
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("example.:2"), "{}", status.message());

    let mut other = options("nsec");
    other.zone = "other.example.".into();
    let err = sign(&c, other, zone_text(1)).await.unwrap_err();
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(status.message(), "no keys for zone other.example.: run keys generate");

    let err = sign(&c, options("nsec5"), zone_text(1)).await.unwrap_err();
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::InvalidArgument);
}

/// DKG relayed between the fakes: a KSK and a ZSK for a new zone, then
/// the zone signs with them and GetDs gives the KSK's DS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkg_relay_then_sign() {
    use frostzone_proto::v1::coordinator_server::Coordinator as _;
    let c = cluster_with([Behaviour::Good; 5], false, Duration::from_secs(20)).await;
    let ksk = frostzone_coordinator::keys::dkg::generate_key(&c.coordinator, "Example", KeyRole::Ksk, "operator", Duration::from_secs(30)).await.unwrap();
    let zsk = frostzone_coordinator::keys::dkg::generate_key(&c.coordinator, "example.", KeyRole::Zsk, "operator", Duration::from_secs(30)).await.unwrap();
    assert_eq!(ksk.zone, "example.");
    assert_eq!(ksk.role, pb::KeyRole::Ksk as i32);
    assert_eq!(ksk.threshold, 3);
    assert_eq!(ksk.signers, (1..=5).map(|i| format!("signer-{i}")).collect::<Vec<_>>());
    assert!(ksk.dnskey.starts_with("example.\t3600\tIN\tDNSKEY\t257 3 15 "), "{}", ksk.dnskey);
    assert!(zsk.dnskey.contains("DNSKEY\t256 3 15 "), "{}", zsk.dnskey);
    assert_ne!(ksk.key_tag, zsk.key_tag);
    assert_eq!(c.coordinator.registry.key_groups(Some("example.")).unwrap().len(), 2);

    let signed = sign(&c, options("nsec3"), zone_text(10)).await.unwrap();
    assert!(signed.summary.contains(": valid:") && signed.summary.contains("2 DNSKEYs"), "{}", signed.summary);

    let service = frostzone_coordinator::api::CoordinatorService::new(c.coordinator.clone());
    let ds = service.get_ds(Request::new(pb::GetDsRequest { api_version: 1, zone: "example".into() })).await.unwrap().into_inner().ds;
    assert_eq!(ds.len(), 1);
    assert!(ds[0].starts_with(&format!("example.\t3600\tIN\tDS\t{} 15 2 ", ksk.key_tag)), "{}", ds[0]);
    let listed = service.list_keys(Request::new(pb::ListKeysRequest { api_version: 1, zone: String::new() })).await.unwrap().into_inner();
    assert_eq!(listed.keys.len(), 2);
    let status = service.status(Request::new(pb::StatusRequest { api_version: 1 })).await.unwrap().into_inner();
    assert!(status.signers.iter().all(|s| s.reachable), "{:?}", status.signers);
    assert_eq!(status.requests[0].state, "published");
}

/// DKG needs every signer: one down fails it with UNAVAILABLE naming it,
/// and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkg_needs_every_signer() {
    use Behaviour::*;
    let c = cluster_with([Good, Good, Good, Down, Good], false, Duration::from_secs(20)).await;
    let err = frostzone_coordinator::keys::dkg::generate_key(&c.coordinator, "example.", KeyRole::Csk, "operator", Duration::from_secs(30)).await.unwrap_err();
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(status.message().contains("signer-4"), "{}", status.message());
    assert!(c.coordinator.registry.key_groups(None).unwrap().is_empty());
}

/// A signer that hangs hits the per-call deadline and the batch moves on
/// to the next subset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_signer_times_out_and_is_replaced() {
    use Behaviour::*;
    let c = cluster_with([Good, Hang, Good, Good, Good], true, Duration::from_secs(2)).await;
    let started = std::time::Instant::now();
    let signed = sign(&c, options("nsec"), zone_text(3)).await.unwrap();
    assert!(signed.summary.contains(": valid:"), "{}", signed.summary);
    assert!(started.elapsed() < Duration::from_secs(30));
    let s = &c.coordinator.registry.recent_requests(1).unwrap()[0];
    assert_eq!(s.signers, ["signer-1", "signer-3", "signer-4"]);
    assert!(s.culprits.is_empty());
    assert_eq!(s.retries, 1);
}

/// A request that goes away mid-session (the client hung up) leaves the
/// session failed, not hanging in a live state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_fails_its_session() {
    use Behaviour::*;
    let c = cluster_with([Hang, Hang, Hang, Hang, Hang], true, Duration::from_secs(120)).await;
    let request = sign(&c, options("nsec"), zone_text(3));
    assert!(tokio::time::timeout(Duration::from_millis(1500), request).await.is_err());
    let mut state = RequestPhase::Planned;
    for _ in 0..50 {
        state = c.coordinator.registry.recent_requests(1).unwrap()[0].state.clone();
        if state.is_final() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(matches!(&state, RequestPhase::Failed(r) if r.contains("interrupted while committing")), "{state:?}");
}
