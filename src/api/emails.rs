use crate::api::types::{Opt, Parsed};
use crate::{api::codes, error::ApiResult};
use chrono::{DateTime, Utc};
use poem::{IntoResponse, Response, web::Data};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};

use super::{merchants::visible, tags::ApiTags, types::as_of_or_now};
use crate::{
    auth::RequireRole,
    auth::{AnyAuth, StaffAuth},
    error::AppError,
    mail::{
        EmailKind, EmailStatus, Locale,
        digests::{self, DigestKind},
        dispatcher::{self, ListFilter},
    },
    pagination,
    services::runs::{self, JobOutcome, Trigger},
    state::AppState,
};

pub struct EmailsApi;

/// One email in the outbox and how its delivery went.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Email {
    /// Outbox id.
    pub id: i64,
    pub kind: EmailKind,
    /// The merchant the email is about, if any.
    pub merchant_id: Option<i64>,
    /// The address the email is sent to.
    pub recipient: String,
    pub locale: Locale,
    /// The rendered subject line.
    pub subject: String,
    /// One email per key, ever (e.g. `merchant_weekly:42:2026-11-16`).
    pub dedupe_key: String,
    /// The `Message-ID` header, the same on every attempt.
    pub message_id: String,
    pub status: EmailStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// The last failure as the mail server (or the connection) reported it.
    pub last_error: Option<String>,
    /// When the next attempt is due (while `pending`).
    pub next_attempt_at: DateTime<Utc>,
    /// When the email was queued.
    pub created_at: DateTime<Utc>,
    /// When the mail server accepted it; absent until then.
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<entity::email_outbox::Model> for Email {
    fn from(r: entity::email_outbox::Model) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            merchant_id: r.merchant_id,
            recipient: r.recipient,
            locale: r.locale,
            subject: r.subject,
            dedupe_key: r.dedupe_key,
            message_id: r.message_id,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error,
            next_attempt_at: r.next_attempt_at,
            created_at: r.created_at,
            sent_at: r.sent_at,
        }
    }
}

/// A page of outbox rows, newest first.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EmailPage {
    /// The emails of this page.
    pub items: Vec<Email>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Which digest to send now.
#[derive(Object, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct DigestRequest {
    pub kind: DigestKind,
    /// Make the digest as if it were this instant (default: now). The weekly report covers
    /// the last complete Monday–Sunday week (Asia/Shanghai) before it.
    #[serde(default)]
    pub as_of: Opt<DateTime<Utc>>,
}

impl poem_openapi::types::Example for DigestRequest {
    fn example() -> Self {
        Self {
            kind: DigestKind::MerchantWeekly,
            as_of: Opt::none(),
        }
    }
}

/// A digest run: `running` while it queues, then `ok` with what it queued, or `failed`.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DigestRun {
    /// Run id.
    pub id: i64,
    pub kind: DigestKind,
    #[oai(rename = "status")]
    pub outcome: JobOutcome,
    /// The instant the digest covers.
    pub as_of: DateTime<Utc>,
    pub trigger: Trigger,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When the run finished; absent while it is running.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why the run failed; only for failed runs.
    pub error: Option<String>,
    /// Recipients the digest is for (0 while running).
    pub recipients: i64,
    /// Emails newly queued in the outbox (0 while running).
    pub queued: i64,
    /// Recipients whose email for this period was already queued (not sent again).
    pub duplicates: i64,
}

impl DigestRun {
    /// The run as the API shows it; `None` when the row is not a digest run.
    fn of(r: entity::job_run::Model) -> Option<Self> {
        Some(Self {
            kind: DigestKind::parse(&r.job)?,
            id: r.id,
            outcome: r.outcome,
            as_of: r.as_of,
            trigger: r.trigger,
            started_at: r.started_at,
            finished_at: r.finished_at,
            error: r.error,
            recipients: r.recipients,
            queued: r.emails_queued,
            duplicates: r.duplicates,
        })
    }
}

#[derive(ApiResponse)]
pub enum DigestStarted {
    /// The run started (`status: running`) and goes on in the background; follow `Location`.
    #[oai(status = 202)]
    Accepted(
        Json<DigestRun>,
        /// Where the run is read: `/api/v1/digests/{id}`.
        #[oai(header = "Location")]
        String,
    ),
}

/// Format of the report preview.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ReportFormat {
    /// The HTML part, as a mail client shows it.
    Html,
    /// The plain-text part.
    Text,
}

/// The rendered report: `text/html` for `format=html` (the default), `text/plain` for
/// `format=text`. One success response with two media types of the same string body.
pub enum ReportBody {
    Html(String),
    Text(String),
}

impl IntoResponse for ReportBody {
    fn into_response(self) -> Response {
        let (ct, body) = match self {
            ReportBody::Html(b) => ("text/html; charset=utf-8", b),
            ReportBody::Text(b) => ("text/plain; charset=utf-8", b),
        };
        Response::builder().content_type(ct).body(body)
    }
}

