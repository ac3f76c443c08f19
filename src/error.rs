//! The one API error body, `{code, message, field}`, and the mapping of every failure onto it.

use poem::{IntoResponse, Response, http::StatusCode};

use crate::{domain::FieldError, error_code::ErrorCode};
use poem_openapi::{
    ApiResponse, Object, OperationId,
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};

tokio::task_local! {
    /// The id of the request being served, used in logs and in 500 bodies.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(|id| id.clone())
        .unwrap_or_else(|_| "-".to_string())
}

/// The error body of every endpoint.
#[derive(Object, Debug, Clone, PartialEq, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `uscc_invalid`, `merchant_not_approved`.
    pub code: String,
    /// A human sentence explaining what went wrong.
    pub message: String,
    /// The request field at fault, as a dotted path (`records.3.amount`), when there is one.
    #[oai(skip_serializing_if_is_none)]
    pub field: Option<String>,
}

/// An error as the API returns it: a code (which fixes the status), a sentence and the field at
/// fault. Services return their own error enums; `src/api` maps them onto this.
#[derive(Debug)]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn body(&self) -> ApiError {
        ApiError {
            code: self.code.as_str().to_string(),
            message: self.message.clone(),
            field: self.field.clone(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }
    pub fn invalid(code: ErrorCode, field: &str, message: impl Into<String>) -> Self {
        Self::new(code, message).with_field(field)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PayloadTooLarge, message)
    }
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            ErrorCode::RateLimited,
            format!("too many requests; retry after {retry_after} s"),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// A database failure: 503 `database_busy` (with `Retry-After`) when it is transient and
    /// survived its retries — the transaction was rolled back, nothing was written — else a 500.
    pub fn database(err: sea_orm::DbErr) -> Self {
        if crate::db::is_unavailable(&err) {
            return Self::unavailable(&err);
        }
        if crate::db::is_transient(&err) {
            tracing::warn!(error = %err, "database still busy after retries");
            return Self::busy();
        }
        Self::internal(err)
    }

    /// The database cannot be reached: 503 with `Retry-After`, never a 500.
    fn unavailable(err: &sea_orm::DbErr) -> Self {
        tracing::warn!(error = %err, "database unavailable");
        let mut e = Self::new(
            ErrorCode::DatabaseUnavailable,
            "the database cannot be reached; nothing was written, retry shortly",
        );
        e.retry_after = Some(5);
        e
    }

    fn busy() -> Self {
        let mut e = Self::new(
            ErrorCode::DatabaseBusy,
            "the database is busy; nothing was written, retry shortly",
        );
        e.retry_after = Some(1);
        e
    }

    /// An unexpected failure: the whole cause chain is logged with the request id; the caller
    /// sees only a generic sentence and that id.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        let err = err.into();
        // A database that went away is not an internal error, whichever path reported it.
        if let Some(db) = crate::db::unavailable_in(&err) {
            return Self::unavailable(db);
        }
        let request_id = current_request_id();
        tracing::error!(request_id = %request_id, error = ?err, "internal error");
        Self::new(
            ErrorCode::Internal,
            format!("internal error; quote request id {request_id} when reporting it"),
        )
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.code.status(),
            self.code.as_str(),
            self.message
        )
    }
}

impl std::error::Error for AppError {}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::database(err)
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        if crate::db::MaybeTransient::is_transient(&err) {
            return Self::busy();
        }
        Self::internal(err)
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        Self::invalid(e.code, &e.field, e.message)
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// The codes one operation can answer with: its error type is `Failure<S>`, and `S` lists them
/// (see `api::codes`). The document shows one response per status with these codes, and a debug
/// build refuses to answer with a code the operation does not document.
pub trait ErrorSet: Send + Sync + 'static {
    const CODES: &'static [&'static [ErrorCode]];

    fn codes() -> Vec<ErrorCode> {
        Self::CODES.iter().flat_map(|s| s.iter().copied()).collect()
    }
}

/// The error of an operation whose codes are `S`.
pub struct Failure<S: ErrorSet>(pub AppError, std::marker::PhantomData<S>);

