//! [`FastMap`]: hash maps keyed by a fast, unkeyed hash (the Fx hash of
//! rustc), for tables built from configuration and shipped word lists that posts only look
//! words up in. Tables that grow with what posts contain (caches) are [`CacheMap`]s: a
//! hash with a random seed per process (foldhash), which resists crafted collisions and
//! hashes a short word several times faster than the std hasher.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FxHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A `HashMap` for caches keyed by post content: foldhash, randomly seeded.
pub(crate) type CacheMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The Fx hash: rotate, xor a word in, multiply.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_work() {
        let mut map: FastMap<String, u8> = FastMap::default();
        map.insert("panne".to_owned(), 1);
        map.insert("pannes".to_owned(), 2);
        assert_eq!(map.get("panne"), Some(&1));
        assert_eq!(map.get("pannes"), Some(&2));
        assert_eq!(map.get("pann"), None);
    }
}
