//! Content hashes of signing items, the same on the coordinator and every
//! signer, so that an audit entry names exactly what was signed.
//!
//! An item's digest is SHA-256 over a length-prefixed canonical encoding of
//! everything the signature covers: owner (wire form), type, TTL, each
//! canonical RDATA (RFC 4034 §6.2, as the items travel) and every RRSIG
//! field (RFC 4034 §3.1). A content hash is SHA-256 over a domain
//! separator, the item count and the item digests in order.

use sha2::{Digest, Sha256};

use crate::v1::{KeyCeremony, RrsetRef, SigningItem};

/// Domain separator of a content hash: a hash of this format cannot be
/// confused with any other SHA-256 in the system.
const CONTENT_HASH_CONTEXT: &[u8] = b"frostzone signing content v1\0";

fn put(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// SHA-256 of one item's canonical encoding.
pub fn item_digest(item: &SigningItem) -> [u8; 32] {
    let mut h = Sha256::new();
    put(&mut h, &item.owner);
    h.update(item.rtype.to_be_bytes());
    h.update(item.ttl.to_be_bytes());
    h.update((item.rdata.len() as u64).to_be_bytes());
    for rdata in &item.rdata {
        put(&mut h, rdata);
    }
    match &item.rrsig {
        None => h.update([0u8]),
        Some(f) => {
            h.update([1u8]);
            for v in [
                f.type_covered,
                f.algorithm,
                f.labels,
                f.original_ttl,
                f.expiration,
                f.inception,
                f.key_tag,
            ] {
                h.update(v.to_be_bytes());
            }
            put(&mut h, &f.signer_name);
        }
    }
    h.finalize().into()
}

/// The content hash of items given by their digests, in order.
pub fn content_hash_of_digests<'a>(digests: impl ExactSizeIterator<Item = &'a [u8; 32]>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(CONTENT_HASH_CONTEXT);
    h.update((digests.len() as u64).to_be_bytes());
    for d in digests {
        h.update(d);
    }
    h.finalize().into()
}

/// Domain separator of a removal digest.
const REMOVAL_CONTEXT: &[u8] = b"frostzone removed rrset v1\0";

/// SHA-256 naming an RRset (owner in wire form, type) that an incremental
/// proposal removes.
pub fn removal_digest(removed: &RrsetRef) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(REMOVAL_CONTEXT);
    put(&mut h, &removed.owner);
    h.update(removed.rtype.to_be_bytes());
    h.finalize().into()
}

/// Domain separator of the baseline digest of an incremental proposal.
const BASELINE_CONTEXT: &[u8] = b"frostzone baseline v1\0";

/// SHA-256 naming the request whose published content an incremental
/// proposal applies to.
pub fn baseline_digest(baseline_request_id: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(BASELINE_CONTEXT);
    put(&mut h, baseline_request_id.as_bytes());
    h.finalize().into()
}

/// The content hash of a proposal: every item's digest in order, then a
/// digest per removed RRset and, for an incremental proposal, the digest
/// of the request it applies to. An approval bound to the hash binds the
/// removals and the version the increment starts from, so that two
/// signers approving the same hash approved the same next version.
/// Without removals and baseline (a full proposal) it is
/// [`content_hash`] of the items.
pub fn proposal_hash(item_digests: &[[u8; 32]], removed: &[RrsetRef], baseline_request_id: &str) -> [u8; 32] {
    let mut tail: Vec<[u8; 32]> = removed.iter().map(removal_digest).collect();
    if !baseline_request_id.is_empty() {
        tail.push(baseline_digest(baseline_request_id));
    }
    let all: Vec<&[u8; 32]> = item_digests.iter().chain(&tail).collect();
    content_hash_of_digests(all.into_iter())
}

/// Domain separator of a key ceremony's content hash.
const CEREMONY_CONTEXT: &[u8] = b"frostzone key ceremony v1\0";

/// The content hash of a key ceremony: what a signer's approval of it is
/// bound to. Every field counts, participants in the order given (the
/// proposer sorts them).
pub fn ceremony_hash(ceremony: &KeyCeremony) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(CEREMONY_CONTEXT);
    h.update(ceremony.kind.to_be_bytes());
    put(&mut h, ceremony.zone.as_bytes());
    h.update(ceremony.role.to_be_bytes());
    h.update(ceremony.threshold.to_be_bytes());
    h.update((ceremony.participants.len() as u64).to_be_bytes());
    for p in &ceremony.participants {
        put(&mut h, &p.id);
    }
    h.update(ceremony.key_tag.to_be_bytes());
    put(&mut h, &ceremony.group_public_key);
    // Only repairs name a repaired holder; other hashes stay as they were.
    if let Some(repaired) = &ceremony.repaired {
        put(&mut h, &repaired.id);
    }
    h.finalize().into()
}

