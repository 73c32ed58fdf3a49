//! Whole-protocol tests: signatures must verify as plain RFC 8032 Ed25519.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use crate::*;

fn messages(count: usize, tag: &str) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("{tag} rrset {i} signed data").into_bytes())
        .collect()
}

fn verify_all(key: &[u8; 32], messages: &[Vec<u8>], signatures: &[[u8; 64]]) {
    let key = VerifyingKey::from_bytes(key).unwrap();
    assert_eq!(messages.len(), signatures.len());
    for (i, (m, s)) in messages.iter().zip(signatures).enumerate() {
        let sig = Signature::from_bytes(s);
        key.verify_strict(m, &sig)
            .unwrap_or_else(|e| panic!("item {i} does not verify: {e}"));
        assert!(key.verify(b"another message", &sig).is_err());
    }
}

fn dkg_3_of_5() -> SimulatedGroup {
    generate_with_dkg(Quorum::new(3, 5).unwrap(), &mut OsRng).unwrap()
}

/// Every signer's commitment list, by identifier.
type Commitments = BTreeMap<Identifier, Vec<frost::round1::SigningCommitments>>;

/// Runs rounds one and two for `signers` over `msgs`, returning what the
/// Coordinator holds before aggregation: the commitments (for the batch's
/// packages) and the shares.
fn run_rounds(
    group: &SimulatedGroup,
    signers: &[Identifier],
    msgs: &[Vec<u8>],
) -> (Commitments, Vec<BTreeMap<Identifier, frost::round2::SignatureShare>>) {
    let mut nonces = Vec::new();
    let mut commitments = BTreeMap::new();
    for id in signers {
        let (n, c) = commit_batch(group.key_package(id).unwrap(), msgs.len(), &mut OsRng);
        nonces.push(n);
        commitments.insert(*id, c);
    }
    let packages = SigningBatch::new(msgs, &commitments).unwrap();
    let mut shares = vec![BTreeMap::new(); msgs.len()];
    for (id, n) in signers.iter().zip(nonces) {
        let s = sign_batch(n, group.key_package(id).unwrap(), &packages).unwrap();
        for (item, share) in shares.iter_mut().zip(s) {
            item.insert(*id, share);
        }
    }
    (commitments, shares)
}

#[test]
fn dkg_every_3_subset_signs_and_2_subset_is_refused() {
    let group = dkg_3_of_5();
    assert_eq!(group.quorum(), Quorum::new(3, 5).unwrap());
    let ids = group.identifiers();
    assert_eq!(ids.len(), 5);
    let msgs = messages(7, "dkg");
    let mut subsets = 0;
    for a in 0..5 {
        for b in a + 1..5 {
            for c in b + 1..5 {
                let signers = [ids[a], ids[b], ids[c]];
                let sigs = group
                    .sign_batch(&signers, &msgs, &mut OsRng, &mut |_| {})
                    .unwrap();
                verify_all(&group.verifying_key_bytes(), &msgs, &sigs);
                subsets += 1;
            }
        }
    }
    assert_eq!(subsets, 10);

    for pair in [[ids[0], ids[1]], [ids[3], ids[4]]] {
        match group.sign_batch(&pair, &msgs, &mut OsRng, &mut |_| {}) {
            Err(ThresholdError::NotEnoughSigners {
                threshold: 3,
                found: 2,
            }) => {}
            other => panic!("2 signers accepted: {other:?}"),
        }
    }
}

#[test]
fn two_commitments_are_refused_by_round2() {
    // Below the simulated path: a Coordinator that builds packages with only
    // two commitments gets no shares from a 3-of-5 signer.
    let group = dkg_3_of_5();
    let ids = group.identifiers();
    let msgs = messages(2, "two");
    let mut commitments = BTreeMap::new();
    let mut nonces = Vec::new();
    for id in &ids[..2] {
        let (n, c) = commit_batch(group.key_package(id).unwrap(), msgs.len(), &mut OsRng);
        nonces.push(n);
        commitments.insert(*id, c);
    }
    let packages = SigningBatch::new(&msgs, &commitments).unwrap();
    let n = nonces.remove(0);
    assert!(matches!(
        sign_batch(n, group.key_package(&ids[0]).unwrap(), &packages),
        Err(ThresholdError::Frost {
            step: "round2 sign",
            ..
        })
    ));
}

