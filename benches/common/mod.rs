//! What every benchmark records besides its numbers: a description of the machine, and its
//! results written as JSON to `bench-results/<bench>.json` at the repository root (next to the
//! markdown table it prints), so runs on different machines can be compared.

// Each bench compiles this module on its own and not every bench uses every helper.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::{Value, json};

/// The number in the environment variable `name`, or `default` when it is unset or not a
/// number.
pub fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The multi-threaded runtime a benchmark drives its load from.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The machine a benchmark ran on, read from `/proc` and `/etc/os-release` (Linux).
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| kib_field(&s, "MemTotal:"))
        .map(|kib| (kib / 1024.0).round() as u64);
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string());
    json!({
        "cpu": cpu,
        "cores": cores,
        "memory_mib": memory_mib,
        "os": os,
        "kernel": kernel,
    })
}

/// The 1-, 5- and 15-minute load averages (other work on the machine skews the numbers).
pub fn load_average() -> Option<[f64; 3]> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = s.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// One line for the console and the README: CPU, cores, memory, OS.
pub fn describe(machine: &Value) -> String {
    format!(
        "{}, {} cores, {} MiB, {}",
        machine["cpu"].as_str().unwrap_or("unknown CPU"),
        machine["cores"],
        machine["memory_mib"],
        machine["os"].as_str().unwrap_or("unknown OS"),
    )
}

/// Peak resident set size (VmHWM) of a process so far, in MiB; `None` once it has gone.
pub fn peak_rss_mib(pid: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    kib_field(&s, "VmHWM:").map(|kib| kib / 1024.0)
}

/// Current resident set size (VmRSS) of a process, in MiB.
pub fn rss_mib(pid: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    kib_field(&s, "VmRSS:").map(|kib| kib / 1024.0)
}

fn kib_field(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// The commit being measured, with `+dirty` when the working tree has changes.
fn commit() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}+dirty") } else { head })
}

/// Writes `bench-results/<bench>.json`: the machine, the date, the load average before and
/// now, the parameters and the results. Returns the path written.
pub fn write_results(
    bench: &str,
    machine: &Value,
    load_before: Option<[f64; 3]>,
    parameters: Value,
    results: Value,
) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    let path = dir.join(format!("{bench}.json"));
    let doc = json!({
        "bench": bench,
        "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "commit": commit(),
        "machine": machine,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "parameters": parameters,
        "results": results,
    });
    std::fs::create_dir_all(&dir).expect("creating bench-results/");
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON");
    text.push('\n');
    std::fs::write(&path, text).expect("writing the results");
    eprintln!("results written to {}", path.display());
    path
}

/// Prints the machine line and load average under a table.
pub fn print_footer(machine: &Value, load_before: Option<[f64; 3]>) {
    let fmt = |l: Option<[f64; 3]>| {
        l.map_or("unknown".into(), |[a, b, c]| {
            format!("{a:.2}, {b:.2}, {c:.2}")
        })
    };
    println!();
    println!("Machine: {}", describe(machine));
    println!(
        "Load average before: {}; after: {}",
        fmt(load_before),
        fmt(load_average())
    );
}

/// A fresh PostgreSQL database on the server of `base` (`BENCH_DATABASE_URL`): its name and
/// its URL. Drop it with [`drop_pg`].
pub async fn create_pg(base: &str) -> anyhow::Result<(String, String)> {
    use sea_orm::ConnectionTrait;
    let name = format!("mi_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(base).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    admin.close().await.ok();
    let mut url = url::Url::parse(base)?;
    url.set_path(&format!("/{name}"));
    Ok((name, url.to_string()))
}

/// Drops a database made by [`create_pg`]; a failure is ignored (the run's result matters more).
pub async fn drop_pg(base: &str, name: &str) {
    use sea_orm::ConnectionTrait;
    if let Ok(admin) = sea_orm::Database::connect(base).await {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
        admin.close().await.ok();
    }
}

/// How a PostgreSQL bench database lays out the GMV records and the `gmv_daily_*` roll-ups,
/// so a bench can report both in the same run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// By month, as the migrations leave PostgreSQL.
    Partitioned,
    /// One table each, as before the monthly partitions.
    Unpartitioned,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Partitioned => "partitioned",
            Layout::Unpartitioned => "unpartitioned",
        }
    }

    /// Lays out a migrated PostgreSQL database; nothing on SQLite. Partitioned: the monthly
    /// partitions from `first`'s month through `last`'s exist, as the `partitions` job of a
    /// running service would have made them, so the bench's rows land in their months and not
    /// in the default partition. Unpartitioned: converted back by the migration's own `down`.
    pub async fn apply(
        self,
        db: &sea_orm::DatabaseConnection,
        first: chrono::NaiveDate,
        last: chrono::NaiveDate,
    ) -> anyhow::Result<()> {
        use migration::partitions::{self, TABLES};
        use sea_orm::TransactionTrait;
        if !merchant_incentives::db::is_postgres(db) {
            return Ok(());
        }
        for t in &TABLES {
            let txn = db.begin().await?;
            match self {
                Layout::Partitioned => {
                    for month in partitions::months(first, last) {
                        partitions::ensure_month(&txn, t, month).await?;
                    }
                }
                Layout::Unpartitioned => partitions::unpartition(&txn, t).await?,
            }
            txn.commit().await?;
        }
        Ok(())
    }
}

