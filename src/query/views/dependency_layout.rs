//! A readable layout of the service dependency graph: services in columns
//! (layers) so that calls flow left to right, ordered within each column to keep
//! edges short and crossings few (the Sugiyama method, simplified).
//!
//! 1. Calls that close a cycle are set aside, so the rest is acyclic.
//! 2. Each service goes one column right of its furthest caller (longest path).
//! 3. Rows within a column follow the mean row of each service's neighbours
//!    (barycentres), swept left-to-right and back a few times.

use std::collections::{BTreeSet, HashMap};

use crate::query::Dependency;

/// Odd, so the last sweep goes left to right: callees end up next to their callers.
const ORDERING_SWEEPS: usize = 9;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DependencyGraph {
    pub(crate) nodes: Vec<ServiceNode>,
    pub(crate) edges: Vec<Edge>,
    pub(crate) num_layers: usize,
    pub(crate) max_rows: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServiceNode {
    pub(crate) service: String,
    pub(crate) layer: usize,
    pub(crate) row: usize,
    pub(crate) calls_in: u64,
    pub(crate) calls_out: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Edge {
    pub(crate) parent: usize,
    pub(crate) child: usize,
    pub(crate) call_count: u64,
}

pub(crate) fn layout(dependencies: &[Dependency]) -> DependencyGraph {
    let names: BTreeSet<&str> = dependencies
        .iter()
        .flat_map(|d| [d.parent.as_str(), d.child.as_str()])
        .collect();
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, name)| (*name, i))
        .collect();
    let num = names.len();
    let edges: Vec<Edge> = dependencies
        .iter()
        .filter(|d| d.parent != d.child)
        .map(|d| Edge {
            parent: index[d.parent.as_str()],
            child: index[d.child.as_str()],
            call_count: d.call_count,
        })
        .collect();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); num];
    for edge in &edges {
        out[edge.parent].push(edge.child);
    }
    let forward = acyclic_out(&out);
    let layer = longest_path_layers(&forward);
    let num_layers = layer.iter().max().map_or(0, |max| max + 1);
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); num_layers];
    for (node, &l) in layer.iter().enumerate() {
        columns[l].push(node);
    }
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); num];
    for edge in &edges {
        neighbours[edge.parent].push(edge.child);
        neighbours[edge.child].push(edge.parent);
    }
    let mut row = vec![0usize; num];
    for column in &columns {
        for (position, &node) in column.iter().enumerate() {
            row[node] = position;
        }
    }
    for sweep in 0..ORDERING_SWEEPS {
        let order: Vec<usize> = if sweep % 2 == 0 {
            (1..num_layers).collect()
        } else {
            (0..num_layers.saturating_sub(1)).rev().collect()
        };
        for l in order {
            let reference = if sweep % 2 == 0 { l - 1 } else { l + 1 };
            let mut keyed: Vec<(f64, usize, usize)> = columns[l]
                .iter()
                .map(|&node| {
                    let near: Vec<usize> = neighbours[node]
                        .iter()
                        .copied()
                        .filter(|&other| layer[other] == reference)
                        .collect();
                    let centre = if near.is_empty() {
                        row[node] as f64
                    } else {
                        near.iter().map(|&other| row[other] as f64).sum::<f64>() / near.len() as f64
                    };
                    (centre, row[node], node)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            columns[l] = keyed.into_iter().map(|(_, _, node)| node).collect();
            for (position, &node) in columns[l].iter().enumerate() {
                row[node] = position;
            }
        }
    }
    let mut calls_in = vec![0u64; num];
    let mut calls_out = vec![0u64; num];
    for edge in &edges {
        calls_out[edge.parent] += edge.call_count;
        calls_in[edge.child] += edge.call_count;
    }
    DependencyGraph {
        nodes: names
            .iter()
            .enumerate()
            .map(|(node, name)| ServiceNode {
                service: (*name).to_owned(),
                layer: layer[node],
                row: row[node],
                calls_in: calls_in[node],
                calls_out: calls_out[node],
            })
            .collect(),
        max_rows: columns.iter().map(Vec::len).max().unwrap_or(0),
        edges,
        num_layers,
    }
}

/// The out-edges without those that close a cycle (back edges of an iterative
/// depth-first search started from every node in index order).
fn acyclic_out(out: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; out.len()];
    let mut forward: Vec<Vec<usize>> = vec![Vec::new(); out.len()];
    for start in 0..out.len() {
        if state[start] != NEW {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = OPEN;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&child) = out[node].get(*next) {
                *next += 1;
                match state[child] {
                    OPEN => {} // closes a cycle: left out
                    DONE => forward[node].push(child),
                    _ => {
                        forward[node].push(child);
                        state[child] = OPEN;
                        stack.push((child, 0));
                    }
                }
            } else {
                state[node] = DONE;
                stack.pop();
            }
        }
    }
    forward
}

