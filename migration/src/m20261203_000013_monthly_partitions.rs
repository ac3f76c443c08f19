//! PostgreSQL: `gmv_record` and the `gmv_daily_*` roll-ups become range-partitioned by month,
//! with a default partition. Every row is kept: each month that holds rows gets its partition,
//! and so do the current month and the three after it (the `partitions` job keeps creating
//! them ahead). SQLite is not partitioned.

use sea_orm_migration::prelude::*;

use crate::partitions::{self, TABLES};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Months created ahead by the migration; the job keeps `PARTITION_MONTHS_AHEAD` ahead.
const AHEAD: u32 = 3;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        // The marketplace's calendar: months begin in Asia/Shanghai (UTC+8, no DST).
        let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
        let last = today
            .checked_add_months(chrono::Months::new(AHEAD))
            .unwrap_or(today);
        let ahead = partitions::months(today, last);
        for t in &TABLES {
            partitions::partition(db, t, &ahead).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        for t in &TABLES {
            partitions::unpartition(db, t).await?;
        }
        Ok(())
    }
}
