//! The ClickHouse backend behind the storage seam (`--storage clickhouse`): stateless
//! Tracery nodes over one ClickHouse server or cluster.
//!
//! `ClickHouse` implements `storage::Storage` through the official `clickhouse`
//! crate (HTTP, RowBinary, LZ4). The trait is synchronous and called on tokio's
//! blocking pool; each method drives the async client there through the runtime
//! `Handle` captured at open, with a deadline, so a server that hangs is an error and
//! not a stuck ingest queue. Writes return only after ClickHouse confirmed the
//! INSERT (in a cluster with `insert_distributed_sync=1`, after the shards did), so
//! `sync` has nothing left to do. An unreachable server, a deadline or one of the
//! server's own transient errors is `StorageError::Unavailable`: exporters get a
//! retryable status and queries a 503.
//!
//! Files: `profile.rs` (the only SQL that differs between server versions),
//! `schema.rs` (tables, creation, schema version), `sql.rs` (queries), `rows.rs`
//! (row types and searchable terms), `codec.rs` (the encoded span).
//!
//! Must not: name sled or the embedded store, or be named above the seam (only
//! `app.rs` opens it).

pub mod check;
pub mod codec;
pub mod profile;
pub(crate) mod rows;
pub mod schema;
pub mod sql;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clickhouse::Client;

pub use profile::Profile;
pub use schema::{Layout, SCHEMA_VERSION};

use crate::config::ClickHouseConfig;
use crate::model::{Span, SpanKind, TraceId};
use crate::storage::query::span_matches;
use crate::storage::red::{Exemplar, RedCell};
use crate::storage::{
    Dependency, NamedRedCell, Operation, RedSelection, Storage, StorageError, TraceQuery,
};
use rows::{
    DependencyRow, EncodedSpan, FoundTrace, Name, OperationName, OperationRow, Partition,
    RedBucketRow, SamplingRow, SpanRow, TraceSpanRow, Version,
};

/// How long one request to ClickHouse may take before it counts as unavailable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// An operation row is written again after this long, so TTL or retention deletes
/// only operations that stopped being seen.
const OPERATION_REFRESH_SECS: u32 = 3_600;

