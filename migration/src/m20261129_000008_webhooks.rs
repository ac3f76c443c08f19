//! Signed webhooks: endpoints (a merchant's own, or platform-wide when `merchant_id` is null),
//! events written in the same transaction as the change that causes them, and one delivery row
//! per (event, endpoint) that the dispatcher claims like the email outbox. Merchants also choose
//! whether a near-tier or an at-risk change reaches them by email.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Merchant::NotifyNearTier, Merchant::NotifyAtRisk] {
            m.alter_table(
                Table::alter()
                    .table(Merchant::Table)
                    .add_column(ColumnDef::new(column).boolean().not_null().default(true))
                    .to_owned(),
            )
            .await?;
        }
        // The `last_gmv_at` of the stale spell `gmv.stale` was last emitted for.
        m.alter_table(
            Table::alter()
                .table(Merchant::Table)
                .add_column(
                    ColumnDef::new(Merchant::StaleNotifiedFor)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ServerKey::Table)
                .col(
                    ColumnDef::new(ServerKey::Name)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(ServerKey::Value).string_len(128).not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookEndpoint::Table)
                .col(
                    ColumnDef::new(WebhookEndpoint::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(WebhookEndpoint::MerchantId)
                        .big_integer()
                        .null(),
                )
                .col(
                    ColumnDef::new(WebhookEndpoint::Url)
                        .string_len(2048)
                        .not_null(),
                )
                .col(ColumnDef::new(WebhookEndpoint::Events).text().not_null())
                .col(ColumnDef::new(WebhookEndpoint::Secret).text().not_null())
                .col(
                    ColumnDef::new(WebhookEndpoint::PreviousSecret)
                        .text()
                        .null(),
                )
                .col(
                    ColumnDef::new(WebhookEndpoint::PreviousSecretUntil)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(WebhookEndpoint::Status)
                        .string_len(16)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookEndpoint::FailingSince)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(WebhookEndpoint::DisabledAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(WebhookEndpoint::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(WebhookEndpoint::Table, WebhookEndpoint::MerchantId)
                        .to(Merchant::Table, Merchant::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_endpoint_merchant")
                .table(WebhookEndpoint::Table)
                .col(WebhookEndpoint::MerchantId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookEvent::Table)
                .col(
                    ColumnDef::new(WebhookEvent::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(WebhookEvent::MessageId)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(WebhookEvent::Kind).string_len(32).not_null())
                .col(
                    ColumnDef::new(WebhookEvent::MerchantId)
                        .big_integer()
                        .null(),
                )
                .col(
                    ColumnDef::new(WebhookEvent::DedupeKey)
                        .string_len(255)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(WebhookEvent::Payload).text().not_null())
                .col(
                    ColumnDef::new(WebhookEvent::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookDelivery::Table)
                .col(
                    ColumnDef::new(WebhookDelivery::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(WebhookDelivery::EventId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookDelivery::EndpointId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookDelivery::Status)
                        .string_len(16)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookDelivery::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(WebhookDelivery::NextAttemptAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookDelivery::ClaimedUntil)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(WebhookDelivery::ResponseStatus)
                        .integer()
                        .null(),
                )
                .col(ColumnDef::new(WebhookDelivery::ResponseBody).text().null())
                .col(ColumnDef::new(WebhookDelivery::LastError).text().null())
                .col(
                    ColumnDef::new(WebhookDelivery::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookDelivery::DeliveredAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(WebhookDelivery::Table, WebhookDelivery::EventId)
                        .to(WebhookEvent::Table, WebhookEvent::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(WebhookDelivery::Table, WebhookDelivery::EndpointId)
                        .to(WebhookEndpoint::Table, WebhookEndpoint::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_webhook_delivery_event_endpoint")
                .table(WebhookDelivery::Table)
                .col(WebhookDelivery::EventId)
                .col(WebhookDelivery::EndpointId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_delivery_due")
                .table(WebhookDelivery::Table)
                .col(WebhookDelivery::Status)
                .col(WebhookDelivery::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_delivery_endpoint")
                .table(WebhookDelivery::Table)
                .col(WebhookDelivery::EndpointId)
                .col(WebhookDelivery::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            WebhookDelivery::Table.into_iden(),
            WebhookEvent::Table.into_iden(),
            WebhookEndpoint::Table.into_iden(),
            ServerKey::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        for column in [
            Merchant::NotifyNearTier,
            Merchant::NotifyAtRisk,
            Merchant::StaleNotifiedFor,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Merchant::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Merchant {
    Table,
    Id,
    NotifyNearTier,
    NotifyAtRisk,
    StaleNotifiedFor,
}

#[derive(DeriveIden)]
enum ServerKey {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum WebhookEndpoint {
    Table,
    Id,
    MerchantId,
    Url,
    Events,
    Secret,
    PreviousSecret,
    PreviousSecretUntil,
    Status,
    FailingSince,
    DisabledAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookEvent {
    Table,
    Id,
    MessageId,
    Kind,
    MerchantId,
    DedupeKey,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDelivery {
    Table,
    Id,
    EventId,
    EndpointId,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    ResponseStatus,
    ResponseBody,
    LastError,
    CreatedAt,
    DeliveredAt,
}
