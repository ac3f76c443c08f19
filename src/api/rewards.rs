//! Rewards and payouts: what each tier earned, who sees it, and the payouts finance works from.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::{Binary, Json},
};

use super::{tags::ApiTags, types::Day};
use crate::{
    api::{
        codes,
        types::{Opt, Parsed},
    },
    auth::{MerchantAuth, RequireRole, StaffAuth},
    error::{ApiResult, AppError},
    pagination,
    services::rewards::{self, Filter, PayoutStatus, RewardKind, RewardStatus, Subject},
    state::AppState,
};

pub struct RewardsApi;

/// One reward a tier earned.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Reward {
    /// The reward's id.
    pub id: i64,
    /// The programme whose tier earned it.
    pub program_id: i64,
    /// First day of the period.
    pub period_start: Day,
    /// Last day of the period.
    pub period_end: Day,
    pub subject_type: Subject,
    /// Merchant id, creator id, or `{merchant_id}:{product_id}`.
    pub subject_id: String,
    /// The tier reached.
    pub tier: String,
    pub kind: RewardKind,
    /// Fen: set from creation for a fixed reward, at confirmation for a rebate.
    pub amount: Option<i64>,
    /// A rebate's basis points of the period value.
    pub rate_bp: Option<i32>,
    pub status: RewardStatus,
    /// When the achievement created it.
    pub created_at: DateTime<Utc>,
    /// When the period's re-evaluation window closed with the achievement standing.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// When its payout was marked paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// The payout it is in.
    pub payout_id: Option<i64>,
}

impl From<entity::reward::Model> for Reward {
    fn from(r: entity::reward::Model) -> Self {
        Self {
            id: r.id,
            program_id: r.program_id,
            period_start: r.period_start.into(),
            period_end: r.period_end.into(),
            subject_type: r.subject_type,
            subject_id: r.subject_id,
            tier: r.tier,
            kind: r.kind,
            amount: r.amount,
            rate_bp: r.rate_bp,
            status: r.status,
            created_at: r.created_at,
            confirmed_at: r.confirmed_at,
            paid_at: r.paid_at,
            payout_id: r.payout_id,
        }
    }
}

/// A page of rewards, newest first.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RewardPage {
    /// The rewards of this page.
    pub items: Vec<Reward>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Which rewards a new payout takes.
#[derive(Object, serde::Deserialize, Default)]
#[oai(example)]
#[serde(default)]
pub struct NewPayout {
    /// Only this programme's rewards; absent: every programme's.
    pub program_id: Opt<i64>,
}

impl poem_openapi::types::Example for NewPayout {
    fn example() -> Self {
        Self {
            program_id: Opt::some(1),
        }
    }
}

/// Confirmed rewards gathered for payment.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Payout {
    /// The payout's id.
    pub id: i64,
    /// The programme it is limited to, if any.
    pub program_id: Option<i64>,
    pub status: PayoutStatus,
    /// How many rewards it holds (`GET /rewards?payout_id=` lists them).
    pub rewards: i64,
    /// Their sum, fen.
    pub total: i64,
    /// The staff member who opened it.
    pub created_by: String,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it was marked paid.
    pub paid_at: Option<DateTime<Utc>>,
}

impl From<entity::payout::Model> for Payout {
    fn from(p: entity::payout::Model) -> Self {
        Self {
            id: p.id,
            program_id: p.program_id,
            status: p.status,
            rewards: p.rewards,
            total: p.total,
            created_by: p.created_by,
            created_at: p.created_at,
            paid_at: p.paid_at,
        }
    }
}

#[derive(ApiResponse)]
pub enum PayoutOpened {
    /// The payout, `open`, with its rewards reserved.
    #[oai(status = 201)]
    Created(Json<Payout>),
}

#[derive(ApiResponse)]
pub enum PayoutCsv {
    /// One line per reward: subject, name, USCC, programme, tier, kind and the amount in yuan
    /// (2 decimals); UTF-8 with a byte-order mark, so Excel opens it as UTF-8.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(
        Binary<Vec<u8>>,
        /// `attachment; filename="payout-{id}.csv"`.
        #[oai(header = "Content-Disposition")]
        String,
    ),
}

