//! Hostile requests through the coordinator's gRPC handlers, over a real
//! (plain, in-process) tonic server in front of a coordinator with five
//! fake signers: every unary call with structured fields (zones near and
//! far from the one served, key tags, roles and enum values no enum has,
//! request ids, timeouts, API versions), and SignZone / SubmitChanges
//! streams with options missing, repeated or late, and zone or change text
//! from the zone-file generators, mutated. Every call must answer (a
//! message or a status) within its deadline, with no panic anywhere in the
//! process, and the coordinator must answer Status after it; beside the
//! cases, it must sign a zone. Key ceremonies and rollovers
//! are asked only for zones other than the one served, so that a case
//! cannot legitimately take its keys away.
//!
//! A short run by default; a long run with `FROSTZONE_FUZZ_CASES=2000`
//! (see docs/fuzzing.md).

mod common;
#[path = "../../dnssec/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use frostzone_proto::v1 as pb;
use frostzone_proto::v1::coordinator_client::CoordinatorClient;
use frostzone_proto::v1::coordinator_server::CoordinatorServer;
use fuzz_support::{cases, mutate, mutation, zone_text as fuzz_zone_text};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use tonic::transport::Channel;

/// Longest a single call may take: far beyond a refusal or a small signing.
const CALL_DEADLINE: Duration = Duration::from_secs(30);

struct Fixture {
    runtime: tokio::runtime::Runtime,
    client: CoordinatorClient<Channel>,
    _cluster: Cluster,
}

/// Panics anywhere in the process since the fixture was made: a handler's
/// panic only resets its stream, so the client alone would not see it.
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// One coordinator for every case: five fake signers approving by policy,
/// a key, the zone signed once.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info)
        }));
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let (cluster, client) = runtime.block_on(async {
            let cluster = cluster([Behaviour::Good; 5]).await;
            sign(&cluster, options(""), zone_text(5)).await.expect("the first version");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("address");
            let service = frostzone_coordinator::api::CoordinatorService::new(cluster.coordinator.clone());
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            tokio::spawn(tonic::transport::Server::builder().add_service(CoordinatorServer::new(service)).serve_with_incoming(incoming));
            let client = CoordinatorClient::connect(format!("http://{addr}")).await.expect("connect");
            (cluster, client.max_decoding_message_size(frostzone_proto::MAX_MESSAGE_BYTES))
        });
        Fixture { runtime, client, _cluster: cluster }
    })
}

/// Runs one call against the fixture within [`CALL_DEADLINE`].
fn call<F, Fut>(f: F) -> Result<(), TestCaseError>
where
    F: FnOnce(CoordinatorClient<Channel>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let fx = fixture();
    let client = fx.client.clone();
    let done = fx.runtime.block_on(async move { tokio::time::timeout(CALL_DEADLINE, f(client)).await });
    prop_assert!(done.is_ok(), "a call did not answer within {CALL_DEADLINE:?}");
    let mut client = fx.client.clone();
    let status = fx.runtime.block_on(async move {
        tokio::time::timeout(CALL_DEADLINE, client.status(pb::StatusRequest { api_version: frostzone_proto::API_VERSION })).await
    });
    prop_assert!(matches!(status, Ok(Ok(_))), "Status fails after the call: {status:?}");
    prop_assert_eq!(PANICS.load(Ordering::SeqCst), 0, "the coordinator panicked on a request");
    Ok(())
}

/// Reads a response stream to its end or its error.
async fn drain(answer: Result<tonic::Response<tonic::Streaming<pb::SignedZoneChunk>>, tonic::Status>) {
    if let Ok(response) = answer {
        let mut stream = response.into_inner();
        while let Ok(Some(_)) = stream.message().await {}
    }
}

fn served_or_near() -> impl Strategy<Value = String> {
    prop_oneof![Just(ZONE.to_string()), Just("EXAMPLE".to_string()), Just(String::new()), "[a-z0-9.\\-]{0,20}", ".*"]
}

/// A zone other than the one served (ceremonies and rollovers only).
fn other_zone() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z0-9.\\-]{1,20}", ".*"].prop_filter("not the zone served", |z| {
        !z.trim_end_matches('.').eq_ignore_ascii_case(ZONE.trim_end_matches('.'))
    })
}

fn api_version() -> impl Strategy<Value = u32> {
    prop_oneof![8 => Just(frostzone_proto::API_VERSION), 1 => Just(0u32), 1 => any::<u32>()]
}

fn small_or_any() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..5, Just(u32::MAX), any::<u32>()]
}

fn request_id() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9a-f]{0,40}", ".{0,80}"]
}

fn sign_options() -> impl Strategy<Value = pb::SignZoneOptions> {
    (served_or_near(), prop_oneof![Just(String::new()), Just("nsec".to_string()), Just("nsec3-opt-out".to_string()), ".{0,12}"], small_or_any(), any::<bool>(), any::<bool>(), ".{0,16}")
        .prop_map(|(zone, denial, n, full, return_zone, serial_policy)| pb::SignZoneOptions {
            zone,
            denial,
            validity_days: n,
            approval_timeout_secs: n % 5,
            full,
            return_zone,
            serial_policy,
            source_name: "fuzz".into(),
            ..pb::SignZoneOptions::default()
        })
}

