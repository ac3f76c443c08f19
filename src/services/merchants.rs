//! Onboarding: applications, the review status machine, API keys and merchant lookup.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Duration, Utc};
use entity::{api_key, merchant, merchant_decision};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func},
};

use crate::services::segments;
use crate::services::webhooks::{self, WebhookEventType, events::NewEvent};
use crate::{
    db,
    domain::ErrorCode,
    domain::{
        FieldError,
        merchant::{
            Application, ApplicationInput, DecisionAction, DecisionActionExt, MerchantKind,
            MerchantStatus, MerchantStatusExt,
        },
        text,
    },
    mail::{self, EmailKind, Locale, NewEmail},
    pagination, secrets,
};

const LAST_USED_GRANULARITY: Duration = Duration::seconds(60);
/// How long a key's new `last_used_at` may wait in memory before it is written.
const TOUCH_FLUSH_DELAY: std::time::Duration = std::time::Duration::from_secs(1);
/// Keys per `UPDATE` when touches are written.
const TOUCH_CHUNK: usize = 500;

/// What can go wrong in onboarding, in its own words; `src/api` maps each case to a code.
#[derive(Debug, thiserror::Error)]
pub enum OnboardingError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("a merchant with this unified social credit code already exists")]
    DuplicateUscc,
    #[error("merchant not found")]
    MerchantNotFound,
    #[error("API key not found")]
    KeyNotFound,
    #[error("unknown or revoked API key")]
    UnknownKey,
    #[error("this merchant is suspended; its keys are blocked until it is reinstated")]
    Suspended,
    #[error("cannot {action} a merchant whose status is {from}")]
    InvalidTransition {
        action: &'static str,
        from: &'static str,
    },
    #[error(
        "the application can only be edited while submitted or changes_requested; it is {}",
        .0.as_str()
    )]
    NotEditable(MerchantStatus),
    #[error("a merchant may hold at most {MAX_ACTIVE_KEYS} usable keys; revoke one first")]
    TooManyKeys,
    #[error("this is the only usable key; create another before revoking it")]
    LastKey,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Mail(#[from] anyhow::Error),
}

impl crate::db::MaybeTransient for OnboardingError {
    fn transient(&self) -> Option<crate::db::Transient> {
        match self {
            Self::Db(e) => crate::db::transient(e),
            _ => None,
        }
    }
}

type Result<T, E = OnboardingError> = std::result::Result<T, E>;

/// A merchant authenticated by one of its API keys.
#[derive(Clone, Debug)]
pub struct MerchantCaller {
    pub merchant_id: i64,
    pub key_id: i64,
    pub status: MerchantStatus,
}

impl MerchantCaller {
    /// How this merchant appears in audit trails.
    pub fn actor(&self) -> String {
        format!("merchant:{}", self.merchant_id)
    }
}

/// A new API key: the stored row and the secret, shown once.
pub struct IssuedKey {
    pub row: api_key::Model,
    pub secret: String,
}

/// `last_used_at` of API keys, written in batches instead of once per request.
///
/// Merchants call rarely, so nearly every authenticated request found its key's
/// `last_used_at` older than [`LAST_USED_GRANULARITY`] and paid a durable write (a commit, an
/// fsync) before it could answer — on a read endpoint, half the cost of the request. Instead
/// the time is remembered here and written, for every key touched meanwhile, by one task at
/// most [`TOUCH_FLUSH_DELAY`] after the first touch (and when the server stops). Reads of the
/// keys on this replica see the pending value ([`KeyTouches::apply`]); other replicas see it
/// a second later, well inside the granularity.
#[derive(Default)]
pub struct KeyTouches {
    pending: Mutex<HashMap<i64, DateTime<Utc>>>,
}

