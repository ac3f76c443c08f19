use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};

use super::ApiTags;
use crate::{
    app::AppState,
    auth::{Role, StaffAuth},
    error::AppResult,
    services::{audit, staff},
};

pub struct StaffApi;

/// The authenticated staff member.
#[derive(Object)]
pub struct StaffWhoami {
    /// Name given when the token was created (`admin` for the bootstrap token).
    pub name: String,
    /// The role, which decides what this token may do.
    pub role: Role,
    /// Token id; absent for the bootstrap `ADMIN_TOKEN`.
    pub token_id: Option<i64>,
}

/// A staff token as listed (the secret itself is never shown again).
#[derive(Object)]
pub struct StaffToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// All staff tokens.
#[derive(Object)]
pub struct StaffTokenPage {
    pub items: Vec<StaffToken>,
    pub next_cursor: Option<String>,
}

impl From<entity::staff_token::Model> for StaffToken {
    fn from(t: entity::staff_token::Model) -> Self {
        Self {
            id: t.id,
            role: Role::parse(&t.role).unwrap_or(Role::Analyst),
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
    async fn whoami(&self, auth: StaffAuth) -> AppResult<Json<StaffWhoami>> {
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
    ) -> AppResult<Json<StaffTokenPage>> {
        auth.0.require_admin()?;
        let items = staff::list(&state.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(Json(StaffTokenPage {
            items,
            next_cursor: None,
        }))
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
        id: Path<i64>,
    ) -> AppResult<Json<StaffToken>> {
        auth.0.require_admin()?;
        let row = staff::revoke(&state.db, id.0).await?;
        audit::record(
            &state.db,
            &auth.0.actor(),
            "staff_token.revoke",
            &format!("staff_token:{}", id.0),
            serde_json::json!({}),
        )
        .await?;
        Ok(Json(row.into()))
    }
}
