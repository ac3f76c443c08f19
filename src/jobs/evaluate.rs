//! The `evaluate` job: a scheduler tick claims its `job_run` row, then runs the evaluation as
//! of the tick's scheduled instant.

use chrono::{DateTime, Utc};
use entity::job_run;
use sea_orm::DatabaseConnection;

use super::context::JobContext;
use crate::services::runs::{Trigger, claim_tick, finish};
use crate::services::{evaluation, runs};

pub const JOB: &str = runs::EVALUATE;

/// Runs the tick scheduled at `scheduled_at` unless another replica claimed it. Returns the
/// finished run (`ok` or `failed`), or `None` when the tick was not ours. A failed evaluation
/// is recorded on its row and does not stop later ticks.
pub async fn run_tick(
    db: &DatabaseConnection,
    scheduled_at: DateTime<Utc>,
    replica: &str,
) -> anyhow::Result<Option<job_run::Model>> {
    let Some(run) = claim_tick(
        db,
        JOB,
        scheduled_at,
        scheduled_at,
        replica,
        Trigger::Scheduler,
    )
    .await?
    else {
        return Ok(None);
    };
    let result = evaluation::evaluate(db, run.id, scheduled_at, &|_, _| {}).await;
    if let Err(e) = &result {
        tracing::error!(run = run.id, error = ?e, "evaluation failed");
    }
    Ok(Some(finish(db, run, &result).await?))
}

/// The scheduler's entry point.
pub async fn tick(ctx: JobContext, scheduled_at: DateTime<Utc>) {
    match run_tick(&ctx.db, scheduled_at, &ctx.config.replica).await {
        Ok(Some(run)) => tracing::info!(
            run = run.id,
            outcome = %run.outcome,
            subjects = run.subjects_evaluated,
            achievements = run.achievements_recorded,
            "evaluation tick finished"
        ),
        Ok(None) => tracing::debug!(%scheduled_at, "evaluation tick taken by another replica"),
        Err(e) => tracing::error!(error = ?e, %scheduled_at, "evaluation tick could not run"),
    }
}