impl KeyTouches {
    /// Records that `key_id` was used at `at`; schedules a write if none is scheduled.
    pub fn touch(self: &Arc<Self>, db: &DatabaseConnection, key_id: i64, at: DateTime<Utc>) {
        let mut pending = self.pending.lock().expect("key touches lock");
        let schedule = pending.is_empty();
        let t = pending.entry(key_id).or_insert(at);
        *t = std::cmp::Ord::max(*t, at);
        drop(pending);
        if schedule {
            let (touches, db) = (self.clone(), db.clone());
            tokio::spawn(async move {
                tokio::time::sleep(TOUCH_FLUSH_DELAY).await;
                touches.flush(&db).await;
            });
        }
    }

    /// The key's row with a not yet written `last_used_at` applied.
    pub fn apply(&self, mut row: api_key::Model) -> api_key::Model {
        if let Some(at) = self
            .pending
            .lock()
            .expect("key touches lock")
            .get(&row.id)
            .copied()
            && row.last_used_at.is_none_or(|t| t < at)
        {
            row.last_used_at = Some(at);
        }
        row
    }

    /// Writes every pending touch. A failure is logged: the times are a hint, not a record.
    pub async fn flush(&self, db: &DatabaseConnection) {
        let pending: Vec<(i64, DateTime<Utc>)> = {
            let mut map = self.pending.lock().expect("key touches lock");
            let out = map.iter().map(|(k, t)| (*k, *t)).collect();
            map.clear();
            out
        };
        for chunk in pending.chunks(TOUCH_CHUNK) {
            // One statement per chunk; the touches of one chunk lie within a second of each
            // other, so they share the latest of their times.
            let at = chunk
                .iter()
                .map(|(_, t)| *t)
                .max()
                .expect("non-empty chunk");
            let result = api_key::Entity::update_many()
                .col_expr(api_key::Column::LastUsedAt, Expr::value(at))
                .filter(api_key::Column::Id.is_in(chunk.iter().map(|(k, _)| *k)))
                .filter(
                    Condition::any()
                        .add(api_key::Column::LastUsedAt.is_null())
                        .add(api_key::Column::LastUsedAt.lt(at)),
                )
                .exec(db)
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, keys = chunk.len(), "could not record API key use");
            }
        }
    }
}

/// Resolves an `X-API-Key` to its merchant. Suspended merchants are refused unless
/// `allow_suspended` (reading its own account, to see the status and the reason).
pub async fn authenticate(
    db: &DatabaseConnection,
    touches: &Arc<KeyTouches>,
    key: &str,
    allow_suspended: bool,
) -> Result<MerchantCaller> {
    let hash = secrets::hash(key);
    // Only the columns the answer needs: this runs before every merchant request.
    type Found = (
        i64,
        String,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        i64,
        MerchantStatus,
    );
    let (key_id, key_hash, revoked_at, last_used_at, merchant_id, status): Found =
        api_key::Entity::find()
            .select_only()
            .columns([
                api_key::Column::Id,
                api_key::Column::KeyHash,
                api_key::Column::RevokedAt,
                api_key::Column::LastUsedAt,
                api_key::Column::MerchantId,
            ])
            .column(merchant::Column::Status)
            .inner_join(merchant::Entity)
            .filter(api_key::Column::KeyHash.eq(hash.clone()))
            .into_tuple()
            .one(db)
            .await?
            .ok_or(OnboardingError::UnknownKey)?;
    if revoked_at.is_some() || !secrets::hashes_equal(&key_hash, &hash) {
        return Err(OnboardingError::UnknownKey);
    }
    if status == MerchantStatus::Suspended && !allow_suspended {
        return Err(OnboardingError::Suspended);
    }
    let now = Utc::now();
    if last_used_at.is_none_or(|t| now - t > LAST_USED_GRANULARITY) {
        touches.touch(db, key_id, now);
    }
    Ok(MerchantCaller {
        merchant_id,
        key_id,
        status,
    })
}

fn status_labels(status: MerchantStatus) -> (&'static str, &'static str) {
    match status {
        MerchantStatus::Submitted => ("已提交，待审核", "submitted, awaiting review"),
        MerchantStatus::Approved => ("审核通过", "approved"),
        MerchantStatus::Rejected => ("未通过", "rejected"),
        MerchantStatus::ChangesRequested => ("需修改资料", "changes requested"),
        MerchantStatus::Suspended => ("已暂停", "suspended"),
    }
}

