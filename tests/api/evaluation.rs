//! Evaluation: progress, snapshots, achievements exactly once, revocation, emails, runs,
//! the read endpoints over the results, and failed runs.

use crate::support;

use chrono::{DateTime, Utc};
use entity::enums::{Channel, Locale, MerchantKind, MerchantStatus};
use merchant_incentives::jobs::{self, Trigger, evaluate::run_tick};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use support::{As, TestApp, spawn_app};

/// ¥1 in fen.
const YUAN: i64 = 100;
const MILLION: i64 = 1_000_000 * YUAN;
/// Noon of 2026-03-01 in Shanghai.
const MARCH_1: &str = "2026-03-01T04:00:00Z";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn leaderboard(app: &TestApp, program: i64, query: &str) -> Value {
    app.get(
        &format!("/api/v1/programs/{program}/progress{query}"),
        &As::Admin,
    )
    .await
    .expect(200)
    .body
}

async fn achievements(app: &TestApp, program: i64) -> Vec<Value> {
    app.get(
        &format!("/api/v1/programs/{program}/achievements?limit=500"),
        &As::Admin,
    )
    .await
    .expect(200)
    .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn evaluation_ranks_merchants_and_records_achievements_once() {
    let app = spawn_app().await;
    app.seed_programs().await;
    let program = app.seeded_program("merchants_100m").await;
    let (a, _) = app.approved_merchant("brand").await;
    let (b, b_key) = app.approved_merchant("industry_belt").await;
    let (pending, _) = app.register_merchant("brand").await;
    // A: ¥60M by March (two tiers), ¥30M of it in February's run-rate window.
    app.add_rollup(a, "2026-01-15", "live_stream", 30 * MILLION)
        .await;
    app.add_rollup(a, "2026-02-10", "storefront", 30 * MILLION)
        .await;
    // Not counted: before the programme, and after as_of.
    app.add_rollup(a, "2025-12-31", "live_stream", 90 * MILLION)
        .await;
    app.add_rollup(a, "2026-03-02", "live_stream", 90 * MILLION)
        .await;
    // B: ¥100k, far behind.
    app.add_rollup(b, "2026-02-20", "short_video", 100_000 * YUAN)
        .await;
    // Not approved: ignored.
    app.add_rollup(pending, "2026-02-20", "live_stream", 500 * MILLION)
        .await;

    let run = app.evaluate(MARCH_1).await;
    assert_eq!(at(run["as_of"].as_str().unwrap()), at(MARCH_1));
    assert_eq!(run["subjects_evaluated"], 2);
    assert_eq!(run["achievements_recorded"], 2);
    assert_eq!(run["achievements_revoked"], 0);
    assert!(run["id"].is_i64() && run["started_at"].is_string() && run["finished_at"].is_string());

    let board = leaderboard(&app, program, "").await;
    let items = board["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let first = &items[0];
    let expected_keys = [
        "program_id",
        "period_start",
        "period_end",
        "subject_type",
        "subject_id",
        "value",
        "tier",
        "next_tier",
        "next_threshold",
        "remaining",
        "projected",
        "status",
        "evaluated_at",
    ];
    for k in expected_keys {
        assert!(first.get(k).is_some(), "{k} in {first}");
    }
    assert_eq!(first["subject_id"], a.to_string());
    assert_eq!(first["subject_type"], "merchant");
    assert_eq!(first["period_start"], "2026-01-01");
    assert_eq!(first["period_end"], "2026-12-31");
    assert_eq!(first["value"], 60 * MILLION);
    assert_eq!(first["tier"], "五千万商家 ¥50M");
    assert_eq!(first["next_tier"], "亿元商家 ¥100M");
    assert_eq!(first["next_threshold"], 100 * MILLION);
    assert_eq!(first["remaining"], 40 * MILLION);
    // Last 28 full days (Feb 1–28): ¥30M; at noon on March 1 in Shanghai the rest of March 1
    // and the 305 days after it are left: 305.5 days, in seconds.
    let left = 305 * 86_400 + 12 * 3_600;
    assert_eq!(
        first["projected"],
        60 * MILLION + 30 * MILLION * left / (28 * 86_400)
    );
    assert_eq!(first["status"], "on_track");
    let second = &items[1];
    assert_eq!(second["subject_id"], b.to_string());
    assert!(second["tier"].is_null());
    assert_eq!(second["status"], "behind");
    assert_eq!(second["remaining"], 10 * MILLION - 100_000 * YUAN);

    let got = achievements(&app, program).await;
    assert_eq!(got.len(), 2);
    assert!(
        got.iter()
            .all(|x| x["subject_id"].as_str() == Some(a.to_string().as_str())
                && x["revoked_at"].is_null())
    );

    // One tier_achieved email per new achievement, to the merchant.
    let mails: Vec<_> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m.kind.as_str() == "tier_achieved")
        .collect();
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().all(|m| m.merchant_id == Some(a)));
    assert!(
        mails.iter().any(|m| m.subject.contains("五千万商家")),
        "{:?}",
        mails[0].subject
    );
    assert!(mails[0].text_body.contains("¥"));

    // The same data again changes nothing.
    let again = app.evaluate(MARCH_1).await;
    assert_eq!(again["subjects_evaluated"], 2);
    assert_eq!(again["achievements_recorded"], 0);
    assert_eq!(again["achievements_revoked"], 0);
    assert_eq!(achievements(&app, program).await.len(), 2);
    assert_eq!(
        app.outbox()
            .await
            .iter()
            .filter(|m| m.kind.as_str() == "tier_achieved")
            .count(),
        2
    );
    let board2 = leaderboard(&app, program, "").await;
    let strip = |v: &Value| {
        let mut v = v.clone();
        for i in v["items"].as_array_mut().unwrap() {
            i.as_object_mut().unwrap().remove("evaluated_at");
        }
        v
    };
    assert_eq!(strip(&board), strip(&board2));
    // The first run left a snapshot per subject; the second, which changed nothing, none.
    let snaps = entity::progress_snapshot::Entity::find()
        .filter(entity::progress_snapshot::Column::ProgramId.eq(program))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(snaps, 2);

    // Merchants see their own progress; not another's.
    let mine = app
        .get("/api/v1/me/progress", &As::Merchant(b_key.clone()))
        .await
        .expect(200);
    let mine = mine.body["items"].as_array().unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["subject_id"], b.to_string());
    app.get(
        &format!("/api/v1/merchants/{b}/progress"),
        &As::Merchant(b_key.clone()),
    )
    .await
    .expect(200);
    app.get(
        &format!("/api/v1/merchants/{a}/progress"),
        &As::Merchant(b_key.clone()),
    )
    .await
    .expect_error(404, "not_found");
    let staff = app
        .get(&format!("/api/v1/merchants/{a}/progress"), &As::Admin)
        .await
        .expect(200);
    assert_eq!(staff.body["items"][0]["value"], 60 * MILLION);
    // Leaderboards and achievements are staff-only.
    app.get(
        &format!("/api/v1/programs/{program}/progress"),
        &As::Merchant(b_key),
    )
    .await
    .expect_error(401, "staff_only");

    // The run history lists both runs, newest first.
    let runs = app.get("/api/v1/evaluations", &As::Admin).await.expect(200);
    let runs = runs.body["items"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["id"], again["id"]);
    assert_eq!(runs[0]["trigger"], "api");
    assert_eq!(runs[0]["status"], "ok");
}

