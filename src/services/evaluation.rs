//! Evaluation: for every active programme and open period, every subject with GMV gets its
//! value, tier, projection and status (as `domain::period::{project, standing}` define them),
//! stored as the current `progress` plus a `progress_snapshot` when it changed; achievements
//! are recorded once per (programme, period, subject, tier) by the unique index.
//!
//! - Set-based in the database. A period's aggregate (`SUM … GROUP BY` over the daily
//!   roll-ups, never the raw records) is staged in a temporary table, and every subject's
//!   standing is computed from it once, beside its previous progress, into a second one; each
//!   write is then one statement: snapshots of what changed (`INSERT … SELECT … WHERE`), the
//!   progress upsert (`INSERT … SELECT … ON CONFLICT`), revocations and
//!   restorations (`UPDATE … WHERE EXISTS … RETURNING`), new achievements (`INSERT … SELECT …
//!   ON CONFLICT DO NOTHING RETURNING`). Only what is news (new or revoked achievements, a
//!   status that moved, a tier newly near) comes back to this process, for events and emails,
//!   so memory does not grow with the subjects; their emails are rendered here and written
//!   to the outbox a page at a time.
//! - On PostgreSQL the period is one transaction, staged by `CREATE TEMPORARY TABLE … AS`
//!   (whose query may run in parallel). On SQLite the stage is filled on a connection of its
//!   own outside any write transaction, so the write lock is held only for the writes.
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

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{achievement, job_run, merchant, program, progress};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect,
    Set, Statement, Value, sea_query::Expr,
};

use crate::{
    domain::{
        enums::{ProgressStatus, WebhookEventType},
        merchant::MerchantStatus,
        money::format_cny,
        period::{self, Period, local_day, run_rate_window},
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
/// Ids per `IN` list when reading merchants and creators to email.
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

/// The temporary table one period's aggregate is staged in: `subject_id`, `merchant_id`,
/// `value`, `recent` (the run-rate window's net GMV).
const STAGE: &str = "evaluation_stage";

/// The temporary table the staged subjects' standings are computed into, once per period.
const STANDING: &str = "evaluation_standing";

/// The temporary table the subjects whose standing is news are kept in while they are announced.
const NEWS: &str = "evaluation_news";

/// A temporary table of a PostgreSQL transaction goes with it; SQLite's stays with the
/// evaluation's own connection, emptied before each use.
fn on_commit_drop(backend: DatabaseBackend) -> &'static str {
    if backend == DatabaseBackend::Postgres {
        " ON COMMIT DROP"
    } else {
        ""
    }
}

/// SQL text and its values, appended together so placeholders and values stay in order.
#[derive(Default)]
struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.text.push('?');
        self.values.push(value.into());
        self
    }

    fn append(&mut self, other: &Sql) -> &mut Self {
        self.text.push_str(&other.text);
        self.values.extend(other.values.iter().cloned());
        self
    }

    fn statement(&self, backend: DatabaseBackend) -> Statement {
        statement(backend, &self.text, self.values.clone())
    }
}

