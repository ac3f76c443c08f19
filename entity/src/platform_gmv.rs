use sea_orm::entity::prelude::*;

/// The marketplace's total GMV of one local day, by channel, in fen (from its warehouse).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "platform_gmv")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    pub live_stream: i64,
    pub short_video: i64,
    pub storefront: i64,
    pub other: i64,
    /// The sum of the four channels.
    pub total: i64,
    pub updated_by: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
