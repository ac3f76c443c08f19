//! The marketplace's own GMV (recorded by admins from its warehouse) and the GMV structure
//! measured against it: the brand live-stream and industry-belt shares of the marketplace.

use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::tags::ApiTags;
use crate::{
    api::{
        codes,
        types::{Day, Parsed},
    },
    auth::{RequireRole, StaffAuth},
    domain::{
        gmv::{Granularity, today},
        merchant::MerchantKind,
        period::span_or_30_days,
    },
    error::ApiResult,
    services::{
        platform::{self, ChannelAmounts},
        reports::{self, Buckets, GmvScope, GmvStructure, StructureGroup},
    },
    state::AppState,
};

pub struct PlatformApi;
pub struct InsightsApi;

/// The marketplace's GMV of one day by channel, fen; each 0 to 10^15.
#[derive(Object, serde::Deserialize, Clone, Copy)]
pub struct PlatformChannels {
    /// Live-stream GMV (直播).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
    pub live_stream: i64,
    /// Short-video GMV (短视频).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
    pub short_video: i64,
    /// Storefront GMV (商品卡/店铺).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
    pub storefront: i64,
    /// Everything else.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
    pub other: i64,
}

/// The marketplace's total GMV of a local day, from its warehouse.
#[derive(Object, serde::Deserialize)]
#[oai(example)]
pub struct PlatformGmvInput {
    /// GMV by channel, fen.
    pub channels: PlatformChannels,
}

impl poem_openapi::types::Example for PlatformGmvInput {
    fn example() -> Self {
        Self {
            channels: PlatformChannels {
                live_stream: 412_000_000_000,
                short_video: 268_000_000_000,
                storefront: 190_000_000_000,
                other: 30_000_000_000,
            },
        }
    }
}

/// The marketplace's GMV of one local day (Asia/Shanghai).
#[derive(Object)]
#[oai(example)]
pub struct PlatformDay {
    /// The local day.
    pub day: Day,
    /// GMV by channel, fen.
    pub channels: PlatformChannels,
    /// The sum of the channels, fen.
    pub total: i64,
    /// The staff member who recorded it last.
    pub updated_by: String,
    /// When it was recorded last.
    pub updated_at: DateTime<Utc>,
}

impl poem_openapi::types::Example for PlatformDay {
    fn example() -> Self {
        let c = PlatformGmvInput::example().channels;
        Self {
            day: Day("2026-11-15".parse().expect("a valid day")),
            channels: c,
            total: c.live_stream + c.short_video + c.storefront + c.other,
            updated_by: "token:ops-warehouse".into(),
            updated_at: "2026-11-16T01:30:00Z".parse().expect("a valid instant"),
        }
    }
}

impl From<entity::platform_gmv::Model> for PlatformDay {
    fn from(r: entity::platform_gmv::Model) -> Self {
        Self {
            day: Day(r.day),
            channels: PlatformChannels {
                live_stream: r.live_stream,
                short_video: r.short_video,
                storefront: r.storefront,
                other: r.other,
            },
            total: r.total,
            updated_by: r.updated_by,
            updated_at: r.updated_at,
        }
    }
}

/// The recorded days of a span, oldest first.
#[derive(Object)]
#[oai(example)]
pub struct PlatformDays {
    /// One per recorded day; a day without a total is absent.
    pub items: Vec<PlatformDay>,
}

impl poem_openapi::types::Example for PlatformDays {
    fn example() -> Self {
        Self {
            items: vec![PlatformDay::example()],
        }
    }
}

#[derive(ApiResponse)]
pub enum PlatformDayWritten {
    /// The day was recorded for the first time.
    #[oai(status = 201)]
    Created(Json<PlatformDay>),
    /// The day's earlier figures were replaced.
    #[oai(status = 200)]
    Replaced(Json<PlatformDay>),
}

