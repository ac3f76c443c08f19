//! Token buckets keyed by client address or credential, kept in memory per replica.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Buckets kept before idle (full) ones are dropped, so memory stays bounded.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// `count` requests per `per`, with a burst of `burst` requests.
    pub fn new(count: u32, per: Duration, burst: u32) -> Self {
        Self {
            per_second: f64::from(count) / per.as_secs_f64(),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how many whole seconds to wait.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refills() {
        let rl = RateLimiter::new(6, Duration::from_secs(60), 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(rl.check_at("a", t0).is_ok());
        }
        assert_eq!(rl.check_at("a", t0), Err(10), "one token per 10 s");
        assert!(rl.check_at("b", t0).is_ok(), "keys are independent");
        assert!(rl.check_at("a", t0 + Duration::from_secs(10)).is_ok());
        assert!(rl.check_at("a", t0 + Duration::from_secs(10)).is_err());
    }
}
