//! Connecting to SQLite or PostgreSQL and applying migrations. Everything that must differ
//! between the two backends lives in this module.

use std::{path::Path, sync::LazyLock, time::Duration};

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};
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
    connect_with(url, DEFAULT_BUSY_TIMEOUT, DEFAULT_ACQUIRE_TIMEOUT).await
}

/// How long a request waits for a pooled connection unless configured otherwise.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the pool; on SQLite a statement waits up to `busy_timeout` for a lock. A connection
/// is awaited at most `acquire_timeout`: while the database is down, requests fail with
/// `database_unavailable` in that time instead of waiting for it, and the pool reconnects by
/// itself when it returns.
pub async fn connect_with(
    url: &str,
    busy_timeout: Duration,
    acquire_timeout: Duration,
) -> anyhow::Result<DatabaseConnection> {
    if let Some(path) = sqlite_path(url)
        && let Some(dir) = Path::new(&path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the database folder {}", dir.display()))?;
    }
    let mut opts = ConnectOptions::new(url.to_string());
    opts.sqlx_logging(false)
        .connect_timeout(acquire_timeout)
        .acquire_timeout(acquire_timeout);
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
    // A readiness probe answers within 2 seconds, database or not.
    tokio::time::timeout(Duration::from_secs(2), db.execute_unprepared("SELECT 1"))
        .await
        .is_ok_and(|r| r.is_ok())
}

/// The cause in `err`'s chain that is [`is_unavailable`], if any.
pub fn unavailable_in(err: &anyhow::Error) -> Option<&DbErr> {
    err.chain()
        .filter_map(|e| e.downcast_ref::<DbErr>())
        .find(|e| is_unavailable(e))
}

