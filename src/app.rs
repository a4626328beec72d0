//! Wiring and shutdown: opens the store, starts every long-lived task, and stops
//! them in order.
//!
//! Stop order: cancel → receivers and the API stop accepting and drain in-flight
//! requests → the last `IngestHandle` drops → the batcher writes what is queued and
//! exits → the store is synced. The first task to fail cancels the rest, and its
//! error is returned once everything has drained.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt as _;

use anyhow::Context as _;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState, Health, UiEndpoints};
use crate::clickhouse::ClickHouse;
use crate::config::{ClickHouseConfig, Config, SamplingConfig, StorageMode};
use crate::metrics::Metrics;
use crate::query::QueryService;
use crate::storage::Storage;
use crate::store::Store;
use crate::{ingest, net, receiver, sampling};

/// How often expired partitions are looked for.
const RETENTION_INTERVAL: Duration = Duration::from_secs(300);
/// How often expired rows are deleted from ClickHouse where its profile has no TTL
/// (each round drops the hour partitions that expired; see `ClickHouse::expire_before`).
const CLICKHOUSE_RETENTION_INTERVAL: Duration = Duration::from_secs(600);
/// How often the data dir's size is checked against `--max-disk-gib`: the data dir
/// overshoots the cap by at most about a second of writes, and a round that drops
/// nothing only sums file sizes.
const DISK_CAP_INTERVAL: Duration = Duration::from_secs(1);

/// Sockets bound by the caller, so tests can pass port-0 listeners.
#[derive(Debug)]
pub struct Listeners {
    pub otlp_grpc: TcpListener,
    pub otlp_http: TcpListener,
    pub api: TcpListener,
    /// Prometheus `/metrics` and health checks.
    pub admin: TcpListener,
    /// The Jaeger and Zipkin listeners; `None` is off.
    pub legacy: LegacyListeners,
    /// The gRPC query API; `None` when turned off.
    pub query_grpc: Option<TcpListener>,
    /// Remote sampling over HTTP and gRPC; `None` when turned off.
    pub sampling_http: Option<TcpListener>,
    pub sampling_grpc: Option<TcpListener>,
}

/// Jaeger-native and Zipkin ingest sockets, each optional.
#[derive(Debug, Default)]
pub struct LegacyListeners {
    pub jaeger_grpc: Option<TcpListener>,
    pub jaeger_thrift_http: Option<TcpListener>,
    pub jaeger_udp_compact: Option<UdpSocket>,
    pub jaeger_udp_binary: Option<UdpSocket>,
    pub zipkin: Option<TcpListener>,
}

impl Listeners {
    pub async fn bind(config: &Config) -> anyhow::Result<Listeners> {
        let bind = |addr| async move {
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("failed to listen on {addr}"))
        };
        let bind_tcp = |addr: Option<std::net::SocketAddr>| async move {
            match addr {
                Some(addr) => bind(addr).await.map(Some),
                None => Ok(None),
            }
        };
        let bind_udp = |addr: Option<std::net::SocketAddr>| async move {
            match addr {
                Some(addr) => UdpSocket::bind(addr)
                    .await
                    .map(Some)
                    .with_context(|| format!("failed to listen on UDP {addr}")),
                None => Ok(None),
            }
        };
        Ok(Listeners {
            otlp_grpc: bind(config.otlp_grpc_addr).await?,
            otlp_http: bind(config.otlp_http_addr).await?,
            api: bind(config.query_addr).await?,
            admin: bind(config.admin_addr).await?,
            legacy: LegacyListeners {
                jaeger_grpc: bind_tcp(config.jaeger_grpc_addr).await?,
                jaeger_thrift_http: bind_tcp(config.jaeger_thrift_http_addr).await?,
                jaeger_udp_compact: bind_udp(config.jaeger_udp_compact_addr).await?,
                jaeger_udp_binary: bind_udp(config.jaeger_udp_binary_addr).await?,
                zipkin: bind_tcp(config.zipkin_addr).await?,
            },
            query_grpc: bind_tcp(config.query_grpc_addr).await?,
            sampling_http: bind_tcp(config.sampling.http_addr).await?,
            sampling_grpc: bind_tcp(config.sampling.grpc_addr).await?,
        })
    }
}

