//! The dashboard's pages and forms. Each reads through the same services the API calls and
//! hands the template plain values; figures are formatted by the template filters.

use std::collections::HashMap;

use chrono::{Duration, Months, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use minijinja::context;
use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Form, Path, Query, Redirect, cookie::CookieJar},
};
use sea_orm::Iterable;
use serde::Deserialize;

use super::{
    frame::{
        BASE, LANG_COOKIE, PageError, PageResult, SESSION_COOKIE, SIGN_IN_COOKIE, Signed, View,
        cookie, cookie_value, locale_of, path_of, safe_next,
    },
    i18n,
};
use crate::{
    charts::{self, LineChart, Rule, Series},
    domain::{
        gmv::Granularity,
        merchant::{DecisionAction, MerchantKind, MerchantStatus},
        period::{Status, local_day},
        program::{ProgramDef, Subject},
    },
    mail::{Locale, dispatcher},
    secrets,
    services::{
        audit, gmv, merchants, programs,
        reports::{
            self, Buckets, GmvScope, StructureGroup, format_bp, history,
            leaderboard::{self, LeaderboardFilter},
            names::split_product,
        },
        rewards,
        staff::{self, Role, StaffError},
        webhooks::{self, Owner},
    },
    state::AppState,
};

const PAGE: u64 = 50;
/// The newest emails the outbox page lists (`GET /emails` pages through all of them).
const OUTBOX_ROWS: u64 = 25;

fn today() -> NaiveDate {
    local_day(Shanghai, Utc::now())
}

fn see_other(to: &str) -> Response {
    Redirect::see_other(to).into_response()
}

fn yuan_axis(v: f64) -> String {
    crate::domain::money::format_cny(v as i64)
}

#[handler]
pub async fn home() -> Response {
    see_other(&format!("{BASE}/goals"))
}

#[handler]
pub async fn stylesheet() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(include_str!("static/app.css"))
}

// ---------------------------------------------------------------------------------------------
// Signing in and out, language

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    out: Option<String>,
}

#[handler]
pub async fn sign_in_form(
    req: &Request,
    state: Data<&AppState>,
    q: Query<NextQuery>,
    jar: &CookieJar,
) -> PageResult {
    let locale = locale_of(req);
    let next = safe_next(q.next.as_deref());
    if let Some(c) = cookie_value(req, SESSION_COOKIE)
        && staff::session(&state.db, state.admin_token_hash.as_deref(), &c)
            .await?
            .is_some()
    {
        return Ok(see_other(&next));
    }
    Ok(sign_in_page(req, jar, locale, &next, None, q.out.is_some()))
}

/// The sign-in form with a fresh CSRF token, also set as a short-lived cookie: the form must
/// send back what the cookie holds.
fn sign_in_page(
    req: &Request,
    jar: &CookieJar,
    locale: Locale,
    next: &str,
    error: Option<&str>,
    signed_out: bool,
) -> Response {
    let csrf = secrets::generate(secrets::CSRF_PREFIX).value;
    jar.add(cookie(
        req,
        SIGN_IN_COOKIE,
        &csrf,
        std::time::Duration::from_secs(3600),
    ));
    let view = View::anonymous(locale, &path_of(req), "sign_in")
        .notice(signed_out.then_some("signed_out"));
    view.render("sign_in.html", context! { csrf, next, error })
        .into_response()
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    token: String,
    next: Option<String>,
}

