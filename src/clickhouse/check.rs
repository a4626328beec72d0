//! Every statement the backend issues, with sample rows, for checking a profile
//! against a server it can't reach from the tests: `tests/clickhouse/check_statements.py`
//! runs these in chdb-core (a current ClickHouse engine, in-process) for the
//! current profile. The inserts are written as `VALUES` with the same columns, in
//! the same order, as the RowBinary inserts of `rows`.

use std::sync::Arc;

use super::rows::{date_time, span_terms};
use super::schema::{Layout, SCHEMA_VERSION};
use super::{codec, sql};
use crate::model::{
    AttrValue, Attribute, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId,
};
use crate::storage::{RedSelection, TraceQuery};

/// A statement, and how many rows it must return where that is known.
#[derive(Debug, Clone)]
pub struct Check {
    pub sql: String,
    pub expect_rows: Option<usize>,
}

/// A recent time (to the second), so TTL retention keeps the sample rows.
fn sample_start() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    now.saturating_sub(3_600) * 1_000_000_000
}

/// DDL, sample inserts and every query, in the order they must run.
pub fn checks(layout: &Layout) -> Vec<Check> {
    let start = sample_start();
    let statement = |sql: String| Check {
        sql,
        expect_rows: None,
    };
    let query = |sql: String, rows: usize| Check {
        sql,
        expect_rows: Some(rows),
    };
    let spans = sample_spans(start);
    let trace_id = spans[0].trace_id;
    let mut checks: Vec<Check> = layout
        .create_statements()
        .into_iter()
        .map(statement)
        .collect();
    checks.push(statement(sql::record_schema_version(
        layout,
        SCHEMA_VERSION,
    )));
    // Twice: creation is idempotent.
    checks.extend(layout.create_statements().into_iter().map(statement));
    checks.extend(
        spans
            .iter()
            .map(|span| statement(insert_span(layout, span))),
    );
    checks.extend(
        spans
            .iter()
            .map(|span| statement(insert_trace_span(layout, span))),
    );
    checks.push(statement(format!(
        "INSERT INTO {} (service, operation, kind, last_seen) VALUES ('frontend', 'GET /cart', 2, {}), ('checkout', 'charge', 3, {})",
        layout.table("operations"),
        date_time(start),
        date_time(start),
    )));
    checks.push(statement(format!(
        "INSERT INTO {} (service, operation, probability, updated_unix_nanos) VALUES ('frontend', 'GET /cart', 0.5, 1), ('frontend', 'GET /cart', 0.25, 2)",
        layout.table("sampling"),
    )));
    let window = TraceQuery {
        start_min_unix_nanos: start - 60_000_000_000,
        start_max_unix_nanos: start + 60_000_000_000,
        limit: 20,
        ..TraceQuery::default()
    };
    let search = TraceQuery {
        service: Some("checkout".to_owned()),
        operation: Some("charge".to_owned()),
        tags: vec![
            ("http.status_code".to_owned(), "0200".to_owned()),
            ("resource.host.name".to_owned(), "it's \\ here".to_owned()),
            ("error".to_owned(), "true".to_owned()),
        ],
        duration_min: Some(std::time::Duration::from_millis(5)),
        duration_max: Some(std::time::Duration::from_millis(50)),
        ..window.clone()
    };
    let no_match = TraceQuery {
        tags: vec![("http.status_code".to_owned(), "404".to_owned())],
        ..search.clone()
    };
    checks.extend([
        query(sql::find_traces(layout, &window, 0, 20), 1),
        query(sql::find_traces(layout, &search, 0, 20), 1),
        query(sql::find_traces(layout, &no_match, 0, 20), 0),
        query(
            sql::find_traces(
                layout,
                &TraceQuery {
                    start_max_unix_nanos: u64::MAX,
                    ..window.clone()
                },
                20,
                20,
            ),
            0,
        ),
        query(sql::read_traces(layout, &[trace_id, TraceId([1; 16])]), 2),
        query(sql::services(layout), 2),
        query(sql::operations(layout, "checkout", None), 1),
        query(
            sql::operations(layout, "checkout", Some(SpanKind::Server)),
            0,
        ),
        query(
            sql::dependencies(layout, start - 60_000_000_000, start + 60_000_000_000),
            1,
        ),
        query(sql::sampling_probabilities(layout), 1),
        // One group per span (two services); only checkout's failed.
        query(
            sql::red_buckets(
                layout,
                &RedSelection {
                    services: vec!["frontend".to_owned(), "checkout".to_owned()],
                    by_operation: true,
                    ..RedSelection::default()
                },
                60,
                (start / 1_000_000_000 - 600, start / 1_000_000_000 + 600),
                crate::storage::red::ln_gamma(),
            ),
            2,
        ),
        query(
            sql::red_buckets(
                layout,
                &RedSelection {
                    services: vec!["checkout".to_owned()],
                    span_kinds: vec![SpanKind::Server],
                    ..RedSelection::default()
                },
                60,
                (start / 1_000_000_000 - 600, start / 1_000_000_000 + 600),
                crate::storage::red::ln_gamma(),
            ),
            0,
        ),
        query(sql::schema_version(layout), 1),
        statement(sql::existing_tables(layout)),
    ]);
    let hour_tables = layout.hour_partitioned_tables();
    if !hour_tables.is_empty() {
        checks.push(statement(sql::partitions(layout, &hour_tables)));
        let expired_hour = u64::from(date_time(start)) / 3_600 * 3_600 - 86_400;
        for table in &hour_tables {
            checks.push(statement(layout.drop_hour(table, expired_hour)));
        }
    }
    checks
}

