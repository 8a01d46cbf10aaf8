//! [`SpaceSaving`]: the weighted Space-Saving heavy-hitters summary (Metwally, Agrawal and
//! El Abbadi, 2005) over author keys, in a fixed number of counters.
//!
//! Each monitored key has a counter `count` and an `error`: the true weight of the key lies
//! in `[count - error, count]`. A key not monitored has a true weight of at most the
//! smallest counter. When a new key arrives and every counter is taken, the smallest counter
//! is handed to it (its `error` becomes that smallest count), so the sum of the counters is
//! always the total weight seen, and any key whose weight exceeds `total / capacity` is
//! monitored.
//!
//! Counters sit in an indexed binary min-heap, so an update costs `O(log capacity)` and
//! allocates nothing once the summary is full. Weights are plain `f64`s: the caller applies
//! time decay (see [`super::window::Decay`]) before adding them.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// One monitored key.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Counter {
    pub key: u64,
    /// Upper bound of the key's weight.
    pub count: f64,
    /// How much of `count` may belong to keys evicted before this one arrived.
    pub error: f64,
}

impl Counter {
    /// Lower bound of the key's weight.
    pub fn guaranteed(&self) -> f64 {
        self.count - self.error
    }
}

/// What an update did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Update {
    /// The key's counter after the update.
    pub count: f64,
    /// The key that lost its counter to make room, if any.
    pub evicted: Option<u64>,
}

/// A Space-Saving summary of at most `capacity` counters.
#[derive(Debug, Clone)]
pub struct SpaceSaving {
    capacity: usize,
    /// Min-heap on `count`.
    heap: Vec<Counter>,
    /// Key → position in `heap`.
    position: FxHashMap<u64, u32>,
}

