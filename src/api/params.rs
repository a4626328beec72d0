//! Parsing of query-string values shared by the Jaeger v1 and api_v3 routes.

use std::time::Duration;

use base64::Engine as _;

use crate::model::TraceId;
use crate::query::AttrFilter;

/// Raw query pairs, keeping repeated keys (`traceID=a&traceID=b`) and their order.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: Option<&str>) -> Result<Params, String> {
        match raw {
            None | Some("") => Ok(Params::default()),
            Some(raw) => serde_urlencoded::from_str(raw)
                .map(Params)
                .map_err(|error| format!("malformed query string: {error}")),
        }
    }

    /// The first non-empty value of the first name that is present.
    pub(crate) fn get(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|name| {
            self.0
                .iter()
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| value.as_str())
        })
    }

    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Every `filter=` expression (repeatable; all must hold), parsed; the error names
/// the bad one. Empty values are skipped, as the UI's form sends them.
pub(crate) fn parse_filters(params: &Params) -> Result<Vec<AttrFilter>, String> {
    params
        .all("filter")
        .filter(|text| !text.trim().is_empty())
        .map(|text| AttrFilter::parse(text).map_err(|error| error.to_string()))
        .collect()
}

/// A boolean flag such as `n_plus_one=true`: absent, empty, `false` or `0` is off.
pub(crate) fn parse_flag(params: &Params, name: &str) -> Result<bool, String> {
    match params.get(&[name]) {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(format!(
            "unable to parse param '{name}': `{other}` is not true or false"
        )),
    }
}

/// A Go `time.ParseDuration` string: `1.5s`, `100ms`, `500us`/`500µs`, `10ns`, `1m30s`, `2h`.
pub(crate) fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let error = || format!("`{text}` is not a duration such as 150ms, 1.5s or 2m");
    let mut rest = text.trim();
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() || rest.starts_with('-') {
        return Err(error());
    }
    rest = rest.strip_prefix('+').unwrap_or(rest);
    let mut total_nanos = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
            .ok_or_else(error)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| error())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|ch: char| ch.is_ascii_digit() || ch == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(error()),
        };
        total_nanos += number * nanos_per_unit;
        rest = &rest[unit_len..];
    }
    if !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
        return Err(error());
    }
    Ok(Duration::from_nanos(total_nanos.round() as u64))
}

/// RFC 3339 with optional fractional seconds, as Unix nanoseconds. A space where the
/// `+` of an offset was meant is accepted: Grafana sends these values unescaped.
pub(crate) fn parse_rfc3339_nanos(text: &str) -> Result<u64, String> {
    let fixed = match text.len().checked_sub(6) {
        Some(offset_start) if text.as_bytes().get(offset_start) == Some(&b' ') => {
            format!("{}+{}", &text[..offset_start], &text[offset_start + 1..])
        }
        _ => text.to_owned(),
    };
    let time = chrono::DateTime::parse_from_rfc3339(&fixed)
        .map_err(|error| format!("`{text}` is not an RFC 3339 time ({error})"))?;
    time.timestamp_nanos_opt()
        .and_then(|nanos| u64::try_from(nanos).ok())
        .ok_or_else(|| format!("`{text}` is out of range"))
}

/// A trace ID from a URL path segment (`/api/v3/traces/{trace_id}` and the UI's
/// route), with api_v3's error wording.
pub(crate) fn path_trace_id(raw_id: &str) -> Result<TraceId, super::error::ApiError> {
    parse_trace_id(raw_id).map_err(|reason| {
        super::error::ApiError::BadRequest(format!("malformed parameter trace_id: {reason}"))
    })
}

/// Hex (Jaeger's rules: up to 32 digits, leading zeros optional) or, as Jaeger ≥ 2.20
/// accepts, the 16 bytes in base64.
pub(crate) fn parse_trace_id(text: &str) -> Result<TraceId, String> {
    if let Ok(trace_id) = TraceId::from_hex(text) {
        return Ok(trace_id);
    }
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines
        .iter()
        .filter_map(|engine| engine.decode(text).ok())
        .find_map(|bytes| TraceId::from_bytes(&bytes))
        .ok_or_else(|| {
            format!(
                "`{text}` is not a trace id: expected up to 32 hex digits or 16 bytes in base64"
            )
        })
}

/// Now, in microseconds since the Unix epoch: the default end of every time window.
pub(crate) fn unix_micros_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: Option<u64>) {
        assert_eq!(
            parse_go_duration(text)
                .ok()
                .map(|duration| duration.as_nanos() as u64),
            expected,
            "{text}"
        );
    }

    #[test]
    fn go_durations() {
        check("1.2s", Some(1_200_000_000));
        check("100ms", Some(100_000_000));
        check("500us", Some(500_000));
        check("500µs", Some(500_000));
        check("10ns", Some(10));
        check("1m30s", Some(90_000_000_000));
        check("1h", Some(3_600_000_000_000));
        check("0", Some(0));
        check("10", None);
        check("-1s", None);
        check("abc", None);
        check("", None);
    }

    #[test]
    fn rfc3339_with_grafana_quirk() {
        assert_eq!(
            parse_rfc3339_nanos("1970-01-01T00:00:01.5Z"),
            Ok(1_500_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("1970-01-01T02:00:01+02:00"),
            Ok(1_000_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("1970-01-01T02:00:01 02:00"),
            Ok(1_000_000_000)
        );
        assert!(parse_rfc3339_nanos("yesterday").is_err());
    }

    #[test]
    fn trace_ids_in_hex_or_base64() {
        let hex = "4bf92f3577b34da6a3ce929d0e0e4736";
        let id = parse_trace_id(hex).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(id.as_bytes());
        assert_eq!(parse_trace_id(&b64).unwrap(), id);
        assert_eq!(
            parse_trace_id("abc").unwrap().to_jaeger_hex(),
            "0000000000000abc"
        );
        assert!(parse_trace_id("zz").unwrap_err().contains("not a trace id"));
    }

    #[test]
    fn params_keep_repeats() {
        let params = Params::parse(Some("traceID=a&traceID=b&service=&service=x")).unwrap();
        assert_eq!(params.all("traceID").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(params.get(&["service"]), Some("x"));
    }
}
