//! The weekly merchant report: the merchant's progress in each programme it takes part in and
//! its GMV by channel, last week against the week before.
//!
//! Weeks are Monday-based in `Asia/Shanghai`. The report covers the last *complete* week before
//! `as_of` (sent Monday 09:00, it reports Monday–Sunday just ended) and compares it with the
//! week before.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use entity::{
    creator,
    enums::{MerchantStatus, RewardKind, RewardStatus},
    gmv_daily_creator, gmv_daily_merchant, merchant, progress, reward,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Query,
};
use serde::Serialize;

use super::{
    ReportsError, format_bp, local_time,
    names::{label, subject_names},
    pictures::{self, EmailChart},
    share_bp,
};
use crate::{
    domain::{
        money::format_cny,
        period::{Overflow, Status, local_day},
        program::{Channel, Subject},
    },
    mail::Locale,
};

/// The Monday-based week (start, end) reported when the report is made on `day`: the last
/// complete week before it.
pub fn reported_week(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let monday = day - Days::new(day.weekday().num_days_from_monday() as u64);
    (monday - Days::new(7), monday - Days::new(1))
}

fn channel_label(locale: Locale, channel: Channel) -> &'static str {
    match (locale, channel) {
        (Locale::En, Channel::LiveStream) => "Live stream",
        (Locale::En, Channel::ShortVideo) => "Short video",
        (Locale::En, Channel::Storefront) => "Storefront",
        (Locale::En, Channel::Other) => "Other",
        (Locale::ZhCn, Channel::LiveStream) => "直播",
        (Locale::ZhCn, Channel::ShortVideo) => "短视频",
        (Locale::ZhCn, Channel::Storefront) => "店铺",
        (Locale::ZhCn, Channel::Other) => "其他",
    }
}

fn status_label(locale: Locale, status: Status) -> &'static str {
    match (locale, status) {
        (Locale::En, Status::Achieved) => "Top tier reached",
        (Locale::En, Status::OnTrack) => "On track",
        (Locale::En, Status::AtRisk) => "At risk",
        (Locale::En, Status::Behind) => "Behind",
        (Locale::ZhCn, Status::Achieved) => "已达最高档",
        (Locale::ZhCn, Status::OnTrack) => "进度正常",
        (Locale::ZhCn, Status::AtRisk) => "有风险",
        (Locale::ZhCn, Status::Behind) => "落后",
    }
}

fn status_color(status: Status) -> &'static str {
    match status {
        Status::Achieved => "#16a34a",
        Status::OnTrack => "#2563eb",
        Status::AtRisk => "#d97706",
        Status::Behind => "#dc2626",
    }
}

/// Percentage of the way from zero to `threshold`, 0..=100.
fn percent(value: i64, threshold: Option<i64>) -> i64 {
    match threshold {
        None => 100,
        Some(t) if t <= 0 => 100,
        Some(t) => ((i128::from(value.max(0)) * 100) / i128::from(t)).clamp(0, 100) as i64,
    }
}

#[derive(Serialize)]
pub struct ProgramLine {
    pub name: String,
    pub period_start: String,
    pub period_end: String,
    pub tier: Option<String>,
    pub next_tier: Option<String>,
    pub value: String,
    pub next_threshold: Option<String>,
    pub remaining: String,
    pub projected: String,
    pub status: Status,
    pub status_label: &'static str,
    pub status_color: &'static str,
    /// Progress towards the next tier, 0..=100.
    pub percent: i64,
    /// The period so far against the tier thresholds, with the projection (merchant reports).
    pub chart: Option<EmailChart>,
    #[serde(skip)]
    row: progress::Model,
}

#[derive(Serialize)]
pub struct ChannelLine {
    pub channel: &'static str,
    pub label: &'static str,
    pub this_week: String,
    pub last_week: String,
    /// Change against last week (`+12.34%`), none when last week had no GMV.
    pub change: Option<String>,
    pub up: bool,
}

/// A pending or confirmed reward of the merchant or one of its products.
#[derive(Serialize)]
pub struct RewardLine {
    pub program: String,
    pub subject: String,
    pub period_start: String,
    pub period_end: String,
    pub tier: String,
    pub kind_label: &'static str,
    /// The amount; for a pending rebate, its rate (the amount is fixed at confirmation).
    pub amount: String,
    pub confirmed: bool,
}

