//! Realistic OTLP trace data (reference/performance.md §3.1), pre-encoded once.
//!
//! The generator builds a pool of distinct `ExportTraceServiceRequest`s with the
//! opentelemetry-proto prost types: six services calling each other, trace trees of
//! 5–30 spans, HTTP server-style spans with ten attributes and resources with ten
//! attributes. Each request is encoded once as protobuf (and, if asked, as OTLP/JSON)
//! together with the byte offsets of every trace ID, span ID and timestamp in it.
//!
//! Sending the same bytes twice would store the same trace twice, so every send
//! patches the copy it sends (`Template::patch`): fresh trace IDs derived from a
//! run-wide counter (distinct by construction, see `trace_id_for`), span IDs XORed
//! with a per-send mask (which keeps parent links intact) and timestamps shifted to
//! now. Patching is a few hundred small writes per request, so the timed phases
//! measure the server rather than the generator. This module must not know about
//! transports.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context as _};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as OtlpExportRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as OtlpAnyValue, InstrumentationScope as OtlpScope, KeyValue as OtlpKeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as OtlpSpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatusCode;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans as OtlpResourceSpans, ScopeSpans as OtlpScopeSpans, Span as OtlpSpan,
    Status as OtlpStatus,
};
use prost::Message as _;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use crate::wire::{
    proto_patches, user_id_patches, user_id_placeholder, JsonWriter, Patches, TIME_DIGITS,
    USER_ID_PREFIX,
};
use crate::zipkin_json::MICROS_DIGITS;

/// Smallest and largest trace, in spans (issue 3).
pub(crate) const MIN_TRACE_SPANS: usize = 5;
pub(crate) const MAX_TRACE_SPANS: usize = 30;
/// Share of spans answered with HTTP 500, which the tag-filter search looks for.
const ERROR_RATE: f64 = 0.02;
/// Share of frontend requests by signed-out users: their root span's `user.id` is
/// `ANONYMOUS_USER`, the common value the benchmark searches for; every other trace's
/// root has a `user.id` of its own (the needle searches look for one of those).
const ANONYMOUS_RATE: f64 = 0.2;
pub(crate) const ANONYMOUS_USER: &str = "anonymous";
/// Instances (pods) per service; each request carries one instance of each service.
const INSTANCES_PER_SERVICE: usize = 3;

/// One simulated service: its routes and whom it calls.
#[derive(Debug)]
pub(crate) struct ServiceDef {
    pub(crate) name: &'static str,
    version: &'static str,
    language: &'static str,
    sdk_version: &'static str,
    scope: &'static str,
    /// The `User-Agent` of this service's outgoing calls.
    http_client: &'static str,
    /// (method, route); the span name is `"{method} {route}"`, as HTTP semconv says.
    routes: &'static [(&'static str, &'static str)],
    /// Indexes into `SERVICES` this service calls.
    downstream: &'static [usize],
}

impl ServiceDef {
    /// Span names (Jaeger operations) of this service.
    pub(crate) fn operations(&self) -> impl Iterator<Item = String> + '_ {
        self.routes
            .iter()
            .map(|(method, route)| format!("{method} {route}"))
    }
}