/// Traces fetched per round when spans must be checked in Rust (`filter=`).
const MIN_CANDIDATES: usize = 100;
/// Most candidate traces one search checks in Rust before it answers with what it found.
const MAX_CANDIDATES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("failed to read the ClickHouse password file {path}")]
    PasswordFile {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to reach ClickHouse at {url}")]
    Unreachable { url: String, source: StorageError },
    #[error("ClickHouse database `{database}` lacks tables {missing:?}; start once with --clickhouse-create-schema")]
    MissingTables {
        database: String,
        missing: Vec<&'static str>,
    },
    #[error(
        "ClickHouse schema version {found} is newer than this build's {}",
        SCHEMA_VERSION
    )]
    NewerSchema { found: u32 },
    #[error("failed to read the ClickHouse schema")]
    ReadSchema(#[source] StorageError),
    #[error("failed to create the ClickHouse schema")]
    Create(#[source] StorageError),
}

impl OpenError {
    /// Whether trying again later may succeed: the server was unreachable, busy or
    /// dropped the connection, as opposed to a wrong schema or a missing file.
    pub fn is_transient(&self) -> bool {
        match self {
            OpenError::Unreachable { source, .. }
            | OpenError::ReadSchema(source)
            | OpenError::Create(source) => matches!(source, StorageError::Unavailable(_)),
            OpenError::PasswordFile { .. }
            | OpenError::MissingTables { .. }
            | OpenError::NewerSchema { .. } => false,
        }
    }
}

/// The ClickHouse backend; cheap to share behind an `Arc`.
pub struct ClickHouse {
    client: Client,
    layout: Layout,
    runtime: tokio::runtime::Handle,
    /// (service, operation, kind) → when this process last wrote its row.
    operations_written: Mutex<HashMap<(String, String, u8), u32>>,
    /// The first hour the last retention round kept (`expire_before`).
    retention_kept_from: Mutex<Option<u64>>,
}

impl std::fmt::Debug for ClickHouse {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ClickHouse")
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl ClickHouse {
    /// Connects, picks the profile from the server's version, and creates the
    /// schema (with `create_schema`) or checks that it is there. Blocks: call it on
    /// the blocking pool.
    pub fn open(
        config: &ClickHouseConfig,
        retention: Option<Duration>,
        runtime: tokio::runtime::Handle,
    ) -> Result<ClickHouse, OpenError> {
        let mut client = new_client()
            .with_url(&config.url)
            .with_user(&config.user)
            .with_validation(false)
            .with_compression(clickhouse::Compression::Lz4);
        if let Some(password) = password(config)? {
            client = client.with_password(password);
        }
        let mut backend = ClickHouse {
            client,
            layout: Layout {
                database: config.database.clone(),
                cluster: config.cluster.clone(),
                profile: Profile::Compat,
                retention,
            },
            runtime,
            operations_written: Mutex::new(HashMap::new()),
            retention_kept_from: Mutex::new(None),
        };
        let unreachable = |source| OpenError::Unreachable {
            url: config.url.clone(),
            source,
        };
        let version: Vec<Name> = backend
            .fetch("SELECT version() AS name")
            .map_err(unreachable)?;
        let version = version.first().map_or("", |row| row.name.as_str());
        backend.layout.profile = Profile::for_version(version);
        tracing::info!(
            version,
            profile = backend.layout.profile.name(),
            database = config.database,
            cluster = config.cluster.as_deref().unwrap_or(""),
            "connected to ClickHouse"
        );
        if config.create_schema {
            backend.create_schema().map_err(OpenError::Create)?;
        }
        backend.check_schema()?;
        Ok(backend)
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Where the profile has no TTL, drops every whole ingest hour older than
    /// `cutoff_unix_secs`, in every table and (in a cluster) on every shard; returns
    /// how many hour partitions it dropped. Does nothing where TTL does the work.
    ///
    /// The hours to drop are those this server holds (`system.parts`) plus, from the
    /// second round on, every hour that expired since the last round: a shard this
    /// server doesn't see may hold an hour this one lacks, and the drop runs `ON
    /// CLUSTER`. Dropping an hour a table doesn't hold is a no-op.
    pub fn expire_before(&self, cutoff_unix_secs: u64) -> Result<usize, StorageError> {
        let tables = self.layout.hour_partitioned_tables();
        if tables.is_empty() {
            return Ok(0);
        }
        let first_kept_hour = cutoff_unix_secs - cutoff_unix_secs % 3_600;
        let mut expired: BTreeSet<(String, u64)> = BTreeSet::new();
        for partition in self.fetch::<Partition>(&sql::partitions(&self.layout, &tables))? {
            match partition.partition_id.parse::<u64>() {
                Ok(hour) if hour < first_kept_hour => {
                    expired.insert((partition.table, hour));
                }
                Ok(_) => {}
                Err(_) => tracing::warn!(
                    table = partition.table,
                    partition = partition.partition_id,
                    "ClickHouse partition is not an hour; retention leaves it"
                ),
            }
        }
        let mut kept_from = self
            .retention_kept_from
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(previous) = *kept_from {
            // At most two days back: a node that was down longer relies on the
            // servers' own partition lists.
            let since = previous.max(first_kept_hour.saturating_sub(48 * 3_600));
            for hour in (since..first_kept_hour).step_by(3_600) {
                for table in &tables {
                    expired.insert((table.clone(), hour));
                }
            }
        }
        for (table, hour) in &expired {
            self.execute(&self.layout.drop_hour(table, *hour))?;
            tracing::info!(table, hour, "ClickHouse retention dropped an hour");
        }
        *kept_from = Some(first_kept_hour);
        Ok(expired.len())
    }

    fn create_schema(&self) -> Result<(), StorageError> {
        for statement in self.layout.create_statements() {
            self.execute(&statement)?;
        }
        let found = self.schema_version()?;
        if found < SCHEMA_VERSION {
            // Version 1 is the first schema: there is nothing to migrate from yet.
            self.execute(&sql::record_schema_version(&self.layout, SCHEMA_VERSION))?;
        }
        Ok(())
    }

    fn check_schema(&self) -> Result<(), OpenError> {
        let existing: HashSet<String> = self
            .fetch::<Name>(&sql::existing_tables(&self.layout))
            .map_err(OpenError::ReadSchema)?
            .into_iter()
            .map(|row| row.name)
            .collect();
        let missing: Vec<&'static str> = schema::TABLES
            .into_iter()
            .chain(["tracery_schema"])
            .filter(|table| !existing.contains(*table))
            .collect();
        if !missing.is_empty() {
            return Err(OpenError::MissingTables {
                database: self.layout.database.clone(),
                missing,
            });
        }
        let found = self.schema_version().map_err(OpenError::ReadSchema)?;
        if found > SCHEMA_VERSION {
            return Err(OpenError::NewerSchema { found });
        }
        Ok(())
    }

    fn schema_version(&self) -> Result<u32, StorageError> {
        let rows: Vec<Version> = self.fetch(&sql::schema_version(&self.layout))?;
        Ok(rows.first().map_or(0, |row| row.version))
    }

    /// Runs `future` on the runtime with the request deadline.
    fn block_on<T>(
        &self,
        future: impl Future<Output = clickhouse::error::Result<T>>,
    ) -> Result<T, StorageError> {
        match self
            .runtime
            .block_on(tokio::time::timeout(REQUEST_TIMEOUT, future))
        {
            Ok(result) => result.map_err(storage_error),
            Err(_elapsed) => Err(deadline_passed()),
        }
    }

    /// Runs an idempotent statement (a read, or DDL that says `IF NOT EXISTS`),
    /// once more straight away when the first try fails in the network: the server
    /// may have closed a pooled keep-alive connection just as it was reused.
    fn idempotent<T, F>(&self, run: impl Fn() -> F) -> Result<T, StorageError>
    where
        F: Future<Output = clickhouse::error::Result<T>>,
    {
        let first = self
            .runtime
            .block_on(tokio::time::timeout(REQUEST_TIMEOUT, run()));
        match first {
            Ok(Err(clickhouse::error::Error::Network(error))) => {
                tracing::debug!(%error, "ClickHouse connection failed; trying once more");
                self.block_on(run())
            }
            Ok(result) => result.map_err(storage_error),
            Err(_elapsed) => Err(deadline_passed()),
        }
    }

    fn execute(&self, statement: &str) -> Result<(), StorageError> {
        self.idempotent(|| self.client.query_raw(statement).execute())
    }

    fn fetch<T>(&self, statement: &str) -> Result<Vec<T>, StorageError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        self.idempotent(|| self.client.query_raw(statement).fetch_all::<T>())
    }

    /// One INSERT of `rows`; the caller runs it under the deadline (`block_on`).
    async fn insert<T>(&self, table: &str, rows: &[T]) -> clickhouse::error::Result<()>
    where
        T: clickhouse::RowOwned + clickhouse::RowWrite,
    {
        if rows.is_empty() {
            return Ok(());
        }
        let table = self.layout.table(table);
        let client = match self.layout.cluster {
            // Acknowledge only once the shards have the rows, not when the
            // Distributed table queued them on this node.
            Some(_) => self
                .client
                .clone()
                .with_setting("insert_distributed_sync", "1"),
            None => self.client.clone(),
        };
        let mut insert = client.insert_unescaped::<T>(&table).await?;
        for row in rows {
            insert.write(row).await?;
        }
        insert.end().await
    }

    /// Operation rows that this process has not written within the refresh period.
    fn new_operations(&self, spans: &[&Span], now_secs: u32) -> Vec<OperationRow> {
        let mut written = self
            .operations_written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut rows = Vec::new();
        for span in spans {
            let key = (
                span.service_name().to_owned(),
                span.name.clone(),
                span.kind as u8,
            );
            let fresh = written
                .get(&key)
                .is_some_and(|last| now_secs.saturating_sub(*last) < OPERATION_REFRESH_SECS);
            if !fresh {
                written.insert(key.clone(), now_secs);
                rows.push(OperationRow {
                    service: key.0,
                    operation: key.1,
                    kind: key.2,
                    last_seen: now_secs,
                });
            }
        }
        rows
    }

    fn forget_operations(&self, rows: &[OperationRow]) {
        let mut written = self
            .operations_written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for row in rows {
            written.remove(&(row.service.clone(), row.operation.clone(), row.kind));
        }
    }

    /// A search whose `filter=` expressions are checked here, on the candidates'
    /// spans, in rounds of growing size.
    fn find_checked(&self, query: &TraceQuery) -> Result<Vec<TraceId>, StorageError> {
        let mut found: Vec<(u64, TraceId)> = Vec::new();
        let mut offset = 0;
        let mut round = (query.limit * 4).max(MIN_CANDIDATES);
        while found.len() < query.limit && offset < MAX_CANDIDATES {
            let candidates: Vec<FoundTrace> =
                self.fetch(&sql::find_traces(&self.layout, query, offset, round))?;
            let ids: Vec<TraceId> = candidates.iter().map(|row| TraceId(row.trace_id)).collect();
            let traces = self.read_traces(&ids)?;
            for id in &ids {
                let newest = traces.get(id).and_then(|spans| {
                    spans
                        .iter()
                        .filter(|span| span_matches(*span, query))
                        .map(|span| span.start_unix_nanos)
                        .max()
                });
                if let Some(newest) = newest {
                    found.push((newest, *id));
                }
            }
            if candidates.len() < round {
                break; // no more candidates
            }
            offset += round;
            round *= 2;
        }
        found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1 .0.cmp(&b.1 .0)));
        found.truncate(query.limit);
        Ok(found.into_iter().map(|(_, id)| id).collect())
    }
}

