//! `IdSet`: the catalog operation ids of one block, as the in-memory block meta
//! keeps them. Catalog ids are handed out in order of first sight, so a block's
//! ids tend to cluster, and a bitmap over their range is then far smaller than a
//! list: a block of this project's overload test (600 operations) held 2.4 KB of
//! `u32`s and holds 80 bytes of bitmap. A set whose ids are spread out stays a
//! list. The on-disk meta is unchanged (a varint list).

/// A set of `u32` ids: a sorted list or a bitmap over `base..`, whichever is smaller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IdSet {
    List(Box<[u32]>),
    Bitmap {
        /// The smallest id, rounded down to a multiple of 64.
        base: u32,
        /// Bit `i` of word `w` is id `base + 64 w + i`.
        words: Box<[u64]>,
        len: u32,
    },
}

impl Default for IdSet {
    fn default() -> IdSet {
        IdSet::List(Box::default())
    }
}

impl IdSet {
    /// The set of `ids`, in any order, duplicates allowed.
    pub(crate) fn new(mut ids: Vec<u32>) -> IdSet {
        ids.sort_unstable();
        ids.dedup();
        let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
            return IdSet::default();
        };
        let base = first - first % 64;
        let num_words = ((last - base) / 64 + 1) as usize;
        if num_words * 8 >= ids.len() * 4 {
            return IdSet::List(ids.into_boxed_slice());
        }
        let mut words = vec![0u64; num_words];
        for id in &ids {
            let offset = id - base;
            words[(offset / 64) as usize] |= 1 << (offset % 64);
        }
        IdSet::Bitmap {
            base,
            words: words.into_boxed_slice(),
            len: ids.len() as u32,
        }
    }

    pub(crate) fn contains(&self, id: u32) -> bool {
        match self {
            IdSet::List(ids) => ids.binary_search(&id).is_ok(),
            IdSet::Bitmap { base, words, .. } => id.checked_sub(*base).is_some_and(|offset| {
                words
                    .get((offset / 64) as usize)
                    .is_some_and(|word| word & (1 << (offset % 64)) != 0)
            }),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            IdSet::List(ids) => ids.len(),
            IdSet::Bitmap { len, .. } => *len as usize,
        }
    }

    /// The ids in ascending order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let list = match self {
            IdSet::List(ids) => Some(ids.iter().copied()),
            IdSet::Bitmap { .. } => None,
        };
        let bits = match self {
            IdSet::List(_) => None,
            IdSet::Bitmap { base, words, .. } => {
                Some(words.iter().enumerate().flat_map(move |(index, &word)| {
                    let word_base = base + 64 * index as u32;
                    (0..64)
                        .filter(move |bit| word & (1 << bit) != 0)
                        .map(move |bit| word_base + bit)
                }))
            }
        };
        list.into_iter().flatten().chain(bits.into_iter().flatten())
    }

    /// Bytes on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            IdSet::List(ids) => ids.len() * 4,
            IdSet::Bitmap { words, .. } => words.len() * 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clustered_ids_become_a_bitmap_and_spread_ones_stay_a_list() {
        let dense = IdSet::new((1000..1600).rev().collect());
        assert!(matches!(dense, IdSet::Bitmap { .. }), "{dense:?}");
        assert_eq!(dense.heap_bytes(), 80);
        let sparse = IdSet::new(vec![7, 1 << 20, 3 << 25]);
        assert!(matches!(sparse, IdSet::List(_)));
        assert_eq!(IdSet::new(Vec::new()).len(), 0);
    }

    #[test]
    fn both_forms_answer_like_a_sorted_list() {
        let cases: Vec<Vec<u32>> = vec![
            vec![],
            vec![0],
            vec![63, 64, 65],
            (0..200).filter(|id| id % 3 != 0).collect(),
            vec![5, 5, 1, u32::MAX - 1, 2],
            (u32::MAX - 300..=u32::MAX).collect(),
            vec![10, 100, 1000, 10_000],
        ];
        for ids in cases {
            let set = IdSet::new(ids.clone());
            let mut want = ids.clone();
            want.sort_unstable();
            want.dedup();
            assert_eq!(set.iter().collect::<Vec<_>>(), want, "{set:?}");
            assert_eq!(set.len(), want.len());
            let probes = want
                .iter()
                .flat_map(|id| [id.wrapping_sub(1), *id, id.wrapping_add(1)])
                .chain([0, 64, 1 << 30, u32::MAX]);
            for probe in probes {
                assert_eq!(
                    set.contains(probe),
                    want.contains(&probe),
                    "{probe} in {set:?}"
                );
            }
        }
    }
}
