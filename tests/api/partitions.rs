//! Monthly partitions on PostgreSQL: the migration converts a database filled by the previous
//! schema and keeps every row (and converts back); the `partitions` job creates the months
//! ahead once per tick across replicas and moves a month the default partition collected into
//! a partition of its own; ingestion stays idempotent through `gmv_record_key`. On SQLite the
//! tables stay as they were.

use crate::support;

use chrono::{Duration, Months, Timelike, Utc};
use merchant_incentives::jobs::partitions::run_tick;
use migration::{Migrator, MigratorTrait, partitions};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use support::{As, TestApp, pg::scalar};

const RECORDS: &str = "/api/v1/gmv/records";
const TABLES: [&str; 4] = [
    "gmv_record",
    "gmv_daily_merchant",
    "gmv_daily_product",
    "gmv_daily_creator",
];

fn postgres() -> bool {
    let pg = std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"));
    if !pg {
        println!("skipped: partitions exist only on PostgreSQL (TEST_DATABASE_URL=postgres://…)");
    }
    pg
}

/// Every row of `table`, in one digest: the count, the amounts and an md5 of the rows' text.
async fn fingerprint(db: &DatabaseConnection, table: &str) -> (i64, i64, String) {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s, \
                 md5(COALESCE(string_agg(t::text, '|' ORDER BY t::text), '')) AS h FROM {table} AS t"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    (
        row.try_get("", "n").unwrap(),
        row.try_get("", "s").unwrap(),
        row.try_get("", "h").unwrap(),
    )
}

/// The partitions of `table`, by name.
async fn partitions_of(db: &DatabaseConnection, table: &str) -> Vec<String> {
    support::strings(
        db,
        &format!(
            "SELECT CAST(c.relname AS TEXT) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = to_regclass('{table}') ORDER BY 1"
        ),
    )
    .await
}

/// `name=fillfactor` (or `name=default`) of every table holding `table`'s rows: its
/// partitions, or the table itself when it is not partitioned.
async fn fill_factors(db: &DatabaseConnection, table: &str) -> Vec<String> {
    support::strings(
        db,
        &format!(
            "SELECT CAST(c.relname AS TEXT) || '=' || COALESCE((SELECT option_value \
             FROM pg_options_to_table(c.reloptions) WHERE option_name = 'fillfactor'), 'default') \
             FROM pg_class c WHERE c.relkind = 'r' AND (c.oid = to_regclass('{table}') \
             OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass('{table}'))) \
             ORDER BY 1"
        ),
    )
    .await
}

/// The roll-ups' pages leave room for updates on every table holding their rows (partitions
/// made by the migration, by the job, moved out of the default, or the plain table); the
/// records' pages, never updated, are filled.
async fn assert_fill_factors(db: &DatabaseConnection) {
    for t in TABLES {
        let factors = fill_factors(db, t).await;
        let want = match t {
            "gmv_record" => "default".to_string(),
            _ => partitions::ROLLUP_FILLFACTOR.to_string(),
        };
        assert!(!factors.is_empty(), "{t} holds its rows somewhere");
        for f in &factors {
            assert!(f.ends_with(&format!("={want}")), "{t}: {factors:?}");
        }
    }
}

/// The partition that holds the merchant's record `external_id`.
async fn home_of(db: &DatabaseConnection, merchant: i64, external_id: &str) -> String {
    support::strings(
        db,
        &format!(
            "SELECT CAST(tableoid::regclass AS TEXT) FROM gmv_record \
             WHERE merchant_id = {merchant} AND external_id = '{external_id}'"
        ),
    )
    .await
    .pop()
    .expect("the record is stored")
}

fn record(external_id: &str, occurred_at: &str, amount: i64) -> Value {
    json!({
        "external_id": external_id,
        "occurred_at": occurred_at,
        "amount": amount,
        "currency": "CNY",
        "channel": "live_stream",
        "product_id": "sku-1",
    })
}

