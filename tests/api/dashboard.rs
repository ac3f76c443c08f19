//! The staff dashboard as a browser meets it: sign-in and sessions, CSRF, roles per page and
//! per form, security headers, escaping, language, and figures equal to the API's.

use std::collections::HashMap;

use crate::support::{self, ADMIN_TOKEN, As, TestApp, spawn_app, spawn_app_with};
use reqwest::{StatusCode, header};
use serde_json::json;

/// A cookie-keeping client that does not follow redirects, so each answer can be checked.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
    /// `Set-Cookie` lines of the last answer.
    set_cookies: Vec<String>,
}

struct Page {
    status: StatusCode,
    headers: header::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers[header::LOCATION].to_str().unwrap()
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a csrf field");
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    /// The text of the element marked `data-figure="<name>"`.
    fn figure(&self, name: &str) -> String {
        let marker = format!("data-figure=\"{name}\">");
        let at = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no figure {name}"));
        let rest = &self.body[at + marker.len()..];
        rest[..rest.find('<').unwrap()].trim().to_string()
    }
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: HashMap::new(),
            set_cookies: Vec::new(),
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = if cookie.is_empty() {
            req
        } else {
            req.header(header::COOKIE, cookie)
        };
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        self.set_cookies = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for line in &self.set_cookies {
            let pair = line.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || line.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let body = resp.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = form_body(self.client.post(format!("{}{path}", self.base)), form);
        self.send(req).await
    }

    fn set_cookie(&self, name: &str) -> Option<&String> {
        self.set_cookies
            .iter()
            .find(|l| l.starts_with(&format!("{name}=")))
    }

    /// Signs in with `token` through the form; asserts it worked.
    async fn sign_in(app: &TestApp, token: &str) -> Self {
        let mut b = Self::new(app);
        let form = b.get("/dashboard/sign-in").await;
        assert_eq!(form.status, 200);
        let csrf = form.csrf();
        let done = b
            .post(
                "/dashboard/sign-in",
                &[
                    ("csrf", &csrf),
                    ("token", token),
                    ("next", "/dashboard/goals"),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location(), "/dashboard/goals");
        assert!(b.cookies.contains_key("mi_session"));
        b
    }
}

/// An `application/x-www-form-urlencoded` body, as a browser sends a form.
fn form_body(req: reqwest::RequestBuilder, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
}

const PAGES: [&str; 7] = [
    "/dashboard/goals",
    "/dashboard/structure",
    "/dashboard/leaderboard",
    "/dashboard/merchants",
    "/dashboard/review",
    "/dashboard/outbox",
    "/dashboard/sign-in",
];

#[tokio::test]
async fn a_session_is_a_strict_http_only_cookie_that_signs_out_expires_and_follows_its_token() {
    let app = spawn_app().await;
    let mut anon = Browser::new(&app);
    let page = anon.get("/dashboard/goals?x=1").await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location(),
        "/dashboard/sign-in?next=%2Fdashboard%2Fgoals%3Fx%3D1"
    );