/// Which merchant attribute splits each period of the GMV structure.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum StructureGroupBy {
    /// The merchant's industry belt (brand merchants have none: their group is absent).
    IndustryBelt,
    /// The merchant's province of registration.
    Province,
    /// The merchant's main product category.
    Category,
}

/// One period (and group) of the GMV structure. Shares are in basis points (1/100 %) of the
/// **marketplace's** GMV, rounded toward zero, and absent unless every day of the period has
/// a platform total.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GmvStructureItem {
    /// First day of the period (clipped to `from`).
    pub period_start: Day,
    /// Last day of the period (clipped to `to`).
    pub period_end: Day,
    /// The industry belt, province or category; absent when not split, or for merchants
    /// without one.
    pub group: Option<String>,
    /// The marketplace's GMV of the period, fen; absent unless every day has a total.
    pub platform_total: Option<i64>,
    /// GMV of the approved merchants (in the group), fen.
    pub onboarded_total: i64,
    /// Live-stream GMV of approved brand merchants, fen.
    pub brand_live_stream: i64,
    /// `brand_live_stream / platform_total` in basis points.
    pub brand_live_stream_share_bp: Option<i64>,
    /// All GMV of approved industry-belt merchants, fen.
    pub industry_belt: i64,
    /// `industry_belt / platform_total` in basis points.
    pub industry_belt_share_bp: Option<i64>,
    /// Days of the period that have a platform total.
    pub coverage_days: i64,
}

impl From<GmvStructure> for GmvStructureItem {
    fn from(s: GmvStructure) -> Self {
        Self {
            period_start: Day(s.from),
            period_end: Day(s.to),
            platform_total: s.platform_total(),
            brand_live_stream_share_bp: s.brand_live_stream_share_bp(),
            industry_belt_share_bp: s.industry_belt_share_bp(),
            coverage_days: s.coverage_days,
            onboarded_total: s.total,
            brand_live_stream: s.brand_live_stream,
            industry_belt: s.industry_belt,
            group: s.group,
        }
    }
}

/// The GMV structure by period, oldest first.
#[derive(Object)]
#[oai(example)]
pub struct GmvStructureSeries {
    /// One per period, or per period and group.
    pub items: Vec<GmvStructureItem>,
}

impl poem_openapi::types::Example for GmvStructureSeries {
    fn example() -> Self {
        let day = |s: &str| Day(s.parse().expect("a valid day"));
        Self {
            items: vec![
                GmvStructureItem {
                    period_start: day("2026-10-01"),
                    period_end: day("2026-10-31"),
                    group: None,
                    platform_total: Some(27_900_000_000_000),
                    onboarded_total: 9_120_000_000_000,
                    brand_live_stream: 4_185_000_000_000,
                    brand_live_stream_share_bp: Some(1_500),
                    industry_belt: 3_069_000_000_000,
                    industry_belt_share_bp: Some(1_100),
                    coverage_days: 31,
                },
                GmvStructureItem {
                    period_start: day("2026-11-01"),
                    period_end: day("2026-11-16"),
                    group: None,
                    platform_total: None,
                    onboarded_total: 5_210_000_000_000,
                    brand_live_stream: 2_480_000_000_000,
                    brand_live_stream_share_bp: None,
                    industry_belt: 1_730_000_000_000,
                    industry_belt_share_bp: None,
                    coverage_days: 15,
                },
            ],
        }
    }
}

