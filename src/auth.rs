//! Who is calling. Handlers take one of these security-scheme types, so an endpoint cannot
//! forget to authenticate; the checkers resolve credentials to a principal.

use crate::error_code::ErrorCode;
use poem::Request;
use poem_openapi::{
    SecurityScheme,
    auth::{ApiKey, Bearer},
};

use crate::{
    error::{AppError, AppResult},
    services::{
        merchants::{self, MerchantCaller},
        staff::{self, Role, Staff},
    },
    state::AppState,
};

/// Role checks at the API edge: 403 `insufficient_role` unless the caller has one of `roles`.
pub trait RequireRole {
    fn require(&self, roles: &[Role]) -> AppResult<()>;

    fn require_admin(&self) -> AppResult<()> {
        self.require(&[Role::Admin])
    }
}

impl RequireRole for Staff {
    fn require(&self, roles: &[Role]) -> AppResult<()> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        Err(AppError::new(
            ErrorCode::InsufficientRole,
            format!(
                "the {} role may not do this; it needs {}",
                self.role.as_str(),
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ))
    }
}

/// Staff bearer token (`ADMIN_TOKEN` or one made with `merchant-incentives staff create`).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "opaque token", checker = "check_staff")]
pub struct StaffAuth(pub Staff);

/// Merchant API key, returned once when applying or when creating a key.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "X-API-Key",
    key_in = "header",
    checker = "check_merchant"
)]
pub struct MerchantAuth(pub MerchantCaller);

/// Merchant API key, returned once when applying or when creating a key.
///
/// The same scheme as [`MerchantAuth`], also accepted while the merchant is suspended: only
/// `GET /me` takes it, so a suspended merchant can read its status and the reason.
#[derive(SecurityScheme)]
#[oai(
    rename = "MerchantAuth",
    ty = "api_key",
    key_name = "X-API-Key",
    key_in = "header",
    checker = "check_merchant_any_status"
)]
pub struct MerchantAnyStatusAuth(pub MerchantCaller);

/// Either a staff token or a merchant key.
#[derive(SecurityScheme)]
pub enum AnyAuth {
    Staff(StaffAuth),
    Merchant(MerchantAuth),
}

/// Creator key (`mic_…`), issued by an admin: reads only its own creator.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "X-API-Key",
    key_in = "header",
    checker = "check_creator"
)]
pub struct CreatorAuth(pub String);

/// A staff token, or the creator's own key.
#[derive(SecurityScheme)]
pub enum CreatorOrStaff {
    Staff(StaffAuth),
    Creator(CreatorAuth),
}

impl CreatorOrStaff {
    /// Staff read every creator; a creator key only its own (another creator is not found).
    pub fn may_read(&self, creator_id: &str) -> AppResult<()> {
        match self {
            CreatorOrStaff::Creator(c) if c.0 != creator_id => {
                Err(AppError::new(ErrorCode::NotFound, "creator not found"))
            }
            _ => Ok(()),
        }
    }
}

fn state(req: &Request) -> &AppState {
    req.data::<AppState>()
        .expect("AppState is attached to every route")
}

/// The header merchants send their key in.
pub const API_KEY: &str = "X-API-Key";

/// One credential per request: a bad one is never outvoted by a good one.
pub fn ambiguous() -> AppError {
    AppError::new(
        ErrorCode::AmbiguousCredentials,
        "send either `Authorization: Bearer <token>` or `X-API-Key: <key>`, not both",
    )
}

async fn check_staff(req: &Request, bearer: Bearer) -> poem::Result<Staff> {
    if req.headers().contains_key(API_KEY) {
        return Err(ambiguous().into());
    }
    let state = state(req);
    let staff = staff::authenticate(&state.db, state.admin_token_hash.as_deref(), &bearer.token)
        .await
        .map_err(AppError::from)?;
    state.limit_key(&format!("staff:{}", staff.name))?;
    Ok(staff)
}

async fn check_creator(req: &Request, key: ApiKey) -> poem::Result<String> {
    if req
        .headers()
        .contains_key(poem::http::header::AUTHORIZATION)
    {
        return Err(ambiguous().into());
    }
    let state = state(req);
    let id = crate::services::creators::authenticate(&state.db, &key.key)
        .await
        .map_err(AppError::from)?;
    state.limit_key(&format!("creator:{id}"))?;
    Ok(id)
}

async fn check_merchant(req: &Request, key: ApiKey) -> poem::Result<MerchantCaller> {
    merchant_caller(req, key, false).await
}

async fn check_merchant_any_status(req: &Request, key: ApiKey) -> poem::Result<MerchantCaller> {
    merchant_caller(req, key, true).await
}

async fn merchant_caller(
    req: &Request,
    key: ApiKey,
    allow_suspended: bool,
) -> poem::Result<MerchantCaller> {
    if req
        .headers()
        .contains_key(poem::http::header::AUTHORIZATION)
    {
        return Err(ambiguous().into());
    }
    let state = state(req);
    let caller = merchants::authenticate(&state.db, &state.key_touches, &key.key, allow_suspended)
        .await
        .map_err(AppError::from)?;
    state.limit_key(&format!("key:{}", caller.key_id))?;
    Ok(caller)
}
