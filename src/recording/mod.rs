//! Call recordings: stereo 8 kHz 16-bit WAV files written off the media path.
//!
//! Role: every answered call is recorded to
//! `<recordings_dir>/YYYY/MM/DD/<uuid>.wav` (UTC date of the call start; no
//! phone numbers in paths), left channel = what the caller sent, right
//! channel = what the caller heard. One dedicated std thread, the recorder,
//! owns all open files; media tasks hand it samples over an unbounded channel,
//! so a slow or full disk can never stall RTP. Files keep a valid header while
//! they grow (rewritten at most once a second) and [`repair_file`] fixes files
//! left behind by a crash.
//!
//! It may not touch SIP, RTP sockets, the database or configuration, and may
//! not depend on other modules of the crate besides `crate::media`; callers
//! store the returned [`RecordingSummary`] wherever they need it.

mod repair;
mod thread;

#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

pub use repair::{RepairOutcome, repair_file};

use thread::{Command, Opener};

/// Sample rate of every recording.
pub const SAMPLE_RATE: u32 = 8000;
/// Left = caller's own audio, right = what the caller heard.
pub const CHANNELS: u16 = 2;

/// Interleaved samples buffered in an [`ActiveRecording`] before they are
/// handed to the recorder: 200 ms of stereo audio. Batching turns one
/// allocation, channel message and file write per 20 ms frame into one per
/// ten frames, while a crash still loses at most this much on top of the
/// unflushed tail.
const BATCH_SAMPLES: usize = 2 * SAMPLE_RATE as usize / 5;

/// Errors of the recording subsystem.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("cannot start the recorder thread: {0}")]
    Spawn(#[source] io::Error),
    #[error("the recorder thread is not running")]
    RecorderGone,
    #[error("cannot create recordings directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot create recording {}: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a repairable WAV file: {reason}", path.display())]
    NotWav { path: PathBuf, reason: String },
}

/// What a finished recording ended up as on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    pub id: Uuid,
    /// Relative to the recordings directory.
    pub relative_path: PathBuf,
    /// Samples per channel actually in the file.
    pub frames: u64,
    pub duration: Duration,
    /// File size including the header.
    pub bytes: u64,
    /// Set when writing stopped early (e.g. disk full); the file is still a
    /// valid WAV holding everything up to that point.
    pub write_error: Option<String>,
}

impl RecordingSummary {
    /// True if every pushed sample reached the file.
    pub fn is_complete(&self) -> bool {
        self.write_error.is_none()
    }
}

/// The bytes of interleaved samples in a WAV file (16-bit little-endian),
/// into `out` (cleared first): the recorder's whole per-frame work.
pub fn encode_samples(samples: &[i16], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(samples.len() * 2);
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
}

/// Relative path of a recording: `YYYY/MM/DD/<uuid>.wav`, UTC date.
pub fn relative_path_for(id: Uuid, started_at: DateTime<Utc>) -> PathBuf {
    let mut path = PathBuf::from(started_at.format("%Y").to_string());
    path.push(started_at.format("%m").to_string());
    path.push(started_at.format("%d").to_string());
    path.push(format!("{id}.wav"));
    path
}

struct Shared {
    tx: mpsc::UnboundedSender<Command>,
    recordings_dir: PathBuf,
    next_key: AtomicU64,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Handle to the recorder thread. Cheap to clone; all clones feed one thread.
///
/// The channel to the thread is unbounded on purpose: if the disk stalls,
/// audio queues up in memory (32 KB per call per second) instead of stalling
/// RTP, and is written once the disk recovers.
#[derive(Clone)]
pub struct Recorder {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("recordings_dir", &self.shared.recordings_dir)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Creates `recordings_dir` if needed and starts the recorder thread.
    pub fn spawn(recordings_dir: PathBuf) -> Result<Recorder, RecordingError> {
        Recorder::spawn_with_opener(recordings_dir, Box::new(thread::create_file))
    }

    /// Like `spawn`, with a custom way to open files so tests can simulate
    /// full or slow disks.
    fn spawn_with_opener(
        recordings_dir: PathBuf,
        opener: Opener,
    ) -> Result<Recorder, RecordingError> {
        std::fs::create_dir_all(&recordings_dir).map_err(|source| RecordingError::CreateDir {
            path: recordings_dir.clone(),
            source,
        })?;
        let (tx, rx) = mpsc::unbounded_channel();
        let dir = recordings_dir.clone();
        let handle = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || thread::run(rx, dir, opener))
            .map_err(RecordingError::Spawn)?;
        Ok(Recorder {
            shared: Arc::new(Shared {
                tx,
                recordings_dir,
                next_key: AtomicU64::new(0),
                thread: Mutex::new(Some(handle)),
            }),
        })
    }

