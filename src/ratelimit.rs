//! Request budgets keyed by client address or credential, kept in memory per replica.
//!
//! A thin wrapper over `governor`'s keyed GCRA limiter that answers in the terms the API uses:
//! allowed, or how many whole seconds to wait (the `Retry-After` of a 429).

use std::{
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use governor::{
    Quota,
    clock::{Clock, DefaultClock},
    middleware::NoOpMiddleware,
    state::keyed::DefaultKeyedStateStore,
};

/// Every this many checks, keys whose budget is full again are forgotten, so memory stays
/// bounded by the keys seen within one refill period.
const RETAIN_EVERY: u64 = 4096;

pub struct RateLimiter<C: Clock = DefaultClock> {
    inner: governor::RateLimiter<
        String,
        DefaultKeyedStateStore<String>,
        C,
        NoOpMiddleware<C::Instant>,
    >,
    checks: AtomicU64,
}

impl RateLimiter {
    /// `count` requests per `per`, with a burst of `burst` requests.
    pub fn new(count: u32, per: Duration, burst: u32) -> Self {
        Self::with_clock(count, per, burst, DefaultClock::default())
    }
}

impl<C: Clock> RateLimiter<C> {
    fn with_clock(count: u32, per: Duration, burst: u32, clock: C) -> Self {
        let period = (per / count.max(1)).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .expect("the period is at least one nanosecond")
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Self {
            inner: governor::RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one request from `key`'s budget, or says how many whole seconds (at least 1) to
    /// wait before the next one is allowed.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
            self.inner.retain_recent();
            self.inner.shrink_to_fit();
        }
        self.inner.check_key(&key.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.inner.clock().now());
            u64::try_from(wait.as_nanos().div_ceil(1_000_000_000).max(1)).unwrap_or(u64::MAX)
        })
    }

    /// Keys currently holding a partly used budget.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn allows_the_burst_then_refills() {
        let clock = FakeRelativeClock::default();
        let rl = RateLimiter::with_clock(6, Duration::from_secs(60), 3, clock.clone());
        for _ in 0..3 {
            assert!(rl.check("a").is_ok());
        }
        assert_eq!(rl.check("a"), Err(10), "one request per 10 s");
        assert!(rl.check("b").is_ok(), "keys are independent");
        clock.advance(Duration::from_millis(9_500));
        assert_eq!(rl.check("a"), Err(1), "a part of a second rounds up");
        clock.advance(Duration::from_millis(500));
        assert!(rl.check("a").is_ok());
        assert!(rl.check("a").is_err());
    }

    #[test]
    fn retry_after_is_whole_seconds_and_at_least_one() {
        let clock = FakeRelativeClock::default();
        let rl = RateLimiter::with_clock(50, Duration::from_secs(1), 100, clock.clone());
        for _ in 0..100 {
            assert!(rl.check("k").is_ok());
        }
        assert_eq!(rl.check("k"), Err(1), "20 ms rounds up to one second");
    }

    #[test]
    fn idle_keys_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let rl = RateLimiter::with_clock(1, Duration::from_secs(1), 2, clock.clone());
        for i in 0..RETAIN_EVERY - 1 {
            assert!(rl.check(&format!("client-{i}")).is_ok());
        }
        assert_eq!(rl.len() as u64, RETAIN_EVERY - 1);
        clock.advance(Duration::from_secs(2));
        assert!(rl.check("late").is_ok());
        assert_eq!(
            rl.len(),
            1,
            "only the key used since its budget refilled is kept"
        );
    }
}
