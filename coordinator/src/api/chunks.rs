//! Texts answered in chunks ([`pb::SignedZoneChunk`]), made one at a time
//! as the stream is read: a signed zone (56 MB at 100,000 delegations) is
//! not copied into a list of chunks beside the text it is cut from.

use std::sync::Arc;

use frostzone_proto::v1 as pb;
use frostzone_proto::ZONE_CHUNK_BYTES;
use tonic::Status;

use crate::registry::ZoneText;

/// A text to send.
pub enum AnswerText {
    /// Made for this answer (a change set, a zone read back).
    Owned(String),
    /// The published zone's text, shared with the registry's copy.
    Stored(Arc<ZoneText>),
}

impl AnswerText {
    fn len(&self) -> u64 {
        match self {
            AnswerText::Owned(text) => text.len() as u64,
            AnswerText::Stored(text) => text.len(),
        }
    }

    /// At most `max` octets from `offset` (a stored text is read from its
    /// file: blocking I/O of one chunk).
    fn chunk(&self, offset: u64, max: usize) -> std::io::Result<Vec<u8>> {
        match self {
            AnswerText::Owned(text) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(text.len());
                let end = start.saturating_add(max).min(text.len());
                Ok(text.as_bytes().get(start..end).unwrap_or_default().to_vec())
            }
            AnswerText::Stored(text) => text.read_chunk(offset, max),
        }
    }
}

/// The chunks of some texts in order, each text in chunks of at most
/// [`ZONE_CHUNK_BYTES`] that say what they carry (`kind`), at least one
/// per text; the last chunk carries the fields of `last` (summary,
/// request id, serial, signature counts).
pub struct TextChunks {
    texts: Vec<(AnswerText, &'static str)>,
    /// The text being cut and where in it.
    text: usize,
    offset: u64,
    last: Option<pb::SignedZoneChunk>,
}

impl TextChunks {
    /// The chunks of `texts`, the last with `last`'s fields other than
    /// `data` and `kind`.
    pub fn new(texts: Vec<(AnswerText, &'static str)>, last: pb::SignedZoneChunk) -> TextChunks {
        TextChunks { texts, text: 0, offset: 0, last: Some(last) }
    }
}

impl Iterator for TextChunks {
    type Item = Result<pb::SignedZoneChunk, Status>;

    /// The next chunk; a stored text that cannot be read ends the answer
    /// with an error.
    fn next(&mut self) -> Option<Self::Item> {
        let (text, kind) = self.texts.get(self.text)?;
        let data = match text.chunk(self.offset, ZONE_CHUNK_BYTES) {
            Ok(data) => data,
            Err(e) => {
                self.text = self.texts.len();
                self.last = None;
                return Some(Err(Status::internal(format!("reading the signed zone's text to answer with it: {e}"))));
            }
        };
        let kind = kind.to_string();
        let end = self.offset + data.len() as u64;
        if end >= text.len() {
            self.text += 1;
            self.offset = 0;
        } else {
            self.offset = end;
        }
        if self.text == self.texts.len() {
            if let Some(last) = self.last.take() {
                return Some(Ok(pb::SignedZoneChunk { data, kind, ..last }));
            }
        }
        Some(Ok(pb::SignedZoneChunk { data, kind, ..Default::default() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last() -> pb::SignedZoneChunk {
        pb::SignedZoneChunk { summary: "ok".into(), serial: 7, ..Default::default() }
    }

    #[test]
    fn texts_are_cut_in_order_and_only_the_last_chunk_carries_the_summary() {
        let big = "x".repeat(ZONE_CHUNK_BYTES + 10);
        let chunks: Vec<_> = TextChunks::new(
            vec![(AnswerText::Owned("changes".into()), "changes"), (AnswerText::Stored(Arc::new(ZoneText::for_test(&big))), "zone")],
            last(),
        )
        .collect::<Result<_, _>>()
        .unwrap();
        let shape: Vec<(&str, usize, &str)> = chunks.iter().map(|c| (c.kind.as_str(), c.data.len(), c.summary.as_str())).collect();
        assert_eq!(shape, [("changes", 7, ""), ("zone", ZONE_CHUNK_BYTES, ""), ("zone", 10, "ok")]);
        assert_eq!(chunks[2].serial, 7);
        let zone: Vec<u8> = chunks.iter().filter(|c| c.kind == "zone").flat_map(|c| c.data.clone()).collect();
        assert_eq!(zone, big.as_bytes());
    }

    #[test]
    fn an_empty_text_is_one_empty_chunk() {
        let chunks: Vec<_> = TextChunks::new(vec![(AnswerText::Owned(String::new()), "zone")], last()).collect::<Result<_, _>>().unwrap();
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].data.is_empty() && chunks[0].kind == "zone" && chunks[0].summary == "ok");
    }

    #[test]
    fn a_text_of_exactly_one_chunk_is_one_chunk() {
        let text = "y".repeat(ZONE_CHUNK_BYTES);
        let chunks: Vec<_> = TextChunks::new(vec![(AnswerText::Owned(text), "zone")], last()).collect::<Result<_, _>>().unwrap();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].data.len(), ZONE_CHUNK_BYTES);
    }
}
