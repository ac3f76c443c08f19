//! The one API error body, `{code, message, field}`, and the mapping of every failure onto it.

use poem::{IntoResponse, Response, http::StatusCode};
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
#[oai(example)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `uscc_invalid`, `merchant_not_approved`.
    pub code: String,
    /// A human sentence explaining what went wrong.
    pub message: String,
    /// The request field at fault, as a dotted path (`records.3.amount`), when there is one.
    #[oai(skip_serializing_if_is_none)]
    pub field: Option<String>,
}

impl poem_openapi::types::Example for ApiError {
    fn example() -> Self {
        Self {
            code: "uscc_invalid".into(),
            message: "the check digit of the unified social credit code is wrong".into(),
            field: Some("uscc".into()),
        }
    }
}

/// An error as handlers and services return it: a status plus the body.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub body: ApiError,
    pub retry_after: Option<u64>,
}

impl AppError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ApiError {
                code: code.to_string(),
                message: message.into(),
                field: None,
            },
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub fn invalid(code: &str, field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_field(field)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests; retry after {retry_after} s"),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// An unexpected failure: the whole cause chain is logged with the request id; the caller
    /// sees only a generic sentence and that id.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        let err = err.into();
        let request_id = current_request_id();
        tracing::error!(request_id = %request_id, error = ?err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("internal error; quote request id {request_id} when reporting it"),
        )
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.body.code,
            self.body.message
        )
    }
}

impl std::error::Error for AppError {}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::internal(err)
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        Self::internal(err)
    }
}

pub type AppResult<T> = Result<T, AppError>;

const DOCUMENTED: &[(u16, &str)] = &[
    (
        400,
        "Malformed request: bad JSON, wrong type, bad query parameter or cursor.",
    ),
    (401, "Missing, unknown or revoked credentials."),
    (403, "Authenticated, but not allowed to do this."),
    (404, "No such resource, or not yours."),
    (
        409,
        "Conflicts with the current state (duplicate, impossible transition).",
    ),
    (413, "Request body or batch too large."),
    (415, "Unsupported content type (send application/json)."),
    (422, "A value is out of range or invalid; `field` names it."),
    (429, "Rate limited; see the Retry-After header."),
    (500, "Unexpected failure; the message carries a request id."),
    (503, "The server timed out or is shutting down; retry."),
];

impl ApiResponse for AppError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: DOCUMENTED
                .iter()
                .map(|(status, description)| MetaResponse {
                    description,
                    status: Some(*status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json; charset=utf-8",
                        schema: ApiError::schema_ref(),
                    }],
                    headers: if *status == 429 {
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
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        ApiError::register(registry);
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&poem_openapi::types::ToJSON::to_json(&self.body))
            .unwrap_or_default();
        let mut resp = Response::builder()
            .status(self.status)
            .content_type("application/json; charset=utf-8")
            .body(body);
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
        poem::Error::from_response(err.into_response())
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
        // A parameter of the right type outside its documented range is an invalid value.
        if let Some(p) = param.filter(|p| p.reason.starts_with("verification failed")) {
            let mut resp = AppError::invalid(
                &format!("{}_out_of_range", p.name),
                p.name,
                format!(
                    "`{}` is outside its documented range: {}",
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
            400 => "bad_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            408 => "request_timeout",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            429 => "rate_limited",
            503 => "unavailable",
            s if s >= 500 => "internal",
            _ => "bad_request",
        };
        let message = if status == poem::http::StatusCode::UNAUTHORIZED {
            "missing or malformed credentials: staff send `Authorization: Bearer <token>`, merchants send `X-API-Key: <key>`".to_string()
        } else if status.is_server_error() {
            AppError::internal(anyhow::anyhow!("{err}")).body.message
        } else {
            let text = err.to_string();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                text
            }
        };
        let mut e = AppError::new(status, code, message);
        e.body.field = field;
        e.into_response()
    };
    if let Some(op) = op {
        resp.set_data(op);
    }
    resp
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
        assert_eq!(err.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(err.body.code, "internal");
        assert!(err.body.message.contains("req-42"));
        assert!(!err.body.message.contains("hunter2"));
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