impl<S: ErrorSet> std::fmt::Debug for Failure<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: ErrorSet, E: Into<AppError>> From<E> for Failure<S> {
    fn from(err: E) -> Self {
        let err = err.into();
        debug_assert!(
            err.code == ErrorCode::Internal || S::codes().contains(&err.code),
            "`{}` is not documented for this operation",
            err.code.as_str()
        );
        Failure(err, std::marker::PhantomData)
    }
}

/// Keeps each distinct generated description once (the document's types want `&'static str`).
fn intern(text: String) -> &'static str {
    static TEXTS: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut texts = TEXTS.lock().expect("interned texts");
    if let Some(t) = texts.iter().find(|t| **t == text) {
        return t;
    }
    let t: &'static str = Box::leak(text.into_boxed_str());
    texts.push(t);
    t
}

/// Every code an operation documents: its own, plus `internal`, in (status, code) order.
pub fn documented(codes: &[ErrorCode]) -> Vec<ErrorCode> {
    let mut codes: Vec<ErrorCode> = codes.to_vec();
    codes.push(ErrorCode::Internal);
    codes.sort_by_key(|c| (c.status(), *c));
    codes.dedup();
    codes
}

/// One response per status: its codes with their meanings, each code on its own line, written
/// `` `code`: meaning `` (the document's examples are added from these lines).
pub fn meta_responses(codes: &[ErrorCode]) -> MetaResponses {
    let codes = documented(codes);
    let mut statuses: Vec<u16> = codes.iter().map(|c| c.status()).collect();
    statuses.dedup();
    MetaResponses {
        responses: statuses
            .into_iter()
            .map(|status| {
                let text = codes
                    .iter()
                    .filter(|c| c.status() == status)
                    .map(|c| format!("`{}`: {}", c.as_str(), c.meaning()))
                    .collect::<Vec<_>>()
                    .join("\n\n");
                MetaResponse {
                    description: intern(text),
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json; charset=utf-8",
                        schema: ApiError::schema_ref(),
                    }],
                    headers: if status == 429 || status == 503 {
                        vec![MetaHeader {
                            name: "Retry-After".into(),
                            description: Some("Seconds to wait before retrying.".into()),
                            required: false,
                            deprecated: false,
                            schema: u64::schema_ref(),
                        }]
                    } else {
                        vec![]
                    },
                }
            })
            .collect(),
    }
}

impl<S: ErrorSet> ApiResponse for Failure<S> {
    fn meta() -> MetaResponses {
        meta_responses(&S::codes())
    }

    fn register(registry: &mut Registry) {
        ApiError::register(registry);
    }
}

impl<S: ErrorSet> IntoResponse for Failure<S> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl<S: ErrorSet> From<Failure<S>> for poem::Error {
    fn from(err: Failure<S>) -> Self {
        err.0.into()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&poem_openapi::types::ToJSON::to_json(&self.body()))
            .unwrap_or_default();
        let mut resp = Response::builder()
            .status(self.status())
            .content_type("application/json; charset=utf-8")
            .body(body);
        // For the access log line.
        resp.set_data(self.code);
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(
                "Retry-After",
                poem::http::HeaderValue::from_str(&secs.to_string()).expect("digits"),
            );
        }
        resp
    }
}

impl From<AppError> for poem::Error {
    fn from(err: AppError) -> Self {
        let code = err.code;
        let mut e = poem::Error::from_response(err.into_response());
        // The response's own data is replaced by the error's when it is rendered.
        e.set_data(code);
        e
    }
}

