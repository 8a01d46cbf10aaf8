//! The sliding window: exponential time decay of weights ([`Decay`]) and a count of the
//! distinct authors active in the window ([`ActiveAuthors`]).
//!
//! **Decay.** A post at time `t` weighs `w · e^-(now - t)/window`, with times counted in
//! whole days (UTC), so posts of the same day weigh the same and a replay of the same
//! posts a few seconds later gives the same sets. On a steady stream the
//! decayed sum equals the plain sum over the last `window`, which is how the figures are
//! shown ("12 posts in 30 days"), and old activity fades instead of falling off a cliff.
//! Weights use *forward decay* (Cormode et al., 2009): they are stored as
//! `w · e^(t - landmark)/window`, so a stored value never changes as time passes and
//! comparing two authors needs no clock; reading a value divides by `e^(now -
//! landmark)/window`. When that exponent grows large the caller rescales every stored value
//! and moves the landmark ([`Decay::needs_rescale`]).
//!
//! **Active authors.** One HyperLogLog sketch (4,096 one-byte registers, about 1.6 %
//! standard error) per day of the window; the union of the sketches estimates how many
//! distinct authors posted in the window, in fixed memory whatever their number.

use serde::{Deserialize, Serialize};

/// Above this exponent, stored values are rescaled (e^200 is far from f64's limits, and
/// leaves room for late posts).
const RESCALE_EXPONENT: f64 = 200.0;

/// Forward exponential decay with time constant `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decay {
    /// Unix seconds of the landmark.
    pub landmark: i64,
    pub window_seconds: f64,
}

impl Decay {
    pub fn new(window_seconds: f64, landmark: i64) -> Decay {
        Decay {
            landmark,
            window_seconds: window_seconds.max(1.0),
        }
    }

    /// What a weight of 1 at time `at` is stored as.
    pub fn stored(&self, at: i64) -> f64 {
        let elapsed = whole_day(at) - whole_day(self.landmark);
        (elapsed as f64 / self.window_seconds).exp()
    }

    /// Turns a stored value back into its decayed value at `now`.
    pub fn value_at(&self, stored: f64, now: i64) -> f64 {
        stored / self.stored(now)
    }

    /// True when values stored at `now` get too large: rescale by
    /// [`Decay::rescale_factor`], then call [`Decay::move_landmark`].
    pub fn needs_rescale(&self, now: i64) -> bool {
        (whole_day(now) - whole_day(self.landmark)) as f64 / self.window_seconds > RESCALE_EXPONENT
    }

    /// The factor to multiply stored values by when the landmark moves to `now`.
    pub fn rescale_factor(&self, now: i64) -> f64 {
        1.0 / self.stored(now)
    }

    pub fn move_landmark(&mut self, now: i64) {
        self.landmark = now;
    }
}

/// The start of the UTC day of `at`.
fn whole_day(at: i64) -> i64 {
    at.div_euclid(SECONDS_PER_DAY) * SECONDS_PER_DAY
}

/// log2 of the number of registers of each daily sketch.
const REGISTER_BITS: u32 = 12;
const REGISTERS: usize = 1 << REGISTER_BITS;
const SECONDS_PER_DAY: i64 = 86_400;

/// Distinct authors active in the last `days` days: one HyperLogLog per day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveAuthors {
    /// The sketch of day `d` (days since the epoch) sits at `d % days`.
    days: Vec<Vec<u8>>,
    /// Day number of each slot's sketch.
    day_of_slot: Vec<i64>,
}

impl ActiveAuthors {
    pub fn new(days: u32) -> ActiveAuthors {
        let days = days.max(1) as usize;
        ActiveAuthors {
            days: vec![Vec::new(); days],
            day_of_slot: vec![i64::MIN; days],
        }
    }

