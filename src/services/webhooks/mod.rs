//! Signed webhooks: endpoints, events and their deliveries.
//!
//! An event is a row written in the same transaction as the change that causes it, with one
//! delivery row per matching endpoint (the outbox pattern); [`deliver`] claims, signs and sends
//! the deliveries. An endpoint belongs to a merchant (it receives that merchant's events) or to
//! the platform (it receives every event); each has an event filter.
//!
//! Signing secrets are shown once and stored encrypted (ChaCha20-Poly1305) with
//! `WEBHOOK_SECRET_KEY`, or, when that is unset, with a key the server generates once and keeps
//! in the database for every replica. Signing needs the secret itself, so it cannot be hashed.

pub mod deliver;
pub mod events;

use std::{collections::BTreeSet, net::IpAddr, sync::Arc};

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit,
    aead::{Aead, AeadCore, OsRng},
};
use chrono::{DateTime, Duration, Utc};
use entity::{server_key, webhook_delivery, webhook_endpoint, webhook_event};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, OnConflict},
};

pub use entity::enums::{DeliveryStatus, WebhookEndpointStatus, WebhookEventType};

use crate::{
    config::WebhookKey,
    db,
    domain::{ErrorCode, FieldError, webhook},
};

/// Most endpoints one owner may have.
pub const MAX_ENDPOINTS: u64 = 20;
/// How long the secret before a rotation keeps signing.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("webhook endpoint not found")]
    NotFound,
    #[error("delivery not found")]
    DeliveryNotFound,
    #[error("at most {MAX_ENDPOINTS} webhook endpoints per owner")]
    TooMany,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl db::MaybeTransient for WebhookError {
    fn transient(&self) -> Option<db::Transient> {
        match self {
            Self::Db(e) => db::transient(e),
            _ => None,
        }
    }
}

type Result<T, E = WebhookError> = std::result::Result<T, E>;

/// Whose endpoints: a merchant's own, or the platform's (staff).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Merchant(i64),
    Platform,
}

impl Owner {
    fn merchant_id(self) -> Option<i64> {
        match self {
            Owner::Merchant(id) => Some(id),
            Owner::Platform => None,
        }
    }

    fn filter(self) -> sea_orm::Condition {
        let c = sea_orm::Condition::all();
        match self {
            Owner::Merchant(id) => c.add(webhook_endpoint::Column::MerchantId.eq(id)),
            Owner::Platform => c.add(webhook_endpoint::Column::MerchantId.is_null()),
        }
    }
}

/// Encrypts and decrypts signing secrets.
pub struct Sealer {
    configured: Option<WebhookKey>,
    key: tokio::sync::OnceCell<ChaCha20Poly1305>,
}

const KEY_NAME: &str = "webhook_secret_key";

impl Sealer {
    pub fn new(configured: Option<WebhookKey>) -> Self {
        Self {
            configured,
            key: tokio::sync::OnceCell::new(),
        }
    }

    async fn cipher(&self, db: &DatabaseConnection) -> Result<&ChaCha20Poly1305> {
        self.key
            .get_or_try_init(|| async {
                let key = match self.configured {
                    Some(k) => k.0,
                    None => stored_key(db).await?,
                };
                Ok(ChaCha20Poly1305::new(&key.into()))
            })
            .await
    }

    /// `v1:` and the base64 of nonce and ciphertext.
    pub async fn seal(&self, db: &DatabaseConnection, secret: &str) -> Result<String> {
        let cipher = self.cipher(db).await?;
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        out.extend(
            cipher
                .encrypt(&nonce, secret.as_bytes())
                .map_err(|_| WebhookError::Corrupt("cannot encrypt a secret".into()))?,
        );
        Ok(format!("v1:{}", STANDARD.encode(out)))
    }

    pub async fn open(&self, db: &DatabaseConnection, sealed: &str) -> Result<String> {
        let bad =
            || WebhookError::Corrupt("a webhook secret cannot be decrypted with the key".into());
        let cipher = self.cipher(db).await?;
        let raw = sealed
            .strip_prefix("v1:")
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|r| r.len() > 12)
            .ok_or_else(bad)?;
        let (nonce, ct) = raw.split_at(12);
        let plain = cipher.decrypt(nonce.into(), ct).map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }
}

