//! Drains the outbox: claims due rows, sends them, records the outcome.
//!
//! A row is *due* when it is `pending` with `next_attempt_at ≤ now`, or `sending` with an
//! expired `claimed_until` lease (its dispatcher died between claim and outcome; nothing is
//! lost, the row is simply claimed again). Claims are atomic, so the dispatcher runs on every
//! replica: on PostgreSQL the claim locks candidates with `FOR UPDATE SKIP LOCKED`, so two
//! replicas never take the same row; on SQLite the claim is a single `UPDATE … RETURNING`
//! statement under the database's one-writer lock.
//!
//! Outcomes: delivered → `sent` (`sent_at`); transient failure (4xx, connection, timeout) →
//! back to `pending` with exponential backoff and jitter; permanent failure (5xx) or too many
//! attempts → `failed`. Each outcome is a conditional update on the claim (status `sending` and
//! our `claimed_until`), so a dispatcher whose lease expired cannot overwrite a newer claim.

use std::{future::Future, time::Duration};

use chrono::{DateTime, Utc};
use entity::email_outbox::{self, Column};
use lettre::message::Mailbox;
use rand::Rng;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    ExprTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, LockBehavior, LockType, Query},
};

use super::{
    EmailKind, EmailStatus,
    transport::{SendError, Transport},
};
use crate::config::Config;

/// Retry and claim settings.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Delay before the second attempt; it doubles per attempt (plus up to 50% jitter).
    pub backoff_base: Duration,
    /// Longest delay between two attempts.
    pub backoff_cap: Duration,
    /// How long a claim lasts before another dispatcher may take the row over.
    pub lease: Duration,
    /// Rows claimed per round.
    pub batch: u64,
    /// After this many transient failures the row is `failed`.
    pub max_attempts: i32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(3600),
            lease: Duration::from_secs(300),
            batch: 50,
            // 2 s doubling, capped at an hour: about 19 hours of trying.
            max_attempts: 30,
        }
    }
}

impl Policy {
    /// The delay after the `attempts`-th failed attempt (1-based): base·2^(attempts-1), capped,
    /// plus up to 50% random jitter (still capped).
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exp = attempts.saturating_sub(1).clamp(0, 30) as u32;
        let raw = self
            .backoff_base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.backoff_cap);
        let jitter = rand::rng().random_range(0.0..0.5);
        raw.saturating_add(raw.mul_f64(jitter))
            .min(self.backoff_cap)
    }

    /// When the attempt after the `attempts`-th failure, at `now`, is due.
    pub fn retry_at(&self, now: DateTime<Utc>, attempts: i32) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.backoff(attempts))
            .unwrap_or(chrono::Duration::hours(1))
    }
}

/// The transport, the sender and the policy: everything a dispatcher needs besides the DB.
#[derive(Clone, Debug)]
pub struct Mailer {
    pub transport: Transport,
    pub from: Mailbox,
    pub policy: Policy,
}

impl Mailer {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            transport: Transport::from_config(config)?,
            from: config.mail_from.clone(),
            policy: Policy::default(),
        })
    }
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

/// When a claim taken at `now` for `lease` runs out (the webhook dispatcher claims alike).
pub fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1))
}