#[tokio::test]
async fn refunds_revoke_achievements_and_recovery_restores_them() {
    let app = spawn_app().await;
    app.seed_programs().await;
    let program = app.seeded_program("merchants_100m").await;
    let (a, _) = app.approved_merchant("brand").await;
    app.add_rollup(a, "2026-01-10", "live_stream", 12 * MILLION)
        .await;
    app.evaluate(MARCH_1).await;
    let got = achievements(&app, program).await;
    assert_eq!(got.len(), 1);
    assert!(got[0]["revoked_at"].is_null());

    // A refund takes A back under ¥10M.
    app.add_rollup(a, "2026-02-25", "live_stream", -3 * MILLION)
        .await;
    let run = app.evaluate(MARCH_1).await;
    assert_eq!(run["achievements_revoked"], 1);
    let got = achievements(&app, program).await;
    assert_eq!(got.len(), 1, "revoked, not deleted");
    assert!(got[0]["revoked_at"].is_string());
    let board = leaderboard(&app, program, "").await;
    assert!(board["items"][0]["tier"].is_null());

    // Sales bring it back: the same achievement, revoked_at cleared, no second email.
    app.add_rollup(a, "2026-02-26", "storefront", 2 * MILLION)
        .await;
    let run = app.evaluate(MARCH_1).await;
    assert_eq!(run["achievements_recorded"], 0);
    let again = achievements(&app, program).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["id"], got[0]["id"]);
    assert!(again[0]["revoked_at"].is_null());
    assert_eq!(
        app.outbox()
            .await
            .iter()
            .filter(|m| m.kind.as_str() == "tier_achieved")
            .count(),
        1
    );
}

