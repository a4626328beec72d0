//! `--storage clickhouse` against a real clickhouse-server (Debian's 18.16 here, the
//! compat profile): each test starts its own server process on free ports with a
//! temporary directory and stops it by PID. Without the binary the tests print
//! "SKIPPED" and pass (CI installs it: `.ci/setup-clickhouse`).
//!
//! The backend must answer as the embedded store does: the same exports go to an
//! embedded server and a ClickHouse one, and their query API replies are compared.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::Value;
use tempfile::TempDir;
use tracery::config::Config;

use crate::support::fixtures::{kv, merged, now_nanos, Trace, TraceBuilder};
use crate::support::{use_clickhouse_url, v1_trace_ids, TestServer};

/// Where Debian's package puts the server, then what PATH finds.
const SERVER_BINARIES: [&str; 3] = [
    "/usr/sbin/clickhouse-server",
    "/usr/bin/clickhouse-server",
    "clickhouse-server",
];

/// One clickhouse-server process with its own directory and ports.
pub(crate) struct ClickHouseServer {
    binary: PathBuf,
    dir: TempDir,
    pub(crate) http: SocketAddr,
    tcp_port: u16,
    child: Option<Child>,
}

impl ClickHouseServer {
    /// Starts a server, or prints SKIPPED and returns `None` when none is installed.
    pub(crate) fn start(test: &str) -> Option<ClickHouseServer> {
        let Some(binary) = find_binary() else {
            eprintln!(
                "SKIPPED {test}: clickhouse-server is not installed (see .ci/setup-clickhouse)"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let (http, tcp_port) = (free_addr(), free_addr().port());
        let mut server = ClickHouseServer {
            binary,
            dir,
            http,
            tcp_port,
            child: None,
        };
        server.write_config();
        server.spawn();
        Some(server)
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// Kills the process (SIGKILL: an outage, not a clean stop) and waits for it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (`STOP`, `CONT`) to the process: a server that hangs.
    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// Starts the process again on the same directory and ports.
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn write_config(&self) {
        let dir = self.dir.path().display();
        let config = format!(
            r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{dir}/server.log</log><errorlog>{dir}/error.log</errorlog><size>10M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <path>{dir}/data/</path>
  <tmp_path>{dir}/tmp/</tmp_path>
  <user_files_path>{dir}/user_files/</user_files_path>
  <format_schema_path>{dir}/format_schemas/</format_schema_path>
  <users_config>{dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <mlock_executable>false</mlock_executable>
</yandex>
"#,
            http = self.http.port(),
            tcp = self.tcp_port,
        );
        let users = r#"<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
"#;
        std::fs::write(self.dir.path().join("config.xml"), config).unwrap();
        std::fs::write(self.dir.path().join("users.xml"), users).unwrap();
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("stdout.log")).unwrap();
        let child = Command::new(&self.binary)
            .arg(format!(
                "--config-file={}",
                self.dir.path().join("config.xml").display()
            ))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_until_ready();
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if ping(self.http) {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "clickhouse-server exited with {status}: {}",
                        std::fs::read_to_string(self.dir.path().join("error.log"))
                            .unwrap_or_default()
                    );
                }
            }
            assert!(Instant::now() < deadline, "clickhouse-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain TCP `GET /ping`: no async runtime needed while the server starts.
fn ping(addr: SocketAddr) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
    else {
        return false;
    };
    let mut response = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .is_ok()
        && stream
            .write_all(b"GET /ping HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .is_ok()
        && stream.read_to_string(&mut response).is_ok()
        && response.contains("Ok.")
}

fn find_binary() -> Option<PathBuf> {
    SERVER_BINARIES.iter().find_map(|candidate| {
        let path = PathBuf::from(candidate);
        if path.is_absolute() {
            return path.exists().then_some(path);
        }
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(candidate))
                .find(|path| path.exists())
        })
    })
}

/// A port the OS just handed out (ClickHouse binds its own sockets, so the port is
/// released first; another process taking it in between is unlikely).
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Tracery settings for `--storage clickhouse` on `server`.
pub(crate) fn use_clickhouse(config: &mut Config, server: &ClickHouseServer, database: &str) {
    use_clickhouse_url(config, &server.url(), database);
}

/// A few traces over three services, with attributes of every kind, events, an
/// error and calls between services.
fn fixture_traces(now: u64) -> Vec<Trace> {
    let checkout = TraceBuilder::new("frontend")
        .at(now - 30_000_000_000)
        .span("GET /checkout", 0..120)
        .attr(kv("http.status_code", 200_i64))
        .attr(kv("customer.tier", "gold"))
        .service("checkout")
        .child("charge", 10..90)
        .attr(kv("amount", 12.5))
        .event("retry", 50, vec![kv("attempt", 2_i64)])
        .service("db")
        .child("SELECT orders", 20..30)
        .attr(kv("db.system", "postgresql"))
        .build();
    let failed = TraceBuilder::new("frontend")
        .at(now - 20_000_000_000)
        .span("GET /cart", 0..40)
        .attr(kv("http.status_code", 500_i64))
        .error("boom")
        .service("checkout")
        .child("load cart", 5..35)
        .attr(kv("cache.hit", false))
        .build();
    let quick = TraceBuilder::new("frontend")
        .at(now - 10_000_000_000)
        .span("GET /health", 0..1)
        .build();
    vec![checkout, failed, quick]
}

/// The query API replies the two backends must agree on.
fn queries(traces: &[Trace], start_micros: u64, end_micros: u64) -> Vec<String> {
    let window = format!("start={start_micros}&end={end_micros}");
    let mut queries = vec![
        "/api/services".to_owned(),
        "/api/services/frontend/operations".to_owned(),
        "/api/operations?service=checkout".to_owned(),
        "/api/operations?service=checkout&spanKind=server".to_owned(),
        format!("/api/traces?service=frontend&{window}&limit=20"),
        format!("/api/traces?service=frontend&{window}&limit=2"),
        format!("/api/traces?service=checkout&operation=charge&{window}"),
        format!(
            "/api/traces?service=frontend&{window}&tags=%7B%22http.status_code%22%3A%22500%22%7D"
        ),
        format!("/api/traces?service=frontend&{window}&tags=%7B%22error%22%3A%22true%22%7D"),
        format!("/api/traces?service=checkout&{window}&tags=%7B%22attempt%22%3A%222%22%7D"),
        format!(
            "/api/traces?service=checkout&{window}&tags=%7B%22host.name%22%3A%22test-host%22%7D"
        ),
        format!("/api/traces?service=checkout&{window}&tags=%7B%22cache.hit%22%3A%22false%22%7D"),
        format!("/api/traces?service=frontend&{window}&minDuration=30ms"),
        format!("/api/traces?service=frontend&{window}&minDuration=30ms&maxDuration=100ms"),
        format!("/api/traces?service=db&{window}&tags=%7B%22db.system%22%3A%22mysql%22%7D"),
        format!(
            "/api/dependencies?endTs={}&lookback=3600000",
            end_micros / 1000
        ),
    ];
    // RED metrics: counted from the spans at query time on ClickHouse, from
    // ingest-time cells in the embedded store; the same numbers either way.
    let metrics_window = format!("endTs={}&lookback=3600000&step=60000", end_micros / 1000);
    let all_kinds = "spanKind=server&spanKind=client&spanKind=internal";
    queries.extend([
        format!("/api/metrics/calls?service=frontend&{metrics_window}"),
        format!("/api/metrics/errors?service=frontend&service=checkout&groupByOperation=true&{all_kinds}&{metrics_window}"),
        format!("/api/metrics/latencies?quantile=0.95&service=checkout&groupByOperation=true&{all_kinds}&{metrics_window}"),
        format!("/api/metrics/latencies?quantile=0.5&service=frontend&service=db&{all_kinds}&{metrics_window}"),
    ]);
    for trace in traces {
        queries.push(format!("/api/traces/{}", trace.id_hex()));
    }
    queries
}

async fn export_all(server: &TestServer, request: ExportTraceServiceRequest) {
    server.export(request).await;
}

/// Export the same traces to an embedded server and to a ClickHouse one: every
/// query answers the same. Then a new Tracery node on the same database (without
/// --clickhouse-create-schema) still has them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_answers_as_the_embedded_store_does() {
    let Some(clickhouse) = ClickHouseServer::start("clickhouse_answers_as_the_embedded_store_does")
    else {
        return;
    };
    let embedded = TestServer::start().await;
    let backend =
        TestServer::start_with(|config| use_clickhouse(config, &clickhouse, "same")).await;
    let now = now_nanos();
    let traces = fixture_traces(now);
    let request = merged(&traces.iter().collect::<Vec<_>>());
    export_all(&embedded, request.clone()).await;
    export_all(&backend, request).await;
    let (start, end) = (
        (now - 3_600_000_000_000) / 1000,
        (now + 60_000_000_000) / 1000,
    );
    for query in queries(&traces, start, end) {
        let expected = embedded.get_ok(&query).await;
        let actual = backend.get_ok(&query).await;
        assert_eq!(normalized(actual), normalized(expected), "GET {query}");
    }
    // The RED replies compared above are not empty: frontend had three calls.
    let calls = backend
        .get_ok(&format!(
            "/api/metrics/calls?service=frontend&endTs={}&lookback=3600000&step=3600000",
            end / 1000
        ))
        .await;
    let rates: Vec<f64> = calls["metrics"][0]["metricPoints"]
        .as_array()
        .expect("points")
        .iter()
        .filter_map(|point| point["gaugeValue"]["doubleValue"].as_f64())
        .collect();
    assert!(
        (rates.iter().sum::<f64>() * 3600.0 - 3.0).abs() < 1e-6,
        "three calls in the hour: {calls}"
    );
    // Nothing lives in the node: a new one on the same database answers the same.
    backend.stop().await;
    let backend = TestServer::start_with(|config| {
        use_clickhouse(config, &clickhouse, "same");
        config.clickhouse.create_schema = false;
    })
    .await;
    for query in queries(&traces, start, end) {
        let expected = embedded.get_ok(&query).await;
        let actual = backend.get_ok(&query).await;
        assert_eq!(
            normalized(actual),
            normalized(expected),
            "after restart: GET {query}"
        );
    }
    backend.stop().await;
    embedded.stop().await;
}

