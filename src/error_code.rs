//! Every error code the service can answer with: its stable name, its HTTP status and what it
//! means. The one list: domain checks, services and the API edge all name codes from here, the
//! document lists them per operation, and clients can match on them.
//!
//! The status is a plain number so that this module stays free of web types; `src/error.rs`
//! turns it into a response.

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = ($code:literal, $status:literal, $meaning:literal),)*) => {
        /// A stable, machine-readable error code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it appears in the error body (`snake_case`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The HTTP status an error with this code answers with.
            pub const fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                }
            }

            /// One sentence on what the code means, for the document.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $meaning,)*
                }
            }

            /// The code named `s`, if there is one.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($code => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    // 400: the request cannot be read.
    BadRequest = ("bad_request", 400, "The request is malformed: not JSON, a wrong type, an unknown enum value or a bad parameter."),
    NullNotAllowed = ("null_not_allowed", 400, "A field is `null` where the document does not allow it; leave optional fields out."),
    // 401: who is calling is unknown.
    Unauthorized = ("unauthorized", 401, "Missing, unknown or revoked credentials."),
    AmbiguousCredentials = ("ambiguous_credentials", 401, "Both a staff token and a merchant key were sent; send one."),
    StaffOnly = ("staff_only", 401, "Only platform staff may do this; a merchant key cannot."),
    // 403: known, but not allowed.
    InsufficientRole = ("insufficient_role", 403, "The staff member's role may not do this."),
    Forbidden = ("forbidden", 403, "Not allowed."),
    MerchantSuspended = ("merchant_suspended", 403, "The merchant is suspended; its keys are blocked until it is reinstated."),
    MerchantNotApproved = ("merchant_not_approved", 403, "Only approved merchants may report GMV."),
    // 404, 405, 408.
    NotFound = ("not_found", 404, "No such resource, or not yours."),
    MethodNotAllowed = ("method_not_allowed", 405, "The path does not take this method; see the `Allow` header."),
    RequestTimeout = ("request_timeout", 408, "The client did not finish sending the request in time."),
    // 409: conflicts with the current state.
    UsccTaken = ("uscc_taken", 409, "A merchant with this unified social credit code already exists."),
    InvalidTransition = ("invalid_transition", 409, "The merchant's current status does not allow this decision."),
    NotEditable = ("not_editable", 409, "The application can only be edited while submitted or changes_requested."),
    TooManyKeys = ("too_many_keys", 409, "The merchant already holds the most usable API keys allowed."),
    LastKey = ("last_key", 409, "The only usable API key cannot be revoked."),
    NothingToPay = ("nothing_to_pay", 409, "No confirmed reward is waiting for a payout."),
    PayoutPaid = ("payout_paid", 409, "The payout is already marked paid."),
    TooManyWebhooks = ("too_many_webhooks", 409, "The owner already has the most webhook endpoints allowed."),
    ExternalIdConflict = ("external_id_conflict", 409, "A record with this external_id exists with a different body (a per-item result)."),
    // 413, 415.
    PayloadTooLarge = ("payload_too_large", 413, "The request body is larger than 2 MiB."),
    BatchTooLarge = ("batch_too_large", 413, "The batch holds more items than allowed."),
    UnsupportedMediaType = ("unsupported_media_type", 415, "The body's content type is not accepted; send application/json."),
    // 422: a value is invalid; `field` names it.
    Required = ("required", 422, "A required field is missing or empty."),
    TooLong = ("too_long", 422, "A text field is longer than allowed."),
    ControlCharacters = ("control_characters", 422, "A text field contains control characters."),
    EmailInvalid = ("email_invalid", 422, "Not a valid email address."),
    UsccInvalid = ("uscc_invalid", 422, "Not a valid unified social credit code (18 characters, GB 32100-2015 check digit)."),
    TrademarkNumberInvalid = ("trademark_number_invalid", 422, "Not a valid trademark registration number."),
    LimitOutOfRange = ("limit_out_of_range", 422, "`limit` is outside 1–500."),
    InvalidCursor = ("invalid_cursor", 422, "The cursor is not one this server issued."),
    RangeInvalid = ("range_invalid", 422, "`from` is after `to`."),
    RangeTooLong = ("range_too_long", 422, "The date range is longer than allowed."),
    AsOfInFuture = ("as_of_in_future", 422, "`as_of` lies in the future."),
    TiersEmpty = ("tiers_empty", 422, "A programme needs at least one tier."),
    TiersNotAscending = ("tiers_not_ascending", 422, "Tier thresholds must rise strictly."),
    TierThresholdNotPositive = ("tier_threshold_not_positive", 422, "A tier threshold must be positive."),
    TierNameDuplicate = ("tier_name_duplicate", 422, "Two tiers share a name."),
    TimeZoneUnknown = ("time_zone_unknown", 422, "Not an IANA time zone name."),
    GoalNotPositive = ("goal_not_positive", 422, "The goal must be positive."),
    MerchantKindsEmpty = ("merchant_kinds_empty", 422, "`merchant_kinds` must name at least one kind."),
    ChannelRequired = ("channel_required", 422, "A `channel_gmv` programme needs a channel."),
    ChannelNotAllowed = ("channel_not_allowed", 422, "Only a `channel_gmv` programme takes a channel."),
    ChannelInvalid = ("channel_invalid", 422, "Not a known sales channel."),
    EndsBeforeStart = ("ends_before_start", 422, "`ends_on` is before `starts_on`."),
    RewardAmountInvalid = ("reward_amount_invalid", 422, "A reward's amount must be 1 to 10,000,000,000 fen."),
    RewardRateInvalid = ("reward_rate_invalid", 422, "A rebate's rate_bp must be 1 to 10,000 basis points."),
    DescriptionTooLong = ("description_too_long", 422, "The description is longer than allowed."),
    RecordInvalid = ("record_invalid", 422, "A GMV record is not a JSON object (a per-item result)."),
    ExternalIdInvalid = ("external_id_invalid", 422, "`external_id` must be 1–128 printable characters."),
    OccurredAtInvalid = ("occurred_at_invalid", 422, "`occurred_at` is not an RFC 3339 instant."),
    OccurredAtInFuture = ("occurred_at_in_future", 422, "`occurred_at` is more than 5 minutes in the future."),
    AmountInvalid = ("amount_invalid", 422, "`amount` is not an integer number of fen."),
    AmountZero = ("amount_zero", 422, "`amount` may not be zero."),
    AmountOverflow = ("amount_overflow", 422, "The amount would overflow the merchant's totals."),
    AmountOutOfRange = ("amount_out_of_range", 422, "`amount` is outside the allowed range."),
    CurrencyUnsupported = ("currency_unsupported", 422, "Only CNY is accepted."),
    ProductIdInvalid = ("product_id_invalid", 422, "`product_id` must be 1–128 printable characters."),
    CreatorIdInvalid = ("creator_id_invalid", 422, "`creator_id` must be 1–128 printable characters."),
    CreatorUnknown = ("creator_unknown", 422, "`creator_id` names no registered creator (`POST /creators`) (a per-item result)."),
    CorrectsInvalid = ("corrects_invalid", 422, "`corrects` must be 1–128 printable characters."),
    CorrectsUnknown = ("corrects_unknown", 422, "`corrects` names no record of this merchant."),
    WebhookUrlInvalid = ("webhook_url_invalid", 422, "Not an absolute http or https URL with a host and no credentials."),
    WebhookUrlForbidden = ("webhook_url_forbidden", 422, "The URL's host is, or resolves to, a loopback, private, link-local or multicast address."),
    WebhookEventsEmpty = ("webhook_events_empty", 422, "`events` must name at least one event type."),
    CorrectsOnSale = ("corrects_on_sale", 422, "Only a negative amount may correct a record."),
    // 429.
    RateLimited = ("rate_limited", 429, "Too many requests; wait the seconds in `Retry-After`."),
    // 5xx.
    Internal = ("internal", 500, "An unexpected failure; the message carries a request id to quote."),
    Timeout = ("timeout", 503, "The request took longer than the server allows; retry."),
    Unavailable = ("unavailable", 503, "The server is shutting down or overloaded; retry."),
    DatabaseUnavailable = ("database_unavailable", 503, "The database cannot be reached; nothing was written; retry after `Retry-After` seconds."),
    DatabaseBusy = ("database_busy", 503, "The database stayed busy through every retry and nothing was written; retry after `Retry-After` seconds."),
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn codes_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for &c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
            assert!(
                c.as_str()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{}",
                c.as_str()
            );
            assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
            assert!((400..600).contains(&c.status()));
            assert!(c.meaning().ends_with('.'));
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }
}
