//! The `evaluate` job: a scheduler tick claims its `job_run` row, then runs the evaluation as
//! of the tick's scheduled instant.

use chrono::{DateTime, Duration, Utc};
use entity::job_run;
use sea_orm::{DatabaseConnection, EntityTrait};

use super::context::JobContext;
use crate::domain::period::local_day;
use crate::services::runs::claim_scheduled;
use crate::services::{evaluation, reports::history, runs};

pub const JOB: &str = runs::EVALUATE;

/// Runs the tick scheduled at `scheduled_at` unless another replica claimed it, then thins
/// the snapshots older than `retention_days` (so that too happens once per tick). Returns the
/// finished run (`ok` or `failed`), or `None` when the tick was not ours. A failed evaluation
/// is recorded on its row and does not stop later ticks.
pub async fn run_tick(
    db: &DatabaseConnection,
    scheduled_at: DateTime<Utc>,
    replica: &str,
    lease: Duration,
    retention_days: u32,
) -> anyhow::Result<Option<job_run::Model>> {
    // Runs a process left behind when it died are failed first, once per tick.
    runs::expire_stale(db).await?;
    let Some(run) = claim_scheduled(db, JOB, scheduled_at, replica, lease).await? else {
        return Ok(None);
    };
    let id = run.id;
    let outcome = match evaluation::complete(db, run, lease, &|_, _| {}).await {
        Ok(row) => Some(row),
        // The failure is recorded on the run; the tick itself went as it should.
        Err(_) => job_run::Entity::find_by_id(id).one(db).await?,
    };
    let today = local_day(chrono_tz::Asia::Shanghai, scheduled_at);
    match history::prune_snapshots(db, today, retention_days).await {
        Ok(n) if n > 0 => tracing::info!(deleted = n, "old snapshots thinned"),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "could not thin old snapshots; the next tick tries again")
        }
    }
    Ok(outcome)
}

/// The scheduler's entry point; `false` when the database could not be reached.
pub async fn tick(ctx: JobContext, scheduled_at: DateTime<Utc>) -> bool {
    match run_tick(
        &ctx.db,
        scheduled_at,
        &ctx.config.replica,
        ctx.lease(),
        ctx.config.snapshot_retention_days,
    )
    .await
    {
        Ok(Some(run)) => tracing::info!(
            run = run.id,
            outcome = %run.outcome,
            subjects = run.subjects_evaluated,
            achievements = run.achievements_recorded,
            "evaluation tick finished"
        ),
        Ok(None) => tracing::debug!(%scheduled_at, "evaluation tick taken by another replica"),
        Err(e) if crate::db::unavailable_in(&e).is_some() => return false,
        Err(e) => tracing::error!(error = ?e, %scheduled_at, "evaluation tick could not run"),
    }
    true
}
