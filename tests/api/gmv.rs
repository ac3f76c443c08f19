//! GMV recording: per-item validation, idempotency under concurrency, corrections, roll-ups
//! and summaries on Asia/Shanghai local days.

use crate::support;

use chrono::{Duration, Utc};
use proptest::prelude::*;
use reqwest::Method;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use support::{As, TestApp, spawn_app};

const RECORDS: &str = "/api/v1/gmv/records";

fn record(external_id: &str, occurred_at: &str, amount: i64) -> Value {
    json!({
        "external_id": external_id,
        "occurred_at": occurred_at,
        "amount": amount,
        "currency": "CNY",
        "channel": "live_stream",
    })
}

fn statuses(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| match r["error"]["code"].as_str() {
            Some(code) => format!("{}:{code}", r["status"].as_str().unwrap()),
            None => r["status"].as_str().unwrap().to_string(),
        })
        .collect()
}

/// A single integer answered by `sql` (wrapped in a BIGINT cast: SUM is NUMERIC on PostgreSQL).
async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let sql = format!("SELECT CAST(({sql}) AS BIGINT)");
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn record_rows(app: &TestApp) -> i64 {
    count(&app.db, "SELECT COUNT(*) FROM gmv_record").await
}

#[tokio::test]
async fn items_are_checked_one_by_one_and_replays_write_nothing() {
    let app = spawn_app().await;
    let (_, key) = app.approved_merchant("brand").await;
    let me = As::Merchant(key);
    let mut bad_type = record("o-3", "2026-03-01T12:00:00Z", 100);
    bad_type["amount"] = json!("100 yuan");
    let batch = json!({"records": [
        record("o-1", "2026-03-01T20:15:00+08:00", 12_900),
        record("o-2", "2026-03-01T12:00:00Z", 0),
        bad_type,
        record("o-4", "2026-03-01T12:00:00Z", 500),
    ]});
    let r = app.post(RECORDS, &me, batch.clone()).await.expect(200);
    assert_eq!(
        statuses(&r.body),
        [
            "created",
            "rejected:amount_zero",
            "rejected:amount_invalid",
            "created"
        ]
    );
    assert_eq!(r.body["results"][1]["error"]["field"], "records.1.amount");
    assert_eq!(r.body["results"][2]["external_id"], "o-3");
    assert_eq!(
        (
            &r.body["created"],
            &r.body["duplicates"],
            &r.body["rejected"]
        ),
        (&json!(2), &json!(0), &json!(2))
    );
    assert_eq!(record_rows(&app).await, 2);

    let again = app.post(RECORDS, &me, batch).await.expect(200);
    assert_eq!(
        statuses(&again.body),
        [
            "duplicate",
            "rejected:amount_zero",
            "rejected:amount_invalid",
            "duplicate"
        ]
    );
    assert_eq!(record_rows(&app).await, 2);
    assert_eq!(
        count(&app.db, "SELECT SUM(records) FROM gmv_daily_merchant").await,
        2,
        "a replay adds nothing to the roll-ups"
    );

    // The same instant written with another offset is the same body; another amount is not.
    let r = app
        .post(
            RECORDS,
            &me,
            json!({"records": [
                record("o-1", "2026-03-01T12:15:00Z", 12_900),
                record("o-4", "2026-03-01T12:00:00Z", 501),
            ]}),
        )
        .await
        .expect(200);
    assert_eq!(
        statuses(&r.body),
        ["duplicate", "rejected:external_id_conflict"]
    );
    assert_eq!(
        r.body["results"][1]["error"]["field"],
        "records.1.external_id"
    );
    assert_eq!(record_rows(&app).await, 2);
}