pub(crate) const SERVICES: [ServiceDef; 6] = [
    ServiceDef {
        name: "frontend",
        version: "2.14.1",
        language: "nodejs",
        http_client: "axios/1.7.9",
        sdk_version: "1.30.1",
        scope: "@opentelemetry/instrumentation-http",
        routes: &[
            ("GET", "/"),
            ("GET", "/product/{productId}"),
            ("GET", "/cart"),
            ("POST", "/cart/checkout"),
            ("GET", "/account/{userId}/orders"),
            ("GET", "/search"),
        ],
        downstream: &[1, 2, 4, 5],
    },
    ServiceDef {
        name: "cart",
        version: "1.8.0",
        language: "go",
        http_client: "Go-http-client/1.1",
        sdk_version: "1.34.0",
        scope: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
        routes: &[
            ("GET", "/api/carts/{cartId}"),
            ("POST", "/api/carts/{cartId}/items"),
            ("DELETE", "/api/carts/{cartId}/items/{itemId}"),
            ("PUT", "/api/carts/{cartId}"),
        ],
        downstream: &[4],
    },
    ServiceDef {
        name: "checkout",
        version: "3.2.7",
        language: "java",
        http_client: "Apache-HttpClient/5.3.1 (Java/21.0.5)",
        sdk_version: "1.46.0",
        scope: "io.opentelemetry.tomcat-10.0",
        routes: &[
            ("POST", "/api/checkout/{cartId}"),
            ("GET", "/api/orders/{orderId}"),
            ("POST", "/api/orders/{orderId}/confirm"),
        ],
        downstream: &[1, 3, 4, 5],
    },
    ServiceDef {
        name: "payment",
        version: "0.19.3",
        language: "python",
        http_client: "python-requests/2.32.3",
        sdk_version: "1.29.0",
        scope: "opentelemetry.instrumentation.flask",
        routes: &[
            ("POST", "/v1/payments"),
            ("GET", "/v1/payments/{paymentId}"),
            ("POST", "/v1/payments/{paymentId}/capture"),
            ("POST", "/v1/refunds"),
        ],
        downstream: &[5],
    },
    ServiceDef {
        name: "inventory",
        version: "5.0.2",
        language: "rust",
        http_client: "reqwest/0.12.9",
        sdk_version: "0.28.0",
        scope: "opentelemetry-http",
        routes: &[
            ("GET", "/stock/{sku}"),
            ("POST", "/stock/{sku}/reserve"),
            ("POST", "/stock/{sku}/release"),
            ("GET", "/warehouses/{warehouseId}/stock"),
        ],
        downstream: &[],
    },
    ServiceDef {
        name: "user",
        version: "4.4.0",
        language: "dotnet",
        http_client: "Microsoft.Extensions.Http/8.0.1",
        sdk_version: "1.10.0",
        scope: "OpenTelemetry.Instrumentation.AspNetCore",
        routes: &[
            ("GET", "/users/{userId}"),
            ("GET", "/users/{userId}/profile"),
            ("PUT", "/users/{userId}/preferences"),
            ("POST", "/sessions"),
            ("GET", "/sessions/{sessionId}"),
        ],
        downstream: &[],
    },
];

const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
];

/// One pre-encoded request and what is needed to send it again as new data.
#[derive(Debug)]
pub(crate) struct Template {
    proto: Vec<u8>,
    proto_patches: Patches,
    json: Option<(Vec<u8>, Patches)>,
    zipkin: Option<(Vec<u8>, Patches)>,
    /// The Thrift batches back to back, and where each ends.
    jaeger: Option<(Vec<u8>, Patches, Vec<usize>)>,
    /// Spans of each trace, in trace order; trace `k` of a send gets `trace_id_for(base + k)`.
    pub(crate) trace_sizes: Vec<u16>,
    /// Traces whose root has a unique `user.id` (`user_id_for(base + k)`), by index.
    pub(crate) user_traces: Vec<u32>,
    pub(crate) num_spans: u64,
    /// Unix nanos the template's timestamps are relative to.
    generated_unix_nanos: u64,
}

/// The encodings the load can be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// OTLP protobuf (gRPC and HTTP).
    Protobuf,
    /// OTLP/JSON.
    Json,
    /// Zipkin v2 JSON.
    ZipkinJson,
    /// Jaeger Thrift binary `Batch`es, one per service.
    JaegerThrift,
}

/// The pool of templates, plus the run-wide salt that makes trace IDs unique to this run.
#[derive(Debug)]
pub(crate) struct Pool {
    pub(crate) templates: Vec<Template>,
    pub(crate) salt: u64,
}

/// Figures about the generated data, for the report.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolStats {
    pub(crate) num_requests: usize,
    pub(crate) num_spans: u64,
    pub(crate) num_traces: u64,
    pub(crate) proto_bytes_per_span: f64,
    pub(crate) json_bytes_per_span: Option<f64>,
    pub(crate) zipkin_bytes_per_span: Option<f64>,
    pub(crate) jaeger_bytes_per_span: Option<f64>,
    pub(crate) span_message_bytes: f64,
    pub(crate) span_attributes: f64,
    pub(crate) resource_attributes: f64,
}

