//! Mixed concurrent load: the soak test's load (`tests/support/load.rs`) — eight merchants
//! ingesting with replays and refunds, staff deciding, merchants rotating keys and reading
//! progress, the dispatcher mailing an SMTP server, evaluations every 3 s — against the built
//! (release) server for 30 s per backend. Reports throughput and p50/p99 per operation and
//! fails on any 5xx: it tells how much concurrent use one SQLite file and one PostgreSQL hold.
//!
//! `cargo bench --bench mixed` (SQLite; PostgreSQL too with `BENCH_DATABASE_URL`;
//! `BENCH_SECONDS=n` changes the length). Writes `bench-results/mixed.json`.

mod common;
#[path = "../tests/support/load.rs"]
mod load;
// The bench uses only part of the tests' SMTP server.
#[allow(dead_code)]
#[path = "../tests/support/smtp.rs"]
mod smtp;

use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_merchant-incentives");

fn main() {
    let seconds: u64 = common::setting("BENCH_SECONDS", 30);
    let machine = common::machine();
    let load_before = common::load_average();
    let rt = common::runtime();
    let settings = load::Settings {
        duration: Duration::from_secs(seconds),
        ..Default::default()
    };
    let mut results = Vec::new();
    rt.block_on(async {
        let tmp = tempfile::tempdir().expect("tempdir");
        let sqlite = format!("sqlite://{}/mixed.db?mode=rwc", tmp.path().display());
        results.push(run("sqlite", &sqlite, &settings, tmp.path()).await);
        if let Ok(base) = std::env::var("BENCH_DATABASE_URL") {
            let (name, url) = common::create_pg(&base).await.expect("PostgreSQL database");
            let dir = tmp.path().join("pg");
            std::fs::create_dir_all(&dir).unwrap();
            results.push(run("postgres", &url, &settings, &dir).await);
            common::drop_pg(&base, &name).await;
        } else {
            eprintln!("BENCH_DATABASE_URL is not set: PostgreSQL skipped");
        }
    });
    common::print_footer(&machine, load_before);
    common::write_results(
        "mixed",
        &machine,
        load_before,
        json!({
            "seconds": seconds,
            "ingesters": settings.ingesters,
            "batch": settings.batch,
            "deciders": settings.deciders,
            "rotators": settings.rotators,
            "evaluate_every_ms": settings.evaluate_every.as_millis() as u64,
        }),
        Value::Array(results),
    );
}

async fn run(backend: &str, url: &str, settings: &load::Settings, dir: &std::path::Path) -> Value {
    let smtp = smtp::SmtpServer::start_new();
    let server = load::Server::start(BIN, url, &smtp.url(), dir).await;
    let out = load::run(&server.base, &server.admin, settings).await;
    println!("\n## {backend}\n\n{}", out.table());
    let errors = out.server_errors();
    assert!(
        errors.is_empty() && out.transport_errors.is_empty(),
        "{backend}: 5xx {errors:?}, transport errors {:?}; server log:\n{}",
        out.transport_errors,
        server.log_text()
    );
    let secs = out.elapsed.as_secs_f64();
    let records: u64 = out
        .items
        .iter()
        .filter(|((r, _), _)| r == "created")
        .map(|(_, n)| n)
        .sum();
    println!(
        "{backend}: {:.0} requests/s, {:.0} records created/s, {} emails received",
        out.requests() as f64 / secs,
        records as f64 / secs,
        smtp.received().len()
    );
    let ops: Value = out
        .ops
        .iter()
        .map(|(op, s)| {
            (
                op.to_string(),
                json!({
                    "requests": s.count(),
                    "per_second": s.count() as f64 / secs,
                    "statuses": s.statuses,
                    "p50_ms": s.quantile(0.5).as_secs_f64() * 1000.0,
                    "p99_ms": s.quantile(0.99).as_secs_f64() * 1000.0,
                }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    json!({
        "backend": backend,
        "seconds": secs,
        "requests": out.requests(),
        "requests_per_second": out.requests() as f64 / secs,
        "records_created_per_second": records as f64 / secs,
        "status_histogram": out.status_histogram(),
        "operations": ops,
        "emails_received": smtp.received().len(),
    })
}
