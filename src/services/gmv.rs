//! GMV ingestion (idempotent, batched, one transaction per request, roll-ups kept in the same
//! transaction), record listing and roll-up summaries.

use crate::error_code::ErrorCode;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use entity::{gmv_daily_creator, gmv_daily_merchant, gmv_daily_product, gmv_record, merchant};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::{Alias, Expr, ExprTrait, IntoIden, OnConflict, Query, SimpleExpr, Value},
};

use crate::{
    db,
    domain::{
        FieldError,
        gmv::{Channel, GmvRecord, Granularity, Submitted},
        merchant::MerchantStatus,
    },
    pagination,
    services::segments,
};

/// What can go wrong with GMV, in its own words; `src/api` maps each case to a code.
#[derive(Debug, thiserror::Error)]
pub enum GmvError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("merchant not found")]
    MerchantNotFound,
    #[error("only approved merchants may report GMV; this merchant is {}", .0.as_str())]
    NotApproved(MerchantStatus),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl crate::db::MaybeTransient for GmvError {
    fn transient(&self) -> Option<crate::db::Transient> {
        match self {
            Self::Db(e) => crate::db::transient(e),
            _ => None,
        }
    }
}

type Result<T, E = GmvError> = std::result::Result<T, E>;

/// Most records one request may carry.
pub const MAX_BATCH: usize = 1_000;

/// What happened to one item of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemStatus {
    Created,
    Duplicate,
    Rejected(FieldError),
}

#[derive(Debug, Clone)]
pub struct ItemResult {
    pub external_id: String,
    pub status: ItemStatus,
}

/// Per-item results in request order, and the counts.
#[derive(Debug, Clone, Default)]
pub struct IngestOutcome {
    pub created: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub results: Vec<ItemResult>,
}

/// What the plan decided for a valid item before writing.
enum Plan {
    Rejected(FieldError),
    Duplicate,
    New(GmvRecord),
}

type MerchantKey = (NaiveDate, Channel);
type SubjectKey = (String, NaiveDate, Channel);
type Sums = (i64, i64);

/// The three roll-ups of a batch, aggregated in memory by primary key before writing.
#[derive(Default)]
struct Rollups {
    merchant: BTreeMap<MerchantKey, Sums>,
    product: BTreeMap<SubjectKey, Sums>,
    creator: BTreeMap<SubjectKey, Sums>,
}

impl Rollups {
    /// Adds one record, or changes nothing and answers `false` if a sum would overflow.
    fn add(&mut self, r: &GmvRecord) -> bool {
        fn next(map_value: Option<&Sums>, amount: i64) -> Option<Sums> {
            let (a, n) = map_value.copied().unwrap_or((0, 0));
            Some((a.checked_add(amount)?, n.checked_add(1)?))
        }
        let mk = (r.local_day, r.channel);
        let Some(m) = next(self.merchant.get(&mk), r.amount) else {
            return false;
        };
        let pk = r
            .product_id
            .as_ref()
            .map(|p| (p.clone(), r.local_day, r.channel));
        let p = match &pk {
            Some(k) => match next(self.product.get(k), r.amount) {
                Some(v) => Some(v),
                None => return false,
            },
            None => None,
        };
        let ck = r
            .creator_id
            .as_ref()
            .map(|c| (c.clone(), r.local_day, r.channel));
        let c = match &ck {
            Some(k) => match next(self.creator.get(k), r.amount) {
                Some(v) => Some(v),
                None => return false,
            },
            None => None,
        };
        self.merchant.insert(mk, m);
        if let (Some(k), Some(v)) = (pk, p) {
            self.product.insert(k, v);
        }
        if let (Some(k), Some(v)) = (ck, c) {
            self.creator.insert(k, v);
        }
        true
    }
}

/// Records a batch for `merchant_id`: validates each item, skips replays, rejects conflicts and
/// corrections of unknown records, stores the rest and updates the roll-ups and the merchant's
/// `last_gmv_at`, all in one transaction. Errors that concern the whole request (unknown
/// merchant 404, not approved 403) write nothing.
pub async fn ingest(
    db: &DatabaseConnection,
    merchant_id: i64,
    items: Vec<Submitted>,
    now: DateTime<Utc>,
) -> Result<IngestOutcome> {
    let mut external_ids = Vec::with_capacity(items.len());
    let mut parsed: Vec<std::result::Result<GmvRecord, FieldError>> =
        Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        external_ids.push(item.external_id);
        parsed.push(
            item.input
                .and_then(|r| GmvRecord::parse(r, &format!("records.{i}"), now)),
        );
    }
    db::retry(|| write_batch(db, merchant_id, &external_ids, &parsed, now)).await
}

