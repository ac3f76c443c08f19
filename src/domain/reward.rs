//! What a tier earns: the definition stored with the programme's tiers (one type for the
//! stored JSON, the document and the code), its validation, and the rebate arithmetic.

use poem_openapi::{Object, Union};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ErrorCode, FieldError};

pub use entity::enums::{RewardKind, RewardStatus};

/// Basis points in a whole.
pub const BP: i64 = 10_000;
/// The largest fixed reward, fen (¥100M).
pub const MAX_AMOUNT: i64 = 10_000_000_000;

/// A fixed amount: the cash bonus or traffic credit of a tier (each its own schema, so the
/// document's `oneOf` has exactly one match per `kind`).
macro_rules! fixed_reward {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Object)]
        pub struct $name {
            /// Fen, 1 to 10,000,000,000 (¥100M).
            #[oai(validator(minimum(value = "1"), maximum(value = "10000000000")))]
            pub amount: i64,
        }
    )*};
}

fixed_reward! {
    /// A cash bonus of a fixed amount.
    CashBonus;
    /// Traffic (advertising) credit worth a fixed amount.
    TrafficCredit;
}

/// A rebate of commission: basis points of the subject's value for the whole period.
#[derive(Clone, Debug, PartialEq, Eq, Object)]
pub struct RebateReward {
    /// Basis points of the period value, 1–10,000 (50 = 0.5%).
    #[oai(validator(minimum(value = "1"), maximum(value = "10000")))]
    pub rate_bp: i32,
}

/// One reward of a tier.
#[derive(Clone, Debug, PartialEq, Eq, Union)]
#[oai(discriminator_name = "kind", one_of)]
pub enum TierReward {
    #[oai(mapping = "cash_bonus")]
    CashBonus(CashBonus),
    #[oai(mapping = "traffic_credit")]
    TrafficCredit(TrafficCredit),
    #[oai(mapping = "commission_rebate")]
    CommissionRebate(RebateReward),
}

/// The flat shape on the wire and in storage: `{kind, amount?, rate_bp?}`.
#[derive(Serialize)]
struct Flat {
    kind: RewardKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate_bp: Option<i32>,
}

impl TierReward {
    pub fn kind(&self) -> RewardKind {
        match self {
            TierReward::CashBonus(_) => RewardKind::CashBonus,
            TierReward::TrafficCredit(_) => RewardKind::TrafficCredit,
            TierReward::CommissionRebate(_) => RewardKind::CommissionRebate,
        }
    }

    /// The fixed amount, fen; `None` for a rebate.
    pub fn amount(&self) -> Option<i64> {
        match self {
            TierReward::CashBonus(CashBonus { amount })
            | TierReward::TrafficCredit(TrafficCredit { amount }) => Some(*amount),
            TierReward::CommissionRebate(_) => None,
        }
    }

    pub fn rate_bp(&self) -> Option<i32> {
        match self {
            TierReward::CommissionRebate(r) => Some(r.rate_bp),
            _ => None,
        }
    }

