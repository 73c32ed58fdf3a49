//! Load: a real 3-of-5 cluster (six processes, mutual TLS) publishing five zones while 50 diff
//! submissions, ten per zone, arrive at once over gRPC.
//!
//! Each zone's ten diffs form a chain (serial k to k + 1), and all fifty are sent together, so
//! most arrive before the version they apply to: the coordinator refuses those whole ("these
//! changes apply to serial k, the zone is at serial j"), and the client sends them again once the
//! zone moved, as a pipeline would. Nothing may be lost or published twice, each zone's serials
//! must follow the chain's order, and every zone must end with all ten records. Figures are
//! printed, not asserted (benchmarks hold speed goals).

use std::sync::Arc;
use std::time::{Duration, Instant};

use frostzone_proto::v1::coordinator_client::CoordinatorClient;
use frostzone_proto::v1::{GetZoneRequest, SignZoneChunk, SignZoneOptions};
use frostzone_proto::API_VERSION;
use frostzone_tests::cluster::Cluster;
use tonic::transport::Channel;

const ZONES: usize = 5;
const DIFFS: u32 = 10;
/// Far beyond what the run needs (a few seconds of signing); a deadlock fails rather than hangs.
const DEADLINE: Duration = Duration::from_secs(300);

fn zone(i: usize) -> String {
    format!("zone{i}.example.")
}

fn soa(zone: &str, serial: u32) -> String {
    format!("{zone} 300 IN SOA ns.{zone} hostmaster.{zone} {serial} 7200 3600 1209600 300")
}

fn first_version(zone: &str) -> String {
    let mut text = format!("{}\n{zone} 300 IN NS ns.{zone}\nns.{zone} 300 IN A 192.0.2.53\n", soa(zone, 1));
    for h in 0..40 {
        text.push_str(&format!("h{h}.{zone} 300 IN A 192.0.2.{}\n", h + 1));
    }
    text
}

/// Diff `k` of `zone`: input serial k to k + 1, one TXT record added.
fn diff(zone: &str, k: u32) -> String {
    format!("{}\n{}\nd{k}.{zone} 300 IN TXT \"diff {k}\"\n", soa(zone, k), soa(zone, k + 1))
}

/// One SubmitChanges: the published serial, or the refusal.
async fn submit(client: &mut CoordinatorClient<Channel>, zone: &str, text: String) -> Result<u32, tonic::Status> {
    let options = SignZoneOptions { zone: zone.to_string(), source_name: "load.ixfr".into(), ..SignZoneOptions::default() };
    let chunks = vec![SignZoneChunk { api_version: API_VERSION, options: Some(options), data: text.into_bytes() }];
    let mut stream = client.submit_changes(tokio_stream::iter(chunks)).await?.into_inner();
    let mut serial = None;
    while let Some(chunk) = stream.message().await? {
        if !chunk.summary.is_empty() {
            serial = Some(chunk.serial);
        }
    }
    serial.ok_or_else(|| tonic::Status::internal("the stream ended without a summary"))
}

#[test]
fn fifty_concurrent_diffs_over_five_zones_lose_nothing_and_keep_each_zones_order() {
    let mut cluster = Cluster::new(5, 3);
    cluster.start_all();
    cluster.wait_ready(5);
    for i in 0..ZONES {
        cluster.generate_keys(&zone(i));
        let file = cluster.dir.path().join(format!("zone{i}.zone"));
        std::fs::write(&file, first_version(&zone(i))).expect("write the zone");
        let out = cluster.dir.path().join(format!("zone{i}.signed"));
        let signed = frostzone_tests::programs::run(&mut cluster.sign_command(&zone(i), &file, &out));
        assert!(signed.status.success(), "{}", String::from_utf8_lossy(&signed.stderr));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let published = runtime.block_on(async {
        let started = Instant::now();
        let refusals = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        // Sent out of order (k = 8, 5, 2, 9, ...): most arrive before the version they apply to.
        for i in 0..ZONES {
            for k in (0..DIFFS).map(|j| (j * 7 + 7) % DIFFS + 1) {
                let mut client = cluster.coordinator_client().await;
                let refusals = refusals.clone();
                tasks.spawn(async move {
                    let z = zone(i);
                    loop {
                        match submit(&mut client, &z, diff(&z, k)).await {
                            Ok(serial) => return (i, k, serial, started.elapsed()),
                            Err(status) if status.message().contains("these changes apply to serial") => {
                                refusals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                assert!(started.elapsed() < DEADLINE, "{z} diff {k} still refused after {DEADLINE:?}: {status:?}");
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            Err(status) => panic!("{z} diff {k}: {status:?}"),
                        }
                    }
                });
            }
        }
        let mut published: Vec<(usize, u32, u32, Duration)> = Vec::new();
        while let Some(done) = tasks.join_next().await {
            published.push(done.expect("a submission task panicked"));
        }
        let wall = started.elapsed();
        println!(
            "50 diffs over {ZONES} zones published in {:.2} s ({:.1} ms a diff on average, {} refusals sent again)",
            wall.as_secs_f64(),
            wall.as_secs_f64() * 1e3 / published.len() as f64,
            refusals.load(std::sync::atomic::Ordering::Relaxed)
        );
        published
    });
    assert_eq!(published.len(), ZONES * DIFFS as usize, "every diff published once");
    for i in 0..ZONES {
        let mut chain: Vec<(u32, u32)> = published.iter().filter(|p| p.0 == i).map(|p| (p.1, p.2)).collect();
        chain.sort();
        let serials: Vec<u32> = chain.iter().map(|c| c.1).collect();
        assert_eq!(chain.len(), DIFFS as usize, "{}: {chain:?}", zone(i));
        assert!(serials.windows(2).all(|w| w[1] == w[0] + 1), "{}: serials follow the chain's order: {chain:?}", zone(i));
        let text = runtime.block_on(async {
            let mut c = cluster.coordinator_client().await;
            let mut stream = c.get_zone(GetZoneRequest { api_version: API_VERSION, zone: zone(i) }).await.expect("GetZone").into_inner();
            let mut text = Vec::new();
            while let Some(chunk) = stream.message().await.expect("GetZone stream") {
                text.extend(chunk.data);
            }
            String::from_utf8(text).expect("zone text")
        });
        for k in 1..=DIFFS {
            assert!(text.contains(&format!("\"diff {k}\"")), "{} lacks diff {k}:\n{text}", zone(i));
        }
        assert!(text.contains(&format!(" {} 7200 3600 1209600 300", serials[serials.len() - 1])), "{}: the last serial is served", zone(i));
    }
    cluster.assert_running();
}
