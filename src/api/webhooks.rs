//! Webhook endpoints: a merchant's own under `/me/webhooks`, the platform's (admins) under
//! `/webhooks`; each with its deliveries.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::tags::ApiTags;
use crate::{
    api::{codes, types::Parsed},
    auth::{MerchantAuth, RequireRole, StaffAuth},
    error::ApiResult,
    pagination,
    services::webhooks::{
        self, DeliveryStatus, DeliveryWithEvent, NewEndpoint, Owner, WebhookEndpointStatus,
        WebhookEventType, WithSecret,
    },
    state::AppState,
};

pub struct WebhooksApi;

/// A new endpoint.
#[derive(Object, serde::Deserialize)]
#[oai(example)]
pub struct NewWebhook {
    /// Where deliveries are POSTed: an absolute `http` or `https` URL whose host does not
    /// resolve to a loopback, private, link-local or multicast address. Redirects are not
    /// followed.
    #[oai(validator(max_length = 2048, pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://\S+$"))]
    pub url: String,
    /// The event types it receives.
    #[oai(validator(min_items = 1, max_items = 16))]
    pub events: Vec<WebhookEventType>,
}

impl poem_openapi::types::Example for NewWebhook {
    fn example() -> Self {
        Self {
            url: "https://hooks.xinghe-beauty.cn/incentives".into(),
            events: vec![
                WebhookEventType::AchievementRecorded,
                WebhookEventType::ProgressNearTier,
            ],
        }
    }
}

/// An endpoint (without its secret).
#[derive(Object, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Webhook {
    /// The endpoint's id.
    pub id: i64,
    /// The merchant it belongs to; absent for a platform-wide endpoint.
    pub merchant_id: Option<i64>,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<WebhookEventType>,
    pub status: WebhookEndpointStatus,
    /// Until when the secret before the last rotation also signs.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Since when deliveries have been failing without a success; absent while healthy.
    pub failing_since: Option<DateTime<Utc>>,
    /// When it was disabled after failing for 3 days.
    pub disabled_at: Option<DateTime<Utc>>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// An endpoint with its signing secret, shown only in this answer.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookWithSecret {
    #[oai(flatten)]
    pub endpoint: Webhook,
    /// The signing secret (`whsec_` and a base64 key), for the Standard Webhooks libraries.
    pub secret: String,
}

/// A page of endpoints, oldest first.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookPage {
    /// The endpoints of this page.
    pub items: Vec<Webhook>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One event's delivery to one endpoint.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookDelivery {
    /// The delivery's id, to retry it.
    pub id: i64,
    /// The `webhook-id` header of every attempt: receivers dedupe on it.
    pub message_id: String,
    pub event_type: WebhookEventType,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last answer.
    pub response_status: Option<i32>,
    /// The first 1 KiB of the last answer's body.
    pub response_body: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the event happened and the delivery was queued.
    pub created_at: DateTime<Utc>,
    /// When the receiver answered 2xx.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A page of deliveries, newest first.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookDeliveryPage {
    /// The deliveries of this page.
    pub items: Vec<WebhookDelivery>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum WebhookCreated {
    /// The new endpoint; `secret` is shown only now.
    #[oai(status = 201)]
    Created(Json<WebhookWithSecret>),
}

#[derive(ApiResponse)]
pub enum WebhookDeleted {
    /// Deleted, with its deliveries.
    #[oai(status = 204)]
    Deleted,
}

impl TryFrom<entity::webhook_endpoint::Model> for Webhook {
    type Error = crate::error::AppError;
    fn try_from(e: entity::webhook_endpoint::Model) -> Result<Self, Self::Error> {
        Ok(Self {
            events: webhooks::events_of(&e)?,
            id: e.id,
            merchant_id: e.merchant_id,
            url: e.url,
            status: e.status,
            previous_secret_expires_at: e.previous_secret_until,
            failing_since: e.failing_since,
            disabled_at: e.disabled_at,
            created_at: e.created_at,
        })
    }
}

impl TryFrom<WithSecret> for WebhookWithSecret {
    type Error = crate::error::AppError;
    fn try_from(w: WithSecret) -> Result<Self, Self::Error> {
        Ok(Self {
            endpoint: w.endpoint.try_into()?,
            secret: w.secret,
        })
    }
}

