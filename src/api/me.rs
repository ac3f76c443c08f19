use crate::{api::codes, error::ApiResult, pagination};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{
    merchants::{IssuedApiKey, Merchant},
    tags::ApiTags,
};
use crate::api::types::{Opt, Parsed, Text, opt};
use crate::{
    auth::{MerchantAnyStatusAuth, MerchantAuth},
    mail::Locale,
    services::merchants::{self, Edit},
    state::AppState,
};

pub struct MeApi;

/// Changes to an open application; absent fields stay as they are.
#[derive(Object, Default, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
#[serde(default)]
pub struct MerchantEdit {
    /// 1–200 characters.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub legal_name: Opt<Text>,
    /// 1–100 characters.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub display_name: Opt<Text>,
    /// The address reports are sent to.
    #[oai(validator(min_length = 3, max_length = 254))]
    pub contact_email: Opt<Text>,
    /// 1–50 characters.
    #[oai(validator(min_length = 1, max_length = 50))]
    pub province: Opt<Text>,
    /// 1–50 characters.
    #[oai(validator(min_length = 1, max_length = 50))]
    pub city: Opt<Text>,
    /// 1–100 characters.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub category: Opt<Text>,
    /// 1–100 characters.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub brand_name: Opt<Text>,
    /// The registration number, 1–32 letters and digits.
    #[oai(validator(pattern = r"^[A-Za-z0-9]{1,32}$"))]
    pub trademark_number: Opt<Text>,
    /// 1–100 characters.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub industry_belt: Opt<Text>,
}

impl poem_openapi::types::Example for MerchantEdit {
    fn example() -> Self {
        Self {
            display_name: Opt::some("星河美妆旗舰店".into()),
            ..Default::default()
        }
    }
}

/// An API key as listed (without the secret).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ApiKeyInfo {
    /// Key id, to revoke it.
    pub id: i64,
    /// The visible start of the key, to tell keys apart.
    pub prefix: String,
    /// When the key was issued.
    pub created_at: DateTime<Utc>,
    /// When the key last authenticated a request; absent if never.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When the key was revoked; absent while it works.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<entity::api_key::Model> for ApiKeyInfo {
    fn from(k: entity::api_key::Model) -> Self {
        Self {
            id: k.id,
            prefix: k.prefix,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// The merchant's keys, oldest first.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ApiKeyPage {
    /// The keys of this page.
    pub items: Vec<ApiKeyInfo>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum KeyCreated {
    /// The new key; `key` is shown only now.
    #[oai(status = 201)]
    Created(Json<IssuedApiKey>),
}

/// Email preferences.
#[derive(Object, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Notifications {
    /// Receive the weekly progress report.
    pub weekly_report: bool,
    pub locale: Locale,
    /// Receive an email when a subject of mine comes within 10% of its next tier (once per
    /// tier and period). Absent: unchanged (on for new merchants).
    #[serde(default)]
    pub near_tier: Opt<bool>,
    /// Receive an email when a subject of mine becomes `at_risk`. Absent: unchanged (on for
    /// new merchants).
    #[serde(default)]
    pub at_risk: Opt<bool>,
}

impl poem_openapi::types::Example for Notifications {
    fn example() -> Self {
        Self {
            weekly_report: true,
            locale: Locale::ZhCn,
            near_tier: Opt::some(true),
            at_risk: Opt::some(false),
        }
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Me")]
impl MeApi {
    /// My merchant account
    ///
    /// The merchant the `X-API-Key` belongs to, with its review status and the reason of
    /// the decision that set it. A suspended merchant's key may read this, and only this.
    #[oai(path = "/me", method = "get", operation_id = "me_get")]
    async fn get(
        &self,
        auth: MerchantAnyStatusAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<Merchant>, codes::MeGet> {
        Ok(Json(
            merchants::get(&state.db, auth.0.merchant_id).await?.into(),
        ))
    }

    /// Edit my application
    ///
    /// Allowed while `submitted` or `changes_requested`; in `changes_requested` the edit
    /// re-submits the application for review. The USCC and kind cannot change.
    #[oai(path = "/me", method = "patch", operation_id = "me_update")]
    async fn update(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        body: Json<Parsed<MerchantEdit>>,
    ) -> ApiResult<Json<Merchant>, codes::MeUpdate> {
        let b = body.0.into_inner()?;
        let m = merchants::edit(
            &state.db,
            auth.0.merchant_id,
            Edit {
                legal_name: opt(b.legal_name),
                display_name: opt(b.display_name),
                contact_email: opt(b.contact_email),
                province: opt(b.province),
                city: opt(b.city),
                category: opt(b.category),
                brand_name: opt(b.brand_name),
                trademark_number: opt(b.trademark_number),
                industry_belt: opt(b.industry_belt),
            },
        )
        .await?;
        Ok(Json(m.into()))
    }

    /// List my API keys
    ///
    /// Every key ever issued, with its visible prefix, last use and revocation time.
    #[oai(path = "/me/api-keys", method = "get", operation_id = "me_keys_list")]
    async fn keys(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        /// Page size, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page; omit for the first page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<ApiKeyPage>, codes::MeKeysList> {
        let limit = pagination::limit(limit.0)?;
        let after = pagination::decode_id(cursor.0.as_deref())?;
        let rows = merchants::keys(&state.db, auth.0.merchant_id, limit, after).await?;
        let (rows, next_cursor) = pagination::page(rows, limit, |k| k.id.to_string());
        Ok(Json(ApiKeyPage {
            items: rows
                .into_iter()
                .map(|k| state.key_touches.apply(k).into())
                .collect(),
            next_cursor,
        }))
    }

    /// Create an API key
    ///
    /// For rotation: create a new key, switch to it, then revoke the old one.
    #[oai(
        path = "/me/api-keys",
        method = "post",
        operation_id = "me_keys_create"
    )]
    async fn create_key(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
    ) -> ApiResult<KeyCreated, codes::MeKeysCreate> {
        let key = merchants::create_key(&state.db, auth.0.merchant_id).await?;
        Ok(KeyCreated::Created(Json(key.into())))
    }

    /// Revoke an API key
    ///
    /// The key stops working at once. The last usable key cannot be revoked (409).
    #[oai(
        path = "/me/api-keys/:key_id",
        method = "delete",
        operation_id = "me_keys_revoke"
    )]
    async fn revoke_key(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        /// The key's id (from the key list).
        key_id: Path<i64>,
    ) -> ApiResult<Json<ApiKeyInfo>, codes::MeKeysRevoke> {
        let key = merchants::revoke_key(&state.db, auth.0.merchant_id, key_id.0).await?;
        Ok(Json(state.key_touches.apply(key).into()))
    }

    /// Set my email preferences
    ///
    /// Opt out of (or back into) the weekly report and the near-tier and at-risk alerts, and
    /// choose `zh-CN` or `en`.
    #[oai(
        path = "/me/notifications",
        method = "put",
        operation_id = "me_notifications_set"
    )]
    async fn notifications(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        body: Json<Parsed<Notifications>>,
    ) -> ApiResult<Json<Merchant>, codes::MeNotificationsSet> {
        let b = body.0.into_inner()?;
        let m = merchants::set_notifications(
            &state.db,
            auth.0.merchant_id,
            merchants::NotificationPrefs {
                weekly_report: b.weekly_report,
                locale: b.locale,
                near_tier: b.near_tier.into(),
                at_risk: b.at_risk.into(),
            },
        )
        .await?;
        Ok(Json(m.into()))
    }
}
