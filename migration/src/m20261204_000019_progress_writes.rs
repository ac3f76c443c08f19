//! What every evaluation pays for each progress row and snapshot it writes.
//!
//! On PostgreSQL, progress pages are filled only half (`fillfactor = 50`), so a row's next
//! version fits on its own page: an evaluation that changes no indexed column of a row (its
//! value, status and keys stay; its projection and evaluation time move) updates it without
//! touching any index (a heap-only tuple), and the space of the version before is reclaimed
//! when the page is next written.
//!
//! Two indexes no query needs are dropped:
//! - `ix_progress_leaderboard (program_id, period_start, value)` is a prefix of
//!   `ix_progress_board (program_id, period_start, value DESC, subject_id)`, which serves every
//!   query it served (a B-tree is read in either direction);
//! - `ix_progress_snapshot_subject (program_id, subject_id, evaluated_at)` was the history's
//!   before snapshots had a `day`; the history reads `ix_progress_snapshot_subject_day`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Storage parameters are PostgreSQL's; SQLite has none.
async fn on_postgres(m: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    if m.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        m.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(m, "ALTER TABLE progress SET (fillfactor = 50)").await?;
        m.drop_index(
            Index::drop()
                .name("ix_progress_snapshot_subject")
                .table(ProgressSnapshot::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ix_progress_leaderboard")
                .table(Progress::Table)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(m, "ALTER TABLE progress RESET (fillfactor)").await?;
        m.create_index(
            Index::create()
                .name("ix_progress_leaderboard")
                .table(Progress::Table)
                .col(Progress::ProgramId)
                .col(Progress::PeriodStart)
                .col(Progress::Value)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_progress_snapshot_subject")
                .table(ProgressSnapshot::Table)
                .col(ProgressSnapshot::ProgramId)
                .col(ProgressSnapshot::SubjectId)
                .col(ProgressSnapshot::EvaluatedAt)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Progress {
    Table,
    ProgramId,
    PeriodStart,
    Value,
}

#[derive(DeriveIden)]
enum ProgressSnapshot {
    Table,
    ProgramId,
    SubjectId,
    EvaluatedAt,
}
