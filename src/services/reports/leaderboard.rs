//! Reading evaluated progress: the leaderboard of a programme period, a merchant's current
//! progress in every active programme, and the achievements recorded.

use chrono::NaiveDate;
use entity::{achievement, progress};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Value,
};

use super::{
    ReportsError,
    names::{NAME, NAME_JOINS, name_join_values},
};
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

/// Progress of one period (`None`: the latest evaluated), by value descending then subject id;
/// keyset on (value, subject). One indexed statement, names included, and no count.
pub async fn leaderboard(
    db: &DatabaseConnection,
    program_id: i64,
    period_start: Option<NaiveDate>,
    filter: LeaderboardFilter,
    limit: u64,
    cursor: Option<String>,
) -> Result<(Vec<NamedProgress>, Option<String>), ReportsError> {
    let mut q = NamedQuery::new("", vec![], "p.program_id = ?", vec![program_id.into()]);
    match period_start {
        Some(d) => q.push(" AND p.period_start = ?", d),
        None => q.push(
            " AND p.period_start = (SELECT MAX(period_start) FROM progress WHERE program_id = ?)",
            program_id,
        ),
    }
    if let Some(s) = filter.status {
        q.push(" AND p.status = ?", s.as_str());
    }
    if let Some(t) = filter.tier {
        q.push(" AND p.tier = ?", t);
    }
    if let Some(c) = cursor {
        let (v, s) = split_cursor(&c, |v| v.parse::<i64>().ok())?;
        // `value <= v` is implied by the OR below, but neither database infers it: without it
        // PostgreSQL scans the index from the top of the board down to the cursor and SQLite
        // sorts every row below the cursor, so a deep page cost time in proportion to its
        // depth. With it, both start the index range at the cursor.
        q.push(" AND p.value <= ?", v);
        q.after("p.value", "<", v, s);
    }
    Ok(q.page(db, "p.value DESC", limit, |r| {
        format!("{}|{}", r.value, r.subject_id)
    })
    .await?)
}

/// A cursor `<key>|<subject id>` this module issued, or the error for one it did not.
fn split_cursor<K>(c: &str, key: impl Fn(&str) -> Option<K>) -> Result<(K, String), FieldError> {
    c.split_once('|')
        .and_then(|(k, s)| Some((key(k)?, s.to_string())))
        .ok_or_else(|| {
            FieldError::new(
                "cursor",
                ErrorCode::InvalidCursor,
                "the cursor is not one this server issued",
            )
        })
}

/// A progress row with the name a person reads for its subject (absent for a product missing
/// from its merchant's catalogue).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedProgress {
    pub row: progress::Model,
    pub name: Option<String>,
}

/// `SELECT` of progress rows `p` with their names ([`NAME_JOINS`]), the rest of the statement
/// (its conditions, order and limit) pushed piece by piece with its values in order.
struct NamedQuery {
    sql: String,
    values: Vec<Value>,
}

impl NamedQuery {
    /// `join` (with its values) narrows `p` before the names are joined; `condition` (with
    /// its values) is the statement's `WHERE`.
    fn new(
        join: &str,
        join_values: Vec<Value>,
        condition: &str,
        condition_values: Vec<Value>,
    ) -> Self {
        let mut values = join_values;
        values.extend(name_join_values());
        values.extend(condition_values);
        Self {
            sql: format!(
                "SELECT p.*, {NAME} AS name FROM progress p {join} {NAME_JOINS} WHERE {condition}"
            ),
            values,
        }
    }

    fn push(&mut self, sql: &str, value: impl Into<Value>) {
        self.sql.push_str(sql);
        self.values.push(value.into());
    }

    /// Keyset condition: rows past `(key, subject)` in the order `key_col`, then subject id
    /// (`op` is `<` for a descending key, `>` for an ascending one).
    fn after(&mut self, key_col: &str, op: &str, key: i64, subject: String) {
        self.push(&format!(" AND ({key_col} {op} ?"), key);
        self.push(&format!(" OR ({key_col} = ?"), key);
        self.push(" AND p.subject_id > ?))", subject);
    }

    /// One page in the order `key_order`, then subject id, with the next page's cursor.
    async fn page(
        mut self,
        db: &DatabaseConnection,
        key_order: &str,
        limit: u64,
        cursor: impl Fn(&progress::Model) -> String,
    ) -> Result<(Vec<NamedProgress>, Option<String>), DbErr> {
        self.push(
            &format!(" ORDER BY {key_order}, p.subject_id LIMIT ?"),
            (limit + 1) as i64,
        );
        let rows = self.all(db).await?;
        Ok(pagination::page(rows, limit, |r| cursor(&r.row)))
    }

    async fn all(self, db: &DatabaseConnection) -> Result<Vec<NamedProgress>, DbErr> {
        let stmt = statement(db.get_database_backend(), &self.sql, self.values);
        db.query_all_raw(stmt)
            .await?
            .iter()
            .map(|r| {
                Ok(NamedProgress {
                    row: progress::Model::from_query_result(r, "")?,
                    name: r.try_get("", "name")?,
                })
            })
            .collect()
    }
}

/// Current progress of a merchant — as a subject, and its products — in every active
/// programme: the latest period of each programme the merchant has progress in, by
/// programme then subject id (the merchant's own entry first); keyset on (programme,
/// subject). One statement, names included.
pub async fn merchant_progress(
    db: &DatabaseConnection,
    merchant_id: i64,
    limit: u64,
    cursor: Option<String>,
) -> Result<(Vec<NamedProgress>, Option<String>), ReportsError> {
    let mut q = NamedQuery::new(
        "JOIN (\
           SELECT program_id, MAX(period_start) AS latest FROM progress \
           WHERE merchant_id = ? AND program_id IN (SELECT id FROM program WHERE active = ?) \
           GROUP BY program_id\
         ) l ON l.program_id = p.program_id AND l.latest = p.period_start",
        vec![merchant_id.into(), true.into()],
        "p.merchant_id = ?",
        vec![merchant_id.into()],
    );
    if let Some(c) = cursor {
        let (program, subject) = split_cursor(&c, |p| p.parse::<i64>().ok())?;
        q.after("p.program_id", ">", program, subject);
    }
    Ok(q.page(db, "p.program_id", limit, |r| {
        format!("{}|{}", r.program_id, r.subject_id)
    })
    .await?)
}

/// A creator's current progress: the latest evaluated period of each programme it has
/// progress in, by programme. One statement, names included.
pub async fn creator_progress(
    db: &DatabaseConnection,
    creator_id: &str,
) -> Result<Vec<NamedProgress>, DbErr> {
    let subject = || -> Vec<Value> { vec![Subject::Creator.as_str().into(), creator_id.into()] };
    NamedQuery::new(
        "JOIN (\
           SELECT program_id, MAX(period_start) AS latest FROM progress \
           WHERE subject_type = ? AND subject_id = ? GROUP BY program_id\
         ) l ON l.program_id = p.program_id AND l.latest = p.period_start",
        subject(),
        "p.subject_type = ? AND p.subject_id = ? ORDER BY p.program_id",
        subject(),
    )
    .all(db)
    .await
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
