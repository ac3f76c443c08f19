//! Parse-don't-validate types: a value of one of these has passed its checks.

pub mod gmv;
pub mod merchant;
pub mod money;
pub mod period;
pub mod program;
pub mod text;
pub mod uscc;

/// A field that failed validation: which field, a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

impl From<FieldError> for crate::error::AppError {
    fn from(e: FieldError) -> Self {
        crate::error::AppError::invalid(e.code, &e.field, e.message)
    }
}
