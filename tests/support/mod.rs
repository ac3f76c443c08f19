//! `spawn_app()`: the real application on a real port against a fresh database — a new SQLite
//! file, or a new PostgreSQL database (named by a uuid, dropped afterwards) when
//! `TEST_DATABASE_URL` is set. Set `TEST_LOG=1` to see the server's logs.
#![allow(dead_code)]

pub mod load;
pub mod openapi;
pub mod pg;
pub mod process;
pub mod receiver;
pub mod smtp;

use std::{collections::HashMap, net::SocketAddr};

use entity::enums::{Channel, Metric, PeriodKind, ProgressStatus, Subject};
use merchant_incentives::{
    app::{self, AppState},
    config::Config,
    db,
};
use poem::listener::Acceptor;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// Who a request is sent as.
#[derive(Clone, Debug)]
pub enum As {
    Anonymous,
    Admin,
    Staff(String),
    Merchant(String),
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub state: AppState,
    pub tmp: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    pg: Option<(String, String)>,
    uscc_seq: std::sync::atomic::AtomicU32,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Response {
    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }
    /// Asserts an error status and code in the one error body.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        let s = self.expect(status);
        assert_eq!(s.body["code"], code, "unexpected error body: {}", s.text);
        assert!(
            s.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            s.text
        );
        s
    }
}

fn init_logs() {
    if std::env::var("TEST_LOG").is_ok() {
        merchant_incentives::telemetry::init(false);
    }
}

/// Creates the fresh database and returns its URL (and, for PostgreSQL, what to drop with
/// [`drop_database`]).
pub async fn fresh_database(tmp: &std::path::Path) -> (String, Option<(String, String)>) {
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(base) if base.starts_with("postgres") => {
            let name = format!("mi_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&base)
                .await
                .unwrap_or_else(|e| panic!("TEST_DATABASE_URL {base} is not reachable: {e}"));
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let mut url = url::Url::parse(&base).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&format!("/{name}"));
            (url.to_string(), Some((base, name)))
        }
        Some(other) => panic!("TEST_DATABASE_URL must be a postgres:// URL, not {other}"),
        None => (format!("sqlite://{}/test.db?mode=rwc", tmp.display()), None),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Like [`spawn_app`], with extra settings (`("APPLY_RATE_PER_MINUTE", "2")`, …).
pub async fn spawn_app_with(settings: &[(&str, &str)]) -> TestApp {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (database_url, pg) = fresh_database(tmp.path()).await;
    spawn_app_at(tmp, database_url, pg, settings).await
}

/// Another replica on `app`'s database: its own server, pool and state.
pub async fn spawn_replica(app: &TestApp) -> TestApp {
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = app.state.config.database_url.clone();
    spawn_app_at(tmp, url, None, &[]).await
}

pub async fn spawn_app_at(
    tmp: tempfile::TempDir,
    database_url: String,
    pg: Option<(String, String)>,
    settings: &[(&str, &str)],
) -> TestApp {
    init_logs();
    let mut env: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), database_url.clone()),
        ("ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
        ("LISTEN".into(), "127.0.0.1:0".into()),
        (
            "MAIL_DIR".into(),
            tmp.path().join("outbox").display().to_string(),
        ),
        ("SCHEDULER".into(), "off".into()),
        ("APPLY_RATE_PER_MINUTE".into(), "100000".into()),
        ("KEY_RATE_PER_SECOND".into(), "100000".into()),
    ]);
    for (k, v) in settings {
        env.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_lookup(&move |k| env.get(k).cloned()).expect("test configuration");
    let database = db::connect_with(
        &config.database_url,
        config.database_busy_timeout,
        config.database_acquire_timeout,
    )
    .await
    .expect("connect");
    db::migrate(&database).await.expect("migrate");
    let state = AppState::new(database.clone(), config);
    let acceptor = app::bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind");
    let addr = acceptor.local_addr()[0]
        .as_socket_addr()
        .copied()
        .expect("tcp address");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server_state = state.clone();
    let server = tokio::spawn(async move {
        app::serve_on(acceptor, server_state, async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    TestApp {
        addr,
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        db: database,
        state,
        tmp,
        shutdown: Some(tx),
        server: Some(server),
        pg,
        uscc_seq: std::sync::atomic::AtomicU32::new(0),
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some((base, name)) = self.pg.take() {
            drop_database(base, name);
        }
    }
}

/// Drops a PostgreSQL database made by [`fresh_database`]. It needs a runtime of its own: this
/// may run inside a finished test's runtime, or in a `Drop`.
pub fn drop_database(base: String, name: String) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            if let Ok(admin) = Database::connect(&base).await {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                admin.close().await.ok();
            }
        });
    })
    .join();
}

