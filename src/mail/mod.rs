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
    let now = Utc::now();
    let message_id = format!(
        "<{}@merchant-incentives>",
        &crate::secrets::hash(&email.dedupe_key)[..32]
    );
    let row = email_outbox::ActiveModel {
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
    };
    let inserted = email_outbox::Entity::insert(row)
        .on_conflict(
            OnConflict::column(email_outbox::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted > 0)
}
