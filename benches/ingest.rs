//! Ingestion throughput: `POST /api/v1/gmv/records` (1,000 records per request, through HTTP,
//! with validation, idempotency checks and roll-ups) against raw bulk inserts of the same rows
//! into `gmv_record` of a fresh database (on PostgreSQL with their keys into `gmv_record_key`,
//! as the endpoint writes them): multi-row INSERTs (one transaction per 1,000 rows, no
//! roll-ups) and, on PostgreSQL, `COPY … FROM STDIN` (one transaction per 1,000 rows).
//! Runs on SQLite always and on PostgreSQL when `BENCH_DATABASE_URL` is set.
//!
//! A second row sends the same batches from 8 merchants at once. On PostgreSQL both endpoint
//! rows run again on a database whose GMV tables are not partitioned by month (the migration's
//! `down`), so partitioned and unpartitioned figures come from the same run.
//!
//! `cargo bench --bench ingest` (`BENCH_BATCHES=n` changes the number of batches, default 24:
//! three per merchant in the concurrency row).
//! Writes `bench-results/ingest.json`.

mod common;

use std::{collections::HashMap, time::Instant};

use chrono::{DateTime, Duration, Utc};
use merchant_incentives::{
    api::gmv::RawRecord,
    app::{self, AppState},
    config::Config,
    db,
    domain::{gmv::GmvRecord, uscc::synthetic},
};
use poem::listener::Acceptor;
use sea_orm::{
    ConnectionTrait, DbBackend, TransactionTrait,
    sea_query::{Alias, Query},
};
use serde_json::{Value, json};

const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";
const BATCH: usize = 1_000;
/// Merchants sending their batches at the same time in the concurrency row.
const CONCURRENT: usize = 8;

struct Run {
    backend: &'static str,
    rows: usize,
    endpoint: f64,
    /// The same batches sent by [`CONCURRENT`] merchants at once.
    concurrent: f64,
    raw: f64,
    /// PostgreSQL only: `COPY … FROM STDIN` of the same rows.
    copy: Option<f64>,
    /// PostgreSQL only: the endpoint and concurrent rows on unpartitioned GMV tables.
    unpartitioned: Option<(f64, f64)>,
}

/// The fresh databases one backend's run writes to.
struct Databases {
    endpoint: String,
    concurrent: String,
    raw: String,
    copy: Option<String>,
    /// The endpoint and concurrent rows' databases with unpartitioned GMV tables.
    unpartitioned: Option<(String, String)>,
}