#[tokio::test]
async fn editing_tiers_keeps_past_achievements() {
    let app = spawn_app().await;
    app.seed_programs().await;
    let program = app.seeded_program("merchants_100m").await;
    let (a, _) = app.approved_merchant("brand").await;
    app.add_rollup(a, "2026-01-10", "live_stream", 12 * MILLION)
        .await;
    app.evaluate(MARCH_1).await;
    app.patch(
        &format!("/api/v1/programs/{program}"),
        &As::Admin,
        json!({"tiers": [{"name": "入门 ¥5M", "threshold": 5 * MILLION}, {"name": "¥20M", "threshold": 20 * MILLION}]}),
    )
    .await
    .expect(200);
    app.evaluate(MARCH_1).await;
    let got = achievements(&app, program).await;
    let tiers: Vec<&str> = got.iter().map(|x| x["tier"].as_str().unwrap()).collect();
    assert_eq!(tiers, vec!["千万商家 ¥10M", "入门 ¥5M"]);
    assert!(got.iter().all(|x| x["revoked_at"].is_null()));
    let board = leaderboard(&app, program, "").await;
    assert_eq!(board["items"][0]["tier"], "入门 ¥5M");
    assert_eq!(board["items"][0]["next_threshold"], 20 * MILLION);
}

#[tokio::test]
async fn channel_kind_product_and_creator_programmes() {
    let app = spawn_app().await;
    app.seed_programs().await;
    let (brand, _) = app.approved_merchant("brand").await;
    let (belt, _) = app.approved_merchant("industry_belt").await;
    app.add_rollup(brand, "2026-01-05", "live_stream", 2 * MILLION)
        .await;
    app.add_rollup(brand, "2026-01-05", "storefront", 50 * MILLION)
        .await;
    app.add_rollup(belt, "2026-01-05", "live_stream", 9 * MILLION)
        .await;
    let live = app
        .post(
            "/api/v1/programs",
            &As::Admin,
            json!({
                "name": "品牌直播", "subject": "merchant", "merchant_kinds": ["brand"],
                "metric": "channel_gmv", "channel": "live_stream", "period": "month",
                "starts_on": "2026-01-01",
                "tiers": [{"name": "¥1M", "threshold": MILLION}], "goal": 10
            }),
        )
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();
    app.add_product_rollup(brand, "SKU-1", "2026-01-05", "live_stream", 11 * MILLION)
        .await;
    app.add_product_rollup(belt, "SKU-1", "2026-01-06", "live_stream", 3 * MILLION)
        .await;
    app.add_creator_rollup("达人-小美", brand, "2026-01-05", "live_stream", 4 * MILLION)
        .await;
    app.add_creator_rollup("达人-小美", belt, "2026-01-06", "short_video", 2 * MILLION)
        .await;
    // As of 2026-01-20 in Shanghai: the January month of the live programme.
    app.evaluate("2026-01-20T02:00:00Z").await;

    let board = leaderboard(&app, live, "").await;
    let items = board["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only brand merchants: {board}");
    assert_eq!(items[0]["subject_id"], brand.to_string());
    assert_eq!(items[0]["value"], 2 * MILLION, "only live_stream counts");
    assert_eq!(items[0]["period_start"], "2026-01-01");
    assert_eq!(items[0]["period_end"], "2026-01-31");
    assert_eq!(items[0]["status"], "achieved");

    let products = app.seeded_program("products_100m").await;
    let board = leaderboard(&app, products, "").await;
    let ids: Vec<&str> = board["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["subject_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![format!("{brand}:SKU-1"), format!("{belt}:SKU-1")]);
    assert_eq!(board["items"][0]["tier"], "千万单品 ¥10M");
    assert_eq!(board["items"][0]["subject_type"], "product");

    let creators = app.seeded_program("creators_10m").await;
    let board = leaderboard(&app, creators, "").await;
    assert_eq!(board["items"][0]["subject_id"], "达人-小美");
    assert_eq!(board["items"][0]["value"], 6 * MILLION);
    assert_eq!(board["items"][0]["tier"], "五百万达人 ¥5M");
    // Creator and product achievements send no merchant email.
    assert!(
        app.outbox()
            .await
            .iter()
            .all(|m| m.kind.as_str() != "tier_achieved" || m.merchant_id == Some(brand))
    );
}

