//! The poem route, shared by `serve` and the tests: the API, the documents and the
//! middlewares around them.

use crate::error_code::ErrorCode;
use std::time::{Duration, Instant};

use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route,
    http::{HeaderValue, Method, StatusCode, header},
    listener::{Acceptor, Listener, TcpListener},
};
use poem_openapi::OperationId;
use tracing::Instrument;

use crate::{
    api, auth,
    error::{AppError, REQUEST_ID, render_poem_error},
};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

pub use crate::state::AppState;

/// The whole HTTP surface: API, documents, Swagger UI, operations endpoints.
///
/// The middlewares are listed innermost first: each one sees the response of those above it.
pub fn build_route(state: AppState) -> impl Endpoint<Output = Response> {
    let service = api::service();
    let (json, yaml) = api::document::documents();
    let swagger_ui = service.swagger_ui_html().replace(&service.spec(), json);
    Route::new()
        .at("/docs", {
            let html = swagger_ui.clone();
            poem::endpoint::make_sync(move |_| poem::web::Html(html.clone()))
        })
        .at(
            "/docs/",
            poem::endpoint::make_sync(move |_| poem::web::Html(swagger_ui.clone())),
        )
        .at(
            "/openapi.json",
            poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("application/json")
                    .body(json.as_str())
            }),
        )
        .at(
            "/openapi.yaml",
            poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("application/x-yaml")
                    .header("Content-Disposition", "inline; filename=\"spec.yaml\"")
                    .body(yaml.as_str())
            }),
        )
        .nest(crate::web::BASE, crate::web::route())
        .nest("/", service)
        // Each layer is boxed: nested `around` types otherwise grow past the compiler's
        // recursion limit in release builds, and a layer costs one indirect call.
        .around(limit_body)
        .catch_all_error(|err| async move { render_poem_error(err) })
        .boxed()
        .around(time_out)
        .boxed()
        .around(authenticate)
        .boxed()
        .around(audit_staff_writes)
        .boxed()
        .around(allow_header)
        .boxed()
        .around(record_metrics)
        .boxed()
        .around(trace_request)
        .data(state)
}

/// The state added by [`build_route`], for the middlewares that need it.
fn app_state(req: &Request) -> AppState {
    req.data::<AppState>()
        .cloned()
        .expect("build_route adds the AppState outside every middleware")
}

/// The OpenAPI operation that answered, or `unmatched`.
fn operation(resp: &Response) -> &'static str {
    resp.data::<OperationId>()
        .map(|o| o.0)
        .unwrap_or("unmatched")
}

/// A request id (the `X-Request-Id` header, and error bodies' `request_id`), a tracing span
/// around everything below, and one access-log line per request.
async fn trace_request<E: Endpoint<Output = Response>>(
    ep: E,
    req: Request,
) -> poem::Result<Response> {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let span = tracing::info_span!("request", id = %request_id, method = %req.method(), path = %req.uri().path());
    let started = Instant::now();
    let mut resp = REQUEST_ID
        .scope(request_id.clone(), async move {
            let resp = ep.call(req).await.unwrap_or_else(render_poem_error);
            tracing::info!(
                status = resp.status().as_u16(),
                operation = operation(&resp),
                code = resp.data::<ErrorCode>().map_or("", |c| c.as_str()),
                ms = started.elapsed().as_secs_f64() * 1e3,
                "served"
            );
            resp
        })
        .instrument(span)
        .await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("X-Request-Id", v);
    }
    Ok(resp)
}

/// Request counts and latencies by operation and status.
async fn record_metrics<E: Endpoint<Output = Response>>(
    ep: E,
    req: Request,
) -> poem::Result<Response> {
    let metrics = app_state(&req).metrics;
    let started = Instant::now();
    let resp = ep.call(req).await?;
    metrics.observe_request(operation(&resp), resp.status().as_u16(), started.elapsed());
    Ok(resp)
}

