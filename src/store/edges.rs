//! Service-to-service call edges for the dependencies API, counted at write time.
//!
//! Services export their own spans, usually seconds apart (SDK batch processors), so
//! a parent and its child tend to land in different blocks. Besides the links
//! resolved inside a block, the resolver remembers the service of recently written
//! spans and the children still waiting for their parent, both bounded; an edge found
//! across blocks is counted in the block being written. Both are bounded in entries
//! and in age, so a quiet server holds little. After a restart, spans from before it
//! can't be resolved any more.
//!
//! Only calls between services count: a parent and child of the same service are
//! not an edge (Jaeger's stores skip them too), so the map has no self-loops.

use std::collections::VecDeque;

use foldhash::HashMap;

use crate::model::{Span, SpanId, TraceId};

/// Spans remembered (about 50 bytes each with the map's slack) and children awaiting
/// a parent: at 200k spans/s the last ~2.5 s, at 8k spans/s and below `MAX_AGE_SECS`.
const RECENT_SPANS: usize = 1 << 19;
const WAITING_CHILDREN: usize = 1 << 17;
/// SDK batch processors export every 5 s by default; a minute covers slow exporters.
const MAX_AGE_SECS: u64 = 60;

#[derive(Debug, Default)]
pub(super) struct EdgeResolver {
    /// Service id of recently written spans, by span key.
    recent: HashMap<u64, u32>,
    /// (key, when written in unix seconds), oldest first.
    recent_order: VecDeque<(u64, u64)>,
    /// Child services whose parent hasn't been seen yet, by the parent's key.
    waiting: HashMap<u64, Vec<u32>>,
    waiting_order: VecDeque<(u64, u64)>,
}

fn key(trace_id: &TraceId, span_id: &SpanId) -> u64 {
    use std::hash::BuildHasher as _;
    foldhash::fast::FixedState::with_seed(0x7472_6163_6572_7931).hash_one((trace_id.0, span_id.0))
}

/// Counts a call from `parent` to `child` unless both are the same service.
fn count(edges: &mut HashMap<(u32, u32), u32>, parent: u32, child: u32) {
    if parent != child {
        *edges.entry((parent, child)).or_default() += 1;
    }
}

impl EdgeResolver {
    /// (parent service, child service, calls) for the parent links of `spans`, whose
    /// services are `service_ids`: links within the block, to recently written spans,
    /// and from earlier children to parents in this block.
    pub(super) fn block_edges(
        &mut self,
        spans: &[&Span],
        service_ids: &[u32],
        now_secs: u64,
    ) -> Vec<(u32, u32, u32)> {
        self.forget_older_than(now_secs.saturating_sub(MAX_AGE_SECS));
        let in_block: HashMap<u64, u32> = spans
            .iter()
            .zip(service_ids)
            .map(|(span, service)| (key(&span.trace_id, &span.span_id), *service))
            .collect();
        let mut edges: HashMap<(u32, u32), u32> = HashMap::default();
        for (span, child_service) in spans.iter().zip(service_ids) {
            // Earlier children of this span.
            if let Some(children) = self.waiting.remove(&key(&span.trace_id, &span.span_id)) {
                for child in children {
                    count(&mut edges, *child_service, child);
                }
            }
            let Some(parent) = span.parent_span_id else {
                continue;
            };
            let parent_key = key(&span.trace_id, &parent);
            match in_block
                .get(&parent_key)
                .or_else(|| self.recent.get(&parent_key))
            {
                Some(parent_service) => count(&mut edges, *parent_service, *child_service),
                None => self.wait(parent_key, *child_service, now_secs),
            }
        }
        for (span_key, service) in in_block {
            self.remember(span_key, service, now_secs);
        }
        edges
            .into_iter()
            .map(|((parent, child), calls)| (parent, child, calls))
            .collect()
    }

    fn remember(&mut self, span_key: u64, service: u32, now_secs: u64) {
        if self.recent.insert(span_key, service).is_none() {
            self.recent_order.push_back((span_key, now_secs));
        }
        while self.recent_order.len() > RECENT_SPANS {
            if let Some((oldest, _)) = self.recent_order.pop_front() {
                self.recent.remove(&oldest);
            }
        }
    }

