//! A GMV record that passed its checks, its sales channel, and the Asia/Shanghai local day.

use crate::error_code::ErrorCode;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, SubsecRound, Utc};
use chrono_tz::Asia::Shanghai;
use poem_openapi::Enum;
use sha2::{Digest, Sha256};

use super::{FieldError, period::local_day};

/// Largest accepted |amount|, in fen (10¹³ fen = ¥1,000亿).
pub const MAX_ABS_AMOUNT: i64 = 10_000_000_000_000;
/// How far in the future `occurred_at` may lie (clock skew allowance).
pub const FUTURE_TOLERANCE: Duration = Duration::minutes(5);
/// Longest external, product, creator and `corrects` id, in characters.
pub const MAX_ID_CHARS: usize = 128;
/// The only accepted currency.
pub const CURRENCY: &str = "CNY";

pub use entity::enums::Channel;

/// Today in Asia/Shanghai.
pub fn today() -> NaiveDate {
    local_day(Shanghai, Utc::now())
}

/// A validated GMV record. The only way to get one is [`GmvRecord::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GmvRecord {
    pub external_id: String,
    /// Normalised to UTC and truncated to microseconds (what both databases store).
    pub occurred_at: DateTime<Utc>,
    pub local_day: NaiveDate,
    /// Fen; never zero, |amount| ≤ [`MAX_ABS_AMOUNT`]; negative for refunds and corrections.
    pub amount: i64,
    pub channel: Channel,
    pub product_id: Option<String>,
    pub creator_id: Option<String>,
    /// The `external_id` this refund or correction corrects (negative amounts only).
    pub corrects: Option<String>,
    /// SHA-256 (hex) of the canonical body; equal hashes mean a replay of the same record.
    pub body_hash: String,
}

/// One record as the request gave it, read into its documented types; [`GmvRecord::parse`]
/// applies the rules a type does not carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordInput {
    pub external_id: String,
    pub occurred_at: DateTime<FixedOffset>,
    pub amount: i64,
    pub channel: Channel,
    pub product_id: Option<String>,
    pub creator_id: Option<String>,
    pub corrects: Option<String>,
}

/// An item of a batch: the `external_id` it was sent with (empty when it had no string one),
/// and the record, or why it could not be read.
#[derive(Clone, Debug)]
pub struct Submitted {
    pub external_id: String,
    pub input: Result<RecordInput, FieldError>,
}

/// The code of a record field whose value is not of its documented type (`""` is the record
/// itself, e.g. not a JSON object).
pub fn invalid_code(field: &str) -> ErrorCode {
    match field {
        "external_id" => ErrorCode::ExternalIdInvalid,
        "occurred_at" => ErrorCode::OccurredAtInvalid,
        "amount" => ErrorCode::AmountInvalid,
        "currency" => ErrorCode::CurrencyUnsupported,
        "channel" => ErrorCode::ChannelInvalid,
        "product_id" => ErrorCode::ProductIdInvalid,
        "creator_id" => ErrorCode::CreatorIdInvalid,
        "corrects" => ErrorCode::CorrectsInvalid,
        _ => ErrorCode::RecordInvalid,
    }
}

