//! The platform's health as the database records it: the outbox by kind and status, and the
//! job-run ledger by job and outcome. Read when `/metrics` is scraped, so every replica reports
//! the same figures and a restart loses none of them.

use chrono::{DateTime, Utc};
use entity::{
    email_outbox,
    enums::{EmailKind, EmailStatus, JobOutcome},
    job_run,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::runs::EVALUATE;

/// Outbox rows of one kind in one status.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct OutboxCount {
    pub kind: EmailKind,
    pub status: EmailStatus,
    pub rows: i64,
}

/// The runs of one job with one outcome, and the latest of them.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRuns {
    pub job: String,
    pub outcome: JobOutcome,
    pub runs: i64,
    /// How long the latest finished run of this job and outcome took.
    pub last_duration_seconds: Option<f64>,
    pub last_finished_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Health {
    pub outbox: Vec<OutboxCount>,
    /// When the oldest pending email was queued.
    pub oldest_pending_email_at: Option<DateTime<Utc>>,
    pub jobs: Vec<JobRuns>,
    /// When the latest evaluation that finished `ok` finished.
    pub last_successful_evaluation_at: Option<DateTime<Utc>>,
}

#[derive(FromQueryResult)]
struct JobGroup {
    job: String,
    outcome: JobOutcome,
    runs: i64,
    last_id: i64,
}

/// Reads the health figures: two grouped counts, the oldest pending email, and the latest run
/// of each (job, outcome).
pub async fn snapshot<C: ConnectionTrait>(db: &C) -> Result<Health, DbErr> {
    let outbox = email_outbox::Entity::find()
        .select_only()
        .column(email_outbox::Column::Kind)
        .column(email_outbox::Column::Status)
        .column_as(email_outbox::Column::Id.count(), "rows")
        .group_by(email_outbox::Column::Kind)
        .group_by(email_outbox::Column::Status)
        .order_by_asc(email_outbox::Column::Kind)
        .order_by_asc(email_outbox::Column::Status)
        .into_model::<OutboxCount>()
        .all(db)
        .await?;
    let oldest_pending_email_at = email_outbox::Entity::find()
        .filter(email_outbox::Column::Status.eq(EmailStatus::Pending))
        .order_by_asc(email_outbox::Column::Id)
        .one(db)
        .await?
        .map(|m| m.created_at);
    let groups = job_run::Entity::find()
        .select_only()
        .column(job_run::Column::Job)
        .column(job_run::Column::Outcome)
        .column_as(job_run::Column::Id.count(), "runs")
        .column_as(job_run::Column::Id.max(), "last_id")
        .group_by(job_run::Column::Job)
        .group_by(job_run::Column::Outcome)
        .order_by_asc(job_run::Column::Job)
        .order_by_asc(job_run::Column::Outcome)
        .into_model::<JobGroup>()
        .all(db)
        .await?;
    let latest = job_run::Entity::find()
        .filter(job_run::Column::Id.is_in(groups.iter().map(|g| g.last_id)))
        .all(db)
        .await?;
    let jobs: Vec<JobRuns> = groups
        .into_iter()
        .map(|g| {
            let last = latest.iter().find(|r| r.id == g.last_id);
            let finished = last.and_then(|r| r.finished_at.map(|f| (r.started_at, f)));
            JobRuns {
                job: g.job,
                outcome: g.outcome,
                runs: g.runs,
                last_duration_seconds: finished
                    .map(|(s, f)| (f - s).num_milliseconds() as f64 / 1000.0),
                last_finished_at: finished.map(|(_, f)| f),
            }
        })
        .collect();
    let last_successful_evaluation_at = jobs
        .iter()
        .find(|j| j.job == EVALUATE && j.outcome == JobOutcome::Ok)
        .and_then(|j| j.last_finished_at);
    Ok(Health {
        outbox,
        oldest_pending_email_at,
        jobs,
        last_successful_evaluation_at,
    })
}
