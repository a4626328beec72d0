//! Zipkin wire formats → `ZipkinSpan`: JSON v2 (`/api/v2/spans`), proto3
//! `ListOfSpans`, and JSON v1 (`/api/v1/spans`, whose spans are split the way
//! Zipkin's own `V1SpanConverter` splits them: one span per side of an RPC).

use std::collections::BTreeMap;

use prost::Message as _;
use serde::Deserialize;

use super::proto;
use super::{Endpoint, Kind, ZipkinError, ZipkinSpan};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonEndpoint {
    service_name: Option<String>,
    ipv4: Option<String>,
    ipv6: Option<String>,
    port: Option<i64>,
}

impl From<JsonEndpoint> for Endpoint {
    fn from(endpoint: JsonEndpoint) -> Endpoint {
        Endpoint {
            service_name: endpoint.service_name.unwrap_or_default(),
            ipv4: endpoint.ipv4.unwrap_or_default(),
            ipv6: endpoint.ipv6.unwrap_or_default(),
            port: endpoint.port.unwrap_or(0),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonAnnotation {
    timestamp: Option<serde_json::Number>,
    value: Option<String>,
    /// v1 only.
    endpoint: Option<JsonEndpoint>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpanV2 {
    trace_id: Option<String>,
    id: Option<String>,
    parent_id: Option<String>,
    name: Option<String>,
    kind: Option<String>,
    timestamp: Option<serde_json::Number>,
    duration: Option<serde_json::Number>,
    local_endpoint: Option<JsonEndpoint>,
    remote_endpoint: Option<JsonEndpoint>,
    #[serde(default)]
    annotations: Vec<JsonAnnotation>,
    #[serde(default)]
    tags: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    shared: bool,
}

/// Microseconds; some senders write them as floats.
fn micros(number: Option<&serde_json::Number>) -> u64 {
    number.map_or(0, |number| {
        number
            .as_u64()
            .or_else(|| number.as_f64().map(|value| value.max(0.0) as u64))
            .unwrap_or(0)
    })
}

/// Tag values must be strings in v2; numbers and booleans are kept as their text.
fn tag_text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    }
}

pub(super) fn json_v2(body: &[u8]) -> Result<Vec<ZipkinSpan>, ZipkinError> {
    let spans: Vec<JsonSpanV2> = serde_json::from_slice(body).map_err(ZipkinError::JsonV2)?;
    Ok(spans
        .into_iter()
        .map(|span| ZipkinSpan {
            trace_id: span.trace_id.unwrap_or_default(),
            id: span.id.unwrap_or_default(),
            parent_id: span.parent_id.unwrap_or_default(),
            name: span.name.unwrap_or_default(),
            kind: Kind::from_name(span.kind.as_deref().unwrap_or("")),
            timestamp_micros: micros(span.timestamp.as_ref()),
            duration_micros: micros(span.duration.as_ref()),
            local: span.local_endpoint.map(Endpoint::from).unwrap_or_default(),
            remote: span.remote_endpoint.map(Endpoint::from),
            annotations: span
                .annotations
                .into_iter()
                .map(|annotation| {
                    (
                        micros(annotation.timestamp.as_ref()),
                        annotation.value.unwrap_or_default(),
                    )
                })
                .collect(),
            tags: span
                .tags
                .into_iter()
                .map(|(key, value)| (key, tag_text(value)))
                .collect(),
            shared: span.shared,
        })
        .collect())
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::from([bytes[0], bytes[1], bytes[2], bytes[3]]).to_string(),
        16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(octets).to_string()
        }
        _ => String::new(),
    }
}

fn proto_endpoint(endpoint: proto::Endpoint) -> Endpoint {
    Endpoint {
        service_name: endpoint.service_name,
        ipv4: ip_text(&endpoint.ipv4),
        ipv6: ip_text(&endpoint.ipv6),
        port: i64::from(endpoint.port),
    }
}

