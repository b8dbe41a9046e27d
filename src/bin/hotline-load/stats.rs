//! Histograms and percentiles for the load generator's figures.

use serde::Serialize;

/// Counts of values in microseconds, 1 µs wide up to `max_us`, the rest in
/// one overflow bucket (its largest value is kept).
#[derive(Debug, Clone)]
pub struct Histogram {
    buckets: Vec<u32>,
    overflow: u64,
    max_seen: u64,
    count: u64,
}

/// A summary in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Summary {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Histogram {
    pub fn new(max_us: usize) -> Histogram {
        Histogram {
            buckets: vec![0; max_us + 1],
            overflow: 0,
            max_seen: 0,
            count: 0,
        }
    }

    pub fn record(&mut self, us: u64) {
        self.count += 1;
        self.max_seen = self.max_seen.max(us);
        match self.buckets.get_mut(us as usize) {
            Some(b) => *b = b.saturating_add(1),
            None => self.overflow += 1,
        }
    }

    /// The value at quantile `q` (0..=1), in µs.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (us, n) in self.buckets.iter().enumerate() {
            seen += u64::from(*n);
            if seen >= rank {
                return us as u64;
            }
        }
        self.max_seen
    }

    pub fn summary(&self) -> Summary {
        let ms = |us: u64| us as f64 / 1000.0;
        Summary {
            count: self.count,
            p50_ms: ms(self.quantile(0.5)),
            p99_ms: ms(self.quantile(0.99)),
            p999_ms: ms(self.quantile(0.999)),
            max_ms: ms(self.max_seen),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_known_spread() {
        let mut h = Histogram::new(10_000);
        for us in 1..=1000 {
            h.record(us);
        }
        h.record(50_000);
        assert_eq!(h.quantile(0.5), 501);
        assert_eq!(h.quantile(0.99), 991);
        assert_eq!(h.summary().max_ms, 50.0);
        assert_eq!(h.summary().count, 1001);
    }
}
