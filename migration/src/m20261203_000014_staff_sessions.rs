//! Dashboard sessions: a staff member signs in with a staff token once and the browser holds a
//! session cookie. Only the hashes of the cookie value and of the token are stored; every
//! request re-checks the token, so revoking it ends its sessions.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(StaffSession::Table)
                .col(
                    ColumnDef::new(StaffSession::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(StaffSession::SessionHash)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(StaffSession::TokenHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(ColumnDef::new(StaffSession::Csrf).string_len(80).not_null())
                .col(
                    ColumnDef::new(StaffSession::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(StaffSession::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_staff_session_expires")
                .table(StaffSession::Table)
                .col(StaffSession::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(StaffSession::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum StaffSession {
    Table,
    Id,
    SessionHash,
    TokenHash,
    Csrf,
    CreatedAt,
    ExpiresAt,
}
