//! The service's Prometheus metrics: one typed registry per application state.
//!
//! Each metric is a field registered once in [`Metrics::default`] and updated through a method
//! named for what happened (`observe_request`, …); `/metrics` renders the registry in the
//! Prometheus text format (version 0.0.4). To add a metric, add a field, register it, and give
//! it a method.

use std::{
    sync::{Mutex, atomic::AtomicU64},
    time::Duration,
};

use chrono::{DateTime, Utc};
use prometheus_client::{
    encoding::{EncodeLabelSet, prometheus_text},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use crate::services::health::Health;

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

/// `result`, and for a rejected item its `code` (absent otherwise, not empty).
type GmvItemLabels = Vec<(&'static str, String)>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboxLabels {
    kind: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: String,
    outcome: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<OperationLabels, Histogram, fn() -> Histogram>,
    pool_connections: Gauge,
    pool_idle_connections: Gauge,
    gmv_items: Family<GmvItemLabels, Counter>,
    outbox_rows: Family<OutboxLabels, Gauge>,
    outbox_oldest_pending_age: FloatGauge,
    job_runs: Family<JobLabels, Gauge>,
    job_run_last_duration: Family<JobLabels, FloatGauge>,
    last_successful_evaluation: FloatGauge,
    /// Held while the health gauges are reset, filled and encoded, so concurrent scrapes do
    /// not see each other's half-filled families.
    rendering: Mutex<()>,
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
        let gmv_items = Family::<GmvItemLabels, Counter>::default();
        registry.register(
            "gmv_items",
            "GMV records received, by result (created, duplicate, rejected) and a rejection's code",
            gmv_items.clone(),
        );
        registry.register(
            "db_retries",
            "Transactions run again after a transient database error, by backend and error",
            crate::db::RETRIES.clone(),
        );
        registry.register(
            "db_reads",
            "Reads that tolerate lag, by the database that served them (replica, primary)",
            crate::db::READS.clone(),
        );
        let outbox_rows = Family::<OutboxLabels, Gauge>::default();
        registry.register(
            "email_outbox_rows",
            "Outbox rows, by kind and status",
            outbox_rows.clone(),
        );
        let outbox_oldest_pending_age = FloatGauge::default();
        registry.register(
            "email_outbox_oldest_pending_age_seconds",
            "How long the oldest pending email has waited; 0 when none is pending",
            outbox_oldest_pending_age.clone(),
        );
        let job_runs = Family::<JobLabels, Gauge>::default();
        registry.register(
            "job_runs",
            "Runs in the job-run ledger, by job and outcome (running, ok, failed)",
            job_runs.clone(),
        );
        let job_run_last_duration = Family::<JobLabels, FloatGauge>::default();
        registry.register(
            "job_run_last_duration_seconds",
            "How long the latest finished run of a job with an outcome took",
            job_run_last_duration.clone(),
        );
        let last_successful_evaluation = FloatGauge::default();
        registry.register(
            "last_successful_evaluation_timestamp_seconds",
            "When the latest evaluation that finished ok finished, in Unix seconds; 0 before the first",
            last_successful_evaluation.clone(),
        );
        Self {
            registry,
            requests,
            request_duration,
            pool_connections,
            pool_idle_connections,
            gmv_items,
            outbox_rows,
            outbox_oldest_pending_age,
            job_runs,
            job_run_last_duration,
            last_successful_evaluation,
            rendering: Mutex::new(()),
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

    /// One GMV record answered `result` (its status as the document spells it), with a
    /// rejection's `code`.
    pub fn observe_gmv_item(&self, result: Option<String>, code: Option<String>) {
        let mut labels: GmvItemLabels = vec![("result", result.unwrap_or_default())];
        if let Some(code) = code {
            labels.push(("code", code));
        }
        self.gmv_items.get_or_create(&labels).inc();
    }

    /// The Prometheus text exposition, with the database pool gauges and, when the database
    /// answered, its health figures as of `now`.
    pub fn render(
        &self,
        pool_size: u32,
        pool_idle: usize,
        health: Option<&Health>,
        now: DateTime<Utc>,
    ) -> String {
        let _rendering = self.rendering.lock().unwrap_or_else(|e| e.into_inner());
        self.pool_connections.set(i64::from(pool_size));
        self.pool_idle_connections
            .set(i64::try_from(pool_idle).unwrap_or(i64::MAX));
        if let Some(h) = health {
            self.set_health(h, now);
        }
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    fn set_health(&self, h: &Health, now: DateTime<Utc>) {
        let seconds = |t: DateTime<Utc>| t.timestamp_millis() as f64 / 1000.0;
        self.outbox_rows.clear();
        for c in &h.outbox {
            self.outbox_rows
                .get_or_create(&OutboxLabels {
                    kind: c.kind.as_str(),
                    status: c.status.as_str(),
                })
                .set(c.rows);
        }
        self.outbox_oldest_pending_age.set(
            h.oldest_pending_email_at
                .map_or(0.0, |t| (seconds(now) - seconds(t)).max(0.0)),
        );
        self.job_runs.clear();
        self.job_run_last_duration.clear();
        for j in &h.jobs {
            let labels = JobLabels {
                job: j.job.clone(),
                outcome: j.outcome.as_str(),
            };
            self.job_runs.get_or_create(&labels).set(j.runs);
            if let Some(d) = j.last_duration_seconds {
                self.job_run_last_duration.get_or_create(&labels).set(d);
            }
        }
        self.last_successful_evaluation
            .set(h.last_successful_evaluation_at.map_or(0.0, seconds));
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
        let text = m.render(4, 3, None, Utc::now());
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

    #[test]
    fn renders_health_figures_and_forgets_vanished_label_sets() {
        use crate::services::health::{JobRuns, OutboxCount};
        use entity::enums::{EmailKind, EmailStatus, JobOutcome};
        let m = Metrics::default();
        let created = Some("created".to_string());
        let rejected = Some("rejected".to_string());
        let zero = Some("amount_zero".to_string());
        m.observe_gmv_item(created, None);
        m.observe_gmv_item(rejected.clone(), zero.clone());
        m.observe_gmv_item(rejected, zero);
        let now: DateTime<Utc> = "2026-11-29T08:00:00Z".parse().unwrap();
        let finished: DateTime<Utc> = "2026-11-29T07:59:00Z".parse().unwrap();
        let health = Health {
            outbox: vec![
                OutboxCount {
                    kind: EmailKind::TierAchieved,
                    status: EmailStatus::Pending,
                    rows: 3,
                },
                OutboxCount {
                    kind: EmailKind::TierAchieved,
                    status: EmailStatus::Sent,
                    rows: 7,
                },
            ],
            oldest_pending_email_at: Some("2026-11-29T07:58:30Z".parse().unwrap()),
            jobs: vec![JobRuns {
                job: "evaluate".into(),
                outcome: JobOutcome::Ok,
                runs: 4,
                last_duration_seconds: Some(2.5),
                last_finished_at: Some(finished),
            }],
            last_successful_evaluation_at: Some(finished),
        };
        crate::db::RETRIES
            .get_or_create(&crate::db::Transient {
                backend: "sqlite",
                error: "busy_snapshot",
            })
            .inc();
        let text = m.render(1, 1, Some(&health), now);
        for line in [
            "gmv_items_total{result=\"created\"} 1\n",
            "gmv_items_total{result=\"rejected\",code=\"amount_zero\"} 2\n",
            "email_outbox_rows{kind=\"tier_achieved\",status=\"pending\"} 3\n",
            "email_outbox_rows{kind=\"tier_achieved\",status=\"sent\"} 7\n",
            "email_outbox_oldest_pending_age_seconds 90.0\n",
            "job_runs{job=\"evaluate\",outcome=\"ok\"} 4\n",
            "job_run_last_duration_seconds{job=\"evaluate\",outcome=\"ok\"} 2.5\n",
            "last_successful_evaluation_timestamp_seconds 1795939140.0\n",
            "db_retries_total{backend=\"sqlite\",error=\"busy_snapshot\"} ",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        // A status that no longer has rows disappears rather than keeping its old count.
        let drained = Health {
            outbox: vec![OutboxCount {
                kind: EmailKind::TierAchieved,
                status: EmailStatus::Sent,
                rows: 10,
            }],
            oldest_pending_email_at: None,
            ..health
        };
        let text = m.render(1, 1, Some(&drained), now);
        assert!(!text.contains("status=\"pending\""), "{text}");
        assert!(
            text.contains("email_outbox_oldest_pending_age_seconds 0.0\n"),
            "{text}"
        );
    }
}
