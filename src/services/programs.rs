//! Incentive programmes: definitions, the seeded public goals, and reading evaluation
//! results (leaderboards, summaries, achievements, run history).

use chrono::{NaiveDate, Utc};
use entity::{job_run, program};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::OnConflict,
};

use crate::{
    domain::FieldError,
    domain::reward::{CashBonus, RebateReward, TierReward, TrafficCredit},
    domain::{
        merchant::MerchantKind,
        period::{PeriodKind, Tier},
        program::{Metric, ProgramDef, ProgramInput, Subject},
    },
    pagination,
};

/// What can go wrong with programmes, in their own words; `src/api` maps each case to a code.
#[derive(Debug, thiserror::Error)]
pub enum ProgramsError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("programme not found")]
    NotFound,
    #[error("stored programme is inconsistent: {0}")]
    Corrupt(#[from] anyhow::Error),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl crate::db::MaybeTransient for ProgramsError {
    fn transient(&self) -> Option<crate::db::Transient> {
        match self {
            Self::Db(e) => crate::db::transient(e),
            _ => None,
        }
    }
}

type Result<T, E = ProgramsError> = std::result::Result<T, E>;

fn apply(row: &mut program::ActiveModel, d: &ProgramDef) {
    row.name = Set(d.name.clone());
    row.description = Set(d.description.clone());
    row.subject = Set(d.subject);
    row.merchant_kinds = Set(d.kinds_csv());
    row.metric = Set(d.metric);
    row.channel = Set(d.channel);
    row.period = Set(d.period);
    row.time_zone = Set(d.time_zone.name().to_string());
    row.starts_on = Set(d.starts_on);
    row.ends_on = Set(d.ends_on);
    row.tiers = Set(d.tiers_json());
    row.goal = Set(d.goal);
    row.active = Set(d.active);
}

pub async fn create(db: &DatabaseConnection, d: &ProgramDef) -> Result<program::Model> {
    let now = Utc::now();
    let mut row = program::ActiveModel {
        seed_key: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    apply(&mut row, d);
    Ok(crate::db::retry(|| row.clone().insert(db)).await?)
}

/// Programmes by id; `active_only` for merchants.
pub async fn list(
    db: &DatabaseConnection,
    active_only: bool,
    limit: u64,
    after: Option<i64>,
) -> Result<(Vec<program::Model>, Option<String>)> {
    let mut q = program::Entity::find().order_by_asc(program::Column::Id);
    if active_only {
        q = q.filter(program::Column::Active.eq(true));
    }
    if let Some(a) = after {
        q = q.filter(program::Column::Id.gt(a));
    }
    let rows = q.limit(limit + 1).all(db).await?;
    Ok(pagination::page(rows, limit, |r| r.id.to_string()))
}

pub async fn get(db: &DatabaseConnection, id: i64) -> Result<program::Model> {
    program::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ProgramsError::NotFound)
}

/// Applies an edit: `edit` changes the stored fields, the result is validated as a whole.
/// Past achievements stay as they were (they carry their own tier name and threshold).
pub async fn update(
    db: &DatabaseConnection,
    id: i64,
    edit: impl FnOnce(&mut ProgramInput),
) -> Result<program::Model> {
    let current = get(db, id).await?;
    let mut input =
        crate::domain::program::input_of_row(&current).map_err(ProgramsError::Corrupt)?;
    edit(&mut input);
    let def = ProgramDef::parse(input)?;
    let mut row: program::ActiveModel = current.into();
    apply(&mut row, &def);
    row.updated_at = Set(Utc::now());
    Ok(crate::db::retry(|| row.clone().update(db)).await?)
}

const YUAN: i64 = 100;
const WAN: i64 = 10_000 * YUAN;

