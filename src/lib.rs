//! Tracery: a self-hosted, Jaeger-compatible trace backend.
//!
//! # Layout
//! - `model`: the span model.
//! - `protocol`: wire formats (pure decoders and their translation into `model`).
//! - `receiver`: the listeners (transport only: bind, limits, status mapping).
//! - `ingest`: the bounded, batching queue between receivers and the store.
//! - `storage`: the seam under ingest and query: the `Storage` trait and its value types.
//! - `store`: the embedded backend: compressed span blocks in sled, with trace and search indexes.
//! - `clickhouse`: the scale-out backend: stateless nodes over a ClickHouse server or cluster.
//! - `query`: search and trace assembly over any `Storage`.
//! - `api`: the axum query API (Jaeger v1, api_v3, the UI's own endpoints).
//! - `ui`: the web UI's files from `ui/`, embedded at compile time.
//! - `metrics`: Prometheus self-metrics, served with health checks on the admin port.
//! - `demo`: `tracery demo`, a shop's traffic over OTLP (an OTLP client, not part of the server).
//! - `healthcheck`: the `tracery healthcheck` probe.
//! - `app`: wiring, shutdown order; `config`: flags, environment and file.
//!
//! Data flows `receiver → ingest → storage ← query ← api` (`store` and `clickhouse` implement `storage`); `receiver` and `api` decode
//! through `protocol`; `model` depends on nothing of ours.

pub mod api;
mod app;
pub mod clickhouse;
pub mod config;
pub mod demo;
#[doc(hidden)]
pub mod fuzzing;
pub mod healthcheck;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod net;
pub mod protocol;
pub mod query;
pub(crate) mod receiver;
pub mod sampling;
pub mod storage;
pub mod store;
pub mod telemetry;
mod ui;

pub use app::{run, LegacyListeners, Listeners};