#[tokio::test]
async fn leaderboard_filters_pages_and_summary() {
    let app = spawn_app().await;
    app.seed_programs().await;
    let program = app.seeded_program("merchants_100m").await;
    let mut ids = Vec::new();
    // Five brand merchants: ¥5M, ¥15M, ¥15M, ¥60M, ¥120M (the last two live-stream).
    for (n, amount) in [5, 15, 15, 60, 120].into_iter().enumerate() {
        let kind = if n < 3 { "industry_belt" } else { "brand" };
        let (id, _) = app.approved_merchant(kind).await;
        let channel = if n >= 3 { "live_stream" } else { "storefront" };
        app.add_rollup(id, "2026-01-20", channel, amount * MILLION)
            .await;
        ids.push(id);
    }
    // December 2025 (the previous period): all industry belt.
    app.add_rollup(ids[0], "2025-12-20", "storefront", 100 * MILLION)
        .await;
    support::set_platform_days(&app.db, "2025-01-01", "2026-12-31", MILLION).await;
    app.evaluate(MARCH_1).await;

    let values = |b: &Value| -> Vec<i64> {
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["value"].as_i64().unwrap())
            .collect()
    };
    let page1 = leaderboard(&app, program, "?limit=2").await;
    assert_eq!(values(&page1), vec![120 * MILLION, 60 * MILLION]);
    let c = page1["next_cursor"].as_str().unwrap();
    let page2 = leaderboard(&app, program, &format!("?limit=2&cursor={c}")).await;
    assert_eq!(values(&page2), vec![15 * MILLION, 15 * MILLION]);
    // Ties by subject id.
    let s: Vec<String> = page2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["subject_id"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = s.clone();
    sorted.sort();
    assert_eq!(s, sorted);
    let c = page2["next_cursor"].as_str().unwrap();
    let page3 = leaderboard(&app, program, &format!("?limit=2&cursor={c}")).await;
    assert_eq!(values(&page3), vec![5 * MILLION]);
    assert!(page3["next_cursor"].is_null());

    let achieved = leaderboard(&app, program, "?status=achieved").await;
    assert_eq!(values(&achieved), vec![120 * MILLION]);
    let tier = urlencode("千万商家 ¥10M");
    let ten = leaderboard(&app, program, &format!("?tier={tier}")).await;
    assert_eq!(values(&ten), vec![15 * MILLION, 15 * MILLION]);
    app.get(
        &format!("/api/v1/programs/{program}/progress?status=winning"),
        &As::Admin,
    )
    .await
    .expect(400);
    app.get(
        &format!("/api/v1/programs/{program}/progress?cursor=zzz"),
        &As::Admin,
    )
    .await
    .expect_error(422, "invalid_cursor");

    let s = app
        .get(&format!("/api/v1/programs/{program}/summary"), &As::Admin)
        .await
        .expect(200)
        .body;
    assert_eq!(s["goal"], 1000);
    assert_eq!(s["subjects"], 5);
    let per_tier: Vec<i64> = s["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["subjects"].as_i64().unwrap())
        .collect();
    assert_eq!(per_tier, vec![4, 2, 1]);
    assert_eq!(s["top_tier_reached"], 1);
    assert!(s["projected_top_tier"].as_i64().unwrap() >= 1);
    assert_eq!(s["statuses"]["achieved"], 1);
    // Current period: total ¥215M; brand live ¥180M; industry belt ¥35M; the marketplace
    // sold ¥1M a day, so shares are of ¥1M × the days of 2026 up to today.
    let today = merchant_incentives::domain::gmv::today();
    let end = today.min("2026-12-31".parse().unwrap());
    let days = (end - "2026-01-01".parse::<chrono::NaiveDate>().unwrap()).num_days() + 1;
    let platform = days * MILLION;
    let g = &s["gmv"];
    assert_eq!(g["current"]["total"], 215 * MILLION);
    assert_eq!(g["current"]["platform_total"], platform);
    assert_eq!(g["current"]["coverage_days"], days);
    assert_eq!(
        g["current"]["brand_live_stream_share_bp"],
        180 * MILLION * 10_000 / platform
    );
    assert_eq!(
        g["current"]["industry_belt_share_bp"],
        35 * MILLION * 10_000 / platform
    );
    // 2025: ¥100M of industry belt in the marketplace's ¥365M.
    assert_eq!(g["previous"]["from"], "2025-01-01");
    assert_eq!(g["previous"]["industry_belt_share_bp"], 100 * 10_000 / 365);
    assert_eq!(
        g["industry_belt_share_change_bp"],
        35 * MILLION * 10_000 / platform - 100 * 10_000 / 365
    );
    app.get(
        &format!("/api/v1/programs/{program}/summary"),
        &As::Merchant("nope".into()),
    )
    .await
    .expect(401);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn back_dated_gmv_of_the_previous_period_is_picked_up_for_a_week() {
    let app = spawn_app().await;
    let program = app
        .post(
            "/api/v1/programs",
            &As::Admin,
            json!({
                "name": "月度", "subject": "merchant", "metric": "gmv", "period": "month",
                "starts_on": "2026-01-01",
                "tiers": [{"name": "¥1M", "threshold": MILLION}], "goal": 10
            }),
        )
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();
    let (a, _) = app.approved_merchant("brand").await;
    app.add_rollup(a, "2026-02-27", "live_stream", MILLION / 2)
        .await;
    app.evaluate("2026-02-28T04:00:00Z").await;
    // A late record for Feb 28 arrives on March 3.
    app.add_rollup(a, "2026-02-28", "live_stream", MILLION)
        .await;
    app.evaluate("2026-03-03T04:00:00Z").await;
    let feb = leaderboard(&app, program, "?period_start=2026-02-01").await;
    assert_eq!(feb["items"][0]["value"], MILLION * 3 / 2);
    assert_eq!(feb["items"][0]["status"], "achieved");
    assert_eq!(achievements(&app, program).await.len(), 1);
}

#[tokio::test]
async fn a_failed_run_is_recorded_and_the_next_tick_runs_normally() {
    let app = spawn_app().await;
    app.seed_programs().await;
    let (a, _) = app.approved_merchant("brand").await;
    // A corrupt roll-up so large that the run-rate projection overflows i64.
    app.add_rollup(a, "2026-02-15", "live_stream", i64::MAX / 4)
        .await;
    let tick1 = at("2026-03-01T04:00:00Z");
    let failed = run_tick(
        &app.db,
        tick1,
        "replica-a",
        chrono::Duration::seconds(30),
        35,
    )
    .await
    .unwrap()
    .expect("claimed");
    assert_eq!(failed.outcome.as_str(), "failed");
    assert!(
        failed.error.as_deref().unwrap().contains("overflow"),
        "{:?}",
        failed.error
    );
    assert!(failed.finished_at.is_some());
    // Another replica firing for the same tick does nothing.
    assert!(
        run_tick(
            &app.db,
            tick1,
            "replica-b",
            chrono::Duration::seconds(30),
            35
        )
        .await
        .unwrap()
        .is_none()
    );

    // Through the API the run starts (202) and then reports its failure, with the error.
    let failed = app.evaluate(MARCH_1).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{failed}"
    );

    // The data is corrected; the next tick is fine.
    app.add_rollup(
        a,
        "2026-02-15",
        "live_stream",
        -(i64::MAX / 4) + 5 * MILLION,
    )
    .await;
    let ok = run_tick(
        &app.db,
        at("2026-03-01T04:15:00Z"),
        "replica-b",
        chrono::Duration::seconds(30),
        35,
    )
    .await
    .unwrap()
    .expect("claimed");
    assert_eq!(ok.outcome.as_str(), "ok");
    assert_eq!(ok.subjects_evaluated, 1);
    assert!(ok.error.is_none());

    let runs = app.get("/api/v1/evaluations", &As::Admin).await.expect(200);
    let outcomes: Vec<&str> = runs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["ok", "failed", "failed"]);
    assert_eq!(runs.body["items"][0]["trigger"], "scheduler");
    assert_eq!(runs.body["items"][1]["trigger"], "api");
}

