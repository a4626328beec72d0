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

/// Spans remembered and children awaiting a parent, at most: at 200k spans/s the
/// last ~2.5 s, at 8k spans/s and below `MAX_AGE_SECS`.
const RECENT_SPANS: usize = 1 << 19;
const WAITING_CHILDREN: usize = 1 << 17;
/// SDK batch processors export every 5 s by default; a minute covers slow exporters.
const MAX_AGE_SECS: u64 = 60;
/// Entries are kept in generations of at most this long and an eighth of the bound,
/// and forgotten a generation at a time: dropping a whole map gives its memory back,
/// where removing entries one by one from one map left it at its largest (and
/// hashbrown's tombstones doubled that: 38 MB at the bound, measured with jemalloc's
/// heap profile under the overload test, against about 13 MB this way).
const GENERATION_SECS: u64 = 10;
const GENERATIONS_PER_BOUND: usize = 8;

#[derive(Debug, Default)]
pub(super) struct EdgeResolver {
    /// Service id of recently written spans, by span key.
    recent: Generations<u32>,
    /// Child services whose parent hasn't been seen yet, by the parent's key.
    waiting: Generations<Vec<u32>>,
}

/// A map bounded in entries and age, oldest generation first.
#[derive(Debug)]
struct Generations<V> {
    generations: VecDeque<Generation<V>>,
    len: usize,
}

#[derive(Debug)]
struct Generation<V> {
    started_secs: u64,
    last_secs: u64,
    entries: HashMap<u64, V>,
}

impl<V> Default for Generations<V> {
    fn default() -> Generations<V> {
        Generations {
            generations: VecDeque::new(),
            len: 0,
        }
    }
}

impl<V> Generations<V> {
    fn get(&self, key: &u64) -> Option<&V> {
        self.generations
            .iter()
            .rev()
            .find_map(|generation| generation.entries.get(key))
    }

    fn get_mut(&mut self, key: &u64) -> Option<&mut V> {
        self.generations
            .iter_mut()
            .rev()
            .find_map(|generation| generation.entries.get_mut(key))
    }

    fn remove(&mut self, key: &u64) -> Option<V> {
        let removed = self
            .generations
            .iter_mut()
            .rev()
            .find_map(|generation| generation.entries.remove(key))?;
        self.len -= 1;
        Some(removed)
    }

    /// The value of `key` in the newest generation (made there when missing),
    /// forgetting the oldest generations while more than `bound` entries are kept.
    fn entry(&mut self, key: u64, now_secs: u64, bound: usize) -> &mut V
    where
        V: Default,
    {
        let per_generation = bound / GENERATIONS_PER_BOUND;
        let fresh = self.generations.back().is_some_and(|newest| {
            now_secs < newest.started_secs + GENERATION_SECS
                && newest.entries.len() < per_generation
        });
        if !fresh {
            self.generations.push_back(Generation {
                started_secs: now_secs,
                last_secs: now_secs,
                entries: HashMap::default(),
            });
        }
        while self.len >= bound && self.generations.len() > 1 {
            self.pop_oldest();
        }
        let newest = self.generations.back_mut().expect("pushed above");
        newest.last_secs = now_secs;
        if !newest.entries.contains_key(&key) {
            self.len += 1;
        }
        newest.entries.entry(key).or_default()
    }

    fn pop_oldest(&mut self) {
        if let Some(oldest) = self.generations.pop_front() {
            self.len -= oldest.entries.len();
        }
    }

    /// Forgets the generations whose newest entry is older than `cutoff_secs`.
    fn forget_older_than(&mut self, cutoff_secs: u64) {
        while self
            .generations
            .front()
            .is_some_and(|oldest| oldest.last_secs < cutoff_secs)
        {
            self.pop_oldest();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }
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
        *self.recent.entry(span_key, now_secs, RECENT_SPANS) = service;
    }

    fn wait(&mut self, parent_key: u64, child_service: u32, now_secs: u64) {
        // Siblings that arrive generations apart wait in one list, so the parent
        // counts them all.
        if let Some(children) = self.waiting.get_mut(&parent_key) {
            children.push(child_service);
        } else {
            self.waiting
                .entry(parent_key, now_secs, WAITING_CHILDREN)
                .push(child_service);
        }
    }

    fn forget_older_than(&mut self, cutoff_secs: u64) {
        self.recent.forget_older_than(cutoff_secs);
        self.waiting.forget_older_than(cutoff_secs);
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

    #[test]
    fn memory_is_bounded_in_entries_and_age_and_given_back_whole() {
        let mut recent: Generations<u32> = Generations::default();
        for key in 0..3 * RECENT_SPANS as u64 {
            *recent.entry(key, 1_000, RECENT_SPANS) = 1;
        }
        assert!(recent.len() <= RECENT_SPANS, "{}", recent.len());
        assert!(recent.len() >= RECENT_SPANS - RECENT_SPANS / GENERATIONS_PER_BOUND);
        // The newest entries are the ones kept.
        assert_eq!(recent.get(&(3 * RECENT_SPANS as u64 - 1)), Some(&1));
        assert_eq!(recent.get(&0), None);
        // New generations start every GENERATION_SECS; old ones go whole.
        for second in 0..30 {
            *recent.entry(u64::MAX - second, 2_000 + second, RECENT_SPANS) = 2;
        }
        recent.forget_older_than(2_000);
        assert_eq!(recent.len(), 30);
        recent.forget_older_than(2_015);
        assert_eq!(
            recent.len(),
            20,
            "a generation stays while its newest entry is young"
        );
        recent.forget_older_than(2_020);
        assert_eq!(recent.len(), 10, "the generation of 2_020..2_029");
        assert_eq!(recent.generations.len(), 1);
        assert_eq!(recent.remove(&(u64::MAX - 25)), Some(2));
        assert_eq!(recent.len(), 9);
    }

    #[test]
    fn children_waiting_generations_apart_all_count() {
        let mut resolver = EdgeResolver::default();
        let (first, second) = (span(1, 2, Some(1)), span(1, 3, Some(1)));
        assert!(resolver.block_edges(&[&first], &[20], 1_000).is_empty());
        assert!(resolver.block_edges(&[&second], &[20], 1_030).is_empty());
        let parent = span(1, 1, None);
        assert_eq!(
            resolver.block_edges(&[&parent], &[10], 1_040),
            [(10, 20, 2)]
        );
    }
}
