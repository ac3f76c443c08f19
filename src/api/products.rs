//! A merchant's product catalogue: the merchant upserts it in batches; the merchant and staff
//! read it. Names from it appear wherever a product subject is shown.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{merchants::visible, tags::ApiTags};
use crate::{
    api::{
        codes,
        types::{Opt, Parsed, Text, UpsertStatus, tally},
    },
    auth::{AnyAuth, MerchantAuth},
    error::{ApiError, ApiResult, AppError},
    error_code::ErrorCode,
    pagination,
    services::products::{self, ProductInput},
    state::AppState,
};

pub struct ProductsApi;

/// A product as sent.
#[derive(Object, serde::Deserialize)]
pub struct NewProduct {
    /// The merchant's own product id, as its GMV records name it; 1–128 printable characters.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub product_id: Text,
    /// The name shown in leaderboards, reports and emails.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: Text,
    /// Up to 100 characters, e.g. 女装.
    #[oai(validator(max_length = 100))]
    #[serde(default)]
    pub category: Opt<Text>,
}

impl NewProduct {
    /// The lengths the document states refuse the whole request, like any schema violation;
    /// the rest (a blank name, control characters) reject only the item.
    fn check_shape(&self, n: usize) -> Result<(), AppError> {
        let len = |s: &str| s.chars().count();
        let bad = |field: &str, code: ErrorCode, why: &str| {
            Err(AppError::invalid(
                code,
                &format!("products.{n}.{field}"),
                why.to_string(),
            ))
        };
        if !(1..=128).contains(&len(&self.product_id)) {
            return bad(
                "product_id",
                ErrorCode::ProductIdInvalid,
                "product_id must be 1–128 characters",
            );
        }
        if len(&self.name) == 0 {
            return bad("name", ErrorCode::Required, "name must not be empty");
        }
        if len(&self.name) > 200 {
            return bad(
                "name",
                ErrorCode::TooLong,
                "name is longer than 200 characters",
            );
        }
        if self.category.0.as_deref().is_some_and(|c| len(c) > 100) {
            return bad(
                "category",
                ErrorCode::TooLong,
                "category is longer than 100 characters",
            );
        }
        Ok(())
    }
}

/// Up to 1,000 products, registered or updated by product id.
#[derive(Object, serde::Deserialize)]
#[oai(example)]
pub struct ProductBatch {
    /// 1–1,000 products.
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub products: Vec<NewProduct>,
}

impl poem_openapi::types::Example for ProductBatch {
    fn example() -> Self {
        Self {
            products: vec![NewProduct {
                product_id: "sku-10086".into(),
                name: "义乌小商品 收纳盒三件套".into(),
                category: Opt::some("日用百货".into()),
            }],
        }
    }
}

/// The result for one product, in request order.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ProductItemResult {
    /// As sent.
    pub product_id: String,
    pub status: UpsertStatus,
    /// Only for `rejected`: the error body, `field` naming `products.<index>.<field>`.
    pub error: Option<ApiError>,
}

/// Counts and per-product results of a batch.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, example)]
pub struct ProductBatchResult {
    /// Products registered by this batch.
    pub created: i64,
    /// Products updated by this batch.
    pub updated: i64,
    /// Products refused.
    pub rejected: i64,
    /// One result per product, in request order.
    pub results: Vec<ProductItemResult>,
}

impl poem_openapi::types::Example for ProductBatchResult {
    fn example() -> Self {
        Self {
            created: 1,
            updated: 0,
            rejected: 0,
            results: vec![ProductItemResult {
                product_id: "sku-10086".into(),
                status: UpsertStatus::Created,
                error: None,
            }],
        }
    }
}

/// A product of a merchant's catalogue.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Product {
    /// The merchant's own product id.
    pub product_id: String,
    /// The product's name.
    pub name: String,
    /// Category, e.g. 女装.
    pub category: Option<String>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<entity::product::Model> for Product {
    fn from(p: entity::product::Model) -> Self {
        Self {
            product_id: p.product_id,
            name: p.name,
            category: p.category,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A page of products, by product id.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, example)]
pub struct ProductPage {
    /// The products of this page.
    pub items: Vec<Product>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl poem_openapi::types::Example for ProductPage {
    fn example() -> Self {
        let at = "2026-11-20T02:00:00Z".parse().expect("a valid instant");
        Self {
            items: vec![Product {
                product_id: "sku-10086".into(),
                name: "义乌小商品 收纳盒三件套".into(),
                category: Some("日用百货".into()),
                created_at: at,
                updated_at: at,
            }],
            next_cursor: Some(pagination::encode("sku-10086")),
        }
    }
}

async fn page(
    state: &AppState,
    merchant_id: i64,
    limit: Option<i64>,
    cursor: Option<String>,
) -> Result<Json<ProductPage>, AppError> {
    let limit = pagination::limit(limit)?;
    let after = pagination::decode(cursor.as_deref())?;
    let rows = products::list(&state.db, merchant_id, limit, after).await?;
    let (rows, next_cursor) = pagination::page(rows, limit, |p| p.product_id.clone());
    Ok(Json(ProductPage {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Merchants")]
impl ProductsApi {
    /// Register my products
    ///
    /// Up to 1,000 products of the calling merchant, each registered or updated by
    /// `product_id`, with a result per item; an invalid item is rejected and the others are
    /// written. Names appear in leaderboards, reports and emails in place of product ids.
    #[oai(
        path = "/me/products",
        method = "post",
        operation_id = "me_products_upsert"
    )]
    async fn upsert(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        body: Json<Parsed<ProductBatch>>,
    ) -> ApiResult<Json<ProductBatchResult>, codes::MeProductsUpsert> {
        let batch = body.0.into_inner()?;
        for (n, p) in batch.products.iter().enumerate() {
            p.check_shape(n)?;
        }
        let ids: Vec<String> = batch
            .products
            .iter()
            .map(|p| p.product_id.0.clone())
            .collect();
        let items = batch
            .products
            .into_iter()
            .map(|p| ProductInput {
                product_id: p.product_id.into(),
                name: p.name.into(),
                category: p.category.0.map(String::from),
            })
            .collect();
        let t = tally(products::upsert(&state.db, auth.0.merchant_id, items).await?);
        Ok(Json(ProductBatchResult {
            created: t.created,
            updated: t.updated,
            rejected: t.rejected,
            results: ids
                .into_iter()
                .zip(t.results)
                .map(|(product_id, (status, error))| ProductItemResult {
                    product_id,
                    status,
                    error,
                })
                .collect(),
        }))
    }

    /// My products
    ///
    /// The calling merchant's catalogue, by product id.
    #[oai(
        path = "/me/products",
        method = "get",
        operation_id = "me_products_list"
    )]
    async fn mine(
        &self,
        auth: MerchantAuth,
        state: Data<&AppState>,
        /// Items per page, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<ProductPage>, codes::MeProductsList> {
        Ok(page(&state, auth.0.merchant_id, limit.0, cursor.0).await?)
    }

    /// A merchant's products
    ///
    /// Staff, or the merchant itself (others are 404): its catalogue, by product id.
    #[oai(
        path = "/merchants/:id/products",
        method = "get",
        operation_id = "merchants_products"
    )]
    async fn of_merchant(
        &self,
        auth: AnyAuth,
        state: Data<&AppState>,
        /// The merchant's id.
        id: Path<i64>,
        /// Items per page, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<ProductPage>, codes::MerchantsProducts> {
        visible(&auth, id.0)?;
        Ok(page(&state, id.0, limit.0, cursor.0).await?)
    }
}
