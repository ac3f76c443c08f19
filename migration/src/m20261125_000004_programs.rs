//! Incentive programmes, current progress per subject, snapshot history and achievements.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Program::Table)
                .col(big_pk_auto(Program::Id))
                .col(string_len(Program::Name, 200))
                .col(text(Program::Description))
                .col(string_len(Program::Subject, 16))
                .col(string_len(Program::MerchantKinds, 64))
                .col(string_len(Program::Metric, 16))
                .col(string_len_null(Program::Channel, 16))
                .col(string_len(Program::Period, 16))
                .col(string_len(Program::TimeZone, 64))
                .col(date(Program::StartsOn))
                .col(date_null(Program::EndsOn))
                .col(text(Program::Tiers))
                .col(big_integer(Program::Goal))
                .col(boolean(Program::Active).default(true))
                .col(string_len_null(Program::SeedKey, 64).unique_key())
                .col(timestamp_with_time_zone(Program::CreatedAt))
                .col(timestamp_with_time_zone(Program::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Progress::Table)
                .col(big_integer(Progress::ProgramId))
                .col(date(Progress::PeriodStart))
                .col(string_len(Progress::SubjectId, 200))
                .col(date(Progress::PeriodEnd))
                .col(string_len(Progress::SubjectType, 16))
                .col(big_integer_null(Progress::MerchantId))
                .col(big_integer(Progress::Value))
                .col(integer(Progress::TierIndex))
                .col(string_len_null(Progress::Tier, 100))
                .col(string_len_null(Progress::NextTier, 100))
                .col(big_integer_null(Progress::NextThreshold))
                .col(big_integer(Progress::Remaining))
                .col(big_integer(Progress::Projected))
                .col(string_len(Progress::Status, 16))
                .col(timestamp_with_time_zone(Progress::EvaluatedAt))
                .col(big_integer(Progress::RunId))
                .primary_key(
                    Index::create()
                        .col(Progress::ProgramId)
                        .col(Progress::PeriodStart)
                        .col(Progress::SubjectId),
                )
                .to_owned(),
        )
        .await?;
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
                .name("ix_progress_merchant")
                .table(Progress::Table)
                .col(Progress::MerchantId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ProgressSnapshot::Table)
                .col(big_pk_auto(ProgressSnapshot::Id))
                .col(big_integer(ProgressSnapshot::RunId))
                .col(big_integer(ProgressSnapshot::ProgramId))
                .col(date(ProgressSnapshot::PeriodStart))
                .col(string_len(ProgressSnapshot::SubjectId, 200))
                .col(big_integer(ProgressSnapshot::Value))
                .col(integer(ProgressSnapshot::TierIndex))
                .col(big_integer(ProgressSnapshot::Projected))
                .col(string_len(ProgressSnapshot::Status, 16))
                .col(timestamp_with_time_zone(ProgressSnapshot::EvaluatedAt))
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
        .await?;

        m.create_table(
            Table::create()
                .table(Achievement::Table)
                .col(big_pk_auto(Achievement::Id))
                .col(big_integer(Achievement::ProgramId))
                .col(date(Achievement::PeriodStart))
                .col(string_len(Achievement::SubjectType, 16))
                .col(string_len(Achievement::SubjectId, 200))
                .col(big_integer_null(Achievement::MerchantId))
                .col(string_len(Achievement::Tier, 100))
                .col(big_integer(Achievement::Threshold))
                .col(big_integer(Achievement::Value))
                .col(timestamp_with_time_zone(Achievement::AchievedAt))
                .col(timestamp_with_time_zone_null(Achievement::RevokedAt))
                .col(big_integer(Achievement::RunId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_achievement_once")
                .table(Achievement::Table)
                .col(Achievement::ProgramId)
                .col(Achievement::PeriodStart)
                .col(Achievement::SubjectId)
                .col(Achievement::Tier)
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Achievement::Table.into_iden(),
            ProgressSnapshot::Table.into_iden(),
            Progress::Table.into_iden(),
            Program::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Program {
    Table,
    Id,
    Name,
    Description,
    Subject,
    MerchantKinds,
    Metric,
    Channel,
    Period,
    TimeZone,
    StartsOn,
    EndsOn,
    Tiers,
    Goal,
    Active,
    SeedKey,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Progress {
    Table,
    ProgramId,
    PeriodStart,
    SubjectId,
    PeriodEnd,
    SubjectType,
    MerchantId,
    Value,
    TierIndex,
    Tier,
    NextTier,
    NextThreshold,
    Remaining,
    Projected,
    Status,
    EvaluatedAt,
    RunId,
}

#[derive(DeriveIden)]
enum ProgressSnapshot {
    Table,
    Id,
    RunId,
    ProgramId,
    PeriodStart,
    SubjectId,
    Value,
    TierIndex,
    Projected,
    Status,
    EvaluatedAt,
}

#[derive(DeriveIden)]
enum Achievement {
    Table,
    Id,
    ProgramId,
    PeriodStart,
    SubjectType,
    SubjectId,
    MerchantId,
    Tier,
    Threshold,
    Value,
    AchievedAt,
    RevokedAt,
    RunId,
}
