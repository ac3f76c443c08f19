//! Every figure a person sees, computed once: the programme summary (subjects per tier, by
//! status, projected to reach the top tier, the GMV structure against the previous period), the
//! leaderboard and a merchant's progress, the weekly merchant report and the daily staff digest. The API, the emails and the dashboard all
//! call these functions, so the same question never has two answers.
//!
//! Definitions:
//! - "Subjects per tier" are the subjects at that tier **or above**.
//! - The GMV structure of a span of local days counts approved merchants only, restricted by
//!   the programme's filters (its `merchant_kinds`, and for `metric = channel_gmv` only its
//!   `channel`): `brand_live_stream` is the live-stream GMV of brand merchants,
//!   `industry_belt` all GMV of industry-belt merchants, `total` all of it. Shares are in basis
//!   points of the **marketplace's own GMV** of the span (`PUT /platform/gmv/{day}`), rounded
//!   toward zero, and absent unless every day of the span has a platform total (and it is
//!   positive); `coverage_days` counts the days that have one. Sums are checked: an overflow
//!   is an error, never a wrap.

pub mod history;
pub mod leaderboard;
pub mod names;
pub mod pictures;
pub mod staff_daily;
pub mod weekly;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use entity::{progress, tier_tally};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Value,
};

use crate::{
    domain::{
        enums::StructureSplit,
        gmv::Granularity,
        merchant::MerchantKind,
        period::{Overflow, Period, Status, Tier, local_day},
        program::{Channel, Metric, ProgramDef},
    },
    services::evaluation::statement,
};

/// What can go wrong computing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportsError {
    #[error(transparent)]
    Invalid(#[from] crate::domain::FieldError),
    #[error(transparent)]
    Db(#[from] DbErr),
    /// A sum left the range of i64 fen.
    #[error(transparent)]
    Overflow(#[from] Overflow),
    /// A stored programme no longer passes validation (rows are validated when written).
    #[error("programme {id}: the stored definition is invalid")]
    InvalidProgram {
        id: i64,
        #[source]
        source: anyhow::Error,
    },
}

/// The definition stored in a programme row.
pub fn program_def(p: &entity::program::Model) -> Result<ProgramDef, ReportsError> {
    ProgramDef::from_row(p).map_err(|source| ReportsError::InvalidProgram { id: p.id, source })
}

/// `part / whole` in basis points (1/100 of a percent), rounded toward zero; `None` when
/// `whole` is not positive (or the share does not fit an i64, which only a total shrunk to
/// almost nothing by refunds can cause).
pub fn share_bp(part: i64, whole: i64) -> Option<i64> {
    if whole <= 0 {
        return None;
    }
    i64::try_from(i128::from(part) * 10_000 / i128::from(whole)).ok()
}

/// Basis points as a percentage with two decimals: `1234` → `12.34%`.
pub fn format_bp(bp: i64) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    let a = bp.unsigned_abs();
    format!("{sign}{}.{:02}%", a / 100, a % 100)
}

/// An instant as the reports show it: local time in Asia/Shanghai to the minute.
pub fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Periods

/// The period a report shows: the one starting `period_start` when given; else the one
/// containing `as_of` when given; else the latest evaluated one, or the one containing now when
/// nothing was evaluated yet. Calendar periods are clipped to the programme's dates.
pub async fn resolve_period<C: ConnectionTrait>(
    db: &C,
    program_id: i64,
    def: &ProgramDef,
    period_start: Option<NaiveDate>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Period, ReportsError> {
    let day = match (period_start, as_of) {
        (Some(s), _) => s,
        (None, Some(at)) => local_day(def.time_zone, at),
        (None, None) => progress::Entity::find()
            .select_only()
            .column_as(progress::Column::PeriodStart.max(), "s")
            .filter(progress::Column::ProgramId.eq(program_id))
            .into_tuple::<Option<NaiveDate>>()
            .one(db)
            .await?
            .flatten()
            .unwrap_or_else(|| local_day(def.time_zone, Utc::now())),
    };
    Ok(period_of_day(def, day))
}

/// The programme's period containing `day`, clipped to the programme's dates.
pub fn period_of_day(def: &ProgramDef, day: NaiveDate) -> Period {
    let cal = Period::containing_day(def.period, day);
    cal.clip(def.starts_on, def.ends_on).unwrap_or(cal)
}

// ---------------------------------------------------------------------------------------------
// GMV structure

/// Whose GMV a programme's figures count: approved merchants of `kinds`, and only `channel`
/// when it is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GmvScope {
    pub kinds: Vec<MerchantKind>,
    pub channel: Option<Channel>,
}

impl GmvScope {
    /// The programme's filters: its merchant kinds, and its channel for `channel_gmv`.
    pub fn of(def: &ProgramDef) -> Self {
        Self {
            kinds: def.merchant_kinds.clone(),
            channel: def.channel.filter(|_| def.metric == Metric::ChannelGmv),
        }
    }
}

/// Which merchant attribute splits each bucket of the GMV structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StructureGroup {
    IndustryBelt,
    Province,
    Category,
}

