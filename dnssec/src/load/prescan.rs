//! A light pass over master file text before `domain`'s scanner sees it.
//!
//! It does two things the scanner does not:
//!
//! * finds the first line of every entry, so records can name their line
//!   (the scanner only reports where it stopped, past the entry);
//! * replaces a free-standing `@` in RDATA by the current origin. RFC 1035
//!   §5.1: "A free standing @ is used to denote the current origin" — the
//!   scanner honours that only in the owner field and otherwise reads a
//!   label `@` (so `www CNAME @` would point at `@.example.com.`).
//!
//! It follows the RFC 1035 §5.1 rules that decide where an entry ends: a
//! line feed ends it unless inside parentheses or quotes; `;` starts a
//! comment; `\\` escapes the next character.
//!
//! It also refuses, with the line of the entry, what `domain`'s in-place
//! scanner (0.12.3) panics on instead of reporting: an entry still inside
//! parentheses or quotes when the text ends (`@ TXT (a`). And it ends the
//! text with a line feed, because the scanner panics on character strings
//! that reach the end of the text without one after blanks or a comment
//! (`@ TXT "a" ; c`, `@ TXT a\r`).

use crate::name::FqdnDisplay;
use crate::StoredName;
use bytes::BufMut;
use std::str::FromStr;

/// Where the rewritten text's entries start (the text itself went to the
/// scanner's buffer as it was made).
pub(super) struct Prescan {
    /// The 1-based first line of each entry the scanner will return
    /// (`$TTL` and `$ORIGIN` are consumed by the scanner and not listed).
    pub entry_lines: Vec<usize>,
    /// Some unquoted token holds `..` (unescaped): the scanner reads it as
    /// a name with an empty label inside (`a..b`) without complaint, so
    /// the loader then checks every name it made.
    pub double_dot: bool,
}

/// One token of a logical line, as raw bytes of the source.
struct Token {
    start: usize,
    end: usize,
    column0: bool,
}

/// An entry still open when the text ends.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Unclosed {
    /// The 1-based first line of the entry.
    pub line: usize,
    /// What is open: a quoted string or parentheses.
    pub quoted: bool,
}

impl std::fmt::Display for Unclosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.quoted { "a quoted string (\")" } else { "a parenthesis" };
        write!(f, "{}: {what} opened in this entry is never closed before the end of the text", self.line)
    }
}

