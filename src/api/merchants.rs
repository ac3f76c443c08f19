use crate::error_code::ErrorCode;
use crate::{api::codes, error::ApiResult};
use chrono::{DateTime, Utc};
use poem::web::{Data, RemoteAddr};
use poem_openapi::{
    ApiResponse, Object, OpenApi, Union,
    param::{Path, Query},
    payload::Json,
};

use super::{
    tags::ApiTags,
    types::{Opt, Parsed, Text, opt},
};
use crate::{
    auth::{AnyAuth, RequireRole, StaffAuth},
    domain::merchant::{
        Application, ApplicationInput, DecisionAction, MerchantKind, MerchantStatus,
    },
    error::{AppError, AppResult},
    mail::Locale,
    pagination,
    services::merchants::{self, ListFilter},
    services::staff::Role,
    state::AppState,
};

pub struct MerchantsApi;

/// A merchant as staff and the merchant itself see it.
#[derive(Object, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Merchant {
    /// Merchant id.
    pub id: i64,
    pub kind: MerchantKind,
    pub status: MerchantStatus,
    /// The reason given with the decision that set `status` (e.g. why it was suspended);
    /// absent when none was given.
    pub status_reason: Option<String>,
    /// Registered company name (Chinese is normal).
    pub legal_name: String,
    /// Shop name shown to buyers.
    pub display_name: String,
    /// 统一社会信用代码, 18 characters, check digit verified.
    pub uscc: String,
    /// The address reports are sent to.
    pub contact_email: String,
    /// Province of registration, e.g. 浙江.
    pub province: String,
    /// City of registration, e.g. 义乌.
    pub city: String,
    /// Main product category, e.g. 女装, 日用百货.
    pub category: String,
    /// Brand merchants only.
    pub brand_name: Option<String>,
    /// Brand merchants only: trademark registration number.
    pub trademark_number: Option<String>,
    /// Industry-belt merchants only, e.g. 义乌小商品.
    pub industry_belt: Option<String>,
    /// When the most recent GMV record arrived (freshness).
    pub last_gmv_at: Option<DateTime<Utc>>,
    /// Whether the weekly report is sent.
    pub weekly_report: bool,
    /// Whether near-tier alerts are emailed.
    pub near_tier_alerts: bool,
    /// Whether a change to `at_risk` is emailed.
    pub at_risk_alerts: bool,
    pub locale: Locale,
    /// When the application arrived.
    pub created_at: DateTime<Utc>,
    /// When the merchant last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<entity::merchant::Model> for Merchant {
    fn from(m: entity::merchant::Model) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            status: m.status,
            status_reason: m.status_reason,
            legal_name: m.legal_name,
            display_name: m.display_name,
            uscc: m.uscc,
            contact_email: m.contact_email,
            province: m.province,
            city: m.city,
            category: m.category,
            brand_name: m.brand_name,
            trademark_number: m.trademark_number,
            industry_belt: m.industry_belt,
            last_gmv_at: m.last_gmv_at,
            weekly_report: m.weekly_report,
            near_tier_alerts: m.notify_near_tier,
            at_risk_alerts: m.notify_at_risk,
            locale: m.locale,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// An application to join the programme: a `brand` or an `industry_belt` merchant, each with
/// its own required fields.
#[derive(Union)]
#[oai(discriminator_name = "kind", one_of)]
pub enum MerchantApplication {
    #[oai(mapping = "brand")]
    Brand(BrandApplication),
    #[oai(mapping = "industry_belt")]
    IndustryBelt(IndustryBeltApplication),
}

/// What every application carries.
#[derive(Object)]
pub struct ApplicationCommon {
    /// 1–200 characters.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub legal_name: Text,
    /// 1–100 characters.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub display_name: Text,
    /// 18-character unified social credit code (GB 32100-2015), check digit verified.
    #[oai(validator(pattern = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"))]
    pub uscc: Text,
    /// The address the merchant's emails go to.
    #[oai(validator(min_length = 3, max_length = 254))]
    pub contact_email: Text,
    /// 1–50 characters.
    #[oai(validator(min_length = 1, max_length = 50))]
    pub province: Text,
    /// 1–50 characters.
    #[oai(validator(min_length = 1, max_length = 50))]
    pub city: Text,
    /// 1–100 characters.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub category: Text,
}

