//! Two indexes fewer for every progress row and snapshot an evaluation writes.
//!
//! - `progress` is keyed `(program_id, subject_id, period_start)` instead of
//!   `(program_id, period_start, subject_id)`. The key is as unique as before, an upsert's
//!   `ON CONFLICT` names the same columns, and a lookup of one subject in one period is one
//!   key probe either way; but the key now also serves one subject across periods (the
//!   merchant page, a subject's history), so `ix_progress_subject (program_id, subject_id)`
//!   is dropped. What read a period by `(program_id, period_start)` reads
//!   `ix_progress_board`, which leads with them.
//! - `ix_progress_snapshot_day (program_id, period_start, subject_id, day, id)` is dropped.
//!   Retention was its only reader, and now finds a day's later snapshot of the same subject
//!   and period through `ix_progress_snapshot_subject_day (program_id, subject_id, day, id)`.
//!
//! PostgreSQL swaps the key constraint in place. SQLite cannot change a table's key, so the
//! table is rebuilt as its documented procedure says, in the migration's transaction: a new
//! table from the stored definition with the other key, the rows copied, the old table
//! dropped, the new one renamed and the table's other indexes created again from their
//! stored definitions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

const BY_PERIOD: [&str; 3] = ["program_id", "period_start", "subject_id"];
const BY_SUBJECT: [&str; 3] = ["program_id", "subject_id", "period_start"];

/// Re-keys `progress` from the key `from` to the key `to`.
async fn rekey(m: &SchemaManager<'_>, from: [&str; 3], to: [&str; 3]) -> Result<(), DbErr> {
    let db = m.get_connection();
    match m.get_database_backend() {
        DatabaseBackend::Postgres => {
            db.execute_unprepared(&format!(
                "ALTER TABLE progress DROP CONSTRAINT progress_pkey, \
                 ADD CONSTRAINT progress_pkey PRIMARY KEY ({})",
                to.join(", ")
            ))
            .await?;
        }
        _ => {
            let quoted = |k: [&str; 3]| {
                let cols: Vec<String> = k.iter().map(|c| format!("\"{c}\"")).collect();
                format!("PRIMARY KEY ({})", cols.join(", "))
            };
            let stored = |kind: &str| {
                Statement::from_string(
                    DatabaseBackend::Sqlite,
                    format!(
                        "SELECT sql FROM sqlite_master WHERE type = '{kind}' \
                         AND tbl_name = 'progress' AND sql IS NOT NULL"
                    ),
                )
            };
            let table: String = db
                .query_one_raw(stored("table"))
                .await?
                .ok_or_else(|| DbErr::Migration("no progress table".into()))?
                .try_get_by_index(0)?;
            let old_key = quoted(from);
            if !table.contains(&old_key) {
                return Err(DbErr::Migration(format!(
                    "progress is not keyed {old_key}: {table}"
                )));
            }
            let created = table.replacen(&old_key, &quoted(to), 1).replacen(
                "\"progress\"",
                "\"progress_rekeyed\"",
                1,
            );
            let mut indexes = Vec::new();
            for row in db.query_all_raw(stored("index")).await? {
                indexes.push(row.try_get_by_index::<String>(0)?);
            }
            db.execute_unprepared(&created).await?;
            db.execute_unprepared("INSERT INTO progress_rekeyed SELECT * FROM progress")
                .await?;
            db.execute_unprepared("DROP TABLE progress").await?;
            db.execute_unprepared("ALTER TABLE progress_rekeyed RENAME TO progress")
                .await?;
            for sql in indexes {
                db.execute_unprepared(&sql).await?;
            }
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction on SQLite too (its DDL is transactional): the rebuild is all or
    /// nothing, and runs on one connection.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_progress_subject")
                .table(Progress::Table)
                .to_owned(),
        )
        .await?;
        rekey(m, BY_PERIOD, BY_SUBJECT).await?;
        m.drop_index(
            Index::drop()
                .name("ix_progress_snapshot_day")
                .table(ProgressSnapshot::Table)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ix_progress_snapshot_day")
                .table(ProgressSnapshot::Table)
                .col(ProgressSnapshot::ProgramId)
                .col(ProgressSnapshot::PeriodStart)
                .col(ProgressSnapshot::SubjectId)
                .col(ProgressSnapshot::Day)
                .col(ProgressSnapshot::Id)
                .to_owned(),
        )
        .await?;
        rekey(m, BY_SUBJECT, BY_PERIOD).await?;
        m.create_index(
            Index::create()
                .name("ix_progress_subject")
                .table(Progress::Table)
                .col(Progress::ProgramId)
                .col(Progress::SubjectId)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Progress {
    Table,
    ProgramId,
    SubjectId,
}

#[derive(DeriveIden)]
enum ProgressSnapshot {
    Table,
    Id,
    ProgramId,
    PeriodStart,
    SubjectId,
    Day,
}
