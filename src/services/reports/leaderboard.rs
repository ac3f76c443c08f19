//! Reading evaluated progress: the leaderboard of a programme period, a merchant's current
//! progress in every active programme, and the achievements recorded.

use chrono::NaiveDate;
use entity::{achievement, progress};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Value,
};

use super::{ReportsError, names::subject_names};
use crate::{
    domain::{ErrorCode, FieldError, period::Status, program::Subject},
    pagination,
    services::evaluation::statement,
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
) -> Result<(Vec<NamedProgress>, Option<String>), ReportsError> {
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
    let (rows, next) = pagination::page(rows, limit, |r| format!("{}|{}", r.value, r.subject_id));
    Ok((named(db, rows).await?, next))
}

/// A progress row with the name a person reads for its subject (absent for a product missing
/// from its merchant's catalogue).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedProgress {
    pub row: progress::Model,
    pub name: Option<String>,
}

/// Names each row's subject (one query per subject type).
pub async fn named<C: ConnectionTrait>(
    db: &C,
    rows: Vec<progress::Model>,
) -> Result<Vec<NamedProgress>, sea_orm::DbErr> {
    let subjects: Vec<(Subject, &str)> = rows
        .iter()
        .map(|r| (r.subject_type, r.subject_id.as_str()))
        .collect();
    let names = subject_names(db, &subjects).await?;
    Ok(rows
        .into_iter()
        .map(|row| NamedProgress {
            name: names.get(&row.subject_id).cloned(),
            row,
        })
        .collect())
}

/// Current progress of a merchant — as a subject, and its products — in every active
/// programme: the latest period of each programme the merchant has progress in, by
/// programme then subject id (the merchant's own entry first); keyset on (programme,
/// subject). One statement.
pub async fn merchant_progress(
    db: &DatabaseConnection,
    merchant_id: i64,
    limit: u64,
    cursor: Option<String>,
) -> Result<(Vec<NamedProgress>, Option<String>), ReportsError> {
    let mut values: Vec<Value> = vec![merchant_id.into(), true.into(), merchant_id.into()];
    let mut sql = String::from(
        "SELECT p.* FROM progress p JOIN (\
           SELECT program_id, MAX(period_start) AS latest FROM progress \
           WHERE merchant_id = ? AND program_id IN (SELECT id FROM program WHERE active = ?) \
           GROUP BY program_id\
         ) l ON l.program_id = p.program_id AND l.latest = p.period_start \
         WHERE p.merchant_id = ?",
    );
    if let Some(c) = cursor {
        let (program, subject) = c
            .split_once('|')
            .and_then(|(p, s)| Some((p.parse::<i64>().ok()?, s.to_string())))
            .ok_or_else(|| {
                FieldError::new(
                    "cursor",
                    ErrorCode::InvalidCursor,
                    "the cursor is not one this server issued",
                )
            })?;
        sql.push_str(" AND (p.program_id > ? OR (p.program_id = ? AND p.subject_id > ?))");
        values.extend([program.into(), program.into(), subject.into()]);
    }
    sql.push_str(" ORDER BY p.program_id, p.subject_id LIMIT ?");
    values.push(((limit + 1) as i64).into());
    let rows = progress::Entity::find()
        .from_raw_sql(statement(db.get_database_backend(), &sql, values))
        .all(db)
        .await?;
    let (rows, next) = pagination::page(rows, limit, |r| {
        format!("{}|{}", r.program_id, r.subject_id)
    });
    Ok((named(db, rows).await?, next))
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
