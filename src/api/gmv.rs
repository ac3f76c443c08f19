use crate::error_code::ErrorCode;
use crate::{api::codes, error::ApiResult};

use crate::api::types::{Day, JsonErrorKind, Opt, Parsed, documented_as, from_json};
use chrono::{DateTime, FixedOffset, Utc};
use poem::web::Data;
use poem_openapi::{
    Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::{ParseFromJSON, ParseResult, ToJSON},
};
use serde_json::{Value, json};

use super::{merchants::visible, tags::ApiTags};
use crate::{
    auth::AnyAuth,
    auth::RequireRole,
    domain::{
        FieldError,
        gmv::{self as domain, Channel, Granularity},
        merchant::MerchantStatus,
    },
    error::{ApiError, AppError},
    pagination,
    services::{
        gmv::{self as service, GroupBy, ItemStatus, MAX_BATCH, RecordFilter},
        merchants,
    },
    state::AppState,
};

pub struct GmvApi;

/// One GMV record as a merchant (or the order pipeline) reports it.
#[derive(Object, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct GmvRecordInput {
    /// The reporter's own id of the sale or refund, 1–128 printable characters, unique per
    /// merchant: sending it again with the same body is a harmless `duplicate`.
    #[oai(validator(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    ))]
    pub external_id: String,
    /// When the sale happened: RFC 3339 with an offset, at most 5 minutes in the future. It
    /// may be back-dated; it counts on its local day in Asia/Shanghai.
    #[serde(deserialize_with = "rfc3339")]
    pub occurred_at: DateTime<FixedOffset>,
    /// Integer fen, not zero, |amount| ≤ 10¹³. Negative for a refund or correction.
    #[oai(validator(minimum(value = "-10000000000000"), maximum(value = "10000000000000")))]
    pub amount: i64,
    pub currency: Currency,
    pub channel: Channel,
    /// The product (SKU/SPU) sold, 1–128 printable characters.
    #[oai(validator(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    ))]
    #[serde(default)]
    pub product_id: Opt<String>,
    /// The creator (达人) who sold it, 1–128 printable characters.
    #[oai(validator(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    ))]
    #[serde(default)]
    pub creator_id: Opt<String>,
    /// Negative amounts only: the `external_id` of the earlier record this refund or
    /// correction belongs to (stored before, or earlier in the same batch).
    #[oai(validator(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    ))]
    #[serde(default)]
    pub corrects: Opt<String>,
}

/// The currency of a record.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub enum Currency {
    /// Renminbi; amounts are in fen.
    #[allow(clippy::upper_case_acronyms)]
    CNY,
}

/// An RFC 3339 instant with an offset, strictly (`T` separator, seconds, an offset).
fn rfc3339<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<FixedOffset>, D::Error> {
    let s = <String as serde::Deserialize>::deserialize(d)?;
    DateTime::parse_from_rfc3339(&s).map_err(|_| {
        serde::de::Error::custom(
            "occurred_at must be an RFC 3339 instant with an offset, e.g. 2026-03-01T20:15:00+08:00",
        )
    })
}

impl From<GmvRecordInput> for domain::RecordInput {
    fn from(r: GmvRecordInput) -> Self {
        Self {
            external_id: r.external_id,
            occurred_at: r.occurred_at,
            amount: r.amount,
            channel: r.channel,
            product_id: r.product_id.into(),
            creator_id: r.creator_id.into(),
            corrects: r.corrects.into(),
        }
    }
}

impl poem_openapi::types::Example for GmvRecordInput {
    fn example() -> Self {
        Self {
            external_id: "order-20260301-000123".into(),
            occurred_at: DateTime::parse_from_rfc3339("2026-03-01T20:15:00+08:00")
                .expect("valid example"),
            amount: 12_900,
            currency: Currency::CNY,
            channel: Channel::LiveStream,
            product_id: Opt::some("sku-88021".into()),
            creator_id: Opt::some("creator-li".into()),
            corrects: Opt::none(),
        }
    }
}

/// An item of a batch, kept as sent so that each one is read on its own: a wrong type
/// rejects that item (with its field named) instead of the whole request. Documented as
/// [`GmvRecordInput`], and read as one by [`RawRecord::read`].
pub struct RawRecord(pub Value);

