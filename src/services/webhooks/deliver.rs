//! Sends deliveries: claims due rows, signs and POSTs each event, records the outcome.
//!
//! Claims work like the email outbox's: a due row is `pending` with `next_attempt_at ≤ now`,
//! or `sending` with an expired lease (its sender died between claim and answer, so it is sent
//! again with the same `webhook-id`: at least once, never lost). On PostgreSQL the claim skips
//! rows another replica has locked, so each delivery normally goes out once.
//!
//! Outcomes: 2xx → `delivered`; 5xx, 408, 429, timeouts and connection errors → `pending`
//! again with exponential backoff; any other answer, or a target whose address is refused →
//! `failed`. An endpoint whose deliveries have failed for [`DISABLE_AFTER_DAYS`] days without
//! a success is `disabled`, its waiting deliveries `failed`, and its owner emailed.
//!
//! Requests are not redirected and time out after `WEBHOOK_TIMEOUT_MS`; every address a host
//! resolves to is checked at connection time (DNS can change after registration), unless
//! `WEBHOOK_ALLOW_PRIVATE=true`.

use std::{
    collections::HashMap,
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, Utc};
use entity::{
    merchant,
    webhook_delivery::{self, Column},
    webhook_endpoint, webhook_event,
};
use futures_util::StreamExt;
use lettre::message::Mailbox;
use sea_orm::{
    ColumnTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait, ExprTrait, QueryFilter,
    sea_query::{Expr, LockBehavior, LockType, Query},
};

use super::{DeliveryStatus, Sealer, WebhookEndpointStatus};
use crate::{
    db,
    domain::webhook,
    mail::{
        self, EmailKind, Locale, NewEmail,
        dispatcher::{Policy, lease_end},
    },
};

/// An endpoint failing this long without a success is disabled.
pub const DISABLE_AFTER_DAYS: i64 = 3;
/// How much of an answer's body is kept.
pub const RESPONSE_BODY_BYTES: usize = 1024;
/// Deliveries sent at once by one dispatcher.
const CONCURRENCY: usize = 16;

/// The resolver's refusal of a private address, found again in the error chain.
#[derive(Debug)]
struct AddressRefused(String);

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddressRefused {}

/// Resolves with the system resolver and drops nothing but refuses a host with any forbidden
/// address, so a connection can only go where the check allowed.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && let Some(a) = addrs.iter().find(|a| webhook::is_forbidden(a.ip()))
            {
                return Err(Box::new(AddressRefused(format!(
                    "{host} resolves to {}, a loopback, private, link-local or multicast address",
                    a.ip()
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Everything a dispatcher needs besides the database.
#[derive(Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    allow_private: bool,
    pub policy: Policy,
    sealer: Arc<Sealer>,
    /// Who hears of a disabled platform endpoint.
    staff: Vec<Mailbox>,
}

impl Deliverer {
    pub fn new(
        sealer: Arc<Sealer>,
        allow_private: bool,
        timeout: Duration,
        staff: Vec<Mailbox>,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .no_proxy()
            .user_agent(concat!(
                "merchant-incentives-webhooks/",
                env!("CARGO_PKG_VERSION")
            ))
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .build()?;
        Ok(Self {
            client,
            allow_private,
            policy: Policy {
                backoff_base: Duration::from_secs(5),
                backoff_cap: Duration::from_secs(3600),
                // A delivery is never claimed twice while its request may still be running.
                lease: timeout.saturating_mul(3).max(Duration::from_secs(1)),
                batch: 50,
                // 5 s doubling to an hour: about three days of trying.
                max_attempts: 80,
            },
            sealer,
            staff,
        })
    }

    pub fn from_config(
        config: &crate::config::Config,
        sealer: Arc<Sealer>,
    ) -> anyhow::Result<Self> {
        Self::new(
            sealer,
            config.webhook_allow_private,
            config.webhook_timeout,
            config.staff_digest_to.clone(),
        )
    }
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    pub claimed: usize,
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
    pub disabled: usize,
}

/// One attempt's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        status: u16,
        body: String,
    },
    /// Worth trying again: 5xx, 408, 429, a timeout or a connection error.
    Transient {
        status: Option<u16>,
        body: Option<String>,
        error: String,
    },
    /// Not worth trying again: another 4xx or other status, or a refused address.
    Permanent {
        status: Option<u16>,
        body: Option<String>,
        error: String,
    },
}

/// How an HTTP status is treated.
pub fn classify(status: u16, body: String) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered { status, body },
        408 | 429 | 500..=599 => Outcome::Transient {
            status: Some(status),
            body: Some(body),
            error: format!("the receiver answered {status}"),
        },
        _ => Outcome::Permanent {
            status: Some(status),
            body: Some(body),
            error: format!("the receiver answered {status}"),
        },
    }
}

