//! One listener type for every TCP server, plain or TLS: axum serves it through
//! `axum::serve::Listener`, tonic through `Listener::into_incoming`.
//!
//! Every listener serves at most `max_connections` at once: a connection takes a
//! permit before it is accepted and gives it back when it closes, so further
//! clients wait in the kernel's accept queue instead of exhausting file
//! descriptors. TLS handshakes run on tasks of their own, at most `MAX_HANDSHAKES`
//! at a time and each for at most the handshake timeout, so a client that connects
//! and never speaks holds neither the accept loop nor anyone else's handshake.
//!
//! Every accepted connection has a watchdog (`Conn`): it must deliver its first
//! `HANDSHAKE_BYTES` within the handshake timeout, and is closed once nothing has
//! been read or written for the idle timeout. The HTTP/1 header and request
//! deadlines and HTTP/2 pings are set where the servers are built (`net::serve_http`,
//! `net::grpc_server`).

use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::config::ConnectionLimits;

const MAX_HANDSHAKES: usize = 1024;
/// Bytes a connection must send within the handshake timeout: the HTTP/2 client
/// preface is 24 bytes, and every HTTP/1.1 request (with its `Host` header) is
/// longer, so a client dripping its first request byte by byte is cut off.
pub(crate) const HANDSHAKE_BYTES: usize = 24;

/// A bound socket, with TLS when a server configuration is given.
#[derive(Debug)]
pub struct Listener {
    local_addr: SocketAddr,
    kind: Kind,
    limits: Arc<ConnectionLimits>,
    /// One per connection being served (or shaking hands).
    permits: Arc<Semaphore>,
}

type Handshaken = (TlsStream<TcpStream>, SocketAddr, OwnedSemaphorePermit);

#[derive(Debug)]
enum Kind {
    Plain(TcpListener),
    /// Finished handshakes, from the task that accepts and shakes hands.
    Tls(mpsc::Receiver<Handshaken>),
}

impl Listener {
    /// Must be called within a tokio runtime: TLS starts its accepting task here.
    pub fn new(
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        limits: ConnectionLimits,
    ) -> io::Result<Listener> {
        let local_addr = listener.local_addr()?;
        let limits = Arc::new(limits);
        let permits = Arc::new(Semaphore::new(limits.max_connections));
        let kind = match tls {
            None => Kind::Plain(listener),
            Some(config) => {
                let (sender, receiver) = mpsc::channel(64);
                tokio::spawn(accept_tls(
                    listener,
                    TlsAcceptor::from(config),
                    sender,
                    Arc::clone(&permits),
                    limits.handshake_timeout,
                ));
                Kind::Tls(receiver)
            }
        };
        Ok(Listener {
            local_addr,
            kind,
            limits,
            permits,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.kind, Kind::Tls(_))
    }

    /// The limits every connection of this listener gets.
    pub fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    /// The accepted connections as tonic's `serve_with_incoming` takes them.
    pub fn into_incoming(self) -> impl Stream<Item = io::Result<Conn>> + Send + 'static {
        futures_util::stream::unfold(self, |mut listener| async move {
            let (conn, _) = axum::serve::Listener::accept(&mut listener).await;
            Some((Ok(conn), listener))
        })
    }
}

/// A permit for one more connection; waits while `max_connections` are open.
async fn connection_permit(permits: &Arc<Semaphore>) -> OwnedSemaphorePermit {
    match Arc::clone(permits).acquire_owned().await {
        Ok(permit) => permit,
        // The semaphore is never closed.
        Err(_) => std::future::pending().await,
    }
}

