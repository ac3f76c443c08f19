//! Evaluation of the seeded merchant programme over 100,000 merchants × 365 days of daily
//! roll-ups, against a hand-written `SUM … GROUP BY merchant` over the same table (the
//! fastest of three runs after the evaluations), on SQLite (always) and PostgreSQL (when
//! `BENCH_DATABASE_URL` is set), with peak memory. The bare query also runs once before the
//! evaluations, reported but never the baseline: the first read after seeding is slow on
//! PostgreSQL. On PostgreSQL it runs twice in the same run: with the GMV tables partitioned by
//! month, as the migrations leave them, and unpartitioned (the migration's `down`).
//!
//! `cargo bench --bench evaluate`; `EVAL_BENCH_MERCHANTS=10000` for a quicker run,
//! `EVAL_BENCH_UNPARTITIONED=0` to leave out PostgreSQL's unpartitioned layout,
//! `EVAL_BENCH_SQLITE=0` to leave out SQLite, `EVAL_BENCH_KEEP=1` to keep the PostgreSQL
//! databases (for `EXPLAIN`) instead of dropping them. Prints each evaluation's ratio to the bare
//! aggregation of the same backend and layout (target: at most 1.5×).
//! Writes `bench-results/evaluate.json`.

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use merchant_incentives::{
    db,
    jobs::Trigger,
    services::{evaluation, programs},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

const DAYS: i64 = 365;
/// The bound on an evaluation against the bare `SUM … GROUP BY` of the same run.
const MAX_RATIO: f64 = 1.5;
/// Runs of the bare aggregation; the fastest is the baseline.
const BARE_RUNS: usize = 3;

/// Peak resident set size of this process so far (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    common::peak_rss_mib("self").unwrap_or(f64::NAN)
}

async fn hand_written(db: &DatabaseConnection) -> anyhow::Result<(Duration, usize)> {
    let started = Instant::now();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT merchant_id, CAST(SUM(amount) AS BIGINT) FROM gmv_daily_merchant \
             WHERE day >= '2026-01-01' AND day <= '2026-12-31' GROUP BY merchant_id",
        ))
        .await?;
    Ok((started.elapsed(), rows.len()))
}

struct Row {
    backend: String,
    what: String,
    seconds: f64,
    subjects: i64,
    rss_before: f64,
    rss_after: f64,
}

