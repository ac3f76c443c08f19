//! `merchant-incentives demo`: fills an empty database with realistic merchants and a year of
//! GMV (written through the GMV service, as merchants would send it), then evaluates, so
//! the leaderboards in Swagger UI have something to show. Also the `evaluate` command.

use std::io::{IsTerminal, Write};

use anyhow::Context;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use entity::{merchant, merchant_decision};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait, Set};
use serde_json::Value as Json;

use crate::{
    config::Config,
    domain::{
        gmv::{CURRENCY, Channel},
        merchant::{DecisionAction, MerchantKind, MerchantStatus},
    },
    mail::Locale,
    services::{
        evaluation,
        gmv::{self, ItemStatus},
        runs::Trigger,
    },
};

/// A progress line on stderr when it is a terminal; silent otherwise.
pub struct Bar {
    label: String,
    total: u64,
    tty: bool,
}

impl Bar {
    pub fn new(label: &str, total: u64) -> Self {
        Self {
            label: label.to_string(),
            total,
            tty: std::io::stderr().is_terminal(),
        }
    }

    pub fn set(&self, done: u64) {
        if !self.tty {
            return;
        }
        let mut err = std::io::stderr();
        let width = 30;
        if let Some(filled) = (done.min(self.total) * width).checked_div(self.total) {
            let filled = filled as usize;
            let _ = write!(
                err,
                "\r{} [{}{}] {}/{}",
                self.label,
                "#".repeat(filled),
                " ".repeat(width as usize - filled),
                done,
                self.total
            );
        } else {
            let _ = write!(err, "\r{}: {}", self.label, done);
        }
        let _ = err.flush();
    }

    pub fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// `merchant-incentives evaluate [--as-of]`: one run, printed as JSON.
pub async fn evaluate_cli(
    db: &DatabaseConnection,
    config: &Config,
    as_of: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    let as_of = as_of.unwrap_or_else(Utc::now);
    let bar = std::sync::Mutex::new(None::<(String, Bar)>);
    let on_progress = |name: &str, n: u64| {
        let mut b = bar.lock().expect("progress lock");
        if b.as_ref().is_none_or(|(l, _)| l != name) {
            if let Some((_, old)) = b.take() {
                old.finish();
            }
            *b = Some((name.to_string(), Bar::new(name, 0)));
        }
        if let Some((_, bar)) = b.as_ref() {
            bar.set(n);
        }
    };
    let result = evaluation::run(
        db,
        as_of,
        Trigger::Cli,
        &config.replica,
        chrono::Duration::from_std(config.run_lease).unwrap_or(chrono::Duration::seconds(30)),
        &on_progress,
    )
    .await;
    if let Some((_, b)) = bar.lock().expect("progress lock").take() {
        b.finish();
    }
    let run = result?;
    println!(
        "{}",
        serde_json::json!({
            "id": run.id,
            "as_of": run.as_of,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "outcome": run.outcome,
            "subjects_evaluated": run.subjects_evaluated,
            "achievements_recorded": run.achievements_recorded,
            "achievements_revoked": run.achievements_revoked,
            "emails_queued": run.emails_queued,
        })
    );
    Ok(())
}

/// A small deterministic generator (splitmix64), so `--seed` reproduces the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform in [0, 1), as thousandths.
    fn permille(&mut self) -> i64 {
        self.below(1000) as i64
    }
}

const BELTS: &[(&str, &str, &str, &str)] = &[
    ("义乌小商品", "浙江", "金华", "日用百货"),
    ("广州女装", "广东", "广州", "女装"),
    ("深圳3C", "广东", "深圳", "3C数码"),
    ("晋江鞋服", "福建", "泉州", "鞋服"),
    ("曹县汉服", "山东", "菏泽", "汉服"),
    ("杭州女装", "浙江", "杭州", "女装"),
    ("德化陶瓷", "福建", "泉州", "家居"),
];

const BRANDS: &[(&str, &str)] = &[
    ("星河", "美妆个护"),
    ("云麓", "茶饮"),
    ("禾野", "食品"),
    ("北辰", "运动户外"),
    ("青禾", "母婴"),
    ("曜石", "3C数码"),
    ("栖木", "家居"),
    ("南枝", "女装"),
];

const CHANNELS: &[(Channel, i64)] = &[
    (Channel::LiveStream, 55),
    (Channel::ShortVideo, 25),
    (Channel::Storefront, 17),
    (Channel::Other, 3),
];

