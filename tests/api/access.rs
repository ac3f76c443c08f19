//! The access-control matrix, over every operation in the OpenAPI document (so a new endpoint
//! is covered the moment it exists): no credentials → 401; a merchant key on staff-only
//! operations → 403; merchant A on merchant B's resources → 404; analysts on writes → 403;
//! a suspended merchant's key → 403; a revoked key → 401.

use crate::support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{
    As,
    openapi::{Operation as Op, fill},
    spawn_app,
};

fn operations() -> Vec<Op> {
    support::openapi::operations(&support::openapi::document())
}

impl Op {
    fn staff_only(&self) -> bool {
        self.schemes == ["StaffAuth"]
    }
    fn merchant_allowed(&self) -> bool {
        self.schemes.iter().any(|s| s == "MerchantAuth")
    }
    fn secured(&self) -> bool {
        !self.schemes.is_empty()
    }
    fn body(&self) -> Option<Value> {
        (self.method != Method::GET && self.method != Method::DELETE)
            .then(|| self.example.clone().unwrap_or_else(|| json!({})))
    }
}

/// Sends `op` to `path` as `who` and asserts the status and the error code.
async fn expect_refused(
    app: &support::TestApp,
    op: &Op,
    path: &str,
    who: &As,
    status: u16,
    code: &str,
    case: &str,
) {
    let r = app.request(op.method.clone(), path, who, op.body()).await;
    assert_eq!(r.status.as_u16(), status, "{} {case}: {}", op.id, r.text);
    assert_eq!(r.body["code"], code, "{} {case}: {}", op.id, r.text);
}

#[tokio::test]
async fn every_operation_enforces_its_access_rules() {
    let app = spawn_app().await;
    let ops = operations();
    assert!(ops.len() >= 15, "the document lists the operations");
    let (a, key_a) = app.approved_merchant("brand").await;
    let (b, _key_b) = app.approved_merchant("industry_belt").await;
    let analyst = As::Staff(app.staff_token("analyst").await);
    let merchant_a = As::Merchant(key_a.clone());

    for op in &ops {
        let path = fill(&op.path, a);
        if op.secured() {
            expect_refused(
                &app,
                op,
                &path,
                &As::Anonymous,
                401,
                "unauthorized",
                "without credentials",
            )
            .await;
            let unknown = As::Merchant("mik_not_a_real_key".into());
            expect_refused(
                &app,
                op,
                &path,
                &unknown,
                401,
                "unauthorized",
                "with an unknown key",
            )
            .await;
        }
        if op.staff_only() {
            expect_refused(
                &app,
                op,
                &path,
                &merchant_a,
                401,
                "staff_only",
                "with a merchant key",
            )
            .await;
        }
        // Analysts register creators (DESIGN.md: `POST /creators`, admin and analyst).
        if op.schemes.iter().any(|s| s == "StaffAuth")
            && op.method != Method::GET
            && op.id != "creators_upsert"
        {
            expect_refused(
                &app,
                op,
                &path,
                &analyst,
                403,
                "insufficient_role",
                "as analyst",
            )
            .await;
        }
        if op.merchant_allowed() && op.path.starts_with("/api/v1/merchants/{id}") {
            expect_refused(
                &app,
                op,
                &fill(&op.path, b),
                &merchant_a,
                404,
                "not_found",
                "on another merchant",
            )
            .await;
        }
    }

    // A creator key: another creator's id is not found; every operation that does not take
    // creator keys refuses it with 401 or 403.
    app.post(
        "/api/v1/creators",
        &As::Admin,
        json!({"creators": [{"id": "dy_own", "nickname": "甲"}, {"id": "dy_other", "nickname": "乙"}]}),
    )
    .await
    .expect(200);
    let creator = As::Merchant(
        app.post("/api/v1/creators/dy_own/api-keys", &As::Admin, json!({}))
            .await
            .expect(201)
            .body["key"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    for op in &ops {
        if op.schemes.iter().any(|s| s == "CreatorAuth") {
            let path = op.path.replace("{id}", "dy_other");
            expect_refused(
                &app,
                op,
                &path,
                &creator,
                404,
                "not_found",
                "on another creator",
            )
            .await;
        } else if op.secured() {
            let path = fill(&op.path, a).replace("{id}", "dy_own");
            let r = app
                .request(op.method.clone(), &path, &creator, op.body())
                .await;
            assert!(
                matches!(r.status.as_u16(), 401 | 403),
                "{} with a creator key: {}",
                op.id,
                r.text
            );
        }
    }

    // Suspended: every merchant operation answers 403 merchant_suspended, except reading
    // its own account, which shows the status and the reason.
    app.decide(a, "suspend", "风控复核").await.expect(200);
    let me = app.get("/api/v1/me", &merchant_a).await.expect(200);
    assert_eq!(
        (
            me.body["status"].as_str(),
            me.body["status_reason"].as_str()
        ),
        (Some("suspended"), Some("风控复核"))
    );
    for op in ops
        .iter()
        .filter(|o| o.merchant_allowed() && o.id != "me_get")
    {
        expect_refused(
            &app,
            op,
            &fill(&op.path, a),
            &merchant_a,
            403,
            "merchant_suspended",
            "while suspended",
        )
        .await;
    }
    app.decide(a, "reinstate", "").await.expect(200);

    // Revoked: every merchant operation answers 401.
    let fresh = app
        .post("/api/v1/me/api-keys", &merchant_a, json!({}))
        .await
        .expect(201);
    let new_key = As::Merchant(fresh.body["key"].as_str().unwrap().to_string());
    let old_id = app
        .get("/api/v1/me/api-keys", &new_key)
        .await
        .expect(200)
        .body["items"][0]["id"]
        .as_i64()
        .unwrap();
    app.delete(&format!("/api/v1/me/api-keys/{old_id}"), &new_key)
        .await
        .expect(200);
    for op in ops.iter().filter(|o| o.merchant_allowed()) {
        expect_refused(
            &app,
            op,
            &fill(&op.path, a),
            &merchant_a,
            401,
            "unauthorized",
            "with a revoked key",
        )
        .await;
    }
}

#[test]
fn every_write_with_a_body_documents_an_example() {
    for op in operations() {
        if op.body_schema.is_some() {
            assert!(
                op.example.is_some(),
                "{} has a request body without an example",
                op.id
            );
        }
    }
}
