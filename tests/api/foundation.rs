//! The skeleton: documents, health, the error body, staff authentication, metrics.

use crate::support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{As, spawn_app};

#[tokio::test]
async fn health_readiness_and_documents_are_served() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/healthz", &As::Anonymous).await.expect(200).body["status"],
        "ok"
    );
    assert_eq!(
        app.get("/readyz", &As::Anonymous).await.expect(200).body["status"],
        "ok"
    );
    let doc = app.get("/openapi.json", &As::Anonymous).await.expect(200);
    assert_eq!(doc.body["info"]["title"], "merchant-incentives");
    let yaml = app.get("/openapi.yaml", &As::Anonymous).await.expect(200);
    assert!(yaml.text.contains("openapi: 3"));
    let docs = app.get("/docs", &As::Anonymous).await.expect(200);
    assert!(docs.text.contains("swagger"), "Swagger UI page");
}

#[tokio::test]
async fn every_failure_uses_the_error_body() {
    let app = spawn_app().await;
    let r = app
        .get("/no/such/route", &As::Anonymous)
        .await
        .expect_error(404, "not_found");
    assert!(r.headers.contains_key("x-request-id"));
    app.raw(
        Method::POST,
        "/api/v1/merchants",
        &As::Anonymous,
        "application/json",
        b"{not json".to_vec(),
    )
    .await
    .expect_error(400, "bad_request");
    let r = app
        .raw(
            Method::POST,
            "/api/v1/merchants",
            &As::Anonymous,
            "text/plain",
            b"hello".to_vec(),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.text);
    assert!(r.body["code"].is_string(), "{}", r.text);
    let r = app
        .get("/api/v1/merchants?limit=many", &As::Admin)
        .await
        .expect_error(400, "bad_request");
    assert_eq!(r.body["field"], "limit");
    app.get("/api/v1/merchants?limit=501", &As::Admin)
        .await
        .expect_error(422, "limit_out_of_range");
    app.get("/api/v1/merchants?cursor=garbage!", &As::Admin)
        .await
        .expect_error(422, "invalid_cursor");
    let big = vec![b' '; 2 * 1024 * 1024 + 10];
    app.raw(
        Method::POST,
        "/api/v1/merchants",
        &As::Anonymous,
        "application/json",
        big,
    )
    .await
    .expect_error(413, "payload_too_large");
}

#[tokio::test]
async fn protocol_edges_follow_the_document() {
    let app = spawn_app().await;
    let (_, key) = app.approved_merchant("brand").await;
    // A method the path does not take: 405 with the methods it does take.
    let r = app
        .client
        .request(Method::PUT, format!("{}/api/v1/me", app.base))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, PATCH, HEAD");
    // Both kinds of credentials at once: refused, even if one of them is good.
    let r = app
        .client
        .get(format!("{}/api/v1/me", app.base))
        .header("X-API-Key", &key)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("Bearer")
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "ambiguous_credentials");
    // Endpoints without credentials do not care.
    let r = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("X-API-Key", &key)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // `null` where the document does not allow it names the field; where it does, it works.
    let r = app
        .post(
            "/api/v1/gmv/records",
            &As::Merchant(key.clone()),
            json!({"records": [{"external_id": "a", "occurred_at": "2026-03-01T12:00:00+08:00",
                "amount": 1, "currency": "CNY", "channel": "live_stream", "product_id": null}]}),
        )
        .await
        .expect_error(400, "null_not_allowed");
    assert_eq!(r.body["field"], "records.0.product_id");
    app.seed_programs().await;
    let id = app.seeded_program("merchants_100m").await;
    let r = app
        .patch(
            &format!("/api/v1/programs/{id}"),
            &As::Admin,
            json!({"ends_on": "2026-12-31"}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["ends_on"], "2026-12-31");
    let r = app
        .patch(
            &format!("/api/v1/programs/{id}"),
            &As::Admin,
            json!({"ends_on": null}),
        )
        .await
        .expect(200);
    assert!(r.body.get("ends_on").is_none(), "{}", r.text);
    // Dates are strict `YYYY-MM-DD`.
    app.patch(
        &format!("/api/v1/programs/{id}"),
        &As::Admin,
        json!({"starts_on": "2026-1-1"}),
    )
    .await
    .expect_error(400, "bad_request");
}