/// Demand multiplier for a day, in percent: the 618 and Double 11 festivals peak.
fn season(day: NaiveDate) -> i64 {
    match (day.month(), day.day()) {
        (6, 18) => 500,
        (6, 1..=17) => 180,
        (11, 11) => 600,
        (10, 20..=31) | (11, 1..=10) => 200,
        (12, 12) => 250,
        (2, 1..=14) => 60, // Spring Festival lull
        _ => 100,
    }
}

fn uscc(n: u64) -> String {
    crate::domain::uscc::synthetic("440300", n)
}

/// Fills an empty database and evaluates.
pub async fn run(
    db: &DatabaseConnection,
    config: &Config,
    merchants: u32,
    seed: u64,
) -> anyhow::Result<()> {
    if merchant::Entity::find().count(db).await? > 0 {
        anyhow::bail!(
            "the database already has merchants; run the demo against an empty database \
             (e.g. DATABASE_URL=sqlite://data/demo.db?mode=rwc)"
        );
    }
    let mut rng = Rng(seed);
    let now = Utc::now();
    let today = now.with_timezone(&Shanghai).date_naive();
    let first = today - Duration::days(365);
    let creators: Vec<String> = (1..=CREATORS).map(creator_id).collect();
    register_creators(db, &creators).await?;
    let bar = Bar::new("demo data", u64::from(merchants));
    let mut records_total = 0u64;
    for n in 0..u64::from(merchants) {
        let brand = n % 5 < 2; // 40% brands, 60% industry belt
        let (kind, legal, display, province, city, category, brand_name, belt) = if brand {
            let (b, cat) = BRANDS[(n as usize) % BRANDS.len()];
            (
                MerchantKind::Brand,
                format!("{b}{n}品牌管理有限公司"),
                format!("{b}{n}官方旗舰店"),
                "上海",
                "上海",
                cat,
                Some(format!("{b}{n}")),
                None,
            )
        } else {
            let (belt, prov, city, cat) = BELTS[(n as usize) % BELTS.len()];
            (
                MerchantKind::IndustryBelt,
                format!("{city}市第{n}{cat}有限公司"),
                format!("{belt}·{n}号工厂店"),
                prov,
                city,
                cat,
                None,
                Some(belt.to_string()),
            )
        };
        let row = merchant::ActiveModel {
            kind: Set(kind),
            status: Set(MerchantStatus::Approved),
            legal_name: Set(legal),
            display_name: Set(display),
            uscc: Set(uscc(seed.wrapping_mul(1_000_003).wrapping_add(n))),
            contact_email: Set(format!("merchant{n}@demo.example.cn")),
            province: Set(province.into()),
            city: Set(city.into()),
            category: Set(category.into()),
            trademark_number: Set(brand_name.as_ref().map(|_| format!("{}", 30_000_000 + n))),
            brand_name: Set(brand_name),
            industry_belt: Set(belt),
            weekly_report: Set(true),
            locale: Set(if n % 7 == 0 { Locale::En } else { Locale::ZhCn }),
            last_gmv_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        // The merchant and its approval in one write transaction, retried like every other.
        let m = crate::db::retry(|| {
            let row = row.clone();
            async move {
                let txn = crate::db::begin_write(db).await?;
                let m = merchant::Entity::insert(row)
                    .exec_with_returning(&txn)
                    .await?;
                merchant_decision::Entity::insert(merchant_decision::ActiveModel {
                    merchant_id: Set(m.id),
                    actor: Set("staff:demo".into()),
                    action: Set(DecisionAction::Approve),
                    reason: Set("演示数据".into()),
                    from_status: Set(MerchantStatus::Submitted),
                    to_status: Set(MerchantStatus::Approved),
                    created_at: Set(now),
                    ..Default::default()
                })
                .exec_without_returning(&txn)
                .await?;
                txn.commit().await?;
                Ok::<_, sea_orm::DbErr>(m)
            }
        })
        .await
        .context("writing a demo merchant")?;

        let records = merchant_gmv(&mut rng, m.id, &creators, first, today);
        register_products(db, m.id, category, &records).await?;
        records_total += write_gmv(db, m.id, &records, now)
            .await
            .context("writing demo GMV")?;
        bar.set(n + 1);
    }
    bar.finish();
    eprintln!("demo: {merchants} merchants, {records_total} GMV records from {first} to {today}");
    platform_totals(db, first, today).await?;
    // A month of daily evaluations (as of each evening) gives the history and the trend
    // something to show; the last run is now.
    for back in (1..=30).rev() {
        let evening = Shanghai
            .from_local_datetime(
                &(today - Duration::days(back))
                    .and_hms_opt(22, 0, 0)
                    .expect("time"),
            )
            .single()
            .expect("Shanghai has no DST")
            .with_timezone(&Utc);
        evaluation::run(
            db,
            evening,
            Trigger::Cli,
            &config.replica,
            chrono::Duration::seconds(60),
            &|_, _| {},
        )
        .await
        .context("a demo history evaluation")?;
    }
    eprintln!("demo: 30 daily evaluations for the history");
    evaluate_cli(db, config, None).await
}

/// Names the products `records` sell, as the merchant would with `POST /me/products`.
async fn register_products(
    db: &DatabaseConnection,
    merchant_id: i64,
    category: &str,
    records: &[Json],
) -> anyhow::Result<()> {
    const STYLE: [&str; 8] = [
        "经典款",
        "轻奢款",
        "国潮款",
        "基础款",
        "限定礼盒",
        "新品",
        "畅销款",
        "家庭装",
    ];
    let mut ids: Vec<&str> = records
        .iter()
        .filter_map(|r| r["product_id"].as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let items = ids
        .iter()
        .enumerate()
        .map(|(i, id)| crate::services::products::ProductInput {
            product_id: id.to_string(),
            name: format!("{category}·{} {:02}", STYLE[i % STYLE.len()], i + 1),
            category: Some(category.to_string()),
        })
        .collect();
    crate::services::products::upsert(db, merchant_id, items)
        .await
        .map_err(|e| anyhow::anyhow!("registering demo products: {e}"))?;
    Ok(())
}

/// The marketplace's daily GMV for `first..=today`, as its warehouse would report it: the
/// onboarded merchants' brand live-stream and industry-belt GMV are a share of it that rises
/// across the year (from 18% to 30% together). Today repeats yesterday's total.
async fn platform_totals(
    db: &DatabaseConnection,
    first: NaiveDate,
    today: NaiveDate,
) -> anyhow::Result<()> {
    use crate::services::{
        platform::{self, ChannelAmounts},
        reports::{Buckets, GmvScope, gmv_structure_series},
    };
    let scope = GmvScope {
        kinds: vec![MerchantKind::Brand, MerchantKind::IndustryBelt],
        channel: None,
    };
    let days = gmv_structure_series(
        db,
        &scope,
        first,
        today,
        Buckets::By(crate::domain::gmv::Granularity::Day),
        None,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let span = (today - first).num_days().max(1);
    let mut last = 0i64;
    for d in days {
        let part = d.brand_live_stream + d.industry_belt;
        // Basis points of the platform the two make up on this day.
        let bp = 1_800 + 1_200 * (d.from - first).num_days() / span;
        let total = if d.from == today || part <= 0 {
            last
        } else {
            i64::try_from(i128::from(part) * 10_000 / i128::from(bp)).unwrap_or(i64::MAX / 8)
        };
        last = total;
        platform::put_day(
            db,
            "staff:demo",
            d.from,
            ChannelAmounts {
                live_stream: total / 100 * 55,
                short_video: total / 100 * 25,
                storefront: total / 100 * 17,
                other: total - total / 100 * 97,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("recording the demo's platform GMV: {e}"))?;
    }
    eprintln!("demo: the marketplace's daily GMV from {first} to {today}");
    Ok(())
}

/// A year (`first..today`) of one merchant's sales as the records a merchant would send to
/// `POST /gmv/records`: one sale per channel and day, about 6% of them partly refunded a couple
/// of days later (the refund names the sale in `corrects`).
fn merchant_gmv(
    rng: &mut Rng,
    merchant_id: i64,
    creators: &[String],
    first: NaiveDate,
    today: NaiveDate,
) -> Vec<Json> {
    // Daily base GMV in fen, log-spread from ¥3k to ~¥600k a day: a handful of merchants
    // pass ¥100M a year, many pass ¥10M.
    let base = 300_000i64 * (1i64 << rng.below(8)) * (100 + rng.permille()) / 100;
    let products: Vec<String> = (1..=4 + rng.below(5))
        .map(|p| format!("SKU-{merchant_id}-{p:02}"))
        .collect();
    let own_creators: Vec<&String> = (0..6)
        .map(|_| &creators[rng.below(creators.len() as u64) as usize])
        .collect();
    let mut records = Vec::new();
    let mut day = first;
    let mut seq = 0u64;
    while day < today {
        let daily = base * season(day) / 100 * (70 + rng.permille() / 17) / 100;
        for &(channel, share) in CHANNELS {
            let amount = daily * share / 100;
            if amount <= 0 {
                continue;
            }
            seq += 1;
            let product = &products[rng.below(products.len() as u64) as usize];
            let creator = matches!(channel, Channel::LiveStream | Channel::ShortVideo)
                .then(|| own_creators[rng.below(own_creators.len() as u64) as usize]);
            let local = Shanghai
                .from_local_datetime(
                    &day.and_hms_opt(10 + (seq % 12) as u32, (seq % 60) as u32, 0)
                        .expect("time"),
                )
                .single()
                .expect("Shanghai has no DST")
                .with_timezone(&Utc);
            let external_id = format!("ORD-{merchant_id}-{seq:06}");
            let record = |external_id: &str, at: DateTime<Utc>, amount: i64| {
                let mut r = serde_json::json!({
                    "external_id": external_id,
                    "occurred_at": at,
                    "amount": amount,
                    "currency": CURRENCY,
                    "channel": channel,
                    "product_id": product,
                });
                if let Some(c) = creator {
                    r["creator_id"] = c.as_str().into();
                }
                r
            };
            records.push(record(&external_id, local, amount));
            if rng.below(100) < 6 {
                let refund_at = local + Duration::days(1 + rng.below(3) as i64);
                if refund_at.with_timezone(&Shanghai).date_naive() < today {
                    let refund = -(amount * (20 + rng.below(80) as i64) / 100);
                    let mut r = record(&format!("{external_id}-R"), refund_at, refund);
                    r["corrects"] = external_id.into();
                    records.push(r);
                }
            }
        }
        day += Duration::days(1);
    }
    records
}

/// Writes `records` of merchant `merchant_id` through the GMV service, a batch of
/// [`gmv::MAX_BATCH`] at a time, so they are stored, hashed and rolled up exactly as if the
/// merchant had sent them: replaying one through the API answers `duplicate`. Returns how many
/// were created; any rejected record is an error.
pub async fn write_gmv(
    db: &DatabaseConnection,
    merchant_id: i64,
    records: &[Json],
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let mut created = 0;
    for chunk in records.chunks(gmv::MAX_BATCH) {
        // Read exactly as `POST /gmv/records` reads a batch.
        let items = chunk
            .iter()
            .enumerate()
            .map(|(i, r)| crate::api::gmv::RawRecord(r.clone()).read(i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("demo record: {e}"))?;
        let outcome = gmv::ingest(db, merchant_id, items, now)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if let Some(bad) = outcome
            .results
            .iter()
            .find(|r| r.status != ItemStatus::Created)
        {
            anyhow::bail!(
                "demo record {} was not created: {:?}",
                bad.external_id,
                bad.status
            );
        }
        created += outcome.created;
    }
    Ok(created)
}

/// Registered creators, with nicknames; merchants sell through a handful each.
pub const CREATORS: u32 = 2_000;

/// The demo's creator account id number `n`.
pub fn creator_id(n: u32) -> String {
    format!("creator-{n:04}")
}

/// A nickname for creator `n`, e.g. `义乌小杨的好物分享`.
fn nickname(n: u32) -> String {
    const WHO: [&str; 10] = [
        "小杨", "阿敏", "大鹏", "晓雯", "老陈", "甜甜", "阿强", "可可", "思思", "浩哥",
    ];
    const PLACE: [&str; 8] = [
        "义乌", "杭州", "广州", "临沂", "曹县", "深圳", "成都", "苏州",
    ];
    const WHAT: [&str; 6] = [
        "的好物分享",
        "美妆间",
        "服饰搭配",
        "源头工厂",
        "生活馆",
        "严选",
    ];
    let n = n as usize;
    format!(
        "{}{}{}",
        PLACE[n % 8],
        WHO[(n / 8) % 10],
        WHAT[(n / 80) % 6]
    )
}

/// Registers creators `ids` (as `POST /creators` does), in batches.
pub async fn register_creators(db: &DatabaseConnection, ids: &[String]) -> anyhow::Result<()> {
    for chunk in ids.chunks(crate::services::creators::MAX_BATCH) {
        let items = chunk
            .iter()
            .map(|id| {
                let n: u32 = id.trim_start_matches("creator-").parse().unwrap_or(0);
                crate::services::creators::CreatorInput {
                    id: id.clone(),
                    nickname: nickname(n),
                    category: None,
                    contact_email: None,
                }
            })
            .collect();
        crate::services::creators::upsert(db, items)
            .await
            .context("registering the demo's creators")?;
    }
    Ok(())
}

/// A small sample of the demo's GMV for one merchant: `days` days ending yesterday (Asia/
/// Shanghai), generated from `seed` as `demo` would.
pub fn sample_gmv(merchant_id: i64, seed: u64, days: i64) -> Vec<Json> {
    let today = crate::domain::gmv::today();
    let creators: Vec<String> = (1..=4).map(creator_id).collect();
    merchant_gmv(
        &mut Rng(seed),
        merchant_id,
        &creators,
        today - Duration::days(days),
        today,
    )
}
