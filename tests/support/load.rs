//! The mixed load shared by the soak test (`tests/api/soak.rs`) and the `mixed` bench: the
//! built server on a real port, and at once merchants ingesting batches with replays and
//! refunds, staff deciding applications, merchants rotating keys and reading progress, the
//! outbox dispatcher sending every email to an SMTP server, and evaluations started every few
//! seconds. Everything goes over HTTP; the driver records every answer so the caller can check
//! the database against what was acknowledged.
#![allow(dead_code)]

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::{SecondsFormat, Utc};
use merchant_incentives::domain::uscc::synthetic;
use rand::{Rng, SeedableRng, rngs::StdRng};
use reqwest::{Client, RequestBuilder};
use serde_json::{Value, json};

/// The built server as a child process, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub admin: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts `bin` on a free port against `database_url`, sending mail to `smtp_url`, and
    /// waits until it is ready.
    pub async fn start(bin: &str, database_url: &str, smtp_url: &str, dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let admin = "load-admin-token-0123456789".to_string();
        let log = dir.join("server.log");
        let child = Command::new(bin)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("LISTEN", format!("127.0.0.1:{port}"))
            .env("ADMIN_TOKEN", &admin)
            .env("SMTP_URL", smtp_url)
            .env("OUTBOX_POLL_MS", "200")
            .env("SCHEDULER", "off")
            .env("KEY_RATE_PER_SECOND", "100000")
            .env("APPLY_RATE_PER_MINUTE", "100000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the server binary starts");
        let base = format!("http://127.0.0.1:{port}");
        let server = Self {
            child,
            base,
            admin,
            log,
        };
        let http = Client::new();
        for _ in 0..300 {
            if http
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the server did not become ready; its log:\n{}",
            std::fs::read_to_string(&server.log).unwrap_or_default()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How much load, and for how long.
#[derive(Clone, Debug)]
pub struct Settings {
    pub duration: Duration,
    /// Merchants sending GMV batches, each in its own loop.
    pub ingesters: usize,
    pub batch: usize,
    /// Staff loops applying and deciding.
    pub deciders: usize,
    /// Merchants rotating their keys and reading their progress.
    pub rotators: usize,
    pub evaluate_every: Duration,
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(30),
            ingesters: 8,
            batch: 200,
            deciders: 2,
            rotators: 4,
            evaluate_every: Duration::from_secs(3),
            seed: 20261129,
        }
    }
}

/// The answers of one operation (its OpenAPI operation id).
#[derive(Clone, Debug, Default)]
pub struct OpStats {
    pub statuses: BTreeMap<u16, u64>,
    pub latencies: Vec<Duration>,
}

impl OpStats {
    pub fn count(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// The latency at quantile `q` (nearest rank).
    pub fn quantile(&self, q: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort();
        if l.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * l.len() as f64).ceil() as usize).clamp(1, l.len());
        l[rank - 1]
    }
}

/// Everything the load did and was answered.
#[derive(Debug, Default)]
pub struct Outcome {
    pub ops: BTreeMap<&'static str, OpStats>,
    /// Records acknowledged (`created` or `duplicate` in a 200): (merchant id, external id) →
    /// amount.
    pub acked: BTreeMap<(i64, String), i64>,
    /// Item results answered, by result and a rejection's code.
    pub items: BTreeMap<(String, Option<String>), u64>,
    /// A replay of an acknowledged record answered `created`: it had not been stored.
    pub replays_created: u64,
    /// A record sent for the first time answered `duplicate`.
    pub first_sends_duplicate: u64,
    /// Merchants whose approval answered 200, and whose rejection did.
    pub approved: Vec<i64>,
    pub rejected: Vec<i64>,
    /// A revoked key that still authenticated.
    pub revoked_keys_accepted: u64,
    /// Finished evaluation runs, as `GET /evaluations/{id}` answered.
    pub evaluations: Vec<Value>,
    /// Requests that got no HTTP answer at all.
    pub transport_errors: Vec<String>,
    pub elapsed: Duration,
}

