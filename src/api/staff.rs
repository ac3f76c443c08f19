use crate::{api::codes, error::ApiResult};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::tags::ApiTags;
use crate::{
    auth::{RequireRole, StaffAuth},
    pagination,
    services::staff::Role,
    services::{audit, staff},
    state::AppState,
};

pub struct StaffApi;

/// The authenticated staff member.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct StaffWhoami {
    /// Name given when the token was created (`admin` for the bootstrap token).
    pub name: String,
    pub role: Role,
    /// Token id; absent for the bootstrap `ADMIN_TOKEN`.
    pub token_id: Option<i64>,
}

/// A staff token as listed (the secret itself is never shown again).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct StaffToken {
    /// Token id, to revoke it.
    pub id: i64,
    /// Name given when the token was created.
    pub name: String,
    pub role: Role,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    /// When the token was created.
    pub created_at: DateTime<Utc>,
    /// When the token last authenticated a request; absent if never.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When the token was revoked; absent while it works.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One staff write, as recorded.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AuditEntry {
    /// Entry id.
    pub id: i64,
    /// `staff:<name>`.
    pub actor: String,
    /// The operation id, e.g. `merchants_decide`.
    pub action: String,
    /// Method and path.
    pub target: String,
    /// JSON details: status, role, request id.
    pub detail: String,
    /// When the write happened.
    pub created_at: DateTime<Utc>,
}

/// Audit entries, newest first.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AuditPage {
    /// The entries of this page.
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// All staff tokens.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct StaffTokenPage {
    /// The tokens of this page.
    pub items: Vec<StaffToken>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl From<entity::staff_token::Model> for StaffToken {
    fn from(t: entity::staff_token::Model) -> Self {
        Self {
            id: t.id,
            role: t.role,
            name: t.name,
            prefix: t.prefix,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Staff")]
impl StaffApi {
    /// Who am I
    ///
    /// Returns the staff member the bearer token belongs to, and its role.
    #[oai(path = "/staff/me", method = "get", operation_id = "staff_whoami")]
    async fn whoami(&self, auth: StaffAuth) -> ApiResult<Json<StaffWhoami>, codes::StaffWhoami> {
        let s = auth.0;
        Ok(Json(StaffWhoami {
            name: s.name,
            role: s.role,
            token_id: s.token_id,
        }))
    }

    /// List staff tokens
    ///
    /// Admins only. Tokens are created with `merchant-incentives staff create`.
    #[oai(
        path = "/staff/tokens",
        method = "get",
        operation_id = "staff_tokens_list"
    )]
    async fn list(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// Page size, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page; omit for the first page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<StaffTokenPage>, codes::StaffTokensList> {
        auth.0.require_admin()?;
        let limit = pagination::limit(limit.0)?;
        let after = pagination::decode_id(cursor.0.as_deref())?;
        let rows = staff::list(&state.db, limit, after).await?;
        let (rows, next_cursor) = pagination::page(rows, limit, |t| t.id.to_string());
        Ok(Json(StaffTokenPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// Read the audit log
    ///
    /// Admins only. Every successful staff write (method other than GET), newest first.
    #[oai(path = "/audit-log", method = "get", operation_id = "audit_log_list")]
    async fn audit_log(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// Page size, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page; omit for the first page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<AuditPage>, codes::AuditLogList> {
        auth.0.require_admin()?;
        let limit = pagination::limit(limit.0)?;
        let before = pagination::decode_id(cursor.0.as_deref())?;
        let (rows, next_cursor) = audit::list(&state.db, limit, before).await?;
        let items = rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                actor: r.actor,
                action: r.action,
                target: r.target,
                detail: r.detail,
                created_at: r.created_at,
            })
            .collect();
        Ok(Json(AuditPage { items, next_cursor }))
    }

    /// Revoke a staff token
    ///
    /// Admins only. The token stops working at once; revoking twice is harmless.
    #[oai(
        path = "/staff/tokens/:id",
        method = "delete",
        operation_id = "staff_tokens_revoke"
    )]
    async fn revoke(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The token's id.
        id: Path<i64>,
    ) -> ApiResult<Json<StaffToken>, codes::StaffTokensRevoke> {
        auth.0.require_admin()?;
        let row = staff::revoke(&state.db, id.0).await?;
        Ok(Json(row.into()))
    }
}
