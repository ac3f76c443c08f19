use crate::api::types::{Day, Nullable, Opt, Parsed, Text};
use crate::domain::reward::{RebateReward, TierReward, TrafficCredit};
use crate::{api::codes, error::ApiResult};
use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::MaybeUndefined,
};

use super::{
    merchants::{staff_only, visible},
    tags::ApiTags,
};
use crate::{
    auth::RequireRole,
    auth::{AnyAuth, MerchantAuth, StaffAuth},
    domain::{
        merchant::MerchantKind,
        period::{PeriodKind, Status, Tier},
        program::{Channel, Metric, ProgramDef, ProgramInput, Subject},
    },
    error::{AppError, AppResult},
    pagination,
    services::{
        programs, reports,
        reports::leaderboard::{self, LeaderboardFilter, NamedProgress},
    },
    state::AppState,
};

pub struct ProgramsApi;

/// An incentive programme.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Program {
    /// Programme id.
    pub id: i64,
    /// Name shown to staff and merchants.
    pub name: String,
    /// Free text shown with the programme; may be empty.
    pub description: String,
    pub subject: Subject,
    /// Merchant kinds taking part.
    pub merchant_kinds: Vec<MerchantKind>,
    pub metric: Metric,
    pub channel: Option<Channel>,
    pub period: PeriodKind,
    /// IANA time zone of the calendar periods.
    pub time_zone: String,
    /// First day of the first period.
    pub starts_on: Day,
    /// Last day evaluated (inclusive); absent when open-ended.
    pub ends_on: Option<Day>,
    /// Ascending.
    pub tiers: Vec<Tier>,
    /// How many subjects should reach the top tier.
    pub goal: i64,
    /// Only active programmes are evaluated and shown to merchants.
    pub active: bool,
    /// Set for the programmes created on first start.
    pub seed_key: Option<String>,
    /// When the programme was created.
    pub created_at: DateTime<Utc>,
    /// When the programme last changed.
    pub updated_at: DateTime<Utc>,
}

fn to_api(p: entity::program::Model) -> AppResult<Program> {
    let d = ProgramDef::from_row(&p).map_err(AppError::internal)?;
    Ok(Program {
        id: p.id,
        name: d.name,
        description: d.description,
        subject: d.subject,
        merchant_kinds: d.merchant_kinds,
        metric: d.metric,
        channel: d.channel,
        period: d.period,
        time_zone: p.time_zone,
        starts_on: d.starts_on.into(),
        ends_on: d.ends_on.map(Day),
        tiers: d.tiers,
        goal: d.goal,
        active: d.active,
        seed_key: p.seed_key,
        created_at: p.created_at,
        updated_at: p.updated_at,
    })
}

/// A new programme.
#[derive(Object, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct NewProgram {
    /// 1–200 characters.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: Text,
    /// At most 2,000 characters; line breaks allowed.
    #[oai(default, validator(max_length = 2000))]
    #[serde(default)]
    pub description: Text,
    pub subject: Subject,
    /// Default: both kinds.
    #[oai(validator(min_items = 1))]
    #[serde(default)]
    pub merchant_kinds: Opt<Vec<MerchantKind>>,
    pub metric: Metric,
    #[serde(default)]
    pub channel: Opt<Channel>,
    pub period: PeriodKind,
    /// IANA name; default `Asia/Shanghai`.
    #[oai(validator(
        min_length = 1,
        max_length = 64,
        pattern = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$"
    ))]
    #[serde(default)]
    pub time_zone: Opt<Text>,
    /// First day of the first period.
    pub starts_on: Day,
    /// On or after `starts_on`.
    #[serde(default)]
    pub ends_on: Opt<Day>,
    /// At least one; thresholds positive and strictly increasing; names unique.
    #[oai(validator(min_items = 1))]
    pub tiers: Vec<Tier>,
    /// Positive.
    #[oai(validator(minimum(value = "1")))]
    pub goal: i64,
    /// Default true.
    #[serde(default)]
    pub active: Opt<bool>,
}