async fn bench(
    backend: &'static str,
    layout: common::Layout,
    url: &str,
    merchants: i64,
    out: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let db = db::connect(url).await?;
    db::migrate(&db).await?;
    let backend = match db::is_postgres(&db) {
        true => format!("{backend} ({})", layout.as_str()),
        false => backend.to_string(),
    };
    let first = NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
    layout
        .apply(&db, first, first + chrono::Duration::days(DAYS - 1))
        .await?;
    programs::seed(&db).await?;
    let started = Instant::now();
    common::generate(&db, merchants, DAYS).await?;
    eprintln!(
        "  {backend}: {} roll-up rows in {:.1} s",
        merchants * DAYS,
        started.elapsed().as_secs_f64()
    );
    let as_of: DateTime<Utc> = "2026-12-31T12:00:00Z".parse()?;
    // The first statement to read the roll-ups after seeding runs well below speed (9.1 s
    // against 7.1 s for the next and about 6.2 s for the baseline, measured): the bare query
    // reads them once first, so the first evaluation is not the one that pays for it. Reported
    // as its own row, never the baseline.
    let before = peak_rss_mib();
    let (took, n) = hand_written(&db).await?;
    out.push(Row {
        backend: backend.clone(),
        what: "warm-up: the same SUM … GROUP BY, the first read after seeding (not the baseline)"
            .to_string(),
        seconds: took.as_secs_f64(),
        subjects: n as i64,
        rss_before: before,
        rss_after: peak_rss_mib(),
    });
    for label in [
        "evaluation::run (first: records achievements)",
        "evaluation::run (again: no change)",
    ] {
        let before = peak_rss_mib();
        let t = Instant::now();
        let run = evaluation::run(
            &db,
            as_of,
            Trigger::Cli,
            "bench",
            chrono::Duration::seconds(30),
            &|_, _| {},
        )
        .await?;
        out.push(Row {
            backend: backend.clone(),
            what: format!("{label}, {} achievements", run.achievements_recorded),
            seconds: t.elapsed().as_secs_f64(),
            subjects: run.subjects_evaluated,
            rss_before: before,
            rss_after: peak_rss_mib(),
        });
    }
    // The baseline is the fastest of a few runs (after the evaluations, so their peak memory is
    // their own): the strongest one this machine gave, whatever else it was doing.
    let before = peak_rss_mib();
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..BARE_RUNS {
        let (took, rows) = hand_written(&db).await?;
        times.push(took.as_secs_f64());
        n = rows;
    }
    let fastest = times.iter().copied().fold(f64::INFINITY, f64::min);
    let all: Vec<String> = times.iter().map(|t| format!("{t:.2}")).collect();
    out.push(Row {
        backend,
        what: format!(
            "hand-written SUM … GROUP BY merchant_id (fastest of {BARE_RUNS}: {} s)",
            all.join(", ")
        ),
        seconds: fastest,
        subjects: n as i64,
        rss_before: before,
        rss_after: peak_rss_mib(),
    });
    db.close().await.ok();
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let merchants: i64 = common::setting("EVAL_BENCH_MERCHANTS", 100_000);
    let machine = common::machine();
    let load_before = common::load_average();
    eprintln!("evaluate bench: {merchants} merchants × {DAYS} days");
    let mut rows = Vec::new();
    let tmp = tempfile::tempdir()?;
    if common::setting("EVAL_BENCH_SQLITE", 1) != 0 {
        let sqlite = format!("sqlite://{}/bench.db?mode=rwc", tmp.path().display());
        bench(
            "sqlite",
            common::Layout::Partitioned,
            &sqlite,
            merchants,
            &mut rows,
        )
        .await?;
    }
    if let Some(base) = std::env::var("BENCH_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let layouts = match common::setting("EVAL_BENCH_UNPARTITIONED", 1) {
            0 => vec![common::Layout::Partitioned],
            _ => vec![common::Layout::Partitioned, common::Layout::Unpartitioned],
        };
        for layout in layouts {
            let (name, url) = common::create_pg(&base).await?;
            let result = bench("postgres", layout, &url, merchants, &mut rows).await;
            if common::setting("EVAL_BENCH_KEEP", 0) != 0 {
                eprintln!("  kept {url}");
            } else {
                common::drop_pg(&base, &name).await;
            }
            result?;
        }
    }
    println!();
    println!(
        "| backend | what | seconds | subjects | peak RSS before (MiB) | peak RSS after (MiB) |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.2} | {} | {:.1} | {:.1} |",
            r.backend, r.what, r.seconds, r.subjects, r.rss_before, r.rss_after
        );
    }
    common::print_footer(&machine, load_before);
    println!();
    for r in rows.iter().filter(|r| r.what.starts_with("evaluation")) {
        let bare = rows
            .iter()
            .find(|b| b.backend == r.backend && b.what.starts_with("hand-written"))
            .map_or(f64::NAN, |b| b.seconds);
        println!(
            "{} · {}: {:.2}× the bare aggregation",
            r.backend,
            r.what,
            r.seconds / bare
        );
    }
    println!(
        "Targets (second release): at most {MAX_RATIO}× the bare aggregation at 100,000 \
         merchants × 365 days, on both backends, with memory flat."
    );
    common::write_results(
        "evaluate",
        &machine,
        load_before,
        serde_json::json!({ "merchants": merchants, "days": DAYS, "max_ratio_to_bare_aggregation": MAX_RATIO }),
        rows.iter()
            .map(|r| {
                serde_json::json!({
                    "backend": r.backend,
                    "what": r.what,
                    "secs": r.seconds,
                    "subjects": r.subjects,
                    "peak_rss_before_mib": r.rss_before,
                    "peak_rss_after_mib": r.rss_after,
                })
            })
            .collect(),
    );
    Ok(())
}
