//! Counters of the whole server, for monitoring and the load generator:
//! `GET /metrics` in the Prometheus text format. No personal data: numbers
//! of calls and packets only.
//!
//! Counters are atomics bumped where the thing happens (a call's media
//! figures are added when the call ends), so reading them costs nothing on
//! the media path.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub calls_total: AtomicU64,
    pub calls_blocked_total: AtomicU64,
    /// Calls refused because `max_calls` were in progress.
    pub calls_overload_total: AtomicU64,
    /// INVITEs refused by admission control (a source over its limits, or
    /// too many calls being set up): answered 503, never a call.
    pub calls_flood_refused_total: AtomicU64,
    pub rtp_packets_in_total: AtomicU64,
    pub rtp_packets_out_total: AtomicU64,
    /// Frames the jitter buffer had nothing for (lost or too late).
    pub rtp_frames_missing_total: AtomicU64,
    pub rtp_packets_late_total: AtomicU64,
    pub rtp_packets_ignored_total: AtomicU64,
    pub dtmf_digits_total: AtomicU64,
    pub recordings_incomplete_total: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with `active_calls`, the ports in
    /// use and the database's write counts read at the time.
    pub fn render(
        &self,
        active_calls: usize,
        rtp_ports_in_use: usize,
        db: crate::store::WriteCounts,
    ) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP hotline_{name} {help}");
            let _ = writeln!(out, "# TYPE hotline_{name} counter");
            let _ = writeln!(out, "hotline_{name} {value}");
        };
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        counter("calls_total", "Calls received.", get(&self.calls_total));
        counter(
            "calls_blocked_total",
            "Calls from blocked (or, by policy, withheld) numbers.",
            get(&self.calls_blocked_total),
        );
        counter(
            "calls_overload_total",
            "Calls refused with 503 because max_calls were in progress.",
            get(&self.calls_overload_total),
        );
        counter(
            "calls_flood_refused_total",
            "INVITEs refused with 503 by admission control (a source over its limits).",
            get(&self.calls_flood_refused_total),
        );
        counter(
            "rtp_packets_in_total",
            "RTP packets received on ended calls.",
            get(&self.rtp_packets_in_total),
        );
        counter(
            "rtp_packets_out_total",
            "RTP packets sent on ended calls.",
            get(&self.rtp_packets_out_total),
        );
        counter(
            "rtp_frames_missing_total",
            "20 ms frames with nothing received in time (lost or late), on ended calls.",
            get(&self.rtp_frames_missing_total),
        );
        counter(
            "rtp_packets_late_total",
            "RTP packets that arrived after their play-out time, on ended calls.",
            get(&self.rtp_packets_late_total),
        );
        counter(
            "rtp_packets_ignored_total",
            "Packets that were not RTP of the call, on ended calls.",
            get(&self.rtp_packets_ignored_total),
        );
        counter(
            "dtmf_digits_total",
            "Digits received (RFC 4733 or SIP INFO), on ended calls.",
            get(&self.dtmf_digits_total),
        );
        counter(
            "recordings_incomplete_total",
            "Recordings that stopped early or could not be created.",
            get(&self.recordings_incomplete_total),
        );
        counter(
            "db_writes_total",
            "Writes of calls, their events, recordings and queue events to the database.",
            db.writes,
        );
        counter(
            "db_write_commits_total",
            "Commits those writes took (several writes share one under load).",
            db.commits,
        );
        let _ = writeln!(out, "# HELP hotline_active_calls Calls in progress.");
        let _ = writeln!(out, "# TYPE hotline_active_calls gauge");
        let _ = writeln!(out, "hotline_active_calls {active_calls}");
        let _ = writeln!(
            out,
            "# HELP hotline_rtp_ports_in_use RTP port pairs in use."
        );
        let _ = writeln!(out, "# TYPE hotline_rtp_ports_in_use gauge");
        let _ = writeln!(out, "hotline_rtp_ports_in_use {rtp_ports_in_use}");
        out
    }
}

/// Reads one value back from the exposition (for the load generator and
/// the tests).
pub fn read(exposition: &str, name: &str) -> Option<u64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_and_read_back() {
        let m = Metrics::default();
        Metrics::add(&m.calls_total, 3);
        Metrics::add(&m.rtp_packets_in_total, 150);
        let db = crate::store::WriteCounts {
            writes: 40,
            commits: 4,
        };
        let text = m.render(2, 2, db);
        assert_eq!(read(&text, "hotline_calls_total"), Some(3));
        assert_eq!(read(&text, "hotline_rtp_packets_in_total"), Some(150));
        assert_eq!(read(&text, "hotline_active_calls"), Some(2));
        assert_eq!(read(&text, "hotline_db_writes_total"), Some(40));
        assert_eq!(read(&text, "hotline_db_write_commits_total"), Some(4));
        assert_eq!(read(&text, "hotline_calls"), None, "whole names only");
        assert!(text.contains("# TYPE hotline_active_calls gauge"));
    }
}