impl GmvRecord {
    /// Applies the record rules to one item of a batch. `prefix` is its path in the request
    /// (`records.3`), used to name the field at fault; `now` is the reference for the
    /// future-time rule.
    pub fn parse(input: RecordInput, prefix: &str, now: DateTime<Utc>) -> Result<Self, FieldError> {
        let field = |name: &str| format!("{prefix}.{name}");
        let external_id = id_field(input.external_id, "external_id", &field("external_id"))?;
        let amount = input.amount;
        if amount == 0 {
            return Err(FieldError::new(
                field("amount"),
                ErrorCode::AmountZero,
                "amount must not be zero",
            ));
        }
        if amount.unsigned_abs() > MAX_ABS_AMOUNT as u64 {
            return Err(FieldError::new(
                field("amount"),
                ErrorCode::AmountOutOfRange,
                format!("|amount| must be at most {MAX_ABS_AMOUNT} fen"),
            ));
        }
        let occurred_at = input.occurred_at.with_timezone(&Utc).trunc_subsecs(6);
        if occurred_at > now + FUTURE_TOLERANCE {
            return Err(FieldError::new(
                field("occurred_at"),
                ErrorCode::OccurredAtInFuture,
                "occurred_at lies more than 5 minutes in the future",
            ));
        }
        let optional =
            |v: Option<String>, name: &str| v.map(|v| id_field(v, name, &field(name))).transpose();
        let product_id = optional(input.product_id, "product_id")?;
        let creator_id = optional(input.creator_id, "creator_id")?;
        let corrects = optional(input.corrects, "corrects")?;
        if corrects.is_some() && amount > 0 {
            return Err(FieldError::new(
                field("corrects"),
                ErrorCode::CorrectsOnSale,
                "only a negative amount (refund or correction) may name the record it corrects",
            ));
        }
        let channel = input.channel;

        let body_hash = body_hash(
            &external_id,
            occurred_at,
            amount,
            channel,
            product_id.as_deref(),
            creator_id.as_deref(),
            corrects.as_deref(),
        );
        Ok(Self {
            local_day: local_day(Shanghai, occurred_at),
            external_id,
            occurred_at,
            amount,
            channel,
            product_id,
            creator_id,
            corrects,
            body_hash,
        })
    }
}

/// An id field: 1–128 printable characters (no control characters, not blank), kept exactly
/// as sent.
pub fn id_field(s: String, name: &str, path: &str) -> Result<String, FieldError> {
    if !s.trim().is_empty() && s.chars().count() <= MAX_ID_CHARS && !s.chars().any(char::is_control)
    {
        Ok(s)
    } else {
        Err(FieldError::new(
            path,
            invalid_code(name),
            format!("{name} must be 1–{MAX_ID_CHARS} printable characters"),
        ))
    }
}

/// The canonical body: every stored field in a fixed order, separated by a character that no
/// valid field can contain, absent options marked by another. Offsets are normalised to UTC, so
/// `…T20:00:00+08:00` and `…T12:00:00Z` are the same record.
pub fn body_hash(
    external_id: &str,
    occurred_at: DateTime<Utc>,
    amount: i64,
    channel: Channel,
    product_id: Option<&str>,
    creator_id: Option<&str>,
    corrects: Option<&str>,
) -> String {
    const SEP: &[u8] = b"\x1f";
    const NONE: &[u8] = b"\x00";
    let mut h = Sha256::new();
    h.update(b"gmv-v1");
    for part in [
        Some(external_id),
        Some(
            occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .as_str(),
        ),
        Some(amount.to_string().as_str()),
        Some(CURRENCY),
        Some(channel.as_str()),
        product_id,
        creator_id,
        corrects,
    ] {
        h.update(SEP);
        h.update(part.map(str::as_bytes).unwrap_or(NONE));
    }
    hex::encode(h.finalize())
}

/// Which calendar period a summary bucket covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum Granularity {
    /// One bucket per local day.
    Day,
    /// One bucket per ISO week, starting Monday.
    Week,
    /// One bucket per calendar month.
    Month,
}

impl Granularity {
    /// The first day of the period containing `day`.
    pub fn period_start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => day,
            Granularity::Week => day - Duration::days(day.weekday().num_days_from_monday().into()),
            Granularity::Month => day.with_day(1).expect("every month has a first day"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-03-10T00:00:00Z".parse().unwrap()
    }

    fn item() -> RecordInput {
        RecordInput {
            external_id: "order-1".into(),
            occurred_at: DateTime::parse_from_rfc3339("2026-03-01T20:15:00+08:00").unwrap(),
            amount: 12_900,
            channel: Channel::LiveStream,
            product_id: Some("sku-1".into()),
            creator_id: None,
            corrects: None,
        }
    }

