use sea_orm::entity::prelude::*;

use crate::enums::{ProgressStatus, Subject};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "progress")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub program_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub period_start: Date,
    /// Last day of the period (inclusive).
    pub period_end: Date,
    pub subject_type: Subject,
    /// The merchant the subject belongs to (merchants and products); none for creators.
    pub merchant_id: Option<i64>,
    pub value: i64,
    /// Index of the tier reached, -1 for none.
    pub tier_index: i32,
    pub tier: Option<String>,
    pub next_tier: Option<String>,
    pub next_threshold: Option<i64>,
    pub remaining: i64,
    pub projected: i64,
    pub status: ProgressStatus,
    pub evaluated_at: DateTimeUtc,
    pub run_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
