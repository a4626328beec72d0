//! Crash trials (issue #14): the real `tracery` binary under sustained durable
//! ingest over OTLP/gRPC and OTLP/HTTP is killed with SIGKILL, restarted on the same
//! data dir, and every acknowledged trace must read back whole; a trace that was
//! sent but not acknowledged is either absent or whole; the store opens in under 2 s.
//!
//! The kill lands in one of five phases, trial after trial:
//! - `ingest`: at a random moment 150–900 ms into ingest (group commit, fsyncs);
//! - `rotation`: the store's clock (`TRACERY_TEST_CLOCK_OFFSET_SECS`) is set so an
//!   hour turns 3–4 s after the start; the kill comes 0–400 ms after the "new block
//!   file for the hour" line of the new hour, while writes and syncs span both files;
//! - `compaction`: `--compaction-interval-ms 300` and `TRACERY_TEST_PAUSE_MS=100`
//!   (a sleep between append, fsync, metadata swap and hole punching); the kill comes
//!   0–350 ms after "merging small blocks" or "freeing replaced blocks";
//! - `retention`: the clock jumps an hour ahead and `--retention-hours 1` drops the
//!   older hours when the server starts; the kill comes 0–150 ms after "dropping an
//!   hour of spans" (with the pause between the metadata tree and the block file);
//! - `disk-cap`: the same with `--max-disk-gib 0.000001` instead, which drops every
//!   hour but the current one, and then the current hour's synced blocks too.
//!
//! Acknowledged traces in hours that retention or the cap may have dropped, and
//! every trace acknowledged up to a disk-cap trial, must be absent or whole; every
//! other acknowledged trace must be whole. After each trial
//! the trial's traces and a sample of earlier ones are checked; after the last, all.
//!
//! `TRACERY_CRASH_TRIALS` sets the number of trials (default 5, one per phase);
//! `tests/soak/crash-trials.sh` runs 100 and prints the figures that
//! docs/reliability.md quotes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use prost::Message as _;

use crate::support::binary::{log_field, stored_spans, Tracery};
use crate::support::fixtures::{kv, Trace, TraceBuilder};

const SPANS_PER_TRACE: usize = 4;
/// `TRACERY_TEST_PAUSE_MS` in the compaction, retention and disk-cap trials.
const PAUSE_MS: u64 = 100;
/// Earlier acknowledged traces (outside hours that may have been dropped) checked
/// again after each trial.
const SAMPLE_EARLIER: usize = 300;
/// The longest a phase may take to begin.
const PHASE_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    Ingest,
    Rotation,
    Compaction,
    Retention,
    DiskCap,
}

/// Rotation comes before retention and the cap, so they find older hours to drop.
const MODES: [Mode; 5] = [
    Mode::Ingest,
    Mode::Rotation,
    Mode::Compaction,
    Mode::Retention,
    Mode::DiskCap,
];

/// One exported trace: acknowledged or not, and the hours (by the store's clock)
/// between sending it and its answer, one of which holds it.
#[derive(Debug, Clone, Copy)]
struct Sent {
    acked: bool,
    first_hour: u32,
    trial: usize,
}

type Ledger = Arc<Mutex<HashMap<String, Sent>>>;

fn real_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The hour by the store's clock, which runs `offset_secs` ahead of the wall clock.
fn store_hour(offset_secs: i64) -> u32 {
    ((real_secs() + offset_secs as f64) / 3600.0) as u32
}

/// Operation names are few, as in real services (a name per trace would grow the
/// catalog, which the store loads when it opens, by four names a trace); the trace's
/// place in the run is an attribute.
fn trace(trial: usize, exporter: usize, index: usize) -> Trace {
    let label = format!("t{trial}-e{exporter}-{index}");
    let mut builder = TraceBuilder::new(&format!("crash-{exporter}"))
        .span("op-0", 0..10)
        .attr(kv("crash.trace", label.as_str()));
    for span in 1..SPANS_PER_TRACE {
        builder = builder
            .child(&format!("op-{span}"), 1..9)
            .attr(kv("crash.trace", label.as_str()));
    }
    builder.build()
}