#[tokio::test]
async fn staff_authenticate_with_the_admin_token_or_a_created_token() {
    let app = spawn_app().await;
    app.get("/api/v1/staff/me", &As::Anonymous)
        .await
        .expect_error(401, "unauthorized");
    app.get("/api/v1/staff/me", &As::Staff("wrong".into()))
        .await
        .expect_error(401, "unauthorized");
    let me = app.get("/api/v1/staff/me", &As::Admin).await.expect(200);
    assert_eq!(me.body["role"], "admin");

    let token = app.staff_token("analyst").await;
    let me = app
        .get("/api/v1/staff/me", &As::Staff(token.clone()))
        .await
        .expect(200);
    assert_eq!(me.body["role"], "analyst");
    let id = me.body["token_id"].as_i64().unwrap();

    // The token is stored only as a hash.
    let listed = app
        .get("/api/v1/staff/tokens", &As::Admin)
        .await
        .expect(200);
    assert!(!listed.text.contains(&token));
    // Analysts cannot revoke; admins can, and the token stops working at once.
    app.delete(
        &format!("/api/v1/staff/tokens/{id}"),
        &As::Staff(token.clone()),
    )
    .await
    .expect_error(403, "insufficient_role");
    let revoked = app
        .delete(&format!("/api/v1/staff/tokens/{id}"), &As::Admin)
        .await
        .expect(200);
    assert!(revoked.body["revoked_at"].is_string());
    app.get("/api/v1/staff/me", &As::Staff(token))
        .await
        .expect_error(401, "unauthorized");
}

#[tokio::test]
async fn metrics_count_requests_by_operation() {
    let app = spawn_app().await;
    app.get("/healthz", &As::Anonymous).await.expect(200);
    app.get("/api/v1/merchants", &As::Anonymous)
        .await
        .expect(401);
    let r = app.get("/metrics", &As::Anonymous).await.expect(200);
    assert_eq!(
        r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8",
        "the Prometheus text format"
    );
    let text = r.text;
    assert!(
        text.contains("http_requests_total{operation=\"ops_healthz\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("http_requests_total{operation=\"merchants_list\",status=\"401\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket{operation=\"ops_healthz\""),
        "{text}"
    );
    assert!(
        text.contains("# TYPE http_requests_total counter"),
        "{text}"
    );
    assert!(text.contains("\ndb_pool_connections "), "{text}");
    assert!(text.contains("\ndb_pool_idle_connections "), "{text}");
    let _ = json!({});
}

#[tokio::test]
async fn committed_openapi_document_matches_the_code() {
    let (json, yaml) = merchant_incentives::cli::openapi_documents();
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let committed_json = std::fs::read_to_string(format!("{root}/openapi/openapi.json"))
        .expect("openapi/openapi.json is committed");
    let committed_yaml = std::fs::read_to_string(format!("{root}/openapi/openapi.yaml"))
        .expect("openapi/openapi.yaml is committed");
    assert!(
        committed_json == json && committed_yaml == yaml,
        "openapi/ is stale: run `cargo run -- openapi --write` and commit the result"
    );
    // Enum-typed properties are plain references: generators such as openapi-python-client
    // cannot read an enum wrapped in allOf (which a field doc comment produces).
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (name, schema) in schemas {
        for (prop, p) in schema["properties"].as_object().into_iter().flatten() {
            if let Some(target) = p["allOf"][0]["$ref"].as_str() {
                let target = target.rsplit('/').next().unwrap();
                assert!(
                    schemas[target]["enum"].is_null(),
                    "{name}.{prop} wraps the enum {target} in allOf: move its doc comment to the enum"
                );
            }
        }
    }
    // Every operation has a unique operationId, a tag, a summary and a description.
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{id} has no tag"
            );
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{id} has no summary"
            );
            assert!(
                op["description"].as_str().is_some_and(|s| !s.is_empty()),
                "{id} has no description"
            );
        }
    }
}

#[tokio::test]
async fn successful_staff_writes_are_audited_with_their_request_id() {
    let app = spawn_app().await;
    let (id, _) = app.register_merchant("brand").await;
    let approved = app.decide(id, "approve", "").await.expect(200);
    let request_id = approved.headers["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    // A refused write leaves no entry.
    app.decide(id, "approve", "").await.expect(409);
    let log = app.get("/api/v1/audit-log", &As::Admin).await.expect(200);
    let target = format!("POST /api/v1/merchants/{id}/decisions");
    let entries: Vec<&Value> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == target.as_str())
        .collect();
    assert_eq!(entries.len(), 1, "{}", log.body);
    assert_eq!(entries[0]["action"], "merchants_decide");
    let detail: Value = serde_json::from_str(entries[0]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["status"], 200);
    assert_eq!(detail["role"], "admin");
    assert_eq!(detail["request_id"], request_id.as_str());
}
