//! Room on the roll-ups' pages for their next versions.
//!
//! Every ingested batch adds to the daily roll-ups it finds (`gmv_daily_merchant`,
//! `gmv_daily_product`, `gmv_daily_creator`), and an update never moves a roll-up's indexed
//! columns (its key and its day). On PostgreSQL their pages are now filled to 70%, so the
//! new version of a row fits on its page as a heap-only tuple: the update writes no index
//! entry, and the version before is reclaimed when the page is next written. Partitions made
//! later take the same fill factor when they are created ([`crate::partitions`]).

use sea_orm_migration::prelude::*;

use crate::partitions::{TABLES, apply_fillfactor};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in &TABLES {
            apply_fillfactor(m.get_connection(), t, true).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in &TABLES {
            apply_fillfactor(m.get_connection(), t, false).await?;
        }
        Ok(())
    }
}
