//! Drains the ingest queue into store blocks.
//!
//! Durable exports use group commit without a fixed wait: when the writer is idle,
//! an export is written and fsynced at once; exports that arrive while a write or
//! an fsync is in flight wait for it and then go out together as the next group. So
//! one exporter pays one write and one fsync, and under load the groups (and the
//! blocks) grow by themselves. A group that reaches a quarter block while an fsync
//! runs is written at once, so its encoding overlaps that fsync (at most one fsync
//! is outstanding). `--storage discard` never waits. Enqueued acks are written on
//! size or every flush interval.
//!
//! A backend whose writes are durable when they return (ClickHouse: the INSERTs
//! were confirmed) has no fsync to pipeline; instead up to `max_writes_in_flight`
//! batches are written at once, each acknowledged when its own write returns, and
//! exports that arrive while all are busy gather into the next batch.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::{IngestError, Submit};
use crate::config::{IngestConfig, StorageMode};
use crate::metrics::Metrics;
use crate::storage::{Storage, StorageError};

#[derive(Debug)]
pub struct Batcher {
    config: IngestConfig,
    store: Arc<dyn Storage>,
    rx: mpsc::Receiver<Submit>,
    pending: Vec<Submit>,
    num_pending_spans: usize,
    /// The fsync of the last durable batch, which acknowledges it when done.
    syncing: Option<tokio::task::JoinHandle<()>>,
    /// Some pending export waits for a durable ack.
    pending_durable: bool,
    /// Enqueued-ack spans were written since the last sync; the next tick syncs them.
    unsynced: bool,
    /// Writes in flight to a backend that needs no sync (ClickHouse); each yields
    /// the enqueued-ack submits it failed to write, to be written again.
    writes: tokio::task::JoinSet<Vec<Submit>>,
    metrics: Metrics,
}

/// While an fsync is in flight, a durable group is written (not yet synced) once it
/// reaches this fraction of a full block, so encoding overlaps the fsync.
const DURABLE_BATCH_FRACTION: usize = 4;

/// Resolves when the in-flight fsync (if any) finishes; never when there is none.
async fn sync_done(syncing: &mut Option<tokio::task::JoinHandle<()>>) {
    match syncing {
        Some(handle) => {
            if let Err(error) = handle.await {
                tracing::error!(%error, "sync task failed");
            }
            *syncing = None;
        }
        None => std::future::pending().await,
    }
}

