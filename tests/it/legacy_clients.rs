//! Real Jaeger and Zipkin client libraries (nobody here wrote them) sending to the
//! Jaeger and Zipkin listeners; `.ci/setup-legacy-clients` installs them. Each trace
//! must come back complete from `GET /api/traces/{id}`.

use serde_json::{json, Value};

use crate::jaeger_ingest::wait_for_trace;
use crate::sdk_languages::{run_exporter, sdk_dir};
use crate::support::TestServer;

fn span<'a>(trace: &'a Value, name: &str) -> &'a Value {
    trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|span| span["operationName"] == name)
        .unwrap_or_else(|| panic!("no span {name} in {trace}"))
}

fn tag<'a>(span: &'a Value, key: &str) -> &'a Value {
    span["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tag| tag["key"] == key)
        .map(|tag| &tag["value"])
        .unwrap_or_else(|| panic!("no tag {key} in {span}"))
}

fn process<'a>(trace: &'a Value, span: &Value) -> &'a Value {
    &trace["processes"][span["processID"].as_str().unwrap()]
}

fn process_tag<'a>(process: &'a Value, key: &str) -> &'a Value {
    process["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tag| tag["key"] == key)
        .map(|tag| &tag["value"])
        .unwrap_or_else(|| panic!("no process tag {key} in {process}"))
}

/// Root and child, the child referencing the root as CHILD_OF, both of `service`.
fn check_parent_and_child<'a>(
    trace: &'a Value,
    root: &str,
    child: &str,
    service: &str,
) -> (&'a Value, &'a Value) {
    assert_eq!(trace["spans"].as_array().unwrap().len(), 2, "{trace}");
    let root = span(trace, root);
    let child = span(trace, child);
    assert_eq!(root["references"], json!([]));
    assert_eq!(child["references"][0]["refType"], "CHILD_OF");
    assert_eq!(child["references"][0]["spanID"], root["spanID"]);
    assert_eq!(process(trace, root)["serviceName"], service);
    assert!(child["duration"].as_u64().unwrap() > 0);
    (root, child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_jaeger_client_over_udp_compact() {
    let server = TestServer::start().await;
    let python = sdk_dir().join("jaeger-python/.venv/bin/python");
    let trace_id = run_exporter(
        python,
        vec![
            sdk_dir()
                .join("jaeger-python/send.py")
                .display()
                .to_string(),
            "127.0.0.1".into(),
            server.jaeger_udp_compact.port().to_string(),
            "py-jaeger".into(),
        ],
    )
    .await;
    let body = wait_for_trace(&server, &trace_id).await;
    let trace = &body["data"][0];
    let (root, child) =
        check_parent_and_child(trace, "GET /orders/{id}", "SELECT orders", "py-jaeger");
    assert_eq!(tag(root, "span.kind"), "server");
    assert_eq!(tag(root, "http.status_code"), 500);
    assert_eq!(tag(child, "error"), true);
    assert_eq!(tag(child, "db.type"), "sql");
    assert_eq!(
        child["logs"][0]["fields"][0],
        json!({"key": "event", "type": "string", "value": "retry"})
    );
    let process = process(trace, root);
    assert_eq!(process_tag(process, "deploy.env"), "ci");
    assert!(process_tag(process, "jaeger.version")
        .as_str()
        .unwrap()
        .starts_with("Python-"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_jaeger_client_over_http_thrift() {
    let server = TestServer::start().await;
    let trace_id = run_exporter(
        "node".into(),
        vec![
            sdk_dir()
                .join("legacy-node/jaeger-client.js")
                .display()
                .to_string(),
            format!("http://{}", server.jaeger_thrift_http),
            "node-jaeger".into(),
        ],
    )
    .await;
    let body = server.get_ok(&format!("/api/traces/{trace_id}")).await;
    let trace = &body["data"][0];
    let (root, child) = check_parent_and_child(trace, "GET /api/cart", "redis GET", "node-jaeger");
    assert_eq!(tag(root, "span.kind"), "server");
    assert_eq!(tag(root, "http.status_code"), 200.0); // JavaScript numbers are doubles
    assert_eq!(tag(child, "span.kind"), "client");
    assert_eq!(tag(child, "error"), true);
    assert_eq!(child["logs"][0]["fields"][0]["value"], "miss");
    let process = process(trace, root);
    assert_eq!(process_tag(process, "deploy.env"), "ci");
    assert!(process_tag(process, "jaeger.version")
        .as_str()
        .unwrap()
        .starts_with("Node-"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opentelemetry_js_jaeger_exporter_over_udp_binary() {
    let server = TestServer::start().await;
    let trace_id = run_exporter(
        "node".into(),
        vec![
            sdk_dir()
                .join("legacy-node/otel-jaeger.js")
                .display()
                .to_string(),
            "127.0.0.1".into(),
            server.jaeger_udp_binary.port().to_string(),
            "otel-js-jaeger".into(),
        ],
    )
    .await;
    let body = wait_for_trace(&server, &trace_id).await;
    let trace = &body["data"][0];
    let (root, child) =
        check_parent_and_child(trace, "POST /checkout", "charge card", "otel-js-jaeger");
    assert_eq!(tag(root, "span.kind"), "server");
    assert_eq!(tag(child, "span.kind"), "client");
    assert_eq!(tag(child, "payment.amount"), 42.0);
    assert_eq!(tag(child, "error"), true);
    assert_eq!(tag(child, "otel.status_description"), "card declined");
    assert_eq!(tag(child, "otel.scope.name"), "tracery-legacy-test");
    assert_eq!(
        child["logs"][0]["fields"][0],
        json!({"key": "event", "type": "string", "value": "declined"})
    );
    // The exporter sends resource attributes as span tags, and its `tags` option as
    // the process's.
    assert_eq!(tag(root, "host.name"), "node-host");
    assert_eq!(process_tag(process(trace, root), "deploy.env"), "ci");
    server.stop().await;
}
