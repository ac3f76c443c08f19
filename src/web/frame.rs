//! The frame every dashboard page shares: who is signed in (the session cookie), in which
//! language, the CSRF token of its forms, the errors a page can end in, and the templates.

use std::{fmt, sync::OnceLock};

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use super::i18n;
use poem::{
    FromRequest, IntoResponse, Request, RequestBody, Response,
    http::{StatusCode, header},
    web::{
        Redirect,
        cookie::{Cookie, SameSite},
    },
};
use sea_orm::Iterable;
use serde::Serialize;

use crate::{
    domain::money::format_cny,
    error::AppError,
    mail::Locale,
    services::{
        reports::format_bp,
        staff::{self, Role, Staff},
    },
    state::AppState,
};

/// The session cookie (its value is a bearer credential; only its hash is stored).
pub const SESSION_COOKIE: &str = "mi_session";
/// The CSRF token of the sign-in form, before there is a session.
pub const SIGN_IN_COOKIE: &str = "mi_sign_in";
/// The chosen language (`zh-CN` or `en`).
pub const LANG_COOKIE: &str = "mi_lang";
/// Where the dashboard lives.
pub const BASE: &str = "/dashboard";

/// The policy every dashboard response carries: nothing but the dashboard's own stylesheet,
/// forms posting back to it, inline SVG; no script at all, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn error_page(locale: Locale, status: StatusCode, message: &str) -> Response {
    let view = View::anonymous(locale, BASE, "error");
    let body = view.render(
        "error.html",
        minijinja::context! { status => status.as_u16(), message => message },
    );
    let mut resp = body.into_response();
    resp.set_status(status);
    resp
}

/// A page that could not be served: its status and what to tell the reader.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: Message,
}

#[derive(Debug)]
enum Message {
    /// A word of [`i18n`].
    Word(&'static str),
    /// A service's own explanation (a validation rule, an impossible transition).
    Text(String),
}

impl PageError {
    pub fn word(status: StatusCode, key: &'static str) -> Self {
        Self {
            status,
            message: Message::Word(key),
        }
    }

    pub fn text(&self, locale: Locale) -> String {
        match &self.message {
            Message::Word(k) => i18n::word(locale, k).to_string(),
            Message::Text(t) => t.clone(),
        }
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Message::Word(k) => write!(f, "{} {k}", self.status),
            Message::Text(t) => write!(f, "{} {t}", self.status),
        }
    }
}

impl std::error::Error for PageError {}

/// Service errors are mapped as the API maps them (one mapping); a server fault shows a
/// generic message (the API's mapping has logged the cause).
impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        let e: AppError = e.into();
        let status = e.status();
        if status.is_server_error() {
            return Self::word(status, "server_error");
        }
        Self {
            status,
            message: Message::Text(e.message),
        }
    }
}

impl From<PageError> for poem::Error {
    fn from(e: PageError) -> Self {
        let status = e.status;
        poem::Error::new(e, status)
    }
}

pub type PageResult<T = Response> = Result<T, PageError>;

// ---------------------------------------------------------------------------------------------
// Who is reading, in which language

/// The reader's language: the `mi_lang` cookie, else Chinese.
pub fn locale_of(req: &Request) -> Locale {
    cookie_value(req, LANG_COOKIE)
        .and_then(|v| Locale::iter().find(|l| l.as_str() == v))
        .unwrap_or(Locale::ZhCn)
}

/// A cookie's value, read from the request headers (works outside the cookie-jar middleware).
pub fn cookie_value(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| Cookie::parse(pair.trim()).ok())
        .find(|c| c.name() == name)
        .map(|c| c.value_str().to_string())
}

/// Whether the browser reached us over https (directly or through a proxy that says so):
/// cookies are then `Secure`.
pub fn over_https(req: &Request) -> bool {
    req.uri().scheme_str() == Some("https")
        || req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A cookie scoped to the dashboard: `HttpOnly`, `SameSite=Strict`, `Secure` behind https.
pub fn cookie(req: &Request, name: &str, value: &str, max_age: std::time::Duration) -> Cookie {
    let mut c = Cookie::new_with_str(name, value);
    c.set_path(BASE);
    c.set_http_only(true);
    c.set_same_site(SameSite::Strict);
    c.set_secure(over_https(req));
    c.set_max_age(max_age);
    c
}

/// Only a path inside the dashboard may be a place to go back to.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n == BASE || n.starts_with("/dashboard/") || n.starts_with("/dashboard?"))
                && !n.contains("//")
                && !n.contains('\\') =>
        {
            n.to_string()
        }
        _ => format!("{BASE}/goals"),
    }
}

/// A signed-in staff member, from the session cookie. Without a valid session the request
/// is sent to the sign-in page, which brings the reader back afterwards.
pub struct Signed {
    pub staff: Staff,
    pub csrf: String,
    pub locale: Locale,
    /// The session cookie's value.
    pub cookie: String,
}

