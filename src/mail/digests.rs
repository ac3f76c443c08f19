//! The scheduled reports: `merchant_weekly` (one per approved merchant that wants it, per week)
//! and `staff_daily` (one per `STAFF_DIGEST_TO` recipient per local day). Each is a plain async
//! function that renders and queues outbox rows; a dedupe key per recipient and period makes a
//! second trigger a no-op. The weekly report is also rendered on demand as a preview.
//!
//! Weeks are Monday-based in `Asia/Shanghai`. The weekly report covers the last *complete* week
//! before `as_of` (sent Monday 09:00, it reports Monday–Sunday just ended) and compares it with
//! the week before; its dedupe key names that week's Monday.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::{Asia::Shanghai, Tz};
use entity::{achievement, gmv_daily_merchant, merchant, progress};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde::Serialize;

use super::{Locale, NewEmail, Rendered, enqueue, templates};
use crate::{app::AppState, config::Config, domain::money::format_cny};

/// Which digest to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum DigestKind {
    /// The weekly report to every approved merchant that has not opted out.
    MerchantWeekly,
    /// The daily digest to the `STAFF_DIGEST_TO` recipients.
    StaffDaily,
}

impl DigestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DigestKind::MerchantWeekly => "merchant_weekly",
            DigestKind::StaffDaily => "staff_daily",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "merchant_weekly" => Some(DigestKind::MerchantWeekly),
            "staff_daily" => Some(DigestKind::StaffDaily),
            _ => None,
        }
    }
}

/// What a digest run queued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queued {
    /// Recipients considered.
    pub recipients: u64,
    /// New outbox rows.
    pub queued: u64,
    /// Recipients whose message for this period was already queued.
    pub duplicates: u64,
}

/// Runs one digest as of `as_of`: what the scheduler and the CLI call.
pub async fn run_digest(
    state: &AppState,
    kind: DigestKind,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Queued> {
    let q = match kind {
        DigestKind::MerchantWeekly => merchant_weekly(&state.db, &state.config, as_of).await?,
        DigestKind::StaffDaily => staff_daily(&state.db, &state.config, as_of).await?,
    };
    tracing::info!(
        kind = kind.as_str(),
        recipients = q.recipients,
        queued = q.queued,
        duplicates = q.duplicates,
        "digest queued"
    );
    Ok(q)
}

pub const CHANNELS: [&str; 4] = ["live_stream", "short_video", "storefront", "other"];

fn channel_label(locale: Locale, channel: &str) -> &'static str {
    match (locale, channel) {
        (Locale::En, "live_stream") => "Live stream",
        (Locale::En, "short_video") => "Short video",
        (Locale::En, "storefront") => "Storefront",
        (Locale::En, _) => "Other",
        (_, "live_stream") => "直播",
        (_, "short_video") => "短视频",
        (_, "storefront") => "店铺",
        _ => "其他",
    }
}

fn status_label(locale: Locale, status: &str) -> &'static str {
    match (locale, status) {
        (Locale::En, "achieved") => "Top tier reached",
        (Locale::En, "on_track") => "On track",
        (Locale::En, "at_risk") => "At risk",
        (Locale::En, _) => "Behind",
        (_, "achieved") => "已达最高档",
        (_, "on_track") => "进度正常",
        (_, "at_risk") => "有风险",
        _ => "落后",
    }
}

fn status_color(status: &str) -> &'static str {
    match status {
        "achieved" => "#16a34a",
        "on_track" => "#2563eb",
        "at_risk" => "#d97706",
        _ => "#dc2626",
    }
}

/// `part / whole` in basis points, `None` when `whole` is not positive.
pub fn share_bps(part: i64, whole: i64) -> Option<i64> {
    (whole > 0).then(|| ((part as i128 * 10_000) / whole as i128) as i64)
}

/// Basis points as a percentage with two decimals: `1234` → `12.34%`.
pub fn format_bps(bps: i64) -> String {
    let sign = if bps < 0 { "-" } else { "" };
    let a = bps.unsigned_abs();
    format!("{sign}{}.{:02}%", a / 100, a % 100)
}

