use sea_orm::entity::prelude::*;

use crate::enums::{RewardKind, RewardStatus, Subject};

/// One reward a tier earned, from achievement to payout.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reward")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub achievement_id: i64,
    /// Position of the reward in its tier's list.
    pub position: i32,
    pub program_id: i64,
    pub period_start: Date,
    pub period_end: Date,
    pub subject_type: Subject,
    pub subject_id: String,
    /// The merchant of a merchant or product subject.
    pub merchant_id: Option<i64>,
    pub tier: String,
    pub kind: RewardKind,
    /// Fen: set at creation for a fixed reward, at confirmation for a rebate.
    pub amount: Option<i64>,
    pub rate_bp: Option<i32>,
    pub status: RewardStatus,
    pub created_at: DateTimeUtc,
    pub confirmed_at: Option<DateTimeUtc>,
    pub paid_at: Option<DateTimeUtc>,
    pub payout_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