/// A text literal for SQL built from the programme's own enum values.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Every subject's sums for one period, aggregated in the database: merchant-keyed roll-ups
/// are summed first and joined to their merchants after, so the join sees one row per
/// subject instead of one per day. Plain literals, no parameters, so PostgreSQL can run it
/// as `CREATE TABLE … AS`, whose query may use parallel workers (an `INSERT … SELECT` may not).
fn aggregate_sql(def: &ProgramDef, r: &Ranges) -> String {
    let range = |from: NaiveDate, to: NaiveDate| format!("g.day >= '{from}' AND g.day <= '{to}'");
    let sum_of = |from: NaiveDate, to: NaiveDate| {
        format!(
            "CAST(COALESCE(SUM(g.amount) FILTER (WHERE {}), 0) AS BIGINT)",
            range(from, to)
        )
    };
    // Past a period's first weeks the run-rate window lies inside the period: the rows read
    // are then exactly the value's, which needs no filter of its own.
    let value = if r.value_from <= r.recent_from && r.recent_to <= r.value_to {
        "CAST(SUM(g.amount) AS BIGINT)".to_string()
    } else {
        sum_of(r.value_from, r.value_to)
    };
    let sums = format!(
        "{value} AS value, {} AS recent",
        sum_of(r.recent_from, r.recent_to)
    );
    let mut rollups = range(r.value_from.min(r.recent_from), r.value_to.max(r.recent_to));
    if def.metric == Metric::ChannelGmv
        && let Some(c) = def.channel
    {
        rollups.push_str(&format!(" AND g.channel = {}", literal(c.as_str())));
    }
    let kinds: Vec<String> = def
        .merchant_kinds
        .iter()
        .map(|k| literal(k.as_str()))
        .collect();
    let merchants = format!(
        "m.status = {} AND m.kind IN ({})",
        literal(MerchantStatus::Approved.as_str()),
        kinds.join(", ")
    );
    match def.subject {
        Subject::Merchant => format!(
            "SELECT CAST(a.merchant_id AS TEXT) AS subject_id, a.merchant_id, a.value, a.recent \
             FROM (SELECT g.merchant_id, {sums} FROM gmv_daily_merchant g WHERE {rollups} \
             GROUP BY g.merchant_id) a JOIN merchant m ON m.id = a.merchant_id WHERE {merchants}"
        ),
        Subject::Product => format!(
            "SELECT CAST(a.merchant_id AS TEXT) || ':' || a.product_id AS subject_id, \
             a.merchant_id, a.value, a.recent \
             FROM (SELECT g.merchant_id, g.product_id, {sums} FROM gmv_daily_product g \
             WHERE {rollups} GROUP BY g.merchant_id, g.product_id) a \
             JOIN merchant m ON m.id = a.merchant_id WHERE {merchants}"
        ),
        // A creator sells for several merchants; only approved ones' sales count.
        Subject::Creator => format!(
            "SELECT g.creator_id AS subject_id, CAST(NULL AS BIGINT) AS merchant_id, {sums} \
             FROM gmv_daily_creator g JOIN merchant m ON m.id = g.merchant_id \
             WHERE {rollups} AND {merchants} GROUP BY g.creator_id"
        ),
    }
}

/// The programme's tiers as rows `(idx, name, threshold, at_risk_from)`, where
/// `at_risk_from` is the least projection at 80% of the threshold (`⌈4t/5⌉`, so the
/// comparison needs no multiplication that could overflow).
fn tiers_sql(def: &ProgramDef) -> Sql {
    let mut sql = Sql::default();
    sql.push("(");
    for (i, t) in def.tiers.iter().enumerate() {
        let at_risk_from = (i128::from(t.threshold) * 4 + 4) / 5;
        sql.push(if i == 0 {
            "SELECT "
        } else {
            " UNION ALL SELECT "
        })
        .push(&format!("{i} AS idx, "))
        .bind(t.name.clone())
        .push(&format!(
            " AS name, CAST({} AS BIGINT) AS threshold, \
                 CAST({at_risk_from} AS BIGINT) AS at_risk_from",
            t.threshold
        ));
    }
    sql.push(")");
    sql
}

/// Each staged subject's standing, as `domain::period::{project, standing}` define it (a unit
/// test holds the two to the same answers): `subject_id, merchant_id, value, projected,
/// tier_index, tier, next_tier, next_threshold, remaining, status`.
fn standings_sql(def: &ProgramDef, r: &Ranges) -> Sql {
    // value + recent × seconds_left / (window_days × 86,400), rounded toward zero, split as
    // q·S + (rem·S)/D so no intermediate product exceeds i64 for any realistic amount.
    let (per, secs) = if r.window_days > 0 && r.seconds_left > 0 {
        (r.window_days * 86_400, r.seconds_left)
    } else {
        (1, 0)
    };
    let mut tier_index = String::from("CASE");
    for (i, t) in def.tiers.iter().enumerate().rev() {
        tier_index.push_str(&format!(" WHEN value >= {} THEN {i}", t.threshold));
    }
    tier_index.push_str(" ELSE -1 END");
    let tiers = tiers_sql(def);
    let mut sql = Sql::default();
    sql.push(
        "SELECT x.subject_id, x.merchant_id, x.value, x.projected, x.tier_index, \
         c.name AS tier, n.name AS next_tier, n.threshold AS next_threshold, \
         COALESCE(n.threshold - x.value, 0) AS remaining, CASE WHEN n.idx IS NULL THEN ",
    )
    .bind(ProgressStatus::Achieved)
    .push(" WHEN x.projected >= n.threshold THEN ")
    .bind(ProgressStatus::OnTrack)
    .push(" WHEN x.projected >= n.at_risk_from THEN ")
    .bind(ProgressStatus::AtRisk)
    .push(" ELSE ")
    .bind(ProgressStatus::Behind)
    .push(&format!(
        " END AS status FROM (SELECT subject_id, merchant_id, value, \
         value + (recent / {per}) * {secs} + ((recent % {per}) * {secs}) / {per} AS projected, \
         {tier_index} AS tier_index FROM {STAGE}) x LEFT JOIN "
    ))
    .append(&tiers)
    .push(" c ON c.idx = x.tier_index LEFT JOIN ")
    .append(&tiers)
    .push(" n ON n.idx = x.tier_index + 1");
    sql
}

