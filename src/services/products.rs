//! A merchant's product catalogue: products have names, so leaderboards, reports and emails
//! show them instead of the merchant's raw product ids. Upserted in batches by product id.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{merchant, product};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::OnConflict,
};

use super::Upserted;
use crate::{
    db,
    domain::{ErrorCode, FieldError, gmv::id_field, text},
};

/// Most products per batch.
pub const MAX_BATCH: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum ProductsError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("merchant not found")]
    MerchantNotFound,
    #[error("at most {MAX_BATCH} products per batch")]
    BatchTooLarge,
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl db::MaybeTransient for ProductsError {
    fn transient(&self) -> Option<db::Transient> {
        match self {
            Self::Db(e) => db::transient(e),
            _ => None,
        }
    }
}

type Result<T, E = ProductsError> = std::result::Result<T, E>;

/// One product as sent.
#[derive(Clone, Debug)]
pub struct ProductInput {
    pub product_id: String,
    pub name: String,
    pub category: Option<String>,
}

fn parse(i: ProductInput, prefix: &str) -> Result<ProductInput, FieldError> {
    let f = |n: &str| format!("{prefix}.{n}");
    Ok(ProductInput {
        product_id: id_field(i.product_id, "product_id", &f("product_id"))?,
        name: text::required(&f("name"), &i.name, 200)?,
        category: text::optional(&f("category"), i.category.as_deref(), 100)?,
    })
}

/// Registers or updates each valid product of `merchant_id`; per-item outcomes in the order
/// sent. A batch naming the same product twice keeps the last.
pub async fn upsert(
    db: &DatabaseConnection,
    merchant_id: i64,
    items: Vec<ProductInput>,
) -> Result<Vec<Upserted>> {
    if items.len() > MAX_BATCH {
        return Err(ProductsError::BatchTooLarge);
    }
    if items.is_empty() {
        return Err(
            FieldError::new("products", ErrorCode::Required, "send at least one product").into(),
        );
    }
    let parsed: Vec<Result<ProductInput, FieldError>> = items
        .into_iter()
        .enumerate()
        .map(|(n, i)| parse(i, &format!("products.{n}")))
        .collect();
    db::retry(|| write(db, merchant_id, &parsed)).await
}

async fn write(
    db: &DatabaseConnection,
    merchant_id: i64,
    parsed: &[Result<ProductInput, FieldError>],
) -> Result<Vec<Upserted>> {
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let ids: Vec<&str> = parsed
        .iter()
        .flatten()
        .map(|p| p.product_id.as_str())
        .collect();
    let mut existing: HashSet<String> = HashSet::new();
    for chunk in ids.chunks(500) {
        let found: Vec<String> = product::Entity::find()
            .select_only()
            .column(product::Column::ProductId)
            .filter(product::Column::MerchantId.eq(merchant_id))
            .filter(product::Column::ProductId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(&txn)
            .await?;
        existing.extend(found);
    }
    let mut out = Vec::with_capacity(parsed.len());
    for item in parsed {
        match item {
            Err(e) => out.push(Upserted::Rejected(e.clone())),
            Ok(p) => {
                let row = product::ActiveModel {
                    merchant_id: Set(merchant_id),
                    product_id: Set(p.product_id.clone()),
                    name: Set(p.name.clone()),
                    category: Set(p.category.clone()),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                product::Entity::insert(row)
                    .on_conflict(
                        OnConflict::columns([
                            product::Column::MerchantId,
                            product::Column::ProductId,
                        ])
                        .update_columns([
                            product::Column::Name,
                            product::Column::Category,
                            product::Column::UpdatedAt,
                        ])
                        .to_owned(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
                out.push(if existing.insert(p.product_id.clone()) {
                    Upserted::Created
                } else {
                    Upserted::Updated
                });
            }
        }
    }
    txn.commit().await?;
    Ok(out)
}

/// A merchant's products by product id after the cursor id; `limit + 1` rows are fetched.
/// An unknown merchant is not found.
pub async fn list(
    db: &DatabaseConnection,
    merchant_id: i64,
    limit: u64,
    after: Option<String>,
) -> Result<Vec<product::Model>> {
    if merchant::Entity::find_by_id(merchant_id)
        .one(db)
        .await?
        .is_none()
    {
        return Err(ProductsError::MerchantNotFound);
    }
    let mut q = product::Entity::find().filter(product::Column::MerchantId.eq(merchant_id));
    if let Some(a) = after {
        q = q.filter(product::Column::ProductId.gt(a));
    }
    Ok(q.order_by_asc(product::Column::ProductId)
        .limit(limit + 1)
        .all(db)
        .await?)
}

/// The names of these products, keyed by (merchant id, product id); unregistered ones are
/// missing.
pub async fn names<C: ConnectionTrait>(
    db: &C,
    keys: &[(i64, &str)],
) -> Result<HashMap<(i64, String), String>, DbErr> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(300) {
        if chunk.is_empty() {
            continue;
        }
        let mut any = Condition::any();
        for (m, p) in chunk {
            any = any.add(
                Condition::all()
                    .add(product::Column::MerchantId.eq(*m))
                    .add(product::Column::ProductId.eq(*p)),
            );
        }
        let rows: Vec<(i64, String, String)> = product::Entity::find()
            .select_only()
            .column(product::Column::MerchantId)
            .column(product::Column::ProductId)
            .column(product::Column::Name)
            .filter(any)
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows.into_iter().map(|(m, p, n)| ((m, p), n)));
    }
    Ok(out)
}
