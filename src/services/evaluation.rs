//! Evaluation: for every active programme and open period, every subject with GMV gets its
//! value, tier, projection and status (pure functions in `domain::period`), stored as the
//! current `progress` plus a `progress_snapshot`; achievements are recorded once per
//! (programme, period, subject, tier) by the unique index.
//!
//! - Aggregation happens in the database (`SUM … GROUP BY` over the daily roll-ups, never the
//!   raw records), as one query streamed a page of subjects at a time, so memory stays flat
//!   however many subjects there are. Each page is written in its own transaction, so a
//!   long run never blocks GMV ingestion for its whole duration.
//! - Late, back-dated GMV: the open period is recomputed from the roll-ups on every run, and
//!   the previous period is evaluated again while the evaluation day is within
//!   [`REOPEN_DAYS`] days of its end, so corrections reported shortly after a period closes
//!   still count. Later corrections to a closed period are not picked up.
//! - Refunds that take a subject back under a tier's threshold (the threshold stored with the
//!   achievement) mark the achievement `revoked_at`; climbing back above clears `revoked_at`
//!   again (the achievement keeps its first `achieved_at`, and no second email is sent).
//! - Progress rows of subjects that no longer qualify (merchant suspended, kind filter
//!   changed) and were not written by this or a later run are removed from the leaderboard.
//! - Only approved merchants count; the programme's `merchant_kinds` filter joins
//!   `merchant.kind`; `channel_gmv` sums only its channel.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{achievement, job_run, merchant, program, progress, progress_snapshot};
use futures_util::TryStreamExt;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, Set, Statement, StreamTrait,
    TryInsertResult, Value,
    sea_query::{Expr, OnConflict},
};

use crate::{
    domain::{
        enums::{ProgressStatus, WebhookEventType},
        merchant::MerchantStatus,
        money::format_cny,
        period::{self, Period, local_day, project, run_rate_window, standing},
        program::{Metric, ProgramDef, Subject},
        webhook,
    },
    mail::{self, EmailKind, NewEmail},
    services::{
        rewards::{self, RewardStatus},
        runs::{self, Counts, Trigger},
        webhooks::{self, events::NewEvent},
    },
};

pub use crate::domain::period::REOPEN_DAYS;
/// Subjects aggregated and written per page.
pub const PAGE_SIZE: u64 = 2_000;
/// Rows per multi-row insert: 17 columns × 500 stays far below every bind limit.
const CHUNK: usize = 500;

/// Reports progress: (programme name, subjects evaluated so far in it).
pub type OnProgress<'a> = &'a (dyn Fn(&str, u64) + Send + Sync);

/// Claims an evaluation run keyed by the current instant, holding a lease of `lease`.
/// `POST /evaluations` answers with it and carries on with [`complete`] in the background.
pub async fn start(
    db: &DatabaseConnection,
    as_of: DateTime<Utc>,
    trigger: Trigger,
    replica: &str,
    lease: Duration,
) -> Result<job_run::Model, sea_orm::DbErr> {
    runs::start(db, runs::EVALUATE, as_of, trigger, replica, lease).await
}

/// Evaluates a claimed run, renewing its lease while it works, and records the outcome. A
/// failed evaluation is recorded as `failed` with its error and also returned as the error.
pub async fn complete(
    db: &DatabaseConnection,
    run: job_run::Model,
    lease: Duration,
    on_progress: OnProgress<'_>,
) -> anyhow::Result<job_run::Model> {
    let result = runs::with_lease(
        db,
        run.id,
        lease,
        evaluate(db, run.id, run.as_of, on_progress),
    )
    .await;
    if let Err(e) = &result {
        tracing::error!(run = run.id, error = ?e, "evaluation failed");
    }
    let row = runs::finish(db, run, &result).await?;
    result.map(|_| row)
}

/// Starts and completes a run: the command line's `evaluate`.
pub async fn run(
    db: &DatabaseConnection,
    as_of: DateTime<Utc>,
    trigger: Trigger,
    replica: &str,
    lease: Duration,
    on_progress: OnProgress<'_>,
) -> anyhow::Result<job_run::Model> {
    let run = start(db, as_of, trigger, replica, lease).await?;
    complete(db, run, lease, on_progress).await
}

/// The periods of `def` evaluated at `as_of`: the previous one while within
/// [`REOPEN_DAYS`] of its end, and the open one; both clipped to the programme's dates.
pub fn periods_to_evaluate(def: &ProgramDef, as_of: DateTime<Utc>) -> Vec<Period> {
    let today = local_day(def.time_zone, as_of);
    let open = Period::containing_day(def.period, today);
    let mut out = Vec::with_capacity(2);
    for p in [open.previous(def.period), open] {
        if let Some(c) = p.clip(def.starts_on, def.ends_on)
            && c.start <= today
            && (today - c.end).num_days() <= REOPEN_DAYS
        {
            out.push(c);
        }
    }
    out
}

