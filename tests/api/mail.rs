//! Delivery through the outbox against a real SMTP server on a loopback port.

use crate::support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use mail_parser::MessageParser;
use merchant_incentives::mail::{
    self, Locale, NewEmail, Rendered,
    dispatcher::{self, Drained, Mailer, Policy},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;
use support::{
    As, TestApp,
    smtp::{Mode, SmtpServer},
    spawn_app_with,
};

fn test_policy() -> Policy {
    Policy {
        backoff_base: Duration::from_secs(2),
        backoff_cap: Duration::from_secs(60),
        lease: Duration::from_secs(300),
        batch: 50,
        max_attempts: 30,
    }
}

fn mailer(app: &TestApp) -> Mailer {
    let mut m = Mailer::from_config(&app.state.config).expect("mailer");
    m.policy = test_policy();
    m
}

async fn queue(app: &TestApp, to: &str, key: &str) {
    let inserted = mail::enqueue(&app.db, email(to, key))
        .await
        .expect("enqueue");
    assert!(inserted);
}

fn email<'a>(to: &'a str, key: &str) -> NewEmail<'a> {
    NewEmail {
        kind: merchant_incentives::mail::EmailKind::StaffDaily,
        merchant_id: None,
        recipient: to,
        locale: Locale::ZhCn,
        rendered: Rendered {
            subject: format!("日报 {key}"),
            text: format!("正文 {key} ¥1.23亿"),
            html: format!("<p>正文 {key} <strong>¥1.23亿</strong></p>"),
            images: Vec::new(),
        },
        dedupe_key: key.to_string(),
    }
}

fn later(secs: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(secs)
}

fn recipients_of(server: &SmtpServer) -> Vec<String> {
    let mut to: Vec<String> = server
        .received()
        .iter()
        .flat_map(|r| r.to.clone())
        .collect();
    to.sort();
    to
}

#[tokio::test]
async fn weekly_reports_arrive_as_multipart_with_their_figures() {
    let server = SmtpServer::start_new();
    let app = spawn_app_with(&[("SMTP_URL", &server.url())]).await;
    let (id, _key) = app.approved_merchant("brand").await;
    let program = support::insert_program(
        &app.db,
        "年 GMV 破亿",
        "year",
        &[("千万", 1_000_000_000), ("亿元", 10_000_000_000)],
        1000,
    )
    .await;
    support::insert_progress(
        &app.db,
        program,
        ("2026-01-01", "2026-12-31"),
        id,
        12_300_000_000,
        (1, Some("亿元")),
        None,
        15_000_000_000,
        "achieved",
    )
    .await;
    // Monday 2026-11-23 09:00 in Shanghai reports 16–22 Nov against 9–15 Nov.
    support::insert_gmv_day(&app.db, id, "2026-11-17", "live_stream", 12_300_000_000).await;
    support::insert_gmv_day(&app.db, id, "2026-11-10", "live_stream", 4_567_890_000).await;
    let as_of = "2026-11-23T01:00:00Z";

    let r = app
        .digest(json!({"kind": "merchant_weekly", "as_of": as_of}))
        .await;
    assert_eq!(r.body["queued"], 1, "{}", r.text);
    let done = dispatcher::drain_once(&app.db, &mailer(&app), later(1))
        .await
        .unwrap();
    // The onboarding notices (submitted, approved) and the weekly report.
    assert_eq!(done.sent, 3, "{done:?}");

    let row = app
        .outbox()
        .await
        .into_iter()
        .find(|r| r.kind.as_str() == "merchant_weekly")
        .unwrap();
    assert_eq!(row.status.as_str(), "sent");
    assert!(row.sent_at.is_some());
    assert_eq!(row.attempts, 1);

    let received = server.received();
    let weekly: Vec<_> = received
        .iter()
        .filter(|m| String::from_utf8_lossy(&m.data).contains(&row.message_id))
        .collect();
    assert_eq!(weekly.len(), 1, "exactly one weekly report arrives");
    let raw = &weekly[0];
    assert_eq!(raw.to, vec![row.recipient.clone()]);
    assert_eq!(raw.from, "noreply@localhost");
    let text = String::from_utf8_lossy(&raw.data);
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: multipart/alternative"),
        "{text}"
    );
    let msg = MessageParser::default().parse(&raw.data[..]).unwrap();
    assert_eq!(
        msg.message_id(),
        Some(row.message_id.trim_matches(['<', '>']))
    );
    let subject = msg.subject().unwrap();
    assert!(subject.contains("经营周报"), "{subject}");
    assert!(subject.contains("¥1.23亿"), "{subject}");
    assert_eq!(msg.text_body_count(), 1);
    assert_eq!(msg.html_body_count(), 1);
    let plain = msg.body_text(0).unwrap();
    let html = msg.body_html(0).unwrap();
    for body in [&plain, &html] {
        assert!(body.contains("年 GMV 破亿"), "{body}");
        assert!(body.contains("¥1.23亿"), "{body}");
        assert!(body.contains("¥4,567.89万"), "last week's figure: {body}");
        assert!(
            body.contains("+169.27%"),
            "change against last week: {body}"
        );
    }
    assert!(!html.contains("<script"), "no scripts in mail HTML");
    assert!(!html.contains("src=\"http"), "no external resources");

    // Triggering the digest again for the same week sends nothing more.
    let r = app
        .digest(json!({"kind": "merchant_weekly", "as_of": "2026-11-25T10:00:00Z"}))
        .await;
    assert_eq!(r.body["queued"], 0, "{}", r.text);
    assert_eq!(r.body["duplicates"], 1, "{}", r.text);
    let done = dispatcher::drain_once(&app.db, &mailer(&app), later(2))
        .await
        .unwrap();
    assert_eq!(done, Drained::default());
    assert_eq!(server.received().len(), 3);
}