impl Pool {
    /// Generates `num_requests` distinct requests of `spans_per_request` spans each,
    /// encoded as protobuf and as each of `encodings`.
    pub(crate) fn generate(
        num_requests: usize,
        spans_per_request: usize,
        encodings: &[Encoding],
        seed: u64,
    ) -> anyhow::Result<(Pool, PoolStats)> {
        ensure!(
            spans_per_request >= MIN_TRACE_SPANS,
            "--spans-per-request must be at least {MIN_TRACE_SPANS}"
        );
        let mut rng = StdRng::seed_from_u64(seed);
        let now = unix_nanos_now();
        let mut templates = Vec::with_capacity(num_requests);
        let (mut span_bytes, mut span_attrs, mut resource_attrs, mut num_resources) =
            (0u64, 0u64, 0u64, 0u64);
        for _ in 0..num_requests {
            let (request, trace_ids) = generate_request(&mut rng, spans_per_request, now);
            for resource_spans in &request.resource_spans {
                num_resources += 1;
                resource_attrs += resource_spans
                    .resource
                    .as_ref()
                    .map_or(0, |resource| resource.attributes.len() as u64);
                for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
                    span_bytes += span.encoded_len() as u64;
                    span_attrs += span.attributes.len() as u64;
                }
            }
            templates.push(Template::encode(&request, &trace_ids, now, encodings)?);
        }
        let num_spans: u64 = templates.iter().map(|t| t.num_spans).sum();
        let proto_bytes: usize = templates.iter().map(|t| t.proto.len()).sum();
        let per_span = |encoding: Encoding| {
            encodings.contains(&encoding).then(|| {
                let bytes: usize = templates
                    .iter()
                    .map(|t| t.encoded(encoding).map_or(0, |(bytes, _)| bytes.len()))
                    .sum();
                bytes as f64 / num_spans as f64
            })
        };
        let stats = PoolStats {
            num_requests,
            num_spans,
            num_traces: templates.iter().map(|t| t.trace_sizes.len() as u64).sum(),
            proto_bytes_per_span: proto_bytes as f64 / num_spans as f64,
            json_bytes_per_span: per_span(Encoding::Json),
            zipkin_bytes_per_span: per_span(Encoding::ZipkinJson),
            jaeger_bytes_per_span: per_span(Encoding::JaegerThrift),
            span_message_bytes: span_bytes as f64 / num_spans as f64,
            span_attributes: span_attrs as f64 / num_spans as f64,
            resource_attributes: resource_attrs as f64 / num_resources.max(1) as f64,
        };
        // The pool is reproducible from the seed; trace IDs must not repeat across runs.
        let salt = rng.random::<u64>() ^ mix64(unix_nanos_now());
        Ok((Pool { templates, salt }, stats))
    }
}

impl Template {
    fn encode(
        request: &OtlpExportRequest,
        trace_ids: &[[u8; 16]],
        generated_unix_nanos: u64,
        encodings: &[Encoding],
    ) -> anyhow::Result<Template> {
        let index: HashMap<[u8; 16], u32> = trace_ids
            .iter()
            .enumerate()
            .map(|(position, id)| (*id, position as u32))
            .collect();
        ensure!(index.len() == trace_ids.len(), "template trace IDs collide");
        let mut trace_sizes = vec![0u16; trace_ids.len()];
        for span in all_spans(request) {
            let id: [u8; 16] = span.trace_id.as_slice().try_into()?;
            let position = index.get(&id).context("span of an unknown trace")?;
            trace_sizes[*position as usize] += 1;
        }
        let proto = request.encode_to_vec();
        let mut proto_patches = proto_patches(&proto, &index)?;
        proto_patches.user_ids = user_id_patches(&proto)?;
        let json = if encodings.contains(&Encoding::Json) {
            let mut writer = JsonWriter::default();
            writer.request(request, &index)?;
            writer.patches.user_ids = user_id_patches(&writer.out)?;
            Some((writer.out, writer.patches))
        } else {
            None
        };
        let zipkin = if encodings.contains(&Encoding::ZipkinJson) {
            let (bytes, mut patches) = crate::zipkin_json::encode(request, &index)?;
            patches.user_ids = user_id_patches(&bytes)?;
            Some((bytes, patches))
        } else {
            None
        };
        let jaeger = if encodings.contains(&Encoding::JaegerThrift) {
            let (bytes, mut patches, part_ends) = crate::jaeger_thrift::encode(request, &index)?;
            patches.user_ids = user_id_patches(&bytes)?;
            Some((bytes, patches, part_ends))
        } else {
            None
        };
        let mut user_traces: Vec<u32> = proto_patches
            .user_ids
            .iter()
            .map(|(_, position)| *position)
            .collect();
        user_traces.sort_unstable();
        let num_spans = trace_sizes.iter().map(|size| u64::from(*size)).sum();
        Ok(Template {
            proto,
            proto_patches,
            json,
            zipkin,
            jaeger,
            trace_sizes,
            user_traces,
            num_spans,
            generated_unix_nanos,
        })
    }

