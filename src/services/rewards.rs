//! The rewards ledger: what each achievement earned, from `pending` through `confirmed` to
//! `paid`, and the payouts finance works from.
//!
//! - An achievement creates its tier's rewards as `pending`, in the evaluation's transaction;
//!   a revocation makes them `cancelled`, a cleared revocation `pending` again.
//! - Every evaluation run confirms, as of its `as_of`, the pending rewards whose period and
//!   its re-evaluation window ([`REOPEN_DAYS`]) have closed: the amount is fixed then (a
//!   rebate from the period's final value, in checked arithmetic, rounding toward zero).
//!   Runs are claimed once per tick, and each confirmation is conditional on `pending`.
//! - A payout takes every confirmed, unpaid reward (optionally of one programme) in one
//!   conditional statement, so a reward is in at most one payout even when replicas open
//!   payouts at once; marking it paid makes its rewards `paid`.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{achievement, merchant, payout, program, progress, reward};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, OnConflict},
};

pub use entity::enums::{PayoutStatus, RewardKind, RewardStatus, Subject};

use crate::{
    db,
    domain::{
        enums::WebhookEventType,
        period::{REOPEN_DAYS, local_day},
        program::ProgramDef,
        reward::{rebate, yuan},
    },
    services::webhooks::{self, events::NewEvent},
};

