//! Integration tests: the real server on port-0 listeners with a temporary data dir,
//! driven by real OTLP clients and asserted through the query API.

// Test code: a failed unwrap is a failed test with a useful message.
#![allow(clippy::unwrap_used)]

mod admin;
mod demo;
mod hostile;
mod ingest_grpc;
mod ingest_http;
mod jaeger_ingest;
mod legacy_clients;
mod metrics_api;
mod query_api;
mod query_grpc;
mod sampling;
mod sdk_languages;
mod search_filters;
mod shutdown;
mod support;
mod tag_search;
mod ui;
pub(crate) mod ui_views_api;
mod zipkin_ingest;
