//! Products have names (a merchant's catalogue); the marketplace's own daily GMV is the
//! denominator of the structure shares; snapshots carry their local day for history and
//! retention; a merchant shows the reason of the decision that set its status.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Product::Table)
                .col(ColumnDef::new(Product::MerchantId).big_integer().not_null())
                .col(
                    ColumnDef::new(Product::ProductId)
                        .string_len(128)
                        .not_null(),
                )
                .col(ColumnDef::new(Product::Name).string_len(200).not_null())
                .col(ColumnDef::new(Product::Category).string_len(100).null())
                .col(
                    ColumnDef::new(Product::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Product::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(Product::MerchantId)
                        .col(Product::ProductId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Product::Table, Product::MerchantId)
                        .to(Merchant::Table, Merchant::Id),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PlatformGmv::Table)
                .col(
                    ColumnDef::new(PlatformGmv::Day)
                        .date()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(PlatformGmv::LiveStream)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(PlatformGmv::ShortVideo)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(PlatformGmv::Storefront)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(PlatformGmv::Other).big_integer().not_null())
                .col(ColumnDef::new(PlatformGmv::Total).big_integer().not_null())
                .col(
                    ColumnDef::new(PlatformGmv::UpdatedBy)
                        .string_len(100)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(PlatformGmv::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;

        m.alter_table(
            Table::alter()
                .table(Merchant::Table)
                .add_column(
                    ColumnDef::new(Merchant::StatusReason)
                        .string_len(2000)
                        .null(),
                )
                .to_owned(),
        )
        .await?;

        // The local day (in the programme's time zone) of the run's `as_of`. Rows written
        // before this column existed get the day of their evaluation in Asia/Shanghai.
        m.alter_table(
            Table::alter()
                .table(ProgressSnapshot::Table)
                .add_column(
                    ColumnDef::new(ProgressSnapshot::Day)
                        .date()
                        .not_null()
                        .default("1970-01-01"),
                )
                .to_owned(),
        )
        .await?;
        let backfill = match m.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                "UPDATE progress_snapshot SET day = (evaluated_at AT TIME ZONE 'Asia/Shanghai')::date"
            }
            _ => "UPDATE progress_snapshot SET day = date(evaluated_at, '+8 hours')",
        };
        m.get_connection().execute_unprepared(backfill).await?;
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
        m.create_index(
            Index::create()
                .name("ix_progress_snapshot_retention")
                .table(ProgressSnapshot::Table)
                .col(ProgressSnapshot::Day)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_progress_snapshot_retention", "ix_progress_snapshot_day"] {
            m.drop_index(
                Index::drop()
                    .name(name)
                    .table(ProgressSnapshot::Table)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(ProgressSnapshot::Table)
                .drop_column(ProgressSnapshot::Day)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Merchant::Table)
                .drop_column(Merchant::StatusReason)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(PlatformGmv::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Product::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
#[allow(clippy::enum_variant_names)]
enum Product {
    Table,
    MerchantId,
    ProductId,
    Name,
    Category,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PlatformGmv {
    Table,
    Day,
    LiveStream,
    ShortVideo,
    Storefront,
    Other,
    Total,
    UpdatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Merchant {
    Table,
    Id,
    StatusReason,
}

#[derive(DeriveIden)]
enum ProgressSnapshot {
    Table,
    ProgramId,
    PeriodStart,
    SubjectId,
    Day,
    Id,
}
