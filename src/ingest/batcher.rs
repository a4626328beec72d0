//! Drains the ingest queue into store blocks: flushes on size, on time, and, when
//! exporters wait for durable acks, once a quarter block is waiting or the oldest
//! of them has waited `durable_linger` (group commit: under load, batches grow
//! while the previous write and fsync run). Few exporters with small requests wait
//! the whole linger: 16 in flight × 100 spans stay below a quarter block, so each
//! export takes at least 25 ms by default.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::{IngestError, Submit};
use crate::config::{IngestConfig, StorageMode};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

#[derive(Debug)]
pub struct Batcher {
    config: IngestConfig,
    store: Store,
    rx: mpsc::Receiver<Submit>,
    pending: Vec<Submit>,
    num_pending_spans: usize,
    /// The fsync of the last durable batch, which acknowledges it when done.
    syncing: Option<tokio::task::JoinHandle<()>>,
    /// When the oldest pending durable export arrived.
    durable_since: Option<tokio::time::Instant>,
    /// Enqueued-ack spans were written since the last sync; the next tick syncs them.
    unsynced: bool,
    metrics: Metrics,
}

/// Durable batches are written once they reach this fraction of a full block.
const DURABLE_BATCH_FRACTION: usize = 4;

async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

impl Batcher {
    pub(super) fn new(
        config: &IngestConfig,
        store: Store,
        rx: mpsc::Receiver<Submit>,
        metrics: Metrics,
    ) -> Batcher {
        Batcher {
            config: config.clone(),
            store,
            rx,
            pending: Vec::new(),
            num_pending_spans: 0,
            syncing: None,
            durable_since: None,
            unsynced: false,
            metrics,
        }
    }

    /// Runs until every `IngestHandle` is dropped, then writes what is left.
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(self.config.flush_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            // A durable exporter waits at most `durable_linger` for its batch to grow.
            let linger_deadline = self
                .durable_since
                .map(|since| since + self.config.durable_linger);
            tokio::select! {
                _ = sleep_until_some(linger_deadline) => self.flush().await,
                submit = self.rx.recv() => match submit {
                    Some(submit) => {
                        self.push(submit);
                        // Take everything already waiting, up to one block.
                        while self.num_pending_spans < self.config.max_batch_spans.get() {
                            match self.rx.try_recv() {
                                Ok(submit) => self.push(submit),
                                Err(_) => break,
                            }
                        }
                        // Group commit: durable exports are written once enough spans for a
                        // well-compressed block have arrived, or when the linger runs out.
                        let max_batch = self.config.max_batch_spans.get();
                        let enough_for_durable = self.durable_since.is_some()
                            && self.num_pending_spans >= max_batch / DURABLE_BATCH_FRACTION;
                        if enough_for_durable || self.num_pending_spans >= max_batch {
                            self.flush().await;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    self.flush().await;
                    self.sync_unsynced().await;
                }
            }
        }
        self.flush().await;
        self.wait_for_sync().await;
        if !self.pending.is_empty() {
            tracing::error!(
                num_spans = self.num_pending_spans,
                "could not write queued spans before shutdown"
            );
        }
    }

    fn push(&mut self, submit: Submit) {
        if submit.ack.is_some() && self.durable_since.is_none() {
            self.durable_since = Some(tokio::time::Instant::now());
        }
        self.num_pending_spans += submit.spans.len();
        self.pending.push(submit);
    }

    async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let num_spans = std::mem::take(&mut self.num_pending_spans);
        self.durable_since = None;
        let durable = batch.iter().any(|submit| submit.ack.is_some());
        let (store, storage) = (self.store.clone(), self.config.storage);
        let started = std::time::Instant::now();
        let (written, batch) = tokio::task::spawn_blocking(move || {
            let written = match storage {
                StorageMode::Discard => Ok(0),
                StorageMode::Sled => write(&store, &batch),
            };
            (written, batch)
        })
        .await
        .unwrap_or_else(|_join_error| (Err(StoreError::WriterPanicked), Vec::new()));
        let written = written.map(|num_blocks| {
            self.metrics
                .batch_written(num_spans, num_blocks, started.elapsed());
        });
        if let Err(error) = written {
            let error = IngestError::Store(Arc::new(error));
            tracing::error!(num_spans, error = %error_chain(&error), "failed to write batch");
            for submit in batch {
                match submit.ack {
                    // The exporter may have gone away; it will retry if it cares.
                    Some(ack) => drop(ack.send(Err(error.clone()))),
                    // Enqueued spans were already acknowledged: keep them for the next
                    // flush rather than lose them. Their permits stay held, so the
                    // queue pushes back.
                    None => self.push(Submit {
                        ack: None,
                        ..submit
                    }),
                }
            }
            return;
        }
        if durable && storage == StorageMode::Sled {
            // Pipelining: this batch's fsync runs while the next batch is encoded and
            // written. At most one sync is outstanding; sled's flush covers everything
            // written before it starts, so waiting for the previous one first keeps
            // acknowledgements in order with the data on disk.
            self.wait_for_sync().await;
            let (store, metrics) = (self.store.clone(), self.metrics.clone());
            self.syncing = Some(tokio::spawn(async move {
                let synced = tokio::task::spawn_blocking(move || timed_sync(&store, &metrics))
                    .await
                    .unwrap_or(Err(StoreError::WriterPanicked))
                    .map_err(|error| IngestError::Store(Arc::new(error)));
                if let Err(error) = &synced {
                    tracing::error!(num_spans, error = %error_chain(error), "failed to sync batch");
                }
                for ack in batch.into_iter().filter_map(|submit| submit.ack) {
                    let _ = ack.send(synced.clone());
                }
            }));
        } else {
            self.unsynced = storage == StorageMode::Sled;
            for ack in batch.into_iter().filter_map(|submit| submit.ack) {
                let _ = ack.send(Ok(()));
            }
        }
    }

    /// Syncs spans acknowledged on enqueue, at most once per tick and in the
    /// background, so a crash loses at most about one flush interval of them.
    async fn sync_unsynced(&mut self) {
        if !std::mem::take(&mut self.unsynced) {
            return;
        }
        self.wait_for_sync().await;
        let (store, metrics) = (self.store.clone(), self.metrics.clone());
        self.syncing = Some(tokio::spawn(async move {
            match tokio::task::spawn_blocking(move || timed_sync(&store, &metrics)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    let error = IngestError::Store(Arc::new(error));
                    tracing::error!(error = %error_chain(&error), "failed to sync enqueued spans");
                }
                Err(error) => tracing::error!(%error, "sync task failed"),
            }
        }));
    }

    async fn wait_for_sync(&mut self) {
        if let Some(syncing) = self.syncing.take() {
            if let Err(error) = syncing.await {
                tracing::error!(%error, "sync task failed");
            }
        }
    }
}

fn timed_sync(store: &Store, metrics: &Metrics) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    let synced = store.sync();
    metrics.synced(started.elapsed());
    synced
}

/// Returns how many blocks were written.
fn write(store: &Store, batch: &[Submit]) -> Result<usize, StoreError> {
    let spans: Vec<&crate::model::Span> = batch
        .iter()
        .flat_map(|submit| submit.spans.iter())
        .collect();
    store.write_spans(&spans)
}

fn error_chain(error: &IngestError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