/// A subject whose standing is news: its status moved, or it came near a tier.
struct Outcome {
    subject_id: String,
    merchant_id: Option<i64>,
    value: i64,
    standing: period::Standing,
}

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
    let aggregate = aggregate_sql(def, &r);
    let counts = if crate::db::is_postgres(db) {
        // One transaction: the aggregate is staged in a table dropped at commit, then every
        // write is a statement over it. Nothing else waits on the rows it locks.
        crate::db::retry(|| async {
            let txn = crate::db::begin_write(db).await?;
            let staged = txn
                .execute_unprepared(&format!(
                    "CREATE TEMPORARY TABLE {STAGE} ON COMMIT DROP AS {aggregate}"
                ))
                .await?
                .rows_affected();
            txn.execute_unprepared(&format!("ANALYZE {STAGE}")).await?;
            let c = write_standings(&txn, run_id, p, def, period, as_of, &r, started).await?;
            txn.commit().await?;
            Ok::<_, anyhow::Error>(Counts {
                subjects_evaluated: staged as i64,
                ..c
            })
        })
        .await
        .map_err(overflow_named)?
    } else {
        // SQLite has one writer: the aggregate is staged into a temporary table of a
        // connection of its own, outside any write transaction (a reader never blocks
        // ingestion), and only the writes from it take the write lock.
        let own = crate::db::own_connection(db).await?;
        own.execute_unprepared(&format!(
            "CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (subject_id TEXT PRIMARY KEY, \
             merchant_id INTEGER, value INTEGER NOT NULL, recent INTEGER NOT NULL)"
        ))
        .await?;
        own.execute_unprepared(&format!("DELETE FROM {STAGE}"))
            .await?;
        let staged = own
            .execute_unprepared(&format!(
                "INSERT INTO {STAGE} (subject_id, merchant_id, value, recent) {aggregate}"
            ))
            .await?
            .rows_affected();
        let c = crate::db::retry(|| async {
            let txn = crate::db::begin_write(&own).await?;
            let c = write_standings(&txn, run_id, p, def, period, as_of, &r, started).await?;
            txn.commit().await?;
            Ok::<_, anyhow::Error>(c)
        })
        .await?;
        own.close().await?;
        Counts {
            subjects_evaluated: staged as i64,
            ..c
        }
    };
    on_progress(&p.name, counts.subjects_evaluated as u64);
    let day = period::local_day(def.time_zone, as_of);
    crate::db::retry(|| write_tally(db, run_id, p.id, def, period, day)).await?;
    Ok(counts)
}

/// One row of the news table: the subject's outcome and its status before this run.
fn news_row(row: &QueryResult) -> anyhow::Result<(Outcome, Option<ProgressStatus>)> {
    let parse =
        |s: &str| ProgressStatus::parse(s).with_context(|| format!("a progress status {s:?}"));
    let tier_index: i32 = row.try_get_by_index(4)?;
    let next_threshold: Option<i64> = row.try_get_by_index(5)?;
    let status: String = row.try_get_by_index(7)?;
    let before: Option<String> = row.try_get_by_index(8)?;
    Ok((
        Outcome {
            subject_id: row.try_get_by_index(0)?,
            merchant_id: row.try_get_by_index(1)?,
            value: row.try_get_by_index(2)?,
            standing: period::Standing {
                tier_index,
                next_index: next_threshold.map(|_| (tier_index + 1) as usize),
                next_threshold,
                remaining: row.try_get_by_index(6)?,
                projected: row.try_get_by_index(3)?,
                status: parse(&status)?,
            },
        },
        before.as_deref().map(parse).transpose()?,
    ))
}

