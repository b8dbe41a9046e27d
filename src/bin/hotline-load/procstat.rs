//! The server's CPU time and resident memory, read from `/proc/<pid>`.

use std::time::{Duration, Instant};

use serde::Serialize;

/// One look at the process.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    /// Seconds since the run started.
    pub t: f64,
    /// User + system CPU time so far, seconds.
    pub cpu_s: f64,
    pub rss_kib: u64,
}

/// Clock ticks per second of `/proc/<pid>/stat`'s times.
fn ticks_per_second() -> f64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as f64,
        _ => 100.0,
    }
}

/// CPU seconds (user + system) of `pid`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields count from after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line (1-based),
    // 12 and 13 of what follows the name (0-based: 11, 12).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks_per_second())
}

/// Resident memory of `pid`, KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

pub fn sample(pid: u32, start: Instant) -> Option<Sample> {
    Some(Sample {
        t: start.elapsed().as_secs_f64(),
        cpu_s: cpu_seconds(pid)?,
        rss_kib: rss_kib(pid)?,
    })
}

/// Samples `pid` every `every` until `stop` is set; returns the samples.
pub fn spawn_sampler(
    pid: u32,
    start: Instant,
    every: Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Vec<Sample>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if let Some(s) = sample(pid, start) {
                out.push(s);
            }
            std::thread::sleep(every);
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_is_read() {
        let me = std::process::id();
        assert!(cpu_seconds(me).is_some());
        assert!(rss_kib(me).unwrap() > 100);
    }
}
