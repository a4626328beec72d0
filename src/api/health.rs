//! Liveness and readiness, on the query port and the admin port.
//!
//! `/health/live` answers 200 while the process serves HTTP. `/health/ready` answers
//! 200 only once the store is open and every listener is up, and 503 again from the
//! moment shutdown begins, so load balancers and `tracery healthcheck` stop sending
//! traffic while the server drains. `GET /` on the admin port is Jaeger's
//! health check form (`{"status":"Server available", ...}`).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

/// Shared by the servers that report it and the code that changes it.
#[derive(Debug, Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    phase: AtomicU8,
    started: SystemTime,
}

/// Where the server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Starting = 0,
    Ready = 1,
    ShuttingDown = 2,
}

impl Default for Health {
    fn default() -> Health {
        Health::new()
    }
}

impl Health {
    pub fn new() -> Health {
        Health {
            inner: Arc::new(Inner {
                phase: AtomicU8::new(Phase::Starting as u8),
                started: SystemTime::now(),
            }),
        }
    }

    pub fn phase(&self) -> Phase {
        match self.inner.phase.load(Ordering::Acquire) {
            0 => Phase::Starting,
            1 => Phase::Ready,
            _ => Phase::ShuttingDown,
        }
    }

    /// Marks the server ready, unless it is already shutting down.
    pub fn set_ready(&self) {
        let _ = self.inner.phase.compare_exchange(
            Phase::Starting as u8,
            Phase::Ready as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// From now on the server is not ready, for good.
    pub fn set_shutting_down(&self) {
        self.inner
            .phase
            .store(Phase::ShuttingDown as u8, Ordering::Release);
    }

    fn uptime(&self) -> Duration {
        self.inner.started.elapsed().unwrap_or_default()
    }
}

/// `/health/live` and `/health/ready`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(health: Health) -> Router<S> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(health)
}

/// Jaeger's admin-port health check at `/`.
pub(crate) fn jaeger_route<S: Clone + Send + Sync + 'static>(health: Health) -> Router<S> {
    Router::new()
        .route("/", get(jaeger_status))
        .with_state(health)
}

async fn live() -> Response {
    Json(serde_json::json!({ "status": "live" })).into_response()
}

async fn ready(State(health): State<Health>) -> Response {
    let (status, text) = match health.phase() {
        Phase::Ready => (StatusCode::OK, "ready"),
        Phase::Starting => (StatusCode::SERVICE_UNAVAILABLE, "starting"),
        Phase::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    };
    (status, Json(serde_json::json!({ "status": text }))).into_response()
}

async fn jaeger_status(State(health): State<Health>) -> Response {
    let (status, text) = match health.phase() {
        Phase::Ready => (StatusCode::OK, "Server available"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "Server not available"),
    };
    let up_since = chrono::DateTime::<chrono::Utc>::from(health.inner.started)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let body = serde_json::json!({
        "status": text,
        "upSince": up_since,
        "uptime": format!("{:.3}s", health.uptime().as_secs_f64()),
    });
    (status, Json(body)).into_response()
}