impl ApiResponse for ReportBody {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The rendered weekly report (`text/html` or `text/plain` by `format`).",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType {
                        content_type: "text/html; charset=utf-8",
                        schema: String::schema_ref(),
                    },
                    MetaMediaType {
                        content_type: "text/plain; charset=utf-8",
                        schema: String::schema_ref(),
                    },
                ],
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Reports")]
impl EmailsApi {
    /// List emails
    ///
    /// Staff only. The outbox, newest first, with each email's delivery state: `status`,
    /// `attempts`, `last_error` (the server's reply), `next_attempt_at` and `sent_at`. Filter
    /// by `status`, `kind` or exact `recipient`.
    #[oai(path = "/emails", method = "get", operation_id = "emails_list")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// Only emails in this delivery state.
        status: Query<Option<EmailStatus>>,
        /// Only emails of this kind.
        kind: Query<Option<EmailKind>>,
        /// Only emails to this exact address.
        recipient: Query<Option<String>>,
        /// Page size, 1–500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<i64>>,
        /// The `next_cursor` of the previous page; omit for the first page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]*$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<EmailPage>, codes::EmailsList> {
        let _ = auth;
        let limit = pagination::limit(limit.0)?;
        let before = pagination::decode_id(cursor.0.as_deref())?;
        let rows = dispatcher::list(
            &state.db,
            ListFilter {
                status: status.0,
                kind: kind.0,
                recipient: recipient.0.filter(|r| !r.trim().is_empty()),
            },
            limit,
            before,
        )
        .await?;
        let (rows, next_cursor) = pagination::page(rows, limit, |r| r.id.to_string());
        Ok(Json(EmailPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// Send a digest now
    ///
    /// Admins only. Starts queuing `merchant_weekly` (every approved merchant that has not
    /// opted out) or `staff_daily` (the `STAFF_DIGEST_TO` recipients) and answers 202 at once
    /// with the run (`status: running`) and its `Location`; `GET /digests/{id}` shows `ok` with
    /// what was queued, or `failed` with the error. The dispatcher sends the emails within
    /// `OUTBOX_POLL_MS`. One email per recipient and period: a second run in the same week (or
    /// day) queues nothing and counts the recipients as `duplicates`.
    #[oai(path = "/digests", method = "post", operation_id = "digests_send")]
    async fn send(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        body: Json<Parsed<DigestRequest>>,
    ) -> ApiResult<DigestStarted, codes::DigestsSend> {
        auth.0.require_admin()?;
        let body = body.0.into_inner()?;
        let as_of = as_of_or_now(body.as_of.0)?;
        let lease = chrono::Duration::from_std(state.config.run_lease)
            .unwrap_or(chrono::Duration::seconds(30));
        let run = runs::start(
            &state.db,
            body.kind.as_str(),
            as_of,
            Trigger::Api,
            &state.config.replica,
            lease,
        )
        .await?;
        let location = format!("/api/v1/digests/{}", run.id);
        let shown = DigestRun::of(run.clone()).expect("a digest run");
        let (db, config, kind) = (state.db.clone(), state.config.clone(), body.kind);
        tokio::spawn(async move {
            // The outcome is recorded on the run; a failure is logged there too.
            let _ = crate::jobs::digest::complete(&db, &config, kind, run, lease).await;
        });
        Ok(DigestStarted::Accepted(Json(shown), location))
    }

    /// One digest run
    ///
    /// Staff. `running` while it queues, then `ok` with the recipients, the emails queued and
    /// the duplicates, or `failed` with its error.
    #[oai(path = "/digests/:id", method = "get", operation_id = "digests_get")]
    async fn get(
        &self,
        auth: StaffAuth,
        state: Data<&AppState>,
        /// The run's id, as in the `Location` that `POST /digests` answered with.
        id: Path<i64>,
    ) -> ApiResult<Json<DigestRun>, codes::DigestsGet> {
        let _ = auth;
        runs::expire_stale(&state.db).await?;
        runs::find(&state.db, id.0)
            .await?
            .and_then(DigestRun::of)
            .map(Json)
            .ok_or_else(|| AppError::not_found("digest run").into())
    }

    /// Preview a merchant's weekly report
    ///
    /// Staff see any merchant's; a merchant key sees only its own (others are 404). Returns
    /// the report as it would be sent at `as_of` (default now), in the merchant's language:
    /// the HTML part as `text/html` (`format=html`, the default) or the plain-text part as
    /// `text/plain` (`format=text`).
    #[oai(
        path = "/merchants/:id/report",
        method = "get",
        operation_id = "merchants_report"
    )]
    async fn report(
        &self,
        auth: AnyAuth,
        state: Data<&AppState>,
        /// The merchant's id.
        id: Path<i64>,
        /// `html` (default) for the HTML part, `text` for the plain-text part.
        format: Query<Option<ReportFormat>>,
        /// RFC 3339 instant to make the report as of (default now).
        as_of: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<ReportBody, codes::MerchantsReport> {
        visible(&auth, id.0)?;
        let rendered = digests::merchant_report(
            state.reads.pick().await,
            id.0,
            as_of.0.unwrap_or_else(Utc::now),
        )
        .await?
        .ok_or_else(|| AppError::not_found("merchant"))?;
        Ok(match format.0.unwrap_or(ReportFormat::Html) {
            ReportFormat::Html => ReportBody::Html(rendered.html),
            ReportFormat::Text => ReportBody::Text(rendered.text),
        })
    }
}