impl poem_openapi::types::Example for NewProgram {
    fn example() -> Self {
        Self {
            name: "品牌直播 · brand live-stream stars".into(),
            description: "Brand merchants' live-stream GMV per quarter.".into(),
            subject: Subject::Merchant,
            merchant_kinds: Opt::some(vec![MerchantKind::Brand]),
            metric: Metric::ChannelGmv,
            channel: Opt::some(Channel::LiveStream),
            period: PeriodKind::Quarter,
            time_zone: Opt::some("Asia/Shanghai".into()),
            starts_on: Day(NaiveDate::from_ymd_opt(2026, 1, 1).expect("date")),
            ends_on: Opt::none(),
            tiers: vec![
                Tier {
                    name: "¥1M".into(),
                    threshold: 100_000_000,
                    rewards: vec![TierReward::CommissionRebate(RebateReward { rate_bp: 50 })],
                },
                Tier {
                    name: "¥5M".into(),
                    threshold: 500_000_000,
                    rewards: vec![TierReward::TrafficCredit(TrafficCredit { amount: 500_000 })],
                },
            ],
            goal: 200,
            active: Opt::some(true),
        }
    }
}

/// Changes to a programme; absent fields stay. The result is validated as a whole. `channel`
/// goes with `metric: channel_gmv`; changing `metric` to `gmv` drops it.
#[derive(Object, Default, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
#[serde(default)]
pub struct ProgramPatch {
    /// 1–200 characters.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: Opt<Text>,
    /// At most 2,000 characters; line breaks allowed.
    #[oai(validator(max_length = 2000))]
    pub description: Opt<Text>,
    pub subject: Opt<Subject>,
    /// Replaces the merchant kinds taking part.
    #[oai(validator(min_items = 1))]
    pub merchant_kinds: Opt<Vec<MerchantKind>>,
    pub metric: Opt<Metric>,
    pub channel: Opt<Channel>,
    pub period: Opt<PeriodKind>,
    /// IANA name.
    #[oai(validator(
        min_length = 1,
        max_length = 64,
        pattern = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$"
    ))]
    pub time_zone: Opt<Text>,
    /// First day of the first period.
    pub starts_on: Opt<Day>,
    /// `null` removes the end date.
    pub ends_on: Nullable<Day>,
    /// Replaces the tiers; achievements already recorded are kept.
    #[oai(validator(min_items = 1))]
    pub tiers: Opt<Vec<Tier>>,
    /// Positive.
    #[oai(validator(minimum(value = "1")))]
    pub goal: Opt<i64>,
    /// Only active programmes are evaluated and shown to merchants.
    pub active: Opt<bool>,
}

impl poem_openapi::types::Example for ProgramPatch {
    fn example() -> Self {
        Self {
            goal: Opt::some(1_200),
            ..Default::default()
        }
    }
}
#[derive(ApiResponse)]
pub enum CreateProgramResponse {
    /// The programme was created.
    #[oai(status = 201)]
    Created(Json<Program>),
}

/// A page of programmes.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ProgramPage {
    /// The programmes of this page.
    pub items: Vec<Program>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A subject's progress in a programme period.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ProgressEntry {
    /// The programme.
    pub program_id: i64,
    /// First day of the period.
    pub period_start: Day,
    /// Inclusive.
    pub period_end: Day,
    pub subject_type: Subject,
    /// Merchant id, creator id, or `{merchant_id}:{product_id}`.
    pub subject_id: String,
    /// What to call the subject: the merchant's display name, the product's name from its
    /// merchant's catalogue, or the creator's nickname; absent for a product not in it.
    pub name: Option<String>,
    /// Net GMV of the period to date, fen.
    pub value: i64,
    /// Highest tier reached.
    pub tier: Option<String>,
    /// The next tier to reach; absent at the top.
    pub next_tier: Option<String>,
    /// The next tier's threshold, fen; absent at the top.
    pub next_threshold: Option<i64>,
    /// Fen missing to the next tier (0 at the top).
    pub remaining: i64,
    /// `value + (net GMV of the last 28 full days / 28) × days left`.
    pub projected: i64,
    pub status: Status,
    /// When this entry was computed.
    pub evaluated_at: DateTime<Utc>,
}