#[tokio::test]
async fn ticks_are_claimed_once_and_keyed_by_the_cron_time() {
    let app = spawn_app().await;
    let t = at("2026-05-01T00:15:00Z");
    let first = jobs::claim_tick(
        &app.db,
        "evaluate",
        t,
        t,
        "r1",
        Trigger::Scheduler,
        chrono::Duration::seconds(30),
    )
    .await
    .unwrap();
    assert!(first.is_some());
    let second = jobs::claim_tick(
        &app.db,
        "evaluate",
        t,
        t,
        "r2",
        Trigger::Scheduler,
        chrono::Duration::seconds(30),
    )
    .await
    .unwrap();
    assert!(second.is_none());
    let schedule = merchant_incentives::config::Schedule::parse("0 */15 * * * *").unwrap();
    assert_eq!(
        jobs::tick_time(&schedule, at("2026-05-01T00:15:00.020Z")),
        t
    );
    assert_eq!(
        jobs::tick_time(&schedule, at("2026-05-01T00:14:59.800Z")),
        t
    );
    assert_eq!(
        jobs::tick_time(&schedule, at("2026-05-01T00:29:00Z")),
        at("2026-05-01T00:15:00Z")
    );
    // Bad requests.
    app.post(
        "/api/v1/evaluations",
        &As::Admin,
        json!({"as_of": "2999-01-01T00:00:00Z"}),
    )
    .await
    .expect_error(422, "as_of_in_future");
    let analyst = app.staff_token("analyst").await;
    app.post(
        "/api/v1/evaluations",
        &As::Staff(analyst.clone()),
        json!({}),
    )
    .await
    .expect_error(403, "insufficient_role");
    app.get("/api/v1/evaluations", &As::Staff(analyst))
        .await
        .expect(200);
}

