//! Remote sampling on 5778 (HTTP) and 5779 (gRPC): Jaeger's default, strategies
//! files with reload, adaptive sampling, and real pollers (the Rust SDK's and
//! npm `@opentelemetry/sampler-jaeger-remote`) applying what Tracery serves.

use std::time::{Duration, Instant};

use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample};
use serde_json::{json, Value};
use tracery::protocol::jaeger::api_v2::sampling_manager_client::SamplingManagerClient;
use tracery::protocol::jaeger::api_v2::SamplingStrategyParameters;

use crate::support::fixtures::TraceBuilder;
use crate::support::TestServer;

const STRATEGIES: &str = r#"{
  "service_strategies": [
    {"service": "shop", "type": "probabilistic", "param": 0.5,
     "operation_strategies": [
       {"operation": "keep", "type": "probabilistic", "param": 1.0},
       {"operation": "drop", "type": "probabilistic", "param": 0.0}
     ]},
    {"service": "limited", "type": "ratelimiting", "param": 7}
  ],
  "default_strategy": {"type": "probabilistic", "param": 0.25}
}"#;

async fn get(server: &TestServer, path: &str) -> (u16, String) {
    let response = server
        .http
        .get(format!("http://{}{path}", server.sampling_http))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn get_json(server: &TestServer, path: &str) -> Value {
    let (status, body) = get(server, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn with_strategies(json: &str) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strategies.json");
    std::fs::write(&path, json).unwrap();
    let server = TestServer::start_with(|config| {
        config.sampling.strategies_file = Some(path);
    })
    .await;
    (server, dir)
}

#[tokio::test]
async fn default_is_probabilistic_one_in_a_thousand_on_every_path_and_grpc() {
    let server = TestServer::start().await;
    for path in ["/", "/sampling", "/api/sampling"] {
        let body = get_json(&server, &format!("{path}?service=anything")).await;
        assert_eq!(
            body,
            json!({"strategyType": "PROBABILISTIC", "probabilisticSampling": {"samplingRate": 0.001}}),
            "{path}"
        );
    }
    for bad in [
        "/sampling",
        "/sampling?service=a&service=b",
        "/sampling?other=1",
    ] {
        let (status, body) = get(&server, bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body.contains("'service' parameter"), "{body}");
    }
    // 5779, and 14250 as with Jaeger v1's collector.
    for addr in [server.sampling_grpc, server.jaeger_grpc] {
        let mut client = SamplingManagerClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        let reply = client
            .get_sampling_strategy(SamplingStrategyParameters {
                service_name: "anything".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.probabilistic_sampling.unwrap().sampling_rate, 0.001);
    }
    let mut client = SamplingManagerClient::connect(format!("http://{}", server.sampling_grpc))
        .await
        .unwrap();
    let missing = client
        .get_sampling_strategy(SamplingStrategyParameters::default())
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn strategies_file_is_served_in_jaegers_json_and_reloaded_on_change() {
    let (server, dir) = with_strategies(STRATEGIES).await;
    let shop = get_json(&server, "/sampling?service=shop").await;
    assert_eq!(
        shop,
        json!({
            "strategyType": "PROBABILISTIC",
            "probabilisticSampling": {"samplingRate": 0.5},
            "operationSampling": {
                "defaultSamplingProbability": 0.5,
                "defaultLowerBoundTracesPerSecond": 0.0,
                "perOperationStrategies": [
                    {"operation": "keep", "probabilisticSampling": {"samplingRate": 1.0}},
                    {"operation": "drop", "probabilisticSampling": {"samplingRate": 0.0}}
                ],
                "defaultUpperBoundTracesPerSecond": 0.0
            }
        })
    );
    assert_eq!(
        get_json(&server, "/sampling?service=limited").await,
        json!({"strategyType": "RATE_LIMITING", "rateLimitingSampling": {"maxTracesPerSecond": 7}})
    );
    assert_eq!(
        get_json(&server, "/sampling?service=other").await["probabilisticSampling"]["samplingRate"],
        0.25
    );

    // A broken edit keeps the last good strategies; a valid one replaces them.
    let path = dir.path().join("strategies.json");
    std::fs::write(&path, "{ not json").unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        get_json(&server, "/sampling?service=other").await["probabilisticSampling"]["samplingRate"],
        0.25
    );
    std::fs::write(
        &path,
        r#"{"default_strategy": {"type": "probabilistic", "param": 0.75}}"#,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rate = get_json(&server, "/sampling?service=other").await["probabilisticSampling"]
            ["samplingRate"]
            .clone();
        if rate == 0.75 {
            break;
        }
        assert!(Instant::now() < deadline, "strategies not reloaded: {rate}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_bad_strategies_file_stops_startup_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strategies.json");
    std::fs::write(
        &path,
        r#"{"default_strategy": {"type": "sometimes", "param": 1}}"#,
    )
    .unwrap();
    let mut config = tracery::config::Config::for_data_dir(dir.path());
    config.sampling.strategies_file = Some(path);
    let bind = || async { tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap() };
    let listeners = tracery::Listeners {
        otlp_grpc: bind().await,
        otlp_http: bind().await,
        api: bind().await,
        legacy: tracery::LegacyListeners::default(),
        query_grpc: None,
        sampling_http: None,
        sampling_grpc: None,
    };
    let error = tracery::run(
        config,
        listeners,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap_err();
    let chain = format!("{error:#}");
    assert!(chain.contains("unknown type `sometimes`"), "{chain}");
}

/// How many of `n` random root traces `sampler` samples for `operation`.
fn sampled(sampler: &Sampler, operation: &str, n: usize) -> usize {
    (0..n)
        .filter(|_| {
            let trace_id = TraceId::from_bytes(rand::random());
            let result =
                sampler.should_sample(None, trace_id, operation, &SpanKind::Server, &[], &[]);
            result.decision == SamplingDecision::RecordAndSample
        })
        .count()
}

#[tokio::test]
async fn rust_sdk_jaeger_remote_sampler_applies_the_served_rates() {
    let (server, _dir) = with_strategies(STRATEGIES).await;
    let sampler = Sampler::jaeger_remote(
        opentelemetry_sdk::runtime::Tokio,
        reqwest_otel::Client::new(),
        Sampler::AlwaysOff,
        "shop",
    )
    .with_endpoint(format!("http://{}/sampling", server.sampling_http))
    .with_update_interval(Duration::from_millis(100))
    .build()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sampled(&sampler, "keep", 10) == 0 {
        assert!(Instant::now() < deadline, "no strategy fetched");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sampled(&sampler, "keep", 1000), 1000);
    assert_eq!(sampled(&sampler, "drop", 1000), 0);
    let other = sampled(&sampler, "other", 1000);
    assert!((400..=600).contains(&other), "0.5 of 1000 gave {other}");
}

#[tokio::test]
async fn npm_jaeger_remote_sampler_applies_the_served_rates() {
    let (server, _dir) = with_strategies(STRATEGIES).await;
    let output = crate::sdk_languages::run_exporter(
        "node".into(),
        vec![
            "node/sampling.mjs".into(),
            format!("http://{}", server.sampling_http),
            "shop".into(),
            "keep".into(),
            "drop".into(),
            "other".into(),
        ],
    )
    .await;
    let counts: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(counts["keep"], 1000);
    assert_eq!(counts["drop"], 0);
    let other = counts["other"].as_u64().unwrap();
    assert!((400..=600).contains(&other), "0.5 of 1000 gave {other}");
}

/// A service with 100 root spans/s whose SDK applies the served probability
/// (deterministically: it sends the expected number of sampled roots). With a
/// target of 1 trace/s, adaptive sampling must settle near p = 0.01, and keep it
/// across a restart.
#[tokio::test]
async fn adaptive_sampling_brings_100_roots_per_second_to_one_percent() {
    let adjust = |config: &mut tracery::config::Config| {
        config.sampling.adaptive = true;
        config.sampling.target_tps = 1.0;
        config.sampling.interval = Duration::from_millis(200);
    };
    let server = TestServer::start_with(adjust).await;
    let probability = |body: &Value| -> f64 {
        body["operationSampling"]["perOperationStrategies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|strategy| strategy["operation"] == "GET /checkout")
            .map_or(0.001, |strategy| {
                strategy["probabilisticSampling"]["samplingRate"]
                    .as_f64()
                    .unwrap()
            })
    };
    let started = Instant::now();
    let mut last = Instant::now();
    // The first request happens to be sampled, so Tracery learns the operation.
    let mut owed = 1.0;
    let mut p = 0.001;
    while started.elapsed() < Duration::from_secs(8) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        p = probability(&get_json(&server, "/sampling?service=checkout").await);
        let now = Instant::now();
        owed += 100.0 * p * now.duration_since(last).as_secs_f64();
        last = now;
        while owed >= 1.0 {
            owed -= 1.0;
            let trace = TraceBuilder::new("checkout")
                .span("GET /checkout", 0..5)
                .build();
            server.export(trace.to_export_request()).await;
        }
    }
    assert!((0.005..=0.02).contains(&p), "settled at p = {p}");
    let restarted = TestServer::start_in(server.stop().await, adjust).await;
    let persisted = probability(&get_json(&restarted, "/sampling?service=checkout").await);
    assert!(
        (0.005..=0.02).contains(&persisted),
        "after restart p = {persisted}"
    );
}
