//! Jaeger's `MetricFamily` in protojson (`jaeger-idl` openmetrics.proto), as its
//! Monitor tab reads it (`reducers/metrics.tsx`): camelCase fields, enum names as
//! strings, RFC 3339 timestamps, and `"NaN"` for a point without data.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MetricFamilyDto {
    pub(crate) name: &'static str,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) help: String,
    pub(crate) metrics: Vec<MetricDto>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MetricDto {
    pub(crate) labels: Vec<LabelDto>,
    pub(crate) metric_points: Vec<MetricPointDto>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct LabelDto {
    pub(crate) name: &'static str,
    pub(crate) value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MetricPointDto {
    pub(crate) gauge_value: GaugeValueDto,
    pub(crate) timestamp: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GaugeValueDto {
    pub(crate) double_value: DoubleValue,
}

/// protojson writes non-finite doubles as strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DoubleValue(pub(crate) Option<f64>);

impl Serialize for DoubleValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(value) if value.is_finite() => serializer.serialize_f64(value),
            _ => serializer.serialize_str("NaN"),
        }
    }
}

/// Unix seconds as protojson's `Timestamp`: RFC 3339 in UTC with a `Z`.
pub(crate) fn rfc3339(unix_secs: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(unix_secs).unwrap_or(i64::MAX), 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
