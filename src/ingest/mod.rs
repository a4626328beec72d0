//! The bounded queue between receivers and the store.
//!
//! Receivers call `IngestHandle::submit`; one `Batcher` task drains the queue and
//! writes blocks. The queue is bounded twice, in spans and in bytes (each span's
//! `Span::approx_bytes`, counted in KiB), by semaphores whose permits travel with the
//! spans until they are written, so memory stays bounded even while the store is
//! slow and exporters send huge spans, and a full queue is reported as
//! `IngestError::QueueFull`, which the receivers turn into a retryable OTLP error.
//! Nothing here knows about transports.

mod batcher;

use std::sync::Arc;
use std::time::Duration;

pub use batcher::Batcher;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::config::{AckMode, IngestConfig};
use crate::metrics::{Metrics, QueueDepth};
use crate::model::Span;
use crate::storage::{Storage, StorageError};

#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    #[error("ingest queue is full; retry later")]
    QueueFull,
    #[error("server is shutting down")]
    ShuttingDown,
    #[error("failed to write spans to the store")]
    Store(#[source] Arc<StorageError>),
}

/// Cheap to clone; the batcher finishes once every handle is dropped.
#[derive(Debug, Clone)]
pub struct IngestHandle {
    tx: mpsc::Sender<Submit>,
    permits: Arc<Semaphore>,
    max_queued_spans: usize,
    /// Permits of one KiB of `Span::approx_bytes`.
    kib_permits: Arc<Semaphore>,
    max_queued_kib: usize,
    queue_wait: Duration,
    ack: AckMode,
    metrics: Metrics,
    observer: Option<Arc<dyn SpanObserver>>,
}

/// Sees every accepted batch before it is queued, e.g. adaptive sampling counting
/// root spans. Must be quick: it runs on the receiver's task.
pub trait SpanObserver: Send + Sync + std::fmt::Debug {
    fn observe(&self, spans: &[Span]);
}

#[derive(Debug)]
struct Submit {
    spans: Vec<Span>,
    /// `Some` in `AckMode::Durable`: answered once the spans are on disk.
    ack: Option<oneshot::Sender<Result<(), IngestError>>>,
    /// Released when the spans have been written (or dropped).
    _permit: OwnedSemaphorePermit,
    _kib_permit: OwnedSemaphorePermit,
}

/// The queue: handles for receivers and the batcher that drains it. `metrics`
/// reports the queue's depth and the batcher's writes.
pub fn channel(
    config: &IngestConfig,
    store: Arc<dyn Storage>,
    metrics: Metrics,
) -> (IngestHandle, Batcher) {
    let max_queued_spans = config.max_queued_spans.get();
    // Every message carries at least one span permit, so this bound is never the binding one.
    let (tx, rx) = mpsc::channel(max_queued_spans);
    let permits = Arc::new(Semaphore::new(max_queued_spans));
    let max_queued_kib = (config.max_queued_bytes.get() / 1024)
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let kib_permits = Arc::new(Semaphore::new(max_queued_kib));
    // A weak reference: the gauge must not keep the queue alive.
    let watched = Arc::downgrade(&permits);
    let watched_kib = Arc::downgrade(&kib_permits);
    metrics.watch_queue(move || QueueDepth {
        queued_spans: watched.upgrade().map_or(0, |permits| {
            max_queued_spans.saturating_sub(permits.available_permits())
        }),
        queued_bytes: watched_kib.upgrade().map_or(0, |permits| {
            max_queued_kib.saturating_sub(permits.available_permits()) * 1024
        }),
        capacity_bytes: max_queued_kib * 1024,
        capacity_spans: max_queued_spans,
    });
    let handle = IngestHandle {
        tx,
        permits,
        max_queued_spans,
        kib_permits,
        max_queued_kib,
        queue_wait: config.queue_wait,
        ack: config.ack,
        metrics: metrics.clone(),
        observer: None,
    };
    (handle, Batcher::new(config, store, rx, metrics))
}

impl IngestHandle {
    /// Lets `observer` see every batch this handle (and its clones) accepts.
    pub fn with_observer(mut self, observer: Arc<dyn SpanObserver>) -> IngestHandle {
        self.observer = Some(observer);
        self
    }

    /// Queues spans; in durable mode, returns once they are written and synced.
    pub async fn submit(&self, spans: Vec<Span>) -> Result<(), IngestError> {
        if spans.is_empty() {
            return Ok(());
        }
        // A request larger than the whole queue takes every permit rather than waiting forever.
        let wanted = spans.len().min(self.max_queued_spans) as u32;
        let bytes: usize = spans.iter().map(Span::approx_bytes).sum();
        let wanted_kib = bytes.div_ceil(1024).clamp(1, self.max_queued_kib) as u32;
        let acquired = tokio::time::timeout(self.queue_wait, async {
            let permit = Arc::clone(&self.permits).acquire_many_owned(wanted).await?;
            let kib_permit = Arc::clone(&self.kib_permits)
                .acquire_many_owned(wanted_kib)
                .await?;
            Ok::<_, tokio::sync::AcquireError>((permit, kib_permit))
        })
        .await;
        let (permit, kib_permit) = match acquired {
            Ok(Ok(permits)) => permits,
            Ok(Err(_closed)) => return Err(IngestError::ShuttingDown),
            Err(_elapsed) => return Err(IngestError::QueueFull),
        };
        if let Some(observer) = &self.observer {
            observer.observe(&spans);
        }
        let (ack, done) = match self.ack {
            AckMode::Durable => {
                let (tx, rx) = oneshot::channel();
                (Some(tx), Some(rx))
            }
            AckMode::Enqueued => (None, None),
        };
        self.tx
            .send(Submit {
                spans,
                ack,
                _permit: permit,
                _kib_permit: kib_permit,
            })
            .await
            .map_err(|_| IngestError::ShuttingDown)?;
        match done {
            Some(done) => done.await.map_err(|_| IngestError::ShuttingDown)?,
            None => Ok(()),
        }
    }