impl Storage for ClickHouse {
    fn write_spans(&self, spans: &[&Span]) -> Result<usize, StorageError> {
        let now_secs = rows::date_time(unix_nanos_now());
        let search: Vec<SpanRow> = spans
            .iter()
            .map(|span| SpanRow::from_span(span, now_secs))
            .collect();
        let encoded: Vec<TraceSpanRow> = spans
            .iter()
            .map(|span| TraceSpanRow {
                trace_id: *span.trace_id.as_bytes(),
                start_unix_nanos: span.start_unix_nanos,
                start_time: rows::date_time(span.start_unix_nanos),
                span: codec::encode(span),
                ingest_time: now_secs,
            })
            .collect();
        let operations = self.new_operations(spans, now_secs);
        // One deadline for the whole write, so a durable export waits at most about
        // one deadline per batch ahead of it (well within the receivers' request
        // timeout). Encoded spans first: a trace is only found once it can be read.
        // The operations go alongside them (they only name services and operations):
        // two round trips per batch instead of three, as each insert waits for its part.
        let written = self.block_on(async {
            let (trace_spans_written, operations_written) = tokio::join!(
                self.insert("trace_spans", &encoded),
                self.insert("operations", &operations)
            );
            trace_spans_written?;
            operations_written?;
            self.insert("spans", &search).await
        });
        if written.is_err() {
            self.forget_operations(&operations);
        }
        written.map(|()| spans.len())
    }

