//! The rewards ledger: one row per reward a tier earns, created with its achievement, and the
//! payouts that gather confirmed rewards for finance.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Payout::Table)
                .col(
                    ColumnDef::new(Payout::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Payout::ProgramId).big_integer().null())
                .col(ColumnDef::new(Payout::Status).string_len(16).not_null())
                .col(ColumnDef::new(Payout::Rewards).big_integer().not_null())
                .col(ColumnDef::new(Payout::Total).big_integer().not_null())
                .col(ColumnDef::new(Payout::CreatedBy).string_len(200).not_null())
                .col(
                    ColumnDef::new(Payout::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Payout::PaidAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Reward::Table)
                .col(
                    ColumnDef::new(Reward::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Reward::AchievementId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(Reward::Position).integer().not_null())
                .col(ColumnDef::new(Reward::ProgramId).big_integer().not_null())
                .col(ColumnDef::new(Reward::PeriodStart).date().not_null())
                .col(ColumnDef::new(Reward::PeriodEnd).date().not_null())
                .col(
                    ColumnDef::new(Reward::SubjectType)
                        .string_len(16)
                        .not_null(),
                )
                .col(ColumnDef::new(Reward::SubjectId).string_len(300).not_null())
                .col(ColumnDef::new(Reward::MerchantId).big_integer().null())
                .col(ColumnDef::new(Reward::Tier).string_len(100).not_null())
                .col(ColumnDef::new(Reward::Kind).string_len(24).not_null())
                .col(ColumnDef::new(Reward::Amount).big_integer().null())
                .col(ColumnDef::new(Reward::RateBp).integer().null())
                .col(ColumnDef::new(Reward::Status).string_len(16).not_null())
                .col(
                    ColumnDef::new(Reward::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Reward::ConfirmedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Reward::PaidAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(Reward::PayoutId).big_integer().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Reward::Table, Reward::AchievementId)
                        .to(Achievement::Table, Achievement::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Reward::Table, Reward::PayoutId)
                        .to(Payout::Table, Payout::Id),
                )
                .to_owned(),
        )
        .await?;
        for (name, cols, unique) in [
            (
                "ux_reward_achievement",
                vec![Reward::AchievementId, Reward::Position],
                true,
            ),
            (
                "ix_reward_status",
                vec![Reward::Status, Reward::ProgramId],
                false,
            ),
            (
                "ix_reward_merchant",
                vec![Reward::MerchantId, Reward::Id],
                false,
            ),
            (
                "ix_reward_subject",
                vec![Reward::SubjectType, Reward::SubjectId],
                false,
            ),
            ("ix_reward_payout", vec![Reward::PayoutId], false),
        ] {
            let mut index = Index::create();
            index.name(name).table(Reward::Table);
            for c in cols {
                index.col(c);
            }
            if unique {
                index.unique();
            }
            m.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Reward::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Payout::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Achievement {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Reward {
    Table,
    Id,
    AchievementId,
    Position,
    ProgramId,
    PeriodStart,
    PeriodEnd,
    SubjectType,
    SubjectId,
    MerchantId,
    Tier,
    Kind,
    Amount,
    RateBp,
    Status,
    CreatedAt,
    ConfirmedAt,
    PaidAt,
    PayoutId,
}

#[derive(DeriveIden)]
enum Payout {
    Table,
    Id,
    ProgramId,
    Status,
    Rewards,
    Total,
    CreatedBy,
    CreatedAt,
    PaidAt,
}
