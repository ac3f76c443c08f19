//! The only source of the database schema. The server applies pending migrations at start.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_foundation;
mod m20261125_000002_onboarding;
mod m20261125_000003_gmv;
mod m20261125_000004_programs;
mod m20261125_000005_progress_status;
mod m20261128_000006_run_lease;
mod m20261129_000007_digest_counts;
mod m20261129_000008_webhooks;
mod m20261129_000009_rewards;
mod m20261129_000010_creators;
mod m20261202_000011_catalogue_platform_history;
mod m20261203_000012_record_keys;
mod m20261203_000013_monthly_partitions;
mod m20261203_000014_staff_sessions;
mod m20261203_000015_email_images;
mod m20261203_000016_tier_tally;
mod m20261203_000017_gmv_segments;
mod m20261203_000018_subject_indexes;
mod m20261204_000019_progress_writes;
mod m20261207_000020_rollup_fillfactor;
mod m20261207_000021_subject_keys;
pub mod partitions;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_foundation::Migration),
            Box::new(m20261125_000002_onboarding::Migration),
            Box::new(m20261125_000003_gmv::Migration),
            Box::new(m20261125_000004_programs::Migration),
            Box::new(m20261125_000005_progress_status::Migration),
            Box::new(m20261128_000006_run_lease::Migration),
            Box::new(m20261129_000007_digest_counts::Migration),
            Box::new(m20261129_000008_webhooks::Migration),
            Box::new(m20261129_000009_rewards::Migration),
            Box::new(m20261129_000010_creators::Migration),
            Box::new(m20261202_000011_catalogue_platform_history::Migration),
            Box::new(m20261203_000012_record_keys::Migration),
            Box::new(m20261203_000013_monthly_partitions::Migration),
            Box::new(m20261203_000014_staff_sessions::Migration),
            Box::new(m20261203_000015_email_images::Migration),
            Box::new(m20261203_000016_tier_tally::Migration),
            Box::new(m20261203_000017_gmv_segments::Migration),
            Box::new(m20261203_000018_subject_indexes::Migration),
            Box::new(m20261204_000019_progress_writes::Migration),
            Box::new(m20261207_000020_rollup_fillfactor::Migration),
            Box::new(m20261207_000021_subject_keys::Migration),
        ]
    }
}
