//! Share refresh through the signer API ([`crate::refresh`]): three
//! signers refresh a 2-of-3 CSK, this test playing the coordinator. The
//! refreshed share stays aside until a commit carries every participant's
//! confirmation of one package; a commit short of one, with a forged
//! confirmation or another package changes nothing; after the commit the
//! key signs with the new shares (that old and new shares do not combine
//! is `dkg`'s unit test and the `share_refresh` drill's).

use frostzone_proto::v1::signer_server::Signer;
use frostzone_proto::v1::*;
use frostzone_proto::API_VERSION;
use frostzone_threshold::frost;
use tonic::Request;

use crate::tests::{a_item, approved, audit_log, ceremony_approved, dkg, dkg_rounds, node_with_policy, pid, rid, sign_round, Signer1};

fn refresh_ceremony(signers: &[Signer1], key_tag: u32, group_key: &[u8]) -> KeyCeremony {
    let mut ids: Vec<_> = signers.iter().map(|s| s.id).collect();
    ids.sort();
    KeyCeremony {
        kind: CeremonyKind::Refresh.into(),
        zone: "example.".into(),
        role: KeyRole::Csk.into(),
        threshold: 2,
        participants: ids.iter().map(|id| pid(id).unwrap()).collect(),
        key_tag,
        group_public_key: group_key.to_vec(),
        repaired: None,
    }
}

fn commit(request_id: &str, package: &[u8], confirmations: Vec<RefreshConfirmation>) -> Request<CommitRefreshRequest> {
    Request::new(CommitRefreshRequest {
        api_version: API_VERSION,
        request_id: request_id.into(),
        public_key_package: package.to_vec(),
        confirmations,
    })
}

/// The approved refresh ceremony of these tests.
const REFRESH_ID: &str = "4ef4e540000000000000000000004ef4";

/// Three signers with a 2-of-3 CSK whose refresh DKG ran (approved by each
/// operator) but is not committed: the key, the old package, its tag and
/// every signer's finish.
async fn refreshed() -> (Vec<Signer1>, [u8; 32], frost::keys::PublicKeyPackage, u32, Vec<DkgFinishResponse>) {
    // Refreshes wait for each operator here (`ceremony_approved` approves).
    let policy = "version = 1\n[approval]\nshare_refresh = \"operator\"\n";
    let signers: Vec<Signer1> = (1..=3).map(|i| node_with_policy(i, policy)).collect();
    let (group_key, old_public, key_tag) = dkg(&signers, 2).await;
    ceremony_approved(&signers, REFRESH_ID, refresh_ceremony(&signers, key_tag, &group_key)).await;
    let finished = dkg_rounds(&signers, REFRESH_ID, b"refresh-session1", &refresh_ceremony(&signers, key_tag, &group_key)).await;
    (signers, group_key, old_public, key_tag, finished)
}

fn confirmations_of(signers: &[Signer1], finished: &[DkgFinishResponse]) -> Vec<RefreshConfirmation> {
    signers.iter().zip(finished).map(|(s, f)| RefreshConfirmation { from: pid(&s.id), signature: f.refresh_confirmation.clone() }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_commits_only_with_every_confirmation_of_one_package() {
    let (signers, group_key, old_public, key_tag, finished) = refreshed().await;
    let refresh_id = REFRESH_ID;
    let package = finished[0].public_key_package.clone();
    let new_public = frost::keys::PublicKeyPackage::deserialize(&package).unwrap();
    for f in &finished {
        assert_eq!(f.public_key_package, package);
        assert_eq!(f.group_public_key, group_key.to_vec());
        assert_eq!(f.key_tag, key_tag);
        assert!(!f.refresh_confirmation.is_empty());
    }
    assert_eq!(new_public.verifying_key(), old_public.verifying_key());
    assert_ne!(new_public, old_public, "the verifying shares did not change");
    let confirmations = confirmations_of(&signers, &finished);

    // Until the commit, the old shares sign.
    let items = vec![a_item(key_tag, 1)];
    approved(&signers, &rid(0), &items);
    sign_round(&[&signers[0], &signers[1]], b"refresh-sign-1", key_tag, &items, &old_public).await.unwrap();

    // Short of one confirmation, a forged one, another package: refused, nothing changes.
    let short = signers[0].svc.commit_refresh(commit(refresh_id, &package, confirmations[..2].to_vec())).await.unwrap_err();
    assert!(short.message().contains("signer-3 has not confirmed"), "{short:?}");
    let mut forged = confirmations.clone();
    forged[2].signature = confirmations[1].signature.clone();
    let forged = signers[0].svc.commit_refresh(commit(refresh_id, &package, forged)).await.unwrap_err();
    assert!(forged.message().contains("confirmations.signature"), "{forged:?}");
    let old_package = old_public.serialize().unwrap();
    let other = signers[0].svc.commit_refresh(commit(refresh_id, &old_package, confirmations.clone())).await.unwrap_err();
    assert!(other.message().contains("public_key_package"), "{other:?}");
    sign_round(&[&signers[0], &signers[2]], b"refresh-sign-2", key_tag, &items, &old_public).await.unwrap();

    // Every confirmation: every signer commits, once; asked again, the same answer.
    for s in &signers {
        let d = s.svc.commit_refresh(commit(refresh_id, &package, confirmations.clone())).await.unwrap().into_inner();
        let again = s.svc.commit_refresh(commit(refresh_id, &package, confirmations.clone())).await.unwrap().into_inner();
        assert_eq!(d.state, again.state);
        assert_eq!(audit_log(s).iter().filter(|e| e.event == "shares-refreshed").count(), 1);
    }
    sign_round(&[&signers[0], &signers[1]], b"refresh-sign-3", key_tag, &items, &new_public).await.unwrap();
    sign_round(&[&signers[1], &signers[2]], b"refresh-sign-4", key_tag, &items, &new_public).await.unwrap();
    // The ceremony is over: no second refresh DKG runs under it.
    let again = signers[0]
        .svc
        .dkg_round1(Request::new(DkgRound1Request {
            api_version: API_VERSION,
            session_id: b"refresh-session2".to_vec(),
            zone: "example.".into(),
            role: KeyRole::Csk.into(),
            threshold: 2,
            participants: refresh_ceremony(&signers, key_tag, &group_key).participants,
            request_id: refresh_id.into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::PermissionDenied, "{again:?}");
}

/// A refresh that ran while approved is committed even after its approval
/// expired (a coordinator back after a long outage): the day's window
/// bounds new steps, not the completion of one taken in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_approved_in_time_commits_after_its_approval_expired() {
    let (signers, _, _, _, finished) = refreshed().await;
    let confirmations = confirmations_of(&signers, &finished);
    let later = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3 * 86_400;
    for s in &signers {
        assert!(s.node.expire_due(later).unwrap() >= 1);
        s.svc.commit_refresh(commit(REFRESH_ID, &finished[0].public_key_package, confirmations.clone())).await.unwrap();
        assert_eq!(audit_log(s).iter().filter(|e| e.event == "shares-refreshed").count(), 1);
    }
}
