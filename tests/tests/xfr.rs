//! Zone transfers with real processes.
//!
//! * A real NSD secondary pulls a signed zone from our `TransferServer` by
//!   AXFR, is sent a NOTIFY for version 2 and pulls it by IXFR; transfers
//!   without the TSIG key or from an address not listed are refused.
//! * Incoming: a real NSD primary is NOTIFYed at our server (by kdig) and
//!   our `PrimarySource` receives the whole zone; a second instance of our
//!   own server, as primary, publishes two versions and its own NOTIFYs
//!   bring the whole zone, then the change set.
//!
//! NSD, dig and kdig are needed (`scripts/test` installs them); as in every test here, a missing
//! one fails the test unless `FROSTZONE_SKIP_INTEROP=1`.

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use frostzone_coordinator::config::transfer::XfrConfig;
use frostzone_coordinator::xfr::{Incoming, PrimarySource, Transfer, TransferServer};
use frostzone_dnssec::change_set::{record_text, ChangeSet, ZoneContent};
use frostzone_dnssec::keys::{KeyRole, ZoneKey};
use frostzone_dnssec::load::{load_zone_text, LoadedRecord};
use frostzone_dnssec::present::zone_text;
use frostzone_dnssec::signing::{SigningPlan, SigningPolicy};
use frostzone_dnssec::zone::{InputKind, Zone};
use frostzone_dnssec::{StoredName, StoredRecord};
use frostzone_tests::coordinator_config::{self, Primary, Secondary, TsigKey, XfrSections};
use frostzone_tests::nsd::{self, Nsd, NsdConfig, Role};
use frostzone_tests::port::free_port;
use frostzone_tests::programs::{find_program, require};
use tokio::sync::mpsc;

const SECRET: &str = "ZnJvc3R6b25lLXRlc3QteGZyLWtleS0zMi1ieXRlcyE=";
const WRONG_SECRET: &str = "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC1vdGhlciE=";
const NOW: u32 = 1_780_000_000;
/// Generous: NSD and the transfers share two cores with other builds.
const WAIT: Duration = Duration::from_secs(60);

const ZONE: &str = "$TTL 3600
@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.53
www IN A 192.0.2.1
mail IN MX 10 www
sub IN NS ns.sub
ns.sub IN A 192.0.2.54
";

// ---------------------------------------------------------------- harness

/// NSD on `port` for `zone` from `zonefile` in `role`, with the test's TSIG key.
fn start_nsd(dir: &Path, port: u16, zone: &str, zonefile: &str, role: Role) -> Nsd {
    let keys = vec![nsd::TsigKey { name: "xfr-key".to_string(), secret: SECRET.to_string() }];
    Nsd::start(dir, &NsdConfig { port, zone: zone.to_string(), zonefile: zonefile.to_string(), role, keys })
}

/// dig (BIND's), one try, short timeout: the caller polls.
async fn dig(args: &[&str]) -> String {
    let out = tokio::process::Command::new(find_program("dig").expect("dig is installed"))
        .args(["+time=2", "+tries=1"])
        .args(args)
        .output()
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

async fn kdig(args: &[&str]) -> String {
    let out = tokio::process::Command::new(find_program("kdig").expect("kdig is installed"))
        .args(["+time=2", "+retry=0"])
        .args(args)
        .output()
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Polls `check` every 200 ms until it gives a value or `WAIT` passes.
async fn poll<T, F, Fut>(what: &str, context: impl Fn() -> String, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}\n{}", context());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Everything the coordinator logs, to check what was served to whom.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("frostzone_coordinator=debug")
            .with_ansi(false)
            .with_writer(move || Tee(writer.clone()))
            .try_init();
        buf
    })
    .clone()
}