pub use load::{application, uscc};

/// Every error a test provokes must be one its operation documents: the status, and the code
/// among those listed for that status.
pub fn assert_documented(method: &Method, path: &str, status: StatusCode, body: &Value) {
    if status.as_u16() < 400 || status == StatusCode::METHOD_NOT_ALLOWED {
        return;
    }
    let Some(codes) = openapi::documented_codes(method, path, status.as_u16()) else {
        return;
    };
    let code = body["code"].as_str().unwrap_or_default();
    assert!(
        codes.iter().any(|c| c == code),
        "{method} {path} answered {status} `{code}`, which its operation does not document (it lists {codes:?} for {status})"
    );
}

impl TestApp {
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        who: &As,
        body: Option<Value>,
    ) -> Response {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{}", self.base, path));
        req = match who {
            As::Anonymous => req,
            As::Admin => req.bearer_auth(ADMIN_TOKEN),
            As::Staff(t) => req.bearer_auth(t),
            As::Merchant(k) => req.header("X-API-Key", k),
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_documented(&method, path, status, &body);
        Response {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, who: &As) -> Response {
        self.request(Method::GET, path, who, None).await
    }
    pub async fn post(&self, path: &str, who: &As, body: Value) -> Response {
        self.request(Method::POST, path, who, Some(body)).await
    }
    pub async fn patch(&self, path: &str, who: &As, body: Value) -> Response {
        self.request(Method::PATCH, path, who, Some(body)).await
    }
    pub async fn put(&self, path: &str, who: &As, body: Value) -> Response {
        self.request(Method::PUT, path, who, Some(body)).await
    }
    pub async fn delete(&self, path: &str, who: &As) -> Response {
        self.request(Method::DELETE, path, who, None).await
    }

    /// Sends raw bytes with a content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        who: &As,
        content_type: &str,
        body: Vec<u8>,
    ) -> Response {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{}", self.base, path))
            .header("content-type", content_type)
            .body(body);
        req = match who {
            As::Anonymous => req,
            As::Admin => req.bearer_auth(ADMIN_TOKEN),
            As::Staff(t) => req.bearer_auth(t),
            As::Merchant(k) => req.header("X-API-Key", k),
        };
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_documented(&method, path, status, &body);
        Response {
            status,
            headers,
            body,
            text,
        }
    }

    /// A distinct valid application body of `kind` ("brand" or "industry_belt").
    pub fn application(&self, kind: &str) -> Value {
        let n = self
            .uscc_seq
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        application(kind, n)
    }

    /// Applies as a merchant of `kind`; returns (merchant id, API key).
    pub async fn register_merchant(&self, kind: &str) -> (i64, String) {
        let r = self
            .post("/api/v1/merchants", &As::Anonymous, self.application(kind))
            .await
            .expect(201);
        (
            r.body["merchant"]["id"].as_i64().unwrap(),
            r.body["api_key"]["key"].as_str().unwrap().to_string(),
        )
    }

    pub async fn decide(&self, id: i64, action: &str, reason: &str) -> Response {
        self.post(
            &format!("/api/v1/merchants/{id}/decisions"),
            &As::Admin,
            json!({"action": action, "reason": reason}),
        )
        .await
    }

    /// Registers and approves a merchant; returns (merchant id, API key).
    pub async fn approved_merchant(&self, kind: &str) -> (i64, String) {
        let (id, key) = self.register_merchant(kind).await;
        self.decide(id, "approve", "").await.expect(200);
        (id, key)
    }

    /// Creates a staff token through the service the CLI uses.
    pub async fn staff_token(&self, role: &str) -> String {
        let role = merchant_incentives::services::staff::Role::parse(role).expect("role");
        merchant_incentives::services::staff::create(
            &self.db,
            &format!("{}-{}", role.as_str(), uuid::Uuid::new_v4().simple()),
            role,
        )
        .await
        .expect("staff token")
        .1
    }

    /// Registers creators by id (nickname: the id), as staff do.
    pub async fn register_creators(&self, ids: &[&str]) {
        let creators: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "nickname": id}))
            .collect();
        let r = self
            .post(
                "/api/v1/creators",
                &As::Admin,
                json!({ "creators": creators }),
            )
            .await
            .expect(200);
        assert_eq!(r.body["rejected"], 0, "{}", r.text);
    }

    /// Outbox rows, oldest first, as (kind, recipient, subject, status).
    pub async fn outbox(&self) -> Vec<entity::email_outbox::Model> {
        use sea_orm::{EntityTrait, QueryOrder};
        entity::email_outbox::Entity::find()
            .order_by_asc(entity::email_outbox::Column::Id)
            .all(&self.db)
            .await
            .expect("outbox")
    }
}

