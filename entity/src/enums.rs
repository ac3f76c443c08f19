//! The enumerations stored in columns and sent on the wire: one type per concept. Each is the
//! sea-orm column type (stored as its string value; an unknown stored value is a read error,
//! never a default) and the poem-openapi enum of the document. The stored strings and the wire
//! values are the same, and this module is the only place that spells them.
//!
//! No business logic lives here: transitions, labels and the like are in the application.

use sea_orm::{Iterable, entity::prelude::*};

/// One stored-and-sent enumeration: the column type (`db_type`), the document's enum and the
/// serde type, with each variant's value spelled once and used for all three, for `as_str` /
/// `Display` and for `parse`. The unit tests check the column, the document and the code agree
/// for every variant. An `#[oai(…)]` before `pub enum` names the document's schema.
macro_rules! column_enum {
    (
        $(#[doc = $doc:literal])*
        $(#[oai($($oai:tt)*)])?
        pub enum $t:ident($db:literal) {
            $($(#[doc = $vdoc:literal])* $v:ident => $s:literal),+ $(,)?
        }
    ) => {
        $(#[doc = $doc])*
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
        #[sea_orm(rs_type = "String", db_type = $db)]
        $(#[oai($($oai)*)])?
        pub enum $t {
            $(
                $(#[doc = $vdoc])*
                #[sea_orm(string_value = $s)]
                #[oai(rename = $s)]
                #[serde(rename = $s)]
                $v,
            )+
        }

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

column_enum! {
    /// What kind of seller this is.
    pub enum MerchantKind("String(StringLen::N(16))") {
        /// A brand merchant (品牌商家), typically selling through its own live streams.
        Brand => "brand",
        /// A factory or wholesaler of a regional manufacturing cluster (产业带商家).
        IndustryBelt => "industry_belt",
    }
}

column_enum! {
    /// Where a merchant is in review.
    pub enum MerchantStatus("String(StringLen::N(24))") {
        /// Applied (or re-applied after changes); waiting for a reviewer.
        Submitted => "submitted",
        /// May report GMV and takes part in programmes.
        Approved => "approved",
        /// Application refused; final.
        Rejected => "rejected",
        /// The reviewer asked for changes; `PATCH /me` re-submits.
        ChangesRequested => "changes_requested",
        /// Temporarily barred; its keys answer 403 until reinstated.
        Suspended => "suspended",
    }
}

column_enum! {
    /// A decision on a merchant. Reviewers take every one but `resubmit`, which is recorded when
    /// the merchant edits its application.
    pub enum DecisionAction("String(StringLen::N(24))") {
        /// submitted → approved
        Approve => "approve",
        /// submitted → rejected
        Reject => "reject",
        /// submitted → changes_requested
        RequestChanges => "request_changes",
        /// approved → suspended
        Suspend => "suspend",
        /// suspended → approved
        Reinstate => "reinstate",
        /// changes_requested → submitted (recorded when the merchant edits its application; a
        /// reviewer cannot take it)
        Resubmit => "resubmit",
    }
}

column_enum! {
    /// Where the sale happened.
    pub enum Channel("String(StringLen::N(16))") {
        /// Sold during a live stream (直播).
        LiveStream => "live_stream",
        /// Sold from a short video (短视频).
        ShortVideo => "short_video",
        /// Sold from the shop page (商品卡/店铺).
        Storefront => "storefront",
        /// Anything else.
        Other => "other",
    }
}

impl Channel {
    /// Every channel, in the document's order.
    pub const ALL: [Channel; 4] = [
        Channel::LiveStream,
        Channel::ShortVideo,
        Channel::Storefront,
        Channel::Other,
    ];
}

column_enum! {
    /// How a row of the kept GMV structure (`gmv_segment_day`) splits the approved merchants'
    /// GMV: not at all, or by one merchant attribute.
    pub enum StructureSplit("String(StringLen::N(16))") {
        /// All of it, one group.
        Whole => "whole",
        /// By the merchants' industry belt (none for merchants without one).
        IndustryBelt => "industry_belt",
        /// By the merchants' province.
        Province => "province",
        /// By the merchants' category.
        Category => "category",
    }
}

column_enum! {
    /// Who a programme ranks.
    pub enum Subject("String(StringLen::N(16))") {
        /// Merchants (subject id: the merchant id).
        Merchant => "merchant",
        /// Creators / 达人 (subject id: the creator id).
        Creator => "creator",
        /// Products (subject id: `{merchant_id}:{product_id}`).
        Product => "product",
    }
}

column_enum! {
    /// What is measured.
    pub enum Metric("String(StringLen::N(16))") {
        /// Net GMV over all channels.
        Gmv => "gmv",
        /// Net GMV of one `channel`.
        ChannelGmv => "channel_gmv",
    }
}

column_enum! {
    /// The calendar unit of a programme's periods.
    pub enum PeriodKind("String(StringLen::N(16))") {
        /// Calendar year.
        Year => "year",
        /// Calendar quarter (Jan–Mar, Apr–Jun, Jul–Sep, Oct–Dec).
        Quarter => "quarter",
        /// Calendar month.
        Month => "month",
    }
}

column_enum! {
    /// Where a subject stands against the tiers.
    #[oai(rename = "Status")]
    pub enum ProgressStatus("String(StringLen::N(16))") {
        /// The top tier is reached.
        Achieved => "achieved",
        /// The projection reaches the next tier.
        OnTrack => "on_track",
        /// The projection reaches at least 80% of the next tier.
        AtRisk => "at_risk",
        /// The projection falls short of 80% of the next tier.
        Behind => "behind",
    }
}

column_enum! {
    /// The language of a message.
    pub enum Locale("String(StringLen::N(8))") {
        /// Simplified Chinese (the default).
        ZhCn => "zh-CN",
        /// English.
        En => "en",
    }
}

column_enum! {
    /// What an email is: each kind has its templates.
    pub enum EmailKind("String(StringLen::N(32))") {
        /// The merchant's application changed status.
        OnboardingStatus => "onboarding_status",
        /// A subject reached a new tier of a programme.
        TierAchieved => "tier_achieved",
        /// The weekly report to a merchant.
        MerchantWeekly => "merchant_weekly",
        /// The daily digest to staff.
        StaffDaily => "staff_daily",
        /// A subject came within 10% of its next tier's threshold.
        NearTier => "near_tier",
        /// A subject's status changed to `at_risk`.
        AtRisk => "at_risk",
        /// A webhook endpoint failed for 3 days and was disabled.
        WebhookDisabled => "webhook_disabled",
        /// The weekly report to a creator with a contact address.
        CreatorWeekly => "creator_weekly",
    }
}

column_enum! {
    /// Delivery state of an outbox row.
    pub enum EmailStatus("String(StringLen::N(16))") {
        /// Waiting for its (next) attempt at `next_attempt_at`.
        Pending => "pending",
        /// Claimed by a dispatcher that is sending it now.
        Sending => "sending",
        /// Accepted by the mail server (or written to `MAIL_DIR`).
        Sent => "sent",
        /// Given up: the server refused it permanently, or too many attempts failed.
        Failed => "failed",
    }
}

column_enum! {
    /// Which digest to send.
    pub enum DigestKind("String(StringLen::N(32))") {
        /// The weekly report to every approved merchant that has not opted out.
        MerchantWeekly => "merchant_weekly",
        /// The daily digest to the `STAFF_DIGEST_TO` recipients.
        StaffDaily => "staff_daily",
    }
}

impl DigestKind {
    /// The kind of the emails this digest sends.
    pub const fn email_kind(self) -> EmailKind {
        match self {
            DigestKind::MerchantWeekly => EmailKind::MerchantWeekly,
            DigestKind::StaffDaily => EmailKind::StaffDaily,
        }
    }
}

column_enum! {
    /// Who started a run.
    pub enum Trigger("String(StringLen::N(16))") {
        /// A scheduler tick.
        Scheduler => "scheduler",
        /// `POST /api/v1/evaluations`.
        Api => "api",
        /// The command line.
        Cli => "cli",
    }
}

column_enum! {
    /// Outcome of a run.
    #[oai(rename = "Outcome")]
    pub enum JobOutcome("String(StringLen::N(16))") {
        /// Still going.
        Running => "running",
        /// Finished.
        Ok => "ok",
        /// Stopped by an error (see `error`); the next run starts afresh.
        Failed => "failed",
    }
}

column_enum! {
    /// Staff roles: admins do everything, reviewers decide on merchants, analysts read.
    pub enum Role("String(StringLen::N(16))") {
        /// Full access, including programme edits, evaluations and digests.
        Admin => "admin",
        /// Reviews merchant applications.
        Reviewer => "reviewer",
        /// Reads everything, changes nothing.
        Analyst => "analyst",
    }
}

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
        of("WebhookEventType", WebhookEventType::as_str),
        of("WebhookEndpointStatus", WebhookEndpointStatus::as_str),
        of("DeliveryStatus", DeliveryStatus::as_str),
        of("RewardKind", RewardKind::as_str),
        of("RewardStatus", RewardStatus::as_str),
        of("PayoutStatus", PayoutStatus::as_str),
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
        agree::<WebhookEventType>();
        agree::<WebhookEndpointStatus>();
        agree::<DeliveryStatus>();
        agree::<RewardKind>();
        agree::<RewardStatus>();
        agree::<PayoutStatus>();
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
                "WebhookEventType" => WebhookEventType::parse(s).map(|v| v.as_str()),
                "WebhookEndpointStatus" => WebhookEndpointStatus::parse(s).map(|v| v.as_str()),
                "DeliveryStatus" => DeliveryStatus::parse(s).map(|v| v.as_str()),
                "RewardKind" => RewardKind::parse(s).map(|v| v.as_str()),
                "RewardStatus" => RewardStatus::parse(s).map(|v| v.as_str()),
                "PayoutStatus" => PayoutStatus::parse(s).map(|v| v.as_str()),
                other => panic!("unlisted type {other}"),
            };
            assert_eq!(ok, Some(s), "{ty}::{s}");
        }
    }
}

column_enum! {
    /// What happened: the `type` of a webhook event.
    pub enum WebhookEventType("String(StringLen::N(32))") {
        /// A reviewer decided on a merchant (or the merchant re-submitted).
        MerchantDecision => "merchant.decision",
        /// A subject reached a tier.
        AchievementRecorded => "achievement.recorded",
        /// Refunds took a subject back under a tier it had reached.
        AchievementRevoked => "achievement.revoked",
        /// A subject's status (`on_track`, `at_risk`, …) changed.
        ProgressStatusChanged => "progress.status_changed",
        /// A subject came within 10% of its next tier's threshold (once per tier and period).
        ProgressNearTier => "progress.near_tier",
        /// An approved merchant reported no GMV for 3 days (once per stale spell).
        GmvStale => "gmv.stale",
        /// A reward was confirmed.
        RewardConfirmed => "reward.confirmed",
        /// A reward was paid.
        RewardPaid => "reward.paid",
    }
}

column_enum! {
    /// Whether an endpoint receives deliveries.
    pub enum WebhookEndpointStatus("String(StringLen::N(16))") {
        /// Receives deliveries.
        Active => "active",
        /// Failed for 3 days and was disabled; its owner was emailed.
        Disabled => "disabled",
    }
}

column_enum! {
    /// Delivery state of one event to one endpoint.
    pub enum DeliveryStatus("String(StringLen::N(16))") {
        /// Waiting for its (next) attempt at `next_attempt_at`.
        Pending => "pending",
        /// Claimed by a dispatcher that is sending it now.
        Sending => "sending",
        /// The receiver answered 2xx.
        Delivered => "delivered",
        /// Given up: a permanent 4xx, a refused address, or the endpoint was disabled.
        Failed => "failed",
    }
}

column_enum! {
    /// What a tier's reward is.
    pub enum RewardKind("String(StringLen::N(24))") {
        /// A cash bonus of a fixed `amount` in fen.
        CashBonus => "cash_bonus",
        /// Traffic (advertising) credit worth a fixed `amount` in fen.
        TrafficCredit => "traffic_credit",
        /// A rebate of `rate_bp` basis points of the subject's value for the whole period.
        CommissionRebate => "commission_rebate",
    }
}

column_enum! {
    /// Where a reward is between achievement and payout.
    pub enum RewardStatus("String(StringLen::N(16))") {
        /// Earned; the period or its 7-day re-evaluation window is still open.
        Pending => "pending",
        /// The window closed with the achievement standing; the amount is fixed.
        Confirmed => "confirmed",
        /// The achievement was revoked before confirmation.
        Cancelled => "cancelled",
        /// In a payout marked paid.
        Paid => "paid",
    }
}

column_enum! {
    /// Whether a payout has been paid.
    pub enum PayoutStatus("String(StringLen::N(16))") {
        /// Opened: its rewards are reserved for it.
        Open => "open",
        /// Marked paid: its rewards are `paid`.
        Paid => "paid",
    }
}
