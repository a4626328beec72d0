//! The queries, as complete SQL text (values escaped here, sent verbatim), so the
//! statement list can also be run elsewhere (the chdb-core check of the current
//! profile). None of them differs between profiles.

use std::fmt::Write as _;

use super::rows::tag_terms;
use super::schema::Layout;
use crate::model::{SpanKind, TraceId};
use crate::storage::{RedSelection, TraceQuery};

/// A ClickHouse string literal. Quotes, backslashes and control characters are
/// escaped, so any text is safe inside it.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for character in text.chars() {
        match character {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            character if (character as u32) < 0x20 || character == '\x7f' => {
                let _ = write!(out, "\\x{:02X}", character as u32);
            }
            character => out.push(character),
        }
    }
    out.push('\'');
    out
}

/// DateTime bounds work in seconds, and only up to 2106 in an old server.
const LAST_DATE_TIME_SECS: u64 = 4_000_000_000;

/// The newest traces with a span that meets `query` (everything but `filters`,
/// which the caller checks on the spans): `FoundTrace` rows, newest first, from
/// the `offset`-th on.
pub fn find_traces(layout: &Layout, query: &TraceQuery, offset: usize, limit: usize) -> String {
    let mut sql = format!(
        "SELECT trace_id, max(start_unix_nanos) AS newest FROM {} WHERE start_unix_nanos >= {} AND start_unix_nanos <= {}",
        layout.table("spans"),
        query.start_min_unix_nanos,
        query.start_max_unix_nanos,
    );
    // The partition key is the day of `start_time`: this prunes partitions.
    let (min_secs, max_secs) = (
        query.start_min_unix_nanos / 1_000_000_000,
        query.start_max_unix_nanos / 1_000_000_000,
    );
    if min_secs > 0 && min_secs < LAST_DATE_TIME_SECS {
        let _ = write!(sql, " AND start_time >= toDateTime({min_secs})");
    }
    if max_secs < LAST_DATE_TIME_SECS {
        let _ = write!(sql, " AND start_time <= toDateTime({max_secs})");
    }
    if let Some(service) = &query.service {
        let _ = write!(sql, " AND service = {}", literal(service));
    }
    if let Some(operation) = &query.operation {
        let _ = write!(sql, " AND operation = {}", literal(operation));
    }
    if let Some(min) = query.duration_min {
        let _ = write!(sql, " AND duration_nanos >= {}", nanos(min));
    }
    if let Some(max) = query.duration_max {
        let _ = write!(sql, " AND duration_nanos <= {}", nanos(max));
    }
    for (key, value) in &query.tags {
        let terms: Vec<String> = tag_terms(key, value).iter().map(|t| literal(t)).collect();
        let _ = write!(sql, " AND hasAny(terms, [{}])", terms.join(", "));
    }
    let _ = write!(
        sql,
        " GROUP BY trace_id ORDER BY newest DESC, trace_id LIMIT {offset}, {limit}"
    );
    sql
}

/// `EncodedSpan` rows of the given traces.
pub fn read_traces(layout: &Layout, trace_ids: &[TraceId]) -> String {
    let ids: Vec<String> = trace_ids
        .iter()
        .map(|id| format!("toFixedString(unhex('{}'), 16)", id.to_hex()))
        .collect();
    format!(
        "SELECT span FROM {} WHERE trace_id IN ({})",
        layout.table("trace_spans"),
        ids.join(", ")
    )
}

/// `Name` rows: every service, sorted.
pub fn services(layout: &Layout) -> String {
    format!(
        "SELECT DISTINCT service AS name FROM {} ORDER BY name",
        layout.table("operations")
    )
}

/// `OperationName` rows of a service, sorted by name then kind.
pub fn operations(layout: &Layout, service: &str, kind: Option<SpanKind>) -> String {
    let kind = kind.map_or_else(String::new, |kind| format!(" AND kind = {}", kind as u8));
    format!(
        "SELECT DISTINCT operation, kind FROM {} WHERE service = {}{kind} ORDER BY operation, kind",
        layout.table("operations"),
        literal(service)
    )
}

