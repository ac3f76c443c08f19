//! Programmes: definitions, validation, who may read and write them, and the seeded goals.

use crate::support;

use serde_json::{Value, json};
use support::{As, spawn_app};

fn programme() -> Value {
    json!({
        "name": "品牌直播季度之星",
        "subject": "merchant",
        "merchant_kinds": ["brand"],
        "metric": "channel_gmv",
        "channel": "live_stream",
        "period": "quarter",
        "time_zone": "Asia/Shanghai",
        "starts_on": "2026-01-01",
        "tiers": [
            {"name": "¥1M", "threshold": 100_000_000},
            {"name": "¥5M", "threshold": 500_000_000}
        ],
        "goal": 200
    })
}

#[tokio::test]
async fn admins_create_programmes_and_invalid_definitions_are_422() {
    let app = spawn_app().await;
    let created = app
        .post("/api/v1/programs", &As::Admin, programme())
        .await
        .expect(201);
    assert_eq!(created.body["metric"], "channel_gmv");
    assert_eq!(created.body["channel"], "live_stream");
    assert_eq!(created.body["tiers"][1]["threshold"], 500_000_000);
    assert_eq!(created.body["active"], true);

    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "descending",
            json!([{"name": "a", "threshold": 500}, {"name": "b", "threshold": 100}]),
            "tiers.1.threshold",
            "tiers_not_ascending",
        ),
        (
            "duplicate threshold",
            json!([{"name": "a", "threshold": 100}, {"name": "b", "threshold": 100}]),
            "tiers.1.threshold",
            "tiers_not_ascending",
        ),
        (
            "duplicate name",
            json!([{"name": "a", "threshold": 100}, {"name": "a", "threshold": 200}]),
            "tiers.1.name",
            "tier_name_duplicate",
        ),
        ("empty", json!([]), "tiers", "tiers_empty"),
    ];
    for (what, tiers, field, code) in cases {
        let mut body = programme();
        body["tiers"] = tiers;
        let r = app
            .post("/api/v1/programs", &As::Admin, body)
            .await
            .expect_error(422, code);
        assert_eq!(r.body["field"], field, "{what}");
    }
    let mut body = programme();
    body["time_zone"] = json!("Asia/Atlantis");
    let r = app
        .post("/api/v1/programs", &As::Admin, body)
        .await
        .expect_error(422, "time_zone_unknown");
    assert_eq!(r.body["field"], "time_zone");
    let mut body = programme();
    body.as_object_mut().unwrap().remove("channel");
    let r = app
        .post("/api/v1/programs", &As::Admin, body)
        .await
        .expect_error(422, "channel_required");
    assert_eq!(r.body["field"], "channel");

    // Nothing was written by the refused requests.
    let list = app.get("/api/v1/programs", &As::Admin).await.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);

    // Only admins write.
    let reviewer = app.staff_token("reviewer").await;
    app.post("/api/v1/programs", &As::Staff(reviewer), programme())
        .await
        .expect_error(403, "insufficient_role");
    let (_, key) = app.approved_merchant("brand").await;
    app.post("/api/v1/programs", &As::Merchant(key), programme())
        .await
        .expect_error(401, "staff_only");
}

