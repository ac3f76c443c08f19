use sea_orm::entity::prelude::*;

use crate::enums::WebhookEventType;

/// One event, written in the same transaction as the change that caused it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `webhook-id` every delivery of it carries (`msg_…`).
    #[sea_orm(unique)]
    pub message_id: String,
    pub kind: WebhookEventType,
    /// The merchant it concerns, whose own endpoints receive it; platform endpoints get all.
    pub merchant_id: Option<i64>,
    /// One event per key, ever.
    #[sea_orm(unique)]
    pub dedupe_key: String,
    /// The exact body sent: `{"type", "timestamp", "data"}`.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
