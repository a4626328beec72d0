//! Jaeger's internal `/api/*` JSON: the envelope and the UI trace model.
//!
//! `jaeger_trace` does what Jaeger v2 does when it reads a trace: it runs the
//! query-time adjusters we keep (sort attributes and events, drop duplicate spans,
//! move SDK attributes to the process) and then the OTLP → Jaeger translation
//! (resources become processes; kind, status, scope and trace state become tags;
//! events become logs; parent and links become references). Key order follows
//! Jaeger's `uimodel` structs, so our output diffs cleanly against Jaeger's.

use std::borrow::Cow;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

mod proto;

use super::{ordered_unique, serialize_f64, Distinct};
use crate::model::{
    AttrValue, Attribute, Event, Resource, Span, SpanId, SpanKind, StatusCode, TraceId,
};

/// The `/api/*` envelope: `{"data":…,"total":…,"limit":0,"offset":0,"errors":…}`.
#[derive(Debug, Serialize)]
pub(crate) struct Envelope<T> {
    data: T,
    /// Filled only by the services and operations routes; 0 elsewhere.
    total: usize,
    /// Always 0: Jaeger has no pagination.
    limit: usize,
    /// Always 0: Jaeger has no pagination.
    offset: usize,
    errors: Option<Vec<EnvelopeError>>,
}

/// One entry of the envelope's `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EnvelopeError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) code: Option<u16>,
    pub(crate) msg: String,
    #[serde(rename = "traceID", skip_serializing_if = "Option::is_none")]
    pub(crate) trace_id: Option<String>,
}

/// One trace in the UI model: `{traceID, spans, processes, warnings}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct JaegerTrace<'a> {
    #[serde(rename = "traceID")]
    trace_id: String,
    spans: Vec<JaegerSpan<'a>>,
    processes: Processes<'a>,
    /// Jaeger only fills this when it truncates a trace, which we never do.
    warnings: Option<Vec<String>>,
}

/// Renders the spans of one trace; the caller guarantees they are not empty and
/// share one trace ID.
///
/// Spans come out ordered by start time, then span ID, with identical copies
/// dropped. Processes are numbered `p1`, `p2`, … in the order the spans first use
/// them, and spans with equal processes (same service name and tags) share one.
pub(crate) fn jaeger_trace(spans: &[Span]) -> JaegerTrace<'_> {
    debug_assert!(!spans.is_empty(), "a trace has at least one span");
    let spans = ordered_unique(spans);

    let mut resources = Distinct::new();
    let resource_of_span: Vec<usize> = spans
        .iter()
        .map(|span| resources.index_of(&span.resource))
        .collect();
    let mut adopted = vec![Vec::new(); resources.values().len()];
    for (span, &resource) in spans.iter().zip(&resource_of_span) {
        adopt_library_attributes(resources.values()[resource], &mut adopted[resource], span);
    }

    // Two distinct resources may still render as one process, e.g. when they
    // differ only in attribute order; Jaeger's process hashtable merges those.
    let mut processes: Vec<JaegerProcess<'_>> = Vec::new();
    let process_of_resource: Vec<usize> = resources
        .values()
        .iter()
        .zip(&adopted)
        .map(|(resource, adopted)| {
            let process = JaegerProcess::new(resource, adopted);
            match processes.iter().position(|known| *known == process) {
                Some(index) => index,
                None => {
                    processes.push(process);
                    processes.len() - 1
                }
            }
        })
        .collect();

    let trace_id = spans
        .first()
        .map(|span| span.trace_id.to_jaeger_hex())
        .unwrap_or_default();
    let spans = spans
        .iter()
        .zip(&resource_of_span)
        .map(|(span, &resource)| {
            let library = LibraryAttributes {
                resource: resources.values()[resource],
                adopted: &adopted[resource],
            };
            render_span(span, &trace_id, &library, process_of_resource[resource])
        })
        .collect();
    JaegerTrace {
        trace_id,
        spans,
        processes: Processes(processes),
        warnings: None,
    }
}

impl<T> Envelope<T> {
    /// A success without a count: trace routes, dependencies.
    pub(crate) fn ok(data: T) -> Envelope<T> {
        Envelope::with_total(data, 0)
    }

    /// A success that reports how many items `data` holds: services, operations.
    pub(crate) fn with_total(data: T, total: usize) -> Envelope<T> {
        Envelope {
            data,
            total,
            limit: 0,
            offset: 0,
            errors: None,
        }
    }