    // A wrong token is refused and opens nothing.
    let form = anon.get("/dashboard/sign-in").await;
    let csrf = form.csrf();
    let sign_in_cookie = anon.set_cookie("mi_sign_in").unwrap().clone();
    assert!(sign_in_cookie.contains("HttpOnly") && sign_in_cookie.contains("SameSite=Strict"));
    let refused = anon
        .post(
            "/dashboard/sign-in",
            &[("csrf", &csrf), ("token", "mis_wrong")],
        )
        .await;
    assert_eq!(refused.status, 401);
    assert!(
        refused.body.contains("令牌无效或已吊销"),
        "{}",
        refused.body
    );
    assert!(!anon.cookies.contains_key("mi_session"));
    // Without the form's own token (login CSRF) nothing is checked at all.
    let mut other = Browser::new(&app);
    let forged = other
        .post(
            "/dashboard/sign-in",
            &[("csrf", &csrf), ("token", ADMIN_TOKEN)],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(!other.cookies.contains_key("mi_session"));

    // A good token opens a session; the cookie is HttpOnly, SameSite=Strict, scoped to the
    // dashboard, and Secure only behind https.
    let mut admin = Browser::sign_in(&app, ADMIN_TOKEN).await;
    let set = admin.set_cookie("mi_session").unwrap().clone();
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/dashboard",
        "Max-Age=28800",
    ] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    assert_eq!(admin.get("/dashboard/goals").await.status, 200);
    let mut https = Browser::new(&app);
    let form = https
        .send(
            https
                .client
                .get(format!("{}/dashboard/sign-in", app.base))
                .header("x-forwarded-proto", "https"),
        )
        .await;
    let csrf = form.csrf();
    let req = form_body(
        https
            .client
            .post(format!("{}/dashboard/sign-in", app.base))
            .header("x-forwarded-proto", "https"),
        &[("csrf", csrf.as_str()), ("token", ADMIN_TOKEN)],
    );
    assert_eq!(https.send(req).await.status, 303);
    assert!(https.set_cookie("mi_session").unwrap().contains("Secure"));

