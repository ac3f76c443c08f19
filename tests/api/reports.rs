//! The weekly merchant report and the daily staff digest: contents, preview, opt-out, locale,
//! once per period. Also renders the saved samples under `docs/emails/`.

use crate::support;

use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;
use serde_json::json;
use support::{As, TestApp, spawn_app, spawn_app_with};

/// Monday 2026-11-23 09:00 in Shanghai: the weekly report covers 16–22 Nov.
const AS_OF: &str = "2026-11-23T01:00:00Z";

fn as_of() -> DateTime<Utc> {
    AS_OF.parse().unwrap()
}

/// A brand merchant in a yearly programme, with two weeks of GMV.
async fn merchant_with_report_data(app: &TestApp) -> (i64, String, i64) {
    let (id, key) = app.approved_merchant("brand").await;
    let program = support::insert_program(
        &app.db,
        "品牌商家年 GMV 破亿",
        "year",
        &[
            ("千万俱乐部", 1_000_000_000),
            ("五千万", 5_000_000_000),
            ("亿元俱乐部", 10_000_000_000),
        ],
        1000,
    )
    .await;
    support::insert_progress(
        &app.db,
        program,
        ("2026-01-01", "2026-12-31"),
        id,
        6_543_210_000,
        (1, Some("五千万")),
        Some(("亿元俱乐部", 10_000_000_000)),
        9_100_000_000,
        "at_risk",
    )
    .await;
    for (day, channel, amount) in [
        ("2026-11-16", "live_stream", 300_000_000),
        ("2026-11-18", "live_stream", 200_000_000),
        ("2026-11-20", "short_video", 12_345_600),
        ("2026-11-22", "storefront", 99_900),
        ("2026-11-10", "live_stream", 250_000_000),
        ("2026-11-12", "short_video", 20_000_000),
        // Outside both weeks: not counted.
        ("2026-11-23", "live_stream", 777_777_777),
        ("2026-11-08", "live_stream", 888_888_888),
    ] {
        support::insert_gmv_day(&app.db, id, day, channel, amount).await;
    }
    support::set_last_gmv_at(&app.db, id, Some(as_of() - chrono::Duration::hours(20))).await;
    (id, key, program)
}

#[tokio::test]
async fn the_weekly_report_preview_shows_progress_and_channels() {
    let app = spawn_app().await;
    let (id, key, _) = merchant_with_report_data(&app).await;

    let r = app
        .get(
            &format!("/api/v1/merchants/{id}/report?format=html&as_of={AS_OF}"),
            &As::Admin,
        )
        .await
        .expect(200);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = &r.text;
    for expected in [
        "品牌商家年 GMV 破亿",
        "¥6,543.21万",   // value
        "¥3,456.79万",   // remaining to the next tier
        "¥9,100.00万",   // projected
        "width=\"65%\"", // the progress bar: 6,543.21万 of 1亿
        "有风险",
        "2026-11-16 – 2026-11-22",
        "¥500.00万", // live stream this week
        "¥250.00万", // live stream last week
        "+100.00%",  // live stream change
        "¥12.35万",  // short video this week
        "¥999.00",   // storefront
        "¥512.45万", // total this week
    ] {
        assert!(html.contains(expected), "{expected} missing from {html}");
    }
    assert!(
        !html.contains("¥777.78万"),
        "days after the week are not counted"
    );
    assert!(!html.contains("3 天"), "GMV arrived recently: no warning");

    let r = app
        .get(
            &format!("/api/v1/merchants/{id}/report?format=text&as_of={AS_OF}"),
            &As::Merchant(key),
        )
        .await
        .expect(200);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        r.text.contains("下一档 亿元俱乐部（¥1.00亿）：已完成 65%"),
        "{}",
        r.text
    );
    assert!(!r.text.contains('<'), "{}", r.text);

    // Another merchant's key sees 404, as for an unknown merchant.
    let (_, other) = app.approved_merchant("industry_belt").await;
    app.get(
        &format!("/api/v1/merchants/{id}/report"),
        &As::Merchant(other),
    )
    .await
    .expect_error(404, "not_found");
    app.get("/api/v1/merchants/999999/report", &As::Admin)
        .await
        .expect_error(404, "not_found");
    app.get(&format!("/api/v1/merchants/{id}/report"), &As::Anonymous)
        .await
        .expect(401);
}

