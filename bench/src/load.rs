//! Closed-loop OTLP load: `concurrency` workers each send a request, wait for its
//! acknowledgement, and send the next, which is the highest rate the server sustains
//! without queueing on the client side.
//!
//! gRPC goes through tonic's generic client with a codec that writes pre-encoded
//! bytes (so the client never re-encodes; it only patches IDs and times), over
//! `--grpc-connections` HTTP/2 connections (one per worker by default). OTLP/HTTP goes through reqwest over HTTP/1.1 keep-alive
//! connections, one per worker, as OTLP/HTTP exporters do. Retryable refusals
//! (UNAVAILABLE / RESOURCE_EXHAUSTED, HTTP 429 / 502 / 503 / 504) are retried with
//! exponential backoff; everything else counts as a failed request. Every
//! acknowledged send is recorded so the spans can be counted back at the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::{BufMut as _, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse as OtlpExportResponse;
use prost::Message as _;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::Status;

use crate::generate::{unix_nanos_now, Encoding, Pool};

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// Attempts per request before it counts as failed.
const MAX_ATTEMPTS: u32 = 30;
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Longest a single export may take before the client gives up on it.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(60);
/// Error messages kept for the report (the first few are enough to diagnose).
const MAX_ERROR_SAMPLES: usize = 5;

/// The three OTLP transports issue 3 asks for, and the Zipkin and Jaeger collector
/// formats of issue 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Protocol {
    Grpc,
    HttpProtobuf,
    HttpJson,
    /// Zipkin v2 JSON, `POST /api/v2/spans` on the Zipkin port.
    ZipkinJson,
    /// Jaeger Thrift binary, `POST /api/traces` on the collector's HTTP port.
    JaegerThrift,
}

impl Protocol {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Protocol::Grpc => "OTLP/gRPC",
            Protocol::HttpProtobuf => "OTLP/HTTP protobuf",
            Protocol::HttpJson => "OTLP/HTTP JSON",
            Protocol::ZipkinJson => "Zipkin v2 JSON",
            Protocol::JaegerThrift => "Jaeger Thrift/HTTP",
        }
    }

    /// OTLP is what rotel takes; the others only Tracery.
    pub(crate) fn is_otlp(self) -> bool {
        matches!(
            self,
            Protocol::Grpc | Protocol::HttpProtobuf | Protocol::HttpJson
        )
    }

    pub(crate) fn encoding(self) -> Encoding {
        match self {
            Protocol::Grpc | Protocol::HttpProtobuf => Encoding::Protobuf,
            Protocol::HttpJson => Encoding::Json,
            Protocol::ZipkinJson => Encoding::ZipkinJson,
            Protocol::JaegerThrift => Encoding::JaegerThrift,
        }
    }
}

/// One acknowledged request: which template, and the first trace counter it used.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent {
    pub(crate) template: u32,
    pub(crate) trace_base: u64,
    /// The server rejected some spans (partial success), so the traces are incomplete.
    pub(crate) partial: bool,
}

/// The data shared by every phase: the pool and the run-wide counters that keep
/// every send's trace IDs distinct.
#[derive(Debug)]
pub(crate) struct Source {
    pub(crate) pool: Pool,
    next_request: AtomicU64,
    next_trace: AtomicU64,
}

impl Source {
    pub(crate) fn new(pool: Pool) -> Source {
        Source {
            pool,
            next_request: AtomicU64::new(0),
            next_trace: AtomicU64::new(0),
        }
    }

    /// The next request to send, as fresh data: (body, template index, trace base).
    pub(crate) fn next(&self, encoding: Encoding) -> anyhow::Result<(Bytes, u32, u64)> {
        let request = self.next_request.fetch_add(1, Ordering::Relaxed);
        // Round robin: a template comes back only after the whole pool, so two copies
        // of it never share a storage block (which would flatter compression).
        let index = (request % self.pool.templates.len() as u64) as usize;
        let template = &self.pool.templates[index];
        let trace_base = self
            .next_trace
            .fetch_add(template.trace_sizes.len() as u64, Ordering::Relaxed);
        let body = template.patch(encoding, self.pool.salt, trace_base, unix_nanos_now())?;
        Ok((Bytes::from(body), index as u32, trace_base))
    }
}