/// How far before the window a parent span may have started.
const PARENT_LOOKBACK_NANOS: u64 = 3_600 * 1_000_000_000;

/// `DependencyRow`s: calls between services, from children that started in the
/// window joined to their parents (same trace, so the same shard in a cluster).
pub fn dependencies(layout: &Layout, start_unix_nanos: u64, end_unix_nanos: u64) -> String {
    let spans = layout.table("spans");
    let parent_start = start_unix_nanos.saturating_sub(PARENT_LOOKBACK_NANOS);
    format!(
        "SELECT parent, child, count() AS calls FROM (SELECT trace_id, parent_span_id AS span_id, service AS child FROM {spans} WHERE start_unix_nanos >= {start_unix_nanos} AND start_unix_nanos <= {end_unix_nanos} AND parent_span_id != toFixedString('', 8)) AS children ALL INNER JOIN (SELECT trace_id, span_id, service AS parent FROM {spans} WHERE start_unix_nanos >= {parent_start} AND start_unix_nanos <= {end_unix_nanos}) AS parents USING (trace_id, span_id) WHERE parent != child GROUP BY parent, child ORDER BY parent, child"
    )
}

/// `RedBucketRow`s: the spans of `selection` that started in `[start_secs,
/// end_secs)`, counted per (service, operation — empty unless told apart —, bucket
/// of `step_secs`, latency-sketch bucket), with each group's slowest trace and
/// slowest failed one. The sketch bucket is `ceil(ln(duration) / ln_gamma)`, -1 for
/// a zero duration: `storage::red::LatencySketch`'s, computed here from the spans,
/// since this backend keeps no cells of its own. Errors are what the `error=true`
/// term marks (Jaeger's notion, as `Span::is_error`).
pub fn red_buckets(
    layout: &Layout,
    selection: &RedSelection,
    step_secs: u64,
    (start_secs, end_secs): (u64, u64),
    ln_gamma: f64,
) -> String {
    let services: Vec<String> = selection.services.iter().map(|s| literal(s)).collect();
    let mut filter = format!(
        "service IN ({}) AND start_unix_nanos >= {} AND start_unix_nanos < {}",
        services.join(", "),
        start_secs.saturating_mul(1_000_000_000),
        end_secs.saturating_mul(1_000_000_000)
    );
    if !selection.span_kinds.is_empty() {
        let kinds: Vec<String> = selection
            .span_kinds
            .iter()
            .map(|kind| (*kind as u8).to_string())
            .collect();
        let _ = write!(filter, " AND kind IN ({})", kinds.join(", "));
    }
    if let Some(operation) = &selection.operation {
        let _ = write!(filter, " AND operation = {}", literal(operation));
    }
    let operation = if selection.by_operation || selection.operation.is_some() {
        "operation"
    } else {
        "''"
    };
    let step_nanos = step_secs.max(1).saturating_mul(1_000_000_000);
    let is_error = format!("has(terms, {})", literal("error\x1ftrue"));
    format!(
        "SELECT service, {operation} AS operation_name, intDiv(start_unix_nanos, {step_nanos}) * {step} AS bucket, \
         if(duration_nanos = 0, toInt32(-1), toInt32(ceil(log(toFloat64(duration_nanos)) / {ln_gamma:?}))) AS sketch_index, \
         count() AS calls, countIf({is_error}) AS errors, \
         argMax(trace_id, duration_nanos) AS slowest_trace, max(duration_nanos) AS slowest_nanos, \
         argMaxIf(trace_id, duration_nanos, {is_error}) AS error_trace, maxIf(duration_nanos, {is_error}) AS error_nanos \
         FROM {} WHERE {filter} \
         GROUP BY service, operation_name, bucket, sketch_index \
         ORDER BY service, operation_name, bucket, sketch_index",
        layout.table("spans"),
        step = step_secs.max(1),
    )
}

