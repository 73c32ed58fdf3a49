//! The TOML files each party holds (a signer's config, the roster, the
//! coordinator's and the CLI's own files): read and parsed one way, with
//! errors that name the file and, where there is one, the field.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigFileError {
    /// The file could not be read.
    #[error("{}: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Not TOML of this format (the message names the field and line).
    #[error("{}: {source}", file.display())]
    Parse {
        /// The file.
        file: PathBuf,
        /// What the parser said.
        source: Box<toml::de::Error>,
    },
    /// A field has a value that is not allowed.
    #[error("{}: {field}: {reason}", file.display())]
    Field {
        /// The file.
        file: PathBuf,
        /// The field, e.g. `threshold` or `participants[2].identity`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigFileError {
    /// `field` of `file` has a value that is not allowed.
    pub fn field(file: &Path, field: impl Into<String>, reason: impl Into<String>) -> ConfigFileError {
        ConfigFileError::Field { file: file.to_path_buf(), field: field.into(), reason: reason.into() }
    }
}

/// Reads `file` whole.
pub fn read_text(file: &Path) -> Result<String, ConfigFileError> {
    std::fs::read_to_string(file).map_err(|source| ConfigFileError::Read { file: file.to_path_buf(), source })
}

/// Parses `text`, the contents of `file`, as `T` (unknown fields are the
/// type's to refuse).
pub fn parse_toml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigFileError> {
    toml::from_str(text).map_err(|source| ConfigFileError::Parse { file: file.to_path_buf(), source: Box::new(source) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Example {
        version: u32,
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_field() {
        let file = Path::new("/etc/frostzone/x.toml");
        let e = parse_toml::<Example>(file, "version = 1\nbogus = 2\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("/etc/frostzone/x.toml: ") && text.contains("bogus") && text.contains("line 2"), "{text}");
        let missing = read_text(Path::new("/nonexistent/frostzone.toml")).unwrap_err();
        assert!(missing.to_string().starts_with("/nonexistent/frostzone.toml: "), "{missing}");
        assert_eq!(ConfigFileError::field(file, "threshold", "0: at least 1").to_string(), "/etc/frostzone/x.toml: threshold: 0: at least 1");
    }
}