#[tokio::test]
async fn merchant_text_is_escaped_in_html_and_stale_data_is_flagged() {
    let app = spawn_app().await;
    let mut body = app.application("brand");
    body["display_name"] = json!("<script>alert(1)</script>小店");
    let r = app
        .post("/api/v1/merchants", &As::Anonymous, body)
        .await
        .expect(201);
    let id = r.body["merchant"]["id"].as_i64().unwrap();
    app.decide(id, "approve", "").await.expect(200);
    support::set_last_gmv_at(&app.db, id, Some(as_of() - chrono::Duration::days(4))).await;

    let html = app
        .get(
            &format!("/api/v1/merchants/{id}/report?as_of={AS_OF}"),
            &As::Admin,
        )
        .await
        .expect(200)
        .text;
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;小店"),
        "{html}"
    );
    assert!(html.contains("已 3 天未收到 GMV"), "{html}");
    assert!(html.contains("暂未参与任何激励计划"), "{html}");

    // No GMV ever is stale too; English on request.
    support::set_last_gmv_at(&app.db, id, None).await;
    let text = app
        .get(
            &format!("/api/v1/merchants/{id}/report?format=text&as_of={AS_OF}"),
            &As::Admin,
        )
        .await
        .expect(200)
        .text;
    assert!(
        text.contains("已连续 3 天或以上没有收到 GMV 数据"),
        "{text}"
    );
}

#[tokio::test]
async fn the_weekly_digest_respects_opt_out_and_locale_once_per_week() {
    let app = spawn_app().await;
    let (zh, _, _) = merchant_with_report_data(&app).await;
    let (en, en_key) = app.approved_merchant("industry_belt").await;
    let (_, off_key) = app.approved_merchant("brand").await;
    let (pending, _) = app.register_merchant("brand").await; // not approved: no report
    app.put(
        "/api/v1/me/notifications",
        &As::Merchant(en_key),
        json!({"weekly_report": true, "locale": "en"}),
    )
    .await
    .expect(200);
    app.put(
        "/api/v1/me/notifications",
        &As::Merchant(off_key),
        json!({"weekly_report": false, "locale": "zh-CN"}),
    )
    .await
    .expect(200);

    // Only admins may trigger digests.
    let analyst = app.staff_token("analyst").await;
    app.post(
        "/api/v1/digests",
        &As::Staff(analyst),
        json!({"kind": "merchant_weekly"}),
    )
    .await
    .expect(403);
    app.post(
        "/api/v1/digests",
        &As::Admin,
        json!({"kind": "monthly_novel"}),
    )
    .await
    .expect(400);

    let r = app
        .digest(json!({"kind": "merchant_weekly", "as_of": AS_OF}))
        .await;
    assert_eq!(r.body["recipients"], 2, "{}", r.text);
    assert_eq!(r.body["queued"], 2, "{}", r.text);
    let weekly: Vec<_> = app
        .outbox()
        .await
        .into_iter()
        .filter(|r| r.kind.as_str() == "merchant_weekly")
        .collect();
    assert_eq!(weekly.len(), 2);
    let zh_row = weekly.iter().find(|r| r.merchant_id == Some(zh)).unwrap();
    let en_row = weekly.iter().find(|r| r.merchant_id == Some(en)).unwrap();
    assert!(weekly.iter().all(|r| r.merchant_id != Some(pending)));
    assert_eq!(
        zh_row.dedupe_key,
        format!("merchant_weekly:{zh}:2026-11-16")
    );
    assert!(
        zh_row.subject.starts_with("【经营周报】"),
        "{}",
        zh_row.subject
    );
    assert_eq!(zh_row.locale.as_str(), "zh-CN");
    assert!(
        en_row.subject.starts_with("[Weekly report]"),
        "{}",
        en_row.subject
    );
    assert_eq!(en_row.locale.as_str(), "en");
    assert!(en_row.text_body.contains("GMV BY CHANNEL"));
    assert!(en_row.html_body.contains("lang=\"en\""));

    // Later the same week: nothing new. Another week (runs may not be in the future, so the
    // week before): one more each.
    let again = app
        .digest(json!({"kind": "merchant_weekly", "as_of": "2026-11-28T15:00:00Z"}))
        .await;
    assert_eq!(again.body["queued"], 0, "{}", again.text);
    assert_eq!(again.body["duplicates"], 2, "{}", again.text);
    let next = app
        .digest(json!({"kind": "merchant_weekly", "as_of": "2026-11-16T01:00:00Z"}))
        .await;
    assert_eq!(next.body["queued"], 2, "{}", next.text);
}

