//! Read endpoints under load: `GET /api/v1/me/progress` (a random merchant's API key per
//! request) and `GET /api/v1/programs/{id}/progress` (random leaderboard pages, with and without
//! a `status` filter, with a staff token) of the real server binary, on a database seeded with
//! 100,000 approved merchants, one API key each and the current progress of every merchant
//! (and of one product per merchant, in its catalogue). The same load generator then measures a bare poem
//! handler answering the same JSON bodies, so the cost of the generator and of HTTP on this
//! machine is visible next to the server's.
//!
//! Per endpoint: the maximum rate of a closed loop of `READ_BENCH_CONNECTIONS` connections,
//! then an open loop at half that rate on a constant schedule, each request's latency measured
//! from the instant it was *scheduled* to be sent (so a stalled server is charged for every
//! request it delayed: coordinated omission is accounted for). Peak RSS of the server process
//! (VmHWM) is read at the end.
//!
//! `cargo bench --bench read`; `BENCH_DATABASE_URL=postgres://…` adds PostgreSQL;
//! `READ_BENCH_MERCHANTS` (default 100000), `READ_BENCH_CONNECTIONS` (32),
//! `READ_BENCH_MAX_SECS` (5), `READ_BENCH_SECS` (10). Writes `bench-results/read.json`.

mod common;

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::Utc;
use entity::{
    api_key,
    enums::{Locale, MerchantKind, MerchantStatus, Subject},
    merchant, product, program, progress,
};
use merchant_incentives::{
    db,
    domain::{
        period::{self, Period, Status},
        program::ProgramDef,
        uscc::check_char,
    },
    pagination, secrets,
    services::staff::Role,
    services::{programs, staff},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_merchant-incentives");
const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";
/// Set in the child process that serves the bare poem baseline.
const BARE_ENV: &str = "READ_BENCH_BARE_DIR";
/// Rows per INSERT statement, and statements per transaction, when seeding.
const ROWS_PER_INSERT: usize = 1_000;
const INSERTS_PER_TXN: usize = 10;
/// Page size of the leaderboard requests (the API's default).
const PAGE: usize = 50;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy)]
struct Options {
    merchants: usize,
    connections: usize,
    max_secs: f64,
    open_secs: f64,
}

fn main() -> anyhow::Result<()> {
    if let Ok(dir) = std::env::var(BARE_ENV) {
        return bare_server(Path::new(&dir));
    }
    let opts = Options {
        merchants: env_or("READ_BENCH_MERCHANTS", 100_000),
        connections: env_or("READ_BENCH_CONNECTIONS", 32),
        max_secs: env_or("READ_BENCH_MAX_SECS", 5.0),
        open_secs: env_or("READ_BENCH_SECS", 10.0),
    };
    let machine = common::machine();
    let load_before = common::load_average();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let rows = rt.block_on(async {
        let tmp = tempfile::tempdir()?;
        eprintln!(
            "read bench: {} merchants, {} connections, {} s closed loop, {} s open loop",
            opts.merchants, opts.connections, opts.max_secs, opts.open_secs
        );
        let started = Instant::now();
        let keys: Vec<secrets::NewSecret> = (0..opts.merchants)
            .map(|_| secrets::generate(secrets::MERCHANT_KEY_PREFIX))
            .collect();
        eprintln!(
            "  {} API keys generated in {:.1} s",
            keys.len(),
            started.elapsed().as_secs_f64()
        );
        let keys = Arc::new(keys);
        let mut rows = Vec::new();
        let sqlite = format!("sqlite://{}/read.db?mode=rwc", tmp.path().display());
        let samples = backend("sqlite", &sqlite, &keys, opts, tmp.path(), &mut rows).await?;
        if let Some(base) = std::env::var("BENCH_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
        {
            let (name, url) = common::create_pg(&base).await?;
            let result = backend("postgres", &url, &keys, opts, tmp.path(), &mut rows).await;
            common::drop_pg(&base, &name).await;
            result?;
        }
        bare(&samples, &keys, opts, tmp.path(), &mut rows).await?;
        anyhow::Ok(rows)
    })?;

    println!();
    println!(
        "| backend | endpoint | max req/s | rate tested req/s | p50 ms | p99 ms | p99.9 ms | errors | server peak RSS MiB |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.1} |",
            r.backend,
            r.endpoint,
            r.max_rps,
            r.rate,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.errors,
            r.peak_rss_mib
        );
    }
    println!();
    for r in rows.iter().filter(|r| r.backend != "bare poem") {
        if let Some(bare) = rows
            .iter()
            .find(|b| b.backend == "bare poem" && b.endpoint == r.endpoint)
        {
            println!(
                "{} {}: {:.2}× the bare poem handler's maximum rate",
                r.backend,
                r.endpoint,
                r.max_rps / bare.max_rps
            );
        }
    }
    common::print_footer(&machine, load_before);
    println!(
        "Targets (DESIGN.md): p99 under 20 ms at half the measured maximum rate; server RSS under 100 MB; the leaderboard at 0.3× and /me/progress at 0.4× the bare handler's maximum rate."
    );
    common::write_results(
        "read",
        &machine,
        load_before,
        json!({
            "merchants": opts.merchants,
            "connections": opts.connections,
            "closed_loop_secs": opts.max_secs,
            "open_loop_secs": opts.open_secs,
            "open_loop_rate": "half of the closed loop's maximum",
            "page_limit": PAGE,
            "targets": {"p99_ms": 20.0, "server_rss_mib": 100.0, "leaderboard_ratio": 0.3, "me_progress_ratio": 0.4},
        }),
        rows.iter().map(Row::to_json).collect(),
    );
    Ok(())
}