/// `from` and `to`, defaulting to the 30 days ending today (Asia/Shanghai).
fn span(from: Option<Day>, to: Option<Day>) -> (NaiveDate, NaiveDate) {
    span_or_30_days(from.map(|d| d.0), to.map(|d| d.0), today())
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Gmv")]
impl PlatformApi {
    /// Record the marketplace's GMV of a day
    ///
    /// Admins only. The marketplace's total GMV of one local day (Asia/Shanghai) by channel,
    /// from its warehouse: the denominator of the brand live-stream and industry-belt shares.
    /// Overwrites an earlier figure (201 the first time, 200 after); every write is in the
    /// audit log.
    #[oai(
        path = "/platform/gmv/:day",
        method = "put",
        operation_id = "platform_gmv_put"
    )]
    async fn put(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The local day, `YYYY-MM-DD`.
        day: Path<Day>,
        body: Json<Parsed<PlatformGmvInput>>,
    ) -> ApiResult<PlatformDayWritten, codes::PlatformGmvPut> {
        auth.0.require_admin()?;
        let c = body.0.into_inner()?.channels;
        let (row, created) = platform::put_day(
            &state.db,
            &auth.0.actor(),
            day.0.0,
            ChannelAmounts {
                live_stream: c.live_stream,
                short_video: c.short_video,
                storefront: c.storefront,
                other: c.other,
            },
        )
        .await?;
        Ok(if created {
            PlatformDayWritten::Created(Json(row.into()))
        } else {
            PlatformDayWritten::Replaced(Json(row.into()))
        })
    }

    /// The marketplace's GMV by day
    ///
    /// Staff. The recorded days of `from..=to` (default: the 30 days ending today), at most
    /// 731 days.
    #[oai(
        path = "/platform/gmv",
        method = "get",
        operation_id = "platform_gmv_list"
    )]
    async fn list(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// First local day, inclusive (`YYYY-MM-DD`).
        from: Query<Option<Day>>,
        /// Last local day, inclusive (`YYYY-MM-DD`).
        to: Query<Option<Day>>,
    ) -> ApiResult<Json<PlatformDays>, codes::PlatformGmvList> {
        let _ = auth;
        let (from, to) = span(from.0, to.0);
        let rows = platform::list(&state.db, from, to).await?;
        Ok(Json(PlatformDays {
            items: rows.into_iter().map(Into::into).collect(),
        }))
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Reports")]
impl InsightsApi {
    /// The marketplace's GMV structure
    ///
    /// Staff. By day, ISO week or month over `from..=to` (default: the 30 days ending today;
    /// at most 731 days): the live-stream GMV of approved brand merchants and all GMV of
    /// approved industry-belt merchants, each in basis points of the marketplace's own GMV
    /// (`PUT /platform/gmv/{day}`). A share is absent unless every day of the period has a
    /// platform total; `coverage_days` says how many do. `group_by` splits each period by the
    /// merchants' industry belt, province or category (the shares stay of the whole
    /// marketplace). The programme summary and the staff digest use the same definition.
    #[oai(
        path = "/insights/gmv-structure",
        method = "get",
        operation_id = "insights_gmv_structure"
    )]
    async fn gmv_structure(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// First local day, inclusive (`YYYY-MM-DD`).
        from: Query<Option<Day>>,
        /// Last local day, inclusive (`YYYY-MM-DD`).
        to: Query<Option<Day>>,
        /// Length of each period: `day`, `week` or `month` (default).
        granularity: Query<Option<Granularity>>,
        /// Split each period by the merchants' industry belt, province or category.
        group_by: Query<Option<StructureGroupBy>>,
    ) -> ApiResult<Json<GmvStructureSeries>, codes::InsightsGmvStructure> {
        let _ = auth;
        let (from, to) = span(from.0, to.0);
        platform::check_span(from, to)?;
        let scope = GmvScope {
            kinds: vec![MerchantKind::Brand, MerchantKind::IndustryBelt],
            channel: None,
        };
        let group = group_by.0.map(|g| match g {
            StructureGroupBy::IndustryBelt => StructureGroup::IndustryBelt,
            StructureGroupBy::Province => StructureGroup::Province,
            StructureGroupBy::Category => StructureGroup::Category,
        });
        let series = reports::gmv_structure_series(
            state.reads.pick().await,
            &scope,
            from,
            to,
            Buckets::By(granularity.0.unwrap_or(Granularity::Month)),
            group,
        )
        .await?;
        Ok(Json(GmvStructureSeries {
            items: series.into_iter().map(Into::into).collect(),
        }))
    }
}
