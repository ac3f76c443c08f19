//! The digest jobs: a scheduler tick claims its `job_run` row, then queues the merchants' weekly
//! reports or the staff daily digest as of the tick. The outbox's dedupe keys make a second
//! trigger for the same period queue nothing.

use chrono::{DateTime, Duration, Utc};
use entity::job_run;

use super::context::JobContext;
use crate::mail::digests::{DigestKind, run_digest};
use crate::services::runs::{self, Counts, Trigger, claim_tick, finish};

/// Runs the `kind` tick scheduled at `scheduled_at` unless another replica claimed it.
pub async fn run_tick(
    ctx: &JobContext,
    kind: DigestKind,
    scheduled_at: DateTime<Utc>,
) -> anyhow::Result<Option<job_run::Model>> {
    let lease = Duration::from_std(ctx.config.run_lease).unwrap_or(Duration::seconds(30));
    let Some(run) = claim_tick(
        &ctx.db,
        kind.as_str(),
        scheduled_at,
        scheduled_at,
        &ctx.config.replica,
        Trigger::Scheduler,
        lease,
    )
    .await?
    else {
        return Ok(None);
    };
    let result = runs::with_lease(
        &ctx.db,
        run.id,
        lease,
        run_digest(&ctx.db, &ctx.config, kind, scheduled_at),
    )
    .await
    .map(|q| Counts {
        emails_queued: i64::try_from(q.queued).unwrap_or(i64::MAX),
        ..Counts::default()
    });
    if let Err(e) = &result {
        tracing::error!(run = run.id, job = kind.as_str(), error = ?e, "digest failed");
    }
    Ok(Some(finish(&ctx.db, run, &result).await?))
}

/// The scheduler's entry point.
pub async fn tick(ctx: JobContext, kind: DigestKind, scheduled_at: DateTime<Utc>) {
    match run_tick(&ctx, kind, scheduled_at).await {
        Ok(Some(run)) => {
            tracing::info!(run = run.id, job = kind.as_str(), outcome = %run.outcome, queued = run.emails_queued, "digest tick finished")
        }
        Ok(None) => {
            tracing::debug!(job = kind.as_str(), %scheduled_at, "digest tick taken by another replica")
        }
        Err(e) => {
            tracing::error!(job = kind.as_str(), error = ?e, %scheduled_at, "digest tick could not run")
        }
    }
}
