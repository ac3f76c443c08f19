//! The daily staff digest: per active programme, its [`summary`](super::summary) as of the
//! digest's instant (subjects per tier at or above, the top tier against the goal, the GMV
//! structure), plus the achievements and revocations of the last day and the at-risk list.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use entity::{achievement, progress};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;

use super::{
    ReportsError, format_bp, local_time,
    names::{label, subject_names},
    pictures::{self, EmailChart},
    program_def, program_summary, share_bp,
};
use crate::{
    domain::{
        money::format_cny,
        period::{Status, local_day},
        program::Subject,
    },
    mail::Locale,
};

/// How many at-risk subjects the digest lists per programme.
pub const AT_RISK_TOP: u64 = 10;
/// How many achievements (and revocations) the digest lists per programme.
const ACHIEVEMENTS_TOP: u64 = 50;

#[derive(Serialize)]
pub struct TierLine {
    pub name: String,
    pub threshold: String,
    /// Subjects at this tier or a higher one.
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
    pub program_id: i64,
    pub name: String,
    pub subject: Subject,
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
    /// Ascending; each with the subjects at it or above.
    pub tiers: Vec<TierLine>,
    pub achievements: Vec<AchievementLine>,
    pub revocations: Vec<AchievementLine>,
    pub at_risk: Vec<RiskLine>,
    pub at_risk_total: i64,
    /// The GMV structure of the period to date, in fen and basis points.
    pub gmv_total_fen: i64,
    pub brand_live_stream_fen: i64,
    pub industry_belt_fen: i64,
    pub brand_live_share_bp: Option<i64>,
    pub industry_belt_share_bp: Option<i64>,
    /// The same, formatted.
    pub gmv_total: String,
    /// The marketplace's GMV of the same days; absent unless every day has a total.
    pub platform_total: Option<String>,
    pub coverage_days: i64,
    pub gmv_days: i64,
    pub brand_live_share: Option<String>,
    pub industry_belt_share: Option<String>,
    /// Subjects at or above each tier by day through the period so far, with the goal.
    pub tier_chart: Option<EmailChart>,
    /// The brand live-stream and industry-belt shares by week through the period so far.
    pub share_chart: Option<EmailChart>,
}

/// The context the `staff_daily` templates render.
#[derive(Serialize)]
pub struct StaffDaily {
    pub locale: &'static str,
    /// The fixed words, in `locale`.
    pub t: HashMap<&'static str, &'static str>,
    pub date: String,
    pub since: String,
    pub programs: Vec<ProgramDigest>,
    pub generated_at: String,
}

/// How a digest line names a subject: a merchant by its name and id, a product or a creator
/// by its name with the merchant it sells for.
fn subject_label(
    names: &HashMap<String, String>,
    subject_type: Subject,
    subject_id: &str,
    merchant_id: Option<i64>,
) -> String {
    let name = label(names, subject_type, subject_id);
    let owner = merchant_id.and_then(|id| names.get(&id.to_string()));
    match (subject_type, owner) {
        (Subject::Merchant, _) => format!("{name} (#{subject_id})"),
        (_, Some(o)) => format!("{name} · {o}"),
        _ => name,
    }
}

/// The digest's fixed words in its locale.
fn labels(locale: Locale) -> HashMap<&'static str, &'static str> {
    let en = locale == Locale::En;
    let pick = |zh: &'static str, e: &'static str| if en { e } else { zh };
    HashMap::from([
        ("lang", locale.as_str()),
        ("title", pick("激励计划日报", "Incentive programmes daily")),
        (
            "subject_prefix",
            pick("【激励计划日报】", "[Daily digest] "),
        ),
        (
            "none_running",
            pick("暂无进行中的激励计划", "no programme is running"),
        ),
        (
            "since_pre",
            pick("北京时间，统计 ", "Asia/Shanghai time; changes since "),
        ),
        ("since_post", pick(" 以来的变化", "")),
        ("range_to", pick(" 至 ", " – ")),
        ("top_tier", pick("最高档", "Top tier")),
        ("goal", pick("目标", "goal")),
        ("evaluated", pick("参与评估", "evaluated")),
        ("below", pick("未达档", "below the first tier")),
        (
            "tiers_heading",
            pick(
                "各档位（达到该档及以上的主体数）",
                "Tiers (subjects at the tier or above)",
            ),
        ),
        ("tier", pick("档位", "Tier")),
        ("threshold", pick("门槛", "Threshold")),
        ("at_or_above", pick("达到该档及以上", "At or above")),
        ("gmv_heading", pick("本期 GMV", "GMV this period")),
        ("platform", pick("平台 GMV", "Marketplace GMV")),
        (
            "brand_share",
            pick("品牌直播占比", "Brand live-stream share"),
        ),
        ("belt_share", pick("产业带占比", "Industry-belt share")),
        (
            "coverage",
            pick("平台数据覆盖天数", "Days with marketplace totals"),
        ),
        ("achieved_heading", pick("新达成", "Newly achieved")),
        ("reached", pick("达到", "reached")),
        ("revoked", pick("撤销", "Revoked")),
        ("revoked_suffix", pick("已撤销", "revoked")),
        ("at_risk_heading", pick("有风险", "At risk")),
        ("total", pick("共", "total")),
        ("showing", pick("列出前", "showing")),
        ("none", pick("无", "none")),
        ("subject", pick("主体", "Subject")),
        ("value", pick("当前", "Value")),
        ("next_tier", pick("下一档", "Next tier")),
        ("remaining", pick("还差", "Remaining")),
        ("projected", pick("预计", "Projected")),
        (
            "no_programs",
            pick("当前没有进行中的激励计划。", "No programme is running."),
        ),
        ("footer", pick("商家激励平台", "Merchant Incentives")),
        ("generated", pick("生成于", "generated")),
    ])
}