    /// Adds per-trace errors (multi-ID lookups); `errors` stays `null` when there are none.
    pub(crate) fn with_errors(mut self, errors: Vec<EnvelopeError>) -> Envelope<T> {
        self.errors = (!errors.is_empty()).then_some(errors);
        self
    }
}

impl Envelope<()> {
    /// The error body: `data` is `null` and `errors` holds one item carrying the
    /// HTTP status, which the caller also sets on the response.
    pub(crate) fn error(status: u16, msg: impl Into<String>) -> Envelope<()> {
        Envelope {
            data: (),
            total: 0,
            limit: 0,
            offset: 0,
            errors: Some(vec![EnvelopeError {
                code: Some(status),
                msg: msg.into(),
                trace_id: None,
            }]),
        }
    }
}

/// Span attributes that Jaeger's library-attributes adjuster moves into the process.
const LIBRARY_KEYS: [&str; 5] = [
    "telemetry.sdk.language",
    "telemetry.sdk.name",
    "telemetry.sdk.version",
    "telemetry.distro.name",
    "telemetry.distro.version",
];

/// The largest integer a JavaScript number holds exactly (2^53 − 1).
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Key order is Jaeger's `uimodel.Span`. `parentSpanID` (deprecated, always
/// empty for OTLP data) and `flags` (the OTLP translator never carries them, and
/// Jaeger omits 0) are left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct JaegerSpan<'a> {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
    operation_name: &'a str,
    references: Vec<Reference>,
    /// Microseconds since the Unix epoch, truncated.
    start_time: u64,
    /// Microseconds, truncated.
    duration: u64,
    tags: Vec<Tag<'a>>,
    logs: Vec<Log<'a>>,
    #[serde(rename = "processID")]
    process_id: String,
    warnings: Option<Vec<String>>,
    /// The span rendered, for the protobuf rendering's IDs and nanosecond times.
    #[serde(skip)]
    source: &'a Span,
    #[serde(skip)]
    process_index: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Reference {
    ref_type: &'static str,
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
    /// The IDs as bytes, for the protobuf rendering.
    #[serde(skip)]
    ids: (TraceId, SpanId),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Log<'a> {
    timestamp: u64,
    fields: Vec<Tag<'a>>,
    #[serde(skip)]
    time_unix_nanos: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct JaegerProcess<'a> {
    service_name: &'a str,
    tags: Vec<Tag<'a>>,
}

/// The `processes` object; serialized in numbering order (`p1`, `p2`, …).
#[derive(Debug, Clone, PartialEq)]
struct Processes<'a>(Vec<JaegerProcess<'a>>);

/// A Jaeger `KeyValue`: `{key, type, value}`.
#[derive(Debug, Clone, PartialEq)]
struct Tag<'a> {
    key: &'a str,
    value: TagValue<'a>,
}

#[derive(Debug, Clone, PartialEq)]
enum TagValue<'a> {
    String(Cow<'a, str>),
    Bool(bool),
    Int64(i64),
    Float64(f64),
    /// Written as base64 in JSON.
    Binary(&'a [u8]),
}

/// What the library-attributes adjuster knows about one resource.
struct LibraryAttributes<'a, 'b> {
    resource: &'a Resource,
    /// Library attributes the resource lacked and took over from its spans.
    adopted: &'b [&'a Attribute],
}

impl LibraryAttributes<'_, '_> {
    fn value_of(&self, key: &str) -> Option<&AttrValue> {
        self.resource
            .attributes
            .iter()
            .chain(self.adopted.iter().copied())
            .find(|attribute| attribute.key == key)
            .map(|attribute| &attribute.value)
    }
}

/// The first pass of Jaeger's library-attributes adjuster: a resource takes over
/// each SDK attribute it lacks from the first span that carries it. Jaeger
/// mutates the shared resource, so the attribute then shows on the process of
/// every span from that resource, not only the span it came from.
fn adopt_library_attributes<'a>(
    resource: &'a Resource,
    adopted: &mut Vec<&'a Attribute>,
    span: &'a Span,
) {
    for attribute in &span.attributes {
        if !LIBRARY_KEYS.contains(&attribute.key.as_str()) {
            continue;
        }
        let known = LibraryAttributes {
            resource,
            adopted: adopted.as_slice(),
        }
        .value_of(&attribute.key)
        .is_some();
        if !known {
            adopted.push(attribute);
        }
    }
}

