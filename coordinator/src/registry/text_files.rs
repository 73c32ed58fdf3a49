//! A published version's whole texts (its snapshot, unsigned and signed)
//! as files beside the registry's sled database, each named by the SHA-256
//! of its octets: `<data_dir>/zone-texts/<hex>.zone`.
//!
//! Why not in sled: sled copies every value into its log as a transaction
//! writes it, so a 51 MB signed text (100,000 delegations) was held twice
//! at the coordinator's peak, and the unsigned one with it. A file is
//! written from the text as it is.
//!
//! Crash safety follows the registry's rule (the previous version or the
//! new one, whole): a text is written to a temporary name, synced, renamed
//! and its directory synced *before* the zone state record naming it is
//! committed; the files of the version it replaces are removed only after
//! that commit is flushed, and a file no record names (a crash between the
//! two) is removed when the registry opens. A file read back is checked
//! against the digest its record holds: a damaged text is an error naming
//! the file, never a zone published from it.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::zone_text::{write_hashed, ZoneText};
use super::RegistryError;

/// The directory under the registry's.
const DIR: &str = "zone-texts";
const SUFFIX: &str = ".zone";

/// The files holding a version's snapshot: the hex SHA-256 of each text,
/// which is also its file name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotFiles {
    /// The unsigned version, master file text.
    pub unsigned: String,
    /// The signed version as published, master file text.
    pub signed: String,
}

impl SnapshotFiles {
    fn names(&self) -> [&str; 2] {
        [&self.unsigned, &self.signed]
    }
}

/// The directory of zone texts.
#[derive(Clone, Debug)]
pub(crate) struct TextFiles {
    dir: PathBuf,
}