/// Atomically marks up to `limit` due deliveries `sending` until `now + lease` and returns them.
pub async fn claim(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> Result<Vec<webhook_delivery::Model>, DbErr> {
    let due = Column::Status
        .eq(DeliveryStatus::Pending)
        .and(Column::NextAttemptAt.lte(now))
        .or(Column::Status
            .eq(DeliveryStatus::Sending)
            .and(Column::ClaimedUntil.lte(now)));
    let mut candidates = Query::select();
    candidates
        .column(Column::Id)
        .from(webhook_delivery::Entity)
        .cond_where(due.clone())
        .order_by(Column::NextAttemptAt, sea_orm::Order::Asc)
        .order_by(Column::Id, sea_orm::Order::Asc)
        .limit(limit);
    if db.get_database_backend() == DatabaseBackend::Postgres {
        candidates.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let mut rows = webhook_delivery::Entity::update_many()
        .col_expr(Column::Status, Expr::value(DeliveryStatus::Sending))
        .col_expr(Column::ClaimedUntil, Expr::value(lease_end(now, lease)))
        .filter(Column::Id.in_subquery(candidates.to_owned()))
        .filter(due)
        .exec_with_returning(db)
        .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Reads at most [`RESPONSE_BODY_BYTES`] of the answer, as text.
async fn first_kib(mut resp: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < RESPONSE_BODY_BYTES {
        match resp.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            _ => break,
        }
    }
    buf.truncate(RESPONSE_BODY_BYTES);
    String::from_utf8_lossy(&buf).into_owned()
}

fn refused_in(err: &reqwest::Error) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<AddressRefused>() {
            return Some(r.0.clone());
        }
        cur = e.source();
    }
    None
}

/// Signs and sends one event to one endpoint.
pub async fn send(
    deliverer: &Deliverer,
    db: &DatabaseConnection,
    endpoint: &webhook_endpoint::Model,
    event: &webhook_event::Model,
    now: DateTime<Utc>,
) -> Outcome {
    let permanent = |error: String| Outcome::Permanent {
        status: None,
        body: None,
        error,
    };
    let url = match webhook::parse_url(&endpoint.url) {
        Ok(u) => u,
        Err(e) => return permanent(e.message),
    };
    // An address written in the URL is never resolved, so it is checked here.
    let literal: Option<IpAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(ip.into()),
        Some(url::Host::Ipv6(ip)) => Some(ip.into()),
        _ => None,
    };
    if !deliverer.allow_private
        && let Some(ip) = literal.filter(|ip| webhook::is_forbidden(*ip))
    {
        return permanent(format!(
            "{ip} is a loopback, private, link-local or multicast address"
        ));
    }
    let mut secrets = Vec::with_capacity(2);
    match deliverer.sealer.open(db, &endpoint.secret).await {
        Ok(s) => secrets.push(s),
        Err(e) => {
            return Outcome::Transient {
                status: None,
                body: None,
                error: e.to_string(),
            };
        }
    }
    if let (Some(prev), Some(until)) = (&endpoint.previous_secret, endpoint.previous_secret_until)
        && until > now
        && let Ok(s) = deliverer.sealer.open(db, prev).await
    {
        secrets.push(s);
    }
    let timestamp = Utc::now().timestamp();
    let body = event.payload.as_bytes();
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let signature = webhook::signature_header(&refs, &event.message_id, timestamp, body);
    let result = deliverer
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &event.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(event.payload.clone())
        .send()
        .await;
    match result {
        Ok(resp) => {
            let status = resp.status().as_u16();
            classify(status, first_kib(resp).await)
        }
        Err(e) => match refused_in(&e) {
            Some(why) => permanent(why),
            None => Outcome::Transient {
                status: None,
                body: None,
                error: if e.is_timeout() {
                    "timed out".to_string()
                } else {
                    format!(
                        "{e}: {}",
                        std::error::Error::source(&e)
                            .map(|s| s.to_string())
                            .unwrap_or_default()
                    )
                },
            },
        },
    }
}

