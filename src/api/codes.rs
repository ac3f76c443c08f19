//! The error codes each operation can answer with. An operation's error type is
//! `Failure<codes::OperationName>`; the document lists these codes per status, and a debug build
//! refuses to answer with one that is not listed. `internal`, `timeout`, `database_busy` and
//! `database_unavailable` apply to every operation and are added to each.

use crate::{error::ErrorSet, error_code::ErrorCode, error_code::ErrorCode::*};

/// Staff bearer token only.
const STAFF: &[ErrorCode] = &[Unauthorized, AmbiguousCredentials, StaffOnly, RateLimited];
/// Merchant API key only.
const MERCHANT: &[ErrorCode] = &[
    Unauthorized,
    AmbiguousCredentials,
    MerchantSuspended,
    RateLimited,
];
/// A merchant key, accepted while suspended too.
const MERCHANT_ANY_STATUS: &[ErrorCode] = &[Unauthorized, AmbiguousCredentials, RateLimited];
/// A staff token or a merchant key.
const ANY: &[ErrorCode] = MERCHANT;
/// A staff token or the creator's own key.
const CREATOR: &[ErrorCode] = &[Unauthorized, AmbiguousCredentials, StaffOnly, RateLimited];
/// A role check (admin, or admin and reviewer).
const ROLE: &[ErrorCode] = &[InsufficientRole];
/// A JSON body.
const BODY: &[ErrorCode] = &[
    BadRequest,
    NullNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
];
/// Path or query parameters of a type.
const PARAMS: &[ErrorCode] = &[BadRequest];
/// `limit` and `cursor`.
const PAGE: &[ErrorCode] = &[BadRequest, LimitOutOfRange, InvalidCursor];
/// The free-text checks of an application or a programme.
const TEXT: &[ErrorCode] = &[Required, TooLong, ControlCharacters];
/// An application's own fields.
const APPLICATION: &[ErrorCode] = &[EmailInvalid, UsccInvalid, TrademarkNumberInvalid];
/// A programme's fields.
const PROGRAMME: &[ErrorCode] = &[
    TiersEmpty,
    TiersNotAscending,
    TierThresholdNotPositive,
    TierNameDuplicate,
    TimeZoneUnknown,
    GoalNotPositive,
    MerchantKindsEmpty,
    ChannelRequired,
    ChannelNotAllowed,
    EndsBeforeStart,
    DescriptionTooLong,
    RewardAmountInvalid,
    RewardRateInvalid,
];

/// A webhook endpoint's fields.
const WEBHOOK: &[ErrorCode] = &[
    WebhookUrlInvalid,
    WebhookUrlForbidden,
    WebhookEventsEmpty,
    TooManyWebhooks,
];

