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
    error::{AppError, AppResult},
    services::{merchants, staff},
};

/// Staff roles: admins do everything, reviewers decide on merchants, analysts read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum Role {
    /// Full access, including programme edits, evaluations and digests.
    Admin,
    /// Reviews merchant applications.
    Reviewer,
    /// Reads everything, changes nothing.
    Analyst,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Analyst => "analyst",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "reviewer" => Some(Role::Reviewer),
            "analyst" => Some(Role::Analyst),
            _ => None,
        }
    }
}

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
    pub status: String,
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
