//! Signed webhooks: registration rules, signatures checked independently of the server's code,
//! retries and their classification, rotation, disabling, the address rule at registration
//! and at delivery, and the events evaluation and review emit.

use crate::support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{webhook_delivery, webhook_event};
use merchant_incentives::services::webhooks::{
    self, Owner,
    deliver::{self, Deliverer},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use support::{
    As, TestApp,
    receiver::{Receiver, Reply, verify},
    spawn_app_with,
};

const PRIVATE_OK: &[(&str, &str)] = &[("WEBHOOK_ALLOW_PRIVATE", "true")];

fn deliverer(app: &TestApp, allow_private: bool, timeout: Duration) -> Deliverer {
    Deliverer::new(app.state.sealer.clone(), allow_private, timeout, vec![]).unwrap()
}

async fn drain(app: &TestApp, d: &Deliverer, now: DateTime<Utc>) -> deliver::Drained {
    deliver::drain_once(&app.db, d, now).await.unwrap()
}

async fn register(app: &TestApp, who: &As, url: &str, events: &[&str]) -> (i64, String) {
    let path = match who {
        As::Merchant(_) => "/api/v1/me/webhooks",
        _ => "/api/v1/webhooks",
    };
    let r = app
        .post(path, who, json!({"url": url, "events": events}))
        .await
        .expect(201);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{}", r.text);
    (r.body["id"].as_i64().unwrap(), secret)
}

async fn deliveries(app: &TestApp, who: &As, id: i64) -> Vec<Value> {
    let path = match who {
        As::Merchant(_) => format!("/api/v1/me/webhooks/{id}/deliveries"),
        _ => format!("/api/v1/webhooks/{id}/deliveries"),
    };
    app.get(&path, who).await.expect(200).body["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn deliveries_are_signed_retried_with_one_id_and_listed() {
    let app = spawn_app_with(PRIVATE_OK).await;
    let rx = Receiver::start().await;
    // Two failures a sender should retry, then successes with a long body.
    rx.script([
        Reply::Status(503, "busy".into()),
        Reply::Status(429, "slow down".into()),
    ]);
    rx.always(Reply::Status(200, "x".repeat(3000)));
    let (platform, platform_secret) = register(
        &app,
        &As::Admin,
        &rx.url("/platform"),
        &["merchant.decision"],
    )
    .await;
    let (m, key) = app.approved_merchant("brand").await;
    let merchant = As::Merchant(key);
    let (own, own_secret) =
        register(&app, &merchant, &rx.url("/own"), &["merchant.decision"]).await;
    app.decide(m, "suspend", "风控复核").await.expect(200);
    app.decide(m, "reinstate", "").await.expect(200);

    let d = deliverer(&app, true, Duration::from_secs(5));
    let t0 = Utc::now();
    // The platform endpoint had approve, suspend and reinstate; the merchant's own the last two.
    let first = drain(&app, &d, t0).await;
    assert_eq!(first.claimed, 5);
    // Nothing is due again before its backoff.
    assert_eq!(drain(&app, &d, t0).await.claimed, 0);
    let mut now = t0;
    for _ in 0..4 {
        now += chrono::Duration::hours(2);
        drain(&app, &d, now).await;
    }
    let got = rx.received();
    assert_eq!(got.len(), 7, "five deliveries, two of them retried once");
    for r in &got {
        let secret = if r.path == "/platform" {
            &platform_secret
        } else {
            &own_secret
        };
        assert!(verify(secret, r), "signature of {r:?}");
        assert!(!verify(
            if r.path == "/platform" {
                &own_secret
            } else {
                &platform_secret
            },
            r
        ));
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["type"], "merchant.decision");
        assert_eq!(body["data"]["merchant_id"], m);
        assert!(body["timestamp"].is_string());
    }
    // A retried delivery carries its first attempt's id: five deliveries, two of them sent
    // twice. An event has one id, whichever endpoint it goes to.
    let mut per_id = std::collections::BTreeMap::<(&str, &str), usize>::new();
    for r in &got {
        *per_id.entry((r.path.as_str(), r.id.as_str())).or_default() += 1;
    }
    let events: std::collections::BTreeSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(events.len(), 3);
    let mut counts: Vec<usize> = per_id.values().copied().collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 1, 1, 2, 2]);
    // The merchant's endpoint got only its own two decisions.
    let own_bodies: Vec<Value> = got
        .iter()
        .filter(|r| r.path == "/own")
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    let actions: std::collections::BTreeSet<&str> = own_bodies
        .iter()
        .map(|b| b["data"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["reinstate", "suspend"].into());

    let mut listed: Vec<(&str, Value)> = deliveries(&app, &As::Admin, platform)
        .await
        .into_iter()
        .map(|d| ("/platform", d))
        .collect();
    assert_eq!(listed.len(), 3);
    listed.extend(
        deliveries(&app, &merchant, own)
            .await
            .into_iter()
            .map(|d| ("/own", d)),
    );
    assert_eq!(listed.len(), 5);
    let attempts: i64 = listed
        .iter()
        .map(|(_, d)| d["attempts"].as_i64().unwrap())
        .sum();
    assert_eq!(attempts, 7);
    for (path, d) in &listed {
        assert_eq!(d["status"], "delivered");
        assert_eq!(d["response_status"], 200);
        assert_eq!(
            d["response_body"].as_str().unwrap().len(),
            1024,
            "the first KiB"
        );
        assert_eq!(d["event_type"], "merchant.decision");
        let sent = per_id[&(*path, d["message_id"].as_str().unwrap())];
        assert_eq!(sent as i64, d["attempts"].as_i64().unwrap());
    }
    // Another owner's endpoint is not found.
    let (_, other_key) = app.approved_merchant("brand").await;
    app.get(
        &format!("/api/v1/me/webhooks/{own}/deliveries"),
        &As::Merchant(other_key),
    )
    .await
    .expect_error(404, "not_found");
    app.get(&format!("/api/v1/webhooks/{own}/deliveries"), &As::Admin)
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn other_4xx_is_final_until_retried_by_hand_and_redirects_are_not_followed() {
    let app = spawn_app_with(PRIVATE_OK).await;
    let rx = Receiver::start().await;
    let elsewhere = Receiver::start().await;
    rx.script([
        Reply::Status(410, "gone".into()),
        Reply::Redirect(elsewhere.url("/stolen")),
    ]);
    let (ep, secret) = register(&app, &As::Admin, &rx.url("/in"), &["merchant.decision"]).await;
    app.approved_merchant("brand").await;
    let d = deliverer(&app, true, Duration::from_secs(5));
    let now = Utc::now();
    let r = drain(&app, &d, now).await;
    assert_eq!((r.claimed, r.failed), (1, 1));
    let listed = deliveries(&app, &As::Admin, ep).await;
    assert_eq!(listed[0]["status"], "failed");
    assert_eq!(listed[0]["response_status"], 410);
    assert_eq!(listed[0]["response_body"], "gone");
    assert_eq!(
        drain(&app, &d, now + chrono::Duration::days(1))
            .await
            .claimed,
        0
    );

    // Retried by hand: the redirect is an answer, not followed, and final too.
    let id = listed[0]["id"].as_i64().unwrap();
    let retried = app
        .post(
            &format!("/api/v1/webhooks/{ep}/deliveries/{id}/retry"),
            &As::Admin,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(retried.body["status"], "pending");
    assert_eq!(drain(&app, &d, Utc::now()).await.failed, 1);
    assert!(elsewhere.received().is_empty(), "a redirect was followed");
    // And by hand once more: now it arrives, with the same id.
    app.post(
        &format!("/api/v1/webhooks/{ep}/deliveries/{id}/retry"),
        &As::Admin,
        json!({}),
    )
    .await
    .expect(200);
    assert_eq!(drain(&app, &d, Utc::now()).await.delivered, 1);
    let got = rx.received();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.id == got[0].id && verify(&secret, r)));
    app.post(
        &format!("/api/v1/webhooks/{ep}/deliveries/999999/retry"),
        &As::Admin,
        json!({}),
    )
    .await
    .expect_error(404, "not_found");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_for_a_day() {
    let app = spawn_app_with(PRIVATE_OK).await;
    let rx = Receiver::start().await;
    let (m, key) = app.register_merchant("brand").await;
    let merchant = As::Merchant(key);
    let (ep, old) = register(&app, &merchant, &rx.url("/in"), &["merchant.decision"]).await;
    let rotated = app
        .post(
            &format!("/api/v1/me/webhooks/{ep}/rotate-secret"),
            &merchant,
            json!({}),
        )
        .await
        .expect(200);
    let new = rotated.body["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let until = rotated.body["previous_secret_expires_at"].as_str().unwrap();
    let until = DateTime::parse_from_rfc3339(until)
        .unwrap()
        .with_timezone(&Utc);
    assert!(
        (until - Utc::now() - chrono::Duration::hours(24))
            .num_seconds()
            .abs()
            < 60
    );
    app.decide(m, "request_changes", "补充商标注册证")
        .await
        .expect(200);
    let d = deliverer(&app, true, Duration::from_secs(5));
    drain(&app, &d, Utc::now()).await;
    let first = rx.received().remove(0);
    assert_eq!(first.signature.split(' ').count(), 2);
    assert!(verify(&old, &first) && verify(&new, &first));
    // A day later only the new secret signs.
    app.decide(m, "reject", "资质不符").await.expect(409);
    app.patch("/api/v1/me", &merchant, json!({"display_name": "星河"}))
        .await
        .expect(200);
    drain(&app, &d, Utc::now() + chrono::Duration::hours(25)).await;
    let second = rx.received().remove(1);
    assert_eq!(second.signature.split(' ').count(), 1);
    assert!(verify(&new, &second) && !verify(&old, &second));
    // The list never shows a secret; delete removes the endpoint.
    let listed = app.get("/api/v1/me/webhooks", &merchant).await.expect(200);
    assert!(!listed.text.contains("whsec_"));
    assert_eq!(
        listed.body["items"][0]["events"],
        json!(["merchant.decision"])
    );
    app.delete(&format!("/api/v1/me/webhooks/{ep}"), &merchant)
        .await
        .expect(204);
    assert_eq!(
        app.get("/api/v1/me/webhooks", &merchant)
            .await
            .expect(200)
            .body["items"],
        json!([])
    );
}

#[tokio::test]
async fn private_targets_are_refused_at_registration_and_at_delivery() {
    // Without WEBHOOK_ALLOW_PRIVATE.
    let app = support::spawn_app().await;
    let rx = Receiver::start().await;
    let (_, key) = app.approved_merchant("brand").await;
    let merchant = As::Merchant(key);
    for url in [
        rx.url("/in"),
        format!("http://localhost:{}/in", rx.addr.port()),
        "http://10.0.0.7/in".into(),
        "http://169.254.169.254/latest/meta-data".into(),
        "http://[::1]/in".into(),
        "https://224.0.0.1/in".into(),
    ] {
        app.post(
            "/api/v1/me/webhooks",
            &merchant,
            json!({"url": url, "events": ["gmv.stale"]}),
        )
        .await
        .expect_error(422, "webhook_url_forbidden");
    }
    for url in [
        "ftp://example.com/in",
        "file:///etc/passwd",
        "https://user:pw@example.com/",
    ] {
        app.post(
            "/api/v1/me/webhooks",
            &merchant,
            json!({"url": url, "events": ["gmv.stale"]}),
        )
        .await
        .expect_error(422, "webhook_url_invalid");
    }
    let r = app
        .post(
            "/api/v1/me/webhooks",
            &merchant,
            json!({"url": "https://example.com/", "events": []}),
        )
        .await;
    assert!(
        r.status.is_client_error() && r.body["field"] == "events",
        "{}",
        r.text
    );
    app.post(
        "/api/v1/me/webhooks",
        &merchant,
        json!({"url": "https://example.com/", "events": ["no.such"]}),
    )
    .await
    .expect_error(400, "bad_request");
    assert!(
        webhooks::list(&app.db, Owner::Platform, 10, None)
            .await
            .unwrap()
            .is_empty()
    );

    // Registered while allowed (an on-premises set-up), delivered by a dispatcher that is not:
    // the address is checked again at delivery and nothing reaches the receiver.
    for url in [
        rx.url("/in"),
        format!("http://localhost:{}/in", rx.addr.port()),
    ] {
        webhooks::create(
            &app.db,
            &app.state.sealer,
            true,
            Owner::Platform,
            webhooks::NewEndpoint {
                url,
                events: vec![webhooks::WebhookEventType::MerchantDecision],
            },
        )
        .await
        .unwrap();
    }
    app.approved_merchant("brand").await;
    let strict = deliverer(&app, false, Duration::from_secs(5));
    let r = drain(&app, &strict, Utc::now()).await;
    assert_eq!((r.claimed, r.failed), (2, 2));
    assert!(rx.received().is_empty());
    let rows = webhook_delivery::Entity::find().all(&app.db).await.unwrap();
    assert!(
        rows.iter().all(|d| d
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("loopback")),
        "{rows:?}"
    );
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_every_event_once_and_three_failing_days_disable() {
    let app = spawn_app_with(PRIVATE_OK).await;
    let rx = Receiver::start().await;
    let addr = rx.addr.to_string();
    let (m, key) = app.register_merchant("brand").await;
    let merchant = As::Merchant(key);
    let (ep, secret) = register(&app, &merchant, &rx.url("/in"), &["merchant.decision"]).await;
    drop(rx);
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.decide(m, "approve", "").await.expect(200);
    app.decide(m, "suspend", "风控复核").await.expect(200);
    app.decide(m, "reinstate", "").await.expect(200);
    let d = deliverer(&app, true, Duration::from_secs(2));
    let t0 = Utc::now();
    let r = drain(&app, &d, t0).await;
    assert_eq!(
        (r.claimed, r.retried),
        (3, 3),
        "connection refused is retried"
    );
    let listed = deliveries(&app, &merchant, ep).await;
    assert!(
        listed
            .iter()
            .all(|x| x["status"] == "pending" && x["last_error"].is_string())
    );
    // Back on the same port: every event arrives, once.
    let rx = Receiver::start_at(&addr).await;
    let r = drain(&app, &d, t0 + chrono::Duration::hours(1)).await;
    assert_eq!(r.delivered, 3);
    assert_eq!(
        drain(&app, &d, t0 + chrono::Duration::days(1))
            .await
            .claimed,
        0
    );
    let got = rx.received();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| verify(&secret, r)));
    let status = app.get("/api/v1/me/webhooks", &merchant).await.expect(200);
    assert!(
        status.body["items"][0].get("failing_since").is_none(),
        "a success ends the failing spell"
    );

    // Failing for three days: disabled, the waiting delivery failed, the owner emailed.
    rx.always(Reply::Status(500, "down".into()));
    app.decide(m, "suspend", "再次复核").await.expect(200);
    let t1 = Utc::now();
    assert_eq!(drain(&app, &d, t1).await.retried, 1);
    let mut now = t1;
    let mut disabled = 0;
    while now < t1 + chrono::Duration::days(4) {
        now += chrono::Duration::hours(1);
        disabled += drain(&app, &d, now).await.disabled;
    }
    assert_eq!(disabled, 1);
    app.decide(m, "reinstate", "").await.expect(200);
    let ep_row = app
        .get("/api/v1/me/webhooks", &merchant)
        .await
        .expect(200)
        .body["items"][0]
        .clone();
    assert_eq!(ep_row["status"], "disabled");
    let last = &deliveries(&app, &merchant, ep).await[0];
    assert_eq!(last["status"], "failed");
    let mails: Vec<_> = app
        .outbox()
        .await
        .into_iter()
        .filter(|e| e.kind.as_str() == "webhook_disabled")
        .collect();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].merchant_id, Some(m));
    // The reinstatement was not queued for the disabled endpoint; a retry by hand enables it.
    rx.always(Reply::Status(204, String::new()));
    let id = last["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/me/webhooks/{ep}/deliveries/{id}/retry"),
        &merchant,
        json!({}),
    )
    .await
    .expect(200);
    assert_eq!(drain(&app, &d, Utc::now()).await.delivered, 1);
    let ep_row = app
        .get("/api/v1/me/webhooks", &merchant)
        .await
        .expect(200)
        .body["items"][0]
        .clone();
    assert_eq!(ep_row["status"], "active");
}

