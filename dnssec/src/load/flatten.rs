//! A master file with `$INCLUDE`s made self-contained, for sending where
//! includes are refused ([`super::load_zone_text`]), with the way back
//! from each line of the result to the file and line it came from.

use std::fmt::Write as _;
use std::path::Path;

use super::{LoadError, Loader, SourceLocation};
use crate::present::record_text;
use crate::StoredName;

/// A master file and everything it includes, as one text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flattened {
    /// Master file text: one record per line, in the order they were
    /// read, names fully qualified, no directives.
    pub text: String,
    /// Where each line of `text` was read: `lines[0]` is line 1.
    pub lines: Vec<SourceLocation>,
}

impl Flattened {
    /// Where line `line` (1-based, as errors about `text` name it) was
    /// read.
    pub fn source_of(&self, line: usize) -> Option<&SourceLocation> {
        self.lines.get(line.checked_sub(1)?)
    }
}

/// Reads the master file at `path` (initial `$ORIGIN` `origin`) and, when
/// it has an `$INCLUDE`, the records of it and of everything it includes
/// as one self-contained text (RFC 1035 §5.1 `$INCLUDE` and `$ORIGIN`
/// resolved, each record on its own line in frostzone's presentation
/// format). `None` when it has no `$INCLUDE`: the file can then be sent as
/// it is, and line numbers in errors stay the file's own.
pub fn flatten_includes(path: &Path, origin: &StoredName) -> Result<Option<Flattened>, LoadError> {
    let mut records = Vec::new();
    let mut loader = Loader::new(true, |record| records.push(record));
    loader.load_file(path, origin.clone(), 0)?;
    if !loader.included {
        return Ok(None);
    }
    let mut text = String::new();
    let mut lines = Vec::with_capacity(records.len());
    for record in records {
        let _ = writeln!(text, "{}", record_text(&record.record));
        lines.push(record.location);
    }
    Ok(Some(Flattened { text, lines }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{load_zone_file, load_zone_text};
    use std::str::FromStr;

    fn origin() -> StoredName {
        StoredName::from_str("example.").unwrap()
    }

    #[test]
    fn nested_includes_flatten_to_text_that_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(
            dir.path().join("main.zone"),
            "$TTL 300\n@ IN SOA ns hm 1 2 3 4 5\n  IN NS ns\n$INCLUDE sub/a.inc lab\nwww A 192.0.2.1\n; a comment\n$INCLUDE sub/c.inc\nlast TXT \"after\"\n",
        )
        .unwrap();
        // Relative to sub/, with its own origin changes.
        std::fs::write(
            dir.path().join("sub/a.inc"),
            "@ TXT \"lab\"\nhost A 192.0.2.2\n$INCLUDE b.inc deep.lab.example.\n$ORIGIN other.example.\nx CNAME @\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("sub/b.inc"), "\n\ny 60 A 192.0.2.3\n  AAAA 2001:db8::3\n").unwrap();
        std::fs::write(dir.path().join("sub/c.inc"), "mail MX 10 @\n").unwrap();
        let main = dir.path().join("main.zone");
        let flat = flatten_includes(&main, &origin()).unwrap().unwrap();
        let direct = load_zone_file(&main, &origin()).unwrap();
        let back = load_zone_text(&flat.text, Path::new("flat"), &StoredName::root_bytes()).unwrap();
        let text = |r: &crate::load::LoadedRecord| record_text(&r.record);
        assert_eq!(back.iter().map(text).collect::<Vec<_>>(), direct.iter().map(text).collect::<Vec<_>>(), "{}", flat.text);
        for (read_back, original) in back.iter().zip(&direct) {
            assert_eq!(flat.source_of(read_back.location.line), Some(&original.location));
        }
        let at = |file: &str, line: usize| (file.to_string(), line);
        let sources: Vec<(String, usize)> = flat
            .lines
            .iter()
            .map(|l| (l.file.strip_prefix(dir.path()).unwrap().display().to_string(), l.line))
            .collect();
        assert_eq!(
            sources,
            vec![
                at("main.zone", 2),
                at("main.zone", 3),
                at("sub/a.inc", 1),
                at("sub/a.inc", 2),
                at("sub/b.inc", 3),
                at("sub/b.inc", 4),
                at("sub/a.inc", 5),
                at("main.zone", 5),
                at("sub/c.inc", 1),
                at("main.zone", 8),
            ]
        );
        let owners: Vec<String> = direct.iter().map(|r| r.record.owner().to_string()).collect();
        assert_eq!(owners[4..7], ["y.deep.lab.example", "y.deep.lab.example", "x.other.example"]);
        assert_eq!(flat.source_of(0), None);
    }

    #[test]
    fn a_file_without_include_is_sent_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.zone");
        std::fs::write(&path, "@ 300 IN SOA ns hm 1 2 3 4 5\n; $INCLUDE in a comment\nwww 300 TXT \"$INCLUDE x\"\n").unwrap();
        assert_eq!(flatten_includes(&path, &origin()).unwrap(), None);
    }

    #[test]
    fn text_sent_to_the_coordinator_may_not_include() {
        let text = "@ 300 IN SOA ns hm 1 2 3 4 5\n\n$INCLUDE /etc/passwd\n";
        let err = load_zone_text(text, Path::new("upload"), &origin()).unwrap_err();
        assert!(matches!(err, LoadError::IncludeNotAllowed { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "upload:3: $INCLUDE is not allowed in zone text sent to the coordinator: it would read the coordinator's own files; expand it before sending (the frostzone CLI does)"
        );
    }
}