fn main() {
    let batches: usize = common::setting("BENCH_BATCHES", 24);
    let machine = common::machine();
    let load_before = common::load_average();
    let rt = common::runtime();
    let data = generate(batches);
    let mut runs = Vec::new();
    rt.block_on(async {
        let tmp = tempfile::tempdir().expect("tempdir");
        let sqlite = |name: &str| format!("sqlite://{}/{name}.db?mode=rwc", tmp.path().display());
        let sqlite_dbs = Databases {
            endpoint: sqlite("endpoint"),
            concurrent: sqlite("concurrent"),
            raw: sqlite("raw"),
            copy: None,
            unpartitioned: None,
        };
        runs.push(run("sqlite", &data, &sqlite_dbs, tmp.path()).await);
        if let Some(base) = std::env::var("BENCH_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
        {
            let mut created = Vec::new();
            for _ in 0..6 {
                created.push(common::create_pg(&base).await.expect("BENCH_DATABASE_URL"));
            }
            let url = |i: usize| created[i].1.clone();
            let pg = Databases {
                endpoint: url(0),
                concurrent: url(1),
                raw: url(2),
                copy: Some(url(3)),
                unpartitioned: Some((url(4), url(5))),
            };
            runs.push(run("postgres", &data, &pg, tmp.path()).await);
            for (name, _) in &created {
                common::drop_pg(&base, name).await;
            }
        }
    });
    println!();
    println!(
        "| backend | rows | endpoint s | endpoint rec/s | {CONCURRENT} merchants rec/s | raw s | raw rec/s | endpoint/raw | COPY s | COPY rec/s | endpoint/COPY |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &runs {
        let copy = r.copy.map_or("— | — | —".to_string(), |c| {
            format!("{c:.2} | {:.0} | {:.2}", r.rows as f64 / c, c / r.endpoint)
        });
        println!(
            "| {} | {} | {:.2} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} | {copy} |",
            r.backend,
            r.rows,
            r.endpoint,
            r.rows as f64 / r.endpoint,
            r.rows as f64 / r.concurrent,
            r.raw,
            r.rows as f64 / r.raw,
            r.raw / r.endpoint,
        );
    }
    let layouts: Vec<&Run> = runs.iter().filter(|r| r.unpartitioned.is_some()).collect();
    if !layouts.is_empty() {
        println!();
        println!(
            "| backend | GMV tables | endpoint rec/s | {CONCURRENT} merchants rec/s | endpoint partitioned/unpartitioned |"
        );
        println!("|---|---|---:|---:|---:|");
        for r in layouts {
            let (one, concurrent) = r.unpartitioned.unwrap_or_default();
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.2} |",
                r.backend,
                common::Layout::Partitioned.as_str(),
                r.rows as f64 / r.endpoint,
                r.rows as f64 / r.concurrent,
                one / r.endpoint,
            );
            println!(
                "| {} | {} | {:.0} | {:.0} | |",
                r.backend,
                common::Layout::Unpartitioned.as_str(),
                r.rows as f64 / one,
                r.rows as f64 / concurrent,
            );
        }
    }
    common::print_footer(&machine, load_before);
    println!("Target (DESIGN.md): endpoint/raw at least 0.5.");
    common::write_results(
        "ingest",
        &machine,
        load_before,
        json!({ "batches": batches, "records_per_batch": BATCH, "target_endpoint_to_raw": 0.5 }),
        runs.iter()
            .map(|r| {
                json!({
                    "backend": r.backend,
                    "rows": r.rows,
                    "endpoint_secs": r.endpoint,
                    "endpoint_records_per_sec": r.rows as f64 / r.endpoint,
                    "concurrent_merchants": CONCURRENT,
                    "concurrent_secs": r.concurrent,
                    "concurrent_records_per_sec": r.rows as f64 / r.concurrent,
                    "raw_secs": r.raw,
                    "raw_records_per_sec": r.rows as f64 / r.raw,
                    "endpoint_to_raw": r.raw / r.endpoint,
                    "copy_secs": r.copy,
                    "copy_records_per_sec": r.copy.map(|c| r.rows as f64 / c),
                    "endpoint_to_copy": r.copy.map(|c| c / r.endpoint),
                    "unpartitioned_endpoint_secs": r.unpartitioned.map(|u| u.0),
                    "unpartitioned_endpoint_records_per_sec": r.unpartitioned.map(|u| r.rows as f64 / u.0),
                    "unpartitioned_concurrent_secs": r.unpartitioned.map(|u| u.1),
                    "unpartitioned_concurrent_records_per_sec": r.unpartitioned.map(|u| r.rows as f64 / u.1),
                    "endpoint_partitioned_to_unpartitioned": r.unpartitioned.map(|u| u.0 / r.endpoint),
                })
            })
            .collect(),
    );
}

/// `batches` request bodies of 1,000 records: the last week, four channels, 300 products, 60
/// creators, one refund (correcting a sale of the same batch) in ten.
fn generate(batches: usize) -> Vec<Vec<Value>> {
    let channels = ["live_stream", "short_video", "storefront", "other"];
    let now = Utc::now() - Duration::minutes(1);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..batches)
        .map(|b| {
            (0..BATCH)
                .map(|i| {
                    let n = next();
                    let at: DateTime<Utc> = now - Duration::seconds((n % (7 * 86_400)) as i64);
                    let refund = i > 0 && n % 10 == 0;
                    let mut r = json!({
                        "external_id": format!("order-{b:05}-{i:04}"),
                        "occurred_at": at.to_rfc3339(),
                        "amount": if refund { -((n % 5_000) as i64 + 1) } else { (n % 100_000) as i64 + 100 },
                        "currency": "CNY",
                        "channel": channels[(n >> 8) as usize % 4],
                        "product_id": format!("sku-{}", (n >> 16) % 300),
                    });
                    if (n >> 24) % 3 != 0 {
                        r["creator_id"] = json!(format!("creator-{}", (n >> 32) % 60));
                    }
                    if refund {
                        r["corrects"] = json!(format!("order-{b:05}-{:04}", (n >> 40) as usize % i));
                    }
                    r
                })
                .collect()
        })
        .collect()
}

