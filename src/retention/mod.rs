//! Retention by law (000 §2.6-2.7): recordings are kept three months and
//! appeal cards three years (`[retention]`), then removed, unless under a
//! legal hold.
//!
//! [`Pruner::prune`] removes what is older than the limits: a recording's
//! file goes and its row is marked purged (the call's record stays); a
//! card and its personal data are deleted, with its attachments' files.
//! Rows are claimed in the database before any file is touched, so two
//! pruners at once (the server's schedule and `hotline prune`) never take
//! the same row, and a crash half-way leaves only purged rows whose files
//! still exist, or files whose rows are gone: [`Pruner::reconcile`], run at
//! every start, removes those and marks rows whose files vanished, and
//! reports what it fixed. Nothing younger than a limit is ever touched:
//! "older" is decided by the database against a cut-off computed from the
//! `now` the caller gives (the server's clock, or the tests').
//!
//! Role: the file side of retention and its schedule; what is due is the
//! store's to say ([`crate::store::retention`]).

mod period;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use tracing::{info, warn};
use uuid::Uuid;

pub use period::{Period, PeriodError};

use crate::appeal::attachments::AttachmentFiles;
use crate::store::retention::{DueAppeal, DueRecording};
use crate::store::{Store, StoreError};

/// Rows claimed per statement: short transactions, so calls' own writes
/// never wait long behind a prune of thousands.
const BATCH: u32 = 500;
/// An attachment file younger than this without a row may be an upload
/// between its rename and its row: left for the next sweep.
const UPLOAD_GRACE: Duration = Duration::from_secs(600);

/// What a prune removed (or, dry, would remove).
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub dry_run: bool,
    pub recordings_cutoff: Option<DateTime<Utc>>,
    pub appeals_cutoff: Option<DateTime<Utc>>,
    pub recordings: Vec<DueRecording>,
    pub appeals: Vec<DueAppeal>,
    /// Calls older than the cards' limit whose caller's number and events
    /// were cleared (or would be).
    pub calls_anonymised: u64,
    /// Recording and attachment files deleted.
    pub files_removed: usize,
    pub bytes_freed: u64,
    /// Files that were already gone.
    pub files_missing: usize,
    /// Files that could not be deleted (their rows are purged; the next
    /// start-up sweep tries again).
    pub errors: Vec<String>,
    /// Chat-bot accounts removed (quiet, and no card left).
    pub chatbot_accounts: u64,
}

/// How long the chat-bot's messages are kept once sent (their texts hold
/// the citizens' names and addresses).
pub const CHATBOT_MESSAGES_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// More missing files than this share of those looked for (and at least
/// [`MISSING_FLOOR`]) means the volume is not there (not mounted, not
/// readable), not that files were lost: nothing is marked then.
const MISSING_SHARE: f64 = 0.2;
const MISSING_FLOOR: usize = 20;

/// What the start-up sweep found and fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Files of purged recordings still on disk, removed.
    pub purged_files_removed: usize,
    /// Recordings whose file is gone, marked purged (`missing`).
    pub rows_marked_missing: usize,
    /// Recordings marked missing whose file is back, kept again.
    pub rows_unmarked: usize,
    /// Set when a directory looked absent or unreadable, or too many files
    /// were missing: that part was not reconciled.
    pub skipped: Vec<String>,
    /// Recording files with no row, older than the retention limit,
    /// removed.
    pub orphan_files_removed: usize,
    /// Recording files with no row but young enough to matter (a crash
    /// before the row was written): kept, and named in the log.
    pub orphan_files_kept: Vec<PathBuf>,
    /// Attachment files with no row, removed.
    pub attachment_files_removed: usize,
    /// Attachment rows whose file is gone, removed.
    pub attachment_rows_removed: usize,
}

impl ReconcileReport {
    pub fn fixed(&self) -> usize {
        self.purged_files_removed
            + self.rows_marked_missing
            + self.rows_unmarked
            + self.orphan_files_removed
            + self.attachment_files_removed
            + self.attachment_rows_removed
    }
}

#[derive(Clone)]
pub struct Pruner {
    pub store: Store,
    pub recordings_dir: PathBuf,
    pub attachments: AttachmentFiles,
    pub recordings: Period,
    /// `[retention] cards`.
    pub appeals: Period,
}

