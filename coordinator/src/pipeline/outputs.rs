//! Outputs of a publication: the signed zone file and the signed change
//! set written atomically (a temporary file in the same directory, synced,
//! then renamed over the target: readers see the old file or the new one,
//! never a part), and the `on_publish` command.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::validate::changes_file_name;
use crate::config::zone::ZoneConfig;
use crate::registry::ZoneText;

/// How long an `on_publish` command may run before it is killed: a
/// reload of a name server takes seconds; a command hanging longer must
/// not pile up behind every publication.
pub const ON_PUBLISH_TIMEOUT: Duration = Duration::from_secs(300);

/// A file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("zone {zone} serial {serial}: cannot write {}: {source}", file.display())]
pub struct OutputError {
    /// The zone.
    pub zone: String,
    /// The serial.
    pub serial: u32,
    /// The file.
    pub file: PathBuf,
    /// What the OS said.
    pub source: std::io::Error,
}

/// Writes `bytes` to `file` atomically.
pub fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_as(file, |f| f.write_all(bytes).map(|()| file.to_path_buf()))
}

/// Writes a copy of `text` to `file` atomically.
pub(crate) fn write_text_atomically(file: &Path, text: &ZoneText) -> std::io::Result<()> {
    write_atomically_as(file, |f| text.copy_to(f).map(|_| file.to_path_buf()))
}

/// Writes what `fill` writes to a temporary file beside `file`, syncs it
/// and renames it to the path `fill` returns (in the same directory): a
/// file named by its content is written without that content in memory.
pub(crate) fn write_atomically_as(
    file: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<PathBuf>,
) -> std::io::Result<()> {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        let file = fill(&mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)?;
        // The rename itself is durable once the directory is synced.
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes the outputs `config` asks for (blocking I/O: call on the
/// blocking pool). Returns the signed zone file written, if any (none
/// without `text`).
pub fn write_outputs(
    config: &ZoneConfig,
    serial: u32,
    text: Option<&ZoneText>,
    changes: Option<(u32, &str)>,
) -> Result<Option<PathBuf>, OutputError> {
    let fail = |file: &Path, source| OutputError { zone: config.name.clone(), serial, file: file.to_path_buf(), source };
    if let (Some(dir), Some((from, changes))) = (&config.changes_dir, changes) {
        let file = dir.join(changes_file_name(&config.name, from, serial));
        write_atomically(&file, changes.as_bytes()).map_err(|e| fail(&file, e))?;
    }
    match (&config.output, text) {
        (Some(file), Some(text)) => {
            write_text_atomically(file, text).map_err(|e| fail(file, e))?;
            Ok(Some(file.clone()))
        }
        _ => Ok(None),
    }
}

/// Runs the `on_publish` command of `config` in the background with
/// `FROSTZONE_ZONE`, `FROSTZONE_SERIAL` and `FROSTZONE_FILE` set. Its
/// exit status is logged; it never fails the publication.
pub fn run_on_publish(config: &ZoneConfig, serial: u32, file: Option<&Path>) {
    let Some((program, args)) = config.on_publish.split_first() else { return };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env("FROSTZONE_ZONE", &config.name)
        .env("FROSTZONE_SERIAL", serial.to_string())
        .env("FROSTZONE_FILE", file.map(|f| f.as_os_str().to_owned()).unwrap_or_default())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let (zone, program) = (config.name.clone(), program.clone());
    tokio::spawn(async move {
        let run = async {
            let child = command.spawn()?;
            child.wait_with_output().await
        };
        match tokio::time::timeout(ON_PUBLISH_TIMEOUT, run).await {
            Ok(Ok(out)) if out.status.success() => tracing::info!("{zone} serial {serial}: on_publish {program}: {}", out.status),
            Ok(Ok(out)) => tracing::error!(
                "{zone} serial {serial}: on_publish {program}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Ok(Err(e)) => tracing::error!("{zone} serial {serial}: on_publish {program}: cannot run: {e}"),
            Err(_) => tracing::error!("{zone} serial {serial}: on_publish {program}: killed after {} s", ON_PUBLISH_TIMEOUT.as_secs()),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use frostzone_dnssec::signing::refresh::RefreshPolicy;

    #[test]
    fn files_are_replaced_whole_and_change_sets_named_by_serials() {
        let dir = tempfile::tempdir().unwrap();
        let config = ZoneConfig {
            name: "example.com.".into(),
            apex: crate::keys::zone_name("example.com.").unwrap().0,
            output: Some(dir.path().join("out/example.com.signed")),
            changes_dir: Some(dir.path().join("changes")),
            on_publish: Vec::new(),
            serial_policy: None,
            denial: None,
            validity_days: None,
            publish_cds: None,
            refresh: RefreshPolicy::default(),
            rollover: Default::default(),
        };
        write_outputs(&config, 10, Some(&ZoneText::for_test("v1")), None).unwrap();
        let file = write_outputs(&config, 11, Some(&ZoneText::for_test("v2")), Some((10, "c"))).unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "v2");
        // Without a text the zone file stays as it was.
        assert_eq!(write_outputs(&config, 12, None, None).unwrap(), None);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "v2");
        assert_eq!(std::fs::read_to_string(dir.path().join("changes/example.com.10-11.ixfr")).unwrap(), "c");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("out")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
    }
}
