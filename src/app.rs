//! Application state and the poem route, shared by `serve` and the tests.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route,
    http::HeaderValue,
    listener::{Acceptor, Listener, TcpListener},
};
use poem_openapi::{OpenApiService, OperationId};
use sea_orm::DatabaseConnection;
use tracing::Instrument;

use crate::{
    api,
    config::Config,
    error::{AppError, AppResult, REQUEST_ID, render_poem_error},
    metrics::Metrics,
    ratelimit::RateLimiter,
    secrets,
};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub apply_limiter: Arc<RateLimiter>,
    pub key_limiter: Arc<RateLimiter>,
    pub admin_token_hash: Option<String>,
    /// API key uses not yet written to `api_key.last_used_at`.
    pub key_touches: Arc<crate::services::merchants::KeyTouches>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, config: Config) -> Self {
        let admin_token_hash = config.admin_token.as_deref().map(secrets::hash);
        Self {
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
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            admin_token_hash,
            key_touches: Arc::default(),
        }
    }

    /// Per-credential request budget (`KEY_RATE_PER_SECOND`).
    pub fn limit_key(&self, key: &str) -> AppResult<()> {
        self.key_limiter.check(key).map_err(AppError::rate_limited)
    }
}

pub fn openapi_service() -> OpenApiService<api::Apis, ()> {
    OpenApiService::new(
        api::apis(),
        "merchant-incentives",
        env!("CARGO_PKG_VERSION"),
    )
    .description(api::DESCRIPTION)
}

/// The whole HTTP surface: API, documents, Swagger UI, operations endpoints.
pub fn build_route(state: AppState) -> impl Endpoint<Output = Response> {
    let service = openapi_service();
    let timeout = state.config.request_timeout;
    Route::new()
        .nest("/docs", service.swagger_ui())
        .at("/openapi.json", service.spec_endpoint())
        .at("/openapi.yaml", service.spec_endpoint_yaml())
        .nest("/", service)
        .around(limit_body)
        .catch_all_error(|err| async move { render_poem_error(err) })
        .data(state.clone())
        .around(move |ep, req| observe(ep, req, state.clone(), timeout))
}

/// Records a successful staff write in the audit log (who, which operation, which path).
async fn audit_staff_write(
    state: &AppState,
    token: &str,
    op: &str,
    method: &str,
    path: &str,
    status: u16,
) {
    let Ok(staff) = crate::services::staff::authenticate(state, token).await else {
        return;
    };
    if let Err(e) = crate::services::audit::record(
        &state.db,
        &staff.actor(),
        op,
        &format!("{method} {path}"),
        serde_json::json!({ "status": status, "role": staff.role.as_str(), "request_id": crate::error::current_request_id() }),
    )
    .await
    {
        tracing::error!(error = %e, "could not write the audit log");
    }
}

/// Operations whose only security scheme is the staff bearer token, read from the document.
fn staff_only_operations() -> &'static std::collections::HashSet<String> {
    static OPS: std::sync::OnceLock<std::collections::HashSet<String>> = std::sync::OnceLock::new();
    OPS.get_or_init(|| {
        let doc: serde_json::Value =
            serde_json::from_str(&openapi_service().spec()).unwrap_or_default();
        let mut ops = std::collections::HashSet::new();
        for item in doc["paths"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
        {
            for op in item.as_object().into_iter().flat_map(|o| o.values()) {
                let schemes: Vec<&str> = op["security"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_object())
                    .flat_map(|s| s.keys().map(String::as_str))
                    .collect();
                if schemes == ["StaffAuth"]
                    && let Some(id) = op["operationId"].as_str()
                {
                    ops.insert(id.to_string());
                }
            }
        }
        ops
    })
}

/// Refuses bodies over [`MAX_BODY_BYTES`] with 413, whether or not they declare a length.
async fn limit_body<E: Endpoint>(ep: E, mut req: Request) -> poem::Result<E::Output> {
    let too_large = || {
        AppError::too_large(format!(
            "request bodies are limited to {MAX_BODY_BYTES} bytes"
        ))
    };
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > MAX_BODY_BYTES as u64 => return Err(too_large().into()),
        Some(_) => {}
        None if req
            .headers()
            .contains_key(poem::http::header::TRANSFER_ENCODING) =>
        {
            let body = req
                .take_body()
                .into_bytes_limit(MAX_BODY_BYTES)
                .await
                .map_err(|_| too_large())?;
            req.set_body(body);
        }
        None => {}
    }
    ep.call(req).await
}

/// Request id, tracing span, timeout and metrics around every request.
async fn observe<E: Endpoint<Output = Response>>(
    ep: E,
    req: Request,
    state: AppState,
    timeout: Duration,
) -> poem::Result<Response> {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let span = tracing::info_span!("request", id = %request_id, method = %req.method(), path = %req.uri().path());
    let started = Instant::now();
    let merchant_key = (!req
        .headers()
        .contains_key(poem::http::header::AUTHORIZATION))
    .then(|| {
        req.headers()
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    })
    .flatten();
    let staff_write = (req.method() != poem::http::Method::GET)
        .then(|| {
            req.headers()
                .get(poem::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_string)
        })
        .flatten()
        .map(|token| {
            (
                token,
                req.method().to_string(),
                req.uri().path().to_string(),
            )
        });
    let audit_state = state.clone();
    let call = REQUEST_ID.scope(request_id.clone(), async move {
        match tokio::time::timeout(timeout, ep.call(req)).await {
            Ok(Ok(resp)) => resp,
            Ok(Err(err)) => render_poem_error(err),
            Err(_) => AppError::new(
                poem::http::StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!("the request took longer than {} ms", timeout.as_millis()),
            )
            .into_response(),
        }
    });
    let mut resp = call.instrument(span.clone()).await;
    let op = resp
        .data::<OperationId>()
        .map(|o| o.0)
        .unwrap_or("unmatched");
    if resp.status() == poem::http::StatusCode::UNAUTHORIZED
        && staff_only_operations().contains(op)
        && let Some(key) = merchant_key
        && crate::services::merchants::authenticate(&audit_state, &key)
            .await
            .is_ok()
    {
        // A valid merchant key on a staff-only operation: authenticated, but not allowed.
        resp = AppError::forbidden(
            "staff_only",
            "only platform staff may do this; merchant keys cannot",
        )
        .into_response();
        resp.set_data(OperationId(op));
    }
    if resp.status().is_success()
        && let Some((token, method, path)) = staff_write
    {
        audit_staff_write(
            &audit_state,
            &token,
            op,
            &method,
            &path,
            resp.status().as_u16(),
        )
        .await;
    }
    let elapsed = started.elapsed();
    state.metrics.observe(op, resp.status().as_u16(), elapsed);
    span.in_scope(|| {
        tracing::info!(
            status = resp.status().as_u16(),
            operation = op,
            ms = elapsed.as_secs_f64() * 1e3,
            "served"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("X-Request-Id", v);
    }
    Ok(resp)
}

/// Serves on an already bound listener until `shutdown` resolves; in-flight requests finish.
pub async fn serve_on<A: Acceptor + 'static>(
    acceptor: A,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    poem::Server::new_with_acceptor(acceptor)
        .idle_timeout(Duration::from_secs(60))
        .run_with_graceful_shutdown(build_route(state), shutdown, Some(Duration::from_secs(30)))
        .await
}

/// Binds `LISTEN` and serves.
pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<impl Acceptor + 'static> {
    TcpListener::bind(addr).into_acceptor().await
}