/// An upload: options where they belong, missing, repeated or late, and
/// the text in one or more chunks.
fn upload() -> impl Strategy<Value = Vec<pb::SignZoneChunk>> {
    (sign_options(), api_version(), fuzz_zone_text(), prop::collection::vec(mutation(), 0..3), 0usize..4, 1usize..4).prop_map(
        |(options, api_version, text, edits, placement, pieces)| {
            let text = mutate(text, &edits);
            let size = text.len().div_ceil(pieces).max(1);
            let mut chunks: Vec<pb::SignZoneChunk> =
                text.chunks(size).map(|data| pb::SignZoneChunk { api_version, options: None, data: data.to_vec() }).collect();
            if chunks.is_empty() {
                chunks.push(pb::SignZoneChunk { api_version, options: None, data: Vec::new() });
            }
            match placement {
                0 => chunks[0].options = Some(options),
                1 => {
                    chunks[0].options = Some(options.clone());
                    if let Some(last) = chunks.last_mut() {
                        last.options = Some(options);
                    }
                }
                2 => {
                    if let Some(last) = chunks.last_mut() {
                        last.options = Some(options);
                    }
                }
                _ => {}
            }
            chunks
        },
    )
}

proptest! {
    #![proptest_config(Config::with_cases(cases(48)))]

    #[test]
    fn fuzz_unary_handlers(
        version in api_version(),
        zone in served_or_near(),
        other in other_zone(),
        tag in small_or_any(),
        role in prop_oneof![0i32..5, any::<i32>()],
        id in request_id(),
        limit in small_or_any(),
        bytes in prop::collection::vec(any::<u8>(), 0..80),
        pick in 0usize..15,
    ) {
        call(|mut c| async move {
            let _ = match pick {
                0 => c.status(pb::StatusRequest { api_version: version }).await.map(|_| ()),
                1 => c.list_keys(pb::ListKeysRequest { api_version: version, zone }).await.map(|_| ()),
                2 => c.get_ds(pb::GetDsRequest { api_version: version, zone }).await.map(|_| ()),
                3 => c.key_status(pb::KeyStatusRequest { api_version: version, zone }).await.map(|_| ()),
                4 => c.list_requests(pb::ListRequestsRequest { api_version: version, zone, limit }).await.map(|_| ()),
                5 => c.get_request(pb::GetRequestRequest { api_version: version, request_id: id }).await.map(|_| ()),
                6 => {
                    drain(c.get_zone(pb::GetZoneRequest { api_version: version, zone }).await).await;
                    Ok(())
                }
                7 => c.generate_key(pb::GenerateKeyRequest { api_version: version, zone: other, role, approval_timeout_secs: limit % 3 }).await.map(|_| ()),
                8 => c.import_key_begin(pb::ImportKeyBeginRequest { api_version: version, zone: other, role, group_public_key: bytes, approval_timeout_secs: limit % 3 }).await.map(|_| ()),
                9 => c.import_key_finish(pb::ImportKeyFinishRequest { api_version: version, session_id: bytes, zone: other, role, ..Default::default() }).await.map(|_| ()),
                10 => c.remove_key(pb::RemoveKeyRequest { api_version: version, zone: other, key_tag: tag, approval_timeout_secs: limit % 3 }).await.map(|_| ()),
                11 => c.refresh_shares(pb::RefreshSharesRequest { api_version: version, zone: other, key_tag: tag, approval_timeout_secs: limit % 3 }).await.map(|_| ()),
                12 => c.repair_share(pb::RepairShareRequest { api_version: version, zone: other, key_tag: tag, signer: id, approval_timeout_secs: limit % 3 }).await.map(|_| ()),
                13 => c.start_rollover(pb::StartRolloverRequest { api_version: version, zone: other, role, key_tag: tag, approval_timeout_secs: limit % 3 }).await.map(|_| ()),
                _ => c.confirm_ds(pb::ConfirmDsRequest { api_version: version, zone: other, key_tag: tag }).await.map(|_| ()),
            };
        })?;
    }

    #[test]
    fn fuzz_sign_zone_and_submit_changes_streams(chunks in upload(), changes in any::<bool>()) {
        call(|mut c| async move {
            let stream = tokio_stream::iter(chunks);
            if changes {
                drain(c.submit_changes(stream).await).await;
            } else {
                drain(c.sign_zone(stream).await).await;
            }
        })?;
    }
}

/// With the hostile cases (tests run side by side, so before, between or
/// after them; every case checks Status itself): the coordinator signs a
/// zone it is given whole.
#[test]
fn the_coordinator_signs_beside_hostile_requests() {
    let fx = fixture();
    fx.runtime.block_on(async {
        let mut c = fx.client.clone();
        c.status(pb::StatusRequest { api_version: frostzone_proto::API_VERSION }).await.expect("Status answers");
        let options = pb::SignZoneOptions { zone: ZONE.into(), full: true, ..pb::SignZoneOptions::default() };
        let chunk = pb::SignZoneChunk { api_version: frostzone_proto::API_VERSION, options: Some(options), data: zone_text(7).into_bytes() };
        let mut stream = c.sign_zone(tokio_stream::iter(vec![chunk])).await.expect("SignZone").into_inner();
        let mut last = None;
        while let Some(chunk) = stream.message().await.expect("the signed zone") {
            last = Some(chunk);
        }
        assert!(last.is_some_and(|l| l.serial > 0 && !l.summary.is_empty()), "no published version");
    });
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "the coordinator panicked on a request");
}