    fn wait(&mut self, parent_key: u64, child_service: u32, now_secs: u64) {
        let children = self.waiting.entry(parent_key).or_default();
        if children.is_empty() {
            self.waiting_order.push_back((parent_key, now_secs));
        }
        children.push(child_service);
        while self.waiting_order.len() > WAITING_CHILDREN {
            if let Some((oldest, _)) = self.waiting_order.pop_front() {
                self.waiting.remove(&oldest);
            }
        }
    }

    fn forget_older_than(&mut self, cutoff_secs: u64) {
        while let Some(&(oldest, _)) = self
            .recent_order
            .front()
            .filter(|(_, at)| *at < cutoff_secs)
        {
            self.recent_order.pop_front();
            self.recent.remove(&oldest);
        }
        while let Some(&(oldest, _)) = self
            .waiting_order
            .front()
            .filter(|(_, at)| *at < cutoff_secs)
        {
            self.waiting_order.pop_front();
            self.waiting.remove(&oldest);
        }
        // After a burst, give the memory back once everything has aged out.
        if self.recent.is_empty() && self.recent.capacity() > 1024 {
            self.recent.shrink_to_fit();
            self.recent_order.shrink_to_fit();
        }
        if self.waiting.is_empty() && self.waiting.capacity() > 1024 {
            self.waiting.shrink_to_fit();
            self.waiting_order.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: u8, id: u8, parent: Option<u8>) -> Span {
        crate::store::tests::span(trace, id, "any", parent)
    }

    #[test]
    fn links_resolve_within_blocks_and_across_them_in_either_order() {
        let mut resolver = EdgeResolver::default();
        // Block 1: front (1) calls cart (2) inside the block; cart's child db (3) has
        // not arrived, and the child of a payment span (5) arrives before its parent.
        let (root, cart, orphan) = (span(1, 1, None), span(1, 2, Some(1)), span(1, 6, Some(5)));
        let mut edges = resolver.block_edges(&[&root, &cart, &orphan], &[10, 20, 40], 1_000);
        edges.sort();
        assert_eq!(edges, [(10, 20, 1)]);
        // Block 2: db under cart (parent in an earlier block) and the payment span
        // that block 1's orphan was waiting for.
        let (db, payment) = (span(1, 3, Some(2)), span(1, 5, Some(1)));
        let mut edges = resolver.block_edges(&[&db, &payment], &[30, 50], 1_010);
        edges.sort();
        assert_eq!(edges, [(10, 50, 1), (20, 30, 1), (50, 40, 1)]);
        // The same span IDs in another trace are other spans.
        let stranger = span(2, 9, Some(2));
        assert!(resolver.block_edges(&[&stranger], &[60], 1_010).is_empty());
        // A minute later nothing is remembered: a late child finds no parent.
        let late = span(1, 7, Some(1));
        assert!(resolver.block_edges(&[&late], &[70], 1_071).is_empty());
        assert_eq!(resolver.recent.len(), 1, "only the late span itself");
    }

    #[test]
    fn calls_within_one_service_are_not_edges() {
        let mut resolver = EdgeResolver::default();
        // frontend (1) → frontend (2) → checkout (3) → checkout (4), and a checkout
        // child (6) that arrives before its checkout parent (5).
        let spans = [
            span(1, 1, None),
            span(1, 2, Some(1)),
            span(1, 3, Some(2)),
            span(1, 4, Some(3)),
            span(1, 6, Some(5)),
        ];
        let refs: Vec<&Span> = spans.iter().collect();
        let mut edges = resolver.block_edges(&refs, &[10, 10, 20, 20, 20], 1_000);
        edges.sort();
        assert_eq!(edges, [(10, 20, 1)]);
        let parent = span(1, 5, Some(3));
        assert!(resolver.block_edges(&[&parent], &[20], 1_001).is_empty());
    }
}
