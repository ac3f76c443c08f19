use crate::error_code::ErrorCode;
use crate::{api::codes, error::ApiResult};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    payload::{Json, PlainText},
};

use super::tags::ApiTags;
use crate::{db, error::AppError, services::health, state::AppState};
use chrono::Utc;

pub struct OpsApi;

/// Liveness or readiness.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Health {
    /// `ok` when healthy.
    pub status: String,
}

impl poem_openapi::types::Example for Health {
    fn example() -> Self {
        Self {
            status: "ok".into(),
        }
    }
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// The database answers.
    #[oai(status = 200)]
    Ready(Json<Health>),
}

#[derive(ApiResponse)]
pub enum MetricsResponse {
    /// The metrics, in the Prometheus text format (version 0.0.4).
    #[oai(
        status = 200,
        content_type = "text/plain; version=0.0.4; charset=utf-8"
    )]
    Metrics(PlainText<String>),
}

#[OpenApi(tag = "ApiTags::Operations")]
impl OpsApi {
    /// Liveness
    ///
    /// Answers 200 while the process serves HTTP.
    #[oai(path = "/healthz", method = "get", operation_id = "ops_healthz")]
    async fn healthz(&self) -> Json<Health> {
        Json(Health {
            status: "ok".into(),
        })
    }

    /// Readiness
    ///
    /// Answers 200 when the database is reachable, 503 otherwise.
    #[oai(path = "/readyz", method = "get", operation_id = "ops_readyz")]
    async fn readyz(&self, state: Data<&AppState>) -> ApiResult<ReadyResponse, codes::OpsReadyz> {
        if db::ping(&state.db).await {
            Ok(ReadyResponse::Ready(Json(Health {
                status: "ok".into(),
            })))
        } else {
            Err(AppError::new(
                ErrorCode::DatabaseUnavailable,
                "the database does not answer",
            )
            .into())
        }
    }

    /// Prometheus metrics
    ///
    /// Request counts and latency histograms by operation, database pool gauges and retries,
    /// GMV items by result, the outbox by kind and status, and job runs by job and outcome, in
    /// the Prometheus text format. The README lists every metric with its meaning.
    #[oai(path = "/metrics", method = "get", operation_id = "ops_metrics")]
    async fn metrics(&self, state: Data<&AppState>) -> MetricsResponse {
        let health = match health::snapshot(&state.db).await {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: the database's health figures are unavailable");
                None
            }
        };
        let (size, idle) = db::pool_stats(&state.db);
        MetricsResponse::Metrics(PlainText(state.metrics.render(
            size,
            idle,
            health.as_ref(),
            Utc::now(),
        )))
    }
}