    fn sync(&self) -> Result<(), StorageError> {
        Ok(()) // every write already waited for ClickHouse
    }

    fn read_traces(
        &self,
        trace_ids: &[TraceId],
    ) -> Result<HashMap<TraceId, Vec<Span>>, StorageError> {
        let mut traces: HashMap<TraceId, Vec<Span>> = HashMap::new();
        // Bounded statements: an IN list of 1000 ids is about 45 KB of SQL.
        for chunk in trace_ids.chunks(1000) {
            let rows: Vec<EncodedSpan> = self.fetch(&sql::read_traces(&self.layout, chunk))?;
            for row in rows {
                let span = codec::decode(&row.span)
                    .map_err(|error| StorageError::Backend(error.into()))?;
                traces.entry(span.trace_id).or_default().push(span);
            }
        }
        Ok(traces)
    }

    fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>, StorageError> {
        if query.limit == 0 || query.start_min_unix_nanos > query.start_max_unix_nanos {
            return Ok(Vec::new());
        }
        if !query.filters.is_empty() {
            return self.find_checked(query);
        }
        // Everything else is exact in SQL (`rows::terms`).
        let rows: Vec<FoundTrace> =
            self.fetch(&sql::find_traces(&self.layout, query, 0, query.limit))?;
        Ok(rows.into_iter().map(|row| TraceId(row.trace_id)).collect())
    }