/// Rewards confirmed per transaction.
const PAGE: u64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum RewardsError {
    #[error("payout not found")]
    PayoutNotFound,
    #[error("no confirmed reward is waiting for a payout")]
    NothingToPay,
    #[error("the payout is already marked paid")]
    AlreadyPaid,
    #[error("programme not found")]
    ProgramNotFound,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl db::MaybeTransient for RewardsError {
    fn transient(&self) -> Option<db::Transient> {
        match self {
            Self::Db(e) => db::transient(e),
            _ => None,
        }
    }
}

type Result<T, E = RewardsError> = std::result::Result<T, E>;

/// The pending rewards of newly recorded achievements, per their tier's definition.
pub async fn create_for<C: ConnectionTrait>(
    db: &C,
    def: &ProgramDef,
    achievements: &[achievement::Model],
    period_end: chrono::NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut rows = Vec::new();
    for a in achievements {
        let Some(tier) = def.tiers.iter().find(|t| t.name == a.tier) else {
            continue;
        };
        for (i, r) in tier.rewards.iter().enumerate() {
            rows.push(reward::ActiveModel {
                achievement_id: Set(a.id),
                position: Set(i as i32),
                program_id: Set(a.program_id),
                period_start: Set(a.period_start),
                period_end: Set(period_end),
                subject_type: Set(a.subject_type),
                subject_id: Set(a.subject_id.clone()),
                merchant_id: Set(a.merchant_id),
                tier: Set(a.tier.clone()),
                kind: Set(r.kind()),
                amount: Set(r.amount()),
                rate_bp: Set(r.rate_bp()),
                status: Set(RewardStatus::Pending),
                created_at: Set(now),
                ..Default::default()
            });
        }
    }
    for chunk in rows.chunks(500) {
        reward::Entity::insert_many(chunk.iter().cloned())
            .on_conflict(
                OnConflict::columns([reward::Column::AchievementId, reward::Column::Position])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Moves the rewards of `achievement_ids` from `from` to `to` (a revocation cancels pending
/// rewards; a cleared one makes cancelled rewards pending again).
pub async fn move_status<C: ConnectionTrait>(
    db: &C,
    achievement_ids: &[i64],
    from: RewardStatus,
    to: RewardStatus,
) -> Result<(), DbErr> {
    for chunk in achievement_ids.chunks(500) {
        reward::Entity::update_many()
            .col_expr(reward::Column::Status, Expr::value(to))
            .filter(reward::Column::AchievementId.is_in(chunk.iter().copied()))
            .filter(reward::Column::Status.eq(from))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// What the event and the API show of a reward.
pub fn event_data(r: &reward::Model) -> serde_json::Value {
    serde_json::json!({
        "reward_id": r.id,
        "program_id": r.program_id,
        "period_start": r.period_start,
        "period_end": r.period_end,
        "subject_type": r.subject_type,
        "subject_id": r.subject_id,
        "merchant_id": r.merchant_id,
        "tier": r.tier,
        "kind": r.kind,
        "amount": r.amount,
        "rate_bp": r.rate_bp,
        "payout_id": r.payout_id,
    })
}

/// Confirms, as of `as_of`, every pending reward whose period closed more than
/// [`REOPEN_DAYS`] days before the programme's local day; returns how many.
pub async fn confirm_due(db: &DatabaseConnection, as_of: DateTime<Utc>) -> anyhow::Result<u64> {
    let mut confirmed = 0;
    for p in program::Entity::find()
        .order_by_asc(program::Column::Id)
        .all(db)
        .await?
    {
        let def = ProgramDef::from_row(&p)?;
        let last_closed = local_day(def.time_zone, as_of) - Duration::days(REOPEN_DAYS + 1);
        let mut after = 0;
        loop {
            let page = reward::Entity::find()
                .filter(reward::Column::ProgramId.eq(p.id))
                .filter(reward::Column::Status.eq(RewardStatus::Pending))
                .filter(reward::Column::PeriodEnd.lte(last_closed))
                .filter(reward::Column::Id.gt(after))
                .order_by_asc(reward::Column::Id)
                .limit(PAGE)
                .all(db)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            confirmed += db::retry(|| confirm_page(db, &page, as_of)).await?;
        }
    }
    Ok(confirmed)
}

/// The final value of each (programme, period, subject) of `page`: the period's progress,
/// or the achievement's value where the subject left the board (a suspended merchant).
async fn final_values<C: ConnectionTrait>(
    db: &C,
    page: &[reward::Model],
) -> Result<HashMap<i64, i64>, DbErr> {
    let rebates: Vec<&reward::Model> = page
        .iter()
        .filter(|r| r.kind == RewardKind::CommissionRebate)
        .collect();
    let mut out = HashMap::new();
    if rebates.is_empty() {
        return Ok(out);
    }
    let achievements: HashMap<i64, achievement::Model> = achievement::Entity::find()
        .filter(achievement::Column::Id.is_in(rebates.iter().map(|r| r.achievement_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    // One query for the page's final values, not one per reward.
    let finals: HashMap<(i64, chrono::NaiveDate, String), i64> = progress::Entity::find()
        .filter(progress::Column::ProgramId.is_in(rebates.iter().map(|r| r.program_id)))
        .filter(progress::Column::PeriodStart.is_in(rebates.iter().map(|r| r.period_start)))
        .filter(progress::Column::SubjectId.is_in(rebates.iter().map(|r| r.subject_id.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|p| ((p.program_id, p.period_start, p.subject_id), p.value))
        .collect();
    for r in rebates {
        let value = finals
            .get(&(r.program_id, r.period_start, r.subject_id.clone()))
            .copied()
            .or_else(|| achievements.get(&r.achievement_id).map(|a| a.value))
            .unwrap_or(0);
        out.insert(r.id, value);
    }
    Ok(out)
}

async fn confirm_page(
    db: &DatabaseConnection,
    page: &[reward::Model],
    as_of: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let txn = db::begin_write(db).await?;
    let values = final_values(&txn, page).await?;
    let mut events = Vec::new();
    for r in page {
        let amount = match (r.kind, r.rate_bp) {
            (RewardKind::CommissionRebate, Some(bp)) => {
                rebate(values[&r.id], bp).ok_or_else(|| {
                    RewardsError::Corrupt(format!("reward {}'s rebate overflows", r.id))
                })?
            }
            _ => r
                .amount
                .ok_or_else(|| RewardsError::Corrupt(format!("reward {} has no amount", r.id)))?,
        };
        let done = reward::Entity::update_many()
            .col_expr(reward::Column::Status, Expr::value(RewardStatus::Confirmed))
            .col_expr(reward::Column::Amount, Expr::value(Some(amount)))
            .col_expr(reward::Column::ConfirmedAt, Expr::value(Some(as_of)))
            .filter(reward::Column::Id.eq(r.id))
            .filter(reward::Column::Status.eq(RewardStatus::Pending))
            .exec(&txn)
            .await?;
        if done.rows_affected == 1 {
            let mut data = event_data(r);
            data["amount"] = amount.into();
            events.push(NewEvent {
                kind: WebhookEventType::RewardConfirmed,
                merchant_id: r.merchant_id,
                dedupe_key: format!("reward.confirmed:{}", r.id),
                data,
                at: as_of,
            });
        }
    }
    let n = events.len() as u64;
    webhooks::events::emit(&txn, events).await?;
    txn.commit().await?;
    Ok(n)
}

/// Filters of a reward listing.
#[derive(Default)]
pub struct Filter {
    pub merchant_id: Option<i64>,
    pub subject: Option<(Subject, String)>,
    pub status: Option<RewardStatus>,
    pub program_id: Option<i64>,
    pub payout_id: Option<i64>,
}

/// Rewards, newest first, before the cursor id; `limit + 1` rows are fetched.
pub async fn list(
    db: &DatabaseConnection,
    f: Filter,
    limit: u64,
    before: Option<i64>,
) -> Result<Vec<reward::Model>> {
    let mut q = reward::Entity::find();
    if let Some(m) = f.merchant_id {
        q = q.filter(reward::Column::MerchantId.eq(m));
    }
    if let Some((t, id)) = f.subject {
        q = q
            .filter(reward::Column::SubjectType.eq(t))
            .filter(reward::Column::SubjectId.eq(id));
    }
    if let Some(s) = f.status {
        q = q.filter(reward::Column::Status.eq(s));
    }
    if let Some(p) = f.program_id {
        q = q.filter(reward::Column::ProgramId.eq(p));
    }
    if let Some(p) = f.payout_id {
        q = q.filter(reward::Column::PayoutId.eq(p));
    }
    if let Some(b) = before {
        q = q.filter(reward::Column::Id.lt(b));
    }
    Ok(q.order_by_desc(reward::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?)
}

/// Opens a payout of every confirmed reward not yet in one (of `program_id` if given).
pub async fn open_payout(
    db: &DatabaseConnection,
    actor: &str,
    program_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<payout::Model> {
    if let Some(p) = program_id
        && program::Entity::find_by_id(p).one(db).await?.is_none()
    {
        return Err(RewardsError::ProgramNotFound);
    }
    db::retry(|| async {
        let txn = db::begin_write(db).await?;
        let opened = payout::ActiveModel {
            program_id: Set(program_id),
            status: Set(PayoutStatus::Open),
            rewards: Set(0),
            total: Set(0),
            created_by: Set(actor.to_string()),
            created_at: Set(now),
            paid_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        // One conditional statement: a reward another payout took meanwhile no longer
        // matches once its row lock is released.
        let mut take = reward::Entity::update_many()
            .col_expr(reward::Column::PayoutId, Expr::value(Some(opened.id)))
            .filter(reward::Column::Status.eq(RewardStatus::Confirmed))
            .filter(reward::Column::PayoutId.is_null());
        if let Some(p) = program_id {
            take = take.filter(reward::Column::ProgramId.eq(p));
        }
        let taken = take.exec_with_returning(&txn).await?;
        if taken.is_empty() {
            txn.rollback().await?;
            return Err(RewardsError::NothingToPay);
        }
        let mut total: i64 = 0;
        for r in &taken {
            let amount = r.amount.ok_or_else(|| {
                RewardsError::Corrupt(format!("confirmed reward {} has no amount", r.id))
            })?;
            total = total
                .checked_add(amount)
                .ok_or_else(|| RewardsError::Corrupt("the payout total overflows".into()))?;
        }
        let mut row: payout::ActiveModel = opened.into();
        row.rewards = Set(taken.len() as i64);
        row.total = Set(total);
        let row = row.update(&txn).await?;
        txn.commit().await?;
        Ok(row)
    })
    .await
}

pub async fn payout(db: &DatabaseConnection, id: i64) -> Result<payout::Model> {
    payout::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(RewardsError::PayoutNotFound)
}

/// Marks the payout and its rewards paid, with a `reward.paid` event each.
pub async fn mark_paid(
    db: &DatabaseConnection,
    id: i64,
    now: DateTime<Utc>,
) -> Result<payout::Model> {
    payout(db, id).await?;
    db::retry(|| async {
        let txn = db::begin_write(db).await?;
        let done = payout::Entity::update_many()
            .col_expr(payout::Column::Status, Expr::value(PayoutStatus::Paid))
            .col_expr(payout::Column::PaidAt, Expr::value(Some(now)))
            .filter(payout::Column::Id.eq(id))
            .filter(payout::Column::Status.eq(PayoutStatus::Open))
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            txn.rollback().await?;
            return Err(RewardsError::AlreadyPaid);
        }
        let paid = reward::Entity::update_many()
            .col_expr(reward::Column::Status, Expr::value(RewardStatus::Paid))
            .col_expr(reward::Column::PaidAt, Expr::value(Some(now)))
            .filter(reward::Column::PayoutId.eq(id))
            .filter(reward::Column::Status.eq(RewardStatus::Confirmed))
            .exec_with_returning(&txn)
            .await?;
        let events = paid
            .iter()
            .map(|r| NewEvent {
                kind: WebhookEventType::RewardPaid,
                merchant_id: r.merchant_id,
                dedupe_key: format!("reward.paid:{}", r.id),
                data: event_data(r),
                at: now,
            })
            .collect();
        webhooks::events::emit(&txn, events).await?;
        txn.commit().await?;
        Ok(())
    })
    .await?;
    payout(db, id).await
}

/// One line of a payout's export.
pub struct Line {
    pub subject: String,
    pub name: String,
    pub uscc: String,
    pub program: String,
    pub tier: String,
    pub kind: RewardKind,
    pub amount: i64,
}

/// The payout's lines, by reward id.
pub async fn lines(db: &DatabaseConnection, id: i64) -> Result<Vec<Line>> {
    payout(db, id).await?;
    let rewards = reward::Entity::find()
        .filter(reward::Column::PayoutId.eq(id))
        .order_by_asc(reward::Column::Id)
        .all(db)
        .await?;
    let merchants: HashMap<i64, merchant::Model> = merchant::Entity::find()
        .filter(merchant::Column::Id.is_in(rewards.iter().filter_map(|r| r.merchant_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let programs: HashMap<i64, String> = program::Entity::find()
        .filter(program::Column::Id.is_in(rewards.iter().map(|r| r.program_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    rewards
        .into_iter()
        .map(|r| {
            let m = r.merchant_id.and_then(|id| merchants.get(&id));
            let name = match (r.subject_type, m) {
                (Subject::Product, Some(m)) => format!(
                    "{} · {}",
                    m.display_name,
                    r.subject_id
                        .split_once(':')
                        .map_or(r.subject_id.as_str(), |(_, p)| p)
                ),
                (_, Some(m)) => m.display_name.clone(),
                (_, None) => r.subject_id.clone(),
            };
            Ok(Line {
                subject: format!("{}:{}", r.subject_type, r.subject_id),
                name,
                uscc: m.map(|m| m.uscc.clone()).unwrap_or_default(),
                program: programs.get(&r.program_id).cloned().unwrap_or_default(),
                tier: r.tier,
                kind: r.kind,
                amount: r.amount.ok_or_else(|| {
                    RewardsError::Corrupt(format!("reward {} has no amount", r.id))
                })?,
            })
        })
        .collect()
}

/// The export: UTF-8 with a byte-order mark (Excel reads it as UTF-8), amounts in yuan.
pub fn csv(lines: &[Line]) -> Result<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let bad = |e: ::csv::Error| RewardsError::Corrupt(format!("writing the export: {e}"));
    w.write_record([
        "subject",
        "name",
        "uscc",
        "programme",
        "tier",
        "kind",
        "amount_yuan",
    ])
    .map_err(bad)?;
    for l in lines {
        w.write_record([
            l.subject.as_str(),
            &l.name,
            &l.uscc,
            &l.program,
            &l.tier,
            l.kind.as_str(),
            &yuan(l.amount),
        ])
        .map_err(bad)?;
    }
    w.into_inner()
        .map_err(|e| RewardsError::Corrupt(format!("writing the export: {e}")))
}