/// A brand merchant's application.
#[derive(Object)]
pub struct BrandApplication {
    #[oai(flatten)]
    pub common: ApplicationCommon,
    /// 1–100 characters.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub brand_name: Text,
    /// The trademark registration number, 1–32 letters and digits.
    #[oai(validator(pattern = r"^[A-Za-z0-9]{1,32}$"))]
    pub trademark_number: Text,
}

/// An industry-belt merchant's application.
#[derive(Object)]
pub struct IndustryBeltApplication {
    #[oai(flatten)]
    pub common: ApplicationCommon,
    /// The regional manufacturing cluster, e.g. 义乌小商品; 1–100 characters.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub industry_belt: Text,
}

/// Read as the flat object it is on the wire, so that an error names its field. A field the
/// kind requires but the body lacks reads as empty, and the application's checks answer 422
/// `required` naming it.
impl<'de> serde::Deserialize<'de> for MerchantApplication {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Every field listed, not `#[serde(flatten)]`: flattening would lose the field's name
        // in errors.
        #[derive(serde::Deserialize)]
        struct Flat {
            kind: MerchantKind,
            legal_name: Text,
            display_name: Text,
            uscc: Text,
            contact_email: Text,
            province: Text,
            city: Text,
            category: Text,
            #[serde(default)]
            brand_name: Opt<Text>,
            #[serde(default)]
            trademark_number: Opt<Text>,
            #[serde(default)]
            industry_belt: Opt<Text>,
        }
        let f = Flat::deserialize(d)?;
        let text = |t: Opt<Text>| opt(t).map(Text).unwrap_or_default();
        let common = ApplicationCommon {
            legal_name: f.legal_name,
            display_name: f.display_name,
            uscc: f.uscc,
            contact_email: f.contact_email,
            province: f.province,
            city: f.city,
            category: f.category,
        };
        Ok(match f.kind {
            MerchantKind::Brand => Self::Brand(BrandApplication {
                common,
                brand_name: text(f.brand_name),
                trademark_number: text(f.trademark_number),
            }),
            MerchantKind::IndustryBelt => Self::IndustryBelt(IndustryBeltApplication {
                common,
                industry_belt: text(f.industry_belt),
            }),
        })
    }
}

impl MerchantApplication {
    /// The kind and the raw fields, for the application's checks.
    pub fn into_input(self) -> (MerchantKind, ApplicationInput) {
        let (kind, c, brand_name, trademark_number, industry_belt) = match self {
            Self::Brand(b) => (
                MerchantKind::Brand,
                b.common,
                Some(b.brand_name.into()),
                Some(b.trademark_number.into()),
                None,
            ),
            Self::IndustryBelt(i) => (
                MerchantKind::IndustryBelt,
                i.common,
                None,
                None,
                Some(i.industry_belt.into()),
            ),
        };
        (
            kind,
            ApplicationInput {
                legal_name: c.legal_name.into(),
                display_name: c.display_name.into(),
                uscc: c.uscc.into(),
                contact_email: c.contact_email.into(),
                province: c.province.into(),
                city: c.city.into(),
                category: c.category.into(),
                brand_name,
                trademark_number,
                industry_belt,
            },
        )
    }
}

/// An API key as issued: `key` is shown this once and never again.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IssuedApiKey {
    /// Key id, to revoke it.
    pub id: i64,
    /// Send as `X-API-Key`. Store it now: only its hash is kept.
    pub key: String,
    /// The visible start of the key.
    pub prefix: String,
    /// When the key was issued.
    pub created_at: DateTime<Utc>,
}

impl From<merchants::IssuedKey> for IssuedApiKey {
    fn from(k: merchants::IssuedKey) -> Self {
        Self {
            id: k.row.id,
            key: k.secret,
            prefix: k.row.prefix,
            created_at: k.row.created_at,
        }
    }
}

