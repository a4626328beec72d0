//! The JSON of the web UI's own endpoints (`/internal/ui/*`), and the pure
//! rendering of a trace's spans and tree into it.
//!
//! Besides `dto`, this is the only place in `api/` that derives `Serialize`. The
//! trace view is shaped for 50,000-span traces, so it is compact rather than
//! self-describing:
//! - resources, scopes and services are listed once and rows refer to them by index;
//! - attributes are `[key, type, value]` triples, not objects;
//! - empty lists, `false` flags, unset status and missing parents are left out.
//!
//! `ui/api.js` is the one reader of this shape; change both together.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::model::{AttrValue, Attribute, Resource, Scope, Span, SpanKind, StatusCode};
use crate::query::n_plus_one::Finding;
use crate::query::tree::{TraceTree, TreeWarning};

/// Service colours in `ui/styles/base.css` (`--svc-0` … `--svc-19`).
const NUM_SERVICE_COLORS: u32 = 20;

/// The largest integer a JavaScript number holds exactly; larger ones go as text.
const MAX_SAFE_JS_INTEGER: i64 = (1 << 53) - 1;

/// `GET /internal/ui/traces/{id}`: one trace, precomputed for the waterfall.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TraceViewDto<'a> {
    trace_id: String,
    root_service_name: &'a str,
    root_operation_name: &'a str,
    start_unix_micros: u64,
    duration_us: u64,
    num_spans: usize,
    num_errors: usize,
    /// Depth of the deepest span; a lone root is 0.
    max_depth: u32,
    services: Vec<ServiceDto>,
    resources: Vec<ResourceDto<'a>>,
    scopes: Vec<ScopeDto<'a>>,
    warnings: Vec<String>,
    /// Runs of repeated sibling spans (N+1 queries, fan-outs), largest first.
    n_plus_one: Vec<NPlusOneDto>,
    /// Preorder: parents before children, children by start time.
    rows: Vec<RowDto<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NPlusOneDto {
    service: String,
    fingerprint: String,
    /// Row of the parent span; left out when the parent is not in the trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_row: Option<usize>,
    /// Rows of the repeated spans, by start time.
    rows: Vec<usize>,
    total_us: u64,
    longest_us: u64,
    wall_us: u64,
    /// `"sequential"` (a loop) or `"parallel"` (a fan-out).
    mode: &'static str,
    could_save_us: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceDto {
    name: String,
    /// Stable per service name; see `color_indexes`.
    color_index: u32,
    num_spans: usize,
    num_errors: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceDto<'a> {
    service_index: usize,
    attributes: Vec<AttributeDto<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ScopeDto<'a> {
    name: &'a str,
    version: &'a str,
    attributes: Vec<AttributeDto<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RowDto<'a> {
    span_id: String,
    /// Only when the row's parent in the tree is not this span's parent (orphans,
    /// cut cycles): otherwise the reader takes the last row one level up, which
    /// saves a tenth of a big trace's JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_span_id: Option<String>,
    depth: u32,
    subtree_size: u32,
    start_offset_us: u64,
    duration_us: u64,
    /// The service is the resource's (`resources[i].serviceIndex`).
    resource_index: usize,
    scope_index: usize,
    name: &'a str,
    kind: &'static str,
    /// `"ok"` or `"error"`; left out when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    status_code: Option<&'static str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    status_message: &'a str,
    #[serde(skip_serializing_if = "is_false")]
    error: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<AttributeDto<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    events: Vec<EventDto<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<LinkDto<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    on_critical_path: bool,
    /// `[start, end]` µs offsets from the trace start.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    critical_sections: Vec<(u64, u64)>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EventDto<'a> {
    name: &'a str,
    /// µs from the trace start; negative when a skewed clock put it earlier.
    offset_us: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<AttributeDto<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LinkDto<'a> {
    trace_id: String,
    span_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<AttributeDto<'a>>,
}

/// `[key, type, value]`; type is one of string, bool, int64, float64, bytes,
/// array, map, empty.
#[derive(Debug, Serialize)]
struct AttributeDto<'a>(&'a str, &'static str, ValueDto<'a>);

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum ValueDto<'a> {
    Text(Cow<'a, str>),
    Bool(bool),
    Int(i64),
    Float(f64),
    Null(()),
}

