//! The bounded queue between receivers and the store.
//!
//! Receivers call `IngestHandle::submit`; one `Batcher` task drains the queue and
//! writes blocks. The queue is bounded in spans by a semaphore whose permits travel
//! with the spans until they are written, so memory stays bounded even while the
//! store is slow, and a full queue is reported as `IngestError::QueueFull`, which the
//! receivers turn into a retryable OTLP error. Nothing here knows about transports.

mod batcher;

use std::sync::Arc;
use std::time::Duration;

pub use batcher::Batcher;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::config::{AckMode, IngestConfig};
use crate::model::Span;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    #[error("ingest queue is full; retry later")]
    QueueFull,
    #[error("server is shutting down")]
    ShuttingDown,
    #[error("failed to write spans to the store")]
    Store(#[source] Arc<StoreError>),
}

/// Cheap to clone; the batcher finishes once every handle is dropped.
#[derive(Debug, Clone)]
pub struct IngestHandle {
    tx: mpsc::Sender<Submit>,
    permits: Arc<Semaphore>,
    max_queued_spans: usize,
    queue_wait: Duration,
    ack: AckMode,
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
}

pub fn channel(config: &IngestConfig, store: Store) -> (IngestHandle, Batcher) {
    let max_queued_spans = config.max_queued_spans.get();
    // Every message carries at least one span permit, so this bound is never the binding one.
    let (tx, rx) = mpsc::channel(max_queued_spans);
    let handle = IngestHandle {
        tx,
        permits: Arc::new(Semaphore::new(max_queued_spans)),
        max_queued_spans,
        queue_wait: config.queue_wait,
        ack: config.ack,
        observer: None,
    };
    (handle, Batcher::new(config, store, rx))
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
        let permit = match tokio::time::timeout(
            self.queue_wait,
            Arc::clone(&self.permits).acquire_many_owned(wanted),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
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
            })
            .await
            .map_err(|_| IngestError::ShuttingDown)?;
        match done {
            Some(done) => done.await.map_err(|_| IngestError::ShuttingDown)?,
            None => Ok(()),
        }
    }

    /// Spans currently queued or being written.
    pub fn queued_spans(&self) -> usize {
        self.max_queued_spans - self.permits.available_permits()
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
        let store = Store::open(&config.store).expect("store opens");
        let (handle, batcher) = channel(&config.ingest, store);
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