/// Records one claimed delivery's outcome and its endpoint's health; `false` if the claim
/// was lost meanwhile.
async fn settle(
    db: &DatabaseConnection,
    deliverer: &Deliverer,
    row: &webhook_delivery::Model,
    endpoint: &webhook_endpoint::Model,
    now: DateTime<Utc>,
    outcome: &Outcome,
) -> Result<(DeliveryStatus, bool, bool), DbErr> {
    let attempts = row.attempts.saturating_add(1);
    let (status, code, body, error) = match outcome {
        Outcome::Delivered { status, body } => (
            DeliveryStatus::Delivered,
            Some(*status),
            Some(body.clone()),
            None,
        ),
        Outcome::Transient {
            status,
            body,
            error,
        } if attempts < deliverer.policy.max_attempts => (
            DeliveryStatus::Pending,
            *status,
            body.clone(),
            Some(error.clone()),
        ),
        Outcome::Transient {
            status,
            body,
            error,
        }
        | Outcome::Permanent {
            status,
            body,
            error,
        } => (
            DeliveryStatus::Failed,
            *status,
            body.clone(),
            Some(error.clone()),
        ),
    };
    let next = deliverer.policy.retry_at(now, attempts);
    db::retry(|| async {
        let txn = db::begin_write(db).await?;
        let mut update = webhook_delivery::Entity::update_many()
            .col_expr(Column::Attempts, Expr::value(attempts))
            .col_expr(Column::Status, Expr::value(status))
            .col_expr(
                Column::ClaimedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(Column::ResponseStatus, Expr::value(code.map(i32::from)))
            .col_expr(Column::ResponseBody, Expr::value(body.clone()))
            .col_expr(Column::LastError, Expr::value(error.clone()));
        if status == DeliveryStatus::Delivered {
            update = update.col_expr(Column::DeliveredAt, Expr::value(Some(now)));
        }
        if status == DeliveryStatus::Pending {
            update = update.col_expr(Column::NextAttemptAt, Expr::value(next));
        }
        let res = update
            .filter(Column::Id.eq(row.id))
            .filter(Column::Status.eq(DeliveryStatus::Sending))
            .filter(Column::ClaimedUntil.eq(row.claimed_until))
            .exec(&txn)
            .await?;
        if res.rows_affected != 1 {
            txn.rollback().await?;
            return Ok((status, false, false));
        }
        let disabled = endpoint_health(&txn, deliverer, endpoint, now, status).await?;
        txn.commit().await?;
        Ok((status, true, disabled))
    })
    .await
}

/// A success clears the endpoint's failing spell; a failure starts one, and one that has
/// lasted [`DISABLE_AFTER_DAYS`] disables the endpoint (once), fails its waiting deliveries
/// and emails its owner. Returns whether this call disabled it.
async fn endpoint_health(
    txn: &sea_orm::DatabaseTransaction,
    deliverer: &Deliverer,
    endpoint: &webhook_endpoint::Model,
    now: DateTime<Utc>,
    status: DeliveryStatus,
) -> Result<bool, DbErr> {
    use webhook_endpoint::Column as E;
    if status == DeliveryStatus::Delivered {
        webhook_endpoint::Entity::update_many()
            .col_expr(E::FailingSince, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(E::Id.eq(endpoint.id))
            .filter(E::FailingSince.is_not_null())
            .exec(txn)
            .await?;
        return Ok(false);
    }
    webhook_endpoint::Entity::update_many()
        .col_expr(E::FailingSince, Expr::value(Some(now)))
        .filter(E::Id.eq(endpoint.id))
        .filter(E::FailingSince.is_null())
        .exec(txn)
        .await?;
    let cutoff = now - chrono::Duration::days(DISABLE_AFTER_DAYS);
    let res = webhook_endpoint::Entity::update_many()
        .col_expr(E::Status, Expr::value(WebhookEndpointStatus::Disabled))
        .col_expr(E::DisabledAt, Expr::value(Some(now)))
        .filter(E::Id.eq(endpoint.id))
        .filter(E::Status.eq(WebhookEndpointStatus::Active))
        .filter(E::FailingSince.lte(cutoff))
        .exec(txn)
        .await?;
    if res.rows_affected != 1 {
        return Ok(false);
    }
    webhook_delivery::Entity::update_many()
        .col_expr(Column::Status, Expr::value(DeliveryStatus::Failed))
        .col_expr(
            Column::LastError,
            Expr::value(Some("the endpoint was disabled".to_string())),
        )
        .filter(Column::EndpointId.eq(endpoint.id))
        .filter(Column::Status.eq(DeliveryStatus::Pending))
        .exec(txn)
        .await?;
    let owner = match endpoint.merchant_id {
        Some(id) => merchant::Entity::find_by_id(id)
            .one(txn)
            .await?
            .map(|m| vec![(m.contact_email, m.display_name, m.locale)])
            .unwrap_or_default(),
        None => deliverer
            .staff
            .iter()
            .map(|m| {
                (
                    m.email.to_string(),
                    m.name.clone().unwrap_or_default(),
                    Locale::ZhCn,
                )
            })
            .collect(),
    };
    for (to, name, locale) in owner {
        let rendered = mail::templates::render(
            EmailKind::WebhookDisabled,
            &serde_json::json!({
                "locale": locale.as_str(),
                "display_name": name,
                "url": endpoint.url,
                "endpoint_id": endpoint.id,
                "days": DISABLE_AFTER_DAYS,
            }),
        )
        .map_err(|e| DbErr::Custom(format!("rendering the webhook_disabled email: {e}")))?;
        mail::enqueue(
            txn,
            NewEmail {
                kind: EmailKind::WebhookDisabled,
                merchant_id: endpoint.merchant_id,
                recipient: &to,
                locale,
                rendered,
                dedupe_key: format!(
                    "{}:{}:{}:{}",
                    EmailKind::WebhookDisabled,
                    endpoint.id,
                    now.timestamp(),
                    to
                ),
            },
        )
        .await?;
    }
    Ok(true)
}

/// One round: claims the due deliveries as of `now`, sends them (several at once), records
/// each outcome.
pub async fn drain_once(
    db: &DatabaseConnection,
    deliverer: &Deliverer,
    now: DateTime<Utc>,
) -> Result<Drained, DbErr> {
    let rows = claim(db, now, deliverer.policy.lease, deliverer.policy.batch).await?;
    let mut done = Drained {
        claimed: rows.len(),
        ..Default::default()
    };
    if rows.is_empty() {
        return Ok(done);
    }
    let endpoints: HashMap<i64, webhook_endpoint::Model> = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Id.is_in(rows.iter().map(|r| r.endpoint_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let events: HashMap<i64, webhook_event::Model> = webhook_event::Entity::find()
        .filter(webhook_event::Column::Id.is_in(rows.iter().map(|r| r.event_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let results: Vec<Result<(DeliveryStatus, bool, bool), DbErr>> = futures_util::stream::iter(rows)
        .map(|row| {
            let (endpoint, event) = (endpoints.get(&row.endpoint_id), events.get(&row.event_id));
            async move {
                let Some(endpoint) = endpoint else {
                    // Deleted meanwhile: its deliveries went with it.
                    return Ok((DeliveryStatus::Failed, false, false));
                };
                let outcome = match event {
                    Some(event) if endpoint.status == WebhookEndpointStatus::Active => {
                        send(deliverer, db, endpoint, event, now).await
                    }
                    Some(_) => Outcome::Permanent { status: None, body: None, error: "the endpoint is disabled".into() },
                    None => Outcome::Permanent { status: None, body: None, error: "the event is missing".into() },
                };
                if let Outcome::Transient { error, .. } | Outcome::Permanent { error, .. } = &outcome {
                    tracing::warn!(delivery = row.id, endpoint = endpoint.id, error = %error, "webhook not delivered");
                }
                settle(db, deliverer, &row, endpoint, now, &outcome).await
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for r in results {
        let (status, settled, disabled) = r?;
        if !settled {
            continue;
        }
        done.disabled += usize::from(disabled);
        match status {
            DeliveryStatus::Delivered => done.delivered += 1,
            DeliveryStatus::Pending => done.retried += 1,
            _ => done.failed += 1,
        }
    }
    Ok(done)
}

/// Drains the deliveries every `poll` until `shutdown` resolves; a full batch is followed
/// immediately by the next round. Runs on every replica.
pub async fn run(
    db: DatabaseConnection,
    deliverer: Deliverer,
    poll: Duration,
    shutdown: impl Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    tracing::info!(
        poll_ms = poll.as_millis() as u64,
        "webhook dispatcher started"
    );
    loop {
        let wait = match drain_once(&db, &deliverer, Utc::now()).await {
            Ok(d) if d.claimed as u64 >= deliverer.policy.batch => Duration::ZERO,
            Ok(_) => poll,
            Err(e) => {
                tracing::error!(error = %e, "webhook dispatcher round failed");
                poll
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    tracing::info!("webhook dispatcher stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_retried_or_final_as_documented() {
        for s in [200, 201, 204, 299] {
            assert!(
                matches!(classify(s, String::new()), Outcome::Delivered { .. }),
                "{s}"
            );
        }
        for s in [408, 429, 500, 502, 503, 599] {
            assert!(
                matches!(classify(s, String::new()), Outcome::Transient { .. }),
                "{s}"
            );
        }
        for s in [301, 302, 400, 401, 403, 404, 410, 422] {
            assert!(
                matches!(classify(s, String::new()), Outcome::Permanent { .. }),
                "{s}"
            );
        }
    }
}
