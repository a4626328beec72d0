//! Transport shared by every TCP listener: socket options, TLS, bearer tokens.

pub mod auth;
mod listener;
pub mod tls;

use tokio::net::{TcpListener, TcpStream};

pub use self::listener::{Conn, Listener};

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::config::{AccessConfig, ConnectionLimits};

/// How long an HTTP/2 peer has to answer a keep-alive ping before the connection
/// is closed.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `router` on `listener` until `shutdown`, then finishes in-flight
/// requests. With `tokens`, every request needs one of them.
///
/// Like `axum::serve`, plus the listener's limits: HTTP/1 headers must arrive
/// within the header timeout (hyper enforces it only with a timer, which
/// `axum::serve` doesn't set), a request must be answered within the request
/// timeout (408; this bounds a body sent byte by byte), and HTTP/2 peers are pinged.
pub(crate) async fn serve_http(
    mut listener: Listener,
    router: axum::Router,
    tokens: Option<auth::Tokens>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let limits = listener.limits().clone();
    let router = match tokens {
        Some(tokens) => router.layer(auth::http_layer(tokens)),
        None => router,
    };
    let router = router.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        limits.request_timeout,
    ));
    let builder = http_builder(&limits);
    let graceful = GracefulShutdown::new();
    loop {
        let conn = tokio::select! {
            () = shutdown.cancelled() => break,
            (conn, _) = axum::serve::Listener::accept(&mut listener) => conn,
        };
        let service =
            router
                .clone()
                .map_request(|request: axum::http::Request<hyper::body::Incoming>| {
                    request.map(axum::body::Body::new)
                });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(conn), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::trace!(%error, "HTTP connection ended with an error");
            }
        });
    }
    // Stop accepting (the socket closes) before waiting for in-flight requests.
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

fn http_builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.idle_timeout / 2)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT);
    builder
}

/// A tonic server with the listener's limits: each request answered within the
/// request timeout (else `CANCELLED`, "Timeout expired", as tonic answers a
/// client's own `grpc-timeout`), and peers pinged at half the idle timeout and
/// dropped when a ping goes unanswered.
pub(crate) fn grpc_server(listener: &Listener) -> tonic::transport::Server {
    let limits = listener.limits();
    tonic::transport::Server::builder()
        .timeout(limits.request_timeout)
        .http2_keepalive_interval(Some(limits.idle_timeout / 2))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
}

/// Raises the soft limit on open files to the hard one (as Go's runtime does at
/// start), since every listener may hold `--max-connections`; returns the soft
/// limit now in force. Failing leaves the limit as it was, with a warning.
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return limit.current;
    }
    let raised = rustix::process::Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => limit.maximum,
        Err(error) => {
            tracing::warn!(%error, soft = ?limit.current, "cannot raise the open-files limit");
            limit.current
        }
    }
}

/// TLS and tokens as loaded when the server starts; `reload` reads their files again.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The certificate `tls` presents, which `reload` can replace.
    pub certificate: Option<Arc<tls::Certificate>>,
    /// Required by every ingest listener over TCP.
    pub ingest: Option<auth::Tokens>,
    /// Required by the query API's data routes and the gRPC query API.
    pub query: Option<auth::Tokens>,
    /// Connections and timeouts of every TCP listener.
    pub limits: ConnectionLimits,
}

impl Access {
    /// Reads the certificate, key and token files; any problem stops the start.
    pub fn load(config: &AccessConfig) -> anyhow::Result<Access> {
        let tls = config
            .tls
            .as_ref()
            .map(|files| tls::server_config(&files.cert_file, &files.key_file))
            .transpose()?;
        let (tls, certificate) = tls.unzip();
        Ok(Access {
            tls,
            certificate,
            ingest: config
                .ingest_token_file
                .as_deref()
                .map(auth::Tokens::from_file)
                .transpose()?,
            query: config
                .query_token_file
                .as_deref()
                .map(auth::Tokens::from_file)
                .transpose()?,
            limits: ConnectionLimits::default(),
        })
    }

    /// Reads the certificate, key and token files again. Each that fails to load
    /// is logged and keeps what it had, so a half-written renewal never locks
    /// clients out.
    pub fn reload(&self) {
        if let Some(certificate) = &self.certificate {
            match certificate.reload() {
                Ok(()) => {
                    tracing::info!(cert_file = %certificate.cert_file().display(), "TLS certificate reloaded")
                }
                Err(error) => {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "TLS certificate not reloaded; the previous one stays in use"
                    );
                }
            }
        }
        for (which, tokens) in [("ingest", &self.ingest), ("query", &self.query)] {
            let Some(tokens) = tokens else { continue };
            match tokens.reload() {
                Ok(()) => tracing::info!(which, file = %tokens.path().display(), "tokens reloaded"),
                Err(error) => {
                    tracing::error!(
                        which,
                        error = format!("{error:#}"),
                        "tokens not reloaded; the previous ones stay in use"
                    );
                }
            }
        }
    }

    /// Whether any file would be read again by `reload`.
    pub fn is_reloadable(&self) -> bool {
        self.certificate.is_some() || self.ingest.is_some() || self.query.is_some()
    }

    /// Reloads on every SIGHUP until `shutdown`.
    pub async fn reload_on_hangup(self, shutdown: CancellationToken) {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut hangups = match signal(SignalKind::hangup()) {
                Ok(hangups) => hangups,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGHUP; certificates and tokens load only at start");
                    return;
                }
            };
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    received = hangups.recv() => {
                        if received.is_none() {
                            return;
                        }
                        tracing::info!("SIGHUP: reloading the certificate and token files");
                        self.reload();
                    }
                }
            }
        }
        #[cfg(not(unix))]
        let _ = shutdown;
    }

    /// The same, with these connection limits on every listener.
    pub fn with_limits(self, limits: ConnectionLimits) -> Access {
        Access { limits, ..self }
    }

    /// `listener` with this TLS, if any.
    pub fn listener(&self, listener: TcpListener) -> std::io::Result<Listener> {
        Listener::new(listener, self.tls.clone(), self.limits.clone())
    }
}

/// Sets `TCP_NODELAY` on every accepted connection, as tonic does for listeners it
/// binds itself (but never for an incoming stream it is handed). Without it,
/// Nagle's algorithm holds small frames (HTTP/2 window updates, trailers, short
/// responses) until the peer's delayed ACK, about 40 ms: one connection carrying
/// many concurrent exports, as an OpenTelemetry Collector's does, got half the
/// throughput of several.
pub(crate) fn set_nodelay(stream: &TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "could not set TCP_NODELAY");
    }
}

#[cfg(test)]
mod tests {
    use axum::serve::Listener as _;

    use super::*;

    #[tokio::test]
    async fn plain_listener_sets_nodelay_for_axum_and_tonic() {
        use futures_util::StreamExt as _;

        for tonic_side in [false, true] {
            let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = tcp.local_addr().expect("address");
            let listener = Listener::new(tcp, None, ConnectionLimits::default()).expect("listener");
            let _client = TcpStream::connect(addr).await.expect("connect");
            let conn = if tonic_side {
                let mut incoming = Box::pin(listener.into_incoming());
                incoming
                    .next()
                    .await
                    .expect("a connection")
                    .expect("accepted")
            } else {
                let mut listener = listener;
                listener.accept().await.0
            };
            assert!(conn.tcp().nodelay().expect("read TCP_NODELAY"));
        }
    }
}
