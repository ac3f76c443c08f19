//! The scheduled reports: `merchant_weekly` (one per approved merchant that wants it, per week,
//! and one per creator with a contact address)
//! and `staff_daily` (one per `STAFF_DIGEST_TO` recipient per local day). Each is a plain async
//! function that renders and queues outbox rows; a dedupe key per recipient and period makes a
//! second trigger a no-op. The weekly report is also rendered on demand as a preview.
//!
//! The figures and the contexts come from [`crate::services::reports`]; this module only renders
//! them and queues the messages. The weekly report's dedupe key names the Monday of the week it
//! reports.

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;
use entity::{creator, merchant};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::{EmailKind, InlineImage, NewEmail, Rendered, enqueue, templates};
use crate::{
    config::Config,
    domain::{merchant::MerchantStatus, period::local_day},
    services::reports::{
        staff_daily::{StaffDaily, staff_daily_context},
        weekly::{
            MerchantWeekly, creator_weekly_context, merchant_weekly_context, merchant_weekly_of,
            reported_week,
        },
    },
};

pub use entity::enums::DigestKind;

/// What a digest run queued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queued {
    /// Recipients considered.
    pub recipients: u64,
    /// New outbox rows.
    pub queued: u64,
    /// Recipients whose message for this period was already queued.
    pub duplicates: u64,
}

impl Queued {
    /// Counts one recipient's email: newly queued, or already in the outbox.
    fn count(&mut self, inserted: bool) {
        if inserted {
            self.queued += 1;
        } else {
            self.duplicates += 1;
        }
    }
}