/// A page of rewards matching `filter`.
pub async fn reward_page(
    state: &AppState,
    filter: Filter,
    limit: Option<i64>,
    cursor: Option<String>,
) -> Result<RewardPage, AppError> {
    let limit = pagination::limit(limit)?;
    let before = pagination::decode_id(cursor.as_deref())?;
    let rows = rewards::list(&state.db, filter, limit, before).await?;
    let (rows, next_cursor) = pagination::page(rows, limit, |r| r.id.to_string());
    Ok(RewardPage {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    })
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Rewards")]
impl RewardsApi {
    /// My rewards
    ///
    /// What my tiers earned, and my products' tiers, newest first.
    #[oai(path = "/me/rewards", method = "get", operation_id = "me_rewards")]
    async fn mine(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        /// Only rewards in this state.
        status: Query<Option<RewardStatus>>,
        /// Only this programme's rewards.
        program_id: Query<Option<i64>>,
        /// Items per page, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<RewardPage>, codes::MeRewards> {
        let filter = Filter {
            merchant_id: Some(auth.0.merchant_id),
            status: status.0,
            program_id: program_id.0,
            ..Default::default()
        };
        Ok(Json(reward_page(&state, filter, limit.0, cursor.0).await?))
    }

    /// List rewards
    ///
    /// Every subject's rewards, newest first, filtered by status, programme or payout.
    #[oai(path = "/rewards", method = "get", operation_id = "rewards_list")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// Only rewards in this state.
        status: Query<Option<RewardStatus>>,
        /// Only this programme's rewards.
        program_id: Query<Option<i64>>,
        /// Only the rewards of this payout.
        payout_id: Query<Option<i64>>,
        /// Items per page, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<RewardPage>, codes::RewardsList> {
        let _ = auth;
        let filter = Filter {
            status: status.0,
            program_id: program_id.0,
            payout_id: payout_id.0,
            ..Default::default()
        };
        Ok(Json(reward_page(&state, filter, limit.0, cursor.0).await?))
    }

    /// Open a payout
    ///
    /// Admins only. Takes every confirmed reward not yet in a payout (of one programme if
    /// given); a reward is in at most one payout, even when payouts are opened at once.
    #[oai(path = "/payouts", method = "post", operation_id = "payouts_open")]
    async fn open(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        body: Json<Parsed<NewPayout>>,
    ) -> ApiResult<PayoutOpened, codes::PayoutsOpen> {
        auth.0.require_admin()?;
        let b = body.0.into_inner()?;
        let p = rewards::open_payout(&state.db, &auth.0.actor(), b.program_id.into(), Utc::now())
            .await?;
        Ok(PayoutOpened::Created(Json(p.into())))
    }

    /// A payout
    ///
    /// Its status, how many rewards it holds and their total.
    #[oai(path = "/payouts/:id", method = "get", operation_id = "payouts_get")]
    async fn get(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The payout's id.
        id: Path<i64>,
    ) -> ApiResult<Json<Payout>, codes::PayoutsGet> {
        let _ = auth;
        Ok(Json(rewards::payout(&state.db, id.0).await?.into()))
    }

    /// Export a payout
    ///
    /// CSV for finance: one line per reward with the merchant's USCC and the amount in yuan.
    #[oai(
        path = "/payouts/:id/lines.csv",
        method = "get",
        operation_id = "payouts_lines"
    )]
    async fn lines(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The payout's id.
        id: Path<i64>,
    ) -> ApiResult<PayoutCsv, codes::PayoutsLines> {
        let _ = auth;
        let lines = rewards::lines(&state.db, id.0).await?;
        Ok(PayoutCsv::Csv(
            Binary(rewards::csv(&lines)?),
            format!("attachment; filename=\"payout-{}.csv\"", id.0),
        ))
    }

    /// Mark a payout paid
    ///
    /// Admins only. Its rewards become `paid` (each with a `reward.paid` event).
    #[oai(
        path = "/payouts/:id/paid",
        method = "post",
        operation_id = "payouts_paid"
    )]
    async fn paid(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The payout's id.
        id: Path<i64>,
    ) -> ApiResult<Json<Payout>, codes::PayoutsPaid> {
        auth.0.require_admin()?;
        Ok(Json(
            rewards::mark_paid(&state.db, id.0, Utc::now())
                .await?
                .into(),
        ))
    }
}
