//! Voice prompts played to callers: decoding, resampling and caching.
//!
//! Role: turn an audio file from disk (WAV, FLAC, Ogg/Vorbis, MP3, any rate,
//! mono or multi-channel) into 8 kHz mono 16-bit samples ready for G.711, and
//! keep decoded prompts in memory so that calls share one copy. It may read
//! prompt files but may not write anything, touch the network or depend on
//! the rest of the crate other than `crate::media`.
//!
//! Decoding is blocking work (file I/O plus resampling): call `decode_file`
//! and `PromptCache::get` from a blocking context (startup or
//! `tokio::task::spawn_blocking`), never directly inside an async media task.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rubato::{FftFixedIn, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// Sample rate of every decoded prompt (narrowband telephony).
pub const PROMPT_RATE: u32 = 8000;

/// Input frames per resampler call: large enough to keep FFT overhead low,
/// small enough to keep the scratch buffers tiny.
const RESAMPLE_CHUNK: usize = 1024;

/// Why a prompt could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("prompt file not found: {}", path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read prompt file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unsupported or unrecognised audio format in {}: {detail}", path.display())]
    UnsupportedFormat { path: PathBuf, detail: String },
    #[error("unsupported audio codec in {}: {detail}", path.display())]
    UnsupportedCodec { path: PathBuf, detail: String },
    #[error("no audio track in {}", path.display())]
    NoAudioTrack { path: PathBuf },
    #[error("prompt file {} contains no audio samples", path.display())]
    EmptyAudio { path: PathBuf },
    #[error("cannot decode {}: {detail}", path.display())]
    Decode { path: PathBuf, detail: String },
    #[error("cannot resample {} from {rate} Hz: {detail}", path.display())]
    Resample {
        path: PathBuf,
        rate: u32,
        detail: String,
    },
}

/// A decoded prompt: 8 kHz mono signed 16-bit samples, cheap to clone.
#[derive(Debug, Clone)]
pub struct Prompt {
    name: String,
    samples: Arc<[i16]>,
}

impl Prompt {
    /// Wraps already-converted 8 kHz mono samples (e.g. generated tones).
    pub fn new(name: impl Into<String>, samples: impl Into<Arc<[i16]>>) -> Prompt {
        Prompt {
            name: name.into(),
            samples: samples.into(),
        }
    }

    /// Human-readable name, the file stem for decoded files.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The samples, at [`PROMPT_RATE`].
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// A shared handle to the samples, for players that outlive the `Prompt`.
    pub fn shared_samples(&self) -> Arc<[i16]> {
        Arc::clone(&self.samples)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True if there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Playing time at [`PROMPT_RATE`].
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.samples.len() as f64 / f64::from(PROMPT_RATE))
    }
}

/// Decodes an audio file into an 8 kHz mono prompt.
///
/// Channels are averaged into one; any sample rate is converted with a
/// band-limited FFT resampler (rubato), so content above 4 kHz is filtered out
/// instead of aliasing into the telephone band.
pub fn decode_file(path: impl AsRef<Path>) -> Result<Prompt, PromptError> {
    let path = path.as_ref();
    let (mono, rate) = decode_to_mono(path)?;
    if mono.is_empty() {
        return Err(PromptError::EmptyAudio {
            path: path.to_path_buf(),
        });
    }
    let resampled = if rate == PROMPT_RATE {
        mono
    } else {
        resample_to_prompt_rate(&mono, rate).map_err(|detail| PromptError::Resample {
            path: path.to_path_buf(),
            rate,
            detail,
        })?
    };
    let samples: Arc<[i16]> = resampled.iter().map(|&s| f32_to_i16(s)).collect();
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Prompt { name, samples })
}

