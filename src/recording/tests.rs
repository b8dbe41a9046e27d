//! Tests of the recorder, its crash safety and `repair_file`.

use std::collections::HashSet;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use super::thread::{Opener, Sink, create_file};
use super::*;
use crate::media::analysis::tone;

const FRAME: usize = 160;

fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 7, 23, 59, 58)
        .single()
        .expect("valid date")
}

fn read_wav(path: &Path) -> (hound::WavSpec, Vec<i16>, Vec<i16>) {
    let mut reader = hound::WavReader::open(path).expect("open wav");
    let spec = reader.spec();
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("read samples");
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    (spec, left, right)
}

fn push_all(active: &mut ActiveRecording, left: &[i16], right: &[i16]) {
    for (l, r) in left.chunks(FRAME).zip(right.chunks(FRAME)) {
        active.push_frame(l, r);
    }
}

async fn shutdown(recorder: Recorder) {
    tokio::task::spawn_blocking(move || recorder.shutdown())
        .await
        .expect("shutdown task");
}

#[test]
fn relative_path_uses_utc_date_and_uuid_only() {
    let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    let local = DateTime::parse_from_rfc3339("2025-01-01T01:30:00+03:00").expect("rfc3339");
    let path = relative_path_for(id, local.with_timezone(&Utc));
    assert_eq!(
        path,
        Path::new("2024")
            .join("12")
            .join("31")
            .join("01234567-89ab-cdef-0123-456789abcdef.wav")
    );
}

#[tokio::test]
async fn two_tones_round_trip_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The recordings dir itself does not exist yet either.
    let recorder = Recorder::spawn(dir.path().join("rec")).expect("spawn");
    let id = Uuid::new_v4();
    let mut active = recorder.start(id, start_time()).expect("start");
    assert_eq!(active.id, id);
    let expected_rel = Path::new("2025/03/07").join(format!("{id}.wav"));
    assert_eq!(active.relative_path, expected_rel);

    let left = tone(440.0, 8000, 3 * 8000, 8000);
    let right = tone(1000.0, 6000, 3 * 8000, 8000);
    push_all(&mut active, &left, &right);
    let summary = active.finish().await.expect("finish");

    assert_eq!(summary.id, id);
    assert_eq!(summary.relative_path, expected_rel);
    assert_eq!(summary.frames, 24_000);
    assert_eq!(summary.duration, Duration::from_secs(3));
    assert_eq!(summary.bytes, 44 + 24_000 * 4);
    assert!(summary.is_complete());

    let path = dir.path().join("rec").join(&expected_rel);
    assert_eq!(std::fs::metadata(&path).expect("stat").len(), summary.bytes);
    let (spec, got_left, got_right) = read_wav(&path);
    assert_eq!(spec.channels, 2);
    assert_eq!(spec.sample_rate, 8000);
    assert_eq!(spec.bits_per_sample, 16);
    assert_eq!(spec.sample_format, hound::SampleFormat::Int);
    assert_eq!(got_left, left);
    assert_eq!(got_right, right);
    // A finished file needs no repair.
    let outcome = repair_file(&path).expect("repair");
    assert!(!outcome.changed);
    assert_eq!(outcome.frames, 24_000);
    shutdown(recorder).await;
}

#[tokio::test]
async fn start_creates_missing_date_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recorder = Recorder::spawn(dir.path().to_path_buf()).expect("spawn");
    let id = Uuid::new_v4();
    let when = Utc
        .with_ymd_and_hms(2031, 12, 31, 12, 0, 0)
        .single()
        .expect("valid date");
    assert!(!dir.path().join("2031").exists());
    let mut active = recorder.start(id, when).expect("start");
    active.push_frame(&[1; FRAME], &[2; FRAME]);
    let summary = active.finish().await.expect("finish");
    assert_eq!(summary.frames, FRAME as u64);
    let path = dir.path().join(format!("2031/12/31/{id}.wav"));
    assert!(path.is_file());
    let (_, l, r) = read_wav(&path);
    assert_eq!((l, r), (vec![1; FRAME], vec![2; FRAME]));
    shutdown(recorder).await;
}

