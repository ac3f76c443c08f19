//! A validated incentive programme definition.

use crate::error_code::ErrorCode;
use chrono::NaiveDate;
use chrono_tz::Tz;

use super::{
    FieldError,
    merchant::MerchantKind,
    period::{PeriodKind, Tier},
};

pub use super::gmv::Channel;
pub use entity::enums::{Metric, Subject};

/// The raw fields of a programme, as received or as merged for an edit.
#[derive(Clone, Debug)]
pub struct ProgramInput {
    pub name: String,
    pub description: String,
    pub subject: Subject,
    pub merchant_kinds: Vec<MerchantKind>,
    pub metric: Metric,
    pub channel: Option<Channel>,
    pub period: PeriodKind,
    pub time_zone: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub tiers: Vec<Tier>,
    pub goal: i64,
    pub active: bool,
}

/// A programme that passed validation.
#[derive(Clone, Debug)]
pub struct ProgramDef {
    pub name: String,
    pub description: String,
    pub subject: Subject,
    /// Non-empty, without repeats.
    pub merchant_kinds: Vec<MerchantKind>,
    pub metric: Metric,
    /// Set exactly when `metric` is `channel_gmv`.
    pub channel: Option<Channel>,
    pub period: PeriodKind,
    pub time_zone: Tz,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    /// Non-empty, thresholds positive and strictly increasing, names unique.
    pub tiers: Vec<Tier>,
    pub goal: i64,
    pub active: bool,
}

impl ProgramDef {
    pub fn parse(i: ProgramInput) -> Result<Self, FieldError> {
        let name = super::text::required("name", &i.name, 200)?;
        let description = i.description.trim().to_string();
        if description.chars().count() > 2_000 {
            return Err(FieldError::new(
                "description",
                ErrorCode::DescriptionTooLong,
                "description must be at most 2000 characters",
            ));
        }
        if description
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(FieldError::new(
                "description",
                ErrorCode::ControlCharacters,
                "description may break lines but contains other control characters",
            ));
        }
        let mut merchant_kinds: Vec<MerchantKind> = Vec::new();
        for k in i.merchant_kinds {
            if !merchant_kinds.contains(&k) {
                merchant_kinds.push(k);
            }
        }
        if merchant_kinds.is_empty() {
            return Err(FieldError::new(
                "merchant_kinds",
                ErrorCode::MerchantKindsEmpty,
                "name at least one merchant kind (brand, industry_belt)",
            ));
        }
        let channel = match (i.metric, i.channel) {
            (Metric::ChannelGmv, None) => {
                return Err(FieldError::new(
                    "channel",
                    ErrorCode::ChannelRequired,
                    "metric channel_gmv needs a channel",
                ));
            }
            (Metric::Gmv, Some(_)) => {
                return Err(FieldError::new(
                    "channel",
                    ErrorCode::ChannelNotAllowed,
                    "a channel is only meaningful with metric channel_gmv",
                ));
            }
            (_, c) => c,
        };
        let time_zone: Tz = i.time_zone.trim().parse().map_err(|_| {
            FieldError::new(
                "time_zone",
                ErrorCode::TimeZoneUnknown,
                format!(
                    "{:?} is not an IANA time zone such as Asia/Shanghai",
                    i.time_zone
                ),
            )
        })?;
        if let Some(end) = i.ends_on
            && end < i.starts_on
        {
            return Err(FieldError::new(
                "ends_on",
                ErrorCode::EndsBeforeStart,
                "ends_on must not be before starts_on",
            ));
        }
        if i.tiers.is_empty() {
            return Err(FieldError::new(
                "tiers",
                ErrorCode::TiersEmpty,
                "a programme needs at least one tier",
            ));
        }
        let mut tiers = Vec::with_capacity(i.tiers.len());
        for (n, t) in i.tiers.into_iter().enumerate() {
            let tname = super::text::required(&format!("tiers.{n}.name"), &t.name, 100)?;
            if tiers.iter().any(|p: &Tier| p.name == tname) {
                return Err(FieldError::new(
                    format!("tiers.{n}.name"),
                    ErrorCode::TierNameDuplicate,
                    format!("the tier name {tname:?} is used twice"),
                ));
            }
            if t.threshold <= 0 {
                return Err(FieldError::new(
                    format!("tiers.{n}.threshold"),
                    ErrorCode::TierThresholdNotPositive,
                    "thresholds are positive amounts in fen",
                ));
            }
            if let Some(prev) = tiers.last()
                && t.threshold <= prev.threshold
            {
                return Err(FieldError::new(
                    format!("tiers.{n}.threshold"),
                    ErrorCode::TiersNotAscending,
                    "tier thresholds must be strictly increasing",
                ));
            }
            for (k, r) in t.rewards.iter().enumerate() {
                r.validate(&format!("tiers.{n}.rewards.{k}"))?;
            }
            tiers.push(Tier {
                name: tname,
                threshold: t.threshold,
                rewards: t.rewards,
            });
        }
        if i.goal <= 0 {
            return Err(FieldError::new(
                "goal",
                ErrorCode::GoalNotPositive,
                "goal (how many subjects should reach the top tier) must be positive",
            ));
        }
        Ok(Self {
            name,
            description,
            subject: i.subject,
            merchant_kinds,
            metric: i.metric,
            channel,
            period: i.period,
            time_zone,
            starts_on: i.starts_on,
            ends_on: i.ends_on,
            tiers,
            goal: i.goal,
            active: i.active,
        })
    }

    /// The definition stored in a row (which was validated when written).
    pub fn from_row(p: &entity::program::Model) -> anyhow::Result<Self> {
        Ok(Self::parse(input_of_row(p)?)?)
    }

    /// The merchant kinds as stored: comma-separated.
    pub fn kinds_csv(&self) -> String {
        self.merchant_kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn tiers_json(&self) -> String {
        serde_json::to_string(&self.tiers).expect("tiers serialise")
    }
}

