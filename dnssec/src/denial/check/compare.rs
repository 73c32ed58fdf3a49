//! A proposed denial RRset against the one the generator derives from the
//! content, field by field, so that a finding says exactly what differs.

use std::collections::BTreeSet;

use bytes::Bytes;
use domain::base::iana::Rtype;
use domain::base::ToName;
use domain::rdata::dnssec::RtypeBitmap;
use domain::rdata::ZoneRecordData;
use domain::utils::base32;

use super::DenialFindings;
use crate::denial::nsec3::FLAG_OPT_OUT;
use crate::name::FqdnDisplay;
use crate::zone::Rrset;

/// How findings name the other side.
const DERIVED: &str = "the chain derived from the content has";

/// `proposed` (the RRset at `derived`'s owner and type, if any) must be
/// `derived`. `what` says what the record is for ("for www.example."),
/// for messages.
pub(super) fn compare(proposed: Option<&Rrset>, derived: &Rrset, what: &str, findings: &mut DenialFindings) {
    let (owner, rtype) = (&derived.owner, derived.rtype);
    let Some(have) = proposed else {
        findings.add(owner, rtype, format!("missing: {DERIVED} one {what}"));
        return;
    };
    if have.rdata.len() != derived.rdata.len() {
        findings.add(owner, rtype, format!("{} records in the RRset, {DERIVED} {}", have.rdata.len(), derived.rdata.len()));
    }
    if have.ttl != derived.ttl {
        findings.add(owner, rtype, format!(
            "TTL is {}, {DERIVED} {} (the lesser of the SOA TTL and MINIMUM, RFC 9077 §3.2)",
            have.ttl.as_secs(),
            derived.ttl.as_secs()
        ));
    }
    let (Some(have), Some(want)) = (have.rdata.first(), derived.rdata.first()) else { return };
    if have.canonical == want.canonical {
        return;
    }
    let before = findings.total;
    for problem in field_differences(&have.data(), &want.data(), what) {
        findings.add(owner, rtype, problem);
    }
    if findings.total == before && rtype != Rtype::NSEC {
        // Every field compared equal, yet the octets differ.
        findings.add(owner, rtype, format!("RDATA differs from what {DERIVED}"));
    }
}

/// A proposed RRset the derived chain does not have; `why` says what the
/// content says about the name it would be for.
pub(super) fn refuse_extra(proposed: &Rrset, why: &str, findings: &mut DenialFindings) {
    findings.add(&proposed.owner, proposed.rtype, format!("not part of the chain derived from the content: {why}"));
}

fn types_of(bitmap: &RtypeBitmap<Bytes>) -> BTreeSet<u16> {
    bitmap.iter().map(|t| t.to_int()).collect()
}

fn list(types: &BTreeSet<u16>) -> String {
    if types.is_empty() {
        return "no types".into();
    }
    types.iter().map(|t| Rtype::from_int(*t).to_string()).collect::<Vec<_>>().join(" ")
}

fn bitmap_difference(have: &RtypeBitmap<Bytes>, want: &RtypeBitmap<Bytes>, what: &str) -> Option<String> {
    let (have_types, want_types) = (types_of(have), types_of(want));
    if have_types != want_types {
        Some(format!("type bitmap lists {}, {DERIVED} {} {what} (RFC 4034 §4.1.2, RFC 5155 §3.2.1)", list(&have_types), list(&want_types)))
    } else if have.as_slice() != want.as_slice() {
        Some(format!("type bitmap lists the same types but is encoded otherwise than {DERIVED} (RFC 4034 §4.1.2)"))
    } else {
        None
    }
}

fn hash_text(hash: &[u8]) -> String {
    base32::encode_string_hex(hash).to_ascii_lowercase()
}

fn salt_text(salt: &[u8]) -> String {
    if salt.is_empty() {
        "-".into()
    } else {
        hex::encode_upper(salt)
    }
}