#[tokio::test]
async fn uneven_frames_are_padded_with_silence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recorder = Recorder::spawn(dir.path().to_path_buf()).expect("spawn");
    let mut active = recorder.start(Uuid::new_v4(), start_time()).expect("start");
    active.push_frame(&[5; FRAME], &[]);
    active.push_frame(&[6; 100], &[7; FRAME]);
    let rel = active.relative_path.clone();
    let summary = active.finish().await.expect("finish");
    assert_eq!(summary.frames, 2 * FRAME as u64);
    let (_, l, r) = read_wav(&dir.path().join(rel));
    let mut want_l = vec![5; FRAME];
    want_l.extend([6; 100]);
    want_l.extend([0; FRAME - 100]);
    let mut want_r = vec![0; FRAME];
    want_r.extend([7; FRAME]);
    assert_eq!(l, want_l);
    assert_eq!(r, want_r);
    shutdown(recorder).await;
}

/// A crash mid-call is simulated by copying the file while it is still being
/// written: the copy is what a SIGKILL would leave on disk.
#[tokio::test]
async fn file_is_valid_mid_call_and_repairable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recorder = Recorder::spawn(dir.path().join("rec")).expect("spawn");
    let mut active = recorder.start(Uuid::new_v4(), start_time()).expect("start");
    let path = dir.path().join("rec").join(&active.relative_path);
    let left = tone(440.0, 8000, 3 * 8000, 8000);
    let right = tone(1000.0, 6000, 3 * 8000, 8000);
    push_all(&mut active, &left, &right);
    // Longer than the flush interval plus a tick, so a header update happened.
    tokio::time::sleep(Duration::from_millis(1600)).await;

    let copy = dir.path().join("killed.wav");
    std::fs::copy(&path, &copy).expect("copy");
    let reader = hound::WavReader::open(&copy).expect("copy opens as WAV");
    let frames = i64::from(reader.duration());
    assert!(
        (frames - 24_000).abs() <= 8000,
        "copy holds {frames} frames"
    );
    drop(reader);
    let (_, l, r) = read_wav(&copy);
    assert_eq!(l[..], left[..l.len()]);
    assert_eq!(r[..], right[..r.len()]);
    let copy_frames = l.len() as u64;

    // Killed before any header update: header says 0 data bytes.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&copy)
        .expect("open copy");
    f.seek(SeekFrom::Start(4)).expect("seek");
    f.write_all(&36u32.to_le_bytes()).expect("write riff size");
    f.seek(SeekFrom::Start(40)).expect("seek");
    f.write_all(&0u32.to_le_bytes()).expect("write data size");
    // Plus half a frame that never got completed.
    f.seek(SeekFrom::End(0)).expect("seek");
    f.write_all(&[1, 2, 3]).expect("write partial frame");
    drop(f);
    assert_eq!(
        hound::WavReader::open(&copy).expect("open").duration(),
        0,
        "header really claims no data"
    );
    let outcome = repair_file(&copy).expect("repair");
    assert!(outcome.changed);
    assert_eq!(outcome.previous_data_bytes, 0);
    assert_eq!(outcome.frames, copy_frames);
    assert_eq!(outcome.truncated_bytes, 3);
    assert_eq!(outcome.channels, 2);
    assert_eq!(outcome.sample_rate, 8000);
    assert_eq!(
        outcome.duration,
        Duration::from_secs_f64(copy_frames as f64 / 8000.0)
    );
    let (_, l2, r2) = read_wav(&copy);
    assert_eq!((l2, r2), (l, r));

    // Header claiming more than the file holds.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&copy)
        .expect("open copy");
    f.seek(SeekFrom::Start(40)).expect("seek");
    f.write_all(&0xFFFF_FFF0u32.to_le_bytes())
        .expect("write data size");
    drop(f);
    let outcome = repair_file(&copy).expect("repair");
    assert!(outcome.changed);
    assert_eq!(outcome.frames, copy_frames);
    assert!(!repair_file(&copy).expect("repair again").changed);

    let summary = active.finish().await.expect("finish");
    assert_eq!(summary.frames, 24_000);
    shutdown(recorder).await;
}

