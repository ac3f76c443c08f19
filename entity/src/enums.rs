//! The enumerations stored in columns and sent on the wire: one type per concept. Each is the
//! sea-orm column type (stored as its string value; an unknown stored value is a read error,
//! never a default) and the poem-openapi enum of the document. The stored strings and the wire
//! values are the same, and this module is the only place that spells them.
//!
//! No business logic lives here: transitions, labels and the like are in the application.

use sea_orm::{Iterable, entity::prelude::*};

/// Spells each variant's value once more for `as_str`/`Display` and `parse`; the unit tests
/// check that this spelling agrees with the column and the document for every variant.
macro_rules! values {
    ($t:ident { $($v:ident => $s:literal),+ $(,)? }) => {
        impl $t {
            /// The value as stored and as sent.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }
            /// The variant whose value is `s`, if any.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)+ _ => None }
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// What kind of seller this is.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum MerchantKind {
    /// A brand merchant (品牌商家), typically selling through its own live streams.
    Brand,
    /// A factory or wholesaler of a regional manufacturing cluster (产业带商家).
    IndustryBelt,
}
values!(MerchantKind { Brand => "brand", IndustryBelt => "industry_belt" });

/// Where a merchant is in review.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(24))",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum MerchantStatus {
    /// Applied (or re-applied after changes); waiting for a reviewer.
    Submitted,
    /// May report GMV and takes part in programmes.
    Approved,
    /// Application refused; final.
    Rejected,
    /// The reviewer asked for changes; `PATCH /me` re-submits.
    ChangesRequested,
    /// Temporarily barred; its keys answer 403 until reinstated.
    Suspended,
}
values!(MerchantStatus {
    Submitted => "submitted",
    Approved => "approved",
    Rejected => "rejected",
    ChangesRequested => "changes_requested",
    Suspended => "suspended",
});

/// A decision on a merchant. Reviewers take every one but `resubmit`, which is recorded when
/// the merchant edits its application.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(24))",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DecisionAction {
    /// submitted → approved
    Approve,
    /// submitted → rejected
    Reject,
    /// submitted → changes_requested
    RequestChanges,
    /// approved → suspended
    Suspend,
    /// suspended → approved
    Reinstate,
    /// changes_requested → submitted (recorded when the merchant edits its application; a
    /// reviewer cannot take it)
    Resubmit,
}
values!(DecisionAction {
    Approve => "approve",
    Reject => "reject",
    RequestChanges => "request_changes",
    Suspend => "suspend",
    Reinstate => "reinstate",
    Resubmit => "resubmit",
});

/// Where the sale happened.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Sold during a live stream (直播).
    LiveStream,
    /// Sold from a short video (短视频).
    ShortVideo,
    /// Sold from the shop page (商品卡/店铺).
    Storefront,
    /// Anything else.
    Other,
}
values!(Channel {
    LiveStream => "live_stream",
    ShortVideo => "short_video",
    Storefront => "storefront",
    Other => "other",
});

impl Channel {
    /// Every channel, in the document's order.
    pub const ALL: [Channel; 4] = [
        Channel::LiveStream,
        Channel::ShortVideo,
        Channel::Storefront,
        Channel::Other,
    ];
}

/// Who a programme ranks.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// Merchants (subject id: the merchant id).
    Merchant,
    /// Creators / 达人 (subject id: the creator id).
    Creator,
    /// Products (subject id: `{merchant_id}:{product_id}`).
    Product,
}
values!(Subject { Merchant => "merchant", Creator => "creator", Product => "product" });

/// What is measured.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Net GMV over all channels.
    Gmv,
    /// Net GMV of one `channel`.
    ChannelGmv,
}
values!(Metric { Gmv => "gmv", ChannelGmv => "channel_gmv" });

