use sea_orm::entity::prelude::*;

use crate::enums::Subject;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "achievement")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub program_id: i64,
    pub period_start: Date,
    pub subject_type: Subject,
    pub subject_id: String,
    pub merchant_id: Option<i64>,
    pub tier: String,
    pub threshold: i64,
    pub value: i64,
    pub achieved_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub run_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
