//! The ledger of job runs: every evaluation and digest run is a `job_run` row. A scheduled tick
//! is claimed by inserting its row keyed by (job, scheduled time) — `INSERT … ON CONFLICT DO
//! NOTHING` — so only the replica whose insert went through runs the work.
//!
//! A running run holds a lease (`lease_until`) that its process renews while it works. When
//! the process dies the lease runs out, and [`expire_stale`] marks the run `failed` with the
//! reason: no run stays `running` for ever.

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use entity::job_run;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, Set,
    sea_query::{Expr, OnConflict},
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
    /// Digest runs: the recipients, and those whose email was already queued.
    pub recipients: i64,
    pub duplicates: i64,
}

/// Claims the scheduler's tick `(job, scheduled_at)`, whose work runs as of the tick itself:
/// [`claim_tick`] with the scheduler as trigger.
pub async fn claim_scheduled<C: ConnectionTrait>(
    db: &C,
    job: &str,
    scheduled_at: DateTime<Utc>,
    replica: &str,
    lease: Duration,
) -> Result<Option<job_run::Model>, DbErr> {
    claim_tick(
        db,
        job,
        scheduled_at,
        scheduled_at,
        replica,
        Trigger::Scheduler,
        lease,
    )
    .await
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
    lease: Duration,
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
        recipients: Set(0),
        duplicates: Set(0),
        lease_until: Set(Some(now + lease)),
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

/// Claims a run of `job` keyed by the current instant (unique per job), holding a lease of
/// `lease`: an API request answers with it and carries on in the background.
pub async fn start<C: ConnectionTrait>(
    db: &C,
    job: &str,
    as_of: DateTime<Utc>,
    trigger: Trigger,
    replica: &str,
    lease: Duration,
) -> Result<job_run::Model, DbErr> {
    let mut scheduled_at = Utc::now();
    loop {
        // Two claims in the same microsecond: the second takes the next one.
        if let Some(row) = claim_tick(db, job, scheduled_at, as_of, replica, trigger, lease).await?
        {
            return Ok(row);
        }
        scheduled_at += Duration::microseconds(1);
    }
}

/// The run with this id, of whatever job.
pub async fn find<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<job_run::Model>, DbErr> {
    job_run::Entity::find_by_id(id).one(db).await
}

/// Records the outcome of a claimed run: `ok` with its counts, or `failed` with the error.
pub async fn finish(
    db: &DatabaseConnection,
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
            row.recipients = Set(c.recipients);
            row.duplicates = Set(c.duplicates);
        }
        Err(e) => {
            row.outcome = Set(JobOutcome::Failed);
            row.error = Set(Some(format!("{e:#}")));
        }
    }
    crate::db::retry(|| async {
        let txn = crate::db::begin_write(db).await?;
        let saved = row.clone().update(&txn).await?;
        txn.commit().await?;
        Ok::<_, DbErr>(saved)
    })
    .await
}

/// Extends a running run's lease to `lease` from now.
pub async fn renew(db: &DatabaseConnection, id: i64, lease: Duration) -> Result<(), DbErr> {
    crate::db::retry(|| async {
        job_run::Entity::update_many()
            .col_expr(job_run::Column::LeaseUntil, Expr::value(Utc::now() + lease))
            .filter(job_run::Column::Id.eq(id))
            .filter(job_run::Column::Outcome.eq(JobOutcome::Running))
            .exec(db)
            .await
    })
    .await?;
    Ok(())
}

/// Running runs whose lease has run out: their process stopped without finishing them.
fn stale() -> Condition {
    Condition::all()
        .add(job_run::Column::Outcome.eq(JobOutcome::Running))
        .add(
            Condition::any()
                .add(job_run::Column::LeaseUntil.lt(Utc::now()))
                .add(job_run::Column::LeaseUntil.is_null()),
        )
}

/// Marks `failed` every running run whose lease has run out. Reads first, so the usual call
/// (nothing stale) writes nothing. Returns how many were marked.
pub async fn expire_stale(db: &DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::QuerySelect;
    let any: Option<i64> = job_run::Entity::find()
        .select_only()
        .column(job_run::Column::Id)
        .filter(stale())
        .into_tuple()
        .one(db)
        .await?;
    if any.is_none() {
        return Ok(0);
    }
    let expired = crate::db::retry(|| async {
        let txn = crate::db::begin_write(db).await?;
        let n = job_run::Entity::update_many()
            .col_expr(job_run::Column::Outcome, Expr::value(JobOutcome::Failed))
            .col_expr(job_run::Column::FinishedAt, Expr::value(Utc::now()))
            .col_expr(
                job_run::Column::Error,
                Expr::value(
                    "the process running it stopped before it finished (its lease expired)",
                ),
            )
            .filter(stale())
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok::<_, DbErr>(n)
    })
    .await?;
    if expired > 0 {
        tracing::warn!(
            runs = expired,
            "runs whose process stopped were marked failed"
        );
    }
    Ok(expired)
}

/// Runs `work` for run `id` while renewing its lease every third of `lease`. A failed renewal
/// is logged: the work goes on, and at worst the run is reported failed while it finishes.
///
/// The renewal is polled beside the work, never instead of it: on SQLite the renewal waits for
/// the write lock, which the work's own open transaction may hold, so a renewal that stopped
/// the work from being polled would wait on itself.
pub async fn with_lease<T>(
    db: &sea_orm::DatabaseConnection,
    id: i64,
    lease: Duration,
    work: impl Future<Output = T>,
) -> T {
    let every = (lease / 3)
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(1));
    let renewals = async {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(e) = renew(db, id, lease).await {
                tracing::warn!(run = id, error = %e, "could not renew the run's lease");
            }
        }
    };
    tokio::select! {
        out = work => out,
        () = renewals => unreachable!("renewals go on until the work ends"),
    }
}
