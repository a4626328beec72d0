//! The generated spans as Zipkin v2 JSON (`POST /api/v2/spans`), the way the
//! OpenTelemetry Zipkin exporters write them, with patch offsets for every send.
//!
//! Zipkin has no resource: a span carries its service as `localEndpoint.serviceName`,
//! and the other resource attributes are not sent (Zipkin senders have nowhere to put
//! them). Span attributes become string tags; the kind is `SERVER` / `CLIENT` (none
//! for internal spans); an error status is the `error` and `otel.status_code` tags;
//! the instrumentation scope is the `otel.scope.*` tags. IDs are lower-case hex and
//! the start time is 16 decimal digits of microseconds, both fixed width, so a patch
//! never moves a byte around it.

use std::collections::HashMap;

use anyhow::{bail, ensure, Context as _};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as OtlpExportRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as OtlpSpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatusCode;

use crate::wire::Patches;

/// Digits of a Unix-microsecond time between 2001 and 2286.
pub(crate) const MICROS_DIGITS: usize = 16;

/// The request as one Zipkin v2 JSON array, and where its patchable fields sit.
pub(crate) fn encode(
    request: &OtlpExportRequest,
    trace_index: &HashMap<[u8; 16], u32>,
) -> anyhow::Result<(Vec<u8>, Patches)> {
    let mut out: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut patches = Patches::default();
    out.push(b'[');
    let mut first = true;
    for resource_spans in &request.resource_spans {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|resource| {
                resource
                    .attributes
                    .iter()
                    .find(|attribute| attribute.key == "service.name")
            })
            .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
            .and_then(|value| match value {
                OtlpValue::StringValue(name) => Some(name.as_str()),
                _ => None,
            })
            .context("a resource without service.name")?;
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                if !first {
                    out.push(b',');
                }
                first = false;
                let trace_id: [u8; 16] = span.trace_id.as_slice().try_into()?;
                let position = trace_index.get(&trace_id).context("unknown trace ID")?;
                raw(&mut out, "{\"traceId\":\"");
                patches.trace_ids.push((out.len(), *position));
                raw(&mut out, &hex::encode(trace_id));
                raw(&mut out, "\",\"id\":\"");
                patches.span_ids.push(out.len());
                raw(&mut out, &hex::encode(&span.span_id));
                raw(&mut out, "\"");
                if !span.parent_span_id.is_empty() {
                    raw(&mut out, ",\"parentId\":\"");
                    patches.span_ids.push(out.len());
                    raw(&mut out, &hex::encode(&span.parent_span_id));
                    raw(&mut out, "\"");
                }
                raw(&mut out, ",\"name\":");
                serde_json::to_writer(&mut out, &span.name)?;
                match OtlpSpanKind::try_from(span.kind) {
                    Ok(OtlpSpanKind::Server) => raw(&mut out, ",\"kind\":\"SERVER\""),
                    Ok(OtlpSpanKind::Client) => raw(&mut out, ",\"kind\":\"CLIENT\""),
                    Ok(OtlpSpanKind::Producer) => raw(&mut out, ",\"kind\":\"PRODUCER\""),
                    Ok(OtlpSpanKind::Consumer) => raw(&mut out, ",\"kind\":\"CONSUMER\""),
                    _ => {}
                }
                let start_micros = span.start_time_unix_nano / 1000;
                let digits = start_micros.to_string();
                ensure!(
                    digits.len() == MICROS_DIGITS,
                    "time {start_micros} µs is not {MICROS_DIGITS} digits"
                );
                raw(&mut out, ",\"timestamp\":");
                patches.times.push(out.len());
                raw(&mut out, &digits);
                let duration_micros = (span
                    .end_time_unix_nano
                    .saturating_sub(span.start_time_unix_nano)
                    / 1000)
                    .max(1);
                raw(&mut out, &format!(",\"duration\":{duration_micros}"));
                raw(&mut out, ",\"localEndpoint\":{\"serviceName\":");
                serde_json::to_writer(&mut out, service)?;
                raw(&mut out, "},\"tags\":{");
                let mut first_tag = true;
                let mut tag = |out: &mut Vec<u8>, key: &str, value: &str| -> anyhow::Result<()> {
                    if !first_tag {
                        out.push(b',');
                    }
                    first_tag = false;
                    serde_json::to_writer(&mut *out, key)?;
                    out.push(b':');
                    serde_json::to_writer(&mut *out, value)?;
                    Ok(())
                };
                for attribute in &span.attributes {
                    let text = match attribute
                        .value
                        .as_ref()
                        .and_then(|value| value.value.as_ref())
                    {
                        Some(OtlpValue::StringValue(text)) => text.clone(),
                        Some(OtlpValue::IntValue(number)) => number.to_string(),
                        Some(OtlpValue::BoolValue(flag)) => flag.to_string(),
                        Some(OtlpValue::DoubleValue(number)) => number.to_string(),
                        _ => bail!("the generator makes only scalar attributes"),
                    };
                    tag(&mut out, &attribute.key, &text)?;
                }
                if let Some(scope) = &scope_spans.scope {
                    tag(&mut out, "otel.scope.name", &scope.name)?;
                    tag(&mut out, "otel.scope.version", &scope.version)?;
                }
                if let Some(status) = &span.status {
                    if status.code == OtlpStatusCode::Error as i32 {
                        tag(&mut out, "otel.status_code", "ERROR")?;
                        tag(&mut out, "error", &status.message)?;
                    }
                }
                raw(&mut out, "}}");
            }
        }
    }
    out.push(b']');
    Ok((out, patches))
}

fn raw(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
}
