//! Merchant onboarding: applications, review, the audit trail, API keys and access control.

use crate::support;

use serde_json::{Value, json};
use support::{As, spawn_app, spawn_app_with};

async fn merchant_count(app: &support::TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::merchant::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn applying_returns_the_merchant_and_a_key_shown_once() {
    let app = spawn_app().await;
    let body = app.application("brand");
    let r = app
        .post("/api/v1/merchants", &As::Anonymous, body.clone())
        .await
        .expect(201);
    let m = &r.body["merchant"];
    assert_eq!(m["status"], "submitted");
    assert_eq!(m["kind"], "brand");
    assert_eq!(
        m["legal_name"], body["legal_name"],
        "Chinese names kept verbatim"
    );
    assert_eq!(m["uscc"], body["uscc"]);
    let key = r.body["api_key"]["key"].as_str().unwrap().to_string();
    assert!(
        key.starts_with("mik_") && key.len() >= 4 + 32,
        "prefixed, ≥128 bits: {key}"
    );
    assert!(key.starts_with(r.body["api_key"]["prefix"].as_str().unwrap()));

    let me = app
        .get("/api/v1/me", &As::Merchant(key.clone()))
        .await
        .expect(200);
    assert_eq!(me.body["id"], m["id"]);
    // The key is never stored in clear, and never shown again.
    let keys = app
        .get("/api/v1/me/api-keys", &As::Merchant(key.clone()))
        .await
        .expect(200);
    assert!(!keys.text.contains(&key));
    let rows = entity::api_key::Entity::find_all(&app.db).await;
    assert!(
        rows.iter()
            .all(|k| k.key_hash != key && !k.key_hash.contains(&key[4..]))
    );
    // Applying queued the acknowledgement email.
    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].kind.as_str(), "onboarding_status");
    assert_eq!(outbox[0].recipient, body["contact_email"].as_str().unwrap());
}

trait FindAll: sea_orm::EntityTrait {
    async fn find_all(
        db: &sea_orm::DatabaseConnection,
    ) -> Vec<<Self as sea_orm::EntityTrait>::Model> {
        Self::find().all(db).await.unwrap()
    }
}
impl FindAll for entity::api_key::Entity {}

#[tokio::test]
async fn invalid_applications_are_422_naming_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let valid = app.application("brand");
    let mut cases: Vec<(Value, &str, &str)> = Vec::new();
    let mut with = |f: &dyn Fn(&mut Value), field: &'static str, code: &'static str| {
        let mut b = valid.clone();
        f(&mut b);
        cases.push((b, field, code));
    };
    with(
        &|b| b["uscc"] = json!("91440300708461136U"),
        "uscc",
        "uscc_invalid",
    );
    with(
        &|b| b["uscc"] = json!("9144030070846113"),
        "uscc",
        "uscc_invalid",
    );
    with(
        &|b| b["contact_email"] = json!("not-an-email"),
        "contact_email",
        "email_invalid",
    );
    with(
        &|b| {
            b.as_object_mut().unwrap().remove("brand_name");
        },
        "brand_name",
        "required",
    );
    with(
        &|b| b["trademark_number"] = json!(""),
        "trademark_number",
        "required",
    );
    with(
        &|b| b["legal_name"] = json!("名".repeat(201)),
        "legal_name",
        "too_long",
    );
    with(
        &|b| b["legal_name"] = json!("   "),
        "legal_name",
        "required",
    );
    with(
        &|b| b["display_name"] = json!("a\u{7}b"),
        "display_name",
        "control_characters",
    );
    with(
        &|b| {
            b["kind"] = json!("industry_belt");
        },
        "industry_belt",
        "required",
    );
    for (body, field, code) in cases {
        let r = app
            .post("/api/v1/merchants", &As::Anonymous, body)
            .await
            .expect_error(422, code);
        assert_eq!(r.body["field"], field, "{}", r.text);
    }
    // Wrong types, nulls and unknown enum values are malformed requests.
    let mut b = valid.clone();
    b["brand_name"] = Value::Null;
    let r = app
        .post("/api/v1/merchants", &As::Anonymous, b)
        .await
        .expect_error(400, "null_not_allowed");
    assert_eq!(r.body["field"], "brand_name");
    let mut b = valid.clone();
    b["kind"] = json!("factory");
    app.post("/api/v1/merchants", &As::Anonymous, b)
        .await
        .expect_error(400, "bad_request");
    let mut b = valid.clone();
    b["legal_name"] = json!(12);
    app.post("/api/v1/merchants", &As::Anonymous, b)
        .await
        .expect_error(400, "bad_request");
    assert_eq!(merchant_count(&app).await, 0);
    assert!(app.outbox().await.is_empty());

    app.post("/api/v1/merchants", &As::Anonymous, valid.clone())
        .await
        .expect(201);
    let mut again = app.application("industry_belt");
    again["uscc"] = valid["uscc"].clone();
    let r = app
        .post("/api/v1/merchants", &As::Anonymous, again)
        .await
        .expect_error(409, "uscc_taken");
    assert_eq!(r.body["field"], "uscc");
    assert_eq!(merchant_count(&app).await, 1);
}