#[tokio::test]
async fn a_repeated_id_within_a_batch_is_decided_by_its_first_use() {
    let app = spawn_app().await;
    let (_, key) = app.approved_merchant("industry_belt").await;
    let r = app
        .post(
            RECORDS,
            &As::Merchant(key),
            json!({"records": [
                record("x", "2026-03-01T12:00:00Z", 100),
                record("x", "2026-03-01T12:00:00Z", 100),
                record("x", "2026-03-01T12:00:00Z", 999),
                record("y", "2026-03-01T12:00:00Z", 0),
                record("y", "2026-03-01T12:00:00Z", 7),
            ]}),
        )
        .await
        .expect(200);
    assert_eq!(
        statuses(&r.body),
        [
            "created",
            "duplicate",
            "rejected:external_id_conflict",
            "rejected:amount_zero",
            "created"
        ],
        "an invalid first use claims nothing"
    );
    assert_eq!(record_rows(&app).await, 2);
    assert_eq!(
        count(&app.db, "SELECT SUM(amount) FROM gmv_daily_merchant").await,
        107
    );
}

#[tokio::test]
async fn refunds_correct_known_records_only() {
    let app = spawn_app().await;
    let (_, key) = app.approved_merchant("brand").await;
    let me = As::Merchant(key);
    app.post(
        RECORDS,
        &me,
        json!({"records": [record("sale-1", "2026-03-01T12:00:00Z", 10_000)]}),
    )
    .await
    .expect(200);
    let mut refund_stored = record("refund-1", "2026-03-02T12:00:00Z", -4_000);
    refund_stored["corrects"] = json!("sale-1");
    let mut refund_same_batch = record("refund-2", "2026-03-02T12:00:00Z", -1_000);
    refund_same_batch["corrects"] = json!("sale-2");
    let mut refund_unknown = record("refund-3", "2026-03-02T12:00:00Z", -1_000);
    refund_unknown["corrects"] = json!("no-such-sale");
    let mut correcting_sale = record("sale-3", "2026-03-02T12:00:00Z", 1_000);
    correcting_sale["corrects"] = json!("sale-1");
    let plain_refund = record("refund-4", "2026-03-02T12:00:00Z", -500);
    let r = app
        .post(
            RECORDS,
            &me,
            json!({"records": [
                refund_stored,
                record("sale-2", "2026-03-02T11:00:00Z", 3_000),
                refund_same_batch,
                refund_unknown,
                correcting_sale,
                plain_refund,
            ]}),
        )
        .await
        .expect(200);
    assert_eq!(
        statuses(&r.body),
        [
            "created",
            "created",
            "created",
            "rejected:corrects_unknown",
            "rejected:corrects_on_sale",
            "created"
        ]
    );
    assert_eq!(r.body["results"][3]["error"]["field"], "records.3.corrects");
    let stored = app
        .get(&format!("{RECORDS}?limit=10"), &me)
        .await
        .expect(200);
    let refund = stored.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["external_id"] == "refund-1")
        .unwrap()
        .clone();
    assert_eq!(refund["corrects"], "sale-1");
    assert_eq!(refund["amount"], -4_000);
    assert_eq!(
        count(&app.db, "SELECT SUM(amount) FROM gmv_daily_merchant").await,
        10_000 - 4_000 + 3_000 - 1_000 - 500
    );
}

