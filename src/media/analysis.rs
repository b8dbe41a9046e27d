//! Signal analysis on 16-bit PCM: tone detection, levels, alignment.
//!
//! Role: measurement helpers used by tests (is a prompt still a 1 kHz tone
//! after resampling? where does a prompt appear in a recording?) and later by
//! in-band DTMF detection. Pure functions only: it may not touch files,
//! sockets, clocks or any other part of the crate.
//!
//! Units: `rms` and `goertzel_power` work in raw sample units (an `i16` sine of
//! amplitude `A` has rms `A/sqrt(2)` and Goertzel power `A^2/2` at its own
//! frequency), so `goertzel_power / rms^2` is directly a share of energy.

use std::f64::consts::PI;

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

/// Power of the component of `samples` at `freq_hz`, in squared sample units.
///
/// Normalised so that a sine of amplitude `A` at exactly `freq_hz` yields
/// `A^2 / 2` (its mean square) whatever the block length, which makes results
/// from blocks of different length comparable. Returns 0 for an empty block.
pub fn goertzel_power(samples: &[i16], freq_hz: f64, rate: u32) -> f64 {
    if samples.is_empty() || rate == 0 {
        return 0.0;
    }
    // The generalised Goertzel recursion evaluates the DTFT at exactly
    // `freq_hz` rather than at the nearest FFT bin, so no rounding of the
    // frequency to `rate / N` is needed.
    let omega = 2.0 * PI * freq_hz / f64::from(rate);
    let coeff = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let magnitude_sq = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    let n = samples.len() as f64;
    2.0 * magnitude_sq / (n * n)
}

/// Share (0..=1) of the block's energy that sits at `freq_hz`.
///
/// About 1.0 for a pure tone at that frequency at any level, about 0.5 for an
/// equal mix of two tones, near 0 for other frequencies or silence. The block
/// should hold at least a few dozen periods so that spectral leakage from other
/// frequencies stays small.
pub fn tone_fraction(samples: &[i16], freq_hz: f64, rate: u32) -> f64 {
    let r = rms(samples);
    let mean_square = r * r;
    // Below this the block is digital silence (under one LSB rms); any ratio
    // would be noise divided by noise.
    if mean_square < 0.25 {
        return 0.0;
    }
    (goertzel_power(samples, freq_hz, rate) / mean_square).clamp(0.0, 1.0)
}

/// Root mean square in raw sample units (0 for an empty block).
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples
        .iter()
        .map(|&s| {
            let s = f64::from(s);
            s * s
        })
        .sum();
    (sum / samples.len() as f64).sqrt()
}

/// A sine tone, e.g. for test signals and comfort beeps.
///
/// Starts at phase 0; `amplitude` is the peak value.
pub fn tone(freq_hz: f64, amplitude: i16, samples: usize, rate: u32) -> Vec<i16> {
    let step = 2.0 * PI * freq_hz / f64::from(rate.max(1));
    let amp = f64::from(amplitude);
    (0..samples)
        .map(|n| (amp * (step * n as f64).sin()).round() as i16)
        .collect()
}

