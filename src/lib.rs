//! Tracery: a self-hosted, Jaeger-compatible trace backend.
//!
//! # Layout
//! - `model`: the span model and the pure OTLP → model conversion.
//! - `receiver`: OTLP/gRPC and OTLP/HTTP listeners.
//! - `ingest`: the bounded, batching queue between receivers and the store.
//! - `store`: compressed span blocks in sled, with trace and search indexes.
//! - `query`: search and trace assembly over the store.
//! - `api`: the axum query API (Jaeger v1, api_v3, the UI's own endpoints).

pub mod model;
mod query;
