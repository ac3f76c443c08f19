//! The soak test: the built server, on a real port and the test backend (SQLite by default,
//! PostgreSQL with `TEST_DATABASE_URL`), under the mixed load of `support::load` for about
//! 35 s: eight merchants ingesting with replays and refunds, staff deciding, merchants rotating
//! keys and reading progress, the dispatcher mailing a real SMTP server, evaluations every 3 s.
//!
//! Afterwards: no request answered 5xx; every acknowledged record is stored exactly once with
//! its amount, and the roll-ups equal the records; every approval that answered 200 is
//! approved; every email was sent exactly once; and `/metrics`, read by a Prometheus text
//! parser, counts what the load did. The request count and status histogram are printed (the
//! README's reliability section quotes them).

use crate::support::{self, load, smtp::SmtpServer};

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use entity::enums::{EmailStatus, MerchantStatus};
use sea_orm::{Database, DatabaseConnection, EntityTrait};

const BIN: &str = env!("CARGO_BIN_EXE_merchant-incentives");
const LOAD_FOR: Duration = Duration::from_secs(35);
/// Records per GMV batch: enough to keep the write lock busy, few enough to check in seconds.
const BATCH: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mixed_load_answers_no_5xx_and_loses_nothing() {
    let smtp = SmtpServer::start_new();
    let tmp = tempfile::tempdir().unwrap();
    let (database_url, pg) = support::fresh_database(tmp.path()).await;
    let server = load::Server::start(BIN, &database_url, &smtp.url(), tmp.path()).await;
    let began = chrono::Utc::now();
    let out = load::run(
        &server.base,
        &server.admin,
        &load::Settings {
            duration: LOAD_FOR,
            batch: BATCH,
            ..Default::default()
        },
    )
    .await;
    let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    println!("soak on {backend}: {}", out.table());
    println!(
        "items {:?}; approved {}, rejected {}, evaluations {}",
        out.items,
        out.approved.len(),
        out.rejected.len(),
        out.evaluations.len()
    );

    // No 5xx, and every request got an HTTP answer.
    assert!(
        out.transport_errors.is_empty(),
        "{:?}",
        out.transport_errors
    );
    assert!(
        out.server_errors().is_empty(),
        "5xx answers {:?}; server log:\n{}",
        out.server_errors(),
        server.log_text()
    );
    // Every answer was the expected one: success, and 401 only for a revoked key.
    for (op, stats) in &out.ops {
        for status in stats.statuses.keys() {
            assert!(
                (200..300).contains(status) || (*op == "me_get" && *status == 401),
                "{op} answered {status}: {:?}",
                stats.statuses
            );
        }
    }
    // The load was real: every kind of work happened, many times.
    for (op, at_least) in [
        ("gmv_records_create", 50),
        ("merchants_decide", 20),
        ("me_update", 5),
        ("me_keys_create", 20),
        ("programs_my_progress", 20),
        ("evaluations_run", 5),
    ] {
        let n = out.ops.get(op).map_or(0, |s| s.count());
        assert!(n >= at_least, "{op} ran {n} times");
    }
    assert_eq!(out.replays_created, 0, "a replay was not yet stored");
    assert_eq!(out.first_sends_duplicate, 0, "a first send was a duplicate");
    assert_eq!(out.revoked_keys_accepted, 0, "a revoked key still worked");
    assert!(
        out.evaluations.iter().all(|r| r["status"] == "ok"),
        "{:?}",
        out.evaluations
    );

    let db = Database::connect(&database_url).await.unwrap();
    // Every acknowledged record exactly once, with its amount; nothing else stored.
    let stored = entity::gmv_record::Entity::find().all(&db).await.unwrap();
    let mut by_key: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for r in &stored {
        assert!(
            by_key
                .insert((r.merchant_id, r.external_id.clone()), r.amount)
                .is_none(),
            "stored twice: {} of merchant {}",
            r.external_id,
            r.merchant_id
        );
    }
    assert_eq!(by_key.len(), out.acked.len());
    assert!(
        by_key == out.acked,
        "stored records differ from the acknowledged ones"
    );
    support::assert_rollups_match_records(&db).await;

    // Every approval that answered 200 is approved; every rejection rejected.
    let merchants: HashMap<i64, MerchantStatus> = entity::merchant::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m.status))
        .collect();
    for id in &out.approved {
        assert_eq!(merchants[id], MerchantStatus::Approved, "merchant {id}");
    }
    for id in &out.rejected {
        assert_eq!(merchants[id], MerchantStatus::Rejected, "merchant {id}");
    }

    // Every email sent, each exactly once.
    let outbox = drained_outbox(&db).await;
    assert!(
        outbox.len() > out.approved.len(),
        "decisions and tiers queued mail"
    );
    let received: Vec<Vec<u8>> = smtp.received().into_iter().map(|m| m.data).collect();
    let ids = load::message_ids(&received);
    assert_eq!(received.len(), outbox.len(), "one delivery per outbox row");
    for row in &outbox {
        assert_eq!(row.status, EmailStatus::Sent, "email {}", row.id);
        assert_eq!(ids.get(&row.message_id), Some(&1), "email {}", row.id);
    }

    // `/metrics` counts what the load did.
    let text = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("/metrics parses as the Prometheus text format");
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    };
    for ((result, code), n) in &out.items {
        let mut labels = vec![("result", result.as_str())];
        if let Some(code) = code {
            labels.push(("code", code.as_str()));
        }
        assert_eq!(
            value("gmv_items_total", &labels),
            *n as f64,
            "gmv_items_total {labels:?}"
        );
    }
    for (op, stats) in &out.ops {
        for (status, n) in &stats.statuses {
            assert_eq!(
                value(
                    "http_requests_total",
                    &[("operation", op), ("status", &status.to_string())]
                ),
                *n as f64,
                "http_requests_total of {op} {status}"
            );
        }
    }
    assert_eq!(
        value("job_runs", &[("job", "evaluate"), ("outcome", "ok")]),
        out.evaluations.len() as f64
    );
    assert_eq!(
        value("email_outbox_rows", &[("status", "sent")]),
        outbox.len() as f64
    );
    assert_eq!(value("email_outbox_rows", &[("status", "pending")]), 0.0);
    assert_eq!(value("email_outbox_oldest_pending_age_seconds", &[]), 0.0);
    assert!(value("last_successful_evaluation_timestamp_seconds", &[]) >= began.timestamp() as f64);
    assert!(
        value("job_run_last_duration_seconds", &[("job", "evaluate")]) > 0.0,
        "{text}"
    );
    let retries = value("db_retries_total", &[]);
    println!("database retries during the soak: {}", retries.abs());

    drop(server);
    db.close().await.ok();
    if let Some((base, name)) = pg {
        support::drop_database(base, name);
    }
}

/// The outbox once the dispatcher has nothing left to send (at most 60 s).
async fn drained_outbox(db: &DatabaseConnection) -> Vec<entity::email_outbox::Model> {
    for _ in 0..600 {
        let rows = entity::email_outbox::Entity::find().all(db).await.unwrap();
        if rows
            .iter()
            .all(|r| !matches!(r.status, EmailStatus::Pending | EmailStatus::Sending))
        {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the outbox did not drain in 60 s");
}
