//! ITU-T G.711 mu-law (PCMU) and A-law (PCMA) codecs for RTP payloads.
//!
//! Role: pure sample conversion between 16-bit linear PCM and the 8-bit
//! companded codes carried in RTP. It may not touch I/O, sockets, clocks or any
//! other part of the crate; it must stay allocation-free apart from growing the
//! caller's output buffer.

/// A G.711 variant negotiated in SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// mu-law, static RTP payload type 0.
    Pcmu,
    /// A-law, static RTP payload type 8.
    Pcma,
}

impl Codec {
    /// Static RTP payload type (RFC 3551).
    pub const fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// Encoding name as written in SDP `a=rtpmap`.
    pub const fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// Maps a static RTP payload type back to the codec, if it is a G.711 one.
    pub const fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// Encodes linear PCM into G.711 codes, appending one byte per sample to `out`.
    pub fn encode(&self, pcm: &[i16], out: &mut Vec<u8>) {
        out.reserve(pcm.len());
        match self {
            Codec::Pcmu => out.extend(pcm.iter().map(|&s| linear_to_ulaw(s))),
            Codec::Pcma => out.extend(pcm.iter().map(|&s| linear_to_alaw(s))),
        }
    }

    /// Decodes G.711 codes into linear PCM, appending one sample per byte to `out`.
    pub fn decode(&self, payload: &[u8], out: &mut Vec<i16>) {
        let table = match self {
            Codec::Pcmu => &ULAW_TO_LINEAR,
            Codec::Pcma => &ALAW_TO_LINEAR,
        };
        out.reserve(payload.len());
        out.extend(payload.iter().map(|&b| table[usize::from(b)]));
    }
}

/// Added before segment search so that every segment has the same shape
/// (G.711 mu-law works on a biased magnitude).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude that still fits the top segment once the bias is added.
const ULAW_CLIP: i32 = 32635;

/// Encodes one sample to mu-law.
#[inline]
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut pcm = i32::from(sample);
    let sign: u8 = if pcm < 0 {
        pcm = -pcm;
        0x80
    } else {
        0
    };
    let biased = pcm.min(ULAW_CLIP) + ULAW_BIAS;
    // `biased` lies in 0x84..=0x7FFF, so its highest set bit is bit 7..=14 and
    // the segment (exponent) is that bit's position minus 7.
    let exponent = (31 - biased.leading_zeros()) as i32 - 7;
    let mantissa = (biased >> (exponent + 3)) & 0x0F;
    !(sign | ((exponent as u8) << 4) | mantissa as u8)
}

/// Encodes one sample to A-law.
#[inline]
pub fn linear_to_alaw(sample: i16) -> u8 {
    // A-law works on 13-bit magnitudes; the arithmetic shift keeps the sign so
    // that negative values land on the symmetric code below.
    let mut pcm = i32::from(sample) >> 3;
    let mask: u8 = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    // pcm is 0..=4095 here; segment 0 covers 0..=31, each next segment doubles.
    let bits = 32 - pcm.leading_zeros() as i32;
    let segment = (bits - 5).max(0);
    let mantissa = if segment < 2 {
        (pcm >> 1) & 0x0F
    } else {
        (pcm >> segment) & 0x0F
    };
    (((segment as u8) << 4) | mantissa as u8) ^ mask
}

const fn ulaw_decode(code: u8) -> i16 {
    let u = !code;
    let exponent = (u & 0x70) >> 4;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = ((mantissa << 3) + ULAW_BIAS) << exponent;
    if u & 0x80 != 0 {
        (ULAW_BIAS - magnitude) as i16
    } else {
        (magnitude - ULAW_BIAS) as i16
    }
}

const fn alaw_decode(code: u8) -> i16 {
    let a = code ^ 0x55;
    let segment = ((a & 0x70) >> 4) as i32;
    let mut magnitude = ((a & 0x0F) as i32) << 4;
    // The +8 / +0x108 put the decoded value in the middle of the quantisation
    // step (and, for segments >= 1, add the implicit leading bit).
    magnitude = match segment {
        0 => magnitude + 8,
        1 => magnitude + 0x108,
        _ => (magnitude + 0x108) << (segment - 1),
    };
    if a & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn build_ulaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = ulaw_decode(i as u8);
        i += 1;
    }
    table
}