/// Arrays whose order neither backend promises (services, operations) compare
/// sorted; everything else as is.
fn normalized(mut body: Value) -> Value {
    if let Some(data) = body.get_mut("data").and_then(Value::as_array_mut) {
        if data.iter().all(Value::is_string) {
            data.sort_by_key(|value| value.to_string());
        }
    }
    body
}

/// Without --clickhouse-create-schema an empty database is refused at start with
/// a message that says what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_schema_is_refused_with_a_hint() {
    let Some(clickhouse) = ClickHouseServer::start("missing_schema_is_refused_with_a_hint") else {
        return;
    };
    let mut config = Config::for_data_dir(std::path::Path::new("/nonexistent"));
    use_clickhouse(&mut config, &clickhouse, "empty");
    config.clickhouse.create_schema = false;
    let runtime = tokio::runtime::Handle::current();
    let opened = tokio::task::spawn_blocking(move || {
        tracery::clickhouse::ClickHouse::open(&config.clickhouse, None, runtime)
    })
    .await
    .unwrap();
    let error = opened.expect_err("no tables yet");
    assert!(
        error.to_string().contains("--clickhouse-create-schema"),
        "{error}"
    );
}

/// A ClickHouse outage: exports get UNAVAILABLE (gRPC) and 503 with Retry-After
/// (HTTP) promptly, never a reset connection or a hang; after the server is back,
/// exports succeed and everything acknowledged is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_gives_exporters_a_retryable_error() {
    let Some(mut clickhouse) = ClickHouseServer::start("outage_gives_exporters_a_retryable_error")
    else {
        return;
    };
    let server =
        TestServer::start_with(|config| use_clickhouse(config, &clickhouse, "outage")).await;
    let before = TraceBuilder::new("outage").span("before", 0..5).build();
    server.export(before.to_export_request()).await;

    clickhouse.kill();
    let during = TraceBuilder::new("outage").span("during", 0..5).build();
    let started = Instant::now();
    let status = server
        .grpc_client()
        .await
        .export(during.to_export_request())
        .await
        .expect_err("ClickHouse is down");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "answered promptly"
    );
    let response = server
        .http
        .post(format!("http://{}/v1/traces", server.otlp_http))
        .header("content-type", "application/json")
        .body(during.to_otlp_json().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    // Queries say the same: 503, not 500.
    let (status, _) = server
        .get(&format!("/api/traces/{}", before.id_hex()))
        .await;
    assert_eq!(status, 503);

    clickhouse.restart();
    // The client's pooled connections died with the server; the first export
    // after the restart may still see that, and a retry must get through.
    let mut accepted = false;
    for _ in 0..20 {
        let mut client = server.grpc_client().await;
        if client.export(during.to_export_request()).await.is_ok() {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(accepted, "export accepted once ClickHouse is back");
    for trace in [&before, &during] {
        let body = server
            .get_ok(&format!("/api/traces/{}", trace.id_hex()))
            .await;
        assert_eq!(body["data"][0]["spans"].as_array().unwrap().len(), 1);
    }
    server.stop().await;
}

/// The production (current) profile: every DDL statement and every query the
/// backend issues runs in chdb-core, a current ClickHouse engine, with the row
/// counts the sample data must give. The venv is `.ci/setup-clickhouse`'s.
#[test]
fn current_profile_runs_in_chdb() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("tests/clickhouse/.venv/bin/python");
    if !python.exists() {
        eprintln!(
            "SKIPPED current_profile_runs_in_chdb: no chdb-core venv at {} (run .ci/setup-clickhouse)",
            python.display()
        );
        return;
    }
    let layout = tracery::clickhouse::Layout {
        database: "tracery".to_owned(),
        cluster: None,
        profile: tracery::clickhouse::Profile::Current,
        retention: Some(Duration::from_secs(72 * 3600)),
    };
    let checks: Vec<Value> = tracery::clickhouse::check::checks(&layout)
        .into_iter()
        .map(|check| serde_json::json!({ "sql": check.sql, "expect_rows": check.expect_rows }))
        .collect();
    assert!(checks
        .iter()
        .any(|check| check["sql"].as_str().unwrap().contains("bloom_filter")));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.json");
    std::fs::write(&file, serde_json::to_vec(&checks).unwrap()).unwrap();
    let output = Command::new(&python)
        .arg(root.join("tests/clickhouse/check_statements.py"))
        .arg(&file)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "chdb rejected statements:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        report.contains(&format!("{} passed, 0 failed", checks.len())),
        "{report}"
    );
}