    /// A copy of the request as new data: trace `k` gets `trace_id_for(salt, trace_base + k)`,
    /// span IDs are XORed with a mask derived from `trace_base`, and times move so the
    /// template's generation instant becomes `now_unix_nanos`.
    pub(crate) fn patch(
        &self,
        encoding: Encoding,
        salt: u64,
        trace_base: u64,
        now_unix_nanos: u64,
    ) -> anyhow::Result<Vec<u8>> {
        let Some((bytes, patches)) = self.encoded(encoding) else {
            bail!("the pool was generated without {encoding:?}");
        };
        let mut out = bytes.to_vec();
        // The same bytes in both encodings: 16 lower-case hex digits.
        for &(offset, position) in &patches.user_ids {
            let id = user_id_digits(salt, trace_base + u64::from(position));
            out[offset..offset + 16].copy_from_slice(id.as_bytes());
        }
        let span_mask = mix64(trace_base ^ salt.rotate_left(29));
        let shift = now_unix_nanos.saturating_sub(self.generated_unix_nanos);
        match encoding {
            Encoding::Protobuf => {
                for &(offset, position) in &patches.trace_ids {
                    out[offset..offset + 16]
                        .copy_from_slice(&trace_id_for(salt, trace_base + u64::from(position)));
                }
                for &offset in &patches.span_ids {
                    let id = u64::from_be_bytes(out[offset..offset + 8].try_into()?);
                    out[offset..offset + 8].copy_from_slice(&(id ^ span_mask).to_be_bytes());
                }
                for &offset in &patches.times {
                    let time = u64::from_le_bytes(out[offset..offset + 8].try_into()?);
                    out[offset..offset + 8].copy_from_slice(&(time + shift).to_le_bytes());
                }
            }
            Encoding::JaegerThrift => {
                for &(high, low, position) in &patches.trace_id_halves {
                    let id = trace_id_for(salt, trace_base + u64::from(position));
                    out[high..high + 8].copy_from_slice(&id[..8]);
                    out[low..low + 8].copy_from_slice(&id[8..]);
                }
                for &offset in &patches.span_ids {
                    let id = u64::from_be_bytes(out[offset..offset + 8].try_into()?);
                    out[offset..offset + 8].copy_from_slice(&(id ^ span_mask).to_be_bytes());
                }
                for &offset in &patches.times {
                    let micros = u64::from_be_bytes(out[offset..offset + 8].try_into()?);
                    out[offset..offset + 8].copy_from_slice(&(micros + shift / 1000).to_be_bytes());
                }
            }
            Encoding::Json | Encoding::ZipkinJson => {
                for &(offset, position) in &patches.trace_ids {
                    let id = trace_id_for(salt, trace_base + u64::from(position));
                    hex::encode_to_slice(id, &mut out[offset..offset + 32])?;
                }
                for &offset in &patches.span_ids {
                    let mut id = [0u8; 8];
                    hex::decode_to_slice(&out[offset..offset + 16], &mut id)?;
                    let id = u64::from_be_bytes(id) ^ span_mask;
                    hex::encode_to_slice(id.to_be_bytes(), &mut out[offset..offset + 16])?;
                }
                // OTLP/JSON times are nanoseconds, Zipkin's microseconds.
                let (width, shift) = if encoding == Encoding::Json {
                    (TIME_DIGITS, shift)
                } else {
                    (MICROS_DIGITS, shift / 1000)
                };
                for &offset in &patches.times {
                    let digits = &mut out[offset..offset + width];
                    let time: u64 = std::str::from_utf8(digits)?.parse()?;
                    let shifted = format!("{:0width$}", time + shift);
                    ensure!(shifted.len() == width, "timestamp outgrew its digits");
                    digits.copy_from_slice(shifted.as_bytes());
                }
            }
        }
        Ok(out)
    }

    /// The encoded request and its patches, if the pool was generated with `encoding`.
    fn encoded(&self, encoding: Encoding) -> Option<(&[u8], &Patches)> {
        match encoding {
            Encoding::Protobuf => Some((&self.proto, &self.proto_patches)),
            Encoding::Json => self.json.as_ref().map(|(bytes, p)| (&bytes[..], p)),
            Encoding::ZipkinJson => self.zipkin.as_ref().map(|(bytes, p)| (&bytes[..], p)),
            Encoding::JaegerThrift => self.jaeger.as_ref().map(|(bytes, p, _)| (&bytes[..], p)),
        }
    }

    /// Where each separately sent part of a request ends: one part for every
    /// encoding but Jaeger Thrift, which sends one `Batch` per service.
    pub(crate) fn part_ends(&self, encoding: Encoding, len: usize) -> Vec<usize> {
        match (&self.jaeger, encoding) {
            (Some((_, _, ends)), Encoding::JaegerThrift) => ends.clone(),
            _ => vec![len],
        }
    }
}

/// The trace ID of the run's `counter`-th trace.
///
/// The low half is a bijection of the counter (`mix64` is invertible and XOR with a
/// constant is too), so no two counters of a run share an ID; the salt makes runs
/// differ, and the high half makes the whole ID look random, as real IDs do.
pub(crate) fn trace_id_for(salt: u64, counter: u64) -> [u8; 16] {
    let low = mix64(counter) ^ salt;
    let high = mix64(low ^ 0x243f_6a88_85a3_08d3);
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&high.to_be_bytes());
    id[8..].copy_from_slice(&low.to_be_bytes());
    id
}