/// The batch's creator ids that are registered (one query, only when the batch names any).
async fn registered_creators(
    txn: &DatabaseTransaction,
    parsed: &[std::result::Result<GmvRecord, FieldError>],
) -> Result<HashSet<String>> {
    let named: HashSet<&str> = parsed
        .iter()
        .flatten()
        .filter_map(|r| r.creator_id.as_deref())
        .collect();
    let mut found = HashSet::new();
    let named: Vec<&str> = named.into_iter().collect();
    for chunk in named.chunks(500) {
        let ids: Vec<String> = entity::creator::Entity::find()
            .select_only()
            .column(entity::creator::Column::Id)
            .filter(entity::creator::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(txn)
            .await?;
        found.extend(ids);
    }
    Ok(found)
}

/// Writes one parsed batch in one transaction: records, roll-ups and `last_gmv_at`.
async fn write_batch(
    db: &DatabaseConnection,
    merchant_id: i64,
    external_ids: &[String],
    parsed: &[std::result::Result<GmvRecord, FieldError>],
    now: DateTime<Utc>,
) -> Result<IngestOutcome> {
    let txn = db::begin_write(db).await?;
    // Taking the merchant's row lock first serialises concurrent batches of one merchant, so the
    // existence check below cannot be overtaken; on SQLite it takes the write lock up front.
    let (status, attrs) = lock_merchant(&txn, merchant_id)
        .await?
        .ok_or(GmvError::MerchantNotFound)?;
    if status != MerchantStatus::Approved {
        return Err(GmvError::NotApproved(status));
    }

    let mut wanted: HashSet<&str> = HashSet::new();
    for r in parsed.iter().flatten() {
        wanted.insert(&r.external_id);
        if let Some(c) = &r.corrects {
            wanted.insert(c);
        }
    }
    let existing = stored_hashes(&txn, merchant_id, wanted.into_iter()).await?;
    let creators = registered_creators(&txn, parsed).await?;

    // Plan every item in request order; `claimed` holds the ids known to exist (stored, or
    // created earlier in this batch) with their body hash.
    let mut claimed: HashMap<String, String> = existing;
    let mut rollups = Rollups::default();
    let mut plans = Vec::with_capacity(parsed.len());
    for (i, p) in parsed.iter().enumerate() {
        let plan = match p {
            Err(e) => Plan::Rejected(e.clone()),
            Ok(r) => match claimed.get(&r.external_id) {
                Some(h) if *h == r.body_hash => Plan::Duplicate,
                Some(_) => Plan::Rejected(conflict(i)),
                None => match &r.corrects {
                    _ if r.creator_id.as_ref().is_some_and(|c| !creators.contains(c)) => {
                        Plan::Rejected(FieldError::new(
                            format!("records.{i}.creator_id"),
                            ErrorCode::CreatorUnknown,
                            "creator_id names no registered creator",
                        ))
                    }
                    Some(c) if !claimed.contains_key(c) => Plan::Rejected(FieldError::new(
                        format!("records.{i}.corrects"),
                        ErrorCode::CorrectsUnknown,
                        "corrects names no record of this merchant",
                    )),
                    _ if !rollups.add(r) => Plan::Rejected(FieldError::new(
                        format!("records.{i}.amount"),
                        ErrorCode::AmountOverflow,
                        "this amount would overflow the batch's daily total",
                    )),
                    _ => {
                        claimed.insert(r.external_id.clone(), r.body_hash.clone());
                        Plan::New(r.clone())
                    }
                },
            },
        };
        plans.push(plan);
    }

    let new: Vec<&GmvRecord> = plans
        .iter()
        .filter_map(|p| match p {
            Plan::New(r) => Some(r),
            _ => None,
        })
        .collect();
    // PostgreSQL writes the records, the roll-ups and `last_gmv_at` in one statement.
    let all_in_one = txn.get_database_backend() == DbBackend::Postgres;
    let inserted = if all_in_one {
        insert_batch_pg(&txn, merchant_id, &attrs, &new, now).await?
    } else {
        insert_records(&txn, merchant_id, &new, now).await?
    };

    // With the merchant lock held every planned insert lands; should one not (a row that
    // appeared without taking the lock), it is answered from the stored row and left out of
    // the roll-ups rather than counted twice.
    let mut lost: HashMap<String, String> = HashMap::new();
    if inserted.len() != new.len() {
        let missing = new
            .iter()
            .filter(|r| !inserted.contains(&r.external_id))
            .map(|r| r.external_id.as_str());
        lost = stored_hashes(&txn, merchant_id, missing).await?;
        rollups = Rollups::default();
        for r in new.iter().filter(|r| inserted.contains(&r.external_id)) {
            rollups.add(r);
        }
    }
    if !all_in_one {
        write_rollups(&txn, merchant_id, &rollups).await?;
        segments::append(
            &txn,
            &attrs,
            rollups
                .merchant
                .iter()
                .map(|((day, channel), (amount, records))| (*day, *channel, *amount, *records)),
        )
        .await?;
    }
    if !all_in_one && !inserted.is_empty() {
        merchant::Entity::update_many()
            .col_expr(merchant::Column::LastGmvAt, Expr::value(now))
            .filter(merchant::Column::Id.eq(merchant_id))
            .filter(
                Condition::any()
                    .add(merchant::Column::LastGmvAt.is_null())
                    .add(merchant::Column::LastGmvAt.lt(now)),
            )
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;

    let mut out = IngestOutcome::default();
    for (i, (plan, raw)) in plans
        .into_iter()
        .zip(external_ids.iter().cloned())
        .enumerate()
    {
        let (external_id, status) = match plan {
            Plan::New(r) if inserted.contains(&r.external_id) => {
                (r.external_id, ItemStatus::Created)
            }
            Plan::New(r) => {
                let status = if lost.get(&r.external_id) == Some(&r.body_hash) {
                    ItemStatus::Duplicate
                } else {
                    ItemStatus::Rejected(conflict(i))
                };
                (r.external_id, status)
            }
            Plan::Duplicate => (raw, ItemStatus::Duplicate),
            Plan::Rejected(e) => (raw, ItemStatus::Rejected(e)),
        };
        match status {
            ItemStatus::Created => out.created += 1,
            ItemStatus::Duplicate => out.duplicates += 1,
            ItemStatus::Rejected(_) => out.rejected += 1,
        }
        out.results.push(ItemResult {
            external_id,
            status,
        });
    }
    Ok(out)
}

fn conflict(i: usize) -> FieldError {
    FieldError::new(
        format!("records.{i}.external_id"),
        ErrorCode::ExternalIdConflict,
        "this external_id was already recorded with a different body",
    )
}

/// Locks the merchant's row for the rest of the transaction and returns its status. PostgreSQL
/// takes a row lock; SQLite has no row locks, so a no-op write takes the database write lock
/// now (like `BEGIN IMMEDIATE`) instead of failing to upgrade a read lock later.
async fn lock_merchant(
    txn: &DatabaseTransaction,
    id: i64,
) -> Result<Option<(MerchantStatus, segments::Attributes)>> {
    let backend = txn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT status, kind, industry_belt, province, category FROM merchant \
             WHERE id = $1 FOR UPDATE"
        }
        _ => {
            "UPDATE merchant SET id = id WHERE id = ? \
             RETURNING status, kind, industry_belt, province, category"
        }
    };
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
        .await?;
    Ok(match row {
        Some(r) => Some((
            r.try_get_by_index::<MerchantStatus>(0)?,
            // In the order selected: kind, industry belt, province, category.
            segments::Attributes {
                kind: r.try_get_by_index(1)?,
                industry_belt: r.try_get_by_index(2)?,
                province: r.try_get_by_index(3)?,
                category: r.try_get_by_index(4)?,
            },
        )),
        None => None,
    })
}