#[tokio::test]
async fn only_approved_merchants_and_admins_report() {
    let app = spawn_app().await;
    let (id, key) = app.approved_merchant("brand").await;
    let (other, _) = app.approved_merchant("brand").await;
    let (pending, pending_key) = app.register_merchant("brand").await;
    let batch = |merchant_id: Option<i64>| {
        let mut b = json!({"records": [record("o-1", "2026-03-01T12:00:00Z", 100)]});
        if let Some(m) = merchant_id {
            b["merchant_id"] = json!(m);
        }
        b
    };
    app.post(RECORDS, &As::Merchant(pending_key), batch(None))
        .await
        .expect_error(403, "merchant_not_approved");
    app.post(RECORDS, &As::Merchant(key.clone()), batch(Some(other)))
        .await
        .expect_error(404, "not_found");
    app.post(RECORDS, &As::Admin, batch(None))
        .await
        .expect_error(422, "required");
    app.post(RECORDS, &As::Admin, batch(Some(999_999)))
        .await
        .expect_error(404, "not_found");
    app.post(RECORDS, &As::Admin, batch(Some(pending)))
        .await
        .expect_error(403, "merchant_not_approved");
    for role in ["reviewer", "analyst"] {
        let token = app.staff_token(role).await;
        app.post(RECORDS, &As::Staff(token), batch(Some(id)))
            .await
            .expect_error(403, "insufficient_role");
    }
    app.post(RECORDS, &As::Anonymous, batch(None))
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(record_rows(&app).await, 0);

    let r = app
        .post(RECORDS, &As::Admin, batch(Some(id)))
        .await
        .expect(200);
    assert_eq!(r.body["created"], 1);
    let r = app
        .post(RECORDS, &As::Merchant(key.clone()), batch(Some(id)))
        .await
        .expect(200);
    assert_eq!(
        r.body["duplicates"], 1,
        "the admin wrote it for this merchant"
    );

    // Freshness is shown on the merchant; suspension stops reporting.
    let m = app
        .get(&format!("/api/v1/merchants/{id}"), &As::Admin)
        .await
        .expect(200);
    assert!(m.body["last_gmv_at"].is_string(), "{}", m.text);
    let m = app
        .get(&format!("/api/v1/merchants/{other}"), &As::Admin)
        .await
        .expect(200);
    assert!(m.body["last_gmv_at"].is_null());
    app.decide(id, "suspend", "核查异常订单").await.expect(200);
    app.post(RECORDS, &As::Admin, batch(Some(id)))
        .await
        .expect_error(403, "merchant_not_approved");
}

#[tokio::test]
async fn oversized_and_malformed_batches_are_refused_whole() {
    let app = spawn_app().await;
    let (_, key) = app.approved_merchant("brand").await;
    let me = As::Merchant(key);
    let records: Vec<Value> = (0..1001)
        .map(|i| record(&format!("o-{i}"), "2026-03-01T12:00:00Z", 100))
        .collect();
    app.post(RECORDS, &me, json!({ "records": records }))
        .await
        .expect_error(413, "batch_too_large");
    app.raw(
        Method::POST,
        RECORDS,
        &me,
        "application/json",
        b"{\"records\": [".to_vec(),
    )
    .await
    .expect_error(400, "bad_request");
    app.post(RECORDS, &me, json!({"records": "none"}))
        .await
        .expect_error(400, "bad_request");
    assert_eq!(record_rows(&app).await, 0);

    let records: Vec<Value> = (0..1000)
        .map(|i| record(&format!("o-{i}"), "2026-03-01T12:00:00Z", 100))
        .collect();
    let r = app
        .post(RECORDS, &me, json!({ "records": records }))
        .await
        .expect(200);
    assert_eq!(r.body["created"], 1000);
    assert_eq!(record_rows(&app).await, 1000);
}

#[tokio::test]
async fn concurrent_requests_store_an_external_id_once() {
    let app = spawn_app().await;
    let (id, key) = app.approved_merchant("brand").await;
    let me = As::Merchant(key);
    let batch = json!({"records": [
        record("race-1", "2026-03-01T12:00:00Z", 700),
        record("race-2", "2026-03-01T13:00:00Z", 300),
    ]});
    let requests = (0..16).map(|_| app.post(RECORDS, &me, batch.clone()));
    let responses = futures_util::future::join_all(requests).await;
    let (mut created, mut duplicates) = (0, 0);
    for r in responses {
        let r = r.expect(200);
        let s = statuses(&r.body);
        assert_eq!(s[0], s[1], "a batch is decided as a whole: {s:?}");
        match s[0].as_str() {
            "created" => created += 1,
            "duplicate" => duplicates += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, duplicates), (1, 15));
    assert_eq!(record_rows(&app).await, 2);
    assert_eq!(
        count(
            &app.db,
            &format!("SELECT SUM(amount) FROM gmv_daily_merchant WHERE merchant_id = {id}")
        )
        .await,
        1_000
    );

    // Distinct batches from many merchants at once all succeed (SQLite serialises the writes).
    let mut keys = Vec::new();
    for _ in 0..4 {
        keys.push(app.approved_merchant("industry_belt").await.1);
    }
    let requests = keys.iter().enumerate().flat_map(|(m, k)| {
        (0..4).map(move |b| {
            let records: Vec<Value> = (0..100)
                .map(|i| record(&format!("m{m}-b{b}-{i}"), "2026-03-02T12:00:00Z", 1))
                .collect();
            (k.clone(), json!({ "records": records }))
        })
    });
    let app_ref = &app;
    let responses = futures_util::future::join_all(
        requests
            .collect::<Vec<_>>()
            .into_iter()
            .map(|(k, body)| async move { app_ref.post(RECORDS, &As::Merchant(k), body).await }),
    )
    .await;
    for r in responses {
        assert_eq!(r.expect(200).body["created"], 100);
    }
    assert_eq!(record_rows(&app).await, 2 + 1600);
}

