//! The recordings volume's free space, watched: below `[storage]
//! disk_warn_mb` the server warns (log, supervisors' page), below
//! `disk_min_mb` it says so loudly, every minute. Calls are answered all
//! the same: a full disk ends recordings early, and each file stays a
//! playable WAV holding what was written (see `crate::recording`), which is
//! better than turning citizens away.
//!
//! [`DiskLevel::of`] is the decision, pure; [`DiskWatch::spawn`] polls the
//! file system and publishes changes on the event stream.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::events::{Event, EventBus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiskLevel {
    Ok,
    /// Below the warning threshold.
    Low,
    /// Below the hard limit: recordings may be cut short.
    Critical,
    /// The volume could not be read.
    Unknown,
}

impl DiskLevel {
    /// The level of `free` bytes against the thresholds (in MiB).
    pub fn of(free: u64, warn_mb: u64, min_mb: u64) -> DiskLevel {
        let mib = free / (1024 * 1024);
        if mib < min_mb {
            DiskLevel::Critical
        } else if mib < warn_mb {
            DiskLevel::Low
        } else {
            DiskLevel::Ok
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DiskLevel::Ok => "ok",
            DiskLevel::Low => "low",
            DiskLevel::Critical => "critical",
            DiskLevel::Unknown => "unknown",
        }
    }
}

/// The volume as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DiskStatus {
    pub level: DiskLevel,
    pub free_bytes: u64,
    pub total_bytes: u64,
    pub warn_mb: u64,
    pub min_mb: u64,
}

/// Free and total bytes of the file system holding `path` (what an
/// unprivileged writer may use).
pub fn space(path: &Path) -> std::io::Result<(u64, u64)> {
    let st = rustix::fs::statvfs(path)?;
    Ok((
        st.f_bavail.saturating_mul(st.f_frsize),
        st.f_blocks.saturating_mul(st.f_frsize),
    ))
}

/// How often the volume is looked at.
pub const POLL: Duration = Duration::from_secs(5);
/// How often a critical level is said again.
const NAG: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct DiskWatch {
    rx: watch::Receiver<DiskStatus>,
}

impl DiskWatch {
    pub fn status(&self) -> DiskStatus {
        self.rx.borrow().clone()
    }

    /// Looks at `dir`'s volume now and every [`POLL`], until `stop`.
    pub fn spawn(
        dir: PathBuf,
        warn_mb: u64,
        min_mb: u64,
        events: EventBus,
        mut stop: watch::Receiver<bool>,
    ) -> DiskWatch {
        let look = {
            let dir = dir.clone();
            move || match space(&dir) {
                Ok((free, total)) => DiskStatus {
                    level: DiskLevel::of(free, warn_mb, min_mb),
                    free_bytes: free,
                    total_bytes: total,
                    warn_mb,
                    min_mb,
                },
                Err(e) => {
                    warn!(dir = %dir.display(), error = %e, "cannot read the recordings volume's free space");
                    DiskStatus {
                        level: DiskLevel::Unknown,
                        free_bytes: 0,
                        total_bytes: 0,
                        warn_mb,
                        min_mb,
                    }
                }
            }
        };
        let first = look();
        report(&first, None);
        let (tx, rx) = watch::channel(first);
        tokio::spawn(async move {
            let mut last_nag = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                let look = look.clone();
                let Ok(now) = tokio::task::spawn_blocking(look).await else {
                    continue;
                };
                let before = tx.borrow().level;
                if now.level != before {
                    report(&now, Some(before));
                    events.publish(Event::Storage {
                        level: now.level.as_str(),
                        free_bytes: now.free_bytes,
                    });
                    last_nag = tokio::time::Instant::now();
                } else if now.level == DiskLevel::Critical && last_nag.elapsed() >= NAG {
                    report(&now, Some(before));
                    last_nag = tokio::time::Instant::now();
                }
                let _ = tx.send(now);
            }
        });
        DiskWatch { rx }
    }
}

fn report(status: &DiskStatus, before: Option<DiskLevel>) {
    let free_mb = status.free_bytes / (1024 * 1024);
    match status.level {
        DiskLevel::Critical => error!(
            free_mb,
            limit_mb = status.min_mb,
            "RECORDINGS VOLUME NEARLY FULL: calls are still answered, but recordings may be cut short; free space now"
        ),
        DiskLevel::Low => warn!(
            free_mb,
            warn_mb = status.warn_mb,
            "recordings volume running low"
        ),
        DiskLevel::Ok if before.is_some() => info!(free_mb, "recordings volume has room again"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_thresholds() {
        let mib = 1024 * 1024;
        assert_eq!(DiskLevel::of(5000 * mib, 2048, 256), DiskLevel::Ok);
        assert_eq!(DiskLevel::of(2048 * mib, 2048, 256), DiskLevel::Ok);
        assert_eq!(DiskLevel::of(2047 * mib, 2048, 256), DiskLevel::Low);
        assert_eq!(DiskLevel::of(256 * mib, 2048, 256), DiskLevel::Low);
        assert_eq!(DiskLevel::of(255 * mib, 2048, 256), DiskLevel::Critical);
        assert_eq!(DiskLevel::of(0, 0, 0), DiskLevel::Ok);
    }

    #[test]
    fn the_volume_of_a_directory_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let (free, total) = space(dir.path()).unwrap();
        assert!(total > 0 && free <= total);
        assert!(space(&dir.path().join("nope")).is_err());
    }
}
