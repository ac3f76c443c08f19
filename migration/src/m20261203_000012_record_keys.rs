//! PostgreSQL: the uniqueness of a record's `(merchant_id, external_id)` moves to a narrow table
//! of its own, so that `gmv_record` can be partitioned by day (a partitioned table only enforces
//! keys that contain its partition key). Ingestion claims the key and stores the record in one
//! statement. SQLite keeps the unique index on `gmv_record`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE TABLE gmv_record_key (\
             merchant_id bigint NOT NULL, \
             external_id varchar(128) NOT NULL, \
             body_hash varchar(64) NOT NULL, \
             CONSTRAINT gmv_record_key_pkey PRIMARY KEY (merchant_id, external_id))",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO gmv_record_key (merchant_id, external_id, body_hash) \
             SELECT merchant_id, external_id, body_hash FROM gmv_record",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        m.get_connection()
            .execute_unprepared("DROP TABLE gmv_record_key")
            .await?;
        Ok(())
    }
}