/// Exports traces one after another until the server dies; records each outcome.
async fn export_grpc(url: String, offset: i64, trial: usize, exporter: usize, ledger: Ledger) {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    let Ok(mut client) = TraceServiceClient::connect(url).await else {
        return;
    };
    for index in 0.. {
        let trace = trace(trial, exporter, index);
        let first_hour = store_hour(offset);
        let sent = |acked| Sent {
            acked,
            first_hour,
            trial,
        };
        ledger.lock().unwrap().insert(trace.id_hex(), sent(false));
        let acked = client.export(trace.to_export_request()).await.is_ok();
        ledger.lock().unwrap().insert(trace.id_hex(), sent(acked));
        if !acked {
            return;
        }
    }
}

async fn export_http(url: String, offset: i64, trial: usize, exporter: usize, ledger: Ledger) {
    let client = reqwest::Client::new();
    for index in 0.. {
        let trace = trace(trial, exporter, index);
        let first_hour = store_hour(offset);
        let sent = |acked| Sent {
            acked,
            first_hour,
            trial,
        };
        ledger.lock().unwrap().insert(trace.id_hex(), sent(false));
        let acked = client
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(trace.to_export_request().encode_to_vec())
            .send()
            .await
            .is_ok_and(|response| response.status() == 200);
        ledger.lock().unwrap().insert(trace.id_hex(), sent(acked));
        if !acked {
            return;
        }
    }
}

/// What `check` found.
#[derive(Default)]
struct Checked {
    failures: Vec<String>,
    whole: usize,
    absent: usize,
}

/// Checks traces, 16 at a time: `true` means it must be whole, `false` that it may
/// also be absent.
async fn check(query: &str, traces: Vec<(String, bool)>) -> Checked {
    let http = reqwest::Client::new();
    futures_util::stream::iter(traces)
        .map(|(trace_id, required)| {
            let http = http.clone();
            async move {
                let stored = stored_spans(&http, query, &trace_id).await;
                match stored {
                    Some(SPANS_PER_TRACE) => Ok(true),
                    None if !required => Ok(false),
                    _ => Err(format!("{trace_id}: {stored:?} spans, required {required}")),
                }
            }
        })
        .buffer_unordered(16)
        .fold(Checked::default(), |mut checked, outcome| async move {
            match outcome {
                Ok(true) => checked.whole += 1,
                Ok(false) => checked.absent += 1,
                Err(failure) => checked.failures.push(failure),
            }
            checked
        })
        .await
}