impl Pruner {
    /// A pruner for the configured directories and periods.
    pub fn from_settings(
        store: Store,
        settings: &crate::config::Settings,
    ) -> Result<Pruner, crate::config::ConfigError> {
        Ok(Pruner {
            store,
            recordings_dir: settings.storage.recordings_dir.clone(),
            attachments: AttachmentFiles::new(
                settings.storage.attachments_dir.clone(),
                u64::from(settings.storage.attachment_max_mb) * 1024 * 1024,
            ),
            recordings: settings.retention.recordings()?,
            appeals: settings.retention.cards()?,
        })
    }
}

/// Deletes a file off the async workers: `Ok(Some(size))`, `Ok(None)` if it
/// was gone already.
async fn remove(path: PathBuf) -> Result<Option<u64>, String> {
    tokio::task::spawn_blocking(move || {
        let size = std::fs::metadata(&path).map(|m| m.len()).ok();
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(Some(size.unwrap_or(0))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

impl Pruner {
    /// Removes recordings older than the recordings' limit and cards older
    /// than the cards' limit at `now`, except those under hold. With
    /// `dry_run`, only lists them.
    pub async fn prune(
        &self,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<PruneReport, StoreError> {
        let recordings_cutoff = self.recordings.cutoff(now);
        let appeals_cutoff = self.appeals.cutoff(now);
        let mut report = PruneReport {
            dry_run,
            recordings_cutoff: Some(recordings_cutoff),
            appeals_cutoff: Some(appeals_cutoff),
            ..Default::default()
        };
        if dry_run {
            report.recordings = self.store.recordings_due(recordings_cutoff).await?;
            report.appeals = self.store.appeals_due(appeals_cutoff).await?;
            report.calls_anonymised = self.store.calls_due(appeals_cutoff).await?;
            return Ok(report);
        }
        loop {
            let claimed = self
                .store
                .claim_recordings(recordings_cutoff, now, BATCH)
                .await?;
            if claimed.is_empty() {
                break;
            }
            for rec in claimed {
                match crate::appeal::attachments::plain_join(&self.recordings_dir, &rec.path) {
                    Some(path) => self.count(&mut report, remove(path).await),
                    None => report
                        .errors
                        .push(format!("recording path {:?} is not plain", rec.path)),
                }
                info!(recording = %rec.id, call = %rec.call_id, started = %rec.started_at, path = %rec.path, "recording pruned");
                report.recordings.push(rec);
            }
        }
        loop {
            let (appeals, files) = self.store.delete_appeals(appeals_cutoff, BATCH).await?;
            if appeals.is_empty() {
                break;
            }
            for file in files {
                match self.attachments.path_of(&file) {
                    Some(path) => self.count(&mut report, remove(path).await),
                    None => report
                        .errors
                        .push(format!("attachment path {file:?} is not plain")),
                }
            }
            for appeal in appeals {
                info!(number = %appeal.registration_number, created = %appeal.created_at, "appeal pruned");
                report.appeals.push(appeal);
            }
        }
        // The callers' numbers of calls as old as the cards go with them.
        loop {
            let n = self.store.anonymise_calls(appeals_cutoff, BATCH).await?;
            if n == 0 {
                break;
            }
            report.calls_anonymised += n;
        }
        if report.calls_anonymised > 0 {
            info!(calls = report.calls_anonymised, before = %appeals_cutoff, "callers' numbers of old calls cleared");
        }
        // The chat-bot's messages once sent, and its accounts as old as
        // the cards with no card left.
        report.chatbot_accounts = self
            .store
            .prune_chatbot(now - CHATBOT_MESSAGES_KEPT, appeals_cutoff)
            .await?;
        if report.chatbot_accounts > 0 {
            info!(accounts = report.chatbot_accounts, before = %appeals_cutoff, "chat-bot accounts pruned");
        }
        if !report.recordings.is_empty() || !report.appeals.is_empty() {
            info!(
                recordings = report.recordings.len(),
                appeals = report.appeals.len(),
                files = report.files_removed,
                bytes = report.bytes_freed,
                failed = report.errors.len(),
                "retention prune done"
            );
        }
        for e in &report.errors {
            warn!(error = %e, "a pruned file could not be deleted; the next start-up sweep retries");
        }
        Ok(report)
    }

    fn count(&self, report: &mut PruneReport, removed: Result<Option<u64>, String>) {
        match removed {
            Ok(Some(bytes)) => {
                report.files_removed += 1;
                report.bytes_freed += bytes;
            }
            Ok(None) => report.files_missing += 1,
            Err(e) => report.errors.push(e),
        }
    }

    /// Makes the files and the rows agree again after a crash (of the
    /// pruner, or of the server mid-call or mid-upload). Safe beside a
    /// running server: recordings still being written and uploads in
    /// progress are left alone (the server sweeps unfinished uploads itself
    /// at start, before any can begin). A directory that is absent or
    /// unreadable is left alone too (a volume not mounted yet must not cost
    /// every recording its row), and so is a part where too many files are
    /// missing to be a crash's doing.
    pub async fn reconcile(&self, now: DateTime<Utc>) -> Result<ReconcileReport, StoreError> {
        let mut report = ReconcileReport::default();
        if readable_dir(&self.recordings_dir).await {
            self.reconcile_recordings(now, &mut report).await?;
        } else {
            report.skipped.push(format!(
                "recordings: {} is absent or unreadable",
                self.recordings_dir.display()
            ));
        }
        if readable_dir(self.attachments.dir()).await {
            self.reconcile_attachments(&mut report).await?;
        } else {
            report.skipped.push(format!(
                "attachments: {} is absent or unreadable",
                self.attachments.dir().display()
            ));
        }
        for why in &report.skipped {
            warn!(%why, "start-up sweep: part skipped");
        }
        if report.fixed() > 0 || !report.orphan_files_kept.is_empty() {
            info!(
                purged_files_removed = report.purged_files_removed,
                rows_marked_missing = report.rows_marked_missing,
                rows_unmarked = report.rows_unmarked,
                orphan_files_removed = report.orphan_files_removed,
                orphan_files_kept = report.orphan_files_kept.len(),
                attachment_files_removed = report.attachment_files_removed,
                attachment_rows_removed = report.attachment_rows_removed,
                "start-up sweep reconciled files and rows"
            );
        }
        Ok(report)
    }

    async fn reconcile_recordings(
        &self,
        now: DateTime<Utc>,
        report: &mut ReconcileReport,
    ) -> Result<(), StoreError> {
        // Recording files on disk, against their rows.
        let dir = self.recordings_dir.clone();
        let files = tokio::task::spawn_blocking(move || wav_files(&dir))
            .await
            .unwrap_or_default();
        let ids: Vec<Uuid> = files.iter().map(|(id, _, _)| *id).collect();
        let known: std::collections::HashMap<Uuid, Option<String>> = self
            .store
            .recordings_known(&ids)
            .await?
            .into_iter()
            .collect();
        let cutoff = self.recordings.cutoff(now);
        for (id, path, modified) in files {
            match known.get(&id) {
                // Purged by the pruner, which died before the file went.
                Some(Some(reason)) if reason == "retention" => {
                    if let Ok(Some(_)) = remove(path.clone()).await {
                        info!(recording = %id, path = %path.display(), "file of a purged recording removed");
                        report.purged_files_removed += 1;
                    }
                }
                // Thought lost, and back: kept again.
                Some(Some(_)) => {
                    if self.store.unmark_recording_missing(id).await? {
                        info!(recording = %id, path = %path.display(), "recording file back; kept again");
                        report.rows_unmarked += 1;
                    }
                }
                Some(None) => {}
                None => {
                    let old = modified
                        .map(|m| DateTime::<Utc>::from(m) < cutoff)
                        .unwrap_or(false);
                    if old {
                        if let Ok(Some(_)) = remove(path.clone()).await {
                            info!(path = %path.display(), "recording file without a row, past retention, removed");
                            report.orphan_files_removed += 1;
                        }
                    } else {
                        warn!(path = %path.display(), "recording file without a row kept (a crash before its row was written?)");
                        report.orphan_files_kept.push(path);
                    }
                }
            }
        }
        // Rows whose file is gone (recordings still being written are not
        // looked at; those a crash left unfinished were completed, or
        // marked, by `server::recover` first).
        let kept = self.store.kept_recordings().await?;
        let dir = self.recordings_dir.clone();
        let missing = tokio::task::spawn_blocking(move || missing_files(&dir, kept))
            .await
            .unwrap_or_default();
        if too_many(missing.missing.len(), missing.looked_at) {
            report.skipped.push(format!(
                "recordings: {} of {} files missing; the volume looks wrong, nothing marked",
                missing.missing.len(),
                missing.looked_at
            ));
            return Ok(());
        }
        for (id, path) in missing.missing {
            if self.store.mark_recording_missing(id, now).await? {
                warn!(recording = %id, %path, "recording file missing; row marked");
                report.rows_marked_missing += 1;
            }
        }
        Ok(())
    }

    async fn reconcile_attachments(&self, report: &mut ReconcileReport) -> Result<(), StoreError> {
        let rows = self.store.attachment_paths().await?;
        let listed: HashSet<String> = rows.iter().map(|(_, p)| p.clone()).collect();
        let root = self.attachments.dir().to_path_buf();
        let missing = tokio::task::spawn_blocking(move || missing_files(&root, rows))
            .await
            .unwrap_or_default();
        if too_many(missing.missing.len(), missing.looked_at) {
            report.skipped.push(format!(
                "attachments: {} of {} files missing; the volume looks wrong, nothing removed",
                missing.missing.len(),
                missing.looked_at
            ));
        } else {
            for (id, path) in missing.missing {
                if self.store.delete_attachment_row(id).await? {
                    warn!(attachment = %id, %path, "attachment file missing; row removed");
                    report.attachment_rows_removed += 1;
                }
            }
        }
        let root = self.attachments.dir().to_path_buf();
        let on_disk = tokio::task::spawn_blocking(move || attachment_files(&root))
            .await
            .unwrap_or_default();
        for (relative, full, modified) in on_disk {
            let settled = modified
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .is_some_and(|age| age > UPLOAD_GRACE);
            if !listed.contains(&relative) && settled {
                if let Ok(Some(_)) = remove(full).await {
                    info!(path = %relative, "attachment file without a row removed");
                    report.attachment_files_removed += 1;
                }
            }
        }
        Ok(())
    }
}

/// Whether `dir` is there and can be listed.
async fn readable_dir(dir: &Path) -> bool {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::read_dir(&dir).is_ok())
        .await
        .unwrap_or(false)
}

fn too_many(missing: usize, looked_at: usize) -> bool {
    missing >= MISSING_FLOOR && (missing as f64) > MISSING_SHARE * looked_at as f64
}

#[derive(Default)]
struct Missing {
    looked_at: usize,
    /// Certainly absent (not merely unreadable).
    missing: Vec<(Uuid, String)>,
}

/// Which of these rows' files are certainly absent under `dir`; a file
/// that cannot be checked (permissions, I/O) counts as present.
fn missing_files(dir: &Path, rows: Vec<(Uuid, String)>) -> Missing {
    let mut out = Missing {
        looked_at: rows.len(),
        missing: Vec::new(),
    };
    for (id, path) in rows {
        let absent = match crate::appeal::attachments::plain_join(dir, &path) {
            Some(full) => matches!(full.try_exists(), Ok(false)),
            None => false,
        };
        if absent {
            out.missing.push((id, path));
        }
    }
    out
}

/// Every `<uuid>.wav` under the recordings directory: (id, path, modified).
fn wav_files(dir: &Path) -> Vec<(Uuid, PathBuf, Option<SystemTime>)> {
    walk(dir)
        .into_iter()
        .filter_map(|(path, modified)| {
            let id = path
                .extension()
                .filter(|e| *e == "wav")
                .and(path.file_stem())
                .and_then(|s| s.to_str())
                .and_then(|s| Uuid::parse_str(s).ok())?;
            Some((id, path, modified))
        })
        .collect()
}

/// Every stored attachment file: (relative path, full path, modified),
/// leaving out uploads in progress.
fn attachment_files(root: &Path) -> Vec<(String, PathBuf, Option<SystemTime>)> {
    walk(root)
        .into_iter()
        .filter_map(|(path, modified)| {
            let relative = path.strip_prefix(root).ok()?.to_str()?.to_owned();
            (!relative.starts_with('.')).then_some((relative, path, modified))
        })
        .collect()
}

fn walk(dir: &Path) -> Vec<(PathBuf, Option<SystemTime>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                let modified = entry.metadata().ok().and_then(|m| m.modified().ok());
                out.push((entry.path(), modified));
            }
        }
    }
    out
}
