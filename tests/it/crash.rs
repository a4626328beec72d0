//! Crash trials (issue #14): the real `tracery` binary under sustained durable
//! ingest over OTLP/gRPC and OTLP/HTTP is killed with SIGKILL at a random moment,
//! restarted on the same data dir, and every acknowledged trace must read back
//! whole; a trace that was sent but not acknowledged is either absent or whole.
//!
//! `TRACERY_CRASH_TRIALS` sets the number of trials (default 5);
//! `tests/soak/crash-trials.sh` runs 100 and prints the figures that
//! docs/reliability.md quotes.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message as _;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::support::fixtures::{Trace, TraceBuilder};

const SPANS_PER_TRACE: usize = 4;

struct Running {
    child: Child,
    addresses: Arc<Addresses>,
    /// From spawn to the listening line: opening the store dominates it.
    started_in: Duration,
}

struct Addresses {
    otlp_grpc: String,
    otlp_http: String,
    query: String,
}

/// Starts the binary on `data_dir` with every listener on an ephemeral port (the
/// legacy and extra ones off) and reads the addresses from its log.
async fn start(data_dir: &Path) -> Running {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracery"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--otlp-grpc-addr", "127.0.0.1:0"])
        .args(["--otlp-http-addr", "127.0.0.1:0"])
        .args(["--query-addr", "127.0.0.1:0"])
        .args(["--admin-addr", "127.0.0.1:0"])
        .args(["--jaeger-grpc-addr", "", "--jaeger-thrift-http-addr", ""])
        .args([
            "--jaeger-udp-compact-addr",
            "",
            "--jaeger-udp-binary-addr",
            "",
        ])
        .args(["--zipkin-addr", "", "--query-grpc-addr", ""])
        .args(["--sampling-http-addr", "", "--sampling-grpc-addr", ""])
        .args(["--ack", "durable"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn tracery");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let field = |line: &str, name: &str| -> String {
        let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
        line[start..].split_whitespace().next().unwrap().to_owned()
    };
    loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("tracery starts")
            .unwrap()
            .unwrap_or_else(|| panic!("tracery exited before listening"));
        if line.contains("tracery listening") {
            let running = Running {
                addresses: Arc::new(Addresses {
                    otlp_grpc: field(&line, "otlp_grpc"),
                    otlp_http: field(&line, "otlp_http"),
                    query: field(&line, "query"),
                }),
                started_in: started.elapsed(),
                child,
            };
            // Keep draining the log so the child never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return running;
        }
    }
}

fn trace(trial: usize, exporter: usize, index: usize) -> Trace {
    let mut builder = TraceBuilder::new(&format!("crash-{exporter}"))
        .span(&format!("t{trial}-e{exporter}-{index}-0"), 0..10);
    for span in 1..SPANS_PER_TRACE {
        builder = builder.child(&format!("t{trial}-e{exporter}-{index}-{span}"), 1..9);
    }
    builder.build()
}

#[derive(Default)]
struct Ledger {
    /// Trace ID (hex) → acknowledged.
    sent: HashMap<String, bool>,
}

/// Exports traces one after another until the server dies; records each outcome.
async fn export_grpc(
    running: &Addresses,
    trial: usize,
    exporter: usize,
    ledger: Arc<Mutex<Ledger>>,
) {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    let Ok(mut client) = TraceServiceClient::connect(format!("http://{}", running.otlp_grpc)).await
    else {
        return;
    };
    for index in 0.. {
        let trace = trace(trial, exporter, index);
        ledger.lock().unwrap().sent.insert(trace.id_hex(), false);
        let acked = client.export(trace.to_export_request()).await.is_ok();
        ledger.lock().unwrap().sent.insert(trace.id_hex(), acked);
        if !acked {
            return;
        }
    }
}

async fn export_http(
    running: &Addresses,
    trial: usize,
    exporter: usize,
    ledger: Arc<Mutex<Ledger>>,
) {
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/traces", running.otlp_http);
    for index in 0.. {
        let trace = trace(trial, exporter, index);
        ledger.lock().unwrap().sent.insert(trace.id_hex(), false);
        let acked = client
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(trace.to_export_request().encode_to_vec())
            .send()
            .await
            .is_ok_and(|response| response.status() == 200);
        ledger.lock().unwrap().sent.insert(trace.id_hex(), acked);
        if !acked {
            return;
        }
    }
}