#[test]
fn repair_rejects_non_wav_and_missing_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("notes.wav");
    std::fs::write(&text, b"hello, this is not a RIFF file").expect("write");
    assert!(matches!(
        repair_file(&text),
        Err(RecordingError::NotWav { .. })
    ));
    let tiny = dir.path().join("tiny.wav");
    std::fs::write(&tiny, b"RIFF").expect("write");
    assert!(matches!(
        repair_file(&tiny),
        Err(RecordingError::NotWav { .. })
    ));
    let no_data = dir.path().join("nodata.wav");
    let mut bytes = b"RIFF\x04\x00\x00\x00WAVE".to_vec();
    bytes.extend(b"fmt \x10\x00\x00\x00");
    bytes.extend([1, 0, 2, 0, 0x40, 0x1F, 0, 0, 0, 0x7D, 0, 0, 4, 0, 16, 0]);
    std::fs::write(&no_data, &bytes).expect("write");
    assert!(matches!(
        repair_file(&no_data),
        Err(RecordingError::NotWav { .. })
    ));
    assert!(matches!(
        repair_file(dir.path().join("missing.wav")),
        Err(RecordingError::Io { .. })
    ));
}

#[tokio::test]
async fn drop_without_finish_still_closes_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recorder = Recorder::spawn(dir.path().to_path_buf()).expect("spawn");
    let mut active = recorder.start(Uuid::new_v4(), start_time()).expect("start");
    let path = dir.path().join(&active.relative_path);
    let left = tone(440.0, 8000, 8000 + 80, 8000);
    let right = tone(1000.0, 6000, 8000 + 80, 8000);
    // Ends with a half frame still in the batch buffer: drop must send it.
    push_all(&mut active, &left, &right);
    drop(active);
    shutdown(recorder).await;
    let (spec, l, r) = read_wav(&path);
    assert_eq!(spec.channels, 2);
    assert_eq!(l, left);
    assert_eq!(r, right);
    assert!(!repair_file(&path).expect("repair").changed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_recordings_on_one_thread() {
    const CALLS: usize = 500;
    let dir = tempfile::tempdir().expect("tempdir");
    let recorder = Recorder::spawn(dir.path().to_path_buf()).expect("spawn");
    let mut tasks = tokio::task::JoinSet::new();
    for call in 0..CALLS {
        let recorder = recorder.clone();
        tasks.spawn(async move {
            let mut active = recorder.start(Uuid::new_v4(), start_time()).expect("start");
            // Per-call constant values let us detect cross-talk between files.
            let left = [call as i16; FRAME];
            let right = [-(call as i16); FRAME];
            for _ in 0..50 {
                active.push_frame(&left, &right);
                tokio::task::yield_now().await;
            }
            (call, active.finish().await.expect("finish"))
        });
    }
    let mut paths = HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let (call, summary) = joined.expect("task");
        assert_eq!(summary.frames, 8000);
        assert!(summary.is_complete());
        assert_eq!(summary.bytes, 44 + 8000 * 4);
        if call % 50 == 0 {
            let (_, l, r) = read_wav(&dir.path().join(&summary.relative_path));
            assert!(l.iter().all(|&s| s == call as i16));
            assert!(r.iter().all(|&s| s == -(call as i16)));
            assert_eq!(l.len(), 8000);
        }
        assert!(paths.insert(summary.relative_path));
    }
    assert_eq!(paths.len(), CALLS);
    shutdown(recorder).await;
}

/// File wrapper that behaves like a disk filling up at `limit` bytes.
struct FullDisk {
    file: std::fs::File,
    pos: u64,
    limit: u64,
}

impl Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.limit.saturating_sub(self.pos) as usize;
        if room == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "No space left on device",
            ));
        }
        let n = self.file.write(&buf[..buf.len().min(room)])?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for FullDisk {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = self.file.seek(to)?;
        Ok(self.pos)
    }
}