/// `GET /internal/ui/config`: what the empty state tells users.
/// `POST /internal/ui/trace-file`: every trace of an opened file, each in the
/// stored trace's view, and the spans the file held that could not be read.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TraceFileDto<'a> {
    traces: Vec<TraceViewDto<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<SkippedSpans>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SkippedSpans {
    num_spans: u64,
    first_reason: String,
}

impl SkippedSpans {
    /// `None` when every span was read.
    pub(crate) fn new(num_spans: u64, first_reason: Option<String>) -> Option<SkippedSpans> {
        (num_spans > 0).then(|| SkippedSpans {
            num_spans,
            first_reason: first_reason.unwrap_or_default(),
        })
    }
}

impl<'a> TraceFileDto<'a> {
    pub(crate) fn new(
        traces: Vec<TraceViewDto<'a>>,
        skipped: Option<SkippedSpans>,
    ) -> TraceFileDto<'a> {
        TraceFileDto { traces, skipped }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UiConfigDto {
    pub(crate) otlp_grpc: String,
    pub(crate) otlp_http: String,
}

/// Renders one trace's spans, the tree built from them and their N+1 findings.
pub(crate) fn trace_view<'a>(
    spans: &'a [Span],
    tree: &TraceTree,
    findings: &[Finding],
) -> TraceViewDto<'a> {
    let colors = color_indexes(tree.services.iter().map(|service| service.name.as_str()));
    let services: Vec<ServiceDto> = tree
        .services
        .iter()
        .zip(&colors)
        .map(|(service, &color_index)| ServiceDto {
            name: service.name.clone(),
            color_index,
            num_spans: service.num_spans,
            num_errors: service.num_errors,
        })
        .collect();
    let service_index: HashMap<&str, usize> = tree
        .services
        .iter()
        .enumerate()
        .map(|(index, service)| (service.name.as_str(), index))
        .collect();

    let mut resources: Interner<'_, Resource> = Interner::default();
    let mut scopes: Interner<'_, Scope> = Interner::default();
    let trace_start = tree.start_unix_nanos;
    let rows: Vec<RowDto<'_>> = tree
        .rows
        .iter()
        .map(|row| {
            let span = &spans[row.span_index];
            RowDto {
                span_id: span.span_id.to_hex(),
                parent_span_id: span
                    .parent_span_id
                    .filter(|parent_id| {
                        let tree_parent = row
                            .parent_row
                            .map(|parent_row| spans[tree.rows[parent_row].span_index].span_id);
                        tree_parent != Some(*parent_id)
                    })
                    .map(|id| id.to_hex()),
                depth: row.depth,
                subtree_size: row.subtree_size,
                start_offset_us: row.start_offset_us,
                duration_us: row.duration_us,
                resource_index: resources.index_of(&span.resource),
                scope_index: scopes.index_of(&span.scope),
                name: &span.name,
                kind: kind_name(span.kind),
                status_code: match span.status_code {
                    StatusCode::Unset => None,
                    StatusCode::Ok => Some("ok"),
                    StatusCode::Error => Some("error"),
                },
                status_message: &span.status_message,
                error: span.is_error(),
                attributes: attributes(&span.attributes),
                events: span
                    .events
                    .iter()
                    .map(|event| EventDto {
                        name: &event.name,
                        offset_us: signed_offset_us(event.time_unix_nanos, trace_start),
                        attributes: attributes(&event.attributes),
                    })
                    .collect(),
                links: span
                    .links
                    .iter()
                    .map(|link| LinkDto {
                        trace_id: link.trace_id.to_hex(),
                        span_id: link.span_id.to_hex(),
                        attributes: attributes(&link.attributes),
                    })
                    .collect(),
                warnings: row.warnings.iter().map(ToString::to_string).collect(),
                on_critical_path: row.on_critical_path(),
                critical_sections: row.critical_sections_us.clone(),
            }
        })
        .collect();

    let root = tree.rows.first().map(|row| &spans[row.span_index]);
    TraceViewDto {
        trace_id: root.map(|span| span.trace_id.to_hex()).unwrap_or_default(),
        root_service_name: root.map(Span::service_name).unwrap_or_default(),
        root_operation_name: root.map(|span| span.name.as_str()).unwrap_or_default(),
        start_unix_micros: tree.start_unix_nanos / 1000,
        duration_us: (tree.end_unix_nanos - tree.start_unix_nanos) / 1000,
        num_spans: tree.rows.len(),
        num_errors: tree.services.iter().map(|service| service.num_errors).sum(),
        max_depth: tree.max_depth,
        warnings: trace_warnings(tree),
        n_plus_one: n_plus_one(tree, findings),
        resources: resources
            .values
            .iter()
            .map(|resource| ResourceDto {
                service_index: service_index
                    .get(resource.service_name.as_str())
                    .copied()
                    .unwrap_or_default(),
                attributes: attributes(&resource.attributes),
            })
            .collect(),
        scopes: scopes
            .values
            .iter()
            .map(|scope| ScopeDto {
                name: &scope.name,
                version: &scope.version,
                attributes: attributes(&scope.attributes),
            })
            .collect(),
        services,
        rows,
    }
}