#[tokio::test]
async fn the_staff_digest_summarises_each_programme_once_a_day() {
    let app =
        spawn_app_with(&[("STAFF_DIGEST_TO", "ops@example.cn, Lead <lead@example.cn>")]).await;
    let (brand, _, program) = merchant_with_report_data(&app).await;
    let (belt, _) = app.approved_merchant("industry_belt").await;
    let (top, _) = app.approved_merchant("brand").await;
    support::insert_progress(
        &app.db,
        program,
        ("2026-01-01", "2026-12-31"),
        top,
        12_300_000_000,
        (2, Some("亿元俱乐部")),
        None,
        14_000_000_000,
        "achieved",
    )
    .await;
    support::insert_progress(
        &app.db,
        program,
        ("2026-01-01", "2026-12-31"),
        belt,
        100_000,
        (-1, None),
        Some(("千万俱乐部", 1_000_000_000)),
        200_000,
        "behind",
    )
    .await;
    let recent = as_of() - chrono::Duration::hours(3);
    support::insert_achievement(
        &app.db,
        program,
        "2026-01-01",
        top,
        ("亿元俱乐部", 10_000_000_000),
        12_300_000_000,
        recent,
        None,
    )
    .await;
    support::insert_achievement(
        &app.db,
        program,
        "2026-01-01",
        belt,
        ("千万俱乐部", 1_000_000_000),
        1_000_000_000,
        as_of() - chrono::Duration::days(30),
        Some(recent),
    )
    .await;
    // Old news is not repeated.
    support::insert_achievement(
        &app.db,
        program,
        "2026-01-01",
        brand,
        ("五千万", 5_000_000_000),
        5_000_000_000,
        as_of() - chrono::Duration::days(3),
        None,
    )
    .await;
    // Industry-belt GMV this year.
    support::insert_gmv_day(&app.db, belt, "2026-11-01", "storefront", 1_000_000_000).await;
    // The marketplace's GMV: ¥1,000万 a day, every day of the year to date (327 days).
    support::set_platform_days(&app.db, "2026-01-01", "2026-11-23", 1_000_000_000).await;

    let r = app
        .digest(json!({"kind": "staff_daily", "as_of": AS_OF}))
        .await;
    assert_eq!(r.body["recipients"], 2, "{}", r.text);
    assert_eq!(r.body["queued"], 2, "{}", r.text);
    let rows: Vec<_> = app
        .outbox()
        .await
        .into_iter()
        .filter(|r| r.kind.as_str() == "staff_daily")
        .collect();
    let mut to: Vec<_> = rows.iter().map(|r| r.recipient.as_str()).collect();
    to.sort();
    assert_eq!(to, vec!["Lead <lead@example.cn>", "ops@example.cn"]);
    assert_eq!(rows[0].dedupe_key, "staff_daily:ops@example.cn:2026-11-23");
    let row = &rows[0];
    assert!(
        row.subject.contains("品牌商家年 GMV 破亿 1/1000"),
        "{}",
        row.subject
    );
    // Brand live stream and industry-belt totals over the year to date (to 23 Nov):
    let brand_live: i64 = 300_000_000 + 200_000_000 + 250_000_000 + 888_888_888 + 777_777_777;
    let total: i64 = 327 * 1_000_000_000;
    let share = |part: i64| {
        let bps = part as i128 * 10_000 / total as i128;
        format!("{}.{:02}%", bps / 100, bps % 100)
    };
    for body in [&row.text_body, &row.html_body] {
        for expected in [
            "品牌商家年 GMV 破亿",
            "/ 目标 1000",
            "0.10%",      // goal share
            "千万俱乐部", // tiers listed
            "¥1.00亿",
            "亿元俱乐部",
            &share(brand_live),
            &share(1_000_000_000),
            "已撤销",
            "有风险（共 1",
            "¥3,456.79万", // the at-risk merchant's remaining
        ] {
            assert!(body.contains(expected), "{expected} missing from {body}");
        }
    }
    assert!(row.text_body.contains("新达成（1）"), "{}", row.text_body);
    assert!(
        !row.text_body.contains("达到 五千万"),
        "old achievements are not repeated"
    );
    assert!(row.text_body.contains("撤销（1）"), "{}", row.text_body);
    assert!(row.text_body.contains("未达档 1"), "{}", row.text_body);

    let again = app
        .digest(json!({"kind": "staff_daily", "as_of": "2026-11-23T12:00:00Z"}))
        .await;
    assert_eq!(again.body["queued"], 0, "{}", again.text);
    assert_eq!(again.body["duplicates"], 2, "{}", again.text);
}

/// ¥1万 in fen.
const WAN: i64 = 1_000_000;

/// A yearly merchant programme created through the API.
async fn create_program(
    app: &TestApp,
    name: &str,
    kinds: &[&str],
    channel: Option<&str>,
    tiers: &[(&str, i64)],
    goal: i64,
) -> i64 {
    let tiers: Vec<_> = tiers
        .iter()
        .map(|(n, t)| json!({"name": n, "threshold": t}))
        .collect();
    let mut body = json!({
        "name": name,
        "subject": "merchant",
        "merchant_kinds": kinds,
        "metric": if channel.is_some() { "channel_gmv" } else { "gmv" },
        "period": "year",
        "starts_on": "2026-01-01",
        "tiers": tiers,
        "goal": goal,
    });
    if let Some(c) = channel {
        body["channel"] = json!(c);
    }
    app.post("/api/v1/programs", &As::Admin, body)
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap()
}