fn f32_to_i16(s: f32) -> i16 {
    // Resampler overshoot (Gibbs ringing) can exceed full scale on clipped
    // sources; clamping avoids wrap-around clicks.
    (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

fn open_error(path: &Path, e: std::io::Error) -> PromptError {
    if e.kind() == std::io::ErrorKind::NotFound {
        PromptError::NotFound {
            path: path.to_path_buf(),
        }
    } else {
        PromptError::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

/// Decodes the first audio track, averaging channels; returns samples and rate.
fn decode_to_mono(path: &Path) -> Result<(Vec<f32>, u32), PromptError> {
    let file = File::open(path).map_err(|e| open_error(path, e))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let format_opts = FormatOptions {
        // Trims MP3/AAC encoder delay and padding so prompts start on time.
        enable_gapless: true,
        ..Default::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &format_opts, &MetadataOptions::default())
        .map_err(|e| match e {
            SymphoniaError::IoError(source) => PromptError::Io {
                path: path.to_path_buf(),
                source,
            },
            other => PromptError::UnsupportedFormat {
                path: path.to_path_buf(),
                detail: other.to_string(),
            },
        })?;
    let mut format = probed.format;

    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| PromptError::NoAudioTrack {
            path: path.to_path_buf(),
        })?;
    let track_id = track.id;
    // Containers that know the exact length (Ogg granule positions, WAV/FLAC
    // headers) let us drop decoder padding that symphonia 0.5 does not trim
    // itself, e.g. the last Vorbis block overshooting the real end.
    let declared_frames = track.codec_params.n_frames;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| PromptError::UnsupportedCodec {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;

    let decode_error = |detail: String| PromptError::Decode {
        path: path.to_path_buf(),
        detail,
    };
    let mut mono = Vec::new();
    let mut rate: Option<u32> = None;
    let mut scratch: Option<SampleBuffer<f32>> = None;
    let mut skipped_packets = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            // Symphonia signals the normal end of stream as an EOF I/O error.
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            // A new chained stream (e.g. concatenated Ogg) starts; a prompt is
            // only the first one.
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(decode_error(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A corrupt packet only costs a few milliseconds of audio; keep
            // the rest of the prompt rather than failing the whole file.
            Err(SymphoniaError::DecodeError(msg)) => {
                skipped_packets += 1;
                tracing::debug!(path = %path.display(), msg, "skipping undecodable packet");
                continue;
            }
            Err(e) => return Err(decode_error(e.to_string())),
        };
        let spec = *decoded.spec();
        let frames = decoded.frames();
        if frames == 0 {
            continue;
        }
        match rate {
            None => rate = Some(spec.rate),
            Some(r) if r != spec.rate => {
                return Err(decode_error(format!(
                    "sample rate changes mid-stream from {r} to {} Hz",
                    spec.rate
                )));
            }
            Some(_) => {}
        }
        let channels = spec.channels.count().max(1);
        let needed = decoded.capacity() * channels;
        let buf = match &mut scratch {
            Some(b) if b.capacity() >= needed => b,
            _ => scratch.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buf.copy_interleaved_ref(decoded);
        let inv = 1.0 / channels as f32;
        mono.extend(
            buf.samples()
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() * inv),
        );
    }
    if let Some(n) = declared_frames.and_then(|n| usize::try_from(n).ok()) {
        mono.truncate(n);
    }
    if skipped_packets > 0 {
        tracing::warn!(path = %path.display(), skipped_packets, "prompt had undecodable packets");
    }
    match rate {
        Some(r) if r > 0 => Ok((mono, r)),
        // No decoded frame at all: the rate is irrelevant, caller reports empty.
        _ => Ok((Vec::new(), PROMPT_RATE)),
    }
}

/// Band-limited conversion to [`PROMPT_RATE`], delay-compensated and trimmed
/// so the output covers exactly the input's duration.
fn resample_to_prompt_rate(input: &[f32], rate: u32) -> Result<Vec<f32>, String> {
    let mut resampler =
        FftFixedIn::<f32>::new(rate as usize, PROMPT_RATE as usize, RESAMPLE_CHUNK, 2, 1)
            .map_err(|e| e.to_string())?;
    let wanted = (input.len() as u64 * u64::from(PROMPT_RATE)).div_ceil(u64::from(rate)) as usize;
    let delay = resampler.output_delay();
    let mut out = Vec::with_capacity(wanted + delay + resampler.output_frames_max());
    let mut chunk_out = resampler.output_buffer_allocate(true);

    let mut pos = 0;
    while input.len() - pos >= resampler.input_frames_next() {
        let need = resampler.input_frames_next();
        let (_, written) = resampler
            .process_into_buffer(&[&input[pos..pos + need]], &mut chunk_out, None)
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(&chunk_out[0][..written]);
        pos += need;
    }
    if pos < input.len() {
        let (_, written) = resampler
            .process_partial_into_buffer(Some(&[&input[pos..]]), &mut chunk_out, None)
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(&chunk_out[0][..written]);
    }
    // Push zeros through until the delayed tail of the signal has come out.
    // Calls may return nothing while the resampler fills an FFT block, which
    // for rates sharing no factor with 8000 is up to one second of input, so
    // bound the flush by input fed rather than by empty calls.
    let flush_limit = 4 * (rate as usize + RESAMPLE_CHUNK);
    let mut flushed = 0;
    while out.len() < wanted + delay {
        if flushed > flush_limit {
            return Err(format!(
                "resampler produced {} of {} samples",
                out.len().saturating_sub(delay),
                wanted
            ));
        }
        flushed += resampler.input_frames_next();
        let (_, written) = resampler
            .process_partial_into_buffer(None::<&[&[f32]]>, &mut chunk_out, None)
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(&chunk_out[0][..written]);
    }
    out.drain(..delay.min(out.len()));
    out.truncate(wanted);
    Ok(out)
}

/// Identity of a file version: modification time plus size, because some
/// filesystems only keep whole-second mtimes and a quick re-upload could keep
/// the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

#[derive(Debug)]
struct CacheEntry {
    stamp: FileStamp,
    prompt: Prompt,
}

/// Shared, thread-safe cache of decoded prompts keyed by canonical path.
///
/// Cloning is cheap and clones share the cache. A file is decoded again when
/// its modification time or size changes, so prompts can be replaced on disk
/// without restarting the server.
#[derive(Debug, Clone, Default)]
pub struct PromptCache {
    entries: Arc<Mutex<HashMap<PathBuf, CacheEntry>>>,
}

impl PromptCache {
    /// An empty cache.
    pub fn new() -> PromptCache {
        PromptCache::default()
    }

    /// Returns the decoded prompt for `path`, decoding it on first use or when
    /// the file changed since it was cached. Blocking (see module docs).
    pub fn get(&self, path: &Path) -> Result<Prompt, PromptError> {
        let canonical = path.canonicalize().map_err(|e| open_error(path, e))?;
        let meta = std::fs::metadata(&canonical).map_err(|e| open_error(path, e))?;
        let stamp = FileStamp {
            modified: meta.modified().ok(),
            len: meta.len(),
        };
        if let Some(entry) = self.lock().get(&canonical) {
            if entry.stamp == stamp {
                return Ok(entry.prompt.clone());
            }
        }
        // Decode without holding the lock: it can take tens of milliseconds
        // and other calls must not wait for it. Two concurrent first uses may
        // both decode; the result is identical so the last insert wins.
        let prompt = decode_file(&canonical)?;
        self.lock().insert(
            canonical,
            CacheEntry {
                stamp,
                prompt: prompt.clone(),
            },
        );
        Ok(prompt)
    }

    /// Forgets one file (by the path it was requested with or its canonical one).
    pub fn remove(&self, path: &Path) {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.lock().remove(&key);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Number of cached prompts.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True if nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, CacheEntry>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (only single insert/remove calls happen under it), so a poisoned
        // lock is still safe to use.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::analysis::{rms, tone, tone_fraction};
    use std::process::Command;

    fn write_wav(path: &Path, rate: u32, channels: u16, bits: u16, frames: Vec<Vec<f64>>) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).expect("create wav");
        for frame in frames {
            for s in frame {
                match bits {
                    8 => w.write_sample((s * 127.0).round() as i8).expect("write"),
                    16 => w.write_sample((s * 32767.0).round() as i16).expect("write"),
                    24 => w
                        .write_sample((s * 8_388_607.0).round() as i32)
                        .expect("write"),
                    _ => unreachable!("test only writes 8/16/24-bit"),
                }
            }
        }
        w.finalize().expect("finalize");
    }

    /// `seconds` of a sine per channel, as normalised floats.
    fn sine_frames(rate: u32, seconds: f64, freqs: &[f64], amp: f64) -> Vec<Vec<f64>> {
        let n = (f64::from(rate) * seconds).round() as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                freqs
                    .iter()
                    .map(|f| amp * (2.0 * std::f64::consts::PI * f * t).sin())
                    .collect()
            })
            .collect()
    }

    /// Middle part of the prompt, away from resampler edge effects.
    fn middle(p: &Prompt) -> &[i16] {
        let s = p.samples();
        &s[s.len() / 8..s.len() * 7 / 8]
    }

    #[test]
    fn wav_16k_stereo_is_downmixed_and_resampled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("greeting.wav");
        // Same 1 kHz tone on both channels: averaging must keep it intact.
        write_wav(
            &path,
            16000,
            2,
            16,
            sine_frames(16000, 2.0, &[1000.0, 1000.0], 0.3),
        );
        let p = decode_file(&path).expect("decode");
        assert_eq!(p.name(), "greeting");
        assert_eq!(p.len(), 16000);
        assert_eq!(p.duration(), Duration::from_secs(2));
        let f = tone_fraction(middle(&p), 1000.0, PROMPT_RATE);
        assert!(f > 0.99, "1 kHz fraction {f}");
        let level = rms(middle(&p));
        let expected = 0.3 * 32767.0 / 2f64.sqrt();
        assert!((level / expected - 1.0).abs() < 0.05, "rms {level}");
    }

    #[test]
    fn stereo_downmix_averages_channels() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("split.wav");
        // Left 1 kHz, right 600 Hz: both survive at half the energy each.
        write_wav(
            &path,
            8000,
            2,
            16,
            sine_frames(8000, 1.0, &[1000.0, 600.0], 0.4),
        );
        let p = decode_file(&path).expect("decode");
        assert_eq!(p.len(), 8000);
        let a = tone_fraction(p.samples(), 1000.0, PROMPT_RATE);
        let b = tone_fraction(p.samples(), 600.0, PROMPT_RATE);
        assert!((a - 0.5).abs() < 0.05 && (b - 0.5).abs() < 0.05, "{a} {b}");
    }

    #[test]
    fn wav_44k1_mono_keeps_tone_and_removes_out_of_band_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("music.wav");
        write_wav(&path, 44100, 1, 16, sine_frames(44100, 1.5, &[1000.0], 0.3));
        let p = decode_file(&path).expect("decode");
        assert_eq!(p.len(), 12000);
        let f = tone_fraction(middle(&p), 1000.0, PROMPT_RATE);
        assert!(f > 0.99, "1 kHz fraction {f}");

        // A 6 kHz tone is above the 4 kHz Nyquist limit: naive decimation
        // would alias it to 2 kHz, a band-limited resampler removes it.
        let hf = dir.path().join("hf.wav");
        write_wav(&hf, 44100, 1, 16, sine_frames(44100, 1.0, &[6000.0], 0.3));
        let p = decode_file(&hf).expect("decode");
        let level = rms(middle(&p));
        assert!(level < 100.0, "out-of-band tone leaked: rms {level}");
    }

    #[test]
    fn wav_8k_mono_passes_through_unchanged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("beep.wav");
        let samples = tone(1000.0, 10000, 4000, 8000);
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).expect("create");
        for &s in &samples {
            w.write_sample(s).expect("write");
        }
        w.finalize().expect("finalize");
        let p = decode_file(&path).expect("decode");
        assert_eq!(p.samples(), &samples[..]);
    }

    #[test]
    fn wav_8bit_and_24bit_and_odd_rate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.wav");
        write_wav(&path, 11025, 1, 8, sine_frames(11025, 1.0, &[1000.0], 0.5));
        let p = decode_file(&path).expect("decode 8-bit");
        assert_eq!(p.len(), 8000);
        assert!(tone_fraction(middle(&p), 1000.0, PROMPT_RATE) > 0.98);

        let path = dir.path().join("studio.wav");
        write_wav(
            &path,
            48000,
            2,
            24,
            sine_frames(48000, 1.0, &[1000.0, 1000.0], 0.3),
        );
        let p = decode_file(&path).expect("decode 24-bit");
        assert_eq!(p.len(), 8000);
        assert!(tone_fraction(middle(&p), 1000.0, PROMPT_RATE) > 0.99);

        // A rate sharing no useful factor with 8000 still converts.
        let path = dir.path().join("odd.wav");
        write_wav(&path, 22051, 1, 16, sine_frames(22051, 1.0, &[1000.0], 0.3));
        let p = decode_file(&path).expect("decode odd rate");
        assert!((p.len() as i64 - 8000).abs() <= 1, "len {}", p.len());
        assert!(tone_fraction(middle(&p), 1000.0, PROMPT_RATE) > 0.99);
    }

    #[test]
    fn float_to_i16_clamps() {
        assert_eq!(f32_to_i16(1.2), 32767);
        assert_eq!(f32_to_i16(-1.2), -32768);
        assert_eq!(f32_to_i16(0.5), 16384);
        assert_eq!(f32_to_i16(-1.0), -32768);
    }

    #[test]
    fn full_scale_input_is_clamped_not_wrapped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("loud.wav");
        // A full-scale 400 Hz square wave overshoots full scale after the
        // anti-alias filter (Gibbs ringing), so clamping must kick in.
        let frames: Vec<Vec<f64>> = (0..32000)
            .map(|i| vec![if (i / 20) % 2 == 0 { 1.0 } else { -1.0 }])
            .collect();
        write_wav(&path, 16000, 1, 16, frames);
        let p = decode_file(&path).expect("decode");
        let s = middle(&p);
        assert!(s.contains(&32767) && s.contains(&-32768));
        // Wrapped overshoots would flip sign at every peak and add two extra
        // zero crossings per half period; the clean signal has one.
        let crossings = s.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        let half_periods = s.len() / 10;
        assert!(
            crossings.abs_diff(half_periods) <= 2,
            "{crossings} crossings, expected about {half_periods}"
        );
    }

    #[test]
    fn clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.wav");
        assert!(matches!(
            decode_file(&missing),
            Err(PromptError::NotFound { .. })
        ));

        let text = dir.path().join("notes.wav");
        std::fs::write(&text, b"this is not audio at all, just some text").expect("write");
        let err = decode_file(&text).expect_err("text must not decode");
        assert!(
            matches!(err, PromptError::UnsupportedFormat { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("notes.wav"));

        let empty = dir.path().join("empty.wav");
        write_wav(&empty, 8000, 1, 16, Vec::new());
        let err = decode_file(&empty).expect_err("empty must fail");
        assert!(matches!(err, PromptError::EmptyAudio { .. }), "{err}");

        let cache = PromptCache::new();
        assert!(matches!(
            cache.get(&missing),
            Err(PromptError::NotFound { .. })
        ));
    }

    #[test]
    fn cache_decodes_once_and_reloads_changed_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("menu.wav");
        write_wav(&path, 8000, 1, 16, sine_frames(8000, 1.0, &[1000.0], 0.3));
        let cache = PromptCache::new();
        let a = cache.get(&path).expect("first get");
        // Another spelling of the same file hits the same entry.
        let alias = dir.path().join(".").join("menu.wav");
        let b = cache.clone().get(&alias).expect("second get");
        assert!(Arc::ptr_eq(&a.shared_samples(), &b.shared_samples()));
        assert_eq!(cache.len(), 1);

        write_wav(&path, 8000, 1, 16, sine_frames(8000, 0.5, &[600.0], 0.3));
        // Force a different mtime even on coarse-grained filesystems.
        let later = SystemTime::now() + Duration::from_secs(5);
        File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(later))
            .expect("set mtime");
        let c = cache.get(&path).expect("reload");
        assert_eq!(c.len(), 4000);
        assert!(!Arc::ptr_eq(&a.shared_samples(), &c.shared_samples()));
        assert_eq!(cache.len(), 1);

        cache.remove(&path);
        assert!(cache.is_empty());
        std::fs::remove_file(&path).expect("remove");
        assert!(matches!(
            cache.get(&path),
            Err(PromptError::NotFound { .. })
        ));
    }

    #[test]
    fn cache_is_shared_across_threads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hold.wav");
        write_wav(&path, 16000, 1, 16, sine_frames(16000, 0.5, &[1000.0], 0.3));
        let cache = PromptCache::new();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let cache = cache.clone();
                let path = path.clone();
                std::thread::spawn(move || cache.get(&path).map(|p| p.len()))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().expect("thread").expect("get"), 4000);
        }
        assert_eq!(cache.len(), 1);
    }

    /// Encodes a 1.5 s 1 kHz stereo tone at 44.1 kHz with sox, or explains why not.
    fn sox_make(dir: &Path, ext: &str) -> Result<PathBuf, String> {
        let path = dir.join(format!("tone.{ext}"));
        let output = Command::new("sox")
            .args(["-n", "-r", "44100", "-c", "2"])
            .arg(&path)
            .args(["synth", "1.5", "sine", "1000", "vol", "0.3"])
            .output()
            .map_err(|e| format!("cannot run sox: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "sox cannot write .{ext}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(path)
    }

    #[test]
    fn compressed_formats_via_sox() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut tested = Vec::new();
        // MP3 without a LAME/Xing gapless header (as sox writes it) keeps the
        // encoder delay and padding, about 40 ms in all.
        for (ext, tolerance) in [("flac", 1usize), ("ogg", 1), ("mp3", 400)] {
            let path = match sox_make(dir.path(), ext) {
                Ok(p) => p,
                Err(why) => {
                    eprintln!("skipping {ext}: {why}");
                    continue;
                }
            };
            let p = decode_file(&path).unwrap_or_else(|e| panic!("{ext}: {e}"));
            assert!(
                p.len().abs_diff(12000) <= tolerance,
                "{ext}: {} samples",
                p.len()
            );
            let f = tone_fraction(middle(&p), 1000.0, PROMPT_RATE);
            assert!(f > 0.98, "{ext}: 1 kHz fraction {f}");
            tested.push(ext);
        }
        eprintln!("compressed formats tested: {tested:?}");
    }
}
