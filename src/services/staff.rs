//! Staff tokens: the bootstrap `ADMIN_TOKEN` and tokens made with `staff create`.

use chrono::{DateTime, Duration, Utc};
use entity::{staff_session, staff_token};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, sea_query::Expr,
};

use crate::{domain::FieldError, secrets};

pub use entity::enums::Role;

/// What can go wrong with staff tokens, in its own words; `src/api` maps each case to a code.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("unknown or revoked staff token")]
    UnknownToken,
    #[error("staff token not found")]
    NotFound,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl crate::db::MaybeTransient for StaffError {
    fn transient(&self) -> Option<crate::db::Transient> {
        match self {
            Self::Db(e) => crate::db::transient(e),
            _ => None,
        }
    }
}

type Result<T, E = StaffError> = std::result::Result<T, E>;

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
}

/// How stale `last_used_at` may get before a request refreshes it (saves a write per call).
const LAST_USED_GRANULARITY: Duration = Duration::seconds(60);

/// Resolves a bearer token: the bootstrap admin token (given by its hash), or a stored one.
pub async fn authenticate(
    db: &DatabaseConnection,
    admin_token_hash: Option<&str>,
    token: &str,
) -> Result<Staff> {
    authenticate_hash(db, admin_token_hash, &secrets::hash(token)).await
}

/// Resolves the hash of a bearer token (what a dashboard session keeps of it).
async fn authenticate_hash(
    db: &DatabaseConnection,
    admin_token_hash: Option<&str>,
    hash: &str,
) -> Result<Staff> {
    let hash = hash.to_string();
    if let Some(admin) = admin_token_hash
        && secrets::hashes_equal(admin, &hash)
    {
        return Ok(Staff {
            token_id: None,
            name: Role::Admin.to_string(),
            role: Role::Admin,
        });
    }
    let row = staff_token::Entity::find()
        .filter(staff_token::Column::TokenHash.eq(hash.clone()))
        .one(db)
        .await?
        .filter(|t| t.revoked_at.is_none() && secrets::hashes_equal(&t.token_hash, &hash))
        .ok_or(StaffError::UnknownToken)?;
    let role = row.role;
    let now = Utc::now();
    if row
        .last_used_at
        .is_none_or(|t| now - t > LAST_USED_GRANULARITY)
    {
        staff_token::Entity::update_many()
            .col_expr(staff_token::Column::LastUsedAt, Expr::value(now))
            .filter(staff_token::Column::Id.eq(row.id))
            .exec(db)
            .await?;
    }
    Ok(Staff {
        token_id: Some(row.id),
        name: row.name,
        role,
    })
}

/// Creates a token; the returned secret is the only time it is visible.
pub async fn create(
    db: &DatabaseConnection,
    name: &str,
    role: Role,
) -> anyhow::Result<(staff_token::Model, String)> {
    let name = crate::domain::text::required("name", name, 100)?;
    let secret = secrets::generate(secrets::STAFF_TOKEN_PREFIX);
    let row = staff_token::ActiveModel {
        name: Set(name),
        role: Set(role),
        prefix: Set(secret.prefix.clone()),
        token_hash: Set(secret.hash.clone()),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let row = crate::db::retry(|| row.clone().insert(db)).await?;
    Ok((row, secret.value))
}

/// Staff tokens, oldest first, after the token id `after`; `limit + 1` rows.
pub async fn list(
    db: &DatabaseConnection,
    limit: u64,
    after: Option<i64>,
) -> Result<Vec<staff_token::Model>> {
    let mut q = staff_token::Entity::find();
    if let Some(a) = after {
        q = q.filter(staff_token::Column::Id.gt(a));
    }
    Ok(q.order_by_asc(staff_token::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?)
}

/// Revokes a token; revoking twice is harmless.
pub async fn revoke(db: &DatabaseConnection, id: i64) -> Result<staff_token::Model> {
    let row = staff_token::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StaffError::NotFound)?;
    if row.revoked_at.is_some() {
        return Ok(row);
    }
    let mut active: staff_token::ActiveModel = row.into();
    active.revoked_at = Set(Some(Utc::now()));
    Ok(crate::db::retry(|| active.clone().update(db)).await?)
}

// ---------------------------------------------------------------------------------------------
// Dashboard sessions

/// A session just opened: the cookie value (shown once) and the CSRF token its forms carry.
pub struct NewSession {
    pub cookie: String,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// A signed-in staff member and the CSRF token of the session.
#[derive(Clone, Debug)]
pub struct Session {
    pub staff: Staff,
    pub csrf: String,
}

/// Opens a session for a staff token valid now; the session lasts `ttl`. Expired sessions
/// are removed on the way.
pub async fn sign_in(
    db: &DatabaseConnection,
    admin_token_hash: Option<&str>,
    token: &str,
    ttl: Duration,
) -> Result<(Staff, NewSession)> {
    let token_hash = secrets::hash(token);
    let staff = authenticate_hash(db, admin_token_hash, &token_hash).await?;
    let now = Utc::now();
    staff_session::Entity::delete_many()
        .filter(staff_session::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    let cookie = secrets::generate(secrets::SESSION_PREFIX);
    let csrf = secrets::generate(secrets::CSRF_PREFIX).value;
    let row = staff_session::ActiveModel {
        session_hash: Set(cookie.hash),
        token_hash: Set(token_hash),
        csrf: Set(csrf.clone()),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        ..Default::default()
    };
    crate::db::retry(|| row.clone().insert(db)).await?;
    Ok((
        staff,
        NewSession {
            cookie: cookie.value,
            csrf,
            expires_at: now + ttl,
        },
    ))
}

/// The session a cookie value names, if it has not expired and its token is still valid.
pub async fn session(
    db: &DatabaseConnection,
    admin_token_hash: Option<&str>,
    cookie: &str,
) -> Result<Option<Session>> {
    let hash = secrets::hash(cookie);
    let Some(row) = staff_session::Entity::find()
        .filter(staff_session::Column::SessionHash.eq(hash.clone()))
        .filter(staff_session::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?
        .filter(|r| secrets::hashes_equal(&r.session_hash, &hash))
    else {
        return Ok(None);
    };
    match authenticate_hash(db, admin_token_hash, &row.token_hash).await {
        Ok(staff) => Ok(Some(Session {
            staff,
            csrf: row.csrf,
        })),
        Err(StaffError::UnknownToken) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Ends the session a cookie value names (nothing happens for an unknown one).
pub async fn sign_out(db: &DatabaseConnection, cookie: &str) -> Result<()> {
    staff_session::Entity::delete_many()
        .filter(staff_session::Column::SessionHash.eq(secrets::hash(cookie)))
        .exec(db)
        .await?;
    Ok(())
}