/// Starts the Jaeger and Zipkin listeners that are on.
fn spawn_legacy(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    legacy: LegacyListeners,
    (ingest, sampling): (&ingest::IngestHandle, &sampling::SamplingService),
    config: &Config,
    access: &net::Access,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    use receiver::jaeger_udp::ThriftProtocol;
    let receiver_config = &config.receiver;
    let tokens = &access.ingest;
    if let Some(listener) = legacy.jaeger_grpc {
        // As Jaeger v1's collector, 14250 also answers remote sampling.
        let sampling = sampling::grpc::service(sampling.clone());
        let (ingest, receiver_config, shutdown) =
            (ingest.clone(), receiver_config.clone(), shutdown.clone());
        let (listener, tokens) = (access.listener(listener)?, tokens.clone());
        spawn_listener(
            tasks,
            "Jaeger gRPC (and OTLP)",
            listener.local_addr(),
            async move {
                receiver::jaeger_grpc::serve(
                    listener,
                    ingest,
                    &receiver_config,
                    tokens,
                    shutdown,
                    sampling,
                )
                .await
            },
        );
    }
    if let Some(listener) = legacy.jaeger_thrift_http {
        let (ingest, receiver_config, shutdown) =
            (ingest.clone(), receiver_config.clone(), shutdown.clone());
        let (listener, tokens) = (access.listener(listener)?, tokens.clone());
        spawn_listener(
            tasks,
            "Jaeger Thrift/HTTP",
            listener.local_addr(),
            async move {
                receiver::jaeger_http::serve(listener, ingest, &receiver_config, tokens, shutdown)
                    .await
            },
        );
    }
    if let Some(listener) = legacy.zipkin {
        let (ingest, receiver_config, shutdown) =
            (ingest.clone(), receiver_config.clone(), shutdown.clone());
        let (listener, tokens) = (access.listener(listener)?, tokens.clone());
        spawn_listener(tasks, "Zipkin HTTP", listener.local_addr(), async move {
            receiver::zipkin_http::serve(listener, ingest, &receiver_config, tokens, shutdown).await
        });
    }
    for (socket, protocol, what) in [
        (
            legacy.jaeger_udp_compact,
            ThriftProtocol::Compact,
            "Jaeger agent UDP (compact)",
        ),
        (
            legacy.jaeger_udp_binary,
            ThriftProtocol::Binary,
            "Jaeger agent UDP (binary)",
        ),
    ] {
        let Some(socket) = socket else { continue };
        let (ingest, shutdown) = (ingest.clone(), shutdown.clone());
        let addr = socket.local_addr()?;
        spawn_listener(tasks, what, addr, async move {
            receiver::jaeger_udp::serve(socket, protocol, ingest, shutdown).await
        });
    }
    Ok(())
}

/// Logs where a listener is and runs it as one of the server's tasks; its error
/// names the listener.
fn spawn_listener<E: Into<anyhow::Error>>(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    what: &'static str,
    addr: std::net::SocketAddr,
    serve: impl std::future::Future<Output = Result<(), E>> + Send + 'static,
) {
    tracing::info!(%addr, "{what} listening");
    tasks.spawn(async move {
        serve
            .await
            .map_err(Into::into)
            .with_context(|| format!("{what} failed"))
    });
}

/// Runs the server until `shutdown` is cancelled, then drains and flushes.
///
/// The admin port (metrics, health) comes up first and goes down last: it answers
/// "not ready" while the store opens and again while the rest drains.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let access = net::Access::load(&config.access)?.with_limits(config.limits.clone());
    if access.is_reloadable() {
        tokio::spawn(access.clone().reload_on_hangup(shutdown.clone()));
    }
    let metrics = Metrics::new();
    let health = Health::new();
    let admin_shutdown = CancellationToken::new();
    let Listeners {
        otlp_grpc,
        otlp_http,
        api,
        admin,
        legacy,
        query_grpc,
        sampling_http,
        sampling_grpc,
    } = listeners;
    tracing::info!(admin = %admin.local_addr()?, "admin listening");
    let admin = tokio::spawn(api::admin::serve(
        access.listener(admin)?,
        metrics.clone(),
        health.clone(),
        admin_shutdown.clone(),
    ));
    let listeners = MainListeners {
        otlp_grpc,
        otlp_http,
        api,
        legacy,
        query_grpc,
        sampling_http,
        sampling_grpc,
    };
    let served = serve(config, access, listeners, shutdown, metrics, health).await;
    admin_shutdown.cancel();
    match admin.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "admin server failed"),
        Err(error) => tracing::error!(%error, "admin server panicked"),
    }
    served
}