/// Queues the `onboarding_status` email for the merchant's current status.
async fn queue_status_email<C: sea_orm::ConnectionTrait>(
    db: &C,
    m: &merchant::Model,
    reason: Option<&str>,
    dedupe: String,
) -> Result<()> {
    let (status_zh, status_en) = status_labels(m.status);
    let locale = m.locale;
    let rendered = mail::templates::render(
        EmailKind::OnboardingStatus,
        &serde_json::json!({
            "locale": locale.as_str(),
            "legal_name": m.legal_name,
            "display_name": m.display_name,
            "uscc": m.uscc,
            "status": m.status,
            "status_zh": status_zh,
            "status_en": status_en,
            "reason": reason.filter(|r| !r.is_empty()),
        }),
    )?;
    mail::enqueue(
        db,
        NewEmail {
            kind: EmailKind::OnboardingStatus,
            merchant_id: Some(m.id),
            recipient: &m.contact_email,
            locale,
            rendered,
            dedupe_key: dedupe,
        },
    )
    .await?;
    Ok(())
}

fn new_key_row(merchant_id: i64) -> (api_key::ActiveModel, String) {
    let secret = secrets::generate(secrets::MERCHANT_KEY_PREFIX);
    (
        api_key::ActiveModel {
            merchant_id: Set(merchant_id),
            prefix: Set(secret.prefix),
            key_hash: Set(secret.hash),
            created_at: Set(Utc::now()),
            ..Default::default()
        },
        secret.value,
    )
}

/// Registers an application: the merchant (`submitted`), its first key and the
/// acknowledgement email, all in one transaction.
pub async fn apply(
    db: &DatabaseConnection,
    app: Application,
) -> Result<(merchant::Model, IssuedKey)> {
    db::retry(|| apply_once(db, app.clone())).await
}

