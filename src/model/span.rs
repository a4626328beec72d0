//! The span, its resource and scope, and typed attribute values.

use std::sync::Arc;

use super::{SpanId, TraceId};

#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub trace_state: String,
    pub flags: u32,
    pub name: String,
    pub kind: SpanKind,
    pub start_unix_nanos: u64,
    /// Never before `start_unix_nanos`; `from_otlp` clamps inverted spans.
    pub end_unix_nanos: u64,
    pub attributes: Vec<Attribute>,
    pub events: Vec<Event>,
    pub links: Vec<Link>,
    pub status_code: StatusCode,
    pub status_message: String,
    /// Shared by every span of one OTLP `ResourceSpans`.
    pub resource: Arc<Resource>,
    /// Shared by every span of one OTLP `ScopeSpans`.
    pub scope: Arc<Scope>,
}

impl Span {
    /// About how many bytes of memory the span holds, not counting its resource and
    /// scope (shared by the spans of a request). What the ingest queue is bounded by.
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Span>()
            + self.name.len()
            + self.trace_state.len()
            + self.status_message.len()
            + attributes_bytes(&self.attributes)
            + self
                .events
                .iter()
                .map(|event| {
                    std::mem::size_of::<Event>()
                        + event.name.len()
                        + attributes_bytes(&event.attributes)
                })
                .sum::<usize>()
            + self
                .links
                .iter()
                .map(|link| {
                    std::mem::size_of::<Link>()
                        + link.trace_state.len()
                        + attributes_bytes(&link.attributes)
                })
                .sum::<usize>()
    }

    pub fn duration_nanos(&self) -> u64 {
        SpanFields::duration_nanos(self)
    }

    pub fn service_name(&self) -> &str {
        SpanFields::service_name(self)
    }

    pub fn is_error(&self) -> bool {
        SpanFields::is_error(self)
    }
}

/// The process that emitted spans. `service.name` is lifted out of the attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource {
    pub service_name: String,
    pub attributes: Vec<Attribute>,
}

/// The instrumentation scope (library) that created spans.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scope {
    pub name: String,
    pub version: String,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub key: String,
    pub value: AttrValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<AttrValue>),
    KvList(Vec<Attribute>),
    Empty,
}

impl AttrValue {
    /// The value as Jaeger's tag search compares it: a plain string.
    pub fn to_search_string(&self) -> String {
        match self {
            AttrValue::Str(text) => text.clone(),
            AttrValue::Bool(value) => value.to_string(),
            AttrValue::Int(value) => value.to_string(),
            AttrValue::Double(value) => value.to_string(),
            AttrValue::Bytes(bytes) => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(bytes)
            }
            AttrValue::Array(_) | AttrValue::KvList(_) => self.to_json_text(),
            AttrValue::Empty => String::new(),
        }
    }

    /// Whether the value equals `text` when written as a string, without allocating
    /// for the common scalar cases.
    pub fn matches_str(&self, text: &str) -> bool {
        match self {
            AttrValue::Str(value) => value == text,
            AttrValue::Bool(value) => text == if *value { "true" } else { "false" },
            AttrValue::Int(value) => text.parse::<i64>().ok() == Some(*value),
            _ => self.to_search_string() == text,
        }
    }

    /// Arrays and key-value lists are shown as JSON text, as Jaeger's translator does.
    pub fn to_json_text(&self) -> String {
        fn to_json(value: &AttrValue) -> serde_json::Value {
            match value {
                AttrValue::Str(text) => serde_json::Value::from(text.as_str()),
                AttrValue::Bool(value) => serde_json::Value::from(*value),
                AttrValue::Int(value) => serde_json::Value::from(*value),
                AttrValue::Double(value) => serde_json::Value::from(*value),
                AttrValue::Bytes(_) => serde_json::Value::from(value.to_search_string()),
                AttrValue::Array(items) => items.iter().map(to_json).collect(),
                AttrValue::KvList(entries) => entries
                    .iter()
                    .map(|entry| (entry.key.clone(), to_json(&entry.value)))
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
                AttrValue::Empty => serde_json::Value::Null,
            }
        }
        to_json(self).to_string()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub time_unix_nanos: u64,
    pub name: String,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub trace_state: String,
    pub attributes: Vec<Attribute>,
}