fn seeds() -> Vec<(&'static str, ProgramInput)> {
    let starts_on = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    let both = vec![MerchantKind::Brand, MerchantKind::IndustryBelt];
    // Example rewards an admin can edit: traffic credit at the first tier, a cash bonus at
    // the second, a cash bonus and a commission rebate at the top.
    let cash = |yuan: i64| {
        TierReward::CashBonus(CashBonus {
            amount: yuan * YUAN,
        })
    };
    let traffic = |yuan: i64| {
        TierReward::TrafficCredit(TrafficCredit {
            amount: yuan * YUAN,
        })
    };
    let rebate = |rate_bp| TierReward::CommissionRebate(RebateReward { rate_bp });
    let tier = |name: &str, threshold: i64, rewards: Vec<TierReward>| Tier {
        name: name.to_string(),
        threshold,
        rewards,
    };
    let base = |name: &str, description: &str, subject, tiers, goal| ProgramInput {
        name: name.to_string(),
        description: description.to_string(),
        subject,
        merchant_kinds: both.clone(),
        metric: Metric::Gmv,
        channel: None,
        period: PeriodKind::Year,
        time_zone: "Asia/Shanghai".into(),
        starts_on,
        ends_on: None,
        tiers,
        goal,
        active: true,
    };
    vec![
        (
            "merchants_100m",
            base(
                "亿元商家 · 1,000 merchants over ¥100M a year",
                "Merchants whose annual net GMV exceeds ¥100M (1亿).",
                Subject::Merchant,
                vec![
                    tier("千万商家 ¥10M", 1_000 * WAN, vec![traffic(20_000)]),
                    tier("五千万商家 ¥50M", 5_000 * WAN, vec![cash(50_000)]),
                    tier(
                        "亿元商家 ¥100M",
                        10_000 * WAN,
                        vec![cash(100_000), rebate(20)],
                    ),
                ],
                1_000,
            ),
        ),
        (
            "creators_10m",
            base(
                "千万达人 · 10,000 creators over ¥10M a year",
                "Creators (达人) whose annual net GMV exceeds ¥10M (1000万).",
                Subject::Creator,
                vec![
                    tier("百万达人 ¥1M", 100 * WAN, vec![traffic(2_000)]),
                    tier("五百万达人 ¥5M", 500 * WAN, vec![cash(5_000)]),
                    tier("千万达人 ¥10M", 1_000 * WAN, vec![cash(10_000), rebate(10)]),
                ],
                10_000,
            ),
        ),
        (
            "products_100m",
            base(
                "亿元单品 · 100 products over ¥100M a year",
                "Products whose annual net GMV exceeds ¥100M (1亿).",
                Subject::Product,
                vec![
                    tier("千万单品 ¥10M", 1_000 * WAN, vec![traffic(10_000)]),
                    tier("五千万单品 ¥50M", 5_000 * WAN, vec![traffic(50_000)]),
                    tier("亿元单品 ¥100M", 10_000 * WAN, vec![cash(100_000)]),
                ],
                100,
            ),
        ),
    ]
}

/// Creates the three public-goal programmes unless they exist (by `seed_key`); idempotent and
/// safe when several replicas start at once. Returns how many were created.
pub async fn seed<C: ConnectionTrait>(db: &C) -> anyhow::Result<u64> {
    let now = Utc::now();
    let mut created = 0;
    for (key, input) in seeds() {
        let def = ProgramDef::parse(input)?;
        let mut row = program::ActiveModel {
            seed_key: Set(Some(key.to_string())),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        apply(&mut row, &def);
        created += program::Entity::insert(row)
            .on_conflict(
                OnConflict::column(program::Column::SeedKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(created)
}

/// One evaluation run.
pub async fn run(db: &DatabaseConnection, id: i64) -> Result<Option<job_run::Model>> {
    Ok(job_run::Entity::find_by_id(id)
        .filter(job_run::Column::Job.eq(crate::services::runs::EVALUATE))
        .one(db)
        .await?)
}

/// Evaluation runs, newest first.
pub async fn runs(
    db: &DatabaseConnection,
    limit: u64,
    before: Option<i64>,
) -> Result<(Vec<job_run::Model>, Option<String>)> {
    let mut q = job_run::Entity::find()
        .filter(job_run::Column::Job.eq(crate::services::runs::EVALUATE))
        .order_by_desc(job_run::Column::Id);
    if let Some(b) = before {
        q = q.filter(job_run::Column::Id.lt(b));
    }
    let rows = q.limit(limit + 1).all(db).await?;
    Ok(pagination::page(rows, limit, |r| r.id.to_string()))
}