#[test]
fn default_signers_and_progress_over_chunks() {
    let group = dkg_3_of_5();
    let msgs = messages(DEFAULT_CHUNK + 3, "chunked");
    let mut calls = Vec::new();
    let sigs = group
        .sign_batch(&[], &msgs, &mut OsRng, &mut |done| calls.push(done))
        .unwrap();
    assert_eq!(calls, vec![DEFAULT_CHUNK, DEFAULT_CHUNK + 3]);
    verify_all(&group.verifying_key_bytes(), &msgs, &sigs);
}

#[test]
fn all_five_of_3_of_5_sign() {
    let group = dkg_3_of_5();
    let msgs = messages(3, "five");
    let sigs = group
        .sign_batch(&group.identifiers(), &msgs, &mut OsRng, &mut |_| {})
        .unwrap();
    verify_all(&group.verifying_key_bytes(), &msgs, &sigs);
}

#[test]
fn bad_signer_sets_are_refused() {
    let group = dkg_3_of_5();
    let ids = group.identifiers();
    let msgs = messages(1, "bad");
    let stranger = Identifier::try_from(9u16).unwrap();
    assert!(matches!(
        group.sign_batch(&[ids[0], ids[1], stranger], &msgs, &mut OsRng, &mut |_| {}),
        Err(ThresholdError::UnknownSigner { signer }) if signer == stranger
    ));
    assert!(matches!(
        group.sign_batch(&[ids[0], ids[1], ids[1]], &msgs, &mut OsRng, &mut |_| {}),
        Err(ThresholdError::DuplicateSigner { signer }) if signer == ids[1]
    ));
}

#[test]
fn split_existing_key_keeps_the_public_key() {
    let original = ed25519_dalek::SigningKey::generate(&mut OsRng);
    let seed = Zeroizing::new(original.to_bytes());
    let group = split_existing_key(&seed, Quorum::new(2, 3).unwrap(), &mut OsRng).unwrap();
    assert_eq!(
        group.verifying_key_bytes(),
        original.verifying_key().to_bytes()
    );

    let msgs = messages(4, "import");
    let ids = group.identifiers();
    let sigs = group
        .sign_batch(&[ids[1], ids[2]], &msgs, &mut OsRng, &mut |_| {})
        .unwrap();
    for (m, s) in msgs.iter().zip(&sigs) {
        original
            .verifying_key()
            .verify_strict(m, &Signature::from_bytes(s))
            .unwrap();
    }
}

