//! The GMV structure kept ahead of time: the approved merchants' GMV per local day, merchant
//! kind and channel, whole and split by industry belt, province and category
//! (`gmv_segment_day`, and by calendar month in `gmv_segment_month`), so a year's structure
//! reads a few hundred rows instead of every merchant's roll-ups.
//!
//! Writers append signed changes to `gmv_segment_delta` in their own transaction:
//! - ingestion, for what a batch adds to the merchant's roll-ups (only approved merchants
//!   ingest);
//! - a decision that takes a merchant into or out of `approved`, for all its roll-ups.
//!
//! Appending touches no shared row, so concurrent batches of different merchants never wait
//! on each other. [`fold`] moves the changes into the day rows in the background; readers sum
//! both in one statement, so what they see never depends on when the last fold ran.

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};

use crate::domain::{
    enums::StructureSplit,
    merchant::{MerchantKind, MerchantStatus},
    program::Channel,
};

/// The merchant attributes the structure splits by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attributes {
    pub kind: MerchantKind,
    pub industry_belt: Option<String>,
    pub province: String,
    pub category: String,
}

impl From<&entity::merchant::Model> for Attributes {
    fn from(m: &entity::merchant::Model) -> Self {
        Self {
            kind: m.kind,
            industry_belt: m.industry_belt.clone(),
            province: m.province.clone(),
            category: m.category.clone(),
        }
    }
}

impl Attributes {
    /// The group of each split a merchant with these attributes counts in (`""` for the whole,
    /// and for no industry belt).
    pub fn groups(&self) -> [(StructureSplit, String); 4] {
        [
            (StructureSplit::Whole, String::new()),
            (
                StructureSplit::IndustryBelt,
                self.industry_belt.clone().unwrap_or_default(),
            ),
            (StructureSplit::Province, self.province.clone()),
            (StructureSplit::Category, self.category.clone()),
        ]
    }

    /// `(SELECT ? AS split, ? AS grp UNION ALL …)`: the groups as a derived table, and its
    /// values (the same SQL on both backends).
    pub fn groups_table(&self) -> (String, Vec<Value>) {
        let mut sql = String::from("(");
        let mut values = Vec::new();
        for (i, (split, grp)) in self.groups().into_iter().enumerate() {
            sql.push_str(match i {
                0 => "SELECT ? AS split, ? AS grp",
                _ => " UNION ALL SELECT ?, ?",
            });
            values.push(split.into());
            values.push(grp.into());
        }
        sql.push(')');
        (sql, values)
    }
}

fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    crate::services::evaluation::statement(backend, sql, values)
}

/// Appends what `rows` (day, channel, amount, records) add to a merchant with `attrs`.
pub async fn append<C: ConnectionTrait>(
    db: &C,
    attrs: &Attributes,
    rows: impl IntoIterator<Item = (NaiveDate, Channel, i64, i64)>,
) -> Result<(), DbErr> {
    let groups = attrs.groups();
    let mut tuples: Vec<[Value; 7]> = Vec::new();
    for (day, channel, amount, records) in rows {
        for (split, grp) in &groups {
            tuples.push([
                (*split).into(),
                day.into(),
                grp.clone().into(),
                attrs.kind.into(),
                channel.into(),
                amount.into(),
                records.into(),
            ]);
        }
    }
    let backend = db.get_database_backend();
    // 7 parameters a row: 500 rows stay under both backends' limits.
    for chunk in tuples.chunks(500) {
        let mut sql = String::from(
            "INSERT INTO gmv_segment_delta (split, day, grp, kind, channel, amount, records) \
             VALUES ",
        );
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "" } else { ", " });
            sql.push_str("(?, ?, ?, ?, ?, ?, ?)");
        }
        let values: Vec<Value> = chunk.iter().flat_map(|t| t.iter().cloned()).collect();
        db.execute_raw(statement(backend, &sql, values)).await?;
    }
    Ok(())
}

/// Appends all of a merchant's roll-ups, added (`sign` 1) when it becomes approved or taken
/// away (-1) when it stops being approved. Run it in the transaction that changes the status,
/// after the merchant's row is updated (which waits for its ingestion to commit).
pub async fn append_merchant<C: ConnectionTrait>(
    db: &C,
    merchant_id: i64,
    attrs: &Attributes,
    sign: i64,
) -> Result<(), DbErr> {
    let (groups, mut values) = attrs.groups_table();
    let sql = format!(
        "INSERT INTO gmv_segment_delta (split, day, grp, kind, channel, amount, records) \
         SELECT v.split, g.day, v.grp, ?, g.channel, ? * g.amount, ? * g.records \
         FROM gmv_daily_merchant g CROSS JOIN {groups} v WHERE g.merchant_id = ?"
    );
    // In the order of the placeholders: kind, the signs, the groups, the merchant.
    let mut all: Vec<Value> = vec![attrs.kind.into(), sign.into(), sign.into()];
    all.append(&mut values);
    all.push(merchant_id.into());
    db.execute_raw(statement(db.get_database_backend(), &sql, all))
        .await?;
    Ok(())
}