/// The staff digest context as of `as_of`: every active programme's period containing it.
pub async fn staff_daily_context(
    db: &DatabaseConnection,
    locale: Locale,
    as_of: DateTime<Utc>,
) -> Result<StaffDaily, ReportsError> {
    let since = as_of - chrono::Duration::days(1);
    let programs = entity::program::Entity::find()
        .filter(entity::program::Column::Active.eq(true))
        .order_by_asc(entity::program::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::new();
    for p in programs {
        let def = program_def(&p)?;
        let s = program_summary(db, p.id, &def, None, Some(as_of)).await?;
        let period = s.period;

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
        let at_risk = || {
            progress::Entity::find()
                .filter(progress::Column::ProgramId.eq(p.id))
                .filter(progress::Column::PeriodStart.eq(period.start))
                .filter(progress::Column::Status.eq(Status::AtRisk))
        };
        let at_risk_rows = at_risk()
            .order_by_asc(progress::Column::Remaining)
            .order_by_asc(progress::Column::SubjectId)
            .limit(AT_RISK_TOP)
            .all(db)
            .await?;
        let at_risk_total = at_risk().count(db).await?;
        let owners: Vec<String> = achieved
            .iter()
            .chain(&revoked)
            .filter_map(|a| a.merchant_id)
            .chain(at_risk_rows.iter().filter_map(|r| r.merchant_id))
            .map(|id| id.to_string())
            .collect();
        let subjects: Vec<(Subject, &str)> = achieved
            .iter()
            .chain(&revoked)
            .map(|a| (a.subject_type, a.subject_id.as_str()))
            .chain(
                at_risk_rows
                    .iter()
                    .map(|r| (r.subject_type, r.subject_id.as_str())),
            )
            .chain(owners.iter().map(|id| (Subject::Merchant, id.as_str())))
            .collect();
        let names = subject_names(db, &subjects).await?;
        let line = |a: &achievement::Model, at: DateTime<Utc>| AchievementLine {
            subject: subject_label(&names, a.subject_type, &a.subject_id, a.merchant_id),
            tier: a.tier.clone(),
            value: format_cny(a.value),
            at: local_time(at),
        };
        let today = local_day(def.time_zone, as_of).min(period.end);
        let tier_chart = tier_chart(db, &p, &def, period.start, today, locale).await?;
        let share_chart = share_chart(db, &p, &def, period.start, today, locale).await?;
        let goal_share = share_bp(s.top_tier_reached, s.goal);
        let brand_live_share_bp = s.gmv.brand_live_stream_share_bp();
        let industry_belt_share_bp = s.gmv.industry_belt_share_bp();
        out.push(ProgramDigest {
            program_id: p.id,
            subject: p.subject,
            period_start: s.period.start.to_string(),
            period_end: s.period.end.to_string(),
            goal: s.goal,
            top_tier: s
                .tiers
                .last()
                .map(|t| t.tier.name.clone())
                .unwrap_or_default(),
            top_tier_subjects: s.top_tier_reached,
            goal_percent: goal_share.map_or(0, |b| (b / 100).clamp(0, 100)),
            goal_share: goal_share.map(format_bp).unwrap_or_else(|| "—".into()),
            subjects: s.subjects,
            below_first_tier: s.below_first_tier,
            tiers: s
                .tiers
                .iter()
                .map(|t| TierLine {
                    name: t.tier.name.clone(),
                    threshold: format_cny(t.tier.threshold),
                    subjects: t.at_or_above,
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
                    subject: subject_label(&names, r.subject_type, &r.subject_id, r.merchant_id),
                    value: format_cny(r.value),
                    next_tier: r.next_tier.clone(),
                    remaining: format_cny(r.remaining),
                    projected: format_cny(r.projected),
                })
                .collect(),
            at_risk_total: at_risk_total as i64,
            gmv_total_fen: s.gmv.total,
            brand_live_stream_fen: s.gmv.brand_live_stream,
            industry_belt_fen: s.gmv.industry_belt,
            brand_live_share_bp,
            industry_belt_share_bp,
            gmv_total: format_cny(s.gmv.total),
            platform_total: s.gmv.platform_total().map(format_cny),
            coverage_days: s.gmv.coverage_days,
            gmv_days: s.gmv.days(),
            brand_live_share: brand_live_share_bp.map(format_bp),
            industry_belt_share: industry_belt_share_bp.map(format_bp),
            tier_chart,
            share_chart,
            name: p.name,
        });
    }
    Ok(StaffDaily {
        locale: locale.as_str(),
        t: labels(locale),
        date: local_day(Shanghai, as_of).to_string(),
        since: local_time(since),
        programs: out,
        generated_at: local_time(as_of),
    })
}

/// Subjects at or above each tier by day over `from..=to`, projected to the top tier, against
/// the goal; none before the first evaluation.
async fn tier_chart(
    db: &DatabaseConnection,
    p: &entity::program::Model,
    def: &crate::domain::program::ProgramDef,
    from: NaiveDate,
    to: NaiveDate,
    locale: Locale,
) -> Result<Option<EmailChart>, ReportsError> {
    let trend = super::history::tier_trend(db, p.id, def, from, to).await?;
    let Some(last) = trend.last() else {
        return Ok(None);
    };
    let en = locale == Locale::En;
    let (series, rules) = super::history::tier_lines(
        def,
        &trend,
        if en {
            "Projected to the top tier"
        } else {
            "预计达最高档"
        },
        if en { "Goal" } else { "目标" },
    );
    let counts = last
        .per_tier
        .iter()
        .map(|c| format!("{} {}", c.tier.name, c.at_or_above))
        .collect::<Vec<_>>()
        .join(if en { ", " } else { "、" });
    let alt = if en {
        format!(
            "{}: subjects at or above each tier by day, {} to {}; on {}: {counts}; {} projected to the top tier; goal {}",
            p.name, trend[0].day, last.day, last.day, last.projected_top_tier, def.goal
        )
    } else {
        format!(
            "{}：{} 至 {} 每日达到各档（或更高）的主体数；{}：{counts}；预计达最高档 {}；目标 {}",
            p.name, trend[0].day, last.day, last.day, last.projected_top_tier, def.goal
        )
    };
    Ok(Some(EmailChart::new(
        format!("tiers-{}@merchant-incentives", p.id),
        alt,
        series,
        rules,
    )))
}

/// The two shares of the marketplace's GMV by ISO week over `from..=to`, within the
/// programme's scope; weeks without a complete platform total have no point.
async fn share_chart(
    db: &DatabaseConnection,
    p: &entity::program::Model,
    def: &crate::domain::program::ProgramDef,
    from: NaiveDate,
    to: NaiveDate,
    locale: Locale,
) -> Result<Option<EmailChart>, ReportsError> {
    if to < from {
        return Ok(None);
    }
    let weeks = super::gmv_structure_series(
        db,
        &super::GmvScope::of(def),
        from,
        to,
        super::Buckets::By(crate::domain::gmv::Granularity::Week),
        None,
    )
    .await?;
    let points = |f: fn(&super::GmvStructure) -> Option<i64>| {
        weeks
            .iter()
            .filter_map(|w| f(w).map(|bp| (w.from, bp)))
            .collect::<Vec<_>>()
    };
    let brand = points(super::GmvStructure::brand_live_stream_share_bp);
    let belt = points(super::GmvStructure::industry_belt_share_bp);
    if brand.is_empty() && belt.is_empty() {
        return Ok(None);
    }
    let en = locale == Locale::En;
    let last =
        |v: &[(NaiveDate, i64)]| v.last().map_or("—".to_string(), |(_, bp)| format_bp(*bp));
    let alt = if en {
        format!(
            "{}: shares of the marketplace's GMV by week from {from} to {to}; latest week: brand live stream {}, industry belt {}",
            p.name,
            last(&brand),
            last(&belt)
        )
    } else {
        format!(
            "{}：{from} 至 {to} 每周占平台 GMV 的份额；最近一周品牌直播 {}，产业带 {}",
            p.name,
            last(&brand),
            last(&belt)
        )
    };
    Ok(Some(EmailChart::new(
        format!("shares-{}@merchant-incentives", p.id),
        alt,
        vec![
            pictures::series(
                (if en {
                    "Brand live-stream share"
                } else {
                    "品牌直播占比"
                })
                .to_string(),
                brand,
                false,
            ),
            pictures::series(
                (if en {
                    "Industry-belt share"
                } else {
                    "产业带占比"
                })
                .to_string(),
                belt,
                false,
            ),
        ],
        Vec::new(),
    )))
}