    /// Where receivers record what they received, accepted and rejected.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Spans currently queued or being written.
    pub fn queued_spans(&self) -> usize {
        self.max_queued_spans - self.permits.available_permits()
    }

    /// KiB of spans currently queued or being written.
    pub fn queued_kib(&self) -> usize {
        self.max_queued_kib - self.kib_permits.available_permits()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::num::NonZeroUsize;

    use super::*;
    use crate::config::{Config, StorageMode};

    fn spans(count: usize) -> Vec<Span> {
        (0..count)
            .map(|index| Span {
                trace_id: crate::model::TraceId([1; 16]),
                span_id: crate::model::SpanId([index as u8 + 1; 8]),
                parent_span_id: None,
                trace_state: String::new(),
                flags: 0,
                name: "op".into(),
                kind: crate::model::SpanKind::Server,
                start_unix_nanos: 1,
                end_unix_nanos: 2,
                attributes: vec![],
                events: vec![],
                links: vec![],
                status_code: crate::model::StatusCode::Unset,
                status_message: String::new(),
                resource: Default::default(),
                scope: Default::default(),
            })
            .collect()
    }

    /// A handle whose batcher is held but never run, so queued spans stay queued.
    pub(crate) fn stalled_handle(
        max_queued_spans: usize,
        queue_wait: Duration,
    ) -> (IngestHandle, Batcher, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(dir.path());
        config.ingest.ack = AckMode::Enqueued;
        config.ingest.storage = StorageMode::Discard;
        config.ingest.max_queued_spans = NonZeroUsize::new(max_queued_spans).expect("non-zero");
        config.ingest.queue_wait = queue_wait;
        let store = Arc::new(crate::store::Store::open(&config.store).expect("store opens"));
        let (handle, batcher) = channel(&config.ingest, store, Metrics::new());
        (handle, batcher, dir)
    }

    #[tokio::test]
    async fn a_full_queue_refuses_instead_of_growing() {
        let (handle, _batcher, _dir) = stalled_handle(2, Duration::from_millis(10));
        handle.submit(spans(2)).await.unwrap();
        assert_eq!(handle.queued_spans(), 2);
        assert!(matches!(
            handle.submit(spans(1)).await,
            Err(IngestError::QueueFull)
        ));
        assert_eq!(handle.queued_spans(), 2, "the refused spans took no room");
    }

    #[tokio::test]
    async fn the_queue_is_bounded_in_bytes_too() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(dir.path());
        config.ingest.ack = AckMode::Enqueued;
        config.ingest.max_queued_bytes = NonZeroUsize::new(256 << 10).expect("non-zero");
        config.ingest.queue_wait = Duration::from_millis(10);
        let store = Arc::new(crate::store::Store::open(&config.store).expect("store opens"));
        let (handle, _batcher) = channel(&config.ingest, store, Metrics::new());
        let bulky = |kib: usize| {
            let mut spans = spans(1);
            spans[0].name = "x".repeat(kib << 10);
            spans
        };
        handle.submit(bulky(200)).await.unwrap();
        assert!(
            (200..210).contains(&handle.queued_kib()),
            "{}",
            handle.queued_kib()
        );
        assert!(matches!(
            handle.submit(bulky(100)).await,
            Err(IngestError::QueueFull)
        ));
        assert_eq!(handle.queued_spans(), 1, "the refused span took no room");
        handle.submit(bulky(40)).await.unwrap();
    }

    #[tokio::test]
    async fn the_batcher_releases_room_once_spans_are_written() {
        // Generous: the batcher must get scheduled within the wait, on a busy machine too.
        let (handle, batcher, _dir) = stalled_handle(2, Duration::from_secs(30));
        handle.submit(spans(2)).await.unwrap();
        let running = tokio::spawn(batcher.run());
        // A request larger than the whole queue still gets through once there is room.
        handle.submit(spans(5)).await.unwrap();
        drop(handle);
        running.await.unwrap();
    }

    /// A backend whose writes are durable when they return and take a while, as
    /// ClickHouse's INSERTs do; it counts the writes in flight at once and fails
    /// the writes of spans named "fail".
    #[derive(Debug, Default)]
    struct SlowServer {
        in_flight: std::sync::atomic::AtomicUsize,
        most_in_flight: std::sync::atomic::AtomicUsize,
        written: std::sync::atomic::AtomicUsize,
    }