#[tokio::test]
async fn the_status_machine_is_enforced_and_audited() {
    let app = spawn_app().await;
    let reviewer = app.staff_token("reviewer").await;
    let (id, key) = app.register_merchant("industry_belt").await;
    let decide = |action: &str, reason: &str| {
        let (action, reason) = (action.to_string(), reason.to_string());
        let reviewer = reviewer.clone();
        let app = &app;
        async move {
            app.post(
                &format!("/api/v1/merchants/{id}/decisions"),
                &As::Staff(reviewer),
                json!({"action": action, "reason": reason}),
            )
            .await
        }
    };
    // Not approved yet: may read itself, but is not approved.
    app.get("/api/v1/me", &As::Merchant(key.clone()))
        .await
        .expect(200);
    decide("suspend", "x")
        .await
        .expect_error(409, "invalid_transition");
    let r = decide("reinstate", "")
        .await
        .expect_error(409, "invalid_transition");
    assert!(
        r.body["message"].as_str().unwrap().contains("submitted"),
        "names the current status"
    );
    decide("request_changes", "")
        .await
        .expect_error(422, "required");
    let m = decide("request_changes", "请补充商标注册证")
        .await
        .expect(200);
    assert_eq!(m.body["status"], "changes_requested");

    // Editing in changes_requested re-submits.
    let m = app
        .patch(
            "/api/v1/me",
            &As::Merchant(key.clone()),
            json!({"display_name": "星辰日用旗舰店"}),
        )
        .await
        .expect(200);
    assert_eq!(m.body["status"], "submitted");
    assert_eq!(m.body["display_name"], "星辰日用旗舰店");

    let m = decide("approve", "").await.expect(200);
    assert_eq!(m.body["status"], "approved");
    decide("approve", "")
        .await
        .expect_error(409, "invalid_transition");
    app.patch(
        "/api/v1/me",
        &As::Merchant(key.clone()),
        json!({"city": "义乌"}),
    )
    .await
    .expect_error(409, "not_editable");

    decide("suspend", "涉嫌刷单").await.expect(200);
    // A suspended merchant reads its own account, status and reason, and nothing else.
    let me = app
        .get("/api/v1/me", &As::Merchant(key.clone()))
        .await
        .expect(200);
    assert_eq!(me.body["status"], "suspended");
    assert_eq!(me.body["status_reason"], "涉嫌刷单");
    app.get("/api/v1/me/progress", &As::Merchant(key.clone()))
        .await
        .expect_error(403, "merchant_suspended");
    decide("reinstate", "").await.expect(200);
    app.get("/api/v1/me", &As::Merchant(key.clone()))
        .await
        .expect(200);

    let trail = app
        .get(&format!("/api/v1/merchants/{id}/decisions"), &As::Admin)
        .await
        .expect(200);
    let steps: Vec<(String, String, String)> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["action"].as_str().unwrap().to_string(),
                d["from_status"].as_str().unwrap().to_string(),
                d["to_status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("request_changes", "submitted", "changes_requested"),
        ("resubmit", "changes_requested", "submitted"),
        ("approve", "submitted", "approved"),
        ("suspend", "approved", "suspended"),
        ("reinstate", "suspended", "approved"),
    ];
    assert_eq!(
        steps,
        expected
            .iter()
            .map(|(a, f, t)| (a.to_string(), f.to_string(), t.to_string()))
            .collect::<Vec<_>>()
    );
    let first = &trail.body["items"][0];
    assert!(
        first["actor"]
            .as_str()
            .unwrap()
            .starts_with("staff:reviewer")
    );
    assert_eq!(first["reason"], "请补充商标注册证");
    assert!(first["created_at"].is_string());
    assert_eq!(trail.body["items"][1]["actor"], format!("merchant:{id}"));

    // One onboarding_status email per transition, plus the acknowledgement.
    let kinds: Vec<String> = app
        .outbox()
        .await
        .into_iter()
        .map(|e| e.kind.to_string())
        .collect();
    assert_eq!(kinds.len(), 1 + expected.len());
    assert!(kinds.iter().all(|k| k == "onboarding_status"));

    // A rejection is final.
    let (other, _) = app.register_merchant("brand").await;
    app.decide(other, "reject", "资质不符").await.expect(200);
    app.decide(other, "approve", "")
        .await
        .expect_error(409, "invalid_transition");
    // Resubmitting is the merchant's edit, not a reviewer's action.
    app.decide(other, "resubmit", "")
        .await
        .expect_error(400, "bad_request");
}