#[test]
fn split_known_rfc8032_key() {
    // RFC 8032 §7.1 TEST 1.
    let seed = Zeroizing::new(hex32(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    ));
    let public = hex32("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    let group = split_existing_key(&seed, Quorum::new(3, 5).unwrap(), &mut OsRng).unwrap();
    assert_eq!(group.verifying_key_bytes(), public);
    let msgs = vec![Vec::new()];
    let sigs = group
        .sign_batch(&[], &msgs, &mut OsRng, &mut |_| {})
        .unwrap();
    verify_all(&public, &msgs, &sigs);
}

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn swapped_share_names_exactly_that_signer() {
    let group = dkg_3_of_5();
    let ids = group.identifiers();
    let signers = [ids[0], ids[2], ids[4]];
    let msgs = messages(6, "swap");
    let (commitments, mut shares) = run_rounds(&group, &signers, &msgs);
    let packages = SigningBatch::new(&msgs, &commitments).unwrap();

    // Signer ids[2] hands in its share for item 1 as its share for item 4.
    let foreign = shares[1][&ids[2]];
    shares[4].insert(ids[2], foreign);
    match aggregate_batch(&packages, &shares, &group.public) {
        Err(ThresholdError::InvalidShare { culprits }) => assert_eq!(culprits, vec![ids[2]]),
        other => panic!("bad share accepted: {other:?}"),
    }
}

#[test]
fn share_for_another_message_names_that_signer_once() {
    let group = dkg_3_of_5();
    let ids = group.identifiers();
    let signers = [ids[1], ids[2], ids[3]];
    let msgs = messages(4, "good");
    let (commitments, mut shares) = run_rounds(&group, &signers, &msgs);
    let packages = SigningBatch::new(&msgs, &commitments).unwrap();

    // Signer ids[3] signs different messages for items 0 and 2, with the
    // commitments it really made (it is honest about nonces, not messages).
    let key = group.key_package(&ids[3]).unwrap();
    let (n, c) = commit_batch(key, 2, &mut OsRng);
    let mut forged: Commitments = commitments.iter().map(|(id, list)| (*id, vec![list[0], list[2]])).collect();
    forged.insert(ids[3], c);
    let evil_messages = vec![b"evil".to_vec(); 2];
    let evil = sign_batch(n, key, &SigningBatch::new(&evil_messages, &forged).unwrap()).unwrap();
    shares[0].insert(ids[3], evil[0]);
    shares[2].insert(ids[3], evil[1]);

    match aggregate_batch(&packages, &shares, &group.public) {
        Err(ThresholdError::InvalidShare { culprits }) => assert_eq!(culprits, vec![ids[3]]),
        other => panic!("bad share accepted: {other:?}"),
    }
    // The untouched items alone still aggregate.
    let untouched: Commitments = commitments.iter().map(|(id, list)| (*id, vec![list[1], list[3]])).collect();
    let untouched_messages = [msgs[1].clone(), msgs[3].clone()];
    let sigs = aggregate_batch(
        &SigningBatch::new(&untouched_messages, &untouched).unwrap(),
        &[shares[1].clone(), shares[3].clone()],
        &group.public,
    )
    .unwrap();
    verify_all(
        &group.verifying_key_bytes(),
        &[msgs[1].clone(), msgs[3].clone()],
        &sigs,
    );
}

#[test]
fn two_cheaters_in_different_items_are_both_named() {
    let group = dkg_3_of_5();
    let ids = group.identifiers();
    let signers = [ids[0], ids[1], ids[2]];
    let msgs = messages(3, "two cheaters");
    let (commitments, mut shares) = run_rounds(&group, &signers, &msgs);
    let packages = SigningBatch::new(&msgs, &commitments).unwrap();
    let a = shares[0][&ids[0]];
    shares[1].insert(ids[0], a);
    let b = shares[2][&ids[2]];
    shares[0].insert(ids[2], b);
    match aggregate_batch(&packages, &shares, &group.public) {
        Err(ThresholdError::InvalidShare { culprits }) => {
            assert_eq!(culprits, vec![ids[0], ids[2]])
        }
        other => panic!("bad shares accepted: {other:?}"),
    }
}

#[test]
fn aggregate_checks_lengths_and_missing_shares() {
    let group = dkg_3_of_5();
    let ids = group.identifiers();
    let signers = [ids[0], ids[1], ids[2]];
    let msgs = messages(3, "lengths");
    let (commitments, mut shares) = run_rounds(&group, &signers, &msgs);
    let packages = SigningBatch::new(&msgs, &commitments).unwrap();
    assert!(matches!(
        aggregate_batch(&packages, &shares[..2], &group.public),
        Err(ThresholdError::BatchMismatch {
            expected: 3,
            found: 2,
            ..
        })
    ));
    shares[1].remove(&ids[1]);
    assert!(matches!(
        aggregate_batch(&packages, &shares, &group.public),
        Err(ThresholdError::MissingShare { item: 1, signer }) if signer == ids[1]
    ));
}

#[test]
fn sign_batch_refuses_a_foreign_commitment() {
    let group = dkg_3_of_5();
    let ids = group.identifiers();
    let msgs = messages(5, "foreign");
    let mut commitments = BTreeMap::new();
    let mut nonces = BTreeMap::new();
    for id in &ids[..3] {
        let (n, c) = commit_batch(group.key_package(id).unwrap(), msgs.len(), &mut OsRng);
        nonces.insert(*id, n);
        commitments.insert(*id, c);
    }
    // The Coordinator swaps signer 1's commitments for items 2 and 3.
    commitments.get_mut(&ids[0]).unwrap().swap(2, 3);
    let packages = SigningBatch::new(&msgs, &commitments).unwrap();
    let n = nonces.remove(&ids[0]).unwrap();
    match sign_batch(n, group.key_package(&ids[0]).unwrap(), &packages) {
        Err(ThresholdError::CommitmentMismatch { item: 2, signer }) => assert_eq!(signer, ids[0]),
        other => panic!("foreign commitment signed: {other:?}"),
    }
    // A signer whose commitment is absent altogether is refused as well.
    let n = nonces.remove(&ids[1]).unwrap();
    let (_, other_commitments) = commit_batch(group.key_package(&ids[3]).unwrap(), 5, &mut OsRng);
    let mut without = commitments.clone();
    without.remove(&ids[1]);
    without.insert(ids[3], other_commitments);
    let packages = SigningBatch::new(&msgs, &without).unwrap();
    assert!(matches!(
        sign_batch(n, group.key_package(&ids[1]).unwrap(), &packages),
        Err(ThresholdError::CommitmentMismatch { item: 0, .. })
    ));
}

#[test]
fn sign_batch_refuses_wrong_batch_length() {
    let group = dkg_3_of_5();
    let ids = group.identifiers();
    let msgs = messages(4, "length");
    let mut commitments = BTreeMap::new();
    let mut nonces = BTreeMap::new();
    for id in &ids[..3] {
        let (n, c) = commit_batch(group.key_package(id).unwrap(), msgs.len(), &mut OsRng);
        nonces.insert(*id, n);
        commitments.insert(*id, c);
    }
    // Three of the four items, each signer's list cut to match.
    let cut: BTreeMap<_, Vec<_>> = commitments.iter().map(|(id, list)| (*id, list[..3].to_vec())).collect();
    let packages = SigningBatch::new(&msgs[..3], &cut).unwrap();
    let n = nonces.remove(&ids[0]).unwrap();
    assert!(matches!(
        sign_batch(n, group.key_package(&ids[0]).unwrap(), &packages),
        Err(ThresholdError::BatchMismatch {
            expected: 4,
            found: 3,
            ..
        })
    ));
}

#[test]
fn signing_batches_check_lists() {
    let group = dkg_3_of_5();
    let ids = group.identifiers();
    let msgs = messages(3, "packages");
    let mut commitments = BTreeMap::new();
    for id in &ids[..3] {
        let (_, c) = commit_batch(group.key_package(id).unwrap(), msgs.len(), &mut OsRng);
        commitments.insert(*id, c);
    }
    let packages = SigningBatch::new(&msgs, &commitments).unwrap();
    assert_eq!(packages.len(), msgs.len());
    assert_eq!(packages.signers().copied().collect::<Vec<_>>(), ids[..3].to_vec());
    assert_eq!(packages.commitment(msgs.len(), &ids[0]), None);
    for i in 0..packages.len() {
        let p = packages.package(i);
        assert_eq!(p.message(), &msgs[i]);
        for id in &ids[..3] {
            assert_eq!(p.signing_commitment(id), Some(commitments[id][i]));
            assert_eq!(packages.commitment(i, id), Some(&commitments[id][i]));
        }
        // A signer not chosen has no commitment, and no package names it.
        assert_eq!(packages.commitment(i, &ids[3]), None);
        assert_eq!(p.signing_commitments().len(), 3);
    }
    commitments.get_mut(&ids[1]).unwrap().pop();
    match SigningBatch::new(&msgs, &commitments) {
        Err(
            e @ ThresholdError::BatchMismatch {
                expected: 3,
                found: 2,
                ..
            },
        ) => {
            assert_eq!(
                e.to_string(),
                "batch length mismatch: commitments of signer 2 has 2 items, expected 3"
            )
        }
        other => panic!("short list accepted: {other:?}"),
    }
    commitments.retain(|id, _| *id == ids[0]);
    assert!(matches!(
        SigningBatch::new(&msgs, &commitments),
        Err(ThresholdError::NotEnoughSigners {
            threshold: 2,
            found: 1
        })
    ));
}

#[test]
fn error_messages_name_signers() {
    let e = ThresholdError::InvalidShare {
        culprits: vec![
            Identifier::try_from(2u16).unwrap(),
            Identifier::try_from(5u16).unwrap(),
        ],
    };
    assert_eq!(e.to_string(), "invalid signature share from signer(s) 2, 5");
}
