//! Crash safety of GMV ingestion. A client sends large batches in a loop while the server — the
//! built binary — is killed with SIGKILL at random moments and restarted on the same port and
//! database; every batch not acknowledged with a 2xx is sent again. Afterwards the stored
//! records are exactly the distinct records sent (none lost, none doubled, every amount as
//! sent) and every roll-up row equals the GROUP BY of the raw records. SQLite by default,
//! PostgreSQL with `TEST_DATABASE_URL`.

use crate::support;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, SubsecRound, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::{Database, EntityTrait};
use serde_json::{Value, json};

use support::process::{ADMIN, DropDatabase, Server};
/// How many times the server is killed.
const KILLS: usize = 12;
/// Records per batch: large enough that a kill often lands inside the transaction.
const BATCH: usize = 500;
/// A batch not acknowledged after this long means the server did not come back.
const PATIENCE: Duration = Duration::from_secs(30);

const CHANNELS: [&str; 4] = ["live_stream", "short_video", "storefront", "other"];

/// The next batch: new sales over 30 days and four channels (some with a product, some with
/// a creator), refunds of sales sent before or earlier in the batch, and exact replays of
/// records sent in earlier batches.
fn next_batch(
    rng: &mut StdRng,
    n: usize,
    now: DateTime<Utc>,
    sent: &BTreeMap<String, Value>,
    sent_ids: &[String],
) -> Vec<Value> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut sales = Vec::new();
    let replays = if sent_ids.is_empty() { 0 } else { 30 };
    let refunds = 20;
    for i in 0..BATCH - replays - refunds {
        let at = now
            - chrono::Duration::days(rng.random_range(0..30))
            - chrono::Duration::seconds(rng.random_range(60..86_400));
        let mut r = json!({
            "external_id": format!("sale-{n}-{i}"),
            "occurred_at": at.to_rfc3339(),
            "amount": rng.random_range(100..1_000_000i64),
            "currency": "CNY",
            "channel": CHANNELS[rng.random_range(0..CHANNELS.len())],
        });
        if rng.random_bool(0.6) {
            r["product_id"] = json!(format!("sku-{}", rng.random_range(0..20)));
        }
        if rng.random_bool(0.4) {
            r["creator_id"] = json!(format!("creator-{}", rng.random_range(0..8)));
        }
        sales.push(r.clone());
        batch.push(r);
    }
    for i in 0..refunds {
        // Half correct a sale of this batch, half one acknowledged before.
        let sale = if sent_ids.is_empty() || i % 2 == 0 {
            &sales[rng.random_range(0..sales.len())]
        } else {
            &sent[&sent_ids[rng.random_range(0..sent_ids.len())]]
        };
        let amount = sale["amount"].as_i64().unwrap();
        if amount < 0 {
            continue; // a refund, not a sale: nothing to correct
        }
        let mut r = sale.clone();
        r["external_id"] = json!(format!("refund-{n}-{i}"));
        r["amount"] = json!(-rng.random_range(1..=amount));
        r["corrects"] = sale["external_id"].clone();
        batch.push(r);
    }
    for _ in 0..replays {
        let id = &sent_ids[rng.random_range(0..sent_ids.len())];
        batch.push(sent[id].clone());
    }
    batch
}

/// What the client sent and how it went.
#[derive(Default)]
struct ClientReport {
    /// Every distinct record acknowledged, by `external_id`, as sent.
    sent: BTreeMap<String, Value>,
    batches: usize,
    records_sent: usize,
    retries: usize,
    server_errors: usize,
    /// Batches whose unacknowledged attempt had been committed (answered as duplicates later).
    committed_unacknowledged: usize,
}