#[tokio::test]
async fn staff_search_filters_and_paginate_stably() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let kind = if i % 2 == 0 { "brand" } else { "industry_belt" };
        ids.push(app.register_merchant(kind).await.0);
    }
    app.decide(ids[0], "approve", "").await.expect(200);

    let page1 = app
        .get("/api/v1/merchants?limit=2", &As::Admin)
        .await
        .expect(200);
    assert_eq!(page1.body["items"].as_array().unwrap().len(), 2);
    let cursor = page1.body["next_cursor"].as_str().unwrap().to_string();
    // A merchant applying between pages neither repeats nor hides a row.
    let late = app.register_merchant("brand").await.0;
    let mut seen: Vec<i64> = page1.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    let mut next = Some(cursor);
    while let Some(c) = next {
        let p = app
            .get(&format!("/api/v1/merchants?limit=2&cursor={c}"), &As::Admin)
            .await
            .expect(200);
        seen.extend(
            p.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_i64().unwrap()),
        );
        next = p.body["next_cursor"].as_str().map(str::to_string);
    }
    let mut expected = ids.clone();
    expected.push(late);
    assert_eq!(seen, expected);

    let ids_of = |r: &support::Response| -> Vec<i64> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect()
    };
    let brands = app
        .get("/api/v1/merchants?kind=brand", &As::Admin)
        .await
        .expect(200);
    assert_eq!(ids_of(&brands), vec![ids[0], ids[2], ids[4], late]);
    let approved = app
        .get("/api/v1/merchants?status=approved", &As::Admin)
        .await
        .expect(200);
    assert_eq!(ids_of(&approved), vec![ids[0]]);
    let belt = app
        .get(
            &format!(
                "/api/v1/merchants?industry_belt={}",
                urlencode("义乌小商品")
            ),
            &As::Admin,
        )
        .await
        .expect(200);
    assert_eq!(ids_of(&belt), vec![ids[1], ids[3]]);
    let m3 = app
        .get(&format!("/api/v1/merchants/{}", ids[3]), &As::Admin)
        .await
        .expect(200);
    let by_name = app
        .get(
            &format!(
                "/api/v1/merchants?q={}",
                urlencode(m3.body["display_name"].as_str().unwrap())
            ),
            &As::Admin,
        )
        .await
        .expect(200);
    assert_eq!(ids_of(&by_name), vec![ids[3]]);
    let by_uscc = app
        .get(
            &format!("/api/v1/merchants?q={}", m3.body["uscc"].as_str().unwrap()),
            &As::Admin,
        )
        .await
        .expect(200);
    assert_eq!(ids_of(&by_uscc), vec![ids[3]]);
    let wildcard = app
        .get("/api/v1/merchants?q=%25", &As::Admin)
        .await
        .expect(200);
    assert!(
        ids_of(&wildcard).is_empty(),
        "LIKE wildcards in q are literal"
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn keys_rotate_and_the_last_one_cannot_be_revoked() {
    let app = spawn_app().await;
    let (_, first) = app.register_merchant("brand").await;
    let listed = app
        .get("/api/v1/me/api-keys", &As::Merchant(first.clone()))
        .await
        .expect(200);
    let first_id = listed.body["items"][0]["id"].as_i64().unwrap();
    assert!(
        listed.body["items"][0]["last_used_at"].is_string(),
        "last_used_at is kept"
    );
    app.delete(
        &format!("/api/v1/me/api-keys/{first_id}"),
        &As::Merchant(first.clone()),
    )
    .await
    .expect_error(409, "last_key");

    let created = app
        .post(
            "/api/v1/me/api-keys",
            &As::Merchant(first.clone()),
            json!({}),
        )
        .await
        .expect(201);
    let second = created.body["key"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    app.get("/api/v1/me", &As::Merchant(second.clone()))
        .await
        .expect(200);
    let revoked = app
        .delete(
            &format!("/api/v1/me/api-keys/{first_id}"),
            &As::Merchant(second.clone()),
        )
        .await
        .expect(200);
    assert!(revoked.body["revoked_at"].is_string());
    app.get("/api/v1/me", &As::Merchant(first))
        .await
        .expect_error(401, "unauthorized");
    app.get("/api/v1/me", &As::Merchant(second.clone()))
        .await
        .expect(200);

    // Someone else's key id is not found.
    let (_, other) = app.register_merchant("brand").await;
    let other_id = app
        .get("/api/v1/me/api-keys", &As::Merchant(other))
        .await
        .expect(200)
        .body["items"][0]["id"]
        .as_i64()
        .unwrap();
    app.delete(
        &format!("/api/v1/me/api-keys/{other_id}"),
        &As::Merchant(second),
    )
    .await
    .expect_error(404, "not_found");
}

#[tokio::test]
async fn key_use_is_written_in_batches_and_shown_at_once() {
    let app = spawn_app().await;
    let (_, a) = app.register_merchant("brand").await;
    let (_, b) = app.register_merchant("industry_belt").await;
    let stored = || async { entity::api_key::Entity::find_all(&app.db).await };
    assert!(stored().await.iter().all(|k| k.last_used_at.is_none()));
    // Two keys used: no write is waited for, but the listing shows the use at once.
    app.get("/api/v1/me", &As::Merchant(b)).await.expect(200);
    let listed = app
        .get("/api/v1/me/api-keys", &As::Merchant(a))
        .await
        .expect(200);
    assert!(listed.body["items"][0]["last_used_at"].is_string());
    // Both reach the database together, within about a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if stored().await.iter().all(|k| k.last_used_at.is_some()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "last_used_at written within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn applications_are_rate_limited_per_client_address() {
    let app = spawn_app_with(&[("APPLY_RATE_PER_MINUTE", "2")]).await;
    app.post(
        "/api/v1/merchants",
        &As::Anonymous,
        app.application("brand"),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/merchants",
        &As::Anonymous,
        app.application("brand"),
    )
    .await
    .expect(201);
    let r = app
        .post(
            "/api/v1/merchants",
            &As::Anonymous,
            app.application("brand"),
        )
        .await
        .expect_error(429, "rate_limited");
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(merchant_count(&app).await, 2);
}

#[tokio::test]
async fn notification_preferences_are_kept() {
    let app = spawn_app().await;
    let (_, key) = app.register_merchant("brand").await;
    let m = app
        .put(
            "/api/v1/me/notifications",
            &As::Merchant(key.clone()),
            json!({"weekly_report": false, "locale": "en"}),
        )
        .await
        .expect(200);
    assert_eq!(m.body["weekly_report"], false);
    assert_eq!(m.body["locale"], "en");
    app.put(
        "/api/v1/me/notifications",
        &As::Merchant(key),
        json!({"weekly_report": true, "locale": "fr"}),
    )
    .await
    .expect_error(400, "bad_request");
}
