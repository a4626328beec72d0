use std::sync::Arc;

use super::*;
use crate::model::{
    AttrValue, Attribute, Event, Link, Resource, Scope, Span, SpanId, SpanKind, TraceId,
};

fn attribute(key: &str, value: AttrValue) -> Attribute {
    Attribute {
        key: key.into(),
        value,
    }
}

fn span() -> Span {
    Span {
        trace_id: TraceId([1; 16]),
        span_id: SpanId([2; 8]),
        parent_span_id: None,
        trace_state: String::new(),
        flags: 0,
        name: "GET /cart".into(),
        kind: SpanKind::Server,
        start_unix_nanos: 1_000_000,
        end_unix_nanos: 3_000_000,
        attributes: vec![
            attribute("http.status_code", AttrValue::Int(503)),
            attribute("http.route", AttrValue::Str("/cart/{id}".into())),
            attribute("cache.hit", AttrValue::Bool(false)),
            attribute("ratio", AttrValue::Double(0.25)),
            attribute("legacy.code", AttrValue::Str("404".into())),
            attribute(
                "tags",
                AttrValue::Array(vec![AttrValue::Str("a".into()), AttrValue::Int(1)]),
            ),
        ],
        events: vec![Event {
            time_unix_nanos: 1_500_000,
            name: "exception".into(),
            attributes: vec![attribute("exception.type", AttrValue::Str("Boom".into()))],
        }],
        links: vec![Link {
            trace_id: TraceId([3; 16]),
            span_id: SpanId([4; 8]),
            trace_state: String::new(),
            attributes: vec![attribute("link.kind", AttrValue::Str("follows".into()))],
        }],
        status_code: StatusCode::Error,
        status_message: "overloaded".into(),
        resource: Arc::new(Resource {
            service_name: "cart".into(),
            attributes: vec![
                attribute("customer.tier", AttrValue::Str("gold".into())),
                attribute("host.name", AttrValue::Str("node-7".into())),
            ],
        }),
        scope: Arc::new(Scope {
            name: "io.otel.http".into(),
            version: "1.2".into(),
            attributes: vec![attribute("scope.attr", AttrValue::Int(9))],
        }),
    }
}

#[track_caller]
fn check(expression: &str, expected: bool) {
    let filter = AttrFilter::parse(expression)
        .unwrap_or_else(|error| panic!("`{expression}` should parse: {error}"));
    assert_eq!(filter.matches(&span()), expected, "{expression}");
}

#[test]
fn equality_and_inequality() {
    check("http.status_code=503", true);
    check("http.status_code = 503", true);
    check("http.status_code=500", false);
    check("http.status_code!=500", true);
    check("http.status_code!=503", false);
    check("cache.hit=false", true);
    check("cache.hit=true", false);
    check("ratio=0.25", true);
    check("http.route=/cart/{id}", true);
    check("tags=[\"a\",1]", true);
    // `!=` needs the key: a span without it does not match.
    check("missing!=x", false);
}

#[test]
fn regexes() {
    check("http.route=~^/cart/", true);
    check("http.route=~^/orders", false);
    check("http.route!~^/orders", true);
    check("http.route!~cart", false);
    check("missing!~x", false);
    check("customer.tier=~^(gold|platinum)$", true);
    check("http.status_code=~^5..$", true);
}

#[test]
fn numeric_comparisons() {
    check("http.status_code>=500", true);
    check("http.status_code>503", false);
    check("http.status_code<600", true);
    check("http.status_code<=502", false);
    check("ratio<0.5", true);
    check("ratio>0.25", false);
    // Strings that hold numbers compare as numbers.
    check("legacy.code>=400", true);
    check("http.route>1", false);
    check("cache.hit>0", false);
}

#[test]
fn presence() {
    check("http.route", true);
    check("missing", false);
    check("!missing", true);
    check("!http.route", false);
    check("! http.route", false);
}

#[test]
fn every_attribute_kind_is_searched() {
    check("exception.type=Boom", true);
    check("link.kind=follows", true);
    check("customer.tier=gold", true);
    check("host.name=node-7", true);
    check("scope.attr=9", true);
    check("resource.customer.tier=gold", true);
    check("resource.http.route", false);
}