/// The body hashes of those of `ids` that this merchant has stored.
async fn stored_hashes<'a>(
    txn: &DatabaseTransaction,
    merchant_id: i64,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, String>> {
    let ids: Vec<&str> = ids.collect();
    let mut out = HashMap::with_capacity(ids.len());
    // PostgreSQL keeps the keys in `gmv_record_key` (one index, whatever the partitions);
    // SQLite in `gmv_record` itself.
    let table = match txn.get_database_backend() {
        DbBackend::Postgres => "gmv_record_key",
        _ => "gmv_record",
    };
    for chunk in ids.chunks(MAX_BATCH * 2) {
        let q = Query::select()
            .columns([Alias::new("external_id"), Alias::new("body_hash")])
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new("merchant_id")).eq(merchant_id))
            .and_where(Expr::col(Alias::new("external_id")).is_in(chunk.iter().copied()))
            .to_owned();
        for row in txn.query_all(&q).await? {
            out.insert(
                row.try_get::<String>("", "external_id")?,
                row.try_get::<String>("", "body_hash")?,
            );
        }
    }
    Ok(out)
}

/// How many rows of `columns` values fit in one statement under the backend's bind-parameter
/// limit (PostgreSQL 65,535; SQLite 32,766).
fn rows_per_statement(backend: DbBackend, columns: usize) -> usize {
    let limit = match backend {
        DbBackend::Postgres => 65_535,
        _ => 32_766,
    };
    (limit / columns).max(1)
}