/// Atomically marks up to `limit` due rows `sending` until `now + lease` and returns them.
/// The one place where the two backends differ.
pub async fn claim(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> Result<Vec<email_outbox::Model>, DbErr> {
    let due = Column::Status
        .eq(EmailStatus::Pending)
        .and(Column::NextAttemptAt.lte(now))
        .or(Column::Status
            .eq(EmailStatus::Sending)
            .and(Column::ClaimedUntil.lte(now)));
    let mut candidates = Query::select();
    candidates
        .column(Column::Id)
        .from(email_outbox::Entity)
        .cond_where(due.clone())
        .order_by(Column::NextAttemptAt, sea_orm::Order::Asc)
        .order_by(Column::Id, sea_orm::Order::Asc)
        .limit(limit);
    if db.get_database_backend() == DatabaseBackend::Postgres {
        // Rows another replica is claiming right now are skipped, not waited for.
        candidates.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let mut rows = email_outbox::Entity::update_many()
        .col_expr(Column::Status, Expr::value(EmailStatus::Sending))
        .col_expr(Column::ClaimedUntil, Expr::value(lease_end(now, lease)))
        .filter(Column::Id.in_subquery(candidates.to_owned()))
        // Re-checked on the locked row: never claims a row that stopped being due.
        .filter(due)
        .exec_with_returning(db)
        .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Records the outcome of one claimed row; `false` if the claim was lost meanwhile.
async fn settle<C: ConnectionTrait>(
    db: &C,
    row: &email_outbox::Model,
    now: DateTime<Utc>,
    outcome: &Result<(), SendError>,
    policy: &Policy,
) -> Result<(EmailStatus, bool), DbErr> {
    let attempts = row.attempts.saturating_add(1);
    let mut update = email_outbox::Entity::update_many()
        .col_expr(Column::Attempts, Expr::value(attempts))
        .col_expr(
            Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        );
    let status = match outcome {
        Ok(()) => {
            update = update
                .col_expr(Column::Status, Expr::value(EmailStatus::Sent))
                .col_expr(Column::SentAt, Expr::value(now));
            EmailStatus::Sent
        }
        Err(SendError::Transient(msg)) if attempts < policy.max_attempts => {
            let next = policy.retry_at(now, attempts);
            update = update
                .col_expr(Column::Status, Expr::value(EmailStatus::Pending))
                .col_expr(Column::NextAttemptAt, Expr::value(next))
                .col_expr(Column::LastError, Expr::value(msg.clone()));
            EmailStatus::Pending
        }
        Err(SendError::Transient(msg) | SendError::Permanent(msg)) => {
            update = update
                .col_expr(Column::Status, Expr::value(EmailStatus::Failed))
                .col_expr(Column::LastError, Expr::value(msg.clone()));
            EmailStatus::Failed
        }
    };
    let res = update
        .filter(Column::Id.eq(row.id))
        .filter(Column::Status.eq(EmailStatus::Sending))
        .filter(Column::ClaimedUntil.eq(row.claimed_until))
        .exec(db)
        .await?;
    Ok((status, res.rows_affected == 1))
}

/// One round: claims the due rows as of `now`, sends each, records each outcome.
pub async fn drain_once(
    db: &DatabaseConnection,
    mailer: &Mailer,
    now: DateTime<Utc>,
) -> Result<Drained, DbErr> {
    let rows = claim(db, now, mailer.policy.lease, mailer.policy.batch).await?;
    let mut done = Drained {
        claimed: rows.len(),
        ..Default::default()
    };
    for row in rows {
        let outcome = mailer.transport.send(&mailer.from, &row).await;
        if let Err(e) = &outcome {
            tracing::warn!(id = row.id, kind = %row.kind, error = %e, "email not delivered");
        }
        let (status, settled) = settle(db, &row, now, &outcome, &mailer.policy).await?;
        if !settled {
            tracing::warn!(
                id = row.id,
                "email claim expired before its outcome was recorded"
            );
            continue;
        }
        match status {
            EmailStatus::Sent => done.sent += 1,
            EmailStatus::Pending => done.retried += 1,
            _ => done.failed += 1,
        }
    }
    Ok(done)
}

/// Rows still waiting to be sent (pending or claimed), for `/metrics`-style checks and tests.
pub async fn backlog(db: &DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    email_outbox::Entity::find()
        .filter(Column::Status.is_in([EmailStatus::Pending, EmailStatus::Sending]))
        .count(db)
        .await
}

/// Drains the outbox every `OUTBOX_POLL_MS` until `shutdown` resolves; a full batch is followed
/// immediately by the next round. Runs on every replica (claims make that safe).
pub async fn run(
    db: DatabaseConnection,
    mailer: Mailer,
    poll: Duration,
    shutdown: impl Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    tracing::info!(transport = ?mailer.transport, poll_ms = poll.as_millis() as u64, "outbox dispatcher started");
    loop {
        let wait = match drain_once(&db, &mailer, Utc::now()).await {
            Ok(d) if d.claimed as u64 >= mailer.policy.batch => Duration::ZERO,
            Ok(_) => poll,
            Err(e) => {
                tracing::error!(error = %e, "outbox dispatcher round failed");
                poll
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    tracing::info!("outbox dispatcher stopped");
}

/// Filters of the outbox listing.
#[derive(Default)]
pub struct ListFilter {
    pub status: Option<EmailStatus>,
    pub kind: Option<EmailKind>,
    pub recipient: Option<String>,
}

/// Outbox rows, newest first, after (older than) the cursor id; fetches `limit + 1` rows so the
/// caller can tell whether there is a next page.
pub async fn list(
    db: &DatabaseConnection,
    f: ListFilter,
    limit: u64,
    before: Option<i64>,
) -> Result<Vec<email_outbox::Model>, DbErr> {
    use sea_orm::QueryOrder;
    let mut q = email_outbox::Entity::find();
    if let Some(s) = f.status {
        q = q.filter(Column::Status.eq(s));
    }
    if let Some(k) = f.kind {
        q = q.filter(Column::Kind.eq(k));
    }
    if let Some(r) = f.recipient {
        q = q.filter(Column::Recipient.eq(r));
    }
    if let Some(id) = before {
        q = q.filter(Column::Id.lt(id));
    }
    q.order_by_desc(Column::Id).limit(limit + 1).all(db).await
}
