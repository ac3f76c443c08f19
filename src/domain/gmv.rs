//! A GMV record that passed its checks, its sales channel, and the Asia/Shanghai local day.

use crate::error_code::ErrorCode;
use chrono::{DateTime, Datelike, Duration, NaiveDate, SubsecRound, Utc};
use chrono_tz::Asia::Shanghai;
use poem_openapi::Enum;
use serde_json::{Map, Value};
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

/// The `external_id` of a raw item, if it has a string one (to echo it in the result).
pub fn raw_external_id(item: &Value) -> String {
    item.get("external_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl GmvRecord {
    /// Checks one raw item of a batch. `prefix` is its path in the request (`records.3`), used
    /// to name the field at fault; `now` is the reference for the future-time rule.
    pub fn parse(item: &Value, prefix: &str, now: DateTime<Utc>) -> Result<Self, FieldError> {
        let field = |name: &str| format!("{prefix}.{name}");
        let obj: &Map<String, Value> = item.as_object().ok_or_else(|| {
            FieldError::new(
                prefix,
                ErrorCode::RecordInvalid,
                "each record must be a JSON object",
            )
        })?;

        let external_id = id_field(obj, "external_id", &field("external_id"), true)?
            .expect("required ids are present");

        let amount = match obj.get("amount") {
            None | Some(Value::Null) => {
                return Err(FieldError::new(
                    field("amount"),
                    ErrorCode::Required,
                    "amount is required (integer fen)",
                ));
            }
            Some(v) => v.as_i64().ok_or_else(|| {
                FieldError::new(
                    field("amount"),
                    ErrorCode::AmountInvalid,
                    "amount must be an integer number of fen",
                )
            })?,
        };
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

        match obj.get("currency") {
            Some(Value::String(c)) if c == CURRENCY => {}
            None | Some(Value::Null) => {
                return Err(FieldError::new(
                    field("currency"),
                    ErrorCode::Required,
                    "currency is required and must be CNY",
                ));
            }
            Some(_) => {
                return Err(FieldError::new(
                    field("currency"),
                    ErrorCode::CurrencyUnsupported,
                    "the only supported currency is CNY",
                ));
            }
        }

        let channel = match obj.get("channel") {
            None | Some(Value::Null) => {
                return Err(FieldError::new(
                    field("channel"),
                    ErrorCode::Required,
                    "channel is required",
                ));
            }
            Some(v) => v.as_str().and_then(Channel::parse).ok_or_else(|| {
                FieldError::new(
                    field("channel"),
                    ErrorCode::ChannelInvalid,
                    "channel must be live_stream, short_video, storefront or other",
                )
            })?,
        };

        let occurred_at = match obj.get("occurred_at") {
            None | Some(Value::Null) => {
                return Err(FieldError::new(
                    field("occurred_at"),
                    ErrorCode::Required,
                    "occurred_at is required (RFC 3339 with an offset)",
                ));
            }
            Some(v) => v
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .ok_or_else(|| {
                    FieldError::new(
                        field("occurred_at"),
                        ErrorCode::OccurredAtInvalid,
                        "occurred_at must be an RFC 3339 instant with an offset, e.g. 2026-03-01T20:15:00+08:00",
                    )
                })?
                .with_timezone(&Utc)
                .trunc_subsecs(6),
        };
        if occurred_at > now + FUTURE_TOLERANCE {
            return Err(FieldError::new(
                field("occurred_at"),
                ErrorCode::OccurredAtInFuture,
                "occurred_at lies more than 5 minutes in the future",
            ));
        }

        let product_id = id_field(obj, "product_id", &field("product_id"), false)?;
        let creator_id = id_field(obj, "creator_id", &field("creator_id"), false)?;
        let corrects = id_field(obj, "corrects", &field("corrects"), false)?;
        if corrects.is_some() && amount > 0 {
            return Err(FieldError::new(
                field("corrects"),
                ErrorCode::CorrectsOnSale,
                "only a negative amount (refund or correction) may name the record it corrects",
            ));
        }

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

/// An id field: a string of 1–128 printable characters (no control characters, not blank),
/// kept exactly as sent. `null` counts as absent.
fn id_field(
    obj: &Map<String, Value>,
    name: &str,
    path: &str,
    required: bool,
) -> Result<Option<String>, FieldError> {
    let code = match name {
        "external_id" => ErrorCode::ExternalIdInvalid,
        "product_id" => ErrorCode::ProductIdInvalid,
        "creator_id" => ErrorCode::CreatorIdInvalid,
        _ => ErrorCode::CorrectsInvalid,
    };
    match obj.get(name) {
        None | Some(Value::Null) if required => Err(FieldError::new(
            path,
            ErrorCode::Required,
            format!("{name} is required"),
        )),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if !s.trim().is_empty()
                && s.chars().count() <= MAX_ID_CHARS
                && !s.chars().any(char::is_control) =>
        {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(FieldError::new(
            path,
            code,
            format!("{name} must be 1–{MAX_ID_CHARS} printable characters"),
        )),
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
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-03-10T00:00:00Z".parse().unwrap()
    }

    fn item() -> Value {
        json!({
            "external_id": "order-1",
            "occurred_at": "2026-03-01T20:15:00+08:00",
            "amount": 12_900,
            "currency": "CNY",
            "channel": "live_stream",
            "product_id": "sku-1",
        })
    }

    fn err(v: Value) -> FieldError {
        GmvRecord::parse(&v, "records.0", now()).unwrap_err()
    }

    #[test]
    fn a_valid_record_is_normalised() {
        let r = GmvRecord::parse(&item(), "records.0", now()).unwrap();
        assert_eq!(r.occurred_at.to_rfc3339(), "2026-03-01T12:15:00+00:00");
        assert_eq!(r.local_day.to_string(), "2026-03-01");
        assert_eq!(r.channel, Channel::LiveStream);
        assert_eq!(r.creator_id, None);
        let mut same_instant = item();
        same_instant["occurred_at"] = json!("2026-03-01T12:15:00Z");
        assert_eq!(
            GmvRecord::parse(&same_instant, "records.0", now())
                .unwrap()
                .body_hash,
            r.body_hash,
            "the same instant in another offset is the same body"
        );
        let mut other = item();
        other["amount"] = json!(12_901);
        assert_ne!(
            GmvRecord::parse(&other, "records.0", now())
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
        let cases: Vec<(&str, Value, &str)> = vec![
            ("amount", json!(0), "amount_zero"),
            ("amount", json!(12.5), "amount_invalid"),
            ("amount", json!("100"), "amount_invalid"),
            ("amount", json!(MAX_ABS_AMOUNT + 1), "amount_out_of_range"),
            ("amount", json!(null), "required"),
            ("currency", json!("USD"), "currency_unsupported"),
            ("channel", json!("tv"), "channel_invalid"),
            (
                "occurred_at",
                json!("2026-03-01T20:15:00"),
                "occurred_at_invalid",
            ),
            ("occurred_at", json!("2026-03-01"), "occurred_at_invalid"),
            (
                "occurred_at",
                json!("2026-03-10T00:05:01Z"),
                "occurred_at_in_future",
            ),
            ("external_id", json!(""), "external_id_invalid"),
            ("external_id", json!("a\nb"), "external_id_invalid"),
            ("external_id", json!("x".repeat(129)), "external_id_invalid"),
            ("external_id", json!(7), "external_id_invalid"),
            ("product_id", json!(""), "product_id_invalid"),
            ("creator_id", json!("\u{7}"), "creator_id_invalid"),
            ("corrects", json!("order-0"), "corrects_on_sale"),
        ];
        for (name, value, code) in cases {
            let mut v = item();
            v[name] = value.clone();
            let e = err(v);
            assert_eq!(
                (e.code.as_str(), e.field.as_str()),
                (code, format!("records.0.{name}").as_str()),
                "{name} = {value}"
            );
        }
        assert_eq!(err(json!([1])).code.as_str(), "record_invalid");
        let mut v = item();
        v["external_id"] = json!("义".repeat(128));
        v["occurred_at"] = json!("2026-03-10T00:05:00Z");
        v["amount"] = json!(-MAX_ABS_AMOUNT);
        v["corrects"] = json!("order-0");
        assert!(GmvRecord::parse(&v, "records.0", now()).is_ok());
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