/// Three programmes over one data set, evaluated as of [`AS_OF`]:
/// - `all`: both kinds, all GMV; tiers ¥100万 / ¥500万 / ¥650万, goal 4;
/// - `belt`: industry-belt merchants only, all GMV; tiers ¥50万 / ¥500万, goal 10;
/// - `live`: both kinds, live-stream GMV only; tiers ¥100万 / ¥500万, goal 2.
///
/// GMV of 2026 up to 23 Nov, in 万:
///
/// | merchant          | live | short video | storefront | total |
/// |-------------------|------|-------------|------------|-------|
/// | brand b1          | 600  | 100         |            | 700   |
/// | brand b2          | 150  |             | 50         | 200   |
/// | brand b3          |      |             | 30         | 30    |
/// | industry belt i1  | 200  |             | 400        | 600   |
/// | industry belt i2  |      | 80          |            | 80    |
/// | brand, submitted  | 999  |             |            | —     |
///
/// plus 500 of b1's live stream on 24 Nov (after `as_of`) and 2025 GMV (b1 live 100, i1
/// storefront 100) for the previous period.
struct DataSet {
    all: i64,
    belt: i64,
    live: i64,
}

/// The marketplace's GMV of each day in [`data_set`]: 20万.
const PLATFORM_PER_DAY: i64 = 20 * WAN;
/// Its days from 1 Jan to 23 Nov 2026 (the summary's span as of [`AS_OF`]): 327.
const PLATFORM_YTD: i64 = 327 * PLATFORM_PER_DAY;

/// A share in basis points of the marketplace's GMV to date, as computed by hand.
fn ytd_bp(part_wan: i64) -> Option<i64> {
    Some(part_wan * WAN * 10_000 / PLATFORM_YTD)
}

async fn data_set(app: &TestApp) -> DataSet {
    let (b1, _) = app.approved_merchant("brand").await;
    let (b2, _) = app.approved_merchant("brand").await;
    let (b3, _) = app.approved_merchant("brand").await;
    let (i1, _) = app.approved_merchant("industry_belt").await;
    let (i2, _) = app.approved_merchant("industry_belt").await;
    let (pending, _) = app.register_merchant("brand").await;
    for (m, day, channel, wan) in [
        (b1, "2026-03-10", "live_stream", 600),
        (b1, "2026-05-01", "short_video", 100),
        (b2, "2026-11-20", "live_stream", 150),
        (b2, "2026-11-21", "storefront", 50),
        (b3, "2026-07-07", "storefront", 30),
        (i1, "2026-02-02", "storefront", 400),
        (i1, "2026-06-06", "live_stream", 200),
        (i2, "2026-10-10", "short_video", 80),
        (pending, "2026-04-04", "live_stream", 999),
        (b1, "2026-11-24", "live_stream", 500),
        (b1, "2025-12-01", "live_stream", 100),
        (i1, "2025-12-02", "storefront", 100),
    ] {
        app.add_rollup(m, day, channel, wan * WAN).await;
    }
    // The marketplace sold 20万 a day through 2026 (and the December before).
    support::set_platform_days(&app.db, "2025-12-01", "2026-12-31", PLATFORM_PER_DAY).await;
    let all = create_program(
        app,
        "全体商家年度 GMV",
        &["brand", "industry_belt"],
        None,
        &[
            ("百万", 100 * WAN),
            ("五百万", 500 * WAN),
            ("六百五十万", 650 * WAN),
        ],
        4,
    )
    .await;
    let belt = create_program(
        app,
        "产业带商家年度 GMV",
        &["industry_belt"],
        None,
        &[("五十万", 50 * WAN), ("五百万", 500 * WAN)],
        10,
    )
    .await;
    let live = create_program(
        app,
        "直播 GMV",
        &["brand", "industry_belt"],
        Some("live_stream"),
        &[("百万", 100 * WAN), ("五百万", 500 * WAN)],
        2,
    )
    .await;
    app.evaluate(AS_OF).await;
    DataSet { all, belt, live }
}

async fn summary(app: &TestApp, program: i64) -> serde_json::Value {
    app.get(
        &format!("/api/v1/programs/{program}/summary?as_of={AS_OF}"),
        &As::Admin,
    )
    .await
    .expect(200)
    .body
}