async fn ingest(app: &TestApp, key: &str, records: Vec<Value>) -> Vec<String> {
    let body = app
        .post(
            RECORDS,
            &As::Merchant(key.into()),
            json!({ "records": records }),
        )
        .await
        .expect(200)
        .body;
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect()
}

/// The previous schema's database with records of 14 months (one of them years back), their
/// three roll-ups, and ids consumed up to past the rows.
async fn fill_previous_schema(db: &DatabaseConnection) {
    for sql in [
        "INSERT INTO gmv_record (merchant_id, external_id, occurred_at, local_day, amount, \
         currency, channel, product_id, creator_id, body_hash, created_at) \
         SELECT 1 + i % 9, 'old-' || i, TIMESTAMPTZ '2025-10-01 04:00:00+00' + i * INTERVAL '1 hour', \
         CAST(TIMESTAMPTZ '2025-10-01 04:00:00+00' + i * INTERVAL '1 hour' AS date), \
         1000 + i, 'CNY', CASE WHEN i % 2 = 0 THEN 'live_stream' ELSE 'short_video' END, \
         'sku-' || (i % 5), CASE WHEN i % 3 = 0 THEN 'creator-' || (i % 4) END, md5(CAST(i AS text)), \
         now() FROM generate_series(1, 9000) AS i",
        "INSERT INTO gmv_record (merchant_id, external_id, occurred_at, local_day, amount, \
         currency, channel, product_id, creator_id, body_hash, created_at) VALUES (2, 'ancient', \
         '2019-03-05T02:00:00Z', '2019-03-05', 777, 'CNY', 'live_stream', 'sku-0', 'creator-0', \
         md5('ancient'), now())",
        "INSERT INTO gmv_daily_merchant (merchant_id, day, channel, amount, records) \
         SELECT merchant_id, local_day, channel, SUM(amount), COUNT(*) FROM gmv_record GROUP BY 1, 2, 3",
        "INSERT INTO gmv_daily_product (merchant_id, product_id, day, channel, amount, records) \
         SELECT merchant_id, product_id, local_day, channel, SUM(amount), COUNT(*) FROM gmv_record \
         WHERE product_id IS NOT NULL GROUP BY 1, 2, 3, 4",
        "INSERT INTO gmv_daily_creator (creator_id, merchant_id, day, channel, amount, records) \
         SELECT creator_id, merchant_id, local_day, channel, SUM(amount), COUNT(*) FROM gmv_record \
         WHERE creator_id IS NOT NULL GROUP BY 1, 2, 3, 4",
        // Ids drawn and never stored (rolled-back inserts) must not be drawn again.
        "SELECT setval(pg_get_serial_sequence('gmv_record', 'id'), 20000)",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
}

#[tokio::test]
async fn the_migration_partitions_a_database_of_the_previous_schema_keeping_every_row() {
    if !postgres() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (url, pg) = support::fresh_database(tmp.path()).await;
    let before_keys = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261203_000012_record_keys")
        .expect("the record keys migration");
    let db = Database::connect(&url).await.unwrap();
    Migrator::up(&db, Some(before_keys as u32)).await.unwrap();
    assert!(!partitions::is_partitioned(&db, "gmv_record").await.unwrap());
    fill_previous_schema(&db).await;
    let mut before = Vec::new();
    for t in TABLES {
        before.push(fingerprint(&db, t).await);
    }
    assert_eq!(before[0].0, 9001);
    assert!(before[2].0 > 0 && before[3].0 > 0);
    db.close().await.unwrap();

    // The service applies the rest of the migrations at start.
    let app = support::spawn_app_at(tmp, url, pg, &[]).await;
    for (t, was) in TABLES.iter().zip(&before) {
        assert!(
            partitions::is_partitioned(&app.db, t).await.unwrap(),
            "{t} is partitioned"
        );
        assert_eq!(&fingerprint(&app.db, t).await, was, "{t} kept every row");
        let parts = partitions_of(&app.db, t).await;
        // October 2025 … October 2026 hold rows; so does March 2019.
        for month in ["p201903", "p202510", "p202610", "default"] {
            assert!(
                parts.contains(&format!("{t}_{month}")),
                "{t} has {month}: {parts:?}"
            );
        }
        assert_eq!(
            scalar(&app.db, &format!("SELECT COUNT(*) FROM {t}_default")).await,
            0,
            "every month that held rows has its own partition"
        );
    }
    assert_eq!(
        scalar(
            &app.db,
            "SELECT COUNT(*) FROM gmv_record r JOIN gmv_record_key k \
             USING (merchant_id, external_id, body_hash)"
        )
        .await,
        9001,
        "every record's key is claimed"
    );

    // Ingestion on the converted tables: new rows continue the id sequence, a retry is a
    // duplicate, the roll-ups still equal the records.
    let (merchant, key) = app.approved_merchant("brand").await;
    let batch = vec![
        record("after-1", "2026-11-20T03:00:00Z", 500),
        record("after-2", "2025-10-02T03:00:00Z", 700),
    ];
    assert_eq!(
        ingest(&app, &key, batch.clone()).await,
        ["created", "created"]
    );
    assert_eq!(ingest(&app, &key, batch).await, ["duplicate", "duplicate"]);
    assert_eq!(
        scalar(
            &app.db,
            &format!("SELECT MIN(id) FROM gmv_record WHERE merchant_id = {merchant} AND external_id LIKE 'after-%'")
        )
        .await,
        20001
    );
    assert_eq!(
        home_of(&app.db, merchant, "after-2").await,
        "gmv_record_p202510"
    );
    support::assert_rollups_match_records(&app.db).await;

    // The roll-ups' fill factor: taken back by its migration's way down (with every migration
    // after it), and given again to the partitions that exist by its way up.
    assert_fill_factors(&app.db).await;
    let migrations = Migrator::migrations();
    let fill = migrations
        .iter()
        .position(|m| m.name() == "m20261207_000020_rollup_fillfactor")
        .expect("the roll-up fill factor migration");
    Migrator::down(&app.db, Some((migrations.len() - fill) as u32))
        .await
        .unwrap();
    for t in TABLES {
        for f in fill_factors(&app.db, t).await {
            assert!(f.ends_with("=default"), "{t}: {f}");
        }
    }
    Migrator::up(&app.db, None).await.unwrap();
    assert_fill_factors(&app.db).await;

    // The migration's way back keeps every row too.
    let mut now = Vec::new();
    for t in TABLES {
        now.push(fingerprint(&app.db, t).await);
    }
    for t in &partitions::TABLES {
        partitions::unpartition(&app.db, t).await.unwrap();
    }
    for (t, was) in TABLES.iter().zip(&now) {
        assert!(!partitions::is_partitioned(&app.db, t).await.unwrap());
        assert_eq!(&fingerprint(&app.db, t).await, was, "{t} kept every row");
    }
    assert_eq!(
        scalar(
            &app.db,
            "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'ux_gmv_record_external'"
        )
        .await,
        1,
        "the unpartitioned table has its unique key back"
    );
    assert_fill_factors(&app.db).await;
}

#[tokio::test]
async fn the_partitions_job_creates_months_ahead_once_per_tick_and_empties_the_default() {
    if !postgres() {
        return;
    }
    let app = support::spawn_app().await;
    let lease = Duration::seconds(30);
    let tick = Utc::now().with_nanosecond(0).unwrap();
    let month = |n: u32| {
        let today = (tick + Duration::hours(8)).date_naive();
        partitions::month_of(today.checked_add_months(Months::new(n)).unwrap())
    };
    let name = |t: &str, n: u32| partitions::partition_name(t, month(n));
    // The migration made the current month and three ahead; the job is asked for five.
    for t in TABLES {
        let parts = partitions_of(&app.db, t).await;
        assert!(
            parts.contains(&name(t, 3)) && !parts.contains(&name(t, 4)),
            "{t}: {parts:?}"
        );
    }
    let run = run_tick(&app.db, tick, "replica-a", lease, 5)
        .await
        .unwrap()
        .expect("the first replica runs the tick");
    assert_eq!(run.outcome, entity::enums::JobOutcome::Ok);
    assert!(
        run_tick(&app.db, tick, "replica-b", lease, 5)
            .await
            .unwrap()
            .is_none(),
        "a second replica does not run the same tick"
    );
    for t in TABLES {
        let parts = partitions_of(&app.db, t).await;
        for n in 0..=5 {
            assert!(parts.contains(&name(t, n)), "{t}: {parts:?}");
        }
        assert!(!parts.contains(&name(t, 6)), "{t}: {parts:?}");
    }

    // A record of a month without a partition lands in the default partition; the next tick
    // gives that month a partition and moves the record and its roll-ups into it.
    let (merchant, key) = app.approved_merchant("brand").await;
    let recent = (tick - Duration::hours(1)).to_rfc3339();
    assert_eq!(
        ingest(
            &app,
            &key,
            vec![
                record("spring-2019", "2019-03-05T02:00:00Z", 777),
                record("recent", &recent, 888),
            ]
        )
        .await,
        ["created", "created"]
    );
    assert_eq!(
        home_of(&app.db, merchant, "spring-2019").await,
        "gmv_record_default"
    );
    let recent_day = (tick - Duration::hours(1) + Duration::hours(8)).date_naive();
    assert_eq!(
        home_of(&app.db, merchant, "recent").await,
        partitions::partition_name("gmv_record", recent_day)
    );
    let before = fingerprint(&app.db, "gmv_daily_product").await;
    run_tick(&app.db, tick + Duration::minutes(1), "replica-b", lease, 5)
        .await
        .unwrap()
        .expect("the next tick runs");
    assert_eq!(
        home_of(&app.db, merchant, "spring-2019").await,
        "gmv_record_p201903"
    );
    for t in TABLES {
        assert_eq!(
            scalar(&app.db, &format!("SELECT COUNT(*) FROM {t}_default")).await,
            0,
            "{t}'s default partition is empty"
        );
    }
    assert_eq!(fingerprint(&app.db, "gmv_daily_product").await, before);
    support::assert_rollups_match_records(&app.db).await;
    assert!(partitions_of(&app.db, "gmv_daily_product").await.len() > 7);
    assert_fill_factors(&app.db).await;
    // The moved month is a partition like any other: a late record lands in it.
    assert_eq!(
        ingest(
            &app,
            &key,
            vec![record("spring-2019-b", "2019-03-06T02:00:00Z", 1)]
        )
        .await,
        ["created"]
    );
    assert_eq!(
        home_of(&app.db, merchant, "spring-2019-b").await,
        "gmv_record_p201903"
    );
}

#[tokio::test]
async fn sqlite_keeps_its_tables_unpartitioned() {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        println!("skipped: this checks the SQLite schema");
        return;
    }
    let app = support::spawn_app().await;
    for t in TABLES {
        assert!(!partitions::is_partitioned(&app.db, t).await.unwrap());
    }
    let created = merchant_incentives::services::partitions::ensure_ahead(
        &app.db,
        "2031-07-01".parse().unwrap(),
        3,
    )
    .await
    .unwrap();
    assert!(created.is_empty());
    let tables = support::table_counts(&app.db).await;
    assert!(tables.contains_key("gmv_record"));
    assert!(!tables.contains_key("gmv_record_key"));
    assert!(!tables.keys().any(|t| t.contains("_p20")));
    // Idempotency still rests on gmv_record's own unique key.
    assert_eq!(
        scalar(
            &app.db,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'ux_gmv_record_external'"
        )
        .await,
        1
    );
}