fn reward_kind_label(locale: Locale, kind: RewardKind) -> &'static str {
    match (locale, kind) {
        (Locale::En, RewardKind::CashBonus) => "cash bonus",
        (Locale::En, RewardKind::TrafficCredit) => "traffic credit",
        (Locale::En, RewardKind::CommissionRebate) => "commission rebate",
        (Locale::ZhCn, RewardKind::CashBonus) => "现金奖励",
        (Locale::ZhCn, RewardKind::TrafficCredit) => "流量券",
        (Locale::ZhCn, RewardKind::CommissionRebate) => "佣金返还",
    }
}

/// Whose report it is.
#[derive(Clone, Copy)]
enum Owner<'a> {
    Merchant(i64),
    Creator(&'a str),
}

/// The pending and confirmed rewards of a merchant (its own and its products') or of a
/// creator, newest first (at most 50), each naming its subject.
async fn reward_lines<C: ConnectionTrait>(
    db: &C,
    owner: Owner<'_>,
    locale: Locale,
    programs: &HashMap<i64, String>,
) -> Result<Vec<RewardLine>, ReportsError> {
    let q = reward::Entity::find()
        .filter(reward::Column::Status.is_in([RewardStatus::Pending, RewardStatus::Confirmed]));
    let q = match owner {
        Owner::Merchant(id) => q.filter(reward::Column::MerchantId.eq(id)),
        Owner::Creator(id) => q
            .filter(reward::Column::SubjectType.eq(Subject::Creator))
            .filter(reward::Column::SubjectId.eq(id)),
    };
    let rows = q
        .order_by_desc(reward::Column::Id)
        .limit(50)
        .all(db)
        .await?;
    let subjects: Vec<(Subject, &str)> = rows
        .iter()
        .map(|r| (r.subject_type, r.subject_id.as_str()))
        .collect();
    let names = subject_names(db, &subjects).await?;
    Ok(rows
        .iter()
        .map(|r| RewardLine {
            program: programs.get(&r.program_id).cloned().unwrap_or_default(),
            subject: label(&names, r.subject_type, &r.subject_id),
            period_start: r.period_start.to_string(),
            period_end: r.period_end.to_string(),
            tier: r.tier.clone(),
            kind_label: reward_kind_label(locale, r.kind),
            amount: match (r.amount, r.rate_bp) {
                (Some(a), _) => format_cny(a),
                (None, Some(bp)) => format_bp(i64::from(bp)),
                (None, None) => String::new(),
            },
            confirmed: r.status == RewardStatus::Confirmed,
        })
        .collect())
}