/// Percentage of the way from zero to `threshold`, 0..=100.
fn percent(value: i64, threshold: Option<i64>) -> i64 {
    match threshold {
        None => 100,
        Some(t) if t <= 0 => 100,
        Some(t) => ((value.max(0) as i128 * 100) / t as i128).clamp(0, 100) as i64,
    }
}

/// The Monday-based week (start, end) reported when the report is made on `day`: the last
/// complete week before it.
pub fn reported_week(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let monday = day - Days::new(day.weekday().num_days_from_monday() as u64);
    (monday - Days::new(7), monday - Days::new(1))
}

pub fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Shanghai).date_naive()
}

fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&Shanghai)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// merchant_weekly

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
    pub status: String,
    pub status_label: &'static str,
    pub status_color: &'static str,
    /// Progress towards the next tier, 0..=100.
    pub percent: i64,
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
    pub channels: Vec<ChannelLine>,
    pub total: ChannelLine,
    /// No GMV has arrived for 3 days (or ever).
    pub stale: bool,
    pub last_gmv_at: Option<String>,
    pub generated_at: String,
}

fn change_line(
    locale: Locale,
    channel: &'static str,
    this_week: i64,
    last_week: i64,
) -> ChannelLine {
    let change = this_week
        .checked_sub(last_week)
        .and_then(|d| share_bps(d, last_week));
    ChannelLine {
        channel,
        label: if channel == "total" {
            if locale == Locale::En {
                "Total"
            } else {
                "合计"
            }
        } else {
            channel_label(locale, channel)
        },
        this_week: format_cny(this_week),
        last_week: format_cny(last_week),
        change: change.map(|c| {
            if c >= 0 {
                format!("+{}", format_bps(c))
            } else {
                format_bps(c)
            }
        }),
        up: this_week >= last_week,
    }
}

fn overflow() -> DbErr {
    DbErr::Custom("GMV total overflows i64".into())
}

/// The weekly report context of one merchant as of `as_of`.
pub async fn merchant_weekly_context<C: ConnectionTrait>(
    db: &C,
    m: &merchant::Model,
    as_of: DateTime<Utc>,
) -> Result<MerchantWeekly, DbErr> {
    let locale = Locale::parse(&m.locale);
    let today = local_day(as_of);
    let (week_start, week_end) = reported_week(today);
    let last_start = week_start - Days::new(7);

    // GMV by channel, this week and last week.
    let days = gmv_daily_merchant::Entity::find()
        .filter(gmv_daily_merchant::Column::MerchantId.eq(m.id))
        .filter(gmv_daily_merchant::Column::Day.gte(last_start))
        .filter(gmv_daily_merchant::Column::Day.lte(week_end))
        .all(db)
        .await?;
    let mut sums: HashMap<&str, (i64, i64)> = HashMap::new();
    for d in &days {
        let key = CHANNELS
            .iter()
            .copied()
            .find(|c| *c == d.channel)
            .unwrap_or("other");
        let e = sums.entry(key).or_default();
        if d.day >= week_start {
            e.0 = e.0.checked_add(d.amount).ok_or_else(overflow)?;
        } else {
            e.1 = e.1.checked_add(d.amount).ok_or_else(overflow)?;
        }
    }
    let mut channels = Vec::new();
    let (mut tw, mut lw) = (0i64, 0i64);
    for c in CHANNELS {
        let (t, l) = sums.get(c).copied().unwrap_or_default();
        tw = tw.checked_add(t).ok_or_else(overflow)?;
        lw = lw.checked_add(l).ok_or_else(overflow)?;
        channels.push(change_line(locale, c, t, l));
    }

    // Current progress in each programme the merchant takes part in.
    let rows = progress::Entity::find()
        .filter(progress::Column::SubjectType.eq("merchant"))
        .filter(progress::Column::SubjectId.eq(m.id.to_string()))
        .order_by_asc(progress::Column::ProgramId)
        .order_by_desc(progress::Column::PeriodStart)
        .all(db)
        .await?;
    let mut latest: BTreeMap<i64, progress::Model> = BTreeMap::new();
    for r in rows {
        latest.entry(r.program_id).or_insert(r);
    }
    let programs = if latest.is_empty() {
        HashMap::new()
    } else {
        entity::program::Entity::find()
            .filter(entity::program::Column::Id.is_in(latest.keys().copied().collect::<Vec<_>>()))
            .all(db)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect()
    };
    let program_lines = latest
        .into_values()
        .filter_map(|r| {
            let p = programs.get(&r.program_id)?;
            Some(ProgramLine {
                name: p.name.clone(),
                period_start: r.period_start.to_string(),
                period_end: r.period_end.to_string(),
                tier: r.tier.clone(),
                next_tier: r.next_tier.clone(),
                value: format_cny(r.value),
                next_threshold: r.next_threshold.map(format_cny),
                remaining: format_cny(r.remaining),
                projected: format_cny(r.projected),
                status_label: status_label(locale, &r.status),
                status_color: status_color(&r.status),
                percent: if r.next_tier.is_none() {
                    100
                } else {
                    percent(r.value, r.next_threshold)
                },
                status: r.status,
            })
        })
        .collect();

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
        channels,
        total: change_line(locale, "total", tw, lw),
        stale,
        last_gmv_at: m.last_gmv_at.map(local_time),
        generated_at: local_time(as_of),
    })
}