#[test]
fn synthetic_jaeger_tags() {
    check("error=true", true);
    check("error", true);
    check("span.kind=server", true);
    check("otel.status_code=ERROR", true);
    check("otel.status_description=~^over", true);
    check("service.name=cart", true);
    check("service.name!=cart", false);
    check("otel.scope.name=io.otel.http", true);
}

#[track_caller]
fn check_error(expression: &str, reason_contains: &str) {
    let error = AttrFilter::parse(expression).expect_err(expression);
    assert_eq!(error.filter, expression);
    assert!(
        error.reason.contains(reason_contains),
        "`{expression}`: {} should mention {reason_contains}",
        error.reason
    );
    assert!(error
        .to_string()
        .starts_with(&format!("invalid filter `{expression}`")));
}

#[test]
fn bad_syntax_is_named() {
    check_error("", "empty");
    check_error("   ", "empty");
    check_error("=x", "missing the key");
    check_error(">5", "missing the key");
    check_error("!a=b", "`!` goes only before a bare key");
    check_error("!", "`!` goes only before a bare key");
    check_error("a>b", "not a number");
    check_error("a>=", "not a number");
    check_error("a<=NaN", "not a number");
    check_error("a~b", "unknown operator");
    check_error("a b=c", "contains a space");
    check_error("a=~(", "bad regular expression");
    check_error(&format!("a={}", "x".repeat(1100)), "longer than");
}

#[test]
fn oversized_regexes_are_refused() {
    check_error("a=~\\w{1000}\\w{1000}", "too large");
    check_error("a!~(\\pL{50}){50}", "too large");
}

/// The terms `span` puts into a block filter, as the store emits them.
fn block_terms(span: &Span) -> std::collections::HashSet<u64> {
    use crate::model::search_terms::{resource_terms, scope_terms, span_terms};
    let mut terms = std::collections::HashSet::new();
    span_terms(span, &mut |term| {
        terms.insert(term);
    });
    resource_terms(&span.resource, &mut |term| {
        terms.insert(term);
    });
    scope_terms(&span.scope, &mut |term| {
        terms.insert(term);
    });
    terms
}

/// Whether a block holding only `span()` may be skipped by `expression`.
#[track_caller]
fn skips(expression: &str) -> bool {
    let filter = AttrFilter::parse(expression).expect("parses");
    let terms = block_terms(&span());
    filter
        .required_terms()
        .is_some_and(|required| !required.iter().any(|term| terms.contains(term)))
}

#[test]
fn equality_and_presence_skip_blocks_only_without_a_match() {
    // Every way an equality or presence filter matches must keep its block:
    // integers and doubles in other spellings, every attribute kind, synthetic tags.
    for expression in [
        "http.status_code=503",
        "http.status_code=+503",
        "http.status_code=0503",
        "ratio=0.25",
        "ratio=0.250",
        "ratio=2.5e-1",
        "cache.hit=false",
        "legacy.code=404",
        "tags=[\"a\",1]",
        "exception.type=Boom",
        "link.kind=follows",
        "customer.tier=gold",
        "resource.customer.tier=gold",
        "scope.attr=9",
        "error=true",
        "span.kind=server",
        "otel.status_code=ERROR",
        "otel.status_description=overloaded",
        "service.name=cart",
        "otel.scope.name=io.otel.http",
        "scope.version=1.2",
        "http.route",
        "exception.type",
        "resource.host.name",
        "error",
    ] {
        check(expression, true);
        assert!(
            !skips(expression),
            "`{expression}` skipped a matching block"
        );
    }
    // And the point of it: a value or key the block lacks rules the block out.
    for expression in [
        "http.status_code=500",
        "customer.tier=silver",
        "user.id=needle-12345",
        "span.kind=client",
        "missing",
    ] {
        check(expression, false);
        assert!(skips(expression), "`{expression}` did not skip");
    }
    // Negations, regexes and ranges can't rule a block out by its terms.
    for expression in [
        "http.status_code!=503",
        "http.route=~^/x",
        "ratio>9",
        "!http.route",
    ] {
        assert!(
            AttrFilter::parse(expression)
                .expect("parses")
                .required_terms()
                .is_none(),
            "{expression}"
        );
    }
}
