//! GMV records and their daily roll-ups (merchant × day × channel; product and creator too).
//! Roll-ups are written in the same transaction as the records, so evaluation never scans raw rows.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(GmvRecord::Table)
                .col(big_pk_auto(GmvRecord::Id))
                .col(big_integer(GmvRecord::MerchantId))
                .col(string_len(GmvRecord::ExternalId, 128))
                .col(timestamp_with_time_zone(GmvRecord::OccurredAt))
                .col(date(GmvRecord::LocalDay))
                .col(big_integer(GmvRecord::Amount))
                .col(string_len(GmvRecord::Currency, 3))
                .col(string_len(GmvRecord::Channel, 16))
                .col(string_len_null(GmvRecord::ProductId, 128))
                .col(string_len_null(GmvRecord::CreatorId, 128))
                .col(string_len_null(GmvRecord::Corrects, 128))
                .col(string_len(GmvRecord::BodyHash, 64))
                .col(timestamp_with_time_zone(GmvRecord::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_gmv_record_external")
                .table(GmvRecord::Table)
                .col(GmvRecord::MerchantId)
                .col(GmvRecord::ExternalId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_gmv_record_merchant_time")
                .table(GmvRecord::Table)
                .col(GmvRecord::MerchantId)
                .col(GmvRecord::OccurredAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(GmvDailyMerchant::Table)
                .col(big_integer(GmvDailyMerchant::MerchantId))
                .col(date(GmvDailyMerchant::Day))
                .col(string_len(GmvDailyMerchant::Channel, 16))
                .col(big_integer(GmvDailyMerchant::Amount))
                .col(big_integer(GmvDailyMerchant::Records))
                .primary_key(
                    Index::create()
                        .col(GmvDailyMerchant::MerchantId)
                        .col(GmvDailyMerchant::Day)
                        .col(GmvDailyMerchant::Channel),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_gmv_daily_merchant_day")
                .table(GmvDailyMerchant::Table)
                .col(GmvDailyMerchant::Day)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(GmvDailyProduct::Table)
                .col(big_integer(GmvDailyProduct::MerchantId))
                .col(string_len(GmvDailyProduct::ProductId, 128))
                .col(date(GmvDailyProduct::Day))
                .col(string_len(GmvDailyProduct::Channel, 16))
                .col(big_integer(GmvDailyProduct::Amount))
                .col(big_integer(GmvDailyProduct::Records))
                .primary_key(
                    Index::create()
                        .col(GmvDailyProduct::MerchantId)
                        .col(GmvDailyProduct::ProductId)
                        .col(GmvDailyProduct::Day)
                        .col(GmvDailyProduct::Channel),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_gmv_daily_product_day")
                .table(GmvDailyProduct::Table)
                .col(GmvDailyProduct::Day)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(GmvDailyCreator::Table)
                .col(string_len(GmvDailyCreator::CreatorId, 128))
                .col(big_integer(GmvDailyCreator::MerchantId))
                .col(date(GmvDailyCreator::Day))
                .col(string_len(GmvDailyCreator::Channel, 16))
                .col(big_integer(GmvDailyCreator::Amount))
                .col(big_integer(GmvDailyCreator::Records))
                .primary_key(
                    Index::create()
                        .col(GmvDailyCreator::CreatorId)
                        .col(GmvDailyCreator::MerchantId)
                        .col(GmvDailyCreator::Day)
                        .col(GmvDailyCreator::Channel),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_gmv_daily_creator_day")
                .table(GmvDailyCreator::Table)
                .col(GmvDailyCreator::Day)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            GmvDailyCreator::Table.into_iden(),
            GmvDailyProduct::Table.into_iden(),
            GmvDailyMerchant::Table.into_iden(),
            GmvRecord::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum GmvRecord {
    Table,
    Id,
    MerchantId,
    ExternalId,
    OccurredAt,
    LocalDay,
    Amount,
    Currency,
    Channel,
    ProductId,
    CreatorId,
    Corrects,
    BodyHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum GmvDailyMerchant {
    Table,
    MerchantId,
    Day,
    Channel,
    Amount,
    Records,
}

#[derive(DeriveIden)]
enum GmvDailyProduct {
    Table,
    MerchantId,
    ProductId,
    Day,
    Channel,
    Amount,
    Records,
}

#[derive(DeriveIden)]
enum GmvDailyCreator {
    Table,
    CreatorId,
    MerchantId,
    Day,
    Channel,
    Amount,
    Records,
}