    // Signing out needs the form's CSRF token, ends the session on the server, and clears it.
    let session = admin.cookies["mi_session"].clone();
    let page = admin.get("/dashboard/goals").await;
    assert_eq!(
        admin
            .post("/dashboard/sign-out", &[("csrf", "nope")])
            .await
            .status,
        403
    );
    let out = admin
        .post("/dashboard/sign-out", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(out.status, 303);
    assert!(
        admin
            .set_cookie("mi_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    admin.cookies.insert("mi_session".into(), session);
    assert_eq!(
        admin.get("/dashboard/goals").await.status,
        303,
        "replayed cookie"
    );

    // An expired session sends the reader back to sign in.
    let mut b = Browser::sign_in(&app, ADMIN_TOKEN).await;
    use sea_orm::{EntityTrait, sea_query::Expr};
    entity::staff_session::Entity::update_many()
        .col_expr(
            entity::staff_session::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(b.get("/dashboard/goals").await.status, 303);

    // Revoking the staff token ends its sessions.
    let token = app.staff_token("analyst").await;
    let mut analyst = Browser::sign_in(&app, &token).await;
    assert_eq!(analyst.get("/dashboard/goals").await.status, 200);
    let me = app
        .get("/api/v1/staff/me", &As::Staff(token.clone()))
        .await
        .expect(200);
    let id = me.body["token_id"]
        .as_i64()
        .expect("a stored token has an id");
    app.delete(&format!("/api/v1/staff/tokens/{id}"), &As::Admin)
        .await
        .expect(200);
    assert_eq!(analyst.get("/dashboard/goals").await.status, 303);
}

#[tokio::test]
async fn every_page_has_the_security_headers_and_escapes_what_merchants_write() {
    let app = spawn_app().await;
    let mut body = app.application("brand");
    body["display_name"] = json!("<script>alert('x')</script>");
    let applied = app
        .post("/api/v1/merchants", &As::Anonymous, body)
        .await
        .expect(201);
    let id = applied.body["merchant"]["id"]
        .as_i64()
        .or(applied.body["id"].as_i64())
        .unwrap();
    let mut b = Browser::sign_in(&app, ADMIN_TOKEN).await;
    let merchant_page = format!("/dashboard/merchants/{id}");
    let mut paths: Vec<&str> = PAGES.to_vec();
    paths.push(&merchant_page);
    paths.push("/dashboard/merchants?q=%3Cscript%3E");
    paths.push("/dashboard/no-such-page");
    for path in paths {
        let page = b.get(path).await;
        let expect = if path.ends_with("no-such-page") {
            404
        } else if path.ends_with("sign-in") {
            303
        } else {
            200
        };
        assert_eq!(page.status, expect, "{path}");
        let h = |n: &str| {
            page.headers
                .get(n)
                .unwrap_or_else(|| panic!("{path} has no {n}"))
                .to_str()
                .unwrap()
                .to_string()
        };
        let csp = h("content-security-policy");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            !csp.contains("script-src") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(h("x-content-type-options"), "nosniff");
        assert_eq!(h("referrer-policy"), "same-origin");
        assert!(!page.body.contains("<script"), "{path} has a script tag");
        if page.status == 200 && path != "/dashboard/sign-in" {
            assert!(page.body.contains("<html lang=\"zh-CN\">"), "{path}");
        }
    }
    for path in [
        "/dashboard/review",
        merchant_page.as_str(),
        "/dashboard/merchants",
    ] {
        let page = b.get(path).await;
        assert!(
            page.body
                .contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt;"),
            "{path} shows the name escaped"
        );
    }
}

#[tokio::test]
async fn roles_are_enforced_per_page_and_per_form_as_in_the_api() {
    let receiver = support::receiver::Receiver::start().await;
    let app = spawn_app_with(&[("WEBHOOK_ALLOW_PRIVATE", "true")]).await;
    app.post(
        "/api/v1/webhooks",
        &As::Admin,
        json!({ "url": receiver.url("/hooks"), "events": ["merchant.decision"] }),
    )
    .await
    .expect(201);
    let (a, _) = app.register_merchant("brand").await;
    let (c, _) = app.register_merchant("industry_belt").await;
    let mut admin = Browser::sign_in(&app, ADMIN_TOKEN).await;
    let mut reviewer = Browser::sign_in(&app, &app.staff_token("reviewer").await).await;
    let mut analyst = Browser::sign_in(&app, &app.staff_token("analyst").await).await;

    // Every staff role reads every page.
    for b in [&mut admin, &mut reviewer, &mut analyst] {
        for path in &PAGES[..6] {
            assert_eq!(b.get(path).await.status, 200, "{path}");
        }
    }

    // The analyst sees the queue without forms, and a forged post is refused.
    let queue = analyst.get("/dashboard/review").await;
    assert!(queue.body.contains(&format!("application-{a}")));
    assert!(
        !queue
            .body
            .contains(&format!("action=\"/dashboard/review/{a}\""))
    );
    let csrf = queue.csrf();
    let refused = analyst
        .post(
            &format!("/dashboard/review/{a}"),
            &[("csrf", &csrf), ("action", "approve")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("你的角色无权执行此操作"));
    assert_eq!(status(&app, a).await, "submitted");

    // The reviewer's form needs its own session's CSRF token.
    let queue = reviewer.get("/dashboard/review").await;
    assert!(
        queue
            .body
            .contains(&format!("action=\"/dashboard/review/{a}\""))
    );
    let reviewer_csrf = queue.csrf();
    for bad in ["", "mif_forged", csrf.as_str()] {
        let page = reviewer
            .post(
                &format!("/dashboard/review/{a}"),
                &[("csrf", bad), ("action", "approve")],
            )
            .await;
        assert_eq!(page.status, 403, "csrf {bad:?}");
    }
    assert_eq!(status(&app, a).await, "submitted");
    // A rule the API enforces holds here too: rejecting needs a reason.
    let page = reviewer
        .post(
            &format!("/dashboard/review/{c}"),
            &[
                ("csrf", &reviewer_csrf),
                ("action", "reject"),
                ("reason", " "),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert_eq!(status(&app, c).await, "submitted");
    let page = reviewer
        .post(
            &format!("/dashboard/review/{a}"),
            &[("csrf", &reviewer_csrf), ("action", "suspend")],
        )
        .await;
    assert_eq!(page.status, 400, "the form decides applications only");
    let page = reviewer
        .post(
            &format!("/dashboard/review/{a}"),
            &[("csrf", &reviewer_csrf), ("action", "approve")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), format!("/dashboard/review?decided={a}"));
    assert_eq!(status(&app, a).await, "approved");
    let page = reviewer
        .post(
            &format!("/dashboard/review/{c}"),
            &[
                ("csrf", &reviewer_csrf),
                ("action", "request_changes"),
                ("reason", "营业执照模糊"),
            ],
        )
        .await;
    assert_eq!(page.status, 303);
    assert_eq!(status(&app, c).await, "changes_requested");
    let decisions = app
        .get(&format!("/api/v1/merchants/{a}/decisions"), &As::Admin)
        .await
        .expect(200);
    let last = decisions.body["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["action"], "approve");
    assert!(
        last["actor"]
            .as_str()
            .unwrap()
            .starts_with("staff:reviewer-"),
        "{last}"
    );
    let again = reviewer
        .post(
            &format!("/dashboard/review/{a}"),
            &[("csrf", &reviewer_csrf), ("action", "approve")],
        )
        .await;
    assert_eq!(again.status, 409, "approving twice is the API's conflict");

    // Webhooks are the admins': others see a note, and the retry form is refused to them.
    for b in [&mut reviewer, &mut analyst] {
        let page = b.get("/dashboard/outbox").await;
        assert!(page.body.contains("webhooks-admin-only"));
        assert!(!page.body.contains("/retry"));
    }
    let page = admin.get("/dashboard/outbox").await;
    let shown_url = receiver.url("/hooks").replace('/', "&#x2f;");
    assert!(
        page.body.contains(&shown_url),
        "the admin sees the endpoint"
    );
    let at = page.body.find("/retry\"").expect("a retry form");
    let action = &page.body[..at + "/retry".len()];
    let action = &action[action.rfind("action=\"").unwrap() + "action=\"".len()..];
    let admin_csrf = page.csrf();
    assert_eq!(
        reviewer
            .post(action, &[("csrf", &reviewer_csrf)])
            .await
            .status,
        403
    );
    let retried = admin.post(action, &[("csrf", &admin_csrf)]).await;
    assert_eq!(retried.status, 303, "{}", retried.body);
    let log = app.get("/api/v1/audit-log", &As::Admin).await.expect(200);
    let actions: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "dashboard_sign_in",
        "dashboard_review_decide",
        "dashboard_webhook_retry",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn the_language_toggle_switches_to_english_and_never_leaves_the_dashboard() {
    let app = spawn_app().await;
    let mut b = Browser::sign_in(&app, ADMIN_TOKEN).await;
    let zh = b.get("/dashboard/goals").await;
    assert!(zh.body.contains("<html lang=\"zh-CN\">") && zh.body.contains("退出"));
    let to = b
        .get("/dashboard/lang?to=en&next=%2Fdashboard%2Freview")
        .await;
    assert_eq!(to.status, 303);
    assert_eq!(to.location(), "/dashboard/review");
    let en = b.get("/dashboard/review").await;
    assert!(
        en.body.contains("<html lang=\"en\">") && en.body.contains("Sign out"),
        "{}",
        en.body
    );
    assert!(!en.body.contains("退出"));
    for evil in [
        "https://evil.example/",
        "//evil.example",
        "/api/v1/merchants",
        "/dashboard/..//evil",
    ] {
        let q: String = url::form_urlencoded::byte_serialize(evil.as_bytes()).collect();
        let page = b.get(&format!("/dashboard/lang?to=zh-CN&next={q}")).await;
        assert_eq!(page.location(), "/dashboard/goals", "{evil}");
    }
}

async fn status(app: &TestApp, id: i64) -> serde_json::Value {
    app.get(&format!("/api/v1/merchants/{id}"), &As::Admin)
        .await
        .expect(200)
        .body["status"]
        .clone()
}

/// ¥1万 in fen.
const WAN: i64 = 1_000_000;

#[tokio::test]
async fn the_figures_shown_are_the_apis() {
    let app = spawn_app().await;
    let mut merchants = Vec::new();
    for (kind, wan) in [
        ("brand", 1200),
        ("brand", 300),
        ("industry_belt", 20_000),
        ("industry_belt", 50),
    ] {
        let (id, _) = app.approved_merchant(kind).await;
        app.add_rollup(id, "2026-03-10", "live_stream", wan * WAN / 2)
            .await;
        app.add_rollup(id, "2026-06-10", "storefront", wan * WAN / 2)
            .await;
        merchants.push(id);
    }
    support::set_platform_days(&app.db, "2026-01-01", "2026-12-31", 2_000 * WAN).await;
    app.seed_programs().await;
    app.evaluate("2026-11-23T12:00:00+08:00").await;
    let mut b = Browser::sign_in(&app, ADMIN_TOKEN).await;
    let goals = b.get("/dashboard/goals").await;
    let programs = app.get("/api/v1/programs", &As::Admin).await.expect(200);
    let mut compared = 0;
    for p in programs.body["items"].as_array().unwrap() {
        if p["active"] != true {
            continue;
        }
        let id = p["id"].as_i64().unwrap();
        let s = app
            .get(&format!("/api/v1/programs/{id}/summary"), &As::Admin)
            .await
            .expect(200)
            .body;
        let section = &goals.body[goals.body.find(&format!("id=\"program-{id}\"")).unwrap()..];
        let section = Page {
            status: StatusCode::OK,
            headers: header::HeaderMap::new(),
            body: section.to_string(),
        };
        for key in ["goal", "top_tier_reached", "projected_top_tier", "subjects"] {
            assert_eq!(
                section.figure(key),
                s[key].to_string(),
                "programme {id} {key}"
            );
        }
        for (i, t) in s["tiers"].as_array().unwrap().iter().enumerate() {
            assert_eq!(
                section.figure(&format!("tier-{i}")),
                t["subjects"].to_string(),
                "programme {id} tier {i}"
            );
        }
        compared += 1;
        // The leaderboard shows the API's values in the API's order.
        let api = app
            .get(&format!("/api/v1/programs/{id}/progress"), &As::Admin)
            .await
            .expect(200)
            .body;
        let board = b.get(&format!("/dashboard/leaderboard?program={id}")).await;
        let mut at = 0;
        for item in api["items"].as_array().unwrap() {
            let row = format!("data-subject=\"{}\"", item["subject_id"].as_str().unwrap());
            let found = board.body[at..]
                .find(&row)
                .map(|i| i + at)
                .expect("row in order");
            at = found;
            let cells = Page {
                status: StatusCode::OK,
                headers: header::HeaderMap::new(),
                body: board.body[found..].to_string(),
            };
            assert_eq!(
                cells.figure("value"),
                merchant_incentives::domain::money::format_cny(item["value"].as_i64().unwrap())
            );
        }
    }
    assert!(compared >= 1, "at least one active programme compared");
    // The structure page shows the insights' shares, month by month.
    let structure = b.get("/dashboard/structure").await;
    let api = app
        .get(
            "/api/v1/insights/gmv-structure?from=2026-03-01&to=2026-06-30",
            &As::Admin,
        )
        .await
        .expect(200)
        .body;
    let mut shown = 0;
    for m in api["items"].as_array().unwrap() {
        let month = &m["period_start"].as_str().unwrap()[..7];
        for (key, field) in [
            ("brand", "brand_live_stream_share_bp"),
            ("belt", "industry_belt_share_bp"),
        ] {
            let bp = m[field].as_i64().expect("every day has a platform total");
            assert_eq!(
                structure.figure(&format!("{key}-{month}")),
                merchant_incentives::services::reports::format_bp(bp),
                "{key} {month}"
            );
            shown += 1;
        }
    }
    assert_eq!(shown, 8, "four months, two shares");
    assert!(structure.body.contains("<svg"), "the share chart is drawn");
}