#[tokio::test]
async fn a_slow_receiver_times_out_and_is_retried() {
    let app = spawn_app_with(PRIVATE_OK).await;
    let rx = Receiver::start().await;
    rx.script([Reply::Hang]);
    let (ep, _) = register(&app, &As::Admin, &rx.url("/in"), &["merchant.decision"]).await;
    app.approved_merchant("brand").await;
    let d = deliverer(&app, true, Duration::from_millis(500));
    let r = drain(&app, &d, Utc::now()).await;
    assert_eq!(r.retried, 1);
    let listed = deliveries(&app, &As::Admin, ep).await;
    assert_eq!(listed[0]["last_error"], "timed out");
    assert_eq!(
        drain(&app, &d, Utc::now() + chrono::Duration::minutes(5))
            .await
            .delivered,
        1
    );
}

/// The events of one evaluation run, in order, as (type, data).
async fn events(app: &TestApp) -> Vec<(String, Value)> {
    webhook_event::Entity::find()
        .order_by_asc(webhook_event::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let body: Value = serde_json::from_str(&e.payload).unwrap();
            (e.kind.as_str().to_string(), body["data"].clone())
        })
        .collect()
}

#[tokio::test]
async fn evaluation_emits_progress_events_once_and_alerts_by_email() {
    let app = spawn_app_with(PRIVATE_OK).await;
    let rx = Receiver::start().await;
    // ¥10,000 and ¥20,000 a month.
    let program = support::insert_program(
        &app.db,
        "月度之星",
        "month",
        &[("银", 1_000_000), ("金", 2_000_000)],
        10,
    )
    .await;
    let (m, key) = app.approved_merchant("brand").await;
    let merchant = As::Merchant(key);
    let all = [
        "achievement.recorded",
        "achievement.revoked",
        "progress.status_changed",
        "progress.near_tier",
        "gmv.stale",
    ];
    let (_, secret) = register(&app, &merchant, &rx.url("/in"), &all).await;
    let decisions = events(&app).await.len();
    // Noon of the month's last day: the projection adds 1/56 of the run-rate window's GMV.
    let as_of = "2026-03-31T04:00:00Z";
    let news = async |app: &TestApp, seen: &mut usize| {
        let all = events(app).await;
        let new = all[*seen..].to_vec();
        *seen = all.len();
        new
    };
    let mut seen = decisions;

    // ¥9,500: within 10% of 银; at risk (projected ¥9,669).
    app.add_rollup(m, "2026-03-10", "live_stream", 950_000)
        .await;
    app.evaluate(as_of).await;
    let e = news(&app, &mut seen).await;
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, "progress.near_tier");
    assert_eq!(e[0].1["tier"], "银");
    assert_eq!(e[0].1["remaining"], 50_000);
    assert_eq!(e[0].1["program_id"], program);
    assert_eq!(e[0].1["subject_id"], m.to_string());
    // Again: nothing new.
    app.evaluate(as_of).await;
    assert!(news(&app, &mut seen).await.is_empty());

    // ¥11,500: 银 reached; behind for 金.
    app.add_rollup(m, "2026-03-12", "storefront", 200_000).await;
    app.evaluate(as_of).await;
    let e = news(&app, &mut seen).await;
    let kinds: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["achievement.recorded", "progress.status_changed"],
        "{e:?}"
    );
    assert_eq!(e[0].1["tier"], "银");
    assert_eq!(e[0].1["value"], 1_150_000);
    assert_eq!(
        (e[1].1["from"].as_str(), e[1].1["to"].as_str()),
        (Some("at_risk"), Some("behind"))
    );

    // A refund to ¥9,000: 银 revoked, at risk again; 银 is near again but announced already.
    app.add_rollup(m, "2026-03-13", "storefront", -250_000)
        .await;
    app.evaluate(as_of).await;
    let e = news(&app, &mut seen).await;
    let kinds: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["achievement.revoked", "progress.status_changed"],
        "{e:?}"
    );
    assert_eq!(e[0].1["tier"], "银");
    assert_eq!(
        (e[1].1["from"].as_str(), e[1].1["to"].as_str()),
        (Some("behind"), Some("at_risk"))
    );

    // Near-tier emails off; ¥19,000: 金 is near (an event, no email).
    app.put(
        "/api/v1/me/notifications",
        &merchant,
        json!({"weekly_report": true, "locale": "en", "near_tier": false}),
    )
    .await
    .expect(200);
    app.add_rollup(m, "2026-03-14", "live_stream", 1_000_000)
        .await;
    app.evaluate(as_of).await;
    let e = news(&app, &mut seen).await;
    let kinds: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["progress.near_tier"], "{e:?}");
    assert_eq!(e[0].1["tier"], "金");

    let mails = app.outbox().await;
    let kinds: Vec<(&str, &str)> = mails
        .iter()
        .filter(|x| ["near_tier", "at_risk", "tier_achieved"].contains(&x.kind.as_str()))
        .map(|x| (x.kind.as_str(), x.locale.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("near_tier", "zh-CN"),
            ("tier_achieved", "zh-CN"),
            ("at_risk", "zh-CN")
        ],
        "one near-tier email (the second was switched off), one at-risk email"
    );
    assert!(
        mails
            .iter()
            .any(|x| x.kind.as_str() == "near_tier" && x.text_body.contains("¥500.00"))
    );
    let me = app.get("/api/v1/me", &merchant).await.expect(200);
    assert_eq!(
        (
            me.body["near_tier_alerts"].as_bool(),
            me.body["at_risk_alerts"].as_bool()
        ),
        (Some(false), Some(true))
    );

    // Every event reached the merchant's endpoint, signed.
    let d = deliverer(&app, true, Duration::from_secs(5));
    drain(&app, &d, Utc::now()).await;
    let got = rx.received();
    assert_eq!(got.len(), seen - decisions);
    assert!(got.iter().all(|r| verify(&secret, r)));
}

