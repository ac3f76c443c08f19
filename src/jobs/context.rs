//! What every job is given.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::Config;

/// What a job needs: the database and the settings.
#[derive(Clone)]
pub struct JobContext {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
}
