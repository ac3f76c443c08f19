//! Wire types shared by several tags.

use std::{borrow::Cow, ops::Deref};

use chrono::NaiveDate;
use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{
        MaybeUndefined, ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
    },
};
use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use serde_json::Value;

use crate::{domain::FieldError, error_code::ErrorCode};

/// A JSON string, strictly: unlike poem-openapi's `String`, a number or boolean sent where
/// text is expected is a malformed request (400), not silently converted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(s.to_string())
    }
}

impl Type for Text {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Text {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => Ok(Text(s)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for Text {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Text)
    }
}

/// `Opt<Text>` → `Option<String>`.
pub fn opt(t: Opt<Text>) -> Option<String> {
    t.0.map(String::from)
}

/// A calendar day, `YYYY-MM-DD`, published with OpenAPI's `date` format (poem-openapi's own
/// `NaiveDate` publishes a `naive-date` format that clients and fuzzers do not know).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub NaiveDate);

impl Deref for Day {
    type Target = NaiveDate;
    fn deref(&self) -> &NaiveDate {
        &self.0
    }
}

impl From<NaiveDate> for Day {
    fn from(d: NaiveDate) -> Self {
        Day(d)
    }
}

impl From<Day> for NaiveDate {
    fn from(d: Day) -> Self {
        d.0
    }
}

impl Day {
    fn parse(s: &str) -> ParseResult<Self> {
        // RFC 3339 `full-date`: four-digit year, two-digit month and day.
        let b = s.as_bytes();
        let shape = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape {
            return Err(ParseError::custom("expected a date as YYYY-MM-DD"));
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Day)
            .map_err(|_| ParseError::custom("no such date"))
    }
}

impl Type for Day {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Day {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => Day::parse(&s),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Day::parse(&s).map_err(|e| serde::de::Error::custom(e.into_message()))
    }
}

impl ParseFromParameter for Day {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Day::parse(value)
    }
}

impl ToJSON for Day {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.format("%Y-%m-%d").to_string()))
    }
}

/// An optional field where `null` means something (clearing a value): absent, `null` or a
/// value, published as `nullable`. Everywhere else optional fields are [`Opt`], which refuses
/// `null`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nullable<T>(pub MaybeUndefined<T>);

impl<T: Type> Type for Nullable<T> {
    const IS_REQUIRED: bool = false;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        format!("nullable_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        match T::schema_ref() {
            MetaSchemaRef::Inline(mut schema) => {
                schema.nullable = true;
                MetaSchemaRef::Inline(schema)
            }
            other => other,
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_raw_value()
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        self.0.raw_element_iter()
    }

    fn is_none(&self) -> bool {
        self.0.is_none()
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Nullable<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        MaybeUndefined::parse_from_json(value)
            .map(Nullable)
            .map_err(ParseError::propagate)
    }
}

impl<T: ToJSON> ToJSON for Nullable<T> {
    fn to_json(&self) -> Option<Value> {
        self.0.to_json()
    }
}

impl<T> Default for Nullable<T> {
    fn default() -> Self {
        Nullable(MaybeUndefined::Undefined)
    }
}

/// Absent fields are `Undefined` through `#[serde(default)]`; present ones are `null` or a value.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Nullable(match Option::<T>::deserialize(d)? {
            Some(v) => MaybeUndefined::Value(v),
            None => MaybeUndefined::Null,
        }))
    }
}

/// An optional field: absent or a value. `null` is not a value of it: it is refused (400
/// `null_not_allowed`), and the document publishes the field as optional, not `nullable`.
/// Fields of this type take `#[serde(default)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt<T>(pub Option<T>);

impl<T> Default for Opt<T> {
    fn default() -> Self {
        Opt(None)
    }
}

impl<T> Opt<T> {
    pub fn some(v: T) -> Self {
        Opt(Some(v))
    }
    pub fn none() -> Self {
        Opt(None)
    }
}

impl<T> From<Opt<T>> for Option<T> {
    fn from(o: Opt<T>) -> Self {
        o.0
    }
}

impl<T: Type> Type for Opt<T> {
    const IS_REQUIRED: bool = false;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        format!("optional_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(T::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Some(v) => v.raw_element_iter(),
            None => Box::new(std::iter::empty()),
        }
    }

    fn is_none(&self) -> bool {
        self.0.is_none()
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Opt<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None => Ok(Opt(None)),
            Some(Value::Null) => Err(ParseError::custom(NULL_NOT_ALLOWED)),
            v => T::parse_from_json(v)
                .map(|v| Opt(Some(v)))
                .map_err(ParseError::propagate),
        }
    }
}

impl<T: ToJSON> ToJSON for Opt<T> {
    fn to_json(&self) -> Option<Value> {
        self.0.as_ref().and_then(T::to_json)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Opt<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `T` itself refuses `null` (no request type accepts it), so `null` fails here.
        T::deserialize(d).map(|v| Opt(Some(v)))
    }
}

/// What serde says when `null` meets a type that has no `null`.
const NULL_NOT_ALLOWED: &str = "invalid type: null";

/// A JSON value that could not be read as the documented type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Dotted path of the offending value (`records.3.amount`); for a missing field, the field.
    pub field: String,
    pub kind: JsonErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// A required field is absent.
    Missing,
    /// `null` where the type has none.
    Null,
    /// A value of the wrong type, format or enum.
    Invalid,
}

impl JsonError {
    /// The error body: `null_not_allowed` for a `null`, `bad_request` for anything else.
    pub fn into_field_error(self) -> FieldError {
        let code = match self.kind {
            JsonErrorKind::Null => ErrorCode::NullNotAllowed,
            JsonErrorKind::Missing | JsonErrorKind::Invalid => ErrorCode::BadRequest,
        };
        FieldError::new(self.field, code, self.message)
    }
}

