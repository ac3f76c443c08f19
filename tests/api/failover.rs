//! Failover without loss: a primary with a synchronous standby (`pg_basebackup`,
//! `synchronous_standby_names = '*'`), and `pgbouncer` as the stable address the service
//! connects to. While a client ingests GMV batches, the primary is stopped in `immediate`
//! mode, the standby is promoted and pgbouncer is repointed at it. Every batch the service
//! acknowledged is there, none is doubled, the roll-ups equal the records, and the client's
//! retries succeed. Skipped (with the reason printed) outside the PostgreSQL suite.

use crate::support;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use support::{
    pg::{Bouncer, Cluster, run, scalar},
    process::{ADMIN, Server},
};

const PER_BATCH: i64 = 20;

#[tokio::test]
async fn failover_to_a_synchronous_standby_loses_and_doubles_nothing() {
    if let Some(why) = support::pg::skip_reason() {
        eprintln!("failover test skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut primary = Cluster::start_new(dir.path(), "primary");
    let standby = primary.standby(dir.path(), "standby");
    let primary_db = Database::connect(primary.url("postgres")).await.unwrap();
    // Synchronous replication, once the standby streams: a commit is acknowledged only when
    // the standby has it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while scalar(
        &primary_db,
        "SELECT COUNT(*) FROM pg_stat_replication WHERE state = 'streaming'",
    )
    .await
        < 1
    {
        assert!(Instant::now() < deadline, "the standby does not stream");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    primary_db
        .execute_unprepared("ALTER SYSTEM SET synchronous_standby_names = '*'")
        .await
        .unwrap();
    primary_db
        .execute_unprepared("SELECT pg_reload_conf()")
        .await
        .unwrap();
    while scalar(
        &primary_db,
        "SELECT COUNT(*) FROM pg_stat_replication WHERE sync_state = 'sync'",
    )
    .await
        < 1
    {
        assert!(Instant::now() < deadline, "the standby is not synchronous");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(primary_db);

    let mut bouncer = Bouncer::start(dir.path(), primary.port);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut server = Server {
        env: [("DATABASE_ACQUIRE_TIMEOUT_MS", "2000")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
        child: None,
        port: support::free_port(),
        dir: dir.path().to_path_buf(),
        database_url: bouncer.url(),
    };
    server.start();
    server.wait_ready(&http).await;
    let base = server.base();
    let (id, key) = server.approved_merchant(&http, "industry_belt", 77).await;

    // The client: batch after batch, each retried until the service acknowledges it.
    let acked: Arc<Mutex<Vec<i64>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        let (acked, failures, stop) = (acked.clone(), failures.clone(), stop.clone());
        tokio::spawn(async move {
            let mut batch = 0i64;
            while !stop.load(Ordering::SeqCst) {
                let records: Vec<Value> = (0..PER_BATCH)
                    .map(|i| {
                        json!({
                            "external_id": format!("b{batch}-{i}"),
                            "occurred_at": chrono::Utc::now() - chrono::Duration::minutes(5),
                            "amount": 1_000 + batch * 100 + i,
                            "currency": "CNY",
                            "channel": "storefront",
                        })
                    })
                    .collect();
                let body = json!({ "records": records });
                loop {
                    match http
                        .post(format!("{base}/api/v1/gmv/records"))
                        .header("X-API-Key", &key)
                        .json(&body)
                        .send()
                        .await
                    {
                        Ok(r) if r.status().as_u16() == 200 => {
                            let v: Value = r.json().await.unwrap();
                            let ok =
                                v["created"].as_i64().unwrap() + v["duplicates"].as_i64().unwrap();
                            assert_eq!(ok, PER_BATCH, "{v}");
                            acked.lock().unwrap().push(batch);
                            break;
                        }
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let text = r.text().await.unwrap_or_default();
                            assert_eq!(status, 503, "only 503 while failing over: {text}");
                            failures.lock().unwrap().push(text);
                        }
                        Err(e) => failures.lock().unwrap().push(e.to_string()),
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                batch += 1;
            }
        })
    };
    let wait_for = |n: usize| {
        let acked = acked.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while acked.lock().unwrap().len() < n {
                assert!(Instant::now() < deadline, "the client stalled");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait_for(10).await;

    // Fail over: the primary dies, the standby is promoted, pgbouncer points at it.
    primary.stop("immediate");
    let before = acked.lock().unwrap().len();
    // An operator takes a few seconds to decide: meanwhile the client's requests fail (503)
    // and are retried.
    tokio::time::sleep(Duration::from_secs(4)).await;
    run(
        "pg_ctl",
        &["-D", standby.data.to_str().unwrap(), "-w", "promote"],
    );
    bouncer.repoint(standby.port);
    wait_for(before + 10).await;
    stop.store(true, Ordering::SeqCst);
    client.await.unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(
        !failures.lock().unwrap().is_empty(),
        "the client saw the failover and retried"
    );
    eprintln!(
        "failover: {} batches acknowledged, {} retried answers while failing over",
        acked.len(),
        failures.lock().unwrap().len()
    );

    // On the promoted standby: every acknowledged batch, once, and roll-ups that add up.
    let db = Database::connect(standby.url("postgres")).await.unwrap();
    let batches = acked.len() as i64;
    assert_eq!(
        scalar(
            &db,
            &format!("SELECT COUNT(*) FROM gmv_record WHERE merchant_id = {id}")
        )
        .await,
        batches * PER_BATCH,
        "every acknowledged record, none doubled"
    );
    assert_eq!(
        scalar(
            &db,
            &format!("SELECT COUNT(DISTINCT external_id) FROM gmv_record WHERE merchant_id = {id}")
        )
        .await,
        batches * PER_BATCH
    );
    let expected: i64 = acked
        .iter()
        .map(|b| (0..PER_BATCH).map(|i| 1_000 + b * 100 + i).sum::<i64>())
        .sum();
    let records = scalar(
        &db,
        &format!("SELECT CAST(SUM(amount) AS BIGINT) FROM gmv_record WHERE merchant_id = {id}"),
    )
    .await;
    let rollup = scalar(
        &db,
        &format!(
            "SELECT CAST(SUM(amount) AS BIGINT) FROM gmv_daily_merchant WHERE merchant_id = {id}"
        ),
    )
    .await;
    assert_eq!((records, rollup), (expected, expected));
    // And the service reads it back through the stable address.
    let summary: Value = http
        .get(format!(
            "{base}/api/v1/gmv/records?merchant_id={id}&limit=1"
        ))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary["items"].as_array().unwrap().len(), 1, "{summary}");
}
