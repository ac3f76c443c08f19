//! Creators (达人): registration in batches, lookup and search, creator keys, and what a
//! creator (or staff) may read of it.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{
    programs::ProgressPage,
    rewards::{RewardPage, reward_page},
    tags::ApiTags,
};
use crate::{
    api::{
        codes,
        types::{Opt, Parsed, Text, UpsertStatus, tally},
    },
    auth::{CreatorOrStaff, RequireRole, StaffAuth},
    error::{ApiError, ApiResult, AppError},
    error_code::ErrorCode,
    pagination,
    services::{
        creators::{self, CreatorInput},
        rewards::{Filter, RewardStatus, Subject},
        staff::Role,
    },
    state::AppState,
};

pub struct CreatorsApi;

/// A creator as sent for registration.
#[derive(Object, serde::Deserialize)]
pub struct NewCreator {
    /// The marketplace's creator account id, 1–128 printable characters.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub id: Text,
    /// The creator's nickname, shown in leaderboards and reports.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub nickname: Text,
    /// Up to 100 characters, e.g. 美妆.
    #[oai(validator(max_length = 100))]
    #[serde(default)]
    pub category: Opt<Text>,
    /// Where `tier_achieved` and the weekly report go; absent: no email.
    #[oai(validator(min_length = 3, max_length = 254))]
    #[serde(default)]
    pub contact_email: Opt<Text>,
}

impl NewCreator {
    /// The rules the document states (lengths) refuse the whole request, like any schema
    /// violation; the rest (blank nickname, control characters, an address that is not one)
    /// reject only the item.
    fn check_shape(&self, n: usize) -> Result<(), AppError> {
        let len = |s: &str| s.chars().count();
        let bad = |field: &str, code: ErrorCode, why: &str| {
            Err(AppError::invalid(
                code,
                &format!("creators.{n}.{field}"),
                why.to_string(),
            ))
        };
        if !(1..=128).contains(&len(&self.id)) {
            return bad(
                "id",
                ErrorCode::CreatorIdInvalid,
                "id must be 1–128 characters",
            );
        }
        if len(&self.nickname) == 0 {
            return bad(
                "nickname",
                ErrorCode::Required,
                "nickname must not be empty",
            );
        }
        if len(&self.nickname) > 100 {
            return bad(
                "nickname",
                ErrorCode::TooLong,
                "nickname is longer than 100 characters",
            );
        }
        if self.category.0.as_deref().is_some_and(|c| len(c) > 100) {
            return bad(
                "category",
                ErrorCode::TooLong,
                "category is longer than 100 characters",
            );
        }
        if self
            .contact_email
            .0
            .as_deref()
            .is_some_and(|e| !(3..=254).contains(&len(e)))
        {
            return bad(
                "contact_email",
                ErrorCode::EmailInvalid,
                "contact_email must be 3–254 characters",
            );
        }
        Ok(())
    }
}

/// Up to 1,000 creators, registered or updated by id.
#[derive(Object, serde::Deserialize)]
#[oai(example)]
pub struct CreatorBatch {
    /// 1–1,000 creators.
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub creators: Vec<NewCreator>,
}

impl poem_openapi::types::Example for CreatorBatch {
    fn example() -> Self {
        Self {
            creators: vec![NewCreator {
                id: "dy_88120345".into(),
                nickname: "小杨哥的美妆间".into(),
                category: Opt::some("美妆".into()),
                contact_email: Opt::some("biz@xiaoyang.example".into()),
            }],
        }
    }
}

/// The result for one creator, in request order.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CreatorItemResult {
    /// As sent.
    pub id: String,
    pub status: UpsertStatus,
    /// Only for `rejected`: the error body, `field` naming `creators.<index>.<field>`.
    pub error: Option<ApiError>,
}

/// Counts and per-creator results of a batch.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CreatorBatchResult {
    /// Creators registered by this batch.
    pub created: i64,
    /// Creators updated by this batch.
    pub updated: i64,
    /// Creators refused.
    pub rejected: i64,
    /// One result per creator, in request order.
    pub results: Vec<CreatorItemResult>,
}

