//! Creators (达人) have identities: the marketplace's creator account id, a nickname and an
//! optional contact address; a creator key reads only its own creator.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Creator::Table)
                .col(
                    ColumnDef::new(Creator::Id)
                        .string_len(128)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Creator::Nickname).string_len(100).not_null())
                .col(ColumnDef::new(Creator::Category).string_len(100).null())
                .col(ColumnDef::new(Creator::ContactEmail).string_len(254).null())
                .col(
                    ColumnDef::new(Creator::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Creator::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CreatorKey::Table)
                .col(
                    ColumnDef::new(CreatorKey::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(CreatorKey::CreatorId)
                        .string_len(128)
                        .not_null(),
                )
                .col(ColumnDef::new(CreatorKey::Prefix).string_len(16).not_null())
                .col(
                    ColumnDef::new(CreatorKey::Hash)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(CreatorKey::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(CreatorKey::RevokedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(CreatorKey::Table, CreatorKey::CreatorId)
                        .to(Creator::Table, Creator::Id),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CreatorKey::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Creator::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Creator {
    Table,
    Id,
    Nickname,
    Category,
    ContactEmail,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CreatorKey {
    Table,
    Id,
    CreatorId,
    Prefix,
    Hash,
    CreatedAt,
    RevokedAt,
}