/// Jaeger's search semantics as the embedded store passes them (tests/it/
/// tag_search.rs, search_filters.rs, query_api.rs) and the metrics API's known
/// fixture and Monitor-tab requests (metrics_api.rs): the same suites, run by this
/// test binary in a child process with every `TestServer` on a ClickHouse server.
#[test]
fn search_suites_pass_on_clickhouse() {
    if std::env::var_os(crate::support::CLICKHOUSE_URL_ENV).is_some() {
        return; // already the child: don't recurse
    }
    let Some(clickhouse) = ClickHouseServer::start("search_suites_pass_on_clickhouse") else {
        return;
    };
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "tag_search::",
            "search_filters::",
            "query_api::",
            "metrics_api::",
            "--test-threads=2",
        ])
        .env(crate::support::CLICKHOUSE_URL_ENV, clickhouse.url())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the search and metrics suites failed on ClickHouse:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("test result: ok"), "{report}");
    eprintln!(
        "{}",
        report
            .lines()
            .filter(|line| line.starts_with("test result"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A server that hangs (SIGSTOP: connections open, no answers) must not hold
/// exporters until their own timeouts or reset their connections: the backend's
/// deadline turns it into UNAVAILABLE, and the node recovers once it answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_server_gives_unavailable_within_the_deadline() {
    let Some(clickhouse) =
        ClickHouseServer::start("hung_server_gives_unavailable_within_the_deadline")
    else {
        return;
    };
    let server = TestServer::start_with(|config| use_clickhouse(config, &clickhouse, "hung")).await;
    let before = TraceBuilder::new("hung").span("before", 0..5).build();
    server.export(before.to_export_request()).await;
    clickhouse.signal("STOP");
    let during = TraceBuilder::new("hung").span("during", 0..5).build();
    let started = Instant::now();
    let status = server
        .grpc_client()
        .await
        .export(during.to_export_request())
        .await
        .expect_err("ClickHouse hangs");
    clickhouse.signal("CONT");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(40),
        "the 15 s deadline answered, not another timeout: {waited:?}"
    );
    server.export(during.to_export_request()).await;
    let body = server
        .get_ok(&format!("/api/traces/{}", during.id_hex()))
        .await;
    assert_eq!(body["data"][0]["spans"].as_array().unwrap().len(), 1);
    server.stop().await;
}

/// Runs `sql` on `clickhouse`'s HTTP interface; panics with the server's error.
async fn run_sql(clickhouse: &ClickHouseServer, sql: &str) {
    let response = reqwest::Client::new()
        .post(clickhouse.url())
        .body(sql.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{sql}: {status} {text}");
}

/// Retention without TTL (the compat profile): every ingest hour older than the
/// cutoff is dropped as a whole partition from every table, and the current hour
/// stays. An old trace is written three ingest hours back by SQL (Tracery itself
/// only writes the current hour).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_retention_drops_whole_expired_hours() {
    let Some(clickhouse) = ClickHouseServer::start("compat_retention_drops_whole_expired_hours")
    else {
        return;
    };
    let server =
        TestServer::start_with(|config| use_clickhouse(config, &clickhouse, "retention")).await;
    let staging =
        TestServer::start_with(|config| use_clickhouse(config, &clickhouse, "staging")).await;
    let [fresh, old] = ["fresh", "old"].map(|label| {
        TraceBuilder::new("retention")
            .span(label, 0..10)
            .child(&format!("{label}-child"), 1..9)
            .build()
    });
    server.export(merged(&[&fresh])).await;
    // `old` goes through another database, then into this one three hours back.
    staging.export(merged(&[&old])).await;
    staging.stop().await;
    let (fresh_id, old_id) = (fresh.id_hex(), old.id_hex());
    run_sql(&clickhouse, "INSERT INTO retention.spans SELECT trace_id, span_id, parent_span_id, service, operation, kind, start_unix_nanos, start_time, duration_nanos, terms, ingest_time - 10800 FROM staging.spans").await;
    run_sql(&clickhouse, "INSERT INTO retention.trace_spans SELECT trace_id, start_unix_nanos, start_time, span, ingest_time - 10800 FROM staging.trace_spans").await;
    let status = |id: String| {
        let server = &server;
        async move { server.get(&format!("/api/traces/{id}")).await.0 }
    };
    assert_eq!(
        status(old_id.to_owned()).await,
        200,
        "the old copy is there"
    );

    let mut config = Config::for_data_dir(std::path::Path::new("/nonexistent"));
    use_clickhouse(&mut config, &clickhouse, "retention");
    let runtime = tokio::runtime::Handle::current();
    let one_hour = Duration::from_secs(3_600);
    let backend = tokio::task::spawn_blocking(move || {
        tracery::clickhouse::ClickHouse::open(&config.clickhouse, Some(one_hour), runtime)
    })
    .await
    .unwrap()
    .expect("open");
    let now_secs = now_nanos() / 1_000_000_000;
    let (dropped, again) = tokio::task::spawn_blocking(move || {
        let dropped = backend.expire_before(now_secs - 3_600).expect("retention");
        (
            dropped,
            backend.expire_before(now_secs - 3_600).expect("again"),
        )
    })
    .await
    .unwrap();
    // One expired hour in `spans` and one in `trace_spans`; a second round in the
    // same hour finds nothing more.
    assert_eq!((dropped, again), (2, 0));
    assert_eq!(status(old_id.clone()).await, 404, "the old hour is gone");
    assert_eq!(
        status(fresh_id.clone()).await,
        200,
        "the current hour stays"
    );
    let found = server
        .get_ok("/api/traces?service=retention&lookback=6h&limit=20")
        .await;
    assert_eq!(
        v1_trace_ids(&found),
        std::slice::from_ref(&fresh_id),
        "search finds only the current hour"
    );
    server.stop().await;
}