#[tokio::test]
async fn write_error_finalises_file_and_other_calls_continue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let failing = Uuid::new_v4();
    let failing_name = format!("{failing}.wav");
    // Room for the header, 4000 frames and half of the next one.
    let limit = 44 + 4000 * 4 + 2;
    let opener: Opener = Box::new(move |path: &Path| -> io::Result<Box<dyn Sink>> {
        let is_failing = path.file_name().is_some_and(|n| *n == *failing_name);
        let sink = create_file(path)?;
        if !is_failing {
            return Ok(sink);
        }
        drop(sink);
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        Ok(Box::new(FullDisk {
            file,
            pos: 0,
            limit,
        }))
    });
    let recorder = Recorder::spawn_with_opener(dir.path().to_path_buf(), opener).expect("spawn");
    let mut bad = recorder.start(failing, start_time()).expect("start");
    let mut good = recorder.start(Uuid::new_v4(), start_time()).expect("start");
    let left = tone(440.0, 8000, 2 * 8000, 8000);
    let right = tone(1000.0, 6000, 2 * 8000, 8000);
    for (l, r) in left.chunks(FRAME).zip(right.chunks(FRAME)) {
        bad.push_frame(l, r);
        good.push_frame(l, r);
    }
    let bad_summary = bad.finish().await.expect("finish reports, not fails");
    let good_summary = good.finish().await.expect("finish");

    assert!(!bad_summary.is_complete());
    let error = bad_summary.write_error.clone().expect("write error");
    assert!(error.contains("No space left"), "{error}");
    assert_eq!(bad_summary.frames, 4000);
    assert_eq!(bad_summary.bytes, 44 + 4000 * 4);
    let (spec, l, r) = read_wav(&dir.path().join(&bad_summary.relative_path));
    assert_eq!(spec.channels, 2);
    assert_eq!(l[..], left[..4000]);
    assert_eq!(r[..], right[..4000]);

    assert!(good_summary.is_complete());
    assert_eq!(good_summary.frames, 16_000);

    // The recorder thread survived and still takes new calls.
    let mut later = recorder.start(Uuid::new_v4(), start_time()).expect("start");
    later.push_frame(&[3; FRAME], &[4; FRAME]);
    assert_eq!(later.finish().await.expect("finish").frames, FRAME as u64);
    shutdown(recorder).await;
}

/// A disk that takes 100 ms for every write.
struct SlowDisk(std::fs::File);

impl Write for SlowDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        std::thread::sleep(Duration::from_millis(100));
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Seek for SlowDisk {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.0.seek(to)
    }
}

#[tokio::test]
async fn slow_disk_never_delays_the_sender() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opener: Opener = Box::new(|path: &Path| -> io::Result<Box<dyn Sink>> {
        create_file(path)?;
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        Ok(Box::new(SlowDisk(file)))
    });
    let recorder = Recorder::spawn_with_opener(dir.path().to_path_buf(), opener).expect("spawn");
    let mut active = recorder.start(Uuid::new_v4(), start_time()).expect("start");
    let left = tone(440.0, 8000, 4 * 8000, 8000);
    let right = tone(1000.0, 6000, 4 * 8000, 8000);
    let started = Instant::now();
    push_all(&mut active, &left, &right);
    let pushing = started.elapsed();
    // The disk needs well over a second for this (16 writes of 8 KiB plus
    // header updates at 100 ms each); the sender must not notice.
    assert!(
        pushing < Duration::from_millis(300),
        "pushing took {pushing:?}"
    );
    let summary = active.finish().await.expect("finish");
    assert!(started.elapsed() > Duration::from_millis(1000));
    assert_eq!(summary.frames, 32_000);
    shutdown(recorder).await;
}

#[tokio::test]
async fn shutdown_closes_open_files_and_rejects_new_calls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recorder = Recorder::spawn(dir.path().to_path_buf()).expect("spawn");
    let mut active = recorder.start(Uuid::new_v4(), start_time()).expect("start");
    let path = dir.path().join(&active.relative_path);
    // Exactly five batches, so nothing is left in the call's buffer.
    let left = tone(440.0, 8000, 8000, 8000);
    push_all(&mut active, &left, &left);

    let other_handle = recorder.clone();
    shutdown(recorder).await;
    assert!(matches!(
        other_handle.start(Uuid::new_v4(), start_time()),
        Err(RecordingError::RecorderGone)
    ));
    active.push_frame(&[1; FRAME], &[1; FRAME]);
    assert!(matches!(
        active.finish().await,
        Err(RecordingError::RecorderGone)
    ));
    let (_, l, _) = read_wav(&path);
    assert_eq!(l, left);
    // Shutting down again through another clone is harmless.
    shutdown(other_handle).await;
}

