//! Three real server processes (the built binary) on one PostgreSQL database, with an
//! every-5-seconds evaluation and a real SMTP sink: every tick runs once, every achievement is
//! recorded once, every email is delivered once, and every replica answers the same progress.
//! Needs PostgreSQL: without `TEST_DATABASE_URL` it is skipped with a printed reason.

use crate::support;

use std::{
    collections::HashSet,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use chrono::Utc;
use sea_orm::{ConnectionTrait, Database, EntityTrait};
use serde_json::{Value, json};
use support::smtp::SmtpServer;

const BIN: &str = env!("CARGO_BIN_EXE_merchant-incentives");
const ADMIN: &str = "replica-admin-token";

struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_run_each_tick_once_and_send_each_email_once() {
    let Some(admin_url) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
    else {
        println!(
            "skipped: three replicas share one PostgreSQL database; set TEST_DATABASE_URL=postgres://…"
        );
        return;
    };
    let name = format!("mi_test_{}", uuid::Uuid::new_v4().simple());
    let admin_db = Database::connect(&admin_url)
        .await
        .expect("TEST_DATABASE_URL reachable");
    admin_db
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    let database_url = url.to_string();

    let smtp = SmtpServer::start_new();
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let mut replicas = Vec::new();
    for i in 0..3 {
        let port = support::free_port();
        let child = Command::new(BIN)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &database_url)
            .env("LISTEN", format!("127.0.0.1:{port}"))
            .env("ADMIN_TOKEN", ADMIN)
            .env("SMTP_URL", smtp.url())
            .env("SCHEDULE_EVALUATE", "*/5 * * * * *")
            .env("SCHEDULE_STAFF_DAILY", "*/5 * * * * *")
            .env("STAFF_DIGEST_TO", "ops@example.cn")
            .env("OUTBOX_POLL_MS", "200")
            .env("WEBHOOK_ALLOW_PRIVATE", "true")
            .env("REPLICA_NAME", format!("replica-{i}"))
            .env("KEY_RATE_PER_SECOND", "10000")
            .env("APPLY_RATE_PER_MINUTE", "10000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        replicas.push(Replica {
            child,
            base: format!("http://127.0.0.1:{port}"),
        });
    }
    for r in &replicas {
        let deadline = Instant::now() + Duration::from_secs(60);
        while http
            .get(format!("{}/readyz", r.base))
            .send()
            .await
            .map(|x| !x.status().is_success())
            .unwrap_or(true)
        {
            assert!(
                Instant::now() < deadline,
                "replica {} did not become ready",
                r.base
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // A platform-wide webhook endpoint receives every event.
    let hooks = support::receiver::Receiver::start().await;
    let registered = http
        .post(format!("{}/api/v1/webhooks", replicas[2].base))
        .bearer_auth(ADMIN)
        .json(
            &json!({"url": hooks.url("/all"), "events": ["merchant.decision",
            "achievement.recorded", "achievement.revoked", "progress.status_changed",
            "progress.near_tier", "gmv.stale"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 201);
    let hook_secret = registered.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_string();

    // Merchants apply, are approved and report GMV through different replicas.
    let yesterday = (Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let mut merchant_ids = Vec::new();
    for i in 0..3usize {
        let via = &replicas[i].base;
        let (id, key) = support::apply_and_approve(
            &http,
            via,
            &replicas[(i + 1) % 3].base,
            ADMIN,
            json!({"kind": "industry_belt", "legal_name": format!("义乌市第{i}商贸有限公司"),
                "display_name": format!("第{i}号店"), "uscc": support::uscc(100 + i as u32),
                "contact_email": format!("m{i}@example.cn"), "province": "浙江", "city": "金华",
                "category": "日用百货", "industry_belt": "义乌小商品"}),
        )
        .await;
        for (j, r) in replicas.iter().enumerate() {
            let result: Value = http
                .post(format!("{}/api/v1/gmv/records", r.base))
                .header("X-API-Key", &key)
                .json(
                    &json!({"records": [{"external_id": format!("o-{j}"), "occurred_at": yesterday,
                    "amount": 400_000_000i64, "currency": "CNY", "channel": "live_stream"}]}),
                )
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(result["created"], 1, "{result}");
        }
        merchant_ids.push(id);
    }

    // Let the schedule tick for 30 seconds.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let db = Database::connect(&database_url).await.unwrap();

    // Exactly one run per tick, all successful, spread over the replicas' claims.
    let runs = entity::job_run::Entity::find().all(&db).await.unwrap();
    let evaluations: Vec<_> = runs.iter().filter(|r| r.job == "evaluate").collect();
    assert!(
        evaluations.len() >= 4,
        "ticks every 5 s for 30 s: {}",
        evaluations.len()
    );
    let ticks: HashSet<_> = evaluations.iter().map(|r| r.scheduled_at).collect();
    assert_eq!(ticks.len(), evaluations.len(), "a tick ran twice");
    assert!(
        evaluations.iter().all(|r| r.outcome.as_str() == "ok"),
        "{evaluations:?}"
    );
    for w in {
        let mut t: Vec<_> = ticks.iter().copied().collect();
        t.sort();
        t
    }
    .windows(2)
    {
        assert_eq!(
            (w[1] - w[0]).num_seconds() % 5,
            0,
            "ticks are on the 5-second cron"
        );
    }

    // Every achievement once: each merchant reached the ¥10M tier of the merchant programme.
    let achievements = entity::achievement::Entity::find().all(&db).await.unwrap();
    let keys: HashSet<_> = achievements
        .iter()
        .map(|a| {
            (
                a.program_id,
                a.period_start,
                a.subject_id.clone(),
                a.tier.clone(),
            )
        })
        .collect();
    assert_eq!(keys.len(), achievements.len());
    let merchant_level: Vec<_> = achievements
        .iter()
        .filter(|a| a.subject_type.as_str() == "merchant")
        .collect();
    assert_eq!(merchant_level.len(), 3, "{merchant_level:?}");

    // Every email delivered exactly once.
    let deadline = Instant::now() + Duration::from_secs(20);
    let outbox = loop {
        let rows = entity::email_outbox::Entity::find().all(&db).await.unwrap();
        if rows.iter().all(|r| r.status.as_str() == "sent") || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        outbox.iter().all(|r| r.status.as_str() == "sent"),
        "{outbox:?}"
    );
    let kinds: Vec<&str> = outbox.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "tier_achieved").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "staff_daily").count(),
        1,
        "one staff digest per day: {kinds:?}"
    );
    let received = smtp.received();
    assert_eq!(
        received.len(),
        outbox.len(),
        "each row sent once, none twice"
    );
    for row in &outbox {
        let copies = received
            .iter()
            .filter(|m| String::from_utf8_lossy(&m.data).contains(&row.message_id))
            .count();
        assert_eq!(copies, 1, "{} arrived {copies} times", row.message_id);
    }

    // Every event reached the endpoint once, signed, though all three replicas dispatch.
    let deadline = Instant::now() + Duration::from_secs(30);
    let deliveries = loop {
        let rows = entity::webhook_delivery::Entity::find()
            .all(&db)
            .await
            .unwrap();
        if rows.iter().all(|r| r.status.as_str() == "delivered") || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        deliveries
            .iter()
            .all(|r| r.status.as_str() == "delivered" && r.attempts == 1),
        "{deliveries:?}"
    );
    let events = entity::webhook_event::Entity::find()
        .all(&db)
        .await
        .unwrap();
    let count = |kind: &str| events.iter().filter(|e| e.kind.as_str() == kind).count();
    assert_eq!(count("merchant.decision"), 3);
    assert!(count("achievement.recorded") >= 3, "{events:?}");
    assert_eq!(deliveries.len(), events.len());
    let got = hooks.received();
    assert_eq!(
        got.len(),
        events.len(),
        "each event delivered once, none twice"
    );
    let ids: HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), got.len());
    assert!(
        got.iter()
            .all(|r| support::receiver::verify(&hook_secret, r))
    );

    // Whichever replica answers, the progress is the same.
    let program: Value = http
        .get(format!("{}/api/v1/programs?limit=10", replicas[0].base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let program_id = program["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["subject"] == "merchant")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let mut answers = Vec::new();
    for r in &replicas {
        let v: Value = http
            .get(format!("{}/api/v1/programs/{program_id}/progress", r.base))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answers.push(v);
    }
    assert_eq!(answers[0]["items"].as_array().unwrap().len(), 3);
    assert_eq!(answers[0]["items"][0]["value"], 1_200_000_000i64);
    assert!(answers.iter().all(|a| a == &answers[0]));

    drop(replicas);
    db.close().await.ok();
    admin_db
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .ok();
}
