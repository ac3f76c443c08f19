use sea_orm::entity::prelude::*;

use crate::enums::Channel;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gmv_record")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub external_id: String,
    pub occurred_at: DateTimeUtc,
    /// The calendar day of `occurred_at` in Asia/Shanghai.
    pub local_day: Date,
    /// Minor units (fen); negative for refunds and corrections.
    pub amount: i64,
    pub currency: String,
    pub channel: Channel,
    pub product_id: Option<String>,
    pub creator_id: Option<String>,
    pub corrects: Option<String>,
    /// SHA-256 of the canonical record body, to tell a replay from a conflicting reuse of the id.
    pub body_hash: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
