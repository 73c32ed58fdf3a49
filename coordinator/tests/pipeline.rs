//! The zone pipeline against the in-process fake signers: a sequence of
//! random change sets through SubmitChanges (NSEC3 and NSEC), each published version
//! validated and equal to a from-scratch signing except for its RRSIGs;
//! refused changes that change nothing; a restart between changes; the
//! refresh schedule; and a signer that lost its baseline.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use common::*;
use frostzone_coordinator::pipeline::input::{Input, Submission};
use frostzone_coordinator::pipeline::submit::{submit, PublishedVersion};
use frostzone_coordinator::pipeline::publication::JOURNAL_SHARE_OF_TEXTS;
use frostzone_coordinator::pipeline::{published_text, Pipeline};
use frostzone_coordinator::CoordinatorError;
use frostzone_dnssec::denial::{Denial, Nsec3Config};
use frostzone_dnssec::keys::{KeyRole, ZoneKey};
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::present::zone_text as signed_text;
use frostzone_dnssec::signing::{SigningPlan, SigningPolicy};
use frostzone_dnssec::validate::{validate_text, TrustAnchor, ValidationOptions};
use frostzone_dnssec::zone::{InputKind, Zone};
use frostzone_dnssec::StoredName;
use frostzone_proto::v1 as pb;
use rand::{Rng, SeedableRng};

fn apex() -> StoredName {
    StoredName::from_str(ZONE).unwrap()
}

/// The test's own model of the unsigned zone: its host records.
struct Model {
    hosts: BTreeSet<String>,
    serial: u32,
}

const SOA_TAIL: &str = "7200 3600 1209600 300";

impl Model {
    fn new(n: usize) -> Model {
        Model { hosts: (0..n).map(|i| format!("h{i}.example.\t300\tIN\tA\t192.0.2.{}", i % 250 + 1)).collect(), serial: 1 }
    }

    fn soa(serial: u32) -> String {
        format!("example.\t300\tIN\tSOA\tns.example. hostmaster.example. {serial} {SOA_TAIL}")
    }

    fn text(&self) -> String {
        let mut t = format!("{}\nexample.\t300\tIN\tNS\tns.example.\nns.example.\t300\tIN\tA\t192.0.2.53\n", Model::soa(self.serial));
        for h in &self.hosts {
            t.push_str(h);
            t.push('\n');
        }
        t
    }

    /// A random change set from the current serial to the next: one or two
    /// records removed, one or two added (sometimes at new names, sometimes
    /// beside existing ones); applied to the model.
    fn random_change(&mut self, rng: &mut impl Rng, step: usize) -> String {
        let mut removed = Vec::new();
        for _ in 0..rng.gen_range(1..=2) {
            let pick = rng.gen_range(0..self.hosts.len());
            let line = self.hosts.iter().nth(pick).unwrap().clone();
            self.hosts.remove(&line);
            removed.push(line);
        }
        let mut added = Vec::new();
        for k in 0..rng.gen_range(1..=2) {
            let line = if rng.gen_bool(0.5) {
                format!("n{step}x{k}.example.\t300\tIN\tA\t198.51.100.{}", rng.gen_range(1..250))
            } else {
                let owner = self.hosts.iter().next().unwrap().split('\t').next().unwrap().to_string();
                format!("{owner}\t300\tIN\tTXT\t\"step {step} {k}\"")
            };
            if self.hosts.insert(line.clone()) {
                added.push(line);
            }
        }
        let mut text = format!("{}\n", Model::soa(self.serial));
        for r in &removed {
            text.push_str(r);
            text.push('\n');
        }
        self.serial += 1;
        text.push_str(&format!("{}\n", Model::soa(self.serial)));
        for a in &added {
            text.push_str(a);
            text.push('\n');
        }
        text
    }
}

fn csk(c: &Cluster) -> ZoneKey {
    ZoneKey::ed25519(KeyRole::Csk, c.group.as_ref().unwrap().verifying_key_bytes())
}

