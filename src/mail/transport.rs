//! How a rendered outbox row leaves the building: pooled SMTP (`SMTP_URL`) or `.eml` files in
//! `MAIL_DIR` when no SMTP server is configured.
//!
//! `SMTP_URL` forms (parsed by lettre):
//! - `smtp://host:port` — plain SMTP; add `?tls=required` (or `?tls=opportunistic`) for STARTTLS;
//! - `smtps://host:port` — implicit TLS;
//! - credentials as the URL's `user:password@` part (URL-encoded).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use entity::email_outbox;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType},
};

use crate::config::Config;

/// How long one SMTP conversation may take before it counts as a (transient) failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// Worth retrying later: a 4xx reply, a refused or dropped connection, a timeout.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help: a 5xx reply, an address that cannot be parsed.
    #[error("{0}")]
    Permanent(String),
}

/// Where messages go.
#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Writes `<dir>/<outbox id>.eml`.
    File(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
            Transport::File(dir) => write!(f, "Transport::File({})", dir.display()),
        }
    }
}

impl Transport {
    /// SMTP when `SMTP_URL` is set, else the file transport on `MAIL_DIR`.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        match &config.smtp_url {
            Some(url) => {
                let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())
                    .map_err(|e| anyhow::anyhow!("SMTP_URL: {e}"))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build();
                Ok(Transport::Smtp(smtp))
            }
            None => Ok(Transport::File(config.mail_dir.clone())),
        }
    }

    /// Delivers one outbox row.
    pub async fn send(&self, from: &Mailbox, row: &email_outbox::Model) -> Result<(), SendError> {
        let message = build_message(from, row)?;
        match self {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(classify),
            Transport::File(dir) => write_eml(dir, row.id, &message.formatted())
                .await
                .map_err(|e| SendError::Transient(format!("writing to {}: {e}", dir.display()))),
        }
    }
}

/// The multipart/alternative (text + HTML) message for a row, with the row's stable Message-ID.
pub fn build_message(from: &Mailbox, row: &email_outbox::Model) -> Result<Message, SendError> {
    let to: Mailbox = row
        .recipient
        .parse()
        .map_err(|e| SendError::Permanent(format!("recipient {:?}: {e}", row.recipient)))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(row.message_id.clone()))
        .date(row.created_at.into())
        .multipart(body(row)?)
        .map_err(|e| SendError::Permanent(format!("building the message: {e}")))
}

/// Text and HTML as alternatives; with inline images, the HTML and its images are one
/// multipart/related part, each image found by its `Content-ID`.
fn body(row: &email_outbox::Model) -> Result<MultiPart, SendError> {
    use base64::Engine;
    let images = super::InlineImage::of_row(row)
        .map_err(|e| SendError::Permanent(format!("the row's inline images: {e}")))?;
    if images.is_empty() {
        return Ok(MultiPart::alternative_plain_html(
            row.text_body.clone(),
            row.html_body.clone(),
        ));
    }
    let png = ContentType::parse("image/png").expect("a valid content type");
    let mut related = MultiPart::related().singlepart(SinglePart::html(row.html_body.clone()));
    for image in images {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&image.png)
            .map_err(|e| SendError::Permanent(format!("inline image {}: {e}", image.cid)))?;
        related = related.singlepart(Attachment::new_inline(image.cid).body(bytes, png.clone()));
    }
    Ok(MultiPart::alternative()
        .singlepart(SinglePart::plain(row.text_body.clone()))
        .multipart(related))
}

/// 5xx replies are permanent; everything else (4xx, connection, TLS, timeouts) is transient.
fn classify(err: lettre::transport::smtp::Error) -> SendError {
    if err.is_permanent() {
        SendError::Permanent(err.to_string())
    } else {
        SendError::Transient(err.to_string())
    }
}