/// The raw fields of a stored row, for merging an edit or re-validating.
pub fn input_of_row(p: &entity::program::Model) -> anyhow::Result<ProgramInput> {
    let bad = |what: &str| anyhow::anyhow!("programme {}: stored {what} is invalid", p.id);
    Ok(ProgramInput {
        name: p.name.clone(),
        description: p.description.clone(),
        subject: p.subject,
        merchant_kinds: p
            .merchant_kinds
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| MerchantKind::parse(s).ok_or_else(|| bad("merchant kind")))
            .collect::<Result<_, _>>()?,
        metric: p.metric,
        channel: p.channel,
        period: p.period,
        time_zone: p.time_zone.clone(),
        starts_on: p.starts_on,
        ends_on: p.ends_on,
        tiers: serde_json::from_str(&p.tiers).map_err(|_| bad("tiers"))?,
        goal: p.goal,
        active: p.active,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProgramInput {
        ProgramInput {
            name: "亿元商家".into(),
            description: String::new(),
            subject: Subject::Merchant,
            merchant_kinds: vec![MerchantKind::Brand, MerchantKind::IndustryBelt],
            metric: Metric::Gmv,
            channel: None,
            period: PeriodKind::Year,
            time_zone: "Asia/Shanghai".into(),
            starts_on: "2026-01-01".parse().unwrap(),
            ends_on: None,
            tiers: vec![
                Tier {
                    name: "a".into(),
                    threshold: 10,
                    rewards: vec![],
                },
                Tier {
                    name: "b".into(),
                    threshold: 20,
                    rewards: vec![],
                },
            ],
            goal: 10,
            active: true,
        }
    }

    fn field(i: ProgramInput) -> (String, &'static str) {
        let e = ProgramDef::parse(i).unwrap_err();
        (e.field, e.code.as_str())
    }

    #[test]
    fn accepts_a_valid_definition() {
        let d = ProgramDef::parse(input()).unwrap();
        assert_eq!(d.time_zone, chrono_tz::Asia::Shanghai);
        assert_eq!(d.kinds_csv(), "brand,industry_belt");
    }

    #[test]
    fn rejects_bad_definitions_naming_the_field() {
        let mut i = input();
        i.tiers.reverse();
        assert_eq!(
            field(i),
            ("tiers.1.threshold".into(), "tiers_not_ascending")
        );
        let mut i = input();
        i.tiers[1].threshold = 10;
        assert_eq!(
            field(i),
            ("tiers.1.threshold".into(), "tiers_not_ascending")
        );
        let mut i = input();
        i.tiers[1].name = "a".into();
        assert_eq!(field(i), ("tiers.1.name".into(), "tier_name_duplicate"));
        let mut i = input();
        i.tiers[0].threshold = 0;
        assert_eq!(field(i).1, "tier_threshold_not_positive");
        let mut i = input();
        i.tiers.clear();
        assert_eq!(field(i), ("tiers".into(), "tiers_empty"));
        let mut i = input();
        i.time_zone = "Mars/Olympus".into();
        assert_eq!(field(i), ("time_zone".into(), "time_zone_unknown"));
        let mut i = input();
        i.metric = Metric::ChannelGmv;
        assert_eq!(field(i), ("channel".into(), "channel_required"));
        let mut i = input();
        i.goal = 0;
        assert_eq!(field(i).0, "goal");
        let mut i = input();
        i.ends_on = Some("2025-12-31".parse().unwrap());
        assert_eq!(field(i).0, "ends_on");
        let mut i = input();
        i.merchant_kinds.clear();
        assert_eq!(field(i).0, "merchant_kinds");
        let mut i = input();
        i.description = "a\u{0}b".into();
        assert_eq!(field(i), ("description".into(), "control_characters"));
        let mut i = input();
        i.description = "line one\nline two\ttabbed".into();
        assert!(
            ProgramDef::parse(i).is_ok(),
            "line breaks and tabs are text"
        );
    }
}
