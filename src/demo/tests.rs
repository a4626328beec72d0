use std::collections::{BTreeSet, HashMap};

use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;
use opentelemetry_proto::tonic::common::v1::KeyValue as OtlpKeyValue;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans as OtlpResourceSpans, Span as OtlpSpan};
use prost::Message as _;

use super::services::Service;
use super::*;

const START: u64 = 1_750_000_000_000_000_000;

fn generate(seed: u64, num_requests: u64) -> Vec<OtlpResourceSpans> {
    let mut shop = Shop::new(seed);
    (0..num_requests)
        .flat_map(|index| shop.next(START + index * 1_000_000_000).resource_spans)
        .collect()
}

fn text<'a>(attributes: &'a [OtlpKeyValue], key: &str) -> Option<&'a str> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            OtlpValue::StringValue(text) => Some(text.as_str()),
            _ => None,
        }
    })
}

fn spans(resources: &[OtlpResourceSpans]) -> impl Iterator<Item = (&str, &OtlpSpan)> {
    resources.iter().flat_map(|resource| {
        let service = text(
            &resource.resource.as_ref().unwrap().attributes,
            "service.name",
        )
        .unwrap();
        resource
            .scope_spans
            .iter()
            .flat_map(move |scope| scope.spans.iter().map(move |span| (service, span)))
    })
}

#[test]
fn the_same_seed_gives_the_same_traces() {
    let encode = |resources: Vec<OtlpResourceSpans>| {
        OtlpExportRequest {
            resource_spans: resources,
        }
        .encode_to_vec()
    };
    assert_eq!(encode(generate(7, 50)), encode(generate(7, 50)));
    assert_ne!(encode(generate(7, 50)), encode(generate(8, 50)));
}

#[test]
fn the_shop_has_every_feature_the_demo_promises() {
    let resources = generate(42, 400);
    let services: BTreeSet<&str> = spans(&resources).map(|(service, _)| service).collect();
    assert_eq!(services, SERVICES.into_iter().collect());
    assert_eq!(
        Service::ALL.map(Service::name),
        SERVICES,
        "SERVICES lists every service"
    );
    let languages: BTreeSet<&str> = resources
        .iter()
        .filter_map(|resource| {
            text(
                &resource.resource.as_ref()?.attributes,
                "telemetry.sdk.language",
            )
        })
        .collect();
    assert_eq!(
        languages,
        BTreeSet::from(["elixir", "go", "nodejs", "python"])
    );
    let all: Vec<(&str, &OtlpSpan)> = spans(&resources).collect();
    for key in [
        "http.route",
        "http.response.status_code",
        "db.system",
        "db.query.text",
        "server.address",
        "user.id",
        "customer.tier",
        "messaging.system",
    ] {
        assert!(
            all.iter()
                .any(|(_, span)| span.attributes.iter().any(|kv| kv.key == key)),
            "no span has {key}"
        );
    }
    let is_error = |span: &&OtlpSpan| {
        span.status
            .as_ref()
            .is_some_and(|status| status.code == OtlpStatusCode::Error as i32)
    };
    assert!(all.iter().map(|(_, span)| span).any(is_error));
    assert!(all.iter().any(
        |(_, span)| span.events.iter().any(|event| event.name == "exception"
            && text(&event.attributes, "exception.stacktrace").is_some())
    ));
    assert!(all
        .iter()
        .any(|(_, span)| span.events.iter().any(|event| event.name != "exception")));
    // Links from the queue consumer point at a producer span of another trace.
    let producers: HashMap<&[u8], &OtlpSpan> = all
        .iter()
        .filter(|(_, span)| span.name == "publish order-events")
        .map(|(_, span)| (span.span_id.as_slice(), *span))
        .collect();
    let consumers: Vec<&OtlpSpan> = all
        .iter()
        .filter(|(service, _)| *service == "notifications")
        .map(|(_, span)| *span)
        .filter(|span| !span.links.is_empty())
        .collect();
    assert!(!consumers.is_empty());
    for consumer in consumers {
        let producer = producers[consumer.links[0].span_id.as_slice()];
        assert_eq!(consumer.links[0].trace_id, producer.trace_id);
        assert_ne!(consumer.trace_id, producer.trace_id);
        assert!(consumer.start_time_unix_nano > producer.end_time_unix_nano);
    }
    // The N+1 loop: one parent with many identical queries.
    let mut per_parent: HashMap<(&[u8], &str), usize> = HashMap::new();
    for (_, span) in &all {
        if let Some(query) = text(&span.attributes, "db.query.text") {
            *per_parent
                .entry((span.parent_span_id.as_slice(), query))
                .or_default() += 1;
        }
    }
    assert!(per_parent.values().any(|&count| count >= 6));
}

#[test]
fn the_payment_provider_is_slower_for_platinum_customers() {
    let resources = generate(3, 600);
    let all: Vec<(&str, &OtlpSpan)> = spans(&resources).collect();
    let by_id: HashMap<&[u8], &OtlpSpan> = all
        .iter()
        .map(|(_, span)| (span.span_id.as_slice(), *span))
        .collect();
    let mut millis: HashMap<String, Vec<u64>> = HashMap::new();
    for (_, span) in &all {
        if text(&span.attributes, "server.address") != Some("api.payments.example.net") {
            continue;
        }
        let parent = by_id[span.parent_span_id.as_slice()];
        let tier = text(&parent.attributes, "customer.tier")
            .unwrap()
            .to_owned();
        millis
            .entry(tier)
            .or_default()
            .push((span.end_time_unix_nano - span.start_time_unix_nano) / 1_000_000);
    }
    let mean = |tier: &str| {
        let values = &millis[tier];
        values.iter().sum::<u64>() / values.len() as u64
    };
    assert!(mean("platinum") > 2 * mean("standard"), "{millis:?}");
}

#[test]
fn durations_parse_with_units() {
    assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
    assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
    assert!(parse_duration("5 parsecs").is_err());
    assert!(parse_duration("soon").is_err());
}