/// PostgreSQL refuses an i64 overflow (code 22003) where the domain's checked arithmetic
/// would have failed with [`period::Overflow`]: named as such.
fn overflow_named(e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<DbErr>().and_then(crate::db::database_code) {
        Some(code) if code == "22003" => e.context(period::Overflow("the evaluation's arithmetic")),
        _ => e,
    }
}

/// Writes one staged period, each kind of write one statement over the stage: the subjects
/// whose standing is news are read first (for events and emails), then snapshots of what
/// changed, the progress upsert, revocations, restorations and new achievements.
#[allow(clippy::too_many_arguments)]
async fn write_standings(
    txn: &DatabaseTransaction,
    run_id: i64,
    p: &program::Model,
    def: &ProgramDef,
    period: Period,
    as_of: DateTime<Utc>,
    r: &Ranges,
    started: DateTime<Utc>,
) -> anyhow::Result<Counts> {
    let backend = txn.get_database_backend();
    let now = Utc::now();
    let day = period::local_day(def.time_zone, as_of);
    let standings = standings_sql(def, r);
    if backend == DatabaseBackend::Sqlite {
        // SQLite turns an overflowing integer product into a float instead of failing.
        let mut check = Sql::default();
        check
            .push("SELECT COUNT(*) FROM (")
            .append(&standings)
            .push(") s WHERE typeof(s.projected) <> 'integer' OR typeof(s.remaining) <> 'integer'");
        let bad: i64 = match txn.query_one_raw(check.statement(backend)).await? {
            Some(row) => row.try_get_by_index(0)?,
            None => 0,
        };
        anyhow::ensure!(bad == 0, period::Overflow("the run-rate projection"));
    }
    // Every subject's standing is computed once, beside what its previous progress row said,
    // with two marks: news (a status that moved, or a next tier newly within 10%, as
    // `webhook::near_tier` says) and a snapshot (the value, tier, status or projection
    // changed, or the subject is new). News, snapshots and the progress upsert then read this
    // table instead of each joining the stage to the progress again.
    let near = |a: &str| {
        format!(
            "({a}.next_threshold IS NOT NULL AND {a}.remaining > 0 AND {a}.next_threshold > 0 \
             AND {a}.remaining <= {a}.next_threshold / 10)"
        )
    };
    let news_mark = format!(
        "(p.status IS NOT NULL AND p.status <> s.status) OR ({} AND NOT (p.subject_id IS \
         NOT NULL AND COALESCE(p.next_tier, '') = COALESCE(s.next_tier, '') AND {}))",
        near("s"),
        near("p")
    );
    let snapshot_mark = "p.subject_id IS NULL OR p.value <> s.value OR p.tier_index <> \
                         s.tier_index OR p.status <> s.status OR p.projected <> s.projected";
    txn.execute_unprepared(&format!(
        "CREATE TEMPORARY TABLE IF NOT EXISTS {STANDING} (subject_id TEXT NOT NULL, \
         merchant_id BIGINT, value BIGINT NOT NULL, projected BIGINT NOT NULL, \
         tier_index INTEGER NOT NULL, tier TEXT, next_tier TEXT, next_threshold BIGINT, \
         remaining BIGINT NOT NULL, status TEXT NOT NULL, status_before TEXT, \
         news INTEGER NOT NULL, snapshot INTEGER NOT NULL){}",
        on_commit_drop(backend)
    ))
    .await?;
    txn.execute_unprepared(&format!("DELETE FROM {STANDING}"))
        .await?;
    let mut fill = Sql::default();
    fill.push(&format!(
        "INSERT INTO {STANDING} SELECT s.subject_id, s.merchant_id, s.value, s.projected, \
         s.tier_index, s.tier, s.next_tier, s.next_threshold, s.remaining, s.status, p.status, \
         CASE WHEN {news_mark} THEN 1 ELSE 0 END, \
         CASE WHEN {snapshot_mark} THEN 1 ELSE 0 END FROM ("
    ))
    .append(&standings)
    .push(") s LEFT JOIN progress p ON p.program_id = ")
    .bind(p.id)
    .push(" AND p.period_start = ")
    .bind(period.start)
    .push(" AND p.subject_id = s.subject_id");
    txn.execute_raw(fill.statement(backend)).await?;

    // The news is kept in a table of its own and read back a page at a time, so memory holds
    // one page.
    txn.execute_unprepared(&format!(
        "CREATE TEMPORARY TABLE IF NOT EXISTS {NEWS} (subject_id TEXT PRIMARY KEY, \
         merchant_id BIGINT, value BIGINT NOT NULL, projected BIGINT NOT NULL, \
         tier_index INTEGER NOT NULL, next_threshold BIGINT, remaining BIGINT NOT NULL, \
         status TEXT NOT NULL, status_before TEXT){}",
        on_commit_drop(backend)
    ))
    .await?;
    txn.execute_unprepared(&format!("DELETE FROM {NEWS}"))
        .await?;
    txn.execute_unprepared(&format!(
        "INSERT INTO {NEWS} SELECT subject_id, merchant_id, value, projected, tier_index, \
         next_threshold, remaining, status, status_before FROM {STANDING} WHERE news = 1"
    ))
    .await?;

    // History: a snapshot only when the value, tier, status or projection changed.
    let mut snapshots = Sql::default();
    snapshots
        .push(
            "INSERT INTO progress_snapshot (day, run_id, program_id, period_start, subject_id, \
             value, tier_index, projected, status, evaluated_at) SELECT ",
        )
        .bind(day)
        .push(", ")
        .bind(run_id)
        .push(", ")
        .bind(p.id)
        .push(", ")
        .bind(period.start)
        .push(", subject_id, value, tier_index, projected, status, ")
        .bind(now)
        .push(&format!(" FROM {STANDING} WHERE snapshot = 1"));
    txn.execute_raw(snapshots.statement(backend)).await?;

    // Current progress: one row per (programme, period, subject), replaced.
    let mut upsert = Sql::default();
    upsert
        .push(
            "INSERT INTO progress (program_id, period_start, subject_id, period_end, \
             subject_type, merchant_id, value, tier_index, tier, next_tier, next_threshold, \
             remaining, projected, status, evaluated_at, run_id) SELECT ",
        )
        .bind(p.id)
        .push(", ")
        .bind(period.start)
        .push(", subject_id, ")
        .bind(period.end)
        .push(", ")
        .bind(def.subject)
        .push(
            ", merchant_id, value, tier_index, tier, next_tier, next_threshold, remaining, \
             projected, status, ",
        )
        .bind(now)
        .push(", ")
        .bind(run_id)
        // `WHERE` keeps SQLite from reading `ON CONFLICT` as a join constraint.
        .push(&format!(
            " FROM {STANDING} WHERE 1 = 1 ON CONFLICT (program_id, subject_id, period_start) \
             DO UPDATE SET \
             period_end = excluded.period_end, subject_type = excluded.subject_type, \
             merchant_id = excluded.merchant_id, value = excluded.value, \
             tier_index = excluded.tier_index, tier = excluded.tier, \
             next_tier = excluded.next_tier, next_threshold = excluded.next_threshold, \
             remaining = excluded.remaining, projected = excluded.projected, \
             status = excluded.status, evaluated_at = excluded.evaluated_at, \
             run_id = excluded.run_id"
        ));
    txn.execute_raw(upsert.statement(backend)).await?;
    // Subjects that no longer qualify leave the leaderboard; rows written after this
    // period's evaluation started (by this or a concurrent run) stay.
    progress::Entity::delete_many()
        .filter(progress::Column::ProgramId.eq(p.id))
        .filter(progress::Column::PeriodStart.eq(period.start))
        .filter(progress::Column::EvaluatedAt.lt(started))
        .exec(txn)
        .await?;

    // Achievements a refund took back under their threshold are revoked; those climbed back
    // above it are restored (keeping their first `achieved_at`).
    let achievements_where = |sql: &mut Sql, revoked: bool, compare: &str| {
        sql.push(" WHERE program_id = ")
            .bind(p.id)
            .push(" AND period_start = ")
            .bind(period.start)
            .push(&format!(
                " AND revoked_at IS {} NULL AND EXISTS (SELECT 1 FROM {STAGE} s WHERE \
                 s.subject_id = achievement.subject_id AND s.value {compare} \
                 achievement.threshold) RETURNING id",
                if revoked { "NOT" } else { "" }
            ));
    };
    let mut revoke = Sql::default();
    revoke
        .push("UPDATE achievement SET revoked_at = ")
        .bind(now);
    achievements_where(&mut revoke, false, "<");
    let revoked: Vec<i64> = txn
        .query_all_raw(revoke.statement(backend))
        .await?
        .iter()
        .map(|row| row.try_get_by_index(0))
        .collect::<Result<_, _>>()?;
    let mut restore = Sql::default();
    restore.push("UPDATE achievement SET revoked_at = NULL");
    achievements_where(&mut restore, true, ">=");
    let restored: Vec<i64> = txn
        .query_all_raw(restore.statement(backend))
        .await?
        .iter()
        .map(|row| row.try_get_by_index(0))
        .collect::<Result<_, _>>()?;
    // Their rewards follow: a revocation cancels what is still pending, a cleared one
    // makes it pending again.
    rewards::move_status(
        txn,
        &revoked,
        RewardStatus::Pending,
        RewardStatus::Cancelled,
    )
    .await?;
    rewards::move_status(
        txn,
        &restored,
        RewardStatus::Cancelled,
        RewardStatus::Pending,
    )
    .await?;

    // Every tier reached is recorded once, by the unique index.
    let mut add = Sql::default();
    add.push(
        "INSERT INTO achievement (program_id, period_start, subject_type, subject_id, \
         merchant_id, tier, threshold, value, achieved_at, run_id) SELECT ",
    )
    .bind(p.id)
    .push(", ")
    .bind(period.start)
    .push(", ")
    .bind(def.subject)
    .push(", s.subject_id, s.merchant_id, t.name, t.threshold, s.value, ")
    .bind(as_of)
    .push(", ")
    .bind(run_id)
    .push(&format!(" FROM {STAGE} s JOIN "))
    .append(&tiers_sql(def))
    .push(
        " t ON s.value >= t.threshold WHERE 1 = 1 ON CONFLICT (program_id, period_start, \
         subject_id, tier) DO NOTHING",
    );
    let recorded = txn
        .execute_raw(add.statement(backend))
        .await?
        .rows_affected();

    // What the new achievements earn, and the events and emails of all the news, a slice at a
    // time so memory does not grow with them.
    let ctx = EventContext {
        p,
        def,
        period,
        now,
    };
    let mut emails = 0;
    // This run's rows of the period are exactly the ones it recorded (a conflict wrote nothing).
    let mut after = 0;
    loop {
        let page = achievement::Entity::find()
            .filter(achievement::Column::RunId.eq(run_id))
            .filter(achievement::Column::ProgramId.eq(p.id))
            .filter(achievement::Column::PeriodStart.eq(period.start))
            .filter(achievement::Column::Id.gt(after))
            .order_by_asc(achievement::Column::Id)
            .limit(CHUNK as u64)
            .all(txn)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        rewards::create_for(txn, def, &page, period.end, now).await?;
        emails += announce(txn, &ctx, run_id, &page, &[], &[]).await?;
    }
    for chunk in revoked.chunks(CHUNK) {
        let page = achievement::Entity::find()
            .filter(achievement::Column::Id.is_in(chunk.iter().copied()))
            .all(txn)
            .await?;
        emails += announce(txn, &ctx, run_id, &[], &page, &[]).await?;
    }
    let mut after = String::new();
    loop {
        let mut next = Sql::default();
        next.push(&format!(
            "SELECT subject_id, merchant_id, value, projected, tier_index, next_threshold, \
             remaining, status, status_before FROM {NEWS} WHERE subject_id > "
        ))
        .bind(after.clone())
        .push(&format!(" ORDER BY subject_id LIMIT {CHUNK}"));
        let page = txn
            .query_all_raw(next.statement(backend))
            .await?
            .iter()
            .map(news_row)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let Some((last, _)) = page.last() else { break };
        after = last.subject_id.clone();
        emails += announce(txn, &ctx, run_id, &[], &[], &page).await?;
    }
    Ok(Counts {
        achievements_recorded: recorded as i64,
        achievements_revoked: revoked.len() as i64,
        emails_queued: emails,
        ..Counts::default()
    })
}

