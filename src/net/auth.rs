//! Bearer-token access: the tokens, read from a file, and one check for HTTP
//! (`Authorization: Bearer …` → 401) and gRPC (`authorization` metadata →
//! `UNAUTHENTICATED`). Tokens are compared in constant time, and a refusal says
//! only that a valid token is needed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use axum::http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use subtle::ConstantTimeEq as _;
use tower_http::validate_request::{ValidateRequest, ValidateRequestHeaderLayer};

/// gRPC health stays open, so probes need no token.
const GRPC_HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

/// The accepted tokens, shared by every clone; `reload` reads the file again.
#[derive(Clone)]
pub struct Tokens {
    path: Arc<PathBuf>,
    current: Arc<RwLock<Arc<[Vec<u8>]>>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} hidden)", self.read().len())
    }
}

impl Tokens {
    /// One token per line; blank lines and lines starting with `#` are skipped.
    pub fn from_file(path: &Path) -> anyhow::Result<Tokens> {
        Ok(Tokens {
            path: Arc::new(path.to_owned()),
            current: Arc::new(RwLock::new(read_tokens(path)?)),
        })
    }

    /// Reads the file again; from the next request on, exactly its tokens pass. On
    /// an error the tokens in use stay.
    pub fn reload(&self) -> anyhow::Result<()> {
        let tokens = read_tokens(&self.path)?;
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = tokens;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Arc<[Vec<u8>]> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Whether `Authorization: Bearer <token>` names one of the tokens. Every
    /// token is compared, in constant time, whatever matches.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(presented) = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
        else {
            return false;
        };
        self.read().iter().fold(false, |found, token| {
            found | bool::from(token.as_slice().ct_eq(presented))
        })
    }
}

fn read_tokens(path: &Path) -> anyhow::Result<Arc<[Vec<u8>]>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read tokens from {}", path.display()))?;
    let tokens: Vec<Vec<u8>> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.as_bytes().to_vec())
        .collect();
    anyhow::ensure!(!tokens.is_empty(), "{} holds no token", path.display());
    anyhow::ensure!(
        tokens.iter().all(|token| token.len() >= 16),
        "every token in {} must be at least 16 characters long",
        path.display()
    );
    Ok(tokens.into())
}

/// Refuses HTTP requests without a valid token: 401 with `WWW-Authenticate`.
pub fn http_layer(tokens: Tokens) -> ValidateRequestHeaderLayer<HttpCheck> {
    ValidateRequestHeaderLayer::custom(HttpCheck(tokens))
}

/// Refuses gRPC calls without a valid token: `UNAUTHENTICATED` (health excepted).
pub fn grpc_layer(tokens: Tokens) -> ValidateRequestHeaderLayer<GrpcCheck> {
    ValidateRequestHeaderLayer::custom(GrpcCheck(tokens))
}

#[derive(Debug, Clone)]
pub struct HttpCheck(Tokens);

impl<B> ValidateRequest<B> for HttpCheck {
    type ResponseBody = axum::body::Body;

    fn validate(&mut self, request: &mut Request<B>) -> Result<(), Response<axum::body::Body>> {
        // CORS preflights carry no credentials; the CORS layer inside answers them.
        if request.method() == axum::http::Method::OPTIONS || self.0.allows(request.headers()) {
            return Ok(());
        }
        let mut response = Response::new(axum::body::Body::from(
            r#"{"status":401,"message":"a valid bearer token is required (Authorization: Bearer <token>)"}"#,
        ));
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Err(response)
    }
}

#[derive(Debug, Clone)]
pub struct GrpcCheck(Tokens);

impl<B> ValidateRequest<B> for GrpcCheck {
    type ResponseBody = tonic::body::Body;

    fn validate(&mut self, request: &mut Request<B>) -> Result<(), Response<tonic::body::Body>> {
        if request.uri().path().starts_with(GRPC_HEALTH_PREFIX) || self.0.allows(request.headers())
        {
            return Ok(());
        }
        Err(tonic::Status::unauthenticated(
            "a valid bearer token is required (authorization: Bearer <token>)",
        )
        .into_http())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(lines: &str) -> Tokens {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), lines).expect("write");
        Tokens::from_file(file.path()).expect("tokens")
    }

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().expect("header"));
        headers
    }

    #[test]
    fn only_listed_tokens_with_the_bearer_scheme_pass() {
        let tokens = tokens("# ops\nfirst-token-0123456789\n\n  second-token-0123456789  \n");
        assert!(tokens.allows(&bearer("Bearer first-token-0123456789")));
        assert!(tokens.allows(&bearer("Bearer second-token-0123456789")));
        assert!(!tokens.allows(&bearer("Bearer first-token-012345678")));
        assert!(!tokens.allows(&bearer("Bearer first-token-01234567890")));
        assert!(!tokens.allows(&bearer("Basic first-token-0123456789")));
        assert!(!tokens.allows(&bearer("first-token-0123456789")));
        assert!(!tokens.allows(&bearer("Bearer # ops")));
        assert!(!tokens.allows(&HeaderMap::new()));
    }

    #[test]
    fn empty_or_short_token_files_are_refused() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), "# nothing\n\n").expect("write");
        assert!(Tokens::from_file(file.path()).is_err());
        std::fs::write(file.path(), "short\n").expect("write");
        let error = Tokens::from_file(file.path()).unwrap_err().to_string();
        assert!(error.contains("at least 16"), "{error}");
    }

    #[test]
    fn reload_swaps_the_tokens_for_every_clone_and_keeps_them_on_a_bad_file() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), "old-token-0123456789\n").expect("write");
        let tokens = Tokens::from_file(file.path()).expect("tokens");
        let clone = tokens.clone();
        std::fs::write(file.path(), "new-token-0123456789\n").expect("write");
        tokens.reload().expect("reload");
        assert!(clone.allows(&bearer("Bearer new-token-0123456789")));
        assert!(!clone.allows(&bearer("Bearer old-token-0123456789")));
        std::fs::write(file.path(), "short\n").expect("write");
        assert!(tokens.reload().is_err());
        assert!(clone.allows(&bearer("Bearer new-token-0123456789")));
    }
}