#[tokio::test]
async fn summaries_use_shanghai_local_days_from_the_rollups() {
    let app = spawn_app().await;
    let (id, key) = app.approved_merchant("brand").await;
    let (other, other_key) = app.approved_merchant("brand").await;
    let me = As::Merchant(key);
    app.register_creators(&["creator-a"]).await;
    let mut late = record("late", "2026-03-01T15:59:59Z", 1_000);
    late["product_id"] = json!("sku-1");
    late["creator_id"] = json!("creator-a");
    let mut midnight = record("midnight", "2026-03-01T16:00:00Z", 2_000);
    midnight["channel"] = json!("short_video");
    midnight["product_id"] = json!("sku-2");
    let mut refund = record("refund", "2026-03-09T02:00:00Z", -300);
    refund["corrects"] = json!("late");
    refund["product_id"] = json!("sku-1");
    refund["creator_id"] = json!("creator-a");
    let april = record("april", "2026-04-01T00:00:00+08:00", 50);
    app.post(
        RECORDS,
        &me,
        json!({"records": [late, midnight, refund, april]}),
    )
    .await
    .expect(200);
    let summary = |query: String| {
        let me = me.clone();
        let app = &app;
        async move {
            app.get(&format!("/api/v1/merchants/{id}/gmv/summary?{query}"), &me)
                .await
                .expect(200)
                .body
        }
    };
    let buckets = |b: &Value| -> Vec<(String, Value, i64, i64)> {
        b["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["period_start"].as_str().unwrap().to_string(),
                    x["group"].clone(),
                    x["amount"].as_i64().unwrap(),
                    x["records"].as_i64().unwrap(),
                )
            })
            .collect()
    };

    let day = summary("from=2026-03-01&to=2026-03-02".into()).await;
    assert_eq!(
        buckets(&day),
        [
            ("2026-03-01".into(), Value::Null, 1_000, 1),
            ("2026-03-02".into(), Value::Null, 2_000, 1),
        ],
        "15:59:59Z is still 1 March in Shanghai, 16:00Z is 2 March"
    );
    assert_eq!((&day["total"], &day["records"]), (&json!(3_000), &json!(2)));

    let week = summary("from=2026-03-01&to=2026-03-31&granularity=week".into()).await;
    assert_eq!(
        buckets(&week),
        [
            ("2026-02-23".into(), Value::Null, 1_000, 1),
            ("2026-03-02".into(), Value::Null, 2_000, 1),
            ("2026-03-09".into(), Value::Null, -300, 1),
        ],
        "weeks start on Monday; 1 March 2026 is a Sunday"
    );
    let month = summary("from=2026-03-01&to=2026-04-01&granularity=month".into()).await;
    assert_eq!(
        buckets(&month),
        [
            ("2026-03-01".into(), Value::Null, 2_700, 3),
            ("2026-04-01".into(), Value::Null, 50, 1),
        ],
        "`to` is inclusive; 2026-04-01T00:00+08:00 is on 1 April"
    );
    let by_channel =
        summary("from=2026-03-01&to=2026-03-31&granularity=month&group_by=channel".into()).await;
    assert_eq!(
        buckets(&by_channel),
        [
            ("2026-03-01".into(), json!("live_stream"), 700, 2),
            ("2026-03-01".into(), json!("short_video"), 2_000, 1),
        ]
    );
    let by_product =
        summary("from=2026-03-01&to=2026-03-31&granularity=month&group_by=product".into()).await;
    assert_eq!(
        buckets(&by_product),
        [
            ("2026-03-01".into(), json!("sku-1"), 700, 2),
            ("2026-03-01".into(), json!("sku-2"), 2_000, 1),
        ]
    );
    let by_creator =
        summary("from=2026-03-01&to=2026-03-31&granularity=month&group_by=creator".into()).await;
    assert_eq!(
        buckets(&by_creator),
        [("2026-03-01".into(), json!("creator-a"), 700, 2)]
    );
    let default = summary(String::new()).await;
    assert_eq!(default["total"], 0, "the last 30 days hold nothing");

    // Access and parameters.
    app.get(
        &format!("/api/v1/merchants/{id}/gmv/summary"),
        &As::Merchant(other_key.clone()),
    )
    .await
    .expect_error(404, "not_found");
    let analyst = app.staff_token("analyst").await;
    let staff_view = app
        .get(
            &format!("/api/v1/merchants/{id}/gmv/summary?from=2026-03-01&to=2026-03-02"),
            &As::Staff(analyst),
        )
        .await
        .expect(200);
    assert_eq!(staff_view.body["total"], 3_000);
    app.get("/api/v1/merchants/999999/gmv/summary", &As::Admin)
        .await
        .expect_error(404, "not_found");
    let base = format!("/api/v1/merchants/{other}/gmv/summary");
    app.get(&format!("{base}?from=2026-03-02&to=2026-03-01"), &As::Admin)
        .await
        .expect_error(422, "range_invalid");
    app.get(&format!("{base}?from=2020-01-01&to=2026-03-01"), &As::Admin)
        .await
        .expect_error(422, "range_too_long");
    app.get(&format!("{base}?granularity=year"), &As::Admin)
        .await
        .expect_error(400, "bad_request");
    app.get(&format!("{base}?from=1.3.2026"), &As::Admin)
        .await
        .expect_error(400, "bad_request");
}

