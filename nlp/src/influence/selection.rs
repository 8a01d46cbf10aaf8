//! Choosing a set: the smallest group of authors who together make a given share of a
//! total (impressions for mass connectors, expert posts for mass mavens).
//!
//! The smallest such set is always a prefix of the authors sorted by score, largest first:
//! swapping a member for a larger non-member never makes the group bigger. [`Selection`]
//! is that prefix, found in one pass over the sorted scores.

use std::cmp::Ordering;

/// Relative slack for floating-point sums: a sum within this of the target reaches it.
const SLACK: f64 = 1e-9;

/// The chosen prefix of a sorted score list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Selection {
    /// How many of the largest scores are in the set.
    pub members: usize,
    /// The sum of their scores.
    pub covered: f64,
    /// False when even every known author together makes less than the share (the set is
    /// then every author with a positive score).
    pub complete: bool,
}

/// Sorts `(score, key)` pairs, largest score first, ties by key, for [`smallest_covering`].
pub fn sort_descending(entries: &mut [(f64, u64)]) {
    entries.sort_unstable_by(|left, right| match right.0.total_cmp(&left.0) {
        Ordering::Equal => left.1.cmp(&right.1),
        unequal => unequal,
    });
}

/// The smallest prefix of `sorted` (descending) whose sum reaches `share` (in `(0, 1]`) of
/// `total`. Zero scores never join the set.
pub fn smallest_covering(sorted: &[f64], total: f64, share: f64) -> Selection {
    debug_assert!(
        sorted.windows(2).all(|pair| pair[0] >= pair[1]),
        "scores must be sorted, largest first"
    );
    let target = share * total;
    let mut covered = 0.0;
    if total <= 0.0 {
        return Selection {
            members: 0,
            covered,
            complete: true,
        };
    }
    for (position, &score) in sorted.iter().enumerate() {
        if score <= 0.0 {
            return Selection {
                members: position,
                covered,
                complete: false,
            };
        }
        covered += score;
        if covered >= target * (1.0 - SLACK) {
            return Selection {
                members: position + 1,
                covered,
                complete: true,
            };
        }
    }
    Selection {
        members: sorted.len(),
        covered,
        complete: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_fewest_largest_scores() {
        let scores = [50.0, 30.0, 10.0, 5.0, 5.0];
        let chosen = smallest_covering(&scores, 100.0, 0.8);
        assert_eq!(
            (chosen.members, chosen.covered, chosen.complete),
            (2, 80.0, true)
        );
        let chosen = smallest_covering(&scores, 100.0, 0.81);
        assert_eq!(chosen.members, 3);
        let chosen = smallest_covering(&scores, 100.0, 1.0);
        assert_eq!(chosen.members, 5);
    }

    #[test]
    fn short_of_the_share_takes_every_positive_score() {
        let chosen = smallest_covering(&[5.0, 1.0, 0.0], 100.0, 0.8);
        assert_eq!((chosen.members, chosen.complete), (2, false));
        let chosen = smallest_covering(&[], 0.0, 0.8);
        assert_eq!((chosen.members, chosen.complete), (0, true));
    }

    #[test]
    fn sorts_by_score_then_key() {
        let mut entries = [(1.0, 9), (3.0, 2), (1.0, 4), (f64::NAN, 1)];
        sort_descending(&mut entries[..3]);
        assert_eq!(entries[..3], [(3.0, 2), (1.0, 4), (1.0, 9)]);
    }
}
