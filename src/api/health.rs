//! The server's own state, for monitoring:
//!
//! - `GET /healthz`: the active calls, RTP ports in use and the recordings
//!   volume's level (no sign-in: a load balancer or a watchdog asks).
//! - `GET /metrics`: the server's counters in the Prometheus text format
//!   (no personal data).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;

use super::state::{AppState, CallControl};
use crate::disk::DiskWatch;
use crate::store::Store;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    active_calls: usize,
    rtp_ports_in_use: usize,
    recordings_volume: Volume,
}

#[derive(Serialize)]
struct Volume {
    level: &'static str,
    free_bytes: u64,
}

async fn health(
    State(calls): State<Arc<dyn CallControl>>,
    State(disk): State<DiskWatch>,
) -> Json<Health> {
    let disk = disk.status();
    Json(Health {
        status: "ok",
        active_calls: calls.active_calls(),
        rtp_ports_in_use: calls.rtp_ports_in_use(),
        recordings_volume: Volume {
            level: disk.level.as_str(),
            free_bytes: disk.free_bytes,
        },
    })
}

async fn metrics(
    State(calls): State<Arc<dyn CallControl>>,
    State(store): State<Store>,
) -> impl IntoResponse {
    let text = calls.metrics().render(
        calls.active_calls(),
        calls.rtp_ports_in_use(),
        store.write_counts(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