/// A confirmed reward of `amount` fen for merchant `merchant_id` in `program_id` (with the
/// achievement it came from), as evaluation leaves it once its window closed.
pub async fn insert_confirmed_reward(
    db: &DatabaseConnection,
    program_id: i64,
    merchant_id: i64,
    amount: i64,
) -> entity::reward::Model {
    use sea_orm::{ActiveModelTrait, Set};
    let now = chrono::Utc::now();
    let a = entity::achievement::ActiveModel {
        program_id: Set(program_id),
        period_start: Set("2026-01-01".parse().unwrap()),
        subject_type: Set(Subject::Merchant),
        subject_id: Set(merchant_id.to_string()),
        merchant_id: Set(Some(merchant_id)),
        tier: Set("a".into()),
        threshold: Set(1),
        value: Set(amount),
        achieved_at: Set(now),
        revoked_at: Set(None),
        run_id: Set(1),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert achievement");
    entity::reward::ActiveModel {
        achievement_id: Set(a.id),
        position: Set(0),
        program_id: Set(program_id),
        period_start: Set(a.period_start),
        period_end: Set("2026-01-31".parse().unwrap()),
        subject_type: Set(Subject::Merchant),
        subject_id: Set(a.subject_id),
        merchant_id: Set(Some(merchant_id)),
        tier: Set("a".into()),
        kind: Set(entity::enums::RewardKind::CashBonus),
        amount: Set(Some(amount)),
        rate_bp: Set(None),
        status: Set(entity::enums::RewardStatus::Confirmed),
        created_at: Set(now),
        confirmed_at: Set(Some(now)),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert reward")
}

/// The marketplace's GMV of every day of `from..=to` (inclusive), `per_day` fen each (all of it
/// live stream), written directly as `PUT /platform/gmv/{day}` stores it.
pub async fn set_platform_days(
    db: &sea_orm::DatabaseConnection,
    from: &str,
    to: &str,
    per_day: i64,
) {
    use sea_orm::{EntityTrait, Set};
    let (from, to): (chrono::NaiveDate, chrono::NaiveDate) = (
        from.parse().expect("YYYY-MM-DD"),
        to.parse().expect("YYYY-MM-DD"),
    );
    let rows: Vec<_> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|day| entity::platform_gmv::ActiveModel {
            day: Set(day),
            live_stream: Set(per_day),
            short_video: Set(0),
            storefront: Set(0),
            other: Set(0),
            total: Set(per_day),
            updated_by: Set("test".into()),
            updated_at: Set(chrono::Utc::now()),
        })
        .collect();
    for chunk in rows.chunks(100) {
        entity::platform_gmv::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await
            .expect("platform GMV rows");
    }
}

/// Roll-up rows written directly, as GMV ingestion keeps them (days are Asia/Shanghai dates).
impl TestApp {
    pub async fn add_rollup(&self, merchant_id: i64, day: &str, channel: &str, amount: i64) {
        use sea_orm::{
            EntityTrait, Set,
            sea_query::{ExprTrait, OnConflict},
        };
        let row = entity::gmv_daily_merchant::ActiveModel {
            merchant_id: Set(merchant_id),
            day: Set(day.parse().expect("YYYY-MM-DD")),
            channel: Set(Channel::parse(channel).expect("a channel")),
            amount: Set(amount),
            records: Set(1),
        };
        entity::gmv_daily_merchant::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    entity::gmv_daily_merchant::Column::MerchantId,
                    entity::gmv_daily_merchant::Column::Day,
                    entity::gmv_daily_merchant::Column::Channel,
                ])
                .value(
                    entity::gmv_daily_merchant::Column::Amount,
                    sea_orm::sea_query::Expr::col((
                        entity::gmv_daily_merchant::Entity,
                        entity::gmv_daily_merchant::Column::Amount,
                    ))
                    .add(amount),
                )
                .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .expect("roll-up row");
        structure_follows(&self.db, merchant_id, day, channel, amount).await;
    }

    pub async fn add_product_rollup(
        &self,
        merchant_id: i64,
        product_id: &str,
        day: &str,
        channel: &str,
        amount: i64,
    ) {
        use sea_orm::{EntityTrait, Set};
        entity::gmv_daily_product::Entity::insert(entity::gmv_daily_product::ActiveModel {
            merchant_id: Set(merchant_id),
            product_id: Set(product_id.to_string()),
            day: Set(day.parse().expect("YYYY-MM-DD")),
            channel: Set(Channel::parse(channel).expect("a channel")),
            amount: Set(amount),
            records: Set(1),
        })
        .exec_without_returning(&self.db)
        .await
        .expect("product roll-up row");
    }

    pub async fn add_creator_rollup(
        &self,
        creator_id: &str,
        merchant_id: i64,
        day: &str,
        channel: &str,
        amount: i64,
    ) {
        use sea_orm::{EntityTrait, Set};
        entity::gmv_daily_creator::Entity::insert(entity::gmv_daily_creator::ActiveModel {
            creator_id: Set(creator_id.to_string()),
            merchant_id: Set(merchant_id),
            day: Set(day.parse().expect("YYYY-MM-DD")),
            channel: Set(Channel::parse(channel).expect("a channel")),
            amount: Set(amount),
            records: Set(1),
        })
        .exec_without_returning(&self.db)
        .await
        .expect("creator roll-up row");
    }

    /// Creates the seeded public-goal programmes, as `serve` does at start.
    pub async fn seed_programs(&self) {
        merchant_incentives::services::programs::seed(&self.db)
            .await
            .expect("seed programmes");
    }

    /// `POST /api/v1/evaluations` as admin with `as_of`; asserts 201.
    /// Starts an evaluation as of `as_of` (202, `running`, with its `Location`) and waits for
    /// it to finish; returns the finished run.
    pub async fn evaluate(&self, as_of: &str) -> Value {
        let started = self
            .post("/api/v1/evaluations", &As::Admin, json!({ "as_of": as_of }))
            .await
            .expect(202);
        assert_eq!(started.body["status"], "running", "{}", started.text);
        let location = started.headers["location"].to_str().unwrap().to_string();
        assert_eq!(
            location,
            format!("/api/v1/evaluations/{}", started.body["id"])
        );
        self.finished_run(&location).await
    }

    /// Starts a digest run with `body` (202, `running`, with its `Location`) and waits for it
    /// to finish `ok`; the answer is the finished run as `GET /digests/{id}` shows it.
    pub async fn digest(&self, body: Value) -> Response {
        let started = self
            .post("/api/v1/digests", &As::Admin, body)
            .await
            .expect(202);
        assert_eq!(started.body["status"], "running", "{}", started.text);
        let location = started.headers["location"].to_str().unwrap().to_string();
        assert_eq!(location, format!("/api/v1/digests/{}", started.body["id"]));
        for _ in 0..1200 {
            let r = self.get(&location, &As::Admin).await.expect(200);
            if r.body["status"] != "running" {
                assert_eq!(r.body["status"], "ok", "{}", r.text);
                return r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{location} still running after 60 s");
    }

    /// Polls a run's `Location` until it is no longer `running` (at most 60 s).
    pub async fn finished_run(&self, location: &str) -> Value {
        for _ in 0..1200 {
            let r = self.get(location, &As::Admin).await.expect(200);
            if r.body["status"] != "running" {
                return r.body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{location} still running after 60 s");
    }

    /// The id of the seeded programme with this seed key.
    pub async fn seeded_program(&self, seed_key: &str) -> i64 {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::program::Entity::find()
            .filter(entity::program::Column::SeedKey.eq(seed_key))
            .one(&self.db)
            .await
            .expect("query")
            .expect("seeded programme")
            .id
    }
}

/// A programme row as the programme service would store it; `tiers` are (name, threshold fen).
pub async fn insert_program(
    db: &DatabaseConnection,
    name: &str,
    period: &str,
    tiers: &[(&str, i64)],
    goal: i64,
) -> i64 {
    use sea_orm::{ActiveModelTrait, Set};
    let tiers: Vec<Value> = tiers
        .iter()
        .map(|(n, t)| json!({"name": n, "threshold": t}))
        .collect();
    let now = chrono::Utc::now();
    entity::program::ActiveModel {
        name: Set(name.to_string()),
        description: Set(String::new()),
        subject: Set(Subject::Merchant),
        merchant_kinds: Set("brand,industry_belt".into()),
        metric: Set(Metric::Gmv),
        channel: Set(None),
        period: Set(PeriodKind::parse(period).expect("a period kind")),
        time_zone: Set("Asia/Shanghai".into()),
        starts_on: Set(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
        ends_on: Set(None),
        tiers: Set(Value::Array(tiers).to_string()),
        goal: Set(goal),
        active: Set(true),
        seed_key: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert program")
    .id
}

/// A merchant's progress row as evaluation would store it.
#[allow(clippy::too_many_arguments)]
pub async fn insert_progress(
    db: &DatabaseConnection,
    program_id: i64,
    period: (&str, &str),
    merchant_id: i64,
    value: i64,
    tier: (i32, Option<&str>),
    next: Option<(&str, i64)>,
    projected: i64,
    status: &str,
) {
    use sea_orm::{ActiveModelTrait, Set};
    entity::progress::ActiveModel {
        program_id: Set(program_id),
        period_start: Set(period.0.parse().unwrap()),
        period_end: Set(period.1.parse().unwrap()),
        subject_id: Set(merchant_id.to_string()),
        subject_type: Set(Subject::Merchant),
        merchant_id: Set(Some(merchant_id)),
        value: Set(value),
        tier_index: Set(tier.0),
        tier: Set(tier.1.map(str::to_string)),
        next_tier: Set(next.map(|n| n.0.to_string())),
        next_threshold: Set(next.map(|n| n.1)),
        remaining: Set(next.map_or(0, |n| (n.1 - value).max(0))),
        projected: Set(projected),
        status: Set(ProgressStatus::parse(status).expect("a progress status")),
        evaluated_at: Set(chrono::Utc::now()),
        run_id: Set(1),
    }
    .insert(db)
    .await
    .expect("insert progress");
    // And the period's tally, as the end of an evaluation of it would write.
    use sea_orm::EntityTrait;
    let row = entity::program::Entity::find_by_id(program_id)
        .one(db)
        .await
        .unwrap()
        .expect("the programme");
    let def = merchant_incentives::services::reports::program_def(&row).unwrap();
    let period = merchant_incentives::domain::period::Period {
        start: period.0.parse().unwrap(),
        end: period.1.parse().unwrap(),
    };
    merchant_incentives::services::evaluation::write_tally(
        db,
        1,
        program_id,
        &def,
        period,
        chrono::Utc::now().date_naive(),
    )
    .await
    .expect("tally");
}

/// An achievement row (optionally revoked).
#[allow(clippy::too_many_arguments)]
pub async fn insert_achievement(
    db: &DatabaseConnection,
    program_id: i64,
    period_start: &str,
    merchant_id: i64,
    tier: (&str, i64),
    value: i64,
    achieved_at: chrono::DateTime<chrono::Utc>,
    revoked_at: Option<chrono::DateTime<chrono::Utc>>,
) {
    use sea_orm::{ActiveModelTrait, Set};
    entity::achievement::ActiveModel {
        program_id: Set(program_id),
        period_start: Set(period_start.parse().unwrap()),
        subject_type: Set(Subject::Merchant),
        subject_id: Set(merchant_id.to_string()),
        merchant_id: Set(Some(merchant_id)),
        tier: Set(tier.0.into()),
        threshold: Set(tier.1),
        value: Set(value),
        achieved_at: Set(achieved_at),
        revoked_at: Set(revoked_at),
        run_id: Set(1),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert achievement");
}

/// A daily GMV roll-up row (day is the Asia/Shanghai local date).
pub async fn insert_gmv_day(
    db: &DatabaseConnection,
    merchant_id: i64,
    day: &str,
    channel: &str,
    amount: i64,
) {
    use sea_orm::{ActiveModelTrait, Set};
    entity::gmv_daily_merchant::ActiveModel {
        merchant_id: Set(merchant_id),
        day: Set(day.parse().unwrap()),
        channel: Set(Channel::parse(channel).expect("a channel")),
        amount: Set(amount),
        records: Set(1),
    }
    .insert(db)
    .await
    .expect("insert gmv day");
    structure_follows(db, merchant_id, day, channel, amount).await;
}

/// What ingestion appends to the kept GMV structure for a roll-up row of one record written
/// directly (for an approved merchant; approving one later adds its roll-ups).
async fn structure_follows(
    db: &DatabaseConnection,
    merchant_id: i64,
    day: &str,
    channel: &str,
    amount: i64,
) {
    use sea_orm::EntityTrait;
    let m = entity::merchant::Entity::find_by_id(merchant_id)
        .one(db)
        .await
        .unwrap()
        .expect("the merchant");
    if m.status == entity::enums::MerchantStatus::Approved {
        merchant_incentives::services::segments::append(
            db,
            &(&m).into(),
            [(
                day.parse().unwrap(),
                Channel::parse(channel).unwrap(),
                amount,
                1,
            )],
        )
        .await
        .expect("structure change");
    }
}

/// Sets when the merchant's last GMV record arrived.
pub async fn set_last_gmv_at(
    db: &DatabaseConnection,
    merchant_id: i64,
    at: Option<chrono::DateTime<chrono::Utc>>,
) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    entity::merchant::Entity::update_many()
        .col_expr(entity::merchant::Column::LastGmvAt, Expr::value(at))
        .filter(entity::merchant::Column::Id.eq(merchant_id))
        .exec(db)
        .await
        .expect("set last_gmv_at");
}

/// Roll-up rows as (key, amount, records), and the same computed by GROUP BY over raw records.
pub async fn rollups_and_raw(
    db: &DatabaseConnection,
    rollup: &str,
    key: &str,
    raw_filter: &str,
) -> (
    std::collections::BTreeMap<String, (i64, i64)>,
    std::collections::BTreeMap<String, (i64, i64)>,
) {
    let load = |sql: String| async move {
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql,
            ))
            .await
            .unwrap();
        rows.into_iter()
            .map(|r| {
                let day: chrono::NaiveDate = r.try_get("", "day").unwrap();
                let k: String = r.try_get("", "k").unwrap();
                (
                    format!("{k}|{day}|{}", r.try_get::<String>("", "channel").unwrap()),
                    (
                        r.try_get::<i64>("", "amount").unwrap(),
                        r.try_get::<i64>("", "records").unwrap(),
                    ),
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let stored = load(format!(
        "SELECT {key} AS k, day, channel, amount, records FROM {rollup}"
    ))
    .await;
    let raw = load(format!(
        "SELECT {key} AS k, local_day AS day, channel, CAST(SUM(amount) AS BIGINT) AS amount, \
         CAST(COUNT(*) AS BIGINT) AS records FROM gmv_record {raw_filter} \
         GROUP BY {key}, local_day, channel"
    ))
    .await;
    (stored, raw)
}

/// Asserts that every roll-up table (merchant, product and creator × day × channel) equals the
/// GROUP BY of the raw records, row for row.
pub async fn assert_rollups_match_records(db: &DatabaseConnection) {
    for (rollup, key, filter) in [
        ("gmv_daily_merchant", "CAST(merchant_id AS TEXT)", ""),
        (
            "gmv_daily_product",
            "CAST(merchant_id AS TEXT) || '/' || product_id",
            "WHERE product_id IS NOT NULL",
        ),
        (
            "gmv_daily_creator",
            "CAST(merchant_id AS TEXT) || '/' || creator_id",
            "WHERE creator_id IS NOT NULL",
        ),
    ] {
        let (stored, raw) = rollups_and_raw(db, rollup, key, filter).await;
        assert!(!raw.is_empty() || rollup != "gmv_daily_merchant");
        assert_eq!(stored, raw, "{rollup} differs from its raw records");
    }
    assert_structure_matches_rollups(db).await;
}

/// Asserts that the kept GMV structure (day rows plus unfolded changes) equals, for every
/// split, the GROUP BY of the approved merchants' roll-ups, row for row (rows that net to no
/// records left out), before and after folding the changes.
pub async fn assert_structure_matches_rollups(db: &DatabaseConnection) {
    let load = |sql: String| async move {
        db.query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                (
                    r.try_get_by_index::<String>(0).unwrap(),
                    r.try_get_by_index::<chrono::NaiveDate>(1).unwrap(),
                    r.try_get_by_index::<String>(2).unwrap(),
                    r.try_get_by_index::<String>(3).unwrap(),
                    r.try_get_by_index::<String>(4).unwrap(),
                ),
                (
                    r.try_get_by_index::<i64>(5).unwrap(),
                    r.try_get_by_index::<i64>(6).unwrap(),
                ),
            )
        })
        .collect::<std::collections::BTreeMap<_, _>>()
    };
    let kept = || {
        load(
            "SELECT split, day, grp, kind, channel, CAST(SUM(amount) AS BIGINT), \
             CAST(SUM(records) AS BIGINT) FROM (\
             SELECT split, day, grp, kind, channel, amount, records FROM gmv_segment_day \
             UNION ALL \
             SELECT split, day, grp, kind, channel, amount, records FROM gmv_segment_delta) s \
             GROUP BY split, day, grp, kind, channel HAVING SUM(records) <> 0"
                .to_string(),
        )
    };
    let mut parts = Vec::new();
    for (split, grp) in [
        ("whole", "''"),
        ("industry_belt", "COALESCE(m.industry_belt, '')"),
        ("province", "m.province"),
        ("category", "m.category"),
    ] {
        // A constant is no grouping column on PostgreSQL.
        let by = if split == "whole" {
            String::new()
        } else {
            format!(", {grp}")
        };
        parts.push(format!(
            "SELECT '{split}', g.day, {grp}, m.kind, g.channel, CAST(SUM(g.amount) AS BIGINT), \
             CAST(SUM(g.records) AS BIGINT) FROM gmv_daily_merchant g \
             JOIN merchant m ON m.id = g.merchant_id WHERE m.status = 'approved' \
             GROUP BY g.day, m.kind, g.channel{by}"
        ));
    }
    let expected = load(parts.join(" UNION ALL ")).await;
    assert_eq!(
        kept().await,
        expected,
        "the kept GMV structure differs from the roll-ups"
    );
    merchant_incentives::services::segments::fold(db)
        .await
        .unwrap();
    let left: i64 = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM gmv_segment_delta",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(left, 0, "a fold leaves no change behind");
    assert_eq!(
        kept().await,
        expected,
        "folding changed the kept GMV structure"
    );
    // The month rows are the day rows by calendar month.
    let month = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => "CAST(date_trunc('MONTH', day) AS DATE)",
        _ => "date(day, 'start of month')",
    };
    let months = |table: &str, day: &str| {
        load(format!(
            "SELECT split, {day}, grp, kind, channel, CAST(SUM(amount) AS BIGINT), \
             CAST(SUM(records) AS BIGINT) FROM {table} GROUP BY split, {day}, grp, kind, channel \
             HAVING SUM(records) <> 0"
        ))
    };
    assert_eq!(
        months("gmv_segment_month", "month_start").await,
        months("gmv_segment_day", month).await,
        "the month rows differ from the day rows"
    );
}

/// The first column of every row `sql` returns, as text (either backend).
pub async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get_by_index::<String>(0).unwrap())
    .collect()
}

/// The row count of every table of the database (both backends), in one query.
pub async fn table_counts(db: &DatabaseConnection) -> std::collections::BTreeMap<String, i64> {
    let backend = db.get_database_backend();
    let list = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    };
    let tables: Vec<String> = db
        .query_all_raw(sea_orm::Statement::from_string(backend, list))
        .await
        .expect("list tables")
        .into_iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect();
    assert!(!tables.is_empty(), "the database has tables");
    let sql = tables
        .iter()
        .map(|t| format!("SELECT '{t}' AS name, CAST(COUNT(*) AS BIGINT) AS n FROM \"{t}\""))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    db.query_all_raw(sea_orm::Statement::from_string(backend, sql))
        .await
        .expect("count rows")
        .into_iter()
        .map(|r| {
            (
                r.try_get::<String>("", "name").unwrap(),
                r.try_get::<i64>("", "n").unwrap(),
            )
        })
        .collect()
}

/// A free TCP port on loopback, for a server process started by a test.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Over HTTP against running servers: applies with `application` at `apply_base`, then has the
/// admin `admin_token` approve it at `approve_base`. Returns the merchant id and its API key.
pub async fn apply_and_approve(
    http: &reqwest::Client,
    apply_base: &str,
    approve_base: &str,
    admin_token: &str,
    application: Value,
) -> (i64, String) {
    let applied: Value = http
        .post(format!("{apply_base}/api/v1/merchants"))
        .json(&application)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = applied["merchant"]["id"].as_i64().expect("applied");
    let key = applied["api_key"]["key"].as_str().unwrap().to_string();
    let approved = http
        .post(format!("{approve_base}/api/v1/merchants/{id}/decisions"))
        .bearer_auth(admin_token)
        .json(&json!({"action": "approve", "reason": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status().as_u16(), 200);
    (id, key)
}