/// Events for webhooks, and the emails they cause, in the evaluation's transaction: for new
/// achievements, revoked ones, and subjects whose standing is news (with their status before).
/// Returns how many emails were queued.
async fn announce(
    txn: &DatabaseTransaction,
    ctx: &EventContext<'_>,
    run_id: i64,
    inserted: &[achievement::Model],
    revoked: &[achievement::Model],
    news: &[(Outcome, Option<ProgressStatus>)],
) -> anyhow::Result<i64> {
    let mut events = Vec::new();
    for a in inserted {
        events.push(ctx.achievement(
            WebhookEventType::AchievementRecorded,
            a,
            format!("achievement.recorded:{}", a.id),
        ));
    }
    for a in revoked {
        events.push(ctx.achievement(
            WebhookEventType::AchievementRevoked,
            a,
            format!(
                "achievement.revoked:{}:{}",
                a.id,
                ctx.now.timestamp_micros()
            ),
        ));
    }
    // The progress events a merchant also hears of by email, by dedupe key.
    let mut alerts_of: HashMap<String, (EmailKind, &Outcome)> = HashMap::new();
    for (o, before) in news {
        for e in ctx.progress_events(o, *before, run_id) {
            let kind = match e.kind {
                WebhookEventType::ProgressNearTier => Some(EmailKind::NearTier),
                WebhookEventType::ProgressStatusChanged
                    if o.standing.status == ProgressStatus::AtRisk =>
                {
                    Some(EmailKind::AtRisk)
                }
                _ => None,
            };
            if let Some(kind) = kind.filter(|_| o.merchant_id.is_some()) {
                alerts_of.insert(e.dedupe_key.clone(), (kind, o));
            }
            events.push(e);
        }
    }
    let emitted = webhooks::events::emit(txn, events).await?;
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
    queue_emails(txn, ctx, inserted, &alerts).await
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
        let (id, merchant_id) = (&o.subject_id, o.merchant_id);
        let key = format!("{}:{}:{}", self.p.id, self.period.start, id);
        let mut out = Vec::new();
        if let Some(from) = before.filter(|b| *b != s.status) {
            let mut data = self.subject(id, merchant_id);
            data["from"] = serde_json::to_value(from).unwrap_or_default();
            data["to"] = serde_json::to_value(s.status).unwrap_or_default();
            data["value"] = o.value.into();
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
            data["value"] = o.value.into();
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
    merchant_ids.extend(alerts.iter().filter_map(|a| a.outcome.merchant_id));
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
            .chain(alerts.iter().map(|a| a.outcome.subject_id.as_str()))
            .map(|id| (Subject::Product, id))
            .collect();
        crate::services::reports::names::subject_names(txn, &subjects).await?
    } else {
        HashMap::new()
    };
    let product_label =
        |id: &str| crate::services::reports::names::label(&product_names, Subject::Product, id);
    let (p, period) = (ctx.p, ctx.period);
    // Rendered here, written to the outbox together at the end.
    let mut outbox = Vec::new();
    let mut send = |kind: EmailKind,
                    merchant_id: i64,
                    mut vars: serde_json::Value,
                    dedupe_key: String|
     -> anyhow::Result<()> {
        let m = &merchants[&merchant_id];
        vars["locale"] = m.locale.as_str().into();
        vars["display_name"] = m.display_name.clone().into();
        vars["program"] = p.name.clone().into();
        vars["period_start"] = period.start.to_string().into();
        vars["period_end"] = period.end.to_string().into();
        outbox.push(NewEmail {
            kind,
            merchant_id: Some(m.id),
            recipient: &m.contact_email,
            locale: m.locale,
            rendered: mail::templates::render(kind, &vars)?,
            dedupe_key,
        });
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
            m.id,
            vars,
            format!("{}:{}", EmailKind::TierAchieved, a.id),
        )?;
    }
    for alert in alerts {
        let o = alert.outcome;
        let Some(m) = o.merchant_id.and_then(|id| merchants.get(&id)) else {
            continue;
        };
        let subject_id = o.subject_id.as_str();
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
            "value": format_cny(o.value),
        });
        let kind = alert.kind;
        let wanted = match kind {
            EmailKind::NearTier => m.notify_near_tier,
            _ => m.notify_at_risk,
        };
        if wanted {
            send(kind, m.id, vars, format!("{kind}:{}", alert.dedupe_key))?;
        }
    }
    queued += mail::enqueue_many(txn, outbox).await? as i64;
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
    let mut outbox = Vec::new();
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
        outbox.push(NewEmail {
            kind: EmailKind::TierAchieved,
            merchant_id: None,
            recipient: to,
            locale,
            rendered,
            dedupe_key: format!("{}:{}", EmailKind::TierAchieved, a.id),
        });
    }
    Ok(mail::enqueue_many(txn, outbox).await? as i64)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::period::{Tier, project, standing};
    use sea_orm::TransactionTrait;

    fn def(thresholds: &[i64]) -> ProgramDef {
        ProgramDef {
            name: "p".into(),
            description: String::new(),
            subject: Subject::Merchant,
            merchant_kinds: vec![],
            metric: Metric::Gmv,
            channel: None,
            period: entity::enums::PeriodKind::Year,
            time_zone: chrono_tz::Asia::Shanghai,
            starts_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            ends_on: None,
            tiers: thresholds
                .iter()
                .enumerate()
                .map(|(i, &threshold)| Tier {
                    name: format!("tier '{i}' ?"),
                    threshold,
                    rewards: vec![],
                })
                .collect(),
            goal: 1,
            active: true,
        }
    }

    /// The SQL standing agrees with `domain::period::{project, standing}` on every value
    /// around every threshold and 80% mark, positive and negative run rates, and with and
    /// without a window or time left — on the backend the tests run on.
    #[tokio::test]
    async fn sql_standing_is_the_domain_standing() {
        let url = std::env::var("TEST_DATABASE_URL").unwrap_or("sqlite::memory:".into());
        let db = sea_orm::Database::connect(url).await.unwrap();
        let backend = db.get_database_backend();
        let def = def(&[1_000, 5_003, 10_000_000_007]);
        let mut values = vec![i64::MIN / 4, -7, 0, 1, 999_999_999_999];
        for t in &def.tiers {
            let at_risk = (t.threshold * 4 + 4) / 5;
            for base in [t.threshold, at_risk, t.threshold - t.threshold / 10] {
                values.extend([base - 2, base - 1, base, base + 1]);
            }
        }
        let recents = [-86_400_123, -1, 0, 1, 27, 86_400 * 28 + 13, 5_000_000_001];
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        for (window_days, seconds_left) in [(28, 2_592_000 + 3_599), (28, 0), (0, 86_400), (7, 1)] {
            let r = Ranges {
                value_from: d("2026-01-01"),
                value_to: d("2026-12-01"),
                recent_from: d("2026-11-03"),
                recent_to: d("2026-11-30"),
                window_days,
                seconds_left,
            };
            let txn = db.begin().await.unwrap();
            txn.execute_unprepared(&format!(
                "CREATE TEMPORARY TABLE {STAGE} (subject_id TEXT PRIMARY KEY, \
                 merchant_id BIGINT, value BIGINT NOT NULL, recent BIGINT NOT NULL)"
            ))
            .await
            .unwrap();
            let mut expected = HashMap::new();
            for (i, &value) in values.iter().enumerate() {
                for (j, &recent) in recents.iter().enumerate() {
                    let id = format!("{i}-{j}");
                    let mut insert = Sql::default();
                    insert
                        .push(&format!("INSERT INTO {STAGE} VALUES ("))
                        .bind(id.clone())
                        .push(", NULL, ")
                        .bind(value)
                        .push(", ")
                        .bind(recent)
                        .push(")");
                    txn.execute_raw(insert.statement(backend)).await.unwrap();
                    let projected = project(value, recent, window_days, seconds_left).unwrap();
                    expected.insert(id, standing(&def.tiers, value, projected).unwrap());
                }
            }
            let rows = txn
                .query_all_raw(standings_sql(&def, &r).statement(backend))
                .await
                .unwrap();
            assert_eq!(rows.len(), expected.len());
            for row in rows {
                let id: String = row.try_get_by_index(0).unwrap();
                let want = &expected[&id];
                let tier_index: i32 = row.try_get_by_index(4).unwrap();
                let status: String = row.try_get_by_index(9).unwrap();
                let got = period::Standing {
                    tier_index,
                    next_index: row
                        .try_get_by_index::<Option<i64>>(7)
                        .unwrap()
                        .map(|_| (tier_index + 1) as usize),
                    next_threshold: row.try_get_by_index(7).unwrap(),
                    remaining: row.try_get_by_index(8).unwrap(),
                    projected: row.try_get_by_index(3).unwrap(),
                    status: ProgressStatus::parse(&status).unwrap(),
                };
                assert_eq!(
                    &got, want,
                    "subject {id}, window {window_days}, left {seconds_left}"
                );
                let tier: Option<String> = row.try_get_by_index(5).unwrap();
                let next: Option<String> = row.try_get_by_index(6).unwrap();
                let name = |i: Option<usize>| i.map(|i| def.tiers[i].name.clone());
                assert_eq!(tier, name(usize::try_from(want.tier_index).ok()));
                assert_eq!(next, name(want.next_index));
            }
            txn.rollback().await.unwrap();
        }
    }
}