    fn err(v: RecordInput) -> FieldError {
        GmvRecord::parse(v, "records.0", now()).unwrap_err()
    }

    #[test]
    fn a_valid_record_is_normalised() {
        let r = GmvRecord::parse(item(), "records.0", now()).unwrap();
        assert_eq!(r.occurred_at.to_rfc3339(), "2026-03-01T12:15:00+00:00");
        assert_eq!(r.local_day.to_string(), "2026-03-01");
        assert_eq!(r.channel, Channel::LiveStream);
        assert_eq!(r.creator_id, None);
        let mut same_instant = item();
        same_instant.occurred_at = DateTime::parse_from_rfc3339("2026-03-01T12:15:00Z").unwrap();
        assert_eq!(
            GmvRecord::parse(same_instant, "records.0", now())
                .unwrap()
                .body_hash,
            r.body_hash,
            "the same instant in another offset is the same body"
        );
        let mut other = item();
        other.amount = 12_901;
        assert_ne!(
            GmvRecord::parse(other, "records.0", now())
                .unwrap()
                .body_hash,
            r.body_hash
        );
    }

    #[test]
    fn local_days_change_at_16_utc() {
        assert_eq!(
            local_day(Shanghai, "2026-03-01T15:59:59Z".parse().unwrap()).to_string(),
            "2026-03-01"
        );
        assert_eq!(
            local_day(Shanghai, "2026-03-01T16:00:00Z".parse().unwrap()).to_string(),
            "2026-03-02"
        );
    }

    #[test]
    fn invalid_fields_are_named() {
        type Edit = fn(&mut RecordInput);
        let cases: Vec<(&str, Edit, &str)> = vec![
            ("amount", |r| r.amount = 0, "amount_zero"),
            (
                "amount",
                |r| r.amount = MAX_ABS_AMOUNT + 1,
                "amount_out_of_range",
            ),
            ("amount", |r| r.amount = i64::MIN, "amount_out_of_range"),
            (
                "occurred_at",
                |r| r.occurred_at = DateTime::parse_from_rfc3339("2026-03-10T00:05:01Z").unwrap(),
                "occurred_at_in_future",
            ),
            (
                "external_id",
                |r| r.external_id = "".into(),
                "external_id_invalid",
            ),
            (
                "external_id",
                |r| r.external_id = "  ".into(),
                "external_id_invalid",
            ),
            (
                "external_id",
                |r| r.external_id = "a\nb".into(),
                "external_id_invalid",
            ),
            (
                "external_id",
                |r| r.external_id = "x".repeat(129),
                "external_id_invalid",
            ),
            (
                "product_id",
                |r| r.product_id = Some("".into()),
                "product_id_invalid",
            ),
            (
                "creator_id",
                |r| r.creator_id = Some("\u{7}".into()),
                "creator_id_invalid",
            ),
            (
                "corrects",
                |r| r.corrects = Some("order-0".into()),
                "corrects_on_sale",
            ),
        ];
        for (name, edit, code) in cases {
            let mut v = item();
            edit(&mut v);
            let e = err(v);
            assert_eq!(
                (e.code.as_str(), e.field.as_str()),
                (code, format!("records.0.{name}").as_str()),
                "{name}"
            );
        }
        let mut v = item();
        v.external_id = "义".repeat(128);
        v.occurred_at = DateTime::parse_from_rfc3339("2026-03-10T00:05:00Z").unwrap();
        v.amount = -MAX_ABS_AMOUNT;
        v.corrects = Some("order-0".into());
        assert!(GmvRecord::parse(v, "records.0", now()).is_ok());
    }

    #[test]
    fn periods_start_on_monday_and_the_first() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(); // a Sunday
        assert_eq!(Granularity::Day.period_start(d), d);
        assert_eq!(Granularity::Week.period_start(d).to_string(), "2026-02-23");
        assert_eq!(
            Granularity::Month
                .period_start(NaiveDate::from_ymd_opt(2026, 3, 31).unwrap())
                .to_string(),
            "2026-03-01"
        );
    }
}
