//! Transport shared by every TCP listener: socket options, TLS, bearer tokens.

pub mod auth;
mod listener;
pub mod tls;

use tokio::net::{TcpListener, TcpStream};

pub use self::listener::{Conn, Listener};

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::AccessConfig;

/// Serves `router` on `listener` until `shutdown`, then finishes in-flight
/// requests. With `tokens`, every request needs one of them.
pub(crate) async fn serve_http(
    listener: Listener,
    router: axum::Router,
    tokens: Option<auth::Tokens>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = match tokens {
        Some(tokens) => router.layer(auth::http_layer(tokens)),
        None => router,
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// TLS and tokens as loaded when the server starts.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Required by every ingest listener over TCP.
    pub ingest: Option<auth::Tokens>,
    /// Required by the query API's data routes and the gRPC query API.
    pub query: Option<auth::Tokens>,
}

impl Access {
    /// Reads the certificate, key and token files; any problem stops the start.
    pub fn load(config: &AccessConfig) -> anyhow::Result<Access> {
        Ok(Access {
            tls: config
                .tls
                .as_ref()
                .map(|files| tls::server_config(&files.cert_file, &files.key_file))
                .transpose()?,
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
        })
    }

    /// `listener` with this TLS, if any.
    pub fn listener(&self, listener: TcpListener) -> std::io::Result<Listener> {
        Listener::new(listener, self.tls.clone())
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
            let listener = Listener::new(tcp, None).expect("listener");
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
            let Conn::Plain(stream) = conn else {
                panic!("plain TCP expected")
            };
            assert!(stream.nodelay().expect("read TCP_NODELAY"));
        }
    }
}