/// The calendar unit of a programme's periods.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// Calendar year.
    Year,
    /// Calendar quarter (Jan–Mar, Apr–Jun, Jul–Sep, Oct–Dec).
    Quarter,
    /// Calendar month.
    Month,
}
values!(PeriodKind { Year => "year", Quarter => "quarter", Month => "month" });

/// Where a subject stands against the tiers.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[oai(rename = "Status", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ProgressStatus {
    /// The top tier is reached.
    Achieved,
    /// The projection reaches the next tier.
    OnTrack,
    /// The projection reaches at least 80% of the next tier.
    AtRisk,
    /// The projection falls short of 80% of the next tier.
    Behind,
}
values!(ProgressStatus {
    Achieved => "achieved",
    OnTrack => "on_track",
    AtRisk => "at_risk",
    Behind => "behind",
});

/// The language of a message.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(8))",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Locale {
    /// Simplified Chinese (the default).
    #[sea_orm(string_value = "zh-CN")]
    #[oai(rename = "zh-CN")]
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English.
    En,
}
values!(Locale { ZhCn => "zh-CN", En => "en" });

/// What an email is: each kind has its templates.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(32))",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    /// The merchant's application changed status.
    OnboardingStatus,
    /// A subject reached a new tier of a programme.
    TierAchieved,
    /// The weekly report to a merchant.
    MerchantWeekly,
    /// The daily digest to staff.
    StaffDaily,
}
values!(EmailKind {
    OnboardingStatus => "onboarding_status",
    TierAchieved => "tier_achieved",
    MerchantWeekly => "merchant_weekly",
    StaffDaily => "staff_daily",
});

/// Delivery state of an outbox row.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum EmailStatus {
    /// Waiting for its (next) attempt at `next_attempt_at`.
    Pending,
    /// Claimed by a dispatcher that is sending it now.
    Sending,
    /// Accepted by the mail server (or written to `MAIL_DIR`).
    Sent,
    /// Given up: the server refused it permanently, or too many attempts failed.
    Failed,
}
values!(EmailStatus {
    Pending => "pending",
    Sending => "sending",
    Sent => "sent",
    Failed => "failed",
});

/// Which digest to send.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(32))",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DigestKind {
    /// The weekly report to every approved merchant that has not opted out.
    MerchantWeekly,
    /// The daily digest to the `STAFF_DIGEST_TO` recipients.
    StaffDaily,
}
values!(DigestKind { MerchantWeekly => "merchant_weekly", StaffDaily => "staff_daily" });

impl DigestKind {
    /// The kind of the emails this digest sends.
    pub const fn email_kind(self) -> EmailKind {
        match self {
            DigestKind::MerchantWeekly => EmailKind::MerchantWeekly,
            DigestKind::StaffDaily => EmailKind::StaffDaily,
        }
    }
}

/// Who started a run.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A scheduler tick.
    Scheduler,
    /// `POST /api/v1/evaluations`.
    Api,
    /// The command line.
    Cli,
}
values!(Trigger { Scheduler => "scheduler", Api => "api", Cli => "cli" });

/// Outcome of a run.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[oai(rename = "Outcome", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    /// Still going.
    Running,
    /// Finished.
    Ok,
    /// Stopped by an error (see `error`); the next run starts afresh.
    Failed,
}
values!(JobOutcome { Running => "running", Ok => "ok", Failed => "failed" });

/// Staff roles: admins do everything, reviewers decide on merchants, analysts read.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Full access, including programme edits, evaluations and digests.
    Admin,
    /// Reviews merchant applications.
    Reviewer,
    /// Reads everything, changes nothing.
    Analyst,
}
values!(Role { Admin => "admin", Reviewer => "reviewer", Analyst => "analyst" });