/// The content hash of `items`, in order.
pub fn content_hash(items: &[SigningItem]) -> [u8; 32] {
    let digests: Vec<[u8; 32]> = items.iter().map(item_digest).collect();
    content_hash_of_digests(digests.iter())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::RrsigFields;

    fn item(ttl: u32) -> SigningItem {
        SigningItem {
            owner: b"\x03www\x07example\x00".to_vec().into(),
            rtype: 1,
            ttl,
            rdata: vec![vec![192, 0, 2, 1].into()],
            rrsig: Some(RrsigFields {
                type_covered: 1,
                algorithm: 15,
                labels: 2,
                original_ttl: ttl,
                expiration: 2000,
                inception: 1000,
                key_tag: 12345,
                signer_name: b"\x07example\x00".to_vec().into(),
            }),
        }
    }

    #[test]
    fn removals_are_bound_by_the_proposal_hash() {
        let digests = [item_digest(&item(300))];
        let none = proposal_hash(&digests, &[], "");
        assert_eq!(none, content_hash(&[item(300)]));
        // The version an increment starts from is bound too.
        assert_ne!(proposal_hash(&digests, &[], "00aa"), none);
        assert_ne!(proposal_hash(&digests, &[], "00aa"), proposal_hash(&digests, &[], "00ab"));
        let www = RrsetRef { owner: b"\x03www\x07example\x00".to_vec(), rtype: 1 };
        let mail = RrsetRef { owner: b"\x04mail\x07example\x00".to_vec(), rtype: 1 };
        let one = proposal_hash(&digests, std::slice::from_ref(&www), "");
        assert_ne!(one, none);
        assert_ne!(one, proposal_hash(&digests, &[mail], ""));
        assert_ne!(one, proposal_hash(&digests, &[RrsetRef { rtype: 28, ..www }], ""));
    }

    #[test]
    fn every_ceremony_field_counts() {
        use crate::v1::{CeremonyKind, ParticipantId};
        let base = KeyCeremony {
            kind: CeremonyKind::Dkg.into(),
            zone: "example.".into(),
            role: 1,
            threshold: 2,
            participants: vec![ParticipantId { id: vec![1] }, ParticipantId { id: vec![2] }],
            key_tag: 0,
            group_public_key: Vec::new(),
            repaired: None,
        };
        let h = ceremony_hash(&base);
        let variants = [
            KeyCeremony { kind: CeremonyKind::Import.into(), ..base.clone() },
            KeyCeremony { zone: "example.net.".into(), ..base.clone() },
            KeyCeremony { role: 2, ..base.clone() },
            KeyCeremony { threshold: 3, ..base.clone() },
            KeyCeremony { participants: vec![ParticipantId { id: vec![1] }], ..base.clone() },
            KeyCeremony { key_tag: 1, ..base.clone() },
            KeyCeremony { group_public_key: vec![0], ..base.clone() },
            KeyCeremony { repaired: Some(ParticipantId { id: vec![3] }), ..base.clone() },
        ];
        for v in variants {
            assert_ne!(ceremony_hash(&v), h, "{v:?}");
        }
    }

    #[test]
    fn every_field_and_the_order_count() {
        let a = item(300);
        let b = item(301);
        assert_ne!(item_digest(&a), item_digest(&b));
        let mut c = a.clone();
        if let Some(f) = c.rrsig.as_mut() {
            f.expiration += 1;
        }
        assert_ne!(item_digest(&a), item_digest(&c));
        // Moving octets between RDATAs changes the digest (length prefixes).
        let mut d = a.clone();
        d.rdata = vec![vec![192, 0].into(), vec![2, 1].into()];
        assert_ne!(item_digest(&a), item_digest(&d));
        assert_ne!(content_hash(&[a.clone(), b.clone()]), content_hash(&[b.clone(), a.clone()]));
        assert_ne!(content_hash(std::slice::from_ref(&a)), content_hash(&[a.clone(), a.clone()]));
        assert_eq!(content_hash(&[a.clone(), b.clone()]), content_hash(&[a, b]));
    }
}
