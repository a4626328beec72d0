//! Many slow clients (issue #14): a thousand idle and slow-drip (slowloris)
//! connections on each TCP listener must not stop a normal client of any of them,
//! and the server closes them after its timeouts (`config::ConnectionLimits`), on
//! every TCP listener; `--max-connections` makes further clients wait, not crash
//! anything.

use std::net::SocketAddr;
use std::time::Duration;

use prost::Message as _;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tracery::config::{Config, ConnectionLimits};

use crate::support::fixtures::TraceBuilder;
use crate::support::TestServer;

/// Idle plus slow-drip connections per port in the crowd test.
const CROWD_PER_PORT: usize = 1000;
/// A guard against hanging, not a performance bound.
const GUARD: Duration = Duration::from_secs(60);
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What a connection of the crowd sends, one byte per tick, before it falls idle.
fn drip_script(kind: usize, grpc: bool) -> Vec<u8> {
    match (kind % 3, grpc) {
        (0, _) => Vec::new(),
        (_, true) => H2_PREFACE.to_vec(),
        (1, false) => b"GET /api/services HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec(),
        (_, false) => b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\nslowbody".to_vec(),
    }
}

fn with_limits(limits: ConnectionLimits) -> impl FnOnce(&mut Config) {
    move |config: &mut Config| config.limits = limits
}

