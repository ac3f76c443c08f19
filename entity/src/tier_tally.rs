use sea_orm::entity::prelude::*;

use crate::enums::ProgressStatus;

/// A programme's subjects per tier index and status in one period at the end of one evaluated day, as
/// the day's last evaluation left them.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tier_tally")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub program_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub period_start: Date,
    /// The local day (programme time zone) of the run's `as_of`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    /// Index of the tier reached, -1 for none.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tier_index: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub status: ProgressStatus,
    pub subjects: i64,
    /// Of them, those whose projection reaches the top tier's threshold.
    pub projected_top: i64,
    pub run_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
