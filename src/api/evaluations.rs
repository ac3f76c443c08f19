use crate::api::types::{Opt, Parsed, as_of_or_now};
use crate::{api::codes, error::ApiResult};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::tags::ApiTags;
use crate::{
    auth::RequireRole,
    auth::StaffAuth,
    error::AppError,
    jobs::JobOutcome,
    pagination,
    services::runs::{self, Trigger},
    services::{evaluation, programs},
    state::AppState,
};

pub struct EvaluationsApi;

/// Run an evaluation now.
#[derive(Object, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct EvaluationRequest {
    /// Evaluate as if it were this instant (for back-fills); default now. At most 5 minutes
    /// in the future.
    #[serde(default)]
    pub as_of: Opt<DateTime<Utc>>,
}

impl poem_openapi::types::Example for EvaluationRequest {
    fn example() -> Self {
        Self {
            as_of: Opt::some(
                DateTime::parse_from_rfc3339("2026-06-30T15:59:59Z")
                    .expect("instant")
                    .with_timezone(&Utc),
            ),
        }
    }
}

/// An evaluation run.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EvaluationRun {
    /// Run id.
    pub id: i64,
    /// The instant evaluated.
    pub as_of: DateTime<Utc>,
    /// The tick's key: the cron time for scheduled runs, the request time otherwise.
    pub scheduled_at: DateTime<Utc>,
    pub trigger: Trigger,
    /// The replica that ran it.
    pub replica: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When the run finished; absent while it is running.
    pub finished_at: Option<DateTime<Utc>>,
    #[oai(rename = "status")]
    pub outcome: JobOutcome,
    /// Why the run failed; only for failed runs.
    pub error: Option<String>,
    /// Subjects whose progress was computed.
    pub subjects_evaluated: i64,
    /// Achievements recorded by this run.
    pub achievements_recorded: i64,
    /// Achievements revoked by this run (refunds took the subject below a threshold).
    pub achievements_revoked: i64,
    /// Emails queued by this run.
    pub emails_queued: i64,
}

impl From<entity::job_run::Model> for EvaluationRun {
    fn from(r: entity::job_run::Model) -> Self {
        Self {
            id: r.id,
            as_of: r.as_of,
            scheduled_at: r.scheduled_at,
            trigger: r.trigger,
            replica: r.replica,
            started_at: r.started_at,
            finished_at: r.finished_at,
            outcome: r.outcome,
            error: r.error,
            subjects_evaluated: r.subjects_evaluated,
            achievements_recorded: r.achievements_recorded,
            achievements_revoked: r.achievements_revoked,
            emails_queued: r.emails_queued,
        }
    }
}

#[derive(ApiResponse)]
pub enum RunResponse {
    /// The run started (`status: running`) and goes on in the background; follow `Location`.
    #[oai(status = 202)]
    Accepted(
        Json<EvaluationRun>,
        /// Where the run's progress is read: `/api/v1/evaluations/{id}`.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum RunFound {
    /// The run as it stands.
    #[oai(status = 200)]
    Ok(Json<EvaluationRun>),
}

/// Evaluation runs, newest first.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EvaluationRunPage {
    /// The runs of this page.
    pub items: Vec<EvaluationRun>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Evaluations")]
impl EvaluationsApi {
    /// Run an evaluation
    ///
    /// Admins. Starts evaluating every active programme now (or as of `as_of`) and answers
    /// 202 at once with the run (`status: running`) and its `Location`; the work goes on in the
    /// background. `GET /evaluations/{id}` shows `running`, then `ok` with the counts or
    /// `failed` with the error. A run whose process stops is marked `failed` once its lease
    /// (`RUN_LEASE_MS`) runs out.
    #[oai(
        path = "/evaluations",
        method = "post",
        operation_id = "evaluations_run"
    )]
    async fn run(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        body: Json<Parsed<EvaluationRequest>>,
    ) -> ApiResult<RunResponse, codes::EvaluationsRun> {
        auth.0.require_admin()?;
        let body = body.0.into_inner()?;
        let as_of = as_of_or_now(body.as_of.0)?;
        let lease = chrono::Duration::from_std(state.config.run_lease)
            .unwrap_or(chrono::Duration::seconds(30));
        let run =
            evaluation::start(&state.db, as_of, Trigger::Api, &state.config.replica, lease).await?;
        let location = format!("/api/v1/evaluations/{}", run.id);
        let (db, claimed) = (state.db.clone(), run.clone());
        tokio::spawn(async move {
            // The outcome is recorded on the run; the error is logged there too.
            let _ = evaluation::complete(&db, claimed, lease, &|_, _| {}).await;
        });
        Ok(RunResponse::Accepted(Json(run.into()), location))
    }

    /// One evaluation run
    ///
    /// Staff. `running` while it works, then `ok` with its counts or `failed` with its error.
    #[oai(
        path = "/evaluations/:id",
        method = "get",
        operation_id = "evaluations_get"
    )]
    async fn get(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The run's id, as in the `Location` that `POST /evaluations` answered with.
        id: Path<i64>,
    ) -> ApiResult<RunFound, codes::EvaluationsGet> {
        let _ = auth;
        runs::expire_stale(&state.db).await?;
        let run = programs::run(&state.db, id.0)
            .await?
            .ok_or_else(|| AppError::not_found("evaluation run"))?;
        Ok(RunFound::Ok(Json(run.into())))
    }

    /// List evaluation runs
    ///
    /// Staff. Every run — scheduled, API or command line — with its outcome and counts,
    /// newest first.
    #[oai(
        path = "/evaluations",
        method = "get",
        operation_id = "evaluations_list"
    )]
    async fn list(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// Page size, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page; omit for the first page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<EvaluationRunPage>, codes::EvaluationsList> {
        let _ = auth;
        let limit = pagination::limit(limit.0)?;
        let before = pagination::decode_id(cursor.0.as_deref())?;
        runs::expire_stale(&state.db).await?;
        let (rows, next_cursor) = programs::runs(&state.db, limit, before).await?;
        Ok(Json(EvaluationRunPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }
}
