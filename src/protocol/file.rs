//! Trace files as users save them: Jaeger's JSON (`{"data": [...]}`, what
//! `/api/traces/{id}` and the Jaeger UI's download serve) or OTLP/JSON
//! (`{"resourceSpans": [...]}`, what the Collector's file exporter writes, also
//! wrapped in api_v3's `{"result": ...}`). The format is told from the top-level
//! keys; the decoding is `jaeger::decode_json` or `otlp::decode_json_spans`.

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::{jaeger, otlp, Converted};

/// Why a file cannot be opened; the text is shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("not a JSON file: {0}")]
    NotJson(serde_json::Error),
    #[error(
        "unrecognised JSON: expected Jaeger's {{\"data\": [...]}} or OTLP's {{\"resourceSpans\": [...]}}"
    )]
    Unrecognised,
    #[error("invalid Jaeger JSON: {0}")]
    Jaeger(serde_json::Error),
    #[error(transparent)]
    Otlp(#[from] otlp::DecodeError),
    #[error("the file holds no spans")]
    NoSpans,
    #[error("no span in the file is valid ({num_rejected} rejected; the first: {first_error})")]
    NoValidSpans {
        num_rejected: u64,
        first_error: String,
    },
}

/// Decodes a trace file of either format into model spans (of any number of traces).
pub fn decode_json_file(body: &[u8]) -> Result<Converted, FileError> {
    let converted = match body.iter().find(|byte| !byte.is_ascii_whitespace()) {
        None => return Err(FileError::NoSpans),
        Some(&b'[') => jaeger::decode_json(body).map_err(FileError::Jaeger)?,
        Some(_) => {
            // Skims the document once for its top-level keys; values are skipped,
            // except api_v3's `result`, which is rare and decoded again below.
            let probe: Probe = serde_json::from_slice(body).map_err(|error| {
                if error.is_data() {
                    FileError::Unrecognised
                } else {
                    FileError::NotJson(error)
                }
            })?;
            if probe.resource_spans.is_some() {
                otlp::decode_json_converted(body)?
            } else if let Some(result) = probe.result {
                let inner = serde_json::to_vec(&result).map_err(FileError::NotJson)?;
                otlp::decode_json_converted(&inner)?
            } else if probe.data.is_some() || probe.spans.is_some() {
                jaeger::decode_json(body).map_err(FileError::Jaeger)?
            } else {
                return Err(FileError::Unrecognised);
            }
        }
    };
    if converted.spans.is_empty() {
        return Err(if converted.num_rejected == 0 {
            FileError::NoSpans
        } else {
            FileError::NoValidSpans {
                num_rejected: converted.num_rejected,
                first_error: converted.first_error_message(),
            }
        });
    }
    Ok(converted)
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct Probe {
    data: Option<IgnoredAny>,
    spans: Option<IgnoredAny>,
    #[serde(rename = "resourceSpans", alias = "resource_spans")]
    resource_spans: Option<IgnoredAny>,
    result: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_error(body: &str, expected: &str) {
        let error = decode_json_file(body.as_bytes())
            .err()
            .unwrap_or_else(|| panic!("{body} must fail"));
        assert!(
            error.to_string().starts_with(expected),
            "{body}: got {error}"
        );
    }

    #[test]
    fn says_what_is_wrong_with_a_file() {
        check_error("", "the file holds no spans");
        check_error(
            "hello",
            "not a JSON file: expected value at line 1 column 1",
        );
        check_error("{\"data\": [", "not a JSON file: EOF while parsing");
        check_error("{\"traces\": []}", "unrecognised JSON: expected Jaeger's");
        check_error("42", "unrecognised JSON");
        check_error("{\"data\": []}", "the file holds no spans");
        check_error(
            "{\"data\": [{\"spans\": 3}]}",
            "invalid Jaeger JSON: invalid type",
        );
        check_error("{\"resourceSpans\": 3}", "invalid OTLP/JSON");
        check_error(
            r#"{"data":[{"spans":[{"traceID":"0","spanID":"1"}]}]}"#,
            "no span in the file is valid (1 rejected; the first: spans[0]: traceID `0`",
        );
    }

    #[test]
    fn tells_the_formats_apart() {
        let jaeger = r#"{"data":[{"spans":[{"traceID":"1","spanID":"2","processID":"p1"}],
                          "processes":{"p1":{"serviceName":"api"}}}]}"#;
        let otlp = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
            "scopeSpans":[{"spans":[{"traceId":"00000000000000000000000000000001","spanId":"0000000000000002",
            "name":"x","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
        let wrapped = format!("{{\"result\": {otlp}}}");
        for body in [
            jaeger,
            otlp,
            &wrapped,
            &format!("[{}]", &jaeger[9..jaeger.len() - 2]),
        ] {
            let converted = decode_json_file(body.as_bytes()).expect(body);
            assert_eq!(converted.spans.len(), 1, "{body}");
            assert_eq!(converted.spans[0].resource.service_name, "api", "{body}");
        }
    }
}