fn insert_span(layout: &Layout, span: &Span) -> String {
    let row = super::rows::SpanRow::from_span(span, date_time(span.start_unix_nanos));
    let terms: Vec<String> = span_terms(span).iter().map(|t| sql::literal(t)).collect();
    format!(
        "INSERT INTO {} (trace_id, span_id, parent_span_id, service, operation, kind, start_unix_nanos, start_time, duration_nanos, terms, ingest_time) VALUES (unhex('{}'), unhex('{}'), unhex('{}'), {}, {}, {}, {}, {}, {}, [{}], {})",
        layout.table("spans"),
        hex::encode(row.trace_id),
        hex::encode(row.span_id),
        hex::encode(row.parent_span_id),
        sql::literal(&row.service),
        sql::literal(&row.operation),
        row.kind,
        row.start_unix_nanos,
        row.start_time,
        row.duration_nanos,
        terms.join(", "),
        row.ingest_time,
    )
}

fn insert_trace_span(layout: &Layout, span: &Span) -> String {
    format!(
        "INSERT INTO {} (trace_id, start_unix_nanos, start_time, span, ingest_time) VALUES (unhex('{}'), {}, {}, unhex('{}'), {})",
        layout.table("trace_spans"),
        span.trace_id.to_hex(),
        span.start_unix_nanos,
        date_time(span.start_unix_nanos),
        hex::encode(codec::encode(span)),
        date_time(span.start_unix_nanos),
    )
}

/// A trace of two spans: `frontend` calls `checkout`.
fn sample_spans(start: u64) -> Vec<Span> {
    let attribute = |key: &str, value: AttrValue| Attribute {
        key: key.to_owned(),
        value,
    };
    let resource = |service: &str| {
        Arc::new(Resource {
            service_name: service.to_owned(),
            attributes: vec![attribute(
                "host.name",
                AttrValue::Str("it's \\ here".to_owned()),
            )],
        })
    };
    let root = Span {
        trace_id: TraceId([0xab; 16]),
        span_id: SpanId([1; 8]),
        parent_span_id: None,
        trace_state: String::new(),
        flags: 1,
        name: "GET /cart".to_owned(),
        kind: SpanKind::Server,
        start_unix_nanos: start,
        end_unix_nanos: start + 40_000_000,
        attributes: vec![attribute("http.status_code", AttrValue::Int(200))],
        events: vec![],
        links: vec![],
        status_code: StatusCode::Unset,
        status_message: String::new(),
        resource: resource("frontend"),
        scope: Arc::new(Scope::default()),
    };
    let child = Span {
        span_id: SpanId([2; 8]),
        parent_span_id: Some(SpanId([1; 8])),
        name: "charge".to_owned(),
        kind: SpanKind::Client,
        start_unix_nanos: start + 5_000_000,
        end_unix_nanos: start + 25_000_000,
        status_code: StatusCode::Error,
        status_message: "card declined".to_owned(),
        resource: resource("checkout"),
        ..root.clone()
    };
    vec![root, child]
}
