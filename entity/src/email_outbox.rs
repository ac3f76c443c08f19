use sea_orm::entity::prelude::*;

use crate::enums::{EmailKind, EmailStatus, Locale};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: EmailKind,
    pub merchant_id: Option<i64>,
    pub recipient: String,
    pub locale: Locale,
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub text_body: String,
    #[sea_orm(column_type = "Text")]
    pub html_body: String,
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub message_id: String,
    pub status: EmailStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub claimed_until: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    /// Inline images as JSON `[{"cid": …, "png": <base64>}]`; none for most kinds.
    #[sea_orm(column_type = "Text", nullable)]
    pub inline_images: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
