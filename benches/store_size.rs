//! Disk bytes per span of the end-to-end benchmark's spans (its generator is compiled
//! in from `bench/src`), split into block bodies, summary frames, term filters and
//! sled, for stores written in blocks of a few sizes (issue 10).
//!
//! Group commit makes a block of whatever arrived during the previous write and
//! fsync: about 2,900 spans at 64 exporters in the benchmark, a few hundred at 8
//! (which compaction then merges). Each size gets a fresh store in a temporary
//! directory: spans are written in blocks of that size, synced, compacted as the
//! server does, and measured after a reopen.
//!
//! ```text
//! cargo bench --bench store_size -- spans=3M blocks=500,2900,8192 level=3
//! ```

use std::num::NonZeroUsize;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::time::Instant;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as OtlpExportRequest;
use prost::Message as _;
use tracery::config::StoreConfig;
use tracery::model::Span;
use tracery::protocol::otlp::convert;
use tracery::store::Store;

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

/// The server's default `--max-batch-spans`, the largest block.
const MAX_BLOCK_SPANS: usize = 8192;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` (CI) runs this
    // without it, and then only a small smoke run is due.
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let mut num_spans: u64 = if benchmarking { 3_000_000 } else { 20_000 };
    let mut block_sizes = if benchmarking {
        vec![500, 2_900, 8_192]
    } else {
        vec![2_900]
    };
    let mut zstd_level = 3;
    for arg in std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
    {
        match arg.split_once('=') {
            Some(("spans", value)) => num_spans = parse_count(value),
            Some(("blocks", value)) => {
                block_sizes = value
                    .split(',')
                    .map(|size| size.parse().expect("blocks=N,N,…"))
                    .collect();
            }
            Some(("level", value)) => zstd_level = value.parse().expect("level=N"),
            _ => panic!("unknown argument {arg}; expected spans=, blocks= or level="),
        }
    }
    let (pool, _) = Pool::generate(512, 100, &[], 3).expect("generate the pool");
    println!(
        "| spans per written block | spans | blocks | body B/span | summary B/span | filter B/span | sled B/span | allocated B/span | write s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for block_spans in block_sizes {
        measure(&pool, num_spans, block_spans, zstd_level);
    }
}

fn measure(pool: &Pool, num_spans: u64, block_spans: usize, zstd_level: i32) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = StoreConfig {
        data_dir: dir.path().to_path_buf(),
        cache_capacity_bytes: 64 << 20,
        max_block_spans: NonZeroUsize::new(MAX_BLOCK_SPANS).expect("non-zero"),
        zstd_level,
        flush_every_ms: 500,
        max_disk_bytes: None,
        retention: None,
        red_metrics: true,
    };
    let store = Store::open(&config).expect("open the store");
    let started = Instant::now();
    let now = unix_nanos_now();
    let (mut written, mut trace_base) = (0u64, 0u64);
    let mut pending: Vec<Span> = Vec::with_capacity(block_spans + 100);
    'fill: loop {
        for template in &pool.templates {
            let bytes = template
                .patch(Encoding::Protobuf, pool.salt, trace_base, now)
                .expect("patch a template");
            trace_base += template.trace_sizes.len() as u64;
            let request = OtlpExportRequest::decode(bytes.as_slice()).expect("decode");
            pending.extend(convert(request).spans);
            if pending.len() >= block_spans {
                let refs: Vec<&Span> = pending.iter().collect();
                store.write_spans(&refs).expect("write a block");
                written += pending.len() as u64;
                pending.clear();
                if written >= num_spans {
                    break 'fill;
                }
            }
        }
    }
    store.sync().expect("sync");
    // Compaction merges in rounds and frees replaced blocks one round later.
    while store.compact_small_blocks().expect("compact") > 0 {}
    store.compact_small_blocks().expect("free the last round");
    store.sync().expect("sync");
    let write_secs = started.elapsed().as_secs_f64();
    drop(store);
    let store = Store::open(&config).expect("reopen the store");
    let stats = store.stats();
    drop(store);
    let spans = stats.num_spans as f64;
    let body = stats.block_bytes - stats.summary_bytes - stats.filter_bytes;
    let sled = allocated(&dir.path().join("sled"));
    let total = allocated(dir.path());
    println!(
        "| {block_spans} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {write_secs:.1} |",
        stats.num_spans,
        stats.num_blocks,
        body as f64 / spans,
        stats.summary_bytes as f64 / spans,
        stats.filter_bytes as f64 / spans,
        sled as f64 / spans,
        total as f64 / spans,
    );
}

/// Bytes allocated on disk under `path`, as `du` counts them.
fn allocated(path: &Path) -> u64 {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if metadata.is_dir() {
        std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| allocated(&entry.path()))
                    .sum()
            })
            .unwrap_or(0)
    } else {
        metadata.blocks() * 512
    }
}

fn parse_count(text: &str) -> u64 {
    let (digits, factor) = match text.strip_suffix(['M', 'm']) {
        Some(digits) => (digits, 1_000_000),
        None => match text.strip_suffix(['K', 'k']) {
            Some(digits) => (digits, 1_000),
            None => (text, 1),
        },
    };
    digits.parse::<u64>().expect("a count such as 3M") * factor
}