/// Every stored or wire value of every enum here, by type name: what a scan for stray
/// literals of these values looks for.
pub fn all_values() -> Vec<(&'static str, &'static str)> {
    fn of<T: ActiveEnum + Iterable + Copy>(
        name: &'static str,
        s: fn(T) -> &'static str,
    ) -> Vec<(&'static str, &'static str)> {
        T::iter().map(|v| (name, s(v))).collect()
    }
    [
        of("MerchantKind", MerchantKind::as_str),
        of("MerchantStatus", MerchantStatus::as_str),
        of("DecisionAction", DecisionAction::as_str),
        of("Channel", Channel::as_str),
        of("Subject", Subject::as_str),
        of("Metric", Metric::as_str),
        of("PeriodKind", PeriodKind::as_str),
        of("ProgressStatus", ProgressStatus::as_str),
        of("Locale", Locale::as_str),
        of("EmailKind", EmailKind::as_str),
        of("EmailStatus", EmailStatus::as_str),
        of("DigestKind", DigestKind::as_str),
        of("Trigger", Trigger::as_str),
        of("JobOutcome", JobOutcome::as_str),
        of("Role", Role::as_str),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::types::ToJSON;

    /// `as_str`, the stored value and the wire value agree for every variant, and `parse`
    /// inverts them; an unknown stored value is an error.
    fn agree<T>()
    where
        T: ActiveEnum<Value = String>
            + Iterable
            + ToJSON
            + serde::Serialize
            + Copy
            + PartialEq
            + std::fmt::Debug,
        T: std::fmt::Display,
    {
        for v in T::iter() {
            let s = v.to_string();
            assert_eq!(v.to_value(), s, "{v:?}: column value");
            assert_eq!(
                v.to_json(),
                Some(serde_json::Value::String(s.clone())),
                "{v:?}: wire value"
            );
            assert_eq!(T::try_from_value(&s).ok(), Some(v), "{v:?}: read back");
            assert_eq!(
                serde_json::to_value(v).ok(),
                Some(serde_json::Value::String(s.clone())),
                "{v:?}: serde value"
            );
        }
        assert!(T::try_from_value(&"no-such-value".to_string()).is_err());
    }

    #[test]
    fn column_document_and_code_spell_every_value_alike() {
        agree::<MerchantKind>();
        agree::<MerchantStatus>();
        agree::<DecisionAction>();
        agree::<Channel>();
        agree::<Subject>();
        agree::<Metric>();
        agree::<PeriodKind>();
        agree::<ProgressStatus>();
        agree::<Locale>();
        agree::<EmailKind>();
        agree::<EmailStatus>();
        agree::<DigestKind>();
        agree::<Trigger>();
        agree::<JobOutcome>();
        agree::<Role>();
    }

    #[test]
    fn parse_inverts_as_str() {
        for (ty, s) in all_values() {
            let ok = match ty {
                "MerchantKind" => MerchantKind::parse(s).map(|v| v.as_str()),
                "MerchantStatus" => MerchantStatus::parse(s).map(|v| v.as_str()),
                "DecisionAction" => DecisionAction::parse(s).map(|v| v.as_str()),
                "Channel" => Channel::parse(s).map(|v| v.as_str()),
                "Subject" => Subject::parse(s).map(|v| v.as_str()),
                "Metric" => Metric::parse(s).map(|v| v.as_str()),
                "PeriodKind" => PeriodKind::parse(s).map(|v| v.as_str()),
                "ProgressStatus" => ProgressStatus::parse(s).map(|v| v.as_str()),
                "Locale" => Locale::parse(s).map(|v| v.as_str()),
                "EmailKind" => EmailKind::parse(s).map(|v| v.as_str()),
                "EmailStatus" => EmailStatus::parse(s).map(|v| v.as_str()),
                "DigestKind" => DigestKind::parse(s).map(|v| v.as_str()),
                "Trigger" => Trigger::parse(s).map(|v| v.as_str()),
                "JobOutcome" => JobOutcome::parse(s).map(|v| v.as_str()),
                "Role" => Role::parse(s).map(|v| v.as_str()),
                other => panic!("unlisted type {other}"),
            };
            assert_eq!(ok, Some(s), "{ty}::{s}");
        }
    }
}
