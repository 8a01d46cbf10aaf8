//! [`RecentIds`]: a bounded memory of the ids a source handed on, to drop re-deliveries
//! (stream overlap after a gap fill, polled pages that repeat, duplicates a server sends).
//!
//! Promises: at most `capacity` ids are kept; the oldest is forgotten first; lookups and
//! inserts are O(1).

use std::collections::{HashSet, VecDeque};

/// A bounded set of recently handed-on ids, oldest forgotten first.
#[derive(Debug, Clone, Default)]
pub struct RecentIds {
    capacity: usize,
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentIds {
    pub fn new(capacity: usize) -> RecentIds {
        RecentIds {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            set: HashSet::new(),
        }
    }

    /// Remembers `id`; false if it was already there.
    pub fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() >= self.capacity.max(1)
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        self.order.push_back(id.to_owned());
        self.set.insert(id.to_owned());
        true
    }

    pub fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    /// The remembered ids, oldest first (for checkpoints that carry them).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_forget_the_oldest() {
        let mut recent = RecentIds::new(3);
        assert!(recent.insert("a"));
        assert!(!recent.insert("a"));
        for id in ["b", "c", "d"] {
            assert!(recent.insert(id));
        }
        assert!(!recent.contains("a"));
        assert_eq!(recent.iter().collect::<Vec<_>>(), ["b", "c", "d"]);
    }
}
