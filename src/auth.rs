//! Who is calling. Handlers take one of these security-scheme types, so an endpoint cannot
//! forget to authenticate; the checkers resolve credentials to a principal.

use crate::error_code::ErrorCode;
use poem::Request;
use poem_openapi::{
    SecurityScheme,
    auth::{ApiKey, Bearer},
};

use crate::{
    app::AppState,
    domain::merchant::MerchantStatus,
    error::{AppError, AppResult},
    services::{merchants, staff},
};

pub use entity::enums::Role;

/// An authenticated staff member.
#[derive(Clone, Debug)]
pub struct Staff {
    /// `None` for the bootstrap `ADMIN_TOKEN`.
    pub token_id: Option<i64>,
    pub name: String,
    pub role: Role,
}

impl Staff {
    /// How this person appears in audit trails.
    pub fn actor(&self) -> String {
        format!("staff:{}", self.name)
    }

    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> AppResult<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
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

    pub fn require_admin(&self) -> AppResult<()> {
        self.require(&[Role::Admin])
    }
}

/// A merchant authenticated by one of its API keys.
#[derive(Clone, Debug)]
pub struct MerchantCaller {
    pub merchant_id: i64,
    pub key_id: i64,
    pub status: MerchantStatus,
}

impl MerchantCaller {
    pub fn actor(&self) -> String {
        format!("merchant:{}", self.merchant_id)
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

/// Either a staff token or a merchant key.
#[derive(SecurityScheme)]
pub enum AnyAuth {
    Staff(StaffAuth),
    Merchant(MerchantAuth),
}

fn state(req: &Request) -> &AppState {
    req.data::<AppState>()
        .expect("AppState is attached to every route")
}

async fn check_staff(req: &Request, bearer: Bearer) -> poem::Result<Staff> {
    let state = state(req);
    let staff = staff::authenticate(state, &bearer.token).await?;
    state.limit_key(&format!("staff:{}", staff.name))?;
    Ok(staff)
}

async fn check_merchant(req: &Request, key: ApiKey) -> poem::Result<MerchantCaller> {
    let state = state(req);
    let caller = merchants::authenticate(state, &key.key).await?;
    state.limit_key(&format!("key:{}", caller.key_id))?;
    Ok(caller)
}