/// The new merchant and its first API key.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MerchantApplied {
    pub merchant: Merchant,
    pub api_key: IssuedApiKey,
}

#[derive(ApiResponse)]
pub enum ApplyResponse {
    /// Application received; the merchant is `submitted`.
    #[oai(status = 201)]
    Created(Json<MerchantApplied>),
}

/// A page of merchants.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MerchantPage {
    /// The merchants of this page.
    pub items: Vec<Merchant>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A review decision, by `action`. `reason` is shown to the merchant in the email: required
/// (not blank) to reject, request changes or suspend, optional to approve or reinstate.
/// `resubmit` is not among the actions: it is recorded when the merchant edits its application.
#[derive(Union)]
#[oai(discriminator_name = "action", one_of)]
pub enum DecisionRequest {
    #[oai(mapping = "approve")]
    Approve(Approve),
    #[oai(mapping = "reject")]
    Reject(Reject),
    #[oai(mapping = "request_changes")]
    RequestChanges(RequestChanges),
    #[oai(mapping = "suspend")]
    Suspend(Suspend),
    #[oai(mapping = "reinstate")]
    Reinstate(Reinstate),
}

/// Read as the flat object it is on the wire, so that an error names its field (`reason`).
impl<'de> serde::Deserialize<'de> for DecisionRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fn reviewer_action<'de, D: serde::Deserializer<'de>>(
            d: D,
        ) -> Result<DecisionAction, D::Error> {
            let action = <DecisionAction as serde::Deserialize>::deserialize(d)?;
            if action == DecisionAction::Resubmit {
                return Err(serde::de::Error::custom(
                    "`resubmit` is recorded when the merchant edits its application",
                ));
            }
            Ok(action)
        }
        #[derive(serde::Deserialize)]
        struct Flat {
            #[serde(deserialize_with = "reviewer_action")]
            action: DecisionAction,
            #[serde(default)]
            reason: Text,
        }
        let Flat { action, reason } = Flat::deserialize(d)?;
        Ok(match action {
            DecisionAction::Approve => Self::Approve(Approve { reason }),
            DecisionAction::Reject => Self::Reject(Reject { reason }),
            DecisionAction::RequestChanges => Self::RequestChanges(RequestChanges { reason }),
            DecisionAction::Suspend => Self::Suspend(Suspend { reason }),
            DecisionAction::Reinstate | DecisionAction::Resubmit => {
                Self::Reinstate(Reinstate { reason })
            }
        })
    }
}

impl DecisionRequest {
    /// The action and its reason (empty when none was given).
    pub fn into_parts(self) -> (DecisionAction, String) {
        match self {
            DecisionRequest::Approve(r) => (DecisionAction::Approve, r.reason.into()),
            DecisionRequest::Reject(r) => (DecisionAction::Reject, r.reason.into()),
            DecisionRequest::RequestChanges(r) => (DecisionAction::RequestChanges, r.reason.into()),
            DecisionRequest::Suspend(r) => (DecisionAction::Suspend, r.reason.into()),
            DecisionRequest::Reinstate(r) => (DecisionAction::Reinstate, r.reason.into()),
        }
    }
}

/// One variant of [`DecisionRequest`] per action, so each has its own schema.
macro_rules! decision {
    ($(#[$doc:meta] $name:ident, optional;)*) => {$(
        #[$doc]
        #[derive(Object)]
        pub struct $name {
            /// Shown to the merchant in the email.
            #[oai(default, validator(max_length = 2000))]
            pub reason: Text,
        }
    )*};
    ($(#[$doc:meta] $name:ident, required;)*) => {$(
        #[$doc]
        #[derive(Object)]
        pub struct $name {
            /// Shown to the merchant in the email; not blank.
            #[oai(validator(min_length = 1, max_length = 2000, pattern = r"\S"))]
            pub reason: Text,
        }
    )*};
}

decision! {
    /// Approve: submitted → approved.
    Approve, optional;
    /// Reinstate: suspended → approved.
    Reinstate, optional;
}
decision! {
    /// Reject: submitted → rejected.
    Reject, required;
    /// Request changes: submitted → changes_requested.
    RequestChanges, required;
    /// Suspend: approved → suspended.
    Suspend, required;
}