/// The listeners other than the admin port's.
struct MainListeners {
    otlp_grpc: TcpListener,
    otlp_http: TcpListener,
    api: TcpListener,
    legacy: LegacyListeners,
    query_grpc: Option<TcpListener>,
    sampling_http: Option<TcpListener>,
    sampling_grpc: Option<TcpListener>,
}

async fn serve(
    config: Config,
    access: net::Access,
    listeners: MainListeners,
    shutdown: CancellationToken,
    metrics: Metrics,
    health: Health,
) -> anyhow::Result<()> {
    // `--storage clickhouse` opens no sled store and needs no data dir.
    let (storage, store, clickhouse): (Arc<dyn Storage>, Option<Store>, Option<Arc<ClickHouse>>) =
        if config.ingest.storage == StorageMode::Clickhouse {
            let Some(backend) =
                open_clickhouse(&config.clickhouse, config.store.retention, &shutdown).await?
            else {
                return Ok(());
            };
            let backend = Arc::new(backend);
            (backend.clone(), None, Some(backend))
        } else {
            let store_config = config.store.clone();
            let hooks = config.test_hooks;
            let store = tokio::task::spawn_blocking(move || Store::open(&store_config))
                .await??
                .with_test_hooks(hooks);
            metrics.watch_store(store.downgrade());
            (Arc::new(store.clone()), Some(store), None)
        };
    let scheme = if access.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let endpoints = UiEndpoints {
        otlp_grpc: format!("{scheme}://{}", listeners.otlp_grpc.local_addr()?),
        otlp_http: format!("{scheme}://{}", listeners.otlp_http.local_addr()?),
    };
    tracing::info!(
        otlp_grpc = %listeners.otlp_grpc.local_addr()?,
        otlp_http = %listeners.otlp_http.local_addr()?,
        query = %listeners.api.local_addr()?,
        "tracery listening"
    );
    let (ingest_handle, batcher) =
        ingest::channel(&config.ingest, storage.clone(), metrics.clone());
    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();
    let (sampling_service, adaptive) = start_sampling(
        &config.sampling,
        &storage,
        (
            listeners
                .sampling_http
                .map(|l| access.listener(l))
                .transpose()?,
            listeners
                .sampling_grpc
                .map(|l| access.listener(l))
                .transpose()?,
        ),
        &mut tasks,
        &shutdown,
    )
    .await?;
    let ingest_handle = match adaptive {
        Some(adaptive) => ingest_handle.with_observer(adaptive),
        None => ingest_handle,
    };
    tasks.spawn(async move {
        batcher.run().await;
        Ok(())
    });
    spawn_legacy(
        &mut tasks,
        listeners.legacy,
        (&ingest_handle, &sampling_service),
        &config,
        &access,
        &shutdown,
    )?;
    let grpc_ingest = ingest_handle.clone();
    let (receiver_config, grpc_shutdown) = (config.receiver.clone(), shutdown.clone());
    let (otlp_grpc, tokens) = (access.listener(listeners.otlp_grpc)?, access.ingest.clone());
    tasks.spawn(async move {
        receiver::grpc::serve(
            otlp_grpc,
            grpc_ingest,
            &receiver_config,
            tokens,
            grpc_shutdown,
        )
        .await
        .context("OTLP/gRPC receiver failed")
    });
    let (receiver_config, http_shutdown) = (config.receiver.clone(), shutdown.clone());
    let (otlp_http, tokens) = (access.listener(listeners.otlp_http)?, access.ingest.clone());
    tasks.spawn(async move {
        receiver::http::serve(
            otlp_http,
            ingest_handle,
            &receiver_config,
            tokens,
            http_shutdown,
        )
        .await
        .context("OTLP/HTTP receiver failed")
    });
    let query = QueryService::new(storage.clone(), &config.query);
    if let Some(listener) = listeners.query_grpc {
        tracing::info!(query_grpc = %listener.local_addr()?, "gRPC query API listening");
        let (query, grpc_metrics, grpc_shutdown) =
            (query.clone(), metrics.clone(), shutdown.clone());
        let (listener, tokens) = (access.listener(listener)?, access.query.clone());
        tasks.spawn(async move {
            api::grpc::serve(listener, query, grpc_metrics, tokens, grpc_shutdown)
                .await
                .context("gRPC query API failed")
        });
    }
    let state = AppState::new(
        query,
        config.ui.clone(),
        endpoints,
        metrics.clone(),
        health.clone(),
    )
    .with_query_tokens(access.query.clone());
    let api_shutdown = shutdown.clone();
    let api_listener = access.listener(listeners.api)?;
    tasks.spawn(async move {
        api::serve(api_listener, state, api_shutdown)
            .await
            .context("query API failed")
    });
    if let (Some(retention), Some(clickhouse)) = (config.store.retention, &clickhouse) {
        tasks.spawn(run_clickhouse_retention(
            clickhouse.clone(),
            retention,
            shutdown.clone(),
        ));
    }
    if let Some(store) = &store {
        if let Some(retention) = config.store.retention {
            tasks.spawn(run_retention(
                store.clone(),
                retention,
                metrics.clone(),
                shutdown.clone(),
            ));
        }
        if let (Some(max_bytes), StorageMode::Sled) =
            (config.store.max_disk_bytes, config.ingest.storage)
        {
            tasks.spawn(run_disk_cap(store.clone(), max_bytes, shutdown.clone()));
        }
        if config.ingest.storage == StorageMode::Sled {
            tasks.spawn(run_compaction(
                store.clone(),
                config.compaction_interval,
                metrics.clone(),
                shutdown.clone(),
            ));
            tasks.spawn(run_red_checkpoints(store.clone(), shutdown.clone()));
        }
    }
    // Every listener is serving and the store is open.
    health.set_ready();
    let not_ready_on_shutdown = {
        let (health, shutdown) = (health.clone(), shutdown.clone());
        tokio::spawn(async move {
            shutdown.cancelled().await;
            health.set_shutting_down();
        })
    };

    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        if let Err(error) = joined
            .map_err(anyhow::Error::from)
            .and_then(|result| result)
        {
            tracing::error!(error = format!("{error:#}"), "task failed; shutting down");
            shutdown.cancel();
            first_error.get_or_insert(error);
        }
    }
    health.set_shutting_down();
    not_ready_on_shutdown.abort();
    let Some(store) = store else {
        tracing::info!("tracery stopped");
        return first_error.map_or(Ok(()), Err);
    };
    let stats = tokio::task::spawn_blocking(move || {
        store.sync()?;
        store.checkpoint_red()?;
        Ok::<_, crate::store::StoreError>(store.stats())
    })
    .await?
    .context("failed to sync the store on shutdown")?;
    tracing::info!(
        num_blocks = stats.num_blocks,
        num_spans = stats.num_spans,
        block_bytes = stats.block_bytes,
        size_on_disk = stats.size_on_disk,
        "tracery stopped"
    );
    first_error.map_or(Ok(()), Err)
}