/// The `user.id` of the run's `counter`-th trace, when its root has one of its own:
/// unique per trace (a bijection of the counter), so each is a needle.
pub(crate) fn user_id_for(salt: u64, counter: u64) -> String {
    format!("{USER_ID_PREFIX}{}", user_id_digits(salt, counter))
}

fn user_id_digits(salt: u64, counter: u64) -> String {
    format!("{:016x}", mix64(counter ^ salt.rotate_left(17)))
}

/// splitmix64's finaliser: a bijection on u64 with good avalanche.
fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

pub(crate) fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

fn all_spans(request: &OtlpExportRequest) -> impl Iterator<Item = &OtlpSpan> {
    request
        .resource_spans
        .iter()
        .flat_map(|resource_spans| &resource_spans.scope_spans)
        .flat_map(|scope_spans| &scope_spans.spans)
}

/// A span before it becomes protobuf; `parent` indexes the trace's span list.
#[derive(Debug, Clone, Copy)]
struct GenSpan {
    service: usize,
    /// The service whose call this span serves; `None` for the browser.
    caller: Option<usize>,
    route: usize,
    parent: Option<usize>,
    span_id: [u8; 8],
    start: u64,
    end: u64,
    kind: OtlpSpanKind,
}

/// One request: whole traces (a trace never straddles requests, so patching a send
/// keeps every trace consistent) whose sizes add up to exactly `num_spans`.
fn generate_request(
    rng: &mut StdRng,
    num_spans: usize,
    now: u64,
) -> (OtlpExportRequest, Vec<[u8; 16]>) {
    let instances: Vec<usize> = (0..SERVICES.len())
        .map(|_| rng.random_range(0..INSTANCES_PER_SERVICE))
        .collect();
    let mut by_service: Vec<Vec<OtlpSpan>> = (0..SERVICES.len()).map(|_| Vec::new()).collect();
    let mut trace_ids = Vec::new();
    let mut remaining = num_spans;
    while remaining > 0 {
        // Keep every trace within 5–30 spans and land exactly on `num_spans`.
        let size = if remaining <= MAX_TRACE_SPANS {
            remaining
        } else {
            rng.random_range(MIN_TRACE_SPANS..=MAX_TRACE_SPANS.min(remaining - MIN_TRACE_SPANS))
        };
        remaining -= size;
        let trace_id: [u8; 16] = rng.random();
        trace_ids.push(trace_id);
        // The request covers about one second of traffic that ended just now.
        let root_start = now - rng.random_range(50_000_000..1_000_000_000u64);
        let spans = generate_trace(rng, size, root_start);
        let user_id = if rng.random_bool(ANONYMOUS_RATE) {
            ANONYMOUS_USER.to_owned()
        } else {
            format!(
                "{USER_ID_PREFIX}{}",
                user_id_placeholder(trace_ids.len() as u32 - 1)
            )
        };
        for span in &spans {
            let parent_id = span.parent.map(|parent| spans[parent].span_id);
            let mut otlp = otlp_span(rng, span, trace_id, parent_id);
            if span.parent.is_none() {
                otlp.attributes.push(string_attr("user.id", &user_id));
            }
            by_service[span.service].push(otlp);
        }
    }
    let resource_spans = by_service
        .into_iter()
        .enumerate()
        .filter(|(_, spans)| !spans.is_empty())
        .map(|(service, spans)| OtlpResourceSpans {
            resource: Some(resource(service, instances[service])),
            scope_spans: vec![OtlpScopeSpans {
                scope: Some(OtlpScope {
                    name: SERVICES[service].scope.to_owned(),
                    version: SERVICES[service].sdk_version.to_owned(),
                    ..Default::default()
                }),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.27.0".to_owned(),
            }],
            schema_url: String::new(),
        })
        .collect();
    (OtlpExportRequest { resource_spans }, trace_ids)
}

