//! Adaptive sampling, as Jaeger v2's: each operation's probability is steered so
//! that about `target_tps` of its traces per second reach Tracery.
//!
//! Every root span Tracery accepts is counted per (service, operation). Each round
//! the counts of the last `WINDOW_ROUNDS` rounds, divided by the probability that
//! was being served while they arrived, estimate the operation's unsampled rate
//! `r`; the observed QPS is `r·p`. Outside 30 % of the target, `p' = p·target/qps`
//! (= `target/r`), raised at most ×2 per round and lowered at once; a QPS of 0
//! doubles `p`; `p` stays in [1e-5, 1], starting at Jaeger's 0.001. The
//! probabilities are persisted in the store after each round that changed them,
//! so a restart continues where it left off.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::strategies::DEFAULT_SAMPLING_PROBABILITY;
use crate::ingest::SpanObserver;
use crate::model::Span;
use crate::protocol::jaeger::api_v2::{
    OperationSamplingStrategy, PerOperationSamplingStrategies, ProbabilisticSamplingStrategy,
    SamplingStrategyResponse, SamplingStrategyType,
};
use crate::storage::{Storage, StorageError};

pub const MIN_PROBABILITY: f64 = 1e-5;
pub const MAX_PROBABILITY: f64 = 1.0;
/// Largest rise of a probability in one round.
const MAX_INCREASE: f64 = 2.0;
/// QPS within this fraction of the target leaves the probability alone.
const TOLERANCE: f64 = 0.3;
/// Rounds of counts each estimate uses, to smooth out small counts.
const WINDOW_ROUNDS: usize = 10;
/// Jaeger's minimum sampling rate per operation: one trace a minute.
const LOWER_BOUND_PER_SECOND: f64 = 1.0 / 60.0;

type Key = (String, String);

#[derive(Debug)]
pub struct Adaptive {
    target_tps: f64,
    store: Arc<dyn Storage>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Root spans counted since the round began.
    counts: HashMap<Key, u64>,
    /// Per operation: the probability served now, and the last rounds'
    /// (count, probability, seconds), newest last.
    operations: HashMap<Key, Operation>,
}

#[derive(Debug)]
struct Operation {
    probability: f64,
    history: VecDeque<(u64, f64, f64)>,
}

impl Adaptive {
    /// Loads the persisted probabilities.
    pub fn open(store: Arc<dyn Storage>, target_tps: f64) -> Result<Adaptive, StorageError> {
        let mut state = State::default();
        for (service, operation, probability) in store.sampling_probabilities()? {
            state.operations.insert(
                (service, operation),
                Operation {
                    probability: probability.clamp(MIN_PROBABILITY, MAX_PROBABILITY),
                    history: VecDeque::new(),
                },
            );
        }
        Ok(Adaptive {
            target_tps,
            store,
            state: Mutex::new(state),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Per-operation probabilities for `service`; operations not seen yet get the
    /// default probability.
    pub fn strategy(&self, service: &str) -> SamplingStrategyResponse {
        let state = self.state();
        let mut operations: Vec<OperationSamplingStrategy> = state
            .operations
            .iter()
            .filter(|((owner, _), _)| owner == service)
            .map(|((_, operation), state)| OperationSamplingStrategy {
                operation: operation.clone(),
                probabilistic_sampling: Some(ProbabilisticSamplingStrategy {
                    sampling_rate: state.probability,
                }),
            })
            .collect();
        operations.sort_by(|a, b| a.operation.cmp(&b.operation));
        SamplingStrategyResponse {
            strategy_type: SamplingStrategyType::Probabilistic as i32,
            probabilistic_sampling: Some(ProbabilisticSamplingStrategy {
                sampling_rate: DEFAULT_SAMPLING_PROBABILITY,
            }),
            operation_sampling: Some(PerOperationSamplingStrategies {
                default_sampling_probability: DEFAULT_SAMPLING_PROBABILITY,
                default_lower_bound_traces_per_second: LOWER_BOUND_PER_SECOND,
                per_operation_strategies: operations,
                default_upper_bound_traces_per_second: 0.0,
            }),
            ..SamplingStrategyResponse::default()
        }
    }

    /// The probability served for one operation.
    pub fn probability(&self, service: &str, operation: &str) -> f64 {
        self.state()
            .operations
            .get(&(service.to_owned(), operation.to_owned()))
            .map_or(DEFAULT_SAMPLING_PROBABILITY, |state| state.probability)
    }

    /// Closes a round of `seconds` and recomputes every probability; returns
    /// the ones that changed, after persisting them.
    pub fn round(&self, seconds: f64) -> Result<Vec<(String, String, f64)>, StorageError> {
        let changed = {
            let mut state = self.state();
            let counts = std::mem::take(&mut state.counts);
            for key in counts.keys() {
                state
                    .operations
                    .entry(key.clone())
                    .or_insert_with(|| Operation {
                        probability: DEFAULT_SAMPLING_PROBABILITY,
                        history: VecDeque::new(),
                    });
            }
            let mut changed = Vec::new();
            for (key, operation) in &mut state.operations {
                let count = counts.get(key).copied().unwrap_or(0);
                operation
                    .history
                    .push_back((count, operation.probability, seconds));
                if operation.history.len() > WINDOW_ROUNDS {
                    operation.history.pop_front();
                }
                let next = self.next_probability(operation);
                if next != operation.probability {
                    operation.probability = next;
                    changed.push((key.0.clone(), key.1.clone(), next));
                }
            }
            changed
        };
        if !changed.is_empty() {
            self.store.save_sampling_probabilities(&changed)?;
        }
        Ok(changed)
    }

    fn next_probability(&self, operation: &Operation) -> f64 {
        let p = operation.probability;
        let sampled: u64 = operation.history.iter().map(|(count, _, _)| count).sum();
        // Seconds of traffic at probability 1 that the window's samples stand for.
        let exposure: f64 = operation
            .history
            .iter()
            .map(|(_, probability, seconds)| probability * seconds)
            .sum();
        let next = if sampled == 0 || exposure <= 0.0 {
            p * MAX_INCREASE
        } else {
            let unsampled_rate = sampled as f64 / exposure;
            let qps = unsampled_rate * p;
            if (qps - self.target_tps).abs() <= TOLERANCE * self.target_tps {
                p
            } else {
                (self.target_tps / unsampled_rate).min(p * MAX_INCREASE)
            }
        };
        next.clamp(MIN_PROBABILITY, MAX_PROBABILITY)
    }
}

impl SpanObserver for Adaptive {
    fn observe(&self, spans: &[Span]) {
        let mut state = self.state();
        for span in spans.iter().filter(|span| span.parent_span_id.is_none()) {
            *state
                .counts
                .entry((span.service_name().to_owned(), span.name.clone()))
                .or_default() += 1;
        }
    }
}

/// Runs a round every `interval` until `shutdown`.
pub async fn run(adaptive: Arc<Adaptive>, interval: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut last = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        let seconds = now.duration_since(last).as_secs_f64();
        last = now;
        let adaptive = Arc::clone(&adaptive);
        match tokio::task::spawn_blocking(move || adaptive.round(seconds)).await {
            Ok(Ok(changed)) if !changed.is_empty() => {
                tracing::debug!(changed = changed.len(), "adaptive sampling round");
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(
                error = ?error,
                "failed to persist sampling probabilities"
            ),
            Err(_) => tracing::error!("adaptive sampling round panicked"),
        }
    }
}
