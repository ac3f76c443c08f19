//! Creators: registration in batches with per-item results, search, a creator key that reads
//! only its own creator, its progress and its rewards.

use crate::support;

use serde_json::{Value, json};
use support::{As, TestApp, spawn_app};

async fn register(app: &TestApp, creators: Value) -> Value {
    app.post(
        "/api/v1/creators",
        &As::Admin,
        json!({ "creators": creators }),
    )
    .await
    .expect(200)
    .body
}

#[tokio::test]
async fn creators_are_registered_in_batches_listed_and_searched() {
    let app = spawn_app().await;
    let r = register(
        &app,
        json!([
            {"id": "dy_1001", "nickname": "小杨的美妆间", "category": "美妆"},
            {"id": "dy_1002", "nickname": "  ", "category": "服饰"},
            {"id": "dy_1003", "nickname": "义乌好物", "contact_email": "not-an-email"},
            {"id": "dy_1004", "nickname": "山货_张三", "contact_email": "zs@example.cn"}
        ]),
    )
    .await;
    assert_eq!(
        (
            r["created"].as_i64(),
            r["updated"].as_i64(),
            r["rejected"].as_i64()
        ),
        (Some(2), Some(0), Some(2)),
        "{r}"
    );
    let statuses: Vec<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["created", "rejected", "rejected", "created"]);
    assert_eq!(r["results"][1]["error"]["field"], "creators.1.nickname");
    assert_eq!(r["results"][1]["error"]["code"], "required");
    assert_eq!(
        r["results"][2]["error"]["field"],
        "creators.2.contact_email"
    );
    assert_eq!(r["results"][2]["error"]["code"], "email_invalid");

    // Upsert: the same id updates; an analyst may register too.
    let analyst = As::Staff(app.staff_token("analyst").await);
    let r = app
        .post(
            "/api/v1/creators",
            &analyst,
            json!({"creators": [{"id": "dy_1001", "nickname": "小杨美妆"}]}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (r["created"].as_i64(), r["updated"].as_i64()),
        (Some(0), Some(1))
    );
    let one = app
        .get("/api/v1/creators/dy_1001", &As::Admin)
        .await
        .expect(200)
        .body;
    assert_eq!(one["nickname"], "小杨美妆");
    assert!(
        one.get("category").is_none(),
        "an upsert replaces every field"
    );
    let reviewer = As::Staff(app.staff_token("reviewer").await);
    app.post(
        "/api/v1/creators",
        &reviewer,
        json!({"creators": [{"id": "x", "nickname": "y"}]}),
    )
    .await
    .expect_error(403, "insufficient_role");

    // Search by id or nickname, literally (`_` is not a wildcard); pages by id.
    let found = app
        .get("/api/v1/creators?q=%E5%B1%B1%E8%B4%A7_", &As::Admin)
        .await
        .expect(200)
        .body;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["id"], "dy_1004");
    let none = app
        .get("/api/v1/creators?q=dy_100_", &As::Admin)
        .await
        .expect(200)
        .body;
    assert_eq!(none["items"], json!([]));
    let page = app
        .get("/api/v1/creators?limit=1", &As::Admin)
        .await
        .expect(200)
        .body;
    assert_eq!(page["items"][0]["id"], "dy_1001");
    let next = page["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(
            &format!("/api/v1/creators?limit=1&cursor={next}"),
            &As::Admin,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(page2["items"][0]["id"], "dy_1004");
    assert!(page2.get("next_cursor").is_none());
    app.get("/api/v1/creators/dy_nobody", &As::Admin)
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn a_creator_key_reads_only_its_own_creator() {
    let app = spawn_app().await;
    register(
        &app,
        json!([{"id": "dy_a", "nickname": "甲"}, {"id": "dy_b", "nickname": "乙"}]),
    )
    .await;
    let issued = app
        .post("/api/v1/creators/dy_a/api-keys", &As::Admin, json!({}))
        .await
        .expect(201)
        .body;
    let key = issued["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("mic_"));
    app.post("/api/v1/creators/dy_nobody/api-keys", &As::Admin, json!({}))
        .await
        .expect_error(404, "not_found");
    let creator = As::Merchant(key.clone());

    // Its own creator, progress and rewards.
    assert_eq!(
        app.get("/api/v1/creators/dy_a", &creator)
            .await
            .expect(200)
            .body["nickname"],
        "甲"
    );
    app.get("/api/v1/creators/dy_a/progress", &creator)
        .await
        .expect(200);
    app.get("/api/v1/creators/dy_a/rewards", &creator)
        .await
        .expect(200);
    // Another creator: not found.
    for path in [
        "/api/v1/creators/dy_b",
        "/api/v1/creators/dy_b/progress",
        "/api/v1/creators/dy_b/rewards",
    ] {
        app.get(path, &creator).await.expect_error(404, "not_found");
    }
}

#[tokio::test]
async fn gmv_naming_an_unregistered_creator_is_rejected_item_by_item() {
    let app = spawn_app().await;
    let (_, key) = app.approved_merchant("brand").await;
    app.register_creators(&["dy_known"]).await;
    let sale = |id: &str, creator: &str| {
        json!({"external_id": id, "occurred_at": "2026-03-01T04:00:00Z", "amount": 1_000,
               "currency": "CNY", "channel": "live_stream", "creator_id": creator})
    };
    let r = app
        .post(
            "/api/v1/gmv/records",
            &As::Merchant(key),
            json!({"records": [sale("o-1", "dy_known"), sale("o-2", "dy_typo"), sale("o-3", "dy_known")]}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (r["created"].as_i64(), r["rejected"].as_i64()),
        (Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(r["results"][1]["status"], "rejected");
    assert_eq!(r["results"][1]["error"]["code"], "creator_unknown");
    assert_eq!(r["results"][1]["error"]["field"], "records.1.creator_id");
    let rollups = support::table_counts(&app.db).await;
    assert_eq!(rollups["gmv_record"], 2);
    assert_eq!(
        rollups["gmv_daily_creator"], 1,
        "only the known creator is rolled up"
    );
}

#[tokio::test]
async fn tier_emails_reach_creators_with_an_address_and_the_merchants_of_products() {
    let app = spawn_app().await;
    app.seed_programs().await;
    register(
        &app,
        json!([
            {"id": "dy_mail", "nickname": "有邮箱的达人", "contact_email": "daren@example.cn"},
            {"id": "dy_quiet", "nickname": "没有邮箱的达人"}
        ]),
    )
    .await;
    let (m, _) = app.approved_merchant("brand").await;
    // ¥1.5M each: the creator programme's first tier (¥1M).
    app.add_creator_rollup("dy_mail", m, "2026-02-10", "live_stream", 150_000_000)
        .await;
    app.add_creator_rollup("dy_quiet", m, "2026-02-10", "live_stream", 150_000_000)
        .await;
    // ¥12M of one product: the product programme's first tier (¥10M).
    app.add_product_rollup(m, "SKU-LIP-01", "2026-02-10", "live_stream", 1_200_000_000)
        .await;
    app.evaluate("2026-03-01T04:00:00Z").await;

    let mails: Vec<_> = app
        .outbox()
        .await
        .into_iter()
        .filter(|e| e.kind.as_str() == "tier_achieved")
        .collect();
    let to_creator: Vec<_> = mails
        .iter()
        .filter(|e| e.recipient == "daren@example.cn")
        .collect();
    assert_eq!(to_creator.len(), 1, "{mails:?}");
    assert!(to_creator[0].text_body.contains("有邮箱的达人"));
    assert!(to_creator[0].text_body.contains("百万达人"));
    let merchant = app
        .get(&format!("/api/v1/merchants/{m}"), &As::Admin)
        .await
        .expect(200)
        .body;
    let to_merchant: Vec<_> = mails
        .iter()
        .filter(|e| e.recipient == merchant["contact_email"].as_str().unwrap())
        .collect();
    assert!(
        to_merchant
            .iter()
            .any(|e| e.text_body.contains("商品 SKU-LIP-01") && e.text_body.contains("千万单品")),
        "{to_merchant:?}"
    );
    assert_eq!(
        mails.len(),
        1 + to_merchant.len(),
        "no email for a creator without an address"
    );
}
