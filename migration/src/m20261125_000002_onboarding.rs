//! Merchants, their API keys and the audit trail of review decisions.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Merchant::Table)
                .col(big_pk_auto(Merchant::Id))
                .col(string_len(Merchant::Kind, 16))
                .col(string_len(Merchant::Status, 24))
                .col(string_len(Merchant::LegalName, 200))
                .col(string_len(Merchant::DisplayName, 100))
                .col(string_len_uniq(Merchant::Uscc, 18))
                .col(string_len(Merchant::ContactEmail, 254))
                .col(string_len(Merchant::Province, 50))
                .col(string_len(Merchant::City, 50))
                .col(string_len(Merchant::Category, 100))
                .col(string_len_null(Merchant::BrandName, 100))
                .col(string_len_null(Merchant::TrademarkNumber, 32))
                .col(string_len_null(Merchant::IndustryBelt, 100))
                .col(boolean(Merchant::WeeklyReport).default(true))
                .col(string_len(Merchant::Locale, 8).default("zh-CN"))
                .col(timestamp_with_time_zone_null(Merchant::LastGmvAt))
                .col(timestamp_with_time_zone(Merchant::CreatedAt))
                .col(timestamp_with_time_zone(Merchant::UpdatedAt))
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("ix_merchant_status", Merchant::Status),
            ("ix_merchant_kind", Merchant::Kind),
            ("ix_merchant_industry_belt", Merchant::IndustryBelt),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(Merchant::Table)
                    .col(col)
                    .to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table(ApiKey::Table)
                .col(big_pk_auto(ApiKey::Id))
                .col(big_integer(ApiKey::MerchantId))
                .col(string_len(ApiKey::Prefix, 16))
                .col(string_len_uniq(ApiKey::KeyHash, 64))
                .col(timestamp_with_time_zone(ApiKey::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiKey::LastUsedAt))
                .col(timestamp_with_time_zone_null(ApiKey::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiKey::Table, ApiKey::MerchantId)
                        .to(Merchant::Table, Merchant::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_api_key_merchant")
                .table(ApiKey::Table)
                .col(ApiKey::MerchantId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(MerchantDecision::Table)
                .col(big_pk_auto(MerchantDecision::Id))
                .col(big_integer(MerchantDecision::MerchantId))
                .col(string_len(MerchantDecision::Actor, 120))
                .col(string_len(MerchantDecision::Action, 24))
                .col(text(MerchantDecision::Reason))
                .col(string_len(MerchantDecision::FromStatus, 24))
                .col(string_len(MerchantDecision::ToStatus, 24))
                .col(timestamp_with_time_zone(MerchantDecision::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(MerchantDecision::Table, MerchantDecision::MerchantId)
                        .to(Merchant::Table, Merchant::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_merchant_decision_merchant")
                .table(MerchantDecision::Table)
                .col(MerchantDecision::MerchantId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            MerchantDecision::Table.into_iden(),
            ApiKey::Table.into_iden(),
            Merchant::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub(crate) enum Merchant {
    Table,
    Id,
    Kind,
    Status,
    LegalName,
    DisplayName,
    Uscc,
    ContactEmail,
    Province,
    City,
    Category,
    BrandName,
    TrademarkNumber,
    IndustryBelt,
    WeeklyReport,
    Locale,
    LastGmvAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiKey {
    Table,
    Id,
    MerchantId,
    Prefix,
    KeyHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum MerchantDecision {
    Table,
    Id,
    MerchantId,
    Actor,
    Action,
    Reason,
    FromStatus,
    ToStatus,
    CreatedAt,
}
