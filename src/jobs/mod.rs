//! Scheduled work. tokio-cron-scheduler fires on every replica; each tick first claims a
//! `job_run` row keyed by (job, scheduled time) — `INSERT … ON CONFLICT DO NOTHING` — and only
//! the replica whose insert went through runs the work. Jobs are plain async functions; the
//! scheduler only calls them, and the CLI, the API and the tests call them directly.

pub mod digest;
pub mod evaluate;

use std::{future::Future, pin::Pin, sync::Arc};

use anyhow::Context;
use chrono::{DateTime, Duration, Timelike, Utc};
use entity::job_run;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    sea_query::OnConflict,
};
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::{app::AppState, config::Schedule, mail::digests::DigestKind};

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

/// The scheduled instant of the tick firing at `now`: the occurrence of `schedule` at or just
/// before it (with half a second of slack for a timer firing early), so every replica
/// computes the same key.
pub fn tick_time(schedule: &Schedule, now: DateTime<Utc>) -> DateTime<Utc> {
    let slack = now + Duration::milliseconds(500);
    let whole = slack.with_nanosecond(0).unwrap_or(slack);
    let local = whole.with_timezone(&chrono_tz::Asia::Shanghai);
    schedule
        .cron
        .find_previous_occurrence(&local, true)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now)
}

/// A job body: called with the state and the tick's scheduled instant.
pub type JobFn =
    Arc<dyn Fn(AppState, DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Adds `run` to `sched` on `schedule` (evaluated in Asia/Shanghai).
pub async fn register(
    sched: &JobScheduler,
    state: &AppState,
    name: &'static str,
    schedule: &Schedule,
    run: JobFn,
) -> anyhow::Result<()> {
    let state = state.clone();
    let tick_schedule = schedule.clone();
    let job = Job::new_async_tz(
        schedule.expr.as_str(),
        chrono_tz::Asia::Shanghai,
        move |_id, _lock| {
            let state = state.clone();
            let run = run.clone();
            let at = tick_time(&tick_schedule, Utc::now());
            Box::pin(async move {
                tracing::debug!(job = name, scheduled_at = %at, "tick");
                run(state, at).await;
            })
        },
    )
    .with_context(|| format!("scheduling {name} on {:?}", schedule.expr))?;
    sched
        .add(job)
        .await
        .with_context(|| format!("adding the {name} job"))?;
    Ok(())
}

/// Starts the scheduler with every job. Keep the handle alive; call `shutdown` on exit.
pub async fn start_scheduler(state: &AppState) -> anyhow::Result<JobScheduler> {
    let sched = JobScheduler::new()
        .await
        .context("creating the job scheduler")?;
    register(
        &sched,
        state,
        evaluate::JOB,
        &state.config.schedule_evaluate,
        Arc::new(|state, at| Box::pin(evaluate::tick(state, at))),
    )
    .await?;
    register(
        &sched,
        state,
        DigestKind::MerchantWeekly.as_str(),
        &state.config.schedule_merchant_weekly,
        Arc::new(|state, at| Box::pin(digest::tick(state, DigestKind::MerchantWeekly, at))),
    )
    .await?;
    register(
        &sched,
        state,
        DigestKind::StaffDaily.as_str(),
        &state.config.schedule_staff_daily,
        Arc::new(|state, at| Box::pin(digest::tick(state, DigestKind::StaffDaily, at))),
    )
    .await?;
    sched.start().await.context("starting the job scheduler")?;
    tracing::info!(replica = %state.config.replica, "scheduler started");
    Ok(sched)
}
