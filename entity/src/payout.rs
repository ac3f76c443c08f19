use sea_orm::entity::prelude::*;

use crate::enums::PayoutStatus;

/// Confirmed rewards gathered for finance to pay.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payout")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The programme it is limited to, if any.
    pub program_id: Option<i64>,
    pub status: PayoutStatus,
    /// How many rewards it holds.
    pub rewards: i64,
    /// Their sum, fen.
    pub total: i64,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub paid_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
