//! The presentation format frostzone writes (RFC 1035 §5.1, RFC 3597 §5,
//! RFC 4034 §§2.2, 3.2, 4.2, 5.3, RFC 5155 §§3.3, 4.3).
//!
//! `domain`'s own zone file output is not safe to hand to other tools:
//! some record types lose the trailing dot of a name or print the root as
//! `..`, and RRSIG times come out as integers, which NSD refuses. So names
//! are always written fully qualified here, DNSSEC records are written by
//! this module, and any other type whose `domain` presentation does not
//! read back to the same RDATA falls back to the RFC 3597 generic form.

use base64::Engine;
use domain::base::iana::Rtype;
use domain::base::rdata::ComposeRecordData;
use domain::base::zonefile_fmt::{DisplayKind, ZonefileFmt};
use domain::base::Ttl;
use domain::rdata::dnssec::RtypeBitmap;
use domain::rdata::ZoneRecordData;

use crate::name::FqdnDisplay;
use crate::time::format_timestamp;
use crate::zone::{Rrset, SignatureRecord, Zone};
use crate::{StoredName, StoredRecord, StoredRecordData};

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn bitmap_text(bitmap: &RtypeBitmap<bytes::Bytes>) -> String {
    let types: Vec<String> = bitmap.iter().map(|t| t.to_string()).collect();
    types.join(" ")
}

/// The RDATA of `data` in presentation format.
pub fn rdata_text(data: &StoredRecordData) -> String {
    use ZoneRecordData as D;
    match data {
        D::A(a) => a.addr().to_string(),
        D::Aaaa(a) => a.addr().to_string(),
        D::Ns(ns) => FqdnDisplay(ns.nsdname()).to_string(),
        D::Cname(c) => FqdnDisplay(c.cname()).to_string(),
        D::Dname(d) => FqdnDisplay(d.dname()).to_string(),
        D::Ptr(p) => FqdnDisplay(p.ptrdname()).to_string(),
        D::Mx(mx) => format!("{} {}", mx.preference(), FqdnDisplay(mx.exchange())),
        D::Srv(s) => format!("{} {} {} {}", s.priority(), s.weight(), s.port(), FqdnDisplay(s.target())),
        D::Soa(soa) => format!(
            "{} {} {} {} {} {} {}",
            FqdnDisplay(soa.mname()),
            FqdnDisplay(soa.rname()),
            soa.serial().into_int(),
            soa.refresh().as_secs(),
            soa.retry().as_secs(),
            soa.expire().as_secs(),
            soa.minimum().as_secs()
        ),
        D::Dnskey(k) => format!("{} {} {} {}", k.flags(), k.protocol(), k.algorithm().to_int(), b64(k.public_key().as_ref())),
        D::Cdnskey(k) => format!("{} {} {} {}", k.flags(), k.protocol(), k.algorithm().to_int(), b64(k.public_key().as_ref())),
        D::Ds(ds) => format!("{} {} {} {}", ds.key_tag(), ds.algorithm().to_int(), ds.digest_type().to_int(), hex::encode_upper(ds.digest())),
        D::Cds(ds) => format!("{} {} {} {}", ds.key_tag(), ds.algorithm().to_int(), ds.digest_type().to_int(), hex::encode_upper(ds.digest())),
        D::Rrsig(sig) => format!(
            "{} {} {} {} {} {} {} {} {}",
            sig.type_covered(),
            sig.algorithm().to_int(),
            sig.labels(),
            sig.original_ttl().as_secs(),
            format_timestamp(sig.expiration().into_int()),
            format_timestamp(sig.inception().into_int()),
            sig.key_tag(),
            FqdnDisplay(sig.signer_name()),
            b64(sig.signature().as_ref())
        ),
        D::Nsec(n) => format!("{} {}", FqdnDisplay(n.next_name()), bitmap_text(n.types())).trim_end().to_string(),
        D::Nsec3(n) => format!(
            "{} {} {} {} {} {}",
            n.hash_algorithm().to_int(),
            n.flags(),
            n.iterations(),
            salt_text(n.salt().as_slice()),
            domain::utils::base32::encode_string_hex(n.next_owner().as_slice()).to_ascii_lowercase(),
            bitmap_text(n.types())
        )
        .trim_end()
        .to_string(),
        D::Nsec3param(p) => format!("{} {} {} {}", p.hash_algorithm().to_int(), p.flags(), p.iterations(), salt_text(p.salt().as_slice())),
        other => checked_domain_text(other),
    }
}

fn salt_text(salt: &[u8]) -> String {
    if salt.is_empty() {
        "-".into()
    } else {
        hex::encode_upper(salt)
    }
}

/// `domain`'s presentation of `data`, used only when it reads back to the
/// same RDATA; otherwise RFC 3597 §5 `\# length hex`.
fn checked_domain_text(data: &StoredRecordData) -> String {
    let text = data.display_zonefile(DisplayKind::Simple).to_string();
    if reads_back_as(data, &text) {
        text
    } else {
        generic_text(data)
    }
}

