use sea_orm::entity::prelude::*;

use crate::enums::{Locale, MerchantKind, MerchantStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchant")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: MerchantKind,
    pub status: MerchantStatus,
    /// The reason of the decision that set `status` (empty or none when none was given).
    pub status_reason: Option<String>,
    pub legal_name: String,
    pub display_name: String,
    #[sea_orm(unique)]
    pub uscc: String,
    pub contact_email: String,
    pub province: String,
    pub city: String,
    pub category: String,
    pub brand_name: Option<String>,
    pub trademark_number: Option<String>,
    pub industry_belt: Option<String>,
    pub weekly_report: bool,
    pub locale: Locale,
    pub notify_near_tier: bool,
    pub notify_at_risk: bool,
    /// The `last_gmv_at` of the stale spell a `gmv.stale` event was emitted for.
    pub stale_notified_for: Option<DateTimeUtc>,
    pub last_gmv_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::api_key::Entity")]
    ApiKey,
    #[sea_orm(has_many = "super::merchant_decision::Entity")]
    MerchantDecision,
}

impl Related<super::api_key::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ApiKey.def()
    }
}

impl Related<super::merchant_decision::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MerchantDecision.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