/// Exports one trace over gRPC and one over HTTP and reads both back.
async fn export_and_query(server: &TestServer, label: &str) {
    let grpc_trace = TraceBuilder::new("slow-clients")
        .span(&format!("{label} grpc"), 0..5)
        .build();
    let http_trace = TraceBuilder::new("slow-clients")
        .span(&format!("{label} http"), 0..5)
        .build();
    tokio::time::timeout(GUARD, async {
        server.export(grpc_trace.to_export_request()).await;
        let response = server
            .http
            .post(format!("http://{}/v1/traces", server.otlp_http))
            .header("content-type", "application/x-protobuf")
            .body(http_trace.to_export_request().encode_to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{label}: OTLP/HTTP export");
        for trace in [&grpc_trace, &http_trace] {
            let body = server
                .get_ok(&format!("/api/traces/{}", trace.id_hex()))
                .await;
            assert_eq!(body["data"][0]["spans"].as_array().unwrap().len(), 1);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{label}: export and query hung"));
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_until_closed(stream: &mut (impl AsyncRead + Unpin), what: &str) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(GUARD, stream.read(&mut buf)).await {
            Err(_) => panic!("{what}: the server never closed the connection"),
            Ok(Ok(0) | Err(_)) => return received,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Connects and sends `script` one byte every `tick` until the server closes the
/// connection; returns the bytes sent by then and the bytes received.
async fn drip_until_closed(
    addr: SocketAddr,
    script: &[u8],
    tick: Duration,
    what: &str,
) -> (usize, Vec<u8>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sent = Arc::new(AtomicUsize::new(0));
    let dripper = {
        let (script, sent) = (script.to_vec(), Arc::clone(&sent));
        tokio::spawn(async move {
            for byte in script {
                if writer.write_all(&[byte]).await.is_err() {
                    break;
                }
                sent.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(tick).await;
            }
            // Keep the write side open: a slow client, not a finished one.
            std::future::pending::<()>().await;
        })
    };
    let received = read_until_closed(&mut reader, what).await;
    dripper.abort();
    (sent.load(Ordering::SeqCst), received)
}

/// Connects `per_port` clients to each of `ports` (gRPC ones send the HTTP/2 preface,
/// HTTP ones a request line and headers or a body) and drips their scripts a byte
/// every 100 ms until aborted; aborting drops (closes) every connection.
async fn start_crowd(ports: &[(SocketAddr, bool)], per_port: usize) -> tokio::task::JoinHandle<()> {
    let mut crowd = Vec::new();
    for &(addr, grpc) in ports {
        for index in 0..per_port {
            let stream = TcpStream::connect(addr).await.unwrap();
            crowd.push((stream, drip_script(index, grpc), 0usize));
        }
    }
    let dripping = tokio::spawn(async move {
        loop {
            for (stream, script, next) in &mut crowd {
                if let Some(byte) = script.get(*next) {
                    let _ = stream.write_all(&[*byte]).await;
                    *next += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // Let the crowd get accepted and start dripping.
    tokio::time::sleep(Duration::from_secs(1)).await;
    dripping
}

async fn stop_crowd(dripping: tokio::task::JoinHandle<()>) {
    assert!(!dripping.is_finished(), "the crowd's connections broke");
    dripping.abort();
    let _ = dripping.await;
}

/// A normal client of each of the other seven listeners gets its answer: a Jaeger
/// gRPC, Thrift/HTTP and Zipkin export each read back, the gRPC query API's
/// services, the sampling strategies over HTTP and gRPC, and the admin port's
/// readiness.
async fn use_the_other_ports(server: &TestServer, round: i64) {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use tracery::protocol::jaeger::api_v2::query_service_client::QueryServiceClient;
    use tracery::protocol::jaeger::api_v2::sampling_manager_client::SamplingManagerClient;
    use tracery::protocol::jaeger::api_v2::{GetServicesRequest, SamplingStrategyParameters};

    let label = format!("other ports, round {round}");
    tokio::time::timeout(GUARD, async {
        // OTLP on the Jaeger gRPC port (14250), as a Jaeger collector takes it.
        let trace = TraceBuilder::new("slow-clients-jaeger-grpc")
            .span(&label, 0..5)
            .build();
        let mut jaeger_grpc = TraceServiceClient::connect(format!("http://{}", server.jaeger_grpc))
            .await
            .unwrap();
        jaeger_grpc
            .export(trace.to_export_request())
            .await
            .unwrap_or_else(|status| panic!("{label}: Jaeger gRPC port: {status}"));
        // Jaeger Thrift over HTTP (14268).
        let thrift_low = 0x5100 + round;
        let (status, text) = crate::jaeger_ingest::post_thrift(
            server,
            crate::jaeger_ingest::thrift_batch("slow-clients-thrift", thrift_low, 0x42),
        )
        .await;
        assert_eq!(status, 202, "{label}: Jaeger Thrift/HTTP: {text}");
        // Zipkin v2 JSON (9411).
        let zipkin_trace = format!("{:016x}", 0x5a00 + round);
        let micros = crate::support::fixtures::now_nanos() / 1000;
        let body = serde_json::json!([{"traceId": zipkin_trace, "id": "00000000000000aa",
            "name": "slow-clients zipkin", "timestamp": micros, "duration": 100,
            "localEndpoint": {"serviceName": "slow-clients-zipkin"}}]);
        let (status, text) = crate::zipkin_ingest::post(
            server,
            "/api/v2/spans",
            "application/json",
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
        assert_eq!(status, 202, "{label}: Zipkin: {text}");
        for trace_id in [
            trace.id_hex(),
            format!("{:016x}{:016x}", 0x0102, thrift_low),
            zipkin_trace,
        ] {
            let body = server.get_ok(&format!("/api/traces/{trace_id}")).await;
            assert_eq!(
                body["data"][0]["spans"].as_array().map(Vec::len),
                Some(1),
                "{label}: trace {trace_id}"
            );
        }
        // The gRPC query API (16685).
        let mut query = QueryServiceClient::connect(format!("http://{}", server.query_grpc))
            .await
            .unwrap();
        let services = query
            .get_services(GetServicesRequest {})
            .await
            .unwrap_or_else(|status| panic!("{label}: gRPC query: {status}"))
            .into_inner()
            .services;
        assert!(
            services
                .iter()
                .any(|service| service == "slow-clients-zipkin"),
            "{label}: {services:?}"
        );
        // Sampling strategies over HTTP (5778) and gRPC (5779).
        let response = server
            .http
            .get(format!(
                "http://{}/api/sampling?service=slow-clients",
                server.sampling_http
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{label}: sampling HTTP");
        let mut sampling =
            SamplingManagerClient::connect(format!("http://{}", server.sampling_grpc))
                .await
                .unwrap();
        sampling
            .get_sampling_strategy(SamplingStrategyParameters {
                service_name: "slow-clients".into(),
            })
            .await
            .unwrap_or_else(|status| panic!("{label}: sampling gRPC: {status}"));
        // The admin port.
        let (status, _) = server.get_admin("/health/ready").await;
        assert_eq!(status, 200, "{label}: admin");
    })
    .await
    .unwrap_or_else(|_| panic!("{label}: hung"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_clients_per_port_dont_stop_exports_or_queries() {
    // Two waves, so that each holds at most seven ports' crowds: every connection is
    // two descriptors here (client and server side).
    const WAVE_PORTS: u64 = 7;
    let soft = tracery::net::raise_open_files_limit().unwrap_or(u64::MAX);
    let wanted = WAVE_PORTS * 2 * CROWD_PER_PORT as u64 + 512;
    let per_port = if soft >= wanted {
        CROWD_PER_PORT
    } else {
        let fits = (soft.saturating_sub(512) / (2 * WAVE_PORTS)) as usize;
        eprintln!(
            "WARNING: the open-files limit is {soft} and cannot be raised; {fits} slow clients per port instead of {CROWD_PER_PORT}"
        );
        fits
    };
    // Long timeouts, so the crowd is still there while the normal client works.
    let server = TestServer::start_with(with_limits(ConnectionLimits {
        handshake_timeout: Duration::from_secs(120),
        header_timeout: Duration::from_secs(120),
        request_timeout: Duration::from_secs(120),
        idle_timeout: Duration::from_secs(120),
        ..ConnectionLimits::default()
    }))
    .await;
    export_and_query(&server, "before").await;
    use_the_other_ports(&server, 0).await;

    // The OTLP ports and the query port.
    let crowd = start_crowd(
        &[
            (server.otlp_http, false),
            (server.otlp_grpc, true),
            (server.api, false),
        ],
        per_port,
    )
    .await;
    for round in 0..3 {
        export_and_query(
            &server,
            &format!("with {per_port} slow clients per port, round {round}"),
        )
        .await;
    }
    stop_crowd(crowd).await;

    // The other seven: Jaeger gRPC and Thrift/HTTP, Zipkin, gRPC query, sampling
    // over HTTP and gRPC, admin.
    let crowd = start_crowd(
        &[
            (server.jaeger_grpc, true),
            (server.jaeger_thrift_http, false),
            (server.zipkin, false),
            (server.query_grpc, true),
            (server.sampling_http, false),
            (server.sampling_grpc, true),
            (server.admin, false),
        ],
        per_port,
    )
    .await;
    for round in 1..4 {
        use_the_other_ports(&server, round).await;
    }
    export_and_query(&server, "beside the second crowd").await;
    stop_crowd(crowd).await;
    println!("{per_port} idle and slow-drip connections on each of the ten TCP listeners (OTLP/HTTP, OTLP/gRPC and the query port at once, then the other seven at once): exports and queries answered on every one");
    server.stop().await;
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed_after_their_timeouts() {
    let server = TestServer::start_with(with_limits(ConnectionLimits {
        handshake_timeout: Duration::from_millis(800),
        header_timeout: Duration::from_millis(1000),
        request_timeout: Duration::from_millis(1500),
        idle_timeout: Duration::from_millis(2000),
        ..ConnectionLimits::default()
    }))
    .await;

    // A connection that never speaks, on every TCP listener.
    for (name, addr) in [
        ("OTLP/gRPC", server.otlp_grpc),
        ("OTLP/HTTP", server.otlp_http),
        ("query", server.api),
        ("admin", server.admin),
        ("Jaeger gRPC", server.jaeger_grpc),
        ("Jaeger Thrift/HTTP", server.jaeger_thrift_http),
        ("Zipkin", server.zipkin),
        ("gRPC query", server.query_grpc),
        ("sampling HTTP", server.sampling_http),
        ("sampling gRPC", server.sampling_grpc),
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let received = read_until_closed(&mut stream, &format!("{name}, idle")).await;
        assert!(
            received.is_empty() || name.contains("gRPC"),
            "{name}: {received:?}"
        );
    }

    let tick = Duration::from_millis(150);
    // The HTTP/2 preface byte by byte: cut off before it is whole.
    let (sent, _) =
        drip_until_closed(server.otlp_grpc, H2_PREFACE, tick, "gRPC preface drip").await;
    assert!(
        sent < H2_PREFACE.len(),
        "the whole preface went through ({sent} bytes)"
    );

    // HTTP/1 headers a line at a time, never finished: the header timeout.
    let mut headers = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n".to_vec();
    for index in 0..200 {
        headers.extend_from_slice(format!("X-Drip-{index}: 1\r\n").as_bytes());
    }
    let (sent, _) = drip_until_closed(
        server.otlp_http,
        &headers,
        Duration::from_millis(20),
        "header drip",
    )
    .await;
    assert!(sent < headers.len(), "every header went through");

    // Whole headers, then the body byte by byte: 408 at the request timeout.
    let mut request = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n".to_vec();
    request.extend(std::iter::repeat_n(b'x', 1000));
    let (_, received) = drip_until_closed(
        server.otlp_http,
        &request,
        Duration::from_millis(2),
        "body drip",
    )
    .await;
    let received = String::from_utf8_lossy(&received);
    assert!(
        received.starts_with("HTTP/1.1 408"),
        "body drip: {received}"
    );

    // A keep-alive connection after its request: closed while it waits.
    let mut stream = TcpStream::connect(server.api).await.unwrap();
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let received = read_until_closed(&mut stream, "idle keep-alive").await;
    assert!(
        String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200"),
        "{received:?}"
    );

    // A gRPC peer that sends the preface and settings and then nothing, not even
    // the acknowledgement of the server's ping: closed once idle.
    let mut stream = TcpStream::connect(server.otlp_grpc).await.unwrap();
    stream.write_all(H2_PREFACE).await.unwrap();
    stream
        .write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0])
        .await
        .unwrap(); // empty SETTINGS
    let received = read_until_closed(&mut stream, "silent HTTP/2 peer").await;
    assert!(!received.is_empty(), "the server never sent its settings");

    // None of it hurt anyone else.
    export_and_query(&server, "after the slow clients").await;
    server.stop().await;
}

#[tokio::test]
async fn over_max_connections_clients_wait_for_a_free_slot() {
    const MAX: usize = 8;
    let server = TestServer::start_with(with_limits(ConnectionLimits {
        max_connections: MAX,
        handshake_timeout: Duration::from_secs(120),
        idle_timeout: Duration::from_secs(120),
        ..ConnectionLimits::default()
    }))
    .await;
    let mut idle = Vec::new();
    for _ in 0..MAX {
        idle.push(TcpStream::connect(server.otlp_http).await.unwrap());
    }
    let trace = TraceBuilder::new("waits").span("for a slot", 0..5).build();
    let (client, url, body) = (
        server.http.clone(),
        format!("http://{}/v1/traces", server.otlp_http),
        trace.to_export_request().encode_to_vec(),
    );
    let export = tokio::spawn(async move {
        client
            .post(url)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .map(|response| response.status().as_u16())
    });
    // While every slot is taken the export is not served (a correct server never
    // answers here, so this can't fail by being slow).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !export.is_finished(),
        "a connection over --max-connections was served"
    );
    drop(idle.pop());
    let status = tokio::time::timeout(GUARD, export)
        .await
        .expect("the waiting export was served once a slot was free")
        .unwrap()
        .expect("the waiting export got an answer");
    assert_eq!(status, 200);
    let body = server
        .get_ok(&format!("/api/traces/{}", trace.id_hex()))
        .await;
    assert_eq!(body["data"][0]["spans"].as_array().unwrap().len(), 1);
    drop(idle);
    server.stop().await;
}