impl Outcome {
    /// Requests answered 5xx, by operation.
    pub fn server_errors(&self) -> BTreeMap<&'static str, u64> {
        self.ops
            .iter()
            .map(|(op, s)| (*op, s.statuses.range(500..600).map(|(_, n)| n).sum()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    pub fn requests(&self) -> u64 {
        self.ops.values().map(OpStats::count).sum()
    }

    /// Every status answered, over all operations.
    pub fn status_histogram(&self) -> BTreeMap<u16, u64> {
        let mut h = BTreeMap::new();
        for s in self.ops.values() {
            for (status, n) in &s.statuses {
                *h.entry(*status).or_insert(0) += n;
            }
        }
        h
    }

    /// A table: operation, requests, statuses, p50, p99 (and the run's length).
    pub fn table(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let mut out = format!(
            "{} requests in {secs:.1} s; statuses {:?}\n\n| operation | requests | per s | statuses | p50 ms | p99 ms |\n|---|---:|---:|---|---:|---:|\n",
            self.requests(),
            self.status_histogram()
        );
        for (op, s) in &self.ops {
            out.push_str(&format!(
                "| {op} | {} | {:.1} | {:?} | {:.1} | {:.1} |\n",
                s.count(),
                s.count() as f64 / secs,
                s.statuses,
                s.quantile(0.5).as_secs_f64() * 1000.0,
                s.quantile(0.99).as_secs_f64() * 1000.0,
            ));
        }
        out
    }
}

type Shared = Arc<Mutex<Outcome>>;

/// Sends `req` as operation `op`, recording its status and latency; `None` when no HTTP answer
/// came.
async fn call(out: &Shared, op: &'static str, req: RequestBuilder) -> Option<(u16, Value)> {
    let started = Instant::now();
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.json::<Value>().await.unwrap_or(Value::Null);
            let elapsed = started.elapsed();
            let mut o = out.lock().unwrap();
            let s = o.ops.entry(op).or_default();
            *s.statuses.entry(status).or_insert(0) += 1;
            s.latencies.push(elapsed);
            Some((status, body))
        }
        Err(e) => {
            out.lock()
                .unwrap()
                .transport_errors
                .push(format!("{op}: {e}"));
            None
        }
    }
}

/// A valid unified social credit code, different for every `n`.
pub fn uscc(n: u32) -> String {
    synthetic("330782", u64::from(n))
}

/// A distinct valid application body of `kind` ("brand" or "industry_belt") for every `n`.
pub fn application(kind: &str, n: u32) -> Value {
    let mut body = json!({
        "kind": kind,
        "legal_name": format!("义乌市第{n}日用品有限公司"),
        "display_name": format!("第{n}号店"),
        "uscc": uscc(n),
        "contact_email": format!("merchant{n}@example.cn"),
        "province": "浙江",
        "city": "金华",
        "category": "日用百货",
    });
    if kind == "brand" {
        body["brand_name"] = json!(format!("品牌{n}"));
        body["trademark_number"] = json!(format!("{}", 30_000_000 + n));
    } else {
        body["industry_belt"] = json!("义乌小商品");
    }
    body
}

/// The driver's view of the server.
#[derive(Clone)]
struct Ctx {
    http: Client,
    base: String,
    admin: String,
    out: Shared,
    deadline: Instant,
}

impl Ctx {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    fn live(&self) -> bool {
        Instant::now() < self.deadline
    }

    /// Applies with application `n`; the merchant's id and key when it answered 201.
    async fn apply(&self, n: u32) -> Option<(i64, String)> {
        let (status, body) = call(
            &self.out,
            "merchants_apply",
            self.http.post(self.url("/merchants")).json(&application(
                if n.is_multiple_of(2) {
                    "brand"
                } else {
                    "industry_belt"
                },
                n,
            )),
        )
        .await?;
        (status == 201).then(|| {
            (
                body["merchant"]["id"].as_i64().unwrap(),
                body["api_key"]["key"].as_str().unwrap().to_string(),
            )
        })
    }

