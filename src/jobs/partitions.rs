//! The `partitions` job (PostgreSQL): a scheduler tick claims its `job_run` row, then creates
//! the GMV tables' monthly partitions ahead, so once per tick across replicas.

use chrono::{DateTime, Duration, Utc};
use entity::job_run;
use sea_orm::DatabaseConnection;

use super::context::JobContext;
use crate::domain::period::local_day;
use crate::services::partitions;
use crate::services::runs::{Counts, claim_scheduled, finish};

pub const JOB: &str = "partitions";

/// Runs the tick scheduled at `scheduled_at` unless another replica claimed it: the current
/// month (in Asia/Shanghai) and `ahead` months after it get their partitions. Returns the
/// finished run, or `None` when the tick was not ours.
pub async fn run_tick(
    db: &DatabaseConnection,
    scheduled_at: DateTime<Utc>,
    replica: &str,
    lease: Duration,
    ahead: u32,
) -> anyhow::Result<Option<job_run::Model>> {
    let Some(run) = claim_scheduled(db, JOB, scheduled_at, replica, lease).await? else {
        return Ok(None);
    };
    let today = local_day(chrono_tz::Asia::Shanghai, scheduled_at);
    let result = partitions::ensure_ahead(db, today, ahead)
        .await
        .map(|created| {
            if !created.is_empty() {
                tracing::info!(run = run.id, ?created, "partitions created");
            }
            Counts::default()
        })
        .map_err(anyhow::Error::from);
    if let Err(e) = &result {
        tracing::error!(run = run.id, error = ?e, "creating partitions failed");
    }
    Ok(Some(finish(db, run, &result).await?))
}

/// The scheduler's entry point; `false` when the database could not be reached.
pub async fn tick(ctx: JobContext, scheduled_at: DateTime<Utc>) -> bool {
    match run_tick(
        &ctx.db,
        scheduled_at,
        &ctx.config.replica,
        ctx.lease(),
        ctx.config.partition_months_ahead,
    )
    .await
    {
        Ok(Some(run)) => {
            tracing::info!(run = run.id, outcome = %run.outcome, "partitions tick finished")
        }
        Ok(None) => tracing::debug!(%scheduled_at, "partitions tick taken by another replica"),
        Err(e) if crate::db::unavailable_in(&e).is_some() => return false,
        Err(e) => tracing::error!(error = ?e, %scheduled_at, "partitions tick could not run"),
    }
    true
}