impl From<DeliveryWithEvent> for WebhookDelivery {
    fn from((d, e): DeliveryWithEvent) -> Self {
        Self {
            id: d.id,
            message_id: e.message_id,
            event_type: e.kind,
            next_attempt_at: (d.status == DeliveryStatus::Pending).then_some(d.next_attempt_at),
            status: d.status,
            attempts: d.attempts,
            response_status: d.response_status,
            response_body: d.response_body,
            last_error: d.last_error,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

async fn create(
    state: &AppState,
    owner: Owner,
    body: NewWebhook,
) -> Result<WebhookCreated, crate::error::AppError> {
    let w = webhooks::create(
        &state.db,
        &state.sealer,
        state.config.webhook_allow_private,
        owner,
        NewEndpoint {
            url: body.url,
            events: body.events,
        },
    )
    .await?;
    Ok(WebhookCreated::Created(Json(w.try_into()?)))
}

async fn list(
    state: &AppState,
    owner: Owner,
    limit: Option<i64>,
    cursor: Option<String>,
) -> Result<WebhookPage, crate::error::AppError> {
    let limit = pagination::limit(limit)?;
    let after = pagination::decode_id(cursor.as_deref())?;
    let rows = webhooks::list(&state.db, owner, limit, after).await?;
    let (rows, next_cursor) = pagination::page(rows, limit, |e| e.id.to_string());
    Ok(WebhookPage {
        items: rows
            .into_iter()
            .map(Webhook::try_from)
            .collect::<Result<_, _>>()?,
        next_cursor,
    })
}

async fn deliveries(
    state: &AppState,
    owner: Owner,
    id: i64,
    limit: Option<i64>,
    cursor: Option<String>,
) -> Result<WebhookDeliveryPage, crate::error::AppError> {
    let limit = pagination::limit(limit)?;
    let before = pagination::decode_id(cursor.as_deref())?;
    let rows = webhooks::deliveries(&state.db, owner, id, limit, before).await?;
    let (rows, next_cursor) = pagination::page(rows, limit, |(d, _)| d.id.to_string());
    Ok(WebhookDeliveryPage {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    })
}

fn merchant(auth: &MerchantAuth) -> Owner {
    Owner::Merchant(auth.0.merchant_id)
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Register my webhook endpoint
    ///
    /// Events of my account are POSTed to `url`, signed per the Standard Webhooks
    /// specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`). The secret is
    /// shown only in this answer. At most 20 endpoints.
    #[oai(
        path = "/me/webhooks",
        method = "post",
        operation_id = "me_webhooks_create"
    )]
    async fn me_create(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        body: Json<Parsed<NewWebhook>>,
    ) -> ApiResult<WebhookCreated, codes::WebhooksCreate> {
        Ok(create(&state, merchant(&auth), body.0.into_inner()?).await?)
    }

    /// List my webhook endpoints
    ///
    /// Oldest first, without their secrets.
    #[oai(
        path = "/me/webhooks",
        method = "get",
        operation_id = "me_webhooks_list"
    )]
    async fn me_list(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        /// Items per page, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<WebhookPage>, codes::WebhooksList> {
        Ok(Json(
            list(&state, merchant(&auth), limit.0, cursor.0).await?,
        ))
    }

    /// Delete my webhook endpoint
    ///
    /// Deliveries not yet sent are dropped with it.
    #[oai(
        path = "/me/webhooks/:id",
        method = "delete",
        operation_id = "me_webhooks_delete"
    )]
    async fn me_delete(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        /// The endpoint's id.
        id: Path<i64>,
    ) -> ApiResult<WebhookDeleted, codes::WebhooksDelete> {
        webhooks::delete(&state.db, merchant(&auth), id.0).await?;
        Ok(WebhookDeleted::Deleted)
    }

    /// Rotate my endpoint's secret
    ///
    /// Answers the new secret, once. For 24 hours the old secret signs too, so each delivery
    /// carries two signatures while receivers switch.
    #[oai(
        path = "/me/webhooks/:id/rotate-secret",
        method = "post",
        operation_id = "me_webhooks_rotate"
    )]
    async fn me_rotate(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        /// The endpoint's id.
        id: Path<i64>,
    ) -> ApiResult<Json<WebhookWithSecret>, codes::WebhooksRotate> {
        let w =
            webhooks::rotate(&state.db, &state.sealer, merchant(&auth), id.0, Utc::now()).await?;
        Ok(Json(w.try_into()?))
    }

    /// List my endpoint's deliveries
    ///
    /// Newest first, with status, attempts, the last response code and the first 1 KiB of the
    /// last response.
    #[oai(
        path = "/me/webhooks/:id/deliveries",
        method = "get",
        operation_id = "me_webhooks_deliveries"
    )]
    async fn me_deliveries(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        /// The endpoint's id.
        id: Path<i64>,
        /// Items per page, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<WebhookDeliveryPage>, codes::WebhooksDeliveries> {
        Ok(Json(
            deliveries(&state, merchant(&auth), id.0, limit.0, cursor.0).await?,
        ))
    }

    /// Retry a delivery of my endpoint
    ///
    /// Sends it again as soon as possible, with the same `webhook-id`. On a disabled endpoint
    /// this enables it again.
    #[oai(
        path = "/me/webhooks/:id/deliveries/:delivery_id/retry",
        method = "post",
        operation_id = "me_webhooks_retry"
    )]
    async fn me_retry(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        /// The endpoint's id.
        id: Path<i64>,
        /// The delivery's id.
        delivery_id: Path<i64>,
    ) -> ApiResult<Json<WebhookDelivery>, codes::WebhooksRetry> {
        let d =
            webhooks::retry(&state.db, merchant(&auth), id.0, delivery_id.0, Utc::now()).await?;
        Ok(Json(d.into()))
    }

    /// Register a platform-wide webhook endpoint
    ///
    /// Admins only. It receives the events of every merchant and of every subject. The secret
    /// is shown only in this answer.
    #[oai(path = "/webhooks", method = "post", operation_id = "webhooks_create")]
    async fn staff_create(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        body: Json<Parsed<NewWebhook>>,
    ) -> ApiResult<WebhookCreated, codes::StaffWebhooksCreate> {
        auth.0.require_admin()?;
        Ok(create(&state, Owner::Platform, body.0.into_inner()?).await?)
    }

    /// List platform-wide webhook endpoints
    ///
    /// Admins only. Oldest first, without their secrets.
    #[oai(path = "/webhooks", method = "get", operation_id = "webhooks_list")]
    async fn staff_list(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// Items per page, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<WebhookPage>, codes::StaffWebhooksList> {
        auth.0.require_admin()?;
        Ok(Json(
            list(&state, Owner::Platform, limit.0, cursor.0).await?,
        ))
    }

    /// Delete a platform-wide webhook endpoint
    ///
    /// Admins only.
    #[oai(
        path = "/webhooks/:id",
        method = "delete",
        operation_id = "webhooks_delete"
    )]
    async fn staff_delete(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The endpoint's id.
        id: Path<i64>,
    ) -> ApiResult<WebhookDeleted, codes::StaffWebhooksDelete> {
        auth.0.require_admin()?;
        webhooks::delete(&state.db, Owner::Platform, id.0).await?;
        Ok(WebhookDeleted::Deleted)
    }

    /// Rotate a platform-wide endpoint's secret
    ///
    /// Admins only. The old secret signs too for 24 hours.
    #[oai(
        path = "/webhooks/:id/rotate-secret",
        method = "post",
        operation_id = "webhooks_rotate"
    )]
    async fn staff_rotate(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The endpoint's id.
        id: Path<i64>,
    ) -> ApiResult<Json<WebhookWithSecret>, codes::StaffWebhooksRotate> {
        auth.0.require_admin()?;
        let w =
            webhooks::rotate(&state.db, &state.sealer, Owner::Platform, id.0, Utc::now()).await?;
        Ok(Json(w.try_into()?))
    }

    /// List a platform-wide endpoint's deliveries
    ///
    /// Admins only. Newest first.
    #[oai(
        path = "/webhooks/:id/deliveries",
        method = "get",
        operation_id = "webhooks_deliveries"
    )]
    async fn staff_deliveries(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The endpoint's id.
        id: Path<i64>,
        /// Items per page, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<WebhookDeliveryPage>, codes::StaffWebhooksDeliveries> {
        auth.0.require_admin()?;
        Ok(Json(
            deliveries(&state, Owner::Platform, id.0, limit.0, cursor.0).await?,
        ))
    }

    /// Retry a delivery of a platform-wide endpoint
    ///
    /// Admins only. Same `webhook-id`; enables a disabled endpoint again.
    #[oai(
        path = "/webhooks/:id/deliveries/:delivery_id/retry",
        method = "post",
        operation_id = "webhooks_retry"
    )]
    async fn staff_retry(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The endpoint's id.
        id: Path<i64>,
        /// The delivery's id.
        delivery_id: Path<i64>,
    ) -> ApiResult<Json<WebhookDelivery>, codes::StaffWebhooksRetry> {
        auth.0.require_admin()?;
        let d =
            webhooks::retry(&state.db, Owner::Platform, id.0, delivery_id.0, Utc::now()).await?;
        Ok(Json(d.into()))
    }
}
