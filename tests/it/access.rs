//! Access control: bearer tokens on ingest and query (HTTP 401, gRPC
//! UNAUTHENTICATED), and TLS on the listeners, driven by the real Python SDK.

use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::metadata::MetadataValue;
use tonic::Code;

use crate::sdk_languages::{run_exporter_with_env, sdk_dir};
use crate::support::fixtures::{now_nanos, TraceBuilder};
use crate::support::TestServer;

pub(crate) const INGEST_TOKEN: &str = "ingest-token-4f9c2a7d1e";
pub(crate) const QUERY_TOKEN: &str = "query-token-8b3e6d0c5a";

/// Token files in `dir`, and a server that requires them.
pub(crate) async fn server_with_tokens(dir: &Path) -> TestServer {
    let (ingest, query) = (dir.join("ingest.tokens"), dir.join("query.tokens"));
    std::fs::write(&ingest, format!("# CI exporters\n{INGEST_TOKEN}\n")).unwrap();
    std::fs::write(&query, format!("{QUERY_TOKEN}\n")).unwrap();
    TestServer::start_with(|config| {
        config.access.ingest_token_file = Some(ingest);
        config.access.query_token_file = Some(query);
    })
    .await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn tokens_guard_ingest_and_query_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_tokens(dir.path()).await;
    let trace = TraceBuilder::new("guarded")
        .at(now_nanos())
        .span("GET /secret", 0..10)
        .build();
    let body = {
        use prost::Message as _;
        trace.to_export_request().encode_to_vec()
    };
    let post = |token: Option<&str>| {
        let request = server
            .http
            .post(format!("http://{}/v1/traces", server.otlp_http))
            .header("content-type", "application/x-protobuf")
            .body(body.clone());
        match token {
            Some(token) => request.header("authorization", bearer(token)),
            None => request,
        }
    };
    for token in [None, Some("wrong-token-000000000"), Some(QUERY_TOKEN)] {
        let response = post(token).send().await.unwrap();
        assert_eq!(response.status(), 401, "ingest with {token:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let text = response.text().await.unwrap();
        assert!(text.contains("bearer token is required"), "{text}");
        assert!(!text.contains(INGEST_TOKEN), "{text}");
    }
    let accepted = post(Some(INGEST_TOKEN)).send().await.unwrap();
    assert_eq!(accepted.status(), 200);

    // Zipkin and Jaeger Thrift/HTTP are ingest too.
    for url in [
        format!("http://{}/api/v2/spans", server.zipkin),
        format!("http://{}/api/traces", server.jaeger_thrift_http),
    ] {
        let response = server.http.post(&url).body("[]").send().await.unwrap();
        assert_eq!(response.status(), 401, "{url}");
    }

    // Query: data routes need the query token; the UI's files and health don't.
    let get = |path: &str, token: Option<&str>| {
        let request = server.http.get(format!("http://{}{path}", server.api));
        match token {
            Some(token) => request.header("authorization", bearer(token)),
            None => request,
        }
    };
    let trace_path = format!("/api/traces/{}", trace.id_hex());
    for path in ["/api/services", "/api/v3/services", trace_path.as_str()] {
        for token in [None, Some(INGEST_TOKEN)] {
            let status = get(path, token).send().await.unwrap().status();
            assert_eq!(status, 401, "{path} with {token:?}");
        }
    }
    let services: serde_json::Value = get("/api/services", Some(QUERY_TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(services["data"], serde_json::json!(["guarded"]));
    let found = get(&trace_path, Some(QUERY_TOKEN)).send().await.unwrap();
    assert_eq!(found.status(), 200);
    for open in ["/", "/search", "/health/ready"] {
        assert_eq!(
            get(open, None).send().await.unwrap().status(),
            200,
            "{open}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn tokens_guard_ingest_and_query_over_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_tokens(dir.path()).await;
    let request = || {
        TraceBuilder::new("grpc-guarded")
            .at(now_nanos())
            .span("rpc", 0..5)
            .build()
            .to_export_request()
    };
    for addr in [server.otlp_grpc, server.jaeger_grpc] {
        let mut client = TraceServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        let refused = client.export(request()).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{addr}");
        assert!(refused.message().contains("bearer token is required"));
        let mut wrong = tonic::Request::new(request());
        wrong.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(bearer(QUERY_TOKEN)).unwrap(),
        );
        assert_eq!(
            client.export(wrong).await.unwrap_err().code(),
            Code::Unauthenticated
        );
        let mut right = tonic::Request::new(request());
        right.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(bearer(INGEST_TOKEN)).unwrap(),
        );
        client.export(right).await.expect("accepted with the token");
    }

    // The gRPC query API wants the query token; its health service does not.
    use tracery::protocol::jaeger::api_v3::query_service_client::QueryServiceClient;
    use tracery::protocol::jaeger::api_v3::GetServicesRequest;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.query_grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut query = QueryServiceClient::new(channel.clone());
    let refused = query
        .get_services(GetServicesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let mut allowed = tonic::Request::new(GetServicesRequest::default());
    allowed.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(bearer(QUERY_TOKEN)).unwrap(),
    );
    let services = query.get_services(allowed).await.unwrap().into_inner();
    assert_eq!(services.services, ["grpc-guarded"]);
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(serving.status, 1, "SERVING without a token");
    server.stop().await;
}

/// A CA and a certificate for 127.0.0.1 signed by it, as PEM files in `dir`:
/// (CA certificate, server certificate, server key).
pub(crate) fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

    // Distinct names: a leaf whose issuer name equals its subject looks self-signed.
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Tracery test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    server_params
        .distinguished_name
        .push(DnType::CommonName, "tracery.test");
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, server_cert.pem()).unwrap();
    std::fs::write(&paths.2, server_key.serialize_pem()).unwrap();
    paths
}

/// A server with TLS on every listener and both token files, in `dir`; returns it
/// and the CA certificate that signed its certificate.
async fn tls_server_with_tokens(dir: &Path) -> (TestServer, PathBuf) {
    let (ca, cert, key) = certificates(dir);
    let (ingest, query) = (dir.join("ingest"), dir.join("query"));
    std::fs::write(&ingest, INGEST_TOKEN).unwrap();
    std::fs::write(&query, QUERY_TOKEN).unwrap();
    let server = TestServer::start_with(|config| {
        config.access.tls = Some(tracery::config::TlsFiles {
            cert_file: cert,
            key_file: key,
        });
        config.access.ingest_token_file = Some(ingest);
        config.access.query_token_file = Some(query);
    })
    .await;
    (server, ca)
}

/// An HTTPS client that trusts only the CA certificate at `ca`.
fn https_client(ca: &Path) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_exports_over_tls_with_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let (server, ca) = tls_server_with_tokens(dir.path()).await;
    let python = sdk_dir().join("python/.venv/bin/python");
    let script = sdk_dir().join("python/export.py").display().to_string();
    let env = |token: &str| {
        vec![
            (
                "OTEL_EXPORTER_OTLP_CERTIFICATE".to_owned(),
                ca.display().to_string(),
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS".to_owned(),
                format!("authorization=Bearer%20{token}"),
            ),
            // `requests` lets these (set on some machines, CI's included) override
            // the exporter's own certificate setting.
            ("REQUESTS_CA_BUNDLE".to_owned(), ca.display().to_string()),
            ("CURL_CA_BUNDLE".to_owned(), ca.display().to_string()),
        ]
    };
    let mut trace_ids = Vec::new();
    for (protocol, addr, service) in [
        ("grpc", server.otlp_grpc, "py-tls-grpc"),
        ("http", server.otlp_http, "py-tls-http"),
    ] {
        let trace_id = run_exporter_with_env(
            python.clone(),
            vec![
                script.clone(),
                protocol.into(),
                format!("https://{addr}"),
                service.into(),
            ],
            env(INGEST_TOKEN),
        )
        .await;
        trace_ids.push((trace_id, service));
    }

    // Over HTTPS, trusting only the test CA, with the query token.
    let client = https_client(&ca);
    for (trace_id, service) in &trace_ids {
        let body: serde_json::Value = client
            .get(format!("https://{}/api/traces/{trace_id}", server.api))
            .header("authorization", bearer(QUERY_TOKEN))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        let trace = &body["data"][0];
        assert_eq!(trace["spans"].as_array().unwrap().len(), 2, "{service}");
        let process = trace["processes"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        assert_eq!(process["serviceName"], *service);
    }
    // Plain HTTP to a TLS port gets no answer; the admin port is TLS too.
    assert!(server
        .http
        .get(format!("http://{}/api/services", server.api))
        .send()
        .await
        .is_err());
    let ready = client
        .get(format!("https://{}/health/ready", server.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    server.stop().await;
}

/// A gRPC channel to `addr` over TLS, trusting only the test CA.
async fn tls_channel(addr: std::net::SocketAddr, ca: &Path) -> tonic::transport::Channel {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(ca).unwrap()))
        .domain_name("localhost");
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap_or_else(|error| panic!("TLS to {addr}: {error:?}"))
}

fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(bearer(token)).unwrap(),
    );
    request
}