struct Tee(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Tee {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        std::io::stderr().write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_text() -> String {
    String::from_utf8_lossy(&captured_logs().lock().unwrap()).into_owned()
}

// ---------------------------------------------------------------- zones

fn apex(name: &str) -> StoredName {
    StoredName::from_str(name).unwrap()
}

fn loaded(text: &str, origin: &StoredName) -> Vec<LoadedRecord> {
    load_zone_text(text, Path::new("test"), origin).unwrap()
}

fn records(loaded: &[LoadedRecord]) -> Vec<StoredRecord> {
    loaded.iter().map(|r| r.record.clone()).collect()
}

/// `text` signed with a KSK and a ZSK (plain Ed25519, NSEC3), as records.
fn signed(text: &str, origin: &StoredName) -> Vec<LoadedRecord> {
    let key = |seed: u8, role| {
        let s = SigningKey::from_bytes(&[seed; 32]);
        (s.clone(), ZoneKey::ed25519(role, s.verifying_key().to_bytes()))
    };
    let (ksk, zsk) = (key(7, KeyRole::Ksk), key(9, KeyRole::Zsk));
    let unsigned = Zone::from_records(origin.clone(), loaded(text, origin), InputKind::Unsigned).unwrap();
    let plan = SigningPlan::prepare(unsigned, &[ksk.1.clone(), zsk.1.clone()], &SigningPolicy::default(), NOW).unwrap();
    let messages = plan.signed_data(0..plan.items().len()).unwrap();
    let sigs = plan
        .items()
        .iter()
        .zip(messages)
        .map(|(i, m)| if i.key_tag == ksk.1.key_tag() { &ksk.0 } else { &zsk.0 }.sign(&m).to_bytes())
        .collect();
    loaded(&zone_text(&plan.complete(sigs).unwrap()), origin)
}

fn change_set(origin: &StoredName, old: &[LoadedRecord], new: &[LoadedRecord]) -> ChangeSet {
    ZoneContent::compare(&ZoneContent::new(origin.clone(), old.to_vec()), &ZoneContent::new(origin.clone(), new.to_vec())).unwrap()
}

fn lines(content: &ZoneContent) -> Vec<String> {
    content.records().map(|r| record_text(&r.record)).collect()
}

async fn next_transfer(rx: &mut mpsc::Receiver<Transfer>) -> Transfer {
    tokio::time::timeout(WAIT, rx.recv()).await.expect("no transfer arrived in time").expect("channel closed")
}

fn config(sections: XfrSections) -> XfrConfig {
    XfrConfig::parse(&sections.to_toml(), Path::new(".")).unwrap().unwrap()
}

/// `[transfer]` on `listen` with the test's TSIG key and `secondaries`.
fn transfer_section(listen: &str, secondaries: Vec<Secondary>) -> coordinator_config::Transfer {
    coordinator_config::Transfer { listen: listen.to_string(), tsig_keys: vec![TsigKey::hmac_sha256("xfr-key", SECRET)], secondaries }
}

/// A secondary at `127.0.0.1:port` with the test's TSIG key.
fn secondary(port: u16) -> Secondary {
    Secondary { address: format!("127.0.0.1:{port}"), tsig_key: Some("xfr-key".to_string()), zones: None }
}

/// The hidden primary at `127.0.0.1:port` with the test's TSIG key, for `zone`.
fn primary_section(port: u16, zone: &str) -> Primary {
    Primary { address: format!("127.0.0.1:{port}"), tsig_key: Some("xfr-key".to_string()), zones: vec![zone.to_string()], min_refresh_secs: None }
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nsd_secondary_pulls_axfr_then_ixfr_and_strangers_are_refused() {
    if !require("nsd_secondary_pulls_axfr_then_ixfr_and_strangers_are_refused", &["nsd", "dig"]) {
        return;
    }
    captured_logs();
    let origin = apex("example.");
    let dir = tempfile::tempdir().unwrap();
    let nsd_port = free_port();
    let c = config(XfrSections { transfer: Some(transfer_section("127.0.0.1:0", vec![secondary(nsd_port)])), primary: None });
    let server = TransferServer::start(&c.transfer, None).await.unwrap();
    let ours = server.local_addr().port().to_string();
    let v1 = signed(ZONE, &origin);
    let v2 = signed(&ZONE.replace("hostmaster 1 ", "hostmaster 2 ").replace("192.0.2.1\n", "192.0.2.99\n"), &origin);
    assert_eq!(server.publish(origin.clone(), records(&v1)).await.unwrap(), 1);

    let t = Instant::now();
    let nsd = start_nsd(
        dir.path(),
        nsd_port,
        "example.",
        "example.zone",
        Role::Secondary { primary_port: server.local_addr().port(), key: Some("xfr-key".to_string()) },
    );
    let port = nsd_port.to_string();
    let soa_serial = || async {
        let out = dig(&["@127.0.0.1", "-p", &port, "+norec", "+short", "example.", "SOA"]).await;
        out.split_whitespace().nth(2).and_then(|s| s.parse::<u32>().ok())
    };
    poll("NSD to serve serial 1 after AXFR", || nsd.logs(), || async { (soa_serial().await == Some(1)).then_some(()) }).await;
    println!("NSD pulled version 1 by AXFR and serves it: {:?}", t.elapsed());
    assert!(log_text().contains("AXFR example. serial 1 to 127.0.0.1"), "{}", log_text());

    // Version 2: NOTIFY, then IXFR of one change set.
    let set = change_set(&origin, &v1, &v2);
    assert!(!set.removed.is_empty() && set.removed.len() < v1.len() / 2, "a small change set: {}", set.to_text());
    let t = Instant::now();
    assert_eq!(server.publish_changes(origin.clone(), set).await.unwrap(), 2);
    println!("published version 2 in {:?}", t.elapsed());
    poll("NSD to serve serial 2 after NOTIFY and IXFR", || nsd.logs(), || async {
        (soa_serial().await == Some(2)).then_some(())
    })
    .await;
    println!("NSD was notified, pulled version 2 by IXFR and serves it: {:?}", t.elapsed());
    let www = dig(&["@127.0.0.1", "-p", &port, "+norec", "+dnssec", "www.example.", "A"]).await;
    assert!(www.contains("192.0.2.99") && www.contains("RRSIG"), "{www}");
    let log = log_text();
    assert!(log.contains(&format!("NOTIFY for example. serial 2 to 127.0.0.1:{nsd_port}: acknowledged")), "{log}");
    assert!(log.contains("IXFR example. serial 2 to 127.0.0.1"), "NSD must have used IXFR:\n{log}");

    // Our IXFR from serial 1 is incremental: four SOAs (RFC 1995 §4), and
    // from the current serial it is the lone SOA (RFC 1995 §2).
    let key = format!("hmac-sha256:xfr-key:{SECRET}");
    let ixfr = dig(&["@127.0.0.1", "-p", &ours, "-y", &key, "example.", "IXFR=1"]).await;
    assert_eq!(ixfr.lines().filter(|l| l.contains("\tSOA\t")).count(), 4, "{ixfr}");
    let ixfr = dig(&["@127.0.0.1", "-p", &ours, "-y", &key, "+tcp", "example.", "IXFR=2"]).await;
    assert_eq!(ixfr.lines().filter(|l| l.contains("\tSOA\t")).count(), 1, "{ixfr}");
    // A serial the journal does not have gets the whole zone.
    let ixfr = dig(&["@127.0.0.1", "-p", &ours, "-y", &key, "+tcp", "example.", "IXFR=0"]).await;
    assert!(ixfr.lines().filter(|l| l.contains("\tSOA\t")).count() == 2 && ixfr.contains("192.0.2.99"), "{ixfr}");

    // (b) The key's owner gets AXFR; without the key, with a wrong one, or
    // from an address not listed, nothing.
    let axfr = dig(&["@127.0.0.1", "-p", &ours, "-y", &key, "example.", "AXFR"]).await;
    assert!(axfr.contains("XFR size") && axfr.contains("192.0.2.99"), "{axfr}");
    let unsigned = dig(&["@127.0.0.1", "-p", &ours, "example.", "AXFR"]).await;
    assert!(unsigned.contains("Transfer failed") && !unsigned.contains("XFR size"), "{unsigned}");
    let wrong = dig(&["@127.0.0.1", "-p", &ours, "-y", &format!("hmac-sha256:xfr-key:{WRONG_SECRET}"), "example.", "AXFR"]).await;
    assert!(!wrong.contains("XFR size"), "{wrong}");
    let stranger = dig(&["@127.0.0.1", "-b", "127.0.0.2", "-p", &ours, "-y", &key, "example.", "AXFR"]).await;
    assert!(stranger.contains("Transfer failed") && !stranger.contains("XFR size"), "{stranger}");
    let soa = dig(&["@127.0.0.1", "-b", "127.0.0.2", "-p", &ours, "example.", "SOA"]).await;
    assert!(soa.contains("status: REFUSED"), "{soa}");
    let other_zone = dig(&["@127.0.0.1", "-p", &ours, "-y", &key, "example.net.", "AXFR"]).await;
    assert!(other_zone.contains("Transfer failed") && !other_zone.contains("XFR size"), "{other_zone}");
    let log = log_text();
    assert!(log.contains("refused: not signed with the secondary's TSIG key"), "{log}");
    assert!(log.contains("refused: not a configured secondary"), "{log}");
    // A change set that does not start at the version served is refused.
    let v3 = signed(&ZONE.replace("hostmaster 1 ", "hostmaster 3 "), &origin);
    let bogus = change_set(&origin, &v1, &v3);
    let e = server.publish_changes(origin.clone(), bogus).await.unwrap_err().to_string();
    assert!(e.contains("zone example.") && e.contains("starts at serial 1, the version served is 2"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_full_zone_from_nsd_then_changes_from_our_own_primary() {
    if !require("incoming_full_zone_from_nsd_then_changes_from_our_own_primary", &["nsd", "dig", "kdig"]) {
        return;
    }
    captured_logs();

    // Part 1: NSD is the hidden primary; kdig NOTIFYs us as it would.
    let net = apex("example.net.");
    let dir = tempfile::tempdir().unwrap();
    let nsd_port = free_port();
    std::fs::write(dir.path().join("example.net.zone"), ZONE).unwrap();
    let mut nsd = start_nsd(dir.path(), nsd_port, "example.net.", "example.net.zone", Role::Primary { provide_xfr: Some("xfr-key".to_string()) });
    tokio::task::block_in_place(|| nsd.wait_serving(WAIT, String::new));
    let c = config(XfrSections {
        transfer: Some(transfer_section("127.0.0.1:0", Vec::new())),
        primary: Some(primary_section(nsd_port, "example.net")),
    });
    let (tx, mut rx) = mpsc::channel(4);
    let source = PrimarySource::new(c.primary.clone().unwrap(), tx);
    let server = TransferServer::start(&c.transfer, Some(source.clone())).await.unwrap();
    let ours = server.local_addr().port().to_string();
    let key = format!("hmac-sha256:xfr-key:{SECRET}");
    let refused = kdig(&["@127.0.0.1", "-p", &ours, "example.net.", "NOTIFY"]).await;
    assert!(refused.contains("REFUSED"), "an unsigned NOTIFY: {refused}");
    let t = Instant::now();
    let answer = kdig(&["@127.0.0.1", "-p", &ours, "-y", &key, "example.net.", "NOTIFY"]).await;
    assert!(answer.contains("NOERROR") && answer.contains(" aa"), "RFC 1996 §4.7 answer: {answer}");
    let transfer = next_transfer(&mut rx).await;
    println!("NOTIFY to received full zone from NSD: {:?}", t.elapsed());
    let Incoming::Full(content) = transfer.incoming else { panic!("want the whole zone: {transfer:?}") };
    assert_eq!((transfer.serial, content.serial(), content.len()), (1, Some(1), 7));
    assert_eq!(lines(&content), lines(&ZoneContent::new(net.clone(), loaded(ZONE, &net))));
    assert_eq!(source.serial(&net), Some(1));
    drop(server);

    // Part 2: our own server is the primary; its NOTIFYs drive the pulls.
    let org = apex("example.org.");
    let (p_port, s_port) = (free_port(), free_port());
    let p = config(XfrSections { transfer: Some(transfer_section(&format!("127.0.0.1:{p_port}"), vec![secondary(s_port)])), primary: None });
    let s = config(XfrSections {
        transfer: Some(transfer_section(&format!("127.0.0.1:{s_port}"), Vec::new())),
        primary: Some(primary_section(p_port, "example.org.")),
    });
    let (tx, mut rx) = mpsc::channel(4);
    let source = PrimarySource::new(s.primary.clone().unwrap(), tx);
    let _secondary = TransferServer::start(&s.transfer, Some(source.clone())).await.unwrap();
    let primary = TransferServer::start(&p.transfer, None).await.unwrap();
    let v1 = loaded(ZONE, &org);
    let v2 = loaded(&ZONE.replace("hostmaster 1 ", "hostmaster 2 ").replace("192.0.2.1\n", "192.0.2.99\n"), &org);
    let t = Instant::now();
    primary.publish(org.clone(), records(&v1)).await.unwrap();
    let first = next_transfer(&mut rx).await;
    println!("publish to received full zone from our own primary: {:?}", t.elapsed());
    let Incoming::Full(mut content) = first.incoming else { panic!("want the whole zone first: {first:?}") };
    assert_eq!(content.serial(), Some(1));
    let t = Instant::now();
    primary.publish_changes(org.clone(), change_set(&org, &v1, &v2)).await.unwrap();
    let second = next_transfer(&mut rx).await;
    println!("publish to received change set from our own primary: {:?}", t.elapsed());
    let Incoming::Changes(sets) = second.incoming else { panic!("want the change set: {second:?}") };
    assert_eq!((second.serial, sets.len(), sets[0].from_serial(), sets[0].to_serial()), (2, 1, 1, 2));
    for set in &sets {
        content.apply(set).unwrap();
    }
    assert_eq!(lines(&content), lines(&ZoneContent::new(org.clone(), v2.clone())));
    assert_eq!(source.serial(&org), Some(2));
    // Nothing newer: a refresh on demand transfers nothing.
    assert_eq!(source.refresh(&org).await.unwrap(), frostzone_coordinator::xfr::Refreshed::UpToDate(2));
}

/// The test's TSIG key (`SECRET` is the base64 of these 32 octets).
fn test_key() -> frostzone_dnssec::domain::tsig::Key {
    use frostzone_dnssec::domain::tsig::{Algorithm, Key, KeyName};
    Key::new(Algorithm::Sha256, b"frostzone-test-xfr-key-32-bytes!", KeyName::from_str("xfr-key").unwrap(), None, None).unwrap()
}

/// The first message of the answer to an AXFR of `origin` sent to `server` over TCP, signed
/// with `key` as at `signed_at` (seconds since the epoch).
async fn first_axfr_answer(
    server: std::net::SocketAddr,
    key: &frostzone_dnssec::domain::tsig::Key,
    origin: &StoredName,
    signed_at: u64,
) -> frostzone_dnssec::domain::base::Message<Vec<u8>> {
    use frostzone_dnssec::domain::base::iana::Rtype;
    use frostzone_dnssec::domain::base::{Message, MessageBuilder, Name};
    use frostzone_dnssec::domain::rdata::tsig::Time48;
    use frostzone_dnssec::domain::tsig::ClientTransaction;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut query = MessageBuilder::new_vec();
    query.header_mut().set_id(4711);
    let mut question = query.question();
    question.push((Name::<Vec<u8>>::from_str(&origin.to_string()).unwrap(), Rtype::AXFR)).unwrap();
    let mut additional = question.additional();
    ClientTransaction::request(key, &mut additional, Time48::from_u64(signed_at)).unwrap();
    let wire = additional.finish();
    let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
    stream.write_all(&(wire.len() as u16).to_be_bytes()).await.unwrap();
    stream.write_all(&wire).await.unwrap();
    let mut len = [0u8; 2];
    tokio::time::timeout(WAIT, stream.read_exact(&mut len)).await.expect("an answer in time").unwrap();
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut answer).await.unwrap();
    Message::from_octets(answer).unwrap()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// RFC 8945 §5.2.3: a request signed with the right key at a time more than the fudge (300 s)
/// away from ours is answered BADTIME, never with the zone; the same request signed now gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tsig_time_outside_the_fudge_is_answered_badtime() {
    use frostzone_dnssec::domain::base::iana::{Rcode, TsigRcode};
    use frostzone_dnssec::domain::base::ParsedName;
    use frostzone_dnssec::domain::rdata::tsig::Tsig;

    captured_logs();
    let origin = apex("example.");
    let c = config(XfrSections { transfer: Some(transfer_section("127.0.0.1:0", vec![secondary(free_port())])), primary: None });
    let server = TransferServer::start(&c.transfer, None).await.unwrap();
    server.publish(origin.clone(), records(&signed(ZONE, &origin))).await.unwrap();
    let key = test_key();
    let skewed = first_axfr_answer(server.local_addr(), &key, &origin, unix_now() - 3600).await;
    assert_eq!(skewed.header().rcode(), Rcode::NOTAUTH, "{:?}", skewed.header());
    assert_eq!(skewed.header_counts().ancount(), 0, "a skewed request was sent records");
    let tsig = skewed
        .additional()
        .unwrap()
        .limit_to::<Tsig<&[u8], ParsedName<&[u8]>>>()
        .next()
        .expect("the BADTIME answer carries a TSIG record (RFC 8945 §5.2.3)")
        .unwrap();
    assert_eq!(tsig.data().error(), TsigRcode::BADTIME);
    let timely = first_axfr_answer(server.local_addr(), &key, &origin, unix_now()).await;
    assert_eq!(timely.header().rcode(), Rcode::NOERROR);
    assert!(timely.header_counts().ancount() > 0, "the same request signed now gets the zone");
}

/// A secondary listed for some zones (`transfer.secondaries[].zones`) transfers those and is
/// REFUSED the others; NOTIFYs of the others do not go to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_of_one_zone_is_refused_the_others() {
    use frostzone_dnssec::domain::base::iana::Rcode;
    captured_logs();
    let (com, org) = (apex("example."), apex("example.org."));
    let notify_port = free_port();
    let mut only = secondary(notify_port);
    only.zones = Some(vec!["example.".to_string()]);
    let c = config(XfrSections { transfer: Some(transfer_section("127.0.0.1:0", vec![only])), primary: None });
    let server = TransferServer::start(&c.transfer, None).await.unwrap();
    server.publish(com.clone(), records(&signed(ZONE, &com))).await.unwrap();
    server.publish(org.clone(), records(&loaded(ZONE, &org))).await.unwrap();
    let key = test_key();
    let allowed = first_axfr_answer(server.local_addr(), &key, &com, unix_now()).await;
    assert!(allowed.header().rcode() == Rcode::NOERROR && allowed.header_counts().ancount() > 0, "{:?}", allowed.header());
    let other = first_axfr_answer(server.local_addr(), &key, &org, unix_now()).await;
    assert_eq!(other.header().rcode(), Rcode::REFUSED);
    assert_eq!(other.header_counts().ancount(), 0);
    let log = log_text();
    assert!(log.contains("example.org. from 127.0.0.1") && log.contains("not a secondary of this zone"), "{log}");
    // Both versions were published at once: by the time the first NOTIFY attempt to the
    // secondary is logged (nobody answers it), one for the other zone would be too.
    let notified = format!("NOTIFY for example. serial 1 to 127.0.0.1:{notify_port}");
    poll("the NOTIFY of example. to be attempted", log_text, || async { log_text().contains(&notified).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = log_text();
    assert!(!log.contains(&format!("NOTIFY for example.org. serial 1 to 127.0.0.1:{notify_port}")), "{log}");
}

/// RFC 1034 §4.3.5: without a NOTIFY (the primary sends it to a port where nobody listens), the
/// SOA is checked again when the primary's REFRESH runs out, and the new version is pulled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_notify_the_soa_refresh_timer_brings_the_next_version() {
    captured_logs();
    let org = apex("example.org.");
    let p_port = free_port();
    // NOTIFYs go to a port nothing listens on; transfers come from 127.0.0.1, which is allowed.
    let p = config(XfrSections { transfer: Some(transfer_section(&format!("127.0.0.1:{p_port}"), vec![secondary(free_port())])), primary: None });
    let mut section = primary_section(p_port, "example.org.");
    section.min_refresh_secs = Some(1);
    let s = config(XfrSections { transfer: Some(transfer_section("127.0.0.1:0", Vec::new())), primary: Some(section) });
    let primary = TransferServer::start(&p.transfer, None).await.unwrap();
    // REFRESH 2 s, RETRY 1 s.
    let zone = ZONE.replace("hostmaster 1 7200 3600 ", "hostmaster 1 2 1 ");
    let v1 = loaded(&zone, &org);
    let v2 = loaded(&zone.replace("hostmaster 1 ", "hostmaster 2 ").replace("192.0.2.1\n", "192.0.2.99\n"), &org);
    primary.publish(org.clone(), records(&v1)).await.unwrap();
    let (tx, mut rx) = mpsc::channel(4);
    let source = PrimarySource::new(s.primary.clone().unwrap(), tx);
    source.start_timers();
    source.refresh_in_background(&org);
    let first = next_transfer(&mut rx).await;
    assert_eq!(first.serial, 1);
    let t = Instant::now();
    primary.publish_changes(org.clone(), change_set(&org, &v1, &v2)).await.unwrap();
    let second = next_transfer(&mut rx).await;
    println!("version 2 pulled by the refresh timer after {:?}", t.elapsed());
    assert_eq!(second.serial, 2);
    assert!(matches!(second.incoming, Incoming::Changes(_)), "an IXFR: {second:?}");
    assert!(t.elapsed() < Duration::from_secs(30), "REFRESH is 2 s: {:?}", t.elapsed());
    assert!(log_text().contains("NOTIFY for example.org. serial 2"), "the NOTIFY went out (and nowhere): {}", log_text());
}
