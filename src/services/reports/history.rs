//! History: a subject's value day by day (from the snapshots), a programme's tier counts day by
//! day (from the tallies evaluations write), and the retention that keeps only each day's last
//! snapshot once it is old.
//!
//! A snapshot is written only when a subject's value, tier, status or projection changed, and
//! carries the local day (programme time zone) of its run's `as_of`. A subject's standing on a
//! day is therefore its last snapshot on or before that day, within the period containing it.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use entity::{progress, progress_snapshot, tier_tally};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Value,
};

use super::{ReportsError, at_or_above, pictures};
use crate::{
    domain::{
        FieldError,
        period::{Period, Status, Tier},
        program::{ProgramDef, Subject},
    },
    services::evaluation::statement,
};

/// The longest span a history or trend covers, in days.
pub const MAX_DAYS: i64 = 731;

/// A subject's standing at the end of a day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryPoint {
    pub day: NaiveDate,
    pub period_start: NaiveDate,
    pub value: i64,
    pub tier: Option<String>,
    pub status: Status,
    pub projected: i64,
}

/// The programme's tier counts at the end of a day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrendPoint {
    pub day: NaiveDate,
    /// Subjects with a standing in the period containing the day.
    pub subjects: i64,
    /// Per tier, ascending: subjects at it or above.
    pub per_tier: Vec<super::TierCount>,
    /// Subjects whose projection reaches the top tier's threshold.
    pub projected_top_tier: i64,
}

fn check_span(from: NaiveDate, to: NaiveDate) -> Result<(), FieldError> {
    crate::domain::period::check_span(from, to, MAX_DAYS)
}

fn tier_name(tiers: &[Tier], index: i32) -> Option<String> {
    usize::try_from(index)
        .ok()
        .and_then(|i| tiers.get(i))
        .map(|t| t.name.clone())
}

