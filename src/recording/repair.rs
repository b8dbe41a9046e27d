//! Repair of WAV files whose header does not match their content.
//!
//! Role: after a crash (SIGKILL, power loss, disk full) a recording can end
//! with a header that counts fewer (often zero) or more data bytes than the
//! file holds, or with half a sample frame at the end. This rewrites the RIFF
//! and data chunk sizes from the real file length. It touches only the file it
//! is given and nothing outside `crate::recording`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use super::RecordingError;

/// What `repair_file` found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairOutcome {
    /// Sample frames (samples per channel) in the repaired file.
    pub frames: u64,
    pub duration: Duration,
    pub channels: u16,
    pub sample_rate: u32,
    /// Data chunk size now in the header.
    pub data_bytes: u32,
    /// Data chunk size the header claimed before.
    pub previous_data_bytes: u32,
    /// Bytes cut off the end (a partial trailing frame).
    pub truncated_bytes: u64,
    /// False if the file was already consistent and was left untouched.
    pub changed: bool,
}

struct Format {
    channels: u16,
    sample_rate: u32,
    block_align: u16,
}

/// Rewrites the RIFF and data chunk sizes of a WAV file from its real length,
/// dropping a partial trailing frame. Works on files whose header says 0 data
/// bytes (killed before the first header update) or too many.
///
/// The file must be laid out as the recorder writes it: a plain integer PCM
/// fmt chunk first, the data chunk last (anything after its start is taken as
/// audio). Anything else is refused as `NotWav` and left as it was.
pub fn repair_file(path: impl AsRef<Path>) -> Result<RepairOutcome, RecordingError> {
    let path = path.as_ref();
    let io_err = |source| RecordingError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_wav = |reason: &str| RecordingError::NotWav {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };

    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();

    let mut riff = [0u8; 12];
    if file_len < 12 {
        return Err(not_wav("shorter than a RIFF header"));
    }
    file.read_exact(&mut riff).map_err(io_err)?;
    if &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
        return Err(not_wav("no RIFF/WAVE signature"));
    }
    let previous_riff_size = u32::from_le_bytes([riff[4], riff[5], riff[6], riff[7]]);

    let mut format: Option<Format> = None;
    let mut pos: u64 = 12;
    let (data_start, previous_data_bytes) = loop {
        if pos + 8 > file_len {
            return Err(not_wav("no data chunk"));
        }
        let (id, size) = read_chunk_header(&mut file, pos).map_err(io_err)?;
        if &id == b"data" {
            break (pos + 8, size);
        }
        match &id {
            b"fmt " if format.is_some() => return Err(not_wav("two fmt chunks")),
            b"fmt " => {
                format = Some(read_format(&mut file, pos + 8, size, file_len).map_err(
                    |e| match e {
                        FormatError::Io(io) => io_err(io),
                        FormatError::Invalid(reason) => not_wav(reason),
                    },
                )?);
            }
            _ if format.is_none() => return Err(not_wav("a chunk before the fmt chunk")),
            // Readers differ on the pad byte of an odd chunk and on a fact
            // chunk of another size; the recorder writes neither, so a file
            // with one is not a recording this may rewrite.
            b"fact" if size != 4 => return Err(not_wav("a fact chunk of unusual size")),
            _ if size % 2 == 1 => return Err(not_wav("an odd-sized chunk before the data")),
            _ => {}
        }
        pos += 8 + u64::from(size);
    };
    let format = format.ok_or_else(|| not_wav("no fmt chunk before the data chunk"))?;

    let align = u64::from(format.block_align);
    // RIFF sizes are 32-bit: beyond 4 GiB keep the largest whole-frame prefix.
    let max_data = u64::from(u32::MAX).saturating_sub(data_start - 8) / align * align;
    let available = file_len - data_start;
    let data_bytes = (available / align * align).min(max_data);
    let new_len = data_start + data_bytes;
    // Both fit in u32: data_bytes <= max_data, built so the RIFF size fits.
    let data_bytes_u32 = data_bytes as u32;
    let riff_size = (new_len - 8) as u32;

    let changed = new_len != file_len
        || previous_data_bytes != data_bytes_u32
        || previous_riff_size != riff_size;
    if changed {
        file.seek(SeekFrom::Start(4)).map_err(io_err)?;
        file.write_all(&riff_size.to_le_bytes()).map_err(io_err)?;
        file.seek(SeekFrom::Start(data_start - 4)).map_err(io_err)?;
        file.write_all(&data_bytes_u32.to_le_bytes())
            .map_err(io_err)?;
        if new_len != file_len {
            file.set_len(new_len).map_err(io_err)?;
        }
        // A repair usually runs after a crash; make it stick.
        file.sync_all().map_err(io_err)?;
    }

    let frames = data_bytes / align;
    Ok(RepairOutcome {
        frames,
        duration: Duration::from_secs_f64(frames as f64 / f64::from(format.sample_rate)),
        channels: format.channels,
        sample_rate: format.sample_rate,
        data_bytes: data_bytes_u32,
        previous_data_bytes,
        truncated_bytes: file_len - new_len,
        changed,
    })
}

fn read_chunk_header(file: &mut File, pos: u64) -> std::io::Result<([u8; 4], u32)> {
    let mut header = [0u8; 8];
    file.seek(SeekFrom::Start(pos))?;
    file.read_exact(&mut header)?;
    let id = [header[0], header[1], header[2], header[3]];
    let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    Ok((id, size))
}

enum FormatError {
    Io(std::io::Error),
    Invalid(&'static str),
}

/// Reads a fmt chunk and accepts it only if it is plain integer PCM (the
/// recorder's own format, and what every reader plays) whose fields agree
/// with each other: a repair must never vouch for a file no player opens.
fn read_format(file: &mut File, pos: u64, size: u32, file_len: u64) -> Result<Format, FormatError> {
    // WAVEFORMAT (16 bytes) or WAVEFORMATEX (18, with cbSize).
    if size != 16 && size != 18 {
        return Err(FormatError::Invalid("fmt chunk is not 16 or 18 bytes long"));
    }
    if pos + u64::from(size) > file_len {
        return Err(FormatError::Invalid(
            "fmt chunk runs past the end of the file",
        ));
    }
    let mut fmt = [0u8; 16];
    file.seek(SeekFrom::Start(pos)).map_err(FormatError::Io)?;
    file.read_exact(&mut fmt).map_err(FormatError::Io)?;
    let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([fmt[i], fmt[i + 1], fmt[i + 2], fmt[i + 3]]);
    let (tag, channels, sample_rate) = (u16_at(0), u16_at(2), u32_at(4));
    let (byte_rate, block_align, bits) = (u32_at(8), u16_at(12), u16_at(14));
    if tag != 1 {
        return Err(FormatError::Invalid("fmt chunk is not integer PCM"));
    }
    if channels == 0 || sample_rate == 0 {
        return Err(FormatError::Invalid(
            "fmt chunk has no channels or no sample rate",
        ));
    }
    if !matches!(bits, 8 | 16 | 24) {
        return Err(FormatError::Invalid(
            "fmt chunk has other than 8, 16 or 24 bits a sample",
        ));
    }
    if u32::from(block_align) != u32::from(channels) * u32::from(bits / 8)
        || Some(byte_rate) != u32::from(block_align).checked_mul(sample_rate)
    {
        return Err(FormatError::Invalid(
            "fmt chunk's block alignment or byte rate disagrees with its channels and sample size",
        ));
    }
    Ok(Format {
        channels,
        sample_rate,
        block_align,
    })
}
