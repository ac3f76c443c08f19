//! Reading evaluated progress: the leaderboard of a programme period, a merchant's current
//! progress in every active programme, and the achievements recorded.

use chrono::NaiveDate;
use entity::{achievement, program, progress};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Query,
};

use super::ReportsError;
use crate::{
    domain::{ErrorCode, FieldError, period::Status, program::Subject},
    pagination,
};

/// Leaderboard filters.
#[derive(Default)]
pub struct LeaderboardFilter {
    pub status: Option<Status>,
    pub tier: Option<String>,
}

/// Progress of one period, by value descending then subject id; keyset on (value, subject).
pub async fn leaderboard(
    db: &DatabaseConnection,
    program_id: i64,
    period_start: NaiveDate,
    filter: LeaderboardFilter,
    limit: u64,
    cursor: Option<String>,
) -> Result<(Vec<progress::Model>, Option<String>), ReportsError> {
    let mut q = progress::Entity::find()
        .filter(progress::Column::ProgramId.eq(program_id))
        .filter(progress::Column::PeriodStart.eq(period_start))
        .order_by_desc(progress::Column::Value)
        .order_by_asc(progress::Column::SubjectId);
    if let Some(s) = filter.status {
        q = q.filter(progress::Column::Status.eq(s));
    }
    if let Some(t) = filter.tier {
        q = q.filter(progress::Column::Tier.eq(t));
    }
    if let Some(c) = cursor {
        let (v, s) = c
            .split_once('|')
            .and_then(|(v, s)| Some((v.parse::<i64>().ok()?, s.to_string())))
            .ok_or_else(|| {
                FieldError::new(
                    "cursor",
                    ErrorCode::InvalidCursor,
                    "the cursor is not one this server issued",
                )
            })?;
        // `value <= v` is implied by the OR below, but neither database infers it: without it
        // PostgreSQL scans the index from the top of the board down to the cursor and SQLite
        // sorts every row below the cursor, so a deep page cost time in proportion to its
        // depth. With it, both start the index range at the cursor.
        q = q.filter(progress::Column::Value.lte(v)).filter(
            Condition::any().add(progress::Column::Value.lt(v)).add(
                Condition::all()
                    .add(progress::Column::Value.eq(v))
                    .add(progress::Column::SubjectId.gt(s)),
            ),
        );
    }
    let rows = q.limit(limit + 1).all(db).await?;
    Ok(pagination::page(rows, limit, |r| {
        format!("{}|{}", r.value, r.subject_id)
    }))
}

/// Current progress of a merchant (as a subject) in every active programme: the latest
/// evaluated period of each.
pub async fn merchant_progress(
    db: &DatabaseConnection,
    merchant_id: i64,
) -> Result<Vec<progress::Model>, ReportsError> {
    // One statement: this answers GET /me/progress, where every round trip shows in the
    // latency under load.
    let active = Query::select()
        .column(program::Column::Id)
        .from(program::Entity)
        .and_where(program::Column::Active.eq(true))
        .to_owned();
    let rows = progress::Entity::find()
        .filter(progress::Column::MerchantId.eq(merchant_id))
        .filter(progress::Column::SubjectType.eq(Subject::Merchant))
        .filter(progress::Column::ProgramId.in_subquery(active))
        .order_by_asc(progress::Column::ProgramId)
        .order_by_desc(progress::Column::PeriodStart)
        .all(db)
        .await?;
    Ok(latest_per_program(rows))
}

/// The first row of each programme, of rows ordered by programme and newest period first:
/// each programme's latest evaluated period.
pub fn latest_per_program(rows: Vec<progress::Model>) -> Vec<progress::Model> {
    let mut out: Vec<progress::Model> = Vec::new();
    for r in rows {
        if out.last().is_none_or(|l| l.program_id != r.program_id) {
            out.push(r);
        }
    }
    out
}

/// A programme's achievements, oldest first; keyset on the id.
pub async fn achievements(
    db: &DatabaseConnection,
    program_id: i64,
    subject_id: Option<String>,
    limit: u64,
    after: Option<i64>,
) -> Result<(Vec<achievement::Model>, Option<String>), ReportsError> {
    let mut q = achievement::Entity::find()
        .filter(achievement::Column::ProgramId.eq(program_id))
        .order_by_asc(achievement::Column::Id);
    if let Some(s) = subject_id {
        q = q.filter(achievement::Column::SubjectId.eq(s));
    }
    if let Some(a) = after {
        q = q.filter(achievement::Column::Id.gt(a));
    }
    let rows = q.limit(limit + 1).all(db).await?;
    Ok(pagination::page(rows, limit, |r| r.id.to_string()))
}