    async fn decide(&self, id: i64, action: &str, reason: &str) -> Option<u16> {
        call(
            &self.out,
            "merchants_decide",
            self.http
                .post(self.url(&format!("/merchants/{id}/decisions")))
                .bearer_auth(&self.admin)
                .json(&json!({"action": action, "reason": reason})),
        )
        .await
        .map(|(s, _)| s)
    }

    /// An approved merchant: its id and key.
    async fn approved(&self, n: u32) -> (i64, String) {
        let (id, key) = self
            .apply(n)
            .await
            .expect("a setup application is accepted");
        assert_eq!(self.decide(id, "approve", "").await, Some(200));
        self.out.lock().unwrap().approved.push(id);
        (id, key)
    }

    async fn progress(&self, key: &str) {
        call(
            &self.out,
            "programs_my_progress",
            self.http
                .get(self.url("/me/progress"))
                .header("X-API-Key", key),
        )
        .await;
    }
}

/// A programme every merchant can reach quickly, so evaluations record achievements and queue
/// `tier_achieved` emails.
fn programme() -> Value {
    json!({
        "name": "压测年度之星",
        "subject": "merchant",
        "merchant_kinds": ["brand", "industry_belt"],
        "metric": "gmv",
        "period": "year",
        "time_zone": "Asia/Shanghai",
        "starts_on": "2026-01-01",
        "tiers": [
            {"name": "¥1K", "threshold": 100_000},
            {"name": "¥50K", "threshold": 5_000_000},
            {"name": "¥1M", "threshold": 100_000_000}
        ],
        "goal": 10
    })
}

/// Runs the mixed load against the server at `base` for `settings.duration`.
pub async fn run(base: &str, admin: &str, settings: &Settings) -> Outcome {
    let out: Shared = Arc::new(Mutex::new(Outcome::default()));
    let setup = Ctx {
        http: Client::new(),
        base: base.to_string(),
        admin: admin.to_string(),
        out: out.clone(),
        deadline: Instant::now(),
    };
    let created = call(
        &out,
        "programs_create",
        setup
            .http
            .post(setup.url("/programs"))
            .bearer_auth(admin)
            .json(&programme()),
    )
    .await;
    assert_eq!(
        created.map(|(s, _)| s),
        Some(201),
        "the programme is created"
    );
    let mut ingesters = Vec::new();
    for i in 0..settings.ingesters {
        ingesters.push(setup.approved(i as u32 + 1).await);
    }
    let mut rotators = Vec::new();
    for i in 0..settings.rotators {
        rotators.push(setup.approved((settings.ingesters + i) as u32 + 1).await);
    }
    let started = Instant::now();
    let ctx = Ctx {
        deadline: started + settings.duration,
        ..setup
    };
    let next_application = Arc::new(std::sync::atomic::AtomicU32::new(10_000));
    let mut tasks = Vec::new();
    for (i, (id, key)) in ingesters.into_iter().enumerate() {
        let ctx = ctx.clone();
        let rng = StdRng::seed_from_u64(settings.seed + i as u64);
        let batch = settings.batch;
        tasks.push(tokio::spawn(ingest(ctx, rng, id, key, batch)));
    }
    for (i, (_, key)) in rotators.into_iter().enumerate() {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move { rotate(ctx, key, i).await }));
    }
    for d in 0..settings.deciders {
        let ctx = ctx.clone();
        let next = next_application.clone();
        tasks.push(tokio::spawn(async move { decide(ctx, next, d).await }));
    }
    {
        let ctx = ctx.clone();
        let every = settings.evaluate_every;
        tasks.push(tokio::spawn(async move { evaluate(ctx, every).await }));
    }
    for t in tasks {
        t.await.expect("a load task panicked");
    }
    let mut o = std::mem::take(&mut *out.lock().unwrap());
    o.elapsed = started.elapsed();
    o
}

