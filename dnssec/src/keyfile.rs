//! BIND and ldns private key files (`K<zone>+015+<tag>.private`), read only
//! to split an existing key into FROST shares (the "import" path).
//!
//! The format is BIND's "Private-key-format: v1.x" key/value text; for
//! Ed25519 the `PrivateKey` field holds the 32-byte RFC 8032 seed.

use std::path::{Path, PathBuf};

use base64::Engine;
use zeroize::Zeroizing;

/// Why a private key file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A field is missing or malformed.
    #[error("{file}:{line}: {message}")]
    Format {
        /// The file.
        file: PathBuf,
        /// 1-based line, 0 when the problem is a missing field.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Reads the Ed25519 seed from a BIND/ldns `.private` file.
pub fn read_ed25519_private(path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| KeyFileError::Io {
        file: path.to_path_buf(),
        source,
    })?);
    parse_ed25519_private(&text, path)
}

/// Parses the text of a `.private` file; `path` is used in messages.
pub fn parse_ed25519_private(text: &str, path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let err = |line: usize, message: String| KeyFileError::Format {
        file: path.to_path_buf(),
        line,
        message,
    };
    let mut algorithm = None;
    let mut key = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with(';') {
            continue;
        }
        let Some((field, value)) = raw.split_once(':') else {
            return Err(err(line, "expected 'Field: value'".into()));
        };
        match field.trim() {
            "Private-key-format" if !value.trim().starts_with("v1.") => {
                return Err(err(line, format!("unsupported Private-key-format {}", value.trim())));
            }
            "Algorithm" => {
                let number = value.split_whitespace().next().unwrap_or("");
                algorithm = Some((line, number.to_string()));
            }
            "PrivateKey" => key = Some((line, value.trim().to_string())),
            _ => {}
        }
    }
    match algorithm {
        None => return Err(err(0, "no Algorithm field".into())),
        Some((line, a)) if a != "15" => {
            return Err(err(line, format!("algorithm {a} is not ED25519 (15); frostzone keys are Ed25519 (RFC 8080)")))
        }
        Some(_) => {}
    }
    let Some((line, b64)) = key else {
        return Err(err(0, "no PrivateKey field".into()));
    };
    let decoded = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| err(line, format!("PrivateKey is not base64: {e}")))?,
    );
    // Some old ldns versions wrote the seed as a DER OCTET STRING (04 20 ..).
    let seed: &[u8] = match decoded.len() {
        32 => &decoded[..],
        34 if decoded[0] == 0x04 && decoded[1] == 0x20 => &decoded[2..],
        n => return Err(err(line, format!("PrivateKey is {n} bytes; an Ed25519 seed is 32"))),
    };
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(seed);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rfc8080_example_key() {
        // RFC 8080 §6.1.
        let text = "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=\n";
        let seed = parse_ed25519_private(text, Path::new("K.private")).unwrap();
        let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
        use base64::Engine;
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(sk.verifying_key().as_bytes()),
            "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4="
        );
    }

    #[test]
    fn wrong_algorithm_names_the_line() {
        let text = "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: AAAA\n";
        let e = parse_ed25519_private(text, Path::new("K.private")).unwrap_err().to_string();
        assert!(e.starts_with("K.private:2: algorithm 13"), "{e}");
    }
}
