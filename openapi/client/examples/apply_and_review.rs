//! Apply as a merchant, let staff approve, read the account back — through the generated client.
//!
//! ```sh
//! ADMIN_TOKEN=change-me cargo run &
//! ADMIN_TOKEN=change-me cargo run -p merchant-incentives-client --example apply_and_review
//! ```

use merchant_incentives_client::{anonymous, types, with_api_key, with_bearer};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let base = std::env::var("BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let admin = std::env::var("ADMIN_TOKEN").unwrap_or_else(|_| "change-me".into());

    let applied = anonymous(&base)
        .merchants_apply(&types::MerchantApplication::IndustryBeltApplication(
            types::MerchantApplicationIndustryBeltApplication {
                kind: types::MerchantApplicationIndustryBeltApplicationKind::IndustryBelt,
                legal_name: "义乌市星辰日用品有限公司".parse()?,
                display_name: "星辰日用".parse()?,
                uscc: std::env::var("USCC")
                    .unwrap_or_else(|_| "91440300708461136T".into())
                    .parse()?,
                contact_email: "ops@xingchen.example".parse()?,
                province: "浙江".parse()?,
                city: "金华".parse()?,
                category: "日用百货".parse()?,
                industry_belt: "义乌小商品".parse()?,
            },
        ))
        .await?
        .into_inner();
    println!(
        "applied: merchant {} is {:?}",
        applied.merchant.id, applied.merchant.status
    );

    let staff = with_bearer(&base, &admin)?;
    staff
        .merchants_decide(
            applied.merchant.id,
            &types::DecisionRequest::Approve(types::DecisionRequestApprove {
                action: types::DecisionRequestApproveAction::Approve,
                reason: "资料齐全".parse()?,
            }),
        )
        .await?;

    let merchant = with_api_key(&base, &applied.api_key.key)?;
    let me = merchant.me_get().await?.into_inner();
    println!("{} is now {:?}", me.display_name, me.status);
    Ok(())
}