impl From<NamedProgress> for ProgressEntry {
    fn from(n: NamedProgress) -> Self {
        let p = n.row;
        Self {
            name: n.name,
            program_id: p.program_id,
            period_start: p.period_start.into(),
            period_end: p.period_end.into(),
            subject_type: p.subject_type,
            subject_id: p.subject_id,
            value: p.value,
            tier: p.tier,
            next_tier: p.next_tier,
            next_threshold: p.next_threshold,
            remaining: p.remaining,
            projected: p.projected,
            status: p.status,
            evaluated_at: p.evaluated_at,
        }
    }
}

/// A merchant's progress page: itself and its products, latest period of each programme.
async fn progress_page(
    state: &AppState,
    merchant_id: i64,
    limit: Option<i64>,
    cursor: Option<String>,
) -> Result<ProgressPage, AppError> {
    let limit = pagination::limit(limit)?;
    let cursor = pagination::decode(cursor.as_deref())?;
    let (rows, next_cursor) =
        leaderboard::merchant_progress(&state.db, merchant_id, limit, cursor).await?;
    Ok(ProgressPage {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    })
}

/// A page of progress entries.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ProgressPage {
    /// The entries of this page.
    pub items: Vec<ProgressEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A tier reached by a subject in a period, recorded once.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Achievement {
    /// Achievement id.
    pub id: i64,
    /// The programme.
    pub program_id: i64,
    /// First day of the period.
    pub period_start: Day,
    pub subject_type: Subject,
    /// Merchant id, creator id, or `{merchant_id}:{product_id}`.
    pub subject_id: String,
    /// What to call the subject: the merchant's display name, the product's name from its
    /// merchant's catalogue, or the creator's nickname; absent for a product not in it.
    pub name: Option<String>,
    /// The merchant concerned; absent for creator subjects.
    pub merchant_id: Option<i64>,
    /// The tier reached.
    pub tier: String,
    /// The tier's threshold when it was reached.
    pub threshold: i64,
    /// The value when it was reached.
    pub value: i64,
    /// When the tier was first reached.
    pub achieved_at: DateTime<Utc>,
    /// Set while refunds keep the subject under the threshold.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The evaluation run that recorded it.
    pub run_id: i64,
}

/// A page of achievements.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AchievementPage {
    /// The achievements of this page.
    pub items: Vec<Achievement>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A tier and the subjects at it or at a higher tier.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TierSummary {
    /// The tier's name.
    pub name: String,
    /// The tier's threshold, fen.
    pub threshold: i64,
    /// Subjects whose highest tier reached is this one or a higher one.
    pub subjects: i64,
}

/// How many subjects have each status.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct StatusCounts {
    /// Subjects at the top tier.
    pub achieved: i64,
    /// Subjects whose projection reaches the next tier.
    pub on_track: i64,
    /// Subjects whose projection reaches at least 80% of the next tier.
    pub at_risk: i64,
    /// Subjects whose projection falls short of 80% of the next tier.
    pub behind: i64,
}

/// GMV of the approved merchants within the programme's filters (its merchant kinds, and its
/// channel for `channel_gmv`) over a span of days; shares in basis points (1/100 %) of the
/// marketplace's own GMV, rounded toward zero, absent unless every day of the span has a
/// platform total (`PUT /platform/gmv/{day}`).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GmvShares {
    /// First day of the span.
    pub from: Option<Day>,
    /// Inclusive (today for the open period).
    pub to: Option<Day>,
    /// Net GMV of the span of the approved merchants in scope, fen.
    pub total: i64,
    /// Brand merchants' live-stream GMV.
    pub brand_live_stream: i64,
    /// Industry-belt merchants' GMV.
    pub industry_belt: i64,
    /// The marketplace's GMV of the span, fen; absent unless every day has a total.
    pub platform_total: Option<i64>,
    /// Days of the span with a platform total.
    pub coverage_days: i64,
    /// `brand_live_stream / platform_total` in basis points.
    pub brand_live_stream_share_bp: Option<i64>,
    /// `industry_belt / platform_total` in basis points.
    pub industry_belt_share_bp: Option<i64>,
}

impl From<reports::GmvStructure> for GmvShares {
    fn from(g: reports::GmvStructure) -> Self {
        Self {
            from: Some(Day(g.from)),
            to: Some(Day(g.to)),
            total: g.total,
            brand_live_stream: g.brand_live_stream,
            industry_belt: g.industry_belt,
            platform_total: g.platform_total(),
            coverage_days: g.coverage_days,
            brand_live_stream_share_bp: g.brand_live_stream_share_bp(),
            industry_belt_share_bp: g.industry_belt_share_bp(),
        }
    }
}

