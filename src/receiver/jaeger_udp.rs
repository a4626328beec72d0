//! The Jaeger agent's UDP ports: `Agent.emitBatch` in Thrift compact (6831) or binary
//! (6832), one batch per datagram.
//!
//! UDP can't push back or report errors, so a datagram that is malformed, or that
//! arrives while the ingest queue is full, is dropped and counted, and the counts are
//! logged at most once per `DROP_LOG_INTERVAL`. The listener never stops for bad input.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::ingest::IngestHandle;
use crate::protocol::jaeger::{self, api_v2, ThriftError};

/// Largest datagram Jaeger clients send (their `maxPacketSize` default); larger
/// reads are truncated by the kernel and then fail to decode.
pub(crate) const MAX_DATAGRAM_BYTES: usize = 65_000;
/// Datagrams being submitted at once; beyond it a datagram is dropped, as the queue
/// is then evidently not keeping up.
const MAX_IN_FLIGHT: usize = 256;
/// Shortest time between two drop reports in the log.
const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Which Thrift protocol a UDP port speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThriftProtocol {
    Compact,
    Binary,
}

impl ThriftProtocol {
    fn decode(self, datagram: &[u8]) -> Result<api_v2::Batch, ThriftError> {
        match self {
            ThriftProtocol::Compact => jaeger::decode_compact_emit_batch(datagram),
            ThriftProtocol::Binary => jaeger::decode_binary_emit_batch(datagram),
        }
    }
}

/// Counts of what a UDP port dropped since it started.
#[derive(Debug, Default)]
pub(crate) struct UdpDrops {
    /// Datagrams that were not a valid `emitBatch`.
    pub(crate) malformed_datagrams: AtomicU64,
    /// Spans rejected one by one (bad IDs) inside valid datagrams.
    pub(crate) rejected_spans: AtomicU64,
    /// Spans dropped because the queue was full or the server was stopping.
    pub(crate) queue_dropped_spans: AtomicU64,
}

pub(crate) async fn serve(
    socket: UdpSocket,
    protocol: ThriftProtocol,
    ingest: IngestHandle,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let drops = Arc::new(UdpDrops::default());
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut reporter = DropReporter::new(protocol);
    // One byte more than allowed, so an oversized datagram is seen as such.
    let mut buffer = vec![0u8; MAX_DATAGRAM_BYTES + 1];
    loop {
        let len = tokio::select! {
            () = shutdown.cancelled() => break,
            received = socket.recv_from(&mut buffer) => match received {
                Ok((len, _peer)) => len,
                Err(error) => {
                    // ICMP errors surface here on some systems; they concern one peer only.
                    tracing::debug!(%error, "UDP receive failed");
                    continue;
                }
            },
        };
        if len > MAX_DATAGRAM_BYTES {
            drops.malformed_datagrams.fetch_add(1, Ordering::Relaxed);
            reporter.note(&drops, || {
                format!("datagram over {MAX_DATAGRAM_BYTES} bytes")
            });
            continue;
        }
        let batch = match protocol.decode(&buffer[..len]) {
            Ok(batch) => batch,
            Err(error) => {
                drops.malformed_datagrams.fetch_add(1, Ordering::Relaxed);
                reporter.note(&drops, || error.to_string());
                continue;
            }
        };
        let converted = jaeger::convert(batch);
        if converted.num_rejected > 0 {
            drops
                .rejected_spans
                .fetch_add(converted.num_rejected, Ordering::Relaxed);
            reporter.note(&drops, || converted.first_error_message());
        }
        if converted.spans.is_empty() {
            continue;
        }
        let Ok(permit) = Arc::clone(&in_flight).try_acquire_owned() else {
            drops
                .queue_dropped_spans
                .fetch_add(converted.spans.len() as u64, Ordering::Relaxed);
            reporter.note(&drops, || {
                "too many datagrams waiting for the queue".to_owned()
            });
            continue;
        };
        let (ingest, drops) = (ingest.clone(), Arc::clone(&drops));
        tokio::spawn(async move {
            let num_spans = converted.spans.len() as u64;
            if ingest.submit(converted.spans).await.is_err() {
                drops
                    .queue_dropped_spans
                    .fetch_add(num_spans, Ordering::Relaxed);
            }
            drop(permit);
        });
    }
    // Let submissions in flight finish before the ingest handle goes away.
    let _all = in_flight.acquire_many(MAX_IN_FLIGHT as u32).await;
    reporter.flush(&drops);
    Ok(())
}

/// Logs drops at most once per interval, with the totals and the latest reason.
#[derive(Debug)]
struct DropReporter {
    protocol: ThriftProtocol,
    last_logged: Option<Instant>,
    unlogged: bool,
}

impl DropReporter {
    fn new(protocol: ThriftProtocol) -> Self {
        DropReporter {
            protocol,
            last_logged: None,
            unlogged: false,
        }
    }

    fn note(&mut self, drops: &UdpDrops, reason: impl FnOnce() -> String) {
        let now = Instant::now();
        if self
            .last_logged
            .is_some_and(|last| now.duration_since(last) < DROP_LOG_INTERVAL)
        {
            self.unlogged = true;
            return;
        }
        self.last_logged = Some(now);
        self.unlogged = false;
        self.log(drops, &reason());
    }

    fn flush(&mut self, drops: &UdpDrops) {
        if self.unlogged {
            self.log(drops, "(see earlier)");
        }
    }

    fn log(&self, drops: &UdpDrops, reason: &str) {
        tracing::warn!(
            protocol = ?self.protocol,
            malformed_datagrams = drops.malformed_datagrams.load(Ordering::Relaxed),
            rejected_spans = drops.rejected_spans.load(Ordering::Relaxed),
            queue_dropped_spans = drops.queue_dropped_spans.load(Ordering::Relaxed),
            reason,
            "Jaeger UDP dropped data (totals since start)"
        );
    }
}