/// GMV by channel in the reported week and the week before, and their totals. A creator's
/// counts its sales for approved merchants, as its progress does.
async fn channel_lines<C: ConnectionTrait>(
    db: &C,
    owner: Owner<'_>,
    locale: Locale,
    week_start: NaiveDate,
    week_end: NaiveDate,
) -> Result<(Vec<ChannelLine>, ChannelLine), ReportsError> {
    let last_start = week_start - Days::new(7);
    let overflow = || Overflow("the weekly GMV by channel");
    let days: Vec<(NaiveDate, Channel, i64)> = match owner {
        Owner::Merchant(id) => {
            gmv_daily_merchant::Entity::find()
                .select_only()
                .column(gmv_daily_merchant::Column::Day)
                .column(gmv_daily_merchant::Column::Channel)
                .column(gmv_daily_merchant::Column::Amount)
                .filter(gmv_daily_merchant::Column::MerchantId.eq(id))
                .filter(gmv_daily_merchant::Column::Day.gte(last_start))
                .filter(gmv_daily_merchant::Column::Day.lte(week_end))
                .into_tuple()
                .all(db)
                .await?
        }
        Owner::Creator(id) => {
            let approved = Query::select()
                .column(merchant::Column::Id)
                .from(merchant::Entity)
                .and_where(merchant::Column::Status.eq(MerchantStatus::Approved))
                .to_owned();
            gmv_daily_creator::Entity::find()
                .select_only()
                .column(gmv_daily_creator::Column::Day)
                .column(gmv_daily_creator::Column::Channel)
                .column(gmv_daily_creator::Column::Amount)
                .filter(gmv_daily_creator::Column::CreatorId.eq(id))
                .filter(gmv_daily_creator::Column::MerchantId.in_subquery(approved))
                .filter(gmv_daily_creator::Column::Day.gte(last_start))
                .filter(gmv_daily_creator::Column::Day.lte(week_end))
                .into_tuple()
                .all(db)
                .await?
        }
    };
    let mut sums: HashMap<Channel, (i64, i64)> = HashMap::new();
    for (day, channel, amount) in days {
        let e = sums.entry(channel).or_default();
        if day >= week_start {
            e.0 = e.0.checked_add(amount).ok_or_else(overflow)?;
        } else {
            e.1 = e.1.checked_add(amount).ok_or_else(overflow)?;
        }
    }
    let mut channels = Vec::new();
    let (mut tw, mut lw) = (0i64, 0i64);
    for c in Channel::ALL {
        let (t, l) = sums.get(&c).copied().unwrap_or_default();
        tw = tw.checked_add(t).ok_or_else(overflow)?;
        lw = lw.checked_add(l).ok_or_else(overflow)?;
        channels.push(change_line(c.as_str(), channel_label(locale, c), t, l));
    }
    let total_label = match locale {
        Locale::En => "Total",
        Locale::ZhCn => "合计",
    };
    Ok((channels, change_line("total", total_label, tw, lw)))
}

/// One line per programme: the latest period of each of these progress rows (ordered by
/// programme, newest period first).
fn program_lines(
    rows: Vec<progress::Model>,
    programs: &HashMap<i64, String>,
    locale: Locale,
) -> Vec<ProgramLine> {
    let mut latest: BTreeMap<i64, progress::Model> = BTreeMap::new();
    for r in rows {
        latest.entry(r.program_id).or_insert(r);
    }
    latest
        .into_values()
        .filter_map(|r| {
            let name = programs.get(&r.program_id)?;
            let status = r.status;
            Some(ProgramLine {
                name: name.clone(),
                period_start: r.period_start.to_string(),
                period_end: r.period_end.to_string(),
                tier: r.tier.clone(),
                next_tier: r.next_tier.clone(),
                value: format_cny(r.value),
                next_threshold: r.next_threshold.map(format_cny),
                remaining: format_cny(r.remaining),
                projected: format_cny(r.projected),
                status_label: status_label(locale, status),
                status_color: status_color(status),
                percent: if r.next_tier.is_none() {
                    100
                } else {
                    percent(r.value, r.next_threshold)
                },
                status: r.status,
                chart: None,
                row: r,
            })
        })
        .collect()
}

/// The chart of one programme line: the subject's value day by day through the period so far
/// against the tier thresholds, and the projection to the period's end (dashed).
async fn progress_chart<C: ConnectionTrait>(
    db: &C,
    line: &ProgramLine,
    programs: &HashMap<i64, entity::program::Model>,
    locale: Locale,
    today: NaiveDate,
) -> Result<Option<EmailChart>, ReportsError> {
    let r = &line.row;
    let Some(p) = programs.get(&r.program_id) else {
        return Ok(None);
    };
    let def = super::program_def(p)?;
    let end = r.period_end.min(today);
    if end < r.period_start {
        return Ok(None);
    }
    let points: Vec<(NaiveDate, i64)> = super::history::subject_history(
        db,
        p.id,
        &def,
        r.subject_type,
        &r.subject_id,
        r.period_start,
        end,
    )
    .await?
    .unwrap_or_default()
    .into_iter()
    .filter(|h| h.period_start == r.period_start)
    .map(|h| (h.day, h.value))
    .collect();
    let Some(&(last_day, last_value)) = points.last() else {
        return Ok(None);
    };
    let en = locale == Locale::En;
    let thresholds = def
        .tiers
        .iter()
        .map(|t| format!("{} {}", t.name, format_cny(t.threshold)))
        .collect::<Vec<_>>()
        .join(if en { ", " } else { "、" });
    let alt = if en {
        format!(
            "{}: {} cumulative GMV to {last_day}, projected {} by {}; tier thresholds: {thresholds}",
            line.name,
            format_cny(last_value),
            format_cny(r.projected),
            r.period_end
        )
    } else {
        format!(
            "{}：截至 {last_day} 本期累计 GMV {}，预计周期末（{}）达 {}；各档门槛：{thresholds}",
            line.name,
            format_cny(last_value),
            r.period_end,
            format_cny(r.projected)
        )
    };
    let mut series = vec![pictures::series(
        if en { "Cumulative GMV" } else { "累计 GMV" }.to_string(),
        points,
        false,
    )];
    if r.period_end > last_day {
        series.push(pictures::series(
            if en { "Projected" } else { "预计" }.to_string(),
            vec![(last_day, last_value), (r.period_end, r.projected)],
            true,
        ));
    }
    let rules = def
        .tiers
        .iter()
        .map(|t| {
            pictures::rule(
                format!("{} {}", t.name, format_cny(t.threshold)),
                t.threshold,
            )
        })
        .collect();
    Ok(Some(EmailChart::new(
        format!("progress-{}@merchant-incentives", r.program_id),
        alt,
        series,
        rules,
    )))
}