#[tokio::test]
async fn the_scheduler_runs_evaluation_on_its_cron() {
    let app = spawn_app().await;
    let mut config = (*app.state.config).clone();
    config.schedule_evaluate = merchant_incentives::config::Schedule::parse("* * * * * *").unwrap();
    let state = merchant_incentives::app::AppState::new(app.db.clone(), config);
    let mut sched = jobs::start_scheduler(&state.job_context()).await.unwrap();
    let mut runs = 0;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        runs = entity::job_run::Entity::find()
            .filter(entity::job_run::Column::Trigger.eq("scheduler"))
            .filter(entity::job_run::Column::Outcome.eq("ok"))
            .count(&app.db)
            .await
            .unwrap();
        if runs >= 1 {
            break;
        }
    }
    sched.shutdown().await.unwrap();
    assert!(runs >= 1, "a scheduled run happened");
}

/// Thousands of subjects: every approved merchant and every product is evaluated exactly once
/// with its own total, and a suspended merchant among them is left out.
#[tokio::test]
async fn evaluation_covers_every_subject_once() {
    use entity::{gmv_daily_merchant as gm, gmv_daily_product as gp, merchant, progress};
    const MANY: u64 = 2_000;
    use sea_orm::Set;

    let app = spawn_app().await;
    app.seed_programs().await;
    let merchants = MANY as i64 + 50;
    let products_of = MANY as i64 / 2 + 100; // merchants with two products each
    let suspended = MANY as i64 - 1;
    let now = Utc::now();
    let ids: Vec<i64> = (1..=merchants).map(|i| 1_000_000 + i).collect();
    for chunk in ids.chunks(500) {
        merchant::Entity::insert_many(chunk.iter().map(|&id| merchant::ActiveModel {
            id: Set(id),
            kind: Set(if id % 2 == 0 {
                MerchantKind::Brand
            } else {
                MerchantKind::IndustryBelt
            }),
            status: Set(if id == 1_000_000 + suspended {
                MerchantStatus::Suspended
            } else {
                MerchantStatus::Approved
            }),
            status_reason: Set(None),
            legal_name: Set(format!("分页商户 {id}")),
            display_name: Set(format!("分页 {id}")),
            uscc: Set(format!("P{id:017}")),
            contact_email: Set(format!("m{id}@page.example")),
            province: Set("浙江".into()),
            city: Set("金华".into()),
            category: Set("日用百货".into()),
            brand_name: Set(None),
            trademark_number: Set(None),
            industry_belt: Set(None),
            weekly_report: Set(false),
            locale: Set(Locale::ZhCn),
            notify_near_tier: Set(true),
            notify_at_risk: Set(true),
            stale_notified_for: Set(None),
            last_gmv_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }))
        .exec_without_returning(&app.db)
        .await
        .unwrap();
        let days = chunk.iter().flat_map(|&id| {
            [("2026-02-01", id * 100), ("2026-02-02", 1)].map(|(d, amount)| gm::ActiveModel {
                merchant_id: Set(id),
                day: Set(d.parse().unwrap()),
                channel: Set(Channel::LiveStream),
                amount: Set(amount),
                records: Set(1),
            })
        });
        gm::Entity::insert_many(days)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
        let products = chunk
            .iter()
            .filter(|&&id| id - 1_000_000 <= products_of)
            .flat_map(|&id| {
                ["a", "b"].map(|p| gp::ActiveModel {
                    merchant_id: Set(id),
                    product_id: Set(format!("sku-{p}")),
                    day: Set("2026-02-01".parse().unwrap()),
                    channel: Set(Channel::ShortVideo),
                    amount: Set(id + if p == "a" { 1 } else { 2 }),
                    records: Set(1),
                })
            });
        gp::Entity::insert_many(products)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
    }

    let run = app.evaluate(MARCH_1).await;
    let approved = merchants - 1;
    let products = 2 * products_of - if suspended <= products_of { 2 } else { 0 };
    assert_eq!(run["subjects_evaluated"], approved + products, "{run}");

    let merchant_programme = app.seeded_program("merchants_100m").await;
    let rows = progress::Entity::find()
        .filter(progress::Column::ProgramId.eq(merchant_programme))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len() as i64, approved);
    let mut seen = std::collections::HashSet::new();
    for r in &rows {
        let id: i64 = r.subject_id.parse().unwrap();
        assert!(seen.insert(id), "merchant {id} evaluated twice");
        assert_ne!(
            id,
            1_000_000 + suspended,
            "the suspended merchant is left out"
        );
        assert_eq!(r.value, id * 100 + 1, "merchant {id}");
    }
    let product_programme = app.seeded_program("products_100m").await;
    let rows = progress::Entity::find()
        .filter(progress::Column::ProgramId.eq(product_programme))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len() as i64, products);
    let mut seen = std::collections::HashSet::new();
    for r in &rows {
        assert!(seen.insert(r.subject_id.clone()), "{} twice", r.subject_id);
        let (id, sku) = r.subject_id.split_once(':').unwrap();
        let id: i64 = id.parse().unwrap();
        assert_eq!(
            r.value,
            id + if sku == "sku-a" { 1 } else { 2 },
            "{}",
            r.subject_id
        );
    }
}

