//! The JSON of the trace views beyond the waterfall (`/internal/ui/traces/{id}/flamegraph`,
//! `…/statistics`, `/internal/ui/compare`, `/internal/ui/why-slow`,
//! `/internal/ui/dependencies`), rendered from `query::views`. Shapes are
//! documented in `docs/ui.md`; `ui/api.js` is their one reader.

use std::collections::HashMap;

use serde::Serialize;

use crate::model::Span;
use crate::query::tree::TraceTree;
use crate::query::views::compare::{CompareNode, Presence};
use crate::query::views::dependency_layout::DependencyGraph;
use crate::query::views::flame::Flamegraph;
use crate::query::views::stats::OperationStats;
use crate::query::views::why_slow::WhySlow;

use super::ui_dto::color_indexes;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceColorDto {
    name: String,
    color_index: u32,
}

/// Services sorted by name with their colours (the waterfall's), and a lookup.
fn services<'a>(
    names: impl Iterator<Item = &'a str>,
) -> (Vec<ServiceColorDto>, HashMap<String, usize>) {
    let mut sorted: Vec<&str> = names.collect();
    sorted.sort_unstable();
    sorted.dedup();
    let colors = color_indexes(sorted.iter().copied());
    let index = sorted
        .iter()
        .enumerate()
        .map(|(index, name)| ((*name).to_owned(), index))
        .collect();
    let list = sorted
        .into_iter()
        .zip(colors)
        .map(|(name, color_index)| ServiceColorDto {
            name: name.to_owned(),
            color_index,
        })
        .collect();
    (list, index)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FlamegraphDto {
    trace_id: String,
    duration_us: u64,
    critical_total_us: u64,
    self_total_us: u64,
    services: Vec<ServiceColorDto>,
    /// Preorder; a frame's children lie within its x range on either axis.
    frames: Vec<FlameFrameDto>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FlameFrameDto {
    depth: u32,
    service_index: usize,
    operation: String,
    num_spans: u64,
    num_errors: u64,
    duration_us: u64,
    self_us: u64,
    critical_us: u64,
    critical_x_us: u64,
    critical_total_us: u64,
    self_x_us: u64,
    self_total_us: u64,
}

pub(crate) fn flamegraph(
    trace_id: String,
    tree: &TraceTree,
    flame: &Flamegraph<'_>,
) -> FlamegraphDto {
    let (services, index) = services(flame.frames.iter().map(|f| f.frame.service.as_str()));
    FlamegraphDto {
        trace_id,
        duration_us: trace_duration_us(tree),
        critical_total_us: flame.critical_total_us,
        self_total_us: flame.self_total_us,
        services,
        frames: flame
            .frames
            .iter()
            .map(|f| FlameFrameDto {
                depth: f.frame.depth,
                service_index: index[&f.frame.service],
                operation: f.frame.operation.clone(),
                num_spans: f.frame.num_spans,
                num_errors: f.frame.num_errors,
                duration_us: f.frame.duration_us,
                self_us: f.frame.self_us,
                critical_us: f.frame.critical_us,
                critical_x_us: f.critical_x_us,
                critical_total_us: f.critical_total_us,
                self_x_us: f.self_x_us,
                self_total_us: f.self_total_us,
            })
            .collect(),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatisticsDto {
    trace_id: String,
    duration_us: u64,
    services: Vec<ServiceColorDto>,
    /// Most self time first.
    operations: Vec<OperationStatsDto>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OperationStatsDto {
    service_index: usize,
    operation: String,
    num_spans: u64,
    num_errors: u64,
    total_us: u64,
    avg_us: u64,
    min_us: u64,
    max_us: u64,
    self_total_us: u64,
    self_avg_us: u64,
    self_min_us: u64,
    self_max_us: u64,
    /// Self time as a share of the trace's duration, 0–100 (more with parallel work).
    self_percent: f64,
}

pub(crate) fn statistics(
    trace_id: String,
    tree: &TraceTree,
    stats: &[OperationStats],
) -> StatisticsDto {
    let duration_us = trace_duration_us(tree);
    let (services, index) = services(stats.iter().map(|s| s.service.as_str()));
    StatisticsDto {
        trace_id,
        duration_us,
        services,
        operations: stats
            .iter()
            .map(|s| OperationStatsDto {
                service_index: index[&s.service],
                operation: s.operation.clone(),
                num_spans: s.num_spans,
                num_errors: s.num_errors,
                total_us: s.total_us,
                avg_us: s.avg_us(),
                min_us: s.min_us,
                max_us: s.max_us,
                self_total_us: s.self_total_us,
                self_avg_us: s.self_avg_us(),
                self_min_us: s.self_min_us,
                self_max_us: s.self_max_us,
                self_percent: s.self_percent(duration_us),
            })
            .collect(),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CompareDto {
    a: CompareTraceDto,
    b: CompareTraceDto,
    services: Vec<ServiceColorDto>,
    /// Preorder; `subtreeSize` counts a node and its descendants.
    nodes: Vec<CompareNodeDto>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CompareTraceDto {
    trace_id: String,
    root_service_name: String,
    root_operation_name: String,
    duration_us: u64,
    num_spans: usize,
}

pub(crate) fn compare_trace(trace_id: String, spans: &[Span], tree: &TraceTree) -> CompareTraceDto {
    let root = tree.rows.first().map(|row| &spans[row.span_index]);
    CompareTraceDto {
        trace_id,
        root_service_name: root
            .map(|span| span.resource.service_name.clone())
            .unwrap_or_default(),
        root_operation_name: root.map(|span| span.name.clone()).unwrap_or_default(),
        duration_us: trace_duration_us(tree),
        num_spans: tree.rows.len(),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CompareNodeDto {
    depth: u32,
    subtree_size: u32,
    service_index: usize,
    operation: String,
    /// `"a"`, `"b"` or `"both"`.
    presence: &'static str,
    num_spans_a: u64,
    num_spans_b: u64,
    duration_us_a: u64,
    duration_us_b: u64,
    self_us_a: u64,
    self_us_b: u64,
}

pub(crate) fn compare(
    a: CompareTraceDto,
    b: CompareTraceDto,
    nodes: &[CompareNode<'_>],
) -> CompareDto {
    let (services, index) = services(nodes.iter().map(|node| node.service));
    CompareDto {
        a,
        b,
        services,
        nodes: nodes
            .iter()
            .map(|node| {
                let (num_spans_a, num_spans_b) = node.num_spans();
                let (duration_us_a, duration_us_b) = node.duration_us();
                let (self_us_a, self_us_b) = node.self_us();
                CompareNodeDto {
                    depth: node.depth,
                    subtree_size: node.subtree_size,
                    service_index: index[node.service],
                    operation: node.operation.to_owned(),
                    presence: match node.presence {
                        Presence::OnlyA => "a",
                        Presence::OnlyB => "b",
                        Presence::Both => "both",
                    },
                    num_spans_a,
                    num_spans_b,
                    duration_us_a,
                    duration_us_b,
                    self_us_a,
                    self_us_b,
                }
            })
            .collect(),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WhySlowDto {
    service: String,
    operation: String,
    num_traces: usize,
    num_slow: usize,
    /// `"p90"` or `"range"`.
    split: &'static str,
    slow_min_us: u64,
    slow_max_us: u64,
    /// Trace durations analysed, µs, for the distribution chart.
    durations_us: Vec<u64>,
    attributes: Vec<AttributeFindingDto>,
    operations: Vec<OperationFindingDto>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AttributeFindingDto {
    key: String,
    value: String,
    num_slow: usize,
    num_other: usize,
    slow_share: f64,
    other_share: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OperationFindingDto {
    service: String,
    operation: String,
    slow_calls: f64,
    other_calls: f64,
    slow_self_us: f64,
    other_self_us: f64,
}

pub(crate) fn why_slow(
    service: String,
    operation: String,
    split_is_range: bool,
    durations_us: Vec<u64>,
    result: WhySlow,
) -> WhySlowDto {
    WhySlowDto {
        service,
        operation,
        num_traces: result.num_traces,
        num_slow: result.num_slow,
        split: if split_is_range { "range" } else { "p90" },
        slow_min_us: result.slow_min_us,
        slow_max_us: result.slow_max_us,
        durations_us,
        attributes: result
            .attributes
            .into_iter()
            .map(|f| AttributeFindingDto {
                key: f.key,
                value: f.value,
                num_slow: f.num_slow,
                num_other: f.num_other,
                slow_share: f.slow_share,
                other_share: f.other_share,
            })
            .collect(),
        operations: result
            .operations
            .into_iter()
            .map(|f| OperationFindingDto {
                service: f.service,
                operation: f.operation,
                slow_calls: f.slow_calls,
                other_calls: f.other_calls,
                slow_self_us: f.slow_self_us,
                other_self_us: f.other_self_us,
            })
            .collect(),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DependencyGraphDto {
    services: Vec<ServiceColorDto>,
    /// Positions in layout units: `layer` columns left to right, `row` within one.
    nodes: Vec<DependencyNodeDto>,
    edges: Vec<DependencyEdgeDto>,
    num_layers: usize,
    max_rows: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DependencyNodeDto {
    service_index: usize,
    layer: usize,
    row: usize,
    calls_in: u64,
    calls_out: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DependencyEdgeDto {
    /// Indexes into `nodes`.
    parent: usize,
    child: usize,
    call_count: u64,
}

pub(crate) fn dependency_graph(graph: &DependencyGraph) -> DependencyGraphDto {
    let (services, index) = services(graph.nodes.iter().map(|node| node.service.as_str()));
    DependencyGraphDto {
        services,
        nodes: graph
            .nodes
            .iter()
            .map(|node| DependencyNodeDto {
                service_index: index[&node.service],
                layer: node.layer,
                row: node.row,
                calls_in: node.calls_in,
                calls_out: node.calls_out,
            })
            .collect(),
        edges: graph
            .edges
            .iter()
            .map(|edge| DependencyEdgeDto {
                parent: edge.parent,
                child: edge.child,
                call_count: edge.call_count,
            })
            .collect(),
        num_layers: graph.num_layers,
        max_rows: graph.max_rows,
    }
}

fn trace_duration_us(tree: &TraceTree) -> u64 {
    tree.end_unix_nanos.saturating_sub(tree.start_unix_nanos) / 1000
}
