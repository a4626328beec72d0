//! Everything measured through the Jaeger query API: ack → queryable latency,
//! query latencies, and the final count-back of every acknowledged span.
//!
//! Latencies are taken one request at a time (no concurrent queries), from sending
//! the request to having read the whole body, after a short unrecorded warm-up, so
//! they describe a warm server answering one user.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use futures_util::{stream, StreamExt as _};
use rand::rngs::StdRng;
use rand::Rng as _;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::generate::{trace_id_for, Encoding, SERVICES};
use crate::load::{Exporter, Outcome, Sent, Source};
use crate::measure::percentile;

/// get-trace is measured on traces of at least this many spans (issue 3: 10–50).
pub(crate) const MIN_GET_TRACE_SPANS: u16 = 10;
/// Unrecorded requests before each latency series.
const WARMUP_QUERIES: usize = 10;
/// Longest the freshness probe polls for one trace.
const FRESHNESS_TIMEOUT: Duration = Duration::from_secs(30);
/// Trace IDs per `/api/traces?traceID=…` request during the count-back.
const VERIFY_BATCH: usize = 100;
/// Count-back requests in flight at once.
const VERIFY_CONCURRENCY: usize = 2;
/// Search results asked for, as the Jaeger UI does by default.
const SEARCH_LIMIT: usize = 20;

/// Latency figures of one query type.
#[derive(Debug, Clone)]
pub(crate) struct LatencyStats {
    pub(crate) samples: usize,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
    /// Requests that did not answer 200 with the expected content.
    pub(crate) failures: usize,
    /// Average number of items (traces, services, operations) per answer.
    pub(crate) mean_items: f64,
}

impl LatencyStats {
    fn from_samples(mut samples: Vec<Duration>, failures: usize, items: usize) -> LatencyStats {
        samples.sort_unstable();
        LatencyStats {
            samples: samples.len(),
            p50: percentile(&samples, 0.50),
            p99: percentile(&samples, 0.99),
            max: samples.last().copied().unwrap_or_default(),
            failures,
            mean_items: items as f64 / samples.len().max(1) as f64,
        }
    }
}

/// Results of the ack → queryable probe.
#[derive(Debug, Default)]
pub(crate) struct Freshness {
    pub(crate) samples: Vec<Duration>,
    pub(crate) timeouts: usize,
    pub(crate) sent: Vec<Sent>,
}