/// The database-kept key: created once (the first replica's insert wins), then read.
async fn stored_key(db: &DatabaseConnection) -> Result<[u8; 32]> {
    use rand::RngCore;
    let mut fresh = [0u8; 32];
    rand::rng().fill_bytes(&mut fresh);
    let row = server_key::ActiveModel {
        name: Set(KEY_NAME.into()),
        value: Set(hex::encode(fresh)),
    };
    db::retry(|| {
        server_key::Entity::insert(row.clone())
            .on_conflict(
                OnConflict::column(server_key::Column::Name)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
    })
    .await?;
    let stored = server_key::Entity::find_by_id(KEY_NAME.to_string())
        .one(db)
        .await?
        .ok_or_else(|| WebhookError::Corrupt("the webhook key row vanished".into()))?;
    hex::decode(&stored.value)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| WebhookError::Corrupt("the stored webhook key is not 32 hex bytes".into()))
}

/// The event types an endpoint receives, as stored.
pub fn stored_events(events: &[WebhookEventType]) -> String {
    events
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(WebhookEventType::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// The event types of a stored endpoint.
pub fn events_of(e: &webhook_endpoint::Model) -> Result<Vec<WebhookEventType>> {
    e.events
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            WebhookEventType::parse(s)
                .ok_or_else(|| WebhookError::Corrupt(format!("unknown event type {s:?}")))
        })
        .collect()
}

/// How long registration waits for the host to resolve.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Refuses a target whose host is, or resolves to, an address that is not allowed. A host
/// that does not resolve (yet) is accepted: every delivery resolves it again and refuses a
/// forbidden address then, so nothing is reached that the rule forbids.
pub async fn check_target(url: &url::Url, allow_private: bool) -> Result<(), FieldError> {
    if allow_private {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![ip.into()],
        Some(url::Host::Ipv6(ip)) => vec![ip.into()],
        _ => match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
        {
            Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
            _ => Vec::new(),
        },
    };
    match addrs.iter().find(|ip| webhook::is_forbidden(**ip)) {
        Some(ip) => Err(FieldError::new(
            "url",
            ErrorCode::WebhookUrlForbidden,
            format!(
                "{host} resolves to {ip}, a loopback, private, link-local or multicast address"
            ),
        )),
        None => Ok(()),
    }
}

/// What registering an endpoint needs.
pub struct NewEndpoint {
    pub url: String,
    pub events: Vec<WebhookEventType>,
}

/// An endpoint and its secret, shown once.
pub struct WithSecret {
    pub endpoint: webhook_endpoint::Model,
    pub secret: String,
}

pub async fn create(
    db: &DatabaseConnection,
    sealer: &Sealer,
    allow_private: bool,
    owner: Owner,
    new: NewEndpoint,
) -> Result<WithSecret> {
    let url = webhook::parse_url(&new.url)?;
    if new.events.is_empty() {
        return Err(FieldError::new(
            "events",
            ErrorCode::WebhookEventsEmpty,
            "name at least one event type",
        )
        .into());
    }
    check_target(&url, allow_private).await?;
    let count = webhook_endpoint::Entity::find()
        .filter(owner.filter())
        .count(db)
        .await?;
    if count >= MAX_ENDPOINTS {
        return Err(WebhookError::TooMany);
    }
    let secret = webhook::new_secret();
    let row = webhook_endpoint::ActiveModel {
        merchant_id: Set(owner.merchant_id()),
        url: Set(url.to_string()),
        events: Set(stored_events(&new.events)),
        secret: Set(sealer.seal(db, &secret).await?),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        status: Set(WebhookEndpointStatus::Active),
        failing_since: Set(None),
        disabled_at: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let endpoint = db::retry(|| row.clone().insert(db)).await?;
    Ok(WithSecret { endpoint, secret })
}

/// The owner's endpoints, oldest first, after the cursor id; `limit + 1` rows are fetched.
pub async fn list(
    db: &DatabaseConnection,
    owner: Owner,
    limit: u64,
    after: Option<i64>,
) -> Result<Vec<webhook_endpoint::Model>> {
    let mut q = webhook_endpoint::Entity::find().filter(owner.filter());
    if let Some(a) = after {
        q = q.filter(webhook_endpoint::Column::Id.gt(a));
    }
    Ok(q.order_by_asc(webhook_endpoint::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?)
}

/// One of the owner's endpoints; another owner's answers not found.
pub async fn get(
    db: &DatabaseConnection,
    owner: Owner,
    id: i64,
) -> Result<webhook_endpoint::Model> {
    webhook_endpoint::Entity::find_by_id(id)
        .filter(owner.filter())
        .one(db)
        .await?
        .ok_or(WebhookError::NotFound)
}

/// Deletes the endpoint and its deliveries.
pub async fn delete(
    db: &DatabaseConnection,
    owner: Owner,
    id: i64,
) -> Result<webhook_endpoint::Model> {
    let e = get(db, owner, id).await?;
    db::retry(|| async {
        let txn = db::begin_write(db).await?;
        webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::EndpointId.eq(id))
            .exec(&txn)
            .await?;
        webhook_endpoint::Entity::delete_by_id(id)
            .exec(&txn)
            .await?;
        txn.commit().await
    })
    .await?;
    Ok(e)
}

/// A new secret; the current one keeps signing beside it for [`ROTATION_OVERLAP_HOURS`].
pub async fn rotate(
    db: &DatabaseConnection,
    sealer: &Sealer,
    owner: Owner,
    id: i64,
    now: DateTime<Utc>,
) -> Result<WithSecret> {
    let e = get(db, owner, id).await?;
    let secret = webhook::new_secret();
    let sealed = sealer.seal(db, &secret).await?;
    let until = now + Duration::hours(ROTATION_OVERLAP_HOURS);
    db::retry(|| {
        webhook_endpoint::Entity::update_many()
            .col_expr(
                webhook_endpoint::Column::PreviousSecret,
                Expr::value(Some(e.secret.clone())),
            )
            .col_expr(
                webhook_endpoint::Column::PreviousSecretUntil,
                Expr::value(Some(until)),
            )
            .col_expr(
                webhook_endpoint::Column::Secret,
                Expr::value(sealed.clone()),
            )
            .filter(webhook_endpoint::Column::Id.eq(id))
            .exec(db)
    })
    .await?;
    let endpoint = get(db, owner, id).await?;
    Ok(WithSecret { endpoint, secret })
}

/// A delivery with the event it carries.
pub type DeliveryWithEvent = (webhook_delivery::Model, webhook_event::Model);

/// The endpoint's deliveries, newest first, before the cursor id; `limit + 1` rows are fetched.
pub async fn deliveries(
    db: &DatabaseConnection,
    owner: Owner,
    endpoint_id: i64,
    limit: u64,
    before: Option<i64>,
) -> Result<Vec<DeliveryWithEvent>> {
    get(db, owner, endpoint_id).await?;
    let mut q = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id));
    if let Some(b) = before {
        q = q.filter(webhook_delivery::Column::Id.lt(b));
    }
    let rows = q
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    with_events(db, rows).await
}