pub(super) fn proto3(body: &[u8]) -> Result<Vec<ZipkinSpan>, ZipkinError> {
    let list = proto::ListOfSpans::decode(body).map_err(ZipkinError::Proto)?;
    Ok(list
        .spans
        .into_iter()
        .map(|span| {
            let kind = match proto::span::Kind::try_from(span.kind) {
                Ok(proto::span::Kind::Client) => Kind::Client,
                Ok(proto::span::Kind::Server) => Kind::Server,
                Ok(proto::span::Kind::Producer) => Kind::Producer,
                Ok(proto::span::Kind::Consumer) => Kind::Consumer,
                _ => Kind::Unspecified,
            };
            ZipkinSpan {
                // Bytes become hex, so one ID parser (with its checks) serves every format.
                trace_id: hex::encode(&span.trace_id),
                id: hex::encode(&span.id),
                parent_id: hex::encode(&span.parent_id),
                name: span.name,
                kind,
                timestamp_micros: span.timestamp,
                duration_micros: span.duration,
                local: span.local_endpoint.map(proto_endpoint).unwrap_or_default(),
                remote: span.remote_endpoint.map(proto_endpoint),
                annotations: span
                    .annotations
                    .into_iter()
                    .map(|annotation| (annotation.timestamp, annotation.value))
                    .collect(),
                tags: span.tags.into_iter().collect(),
                shared: span.shared,
            }
        })
        .collect())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonBinaryAnnotation {
    key: String,
    value: serde_json::Value,
    endpoint: Option<JsonEndpoint>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpanV1 {
    trace_id: Option<String>,
    id: Option<String>,
    parent_id: Option<String>,
    name: Option<String>,
    timestamp: Option<serde_json::Number>,
    duration: Option<serde_json::Number>,
    #[serde(default)]
    annotations: Vec<JsonAnnotation>,
    #[serde(default)]
    binary_annotations: Vec<JsonBinaryAnnotation>,
}

/// One side of a v1 span: its kind, endpoint and start/end annotations.
#[derive(Debug, Default)]
struct Side {
    endpoint: Option<Endpoint>,
    start: Option<u64>,
    end: Option<u64>,
}

pub(super) fn json_v1(body: &[u8]) -> Result<Vec<ZipkinSpan>, ZipkinError> {
    let spans: Vec<JsonSpanV1> = serde_json::from_slice(body).map_err(ZipkinError::JsonV1)?;
    let mut out = Vec::with_capacity(spans.len());
    for span in spans {
        let (mut client, mut server) = (Side::default(), Side::default());
        let mut others = Vec::new();
        let mut local = None;
        for annotation in span.annotations {
            let timestamp = micros(annotation.timestamp.as_ref());
            let endpoint = annotation.endpoint.map(Endpoint::from);
            let value = annotation.value.unwrap_or_default();
            let side = match value.as_str() {
                "cs" => Some((&mut client, true)),
                "cr" => Some((&mut client, false)),
                "sr" => Some((&mut server, true)),
                "ss" => Some((&mut server, false)),
                _ => None,
            };
            match side {
                Some((side, is_start)) => {
                    if is_start {
                        side.start = Some(timestamp);
                    } else {
                        side.end = Some(timestamp);
                    }
                    if side.endpoint.is_none() {
                        side.endpoint = endpoint;
                    }
                }
                None => {
                    if local.is_none() {
                        local = endpoint;
                    }
                    others.push((timestamp, value));
                }
            }
        }
        let mut tags = BTreeMap::new();
        let mut remote = None;
        for annotation in span.binary_annotations {
            match annotation.key.as_str() {
                // Address annotations name the other side of the call.
                "sa" | "ca" | "ma" => {
                    if remote.is_none() {
                        remote = annotation.endpoint.map(Endpoint::from);
                    }
                }
                _ => {
                    if local.is_none() {
                        local = annotation.endpoint.map(Endpoint::from);
                    }
                    tags.insert(annotation.key, tag_text(annotation.value));
                }
            }
        }
        let base = ZipkinSpan {
            trace_id: span.trace_id.unwrap_or_default(),
            id: span.id.unwrap_or_default(),
            parent_id: span.parent_id.unwrap_or_default(),
            name: span.name.unwrap_or_default(),
            kind: Kind::Unspecified,
            timestamp_micros: micros(span.timestamp.as_ref()),
            duration_micros: micros(span.duration.as_ref()),
            local: Endpoint::default(),
            remote: None,
            annotations: others,
            tags,
            shared: false,
        };
        let has_client = client.start.is_some() || client.end.is_some();
        let has_server = server.start.is_some() || server.end.is_some();
        let side_span = |side: Side, kind: Kind, template: &ZipkinSpan, shared: bool| {
            let mut span = template.clone();
            span.kind = kind;
            span.shared = shared;
            if let Some(start) = side.start {
                span.timestamp_micros = start;
                if let Some(end) = side.end {
                    span.duration_micros = end.saturating_sub(start);
                }
            }
            span.local = side.endpoint.unwrap_or_default();
            span
        };
        match (has_client, has_server) {
            (true, true) => {
                // Both sides in one v1 span: the server's half shares the client's ID.
                let mut client_span = side_span(client, Kind::Client, &base, false);
                let mut server_span = side_span(server, Kind::Server, &base, true);
                client_span.remote = Some(server_span.local.clone());
                server_span.remote = Some(client_span.local.clone());
                server_span.annotations.clear();
                server_span.tags.clear();
                out.push(client_span);
                out.push(server_span);
            }
            (true, false) => {
                let mut span = side_span(client, Kind::Client, &base, false);
                span.remote = remote;
                out.push(span);
            }
            (false, true) => {
                let mut span = side_span(server, Kind::Server, &base, false);
                span.remote = remote;
                out.push(span);
            }
            (false, false) => {
                let mut span = base;
                span.local = local.unwrap_or_default();
                span.remote = remote;
                out.push(span);
            }
        }
    }
    Ok(out)
}