#[tokio::test]
async fn a_calendar_year_at_midnight_of_july_1_projects_184_days() {
    let app = spawn_app().await;
    app.seed_programs().await;
    let program = app.seeded_program("merchants_100m").await;
    let (a, _) = app.approved_merchant("brand").await;
    // ¥28,000 in June's last 28 full days (June 3–30): ¥1,000 a day.
    app.add_rollup(a, "2026-06-10", "live_stream", 28_000 * YUAN)
        .await;
    // 2026-07-01 00:00 in Shanghai: the whole of July 1 is still ahead.
    app.evaluate("2026-06-30T16:00:00Z").await;
    let board = leaderboard(&app, program, "").await;
    let first = &board["items"][0];
    assert_eq!(first["period_start"], "2026-01-01");
    assert_eq!(first["value"], 28_000 * YUAN);
    assert_eq!(first["projected"], 28_000 * YUAN + 184 * 1_000 * YUAN);
}

/// Every index on a progress row or snapshot is paid for by each row an evaluation writes, so
/// the tables keep only those a query reads: the leaderboard's order, its status filter and a
/// merchant's own progress, with one subject across periods read by the key itself
/// (`program_id, subject_id, period_start`); the history by subject and day (which retention
/// probes too) and retention's day. On PostgreSQL progress pages are half filled, so a row whose
/// indexed columns did not move is rewritten without touching an index. Migration 000021 run
/// down gives back the key and indexes before it, keeping every row.
#[tokio::test]
async fn progress_tables_keep_only_the_indexes_their_queries_read() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let pg = std::env::var("TEST_DATABASE_URL").is_ok();
    let backend = app.db.get_database_backend();
    let names = |table: &str| {
        let sql = if pg {
            format!(
                "SELECT indexname FROM pg_indexes WHERE tablename = '{table}' AND indexname NOT LIKE '%_pkey'"
            )
        } else {
            format!(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' AND name NOT LIKE 'sqlite_autoindex_%'"
            )
        };
        let db = &app.db;
        async move {
            let mut all = support::strings(db, &sql).await;
            all.sort();
            all
        }
    };
    let key = || {
        support::strings(
            &app.db,
            if pg {
                "SELECT a.attname::text FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, n), \
                 pg_attribute a WHERE i.indrelid = 'progress'::regclass AND i.indisprimary \
                 AND a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n"
            } else {
                "SELECT name FROM pragma_table_info('progress') WHERE pk > 0 ORDER BY pk"
            },
        )
    };
    app.seed_programs().await;
    let program = app.seeded_program("merchants_100m").await;
    for amount in [120_000_000, 95_000_000, 5_000_000] {
        let (m, _) = app.approved_merchant("brand").await;
        app.add_rollup(m, "2026-03-10", "live_stream", amount * YUAN)
            .await;
    }
    app.evaluate("2026-03-31T12:00:00Z").await;
    let board = leaderboard(&app, program, "").await;
    assert_eq!(board["items"].as_array().unwrap().len(), 3, "{board}");

    let now = [
        "ix_progress_board",
        "ix_progress_merchant",
        "ix_progress_status",
    ];
    let snapshots_now = [
        "ix_progress_snapshot_retention",
        "ix_progress_snapshot_subject_day",
    ];
    assert_eq!(names("progress").await, now);
    assert_eq!(names("progress_snapshot").await, snapshots_now);
    assert_eq!(key().await, ["program_id", "subject_id", "period_start"]);

    Migrator::down(&app.db, Some(1)).await.unwrap();
    assert_eq!(
        names("progress").await,
        [
            "ix_progress_board",
            "ix_progress_merchant",
            "ix_progress_status",
            "ix_progress_subject"
        ]
    );
    assert_eq!(
        names("progress_snapshot").await,
        [
            "ix_progress_snapshot_day",
            "ix_progress_snapshot_retention",
            "ix_progress_snapshot_subject_day"
        ]
    );
    assert_eq!(key().await, ["program_id", "period_start", "subject_id"]);
    assert_eq!(leaderboard(&app, program, "").await, board);

    Migrator::up(&app.db, None).await.unwrap();
    assert_eq!(names("progress").await, now);
    assert_eq!(names("progress_snapshot").await, snapshots_now);
    assert_eq!(key().await, ["program_id", "subject_id", "period_start"]);
    assert_eq!(leaderboard(&app, program, "").await, board);
    // The upsert finds its rows by the new key: evaluating again leaves one row per subject.
    app.evaluate("2026-03-31T13:00:00Z").await;
    let again = leaderboard(&app, program, "").await;
    assert_eq!(again["items"].as_array().unwrap().len(), 3, "{again}");

    if pg {
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                backend,
                "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'progress'",
            ))
            .await
            .unwrap()
            .expect("the progress table");
        let options: Option<String> = row.try_get_by_index(0).unwrap();
        assert_eq!(options.as_deref(), Some("fillfactor=50"));
    }
}
