//! The recorder thread: owns every open recording file.
//!
//! Role: receive commands from `Recorder`/`ActiveRecording`, write samples,
//! keep headers current, finalise files. All blocking disk I/O of the
//! recording subsystem happens here and nowhere else; it may not touch
//! anything outside `crate::recording`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::repair::repair_file;
use super::{CHANNELS, RecordingError, RecordingSummary, SAMPLE_RATE};

/// Headers are rewritten at most this often per file: often enough that a
/// crash loses about a second, rarely enough that 500 calls cost ~500 small
/// seeks per second.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// How often the recorder looks for work. It is never woken by a sender:
/// at thousands of calls, a wake-up per batch of samples would cost the
/// media path a system call each; instead it drains everything queued
/// every `POLL_INTERVAL`, and updates headers of files that went quiet.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Anything a recording can be written to: a file, or a test double.
pub(super) trait Sink: Write + Seek + Send {}
impl<T: Write + Seek + Send> Sink for T {}

/// Opens the sink for a new recording at the given absolute path.
pub(super) type Opener = Box<dyn FnMut(&Path) -> io::Result<Box<dyn Sink>> + Send>;

type Reply = oneshot::Sender<Result<RecordingSummary, RecordingError>>;

pub(super) enum Command {
    Start {
        key: u64,
        id: Uuid,
        path: PathBuf,
        relative_path: PathBuf,
    },
    Samples {
        key: u64,
        samples: Vec<i16>,
    },
    Finish {
        key: u64,
        reply: Option<Reply>,
    },
    Shutdown,
}

/// Default opener: creates the date directory and a new file. `create_new`
/// makes a duplicate call id an error instead of silently truncating the
/// other call's recording.
pub(super) fn create_file(path: &Path) -> io::Result<Box<dyn Sink>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file: File = OpenOptions::new().write(true).create_new(true).open(path)?;
    Ok(Box::new(file))
}

/// A WAV file being written: the canonical 44-byte header hound writes for
/// 16-bit stereo PCM, then each batch of samples appended as little-endian
/// bytes in one write, and the header's two sizes brought up to date on
/// every flush. (hound's per-sample writer cost 11 ns a sample: at 2,000
/// calls, a third of a core. Reading, checking and repairing stay with
/// hound and `repair`.) A batch is 200 ms of audio, so no buffer of its
/// own is needed: the page cache is the buffer, at no memory per call.
struct Writer {
    out: Box<dyn Sink>,
    data_bytes: u32,
}

/// The header's size; data starts here.
const HEADER_BYTES: u32 = 44;

impl Writer {
    fn new(sink: Box<dyn Sink>) -> io::Result<Writer> {
        let mut writer = Writer {
            out: sink,
            data_bytes: 0,
        };
        let bytes_per_frame = CHANNELS * 2;
        let mut header = Vec::with_capacity(HEADER_BYTES as usize);
        header.extend_from_slice(b"RIFF");
        header.extend_from_slice(&(HEADER_BYTES - 8).to_le_bytes());
        header.extend_from_slice(b"WAVEfmt ");
        header.extend_from_slice(&16u32.to_le_bytes());
        header.extend_from_slice(&1u16.to_le_bytes()); // PCM
        header.extend_from_slice(&CHANNELS.to_le_bytes());
        header.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
        header.extend_from_slice(&(SAMPLE_RATE * u32::from(bytes_per_frame)).to_le_bytes());
        header.extend_from_slice(&bytes_per_frame.to_le_bytes());
        header.extend_from_slice(&16u16.to_le_bytes());
        header.extend_from_slice(b"data");
        header.extend_from_slice(&0u32.to_le_bytes());
        writer.out.write_all(&header)?;
        writer.out.flush()?;
        Ok(writer)
    }