fn n_plus_one(tree: &TraceTree, findings: &[Finding]) -> Vec<NPlusOneDto> {
    let mut row_of = vec![
        None;
        tree.rows
            .iter()
            .map(|row| row.span_index + 1)
            .max()
            .unwrap_or(0)
    ];
    for (row_index, row) in tree.rows.iter().enumerate() {
        row_of[row.span_index] = Some(row_index);
    }
    let row = |span_index: usize| row_of.get(span_index).copied().flatten();
    findings
        .iter()
        .map(|finding| NPlusOneDto {
            service: finding.service.clone(),
            fingerprint: finding.fingerprint.clone(),
            parent_row: finding.parent.and_then(row),
            rows: finding
                .spans
                .iter()
                .filter_map(|&index| row(index))
                .collect(),
            total_us: finding.total_nanos / 1000,
            longest_us: finding.longest_nanos / 1000,
            wall_us: finding.wall_nanos / 1000,
            mode: if finding.parallel {
                "parallel"
            } else {
                "sequential"
            },
            could_save_us: finding.could_save_nanos() / 1000,
        })
        .collect()
}

/// Colour slots for service names: sorted by name, each takes FNV-1a(name) mod
/// the palette size, moving on to the next free slot on a collision while free
/// slots remain. Hashing keeps a service's colour from trace to trace; probing
/// keeps the services of one trace apart. `ui/lib/format.js` (`assignColors`)
/// does the same for search results and opened files.
pub(super) fn color_indexes<'a>(sorted_names: impl Iterator<Item = &'a str>) -> Vec<u32> {
    let mut taken = [false; NUM_SERVICE_COLORS as usize];
    let mut num_taken = 0;
    sorted_names
        .map(|name| {
            let mut slot = fnv1a32(name.as_bytes()) % NUM_SERVICE_COLORS;
            if num_taken < taken.len() {
                while taken[slot as usize] {
                    slot = (slot + 1) % NUM_SERVICE_COLORS;
                }
                taken[slot as usize] = true;
                num_taken += 1;
            }
            slot
        })
        .collect()
}

fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// Sentences about the whole trace, for the header.
fn trace_warnings(tree: &TraceTree) -> Vec<String> {
    let mut warnings = Vec::new();
    let count = |matches: fn(&TreeWarning) -> bool| {
        tree.rows
            .iter()
            .filter(|row| row.warnings.iter().any(matches))
            .count()
    };
    let num_orphans = count(|warning| matches!(warning, TreeWarning::Orphan { .. }));
    if num_orphans > 0 {
        warnings.push(format!(
            "{num_orphans} span(s) have a parent that is not in this trace; they are shown as roots"
        ));
    }
    let num_cycles = count(|warning| matches!(warning, TreeWarning::CycleBroken { .. }));
    if num_cycles > 0 {
        warnings.push(format!(
            "{num_cycles} parent reference cycle(s) were cut to draw the tree"
        ));
    }
    let num_skewed = count(|warning| {
        matches!(
            warning,
            TreeWarning::StartsBeforeParent { .. } | TreeWarning::EndsAfterParent { .. }
        )
    });
    if num_skewed > 0 {
        warnings.push(format!(
            "{num_skewed} span(s) start before or end after their parent; clocks may be skewed"
        ));
    }
    if tree.num_duplicates_dropped > 0 {
        warnings.push(format!(
            "{} exact duplicate span(s) were dropped",
            tree.num_duplicates_dropped
        ));
    }
    warnings
}

fn kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "unspecified",
        other => other.jaeger_name(),
    }
}

fn signed_offset_us(time_unix_nanos: u64, trace_start: u64) -> i64 {
    let difference = i128::from(time_unix_nanos) - i128::from(trace_start);
    // i64 µs spans ±292,000 years; clamping only guards against garbage times.
    (difference / 1000).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn attributes(attributes: &[Attribute]) -> Vec<AttributeDto<'_>> {
    attributes
        .iter()
        .map(|attribute| {
            let (kind, value) = typed_value(&attribute.value);
            AttributeDto(&attribute.key, kind, value)
        })
        .collect()
}

fn typed_value(value: &AttrValue) -> (&'static str, ValueDto<'_>) {
    match value {
        AttrValue::Str(text) => ("string", ValueDto::Text(Cow::Borrowed(text))),
        AttrValue::Bool(value) => ("bool", ValueDto::Bool(*value)),
        AttrValue::Int(value) if value.unsigned_abs() <= MAX_SAFE_JS_INTEGER as u64 => {
            ("int64", ValueDto::Int(*value))
        }
        AttrValue::Int(value) => ("int64", ValueDto::Text(Cow::Owned(value.to_string()))),
        AttrValue::Double(value) if value.is_finite() => ("float64", ValueDto::Float(*value)),
        // JSON has no NaN or infinities; send the words, as protobuf's JSON does.
        AttrValue::Double(value) => ("float64", ValueDto::Text(Cow::Owned(value.to_string()))),
        AttrValue::Bytes(_) => (
            "bytes",
            ValueDto::Text(Cow::Owned(value.to_search_string())),
        ),
        AttrValue::Array(_) => ("array", ValueDto::Text(Cow::Owned(value.to_json_text()))),
        AttrValue::KvList(_) => ("map", ValueDto::Text(Cow::Owned(value.to_json_text()))),
        AttrValue::Empty => ("empty", ValueDto::Null(())),
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Numbers the distinct resources or scopes of a trace in order of first use.
/// Spans of one export share an `Arc`, so the pointer answers most look-ups; equal
/// values behind different `Arc`s still get one number.
#[derive(Debug)]
struct Interner<'a, T> {
    values: Vec<&'a T>,
    by_pointer: HashMap<*const T, usize>,
}

impl<T> Default for Interner<'_, T> {
    fn default() -> Self {
        Interner {
            values: Vec::new(),
            by_pointer: HashMap::new(),
        }
    }
}

impl<'a, T: PartialEq> Interner<'a, T> {
    fn index_of(&mut self, value: &'a Arc<T>) -> usize {
        let pointer = Arc::as_ptr(value);
        if let Some(&index) = self.by_pointer.get(&pointer) {
            return index;
        }
        let index = match self.values.iter().position(|known| **known == **value) {
            Some(index) => index,
            None => {
                self.values.push(value);
                self.values.len() - 1
            }
        };
        self.by_pointer.insert(pointer, index);
        index
    }
}

pub(crate) mod monitor;

#[cfg(test)]
mod tests;