/// Runs one digest as of `as_of`: what the scheduler and the CLI call.
pub async fn run_digest(
    db: &DatabaseConnection,
    config: &Config,
    kind: DigestKind,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Queued> {
    let q = match kind {
        DigestKind::MerchantWeekly => merchant_weekly(db, config, as_of).await?,
        DigestKind::StaffDaily => staff_daily(db, config, as_of).await?,
    };
    tracing::info!(
        kind = kind.as_str(),
        recipients = q.recipients,
        queued = q.queued,
        duplicates = q.duplicates,
        "digest queued"
    );
    Ok(q)
}

// ---------------------------------------------------------------------------------------------
// merchant_weekly

/// The weekly report of merchant `id` as it would be sent at `as_of`; `None` if no such merchant.
pub async fn merchant_report(
    db: &DatabaseConnection,
    id: i64,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Option<Rendered>> {
    let Some(ctx) = merchant_weekly_of(db, id, as_of).await? else {
        return Ok(None);
    };
    Ok(Some(templates::render(EmailKind::MerchantWeekly, &ctx)?))
}

/// The charts of a weekly report: one per programme line that has one.
pub fn merchant_weekly_images(ctx: &MerchantWeekly) -> anyhow::Result<Vec<InlineImage>> {
    ctx.programs
        .iter()
        .filter_map(|p| p.chart.as_ref())
        .map(InlineImage::of)
        .collect()
}

/// The charts of a staff digest: each programme's tier counts and shares.
pub fn staff_daily_images(ctx: &StaffDaily) -> anyhow::Result<Vec<InlineImage>> {
    ctx.programs
        .iter()
        .flat_map(|p| [p.tier_chart.as_ref(), p.share_chart.as_ref()])
        .flatten()
        .map(InlineImage::of)
        .collect()
}

/// Queues the weekly report for every approved merchant with `weekly_report` on.
pub async fn merchant_weekly(
    db: &DatabaseConnection,
    _config: &Config,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Queued> {
    let (week_start, _) = reported_week(local_day(Shanghai, as_of));
    let mut done = Queued::default();
    let mut after = 0i64;
    loop {
        let batch = merchant::Entity::find()
            .filter(merchant::Column::Status.eq(MerchantStatus::Approved))
            .filter(merchant::Column::WeeklyReport.eq(true))
            .filter(merchant::Column::Id.gt(after))
            .order_by_asc(merchant::Column::Id)
            .limit(500)
            .all(db)
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for m in &batch {
            done.recipients += 1;
            let dedupe_key = format!("{}:{}:{week_start}", EmailKind::MerchantWeekly, m.id);
            if already_queued(db, &dedupe_key).await? {
                done.duplicates += 1;
                continue;
            }
            let ctx = merchant_weekly_context(db, m, as_of).await?;
            let mut rendered = templates::render(EmailKind::MerchantWeekly, &ctx)?;
            rendered.images = merchant_weekly_images(&ctx)?;
            let inserted = enqueue(
                db,
                NewEmail {
                    kind: EmailKind::MerchantWeekly,
                    merchant_id: Some(m.id),
                    recipient: &m.contact_email,
                    locale: m.locale,
                    rendered,
                    dedupe_key,
                },
            )
            .await?;
            done.count(inserted);
        }
    }
    creator_weekly(db, as_of, &mut done).await?;
    Ok(done)
}

/// Queues the weekly report for every creator with a contact address (part of the weekly
/// run: the same week, the same counts).
async fn creator_weekly(
    db: &DatabaseConnection,
    as_of: DateTime<Utc>,
    done: &mut Queued,
) -> anyhow::Result<()> {
    let (week_start, _) = reported_week(local_day(Shanghai, as_of));
    let mut after = String::new();
    loop {
        let batch = creator::Entity::find()
            .filter(creator::Column::ContactEmail.is_not_null())
            .filter(creator::Column::Id.gt(after.clone()))
            .order_by_asc(creator::Column::Id)
            .limit(500)
            .all(db)
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.id.clone();
        for c in &batch {
            let Some(to) = c.contact_email.as_deref() else {
                continue;
            };
            done.recipients += 1;
            let dedupe_key = format!("{}:{}:{week_start}", EmailKind::CreatorWeekly, c.id);
            if already_queued(db, &dedupe_key).await? {
                done.duplicates += 1;
                continue;
            }
            let ctx = creator_weekly_context(db, c, as_of).await?;
            let rendered = templates::render(EmailKind::CreatorWeekly, &ctx)?;
            let inserted = enqueue(
                db,
                NewEmail {
                    kind: EmailKind::CreatorWeekly,
                    merchant_id: None,
                    recipient: to,
                    locale: super::Locale::ZhCn,
                    rendered,
                    dedupe_key,
                },
            )
            .await?;
            done.count(inserted);
        }
    }
    Ok(())
}

/// Skips rendering when the period's message is already in the outbox (the insert would be a
/// no-op anyway; this only saves the work).
async fn already_queued<C: ConnectionTrait>(db: &C, key: &str) -> Result<bool, DbErr> {
    Ok(entity::email_outbox::Entity::find()
        .filter(entity::email_outbox::Column::DedupeKey.eq(key))
        .select_only()
        .column(entity::email_outbox::Column::Id)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .is_some())
}

// ---------------------------------------------------------------------------------------------
// staff_daily

/// Queues the staff digest for each `STAFF_DIGEST_TO` recipient, once per local day.
pub async fn staff_daily(
    db: &DatabaseConnection,
    config: &Config,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Queued> {
    let mut done = Queued::default();
    if config.staff_digest_to.is_empty() {
        return Ok(done);
    }
    let locale = config.staff_digest_locale;
    let ctx = staff_daily_context(db, locale, as_of).await?;
    let day = local_day(Shanghai, as_of);
    for to in &config.staff_digest_to {
        done.recipients += 1;
        let address = to.email.to_string();
        let mut rendered = templates::render(EmailKind::StaffDaily, &ctx)?;
        rendered.images = staff_daily_images(&ctx)?;
        let inserted = enqueue(
            db,
            NewEmail {
                kind: EmailKind::StaffDaily,
                merchant_id: None,
                recipient: &to.to_string(),
                locale,
                rendered,
                dedupe_key: format!("{}:{}:{day}", EmailKind::StaffDaily, address.to_lowercase()),
            },
        )
        .await?;
        done.count(inserted);
    }
    Ok(done)
}