    /// Appends interleaved samples (`scratch` holds their bytes).
    fn write(&mut self, samples: &[i16], scratch: &mut Vec<u8>) -> io::Result<()> {
        let len = u32::try_from(samples.len() * 2)
            .ok()
            .filter(|len| {
                u64::from(self.data_bytes) + u64::from(*len) + u64::from(HEADER_BYTES)
                    <= u64::from(u32::MAX)
            })
            .ok_or_else(|| io::Error::other("the recording reached the WAV size limit (4 GiB)"))?;
        super::encode_samples(samples, scratch);
        self.out.write_all(scratch)?;
        self.data_bytes += len;
        Ok(())
    }

    /// Makes the header tell what was written, and flushes the sink.
    fn flush(&mut self) -> io::Result<()> {
        let sink = &mut self.out;
        sink.seek(SeekFrom::Start(4))?;
        sink.write_all(&(HEADER_BYTES - 8 + self.data_bytes).to_le_bytes())?;
        sink.seek(SeekFrom::Start(u64::from(HEADER_BYTES) - 4))?;
        sink.write_all(&self.data_bytes.to_le_bytes())?;
        sink.seek(SeekFrom::End(0))?;
        sink.flush()
    }

    /// Samples per channel written.
    fn frames(&self) -> u64 {
        u64::from(self.data_bytes) / (2 * u64::from(CHANNELS))
    }
}

enum FileState {
    Open(Box<Writer>),
    /// Writing stopped after an error; the file was finalised at that point.
    Failed {
        error: String,
        frames: u64,
    },
    /// The file could not be created; reported once by `finish`.
    NotCreated(RecordingError),
}

struct OpenRecording {
    id: Uuid,
    path: PathBuf,
    relative_path: PathBuf,
    state: FileState,
    last_flush: Instant,
    dirty: bool,
}

impl OpenRecording {
    fn create(
        opener: &mut Opener,
        id: Uuid,
        path: PathBuf,
        relative_path: PathBuf,
    ) -> OpenRecording {
        let state = match open_writer(opener, &path) {
            Ok(writer) => FileState::Open(Box::new(writer)),
            Err(source) => {
                // A file created but not even given its header (a full
                // disk) would be a broken WAV: it goes. One that existed
                // already is another call's and stays.
                if source.kind() != io::ErrorKind::AlreadyExists {
                    let _ = std::fs::remove_file(&path);
                }
                tracing::error!(%id, path = %path.display(), error = %source, "cannot create recording");
                FileState::NotCreated(RecordingError::Create {
                    path: path.clone(),
                    source,
                })
            }
        };
        OpenRecording {
            id,
            path,
            relative_path,
            state,
            last_flush: Instant::now(),
            dirty: false,
        }
    }

    fn write(&mut self, samples: &[i16], scratch: &mut Vec<u8>) {
        let FileState::Open(writer) = &mut self.state else {
            return;
        };
        match writer.write(samples, scratch) {
            Ok(()) => self.dirty = true,
            Err(e) => self.fail(&e.to_string()),
        }
    }

    fn flush_if_due(&mut self, now: Instant) {
        if !self.dirty || now.duration_since(self.last_flush) < FLUSH_INTERVAL {
            return;
        }
        let FileState::Open(writer) = &mut self.state else {
            return;
        };
        self.last_flush = now;
        self.dirty = false;
        if let Err(e) = writer.flush() {
            self.fail(&e.to_string());
        }
    }

    /// Stops writing after an I/O error and makes the file consistent with
    /// whatever bytes actually reached the disk.
    fn fail(&mut self, error: &str) {
        // The writer's count may include bytes stuck in the failed buffer,
        // so the header cannot be trusted; the repair below derives the
        // sizes from the real file length instead.
        let old = std::mem::replace(
            &mut self.state,
            FileState::Failed {
                error: error.to_string(),
                frames: 0,
            },
        );
        drop(old);
        let frames = match repair_file(&self.path) {
            Ok(outcome) => outcome.frames,
            Err(e) => {
                tracing::error!(id = %self.id, path = %self.path.display(), error = %e, "cannot repair recording after write error");
                0
            }
        };
        tracing::error!(id = %self.id, path = %self.path.display(), error, frames, "recording write failed; file closed early");
        self.state = FileState::Failed {
            error: error.to_string(),
            frames,
        };
    }

