//! Login rate limiting: failed sign-ins are counted per user name and per client address
//! in a sliding window; past the limit, sign-in is refused with 429 until the oldest
//! failure leaves the window, whatever the password. A success clears the name's count.
//!
//! Time is passed in (`now`), so the rules are unit-tested without waiting; memory is
//! bounded ([`MAX_KEYS`], oldest entries pruned first).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Keys remembered at most.
pub(crate) const MAX_KEYS: usize = 10_000;

/// Failures allowed per key within the window.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_name: usize,
    pub per_address: usize,
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            per_name: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Default)]
pub struct LoginLimiter {
    limits: Limits,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub fn new(limits: Limits) -> LoginLimiter {
        LoginLimiter {
            limits,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(name: &str, address: Option<&str>) -> [(String, bool); 2] {
        [
            (format!("name:{}", name.to_lowercase()), true),
            (format!("addr:{}", address.unwrap_or("")), address.is_some()),
        ]
    }

    /// `Err(retry_after)` when `name` or `address` may not try now.
    pub fn check(&self, name: &str, address: Option<&str>, now: Instant) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let mut wait = Duration::ZERO;
        for (key, used) in LoginLimiter::keys(name, address) {
            let limit = if key.starts_with("name:") {
                self.limits.per_name
            } else {
                self.limits.per_address
            };
            if !used {
                continue;
            }
            if let Some(times) = failures.get_mut(&key) {
                while times
                    .front()
                    .is_some_and(|oldest| now.duration_since(*oldest) >= self.limits.window)
                {
                    times.pop_front();
                }
                if times.len() >= limit
                    && let Some(oldest) = times.front()
                {
                    let until = self
                        .limits
                        .window
                        .saturating_sub(now.duration_since(*oldest));
                    wait = wait.max(until.max(Duration::from_secs(1)));
                }
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, name: &str, address: Option<&str>, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() >= MAX_KEYS {
            let window = self.limits.window;
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|newest| now.duration_since(*newest) < window)
            });
            if failures.len() >= MAX_KEYS {
                failures.clear();
            }
        }
        for (key, used) in LoginLimiter::keys(name, address) {
            if used {
                failures.entry(key).or_default().push_back(now);
            }
        }
    }

    /// A successful sign-in clears the name's failures.
    pub fn succeeded(&self, name: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.remove(&format!("name:{}", name.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_a_name_after_too_many_failures_until_the_window_passes() {
        let limiter = LoginLimiter::new(Limits {
            per_name: 3,
            per_address: 100,
            window: Duration::from_secs(60),
        });
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        for second in 0..3 {
            assert!(
                limiter
                    .check("camille", Some("1.2.3.4"), at(second))
                    .is_ok()
            );
            limiter.failed("Camille", Some("1.2.3.4"), at(second));
        }
        assert_eq!(
            limiter.check("camille", Some("5.6.7.8"), at(10)),
            Err(Duration::from_secs(50)),
            "the name is blocked from any address"
        );
        assert!(limiter.check("sam", Some("1.2.3.4"), at(10)).is_ok());
        assert!(
            limiter.check("camille", None, at(61)).is_ok(),
            "the first failure expired"
        );
        limiter.succeeded("camille");
        assert!(limiter.check("camille", None, at(11)).is_ok());
    }

    #[test]
    fn blocks_an_address_that_tries_many_names() {
        let limiter = LoginLimiter::new(Limits {
            per_name: 100,
            per_address: 2,
            window: Duration::from_secs(60),
        });
        let now = Instant::now();
        limiter.failed("a", Some("9.9.9.9"), now);
        limiter.failed("b", Some("9.9.9.9"), now);
        assert!(limiter.check("c", Some("9.9.9.9"), now).is_err());
        assert!(limiter.check("c", Some("8.8.8.8"), now).is_ok());
    }
}