#[tokio::test]
async fn duplicate_call_id_does_not_clobber_the_first_recording() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recorder = Recorder::spawn(dir.path().to_path_buf()).expect("spawn");
    let id = Uuid::new_v4();
    let mut first = recorder.start(id, start_time()).expect("start");
    let mut second = recorder.start(id, start_time()).expect("start");
    first.push_frame(&[1; FRAME], &[2; FRAME]);
    second.push_frame(&[9; FRAME], &[9; FRAME]);
    let err = second.finish().await.expect_err("duplicate must fail");
    assert!(matches!(err, RecordingError::Create { .. }), "{err}");
    let summary = first.finish().await.expect("finish");
    let (_, l, r) = read_wav(&dir.path().join(summary.relative_path));
    assert_eq!((l, r), (vec![1; FRAME], vec![2; FRAME]));
    shutdown(recorder).await;
}

#[tokio::test]
async fn recorder_thread_exits_when_all_handles_are_gone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recorder = Recorder::spawn(dir.path().to_path_buf()).expect("spawn");
    let mut active = recorder.start(Uuid::new_v4(), start_time()).expect("start");
    let path: PathBuf = dir.path().join(&active.relative_path);
    active.push_frame(&[1; FRAME], &[2; FRAME]);
    let handle = recorder
        .shared
        .thread
        .lock()
        .expect("lock")
        .take()
        .expect("join handle");
    drop(recorder);
    drop(active);
    let joined = tokio::task::spawn_blocking(move || handle.join());
    tokio::time::timeout(Duration::from_secs(5), joined)
        .await
        .expect("thread exits within the tick interval")
        .expect("join task")
        .expect("thread did not panic");
    let (_, l, _) = read_wav(&path);
    assert_eq!(l, vec![1; FRAME]);
}

/// A file's header as the recorder writes it, with `fmt` standing for the
/// fmt chunk's 16 bytes, and 4 bytes of audio.
fn wav_with(fmt: [u8; 16], between: &[u8]) -> Vec<u8> {
    let mut bytes = b"RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00".to_vec();
    bytes.extend(fmt);
    bytes.extend(between);
    bytes.extend(b"data\x00\x00\x00\x00");
    bytes.extend([1, 2, 3, 4]);
    bytes
}

#[test]
fn repair_vouches_only_for_files_a_player_opens() {
    // 8 kHz stereo 16-bit: byte rate 32,000, block alignment 4.
    let good = [1, 0, 2, 0, 0x40, 0x1F, 0, 0, 0, 0x7D, 0, 0, 4, 0, 16, 0];
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("call.wav");
    std::fs::write(&path, wav_with(good, b"LIST\x02\x00\x00\x00ab")).expect("write");
    assert_eq!(repair_file(&path).expect("repair").frames, 1);
    let reader = hound::WavReader::open(&path).expect("a repaired file opens");
    assert_eq!(
        reader.into_samples::<i16>().filter(Result::is_ok).count(),
        2
    );

    let with = |i: usize, b: u8| {
        let mut fmt = good;
        fmt[i] = b;
        fmt
    };
    let cases: [(&str, Vec<u8>); 8] = [
        ("float", wav_with(with(0, 3), b"")),
        ("no channels", wav_with(with(2, 0), b"")),
        ("12 bits", wav_with(with(14, 12), b"")),
        ("block alignment", wav_with(with(12, 3), b"")),
        ("byte rate", wav_with(with(9, 0x7E), b"")),
        ("odd chunk", wav_with(good, b"LIST\x01\x00\x00\x00a\x00")),
        (
            "long fact",
            wav_with(
                good,
                b"fact\x08\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00",
            ),
        ),
        (
            "two fmt",
            wav_with(good, &[b"fmt \x10\x00\x00\x00".as_slice(), &good].concat()),
        ),
    ];
    for (what, bytes) in cases {
        std::fs::write(&path, &bytes).expect("write");
        match repair_file(&path) {
            Err(RecordingError::NotWav { reason, .. }) => println!("{what}: {reason}"),
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(
            std::fs::read(&path).expect("read"),
            bytes,
            "{what}: untouched"
        );
    }
}