/// A 405 says which methods the path does allow.
async fn allow_header<E: Endpoint<Output = Response>>(
    ep: E,
    req: Request,
) -> poem::Result<Response> {
    let path = req.uri().path().to_string();
    let mut resp = ep.call(req).await?;
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = crate::contract::get().allow(&path)
        && let Ok(v) = HeaderValue::from_str(&allow)
    {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    Ok(resp)
}

/// Records each successful staff write in the audit log (who, which operation, which path).
async fn audit_staff_writes<E: Endpoint<Output = Response>>(
    ep: E,
    req: Request,
) -> poem::Result<Response> {
    let token = (req.method() != Method::GET)
        .then(|| bearer_token(&req).map(str::to_string))
        .flatten();
    let Some(token) = token else {
        return ep.call(req).await;
    };
    let state = app_state(&req);
    let target = format!("{} {}", req.method(), req.uri().path());
    let resp = ep.call(req).await?;
    if resp.status().is_success()
        && let Ok(staff) = crate::services::staff::authenticate(
            &state.db,
            state.admin_token_hash.as_deref(),
            &token,
        )
        .await
        && let Err(e) = crate::services::audit::record(
            &state.db,
            &staff.actor(),
            operation(&resp),
            &target,
            serde_json::json!({
                "status": resp.status().as_u16(),
                "role": staff.role.as_str(),
                "request_id": crate::error::current_request_id(),
            }),
        )
        .await
    {
        tracing::error!(error = %e, "could not write the audit log");
    }
    Ok(resp)
}

fn bearer_token(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The credential rules every operation shares: one credential per request (the checkers in
/// `auth` refuse a request carrying both), a merchant key on a staff-only operation is told so,
/// and every 401 says which schemes are accepted. Which operations take which credentials comes
/// from their types: a valid merchant key answered 401 can only mean the operation takes staff
/// tokens alone.
async fn authenticate<E: Endpoint<Output = Response>>(
    ep: E,
    req: Request,
) -> poem::Result<Response> {
    let headers = req.headers();
    let both = headers.contains_key(header::AUTHORIZATION) && headers.contains_key(auth::API_KEY);
    let merchant_key = (!headers.contains_key(header::AUTHORIZATION))
        .then(|| headers.get(auth::API_KEY).and_then(|v| v.to_str().ok()))
        .flatten()
        .map(|key| (key.to_string(), app_state(&req)));
    let mut resp = ep.call(req).await?;
    if resp.status() == StatusCode::UNAUTHORIZED {
        let op = operation(&resp);
        if both {
            resp = auth::ambiguous().into_response();
        } else if let Some((key, state)) = merchant_key
            && crate::services::merchants::authenticate(&state.db, &state.key_touches, &key, false)
                .await
                .is_ok()
        {
            resp = AppError::new(
                ErrorCode::StaffOnly,
                "only platform staff may do this; merchant keys cannot",
            )
            .into_response();
        }
        resp.set_data(OperationId(op));
    }
    challenge(&mut resp);
    Ok(resp)
}

/// Every 401 names the accepted schemes.
fn challenge(resp: &mut Response) {
    if resp.status() == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"staff\", ApiKey realm=\"merchants\", header=\"X-API-Key\"",
            ),
        );
    }
}

/// A request taking longer than `REQUEST_TIMEOUT_MS` (a stalled upload included) is dropped
/// and answered 503.
async fn time_out<E: Endpoint<Output = Response>>(ep: E, req: Request) -> poem::Result<Response> {
    let timeout = app_state(&req).config.request_timeout;
    Ok(match tokio::time::timeout(timeout, ep.call(req)).await {
        Ok(result) => result.unwrap_or_else(render_poem_error),
        Err(_) => AppError::new(
            ErrorCode::Timeout,
            format!("the request took longer than {} ms", timeout.as_millis()),
        )
        .into_response(),
    })
}

/// Refuses bodies over [`MAX_BODY_BYTES`] with 413, whether or not they declare a length.
/// (`null` where a field has none is refused by the request types themselves.)
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
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(too_large().into());
    }
    let chunked = declared.is_none()
        && req
            .headers()
            .contains_key(poem::http::header::TRANSFER_ENCODING);
    if chunked {
        let body = req
            .take_body()
            .into_bytes_limit(MAX_BODY_BYTES)
            .await
            .map_err(|_| too_large())?;
        req.set_body(body);
    }
    ep.call(req).await
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
