//! Free-text fields: trimmed, bounded in characters (not bytes), no control characters.

use super::FieldError;
use crate::error_code::ErrorCode;

/// Checks a required text field and returns it trimmed.
pub fn required(field: &str, raw: &str, max_chars: usize) -> Result<String, FieldError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(FieldError::new(
            field,
            ErrorCode::Required,
            format!("{field} must not be empty"),
        ));
    }
    bounded(field, s, max_chars)
}

/// Checks an optional text field: absent or blank becomes `None`.
pub fn optional(
    field: &str,
    raw: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, FieldError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => bounded(field, s, max_chars).map(Some),
    }
}

fn bounded(field: &str, s: &str, max_chars: usize) -> Result<String, FieldError> {
    if s.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            ErrorCode::TooLong,
            format!("{field} is longer than {max_chars} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            ErrorCode::ControlCharacters,
            format!("{field} contains control characters"),
        ));
    }
    Ok(s.to_string())
}

/// A syntactically valid email address (RFC 5321 sizes), lower-cased domain kept as given.
pub fn email(field: &str, raw: &str) -> Result<String, FieldError> {
    let s = raw.trim();
    let bad = || {
        FieldError::new(
            field,
            ErrorCode::EmailInvalid,
            format!("{field} is not a valid email address"),
        )
    };
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let addr: lettre::Address = s.parse().map_err(|_| bad())?;
    if !addr.domain().contains('.') || addr.domain().starts_with('[') {
        return Err(bad());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert_eq!(
            required("legal_name", "  深圳市腾讯计算机系统有限公司 ", 200).unwrap(),
            "深圳市腾讯计算机系统有限公司"
        );
        assert_eq!(
            required("x", " ", 10).unwrap_err().code.as_str(),
            "required"
        );
        assert!(
            required("x", &"义".repeat(10), 10).is_ok(),
            "limits count characters, not bytes"
        );
        assert_eq!(
            required("x", &"义".repeat(11), 10)
                .unwrap_err()
                .code
                .as_str(),
            "too_long"
        );
        assert_eq!(
            required("x", "a\u{0}b", 10).unwrap_err().code.as_str(),
            "control_characters"
        );
        assert_eq!(optional("x", Some("  "), 10).unwrap(), None);
    }

    #[test]
    fn emails() {
        assert!(email("e", "ops@yiwu-goods.cn").is_ok());
        for bad in ["", "no-at.cn", "a@b", "a b@c.cn", "a@@c.cn", "<a@b.cn>"] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
    }
}
