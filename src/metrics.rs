//! The service's Prometheus metrics: one typed registry per application state.
//!
//! Each metric is a field registered once in [`Metrics::default`] and updated through a method
//! named for what happened (`observe_request`, …); `/metrics` renders the registry in the
//! Prometheus text format (version 0.0.4). To add a metric, add a field, register it, and give
//! it a method.

use std::time::Duration;

use prometheus_client::{
    encoding::{EncodeLabelSet, prometheus_text},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Latency histogram bucket upper bounds, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<OperationLabels, Histogram, fn() -> Histogram>,
    pool_connections: Gauge,
    pool_idle_connections: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests served, by operation and status",
            requests.clone(),
        );
        let request_duration =
            Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "http_request_duration_seconds",
            "Request latency, by operation",
            request_duration.clone(),
        );
        let pool_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Open database connections",
            pool_connections.clone(),
        );
        let pool_idle_connections = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            pool_idle_connections.clone(),
        );
        Self {
            registry,
            requests,
            request_duration,
            pool_connections,
            pool_idle_connections,
        }
    }
}

impl Metrics {
    /// One request served by `operation` (its OpenAPI operation id, or `unmatched`).
    pub fn observe_request(&self, operation: &'static str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels { operation, status })
            .inc();
        self.request_duration
            .get_or_create(&OperationLabels { operation })
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition, with the database pool gauges as of now.
    pub fn render(&self, pool_size: u32, pool_idle: usize) -> String {
        self.pool_connections.set(i64::from(pool_size));
        self.pool_idle_connections
            .set(i64::try_from(pool_idle).unwrap_or(i64::MAX));
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe_request("merchants_get", 200, Duration::from_millis(3));
        m.observe_request("merchants_get", 404, Duration::from_millis(30));
        let text = m.render(4, 3);
        assert!(
            text.contains("# TYPE http_requests_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("http_requests_total{operation=\"merchants_get\",status=\"200\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("http_requests_total{operation=\"merchants_get\",status=\"404\"} 1\n")
        );
        assert!(text.contains("# TYPE http_request_duration_seconds histogram\n"));
        assert!(
            text.contains(
                "http_request_duration_seconds_bucket{operation=\"merchants_get\",le=\"0.005\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "http_request_duration_seconds_bucket{operation=\"merchants_get\",le=\"0.05\"} 2\n"
        ));
        assert!(text.contains(
            "http_request_duration_seconds_bucket{operation=\"merchants_get\",le=\"+Inf\"} 2\n"
        ));
        assert!(
            text.contains("http_request_duration_seconds_count{operation=\"merchants_get\"} 2\n")
        );
        assert!(text.contains("db_pool_connections 4\n"), "{text}");
        assert!(text.contains("db_pool_idle_connections 3\n"));
        assert!(!text.contains("# EOF"), "Prometheus text, not OpenMetrics");
    }
}
