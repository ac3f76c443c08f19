//! Dashboard pages at the marketplace's scale: every page of `/dashboard`, rendered by the real
//! route (sessions, templates, charts, the same report functions as the API) in process, on a
//! database of 100,000 approved merchants × 365 days of roll-ups, the marketplace's daily
//! totals, the seeded programmes and two evaluations (progress, snapshots, achievements). Each
//! page is requested `DASH_BENCH_ROUNDS` times after one warm-up; the bench prints the median
//! and the slowest, beside a bare poem handler answering a static page through the same call.
//!
//! `cargo bench --bench dashboard`; `BENCH_DATABASE_URL=postgres://…` adds PostgreSQL;
//! `DASH_BENCH_MERCHANTS` (default 100000), `DASH_BENCH_ROUNDS` (10); `DASH_BENCH_DIR` keeps the
//! SQLite database in that directory.
//! Writes `bench-results/dashboard.json`. Target (issue): every page under 100 ms.

mod common;

use std::{collections::HashMap, time::Instant};

use chrono::{DateTime, NaiveDate, Utc};
use merchant_incentives::{
    app::{self, AppState},
    config::Config,
    db,
    jobs::Trigger,
    services::{evaluation, programs, segments, staff},
};
use poem::{Endpoint, Request, http::header};
use sea_orm::ConnectionTrait;

const DAYS: i64 = 365;
const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";

struct Row {
    backend: String,
    page: String,
    median_ms: f64,
    max_ms: f64,
    bytes: usize,
}

async fn time<E: Endpoint>(ep: &E, path: &str, cookie: &str, rounds: usize) -> (Vec<f64>, usize)
where
    E::Output: poem::IntoResponse,
{
    let call = || async {
        let req = Request::builder()
            .uri(path.parse().expect("a path"))
            .header(header::COOKIE, cookie)
            .finish();
        let resp = poem::IntoResponse::into_response(ep.call(req).await.expect("answered"));
        assert_eq!(resp.status(), 200, "{path}");
        resp.into_body().into_bytes().await.expect("a body").len()
    };
    let bytes = call().await;
    let mut ms = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        call().await;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    (ms, bytes)
}

async fn bench(
    backend: &'static str,
    url: &str,
    tmp: &std::path::Path,
    merchants: i64,
    rounds: usize,
    out: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let env: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), url.to_string()),
        ("ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
        ("MAIL_DIR".into(), tmp.join("outbox").display().to_string()),
        ("SCHEDULER".into(), "off".into()),
        // A slow page is measured, not cut off at the request timeout.
        ("REQUEST_TIMEOUT_MS".into(), "600000".into()),
    ]);
    let config = Config::from_lookup(&move |k| env.get(k).cloned())?;
    let database = db::connect(url).await?;
    db::migrate(&database).await?;
    let first = NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
    common::Layout::Partitioned
        .apply(&database, first, first + chrono::Duration::days(DAYS - 1))
        .await?;
    programs::seed(&database).await?;
    let started = Instant::now();
    common::generate(&database, merchants, DAYS).await?;
    // The roll-ups were loaded around ingestion: the kept GMV structure is computed from them.
    segments::rebuild(&database).await?;
    // The marketplace sold ¥50M a day (the shares have a denominator every day).
    database
        .execute_unprepared(&match db::is_postgres(&database) {
            true => format!(
                "INSERT INTO platform_gmv (day, live_stream, short_video, storefront, other, total, \
                 updated_at, updated_by) SELECT DATE '2026-01-01' + d, 2500000000, 1500000000, \
                 1000000000, 0, 5000000000, now(), 'bench' FROM generate_series(0, {}) AS d",
                DAYS - 1
            ),
            false => format!(
                "INSERT INTO platform_gmv (day, live_stream, short_video, storefront, other, total, \
                 updated_at, updated_by) WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 \
                 FROM d WHERE n < {}) SELECT date('2026-01-01', '+' || n || ' days'), 2500000000, \
                 1500000000, 1000000000, 0, 5000000000, '2026-01-01 00:00:00+00:00', 'bench' FROM d",
                DAYS - 1
            ),
        })
        .await?;
    for as_of in ["2026-11-01T12:00:00Z", "2026-11-30T12:00:00Z"] {
        let as_of: DateTime<Utc> = as_of.parse()?;
        evaluation::run(
            &database,
            as_of,
            Trigger::Cli,
            "bench",
            chrono::Duration::seconds(30),
            &|_, _| {},
        )
        .await?;
    }
    eprintln!(
        "  {backend}: seeded and evaluated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (_, session) = staff::sign_in(
        &database,
        Some(&merchant_incentives::secrets::hash(ADMIN_TOKEN)),
        ADMIN_TOKEN,
        chrono::Duration::hours(1),
    )
    .await?;
    let cookie = format!("mi_session={}", session.cookie);
    let state = AppState::new(database.clone(), config);
    let route = app::build_route(state);
    let bare = poem::endpoint::make_sync(|_| poem::web::Html("<!doctype html><p>bare</p>"));
    let program: i64 = 1;
    let pages = [
        "/dashboard/goals".to_string(),
        "/dashboard/structure".to_string(),
        format!("/dashboard/leaderboard?program={program}"),
        "/dashboard/merchants".to_string(),
        "/dashboard/merchants/10".to_string(),
        "/dashboard/review".to_string(),
        "/dashboard/outbox".to_string(),
    ];
    let (ms, bytes) = time(&bare, "/", &cookie, rounds).await;
    out.push(row(backend, "bare poem handler (static page)", &ms, bytes));
    for page in &pages {
        let (ms, bytes) = time(&route, page, &cookie, rounds).await;
        eprintln!("  {backend} {page}: median {:.1} ms", ms[ms.len() / 2]);
        out.push(row(backend, page, &ms, bytes));
    }
    database.close().await.ok();
    Ok(())
}

