//! `--base-path /jaeger`: the whole query port (Jaeger v1, api_v3, the UI's
//! endpoints, health and the UI's files) below the prefix, nothing outside it.

use crate::support::fixtures::{now_nanos, TraceBuilder};
use crate::support::TestServer;

pub(crate) async fn server_under(base_path: &str) -> TestServer {
    let base_path = base_path.to_owned();
    TestServer::start_with(move |config| config.ui.base_path = base_path).await
}

/// The value of `tracery_query_requests_total` for `route` and `status`, or 0.
pub(crate) async fn query_requests(server: &TestServer, route: &str, status: u16) -> f64 {
    let (code, metrics) = server.get_admin("/metrics").await;
    assert_eq!(code, 200);
    let series = format!("tracery_query_requests_total{{route=\"{route}\",status=\"{status}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series)?.split(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn the_query_api_lives_below_the_base_path_and_nothing_outside() {
    let server = server_under("/jaeger").await;
    let trace = TraceBuilder::new("checkout")
        .at(now_nanos() - 2_000_000_000)
        .span("GET /cart", 0..20)
        .child("SELECT cart", 2..10)
        .build();
    server.export(trace.to_export_request()).await;

    // Jaeger v1, api_v3 and the UI's own endpoints, all below /jaeger.
    let services = server.get_ok("/jaeger/api/services").await;
    assert_eq!(services["data"], serde_json::json!(["checkout"]));
    let v3 = server.get_ok("/jaeger/api/v3/services").await;
    assert_eq!(v3["services"], serde_json::json!(["checkout"]));
    let found = server
        .get_ok(&format!("/jaeger/api/traces/{}", trace.id_hex()))
        .await;
    assert_eq!(found["data"][0]["traceID"], trace.id_hex());
    let tree = server
        .get_ok(&format!("/jaeger/internal/ui/traces/{}", trace.id_hex()))
        .await;
    assert_eq!(tree["rows"].as_array().map(Vec::len), Some(2), "{tree}");
    let ready = server
        .http
        .get(server.api_url("/jaeger/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    // An unknown API route under the prefix is still the API's 404, not the UI shell.
    let unknown = server
        .http
        .get(server.api_url("/jaeger/api/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // The UI's shell, on a deep link, points its relative URLs at the prefix.
    let shell = server
        .http
        .get(server.api_url(&format!("/jaeger/trace/{}", trace.id_hex())))
        .send()
        .await
        .unwrap();
    assert_eq!(shell.status(), 200);
    let html = shell.text().await.unwrap();
    assert!(html.contains("<base href=\"/jaeger/\">"), "{html}");
    let script = server
        .http
        .get(server.api_url("/jaeger/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);

    // Outside the prefix: 404, for the API, the UI and health alike.
    for outside in [
        "/api/services",
        "/api/v3/services",
        "/internal/ui/config",
        "/health/ready",
        "/search",
        "/app.js",
        "/jaegerx/api/services",
        "/other/jaeger/api/services",
    ] {
        let response = server
            .http
            .get(server.api_url(outside))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{outside}");
    }

    // `/` and the bare prefix redirect to the UI under it (its URLs need the slash).
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (from, to) in [
        ("/", "/jaeger/"),
        ("/jaeger", "/jaeger/"),
        ("/jaeger?service=checkout", "/jaeger/?service=checkout"),
    ] {
        let response = no_redirects.get(server.api_url(from)).send().await.unwrap();
        assert_eq!(response.status(), 307, "{from}");
        assert_eq!(response.headers()["location"], to, "{from}");
    }

    // Metrics label routes without the prefix, and count what missed it.
    assert_eq!(query_requests(&server, "/api/services", 200).await, 1.0);
    assert_eq!(query_requests(&server, "/api/v3/services", 200).await, 1.0);
    assert_eq!(query_requests(&server, "outside_base_path", 404).await, 8.0);
    assert_eq!(query_requests(&server, "outside_base_path", 307).await, 3.0);
    server.stop().await;
}

#[tokio::test]
async fn a_root_base_path_changes_nothing() {
    let server = server_under("/").await;
    let (status, _) = server.get("/api/services").await;
    assert_eq!(status, 200);
    let html = server
        .http
        .get(server.api_url("/search"))
        .send()
        .await
        .unwrap();
    assert!(html.text().await.unwrap().contains("<base href=\"/\">"));
    assert_eq!(query_requests(&server, "outside_base_path", 404).await, 0.0);
    server.stop().await;
}
