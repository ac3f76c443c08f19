//! A real hot standby: `pg_basebackup` of the test's own primary into a temporary directory,
//! started with `pg_ctl` on another port and streaming from it. The service runs with
//! `DATABASE_READ_URL` pointing at the standby and proves: reads that tolerate lag are served
//! by the standby (`db_reads_total{target="replica"}`); when the standby falls behind (its
//! replay paused) by more than `READ_MAX_LAG_MS`, they go to the primary and see the newest
//! data; when it catches up they return to it; answers are the same wherever they come from.
//! Skipped (with the reason printed) outside the PostgreSQL suite.

use crate::support;

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use support::pg::scalar;
use support::{
    pg::Cluster,
    process::{ADMIN, Server},
};

const WAN: i64 = 1_000_000;

/// `db_reads_total` by target, from `/metrics`.
async fn reads(http: &reqwest::Client, base: &str) -> (f64, f64) {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<Result<String, std::io::Error>> =
        text.lines().map(|l| Ok(l.to_string())).collect();
    let scrape = prometheus_parse::Scrape::parse(lines.into_iter()).unwrap();
    let get = |target: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == "db_reads_total" && s.labels.get("target") == Some(target))
            .map_or(0.0, |s| match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
    };
    (get("replica"), get("primary"))
}

/// Waits until the standby has replayed everything the primary wrote.
async fn caught_up(primary: &DatabaseConnection, standby: &DatabaseConnection) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let target: String = primary
        .query_one_raw(Statement::from_string(
            primary.get_database_backend(),
            "SELECT CAST(pg_current_wal_lsn() AS TEXT)",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    loop {
        let sql =
            format!("SELECT CAST(CAST(pg_last_wal_replay_lsn() >= '{target}' AS INT) AS BIGINT)");
        if scalar(standby, &sql).await == 1 {
            return;
        }
        assert!(Instant::now() < deadline, "the standby did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn reads_go_to_a_streaming_standby_until_it_lags() {
    if let Some(why) = support::pg::skip_reason() {
        eprintln!("replica test skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let primary = Cluster::start_new(dir.path(), "primary");
    let standby = primary.standby(dir.path(), "standby");
    let primary_db = Database::connect(primary.url("postgres")).await.unwrap();
    let standby_db = Database::connect(standby.url("postgres")).await.unwrap();
    assert_eq!(
        scalar(
            &standby_db,
            "SELECT CAST(CAST(pg_is_in_recovery() AS INT) AS BIGINT)"
        )
        .await,
        1
    );

    let http = reqwest::Client::new();
    let mut server = Server {
        env: [
            ("DATABASE_READ_URL", standby.url("postgres")),
            ("READ_MAX_LAG_MS", "300".to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v))
        .into(),
        child: None,
        port: support::free_port(),
        dir: dir.path().to_path_buf(),
        database_url: primary.url("postgres"),
    };
    server.start();
    server.wait_ready(&http).await;
    let base = server.base();

    // Two approved merchants with GMV, evaluated on the primary.
    let srv = &server;
    let mut keys = Vec::new();
    for n in 0..2 {
        keys.push(server.approved_merchant(&http, "brand", 900 + n).await.1);
    }
    let sell = |key: String, external: &'static str, amount: i64| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r = http
                .post(format!("{base}/api/v1/gmv/records"))
                .header("X-API-Key", key)
                .json(&json!({"records": [{
                    "external_id": external,
                    "occurred_at": chrono::Utc::now() - chrono::Duration::hours(1),
                    "amount": amount,
                    "currency": "CNY",
                    "channel": "live_stream",
                }]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
        }
    };
    sell(keys[0].clone(), "r-1", 1_500 * WAN).await;
    sell(keys[1].clone(), "r-2", 300 * WAN).await;
    let evaluate = || {
        let http = http.clone();
        let base = base.clone();
        async move {
            let started: Value = http
                .post(format!("{base}/api/v1/evaluations"))
                .bearer_auth(ADMIN)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = started["id"].as_i64().unwrap();
            for _ in 0..600 {
                let run = srv
                    .admin_get(&http, &format!("/api/v1/evaluations/{id}"))
                    .await;
                if run["status"] != "running" {
                    assert_eq!(run["status"], "ok", "{run}");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the evaluation did not finish");
        }
    };
    evaluate().await;
    let program = scalar(
        &primary_db,
        "SELECT id FROM program WHERE seed_key = 'merchants_100m'",
    )
    .await;
    let board = || {
        let http = http.clone();
        async move {
            let b = srv
                .admin_get(&http, &format!("/api/v1/programs/{program}/progress"))
                .await;
            b["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["value"].as_i64().unwrap())
                .collect::<Vec<i64>>()
        }
    };

    // Caught up: the standby serves the leaderboard, with the primary's figures.
    caught_up(&primary_db, &standby_db).await;
    let (r0, p0) = reads(&http, &base).await;
    assert_eq!(board().await, vec![1_500 * WAN, 300 * WAN]);
    let (r1, p1) = reads(&http, &base).await;
    assert_eq!((r1 - r0, p1 - p0), (1.0, 0.0), "served by the standby");

    // The standby stops replaying; the primary moves on.
    scalar(
        &standby_db,
        "SELECT CAST(0 AS BIGINT) FROM (SELECT pg_wal_replay_pause()) p",
    )
    .await;
    sell(keys[1].clone(), "r-3", 2_000 * WAN).await;
    evaluate().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    // Further behind than READ_MAX_LAG_MS: the primary answers, with the newest figures.
    assert_eq!(board().await, vec![2_300 * WAN, 1_500 * WAN]);
    let (r2, p2) = reads(&http, &base).await;
    assert_eq!((r2 - r1, p2 - p1), (0.0, 1.0), "served by the primary");
    // The standby itself still shows the old figures: reading it would have been wrong.
    assert_eq!(
        scalar(
            &standby_db,
            &format!("SELECT MAX(value) FROM progress WHERE program_id = {program}")
        )
        .await,
        1_500 * WAN
    );

    // Replay resumes: once caught up, the standby serves again, with the same answer.
    scalar(
        &standby_db,
        "SELECT CAST(0 AS BIGINT) FROM (SELECT pg_wal_replay_resume()) p",
    )
    .await;
    caught_up(&primary_db, &standby_db).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(board().await, vec![2_300 * WAN, 1_500 * WAN]);
    let (r3, p3) = reads(&http, &base).await;
    assert_eq!(
        (r3 - r2, p3 - p2),
        (1.0, 0.0),
        "served by the standby again"
    );

    // A merchant's own progress (it must see its writes) never goes to the standby.
    let before = reads(&http, &base).await;
    let me = http
        .get(format!("{base}/api/v1/me/progress"))
        .header("X-API-Key", &keys[1])
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);
    assert_eq!(reads(&http, &base).await, before);
}
