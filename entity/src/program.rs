use sea_orm::entity::prelude::*;

use crate::enums::{Channel, Metric, PeriodKind, Subject};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "program")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub subject: Subject,
    /// Comma-separated merchant kinds taking part (brand, industry_belt).
    pub merchant_kinds: String,
    pub metric: Metric,
    pub channel: Option<Channel>,
    pub period: PeriodKind,
    /// IANA time zone of the calendar periods.
    pub time_zone: String,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
    /// JSON array of {name, threshold}, ascending.
    #[sea_orm(column_type = "Text")]
    pub tiers: String,
    pub goal: i64,
    pub active: bool,
    #[sea_orm(unique)]
    pub seed_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
