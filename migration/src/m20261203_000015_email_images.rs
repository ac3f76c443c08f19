//! Emails may carry charts as inline images (`cid:`): the outbox row keeps them with the rest
//! of the message, so what is sent is exactly what was queued.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(EmailOutbox::Table)
                .add_column(ColumnDef::new(EmailOutbox::InlineImages).text().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(EmailOutbox::Table)
                .drop_column(EmailOutbox::InlineImages)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    InlineImages,
}