/// Loads the sampling strategies and starts the remote-sampling listeners, the
/// strategies file watcher and the adaptive rounds; returns what ingest feeds
/// with root spans when adaptive sampling is on.
async fn start_sampling(
    config: &SamplingConfig,
    store: &Arc<dyn Storage>,
    (http, grpc): (Option<net::Listener>, Option<net::Listener>),
    tasks: &mut JoinSet<anyhow::Result<()>>,
    shutdown: &CancellationToken,
) -> anyhow::Result<(sampling::SamplingService, Option<Arc<sampling::Adaptive>>)> {
    let adaptive = if config.adaptive {
        let store = store.clone();
        let target = config.target_tps;
        let adaptive = tokio::task::spawn_blocking(move || sampling::Adaptive::open(store, target))
            .await?
            .context("failed to load adaptive sampling probabilities")?;
        let adaptive = Arc::new(adaptive);
        tasks.spawn(
            sampling::adaptive::run(Arc::clone(&adaptive), config.interval, shutdown.clone())
                .map(Ok),
        );
        Some(adaptive)
    } else {
        None
    };
    let service = match &config.strategies_file {
        Some(path) => {
            let (strategies, bytes) = sampling::load_file(path)?;
            let service = sampling::SamplingService::new(strategies, adaptive.clone());
            tasks.spawn(
                sampling::watch_file(service.clone(), path.clone(), bytes, shutdown.clone())
                    .map(Ok),
            );
            service
        }
        None => sampling::SamplingService::new(sampling::Strategies::default(), adaptive.clone()),
    };
    if let Some(listener) = http {
        tracing::info!(sampling_http = %listener.local_addr(), "remote sampling (HTTP) listening");
        let (service, shutdown) = (service.clone(), shutdown.clone());
        tasks.spawn(async move {
            sampling::http::serve(listener, service, shutdown)
                .await
                .context("remote sampling (HTTP) failed")
        });
    }
    if let Some(listener) = grpc {
        tracing::info!(sampling_grpc = %listener.local_addr(), "remote sampling (gRPC) listening");
        let (service, shutdown) = (service.clone(), shutdown.clone());
        tasks.spawn(async move {
            sampling::grpc::serve(listener, service, shutdown)
                .await
                .context("remote sampling (gRPC) failed")
        });
    }
    Ok((service, adaptive))
}

