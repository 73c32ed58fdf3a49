//! Asking the parent's name servers for the zone's DS RRset (RFC 4034
//! §5), to learn when a KSK or CSK rollover may go on (RFC 7583 §3.3:
//! the new DS must be at the parent before the old key goes). Every
//! configured server is asked and all must give the same DS set: a
//! parent server that lags keeps the rollover waiting.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use domain::base::iana::{Rcode, Rtype};
use domain::base::{MessageBuilder, ToName};
use domain::net::client::protocol::UdpConnect;
use domain::net::client::request::{RequestMessage, SendRequest};
use domain::net::client::dgram;
use domain::rdata::Ds;
use frostzone_dnssec::keys::{ds_for, ZoneKey};
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_dnssec::StoredName;

use crate::keys::rollover::phases::ParentView;

/// How long one question waits for its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// One DS record as a parent server gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentDs {
    /// Its key tag.
    pub key_tag: u16,
    /// Its algorithm.
    pub algorithm: u8,
    /// Its digest type.
    pub digest_type: u8,
    /// Its digest.
    pub digest: Vec<u8>,
}

/// What one server answered: its DS records, or why there are none to
/// believe.
pub type ServerAnswer = Result<Vec<ParentDs>, String>;

/// Asks every server in `servers` for the DS RRset of `apex`.
pub async fn ask_parent(servers: &[SocketAddr], apex: &StoredName) -> Vec<(SocketAddr, ServerAnswer)> {
    let mut answers = Vec::with_capacity(servers.len());
    for &server in servers {
        answers.push((server, ask(server, apex).await));
    }
    answers
}

async fn ask(server: SocketAddr, apex: &StoredName) -> ServerAnswer {
    let mut builder = MessageBuilder::new_vec();
    builder.header_mut().set_random_id();
    let mut question = builder.question();
    question.push((apex, Rtype::DS)).map_err(|e| e.to_string())?;
    let request = RequestMessage::new(question).map_err(|e| e.to_string())?;
    let mut config = dgram::Config::new();
    config.set_read_timeout(ANSWER_TIMEOUT);
    config.set_max_retries(1);
    let connection = dgram::Connection::with_config(UdpConnect::new(server), config);
    let answer = connection.send_request(request).get_response().await.map_err(|e| format!("no answer: {e}"))?;
    if answer.header().rcode() != Rcode::NOERROR {
        return Err(format!("answered {}", answer.header().rcode()));
    }
    // Only the parent's own data counts (RFC 4035 §3.1.4.1: the DS is
    // authoritative in the parent), not a cache's or a referral's.
    if !answer.header().aa() {
        return Err("the answer is not authoritative: the server is not a name server of the parent zone".into());
    }
    let mut out = Vec::new();
    for record in answer.answer().map_err(|e| e.to_string())?.limit_to::<Ds<Bytes>>() {
        let record = record.map_err(|e| e.to_string())?;
        if record.owner().name_eq(apex) {
            let ds = record.data();
            out.push(ParentDs {
                key_tag: ds.key_tag(),
                algorithm: ds.algorithm().to_int(),
                digest_type: ds.digest_type().to_int(),
                digest: ds.digest().to_vec(),
            });
        }
    }
    Ok(out)
}

/// The DS set (by key tag) every server shows alike, or `None` with the
/// reason when one could not be asked, they disagree, or a DS names one
/// of `keys` by tag but not by digest (RFC 4034 §5.2: it would not
/// validate). A DS of a key the zone does not have counts by its tag, so
/// a set with a stale DS is not the set a rollover waits for.
pub fn parent_view(answers: &[(SocketAddr, ServerAnswer)], keys: &[ZoneKey], apex: &StoredName) -> (ParentView, Option<String>) {
    let none = |why: String| (ParentView::default(), Some(why));
    if answers.is_empty() {
        return none("no parent_servers configured: confirm with `frostzone keys ds-seen`".into());
    }
    let mut seen: Option<BTreeSet<u16>> = None;
    for (server, answer) in answers {
        let records = match answer {
            Ok(r) => r,
            Err(e) => return none(format!("parent server {server}: {e}")),
        };
        let mut tags = BTreeSet::new();
        for ds in records {
            if let Some(key) = keys.iter().find(|k| k.key_tag().0 == ds.key_tag && k.algorithm().to_int() == ds.algorithm) {
                let ours = ds_for(apex, &key.dnskey);
                if ds.digest_type == ours.digest_type().to_int() && ds.digest != ours.digest().as_ref() {
                    return none(format!(
                        "parent server {server}: the DS with key tag {} for {} does not match the zone's key: fix it at the parent",
                        ds.key_tag,
                        FqdnDisplay(apex)
                    ));
                }
            }
            tags.insert(ds.key_tag);
        }
        match &seen {
            None => seen = Some(tags),
            Some(first) if *first != tags => {
                return none(format!("the parent's servers disagree: {server} has key tags {tags:?}, another {first:?}"));
            }
            Some(_) => {}
        }
    }
    (ParentView { ds_on_every_server: seen }, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use frostzone_dnssec::keys::KeyRole;

    fn apex() -> StoredName {
        crate::keys::zone_name("example.").unwrap().0
    }

    fn ds_of(key: &ZoneKey) -> ParentDs {
        let ds = key.ds(&apex());
        ParentDs { key_tag: ds.key_tag(), algorithm: 15, digest_type: 2, digest: ds.digest().to_vec() }
    }

    #[test]
    fn every_server_must_show_the_same_set_with_the_right_digest() {
        let (a, b) = (ZoneKey::ed25519(KeyRole::Ksk, [1; 32]), ZoneKey::ed25519(KeyRole::Ksk, [2; 32]));
        let keys = [a.clone(), b.clone()];
        let s1: SocketAddr = "192.0.2.1:53".parse().unwrap();
        let s2: SocketAddr = "192.0.2.2:53".parse().unwrap();
        let both = [(s1, Ok(vec![ds_of(&b)])), (s2, Ok(vec![ds_of(&b)]))];
        let (view, why) = parent_view(&both, &keys, &apex());
        assert_eq!((view.ds_on_every_server, why), (Some(BTreeSet::from([b.key_tag().0])), None));
        let lagging = [(s1, Ok(vec![ds_of(&b)])), (s2, Ok(vec![ds_of(&a)]))];
        let (view, why) = parent_view(&lagging, &keys, &apex());
        assert_eq!(view.ds_on_every_server, None);
        assert!(why.unwrap().contains("disagree"));
        let down = [(s1, Ok(vec![ds_of(&b)])), (s2, Err("no answer: timeout".into()))];
        assert!(parent_view(&down, &keys, &apex()).1.unwrap().contains("192.0.2.2:53: no answer"));
        let mut wrong = ds_of(&b);
        wrong.digest[0] ^= 1;
        let bad = [(s1, Ok(vec![wrong]))];
        assert!(parent_view(&bad, &keys, &apex()).1.unwrap().contains("does not match"));
        assert!(parent_view(&[], &keys, &apex()).1.unwrap().contains("ds-seen"));
    }
}
