//! The audit log: every staff write is recorded with its actor.

use chrono::Utc;
use entity::audit_log;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::pagination;

pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &str,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), DbErr> {
    let row = audit_log::ActiveModel {
        actor: Set(actor.to_string()),
        action: Set(action.to_string()),
        target: Set(target.to_string()),
        detail: Set(detail.to_string()),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    // A busy database must not cost the audit trail an entry.
    crate::db::retry(|| row.clone().insert(db)).await?;
    Ok(())
}

/// Newest first; `before` is the id of the last entry of the previous page.
pub async fn list(
    db: &DatabaseConnection,
    limit: u64,
    before: Option<i64>,
) -> Result<(Vec<audit_log::Model>, Option<String>), DbErr> {
    let mut q = audit_log::Entity::find();
    if let Some(b) = before {
        q = q.filter(audit_log::Column::Id.lt(b));
    }
    let rows = q
        .order_by_desc(audit_log::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    Ok(pagination::page(rows, limit, |r| r.id.to_string()))
}