/// The GMV structure of the period against the previous one.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GmvStructure {
    pub current: GmvShares,
    /// The previous calendar period.
    pub previous: GmvShares,
    /// Change of the brand live-stream share, basis points.
    pub brand_live_stream_share_change_bp: Option<i64>,
    /// Change of the industry-belt share, basis points.
    pub industry_belt_share_change_bp: Option<i64>,
}

/// A programme's period at a glance.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ProgramSummary {
    /// The programme.
    pub program_id: i64,
    /// First day of the period.
    pub period_start: Day,
    /// Last day of the period (inclusive).
    pub period_end: Day,
    /// How many subjects should reach the top tier.
    pub goal: i64,
    /// Subjects evaluated in the period.
    pub subjects: i64,
    /// Per tier (ascending), the subjects at it or above.
    pub tiers: Vec<TierSummary>,
    /// Subjects at the top tier.
    pub top_tier_reached: i64,
    /// Subjects whose projection reaches the top tier.
    pub projected_top_tier: i64,
    pub statuses: StatusCounts,
    pub gmv: GmvStructure,
}

/// A subject's standing at the end of a day: the day's last snapshot.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct HistoryItem {
    /// The local day (programme time zone).
    pub day: Day,
    /// First day of the period the standing belongs to.
    pub period_start: Day,
    /// Net GMV of the period to that day, fen.
    pub value: i64,
    /// Highest tier reached; absent below the first.
    pub tier: Option<String>,
    pub status: Status,
    /// Projection to the period's end, fen.
    pub projected: i64,
}

/// A subject's history: one item per day on which its standing changed, oldest first.
#[derive(Object)]
#[oai(example)]
pub struct SubjectHistory {
    /// Each day's last snapshot; a day without a change has none (the previous item holds).
    pub items: Vec<HistoryItem>,
}

impl poem_openapi::types::Example for SubjectHistory {
    fn example() -> Self {
        let day = |s: &str| Day(s.parse().expect("a valid day"));
        let item = |d: &str, value: i64, tier: Option<&str>, status, projected| HistoryItem {
            day: day(d),
            period_start: day("2026-01-01"),
            value,
            tier: tier.map(Into::into),
            status,
            projected,
        };
        Self {
            items: vec![
                item(
                    "2026-11-14",
                    980_000_000,
                    None,
                    Status::AtRisk,
                    1_150_000_000,
                ),
                item(
                    "2026-11-15",
                    1_012_000_000,
                    Some("千万"),
                    Status::OnTrack,
                    1_190_000_000,
                ),
                item(
                    "2026-11-16",
                    995_000_000,
                    None,
                    Status::AtRisk,
                    1_160_000_000,
                ),
            ],
        }
    }
}

/// Subjects at a tier or above on a day.
#[derive(Object)]
pub struct TrendTier {
    /// Tier name.
    pub tier: String,
    /// Its threshold, fen.
    pub threshold: i64,
    /// Subjects at this tier or a higher one.
    pub at_or_above: i64,
}

/// A programme's tier counts at the end of a day.
#[derive(Object)]
pub struct TrendItem {
    /// The local day (programme time zone).
    pub day: Day,
    /// Subjects with a standing in the period containing the day.
    pub subjects: i64,
    /// Per tier, ascending.
    pub per_tier: Vec<TrendTier>,
    /// Subjects whose projection reaches the top tier's threshold.
    pub projected_top_tier: i64,
}

/// A programme's trend: one item per day, oldest first.
#[derive(Object)]
#[oai(example)]
pub struct ProgramTrend {
    /// One per day of the span.
    pub items: Vec<TrendItem>,
}

impl poem_openapi::types::Example for ProgramTrend {
    fn example() -> Self {
        let item = |d: &str, at: [i64; 2], projected_top_tier| TrendItem {
            day: Day(d.parse().expect("a valid day")),
            subjects: 1_204,
            per_tier: vec![
                TrendTier {
                    tier: "千万".into(),
                    threshold: 1_000_000_000,
                    at_or_above: at[0],
                },
                TrendTier {
                    tier: "亿元".into(),
                    threshold: 10_000_000_000,
                    at_or_above: at[1],
                },
            ],
            projected_top_tier,
        };
        Self {
            items: vec![
                item("2026-11-15", [611, 84], 97),
                item("2026-11-16", [615, 86], 99),
            ],
        }
    }
}

