//! `ZipkinSpan` → model, with Jaeger's semantics: microsecond times, 64-bit trace IDs
//! left-padded to 128 bits, the local endpoint's service as the resource, the remote
//! endpoint as `peer.*` attributes, annotations as events, the `error` and
//! `otel.status_*` tags as the status, and a `shared` server span (Envoy's and
//! Brave's shared span context: client and server report the same span ID) turned
//! into a child of the client span with an ID of its own, as Jaeger's span-ID
//! adjuster does at query time.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Endpoint, Kind, ZipkinSpan};
use crate::model::{
    AttrValue, Attribute, Event, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId,
};
use crate::protocol::{Converted, EMPTY_SPAN_NAME, MISSING_SERVICE_NAME};

pub(super) fn convert(spans: Vec<ZipkinSpan>) -> Converted {
    let mut converted = Converted::default();
    let mut resources: HashMap<(String, String), Arc<Resource>> = HashMap::new();
    let scope = Arc::new(Scope::default());
    // Shared server spans get new IDs; their children in this request follow them.
    let mut reparent: HashMap<(TraceId, SpanId, String), SpanId> = HashMap::new();
    let first_span = converted.spans.len();
    for (index, span) in spans.into_iter().enumerate() {
        let service = if span.local.service_name.is_empty() {
            MISSING_SERVICE_NAME.to_owned()
        } else {
            span.local.service_name.clone()
        };
        let ip = local_ip(&span.local);
        let resource = Arc::clone(
            resources
                .entry((service.clone(), ip.clone()))
                .or_insert_with(|| {
                    Arc::new(Resource {
                        service_name: service.clone(),
                        attributes: if ip.is_empty() {
                            Vec::new()
                        } else {
                            vec![attribute("ip", AttrValue::Str(ip))]
                        },
                    })
                }),
        );
        match convert_span(span, resource, &scope) {
            Ok((span, original_id)) => {
                if let Some(original_id) = original_id {
                    reparent.insert((span.trace_id, original_id, service), span.span_id);
                }
                converted.spans.push(span);
            }
            Err(reason) => converted.reject(format!("spans[{index}]: {reason}")),
        }
    }
    if !reparent.is_empty() {
        for span in &mut converted.spans[first_span..] {
            let Some(parent) = span.parent_span_id else {
                continue;
            };
            let key = (span.trace_id, parent, span.resource.service_name.clone());
            if let Some(new_parent) = reparent.get(&key) {
                if *new_parent != span.span_id {
                    span.parent_span_id = Some(*new_parent);
                }
            }
        }
    }
    converted
}

fn local_ip(endpoint: &Endpoint) -> String {
    if endpoint.ipv4.is_empty() {
        endpoint.ipv6.clone()
    } else {
        endpoint.ipv4.clone()
    }
}

fn attribute(key: &str, value: AttrValue) -> Attribute {
    Attribute {
        key: key.to_owned(),
        value,
    }
}

/// A hex ID of 16 or 32 characters (Zipkin's 64- and 128-bit trace IDs); shorter
/// ones are left-padded, as Zipkin allows dropping leading zeros.
fn trace_id(text: &str) -> Result<TraceId, String> {
    if text.is_empty() || text.len() > 32 {
        return Err(format!(
            "traceId must be 1 to 32 hex characters, got {} characters",
            text.len()
        ));
    }
    TraceId::from_hex(&format!("{text:0>32}"))
        .map_err(|_| format!("traceId `{text}` is not hex, or is all zero"))
}

fn parse_span_id(field: &str, text: &str) -> Result<SpanId, String> {
    if text.is_empty() || text.len() > 16 {
        return Err(format!(
            "{field} must be 1 to 16 hex characters, got {} characters",
            text.len()
        ));
    }
    SpanId::from_hex(&format!("{text:0>16}"))
        .map_err(|_| format!("{field} `{text}` is not hex, or is all zero"))
}