impl StructureGroup {
    /// The rows of the kept structure split by this attribute.
    pub fn split(self) -> StructureSplit {
        match self {
            Self::IndustryBelt => StructureSplit::IndustryBelt,
            Self::Province => StructureSplit::Province,
            Self::Category => StructureSplit::Category,
        }
    }
}

/// How a span of days is cut into buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buckets {
    /// One bucket, the whole span.
    Whole,
    /// Days, ISO weeks or calendar months, each clipped to the span.
    By(Granularity),
}

/// The GMV structure of the local days `from..=to` (one bucket, one group).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GmvStructure {
    pub from: NaiveDate,
    /// Inclusive.
    pub to: NaiveDate,
    /// The merchants' industry belt, province or category, when the structure is split by one.
    pub group: Option<String>,
    /// GMV of the approved merchants in scope, fen.
    pub total: i64,
    /// Live-stream GMV of the brand merchants among them.
    pub brand_live_stream: i64,
    /// All GMV of the industry-belt merchants among them.
    pub industry_belt: i64,
    /// Days of the bucket with a platform total.
    pub coverage_days: i64,
    /// The sum of those days' platform totals.
    pub platform_covered: i64,
}

impl GmvStructure {
    /// Days of the bucket.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }
    /// The marketplace's GMV of the bucket: present only when every day has a total.
    pub fn platform_total(&self) -> Option<i64> {
        (self.days() > 0 && self.coverage_days == self.days()).then_some(self.platform_covered)
    }
    /// `brand_live_stream` in basis points of the platform total.
    pub fn brand_live_stream_share_bp(&self) -> Option<i64> {
        share_bp(self.brand_live_stream, self.platform_total()?)
    }
    /// `industry_belt` in basis points of the platform total.
    pub fn industry_belt_share_bp(&self) -> Option<i64> {
        share_bp(self.industry_belt, self.platform_total()?)
    }
}

/// Folds the per (merchant kind, channel) sums of a bucket into its structure, with checked
/// sums; `platform` holds the platform totals of the bucket's recorded days.
pub fn fold_structure(
    from: NaiveDate,
    to: NaiveDate,
    group: Option<String>,
    groups: impl IntoIterator<Item = (MerchantKind, Channel, i64)>,
    platform: &BTreeMap<NaiveDate, i64>,
) -> Result<GmvStructure, Overflow> {
    let add = |a: i64, b: i64| a.checked_add(b).ok_or(Overflow("the GMV structure"));
    let mut out = GmvStructure {
        from,
        to,
        group,
        total: 0,
        brand_live_stream: 0,
        industry_belt: 0,
        coverage_days: 0,
        platform_covered: 0,
    };
    if from <= to {
        for (_, t) in platform.range(from..=to) {
            out.coverage_days += 1;
            out.platform_covered = add(out.platform_covered, *t)?;
        }
    }
    for (kind, channel, amount) in groups {
        out.total = add(out.total, amount)?;
        match kind {
            MerchantKind::Brand if channel == Channel::LiveStream => {
                out.brand_live_stream = add(out.brand_live_stream, amount)?;
            }
            MerchantKind::Brand => {}
            MerchantKind::IndustryBelt => out.industry_belt = add(out.industry_belt, amount)?,
        }
    }
    Ok(out)
}