/// A registered creator.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Creator {
    /// The marketplace's creator account id.
    pub id: String,
    /// The creator's nickname.
    pub nickname: String,
    /// Category, e.g. 美妆.
    pub category: Option<String>,
    /// Where the creator's emails go.
    pub contact_email: Option<String>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<entity::creator::Model> for Creator {
    fn from(c: entity::creator::Model) -> Self {
        Self {
            id: c.id,
            nickname: c.nickname,
            category: c.category,
            contact_email: c.contact_email,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A page of creators, by id.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CreatorPage {
    /// The creators of this page.
    pub items: Vec<Creator>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A creator key as issued: `key` is shown this once and never again.
#[derive(Object)]
pub struct IssuedCreatorKey {
    /// Key id.
    pub id: i64,
    /// Send as `X-API-Key`. Store it now: only its hash is kept.
    pub key: String,
    /// When the key was issued.
    pub created_at: DateTime<Utc>,
}

#[derive(ApiResponse)]
pub enum CreatorKeyCreated {
    /// The new key; `key` is shown only now.
    #[oai(status = 201)]
    Created(Json<IssuedCreatorKey>),
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Creators")]
impl CreatorsApi {
    /// Register creators
    ///
    /// Admins and analysts. Up to 1,000 creators, each registered or updated by `id`, with
    /// a result per item; an invalid item is rejected and the others are written.
    #[oai(path = "/creators", method = "post", operation_id = "creators_upsert")]
    async fn upsert(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        body: Json<Parsed<CreatorBatch>>,
    ) -> ApiResult<Json<CreatorBatchResult>, codes::CreatorsUpsert> {
        auth.0.require(&[Role::Admin, Role::Analyst])?;
        let batch = body.0.into_inner()?;
        for (n, c) in batch.creators.iter().enumerate() {
            c.check_shape(n)?;
        }
        let ids: Vec<String> = batch.creators.iter().map(|c| c.id.0.clone()).collect();
        let items = batch
            .creators
            .into_iter()
            .map(|c| CreatorInput {
                id: c.id.into(),
                nickname: c.nickname.into(),
                category: c.category.0.map(String::from),
                contact_email: c.contact_email.0.map(String::from),
            })
            .collect();
        let outcomes = creators::upsert(&state.db, items).await?;
        let t = tally(outcomes);
        Ok(Json(CreatorBatchResult {
            created: t.created,
            updated: t.updated,
            rejected: t.rejected,
            results: ids
                .into_iter()
                .zip(t.results)
                .map(|(id, (status, error))| CreatorItemResult { id, status, error })
                .collect(),
        }))
    }

    /// List and search creators
    ///
    /// By id; `q` keeps those whose id or nickname contains it.
    #[oai(path = "/creators", method = "get", operation_id = "creators_list")]
    async fn list(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// Text the id or the nickname contains.
        #[oai(validator(max_length = 100))]
        q: Query<Option<String>>,
        /// Items per page, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<CreatorPage>, codes::CreatorsList> {
        let _ = auth;
        let limit = pagination::limit(limit.0)?;
        let after = pagination::decode(cursor.0.as_deref())?;
        let rows = creators::list(&state.db, q.0.as_deref(), limit, after).await?;
        let (rows, next_cursor) = pagination::page(rows, limit, |c| c.id.clone());
        Ok(Json(CreatorPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// A creator
    ///
    /// Staff, or the creator's own key.
    #[oai(path = "/creators/:id", method = "get", operation_id = "creators_get")]
    async fn get(
        &self,
        auth: CreatorOrStaff,
        state: Data<&AppState>,
        /// The marketplace's creator account id.
        id: Path<String>,
    ) -> ApiResult<Json<Creator>, codes::CreatorsGet> {
        auth.may_read(&id.0)?;
        Ok(Json(creators::get(&state.db, &id.0).await?.into()))
    }

    /// A creator's progress
    ///
    /// Staff, or the creator's own key: the latest evaluated period of each programme.
    #[oai(
        path = "/creators/:id/progress",
        method = "get",
        operation_id = "creators_progress"
    )]
    async fn progress(
        &self,
        auth: CreatorOrStaff,
        state: Data<&AppState>,
        /// The marketplace's creator account id.
        id: Path<String>,
    ) -> ApiResult<Json<ProgressPage>, codes::CreatorsProgress> {
        auth.may_read(&id.0)?;
        let rows = creators::progress(&state.db, &id.0).await?;
        Ok(Json(ProgressPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor: None,
        }))
    }

    /// A creator's rewards
    ///
    /// Staff, or the creator's own key: what the creator's tiers earned, newest first.
    #[oai(
        path = "/creators/:id/rewards",
        method = "get",
        operation_id = "creators_rewards"
    )]
    async fn rewards(
        &self,
        auth: CreatorOrStaff,
        state: Data<&AppState>,
        /// The marketplace's creator account id.
        id: Path<String>,
        /// Only rewards in this state.
        status: Query<Option<RewardStatus>>,
        /// Items per page, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<RewardPage>, codes::CreatorsRewards> {
        auth.may_read(&id.0)?;
        creators::get(&state.db, &id.0).await?;
        let filter = Filter {
            subject: Some((Subject::Creator, id.0)),
            status: status.0,
            ..Default::default()
        };
        Ok(Json(reward_page(&state, filter, limit.0, cursor.0).await?))
    }

    /// Issue a creator key
    ///
    /// Admins only. The key (`X-API-Key`) reads only this creator, its progress and its
    /// rewards; it is shown only in this answer.
    #[oai(
        path = "/creators/:id/api-keys",
        method = "post",
        operation_id = "creators_keys_create"
    )]
    async fn create_key(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The marketplace's creator account id.
        id: Path<String>,
    ) -> ApiResult<CreatorKeyCreated, codes::CreatorsKeysCreate> {
        auth.0.require_admin()?;
        let (row, key) = creators::create_key(&state.db, &id.0).await?;
        Ok(CreatorKeyCreated::Created(Json(IssuedCreatorKey {
            id: row.id,
            key,
            created_at: row.created_at,
        })))
    }
}
