use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::model::{Attribute, Resource, Scope, SpanKind, StatusCode, TraceId};

const MS: u64 = 1_000_000;

#[track_caller]
fn check_strip(statement: &str, expected: &str) {
    assert_eq!(strip_literals(statement), expected, "{statement}");
}

#[test]
fn literals_are_stripped() {
    check_strip(
        "SELECT * FROM users WHERE id = 42",
        "SELECT * FROM users WHERE id = ?",
    );
    check_strip(
        "SELECT * FROM users WHERE name = 'O''Brien' AND age > 3.5",
        "SELECT * FROM users WHERE name = ? AND age > ?",
    );
    check_strip(
        "select * from t where id in (1, 2, 3) and x IN ('a','b')",
        "select * from t where id in (?) and x IN (?)",
    );
    check_strip(
        "SELECT t1.col2 FROM t1 WHERE t1.v = -1e-5",
        "SELECT t1.col2 FROM t1 WHERE t1.v = -?",
    );
    check_strip(
        "SELECT a\n  FROM  b\tWHERE c = $1 AND d = :name AND e = 0x1F",
        "SELECT a FROM b WHERE c = $1 AND d = :name AND e = ?",
    );
    check_strip(
        "SELECT \"Order\".id FROM \"Order\" /* traceparent='00-ab-cd-01' */ WHERE id = 7 -- hint\n",
        "SELECT \"Order\".id FROM \"Order\" WHERE id = ?",
    );
    check_strip(
        "SELECT * FROM users WHERE id = ? AND x IN (?, ?)",
        "SELECT * FROM users WHERE id = ? AND x IN (?)",
    );
    // Unterminated strings and comments don't run past the end.
    check_strip("SELECT 'abc", "SELECT ?");
    check_strip("SELECT 1 /* abc", "SELECT ?");
    // Functions named like `in(` are not IN lists.
    check_strip("SELECT login (1)", "SELECT login (?)");
    let long = format!("INSERT INTO t VALUES ('{}')", "é".repeat(10_000));
    assert!(strip_literals(&long).len() <= MAX_STATEMENT_BYTES);
}

fn attribute(key: &str, value: &str) -> Attribute {
    Attribute {
        key: key.into(),
        value: AttrValue::Str(value.into()),
    }
}

/// A span of `service` named `name`, from `start` to `end` ms, with `parent`.
fn span(id: u8, parent: Option<u8>, name: &str, start: u64, end: u64) -> Span {
    Span {
        trace_id: TraceId([1; 16]),
        span_id: SpanId([id; 8]),
        parent_span_id: parent.map(|parent| SpanId([parent; 8])),
        trace_state: String::new(),
        flags: 0,
        name: name.into(),
        kind: SpanKind::Client,
        start_unix_nanos: start * MS,
        end_unix_nanos: end * MS,
        attributes: vec![],
        events: vec![],
        links: vec![],
        status_code: StatusCode::Unset,
        status_message: String::new(),
        resource: Arc::new(Resource {
            service_name: "shop".into(),
            attributes: vec![],
        }),
        scope: Arc::new(Scope::default()),
    }
}

fn query(id: u8, row: u32, start: u64, end: u64) -> Span {
    Span {
        attributes: vec![attribute(
            "db.statement",
            &format!("SELECT * FROM users WHERE id = {row}"),
        )],
        ..span(id, Some(1), "SELECT shop", start, end)
    }
}

fn config() -> NPlusOneConfig {
    NPlusOneConfig::default()
}

#[test]
fn a_sequential_loop_is_one_finding() {
    let mut spans = vec![span(1, None, "GET /orders", 0, 500)];
    spans.push(Span {
        attributes: vec![attribute("db.statement", "SELECT * FROM orders")],
        ..span(2, Some(1), "SELECT shop", 1, 5)
    });
    for row in 0..37u8 {
        let start = 10 + u64::from(row) * 11;
        spans.push(query(
            10 + row,
            u32::from(row),
            start,
            start + 10 + u64::from(row % 2),
        ));
    }
    let findings = detect(&spans, &config());
    assert_eq!(findings.len(), 1, "{findings:?}");
    let finding = &findings[0];
    assert_eq!(finding.spans.len(), 37);
    assert_eq!(finding.parent, Some(0));
    assert_eq!(finding.fingerprint, "SELECT * FROM users WHERE id = ?");
    assert_eq!(finding.service, "shop");
    assert!(!finding.parallel);
    assert_eq!(finding.total_nanos, (37 * 10 + 18) * MS);
    assert_eq!(finding.longest_nanos, 11 * MS);
    assert_eq!(finding.could_save_nanos(), (37 * 10 + 18 - 11) * MS);
    assert!(has_finding(&spans, &config()));
}