/// Reads `value` as `T` with serde; errors name the dotted path under `prefix` (empty for the
/// whole body). Every body and batch item is a JSON object (serde would also read a struct from an array).
pub fn from_json<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, JsonError> {
    if !value.is_object() {
        return Err(JsonError {
            field: prefix.to_string(),
            kind: JsonErrorKind::Invalid,
            message: "expected a JSON object".into(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut parts: Vec<String> = (!prefix.is_empty())
            .then(|| prefix.to_string())
            .into_iter()
            .collect();
        for segment in e.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => parts.push(index.to_string()),
                serde_path_to_error::Segment::Map { key } => parts.push(key.clone()),
                serde_path_to_error::Segment::Enum { .. }
                | serde_path_to_error::Segment::Unknown => {}
            }
        }
        let inner = e.into_inner().to_string();
        let missing = inner
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string);
        let kind = if let Some(name) = &missing {
            parts.push(name.clone());
            JsonErrorKind::Missing
        } else if inner.starts_with(NULL_NOT_ALLOWED) {
            JsonErrorKind::Null
        } else {
            JsonErrorKind::Invalid
        };
        let field = parts.join(".");
        let message = match kind {
            JsonErrorKind::Missing => format!("`{field}` is required"),
            JsonErrorKind::Null => {
                format!("`{field}` may not be null; leave an optional field out instead")
            }
            JsonErrorKind::Invalid => {
                // serde's sentence, without its trailing position (there is none for a value).
                if field.is_empty() {
                    inner
                } else {
                    format!("`{field}`: {inner}")
                }
            }
        };
        JsonError {
            field,
            kind,
            message,
        }
    })
}

/// A request body read with serde into the documented type `T` (the document shows `T`'s
/// schema). Reading never fails at poem's level: the handler turns an error into the error
/// body naming the field, see [`Parsed::into_inner`].
pub struct Parsed<T>(pub Result<T, JsonError>);

impl<T> Parsed<T> {
    /// The value, or 400 (`null_not_allowed` / `bad_request`) naming the field.
    pub fn into_inner(self) -> Result<T, FieldError> {
        self.0.map_err(JsonError::into_field_error)
    }
}

/// `Type` for a required wrapper the document shows as `$schema` (same name, schema and
/// registration): the wrapper is what the handler reads, `$schema` what clients see.
macro_rules! documented_as {
    ([$($generics:tt)*] $wrapper:ty => $schema:ty) => {
        impl<$($generics)*> poem_openapi::types::Type for $wrapper {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> std::borrow::Cow<'static, str> {
                <$schema as poem_openapi::types::Type>::name()
            }
            fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
                <$schema as poem_openapi::types::Type>::schema_ref()
            }
            fn register(registry: &mut poem_openapi::registry::Registry) {
                <$schema as poem_openapi::types::Type>::register(registry)
            }
            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }
            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }
    };
}
pub(crate) use documented_as;

documented_as!([T: Type] Parsed<T> => T);

impl<T: Type + DeserializeOwned> ParseFromJSON for Parsed<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(Parsed(from_json(value.unwrap_or_default(), "")))
    }
}

impl<T: Type + ToJSON> ToJSON for Parsed<T> {
    fn to_json(&self) -> Option<Value> {
        self.0.as_ref().ok().and_then(T::to_json)
    }
}

/// The `as_of` of a run request, or now; more than 5 minutes ahead of the server's clock is
/// 422 `as_of_in_future`.
pub fn as_of_or_now(
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<chrono::DateTime<chrono::Utc>, crate::error::AppError> {
    let now = chrono::Utc::now();
    let as_of = as_of.unwrap_or(now);
    if as_of > now + chrono::Duration::minutes(5) {
        return Err(crate::error::AppError::invalid(
            crate::error_code::ErrorCode::AsOfInFuture,
            "as_of",
            "as_of may be at most 5 minutes in the future",
        ));
    }
    Ok(as_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_strict_full_dates() {
        assert_eq!(
            Day::parse("2026-02-28").unwrap().0,
            NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
        );
        for bad in [
            "",
            "2026-2-28",
            "2026-02-30",
            "26-02-28",
            "2026-02-28T00:00:00Z",
            "２０２６-02-28",
        ] {
            assert!(Day::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Day::schema_ref().unwrap_inline().format, Some("date"));
    }
}

/// What happened to one item of a registration batch (creators, products).
#[derive(poem_openapi::Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum UpsertStatus {
    /// Registered now.
    Created,
    /// Already registered; its fields were replaced.
    Updated,
    /// Not written; `error` says why.
    Rejected,
}

/// A batch's counts and, per item in request order, its status and error body.
pub struct Tally {
    pub created: i64,
    pub updated: i64,
    pub rejected: i64,
    pub results: Vec<(UpsertStatus, Option<crate::error::ApiError>)>,
}

/// Counts a batch's outcomes and turns each into its status and error body.
pub fn tally(outcomes: Vec<crate::services::Upserted>) -> Tally {
    use crate::services::Upserted;
    let mut t = Tally {
        created: 0,
        updated: 0,
        rejected: 0,
        results: Vec::with_capacity(outcomes.len()),
    };
    for o in outcomes {
        t.results.push(match o {
            Upserted::Created => {
                t.created += 1;
                (UpsertStatus::Created, None)
            }
            Upserted::Updated => {
                t.updated += 1;
                (UpsertStatus::Updated, None)
            }
            Upserted::Rejected(e) => {
                t.rejected += 1;
                (
                    UpsertStatus::Rejected,
                    Some(crate::error::AppError::from(e).body()),
                )
            }
        });
    }
    t
}