#[tokio::test]
async fn gmv_stale_is_emitted_once_per_stale_spell() {
    let app = spawn_app_with(PRIVATE_OK).await;
    let (m, _) = app.approved_merchant("brand").await;
    let (fresh, _) = app.approved_merchant("industry_belt").await;
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    support::set_last_gmv_at(&app.db, m, Some(at("2026-03-01T02:00:00Z"))).await;
    support::set_last_gmv_at(&app.db, fresh, Some(at("2026-03-03T02:00:00Z"))).await;
    let stale = async |app: &TestApp| -> Vec<Value> {
        events(app)
            .await
            .into_iter()
            .filter(|(k, _)| k == "gmv.stale")
            .map(|(_, d)| d)
            .collect()
    };
    app.evaluate("2026-03-04T03:00:00Z").await;
    let e = stale(&app).await;
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0]["merchant_id"], m);
    assert_eq!(e[0]["days_without_gmv"], 3);
    app.evaluate("2026-03-05T03:00:00Z").await;
    assert_eq!(stale(&app).await.len(), 1, "once per spell");
    app.evaluate("2026-03-06T03:00:00Z").await;
    let e = stale(&app).await;
    assert_eq!(
        e.len(),
        2,
        "the other merchant's spell starts after three days"
    );
    assert_eq!(e[1]["merchant_id"], fresh);
    // New GMV ends the spell; the next one is announced again.
    support::set_last_gmv_at(&app.db, m, Some(at("2026-03-06T02:00:00Z"))).await;
    app.evaluate("2026-03-07T03:00:00Z").await;
    assert_eq!(stale(&app).await.len(), 2);
    app.evaluate("2026-03-09T03:00:00Z").await;
    let e = stale(&app).await;
    assert_eq!(e.len(), 3);
    assert_eq!(e[2]["merchant_id"], m);
    let ids: Vec<i64> = webhook_event::Entity::find()
        .filter(webhook_event::Column::MerchantId.eq(m))
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind.as_str() == "gmv.stale")
        .map(|e| e.id)
        .collect();
    assert_eq!(ids.len(), 2);
}