impl<'a> FromRequest<'a> for Signed {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let state = req
            .data::<AppState>()
            .expect("AppState is attached to every route");
        let locale = locale_of(req);
        if let Some(cookie) = cookie_value(req, SESSION_COOKIE)
            && let Some(s) = staff::session(&state.db, state.admin_token_hash.as_deref(), &cookie)
                .await
                .map_err(PageError::from)?
        {
            return Ok(Self {
                staff: s.staff,
                csrf: s.csrf,
                locale,
                cookie,
            });
        }
        let here = path_of(req);
        let to = format!(
            "{BASE}/sign-in?next={}",
            url::form_urlencoded::byte_serialize(safe_next(Some(&here)).as_bytes())
                .collect::<String>()
        );
        Err(poem::Error::from_response(
            Redirect::see_other(to).into_response(),
        ))
    }
}

impl Signed {
    /// 403 unless the staff member has one of `roles` (as `auth::RequireRole` in the API).
    pub fn require(&self, roles: &[Role]) -> PageResult<()> {
        if roles.contains(&self.staff.role) {
            Ok(())
        } else {
            Err(PageError::word(StatusCode::FORBIDDEN, "needs_role"))
        }
    }

    /// 403 unless a form carried this session's CSRF token.
    pub fn check_csrf(&self, sent: &str) -> PageResult<()> {
        if crate::secrets::hashes_equal(&self.csrf, sent) {
            Ok(())
        } else {
            Err(PageError::word(StatusCode::FORBIDDEN, "form_expired"))
        }
    }

    /// What every page of this reader shows around its content.
    pub fn view(&self, path: &str, page: &'static str) -> View {
        View {
            locale: self.locale,
            path: path.to_string(),
            page,
            staff: Some((self.staff.name.clone(), self.staff.role)),
            csrf: self.csrf.clone(),
            notice: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// The pages in the navigation, in the order staff work.
const NAV: [&str; 6] = [
    "goals",
    "structure",
    "leaderboard",
    "merchants",
    "review",
    "outbox",
];

/// The frame of a page: language, navigation, who is signed in, the CSRF token, a notice.
pub struct View {
    locale: Locale,
    path: String,
    page: &'static str,
    staff: Option<(String, Role)>,
    csrf: String,
    notice: Option<&'static str>,
}

impl View {
    pub fn anonymous(locale: Locale, path: &str, page: &'static str) -> Self {
        Self {
            locale,
            path: path.to_string(),
            page,
            staff: None,
            csrf: String::new(),
            notice: None,
        }
    }

    pub fn notice(mut self, key: Option<&'static str>) -> Self {
        self.notice = key;
        self
    }

    pub fn word(&self, key: &str) -> &'static str {
        i18n::word(self.locale, key)
    }

    /// Renders `template` with the frame and `ctx`.
    pub fn render<C: Serialize>(&self, template: &str, ctx: C) -> poem::web::Html<String> {
        let other = match self.locale {
            Locale::ZhCn => Locale::En,
            Locale::En => Locale::ZhCn,
        };
        let lang_href = format!(
            "{BASE}/lang?to={}&next={}",
            other.as_str(),
            url::form_urlencoded::byte_serialize(self.path.as_bytes()).collect::<String>()
        );
        let nav: Vec<Value> = NAV
            .iter()
            .map(|p| minijinja::context! { page => p, href => format!("{BASE}/{p}") })
            .collect();
        let frame = minijinja::context! {
            lang => self.locale.as_str(),
            other_lang => other.as_str(),
            lang_href,
            t => Value::from_serialize(i18n::words(self.locale)),
            title => i18n::word(self.locale, &format!("nav_{}", self.page)),
            page => self.page,
            nav,
            staff => self.staff.as_ref().map(|(name, role)| minijinja::context! { name, role => role.as_str() }),
            csrf => self.csrf,
            notice => self.notice.map(|k| i18n::word(self.locale, k)),
        };
        let ctx = Value::from_serialize(&ctx);
        let html = env()
            .get_template(template)
            .and_then(|t| t.render(minijinja::context! { ..ctx, ..frame }))
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, template, "a dashboard template failed to render");
                format!(
                    "<!doctype html><title>500</title><p>{}</p>",
                    i18n::word(self.locale, "server_error")
                )
            });
        poem::web::Html(html)
    }
}

macro_rules! templates {
    ($env:ident, $($name:literal),* $(,)?) => {
        $( $env.add_template($name, include_str!(concat!("templates/", $name)))
            .expect(concat!($name, " compiles")); )*
    };
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_filter("cny", |fen: i64| format_cny(fen));
        env.add_filter("bp", |bp: i64| format_bp(bp));
        templates!(
            env,
            "base.html",
            "error.html",
            "sign_in.html",
            "goals.html",
            "structure.html",
            "leaderboard.html",
            "merchants.html",
            "merchant.html",
            "review.html",
            "outbox.html",
        );
        env
    })
}

/// The path and query the browser asked for (`req.uri()` is relative to the dashboard).
pub fn path_of(req: &Request) -> String {
    req.original_uri()
        .path_and_query()
        .map_or(BASE.to_string(), |p| p.to_string())
}