/// Every `interval`, exports one request on its own connection and polls
/// `GET /api/traces/{id}` for its last trace until all of that trace's spans are
/// there. The latency is from the acknowledgement to the first complete answer.
pub(crate) async fn freshness_probe(
    exporter: Exporter,
    http: reqwest::Client,
    query_base: String,
    source: std::sync::Arc<Source>,
    interval: Duration,
    stop: CancellationToken,
) -> anyhow::Result<Freshness> {
    let mut freshness = Freshness::default();
    while !stop.is_cancelled() {
        let (body, template, trace_base) = source.next(Encoding::Protobuf)?;
        let sizes = &source.pool.templates[template as usize].trace_sizes;
        let position = sizes.len() - 1;
        let trace_id = trace_id_for(source.pool.salt, trace_base + position as u64);
        let expected = usize::from(sizes[position]);
        let acked_at = loop {
            match exporter.export(body.clone(), 0).await {
                Outcome::Accepted { rejected_spans: 0 } => break Some(Instant::now()),
                Outcome::Retryable(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                _ => break None,
            }
        };
        if let Some(acked_at) = acked_at {
            freshness.sent.push(Sent {
                template,
                trace_base,
                partial: false,
            });
            let url = format!("{query_base}/api/traces/{}", hex::encode(trace_id));
            loop {
                if let Ok(Some(count)) = trace_span_count(&http, &url).await {
                    if count >= expected {
                        freshness.samples.push(acked_at.elapsed());
                        break;
                    }
                }
                if acked_at.elapsed() > FRESHNESS_TIMEOUT {
                    freshness.timeouts += 1;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(interval) => {}
        }
    }
    Ok(freshness)
}

/// Spans in the answer to `GET /api/traces/{id}`; `None` while the trace is unknown.
async fn trace_span_count(http: &reqwest::Client, url: &str) -> anyhow::Result<Option<usize>> {
    let response = http.get(url).send().await?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let response = response.error_for_status()?;
    let envelope: TracesEnvelope = serde_json::from_slice(&response.bytes().await?)?;
    Ok(Some(
        envelope
            .data
            .unwrap_or_default()
            .iter()
            .map(|trace| trace.spans.len())
            .sum(),
    ))
}

/// The query-latency results, one per endpoint measured.
#[derive(Debug, Clone)]
pub(crate) struct QueryLatencies {
    pub(crate) get_trace: LatencyStats,
    pub(crate) find_traces: LatencyStats,
    pub(crate) find_traces_tag: LatencyStats,
    pub(crate) services: LatencyStats,
    pub(crate) operations: LatencyStats,
    /// Length of the search window used for find-traces.
    pub(crate) search_window: Duration,
}

/// Where the stored data lies in time, in Unix nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DataRange {
    pub(crate) start_unix_nanos: u64,
    pub(crate) end_unix_nanos: u64,
}

/// What to measure: how many requests per endpoint, over which data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryPlan {
    pub(crate) num_samples: usize,
    pub(crate) search_window: Duration,
    pub(crate) range: DataRange,
}

pub(crate) async fn query_latencies(
    http: &reqwest::Client,
    query_base: &str,
    source: &Source,
    sent: &[Sent],
    plan: QueryPlan,
    rng: &mut StdRng,
) -> anyhow::Result<QueryLatencies> {
    let QueryPlan {
        num_samples,
        search_window,
        range,
    } = plan;
    let candidates: Vec<(u64, u16)> = sent
        .iter()
        .filter(|sent| !sent.partial)
        .flat_map(|sent| {
            source.pool.templates[sent.template as usize]
                .trace_sizes
                .iter()
                .enumerate()
                .filter(|(_, size)| **size >= MIN_GET_TRACE_SPANS)
                .map(move |(position, size)| (sent.trace_base + position as u64, *size))
        })
        .collect();
    if candidates.is_empty() {
        bail!("no stored trace has {MIN_GET_TRACE_SPANS} spans or more");
    }
    let salt = source.pool.salt;

    // get-trace over random known traces of 10–30 spans.
    let mut timings = Vec::new();
    let (mut failures, mut items) = (0, 0);
    for i in 0..WARMUP_QUERIES + num_samples {
        let (counter, size) = candidates[rng.random_range(0..candidates.len())];
        let url = format!(
            "{query_base}/api/traces/{}",
            hex::encode(trace_id_for(salt, counter))
        );
        let started = Instant::now();
        let count = trace_span_count(http, &url).await;
        let elapsed = started.elapsed();
        if i >= WARMUP_QUERIES {
            timings.push(elapsed);
            match count {
                Ok(Some(count)) if count == usize::from(size) => items += count,
                _ => failures += 1,
            }
        }
    }
    let get_trace = LatencyStats::from_samples(timings, failures, items);

    // find-traces by service + operation in a random window of the stored data.
    let operations: Vec<(&str, String)> = SERVICES
        .iter()
        .flat_map(|service| service.operations().map(move |op| (service.name, op)))
        .collect();
    let span = range.end_unix_nanos.saturating_sub(range.start_unix_nanos);
    let window_nanos = (search_window.as_nanos() as u64).min(span.max(1));
    let mut timings = Vec::new();
    let (mut failures, mut items) = (0, 0);
    for i in 0..WARMUP_QUERIES + num_samples {
        let (service, operation) = &operations[rng.random_range(0..operations.len())];
        let start = range.start_unix_nanos + rng.random_range(0..=span - window_nanos);
        let params = vec![
            ("service", (*service).to_owned()),
            ("operation", operation.clone()),
            ("start", (start / 1000).to_string()),
            ("end", ((start + window_nanos) / 1000).to_string()),
            ("limit", SEARCH_LIMIT.to_string()),
        ];
        let (elapsed, found) = timed_search(http, query_base, &params).await;
        if i >= WARMUP_QUERIES {
            timings.push(elapsed);
            match found {
                Ok(found) if found > 0 => items += found,
                _ => failures += 1,
            }
        }
    }
    let find_traces = LatencyStats::from_samples(timings, failures, items);

    // find-traces with a tag filter, over everything stored, per service.
    let mut timings = Vec::new();
    let (mut failures, mut items) = (0, 0);
    for i in 0..WARMUP_QUERIES + num_samples {
        let service = SERVICES[rng.random_range(0..SERVICES.len())].name;
        let params = vec![
            ("service", service.to_owned()),
            ("tags", r#"{"http.response.status_code":"500"}"#.to_owned()),
            ("start", (range.start_unix_nanos / 1000).to_string()),
            ("end", (range.end_unix_nanos / 1000 + 1).to_string()),
            ("limit", SEARCH_LIMIT.to_string()),
        ];
        let (elapsed, found) = timed_search(http, query_base, &params).await;
        if i >= WARMUP_QUERIES {
            timings.push(elapsed);
            match found {
                Ok(found) if found > 0 => items += found,
                _ => failures += 1,
            }
        }
    }
    let find_traces_tag = LatencyStats::from_samples(timings, failures, items);

    let services = list_latency(
        http,
        num_samples,
        |_| format!("{query_base}/api/services"),
        SERVICES.len(),
    )
    .await;
    let operations = list_latency(
        http,
        num_samples,
        |i| {
            let service = SERVICES[i % SERVICES.len()].name;
            format!("{query_base}/api/services/{service}/operations")
        },
        1,
    )
    .await;
    Ok(QueryLatencies {
        get_trace,
        find_traces,
        find_traces_tag,
        services,
        operations,
        search_window: Duration::from_nanos(window_nanos),
    })
}

/// Runs one search; returns its latency and the number of traces found.
async fn timed_search(
    http: &reqwest::Client,
    query_base: &str,
    params: &[(&str, String)],
) -> (Duration, anyhow::Result<usize>) {
    let started = Instant::now();
    let result = async {
        let response = http
            .get(format!("{query_base}/api/traces"))
            .query(params)
            .send()
            .await?
            .error_for_status()?;
        let envelope: TracesEnvelope = serde_json::from_slice(&response.bytes().await?)?;
        anyhow::Ok(envelope.data.map_or(0, |data| data.len()))
    }
    .await;
    (started.elapsed(), result)
}

/// Latency of a list endpoint; an answer with fewer than `min_items` entries fails.
async fn list_latency(
    http: &reqwest::Client,
    num_samples: usize,
    url: impl Fn(usize) -> String,
    min_items: usize,
) -> LatencyStats {
    let mut timings = Vec::new();
    let (mut failures, mut items) = (0, 0);
    for i in 0..WARMUP_QUERIES + num_samples {
        let started = Instant::now();
        let result = async {
            let response = http.get(url(i)).send().await?.error_for_status()?;
            let envelope: ListEnvelope = serde_json::from_slice(&response.bytes().await?)?;
            anyhow::Ok(envelope.data.map_or(0, |data| data.len()))
        }
        .await;
        let elapsed = started.elapsed();
        if i >= WARMUP_QUERIES {
            timings.push(elapsed);
            match result {
                Ok(found) if found >= min_items => items += found,
                _ => failures += 1,
            }
        }
    }
    LatencyStats::from_samples(timings, failures, items)
}

/// The outcome of counting every acknowledged span back.
#[derive(Debug, Clone, Default)]
pub(crate) struct Verification {
    pub(crate) traces_expected: u64,
    pub(crate) spans_expected: u64,
    pub(crate) traces_found: u64,
    pub(crate) spans_found: u64,
    pub(crate) missing_traces: u64,
    pub(crate) missing_spans: u64,
    /// Spans beyond the expected count of a trace (duplicates or foreign spans).
    pub(crate) extra_spans: u64,
    /// Sends with partial success, whose traces are knowingly incomplete; not checked.
    pub(crate) skipped_partial_sends: u64,
    pub(crate) duration: Duration,
    pub(crate) examples: Vec<String>,
}

impl Verification {
    pub(crate) fn passed(&self) -> bool {
        self.missing_spans == 0 && self.missing_traces == 0 && self.extra_spans == 0
    }
}

/// Fetches every acknowledged trace with `GET /api/traces?traceID=…&traceID=…` in
/// batches, in the order they were sent (so a batch touches few storage blocks), and
/// compares the number of distinct span IDs per trace with what was sent.
pub(crate) async fn verify_all(
    http: &reqwest::Client,
    query_base: &str,
    source: &Source,
    sent: &[Sent],
) -> anyhow::Result<Verification> {
    let started = Instant::now();
    let mut verification = Verification::default();
    let mut expected: Vec<([u8; 16], u16)> = Vec::new();
    let mut ordered: Vec<&Sent> = sent.iter().collect();
    ordered.sort_by_key(|sent| sent.trace_base);
    for sent in ordered {
        if sent.partial {
            verification.skipped_partial_sends += 1;
            continue;
        }
        for (position, size) in source.pool.templates[sent.template as usize]
            .trace_sizes
            .iter()
            .enumerate()
        {
            expected.push((
                trace_id_for(source.pool.salt, sent.trace_base + position as u64),
                *size,
            ));
        }
    }
    verification.traces_expected = expected.len() as u64;
    verification.spans_expected = expected.iter().map(|(_, size)| u64::from(*size)).sum();

    let mut batches = stream::iter(expected.chunks(VERIFY_BATCH))
        .map(|batch| fetch_batch(http, query_base, batch))
        .buffered(VERIFY_CONCURRENCY);
    while let Some(outcome) = batches.next().await {
        let (batch, found) = outcome?;
        for (trace_id, size) in batch {
            let size = u64::from(*size);
            match found.get(&u128::from_be_bytes(*trace_id)) {
                Some(&count) => {
                    verification.traces_found += 1;
                    verification.spans_found += count;
                    if count < size {
                        verification.missing_spans += size - count;
                    } else {
                        verification.extra_spans += count - size;
                    }
                    if count != size && verification.examples.len() < 5 {
                        verification.examples.push(format!(
                            "trace {}: {count} spans, expected {size}",
                            hex::encode(trace_id)
                        ));
                    }
                }
                None => {
                    verification.missing_traces += 1;
                    verification.missing_spans += size;
                    if verification.examples.len() < 5 {
                        verification
                            .examples
                            .push(format!("trace {} missing", hex::encode(trace_id)));
                    }
                }
            }
        }
    }
    verification.duration = started.elapsed();
    Ok(verification)
}

/// Distinct span IDs per trace (keyed by the ID as a number, so a shortened 16-digit
/// Jaeger ID still matches) in one batch.
async fn fetch_batch<'a>(
    http: &reqwest::Client,
    query_base: &str,
    batch: &'a [([u8; 16], u16)],
) -> anyhow::Result<(&'a [([u8; 16], u16)], HashMap<u128, u64>)> {
    let params: Vec<(&str, String)> = batch
        .iter()
        .map(|(trace_id, _)| ("traceID", hex::encode(trace_id)))
        .collect();
    let response = http
        .get(format!("{query_base}/api/traces"))
        .query(&params)
        .send()
        .await
        .context("count-back request failed")?
        .error_for_status()
        .context("count-back request refused")?;
    let envelope: TracesEnvelope = serde_json::from_slice(&response.bytes().await?)
        .context("count-back answer is not a Jaeger envelope")?;
    let mut found: HashMap<u128, u64> = HashMap::new();
    for trace in envelope.data.unwrap_or_default() {
        let trace_id = u128::from_str_radix(&trace.trace_id, 16)
            .with_context(|| format!("bad traceID {}", trace.trace_id))?;
        let distinct: HashSet<&str> = trace
            .spans
            .iter()
            .map(|span| span.span_id.as_str())
            .collect();
        *found.entry(trace_id).or_default() += distinct.len() as u64;
    }
    Ok((batch, found))
}

/// The parts of Jaeger's `{"data": [trace…]}` envelope the benchmark reads.
#[derive(Debug, Deserialize)]
struct TracesEnvelope {
    data: Option<Vec<TraceDto>>,
}

#[derive(Debug, Deserialize)]
struct TraceDto {
    #[serde(rename = "traceID")]
    trace_id: String,
    spans: Vec<SpanDto>,
}

#[derive(Debug, Deserialize)]
struct SpanDto {
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Debug, Deserialize)]
struct ListEnvelope {
    data: Option<Vec<serde::de::IgnoredAny>>,
}
