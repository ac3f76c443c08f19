//! Email: every message is an outbox row first (written in the same transaction as the change
//! that causes it), rendered from the templates of its kind.

pub mod digests;
pub mod dispatcher;
pub mod templates;
pub mod transport;

use chrono::Utc;
use entity::email_outbox;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set, sea_query::OnConflict};

pub use entity::enums::{EmailKind, EmailStatus, Locale};

/// What every kind of email has once rendered.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Images the HTML shows as `cid:<cid>`.
    pub images: Vec<InlineImage>,
}

/// A PNG the HTML part refers to by its `Content-ID`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InlineImage {
    pub cid: String,
    /// The PNG, base64.
    pub png: String,
}

impl InlineImage {
    /// Draws `chart` for the message.
    pub fn of(chart: &crate::services::reports::pictures::EmailChart) -> anyhow::Result<Self> {
        use base64::Engine;
        Ok(Self {
            cid: chart.cid.clone(),
            png: base64::engine::general_purpose::STANDARD.encode(chart.png()?),
        })
    }

    /// The images a row carries.
    pub fn of_row(row: &email_outbox::Model) -> serde_json::Result<Vec<Self>> {
        match &row.inline_images {
            Some(json) => serde_json::from_str(json),
            None => Ok(Vec::new()),
        }
    }
}

pub struct NewEmail<'a> {
    pub kind: EmailKind,
    pub merchant_id: Option<i64>,
    pub recipient: &'a str,
    pub locale: Locale,
    pub rendered: Rendered,
    /// One message per key, ever: a second enqueue with the same key is a no-op.
    pub dedupe_key: String,
}

/// Writes the message to the outbox; `false` when its dedupe key was already there.
pub async fn enqueue<C: ConnectionTrait>(db: &C, email: NewEmail<'_>) -> Result<bool, DbErr> {
    Ok(enqueue_many(db, vec![email]).await? > 0)
}

/// Rows per outbox `INSERT`: well under PostgreSQL's 65,535 parameters at 14 per row.
const ENQUEUE_CHUNK: usize = 500;

/// Writes the messages to the outbox, a few hundred per statement; returns how many were new
/// (a message whose dedupe key was already there is skipped).
pub async fn enqueue_many<C: ConnectionTrait>(
    db: &C,
    emails: Vec<NewEmail<'_>>,
) -> Result<u64, DbErr> {
    let now = Utc::now();
    let mut rows = Vec::with_capacity(emails.len());
    for email in emails {
        let message_id = format!(
            "<{}@merchant-incentives>",
            &crate::secrets::hash(&email.dedupe_key)[..32]
        );
        rows.push(email_outbox::ActiveModel {
            kind: Set(email.kind),
            merchant_id: Set(email.merchant_id),
            recipient: Set(email.recipient.to_string()),
            locale: Set(email.locale),
            subject: Set(email.rendered.subject),
            text_body: Set(email.rendered.text),
            html_body: Set(email.rendered.html),
            inline_images: Set((!email.rendered.images.is_empty())
                .then(|| serde_json::to_string(&email.rendered.images))
                .transpose()
                .map_err(|e| DbErr::Custom(format!("encoding inline images: {e}")))?),
            dedupe_key: Set(email.dedupe_key),
            message_id: Set(message_id),
            status: Set(EmailStatus::Pending),
            attempts: Set(0),
            next_attempt_at: Set(now),
            created_at: Set(now),
            ..Default::default()
        });
    }
    let mut inserted = 0;
    for chunk in rows.chunks(ENQUEUE_CHUNK) {
        inserted += email_outbox::Entity::insert_many(chunk.iter().cloned())
            .on_conflict(
                OnConflict::column(email_outbox::Column::DedupeKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(inserted)
}
