//! Emitting events: each is written, with one delivery per matching endpoint, on the
//! connection or transaction of the change that causes it, so an event exists exactly when
//! its change committed. A dedupe key makes each event happen once, ever.

use chrono::{DateTime, SecondsFormat, Utc};
use entity::{webhook_delivery, webhook_endpoint, webhook_event};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set, TryInsertResult,
};

use super::{DeliveryStatus, WebhookEndpointStatus, WebhookEventType, events_of};

/// Rows per multi-row insert.
const CHUNK: usize = 500;

/// An event to emit.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub kind: WebhookEventType,
    /// The merchant it concerns: its own endpoints receive it. Platform endpoints get every event.
    pub merchant_id: Option<i64>,
    /// One event per key, ever.
    pub dedupe_key: String,
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// The body every delivery of the event carries.
pub fn payload(kind: WebhookEventType, at: DateTime<Utc>, data: &serde_json::Value) -> String {
    serde_json::json!({
        "type": kind.as_str(),
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

/// Writes the events that are new (by dedupe key) and a pending delivery of each to every
/// active endpoint that wants it; returns the events written.
pub async fn emit<C: ConnectionTrait>(
    db: &C,
    events: Vec<NewEvent>,
) -> Result<Vec<webhook_event::Model>, DbErr> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let mut inserted = Vec::new();
    for chunk in events.chunks(CHUNK) {
        let rows = chunk.iter().map(|e| webhook_event::ActiveModel {
            message_id: Set(format!("msg_{}", uuid::Uuid::now_v7().simple())),
            kind: Set(e.kind),
            merchant_id: Set(e.merchant_id),
            dedupe_key: Set(e.dedupe_key.clone()),
            payload: Set(payload(e.kind, e.at, &e.data)),
            created_at: Set(now),
            ..Default::default()
        });
        let res = webhook_event::Entity::insert_many(rows)
            .on_conflict_do_nothing_on([webhook_event::Column::DedupeKey])
            .exec_with_returning_many(db)
            .await?;
        if let TryInsertResult::Inserted(rows) = res {
            inserted.extend(rows);
        }
    }
    if inserted.is_empty() {
        return Ok(inserted);
    }
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Status.eq(WebhookEndpointStatus::Active))
        .all(db)
        .await?;
    let wants: Vec<(webhook_endpoint::Model, Vec<WebhookEventType>)> = endpoints
        .into_iter()
        .filter_map(|e| {
            // An unreadable filter is logged and skipped rather than failing the change.
            match events_of(&e) {
                Ok(kinds) => Some((e, kinds)),
                Err(err) => {
                    tracing::error!(endpoint = e.id, error = %err, "webhook endpoint skipped");
                    None
                }
            }
        })
        .collect();
    let mut deliveries = Vec::new();
    for ev in &inserted {
        for (ep, kinds) in &wants {
            let owner_matches = ep.merchant_id.is_none() || ep.merchant_id == ev.merchant_id;
            if owner_matches && kinds.contains(&ev.kind) {
                deliveries.push(webhook_delivery::ActiveModel {
                    event_id: Set(ev.id),
                    endpoint_id: Set(ep.id),
                    status: Set(DeliveryStatus::Pending),
                    attempts: Set(0),
                    next_attempt_at: Set(now),
                    created_at: Set(now),
                    ..Default::default()
                });
            }
        }
    }
    for chunk in deliveries.chunks(CHUNK) {
        webhook_delivery::Entity::insert_many(chunk.iter().cloned())
            .exec_without_returning(db)
            .await?;
    }
    Ok(inserted)
}