/// A tree: the root is a frontend request; every further span hangs off a random
/// earlier one and is either a call into one of its service's downstream services
/// or work inside the same service. Children start and end within their parent.
fn generate_trace(rng: &mut StdRng, size: usize, root_start: u64) -> Vec<GenSpan> {
    // Log-uniform root duration between 2 ms and 800 ms.
    let root_duration = (rng.random_range((2e6f64).ln()..(8e8f64).ln())).exp() as u64;
    let mut spans = vec![GenSpan {
        service: 0,
        caller: None,
        route: rng.random_range(0..SERVICES[0].routes.len()),
        parent: None,
        span_id: random_span_id(rng),
        start: root_start,
        end: root_start + root_duration,
        kind: OtlpSpanKind::Server,
    }];
    while spans.len() < size {
        let parent = rng.random_range(0..spans.len());
        let (parent_service, parent_start, parent_end) = {
            let parent = &spans[parent];
            (parent.service, parent.start, parent.end)
        };
        let downstream = SERVICES[parent_service].downstream;
        let (service, kind) = if !downstream.is_empty() && rng.random_bool(0.7) {
            (
                downstream[rng.random_range(0..downstream.len())],
                OtlpSpanKind::Server,
            )
        } else if rng.random_bool(0.5) {
            (parent_service, OtlpSpanKind::Client)
        } else {
            (parent_service, OtlpSpanKind::Internal)
        };
        let parent_duration = (parent_end - parent_start).max(2);
        let start = parent_start + rng.random_range(0..parent_duration / 2);
        let end = start + rng.random_range(1..=(parent_end - start).max(1));
        spans.push(GenSpan {
            service,
            caller: Some(parent_service),
            route: rng.random_range(0..SERVICES[service].routes.len()),
            parent: Some(parent),
            span_id: random_span_id(rng),
            start,
            end,
            kind,
        });
    }
    spans
}

fn random_span_id(rng: &mut StdRng) -> [u8; 8] {
    loop {
        let id: [u8; 8] = rng.random();
        if id != [0; 8] {
            return id;
        }
    }
}

fn otlp_span(
    rng: &mut StdRng,
    span: &GenSpan,
    trace_id: [u8; 16],
    parent_id: Option<[u8; 8]>,
) -> OtlpSpan {
    let service = &SERVICES[span.service];
    let (method, route) = service.routes[span.route];
    let status_code: i64 = if rng.random_bool(ERROR_RATE) {
        500
    } else {
        match rng.random_range(0..100) {
            0..3 => 404,
            3..8 if method == "POST" => 201,
            _ => 200,
        }
    };
    let path = fill_route(rng, route);
    let client_address = format!(
        "10.{}.{}.{}",
        rng.random_range(0..=255),
        rng.random_range(0..=255),
        rng.random_range(1..=254)
    );
    // The user agent is the caller's: browsers call the frontend, and each service
    // calls the next with its language's usual HTTP client.
    let user_agent = match span.caller {
        None => USER_AGENTS[rng.random_range(0..USER_AGENTS.len())],
        Some(caller) => SERVICES[caller].http_client,
    };
    let attributes = vec![
        string_attr("http.request.method", method),
        string_attr("url.path", &path),
        string_attr(
            "url.scheme",
            if span.service == 0 { "https" } else { "http" },
        ),
        string_attr("http.route", route),
        int_attr("http.response.status_code", status_code),
        string_attr(
            "server.address",
            &format!("{}.shop.svc.cluster.local", service.name),
        ),
        int_attr("server.port", 8080),
        string_attr(
            "network.protocol.version",
            if span.service == 0 { "2" } else { "1.1" },
        ),
        string_attr("client.address", &client_address),
        string_attr("user_agent.original", user_agent),
    ];
    let status = (status_code >= 500).then(|| OtlpStatus {
        message: "Internal Server Error".to_owned(),
        code: OtlpStatusCode::Error as i32,
    });
    OtlpSpan {
        trace_id: trace_id.to_vec(),
        span_id: span.span_id.to_vec(),
        parent_span_id: parent_id.map_or_else(Vec::new, |id| id.to_vec()),
        name: format!("{method} {route}"),
        kind: span.kind as i32,
        start_time_unix_nano: span.start,
        end_time_unix_nano: span.end,
        attributes,
        status,
        flags: 0x100 | 0x1, // has-is-remote known, sampled
        ..Default::default()
    }
}

fn fill_route(rng: &mut StdRng, route: &str) -> String {
    let mut path = String::with_capacity(route.len() + 16);
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .map_or(rest.len(), |close| open + close);
        let name = &rest[open + 1..close];
        if matches!(
            name,
            "cartId" | "orderId" | "paymentId" | "sessionId" | "userId" | "itemId"
        ) {
            path.push_str(&uuid_v4(rng));
        } else if name.ends_with("Id") {
            path.push_str(&rng.random_range(10_000..100_000_000u64).to_string());
        } else {
            path.push_str(&format!("SKU-{:06X}", rng.random_range(0..0xFF_FFFFu32)));
        }
        rest = &rest[(close + 1).min(rest.len())..];
    }
    path.push_str(rest);
    path
}

/// A random (version 4) UUID, as many APIs use for resource IDs.
fn uuid_v4(rng: &mut StdRng) -> String {
    let bytes: [u8; 16] = rng.random();
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-4{}-{:x}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        8 + (bytes[8] & 3),
        &hex[17..20],
        &hex[20..32]
    )
}

