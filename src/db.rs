//! Connecting to SQLite or PostgreSQL and applying migrations. Everything that must differ
//! between the two backends lives in this module.

use std::{path::Path, time::Duration};

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, RuntimeErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

/// How long SQLite waits for a lock unless configured otherwise.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the pool, creating the SQLite file's folder if needed.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    connect_with(url, DEFAULT_BUSY_TIMEOUT).await
}

/// Opens the pool; on SQLite a statement waits up to `busy_timeout` for a lock.
pub async fn connect_with(url: &str, busy_timeout: Duration) -> anyhow::Result<DatabaseConnection> {
    if let Some(path) = sqlite_path(url)
        && let Some(dir) = Path::new(&path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the database folder {}", dir.display()))?;
    }
    let mut opts = ConnectOptions::new(url.to_string());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(15));
    if url.starts_with("sqlite") {
        // One writer at a time is SQLite's rule; WAL lets readers continue meanwhile, and
        // synchronous=FULL makes every acknowledged commit durable.
        opts.max_connections(8).map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
        });
    } else {
        opts.max_connections(20).min_connections(1);
    }
    Database::connect(opts)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))
}

/// Applies pending migrations. On PostgreSQL, replicas starting together take turns: a
/// session-level advisory lock is held on a dedicated connection for the duration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    if !is_postgres(db) {
        return Migrator::up(db, None).await.context("applying migrations");
    }
    let pool = db.get_postgres_connection_pool();
    let mut lock = pool
        .acquire()
        .await
        .context("a connection for the migration lock")?;
    sea_orm::sqlx::query("SELECT pg_advisory_lock(7230418)")
        .execute(&mut *lock)
        .await
        .context("taking the migration lock")?;
    let result = Migrator::up(db, None).await.context("applying migrations");
    sea_orm::sqlx::query("SELECT pg_advisory_unlock(7230418)")
        .execute(&mut *lock)
        .await
        .context("releasing the migration lock")?;
    result
}

/// The path of a `sqlite://` URL, if it names a file.
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

/// The URL with any password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

pub fn is_postgres(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DatabaseBackend::Postgres
}

/// Pool size and idle connections, for `/metrics`.
pub fn pool_stats(db: &DatabaseConnection) -> (u32, usize) {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let p = db.get_postgres_connection_pool();
            (p.size(), p.num_idle())
        }
        _ => {
            let p = db.get_sqlite_connection_pool();
            (p.size(), p.num_idle())
        }
    }
}

/// `true` when the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.execute_unprepared("SELECT 1").await.is_ok()
}

/// Whether a database error is a unique-constraint violation (the same on both backends).
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Begins a transaction that will write. SQLite takes the write lock at `BEGIN IMMEDIATE`,
/// waiting up to the busy timeout for it: a deferred transaction that reads first cannot take
/// the lock later once another connection has committed meanwhile (`SQLITE_BUSY_SNAPSHOT`,
/// which no busy timeout cures). PostgreSQL begins as usual.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    if is_postgres(db) {
        return db.begin().await;
    }
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// The database's own code for an error, e.g. `5` (SQLite busy) or `40001` (PostgreSQL
/// serialization failure).
fn database_code(err: &DbErr) -> Option<String> {
    let (DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))
    | DbErr::Conn(RuntimeErr::SqlxError(e))) = err
    else {
        return None;
    };
    match e.as_ref() {
        sea_orm::sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// A transient failure: the same transaction run again may well succeed. SQLite: busy (5, and
/// its extended codes such as 517 busy-snapshot) and locked (6); PostgreSQL: serialization
/// failure (40001) and deadlock (40P01).
pub fn is_transient(err: &DbErr) -> bool {
    let Some(code) = database_code(err) else {
        return false;
    };
    match code.parse::<i64>() {
        // SQLite's extended codes keep the primary code in their low byte.
        Ok(n) => matches!(n & 0xff, 5 | 6),
        Err(_) => matches!(code.as_str(), "40001" | "40P01"),
    }
}

/// An error that may carry a transient database failure.
pub trait MaybeTransient {
    fn is_transient(&self) -> bool;
}

impl MaybeTransient for DbErr {
    fn is_transient(&self) -> bool {
        is_transient(self)
    }
}

impl MaybeTransient for anyhow::Error {
    fn is_transient(&self) -> bool {
        self.chain()
            .any(|c| c.downcast_ref::<DbErr>().is_some_and(is_transient))
    }
}

/// How often a transaction is tried in all.
pub const ATTEMPTS: u32 = 5;

/// Runs `work` — one whole transaction, begun inside it — and runs it again when it fails with a
/// transient database error: at most [`ATTEMPTS`] times, waiting 20 ms, 40 ms, 80 ms … (with
/// jitter) in between. The last error is returned as it is.
pub async fn retry<T, E, F, Fut>(mut work: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: MaybeTransient,
{
    let mut attempt = 1;
    loop {
        match work().await {
            Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                let base = 20u64 << (attempt - 1);
                let jitter = rand::random::<u64>() % base;
                tracing::debug!(
                    attempt,
                    "transient database error; retrying the transaction"
                );
                tokio::time::sleep(Duration::from_millis(base + jitter)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://data/merchant-incentives.db?mode=rwc").as_deref(),
            Some("data/merchant-incentives.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x/y"), None);
    }

    /// A transient error `times` times, then success.
    #[tokio::test]
    async fn retries_transient_errors_a_bounded_number_of_times() {
        #[derive(Debug)]
        struct Busy(bool);
        impl MaybeTransient for Busy {
            fn is_transient(&self) -> bool {
                self.0
            }
        }
        let mut calls = 0;
        let ok: Result<u32, Busy> = retry(|| {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(Busy(true)) } else { Ok(n) } }
        })
        .await;
        assert_eq!(ok.unwrap(), 3);
        let mut calls = 0;
        let err: Result<(), Busy> = retry(|| {
            calls += 1;
            async { Err(Busy(true)) }
        })
        .await;
        assert!(err.is_err());
        assert_eq!(calls, ATTEMPTS);
        let mut calls = 0;
        let err: Result<(), Busy> = retry(|| {
            calls += 1;
            async { Err(Busy(false)) }
        })
        .await;
        assert!(err.is_err());
        assert_eq!(calls, 1, "a permanent error is not retried");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
