//! Reading RFC 1035 §5 master files.
//!
//! Parsing is `domain`'s [`Zonefile`] scanner; this module adds what an
//! operator needs around it: `$INCLUDE` is followed (relative paths are
//! taken relative to the including file's directory, as Knot does), and
//! every record remembers the file and line it came from so that later
//! checks can point at it.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use domain::base::iana::Class;
use domain::base::name::{FlattenInto, ParsedName};
use domain::base::rdata::{ComposeRecordData, ParseRecordData};
use domain::dep::octseq::Parser;
use domain::rdata::ZoneRecordData;
use domain::zonefile::inplace::{Entry, Zonefile};

use crate::{StoredName, StoredRecord, StoredRecordData};

mod flatten;
mod prescan;

pub use flatten::{flatten_includes, Flattened};

/// How deeply `$INCLUDE` may nest before loading stops; catches loops.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Where a record was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLocation {
    /// The file, as it was named.
    pub file: Arc<Path>,
    /// 1-based line on which the record starts.
    pub line: usize,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A record together with where it was read from.
#[derive(Clone, Debug)]
pub struct LoadedRecord {
    /// The record, with absolute names.
    pub record: StoredRecord,
    /// Its place in the input.
    pub location: SourceLocation,
}

/// Why a zone file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A record or directive does not parse.
    #[error("{file}:{position}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// `line:column: message` as the scanner reports it.
        position: String,
    },
    /// The zone file scanner (`domain`'s) panicked on an entry instead of
    /// reporting what is wrong with it. The known cases are refused
    /// earlier with a proper message; this stops an unknown one from
    /// taking the process down.
    #[error("{file}:{line}: this entry cannot be read (the zone file scanner failed on it)")]
    ScannerFailure {
        /// The file.
        file: PathBuf,
        /// The first line of the entry.
        line: usize,
    },
    /// `$INCLUDE` nested too deeply (or in a loop).
    #[error("{location}: $INCLUDE nested more than {MAX_INCLUDE_DEPTH} levels deep")]
    IncludeDepth {
        /// The `$INCLUDE` that went one level too far.
        location: SourceLocation,
    },
    /// `$INCLUDE` in text that has no file behind it: followed on the
    /// coordinator, it would read the coordinator's own files.
    #[error("{location}: $INCLUDE is not allowed in zone text sent to the coordinator: it would read the coordinator's own files; expand it before sending (the frostzone CLI does)")]
    IncludeNotAllowed {
        /// The `$INCLUDE`.
        location: SourceLocation,
    },
}

/// Reads the master file at `path` with `origin` as the initial `$ORIGIN`,
/// following `$INCLUDE`s.
pub fn load_zone_file(path: &Path, origin: &StoredName) -> Result<Vec<LoadedRecord>, LoadError> {
    let mut out = Vec::new();
    Loader::new(true, |record| out.push(record)).load_file(path, origin.clone(), 0)?;
    Ok(out)
}

/// Reads master file text that has no file behind it (`name` is used in
/// messages), as the coordinator is sent it.
///
/// `$INCLUDE` is refused ([`LoadError::IncludeNotAllowed`]): RFC 1035
/// §5.1 names a file on the host that reads the text, and text sent to
/// the coordinator must not make it read its own files. Senders expand
/// includes first ([`flatten_includes`]).
pub fn load_zone_text(
    text: &str,
    name: &Path,
    origin: &StoredName,
) -> Result<Vec<LoadedRecord>, LoadError> {
    let mut out = Vec::new();
    scan_zone_text(text, name, origin, |record| out.push(record))?;
    Ok(out)
}

/// Reads master file text as [`load_zone_text`] does, handing each record
/// to `out` as it is read rather than collecting them: a caller that
/// builds something of its own from the records (a zone model) does not
/// hold them all beside it. Text given owned (a `String`) is let go as
/// soon as the scanner holds its own copy, so that a whole zone's text is
/// not held twice while it is read.
pub fn scan_zone_text<'a>(text: impl Into<Cow<'a, str>>, name: &Path, origin: &StoredName, out: impl FnMut(LoadedRecord)) -> Result<(), LoadError> {
    let text = match text.into() {
        Cow::Borrowed(t) => Cow::Borrowed(t.as_bytes()),
        Cow::Owned(t) => Cow::Owned(t.into_bytes()),
    };
    Loader::new(false, out).scan(text, name, origin.clone(), 0, 0)
}