/// What an export attempt came to.
#[derive(Debug)]
pub(crate) enum Outcome {
    Accepted { rejected_spans: u64 },
    Retryable(String),
    Failed(String),
}

/// A connection (pool) to one server over one protocol.
#[derive(Debug, Clone)]
pub(crate) enum Exporter {
    Grpc(Vec<Channel>),
    Http {
        client: reqwest::Client,
        url: String,
        encoding: Encoding,
    },
}

impl Exporter {
    pub(crate) async fn connect(
        protocol: Protocol,
        server: &crate::server::Server,
        connections: usize,
        concurrency: usize,
    ) -> anyhow::Result<Exporter> {
        match protocol {
            Protocol::Grpc => {
                let connections = if connections == 0 {
                    concurrency.max(1)
                } else {
                    connections
                };
                let mut channels = Vec::with_capacity(connections);
                for _ in 0..connections {
                    let channel = tonic::transport::Endpoint::from_shared(format!(
                        "http://{}",
                        server.otlp_grpc
                    ))?
                    .tcp_nodelay(true)
                    .timeout(EXPORT_TIMEOUT)
                    .connect()
                    .await
                    .context("failed to connect to the OTLP/gRPC port")?;
                    channels.push(channel);
                }
                Ok(Exporter::Grpc(channels))
            }
            Protocol::HttpProtobuf
            | Protocol::HttpJson
            | Protocol::ZipkinJson
            | Protocol::JaegerThrift => Ok(Exporter::Http {
                client: reqwest::Client::builder()
                    // Jaeger Thrift posts up to one batch per service at once.
                    .pool_max_idle_per_host(concurrency.saturating_mul(8))
                    .tcp_nodelay(true)
                    .timeout(EXPORT_TIMEOUT)
                    .build()?,
                url: match protocol {
                    Protocol::ZipkinJson => format!(
                        "http://{}/api/v2/spans",
                        server.zipkin.context("the server has no Zipkin port")?
                    ),
                    Protocol::JaegerThrift => format!(
                        "http://{}/api/traces",
                        server
                            .jaeger_http
                            .context("the server has no Jaeger Thrift/HTTP port")?
                    ),
                    _ => format!("http://{}/v1/traces", server.otlp_http),
                },
                encoding: protocol.encoding(),
            }),
        }
    }