/// Evaluates every active programme at `as_of`, attributing the writes to `run_id`.
pub async fn evaluate(
    db: &DatabaseConnection,
    run_id: i64,
    as_of: DateTime<Utc>,
    on_progress: OnProgress<'_>,
) -> anyhow::Result<Counts> {
    let programs = program::Entity::find()
        .filter(program::Column::Active.eq(true))
        .order_by_asc(program::Column::Id)
        .all(db)
        .await?;
    let mut counts = Counts::default();
    for p in programs {
        let def = ProgramDef::from_row(&p)?;
        for period in periods_to_evaluate(&def, as_of) {
            let c = evaluate_period(db, run_id, &p, &def, period, as_of, on_progress)
                .await
                .with_context(|| {
                    format!(
                        "evaluating programme {} ({}) for the period starting {}",
                        p.id, p.name, period.start
                    )
                })?;
            counts.subjects_evaluated += c.subjects_evaluated;
            counts.achievements_recorded += c.achievements_recorded;
            counts.achievements_revoked += c.achievements_revoked;
            counts.emails_queued += c.emails_queued;
        }
    }
    rewards::confirm_due(db, as_of).await?;
    emit_stale(db, as_of).await?;
    Ok(counts)
}

/// One subject's sums from the roll-ups.
#[derive(Clone, Debug)]
struct Aggregate {
    subject_id: String,
    merchant_id: Option<i64>,
    value: i64,
    recent: i64,
}

/// The date ranges of one period's aggregation.
struct Ranges {
    value_from: NaiveDate,
    value_to: NaiveDate,
    recent_from: NaiveDate,
    recent_to: NaiveDate,
    window_days: i64,
    seconds_left: i64,
}

fn ranges(def: &ProgramDef, period: Period, as_of: DateTime<Utc>) -> Ranges {
    let today = local_day(def.time_zone, as_of);
    let value_to = today.min(period.end);
    let seconds_left = period::seconds_left(&period, def.time_zone, as_of);
    match run_rate_window(today, def.starts_on) {
        Some(w) => Ranges {
            value_from: period.start,
            value_to,
            recent_from: w.start,
            recent_to: w.end,
            window_days: w.days(),
            seconds_left,
        },
        // An empty range: no run rate yet.
        None => Ranges {
            value_from: period.start,
            value_to,
            recent_from: today,
            recent_to: today - Duration::days(1),
            window_days: 0,
            seconds_left,
        },
    }
}