    /// Records that the author whose 64-bit hash is `key` was active at `at`.
    pub fn insert(&mut self, key: u64, at: i64) {
        let day = at.div_euclid(SECONDS_PER_DAY);
        let slot = day.rem_euclid(self.days.len() as i64) as usize;
        if self.day_of_slot[slot] != day {
            if self.day_of_slot[slot] > day {
                return; // a post older than the window
            }
            self.day_of_slot[slot] = day;
            self.days[slot].clear();
        }
        let registers = &mut self.days[slot];
        if registers.is_empty() {
            registers.resize(REGISTERS, 0);
        }
        // Mix the key again: author keys may be weak in their low bits.
        let hash = mix(key);
        let register = (hash >> (64 - REGISTER_BITS)) as usize;
        let rest = (hash << REGISTER_BITS) | (1 << (REGISTER_BITS - 1));
        let rank = rest.leading_zeros() as u8 + 1;
        if registers[register] < rank {
            registers[register] = rank;
        }
    }

    /// Estimated number of distinct authors active in the window that ends at `now`.
    pub fn estimate(&self, now: i64) -> f64 {
        let today = now.div_euclid(SECONDS_PER_DAY);
        let oldest = today - self.days.len() as i64 + 1;
        let mut union = [0u8; REGISTERS];
        let mut any = false;
        for (registers, &day) in self.days.iter().zip(&self.day_of_slot) {
            if registers.is_empty() || day < oldest || day > today {
                continue;
            }
            any = true;
            for (merged, &value) in union.iter_mut().zip(registers) {
                *merged = (*merged).max(value);
            }
        }
        if !any {
            return 0.0;
        }
        let registers = REGISTERS as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / registers);
        let sum: f64 = union.iter().map(|&rank| 2f64.powi(-i32::from(rank))).sum();
        let raw = alpha * registers * registers / sum;
        let empty = union.iter().filter(|&&rank| rank == 0).count();
        if raw <= 2.5 * registers && empty > 0 {
            // Linear counting is better for small cardinalities.
            registers * (registers / empty as f64).ln()
        } else {
            raw
        }
    }

    pub fn memory_bytes(&self) -> usize {
        self.days.iter().map(Vec::capacity).sum::<usize>()
            + self.days.capacity() * std::mem::size_of::<Vec<u8>>()
            + self.day_of_slot.capacity() * std::mem::size_of::<i64>()
    }
}

/// A 64-bit finaliser (from SplitMix64): spreads every input bit over the output.
fn mix(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_decay_matches_plain_decay_in_whole_days() {
        let day = SECONDS_PER_DAY;
        let window = 30.0 * day as f64;
        let decay = Decay::new(window, 3 * day + 5);
        let stored = decay.stored(10 * day + 7) * 2.0;
        let expected = 2.0 * (-(40.0 - 10.0) / 30.0f64).exp();
        let value = decay.value_at(stored, 40 * day + 86_000);
        assert!((value - expected).abs() < 1e-12, "{value}");
        assert_eq!(decay.stored(10 * day), decay.stored(10 * day + 86_399));
        assert!(!decay.needs_rescale(3 * day + 30 * 150 * day));
        assert!(decay.needs_rescale(3 * day + 30 * 250 * day));
    }

    #[test]
    fn counts_distinct_authors_of_the_window() {
        let mut active = ActiveAuthors::new(30);
        let day = SECONDS_PER_DAY;
        for author in 0..20_000u64 {
            active.insert(author, 10 * day + (author as i64 % day));
            active.insert(author, 12 * day); // the same authors again: no change
        }
        let estimate = active.estimate(12 * day);
        assert!((estimate - 20_000.0).abs() < 20_000.0 * 0.05, "{estimate}");
        for author in 0..10u64 {
            active.insert(author, 20 * day);
        }
        let small = ActiveAuthors::new(30);
        assert_eq!(small.estimate(0), 0.0);
        // 30 days after day 12, only the 10 authors of day 20 are left in the window.
        let later = active.estimate(42 * day);
        assert!((later - 10.0).abs() < 1.0, "{later}");
    }
}
