//! What every job is given.

use std::sync::Arc;

use chrono::Duration;

use sea_orm::DatabaseConnection;

use crate::config::Config;

/// What a job needs: the database and the settings.
#[derive(Clone)]
pub struct JobContext {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
}

impl JobContext {
    /// How long a run's lease lasts before it must be renewed (`RUN_LEASE_MS`).
    pub fn lease(&self) -> Duration {
        Duration::from_std(self.config.run_lease).unwrap_or(Duration::seconds(30))
    }
}