/// A deterministic new ID for the server half of a shared span, so a resent span
/// gets the same one.
fn shared_server_id(trace: TraceId, span: SpanId) -> SpanId {
    let mut state = u64::from_be_bytes(span.0) ^ 0x9e37_79b9_7f4a_7c15;
    for chunk in trace.0.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        state ^= u64::from_be_bytes(word);
        // splitmix64's finaliser.
        state = (state ^ (state >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        state = (state ^ (state >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        state ^= state >> 31;
    }
    if state == 0 || state == u64::from_be_bytes(span.0) {
        state = state.wrapping_add(1).max(1);
    }
    SpanId(state.to_be_bytes())
}

/// The span, and for a shared server span the ID it was sent with.
fn convert_span(
    span: ZipkinSpan,
    resource: Arc<Resource>,
    scope: &Arc<Scope>,
) -> Result<(Span, Option<SpanId>), String> {
    let trace_id = trace_id(&span.trace_id)?;
    let mut span_id = parse_span_id("id", &span.id)?;
    let mut parent_span_id =
        if span.parent_id.is_empty() || span.parent_id.bytes().all(|b| b == b'0') {
            None
        } else {
            Some(parse_span_id("parentId", &span.parent_id)?)
        };
    let mut original_id = None;
    if span.shared && span.kind == Kind::Server {
        original_id = Some(span_id);
        parent_span_id = Some(span_id);
        span_id = shared_server_id(trace_id, span_id);
    }

    let mut attributes = Vec::with_capacity(span.tags.len() + 4);
    let mut status_code = StatusCode::Unset;
    let mut status_message = String::new();
    let mut explicit_status = None;
    for (key, value) in span.tags {
        match key.as_str() {
            "error" => {
                status_code = StatusCode::Error;
                if value != "true" && !value.is_empty() {
                    status_message = value;
                }
            }
            "otel.status_code" => match value.as_str() {
                "OK" => explicit_status = Some(StatusCode::Ok),
                "ERROR" => explicit_status = Some(StatusCode::Error),
                _ => attributes.push(attribute(&key, AttrValue::Str(value))),
            },
            "otel.status_description" => status_message = value,
            _ => attributes.push(attribute(&key, AttrValue::Str(value))),
        }
    }
    if let Some(code) = explicit_status {
        status_code = code;
    }
    if let Some(remote) = span.remote {
        if !remote.service_name.is_empty() {
            attributes.push(attribute(
                "peer.service",
                AttrValue::Str(remote.service_name),
            ));
        }
        if !remote.ipv4.is_empty() {
            attributes.push(attribute("peer.ipv4", AttrValue::Str(remote.ipv4)));
        }
        if !remote.ipv6.is_empty() {
            attributes.push(attribute("peer.ipv6", AttrValue::Str(remote.ipv6)));
        }
        if remote.port != 0 {
            attributes.push(attribute("peer.port", AttrValue::Int(remote.port)));
        }
    }

    // A span sent without a timestamp (a late half) starts at its first annotation.
    let start_micros = if span.timestamp_micros == 0 {
        span.annotations
            .iter()
            .map(|(timestamp, _)| *timestamp)
            .filter(|timestamp| *timestamp > 0)
            .min()
            .unwrap_or(0)
    } else {
        span.timestamp_micros
    };
    let start_unix_nanos = start_micros.saturating_mul(1000);
    Ok((
        Span {
            trace_id,
            span_id,
            parent_span_id,
            trace_state: String::new(),
            flags: 0,
            name: if span.name.is_empty() {
                EMPTY_SPAN_NAME.to_owned()
            } else {
                span.name
            },
            kind: match span.kind {
                Kind::Unspecified => SpanKind::Unspecified,
                Kind::Client => SpanKind::Client,
                Kind::Server => SpanKind::Server,
                Kind::Producer => SpanKind::Producer,
                Kind::Consumer => SpanKind::Consumer,
            },
            start_unix_nanos,
            end_unix_nanos: start_unix_nanos
                .saturating_add(span.duration_micros.saturating_mul(1000)),
            attributes,
            events: span
                .annotations
                .into_iter()
                .map(|(timestamp, value)| Event {
                    time_unix_nanos: timestamp.saturating_mul(1000),
                    name: value,
                    attributes: Vec::new(),
                })
                .collect(),
            links: Vec::new(),
            status_code,
            status_message,
            resource,
            scope: Arc::clone(scope),
        },
        original_id,
    ))
}