async fn run(
    backend: &'static str,
    data: &[Vec<Value>],
    dbs: &Databases,
    tmp: &std::path::Path,
) -> Run {
    use common::Layout::{Partitioned, Unpartitioned};
    let rows = data.iter().map(Vec::len).sum();
    let both = |layout: common::Layout, one: &str, many: &str| {
        let (one, many) = (one.to_string(), many.to_string());
        async move {
            let label = match backend {
                "postgres" => format!("{backend} ({})", layout.as_str()),
                _ => backend.to_string(),
            };
            eprintln!("{label}: {rows} rows through the endpoint…");
            let single = endpoint(data, &one, tmp, 1, layout).await;
            eprintln!(
                "{label}: {rows} rows through the endpoint from {CONCURRENT} merchants at once…"
            );
            let dir = tmp.join(format!("{backend}-{}-concurrent", layout.as_str()));
            std::fs::create_dir_all(&dir).expect("a folder for the concurrent run");
            (
                single,
                endpoint(data, &many, &dir, CONCURRENT, layout).await,
            )
        }
    };
    let (one, concurrent) = both(Partitioned, &dbs.endpoint, &dbs.concurrent).await;
    let unpartitioned = match &dbs.unpartitioned {
        Some((one, many)) => Some(both(Unpartitioned, one, many).await),
        None => None,
    };
    eprintln!("{backend}: {rows} rows by raw insert…");
    let raw = raw(data, &dbs.raw).await;
    let copy = match &dbs.copy {
        Some(url) => {
            eprintln!("{backend}: {rows} rows by COPY…");
            Some(copy(data, url).await)
        }
        None => None,
    };
    Run {
        backend,
        rows,
        endpoint: one,
        concurrent,
        raw,
        copy,
        unpartitioned,
    }
}

/// A freshly migrated database laid out as `layout` for the bench's days (the last week).
async fn migrated(url: &str, layout: common::Layout) -> sea_orm::DatabaseConnection {
    let database = db::connect(url).await.expect("connect");
    db::migrate(&database).await.expect("migrate");
    let today = Utc::now().date_naive();
    layout
        .apply(
            &database,
            today - Duration::days(8),
            today + Duration::days(1),
        )
        .await
        .expect("the GMV tables laid out");
    database
}