/// Span names of a stored trace, or `None` when it is unknown.
async fn stored_span_names(http: &reqwest::Client, query: &str, trace_id: &str) -> Option<usize> {
    let response = http
        .get(format!("http://{query}/api/traces/{trace_id}"))
        .send()
        .await
        .unwrap();
    match response.status().as_u16() {
        404 => None,
        200 => {
            let body: serde_json::Value = response.json().await.unwrap();
            Some(body["data"][0]["spans"].as_array().unwrap().len())
        }
        other => panic!("GET trace {trace_id}: {other}"),
    }
}

#[tokio::test]
async fn acknowledged_spans_survive_kill_9() {
    let trials: usize = std::env::var("TRACERY_CRASH_TRIALS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(5);
    let data_dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let mut all_acked: Vec<String> = Vec::new();
    let mut open_times = Vec::new();
    for trial in 0..trials {
        let mut running = start(data_dir.path()).await;
        open_times.push(running.started_in);
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let mut exporters = tokio::task::JoinSet::new();
        for exporter in 0..4 {
            let (ledger, addresses) = (ledger.clone(), running.addresses.clone());
            exporters.spawn(async move {
                if exporter == 0 {
                    export_http(&addresses, trial, exporter, ledger).await;
                } else {
                    export_grpc(&addresses, trial, exporter, ledger).await;
                }
            });
        }
        // Kill at a random moment of sustained ingest.
        let delay = Duration::from_millis(rand::random_range(150..900));
        tokio::time::sleep(delay).await;
        running.child.start_kill().unwrap();
        running.child.wait().await.unwrap();
        while exporters.join_next().await.is_some() {}

        let ledger = std::mem::take(&mut ledger.lock().unwrap().sent);
        let acked_now = ledger.values().filter(|acked| **acked).count();
        assert!(
            acked_now > 0,
            "trial {trial}: nothing was acknowledged before the kill"
        );
        all_acked.extend(
            ledger
                .iter()
                .filter(|(_, acked)| **acked)
                .map(|(id, _)| id.clone()),
        );

        let mut restarted = start(data_dir.path()).await;
        open_times.push(restarted.started_in);
        // This trial's acknowledged traces now; every earlier one again at the end.
        for (trace_id, _) in ledger.iter().filter(|(_, acked)| **acked) {
            assert_eq!(
                stored_span_names(&http, &restarted.addresses.query, trace_id).await,
                Some(SPANS_PER_TRACE),
                "trial {trial}: acknowledged trace {trace_id} is missing or not whole"
            );
        }
        for (trace_id, _) in ledger.iter().filter(|(_, acked)| !**acked) {
            let stored = stored_span_names(&http, &restarted.addresses.query, trace_id).await;
            assert!(
                matches!(stored, None | Some(SPANS_PER_TRACE)),
                "trial {trial}: unacknowledged trace {trace_id} is half visible: {stored:?}"
            );
        }
        println!(
            "crash trial {trial}: killed after {delay:?}, {acked_now} traces ({} spans) acknowledged and whole after the restart ({} so far); restart listened after {:?}",
            acked_now * SPANS_PER_TRACE,
            all_acked.len(),
            restarted.started_in
        );
        restarted.child.start_kill().unwrap();
        restarted.child.wait().await.unwrap();
    }
    let mut last = start(data_dir.path()).await;
    for trace_id in &all_acked {
        assert_eq!(
            stored_span_names(&http, &last.addresses.query, trace_id).await,
            Some(SPANS_PER_TRACE),
            "after {trials} trials: acknowledged trace {trace_id} is missing or not whole"
        );
    }
    last.child.start_kill().unwrap();
    last.child.wait().await.unwrap();
    let slowest = open_times.iter().max().unwrap();
    println!(
        "crash trials: {trials} of {trials} passed, {} acknowledged spans, 0 lost; slowest start {slowest:?}",
        all_acked.len() * SPANS_PER_TRACE
    );
}
