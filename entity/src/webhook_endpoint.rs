use sea_orm::entity::prelude::*;

use crate::enums::WebhookEndpointStatus;

/// A receiver of signed events: a merchant's own, or platform-wide when `merchant_id` is null.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoint")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: Option<i64>,
    pub url: String,
    /// The event types it receives, comma-separated.
    #[sea_orm(column_type = "Text")]
    pub events: String,
    /// The signing secret, encrypted.
    #[sea_orm(column_type = "Text")]
    pub secret: String,
    /// The secret before the last rotation, encrypted; signs too until `previous_secret_until`.
    #[sea_orm(column_type = "Text", nullable)]
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTimeUtc>,
    pub status: WebhookEndpointStatus,
    /// The first failure of the current run of failures; cleared by a success.
    pub failing_since: Option<DateTimeUtc>,
    pub disabled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
