//! Keyset pagination: `limit` (default 50, at most 500) and an opaque cursor naming the last
//! row served, so inserts between pages neither repeat nor skip rows.

use crate::error_code::ErrorCode;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::domain::FieldError;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 500;

pub fn limit(raw: Option<i64>) -> Result<u64, FieldError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => Ok(n as u64),
        Some(_) => Err(FieldError::new(
            "limit",
            ErrorCode::LimitOutOfRange,
            format!("limit must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// Encodes a position (for example `"42"` or `"1500000|17"`) as an opaque cursor.
pub fn encode(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{position}"))
}

/// Decodes a cursor made by [`encode`].
pub fn decode(cursor: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let bad = || {
        FieldError::new(
            "cursor",
            ErrorCode::InvalidCursor,
            "the cursor is not one this server issued",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix("v1:")
        .map(|s| Some(s.to_string()))
        .ok_or_else(bad)
}

/// A cursor holding one id.
pub fn decode_id(cursor: Option<&str>) -> Result<Option<i64>, FieldError> {
    match decode(cursor)? {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            FieldError::new(
                "cursor",
                ErrorCode::InvalidCursor,
                "the cursor is not one this server issued",
            )
        }),
    }
}

/// Splits one extra fetched row off to decide whether there is a next page.
pub fn page<T>(
    mut rows: Vec<T>,
    limit: u64,
    position: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(|r| encode(&position(r)));
        (rows, next)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_id(Some(&encode("42"))).unwrap(), Some(42));
        assert_eq!(decode_id(None).unwrap(), None);
        assert!(decode_id(Some("!!")).is_err());
        assert!(decode_id(Some(&URL_SAFE_NO_PAD.encode("v2:1"))).is_err());
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(501)).is_err());
        assert_eq!(limit(None).unwrap(), 50);
        let (rows, next) = page(vec![1, 2, 3], 2, |r| r.to_string());
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(decode(next.as_deref()).unwrap().as_deref(), Some("2"));
    }
}
