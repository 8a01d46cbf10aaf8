//! The generated population of `veille bench influence`: authors with a heavy-tailed reach
//! and a heavy-tailed activity, and the stream of their posts.
//!
//! * **Reach**: author `i` has `MAX_FOLLOWERS / r^reach_exponent` followers, where `r` is
//!   its rank in a fixed random permutation (a Zipf law over ranks).
//! * **Activity**: each post's author is drawn from a Zipf law of exponent
//!   `activity_exponent` over the ranks of another, independent permutation.
//! * **Expertise**: from a hash of the author: 5 % have a forum trust level, 20 % a forum
//!   post count, 1 % are blog authors; 10 % of posts are long, 20 % are answers.
//! * **Time**: posts are spread evenly, [`POSTS_PER_DAY`] a day.
//!
//! The stream is a pure function of the seed: the exact pass replays it identically. No
//! per-author table is kept (permutations are affine maps), so generating costs no memory
//! that would blur the tracker's.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

/// Followers of the author of reach rank 1.
const MAX_FOLLOWERS: f64 = 50_000_000.0;
/// Simulated posting rate: the stream covers one day per million posts.
pub(crate) const POSTS_PER_DAY: u64 = 1_000_000;
/// Time of the first post (Unix seconds).
pub(crate) const START: i64 = 1_767_225_600;

/// One generated post, with its author id already written out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GeneratedPost {
    id_text: [u8; 20],
    id_length: u8,
    pub(crate) followers: u64,
    pub(crate) engagement: u64,
    pub(crate) trust_level: Option<u8>,
    pub(crate) forum_posts: Option<u64>,
    pub(crate) blog_author: bool,
    pub(crate) text_chars: usize,
    pub(crate) answering: bool,
    pub(crate) at: i64,
}

impl GeneratedPost {
    /// The author id as text (decimal).
    pub(crate) fn author_id(&self) -> &str {
        std::str::from_utf8(&self.id_text[..usize::from(self.id_length)]).unwrap_or("")
    }
}

/// An affine permutation of `0..n`: `x → (a·x + b) mod n` with `a` coprime to `n`.
#[derive(Debug, Clone, Copy)]
struct Permutation {
    size: u64,
    multiplier: u64,
    offset: u64,
}

impl Permutation {
    fn new(size: u64, rng: &mut StdRng) -> Permutation {
        let mut multiplier = rng.gen_range(size / 3..size.max(2)) | 1;
        while gcd(multiplier, size) != 1 {
            multiplier += 2;
        }
        Permutation {
            size,
            multiplier,
            offset: rng.gen_range(0..size),
        }
    }

    fn apply(&self, value: u64) -> u64 {
        let mixed = u128::from(self.multiplier) * u128::from(value) + u128::from(self.offset);
        (mixed % u128::from(self.size)) as u64
    }
}

fn gcd(mut left: u64, mut right: u64) -> u64 {
    while right != 0 {
        (left, right) = (right, left % right);
    }
    left
}

/// A splitmix64 step: the per-author traits.
fn author_hash(author: u64) -> u64 {
    let mut value = author.wrapping_add(0x9e37_79b9_7f4a_7c15);
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// The post stream of a population.
pub(crate) struct Population {
    rng: StdRng,
    activity: Zipf<f64>,
    reach_exponent: f64,
    activity_order: Permutation,
    reach_order: Permutation,
    generated: u64,
}

impl Population {
    pub(crate) fn new(
        authors: u64,
        reach_exponent: f64,
        activity_exponent: f64,
        seed: u64,
    ) -> anyhow::Result<Population> {
        let authors = authors.max(2);
        let mut rng = StdRng::seed_from_u64(seed);
        let activity = Zipf::new(authors, activity_exponent)
            .map_err(|error| anyhow::anyhow!("bad activity law: {error}"))?;
        let activity_order = Permutation::new(authors, &mut rng);
        let reach_order = Permutation::new(authors, &mut rng);
        Ok(Population {
            rng,
            activity,
            reach_exponent,
            activity_order,
            reach_order,
            generated: 0,
        })
    }

    /// Followers of an author.
    pub(crate) fn followers(&self, author: u64) -> u64 {
        let rank = self.reach_order.apply(author) + 1;
        (MAX_FOLLOWERS / (rank as f64).powf(self.reach_exponent)).floor() as u64
    }

    /// The next post of the stream.
    pub(crate) fn next_post(&mut self) -> GeneratedPost {
        let rank = self.activity.sample(&mut self.rng) as u64;
        let author = self.activity_order.apply(rank.saturating_sub(1));
        let followers = self.followers(author);
        let traits = author_hash(author);
        let roll: u32 = self.rng.r#gen();
        let mut id_text = [0u8; 20];
        let id_length = write_decimal(author, &mut id_text);
        let at = START + (self.generated * 86_400 / POSTS_PER_DAY) as i64;
        self.generated += 1;
        GeneratedPost {
            id_text,
            id_length,
            followers,
            engagement: followers / 200 + u64::from(roll % 8),
            trust_level: (traits % 100 < 5).then_some(((traits >> 8) % 5) as u8),
            forum_posts: (traits % 100 < 20).then_some((traits >> 16) % 5_000),
            blog_author: (traits >> 32).is_multiple_of(100),
            text_chars: if roll.is_multiple_of(10) { 800 } else { 120 },
            answering: (roll >> 8).is_multiple_of(5),
            at,
        }
    }
}

/// Writes `value` in decimal at the start of `buffer`; returns its length.
fn write_decimal(mut value: u64, buffer: &mut [u8; 20]) -> u8 {
    let mut digits = [0u8; 20];
    let mut length = 0;
    loop {
        digits[length] = b'0' + (value % 10) as u8;
        length += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for position in 0..length {
        buffer[position] = digits[length - 1 - position];
    }
    length as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_a_function_of_the_seed() {
        let mut first = Population::new(1_000, 1.1, 1.3, 7).expect("valid");
        let mut second = Population::new(1_000, 1.1, 1.3, 7).expect("valid");
        for _ in 0..100 {
            let (left, right) = (first.next_post(), second.next_post());
            assert_eq!((left.author_id(), left.at), (right.author_id(), right.at));
            assert!(
                left.author_id()
                    .parse::<u64>()
                    .is_ok_and(|author| author < 1_000)
            );
        }
    }

    #[test]
    fn reach_is_a_zipf_law_over_a_permutation() {
        let population = Population::new(1_000, 1.1, 1.3, 7).expect("valid");
        let mut followers: Vec<u64> = (0..1_000).map(|a| population.followers(a)).collect();
        followers.sort_unstable_by(|left, right| right.cmp(left));
        assert_eq!(followers[0], 50_000_000);
        assert_eq!(followers[1], (50_000_000.0 / 2f64.powf(1.1)) as u64);
    }
}