impl<'a> JaegerProcess<'a> {
    /// Resource attributes (`service.name` is already lifted out) plus adopted
    /// library attributes, sorted by key as Jaeger's sort adjuster does.
    fn new(resource: &'a Resource, adopted: &[&'a Attribute]) -> JaegerProcess<'a> {
        let mut attributes: Vec<&Attribute> = resource.attributes.iter().collect();
        attributes.extend_from_slice(adopted);
        attributes.sort_by(|left, right| left.key.cmp(&right.key));
        JaegerProcess {
            service_name: &resource.service_name,
            tags: attributes.into_iter().map(Tag::from_attribute).collect(),
        }
    }
}

fn render_span<'a>(
    span: &'a Span,
    trace_id: &str,
    library: &LibraryAttributes<'a, '_>,
    process_index: usize,
) -> JaegerSpan<'a> {
    let mut warnings = Vec::new();
    let mut tags = Vec::with_capacity(span.attributes.len() + 7);
    if !span.scope.name.is_empty() {
        tags.push(Tag::string("otel.scope.name", &span.scope.name));
    }
    if !span.scope.version.is_empty() {
        tags.push(Tag::string("otel.scope.version", &span.scope.version));
    }

    // The second pass of the library-attributes adjuster: an SDK attribute equal
    // to the process's value has moved there; a conflicting one stays, with a
    // warning worded as Jaeger's.
    let mut attributes: Vec<&Attribute> = Vec::with_capacity(span.attributes.len());
    for attribute in &span.attributes {
        if LIBRARY_KEYS.contains(&attribute.key.as_str()) {
            if library.value_of(&attribute.key) == Some(&attribute.value) {
                continue;
            }
            warnings.push(format!(
                "conflicting values between Span and Resource for attribute {}",
                attribute.key
            ));
        }
        attributes.push(attribute);
    }
    attributes.sort_by(|left, right| left.key.cmp(&right.key));
    tags.extend(attributes.into_iter().map(Tag::from_attribute));

    if span.kind != SpanKind::Unspecified {
        tags.push(Tag::string("span.kind", span.kind.jaeger_name()));
    }
    match span.status_code {
        StatusCode::Unset => {}
        StatusCode::Ok => tags.push(Tag::string("otel.status_code", "OK")),
        StatusCode::Error => {
            tags.push(Tag::string("otel.status_code", "ERROR"));
            // The v1 UI counts and colours spans by this tag, not by the status.
            tags.push(Tag {
                key: "error",
                value: TagValue::Bool(true),
            });
        }
    }
    if !span.status_message.is_empty() {
        tags.push(Tag::string("otel.status_description", &span.status_message));
    }
    if !span.trace_state.is_empty() {
        tags.push(Tag::string("w3c.tracestate", &span.trace_state));
    }

    JaegerSpan {
        trace_id: trace_id.to_owned(),
        span_id: span.span_id.to_hex(),
        operation_name: &span.name,
        references: references(span, trace_id),
        start_time: span.start_unix_nanos / 1000,
        duration: span.duration_nanos() / 1000,
        tags,
        logs: logs(&span.events),
        process_id: format!("p{}", process_index + 1),
        warnings: (!warnings.is_empty()).then_some(warnings),
        source: span,
        process_index,
    }
}

/// The parent first, as `CHILD_OF`, because readers look for the parent there;
/// then one reference per link. A link to the parent itself only sets the type
/// of that first reference, as in the OTLP translator.
fn references(span: &Span, trace_id: &str) -> Vec<Reference> {
    const CHILD_OF: &str = "CHILD_OF";
    const FOLLOWS_FROM: &str = "FOLLOWS_FROM";
    let mut references = Vec::with_capacity(span.links.len() + 1);
    if let Some(parent) = span.parent_span_id {
        references.push(Reference {
            ref_type: CHILD_OF,
            trace_id: trace_id.to_owned(),
            span_id: parent.to_hex(),
            ids: (span.trace_id, parent),
        });
    }
    for link in &span.links {
        let is_child_of = link.attributes.iter().any(|attribute| {
            attribute.key == "opentracing.ref_type"
                && matches!(&attribute.value, AttrValue::Str(text) if text == "child_of")
        });
        let ref_type = if is_child_of { CHILD_OF } else { FOLLOWS_FROM };
        if span.parent_span_id == Some(link.span_id) && link.trace_id == span.trace_id {
            if let Some(parent) = references.first_mut() {
                parent.ref_type = ref_type;
            }
            continue;
        }
        references.push(Reference {
            ref_type,
            trace_id: link.trace_id.to_jaeger_hex(),
            span_id: link.span_id.to_hex(),
            ids: (link.trace_id, link.span_id),
        });
    }
    references
}