impl TextFiles {
    /// Opens (creates) the directory under `registry_dir`.
    pub(crate) fn open(registry_dir: &Path) -> Result<TextFiles, RegistryError> {
        let dir = registry_dir.join(DIR);
        std::fs::create_dir_all(&dir).map_err(|source| RegistryError::TextFile { file: dir.clone(), source })?;
        Ok(TextFiles { dir })
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}{SUFFIX}"))
    }

    /// Writes `text` durably under its digest and returns the digest
    /// (blocking I/O). Writing a text already there changes nothing.
    #[cfg(test)]
    pub(crate) fn write(&self, text: &[u8]) -> Result<String, RegistryError> {
        self.write_from(|out| out.write_all(text)).map(|(digest, _)| digest)
    }

    /// Writes a copy of `text` durably under its digest and returns the
    /// digest (blocking I/O; a wrong digest is found when the file is
    /// read: [`TextFiles::read`]). Writing a text already there changes
    /// nothing.
    pub(crate) fn write_copy(&self, text: &ZoneText) -> Result<String, RegistryError> {
        let digest = hex::encode(text.sha256());
        let file = self.path(&digest);
        // Temporary file, synced, renamed, directory synced: the output
        // files' own way (its temporary name starts with a dot and holds
        // `.tmp-`, which `remove_unnamed` sweeps).
        crate::pipeline::outputs::write_text_atomically(&file, text).map_err(|source| RegistryError::TextFile { file, source })?;
        Ok(digest)
    }

    /// Where [`ZoneText`]s being made keep their unnamed files: on the
    /// disk their snapshot files are copied to.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the text `fill` writes durably under its digest, hashed as
    /// it is written and never held whole, and returns the digest and
    /// the text's length (blocking I/O).
    pub(crate) fn write_from(&self, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(String, u64), RegistryError> {
        let mut named = None;
        // Named apart from any other text being written at the same time.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let unnamed = self.dir.join(format!("unnamed-{}{SUFFIX}", WRITES.fetch_add(1, Ordering::Relaxed)));
        crate::pipeline::outputs::write_atomically_as(&unnamed, |file| {
            let (_, sha256, len) = write_hashed(file, fill)?;
            let digest = hex::encode(sha256);
            let path = self.path(&digest);
            named = Some((digest, len));
            Ok(path)
        })
        .map_err(|source| RegistryError::TextFile { file: unnamed, source })?;
        named.ok_or_else(|| RegistryError::TextFile { file: self.dir.clone(), source: std::io::Error::other("no text was written") })
    }

    /// The text stored under `digest`, checked against it (blocking I/O).
    pub(crate) fn read(&self, digest: &str) -> Result<String, RegistryError> {
        let file = self.path(digest);
        let octets = std::fs::read(&file).map_err(|source| RegistryError::TextFile { file: file.clone(), source })?;
        let corrupt = |message: String| RegistryError::Corrupt { tree: DIR, key: file.display().to_string(), message };
        let found = hex::encode(Sha256::digest(&octets));
        if found != digest {
            return Err(corrupt(format!("its SHA-256 is {found}, the zone state record names {digest}: the file was changed or damaged")));
        }
        String::from_utf8(octets).map_err(|e| corrupt(e.to_string()))
    }

    /// Removes the files of `old` that `keep` does not name (blocking I/O).
    /// A file that is already gone is fine.
    pub(crate) fn remove_replaced(&self, old: &SnapshotFiles, keep: &BTreeSet<String>) -> Result<(), RegistryError> {
        for digest in old.names() {
            if !keep.contains(digest) {
                self.remove(&self.path(digest))?;
            }
        }
        Ok(())
    }

    /// Removes every file and temporary file that `keep` does not name:
    /// what a crash left between writing a text and committing its record,
    /// or between that commit and removing the text it replaced. Only when
    /// no publication is under way (the registry opening).
    pub(crate) fn remove_unnamed(&self, keep: &BTreeSet<String>) -> Result<usize, RegistryError> {
        let fail = |source| RegistryError::TextFile { file: self.dir.clone(), source };
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.dir).map_err(fail)? {
            let entry = entry.map_err(fail)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let named = name.strip_suffix(SUFFIX).is_some_and(|digest| keep.contains(digest));
            // Only what this module writes: anything else in the directory
            // is not ours to remove.
            let ours = name.ends_with(SUFFIX) || (name.starts_with('.') && name.contains(".tmp-"));
            if ours && !named {
                self.remove(&entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn remove(&self, file: &Path) -> Result<(), RegistryError> {
        match std::fs::remove_file(file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RegistryError::TextFile { file: file.to_path_buf(), source: e }),
            _ => Ok(()),
        }
    }
}

/// The digests every record in `records` names.
pub(crate) fn named<'a>(records: impl IntoIterator<Item = &'a SnapshotFiles>) -> BTreeSet<String> {
    records.into_iter().flat_map(|f| f.names().map(str::to_string)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_read_back_checked_and_unnamed_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let files = TextFiles::open(dir.path()).unwrap();
        let a = files.write(b"example. 3600 IN SOA a b 1 2 3 4 5\n").unwrap();
        assert_eq!(files.write(b"example. 3600 IN SOA a b 1 2 3 4 5\n").unwrap(), a, "the same text, the same file");
        let b = files.write(b"other\n").unwrap();
        assert_eq!(files.read(&a).unwrap(), "example. 3600 IN SOA a b 1 2 3 4 5\n");
        // A damaged file is refused, naming it.
        std::fs::write(files.path(&b), b"changed\n").unwrap();
        let e = files.read(&b).unwrap_err().to_string();
        assert!(e.contains(&format!("{b}.zone")) && e.contains("damaged"), "{e}");
        // A missing one names the file too.
        let gone = "0".repeat(64);
        assert!(files.read(&gone).unwrap_err().to_string().contains(&gone));
        // Left by a crash: a temporary file and a text no record names.
        std::fs::write(files.dir.join(format!(".{gone}.zone.tmp-1")), b"x").unwrap();
        std::fs::write(dir.path().join(DIR).join("README"), b"not ours").unwrap();
        let keep = named([&SnapshotFiles { unsigned: a.clone(), signed: a.clone() }]);
        assert_eq!(files.remove_unnamed(&keep).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(&files.dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, ["README".to_string(), format!("{a}.zone")]);
        // A replaced version's files go unless still named.
        let c = files.write(b"c\n").unwrap();
        files.remove_replaced(&SnapshotFiles { unsigned: a.clone(), signed: c.clone() }, &named([&SnapshotFiles { unsigned: a.clone(), signed: a.clone() }])).unwrap();
        assert!(files.read(&a).is_ok());
        assert!(files.read(&c).is_err());
        // Removing what is gone already is fine (a crash after the first removal).
        files.remove_replaced(&SnapshotFiles { unsigned: c.clone(), signed: c }, &BTreeSet::new()).unwrap();
    }

    #[test]
    fn a_text_written_as_it_is_made_is_named_as_the_whole_text_would_be() {
        let dir = tempfile::tempdir().unwrap();
        let files = TextFiles::open(dir.path()).unwrap();
        let lines: Vec<String> = (0..5000).map(|i| format!("n{i}.example. 300 IN A 192.0.2.{}\n", i % 250)).collect();
        let whole = lines.concat();
        let (digest, len) = files.write_from(|out| lines.iter().try_for_each(|l| out.write_all(l.as_bytes()))).unwrap();
        assert_eq!(digest, hex::encode(Sha256::digest(whole.as_bytes())));
        assert_eq!(len, whole.len() as u64);
        assert_eq!(files.read(&digest).unwrap(), whole);
        assert_eq!(files.write(whole.as_bytes()).unwrap(), digest);
        // A text that fails half-way leaves no file, named or not.
        let e = files.write_from(|out| {
            out.write_all(b"half")?;
            Err(std::io::Error::other("the disk is full"))
        });
        assert!(e.unwrap_err().to_string().contains("the disk is full"));
        let left: Vec<_> = std::fs::read_dir(&files.dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from(format!("{digest}.zone"))]);
    }
}