impl Batcher {
    pub(super) fn new(
        config: &IngestConfig,
        store: Arc<dyn Storage>,
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
            pending_durable: false,
            unsynced: false,
            writes: tokio::task::JoinSet::new(),
            metrics,
        }
    }

    /// Runs until every `IngestHandle` is dropped, then writes what is left.
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(self.config.flush_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = sync_done(&mut self.syncing) => {
                    // The group that gathered during the fsync goes out now.
                    if self.pending_durable {
                        self.flush().await;
                    }
                }
                Some(joined) = self.writes.join_next(), if !self.writes.is_empty() => {
                    self.write_done(joined);
                    // The group that gathered while every write was busy goes out now.
                    if self.pending_durable {
                        self.flush().await;
                    }
                }
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
                        if self.should_flush_now() {
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
        while let Some(joined) = self.writes.join_next().await {
            self.write_done(joined);
        }
        if !self.pending.is_empty() {
            tracing::error!(
                num_spans = self.num_pending_spans,
                "could not write queued spans before shutdown"
            );
        }
    }

    /// Whether the pending spans should be written right away rather than gather.
    fn should_flush_now(&self) -> bool {
        let max_batch = self.config.max_batch_spans.get();
        if self.num_pending_spans >= max_batch || self.config.storage == StorageMode::Discard {
            return true;
        }
        if !self.pending_durable {
            return false; // enqueued acks: on size or on the tick
        }
        if self.config.storage == StorageMode::Clickhouse {
            // A write is free: use it. All busy: gather until one is done.
            return self.writes.len() < self.config.max_writes_in_flight.get();
        }
        // Idle writer: write and fsync at once. Busy: gather until the fsync is done,
        // unless the group is already big enough for a well-compressed block.
        self.syncing.is_none() || self.num_pending_spans >= max_batch / DURABLE_BATCH_FRACTION
    }

    /// Takes back what a finished concurrent write could not write.
    fn write_done(&mut self, joined: Result<Vec<Submit>, tokio::task::JoinError>) {
        match joined {
            Ok(failed) => failed.into_iter().for_each(|submit| self.push(submit)),
            // The task only awaits the blocking write, which catches panics itself.
            Err(error) => tracing::error!(%error, "write task failed"),
        }
    }

    /// Writes a batch beside the others in flight (ClickHouse), waiting for a free
    /// slot first; each export is acknowledged when its batch's write returns.
    async fn write_concurrently(&mut self, batch: Vec<Submit>, num_spans: usize) {
        while self.writes.len() >= self.config.max_writes_in_flight.get() {
            if let Some(joined) = self.writes.join_next().await {
                self.write_done(joined);
            }
        }
        let (store, metrics) = (self.store.clone(), self.metrics.clone());
        self.writes.spawn(async move {
            let started = std::time::Instant::now();
            let (written, batch) = tokio::task::spawn_blocking(move || {
                let written = write(store.as_ref(), &batch);
                (written, batch)
            })
            .await
            .unwrap_or_else(|_join_error| (Err(writer_panicked()), Vec::new()));
            match written {
                Ok(num_blocks) => {
                    metrics.batch_written(num_spans, num_blocks, started.elapsed());
                    for ack in batch.into_iter().filter_map(|submit| submit.ack) {
                        let _ = ack.send(Ok(()));
                    }
                    Vec::new()
                }
                Err(error) => answer_failed(batch, error, num_spans),
            }
        });
    }

    fn push(&mut self, submit: Submit) {
        self.pending_durable |= submit.ack.is_some();
        self.num_pending_spans += submit.spans.len();
        self.pending.push(submit);
    }

    async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let num_spans = std::mem::take(&mut self.num_pending_spans);
        self.pending_durable = false;
        if self.config.storage == StorageMode::Clickhouse {
            return self.write_concurrently(batch, num_spans).await;
        }
        let durable = batch.iter().any(|submit| submit.ack.is_some());
        let (store, storage) = (self.store.clone(), self.config.storage);
        let started = std::time::Instant::now();
        let (written, batch) = tokio::task::spawn_blocking(move || {
            let written = match storage {
                StorageMode::Discard => Ok(0),
                StorageMode::Sled | StorageMode::Clickhouse => write(store.as_ref(), &batch),
            };
            (written, batch)
        })
        .await
        .unwrap_or_else(|_join_error| (Err(writer_panicked()), Vec::new()));
        let written = written.map(|num_blocks| {
            self.metrics
                .batch_written(num_spans, num_blocks, started.elapsed());
        });
        if let Err(error) = written {
            for submit in answer_failed(batch, error, num_spans) {
                self.push(submit);
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
                let synced =
                    tokio::task::spawn_blocking(move || timed_sync(store.as_ref(), &metrics))
                        .await
                        .unwrap_or(Err(writer_panicked()))
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
            match tokio::task::spawn_blocking(move || timed_sync(store.as_ref(), &metrics)).await {
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

fn timed_sync(store: &dyn Storage, metrics: &Metrics) -> Result<(), StorageError> {
    let started = std::time::Instant::now();
    let synced = store.sync();
    metrics.synced(started.elapsed());
    synced
}

/// Returns how many blocks were written.
fn write(store: &dyn Storage, batch: &[Submit]) -> Result<usize, StorageError> {
    let spans: Vec<&crate::model::Span> = batch
        .iter()
        .flat_map(|submit| submit.spans.iter())
        .collect();
    store.write_spans(&spans)
}

/// Answers the durable exports of a batch that could not be written with the
/// error, and returns its enqueued-ack submits: they were already acknowledged, so
/// they are kept for the next write rather than lost (their queue permits stay
/// held, so the queue pushes back).
fn answer_failed(batch: Vec<Submit>, error: StorageError, num_spans: usize) -> Vec<Submit> {
    let error = IngestError::Store(Arc::new(error));
    tracing::error!(num_spans, error = %error_chain(&error), "failed to write batch");
    let mut kept = Vec::new();
    for submit in batch {
        match submit.ack {
            // The exporter may have gone away; it will retry if it cares.
            Some(ack) => drop(ack.send(Err(error.clone()))),
            None => kept.push(Submit {
                ack: None,
                ..submit
            }),
        }
    }
    kept
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

fn writer_panicked() -> StorageError {
    StorageError::Backend("the storage writer panicked".into())
}