/// One entry of a merchant's audit trail.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Decision {
    /// Decision id.
    pub id: i64,
    /// The merchant decided on.
    pub merchant_id: i64,
    /// `staff:<name>` or `merchant:<id>`.
    pub actor: String,
    pub action: DecisionAction,
    /// The reason given (may be empty for an approval).
    pub reason: String,
    pub from_status: MerchantStatus,
    pub to_status: MerchantStatus,
    /// When the decision was made.
    pub created_at: DateTime<Utc>,
}

/// A merchant's decisions, oldest first.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DecisionPage {
    /// The decisions of this page.
    pub items: Vec<Decision>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl From<entity::merchant_decision::Model> for Decision {
    fn from(d: entity::merchant_decision::Model) -> Self {
        Self {
            id: d.id,
            merchant_id: d.merchant_id,
            actor: d.actor,
            action: d.action,
            reason: d.reason,
            from_status: d.from_status,
            to_status: d.to_status,
            created_at: d.created_at,
        }
    }
}

/// Staff may see any merchant; a merchant only itself (anything else is 404).
pub fn visible(auth: &AnyAuth, merchant_id: i64) -> AppResult<()> {
    match auth {
        AnyAuth::Staff(_) => Ok(()),
        AnyAuth::Merchant(m) if m.0.merchant_id == merchant_id => Ok(()),
        AnyAuth::Merchant(_) => Err(AppError::not_found("merchant")),
    }
}