/// Turns any error that reached the route level (poem's own parse failures, unknown routes,
/// auth extraction failures) into the one error body. Errors that already carry a rendered
/// body pass through untouched.
pub fn render_poem_error(err: poem::Error) -> Response {
    let op = err.data::<OperationId>().copied();
    let mut resp = if err.is_from_response() {
        err.into_response()
    } else {
        let status = err.status();
        let param = err.downcast_ref::<poem_openapi::error::ParseParamError>();
        let field = param.map(|e| e.name.to_string());
        // A parameter of the right type that breaks its documented rule is an invalid value:
        // `limit` outside its range, or a `cursor` outside the cursor alphabet.
        if let Some(p) = param.filter(|p| p.reason.starts_with("verification failed")) {
            let code = match p.name {
                "cursor" => ErrorCode::InvalidCursor,
                _ => ErrorCode::LimitOutOfRange,
            };
            let mut resp = AppError::invalid(
                code,
                p.name,
                format!(
                    "`{}` breaks its documented rule: {}",
                    p.name,
                    p.reason.trim_start_matches("verification failed. ")
                ),
            )
            .into_response();
            if let Some(op) = op {
                resp.set_data(op);
            }
            return resp;
        }
        let code = match status.as_u16() {
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            408 => ErrorCode::RequestTimeout,
            413 => ErrorCode::PayloadTooLarge,
            415 => ErrorCode::UnsupportedMediaType,
            429 => ErrorCode::RateLimited,
            503 => ErrorCode::Unavailable,
            s if s >= 500 => ErrorCode::Internal,
            _ => ErrorCode::BadRequest,
        };
        let message = if status == poem::http::StatusCode::UNAUTHORIZED {
            "missing or malformed credentials: staff send `Authorization: Bearer <token>`, merchants send `X-API-Key: <key>`".to_string()
        } else if code == ErrorCode::Internal {
            AppError::internal(anyhow::anyhow!("{err}")).message
        } else {
            let text = err.to_string();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                text
            }
        };
        let mut e = AppError::new(code, message);
        e.field = field;
        e.into_response()
    };
    if let Some(op) = op {
        resp.set_data(op);
    }
    resp
}
pub type ApiResult<T, S> = Result<T, Failure<S>>;

// How each service's errors reach the caller. Infrastructure failures (the database, mail
// rendering, stored data that breaks an invariant) are 500s with the cause logged.

impl From<crate::services::merchants::OnboardingError> for AppError {
    fn from(e: crate::services::merchants::OnboardingError) -> Self {
        use crate::services::merchants::OnboardingError as E;
        let message = e.to_string();
        match e {
            E::Invalid(f) => f.into(),
            E::DuplicateUscc => Self::new(ErrorCode::UsccTaken, message).with_field("uscc"),
            E::MerchantNotFound | E::KeyNotFound => Self::new(ErrorCode::NotFound, message),
            E::UnknownKey => Self::unauthorized(message),
            E::Suspended => Self::new(ErrorCode::MerchantSuspended, message),
            E::InvalidTransition { .. } => Self::new(ErrorCode::InvalidTransition, message),
            E::NotEditable(_) => Self::new(ErrorCode::NotEditable, message),
            E::TooManyKeys => Self::new(ErrorCode::TooManyKeys, message),
            E::LastKey => Self::new(ErrorCode::LastKey, message),
            E::Corrupt(_) => Self::internal(e),
            E::Db(e) => Self::database(e),
            E::Mail(e) => Self::internal(e),
        }
    }
}

impl From<crate::services::staff::StaffError> for AppError {
    fn from(e: crate::services::staff::StaffError) -> Self {
        use crate::services::staff::StaffError as E;
        let message = e.to_string();
        match e {
            E::Invalid(f) => f.into(),
            E::UnknownToken => Self::unauthorized(message),
            E::NotFound => Self::new(ErrorCode::NotFound, message),
            E::Corrupt(_) => Self::internal(e),
            E::Db(e) => Self::database(e),
        }
    }
}

impl From<crate::services::gmv::GmvError> for AppError {
    fn from(e: crate::services::gmv::GmvError) -> Self {
        use crate::services::gmv::GmvError as E;
        let message = e.to_string();
        match e {
            E::Invalid(f) => f.into(),
            E::MerchantNotFound => Self::new(ErrorCode::NotFound, message),
            E::NotApproved(_) => Self::new(ErrorCode::MerchantNotApproved, message),
            E::Db(e) => Self::database(e),
        }
    }
}

impl From<crate::services::reports::ReportsError> for AppError {
    fn from(e: crate::services::reports::ReportsError) -> Self {
        use crate::services::reports::ReportsError as E;
        match e {
            E::Invalid(f) => f.into(),
            E::Db(e) => Self::database(e),
            other => Self::internal(other),
        }
    }
}