/// Seconds to post every batch through HTTP to the real app.
async fn endpoint(
    data: &[Vec<Value>],
    url: &str,
    tmp: &std::path::Path,
    merchants: usize,
    layout: common::Layout,
) -> f64 {
    let env: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), url.to_string()),
        ("ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
        ("LISTEN".into(), "127.0.0.1:0".into()),
        ("MAIL_DIR".into(), tmp.join("outbox").display().to_string()),
        ("SCHEDULER".into(), "off".into()),
        ("APPLY_RATE_PER_MINUTE".into(), "100000".into()),
        ("KEY_RATE_PER_SECOND".into(), "100000".into()),
    ]);
    let config = Config::from_lookup(&move |k| env.get(k).cloned()).expect("configuration");
    let database = migrated(&config.database_url, layout).await;
    let state = AppState::new(database.clone(), config);
    let acceptor = app::bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind");
    let addr = *acceptor.local_addr()[0].as_socket_addr().expect("tcp");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve_on(acceptor, state, async {
        let _ = rx.await;
    }));
    let base = format!("http://{addr}/api/v1");
    let client = reqwest::Client::new();
    // The creators the records name are registered, as ingestion requires.
    let creators: Vec<serde_json::Value> = (0..60)
        .map(|c| json!({"id": format!("creator-{c}"), "nickname": format!("压测达人{c}")}))
        .collect();
    let registered = client
        .post(format!("{base}/creators"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "creators": creators }))
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success());

    let mut keys = Vec::with_capacity(merchants);
    for n in 0..merchants {
        let applied: Value = client
            .post(format!("{base}/merchants"))
            .json(&json!({
                "kind": "industry_belt", "legal_name": format!("义乌市压测{n}号日用品有限公司"),
                "display_name": format!("压测{n}号店"), "uscc": synthetic("330782", n as u64),
                "contact_email": "bench@example.cn",
                "province": "浙江", "city": "金华", "category": "日用百货",
                "industry_belt": "义乌小商品",
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = applied["merchant"]["id"].as_i64().expect("applied");
        keys.push(applied["api_key"]["key"].as_str().unwrap().to_string());
        let approved = client
            .post(format!("{base}/merchants/{id}/decisions"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"action": "approve", "reason": ""}))
            .send()
            .await
            .unwrap();
        assert!(approved.status().is_success());
    }

    // Batch i is merchant (i mod merchants)'s; each merchant sends its batches one after the
    // other, all merchants at once.
    let mut per_merchant: Vec<Vec<Vec<u8>>> = vec![Vec::new(); merchants];
    for (i, records) in data.iter().enumerate() {
        per_merchant[i % merchants]
            .push(serde_json::to_vec(&json!({ "records": records })).unwrap());
    }
    let started = Instant::now();
    let senders: Vec<_> = per_merchant
        .into_iter()
        .zip(keys)
        .map(|(bodies, key)| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                for b in bodies {
                    let resp = client
                        .post(format!("{base}/gmv/records"))
                        .header("X-API-Key", &key)
                        .header("content-type", "application/json")
                        .body(b)
                        .send()
                        .await
                        .unwrap();
                    assert!(resp.status().is_success(), "{}", resp.status());
                    let out: Value = resp.json().await.unwrap();
                    assert_eq!(out["created"], BATCH, "{}", out["results"]);
                }
            })
        })
        .collect();
    for s in senders {
        s.await.expect("a sender panicked");
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = tx.send(());
    let _ = server.await;
    database.close().await.ok();
    secs
}

/// The request bodies' records as the GMV service reads them.
fn parsed(data: &[Vec<Value>], now: DateTime<Utc>) -> Vec<Vec<GmvRecord>> {
    data.iter()
        .map(|records| {
            records
                .iter()
                .map(|r| {
                    let item = RawRecord(r.clone()).read(0).expect("no null");
                    GmvRecord::parse(item.input.expect("well-typed"), "r", now).expect("valid")
                })
                .collect()
        })
        .collect()
}

/// The columns both baselines write.
const COLUMNS: [&str; 12] = [
    "merchant_id",
    "external_id",
    "occurred_at",
    "local_day",
    "amount",
    "currency",
    "channel",
    "product_id",
    "creator_id",
    "corrects",
    "body_hash",
    "created_at",
];

/// The key columns of `gmv_record_key` (PostgreSQL), which both baselines write too.
const KEY_COLUMNS: [&str; 3] = ["merchant_id", "external_id", "body_hash"];

