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

use crate::generate::{trace_id_for, user_id_for, Encoding, ANONYMOUS_USER, SERVICES};
use crate::load::{Exporter, Outcome, Sent, Source};
use crate::measure::percentile;

/// get-trace is measured on traces of at least this many spans (issue 3: 10–50).
pub(crate) const MIN_GET_TRACE_SPANS: u16 = 10;
/// Samples a series takes even past its time budget, so p99 still means something.
const MIN_SAMPLES: usize = 100;
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
    /// The same search as `find_traces_tag`, as `filter=key=value`.
    pub(crate) find_traces_filter: LatencyStats,
    /// A `filter=key>=n` expression matching the same spans.
    pub(crate) find_traces_filter_range: LatencyStats,
    pub(crate) services: LatencyStats,
    pub(crate) operations: LatencyStats,
    pub(crate) user_tags: UserTagSearches,
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
    /// Time after which a series stops early (once it has `MIN_SAMPLES`).
    pub(crate) budget: Duration,
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
        budget,
        search_window,
        range,
    } = plan;
    let count = WARMUP_QUERIES + num_samples;
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

    // get-trace over random known traces of 10–30 spans.
    let probes = (0..count)
        .map(|_| {
            let (counter, size) = candidates[rng.random_range(0..candidates.len())];
            let trace_id = hex::encode(trace_id_for(source.pool.salt, counter));
            let url = format!("{query_base}/api/traces/{trace_id}");
            Ok(Probe::new(url, Expect::Spans(usize::from(size))))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let get_trace = series(http, probes, budget).await;

    // find-traces by service + operation in a random window of the stored data.
    let operations: Vec<(&str, String)> = SERVICES
        .iter()
        .flat_map(|service| service.operations().map(move |op| (service.name, op)))
        .collect();
    let span = range.end_unix_nanos.saturating_sub(range.start_unix_nanos);
    let window_nanos = (search_window.as_nanos() as u64).min(span.max(1));
    let search_url = format!("{query_base}/api/traces");
    let probes = (0..count)
        .map(|_| {
            let (service, operation) = &operations[rng.random_range(0..operations.len())];
            let start = range.start_unix_nanos + rng.random_range(0..=span - window_nanos);
            let url = reqwest::Url::parse_with_params(
                &search_url,
                [
                    ("service", (*service).to_owned()),
                    ("operation", operation.clone()),
                    ("start", (start / 1000).to_string()),
                    ("end", ((start + window_nanos) / 1000).to_string()),
                    ("limit", SEARCH_LIMIT.to_string()),
                ],
            )?;
            Ok(Probe::new(url.into(), Expect::Traces))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let find_traces = series(http, probes, budget).await;

    // find-traces with one attribute condition over everything stored, per service:
    // Jaeger's `tags`, then the same condition as a `filter=` expression (issue 16),
    // then a range expression, which matches the same spans (the generator's status
    // codes are 200, 201, 404 or 500) but cannot use the block term filters.
    let mut condition =
        |param: &str, value: &str| condition_search(&search_url, range, count, param, value, rng);
    let find_traces_tag = series(
        http,
        condition("tags", r#"{"http.response.status_code":"500"}"#)?,
        budget,
    )
    .await;
    let find_traces_filter = series(
        http,
        condition("filter", "http.response.status_code=500")?,
        budget,
    )
    .await;
    let find_traces_filter_range = series(
        http,
        condition("filter", "http.response.status_code>=500")?,
        budget,
    )
    .await;

    let probes = (0..count)
        .map(|_| {
            Probe::new(
                format!("{query_base}/api/services"),
                Expect::List(SERVICES.len()),
            )
        })
        .collect();
    let services = series(http, probes, budget).await;
    let probes = (0..count)
        .map(|i| {
            let service = SERVICES[i % SERVICES.len()].name;
            Probe::new(
                format!("{query_base}/api/services/{service}/operations"),
                Expect::List(1),
            )
        })
        .collect();
    let operations = series(http, probes, budget).await;
    let user_tags = user_tag_searches(http, query_base, source, sent, plan, rng).await?;
    Ok(QueryLatencies {
        get_trace,
        find_traces,
        find_traces_tag,
        find_traces_filter,
        find_traces_filter_range,
        services,
        operations,
        user_tags,
        search_window: Duration::from_nanos(window_nanos),
    })
}

/// `count` probes of find-traces over the whole stored range of a random service,
/// with one condition: `param` (`tags` or `filter`) set to `value`.
fn condition_search(
    search_url: &str,
    range: DataRange,
    count: usize,
    param: &str,
    value: &str,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<Probe>> {
    (0..count)
        .map(|_| {
            let service = SERVICES[rng.random_range(0..SERVICES.len())].name;
            let url = reqwest::Url::parse_with_params(
                search_url,
                [
                    ("service", service),
                    (param, value),
                    ("start", &(range.start_unix_nanos / 1000).to_string()),
                    ("end", &(range.end_unix_nanos / 1000 + 1).to_string()),
                    ("limit", &SEARCH_LIMIT.to_string()),
                ],
            )?;
            Ok(Probe::new(url.into(), Expect::Traces))
        })
        .collect()
}

/// Tag searches on `user.id` over the whole store of the frontend service.
#[derive(Debug, Clone)]
pub(crate) struct UserTagSearches {
    /// A value exactly one trace has (`user.id=u-…`).
    pub(crate) needle: LatencyStats,
    /// The value a fifth of frontend traces have (`user.id=anonymous`).
    pub(crate) common: LatencyStats,
    /// Spans stored when measured.
    pub(crate) stored_spans: u64,
}

/// Needle and common-value tag searches: `service=frontend`, one `user.id` tag, the
/// whole time range of the data, 20 traces.
pub(crate) async fn user_tag_searches(
    http: &reqwest::Client,
    query_base: &str,
    source: &Source,
    sent: &[Sent],
    plan: QueryPlan,
    rng: &mut StdRng,
) -> anyhow::Result<UserTagSearches> {
    let count = WARMUP_QUERIES + plan.num_samples;
    let with_users: Vec<&Sent> = sent
        .iter()
        .filter(|sent| {
            !sent.partial
                && !source.pool.templates[sent.template as usize]
                    .user_traces
                    .is_empty()
        })
        .collect();
    if with_users.is_empty() {
        bail!("no stored trace has a user.id of its own");
    }
    let search = |user: &str| {
        reqwest::Url::parse_with_params(
            &format!("{query_base}/api/traces"),
            [
                ("service", "frontend".to_owned()),
                ("tags", serde_json::json!({ "user.id": user }).to_string()),
                ("start", (plan.range.start_unix_nanos / 1000).to_string()),
                ("end", (plan.range.end_unix_nanos / 1000 + 1).to_string()),
                ("limit", SEARCH_LIMIT.to_string()),
            ],
        )
    };
    let probes = (0..count)
        .map(|_| {
            let sent = with_users[rng.random_range(0..with_users.len())];
            let users = &source.pool.templates[sent.template as usize].user_traces;
            let position = users[rng.random_range(0..users.len())];
            let user = user_id_for(source.pool.salt, sent.trace_base + u64::from(position));
            Ok(Probe::new(search(&user)?.into(), Expect::OneTrace))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let needle = series(http, probes, plan.budget).await;
    let probes = (0..count)
        .map(|_| Ok(Probe::new(search(ANONYMOUS_USER)?.into(), Expect::Traces)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let common = series(http, probes, plan.budget).await;
    Ok(UserTagSearches {
        needle,
        common,
        stored_spans: 0,
    })
}

/// What a correct answer holds.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Exactly one trace.
    OneTrace,
    /// One trace with exactly this many spans.
    Spans(usize),
    /// At least one trace.
    Traces,
    /// A list (`data`) of at least this many entries.
    List(usize),
}

/// One query of a latency series, prepared before timing starts.
#[derive(Debug)]
struct Probe {
    url: String,
    expect: Expect,
}

impl Probe {
    fn new(url: String, expect: Expect) -> Probe {
        Probe { url, expect }
    }
}

/// Runs probes one at a time: the first `WARMUP_QUERIES` unrecorded, then until the
/// probes or the time budget run out (slow endpoints get fewer samples, not hours).
async fn series(http: &reqwest::Client, probes: Vec<Probe>, budget: Duration) -> LatencyStats {
    let mut timings = Vec::new();
    let (mut failures, mut items) = (0, 0);
    let started = Instant::now();
    for (i, probe) in probes.into_iter().enumerate() {
        let recorded = i >= WARMUP_QUERIES;
        if recorded && timings.len() >= MIN_SAMPLES && started.elapsed() > budget {
            break;
        }
        let sent_at = Instant::now();
        let answer = fetch_items(http, &probe).await;
        let elapsed = sent_at.elapsed();
        if recorded {
            timings.push(elapsed);
            match answer {
                Ok(found) if found > 0 => items += found,
                _ => failures += 1,
            }
        }
    }
    LatencyStats::from_samples(timings, failures, items)
}

/// Items in a correct answer (spans, traces or list entries); 0 if it is not one.
async fn fetch_items(http: &reqwest::Client, probe: &Probe) -> anyhow::Result<usize> {
    let response = http.get(&probe.url).send().await?.error_for_status()?;
    let body = response.bytes().await?;
    Ok(match probe.expect {
        Expect::Spans(expected) => {
            let envelope: TracesEnvelope = serde_json::from_slice(&body)?;
            let spans: usize = envelope
                .data
                .unwrap_or_default()
                .iter()
                .map(|t| t.spans.len())
                .sum();
            if spans == expected {
                spans
            } else {
                0
            }
        }
        Expect::Traces => {
            let envelope: TracesEnvelope = serde_json::from_slice(&body)?;
            envelope.data.map_or(0, |data| data.len())
        }
        Expect::OneTrace => {
            let envelope: TracesEnvelope = serde_json::from_slice(&body)?;
            match envelope.data.map_or(0, |data| data.len()) {
                1 => 1,
                _ => 0,
            }
        }
        Expect::List(minimum) => {
            let envelope: ListEnvelope = serde_json::from_slice(&body)?;
            let found = envelope.data.map_or(0, |data| data.len());
            if found >= minimum {
                found
            } else {
                0
            }
        }
    })
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