    /// Checks the values; `field` is the reward's path, e.g. `tiers.1.rewards.0`.
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        match self {
            TierReward::CashBonus(CashBonus { amount })
            | TierReward::TrafficCredit(TrafficCredit { amount }) => {
                if !(1..=MAX_AMOUNT).contains(amount) {
                    return Err(FieldError::new(
                        format!("{field}.amount"),
                        ErrorCode::RewardAmountInvalid,
                        "a reward's amount is 1 to 10,000,000,000 fen",
                    ));
                }
            }
            TierReward::CommissionRebate(r) => {
                if !(1..=BP as i32).contains(&r.rate_bp) {
                    return Err(FieldError::new(
                        format!("{field}.rate_bp"),
                        ErrorCode::RewardRateInvalid,
                        "a rebate's rate_bp is 1 to 10,000 basis points",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Serialize for TierReward {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Flat {
            kind: self.kind(),
            amount: self.amount(),
            rate_bp: self.rate_bp(),
        }
        .serialize(s)
    }
}

/// Read as the flat object it is (so an error names its field, e.g. `rewards.0.rate_bp`):
/// `kind` picks the variant, which needs its own field; other properties are ignored, as the
/// document's object schemas allow them.
impl<'de> Deserialize<'de> for TierReward {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        struct Read {
            kind: RewardKind,
            amount: Option<i64>,
            rate_bp: Option<i32>,
        }
        let r = Read::deserialize(d)?;
        match r.kind {
            RewardKind::CashBonus | RewardKind::TrafficCredit => {
                let amount = r.amount.ok_or_else(|| D::Error::missing_field("amount"))?;
                Ok(if r.kind == RewardKind::CashBonus {
                    Self::CashBonus(CashBonus { amount })
                } else {
                    Self::TrafficCredit(TrafficCredit { amount })
                })
            }
            RewardKind::CommissionRebate => Ok(Self::CommissionRebate(RebateReward {
                rate_bp: r
                    .rate_bp
                    .ok_or_else(|| D::Error::missing_field("rate_bp"))?,
            })),
        }
    }
}

/// `value × rate_bp / 10,000`, rounding toward zero, in checked integer arithmetic; `None`
/// if it does not fit in i64 fen.
pub fn rebate(value: i64, rate_bp: i32) -> Option<i64> {
    let exact = i128::from(value) * i128::from(rate_bp) / i128::from(BP);
    i64::try_from(exact).ok()
}

/// Fen as yuan with two decimals (`123456` → `1234.56`, `-5` → `-0.05`), for exports.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebates_round_toward_zero() {
        // 0.5% of ¥1,234,567.89.
        assert_eq!(rebate(123_456_789, 50), Some(617_283));
        assert_eq!(rebate(199, 50), Some(0));
        assert_eq!(rebate(-123_456_789, 50), Some(-617_283));
        assert_eq!(rebate(i64::MAX, 10_000), Some(i64::MAX));
        assert_eq!(rebate(i64::MAX, -10_000), Some(-i64::MAX));
    }

    #[test]
    fn yuan_has_two_decimals() {
        assert_eq!(yuan(123_456), "1234.56");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(-5), "-0.05");
        assert_eq!(yuan(0), "0.00");
    }

    #[test]
    fn stored_shape_is_flat_and_round_trips() {
        for (json, reward) in [
            (
                r#"{"kind":"cash_bonus","amount":500000}"#,
                TierReward::CashBonus(CashBonus { amount: 500_000 }),
            ),
            (
                r#"{"kind":"commission_rebate","rate_bp":50}"#,
                TierReward::CommissionRebate(RebateReward { rate_bp: 50 }),
            ),
        ] {
            assert_eq!(serde_json::from_str::<TierReward>(json).unwrap(), reward);
            assert_eq!(serde_json::to_string(&reward).unwrap(), json);
        }
        for bad in [
            r#"{"kind":"cash_bonus"}"#,
            r#"{"kind":"commission_rebate","amount":5}"#,
            r#"{"kind":"gift","amount":5}"#,
            r#"{"kind":"cash_bonus","amount":"5"}"#,
        ] {
            assert!(serde_json::from_str::<TierReward>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_document_maps_each_kind() {
        use poem_openapi::types::ToJSON;
        for r in [
            TierReward::CashBonus(CashBonus { amount: 1 }),
            TierReward::TrafficCredit(TrafficCredit { amount: 1 }),
            TierReward::CommissionRebate(RebateReward { rate_bp: 1 }),
        ] {
            assert_eq!(r.to_json().unwrap()["kind"], r.kind().as_str());
        }
    }

    #[test]
    fn values_are_checked_naming_the_field() {
        let bad = TierReward::CommissionRebate(RebateReward { rate_bp: 10_001 });
        assert_eq!(
            bad.validate("tiers.0.rewards.1").unwrap_err().field,
            "tiers.0.rewards.1.rate_bp"
        );
        let bad = TierReward::CashBonus(CashBonus { amount: 0 });
        assert_eq!(
            bad.validate("tiers.2.rewards.0").unwrap_err().code,
            ErrorCode::RewardAmountInvalid
        );
    }
}