/// Multi-row `INSERT … ON CONFLICT (merchant_id, external_id) DO NOTHING RETURNING external_id`:
/// the ids this transaction actually stored.
async fn insert_records(
    txn: &DatabaseTransaction,
    merchant_id: i64,
    records: &[&GmvRecord],
    now: DateTime<Utc>,
) -> Result<HashSet<String>> {
    use gmv_record::Column as C;
    let columns = [
        C::MerchantId,
        C::ExternalId,
        C::OccurredAt,
        C::LocalDay,
        C::Amount,
        C::Currency,
        C::Channel,
        C::ProductId,
        C::CreatorId,
        C::Corrects,
        C::BodyHash,
        C::CreatedAt,
    ];
    let backend = txn.get_database_backend();
    let mut inserted = HashSet::with_capacity(records.len());
    for chunk in records.chunks(rows_per_statement(backend, columns.len())) {
        let mut q = Query::insert();
        q.into_table(gmv_record::Entity)
            .columns(columns)
            .on_conflict(
                OnConflict::columns([C::MerchantId, C::ExternalId])
                    .do_nothing()
                    .to_owned(),
            )
            .returning_col(C::ExternalId);
        for r in chunk {
            q.values_panic([
                merchant_id.into(),
                r.external_id.as_str().into(),
                r.occurred_at.into(),
                r.local_day.into(),
                r.amount.into(),
                crate::domain::gmv::CURRENCY.into(),
                r.channel.into(),
                r.product_id.clone().into(),
                r.creator_id.clone().into(),
                r.corrects.clone().into(),
                r.body_hash.as_str().into(),
                now.into(),
            ]);
        }
        for row in txn.query_all(&q).await? {
            inserted.insert(row.try_get::<String>("", "external_id")?);
        }
    }
    Ok(inserted)
}