/// `SamplingRow`s (read by position): the newest probability per operation. The
/// aliases differ from the column names: a current server would otherwise read
/// `probability` inside `argMax` as the alias.
pub fn sampling_probabilities(layout: &Layout) -> String {
    format!(
        "SELECT service, operation, argMax(probability, updated_unix_nanos) AS newest_probability, max(updated_unix_nanos) AS newest_update FROM {} GROUP BY service, operation ORDER BY service, operation",
        layout.table("sampling")
    )
}

/// `Name` rows: the tables that exist in the database.
pub fn existing_tables(layout: &Layout) -> String {
    format!(
        "SELECT name FROM system.tables WHERE database = {} ORDER BY name",
        literal(&layout.database)
    )
}

/// `Partition` rows: the partitions that `tables` (local names) hold on the server
/// asked, for retention.
pub fn partitions(layout: &Layout, tables: &[String]) -> String {
    let tables: Vec<String> = tables.iter().map(|table| literal(table)).collect();
    format!(
        "SELECT table, partition_id FROM system.parts WHERE database = {} AND active AND table IN ({}) GROUP BY table, partition_id ORDER BY table, partition_id",
        literal(&layout.database),
        tables.join(", ")
    )
}

/// A `Version` row: the newest schema version applied (0 for none).
pub fn schema_version(layout: &Layout) -> String {
    format!(
        "SELECT toUInt32(max(version)) AS version FROM {}",
        layout.table("tracery_schema")
    )
}

/// Records that `version` of the schema was applied.
pub fn record_schema_version(layout: &Layout, version: u32) -> String {
    format!(
        "INSERT INTO {} (version, profile, applied) VALUES ({version}, {}, now())",
        layout.table("tracery_schema"),
        literal(layout.profile.name())
    )
}

fn nanos(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clickhouse::profile::Profile;

    #[test]
    fn literals_escape_everything_that_could_end_them() {
        assert_eq!(literal("plain"), "'plain'");
        assert_eq!(literal("it's"), "'it\\'s'");
        assert_eq!(literal("a\\b"), "'a\\\\b'");
        assert_eq!(literal("k\x1fv\n"), "'k\\x1Fv\\x0A'");
        assert_eq!(literal("雪"), "'雪'");
    }

    #[test]
    fn search_sql_has_every_condition() {
        let layout = Layout {
            database: "db".to_owned(),
            cluster: None,
            profile: Profile::Compat,
            retention: None,
        };
        let query = TraceQuery {
            service: Some("checkout".to_owned()),
            operation: Some("GET /cart".to_owned()),
            tags: vec![
                ("http.status_code".to_owned(), "200".to_owned()),
                ("resource.host.name".to_owned(), "it's \\ here".to_owned()),
            ],
            start_min_unix_nanos: 1_700_000_000_000_000_000,
            start_max_unix_nanos: 1_800_000_000_000_000_000,
            duration_min: Some(std::time::Duration::from_millis(1)),
            duration_max: Some(std::time::Duration::from_secs(10)),
            limit: 20,
            ..TraceQuery::default()
        };
        let sql = &find_traces(&layout, &query, 0, 20);
        for part in [
            "FROM `db`.`spans`",
            "service = 'checkout'",
            "operation = 'GET /cart'",
            "duration_nanos >= 1000000",
            "duration_nanos <= 10000000000",
            "hasAny(terms, ['http.status_code\\x1F200', 'http.status_code\\x1D200'])",
            "hasAny(terms, ['\\x1Ehost.name\\x1Fit\\'s \\\\ here'])",
            "start_time >= toDateTime(1700000000)",
            "LIMIT 0, 20",
        ] {
            assert!(sql.contains(part), "{part} not in {sql}");
        }
        let everything = TraceQuery {
            start_max_unix_nanos: u64::MAX,
            limit: 20,
            ..TraceQuery::default()
        };
        let everything = &find_traces(&layout, &everything, 40, 20);
        assert!(!everything.contains("start_time"), "{everything}");
    }
}