///
/// The rewritten text is written to `out`, the scanner's own buffer: a
/// whole signed zone read back (51 MB at 100,000 delegations) is not held
/// a third time as the rewritten copy it was made from.
pub(super) fn prescan(text: &[u8], origin: &StoredName, out: &mut impl BufMut) -> Result<Prescan, Unclosed> {
    // The last octet written: the text must end with a line feed.
    let mut last = None;
    let mut put = |out: &mut dyn BufMut, octets: &[u8]| {
        if let Some(&c) = octets.last() {
            last = Some(c);
        }
        out.put_slice(octets);
    };
    let mut entry_lines = Vec::new();
    let mut double_dot = false;
    let mut origin_text = FqdnDisplay(origin).to_string();
    let mut line = 1;
    let mut i = 0;
    while i < text.len() {
        let start_line = line;
        let line_start = i;
        let mut depth = 0u32;
        let mut quoted = false;
        let mut tokens: Vec<Token> = Vec::new();
        let mut tok_start: Option<usize> = None;
        let end_token = |tokens: &mut Vec<Token>, tok_start: &mut Option<usize>, at: usize| {
            if let Some(s) = tok_start.take() {
                tokens.push(Token { start: s, end: at, column0: s == line_start });
            }
        };
        while i < text.len() {
            let c = text[i];
            if quoted {
                match c {
                    b'\\' => i += 1,
                    b'"' => quoted = false,
                    b'\n' => line += 1,
                    _ => {}
                }
                i += 1;
                continue;
            }
            match c {
                b'\\' => {
                    tok_start.get_or_insert(i);
                    i += 1;
                    if i < text.len() && text[i] == b'\n' {
                        line += 1;
                    }
                }
                b'"' => {
                    end_token(&mut tokens, &mut tok_start, i);
                    // A quoted string is a token too (never an `@`).
                    tokens.push(Token { start: i, end: i, column0: false });
                    quoted = true;
                }
                b';' => {
                    end_token(&mut tokens, &mut tok_start, i);
                    while i < text.len() && text[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'(' | b')' => {
                    end_token(&mut tokens, &mut tok_start, i);
                    if c == b'(' {
                        depth += 1;
                    } else {
                        depth = depth.saturating_sub(1);
                    }
                }
                b'\n' => {
                    end_token(&mut tokens, &mut tok_start, i);
                    line += 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                b' ' | b'\t' | b'\r' => end_token(&mut tokens, &mut tok_start, i),
                _ => {
                    tok_start.get_or_insert(i);
                }
            }
            i += 1;
        }
        if quoted || depth > 0 {
            // The inner loop only stops inside either at the end of the text.
            return Err(Unclosed { line: start_line, quoted });
        }
        end_token(&mut tokens, &mut tok_start, i.min(text.len()));
        let slice = |t: &Token| &text[t.start..t.end];
        double_dot = double_dot || tokens.iter().any(|t| has_double_dot(slice(t)));
        let first = tokens.first().map(|t| slice(t).to_ascii_uppercase());
        match first.as_deref() {
            None => {}
            Some(b"$TTL") => {}
            Some(b"$ORIGIN") => {
                if let Some(arg) = tokens.get(1) {
                    origin_text = resolve(slice(arg), &origin_text);
                }
            }
            Some(_) => entry_lines.push(start_line),
        }
        // Copy the logical line, replacing free-standing `@` outside the
        // owner field.
        let mut pos = line_start;
        let is_directive = first.as_deref().is_some_and(|f| f.starts_with(b"$"));
        for t in &tokens {
            if !is_directive && !t.column0 && slice(t) == b"@" {
                put(out, &text[pos..t.start]);
                put(out, origin_text.as_bytes());
                pos = t.end;
            }
        }
        put(out, &text[pos..i.min(text.len())]);
    }
    if last.is_some_and(|c| c != b'\n') {
        out.put_u8(b'\n');
    }
    Ok(Prescan { entry_lines, double_dot })
}

/// Whether `token` holds two unescaped dots in a row.
fn has_double_dot(token: &[u8]) -> bool {
    let mut i = 0;
    while i + 1 < token.len() {
        match token[i] {
            b'\\' => i += 2,
            b'.' if token[i + 1] == b'.' => return true,
            _ => i += 1,
        }
    }
    false
}

/// `$ORIGIN` argument `arg` against the current origin (RFC 1035 §5.1:
/// a relative name is completed with the current origin).
fn resolve(arg: &[u8], current: &str) -> String {
    let s = String::from_utf8_lossy(arg).to_string();
    let absolute = s.ends_with('.') && !s.ends_with("\\.");
    let full = if s == "@" {
        current.to_string()
    } else if absolute {
        s
    } else if current == "." {
        format!("{s}.")
    } else {
        format!("{s}.{current}")
    };
    // Normalise through the name parser so escapes print one way.
    match StoredName::from_str(&full) {
        Ok(n) => FqdnDisplay(&n).to_string(),
        Err(_) => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (String, Vec<usize>) {
        let mut out = Vec::new();
        let p = prescan(text.as_bytes(), &StoredName::from_str("example.").unwrap(), &mut out).unwrap();
        (String::from_utf8(out).unwrap(), p.entry_lines)
    }

    #[test]
    fn at_in_rdata_becomes_the_origin() {
        let (t, _) = run("@ 300 IN SOA ns hm 1 2 3 4 5\nwww CNAME @\n$ORIGIN sub\nx MX 10 @\ny TXT \"@\" \\@\n");
        assert!(t.contains("www CNAME example.\n"), "{t}");
        assert!(t.contains("x MX 10 sub.example.\n"), "{t}");
        assert!(t.contains("y TXT \"@\" \\@\n"), "{t}");
        assert!(t.starts_with("@ 300"), "{t}");
    }

    #[test]
    fn entries_start_lines() {
        let (_, lines) = run("$TTL 1\n; c\n@ SOA ns hm (\n 1 2 3 4 5 )\n\nwww A 1.2.3.4 ; (\n  AAAA ::1\n");
        assert_eq!(lines, vec![3, 6, 7]);
    }

    #[test]
    fn an_entry_open_at_the_end_is_refused_with_its_line() {
        let origin = StoredName::from_str("example.").unwrap();
        let err = |t: &str| prescan(t.as_bytes(), &origin, &mut Vec::new()).err();
        assert_eq!(err("@ SOA ns hm 1 2 3 4 5\nx TXT (a;\n"), Some(Unclosed { line: 2, quoted: false }));
        assert_eq!(err("x TXT \"a\n\n"), Some(Unclosed { line: 1, quoted: true }));
        assert_eq!(err("x TXT (a\n b )"), None);
    }

    #[test]
    fn double_dots_are_noticed_unless_escaped_or_quoted() {
        let origin = StoredName::from_str("example.").unwrap();
        let dots = |t: &str| prescan(t.as_bytes(), &origin, &mut Vec::new()).unwrap().double_dot;
        assert!(dots("x CNAME a..b\n"));
        assert!(dots("a.. A 192.0.2.1\n"));
        assert!(!dots("x CNAME a\\..b\n"));
        assert!(!dots("x TXT \"a..b\"\n"));
        assert!(!dots("x CNAME a.b.\n"));
    }

    #[test]
    fn the_text_ends_with_a_line_feed() {
        assert_eq!(run("x TXT a ; c").0, "x TXT a ; c\n");
        assert_eq!(run("").0, "");
    }
}