fn without_rrsigs(text: &str) -> Vec<String> {
    let records = load_zone_text(text, Path::new("t"), &apex()).unwrap();
    let zone = Zone::from_records(apex(), records, InputKind::Signed).unwrap();
    signed_text(&zone).lines().filter(|l| !l.contains("\tRRSIG\t")).map(str::to_string).collect()
}

/// A from-scratch signing of `unsigned` with the cluster's key (signature
/// bytes are not compared, so none are made), without its RRSIG lines.
fn scratch(c: &Cluster, unsigned: &str, denial: &Denial) -> Vec<String> {
    let zone = Zone::from_records(apex(), load_zone_text(unsigned, Path::new("u"), &apex()).unwrap(), InputKind::Unsigned).unwrap();
    let policy = SigningPolicy { denial: denial.clone(), ..SigningPolicy::default() };
    let plan = SigningPlan::prepare(zone, &[csk(c)], &policy, 1_780_000_000).unwrap();
    let n = plan.items().len();
    let signed = plan.complete(vec![[0; 64]; n]).unwrap();
    signed_text(&signed).lines().filter(|l| !l.contains("\tRRSIG\t")).map(str::to_string).collect()
}

fn assert_valid(c: &Cluster, text: &str) {
    let options = ValidationOptions {
        now: c.coordinator.pipeline.clock.now() as u32,
        anchor: TrustAnchor::Ds(vec![csk(c).ds(&apex())]),
        expiry_warning: 0,
    };
    let (_, report) = validate_text(text, Path::new("published"), &apex(), &options).unwrap();
    assert!(report.is_valid(), "{}", report.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"));
}

async fn submit_changes(c: &Cluster, text: String) -> Result<PublishedVersion, CoordinatorError> {
    // The whole zone back too, to compare it with a scratch signing.
    let options = pb::SignZoneOptions { zone: ZONE.into(), return_zone: true, ..Default::default() };
    let input = Input::ChangeText { text, source: "changes".into() };
    submit(&c.coordinator, Submission { operator: "operator".into(), options, input }, &|_| {}).await
}

/// Waits until every signer acknowledged `request` as its baseline.
async fn baselines_are(c: &Cluster, request: &str) {
    for _ in 0..400 {
        let b = c.coordinator.registry.signer_baselines(ZONE).unwrap();
        if b.len() == 5 && b.values().all(|id| id == request) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the signers did not all take {request} as their baseline");
}

/// The proposals fake `i` received for `request`: (incremental, items, context).
fn proposals_of(c: &Cluster, i: usize, request: &str) -> Vec<(bool, usize, usize)> {
    c.fake(i).proposals.lock().unwrap().iter().filter(|p| p.0 == request).map(|p| (p.1, p.2, p.3)).collect()
}

async fn first_version(c: &Cluster, model: &Model) -> PublishedVersion {
    let signed = sign(c, options(""), model.text()).await.unwrap();
    assert_eq!((signed.serial, signed.signatures_kept), (1, 0));
    assert!(signed.changes.is_none());
    baselines_are(c, &signed.request_id).await;
    signed
}

/// `steps` random change sets on a zone signed with `denial` (an option
/// name and the policy it names): each one validates, equals a scratch
/// signing and reaches every signer as an increment.
async fn random_change_sets(denial: (&str, Denial), steps: usize) {
    let c = cluster([Behaviour::Good; 5]).await;
    let mut model = Model::new(30);
    let signed = sign(&c, options(denial.0), model.text()).await.unwrap();
    assert_eq!((signed.serial, signed.signatures_kept), (1, 0));
    baselines_are(&c, &signed.request_id).await;
    let full = signed.signatures_made;
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for step in 0..steps {
        let change = model.random_change(&mut rng, step);
        let signed = submit_changes(&c, change).await.unwrap_or_else(|e| panic!("step {step}: {e}"));
        assert_eq!(signed.serial, model.serial, "step {step}");
        assert_valid(&c, &signed.text().unwrap());
        assert_eq!(without_rrsigs(&signed.text().unwrap()), scratch(&c, &model.text(), &denial.1), "step {step}");
        assert!(signed.signatures_made < full / 2, "step {step}: {} of {full} signed again", signed.signatures_made);
        assert!(signed.signatures_kept > 0);
        let changes = signed.changes.as_deref().unwrap();
        assert!(changes.starts_with("example.\t300\tIN\tSOA\t"), "{changes}");
        // Every signer held the published version: every proposal was
        // incremental and carried only the signatures to make.
        for i in 1..=5 {
            assert_eq!(proposals_of(&c, i, &signed.request_id), [(true, signed.signatures_made as usize, 0)], "signer-{i}");
        }
        baselines_are(&c, &signed.request_id).await;
    }
    let state = c.coordinator.registry.zone_state(ZONE).unwrap().unwrap();
    assert_eq!(state.serial, steps as u32 + 1);
    let journal = c.coordinator.registry.zone_journal(ZONE).unwrap();
    assert_eq!(journal.len(), steps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_random_change_sets_each_validate_and_equal_a_scratch_signing() {
    random_change_sets(("", Denial::Nsec3(Nsec3Config::default())), 20).await;
}

/// NSEC chains are patched as NSEC3 chains are: a diff signs the names it
/// reaches and the NSEC records before them, not the whole zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_change_sets_in_an_nsec_zone_are_incremental() {
    random_change_sets(("nsec", Denial::Nsec), 10).await;
}

/// A one-line change of the SOA MINIMUM changes the TTL of every NSEC3
/// record (RFC 9077 §3.2), so every one is signed again: the request says so,
/// with the cause, before it is proposed; a host change of the same zone
/// does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_signs_every_denial_record_again_says_so_before_it_is_proposed() {
    let c = cluster([Behaviour::Good; 5]).await;
    let model = Model::new(1_100);
    let first = first_version(&c, &model).await;
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let progress = move |line: String| sink.lock().unwrap().push(line);
    let small = format!("{}\nh1.example.\t300\tIN\tA\t192.0.2.2\n{}\n", Model::soa(1), Model::soa(2));
    let options = pb::SignZoneOptions { zone: ZONE.into(), ..Default::default() };
    let input = Input::ChangeText { text: small, source: "changes".into() };
    submit(&c.coordinator, Submission { operator: "operator".into(), options: options.clone(), input }, &progress).await.unwrap();
    assert!(lines.lock().unwrap().iter().all(|l| !l.contains("WARNING")), "{:?}", lines.lock().unwrap());
    lines.lock().unwrap().clear();
    let published = c.coordinator.registry.zone_state(ZONE).unwrap().unwrap().signatures;
    let minimum = Model::soa(3).replace(SOA_TAIL, "7200 3600 1209600 60");
    let input = Input::ChangeText { text: format!("{}\n{minimum}\n", Model::soa(2)), source: "changes".into() };
    let signed = submit(&c.coordinator, Submission { operator: "operator".into(), options, input }, &progress).await.unwrap();
    assert!(signed.signatures_made > 1_100, "{} signatures made", signed.signatures_made);
    let lines = lines.lock().unwrap().clone();
    let warning = lines.iter().position(|l| l.contains("WARNING")).unwrap_or_else(|| panic!("no warning in {lines:?}"));
    let proposed = lines.iter().position(|l| l.contains("proposed to")).unwrap_or_else(|| panic!("not proposed? {lines:?}"));
    assert!(warning < proposed, "the warning comes after the proposal: {lines:?}");
    let text = &lines[warning];
    assert!(
        text.contains(&format!("signs {} RRsets again", signed.signatures_made)) && text.contains("from 300 s to 60 s") && text.contains("RFC 9077"),
        "{text}"
    );
    assert!(text.contains(&format!("({published} signatures are published)")), "{text}");
    assert!(published + 2 == first.signatures_made, "{published} published: the first version's {} less h1's A and NSEC3", first.signatures_made);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_changes_change_nothing() {
    let c = cluster([Behaviour::Good; 5]).await;
    let model = Model::new(5);
    first_version(&c, &model).await;
    let registry = &c.coordinator.registry;
    let before = (registry.zone_state(ZONE).unwrap(), registry.zone_signed_text(ZONE).unwrap(), registry.recent_requests(50).unwrap().len());
    let wrong = format!(
        "{}\nh1.example. 300 IN A 192.0.2.2\nmissing.example. 300 IN A 192.0.2.99\n{}\nh0.example. 300 IN A 192.0.2.1\n",
        Model::soa(7),
        Model::soa(8)
    );
    let e = submit_changes(&c, wrong).await.unwrap_err();
    let message = e.to_string();
    assert!(message.starts_with("zone example. at serial 1: changes refused, nothing was changed:"), "{message}");
    assert!(message.contains("changes:1: these changes apply to serial 7, the zone is at serial 1"), "{message}");
    assert!(message.contains("changes:3: cannot remove missing.example."), "{message}");
    assert!(message.contains("changes:5: cannot add h0.example."), "{message}");
    assert_eq!(tonic::Status::from(e).code(), tonic::Code::FailedPrecondition);
    // Only the missing record is wrong: still refused whole.
    let missing = format!("{}\nh1.example. 300 IN A 192.0.2.2\nmissing.example. 300 IN A 192.0.2.99\n{}\n", Model::soa(1), Model::soa(2));
    let e = submit_changes(&c, missing).await.unwrap_err().to_string();
    assert!(e.contains("changes:3: cannot remove missing.example.") && !e.contains("changes:2"), "{e}");
    let after = (registry.zone_state(ZONE).unwrap(), registry.zone_signed_text(ZONE).unwrap(), registry.recent_requests(50).unwrap().len());
    assert_eq!(before, after);
    // A good change still applies to the untouched version.
    let mut model = model;
    let good = model.random_change(&mut rand::rngs::StdRng::seed_from_u64(1), 0);
    assert_eq!(submit_changes(&c, good).await.unwrap().serial, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_changes_loses_nothing_and_stays_incremental() {
    let mut c = cluster([Behaviour::Good; 5]).await;
    let mut model = Model::new(20);
    first_version(&c, &model).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let signed = submit_changes(&c, model.random_change(&mut rng, 0)).await.unwrap();
    baselines_are(&c, &signed.request_id).await;
    let before = c.coordinator.registry.zone_signed_text(ZONE).unwrap().unwrap();
    c.restart(Pipeline::default()).await;
    assert_eq!(c.coordinator.registry.zone_signed_text(ZONE).unwrap().unwrap(), before);
    let signed = submit_changes(&c, model.random_change(&mut rng, 1)).await.unwrap();
    assert_eq!(signed.serial, 3);
    assert_valid(&c, &signed.text().unwrap());
    assert_eq!(without_rrsigs(&signed.text().unwrap()), scratch(&c, &model.text(), &Denial::Nsec3(Nsec3Config::default())));
    assert!(signed.signatures_kept > 0 && signed.signatures_made < 12, "{} made", signed.signatures_made);
    for i in 1..=5 {
        assert_eq!(proposals_of(&c, i, &signed.request_id), [(true, signed.signatures_made as usize, 0)], "signer-{i}");
    }
    assert_eq!(c.coordinator.registry.zone_journal(ZONE).unwrap().len(), 2);
}

/// The registry's texts are a snapshot and the journal holds the change
/// sets since: the version they rebuild is the one published, after each
/// change set and after a restart, and snapshots are written again on
/// their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_and_its_journal_rebuild_the_published_version() {
    let mut c = cluster([Behaviour::Good; 5]).await;
    c.restart(Pipeline::default().with_snapshot_every(3)).await;
    let mut model = Model::new(20);
    first_version(&c, &model).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let sorted = |text: &str| -> Vec<String> {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    let mut snapshots = BTreeSet::new();
    for step in 0..7 {
        let signed = submit_changes(&c, model.random_change(&mut rng, step)).await.unwrap_or_else(|e| panic!("step {step}: {e}"));
        assert!(signed.summary.contains("names the change reaches"), "step {step}: {}", signed.summary);
        let state = c.coordinator.registry.zone_state(ZONE).unwrap().unwrap();
        assert!(state.journal_next - state.snapshot_next() < 3, "step {step}: {state:?}");
        snapshots.insert(state.snapshot_next());
        let (_, text) = published_text(&c.coordinator.registry, ZONE, &apex()).unwrap().unwrap();
        assert_eq!(sorted(&text), sorted(&signed.text().unwrap()), "step {step}: the registry rebuilds another version");
    }
    assert!(snapshots.len() >= 3, "snapshots at journal entries {snapshots:?}");
    // Restarted between two snapshots: the journal is replayed.
    let state = c.coordinator.registry.zone_state(ZONE).unwrap().unwrap();
    assert!(state.journal_next > state.snapshot_next(), "{state:?}");
    c.restart(Pipeline::default().with_snapshot_every(3)).await;
    let signed = submit_changes(&c, model.random_change(&mut rng, 7)).await.unwrap();
    assert!(signed.summary.contains("names the change reaches"), "{}", signed.summary);
    assert_valid(&c, &signed.text().unwrap());
    assert_eq!(without_rrsigs(&signed.text().unwrap()), scratch(&c, &model.text(), &Denial::Nsec3(Nsec3Config::default())));
}

/// Without a count to force them, snapshots follow the journal's size: the
/// texts are written again once the change sets since them reach an
/// eighth of their octets, and the record's sizes are the stored ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_is_written_once_the_journal_reaches_an_eighth_of_the_texts() {
    let c = cluster([Behaviour::Good; 5]).await;
    let mut model = Model::new(20);
    first_version(&c, &model).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(23);
    let registry = &c.coordinator.registry;
    let mut snapshots = 0;
    for step in 0..12 {
        let before = registry.zone_state(ZONE).unwrap().unwrap();
        submit_changes(&c, model.random_change(&mut rng, step)).await.unwrap_or_else(|e| panic!("step {step}: {e}"));
        let state = registry.zone_state(ZONE).unwrap().unwrap();
        let (unsigned, signed) = registry.zone_texts(ZONE).unwrap().unwrap();
        assert_eq!(state.snapshot_bytes, Some((unsigned.len() + signed.len()) as u64), "step {step}");
        let pending: u64 = registry.zone_pending_changes(&state).unwrap().iter().map(|(u, s)| (u.len() + s.len()) as u64).sum();
        assert_eq!(state.journal_bytes, Some(pending), "step {step}");
        let due = before.journal_bytes.unwrap() * JOURNAL_SHARE_OF_TEXTS >= before.snapshot_bytes.unwrap();
        assert_eq!(state.snapshot_next() == state.journal_next, due, "step {step}: {before:?} -> {state:?}");
        snapshots += usize::from(due);
    }
    assert!(snapshots >= 2, "{snapshots} snapshots in 12 change sets of a 20-name zone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_that_lost_its_baseline_gets_the_full_proposal() {
    let c = cluster([Behaviour::Good; 5]).await;
    let mut model = Model::new(10);
    first_version(&c, &model).await;
    c.fake(2).lose_baseline();
    let signed = submit_changes(&c, model.random_change(&mut rand::rngs::StdRng::seed_from_u64(3), 0)).await.unwrap();
    let made = signed.signatures_made as usize;
    let again = proposals_of(&c, 2, &signed.request_id);
    assert_eq!(again.len(), 2, "{again:?}");
    assert_eq!(again[0], (true, made, 0));
    let (incremental, items, context) = again[1];
    assert!(!incremental && items == made && context > 0, "{again:?}");
    assert_eq!(items + context, Zone::from_records(
        apex(),
        load_zone_text(&signed.text().unwrap(), Path::new("s"), &apex()).unwrap(),
        InputKind::Signed,
    )
    .unwrap()
    .signed_rrsets()
    .len());
    assert_eq!(proposals_of(&c, 1, &signed.request_id), [(true, made, 0)]);
    baselines_are(&c, &signed.request_id).await;
}

/// `status` lists a signer that holds a share but missed a publication:
/// its next proposal is the whole zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_that_missed_the_publication_has_a_stale_baseline() {
    let c = cluster([Behaviour::Good, Behaviour::Good, Behaviour::Good, Behaviour::Good, Behaviour::Down]).await;
    let signed = sign(&c, options(""), Model::new(5).text()).await.unwrap();
    for _ in 0..400 {
        if c.coordinator.registry.signer_baselines(ZONE).unwrap().len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let registry = &c.coordinator.registry;
    assert_eq!(registry.stale_baselines(ZONE, &signed.request_id).unwrap(), [("signer-5".to_string(), None)]);
    let older = registry.stale_baselines(ZONE, "a later request").unwrap();
    assert_eq!(older.len(), 5, "{older:?}");
    assert!(older.iter().take(4).all(|(_, held)| held.as_deref() == Some(signed.request_id.as_str())), "{older:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresh_schedule_re_signs_due_signatures() {
    let c = cluster([Behaviour::Good; 5]).await;
    let model = Model::new(20);
    let first = first_version(&c, &model).await;
    let status = c.coordinator.pipeline.lane(ZONE).health();
    let now = c.coordinator.pipeline.clock.now();
    let due = status.next_refresh.unwrap();
    // 14-day signatures are due 6 to 5 days before they expire.
    assert!((now + 8 * 86_400..now + 9 * 86_400 + 3600).contains(&due), "{}", due - now);
    // Half a day into the refresh window: some signatures are due, not all.
    c.coordinator.pipeline.clock.advance((due - now + 12 * 3600) as i64);
    c.coordinator.pipeline.wake(ZONE);
    let mut state = None;
    for _ in 0..400 {
        let s = c.coordinator.registry.zone_state(ZONE).unwrap().unwrap();
        if s.serial >= 2 {
            state = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let state = state.expect("the schedule refreshed the zone");
    assert_eq!(state.serial, 2, "refreshed more than once");
    assert!(state.signatures_made > 1 && state.signatures_made < first.signatures_made, "{} of {}", state.signatures_made, first.signatures_made);
    let session = c.coordinator.registry.requests_with_id_prefix(&state.request_id).unwrap().remove(0);
    assert_eq!(session.submitted_by, "refresh schedule");
    // A patch of the names with due signatures: every signer is proposed
    // those signatures as an increment, not the whole zone again.
    for i in 1..=5 {
        assert_eq!(proposals_of(&c, i, &state.request_id), [(true, state.signatures_made as usize, 0)], "signer {i}");
    }
    // As published: the snapshot with the journal applied (a refresh is a
    // patch, journaled like a change set).
    let (_, text) = published_text(&c.coordinator.registry, ZONE, &apex()).unwrap().unwrap();
    assert_valid(&c, &text);
    let mut refreshed = model;
    refreshed.serial = 2;
    assert_eq!(without_rrsigs(&text), scratch(&c, &refreshed.text(), &Denial::Nsec3(Nsec3Config::default())));
    // The lane's health follows the registry a moment later (after the
    // audit entry): wait for it rather than read it at once.
    let mut health = c.coordinator.pipeline.lane(ZONE).health();
    for _ in 0..200 {
        if health.next_refresh.is_some_and(|t| t > c.coordinator.pipeline.clock.now()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        health = c.coordinator.pipeline.lane(ZONE).health();
    }
    assert!(health.next_refresh.unwrap() > c.coordinator.pipeline.clock.now(), "the next refresh is still in the past: {health:?}");
    assert!(health.warning.is_empty());
    // Nothing is due any more: the schedule, woken again, publishes nothing.
    c.coordinator.pipeline.wake(ZONE);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.coordinator.registry.zone_state(ZONE).unwrap().unwrap().serial, 2);
}