    fn services(&self) -> Result<Vec<String>, StorageError> {
        let rows: Vec<Name> = self.fetch(&sql::services(&self.layout))?;
        Ok(rows.into_iter().map(|row| row.name).collect())
    }

    fn operations(
        &self,
        service: &str,
        kind: Option<SpanKind>,
    ) -> Result<Vec<Operation>, StorageError> {
        let rows: Vec<OperationName> = self.fetch(&sql::operations(&self.layout, service, kind))?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                Some(Operation {
                    name: row.operation,
                    kind: SpanKind::from_number(i32::from(row.kind))?,
                })
            })
            .collect())
    }

    fn dependencies(
        &self,
        start_unix_nanos: u64,
        end_unix_nanos: u64,
    ) -> Result<Vec<Dependency>, StorageError> {
        let rows: Vec<DependencyRow> = self.fetch(&sql::dependencies(
            &self.layout,
            start_unix_nanos,
            end_unix_nanos,
        ))?;
        Ok(rows
            .into_iter()
            .map(|row| Dependency {
                parent: row.parent,
                child: row.child,
                call_count: row.calls,
            })
            .collect())
    }

    /// Counted from the spans at query time (one GROUP BY), not kept as cells:
    /// ClickHouse aggregates a day of spans faster than Tracery would maintain a
    /// second table, and every node sees the same numbers.
    fn red_cells(
        &self,
        selection: &RedSelection,
        step_secs: u64,
        start_secs: u64,
        end_secs: u64,
    ) -> Result<Vec<NamedRedCell>, StorageError> {
        if selection.services.is_empty() || start_secs >= end_secs {
            return Ok(Vec::new());
        }
        let statement = sql::red_buckets(
            &self.layout,
            selection,
            step_secs,
            (start_secs, end_secs),
            crate::storage::red::ln_gamma(),
        );
        let rows: Vec<RedBucketRow> = self.fetch(&statement)?;
        let mut cells: Vec<NamedRedCell> = Vec::new();
        for row in rows {
            let same = cells.last().is_some_and(|last| {
                last.bucket_start_secs == row.bucket
                    && *last.operation == row.operation
                    && *last.service == row.service
            });
            if !same {
                cells.push(NamedRedCell {
                    service: row.service.as_str().into(),
                    operation: row.operation.as_str().into(),
                    bucket_start_secs: row.bucket,
                    cell: RedCell::default(),
                });
            }
            let exemplar = |trace_id: [u8; 16], duration_nanos| Exemplar {
                trace_id: TraceId(trace_id),
                duration_nanos,
            };
            let cell = &mut cells.last_mut().expect("pushed above").cell;
            cell.add_bucket(
                (row.sketch_index >= 0).then_some(row.sketch_index),
                (row.calls, row.errors),
                Some(exemplar(row.slowest_trace, row.slowest_nanos)),
                (row.errors > 0).then(|| exemplar(row.error_trace, row.error_nanos)),
            );
        }
        Ok(cells)
    }

    fn sampling_probabilities(&self) -> Result<Vec<(String, String, f64)>, StorageError> {
        let rows: Vec<SamplingRow> = self.fetch(&sql::sampling_probabilities(&self.layout))?;
        Ok(rows
            .into_iter()
            .map(|row| (row.service, row.operation, row.probability))
            .collect())
    }

    fn save_sampling_probabilities(
        &self,
        changed: &[(String, String, f64)],
    ) -> Result<(), StorageError> {
        let updated_unix_nanos = unix_nanos_now();
        let rows: Vec<SamplingRow> = changed
            .iter()
            .map(|(service, operation, probability)| SamplingRow {
                service: service.clone(),
                operation: operation.clone(),
                probability: *probability,
                updated_unix_nanos,
            })
            .collect();
        self.block_on(self.insert("sampling", &rows))
    }
}

