use sea_orm::entity::prelude::*;

use crate::enums::ProgressStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "progress_snapshot")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub run_id: i64,
    pub program_id: i64,
    pub period_start: Date,
    pub subject_id: String,
    pub value: i64,
    pub tier_index: i32,
    pub projected: i64,
    pub status: ProgressStatus,
    pub evaluated_at: DateTimeUtc,
    /// The local day (programme time zone) of the run's `as_of`.
    pub day: Date,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
