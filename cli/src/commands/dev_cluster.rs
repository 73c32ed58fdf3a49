//! A quickstart cluster left running (`frostzone quickstart
//! --keep-running`) and its stop (`--stop`): the daemons' pids in
//! `cluster/pids`, the environment to use them in `cluster/env`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::output::write_atomically;

/// The file of `name pid` lines of a running cluster.
const PIDS: &str = "pids";
/// How long the daemons get to stop after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Whether `dir` holds a cluster left running (its pid file names a live
/// process of it).
pub fn is_running(dir: &Path) -> bool {
    read_pids(dir).is_ok_and(|pids| pids.iter().any(|(_, pid)| ours(dir, *pid)))
}

/// Records the running daemons and prints how to use them.
pub fn keep(dir: &Path, running: &[(String, u32, u16)], out: &Path) -> anyhow::Result<()> {
    let pids: String = running.iter().map(|(name, pid, _)| format!("{name} {pid}\n")).collect();
    write_atomically(&dir.join(PIDS), pids.as_bytes())?;
    let coordinator = running.iter().find(|(name, _, _)| name == "coordinator").map(|(_, _, port)| *port).unwrap_or_default();
    let env = format!(
        "export FROSTZONE_COORDINATOR=https://127.0.0.1:{coordinator}\nexport FROSTZONE_TLS_DIR={}\n",
        dir.display()
    );
    write_atomically(&dir.join("env"), env.as_bytes())?;
    println!("the cluster keeps running ({} processes); to use it:", running.len());
    print!("{}", env.lines().map(|l| format!("  {l}\n")).collect::<String>());
    println!("  (or: . {})", dir.join("env").display());
    for (name, pid, port) in running.iter().filter(|(name, _, _)| name != "coordinator") {
        println!(
            "  {name} (pid {pid}, 127.0.0.1:{port}): frostzone pending --socket {}",
            dir.join(name).join("data").join("admin.sock").display()
        );
    }
    let metrics: Vec<String> = running
        .iter()
        .map(|(name, _, port)| format!("{name} http://127.0.0.1:{}/metrics", port.saturating_add(crate::cluster::METRICS_PORT_OFFSET)))
        .collect();
    println!("  Prometheus metrics (curl -s URL): {}", metrics.join(", "));
    println!("stop it with: frostzone quickstart --stop --out {}", out.display());
    Ok(())
}

/// Stops the cluster left running in `dir`: SIGTERM, then SIGKILL after
/// [`STOP_GRACE`]; returns how many processes were running.
pub fn stop(dir: &Path) -> anyhow::Result<usize> {
    let pids = read_pids(dir).with_context(|| format!("no cluster left running in {}", dir.display()))?;
    let live: Vec<u32> = pids.iter().map(|(_, pid)| *pid).filter(|pid| ours(dir, *pid)).collect();
    signal(&live, "-TERM");
    let deadline = Instant::now() + STOP_GRACE;
    while live.iter().any(|pid| ours(dir, *pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let stubborn: Vec<u32> = live.iter().copied().filter(|pid| ours(dir, *pid)).collect();
    signal(&stubborn, "-KILL");
    std::fs::remove_file(dir.join(PIDS)).with_context(|| format!("cannot remove {}", dir.join(PIDS).display()))?;
    Ok(live.len())
}

fn read_pids(dir: &Path) -> anyhow::Result<Vec<(String, u32)>> {
    let file = dir.join(PIDS);
    let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let (name, pid) = line.split_once(' ').with_context(|| format!("{}:{}: expected `name pid`", file.display(), i + 1))?;
            let pid = pid.trim().parse().with_context(|| format!("{}:{}: pid {pid:?} is not a number", file.display(), i + 1))?;
            Ok((name.to_string(), pid))
        })
        .collect()
}

/// Whether `pid` is alive and one of this cluster's daemons (its command
/// line names a config in `dir`): a pid reused by another process is left
/// alone.
fn ours(dir: &Path, pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let cmdline = String::from_utf8_lossy(&cmdline);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
    !zombie && cmdline.contains("frostzone-") && cmdline.contains(&*dir.to_string_lossy())
}

fn signal(pids: &[u32], which: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = std::process::Command::new("kill").arg(which).args(pids.iter().map(u32::to_string)).status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_pid_file_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PIDS), "coordinator 12\nsigner-1 x\n").unwrap();
        let e = format!("{:#}", read_pids(dir.path()).unwrap_err());
        assert!(e.contains("pids:2") && e.contains("\"x\""), "{e}");
        assert!(!is_running(dir.path()));
        assert!(stop(dir.path()).is_err());
    }
}
