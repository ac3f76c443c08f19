//! Request counts and latencies by operation, rendered as Prometheus text.

use std::{collections::BTreeMap, fmt::Write, sync::Mutex, time::Duration};

/// Histogram bucket upper bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum_seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), Series>>,
}

impl Metrics {
    pub fn observe(&self, operation: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut map = self.requests.lock().expect("metrics lock");
        let s = map.entry((operation.to_string(), status)).or_default();
        s.count += 1;
        s.sum_seconds += secs;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                s.buckets[i] += 1;
            }
        }
    }

    /// Prometheus text exposition, with the database pool gauges appended.
    pub fn render(&self, pool_size: u32, pool_idle: usize) -> String {
        let mut out = String::new();
        let map = self.requests.lock().expect("metrics lock");
        out.push_str("# HELP http_requests_total Requests served, by operation and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for ((op, status), s) in map.iter() {
            let _ = writeln!(
                out,
                "http_requests_total{{operation=\"{op}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP http_request_duration_seconds Request latency, by operation.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        let mut by_op: BTreeMap<&str, Series> = BTreeMap::new();
        for ((op, _), s) in map.iter() {
            let agg = by_op.entry(op).or_default();
            agg.count += s.count;
            agg.sum_seconds += s.sum_seconds;
            for i in 0..BUCKETS.len() {
                agg.buckets[i] += s.buckets[i];
            }
        }
        for (op, s) in by_op {
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{operation=\"{op}\",le=\"{bound}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{operation=\"{op}\",le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{operation=\"{op}\"}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{operation=\"{op}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP db_pool_connections Open database connections.\n");
        out.push_str("# TYPE db_pool_connections gauge\n");
        let _ = writeln!(out, "db_pool_connections {pool_size}");
        out.push_str("# HELP db_pool_idle_connections Idle database connections.\n");
        out.push_str("# TYPE db_pool_idle_connections gauge\n");
        let _ = writeln!(out, "db_pool_idle_connections {pool_idle}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe("merchants_get", 200, Duration::from_millis(3));
        m.observe("merchants_get", 404, Duration::from_millis(30));
        let text = m.render(4, 3);
        assert!(text.contains("http_requests_total{operation=\"merchants_get\",status=\"200\"} 1"));
        assert!(text.contains("http_requests_total{operation=\"merchants_get\",status=\"404\"} 1"));
        assert!(text.contains(
            "http_request_duration_seconds_bucket{operation=\"merchants_get\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "http_request_duration_seconds_bucket{operation=\"merchants_get\",le=\"0.05\"} 2"
        ));
        assert!(text.contains("db_pool_connections 4"));
        assert!(text.contains("db_pool_idle_connections 3"));
    }
}