#[test]
fn a_fan_out_is_parallel() {
    let mut spans = vec![span(1, None, "GET /dashboard", 0, 100)];
    for call in 0..6u8 {
        spans.push(Span {
            attributes: vec![
                attribute("http.route", "/items/{id}"),
                attribute("http.request.method", "GET"),
            ],
            ..span(
                10 + call,
                Some(1),
                "GET",
                2 + u64::from(call),
                30 + u64::from(call),
            )
        });
    }
    let findings = detect(&spans, &config());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].fingerprint, "GET /items/{id}");
    assert!(findings[0].parallel);
    assert_eq!(findings[0].wall_nanos, 33 * MS);
    assert_eq!(findings[0].could_save_nanos(), 5 * MS);
}

#[test]
fn thresholds() {
    // Four repeats are not enough; five are, with 50 ms in total.
    let run = |count: u8, each_ms: u64, parent_ms: u64| {
        let mut spans = vec![span(1, None, "job", 0, parent_ms)];
        for index in 0..count {
            let start = u64::from(index) * each_ms;
            spans.push(query(10 + index, 1, start, start + each_ms));
        }
        detect(&spans, &config()).len()
    };
    assert_eq!(run(4, 20, 1000), 0);
    assert_eq!(run(5, 10, 1000), 1);
    // 5 × 2 ms = 10 ms: under 50 ms and under 20% of a 1 s parent…
    assert_eq!(run(5, 2, 1000), 0);
    // …but 20% of a 50 ms parent.
    assert_eq!(run(5, 2, 50), 1);
    let strict = NPlusOneConfig {
        min_repeats: 10,
        min_total: Duration::from_millis(1),
        min_parent_percent: 100,
    };
    let mut spans = vec![span(1, None, "job", 0, 1000)];
    for index in 0..9u8 {
        spans.push(query(10 + index, 1, u64::from(index), u64::from(index) + 1));
    }
    assert!(detect(&spans, &strict).is_empty());
}

#[test]
fn different_work_and_different_parents_are_not_repeats() {
    let mut spans = vec![
        span(1, None, "GET /a", 0, 1000),
        span(2, Some(1), "loop", 0, 1000),
    ];
    // Five different statements under one parent, and three + three of one
    // statement under two parents.
    for index in 0..5u8 {
        spans.push(Span {
            attributes: vec![attribute(
                "db.statement",
                &format!("SELECT * FROM table_{index}"),
            )],
            ..span(
                10 + index,
                Some(1),
                "SELECT",
                u64::from(index) * 30,
                u64::from(index) * 30 + 29,
            )
        });
    }
    for index in 0..6u8 {
        let parent = if index < 3 { 1 } else { 2 };
        spans.push(Span {
            parent_span_id: Some(SpanId([parent; 8])),
            ..query(
                20 + index,
                1,
                u64::from(index) * 30,
                u64::from(index) * 30 + 29,
            )
        });
    }
    assert!(detect(&spans, &config()).is_empty());
}

#[test]
fn fingerprints_prefer_summary_then_statement_then_route_then_name() {
    let with = |attributes: Vec<Attribute>| Span {
        attributes,
        ..span(1, None, "the name", 0, 1)
    };
    assert_eq!(
        fingerprint(&with(vec![
            attribute("db.query.text", "SELECT 1"),
            attribute("db.query.summary", "SELECT  users"),
        ])),
        "SELECT users"
    );
    assert_eq!(
        fingerprint(&with(vec![attribute("db.query.text", "SELECT 1")])),
        "SELECT ?"
    );
    assert_eq!(
        fingerprint(&with(vec![attribute("url.template", "/u/{id}")])),
        "/u/{id}"
    );
    assert_eq!(
        fingerprint(&with(vec![
            attribute("rpc.service", "Users"),
            attribute("rpc.method", "Get"),
        ])),
        "Users/Get"
    );
    assert_eq!(fingerprint(&with(vec![])), "the name");
}

#[test]
fn spans_of_a_missing_parent_are_still_siblings() {
    let mut spans = vec![];
    for index in 0..5u8 {
        let start = u64::from(index) * 20;
        spans.push(Span {
            parent_span_id: Some(SpanId([99; 8])),
            ..query(10 + index, 1, start, start + 15)
        });
    }
    let findings = detect(&spans, &config());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].parent, None);
}
