//! `merchant-incentives demo`: fills an empty database with realistic merchants and a year of
//! GMV (raw records and the daily roll-ups, written consistently in bulk), then evaluates, so
//! the leaderboards in Swagger UI have something to show. Also the `evaluate` command.

use std::{
    collections::HashMap,
    io::{IsTerminal, Write},
};

use anyhow::Context;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use entity::{
    gmv_daily_creator, gmv_daily_merchant, gmv_daily_product, gmv_record, merchant,
    merchant_decision,
};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait, Set, TransactionTrait};

use crate::{
    config::Config,
    domain::uscc::check_char,
    services::{evaluation, runs::Trigger},
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
    let result = evaluation::run(db, as_of, Trigger::Cli, &config.replica, &on_progress).await;
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

const CHANNELS: &[(&str, i64)] = &[
    ("live_stream", 55),
    ("short_video", 25),
    ("storefront", 17),
    ("other", 3),
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
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut body = String::from("91440300");
    let mut x = n;
    for _ in 0..9 {
        body.push(ALPHABET[(x % 31) as usize] as char);
        x /= 31;
    }
    let check = check_char(body.as_bytes()).expect("valid characters");
    body.push(check);
    body
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
    let creators: Vec<String> = (1..=400).map(|i| format!("creator-{i:04}")).collect();
    let bar = Bar::new("demo data", u64::from(merchants));
    let mut records_total = 0u64;
    for n in 0..u64::from(merchants) {
        let brand = n % 5 < 2; // 40% brands, 60% industry belt
        let (kind, legal, display, province, city, category, brand_name, belt) = if brand {
            let (b, cat) = BRANDS[(n as usize) % BRANDS.len()];
            (
                "brand",
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
                "industry_belt",
                format!("{city}市第{n}{cat}有限公司"),
                format!("{belt}·{n}号工厂店"),
                prov,
                city,
                cat,
                None,
                Some(belt.to_string()),
            )
        };
        let txn = db.begin().await?;
        let m = merchant::ActiveModel {
            kind: Set(kind.into()),
            status: Set("approved".into()),
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
            locale: Set(if n % 7 == 0 { "en" } else { "zh-CN" }.into()),
            last_gmv_at: Set(Some(now)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let m = merchant::Entity::insert(m)
            .exec_with_returning(&txn)
            .await?;
        merchant_decision::Entity::insert(merchant_decision::ActiveModel {
            merchant_id: Set(m.id),
            actor: Set("staff:demo".into()),
            action: Set("approve".into()),
            reason: Set("演示数据".into()),
            from_status: Set("submitted".into()),
            to_status: Set("approved".into()),
            created_at: Set(now),
            ..Default::default()
        })
        .exec_without_returning(&txn)
        .await?;

        // Daily base GMV in fen, log-spread from ¥3k to ~¥600k a day: a handful of merchants
        // pass ¥100M a year, many pass ¥10M.
        let base = 300_000i64 * (1i64 << rng.below(8)) * (100 + rng.permille()) / 100;
        let products: Vec<String> = (1..=4 + rng.below(5))
            .map(|p| format!("SKU-{}-{p:02}", m.id))
            .collect();
        let own_creators: Vec<&String> = (0..6)
            .map(|_| &creators[rng.below(creators.len() as u64) as usize])
            .collect();
        let mut records = Vec::new();
        let mut per_merchant: HashMap<(NaiveDate, &str), (i64, i64)> = HashMap::new();
        let mut per_product: HashMap<(String, NaiveDate, &str), (i64, i64)> = HashMap::new();
        let mut per_creator: HashMap<(String, NaiveDate, &str), (i64, i64)> = HashMap::new();
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
                let product = products[rng.below(products.len() as u64) as usize].clone();
                let creator = matches!(channel, "live_stream" | "short_video")
                    .then(|| own_creators[rng.below(own_creators.len() as u64) as usize].clone());
                let local = Shanghai
                    .from_local_datetime(
                        &day.and_hms_opt(10 + (seq % 12) as u32, (seq % 60) as u32, 0)
                            .expect("time"),
                    )
                    .single()
                    .expect("Shanghai has no DST")
                    .with_timezone(&Utc);
                let external_id = format!("ORD-{}-{seq:06}", m.id);
                let mut push = |external_id: String,
                                occurred_at: DateTime<Utc>,
                                amount: i64,
                                corrects: Option<String>| {
                    let local_day = occurred_at.with_timezone(&Shanghai).date_naive();
                    let e = per_merchant.entry((local_day, channel)).or_default();
                    e.0 += amount;
                    e.1 += 1;
                    let e = per_product
                        .entry((product.clone(), local_day, channel))
                        .or_default();
                    e.0 += amount;
                    e.1 += 1;
                    if let Some(c) = &creator {
                        let e = per_creator
                            .entry((c.clone(), local_day, channel))
                            .or_default();
                        e.0 += amount;
                        e.1 += 1;
                    }
                    records.push(gmv_record::ActiveModel {
                        merchant_id: Set(m.id),
                        body_hash: Set(crate::secrets::hash(&format!(
                            "{external_id}|{occurred_at}|{amount}|CNY|{channel}"
                        ))),
                        external_id: Set(external_id),
                        occurred_at: Set(occurred_at),
                        local_day: Set(local_day),
                        amount: Set(amount),
                        currency: Set("CNY".into()),
                        channel: Set(channel.into()),
                        product_id: Set(Some(product.clone())),
                        creator_id: Set(creator.clone()),
                        corrects: Set(corrects),
                        created_at: Set(now),
                        ..Default::default()
                    });
                };
                push(external_id.clone(), local, amount, None);
                // About 6% of sales are partly refunded a couple of days later.
                if rng.below(100) < 6 {
                    let refund_at = local + Duration::days(1 + rng.below(3) as i64);
                    if refund_at.with_timezone(&Shanghai).date_naive() < today {
                        let refund = -(amount * (20 + rng.below(80) as i64) / 100);
                        push(
                            format!("{external_id}-R"),
                            refund_at,
                            refund,
                            Some(external_id),
                        );
                    }
                }
            }
            day += Duration::days(1);
        }
        records_total += records.len() as u64;
        for chunk in records.chunks(1_000) {
            gmv_record::Entity::insert_many(chunk.iter().cloned())
                .exec_without_returning(&txn)
                .await?;
        }
        let rows: Vec<_> = per_merchant
            .into_iter()
            .map(|((day, ch), (amount, n))| gmv_daily_merchant::ActiveModel {
                merchant_id: Set(m.id),
                day: Set(day),
                channel: Set(ch.into()),
                amount: Set(amount),
                records: Set(n),
            })
            .collect();
        for chunk in rows.chunks(1_000) {
            gmv_daily_merchant::Entity::insert_many(chunk.iter().cloned())
                .exec_without_returning(&txn)
                .await?;
        }
        let rows: Vec<_> = per_product
            .into_iter()
            .map(
                |((p, day, ch), (amount, n))| gmv_daily_product::ActiveModel {
                    merchant_id: Set(m.id),
                    product_id: Set(p),
                    day: Set(day),
                    channel: Set(ch.into()),
                    amount: Set(amount),
                    records: Set(n),
                },
            )
            .collect();
        for chunk in rows.chunks(1_000) {
            gmv_daily_product::Entity::insert_many(chunk.iter().cloned())
                .exec_without_returning(&txn)
                .await?;
        }
        let rows: Vec<_> = per_creator
            .into_iter()
            .map(
                |((c, day, ch), (amount, n))| gmv_daily_creator::ActiveModel {
                    creator_id: Set(c),
                    merchant_id: Set(m.id),
                    day: Set(day),
                    channel: Set(ch.into()),
                    amount: Set(amount),
                    records: Set(n),
                },
            )
            .collect();
        for chunk in rows.chunks(1_000) {
            gmv_daily_creator::Entity::insert_many(chunk.iter().cloned())
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await.context("writing demo GMV")?;
        bar.set(n + 1);
    }
    bar.finish();
    eprintln!("demo: {merchants} merchants, {records_total} GMV records from {first} to {today}");
    evaluate_cli(db, config, None).await
}