/// `from` and `to`, defaulting to the 30 days ending today in the programme's time zone.
fn days(def: &ProgramDef, from: Option<Day>, to: Option<Day>) -> (NaiveDate, NaiveDate) {
    crate::domain::period::span_or_30_days(
        from.map(|d| d.0),
        to.map(|d| d.0),
        crate::domain::period::local_day(def.time_zone, Utc::now()),
    )
}

fn merchant_visible(auth: &AnyAuth, p: &entity::program::Model) -> AppResult<()> {
    if matches!(auth, AnyAuth::Merchant(_)) && !p.active {
        return Err(AppError::not_found("programme"));
    }
    Ok(())
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Programs")]
impl ProgramsApi {
    /// Create a programme
    ///
    /// Admins. Tiers ascend strictly; `channel_gmv` needs a `channel`; the time zone is an
    /// IANA name. Invalid definitions are 422 naming the field.
    #[oai(path = "/programs", method = "post", operation_id = "programs_create")]
    async fn create(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        body: Json<Parsed<NewProgram>>,
    ) -> ApiResult<CreateProgramResponse, codes::ProgramsCreate> {
        auth.0.require_admin()?;
        let b = body.0.into_inner()?;
        let def = ProgramDef::parse(ProgramInput {
            name: b.name.into(),
            description: b.description.into(),
            subject: b.subject,
            merchant_kinds: b
                .merchant_kinds
                .0
                .unwrap_or_else(|| vec![MerchantKind::Brand, MerchantKind::IndustryBelt]),
            metric: b.metric,
            channel: b.channel.0,
            period: b.period,
            time_zone: b
                .time_zone
                .0
                .map_or_else(|| "Asia/Shanghai".into(), String::from),
            starts_on: b.starts_on.0,
            ends_on: b.ends_on.0.map(NaiveDate::from),
            tiers: b.tiers,
            goal: b.goal,
            active: b.active.0.unwrap_or(true),
        })?;
        let row = programs::create(&state.db, &def).await?;
        Ok(CreateProgramResponse::Created(Json(to_api(row)?)))
    }

    /// List programmes
    ///
    /// Staff see every programme; merchants only active ones. Ordered by id.
    #[oai(path = "/programs", method = "get", operation_id = "programs_list")]
    async fn list(
        &self,
        auth: AnyAuth,
        state: Data<&AppState>,
        /// Page size, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page; omit for the first page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<ProgramPage>, codes::ProgramsList> {
        let limit = pagination::limit(limit.0)?;
        let after = pagination::decode_id(cursor.0.as_deref())?;
        let active_only = matches!(auth, AnyAuth::Merchant(_));
        let (rows, next_cursor) = programs::list(&state.db, active_only, limit, after).await?;
        Ok(Json(ProgramPage {
            items: rows.into_iter().map(to_api).collect::<AppResult<_>>()?,
            next_cursor,
        }))
    }

    /// Get a programme
    ///
    /// Staff see any programme; merchants only active ones (others are 404).
    #[oai(path = "/programs/:id", method = "get", operation_id = "programs_get")]
    async fn get(
        &self,
        auth: AnyAuth,
        state: Data<&AppState>,
        /// The programme's id.
        id: Path<i64>,
    ) -> ApiResult<Json<Program>, codes::ProgramsGet> {
        let p = programs::get(&state.db, id.0).await?;
        merchant_visible(&auth, &p)?;
        Ok(Json(to_api(p)?))
    }

    /// Edit a programme
    ///
    /// Admins. Absent fields stay as they are; the result is validated as a whole. Editing
    /// tiers keeps the achievements already recorded; the next evaluation applies the new tiers.
    #[oai(
        path = "/programs/:id",
        method = "patch",
        operation_id = "programs_update"
    )]
    async fn update(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The programme's id.
        id: Path<i64>,
        body: Json<Parsed<ProgramPatch>>,
    ) -> ApiResult<Json<Program>, codes::ProgramsUpdate> {
        auth.0.require_admin()?;
        let b = body.0.into_inner()?;
        let row = programs::update(&state.db, id.0, move |i| {
            if let Some(v) = b.name.0 {
                i.name = v.into();
            }
            if let Some(v) = b.description.0 {
                i.description = v.into();
            }
            if let Some(v) = b.subject.0 {
                i.subject = v;
            }
            if let Some(v) = b.merchant_kinds.0 {
                i.merchant_kinds = v;
            }
            if let Some(v) = b.metric.0 {
                i.metric = v;
            }
            match (b.channel.0, b.metric.0) {
                (Some(c), _) => i.channel = Some(c),
                (None, Some(Metric::Gmv)) => i.channel = None,
                (None, _) => {}
            }
            if let Some(v) = b.period.0 {
                i.period = v;
            }
            if let Some(v) = b.time_zone.0 {
                i.time_zone = v.into();
            }
            if let Some(v) = b.starts_on.0 {
                i.starts_on = v.0;
            }
            match b.ends_on.0 {
                MaybeUndefined::Undefined => {}
                MaybeUndefined::Null => i.ends_on = None,
                MaybeUndefined::Value(d) => i.ends_on = Some(d.0),
            }
            if let Some(v) = b.tiers.0 {
                i.tiers = v;
            }
            if let Some(v) = b.goal.0 {
                i.goal = v;
            }
            if let Some(v) = b.active.0 {
                i.active = v;
            }
        })
        .await?;
        Ok(Json(to_api(row)?))
    }

    /// A programme's leaderboard
    ///
    /// Staff. Progress of one period (default: the latest evaluated), by value descending,
    /// ties by subject id. Filter by `status` or `tier` (a tier name).
    #[oai(
        path = "/programs/:id/progress",
        method = "get",
        operation_id = "programs_progress"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn progress(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The programme's id.
        id: Path<i64>,
        /// First day of the period (`YYYY-MM-DD`); default: the latest evaluated period.
        period_start: Query<Option<Day>>,
        /// Only subjects with this status.
        status: Query<Option<Status>>,
        /// Only subjects whose highest tier reached is this one (a tier name).
        tier: Query<Option<String>>,
        /// Page size, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page; omit for the first page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<ProgressPage>, codes::ProgramsProgress> {
        let _ = auth;
        let limit = pagination::limit(limit.0)?;
        let cursor = pagination::decode(cursor.0.as_deref())?;
        // A period asked for is aligned to the programme's calendar; otherwise the board is the
        // latest evaluated period's, found inside the page's one statement, and the programme
        // is only looked up to tell an empty board from an unknown programme.
        let period = match period_start.0 {
            Some(day) => {
                let p = programs::get(&state.db, id.0).await?;
                let def = ProgramDef::from_row(&p).map_err(AppError::internal)?;
                Some(reports::period_of_day(&def, day.into()).start)
            }
            None => None,
        };
        // Reads that tolerate lag: the replica when there is one close enough.
        let db = state.reads.pick().await;
        let (rows, next_cursor) = leaderboard::leaderboard(
            db,
            id.0,
            period,
            LeaderboardFilter {
                status: status.0,
                tier: tier.0,
            },
            limit,
            cursor,
        )
        .await?;
        if rows.is_empty() && period.is_none() {
            programs::get(&state.db, id.0).await?;
        }
        Ok(Json(ProgressPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// A programme's summary
    ///
    /// Staff. Subjects per tier against the goal — each tier counts the subjects at it **or
    /// above** — how many are projected to reach the top tier, and the GMV structure of the
    /// period (brand live-stream and industry-belt shares in basis points, of the approved
    /// merchants within the programme's merchant kinds and, for `channel_gmv`, its channel)
    /// against the previous period. The period is the one starting `period_start`, else the one
    /// containing `as_of`, else the latest evaluated; GMV counts the days up to `as_of`
    /// (default now). The staff digest shows the same figures.
    #[oai(
        path = "/programs/:id/summary",
        method = "get",
        operation_id = "programs_summary"
    )]
    async fn summary(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The programme's id.
        id: Path<i64>,
        /// First day of the period (`YYYY-MM-DD`); default: the period containing `as_of`.
        period_start: Query<Option<Day>>,
        /// RFC 3339 instant the GMV is counted up to (default now).
        as_of: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<ProgramSummary>, codes::ProgramsSummary> {
        let _ = auth;
        let p = programs::get(&state.db, id.0).await?;
        let def = ProgramDef::from_row(&p).map_err(AppError::internal)?;
        let s = reports::program_summary(
            state.reads.pick().await,
            p.id,
            &def,
            period_start.0.map(NaiveDate::from),
            as_of.0,
        )
        .await?;
        let current: GmvShares = s.gmv.into();
        let previous: GmvShares = s.previous_gmv.into();
        let change = |a: Option<i64>, b: Option<i64>| a?.checked_sub(b?);
        Ok(Json(ProgramSummary {
            program_id: p.id,
            period_start: s.period.start.into(),
            period_end: s.period.end.into(),
            goal: s.goal,
            subjects: s.subjects,
            top_tier_reached: s.top_tier_reached,
            tiers: s
                .tiers
                .into_iter()
                .map(|t| TierSummary {
                    name: t.tier.name,
                    threshold: t.tier.threshold,
                    subjects: t.at_or_above,
                })
                .collect(),
            projected_top_tier: s.projected_top_tier,
            statuses: StatusCounts {
                achieved: s.statuses.achieved,
                on_track: s.statuses.on_track,
                at_risk: s.statuses.at_risk,
                behind: s.statuses.behind,
            },
            gmv: GmvStructure {
                brand_live_stream_share_change_bp: change(
                    current.brand_live_stream_share_bp,
                    previous.brand_live_stream_share_bp,
                ),
                industry_belt_share_change_bp: change(
                    current.industry_belt_share_bp,
                    previous.industry_belt_share_bp,
                ),
                current,
                previous,
            },
        }))
    }

    /// A programme's achievements
    ///
    /// Staff. Every tier reached by a subject in a period, recorded once, oldest first;
    /// `revoked_at` is set while refunds keep the subject under the threshold.
    #[oai(
        path = "/programs/:id/achievements",
        method = "get",
        operation_id = "programs_achievements"
    )]
    async fn achievements(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The programme's id.
        id: Path<i64>,
        /// Only this subject's achievements (merchant id, creator id, or `{merchant_id}:{product_id}`).
        subject_id: Query<Option<String>>,
        /// Page size, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page; omit for the first page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<AchievementPage>, codes::ProgramsAchievements> {
        let _ = auth;
        let limit = pagination::limit(limit.0)?;
        let after = pagination::decode_id(cursor.0.as_deref())?;
        programs::get(&state.db, id.0).await?;
        let (rows, next_cursor) =
            leaderboard::achievements(state.reads.pick().await, id.0, subject_id.0, limit, after)
                .await?;
        let subjects: Vec<(Subject, &str)> = rows
            .iter()
            .map(|a| (a.subject_type, a.subject_id.as_str()))
            .collect();
        let names = reports::names::subject_names(&state.db, &subjects)
            .await
            .map_err(AppError::database)?;
        Ok(Json(AchievementPage {
            items: rows
                .into_iter()
                .map(|a| Achievement {
                    name: names.get(&a.subject_id).cloned(),
                    id: a.id,
                    program_id: a.program_id,
                    period_start: a.period_start.into(),
                    subject_type: a.subject_type,
                    subject_id: a.subject_id,
                    merchant_id: a.merchant_id,
                    tier: a.tier,
                    threshold: a.threshold,
                    value: a.value,
                    achieved_at: a.achieved_at,
                    revoked_at: a.revoked_at,
                    run_id: a.run_id,
                })
                .collect(),
            next_cursor,
        }))
    }

    /// A merchant's progress
    ///
    /// Staff, or the merchant itself (others are 404): its progress — as a subject, and its
    /// products' — in every active programme, for the latest evaluated period of each; by
    /// programme, then subject id.
    #[oai(
        path = "/merchants/:id/progress",
        method = "get",
        operation_id = "programs_merchant_progress"
    )]
    async fn merchant_progress(
        &self,
        auth: AnyAuth,
        state: Data<&AppState>,
        /// The merchant's id.
        id: Path<i64>,
        /// Page size, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page; omit for the first page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<ProgressPage>, codes::ProgramsMerchantProgress> {
        visible(&auth, id.0)?;
        if staff_only(&auth).is_ok() {
            crate::services::merchants::get(&state.db, id.0).await?;
        }
        Ok(Json(progress_page(&state, id.0, limit.0, cursor.0).await?))
    }

    /// My progress
    ///
    /// The calling merchant's progress — as a subject, and its products' — in every active
    /// programme (latest evaluated period of each); by programme, then subject id.
    #[oai(
        path = "/me/progress",
        method = "get",
        operation_id = "programs_my_progress"
    )]
    async fn my_progress(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        /// Page size, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page; omit for the first page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<ProgressPage>, codes::ProgramsMyProgress> {
        Ok(Json(
            progress_page(&state, auth.0.merchant_id, limit.0, cursor.0).await?,
        ))
    }

    /// A subject's history
    ///
    /// Staff. Each day's last snapshot of one subject over `from..=to` (default: the 30 days
    /// ending today in the programme's time zone; at most 731 days), oldest first. A snapshot
    /// is written only when the value, tier, status or projection changed, so a day without an
    /// item kept the previous one. A subject the programme never evaluated is 404.
    #[oai(
        path = "/programs/:id/subjects/:subject_type/:subject_id/history",
        method = "get",
        operation_id = "programs_subject_history"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn history(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The programme's id.
        id: Path<i64>,
        /// `merchant`, `creator` or `product`.
        subject_type: Path<Subject>,
        /// Merchant id, creator id, or `{merchant_id}:{product_id}`.
        subject_id: Path<String>,
        /// First local day, inclusive (`YYYY-MM-DD`).
        from: Query<Option<Day>>,
        /// Last local day, inclusive (`YYYY-MM-DD`).
        to: Query<Option<Day>>,
    ) -> ApiResult<Json<SubjectHistory>, codes::ProgramsSubjectHistory> {
        let _ = auth;
        let p = programs::get(&state.db, id.0).await?;
        let def = ProgramDef::from_row(&p).map_err(AppError::internal)?;
        let (from, to) = days(&def, from.0, to.0);
        let items = reports::history::subject_history(
            state.reads.pick().await,
            p.id,
            &def,
            subject_type.0,
            &subject_id.0,
            from,
            to,
        )
        .await?
        .ok_or_else(|| AppError::not_found("subject"))?;
        Ok(Json(SubjectHistory {
            items: items
                .into_iter()
                .map(|h| HistoryItem {
                    day: Day(h.day),
                    period_start: Day(h.period_start),
                    value: h.value,
                    tier: h.tier,
                    status: h.status,
                    projected: h.projected,
                })
                .collect(),
        }))
    }

    /// A programme's trend
    ///
    /// Staff. Per day of `from..=to` (default: the 30 days ending today in the programme's
    /// time zone; at most 731 days): the subjects at or above each tier, and those projected
    /// to reach the top tier, in the period containing the day — from the snapshots, so the
    /// same figures the summary showed that day.
    #[oai(
        path = "/programs/:id/trend",
        method = "get",
        operation_id = "programs_trend"
    )]
    async fn trend(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The programme's id.
        id: Path<i64>,
        /// First local day, inclusive (`YYYY-MM-DD`).
        from: Query<Option<Day>>,
        /// Last local day, inclusive (`YYYY-MM-DD`).
        to: Query<Option<Day>>,
    ) -> ApiResult<Json<ProgramTrend>, codes::ProgramsTrend> {
        let _ = auth;
        let p = programs::get(&state.db, id.0).await?;
        let def = ProgramDef::from_row(&p).map_err(AppError::internal)?;
        let (from, to) = days(&def, from.0, to.0);
        let points =
            reports::history::trend(state.reads.pick().await, p.id, &def, from, to).await?;
        Ok(Json(ProgramTrend {
            items: points
                .into_iter()
                .map(|t| TrendItem {
                    day: Day(t.day),
                    subjects: t.subjects,
                    per_tier: t
                        .per_tier
                        .into_iter()
                        .map(|c| TrendTier {
                            tier: c.tier.name,
                            threshold: c.tier.threshold,
                            at_or_above: c.at_or_above,
                        })
                        .collect(),
                    projected_top_tier: t.projected_top_tier,
                })
                .collect(),
        }))
    }
}
