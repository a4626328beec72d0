//! Replays every fuzz corpus file and every fixed crash input through the same entry
//! points the fuzz targets call, so a crash fixed once stays fixed without cargo-fuzz.

use std::path::{Path, PathBuf};

/// A fuzz target's entry point.
type Entry = fn(&[u8]);

/// (target name as in `fuzz/fuzz_targets/`, entry point).
const TARGETS: [(&str, Entry); 7] = [
    ("otlp_protobuf", super::otlp_protobuf),
    ("otlp_json", super::otlp_json),
    ("jaeger", super::jaeger),
    ("zipkin", super::zipkin),
    ("block", super::block),
    ("store_values", super::store_values),
    ("query_params", super::query_params),
];

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_and_fixed_crash_decodes_without_panicking() {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut failures = Vec::new();
    for (name, entry) in TARGETS {
        let corpus = files_in(&fuzz_dir.join("corpus").join(name));
        assert!(
            corpus.len() >= 3,
            "fuzz/corpus/{name} has {} seed files; every target needs real seeds",
            corpus.len()
        );
        let fixed = files_in(&fuzz_dir.join("artifacts-fixed").join(name));
        for path in corpus.iter().chain(&fixed) {
            let data = std::fs::read(path).expect("a readable corpus file");
            if std::panic::catch_unwind(|| entry(&data)).is_err() {
                failures.push(path.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "inputs that panic: {failures:#?}");
}

#[test]
fn the_sample_spans_for_filters_decode() {
    assert_eq!(super::sample_spans().len(), 1);
    let filter = crate::storage::filter::AttrFilter::parse("http.status_code>=500").unwrap();
    assert!(filter.matches(&super::sample_spans()[0]));
}

#[test]
fn spans_written_to_a_block_read_back_the_same() {
    // A request with two resources and an attribute of every kind: the check
    // `store_and_read_back` makes on every fuzz input passes on a real one.
    let body = br#"{"resourceSpans":[
      {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},
       "scopeSpans":[{"spans":[
         {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"x",
          "startTimeUnixNano":"5","endTimeUnixNano":"9",
          "attributes":[{"key":"nan","value":{"doubleValue":"NaN"}}]}]}]},
      {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"b"}}]},
       "scopeSpans":[{"spans":[
         {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"c7ad6b7169203331","name":"y",
          "startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
    let converted = crate::protocol::otlp::decode_json_converted(body).unwrap();
    assert_eq!(converted.spans.len(), 2, "{:?}", converted.first_error);
    super::store_and_read_back(&converted);
}