impl From<crate::services::programs::ProgramsError> for AppError {
    fn from(e: crate::services::programs::ProgramsError) -> Self {
        use crate::services::programs::ProgramsError as E;
        let message = e.to_string();
        match e {
            E::Invalid(f) => f.into(),
            E::NotFound => Self::new(ErrorCode::NotFound, message),
            E::Corrupt(e) => Self::internal(e),
            E::Db(e) => Self::database(e),
        }
    }
}

impl From<crate::services::creators::CreatorsError> for AppError {
    fn from(e: crate::services::creators::CreatorsError) -> Self {
        use crate::services::creators::CreatorsError as E;
        let message = e.to_string();
        match e {
            E::Invalid(f) => f.into(),
            E::NotFound => Self::new(ErrorCode::NotFound, message),
            E::UnknownKey => Self::unauthorized(message),
            E::BatchTooLarge => Self::new(ErrorCode::BatchTooLarge, message).with_field("creators"),
            E::Db(e) => Self::database(e),
        }
    }
}

impl From<crate::services::products::ProductsError> for AppError {
    fn from(e: crate::services::products::ProductsError) -> Self {
        use crate::services::products::ProductsError as E;
        let message = e.to_string();
        match e {
            E::Invalid(f) => f.into(),
            E::MerchantNotFound => Self::new(ErrorCode::NotFound, message),
            E::BatchTooLarge => Self::new(ErrorCode::BatchTooLarge, message).with_field("products"),
            E::Db(e) => Self::database(e),
        }
    }
}

impl From<crate::services::platform::PlatformError> for AppError {
    fn from(e: crate::services::platform::PlatformError) -> Self {
        use crate::services::platform::PlatformError as E;
        match e {
            E::Invalid(f) => f.into(),
            E::Overflow(o) => Self::new(ErrorCode::AmountOverflow, o.to_string()),
            E::Db(e) => Self::database(e),
        }
    }
}

impl From<crate::services::rewards::RewardsError> for AppError {
    fn from(e: crate::services::rewards::RewardsError) -> Self {
        use crate::services::rewards::RewardsError as E;
        let message = e.to_string();
        match e {
            E::PayoutNotFound => Self::new(ErrorCode::NotFound, message),
            E::ProgramNotFound => Self::new(ErrorCode::NotFound, message).with_field("program_id"),
            E::NothingToPay => Self::new(ErrorCode::NothingToPay, message),
            E::AlreadyPaid => Self::new(ErrorCode::PayoutPaid, message),
            E::Corrupt(_) => Self::internal(e),
            E::Db(e) => Self::database(e),
        }
    }
}

impl From<crate::services::webhooks::WebhookError> for AppError {
    fn from(e: crate::services::webhooks::WebhookError) -> Self {
        use crate::services::webhooks::WebhookError as E;
        let message = e.to_string();
        match e {
            E::Invalid(f) => f.into(),
            E::NotFound | E::DeliveryNotFound => Self::new(ErrorCode::NotFound, message),
            E::TooMany => Self::new(ErrorCode::TooManyWebhooks, message),
            E::Corrupt(_) => Self::internal(e),
            E::Db(e) => Self::database(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_errors_hide_the_cause_and_carry_the_request_id() {
        let err = REQUEST_ID
            .scope("req-42".to_string(), async {
                AppError::internal(anyhow::anyhow!("password=hunter2 connection refused"))
            })
            .await;
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(err.body().code, "internal");
        assert!(err.message.contains("req-42"));
        assert!(!err.message.contains("hunter2"));
    }

    #[test]
    fn poem_errors_get_the_error_body() {
        let resp = render_poem_error(poem::Error::from_status(StatusCode::METHOD_NOT_ALLOWED));
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            resp.headers().get("content-type").unwrap(),
            "application/json; charset=utf-8"
        );
        let resp = render_poem_error(AppError::rate_limited(7).into());
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers().get("retry-after").unwrap(), "7");
    }
}