/// The server is killed (SIGKILL) after claiming a delivery, while its request is in flight
/// and before the outcome is recorded. After a restart the claim's lease runs out and the
/// delivery is sent again with the same `webhook-id`: at least once, never lost.
#[tokio::test]
async fn a_delivery_claimed_by_a_killed_server_is_sent_after_restart() {
    use support::process::{ADMIN, DropDatabase, Server};
    let dir = tempfile::tempdir().unwrap();
    let (database_url, pg) = support::fresh_database(dir.path()).await;
    let _drop = DropDatabase(pg);
    let rx = Receiver::start().await;
    rx.script([Reply::Hang]);
    let http = reqwest::Client::new();
    let mut server = Server {
        env: [
            ("WEBHOOK_ALLOW_PRIVATE", "true"),
            ("WEBHOOK_TIMEOUT_MS", "1000"),
            ("OUTBOX_POLL_MS", "100"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into(),
        child: None,
        port: support::free_port(),
        dir: dir.path().to_path_buf(),
        database_url: database_url.clone(),
    };
    server.start();
    server.wait_ready(&http).await;
    let created = http
        .post(format!("{}/api/v1/webhooks", server.base()))
        .bearer_auth(ADMIN)
        .json(&json!({"url": rx.url("/in"), "events": ["merchant.decision"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let secret = created.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_string();
    support::apply_and_approve(
        &http,
        &server.base(),
        &server.base(),
        ADMIN,
        support::application("brand", 1),
    )
    .await;

    // Claimed and in flight: the receiver holds the request.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while rx.received().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the delivery was never sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    let db = sea_orm::Database::connect(&database_url).await.unwrap();
    let row = webhook_delivery::Entity::find()
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.status.as_str(),
        "sending",
        "killed between claim and outcome"
    );
    assert_eq!(row.attempts, 0);

    server.start();
    server.wait_ready(&http).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let row = webhook_delivery::Entity::find()
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        if row.status.as_str() == "delivered" {
            assert_eq!(row.attempts, 1);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered after restart: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill();
    db.close().await.ok();
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id, got[1].id);
    assert!(got.iter().all(|r| verify(&secret, r)));
}
