//! Merchant kinds, the review status machine and a validated application.

use crate::error_code::ErrorCode;

use super::{FieldError, text, uscc::Uscc};

pub use entity::enums::{DecisionAction, MerchantKind, MerchantStatus};

/// The review rules of a status.
pub trait MerchantStatusExt: Sized {
    /// The status `action` leads to from `self`, or `None` when the transition is impossible.
    fn apply(self, action: DecisionAction) -> Option<MerchantStatus>;
    /// Whether the merchant may still edit its application.
    fn editable(self) -> bool;
}

impl MerchantStatusExt for MerchantStatus {
    /// The status `action` leads to from `self`, or `None` when the transition is impossible.
    fn apply(self, action: DecisionAction) -> Option<MerchantStatus> {
        use DecisionAction as A;
        use MerchantStatus as S;
        match (self, action) {
            (S::Submitted, A::Approve) => Some(S::Approved),
            (S::Submitted, A::Reject) => Some(S::Rejected),
            (S::Submitted, A::RequestChanges) => Some(S::ChangesRequested),
            (S::ChangesRequested, A::Resubmit) => Some(S::Submitted),
            (S::Approved, A::Suspend) => Some(S::Suspended),
            (S::Suspended, A::Reinstate) => Some(S::Approved),
            _ => None,
        }
    }

    /// Whether the merchant may still edit its application.
    fn editable(self) -> bool {
        matches!(
            self,
            MerchantStatus::Submitted | MerchantStatus::ChangesRequested
        )
    }
}

/// The review rules of a decision.
pub trait DecisionActionExt {
    /// Decisions that must explain themselves to the merchant.
    fn needs_reason(self) -> bool;
    /// Whether a reviewer may take it (`resubmit` is recorded when the merchant edits).
    fn by_reviewer(self) -> bool;
}

impl DecisionActionExt for DecisionAction {
    fn by_reviewer(self) -> bool {
        self != DecisionAction::Resubmit
    }

    fn needs_reason(self) -> bool {
        matches!(
            self,
            DecisionAction::Reject | DecisionAction::RequestChanges | DecisionAction::Suspend
        )
    }
}

/// The raw fields of an application (or the merged result of an edit).
#[derive(Clone, Debug, Default)]
pub struct ApplicationInput {
    pub legal_name: String,
    pub display_name: String,
    pub uscc: String,
    pub contact_email: String,
    pub province: String,
    pub city: String,
    pub category: String,
    pub brand_name: Option<String>,
    pub trademark_number: Option<String>,
    pub industry_belt: Option<String>,
}

/// An application whose every field passed its checks.
#[derive(Clone, Debug, PartialEq)]
pub struct Application {
    pub kind: MerchantKind,
    pub legal_name: String,
    pub display_name: String,
    pub uscc: Uscc,
    pub contact_email: String,
    pub province: String,
    pub city: String,
    pub category: String,
    pub brand_name: Option<String>,
    pub trademark_number: Option<String>,
    pub industry_belt: Option<String>,
}

impl Application {
    pub fn parse(kind: MerchantKind, i: &ApplicationInput) -> Result<Self, FieldError> {
        let brand_name = text::optional("brand_name", i.brand_name.as_deref(), 100)?;
        let trademark_number =
            text::optional("trademark_number", i.trademark_number.as_deref(), 32)?;
        let industry_belt = text::optional("industry_belt", i.industry_belt.as_deref(), 100)?;
        if let Some(t) = &trademark_number
            && !t.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(FieldError::new(
                "trademark_number",
                ErrorCode::TrademarkNumberInvalid,
                "trademark_number is the registration number: letters and digits only",
            ));
        }
        let (brand_name, trademark_number, industry_belt) = match kind {
            MerchantKind::Brand => {
                let missing = |f: &str| {
                    FieldError::new(
                        f,
                        ErrorCode::Required,
                        format!("{f} is required for a brand merchant"),
                    )
                };
                (
                    Some(brand_name.ok_or_else(|| missing("brand_name"))?),
                    Some(trademark_number.ok_or_else(|| missing("trademark_number"))?),
                    industry_belt,
                )
            }
            MerchantKind::IndustryBelt => (
                brand_name,
                trademark_number,
                Some(industry_belt.ok_or_else(|| {
                    FieldError::new(
                        "industry_belt",
                        ErrorCode::Required,
                        "industry_belt is required for an industry-belt merchant (e.g. 义乌小商品)",
                    )
                })?),
            ),
        };
        Ok(Self {
            kind,
            legal_name: text::required("legal_name", &i.legal_name, 200)?,
            display_name: text::required("display_name", &i.display_name, 100)?,
            uscc: Uscc::parse(&i.uscc)?,
            contact_email: text::email("contact_email", &i.contact_email)?,
            province: text::required("province", &i.province, 50)?,
            city: text::required("city", &i.city, 50)?,
            category: text::required("category", &i.category, 100)?,
            brand_name,
            trademark_number,
            industry_belt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ApplicationInput {
        ApplicationInput {
            legal_name: "义乌市星辰日用品有限公司".into(),
            display_name: "星辰日用".into(),
            uscc: "91440300708461136T".into(),
            contact_email: "ops@xingchen.cn".into(),
            province: "浙江".into(),
            city: "金华".into(),
            category: "日用百货".into(),
            industry_belt: Some("义乌小商品".into()),
            ..Default::default()
        }
    }

    #[test]
    fn kind_specific_fields_are_required() {
        assert!(Application::parse(MerchantKind::IndustryBelt, &input()).is_ok());
        let e = Application::parse(MerchantKind::Brand, &input()).unwrap_err();
        assert_eq!(e.field, "brand_name");
        let mut i = input();
        i.brand_name = Some("星辰".into());
        let e = Application::parse(MerchantKind::Brand, &i).unwrap_err();
        assert_eq!(e.field, "trademark_number");
        i.trademark_number = Some("12345678".into());
        assert!(Application::parse(MerchantKind::Brand, &i).is_ok());
        i.industry_belt = None;
        let e = Application::parse(MerchantKind::IndustryBelt, &i).unwrap_err();
        assert_eq!(e.field, "industry_belt");
    }

    #[test]
    fn status_machine() {
        use DecisionAction as A;
        use MerchantStatus as S;
        let all_actions = [
            A::Approve,
            A::Reject,
            A::RequestChanges,
            A::Suspend,
            A::Reinstate,
            A::Resubmit,
        ];
        let allowed = [
            (S::Submitted, A::Approve, S::Approved),
            (S::Submitted, A::Reject, S::Rejected),
            (S::Submitted, A::RequestChanges, S::ChangesRequested),
            (S::ChangesRequested, A::Resubmit, S::Submitted),
            (S::Approved, A::Suspend, S::Suspended),
            (S::Suspended, A::Reinstate, S::Approved),
        ];
        for from in [
            S::Submitted,
            S::Approved,
            S::Rejected,
            S::ChangesRequested,
            S::Suspended,
        ] {
            for action in all_actions {
                let expected = allowed
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|t| t.2);
                assert_eq!(from.apply(action), expected, "{from:?} {action:?}");
            }
        }
        assert!(
            S::Rejected.apply(A::Approve).is_none(),
            "rejection is final"
        );
    }
}
