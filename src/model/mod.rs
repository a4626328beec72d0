//! Tracery's own span model: what the store keeps and the query side reads.
//!
//! Nothing here knows about OTLP, sled, serde or HTTP; `protocol` translates each
//! wire format into this model.

mod ids;
mod span;

pub use ids::{IdParseError, SpanId, TraceId};
pub use span::{
    any_attribute_in, attributes_match, AttrValue, Attribute, Event, Link, Resource, Scope, Span,
    SpanFields, SpanKind, StatusCode, ValueRef,
};