/// Sends batches until `stop` is set, each until it is acknowledged with a 2xx.
async fn client(
    base: String,
    key: String,
    seed: u64,
    stop: Arc<AtomicBool>,
    in_flight: Arc<AtomicBool>,
) -> ClientReport {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let now = Utc::now().trunc_subsecs(0);
    let mut report = ClientReport::default();
    let mut sent_ids: Vec<String> = Vec::new();
    while !stop.load(Ordering::SeqCst) || report.batches < 3 {
        let batch = next_batch(&mut rng, report.batches, now, &report.sent, &sent_ids);
        let replays = batch
            .iter()
            .filter(|r| report.sent.contains_key(r["external_id"].as_str().unwrap()))
            .count() as i64;
        let body = json!({ "records": batch });
        let mut failed_attempts = 0;
        let first_attempt = Instant::now();
        let ack = loop {
            assert!(
                first_attempt.elapsed() < PATIENCE,
                "batch {} was never acknowledged",
                report.batches
            );
            in_flight.store(true, Ordering::SeqCst);
            let attempt = async {
                let r = http
                    .post(format!("{base}/api/v1/gmv/records"))
                    .header("X-API-Key", &key)
                    .json(&body)
                    .send()
                    .await?;
                let status = r.status();
                Ok::<_, reqwest::Error>((status, r.text().await?))
            }
            .await;
            in_flight.store(false, Ordering::SeqCst);
            match attempt {
                Ok((status, text)) if status.is_success() => {
                    break serde_json::from_str::<Value>(&text).unwrap();
                }
                Ok((status, text)) => {
                    assert!(
                        status.is_server_error(),
                        "a batch was refused: {status} {text}"
                    );
                    report.server_errors += 1;
                }
                Err(_) => {} // refused, reset or cut off: the server is down or went down
            }
            failed_attempts += 1;
            report.retries += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(ack["rejected"], 0, "every record is valid: {ack}");
        assert_eq!(
            ack["created"].as_i64().unwrap() + ack["duplicates"].as_i64().unwrap(),
            batch.len() as i64
        );
        if failed_attempts > 0 && ack["duplicates"].as_i64().unwrap() > replays {
            report.committed_unacknowledged += 1;
        }
        for r in batch {
            let id = r["external_id"].as_str().unwrap().to_string();
            if let std::collections::btree_map::Entry::Vacant(e) = report.sent.entry(id.clone()) {
                e.insert(r);
                sent_ids.push(id);
            }
            report.records_sent += 1;
        }
        report.batches += 1;
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_batches_survive_sigkill_exactly_once() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (database_url, pg) = support::fresh_database(dir.path()).await;
    let _drop_database = DropDatabase(pg);
    let http = reqwest::Client::new();
    let mut server = Server {
        env: Vec::new(),
        child: None,
        port: support::free_port(),
        dir: dir.path().to_path_buf(),
        database_url: database_url.clone(),
    };
    server.start();
    server.wait_ready(&http).await;

    // One approved merchant, through HTTP.
    let (merchant_id, key) = support::apply_and_approve(
        &http,
        &server.base(),
        &server.base(),
        ADMIN,
        json!({"kind": "brand", "legal_name": "杭州崩溃测试服饰有限公司",
            "display_name": "崩溃测试旗舰店", "uscc": support::uscc(4242),
            "contact_email": "crash@example.cn", "province": "浙江", "city": "杭州",
            "category": "女装", "brand_name": "崩溃", "trademark_number": "42424242"}),
    )
    .await;
    // The creators the client's records name.
    let creators: Vec<Value> = (0..8)
        .map(|c| json!({"id": format!("creator-{c}"), "nickname": format!("达人{c}")}))
        .collect();
    let registered = http
        .post(format!("{}/api/v1/creators", server.base()))
        .bearer_auth(ADMIN)
        .json(&json!({ "creators": creators }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 200);

    let seed = 20_261_125;
    let stop = Arc::new(AtomicBool::new(false));
    let in_flight = Arc::new(AtomicBool::new(false));
    let client = tokio::spawn(client(
        server.base(),
        key,
        seed,
        stop.clone(),
        in_flight.clone(),
    ));

    // The killer: a random 50–400 ms after the server is ready, SIGKILL, then start it again.
    let mut rng = StdRng::seed_from_u64(seed + 1);
    let (mut kills, mut mid_request) = (0, 0);
    while kills < KILLS {
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..=400))).await;
        if in_flight.load(Ordering::SeqCst) {
            mid_request += 1;
        }
        server.kill();
        kills += 1;
        server.start();
        server.wait_ready(&http).await;
    }
    stop.store(true, Ordering::SeqCst);
    let report = client.await.expect("the client finished");
    server.kill();

    println!(
        "{kills} kills ({mid_request} with a request in flight); {} batches, {} records sent, \
         {} distinct; {} retries, {} 5xx answers; {} batches committed but not acknowledged; {:?}",
        report.batches,
        report.records_sent,
        report.sent.len(),
        report.retries,
        report.server_errors,
        report.committed_unacknowledged,
        started.elapsed()
    );
    assert!(kills >= 10);
    assert!(
        mid_request >= 1,
        "at least one kill must land while a batch is in flight"
    );
    assert!(
        report.retries >= 1,
        "some batches were cut off and sent again"
    );

    // With the server stopped, read the database itself.
    let db = Database::connect(&database_url).await.unwrap();
    let rows = entity::gmv_record::Entity::find().all(&db).await.unwrap();
    assert!(rows.iter().all(|r| r.merchant_id == merchant_id));
    let stored: BTreeMap<&str, &entity::gmv_record::Model> =
        rows.iter().map(|r| (r.external_id.as_str(), r)).collect();
    assert_eq!(stored.len(), rows.len(), "an external_id is stored twice");
    let missing: Vec<&String> = report
        .sent
        .keys()
        .filter(|id| !stored.contains_key(id.as_str()))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    let unknown: Vec<&&str> = stored
        .keys()
        .filter(|id| !report.sent.contains_key(**id))
        .collect();
    assert!(unknown.is_empty(), "stored but never sent: {unknown:?}");
    assert_eq!(rows.len(), report.sent.len());
    for (id, sent) in &report.sent {
        let row = stored[id.as_str()];
        let at = DateTime::parse_from_rfc3339(sent["occurred_at"].as_str().unwrap()).unwrap();
        assert_eq!(
            (
                row.amount,
                row.channel.as_str(),
                row.occurred_at,
                row.product_id.as_deref(),
                row.creator_id.as_deref(),
                row.corrects.as_deref(),
            ),
            (
                sent["amount"].as_i64().unwrap(),
                sent["channel"].as_str().unwrap(),
                at.with_timezone(&Utc),
                sent["product_id"].as_str(),
                sent["creator_id"].as_str(),
                sent["corrects"].as_str(),
            ),
            "{id} is stored as sent"
        );
    }
    support::assert_rollups_match_records(&db).await;
    let total: i64 = report
        .sent
        .values()
        .map(|r| r["amount"].as_i64().unwrap())
        .sum();
    let rolled_up: i64 = entity::gmv_daily_merchant::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.amount)
        .sum();
    assert_eq!(rolled_up, total, "the roll-ups hold every amount once");
    db.close().await.ok();
}

