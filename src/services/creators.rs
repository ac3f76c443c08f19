//! Creators (达人): registered by staff in batches (upsert by the marketplace's creator account
//! id), listed and searched; a creator key, issued by an admin, reads only its own creator.

use std::collections::HashSet;

use chrono::Utc;
use entity::{creator, creator_key};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, LikeExpr, OnConflict},
};

use super::Upserted as Outcome;
use crate::{
    db,
    domain::{FieldError, gmv::id_field, text},
    secrets,
};

/// Most creators per registration batch.
pub const MAX_BATCH: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum CreatorsError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("creator not found")]
    NotFound,
    #[error("unknown or revoked creator key")]
    UnknownKey,
    #[error("at most {MAX_BATCH} creators per batch")]
    BatchTooLarge,
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl db::MaybeTransient for CreatorsError {
    fn transient(&self) -> Option<db::Transient> {
        match self {
            Self::Db(e) => db::transient(e),
            _ => None,
        }
    }
}

type Result<T, E = CreatorsError> = std::result::Result<T, E>;

/// One creator as sent.
#[derive(Clone, Debug)]
pub struct CreatorInput {
    pub id: String,
    pub nickname: String,
    pub category: Option<String>,
    pub contact_email: Option<String>,
}

/// Checks one item; `prefix` is its path (`creators.3`).
fn parse(i: CreatorInput, prefix: &str) -> Result<CreatorInput, FieldError> {
    let f = |n: &str| format!("{prefix}.{n}");
    Ok(CreatorInput {
        id: id_field(i.id, "creator_id", &f("id"))?,
        nickname: text::required(&f("nickname"), &i.nickname, 100)?,
        category: text::optional(&f("category"), i.category.as_deref(), 100)?,
        contact_email: match i.contact_email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(e) => Some(text::email(&f("contact_email"), e)?),
        },
    })
}

/// Registers or updates each valid creator; per-item outcomes in the order sent. A batch with
/// the same id twice keeps the last.
pub async fn upsert(db: &DatabaseConnection, items: Vec<CreatorInput>) -> Result<Vec<Outcome>> {
    if items.len() > MAX_BATCH {
        return Err(CreatorsError::BatchTooLarge);
    }
    if items.is_empty() {
        return Err(FieldError::new(
            "creators",
            crate::domain::ErrorCode::Required,
            "send at least one creator",
        )
        .into());
    }
    let parsed: Vec<Result<CreatorInput, FieldError>> = items
        .into_iter()
        .enumerate()
        .map(|(n, i)| parse(i, &format!("creators.{n}")))
        .collect();
    db::retry(|| write(db, &parsed)).await
}

async fn write(
    db: &DatabaseConnection,
    parsed: &[Result<CreatorInput, FieldError>],
) -> Result<Vec<Outcome>> {
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let ids: Vec<&str> = parsed.iter().flatten().map(|c| c.id.as_str()).collect();
    let mut existing: HashSet<String> = HashSet::new();
    for chunk in ids.chunks(500) {
        let found: Vec<String> = creator::Entity::find()
            .select_only()
            .column(creator::Column::Id)
            .filter(creator::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(&txn)
            .await?;
        existing.extend(found);
    }
    let mut out = Vec::with_capacity(parsed.len());
    for item in parsed {
        match item {
            Err(e) => out.push(Outcome::Rejected(e.clone())),
            Ok(c) => {
                let row = creator::ActiveModel {
                    id: Set(c.id.clone()),
                    nickname: Set(c.nickname.clone()),
                    category: Set(c.category.clone()),
                    contact_email: Set(c.contact_email.clone()),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                creator::Entity::insert(row)
                    .on_conflict(
                        OnConflict::column(creator::Column::Id)
                            .update_columns([
                                creator::Column::Nickname,
                                creator::Column::Category,
                                creator::Column::ContactEmail,
                                creator::Column::UpdatedAt,
                            ])
                            .to_owned(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
                out.push(if existing.insert(c.id.clone()) {
                    Outcome::Created
                } else {
                    Outcome::Updated
                });
            }
        }
    }
    txn.commit().await?;
    Ok(out)
}

/// Creators in id order after the cursor id, whose id or nickname contains `q`; `limit + 1`
/// rows are fetched.
pub async fn list(
    db: &DatabaseConnection,
    q: Option<&str>,
    limit: u64,
    after: Option<String>,
) -> Result<Vec<creator::Model>> {
    let mut query = creator::Entity::find();
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        // `q` is matched literally: LIKE's wildcards in it are escaped.
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let like = || LikeExpr::new(format!("%{escaped}%")).escape('\\');
        query = query.filter(
            Condition::any()
                .add(Expr::col(creator::Column::Id).like(like()))
                .add(Expr::col(creator::Column::Nickname).like(like())),
        );
    }
    if let Some(a) = after {
        query = query.filter(creator::Column::Id.gt(a));
    }
    Ok(query
        .order_by_asc(creator::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?)
}

pub async fn get(db: &DatabaseConnection, id: &str) -> Result<creator::Model> {
    creator::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or(CreatorsError::NotFound)
}

/// The creator's current progress: the latest evaluated period of each programme.
pub async fn progress(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Vec<crate::services::reports::leaderboard::NamedProgress>> {
    get(db, id).await?;
    Ok(crate::services::reports::leaderboard::creator_progress(db, id).await?)
}

/// A new creator key (shown once) for a registered creator.
pub async fn create_key(
    db: &DatabaseConnection,
    creator_id: &str,
) -> Result<(creator_key::Model, String)> {
    get(db, creator_id).await?;
    let secret = secrets::generate(secrets::CREATOR_KEY_PREFIX);
    let row = creator_key::ActiveModel {
        creator_id: Set(creator_id.to_string()),
        prefix: Set(secret.prefix),
        hash: Set(secret.hash),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
        ..Default::default()
    };
    let row = db::retry(|| row.clone().insert(db)).await?;
    Ok((row, secret.value))
}

/// The creator a key belongs to.
pub async fn authenticate(db: &DatabaseConnection, key: &str) -> Result<String> {
    if !key.starts_with(secrets::CREATOR_KEY_PREFIX) {
        return Err(CreatorsError::UnknownKey);
    }
    let hash = secrets::hash(key);
    creator_key::Entity::find()
        .filter(creator_key::Column::Hash.eq(hash.clone()))
        .one(db)
        .await?
        .filter(|k| k.revoked_at.is_none() && secrets::hashes_equal(&k.hash, &hash))
        .map(|k| k.creator_id)
        .ok_or(CreatorsError::UnknownKey)
}
