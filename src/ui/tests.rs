use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use tower::ServiceExt as _;

use super::*;

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: impl header::AsHeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }
}

async fn request(router: Router, method: Method, path: &str, if_none_match: Option<&str>) -> Reply {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(etag) = if_none_match {
        builder = builder.header(header::IF_NONE_MATCH, etag);
    }
    let response = router
        .oneshot(builder.body(Body::empty()).expect("valid request"))
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body reads")
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn get_embedded(path: &str) -> Reply {
    request(router(None, "/"), Method::GET, path, None).await
}

fn index_html() -> &'static [u8] {
    EMBEDDED
        .iter()
        .find(|(path, _)| *path == "index.html")
        .map(|(_, bytes)| *bytes)
        .expect("ui/index.html is embedded")
}

#[tokio::test]
async fn assets_have_their_content_types() {
    for (path, expected) in [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/styles/base.css", "text/css; charset=utf-8"),
    ] {
        let reply = get_embedded(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header(header::CONTENT_TYPE), expected, "{path}");
    }
}

#[tokio::test]
async fn extension_less_paths_get_the_shell_and_missing_files_are_404() {
    for path in ["/", "/search", "/trace/4bf92f3577b34da6a3ce929d0e0e4736"] {
        let reply = get_embedded(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.body, index_html(), "{path}");
    }
    for path in [
        "/missing.js",
        "/styles/missing.css",
        "/api/nothing-here",
        "/internal/ui/nope",
        "/../Cargo.toml",
        "/.hidden",
    ] {
        let reply = get_embedded(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn every_response_is_revalidated_and_locked_down() {
    for path in ["/", "/app.js", "/missing.js"] {
        let reply = get_embedded(path).await;
        assert_eq!(
            reply.header(header::CONTENT_SECURITY_POLICY),
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(reply.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    }
    let reply = get_embedded("/app.js").await;
    assert_eq!(reply.header(header::CACHE_CONTROL), "no-cache");
    assert!(reply
        .header(header::CONTENT_SECURITY_POLICY)
        .contains("script-src 'self';"));
}

#[tokio::test]
async fn a_matching_etag_gets_304_and_a_stale_one_gets_the_file() {
    let first = get_embedded("/app.js").await;
    let etag = first.header(header::ETAG).to_owned();
    assert!(etag.starts_with('"') && etag.len() == 18, "{etag}");

    let cached = request(router(None, "/"), Method::GET, "/app.js", Some(&etag)).await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    assert!(cached.body.is_empty());
    assert_eq!(cached.header(header::ETAG), etag);

    let listed = format!("\"0000000000000000\", W/{etag}");
    let weak = request(router(None, "/"), Method::GET, "/app.js", Some(&listed)).await;
    assert_eq!(weak.status, StatusCode::NOT_MODIFIED);

    let stale = request(
        router(None, "/"),
        Method::GET,
        "/app.js",
        Some("\"0000000000000000\""),
    )
    .await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.body, first.body);
}

#[tokio::test]
async fn head_is_answered_and_other_methods_are_refused() {
    let head = request(router(None, "/"), Method::HEAD, "/app.js", None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    let post = request(router(None, "/"), Method::POST, "/app.js", None).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn ui_dir_serves_from_disk_and_sees_edits_without_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), "<p>dev shell</p>").expect("write");
    std::fs::write(dir.path().join("app.js"), "one").expect("write");
    let disk = || router(Some(dir.path().to_path_buf()), "/");

    let shell = request(disk(), Method::GET, "/trace/abc", None).await;
    assert_eq!(shell.body, b"<p>dev shell</p>");
    let before = request(disk(), Method::GET, "/app.js", None).await;
    assert_eq!(before.body, b"one");

    std::fs::write(dir.path().join("app.js"), "two").expect("write");
    let after = request(disk(), Method::GET, "/app.js", None).await;
    assert_eq!(after.body, b"two");
    assert_ne!(after.header(header::ETAG), before.header(header::ETAG));

    let escape = request(disk(), Method::GET, "/%2e%2e/secret.txt", None).await;
    assert_eq!(escape.status, StatusCode::NOT_FOUND);
    let missing = request(disk(), Method::GET, "/nope.css", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[test]
fn asset_paths_reject_traversal_and_api_prefixes() {
    assert_eq!(asset_path("/").as_deref(), Some(""));
    assert_eq!(
        asset_path("/./styles/base.css").as_deref(),
        Some("styles/base.css")
    );
    assert_eq!(asset_path("/a/../b.js"), None);
    assert_eq!(asset_path("/api/traces"), None);
    assert_eq!(asset_path("/apidocs"), Some("apidocs".to_owned()));
    assert_eq!(asset_path("/.git/config"), None);
}

#[tokio::test]
async fn the_shell_carries_the_base_path_and_only_relative_urls() {
    let root = request(router(None, "/"), Method::GET, "/trace/abc", None).await;
    let root_html = String::from_utf8(root.body).expect("utf-8");
    assert!(root_html.contains("<base href=\"/\">"), "{root_html}");
    // Everything else in the shell is relative to that base.
    for absolute in ["href=\"/", "src=\"/"] {
        assert_eq!(
            root_html.matches(absolute).count(),
            usize::from(absolute == "href=\"/"),
            "only <base> may hold {absolute}"
        );
    }

    let prefixed = request(router(None, "/jaeger"), Method::GET, "/trace/abc", None).await;
    let prefixed_html = String::from_utf8(prefixed.body).expect("utf-8");
    assert!(
        prefixed_html.contains("<base href=\"/jaeger/\">"),
        "{prefixed_html}"
    );
    assert!(!prefixed_html.contains("<base href=\"/\">"));
    assert_ne!(
        prefixed.headers.get(header::ETAG),
        root.headers.get(header::ETAG),
        "a new prefix must not be served from a cached shell"
    );
    // Other files are the same bytes under any prefix.
    let script = request(router(None, "/jaeger"), Method::GET, "/app.js", None).await;
    assert_eq!(script.body, get_embedded("/app.js").await.body);

    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("index.html"),
        "<head><base href=\"/\"></head>",
    )
    .expect("write");
    let disk = request(
        router(Some(dir.path().to_path_buf()), "/a/b"),
        Method::GET,
        "/search",
        None,
    )
    .await;
    assert_eq!(disk.body, b"<head><base href=\"/a/b/\"></head>");
}
