//! `POST /internal/ui/trace-file`: an opened JSON file gets the same trace view
//! as the stored trace, in Jaeger's format and in OTLP/JSON; bad files get a 400
//! that says what is wrong.

use serde_json::Value;

use crate::support::fixtures::{kv, merged, now_nanos, request_to_json, Trace, TraceBuilder};
use crate::support::TestServer;
use crate::ui::{checkout_trace, login_trace};

async fn post_file(server: &TestServer, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = server
        .http
        .post(server.api_url("/internal/ui/trace-file"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// N+1 repeats under the root, so the view's findings are compared too.
fn repeats_trace(start_nanos: u64) -> Trace {
    let mut builder = TraceBuilder::new("orders")
        .at(start_nanos)
        .span("GET /orders", 0..400)
        .attr(kv("http.route", "/orders"));
    for index in 0..8u64 {
        builder = builder
            .service("db")
            .child_of(
                0,
                "SELECT * FROM users WHERE id = ?",
                10 + index * 40..40 + index * 40,
            )
            .attr(kv(
                "db.statement",
                format!("SELECT * FROM users WHERE id = {index}").as_str(),
            ));
    }
    builder.build()
}

#[tokio::test]
async fn jaeger_and_otlp_files_give_the_stored_trace_view() {
    let now = now_nanos();
    let checkout = checkout_trace(now - 5_000_000_000);
    let repeats = repeats_trace(now - 4_000_000_000);
    let server = TestServer::start().await;
    server.export(merged(&[&checkout, &repeats])).await;

    for trace in [&checkout, &repeats] {
        let stored = server
            .get_ok(&format!("/internal/ui/traces/{}", trace.id_hex()))
            .await;
        assert!(stored["rows"]
            .as_array()
            .is_some_and(|rows| rows.len() >= 5));

        // Jaeger's format exactly as "Download JSON" serves it.
        let jaeger = server
            .http
            .get(server.api_url(&format!("/api/traces/{}", trace.id_hex())))
            .send()
            .await
            .expect("download")
            .bytes()
            .await
            .expect("body");
        let (status, from_jaeger) = post_file(&server, jaeger).await;
        assert_eq!(status, 200, "{from_jaeger}");
        assert_eq!(from_jaeger["traces"].as_array().map(Vec::len), Some(1));
        assert_eq!(from_jaeger["skipped"], Value::Null);
        pretty_assertions::assert_eq!(from_jaeger["traces"][0], stored, "Jaeger JSON");

        let (status, from_otlp) = post_file(&server, trace.to_otlp_json().to_string()).await;
        assert_eq!(status, 200, "{from_otlp}");
        pretty_assertions::assert_eq!(from_otlp["traces"][0], stored, "OTLP/JSON");
    }
    assert!(
        server
            .get_ok(&format!("/internal/ui/traces/{}", repeats.id_hex()))
            .await["nPlusOne"]
            .as_array()
            .is_some_and(|findings| !findings.is_empty()),
        "the fixture has an N+1 finding to compare"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_file_of_several_traces_gives_one_view_each_and_stores_nothing() {
    let now = now_nanos();
    let (checkout, login) = (
        checkout_trace(now - 5_000_000_000),
        login_trace(now - 4_000_000_000),
    );
    let server = TestServer::start().await;
    let file = request_to_json(&merged(&[&checkout, &login])).to_string();
    let (status, body) = post_file(&server, file).await;
    assert_eq!(status, 200, "{body}");
    let titles: Vec<(String, String, u64)> = body["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .map(|view| {
            (
                view["traceId"].as_str().unwrap_or_default().to_owned(),
                view["rootOperationName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                view["numSpans"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        titles,
        [
            (checkout.id_hex(), "GET /checkout".to_owned(), 5),
            (login.id_hex(), "POST /login".to_owned(), 2)
        ]
    );
    // Opening a file is not ingesting it.
    let (status, _) = server
        .get(&format!("/internal/ui/traces/{}", checkout.id_hex()))
        .await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn bad_files_get_a_400_that_says_what_is_wrong_and_bad_spans_are_counted() {
    let server = TestServer::start().await;
    let cases = [
        ("hello, world", "not a JSON file: expected value at line 1 column 1"),
        ("{\"data\": [{\"spans\": [", "not a JSON file: EOF while parsing"),
        ("{\"traces\": []}", "unrecognised JSON: expected Jaeger's {\"data\": [...]} or OTLP's {\"resourceSpans\": [...]}"),
        ("{\"data\": []}", "the file holds no spans"),
        ("{\"data\": [{\"spans\": [{\"spanID\": \"1\"}]}]}", "invalid Jaeger JSON: missing field `traceID`"),
        ("{\"resourceSpans\": [{\"scopeSpans\": 1}]}", "invalid OTLP/JSON"),
        (
            "{\"data\": [{\"spans\": [{\"traceID\": \"xyz\", \"spanID\": \"1\"}]}]}",
            "no span in the file is valid (1 rejected; the first: spans[0]: traceID `xyz`",
        ),
    ];
    for (file, expected) in cases {
        let (status, body) = post_file(&server, file).await;
        assert_eq!(status, 400, "{file}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(expected), "{file}: {message}");
    }

    // Spans that cannot be read are left out and counted; the rest still open.
    let (status, body) = post_file(
        &server,
        r#"{"data": [{"spans": [{"traceID": "a1", "spanID": "1", "processID": "p1"},
                                {"traceID": "a1", "spanID": "zz", "processID": "p1"}],
                      "processes": {"p1": {"serviceName": "api"}}}]}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["traces"][0]["numSpans"], 1, "{body}");
    assert_eq!(body["skipped"]["numSpans"], 1, "{body}");
    assert!(
        body["skipped"]["firstReason"]
            .as_str()
            .is_some_and(|reason| reason.starts_with("spans[1]: spanID `zz`")),
        "{body}"
    );

    // Over the body limit: 413, in the same error shape.
    let huge = vec![b' '; 64 * 1024 * 1024 + 1];
    let (status, body) = post_file(&server, huge).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        body["error"]["message"], "the file is larger than 64 MiB",
        "{body}"
    );
    server.stop().await;
}