/// PostgreSQL: the whole batch in one statement. The records arrive as one `jsonb` parameter,
/// expanded by `jsonb_to_recordset` (four parameters instead of twelve per record), and are
/// inserted with `ON CONFLICT DO NOTHING RETURNING`; what was inserted is added to the merchant,
/// product and creator roll-ups and to the kept GMV structure (`segments`), and moves
/// `last_gmv_at`, in the same statement.
async fn insert_batch_pg(
    txn: &DatabaseTransaction,
    merchant_id: i64,
    attrs: &segments::Attributes,
    records: &[&GmvRecord],
    now: DateTime<Utc>,
) -> Result<HashSet<String>> {
    if records.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            serde_json::json!({
                "external_id": r.external_id,
                "occurred_at": r.occurred_at.to_rfc3339(),
                "local_day": r.local_day.to_string(),
                "amount": r.amount,
                "channel": r.channel.as_str(),
                "product_id": r.product_id,
                "creator_id": r.creator_id,
                "corrects": r.corrects,
                "body_hash": r.body_hash,
            })
        })
        .collect();
    // The rows actually inserted feed the three roll-ups and `last_gmv_at` in the same
    // statement, so a row that lost a race is neither stored twice nor counted.
    // The key is claimed in `gmv_record_key` (the records are partitioned by day, which cannot
    // carry a unique key without the day); only the claimed rows are stored.
    let sql = "WITH x AS MATERIALIZED (SELECT * FROM jsonb_to_recordset($4::jsonb) AS \
               x(external_id text, occurred_at timestamptz, local_day date, amount bigint, \
               channel text, product_id text, creator_id text, corrects text, body_hash text)), \
               k AS (INSERT INTO gmv_record_key (merchant_id, external_id, body_hash) \
               SELECT $1, external_id, body_hash FROM x \
               ON CONFLICT (merchant_id, external_id) DO NOTHING RETURNING external_id), \
               ins AS (\
               INSERT INTO gmv_record (merchant_id, external_id, occurred_at, local_day, amount, \
               currency, channel, product_id, creator_id, corrects, body_hash, created_at) \
               SELECT $1, x.external_id, x.occurred_at, x.local_day, x.amount, $2, x.channel, \
               x.product_id, x.creator_id, x.corrects, x.body_hash, $3 \
               FROM x JOIN k ON k.external_id = x.external_id \
               RETURNING external_id, local_day, channel, amount, product_id, creator_id), \
               m AS (INSERT INTO gmv_daily_merchant (merchant_id, day, channel, amount, records) \
               SELECT $1, local_day, channel, SUM(amount), COUNT(*) FROM ins \
               GROUP BY local_day, channel \
               ON CONFLICT (merchant_id, day, channel) DO UPDATE SET \
               amount = gmv_daily_merchant.amount + excluded.amount, \
               records = gmv_daily_merchant.records + excluded.records), \
               p AS (INSERT INTO gmv_daily_product (merchant_id, product_id, day, channel, amount, \
               records) SELECT $1, product_id, local_day, channel, SUM(amount), COUNT(*) FROM ins \
               WHERE product_id IS NOT NULL GROUP BY product_id, local_day, channel \
               ON CONFLICT (merchant_id, product_id, day, channel) DO UPDATE SET \
               amount = gmv_daily_product.amount + excluded.amount, \
               records = gmv_daily_product.records + excluded.records), \
               c AS (INSERT INTO gmv_daily_creator (creator_id, merchant_id, day, channel, amount, \
               records) SELECT creator_id, $1, local_day, channel, SUM(amount), COUNT(*) FROM ins \
               WHERE creator_id IS NOT NULL GROUP BY creator_id, local_day, channel \
               ON CONFLICT (creator_id, merchant_id, day, channel) DO UPDATE SET \
               amount = gmv_daily_creator.amount + excluded.amount, \
               records = gmv_daily_creator.records + excluded.records), \
               s AS (INSERT INTO gmv_segment_delta (split, day, grp, kind, channel, amount, \
               records) SELECT v.split, i.local_day, v.grp, $5, i.channel, SUM(i.amount), \
               COUNT(*) FROM ins i CROSS JOIN (VALUES ($6, $7), ($8, $9), ($10, $11), \
               ($12, $13)) AS v(split, grp) GROUP BY v.split, v.grp, i.local_day, i.channel), \
               u AS (UPDATE merchant SET last_gmv_at = $3 WHERE id = $1 \
               AND (last_gmv_at IS NULL OR last_gmv_at < $3) AND EXISTS (SELECT 1 FROM ins)) \
               SELECT external_id FROM ins";
    let mut values: Vec<sea_orm::Value> = vec![
        merchant_id.into(),
        crate::domain::gmv::CURRENCY.into(),
        now.into(),
        serde_json::Value::Array(rows).into(),
        attrs.kind.into(),
    ];
    for (split, grp) in attrs.groups() {
        values.push(split.into());
        values.push(grp.into());
    }
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?;
    rows.iter()
        .map(|row| Ok(row.try_get::<String>("", "external_id")?))
        .collect()
}