/// Each day's last snapshot of one subject over `from..=to`, oldest first; a day on which
/// nothing changed has no item. A subject the programme never evaluated is not found.
pub async fn subject_history<C: ConnectionTrait>(
    db: &C,
    program_id: i64,
    def: &ProgramDef,
    subject_type: Subject,
    subject_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Option<Vec<HistoryPoint>>, ReportsError> {
    check_span(from, to)?;
    let known = subject_type == def.subject
        && progress::Entity::find()
            .filter(progress::Column::ProgramId.eq(program_id))
            .filter(progress::Column::SubjectId.eq(subject_id))
            .one(db)
            .await?
            .is_some();
    if !known {
        return Ok(None);
    }
    let sql = "SELECT * FROM progress_snapshot WHERE id IN (\
                 SELECT MAX(id) FROM progress_snapshot \
                 WHERE program_id = ? AND subject_id = ? AND day >= ? AND day <= ? \
                 GROUP BY day) \
               ORDER BY day";
    let values: Vec<Value> = vec![program_id.into(), subject_id.into(), from.into(), to.into()];
    let rows = progress_snapshot::Entity::find()
        .from_raw_sql(statement(db.get_database_backend(), sql, values))
        .all(db)
        .await?;
    Ok(Some(
        rows.into_iter()
            .map(|s| HistoryPoint {
                day: s.day,
                period_start: s.period_start,
                value: s.value,
                tier: tier_name(&def.tiers, s.tier_index),
                status: s.status,
                projected: s.projected,
            })
            .collect(),
    ))
}

/// Per day of `from..=to`: the subjects at or above each tier and those projected to reach
/// the top tier, in the period containing that day, as the last evaluation on or before that
/// day left the period (`tier_tally`, written by every evaluation from the period's progress;
/// a day without one carries the day before). Reads a few rows per evaluated day.
pub async fn trend(
    db: &DatabaseConnection,
    program_id: i64,
    def: &ProgramDef,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<TrendPoint>, ReportsError> {
    check_span(from, to)?;
    let period_of = |d: NaiveDate| {
        let cal = Period::containing_day(def.period, d);
        cal.clip(def.starts_on, def.ends_on).map(|p| p.start)
    };
    let first = Period::containing_day(def.period, from).start;
    let rows = tier_tally::Entity::find()
        .filter(tier_tally::Column::ProgramId.eq(program_id))
        .filter(tier_tally::Column::PeriodStart.gte(first))
        .filter(tier_tally::Column::Day.lte(to))
        .order_by_asc(tier_tally::Column::Day)
        .all(db)
        .await?;
    // Per period: the latest tallied day applied so far, its (tier index, subjects) and the
    // subjects projected to reach the top tier.
    #[derive(Default)]
    struct Counts {
        day: Option<NaiveDate>,
        per_index: Vec<(i32, i64)>,
        projected_top: i64,
    }
    let mut counts: HashMap<NaiveDate, Counts> = HashMap::new();
    let mut rows = rows.into_iter().peekable();
    let mut out = Vec::new();
    let mut day = from;
    loop {
        while let Some(r) = rows.next_if(|r| r.day <= day) {
            let c = counts.entry(r.period_start).or_default();
            if c.day != Some(r.day) {
                *c = Counts {
                    day: Some(r.day),
                    ..Default::default()
                };
            }
            c.per_index.push((r.tier_index, r.subjects));
            c.projected_top += r.projected_top;
        }
        let c = period_of(day).and_then(|p| counts.get(&p));
        let per_index = c.map_or(&[][..], |c| &c.per_index[..]);
        out.push(TrendPoint {
            day,
            subjects: per_index.iter().map(|(_, n)| n).sum(),
            per_tier: at_or_above(&def.tiers, per_index),
            projected_top_tier: c.map_or(0, |c| c.projected_top),
        });
        if day >= to {
            break;
        }
        day += Duration::days(1);
    }
    Ok(out)
}

/// Retention: of the snapshots of days before `today - keep_days`, keeps only each day's last
/// one per subject (and period); the newest snapshot of a subject is always its day's last,
/// so it is never removed. Returns the rows deleted.
pub async fn prune_snapshots(
    db: &DatabaseConnection,
    today: NaiveDate,
    keep_days: u32,
) -> Result<u64, DbErr> {
    let before = today - Duration::days(i64::from(keep_days));
    // A snapshot goes when a later one of its subject, period and day exists: each old one is
    // a probe of `ix_progress_snapshot_subject_day` (which the history reads too), with no
    // index of its own for retention to keep up on every evaluation.
    let sql = "DELETE FROM progress_snapshot WHERE day < ? AND EXISTS (\
                 SELECT 1 FROM progress_snapshot later \
                 WHERE later.program_id = progress_snapshot.program_id \
                 AND later.subject_id = progress_snapshot.subject_id \
                 AND later.day = progress_snapshot.day \
                 AND later.id > progress_snapshot.id \
                 AND later.period_start = progress_snapshot.period_start)";
    let values: Vec<Value> = vec![before.into()];
    let done = crate::db::retry(|| {
        db.execute_raw(statement(db.get_database_backend(), sql, values.clone()))
    })
    .await?;
    Ok(done.rows_affected())
}

/// The programme's tier counts day by day over `from..=to` (nothing when `to < from`),
/// starting at the first day anything was evaluated: what the goals charts draw.
pub async fn tier_trend(
    db: &DatabaseConnection,
    program_id: i64,
    def: &ProgramDef,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<TrendPoint>, ReportsError> {
    if to < from {
        return Ok(Vec::new());
    }
    let mut points = trend(db, program_id, def, from, to).await?;
    let first = points
        .iter()
        .position(|pt| pt.subjects > 0)
        .unwrap_or(points.len());
    points.drain(..first);
    Ok(points)
}

/// The lines of a goals chart: per tier the subjects at it or above, those projected to reach
/// the top tier (dashed), and the goal as a reference line.
pub fn tier_lines(
    def: &ProgramDef,
    trend: &[TrendPoint],
    projected_label: &str,
    goal_label: &str,
) -> (Vec<crate::charts::Series>, Vec<crate::charts::Rule>) {
    let mut lines: Vec<crate::charts::Series> = def
        .tiers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            pictures::series(
                t.name.clone(),
                trend
                    .iter()
                    .map(|pt| (pt.day, pt.per_tier.get(i).map_or(0, |c| c.at_or_above)))
                    .collect(),
                false,
            )
        })
        .collect();
    lines.push(pictures::series(
        projected_label.to_string(),
        trend
            .iter()
            .map(|pt| (pt.day, pt.projected_top_tier))
            .collect(),
        true,
    ));
    (
        lines,
        vec![pictures::rule(
            format!("{goal_label} {}", def.goal),
            def.goal,
        )],
    )
}
