//! Parse-don't-validate types: a value of one of these has passed its checks.

pub mod gmv;
pub mod merchant;
pub mod money;
pub mod period;
pub mod program;
pub mod reward;
pub mod text;
pub mod uscc;
pub mod webhook;

pub use crate::error_code::ErrorCode;
/// The enumerations stored in columns and sent on the wire, one type per concept.
pub use entity::enums;

/// A field that failed validation: which field, a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub code: ErrorCode,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}