    /// The directory recordings are stored under.
    pub fn recordings_dir(&self) -> &Path {
        &self.shared.recordings_dir
    }

    /// Starts recording a call. Never blocks: the file (and its date
    /// directory) is created on the recorder thread; a failure to create it
    /// is reported by [`ActiveRecording::finish`]. Fails only if the recorder
    /// has been shut down.
    pub fn start(
        &self,
        id: Uuid,
        started_at: DateTime<Utc>,
    ) -> Result<ActiveRecording, RecordingError> {
        let relative_path = relative_path_for(id, started_at);
        let key = self.shared.next_key.fetch_add(1, Ordering::Relaxed);
        self.shared
            .tx
            .send(Command::Start {
                key,
                id,
                path: self.shared.recordings_dir.join(&relative_path),
                relative_path: relative_path.clone(),
            })
            .map_err(|_| RecordingError::RecorderGone)?;
        Ok(ActiveRecording {
            id,
            relative_path,
            key,
            tx: self.shared.tx.clone(),
            pending: Vec::with_capacity(BATCH_SAMPLES + 2 * 160),
            finished: false,
        })
    }

    /// Stops accepting new recordings, finalises every open file and waits
    /// for the recorder thread to exit.
    ///
    /// Blocking: from async code call it inside `spawn_blocking`. Recordings
    /// still active afterwards lose further audio and their `finish` returns
    /// [`RecordingError::RecorderGone`], but their files are already closed
    /// properly. Other clones become inert; only the first call waits.
    pub fn shutdown(self) {
        // Fails only if the thread already exited, which is the goal anyway.
        let _ = self.shared.tx.send(Command::Shutdown);
        let handle = self
            .shared
            .thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            if handle.join().is_err() {
                tracing::error!("recorder thread panicked");
            }
        }
    }
}

/// One call being recorded. Push frames from the media task; call `finish`
/// at hang-up. Dropping it without `finish` still closes the file properly.
#[derive(Debug)]
pub struct ActiveRecording {
    /// Call id, also the file name. Informational: changing it has no effect.
    pub id: Uuid,
    /// `YYYY/MM/DD/<uuid>.wav`, relative to the recordings directory.
    pub relative_path: PathBuf,
    key: u64,
    tx: mpsc::UnboundedSender<Command>,
    pending: Vec<i16>,
    finished: bool,
}

impl ActiveRecording {
    /// Appends one frame: `caller` = audio received from the caller,
    /// `heard` = audio sent to the caller (both 8 kHz, normally 160 samples).
    ///
    /// If one side is shorter (or empty because nothing was received in that
    /// interval) it is padded with silence so the channels stay aligned in
    /// time. Never blocks and allocates only once per batch of frames.
    pub fn push_frame(&mut self, caller: &[i16], heard: &[i16]) {
        let frames = caller.len().max(heard.len());
        let start = self.pending.len();
        // Silence first, then each side in its place: a missing tail of one
        // side stays silent.
        self.pending.resize(start + frames * 2, 0);
        let out = &mut self.pending[start..];
        for (pair, s) in out.chunks_exact_mut(2).zip(caller) {
            pair[0] = *s;
        }
        for (pair, s) in out.chunks_exact_mut(2).zip(heard) {
            pair[1] = *s;
        }
        if self.pending.len() >= BATCH_SAMPLES {
            self.send_pending();
        }
    }

    fn send_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let samples = std::mem::replace(
            &mut self.pending,
            Vec::with_capacity(BATCH_SAMPLES + 2 * 160),
        );
        // A closed channel means the recorder was shut down; the audio has
        // nowhere to go and `finish` will report it.
        let _ = self.tx.send(Command::Samples {
            key: self.key,
            samples,
        });
    }

    /// Writes what is buffered, finalises the file and reports what it holds.
    ///
    /// A write error during the call (e.g. disk full) is not an `Err` here:
    /// the file is valid up to the failure and the summary's `write_error`
    /// says why it is short. `Err` means the file could not be created at all
    /// or the recorder is gone.
    pub async fn finish(mut self) -> Result<RecordingSummary, RecordingError> {
        self.send_pending();
        self.finished = true;
        let (reply, response) = oneshot::channel();
        self.tx
            .send(Command::Finish {
                key: self.key,
                reply: Some(reply),
            })
            .map_err(|_| RecordingError::RecorderGone)?;
        response.await.map_err(|_| RecordingError::RecorderGone)?
    }
}

impl Drop for ActiveRecording {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.send_pending();
        // Without a reply channel the recorder finalises the file and only
        // logs the outcome; if it is gone, it already closed the file.
        let _ = self.tx.send(Command::Finish {
            key: self.key,
            reply: None,
        });
    }
}
