//! The leaderboard in its own order, and one subject of a programme without walking the
//! programme: its progress rows (whatever the period) and its snapshots by day. The merchant page of the dashboard and
//! `GET /programs/{id}/subjects/{type}/{id}/history` looked a subject up by programme and id,
//! which the earlier indexes (led by the period, or by the evaluation time) could only answer
//! by scanning every row of the programme: 140 ms at 100,000 merchants on SQLite.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ix_progress_subject")
                .table(Progress::Table)
                .col(Progress::ProgramId)
                .col(Progress::SubjectId)
                .to_owned(),
        )
        .await?;
        // The leaderboard's order exactly (value descending, then subject), so a page is the
        // first rows of one index range on both backends, never a sort of the programme.
        m.create_index(
            Index::create()
                .name("ix_progress_board")
                .table(Progress::Table)
                .col(Progress::ProgramId)
                .col(Progress::PeriodStart)
                .col((Progress::Value, IndexOrder::Desc))
                .col(Progress::SubjectId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_progress_snapshot_subject_day")
                .table(ProgressSnapshot::Table)
                .col(ProgressSnapshot::ProgramId)
                .col(ProgressSnapshot::SubjectId)
                .col(ProgressSnapshot::Day)
                .col(ProgressSnapshot::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_progress_snapshot_subject_day")
                .table(ProgressSnapshot::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ix_progress_board")
                .table(Progress::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ix_progress_subject")
                .table(Progress::Table)
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
    SubjectId,
}

#[derive(DeriveIden)]
enum ProgressSnapshot {
    Table,
    Id,
    ProgramId,
    SubjectId,
    Day,
}