/// What differs between two RDATA of a denial type.
fn field_differences(have: &crate::StoredRecordData, want: &crate::StoredRecordData, what: &str) -> Vec<String> {
    let mut out = Vec::new();
    match (have, want) {
        (ZoneRecordData::Nsec(h), ZoneRecordData::Nsec(w)) => {
            // RFC 6840 §5.1 keeps the next name's case in the signed form;
            // case says nothing about which names exist, and a store keyed
            // by lowercased names cannot know the spelling, so it is not
            // compared.
            if !h.next_name().name_cmp(w.next_name()).is_eq() {
                out.push(format!("next owner is {}, {DERIVED} {}", FqdnDisplay(h.next_name()), FqdnDisplay(w.next_name())));
            }
            out.extend(bitmap_difference(h.types(), w.types(), what));
        }
        (ZoneRecordData::Nsec3(h), ZoneRecordData::Nsec3(w)) => {
            if h.hash_algorithm() != w.hash_algorithm() {
                out.push(format!("hash algorithm is {}, {DERIVED} {} (SHA-1, RFC 5155 §11)", h.hash_algorithm().to_int(), w.hash_algorithm().to_int()));
            }
            let (hf, wf) = (h.flags(), w.flags());
            if hf & FLAG_OPT_OUT != wf & FLAG_OPT_OUT {
                let state = |f: u8| if f & FLAG_OPT_OUT != 0 { "set" } else { "clear" };
                out.push(format!(
                    "Opt-Out flag is {}, {DERIVED} it {} (the whole chain shares the apex record's flag, RFC 5155 §6)",
                    state(hf),
                    state(wf)
                ));
            }
            if hf & !FLAG_OPT_OUT != wf & !FLAG_OPT_OUT {
                out.push(format!("flags are {hf}, {DERIVED} {wf} (RFC 5155 §3.1.2: other bits are zero)"));
            }
            if h.iterations() != w.iterations() {
                out.push(format!("iterations are {}, {DERIVED} {} (the NSEC3PARAM's, RFC 5155 §4)", h.iterations(), w.iterations()));
            }
            if h.salt().as_slice() != w.salt().as_slice() {
                out.push(format!("salt is {}, {DERIVED} {} (the NSEC3PARAM's, RFC 5155 §4)", salt_text(h.salt().as_slice()), salt_text(w.salt().as_slice())));
            }
            if h.next_owner().as_slice() != w.next_owner().as_slice() {
                out.push(format!(
                    "next hashed owner is {}, {DERIVED} {} (the following hash of the chain, RFC 5155 §3.1.7)",
                    hash_text(h.next_owner().as_slice()),
                    hash_text(w.next_owner().as_slice())
                ));
            }
            out.extend(bitmap_difference(h.types(), w.types(), what));
        }
        (ZoneRecordData::Nsec3param(h), ZoneRecordData::Nsec3param(w)) => {
            if h.hash_algorithm() != w.hash_algorithm() {
                out.push(format!("hash algorithm is {}, {DERIVED} {}", h.hash_algorithm().to_int(), w.hash_algorithm().to_int()));
            }
            if h.flags() != w.flags() {
                out.push(format!("flags are {}, {DERIVED} {} (RFC 5155 §4.1.2: Opt-Out MUST be zero here)", h.flags(), w.flags()));
            }
            if h.iterations() != w.iterations() {
                out.push(format!("iterations are {}, {DERIVED} {}", h.iterations(), w.iterations()));
            }
            if h.salt().as_slice() != w.salt().as_slice() {
                out.push(format!("salt is {}, {DERIVED} {}", salt_text(h.salt().as_slice()), salt_text(w.salt().as_slice())));
            }
        }
        (h, w) => out.push(format!(
            "RDATA is of type {}, {DERIVED} {}",
            domain::base::rdata::RecordData::rtype(h),
            domain::base::rdata::RecordData::rtype(w)
        )),
    }
    out
}