/// The buckets of `from..=to`: (first day, last day), each clipped to the span.
pub fn bucket_spans(
    from: NaiveDate,
    to: NaiveDate,
    buckets: Buckets,
) -> Vec<(NaiveDate, NaiveDate)> {
    let Buckets::By(g) = buckets else {
        return vec![(from, to)];
    };
    let mut out = Vec::new();
    let mut start = g.period_start(from);
    while start <= to {
        let next = match g {
            Granularity::Day => start + Duration::days(1),
            Granularity::Week => start + Duration::days(7),
            Granularity::Month => start
                .checked_add_months(Months::new(1))
                .expect("a month after a valid day"),
        };
        out.push((start.max(from), (next - Duration::days(1)).min(to)));
        start = next;
    }
    out
}

/// The whole calendar months inside `from..=to`, as `[first month's first day, the first day
/// after the last whole month)`; empty (both at the same day) when there is none.
fn full_months(from: NaiveDate, to: NaiveDate) -> (NaiveDate, NaiveDate) {
    let month_start = |d: NaiveDate| Granularity::Month.period_start(d);
    let m1 = if month_start(from) == from {
        from
    } else {
        month_start(from)
            .checked_add_months(Months::new(1))
            .expect("a month after a valid day")
    };
    let after = to + Duration::days(1);
    let m2 = month_start(after);
    if m2 <= m1 {
        (m1.min(after), m1.min(after))
    } else {
        (m1, m2)
    }
}

/// The GMV structure of `from..=to` within `scope`, cut into `buckets` and optionally split
/// by a merchant attribute, against the marketplace's own daily totals: one read of the kept
/// structure (`services::segments`) and one of the platform totals, the sums checked here.
/// Unsplit, every bucket has an item; split, a bucket has one per group with GMV in it.
pub async fn gmv_structure_series<C: ConnectionTrait>(
    db: &C,
    scope: &GmvScope,
    from: NaiveDate,
    to: NaiveDate,
    buckets: Buckets,
    group_by: Option<StructureGroup>,
) -> Result<Vec<GmvStructure>, ReportsError> {
    let spans = bucket_spans(from, to, buckets);
    if spans.is_empty() || to < from {
        return Ok(vec![fold_structure(from, to, None, [], &BTreeMap::new())?]);
    }
    let platform = crate::services::platform::totals(db, from, to).await?;
    // Sums per (day, group, kind, channel), from the kept structure: its day rows and the
    // changes not yet folded into them, in one statement.
    let mut rows: Vec<(NaiveDate, Option<String>, MerchantKind, Channel, i64)> = Vec::new();
    if !scope.kinds.is_empty() {
        let split = group_by.map_or(StructureSplit::Whole, StructureGroup::split);
        // The merchant kinds and channel in scope.
        let mut rest = String::from(" AND kind IN (");
        let mut rest_values: Vec<Value> = Vec::new();
        for (i, k) in scope.kinds.iter().enumerate() {
            rest.push_str(if i == 0 { "?" } else { ", ?" });
            rest_values.push((*k).into());
        }
        rest.push(')');
        if let Some(c) = scope.channel {
            rest.push_str(" AND channel = ?");
            rest_values.push(c.into());
        }
        // Whole calendar months inside the span are read from the month rows (each standing at
        // its first day, which is in the month's bucket), the days around them from the day
        // rows; the unfolded changes by day. Day and week buckets read days only.
        let (m1, m2) = match buckets {
            Buckets::Whole | Buckets::By(Granularity::Month) => full_months(from, to),
            Buckets::By(_) => (to + Duration::days(1), to + Duration::days(1)),
        };
        let mut parts: Vec<String> = Vec::new();
        let mut all: Vec<Value> = Vec::new();
        let mut part = |table: &str, day: &str, lo: &str, hi: &str, a: NaiveDate, b: NaiveDate| {
            parts.push(format!(
                "SELECT {day} AS day, grp, kind, channel, amount, records FROM {table} \
                 WHERE split = ? AND {day} {lo} ? AND {day} {hi} ?{rest}"
            ));
            all.extend([split.into(), a.into(), b.into()]);
            all.extend(rest_values.iter().cloned());
        };
        part("gmv_segment_day", "day", ">=", "<", from, m1);
        part("gmv_segment_month", "month_start", ">=", "<", m1, m2);
        part("gmv_segment_day", "day", ">=", "<=", m2.max(from), to);
        part("gmv_segment_delta", "day", ">=", "<=", from, to);
        // One bucket needs no day: its rows are summed over the span (and stand at its
        // first day), so a year split by province is a row per group, kind and channel.
        let (day, by_day) = match buckets {
            Buckets::Whole => ("MIN(day)", ""),
            Buckets::By(_) => ("day", "day, "),
        };
        let sql = format!(
            "SELECT {day}, grp, kind, channel, CAST(SUM(amount) AS BIGINT) FROM ({}) s \
             GROUP BY {by_day}grp, kind, channel HAVING SUM(records) > 0",
            parts.join(" UNION ALL ")
        );
        for r in db
            .query_all_raw(statement(db.get_database_backend(), &sql, all))
            .await?
        {
            let amount: Option<i64> = r.try_get_by_index(4)?;
            let grp: String = r.try_get_by_index(1)?;
            rows.push((
                r.try_get_by_index(0)?,
                (split != StructureSplit::Whole && !grp.is_empty()).then_some(grp),
                r.try_get_by_index(2)?,
                r.try_get_by_index(3)?,
                amount.unwrap_or(0),
            ));
        }
    }
    // Each day's rows go to the bucket containing it.
    let bucket_of = |day: NaiveDate| spans.partition_point(|(_, end)| *end < day);
    type Sums = Vec<(MerchantKind, Channel, i64)>;
    let mut per: BTreeMap<(usize, Option<String>), Sums> = BTreeMap::new();
    if group_by.is_none() {
        for i in 0..spans.len() {
            per.insert((i, None), Vec::new());
        }
    }
    for (day, group, kind, channel, amount) in rows {
        per.entry((bucket_of(day), group))
            .or_default()
            .push((kind, channel, amount));
    }
    let mut out = Vec::with_capacity(per.len());
    for ((i, group), sums) in per {
        let (start, end) = spans[i];
        out.push(fold_structure(start, end, group, sums, &platform)?);
    }
    Ok(out)
}