#[tokio::test]
async fn staff_read_everything_and_merchants_only_active_programmes() {
    let app = spawn_app().await;
    let active = app
        .post("/api/v1/programs", &As::Admin, programme())
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();
    let mut body = programme();
    body["name"] = json!("draft");
    body["active"] = json!(false);
    let inactive = app
        .post("/api/v1/programs", &As::Admin, body)
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();

    let analyst = As::Staff(app.staff_token("analyst").await);
    let all = app.get("/api/v1/programs", &analyst).await.expect(200);
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
    app.get(&format!("/api/v1/programs/{inactive}"), &analyst)
        .await
        .expect(200);

    let (merchant_id, key) = app.approved_merchant("industry_belt").await;
    let merchant = As::Merchant(key);
    // Progress in an inactive programme is not shown, to the merchant or to staff.
    for program in [active, inactive] {
        support::insert_progress(
            &app.db,
            program,
            ("2026-01-01", "2026-03-31"),
            merchant_id,
            1_000,
            (-1, None),
            None,
            1_000,
            "behind",
        )
        .await;
    }
    for (path, who) in [
        ("/api/v1/me/progress".to_string(), &merchant),
        (
            format!("/api/v1/merchants/{merchant_id}/progress"),
            &analyst,
        ),
    ] {
        let progress = app.get(&path, who).await.expect(200);
        let programs: Vec<i64> = progress.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["program_id"].as_i64().unwrap())
            .collect();
        assert_eq!(programs, vec![active], "{path}");
    }
    let seen = app.get("/api/v1/programs", &merchant).await.expect(200);
    let ids: Vec<i64> = seen.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![active]);
    app.get(&format!("/api/v1/programs/{active}"), &merchant)
        .await
        .expect(200);
    app.get(&format!("/api/v1/programs/{inactive}"), &merchant)
        .await
        .expect_error(404, "not_found");
    app.patch(
        &format!("/api/v1/programs/{active}"),
        &analyst,
        json!({"goal": 5}),
    )
    .await
    .expect_error(403, "insufficient_role");

    // Paging by id.
    let page = app
        .get("/api/v1/programs?limit=1", &analyst)
        .await
        .expect(200);
    assert_eq!(page.body["items"][0]["id"], active);
    let cursor = page.body["next_cursor"].as_str().unwrap().to_string();
    let page = app
        .get(
            &format!("/api/v1/programs?limit=1&cursor={cursor}"),
            &analyst,
        )
        .await
        .expect(200);
    assert_eq!(page.body["items"][0]["id"], inactive);
    assert!(page.body["next_cursor"].is_null());
}

#[tokio::test]
async fn edits_are_validated_as_a_whole() {
    let app = spawn_app().await;
    let id = app
        .post("/api/v1/programs", &As::Admin, programme())
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/programs/{id}");
    let r = app
        .patch(
            &path,
            &As::Admin,
            json!({"goal": 300, "tiers": [{"name": "¥2M", "threshold": 200_000_000}]}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["goal"], 300);
    assert_eq!(r.body["tiers"].as_array().unwrap().len(), 1);
    // Switching to plain GMV with a channel is refused; without one, the channel is dropped.
    app.patch(
        &path,
        &As::Admin,
        json!({"metric": "gmv", "channel": "live_stream"}),
    )
    .await
    .expect_error(422, "channel_not_allowed");
    app.patch(&path, &As::Admin, json!({"metric": "gmv", "channel": null}))
        .await
        .expect_error(400, "null_not_allowed");
    let r = app
        .patch(&path, &As::Admin, json!({"metric": "gmv"}))
        .await
        .expect(200);
    assert!(r.body["channel"].is_null());
    assert_eq!(r.body["metric"], "gmv");
    app.patch(&path, &As::Admin, json!({"time_zone": "Nowhere/Else"}))
        .await
        .expect_error(422, "time_zone_unknown");
    let unchanged = app.get(&path, &As::Admin).await.expect(200);
    assert_eq!(unchanged.body["time_zone"], "Asia/Shanghai");
    app.patch("/api/v1/programs/999999", &As::Admin, json!({"goal": 1}))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn the_public_goals_are_seeded_once() {
    let app = spawn_app().await;
    app.seed_programs().await;
    app.seed_programs().await;
    let list = app.get("/api/v1/programs", &As::Admin).await.expect(200);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let by_key = |k: &str| {
        items
            .iter()
            .find(|p| p["seed_key"] == k)
            .unwrap_or_else(|| panic!("{k} seeded"))
            .clone()
    };
    let m = by_key("merchants_100m");
    assert_eq!(m["subject"], "merchant");
    assert_eq!(m["goal"], 1000);
    assert_eq!(m["period"], "year");
    assert_eq!(m["time_zone"], "Asia/Shanghai");
    assert_eq!(m["starts_on"], "2026-01-01");
    let thresholds: Vec<i64> = m["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["threshold"].as_i64().unwrap())
        .collect();
    assert_eq!(
        thresholds,
        vec![1_000_000_000, 5_000_000_000, 10_000_000_000]
    );
    let c = by_key("creators_10m");
    assert_eq!(
        (c["subject"].clone(), c["goal"].clone()),
        (json!("creator"), json!(10000))
    );
    assert_eq!(c["tiers"][2]["threshold"], 1_000_000_000);
    let p = by_key("products_100m");
    assert_eq!(
        (p["subject"].clone(), p["goal"].clone()),
        (json!("product"), json!(100))
    );
    assert_eq!(p["tiers"][2]["threshold"], 10_000_000_000i64);
}