async fn apply_once(
    db: &DatabaseConnection,
    app: Application,
) -> Result<(merchant::Model, IssuedKey)> {
    let exists = merchant::Entity::find()
        .filter(merchant::Column::Uscc.eq(app.uscc.as_str()))
        .count(db)
        .await?;
    if exists > 0 {
        return Err(OnboardingError::DuplicateUscc);
    }
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let inserted = merchant::ActiveModel {
        kind: Set(app.kind),
        status: Set(MerchantStatus::Submitted),
        legal_name: Set(app.legal_name),
        display_name: Set(app.display_name),
        uscc: Set(app.uscc.as_str().to_string()),
        contact_email: Set(app.contact_email),
        province: Set(app.province),
        city: Set(app.city),
        category: Set(app.category),
        brand_name: Set(app.brand_name),
        trademark_number: Set(app.trademark_number),
        industry_belt: Set(app.industry_belt),
        weekly_report: Set(true),
        locale: Set(Locale::ZhCn),
        last_gmv_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let m = match inserted {
        Ok(m) => m,
        Err(e) if db::is_unique_violation(&e) => return Err(OnboardingError::DuplicateUscc),
        Err(e) => return Err(e.into()),
    };
    let (key, secret) = new_key_row(m.id);
    let key = key.insert(&txn).await?;
    queue_status_email(
        &txn,
        &m,
        None,
        format!("onboarding_status:{}:applied", m.id),
    )
    .await?;
    txn.commit().await?;
    Ok((m, IssuedKey { row: key, secret }))
}

pub async fn get(db: &DatabaseConnection, id: i64) -> Result<merchant::Model> {
    merchant::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(OnboardingError::MerchantNotFound)
}

pub struct ListFilter {
    pub kind: Option<MerchantKind>,
    pub status: Option<MerchantStatus>,
    pub industry_belt: Option<String>,
    pub q: Option<String>,
}

fn like_pattern(q: &str) -> String {
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub async fn list(
    db: &DatabaseConnection,
    f: ListFilter,
    limit: u64,
    after: Option<i64>,
) -> Result<(Vec<merchant::Model>, Option<String>)> {
    let mut cond = Condition::all();
    if let Some(k) = f.kind {
        cond = cond.add(merchant::Column::Kind.eq(k));
    }
    if let Some(s) = f.status {
        cond = cond.add(merchant::Column::Status.eq(s));
    }
    if let Some(b) = f
        .industry_belt
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
    {
        cond = cond.add(merchant::Column::IndustryBelt.eq(b));
    }
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pat = like_pattern(q);
        let like = |col: merchant::Column| {
            Expr::expr(Func::lower(Expr::col(col)))
                .like(sea_orm::sea_query::LikeExpr::new(pat.clone()).escape('\\'))
        };
        cond = cond.add(
            Condition::any()
                .add(like(merchant::Column::LegalName))
                .add(like(merchant::Column::DisplayName))
                .add(like(merchant::Column::BrandName))
                .add(merchant::Column::Uscc.eq(q.to_ascii_uppercase())),
        );
    }
    if let Some(after) = after {
        cond = cond.add(merchant::Column::Id.gt(after));
    }
    let rows = merchant::Entity::find()
        .filter(cond)
        .order_by_asc(merchant::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    Ok(pagination::page(rows, limit, |m| m.id.to_string()))
}

/// Applies a decision (or the merchant's re-submission) if the status machine allows it.
/// The update is conditional on the status read, so two racing reviewers cannot both win.
pub async fn decide(
    db: &DatabaseConnection,
    actor: &str,
    id: i64,
    action: DecisionAction,
    reason: &str,
) -> Result<merchant::Model> {
    let reason = text::optional("reason", Some(reason), 2000)?.unwrap_or_default();
    if action.needs_reason() && reason.is_empty() {
        return Err(FieldError::new(
            "reason",
            ErrorCode::Required,
            format!("a reason is required to {}", action.as_str()),
        )
        .into());
    }
    db::retry(|| decide_once(db, actor, id, action, &reason)).await
}

async fn decide_once(
    db: &DatabaseConnection,
    actor: &str,
    id: i64,
    action: DecisionAction,
    reason: &str,
) -> Result<merchant::Model> {
    let txn = db::begin_write(db).await?;
    let m = merchant::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(OnboardingError::MerchantNotFound)?;
    let from = m.status;
    let impossible = || OnboardingError::InvalidTransition {
        action: action.as_str(),
        from: from.as_str(),
    };
    let to = from.apply(action).ok_or_else(impossible)?;
    let now = Utc::now();
    let updated = merchant::Entity::update_many()
        .col_expr(merchant::Column::Status, Expr::value(to))
        .col_expr(
            merchant::Column::StatusReason,
            Expr::value((!reason.is_empty()).then(|| reason.to_string())),
        )
        .col_expr(merchant::Column::UpdatedAt, Expr::value(now))
        .filter(merchant::Column::Id.eq(id))
        .filter(merchant::Column::Status.eq(from))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(impossible());
    }
    let decision = merchant_decision::ActiveModel {
        merchant_id: Set(id),
        actor: Set(actor.to_string()),
        action: Set(action),
        reason: Set(reason.to_string()),
        from_status: Set(from),
        to_status: Set(to),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let m = merchant::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(OnboardingError::MerchantNotFound)?;
    // The GMV structure counts approved merchants: entering or leaving `approved` adds or
    // takes away all of the merchant's GMV (its row is updated above, so its ingestion has
    // committed or waits for this transaction).
    let (was, is) = (
        from == MerchantStatus::Approved,
        to == MerchantStatus::Approved,
    );
    if was != is {
        let sign = if is { 1 } else { -1 };
        segments::append_merchant(&txn, id, &segments::Attributes::from(&m), sign).await?;
    }
    queue_status_email(
        &txn,
        &m,
        Some(reason),
        format!("onboarding_status:{id}:{}", decision.id),
    )
    .await?;
    webhooks::events::emit(
        &txn,
        vec![NewEvent {
            kind: WebhookEventType::MerchantDecision,
            merchant_id: Some(id),
            dedupe_key: format!("merchant.decision:{}", decision.id),
            data: serde_json::json!({
                "merchant_id": id,
                "decision_id": decision.id,
                "action": action,
                "from_status": from,
                "to_status": to,
                "reason": decision.reason,
                "actor": decision.actor,
            }),
            at: now,
        }],
    )
    .await?;
    txn.commit().await?;
    Ok(m)
}

/// A merchant's decisions, oldest first, after the decision id `after`; `limit + 1` rows.
pub async fn decisions(
    db: &DatabaseConnection,
    id: i64,
    limit: u64,
    after: Option<i64>,
) -> Result<Vec<merchant_decision::Model>> {
    get(db, id).await?;
    let mut q =
        merchant_decision::Entity::find().filter(merchant_decision::Column::MerchantId.eq(id));
    if let Some(a) = after {
        q = q.filter(merchant_decision::Column::Id.gt(a));
    }
    Ok(q.order_by_asc(merchant_decision::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?)
}

/// The fields a merchant may change while its application is open.
#[derive(Default)]
pub struct Edit {
    pub legal_name: Option<String>,
    pub display_name: Option<String>,
    pub contact_email: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub category: Option<String>,
    pub brand_name: Option<String>,
    pub trademark_number: Option<String>,
    pub industry_belt: Option<String>,
}

/// Edits the application; in `changes_requested` this re-submits it.
pub async fn edit(db: &DatabaseConnection, id: i64, e: Edit) -> Result<merchant::Model> {
    let m = get(db, id).await?;
    let status = m.status;
    if !status.editable() {
        return Err(OnboardingError::NotEditable(m.status));
    }
    let kind = m.kind;
    let input = ApplicationInput {
        legal_name: e.legal_name.unwrap_or_else(|| m.legal_name.clone()),
        display_name: e.display_name.unwrap_or_else(|| m.display_name.clone()),
        uscc: m.uscc.clone(),
        contact_email: e.contact_email.unwrap_or_else(|| m.contact_email.clone()),
        province: e.province.unwrap_or_else(|| m.province.clone()),
        city: e.city.unwrap_or_else(|| m.city.clone()),
        category: e.category.unwrap_or_else(|| m.category.clone()),
        brand_name: e.brand_name.or_else(|| m.brand_name.clone()),
        trademark_number: e.trademark_number.or_else(|| m.trademark_number.clone()),
        industry_belt: e.industry_belt.or_else(|| m.industry_belt.clone()),
    };
    let app = Application::parse(kind, &input)?;
    db::retry(|| save_edit(db, &m, &app)).await?;
    if status == MerchantStatus::ChangesRequested {
        return decide(
            db,
            &format!("merchant:{id}"),
            id,
            DecisionAction::Resubmit,
            "",
        )
        .await;
    }
    get(db, id).await
}

/// Writes an edited application.
async fn save_edit(db: &DatabaseConnection, m: &merchant::Model, app: &Application) -> Result<()> {
    let app = app.clone();
    let txn = db::begin_write(db).await?;
    let mut active: merchant::ActiveModel = m.clone().into();
    active.id = sea_orm::ActiveValue::NotSet;
    active.status = sea_orm::ActiveValue::NotSet;
    active.legal_name = Set(app.legal_name);
    active.display_name = Set(app.display_name);
    active.contact_email = Set(app.contact_email);
    active.province = Set(app.province);
    active.city = Set(app.city);
    active.category = Set(app.category);
    active.brand_name = Set(app.brand_name);
    active.trademark_number = Set(app.trademark_number);
    active.industry_belt = Set(app.industry_belt);
    active.updated_at = Set(Utc::now());
    // Only while the status read is still current: a decision that came in between (say an
    // approval) wins, and the edit is refused rather than changing an approved merchant.
    let done = merchant::Entity::update_many()
        .set(active)
        .filter(merchant::Column::Id.eq(m.id))
        .filter(merchant::Column::Status.eq(m.status))
        .exec(&txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(OnboardingError::NotEditable(m.status));
    }
    txn.commit().await?;
    Ok(())
}

/// A merchant's email preferences; an absent alert switch stays as it is.
pub struct NotificationPrefs {
    pub weekly_report: bool,
    pub locale: Locale,
    pub near_tier: Option<bool>,
    pub at_risk: Option<bool>,
}

pub async fn set_notifications(
    db: &DatabaseConnection,
    id: i64,
    prefs: NotificationPrefs,
) -> Result<merchant::Model> {
    let now = Utc::now();
    db::retry(|| {
        let mut update = merchant::Entity::update_many()
            .col_expr(
                merchant::Column::WeeklyReport,
                Expr::value(prefs.weekly_report),
            )
            .col_expr(merchant::Column::Locale, Expr::value(prefs.locale))
            .col_expr(merchant::Column::UpdatedAt, Expr::value(now));
        if let Some(v) = prefs.near_tier {
            update = update.col_expr(merchant::Column::NotifyNearTier, Expr::value(v));
        }
        if let Some(v) = prefs.at_risk {
            update = update.col_expr(merchant::Column::NotifyAtRisk, Expr::value(v));
        }
        update.filter(merchant::Column::Id.eq(id)).exec(db)
    })
    .await?;
    get(db, id).await
}

/// A merchant's keys, oldest first, after the key id `after`; `limit + 1` rows.
pub async fn keys(
    db: &DatabaseConnection,
    merchant_id: i64,
    limit: u64,
    after: Option<i64>,
) -> Result<Vec<api_key::Model>> {
    let mut q = api_key::Entity::find().filter(api_key::Column::MerchantId.eq(merchant_id));
    if let Some(a) = after {
        q = q.filter(api_key::Column::Id.gt(a));
    }
    Ok(q.order_by_asc(api_key::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?)
}

/// At most this many usable keys per merchant.
pub const MAX_ACTIVE_KEYS: u64 = 10;

pub async fn create_key(db: &DatabaseConnection, merchant_id: i64) -> Result<IssuedKey> {
    let active = api_key::Entity::find()
        .filter(api_key::Column::MerchantId.eq(merchant_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .count(db)
        .await?;
    if active >= MAX_ACTIVE_KEYS {
        return Err(OnboardingError::TooManyKeys);
    }
    let (row, secret) = new_key_row(merchant_id);
    Ok(IssuedKey {
        row: db::retry(|| row.clone().insert(db)).await?,
        secret,
    })
}

/// Revokes one of the merchant's keys, keeping at least one usable.
pub async fn revoke_key(
    db: &DatabaseConnection,
    merchant_id: i64,
    key_id: i64,
) -> Result<api_key::Model> {
    db::retry(|| revoke_key_once(db, merchant_id, key_id)).await
}

async fn revoke_key_once(
    db: &DatabaseConnection,
    merchant_id: i64,
    key_id: i64,
) -> Result<api_key::Model> {
    let txn = db::begin_write(db).await?;
    let key = api_key::Entity::find_by_id(key_id)
        .filter(api_key::Column::MerchantId.eq(merchant_id))
        .one(&txn)
        .await?
        .ok_or(OnboardingError::KeyNotFound)?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let others = api_key::Entity::find()
        .filter(api_key::Column::MerchantId.eq(merchant_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .filter(api_key::Column::Id.ne(key_id))
        .count(&txn)
        .await?;
    if others == 0 {
        return Err(OnboardingError::LastKey);
    }
    let mut active: api_key::ActiveModel = key.into();
    active.revoked_at = Set(Some(Utc::now()));
    let key = active.update(&txn).await?;
    txn.commit().await?;
    Ok(key)
}