pub fn staff_only(auth: &AnyAuth) -> AppResult<&crate::services::staff::Staff> {
    match auth {
        AnyAuth::Staff(s) => Ok(&s.0),
        AnyAuth::Merchant(_) => Err(AppError::new(
            ErrorCode::StaffOnly,
            "only platform staff may do this",
        )),
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Merchants")]
impl MerchantsApi {
    /// Apply as a merchant
    ///
    /// Anyone may apply (rate-limited per client address). The answer carries the merchant,
    /// `status: submitted`, and its first API key — shown once. One merchant per USCC.
    #[oai(path = "/merchants", method = "post", operation_id = "merchants_apply")]
    async fn apply(
        &self,
        state: Data<&AppState>,
        remote: &RemoteAddr,
        body: Json<Parsed<MerchantApplication>>,
    ) -> ApiResult<ApplyResponse, codes::MerchantsApply> {
        let client = remote
            .as_socket_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| remote.to_string());
        state
            .apply_limiter
            .check(&client)
            .map_err(AppError::rate_limited)?;
        let (kind, input) = body.0.into_inner()?.into_input();
        let app = Application::parse(kind, &input)?;
        let (m, key) = merchants::apply(&state.db, app).await?;
        Ok(ApplyResponse::Created(Json(MerchantApplied {
            merchant: m.into(),
            api_key: key.into(),
        })))
    }

    /// List merchants
    ///
    /// Staff only. Filter by `kind`, `status`, `industry_belt`, or `q` (part of a name, or a
    /// whole USCC). Ordered by id; the cursor stays correct while merchants are added.
    #[oai(path = "/merchants", method = "get", operation_id = "merchants_list")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// Only merchants of this kind.
        kind: Query<Option<MerchantKind>>,
        /// Only merchants in this review status.
        status: Query<Option<MerchantStatus>>,
        /// Only industry-belt merchants of this cluster (exact name, e.g. 义乌小商品).
        industry_belt: Query<Option<String>>,
        /// Part of the legal or display name, or a whole USCC.
        q: Query<Option<String>>,
        /// Page size, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page; omit for the first page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<MerchantPage>, codes::MerchantsList> {
        let _ = auth;
        let limit = pagination::limit(limit.0)?;
        let after = pagination::decode_id(cursor.0.as_deref())?;
        let (rows, next_cursor) = merchants::list(
            &state.db,
            ListFilter {
                kind: kind.0,
                status: status.0,
                industry_belt: industry_belt.0,
                q: q.0,
            },
            limit,
            after,
        )
        .await?;
        Ok(Json(MerchantPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// Get a merchant
    ///
    /// Staff see any merchant; a merchant key sees only its own (others are 404).
    #[oai(
        path = "/merchants/:id",
        method = "get",
        operation_id = "merchants_get"
    )]
    async fn get(
        &self,
        auth: AnyAuth,
        state: Data<&AppState>,
        /// The merchant's id.
        id: Path<i64>,
    ) -> ApiResult<Json<Merchant>, codes::MerchantsGet> {
        visible(&auth, id.0)?;
        Ok(Json(merchants::get(&state.db, id.0).await?.into()))
    }

    /// Decide on a merchant
    ///
    /// Reviewers and admins. `approve`/`reject`/`request_changes` a submitted application,
    /// `suspend` an approved merchant, `reinstate` a suspended one. An impossible transition
    /// is 409 naming the current status. Every decision is recorded and emailed.
    #[oai(
        path = "/merchants/:id/decisions",
        method = "post",
        operation_id = "merchants_decide"
    )]
    async fn decide(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The merchant's id.
        id: Path<i64>,
        body: Json<Parsed<DecisionRequest>>,
    ) -> ApiResult<Json<Merchant>, codes::MerchantsDecide> {
        auth.0.require(&[Role::Admin, Role::Reviewer])?;
        let (action, reason) = body.0.into_inner()?.into_parts();
        let m = merchants::decide(&state.db, &auth.0.actor(), id.0, action, &reason).await?;
        Ok(Json(m.into()))
    }

    /// A merchant's decisions
    ///
    /// Staff only: the audit trail of the application, oldest first.
    #[oai(
        path = "/merchants/:id/decisions",
        method = "get",
        operation_id = "merchants_decisions"
    )]
    async fn decisions(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The merchant's id.
        id: Path<i64>,
        /// Page size, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page; omit for the first page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<DecisionPage>, codes::MerchantsDecisions> {
        let _ = auth;
        let limit = pagination::limit(limit.0)?;
        let after = pagination::decode_id(cursor.0.as_deref())?;
        let rows = merchants::decisions(&state.db, id.0, limit, after).await?;
        let (rows, next_cursor) = pagination::page(rows, limit, |d| d.id.to_string());
        Ok(Json(DecisionPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each variant of the request is named by its action's own value, in the document's
    /// mapping and in the parser alike.
    #[test]
    fn decision_variants_are_named_by_their_actions() {
        let reviewer_actions = [
            DecisionAction::Approve,
            DecisionAction::Reject,
            DecisionAction::RequestChanges,
            DecisionAction::Suspend,
            DecisionAction::Reinstate,
        ];
        let mut registry = poem_openapi::registry::Registry::new();
        <DecisionRequest as poem_openapi::types::Type>::register(&mut registry);
        let schema = &registry.schemas["DecisionRequest"];
        let mapping: Vec<&str> = schema
            .discriminator
            .as_ref()
            .expect("a discriminator")
            .mapping
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            mapping,
            reviewer_actions.map(|a| a.as_str()).to_vec(),
            "the document's mapping"
        );
        for action in reviewer_actions {
            let body = serde_json::json!({"action": action.as_str(), "reason": "ok"});
            let parsed: DecisionRequest = serde_json::from_value(body).unwrap();
            assert_eq!(parsed.into_parts(), (action, "ok".to_string()));
        }
        let resubmit = serde_json::json!({"action": DecisionAction::Resubmit.as_str()});
        assert!(serde_json::from_value::<DecisionRequest>(resubmit).is_err());
    }

    /// Each variant of an application is named by its kind's own value.
    #[test]
    fn application_variants_are_named_by_their_kinds() {
        let mut registry = poem_openapi::registry::Registry::new();
        <MerchantApplication as poem_openapi::types::Type>::register(&mut registry);
        let mapping: Vec<&str> = registry.schemas["MerchantApplication"]
            .discriminator
            .as_ref()
            .expect("a discriminator")
            .mapping
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            mapping,
            [MerchantKind::Brand, MerchantKind::IndustryBelt].map(|k| k.as_str())
        );
    }
}