#[tokio::test]
async fn an_outage_delays_mail_and_then_delivers_each_message_once() {
    let server = SmtpServer::reserve(); // nothing listens yet: connections are refused
    let app = spawn_app_with(&[("SMTP_URL", &server.url())]).await;
    let m = mailer(&app);
    queue(&app, "ops@example.cn", "outage:1").await;
    queue(&app, "lead@example.cn", "outage:2").await;

    // Server down: both rows go back to pending with a delay and the connection error.
    let t0 = later(1);
    let done = dispatcher::drain_once(&app.db, &m, t0).await.unwrap();
    assert_eq!(done.retried, 2, "{done:?}");
    for row in app.outbox().await {
        assert_eq!(row.status.as_str(), "pending");
        assert_eq!(row.attempts, 1);
        assert!(row.last_error.as_deref().is_some_and(|e| !e.is_empty()));
        let delay = row.next_attempt_at - t0;
        assert!(
            delay >= chrono::Duration::seconds(2) && delay <= chrono::Duration::seconds(3),
            "first backoff is 2 s plus jitter, got {delay}"
        );
    }
    // Not due yet: nothing is attempted.
    let done = dispatcher::drain_once(&app.db, &m, t0).await.unwrap();
    assert_eq!(done.claimed, 0);

    // The server comes up but answers 421: still pending, longer backoff, its reply kept.
    server.start(Mode::TempFail);
    let t1 = t0 + chrono::Duration::seconds(10);
    let done = dispatcher::drain_once(&app.db, &m, t1).await.unwrap();
    assert_eq!(done.retried, 2, "{done:?}");
    for row in app.outbox().await {
        assert_eq!(row.status.as_str(), "pending");
        assert_eq!(row.attempts, 2);
        let err = row.last_error.unwrap();
        assert!(err.contains("421"), "{err}");
        assert!(row.next_attempt_at - t1 >= chrono::Duration::seconds(4));
    }
    assert!(server.received().is_empty());
    assert!(server.rcpt_replies().contains(&421));

    // Healthy again: each message arrives exactly once.
    server.set_mode(Mode::Accept);
    let t2 = t1 + chrono::Duration::seconds(120);
    let done = dispatcher::drain_once(&app.db, &m, t2).await.unwrap();
    assert_eq!(done.sent, 2, "{done:?}");
    let done = dispatcher::drain_once(&app.db, &m, t2 + chrono::Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(done.claimed, 0);
    assert_eq!(
        recipients_of(&server),
        vec!["lead@example.cn", "ops@example.cn"]
    );
    for row in app.outbox().await {
        assert_eq!(row.status.as_str(), "sent");
        assert_eq!(row.attempts, 3);
    }
}

#[tokio::test]
async fn a_refused_recipient_fails_after_one_attempt_with_the_reply() {
    let server = SmtpServer::start_new();
    let app = spawn_app_with(&[("SMTP_URL", &server.url())]).await;
    let m = mailer(&app);
    queue(&app, "reject-me@example.cn", "refused:1").await;
    queue(&app, "ok@example.cn", "refused:2").await;

    let done = dispatcher::drain_once(&app.db, &m, later(1)).await.unwrap();
    assert_eq!((done.sent, done.failed), (1, 1), "{done:?}");
    let rows = app.outbox().await;
    let refused = rows
        .iter()
        .find(|r| r.recipient == "reject-me@example.cn")
        .unwrap();
    assert_eq!(refused.status.as_str(), "failed");
    assert_eq!(refused.attempts, 1);
    let err = refused.last_error.as_deref().unwrap();
    assert!(err.contains("550"), "{err}");
    // Failed rows are never tried again.
    let done = dispatcher::drain_once(&app.db, &m, later(86_400))
        .await
        .unwrap();
    assert_eq!(done.claimed, 0);
    assert_eq!(recipients_of(&server), vec!["ok@example.cn"]);

    // Staff see the delivery state through the API.
    let page = app
        .get("/api/v1/emails?status=failed", &As::Admin)
        .await
        .expect(200);
    let items = page.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", page.text);
    assert_eq!(items[0]["recipient"], "reject-me@example.cn");
    assert_eq!(items[0]["attempts"], 1);
    assert!(items[0]["last_error"].as_str().unwrap().contains("550"));
}

#[tokio::test]
async fn a_dispatcher_killed_between_claim_and_send_loses_nothing() {
    let server = SmtpServer::start_new();
    let app = spawn_app_with(&[("SMTP_URL", &server.url())]).await;
    let m = mailer(&app);
    queue(&app, "ops@example.cn", "killed:1").await;

    // A dispatcher claims the row and dies before sending.
    let t0 = later(1);
    let claimed = dispatcher::claim(&app.db, t0, Duration::from_secs(300), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(app.outbox().await[0].status.as_str(), "sending");

    // While its lease runs, nobody else takes the row.
    let done = dispatcher::drain_once(&app.db, &m, t0 + chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(done.claimed, 0);
    assert!(server.received().is_empty());

    // After the lease, another dispatcher sends it — once.
    let done = dispatcher::drain_once(&app.db, &m, t0 + chrono::Duration::seconds(301))
        .await
        .unwrap();
    assert_eq!(done.sent, 1, "{done:?}");
    let done = dispatcher::drain_once(&app.db, &m, t0 + chrono::Duration::seconds(1000))
        .await
        .unwrap();
    assert_eq!(done.claimed, 0);
    assert_eq!(recipients_of(&server), vec!["ops@example.cn"]);
    let row = &app.outbox().await[0];
    assert_eq!((row.status.as_str(), row.attempts), ("sent", 1));
}

#[tokio::test]
async fn concurrent_dispatchers_never_send_a_message_twice() {
    let server = SmtpServer::start_new();
    let app = spawn_app_with(&[("SMTP_URL", &server.url())]).await;
    for i in 0..20 {
        queue(&app, &format!("staff{i}@example.cn"), &format!("race:{i}")).await;
    }
    let mut m = mailer(&app);
    m.policy.batch = 3;
    let now = later(1);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (db, m) = (app.db.clone(), m.clone());
        tasks.push(tokio::spawn(async move {
            let mut sent = 0;
            loop {
                let d = dispatcher::drain_once(&db, &m, now).await.unwrap();
                if d.claimed == 0 {
                    return sent;
                }
                sent += d.sent;
            }
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 20);
    let to = recipients_of(&server);
    let mut unique = to.clone();
    unique.dedup();
    assert_eq!(to.len(), 20);
    assert_eq!(unique.len(), 20, "no recipient got two copies");
}

#[tokio::test]
async fn the_file_transport_writes_one_eml_per_row() {
    let app = spawn_app_with(&[]).await;
    let m = mailer(&app);
    queue(&app, "ops@example.cn", "file:1").await;
    let done = dispatcher::drain_once(&app.db, &m, later(1)).await.unwrap();
    assert_eq!(done.sent, 1);
    let row = app.outbox().await.remove(0);
    let dir = app.tmp.path().join("outbox");
    let path = dir.join(format!("{}.eml", row.id));
    let bytes = std::fs::read(&path).expect("the .eml file exists");
    let msg = MessageParser::default().parse(&bytes[..]).unwrap();
    assert_eq!(msg.subject(), Some("日报 file:1"));
    assert!(msg.body_html(0).unwrap().contains("¥1.23亿"));

    // Sending the same row again (say, after a crash before it was marked sent) rewrites the
    // same file whole; no temporary files are left behind.
    entity::email_outbox::Entity::update_many()
        .col_expr(entity::email_outbox::Column::Status, Expr::value("pending"))
        .filter(entity::email_outbox::Column::Id.eq(row.id))
        .exec(&app.db)
        .await
        .unwrap();
    let done = dispatcher::drain_once(&app.db, &m, later(2)).await.unwrap();
    assert_eq!(done.sent, 1);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![format!("{}.eml", row.id)]);
    assert_eq!(std::fs::read(&path).unwrap().len(), bytes.len());
}

#[tokio::test]
async fn the_dispatcher_loop_sends_queued_mail_and_stops_on_shutdown() {
    let server = SmtpServer::start_new();
    let app = spawn_app_with(&[("SMTP_URL", &server.url())]).await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(dispatcher::run(
        app.db.clone(),
        mailer(&app),
        Duration::from_millis(50),
        async {
            let _ = rx.await;
        },
    ));
    queue(&app, "ops@example.cn", "loop:1").await;
    let mut sent = false;
    for _ in 0..200 {
        if app.outbox().await[0].status.as_str() == "sent" {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sent, "the loop delivered the queued email");
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the loop stops on shutdown")
        .unwrap();
    assert_eq!(recipients_of(&server), vec!["ops@example.cn"]);
}

#[tokio::test]
async fn the_email_list_is_for_staff_filters_and_pages() {
    let app = spawn_app_with(&[]).await;
    queue(&app, "a@example.cn", "list:1").await;
    queue(&app, "b@example.cn", "list:2").await;
    queue(&app, "c@example.cn", "list:3").await;
    let (_, key) = app.approved_merchant("brand").await;

    app.get("/api/v1/emails", &As::Merchant(key))
        .await
        .expect_error(401, "staff_only");
    let analyst = app.staff_token("analyst").await;
    let first = app
        .get(
            "/api/v1/emails?kind=staff_daily&limit=2",
            &As::Staff(analyst.clone()),
        )
        .await
        .expect(200);
    let items = first.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["recipient"], "c@example.cn", "newest first");
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(items[0]["attempts"], 0);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(
            &format!("/api/v1/emails?kind=staff_daily&limit=2&cursor={cursor}"),
            &As::Staff(analyst.clone()),
        )
        .await
        .expect(200);
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert!(second.body["next_cursor"].is_null());
    let one = app
        .get(
            "/api/v1/emails?recipient=b@example.cn",
            &As::Staff(analyst.clone()),
        )
        .await
        .expect(200);
    assert_eq!(one.body["items"].as_array().unwrap().len(), 1);
    app.get("/api/v1/emails?status=bogus", &As::Staff(analyst.clone()))
        .await
        .expect(400);
    app.get("/api/v1/emails?limit=0", &As::Staff(analyst))
        .await
        .expect_error(422, "limit_out_of_range");
}

/// Many messages go to the outbox in a few statements, and the dedupe key still makes each
/// one once: a key already there and a key twice in the same call are each written once.
#[tokio::test]
async fn many_messages_are_queued_together_each_once() {
    let app = support::spawn_app().await;
    queue(&app, "ops@example.cn", "many:0").await;
    let mut batch: Vec<NewEmail> = (0..1_100)
        .map(|i| email("ops@example.cn", &format!("many:{i}")))
        .collect();
    batch.push(email("ops@example.cn", "many:7"));
    let written = mail::enqueue_many(&app.db, batch)
        .await
        .expect("enqueue_many");
    assert_eq!(
        written, 1_099,
        "key 0 was there before and key 7 came twice"
    );
    let rows = app.outbox().await;
    assert_eq!(rows.len(), 1_100);
    let mut keys: Vec<&str> = rows.iter().map(|r| r.dedupe_key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 1_100);
    let seventh = rows
        .iter()
        .find(|r| r.dedupe_key == "many:7")
        .expect("key 7");
    assert_eq!(seventh.subject, "日报 many:7");
    assert!(seventh.message_id.starts_with('<'));
    assert_eq!(
        mail::enqueue_many(&app.db, Vec::new()).await.expect("none"),
        0
    );
}
