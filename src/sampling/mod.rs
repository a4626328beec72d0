//! Remote sampling: what SDKs poll to learn how much to sample, as Jaeger's
//! `SamplingManager` on 5778 (HTTP/JSON) and 5779 (gRPC).
//!
//! `SamplingService` answers every front end from the current `Strategies` (a
//! strategies file, reloaded when it changes, or Jaeger's default) or, with
//! `--sampling-adaptive`, from the per-operation probabilities that `adaptive`
//! computes from the root spans Tracery ingests. `http` and `grpc` are the
//! listeners; they only parse the request and render the reply.

pub mod adaptive;
pub mod grpc;
pub mod http;
pub mod strategies;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::protocol::jaeger::api_v2::SamplingStrategyResponse;
pub use adaptive::Adaptive;
pub use strategies::{Strategies, StrategiesError};

/// How often the strategies file is checked for changes.
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Cheap to clone; clones share the strategies.
#[derive(Debug, Clone)]
pub struct SamplingService {
    strategies: Arc<RwLock<Arc<Strategies>>>,
    adaptive: Option<Arc<Adaptive>>,
}

impl SamplingService {
    pub fn new(strategies: Strategies, adaptive: Option<Arc<Adaptive>>) -> SamplingService {
        SamplingService {
            strategies: Arc::new(RwLock::new(Arc::new(strategies))),
            adaptive,
        }
    }

    /// The strategy for `service`.
    pub fn strategy(&self, service: &str) -> SamplingStrategyResponse {
        if let Some(adaptive) = &self.adaptive {
            return adaptive.strategy(service);
        }
        self.current().for_service(service).to_response(0.0)
    }

    fn current(&self) -> Arc<Strategies> {
        match self.strategies.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn replace(&self, strategies: Strategies) {
        let mut guard = match self.strategies.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(strategies);
    }
}

/// Reads and parses a strategies file.
pub fn load_file(path: &std::path::Path) -> Result<(Strategies, Vec<u8>), LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let strategies = Strategies::parse(&bytes).map_err(|source| LoadError::Parse {
        path: path.display().to_string(),
        source,
    })?;
    Ok((strategies, bytes))
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("failed to read sampling strategies file {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to load sampling strategies file {path}")]
    Parse {
        path: String,
        source: StrategiesError,
    },
}

/// Reloads `path` into `service` whenever its content changes, until `shutdown`.
/// A file that can't be read or parsed is logged and the last good strategies stay.
pub async fn watch_file(
    service: SamplingService,
    path: PathBuf,
    mut last: Vec<u8>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(RELOAD_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let reading = path.clone();
        let Ok(bytes) = tokio::task::spawn_blocking(move || std::fs::read(reading)).await else {
            continue;
        };
        match bytes {
            Ok(bytes) if bytes == last => {}
            Ok(bytes) => match Strategies::parse(&bytes) {
                Ok(strategies) => {
                    tracing::info!(path = %path.display(), "sampling strategies reloaded");
                    service.replace(strategies);
                    last = bytes;
                }
                Err(error) => {
                    tracing::error!(path = %path.display(), %error, "sampling strategies file is invalid; keeping the previous strategies");
                    last = bytes;
                }
            },
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot read sampling strategies file");
            }
        }
    }
}