macro_rules! error_sets {
    ($($(#[$doc:meta])* $name:ident = [$($set:expr),* $(,)?];)*) => {
        $(
            $(#[$doc])*
            pub struct $name;
            impl ErrorSet for $name {
                const CODES: &'static [&'static [ErrorCode]] = &[$($set,)* &[Internal, Timeout, DatabaseBusy, DatabaseUnavailable]];
            }
        )*
    };
}

error_sets! {
    MerchantsApply = [BODY, TEXT, APPLICATION, &[RateLimited, UsccTaken]];
    MerchantsList = [STAFF, PAGE];
    MerchantsGet = [ANY, PARAMS, &[NotFound]];
    MerchantsDecide = [STAFF, ROLE, BODY, TEXT, &[NotFound, InvalidTransition]];
    MerchantsDecisions = [STAFF, PARAMS, PAGE, &[NotFound]];
    MeGet = [MERCHANT_ANY_STATUS];
    MeUpdate = [MERCHANT, BODY, TEXT, APPLICATION, &[NotEditable]];
    MeKeysList = [MERCHANT, PAGE];
    MeKeysCreate = [MERCHANT, &[TooManyKeys]];
    MeKeysRevoke = [MERCHANT, PARAMS, &[NotFound, LastKey]];
    MeNotificationsSet = [MERCHANT, BODY];
    StaffWhoami = [STAFF];
    StaffTokensList = [STAFF, ROLE, PAGE];
    StaffTokensRevoke = [STAFF, ROLE, PARAMS, &[NotFound]];
    AuditLogList = [STAFF, ROLE, PAGE];
    ProgramsCreate = [STAFF, ROLE, BODY, TEXT, PROGRAMME];
    ProgramsList = [ANY, PAGE];
    ProgramsGet = [ANY, PARAMS, &[NotFound]];
    ProgramsUpdate = [STAFF, ROLE, PARAMS, BODY, TEXT, PROGRAMME, &[NotFound]];
    ProgramsProgress = [STAFF, PARAMS, PAGE, &[NotFound]];
    ProgramsSummary = [STAFF, PARAMS, &[NotFound]];
    ProgramsAchievements = [STAFF, PARAMS, PAGE, &[NotFound]];
    ProgramsMerchantProgress = [ANY, PARAMS, PAGE, &[NotFound]];
    ProgramsMyProgress = [MERCHANT, PAGE];
    ProgramsSubjectHistory = [STAFF, PARAMS, &[NotFound, RangeInvalid, RangeTooLong]];
    ProgramsTrend = [STAFF, PARAMS, &[NotFound, RangeInvalid, RangeTooLong]];
    EvaluationsRun = [STAFF, ROLE, BODY, &[AsOfInFuture]];
    EvaluationsGet = [STAFF, PARAMS, &[NotFound]];
    EvaluationsList = [STAFF, PAGE];
    EmailsList = [STAFF, PARAMS, PAGE];
    DigestsSend = [STAFF, ROLE, BODY, &[AsOfInFuture]];
    DigestsGet = [STAFF, PARAMS, &[NotFound]];
    MerchantsReport = [ANY, PARAMS, &[NotFound, AsOfInFuture]];
    GmvRecordsCreate = [ANY, ROLE, BODY, &[NotFound, MerchantNotApproved, Required, BatchTooLarge]];
    GmvRecordsList = [ANY, PARAMS, PAGE, &[NotFound]];
    GmvSummary = [ANY, PARAMS, &[NotFound, RangeInvalid, RangeTooLong, AmountOverflow]];
    OpsReadyz = [];
    MeRewards = [MERCHANT, PARAMS, PAGE];
    CreatorsRewards = [CREATOR, PARAMS, PAGE, &[NotFound]];
    CreatorsUpsert = [STAFF, ROLE, BODY, &[Required, TooLong, CreatorIdInvalid, EmailInvalid, BatchTooLarge]];
    CreatorsList = [STAFF, PAGE];
    MeProductsUpsert = [MERCHANT, BODY, &[Required, TooLong, ProductIdInvalid, ControlCharacters, BatchTooLarge]];
    MeProductsList = [MERCHANT, PAGE];
    MerchantsProducts = [ANY, PARAMS, PAGE, &[NotFound]];
    PlatformGmvPut = [STAFF, ROLE, PARAMS, BODY, &[AmountOutOfRange]];
    PlatformGmvList = [STAFF, PARAMS, &[RangeInvalid, RangeTooLong]];
    InsightsGmvStructure = [STAFF, PARAMS, &[RangeInvalid, RangeTooLong]];
    CreatorsGet = [CREATOR, PARAMS, &[NotFound]];
    CreatorsProgress = [CREATOR, PARAMS, &[NotFound]];
    CreatorsKeysCreate = [STAFF, ROLE, PARAMS, &[NotFound]];
    RewardsList = [STAFF, PARAMS, PAGE];
    PayoutsOpen = [STAFF, ROLE, BODY, &[NotFound, NothingToPay]];
    PayoutsGet = [STAFF, PARAMS, &[NotFound]];
    PayoutsLines = [STAFF, PARAMS, &[NotFound]];
    PayoutsPaid = [STAFF, ROLE, PARAMS, &[NotFound, PayoutPaid]];
    WebhooksCreate = [MERCHANT, BODY, WEBHOOK];
    WebhooksList = [MERCHANT, PAGE];
    WebhooksDelete = [MERCHANT, PARAMS, &[NotFound]];
    WebhooksRotate = [MERCHANT, PARAMS, &[NotFound]];
    WebhooksDeliveries = [MERCHANT, PARAMS, PAGE, &[NotFound]];
    WebhooksRetry = [MERCHANT, PARAMS, &[NotFound]];
    StaffWebhooksCreate = [STAFF, ROLE, BODY, WEBHOOK];
    StaffWebhooksList = [STAFF, ROLE, PAGE];
    StaffWebhooksDelete = [STAFF, ROLE, PARAMS, &[NotFound]];
    StaffWebhooksRotate = [STAFF, ROLE, PARAMS, &[NotFound]];
    StaffWebhooksDeliveries = [STAFF, ROLE, PARAMS, PAGE, &[NotFound]];
    StaffWebhooksRetry = [STAFF, ROLE, PARAMS, &[NotFound]];
}
