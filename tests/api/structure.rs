//! The marketplace's counts and shares measured the way it means them: named products (in
//! progress, leaderboards and emails), the marketplace's own GMV as the denominator of the
//! structure shares, creators summed across merchants, history and trend from snapshots
//! written only on change, retention, the creator weekly report, the English staff digest and
//! the lists that gained pages.

use crate::support;

use chrono::NaiveDate;
use merchant_incentives::services::reports::history::prune_snapshots;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};
use support::{As, TestApp, spawn_app, spawn_app_with};

const WAN: i64 = 1_000_000; // ¥1万 in fen

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn names(items: &Value) -> Vec<(String, Option<String>)> {
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["subject_id"].as_str().unwrap().to_string(),
                i["name"].as_str().map(String::from),
            )
        })
        .collect()
}

#[tokio::test]
async fn products_are_named_in_progress_leaderboards_and_emails() {
    let app = spawn_app().await;
    app.seed_programs().await;
    let (m, key) = app.approved_merchant("brand").await;
    let (_, other_key) = app.approved_merchant("brand").await;
    let me = As::Merchant(key.clone());

    // A batch: two products and one rejected item; the others are written.
    let r = app
        .post(
            "/api/v1/me/products",
            &me,
            json!({"products": [
                {"product_id": "SKU-LIP-01", "name": "星河口红 礼盒装", "category": "美妆"},
                {"product_id": "SKU-EYE-02", "name": "眼影盘"},
                {"product_id": "SKU-BAD", "name": "坏\u{7}名字"},
            ]}),
        )
        .await
        .expect(200);
    assert_eq!(
        (&r.body["created"], &r.body["updated"], &r.body["rejected"]),
        (&json!(2), &json!(0), &json!(1)),
        "{}",
        r.text
    );
    assert_eq!(r.body["results"][2]["status"], "rejected");
    assert_eq!(
        r.body["results"][2]["error"]["field"], "products.2.name",
        "{}",
        r.text
    );
    // Sent again with a new name: updated.
    let r = app
        .post(
            "/api/v1/me/products",
            &me,
            json!({"products": [{"product_id": "SKU-EYE-02", "name": "大地色眼影盘"}]}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["updated"], 1, "{}", r.text);
    // A name longer than the document allows refuses the whole batch, and writes nothing.
    app.post(
        "/api/v1/me/products",
        &me,
        json!({"products": [
            {"product_id": "SKU-NEW", "name": "新品"},
            {"product_id": "SKU-LONG", "name": "长".repeat(201)},
        ]}),
    )
    .await
    .expect_error(422, "too_long");
    app.post("/api/v1/me/products", &me, json!({"products": []}))
        .await
        .expect(422);

    // Listed by product id, a page at a time; staff see them too, other merchants do not.
    let page = app
        .get("/api/v1/me/products?limit=1", &me)
        .await
        .expect(200);
    assert_eq!(page.body["items"][0]["product_id"], "SKU-EYE-02");
    let c = page.body["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(&format!("/api/v1/me/products?limit=1&cursor={c}"), &me)
        .await
        .expect(200);
    assert_eq!(page2.body["items"][0]["name"], "星河口红 礼盒装");
    assert!(page2.body["next_cursor"].is_null());
    let staff = app
        .get(&format!("/api/v1/merchants/{m}/products"), &As::Admin)
        .await
        .expect(200);
    assert_eq!(staff.body["items"].as_array().unwrap().len(), 2);
    app.get(
        &format!("/api/v1/merchants/{m}/products"),
        &As::Merchant(other_key),
    )
    .await
    .expect_error(404, "not_found");
    app.get("/api/v1/merchants/999999/products", &As::Admin)
        .await
        .expect_error(404, "not_found");

    // ¥12M of the lipstick, one unregistered product, and the merchant's own ¥13M.
    app.add_product_rollup(m, "SKU-LIP-01", "2026-02-10", "live_stream", 1_200 * WAN)
        .await;
    app.add_product_rollup(m, "SKU-RAW", "2026-02-10", "live_stream", 1_100 * WAN)
        .await;
    app.add_rollup(m, "2026-02-10", "live_stream", 1_300 * WAN)
        .await;
    app.evaluate("2026-03-01T04:00:00Z").await;

    // The merchant's progress holds itself and its products, named, a page at a time.
    let mine = app.get("/api/v1/me/progress", &me).await.expect(200).body;
    let display = app.get("/api/v1/me", &me).await.expect(200).body["display_name"]
        .as_str()
        .unwrap()
        .to_string();
    let mut got = names(&mine);
    got.sort();
    let mut want = vec![
        (m.to_string(), Some(display)),
        (
            format!("{m}:SKU-LIP-01"),
            Some("星河口红 礼盒装".to_string()),
        ),
        (format!("{m}:SKU-RAW"), None),
    ];
    want.sort();
    assert_eq!(got, want);
    let first = app
        .get("/api/v1/me/progress?limit=2", &me)
        .await
        .expect(200)
        .body;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let c = first["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("/api/v1/me/progress?limit=2&cursor={c}"), &me)
        .await
        .expect(200)
        .body;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let staff_view = app
        .get(&format!("/api/v1/merchants/{m}/progress"), &As::Admin)
        .await
        .expect(200)
        .body;
    assert_eq!(staff_view["items"], mine["items"]);

    // The product leaderboard names products.
    let products = app.seeded_program("products_100m").await;
    let board = app
        .get(&format!("/api/v1/programs/{products}/progress"), &As::Admin)
        .await
        .expect(200)
        .body;
    assert_eq!(
        names(&board),
        vec![
            (
                format!("{m}:SKU-LIP-01"),
                Some("星河口红 礼盒装".to_string())
            ),
            (format!("{m}:SKU-RAW"), None),
        ]
    );
    // The merchant hears of its product's tier by the product's name.
    let mails = app.outbox().await;
    assert!(
        mails.iter().any(|e| e.kind.as_str() == "tier_achieved"
            && e.merchant_id == Some(m)
            && e.text_body.contains("星河口红 礼盒装")),
        "{mails:?}"
    );
}

#[tokio::test]
async fn the_marketplace_gmv_is_recorded_by_admins_overwritten_and_audited() {
    let app = spawn_app_with(&[("STAFF_TOKENS", "")]).await;
    let body = |live: i64| json!({"channels": {"live_stream": live, "short_video": 200, "storefront": 300, "other": 4}});
    let r = app
        .put("/api/v1/platform/gmv/2026-11-15", &As::Admin, body(100))
        .await
        .expect(201);
    assert_eq!(r.body["total"], 604, "{}", r.text);
    let r = app
        .put("/api/v1/platform/gmv/2026-11-15", &As::Admin, body(1_000))
        .await
        .expect(200);
    assert_eq!(r.body["total"], 1_504, "{}", r.text);
    // A negative channel is refused, and nothing changes.
    app.put("/api/v1/platform/gmv/2026-11-15", &As::Admin, body(-1))
        .await
        .expect_error(422, "amount_out_of_range");
    app.put(
        "/api/v1/platform/gmv/2026-11-16",
        &As::Merchant("x".into()),
        body(1),
    )
    .await
    .expect(401);
    let list = app
        .get(
            "/api/v1/platform/gmv?from=2026-11-01&to=2026-11-30",
            &As::Admin,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["day"], "2026-11-15");
    assert_eq!(list["items"][0]["channels"]["live_stream"], 1_000);
    assert_eq!(list["items"][0]["total"], 1_504);
    app.get(
        "/api/v1/platform/gmv?from=2026-11-30&to=2026-11-01",
        &As::Admin,
    )
    .await
    .expect_error(422, "range_invalid");
    // Both writes are in the audit log.
    let log = app
        .get("/api/v1/audit-log?limit=500", &As::Admin)
        .await
        .expect(200)
        .body;
    let puts = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == "PUT /api/v1/platform/gmv/2026-11-15")
        .count();
    assert_eq!(puts, 2, "{log}");
}

#[tokio::test]
async fn gmv_structure_shares_are_of_the_marketplace_and_need_every_day() {
    let app = spawn_app().await;
    let (brand, _) = app.approved_merchant("brand").await;
    let (belt, _) = app.approved_merchant("industry_belt").await;
    let (belt2, _) = app.approved_merchant("industry_belt").await;
    // belt2 is a 广东 广州女装 merchant.
    entity::merchant::Entity::update_many()
        .set(entity::merchant::ActiveModel {
            province: Set("广东".into()),
            industry_belt: Set(Some("广州女装".into())),
            ..Default::default()
        })
        .filter(entity::merchant::Column::Id.eq(belt2))
        .exec(&app.db)
        .await
        .unwrap();
    // October: brand live ¥300万 (and ¥100万 short video, not counted), belt ¥200万 + ¥50万.
    // November: brand live ¥90万.
    app.add_rollup(brand, "2026-10-05", "live_stream", 300 * WAN)
        .await;
    app.add_rollup(brand, "2026-10-05", "short_video", 100 * WAN)
        .await;
    app.add_rollup(belt, "2026-10-06", "storefront", 200 * WAN)
        .await;
    app.add_rollup(belt2, "2026-10-07", "live_stream", 50 * WAN)
        .await;
    app.add_rollup(brand, "2026-11-03", "live_stream", 90 * WAN)
        .await;
    // The marketplace: ¥100万 every day of October through the API; November misses the 10th.
    for d in 1..=31 {
        app.put(
            &format!("/api/v1/platform/gmv/2026-10-{d:02}"),
            &As::Admin,
            json!({"channels": {"live_stream": 60 * WAN, "short_video": 30 * WAN, "storefront": 10 * WAN, "other": 0}}),
        )
        .await
        .expect(201);
    }
    support::set_platform_days(&app.db, "2026-11-01", "2026-11-09", 100 * WAN).await;
    support::set_platform_days(&app.db, "2026-11-11", "2026-11-30", 100 * WAN).await;

    let get = |q: &str| {
        let app = &app;
        let q = q.to_string();
        async move {
            app.get(&format!("/api/v1/insights/gmv-structure?{q}"), &As::Admin)
                .await
                .expect(200)
                .body
        }
    };
    let months = get("from=2026-10-01&to=2026-11-30&granularity=month").await;
    let items = months["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{months}");
    let oct = &items[0];
    // By hand: October's marketplace total is 31 × ¥100万 = ¥3,100万; brand live ¥300万 is
    // 967 bp of it, industry belt ¥250万 is 806 bp.
    assert_eq!(oct["period_start"], "2026-10-01");
    assert_eq!(oct["platform_total"], 3_100 * WAN);
    assert_eq!(oct["brand_live_stream"], 300 * WAN);
    assert_eq!(oct["industry_belt"], 250 * WAN);
    assert_eq!(oct["brand_live_stream_share_bp"], 300 * 10_000 / 3_100);
    assert_eq!(oct["brand_live_stream_share_bp"], 967);
    assert_eq!(oct["industry_belt_share_bp"], 806);
    assert_eq!(oct["coverage_days"], 31);
    assert_eq!(oct["onboarded_total"], 650 * WAN);
    // November misses a day: its figures are there, its shares and total are not.
    let nov = &items[1];
    assert_eq!(nov["brand_live_stream"], 90 * WAN);
    assert_eq!(nov["coverage_days"], 29);
    assert!(nov.get("platform_total").is_none(), "{nov}");
    assert!(nov.get("brand_live_stream_share_bp").is_none(), "{nov}");
    assert!(nov.get("industry_belt_share_bp").is_none(), "{nov}");

    // Weekly: the week of 5 Oct (Mon) holds all of October's GMV; shares of its 7 days.
    let weeks = get("from=2026-10-05&to=2026-10-11&granularity=week").await;
    let w = &weeks["items"][0];
    assert_eq!(w["platform_total"], 700 * WAN);
    assert_eq!(w["brand_live_stream_share_bp"], 300 * 10_000 / 700);
    assert_eq!(w["industry_belt_share_bp"], 250 * 10_000 / 700);
    // Daily: a day without GMV still has its item.
    let days = get("from=2026-11-09&to=2026-11-11&granularity=day").await;
    let cover: Vec<i64> = days["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["coverage_days"].as_i64().unwrap())
        .collect();
    assert_eq!(cover, vec![1, 0, 1]);

    // By industry belt: the brand merchant has none; each belt's share is of the whole
    // marketplace.
    let belts = get("from=2026-10-01&to=2026-10-31&group_by=industry_belt").await;
    let by_group: Vec<(Option<&str>, i64, i64)> = belts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["group"].as_str(),
                i["industry_belt"].as_i64().unwrap(),
                i["industry_belt_share_bp"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_group,
        vec![
            (None, 0, 0),
            (Some("义乌小商品"), 200 * WAN, 200 * 10_000 / 3_100),
            (Some("广州女装"), 50 * WAN, 50 * 10_000 / 3_100),
        ]
    );
    let provinces = get("from=2026-10-01&to=2026-10-31&group_by=province").await;
    let groups: Vec<&str> = provinces["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, vec!["广东", "浙江"]);

    // Suspending a merchant takes its GMV out of the structure (its belt's group goes too);
    // reinstating it brings it back, before and after the changes are folded.
    let october = || async {
        let m = get("from=2026-10-01&to=2026-10-31").await;
        let belts = get("from=2026-10-01&to=2026-10-31&group_by=industry_belt").await;
        let groups: Vec<String> = belts["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["group"].as_str().unwrap_or("-").to_string())
            .collect();
        (m["items"][0]["industry_belt"].as_i64().unwrap(), groups)
    };
    let before = october().await;
    assert_eq!(before.0, 250 * WAN);
    app.decide(belt, "suspend", "复核资质").await.expect(200);
    let suspended = october().await;
    assert_eq!(suspended.0, 50 * WAN);
    assert_eq!(suspended.1, vec!["-", "广州女装"]);
    support::assert_structure_matches_rollups(&app.db).await;
    assert_eq!(october().await, suspended);
    app.decide(belt, "reinstate", "").await.expect(200);
    assert_eq!(october().await, before);
    support::assert_structure_matches_rollups(&app.db).await;
    assert_eq!(october().await, before);

    app.get(
        "/api/v1/insights/gmv-structure?from=2024-01-01&to=2026-10-01",
        &As::Admin,
    )
    .await
    .expect_error(422, "range_too_long");
}

#[tokio::test]
async fn a_creators_value_is_summed_across_two_merchants_and_reported_weekly() {
    let app = spawn_app().await;
    app.seed_programs().await;
    app.post(
        "/api/v1/creators",
        &As::Admin,
        json!({"creators": [
            {"id": "dy_two", "nickname": "两家店的达人", "contact_email": "two@daren.example"},
            {"id": "dy_none", "nickname": "没有邮箱"}
        ]}),
    )
    .await
    .expect(200);
    let (a, _) = app.approved_merchant("brand").await;
    let (b, _) = app.approved_merchant("industry_belt").await;
    // ¥600万 with one merchant and ¥500万 with the other, in the week of 16–22 Nov.
    app.add_creator_rollup("dy_two", a, "2026-11-17", "live_stream", 600 * WAN)
        .await;
    app.add_creator_rollup("dy_two", b, "2026-11-18", "short_video", 500 * WAN)
        .await;
    app.add_creator_rollup("dy_none", a, "2026-11-18", "live_stream", 5 * WAN)
        .await;
    app.evaluate("2026-11-23T01:00:00Z").await;
    let progress = app
        .get("/api/v1/creators/dy_two/progress", &As::Admin)
        .await
        .expect(200)
        .body;
    let entry = &progress["items"][0];
    assert_eq!(entry["value"], 1_100 * WAN, "{progress}");
    assert_eq!(entry["tier"], "千万达人 ¥10M");
    assert_eq!(entry["name"], "两家店的达人");
    let creators = app.seeded_program("creators_10m").await;
    let board = app
        .get(&format!("/api/v1/programs/{creators}/progress"), &As::Admin)
        .await
        .expect(200)
        .body;
    assert_eq!(
        names(&board),
        vec![
            ("dy_two".to_string(), Some("两家店的达人".to_string())),
            ("dy_none".to_string(), Some("没有邮箱".to_string())),
        ]
    );

    // The weekly run reports to the creator with an address, its GMV summed across both.
    let run = app
        .digest(json!({"kind": "merchant_weekly", "as_of": "2026-11-23T01:00:00Z"}))
        .await;
    let mails: Vec<_> = app
        .outbox()
        .await
        .into_iter()
        .filter(|e| e.kind.as_str() == "creator_weekly")
        .collect();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.recipient, "two@daren.example");
    assert_eq!(mail.dedupe_key, "creator_weekly:dy_two:2026-11-16");
    assert!(mail.subject.contains("两家店的达人"), "{}", mail.subject);
    assert!(mail.subject.contains("¥1,100.00万"), "{}", mail.subject);
    for expected in ["千万达人 ¥10M", "¥600.00万", "¥500.00万", "待确认"] {
        assert!(
            mail.text_body.contains(expected),
            "{expected} missing from {}",
            mail.text_body
        );
    }
    assert!(
        run.body["recipients"].as_i64().unwrap() >= 3,
        "{}",
        run.text
    );
    let again = app
        .digest(json!({"kind": "merchant_weekly", "as_of": "2026-11-23T02:00:00Z"}))
        .await;
    assert_eq!(again.body["queued"], 0, "{}", again.text);
}

/// The merchant programme's history of one merchant across a refund, each day's last snapshot.
#[tokio::test]
async fn history_follows_a_subject_across_a_refund_and_the_trend_counts_tiers_per_day() {
    let app = spawn_app().await;
    app.seed_programs().await;
    let program = app.seeded_program("merchants_100m").await;
    let (a, _) = app.approved_merchant("brand").await;
    let (b, _) = app.approved_merchant("brand").await;
    // 1 Mar: A sells ¥1,200万 (the ¥10M tier); B ¥6,000万 (the ¥50M tier).
    app.add_rollup(a, "2026-03-01", "live_stream", 1_200 * WAN)
        .await;
    app.add_rollup(b, "2026-03-01", "live_stream", 6_000 * WAN)
        .await;
    app.evaluate("2026-03-02T04:00:00Z").await;
    // 3 Mar: A refunds ¥500万 (below the tier again); evaluated twice on the 4th, the second
    // time after another ¥100万 arrived: the day keeps its last snapshot.
    app.add_rollup(a, "2026-03-03", "live_stream", -500 * WAN)
        .await;
    app.evaluate("2026-03-04T01:00:00Z").await;
    app.add_rollup(a, "2026-03-03", "storefront", 100 * WAN)
        .await;
    app.evaluate("2026-03-04T02:00:00Z").await;
    // 5 Mar: ¥600万 more: the tier again.
    app.add_rollup(a, "2026-03-05", "live_stream", 600 * WAN)
        .await;
    app.evaluate("2026-03-06T04:00:00Z").await;
    // The same instant again changes nothing, so it writes no snapshot.
    let before = entity::progress_snapshot::Entity::find()
        .count(&app.db)
        .await
        .unwrap();
    app.evaluate("2026-03-06T04:00:00Z").await;
    let after = entity::progress_snapshot::Entity::find()
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(before, after, "an unchanged standing writes no snapshot");

    let history = app
        .get(
            &format!(
                "/api/v1/programs/{program}/subjects/merchant/{a}/history?from=2026-03-01&to=2026-03-31"
            ),
            &As::Admin,
        )
        .await
        .expect(200)
        .body;
    let series: Vec<(&str, i64, Option<&str>)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["day"].as_str().unwrap(),
                i["value"].as_i64().unwrap(),
                i["tier"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        series,
        vec![
            ("2026-03-02", 1_200 * WAN, Some("千万商家 ¥10M")),
            ("2026-03-04", 800 * WAN, None),
            ("2026-03-06", 1_400 * WAN, Some("千万商家 ¥10M")),
        ]
    );
    // Below the tier again, but its run rate still reaches it by the year's end.
    assert_eq!(history["items"][1]["status"], "on_track");
    // Unknown subjects, and a subject type the programme does not rank, are not found.
    app.get(
        &format!("/api/v1/programs/{program}/subjects/merchant/424242/history"),
        &As::Admin,
    )
    .await
    .expect_error(404, "not_found");
    app.get(
        &format!("/api/v1/programs/{program}/subjects/creator/{a}/history"),
        &As::Admin,
    )
    .await
    .expect_error(404, "not_found");

    // The trend: per day, subjects at or above each tier.
    let trend = app
        .get(
            &format!("/api/v1/programs/{program}/trend?from=2026-03-01&to=2026-03-07"),
            &As::Admin,
        )
        .await
        .expect(200)
        .body;
    let per_day: Vec<(&str, i64, Vec<i64>)> = trend["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["day"].as_str().unwrap(),
                i["subjects"].as_i64().unwrap(),
                i["per_tier"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["at_or_above"].as_i64().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        per_day,
        vec![
            ("2026-03-01", 0, vec![0, 0, 0]),
            ("2026-03-02", 2, vec![2, 1, 0]),
            ("2026-03-03", 2, vec![2, 1, 0]),
            ("2026-03-04", 2, vec![1, 1, 0]),
            ("2026-03-05", 2, vec![1, 1, 0]),
            ("2026-03-06", 2, vec![2, 1, 0]),
            ("2026-03-07", 2, vec![2, 1, 0]),
        ]
    );
    app.get(
        &format!("/api/v1/programs/{program}/trend?from=2026-03-07&to=2026-03-01"),
        &As::Admin,
    )
    .await
    .expect_error(422, "range_invalid");

    // One answer: the trend's last day is the summary's standing.
    let summary = app
        .get(
            &format!("/api/v1/programs/{program}/summary?as_of=2026-03-07T00:00:00Z"),
            &As::Admin,
        )
        .await
        .expect(200)
        .body;
    let last = &trend["items"][6];
    assert_eq!(last["subjects"], summary["subjects"], "{summary}");
    assert_eq!(
        last["projected_top_tier"], summary["projected_top_tier"],
        "{summary}"
    );
    let tiers = |v: &serde_json::Value, key: &str, count: &str| -> Vec<i64> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t[count].as_i64().unwrap())
            .collect()
    };
    assert_eq!(
        tiers(last, "per_tier", "at_or_above"),
        tiers(&summary, "tiers", "subjects"),
        "{summary}"
    );

    // A database from before the tallies gets them from its snapshots: the trend is the same.
    use migration::{Migrator, MigratorTrait};
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let tally = names
        .iter()
        .position(|n| n == "m20261203_000016_tier_tally")
        .expect("the tally migration");
    Migrator::down(&app.db, Some((names.len() - tally) as u32))
        .await
        .unwrap();
    Migrator::up(&app.db, None).await.unwrap();
    let again = app
        .get(
            &format!("/api/v1/programs/{program}/trend?from=2026-03-01&to=2026-03-07"),
            &As::Admin,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(again["items"], trend["items"]);
}

async fn snapshot(app: &TestApp, subject: &str, d: &str, value: i64) -> i64 {
    snapshot_in(app, "2026-01-01", subject, d, value).await
}

async fn snapshot_in(app: &TestApp, period: &str, subject: &str, d: &str, value: i64) -> i64 {
    use sea_orm::ActiveModelTrait;
    entity::progress_snapshot::ActiveModel {
        run_id: Set(1),
        program_id: Set(1),
        period_start: Set(day(period)),
        subject_id: Set(subject.into()),
        value: Set(value),
        tier_index: Set(-1),
        projected: Set(value),
        status: Set(entity::enums::ProgressStatus::Behind),
        evaluated_at: Set(chrono::Utc::now()),
        day: Set(day(d)),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap()
    .id
}

#[tokio::test]
async fn retention_keeps_exactly_each_days_last_snapshot_and_never_the_newest() {
    let app = spawn_app().await;
    // Subject s1: three snapshots on 1 Oct, one on 2 Oct, two on 20 Nov (recent).
    let mut kept = Vec::new();
    snapshot(&app, "s1", "2026-10-01", 1).await;
    snapshot(&app, "s1", "2026-10-01", 2).await;
    kept.push(snapshot(&app, "s1", "2026-10-01", 3).await);
    kept.push(snapshot(&app, "s1", "2026-10-02", 4).await);
    kept.push(snapshot(&app, "s1", "2026-11-20", 5).await);
    kept.push(snapshot(&app, "s1", "2026-11-20", 6).await);
    // Subject s2 changed twice on 1 Oct and never since: its newest is its day's last.
    snapshot(&app, "s2", "2026-10-01", 7).await;
    kept.push(snapshot(&app, "s2", "2026-10-01", 8).await);
    // Subject s3 on 1 Oct in two periods (a closed one evaluated again in its reopen days):
    // each period keeps its day's last, even one older than the other period's.
    snapshot_in(&app, "2026-01-01", "s3", "2026-10-01", 9).await;
    kept.push(snapshot_in(&app, "2025-10-01", "s3", "2026-10-01", 10).await);
    kept.push(snapshot_in(&app, "2026-01-01", "s3", "2026-10-01", 11).await);

    let deleted = prune_snapshots(&app.db, day("2026-11-25"), 35)
        .await
        .unwrap();
    assert_eq!(deleted, 4);
    let mut left: Vec<i64> = entity::progress_snapshot::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    left.sort();
    kept.sort();
    assert_eq!(left, kept);
    // Again: nothing more to thin.
    assert_eq!(
        prune_snapshots(&app.db, day("2026-11-25"), 35)
            .await
            .unwrap(),
        0
    );

    // The scheduled evaluation tick thins them too, once, on the replica that claimed it.
    snapshot(&app, "s1", "2026-10-02", 9).await;
    let tick = "2026-11-26T04:00:00Z".parse().unwrap();
    merchant_incentives::jobs::evaluate::run_tick(
        &app.db,
        tick,
        "replica-a",
        chrono::Duration::seconds(30),
        35,
    )
    .await
    .unwrap()
    .expect("claimed");
    let oct2 = entity::progress_snapshot::Entity::find()
        .filter(entity::progress_snapshot::Column::Day.eq(day("2026-10-02")))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(oct2.len(), 1);
    assert_eq!(oct2[0].value, 9, "the day's last one is kept");
}

#[tokio::test]
async fn the_staff_digest_is_available_in_english() {
    let app = spawn_app_with(&[
        ("STAFF_DIGEST_TO", "ops@example.cn"),
        ("STAFF_DIGEST_LOCALE", "en"),
    ])
    .await;
    app.seed_programs().await;
    let (m, _) = app.approved_merchant("brand").await;
    app.add_rollup(m, "2026-11-20", "live_stream", 1_200 * WAN)
        .await;
    support::set_platform_days(&app.db, "2026-01-01", "2026-11-23", 1_000 * WAN).await;
    app.evaluate("2026-11-23T01:00:00Z").await;
    app.digest(json!({"kind": "staff_daily", "as_of": "2026-11-23T01:00:00Z"}))
        .await;
    let mail = app
        .outbox()
        .await
        .into_iter()
        .find(|e| e.kind.as_str() == "staff_daily")
        .unwrap();
    assert_eq!(mail.locale.as_str(), "en");
    assert!(
        mail.subject.starts_with("[Daily digest] 2026-11-23"),
        "{}",
        mail.subject
    );
    for body in [&mail.text_body, &mail.html_body] {
        for expected in [
            "Top tier",
            "Brand live-stream share",
            "Marketplace GMV",
            "Days with marketplace totals 327/327",
            "Newly achieved",
        ] {
            assert!(body.contains(expected), "{expected} missing from {body}");
        }
        for zh in ["最高档", "品牌直播占比", "新达成", "撤销"] {
            assert!(!body.contains(zh), "{zh} left in the English digest");
        }
    }
    assert!(mail.html_body.contains("<html lang=\"en\">"));
    // ¥1,200万 brand live stream of the marketplace's 327 × ¥1,000万: 0.36%.
    assert!(mail.text_body.contains("0.36%"), "{}", mail.text_body);
}

#[tokio::test]
async fn decisions_keys_and_staff_tokens_come_in_pages() {
    let app = spawn_app().await;
    let (m, key) = app.approved_merchant("brand").await;
    app.decide(m, "suspend", "核查").await.expect(200);
    app.decide(m, "reinstate", "").await.expect(200);
    let page = |path: String, who: As| {
        let app = &app;
        async move {
            let mut seen = Vec::new();
            let mut cursor = String::new();
            loop {
                let sep = if path.contains('?') { '&' } else { '?' };
                let r = app
                    .get(&format!("{path}{sep}limit=2{cursor}"), &who)
                    .await
                    .expect(200)
                    .body;
                let items = r["items"].as_array().unwrap();
                assert!(items.len() <= 2);
                seen.extend(items.iter().map(|i| i["id"].as_i64().unwrap()));
                match r["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => break,
                }
            }
            seen
        }
    };
    // approve, suspend, reinstate: three decisions over two pages, oldest first.
    let decisions = page(format!("/api/v1/merchants/{m}/decisions"), As::Admin).await;
    assert_eq!(decisions.len(), 3);
    assert!(decisions.windows(2).all(|w| w[0] < w[1]));
    // Four more keys: five over three pages.
    let me = As::Merchant(key);
    for _ in 0..4 {
        app.post("/api/v1/me/api-keys", &me, json!({}))
            .await
            .expect(201);
    }
    let keys = page("/api/v1/me/api-keys".into(), me.clone()).await;
    assert_eq!(keys.len(), 5);
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    // Staff tokens made with the CLI's service.
    for n in 0..3 {
        merchant_incentives::services::staff::create(
            &app.db,
            &format!("ops-{n}"),
            merchant_incentives::services::staff::Role::Analyst,
        )
        .await
        .unwrap();
    }
    let tokens = page("/api/v1/staff/tokens".into(), As::Admin).await;
    assert_eq!(tokens.len(), 3);
    app.get("/api/v1/staff/tokens?cursor=%2A", &As::Admin)
        .await
        .expect_error(422, "invalid_cursor");
    app.get("/api/v1/staff/tokens?limit=0", &As::Admin)
        .await
        .expect_error(422, "limit_out_of_range");
}
