//! The GMV structure kept ahead of time. `gmv_segment_day` holds the approved merchants' GMV
//! per local day, split (whole, or by industry belt, province or category), group, merchant
//! kind and channel (and the same per calendar month in `gmv_segment_month`); `gmv_segment_delta` holds signed changes not yet folded into it. Reading
//! the structure of a year is then a few thousand rows instead of every merchant's roll-ups.
//! Existing roll-ups are folded in here.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(GmvSegmentDay::Table)
                .col(ColumnDef::new(Seg::Split).string_len(16).not_null())
                .col(ColumnDef::new(Seg::Day).date().not_null())
                .col(ColumnDef::new(Seg::Grp).string_len(100).not_null())
                .col(ColumnDef::new(Seg::Kind).string_len(16).not_null())
                .col(ColumnDef::new(Seg::Channel).string_len(16).not_null())
                .col(ColumnDef::new(Seg::Amount).big_integer().not_null())
                .col(ColumnDef::new(Seg::Records).big_integer().not_null())
                .primary_key(
                    Index::create()
                        .col(Seg::Split)
                        .col(Seg::Day)
                        .col(Seg::Grp)
                        .col(Seg::Kind)
                        .col(Seg::Channel),
                )
                .to_owned(),
        )
        .await?;
        // The same by calendar month (`month` is its first day), so a year reads twelve rows
        // a group.
        m.create_table(
            Table::create()
                .table(GmvSegmentMonth::Table)
                .col(ColumnDef::new(Seg::Split).string_len(16).not_null())
                .col(ColumnDef::new(Seg::MonthStart).date().not_null())
                .col(ColumnDef::new(Seg::Grp).string_len(100).not_null())
                .col(ColumnDef::new(Seg::Kind).string_len(16).not_null())
                .col(ColumnDef::new(Seg::Channel).string_len(16).not_null())
                .col(ColumnDef::new(Seg::Amount).big_integer().not_null())
                .col(ColumnDef::new(Seg::Records).big_integer().not_null())
                .primary_key(
                    Index::create()
                        .col(Seg::Split)
                        .col(Seg::MonthStart)
                        .col(Seg::Grp)
                        .col(Seg::Kind)
                        .col(Seg::Channel),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(GmvSegmentDelta::Table)
                .col(
                    ColumnDef::new(Seg::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Seg::Split).string_len(16).not_null())
                .col(ColumnDef::new(Seg::Day).date().not_null())
                .col(ColumnDef::new(Seg::Grp).string_len(100).not_null())
                .col(ColumnDef::new(Seg::Kind).string_len(16).not_null())
                .col(ColumnDef::new(Seg::Channel).string_len(16).not_null())
                .col(ColumnDef::new(Seg::Amount).big_integer().not_null())
                .col(ColumnDef::new(Seg::Records).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_gmv_segment_delta_split_day")
                .table(GmvSegmentDelta::Table)
                .col(Seg::Split)
                .col(Seg::Day)
                .to_owned(),
        )
        .await?;
        let mut parts = Vec::new();
        for (split, grp) in [
            ("whole", "''"),
            ("industry_belt", "COALESCE(m.industry_belt, '')"),
            ("province", "m.province"),
            ("category", "m.category"),
        ] {
            // A constant is no grouping column on PostgreSQL.
            let by = if split == "whole" {
                String::new()
            } else {
                format!(", {grp}")
            };
            parts.push(format!(
                "SELECT '{split}', g.day, {grp}, m.kind, g.channel, SUM(g.amount), SUM(g.records) \
                 FROM gmv_daily_merchant g JOIN merchant m ON m.id = g.merchant_id \
                 WHERE m.status = 'approved' GROUP BY g.day, m.kind, g.channel{by}"
            ));
        }
        m.get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO gmv_segment_day (split, day, grp, kind, channel, amount, records) {}",
                parts.join(" UNION ALL ")
            ))
            .await?;
        let month = match m.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => "CAST(date_trunc('MONTH', day) AS DATE)",
            _ => "date(day, 'start of month')",
        };
        m.get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO gmv_segment_month (split, month_start, grp, kind, channel, amount, records) \
                 SELECT split, {month}, grp, kind, channel, SUM(amount), SUM(records) \
                 FROM gmv_segment_day GROUP BY split, {month}, grp, kind, channel"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(GmvSegmentDelta::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(GmvSegmentMonth::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(GmvSegmentDay::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum GmvSegmentDay {
    Table,
}

#[derive(DeriveIden)]
enum GmvSegmentMonth {
    Table,
}

#[derive(DeriveIden)]
enum GmvSegmentDelta {
    Table,
}

#[derive(DeriveIden)]
enum Seg {
    Id,
    Split,
    Day,
    MonthStart,
    Grp,
    Kind,
    Channel,
    Amount,
    Records,
}
