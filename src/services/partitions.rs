//! PostgreSQL's monthly partitions of the GMV records and roll-ups, kept ahead of the calendar.
//! The schema itself (which tables, how a month is created or moved out of the default
//! partition) is the migration crate's; this decides which months.

use chrono::{Months, NaiveDate};
use migration::partitions::{self, TABLES};
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};

/// Creates, for each partitioned table, the partitions of `today`'s month and the `ahead`
/// months after it, and of every month the default partition has collected rows of (moving
/// those rows in). Each partition is created in its own transaction. Returns the partitions
/// created; nothing on SQLite or on tables that are not partitioned.
pub async fn ensure_ahead(
    db: &DatabaseConnection,
    today: NaiveDate,
    ahead: u32,
) -> Result<Vec<String>, DbErr> {
    let last = today
        .checked_add_months(Months::new(ahead))
        .unwrap_or(today);
    let mut created = Vec::new();
    for t in &TABLES {
        if !partitions::is_partitioned(db, t.table).await? {
            continue;
        }
        let mut months = partitions::months(today, last);
        months.extend(partitions::default_months(db, t).await?);
        months.sort();
        months.dedup();
        for month in months {
            let txn = db.begin().await?;
            if partitions::ensure_month(&txn, t, month).await? {
                created.push(partitions::partition_name(t.table, month));
            }
            txn.commit().await?;
        }
    }
    Ok(created)
}