#[derive(Default)]
struct Figures {
    trials_by_mode: BTreeMap<String, usize>,
    acked_traces: usize,
    open_ms: Vec<u64>,
    /// Traces read back whole and traces found absent (allowed) after restarts.
    whole: usize,
    absent: usize,
    listened_in: Vec<Duration>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_spans_survive_kill_9() {
    let trials: usize = std::env::var("TRACERY_CRASH_TRIALS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(MODES.len());
    let data_dir = tempfile::tempdir().unwrap();
    // Every trace acknowledged in any trial.
    let mut all_acked: HashMap<String, Sent> = HashMap::new();
    // Hours before this one may have been dropped by retention or the cap.
    let mut droppable_below: u32 = 0;
    // Traces of this trial and before may have been dropped by the cap, which trims
    // the current hour's blocks too once the older hours are gone.
    let mut droppable_through: Option<usize> = None;
    let mut offset: i64 = 0;
    let mut figures = Figures::default();
    for trial in 0..trials {
        let mode = MODES[trial % MODES.len()];
        let mut args: Vec<String> = Vec::new();
        let mut envs: Vec<(&str, String)> = Vec::new();
        let pause = ("TRACERY_TEST_PAUSE_MS", PAUSE_MS.to_string());
        let mut boundary_hour = 0;
        match mode {
            Mode::Ingest => {}
            Mode::Rotation => {
                // An hour turns 3-4 s after the spawn, by the store's clock.
                let real = real_secs();
                let next = ((real + offset as f64 + 3.0) / 3600.0) as i64 + 1;
                offset = next * 3600 - real.ceil() as i64 - 3;
                boundary_hour = next as u32;
            }
            Mode::Compaction => {
                args.extend(["--compaction-interval-ms".to_owned(), "300".to_owned()]);
                envs.push(pause);
            }
            Mode::Retention => {
                offset += 3600;
                args.extend(["--retention-hours".to_owned(), "1".to_owned()]);
                envs.push(pause);
            }
            Mode::DiskCap => {
                offset += 3600;
                args.extend(["--max-disk-gib".to_owned(), "0.000001".to_owned()]);
                envs.push(pause);
            }
        }
        envs.push(("TRACERY_TEST_CLOCK_OFFSET_SECS", offset.to_string()));
        envs.push(("RUST_LOG", "info,tracery::store=debug".to_owned()));
        let mut running = Tracery::start(data_dir.path(), &args, &envs).await;
        figures
            .open_ms
            .push(running.open_ms.expect("the store logs its open time"));
        let ledger: Ledger = Ledger::default();
        let mut exporters = tokio::task::JoinSet::new();
        for exporter in 0..4 {
            let ledger = ledger.clone();
            if exporter == 0 {
                let url = format!("http://{}/v1/traces", running.otlp_http);
                exporters.spawn(export_http(url, offset, trial, exporter, ledger));
            } else {
                let url = format!("http://{}", running.otlp_grpc);
                exporters.spawn(export_grpc(url, offset, trial, exporter, ledger));
            }
        }
        let phase_began = |line: Option<String>, what: &str| {
            line.unwrap_or_else(|| {
                panic!("trial {trial} ({mode:?}): no \"{what}\" line within {PHASE_TIMEOUT:?}")
            })
        };
        let (phase, delay) = match mode {
            Mode::Ingest => ("ingest", rand::random_range(150..900)),
            Mode::Rotation => {
                let needle = "new block file for the hour";
                loop {
                    let line =
                        phase_began(running.wait_for_line(needle, PHASE_TIMEOUT).await, needle);
                    if log_field(&line, "hour").and_then(|hour| hour.parse().ok())
                        == Some(boundary_hour)
                    {
                        break;
                    }
                }
                ("hour rotation", rand::random_range(0..400))
            }
            Mode::Compaction => {
                let needle = if rand::random_bool(0.5) {
                    "merging small blocks"
                } else {
                    "freeing replaced blocks"
                };
                phase_began(running.wait_for_line(needle, PHASE_TIMEOUT).await, needle);
                (needle, rand::random_range(0..3 * PAUSE_MS + 50))
            }
            Mode::Retention | Mode::DiskCap => {
                let needle = "dropping an hour of spans";
                phase_began(running.wait_for_line(needle, PHASE_TIMEOUT).await, needle);
                let phase = if mode == Mode::Retention {
                    "retention"
                } else {
                    "disk-cap drop"
                };
                (phase, rand::random_range(0..PAUSE_MS * 3 / 2))
            }
        };
        tokio::time::sleep(Duration::from_millis(delay)).await;
        running.kill().await;
        while exporters.join_next().await.is_some() {}
        // What retention or the cap may have dropped: hours before its cutoff.
        match mode {
            Mode::Retention => droppable_below = droppable_below.max(store_hour(offset - 3600)),
            Mode::DiskCap => droppable_through = Some(trial),
            _ => {}
        }

        let sent = std::mem::take(&mut *ledger.lock().unwrap());
        let acked_now = sent.values().filter(|sent| sent.acked).count();
        if mode == Mode::Ingest {
            assert!(
                acked_now > 0,
                "trial {trial}: nothing was acknowledged before the kill"
            );
        }
        let required = |sent: &Sent| {
            sent.acked
                && sent.first_hour >= droppable_below
                && droppable_through.is_none_or(|through| sent.trial > through)
        };
        let mut to_check: Vec<(String, bool)> = sent
            .iter()
            .map(|(id, sent)| (id.clone(), required(sent)))
            .collect();
        // Those that must still be there: the ones retention or the cap may have
        // dropped would only be checked for being absent or whole.
        let earlier: Vec<(String, bool)> = all_acked
            .iter()
            .filter(|(_, sent)| required(sent))
            .map(|(id, _)| (id.clone(), true))
            .collect();
        let step = (earlier.len() / SAMPLE_EARLIER).max(1);
        let skip = rand::random_range(0..step);
        to_check.extend(earlier.into_iter().skip(skip).step_by(step));
        all_acked.extend(sent.into_iter().filter(|(_, sent)| sent.acked));

        let envs = [("TRACERY_TEST_CLOCK_OFFSET_SECS", offset.to_string())];
        let mut restarted = Tracery::start(data_dir.path(), &[], &envs).await;
        let open_ms = restarted.open_ms.expect("the store logs its open time");
        figures.open_ms.push(open_ms);
        figures.listened_in.push(restarted.started_in);
        assert!(
            open_ms < 2000,
            "trial {trial} ({mode:?}): the store took {open_ms} ms to open"
        );
        let num_checked = to_check.len();
        let Checked {
            failures,
            whole,
            absent,
        } = check(&restarted.query, to_check).await;
        figures.whole += whole;
        figures.absent += absent;
        assert!(
            failures.is_empty(),
            "trial {trial} ({mode:?}, killed {delay} ms into {phase}): {} of {num_checked} traces missing, not whole or half visible: {:?}; log: {:?}",
            failures.len(),
            &failures[..failures.len().min(10)],
            restarted.drain_lines(),
        );
        *figures
            .trials_by_mode
            .entry(format!("{mode:?}"))
            .or_default() += 1;
        figures.acked_traces = all_acked.len();
        println!(
            "crash trial {trial} [{mode:?}]: killed {delay} ms into {phase}, {acked_now} traces ({} spans) acknowledged; {num_checked} checked, whole ({} acknowledged so far); store opened in {} ms, restart listened after {:?}",
            acked_now * SPANS_PER_TRACE,
            all_acked.len(),
            open_ms,
            restarted.started_in
        );
        restarted.kill().await;
    }
    let envs = [("TRACERY_TEST_CLOCK_OFFSET_SECS", offset.to_string())];
    let mut last = Tracery::start(data_dir.path(), &[], &envs).await;
    let all: Vec<(String, bool)> = all_acked
        .iter()
        .map(|(id, sent)| {
            let droppable = sent.first_hour < droppable_below
                || droppable_through.is_some_and(|through| sent.trial <= through);
            (id.clone(), !droppable)
        })
        .collect();
    let num_required = all.iter().filter(|(_, required)| *required).count();
    let Checked {
        failures,
        whole,
        absent,
    } = check(&last.query, all).await;
    assert!(
        failures.is_empty(),
        "after {trials} trials: {} acknowledged traces missing or not whole: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    last.kill().await;
    let open_max = figures.open_ms.iter().max().unwrap();
    let mut listened = figures.listened_in.clone();
    listened.sort();
    println!(
        "crash trials: {trials} of {trials} passed {:?}, {} acknowledged spans, 0 lost or not whole; after each restart {} traces read back whole and {} absent from dropped hours; at the end {whole} acknowledged traces whole, {absent} dropped ({} in hours retention or the cap may have dropped); store open max {open_max} ms; restart listened median {:?} max {:?}",
        figures.trials_by_mode,
        figures.acked_traces * SPANS_PER_TRACE,
        figures.whole,
        figures.absent,
        figures.acked_traces - num_required,
        listened[listened.len() / 2],
        listened.last().unwrap(),
    );
}