/// Rewrites `?` placeholders as `$1, $2, …` for PostgreSQL (the SQL holds no literal `?`).
pub fn statement(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = if backend == DatabaseBackend::Postgres {
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for ch in sql.chars() {
            if ch == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(ch);
            }
        }
        out
    } else {
        sql.to_string()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Every subject's sums for one period, aggregated in the database as one query that the
/// caller streams: the database picks its best plan for the whole table (PostgreSQL a hash
/// aggregate over a sequential scan, SQLite a walk of the roll-up key), instead of one index
/// probe per subject for each keyset page. Rows arrive unordered.
fn aggregate_statement(backend: DatabaseBackend, def: &ProgramDef, r: &Ranges) -> Statement {
    let scan_from = r.value_from.min(r.recent_from);
    let scan_to = r.value_to.max(r.recent_to);
    let mut values: Vec<Value> = vec![
        r.value_from.into(),
        r.value_to.into(),
        r.recent_from.into(),
        r.recent_to.into(),
        scan_from.into(),
        scan_to.into(),
    ];
    let mut rollup_filter = String::from("g.day >= ? AND g.day <= ?");
    if def.metric == Metric::ChannelGmv
        && let Some(c) = def.channel
    {
        rollup_filter.push_str(" AND g.channel = ?");
        values.push(c.into());
    }
    let mut merchant_filter = String::from("m.status = ? AND m.kind IN (");
    values.push(MerchantStatus::Approved.into());
    for (i, k) in def.merchant_kinds.iter().enumerate() {
        merchant_filter.push_str(if i == 0 { "?" } else { ", ?" });
        values.push((*k).into());
    }
    merchant_filter.push(')');
    let sums = "CAST(SUM(CASE WHEN g.day >= ? AND g.day <= ? THEN g.amount ELSE 0 END) AS BIGINT) AS v, \
                CAST(SUM(CASE WHEN g.day >= ? AND g.day <= ? THEN g.amount ELSE 0 END) AS BIGINT) AS r";
    let sql = match def.subject {
        // Merchant-keyed roll-ups are summed first and joined to their merchants after, so the
        // join sees one row per subject instead of one per day.
        Subject::Merchant | Subject::Product => {
            let (table, key) = if def.subject == Subject::Merchant {
                ("gmv_daily_merchant", "g.merchant_id")
            } else {
                ("gmv_daily_product", "g.merchant_id, g.product_id")
            };
            let outer = if def.subject == Subject::Merchant {
                "a.merchant_id, a.v, a.r"
            } else {
                "a.merchant_id, a.product_id, a.v, a.r"
            };
            format!(
                "SELECT {outer} FROM (SELECT {key}, {sums} FROM {table} g \
                 WHERE {rollup_filter} GROUP BY {key}) a \
                 JOIN merchant m ON m.id = a.merchant_id WHERE {merchant_filter}"
            )
        }
        // A creator sells for several merchants; only approved ones' sales count.
        Subject::Creator => format!(
            "SELECT g.creator_id, {sums} FROM gmv_daily_creator g \
             JOIN merchant m ON m.id = g.merchant_id \
             WHERE {rollup_filter} AND {merchant_filter} GROUP BY g.creator_id"
        ),
    };
    statement(backend, &sql, values)
}

/// One row of [`aggregate_statement`].
fn aggregate_row(subject: Subject, row: &QueryResult) -> anyhow::Result<Aggregate> {
    Ok(match subject {
        Subject::Merchant => {
            let id: i64 = row.try_get_by_index(0)?;
            Aggregate {
                subject_id: id.to_string(),
                merchant_id: Some(id),
                value: row.try_get_by_index(1)?,
                recent: row.try_get_by_index(2)?,
            }
        }
        Subject::Creator => Aggregate {
            subject_id: row.try_get_by_index(0)?,
            merchant_id: None,
            value: row.try_get_by_index(1)?,
            recent: row.try_get_by_index(2)?,
        },
        Subject::Product => {
            let mid: i64 = row.try_get_by_index(0)?;
            let pid: String = row.try_get_by_index(1)?;
            Aggregate {
                subject_id: format!("{mid}:{pid}"),
                merchant_id: Some(mid),
                value: row.try_get_by_index(2)?,
                recent: row.try_get_by_index(3)?,
            }
        }
    })
}

/// One subject's computed outcome.
struct Outcome {
    agg: Aggregate,
    standing: period::Standing,
}

#[allow(clippy::too_many_arguments)]
async fn evaluate_period(
    db: &DatabaseConnection,
    run_id: i64,
    p: &program::Model,
    def: &ProgramDef,
    period: Period,
    as_of: DateTime<Utc>,
    on_progress: OnProgress<'_>,
) -> anyhow::Result<Counts> {
    let started = Utc::now();
    let r = ranges(def, period, as_of);
    let mut counts = Counts::default();
    // Pages of the streamed aggregate are computed and written (each in its own transaction,
    // on another pooled connection) while the query goes on, so memory holds one page.
    let mut rows = db
        .stream_raw(aggregate_statement(db.get_database_backend(), def, &r))
        .await?;
    let mut page = Vec::with_capacity(PAGE_SIZE as usize);
    loop {
        let next = rows.try_next().await?;
        if let Some(row) = &next {
            page.push(aggregate_row(def.subject, row)?);
        }
        if page.len() as u64 == PAGE_SIZE || (next.is_none() && !page.is_empty()) {
            let mut outcomes = Vec::with_capacity(page.len());
            for agg in page.drain(..) {
                let projected = project(agg.value, agg.recent, r.window_days, r.seconds_left)
                    .with_context(|| format!("subject {}", agg.subject_id))?;
                let standing = standing(&def.tiers, agg.value, projected)
                    .with_context(|| format!("subject {}", agg.subject_id))?;
                outcomes.push(Outcome { agg, standing });
            }
            let c = crate::db::retry(|| write_page(db, run_id, p, def, period, as_of, &outcomes))
                .await?;
            counts.subjects_evaluated += c.subjects_evaluated;
            counts.achievements_recorded += c.achievements_recorded;
            counts.achievements_revoked += c.achievements_revoked;
            counts.emails_queued += c.emails_queued;
            on_progress(&p.name, counts.subjects_evaluated as u64);
        }
        if next.is_none() {
            break;
        }
    }
    drop(rows);
    // Subjects that no longer qualify leave the leaderboard; rows written after this period's
    // evaluation started (by this or a concurrent run) stay.
    progress::Entity::delete_many()
        .filter(progress::Column::ProgramId.eq(p.id))
        .filter(progress::Column::PeriodStart.eq(period.start))
        .filter(progress::Column::EvaluatedAt.lt(started))
        .exec(db)
        .await?;
    let day = period::local_day(def.time_zone, as_of);
    crate::db::retry(|| write_tally(db, run_id, p.id, def, period, day)).await?;
    Ok(counts)
}

/// The period's subjects per tier index and status at the end of `day`, from its progress:
/// replaces what an earlier run of the same day wrote. An empty period is tallied as nobody below the first
/// tier, so the trend does not carry an earlier day's counts over it.
pub async fn write_tally(
    db: &DatabaseConnection,
    run_id: i64,
    program_id: i64,
    def: &ProgramDef,
    period: Period,
    day: NaiveDate,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let txn = crate::db::begin_write(db).await?;
    let key: Vec<Value> = vec![program_id.into(), period.start.into()];
    let mut values = key.clone();
    values.push(day.into());
    txn.execute_raw(statement(
        backend,
        "DELETE FROM tier_tally WHERE program_id = ? AND period_start = ? AND day = ?",
        values,
    ))
    .await?;
    let top: Option<i64> = def.tiers.last().map(|t| t.threshold);
    let mut values: Vec<Value> = vec![day.into(), top.into(), run_id.into()];
    values.extend(key);
    let written = txn
        .execute_raw(statement(
            backend,
            "INSERT INTO tier_tally (program_id, period_start, day, tier_index, status, \
             subjects, projected_top, run_id) \
             SELECT program_id, period_start, ?, tier_index, status, COUNT(*), \
             SUM(CASE WHEN projected >= ? THEN 1 ELSE 0 END), ? \
             FROM progress WHERE program_id = ? AND period_start = ? \
             GROUP BY program_id, period_start, tier_index, status",
            values,
        ))
        .await?;
    if written.rows_affected() == 0 {
        entity::tier_tally::ActiveModel {
            program_id: Set(program_id),
            period_start: Set(period.start),
            day: Set(day),
            tier_index: Set(-1),
            status: Set(ProgressStatus::Behind),
            subjects: Set(0),
            projected_top: Set(0),
            run_id: Set(run_id),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await
}

async fn write_page(
    db: &DatabaseConnection,
    run_id: i64,
    p: &program::Model,
    def: &ProgramDef,
    period: Period,
    as_of: DateTime<Utc>,
    outcomes: &[Outcome],
) -> anyhow::Result<Counts> {
    let now = Utc::now();
    let subject_type = def.subject;
    let txn = crate::db::begin_write(db).await?;
    if crate::db::is_postgres(db) {
        // This page's statements carry hundreds of subject ids each. A generic plan (cached
        // after five runs, and chosen on the statistics of a table the run is still filling)
        // filters them as a list of parameters, compared one by one against every row of the
        // period: quadratic in the subjects. Custom plans see the ids as constants, hashed,
        // and the table as it is.
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
    }

    // Each subject's standing before this run, to tell a change.
    let ids: Vec<&str> = outcomes.iter().map(|o| o.agg.subject_id.as_str()).collect();
    let mut previous: HashMap<String, (ProgressStatus, i64, i32, i64)> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(String, ProgressStatus, i64, i32, i64)> = progress::Entity::find()
            .select_only()
            .column(progress::Column::SubjectId)
            .column(progress::Column::Status)
            .column(progress::Column::Value)
            .column(progress::Column::TierIndex)
            .column(progress::Column::Projected)
            .filter(progress::Column::ProgramId.eq(p.id))
            .filter(progress::Column::PeriodStart.eq(period.start))
            .filter(progress::Column::SubjectId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(&txn)
            .await?;
        previous.extend(
            rows.into_iter()
                .map(|(id, status, v, t, p)| (id, (status, v, t, p))),
        );
    }

    // Current progress: one row per (programme, period, subject), replaced.
    for chunk in outcomes.chunks(CHUNK) {
        let rows = chunk.iter().map(|o| {
            let s = &o.standing;
            progress::ActiveModel {
                program_id: Set(p.id),
                period_start: Set(period.start),
                subject_id: Set(o.agg.subject_id.clone()),
                period_end: Set(period.end),
                subject_type: Set(subject_type),
                merchant_id: Set(o.agg.merchant_id),
                value: Set(o.agg.value),
                tier_index: Set(s.tier_index),
                tier: Set(tier_name(def, s.tier_index)),
                next_tier: Set(s.next_index.map(|i| def.tiers[i].name.clone())),
                next_threshold: Set(s.next_threshold),
                remaining: Set(s.remaining),
                projected: Set(s.projected),
                status: Set(s.status),
                evaluated_at: Set(now),
                run_id: Set(run_id),
            }
        });
        progress::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    progress::Column::ProgramId,
                    progress::Column::PeriodStart,
                    progress::Column::SubjectId,
                ])
                .update_columns([
                    progress::Column::PeriodEnd,
                    progress::Column::SubjectType,
                    progress::Column::MerchantId,
                    progress::Column::Value,
                    progress::Column::TierIndex,
                    progress::Column::Tier,
                    progress::Column::NextTier,
                    progress::Column::NextThreshold,
                    progress::Column::Remaining,
                    progress::Column::Projected,
                    progress::Column::Status,
                    progress::Column::EvaluatedAt,
                    progress::Column::RunId,
                ])
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }

    // History: a snapshot only when the value, tier, status or projection changed.
    let day = period::local_day(def.time_zone, as_of);
    let changed: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| {
            let s = &o.standing;
            previous.get(&o.agg.subject_id)
                != Some(&(s.status, o.agg.value, s.tier_index, s.projected))
        })
        .collect();
    for chunk in changed.chunks(CHUNK) {
        let rows = chunk.iter().map(|o| progress_snapshot::ActiveModel {
            day: Set(day),
            run_id: Set(run_id),
            program_id: Set(p.id),
            period_start: Set(period.start),
            subject_id: Set(o.agg.subject_id.clone()),
            value: Set(o.agg.value),
            tier_index: Set(o.standing.tier_index),
            projected: Set(o.standing.projected),
            status: Set(o.standing.status),
            evaluated_at: Set(now),
            ..Default::default()
        });
        progress_snapshot::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }

    // Achievements: what exists for these subjects decides what to add, revoke or restore.
    let mut existing: HashMap<&str, Vec<achievement::Model>> = HashMap::new();
    let mut found = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        found.extend(
            achievement::Entity::find()
                .filter(achievement::Column::ProgramId.eq(p.id))
                .filter(achievement::Column::PeriodStart.eq(period.start))
                .filter(achievement::Column::SubjectId.is_in(chunk.iter().copied()))
                .all(&txn)
                .await?,
        );
    }
    let by_subject: HashMap<&str, &Outcome> = outcomes
        .iter()
        .map(|o| (o.agg.subject_id.as_str(), o))
        .collect();
    for a in &found {
        if let Some((k, _)) = by_subject.get_key_value(a.subject_id.as_str()) {
            existing.entry(k).or_default().push(a.clone());
        }
    }
    let mut revoke = Vec::new();
    let mut restore = Vec::new();
    for (subject, rows) in &existing {
        let value = by_subject[subject].agg.value;
        for a in rows {
            match (a.revoked_at, value >= a.threshold) {
                (None, false) => revoke.push(a.id),
                (Some(_), true) => restore.push(a.id),
                _ => {}
            }
        }
    }
    for chunk in revoke.chunks(CHUNK) {
        achievement::Entity::update_many()
            .col_expr(achievement::Column::RevokedAt, Expr::value(Some(now)))
            .filter(achievement::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
    }
    for chunk in restore.chunks(CHUNK) {
        achievement::Entity::update_many()
            .col_expr(
                achievement::Column::RevokedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(achievement::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
    }
    // Their rewards follow: a revocation cancels what is still pending, a cleared one
    // makes it pending again.
    rewards::move_status(
        &txn,
        &revoke,
        RewardStatus::Pending,
        RewardStatus::Cancelled,
    )
    .await?;
    rewards::move_status(
        &txn,
        &restore,
        RewardStatus::Cancelled,
        RewardStatus::Pending,
    )
    .await?;
    let mut new_rows = Vec::new();
    for o in outcomes {
        let have: HashSet<&str> = existing
            .get(o.agg.subject_id.as_str())
            .map(|v| v.iter().map(|a| a.tier.as_str()).collect())
            .unwrap_or_default();
        for t in def
            .tiers
            .iter()
            .take((o.standing.tier_index + 1).max(0) as usize)
        {
            if !have.contains(t.name.as_str()) {
                new_rows.push(achievement::ActiveModel {
                    program_id: Set(p.id),
                    period_start: Set(period.start),
                    subject_type: Set(subject_type),
                    subject_id: Set(o.agg.subject_id.clone()),
                    merchant_id: Set(o.agg.merchant_id),
                    tier: Set(t.name.clone()),
                    threshold: Set(t.threshold),
                    value: Set(o.agg.value),
                    achieved_at: Set(as_of),
                    revoked_at: Set(None),
                    run_id: Set(run_id),
                    ..Default::default()
                });
            }
        }
    }
    let mut inserted = Vec::new();
    for chunk in new_rows.chunks(CHUNK) {
        let res = achievement::Entity::insert_many(chunk.iter().cloned())
            .on_conflict_do_nothing_on([
                achievement::Column::ProgramId,
                achievement::Column::PeriodStart,
                achievement::Column::SubjectId,
                achievement::Column::Tier,
            ])
            .exec_with_returning_many(&txn)
            .await?;
        if let TryInsertResult::Inserted(rows) = res {
            inserted.extend(rows);
        }
    }

    // What the new achievements earn.
    rewards::create_for(&txn, def, &inserted, period.end, now).await?;

    // Events for webhooks, and the emails they cause, in the same transaction.
    let revoked: Vec<&achievement::Model> =
        found.iter().filter(|a| revoke.contains(&a.id)).collect();
    let ctx = EventContext {
        p,
        def,
        period,
        now,
    };
    let mut events = Vec::new();
    for a in &inserted {
        events.push(ctx.achievement(
            WebhookEventType::AchievementRecorded,
            a,
            format!("achievement.recorded:{}", a.id),
        ));
    }
    for a in &revoked {
        events.push(ctx.achievement(
            WebhookEventType::AchievementRevoked,
            a,
            format!("achievement.revoked:{}:{}", a.id, now.timestamp_micros()),
        ));
    }
    // The progress events a merchant also hears of by email, by dedupe key.
    let mut alerts_of: HashMap<String, (EmailKind, &Outcome)> = HashMap::new();
    for o in outcomes {
        for e in ctx.progress_events(o, previous.get(&o.agg.subject_id).map(|p| p.0), run_id) {
            let kind = match e.kind {
                WebhookEventType::ProgressNearTier => Some(EmailKind::NearTier),
                WebhookEventType::ProgressStatusChanged
                    if o.standing.status == ProgressStatus::AtRisk =>
                {
                    Some(EmailKind::AtRisk)
                }
                _ => None,
            };
            if let Some(kind) = kind.filter(|_| o.agg.merchant_id.is_some()) {
                alerts_of.insert(e.dedupe_key.clone(), (kind, o));
            }
            events.push(e);
        }
    }
    let emitted = webhooks::events::emit(&txn, events).await?;
    // Only events emitted now (not announced before) send their email.
    let alerts: Vec<Alert> = emitted
        .iter()
        .filter_map(|e| {
            let (kind, outcome) = alerts_of.get(&e.dedupe_key)?;
            Some(Alert {
                kind: *kind,
                outcome,
                dedupe_key: &e.dedupe_key,
            })
        })
        .collect();
    let emails = queue_emails(&txn, &ctx, &inserted, &alerts).await?;
    txn.commit().await?;
    Ok(Counts {
        subjects_evaluated: outcomes.len() as i64,
        achievements_recorded: inserted.len() as i64,
        achievements_revoked: revoke.len() as i64,
        emails_queued: emails,
        ..Counts::default()
    })
}

fn tier_name(def: &ProgramDef, index: i32) -> Option<String> {
    usize::try_from(index)
        .ok()
        .and_then(|i| def.tiers.get(i))
        .map(|t| t.name.clone())
}

/// What every event and email of one page shares.
struct EventContext<'a> {
    p: &'a program::Model,
    def: &'a ProgramDef,
    period: Period,
    now: DateTime<Utc>,
}

impl EventContext<'_> {
    fn subject(&self, subject_id: &str, merchant_id: Option<i64>) -> serde_json::Value {
        serde_json::json!({
            "program_id": self.p.id,
            "program": self.p.name,
            "period_start": self.period.start,
            "period_end": self.period.end,
            "subject_type": self.def.subject,
            "subject_id": subject_id,
            "merchant_id": merchant_id,
        })
    }

    fn achievement(
        &self,
        kind: WebhookEventType,
        a: &achievement::Model,
        dedupe_key: String,
    ) -> NewEvent {
        let mut data = self.subject(&a.subject_id, a.merchant_id);
        data["tier"] = a.tier.clone().into();
        data["threshold"] = a.threshold.into();
        data["value"] = a.value.into();
        data["achieved_at"] = serde_json::to_value(a.achieved_at).unwrap_or_default();
        NewEvent {
            kind,
            merchant_id: a.merchant_id,
            dedupe_key,
            data,
            at: self.now,
        }
    }

    /// `progress.status_changed` when the status moved since the last run, and
    /// `progress.near_tier` the first time the subject is within 10% of a tier this period.
    fn progress_events(
        &self,
        o: &Outcome,
        before: Option<ProgressStatus>,
        run_id: i64,
    ) -> Vec<NewEvent> {
        let s = &o.standing;
        let (id, merchant_id) = (&o.agg.subject_id, o.agg.merchant_id);
        let key = format!("{}:{}:{}", self.p.id, self.period.start, id);
        let mut out = Vec::new();
        if let Some(from) = before.filter(|b| *b != s.status) {
            let mut data = self.subject(id, merchant_id);
            data["from"] = serde_json::to_value(from).unwrap_or_default();
            data["to"] = serde_json::to_value(s.status).unwrap_or_default();
            data["value"] = o.agg.value.into();
            data["projected"] = s.projected.into();
            out.push(NewEvent {
                kind: WebhookEventType::ProgressStatusChanged,
                merchant_id,
                dedupe_key: format!("progress.status_changed:{key}:{run_id}"),
                data,
                at: self.now,
            });
        }
        if webhook::near_tier(s.remaining, s.next_threshold)
            && let Some(tier) = s.next_index.and_then(|i| self.def.tiers.get(i))
        {
            let mut data = self.subject(id, merchant_id);
            data["tier"] = tier.name.clone().into();
            data["threshold"] = tier.threshold.into();
            data["remaining"] = s.remaining.into();
            data["value"] = o.agg.value.into();
            out.push(NewEvent {
                kind: WebhookEventType::ProgressNearTier,
                merchant_id,
                dedupe_key: format!("progress.near_tier:{key}:{}", tier.name),
                data,
                at: self.now,
            });
        }
        out
    }
}

