//! Connecting to SQLite or PostgreSQL and applying migrations. Everything that must differ
//! between the two backends lives in this module.

use std::{path::Path, time::Duration};

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

/// Opens the pool, creating the SQLite file's folder if needed.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
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
        opts.max_connections(8).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(15))
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

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