/// The GMV structure of the local days `from..=to` within `scope` (empty when `to < from`):
/// the one-bucket case of [`gmv_structure_series`].
pub async fn gmv_structure<C: ConnectionTrait>(
    db: &C,
    scope: &GmvScope,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<GmvStructure, ReportsError> {
    Ok(
        gmv_structure_series(db, scope, from, to, Buckets::Whole, None)
            .await?
            .pop()
            .expect("an unsplit series has a bucket"),
    )
}

// ---------------------------------------------------------------------------------------------
// Programme summary

/// Subjects at a tier or above.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierCount {
    pub tier: Tier,
    pub at_or_above: i64,
}

/// How many subjects have each status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub achieved: i64,
    pub on_track: i64,
    pub at_risk: i64,
    pub behind: i64,
}

/// A programme's period at a glance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSummary {
    pub period: Period,
    pub goal: i64,
    /// Subjects evaluated in the period.
    pub subjects: i64,
    /// Subjects below the first tier.
    pub below_first_tier: i64,
    /// Per tier, ascending: subjects at it or above.
    pub tiers: Vec<TierCount>,
    /// Subjects at the top tier.
    pub top_tier_reached: i64,
    /// Subjects whose projection reaches the top tier's threshold.
    pub projected_top_tier: i64,
    pub statuses: StatusCounts,
    /// The period's days up to the local day of `as_of`.
    pub gmv: GmvStructure,
    /// The whole previous calendar period (up to the local day of `as_of`).
    pub previous_gmv: GmvStructure,
}

/// Per tier, the subjects at it or above, from the count of subjects per highest tier index
/// reached (-1 for none).
pub fn at_or_above(tiers: &[Tier], per_index: &[(i32, i64)]) -> Vec<TierCount> {
    tiers
        .iter()
        .enumerate()
        .map(|(i, t)| TierCount {
            tier: t.clone(),
            at_or_above: per_index
                .iter()
                .filter(|(ti, _)| usize::try_from(*ti).is_ok_and(|ti| ti >= i))
                .map(|(_, n)| n)
                .sum(),
        })
        .collect()
}