#[tokio::test]
async fn records_are_listed_with_filters_and_cursors() {
    let app = spawn_app().await;
    let (a, key_a) = app.approved_merchant("brand").await;
    let (b, key_b) = app.approved_merchant("brand").await;
    app.register_creators(&["creator-odd"]).await;
    let mut records = Vec::new();
    for i in 0..5 {
        let mut r = record(
            &format!("a-{i}"),
            &format!("2026-03-0{}T10:00:00Z", i + 1),
            100 + i,
        );
        if i % 2 == 0 {
            r["channel"] = json!("storefront");
            r["product_id"] = json!("sku-even");
        } else {
            r["creator_id"] = json!("creator-odd");
        }
        records.push(r);
    }
    app.post(
        RECORDS,
        &As::Merchant(key_a.clone()),
        json!({ "records": records }),
    )
    .await
    .expect(200);
    app.post(
        RECORDS,
        &As::Merchant(key_b.clone()),
        json!({"records": [record("b-0", "2026-03-01T10:00:00Z", 9)]}),
    )
    .await
    .expect(200);

    let ids = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["external_id"].as_str().unwrap().to_string())
            .collect()
    };
    let mine = app
        .get(RECORDS, &As::Merchant(key_b.clone()))
        .await
        .expect(200);
    assert_eq!(ids(&mine.body), ["b-0"]);
    let item = &mine.body["items"][0];
    assert_eq!(item["merchant_id"], b);
    assert_eq!(item["local_day"], "2026-03-01");
    assert_eq!(item["currency"], "CNY");
    assert!(item["id"].is_i64() && item["created_at"].is_string());
    app.get(&format!("{RECORDS}?merchant_id={a}"), &As::Merchant(key_b))
        .await
        .expect_error(404, "not_found");

    let analyst = As::Staff(app.staff_token("analyst").await);
    assert_eq!(
        ids(&app.get(RECORDS, &analyst).await.expect(200).body).len(),
        6
    );
    let only_a = app
        .get(&format!("{RECORDS}?merchant_id={a}"), &analyst)
        .await
        .expect(200);
    assert_eq!(ids(&only_a.body), ["a-0", "a-1", "a-2", "a-3", "a-4"]);
    let range = app
        .get(
            &format!("{RECORDS}?merchant_id={a}&from=2026-03-02T10:00:00Z&to=2026-03-04T10:00:00Z"),
            &analyst,
        )
        .await
        .expect(200);
    assert_eq!(ids(&range.body), ["a-1", "a-2"], "[from, to) is half-open");
    let storefront = app
        .get(
            &format!("{RECORDS}?channel=storefront"),
            &As::Merchant(key_a.clone()),
        )
        .await
        .expect(200);
    assert_eq!(ids(&storefront.body), ["a-0", "a-2", "a-4"]);
    let product = app
        .get(&format!("{RECORDS}?product_id=sku-even"), &analyst)
        .await
        .expect(200);
    assert_eq!(ids(&product.body), ["a-0", "a-2", "a-4"]);
    let creator = app
        .get(&format!("{RECORDS}?creator_id=creator-odd"), &analyst)
        .await
        .expect(200);
    assert_eq!(ids(&creator.body), ["a-1", "a-3"]);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{RECORDS}?limit=2&cursor={c}"),
            None => format!("{RECORDS}?limit=2"),
        };
        let page = app
            .get(&path, &As::Merchant(key_a.clone()))
            .await
            .expect(200);
        seen.extend(ids(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["a-0", "a-1", "a-2", "a-3", "a-4"]);
    app.get(&format!("{RECORDS}?from=yesterday"), &analyst)
        .await
        .expect_error(400, "bad_request");
    app.get(&format!("{RECORDS}?channel=tv"), &analyst)
        .await
        .expect_error(400, "bad_request");
}

