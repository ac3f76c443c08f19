use sea_orm::entity::prelude::*;

/// A creator key: reads only its own creator. Stored as a SHA-256 hash.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "creator_key")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub creator_id: String,
    pub prefix: String,
    #[sea_orm(unique)]
    pub hash: String,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