/// The summary of the period [`resolve_period`] picks, as of `as_of` (default now): what
/// `GET /programs/{id}/summary` and the staff digest show.
pub async fn program_summary<C: ConnectionTrait>(
    db: &C,
    program_id: i64,
    def: &ProgramDef,
    period_start: Option<NaiveDate>,
    as_of: Option<DateTime<Utc>>,
) -> Result<ProgramSummary, ReportsError> {
    let period = resolve_period(db, program_id, def, period_start, as_of).await?;
    summary(db, program_id, def, period, as_of.unwrap_or_else(Utc::now)).await
}

/// Where a programme's subjects stand in `period`: subjects per tier (at it or above), by
/// status, and projected to reach the top tier. The summary's counts, without its GMV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    pub subjects: i64,
    pub below_first_tier: i64,
    /// Per tier, ascending: subjects at it or above.
    pub tiers: Vec<TierCount>,
    pub top_tier_reached: i64,
    pub projected_top_tier: i64,
    pub statuses: StatusCounts,
}

/// The [`Standing`] of `period`: its tally on the latest day an evaluation tallied it
/// (`tier_tally`, written from the period's progress at the end of every evaluation of it), a
/// row per tier index and status; the last day of the trend. Nothing tallied is nobody.
pub async fn standing<C: ConnectionTrait>(
    db: &C,
    program_id: i64,
    def: &ProgramDef,
    period: Period,
) -> Result<Standing, ReportsError> {
    let base = || {
        tier_tally::Entity::find()
            .filter(tier_tally::Column::ProgramId.eq(program_id))
            .filter(tier_tally::Column::PeriodStart.eq(period.start))
    };
    let latest = base()
        .order_by_desc(tier_tally::Column::Day)
        .one(db)
        .await?
        .map(|r| r.day);
    let rows = match latest {
        Some(day) => {
            base()
                .filter(tier_tally::Column::Day.eq(day))
                .all(db)
                .await?
        }
        None => Vec::new(),
    };
    let per_index: Vec<(i32, i64)> = rows.iter().map(|r| (r.tier_index, r.subjects)).collect();
    let per_status: Vec<(Status, i64)> = rows.iter().map(|r| (r.status, r.subjects)).collect();
    let projected_top_tier = rows.iter().map(|r| r.projected_top).sum();
    let subjects = per_index.iter().map(|(_, n)| n).sum();
    let tiers = at_or_above(&def.tiers, &per_index);
    let status = |s: Status| {
        per_status
            .iter()
            .filter(|(n, _)| *n == s)
            .map(|(_, c)| c)
            .sum()
    };
    Ok(Standing {
        subjects,
        below_first_tier: subjects - tiers.first().map_or(0, |t| t.at_or_above),
        top_tier_reached: tiers.last().map_or(0, |t| t.at_or_above),
        tiers,
        projected_top_tier,
        statuses: StatusCounts {
            achieved: status(Status::Achieved),
            on_track: status(Status::OnTrack),
            at_risk: status(Status::AtRisk),
            behind: status(Status::Behind),
        },
    })
}

