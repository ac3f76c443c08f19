//! The leaderboard filtered by status (`GET /programs/{id}/progress?status=…`) in board order.
//! Without it a rare status (few `achieved` subjects early in a year) is found by walking the
//! whole board, so a page with fewer matches than the limit read every row of the period.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ix_progress_status")
                .table(Progress::Table)
                .col(Progress::ProgramId)
                .col(Progress::PeriodStart)
                .col(Progress::Status)
                .col(Progress::Value)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_progress_status")
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
    Status,
    Value,
}