/// Events as logs, ordered by time and then name. Each log starts with
/// `event=<name>` unless the name is empty or the event has its own `event`
/// attribute; the attributes follow, sorted by key.
fn logs(events: &[Event]) -> Vec<Log<'_>> {
    let mut events: Vec<&Event> = events.iter().collect();
    events.sort_by(|left, right| {
        (left.time_unix_nanos, &left.name).cmp(&(right.time_unix_nanos, &right.name))
    });
    events
        .into_iter()
        .map(|event| {
            let mut attributes: Vec<&Attribute> = event.attributes.iter().collect();
            attributes.sort_by(|left, right| left.key.cmp(&right.key));
            let has_event_attribute = attributes.iter().any(|attribute| attribute.key == "event");
            let mut fields = Vec::with_capacity(attributes.len() + 1);
            if !event.name.is_empty() && !has_event_attribute {
                fields.push(Tag::string("event", &event.name));
            }
            fields.extend(attributes.into_iter().map(Tag::from_attribute));
            Log {
                timestamp: event.time_unix_nanos / 1000,
                fields,
                time_unix_nanos: event.time_unix_nanos,
            }
        })
        .collect()
}

impl<'a> Tag<'a> {
    fn string(key: &'a str, value: &'a str) -> Tag<'a> {
        Tag {
            key,
            value: TagValue::String(Cow::Borrowed(value)),
        }
    }

    /// Jaeger's typing: arrays and key-value lists become JSON text typed
    /// `string`, bytes become base64 typed `binary`, and empty becomes `""`.
    fn from_attribute(attribute: &'a Attribute) -> Tag<'a> {
        let value = match &attribute.value {
            AttrValue::Str(text) => TagValue::String(Cow::Borrowed(text)),
            AttrValue::Bool(value) => TagValue::Bool(*value),
            AttrValue::Int(value) => TagValue::Int64(*value),
            AttrValue::Double(value) => TagValue::Float64(*value),
            AttrValue::Bytes(bytes) => TagValue::Binary(bytes),
            AttrValue::Array(_) | AttrValue::KvList(_) => {
                TagValue::String(Cow::Owned(attribute.value.to_json_text()))
            }
            AttrValue::Empty => TagValue::String(Cow::Borrowed("")),
        };
        Tag {
            key: &attribute.key,
            value,
        }
    }
}

impl Serialize for Tag<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serializer.serialize_struct("KeyValue", 3)?;
        object.serialize_field("key", self.key)?;
        match &self.value {
            TagValue::String(text) => {
                object.serialize_field("type", "string")?;
                object.serialize_field("value", text)?;
            }
            TagValue::Bool(value) => {
                object.serialize_field("type", "bool")?;
                object.serialize_field("value", value)?;
            }
            TagValue::Int64(value) => {
                object.serialize_field("type", "int64")?;
                // Beyond 2^53 − 1 a JSON number loses digits in the browser.
                if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(value) {
                    object.serialize_field("value", value)?;
                } else {
                    object.serialize_field("value", &value.to_string())?;
                }
            }
            TagValue::Float64(value) => {
                object.serialize_field("type", "float64")?;
                object.serialize_field("value", &Float(*value))?;
            }
            TagValue::Binary(bytes) => {
                use base64::Engine as _;
                object.serialize_field("type", "binary")?;
                let base64 = base64::engine::general_purpose::STANDARD.encode(bytes);
                object.serialize_field("value", &base64)?;
            }
        }
        object.end()
    }
}

struct Float(f64);

impl Serialize for Float {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_f64(self.0, serializer)
    }
}

impl Serialize for Processes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (index, process) in self.0.iter().enumerate() {
            map.serialize_entry(&format!("p{}", index + 1), process)?;
        }
        map.end()
    }
}
