//! The rewards ledger, to the fen: creation with the achievement, cancellation by a refund,
//! restoration, confirmation only after the re-evaluation window with the final period
//! value, payouts and their export; and payouts opened at once by two replicas.

use crate::support;

use entity::{reward, webhook_event};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};
use support::{As, TestApp, spawn_app};

/// A monthly programme: 银 ¥10,000 earns a ¥500 bonus; 金 ¥20,000 a 0.5% rebate and ¥1,000
/// of traffic credit.
async fn programme(app: &TestApp) -> i64 {
    app.post(
        "/api/v1/programs",
        &As::Admin,
        json!({
            "name": "月度激励", "subject": "merchant", "metric": "gmv", "period": "month",
            "starts_on": "2026-01-01", "goal": 10,
            "tiers": [
                {"name": "银", "threshold": 1_000_000,
                 "rewards": [{"kind": "cash_bonus", "amount": 50_000}]},
                {"name": "金", "threshold": 2_000_000,
                 "rewards": [{"kind": "commission_rebate", "rate_bp": 50},
                             {"kind": "traffic_credit", "amount": 100_000}]}
            ]
        }),
    )
    .await
    .expect(201)
    .body["id"]
        .as_i64()
        .unwrap()
}

async fn rewards_of(app: &TestApp, key: &str) -> Vec<Value> {
    let mut items = app
        .get("/api/v1/me/rewards", &As::Merchant(key.into()))
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .unwrap()
        .clone();
    items.sort_by_key(|r| {
        (
            r["tier"].as_str().unwrap().to_string(),
            r["kind"].as_str().unwrap().to_string(),
        )
    });
    items
}