/// One merchant's loop: batches of new sales, replays of acknowledged records, refunds of
/// acknowledged sales, and now and then an invalid record; its progress every few batches.
async fn ingest(ctx: Ctx, mut rng: StdRng, merchant: i64, key: String, batch: usize) {
    const CHANNELS: [&str; 4] = ["live_stream", "short_video", "storefront", "other"];
    let mut sales: Vec<Value> = Vec::new();
    let mut acked: Vec<Value> = Vec::new();
    let mut n = 0u64;
    let mut round = 0u64;
    while ctx.live() {
        round += 1;
        let mut records = Vec::with_capacity(batch);
        let mut replay = Vec::with_capacity(batch);
        let mut in_batch = std::collections::HashSet::new();
        for _ in 0..batch {
            let roll = rng.random_range(0..100);
            let when = Utc::now() - chrono::Duration::seconds(rng.random_range(60..86_400 * 20));
            let at = when.to_rfc3339_opts(SecondsFormat::Secs, true);
            n += 1;
            let record = if roll < 10 && !acked.is_empty() {
                let r = acked[rng.random_range(0..acked.len())].clone();
                if !in_batch.insert(r["external_id"].as_str().unwrap().to_string()) {
                    continue;
                }
                replay.push(true);
                records.push(r);
                continue;
            } else if roll < 20 && !sales.is_empty() {
                let sale = &sales[rng.random_range(0..sales.len())];
                json!({
                    "external_id": format!("m{merchant}-r{n}"),
                    "occurred_at": at,
                    "amount": -rng.random_range(1..=50i64),
                    "currency": "CNY",
                    "channel": sale["channel"],
                    "corrects": sale["external_id"],
                })
            } else if roll < 22 {
                json!({
                    "external_id": format!("m{merchant}-z{n}"),
                    "occurred_at": at,
                    "amount": 0,
                    "currency": "CNY",
                    "channel": "live_stream",
                })
            } else {
                json!({
                    "external_id": format!("m{merchant}-s{n}"),
                    "occurred_at": at,
                    "amount": rng.random_range(5_000..=500_000i64),
                    "currency": "CNY",
                    "channel": CHANNELS[rng.random_range(0..CHANNELS.len())],
                })
            };
            in_batch.insert(record["external_id"].as_str().unwrap().to_string());
            replay.push(false);
            records.push(record);
        }
        let answer = call(
            &ctx.out,
            "gmv_records_create",
            ctx.http
                .post(ctx.url("/gmv/records"))
                .header("X-API-Key", &key)
                .json(&json!({ "records": records })),
        )
        .await;
        if let Some((200, body)) = answer {
            let results = body["results"].as_array().expect("per-record results");
            assert_eq!(results.len(), records.len());
            let mut o = ctx.out.lock().unwrap();
            for ((r, record), was_replay) in results.iter().zip(&records).zip(&replay) {
                let status = r["status"].as_str().unwrap().to_string();
                let code = r["error"]["code"].as_str().map(str::to_string);
                *o.items.entry((status.clone(), code)).or_insert(0) += 1;
                match (status.as_str(), was_replay) {
                    ("created", true) => o.replays_created += 1,
                    ("duplicate", false) => o.first_sends_duplicate += 1,
                    _ => {}
                }
                if status == "created" || status == "duplicate" {
                    let id = record["external_id"].as_str().unwrap().to_string();
                    o.acked
                        .insert((merchant, id), record["amount"].as_i64().unwrap());
                    if status == "created" {
                        acked.push(record.clone());
                        if record.get("corrects").is_none() {
                            sales.push(record.clone());
                        }
                    }
                }
            }
        }
        if round.is_multiple_of(4) {
            ctx.progress(&key).await;
        }
    }
}