/// The crate's own HTTP client, but with `TCP_NODELAY`: an INSERT's body goes out
/// in several writes, and with Nagle's algorithm on, each write after the first
/// waited for the server's delayed ACK (up to 200 ms on Linux), which made every
/// batch of a few hundred spans take about 200 ms however idle both sides were.
fn new_client() -> Client {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_keepalive(Some(Duration::from_secs(60)));
    Client::with_http_client(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            // Below ClickHouse's own keep-alive timeout (3 s), as the crate's default.
            .pool_idle_timeout(Duration::from_secs(2))
            .build(connector),
    )
}

fn password(config: &ClickHouseConfig) -> Result<Option<String>, OpenError> {
    if let Some(password) = &config.password {
        return Ok(Some(password.0.clone()));
    }
    let Some(path) = &config.password_file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|source| OpenError::PasswordFile {
        path: path.display().to_string(),
        source,
    })?;
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
}

fn deadline_passed() -> StorageError {
    StorageError::Unavailable(format!(
        "ClickHouse did not answer within {} s",
        REQUEST_TIMEOUT.as_secs()
    ))
}

fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// Server error codes that a retry may get past: overload, timeouts, replicas or
/// ZooKeeper away, a shard unreachable.
const RETRYABLE_CODES: [u32; 14] = [
    159, // TIMEOUT_EXCEEDED
    164, // READONLY
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    225, // NO_ZOOKEEPER
    242, // TABLE_IS_READ_ONLY
    252, // TOO_MANY_PARTS
    279, // ALL_CONNECTION_TRIES_FAILED
    285, // TOO_FEW_LIVE_REPLICAS
    319, // UNKNOWN_STATUS_OF_INSERT
    999, // KEEPER_EXCEPTION
    394, // QUERY_WAS_CANCELLED
];

fn storage_error(error: clickhouse::error::Error) -> StorageError {
    use clickhouse::error::Error;
    let retryable = match &error {
        Error::Network(_) | Error::TimedOut => true,
        Error::BadResponse(message) => is_retryable_response(message),
        _ => false,
    };
    if retryable {
        StorageError::Unavailable(format!("ClickHouse: {error}"))
    } else {
        StorageError::Backend(Box::new(error))
    }
}

/// Whether a server's error text (`Code: 252, e.displayText() = …`) or a proxy's
/// bare status (`503 Service Unavailable`) is worth retrying.
fn is_retryable_response(message: &str) -> bool {
    if ["502 ", "503 ", "504 "]
        .iter()
        .any(|status| message.starts_with(status))
    {
        return true;
    }
    message
        .strip_prefix("Code: ")
        .and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u32>()
                .ok()
        })
        .is_some_and(|code| RETRYABLE_CODES.contains(&code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_server_errors_are_retryable() {
        assert!(is_retryable_response(
            "Code: 252, e.displayText() = DB::Exception: Too many parts (300)"
        ));
        assert!(is_retryable_response(
            "Code: 279. DB::Exception: All connection tries failed"
        ));
        assert!(is_retryable_response("503 Service Unavailable"));
        assert!(!is_retryable_response(
            "Code: 60, e.displayText() = DB::Exception: Table db.spans doesn't exist"
        ));
        assert!(!is_retryable_response(
            "Code: 62. DB::Exception: Syntax error"
        ));
        assert!(!is_retryable_response("something else"));
    }
}