impl RawRecord {
    /// The item read as a [`GmvRecordInput`], with the `external_id` it was sent with (to echo
    /// in the result). A value that is not of its documented type is named with its code;
    /// `null` is kept apart: it refuses the whole request.
    pub fn read(self, index: usize) -> Result<domain::Submitted, FieldError> {
        let prefix = format!("records.{index}");
        let external_id = match &self.0 {
            Value::Object(o) => o.get("external_id").and_then(Value::as_str),
            _ => None,
        }
        .unwrap_or_default()
        .to_string();
        let input = match from_json::<GmvRecordInput>(self.0, &prefix) {
            Ok(r) => Ok(r.into()),
            Err(e) if e.kind == JsonErrorKind::Null => return Err(e.into_field_error()),
            Err(e) => {
                let name = e
                    .field
                    .strip_prefix(&prefix)
                    .and_then(|f| f.strip_prefix('.'))
                    .unwrap_or_default();
                let code = match e.kind {
                    JsonErrorKind::Missing => ErrorCode::Required,
                    _ => domain::invalid_code(name),
                };
                let message = match code {
                    ErrorCode::RecordInvalid => "each record must be a JSON object".to_string(),
                    _ => e.message,
                };
                Err(FieldError::new(e.field, code, message))
            }
        };
        Ok(domain::Submitted { external_id, input })
    }
}

impl<'de> serde::Deserialize<'de> for RawRecord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(RawRecord)
    }
}

documented_as!([] RawRecord => GmvRecordInput);

impl ParseFromJSON for RawRecord {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(Self(value.unwrap_or_default()))
    }
}

impl ToJSON for RawRecord {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone())
    }
}

/// A batch of GMV records.
#[derive(Object, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct GmvBatch {
    /// Admins only (required for them): the merchant the records belong to. A merchant key
    /// may leave it out or name itself.
    #[serde(default)]
    pub merchant_id: Opt<i64>,
    /// Up to 1,000 records; more is 413.
    pub records: Vec<RawRecord>,
}

impl poem_openapi::types::Example for GmvBatch {
    fn example() -> Self {
        let sale = GmvRecordInput::example();
        let refund = json!({
            "external_id": "refund-20260302-000007",
            "occurred_at": "2026-03-02T09:30:00+08:00",
            "amount": -12_900,
            "currency": "CNY",
            "channel": Channel::LiveStream,
            "product_id": "sku-88021",
            "creator_id": "creator-li",
            "corrects": "order-20260301-000123",
        });
        Self {
            merchant_id: Opt::none(),
            records: vec![
                RawRecord(sale.to_json().unwrap_or_default()),
                RawRecord(refund),
            ],
        }
    }
}

/// What happened to one record.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Stored now.
    Created,
    /// Stored before with the same body; nothing written.
    Duplicate,
    /// Not stored; `error` says why.
    Rejected,
}

/// The result for one record, in request order.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GmvItemResult {
    /// As sent (empty when the item had no string `external_id`).
    pub external_id: String,
    pub status: RecordStatus,
    /// Only for `rejected`: the error body, `field` naming `records.<index>.<field>`.
    /// `external_id_conflict` means the id was used before with a different body.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<ApiError>,
}

/// Counts and per-record results of a batch.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GmvIngestResult {
    /// Records stored by this batch.
    pub created: u64,
    /// Records already stored with the same body (ignored).
    pub duplicates: u64,
    /// Records refused; see their `error` in `results`.
    pub rejected: u64,
    /// One result per record, in the order sent.
    pub results: Vec<GmvItemResult>,
}

/// A stored GMV record.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GmvRecord {
    /// Record id.
    pub id: i64,
    /// The merchant that reported it.
    pub merchant_id: i64,
    /// The merchant's own id of the sale.
    pub external_id: String,
    /// The instant, in UTC.
    pub occurred_at: DateTime<Utc>,
    /// The Asia/Shanghai calendar day it counts on.
    pub local_day: Day,
    /// Fen; negative for refunds and corrections.
    pub amount: i64,
    /// ISO 4217 code; always `CNY`.
    pub currency: String,
    pub channel: Channel,
    /// The product (SKU/SPU) sold, if reported.
    pub product_id: Option<String>,
    /// The creator (达人) who sold it, if reported.
    pub creator_id: Option<String>,
    /// For a refund or correction: the `external_id` of the record it belongs to.
    pub corrects: Option<String>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

impl From<entity::gmv_record::Model> for GmvRecord {
    fn from(r: entity::gmv_record::Model) -> Self {
        Self {
            id: r.id,
            merchant_id: r.merchant_id,
            external_id: r.external_id,
            occurred_at: r.occurred_at,
            local_day: r.local_day.into(),
            amount: r.amount,
            currency: r.currency,
            channel: r.channel,
            product_id: r.product_id,
            creator_id: r.creator_id,
            corrects: r.corrects,
            created_at: r.created_at,
        }
    }
}