/// Seconds to `COPY … FROM STDIN` (CSV) the same rows into `gmv_record` of a fresh PostgreSQL
/// database, indexes and all, and their keys into `gmv_record_key`: one transaction per 1,000
/// rows, like the endpoint's requests. PostgreSQL's fastest way in, and so the strongest
/// baseline.
async fn copy(data: &[Vec<Value>], url: &str) -> f64 {
    let database = migrated(url, common::Layout::Partitioned).await;
    let now = Utc::now();
    let batches = parsed(data, now);
    let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let optional = |s: &Option<String>| s.as_deref().map(quoted).unwrap_or_default();
    // Each batch's rows, and their keys: on PostgreSQL a record's (merchant_id, external_id)
    // is held by `gmv_record_key`, the partitioned table cannot enforce it.
    let csv: Vec<(Vec<u8>, Vec<u8>)> = batches
        .iter()
        .map(|batch| {
            let (mut rows, mut keys) = (String::new(), String::new());
            for r in batch {
                rows.push_str(&format!(
                    "1,{},{},{},{},CNY,{},{},{},{},{},{}\n",
                    quoted(&r.external_id),
                    r.occurred_at.to_rfc3339(),
                    r.local_day,
                    r.amount,
                    r.channel.as_str(),
                    optional(&r.product_id),
                    optional(&r.creator_id),
                    optional(&r.corrects),
                    quoted(&r.body_hash),
                    now.to_rfc3339(),
                ));
                keys.push_str(&format!(
                    "1,{},{}\n",
                    quoted(&r.external_id),
                    quoted(&r.body_hash)
                ));
            }
            (rows.into_bytes(), keys.into_bytes())
        })
        .collect();
    let statement = format!(
        "COPY gmv_record ({}) FROM STDIN (FORMAT csv)",
        COLUMNS.join(", ")
    );
    let keys = format!(
        "COPY gmv_record_key ({}) FROM STDIN (FORMAT csv)",
        KEY_COLUMNS.join(", ")
    );
    let pool = database.get_postgres_connection_pool().clone();
    let started = Instant::now();
    for (rows, batch_keys) in &csv {
        let mut conn = pool.acquire().await.expect("connection");
        let mut tx = sea_orm::sqlx::Connection::begin(&mut *conn)
            .await
            .expect("begin");
        for (statement, data) in [(&statement, rows), (&keys, batch_keys)] {
            let mut copy = tx.copy_in_raw(statement).await.expect("COPY");
            copy.send(data.as_slice()).await.expect("COPY data");
            copy.finish().await.expect("COPY finished");
        }
        tx.commit().await.expect("commit");
    }
    let secs = started.elapsed().as_secs_f64();
    database.close().await.ok();
    secs
}

/// Seconds to insert the same rows straight into `gmv_record` (and, on PostgreSQL, their keys
/// into `gmv_record_key`): one transaction and multi-row INSERT statements per 1,000 rows, no
/// checks, no roll-ups.
async fn raw(data: &[Vec<Value>], url: &str) -> f64 {
    let database = migrated(url, common::Layout::Partitioned).await;
    let now = Utc::now();
    let batches = parsed(data, now);
    let columns = COLUMNS;
    let keyed = db::is_postgres(&database);
    let per_statement = match database.get_database_backend() {
        DbBackend::Postgres => 65_535 / columns.len(),
        _ => 32_766 / columns.len(),
    };
    let started = Instant::now();
    for batch in &batches {
        let txn = database.begin().await.unwrap();
        for chunk in batch.chunks(per_statement) {
            let mut q = Query::insert();
            q.into_table(Alias::new("gmv_record"))
                .columns(columns.map(Alias::new));
            for r in chunk {
                q.values_panic([
                    1i64.into(),
                    r.external_id.as_str().into(),
                    r.occurred_at.into(),
                    r.local_day.into(),
                    r.amount.into(),
                    "CNY".into(),
                    r.channel.as_str().into(),
                    r.product_id.clone().into(),
                    r.creator_id.clone().into(),
                    r.corrects.clone().into(),
                    r.body_hash.as_str().into(),
                    now.into(),
                ]);
            }
            txn.execute(&q).await.unwrap();
            if keyed {
                let mut k = Query::insert();
                k.into_table(Alias::new("gmv_record_key"))
                    .columns(KEY_COLUMNS.map(Alias::new));
                for r in chunk {
                    k.values_panic([
                        1i64.into(),
                        r.external_id.as_str().into(),
                        r.body_hash.as_str().into(),
                    ]);
                }
                txn.execute(&k).await.unwrap();
            }
        }
        txn.commit().await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    database.close().await.ok();
    secs
}