#[tokio::test]
async fn the_staff_digest_and_the_programme_summary_show_the_same_figures() {
    let app = spawn_app_with(&[("STAFF_DIGEST_TO", "ops@example.cn")]).await;
    let set = data_set(&app).await;

    let ctx = merchant_incentives::services::reports::staff_daily::staff_daily_context(
        &app.db,
        merchant_incentives::mail::Locale::ZhCn,
        as_of(),
    )
    .await
    .unwrap();
    let ctx = serde_json::to_value(&ctx).unwrap();
    app.digest(json!({"kind": "staff_daily", "as_of": AS_OF}))
        .await;
    let mail = app
        .outbox()
        .await
        .into_iter()
        .find(|r| r.kind.as_str() == "staff_daily")
        .unwrap();

    // (programme, subjects per tier at or above, subjects, goal, GMV total in 万, shares in bp)
    // Shares are of the marketplace's 6,540万 to date: 750万 brand live stream is 11.46%.
    assert_eq!(ytd_bp(750), Some(1_146));
    let expected = [
        (
            set.all,
            vec![3, 2, 1],
            5,
            4,
            1_610,
            ytd_bp(750),
            ytd_bp(680),
        ),
        (set.belt, vec![2, 1], 2, 10, 680, Some(0), ytd_bp(680)),
        (set.live, vec![3, 1], 3, 2, 950, ytd_bp(750), ytd_bp(200)),
    ];
    for (program, per_tier, subjects, goal, total_wan, brand_bp, belt_bp) in expected {
        let s = summary(&app, program).await;
        let d = ctx["programs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["program_id"] == program)
            .unwrap_or_else(|| panic!("programme {program} missing from {ctx}"));
        let top = *per_tier.last().unwrap();
        let tiers = |v: &serde_json::Value| -> Vec<i64> {
            v["tiers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["subjects"].as_i64().unwrap())
                .collect()
        };
        let bp = |v: &serde_json::Value| v.as_i64();
        let g = &s["gmv"]["current"];
        assert_eq!(
            (tiers(&s), tiers(d)),
            (per_tier.clone(), per_tier.clone()),
            "{program}: {s} / {d}"
        );
        assert_eq!(
            (&s["top_tier_reached"], &d["top_tier_subjects"]),
            (&json!(top), &json!(top))
        );
        assert_eq!((&s["goal"], &d["goal"]), (&json!(goal), &json!(goal)));
        assert_eq!(
            (&s["subjects"], &d["subjects"]),
            (&json!(subjects), &json!(subjects))
        );
        assert_eq!(d["below_first_tier"], subjects - per_tier[0]);
        assert_eq!(
            (&g["total"], &d["gmv_total_fen"]),
            (&json!(total_wan * WAN), &json!(total_wan * WAN))
        );
        assert_eq!(
            (&g["from"], &g["to"]),
            (&json!("2026-01-01"), &json!("2026-11-23"))
        );
        assert_eq!(
            (
                bp(&g["brand_live_stream_share_bp"]),
                bp(&d["brand_live_share_bp"])
            ),
            (brand_bp, brand_bp),
            "{program}"
        );
        assert_eq!(
            (
                bp(&g["industry_belt_share_bp"]),
                bp(&d["industry_belt_share_bp"])
            ),
            (belt_bp, belt_bp),
            "{program}"
        );

        // The email shows the same figures.
        let name = d["name"].as_str().unwrap();
        let percent = |b: Option<i64>| {
            let b = b.unwrap();
            format!("{}.{:02}%", b / 100, b % 100)
        };
        let text = &mail.text_body;
        let section = text
            .split("\n== ")
            .find(|part| part.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing from {text}"));
        for line in [
            format!("：{top} / 目标 {goal}"),
            format!("参与评估 {subjects}，未达档 {}", subjects - per_tier[0]),
            format!(
                "本期 GMV {}；平台 GMV {}（平台数据覆盖天数 327/327）；品牌直播占比 {}；产业带占比 {}",
                merchant_incentives::domain::money::format_cny(total_wan * WAN),
                merchant_incentives::domain::money::format_cny(PLATFORM_YTD),
                percent(brand_bp),
                percent(belt_bp)
            ),
        ] {
            assert!(section.contains(&line), "{line:?} missing from {section}");
        }
        for (t, n) in s["tiers"].as_array().unwrap().iter().zip(&per_tier) {
            let line = format!("  - {}（≥ ", t["name"].as_str().unwrap());
            let at = section
                .find(&line)
                .unwrap_or_else(|| panic!("{line} in {section}"));
            let rest = &section[at..];
            let end = rest.find('\n').unwrap();
            assert!(rest[..end].ends_with(&format!("：{n}")), "{}", &rest[..end]);
        }
    }
    assert!(
        mail.subject.contains("全体商家年度 GMV 1/4"),
        "{}",
        mail.subject
    );
}

#[tokio::test]
async fn an_industry_belt_only_programme_counts_only_industry_belt_gmv() {
    let app = spawn_app().await;
    let set = data_set(&app).await;
    let all = summary(&app, set.all).await;
    let belt = summary(&app, set.belt).await;
    let live = summary(&app, set.live).await;
    let current = |s: &serde_json::Value| {
        let g = &s["gmv"]["current"];
        (
            g["total"].as_i64().unwrap(),
            g["brand_live_stream"].as_i64().unwrap(),
            g["industry_belt"].as_i64().unwrap(),
            g["brand_live_stream_share_bp"].as_i64(),
            g["industry_belt_share_bp"].as_i64(),
        )
    };
    // Every approved merchant's GMV to 23 Nov: 1,610万, of which brand live stream 750万
    // (b1 600 + b2 150) and industry belt 680万 (i1 600 + i2 80). The submitted merchant's 999万
    // and b1's 500万 of 24 Nov do not count. Shares are of the marketplace's 6,540万:
    // 750/6,540 = 11.46…%, 680/6,540 = 10.39…%.
    assert_eq!(
        current(&all),
        (1_610 * WAN, 750 * WAN, 680 * WAN, Some(1_146), Some(1_039))
    );
    // Industry-belt merchants only: no brand live stream.
    assert_eq!(
        current(&belt),
        (680 * WAN, 0, 680 * WAN, Some(0), Some(1_039))
    );
    // Live stream only: 950万 (b1 600 + b2 150 + i1 200); 200/6,540 = 3.05…%.
    assert_eq!(
        current(&live),
        (950 * WAN, 750 * WAN, 200 * WAN, Some(1_146), Some(305))
    );
    // The previous year (2025): b1 live 100万 and i1 storefront 100万.
    let previous = |s: &serde_json::Value| {
        let g = &s["gmv"]["previous"];
        (
            g["total"].as_i64().unwrap(),
            g["brand_live_stream_share_bp"].as_i64(),
            g["industry_belt_share_bp"].as_i64(),
        )
    };
    // The marketplace's totals of 2025 cover only December, so that year has no shares, and
    // neither has the change; its coverage says why.
    assert_eq!(previous(&all), (200 * WAN, None, None));
    assert_eq!(previous(&belt), (100 * WAN, None, None));
    assert_eq!(previous(&live), (100 * WAN, None, None));
    assert_eq!(all["gmv"]["previous"]["coverage_days"], 31);
    assert!(all["gmv"]["previous"].get("platform_total").is_none());
    assert!(all["gmv"].get("industry_belt_share_change_bp").is_none());
    // Subjects follow the same filters: the belt programme ranks i1 and i2 only.
    assert_eq!(belt["subjects"], 2);
    assert_eq!(all["subjects"], 5);
    assert_eq!(all["projected_top_tier"], 1);
}

/// Renders every template once with fixed sample data into `docs/emails/`. With
/// `UPDATE_EMAIL_SAMPLES=1` the files are (re)written; otherwise they must match, so the
/// samples in the README never drift from what the code sends.
#[tokio::test]
async fn email_samples_in_docs_match_the_templates() {
    let app = spawn_app_with(&[("STAFF_DIGEST_TO", "ops@example.cn")]).await;
    let (id, _, _) = merchant_with_report_data(&app).await;
    let (en, en_key) = app.approved_merchant("industry_belt").await;
    app.put(
        "/api/v1/me/notifications",
        &As::Merchant(en_key),
        json!({"weekly_report": true, "locale": "en"}),
    )
    .await
    .expect(200);
    support::set_last_gmv_at(&app.db, en, Some(as_of() - chrono::Duration::days(5))).await;
    // A top-tier merchant reached yesterday, a revoked tier, and some industry-belt GMV.
    let program = support::insert_program(
        &app.db,
        "产业带商家季度冲刺",
        "quarter",
        &[("百万", 100_000_000), ("千万", 1_000_000_000)],
        100,
    )
    .await;
    {
        // Industry-belt merchants only: its GMV structure counts their GMV alone.
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        entity::program::Entity::update_many()
            .col_expr(
                entity::program::Column::MerchantKinds,
                Expr::value("industry_belt"),
            )
            .filter(entity::program::Column::Id.eq(program))
            .exec(&app.db)
            .await
            .unwrap();
    }
    support::insert_progress(
        &app.db,
        program,
        ("2026-10-01", "2026-12-31"),
        en,
        1_234_567_800,
        (1, Some("千万")),
        None,
        1_500_000_000,
        "achieved",
    )
    .await;
    support::insert_progress(
        &app.db,
        program,
        ("2026-10-01", "2026-12-31"),
        id,
        98_000_000,
        (-1, None),
        Some(("百万", 100_000_000)),
        99_000_000,
        "at_risk",
    )
    .await;
    // Their standing through the quarter, as evaluations recorded it (the charts draw it).
    for (subject, points) in [
        (
            en,
            [
                (10, 300_000_000, 0),
                (25, 700_000_000, -1),
                (40, 1_100_000_000, 1),
                (53, 1_234_567_800, 1),
            ],
        ),
        (
            id,
            [
                (10, 20_000_000, -1),
                (25, 45_000_000, -1),
                (40, 80_000_000, -1),
                (53, 98_000_000, -1),
            ],
        ),
    ] {
        use sea_orm::ActiveModelTrait;
        for (days, value, tier_index) in points {
            let day = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()
                + chrono::Duration::days(days);
            entity::progress_snapshot::ActiveModel {
                run_id: sea_orm::Set(1),
                program_id: sea_orm::Set(program),
                period_start: sea_orm::Set(chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()),
                subject_id: sea_orm::Set(subject.to_string()),
                value: sea_orm::Set(value),
                tier_index: sea_orm::Set(tier_index),
                projected: sea_orm::Set(value * 92 / (days + 1)),
                status: sea_orm::Set(entity::enums::ProgressStatus::OnTrack),
                evaluated_at: sea_orm::Set(as_of()),
                day: sea_orm::Set(day),
                ..Default::default()
            }
            .insert(&app.db)
            .await
            .unwrap();
        }
    }
    // The programme's tier counts on those days, as those evaluations tallied them.
    {
        use sea_orm::{ActiveModelTrait, EntityTrait};
        let row = entity::program::Entity::find_by_id(program)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let top = merchant_incentives::services::reports::program_def(&row)
            .unwrap()
            .tiers
            .last()
            .unwrap()
            .threshold;
        // (The summary's standing is the progress rows above, tallied today.)
        for (days, en_value, en_tier, id_value) in [
            (10, 300_000_000, 0, 20_000_000),
            (25, 700_000_000, -1, 45_000_000),
            (40, 1_100_000_000, 1, 80_000_000),
            (53, 1_234_567_800, 1, 98_000_000),
        ] {
            let day = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()
                + chrono::Duration::days(days);
            let reaches = |v: i64| i64::from(v * 92 / (days + 1) >= top);
            let mut per: std::collections::BTreeMap<i32, (i64, i64)> = Default::default();
            for (tier, value) in [(en_tier, en_value), (-1, id_value)] {
                let e = per.entry(tier).or_default();
                e.0 += 1;
                e.1 += reaches(value);
            }
            for (tier_index, (subjects, projected_top)) in per {
                entity::tier_tally::ActiveModel {
                    program_id: sea_orm::Set(program),
                    period_start: sea_orm::Set(
                        chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
                    ),
                    day: sea_orm::Set(day),
                    tier_index: sea_orm::Set(tier_index),
                    status: sea_orm::Set(entity::enums::ProgressStatus::OnTrack),
                    subjects: sea_orm::Set(subjects),
                    projected_top: sea_orm::Set(projected_top),
                    run_id: sea_orm::Set(1),
                }
                .insert(&app.db)
                .await
                .unwrap();
            }
        }
    }
    let yesterday = as_of() - chrono::Duration::hours(10);
    support::insert_achievement(
        &app.db,
        program,
        "2026-10-01",
        en,
        ("千万", 1_000_000_000),
        1_234_567_800,
        yesterday,
        None,
    )
    .await;
    support::insert_achievement(
        &app.db,
        program,
        "2026-10-01",
        id,
        ("百万", 100_000_000),
        100_500_000,
        as_of() - chrono::Duration::days(9),
        Some(yesterday),
    )
    .await;
    support::insert_gmv_day(&app.db, en, "2026-11-20", "storefront", 1_234_567_800).await;
    // The marketplace's totals for the quarter to date, and a creator with an address.
    support::set_platform_days(&app.db, "2026-10-01", "2026-11-23", 5_000_000_000).await;
    app.post(
        "/api/v1/creators",
        &As::Admin,
        json!({"creators": [{"id": "dy_sample", "nickname": "义乌小杨的好物分享", "contact_email": "yang@daren.example"}]}),
    )
    .await
    .expect(200);
    app.add_creator_rollup("dy_sample", en, "2026-11-18", "live_stream", 345_678_900)
        .await;
    app.digest(json!({"kind": "merchant_weekly", "as_of": AS_OF}))
        .await;
    app.digest(json!({"kind": "staff_daily", "as_of": AS_OF}))
        .await;
    let rows = app.outbox().await;
    use merchant_incentives::mail::InlineImage;
    let pick = |f: &dyn Fn(&entity::email_outbox::Model) -> bool| {
        let row = rows.iter().find(|r| f(r)).unwrap();
        (row.html_body.clone(), InlineImage::of_row(row).unwrap())
    };
    let staff_en = merchant_incentives::services::reports::staff_daily::staff_daily_context(
        &app.db,
        merchant_incentives::mail::Locale::En,
        as_of(),
    )
    .await
    .unwrap();
    let samples = [
        (
            "merchant_weekly.html",
            pick(&|r| r.kind.as_str() == "merchant_weekly" && r.merchant_id == Some(id)),
        ),
        (
            "merchant_weekly.en.html",
            pick(&|r| r.kind.as_str() == "merchant_weekly" && r.merchant_id == Some(en)),
        ),
        (
            "staff_daily.html",
            pick(&|r| r.kind.as_str() == "staff_daily"),
        ),
        (
            "creator_weekly.html",
            pick(&|r| r.kind.as_str() == "creator_weekly"),
        ),
        (
            "staff_daily.en.html",
            (
                merchant_incentives::mail::templates::render(
                    entity::enums::EmailKind::StaffDaily,
                    &staff_en,
                )
                .unwrap()
                .html,
                merchant_incentives::mail::digests::staff_daily_images(&staff_en).unwrap(),
            ),
        ),
        (
            "onboarding_status.html",
            pick(&|r| r.kind.as_str() == "onboarding_status" && r.merchant_id == Some(id)),
        ),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/emails");
    let update = std::env::var("UPDATE_EMAIL_SAMPLES").is_ok_and(|v| v == "1");
    let mut images_seen = 0;
    for (name, (mut html, images)) in samples {
        // Each inline image is saved beside the sample, which shows it by file name.
        let mut files = Vec::new();
        for image in images {
            let at = html
                .find(&format!("src=\"cid:{}\"", image.cid))
                .unwrap_or_else(|| panic!("{name} shows {}", image.cid));
            // Read without images, the chart is its alt text, with the latest figures.
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            let alt = &tag[tag.find("alt=\"").expect("an alt text") + 5..];
            let alt = &alt[..alt.find('"').unwrap()];
            assert!(
                alt.chars().count() > 30 && alt.chars().any(|c| c.is_ascii_digit()),
                "{name}: {} has alt {alt:?}",
                image.cid
            );
            let file = format!(
                "{}.{}.png",
                name.trim_end_matches(".html"),
                image.cid.split('@').next().unwrap()
            );
            html = html.replace(&format!("cid:{}", image.cid), &file);
            use base64::Engine;
            let png = base64::engine::general_purpose::STANDARD
                .decode(&image.png)
                .unwrap();
            assert!(png.starts_with(b"\x89PNG"), "{file} is a PNG");
            files.push((file, png));
            images_seen += 1;
        }
        assert!(
            !html.contains("cid:"),
            "{name}: every image it refers to is attached"
        );
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &html).unwrap();
            for (file, png) in &files {
                std::fs::write(dir.join(file), png).unwrap();
            }
        } else {
            let saved = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                saved == html,
                "{} is out of date; run UPDATE_EMAIL_SAMPLES=1 cargo test --test api reports::",
                path.display()
            );
            for (file, png) in &files {
                let saved = std::fs::read(dir.join(file)).unwrap_or_default();
                assert!(
                    &saved == png,
                    "{file} is out of date; run UPDATE_EMAIL_SAMPLES=1 cargo test --test api reports::"
                );
            }
        }
    }
    assert!(
        images_seen >= 3,
        "the weekly reports and the digests carry charts ({images_seen})"
    );
}

#[tokio::test]
async fn a_digest_runs_in_the_background_and_is_read_by_its_id() {
    let app = spawn_app_with(&[("STAFF_DIGEST_TO", "ops@example.cn")]).await;
    let done = app
        .digest(json!({"kind": "staff_daily", "as_of": AS_OF}))
        .await;
    assert_eq!(done.body["kind"], "staff_daily", "{}", done.text);
    assert_eq!(done.body["trigger"], "api");
    assert_eq!(
        done.body["as_of"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        AS_OF.parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(done.body["recipients"], 1);
    assert_eq!(done.body["queued"], 1);
    assert_eq!(done.body["duplicates"], 0);
    assert!(done.body["finished_at"].is_string(), "{}", done.text);

    // A future as_of is refused before anything starts.
    app.post(
        "/api/v1/digests",
        &As::Admin,
        json!({"kind": "staff_daily", "as_of": "2099-01-01T00:00:00Z"}),
    )
    .await
    .expect_error(422, "as_of_in_future");
    let runs = entity::job_run::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");

    // An evaluation run is not a digest run, and an unknown id is nobody's.
    let evaluation = app.evaluate(AS_OF).await;
    for id in [evaluation["id"].as_i64().unwrap(), 9_999] {
        app.get(&format!("/api/v1/digests/{id}"), &As::Admin)
            .await
            .expect_error(404, "not_found");
    }
    let analyst = As::Staff(app.staff_token("analyst").await);
    let seen = app
        .get(&format!("/api/v1/digests/{}", done.body["id"]), &analyst)
        .await
        .expect(200);
    assert_eq!(seen.body, done.body);
}
