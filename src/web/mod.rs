//! The staff dashboard: server-rendered HTML under `/dashboard`, outside `/api/v1` and the
//! document. Staff sign in with a staff token and hold a session cookie; forms carry the
//! session's CSRF token; roles are checked as the API checks them. Every figure comes from the
//! same `services::reports` functions the API and the emails use. No script is served: charts
//! are SVG drawn on the server, and every response forbids scripts, framing and sniffing.

mod frame;
pub mod i18n;
mod pages;

use poem::{
    Endpoint, EndpointExt, Request, Response, Route, get,
    http::{HeaderValue, StatusCode, header},
    middleware::CookieJarManager,
    post,
};

pub use frame::{BASE, CONTENT_SECURITY_POLICY, LANG_COOKIE, SESSION_COOKIE, SIGN_IN_COOKIE};
use frame::{PageError, error_page, locale_of};

/// The dashboard's routes, nested at [`BASE`] by `app::build_route`.
pub fn route() -> impl Endpoint<Output = Response> {
    Route::new()
        .at("/", get(pages::home))
        .at("/sign-in", get(pages::sign_in_form).post(pages::sign_in))
        .at("/sign-out", post(pages::sign_out))
        .at("/lang", get(pages::lang))
        .at("/static/app.css", get(pages::stylesheet))
        .at("/goals", get(pages::goals))
        .at("/structure", get(pages::structure))
        .at("/leaderboard", get(pages::leaderboard_page))
        .at("/merchants", get(pages::merchants_page))
        .at("/merchants/:id", get(pages::merchant))
        .at("/review", get(pages::review))
        .at("/review/:id", post(pages::decide))
        .at("/outbox", get(pages::outbox))
        .at(
            "/webhooks/:endpoint/deliveries/:delivery/retry",
            post(pages::retry_delivery),
        )
        .with(CookieJarManager::new())
        .around(guard)
}

/// Turns every failure into an HTML page in the reader's language and adds the security
/// headers to every response, so nothing from here reaches the API's JSON error handler.
async fn guard<E: Endpoint<Output = Response>>(ep: E, req: Request) -> poem::Result<Response> {
    let locale = locale_of(&req);
    let mut resp = match ep.call(req).await {
        Ok(r) => r,
        Err(e) if e.is_from_response() => e.into_response(),
        Err(e) => {
            let status = e.status();
            let message = match e.downcast_ref::<PageError>() {
                Some(p) => p.text(locale),
                None if status == StatusCode::NOT_FOUND => i18n::word(locale, "not_found").into(),
                None if status.is_server_error() => i18n::word(locale, "server_error").into(),
                None => i18n::word(locale, "bad_request").into(),
            };
            error_page(locale, status, &message)
        }
    };
    let h = resp.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(resp)
}
