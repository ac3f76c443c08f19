//! A programme's subjects per tier and status per evaluated day (`tier_tally`), written by each evaluation from
//! the period's progress, so the goals trend reads a few rows a day instead of replaying every
//! snapshot of the period. Existing history is carried over from the snapshots: for each day
//! with a snapshot, every subject's last snapshot on or before it in the period.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TierTally::Table)
                .col(
                    ColumnDef::new(TierTally::ProgramId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(TierTally::PeriodStart).date().not_null())
                .col(ColumnDef::new(TierTally::Day).date().not_null())
                .col(ColumnDef::new(TierTally::TierIndex).integer().not_null())
                .col(ColumnDef::new(TierTally::Status).string_len(16).not_null())
                .col(ColumnDef::new(TierTally::Subjects).big_integer().not_null())
                .col(
                    ColumnDef::new(TierTally::ProjectedTop)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(TierTally::RunId).big_integer().not_null())
                .primary_key(
                    Index::create()
                        .col(TierTally::ProgramId)
                        .col(TierTally::PeriodStart)
                        .col(TierTally::Day)
                        .col(TierTally::TierIndex)
                        .col(TierTally::Status),
                )
                .to_owned(),
        )
        .await?;
        // The top tier's threshold, from the programme's tiers (a JSON array, ascending).
        let top = match m.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => "(p.tiers::jsonb -> -1 ->> 'threshold')::bigint",
            _ => "json_extract(p.tiers, '$[#-1].threshold')",
        };
        let backfill = format!(
            "INSERT INTO tier_tally (program_id, period_start, day, tier_index, status, subjects, \
             projected_top, run_id) \
             SELECT l.program_id, l.period_start, l.day, s.tier_index, s.status, COUNT(*), \
             SUM(CASE WHEN s.projected >= {top} THEN 1 ELSE 0 END), MAX(l.run_id) \
             FROM (SELECT d.program_id, d.period_start, d.day, d.run_id, MAX(x.id) AS id \
                   FROM (SELECT program_id, period_start, day, MAX(run_id) AS run_id \
                         FROM progress_snapshot GROUP BY program_id, period_start, day) d \
                   JOIN progress_snapshot x ON x.program_id = d.program_id \
                    AND x.period_start = d.period_start AND x.day <= d.day \
                   GROUP BY d.program_id, d.period_start, d.day, d.run_id, x.subject_id) l \
             JOIN progress_snapshot s ON s.id = l.id \
             JOIN program p ON p.id = l.program_id \
             GROUP BY l.program_id, l.period_start, l.day, s.tier_index, s.status"
        );
        m.get_connection().execute_unprepared(&backfill).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TierTally::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum TierTally {
    Table,
    ProgramId,
    PeriodStart,
    Day,
    TierIndex,
    Status,
    Subjects,
    ProjectedTop,
    RunId,
}
