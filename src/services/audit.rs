//! The audit log: every staff write is recorded with its actor.

use chrono::Utc;
use entity::audit_log;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};

pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &str,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        actor: Set(actor.to_string()),
        action: Set(action.to_string()),
        target: Set(target.to_string()),
        detail: Set(detail.to_string()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