/// Each node one layer right of its furthest predecessor, by Kahn's topological order.
fn longest_path_layers(forward: &[Vec<usize>]) -> Vec<usize> {
    let mut indegree = vec![0usize; forward.len()];
    for children in forward {
        for &child in children {
            indegree[child] += 1;
        }
    }
    let mut ready: Vec<usize> = (0..forward.len()).filter(|&n| indegree[n] == 0).collect();
    let mut layer = vec![0usize; forward.len()];
    while let Some(node) = ready.pop() {
        for &child in &forward[node] {
            layer[child] = layer[child].max(layer[node] + 1);
            indegree[child] -= 1;
            if indegree[child] == 0 {
                ready.push(child);
            }
        }
    }
    layer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(parent: &str, child: &str, call_count: u64) -> Dependency {
        Dependency {
            parent: parent.to_owned(),
            child: child.to_owned(),
            call_count,
        }
    }

    #[test]
    fn calls_flow_left_to_right_and_cycles_do_not_loop() {
        let graph = layout(&[
            dep("frontend", "checkout", 10),
            dep("checkout", "payment", 10),
            dep("frontend", "payment", 2),
            dep("payment", "checkout", 1), // a cycle
            dep("frontend", "cart", 5),
        ]);
        let at: HashMap<&str, (usize, u64, u64)> = graph
            .nodes
            .iter()
            .map(|n| (n.service.as_str(), (n.layer, n.calls_in, n.calls_out)))
            .collect();
        assert_eq!(at["frontend"], (0, 0, 17));
        assert_eq!(at["cart"].0, 1);
        assert_eq!(at["checkout"], (1, 11, 10));
        assert_eq!(at["payment"], (2, 12, 1));
        assert_eq!(graph.num_layers, 3);
        assert_eq!(graph.edges.len(), 5, "the cycle's edge is still drawn");
    }

    #[test]
    fn fifty_services_fit_in_few_columns_with_distinct_rows() {
        // A gateway fanning out to 7 domains of 6 services each, plus shared stores.
        let mut dependencies = Vec::new();
        for domain in 0..7 {
            let head = format!("domain-{domain}");
            dependencies.push(dep("gateway", &head, 100));
            for worker in 0..5 {
                let name = format!("domain-{domain}-svc-{worker}");
                dependencies.push(dep(&head, &name, 10));
                dependencies.push(dep(
                    &name,
                    if worker % 2 == 0 { "postgres" } else { "redis" },
                    3,
                ));
            }
        }
        let graph = layout(&dependencies);
        assert_eq!(graph.nodes.len(), 1 + 7 + 35 + 2);
        assert_eq!(graph.num_layers, 4);
        let mut places: Vec<(usize, usize)> =
            graph.nodes.iter().map(|n| (n.layer, n.row)).collect();
        places.sort_unstable();
        places.dedup();
        assert_eq!(
            places.len(),
            graph.nodes.len(),
            "no two services share a place"
        );
        // Services of one domain sit next to each other.
        for domain in 0..7 {
            let mut rows: Vec<usize> = graph
                .nodes
                .iter()
                .filter(|n| n.service.starts_with(&format!("domain-{domain}-svc-")))
                .map(|n| n.row)
                .collect();
            rows.sort_unstable();
            assert_eq!(rows[4] - rows[0], 4, "domain {domain} rows {rows:?}");
        }
    }

    #[test]
    fn no_dependencies() {
        let graph = layout(&[]);
        assert!(graph.nodes.is_empty() && graph.edges.is_empty());
        assert_eq!(graph.num_layers, 0);
    }
}