/// The weekly report of merchant `id` as it would be sent at `as_of`; `None` if no such merchant.
pub async fn merchant_report(
    db: &DatabaseConnection,
    id: i64,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Option<Rendered>> {
    let Some(m) = merchant::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let ctx = merchant_weekly_context(db, &m, as_of).await?;
    Ok(Some(templates::render("merchant_weekly", &ctx)?))
}

/// Queues the weekly report for every approved merchant with `weekly_report` on.
pub async fn merchant_weekly(
    db: &DatabaseConnection,
    _config: &Config,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Queued> {
    let (week_start, _) = reported_week(local_day(as_of));
    let mut done = Queued::default();
    let mut after = 0i64;
    loop {
        let batch = merchant::Entity::find()
            .filter(merchant::Column::Status.eq("approved"))
            .filter(merchant::Column::WeeklyReport.eq(true))
            .filter(merchant::Column::Id.gt(after))
            .order_by_asc(merchant::Column::Id)
            .limit(500)
            .all(db)
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for m in &batch {
            done.recipients += 1;
            let dedupe_key = format!("merchant_weekly:{}:{week_start}", m.id);
            if already_queued(db, &dedupe_key).await? {
                done.duplicates += 1;
                continue;
            }
            let ctx = merchant_weekly_context(db, m, as_of).await?;
            let rendered = templates::render("merchant_weekly", &ctx)?;
            let inserted = enqueue(
                db,
                NewEmail {
                    kind: "merchant_weekly",
                    merchant_id: Some(m.id),
                    recipient: &m.contact_email,
                    locale: Locale::parse(&m.locale),
                    rendered,
                    dedupe_key,
                },
            )
            .await?;
            if inserted {
                done.queued += 1;
            } else {
                done.duplicates += 1;
            }
        }
    }
    Ok(done)
}

/// Skips rendering when the period's message is already in the outbox (the insert would be a
/// no-op anyway; this only saves the work).
async fn already_queued<C: ConnectionTrait>(db: &C, key: &str) -> Result<bool, DbErr> {
    Ok(entity::email_outbox::Entity::find()
        .filter(entity::email_outbox::Column::DedupeKey.eq(key))
        .select_only()
        .column(entity::email_outbox::Column::Id)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .is_some())
}

// ---------------------------------------------------------------------------------------------
// staff_daily

#[derive(Serialize)]
pub struct TierLine {
    pub name: String,
    pub threshold: String,
    /// Subjects whose highest tier reached is this one.
    pub subjects: i64,
}

#[derive(Serialize)]
pub struct AchievementLine {
    pub subject: String,
    pub tier: String,
    pub value: String,
    pub at: String,
}

#[derive(Serialize)]
pub struct RiskLine {
    pub subject: String,
    pub value: String,
    pub next_tier: Option<String>,
    pub remaining: String,
    pub projected: String,
}

#[derive(Serialize)]
pub struct ProgramDigest {
    pub name: String,
    pub subject: String,
    pub period_start: String,
    pub period_end: String,
    pub goal: i64,
    pub top_tier: String,
    pub top_tier_subjects: i64,
    /// Top-tier subjects against the goal, 0..=100 for the bar.
    pub goal_percent: i64,
    pub goal_share: String,
    pub subjects: i64,
    pub below_first_tier: i64,
    pub tiers: Vec<TierLine>,
    pub achievements: Vec<AchievementLine>,
    pub revocations: Vec<AchievementLine>,
    pub at_risk: Vec<RiskLine>,
    pub at_risk_total: i64,
    pub gmv_total: String,
    pub brand_live_share: Option<String>,
    pub industry_belt_share: Option<String>,
}

#[derive(Serialize)]
pub struct StaffDaily {
    pub locale: &'static str,
    pub date: String,
    pub since: String,
    pub programs: Vec<ProgramDigest>,
    pub generated_at: String,
}

/// How many at-risk subjects the digest lists per programme.
pub const AT_RISK_TOP: u64 = 10;
/// How many achievements (and revocations) the digest lists per programme.
const ACHIEVEMENTS_TOP: u64 = 50;

#[derive(serde::Deserialize)]
struct Tier {
    name: String,
    threshold: i64,
}

/// The calendar period of `period` (`year`, `quarter`, `month`) containing `day`.
fn calendar_period(period: &str, day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let (y, m) = (day.year(), day.month());
    let (start, months) = match period {
        "year" => (NaiveDate::from_ymd_opt(y, 1, 1), 12),
        "quarter" => (NaiveDate::from_ymd_opt(y, (m - 1) / 3 * 3 + 1, 1), 3),
        _ => (NaiveDate::from_ymd_opt(y, m, 1), 1),
    };
    let start = start.unwrap_or(day);
    let end = start
        .checked_add_months(chrono::Months::new(months))
        .map(|d| d - Days::new(1))
        .unwrap_or(day);
    (start, end)
}

async fn subject_names<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, String>, DbErr> {
    let ids: Vec<i64> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(merchant::Entity::find()
        .filter(merchant::Column::Id.is_in(ids))
        .select_only()
        .column(merchant::Column::Id)
        .column(merchant::Column::DisplayName)
        .into_tuple::<(i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

fn subject_label(
    names: &HashMap<i64, String>,
    subject_type: &str,
    subject_id: &str,
    merchant_id: Option<i64>,
) -> String {
    let owner = merchant_id.and_then(|id| names.get(&id));
    match (subject_type, owner) {
        ("merchant", Some(n)) => format!("{n} (#{subject_id})"),
        (_, Some(n)) => format!("{subject_type} {subject_id} · {n}"),
        _ => format!("{subject_type} {subject_id}"),
    }
}

/// GMV between two local days: (total, brand live-stream, industry-belt).
async fn gmv_structure<C: ConnectionTrait>(
    db: &C,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(i64, i64, i64), DbErr> {
    let backend = db.get_database_backend();
    let p = |n: usize| match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_string(),
    };
    let sql = format!(
        "SELECT m.kind, g.channel, CAST(SUM(g.amount) AS BIGINT) \
         FROM gmv_daily_merchant g JOIN merchant m ON m.id = g.merchant_id \
         WHERE g.day >= {} AND g.day <= {} GROUP BY m.kind, g.channel",
        p(1),
        p(2)
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [from.into(), to.into()],
        ))
        .await?;
    let (mut total, mut brand_live, mut belt) = (0i64, 0i64, 0i64);
    for r in rows {
        let kind: String = r.try_get_by_index(0)?;
        let channel: String = r.try_get_by_index(1)?;
        let amount: i64 = r.try_get_by_index::<Option<i64>>(2)?.unwrap_or(0);
        total = total.checked_add(amount).ok_or_else(overflow)?;
        if kind == "brand" && channel == "live_stream" {
            brand_live = brand_live.checked_add(amount).ok_or_else(overflow)?;
        }
        if kind == "industry_belt" {
            belt = belt.checked_add(amount).ok_or_else(overflow)?;
        }
    }
    Ok((total, brand_live, belt))
}

/// The staff digest context as of `as_of`: every active programme's current period.
pub async fn staff_daily_context<C: ConnectionTrait>(
    db: &C,
    locale: Locale,
    as_of: DateTime<Utc>,
) -> Result<StaffDaily, DbErr> {
    let since = as_of - chrono::Duration::days(1);
    let programs = entity::program::Entity::find()
        .filter(entity::program::Column::Active.eq(true))
        .order_by_asc(entity::program::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::new();
    for p in programs {
        let tz: Tz = p.time_zone.parse().unwrap_or(Shanghai);
        let today = tz.from_utc_datetime(&as_of.naive_utc()).date_naive();
        let tiers: Vec<Tier> = serde_json::from_str(&p.tiers).unwrap_or_default();
        // The period evaluation stored for today, else the calendar period.
        let stored: Option<(NaiveDate, NaiveDate)> = progress::Entity::find()
            .filter(progress::Column::ProgramId.eq(p.id))
            .filter(progress::Column::PeriodStart.lte(today))
            .filter(progress::Column::PeriodEnd.gte(today))
            .select_only()
            .column(progress::Column::PeriodStart)
            .column(progress::Column::PeriodEnd)
            .order_by_desc(progress::Column::PeriodStart)
            .into_tuple()
            .one(db)
            .await?;
        let (start, end) = stored.unwrap_or_else(|| calendar_period(&p.period, today));

        let counts: Vec<(i32, i64)> = progress::Entity::find()
            .filter(progress::Column::ProgramId.eq(p.id))
            .filter(progress::Column::PeriodStart.eq(start))
            .select_only()
            .column(progress::Column::TierIndex)
            .column_as(progress::Column::SubjectId.count(), "n")
            .group_by(progress::Column::TierIndex)
            .into_tuple()
            .all(db)
            .await?;
        let count_at = |i: i32| {
            counts
                .iter()
                .filter(|(t, _)| *t == i)
                .map(|(_, n)| *n)
                .sum::<i64>()
        };
        let subjects: i64 = counts.iter().map(|(_, n)| *n).sum();
        let top = tiers.len() as i32 - 1;
        let top_tier_subjects = if top >= 0 { count_at(top) } else { 0 };

        let recent = |col: achievement::Column| {
            achievement::Entity::find()
                .filter(achievement::Column::ProgramId.eq(p.id))
                .filter(col.gt(since))
                .filter(col.lte(as_of))
                .order_by_desc(col)
                .limit(ACHIEVEMENTS_TOP)
        };
        let achieved = recent(achievement::Column::AchievedAt).all(db).await?;
        let revoked = recent(achievement::Column::RevokedAt).all(db).await?;
        let at_risk_rows = progress::Entity::find()
            .filter(progress::Column::ProgramId.eq(p.id))
            .filter(progress::Column::PeriodStart.eq(start))
            .filter(progress::Column::Status.eq("at_risk"))
            .order_by_asc(progress::Column::Remaining)
            .order_by_asc(progress::Column::SubjectId)
            .limit(AT_RISK_TOP)
            .all(db)
            .await?;
        let at_risk_total = progress::Entity::find()
            .filter(progress::Column::ProgramId.eq(p.id))
            .filter(progress::Column::PeriodStart.eq(start))
            .filter(progress::Column::Status.eq("at_risk"))
            .count(db)
            .await?;
        let names = subject_names(
            db,
            achieved
                .iter()
                .chain(&revoked)
                .filter_map(|a| a.merchant_id)
                .chain(at_risk_rows.iter().filter_map(|r| r.merchant_id)),
        )
        .await?;
        let line = |a: &achievement::Model, at: DateTime<Utc>| AchievementLine {
            subject: subject_label(&names, &a.subject_type, &a.subject_id, a.merchant_id),
            tier: a.tier.clone(),
            value: format_cny(a.value),
            at: local_time(at),
        };
        let gmv_to = end.min(local_day(as_of));
        let (total, brand_live, belt) = gmv_structure(db, start, gmv_to).await?;
        let goal_share = share_bps(top_tier_subjects, p.goal);
        out.push(ProgramDigest {
            subject: p.subject.clone(),
            period_start: start.to_string(),
            period_end: end.to_string(),
            goal: p.goal,
            top_tier: tiers.last().map(|t| t.name.clone()).unwrap_or_default(),
            top_tier_subjects,
            goal_percent: goal_share.map_or(0, |b| (b / 100).clamp(0, 100)),
            goal_share: goal_share.map(format_bps).unwrap_or_else(|| "—".into()),
            subjects,
            below_first_tier: count_at(-1),
            tiers: tiers
                .iter()
                .enumerate()
                .map(|(i, t)| TierLine {
                    name: t.name.clone(),
                    threshold: format_cny(t.threshold),
                    subjects: count_at(i as i32),
                })
                .collect(),
            achievements: achieved.iter().map(|a| line(a, a.achieved_at)).collect(),
            revocations: revoked
                .iter()
                .map(|a| line(a, a.revoked_at.unwrap_or(a.achieved_at)))
                .collect(),
            at_risk: at_risk_rows
                .iter()
                .map(|r| RiskLine {
                    subject: subject_label(&names, &r.subject_type, &r.subject_id, r.merchant_id),
                    value: format_cny(r.value),
                    next_tier: r.next_tier.clone(),
                    remaining: format_cny(r.remaining),
                    projected: format_cny(r.projected),
                })
                .collect(),
            at_risk_total: at_risk_total as i64,
            gmv_total: format_cny(total),
            brand_live_share: share_bps(brand_live, total).map(format_bps),
            industry_belt_share: share_bps(belt, total).map(format_bps),
            name: p.name,
        });
    }
    Ok(StaffDaily {
        locale: locale.as_str(),
        date: local_day(as_of).to_string(),
        since: local_time(since),
        programs: out,
        generated_at: local_time(as_of),
    })
}

/// Queues the staff digest for each `STAFF_DIGEST_TO` recipient, once per local day.
pub async fn staff_daily(
    db: &DatabaseConnection,
    config: &Config,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Queued> {
    let mut done = Queued::default();
    if config.staff_digest_to.is_empty() {
        return Ok(done);
    }
    let ctx = staff_daily_context(db, Locale::ZhCn, as_of).await?;
    let day = local_day(as_of);
    for to in &config.staff_digest_to {
        done.recipients += 1;
        let address = to.email.to_string();
        let rendered = templates::render("staff_daily", &ctx)?;
        let inserted = enqueue(
            db,
            NewEmail {
                kind: "staff_daily",
                merchant_id: None,
                recipient: &to.to_string(),
                locale: Locale::ZhCn,
                rendered,
                dedupe_key: format!("staff_daily:{}:{day}", address.to_lowercase()),
            },
        )
        .await?;
        if inserted {
            done.queued += 1;
        } else {
            done.duplicates += 1;
        }
    }
    Ok(done)
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
    fn shares_and_percentages() {
        assert_eq!(share_bps(1, 3), Some(3333));
        assert_eq!(share_bps(5, 0), None);
        assert_eq!(format_bps(3333), "33.33%");
        assert_eq!(format_bps(-50), "-0.50%");
        assert_eq!(share_bps(i64::MAX, i64::MAX), Some(10_000));
        assert_eq!(percent(50, Some(200)), 25);
        assert_eq!(percent(500, Some(200)), 100);
        assert_eq!(percent(-5, Some(200)), 0);
    }

    #[test]
    fn calendar_periods() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            calendar_period("year", d("2026-11-25")),
            (d("2026-01-01"), d("2026-12-31"))
        );
        assert_eq!(
            calendar_period("quarter", d("2026-11-25")),
            (d("2026-10-01"), d("2026-12-31"))
        );
        assert_eq!(
            calendar_period("month", d("2026-02-10")),
            (d("2026-02-01"), d("2026-02-28"))
        );
    }
}