/// `INSERT … ON CONFLICT (pk) DO UPDATE SET amount = amount + excluded.amount, records = …`
/// for each roll-up, chunked like the records.
async fn write_rollups(txn: &DatabaseTransaction, merchant_id: i64, r: &Rollups) -> Result<()> {
    upsert(
        txn,
        gmv_daily_merchant::Entity,
        &[
            gmv_daily_merchant::Column::MerchantId.into_iden(),
            gmv_daily_merchant::Column::Day.into_iden(),
            gmv_daily_merchant::Column::Channel.into_iden(),
        ],
        r.merchant.iter().map(|((day, ch), sums)| {
            (vec![merchant_id.into(), (*day).into(), (*ch).into()], *sums)
        }),
    )
    .await?;
    upsert(
        txn,
        gmv_daily_product::Entity,
        &[
            gmv_daily_product::Column::MerchantId.into_iden(),
            gmv_daily_product::Column::ProductId.into_iden(),
            gmv_daily_product::Column::Day.into_iden(),
            gmv_daily_product::Column::Channel.into_iden(),
        ],
        r.product.iter().map(|((p, day, ch), sums)| {
            (
                vec![
                    merchant_id.into(),
                    p.as_str().into(),
                    (*day).into(),
                    (*ch).into(),
                ],
                *sums,
            )
        }),
    )
    .await?;
    upsert(
        txn,
        gmv_daily_creator::Entity,
        &[
            gmv_daily_creator::Column::CreatorId.into_iden(),
            gmv_daily_creator::Column::MerchantId.into_iden(),
            gmv_daily_creator::Column::Day.into_iden(),
            gmv_daily_creator::Column::Channel.into_iden(),
        ],
        r.creator.iter().map(|((c, day, ch), sums)| {
            (
                vec![
                    c.as_str().into(),
                    merchant_id.into(),
                    (*day).into(),
                    (*ch).into(),
                ],
                *sums,
            )
        }),
    )
    .await
}

async fn upsert(
    txn: &DatabaseTransaction,
    table: impl IntoIden,
    key: &[sea_orm::sea_query::DynIden],
    rows: impl Iterator<Item = (Vec<Value>, Sums)>,
) -> Result<()> {
    let table = table.into_iden();
    let amount = Alias::new("amount").into_iden();
    let records = Alias::new("records").into_iden();
    let excluded = Alias::new("excluded").into_iden();
    let mut columns = key.to_vec();
    columns.push(amount.clone());
    columns.push(records.clone());
    let on_conflict = OnConflict::columns(key.iter().cloned())
        .values([
            (
                amount.clone(),
                Expr::col((table.clone(), amount.clone()))
                    .add(Expr::col((excluded.clone(), amount.clone()))),
            ),
            (
                records.clone(),
                Expr::col((table.clone(), records.clone()))
                    .add(Expr::col((excluded.clone(), records.clone()))),
            ),
        ])
        .to_owned();
    let per = rows_per_statement(txn.get_database_backend(), columns.len());
    let rows: Vec<(Vec<Value>, Sums)> = rows.collect();
    for chunk in rows.chunks(per) {
        let mut q = Query::insert();
        q.into_table(table.clone())
            .columns(columns.clone())
            .on_conflict(on_conflict.clone());
        for (keys, (a, n)) in chunk {
            let mut vals: Vec<SimpleExpr> = keys.iter().cloned().map(Expr::val).collect();
            vals.push(Expr::val(*a));
            vals.push(Expr::val(*n));
            q.values_panic(vals);
        }
        txn.execute(&q).await?;
    }
    Ok(())
}

/// Filters of the record list; `merchant_id` is already restricted to the caller's own for
/// merchants.
#[derive(Debug, Default, Clone)]
pub struct RecordFilter {
    pub merchant_id: Option<i64>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub channel: Option<Channel>,
    pub product_id: Option<String>,
    pub creator_id: Option<String>,
}

/// Records ordered by id (keyset pagination).
pub async fn list(
    db: &DatabaseConnection,
    f: RecordFilter,
    limit: u64,
    after: Option<i64>,
) -> Result<(Vec<gmv_record::Model>, Option<String>)> {
    use gmv_record::Column as C;
    let mut cond = Condition::all();
    if let Some(m) = f.merchant_id {
        cond = cond.add(C::MerchantId.eq(m));
    }
    if let Some(from) = f.from {
        cond = cond.add(C::OccurredAt.gte(from));
    }
    if let Some(to) = f.to {
        cond = cond.add(C::OccurredAt.lt(to));
    }
    if let Some(ch) = f.channel {
        cond = cond.add(C::Channel.eq(ch));
    }
    if let Some(p) = f.product_id {
        cond = cond.add(C::ProductId.eq(p));
    }
    if let Some(c) = f.creator_id {
        cond = cond.add(C::CreatorId.eq(c));
    }
    if let Some(after) = after {
        cond = cond.add(C::Id.gt(after));
    }
    let rows = gmv_record::Entity::find()
        .filter(cond)
        .order_by_asc(C::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    Ok(pagination::page(rows, limit, |r| r.id.to_string()))
}

/// What a summary is split by besides the period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Channel,
    Product,
    Creator,
}

