//! One type per enumerated concept: the stored strings are read strictly, and the code spells
//! them only in `entity/src/enums.rs`.

use crate::support;

use chrono::Utc;
use entity::enums::{self, MerchantStatus};
use merchant_incentives::{demo, services::merchants};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use support::{As, spawn_app};

/// Writes `value` into `table.column` of row `id` behind the application's back.
async fn overwrite(app: &support::TestApp, table: &str, column: &str, value: &str, id: i64) {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => format!("UPDATE {table} SET {column} = $1 WHERE id = $2"),
        _ => format!("UPDATE {table} SET {column} = ? WHERE id = ?"),
    };
    let done = app
        .db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [value.into(), id.into()],
        ))
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

#[tokio::test]
async fn an_unknown_stored_value_is_an_error_not_a_default() {
    let app = spawn_app().await;
    let (id, _) = app.register_merchant("brand").await;
    let path = format!("/api/v1/merchants/{id}");
    let before = app.get(&path, &As::Admin).await.expect(200);
    assert_eq!(before.body["status"], "submitted");

    overwrite(&app, "merchant", "status", "vetted", id).await;

    // The API answers the generic 500, without the stored value, instead of guessing a status.
    let r = app
        .get(&path, &As::Admin)
        .await
        .expect_error(500, "internal");
    assert!(!r.text.contains("vetted"), "{}", r.text);
    assert!(
        r.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("request id")),
        "{}",
        r.text
    );
    // The service itself fails rather than answering a merchant.
    assert!(merchants::get(&app.db, id).await.is_err());
    // A reviewer cannot decide on it either: nothing is written.
    app.post(
        &format!("/api/v1/merchants/{id}/decisions"),
        &As::Admin,
        json!({"action": "approve", "reason": ""}),
    )
    .await
    .expect_error(500, "internal");

    // A known value reads again.
    overwrite(
        &app,
        "merchant",
        "status",
        MerchantStatus::Submitted.as_str(),
        id,
    )
    .await;
    app.get(&path, &As::Admin).await.expect(200);

    // The same for the outbox: an unknown locale makes the listing fail, not show `zh-CN`.
    let email = app.outbox().await[0].id;
    overwrite(&app, "email_outbox", "locale", "fr", email).await;
    app.get("/api/v1/emails", &As::Admin)
        .await
        .expect_error(500, "internal");
}

#[tokio::test]
async fn a_record_the_demo_wrote_replays_as_a_duplicate() {
    let app = spawn_app().await;
    let (id, key) = app.approved_merchant("brand").await;
    let creators: Vec<String> = (1..=4).map(demo::creator_id).collect();
    demo::register_creators(&app.db, &creators).await.unwrap();
    let records = demo::sample_gmv(id, 7, 12);
    let refund = records
        .iter()
        .find(|r| r.get("corrects").is_some())
        .cloned();
    let created = demo::write_gmv(&app.db, id, &records, Utc::now())
        .await
        .unwrap();
    assert_eq!(created, records.len() as u64);
    support::assert_rollups_match_records(&app.db).await;

    // The merchant sends the first and the last record again (and a refund, if the sample has
    // one): the same bodies, so duplicates, not conflicts.
    let mut replay = vec![records[0].clone(), records[records.len() - 1].clone()];
    replay.extend(refund);
    let r = app
        .post(
            "/api/v1/gmv/records",
            &As::Merchant(key),
            json!({"records": replay}),
        )
        .await
        .expect(200);
    let statuses: Vec<&str> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["duplicate"; replay.len()], "{}", r.text);
    assert_eq!(r.body["created"], 0);
}

/// Files under `src/` whose lines may carry an enum's value as a literal, and why.
const ALLOWED: &[(&str, &str)] = &[
    // Template folders are named by the email kind; `include_str!` needs literal paths.
    ("src/mail/templates.rs", "kind!(env, \""),
    // The resource named in a 404 message, not a programme subject.
    ("", "not_found(\"merchant\")"),
    // English labels of the statuses in the onboarding email.
    ("src/services/merchants.rs", "MerchantStatus::"),
    // The application's `industry_belt` field, not the merchant kind.
    ("src/domain/merchant.rs", "industry_belt"),
    // The readiness probe's own status.
    ("src/api/ops.rs", "status: \"ok\""),
    // A decision's `oneOf` mapping must be a literal in the derive attribute; a unit test in
    // `api::merchants` checks each mapping against `DecisionAction`.
    ("src/api/merchants.rs", "#[oai(mapping = \""),
    // The same for a tier reward's `oneOf`; `domain::reward` tests each against `RewardKind`.
    ("src/domain/reward.rs", "#[oai(mapping = \""),
];

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn enum_values_are_spelled_only_by_their_types() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let values = enums::all_values();
    let mut stray = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            // Unit-test modules sit at the end of a file; fixtures may spell values.
            if line.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            if line.trim_start().starts_with("//") {
                continue;
            }
            if ALLOWED
                .iter()
                .any(|(f, frag)| (f.is_empty() || rel == *f) && line.contains(frag))
            {
                continue;
            }
            for (ty, v) in &values {
                if line.contains(&format!("\"{v}\"")) || line.contains(&format!("'{v}'")) {
                    stray.push(format!(
                        "{rel}:{}: {ty} value {v:?}: {}",
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        stray.is_empty(),
        "enum values spelled outside their types:\n{}",
        stray.join("\n")
    );
}
