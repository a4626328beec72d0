//! Integration tests: the real server on port-0 listeners with a temporary data dir,
//! driven by real OTLP clients and asserted through the query API.

// Test code: a failed unwrap is a failed test with a useful message.
#![allow(clippy::unwrap_used)]

pub(crate) mod access;
mod access_reload;
mod admin;
mod base_path;
mod clickhouse;
mod clickhouse_cluster;
mod crash;
mod demo;
mod disk_cap;
mod full_disk;
mod hostile;
mod ingest_grpc;
mod ingest_http;
mod jaeger_ingest;
mod legacy_clients;
mod metrics_api;
mod monitor_n_plus_one;
mod overload;
mod query_api;
mod query_grpc;
mod sampling;
pub(crate) mod sdk_languages;
mod search_filters;
mod shutdown;
mod slow_clients;
mod support;
mod tag_search;
mod ui;
mod ui_file_api;
pub(crate) mod ui_views_api;
mod zipkin_ingest;