/// A daily amount in fen: 1% of merchants around ¥110M a year, 4% around ¥36M, the rest small.
fn amount_sql(id: &str, day: &str) -> String {
    format!(
        "(CASE WHEN {id} % 1000 < 10 THEN 30000000 WHEN {id} % 1000 < 50 THEN 10000000 \
         ELSE 50000 END + ({id} * 31 + {day}) % 1000)"
    )
}

/// The channel of a merchant's day: live stream, short video and storefront in turn.
fn channel_sql(id: &str, day: &str) -> String {
    format!(
        "(CASE ({id} + {day}) % 3 WHEN 0 THEN 'live_stream' WHEN 1 THEN 'short_video' \
         ELSE 'storefront' END)"
    )
}

/// `merchants` approved merchants (even ids brands, odd industry belt, in 50 belts) spread over
/// 31 provinces and 20 categories, and `days` days of roll-ups each from 2026-01-01 (one
/// channel a day, in turn), written by set-based statements.
pub async fn generate(
    db: &sea_orm::DatabaseConnection,
    merchants: i64,
    days: i64,
) -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    /// Merchants generated per statement.
    const BATCH: i64 = 2_000;
    let pg = merchant_incentives::db::is_postgres(db);
    let mut from = 1;
    while from <= merchants {
        let to = (from + BATCH - 1).min(merchants);
        let (m_sql, g_sql) = if pg {
            (
                format!(
                    "INSERT INTO merchant (id, kind, status, legal_name, display_name, uscc, \
                     contact_email, province, city, category, industry_belt, weekly_report, locale, \
                     created_at, updated_at) SELECT n, CASE WHEN n % 2 = 0 THEN 'brand' ELSE 'industry_belt' END, \
                     'approved', 'Bench ' || n, 'Bench ' || n, 'U' || lpad(n::text, 17, '0'), \
                     'm' || n || '@bench.example', '省' || (n % 31), '金华', '类目' || (n % 20), \
                     CASE WHEN n % 2 = 1 THEN '产业带' || (n % 50) END, true, 'zh-CN', \
                     TIMESTAMPTZ '2026-01-01 00:00:00+00', TIMESTAMPTZ '2026-01-01 00:00:00+00' \
                     FROM generate_series({from}::bigint, {to}::bigint) AS n"
                ),
                format!(
                    "INSERT INTO gmv_daily_merchant (merchant_id, day, channel, amount, records) \
                     SELECT m, DATE '2026-01-01' + d::int, {}, {}, 1 \
                     FROM generate_series({from}::bigint, {to}::bigint) AS m, \
                     generate_series(0, {}) AS d",
                    channel_sql("m", "d"),
                    amount_sql("m", "d"),
                    days - 1
                ),
            )
        } else {
            (
                format!(
                    "INSERT INTO merchant (id, kind, status, legal_name, display_name, uscc, \
                     contact_email, province, city, category, industry_belt, weekly_report, locale, \
                     created_at, updated_at) WITH RECURSIVE s(n) AS (SELECT {from} UNION ALL SELECT n + 1 FROM s \
                     WHERE n < {to}) SELECT n, CASE WHEN n % 2 = 0 THEN 'brand' ELSE 'industry_belt' END, \
                     'approved', 'Bench ' || n, 'Bench ' || n, printf('U%017d', n), \
                     'm' || n || '@bench.example', '省' || (n % 31), '金华', '类目' || (n % 20), \
                     CASE WHEN n % 2 = 1 THEN '产业带' || (n % 50) END, 1, 'zh-CN', \
                     '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00' FROM s"
                ),
                format!(
                    "INSERT INTO gmv_daily_merchant (merchant_id, day, channel, amount, records) \
                     WITH RECURSIVE s(m) AS (SELECT {from} UNION ALL SELECT m + 1 FROM s WHERE m < {to}), \
                     d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < {}) \
                     SELECT m, date('2026-01-01', '+' || n || ' days'), {}, {}, 1 \
                     FROM s, d ORDER BY m, n",
                    days - 1,
                    channel_sql("m", "n"),
                    amount_sql("m", "n")
                ),
            )
        };
        let txn = db.begin().await?;
        txn.execute_unprepared(&m_sql).await?;
        txn.execute_unprepared(&g_sql).await?;
        txn.commit().await?;
        eprint!("\r  generated {to}/{merchants} merchants");
        from = to + 1;
    }
    eprintln!();
    // Statistics as a database in service has them; on PostgreSQL also the visibility map and
    // the rows' commit hint bits, so autovacuum does not start on the freshly loaded tables in
    // the middle of a measurement, and no measured statement is the first to set those bits.
    db.execute_unprepared(if pg { "VACUUM ANALYZE" } else { "ANALYZE" })
        .await?;
    // The seeding's own writes are flushed before anything is timed, so no measured step
    // (nor the baseline) pays for a checkpoint the generator started.
    if pg {
        db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('merchant', 'id'), (SELECT MAX(id) FROM merchant))",
        )
        .await?;
        db.execute_unprepared("CHECKPOINT").await?;
    } else {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    }
    Ok(())
}