fn summary(items: &[Value]) -> Vec<(String, String, Value, String)> {
    items
        .iter()
        .map(|r| {
            (
                r["tier"].as_str().unwrap().to_string(),
                r["kind"].as_str().unwrap().to_string(),
                r["amount"].clone(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn row(tier: &str, kind: &str, amount: Value, status: &str) -> (String, String, Value, String) {
    (tier.into(), kind.into(), amount, status.into())
}

#[tokio::test]
async fn rewards_follow_achievements_and_are_paid_to_the_fen() {
    let app = spawn_app().await;
    let program = programme(&app).await;
    let (a, key_a) = app.approved_merchant("brand").await;
    let (b, key_b) = app.approved_merchant("industry_belt").await;
    let (c, key_c) = app.approved_merchant("brand").await;

    // A: ¥24,691.35 — both tiers. B: ¥12,000 — 银. C: ¥11,000 — 银.
    app.add_rollup(a, "2026-03-10", "live_stream", 2_469_135)
        .await;
    app.add_rollup(b, "2026-03-10", "live_stream", 1_200_000)
        .await;
    app.add_rollup(c, "2026-03-10", "storefront", 1_100_000)
        .await;
    app.evaluate("2026-03-20T04:00:00Z").await;
    assert_eq!(
        summary(&rewards_of(&app, &key_a).await),
        [
            row("金", "commission_rebate", Value::Null, "pending"),
            row("金", "traffic_credit", json!(100_000), "pending"),
            row("银", "cash_bonus", json!(50_000), "pending"),
        ]
    );
    let rebate = rewards_of(&app, &key_a).await[0].clone();
    assert_eq!(rebate["rate_bp"], 50);
    assert!(
        rebate.get("amount").is_none(),
        "a rebate's amount waits for the final value"
    );

    // Refunds: B falls back under 银 (cancelled); so does C, which then climbs back (pending).
    app.add_rollup(b, "2026-03-21", "live_stream", -300_000)
        .await;
    app.add_rollup(c, "2026-03-21", "storefront", -200_000)
        .await;
    app.evaluate("2026-03-25T04:00:00Z").await;
    assert_eq!(
        summary(&rewards_of(&app, &key_b).await),
        [row("银", "cash_bonus", json!(50_000), "cancelled")]
    );
    assert_eq!(
        summary(&rewards_of(&app, &key_c).await),
        [row("银", "cash_bonus", json!(50_000), "cancelled")]
    );
    app.add_rollup(c, "2026-03-26", "storefront", 300_000).await;
    app.evaluate("2026-03-28T04:00:00Z").await;
    assert_eq!(
        summary(&rewards_of(&app, &key_c).await),
        [row("银", "cash_bonus", json!(50_000), "pending")]
    );

    // Inside the 7-day window after March nothing is confirmed; a late sale still counts.
    app.add_rollup(a, "2026-03-30", "live_stream", 10_000).await;
    app.evaluate("2026-04-07T04:00:00Z").await;
    assert!(
        rewards_of(&app, &key_a)
            .await
            .iter()
            .all(|r| r["status"] == "pending")
    );
    app.post("/api/v1/payouts", &As::Admin, json!({}))
        .await
        .expect_error(409, "nothing_to_pay");

    // The day after: confirmed; the rebate is 0.5% of ¥24,791.35, toward zero: ¥123.95.
    app.evaluate("2026-04-08T04:00:00Z").await;
    let a_rewards = rewards_of(&app, &key_a).await;
    assert_eq!(
        summary(&a_rewards),
        [
            row("金", "commission_rebate", json!(12_395), "confirmed"),
            row("金", "traffic_credit", json!(100_000), "confirmed"),
            row("银", "cash_bonus", json!(50_000), "confirmed"),
        ]
    );
    assert!(a_rewards.iter().all(|r| {
        r["confirmed_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-04-08T04:00:00")
    }));
    assert_eq!(
        summary(&rewards_of(&app, &key_b).await),
        [row("银", "cash_bonus", json!(50_000), "cancelled")]
    );
    assert_eq!(
        summary(&rewards_of(&app, &key_c).await),
        [row("银", "cash_bonus", json!(50_000), "confirmed")]
    );
    // The weekly report lists them.
    let report = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/merchants/{a}/report?format=text&as_of=2026-04-13T02:00:00Z"),
            &As::Admin,
            None,
        )
        .await
        .expect(200);
    assert!(
        report.text.contains("佣金返还 ¥123.95，已确认"),
        "{}",
        report.text
    );
    assert!(
        report.text.contains("现金奖励 ¥500.00，已确认"),
        "{}",
        report.text
    );
    // Idempotent: a later run changes nothing.
    app.evaluate("2026-04-09T04:00:00Z").await;
    assert_eq!(rewards_of(&app, &key_a).await, a_rewards);

    // Staff filter by status and programme.
    let confirmed = app
        .get(
            &format!("/api/v1/rewards?status=confirmed&program_id={program}"),
            &As::Admin,
        )
        .await
        .expect(200);
    assert_eq!(confirmed.body["items"].as_array().unwrap().len(), 4);
    let cancelled = app
        .get("/api/v1/rewards?status=cancelled", &As::Admin)
        .await
        .expect(200);
    assert_eq!(cancelled.body["items"].as_array().unwrap().len(), 1);

    // One payout of every confirmed reward: ¥500 + ¥123.95 + ¥1,000 + ¥500.
    let payout = app
        .post(
            "/api/v1/payouts",
            &As::Admin,
            json!({"program_id": program}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(
        (
            payout["status"].as_str(),
            payout["rewards"].as_i64(),
            payout["total"].as_i64()
        ),
        (Some("open"), Some(4), Some(212_395))
    );
    let id = payout["id"].as_i64().unwrap();
    app.post("/api/v1/payouts", &As::Admin, json!({}))
        .await
        .expect_error(409, "nothing_to_pay");

    let csv = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/payouts/{id}/lines.csv"),
            &As::Admin,
            None,
        )
        .await
        .expect(200);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let raw = csv.text.as_bytes();
    assert_eq!(&raw[..3], b"\xEF\xBB\xBF", "a byte-order mark for Excel");
    let mut lines = csv.text.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next(),
        Some("subject,name,uscc,programme,tier,kind,amount_yuan")
    );
    let lines: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    assert_eq!(lines.len(), 4);
    let fen: i64 = lines
        .iter()
        .map(|l| {
            let (y, f) = l[6].split_once('.').unwrap();
            assert_eq!(f.len(), 2, "two decimals: {l:?}");
            y.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
        })
        .sum();
    assert_eq!(fen, 212_395, "the lines add up to the payout's total");
    let merchant_a = app
        .get(&format!("/api/v1/merchants/{a}"), &As::Admin)
        .await
        .expect(200)
        .body;
    assert!(
        lines
            .iter()
            .any(|l| l[2] == merchant_a["uscc"] && l[6] == "123.95" && l[5] == "commission_rebate")
    );
    assert!(lines.iter().all(|l| l[3] == "月度激励"));

    // Paid: every reward of the payout, once.
    let paid = app
        .post(&format!("/api/v1/payouts/{id}/paid"), &As::Admin, json!({}))
        .await
        .expect(200)
        .body;
    assert_eq!(paid["status"], "paid");
    app.post(&format!("/api/v1/payouts/{id}/paid"), &As::Admin, json!({}))
        .await
        .expect_error(409, "payout_paid");
    assert!(
        rewards_of(&app, &key_a)
            .await
            .iter()
            .all(|r| r["status"] == "paid" && r["payout_id"] == id)
    );
    assert_eq!(summary(&rewards_of(&app, &key_b).await)[0].3, "cancelled");
    let kinds: Vec<String> = webhook_event::Entity::find()
        .order_by_asc(webhook_event::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind.as_str().to_string())
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "reward.confirmed").count(), 4);
    assert_eq!(kinds.iter().filter(|k| *k == "reward.paid").count(), 4);
    // Every step is in the audit log.
    let audit = app
        .get("/api/v1/audit-log?limit=500", &As::Admin)
        .await
        .expect(200)
        .body;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"payouts_open") && actions.contains(&"payouts_paid"),
        "{actions:?}"
    );
    app.get("/api/v1/payouts/999999", &As::Admin)
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn a_bad_reward_is_refused_naming_its_field_and_nothing_is_written() {
    let app = spawn_app().await;
    let before = app
        .get("/api/v1/programs", &As::Admin)
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .unwrap()
        .len();
    for (reward, field, code) in [
        (
            json!({"kind": "commission_rebate", "rate_bp": 10_001}),
            "tiers.0.rewards.0.rate_bp",
            "reward_rate_invalid",
        ),
        (
            json!({"kind": "cash_bonus", "amount": 0}),
            "tiers.0.rewards.0.amount",
            "reward_amount_invalid",
        ),
    ] {
        let r = app
            .post(
                "/api/v1/programs",
                &As::Admin,
                json!({"name": "x", "subject": "merchant", "metric": "gmv", "period": "month",
                       "starts_on": "2026-01-01", "goal": 1,
                       "tiers": [{"name": "a", "threshold": 10, "rewards": [reward]}]}),
            )
            .await;
        assert!(
            r.status.as_u16() == 422 || r.status.as_u16() == 400,
            "{}",
            r.text
        );
        if r.status.as_u16() == 422 {
            assert_eq!(
                (r.body["code"].as_str(), r.body["field"].as_str()),
                (Some(code), Some(field)),
                "{}",
                r.text
            );
        } else {
            assert!(
                r.text.contains(field.rsplit('.').next().unwrap()),
                "{}",
                r.text
            );
        }
    }
    let after = app
        .get("/api/v1/programs", &As::Admin)
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
    // The seeded programmes carry example rewards.
    app.seed_programs().await;
    let p = app.seeded_program("merchants_100m").await;
    let def = app
        .get(&format!("/api/v1/programs/{p}"), &As::Admin)
        .await
        .expect(200)
        .body;
    assert!(
        def["tiers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| !t["rewards"].as_array().unwrap().is_empty())
    );
}

/// Two replicas (servers with their own pools) open payouts at once on one PostgreSQL
/// database: every confirmed reward lands in exactly one payout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_payouts_from_two_replicas_never_share_a_reward() {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        println!(
            "skipped: replicas share a PostgreSQL database; set TEST_DATABASE_URL=postgres://…"
        );
        return;
    }
    let app = spawn_app().await;
    let other = support::spawn_replica(&app).await;
    let program = support::insert_program(&app.db, "并发", "month", &[("a", 10)], 1).await;
    let mut expected_total = 0;
    for m in 0..40i64 {
        let (id, _) = app.approved_merchant("brand").await;
        support::insert_confirmed_reward(&app.db, program, id, 1_000 + m).await;
        expected_total += 1_000 + m;
    }
    let calls = (0..12).map(|i| {
        let (target, body) = match i % 3 {
            0 => (&app, json!({})),
            1 => (&other, json!({"program_id": program})),
            _ => (&other, json!({})),
        };
        async move { target.post("/api/v1/payouts", &As::Admin, body).await }
    });
    let answers = futures_util::future::join_all(calls).await;
    let mut total = 0;
    let mut count = 0;
    for r in &answers {
        match r.status.as_u16() {
            201 => {
                total += r.body["total"].as_i64().unwrap();
                count += r.body["rewards"].as_i64().unwrap();
            }
            409 => assert_eq!(r.body["code"], "nothing_to_pay"),
            s => panic!("unexpected {s}: {}", r.text),
        }
    }
    assert_eq!(
        (count, total),
        (40, expected_total),
        "each reward in exactly one payout"
    );
    let rows = reward::Entity::find().all(&app.db).await.unwrap();
    assert!(rows.iter().all(|r| r.payout_id.is_some()));
}