impl SpaceSaving {
    /// An empty summary of `capacity` counters (at least one).
    pub fn new(capacity: usize) -> SpaceSaving {
        SpaceSaving {
            capacity: capacity.max(1),
            heap: Vec::new(),
            position: FxHashMap::default(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Adds `weight` (≥ 0) to `key`.
    pub fn add(&mut self, key: u64, weight: f64) -> Update {
        debug_assert!(weight >= 0.0, "weights are never negative");
        if let Some(&at) = self.position.get(&key) {
            let at = at as usize;
            self.heap[at].count += weight;
            let count = self.heap[at].count;
            self.sift_down(at);
            return Update {
                count,
                evicted: None,
            };
        }
        if self.heap.len() < self.capacity {
            let counter = Counter {
                key,
                count: weight,
                error: 0.0,
            };
            self.heap.push(counter);
            let at = self.heap.len() - 1;
            self.position.insert(key, at as u32);
            self.sift_up(at);
            return Update {
                count: weight,
                evicted: None,
            };
        }
        // Full: the smallest counter changes hands.
        let smallest = self.heap[0];
        self.position.remove(&smallest.key);
        self.heap[0] = Counter {
            key,
            count: smallest.count + weight,
            error: smallest.count,
        };
        self.position.insert(key, 0);
        self.sift_down(0);
        Update {
            count: smallest.count + weight,
            evicted: Some(smallest.key),
        }
    }

    /// The counter of `key`, if it is monitored.
    pub fn get(&self, key: u64) -> Option<&Counter> {
        let at = *self.position.get(&key)?;
        self.heap.get(at as usize)
    }

    pub fn contains(&self, key: u64) -> bool {
        self.position.contains_key(&key)
    }

    /// The smallest counter: an upper bound of the weight of any key not monitored.
    pub fn floor(&self) -> f64 {
        if self.heap.len() < self.capacity {
            return 0.0;
        }
        self.heap.first().map_or(0.0, |counter| counter.count)
    }

    /// Every counter, in no particular order.
    pub fn counters(&self) -> &[Counter] {
        &self.heap
    }

    /// Multiplies every counter by `factor` (> 0): the order is unchanged.
    pub fn scale(&mut self, factor: f64) {
        for counter in &mut self.heap {
            counter.count *= factor;
            counter.error *= factor;
        }
    }

    /// Rebuilds a summary from saved counters ([`SpaceSaving::counters`]), keeping the
    /// largest ones if there are more than `capacity`. Counters saved from a summary of the
    /// same capacity come back in the same order, so the restored summary evicts exactly
    /// as the saved one would have.
    pub fn from_counters(capacity: usize, mut counters: Vec<Counter>) -> SpaceSaving {
        let mut summary = SpaceSaving::new(capacity);
        if counters.len() > summary.capacity {
            counters.sort_by(|left, right| right.count.total_cmp(&left.count));
            counters.truncate(summary.capacity);
        }
        for counter in counters {
            if summary.position.contains_key(&counter.key) || !counter.count.is_finite() {
                continue;
            }
            summary.heap.push(counter);
            let at = summary.heap.len() - 1;
            summary.position.insert(counter.key, at as u32);
            summary.sift_up(at);
        }
        summary
    }

    /// Bytes this summary holds on the heap.
    pub fn memory_bytes(&self) -> usize {
        self.heap.capacity() * std::mem::size_of::<Counter>()
            + self.position.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
    }

    fn swap(&mut self, first: usize, second: usize) {
        self.heap.swap(first, second);
        self.position.insert(self.heap[first].key, first as u32);
        self.position.insert(self.heap[second].key, second as u32);
    }

    fn sift_up(&mut self, mut at: usize) {
        while at > 0 {
            let parent = (at - 1) / 2;
            if self.heap[parent].count <= self.heap[at].count {
                break;
            }
            self.swap(parent, at);
            at = parent;
        }
    }

    fn sift_down(&mut self, mut at: usize) {
        let length = self.heap.len();
        loop {
            let left = 2 * at + 1;
            if left >= length {
                break;
            }
            let right = left + 1;
            let smaller = if right < length && self.heap[right].count < self.heap[left].count {
                right
            } else {
                left
            };
            if self.heap[at].count <= self.heap[smaller].count {
                break;
            }
            self.swap(at, smaller);
            at = smaller;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heap_holds(summary: &SpaceSaving) -> bool {
        let heap = &summary.heap;
        (1..heap.len()).all(|at| heap[(at - 1) / 2].count <= heap[at].count)
            && heap
                .iter()
                .enumerate()
                .all(|(at, counter)| summary.position.get(&counter.key) == Some(&(at as u32)))
    }

    #[test]
    fn exact_while_under_capacity() {
        let mut summary = SpaceSaving::new(10);
        for (key, weight) in [(1, 5.0), (2, 1.0), (1, 2.0), (3, 4.0), (2, 1.5)] {
            summary.add(key, weight);
        }
        assert_eq!(summary.get(1).map(|c| c.count), Some(7.0));
        assert_eq!(summary.get(2).map(|c| c.count), Some(2.5));
        assert_eq!(summary.get(3).map(|c| (c.count, c.error)), Some((4.0, 0.0)));
        assert_eq!(summary.floor(), 0.0);
        assert!(heap_holds(&summary));
    }

    #[test]
    fn full_summary_hands_the_smallest_counter_over() {
        let mut summary = SpaceSaving::new(2);
        summary.add(1, 10.0);
        summary.add(2, 3.0);
        let update = summary.add(3, 1.0);
        assert_eq!(update.evicted, Some(2));
        let counter = summary.get(3).expect("monitored");
        assert_eq!((counter.count, counter.error), (4.0, 3.0));
        assert_eq!(counter.guaranteed(), 1.0);
        let total: f64 = summary.counters().iter().map(|c| c.count).sum();
        assert_eq!(total, 14.0, "counters sum to the stream's weight");
        assert!(heap_holds(&summary));
    }

    #[test]
    fn heavy_keys_survive_a_long_tail() {
        let mut summary = SpaceSaving::new(50);
        for round in 0..2_000u64 {
            summary.add(1, 10.0);
            summary.add(1_000 + round, 1.0);
            summary.add(2, 5.0);
        }
        assert!(summary.contains(1) && summary.contains(2));
        let heavy = summary.get(1).expect("monitored");
        assert!(heavy.guaranteed() <= 20_000.0 && heavy.count >= 20_000.0);
        assert!(heap_holds(&summary));
    }

    #[test]
    fn restores_the_largest_counters() {
        let counters = (0..10)
            .map(|key| Counter {
                key,
                count: key as f64,
                error: 0.0,
            })
            .collect();
        let summary = SpaceSaving::from_counters(3, counters);
        let mut keys: Vec<u64> = summary.counters().iter().map(|c| c.key).collect();
        keys.sort_unstable();
        assert_eq!(keys, [7, 8, 9]);
        assert!(heap_holds(&summary));
    }
}