/// One bucket of a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub period_start: NaiveDate,
    pub group: Option<String>,
    pub amount: i64,
    pub records: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub total: i64,
    pub records: i64,
    pub buckets: Vec<Bucket>,
}

/// Sums a merchant's roll-ups over the local days `from..=to`, bucketed by period (and group).
/// Never reads raw records.
pub async fn summary(
    db: &DatabaseConnection,
    merchant_id: i64,
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
    group_by: Option<GroupBy>,
) -> Result<Summary> {
    let (table, group_col, merchant_col, day_col) = match group_by {
        None | Some(GroupBy::Channel) => (
            gmv_daily_merchant::Entity.into_iden(),
            group_by.map(|_| gmv_daily_merchant::Column::Channel.into_iden()),
            gmv_daily_merchant::Column::MerchantId.into_iden(),
            gmv_daily_merchant::Column::Day.into_iden(),
        ),
        Some(GroupBy::Product) => (
            gmv_daily_product::Entity.into_iden(),
            Some(gmv_daily_product::Column::ProductId.into_iden()),
            gmv_daily_product::Column::MerchantId.into_iden(),
            gmv_daily_product::Column::Day.into_iden(),
        ),
        Some(GroupBy::Creator) => (
            gmv_daily_creator::Entity.into_iden(),
            Some(gmv_daily_creator::Column::CreatorId.into_iden()),
            gmv_daily_creator::Column::MerchantId.into_iden(),
            gmv_daily_creator::Column::Day.into_iden(),
        ),
    };
    let mut q = Query::select();
    q.from(table)
        .expr_as(Expr::col(day_col.clone()), Alias::new("day"))
        .expr_as(
            Expr::cust("CAST(SUM(amount) AS BIGINT)"),
            Alias::new("amount"),
        )
        .expr_as(
            Expr::cust("CAST(SUM(records) AS BIGINT)"),
            Alias::new("records"),
        )
        .and_where(Expr::col(merchant_col).eq(merchant_id))
        .and_where(Expr::col(day_col.clone()).gte(from))
        .and_where(Expr::col(day_col.clone()).lte(to))
        .group_by_col(day_col);
    if let Some(g) = &group_col {
        q.expr_as(Expr::col(g.clone()), Alias::new("grp"))
            .group_by_col(g.clone());
    }
    let rows = db.query_all(&q).await?;

    let overflow = || {
        GmvError::Invalid(FieldError::new(
            "from",
            ErrorCode::AmountOverflow,
            "the total over this range does not fit in 64 bits; ask for a shorter range",
        ))
    };
    let mut buckets: BTreeMap<(NaiveDate, Option<String>), Sums> = BTreeMap::new();
    let (mut total, mut count) = (0i64, 0i64);
    for row in rows {
        let day: NaiveDate = row.try_get("", "day")?;
        let amount: i64 = row.try_get("", "amount")?;
        let records: i64 = row.try_get("", "records")?;
        let group = if group_col.is_some() {
            Some(row.try_get::<String>("", "grp")?)
        } else {
            None
        };
        let e = buckets
            .entry((granularity.period_start(day), group))
            .or_insert((0, 0));
        e.0 = e.0.checked_add(amount).ok_or_else(overflow)?;
        e.1 = e.1.checked_add(records).ok_or_else(overflow)?;
        total = total.checked_add(amount).ok_or_else(overflow)?;
        count = count.checked_add(records).ok_or_else(overflow)?;
    }
    Ok(Summary {
        total,
        records: count,
        buckets: buckets
            .into_iter()
            .map(|((period_start, group), (amount, records))| Bucket {
                period_start,
                group,
                amount,
                records,
            })
            .collect(),
    })
}