#[handler]
pub async fn sign_in(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    form: Form<SignInForm>,
) -> PageResult {
    let locale = locale_of(req);
    let expected = cookie_value(req, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !secrets::hashes_equal(&expected, &form.csrf) {
        return Err(PageError::word(StatusCode::FORBIDDEN, "form_expired"));
    }
    let peer = req
        .remote_addr()
        .as_socket_addr()
        .map_or_else(|| "unknown".to_string(), |a| a.ip().to_string());
    state.limit_key(&format!("dashboard-sign-in:{peer}"))?;
    let next = safe_next(form.next.as_deref());
    let ttl = Duration::minutes(i64::from(state.config.dashboard_session_minutes));
    match staff::sign_in(
        &state.db,
        state.admin_token_hash.as_deref(),
        form.token.trim(),
        ttl,
    )
    .await
    {
        Ok((who, session)) => {
            jar.add(cookie(
                req,
                SESSION_COOKIE,
                &session.cookie,
                ttl.to_std().unwrap_or_default(),
            ));
            jar.add(cookie(req, SIGN_IN_COOKIE, "", std::time::Duration::ZERO));
            audit::record(
                &state.db,
                &who.actor(),
                "dashboard_sign_in",
                BASE,
                serde_json::json!({ "role": who.role.as_str() }),
            )
            .await
            .map_err(PageError::from)?;
            Ok(see_other(&next))
        }
        Err(StaffError::UnknownToken) => {
            let word = i18n::word(locale, "wrong_token");
            let mut resp = sign_in_page(req, jar, locale, &next, Some(word), false);
            resp.set_status(StatusCode::UNAUTHORIZED);
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

#[handler]
pub async fn sign_out(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    s: Signed,
    form: Form<CsrfForm>,
) -> PageResult {
    s.check_csrf(&form.csrf)?;
    staff::sign_out(&state.db, &s.cookie).await?;
    jar.add(cookie(req, SESSION_COOKIE, "", std::time::Duration::ZERO));
    Ok(see_other(&format!("{BASE}/sign-in?out=1")))
}

#[derive(Deserialize)]
pub struct LangQuery {
    to: Option<String>,
    next: Option<String>,
}

#[handler]
pub async fn lang(req: &Request, jar: &CookieJar, q: Query<LangQuery>) -> Response {
    let locale =
        q.to.as_deref()
            .and_then(|v| Locale::iter().find(|l| l.as_str() == v))
            .unwrap_or(Locale::ZhCn);
    let mut c = cookie(
        req,
        LANG_COOKIE,
        locale.as_str(),
        std::time::Duration::from_secs(365 * 86_400),
    );
    // The language is no secret, and following a link from elsewhere should keep it.
    c.set_same_site(poem::web::cookie::SameSite::Lax);
    jar.add(c);
    see_other(&safe_next(q.next.as_deref()))
}

// ---------------------------------------------------------------------------------------------
// Goals

fn def_of(p: &entity::program::Model) -> PageResult<ProgramDef> {
    Ok(reports::program_def(p)?)
}

#[handler]
pub async fn goals(req: &Request, state: Data<&AppState>, s: Signed) -> PageResult {
    let view = s.view(&path_of(req), "goals");
    let db = state.reads.pick().await;
    let (rows, _) = programs::list(&state.db, true, 100, None).await?;
    let mut out = Vec::new();
    for p in rows {
        let def = def_of(&p)?;
        // The goals need the standing only, not the GMV structure the summary adds.
        let period = reports::resolve_period(db, p.id, &def, None, None).await?;
        let standing = reports::standing(db, p.id, &def, period).await?;
        let to = period.end.min(local_day(def.time_zone, Utc::now()));
        let trend = history::tier_trend(&state.db, p.id, &def, period.start, to).await?;
        let (series, rules) = history::tier_lines(
            &def,
            &trend,
            view.word("projected_series"),
            view.word("goal_rule"),
        );
        let chart = charts::line_chart(&LineChart {
            caption: def.name.clone(),
            series,
            rules,
            y_format: &|y| format!("{y:.0}"),
            size: (1100, 320),
        })
        .map_err(anyhow::Error::from)?;
        out.push(context! {
            id => p.id,
            name => def.name,
            period_start => period.start.to_string(),
            period_end => period.end.to_string(),
            goal => def.goal,
            subjects => standing.subjects,
            top_tier_reached => standing.top_tier_reached,
            projected_top_tier => standing.projected_top_tier,
            tiers => standing.tiers.iter().map(|t| context! {
                name => t.tier.name, threshold => t.tier.threshold, at_or_above => t.at_or_above,
            }).collect::<Vec<_>>(),
            chart,
        });
    }
    Ok(view
        .render("goals.html", context! { programs => out })
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// GMV structure

#[handler]
pub async fn structure(req: &Request, state: Data<&AppState>, s: Signed) -> PageResult {
    let view = s.view(&path_of(req), "structure");
    let db = state.reads.pick().await;
    let to = today();
    let from = Granularity::Month.period_start(
        to.checked_sub_months(Months::new(11))
            .expect("a year ago is a valid day"),
    );
    let scope = GmvScope {
        kinds: MerchantKind::iter().collect(),
        channel: None,
    };
    let months =
        reports::gmv_structure_series(db, &scope, from, to, Buckets::By(Granularity::Month), None)
            .await?;
    let share = |f: fn(&reports::GmvStructure) -> Option<i64>| {
        months
            .iter()
            .filter_map(|m| f(m).map(|bp| (m.from, bp as f64)))
            .collect::<Vec<_>>()
    };
    let chart = charts::line_chart(&LineChart {
        caption: view.word("nav_structure").to_string(),
        series: vec![
            Series {
                dashed: false,
                label: view.word("brand_live_stream_share").to_string(),
                points: share(reports::GmvStructure::brand_live_stream_share_bp),
            },
            Series {
                dashed: false,
                label: view.word("industry_belt_share").to_string(),
                points: share(reports::GmvStructure::industry_belt_share_bp),
            },
        ],
        rules: vec![],
        y_format: &|y| format_bp(y as i64),
        size: (1100, 300),
    })
    .map_err(anyhow::Error::from)?;
    let mut groups = Vec::new();
    for (name, group) in [
        ("belt", StructureGroup::IndustryBelt),
        ("province", StructureGroup::Province),
    ] {
        let mut rows =
            reports::gmv_structure_series(db, &scope, from, to, Buckets::Whole, Some(group))
                .await?;
        rows.sort_by_key(|r| std::cmp::Reverse(r.total));
        groups.push(context! {
            name,
            rows => rows.iter().take(20).map(|r| context! {
                group => r.group, total => r.total, brand => r.brand_live_stream, belt => r.industry_belt,
            }).collect::<Vec<_>>(),
        });
    }
    let months = months
        .iter()
        .map(|m| {
            context! {
                from => m.from.format("%Y-%m").to_string(),
                total => m.total,
                platform => m.platform_total(),
                brand_share => m.brand_live_stream_share_bp().map(format_bp),
                belt_share => m.industry_belt_share_bp().map(format_bp),
            }
        })
        .collect::<Vec<_>>();
    Ok(view
        .render(
            "structure.html",
            context! { chart, months, groups, from => from.to_string(), to => to.to_string() },
        )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Leaderboard

#[derive(Deserialize)]
pub struct BoardQuery {
    program: Option<i64>,
    status: Option<String>,
    tier: Option<String>,
    cursor: Option<String>,
    start: Option<u64>,
}

#[handler]
pub async fn leaderboard_page(
    req: &Request,
    state: Data<&AppState>,
    s: Signed,
    q: Query<BoardQuery>,
) -> PageResult {
    let view = s.view(&path_of(req), "leaderboard");
    let (all, _) = programs::list(&state.db, false, 100, None).await?;
    let program = match q.program {
        Some(id) => Some(programs::get(&state.db, id).await?),
        None => all.iter().find(|p| p.active).or(all.first()).cloned(),
    };
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|v| {
            Status::iter()
                .find(|s| s.as_str() == v)
                .ok_or(PageError::word(StatusCode::BAD_REQUEST, "bad_request"))
        })
        .transpose()?;
    let tier = q.tier.clone().filter(|t| !t.is_empty());
    let start = q.start.unwrap_or(0);
    let mut ctx_rows = Vec::new();
    let (mut next_href, mut period, mut tiers) = (None, None, Vec::new());
    if let Some(p) = &program {
        let def = def_of(p)?;
        tiers = def.tiers.iter().map(|t| t.name.clone()).collect();
        let db = state.reads.pick().await;
        let pr = reports::resolve_period(db, p.id, &def, None, None).await?;
        let cursor = crate::pagination::decode(q.cursor.as_deref())?;
        let (rows, next) = leaderboard::leaderboard(
            db,
            p.id,
            Some(pr.start),
            LeaderboardFilter {
                status,
                tier: tier.clone(),
            },
            PAGE,
            cursor,
        )
        .await?;
        for (i, r) in rows.iter().enumerate() {
            let merchant_id = match r.row.subject_type {
                Subject::Merchant => r.row.subject_id.parse::<i64>().ok(),
                Subject::Product => split_product(&r.row.subject_id).map(|(m, _)| m),
                Subject::Creator => None,
            };
            ctx_rows.push(context! {
                rank => start + i as u64 + 1,
                subject_id => r.row.subject_id,
                name => r.name,
                merchant_id,
                value => r.row.value,
                tier => r.row.tier,
                status => r.row.status.as_str(),
                projected => r.row.projected,
            });
        }
        next_href = next.map(|c| {
            let mut qs = url::form_urlencoded::Serializer::new(String::new());
            qs.append_pair("program", &p.id.to_string());
            if let Some(s) = status {
                qs.append_pair("status", s.as_str());
            }
            if let Some(t) = &tier {
                qs.append_pair("tier", t);
            }
            qs.append_pair("cursor", &c);
            qs.append_pair("start", &(start + PAGE).to_string());
            format!("{BASE}/leaderboard?{}", qs.finish())
        });
        period = Some(pr);
    }
    Ok(view
        .render(
            "leaderboard.html",
            context! {
                programs => all.iter().map(|p| context! { id => p.id, name => p.name }).collect::<Vec<_>>(),
                program_id => program.as_ref().map(|p| p.id),
                statuses => Status::iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                status => status.map(|s| s.as_str()),
                tiers,
                tier,
                rows => ctx_rows,
                next_href,
                period_start => period.map(|p| p.start.to_string()),
                period_end => period.map(|p| p.end.to_string()),
            },
        )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Merchants

#[derive(Deserialize)]
pub struct MerchantsQuery {
    q: Option<String>,
    cursor: Option<String>,
}

fn merchant_ctx(m: &entity::merchant::Model) -> minijinja::Value {
    context! {
        id => m.id,
        display_name => m.display_name,
        legal_name => m.legal_name,
        kind => m.kind.as_str(),
        status => m.status.as_str(),
        status_reason => m.status_reason,
        uscc => m.uscc,
        province => m.province,
        city => m.city,
        category => m.category,
        brand_name => m.brand_name,
        industry_belt => m.industry_belt,
        contact_email => m.contact_email,
        created_at => reports::local_time(m.created_at),
    }
}

async fn merchant_list(
    state: &AppState,
    q: Option<String>,
    status: Option<MerchantStatus>,
    cursor: Option<&str>,
) -> PageResult<(Vec<minijinja::Value>, Option<String>)> {
    let after = crate::pagination::decode_id(cursor)?;
    let (rows, next) = merchants::list(
        &state.db,
        merchants::ListFilter {
            kind: None,
            status,
            industry_belt: None,
            q,
        },
        PAGE,
        after,
    )
    .await?;
    Ok((rows.iter().map(merchant_ctx).collect(), next))
}

#[handler]
pub async fn merchants_page(
    req: &Request,
    state: Data<&AppState>,
    s: Signed,
    q: Query<MerchantsQuery>,
) -> PageResult {
    let view = s.view(&path_of(req), "merchants");
    let (rows, next) = merchant_list(&state, q.q.clone(), None, q.cursor.as_deref()).await?;
    let next_href = next.map(|c| {
        let mut qs = url::form_urlencoded::Serializer::new(String::new());
        qs.append_pair("q", q.q.as_deref().unwrap_or(""));
        qs.append_pair("cursor", &c);
        format!("{BASE}/merchants?{}", qs.finish())
    });
    Ok(view
        .render(
            "merchants.html",
            context! { merchants => rows, next_href, q => q.q.clone().unwrap_or_default() },
        )
        .into_response())
}

#[handler]
pub async fn merchant(
    req: &Request,
    state: Data<&AppState>,
    s: Signed,
    id: Path<i64>,
) -> PageResult {
    let view = s.view(&path_of(req), "merchants");
    let m = merchants::get(&state.db, id.0).await?;
    let decisions = merchants::decisions(&state.db, m.id, 200, None).await?;
    let db = state.reads.pick().await;
    let to = today();
    let from = Granularity::Month.period_start(
        to.checked_sub_months(Months::new(11))
            .expect("a year ago is a valid day"),
    );
    let gmv = gmv::summary(
        &state.db,
        m.id,
        from,
        to,
        Granularity::Month,
        Some(gmv::GroupBy::Channel),
    )
    .await?;
    let mut by_channel: Vec<Series> = Vec::new();
    for c in crate::domain::gmv::Channel::iter() {
        let points: Vec<(NaiveDate, f64)> = gmv
            .buckets
            .iter()
            .filter(|b| b.group.as_deref() == Some(c.as_str()))
            .map(|b| (b.period_start, b.amount as f64))
            .collect();
        if !points.is_empty() {
            by_channel.push(Series {
                dashed: false,
                label: view.word(&format!("channel_{}", c.as_str())).to_string(),
                points,
            });
        }
    }
    let gmv_chart = charts::line_chart(&LineChart {
        caption: view.word("gmv_by_channel").to_string(),
        series: by_channel,
        rules: vec![],
        y_format: &yuan_axis,
        size: (1100, 280),
    })
    .map_err(anyhow::Error::from)?;

    let (progress, _) = leaderboard::merchant_progress(db, m.id, 100, None).await?;
    let (all, _) = programs::list(&state.db, false, 100, None).await?;
    let program_names: HashMap<i64, (String, &entity::program::Model)> =
        all.iter().map(|p| (p.id, (p.name.clone(), p))).collect();
    let name_of = |id: i64| {
        program_names
            .get(&id)
            .map_or(String::new(), |(n, _)| n.clone())
    };
    // The merchant's own standing in its first programme, through the period.
    let own = progress
        .iter()
        .find(|r| r.row.subject_type == Subject::Merchant);
    let history_chart = match own.and_then(|r| program_names.get(&r.row.program_id)) {
        Some((name, p)) => {
            let def = def_of(p)?;
            let r = own.expect("found above");
            let end = r.row.period_end.min(to);
            let points = if end >= r.row.period_start {
                history::subject_history(
                    &state.db,
                    p.id,
                    &def,
                    Subject::Merchant,
                    &r.row.subject_id,
                    r.row.period_start,
                    end,
                )
                .await?
                .unwrap_or_default()
            } else {
                Vec::new()
            };
            Some(
                charts::line_chart(&LineChart {
                    caption: name.clone(),
                    series: vec![Series {
                        dashed: false,
                        label: view.word("value").to_string(),
                        points: points.iter().map(|h| (h.day, h.value as f64)).collect(),
                    }],
                    rules: def
                        .tiers
                        .iter()
                        .map(|t| Rule {
                            label: t.name.clone(),
                            y: t.threshold as f64,
                        })
                        .collect(),
                    y_format: &yuan_axis,
                    size: (1100, 280),
                })
                .map_err(anyhow::Error::from)?,
            )
        }
        None => None,
    };
    let rewards = rewards::list(
        &state.db,
        rewards::Filter {
            merchant_id: Some(m.id),
            ..Default::default()
        },
        100,
        None,
    )
    .await?;
    Ok(view
        .render(
            "merchant.html",
            context! {
                m => merchant_ctx(&m),
                from => from.to_string(),
                to => to.to_string(),
                gmv_chart,
                gmv_total => gmv.total,
                history_chart,
                progress => progress.iter().map(|r| context! {
                    program => name_of(r.row.program_id),
                    subject_id => r.row.subject_id,
                    name => r.name,
                    value => r.row.value,
                    tier => r.row.tier,
                    status => r.row.status.as_str(),
                    projected => r.row.projected,
                }).collect::<Vec<_>>(),
                rewards => rewards.iter().take(100).map(|r| context! {
                    id => r.id,
                    program => name_of(r.program_id),
                    tier => r.tier,
                    amount => r.amount.map(crate::domain::money::format_cny)
                        .or(r.rate_bp.map(|bp| format_bp(i64::from(bp)))),
                    status => format!("reward_{}", r.status.as_str()),
                }).collect::<Vec<_>>(),
                decisions => decisions.iter().take(200).map(|d| context! {
                    at => reports::local_time(d.created_at),
                    action => d.action.as_str(),
                    actor => d.actor,
                    reason => d.reason,
                }).collect::<Vec<_>>(),
            },
        )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Review queue

#[derive(Deserialize)]
pub struct ReviewQuery {
    cursor: Option<String>,
    decided: Option<i64>,
}

#[handler]
pub async fn review(
    req: &Request,
    state: Data<&AppState>,
    s: Signed,
    q: Query<ReviewQuery>,
) -> PageResult {
    let view = s
        .view(&path_of(req), "review")
        .notice(q.decided.map(|_| "decided"));
    let (rows, next) = merchant_list(
        &state,
        None,
        Some(MerchantStatus::Submitted),
        q.cursor.as_deref(),
    )
    .await?;
    let next_href = next.map(|c| format!("{BASE}/review?cursor={c}"));
    let can_decide = s.require(DECIDERS).is_ok();
    Ok(view
        .render(
            "review.html",
            context! { merchants => rows, next_href, can_decide },
        )
        .into_response())
}

/// Who may decide on applications: as `POST /merchants/{id}/decisions`.
const DECIDERS: &[Role] = &[Role::Admin, Role::Reviewer];

/// What the review form may do (suspending and reinstating stay in the API).
const REVIEW_ACTIONS: [DecisionAction; 3] = [
    DecisionAction::Approve,
    DecisionAction::RequestChanges,
    DecisionAction::Reject,
];

#[derive(Deserialize)]
pub struct DecideForm {
    csrf: String,
    action: String,
    #[serde(default)]
    reason: String,
}

#[handler]
pub async fn decide(
    state: Data<&AppState>,
    s: Signed,
    id: Path<i64>,
    form: Form<DecideForm>,
) -> PageResult {
    s.check_csrf(&form.csrf)?;
    s.require(DECIDERS)?;
    let action = REVIEW_ACTIONS
        .into_iter()
        .find(|a| a.as_str() == form.action)
        .ok_or(PageError::word(StatusCode::BAD_REQUEST, "bad_request"))?;
    let m = merchants::decide(&state.db, &s.staff.actor(), id.0, action, &form.reason).await?;
    audit::record(
        &state.db,
        &s.staff.actor(),
        "dashboard_review_decide",
        &format!("{BASE}/review/{}", m.id),
        serde_json::json!({ "action": action.as_str(), "role": s.staff.role.as_str() }),
    )
    .await
    .map_err(PageError::from)?;
    Ok(see_other(&format!("{BASE}/review?decided={}", m.id)))
}

// ---------------------------------------------------------------------------------------------
// Outbox and webhooks

#[handler]
pub async fn outbox(req: &Request, state: Data<&AppState>, s: Signed) -> PageResult {
    let view = s.view(&path_of(req), "outbox");
    let emails = dispatcher::list(
        &state.db,
        dispatcher::ListFilter::default(),
        OUTBOX_ROWS,
        None,
    )
    .await
    .map_err(PageError::from)?;
    // Webhooks are the admins' (as `GET /webhooks`).
    let webhooks = if s.require(&[Role::Admin]).is_ok() {
        let mut out = Vec::new();
        for e in webhooks::list(&state.db, Owner::Platform, 20, None).await? {
            let deliveries =
                webhooks::deliveries(&state.db, Owner::Platform, e.id, 10, None).await?;
            out.push(context! {
                id => e.id,
                url => e.url,
                enabled => e.status == entity::enums::WebhookEndpointStatus::Active,
                deliveries => deliveries.iter().take(10).map(|(d, ev)| context! {
                    id => d.id,
                    event => ev.kind.as_str(),
                    status => format!("delivery_{}", d.status.as_str()),
                    attempts => d.attempts,
                    response => d.response_status,
                }).collect::<Vec<_>>(),
            });
        }
        Some(out)
    } else {
        None
    };
    Ok(view
        .render(
            "outbox.html",
            context! {
                emails => emails.iter().take(OUTBOX_ROWS as usize).map(|e| context! {
                    id => e.id,
                    kind => format!("email_{}", e.kind.as_str()),
                    recipient => e.recipient,
                    subject => e.subject,
                    status => format!("email_status_{}", e.status.as_str()),
                    attempts => e.attempts,
                    last_error => e.last_error,
                }).collect::<Vec<_>>(),
                webhooks,
            },
        )
        .into_response())
}

#[handler]
pub async fn retry_delivery(
    state: Data<&AppState>,
    s: Signed,
    ids: Path<(i64, i64)>,
    form: Form<CsrfForm>,
) -> PageResult {
    s.check_csrf(&form.csrf)?;
    s.require(&[Role::Admin])?;
    let (endpoint, delivery) = ids.0;
    webhooks::retry(&state.db, Owner::Platform, endpoint, delivery, Utc::now()).await?;
    audit::record(
        &state.db,
        &s.staff.actor(),
        "dashboard_webhook_retry",
        &format!("{BASE}/webhooks/{endpoint}/deliveries/{delivery}/retry"),
        serde_json::json!({ "role": s.staff.role.as_str() }),
    )
    .await
    .map_err(PageError::from)?;
    Ok(see_other(&format!("{BASE}/outbox")))
}