/// A subject's progress rows, by programme and newest period first.
async fn progress_rows<C: ConnectionTrait>(
    db: &C,
    subject: Subject,
    id: &str,
) -> Result<Vec<progress::Model>, ReportsError> {
    Ok(progress::Entity::find()
        .filter(progress::Column::SubjectType.eq(subject))
        .filter(progress::Column::SubjectId.eq(id))
        .order_by_asc(progress::Column::ProgramId)
        .order_by_desc(progress::Column::PeriodStart)
        .all(db)
        .await?)
}

/// Programme names (a small table).
async fn program_names<C: ConnectionTrait>(db: &C) -> Result<HashMap<i64, String>, ReportsError> {
    Ok(entity::program::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect())
}

/// The context the `merchant_weekly` templates render.
#[derive(Serialize)]
pub struct MerchantWeekly {
    pub locale: &'static str,
    pub merchant_id: i64,
    pub display_name: String,
    pub legal_name: String,
    pub week_start: String,
    pub week_end: String,
    pub last_week_start: String,
    pub last_week_end: String,
    pub programs: Vec<ProgramLine>,
    /// Pending and confirmed rewards, newest first (at most 50).
    pub rewards: Vec<RewardLine>,
    pub channels: Vec<ChannelLine>,
    pub total: ChannelLine,
    /// No GMV has arrived for 3 days (or ever).
    pub stale: bool,
    pub last_gmv_at: Option<String>,
    pub generated_at: String,
}

fn change_line(
    channel: &'static str,
    label: &'static str,
    this_week: i64,
    last_week: i64,
) -> ChannelLine {
    let change = this_week
        .checked_sub(last_week)
        .and_then(|d| share_bp(d, last_week));
    ChannelLine {
        channel,
        label,
        this_week: format_cny(this_week),
        last_week: format_cny(last_week),
        change: change.map(|c| {
            if c >= 0 {
                format!("+{}", format_bp(c))
            } else {
                format_bp(c)
            }
        }),
        up: this_week >= last_week,
    }
}

/// The weekly report context of merchant `id` as of `as_of`; `None` if no such merchant.
pub async fn merchant_weekly_of<C: ConnectionTrait>(
    db: &C,
    id: i64,
    as_of: DateTime<Utc>,
) -> Result<Option<MerchantWeekly>, ReportsError> {
    match merchant::Entity::find_by_id(id).one(db).await? {
        Some(m) => Ok(Some(merchant_weekly_context(db, &m, as_of).await?)),
        None => Ok(None),
    }
}

