//! A new version's whole signed text, presented once by the validation
//! and read by the publication (its snapshot file), the output file and
//! the answer, kept in an unnamed temporary file beside the registry's
//! zone texts rather than in memory: it is the size of the zone (56 MB at
//! 100,000 delegations) and was held from the validation to the end of
//! the publication, beside the zone model it was presented from.
//!
//! The file has no name (`O_TMPFILE` where the system has it, otherwise
//! created and unlinked at once: [`tempfile::tempfile_in`]): nothing can
//! open it, and nothing is left on disk once the last holder drops it or
//! the process ends. Readers read at an offset of their own
//! ([`std::os::unix::fs::FileExt`]), so the holders never share a file
//! position.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Octets gathered before they are hashed and written: hashing a line at
/// a time costs more than the presentation of a large zone's text needs.
const WRITE_BUFFER: usize = 64 * 1024;

/// Passes octets on, hashing and counting them.
pub(crate) struct HashingWriter<W> {
    out: W,
    hash: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Hashes and counts what goes to `out`; see [`HashingWriter::finish`].
    pub(crate) fn new(out: W) -> HashingWriter<W> {
        HashingWriter { out, hash: Sha256::new(), len: 0 }
    }

    /// The writer, the SHA-256 of what was written and its length.
    pub(crate) fn finish(self) -> (W, [u8; 32], u64) {
        (self.out, self.hash.finalize().into(), self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        let written = buf.get(..n).unwrap_or_default();
        self.hash.update(written);
        self.len += written.len() as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// What `fill` writes, hashed and counted as it goes to `out` through a
/// buffer of [`WRITE_BUFFER`] octets: returns `out`, the SHA-256 and the
/// length.
pub(crate) fn write_hashed<W: Write>(out: W, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<(W, [u8; 32], u64)> {
    let mut buffered = BufWriter::with_capacity(WRITE_BUFFER, HashingWriter::new(out));
    fill(&mut buffered)?;
    let hashing = buffered.into_inner().map_err(std::io::IntoInnerError::into_error)?;
    Ok(hashing.finish())
}

/// A whole version's text in an unnamed temporary file, with its length
/// and SHA-256 (the snapshot file's name, the digest signers are told).
#[derive(Debug)]
pub struct ZoneText {
    file: File,
    len: u64,
    sha256: [u8; 32],
}

impl ZoneText {
    /// The text `fill` writes, in an unnamed temporary file in `dir`,
    /// hashed as it is written (blocking I/O).
    pub fn write_in(dir: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<ZoneText> {
        let (file, sha256, len) = write_hashed(tempfile::tempfile_in(dir)?, fill)?;
        Ok(ZoneText { file, len, sha256 })
    }

    /// Its length in octets.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The SHA-256 of its octets.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// Its octets from `offset`, at most `max` of them (blocking I/O).
    pub fn read_chunk(&self, offset: u64, max: usize) -> std::io::Result<Vec<u8>> {
        let n = usize::try_from(self.len.saturating_sub(offset)).unwrap_or(usize::MAX).min(max);
        let mut data = vec![0; n];
        self.file.read_exact_at(&mut data, offset)?;
        Ok(data)
    }

    /// Reads it from the start, at a position of its own (blocking I/O).
    pub fn reader(&self) -> impl Read + '_ {
        TextReader { text: self, at: 0 }
    }

    /// Copies it whole to `out` (blocking I/O); returns the octets copied.
    pub fn copy_to(&self, out: &mut dyn Write) -> std::io::Result<u64> {
        std::io::copy(&mut self.reader(), out)
    }

    /// The text as a `String` (read whole: for tests and small zones).
    pub fn to_text(&self) -> std::io::Result<String> {
        let mut text = String::new();
        self.reader().read_to_string(&mut text)?;
        Ok(text)
    }
}

/// Reads a [`ZoneText`] from the start, at its own offset.
struct TextReader<'a> {
    text: &'a ZoneText,
    at: u64,
}

impl Read for TextReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = usize::try_from(self.text.len.saturating_sub(self.at)).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        let n = self.text.file.read_at(buf.get_mut(..want).unwrap_or_default(), self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
impl ZoneText {
    /// `text` in a temporary file of the system's temporary directory.
    pub(crate) fn for_test(text: &str) -> ZoneText {
        ZoneText::write_in(&std::env::temp_dir(), |out| out.write_all(text.as_bytes())).expect("a temporary file")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_reads_back_whole_in_chunks_and_copied_with_the_digest_of_its_octets() {
        let dir = tempfile::tempdir().unwrap();
        let lines: Vec<String> = (0..20_000).map(|i| format!("n{i}.example.\t300\tIN\tA\t192.0.2.{}\n", i % 250)).collect();
        let whole = lines.concat();
        let text = ZoneText::write_in(dir.path(), |out| lines.iter().try_for_each(|l| out.write_all(l.as_bytes()))).unwrap();
        assert_eq!(text.len(), whole.len() as u64);
        assert_eq!(text.sha256(), &<[u8; 32]>::from(Sha256::digest(whole.as_bytes())));
        assert_eq!(text.to_text().unwrap(), whole);
        // Chunks at any offset, the last one short, none past the end.
        let mut cut = Vec::new();
        let mut offset = 0;
        while offset < text.len() {
            let chunk = text.read_chunk(offset, 100_000).unwrap();
            assert!(!chunk.is_empty() && chunk.len() <= 100_000);
            offset += chunk.len() as u64;
            cut.extend(chunk);
        }
        assert_eq!(cut, whole.as_bytes());
        assert!(text.read_chunk(text.len(), 10).unwrap().is_empty());
        // Two readers do not share a position.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        assert_eq!(text.copy_to(&mut a).unwrap(), text.len());
        assert_eq!(text.copy_to(&mut b).unwrap(), text.len());
        assert_eq!((a.as_slice(), b.as_slice()), (whole.as_bytes(), whole.as_bytes()));
        // The file has no name: nothing is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_text_whose_writing_fails_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = ZoneText::write_in(dir.path(), |out| {
            out.write_all(b"half")?;
            Err(std::io::Error::other("the disk is full"))
        });
        assert_eq!(e.unwrap_err().to_string(), "the disk is full");
        let missing = dir.path().join("gone");
        assert!(ZoneText::write_in(&missing, |_| Ok(())).is_err(), "no directory, no text");
    }
}
