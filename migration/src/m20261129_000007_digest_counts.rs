//! A digest run records what it found: the recipients it was for and how many of their emails
//! were already queued for the period (`emails_queued` counts the new ones).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [JobRun::Recipients, JobRun::Duplicates] {
            m.alter_table(
                Table::alter()
                    .table(JobRun::Table)
                    .add_column(ColumnDef::new(column).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [JobRun::Recipients, JobRun::Duplicates] {
            m.alter_table(
                Table::alter()
                    .table(JobRun::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum JobRun {
    Table,
    Recipients,
    Duplicates,
}
