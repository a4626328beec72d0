//! Sampling strategies: Jaeger's strategies file, and the `SamplingStrategyResponse`
//! a service is given.
//!
//! The file is Jaeger's JSON format: `default_strategy` and `service_strategies`,
//! each `{type: "probabilistic" | "ratelimiting", param, operation_strategies}`.
//! A service without its own operation strategies takes the default's, as Jaeger
//! does; an unknown service gets the default strategy. With no file, every service
//! gets Jaeger's default, probabilistic 0.001.

use std::collections::HashMap;

use serde::Deserialize;

use crate::protocol::jaeger::api_v2::{
    OperationSamplingStrategy, PerOperationSamplingStrategies, ProbabilisticSamplingStrategy,
    RateLimitingSamplingStrategy, SamplingStrategyResponse, SamplingStrategyType,
};

/// Jaeger's default sampling probability.
pub const DEFAULT_SAMPLING_PROBABILITY: f64 = 0.001;

#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    Probabilistic(f64),
    RateLimiting(i32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStrategy {
    pub strategy: Strategy,
    /// Per-operation probabilities; only for probabilistic strategies.
    pub operations: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Strategies {
    pub default: ServiceStrategy,
    pub services: HashMap<String, ServiceStrategy>,
}

/// A strategies file Tracery cannot use; the message names the place.
#[derive(Debug, thiserror::Error)]
pub enum StrategiesError {
    #[error("invalid sampling strategies JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid sampling strategy for {place}: {reason}")]
    Invalid { place: String, reason: String },
}

impl Default for Strategies {
    fn default() -> Strategies {
        Strategies {
            default: ServiceStrategy {
                strategy: Strategy::Probabilistic(DEFAULT_SAMPLING_PROBABILITY),
                operations: Vec::new(),
            },
            services: HashMap::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct FileDto {
    #[serde(default)]
    default_strategy: Option<StrategyDto>,
    #[serde(default)]
    service_strategies: Vec<ServiceDto>,
}

#[derive(Debug, Deserialize)]
struct ServiceDto {
    service: String,
    #[serde(flatten)]
    strategy: StrategyDto,
}

#[derive(Debug, Deserialize)]
struct StrategyDto {
    #[serde(rename = "type")]
    kind: String,
    param: f64,
    #[serde(default)]
    operation_strategies: Vec<OperationDto>,
}

#[derive(Debug, Deserialize)]
struct OperationDto {
    operation: String,
    #[serde(rename = "type")]
    kind: String,
    param: f64,
}

impl Strategies {
    /// Parses Jaeger's strategies file.
    pub fn parse(json: &[u8]) -> Result<Strategies, StrategiesError> {
        let file: FileDto = serde_json::from_slice(json)?;
        let default = match file.default_strategy {
            Some(dto) => service_strategy("default_strategy", dto)?,
            None => Strategies::default().default,
        };
        let mut services = HashMap::new();
        for dto in file.service_strategies {
            let place = format!("service `{}`", dto.service);
            let mut strategy = service_strategy(&place, dto.strategy)?;
            if strategy.operations.is_empty()
                && matches!(strategy.strategy, Strategy::Probabilistic(_))
            {
                strategy.operations = default.operations.clone();
            }
            services.insert(dto.service, strategy);
        }
        Ok(Strategies { default, services })
    }

    pub fn for_service(&self, service: &str) -> &ServiceStrategy {
        self.services.get(service).unwrap_or(&self.default)
    }
}

fn service_strategy(place: &str, dto: StrategyDto) -> Result<ServiceStrategy, StrategiesError> {
    let invalid = |reason: String| StrategiesError::Invalid {
        place: place.to_owned(),
        reason,
    };
    let strategy = match dto.kind.as_str() {
        "probabilistic" => Strategy::Probabilistic(probability(dto.param).map_err(invalid)?),
        "ratelimiting" => {
            if !(0.0..=f64::from(i32::MAX)).contains(&dto.param) {
                return Err(invalid(format!(
                    "ratelimiting param must be a non-negative number of traces per second, got {}",
                    dto.param
                )));
            }
            Strategy::RateLimiting(dto.param as i32)
        }
        other => {
            return Err(invalid(format!(
                "unknown type `{other}`; use probabilistic or ratelimiting"
            )))
        }
    };
    let mut operations = Vec::with_capacity(dto.operation_strategies.len());
    for operation in dto.operation_strategies {
        if operation.kind != "probabilistic" {
            return Err(invalid(format!(
                "operation `{}`: only probabilistic operation strategies exist",
                operation.operation
            )));
        }
        let p = probability(operation.param)
            .map_err(|reason| invalid(format!("operation `{}`: {reason}", operation.operation)))?;
        operations.push((operation.operation, p));
    }
    Ok(ServiceStrategy {
        strategy,
        operations,
    })
}

fn probability(param: f64) -> Result<f64, String> {
    if (0.0..=1.0).contains(&param) {
        Ok(param)
    } else {
        Err(format!(
            "probabilistic param must be between 0 and 1, got {param}"
        ))
    }
}

impl ServiceStrategy {
    /// The reply a polling SDK gets. Per-operation strategies go in
    /// `operationSampling`, with the service's probability as the default and
    /// `strategyType` left at PROBABILISTIC, as Jaeger answers.
    pub fn to_response(&self, lower_bound_per_second: f64) -> SamplingStrategyResponse {
        match &self.strategy {
            Strategy::RateLimiting(max) => SamplingStrategyResponse {
                strategy_type: SamplingStrategyType::RateLimiting as i32,
                rate_limiting_sampling: Some(RateLimitingSamplingStrategy {
                    max_traces_per_second: *max,
                }),
                ..SamplingStrategyResponse::default()
            },
            Strategy::Probabilistic(p) => SamplingStrategyResponse {
                strategy_type: SamplingStrategyType::Probabilistic as i32,
                probabilistic_sampling: Some(ProbabilisticSamplingStrategy { sampling_rate: *p }),
                operation_sampling: (!self.operations.is_empty()).then(|| {
                    PerOperationSamplingStrategies {
                        default_sampling_probability: *p,
                        default_lower_bound_traces_per_second: lower_bound_per_second,
                        per_operation_strategies: self
                            .operations
                            .iter()
                            .map(|(operation, p)| OperationSamplingStrategy {
                                operation: operation.clone(),
                                probabilistic_sampling: Some(ProbabilisticSamplingStrategy {
                                    sampling_rate: *p,
                                }),
                            })
                            .collect(),
                        default_upper_bound_traces_per_second: 0.0,
                    }
                }),
                ..SamplingStrategyResponse::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaeger_file_format_with_inherited_operation_strategies() {
        let strategies = Strategies::parse(
            br#"{
              "service_strategies": [
                {"service": "foo", "type": "probabilistic", "param": 0.8,
                 "operation_strategies": [{"operation": "op1", "type": "probabilistic", "param": 0.2}]},
                {"service": "bar", "type": "ratelimiting", "param": 5},
                {"service": "baz", "type": "probabilistic", "param": 0.3}
              ],
              "default_strategy": {"type": "probabilistic", "param": 0.5,
                "operation_strategies": [{"operation": "/health", "type": "probabilistic", "param": 0.0}]}
            }"#,
        )
        .unwrap();
        assert_eq!(
            strategies.for_service("foo").operations,
            [("op1".to_owned(), 0.2)]
        );
        assert_eq!(
            strategies.for_service("bar").strategy,
            Strategy::RateLimiting(5)
        );
        assert_eq!(
            strategies.for_service("baz").operations,
            [("/health".to_owned(), 0.0)]
        );
        assert_eq!(
            strategies.for_service("other").strategy,
            Strategy::Probabilistic(0.5)
        );
        let response = strategies.for_service("foo").to_response(0.0);
        let operations = response.operation_sampling.unwrap();
        assert_eq!(operations.default_sampling_probability, 0.8);
        assert_eq!(operations.per_operation_strategies[0].operation, "op1");
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let error =
            Strategies::parse(br#"{"default_strategy": {"type": "probabilistic", "param": 2}}"#)
                .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid sampling strategy for default_strategy: probabilistic param must be between 0 and 1, got 2"
        );
        let error = Strategies::parse(
            br#"{"service_strategies": [{"service": "a", "type": "always", "param": 1}]}"#,
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("service `a`: unknown type `always`"),
            "{error}"
        );
        assert!(Strategies::parse(b"{").is_err());
    }

    #[test]
    fn default_is_probabilistic_one_in_a_thousand() {
        let response = Strategies::default().for_service("any").to_response(0.0);
        assert_eq!(
            response.strategy_type,
            SamplingStrategyType::Probabilistic as i32
        );
        assert_eq!(
            response.probabilistic_sampling.unwrap().sampling_rate,
            0.001
        );
        assert!(response.operation_sampling.is_none());
    }
}