/// Offset in `haystack` where `needle` matches best, with the normalised
/// cross-correlation (Pearson coefficient, -1..=1) at that offset.
///
/// Only offsets where the needle lies entirely inside the haystack are
/// considered. Returns `None` when the needle is empty, longer than the
/// haystack, has no variation (silence or DC, so correlation is undefined), or
/// every candidate window of the haystack is silent.
///
/// Why FFT rather than a coarse-then-fine search on the energy envelope: the
/// envelope search is a heuristic that can lock onto the wrong period of
/// stationary or repetitive audio (tones, hold music) and only yields an
/// approximate score, whereas the FFT gives the exact correlation at every
/// offset in O(L log L). For 60 s at 8 kHz (L = 2^19) that is about 20 ms in
/// release and a few hundred in debug builds; rustfft is already in the
/// dependency tree through rubato.
pub fn best_alignment(haystack: &[i16], needle: &[i16]) -> Option<(usize, f64)> {
    let n = needle.len();
    let h = haystack.len();
    if n == 0 || n > h {
        return None;
    }

    // Normalising to full scale keeps the prefix sums small enough that f64
    // differences of them stay accurate for long haystacks.
    let norm = |s: i16| f64::from(s) / 32768.0;
    let needle_mean = needle.iter().map(|&s| norm(s)).sum::<f64>() / n as f64;
    let needle_energy: f64 = needle
        .iter()
        .map(|&s| {
            let d = norm(s) - needle_mean;
            d * d
        })
        .sum();
    // Same "below one LSB rms" notion of silence as in tone_fraction.
    let silence = n as f64 * (0.5 / 32768.0f64).powi(2);
    if needle_energy < silence {
        return None;
    }

    // With a zero-mean needle, sum(h * needle') equals the covariance term
    // without having to subtract each window's mean inside the FFT.
    //
    // Both real signals share one complex FFT (haystack in the real part,
    // needle in the imaginary part) and f32 is used: rustfft's generic code
    // is compiled with the caller's optimisation level, so in debug builds the
    // FFTs dominate and this cuts three f64 FFTs down to two f32 ones. f32 rounding is
    // about 1e-4 of the correlation peak even for a quiet needle in a loud
    // haystack, far below what separates a match from a non-match.
    let len = h.next_power_of_two();
    let zero = Complex::new(0.0f32, 0.0);
    let mut packed = vec![zero; len];
    for (slot, &s) in packed.iter_mut().zip(haystack) {
        slot.re = norm(s) as f32;
    }
    for (slot, &s) in packed.iter_mut().zip(needle) {
        slot.im = (norm(s) - needle_mean) as f32;
    }
    let mut planner = FftPlanner::<f32>::new();
    planner.plan_fft_forward(len).process(&mut packed);
    // Unpack the two spectra from Z = H + iN using the conjugate symmetry of
    // real signals' spectra: H[k] = (Z[k] + Z*[-k]) / 2, N[k] = (Z[k] - Z*[-k]) / 2i,
    // and form the cross-spectrum H * conj(N).
    let mut correlation: Vec<Complex<f32>> = (0..len)
        .map(|k| {
            let z = packed[k];
            let z_mirror = packed[(len - k) % len].conj();
            let hay_k = (z + z_mirror) * 0.5;
            let needle_k = (z - z_mirror) * Complex::new(0.0, -0.5);
            hay_k * needle_k.conj()
        })
        .collect();
    drop(packed);
    planner.plan_fft_inverse(len).process(&mut correlation);
    // Circular correlation equals the linear one for offsets 0..=h-n because
    // len >= h, so needle positions never wrap around.
    let scale = 1.0 / len as f64;

    let mut sum = Vec::with_capacity(h + 1);
    let mut sum_sq = Vec::with_capacity(h + 1);
    sum.push(0.0f64);
    sum_sq.push(0.0f64);
    let (mut acc, mut acc_sq) = (0.0f64, 0.0f64);
    for &s in haystack {
        let v = norm(s);
        acc += v;
        acc_sq += v * v;
        sum.push(acc);
        sum_sq.push(acc_sq);
    }

    let mut best: Option<(usize, f64)> = None;
    for offset in 0..=(h - n) {
        let s1 = sum[offset + n] - sum[offset];
        let s2 = sum_sq[offset + n] - sum_sq[offset];
        let window_energy = s2 - s1 * s1 / n as f64;
        if window_energy < silence {
            continue;
        }
        let corr =
            f64::from(correlation[offset].re) * scale / (window_energy * needle_energy).sqrt();
        let corr = corr.clamp(-1.0, 1.0);
        if best.is_none_or(|(_, c)| corr > c) {
            best = Some((offset, corr));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic white-ish noise so tests need no RNG crate.
    fn noise(len: usize, amplitude: i16, mut seed: u64) -> Vec<i16> {
        (0..len)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let unit = ((seed >> 33) as f64 / (1u64 << 31) as f64) * 2.0 - 1.0;
                (unit * f64::from(amplitude)) as i16
            })
            .collect()
    }

    #[test]
    fn tone_has_expected_rms_and_length() {
        let t = tone(1000.0, 10000, 8000, 8000);
        assert_eq!(t.len(), 8000);
        let expected = 10000.0 / 2f64.sqrt();
        assert!((rms(&t) - expected).abs() < 5.0, "rms {}", rms(&t));
        assert_eq!(rms(&[]), 0.0);
        assert_eq!(t[0], 0);
        assert_eq!(t[2], 10000); // 1 kHz at 8 kHz: quarter period = 2 samples
    }

    #[test]
    fn goertzel_power_matches_mean_square_of_tone() {
        let t = tone(697.0, 8000, 4000, 8000);
        let p = goertzel_power(&t, 697.0, 8000);
        let expected = 8000.0f64.powi(2) / 2.0;
        assert!((p / expected - 1.0).abs() < 0.01, "power {p}");
        let off = goertzel_power(&t, 1209.0, 8000);
        assert!(off < expected * 0.001, "off-frequency power {off}");
        assert_eq!(goertzel_power(&[], 697.0, 8000), 0.0);
    }

    #[test]
    fn tone_fraction_of_pure_mixed_and_silent_signals() {
        // -10 dBFS is an amplitude of about 10362.
        let a = tone(1000.0, 10362, 8000, 8000);
        assert!(tone_fraction(&a, 1000.0, 8000) > 0.99);
        assert!(tone_fraction(&a, 1500.0, 8000) < 0.01);
        assert!(tone_fraction(&a, 900.0, 8000) < 0.01);

        let b = tone(1500.0, 10362, 8000, 8000);
        let mix: Vec<i16> = a.iter().zip(&b).map(|(x, y)| x / 2 + y / 2).collect();
        let f = tone_fraction(&mix, 1000.0, 8000);
        assert!((f - 0.5).abs() < 0.02, "mix fraction {f}");

        assert_eq!(tone_fraction(&[0; 800], 1000.0, 8000), 0.0);
        let n = noise(8000, 10000, 1);
        assert!(tone_fraction(&n, 1000.0, 8000) < 0.01);
    }

    #[test]
    fn alignment_finds_noise_snippet() {
        let hay = noise(20_000, 8000, 7);
        let needle = hay[12_345..14_345].to_vec();
        let (offset, corr) = best_alignment(&hay, &needle).expect("alignment");
        assert_eq!(offset, 12_345);
        assert!(corr > 0.999, "corr {corr}");
    }

    #[test]
    fn alignment_is_level_independent_and_signed() {
        let hay = noise(10_000, 8000, 3);
        // Quieter copy: normalised correlation must still be ~1.
        let quiet: Vec<i16> = hay[500..1500].iter().map(|s| s / 4).collect();
        let (offset, corr) = best_alignment(&hay, &quiet).expect("alignment");
        assert_eq!(offset, 500);
        assert!(corr > 0.99, "corr {corr}");

        // Only an inverted copy present: best match is weakly positive
        // elsewhere, never the inverted spot with +1.
        let inverted: Vec<i16> = hay[2000..3000].iter().map(|s| -s).collect();
        let (_, corr) = best_alignment(&hay, &inverted).expect("alignment");
        assert!(corr < 0.3, "corr {corr}");
    }

    #[test]
    fn alignment_edge_cases() {
        let hay = noise(1000, 8000, 5);
        assert_eq!(best_alignment(&hay, &[]), None);
        assert_eq!(best_alignment(&hay[..10], &hay[..11]), None);
        assert_eq!(best_alignment(&hay, &[100; 50]), None);
        assert_eq!(best_alignment(&[0; 1000], &hay[..100]), None);
        // Whole haystack as needle: single candidate offset.
        let (offset, corr) = best_alignment(&hay, &hay).expect("alignment");
        assert_eq!(offset, 0);
        assert!(corr > 0.999);
        // Needle at the very end.
        let (offset, _) = best_alignment(&hay, &hay[900..]).expect("alignment");
        assert_eq!(offset, 900);
    }

    #[test]
    fn alignment_skips_silence_and_handles_prompt_in_recording() {
        // A recording: silence, a speech-like burst, silence, the prompt.
        let prompt = noise(8000, 6000, 11);
        let mut hay = vec![0i16; 4000];
        hay.extend(noise(3000, 6000, 12));
        hay.extend(vec![0i16; 2000]);
        let at = hay.len();
        hay.extend(&prompt);
        hay.extend(vec![0i16; 1000]);
        let (offset, corr) = best_alignment(&hay, &prompt).expect("alignment");
        assert_eq!(offset, at);
        assert!(corr > 0.999);
    }

    #[test]
    fn alignment_in_a_60s_haystack() {
        // (How fast it is belongs in a benchmark, not in a timed test that
        // fails whenever the machine is busy.)
        let hay = noise(60 * 8000, 8000, 21);
        let needle = hay[300_000..300_000 + 3 * 8000].to_vec();
        let (offset, corr) = best_alignment(&hay, &needle).expect("alignment");
        assert_eq!(offset, 300_000);
        assert!(corr > 0.999);
    }
}