fn row(backend: &str, page: &str, ms: &[f64], bytes: usize) -> Row {
    Row {
        backend: backend.to_string(),
        page: page.to_string(),
        median_ms: ms[ms.len() / 2],
        max_ms: *ms.last().unwrap_or(&f64::NAN),
        bytes,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let merchants: i64 = common::setting("DASH_BENCH_MERCHANTS", 100_000);
    let rounds: usize = common::setting("DASH_BENCH_ROUNDS", 10);
    let machine = common::machine();
    let load_before = common::load_average();
    eprintln!("dashboard bench: {merchants} merchants × {DAYS} days, {rounds} requests a page");
    let mut rows = Vec::new();
    let tmp = tempfile::tempdir()?;
    // `DASH_BENCH_DIR` keeps the SQLite database there, to look into afterwards.
    let dir = std::env::var("DASH_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_path_buf());
    let sqlite = format!("sqlite://{}/bench.db?mode=rwc", dir.display());
    bench("sqlite", &sqlite, tmp.path(), merchants, rounds, &mut rows).await?;
    if let Some(base) = std::env::var("BENCH_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let (name, url) = common::create_pg(&base).await?;
        let result = bench("postgres", &url, tmp.path(), merchants, rounds, &mut rows).await;
        common::drop_pg(&base, &name).await;
        result?;
    }
    println!();
    println!("| backend | page | median ms | slowest ms | bytes | under 100 ms |");
    println!("|---|---|---:|---:|---:|---|");
    for r in &rows {
        println!(
            "| {} | `{}` | {:.1} | {:.1} | {} | {} |",
            r.backend,
            r.page,
            r.median_ms,
            r.max_ms,
            r.bytes,
            if r.max_ms < 100.0 { "yes" } else { "**no**" }
        );
    }
    common::print_footer(&machine, load_before);
    common::write_results(
        "dashboard",
        &machine,
        load_before,
        serde_json::json!({ "merchants": merchants, "days": DAYS, "rounds": rounds, "target_ms": 100 }),
        rows.iter()
            .map(|r| {
                serde_json::json!({
                    "backend": r.backend,
                    "page": r.page,
                    "median_ms": r.median_ms,
                    "max_ms": r.max_ms,
                    "bytes": r.bytes,
                })
            })
            .collect(),
    );
    Ok(())
}