const fn build_alaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = alaw_decode(i as u8);
        i += 1;
    }
    table
}

/// mu-law code to linear sample, computed at compile time.
pub static ULAW_TO_LINEAR: [i16; 256] = build_ulaw_table();
/// A-law code to linear sample, computed at compile time.
pub static ALAW_TO_LINEAR: [i16; 256] = build_alaw_table();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_types_and_names() {
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::Pcmu.name(), "PCMU");
        assert_eq!(Codec::Pcma.name(), "PCMA");
        assert_eq!(Codec::from_payload_type(0), Some(Codec::Pcmu));
        assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_payload_type(18), None);
        assert_eq!(Codec::from_payload_type(101), None);
    }

    #[test]
    fn known_values() {
        assert_eq!(ULAW_TO_LINEAR[0xFF], 0);
        assert_eq!(ULAW_TO_LINEAR[0x7F], 0);
        assert_eq!(ULAW_TO_LINEAR[0x00], -32124);
        assert_eq!(ULAW_TO_LINEAR[0x80], 32124);
        assert_eq!(ULAW_TO_LINEAR[0x7E], -8);
        assert_eq!(ALAW_TO_LINEAR[0xD5], 8);
        assert_eq!(ALAW_TO_LINEAR[0x55], -8);
        assert_eq!(ALAW_TO_LINEAR[0xAA], 32256);
        assert_eq!(ALAW_TO_LINEAR[0x2A], -32256);
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
    }

    #[test]
    fn decode_then_encode_is_identity() {
        for code in 0..=255u8 {
            let pcma = linear_to_alaw(ALAW_TO_LINEAR[usize::from(code)]);
            assert_eq!(pcma, code, "A-law code {code:#04x}");
            let pcmu = linear_to_ulaw(ULAW_TO_LINEAR[usize::from(code)]);
            // mu-law has two codes for zero; 0x7F ("negative zero") decodes to 0,
            // which encodes to the canonical 0xFF.
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(pcmu, expected, "mu-law code {code:#04x}");
        }
    }

    #[test]
    fn round_trip_error_is_within_quantisation_step() {
        for s in i16::MIN..=i16::MAX {
            let x = i32::from(s);
            let mag = x.abs();
            for (codec, limit) in [
                // Half a step of the segment the value falls in, plus clipping
                // of the top of the range (mu-law clips at 32635 -> 32124).
                (Codec::Pcmu, (mag + ULAW_BIAS) / 32 + 1),
                (Codec::Pcma, mag / 32 + 8),
            ] {
                let mut enc = Vec::new();
                codec.encode(&[s], &mut enc);
                let mut dec = Vec::new();
                codec.decode(&enc, &mut dec);
                let err = (i32::from(dec[0]) - x).abs();
                let limit = if mag > 32000 { 700 } else { limit };
                assert!(err <= limit, "{codec:?} {s} -> {} err {err}", dec[0]);
            }
        }
    }

    #[test]
    fn encode_and_decode_append() {
        let mut out = vec![1u8];
        Codec::Pcmu.encode(&[0, 0], &mut out);
        assert_eq!(out, [1, 0xFF, 0xFF]);
        let mut pcm = vec![7i16];
        Codec::Pcma.decode(&[0xD5, 0x55], &mut pcm);
        assert_eq!(pcm, [7, 8, -8]);
    }

    #[test]
    fn tables_are_monotonic_within_sign() {
        // Higher magnitude codes must decode to larger magnitudes: catches
        // segment mix-ups that single known values might miss.
        let mut prev = -1;
        for code in (0x80..=0xFFu8).rev() {
            let v = i32::from(ULAW_TO_LINEAR[usize::from(code)]);
            assert!(v > prev, "mu-law {code:#04x}");
            prev = v;
        }
        let mut prev = -1;
        for magnitude in 0..128u8 {
            // A-law stores sign and magnitude with even bits inverted (0x55).
            let code = (magnitude | 0x80) ^ 0x55;
            let v = i32::from(ALAW_TO_LINEAR[usize::from(code)]);
            assert!(v > prev, "A-law {code:#04x}");
            prev = v;
        }
    }
}