    impl Storage for SlowServer {
        fn write_spans(&self, spans: &[&Span]) -> Result<usize, crate::storage::StorageError> {
            use std::sync::atomic::Ordering::SeqCst;
            let now = self.in_flight.fetch_add(1, SeqCst) + 1;
            self.most_in_flight.fetch_max(now, SeqCst);
            std::thread::sleep(Duration::from_millis(40));
            self.in_flight.fetch_sub(1, SeqCst);
            if spans.iter().any(|span| span.name == "fail") {
                return Err(crate::storage::StorageError::Unavailable("down".into()));
            }
            self.written.fetch_add(spans.len(), SeqCst);
            Ok(spans.len())
        }
        fn sync(&self) -> Result<(), crate::storage::StorageError> {
            unreachable!("a backend whose writes are durable is never synced")
        }
        fn read_traces(
            &self,
            _: &[crate::model::TraceId],
        ) -> Result<
            std::collections::HashMap<crate::model::TraceId, Vec<Span>>,
            crate::storage::StorageError,
        > {
            Err(crate::storage::StorageError::Unsupported("reads"))
        }
        fn find_trace_ids(
            &self,
            _: &crate::storage::TraceQuery,
        ) -> Result<Vec<crate::model::TraceId>, crate::storage::StorageError> {
            Err(crate::storage::StorageError::Unsupported("reads"))
        }
        fn services(&self) -> Result<Vec<String>, crate::storage::StorageError> {
            Err(crate::storage::StorageError::Unsupported("reads"))
        }
        fn operations(
            &self,
            _: &str,
            _: Option<crate::model::SpanKind>,
        ) -> Result<Vec<crate::storage::Operation>, crate::storage::StorageError> {
            Err(crate::storage::StorageError::Unsupported("reads"))
        }
        fn dependencies(
            &self,
            _: u64,
            _: u64,
        ) -> Result<Vec<crate::storage::Dependency>, crate::storage::StorageError> {
            Err(crate::storage::StorageError::Unsupported("reads"))
        }
        fn red_cells(
            &self,
            _: &crate::storage::RedSelection,
            _: u64,
            _: u64,
            _: u64,
        ) -> Result<Vec<crate::storage::NamedRedCell>, crate::storage::StorageError> {
            Err(crate::storage::StorageError::Unsupported("reads"))
        }
        fn sampling_probabilities(
            &self,
        ) -> Result<Vec<(String, String, f64)>, crate::storage::StorageError> {
            Err(crate::storage::StorageError::Unsupported("reads"))
        }
        fn save_sampling_probabilities(
            &self,
            _: &[(String, String, f64)],
        ) -> Result<(), crate::storage::StorageError> {
            Err(crate::storage::StorageError::Unsupported("sampling"))
        }
    }

    #[tokio::test]
    async fn a_backend_without_sync_gets_several_batches_at_once_and_no_more() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(dir.path());
        config.ingest.ack = AckMode::Durable;
        config.ingest.storage = StorageMode::Clickhouse;
        config.ingest.max_writes_in_flight = NonZeroUsize::new(3).expect("non-zero");
        config.ingest.queue_wait = Duration::from_secs(30);
        let server = Arc::new(SlowServer::default());
        let (handle, batcher) = channel(&config.ingest, server.clone(), Metrics::new());
        let running = tokio::spawn(batcher.run());
        // Sixteen exporters, one request each, 5 ms apart (a write takes 40 ms): the
        // first three find free writes and go out alone, the rest gather behind them.
        let mut exports = tokio::task::JoinSet::new();
        for exporter in 0..16 {
            let handle = handle.clone();
            exports.spawn(async move {
                tokio::time::sleep(Duration::from_millis(5 * exporter as u64)).await;
                let mut spans = spans(2);
                if exporter == 5 {
                    spans[0].name = "fail".into();
                }
                (exporter, handle.submit(spans).await)
            });
        }
        let mut failed = Vec::new();
        while let Some(joined) = exports.join_next().await {
            let (exporter, acked) = joined.expect("export task");
            match acked {
                Ok(()) => {}
                Err(IngestError::Store(error)) if error.is_retryable() => failed.push(exporter),
                Err(error) => panic!("exporter {exporter}: {error}"),
            }
        }
        drop(handle);
        running.await.expect("batcher");
        use std::sync::atomic::Ordering::SeqCst;
        assert_eq!(server.most_in_flight.load(SeqCst), 3, "writes at once");
        // Only the batch holding exporter 5's spans failed, and only its exporters
        // were told so; everyone else's spans were written once.
        assert!(failed.contains(&5), "{failed:?}");
        assert_eq!(server.written.load(SeqCst), 2 * (16 - failed.len()));
    }

    #[tokio::test]
    async fn submitting_after_the_batcher_is_gone_reports_shutdown() {
        let (handle, batcher, _dir) = stalled_handle(2, Duration::from_millis(10));
        drop(batcher);
        assert!(matches!(
            handle.submit(spans(1)).await,
            Err(IngestError::ShuttingDown)
        ));
    }
}