/// Accepts TCP connections and hands each to a handshake task, until the listener
/// is dropped (the receiver closes).
async fn accept_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    finished: mpsc::Sender<Handshaken>,
    connections: Arc<Semaphore>,
    handshake_timeout: Duration,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let accepted = tokio::select! {
            () = finished.closed() => return,
            accepted = async {
                let connection = connection_permit(&connections).await;
                (listener.accept().await, connection)
            } => accepted,
        };
        let (accepted, connection) = accepted;
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::debug!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        super::set_nodelay(&stream);
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (acceptor, finished) = (acceptor.clone(), finished.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    drop(permit);
                    let _ = finished.send((stream, peer, connection)).await;
                }
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for Listener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        let (io, peer, permit) = match &mut self.kind {
            Kind::Plain(listener) => {
                let permit = connection_permit(&self.permits).await;
                let (stream, peer) = axum::serve::Listener::accept(listener).await;
                super::set_nodelay(&stream);
                (Io::Plain(stream), peer, permit)
            }
            Kind::Tls(finished) => match finished.recv().await {
                Some((stream, peer, permit)) => (Io::Tls(Box::new(stream)), peer, permit),
                // The accepting task only ends once this receiver is gone.
                None => std::future::pending().await,
            },
        };
        let conn = Conn {
            io,
            watchdog: Watchdog::new(peer, &self.limits),
            _permit: permit,
        };
        (conn, peer)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }
}

/// An accepted connection: the stream, its watchdog, and its place among the
/// listener's `max_connections`.
#[derive(Debug)]
pub struct Conn {
    io: Io,
    watchdog: Watchdog,
    _permit: OwnedSemaphorePermit,
}

#[derive(Debug)]
enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    /// The TCP stream, under TLS or not.
    pub fn tcp(&self) -> &TcpStream {
        match &self.io {
            Io::Plain(stream) => stream,
            Io::Tls(stream) => stream.get_ref().0,
        }
    }
}

/// Closes connections that are slow to start or have gone quiet: reads and writes
/// that would wait fail with `TimedOut` once the deadline has passed, and the
/// server then drops the connection.
#[derive(Debug)]
struct Watchdog {
    peer: SocketAddr,
    /// Bytes still to read before the handshake deadline; 0 once it is met.
    handshake_left: usize,
    idle_timeout: Duration,
    last_active: Instant,
    /// The handshake deadline, then (lazily) the idle one.
    deadline: Pin<Box<Sleep>>,
}

impl Watchdog {
    fn new(peer: SocketAddr, limits: &ConnectionLimits) -> Watchdog {
        let now = Instant::now();
        Watchdog {
            peer,
            handshake_left: HANDSHAKE_BYTES,
            idle_timeout: limits.idle_timeout,
            last_active: now,
            deadline: Box::pin(tokio::time::sleep_until(now + limits.handshake_timeout)),
        }
    }

    fn read(&mut self, num_bytes: usize) {
        if num_bytes > 0 {
            self.handshake_left = self.handshake_left.saturating_sub(num_bytes);
            self.last_active = Instant::now();
        }
    }

    fn wrote(&mut self, num_bytes: usize) {
        if num_bytes > 0 {
            self.last_active = Instant::now();
        }
    }

    /// Ready with the error to fail the waiting read or write with once the
    /// connection has had its time; else registers for the deadline.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            ready!(self.deadline.as_mut().poll(cx));
            if self.handshake_left > 0 {
                tracing::debug!(peer = %self.peer, "closing a connection that sent too little within the handshake timeout");
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "handshake timeout: too few bytes",
                ));
            }
            let idle_until = self.last_active + self.idle_timeout;
            if idle_until <= Instant::now() {
                tracing::debug!(peer = %self.peer, "closing an idle connection");
                return Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "idle timeout"));
            }
            self.deadline.as_mut().reset(idle_until);
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.tcp().connect_info()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = match &mut this.io {
            Io::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Io::Tls(stream) => Pin::new(stream).poll_read(cx, buf),
        };
        match polled {
            Poll::Pending => this.watchdog.poll_expired(cx).map(Err),
            ready => {
                this.watchdog.read(buf.filled().len() - before);
                ready
            }
        }
    }
}

impl Conn {
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match polled {
            Poll::Pending => self.watchdog.poll_expired(cx).map(Err),
            Poll::Ready(Ok(num_bytes)) => {
                self.watchdog.wrote(num_bytes);
                Poll::Ready(Ok(num_bytes))
            }
            error => error,
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = match &mut this.io {
            Io::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Io::Tls(stream) => Pin::new(stream).poll_write(cx, buf),
        };
        this.after_write(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = match &mut this.io {
            Io::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Io::Tls(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        };
        this.after_write(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(stream) => stream.is_write_vectored(),
            Io::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Io::Tls(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Io::Tls(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
