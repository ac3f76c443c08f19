//! The digest jobs: a scheduler tick claims its `job_run` row, then queues the merchants' weekly
//! reports or the staff daily digest as of the tick. The outbox's dedupe keys make a second
//! trigger for the same period queue nothing.

use chrono::{DateTime, Duration, Utc};
use entity::job_run;
use sea_orm::DatabaseConnection;

use super::context::JobContext;
use crate::config::Config;
use crate::mail::digests::{DigestKind, run_digest};
use crate::services::runs::{self, Counts, claim_scheduled, finish};

/// Runs the `kind` tick scheduled at `scheduled_at` unless another replica claimed it.
pub async fn run_tick(
    ctx: &JobContext,
    kind: DigestKind,
    scheduled_at: DateTime<Utc>,
) -> anyhow::Result<Option<job_run::Model>> {
    let lease = ctx.lease();
    let Some(run) = claim_scheduled(
        &ctx.db,
        kind.as_str(),
        scheduled_at,
        &ctx.config.replica,
        lease,
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(
        complete(&ctx.db, &ctx.config, kind, run, lease).await?,
    ))
}

/// Queues the digest of a claimed run as of its `as_of`, renewing its lease while it works,
/// and records the outcome: `ok` with the recipients, the new emails and the duplicates, or
/// `failed` with the error (logged too).
pub async fn complete(
    db: &DatabaseConnection,
    config: &Config,
    kind: DigestKind,
    run: job_run::Model,
    lease: Duration,
) -> Result<job_run::Model, sea_orm::DbErr> {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let result = runs::with_lease(db, run.id, lease, run_digest(db, config, kind, run.as_of))
        .await
        .map(|q| Counts {
            emails_queued: count(q.queued),
            recipients: count(q.recipients),
            duplicates: count(q.duplicates),
            ..Counts::default()
        });
    if let Err(e) = &result {
        tracing::error!(run = run.id, job = kind.as_str(), error = ?e, "digest failed");
    }
    finish(db, run, &result).await
}

/// The scheduler's entry point; `false` when the database could not be reached.
pub async fn tick(ctx: JobContext, kind: DigestKind, scheduled_at: DateTime<Utc>) -> bool {
    match run_tick(&ctx, kind, scheduled_at).await {
        Ok(Some(run)) => {
            tracing::info!(run = run.id, job = kind.as_str(), outcome = %run.outcome, queued = run.emails_queued, "digest tick finished")
        }
        Ok(None) => {
            tracing::debug!(job = kind.as_str(), %scheduled_at, "digest tick taken by another replica")
        }
        Err(e) if crate::db::unavailable_in(&e).is_some() => return false,
        Err(e) => {
            tracing::error!(job = kind.as_str(), error = ?e, %scheduled_at, "digest tick could not run")
        }
    }
    true
}