/// The weekly report context of merchant `m` as of `as_of`.
pub async fn merchant_weekly_context<C: ConnectionTrait>(
    db: &C,
    m: &merchant::Model,
    as_of: DateTime<Utc>,
) -> Result<MerchantWeekly, ReportsError> {
    let locale = m.locale;
    let (week_start, week_end) = reported_week(local_day(Shanghai, as_of));
    let last_start = week_start - Days::new(7);
    let (channels, total) =
        channel_lines(db, Owner::Merchant(m.id), locale, week_start, week_end).await?;
    // The programmes once (a small table): their names, and their tiers for the charts.
    let programs: HashMap<i64, entity::program::Model> = entity::program::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let names: HashMap<i64, String> = programs
        .iter()
        .map(|(id, p)| (*id, p.name.clone()))
        .collect();
    let rewards = reward_lines(db, Owner::Merchant(m.id), locale, &names).await?;
    let mut program_lines = program_lines(
        progress_rows(db, Subject::Merchant, &m.id.to_string()).await?,
        &names,
        locale,
    );
    let today = local_day(Shanghai, as_of);
    for line in &mut program_lines {
        line.chart = progress_chart(db, line, &programs, locale, today).await?;
    }

    let stale = m
        .last_gmv_at
        .is_none_or(|t| as_of.signed_duration_since(t) >= chrono::Duration::days(3));
    Ok(MerchantWeekly {
        locale: locale.as_str(),
        merchant_id: m.id,
        display_name: m.display_name.clone(),
        legal_name: m.legal_name.clone(),
        week_start: week_start.to_string(),
        week_end: week_end.to_string(),
        last_week_start: last_start.to_string(),
        last_week_end: (week_start - Days::new(1)).to_string(),
        programs: program_lines,
        rewards,
        channels,
        total,
        stale,
        last_gmv_at: m.last_gmv_at.map(local_time),
        generated_at: local_time(as_of),
    })
}

/// The context the `creator_weekly` templates render (creators have no locale: zh-CN).
#[derive(Serialize)]
pub struct CreatorWeekly {
    pub locale: &'static str,
    pub creator_id: String,
    pub nickname: String,
    pub week_start: String,
    pub week_end: String,
    pub last_week_start: String,
    pub last_week_end: String,
    pub programs: Vec<ProgramLine>,
    /// Pending and confirmed rewards, newest first (at most 50).
    pub rewards: Vec<RewardLine>,
    pub channels: Vec<ChannelLine>,
    pub total: ChannelLine,
    pub generated_at: String,
}

/// The weekly report context of creator `c` as of `as_of`: its progress, rewards and GMV by
/// channel summed across the approved merchants it sells for.
pub async fn creator_weekly_context<C: ConnectionTrait>(
    db: &C,
    c: &creator::Model,
    as_of: DateTime<Utc>,
) -> Result<CreatorWeekly, ReportsError> {
    let locale = Locale::ZhCn;
    let (week_start, week_end) = reported_week(local_day(Shanghai, as_of));
    let last_start = week_start - Days::new(7);
    let (channels, total) =
        channel_lines(db, Owner::Creator(&c.id), locale, week_start, week_end).await?;
    let names = program_names(db).await?;
    Ok(CreatorWeekly {
        locale: locale.as_str(),
        creator_id: c.id.clone(),
        nickname: c.nickname.clone(),
        week_start: week_start.to_string(),
        week_end: week_end.to_string(),
        last_week_start: last_start.to_string(),
        last_week_end: (week_start - Days::new(1)).to_string(),
        programs: program_lines(
            progress_rows(db, Subject::Creator, &c.id).await?,
            &names,
            locale,
        ),
        rewards: reward_lines(db, Owner::Creator(&c.id), locale, &names).await?,
        channels,
        total,
        generated_at: local_time(as_of),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_are_monday_based_and_complete() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        // Monday 2026-11-23 reports 16–22 Nov.
        assert_eq!(
            reported_week(d("2026-11-23")),
            (d("2026-11-16"), d("2026-11-22"))
        );
        assert_eq!(
            reported_week(d("2026-11-29")),
            (d("2026-11-16"), d("2026-11-22"))
        );
        assert_eq!(
            reported_week(d("2026-11-30")),
            (d("2026-11-23"), d("2026-11-29"))
        );
    }

    #[test]
    fn progress_bars() {
        assert_eq!(percent(50, Some(200)), 25);
        assert_eq!(percent(500, Some(200)), 100);
        assert_eq!(percent(-5, Some(200)), 0);
        assert_eq!(percent(5, None), 100);
    }
}