fn arb_record() -> impl Strategy<Value = Value> {
    (
        0..12u8,
        prop_oneof![1i64..50_000, -50_000i64..-1],
        0..4usize,
        0..60i64,
        0..86_400i64,
        proptest::option::of(0..3u8),
        proptest::option::of(0..3u8),
        proptest::option::of(0..12u8),
    )
        .prop_map(
            |(ext, amount, ch, days_back, secs, product, creator, corrects)| {
                let channels = ["live_stream", "short_video", "storefront", "other"];
                let at = Utc::now() - Duration::days(days_back) - Duration::seconds(secs);
                let mut r = json!({
                    "external_id": format!("e-{ext}"),
                    "occurred_at": at.to_rfc3339(),
                    "amount": amount,
                    "currency": "CNY",
                    "channel": channels[ch],
                });
                if let Some(p) = product {
                    r["product_id"] = json!(format!("p-{p}"));
                }
                if let Some(c) = creator {
                    r["creator_id"] = json!(format!("c-{c}"));
                }
                if let Some(c) = corrects.filter(|_| amount < 0) {
                    r["corrects"] = json!(format!("e-{c}"));
                }
                r
            },
        )
}

/// For random batches (sales, refunds, corrections, back-dated records, reused ids), every
/// roll-up row equals the sum and count of its raw records.
#[test]
fn rollups_equal_the_sum_of_raw_records() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(spawn_app());
    let merchants: Vec<String> = rt.block_on(async {
        let mut keys = Vec::new();
        for _ in 0..2 {
            keys.push(app.approved_merchant("brand").await.1);
        }
        app.register_creators(&["c-0", "c-1", "c-2"]).await;
        keys
    });
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 16,
        failure_persistence: None,
        ..Default::default()
    });
    let strategy = proptest::collection::vec(
        (0..2usize, proptest::collection::vec(arb_record(), 1..25)),
        1..4,
    );
    runner
        .run(&strategy, |batches| {
            rt.block_on(async {
                for (m, records) in batches {
                    let r = app
                        .post(
                            RECORDS,
                            &As::Merchant(merchants[m].clone()),
                            json!({ "records": records }),
                        )
                        .await
                        .expect(200);
                    let n = records.len() as i64;
                    let sum = ["created", "duplicates", "rejected"]
                        .iter()
                        .map(|k| r.body[k].as_i64().unwrap())
                        .sum::<i64>();
                    assert_eq!(sum, n);
                }
                support::assert_rollups_match_records(&app.db).await;
            });
            Ok(())
        })
        .unwrap();
}