/// Writes the message under a temporary name and renames it into place, so a crash never
/// leaves half a file and writing the same row again replaces it whole.
async fn write_eml(dir: &Path, id: i64, bytes: &[u8]) -> std::io::Result<()> {
    let dir = dir.to_path_buf();
    let bytes = bytes.to_vec();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".{id}.eml.{}.tmp", uuid::Uuid::new_v4().simple()));
        let result = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, dir.join(format!("{id}.eml")))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(smtp: Option<&str>) -> Config {
        Config::from_lookup(&|k| match k {
            "SMTP_URL" => smtp.map(str::to_string),
            "MAIL_DIR" => Some("/tmp/mail-test".into()),
            _ => None,
        })
        .unwrap()
    }

    fn row() -> email_outbox::Model {
        use crate::mail::{EmailKind, EmailStatus, Locale};
        let now = chrono::Utc::now();
        email_outbox::Model {
            id: 7,
            kind: EmailKind::StaffDaily,
            merchant_id: None,
            recipient: "Ops <ops@example.cn>".into(),
            locale: Locale::ZhCn,
            subject: "日报 ¥1.23亿".into(),
            text_body: "正文".into(),
            html_body: "<p>正文</p>".into(),
            inline_images: None,
            dedupe_key: "k".into(),
            message_id: "<abc@merchant-incentives>".into(),
            status: EmailStatus::Sending,
            attempts: 0,
            next_attempt_at: now,
            claimed_until: None,
            last_error: None,
            created_at: now,
            sent_at: None,
        }
    }

    #[tokio::test]
    async fn smtp_urls_build_a_transport() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://user:pass@mail.example.com:587?tls=required",
            "smtp://mail.example.com?tls=opportunistic",
            "smtps://user:pass@mail.example.com",
        ] {
            let t = Transport::from_config(&config(Some(url))).unwrap();
            assert!(matches!(t, Transport::Smtp(_)), "{url}");
        }
        let t = Transport::from_config(&config(None)).unwrap();
        assert!(matches!(t, Transport::File(ref d) if d == Path::new("/tmp/mail-test")));
    }

    #[test]
    fn inline_images_travel_with_the_html_in_a_related_part() {
        use base64::Engine;
        let from: Mailbox = "Merchant Incentives <noreply@localhost>".parse().unwrap();
        let png = [0x89u8, b'P', b'N', b'G', 1, 2, 3];
        let mut r = row();
        r.html_body = r#"<img src="cid:progress-1@merchant-incentives" alt="GMV">"#.into();
        r.inline_images = Some(
            serde_json::to_string(&[crate::mail::InlineImage {
                cid: "progress-1@merchant-incentives".into(),
                png: base64::engine::general_purpose::STANDARD.encode(png),
            }])
            .unwrap(),
        );
        let raw = String::from_utf8(build_message(&from, &r).unwrap().formatted()).unwrap();
        use mail_parser::MimeHeaders;
        let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes());
        assert!(
            raw.contains("multipart/alternative") && raw.contains("multipart/related"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-ID: <progress-1@merchant-incentives>"),
            "{raw}"
        );
        assert!(raw.contains("Content-Disposition: inline"), "{raw}");
        assert!(raw.contains("Content-Type: image/png"), "{raw}");
        let parsed = parsed.expect("a parseable message");
        assert_eq!(parsed.body_text(0).as_deref(), Some("正文"));
        let image = parsed
            .attachments()
            .find(|a| a.content_id() == Some("progress-1@merchant-incentives"))
            .expect("the image is a part of the message");
        assert_eq!(image.contents(), png);
    }

    #[test]
    fn messages_are_multipart_with_the_rows_message_id() {
        let from: Mailbox = "Merchant Incentives <noreply@localhost>".parse().unwrap();
        let raw = String::from_utf8(build_message(&from, &row()).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("Message-ID: <abc@merchant-incentives>"),
            "{raw}"
        );
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("text/plain") && raw.contains("text/html"),
            "{raw}"
        );
        let mut bad = row();
        bad.recipient = "not an address".into();
        assert!(matches!(
            build_message(&from, &bad),
            Err(SendError::Permanent(_))
        ));
    }
}