/// RFC 3597 §5 generic RDATA: `\# <length> <hex>`.
pub fn generic_text(data: &StoredRecordData) -> String {
    let mut wire = Vec::new();
    let _ = data.compose_rdata(&mut wire);
    if wire.is_empty() {
        "\\# 0".into()
    } else {
        format!("\\# {} {}", wire.len(), hex::encode_upper(&wire))
    }
}

/// Whether `text`, parsed as `data`'s type with no origin (so a name
/// missing its trailing dot fails), gives back identical RDATA.
fn reads_back_as(data: &StoredRecordData, text: &str) -> bool {
    use domain::zonefile::inplace::{Entry, Zonefile};
    let line = format!(". 0 IN {} {}\n", domain::base::rdata::RecordData::rtype(data), text);
    let mut zf = Zonefile::from(line.as_str());
    zf.set_default_class(domain::base::iana::Class::IN);
    match zf.next_entry() {
        Ok(Some(Entry::Record(r))) => {
            let mut a = Vec::new();
            let mut b = Vec::new();
            let _ = data.compose_rdata(&mut a);
            let _ = r.data().compose_rdata(&mut b);
            a == b
        }
        _ => false,
    }
}

/// One record as a master file line, without the line feed: `owner TTL
/// CLASS TYPE RDATA`, tab-separated, every name fully qualified (RFC 1035
/// §5.1), so that it reads back alone, with any origin.
pub fn record_text(record: &StoredRecord) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        FqdnDisplay(record.owner()),
        record.ttl().as_secs(),
        record.class(),
        record.rtype(),
        rdata_text(record.data())
    )
}

fn write_line(out: &mut dyn std::io::Write, owner: &StoredName, ttl: Ttl, rtype: Rtype, rdata: &str) -> std::io::Result<()> {
    writeln!(out, "{}\t{}\tIN\t{}\t{}", FqdnDisplay(owner), ttl.as_secs(), rtype, rdata)
}

fn write_rrset(out: &mut dyn std::io::Write, rrset: &Rrset) -> std::io::Result<()> {
    for r in &rrset.rdata {
        write_line(out, &rrset.owner, rrset.ttl, rrset.rtype, &rdata_text(&r.data()))?;
    }
    Ok(())
}

fn write_signature(out: &mut dyn std::io::Write, owner: &StoredName, sig: &SignatureRecord) -> std::io::Result<()> {
    let data = ZoneRecordData::Rrsig(sig.rrsig.clone());
    write_line(out, owner, sig.ttl, Rtype::RRSIG, &rdata_text(&data))
}

/// The whole zone as a master file: names in canonical order (RFC 4034
/// §6.1), the SOA first, each RRset followed by its RRSIGs.
pub fn zone_text(zone: &Zone) -> String {
    let mut out = Vec::with_capacity(zone.rrset_count() * 120);
    // Writing to memory cannot fail.
    let _ = write_zone_text(zone, &mut out);
    // Every piece written is a `str`.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// [`zone_text`] written to `out` line by line, never held whole (a
/// signed zone's text is 56 MB at 100,000 delegations).
pub fn write_zone_text(zone: &Zone, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    for (owner, node) in zone.nodes() {
        let mut rrsets: Vec<&Rrset> = node.rrsets.values().collect();
        rrsets.sort_by_key(|r| (r.rtype != Rtype::SOA, r.rtype.to_int()));
        for rrset in rrsets {
            write_rrset(out, rrset)?;
            for sig in node.signatures.iter().filter(|s| s.rrsig.type_covered() == rrset.rtype) {
                write_signature(out, &owner.0, sig)?;
            }
        }
        // RRSIGs that cover nothing present are still written, so that a
        // validator reading this text sees them and can complain.
        for sig in node.signatures.iter().filter(|s| node.get(s.rrsig.type_covered()).is_none()) {
            write_signature(out, &owner.0, sig)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn names_escape_what_master_files_would_misread() {
        let n = StoredName::from_str("\\@sign.we\\.ird.\\032sp.\\$x.example.").unwrap();
        assert_eq!(FqdnDisplay(&n).to_string(), "\\@sign.we\\.ird.\\032sp.\\$x.example.");
        assert_eq!(FqdnDisplay(&StoredName::root_bytes()).to_string(), ".");
    }

    #[test]
    fn timestamps_use_the_calendar_form() {
        assert_eq!(format_timestamp(0), "19700101000000");
        // RFC 4034 §3.3 example: 20030322173103.
        assert_eq!(format_timestamp(1_048_354_263), "20030322173103");
        assert_eq!(format_timestamp(1_709_251_199), "20240229235959");
    }

    #[test]
    fn srv_and_svcb_root_targets_read_back() {
        let origin = StoredName::from_str("example.").unwrap();
        let text = "_sip._tcp 300 IN SRV 0 5 5060 sip.example.\nsvc 300 IN HTTPS 1 . alpn=h2\n";
        let recs = crate::load::load_zone_text(text, std::path::Path::new("t"), &origin).unwrap();
        for r in recs {
            let t = rdata_text(r.record.data());
            assert!(reads_back_as(r.record.data(), &t) || t.starts_with("\\#"), "{t}");
            assert!(!t.contains(".."), "{t}");
        }
    }
}