/// One measured endpoint.
struct Row {
    backend: &'static str,
    endpoint: &'static str,
    max_rps: f64,
    rate: f64,
    achieved_rps: f64,
    requests: usize,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    /// p99 measured from the actual send instead of the scheduled one (what a naive generator
    /// reports), for comparison only.
    p99_uncorrected_ms: f64,
    rss_idle_mib: f64,
    peak_rss_mib: f64,
}

impl Row {
    fn to_json(&self) -> Value {
        json!({
            "backend": self.backend,
            "endpoint": self.endpoint,
            "max_rps": round(self.max_rps, 1),
            "rate_tested_rps": round(self.rate, 1),
            "achieved_rps": round(self.achieved_rps, 1),
            "requests": self.requests,
            "errors": self.errors,
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "p99_9_ms": round(self.p999_ms, 3),
            "max_ms": round(self.max_ms, 3),
            "p99_uncorrected_ms": round(self.p99_uncorrected_ms, 3),
            "server_rss_after_start_mib": round(self.rss_idle_mib, 1),
            "server_peak_rss_mib": round(self.peak_rss_mib, 1),
        })
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// A tiny xorshift generator: enough to spread requests, no shared state.
struct Rng(u64);

impl Rng {
    /// A distinct sequence per phase and worker, so no phase replays another's requests.
    fn seeded(phase: u64, worker: usize) -> Self {
        let mut rng = Rng(0xA076_1D64_78BD_642F ^ phase.wrapping_mul(0xE703_7ED1_A0B4_28DB));
        rng.0 ^= (worker as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// Seeding

/// What the load generator needs to know about the seeded data.
struct Seeded {
    program_id: i64,
    staff_token: String,
    /// Leaderboard pages: an optional status filter and the cursor of the page (none: first).
    pages: Vec<(Option<Status>, Option<String>)>,
}

/// A realistic year to date for merchant `n`: a heavy-tailed (Pareto, α ≈ 1.16) daily run
/// rate around ¥1,000, so about 2 % of merchants pass ¥10M a year and 0.1 % pass ¥100M, and a
/// last-28-days rate between 60 % and 160 % of the average.
fn merchant_gmv(n: usize, elapsed_days: i64, window_days: i64) -> (i64, i64) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (n as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    for _ in 0..3 {
        rng.next();
    }
    let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
    let daily = 100_000.0 * (1.0 - u).max(1e-9).powf(-1.0 / 1.16);
    let daily = daily.min(1e9) as i64;
    let trend = 60 + (rng.next() % 101) as i64;
    let value = daily * elapsed_days;
    let recent = daily * window_days * trend / 100;
    (value, recent)
}

async fn seed(db: &DatabaseConnection, keys: &[secrets::NewSecret]) -> anyhow::Result<Seeded> {
    db::migrate(db).await?;
    programs::seed(db).await?;
    let now = Utc::now();
    let n = keys.len();

    // Merchants and their keys: ids 1..=n, approved, half brand and half industry belt.
    let mut t = Instant::now();
    let merchant_rows = (1..=n).map(|i| {
        let mut uscc = format!("91330782{i:09}");
        uscc.push(check_char(uscc.as_bytes()).expect("digits"));
        let brand = i % 2 == 0;
        merchant::ActiveModel {
            id: Set(i as i64),
            kind: Set(if brand {
                MerchantKind::Brand
            } else {
                MerchantKind::IndustryBelt
            }),
            status: Set(MerchantStatus::Approved),
            status_reason: Set(None),
            legal_name: Set(format!("压测商贸有限公司{i}")),
            display_name: Set(format!("压测店{i}")),
            uscc: Set(uscc),
            contact_email: Set(format!("m{i}@bench.example")),
            province: Set("浙江".into()),
            city: Set("金华".into()),
            category: Set("日用百货".into()),
            brand_name: Set(brand.then(|| format!("压测品牌{i}"))),
            trademark_number: Set(brand.then(|| format!("{:08}", i))),
            industry_belt: Set((!brand).then(|| "义乌小商品".to_string())),
            weekly_report: Set(true),
            locale: Set(Locale::ZhCn),
            last_gmv_at: Set(Some(now)),
            notify_near_tier: Set(true),
            notify_at_risk: Set(true),
            stale_notified_for: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
    });
    insert_all(db, merchant_rows).await?;
    let key_rows = keys.iter().enumerate().map(|(i, k)| api_key::ActiveModel {
        id: Set(i as i64 + 1),
        merchant_id: Set(i as i64 + 1),
        prefix: Set(k.prefix.clone()),
        key_hash: Set(k.hash.clone()),
        created_at: Set(now),
        last_used_at: Set(None),
        revoked_at: Set(None),
    });
    insert_all(db, key_rows).await?;
    if db::is_postgres(db) {
        for table in ["merchant", "api_key"] {
            db.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ))
            .await?;
        }
    }
    eprintln!(
        "  {n} merchants and API keys in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Current progress, computed with the evaluation's own functions: every merchant in the
    // merchant programme and one product per merchant in the product programme.
    t = Instant::now();
    let find = |key: &'static str| async move {
        program::Entity::find()
            .filter(program::Column::SeedKey.eq(key))
            .one(db)
            .await?
            .ok_or_else(|| anyhow::anyhow!("seeded programme {key}"))
    };
    let merchants_program = find("merchants_100m").await?;
    let products_program = find("products_100m").await?;
    let mut board: Vec<(i64, String, Status)> = Vec::with_capacity(n);
    for (p, product) in [(&merchants_program, false), (&products_program, true)] {
        let def = ProgramDef::from_row(p)?;
        let today = period::local_day(def.time_zone, now);
        let cal = Period::containing_day(def.period, today);
        let per = cal.clip(def.starts_on, def.ends_on).unwrap_or(cal);
        let elapsed = (today - per.start).num_days().max(0);
        let window = period::run_rate_window(today, def.starts_on).map_or(0, |w| w.days());
        let seconds_left = period::seconds_left(&per, def.time_zone, now);
        let mut rows = Vec::with_capacity(n);
        for i in 1..=n {
            let (mut value, mut recent) = merchant_gmv(i, elapsed, window);
            if product {
                (value, recent) = (value * 3 / 5, recent * 3 / 5);
            }
            let projected = period::project(value, recent, window, seconds_left)?;
            let s = period::standing(&def.tiers, value, projected)?;
            let subject_id = if product {
                format!("{i}:sku-1")
            } else {
                i.to_string()
            };
            if !product {
                board.push((value, subject_id.clone(), s.status));
            }
            rows.push(progress::ActiveModel {
                program_id: Set(p.id),
                period_start: Set(per.start),
                subject_id: Set(subject_id),
                period_end: Set(per.end),
                subject_type: Set(if product {
                    Subject::Product
                } else {
                    Subject::Merchant
                }),
                merchant_id: Set(Some(i as i64)),
                value: Set(value),
                tier_index: Set(s.tier_index),
                tier: Set(usize::try_from(s.tier_index)
                    .ok()
                    .map(|t| def.tiers[t].name.clone())),
                next_tier: Set(s.next_index.map(|t| def.tiers[t].name.clone())),
                next_threshold: Set(s.next_threshold),
                remaining: Set(s.remaining),
                projected: Set(s.projected),
                status: Set(s.status),
                evaluated_at: Set(now),
                run_id: Set(1),
            });
        }
        insert_all(db, rows.into_iter()).await?;
    }
    // Each merchant's product is in its catalogue, so its entries carry its name.
    insert_all(
        db,
        (1..=n).map(|i| product::ActiveModel {
            merchant_id: Set(i as i64),
            product_id: Set("sku-1".to_string()),
            name: Set(format!("压测商品{i}")),
            category: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }),
    )
    .await?;
    // Statistics as a database in service has them; on PostgreSQL also the visibility map, so
    // autovacuum does not start on the freshly loaded tables in the middle of a measurement.
    db.execute_unprepared(if db::is_postgres(db) {
        "VACUUM ANALYZE"
    } else {
        "ANALYZE"
    })
    .await?;
    eprintln!(
        "  {} progress rows in {:.1} s",
        2 * n,
        t.elapsed().as_secs_f64()
    );

    // Leaderboard pages as a reader would reach them: every page of the whole board and of
    // each status, in the server's order (value descending, subject id ascending).
    board.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut pages = Vec::new();
    for filter in [
        None,
        Some(Status::Achieved),
        Some(Status::OnTrack),
        Some(Status::AtRisk),
        Some(Status::Behind),
    ] {
        let rows: Vec<&(i64, String, Status)> = board
            .iter()
            .filter(|r| filter.is_none_or(|f| r.2 == f))
            .collect();
        pages.push((filter, None));
        for last in rows.chunks(PAGE).filter(|c| c.len() == PAGE) {
            let (v, s, _) = last[PAGE - 1];
            pages.push((filter, Some(pagination::encode(&format!("{v}|{s}")))));
        }
    }
    let (_, staff_token) = staff::create(db, "bench-analyst", Role::Analyst).await?;
    Ok(Seeded {
        program_id: merchants_program.id,
        staff_token,
        pages,
    })
}

/// Inserts `rows` with multi-row INSERTs of [`ROWS_PER_INSERT`], [`INSERTS_PER_TXN`] per
/// transaction.
async fn insert_all<A: ActiveModelTrait>(
    db: &DatabaseConnection,
    rows: impl Iterator<Item = A>,
) -> anyhow::Result<()> {
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let txn = db.begin().await?;
        for _ in 0..INSERTS_PER_TXN {
            let chunk: Vec<A> = rows.by_ref().take(ROWS_PER_INSERT).collect();
            if chunk.is_empty() {
                break;
            }
            A::Entity::insert_many(chunk)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Servers

/// A server process, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts `cmd` listening on `port` and waits until `ready_path` answers 200.
async fn start(
    mut cmd: Command,
    port: u16,
    ready_path: &str,
    log: &Path,
) -> anyhow::Result<Server> {
    let log_file = std::fs::File::create(log)?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()?;
    let mut server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.child.try_wait()? {
            anyhow::bail!(
                "the server exited ({status}); its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if let Ok(r) = client
            .get(format!("{}{ready_path}", server.base))
            .send()
            .await
            && r.status().is_success()
        {
            return Ok(server);
        }
        if Instant::now() > deadline {
            server.child.kill().ok();
            anyhow::bail!("the server did not become ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The real binary, API only: no scheduler, and a per-credential rate limit far above what
/// the generator sends (one staff token carries the whole leaderboard load).
async fn start_real(url: &str, tmp: &Path, backend: &str) -> anyhow::Result<Server> {
    let port = free_port();
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env_remove("RUST_LOG")
        .env("DATABASE_URL", url)
        .env("LISTEN", format!("127.0.0.1:{port}"))
        .env("ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SCHEDULER", "off")
        .env("MAIL_DIR", tmp.join("outbox"))
        .env("KEY_RATE_PER_SECOND", "1000000");
    start(
        cmd,
        port,
        "/readyz",
        &tmp.join(format!("server-{backend}.log")),
    )
    .await
}

/// Child-process mode: a bare poem server answering the two read paths with the JSON bodies
/// the real server gave (`me.json`, `leaderboard.json` in `dir`), serialised per request.
fn bare_server(dir: &Path) -> anyhow::Result<()> {
    use poem::{EndpointExt, Route, get, handler, listener::TcpListener, web::Data};

    #[derive(Clone)]
    struct Bodies {
        me: Value,
        leaderboard: Value,
    }
    #[handler]
    fn me(bodies: Data<&Bodies>) -> poem::web::Json<Value> {
        poem::web::Json(bodies.me.clone())
    }
    #[handler]
    fn leaderboard(bodies: Data<&Bodies>) -> poem::web::Json<Value> {
        poem::web::Json(bodies.leaderboard.clone())
    }
    #[handler]
    fn ready() -> &'static str {
        "ok"
    }

    let read = |name: &str| -> anyhow::Result<Value> {
        Ok(serde_json::from_slice(&std::fs::read(dir.join(name))?)?)
    };
    let bodies = Bodies {
        me: read("me.json")?,
        leaderboard: read("leaderboard.json")?,
    };
    let listen = std::env::var("LISTEN")?;
    // The same runtime as the server binary's `#[tokio::main]`.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let app = Route::new()
                .at("/readyz", get(ready))
                .at("/api/v1/me/progress", get(me))
                .at("/api/v1/programs/:id/progress", get(leaderboard))
                .data(bodies);
            poem::Server::new(TcpListener::bind(listen)).run(app).await
        })?;
    Ok(())
}

async fn start_bare(samples: &Samples, tmp: &Path) -> anyhow::Result<Server> {
    let dir = tmp.join("bare");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("me.json"), serde_json::to_vec(&samples.me)?)?;
    std::fs::write(
        dir.join("leaderboard.json"),
        serde_json::to_vec(&samples.leaderboard)?,
    )?;
    let port = free_port();
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.env(BARE_ENV, &dir)
        .env("LISTEN", format!("127.0.0.1:{port}"));
    start(cmd, port, "/readyz", &tmp.join("server-bare.log")).await
}

// ---------------------------------------------------------------------------------------------
// Load generation

/// What each request asks for.
#[derive(Clone)]
enum Target {
    /// `GET /api/v1/me/progress` with a random merchant's key.
    Me(Arc<Vec<secrets::NewSecret>>),
    /// `GET /api/v1/programs/{id}/progress`, a random page, with a staff token.
    Leaderboard {
        program_id: i64,
        token: String,
        pages: Arc<Vec<(Option<Status>, Option<String>)>>,
    },
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Target::Me(_) => "GET /me/progress",
            Target::Leaderboard { .. } => "GET /programs/{id}/progress",
        }
    }

    fn request(
        &self,
        client: &reqwest::Client,
        base: &str,
        rng: &mut Rng,
    ) -> reqwest::RequestBuilder {
        match self {
            Target::Me(keys) => client
                .get(format!("{base}/api/v1/me/progress"))
                .header("X-API-Key", &keys[rng.below(keys.len())].value),
            Target::Leaderboard {
                program_id,
                token,
                pages,
            } => {
                let (status, cursor) = &pages[rng.below(pages.len())];
                let mut query: Vec<(&str, &str)> = Vec::new();
                if let Some(s) = status {
                    query.push(("status", s.as_str()));
                }
                if let Some(c) = cursor {
                    query.push(("cursor", c));
                }
                client
                    .get(format!("{base}/api/v1/programs/{program_id}/progress"))
                    .query(&query)
                    .bearer_auth(token)
            }
        }
    }
}

/// Sends one request and reads the whole body; `true` on a 2xx answer.
async fn send(req: reqwest::RequestBuilder) -> bool {
    match req.send().await {
        Ok(r) => {
            let ok = r.status().is_success();
            r.bytes().await.is_ok() && ok
        }
        Err(_) => false,
    }
}

fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// Closed loop: `connections` requests in flight at all times for `secs`. Returns the rate of
/// successful answers and the number of failed ones. `phase` picks the random sequence.
async fn closed_loop(
    client: &reqwest::Client,
    base: &str,
    target: &Target,
    connections: usize,
    secs: f64,
    phase: u64,
) -> (f64, u64) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..connections)
        .map(|w| {
            let (client, base, target) = (client.clone(), base.to_string(), target.clone());
            tokio::spawn(async move {
                let mut rng = Rng::seeded(phase, w);
                let (mut ok, mut failed) = (0u64, 0u64);
                while Instant::now() < deadline {
                    if send(target.request(&client, &base, &mut rng)).await {
                        ok += 1;
                    } else {
                        failed += 1;
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for t in tasks {
        let (o, f) = t.await.expect("worker");
        ok += o;
        failed += f;
    }
    (ok as f64 / started.elapsed().as_secs_f64(), failed)
}

/// Open loop: request `i` is due at `start + i / rate`; `connections` workers take the next
/// due request as soon as they are free. Latency runs from the due instant, so time a request
/// spent waiting for a free connection behind a slow answer counts.
struct OpenLoop {
    achieved_rps: f64,
    errors: u64,
    /// Microseconds from the scheduled send to the end of the answer, sorted.
    latency_us: Vec<u64>,
    /// Microseconds from the actual send, sorted.
    service_us: Vec<u64>,
}

async fn open_loop(
    client: &reqwest::Client,
    base: &str,
    target: &Target,
    connections: usize,
    rate: f64,
    secs: f64,
) -> OpenLoop {
    let total = (rate * secs).round().max(1.0) as u64;
    let interval = 1.0 / rate;
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..connections)
        .map(|w| {
            let (client, base, target, next) = (
                client.clone(),
                base.to_string(),
                target.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                let mut rng = Rng::seeded(3, w);
                let mut latency = Vec::new();
                let mut service = Vec::new();
                let mut failed = 0u64;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let due = start + Duration::from_secs_f64(i as f64 * interval);
                    tokio::time::sleep_until(due).await;
                    let sent = tokio::time::Instant::now();
                    if !send(target.request(&client, &base, &mut rng)).await {
                        failed += 1;
                    }
                    let done = tokio::time::Instant::now();
                    latency.push(done.duration_since(due).as_micros() as u64);
                    service.push(done.duration_since(sent).as_micros() as u64);
                }
                (latency, service, failed, tokio::time::Instant::now())
            })
        })
        .collect();
    let mut out = OpenLoop {
        achieved_rps: 0.0,
        errors: 0,
        latency_us: Vec::with_capacity(total as usize),
        service_us: Vec::with_capacity(total as usize),
    };
    let mut end = start;
    for t in tasks {
        let (l, s, f, finished) = t.await.expect("worker");
        out.latency_us.extend(l);
        out.service_us.extend(s);
        out.errors += f;
        end = end.max(finished);
    }
    out.latency_us.sort_unstable();
    out.service_us.sort_unstable();
    out.achieved_rps = total as f64 / end.duration_since(start).as_secs_f64();
    out
}

/// The `p`-quantile (0..=1) of sorted microseconds, in milliseconds.
fn quantile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us[rank - 1] as f64 / 1000.0
}

/// Both phases against `server` for each target.
async fn measure(
    backend: &'static str,
    server: &Server,
    targets: &[Target],
    opts: Options,
    rows: &mut Vec<Row>,
) {
    let pid = server.pid();
    let rss_idle = common::rss_mib(&pid).unwrap_or(f64::NAN);
    let client = client(opts.connections);
    let first = rows.len();
    for target in targets {
        let endpoint = target.name();
        // Warm-up: connections, prepared statements, the database's cache.
        closed_loop(&client, &server.base, target, opts.connections, 1.0, 1).await;
        let (max_rps, max_errors) = closed_loop(
            &client,
            &server.base,
            target,
            opts.connections,
            opts.max_secs,
            2,
        )
        .await;
        let rate = (max_rps / 2.0).max(1.0);
        eprintln!(
            "  {backend} {endpoint}: closed loop {max_rps:.0} req/s ({max_errors} errors); open loop at {rate:.0} req/s…"
        );
        let open = open_loop(
            &client,
            &server.base,
            target,
            opts.connections,
            rate,
            opts.open_secs,
        )
        .await;
        rows.push(Row {
            backend,
            endpoint,
            max_rps,
            rate,
            achieved_rps: open.achieved_rps,
            requests: open.latency_us.len(),
            errors: open.errors + max_errors,
            p50_ms: quantile_ms(&open.latency_us, 0.50),
            p99_ms: quantile_ms(&open.latency_us, 0.99),
            p999_ms: quantile_ms(&open.latency_us, 0.999),
            max_ms: quantile_ms(&open.latency_us, 1.0),
            p99_uncorrected_ms: quantile_ms(&open.service_us, 0.99),
            rss_idle_mib: rss_idle,
            peak_rss_mib: f64::NAN,
        });
    }
    let peak = common::peak_rss_mib(&pid).unwrap_or(f64::NAN);
    for r in &mut rows[first..] {
        r.peak_rss_mib = peak;
    }
}

/// Example answers of the real server, served by the bare baseline.
struct Samples {
    me: Value,
    leaderboard: Value,
    /// The leaderboard pages requested, so the baseline's URLs are the same.
    pages: Arc<Vec<(Option<Status>, Option<String>)>>,
}

/// Seeds a fresh database, starts the real server on it and measures both endpoints.
async fn backend(
    name: &'static str,
    url: &str,
    keys: &Arc<Vec<secrets::NewSecret>>,
    opts: Options,
    tmp: &Path,
    rows: &mut Vec<Row>,
) -> anyhow::Result<Samples> {
    eprintln!("{name}: seeding…");
    let database = db::connect(url).await?;
    let seeded = seed(&database, keys).await?;
    database.close().await.ok();
    let server = start_real(url, tmp, name).await?;

    // The answers are what they should be before anything is timed.
    let http = reqwest::Client::new();
    let me: Value = http
        .get(format!("{}/api/v1/me/progress", server.base))
        .header("X-API-Key", &keys[keys.len() / 2].value)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    // The merchant itself and its one product, each in its programme.
    anyhow::ensure!(
        me["items"]
            .as_array()
            .is_some_and(|i| i.len() == 2 && i.iter().all(|e| e["name"].is_string())),
        "/me/progress: {me}"
    );
    let leaderboard: Value = http
        .get(format!(
            "{}/api/v1/programs/{}/progress",
            server.base, seeded.program_id
        ))
        .bearer_auth(&seeded.staff_token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    anyhow::ensure!(
        leaderboard["items"]
            .as_array()
            .is_some_and(|i| i.len() == PAGE.min(keys.len())),
        "/programs/{{id}}/progress: {leaderboard}"
    );

    let pages = Arc::new(seeded.pages);
    let targets = [
        Target::Me(keys.clone()),
        Target::Leaderboard {
            program_id: seeded.program_id,
            token: seeded.staff_token,
            pages: pages.clone(),
        },
    ];
    measure(name, &server, &targets, opts, rows).await;
    drop(server);
    Ok(Samples {
        me,
        leaderboard,
        pages,
    })
}

/// The bare poem handler, measured with the same generator and phases.
async fn bare(
    samples: &Samples,
    keys: &Arc<Vec<secrets::NewSecret>>,
    opts: Options,
    tmp: &Path,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    eprintln!("bare poem handler…");
    let server = start_bare(samples, tmp).await?;
    let targets = [
        Target::Me(keys.clone()),
        Target::Leaderboard {
            program_id: 1,
            token: ADMIN_TOKEN.into(),
            pages: samples.pages.clone(),
        },
    ];
    measure("bare poem", &server, &targets, opts, rows).await;
    Ok(())
}