fn resource(service: usize, instance: usize) -> OtlpResource {
    let def = &SERVICES[service];
    let pod_hash = mix64((service * 31 + instance) as u64);
    let pod = format!(
        "{}-{:08x}-{:05x}",
        def.name,
        pod_hash as u32,
        (pod_hash >> 40) & 0xf_ffff
    );
    OtlpResource {
        attributes: vec![
            string_attr("service.name", def.name),
            string_attr("service.version", def.version),
            string_attr("host.name", &format!("node-{}", (pod_hash >> 8) % 12)),
            string_attr("os.type", "linux"),
            int_attr("process.pid", 1 + (pod_hash % 32_000) as i64),
            string_attr("telemetry.sdk.name", "opentelemetry"),
            string_attr("telemetry.sdk.language", def.language),
            string_attr("telemetry.sdk.version", def.sdk_version),
            string_attr("deployment.environment.name", "production"),
            string_attr("k8s.pod.name", &pod),
        ],
        ..Default::default()
    }
}

fn string_attr(key: &str, value: &str) -> OtlpKeyValue {
    OtlpKeyValue {
        key: key.to_owned(),
        value: Some(OtlpAnyValue {
            value: Some(OtlpValue::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

fn int_attr(key: &str, value: i64) -> OtlpKeyValue {
    OtlpKeyValue {
        key: key.to_owned(),
        value: Some(OtlpAnyValue {
            value: Some(OtlpValue::IntValue(value)),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    // Paths instead of `use`: benches/hot_paths.rs compiles this file in too, where
    // the tests are stripped and imports would be unused.

    #[test]
    fn patched_requests_are_fresh_consistent_traces() {
        let (pool, stats) = super::Pool::generate(
            4,
            100,
            &[
                super::Encoding::Json,
                super::Encoding::ZipkinJson,
                super::Encoding::JaegerThrift,
            ],
            7,
        )
        .expect("generate");
        assert_eq!(stats.num_spans, 400);
        assert!((380.0..620.0).contains(&stats.proto_bytes_per_span));
        let template = &pool.templates[1];
        assert!(template
            .trace_sizes
            .iter()
            .all(|size| (5..=30).contains(&usize::from(*size))));
        let now = super::unix_nanos_now() + 5_000_000_000;
        let proto = template
            .patch(super::Encoding::Protobuf, pool.salt, 1000, now)
            .expect("patch");
        let request =
            <super::OtlpExportRequest as prost::Message>::decode(proto.as_slice()).expect("decode");
        let spans: Vec<&super::OtlpSpan> = super::all_spans(&request).collect();
        assert_eq!(spans.len(), 100);
        for (position, size) in template.trace_sizes.iter().enumerate() {
            let trace_id = super::trace_id_for(pool.salt, 1000 + position as u64);
            let trace: Vec<&&super::OtlpSpan> =
                spans.iter().filter(|s| s.trace_id == trace_id).collect();
            assert_eq!(trace.len(), usize::from(*size));
            let ids: std::collections::HashSet<&[u8]> =
                trace.iter().map(|s| s.span_id.as_slice()).collect();
            assert_eq!(ids.len(), trace.len(), "span IDs are unique within a trace");
            let roots = trace.iter().filter(|s| s.parent_span_id.is_empty()).count();
            assert_eq!(roots, 1);
            assert!(trace
                .iter()
                .filter(|s| !s.parent_span_id.is_empty())
                .all(|s| ids.contains(s.parent_span_id.as_slice())));
        }
        assert!(
            spans
                .iter()
                .all(|s| s.start_time_unix_nano > now - 2_000_000_000
                    && s.start_time_unix_nano <= now)
        );

        let json = template
            .patch(super::Encoding::Json, pool.salt, 1000, now)
            .expect("patch json");
        let value: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
        let json_spans: Vec<&serde_json::Value> = value["resourceSpans"]
            .as_array()
            .expect("resourceSpans")
            .iter()
            .flat_map(|rs| rs["scopeSpans"].as_array().expect("scopeSpans"))
            .flat_map(|ss| ss["spans"].as_array().expect("spans"))
            .collect();
        assert_eq!(json_spans.len(), spans.len());
        for (json_span, span) in json_spans.iter().zip(&spans) {
            assert_eq!(json_span["traceId"], hex::encode(&span.trace_id));
            assert_eq!(json_span["spanId"], hex::encode(&span.span_id));
            assert_eq!(
                json_span["startTimeUnixNano"],
                span.start_time_unix_nano.to_string()
            );
        }
    }

    /// Zipkin v2 JSON and Jaeger Thrift carry the same spans as the OTLP protobuf
    /// request, fresh IDs and moved times included, as the server decodes them.
    #[test]
    fn zipkin_and_jaeger_encodings_decode_to_the_same_spans() {
        use std::collections::HashMap;
        use tracery::model::{Span, SpanKind, StatusCode};

        let (pool, stats) = super::Pool::generate(
            3,
            100,
            &[super::Encoding::ZipkinJson, super::Encoding::JaegerThrift],
            5,
        )
        .expect("generate");
        assert!(stats.zipkin_bytes_per_span.is_some() && stats.jaeger_bytes_per_span.is_some());
        let template = &pool.templates[2];
        let now = super::unix_nanos_now() + 7_000_000_000;
        let patch = |encoding| {
            template
                .patch(encoding, pool.salt, 500, now)
                .expect("patch")
        };
        let proto = patch(super::Encoding::Protobuf);
        let request =
            <super::OtlpExportRequest as prost::Message>::decode(proto.as_slice()).expect("decode");
        let expected = tracery::protocol::otlp::convert(request).spans;
        assert_eq!(expected.len(), 100);
        let fresh: std::collections::HashSet<[u8; 16]> = (0..template.trace_sizes.len() as u64)
            .map(|position| super::trace_id_for(pool.salt, 500 + position))
            .collect();
        assert!(expected.iter().all(|span| fresh.contains(&span.trace_id.0)));

        let zipkin = patch(super::Encoding::ZipkinJson);
        let zipkin = tracery::protocol::zipkin::convert(
            tracery::protocol::zipkin::decode_json_v2(&zipkin).expect("valid Zipkin JSON"),
        );
        assert_eq!(zipkin.num_rejected, 0);

        let jaeger = patch(super::Encoding::JaegerThrift);
        let ends = template.part_ends(super::Encoding::JaegerThrift, jaeger.len());
        assert!(ends.len() > 1, "one batch per service");
        let mut jaeger_spans = Vec::new();
        let mut start = 0;
        for end in ends {
            let batch = tracery::protocol::jaeger::decode_binary_batch(&jaeger[start..end])
                .expect("valid Thrift Batch");
            let converted = tracery::protocol::jaeger::convert(batch);
            assert_eq!(converted.num_rejected, 0);
            jaeger_spans.extend(converted.spans);
            start = end;
        }
        assert_eq!(start, jaeger.len());

        for (label, spans, with_resource) in [
            ("zipkin", zipkin.spans, false),
            ("jaeger", jaeger_spans, true),
        ] {
            assert_eq!(spans.len(), expected.len(), "{label}");
            let by_id: HashMap<_, &Span> = spans
                .iter()
                .map(|span| ((span.trace_id, span.span_id), span))
                .collect();
            for want in &expected {
                let got = by_id
                    .get(&(want.trace_id, want.span_id))
                    .unwrap_or_else(|| panic!("{label}: span {} missing", want.span_id.to_hex()));
                assert_eq!(got.parent_span_id, want.parent_span_id, "{label}");
                assert_eq!(got.name, want.name, "{label}");
                assert_eq!(got.service_name(), want.service_name(), "{label}");
                // Microseconds, shifted by whole microseconds: within 2 µs of the original.
                assert!(
                    got.start_unix_nanos.abs_diff(want.start_unix_nanos) < 2_000,
                    "{label}: start time"
                );
                assert!(
                    // Start and duration each lose up to 1 µs, the shift 1 µs more.
                    got.end_unix_nanos.abs_diff(want.end_unix_nanos) < 4_000,
                    "{label}: end time"
                );
                assert_eq!(got.status_code, want.status_code, "{label}");
                if want.kind != SpanKind::Internal {
                    assert_eq!(got.kind, want.kind, "{label}");
                }
                for attribute in &want.attributes {
                    let found = got
                        .attributes
                        .iter()
                        .find(|candidate| candidate.key == attribute.key)
                        .unwrap_or_else(|| panic!("{label}: no {}", attribute.key));
                    assert_eq!(
                        found.value.to_search_string(),
                        attribute.value.to_search_string(),
                        "{label}: {}",
                        attribute.key
                    );
                }
                if with_resource {
                    assert_eq!(got.resource.attributes, want.resource.attributes, "{label}");
                }
            }
            assert!(
                spans
                    .iter()
                    .any(|span| span.status_code == StatusCode::Error)
                    == expected
                        .iter()
                        .any(|span| span.status_code == StatusCode::Error),
                "{label}: error statuses"
            );
        }
    }

    #[test]
    fn trace_ids_of_distinct_counters_differ() {
        let ids: std::collections::HashSet<[u8; 16]> = (0..100_000)
            .map(|counter| super::trace_id_for(42, counter))
            .collect();
        assert_eq!(ids.len(), 100_000);
    }
}
