//! The ledger of job runs: every evaluation and digest run is a `job_run` row. A scheduled tick
//! is claimed by inserting its row keyed by (job, scheduled time) — `INSERT … ON CONFLICT DO
//! NOTHING` — so only the replica whose insert went through runs the work.

use chrono::{DateTime, Utc};
use entity::job_run;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    sea_query::OnConflict,
};

/// The `job` of evaluation runs.
pub const EVALUATE: &str = "evaluate";

pub use entity::enums::{JobOutcome, Trigger};

/// What a finished run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub subjects_evaluated: i64,
    pub achievements_recorded: i64,
    pub achievements_revoked: i64,
    pub emails_queued: i64,
}

/// Claims the tick `(job, scheduled_at)`: the row when this caller inserted it (and so must run
/// the work), `None` when another replica already has it.
pub async fn claim_tick<C: ConnectionTrait>(
    db: &C,
    job: &str,
    scheduled_at: DateTime<Utc>,
    as_of: DateTime<Utc>,
    replica: &str,
    trigger: Trigger,
) -> Result<Option<job_run::Model>, DbErr> {
    let now = Utc::now();
    let row = job_run::ActiveModel {
        job: Set(job.to_string()),
        scheduled_at: Set(scheduled_at),
        as_of: Set(as_of),
        replica: Set(replica.to_string()),
        trigger: Set(trigger),
        started_at: Set(now),
        finished_at: Set(None),
        outcome: Set(JobOutcome::Running),
        error: Set(None),
        subjects_evaluated: Set(0),
        achievements_recorded: Set(0),
        achievements_revoked: Set(0),
        emails_queued: Set(0),
        ..Default::default()
    };
    let inserted = job_run::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([job_run::Column::Job, job_run::Column::ScheduledAt])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted == 0 {
        return Ok(None);
    }
    job_run::Entity::find()
        .filter(job_run::Column::Job.eq(job))
        .filter(job_run::Column::ScheduledAt.eq(scheduled_at))
        .one(db)
        .await
}

/// Records the outcome of a claimed run: `ok` with its counts, or `failed` with the error.
pub async fn finish<C: ConnectionTrait>(
    db: &C,
    run: job_run::Model,
    result: &anyhow::Result<Counts>,
) -> Result<job_run::Model, DbErr> {
    let mut row: job_run::ActiveModel = run.into();
    row.finished_at = Set(Some(Utc::now()));
    match result {
        Ok(c) => {
            row.outcome = Set(JobOutcome::Ok);
            row.subjects_evaluated = Set(c.subjects_evaluated);
            row.achievements_recorded = Set(c.achievements_recorded);
            row.achievements_revoked = Set(c.achievements_revoked);
            row.emails_queued = Set(c.emails_queued);
        }
        Err(e) => {
            row.outcome = Set(JobOutcome::Failed);
            row.error = Set(Some(format!("{e:#}")));
        }
    }
    row.update(db).await
}