/// The Jaeger, Zipkin, gRPC query and sampling listeners are TLS too (the test above
/// covers OTLP, the query API and admin), and their ingest and query ports want
/// their tokens over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_zipkin_grpc_query_and_sampling_listeners_speak_tls() {
    use tracery::protocol::jaeger::api_v2::sampling_manager_client::SamplingManagerClient;
    use tracery::protocol::jaeger::api_v2::SamplingStrategyParameters;
    use tracery::protocol::jaeger::api_v3::query_service_client::QueryServiceClient;
    use tracery::protocol::jaeger::api_v3::GetServicesRequest;

    let dir = tempfile::tempdir().unwrap();
    let (server, ca) = tls_server_with_tokens(dir.path()).await;
    let https = https_client(&ca);

    // Plain HTTP (and plain HTTP/2) to any of them gets no answer.
    for (name, addr) in [
        ("Jaeger gRPC", server.jaeger_grpc),
        ("Jaeger Thrift/HTTP", server.jaeger_thrift_http),
        ("Zipkin", server.zipkin),
        ("gRPC query", server.query_grpc),
        ("sampling HTTP", server.sampling_http),
        ("sampling gRPC", server.sampling_grpc),
    ] {
        assert!(
            server
                .http
                .get(format!("http://{addr}/"))
                .send()
                .await
                .is_err(),
            "{name} answered plain HTTP"
        );
    }

    // Jaeger Thrift over HTTPS: 401 without the ingest token, 202 with it.
    let thrift = || crate::jaeger_ingest::thrift_batch("tls-thrift", 0x7151, 0x11);
    let url = format!("https://{}/api/traces", server.jaeger_thrift_http);
    let refused = https
        .post(&url)
        .header("content-type", "application/x-thrift")
        .body(thrift())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let accepted = https
        .post(&url)
        .header("content-type", "application/x-thrift")
        .header("authorization", bearer(INGEST_TOKEN))
        .body(thrift())
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202, "{:?}", accepted.text().await);

    // Zipkin v2 JSON over HTTPS.
    let micros = now_nanos() / 1000;
    let zipkin = serde_json::json!([{"traceId": "00000000000071a2", "id": "00000000000000aa",
        "name": "over tls", "timestamp": micros, "duration": 100,
        "localEndpoint": {"serviceName": "tls-zipkin"}}]);
    let url = format!("https://{}/api/v2/spans", server.zipkin);
    let refused = https.post(&url).json(&zipkin).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let accepted = https
        .post(&url)
        .header("authorization", bearer(INGEST_TOKEN))
        .json(&zipkin)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202, "{:?}", accepted.text().await);

    // OTLP on the Jaeger gRPC port over TLS.
    let trace = TraceBuilder::new("tls-jaeger-grpc")
        .at(now_nanos())
        .span("rpc", 0..5)
        .build();
    let mut jaeger_grpc = TraceServiceClient::new(tls_channel(server.jaeger_grpc, &ca).await);
    let refused = jaeger_grpc
        .export(trace.to_export_request())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    jaeger_grpc
        .export(with_token(trace.to_export_request(), INGEST_TOKEN))
        .await
        .expect("accepted over TLS with the token");

    // The gRPC query API over TLS sees all three, with the query token.
    let mut query = QueryServiceClient::new(tls_channel(server.query_grpc, &ca).await);
    let refused = query
        .get_services(GetServicesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let mut services = query
        .get_services(with_token(GetServicesRequest::default(), QUERY_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .services;
    services.sort();
    assert_eq!(services, ["tls-jaeger-grpc", "tls-thrift", "tls-zipkin"]);

    // Sampling strategies over HTTPS and gRPC over TLS (open, as Jaeger's are).
    let strategy = https
        .get(format!(
            "https://{}/api/sampling?service=tls",
            server.sampling_http
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(strategy.status(), 200);
    let mut sampling = SamplingManagerClient::new(tls_channel(server.sampling_grpc, &ca).await);
    let reply = sampling
        .get_sampling_strategy(SamplingStrategyParameters {
            service_name: "tls".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(reply.probabilistic_sampling.is_some(), "{reply:?}");
    server.stop().await;
}