/// The summary of `period` as of `as_of` (GMV counts the days up to its local day): its
/// [`standing`] and the GMV structure against the previous period.
pub async fn summary<C: ConnectionTrait>(
    db: &C,
    program_id: i64,
    def: &ProgramDef,
    period: Period,
    as_of: DateTime<Utc>,
) -> Result<ProgramSummary, ReportsError> {
    let st = standing(db, program_id, def, period).await?;
    let scope = GmvScope::of(def);
    let today = local_day(def.time_zone, as_of);
    let gmv = gmv_structure(db, &scope, period.start, period.end.min(today)).await?;
    let prev = Period::containing_day(def.period, period.start).previous(def.period);
    let previous_gmv = gmv_structure(db, &scope, prev.start, prev.end.min(today)).await?;
    Ok(ProgramSummary {
        period,
        goal: def.goal,
        subjects: st.subjects,
        below_first_tier: st.below_first_tier,
        top_tier_reached: st.top_tier_reached,
        tiers: st.tiers,
        projected_top_tier: st.projected_top_tier,
        statuses: st.statuses,
        gmv,
        previous_gmv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn shares_round_toward_zero_and_need_a_positive_total() {
        assert_eq!(share_bp(1, 3), Some(3_333));
        assert_eq!(share_bp(2, 3), Some(6_666));
        assert_eq!(share_bp(-1, 3), Some(-3_333));
        assert_eq!(share_bp(5, 0), None);
        assert_eq!(share_bp(5, -10), None);
        assert_eq!(share_bp(i64::MAX, i64::MAX), Some(10_000));
        assert_eq!(share_bp(i64::MAX, 1), None, "not representable");
        assert_eq!(format_bp(3_333), "33.33%");
        assert_eq!(format_bp(-50), "-0.50%");
    }

    #[test]
    fn the_structure_counts_brand_live_stream_and_all_industry_belt_gmv() {
        use Channel::*;
        use MerchantKind::*;
        // The marketplace sold 1,000 a day on each of the three days.
        let platform: BTreeMap<NaiveDate, i64> = ["2026-01-01", "2026-01-02", "2026-01-03"]
            .into_iter()
            .map(|s| (d(s), 1_000))
            .collect();
        let groups = [
            (Brand, LiveStream, 500),
            (Brand, ShortVideo, 100),
            (IndustryBelt, LiveStream, 300),
            (IndustryBelt, Storefront, 100),
        ];
        let s = fold_structure(d("2026-01-01"), d("2026-01-03"), None, groups, &platform).unwrap();
        assert_eq!(
            (s.total, s.brand_live_stream, s.industry_belt),
            (1_000, 500, 400)
        );
        assert_eq!((s.coverage_days, s.platform_total()), (3, Some(3_000)));
        assert_eq!(s.brand_live_stream_share_bp(), Some(1_666));
        assert_eq!(s.industry_belt_share_bp(), Some(1_333));
        // A day without a platform total: no total, no share, and the coverage says so.
        let s = fold_structure(d("2026-01-01"), d("2026-01-04"), None, groups, &platform).unwrap();
        assert_eq!((s.coverage_days, s.platform_total()), (3, None));
        assert_eq!(s.brand_live_stream_share_bp(), None);
        assert_eq!(s.industry_belt_share_bp(), None);
        assert_eq!(
            fold_structure(
                d("2026-01-01"),
                d("2026-01-31"),
                None,
                [(Brand, LiveStream, i64::MAX), (IndustryBelt, Other, 1)],
                &platform,
            ),
            Err(Overflow("the GMV structure")),
            "an overflow is an error, not a wrap"
        );
    }

    #[test]
    fn buckets_are_clipped_to_the_span() {
        let spans = bucket_spans(
            d("2026-01-30"),
            d("2026-03-02"),
            Buckets::By(Granularity::Month),
        );
        assert_eq!(
            spans,
            [
                (d("2026-01-30"), d("2026-01-31")),
                (d("2026-02-01"), d("2026-02-28")),
                (d("2026-03-01"), d("2026-03-02")),
            ]
        );
        let weeks = bucket_spans(
            d("2026-11-25"),
            d("2026-12-01"),
            Buckets::By(Granularity::Week),
        );
        assert_eq!(
            weeks,
            [
                (d("2026-11-25"), d("2026-11-29")),
                (d("2026-11-30"), d("2026-12-01")),
            ]
        );
    }

    #[test]
    fn subjects_per_tier_are_at_or_above() {
        let tiers: Vec<Tier> = [("a", 10), ("b", 20), ("c", 30)]
            .into_iter()
            .map(|(n, t)| Tier {
                name: n.into(),
                threshold: t,
                rewards: vec![],
            })
            .collect();
        let counts = at_or_above(&tiers, &[(-1, 4), (0, 3), (1, 2), (2, 1)]);
        let n: Vec<i64> = counts.iter().map(|c| c.at_or_above).collect();
        assert_eq!(n, vec![6, 3, 1]);
        assert_eq!(at_or_above(&tiers, &[(-1, 2)])[0].at_or_above, 0);
    }
}