    /// One attempt; `worker` picks the gRPC connection.
    pub(crate) async fn export(&self, body: Bytes, worker: usize) -> Outcome {
        match self {
            Exporter::Grpc(channels) => {
                let mut grpc = tonic::client::Grpc::new(channels[worker % channels.len()].clone());
                if let Err(error) = grpc.ready().await {
                    return Outcome::Retryable(format!("gRPC channel not ready: {error}"));
                }
                let path = tonic::codegen::http::uri::PathAndQuery::from_static(EXPORT_PATH);
                match grpc
                    .unary(tonic::Request::new(body), path, PreEncodedCodec)
                    .await
                {
                    Ok(response) => Outcome::Accepted {
                        rejected_spans: response
                            .into_inner()
                            .partial_success
                            .map_or(0, |partial| partial.rejected_spans.max(0) as u64),
                    },
                    Err(status) => match status.code() {
                        tonic::Code::Unavailable | tonic::Code::ResourceExhausted => {
                            Outcome::Retryable(format!("{:?}: {}", status.code(), status.message()))
                        }
                        code => Outcome::Failed(format!("{code:?}: {}", status.message())),
                    },
                }
            }
            Exporter::Http {
                client,
                url,
                encoding,
            } => {
                let content_type = match encoding {
                    Encoding::Protobuf => "application/x-protobuf",
                    Encoding::Json | Encoding::ZipkinJson => "application/json",
                    Encoding::JaegerThrift => "application/x-thrift",
                };
                let response = match client
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(body)
                    .send()
                    .await
                {
                    Ok(response) => response,
                    Err(error) => {
                        return Outcome::Retryable(format!("HTTP request failed: {error}"))
                    }
                };
                let status = response.status();
                let bytes = match response.bytes().await {
                    Ok(bytes) => bytes,
                    Err(error) => return Outcome::Retryable(format!("HTTP body failed: {error}")),
                };
                if status.is_success() {
                    Outcome::Accepted {
                        rejected_spans: rejected_in_body(*encoding, &bytes),
                    }
                } else if matches!(status.as_u16(), 429 | 502 | 503 | 504) {
                    Outcome::Retryable(format!("HTTP {status}"))
                } else {
                    Outcome::Failed(format!(
                        "HTTP {status}: {}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                    ))
                }
            }
        }
    }
}

/// `partial_success.rejected_spans` of an OTLP/HTTP response body, 0 if absent.
fn rejected_in_body(encoding: Encoding, body: &[u8]) -> u64 {
    match encoding {
        Encoding::Protobuf => OtlpExportResponse::decode(body)
            .ok()
            .and_then(|response| response.partial_success)
            .map_or(0, |partial| partial.rejected_spans.max(0) as u64),
        // Zipkin and Jaeger answer 202 with no body: they have no partial success.
        Encoding::ZipkinJson | Encoding::JaegerThrift => 0,
        Encoding::Json => serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|value| {
                let rejected = value.get("partialSuccess")?.get("rejectedSpans")?.clone();
                match rejected {
                    serde_json::Value::String(text) => text.parse().ok(),
                    other => other.as_u64(),
                }
            })
            .unwrap_or(0),
    }
}

/// Live counters of a running load; read by the phase timer.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) acked_spans: AtomicU64,
    pub(crate) acked_requests: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) failed_requests: AtomicU64,
    pub(crate) rejected_spans: AtomicU64,
}

/// What a finished load hands back.
#[derive(Debug, Default)]
pub(crate) struct Finished {
    pub(crate) sent: Vec<Sent>,
    /// (completion time, export latency) of every acknowledged request.
    pub(crate) latencies: Vec<(Instant, Duration)>,
    pub(crate) error_samples: Vec<String>,
}

/// A load in progress.
#[derive(Debug)]
pub(crate) struct Load {
    pub(crate) counters: Arc<Counters>,
    stop: CancellationToken,
    workers: JoinSet<anyhow::Result<Finished>>,
}

impl Load {
    pub(crate) fn start(
        source: &Arc<Source>,
        exporter: &Exporter,
        encoding: Encoding,
        concurrency: usize,
    ) -> Load {
        let counters = Arc::new(Counters::default());
        let stop = CancellationToken::new();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let mut workers = JoinSet::new();
        for worker in 0..concurrency {
            let (source, exporter) = (Arc::clone(source), exporter.clone());
            let (counters, stop, errors) =
                (Arc::clone(&counters), stop.clone(), Arc::clone(&errors));
            workers.spawn(async move {
                run_worker(
                    worker, &source, &exporter, encoding, &counters, &stop, &errors,
                )
                .await
            });
        }
        Load {
            counters,
            stop,
            workers,
        }
    }

    /// Stops sending, waits for requests in flight, and collects what the workers saw.
    pub(crate) async fn finish(mut self) -> anyhow::Result<Finished> {
        self.stop.cancel();
        let mut finished = Finished::default();
        while let Some(joined) = self.workers.join_next().await {
            let part = joined.context("load worker panicked")??;
            finished.sent.extend(part.sent);
            finished.latencies.extend(part.latencies);
            for error in part.error_samples {
                if finished.error_samples.len() < MAX_ERROR_SAMPLES {
                    finished.error_samples.push(error);
                }
            }
        }
        Ok(finished)
    }
}