async fn with_events(
    db: &DatabaseConnection,
    rows: Vec<webhook_delivery::Model>,
) -> Result<Vec<DeliveryWithEvent>> {
    let ids: Vec<i64> = rows.iter().map(|d| d.event_id).collect();
    let events: std::collections::HashMap<i64, webhook_event::Model> =
        webhook_event::Entity::find()
            .filter(webhook_event::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
    rows.into_iter()
        .map(|d| {
            let e = events
                .get(&d.event_id)
                .cloned()
                .ok_or_else(|| WebhookError::Corrupt(format!("delivery {} has no event", d.id)))?;
            Ok((d, e))
        })
        .collect()
}

/// Sends the delivery again as soon as possible, with the same `webhook-id`. A delivery being
/// sent right now is left to finish. Retrying on a disabled endpoint enables it again: its
/// owner has fixed the receiver.
pub async fn retry(
    db: &DatabaseConnection,
    owner: Owner,
    endpoint_id: i64,
    delivery_id: i64,
    now: DateTime<Utc>,
) -> Result<DeliveryWithEvent> {
    get(db, owner, endpoint_id).await?;
    let find = || {
        webhook_delivery::Entity::find_by_id(delivery_id)
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
            .one(db)
    };
    find().await?.ok_or(WebhookError::DeliveryNotFound)?;
    db::retry(|| async {
        let txn = db::begin_write(db).await?;
        webhook_endpoint::Entity::update_many()
            .col_expr(
                webhook_endpoint::Column::Status,
                Expr::value(WebhookEndpointStatus::Active),
            )
            .col_expr(
                webhook_endpoint::Column::FailingSince,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                webhook_endpoint::Column::DisabledAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
            .filter(webhook_endpoint::Column::Status.eq(WebhookEndpointStatus::Disabled))
            .exec(&txn)
            .await?;
        webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::Status,
                Expr::value(DeliveryStatus::Pending),
            )
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now))
            .filter(webhook_delivery::Column::Id.eq(delivery_id))
            .filter(webhook_delivery::Column::Status.ne(DeliveryStatus::Sending))
            .exec(&txn)
            .await?;
        txn.commit().await
    })
    .await?;
    let row = find().await?.ok_or(WebhookError::DeliveryNotFound)?;
    Ok(with_events(db, vec![row]).await?.remove(0))
}

/// Shared by the API state and the jobs.
pub type SharedSealer = Arc<Sealer>;