/// Merges small blocks now and then; see `store::compact`.
async fn run_compaction(
    store: Store,
    interval: Duration,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let store = store.clone();
        let compacted = tokio::task::spawn_blocking(move || store.compact_small_blocks()).await?;
        match compacted {
            Ok(num_blocks) => metrics.blocks_compacted(num_blocks),
            // Not fatal: the blocks stay as they were and the next round retries.
            Err(error) => tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "compaction failed"
            ),
        }
    }
    // The last round's replaced blocks; `Store::open` would free them otherwise.
    if let Err(error) = tokio::task::spawn_blocking(move || store.free_replaced()).await? {
        tracing::warn!(
            error = format!("{:#}", anyhow::Error::from(error)),
            "could not free the blocks the last compaction replaced"
        );
    }
    Ok(())
}

/// Moves the RED metrics counted at write time into sled; see `store::red`.
async fn run_red_checkpoints(store: Store, shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(crate::store::RED_CHECKPOINT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let store = store.clone();
        let written = tokio::task::spawn_blocking(move || store.checkpoint_red()).await?;
        if let Err(error) = written {
            // Not fatal: the cells stay in memory and the next round retries.
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "metrics checkpoint failed"
            );
        }
    }
}

/// Checks the data dir against `--max-disk-gib` every `DISK_CAP_INTERVAL`.
async fn run_disk_cap(
    store: Store,
    max_bytes: u64,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(DISK_CAP_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let store = store.clone();
        let dropped =
            tokio::task::spawn_blocking(move || store.enforce_disk_cap(max_bytes)).await?;
        if let Err(error) = dropped {
            // Not fatal: the next round retries, and ingest and queries go on.
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "enforcing --max-disk-gib failed"
            );
        }
    }
}

/// Opens the ClickHouse backend, retrying transient failures (server not up yet,
/// busy, a dropped connection) with backoff for `startup_wait`; `None` when shut
/// down while waiting.
async fn open_clickhouse(
    config: &ClickHouseConfig,
    retention: Option<Duration>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<ClickHouse>> {
    let deadline = tokio::time::Instant::now() + config.startup_wait;
    let mut backoff = Duration::from_millis(250);
    loop {
        let (attempt_config, runtime) = (config.clone(), tokio::runtime::Handle::current());
        let opened = tokio::task::spawn_blocking(move || {
            ClickHouse::open(&attempt_config, retention, runtime)
        })
        .await?;
        let error = match opened {
            Ok(backend) => return Ok(Some(backend)),
            Err(error) => error,
        };
        let now = tokio::time::Instant::now();
        if !error.is_transient() || now + backoff > deadline {
            return Err(error.into());
        }
        tracing::warn!(
            error = format!("{:#}", anyhow::Error::from(error)),
            retry_in_ms = backoff.as_millis() as u64,
            "ClickHouse not ready; retrying"
        );
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(None),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Deletes expired rows where the ClickHouse profile has no TTL (every round is
/// cheap where it has: no statements).
async fn run_clickhouse_retention(
    clickhouse: Arc<ClickHouse>,
    retention: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(CLICKHOUSE_RETENTION_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let cutoff = now.saturating_sub(retention.as_secs());
        let clickhouse = clickhouse.clone();
        let expired = tokio::task::spawn_blocking(move || clickhouse.expire_before(cutoff)).await?;
        if let Err(error) = expired {
            // Not fatal: the next round retries, and ingest and queries go on.
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "ClickHouse retention failed"
            );
        }
    }
}

async fn run_retention(
    store: Store,
    retention: Duration,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(RETENTION_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let now = store.clock_secs();
        let cutoff = now.saturating_sub(retention.as_secs());
        let store = store.clone();
        let expired = tokio::task::spawn_blocking(move || store.expire_before(cutoff)).await?;
        match expired {
            Ok(num_hours) => metrics.hours_expired(num_hours),
            // Not fatal: the next round retries, and ingest and queries go on.
            Err(error) => tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "retention failed"
            ),
        }
    }
}