/// OTLP span kinds; the discriminants are OTLP's enum numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpanKind {
    Unspecified = 0,
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

impl SpanKind {
    pub const ALL: [SpanKind; 6] = [
        SpanKind::Unspecified,
        SpanKind::Internal,
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
    ];

    pub fn from_number(number: i32) -> Option<SpanKind> {
        Some(match number {
            0 => SpanKind::Unspecified,
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => return None,
        })
    }

    /// Jaeger's `span.kind` tag value; empty for unspecified.
    pub fn jaeger_name(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }

    pub fn from_jaeger_name(name: &str) -> Option<SpanKind> {
        Some(match name {
            "" | "unspecified" => SpanKind::Unspecified,
            "internal" => SpanKind::Internal,
            "server" => SpanKind::Server,
            "client" => SpanKind::Client,
            "producer" => SpanKind::Producer,
            "consumer" => SpanKind::Consumer,
            _ => return None,
        })
    }
}

/// OTLP status codes; the discriminants are OTLP's enum numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCode {
    Unset = 0,
    Ok = 1,
    Error = 2,
}

impl StatusCode {
    pub fn from_number(number: i32) -> Option<StatusCode> {
        Some(match number {
            0 => StatusCode::Unset,
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => return None,
        })
    }
}

/// What search reads of a span. Implemented by `Span` and by the store's zero-copy
/// view of an encoded span, so one predicate serves both.
pub trait SpanFields {
    fn service_name(&self) -> &str;
    fn name(&self) -> &str;
    fn kind(&self) -> SpanKind;
    fn start_unix_nanos(&self) -> u64;
    fn duration_nanos(&self) -> u64;
    fn status_code(&self) -> StatusCode;
    fn status_message(&self) -> &str;
    fn trace_state(&self) -> &str;
    fn resource(&self) -> &Resource;
    fn scope(&self) -> &Scope;
    /// Whether a span attribute `key` equals `value` written as a string.
    fn attribute_matches(&self, key: &str, value: &str) -> bool;
    /// Whether an attribute `key` of any event equals `value` written as a string.
    fn event_attribute_matches(&self, key: &str, value: &str) -> bool;
    /// Whether an attribute `key` of any link equals `value` written as a string.
    fn link_attribute_matches(&self, key: &str, value: &str) -> bool;
    /// Calls `test` with every value of an attribute named `key` on the span, its
    /// events and its links, until `test` returns true; returns whether one did.
    /// Resource and scope attributes are read through `resource()` and `scope()`.
    fn any_attribute(&self, key: &str, test: &mut dyn FnMut(ValueRef<'_>) -> bool) -> bool;

    /// Jaeger's notion of an error span: status ERROR, or an `error=true` attribute.
    fn is_error(&self) -> bool {
        self.status_code() == StatusCode::Error || self.attribute_matches("error", "true")
    }
}

impl SpanFields for Span {
    fn service_name(&self) -> &str {
        &self.resource.service_name
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> SpanKind {
        self.kind
    }
    fn start_unix_nanos(&self) -> u64 {
        self.start_unix_nanos
    }
    fn duration_nanos(&self) -> u64 {
        self.end_unix_nanos.saturating_sub(self.start_unix_nanos)
    }
    fn status_code(&self) -> StatusCode {
        self.status_code
    }
    fn status_message(&self) -> &str {
        &self.status_message
    }
    fn trace_state(&self) -> &str {
        &self.trace_state
    }
    fn resource(&self) -> &Resource {
        &self.resource
    }
    fn scope(&self) -> &Scope {
        &self.scope
    }
    fn attribute_matches(&self, key: &str, value: &str) -> bool {
        attributes_match(&self.attributes, key, value)
    }
    fn event_attribute_matches(&self, key: &str, value: &str) -> bool {
        self.events
            .iter()
            .any(|event| attributes_match(&event.attributes, key, value))
    }
    fn link_attribute_matches(&self, key: &str, value: &str) -> bool {
        self.links
            .iter()
            .any(|link| attributes_match(&link.attributes, key, value))
    }
    fn any_attribute(&self, key: &str, test: &mut dyn FnMut(ValueRef<'_>) -> bool) -> bool {
        any_attribute_in(&self.attributes, key, test)
            || self
                .events
                .iter()
                .any(|event| any_attribute_in(&event.attributes, key, test))
            || self
                .links
                .iter()
                .any(|link| any_attribute_in(&link.attributes, key, test))
    }
}

/// Calls `test` with every value named `key` in `attributes`, until one passes.
pub fn any_attribute_in(
    attributes: &[Attribute],
    key: &str,
    test: &mut dyn FnMut(ValueRef<'_>) -> bool,
) -> bool {
    attributes
        .iter()
        .any(|attribute| attribute.key == key && test(ValueRef::from(&attribute.value)))
}

/// An attribute value borrowed from a `Span` or from an encoded block, as the
/// search filters compare it.
#[derive(Debug, Clone, Copy)]
pub enum ValueRef<'v> {
    Str(&'v str),
    Bool(bool),
    Int(i64),
    Double(f64),
    /// Bytes, arrays, key-value lists and empty values.
    Other(&'v AttrValue),
}

impl<'v> From<&'v AttrValue> for ValueRef<'v> {
    fn from(value: &'v AttrValue) -> ValueRef<'v> {
        match value {
            AttrValue::Str(text) => ValueRef::Str(text),
            AttrValue::Bool(value) => ValueRef::Bool(*value),
            AttrValue::Int(value) => ValueRef::Int(*value),
            AttrValue::Double(value) => ValueRef::Double(*value),
            other => ValueRef::Other(other),
        }
    }
}

impl ValueRef<'_> {
    /// The value as a number: ints and doubles, and strings that parse as one
    /// (older SDKs send `http.status_code` as a string).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            ValueRef::Int(value) => Some(*value as f64),
            ValueRef::Double(value) => Some(*value),
            ValueRef::Str(text) => text.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            ValueRef::Bool(_) | ValueRef::Other(_) => None,
        }
    }

    /// Calls `with` with the value written as Jaeger's tag search writes it;
    /// allocates only for the rare kinds.
    pub fn with_text<R>(&self, with: impl FnOnce(&str) -> R) -> R {
        match self {
            ValueRef::Str(text) => with(text),
            ValueRef::Bool(value) => with(if *value { "true" } else { "false" }),
            ValueRef::Int(value) => with(&value.to_string()),
            ValueRef::Double(value) => with(&value.to_string()),
            ValueRef::Other(value) => with(&value.to_search_string()),
        }
    }
}

/// Whether any attribute named `key` equals `value` written as a string.
pub fn attributes_match(attributes: &[Attribute], key: &str, value: &str) -> bool {
    attributes
        .iter()
        .any(|attribute| attribute.key == key && attribute.value.matches_str(value))
}

fn attributes_bytes(attributes: &[Attribute]) -> usize {
    attributes
        .iter()
        .map(|attribute| {
            std::mem::size_of::<Attribute>() + attribute.key.len() + value_bytes(&attribute.value)
        })
        .sum()
}

/// Heap bytes of a value. Nesting is bounded by the decoders (prost's recursion
/// limit, serde_json's), so the recursion is too.
fn value_bytes(value: &AttrValue) -> usize {
    match value {
        AttrValue::Str(text) => text.len(),
        AttrValue::Bytes(bytes) => bytes.len(),
        AttrValue::Array(values) => values
            .iter()
            .map(|value| std::mem::size_of::<AttrValue>() + value_bytes(value))
            .sum(),
        AttrValue::KvList(attributes) => attributes_bytes(attributes),
        AttrValue::Bool(_) | AttrValue::Int(_) | AttrValue::Double(_) | AttrValue::Empty => 0,
    }
}
