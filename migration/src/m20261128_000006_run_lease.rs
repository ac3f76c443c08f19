//! A run holds a lease it renews while it works: a run whose process died is found by its
//! expired lease and marked failed, so no run is left `running` for ever.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(JobRun::Table)
                .add_column(
                    ColumnDef::new(JobRun::LeaseUntil)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(JobRun::Table)
                .drop_column(JobRun::LeaseUntil)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum JobRun {
    Table,
    LeaseUntil,
}
