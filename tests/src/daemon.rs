//! A server the tests run in the foreground as their own child, killed when its handle drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A child process killed (and reaped) on drop, so that a failing test leaves no server behind.
pub struct KilledOnDrop {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl KilledOnDrop {
    /// Starts `cmd` with stdout and stderr in `log` (created or truncated).
    pub fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> KilledOnDrop {
        let out = std::fs::File::create(log).expect("create daemon log");
        let err = out.try_clone().expect("clone log handle");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        KilledOnDrop { name, child, log: log.to_path_buf() }
    }

    /// Panics with the log when the daemon has already exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited early with {status}; its log:\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}