/// A progress event that also emails the subject's merchant.
struct Alert<'a> {
    kind: EmailKind,
    outcome: &'a Outcome,
    dedupe_key: &'a str,
}

/// The emails of one page: `tier_achieved` per new merchant achievement, and — where the
/// merchant has not switched them off — `near_tier` per new near-tier event and `at_risk` per
/// change to `at_risk`, for the merchant's own and its products' progress. Returns how many
/// were queued.
async fn queue_emails(
    txn: &sea_orm::DatabaseTransaction,
    ctx: &EventContext<'_>,
    inserted: &[achievement::Model],
    alerts: &[Alert<'_>],
) -> anyhow::Result<i64> {
    // Merchants hear of their own and their products' tiers; creators (below) of theirs.
    let achieved: Vec<&achievement::Model> = if ctx.def.subject == Subject::Creator {
        Vec::new()
    } else {
        inserted.iter().collect()
    };
    let mut queued = if ctx.def.subject == Subject::Creator {
        creator_emails(txn, ctx, inserted).await?
    } else {
        0
    };
    if achieved.is_empty() && alerts.is_empty() {
        return Ok(queued);
    }
    let mut merchant_ids: Vec<i64> = achieved.iter().filter_map(|a| a.merchant_id).collect();
    merchant_ids.extend(alerts.iter().filter_map(|a| a.outcome.agg.merchant_id));
    merchant_ids.sort_unstable();
    merchant_ids.dedup();
    let mut merchants = HashMap::new();
    for chunk in merchant_ids.chunks(CHUNK) {
        for m in merchant::Entity::find()
            .filter(merchant::Column::Id.is_in(chunk.iter().copied()))
            .all(txn)
            .await?
        {
            merchants.insert(m.id, m);
        }
    }
    // Products are named from their merchants' catalogues.
    let product_names = if ctx.def.subject == Subject::Product {
        let subjects: Vec<(Subject, &str)> = achieved
            .iter()
            .map(|a| a.subject_id.as_str())
            .chain(alerts.iter().map(|a| a.outcome.agg.subject_id.as_str()))
            .map(|id| (Subject::Product, id))
            .collect();
        crate::services::reports::names::subject_names(txn, &subjects).await?
    } else {
        HashMap::new()
    };
    let product_label =
        |id: &str| crate::services::reports::names::label(&product_names, Subject::Product, id);
    let (p, period) = (ctx.p, ctx.period);
    let mut send = async |kind: EmailKind,
                          m: &merchant::Model,
                          mut vars: serde_json::Value,
                          dedupe_key: String|
           -> anyhow::Result<()> {
        vars["locale"] = m.locale.as_str().into();
        vars["display_name"] = m.display_name.clone().into();
        vars["program"] = p.name.clone().into();
        vars["period_start"] = period.start.to_string().into();
        vars["period_end"] = period.end.to_string().into();
        let rendered = mail::templates::render(kind, &vars)?;
        let email = NewEmail {
            kind,
            merchant_id: Some(m.id),
            recipient: &m.contact_email,
            locale: m.locale,
            rendered,
            dedupe_key,
        };
        if mail::enqueue(txn, email).await? {
            queued += 1;
        }
        Ok(())
    };
    for a in achieved {
        let Some(m) = a.merchant_id.and_then(|id| merchants.get(&id)) else {
            continue;
        };
        let vars = serde_json::json!({
            "tier": a.tier,
            "threshold": format_cny(a.threshold),
            "value": format_cny(a.value),
            // A product's tier names the product.
            "subject": (a.subject_type == Subject::Product).then(|| product_label(&a.subject_id)),
        });
        send(
            EmailKind::TierAchieved,
            m,
            vars,
            format!("{}:{}", EmailKind::TierAchieved, a.id),
        )
        .await?;
    }
    for alert in alerts {
        let o = alert.outcome;
        let Some(m) = o.agg.merchant_id.and_then(|id| merchants.get(&id)) else {
            continue;
        };
        let subject_id = o.agg.subject_id.as_str();
        let label = match ctx.def.subject {
            Subject::Product => product_label(subject_id),
            _ => m.display_name.clone(),
        };
        let s = &o.standing;
        let tier = s.next_index.and_then(|i| ctx.def.tiers.get(i));
        let vars = serde_json::json!({
            "subject": label,
            "tier": tier.map(|t| t.name.clone()),
            "threshold": tier.map(|t| format_cny(t.threshold)),
            "remaining": format_cny(s.remaining),
            "projected": format_cny(s.projected),
            "value": format_cny(o.agg.value),
        });
        let kind = alert.kind;
        let wanted = match kind {
            EmailKind::NearTier => m.notify_near_tier,
            _ => m.notify_at_risk,
        };
        if wanted {
            send(kind, m, vars, format!("{kind}:{}", alert.dedupe_key)).await?;
        }
    }
    Ok(queued)
}

/// `tier_achieved` to each creator with a contact address, per new achievement (zh-CN).
async fn creator_emails(
    txn: &sea_orm::DatabaseTransaction,
    ctx: &EventContext<'_>,
    inserted: &[achievement::Model],
) -> anyhow::Result<i64> {
    let ids: Vec<&str> = inserted.iter().map(|a| a.subject_id.as_str()).collect();
    let mut creators = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for c in entity::creator::Entity::find()
            .filter(entity::creator::Column::Id.is_in(chunk.iter().copied()))
            .filter(entity::creator::Column::ContactEmail.is_not_null())
            .all(txn)
            .await?
        {
            creators.insert(c.id.clone(), c);
        }
    }
    let mut queued = 0;
    for a in inserted {
        let Some((c, to)) = creators
            .get(&a.subject_id)
            .and_then(|c| c.contact_email.as_deref().map(|to| (c, to)))
        else {
            continue;
        };
        let locale = crate::mail::Locale::ZhCn;
        let rendered = mail::templates::render(
            EmailKind::TierAchieved,
            &serde_json::json!({
                "locale": locale.as_str(),
                "display_name": c.nickname,
                "program": ctx.p.name,
                "tier": a.tier,
                "threshold": format_cny(a.threshold),
                "value": format_cny(a.value),
                "period_start": ctx.period.start.to_string(),
                "period_end": ctx.period.end.to_string(),
            }),
        )?;
        let email = NewEmail {
            kind: EmailKind::TierAchieved,
            merchant_id: None,
            recipient: to,
            locale,
            rendered,
            dedupe_key: format!("{}:{}", EmailKind::TierAchieved, a.id),
        };
        if mail::enqueue(txn, email).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// Emits `gmv.stale` once per stale spell: for every approved merchant whose last GMV is at
/// least [`STALE_DAYS`] days before `as_of` and whose spell has not been announced yet. Each
/// page is marked and emitted in one transaction. Returns how many events were emitted.
pub async fn emit_stale(db: &DatabaseConnection, as_of: DateTime<Utc>) -> anyhow::Result<u64> {
    let cutoff = as_of - Duration::days(STALE_DAYS);
    let mut emitted = 0;
    loop {
        let page: Vec<i64> = merchant::Entity::find()
            .select_only()
            .column(merchant::Column::Id)
            .filter(stale_condition(cutoff))
            .order_by_asc(merchant::Column::Id)
            .limit(CHUNK as u64)
            .into_tuple()
            .all(db)
            .await?;
        if page.is_empty() {
            return Ok(emitted);
        }
        emitted += crate::db::retry(|| async {
            let txn = crate::db::begin_write(db).await?;
            // Marked and read back in one statement, re-checked on the row, so a merchant whose
            // GMV arrived meanwhile is left alone.
            let marked = merchant::Entity::update_many()
                .col_expr(
                    merchant::Column::StaleNotifiedFor,
                    Expr::col(merchant::Column::LastGmvAt),
                )
                .filter(merchant::Column::Id.is_in(page.iter().copied()))
                .filter(stale_condition(cutoff))
                .exec_with_returning(&txn)
                .await?;
            let events = marked
                .iter()
                .filter_map(|m| {
                    let last = m.last_gmv_at?;
                    Some(NewEvent {
                        kind: WebhookEventType::GmvStale,
                        merchant_id: Some(m.id),
                        dedupe_key: format!("gmv.stale:{}:{}", m.id, last.timestamp_micros()),
                        data: serde_json::json!({
                            "merchant_id": m.id,
                            "display_name": m.display_name,
                            "last_gmv_at": last,
                            "days_without_gmv": (as_of - last).num_days(),
                        }),
                        at: as_of,
                    })
                })
                .collect();
            let n = webhooks::events::emit(&txn, events).await?.len() as u64;
            txn.commit().await?;
            Ok::<_, sea_orm::DbErr>(n)
        })
        .await?;
    }
}

/// No GMV for this many days makes a merchant stale.
pub const STALE_DAYS: i64 = 3;

fn stale_condition(cutoff: DateTime<Utc>) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(merchant::Column::Status.eq(MerchantStatus::Approved))
        .add(merchant::Column::LastGmvAt.lte(cutoff))
        .add(
            sea_orm::Condition::any()
                .add(merchant::Column::StaleNotifiedFor.is_null())
                .add(sea_orm::ExprTrait::ne(
                    Expr::col(merchant::Column::StaleNotifiedFor),
                    Expr::col(merchant::Column::LastGmvAt),
                )),
        )
}