/// One merchant's loop: issue a new key, read progress with it, revoke the old one, and check
/// the old one is refused.
async fn rotate(ctx: Ctx, mut key: String, i: usize) {
    let keys = call(
        &ctx.out,
        "me_keys_list",
        ctx.http
            .get(ctx.url("/me/api-keys"))
            .header("X-API-Key", &key),
    )
    .await;
    let mut key_id = keys
        .and_then(|(_, b)| b["items"][0]["id"].as_i64())
        .expect("the merchant's first key");
    while ctx.live() {
        let Some((201, issued)) = call(
            &ctx.out,
            "me_keys_create",
            ctx.http
                .post(ctx.url("/me/api-keys"))
                .header("X-API-Key", &key)
                .json(&json!({})),
        )
        .await
        else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let new_key = issued["key"].as_str().unwrap().to_string();
        ctx.progress(&new_key).await;
        let revoked = call(
            &ctx.out,
            "me_keys_revoke",
            ctx.http
                .delete(ctx.url(&format!("/me/api-keys/{key_id}")))
                .header("X-API-Key", &new_key),
        )
        .await;
        if revoked.is_some_and(|(s, _)| s == 200) {
            let old = call(
                &ctx.out,
                "me_get",
                ctx.http.get(ctx.url("/me")).header("X-API-Key", &key),
            )
            .await;
            if old.is_some_and(|(s, _)| s != 401) {
                ctx.out.lock().unwrap().revoked_keys_accepted += 1;
            }
        }
        key = new_key;
        key_id = issued["id"].as_i64().unwrap();
        if i.is_multiple_of(2) {
            ctx.progress(&key).await;
        }
    }
}

/// A staff loop: an application comes in, and is approved, rejected or sent back.
async fn decide(ctx: Ctx, next: Arc<std::sync::atomic::AtomicU32>, d: usize) {
    let mut round = d;
    while ctx.live() {
        let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let Some((id, key)) = ctx.apply(n).await else {
            continue;
        };
        round += 1;
        let (action, reason) = match round % 3 {
            0 => ("reject", "营业执照信息与统一社会信用代码不符"),
            1 => ("request_changes", "请补充商标注册证"),
            _ => ("approve", ""),
        };
        let status = ctx.decide(id, action, reason).await;
        let approved = if action == "request_changes" {
            // Sent back, corrected and re-submitted by the merchant, then approved.
            status == Some(200)
                && call(
                    &ctx.out,
                    "me_update",
                    ctx.http
                        .patch(ctx.url("/me"))
                        .header("X-API-Key", &key)
                        .json(&json!({"display_name": format!("压测第{n}号店（已补充）")})),
                )
                .await
                .is_some_and(|(s, _)| s == 200)
                && ctx.decide(id, "approve", "").await == Some(200)
        } else {
            status == Some(200) && action == "approve"
        };
        let mut o = ctx.out.lock().unwrap();
        if approved {
            o.approved.push(id);
        } else if action == "reject" && status == Some(200) {
            o.rejected.push(id);
        }
    }
}

/// Starts an evaluation as of now every `every`, and follows it to its end.
async fn evaluate(ctx: Ctx, every: Duration) {
    while ctx.live() {
        let tick = Instant::now();
        let as_of = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        let started = call(
            &ctx.out,
            "evaluations_run",
            ctx.http
                .post(ctx.url("/evaluations"))
                .bearer_auth(&ctx.admin)
                .json(&json!({ "as_of": as_of })),
        )
        .await;
        if let Some((202, run)) = started {
            let id = run["id"].as_i64().unwrap();
            let patience = Instant::now() + Duration::from_secs(120);
            loop {
                assert!(
                    Instant::now() < patience,
                    "evaluation {id} still running after 2 min"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
                let Some((200, now)) = call(
                    &ctx.out,
                    "evaluations_get",
                    ctx.http
                        .get(ctx.url(&format!("/evaluations/{id}")))
                        .bearer_auth(&ctx.admin),
                )
                .await
                else {
                    continue;
                };
                if now["status"] != "running" {
                    ctx.out.lock().unwrap().evaluations.push(now);
                    break;
                }
            }
        }
        let left = every.saturating_sub(tick.elapsed());
        tokio::time::sleep(left).await;
    }
}

/// Mail as the SMTP server received it: Message-ID → how many times.
pub fn message_ids(messages: &[Vec<u8>]) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    for data in messages {
        let text = String::from_utf8_lossy(data);
        let id = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("Message-ID:")
                    .or_else(|| l.strip_prefix("Message-Id:"))
            })
            .map(|v| v.trim().to_string())
            .unwrap_or_default();
        *ids.entry(id).or_insert(0) += 1;
    }
    ids
}
