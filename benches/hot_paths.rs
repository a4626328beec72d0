//! Criterion microbenchmarks of the ingest and read hot paths, on the same spans the
//! end-to-end benchmark sends (its generator is compiled in from `bench/src`).
//!
//! - `otlp/decode`: prost decode of one 100-span `ExportTraceServiceRequest`.
//! - `otlp/decode_convert`: decode plus `tracery::protocol::otlp::convert`.
//! - `collector/{zipkin_json,jaeger_thrift}_decode_convert`: the same spans as Zipkin
//!   v2 JSON and as Jaeger Thrift batches, decoded and converted.
//! - `store/write_block`: `Store::write_spans` of one block (catalog ids, encode,
//!   zstd, segment-file append), without the fsync, into a temporary store.
//! - `store/read_trace`: `Store::read_traces` of one trace of 10–30 spans from a store
//!   of 100 blocks (index lookup, one block read, summary and body decompression,
//!   decode of that trace).
//!
//! Run with `cargo bench --bench hot_paths`; throughput is reported in spans.

use std::hint::black_box;
use std::num::NonZeroUsize;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as OtlpExportRequest;
use prost::Message as _;
use tracery::config::StoreConfig;
use tracery::model::{Span, TraceId};
use tracery::protocol::otlp::convert;
use tracery::store::Store;

// The end-to-end benchmark's generator and wire helpers, shared so both measure the
// same spans. Parts only the benchmark binary uses are dead code here.
#[allow(dead_code)]
#[path = "../bench/src/generate.rs"]
mod generate;
#[allow(dead_code)]
#[path = "../bench/src/jaeger_thrift.rs"]
mod jaeger_thrift;
#[allow(dead_code)]
#[path = "../bench/src/wire.rs"]
mod wire;
#[allow(dead_code)]
#[path = "../bench/src/zipkin_json.rs"]
mod zipkin_json;

use generate::{unix_nanos_now, Encoding, Pool};

/// Spans per stored block, as the server's default `--max-batch-spans`.
const BLOCK_SPANS: usize = 8192;

/// Encoded requests of 100 spans with fresh IDs, and the same converted to spans.
fn requests(num_requests: usize) -> (Vec<Vec<u8>>, Vec<Span>) {
    let (pool, _) = Pool::generate(num_requests, 100, &[], 11).expect("generate the pool");
    let now = unix_nanos_now();
    let mut trace_base = 0;
    let mut encoded = Vec::with_capacity(num_requests);
    let mut spans = Vec::new();
    for template in &pool.templates {
        let bytes = template
            .patch(Encoding::Protobuf, pool.salt, trace_base, now)
            .expect("patch a template");
        trace_base += template.trace_sizes.len() as u64;
        let request = OtlpExportRequest::decode(bytes.as_slice()).expect("decode a template");
        spans.extend(convert(request).spans);
        encoded.push(bytes);
    }
    (encoded, spans)
}

fn temporary_store(dir: &tempfile::TempDir) -> Store {
    Store::open(&StoreConfig {
        data_dir: dir.path().to_path_buf(),
        cache_capacity_bytes: 64 << 20,
        max_block_spans: NonZeroUsize::new(BLOCK_SPANS).expect("non-zero block size"),
        zstd_level: 3,
        flush_every_ms: 500,
        max_disk_bytes: None,
        retention: None,
        red_metrics: true,
    })
    .expect("open a temporary store")
}

fn otlp(c: &mut Criterion) {
    let (encoded, _) = requests(1);
    let request = &encoded[0];
    let mut group = c.benchmark_group("otlp");
    group.throughput(Throughput::Elements(100));
    group.bench_function("decode", |b| {
        b.iter(|| OtlpExportRequest::decode(black_box(request.as_slice())).expect("decode"))
    });
    group.bench_function("decode_convert", |b| {
        b.iter(|| {
            let request = OtlpExportRequest::decode(black_box(request.as_slice())).expect("decode");
            convert(request)
        })
    });
    group.finish();
}

/// Decode plus convert of the same 100 spans as Zipkin v2 JSON and as Jaeger Thrift
/// (one `Batch` per service), for comparison with `otlp/decode_convert`.
fn collector_formats(c: &mut Criterion) {
    let (pool, _) = Pool::generate(1, 100, &[Encoding::ZipkinJson, Encoding::JaegerThrift], 11)
        .expect("generate the pool");
    let template = &pool.templates[0];
    let now = unix_nanos_now();
    let zipkin = template
        .patch(Encoding::ZipkinJson, pool.salt, 0, now)
        .expect("patch");
    let jaeger = template
        .patch(Encoding::JaegerThrift, pool.salt, 0, now)
        .expect("patch");
    let ends = template.part_ends(Encoding::JaegerThrift, jaeger.len());
    let mut group = c.benchmark_group("collector");
    group.throughput(Throughput::Elements(100));
    group.bench_function("zipkin_json_decode_convert", |b| {
        b.iter(|| {
            let spans = tracery::protocol::zipkin::decode_json_v2(black_box(&zipkin))
                .expect("decode Zipkin JSON");
            tracery::protocol::zipkin::convert(spans)
        })
    });
    group.bench_function("jaeger_thrift_decode_convert", |b| {
        b.iter(|| {
            let mut start = 0;
            let mut num_spans = 0;
            for end in &ends {
                let batch =
                    tracery::protocol::jaeger::decode_binary_batch(black_box(&jaeger[start..*end]))
                        .expect("decode a Thrift Batch");
                num_spans += tracery::protocol::jaeger::convert(batch).spans.len();
                start = *end;
            }
            num_spans
        })
    });
    group.finish();
}

fn store(c: &mut Criterion) {
    let (_, spans) = requests(BLOCK_SPANS / 100 + 1);
    let block: Vec<&Span> = spans.iter().take(BLOCK_SPANS).collect();
    let mut group = c.benchmark_group("store");
    group.sample_size(20);

    let dir = tempfile::tempdir().expect("temporary directory");
    let store = temporary_store(&dir);
    group.throughput(Throughput::Elements(BLOCK_SPANS as u64));
    group.bench_function("write_block", |b| {
        b.iter(|| store.write_spans(black_box(&block)).expect("write a block"))
    });

    // A store of 100 blocks, read one known trace at a time. `cargo test` runs each
    // bench once in a debug build (no `--bench`), where a few blocks show it works.
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = temporary_store(&dir);
    let num_blocks = if std::env::args().any(|arg| arg == "--bench") {
        100
    } else {
        4
    };
    let (_, many) = requests(num_blocks * BLOCK_SPANS / 100);
    for chunk in many.chunks(BLOCK_SPANS) {
        let refs: Vec<&Span> = chunk.iter().collect();
        store.write_spans(&refs).expect("fill the store");
    }
    let trace_ids: Vec<TraceId> = many.iter().step_by(997).map(|span| span.trace_id).collect();
    let mut next = 0;
    group.throughput(Throughput::Elements(1));
    group.bench_function("read_trace", |b| {
        b.iter_batched(
            || {
                next = (next + 1) % trace_ids.len();
                trace_ids[next]
            },
            |trace_id| store.read_traces(&[trace_id]).expect("read a trace"),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, otlp, collector_formats, store);
criterion_main!(benches);