/// Merchants the killed evaluation works through: enough pages that a kill lands mid-run.
const RUN_MERCHANTS: usize = 20_000;
/// Of them, every this many reach the ¥10M tier (an achievement and an email each).
const ACHIEVER_EVERY: usize = 50;

/// Approved merchants with live-stream GMV on 2026-03-10: ¥2,000万 for every
/// [`ACHIEVER_EVERY`]th (the ¥10M tier of the merchant programme: exactly one achievement and
/// one `tier_achieved` email each), ¥1万 for the others.
async fn seed_merchants(db: &sea_orm::DatabaseConnection, n: usize) {
    use entity::{enums, gmv_daily_merchant, merchant};
    use sea_orm::{QueryOrder, QuerySelect, Set};
    let now = Utc::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let rows = chunk.iter().map(|i| merchant::ActiveModel {
            kind: Set(enums::MerchantKind::Brand),
            status: Set(enums::MerchantStatus::Approved),
            legal_name: Set(format!("商户{i}有限公司")),
            display_name: Set(format!("商户{i}")),
            uscc: Set(format!("SEED{i:014}")),
            contact_email: Set(format!("m{i}@example.cn")),
            province: Set("浙江".into()),
            city: Set("杭州".into()),
            category: Set("女装".into()),
            brand_name: Set(Some(format!("品牌{i}"))),
            trademark_number: Set(Some(format!("{}", 40_000_000 + i))),
            industry_belt: Set(None),
            weekly_report: Set(false),
            locale: Set(enums::Locale::ZhCn),
            last_gmv_at: Set(Some(now)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        merchant::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await
            .unwrap();
    }
    let ids: Vec<i64> = merchant::Entity::find()
        .select_only()
        .column(merchant::Column::Id)
        .order_by_asc(merchant::Column::Id)
        .into_tuple()
        .all(db)
        .await
        .unwrap();
    for chunk in ids.chunks(500) {
        let rows = chunk.iter().map(|id| gmv_daily_merchant::ActiveModel {
            merchant_id: Set(*id),
            day: Set("2026-03-10".parse().unwrap()),
            channel: Set(enums::Channel::LiveStream),
            amount: Set(if (*id as usize).is_multiple_of(ACHIEVER_EVERY) {
                2_000 * 10_000 * 100
            } else {
                10_000 * 100
            }),
            records: Set(1),
        });
        gmv_daily_merchant::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await
            .unwrap();
    }
}

/// `POST /evaluations` answers at once and the run goes on in the background. Killing the
/// server in the middle of a large run leaves it `running` only until its lease runs out:
/// after the restart it becomes `failed` with a reason, and the next run finishes `ok` with
/// every achievement and email exactly once.
#[tokio::test]
async fn a_run_killed_mid_way_is_failed_and_the_next_run_is_whole() {
    use entity::{achievement, email_outbox};
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    let tmp = tempfile::tempdir().unwrap();
    let (database_url, pg) = support::fresh_database(tmp.path()).await;
    let _drop = DropDatabase(pg);
    let mut server = Server {
        env: Vec::new(),
        child: None,
        port: support::free_port(),
        dir: tmp.path().to_path_buf(),
        database_url: database_url.clone(),
    };
    server.start();
    let http = reqwest::Client::new();
    server.wait_ready(&http).await;
    let db = Database::connect(&database_url).await.unwrap();
    seed_merchants(&db, RUN_MERCHANTS).await;

    let as_of = "2026-03-20T04:00:00Z";
    let post = |http: &reqwest::Client, base: String| {
        http.post(format!("{base}/api/v1/evaluations"))
            .bearer_auth(ADMIN)
            .json(&json!({ "as_of": as_of }))
            .send()
    };
    let get = |http: &reqwest::Client, url: String| {
        let http = http.clone();
        async move {
            // A 503 (`database_busy`, `Retry-After`) asks the client to retry; so does this one.
            loop {
                let r = http.get(&url).bearer_auth(ADMIN).send().await.unwrap();
                if r.status().as_u16() != 503 {
                    return r.json::<Value>().await.unwrap();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };

    // Start a run and kill the server while it works.
    let r = post(&http, server.base()).await.unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let run: Value = r.json().await.unwrap();
    assert_eq!(run["status"], "running");
    tokio::time::sleep(Duration::from_millis(40)).await;
    let url = format!("{}{location}", server.base());
    let before_kill = get(&http, url.clone()).await;
    assert_eq!(
        before_kill["status"], "running",
        "the kill must land mid-run: {before_kill}"
    );
    server.kill();

    // After the restart the run is failed with a reason once its lease has run out.
    server.start();
    server.wait_ready(&http).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let failed = loop {
        let r = get(&http, url.clone()).await;
        if r["status"] != "running" {
            break r;
        }
        assert!(Instant::now() < deadline, "still running: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("lease")),
        "{failed}"
    );
    assert!(failed["finished_at"].is_string(), "{failed}");

    // The next run finishes, and the killed one doubled nothing.
    let r = post(&http, server.base()).await.unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let next = format!(
        "{}{}",
        server.base(),
        r.headers()["location"].to_str().unwrap()
    );
    // A liveness wait, not a speed check: on two cores beside the rest of the suite the
    // PostgreSQL run has taken over two minutes.
    let deadline = Instant::now() + Duration::from_secs(300);
    let done = loop {
        let r = get(&http, next.clone()).await;
        if r["status"] != "running" {
            break r;
        }
        assert!(Instant::now() < deadline, "still running: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        done["status"],
        "ok",
        "{done}\n{}",
        std::fs::read_to_string(tmp.path().join("server.log")).unwrap_or_default()
    );
    assert!(done["subjects_evaluated"].as_i64().unwrap() >= RUN_MERCHANTS as i64);
    let achievers = (RUN_MERCHANTS / ACHIEVER_EVERY) as u64;
    let achievements = achievement::Entity::find().count(&db).await.unwrap();
    assert_eq!(achievements, achievers, "one achievement per achiever");
    let emails = email_outbox::Entity::find()
        .filter(email_outbox::Column::Kind.eq(entity::enums::EmailKind::TierAchieved))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(emails, achievers, "one tier email per achiever");
    // Every run is settled: none is left running.
    let running = entity::job_run::Entity::find()
        .filter(entity::job_run::Column::Outcome.eq(entity::enums::JobOutcome::Running))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(running, 0);
}