/// Folds every appended change into the day and month rows; returns how many were folded. On
/// PostgreSQL one statement takes the changes (`DELETE … RETURNING`) and adds them, so a
/// change is folded exactly once even with folds running on several replicas; SQLite has one
/// writer at a time.
pub async fn fold(db: &DatabaseConnection) -> Result<u64, DbErr> {
    const COLUMNS: &str = "split, day, grp, kind, channel";
    let add = |table: &str, key: &str| {
        format!(
            "ON CONFLICT ({key}) DO UPDATE SET amount = {table}.amount + excluded.amount, \
             records = {table}.records + excluded.records"
        )
    };
    let day_add = add("gmv_segment_day", COLUMNS);
    let month_add = add(
        "gmv_segment_month",
        "split, month_start, grp, kind, channel",
    );
    let month = month_of(db.get_database_backend());
    crate::db::retry(|| async {
        if crate::db::is_postgres(db) {
            let sql = format!(
                "WITH moved AS (DELETE FROM gmv_segment_delta RETURNING *), \
                 added AS (INSERT INTO gmv_segment_day ({COLUMNS}, amount, records) \
                 SELECT {COLUMNS}, SUM(amount), SUM(records) FROM moved GROUP BY {COLUMNS} \
                 {day_add}), \
                 by_month AS (INSERT INTO gmv_segment_month (split, month_start, grp, kind, channel, \
                 amount, records) SELECT split, {month}, grp, kind, channel, SUM(amount), \
                 SUM(records) FROM moved GROUP BY split, {month}, grp, kind, channel \
                 {month_add}) \
                 SELECT COUNT(*) AS n FROM moved"
            );
            let row = db
                .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
                .await?;
            return Ok(row.map_or(Ok(0), |r| r.try_get::<i64>("", "n"))? as u64);
        }
        let txn = crate::db::begin_write(db).await?;
        txn.execute_unprepared(&format!(
            "INSERT INTO gmv_segment_day ({COLUMNS}, amount, records) \
             SELECT {COLUMNS}, SUM(amount), SUM(records) FROM gmv_segment_delta \
             GROUP BY {COLUMNS} {day_add}"
        ))
        .await?;
        txn.execute_unprepared(&format!(
            "INSERT INTO gmv_segment_month (split, month_start, grp, kind, channel, amount, records) \
             SELECT split, {month}, grp, kind, channel, SUM(amount), SUM(records) \
             FROM gmv_segment_delta GROUP BY split, {month}, grp, kind, channel {month_add}"
        ))
        .await?;
        let done = txn
            .execute_unprepared("DELETE FROM gmv_segment_delta")
            .await?;
        txn.commit().await?;
        Ok(done.rows_affected())
    })
    .await
}

/// The first day of the month of the `day` column.
fn month_of(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "CAST(date_trunc('MONTH', day) AS DATE)",
        _ => "date(day, 'start of month')",
    }
}

/// Recomputes the day and month rows from the roll-ups of the approved merchants, dropping the appended
/// changes: for data loaded around ingestion (benches, imports).
pub async fn rebuild(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    txn.execute_unprepared("DELETE FROM gmv_segment_delta")
        .await?;
    txn.execute_unprepared("DELETE FROM gmv_segment_day")
        .await?;
    let mut parts = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    for (split, grp) in [
        (StructureSplit::Whole, "''"),
        (
            StructureSplit::IndustryBelt,
            "COALESCE(m.industry_belt, '')",
        ),
        (StructureSplit::Province, "m.province"),
        (StructureSplit::Category, "m.category"),
    ] {
        // A constant is no grouping column on PostgreSQL.
        let by = if split == StructureSplit::Whole {
            String::new()
        } else {
            format!(", {grp}")
        };
        parts.push(format!(
            "SELECT ?, g.day, {grp}, m.kind, g.channel, SUM(g.amount), SUM(g.records) \
             FROM gmv_daily_merchant g JOIN merchant m ON m.id = g.merchant_id \
             WHERE m.status = ? GROUP BY g.day, m.kind, g.channel{by}"
        ));
        values.push(split.into());
        values.push(MerchantStatus::Approved.into());
    }
    let sql = format!(
        "INSERT INTO gmv_segment_day (split, day, grp, kind, channel, amount, records) {}",
        parts.join(" UNION ALL ")
    );
    txn.execute_raw(statement(txn.get_database_backend(), &sql, values))
        .await?;
    let month = month_of(txn.get_database_backend());
    txn.execute_unprepared(&format!(
        "INSERT INTO gmv_segment_month (split, month_start, grp, kind, channel, amount, records) \
         SELECT split, {month}, grp, kind, channel, SUM(amount), SUM(records) \
         FROM gmv_segment_day GROUP BY split, {month}, grp, kind, channel"
    ))
    .await?;
    txn.commit().await
}

/// How often the server folds the appended changes.
pub const FOLD_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds every [`FOLD_EVERY`] until `shutdown`; a failed fold is logged and tried again.
pub async fn run_folds(
    db: DatabaseConnection,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(FOLD_EVERY) => {}
        }
        match fold(&db).await {
            Ok(n) if n > 0 => tracing::debug!(changes = n, "folded the GMV structure"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "folding the GMV structure failed"),
        }
    }
}
