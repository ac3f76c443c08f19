//! Scheduled work. tokio-cron-scheduler fires on every replica; each tick first claims a
//! `job_run` row keyed by (job, scheduled time) — `INSERT … ON CONFLICT DO NOTHING` — and only
//! the replica whose insert went through runs the work. Jobs are plain async functions; the
//! scheduler only calls them, and the CLI, the API and the tests call them directly.

pub mod context;
pub mod digest;
pub mod evaluate;
pub mod partitions;

pub use context::JobContext;

use std::{future::Future, pin::Pin, sync::Arc};

use anyhow::Context;
use chrono::{DateTime, Duration, Timelike, Utc};
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::{config::Schedule, mail::digests::DigestKind};

pub use crate::services::runs::{Counts, JobOutcome, Trigger, claim_tick, finish};

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

/// A job body: called with the state and the tick's scheduled instant. It answers `false`
/// when the database could not be reached, so the tick is tried again.
pub type JobFn = Arc<
    dyn Fn(JobContext, DateTime<Utc>) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync,
>;

/// How long a tick waits before trying again while the database is down.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);

/// Adds `run` to `sched` on `schedule` (evaluated in Asia/Shanghai).
pub async fn register(
    sched: &JobScheduler,
    state: &JobContext,
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
            // A tick that could not reach the database is tried again until the next one is
            // due: it runs once when the database is back (its claim is keyed by the tick, so
            // every replica trying again still runs it once), and never piles up behind a
            // longer outage.
            let next = tick_schedule
                .cron
                .find_next_occurrence(&at.with_timezone(&chrono_tz::Asia::Shanghai), false)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(at + Duration::minutes(15));
            Box::pin(async move {
                tracing::debug!(job = name, scheduled_at = %at, "tick");
                while !run(state.clone(), at).await {
                    if Utc::now() + Duration::from_std(RETRY_PAUSE).unwrap_or_default() >= next {
                        tracing::warn!(job = name, scheduled_at = %at, "the database stayed unreachable until the next tick; this one is skipped");
                        break;
                    }
                    tracing::warn!(job = name, scheduled_at = %at, "the database is unreachable; the tick tries again");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
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
pub async fn start_scheduler(state: &JobContext) -> anyhow::Result<JobScheduler> {
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
    // Only PostgreSQL partitions the GMV tables.
    if state.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        register(
            &sched,
            state,
            partitions::JOB,
            &state.config.schedule_partitions,
            Arc::new(|state, at| Box::pin(partitions::tick(state, at))),
        )
        .await?;
    }
    sched.start().await.context("starting the job scheduler")?;
    tracing::info!(replica = %state.config.replica, "scheduler started");
    Ok(sched)
}