    fn finish(mut self) -> Result<RecordingSummary, RecordingError> {
        let state = std::mem::replace(
            &mut self.state,
            FileState::Failed {
                error: String::new(),
                frames: 0,
            },
        );
        let (frames, write_error) = match state {
            FileState::Open(writer) => {
                let mut writer = writer;
                let frames = writer.frames();
                match writer.flush() {
                    Ok(()) => (frames, None),
                    Err(e) => {
                        self.fail(&e.to_string());
                        match &self.state {
                            FileState::Failed { error, frames } => (*frames, Some(error.clone())),
                            _ => (0, Some(e.to_string())),
                        }
                    }
                }
            }
            FileState::Failed { error, frames } => (frames, Some(error)),
            FileState::NotCreated(e) => return Err(e),
        };
        let bytes = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        Ok(RecordingSummary {
            id: self.id,
            relative_path: self.relative_path,
            frames,
            duration: Duration::from_secs_f64(frames as f64 / f64::from(SAMPLE_RATE)),
            bytes,
            write_error,
        })
    }
}

fn open_writer(opener: &mut Opener, path: &Path) -> io::Result<Writer> {
    // A valid empty WAV goes on disk right away, so even a call killed in
    // its first second leaves a playable (if empty) file.
    Writer::new(opener(path)?)
}

fn log_outcome(result: &Result<RecordingSummary, RecordingError>) {
    match result {
        Ok(s) if s.is_complete() => tracing::info!(
            id = %s.id,
            path = %s.relative_path.display(),
            frames = s.frames,
            bytes = s.bytes,
            "recording finished"
        ),
        Ok(s) => tracing::warn!(
            id = %s.id,
            path = %s.relative_path.display(),
            frames = s.frames,
            error = s.write_error.as_deref().unwrap_or_default(),
            "recording finished incomplete"
        ),
        Err(e) => tracing::error!(error = %e, "recording failed"),
    }
}

/// Body of the recorder thread. Returns when every sender is gone, or after
/// `Shutdown` once the already-queued commands are processed.
pub(super) fn run(
    mut rx: mpsc::UnboundedReceiver<Command>,
    recordings_dir: PathBuf,
    mut opener: Opener,
) {
    tracing::debug!(dir = %recordings_dir.display(), "recorder started");
    let mut files: HashMap<u64, OpenRecording> = HashMap::new();
    let mut scratch = Vec::new();
    loop {
        let command = match rx.try_recv() {
            Ok(command) => command,
            Err(mpsc::error::TryRecvError::Empty) => {
                // Nothing queued: headers of quiet files, then a nap.
                let now = Instant::now();
                for rec in files.values_mut() {
                    rec.flush_if_due(now);
                }
                std::thread::sleep(POLL_INTERVAL);
                continue;
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break,
        };
        match command {
            Command::Start {
                key,
                id,
                path,
                relative_path,
            } => {
                let rec = OpenRecording::create(&mut opener, id, path, relative_path);
                files.insert(key, rec);
            }
            Command::Samples { key, samples } => {
                if let Some(rec) = files.get_mut(&key) {
                    rec.write(&samples, &mut scratch);
                    rec.flush_if_due(Instant::now());
                }
            }
            Command::Finish { key, reply } => {
                let result = match files.remove(&key) {
                    Some(rec) => rec.finish(),
                    // Only possible if the file was already closed by a
                    // shutdown that raced with this finish.
                    None => Err(RecordingError::RecorderGone),
                };
                log_outcome(&result);
                if let Some(reply) = reply {
                    // The caller may have stopped waiting; the outcome is logged.
                    let _ = reply.send(result);
                }
            }
            // Closing makes later sends fail fast while everything already
            // queued (samples, finishes) is still drained by this loop.
            Command::Shutdown => rx.close(),
        }
    }
    for (_, rec) in files.drain() {
        log_outcome(&rec.finish());
    }
    tracing::debug!("recorder stopped");
}
