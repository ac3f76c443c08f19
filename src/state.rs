//! The state every request handler shares: the database, the settings, the metrics and the
//! in-memory limiters.

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;

use crate::{
    config::Config,
    error::{AppError, AppResult},
    metrics::Metrics,
    ratelimit::RateLimiter,
    secrets,
};

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Where reads that tolerate lag go (a replica when configured and close enough).
    pub reads: Arc<crate::db::Reads>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub apply_limiter: Arc<RateLimiter>,
    pub key_limiter: Arc<RateLimiter>,
    pub admin_token_hash: Option<String>,
    /// API key uses not yet written to `api_key.last_used_at`.
    pub key_touches: Arc<crate::services::merchants::KeyTouches>,
    /// Encrypts and decrypts webhook signing secrets.
    pub sealer: Arc<crate::services::webhooks::Sealer>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, config: Config) -> Self {
        let admin_token_hash = config.admin_token.as_deref().map(secrets::hash);
        Self {
            reads: Arc::new(crate::db::Reads::new(db.clone(), None, config.read_max_lag)),
            db,
            apply_limiter: Arc::new(RateLimiter::new(
                config.apply_rate_per_minute,
                Duration::from_secs(60),
                config.apply_rate_per_minute,
            )),
            key_limiter: Arc::new(RateLimiter::new(
                config.key_rate_per_second,
                Duration::from_secs(1),
                config.key_rate_per_second.saturating_mul(2),
            )),
            sealer: Arc::new(crate::services::webhooks::Sealer::new(
                config.webhook_secret_key,
            )),
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            admin_token_hash,
            key_touches: Arc::default(),
        }
    }

    /// Sends reads that tolerate lag to `replica` (`DATABASE_READ_URL`).
    pub fn with_replica(mut self, replica: DatabaseConnection) -> Self {
        self.reads = Arc::new(crate::db::Reads::new(
            self.db.clone(),
            Some(replica),
            self.config.read_max_lag,
        ));
        self
    }

    /// What the scheduled jobs need of this state.
    pub fn job_context(&self) -> crate::jobs::JobContext {
        crate::jobs::JobContext {
            db: self.db.clone(),
            config: self.config.clone(),
        }
    }

    /// Per-credential request budget (`KEY_RATE_PER_SECOND`).
    pub fn limit_key(&self, key: &str) -> AppResult<()> {
        self.key_limiter.check(key).map_err(AppError::rate_limited)
    }
}
