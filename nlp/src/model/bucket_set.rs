//! [`BucketSet`]: the set of feature buckets of one post, as a bitmap with summary levels
//! above it, which gives its members back in increasing order and is left empty by doing so.
//!
//! A post has a few hundred features spread over `2^18` or more buckets. Inserting is a
//! few bit operations (a repeat is found for free), and reading the members back in order
//! visits only the words that hold one: cheaper than sorting the features and merging the
//! repeats, and the reused bitmap is never cleared whole.

/// Bits per word of every level.
const WORD_BITS: usize = 64;

/// A set of buckets below `2^bits` (any width up to the largest asked for so far).
#[derive(Debug, Default)]
pub(crate) struct BucketSet {
    /// `levels[0]` has a bit per bucket; bit `i` of `levels[k + 1]` is set when word `i`
    /// of `levels[k]` is not zero. The last level is one word.
    levels: Vec<Vec<u64>>,
}

impl BucketSet {
    /// Makes room for buckets below `2^bits` (the set must be empty).
    pub(crate) fn reserve(&mut self, bits: u32) {
        let buckets = 1usize << bits.min(30);
        if self
            .levels
            .first()
            .is_some_and(|first| first.len() * WORD_BITS >= buckets)
        {
            return;
        }
        self.levels.clear();
        let mut words = buckets.div_ceil(WORD_BITS);
        loop {
            self.levels.push(vec![0; words]);
            if words == 1 {
                break;
            }
            words = words.div_ceil(WORD_BITS);
        }
    }

    /// Adds `bucket` (below the reserved width; larger ones are ignored).
    pub(crate) fn insert(&mut self, bucket: u32) {
        let mut index = bucket as usize;
        for level in &mut self.levels {
            let Some(word) = level.get_mut(index / WORD_BITS) else {
                return;
            };
            let bit = 1u64 << (index % WORD_BITS);
            let was_empty = *word == 0;
            *word |= bit;
            if !was_empty {
                // The levels above already flag this word.
                return;
            }
            index /= WORD_BITS;
        }
    }

    /// Hands every member to `each` in increasing order and empties the set.
    pub(crate) fn drain(&mut self, mut each: impl FnMut(u32)) {
        let top = self.levels.len().saturating_sub(1);
        self.drain_word(top, 0, &mut each);
    }

    /// Drains word `index` of level `level` and, below it, every word it flags.
    fn drain_word(&mut self, level: usize, index: usize, each: &mut impl FnMut(u32)) {
        let Some(word) = self
            .levels
            .get_mut(level)
            .and_then(|words| words.get_mut(index))
        else {
            return;
        };
        let mut bits = std::mem::take(word);
        if level == 0 {
            members(index, bits, each);
            return;
        }
        if level == 1 {
            // The common case, inline: each flagged bitmap word drained here.
            let Some(bitmap) = self.levels.first_mut() else {
                return;
            };
            while bits != 0 {
                let child = index * WORD_BITS + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let Some(word) = bitmap.get_mut(child) {
                    members(child, std::mem::take(word), each);
                }
            }
            return;
        }
        while bits != 0 {
            let child = index * WORD_BITS + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            self.drain_word(level - 1, child, each);
        }
    }
}

/// Hands `each` the buckets of bitmap word `index` holding `bits`, in order.
fn members(index: usize, mut bits: u64, each: &mut impl FnMut(u32)) {
    let base = u32::try_from(index * WORD_BITS).unwrap_or(u32::MAX);
    while bits != 0 {
        each(base | bits.trailing_zeros());
        bits &= bits - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn members_come_back_sorted_once_and_the_set_is_left_empty(
            rounds in prop::collection::vec(prop::collection::vec(0u32..(1 << 18), 0..600), 1..4),
            bits in 6u32..=18,
        ) {
            let mut set = BucketSet::default();
            set.reserve(bits);
            for buckets in rounds {
                let buckets: Vec<u32> = buckets.into_iter().map(|b| b & ((1 << bits) - 1)).collect();
                for &bucket in &buckets {
                    set.insert(bucket);
                }
                let mut expected = buckets.clone();
                expected.sort_unstable();
                expected.dedup();
                let mut out = Vec::new();
                set.drain(|bucket| out.push(bucket));
                prop_assert_eq!(out, expected);
            }
            prop_assert!(set.levels.iter().flatten().all(|&word| word == 0));
        }
    }

    #[test]
    fn a_wider_reservation_regrows_and_narrower_ones_keep_it() {
        let mut set = BucketSet::default();
        set.reserve(8);
        assert_eq!(set.levels.len(), 2, "256 bits: 4 words and a summary word");
        set.reserve(20);
        assert_eq!(set.levels[0].len(), (1 << 20) / 64);
        assert_eq!(set.levels.len(), 4);
        set.reserve(12);
        assert_eq!(set.levels[0].len(), (1 << 20) / 64);
        set.insert((1 << 20) - 1);
        set.insert(3);
        set.insert(1 << 21); // out of range: ignored
        let mut out = Vec::new();
        set.drain(|bucket| out.push(bucket));
        assert_eq!(out, [3, (1 << 20) - 1]);
    }
}
