//! Texts answered in chunks ([`pb::SignedZoneChunk`]), made one at a time
//! as the stream is read: a signed zone (56 MB at 100,000 delegations) is
//! not copied into a list of chunks beside the text it is cut from.

use std::sync::Arc;

use frostzone_proto::v1 as pb;
use frostzone_proto::ZONE_CHUNK_BYTES;

use crate::registry::ZoneText;

/// A text to send.
pub enum AnswerText {
    /// Made for this answer (a change set, a zone read back).
    Owned(String),
    /// The published zone's text, shared with the registry's copy.
    Stored(Arc<ZoneText>),
}

impl AnswerText {
    fn bytes(&self) -> &[u8] {
        match self {
            AnswerText::Owned(text) => text.as_bytes(),
            AnswerText::Stored(text) => text.as_bytes(),
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
    offset: usize,
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
    type Item = pb::SignedZoneChunk;

    fn next(&mut self) -> Option<pb::SignedZoneChunk> {
        let (text, kind) = self.texts.get(self.text)?;
        let bytes = text.bytes();
        let end = self.offset.saturating_add(ZONE_CHUNK_BYTES).min(bytes.len());
        let data = bytes.get(self.offset..end).unwrap_or_default().to_vec();
        let kind = kind.to_string();
        if end >= bytes.len() {
            self.text += 1;
            self.offset = 0;
        } else {
            self.offset = end;
        }
        if self.text == self.texts.len() {
            if let Some(last) = self.last.take() {
                return Some(pb::SignedZoneChunk { data, kind, ..last });
            }
        }
        Some(pb::SignedZoneChunk { data, kind, ..Default::default() })
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
            vec![(AnswerText::Owned("changes".into()), "changes"), (AnswerText::Stored(Arc::new(big.clone().into())), "zone")],
            last(),
        )
        .collect();
        let shape: Vec<(&str, usize, &str)> = chunks.iter().map(|c| (c.kind.as_str(), c.data.len(), c.summary.as_str())).collect();
        assert_eq!(shape, [("changes", 7, ""), ("zone", ZONE_CHUNK_BYTES, ""), ("zone", 10, "ok")]);
        assert_eq!(chunks[2].serial, 7);
        let zone: Vec<u8> = chunks.iter().filter(|c| c.kind == "zone").flat_map(|c| c.data.clone()).collect();
        assert_eq!(zone, big.as_bytes());
    }

    #[test]
    fn an_empty_text_is_one_empty_chunk() {
        let chunks: Vec<_> = TextChunks::new(vec![(AnswerText::Owned(String::new()), "zone")], last()).collect();
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].data.is_empty() && chunks[0].kind == "zone" && chunks[0].summary == "ok");
    }

    #[test]
    fn a_text_of_exactly_one_chunk_is_one_chunk() {
        let text = "y".repeat(ZONE_CHUNK_BYTES);
        let chunks: Vec<_> = TextChunks::new(vec![(AnswerText::Owned(text), "zone")], last()).collect();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].data.len(), ZONE_CHUNK_BYTES);
    }
}