async fn run_worker(
    worker: usize,
    source: &Source,
    exporter: &Exporter,
    encoding: Encoding,
    counters: &Counters,
    stop: &CancellationToken,
    errors: &Mutex<Vec<String>>,
) -> anyhow::Result<Finished> {
    let mut finished = Finished::default();
    let note_error = |message: String, finished: &mut Finished| {
        let mut shared = errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if shared.len() < MAX_ERROR_SAMPLES {
            shared.push(message.clone());
            finished.error_samples.push(message);
        }
    };
    while !stop.is_cancelled() {
        let (body, template, trace_base) = source.next(encoding)?;
        let num_spans = source.pool.templates[template as usize].num_spans;
        // A request is one body, except for Jaeger Thrift: one `Batch` per service,
        // posted at once, as each service's own client would.
        let part_ends = source.pool.templates[template as usize].part_ends(encoding, body.len());
        let started = Instant::now();
        let mut part_start = 0;
        let sends = part_ends.into_iter().map(|part_end| {
            let part = body.slice(part_start..part_end);
            part_start = part_end;
            send_with_retries(exporter, part, worker, counters)
        });
        let (mut rejected_spans, mut failed) = (0, false);
        for (outcome, retried) in futures_util::future::join_all(sends).await {
            if let Some(message) = retried {
                note_error(format!("retried: {message}"), &mut finished);
            }
            match outcome {
                Ok(rejected) => rejected_spans += rejected,
                Err(message) => {
                    note_error(format!("failed: {message}"), &mut finished);
                    failed = true;
                }
            }
        }
        if failed {
            // Parts already accepted are stored, but the request's traces are not
            // whole, so none of its spans are expected back.
            counters.failed_requests.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let done = Instant::now();
        counters
            .acked_spans
            .fetch_add(num_spans - rejected_spans.min(num_spans), Ordering::Relaxed);
        counters.acked_requests.fetch_add(1, Ordering::Relaxed);
        if rejected_spans > 0 {
            counters
                .rejected_spans
                .fetch_add(rejected_spans, Ordering::Relaxed);
            note_error(
                format!("partial success: {rejected_spans} spans rejected"),
                &mut finished,
            );
        }
        finished.sent.push(Sent {
            template,
            trace_base,
            partial: rejected_spans > 0,
        });
        finished.latencies.push((done, done - started));
    }
    Ok(finished)
}

/// One body, retried with backoff while the server says so: the spans it rejected,
/// or why it failed; and the first retry's reason, if any.
async fn send_with_retries(
    exporter: &Exporter,
    body: Bytes,
    worker: usize,
    counters: &Counters,
) -> (Result<u64, String>, Option<String>) {
    let mut first_retry = None;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match exporter.export(body.clone(), worker).await {
            Outcome::Accepted { rejected_spans } => return (Ok(rejected_spans), first_retry),
            Outcome::Retryable(message) if attempt < MAX_ATTEMPTS => {
                counters.retries.fetch_add(1, Ordering::Relaxed);
                first_retry.get_or_insert(message);
                let backoff = FIRST_BACKOFF
                    .saturating_mul(1 << (attempt - 1).min(10))
                    .min(MAX_BACKOFF);
                tokio::time::sleep(backoff).await;
            }
            Outcome::Retryable(message) | Outcome::Failed(message) => {
                return (Err(message), first_retry)
            }
        }
    }
}

/// Writes already-encoded `ExportTraceServiceRequest` bytes and decodes the response.
#[derive(Debug, Clone, Copy, Default)]
struct PreEncodedCodec;

#[derive(Debug, Clone, Copy, Default)]
struct PreEncodedEncoder;

#[derive(Debug, Clone, Copy, Default)]
struct ResponseDecoder;

impl Codec for PreEncodedCodec {
    type Encode = Bytes;
    type Decode = OtlpExportResponse;
    type Encoder = PreEncodedEncoder;
    type Decoder = ResponseDecoder;

    fn encoder(&mut self) -> PreEncodedEncoder {
        PreEncodedEncoder
    }

    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

impl Encoder for PreEncodedEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for ResponseDecoder {
    type Item = OtlpExportResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<OtlpExportResponse>, Status> {
        OtlpExportResponse::decode(src)
            .map(Some)
            .map_err(|error| Status::internal(format!("undecodable export response: {error}")))
    }
}