/// A page of GMV records.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GmvRecordPage {
    /// The records of this page.
    pub items: Vec<GmvRecord>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// What a summary is split by, besides the period.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum SummaryGroupBy {
    /// By sales channel.
    Channel,
    /// By `product_id` (records without one are not in product buckets).
    Product,
    /// By `creator_id` (records without one are not in creator buckets).
    Creator,
}

/// One period (and group) of a summary.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GmvBucket {
    /// First local day of the period: the day, the Monday of the week, or the 1st of the month
    /// (it may lie before `from`; only days in the range are counted).
    pub period_start: Day,
    /// The channel, product or creator; null without `group_by`.
    pub group: Option<String>,
    /// Net fen.
    pub amount: i64,
    /// Number of records (sales and refunds).
    pub records: i64,
}

/// A merchant's GMV over a range of local days.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GmvSummary {
    /// Net fen over the range (over all buckets).
    pub total: i64,
    /// Records over the range.
    pub records: i64,
    /// Ordered by period, then group.
    pub buckets: Vec<GmvBucket>,
}

/// Longest summary range, in days.
const MAX_SUMMARY_DAYS: i64 = 1_100;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Gmv")]
impl GmvApi {
    /// Report GMV records
    ///
    /// Up to 1,000 records per request (more is 413). An approved merchant reports for itself
    /// (`merchant_id` left out or its own; another merchant's id is 404); an admin must name
    /// `merchant_id` (unknown 404, not approved 403 `merchant_not_approved`). Each record is
    /// checked on its own and answered in request order: `created`, `duplicate` (same
    /// `external_id` and body as before — nothing written), or `rejected` with the error body
    /// (`external_id_conflict` for a reused id with a different body, `corrects_unknown` for a
    /// correction of an unknown record). Valid records are stored even when others are
    /// rejected; records, daily roll-ups and the merchant's `last_gmv_at` are written in one
    /// transaction. Within a batch the first use of an `external_id` wins.
    #[oai(
        path = "/gmv/records",
        method = "post",
        operation_id = "gmv_records_create"
    )]
    async fn create(
        &self,
        auth: AnyAuth,
        state: Data<&AppState>,
        body: Json<Parsed<GmvBatch>>,
    ) -> ApiResult<Json<GmvIngestResult>, codes::GmvRecordsCreate> {
        let batch = body.0.into_inner()?;
        let batch_merchant: Option<i64> = batch.merchant_id.into();
        let merchant_id = match &auth {
            AnyAuth::Merchant(m) => {
                let caller = &m.0;
                if batch_merchant.is_some_and(|id| id != caller.merchant_id) {
                    return Err(AppError::not_found("merchant").into());
                }
                if caller.status != MerchantStatus::Approved {
                    return Err(service::GmvError::NotApproved(caller.status).into());
                }
                caller.merchant_id
            }
            AnyAuth::Staff(s) => {
                s.0.require_admin()?;
                batch_merchant.ok_or_else(|| {
                    AppError::invalid(
                        ErrorCode::Required,
                        "merchant_id",
                        "staff must name the merchant_id the records belong to",
                    )
                })?
            }
        };
        if batch.records.len() > MAX_BATCH {
            return Err(AppError::new(
                ErrorCode::BatchTooLarge,
                format!(
                    "at most {MAX_BATCH} records per request; this one has {}",
                    batch.records.len()
                ),
            )
            .with_field("records")
            .into());
        }
        let items = batch
            .records
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.read(i))
            .collect::<Result<Vec<_>, FieldError>>()?;
        let out = service::ingest(&state.db, merchant_id, items, Utc::now()).await?;
        Ok(Json(GmvIngestResult {
            created: out.created,
            duplicates: out.duplicates,
            rejected: out.rejected,
            results: out
                .results
                .into_iter()
                .map(|r| {
                    let (status, error) = match r.status {
                        ItemStatus::Created => (RecordStatus::Created, None),
                        ItemStatus::Duplicate => (RecordStatus::Duplicate, None),
                        ItemStatus::Rejected(e) => (
                            RecordStatus::Rejected,
                            Some(ApiError {
                                code: e.code.as_str().to_string(),
                                message: e.message,
                                field: Some(e.field),
                            }),
                        ),
                    };
                    state.metrics.observe_gmv_item(
                        status
                            .to_json()
                            .and_then(|v| v.as_str().map(str::to_string)),
                        error.as_ref().map(|e| e.code.clone()),
                    );
                    GmvItemResult {
                        external_id: r.external_id,
                        status,
                        error,
                    }
                })
                .collect(),
        }))
    }

    /// List GMV records
    ///
    /// A merchant sees its own records; staff see all, optionally of one `merchant_id`.
    /// `from`/`to` are RFC 3339 instants bounding `occurred_at` as the half-open range
    /// [from, to). Filter by `channel`, `product_id`, `creator_id`. Ordered by id (arrival).
    #[oai(
        path = "/gmv/records",
        method = "get",
        operation_id = "gmv_records_list"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: AnyAuth,
        state: Data<&AppState>,
        /// Staff only: only this merchant's records.
        merchant_id: Query<Option<i64>>,
        /// RFC 3339 instant; only records with `occurred_at` at or after it.
        from: Query<Option<DateTime<FixedOffset>>>,
        /// RFC 3339 instant; only records with `occurred_at` before it.
        to: Query<Option<DateTime<FixedOffset>>>,
        /// Only records of this channel.
        channel: Query<Option<Channel>>,
        /// Only records of this product.
        product_id: Query<Option<String>>,
        /// Only records of this creator.
        creator_id: Query<Option<String>>,
        /// Page size, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page; omit for the first page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<GmvRecordPage>, codes::GmvRecordsList> {
        let merchant_id = match &auth {
            AnyAuth::Staff(_) => merchant_id.0,
            AnyAuth::Merchant(m) => {
                if merchant_id.0.is_some_and(|id| id != m.0.merchant_id) {
                    return Err(AppError::not_found("merchant").into());
                }
                Some(m.0.merchant_id)
            }
        };
        let limit = pagination::limit(limit.0)?;
        let after = pagination::decode_id(cursor.0.as_deref())?;
        let (rows, next_cursor) = service::list(
            &state.db,
            RecordFilter {
                merchant_id,
                from: from.0.map(|t| t.with_timezone(&Utc)),
                to: to.0.map(|t| t.with_timezone(&Utc)),
                channel: channel.0,
                product_id: product_id.0,
                creator_id: creator_id.0,
            },
            limit,
            after,
        )
        .await?;
        Ok(Json(GmvRecordPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// A merchant's GMV summary
    ///
    /// Staff, or the merchant itself (others 404). `from` and `to` are local dates in
    /// Asia/Shanghai (`YYYY-MM-DD`), both **inclusive**; the default is the last 30 days
    /// ending today, and a range may span at most 1,100 days. `granularity` is `day`
    /// (default), `week` (Monday to Sunday) or `month`; `group_by` splits each period by
    /// `channel`, `product` or `creator` (`group` is null without it). Answered from the daily
    /// roll-ups, so a record counts on the local day of its `occurred_at` (16:00Z is midnight
    /// in Shanghai).
    #[oai(
        path = "/merchants/:id/gmv/summary",
        method = "get",
        operation_id = "gmv_summary"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn summary(
        &self,
        auth: AnyAuth,
        state: Data<&AppState>,
        /// The merchant's id.
        id: Path<i64>,
        /// First local day (`YYYY-MM-DD`, Asia/Shanghai), inclusive. Without `from` and `to`: the
        /// last 30 days ending today.
        from: Query<Option<Day>>,
        /// Last local day (`YYYY-MM-DD`, Asia/Shanghai), inclusive.
        to: Query<Option<Day>>,
        /// Length of each period: `day` (default), `week` or `month`.
        granularity: Query<Option<Granularity>>,
        /// Split each period by channel, product or creator.
        group_by: Query<Option<SummaryGroupBy>>,
    ) -> ApiResult<Json<GmvSummary>, codes::GmvSummary> {
        visible(&auth, id.0)?;
        merchants::get(&state.db, id.0).await?;
        let (from, to) = crate::domain::period::span_or_30_days(
            from.0.map(|d| d.0),
            to.0.map(|d| d.0),
            domain::today(),
        );
        crate::domain::period::check_span(from, to, MAX_SUMMARY_DAYS)?;
        let group_by = group_by.0.map(|g| match g {
            SummaryGroupBy::Channel => GroupBy::Channel,
            SummaryGroupBy::Product => GroupBy::Product,
            SummaryGroupBy::Creator => GroupBy::Creator,
        });
        let s = service::summary(
            &state.db,
            id.0,
            from,
            to,
            granularity.0.unwrap_or(Granularity::Day),
            group_by,
        )
        .await?;
        Ok(Json(GmvSummary {
            total: s.total,
            records: s.records,
            buckets: s
                .buckets
                .into_iter()
                .map(|b| GmvBucket {
                    period_start: b.period_start.into(),
                    group: b.group,
                    amount: b.amount,
                    records: b.records,
                })
                .collect(),
        }))
    }
}
