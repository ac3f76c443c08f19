use sea_orm::entity::prelude::*;

use crate::enums::{JobOutcome, Trigger};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_run")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub job: String,
    pub scheduled_at: DateTimeUtc,
    pub as_of: DateTimeUtc,
    pub replica: String,
    pub trigger: Trigger,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub outcome: JobOutcome,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub subjects_evaluated: i64,
    pub achievements_recorded: i64,
    pub achievements_revoked: i64,
    pub emails_queued: i64,
    /// Digest runs: the recipients the digest was for.
    pub recipients: i64,
    /// Digest runs: recipients whose email for the period was already queued.
    pub duplicates: i64,
    /// While `running`: the run's process renews this; past it, the process is gone.
    pub lease_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