/// Whether `err` means the database cannot be reached (it is down, restarting, or every
/// connection attempt timed out): nothing was written, and the same request may succeed once
/// it is back. PostgreSQL's connection exceptions (class 08) and shutdown codes (57P01–57P03)
/// count, as do I/O failures and a pool that could not open or hand out a connection.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as E;
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => e.as_ref(),
        DbErr::Conn(_) => return true,
        _ => return false,
    };
    match sqlx {
        E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Tls(_) => true,
        E::Database(d) => d.code().is_some_and(|c| {
            c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// Whether a database error is a unique-constraint violation (the same on both backends).
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// A connection of its own, for work that keeps per-connection state (temporary tables)
/// across transactions: on SQLite a pool of exactly one connection with the same options;
/// on PostgreSQL the pool itself (such work runs in one transaction there).
pub async fn own_connection(db: &DatabaseConnection) -> Result<DatabaseConnection, DbErr> {
    if is_postgres(db) {
        return Ok(db.clone());
    }
    let shared = db.get_sqlite_connection_pool();
    let pool = sea_orm::sqlx::pool::PoolOptions::<sea_orm::sqlx::Sqlite>::new()
        .max_connections(1)
        .acquire_timeout(shared.options().get_acquire_timeout())
        .connect_with((*shared.connect_options()).clone())
        .await
        .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(e))))?;
    Ok(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
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
pub fn database_code(err: &DbErr) -> Option<String> {
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
    transient(err).is_some()
}

/// Which transient failure `err` is, by backend and the error's name; `None` when it is not
/// one.
pub fn transient(err: &DbErr) -> Option<Transient> {
    let code = database_code(err)?;
    let (backend, error) = match code.parse::<i64>() {
        Ok(517) => ("sqlite", "busy_snapshot"),
        // SQLite's extended codes keep the primary code in their low byte.
        Ok(n) if n & 0xff == 5 => ("sqlite", "busy"),
        Ok(n) if n & 0xff == 6 => ("sqlite", "locked"),
        Ok(_) => return None,
        Err(_) => match code.as_str() {
            "40001" => ("postgres", "serialization_failure"),
            "40P01" => ("postgres", "deadlock"),
            _ => return None,
        },
    };
    Some(Transient { backend, error })
}

/// A transient database failure: the backend and the error's name, the labels of
/// [`RETRIES`].
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Transient {
    pub backend: &'static str,
    pub error: &'static str,
}

/// Transactions run again after a transient failure, by backend and error; process-wide,
/// exposed on `/metrics` as `db_retries_total`.
pub static RETRIES: LazyLock<Family<Transient, Counter>> = LazyLock::new(Family::default);

/// An error that may carry a transient database failure.
pub trait MaybeTransient {
    fn transient(&self) -> Option<Transient>;
    fn is_transient(&self) -> bool {
        self.transient().is_some()
    }
}

impl MaybeTransient for DbErr {
    fn transient(&self) -> Option<Transient> {
        transient(self)
    }
}

impl MaybeTransient for anyhow::Error {
    fn transient(&self) -> Option<Transient> {
        self.chain()
            .find_map(|c| c.downcast_ref::<DbErr>().and_then(transient))
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
            Err(e) if attempt < ATTEMPTS && e.transient().is_some() => {
                if let Some(t) = e.transient() {
                    RETRIES.get_or_create(&t).inc();
                }
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
            fn transient(&self) -> Option<Transient> {
                self.0.then_some(Transient {
                    backend: "sqlite",
                    error: "busy",
                })
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

// ---------------------------------------------------------------------------------------------
// Reads that tolerate lag

/// Which database served a read: `replica` or `primary`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReadTarget {
    pub target: &'static str,
}

/// Reads that tolerate lag, by the database that served them; exposed on `/metrics` as
/// `db_reads_total`.
pub static READS: LazyLock<Family<ReadTarget, Counter>> = LazyLock::new(Family::default);

/// How long a replica's measured lag is trusted before it is measured again.
const LAG_CHECK_EVERY: Duration = Duration::from_millis(250);

/// Where reads that tolerate lag go — leaderboards, summaries, insights, history, reports: a
/// streaming replica (`DATABASE_READ_URL`) while it is at most `READ_MAX_LAG_MS` behind, else
/// the primary. Writes, and reads that must see them, always use the primary.
pub struct Reads {
    primary: DatabaseConnection,
    replica: Option<DatabaseConnection>,
    max_lag: Duration,
    /// When the replica was last measured, and whether it was close enough.
    checked: std::sync::Mutex<Option<(std::time::Instant, bool)>>,
}

impl Reads {
    pub fn new(
        primary: DatabaseConnection,
        replica: Option<DatabaseConnection>,
        max_lag: Duration,
    ) -> Self {
        Self {
            primary,
            replica,
            max_lag,
            checked: std::sync::Mutex::new(None),
        }
    }

    /// The connection for one read, counted in [`READS`].
    pub async fn pick(&self) -> &DatabaseConnection {
        let use_replica = match &self.replica {
            None => false,
            Some(replica) => {
                let cached = *self.checked.lock().expect("lag cache");
                match cached {
                    Some((at, ok)) if at.elapsed() < LAG_CHECK_EVERY => ok,
                    _ => {
                        let ok = replica_lag(replica)
                            .await
                            .is_some_and(|lag| lag <= self.max_lag);
                        *self.checked.lock().expect("lag cache") =
                            Some((std::time::Instant::now(), ok));
                        ok
                    }
                }
            }
        };
        let (db, target) = match (&self.replica, use_replica) {
            (Some(r), true) => (r, "replica"),
            _ => (&self.primary, "primary"),
        };
        READS.get_or_create(&ReadTarget { target }).inc();
        db
    }
}

/// How far the replica is behind: none when it has replayed all it received, else the age of
/// the last transaction it replayed (`pg_last_xact_replay_timestamp()`); `None` when it cannot
/// say within a second (it is down, or not a replica of anything).
async fn replica_lag(replica: &DatabaseConnection) -> Option<Duration> {
    let sql = "SELECT CAST(CASE \
                 WHEN NOT pg_is_in_recovery() THEN 0 \
                 WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
                 ELSE COALESCE(EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp())) * 1000, 0) \
               END AS BIGINT)";
    let row = tokio::time::timeout(
        Duration::from_secs(1),
        replica.query_one_raw(sea_orm::Statement::from_string(
            DatabaseBackend::Postgres,
            sql,
        )),
    )
    .await
    .ok()?
    .ok()??;
    let ms: i64 = row.try_get_by_index(0).ok()?;
    Some(Duration::from_millis(ms.max(0) as u64))
}