/// Octets of text [`scan_zone_lines`] reads and scans at a time.
pub const LINE_BLOCK: usize = 1 << 20;

/// Reads master file text from `reader` as [`scan_zone_text`] does, in
/// blocks of whole lines of about [`LINE_BLOCK`] octets, so that the text
/// is never held whole (a signed zone's is 56 MB at 100,000 delegations).
///
/// For text in which every line is one whole record that needs nothing
/// from the lines before it: owner, TTL and class written out, no
/// directive, no entry over several lines, as frostzone presents a zone
/// ([`crate::present::write_zone_text`]). Other text is refused, never
/// read as other records: a line that starts with `$` (a directive) or
/// with a blank (the owner of the line before) is an error naming it, and
/// an entry cut between two blocks (an open parenthesis or quote) fails
/// to scan in its block.
pub fn scan_zone_lines(reader: impl std::io::Read, name: &Path, origin: &StoredName, out: impl FnMut(LoadedRecord)) -> Result<(), LoadError> {
    scan_lines_in_blocks(reader, LINE_BLOCK, name, origin, out)
}

/// [`scan_zone_lines`] with blocks of `block_len` octets.
fn scan_lines_in_blocks(mut reader: impl std::io::Read, block_len: usize, name: &Path, origin: &StoredName, out: impl FnMut(LoadedRecord)) -> Result<(), LoadError> {
    let io = |source| LoadError::Io { file: name.to_path_buf(), source };
    let mut loader = Loader::new(false, out);
    let block_len = block_len.max(1);
    let mut block: Vec<u8> = Vec::with_capacity(block_len);
    let mut lines_before = 0;
    let mut done = false;
    while !done {
        let start = block.len();
        block.resize(block_len.max(start * 2), 0);
        let mut filled = start;
        while filled < block.len() {
            match reader.read(&mut block[filled..]) {
                Ok(0) => {
                    done = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        block.truncate(filled);
        // Whole lines now; the rest begins the next block (all of it at
        // the end of the text).
        let cut = if done { block.len() } else { block.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) };
        if cut == 0 && !done {
            // One line longer than the block: the block grows.
            continue;
        }
        let rest = block.split_off(cut);
        // The index of the last line is the count of line feeds before it.
        let mut lines = 0;
        for (i, line) in block.split(|&b| b == b'\n').enumerate() {
            if matches!(line.first(), Some(b'$' | b' ' | b'\t')) {
                return Err(LoadError::Syntax {
                    file: name.to_path_buf(),
                    position: format!("{}: a directive or a line without its owner, in text read line by line", lines_before + i + 1),
                });
            }
            lines = i;
        }
        loader.scan(Cow::Owned(std::mem::replace(&mut block, rest)), name, origin.clone(), 0, lines_before)?;
        lines_before += lines;
    }
    Ok(())
}

/// Where a load's records go, and whether it follows `$INCLUDE`.
struct Loader<F> {
    follow_includes: bool,
    /// Whether an `$INCLUDE` was followed.
    included: bool,
    out: F,
}

impl<F: FnMut(LoadedRecord)> Loader<F> {
    fn new(follow_includes: bool, out: F) -> Self {
        Loader { follow_includes, included: false, out }
    }

    fn load_file(&mut self, path: &Path, origin: StoredName, depth: usize) -> Result<(), LoadError> {
        let text = std::fs::read(path).map_err(|source| LoadError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        self.scan(Cow::Owned(text), path, origin, depth, 0)
    }

    /// Scans `text`, the lines of `path` after the first `lines_before`.
    fn scan(&mut self, text: Cow<'_, [u8]>, path: &Path, origin: StoredName, depth: usize, lines_before: usize) -> Result<(), LoadError> {
        let file: Arc<Path> = Arc::from(path);
        // Room for the text and a little: an `@` rewritten to the origin
        // makes it longer (the buffer grows then).
        let mut zonefile = Zonefile::with_capacity(text.len() + 64);
        let prescan::Prescan { entry_lines: lines, double_dot } = prescan::prescan(&text, &origin, &mut zonefile)
            .map_err(|unclosed| LoadError::Syntax {
                file: path.to_path_buf(),
                position: prescan::Unclosed { line: unclosed.line + lines_before, ..unclosed }.to_string(),
            })?;
        // The scanner reads its own copy from here on.
        drop(text);
        zonefile.set_origin(origin);
        zonefile.set_default_class(Class::IN);
        let mut index = 0;
        loop {
            // The scanner's own positions are unreliable (they point past the
            // entry), so the line comes from our entry index.
            let line = lines.get(index).copied().unwrap_or(0) + lines_before;
            index += 1;
            // The scanner is not ours and has panicked on hostile text
            // (see prescan); a panic is turned into an error and the
            // scanner, whose state it left undefined, is not used again.
            let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| zonefile.next_entry()))
                .map_err(|_| LoadError::ScannerFailure { file: path.to_path_buf(), line })?;
            let entry = next.map_err(|e| LoadError::Syntax {
                file: path.to_path_buf(),
                position: format!("{line}: {}", scanner_message(&e.to_string())),
            })?;
            let Some(entry) = entry else { break };
            let location = SourceLocation { file: file.clone(), line };
            match entry {
                Entry::Record(record) => {
                    let record: StoredRecord = record.flatten_into();
                    if double_dot {
                        well_formed(&record).map_err(|why| LoadError::Syntax {
                            file: path.to_path_buf(),
                            position: format!("{line}: {why}"),
                        })?;
                    }
                    (self.out)(LoadedRecord { record, location })
                }
                Entry::Include {
                    path: included,
                    origin: include_origin,
                } => {
                    if !self.follow_includes {
                        return Err(LoadError::IncludeNotAllowed { location });
                    }
                    self.included = true;
                    if depth + 1 > MAX_INCLUDE_DEPTH {
                        return Err(LoadError::IncludeDepth { location });
                    }
                    let included = Path::new(AsRef::<str>::as_ref(&included));
                    let target = if included.is_absolute() {
                        included.to_path_buf()
                    } else {
                        path.parent().unwrap_or(Path::new(".")).join(included)
                    };
                    let origin = match include_origin {
                        Some(o) => o,
                        None => zonefile.origin().map_err(|e| LoadError::Syntax {
                            file: path.to_path_buf(),
                            position: format!("{}: $INCLUDE: {e}", location.line),
                        })?,
                    };
                    self.load_file(&target, origin, depth + 1)?;
                }
            }
        }
        Ok(())
    }
}

/// Checks the names the scanner made of a record: it takes `a..b` for a
/// name with an empty label inside, which no name may have (RFC 1035
/// §3.1: the empty label is the root's, last). The owner is checked as
/// a name; the RDATA by reading its wire form back, which stops such a
/// name at its first empty label, so the reading fails, leaves octets
/// over or gives other fields (an RRSIG's signature takes the rest).
fn well_formed(record: &StoredRecord) -> Result<(), String> {
    let owner = record.owner();
    if StoredName::from_octets(owner.as_octets().clone()).is_err() {
        return Err("the owner name has an empty label ('..')".into());
    }
    let mut wire = Vec::new();
    let bad_rdata = || format!("a name in the {} RDATA has an empty label ('..')", record.rtype());
    record.data().compose_rdata(&mut wire).map_err(|_| bad_rdata())?;
    let wire = bytes::Bytes::from(wire);
    let mut parser = Parser::from_ref(&wire);
    let parsed = ZoneRecordData::<bytes::Bytes, ParsedName<bytes::Bytes>>::parse_rdata(record.rtype(), &mut parser);
    match parsed {
        Ok(Some(parsed)) if parser.remaining() == 0 => {
            let parsed: StoredRecordData = parsed.flatten_into();
            if parsed == *record.data() {
                Ok(())
            } else {
                Err(bad_rdata())
            }
        }
        _ => Err(bad_rdata()),
    }
}

/// The scanner's message without its own `line:col:` prefix.
fn scanner_message(s: &str) -> &str {
    let mut parts = s.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(l), Some(c), Some(rest)) if l.trim().parse::<usize>().is_ok() && c.trim().parse::<usize>().is_ok() => rest.trim(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn origin() -> StoredName {
        StoredName::from_str("example.").unwrap()
    }

    #[test]
    fn lines_are_tracked_across_comments_and_multiline_records() {
        let text = "$TTL 300\n; comment\n\n@ IN SOA ns hostmaster (\n 1 2 3 4 5 )\nwww A 192.0.2.1\n\n\nmail A 192.0.2.2 ; x\n";
        let recs = load_zone_text(text, Path::new("t.zone"), &origin()).unwrap();
        let lines: Vec<usize> = recs.iter().map(|r| r.location.line).collect();
        assert_eq!(lines, vec![4, 6, 9]);
    }

    /// Text read line by line, in blocks of `block` octets.
    fn lines(text: &str, block: usize) -> Result<Vec<LoadedRecord>, LoadError> {
        let mut out = Vec::new();
        scan_lines_in_blocks(text.as_bytes(), block, Path::new("t.zone"), &origin(), |r| out.push(r))?;
        Ok(out)
    }

    #[test]
    fn text_read_in_blocks_of_lines_is_the_text_read_whole() {
        let mut text = String::from("example.\t300\tIN\tSOA\tns.example.\thm.example.\t1\t2\t3\t4\t5\n");
        for i in 0..200 {
            text.push_str(&format!("n{i}.example.\t300\tIN\tA\t192.0.2.{}\n", i % 250));
        }
        // A line longer than a block: the block grows to hold it.
        text.push_str(&format!("long.example.\t300\tIN\tTXT\t\"{}\"\n", "x".repeat(200)));
        text.push_str("last.example.\t300\tIN\tA\t192.0.2.1");
        let whole = load_zone_text(&text, Path::new("t.zone"), &origin()).unwrap();
        // Without a line feed at the end, and with one (a last block that is empty).
        for text in [text.clone(), format!("{text}\n")] {
            for block in [1, 7, 64, 1000, text.len(), LINE_BLOCK] {
                let read = lines(&text, block).unwrap();
                assert_eq!(read.len(), whole.len(), "block {block}");
                for (a, b) in read.iter().zip(&whole) {
                    assert_eq!((&a.record, &a.location), (&b.record, &b.location), "block {block}");
                }
            }
        }
    }

    #[test]
    fn text_that_needs_the_lines_before_is_refused_line_by_line() {
        let soa = "example. 300 IN SOA ns hm 1 2 3 4 5\n";
        // A directive, a line inheriting the owner before it: named by line.
        for (text, line) in [(format!("{soa}$TTL 300\nwww A 192.0.2.1\n"), 2), (format!("{soa}www 300 IN A 192.0.2.1\n 300 IN A 192.0.2.2\n"), 3)] {
            let e = lines(&text, 8).unwrap_err().to_string();
            assert!(e.starts_with(&format!("t.zone:{line}: a directive or a line without its owner")), "{e}");
            assert!(load_zone_text(&text, Path::new("t.zone"), &origin()).is_ok(), "the same text read whole is fine");
        }
        // An entry over two lines fails in its block, named by its line.
        let open = "www 300 IN TXT ( \"a\"\n";
        let text = format!("{soa}{open}\"b\" )\n");
        let e = lines(&text, soa.len() + open.len()).unwrap_err().to_string();
        assert!(e.starts_with("t.zone:2: a parenthesis"), "{e}");
        assert!(lines(&text, 1000).is_ok(), "in one block it reads");
        // Errors past the first block name the line in the whole text.
        let text = format!("{soa}a 300 IN A 192.0.2.1\nb 300 IN A 192.0.2.300\n");
        assert!(lines(&text, 10).unwrap_err().to_string().starts_with("t.zone:3:"));
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let text = "@ 300 IN SOA ns hm 1 2 3 4 5\nwww A 192.0.2.300\n";
        let err = load_zone_text(text, Path::new("bad.zone"), &origin()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("bad.zone:2:"), "{msg}");
    }

    #[test]
    fn include_is_followed_relative_to_the_including_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("inc.zone"), "sub A 192.0.2.9\n").unwrap();
        std::fs::write(
            dir.path().join("main.zone"),
            "@ 300 IN SOA ns hm 1 2 3 4 5\n$INCLUDE inc.zone\nwww 300 A 192.0.2.1\n",
        )
        .unwrap();
        let recs = load_zone_file(&dir.path().join("main.zone"), &origin()).unwrap();
        let owners: Vec<String> = recs.iter().map(|r| r.record.owner().to_string()).collect();
        assert_eq!(owners, vec!["example", "sub.example", "www.example"]);
        assert!(recs[1].location.file.ends_with("inc.zone"));
        assert_eq!(recs[2].location.line, 3);
    }

    #[test]
    fn include_loop_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.zone"), "$INCLUDE a.zone\n").unwrap();
        let err = load_zone_file(&dir.path().join("a.zone"), &origin()).unwrap_err();
        assert!(matches!(err, LoadError::IncludeDepth { .. }), "{err}");
    }

    /// The names check that `..` in the text turns on accepts what is well
    /// formed, of every kind of RDATA.
    #[test]
    fn records_of_every_kind_pass_the_names_check() {
        let text = "@ 300 IN SOA ns hm 1 2 3 4 5\n@ NS ns.example.net.\n@ MX 10 mail\nmail A 192.0.2.1\nmail AAAA 2001:db8::1\n\
                    _s._tcp SRV 0 5 443 www\nw CNAME www\nd DNAME other.net.\n@ TXT a..b \"q..r\"\n@ HINFO a b\n@ CAA 0 issue \"ca.net\"\n\
                    sub DS 31589 15 2 1B6E1C1B06B1C37F0D5A6E2C34A4C93E6D10D3E52B6E3F0F4E0A2D0B8C9A7E6D\n\
                    @ DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=\n\
                    @ RRSIG A 15 1 300 20300101000000 20200101000000 1 example. AAAA\n@ NSEC a.example. A NS SOA RRSIG NSEC\n\
                    @ NSEC3PARAM 1 0 0 -\nx NSEC3 1 1 0 - 2t7b4g4vsa5smi47k61mv5bv1a22bojr A RRSIG\n\
                    s SVCB 1 www alpn=h2 port=443\nh HTTPS 1 . alpn=h3\nu TYPE65534 \\# 3 abcdef\nt TLSA 3 1 1 abcd\nk SSHFP 4 2 abcd\n";
        let records = load_zone_text(text, Path::new("t"), &origin()).unwrap();
        assert_eq!(records.len(), 22);
    }

    /// Found by the zone-file fuzz target (dnssec/tests/fuzz_zone_file.rs):
    /// `domain`'s scanner panicked (index out of bounds) on each of these.
    #[test]
    fn text_the_scanner_panicked_on_is_refused_or_read() {
        for (text, outcome) in [
            ("@ IN  TXT \"unterminated \";\"", Ok(1)),
            ("@ TXT \"a\" ; c", Ok(1)),
            ("@ TXT a\r", Ok(1)),
            ("@ TXT (a;\n", Err("t:1: a parenthesis opened in this entry is never closed before the end of the text")),
            ("@ TXT (a;", Err("t:1: a parenthesis opened in this entry is never closed before the end of the text")),
            // Empty labels inside names, which the scanner reads without complaint.
            ("\\ IN  CNAME a..b", Err("t:1: a name in the CNAME RDATA has an empty label ('..')")),
            ("a..b A 192.0.2.1\n", Err("t:1: the owner name has an empty label ('..')")),
            ("x SOA a.. hm 1 2 3 4 5\n", Err("t:1: a name in the SOA RDATA has an empty label ('..')")),
            ("x TXT a..b\n", Ok(1)),
            ("x RRSIG A 15 0 300 20300101000000 0 1 a..b AAAA\n", Err("t:1: a name in the RRSIG RDATA has an empty label ('..')")),
        ] {
            let got = load_zone_text(text, Path::new("t"), &origin()).map(|r| r.len()).map_err(|e| e.to_string());
            assert_eq!(got, outcome.map_err(String::from), "{text:?}");
        }
    }
}
